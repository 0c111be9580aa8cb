/* The upstream FTP mount backend (see vfs_ftp.h): struct vfs_ops over ftp/ftpc.h. */
#include "ftp/vfs_ftp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftp/encoding.h"
#include "ftp/fetch.h"
#include "ftp/ftpc.h"
#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/log.h"

#define MNT_MAX_DIRS 64               /* directory listings cached */
#define MNT_MAX_IDLE 2                /* idle logged-in transfer connections kept */
#define MNT_MAX_XFERS 8               /* files open at once (each holds a connection) */
#define MNT_MAX_CONVS 4               /* charset converters kept */
#define MNT_LINK_DEPTH 8              /* symlinks followed in a row */
#define MNT_SKIP_MAX (1u << 20)       /* a forward seek this short reads and drops the bytes */
#define MNT_MAX_RAW (GW_MAX_PATH * 2) /* raw server path; encodings can grow a name */
#define MNT_MAX_VERIFIED 8            /* verified copies kept open for the next reader */
#define MNT_MAX_FAILED 256            /* paths that failed verification, remembered */
#define MNT_UNVERIFIED_SUFFIX ".unverified"

/* What the integrity policy (verify = auto|required) decided for a listed entry. */
enum mnt_class {
    MC_PLAIN = 0, /* served as the server gives it: directories, evidence files, verify none */
    MC_CHECK,     /* has evidence: fetched whole and verified before its first byte is served */
    MC_MARKED,    /* auto, nothing to verify against: listed as NAME.unverified, served as is */
};

enum mnt_verify { MV_NONE, MV_AUTO, MV_REQUIRED };

struct mnt_ok {
    char *path; /* backend path */
    uint64_t size;
    int64_t mtime;
    int fd; /* unlinked temporary file holding the verified bytes */
};

struct mnt_dir {
    char *path; /* decoded backend path, "" for the root */
    char *raw;  /* the server's bytes for it, relative to the URL's base */
    size_t raw_len;
    int64_t fetched; /* monotonic seconds */
    struct ftpc_listing l;
    unsigned char *cls;           /* verify != none: enum mnt_class per entry of l */
    struct ftpc_dir_evidence *ev; /* verify != none: the directory's evidence files */
};

struct mnt_conv {
    const char *name; /* static storage (ftpc_listing.encoding or enc_canonical) */
    struct enc_conv *conv;
};

struct mnt {
    struct ftpc *c;
    bool read_only;
    int64_t ttl;
    const char *charset; /* for names not listed yet: configured, else last detected */
    bool forced;         /* charset configured, not detected */
    char *forced_name;   /* the configured charset (charset points here when forced) */
    struct mnt_dir dirs[MNT_MAX_DIRS];
    size_t ndirs;
    struct mnt_conv convs[MNT_MAX_CONVS];
    size_t nconvs;
    struct ftpc_xfer *idle[MNT_MAX_IDLE];
    size_t nidle;
    size_t nopen; /* file handles open (each owns a transfer) */
    int mfmt;     /* server offers MFMT: -1 not asked yet, 0 no, 1 yes */
    enum mnt_verify verify;
    struct ftpc_policy pol;
    char *key;    /* the mount's key file, read at creation */
    char *prefix; /* the mount point, for messages */
    struct mnt_ok ok[MNT_MAX_VERIFIED];
    size_t nok;
    char *failed[MNT_MAX_FAILED]; /* a ring */
    size_t nfailed, failed_next;
};

struct mnt_file {
    struct mnt *m;
    struct ftpc_xfer *x;
    char *raw;
    size_t raw_len;
    char *dir; /* decoded parent path: its listing is dropped on writes */
    bool writing;
    bool started; /* a download is open on x at pos */
    int fd;       /* >= 0: a verified copy, read from here instead of the server */
    uint64_t pos; /* next byte the transfer delivers or takes */
    struct vfs_stat st;
};

struct mnt_dh {
    size_t n, i;
    char **names;
    struct vfs_stat *st;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Splits a backend path into its parent ("" for a top-level name) and final name. */
static int split(const char *path, char **dir, const char **name)
{
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    *dir = strndup(path, slash ? (size_t)(slash - path) : 0);
    return *dir ? 0 : GW_ERR_NOMEM;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h ? h : 1;
}

/* ---- listing cache ---- */

static int dir_find(const struct mnt *m, const char *path, size_t len)
{
    for (size_t i = 0; i < m->ndirs; i++)
        if (strlen(m->dirs[i].path) == len && memcmp(m->dirs[i].path, path, len) == 0)
            return (int)i;
    return -1;
}

static void dir_drop(struct mnt *m, size_t i)
{
    struct mnt_dir *d = &m->dirs[i];
    free(d->path);
    free(d->raw);
    ftpc_listing_free(&d->l);
    free(d->cls);
    ftpc_evidence_free(d->ev);
    m->dirs[i] = m->dirs[--m->ndirs];
    memset(&m->dirs[m->ndirs], 0, sizeof m->dirs[m->ndirs]);
}

/* Forgets the listing of path, and with subtree those of every directory below it. */
static void invalidate(struct mnt *m, const char *path, bool subtree)
{
    size_t len = strlen(path);
    for (size_t i = m->ndirs; i-- > 0;) {
        const char *p = m->dirs[i].path;
        bool below = subtree && (len == 0 || (strncmp(p, path, len) == 0 && p[len] == '/'));
        if (strcmp(p, path) == 0 || below)
            dir_drop(m, i);
    }
}

static void invalidate_parent(struct mnt *m, const char *path)
{
    char *dir;
    const char *name;
    if (split(path, &dir, &name) == 0)
        invalidate(m, dir, false);
    free(dir);
}

static const struct ftpc_entry *entry_find(const struct ftpc_listing *l, const char *name,
                                           size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->e[i].name) == len && memcmp(l->e[i].name, name, len) == 0)
            return &l->e[i];
    return NULL;
}

/* ---- names ---- */

