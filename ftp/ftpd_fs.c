/* FTP file commands: directories, listings (LIST, NLST, MLSD, MLST, STAT), transfers
 * (RETR, STOR, STOU, APPE with REST), SIZE, MDTM, MFMT, HASH and the X* digests, and
 * SITE CHMOD. Every operation goes through the session's vfs; uploads use the vfs's
 * partial-file rules (DESIGN.md "Uploads and resume") and are committed only when the
 * data connection ended cleanly with the client still present. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "ftp/ftpd_int.h"
#include "gateway/err.h"
#include "gateway/path.h"

/* A listing is sent in pieces of about this size. */
#define FTPD_LIST_FLUSH (64u * 1024)

/* ---- directories ------------------------------------------------------------------ */

static int change_dir(struct ftpd_sess *fs, const char *arg, size_t n)
{
    struct vfs_stat st;
    if (!ftpd_resolve_arg(fs, arg, n, fs->path))
        return 0;
    int rc = vfs_stat(fs->vfs, fs->path, 0, &st);
    if (rc == 0 && !S_ISDIR(st.mode))
        rc = GW_ERR_NOTDIR;
    if (rc < 0)
        return ftpd_reply(fs, 550, "Failed to change directory.");
    memcpy(fs->cwd, fs->path, strlen(fs->path) + 1);
    return ftpd_reply(fs, 250, "Directory successfully changed.");
}

int ftpd_cmd_cwd(struct ftpd_sess *fs)
{
    return change_dir(fs, fs->cmd.arg, fs->cmd.arg_len);
}

int ftpd_cmd_cdup(struct ftpd_sess *fs)
{
    return change_dir(fs, "..", 2);
}

/* Appends a 257 reply for path with the given text. */
static int reply_257(struct ftpd_sess *fs, const char *path, const char *text)
{
    struct gw_buf name;
    gw_buf_init(&name, GW_MAX_PATH * 4);
    int rc = ftpd_put_name(fs, &name, path);
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "257 ");
    if (rc == 0)
        rc = ftpd_quote_path(&fs->out, gw_buf_str(&name));
    if (rc == 0)
        rc = gw_buf_printf(&fs->out, " %s\r\n", text);
    gw_buf_free(&name);
    if (rc < 0) {
        gw_buf_reset(&fs->out);
        return ftpd_reply(fs, 451, "Local error.");
    }
    return ftpd_flush(fs);
}

int ftpd_cmd_pwd(struct ftpd_sess *fs)
{
    return reply_257(fs, fs->cwd, "is the current directory");
}

int ftpd_cmd_mkd(struct ftpd_sess *fs)
{
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = vfs_mkdir(fs->vfs, fs->path, 0755);
    ftpd_audit_op(fs, "mkdir", fs->path, NULL, rc);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return reply_257(fs, fs->path, "created");
}

int ftpd_cmd_rmd(struct ftpd_sess *fs)
{
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = strcmp(fs->path, "/") == 0 ? GW_ERR_PERM : vfs_rmdir(fs->vfs, fs->path);
    ftpd_audit_op(fs, "rmdir", fs->path, NULL, rc);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 250, "Remove directory operation successful.");
}

int ftpd_cmd_dele(struct ftpd_sess *fs)
{
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = vfs_unlink(fs->vfs, fs->path);
    ftpd_audit_op(fs, "delete", fs->path, NULL, rc);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 250, "Delete operation successful.");
}

int ftpd_cmd_rnfr(struct ftpd_sess *fs)
{
    struct vfs_stat st;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc =
        strcmp(fs->path, "/") == 0 ? GW_ERR_PERM : vfs_stat(fs->vfs, fs->path, VFS_NOFOLLOW, &st);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    memcpy(fs->rnfr, fs->path, strlen(fs->path) + 1);
    fs->have_rnfr = true;
    return ftpd_reply(fs, 350, "Ready for RNTO.");
}

int ftpd_cmd_rnto(struct ftpd_sess *fs)
{
    if (!fs->have_rnfr)
        return ftpd_reply(fs, 503, "RNFR required first.");
    fs->have_rnfr = false;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc =
        strcmp(fs->path, "/") == 0 ? GW_ERR_PERM : vfs_rename(fs->vfs, fs->rnfr, fs->path, true);
    ftpd_audit_op(fs, "rename", fs->rnfr, fs->path, rc);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 250, "Rename successful.");
}

