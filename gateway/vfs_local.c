/* The local backend of the virtual file system: a host directory tree, every operation
 * confined below one root directory fd.
 *
 * Confinement: a path is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * relative to the root fd, so the kernel refuses "..", absolute symlinks and symlinks
 * leading out (EXDEV/ELOOP -> GW_ERR_ESCAPE). Where openat2 is missing (or forced off
 * for tests) the same rules are applied by walk(): one openat(O_NOFOLLOW) per component
 * from the root fd, expanding each symlink ourselves against a stack of directory fds,
 * refusing absolute targets and ".." above the root. Either way the result is an fd, and
 * everything afterwards works on fds: operations on a final component (lstat, unlink,
 * rename, mkdir, symlink, link, readlink) take the resolved parent fd plus the name, so
 * a final symlink is never followed where it must not be, and a directory swapped for a
 * symlink after resolution changes nothing (the fd still names the original directory).
 *
 * Paths here are backend paths: relative to the root, normalised, "" for the root. */
#include "gateway/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"

#define LB_MAX_SYMLINKS 40     /* like the kernel's MAXSYMLINKS */
#define LB_MAX_WALK_DEPTH 1024 /* real directory nesting reachable through symlinks */
#define LB_MAX_WALK_PATH 65536 /* path text after expanding symlinks */
#define LB_OPENAT2_RETRIES 32  /* RESOLVE_BENEATH returns EAGAIN on a concurrent rename */
#define LB_WRITEBACK_WINDOW (8u * 1024 * 1024) /* see lb_pwrite */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

struct local_be {
    int rootfd;
    char *root_real; /* realpath of the root: locates a link's directory for vfs_symlink */
    bool no_openat2; /* the kernel lacks it */
    bool forced;     /* vfs_local_force_fallback */
    void (*hook)(void *arg, const char *stage);
    void *hook_arg;
};

struct local_fh {
    int fd;
    uint64_t wb;         /* writes up to here have been handed to writeback (see lb_pwrite) */
    struct vfs_stat ost; /* as lb_open found the file */
};

struct local_dh {
    DIR *dir;
};

static int lb_err(int e)
{
    if (e == ENXIO) /* a FIFO without a reader */
        return GW_ERR_PERM;
    return gw_err_from_errno(e);
}

static void lb_hook(struct local_be *b, const char *stage)
{
    if (b->hook)
        b->hook(b->hook_arg, stage);
}

/* Backend paths come from the vfs layer already normalised; refusing ".." and a leading
 * slash here again keeps the backend safe on its own. */
static bool rel_ok(const char *path)
{
    if (!path || path[0] == '/')
        return false;
    for (const char *p = path; *p;) {
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - c);
        if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (*p == '/')
            p++;
    }
    return true;
}

/* Replaces *rest (at offset pos) by target + "/" + the remainder. */
static int splice_link(char **rest, size_t *pos, const char *target)
{
    const char *tail = *rest + *pos;
    size_t tl = strlen(target), rl = strlen(tail);
    if (tl > LB_MAX_WALK_PATH || rl > LB_MAX_WALK_PATH - tl)
        return GW_ERR_TOOLONG;
    char *s = malloc(tl + rl + 2);
    if (!s)
        return GW_ERR_NOMEM;
    memcpy(s, target, tl);
    s[tl] = '/';
    memcpy(s + tl + 1, tail, rl + 1);
    free(*rest);
    *rest = s;
    *pos = 0;
    return 0;
}

/* Reads the symlink (fd, name) into buf for the walk: absolute targets escape. */
static int walk_readlink(int fd, const char *name, char *buf, size_t size)
{
    ssize_t n = readlinkat(fd, name, buf, size - 1);
    if (n < 0)
        return lb_err(errno);
    if ((size_t)n >= size - 1)
        return GW_ERR_TOOLONG;
    buf[n] = '\0';
    if (n == 0)
        return GW_ERR_NOENT;
    if (buf[0] == '/')
        return GW_ERR_ESCAPE;
    return 0;
}