static struct enc_conv *conv_for(struct mnt *m, const char *charset)
{
    if (!charset || strcasecmp(charset, "US-ASCII") == 0)
        charset = m->charset;
    for (size_t i = 0; i < m->nconvs; i++)
        if (strcasecmp(m->convs[i].name, charset) == 0)
            return m->convs[i].conv;
    struct enc_conv *cv = enc_conv_new(charset);
    if (!cv)
        return NULL;
    if (m->nconvs == MNT_MAX_CONVS) {
        enc_conv_free(m->convs[0].conv);
        memmove(&m->convs[0], &m->convs[1], sizeof m->convs[0] * (MNT_MAX_CONVS - 1));
        m->nconvs--;
    }
    m->convs[m->nconvs++] = (struct mnt_conv){.name = enc_conv_name(cv), .conv = cv};
    return cv;
}

/* Appends the server bytes of a decoded name that no listing has shown yet. */
static int encode_name(struct mnt *m, const char *charset, const char *name, size_t len,
                       struct gw_buf *out)
{
    bool plain = true;
    for (size_t i = 0; i < len && plain; i++)
        plain = (unsigned char)name[i] < 0x80 && name[i] != '%';
    if (plain) /* every candidate charset is ASCII-compatible */
        return gw_buf_append(out, name, len) ? GW_ERR_TOOLONG : 0;
    struct enc_conv *cv = conv_for(m, charset);
    char *raw = NULL;
    size_t rlen = 0;
    if (!cv)
        return GW_ERR_NOMEM;
    int rc = enc_encode(cv, name, len, &raw, &rlen);
    if (rc == ENC_ERR_NOMEM)
        return GW_ERR_NOMEM;
    if (rc != 0)
        return GW_ERR_INVAL; /* a character the server's charset cannot hold */
    /* The escape form must never smuggle a path: "%2e%2e" would become "..", "%2f" a
     * separator, "%0d%0a" a second FTP command. Such names do not exist upstream. */
    bool bad = memchr(raw, '/', rlen) || memchr(raw, '\0', rlen) || memchr(raw, '\r', rlen) ||
               memchr(raw, '\n', rlen) || (rlen == 1 && raw[0] == '.') ||
               (rlen == 2 && raw[0] == '.' && raw[1] == '.');
    rc = bad ? GW_ERR_ESCAPE : gw_buf_append(out, raw, rlen) ? GW_ERR_TOOLONG : 0;
    free(raw);
    return rc;
}

/* The server's bytes for a backend path: each component through its directory's listing
 * (cached, even expired: names do not change charset) when listed there, else encoded. */
static int resolve(struct mnt *m, const char *path, char **raw, size_t *raw_len)
{
    struct gw_buf b;
    int rc = 0;
    gw_buf_init(&b, MNT_MAX_RAW);
    for (const char *p = path; *p && rc == 0;) {
        size_t clen = strcspn(p, "/");
        int di = dir_find(m, path, p > path ? (size_t)(p - path - 1) : 0);
        const struct ftpc_entry *e = di >= 0 ? entry_find(&m->dirs[di].l, p, clen) : NULL;
        if (b.len && gw_buf_putc(&b, '/'))
            rc = GW_ERR_TOOLONG;
        else if (e)
            rc = gw_buf_append(&b, e->raw, e->raw_len) ? GW_ERR_TOOLONG : 0;
        else
            rc = encode_name(m, di >= 0 ? m->dirs[di].l.encoding : NULL, p, clen, &b);
        p += clen;
        if (*p == '/')
            p++;
    }
    if (rc == 0 && gw_buf_putc(&b, '\0'))
        rc = GW_ERR_TOOLONG;
    if (rc < 0) {
        gw_buf_free(&b);
        return rc;
    }
    *raw = gw_buf_steal(&b, raw_len);
    if (!*raw)
        return GW_ERR_NOMEM;
    (*raw_len)--; /* without the NUL */
    return 0;
}

/* ---- errors ---- */

/* A GW_ERR_* for a failed ftpc call, logged with the client's explanation. */
static int upstream_error(struct mnt *m, int rc, const char *what, const char *path)
{
    long code = ftpc_reply_code(m->c);
    if (code == 550 && (rc == GW_ERR_UPSTREAM || rc == GW_ERR_NOENT))
        rc = GW_ERR_NOENT;
    else if (code == 530)
        rc = GW_ERR_PERM;
    if (rc != GW_ERR_NOENT)
        gw_log(GW_LOG_WARN, "mount: %s /%s: %s", what, path, ftpc_error(m->c));
    return rc;
}

/* ---- integrity policy (verify = auto|required) ---- */

static bool failed_before(const struct mnt *m, const char *path)
{
    for (size_t i = 0; i < m->nfailed; i++)
        if (strcmp(m->failed[i], path) == 0)
            return true;
    return false;
}

static void remember_failed(struct mnt *m, const char *path)
{
    char *p = strdup(path);
    if (!p)
        return;
    if (m->nfailed < MNT_MAX_FAILED) {
        m->failed[m->nfailed++] = p;
        return;
    }
    free(m->failed[m->failed_next]);
    m->failed[m->failed_next] = p;
    m->failed_next = (m->failed_next + 1) % MNT_MAX_FAILED;
}

static void entry_drop(struct ftpc_listing *l, unsigned char *cls, size_t i)
{
    free(l->e[i].raw);
    free(l->e[i].name);
    free(l->e[i].target);
    memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof l->e[0]);
    memmove(&cls[i], &cls[i + 1], l->n - i - 1);
    l->n--;
}

/* Applies the mount's integrity policy to a fresh listing of directory d (path dpath):
 * what nothing can vouch for is hidden (required) or renamed NAME.unverified (auto),
 * what failed a check before is hidden, the rest is marked for a check at open. Evidence
 * files and directories stay as they are. Fetches the directory's manifests (once per
 * listing) to know which names they cover. */
static int classify(struct mnt *m, struct mnt_dir *d)
{
    if (m->verify == MV_NONE)
        return 0;
    d->ev = ftpc_evidence_new();
    d->cls = calloc(d->l.n ? d->l.n : 1, 1);
    if (!d->ev || !d->cls)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < d->l.n;) {
        struct ftpc_entry *e = &d->l.e[i];
        enum mnt_class c = MC_PLAIN;
        bool drop = false;
        if (e->type != LP_TYPE_DIR && !ftpc_is_evidence_name(e->name)) {
            char *full = NULL;
            if (asprintf(&full, "%s%s%s", d->path, *d->path ? "/" : "", e->name) < 0)
                return GW_ERR_NOMEM;
            if (failed_before(m, full)) {
                drop = true;
            } else if (ftpc_has_evidence(m->c, d->raw, &d->l, d->ev, e, &m->pol)) {
                c = MC_CHECK;
            } else if (m->verify == MV_AUTO && e->type == LP_TYPE_FILE) {
                char *marked = NULL;
                if (asprintf(&marked, "%s" MNT_UNVERIFIED_SUFFIX, e->name) < 0) {
                    free(full);
                    return GW_ERR_NOMEM;
                }
                free(e->name);
                e->name = marked;
                c = MC_MARKED;
            } else {
                drop = true;
            }
            free(full);
        }
        if (drop) {
            entry_drop(&d->l, d->cls, i);
            continue;
        }
        d->cls[i++] = (unsigned char)c;
    }
    return 0;
}

