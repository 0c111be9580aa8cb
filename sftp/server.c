/* The SFTP v3 request engine (see sftp/server.h): a handle table, one handler per
 * request in a const dispatch table, and the translation of VFS results into SFTP
 * status codes. Permission checks for read-only sessions happen once, in dispatch(). */
#include "sftp/server.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "sftp/longname.h"
#include "sftp/packet.h"

#define HANDLE_LEN 8 /* uint32 slot, uint32 generation */
#define HASH_LEN 32  /* SHA-256 */
#define READ_HDR 13  /* length, type, id, data length of a DATA reply */
/* H_SETTLE: an upload committed and answered, its handle string already invalid, its
 * audit record waiting for the hash (sftpd_server_settle). There is at most one: the
 * next request waits for it (dispatch). */
enum hkind { H_FREE = 0, H_FILE, H_DIR, H_SETTLE };

struct handle {
    enum hkind kind;
    uint32_t gen; /* bumped on every reuse: stale handle strings stop matching */
    char *path;   /* virtual path, for audit records and deferred attributes */
    struct vfs_file *f;
    struct vfs_dir *d;
    bool writing, append;
    bool failed; /* a write failed: CLOSE must not commit the upload */
    int fail_err;
    bool dir_eof;
    bool any_io;
    uint64_t lo_off; /* lowest offset read or written (the audit's resume start) */
    int64_t started_ms;
    /* FSETSTAT on an upload is applied after the commit, when the file exists. */
    bool set_mode, set_mtime;
    uint32_t mode;
    int64_t mtime;
    bool committed; /* commit_upload() ran: commit_rc is its result */
    int commit_rc;
    int64_t ended_ms; /* when the commit ended: the transfer's end for the audit */
};

