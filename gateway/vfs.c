/* The generic layer of the virtual file system (see vfs.h): mount dispatch by longest
 * prefix, read-only enforcement, the partial-upload rules of DESIGN.md "Uploads and
 * resume", and the SHA-256 of whole transfers computed on the fly. Everything here goes
 * through struct vfs_ops, never through file descriptors, so a backend without fds (the
 * upstream FTP client) gets the same upload semantics.
 *
 * Partials: the caller's pending upload of DIR/NAME lives at DIR/<partial name>, where
 * the partial name is VFS_PARTIAL_PREFIX + 16 hex digits of SHA-256(owner, NAME): the
 * owner finds it again from the name alone, nobody else can tell whose it is, and no
 * path a client sends can name it (gw_path_resolve refuses the prefix; readdir hides it).
 * A partial older than partial_ttl (by mtime, i.e. since its last write) counts as
 * absent and is removed when it is next seen: its directory listed (vfs_readdir), its
 * owner stat'ing the target with VFS_SHADOW or opening it for writing, rmdir of its
 * directory, or a vfs_purge_partials() sweep. */
#include "gateway/vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"

#define VFS_PARTIAL_HEX 16 /* hex digits of the digest in a partial's name */
#define VFS_HASH_CHUNK (64u * 1024)
/* Hashing moves to a helper thread (struct hasher) once a transfer has passed this many
 * bytes: small files are hashed inline, where a thread would cost more than it saves. */
#define VFS_HASH_ASYNC_MIN (1024u * 1024)
/* The helper thread's buffers: write handles queue copies of written bytes in a ring of
 * VFS_HASH_RING bytes; read handles re-read the file (page cache) in VFS_HASH_READ pieces. */
#define VFS_HASH_RING (4u * 1024 * 1024)
#define VFS_HASH_READ (256u * 1024)
/* A download's helper thread runs this much nicer than the session (see hasher_main). */
#define VFS_HASH_NICE 10

struct hasher;

struct vfs {
    const struct vfs_ops *root_ops;
    void *root_be; /* owned */
    struct vfs_mount *mounts;
    size_t nmounts;
    char *owner;
    bool read_only;
    int64_t ttl;
};

/* Where a virtual path lives: backend, backend path (points into the virtual path). */
struct vloc {
    const struct vfs_ops *ops;
    void *be;
    const char *bpath;
    bool read_only;
};

struct vfs_file {
    struct vfs *v;
    const struct vfs_ops *ops;
    void *be;
    void *fh;
    bool writing;
    bool partial; /* new content: committed by vfs_commit() or vfs_close(f, true) */
    bool excl;    /* commit must not replace an existing target */
    bool committed;
    bool fh_closed; /* a mount's upload: its handle closed by the commit */
    char *bpath;  /* target, backend path (partial handles) */
    char *ppath;  /* partial, backend path (partial handles) */
    uint64_t pos, start, bytes;
    EVP_MD_CTX *md; /* NULL unless the handle started at offset 0 */
    uint64_t hpos;  /* bytes hashed (or queued to hs), always a prefix of the file */
    bool hvalid;
    struct hasher *hs; /* helper thread hashing behind the transfer, or NULL */
    bool cached;    /* sum holds the file's SHA-256 from its cache attribute */
    unsigned char sum[32];
    /* Size and mtime when the commit made the upload visible: the hash running behind
     * it is good only while they hold (see vfs_sha256). */
    bool cst_ok;
    struct vfs_stat cst;
    bool ost_ok; /* ost: the status at vfs_open_read */
    struct vfs_stat ost;
};

struct vfs_dir {
    struct vfs *v;
    struct vloc loc;
    void *dh;
    char *vpath;     /* the directory's virtual path */
    char *bpath;     /* and its backend path */
    bool has_mounts; /* some mount point lies directly in this directory */
    size_t mnext;    /* next mount to consider once the backend is exhausted */
};

static bool is_partial_name(const char *name)
{
    return strncmp(name, VFS_PARTIAL_PREFIX, sizeof VFS_PARTIAL_PREFIX - 1) == 0;
}

static int locate(const struct vfs *v, const char *path, struct vloc *loc)
{
    if (!gw_path_is_normal(path))
        return GW_ERR_INVAL;
    const struct vfs_mount *best = NULL;
    size_t bestlen = 0;
    for (size_t i = 0; i < v->nmounts; i++) {
        size_t pl = strlen(v->mounts[i].prefix);
        if (pl > bestlen && gw_path_under(path, v->mounts[i].prefix)) {
            best = &v->mounts[i];
            bestlen = pl;
        }
    }
    if (best) {
        loc->ops = best->ops;
        loc->be = best->backend;
        loc->bpath = path[bestlen] ? path + bestlen + 1 : "";
        loc->read_only = v->read_only || best->read_only;
    } else {
        loc->ops = v->root_ops;
        loc->be = v->root_be;
        loc->bpath = path + 1;
        loc->read_only = v->read_only;
    }
    return 0;
}


/* SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up again on
 * every EVP_DigestInit_ex, a cost each download's open paid. */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_fetched ? sha256_fetched : EVP_sha256();
}
int vfs_partial_name(const char *owner, const char *name, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t pl = sizeof VFS_PARTIAL_PREFIX - 1;
    int rc = GW_ERR_NOMEM;
    if (!owner || !name || !*name)
        return GW_ERR_INVAL;
    if (outsz < pl + VFS_PARTIAL_HEX + 1)
        return GW_ERR_TOOLONG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* The NUL separates owner from name: ("ab","c") and ("a","bc") differ. */
    if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md(), NULL) ||
        !EVP_DigestUpdate(ctx, "ferry-partial", sizeof "ferry-partial") ||
        !EVP_DigestUpdate(ctx, owner, strlen(owner) + 1) ||
        !EVP_DigestUpdate(ctx, name, strlen(name)) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
        goto out;
    memcpy(out, VFS_PARTIAL_PREFIX, pl);
    for (size_t i = 0; i < VFS_PARTIAL_HEX / 2; i++) {
        out[pl + 2 * i] = hex[md[i] >> 4];
        out[pl + 2 * i + 1] = hex[md[i] & 15];
    }
    out[pl + VFS_PARTIAL_HEX] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Backend path of the caller's partial for the target at bpath (not ""). */
static int partial_bpath(const struct vfs *v, const char *bpath, char *out, size_t outsz)
{
    char pname[64];
    const char *base = gw_path_base(bpath);
    size_t dl = (size_t)(base - bpath); /* "dir/" including the slash, or 0 */
    int rc = vfs_partial_name(v->owner, base, pname, sizeof pname);
    if (rc < 0)
        return rc;
    size_t pl = strlen(pname);
    if (dl >= outsz || pl >= outsz - dl)
        return GW_ERR_TOOLONG;
    memcpy(out, bpath, dl);
    memcpy(out + dl, pname, pl + 1);
    return 0;
}