int ftpd_site_chmod(struct ftpd_sess *fs, const char *arg, size_t n)
{
    uint32_t mode;
    size_t off;
    if (ftpd_parse_chmod(arg, n, &mode, &off) < 0)
        return ftpd_reply(fs, 501, "Usage: SITE CHMOD <octal mode> <path>");
    if (!ftpd_resolve_arg(fs, arg + off, n - off, fs->path))
        return 0;
    /* set-user-id and set-group-id bits are never granted over FTP. */
    int rc = vfs_chmod(fs->vfs, fs->path, mode & 01777);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 200, "SITE CHMOD command ok.");
}

/* ---- file facts ------------------------------------------------------------------- */

int ftpd_cmd_size(struct ftpd_sess *fs)
{
    struct vfs_stat st;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    /* The user's own pending partial upload shadows the file, so that a client resuming
     * an interrupted STOR (SIZE, then REST + STOR or APPE) continues where it stopped. */
    int rc = vfs_stat(fs->vfs, fs->path, VFS_SHADOW, &st);
    if (rc == 0 && !S_ISREG(st.mode))
        return ftpd_reply(fs, 550, "Could not get file size.");
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 213, "%llu", (unsigned long long)st.size);
}

static int set_mtime(struct ftpd_sess *fs, bool mfmt)
{
    int64_t t;
    size_t off;
    char tv[FTPD_TIME_LEN + 1];
    if (ftpd_parse_time_path(fs->cmd.arg, fs->cmd.arg_len, &t, &off) < 0)
        return ftpd_reply(fs, 501, "Usage: MFMT YYYYMMDDHHMMSS path");
    if (ftpd_read_only(fs))
        return ftpd_reply(fs, 550, "Permission denied: read-only.");
    if (!ftpd_resolve_arg(fs, fs->cmd.arg + off, fs->cmd.arg_len - off, fs->path))
        return 0;
    int rc = vfs_set_mtime(fs->vfs, fs->path, t);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    ftpd_format_time(t, tv);
    if (!mfmt)
        return ftpd_reply(fs, 213, "File modification time set.");
    return ftpd_reply(fs, 213, "Modify=%s; %s", tv, fs->cmd.arg + off);
}

int ftpd_cmd_mdtm(struct ftpd_sess *fs)
{
    struct vfs_stat st;
    int64_t t;
    size_t off;
    char tv[FTPD_TIME_LEN + 1];
    /* "MDTM YYYYMMDDHHMMSS path" is the old way to set a time (vsftpd, ProFTPD). */
    if (ftpd_parse_time_path(fs->cmd.arg, fs->cmd.arg_len, &t, &off) == 0)
        return set_mtime(fs, false);
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = vfs_stat(fs->vfs, fs->path, 0, &st);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    ftpd_format_time(st.mtime, tv);
    return ftpd_reply(fs, 213, "%s", tv);
}

int ftpd_cmd_mfmt(struct ftpd_sess *fs)
{
    return set_mtime(fs, true);
}

static const EVP_MD *hash_md(enum ftpd_hash_algo a)
{
    switch (a) {
    case FTPD_HASH_SHA512:
        return EVP_sha512();
    case FTPD_HASH_SHA1:
        return EVP_sha1();
    case FTPD_HASH_MD5:
        return EVP_md5();
    default:
        return EVP_sha256();
    }
}

static void hex_encode(const unsigned char *md, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[2 * len] = '\0';
}

/* The byte range a digest covers: [start, end) with end clipped to the file's size. */
struct digest_range {
    uint64_t start, end;
    bool whole; /* no RANG: the whole file */
};

/* Digests range r of the file at path with algo; hex into out (2 * EVP_MAX_MD_SIZE + 1),
 * and r->end clipped to the size. The SHA-256 of a whole file comes from the vfs: from
 * the file's hash cache when a transfer or an earlier HASH left it there (no byte is
 * read), else computed by reading the file, which then leaves it in that cache. */