struct sftpd_server {
    struct sftpd_server_options o;
    bool initialized;
    struct handle *h;
    unsigned nh;                   /* slots in h */
    unsigned open, files, uploads; /* open handles; of them files; of them for writing */
    unsigned settling;             /* of the open handles, H_SETTLE ones */
    unsigned next;                 /* where the search for a free slot starts */
    uint8_t *scratch;              /* SFTPD_MAX_RW bytes for hashing, allocated on first use */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- audit ---- */

static void audit_op(struct sftpd_server *srv, const char *event, const char *path,
                     const char *path2, int rc)
{
    struct audit_record r;
    if (!srv->o.audit)
        return;
    audit_record_init(&r);
    r.event = event;
    r.path = path;
    r.path2 = path2;
    r.status = rc == 0 ? "ok" : "failed";
    r.error = rc == 0 ? NULL : gw_strerror(rc);
    srv->o.audit(srv->o.audit_ctx, &r);
}

/* ---- handles ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct handle *lookup(struct sftpd_server *srv, const struct sftpd_str *s, enum hkind kind)
{
    if (s->len != HANDLE_LEN)
        return NULL;
    uint32_t slot = get_be32(s->p), gen = get_be32(s->p + 4);
    if (slot >= srv->nh)
        return NULL;
    struct handle *h = &srv->h[slot];
    return h->kind == kind && h->gen == gen ? h : NULL;
}

/* A free slot (its path set), or NULL when the table is full. */
static struct handle *alloc_handle(struct sftpd_server *srv, const char *path)
{
    if (srv->open >= srv->nh)
        return NULL;
    for (unsigned i = 0; i < srv->nh; i++) {
        struct handle *h = &srv->h[(srv->next + i) % srv->nh];
        if (h->kind != H_FREE)
            continue;
        char *p = strdup(path);
        if (!p)
            return NULL;
        uint32_t gen = h->gen + 1;
        memset(h, 0, sizeof *h);
        h->gen = gen;
        h->path = p;
        h->started_ms = mono_ms();
        srv->next = (unsigned)(h - srv->h) + 1;
        return h;
    }
    return NULL;
}

/* Marks an allocated slot as open and replies with its handle string. */
static int commit_handle(struct sftpd_server *srv, struct handle *h, enum hkind kind, uint32_t id,
                         struct gw_buf *out)
{
    uint8_t hs[HANDLE_LEN];
    h->kind = kind;
    srv->open++;
    if (kind == H_FILE)
        srv->files++;
    if (kind == H_FILE && h->writing)
        srv->uploads++;
    put_be32(hs, (uint32_t)(h - srv->h));
    put_be32(hs + 4, h->gen);
    return sftpd_reply_handle(out, id, hs, sizeof hs);
}

static void release(struct sftpd_server *srv, struct handle *h)
{
    if (h->kind != H_FREE) {
        srv->open--;
        if (h->kind == H_FILE)
            srv->files--;
        if (h->kind == H_FILE && h->writing)
            srv->uploads--;
        if (h->kind == H_SETTLE)
            srv->settling--;
    }
    free(h->path);
    uint32_t gen = h->gen;
    memset(h, 0, sizeof *h);
    h->gen = gen;
}

/* Commits an upload (fsync, rename over the target; nothing for in-place writes) once
 * per handle; returns the commit's error. */
static int commit_upload(struct handle *h)
{
    if (h->committed)
        return h->commit_rc;
    h->committed = true;
    h->commit_rc = vfs_commit(h->f);
    h->ended_ms = mono_ms();
    return h->commit_rc;
}

/* Closes a file handle (H_FILE, or H_SETTLE: committed already) and writes its
 * transfer record, waiting for the hash if it is still catching up. complete = false:
 * the session is ending (an upload keeps its partial). Returns the close's error. */
static int close_file(struct sftpd_server *srv, struct handle *h, bool complete)
{
    struct audit_record r;
    struct vfs_stat st;
    unsigned char sum[HASH_LEN];
    char hex[2 * HASH_LEN + 1];
    bool commit = complete && !h->failed;
    int rc = commit && h->writing ? commit_upload(h) : 0;

    audit_record_init(&r);
    r.event = h->writing ? "upload" : "download";
    r.path = h->path;
    r.bytes = (int64_t)vfs_bytes(h->f);
    r.offset = h->any_io ? (int64_t)h->lo_off : (int64_t)vfs_start_offset(h->f);
    if (vfs_fstat(h->f, &st) == 0)
        r.size = (int64_t)st.size;
    if (vfs_sha256(h->f, sum)) {
        for (int i = 0; i < HASH_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", sum[i]);
        r.sha256 = hex;
    }
    /* A failed commit keeps the partial for a resume, as an abort does. */
    int crc = vfs_close(h->f, commit && rc == 0);
    h->f = NULL;
    if (rc == 0)
        rc = crc;
    if (rc == 0 && commit && h->writing) {
        /* Attributes sent for the upload (OpenSSH `put -p`) now that the file exists
         * and its hash is taken (a new mtime would void it, see vfs_sha256); the upload
         * itself succeeded, so their failure is not the CLOSE's. */
        if (h->set_mode)
            (void)vfs_chmod(srv->o.vfs, h->path, h->mode);
        if (h->set_mtime)
            (void)vfs_set_mtime(srv->o.vfs, h->path, h->mtime);
    }
    if (!complete) {
        r.status = "aborted";
        r.error = "session ended";
    } else if (h->failed || rc < 0) {
        r.status = "failed";
        r.error = gw_strerror(rc < 0 ? rc : h->fail_err);
    } else {
        r.status = "ok";
    }
    r.duration_ms = (h->committed ? h->ended_ms : mono_ms()) - h->started_ms;
    if (srv->o.audit)
        srv->o.audit(srv->o.audit_ctx, &r);
    if (rc == 0 && complete && h->failed)
        rc = h->fail_err;
    return rc;
}

/* ---- helpers ---- */

static uint32_t fx_code(int err)
{
    switch (err) {
    case GW_ERR_NOENT:
        return SFTPD_FX_NO_SUCH_FILE;
    case GW_ERR_PERM:
    case GW_ERR_ROFS:
    case GW_ERR_ESCAPE:
        return SFTPD_FX_PERMISSION_DENIED;
    case GW_ERR_NOTSUP:
        return SFTPD_FX_OP_UNSUPPORTED;
    case GW_ERR_PROTO:
        return SFTPD_FX_BAD_MESSAGE;
    default:
        return SFTPD_FX_FAILURE;
    }
}

static int status(struct gw_buf *out, uint32_t id, uint32_t code, const char *msg)
{
    return sftpd_reply_status(out, id, code, msg);
}

static int ok(struct gw_buf *out, uint32_t id)
{
    return status(out, id, SFTPD_FX_OK, NULL);
}

static int bad_handle(struct gw_buf *out, uint32_t id)
{
    return status(out, id, SFTPD_FX_FAILURE, "Invalid handle");
}

/* A client path, normalised inside the user's view (SFTP has no working directory:
 * relative paths start at the root, which is the user's home). */
static int resolve(const struct sftpd_str *s, char out[GW_MAX_PATH])
{
    return gw_path_resolve("/", (const char *)s->p, s->len, out, GW_MAX_PATH);
}

static void to_attrs(const struct vfs_stat *st, struct sftpd_attrs *a)
{
    memset(a, 0, sizeof *a);
    a->flags = SFTPD_ATTR_SIZE | SFTPD_ATTR_UIDGID | SFTPD_ATTR_PERMISSIONS | SFTPD_ATTR_ACMODTIME;
    a->size = st->size;
    a->uid = st->uid;
    a->gid = st->gid;
    a->perm = st->mode;
    /* v3 times are 32-bit: clamp instead of wrapping. */
    int64_t t = st->mtime < 0 ? 0 : st->mtime > UINT32_MAX ? UINT32_MAX : st->mtime;
    a->atime = a->mtime = (uint32_t)t;
}

/* ---- handlers: each appends its reply and returns 0, or returns a GW_ERR_* that
 * dispatch() turns into a status reply. ---- */

static int h_open(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    uint32_t pf = q->pflags;
    bool writing = (pf & (SFTPD_FXF_WRITE | SFTPD_FXF_APPEND)) != 0;
    int rc = resolve(&q->path, path);
    if (rc < 0)
        return rc;
    if (writing && srv->o.read_only)
        return GW_ERR_ROFS;
    struct handle *h = alloc_handle(srv, path);
    if (!h)
        return status(out, q->id, SFTPD_FX_FAILURE, "Too many open handles");

    if (!writing) {
        rc = vfs_open_read(srv->o.vfs, path, 0, &f);
    } else {
        uint32_t mode = (q->attrs.flags & SFTPD_ATTR_PERMISSIONS) ? q->attrs.perm & 0777 : 0644;
        enum vfs_write_mode wm;
        if ((pf & SFTPD_FXF_CREAT) && (pf & SFTPD_FXF_EXCL))
            wm = VFS_WRITE_EXCL;
        else if (pf & SFTPD_FXF_TRUNC)
            wm = VFS_WRITE_NEW;
        else if (pf & SFTPD_FXF_APPEND)
            wm = VFS_WRITE_APPEND;
        else
            wm = VFS_WRITE_RESUME;
        /* Without CREAT the file (or the caller's pending partial of it) must exist. */
        if (!(pf & SFTPD_FXF_CREAT))
            rc = vfs_stat(srv->o.vfs, path, VFS_SHADOW, &st);
        if (rc == 0)
            rc = vfs_open_write(srv->o.vfs, path, wm, 0, mode, &f);
        h->writing = true;
        h->append = wm == VFS_WRITE_APPEND;
    }
    if (rc < 0) {
        release(srv, h);
        return rc;
    }
    if (srv->o.no_hash)
        vfs_hash_off(f);
    h->f = f;
    rc = commit_handle(srv, h, H_FILE, q->id, out);
    if (rc < 0) {
        /* No reply could be queued: the client never learns the handle. */
        (void)close_file(srv, h, false);
        release(srv, h);
    }
    return rc;
}

static int h_close(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    int rc = 0;
    /* An upload is committed before its reply (a client that has its OK may use the
     * file at once); when the hash running behind it has not caught up, the reply goes
     * out now and the audit record follows once it has (sftpd_server_settle), as FTP's
     * 226 does: the client need not wait for a hash it does not see. Not with
     * attributes to apply: a new mtime would void the hash (see vfs_sha256). */
    if (h && h->writing && !h->failed && !h->set_mode && !h->set_mtime && commit_upload(h) == 0 &&
        !vfs_hash_ready(h->f)) {
        srv->files--;
        srv->uploads--;
        srv->settling++;
        h->kind = H_SETTLE; /* the handle string stops matching: CLOSE is final */
        return ok(out, q->id);
    }
    if (h) {
        rc = close_file(srv, h, true);
    } else if ((h = lookup(srv, &q->handle, H_DIR)) != NULL) {
        vfs_closedir(h->d);
        h->d = NULL;
    } else {
        return bad_handle(out, q->id);
    }
    release(srv, h);
    return rc < 0 ? rc : ok(out, q->id);
}

static void note_io(struct handle *h, uint64_t off)
{
    if (!h->any_io || off < h->lo_off)
        h->lo_off = off;
    h->any_io = true;
}

static int h_read(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    if (!h)
        return bad_handle(out, q->id);
    size_t n = q->len < SFTPD_MAX_RW ? q->len : SFTPD_MAX_RW;
    if (q->offset > INT64_MAX || n == 0)
        return status(out, q->id, SFTPD_FX_EOF, NULL);
    /* A reply buffer nearly full gets a shorter read (clients ask again for the rest)
     * rather than a failure. */
    size_t room = out->max - out->len;
    if (room < READ_HDR + 1)
        return GW_ERR_LIMIT; /* the caller broke the flush_at contract: a FAILURE status */
    if (n > room - READ_HDR)
        n = room - READ_HDR;
    /* The file's bytes land in the reply itself: no copy between the read and the send. */
    uint8_t *dst;
    size_t mark;
    int rc = sftpd_data_begin(out, q->id, n, &dst, &mark);
    if (rc < 0)
        return rc;
    ssize_t got = vfs_pread(h->f, dst, n, q->offset);
    if (got <= 0) {
        sftpd_pkt_abort(out, mark);
        return got < 0 ? (int)got : status(out, q->id, SFTPD_FX_EOF, NULL);
    }
    note_io(h, q->offset);
    return sftpd_data_end(out, mark, (size_t)got);
}

static int h_write(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    if (!h)
        return bad_handle(out, q->id);
    if (!h->writing)
        return GW_ERR_PERM;
    if (h->failed)
        return h->fail_err;
    /* APPEND means "at the end" whatever offset the client names; requests are handled
     * in order, so the sequential position is the end. */
    uint64_t off = h->append ? vfs_tell(h->f) : q->offset;
    ssize_t r = h->append ? vfs_write(h->f, q->data.p, q->data.len)
                          : vfs_pwrite(h->f, q->data.p, q->data.len, q->offset);
    if (r < 0) {
        /* The upload now has a hole: it must not become the file at CLOSE. */
        h->failed = true;
        h->fail_err = (int)r;
        return (int)r;
    }
    note_io(h, off);
    return ok(out, q->id);
}

static int h_stat(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    struct vfs_stat st;
    struct sftpd_attrs a;
    int rc = resolve(&q->path, path);
    if (rc < 0)
        return rc;
    /* Size queries see the caller's own pending upload, so `reput` and curl -C -
     * continue it. */
    unsigned flags = VFS_SHADOW | (q->op == SFTPD_OP_LSTAT ? VFS_NOFOLLOW : 0);
    rc = vfs_stat(srv->o.vfs, path, flags, &st);
    if (rc < 0)
        return rc;
    to_attrs(&st, &a);
    return sftpd_reply_attrs(out, q->id, &a);
}

static int h_fstat(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct vfs_stat st;
    struct sftpd_attrs a;
    int rc;
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    if (h)
        rc = vfs_fstat(h->f, &st);
    else if ((h = lookup(srv, &q->handle, H_DIR)) != NULL)
        rc = vfs_stat(srv->o.vfs, h->path, 0, &st);
    else
        return bad_handle(out, q->id);
    if (rc < 0)
        return rc;
    to_attrs(&st, &a);
    return sftpd_reply_attrs(out, q->id, &a);
}

/* Applies SETSTAT/FSETSTAT attributes: size, permissions, modification time (owner
 * changes are ignored: users own nothing on the host). h is the file handle of
 * FSETSTAT, or NULL. */
static int set_attrs(struct sftpd_server *srv, const char *path, struct handle *h,
                     const struct sftpd_attrs *a)
{
    int rc = 0;
    if (a->flags & SFTPD_ATTR_SIZE) {
        if (h && h->writing) {
            rc = vfs_ftruncate(h->f, a->size);
        } else if (h) {
            rc = GW_ERR_PERM;
        } else {
            struct vfs_file *f = NULL;
            rc = vfs_open_write(srv->o.vfs, path, VFS_WRITE_RESUME, 0, 0644, &f);
            if (rc == 0)
                rc = vfs_ftruncate(f, a->size);
            if (f) {
                int crc = vfs_close(f, rc == 0);
                if (rc == 0)
                    rc = crc;
            }
        }
        if (rc < 0)
            return rc;
    }
    bool defer = h && h->writing;
    if (a->flags & SFTPD_ATTR_PERMISSIONS) {
        if (defer) {
            h->set_mode = true;
            h->mode = a->perm & 07777;
        } else if ((rc = vfs_chmod(srv->o.vfs, path, a->perm & 07777)) < 0) {
            return rc;
        }
    }
    if (a->flags & SFTPD_ATTR_ACMODTIME) {
        if (defer) {
            h->set_mtime = true;
            h->mtime = a->mtime;
        } else if ((rc = vfs_set_mtime(srv->o.vfs, path, a->mtime)) < 0) {
            return rc;
        }
    }
    return 0;
}

static int h_setstat(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    int rc = resolve(&q->path, path);
    if (rc == 0)
        rc = set_attrs(srv, path, NULL, &q->attrs);
    return rc < 0 ? rc : ok(out, q->id);
}

static int h_fsetstat(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    struct handle *dh = h ? NULL : lookup(srv, &q->handle, H_DIR);
    if (!h && !dh)
        return bad_handle(out, q->id);
    int rc = set_attrs(srv, h ? h->path : dh->path, h, &q->attrs);
    return rc < 0 ? rc : ok(out, q->id);
}

static int h_opendir(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    struct vfs_dir *d = NULL;
    int rc = resolve(&q->path, path);
    if (rc < 0)
        return rc;
    struct handle *h = alloc_handle(srv, path);
    if (!h)
        return status(out, q->id, SFTPD_FX_FAILURE, "Too many open handles");
    rc = vfs_opendir(srv->o.vfs, path, &d);
    if (rc < 0) {
        release(srv, h);
        return rc;
    }
    h->d = d;
    rc = commit_handle(srv, h, H_DIR, q->id, out);
    if (rc < 0) {
        vfs_closedir(h->d);
        release(srv, h);
    }
    return rc;
}

static int h_readdir(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_DIR);
    struct vfs_dirent ent;
    struct sftpd_attrs a;
    char longname[SFTPD_LONGNAME_MAX];
    size_t mark;
    uint32_t count = 0;
    int rc = 0;
    if (!h)
        return bad_handle(out, q->id);
    if (h->dir_eof)
        return status(out, q->id, SFTPD_FX_EOF, NULL);
    rc = sftpd_name_begin(out, q->id, &mark);
    if (rc < 0)
        return rc;
    int64_t now = (int64_t)time(NULL);
    while (count < SFTPD_READDIR_BATCH) {
        rc = vfs_readdir(h->d, &ent);
        if (rc == 0)
            h->dir_eof = true;
        if (rc <= 0)
            break;
        to_attrs(&ent.st, &a);
        if (sftpd_longname(longname, sizeof longname, ent.name, &ent.st, srv->o.owner, srv->o.owner,
                           now) < 0)
            snprintf(longname, sizeof longname, "%s", ent.name);
        rc = sftpd_name_add(out, ent.name, strlen(ent.name), longname, &a);
        if (rc < 0)
            break;
        count++;
    }
    if (count == 0) {
        sftpd_pkt_abort(out, mark);
        return rc < 0 ? rc : status(out, q->id, SFTPD_FX_EOF, NULL);
    }
    /* Entries already read are sent even when a later one failed; the error (if it
     * persists) is reported by the next READDIR. */
    return sftpd_name_end(out, mark, count);
}

static int h_remove(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    int rc = resolve(&q->path, path);
    if (rc < 0)
        return rc;
    switch (q->op) {
    case SFTPD_OP_REMOVE:
        rc = vfs_unlink(srv->o.vfs, path);
        audit_op(srv, "delete", path, NULL, rc);
        break;
    case SFTPD_OP_RMDIR:
        rc = vfs_rmdir(srv->o.vfs, path);
        audit_op(srv, "rmdir", path, NULL, rc);
        break;
    default: {
        uint32_t mode = (q->attrs.flags & SFTPD_ATTR_PERMISSIONS) ? q->attrs.perm & 07777 : 0755;
        rc = vfs_mkdir(srv->o.vfs, path, mode);
        audit_op(srv, "mkdir", path, NULL, rc);
        break;
    }
    }
    return rc < 0 ? rc : ok(out, q->id);
}

static int h_realpath(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    struct sftpd_attrs a;
    (void)srv;
    int rc = resolve(&q->path, path);
    if (rc < 0)
        return rc;
    memset(&a, 0, sizeof a);
    return sftpd_reply_name1(out, q->id, path, path, &a);
}

/* RENAME (fails when the target exists, as in v3), posix-rename (replaces it) and
 * hardlink. */
static int h_rename(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char from[GW_MAX_PATH], to[GW_MAX_PATH];
    int rc = resolve(&q->path, from);
    if (rc == 0)
        rc = resolve(&q->path2, to);
    if (rc < 0)
        return rc;
    if (q->op == SFTPD_OP_HARDLINK) {
        rc = vfs_link(srv->o.vfs, from, to);
    } else {
        rc = vfs_rename(srv->o.vfs, from, to, q->op == SFTPD_OP_POSIX_RENAME);
        audit_op(srv, "rename", from, to, rc);
    }
    return rc < 0 ? rc : ok(out, q->id);
}

static int h_readlink(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH], target[GW_MAX_PATH];
    struct sftpd_attrs a;
    int rc = resolve(&q->path, path);
    if (rc == 0)
        rc = vfs_readlink(srv->o.vfs, path, target, sizeof target);
    if (rc < 0)
        return rc;
    memset(&a, 0, sizeof a);
    return sftpd_reply_name1(out, q->id, target, target, &a);
}

