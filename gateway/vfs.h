/* The virtual file system: the one interface every front end uses for every file
 * operation. A `struct vfs` is one user's view: a root directory of the server's data
 * tree (the user's home) plus the configured mounts, with that user's permissions.
 *
 * Paths given to vfs_* are virtual, absolute and already normalised by
 * gw_path_resolve() (gateway/path.h): "/", "/a/b". Front ends never open() a user path;
 * backends confine every operation below their root (local: openat2 RESOLVE_BENEATH).
 *
 * Uploads (DESIGN.md "Uploads and resume") are implemented here, once, for every front
 * end and backend: new content goes to a hidden partial beside the target, owned by the
 * uploading user, and replaces the target atomically (fsync, rename) only when the
 * front end closes the file with complete = true. Names starting with VFS_PARTIAL_PREFIX
 * are never listed and never reachable by any path.
 *
 * Mounts: a path is served by the mount with the longest prefix it lies under, else by
 * the root (local) backend. A mount point appears as a directory in its parent's listing.
 * Renames and hard links between two backends are GW_ERR_NOTSUP; removing, renaming or
 * replacing "/" or a mount point is GW_ERR_BUSY (mkdir: GW_ERR_EXIST).
 *
 * Read-only: a read-only view (anonymous, read-only user) or mount refuses every
 * modifying call with GW_ERR_ROFS before touching the backend.
 *
 * Partial lifetime: a partial older than partial_ttl (since its last write) counts as
 * absent and is removed when next seen: when its directory is listed, when its owner
 * stats the target with VFS_SHADOW or opens it for writing, by vfs_rmdir, or by a
 * vfs_purge_partials() sweep (which the server may run periodically).
 *
 * Lifetimes: files and directory handles must be closed before vfs_free().
 * Errors: negative GW_ERR_* (gateway/err.h). */
#ifndef FERRY_GATEWAY_VFS_H
#define FERRY_GATEWAY_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VFS_PARTIAL_PREFIX ".ferry~"

struct vfs;
struct vfs_file;
struct vfs_dir;
struct vfs_ops;

struct vfs_stat {
    uint64_t size;
    int64_t mtime;        /* seconds since the epoch, UTC */
    uint32_t mtime_nsec;
    uint32_t mode;        /* S_IFMT type bits | permission bits */
    uint32_t nlink;
    uint64_t ino;         /* unique within the backend, 0 when unknown */
    uint64_t dev;
    uint32_t uid, gid;
    bool partial;         /* size/mtime are those of the caller's pending partial upload */
};

struct vfs_statvfs {
    uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, namemax;
    bool read_only;
};

struct vfs_dirent {
    const char *name;     /* valid until the next vfs_readdir/vfs_closedir */
    struct vfs_stat st;   /* lstat of the entry (symlinks are S_IFLNK) */
};

/* One mount: a virtual prefix served by a backend other than the user's root. */
struct vfs_mount {
    const char *prefix;          /* "/legacy" */
    const struct vfs_ops *ops;
    void *backend;               /* backend instance, owned by the caller */
    bool read_only;
};

struct vfs_options {
    const char *root;            /* absolute host path of the user's root (home) */
    const char *owner;           /* user name: owner of partial uploads */
    bool read_only;              /* anonymous or read-only user */
    const struct vfs_mount *mounts;
    size_t nmounts;
    int64_t partial_ttl;         /* seconds a partial is kept; <= 0: default */
};

/* Opens the user's view. The local backend opens opts->root as a directory fd (it
 * must exist). Returns 0 and *out, or a GW_ERR_*. */
int vfs_open(const struct vfs_options *opts, struct vfs **out);
void vfs_free(struct vfs *v);
bool vfs_read_only(const struct vfs *v);

/* Flags for vfs_stat. VFS_SHADOW applies in writable views only, and also when the
 * target does not exist yet (an interrupted upload of a new file). */
#define VFS_NOFOLLOW 0x1  /* lstat: report a symlink itself */
#define VFS_SHADOW 0x2    /* size query: the caller's pending partial shadows the target */
int vfs_stat(struct vfs *v, const char *path, unsigned flags, struct vfs_stat *st);

/* Opens a file for reading at offset (offset > size is GW_ERR_RANGE). */
int vfs_open_read(struct vfs *v, const char *path, uint64_t offset, struct vfs_file **out);

enum vfs_write_mode {
    VFS_WRITE_NEW,    /* new content (FTP STOR, PUT, SFTP OPEN|TRUNC or new name): partial */
    VFS_WRITE_RESUME, /* at offset: continues the caller's partial when one is pending,
                         else modifies the existing file in place (offset <= size), else
                         creates new content via a partial when offset == 0 */
    VFS_WRITE_APPEND, /* at end: as RESUME with offset = current (partial's) size */
    VFS_WRITE_EXCL    /* new content, but GW_ERR_EXIST when the target exists (STOU, O_EXCL) */
};
/* Opens for writing. mode bits (e.g. 0644) apply when a file is created.
 * NEW and EXCL need offset 0 (else GW_ERR_INVAL) and truncate the caller's partial; the
 * commit replaces the target by rename (a symlink target is replaced, not followed; the
 * new file has the given mode). RESUME and APPEND never truncate: a front end that wants
 * "REST N + STOR" to cut the file at N calls vfs_ftruncate(f, N) after opening. Offsets
 * beyond the partial's (or file's) size are GW_ERR_RANGE. Writing to a directory is
 * GW_ERR_ISDIR, to anything but a regular file GW_ERR_PERM. */