static int digest_file(struct ftpd_sess *fs, const char *path, enum ftpd_hash_algo algo,
                       struct digest_range *r, char *out)
{
    struct vfs_file *f = NULL;
    struct vfs_stat st;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = NULL;
    char *buf = NULL;
    bool vfs_hash = r->whole && algo == FTPD_HASH_SHA256;
    int rc = vfs_stat(fs->vfs, path, 0, &st);
    if (rc < 0)
        return rc;
    if (!S_ISREG(st.mode))
        return GW_ERR_ISDIR;
    if (r->whole)
        r->end = st.size;
    if (r->start > st.size)
        return GW_ERR_RANGE;
    if (r->end > st.size)
        r->end = st.size;
    rc = vfs_open_read(fs->vfs, path, r->start, &f);
    if (rc < 0)
        return rc;
    if (vfs_hash && vfs_sha256(f, md)) {
        hex_encode(md, 32, out);
        goto out_file;
    }
    if (!vfs_hash)
        vfs_hash_off(f);
    buf = malloc(GW_IO_CHUNK);
    ctx = vfs_hash ? NULL : EVP_MD_CTX_new();
    rc = GW_ERR_NOMEM;
    if (!buf || (!vfs_hash && (!ctx || EVP_DigestInit_ex(ctx, hash_md(algo), NULL) != 1)))
        goto out_ctx;
    for (uint64_t left = r->end - r->start; left > 0;) {
        ssize_t n = vfs_read(f, buf, left < GW_IO_CHUNK ? (size_t)left : GW_IO_CHUNK);
        if (n < 0) {
            rc = (int)n;
            goto out_ctx;
        }
        if (n == 0)
            break; /* the file shrank meanwhile: hash what there is */
        if (ctx)
            EVP_DigestUpdate(ctx, buf, (size_t)n);
        left -= (uint64_t)n;
    }
    if (ctx) {
        EVP_DigestFinal_ex(ctx, md, &mdlen);
    } else {
        if (!vfs_sha256(f, md)) {
            rc = GW_ERR_AGAIN; /* the file changed while it was read */
            goto out_ctx;
        }
        mdlen = 32;
    }
    hex_encode(md, mdlen, out);
    rc = 0;
out_ctx:
    EVP_MD_CTX_free(ctx);
    free(buf);
out_file:
    vfs_close(f, false);
    return rc;
}

int ftpd_cmd_hash(struct ftpd_sess *fs)
{
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    struct digest_range r = {.whole = !fs->rang_set, .start = fs->rang_start};
    /* RANG's end is inclusive; the digest's is not. */
    r.end = fs->rang_set ? fs->rang_end + 1 : 0;
    fs->rang_set = false;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = digest_file(fs, fs->path, fs->hash, &r, hex);
    if (rc == GW_ERR_ISDIR)
        return ftpd_reply(fs, 550, "HASH needs a regular file.");
    if (rc == GW_ERR_RANGE)
        return ftpd_reply(fs, 556, "RANG start is beyond the end of the file.");
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    /* The whole file is answered 0-SIZE as FileZilla and curl expect; a RANG with the
     * inclusive end it was given (clipped to the file). */
    uint64_t shown = r.whole || r.end == r.start ? r.end : r.end - 1;
    return ftpd_reply(fs, 213, "%s %llu-%llu %s %s", ftpd_hash_name(fs->hash),
                      (unsigned long long)r.start, (unsigned long long)shown, hex, fs->cmd.arg);
}

int ftpd_cmd_rang(struct ftpd_sess *fs)
{
    uint64_t a, b;
    int rc = ftpd_parse_rang(fs->cmd.arg, fs->cmd.arg_len, &a, &b);
    if (rc == GW_ERR_RANGE)
        return ftpd_reply(fs, 501, "RANG end must not be below its start.");
    if (rc < 0)
        return ftpd_reply(fs, 501, "Usage: RANG <start> <end>");
    if (a == 1 && b == 0) {
        fs->rang_set = false;
        return ftpd_reply(fs, 350, "Restarting at 0. Ending at EOF.");
    }
    fs->rang_set = true;
    fs->rang_start = a;
    fs->rang_end = b;
    /* Only HASH uses a range here; a transfer after RANG refuses it (ftpd_cmd_retr). */
    return ftpd_reply(fs, 350, "Restarting at %llu. Ending at %llu.", (unsigned long long)a,
                      (unsigned long long)b);
}