static int h_symlink(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char target[GW_MAX_PATH], link[GW_MAX_PATH];
    /* OpenSSH order: the target first, then the link. The target is kept as text
     * (the VFS resolves and confines it). */
    if (q->path.len == 0 || q->path.len >= sizeof target || memchr(q->path.p, '\0', q->path.len))
        return GW_ERR_INVAL;
    memcpy(target, q->path.p, q->path.len);
    target[q->path.len] = '\0';
    int rc = resolve(&q->path2, link);
    if (rc == 0)
        rc = vfs_symlink(srv->o.vfs, target, link);
    return rc < 0 ? rc : ok(out, q->id);
}

static int reply_statvfs(struct gw_buf *out, uint32_t id, const struct vfs_statvfs *s)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_EXTENDED_REPLY, id, &mark);
    if (rc < 0)
        return rc;
    const uint64_t v[] = {s->bsize,  s->frsize,
                          s->blocks, s->bfree,
                          s->bavail, s->files,
                          s->ffree,  s->favail,
                          s->fsid,   SFTPD_ST_NOSUID | (s->read_only ? SFTPD_ST_RDONLY : 0),
                          s->namemax};
    for (size_t i = 0; i < sizeof v / sizeof v[0] && rc == 0; i++)
        rc = sftpd_put_u64(out, v[i]);
    if (rc < 0) {
        sftpd_pkt_abort(out, mark);
        return rc;
    }
    return sftpd_pkt_end(out, mark);
}