int vfs_open_write(struct vfs *v, const char *path, enum vfs_write_mode wmode, uint64_t offset,
                   uint32_t mode, struct vfs_file **out);

/* Sequential I/O from the current offset; returns bytes (0 = EOF) or GW_ERR_*. */
ssize_t vfs_read(struct vfs_file *f, void *buf, size_t n);
ssize_t vfs_write(struct vfs_file *f, const void *buf, size_t n);
/* Positional I/O (SFTP); does not move the sequential offset. */
ssize_t vfs_pread(struct vfs_file *f, void *buf, size_t n, uint64_t off);
ssize_t vfs_pwrite(struct vfs_file *f, const void *buf, size_t n, uint64_t off);
/* Current sequential offset. */
uint64_t vfs_tell(const struct vfs_file *f);
int vfs_fstat(struct vfs_file *f, struct vfs_stat *st);
/* A read handle's status as of its opening, without a system call: what a download's
 * headers (size, mtime, ETag) describe. Use vfs_fstat for the current one. */
int vfs_open_stat(struct vfs_file *f, struct vfs_stat *st);
int vfs_fsync(struct vfs_file *f);
int vfs_ftruncate(struct vfs_file *f, uint64_t size);
/* The backend's file descriptor for sendfile(2) on a read handle, or -1 when there is
 * none. Send with an explicit offset (vfs_tell()), then report the bytes with
 * vfs_advance(), which has them read back (page cache) to keep the SHA-256 going. Never
 * write through it. */
int vfs_fd(const struct vfs_file *f);
void vfs_advance(struct vfs_file *f, uint64_t n);
/* SHA-256 of the whole file when every byte of it passed through this handle in order
 * from offset 0 (reads to EOF, or a complete new upload); false otherwise.
 * Hashing runs behind the transfer: past the first MiB a helper thread of the session
 * hashes what was sent or written (downloads and new uploads re-read the page cache,
 * at a lower CPU priority; in-place writes are copied into a 4 MiB ring, and wait for
 * the thread only when it is full). vfs_sha256 waits for the hash to catch up; call it
 * after the client has had its reply (and after vfs_commit) when the transfer should
 * not wait. A handle is used by one thread. */
bool vfs_sha256(const struct vfs_file *f, unsigned char out[32]);
/* True when vfs_sha256 would not wait: the hash has caught up with the transfer. */
bool vfs_hash_ready(const struct vfs_file *f);
/* Stops hashing this handle's bytes (configuration hash_transfers = no): vfs_sha256 then
 * knows only a hash cached from an earlier transfer of the same content. */
void vfs_hash_off(struct vfs_file *f);
/* Total bytes read or written through this handle. */
uint64_t vfs_bytes(const struct vfs_file *f);
/* Offset the handle was opened at (resume start). */
uint64_t vfs_start_offset(const struct vfs_file *f);

/* Closes. For a write handle of new content, complete = true commits the partial
 * (fsync, rename over the target) unless vfs_commit() did, and complete = false keeps
 * it for a later resume. Returns the commit's error, if any; f is freed in every case. */
int vfs_close(struct vfs_file *f, bool complete);
/* Commits a complete upload now (fsync, rename over the target; nothing for handles
 * that write in place) while keeping the handle, so that the client can have its reply
 * before the hash running behind the upload is done: vfs_sha256 and vfs_close(f, true)
 * come later. No more writes after it. 0 or the commit's error (the partial is kept). */
int vfs_commit(struct vfs_file *f);

/* Name of owner's partial for a target called name (a final component):
 * VFS_PARTIAL_PREFIX + 16 hex digits of a SHA-256 of (owner, name). out needs 24 bytes. */
int vfs_partial_name(const char *owner, const char *name, char *out, size_t outsz);
/* Removes every expired partial in directory path (and below when recursive, never
 * following symlinks); *removed (may be NULL) counts them. GW_ERR_ROFS on a read-only
 * view. */
int vfs_purge_partials(struct vfs *v, const char *path, bool recursive, size_t *removed);
/* The root (local) backend instance, e.g. for vfs_local_force_fallback() in tests. */
void *vfs_root_backend(struct vfs *v);

int vfs_opendir(struct vfs *v, const char *path, struct vfs_dir **out);
/* 1 and *ent, 0 at the end, or GW_ERR_*. "." and ".." and partials are skipped. */
int vfs_readdir(struct vfs_dir *d, struct vfs_dirent *ent);
void vfs_closedir(struct vfs_dir *d);

int vfs_mkdir(struct vfs *v, const char *path, uint32_t mode);
/* A directory holding only hidden partials lists as empty, so it can be removed: the
 * partials go with it. */