int ftpd_cmd_xhash(struct ftpd_sess *fs)
{
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    struct digest_range r = {.whole = true};
    enum ftpd_hash_algo algo = strcmp(fs->cmd.verb, "XMD5") == 0      ? FTPD_HASH_MD5
                               : strcmp(fs->cmd.verb, "XSHA1") == 0   ? FTPD_HASH_SHA1
                               : strcmp(fs->cmd.verb, "XSHA512") == 0 ? FTPD_HASH_SHA512
                                                                      : FTPD_HASH_SHA256;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = digest_file(fs, fs->path, algo, &r, hex);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    return ftpd_reply(fs, 250, "%s", hex);
}

int ftpd_cmd_rest(struct ftpd_sess *fs)
{
    uint64_t off;
    if (ftpd_parse_u64(fs->cmd.arg, fs->cmd.arg_len, &off) < 0 || off > INT64_MAX)
        return ftpd_reply(fs, 501, "Invalid REST parameter.");
    fs->rest = off;
    return ftpd_reply(fs, 350, "Restart position accepted (%llu).", (unsigned long long)off);
}

/* ---- listings --------------------------------------------------------------------- */

enum list_kind { LIST_LONG, LIST_NAMES, LIST_FACTS };

struct lister {
    struct ftpd_sess *fs;
    struct ftpd_conn *dc; /* NULL: lines go to the control connection (STAT) */
    struct gw_buf buf;
    struct gw_buf name; /* one name in the client's charset */
    enum list_kind kind;
    bool show_dot;
    const char *prefix;  /* NLST: the directory argument as sent, or NULL */
    const char *pattern; /* glob on names, or NULL */
    int64_t now;
};

static int lister_flush(struct lister *l, bool force)
{
    int rc = 0;
    if (l->buf.len == 0 || (!force && l->buf.len < FTPD_LIST_FLUSH))
        return 0;
    if (l->dc) {
        rc = ftpd_data_send(l->fs, l->dc, l->buf.data, l->buf.len);
    } else {
        rc = ftpd_conn_write(&l->fs->ctl, l->buf.data, l->buf.len);
        if (rc < 0)
            l->fs->ctl_gone = true;
    }
    gw_buf_reset(&l->buf);
    return rc;
}

/* Emits one entry. dirpath is the directory's virtual path, used to read symlinks. */
static int lister_entry(struct lister *l, const char *dirpath, const char *name,
                        const struct vfs_stat *st_in)
{
    struct ftpd_sess *fs = l->fs;
    struct vfs_stat st = *st_in;
    char target[GW_MAX_PATH];
    const char *tgt = NULL;
    char full[GW_MAX_PATH];
    int rc;

    if (!l->show_dot && name[0] == '.')
        return 0;
    if (l->pattern && fnmatch(l->pattern, name, FNM_PERIOD) != 0)
        return 0;
    gw_buf_reset(&l->name);
    if (l->prefix) {
        rc = gw_buf_printf(&l->name, "%s%s", l->prefix,
                           l->prefix[0] && l->prefix[strlen(l->prefix) - 1] != '/' ? "/" : "");
        if (rc < 0)
            return rc;
    }
    rc = ftpd_put_name(fs, &l->name, name);
    if (rc < 0)
        return rc;
    if (S_ISLNK(st.mode) && dirpath &&
        snprintf(full, sizeof full, "%s/%s", strcmp(dirpath, "/") ? dirpath : "", name) <
            (int)sizeof full) {
        if (l->kind == LIST_LONG && vfs_readlink(fs->vfs, full, target, sizeof target) == 0)
            tgt = target;
        /* Machine listings describe what the link leads to, when it stays inside. */
        if (l->kind == LIST_FACTS && vfs_stat(fs->vfs, full, 0, &st) < 0)
            st = *st_in;
    }
    switch (l->kind) {
    case LIST_LONG:
        rc = ftpd_format_list(&l->buf, &st, gw_buf_str(&l->name), tgt, "ftp", "ftp", l->now);
        break;
    case LIST_NAMES:
        rc = gw_buf_printf(&l->buf, "%s\r\n", gw_buf_str(&l->name));
        break;
    case LIST_FACTS:
        rc = ftpd_format_facts(&l->buf, &st, fs->facts, !ftpd_read_only(fs),
                               S_ISLNK(st.mode) ? "OS.unix=symlink" : NULL, gw_buf_str(&l->name));
        if (rc == 0)
            rc = gw_buf_puts(&l->buf, "\r\n");
        break;
    }
    if (rc == 0)
        rc = lister_flush(l, false);
    return rc;
}