static int h_statvfs(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    const char *p = path;
    struct vfs_statvfs s;
    int rc = 0;
    if (q->op == SFTPD_OP_FSTATVFS) {
        struct handle *h = lookup(srv, &q->handle, H_FILE);
        if (!h)
            h = lookup(srv, &q->handle, H_DIR);
        if (!h)
            return bad_handle(out, q->id);
        p = h->path;
    } else {
        rc = resolve(&q->path, path);
    }
    if (rc == 0)
        rc = vfs_statvfs(srv->o.vfs, p, &s);
    if (rc < 0)
        return rc;
    if (srv->o.read_only)
        s.read_only = true;
    return reply_statvfs(out, q->id, &s);
}

static int h_fsync(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    struct handle *h = lookup(srv, &q->handle, H_FILE);
    if (!h)
        return bad_handle(out, q->id);
    int rc = vfs_fsync(h->f);
    return rc < 0 ? rc : ok(out, q->id);
}

static int h_limits(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_EXTENDED_REPLY, q->id, &mark);
    if (rc < 0)
        return rc;
    /* Large blocks make OpenSSH's client fast: it otherwise uses 32 KiB requests. */
    const uint64_t v[] = {GW_MAX_SFTP_PACKET, SFTPD_MAX_RW, SFTPD_MAX_RW, srv->nh};
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc = sftpd_put_u64(out, v[i]);
    if (rc < 0) {
        sftpd_pkt_abort(out, mark);
        return rc;
    }
    return sftpd_pkt_end(out, mark);
}