static bool expired(const struct vfs *v, const struct vfs_stat *st)
{
    int64_t now = (int64_t)time(NULL);
    return st->mtime < now && now - st->mtime > v->ttl;
}

/* The caller's pending, unexpired partial for loc (removing an expired one). */
static bool own_partial(struct vfs *v, const struct vloc *loc, char *ppath, size_t size,
                        struct vfs_stat *pst)
{
    if (loc->read_only || !v->owner || loc->bpath[0] == '\0')
        return false;
    if (partial_bpath(v, loc->bpath, ppath, size) < 0)
        return false;
    if (loc->ops->stat(loc->be, ppath, false, pst) < 0 || !S_ISREG(pst->mode))
        return false;
    if (expired(v, pst)) {
        if (loc->ops->unlink)
            loc->ops->unlink(loc->be, ppath);
        return false;
    }
    return true;
}

static int copy_mounts(struct vfs *v, const struct vfs_options *opts)
{
    if (opts->nmounts == 0)
        return 0;
    if (!opts->mounts || opts->nmounts > GW_MAX_MOUNTS)
        return GW_ERR_INVAL;
    v->mounts = calloc(opts->nmounts, sizeof *v->mounts);
    if (!v->mounts)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < opts->nmounts; i++) {
        const struct vfs_mount *m = &opts->mounts[i];
        if (!m->prefix || !m->ops || !gw_path_is_normal(m->prefix) || !m->prefix[1])
            return GW_ERR_INVAL;
        v->mounts[i] = *m;
        v->mounts[i].prefix = strdup(m->prefix);
        v->nmounts = i + 1;
        if (!v->mounts[i].prefix)
            return GW_ERR_NOMEM;
    }
    return 0;
}

int vfs_open(const struct vfs_options *opts, struct vfs **out)
{
    struct vfs *v = NULL;
    int rc;
    *out = NULL;
    if (!opts || !opts->root)
        return GW_ERR_INVAL;
    /* A writable view needs an owner for its partials. */
    if (!opts->read_only && (!opts->owner || !*opts->owner))
        return GW_ERR_INVAL;
    v = calloc(1, sizeof *v);
    if (!v)
        return GW_ERR_NOMEM;
    v->read_only = opts->read_only;
    v->ttl = opts->partial_ttl > 0 ? opts->partial_ttl : GW_DEFAULT_PARTIAL_TTL;
    if (opts->owner && !(v->owner = strdup(opts->owner))) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    rc = copy_mounts(v, opts);
    if (rc < 0)
        goto fail;
    v->root_ops = &vfs_local_ops;
    rc = vfs_local_new(opts->root, &v->root_be);
    if (rc < 0)
        goto fail;
    *out = v;
    return 0;
fail:
    vfs_free(v);
    return rc;
}

void vfs_free(struct vfs *v)
{
    if (!v)
        return;
    if (v->root_be)
        v->root_ops->free(v->root_be);
    for (size_t i = 0; i < v->nmounts; i++)
        free((char *)v->mounts[i].prefix);
    free(v->mounts);
    free(v->owner);
    free(v);
}

bool vfs_read_only(const struct vfs *v)
{
    return v->read_only;
}

void *vfs_root_backend(struct vfs *v)
{
    return v->root_be;
}

int vfs_stat(struct vfs *v, const char *path, unsigned flags, struct vfs_stat *st)
{
    struct vloc loc;
    char ppath[GW_MAX_PATH];
    struct vfs_stat pst, tst;
    int rc = locate(v, path, &loc);
    if (rc < 0)
        return rc;
    if (!loc.ops->stat)
        return GW_ERR_NOTSUP;
    if ((flags & VFS_SHADOW) && own_partial(v, &loc, ppath, sizeof ppath, &pst)) {
        /* A name that has become a directory is not shadowed by an old upload. */
        if (loc.ops->stat(loc.be, loc.bpath, true, &tst) == 0 && S_ISDIR(tst.mode)) {
            *st = tst;
            return 0;
        }
        *st = pst;
        st->partial = true;
        return 0;
    }
    rc = loc.ops->stat(loc.be, loc.bpath, !(flags & VFS_NOFOLLOW), st);
    if (rc == 0)
        st->partial = false;
    return rc;
}

static int file_new(struct vfs *v, const struct vloc *loc, bool writing, uint64_t offset,
                    struct vfs_file **out)
{
    struct vfs_file *f = calloc(1, sizeof *f);
    if (!f)
        return GW_ERR_NOMEM;
    f->v = v;
    f->ops = loc->ops;
    f->be = loc->be;
    f->writing = writing;
    f->pos = f->start = offset;
    if (offset == 0) {
        f->md = EVP_MD_CTX_new();
        if (!f->md || !EVP_DigestInit_ex(f->md, sha256_md(), NULL)) {
            EVP_MD_CTX_free(f->md);
            free(f);
            return GW_ERR_NOMEM;
        }
        f->hvalid = true;
    }
    *out = f;
    return 0;
}

static void hasher_end(struct vfs_file *f);

static void file_free(struct vfs_file *f)
{
    hasher_end(f);
    EVP_MD_CTX_free(f->md);
    free(f->bpath);
    free(f->ppath);
    free(f);
}

/* The SHA-256 of a file is remembered in an extended attribute of the file itself,
 * "HEX SIZE MTIME_SEC.MTIME_NSEC": valid only while size and mtime still match, so any
 * later change of the content (which moves the mtime) invalidates it without anyone
 * having to remember to. Written when an upload commits or a read handle saw the whole
 * file; read by every download, which then needs no hashing (sendfile stays zero-copy).
 * Backends without file descriptors (upstream FTP) have no cache. */
#define VFS_HASH_XATTR "user.ferry.sha256"

static bool hash_cache_get(struct vfs_file *f, const struct vfs_stat *st)
{
    char val[160], hex[65];
    unsigned long long size, sec, nsec;
    int fd = f->ops->fd ? f->ops->fd(f->fh) : -1;
    if (fd < 0)
        return false;
    ssize_t n = fgetxattr(fd, VFS_HASH_XATTR, val, sizeof val - 1);
    if (n <= 0)
        return false;
    val[n] = '\0';
    (void)hex;
    char *p = val, *end;
    unsigned char sum[32];
    for (int i = 0; i < 64; i++) {
        int c = (unsigned char)p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        if (i % 2 == 0) sum[i / 2] = (unsigned char)(d << 4); else sum[i / 2] |= (unsigned char)d;
    }
    p += 64;
    if (*p++ != ' ')
        return false;
    size = strtoull(p, &end, 10);
    if (end == p || *end != ' ')
        return false;
    p = end + 1;
    sec = strtoull(p, &end, 10);
    if (end == p || *end != '.')
        return false;
    p = end + 1;
    nsec = strtoull(p, &end, 10);
    if (end == p || size != st->size || (int64_t)sec != st->mtime || nsec != st->mtime_nsec)
        return false;
    memcpy(f->sum, sum, 32);
    f->cached = true;
    return true;
}