static int list_dir(struct lister *l, const char *path)
{
    struct vfs_dir *d;
    struct vfs_dirent e;
    int rc = vfs_opendir(l->fs->vfs, path, &d);
    if (rc < 0)
        return rc;
    while ((rc = vfs_readdir(d, &e)) == 1) {
        rc = lister_entry(l, path, e.name, &e.st);
        if (rc < 0)
            break;
    }
    vfs_closedir(d);
    return rc;
}

/* What a LIST/NLST/STAT argument names. */
struct list_target {
    bool is_dir;
    bool glob;
    struct vfs_stat st;
    char path[GW_MAX_PATH]; /* the directory to read, or the file */
    char pattern[GW_MAX_NAME + 1];
};

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Resolves a listing argument; 0 or GW_ERR_*. A missing last component with glob
 * characters lists the matching entries of its directory (LIST *.txt). */
static int list_target(struct ftpd_sess *fs, const char *arg, size_t n, struct list_target *t)
{
    int rc = ftpd_resolve(fs, arg, n, t->path);
    if (rc < 0)
        return rc;
    t->glob = false;
    rc = vfs_stat(fs->vfs, t->path, 0, &t->st);
    if (rc == 0) {
        t->is_dir = S_ISDIR(t->st.mode);
        return 0;
    }
    const char *base = gw_path_base(t->path);
    if (rc != GW_ERR_NOENT || !has_glob(base) || strlen(base) > GW_MAX_NAME)
        return rc;
    memcpy(t->pattern, base, strlen(base) + 1);
    char dir[GW_MAX_PATH];
    if (gw_path_dir(t->path, dir, sizeof dir) < 0)
        return GW_ERR_NOENT;
    memcpy(t->path, dir, strlen(dir) + 1);
    rc = vfs_stat(fs->vfs, t->path, 0, &t->st);
    if (rc == 0 && !S_ISDIR(t->st.mode))
        rc = GW_ERR_NOENT;
    t->is_dir = true;
    t->glob = true;
    return rc;
}

static int list_run(struct lister *l, struct list_target *t)
{
    if (t->is_dir) {
        l->pattern = t->glob ? t->pattern : NULL;
        return list_dir(l, t->path);
    }
    return lister_entry(l, NULL, gw_path_base(t->path), &t->st);
}

static void lister_init(struct lister *l, struct ftpd_sess *fs, struct ftpd_conn *dc,
                        enum list_kind kind)
{
    memset(l, 0, sizeof *l);
    l->fs = fs;
    l->dc = dc;
    l->kind = kind;
    l->now = (int64_t)time(NULL);
    gw_buf_init(&l->buf, FTPD_LIST_FLUSH + 2 * GW_MAX_PATH + 256);
    gw_buf_init(&l->name, 4 * GW_MAX_PATH);
}

static void lister_free(struct lister *l)
{
    gw_buf_free(&l->buf);
    gw_buf_free(&l->name);
}

/* LIST, NLST and MLSD: the listing goes over a data connection. */
static int list_command(struct ftpd_sess *fs, enum list_kind kind)
{
    char *arg = fs->cmd.arg;
    size_t n = fs->cmd.arg_len, off = 0;
    struct list_target *t = malloc(sizeof *t);
    struct ftpd_conn dc;
    struct lister l;
    bool show_dot = kind == LIST_FACTS;
    int rc;

    if (!t)
        return ftpd_reply(fs, 451, "Out of memory.");
    if (kind != LIST_FACTS) {
        off = ftpd_list_skip_options(arg, n);
        /* "-a"/"-A" show dot files, as ls does. */
        show_dot = memchr(arg, 'a', off) || memchr(arg, 'A', off);
    }
    rc = list_target(fs, arg + off, n - off, t);
    if (rc == 0 && kind == LIST_FACTS && !t->is_dir)
        rc = GW_ERR_NOTDIR;
    if (rc < 0) {
        if (rc == GW_ERR_NOTDIR && kind == LIST_FACTS)
            ftpd_reply(fs, 501, "MLSD needs a directory.");
        else
            ftpd_reply_err(fs, rc);
        free(t);
        return 0;
    }
    rc = ftpd_data_open(fs, &dc, "Here comes the directory listing.", false);
    if (rc < 0) {
        free(t);
        return 0;
    }
    lister_init(&l, fs, &dc, kind);
    l.show_dot = show_dot;
    /* "NLST dir" and "NLST dir/GLOB" list "dir/name": what mget fetches next. */
    if (kind == LIST_NAMES && n - off > 0 && t->is_dir && !t->glob) {
        l.prefix = arg + off;
    } else if (kind == LIST_NAMES && t->glob) {
        char *slash = strrchr(arg + off, '/');
        if (slash) {
            *slash = '\0'; /* fs->cmd.arg is ours to cut */
            l.prefix = slash == arg + off ? "/" : arg + off;
        }
    }
    rc = list_run(&l, t);
    if (rc == 0)
        rc = lister_flush(&l, true);
    lister_free(&l);
    free(t);
    ftpd_data_finish(fs, &dc, rc);
    return 0;
}