static bool list_has(const struct sftpd_str *list, const char *name)
{
    size_t n = strlen(name), i = 0;
    while (i <= list->len) {
        size_t j = i;
        while (j < list->len && list->p[j] != ',')
            j++;
        if (j - i == n && memcmp(list->p + i, name, n) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* Hashes [off, off + len) of f (len 0: to the end of the file) in blocks of bs bytes
 * (0: one hash), appending each SHA-256 to out. */
static int hash_range(struct sftpd_server *srv, struct vfs_file *f, uint64_t off, uint64_t len,
                      uint32_t bs, struct gw_buf *out)
{
    struct vfs_stat st;
    unsigned char md[HASH_LEN];
    int rc = vfs_fstat(f, &st);
    if (rc < 0)
        return rc;
    if (off > st.size)
        return GW_ERR_RANGE;
    uint64_t end = (len == 0 || len > st.size - off) ? st.size : off + len;
    uint64_t total = end - off;
    if (total > srv->o.max_hash_bytes)
        return GW_ERR_LIMIT;
    uint64_t nblocks = bs == 0 ? 1 : (total + bs - 1) / bs;
    if (nblocks > (GW_MAX_SFTP_PACKET - 1024) / HASH_LEN)
        return GW_ERR_LIMIT;
    if (!srv->scratch && !(srv->scratch = malloc(SFTPD_MAX_RW)))
        return GW_ERR_NOMEM;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return GW_ERR_NOMEM;
    uint64_t pos = off;
    for (uint64_t b = 0; b < nblocks && rc == 0; b++) {
        uint64_t bend = bs == 0 ? end : (end - pos > bs ? pos + bs : end);
        if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
            rc = GW_ERR_NOMEM;
            break;
        }
        while (pos < bend) {
            size_t want = bend - pos > SFTPD_MAX_RW ? SFTPD_MAX_RW : (size_t)(bend - pos);
            ssize_t got = vfs_pread(f, srv->scratch, want, pos);
            if (got <= 0) {
                rc = got < 0 ? (int)got : GW_ERR_IO; /* shrank while we read */
                break;
            }
            EVP_DigestUpdate(ctx, srv->scratch, (size_t)got);
            pos += (uint64_t)got;
        }
        if (rc == 0 && !EVP_DigestFinal_ex(ctx, md, NULL))
            rc = GW_ERR_IO;
        if (rc == 0)
            rc = gw_buf_append(out, md, sizeof md);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* check-file-name / check-file-handle (draft-ietf-secsh-filexfer-extensions): clients
 * verify a copy without downloading it. Only sha256 is offered. */
static int h_check_file(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out)
{
    char path[GW_MAX_PATH];
    struct vfs_file *own = NULL, *f = NULL;
    size_t mark;
    int rc = 0;
    if (!list_has(&q->algs, "sha256"))
        return status(out, q->id, SFTPD_FX_OP_UNSUPPORTED, "Only sha256 is supported");
    if (q->len != 0 && q->len < 256)
        return status(out, q->id, SFTPD_FX_FAILURE, "Block size below 256");
    if (q->op == SFTPD_OP_CHECK_FILE_HANDLE) {
        struct handle *h = lookup(srv, &q->handle, H_FILE);
        if (!h)
            return bad_handle(out, q->id);
        if (h->writing)
            return GW_ERR_PERM; /* the draft requires a handle opened for reading */
        /* Hashed through a handle of our own so the download's byte count (audit)
         * stays what the client actually read. */
        snprintf(path, sizeof path, "%s", h->path);
    } else {
        rc = resolve(&q->path, path);
        if (rc < 0)
            return rc;
    }
    rc = vfs_open_read(srv->o.vfs, path, 0, &own);
    if (rc < 0)
        return rc;
    f = own;
    rc = sftpd_pkt_begin(out, SFTPD_FXP_EXTENDED_REPLY, q->id, &mark);
    if (rc == 0)
        rc = sftpd_put_cstring(out, "check-file");
    if (rc == 0)
        rc = sftpd_put_cstring(out, "sha256");
    if (rc == 0)
        rc = hash_range(srv, f, q->offset, q->length, q->len, out);
    if (rc == 0)
        rc = sftpd_pkt_end(out, mark);
    else
        sftpd_pkt_abort(out, mark);
    if (own)
        vfs_close(own, true);
    return rc;
}

/* ---- dispatch ---- */

struct cmd {
    const char *name;
    bool writes; /* refused up front in read-only sessions */
    int (*fn)(struct sftpd_server *srv, const struct sftpd_request *q, struct gw_buf *out);
};

static const struct cmd cmds[SFTPD_OP_COUNT] = {
    [SFTPD_OP_OPEN] = {"open", false, h_open}, /* checks its pflags itself */
    [SFTPD_OP_CLOSE] = {"close", false, h_close},
    [SFTPD_OP_READ] = {"read", false, h_read},
    [SFTPD_OP_WRITE] = {"write", true, h_write},
    [SFTPD_OP_LSTAT] = {"lstat", false, h_stat},
    [SFTPD_OP_FSTAT] = {"fstat", false, h_fstat},
    [SFTPD_OP_SETSTAT] = {"setstat", true, h_setstat},
    [SFTPD_OP_FSETSTAT] = {"fsetstat", true, h_fsetstat},
    [SFTPD_OP_OPENDIR] = {"opendir", false, h_opendir},
    [SFTPD_OP_READDIR] = {"readdir", false, h_readdir},
    [SFTPD_OP_REMOVE] = {"remove", true, h_remove},
    [SFTPD_OP_MKDIR] = {"mkdir", true, h_remove},
    [SFTPD_OP_RMDIR] = {"rmdir", true, h_remove},
    [SFTPD_OP_REALPATH] = {"realpath", false, h_realpath},
    [SFTPD_OP_STAT] = {"stat", false, h_stat},
    [SFTPD_OP_RENAME] = {"rename", true, h_rename},
    [SFTPD_OP_READLINK] = {"readlink", false, h_readlink},
    [SFTPD_OP_SYMLINK] = {"symlink", true, h_symlink},
    [SFTPD_OP_POSIX_RENAME] = {"posix-rename", true, h_rename},
    [SFTPD_OP_STATVFS] = {"statvfs", false, h_statvfs},
    [SFTPD_OP_FSTATVFS] = {"fstatvfs", false, h_statvfs},
    [SFTPD_OP_HARDLINK] = {"hardlink", true, h_rename},
    [SFTPD_OP_FSYNC] = {"fsync", false, h_fsync},
    [SFTPD_OP_LIMITS] = {"limits", false, h_limits},
    [SFTPD_OP_CHECK_FILE_NAME] = {"check-file-name", false, h_check_file},
    [SFTPD_OP_CHECK_FILE_HANDLE] = {"check-file-handle", false, h_check_file},
};

/* Handles one packet body; a negative return ends the session. */
static int dispatch(struct sftpd_server *srv, const uint8_t *body, size_t len, struct gw_buf *out)
{
    struct sftpd_request q;
    int rc = sftpd_decode(body, len, &q);

    /* The record of an upload still settling comes first: records stay in the order
     * of the operations, and nothing this session does can change the file before its
     * hash is taken. (A change by anyone else costs the record its hash.) */
    if (srv->settling > 0)
        sftpd_server_settle(srv, true);
    if (!srv->initialized) {
        /* Anything but INIT first is not an SFTP client: end the session. */
        if (rc < 0 || q.op != SFTPD_OP_INIT)
            return GW_ERR_PROTO;
        srv->initialized = true;
        return sftpd_reply_version(out, sftpd_extensions, sftpd_nextensions);
    }
    if (rc < 0) {
        /* Without an id there is no one to answer: a clean failure is to drop it. */
        if (!q.has_id)
            return 0;
        return rc == GW_ERR_NOTSUP ? status(out, q.id, SFTPD_FX_OP_UNSUPPORTED, NULL)
                                   : status(out, q.id, SFTPD_FX_BAD_MESSAGE, "Malformed request");
    }
    if (q.op == SFTPD_OP_INIT)
        return 0; /* a repeated INIT changes nothing and has no id to answer */
    const struct cmd *c = &cmds[q.op];
    if (!c->fn)
        return status(out, q.id, SFTPD_FX_OP_UNSUPPORTED, NULL);
    if (c->writes && srv->o.read_only)
        return status(out, q.id, SFTPD_FX_PERMISSION_DENIED, "Read-only session");
    rc = c->fn(srv, &q, out);
    if (rc < 0 && rc != GW_ERR_NOMEM)
        rc = status(out, q.id, fx_code(rc), gw_strerror(rc));
    return rc;
}

ssize_t sftpd_server_input(struct sftpd_server *srv, const uint8_t *buf, size_t len,
                           struct gw_buf *out, size_t flush_at)
{
    size_t used = 0;
    while (out->len < flush_at) {
        size_t plen = 0;
        int rc = sftpd_frame(buf + used, len - used, &plen);
        if (rc == 0)
            break;
        if (rc < 0)
            return rc;
        rc = dispatch(srv, buf + used + 4, plen - 4, out);
        if (rc < 0)
            return rc;
        used += plen;
    }
    return (ssize_t)used;
}

struct sftpd_server *sftpd_server_new(const struct sftpd_server_options *opts)
{
    struct sftpd_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->o = *opts;
    if (!srv->o.owner)
        srv->o.owner = "ferry";
    if (!srv->o.max_hash_bytes)
        srv->o.max_hash_bytes = SFTPD_DEFAULT_MAX_HASH_BYTES;
    srv->nh = opts->max_handles ? opts->max_handles : SFTPD_DEFAULT_MAX_HANDLES;
    if (srv->nh > SFTPD_HARD_MAX_HANDLES)
        srv->nh = SFTPD_HARD_MAX_HANDLES;
    srv->h = calloc(srv->nh, sizeof *srv->h);
    if (!srv->h) {
        free(srv);
        return NULL;
    }
    return srv;
}

unsigned sftpd_server_handles(const struct sftpd_server *srv)
{
    return srv->open;
}

unsigned sftpd_server_transfers(const struct sftpd_server *srv)
{
    return srv->files;
}

unsigned sftpd_server_uploads(const struct sftpd_server *srv)
{
    return srv->uploads;
}

unsigned sftpd_server_settling(const struct sftpd_server *srv)
{
    return srv->settling;
}

void sftpd_server_settle(struct sftpd_server *srv, bool wait)
{
    for (unsigned i = 0; i < srv->nh && srv->settling > 0; i++) {
        struct handle *h = &srv->h[i];
        if (h->kind == H_SETTLE && (wait || vfs_hash_ready(h->f))) {
            (void)close_file(srv, h, true);
            release(srv, h);
        }
    }
}

void sftpd_server_free(struct sftpd_server *srv)
{
    if (!srv)
        return;
    for (unsigned i = 0; i < srv->nh; i++) {
        struct handle *h = &srv->h[i];
        if (h->kind == H_SETTLE)
            (void)close_file(srv, h, true); /* committed: only its record is missing */
        else if (h->kind == H_FILE)
            (void)close_file(srv, h, false);
        else if (h->kind == H_DIR)
            vfs_closedir(h->d);
        if (h->kind != H_FREE)
            release(srv, h);
    }
    free(srv->h);
    free(srv->scratch);
    free(srv);
}