/* ---- stat ---- */

/* The listing of directory path, fetched again once older than cache_ttl. The pointer is
 * valid until the next call that may fetch or drop listings. */
static int get_dir(struct mnt *m, const char *path, struct mnt_dir **out)
{
    int i = dir_find(m, path, strlen(path));
    int64_t now = mono_now();
    struct ftpc_listing l;
    char *raw = NULL, *copy = NULL;
    size_t raw_len = 0;
    if (i >= 0 && now - m->dirs[i].fetched < m->ttl) {
        *out = &m->dirs[i];
        return 0;
    }
    int rc = resolve(m, path, &raw, &raw_len);
    if (rc < 0)
        return rc;
    rc = ftpc_list(m->c, raw, raw_len, &l);
    if (rc < 0) {
        free(raw);
        return upstream_error(m, rc, "listing", path);
    }
    copy = strdup(path);
    if (!copy) {
        ftpc_listing_free(&l);
        free(raw);
        return GW_ERR_NOMEM;
    }
    i = dir_find(m, path, strlen(path));
    if (i >= 0)
        dir_drop(m, (size_t)i);
    if (m->ndirs == MNT_MAX_DIRS) {
        size_t oldest = 0;
        for (size_t j = 1; j < m->ndirs; j++)
            if (m->dirs[j].fetched < m->dirs[oldest].fetched)
                oldest = j;
        dir_drop(m, oldest);
    }
    if (!m->forced && l.encoding && strcasecmp(l.encoding, "US-ASCII") != 0)
        m->charset = l.encoding; /* new names in this server's charset */
    struct mnt_dir *d = &m->dirs[m->ndirs++];
    *d = (struct mnt_dir){.path = copy, .raw = raw, .raw_len = raw_len, .fetched = now, .l = l};
    if ((rc = classify(m, d)) < 0) {
        dir_drop(m, m->ndirs - 1);
        return rc;
    }
    *out = d;
    return 0;
}

static void root_stat(const struct mnt *m, struct vfs_stat *st)
{
    memset(st, 0, sizeof *st);
    st->mode = S_IFDIR | (m->read_only ? 0555 : 0755);
    st->nlink = 2;
    st->ino = 1;
}

static void entry_stat(const struct mnt *m, const char *path, const struct ftpc_entry *e,
                       struct vfs_stat *st)
{
    memset(st, 0, sizeof *st);
    switch (e->type) {
    case LP_TYPE_DIR:
        st->mode = S_IFDIR | (m->read_only ? 0555 : 0755);
        st->nlink = 2;
        break;
    case LP_TYPE_LINK:
        st->mode = S_IFLNK | 0777;
        st->nlink = 1;
        break;
    default: /* files, and what legacy systems list as neither (datasets, members) */
        st->mode = S_IFREG | (m->read_only ? 0444 : 0644);
        st->nlink = 1;
        break;
    }
    st->size = e->have_size ? e->size : 0;
    time_t t = ftpc_time_utc(m->c, &e->mtime);
    st->mtime = (int64_t)t;
    st->ino = fnv1a(path);
}

/* SIZE and MDTM of a file: for listings that give no size, and for names the listing
 * does not show (servers hide dot files from LIST, our own upload partials among them). */
static int raw_stat(struct mnt *m, const char *path, struct vfs_stat *st)
{
    char *raw;
    size_t raw_len;
    uint64_t size = 0;
    time_t mtime = 0;
    int rc = resolve(m, path, &raw, &raw_len);
    if (rc < 0)
        return rc;
    rc = ftpc_stat(m->c, raw, raw_len, &size, &mtime);
    free(raw);
    if (rc < 0)
        return GW_ERR_NOENT;
    memset(st, 0, sizeof *st);
    st->mode = S_IFREG | (m->read_only ? 0444 : 0644);
    st->nlink = 1;
    st->size = size;
    st->mtime = (int64_t)mtime;
    st->ino = fnv1a(path);
    return 0;
}

/* A name the listing does not show. */
static int hidden_stat(struct mnt *m, const char *path, struct vfs_stat *st)
{
    if (m->verify != MV_NONE)
        return GW_ERR_NOENT; /* unlisted: the integrity policy never saw it */
    return raw_stat(m, path, st);
}

static int do_stat(struct mnt *m, const char *path, bool follow, int depth, struct vfs_stat *st);

/* Normalises dir + "/" + target (a link target relative to its directory, or absolute on
 * the server) into a backend path; NULL when it leads outside the mount. */