int ftpd_cmd_list(struct ftpd_sess *fs)
{
    return list_command(fs, LIST_LONG);
}

int ftpd_cmd_nlst(struct ftpd_sess *fs)
{
    return list_command(fs, LIST_NAMES);
}

int ftpd_cmd_mlsd(struct ftpd_sess *fs)
{
    return list_command(fs, LIST_FACTS);
}

int ftpd_cmd_mlst(struct ftpd_sess *fs)
{
    struct vfs_stat st;
    struct gw_buf name;
    const char *arg = fs->cmd.arg_len ? fs->cmd.arg : ".";
    if (!ftpd_resolve_arg(fs, arg, strlen(arg), fs->path))
        return 0;
    int rc = vfs_stat(fs->vfs, fs->path, VFS_SHADOW, &st);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    gw_buf_init(&name, 4 * GW_MAX_PATH);
    rc = ftpd_put_name(fs, &name, fs->path);
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "250-Listing ");
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, gw_buf_str(&name));
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "\r\n ");
    if (rc == 0)
        rc = ftpd_format_facts(&fs->out, &st, fs->facts, !ftpd_read_only(fs), NULL,
                               gw_buf_str(&name));
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "\r\n250 End\r\n");
    gw_buf_free(&name);
    if (rc < 0) {
        gw_buf_reset(&fs->out);
        return ftpd_reply(fs, 451, "Local error.");
    }
    return ftpd_flush(fs);
}

int ftpd_stat_path(struct ftpd_sess *fs, const char *arg, size_t n)
{
    size_t off = ftpd_list_skip_options(arg, n);
    struct list_target *t = malloc(sizeof *t);
    struct lister l;
    if (!t)
        return ftpd_reply(fs, 451, "Out of memory.");
    int rc = list_target(fs, arg + off, n - off, t);
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        free(t);
        return 0;
    }
    rc = gw_buf_puts(&fs->out, "213-Status follows:\r\n");
    if (rc == 0)
        rc = ftpd_flush(fs);
    lister_init(&l, fs, NULL, LIST_LONG);
    l.show_dot = memchr(arg, 'a', off) || memchr(arg, 'A', off);
    if (rc == 0)
        rc = list_run(&l, t);
    if (rc == 0)
        rc = lister_flush(&l, true);
    lister_free(&l);
    free(t);
    if (rc < 0 && !fs->ctl_gone)
        return ftpd_reply(fs, 451, "Local error: %s.", gw_strerror(rc));
    return ftpd_reply(fs, 213, "End of status.");
}

/* ---- transfers -------------------------------------------------------------------- */

static void xfer_capture(struct ftpd_xfer *x, struct vfs_file *f)
{
    unsigned char md[32];
    x->bytes = vfs_bytes(f);
    x->offset = vfs_start_offset(f);
    x->size = x->offset + x->bytes;
    x->have_sha = vfs_sha256(f, md);
    for (int i = 0; x->have_sha && i < 32; i++)
        snprintf(x->sha + 2 * i, 3, "%02x", md[i]);
}

static void xfer_audit(struct ftpd_sess *fs, const struct ftpd_xfer *x, const char *path, int rc)
{
    struct audit_record r;
    audit_record_init(&r);
    r.event = x->event;
    r.path = path;
    r.bytes = (int64_t)x->bytes;
    r.offset = (int64_t)x->offset;
    r.size = (int64_t)x->size;
    r.duration_ms = (x->ended ? x->ended : gw_now_ms()) - x->started;
    r.status = rc == 0 ? "ok" : rc == GW_ERR_AGAIN ? "aborted" : "failed";
    r.error = rc == 0 ? NULL : fs->ctl_gone ? "client disconnected" : gw_strerror(rc);
    r.sha256 = rc == 0 && x->have_sha ? x->sha : NULL;
    (void)gw_session_audit(fs->s, &r);
}