/* The fallback resolver: opens path below the root with flags (O_NOFOLLOW in flags:
 * a final symlink is opened or refused as openat would; otherwise it is expanded).
 * Every step is an openat(O_NOFOLLOW) on a directory fd we hold, so no step can be
 * redirected outside the root by a concurrent change. */
static int walk(struct local_be *b, const char *path, int flags, mode_t mode, int *out)
{
    bool follow = !(flags & O_NOFOLLOW);
    int *stack = NULL;
    char *rest = NULL;
    char *tbuf = NULL;
    size_t depth = 0, pos = 0;
    int links = 0, rc = 0, fd = -1;

    stack = malloc(sizeof *stack * (LB_MAX_WALK_DEPTH + 1));
    rest = strdup(path);
    tbuf = malloc(PATH_MAX);
    if (!stack || !rest || !tbuf) {
        rc = GW_ERR_NOMEM;
        goto out_free;
    }
    stack[0] = b->rootfd;
    for (;;) {
        while (rest[pos] == '/')
            pos++;
        if (rest[pos] == '\0') {
            /* The path ended on a directory we hold (the root, or via "." / ".."). */
            fd = openat(stack[depth], ".",
                        (flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC);
            if (fd < 0)
                rc = lb_err(errno);
            goto out_free;
        }
        const char *c = rest + pos;
        size_t n = strcspn(c, "/");
        pos += n;
        size_t after = pos;
        while (rest[after] == '/')
            after++;
        bool last = rest[after] == '\0';
        if (n == 1 && c[0] == '.')
            continue;
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            if (depth == 0) {
                rc = GW_ERR_ESCAPE;
                goto out_free;
            }
            close(stack[depth--]);
            continue;
        }
        if (n > GW_MAX_NAME) {
            rc = GW_ERR_TOOLONG;
            goto out_free;
        }
        char name[GW_MAX_NAME + 1];
        memcpy(name, c, n);
        name[n] = '\0';

        if (!last) {
            int d = openat(stack[depth], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            if (d < 0 || fstat(d, &st) < 0) {
                rc = lb_err(errno);
                if (d >= 0)
                    close(d);
                goto out_free;
            }
            if (S_ISLNK(st.st_mode)) {
                rc = walk_readlink(d, "", tbuf, PATH_MAX);
                close(d);
                if (rc == 0 && ++links > LB_MAX_SYMLINKS)
                    rc = GW_ERR_ESCAPE;
                if (rc == 0)
                    rc = splice_link(&rest, &pos, tbuf);
                if (rc < 0)
                    goto out_free;
                continue;
            }
            if (!S_ISDIR(st.st_mode)) {
                close(d);
                rc = GW_ERR_NOTDIR;
                goto out_free;
            }
            if (depth >= LB_MAX_WALK_DEPTH) {
                close(d);
                rc = GW_ERR_TOOLONG;
                goto out_free;
            }
            stack[++depth] = d;
            lb_hook(b, "walk");
            continue;
        }

        fd = openat(stack[depth], name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int e = errno;
        if (fd >= 0 && follow && (flags & O_PATH)) {
            struct stat st;
            if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                rc = walk_readlink(fd, "", tbuf, PATH_MAX);
                close(fd);
                fd = -1;
                goto expand;
            }
        }
        if (fd >= 0)
            goto out_free;
        if (!follow || (e != ELOOP && e != ENOTDIR)) {
            rc = lb_err(e);
            goto out_free;
        }
        /* O_NOFOLLOW refused a symlink (ELOOP, or ENOTDIR with O_DIRECTORY): expand it.
         * Not a symlink after all: report the original error. */
        rc = walk_readlink(stack[depth], name, tbuf, PATH_MAX);
        if (rc == GW_ERR_INVAL) {
            rc = lb_err(e);
            goto out_free;
        }
    expand:
        if (rc == 0 && ++links > LB_MAX_SYMLINKS)
            rc = GW_ERR_ESCAPE;
        if (rc == 0)
            rc = splice_link(&rest, &pos, tbuf);
        if (rc < 0)
            goto out_free;
    }
out_free:
    while (stack && depth > 0)
        close(stack[depth--]);
    free(stack);
    free(rest);
    free(tbuf);
    if (rc == 0)
        *out = fd;
    return rc;
}

static bool use_walk(const struct local_be *b)
{
    return b->forced || b->no_openat2;
}

/* Opens path (backend-relative) confined below the root. */
static int resolve_open(struct local_be *b, const char *path, int flags, mode_t mode, int *out)
{
    *out = -1;
    if (!rel_ok(path))
        return GW_ERR_INVAL;
    if (use_walk(b))
        return walk(b, path, flags, mode, out);
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int i = 0; i < LB_OPENAT2_RETRIES; i++) {
        long fd = syscall(SYS_openat2, b->rootfd, path[0] ? path : ".", &how, sizeof how);
        if (fd >= 0) {
            *out = (int)fd;
            return 0;
        }
        if (errno == ENOSYS) {
            b->no_openat2 = true;
            return walk(b, path, flags, mode, out);
        }
        if (errno != EAGAIN && errno != EINTR)
            return lb_err(errno);
    }
    return GW_ERR_AGAIN;
}