static char *link_path(struct mnt *m, const char *dir, const char *target)
{
    struct gw_buf in, out;
    char *res = NULL;
    const char *base = ftpc_base_path(m->c);
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    gw_buf_init(&in, GW_MAX_PATH);
    gw_buf_init(&out, GW_MAX_PATH);
    if (target[0] == '/') {
        if (strncmp(target, base, blen) != 0 || (target[blen] != '/' && target[blen] != '\0'))
            goto done;
        if (gw_buf_puts(&in, target + blen))
            goto done;
    } else if (gw_buf_puts(&in, dir) || gw_buf_putc(&in, '/') || gw_buf_puts(&in, target)) {
        goto done;
    }
    for (const char *p = gw_buf_str(&in); *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (out.len == 0)
                goto done; /* above the mount's root */
            const char *s = gw_buf_str(&out);
            const char *slash = strrchr(s, '/');
            out.len = slash ? (size_t)(slash - s) : 0;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if ((out.len && gw_buf_putc(&out, '/')) || gw_buf_append(&out, p, n))
                goto done;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    res = strndup(gw_buf_str(&out), out.len);
done:
    gw_buf_free(&in);
    gw_buf_free(&out);
    return res;
}

/* What a symlink leads to: through its target when that stays inside the mount, else
 * by asking the server, which follows links itself (SIZE for a file, a listing for a
 * directory). */
static int follow_link(struct mnt *m, const char *path, const char *dir, const char *target,
                       int depth, struct vfs_stat *st)
{
    if (depth >= MNT_LINK_DEPTH)
        return GW_ERR_ESCAPE;
    if (target && *target) {
        char *to = link_path(m, dir, target);
        int rc = to ? do_stat(m, to, true, depth + 1, st) : GW_ERR_NOENT;
        free(to);
        if (rc == 0 || rc == GW_ERR_NOMEM || rc == GW_ERR_ESCAPE || m->verify != MV_NONE)
            return rc;
    }
    if (m->verify != MV_NONE)
        return GW_ERR_NOENT; /* what the listings do not show was never classified */
    struct mnt_dir *d;
    char *raw;
    size_t raw_len;
    uint64_t size = 0;
    time_t mtime = 0;
    int rc = resolve(m, path, &raw, &raw_len);
    if (rc < 0)
        return rc;
    rc = ftpc_stat(m->c, raw, raw_len, &size, &mtime);
    free(raw);
    memset(st, 0, sizeof *st);
    st->ino = fnv1a(path);
    st->nlink = 1;
    if (rc == 0) {
        st->mode = S_IFREG | (m->read_only ? 0444 : 0644);
        st->size = size;
        st->mtime = (int64_t)mtime;
        return 0;
    }
    if (get_dir(m, path, &d) == 0) {
        st->mode = S_IFDIR | (m->read_only ? 0555 : 0755);
        st->nlink = 2;
        return 0;
    }
    return GW_ERR_NOENT;
}

static int do_stat(struct mnt *m, const char *path, bool follow, int depth, struct vfs_stat *st)
{
    struct mnt_dir *d;
    char *dir = NULL, *target = NULL;
    const char *name;
    if (!*path) {
        root_stat(m, st);
        return 0;
    }
    int rc = split(path, &dir, &name);
    if (rc < 0)
        return rc;
    rc = get_dir(m, dir, &d);
    if (rc < 0)
        goto out;
    const struct ftpc_entry *e = entry_find(&d->l, name, strlen(name));
    if (!e) {
        rc = name[0] == '.' ? hidden_stat(m, path, st) : GW_ERR_NOENT;
        goto out;
    }
    entry_stat(m, path, e, st);
    bool file_no_size = e->type == LP_TYPE_FILE && !e->have_size;
    if (follow && e->type == LP_TYPE_LINK) {
        if (e->target && !(target = strdup(e->target))) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        rc = follow_link(m, path, dir, target, depth, st);
    } else if (file_no_size) {
        /* Some listings give no size (MVS, some MLSD); readers need it. */
        struct vfs_stat hs;
        if (raw_stat(m, path, &hs) == 0) {
            st->size = hs.size;
            if (!st->mtime)
                st->mtime = hs.mtime;
        }
    }
out:
    free(dir);
    free(target);
    return rc;
}

/* ---- vfs_ops ---- */

static int mnt_stat(void *be, const char *path, bool follow, struct vfs_stat *st)
{
    return do_stat(be, path, follow, 0, st);
}

static int mnt_opendir(void *be, const char *path, void **out)
{
    struct mnt *m = be;
    struct mnt_dir *d;
    struct vfs_stat st;
    struct mnt_dh *h = NULL;
    int rc = do_stat(m, path, true, 0, &st);
    if (rc < 0)
        return rc;
    if (!S_ISDIR(st.mode))
        return GW_ERR_NOTDIR;
    rc = get_dir(m, path, &d);
    if (rc < 0)
        return rc;
    /* A copy: the cache may drop the listing while the caller iterates and acts. */
    h = calloc(1, sizeof *h);
    if (!h)
        return GW_ERR_NOMEM;
    h->names = calloc(d->l.n ? d->l.n : 1, sizeof *h->names);
    h->st = calloc(d->l.n ? d->l.n : 1, sizeof *h->st);
    if (!h->names || !h->st)
        goto nomem;
    for (size_t i = 0; i < d->l.n; i++) {
        const struct ftpc_entry *e = &d->l.e[i];
        char *full = NULL;
        if (asprintf(&full, "%s%s%s", path, *path ? "/" : "", e->name) < 0)
            goto nomem;
        entry_stat(m, full, e, &h->st[h->n]);
        free(full);
        h->names[h->n] = strdup(e->name);
        if (!h->names[h->n])
            goto nomem;
        h->n++;
    }
    *out = h;
    return 0;
nomem:
    for (size_t i = 0; h->names && i < h->n; i++)
        free(h->names[i]);
    free(h->names);
    free(h->st);
    free(h);
    return GW_ERR_NOMEM;
}

static int mnt_readdir(void *dh, const char **name, struct vfs_stat *st)
{
    struct mnt_dh *h = dh;
    if (h->i >= h->n)
        return 0;
    *name = h->names[h->i];
    *st = h->st[h->i];
    h->i++;
    return 1;
}

static void mnt_closedir(void *dh)
{
    struct mnt_dh *h = dh;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
    free(h->st);
    free(h);
}

static struct ftpc_xfer *xfer_take(struct mnt *m)
{
    if (m->nidle > 0)
        return m->idle[--m->nidle];
    return ftpc_xfer_new(m->c);
}

/* Keeps a connection that ended cleanly for the next file; drops a troubled one. */
static void xfer_give(struct mnt *m, struct ftpc_xfer *x, bool clean)
{
    if (clean && m->nidle < MNT_MAX_IDLE && !ftpc_xfer_busy(x))
        m->idle[m->nidle++] = x;
    else
        ftpc_xfer_free(x);
}

static void file_free(struct mnt_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->raw);
    free(f->dir);
    free(f);
}

/* ---- verified copies ---- */

/* An anonymous temporary file (gone when closed) for a verified copy: O_TMPFILE in
 * $TMPDIR (default /tmp), so no name ever exists for another process to open; in memory
 * (memfd) where the session sandbox (gateway/sandbox.h) allows no file outside the
 * user's root. */
static int tmp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = memfd_create("ferry-verified", MFD_CLOEXEC);
    return fd;
}