static void hash_cache_put(struct vfs_file *f, const unsigned char sum[32])
{
    struct vfs_stat st;
    char val[160];
    int fd = f->ops->fd ? f->ops->fd(f->fh) : -1;
    if (fd < 0 || !f->ops->fstat || f->ops->fstat(f->fh, &st) < 0)
        return;
    int n = 0;
    for (int i = 0; i < 32; i++)
        n += snprintf(val + n, sizeof val - (size_t)n, "%02x", sum[i]);
    snprintf(val + n, sizeof val - (size_t)n, " %llu %lld.%09u", (unsigned long long)st.size,
             (long long)st.mtime, st.mtime_nsec);
    /* Best effort: a file system without user xattrs just has no cache. */
    fsetxattr(fd, VFS_HASH_XATTR, val, strlen(val), 0);
}

int vfs_open_read(struct vfs *v, const char *path, uint64_t offset, struct vfs_file **out)
{
    struct vloc loc;
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    *out = NULL;
    int rc = locate(v, path, &loc);
    if (rc < 0)
        return rc;
    if (!loc.ops->open || !loc.ops->stat)
        return GW_ERR_NOTSUP;
    if (loc.ops->fd) {
        /* proto: local backend opens and checks the type itself */
        rc = file_new(v, &loc, false, offset, &f);
        if (rc < 0)
            return rc;
        rc = loc.ops->open(loc.be, loc.bpath, O_RDONLY, 0, offset, &f->fh);
        if (rc == 0)
            rc = loc.ops->open_stat ? loc.ops->open_stat(f->fh, &st) : loc.ops->fstat(f->fh, &st);
        if (rc == 0 && offset > st.size)
            rc = GW_ERR_RANGE;
        if (rc < 0) {
            if (f->fh) loc.ops->close(f->fh);
            f->fh = NULL;
            file_free(f);
            return rc;
        }
        goto opened;
    }
    rc = loc.ops->stat(loc.be, loc.bpath, true, &st);
    if (rc < 0)
        return rc;
    if (S_ISDIR(st.mode))
        return GW_ERR_ISDIR;
    if (!S_ISREG(st.mode))
        return GW_ERR_PERM;
    if (offset > st.size || offset > INT64_MAX)
        return GW_ERR_RANGE;
    rc = file_new(v, &loc, false, offset, &f);
    if (rc < 0)
        return rc;
    rc = loc.ops->open(loc.be, loc.bpath, O_RDONLY, 0, offset, &f->fh);
    if (rc < 0) {
        file_free(f);
        return rc;
    }
opened:
    st.partial = false;
    f->ost = st;
    f->ost_ok = true;
    if (hash_cache_get(f, &st)) {
        EVP_MD_CTX_free(f->md); /* known already: no need to hash what is sent */
        f->md = NULL;
        f->hvalid = false;
    }
    *out = f;
    return 0;
}

/* Opens the handle's backend file; for partial handles records both paths. */
static int open_write(struct vfs *v, const struct vloc *loc, const char *opath, bool partial,
                      int flags, uint32_t mode, uint64_t offset, const char *ppath,
                      struct vfs_file **out)
{
    struct vfs_file *f = NULL;
    int rc = file_new(v, loc, true, offset, &f);
    if (rc < 0)
        return rc;
    f->partial = partial;
    if (partial) {
        f->bpath = strdup(loc->bpath);
        f->ppath = strdup(ppath);
        if (!f->bpath || !f->ppath) {
            rc = GW_ERR_NOMEM;
            goto fail;
        }
    }
    rc = loc->ops->open(loc->be, opath, flags, mode, offset, &f->fh);
    if (rc < 0)
        goto fail;
    *out = f;
    return 0;
fail:
    file_free(f);
    return rc;
}

int vfs_open_write(struct vfs *v, const char *path, enum vfs_write_mode wmode, uint64_t offset,
                   uint32_t mode, struct vfs_file **out)
{
    struct vloc loc;
    struct vfs_stat pst, tst;
    char ppath[GW_MAX_PATH];
    const int newflags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW;
    *out = NULL;
    int rc = locate(v, path, &loc);
    if (rc < 0)
        return rc;
    if (wmode != VFS_WRITE_NEW && wmode != VFS_WRITE_RESUME && wmode != VFS_WRITE_APPEND &&
        wmode != VFS_WRITE_EXCL)
        return GW_ERR_INVAL;
    if (loc.read_only)
        return GW_ERR_ROFS;
    if (loc.bpath[0] == '\0')
        return GW_ERR_ISDIR;
    if (offset > INT64_MAX)
        return GW_ERR_RANGE;
    if (!loc.ops->open || !loc.ops->stat || !loc.ops->rename)
        return GW_ERR_NOTSUP;
    rc = partial_bpath(v, loc.bpath, ppath, sizeof ppath);
    if (rc < 0)
        return rc;
    bool have_p = own_partial(v, &loc, ppath, sizeof ppath, &pst);
    int trc = loc.ops->stat(loc.be, loc.bpath, true, &tst);
    bool have_t = trc == 0;
    if (have_t && S_ISDIR(tst.mode))
        return GW_ERR_ISDIR;

    switch (wmode) {
    case VFS_WRITE_EXCL:
        if (have_t || loc.ops->stat(loc.be, loc.bpath, false, &tst) == 0)
            return GW_ERR_EXIST;
        /* fallthrough */
    case VFS_WRITE_NEW:
        if (offset != 0)
            return GW_ERR_INVAL;
        rc = open_write(v, &loc, ppath, true, newflags, mode, 0, ppath, out);
        if (rc == 0)
            (*out)->excl = wmode == VFS_WRITE_EXCL;
        return rc;
    case VFS_WRITE_APPEND:
        offset = have_p ? pst.size : have_t ? tst.size : 0;
        /* fallthrough */
    case VFS_WRITE_RESUME:
        break;
    }
    if (have_p) {
        if (offset > pst.size)
            return GW_ERR_RANGE;
        return open_write(v, &loc, ppath, true, O_WRONLY | O_NOFOLLOW, mode, offset, ppath, out);
    }
    if (!have_t && trc != GW_ERR_NOENT)
        return trc; /* e.g. a symlink leading out of the root */
    if (have_t) {
        if (!S_ISREG(tst.mode))
            return GW_ERR_PERM;
        if (offset > tst.size)
            return GW_ERR_RANGE;
        /* In place, like every FTP and SFTP server: no partial, nothing to commit. */
        return open_write(v, &loc, loc.bpath, false, O_WRONLY, mode, offset, NULL, out);
    }
    if (offset != 0)
        return GW_ERR_RANGE;
    return open_write(v, &loc, ppath, true, newflags, mode, 0, ppath, out);
}