/* Resolves the parent directory of path (not the root) and points *name at the last
 * component. The caller closes *dfd. */
static int open_parent(struct local_be *b, const char *path, int *dfd, const char **name)
{
    *dfd = -1;
    if (!rel_ok(path) || path[0] == '\0')
        return GW_ERR_INVAL;
    const char *slash = strrchr(path, '/');
    int rc;
    if (!slash) {
        *name = path;
        *dfd = fcntl(b->rootfd, F_DUPFD_CLOEXEC, 0);
        rc = *dfd < 0 ? lb_err(errno) : 0;
    } else {
        size_t n = (size_t)(slash - path);
        char *dir = strndup(path, n);
        if (!dir)
            return GW_ERR_NOMEM;
        *name = slash + 1;
        rc = resolve_open(b, dir, O_PATH | O_DIRECTORY, 0, dfd);
        free(dir);
    }
    if (rc == 0)
        lb_hook(b, "parent");
    return rc;
}

static void fill_stat(const struct stat *s, struct vfs_stat *st)
{
    memset(st, 0, sizeof *st);
    st->size = (uint64_t)s->st_size;
    st->mtime = (int64_t)s->st_mtim.tv_sec;
    st->mtime_nsec = (uint32_t)s->st_mtim.tv_nsec;
    st->mode = (uint32_t)s->st_mode;
    st->nlink = (uint32_t)s->st_nlink;
    st->ino = (uint64_t)s->st_ino;
    st->dev = (uint64_t)s->st_dev;
    st->uid = (uint32_t)s->st_uid;
    st->gid = (uint32_t)s->st_gid;
}