static int sink_fd(void *ctx, const void *buf, size_t n)
{
    int fd = *(int *)ctx;
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return gw_err_from_errno(errno);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void ok_drop(struct mnt *m, size_t i)
{
    free(m->ok[i].path);
    close(m->ok[i].fd);
    memmove(&m->ok[i], &m->ok[i + 1], (m->nok - i - 1) * sizeof m->ok[0]);
    m->nok--;
}

/* Downloads entry e (backend path, stat st) whole into a temporary file and verifies it.
 * Returns the file (>= 0), or a GW_ERR_*: PERM when the check failed (the path is then
 * remembered and hidden from listings). */
static int fetch_verified(struct mnt *m, struct mnt_dir *d, const struct ftpc_entry *e,
                          const char *path, const struct vfs_stat *st)
{
    char *raw = NULL;
    size_t raw_len;
    uint64_t got = 0;
    int fd = tmp_fd(), rc;
    if (fd < 0)
        return gw_err_from_errno(errno);
    if ((rc = resolve(m, path, &raw, &raw_len)) < 0)
        goto fail;
    rc = ftpc_get(m->c, raw, raw_len, 0, sink_fd, &fd, &got);
    if (rc < 0) {
        rc = upstream_error(m, rc, "download for verification", path);
        goto fail;
    }
    if (got != st->size) {
        gw_log(GW_LOG_WARN, "mount: /%s: got %llu bytes of %llu", path, (unsigned long long)got,
               (unsigned long long)st->size);
        rc = GW_ERR_UPSTREAM;
        goto fail;
    }
    char name[64];
    struct ftpc_fetch_result r;
    memset(&r, 0, sizeof r);
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    ftpc_verify_copy(m->c, d->raw, &d->l, d->ev, e, name, fd, &m->pol, &r);
    if (r.verdict != IG_VERIFIED) {
        gw_log(GW_LOG_WARN, "mount %s: /%s refused (%s): %s", m->prefix, path,
               ig_verdict_name(r.verdict), r.reason);
        remember_failed(m, path);
        rc = GW_ERR_PERM;
        goto fail;
    }
    gw_log(GW_LOG_INFO, "mount %s: /%s verified: %s", m->prefix, path, r.reason);
    free(raw);
    return fd;
fail:
    free(raw);
    close(fd);
    return rc;
}

/* For a read under a verifying mount: *fd = a verified copy of path (cached), or -1 when
 * the entry is served as the server gives it (evidence files, marked ones). Refuses
 * (GW_ERR_NOENT / GW_ERR_PERM) what nothing vouches for. */
static int verified_open(struct mnt *m, const char *path, const struct vfs_stat *st, int *fd)
{
    struct mnt_dir *d;
    char *dir = NULL;
    const char *name;
    int rc;
    *fd = -1;
    if ((rc = split(path, &dir, &name)) < 0 || (rc = get_dir(m, dir, &d)) < 0)
        goto out;
    const struct ftpc_entry *e = entry_find(&d->l, name, strlen(name));
    if (!e) {
        rc = GW_ERR_NOENT;
        goto out;
    }
    if (d->cls[e - d->l.e] != MC_CHECK)
        goto out;
    for (size_t i = 0; i < m->nok; i++) {
        if (strcmp(m->ok[i].path, path) != 0)
            continue;
        if (m->ok[i].size == st->size && m->ok[i].mtime == st->mtime) {
            *fd = dup(m->ok[i].fd);
            rc = *fd < 0 ? gw_err_from_errno(errno) : 0;
            goto out;
        }
        ok_drop(m, i); /* changed upstream */
        break;
    }
    int vfd = fetch_verified(m, d, e, path, st);
    if (vfd < 0) {
        rc = vfd;
        if (rc == GW_ERR_PERM)
            invalidate(m, dir, false); /* the next listing hides it */
        goto out;
    }
    if (m->nok == MNT_MAX_VERIFIED)
        ok_drop(m, 0);
    char *copy = strdup(path);
    if (copy) {
        m->ok[m->nok++] =
            (struct mnt_ok){.path = copy, .size = st->size, .mtime = st->mtime, .fd = vfd};
        *fd = dup(vfd);
        rc = *fd < 0 ? gw_err_from_errno(errno) : 0;
    } else {
        *fd = vfd;
    }
out:
    free(dir);
    return rc;
}

/* Decides STOR or APPE for a write at offset: FTP can replace a file, or add at its end,
 * but not write inside it. */
static int write_mode(int flags, bool exists, const struct vfs_stat *st, uint64_t offset,
                      bool *append)
{
    *append = false;
    if ((flags & O_TRUNC) || !exists || st->size == 0)
        return offset == 0 ? 0 : GW_ERR_NOTSUP;
    if (offset == st->size) {
        *append = true;
        return 0;
    }
    return GW_ERR_NOTSUP;
}

static int mnt_open(void *be, const char *path, int flags, uint32_t mode, uint64_t offset,
                    void **fh)
{
    struct mnt *m = be;
    struct mnt_file *f = NULL;
    struct vfs_stat st;
    const char *name;
    bool writing = (flags & O_ACCMODE) != O_RDONLY, append = false;
    int rc;
    (void)mode; /* the server decides (its umask) */
    if (!*path)
        return GW_ERR_ISDIR;
    if (writing && m->read_only)
        return GW_ERR_ROFS;
    if (m->nopen >= MNT_MAX_XFERS)
        return GW_ERR_BUSY;
    rc = do_stat(m, path, !writing, 0, &st);
    bool exists = rc == 0;
    if (rc < 0 && (!writing || rc != GW_ERR_NOENT))
        return rc;
    if (writing) {
        if (exists && (flags & O_CREAT) && (flags & O_EXCL))
            return GW_ERR_EXIST;
        if (!exists && !(flags & O_CREAT))
            return GW_ERR_NOENT;
        if (exists && S_ISLNK(st.mode)) {
            if (flags & O_NOFOLLOW)
                return GW_ERR_ESCAPE;
            if ((rc = do_stat(m, path, true, 0, &st)) < 0)
                return rc;
        }
    }
    if (exists && S_ISDIR(st.mode))
        return GW_ERR_ISDIR;
    if (exists && !S_ISREG(st.mode))
        return GW_ERR_PERM;
    if (!writing && offset > st.size)
        return GW_ERR_RANGE;
    if (writing && (rc = write_mode(flags, exists, &st, offset, &append)) < 0)
        return rc;
    int vfd = -1;
    if (!writing && m->verify != MV_NONE && (rc = verified_open(m, path, &st, &vfd)) < 0)
        return rc;
    f = calloc(1, sizeof *f);
    if (!f) {
        if (vfd >= 0)
            close(vfd);
        return GW_ERR_NOMEM;
    }
    f->fd = vfd;
    f->m = m;
    f->writing = writing;
    f->pos = offset;
    if (exists)
        f->st = st;
    else
        f->st = (struct vfs_stat){.mode = S_IFREG | 0644, .nlink = 1, .ino = fnv1a(path)};
    if ((rc = split(path, &f->dir, &name)) < 0 || (rc = resolve(m, path, &f->raw, &f->raw_len)) < 0)
        goto fail;
    if (f->fd >= 0) { /* a verified copy: no connection needed */
        m->nopen++;
        *fh = f;
        return 0;
    }
    f->x = xfer_take(m);
    if (!f->x) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    if (writing) {
        /* The listing changes as soon as the server creates the file. */
        invalidate(m, f->dir, false);
        rc = ftpc_xfer_open_write(f->x, f->raw, f->raw_len, append);
        if (rc < 0)
            goto fail;
        f->st.size = offset;
    }
    /* Downloads start at the first read, at the offset that read asks for. */
    m->nopen++;
    *fh = f;
    return 0;
fail:
    if (f->x)
        xfer_give(m, f->x, false);
    file_free(f);
    return rc;
}

/* Reads and drops bytes up to offset off on the running download. */
static int skip_to(struct mnt_file *f, uint64_t off)
{
    char scratch[16384];
    while (f->pos < off) {
        uint64_t want = off - f->pos < sizeof scratch ? off - f->pos : sizeof scratch;
        ssize_t r = ftpc_xfer_read(f->x, scratch, (size_t)want);
        if (r <= 0)
            return r < 0 ? (int)r : GW_ERR_RANGE;
        f->pos += (uint64_t)r;
    }
    return 0;
}

static ssize_t mnt_pread(void *fh, void *buf, size_t n, uint64_t off)
{
    struct mnt_file *f = fh;
    int rc;
    if (f->writing)
        return GW_ERR_INVAL;
    if (n == 0)
        return 0;
    if (f->fd >= 0) {
        ssize_t r = pread(f->fd, buf, n, (off_t)off);
        if (r < 0)
            return gw_err_from_errno(errno);
        f->pos = off + (uint64_t)r;
        return r;
    }
    if (!f->started || off < f->pos || off - f->pos > MNT_SKIP_MAX) {
        /* A new download from off (REST): the previous one, if any, is aborted. */
        ftpc_xfer_close(f->x);
        f->started = false;
        rc = ftpc_xfer_open_read(f->x, f->raw, f->raw_len, off);
        if (rc < 0)
            return rc;
        f->started = true;
        f->pos = off;
    }
    if ((rc = skip_to(f, off)) < 0)
        return rc;
    ssize_t r = ftpc_xfer_read(f->x, buf, n);
    if (r > 0)
        f->pos += (uint64_t)r;
    else if (r < 0)
        gw_log(GW_LOG_WARN, "mount: reading: %s", ftpc_xfer_error(f->x));
    return r;
}

static ssize_t mnt_read(void *fh, void *buf, size_t n)
{
    struct mnt_file *f = fh;
    return mnt_pread(fh, buf, n, f->pos);
}

static ssize_t mnt_pwrite(void *fh, const void *buf, size_t n, uint64_t off)
{
    struct mnt_file *f = fh;
    if (!f->writing)
        return GW_ERR_INVAL;
    if (off != f->pos)
        return GW_ERR_NOTSUP; /* an FTP upload is a stream */
    ssize_t r = ftpc_xfer_write(f->x, buf, n);
    if (r > 0)
        f->pos += (uint64_t)r;
    else if (r < 0)
        gw_log(GW_LOG_WARN, "mount: writing: %s", ftpc_xfer_error(f->x));
    return r;
}

static ssize_t mnt_write(void *fh, const void *buf, size_t n)
{
    struct mnt_file *f = fh;
    return mnt_pwrite(fh, buf, n, f->pos);
}

static int mnt_fstat(void *fh, struct vfs_stat *st)
{
    struct mnt_file *f = fh;
    *st = f->st;
    if (f->writing)
        st->size = f->pos;
    return 0;
}

static int mnt_ftruncate(void *fh, uint64_t size)
{
    struct mnt_file *f = fh;
    /* "Cutting" at the end of what was written is what REST N + STOR asks for with N at
     * the end; anything else would need a rewrite. */
    return f->writing && size == f->pos ? 0 : GW_ERR_NOTSUP;
}

static int mnt_close(void *fh)
{
    struct mnt_file *f = fh;
    struct mnt *m = f->m;
    bool writing = f->writing;
    if (!f->x) { /* a verified copy */
        m->nopen--;
        file_free(f);
        return 0;
    }
    int rc = ftpc_xfer_close(f->x);
    if (rc < 0 && writing)
        gw_log(GW_LOG_WARN, "mount: upload: %s", ftpc_xfer_error(f->x));
    if (writing)
        invalidate(m, f->dir, false);
    /* After an aborted download libcurl decides whether the connection can be reused. */
    xfer_give(m, f->x, rc == 0);
    m->nopen--;
    file_free(f);
    return writing ? rc : 0; /* a download's errors were returned by its reads */
}

/* Runs "VERB name" in the directory of path (names without '/' suit every server). */
static int in_parent(struct mnt *m, const char *path, const char *verb, const char *what)
{
    char *raw, *cmd = NULL;
    size_t raw_len;
    int rc = resolve(m, path, &raw, &raw_len);
    if (rc < 0)
        return rc;
    char *slash = strrchr(raw, '/');
    const char *name = slash ? slash + 1 : raw;
    size_t dlen = slash ? (size_t)(slash - raw) : 0;
    if (asprintf(&cmd, "%s %s", verb, name) < 0) {
        free(raw);
        return GW_ERR_NOMEM;
    }
    const char *cmds[] = {cmd};
    rc = ftpc_command(m->c, raw, dlen, cmds, 1);
    if (rc < 0)
        rc = upstream_error(m, rc, what, path);
    free(cmd);
    free(raw);
    return rc;
}

static int mnt_mkdir(void *be, const char *path, uint32_t mode)
{
    struct mnt *m = be;
    struct vfs_stat st;
    (void)mode;
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*path)
        return GW_ERR_EXIST;
    char *dir;
    const char *name;
    int rc = split(path, &dir, &name);
    if (rc < 0)
        return rc;
    rc = do_stat(m, dir, true, 0, &st);
    free(dir);
    if (rc < 0)
        return rc;
    if (!S_ISDIR(st.mode))
        return GW_ERR_NOTDIR;
    rc = do_stat(m, path, false, 0, &st);
    if (rc == 0)
        return GW_ERR_EXIST;
    if (rc != GW_ERR_NOENT)
        return rc;
    rc = in_parent(m, path, "MKD", "mkdir");
    invalidate_parent(m, path);
    return rc == GW_ERR_NOENT ? GW_ERR_PERM : rc; /* the parent was there: 550 is a refusal */
}