int vfs_rmdir(struct vfs *v, const char *path);
/* Also removes the caller's pending partial for path; succeeds when either existed. */
int vfs_unlink(struct vfs *v, const char *path);
/* Removes only the caller's pending partial for path (an upload cancelled), leaving a
 * complete file of that name alone. GW_ERR_NOENT when there is none. */
int vfs_discard_partial(struct vfs *v, const char *path);
/* Renames; fails with GW_ERR_EXIST when to exists and overwrite is false. */
int vfs_rename(struct vfs *v, const char *from, const char *to, bool overwrite);
int vfs_set_mtime(struct vfs *v, const char *path, int64_t mtime);
int vfs_chmod(struct vfs *v, const char *path, uint32_t mode);
int vfs_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *out);
/* Reads a symlink's target as stored (NUL-terminated); GW_ERR_TOOLONG when it won't fit. */
int vfs_readlink(struct vfs *v, const char *path, char *buf, size_t size);
/* Creates a symlink at linkpath whose target, resolved from linkpath's directory, must
 * stay inside the user's root; stored as a relative target. */
int vfs_symlink(struct vfs *v, const char *target, const char *linkpath);
int vfs_link(struct vfs *v, const char *from, const char *to);

/* Backend interface. A backend need not have file descriptors (upstream FTP). Paths
 * passed to backends are relative to the backend's root, normalised, without a leading
 * slash ("" is the root itself) and never contain a partial name except through
 * the vfs layer's own partial handling. Optional operations may be NULL
 * (GW_ERR_NOTSUP). */
struct vfs_ops {
    const char *name;
    int (*stat)(void *be, const char *path, bool follow, struct vfs_stat *st);
    /* flags: O_RDONLY, or O_WRONLY with O_CREAT/O_TRUNC/O_EXCL; O_NOFOLLOW (used for
     * partials): a final symlink is refused. Positioned at offset. Regular files only. */
    int (*open)(void *be, const char *path, int flags, uint32_t mode, uint64_t offset,
                void **fh);
    /* The vfs layer does sequential I/O with pread/pwrite at its own offset when the
     * backend has them (so sendfile cannot desynchronise it), else with read/write. */
    ssize_t (*read)(void *fh, void *buf, size_t n);
    ssize_t (*write)(void *fh, const void *buf, size_t n);
    ssize_t (*pread)(void *fh, void *buf, size_t n, uint64_t off);
    ssize_t (*pwrite)(void *fh, const void *buf, size_t n, uint64_t off);
    int (*fstat)(void *fh, struct vfs_stat *st);
    /* Optional: the status the backend took when it opened fh (no I/O). Saves a
     * download the fstat(2) the open just did. */
    int (*open_stat)(void *fh, struct vfs_stat *st);
    int (*fsync)(void *fh);
    int (*ftruncate)(void *fh, uint64_t size);
    int (*fd)(void *fh);
    int (*close)(void *fh);
    int (*opendir)(void *be, const char *path, void **dh);
    /* 1 with name/stat, 0 at end, or GW_ERR_*; name valid until the next call. */
    int (*readdir)(void *dh, const char **name, struct vfs_stat *st);
    void (*closedir)(void *dh);
    int (*mkdir)(void *be, const char *path, uint32_t mode);
    int (*rmdir)(void *be, const char *path);
    int (*unlink)(void *be, const char *path);
    int (*rename)(void *be, const char *from, const char *to, bool overwrite);
    int (*set_mtime)(void *be, const char *path, int64_t mtime);
    int (*chmod)(void *be, const char *path, uint32_t mode);
    int (*statvfs)(void *be, const char *path, struct vfs_statvfs *out);
    int (*readlink)(void *be, const char *path, char *buf, size_t size);
    /* target: a backend path (normalised, inside the backend), which the backend stores
     * as a target relative to the link's directory. */
    int (*symlink)(void *be, const char *target, const char *linkpath);
    int (*link)(void *be, const char *from, const char *to);
    void (*free)(void *be);
    /* Makes a completed rename in directory path durable (local: fsync of the directory).
     * Optional: NULL when the backend has nothing to flush. */
    int (*fsync_dir)(void *be, const char *path);
};

/* The local backend: a host directory, confined with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) or, where the kernel lacks it, a component-by-component
 * openat(O_NOFOLLOW) walk. Creates the backend for root (which must exist). */
extern const struct vfs_ops vfs_local_ops;
int vfs_local_new(const char *root, void **out);
/* Forces the openat fallback walk even when openat2 exists (tests). */
void vfs_local_force_fallback(void *be, bool on);
/* True when the backend resolves paths with the openat fallback walk. */
bool vfs_local_uses_fallback(const void *be);
/* Tests only: hook(arg, stage) runs after the backend has resolved a parent directory
 * ("parent") and after each directory step of the fallback walk ("walk"), so a test can
 * swap a directory for a symlink exactly between resolution and use. NULL removes it. */
void vfs_local_set_hook(void *be, void (*hook)(void *arg, const char *stage), void *arg);

#endif