static int lb_stat(void *be, const char *path, bool follow, struct vfs_stat *st)
{
    struct local_be *b = be;
    struct stat s;
    int fd = -1, rc;
    if (path && path[0] == '\0') {
        rc = fstat(b->rootfd, &s) < 0 ? lb_err(errno) : 0;
    } else if (follow) {
        rc = resolve_open(b, path, O_PATH, 0, &fd);
        if (rc == 0 && fstat(fd, &s) < 0)
            rc = lb_err(errno);
    } else {
        const char *name;
        rc = open_parent(b, path, &fd, &name);
        if (rc == 0 && fstatat(fd, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
            rc = lb_err(errno);
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        fill_stat(&s, st);
    return rc;
}

static int lb_open(void *be, const char *path, int flags, uint32_t mode, uint64_t offset, void **fh)
{
    struct local_be *b = be;
    struct local_fh *h = NULL;
    int fd = -1, rc;
    int allowed = O_ACCMODE | O_CREAT | O_TRUNC | O_EXCL | O_NOFOLLOW;
    int acc = flags & O_ACCMODE;
    if ((flags & ~allowed) || (acc != O_RDONLY && acc != O_WRONLY))
        return GW_ERR_INVAL;
    if (offset > INT64_MAX)
        return GW_ERR_RANGE;
    if (path[0] == '\0')
        return GW_ERR_ISDIR;
    /* O_NONBLOCK: opening a FIFO planted in the tree must not hang the session. */
    rc = resolve_open(b, path, flags | O_NONBLOCK | O_NOCTTY, mode & 0777, &fd);
    if (rc < 0)
        goto fail;
    struct stat s;
    if (fstat(fd, &s) < 0) {
        rc = lb_err(errno);
        goto fail;
    }
    if (S_ISDIR(s.st_mode)) {
        rc = GW_ERR_ISDIR;
        goto fail;
    }
    if (!S_ISREG(s.st_mode)) {
        rc = GW_ERR_PERM;
        goto fail;
    }
    /* O_NONBLOCK changes nothing for a regular file; a fresh descriptor is at 0. */
    if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        rc = lb_err(errno);
        goto fail;
    }
    h = malloc(sizeof *h);
    if (!h) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    h->fd = fd;
    h->wb = offset;
    fill_stat(&s, &h->ost);
    *fh = h;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    return rc;
}

static ssize_t lb_read(void *fh, void *buf, size_t n)
{
    struct local_fh *h = fh;
    ssize_t r;
    do
        r = read(h->fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? lb_err(errno) : r;
}

static ssize_t lb_write(void *fh, const void *buf, size_t n)
{
    struct local_fh *h = fh;
    ssize_t r;
    do
        r = write(h->fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? lb_err(errno) : r;
}

static ssize_t lb_pread(void *fh, void *buf, size_t n, uint64_t off)
{
    struct local_fh *h = fh;
    ssize_t r;
    if (off > INT64_MAX)
        return GW_ERR_RANGE;
    do
        r = pread(h->fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? lb_err(errno) : r;
}

static ssize_t lb_pwrite(void *fh, const void *buf, size_t n, uint64_t off)
{
    struct local_fh *h = fh;
    ssize_t r;
    if (off > INT64_MAX || n > INT64_MAX - off)
        return GW_ERR_RANGE;
    do
        r = pwrite(h->fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return lb_err(errno);
    /* Uploads end with fsync (the commit). Starting writeback of every full window as
     * the data arrives lets the disk work while the network does, so that fsync finds
     * little left to write instead of the whole file. Only a hint: errors are ignored
     * here and reported by the fsync. */
    uint64_t end = off + (uint64_t)r;
    if (end > h->wb && end - h->wb >= LB_WRITEBACK_WINDOW) {
        (void)sync_file_range(h->fd, (off_t)h->wb, (off_t)(end - h->wb), SYNC_FILE_RANGE_WRITE);
        h->wb = end;
    }
    return r;
}

static int lb_fstat(void *fh, struct vfs_stat *st)
{
    struct local_fh *h = fh;
    struct stat s;
    if (fstat(h->fd, &s) < 0)
        return lb_err(errno);
    fill_stat(&s, st);
    return 0;
}

static int lb_open_stat(void *fh, struct vfs_stat *st)
{
    *st = ((const struct local_fh *)fh)->ost;
    return 0;
}

static int lb_fsync(void *fh)
{
    struct local_fh *h = fh;
    return fsync(h->fd) < 0 ? lb_err(errno) : 0;
}

static int lb_ftruncate(void *fh, uint64_t size)
{
    struct local_fh *h = fh;
    if (size > INT64_MAX)
        return GW_ERR_RANGE;
    return ftruncate(h->fd, (off_t)size) < 0 ? lb_err(errno) : 0;
}

static int lb_fd(void *fh)
{
    struct local_fh *h = fh;
    return h->fd;
}

static int lb_close(void *fh)
{
    struct local_fh *h = fh;
    int rc = 0;
    if (close(h->fd) < 0 && errno != EINTR)
        rc = lb_err(errno);
    free(h);
    return rc;
}

static int lb_opendir(void *be, const char *path, void **dh)
{
    struct local_be *b = be;
    int fd = -1;
    int rc = resolve_open(b, path, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (rc < 0)
        return rc;
    struct local_dh *h = malloc(sizeof *h);
    if (!h) {
        close(fd);
        return GW_ERR_NOMEM;
    }
    h->dir = fdopendir(fd);
    if (!h->dir) {
        rc = lb_err(errno);
        close(fd);
        free(h);
        return rc;
    }
    *dh = h;
    return 0;
}

static int lb_readdir(void *dh, const char **name, struct vfs_stat *st)
{
    struct local_dh *h = dh;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(h->dir);
        if (!de)
            return errno ? lb_err(errno) : 0;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat s;
        if (fstatat(dirfd(h->dir), de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) /* removed since readdir saw it */
                continue;
            return lb_err(errno);
        }
        fill_stat(&s, st);
        *name = de->d_name;
        return 1;
    }
}

static void lb_closedir(void *dh)
{
    struct local_dh *h = dh;
    if (!h)
        return;
    closedir(h->dir);
    free(h);
}

static int lb_mkdir(void *be, const char *path, uint32_t mode)
{
    const char *name;
    int fd, rc;
    if (path[0] == '\0')
        return GW_ERR_EXIST;
    rc = open_parent(be, path, &fd, &name);
    if (rc == 0 && mkdirat(fd, name, mode & 0777) < 0)
        rc = lb_err(errno);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int unlink_common(void *be, const char *path, int flags)
{
    const char *name;
    int fd, rc;
    if (path[0] == '\0')
        return GW_ERR_BUSY;
    rc = open_parent(be, path, &fd, &name);
    if (rc == 0 && unlinkat(fd, name, flags) < 0)
        rc = lb_err(errno);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int lb_rmdir(void *be, const char *path)
{
    return unlink_common(be, path, AT_REMOVEDIR);
}

static int lb_unlink(void *be, const char *path)
{
    return unlink_common(be, path, 0);
}

static int lb_rename(void *be, const char *from, const char *to, bool overwrite)
{
    const char *n1, *n2;
    int d1 = -1, d2 = -1, rc;
    if (from[0] == '\0' || to[0] == '\0')
        return GW_ERR_BUSY;
    rc = open_parent(be, from, &d1, &n1);
    if (rc == 0)
        rc = open_parent(be, to, &d2, &n2);
    if (rc == 0 && renameat2(d1, n1, d2, n2, overwrite ? 0 : RENAME_NOREPLACE) < 0) {
        if (overwrite || errno != EINVAL) {
            rc = lb_err(errno);
        } else {
            /* A file system without RENAME_NOREPLACE: check, then rename (racy, best
             * effort). */
            struct stat s;
            if (fstatat(d2, n2, &s, AT_SYMLINK_NOFOLLOW) == 0)
                rc = GW_ERR_EXIST;
            else if (renameat(d1, n1, d2, n2) < 0)
                rc = lb_err(errno);
        }
    }
    if (d1 >= 0)
        close(d1);
    if (d2 >= 0)
        close(d2);
    return rc;
}

/* The name /proc gives an O_PATH fd: the fallback for kernels whose utimensat or
 * fchmodat cannot act on an O_PATH fd directly. The fd pins the inode, so this cannot
 * be redirected. */
static void proc_fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static int lb_set_mtime(void *be, const char *path, int64_t mtime)
{
    int fd = -1, rc;
    struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)mtime, 0}};
    rc = resolve_open(be, path, O_PATH, 0, &fd);
    if (rc < 0)
        return rc;
    if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0) {
        char p[64];
        proc_fd_path(fd, p, sizeof p);
        if (errno != EINVAL || utimensat(AT_FDCWD, p, ts, 0) < 0)
            rc = lb_err(errno);
    }
    close(fd);
    return rc;
}

static int lb_chmod(void *be, const char *path, uint32_t mode)
{
    int fd = -1, rc;
    struct stat s;
    rc = resolve_open(be, path, O_PATH, 0, &fd);
    if (rc < 0)
        return rc;
    /* Only permission bits: no set-uid, set-gid or sticky bit from a client. */
    mode &= 0777;
    if (fstat(fd, &s) < 0) {
        rc = lb_err(errno);
    } else if (syscall(SYS_fchmodat2, fd, "", (mode_t)mode, AT_EMPTY_PATH) < 0) {
        char p[64];
        proc_fd_path(fd, p, sizeof p);
        if ((errno != ENOSYS && errno != EINVAL) || chmod(p, (mode_t)mode) < 0)
            rc = lb_err(errno);
    }
    close(fd);
    return rc;
}

static int lb_statvfs(void *be, const char *path, struct vfs_statvfs *out)
{
    int fd = -1, rc;
    struct statvfs s;
    rc = resolve_open(be, path, O_PATH, 0, &fd);
    if (rc < 0)
        return rc;
    if (fstatvfs(fd, &s) < 0) {
        rc = lb_err(errno);
    } else {
        memset(out, 0, sizeof *out);
        out->bsize = s.f_bsize;
        out->frsize = s.f_frsize;
        out->blocks = s.f_blocks;
        out->bfree = s.f_bfree;
        out->bavail = s.f_bavail;
        out->files = s.f_files;
        out->ffree = s.f_ffree;
        out->favail = s.f_favail;
        out->fsid = s.f_fsid;
        out->namemax = s.f_namemax;
        out->read_only = (s.f_flag & ST_RDONLY) != 0;
    }
    close(fd);
    return rc;
}

static int lb_readlink(void *be, const char *path, char *buf, size_t size)
{
    const char *name;
    int fd, rc;
    if (path[0] == '\0' || size == 0)
        return GW_ERR_INVAL;
    rc = open_parent(be, path, &fd, &name);
    if (rc == 0) {
        ssize_t n = readlinkat(fd, name, buf, size);
        if (n < 0)
            rc = lb_err(errno);
        else if ((size_t)n >= size)
            rc = GW_ERR_TOOLONG;
        else
            buf[n] = '\0';
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Where the directory fd really is, relative to the root ("" for the root): a link's
 * relative target must climb from there, which differs from the path the client named
 * when that path went through a symlinked directory. Falls back to lexical. */
static char *real_rel_dir(struct local_be *b, int dfd, const char *lexical)
{
    char proc[64], host[PATH_MAX];
    proc_fd_path(dfd, proc, sizeof proc);
    ssize_t n = b->root_real ? readlink(proc, host, sizeof host - 1) : -1;
    if (n > 0) {
        host[n] = '\0';
        size_t rl = strlen(b->root_real);
        if (strcmp(b->root_real, "/") == 0)
            return strdup(host + 1);
        if (strncmp(host, b->root_real, rl) == 0 && (host[rl] == '\0' || host[rl] == '/'))
            return strdup(host[rl] ? host + rl + 1 : "");
    }
    return strdup(lexical);
}

/* Relative path from directory dir to target (both backend-relative, normalised). */
static int relative_target(const char *dir, const char *target, char *out, size_t size)
{
    size_t i = 0, common = 0;
    /* Longest common run of whole components. */
    for (;;) {
        bool dend = dir[i] == '\0' || dir[i] == '/';
        bool tend = target[i] == '\0' || target[i] == '/';
        if (dend && tend) {
            if (i > 0)
                common = i;
            if (dir[i] == '\0' || target[i] == '\0')
                break;
        } else if (dir[i] != target[i]) {
            break;
        }
        i++;
    }
    size_t len = 0;
    const char *d = dir + common;
    while (*d) {
        if (*d == '/')
            d++;
        if (!*d)
            break;
        if (size - len < 4)
            return GW_ERR_TOOLONG;
        memcpy(out + len, "../", 3);
        len += 3;
        d += strcspn(d, "/");
    }
    const char *t = target + common;
    if (*t == '/')
        t++;
    size_t tl = strlen(t);
    if (tl == 0 && len == 0) {
        if (size < 2)
            return GW_ERR_TOOLONG;
        memcpy(out, ".", 2);
        return 0;
    }
    if (tl == 0)
        len--; /* drop the trailing slash of the last "../" */
    if (tl >= size - len)
        return GW_ERR_TOOLONG;
    memcpy(out + len, t, tl + 1);
    return 0;
}

static int lb_symlink(void *be, const char *target, const char *linkpath)
{
    struct local_be *b = be;
    const char *name;
    char *dir = NULL, *lexical = NULL;
    char rel[PATH_MAX];
    int fd = -1, rc;
    if (linkpath[0] == '\0')
        return GW_ERR_EXIST;
    if (!rel_ok(target))
        return GW_ERR_INVAL;
    rc = open_parent(b, linkpath, &fd, &name);
    if (rc < 0)
        goto out;
    lexical = strndup(linkpath, name > linkpath ? (size_t)(name - linkpath - 1) : 0);
    dir = lexical ? real_rel_dir(b, fd, lexical) : NULL;
    if (!dir) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    rc = relative_target(dir, target, rel, sizeof rel);
    if (rc == 0 && symlinkat(rel, fd, name) < 0)
        rc = lb_err(errno);
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    free(lexical);
    return rc;
}

static int lb_link(void *be, const char *from, const char *to)
{
    const char *n1, *n2;
    int d1 = -1, d2 = -1, rc;
    if (from[0] == '\0')
        return GW_ERR_PERM;
    if (to[0] == '\0')
        return GW_ERR_EXIST;
    rc = open_parent(be, from, &d1, &n1);
    if (rc == 0)
        rc = open_parent(be, to, &d2, &n2);
    /* No AT_SYMLINK_FOLLOW: a symlink is linked as itself, never what it points to. */
    if (rc == 0 && linkat(d1, n1, d2, n2, 0) < 0)
        rc = lb_err(errno);
    if (d1 >= 0)
        close(d1);
    if (d2 >= 0)
        close(d2);
    return rc;
}

static int lb_fsync_dir(void *be, const char *path)
{
    int fd = -1;
    int rc = resolve_open(be, path, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (rc < 0)
        return rc;
    if (fsync(fd) < 0)
        rc = lb_err(errno);
    close(fd);
    return rc;
}

static void lb_free(void *be)
{
    struct local_be *b = be;
    if (!b)
        return;
    if (b->rootfd >= 0)
        close(b->rootfd);
    free(b->root_real);
    free(b);
}

const struct vfs_ops vfs_local_ops = {
    .name = "local",
    .stat = lb_stat,
    .open = lb_open,
    .read = lb_read,
    .write = lb_write,
    .pread = lb_pread,
    .pwrite = lb_pwrite,
    .fstat = lb_fstat,
    .open_stat = lb_open_stat,
    .fsync = lb_fsync,
    .ftruncate = lb_ftruncate,
    .fd = lb_fd,
    .close = lb_close,
    .opendir = lb_opendir,
    .readdir = lb_readdir,
    .closedir = lb_closedir,
    .mkdir = lb_mkdir,
    .rmdir = lb_rmdir,
    .unlink = lb_unlink,
    .rename = lb_rename,
    .set_mtime = lb_set_mtime,
    .chmod = lb_chmod,
    .statvfs = lb_statvfs,
    .readlink = lb_readlink,
    .symlink = lb_symlink,
    .link = lb_link,
    .free = lb_free,
    .fsync_dir = lb_fsync_dir,
};

int vfs_local_new(const char *root, void **out)
{
    struct local_be *b = NULL;
    int rc;
    *out = NULL;
    if (!root || !*root)
        return GW_ERR_INVAL;
    b = calloc(1, sizeof *b);
    if (!b)
        return GW_ERR_NOMEM;
    b->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->rootfd < 0) {
        rc = lb_err(errno);
        goto fail;
    }
    b->root_real = realpath(root, NULL); /* NULL is tolerated: lexical symlink targets */
    /* Probe openat2 once; ENOSYS (old kernel) or a seccomp filter refusing it means the
     * fallback walk for the lifetime of this backend. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, b->rootfd, ".", &how, sizeof how);
    if (fd >= 0)
        close((int)fd);
    else
        b->no_openat2 = true;
    *out = b;
    return 0;
fail:
    lb_free(b);
    return rc;
}

void vfs_local_force_fallback(void *be, bool on)
{
    struct local_be *b = be;
    b->forced = on;
}

bool vfs_local_uses_fallback(const void *be)
{
    const struct local_be *b = be;
    return use_walk(b);
}

void vfs_local_set_hook(void *be, void (*hook)(void *arg, const char *stage), void *arg)
{
    struct local_be *b = be;
    b->hook = hook;
    b->hook_arg = arg;
}