static int mnt_rmdir(void *be, const char *path)
{
    struct mnt *m = be;
    struct mnt_dir *d;
    struct vfs_stat st;
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*path)
        return GW_ERR_BUSY;
    int rc = do_stat(m, path, false, 0, &st);
    if (rc < 0)
        return rc;
    if (!S_ISDIR(st.mode))
        return GW_ERR_NOTDIR;
    /* Servers answer 550 for "not empty" as for everything else: ask the listing. */
    invalidate(m, path, false);
    rc = get_dir(m, path, &d);
    if (rc < 0)
        return rc;
    if (d->l.n > 0)
        return GW_ERR_NOTEMPTY;
    rc = in_parent(m, path, "RMD", "rmdir");
    invalidate(m, path, true);
    invalidate_parent(m, path);
    return rc == GW_ERR_NOENT ? GW_ERR_PERM : rc;
}

static int mnt_unlink(void *be, const char *path)
{
    struct mnt *m = be;
    struct vfs_stat st;
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*path)
        return GW_ERR_ISDIR;
    int rc = do_stat(m, path, false, 0, &st);
    if (rc < 0)
        return rc;
    if (S_ISDIR(st.mode))
        return GW_ERR_ISDIR;
    rc = in_parent(m, path, "DELE", "delete");
    invalidate_parent(m, path);
    return rc;
}