/* ---- hashing behind the transfer ----------------------------------------------------
 * The SHA-256 of a transfer is computed on the fly, but not in the transfer's way: once
 * a transfer passes VFS_HASH_ASYNC_MIN bytes, a helper thread takes over. Read handles
 * only tell it how far the file has been sent (sendfile(2) or reads), and it re-reads
 * that range from the page cache. So do new uploads, through a second, read-only
 * handle on their partial (what was just written is in the page cache too); other
 * write handles (in place, or backends without pread) queue a copy of each write in a
 * ring (a memcpy costs a fraction of a SHA-256 pass) and wait only when it is full.
 * The hash is waited for (hasher_drain) only when someone asks for it.
 *
 * Sharing: hs->done and hs->failed and the ring are guarded by hs->mu. The thread uses
 * f->md and f->fh only while done < queued; the session thread touches f->md only
 * after hasher_drain() (done == queued), so the digest is never used by both. */
struct hasher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* signalled on every change of queued, done, len or stop */
    struct vfs_file *f;
    bool copy;             /* bytes come through the ring, else are re-read from the file */
    void *rfh;             /* an upload's read handle on its partial, or NULL */
    int rfd;               /* the descriptor re-read (f's or rfh's); -1 with the ring */
    bool stop, failed;
    uint64_t queued, done; /* hashed up to done, asked for up to queued (== f->hpos) */
    unsigned char *buf;    /* the ring, or the read buffer */
    size_t head, len;      /* ring: first queued byte, bytes queued */
};

/* One step of the thread's work outside the lock: hash n bytes (ring) or re-read and
 * hash the file at off. Returns the bytes hashed, 0 on failure. */
static size_t hasher_work(struct hasher *hs, uint64_t off, size_t n)
{
    struct vfs_file *f = hs->f;
    if (hs->copy)
        return EVP_DigestUpdate(f->md, hs->buf + hs->head, n) ? n : 0;
    ssize_t r;
    do
        r = pread(hs->rfd, hs->buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || !EVP_DigestUpdate(f->md, hs->buf, (size_t)r))
        return 0;
    return (size_t)r;
}

static void *hasher_main(void *arg)
{
    struct hasher *hs = arg;
    /* Moving bytes comes first: when CPUs are scarce a re-reading hash yields to the
     * transfer and catches up after it (the audit record waits; the client need not,
     * see vfs_commit). Not with the ring: a starved thread would fill it and stall the
     * transfer. Linux nice values are per thread; lowering one's own priority needs no
     * privilege. */
    if (!hs->copy) {
        pid_t tid = gettid();
        errno = 0;
        int prio = getpriority(PRIO_PROCESS, (id_t)tid);
        if (errno == 0)
            (void)setpriority(PRIO_PROCESS, (id_t)tid,
                              prio + VFS_HASH_NICE > 19 ? 19 : prio + VFS_HASH_NICE);
    }
    pthread_mutex_lock(&hs->mu);
    for (;;) {
        while (!hs->stop && !hs->failed && hs->done == hs->queued)
            pthread_cond_wait(&hs->cv, &hs->mu);
        if (hs->stop || hs->failed)
            break;
        uint64_t left = hs->queued - hs->done;
        /* Ring: up to its end, then on from its start. */
        size_t max = hs->copy ? VFS_HASH_RING - hs->head : VFS_HASH_READ;
        size_t n = left < max ? (size_t)left : max;
        uint64_t off = hs->done;
        pthread_mutex_unlock(&hs->mu);
        size_t got = hasher_work(hs, off, n);
        pthread_mutex_lock(&hs->mu);
        if (got == 0) {
            hs->failed = true;
        } else {
            hs->done += got;
            if (hs->copy) {
                hs->head = (hs->head + got) % VFS_HASH_RING;
                hs->len -= got;
            }
        }
        pthread_cond_broadcast(&hs->cv);
    }
    pthread_mutex_unlock(&hs->mu);
    return NULL;
}

/* Starts the helper thread for f, whose digest already covers f->hpos bytes. False
 * (and f hashes inline) when a thread cannot be had. */
static bool hasher_start(struct vfs_file *f)
{
    struct hasher *hs = calloc(1, sizeof *hs);
    if (!hs)
        return false;
    hs->f = f;
    hs->copy = f->writing;
    hs->rfd = f->writing ? -1 : f->ops->fd(f->fh);
    /* A new upload's partial can be re-read (the vfs layer named it; O_NOFOLLOW as for
     * every partial): no copy on the transfer's path. */
    if (f->writing && f->partial && !f->committed &&
        f->ops->open(f->be, f->ppath, O_RDONLY | O_NOFOLLOW, 0, 0, &hs->rfh) == 0) {
        hs->rfd = f->ops->fd(hs->rfh);
        hs->copy = hs->rfd < 0;
    }
    hs->queued = hs->done = f->hpos;
    hs->buf = malloc(hs->copy ? VFS_HASH_RING : VFS_HASH_READ);
    if (!hs->buf)
        goto fail_buf;
    if (pthread_mutex_init(&hs->mu, NULL) != 0)
        goto fail_buf;
    if (pthread_cond_init(&hs->cv, NULL) != 0)
        goto fail_mu;
    if (pthread_create(&hs->th, NULL, hasher_main, hs) != 0)
        goto fail_cv;
    f->hs = hs;
    return true;
fail_cv:
    pthread_cond_destroy(&hs->cv);
fail_mu:
    pthread_mutex_destroy(&hs->mu);
fail_buf:
    if (hs->rfh)
        f->ops->close(hs->rfh);
    free(hs->buf);
    free(hs);
    return false;
}

/* Waits until everything queued is hashed; false when the thread failed (the hash is
 * then invalid). */
static bool hasher_drain(struct vfs_file *f)
{
    struct hasher *hs = f->hs;
    if (!hs)
        return true;
    pthread_mutex_lock(&hs->mu);
    while (!hs->failed && hs->done < hs->queued)
        pthread_cond_wait(&hs->cv, &hs->mu);
    bool ok = !hs->failed;
    pthread_mutex_unlock(&hs->mu);
    if (!ok)
        f->hvalid = false;
    return ok;
}