void ftpd_settle(struct ftpd_sess *fs)
{
    struct vfs_file *f = fs->settle_f;
    if (!f)
        return;
    fs->settle_f = NULL;
    uint64_t size = fs->settle_x.size;
    xfer_capture(&fs->settle_x, f); /* waits for the hash */
    if (strcmp(fs->settle_x.event, "download") == 0)
        fs->settle_x.size = size; /* the file's, not offset + bytes */
    /* An upload was committed before its reply (vfs_commit); a failed one keeps its
     * partial for a resume. */
    vfs_close(f, fs->settle_rc == 0);
    xfer_audit(fs, &fs->settle_x, fs->settle_path, fs->settle_rc);
}

/* An audit record for a transfer that failed before any byte moved. */
static void xfer_audit_early(struct ftpd_sess *fs, const char *event, const char *path,
                             uint64_t offset, int rc)
{
    struct ftpd_xfer x = {.event = event, .started = gw_now_ms(), .offset = offset};
    xfer_audit(fs, &x, path, rc);
}

/* RANG (draft-bryan-ftp-range) limits transfers too; Ferry supports it for HASH only,
 * so a transfer after RANG is refused rather than silently sending the whole file. */
static bool refuse_rang(struct ftpd_sess *fs)
{
    if (!fs->rang_set)
        return false;
    fs->rang_set = false;
    fs->rest = 0;
    ftpd_reply(fs, 504, "RANG applies to HASH only; range reset.");
    return true;
}

int ftpd_cmd_retr(struct ftpd_sess *fs)
{
    struct vfs_file *f = NULL;
    struct vfs_stat st;
    struct ftpd_conn dc;
    struct ftpd_xfer *x = &fs->settle_x;
    char mark[160];
    uint64_t offset = fs->rest;
    if (refuse_rang(fs))
        return 0;
    fs->rest = 0;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    int rc = vfs_open_read(fs->vfs, fs->path, offset, &f);
    if (rc == 0) {
        rc = vfs_open_stat(f, &st);
        if (rc == 0 && !S_ISREG(st.mode))
            rc = GW_ERR_ISDIR;
    }
    if (rc < 0) {
        if (f)
            vfs_close(f, false);
        xfer_audit_early(fs, "download", fs->path, offset, rc);
        if (rc == GW_ERR_ISDIR)
            return ftpd_reply(fs, 550, "Not a plain file.");
        ftpd_reply_err(fs, rc);
        return 0;
    }
    snprintf(mark, sizeof mark, "Opening %s mode data connection (%llu bytes).",
             fs->ascii ? "ASCII" : "BINARY",
             (unsigned long long)(st.size > offset ? st.size - offset : 0));
    rc = ftpd_data_open(fs, &dc, mark, false);
    if (rc < 0) {
        vfs_close(f, false);
        xfer_audit_early(fs, "download", fs->path, offset, rc);
        return 0;
    }
    if (!fs->cfg->hash_transfers)
        vfs_hash_off(f);
    memset(x, 0, sizeof *x);
    x->event = "download";
    x->started = gw_now_ms();
    rc = ftpd_data_send_file(fs, &dc, f);
    ftpd_data_finish(fs, &dc, rc);
    /* The client has its 226; the hash may still be catching up behind the send. The
     * record is written once it has, before the next command. */
    x->ended = gw_now_ms();
    x->size = st.size;
    fs->settle_f = f;
    fs->settle_rc = rc;
    memcpy(fs->settle_path, fs->path, strlen(fs->path) + 1);
    return 0;
}

/* STOR, STOU and APPE: opens the data connection, then fs->path for writing as wmode
 * (in this order, so that a failed data connection leaves no empty partial behind to
 * shadow the file's size), receives, commits. */