/* RNFR/RNTO with names when both are in one directory, else paths from the base. */
static int rename_cmd(struct mnt *m, const char *from, const char *to)
{
    char *rf = NULL, *rt = NULL, *c1 = NULL, *c2 = NULL;
    size_t lf, lt;
    int rc = resolve(m, from, &rf, &lf);
    if (rc == 0)
        rc = resolve(m, to, &rt, &lt);
    if (rc < 0)
        goto out;
    const char *sf = strrchr(rf, '/'), *st = strrchr(rt, '/');
    size_t df = sf ? (size_t)(sf - rf) : 0, dt = st ? (size_t)(st - rt) : 0;
    bool same = df == dt && memcmp(rf, rt, df) == 0;
    if (asprintf(&c1, "RNFR %s", same && sf ? sf + 1 : rf) < 0 ||
        asprintf(&c2, "RNTO %s", same && st ? st + 1 : rt) < 0) {
        c1 = c2 = NULL;
        rc = GW_ERR_NOMEM;
        goto out;
    }
    const char *cmds[] = {c1, c2};
    rc = ftpc_command(m->c, same ? rf : NULL, same ? df : 0, cmds, 2);
out:
    free(rf);
    free(rt);
    free(c1);
    free(c2);
    return rc;
}

static int mnt_rename(void *be, const char *from, const char *to, bool overwrite)
{
    struct mnt *m = be;
    struct vfs_stat sf, st;
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*from || !*to)
        return GW_ERR_BUSY;
    int rc = do_stat(m, from, false, 0, &sf);
    if (rc < 0)
        return rc;
    int trc = do_stat(m, to, false, 0, &st);
    if (trc < 0 && trc != GW_ERR_NOENT)
        return trc;
    bool have_to = trc == 0;
    if (have_to && !overwrite)
        return GW_ERR_EXIST;
    if (have_to && S_ISDIR(st.mode) && !S_ISDIR(sf.mode))
        return GW_ERR_ISDIR;
    if (have_to && !S_ISDIR(st.mode) && S_ISDIR(sf.mode))
        return GW_ERR_NOTDIR;
    rc = rename_cmd(m, from, to);
    if (rc < 0 && have_to && !S_ISDIR(st.mode)) {
        /* Some servers (pure-ftpd, Windows) refuse to rename over a file: replace it in
         * two steps. Not atomic, but the only way there. */
        if (in_parent(m, to, "DELE", "delete") == 0)
            rc = rename_cmd(m, from, to);
    }
    if (rc < 0)
        rc = upstream_error(m, rc, "rename", from);
    invalidate(m, from, true);
    invalidate(m, to, true);
    invalidate_parent(m, from);
    invalidate_parent(m, to);
    return rc;
}

static int mnt_set_mtime(void *be, const char *path, int64_t mtime)
{
    struct mnt *m = be;
    struct vfs_stat st;
    struct tm tm;
    char verb[32];
    time_t t = (time_t)mtime;
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*path)
        return GW_ERR_NOTSUP;
    int rc = do_stat(m, path, false, 0, &st);
    if (rc < 0)
        return rc;
    if (m->mfmt < 0)
        m->mfmt = ftpc_has_feature(m->c, "MFMT");
    if (!m->mfmt)
        return GW_ERR_NOTSUP;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return GW_ERR_RANGE;
    snprintf(verb, sizeof verb, "MFMT %04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    rc = in_parent(m, path, verb, "set time");
    invalidate_parent(m, path);
    return rc;
}

static int mnt_chmod(void *be, const char *path, uint32_t mode)
{
    struct mnt *m = be;
    struct vfs_stat st;
    char verb[32];
    if (m->read_only)
        return GW_ERR_ROFS;
    if (!*path)
        return GW_ERR_NOTSUP;
    int rc = do_stat(m, path, false, 0, &st);
    if (rc < 0)
        return rc;
    snprintf(verb, sizeof verb, "SITE CHMOD %03o", (unsigned)(mode & 07777));
    rc = in_parent(m, path, verb, "chmod");
    invalidate_parent(m, path);
    return rc;
}