/* Stops the thread at once (whatever is queued is dropped) and frees it. */
static void hasher_end(struct vfs_file *f)
{
    struct hasher *hs = f->hs;
    if (!hs)
        return;
    pthread_mutex_lock(&hs->mu);
    hs->stop = true;
    pthread_cond_broadcast(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
    pthread_join(hs->th, NULL);
    pthread_cond_destroy(&hs->cv);
    pthread_mutex_destroy(&hs->mu);
    if (hs->rfh)
        f->ops->close(hs->rfh);
    free(hs->buf);
    free(hs);
    f->hs = NULL;
}

/* Queues n bytes at the end of the hashed prefix: a range to re-read (p == NULL) or a
 * copy of p. False when the thread has failed. */
static bool hasher_queue(struct vfs_file *f, const unsigned char *p, uint64_t n)
{
    struct hasher *hs = f->hs;
    bool ok = true;
    pthread_mutex_lock(&hs->mu);
    while (n > 0 && !hs->failed) {
        if (!hs->copy) {
            hs->queued += n;
            n = 0;
            break;
        }
        while (!hs->failed && hs->len == VFS_HASH_RING)
            pthread_cond_wait(&hs->cv, &hs->mu); /* the ring is full: wait for the hash */
        size_t tail = (hs->head + hs->len) % VFS_HASH_RING;
        /* Free space from tail on: up to the ring's end, or up to head once wrapped. */
        size_t k = tail >= hs->head ? VFS_HASH_RING - tail : hs->head - tail;
        if (k > n)
            k = (size_t)n;
        if (hs->failed || k == 0)
            continue;
        memcpy(hs->buf + tail, p, k);
        hs->len += k;
        hs->queued += k;
        p += k;
        n -= k;
        pthread_cond_broadcast(&hs->cv);
    }
    if (!hs->copy)
        pthread_cond_broadcast(&hs->cv);
    ok = !hs->failed;
    pthread_mutex_unlock(&hs->mu);
    if (!ok)
        f->hvalid = false;
    return ok;
}

/* Whether the bytes now extending the hashed prefix to end should go to a helper
 * thread (started here when worth it). */
static bool hash_async(struct vfs_file *f, uint64_t end)
{
    if (f->hs)
        return true;
    /* Only local files: the thread re-reads them with pread(2) on a descriptor, which
     * is safe beside the session's own use of it. A mount's file is a stream upstream
     * (its pread restarts a download) and is hashed inline. */
    if (end < VFS_HASH_ASYNC_MIN || f->ops != &vfs_local_ops)
        return false;
    if (!f->writing && f->ops->fd(f->fh) < 0)
        return false;
    return hasher_start(f);
}

/* Feeds n bytes at off into the running hash. The hash stays valid only while it covers
 * an unbroken prefix of the file: bytes at exactly hpos extend it; re-reading hashed
 * bytes is harmless; anything else (a gap, a rewrite) ends it. */
static void hash_feed(struct vfs_file *f, uint64_t off, const void *p, size_t n)
{
    if (!f->md || !f->hvalid || n == 0)
        return;
    if (off == f->hpos) {
        /* Read handles hand the thread only the range: it re-reads the page cache. */
        if (hash_async(f, f->hpos + n)) {
            if (hasher_queue(f, f->hs->copy ? p : NULL, n))
                f->hpos += n;
        } else if (EVP_DigestUpdate(f->md, p, n)) {
            f->hpos += n;
        } else {
            f->hvalid = false;
        }
        return;
    }
    if (!f->writing && off < f->hpos && n <= f->hpos - off)
        return;
    f->hvalid = false;
}

ssize_t vfs_read(struct vfs_file *f, void *buf, size_t n)
{
    ssize_t r;
    if (f->writing)
        return GW_ERR_INVAL;
    if (n > GW_IO_CHUNK * 64)
        n = GW_IO_CHUNK * 64;
    if (f->ops->pread)
        r = f->ops->pread(f->fh, buf, n, f->pos);
    else if (f->ops->read)
        r = f->ops->read(f->fh, buf, n);
    else
        return GW_ERR_NOTSUP;
    if (r > 0) {
        hash_feed(f, f->pos, buf, (size_t)r);
        f->pos += (uint64_t)r;
        f->bytes += (uint64_t)r;
    }
    return r;
}

/* Writes all n bytes at off (sequential backends: at their own position). */
static ssize_t write_all(struct vfs_file *f, const void *buf, size_t n, uint64_t off, bool seq)
{
    const unsigned char *p = buf;
    size_t done = 0;
    if (!f->writing || f->committed)
        return GW_ERR_INVAL;
    if (n > INT64_MAX - off || n > SSIZE_MAX)
        return GW_ERR_RANGE;
    while (done < n) {
        ssize_t r;
        if (f->ops->pwrite)
            r = f->ops->pwrite(f->fh, p + done, n - done, off + done);
        else if (seq && f->ops->write)
            r = f->ops->write(f->fh, p + done, n - done);
        else
            return GW_ERR_NOTSUP;
        if (r <= 0) {
            hash_feed(f, off, p, done);
            f->bytes += done;
            return r < 0 ? r : GW_ERR_IO;
        }
        done += (size_t)r;
    }
    hash_feed(f, off, p, n);
    f->bytes += n;
    return (ssize_t)n;
}

ssize_t vfs_write(struct vfs_file *f, const void *buf, size_t n)
{
    ssize_t r = write_all(f, buf, n, f->pos, true);
    if (r > 0)
        f->pos += (uint64_t)r;
    return r;
}

ssize_t vfs_pread(struct vfs_file *f, void *buf, size_t n, uint64_t off)
{
    if (f->writing)
        return GW_ERR_INVAL;
    if (!f->ops->pread)
        return GW_ERR_NOTSUP;
    if (off > INT64_MAX)
        return GW_ERR_RANGE;
    ssize_t r = f->ops->pread(f->fh, buf, n, off);
    if (r > 0) {
        hash_feed(f, off, buf, (size_t)r);
        f->bytes += (uint64_t)r;
    }
    return r;
}

ssize_t vfs_pwrite(struct vfs_file *f, const void *buf, size_t n, uint64_t off)
{
    if (f->writing && !f->ops->pwrite)
        return GW_ERR_NOTSUP;
    return write_all(f, buf, n, off, false);
}

uint64_t vfs_tell(const struct vfs_file *f)
{
    return f->pos;
}

int vfs_fstat(struct vfs_file *f, struct vfs_stat *st)
{
    if (f->fh_closed)
        return GW_ERR_INVAL;
    if (!f->ops->fstat)
        return GW_ERR_NOTSUP;
    int rc = f->ops->fstat(f->fh, st);
    if (rc == 0)
        st->partial = f->partial;
    return rc;
}

int vfs_open_stat(struct vfs_file *f, struct vfs_stat *st)
{
    if (!f->ost_ok)
        return vfs_fstat(f, st);
    *st = f->ost;
    return 0;
}

int vfs_fsync(struct vfs_file *f)
{
    if (f->fh_closed)
        return GW_ERR_INVAL;
    return f->ops->fsync ? f->ops->fsync(f->fh) : GW_ERR_NOTSUP;
}

int vfs_ftruncate(struct vfs_file *f, uint64_t size)
{
    if (!f->writing || f->committed)
        return GW_ERR_INVAL;
    if (!f->ops->ftruncate)
        return GW_ERR_NOTSUP;
    if (size > INT64_MAX)
        return GW_ERR_RANGE;
    int rc = f->ops->ftruncate(f->fh, size);
    if (rc == 0 && size < f->hpos)
        f->hvalid = false;
    return rc;
}

int vfs_fd(const struct vfs_file *f)
{
    if (f->fh_closed)
        return -1;
    return f->ops->fd ? f->ops->fd(f->fh) : -1;
}

void vfs_advance(struct vfs_file *f, uint64_t n)
{
    /* Bytes sent by sendfile(2) from a read handle are read back for the hash (from the
     * page cache), so Repr-Digest and the audit sha256 survive zero-copy sends: by the
     * helper thread once the transfer is large enough, so that the send never waits. */
    if (f->md && f->hvalid && !f->writing && f->pos == f->hpos && f->ops->pread &&
        n <= INT64_MAX - f->hpos && hash_async(f, f->hpos + n)) {
        if (hasher_queue(f, NULL, n))
            f->hpos += n;
    } else if (f->md && f->hvalid && !f->writing && f->pos == f->hpos && f->ops->pread) {
        unsigned char *buf = malloc(VFS_HASH_CHUNK);
        uint64_t left = n;
        while (buf && left > 0 && f->hvalid) {
            size_t want = left < VFS_HASH_CHUNK ? (size_t)left : VFS_HASH_CHUNK;
            ssize_t r = f->ops->pread(f->fh, buf, want, f->hpos);
            if (r <= 0)
                break;
            hash_feed(f, f->hpos, buf, (size_t)r);
            left -= (uint64_t)r;
        }
        if (!buf || left > 0)
            f->hvalid = false;
        free(buf);
    } else if (f->md && f->hvalid && (f->writing || f->pos + n > f->hpos)) {
        f->hvalid = false;
    }
    f->pos += n;
    f->bytes += n;
}

bool vfs_hash_ready(const struct vfs_file *f)
{
    struct hasher *hs = f->hs;
    if (!hs)
        return true;
    pthread_mutex_lock(&hs->mu);
    bool ready = hs->failed || hs->done == hs->queued;
    pthread_mutex_unlock(&hs->mu);
    return ready;
}

void vfs_hash_off(struct vfs_file *f)
{
    hasher_end(f);
    EVP_MD_CTX_free(f->md);
    f->md = NULL;
    f->hvalid = false;
}

bool vfs_sha256(const struct vfs_file *f, unsigned char out[32])
{
    struct vfs_stat st;
    bool ok = false;
    if (f->cached) {
        memcpy(out, f->sum, 32);
        return true;
    }
    if (f->fh_closed || !f->md || !f->hvalid || !f->ops->fstat || f->ops->fstat(f->fh, &st) < 0 ||
        st.size != f->hpos)
        return false;
    /* Waiting for the helper thread changes no state a caller can see: the handle is
     * logically unchanged, hence the const in the interface. */
    if (!hasher_drain((struct vfs_file *)f))
        return false;
    /* Once committed the file is anyone's: if it changed while the hash was catching
     * up, what the hash re-read may not be what was uploaded. No hash beats a wrong one
     * (it would also go into the cache attribute). */
    if (f->cst_ok && (f->ops->fstat(f->fh, &st) < 0 || st.size != f->cst.size ||
                      st.mtime != f->cst.mtime || st.mtime_nsec != f->cst.mtime_nsec))
        return false;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (c && EVP_MD_CTX_copy_ex(c, f->md) && EVP_DigestFinal_ex(c, out, &len) && len == 32)
        ok = true;
    EVP_MD_CTX_free(c);
    return ok;
}

uint64_t vfs_bytes(const struct vfs_file *f)
{
    return f->bytes;
}

uint64_t vfs_start_offset(const struct vfs_file *f)
{
    return f->start;
}

/* The backend directory of a backend path ("" for the root). */
static char *bdir_of(const char *bpath)
{
    const char *base = gw_path_base(bpath);
    return strndup(bpath, base > bpath ? (size_t)(base - bpath - 1) : 0);
}

/* The commit: the partial becomes the file in one rename, so a reader sees the old file
 * or the new one, never a mixture. A failed commit keeps the partial. */
static int commit(struct vfs_file *f)
{
    int rc = f->ops->fsync ? f->ops->fsync(f->fh) : 0;
    if (rc == 0 && f->ops != &vfs_local_ops) {
        /* A mount's upload reaches the upstream server only when its handle closes:
         * close it first, keeping the hash (computed inline for mounts) for later. */
        unsigned char sum[32];
        if (vfs_sha256(f, sum)) {
            memcpy(f->sum, sum, 32);
            f->cached = true;
        }
        rc = f->ops->close(f->fh);
        f->fh_closed = true;
    }
    if (rc == 0)
        rc = f->ops->rename(f->be, f->ppath, f->bpath, !f->excl);
    if (rc == 0 && f->ops->fsync_dir) {
        char *dir = bdir_of(f->bpath);
        rc = dir ? f->ops->fsync_dir(f->be, dir) : GW_ERR_NOMEM;
        free(dir);
    }
    if (rc == 0) {
        f->committed = true;
        f->cst_ok = !f->fh_closed && f->ops->fstat && f->ops->fstat(f->fh, &f->cst) == 0;
    }
    return rc;
}

int vfs_commit(struct vfs_file *f)
{
    if (!f->writing)
        return GW_ERR_INVAL;
    if (!f->partial || f->committed)
        return 0;
    return commit(f);
}

int vfs_close(struct vfs_file *f, bool complete)
{
    int rc = 0, crc;
    if (!f)
        return 0;
    if (f->partial && complete && !f->committed)
        rc = commit(f);
    /* Remember the hash of a file that passed through whole: a committed upload, or a
     * read to the end (the attribute is only a cache; failure to write it is harmless). */
    unsigned char sum[32];
    if (rc == 0 && !f->cached && (!f->writing || f->committed) && vfs_sha256(f, sum))
        hash_cache_put(f, sum);
    hasher_end(f); /* its read handle goes before the file's */
    if (!f->fh_closed) {
        crc = f->ops->close(f->fh);
        if (rc == 0)
            rc = crc;
    }
    file_free(f);
    return rc;
}

static int mount_child(const struct vfs *v, const char *vdir, size_t i, const char **name)
{
    char parent[GW_MAX_PATH];
    if (gw_path_dir(v->mounts[i].prefix, parent, sizeof parent) < 0 || strcmp(parent, vdir))
        return 0;
    *name = gw_path_base(v->mounts[i].prefix);
    return 1;
}

int vfs_opendir(struct vfs *v, const char *path, struct vfs_dir **out)
{
    struct vfs_dir *d = NULL;
    *out = NULL;
    int rc;
    d = calloc(1, sizeof *d);
    if (!d)
        return GW_ERR_NOMEM;
    rc = locate(v, path, &d->loc);
    if (rc < 0)
        goto fail;
    if (!d->loc.ops->opendir || !d->loc.ops->readdir) {
        rc = GW_ERR_NOTSUP;
        goto fail;
    }
    d->v = v;
    d->vpath = strdup(path);
    d->bpath = strdup(d->loc.bpath);
    if (!d->vpath || !d->bpath) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    d->loc.bpath = d->bpath;
    for (size_t i = 0; i < v->nmounts; i++) {
        const char *name;
        if (mount_child(v, path, i, &name))
            d->has_mounts = true;
    }
    rc = d->loc.ops->opendir(d->loc.be, d->bpath, &d->dh);
    if (rc < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    free(d->vpath);
    free(d->bpath);
    free(d);
    return rc;
}

static bool shadowed_by_mount(const struct vfs_dir *d, const char *name)
{
    for (size_t i = 0; d->has_mounts && i < d->v->nmounts; i++) {
        const char *mname;
        if (mount_child(d->v, d->vpath, i, &mname) && strcmp(mname, name) == 0)
            return true;
    }
    return false;
}

/* Removes the partial name in directory d when it is expired (or always, when all). */
static void drop_partial(const struct vloc *loc, const char *bdir, const char *name,
                         const struct vfs_stat *st, const struct vfs *v, bool all)
{
    if (loc->read_only || !loc->ops->unlink || !S_ISREG(st->mode) || (!all && !expired(v, st)))
        return;
    size_t dl = strlen(bdir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    if (!p)
        return;
    if (dl) {
        memcpy(p, bdir, dl);
        p[dl++] = '/';
    }
    memcpy(p + dl, name, nl + 1);
    loc->ops->unlink(loc->be, p);
    free(p);
}

int vfs_readdir(struct vfs_dir *d, struct vfs_dirent *ent)
{
    const char *name;
    struct vfs_stat st;
    for (;;) {
        if (!d->dh)
            break;
        int r = d->loc.ops->readdir(d->dh, &name, &st);
        if (r < 0)
            return r;
        if (r == 0) {
            d->loc.ops->closedir(d->dh);
            d->dh = NULL;
            break;
        }
        if (is_partial_name(name)) {
            drop_partial(&d->loc, d->bpath, name, &st, d->v, false);
            continue;
        }
        if (shadowed_by_mount(d, name))
            continue;
        st.partial = false;
        ent->name = name;
        ent->st = st;
        return 1;
    }
    /* Mount points directly in this directory appear as directories. */
    while (d->has_mounts && d->mnext < d->v->nmounts) {
        size_t i = d->mnext++;
        const struct vfs_mount *m = &d->v->mounts[i];
        if (!mount_child(d->v, d->vpath, i, &name))
            continue;
        memset(&ent->st, 0, sizeof ent->st);
        if (!m->ops->stat || m->ops->stat(m->backend, "", true, &ent->st) < 0)
            ent->st.mode = S_IFDIR | 0755;
        ent->st.partial = false;
        ent->name = name;
        return 1;
    }
    return 0;
}

void vfs_closedir(struct vfs_dir *d)
{
    if (!d)
        return;
    if (d->dh)
        d->loc.ops->closedir(d->dh);
    free(d->vpath);
    free(d->bpath);
    free(d);
}

/* Locates path for a modifying operation. */
static int locate_w(struct vfs *v, const char *path, struct vloc *loc)
{
    int rc = locate(v, path, loc);
    if (rc == 0 && loc->read_only)
        rc = GW_ERR_ROFS;
    return rc;
}

int vfs_mkdir(struct vfs *v, const char *path, uint32_t mode)
{
    struct vloc loc;
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    if (loc.bpath[0] == '\0')
        return GW_ERR_EXIST;
    return loc.ops->mkdir ? loc.ops->mkdir(loc.be, loc.bpath, mode) : GW_ERR_NOTSUP;
}

/* True when the backend directory bdir holds nothing but partials. */
static bool only_partials(const struct vloc *loc, const char *bdir)
{
    void *dh = NULL;
    const char *name;
    struct vfs_stat st;
    int r;
    if (loc->ops->opendir(loc->be, bdir, &dh) < 0)
        return false;
    while ((r = loc->ops->readdir(dh, &name, &st)) > 0 && is_partial_name(name))
        ;
    loc->ops->closedir(dh);
    return r == 0;
}

/* Removes every partial in the backend directory bdir (expired ones only unless all). */
static int purge_dir(struct vfs *v, const struct vloc *loc, const char *bdir, bool all,
                     bool recursive, int depth, size_t *removed)
{
    void *dh = NULL;
    const char *name;
    struct vfs_stat st;
    int rc, r;
    if (depth > GW_MAX_DEPTH)
        return GW_ERR_TOOLONG;
    rc = loc->ops->opendir(loc->be, bdir, &dh);
    if (rc < 0)
        return rc;
    while ((r = loc->ops->readdir(dh, &name, &st)) > 0) {
        if (is_partial_name(name)) {
            if (S_ISREG(st.mode) && (all || expired(v, &st))) {
                drop_partial(loc, bdir, name, &st, v, true);
                if (removed)
                    (*removed)++;
            }
            continue;
        }
        if (!recursive || !S_ISDIR(st.mode))
            continue;
        size_t dl = strlen(bdir), nl = strlen(name);
        char *sub = malloc(dl + nl + 2);
        if (!sub) {
            rc = GW_ERR_NOMEM;
            break;
        }
        if (dl) {
            memcpy(sub, bdir, dl);
            sub[dl++] = '/';
        }
        memcpy(sub + dl, name, nl + 1);
        /* A subdirectory that vanished or cannot be read does not stop the sweep. */
        purge_dir(v, loc, sub, all, true, depth + 1, removed);
        free(sub);
    }
    if (r < 0 && rc == 0)
        rc = r;
    loc->ops->closedir(dh);
    return rc;
}

int vfs_purge_partials(struct vfs *v, const char *path, bool recursive, size_t *removed)
{
    struct vloc loc;
    if (removed)
        *removed = 0;
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    if (!loc.ops->opendir || !loc.ops->readdir || !loc.ops->unlink)
        return GW_ERR_NOTSUP;
    return purge_dir(v, &loc, loc.bpath, false, recursive, 0, removed);
}

int vfs_rmdir(struct vfs *v, const char *path)
{
    struct vloc loc;
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    if (loc.bpath[0] == '\0')
        return GW_ERR_BUSY;
    if (!loc.ops->rmdir)
        return GW_ERR_NOTSUP;
    rc = loc.ops->rmdir(loc.be, loc.bpath);
    if (rc == GW_ERR_NOTEMPTY && loc.ops->opendir && loc.ops->unlink) {
        /* A directory that lists as empty can be removed: its hidden partials go with
         * it (an upload still running there then fails at its commit, exactly as if the
         * directory had been removed just before it started). */
        if (only_partials(&loc, loc.bpath) &&
            purge_dir(v, &loc, loc.bpath, true, false, 0, NULL) == 0)
            rc = loc.ops->rmdir(loc.be, loc.bpath);
    }
    return rc;
}

int vfs_unlink(struct vfs *v, const char *path)
{
    struct vloc loc;
    struct vfs_stat pst;
    char ppath[GW_MAX_PATH];
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    if (loc.bpath[0] == '\0')
        return GW_ERR_BUSY;
    if (!loc.ops->unlink)
        return GW_ERR_NOTSUP;
    rc = loc.ops->unlink(loc.be, loc.bpath);
    /* Deleting what the owner sees includes the pending upload that shadows it, so a
     * later SIZE does not report a file that was just deleted. */
    if ((rc == 0 || rc == GW_ERR_NOENT) && own_partial(v, &loc, ppath, sizeof ppath, &pst) &&
        loc.ops->unlink(loc.be, ppath) == 0)
        rc = 0;
    return rc;
}

int vfs_discard_partial(struct vfs *v, const char *path)
{
    struct vloc loc;
    struct vfs_stat pst;
    char ppath[GW_MAX_PATH];
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    if (!loc.ops->unlink)
        return GW_ERR_NOTSUP;
    if (!own_partial(v, &loc, ppath, sizeof ppath, &pst))
        return GW_ERR_NOENT;
    return loc.ops->unlink(loc.be, ppath);
}

/* Locates the two paths of a rename or link. Neither may be "/" or a mount point
 * (from_err, to_err), and both must lie in one backend. */
static int locate_pair(struct vfs *v, const char *a, const char *b, struct vloc *la,
                       struct vloc *lb, int from_err, int to_err)
{
    int rc = locate_w(v, a, la);
    if (rc == 0)
        rc = locate_w(v, b, lb);
    if (rc == 0 && la->bpath[0] == '\0')
        rc = from_err;
    if (rc == 0 && lb->bpath[0] == '\0')
        rc = to_err;
    if (rc == 0 && (la->ops != lb->ops || la->be != lb->be))
        rc = GW_ERR_NOTSUP;
    return rc;
}

int vfs_rename(struct vfs *v, const char *from, const char *to, bool overwrite)
{
    struct vloc lf, lt;
    int rc = locate_pair(v, from, to, &lf, &lt, GW_ERR_BUSY, GW_ERR_BUSY);
    if (rc < 0)
        return rc;
    if (!lf.ops->rename)
        return GW_ERR_NOTSUP;
    return lf.ops->rename(lf.be, lf.bpath, lt.bpath, overwrite);
}

int vfs_set_mtime(struct vfs *v, const char *path, int64_t mtime)
{
    struct vloc loc;
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    return loc.ops->set_mtime ? loc.ops->set_mtime(loc.be, loc.bpath, mtime) : GW_ERR_NOTSUP;
}

int vfs_chmod(struct vfs *v, const char *path, uint32_t mode)
{
    struct vloc loc;
    int rc = locate_w(v, path, &loc);
    if (rc < 0)
        return rc;
    return loc.ops->chmod ? loc.ops->chmod(loc.be, loc.bpath, mode) : GW_ERR_NOTSUP;
}

int vfs_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *out)
{
    struct vloc loc;
    int rc = locate(v, path, &loc);
    if (rc < 0)
        return rc;
    if (!loc.ops->statvfs)
        return GW_ERR_NOTSUP;
    rc = loc.ops->statvfs(loc.be, loc.bpath, out);
    if (rc == 0 && loc.read_only)
        out->read_only = true;
    return rc;
}

int vfs_readlink(struct vfs *v, const char *path, char *buf, size_t size)
{
    struct vloc loc;
    int rc = locate(v, path, &loc);
    if (rc < 0)
        return rc;
    if (loc.bpath[0] == '\0')
        return GW_ERR_INVAL;
    return loc.ops->readlink ? loc.ops->readlink(loc.be, loc.bpath, buf, size) : GW_ERR_NOTSUP;
}

int vfs_symlink(struct vfs *v, const char *target, const char *linkpath)
{
    struct vloc ll, lt;
    char dir[GW_MAX_PATH], vt[GW_MAX_PATH];
    int rc = locate_w(v, linkpath, &ll);
    if (rc < 0)
        return rc;
    if (!target || !*target)
        return GW_ERR_INVAL;
    if (ll.bpath[0] == '\0')
        return GW_ERR_EXIST;
    /* The target is resolved like any client path, from the link's directory: it can
     * neither climb above the root nor name a partial. */
    rc = gw_path_dir(linkpath, dir, sizeof dir);
    if (rc == 0)
        rc = gw_path_resolve(dir, target, strlen(target), vt, sizeof vt);
    if (rc == 0)
        rc = locate(v, vt, &lt);
    if (rc < 0)
        return rc;
    if (lt.ops != ll.ops || lt.be != ll.be)
        return GW_ERR_ESCAPE;
    return ll.ops->symlink ? ll.ops->symlink(ll.be, lt.bpath, ll.bpath) : GW_ERR_NOTSUP;
}

int vfs_link(struct vfs *v, const char *from, const char *to)
{
    struct vloc lf, lt;
    int rc = locate_pair(v, from, to, &lf, &lt, GW_ERR_PERM, GW_ERR_EXIST);
    if (rc < 0)
        return rc;
    return lf.ops->link ? lf.ops->link(lf.be, lf.bpath, lt.bpath) : GW_ERR_NOTSUP;
}