static int upload(struct ftpd_sess *fs, enum vfs_write_mode wmode, uint64_t offset,
                  const char *mark)
{
    struct ftpd_conn dc;
    struct vfs_file *f = NULL;
    struct ftpd_xfer *x = &fs->settle_x;
    bool complete = false;
    int rc = ftpd_data_open(fs, &dc, mark, true);
    if (rc < 0) {
        xfer_audit_early(fs, "upload", fs->path, offset, rc);
        return 0;
    }
    rc = vfs_open_write(fs->vfs, fs->path, wmode, offset, 0644, &f);
    if (rc < 0) {
        ftpd_conn_abort(&dc);
        xfer_audit_early(fs, "upload", fs->path, offset, rc);
        ftpd_reply_err(fs, rc);
        return 0;
    }
    if (!fs->cfg->hash_transfers)
        vfs_hash_off(f);
    memset(x, 0, sizeof *x);
    x->event = "upload";
    x->started = gw_now_ms();
    rc = ftpd_data_recv_file(fs, &dc, f, &complete);
    if (rc == 0 && !complete)
        rc = fs->ctl_gone ? GW_ERR_AGAIN : GW_ERR_PROTO;
    /* Close the data connection before committing, and commit before the 226: a client
     * that sees 226 may read the file at once. The hash may still be catching up: the
     * record is written, and the handle closed, once it has (ftpd_settle). */
    if (rc == 0)
        ftpd_conn_close(&dc, false);
    int crc = rc == 0 ? vfs_commit(f) : 0;
    if (rc == 0 && crc < 0)
        rc = crc;
    x->ended = gw_now_ms();
    fs->settle_f = f;
    fs->settle_rc = rc;
    memcpy(fs->settle_path, fs->path, strlen(fs->path) + 1);
    if (rc == GW_ERR_PROTO && !fs->ctl_gone && !fs->abort_req) {
        ftpd_conn_abort(&dc);
        free(fs->io);
        fs->io = NULL;
        ftpd_reply(fs, 426,
                   "Upload incomplete: the TLS data connection ended without "
                   "close_notify; the partial file is kept for resume.");
    } else {
        ftpd_data_finish(fs, &dc, rc);
    }
    return 0;
}

int ftpd_cmd_stor(struct ftpd_sess *fs)
{
    if (refuse_rang(fs))
        return 0;
    uint64_t offset = fs->rest;
    fs->rest = 0;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    return upload(fs, offset > 0 ? VFS_WRITE_RESUME : VFS_WRITE_NEW, offset, "Ok to send data.");
}

int ftpd_cmd_appe(struct ftpd_sess *fs)
{
    if (refuse_rang(fs))
        return 0;
    fs->rest = 0;
    if (!ftpd_resolve_arg(fs, fs->cmd.arg, fs->cmd.arg_len, fs->path))
        return 0;
    return upload(fs, VFS_WRITE_APPEND, 0, "Ok to send data.");
}

int ftpd_cmd_stou(struct ftpd_sess *fs)
{
    struct vfs_stat st;
    char mark[GW_MAX_PATH + 64];
    const char *base = fs->cmd.arg_len ? fs->cmd.arg : "ftp";
    int rc = 0;
    if (refuse_rang(fs))
        return 0;
    fs->rest = 0;
    /* RFC 1123 4.1.2.9: the server picks a unique name and tells it in the 150 reply.
     * VFS_WRITE_EXCL closes the race with another client taking the same name. */
    for (unsigned i = 0; i < 1000; i++) {
        char name[GW_MAX_FTP_LINE + 16];
        int len;
        if (i == 0 && fs->cmd.arg_len)
            len = snprintf(name, sizeof name, "%s", base);
        else
            len = snprintf(name, sizeof name, "%s.%u", base, i ? i : arc4random_uniform(1000000));
        rc = ftpd_resolve(fs, name, (size_t)len, fs->path);
        if (rc < 0)
            break;
        rc = vfs_stat(fs->vfs, fs->path, VFS_NOFOLLOW | VFS_SHADOW, &st);
        if (rc == GW_ERR_NOENT) {
            rc = 0;
            break;
        }
        if (rc == 0)
            rc = GW_ERR_EXIST;
        else
            break;
    }
    if (rc < 0) {
        ftpd_reply_err(fs, rc);
        return 0;
    }
    struct gw_buf name;
    gw_buf_init(&name, sizeof mark - 16);
    if (ftpd_put_name(fs, &name, gw_path_base(fs->path)) < 0)
        gw_buf_reset(&name);
    snprintf(mark, sizeof mark, "FILE: %s", gw_buf_str(&name));
    gw_buf_free(&name);
    return upload(fs, VFS_WRITE_EXCL, 0, mark);
}