static int mnt_readlink(void *be, const char *path, char *buf, size_t size)
{
    struct mnt *m = be;
    struct mnt_dir *d;
    char *dir;
    const char *name;
    if (!*path)
        return GW_ERR_INVAL;
    int rc = split(path, &dir, &name);
    if (rc < 0)
        return rc;
    rc = get_dir(m, dir, &d);
    free(dir);
    if (rc < 0)
        return rc;
    const struct ftpc_entry *e = entry_find(&d->l, name, strlen(name));
    if (!e)
        return GW_ERR_NOENT;
    if (e->type != LP_TYPE_LINK)
        return GW_ERR_INVAL;
    if (!e->target)
        return GW_ERR_NOTSUP; /* the listing did not say where it leads */
    size_t len = strlen(e->target);
    if (len >= size)
        return GW_ERR_TOOLONG;
    memcpy(buf, e->target, len + 1);
    return 0;
}

static void mnt_free(void *be)
{
    struct mnt *m = be;
    if (!m)
        return;
    while (m->ndirs)
        dir_drop(m, m->ndirs - 1);
    for (size_t i = 0; i < m->nconvs; i++)
        enc_conv_free(m->convs[i].conv);
    for (size_t i = 0; i < m->nidle; i++)
        ftpc_xfer_free(m->idle[i]);
    while (m->nok)
        ok_drop(m, m->nok - 1);
    for (size_t i = 0; i < m->nfailed; i++)
        free(m->failed[i]);
    free(m->key);
    free(m->prefix);
    ftpc_free(m->c);
    free(m->forced_name);
    free(m);
}

const struct vfs_ops ftpc_mount_ops = {
    .name = "ftp",
    .stat = mnt_stat,
    .open = mnt_open,
    .read = mnt_read,
    .write = mnt_write,
    .pread = mnt_pread,
    .pwrite = mnt_pwrite,
    .fstat = mnt_fstat,
    .ftruncate = mnt_ftruncate,
    .close = mnt_close,
    .opendir = mnt_opendir,
    .readdir = mnt_readdir,
    .closedir = mnt_closedir,
    .mkdir = mnt_mkdir,
    .rmdir = mnt_rmdir,
    .unlink = mnt_unlink,
    .rename = mnt_rename,
    .set_mtime = mnt_set_mtime,
    .chmod = mnt_chmod,
    .readlink = mnt_readlink,
    .free = mnt_free,
};

/* verify: "" follows the URL, as `ferry mirror --verify` does: auto for anonymous
 * upstreams (no integrity of their own), none for authenticated ones. */
static int set_policy(struct mnt *m, const struct cfg_mount *cm, char *err, size_t errsz)
{
    const char *v = cm->verify && *cm->verify ? cm->verify : ftpc_anonymous(m->c) ? "auto" : "none";
    const char *prefix = cm->prefix ? cm->prefix : "";
    m->verify = strcmp(v, "required") == 0 ? MV_REQUIRED
                : strcmp(v, "auto") == 0   ? MV_AUTO
                                           : MV_NONE;
    m->pol.mode = m->verify == MV_NONE ? FTPC_VERIFY_NONE : FTPC_VERIFY_AUTO;
    if (!cm->key || !*cm->key)
        return 0;
    if (m->verify == MV_NONE) {
        snprintf(err, errsz, "mount %s: key needs verify = auto or required", prefix);
        return GW_ERR_CONFIG;
    }
    struct gw_buf b;
    char tmp[4096];
    int fd = open(cm->key, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0) {
        snprintf(err, errsz, "mount %s: cannot read the key %s: %s", prefix, cm->key,
                 strerror(errno));
        return GW_ERR_CONFIG;
    }
    gw_buf_init(&b, FTPC_MAX_SIDECAR);
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (rc = gw_buf_append(&b, tmp, (size_t)n)) != 0)
            break;
    }
    close(fd);
    size_t len = 0;
    m->key = rc == 0 ? gw_buf_steal(&b, &len) : NULL;
    gw_buf_free(&b);
    if (!m->key || len == 0) {
        snprintf(err, errsz, "mount %s: cannot read the key %s", prefix, cm->key);
        return GW_ERR_CONFIG;
    }
    m->pol.keys[0] = (const unsigned char *)m->key;
    m->pol.key_len[0] = len;
    m->pol.nkeys = 1;
    return 0;
}

int ftpc_mount_new(const struct cfg_mount *cm, const struct vfs_ops **ops, void **backend,
                   char *err, size_t errsz)
{
    struct mnt *m = NULL;
    bool forced = cm->encoding && *cm->encoding && strcasecmp(cm->encoding, "auto") != 0;
    struct ftpc_options opt = {
        .encoding = cm->encoding,
        .listing = cm->listing,
        .timezone = cm->timezone && *cm->timezone ? cm->timezone : NULL,
    };
    *ops = NULL;
    *backend = NULL;
    if (forced && !enc_canonical(cm->encoding)) {
        snprintf(err, errsz, "mount %s: unknown encoding '%s'", cm->prefix ? cm->prefix : "",
                 cm->encoding);
        return GW_ERR_CONFIG;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errsz, "out of memory");
        return GW_ERR_NOMEM;
    }
    char cerr[256] = "";
    m->c = ftpc_new(cm->url, &opt, cerr, sizeof cerr);
    if (!m->c) {
        snprintf(err, errsz, "mount %s: %s", cm->prefix ? cm->prefix : "", cerr);
        free(m);
        return GW_ERR_CONFIG;
    }
    m->read_only = cm->read_only;
    m->ttl = cm->cache_ttl > 0 ? cm->cache_ttl : 0;
    m->prefix = strdup(cm->prefix ? cm->prefix : "");
    if (!m->prefix || set_policy(m, cm, err, errsz) < 0) {
        mnt_free(m);
        return GW_ERR_CONFIG;
    }
    m->forced = forced;
    m->charset = "UTF-8";
    m->mfmt = -1;
    if (forced) {
        m->forced_name = strdup(enc_canonical(cm->encoding));
        if (!m->forced_name) {
            snprintf(err, errsz, "out of memory");
            mnt_free(m);
            return GW_ERR_NOMEM;
        }
        m->charset = m->forced_name;
    }
    *ops = &ftpc_mount_ops;
    *backend = m;
    return 0;
}
