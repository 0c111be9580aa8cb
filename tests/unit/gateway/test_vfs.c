/* Unit tests for gateway/vfs.c: the generic layer of the virtual file system — mount
 * dispatch, read-only views, the upload and resume rules of DESIGN.md, partial
 * lifetime, and the on-the-fly SHA-256. Runs against the real local backend in a temp
 * dir, plus a small in-memory backend without file descriptors (the shape of the
 * upstream FTP backend) to show the upload rules do not depend on fds. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "gateway/vfs.h"

/* ---- environment: one root, several users' views of it --------------------------- */

struct env {
    char *top;
    char *root;
    struct vfs *alice, *bob, *anon;
};

static char *hpath(const struct env *e, const char *rel)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", e->root, rel), 0);
    return p;
}

static void hwrite(const struct env *e, const char *rel, const void *data, size_t len)
{
    char *p = hpath(e, rel);
    tu_write_file(p, data, len);
    free(p);
}

/* Removes the SHA-256 cache attribute vfs keeps on a file. */
static void drop_hash_cache(const struct env *e, const char *rel)
{
    char *p = hpath(e, rel);
    removexattr(p, "user.ferry.sha256");
    free(p);
}

static char *hread(const struct env *e, const char *rel, size_t *len)
{
    char *p = hpath(e, rel);
    char *s = tu_read_file(p, len);
    free(p);
    return s;
}

static bool hexists(const struct env *e, const char *rel)
{
    struct stat st;
    char *p = hpath(e, rel);
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static void hmkdir(const struct env *e, const char *rel)
{
    char *p = hpath(e, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
}

/* Root-relative host path of owner's partial for dir/name. */
static char *partial_rel(const char *owner, const char *dir, const char *name)
{
    char pn[32], *p = NULL;
    ck_assert_int_eq(vfs_partial_name(owner, name, pn, sizeof pn), 0);
    ck_assert_int_ge(asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", pn), 0);
    return p;
}

/* Backdates a root-relative host file's mtime by secs. */
static void hage(const struct env *e, const char *rel, int64_t secs)
{
    char *p = hpath(e, rel);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) - secs, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    free(p);
}

/* Partials anywhere below dir on the host (symlinks not followed). */
static size_t count_partials_in(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (strncmp(de->d_name, VFS_PARTIAL_PREFIX, strlen(VFS_PARTIAL_PREFIX)) == 0)
            n++;
        if (de->d_type == DT_DIR) {
            char *p = NULL;
            ck_assert_int_ge(asprintf(&p, "%s/%s", dir, de->d_name), 0);
            n += count_partials_in(p);
            free(p);
        }
    }
    closedir(d);
    return n;
}

static size_t count_partials(const struct env *e)
{
    return count_partials_in(e->root);
}

static struct vfs *view(const char *root, const char *owner, bool ro, int64_t ttl)
{
    struct vfs *v = NULL;
    struct vfs_options o = {.root = root, .owner = owner, .read_only = ro, .partial_ttl = ttl};
    ck_assert_int_eq(vfs_open(&o, &v), 0);
    return v;
}

static void env_setup(struct env *e, int64_t ttl)
{
    memset(e, 0, sizeof *e);
    e->top = tu_mkdtemp("vfs");
    ck_assert_int_ge(asprintf(&e->root, "%s/root", e->top), 0);
    ck_assert_int_eq(mkdir(e->root, 0755), 0);
    e->alice = view(e->root, "alice", false, ttl);
    e->bob = view(e->root, "bob", false, ttl);
    e->anon = view(e->root, NULL, true, ttl);
}

static void env_teardown(struct env *e)
{
    vfs_free(e->alice);
    vfs_free(e->bob);
    vfs_free(e->anon);
    tu_rmtree(e->top);
    free(e->top);
    free(e->root);
}

/* Writes data as new content; complete decides commit or keep. */
static void put(struct vfs *v, const char *path, const void *data, size_t len, bool complete)
{
    struct vfs_file *f;
    ck_assert_int_eq(vfs_open_write(v, path, VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, data, len), (ssize_t)len);
    ck_assert_int_eq(vfs_close(f, complete), 0);
}

/* Whole content through vfs_read; NULL with *rc set on error. */
static char *get(struct vfs *v, const char *path, size_t *len, int *rc)
{
    struct vfs_file *f;
    *rc = vfs_open_read(v, path, 0, &f);
    if (*rc < 0)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        r = vfs_read(f, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    vfs_close(f, false);
    ck_assert_int_eq(r, 0);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void assert_content(struct vfs *v, const char *path, const char *want)
{
    int rc;
    char *s = get(v, path, NULL, &rc);
    ck_assert_msg(s != NULL, "%s: %s", path, gw_strerror(rc));
    ck_assert_str_eq(s, want);
    free(s);
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    ck_assert(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL));
}

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n);
    unsigned s = 99;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (unsigned char)(s >> 16);
    }
    return p;
}

/* ---- vfs_open, vfs_free, vfs_read_only --------------------------------------------- */

START_TEST(test_open)
{
    struct vfs *v = NULL;
    char *d = tu_mkdtemp("vfsopen");
    struct vfs_options o = {.root = "/nonexistent/ferry", .owner = "a"};
    ck_assert_int_eq(vfs_open(&o, &v), GW_ERR_NOENT);
    ck_assert_ptr_null(v);
    o.root = d;
    o.owner = NULL;
    ck_assert_int_eq(vfs_open(&o, &v), GW_ERR_INVAL); /* writable views need an owner */
    o.owner = "";
    ck_assert_int_eq(vfs_open(&o, &v), GW_ERR_INVAL);
    o.read_only = true;
    ck_assert_int_eq(vfs_open(&o, &v), 0);
    ck_assert(vfs_read_only(v));
    ck_assert_ptr_nonnull(vfs_root_backend(v));
    vfs_free(v);
    o.read_only = false;
    o.owner = "a";
    ck_assert_int_eq(vfs_open(&o, &v), 0);
    ck_assert(!vfs_read_only(v));
    vfs_free(v);
    vfs_free(NULL);

    static const char *bad[] = {"/", "rel", "/a/", "/a/../b", "/.ferry~x", "", "/a//b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct vfs_mount m = {.prefix = bad[i], .ops = &vfs_local_ops, .backend = NULL};
        o.mounts = &m;
        o.nmounts = 1;
        ck_assert_msg(vfs_open(&o, &v) == GW_ERR_INVAL, "prefix '%s'", bad[i]);
    }
    struct vfs_mount many[GW_MAX_MOUNTS + 1];
    for (size_t i = 0; i <= GW_MAX_MOUNTS; i++)
        many[i] = (struct vfs_mount){.prefix = "/m", .ops = &vfs_local_ops};
    o.mounts = many;
    o.nmounts = GW_MAX_MOUNTS + 1;
    ck_assert_int_eq(vfs_open(&o, &v), GW_ERR_INVAL);
    tu_rmtree(d);
    free(d);
}
END_TEST

/* ---- vfs_stat ------------------------------------------------------------------------ */

START_TEST(test_stat)
{
    struct env e;
    struct vfs_stat st;
    env_setup(&e, 0);
    hwrite(&e, "f", "hello", 5);
    hmkdir(&e, "d");
    char *l = hpath(&e, "l");
    ck_assert_int_eq(symlink("f", l), 0);
    free(l);
    ck_assert_int_eq(vfs_stat(e.alice, "/f", 0, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_uint_eq(st.size, 5);
    ck_assert(!st.partial);
    ck_assert_int_eq(vfs_stat(e.alice, "/d", 0, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(vfs_stat(e.alice, "/", 0, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(vfs_stat(e.alice, "/l", 0, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_int_eq(vfs_stat(e.alice, "/l", VFS_NOFOLLOW, &st), 0);
    ck_assert(S_ISLNK(st.mode));
    ck_assert_int_eq(vfs_stat(e.alice, "/nope", 0, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(e.alice, "/nope", VFS_SHADOW, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(e.alice, "/f/x", 0, &st), GW_ERR_NOTDIR);
    /* Only normalised virtual paths are accepted. */
    static const char *bad[] = {"",        "f",           "/f/",        "//f", "/./f",
                                "/d/../f", "/.ferry~abc", "/d/.ferry~", "/f\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(vfs_stat(e.alice, bad[i], 0, &st) == GW_ERR_INVAL, "'%s'", bad[i]);
    env_teardown(&e);
}
END_TEST

/* ---- reading ------------------------------------------------------------------------ */

START_TEST(test_open_read)
{
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    char buf[16];
    env_setup(&e, 0);
    hwrite(&e, "f", "0123456789", 10);
    hmkdir(&e, "d");
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 4, &f), 0);
    ck_assert_uint_eq(vfs_start_offset(f), 4);
    ck_assert_uint_eq(vfs_tell(f), 4);
    ck_assert_int_eq(vfs_read(f, buf, 3), 3);
    ck_assert(memcmp(buf, "456", 3) == 0);
    ck_assert_uint_eq(vfs_tell(f), 7);
    ck_assert_int_eq(vfs_pread(f, buf, 2, 0), 2);
    ck_assert(memcmp(buf, "01", 2) == 0);
    ck_assert_uint_eq(vfs_tell(f), 7); /* pread does not move the offset */
    ck_assert_int_eq(vfs_read(f, buf, sizeof buf), 3);
    ck_assert_int_eq(vfs_read(f, buf, sizeof buf), 0);
    ck_assert_uint_eq(vfs_bytes(f), 8);
    ck_assert_int_eq(vfs_fstat(f, &st), 0);
    ck_assert_uint_eq(st.size, 10);
    ck_assert(!st.partial);
    ck_assert_int_ge(vfs_fd(f), 0);
    ck_assert_int_eq(vfs_write(f, "x", 1), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_pwrite(f, "x", 1, 0), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_ftruncate(f, 0), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 10, &f), 0); /* at the end: EOF */
    ck_assert_int_eq(vfs_read(f, buf, sizeof buf), 0);
    vfs_close(f, false);
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 11, &f), GW_ERR_RANGE);
    ck_assert_ptr_null(f);
    ck_assert_int_eq(vfs_open_read(e.anon, "/d", 0, &f), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_open_read(e.anon, "/", 0, &f), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_open_read(e.anon, "/nope", 0, &f), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_close(NULL, false), 0);
    env_teardown(&e);
}
END_TEST

/* vfs_open_stat: what the open saw, with no system call, while vfs_fstat follows the
 * file; the fd-less backend (no open_stat op) falls back to its fstat. */
START_TEST(test_open_stat)
{
    struct env e;
    struct vfs_file *f;
    struct vfs_stat at, now;
    env_setup(&e, 0);
    hwrite(&e, "f", "0123456789", 10);
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    hwrite(&e, "f", "0123456789abcdef", 16); /* the same inode grows */
    ck_assert_int_eq(vfs_open_stat(f, &at), 0);
    ck_assert_int_eq(vfs_fstat(f, &now), 0);
    ck_assert_uint_eq(at.size, 10);
    ck_assert_uint_eq(now.size, 16);
    ck_assert(S_ISREG(at.mode));
    ck_assert(!at.partial);
    vfs_close(f, false);
    env_teardown(&e);
}
END_TEST

START_TEST(test_sha256_read)
{
    struct env e;
    struct vfs_file *f;
    unsigned char want[32], got[32];
    char buf[4096];
    size_t n = 100000;
    unsigned char *data = random_bytes(n);
    env_setup(&e, 0);
    hwrite(&e, "f", data, n);
    sha256(data, n, want);

    /* A full sequential read. */
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    ck_assert(!vfs_sha256(f, got));
    while (vfs_read(f, buf, sizeof buf) > 0)
        ;
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);

    /* That full read left the hash in the file's cache attribute: the next handle knows
     * it at once, even at an offset (a resumed download), without hashing a byte. */
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 1, &f), 0);
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);
    /* New content (the mtime moves) invalidates it. */
    unsigned char *other = random_bytes(n);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    hwrite(&e, "f", other, n);
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 1, &f), 0);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);
    hwrite(&e, "f", data, n);
    free(other);

    /* Stopped early: unknown. */
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    ck_assert_int_gt(vfs_read(f, buf, sizeof buf), 0);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);

    /* Resumed download: not every byte passed, unknown. */
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 1, &f), 0);
    while (vfs_read(f, buf, sizeof buf) > 0)
        ;
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);

    /* SFTP-style preads in order, with a harmless re-read. */
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    for (uint64_t off = 0; off < n; off += sizeof buf) {
        ck_assert_int_gt(vfs_pread(f, buf, sizeof buf, off), 0);
        if (off == 8192)
            ck_assert_int_gt(vfs_pread(f, buf, 100, 0), 0);
    }
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);

    /* Out of order: unknown (once the cache the full pass above left is gone). */
    drop_hash_cache(&e, "f");
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    ck_assert_int_gt(vfs_pread(f, buf, sizeof buf, sizeof buf), 0);
    for (uint64_t off = 0; off < n; off += sizeof buf)
        vfs_pread(f, buf, sizeof buf, off);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);

    /* sendfile(2) from vfs_fd + vfs_advance keeps the hash. */
    drop_hash_cache(&e, "f");
    char *sink = NULL;
    ck_assert_int_ge(asprintf(&sink, "%s/sink", e.top), 0);
    int out = open(sink, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(out, 0);
    ck_assert_int_eq(vfs_open_read(e.anon, "/f", 0, &f), 0);
    ck_assert_int_eq(vfs_read(f, buf, 10), 10);
    ck_assert_int_eq(write(out, buf, 10), 10);
    while (vfs_tell(f) < n) {
        off_t off = (off_t)vfs_tell(f);
        ssize_t r = sendfile(out, vfs_fd(f), &off, 30000);
        ck_assert_int_gt(r, 0);
        vfs_advance(f, (uint64_t)r);
    }
    ck_assert_uint_eq(vfs_bytes(f), n);
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);
    close(out);
    size_t sl;
    char *copy = tu_read_file(sink, &sl);
    ck_assert_uint_eq(sl, n);
    ck_assert(memcmp(copy, data, n) == 0);
    free(copy);
    free(sink);
    free(data);
    env_teardown(&e);
}
END_TEST

/* ---- uploads: new content ----------------------------------------------------------- */

/* Past VFS_HASH_ASYNC_MIN (1 MiB) a helper thread hashes behind the transfer; the hash
 * must come out the same whichever way the bytes went, and stop cleanly on close. */
START_TEST(test_sha256_async)
{
    struct env e;
    struct vfs_file *f;
    unsigned char want[32], got[32];
    size_t n = 9 * 1024 * 1024 + 12345; /* more than two rings, not a multiple of a chunk */
    unsigned char *data = random_bytes(n);
    char *buf = malloc(300000);
    ck_assert_ptr_nonnull(buf);
    env_setup(&e, 0);
    hwrite(&e, "big", data, n);
    sha256(data, n, want);

    /* sendfile + vfs_advance: the thread re-reads the page cache. */
    char *sink = NULL;
    ck_assert_int_ge(asprintf(&sink, "%s/sink", e.top), 0);
    int out = open(sink, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(out, 0);
    ck_assert_int_eq(vfs_open_read(e.anon, "/big", 0, &f), 0);
    while (vfs_tell(f) < n) {
        off_t off = (off_t)vfs_tell(f);
        ssize_t r = sendfile(out, vfs_fd(f), &off, 1000003);
        ck_assert_int_gt(r, 0);
        vfs_advance(f, (uint64_t)r);
    }
    ck_assert(vfs_sha256(f, got));
    ck_assert(vfs_hash_ready(f));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);
    close(out);

    /* Plain reads (a TLS download), then a close while the thread may still run. */
    drop_hash_cache(&e, "big");
    ck_assert_int_eq(vfs_open_read(e.anon, "/big", 0, &f), 0);
    ssize_t r;
    while ((r = vfs_read(f, buf, 300000)) > 0)
        ;
    ck_assert_int_eq(r, 0);
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);
    drop_hash_cache(&e, "big");
    ck_assert_int_eq(vfs_open_read(e.anon, "/big", 0, &f), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_gt(vfs_read(f, buf, 300000), 0);
    vfs_close(f, false); /* stops the thread mid-way: no leak, no hang */

    /* An upload in odd-sized writes: copies through the ring, which wraps. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/up", VFS_WRITE_NEW, 0, 0644, &f), 0);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 70001 ? n - off : 70001;
        ck_assert_int_eq(vfs_write(f, data + off, k), (ssize_t)k);
        off += k;
    }
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    ck_assert_int_eq(vfs_close(f, true), 0);
    /* The commit left the hash in the cache attribute. */
    ck_assert_int_eq(vfs_open_read(e.bob, "/up", 0, &f), 0);
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);

    /* vfs_commit: the upload becomes the file at once, the hash comes later through
     * the still open handle (re-read from the partial, now the file). */
    ck_assert_int_eq(vfs_open_write(e.alice, "/c", VFS_WRITE_NEW, 0, 0644, &f), 0);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 65536 ? n - off : 65536;
        ck_assert_int_eq(vfs_write(f, data + off, k), (ssize_t)k);
        off += k;
    }
    ck_assert_int_eq(vfs_commit(f), 0);
    ck_assert_int_eq(vfs_commit(f), 0); /* once is enough */
    struct vfs_stat cst;
    ck_assert_int_eq(vfs_stat(e.bob, "/c", 0, &cst), 0); /* visible to others now */
    ck_assert_uint_eq(cst.size, n);
    ck_assert_uint_eq(count_partials(&e), 0);
    ck_assert_int_eq(vfs_write(f, "x", 1), GW_ERR_INVAL); /* no writes after the commit */
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert_int_eq(vfs_open_read(e.bob, "/c", 0, &f), 0);
    ck_assert(vfs_sha256(f, got)); /* cached by the close */
    ck_assert(memcmp(got, want, 32) == 0);
    vfs_close(f, false);
    /* A small one (hashed inline) and an in-place write (nothing to commit). */
    ck_assert_int_eq(vfs_open_write(e.alice, "/s", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "small", 5), 5);
    ck_assert_int_eq(vfs_commit(f), 0);
    assert_content(e.bob, "/s", "small");
    ck_assert_int_eq(vfs_close(f, false), 0); /* committed stays committed */
    assert_content(e.bob, "/s", "small");
    ck_assert_int_eq(vfs_open_write(e.alice, "/s", VFS_WRITE_RESUME, 5, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "!", 1), 1);
    ck_assert_int_eq(vfs_commit(f), 0);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/s", "small!");
    ck_assert_int_eq(vfs_open_read(e.anon, "/s", 0, &f), 0);
    ck_assert_int_eq(vfs_commit(f), GW_ERR_INVAL);
    vfs_close(f, false);

    /* A gap in the writes ends the hash even with the thread running. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/gap", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, data, 2 * 1024 * 1024), 2 * 1024 * 1024);
    ck_assert_int_eq(vfs_pwrite(f, data, 10, 3 * 1024 * 1024), 10);
    ck_assert(!vfs_sha256(f, got));
    ck_assert_int_eq(vfs_close(f, true), 0);

    /* hash_transfers = no: nothing is hashed, nothing cached. */
    drop_hash_cache(&e, "big");
    ck_assert_int_eq(vfs_open_read(e.anon, "/big", 0, &f), 0);
    vfs_hash_off(f);
    while (vfs_read(f, buf, 300000) > 0)
        ;
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);
    ck_assert_int_eq(vfs_open_read(e.anon, "/big", 0, &f), 0);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);

    free(sink);
    free(buf);
    free(data);
    env_teardown(&e);
}
END_TEST

START_TEST(test_upload_new)
{
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    int rc;
    env_setup(&e, 0);
    hmkdir(&e, "up");
    ck_assert_int_eq(vfs_open_write(e.alice, "/up/new.txt", VFS_WRITE_NEW, 0, 0640, &f), 0);
    ck_assert_int_eq(vfs_write(f, "hello ", 6), 6);
    ck_assert_int_eq(vfs_write(f, "world", 5), 5);
    ck_assert_uint_eq(vfs_tell(f), 11);
    ck_assert_int_eq(vfs_fstat(f, &st), 0);
    ck_assert(st.partial);
    ck_assert_uint_eq(st.size, 11);
    /* While it runs, nobody sees the file: not bob, not alice without VFS_SHADOW. */
    ck_assert_int_eq(vfs_stat(e.bob, "/up/new.txt", 0, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(e.bob, "/up/new.txt", VFS_SHADOW, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(e.alice, "/up/new.txt", 0, &st), GW_ERR_NOENT);
    ck_assert(get(e.bob, "/up/new.txt", NULL, &rc) == NULL && rc == GW_ERR_NOENT);
    ck_assert(get(e.alice, "/up/new.txt", NULL, &rc) == NULL && rc == GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(e.alice, "/up/new.txt", VFS_SHADOW, &st), 0);
    ck_assert(st.partial);
    ck_assert_uint_eq(st.size, 11);
    ck_assert_int_eq(vfs_opendir(e.bob, "/up", &d), 0);
    ck_assert_int_eq(vfs_readdir(d, &ent), 0); /* the partial is not listed */
    vfs_closedir(d);
    /* It sits beside the target under alice's deterministic partial name. */
    char *prel = partial_rel("alice", "up", "new.txt");
    ck_assert(hexists(&e, prel));
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert(!hexists(&e, prel));
    free(prel);
    assert_content(e.bob, "/up/new.txt", "hello world");
    ck_assert_int_eq(vfs_stat(e.alice, "/up/new.txt", VFS_SHADOW, &st), 0);
    ck_assert(!st.partial);
    mode_t um = umask(0);
    umask(um);
    ck_assert_uint_eq(st.mode & 0777, 0640 & ~um);
    ck_assert_uint_eq(count_partials(&e), 0);

    /* Argument errors. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/up/x", VFS_WRITE_NEW, 1, 0644, &f), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_open_write(e.alice, "/up", VFS_WRITE_NEW, 0, 0644, &f), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_open_write(e.alice, "/", VFS_WRITE_NEW, 0, 0644, &f), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_open_write(e.alice, "/nodir/x", VFS_WRITE_NEW, 0, 0644, &f), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_open_write(e.alice, "/up/x", (enum vfs_write_mode)42, 0, 0644, &f),
                     GW_ERR_INVAL);
    ck_assert_int_eq(vfs_open_write(e.alice, "/up/x", VFS_WRITE_RESUME, UINT64_MAX, 0644, &f),
                     GW_ERR_RANGE);
    ck_assert_uint_eq(count_partials(&e), 0);
    env_teardown(&e);
}
END_TEST

START_TEST(test_upload_replace)
{
    /* A file being replaced stays readable, unchanged, until the commit; a reader that
     * opened it before keeps the old bytes even after. */
    struct env e;
    struct vfs_file *w, *r1;
    char buf[32];
    env_setup(&e, 0);
    hwrite(&e, "f", "old content", 11);
    ck_assert_int_eq(vfs_open_read(e.bob, "/f", 0, &r1), 0);
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_NEW, 0, 0644, &w), 0);
    ck_assert_int_eq(vfs_write(w, "NEW", 3), 3);
    assert_content(e.bob, "/f", "old content");
    assert_content(e.alice, "/f", "old content");
    ck_assert_int_eq(vfs_close(w, true), 0);
    assert_content(e.bob, "/f", "NEW");
    ck_assert_int_eq(vfs_read(r1, buf, sizeof buf), 11);
    ck_assert(memcmp(buf, "old content", 11) == 0);
    vfs_close(r1, false);

    /* Aborted: the old file stays, the partial waits for alice. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_NEW, 0, 0644, &w), 0);
    ck_assert_int_eq(vfs_write(w, "abc", 3), 3);
    ck_assert_int_eq(vfs_close(w, false), 0);
    assert_content(e.bob, "/f", "NEW");
    ck_assert_uint_eq(count_partials(&e), 1);
    env_teardown(&e);
}
END_TEST

START_TEST(test_upload_sha256)
{
    struct env e;
    struct vfs_file *f;
    unsigned char want[32], got[32];
    size_t n = 300000;
    unsigned char *data = random_bytes(n);
    env_setup(&e, 0);
    sha256(data, n, want);
    ck_assert_int_eq(vfs_open_write(e.alice, "/big", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, data, 1000), 1000);
    ck_assert_int_eq(vfs_pwrite(f, data + 1000, 99000, 1000), 99000); /* in order */
    /* The sequential offset is still 1000: this rewrites a byte already hashed. */
    ck_assert_int_eq(vfs_write(f, data + 1000, 1), 1);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, false);

    ck_assert_int_eq(vfs_open_write(e.alice, "/big", VFS_WRITE_NEW, 0, 0644, &f), 0);
    for (size_t off = 0; off < n; off += 65536)
        ck_assert_int_gt(vfs_write(f, data + off, n - off < 65536 ? n - off : 65536), 0);
    ck_assert(vfs_sha256(f, got));
    ck_assert(memcmp(got, want, 32) == 0);
    ck_assert_uint_eq(vfs_bytes(f), n);
    ck_assert_int_eq(vfs_close(f, true), 0);
    size_t len;
    char *s = hread(&e, "big", &len);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(s, data, n) == 0);
    free(s);

    /* A gap, or a truncation below what was hashed: unknown. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/gap", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_pwrite(f, "x", 1, 10), 1);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, true);
    ck_assert_int_eq(vfs_open_write(e.alice, "/trunc", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "abcdef", 6), 6);
    ck_assert_int_eq(vfs_ftruncate(f, 3), 0);
    ck_assert(!vfs_sha256(f, got));
    vfs_close(f, true);
    assert_content(e.bob, "/trunc", "abc");
    free(data);
    env_teardown(&e);
}
END_TEST

/* ---- resume --------------------------------------------------------------------------- */

START_TEST(test_resume_partial)
{
    /* An upload interrupted three times is invisible to bob throughout, and alice's
     * resumes (offset from VFS_SHADOW, like SIZE + REST + STOR) complete it
     * byte-identical. */
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    int rc;
    size_t n = 1 << 20;
    unsigned char *data = random_bytes(n);
    env_setup(&e, 0);
    size_t cut[] = {0, 100000, 100001, 700000, n};
    for (size_t i = 0; i + 1 < sizeof cut / sizeof cut[0]; i++) {
        uint64_t off = 0;
        if (i > 0) {
            ck_assert_int_eq(vfs_stat(e.alice, "/data.bin", VFS_SHADOW, &st), 0);
            ck_assert(st.partial);
            off = st.size;
            ck_assert_uint_eq(off, cut[i]);
        }
        ck_assert_int_eq(vfs_open_write(e.alice, "/data.bin", i ? VFS_WRITE_RESUME : VFS_WRITE_NEW,
                                        off, 0644, &f),
                         0);
        ck_assert_uint_eq(vfs_start_offset(f), off);
        ck_assert_int_eq(vfs_write(f, data + cut[i], cut[i + 1] - cut[i]),
                         (ssize_t)(cut[i + 1] - cut[i]));
        bool last = i + 2 == sizeof cut / sizeof cut[0];
        unsigned char h[32];
        /* Known only for the first handle: it saw every byte of the file from 0. */
        ck_assert(vfs_sha256(f, h) == (i == 0));
        ck_assert_int_eq(vfs_close(f, last), 0);
        if (!last) {
            ck_assert(get(e.bob, "/data.bin", NULL, &rc) == NULL && rc == GW_ERR_NOENT);
            ck_assert_int_eq(vfs_stat(e.bob, "/data.bin", VFS_SHADOW, &st), GW_ERR_NOENT);
        }
    }
    size_t len;
    char *s = get(e.bob, "/data.bin", &len, &rc);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(s, data, n) == 0);
    free(s);
    ck_assert_uint_eq(count_partials(&e), 0);
    free(data);
    env_teardown(&e);
}
END_TEST

START_TEST(test_resume_rules)
{
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    env_setup(&e, 0);

    /* Resume beyond the partial: RANGE. Append: at the partial's end. */
    put(e.alice, "/p", "12345", 5, false);
    ck_assert_int_eq(vfs_open_write(e.alice, "/p", VFS_WRITE_RESUME, 6, 0644, &f), GW_ERR_RANGE);
    ck_assert_int_eq(vfs_open_write(e.alice, "/p", VFS_WRITE_APPEND, 0, 0644, &f), 0);
    ck_assert_uint_eq(vfs_tell(f), 5);
    ck_assert_uint_eq(vfs_start_offset(f), 5);
    ck_assert_int_eq(vfs_write(f, "678", 3), 3);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/p", "12345678");

    /* Resume never truncates; REST + STOR semantics come from vfs_ftruncate. */
    put(e.alice, "/q", "abcdef", 6, false);
    ck_assert_int_eq(vfs_open_write(e.alice, "/q", VFS_WRITE_RESUME, 2, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "X", 1), 1);
    ck_assert_int_eq(vfs_close(f, false), 0);
    ck_assert_int_eq(vfs_stat(e.alice, "/q", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, 6);
    ck_assert_int_eq(vfs_open_write(e.alice, "/q", VFS_WRITE_RESUME, 3, 0644, &f), 0);
    ck_assert_int_eq(vfs_ftruncate(f, 3), 0);
    ck_assert_int_eq(vfs_write(f, "Z", 1), 1);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/q", "abXZ");

    /* No partial, no file: offset 0 is new content (via a partial), beyond is RANGE. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/r", VFS_WRITE_RESUME, 5, 0644, &f), GW_ERR_RANGE);
    ck_assert_int_eq(vfs_open_write(e.alice, "/r", VFS_WRITE_RESUME, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "r", 1), 1);
    ck_assert_int_eq(vfs_stat(e.bob, "/r", 0, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/r", "r");
    ck_assert_int_eq(vfs_open_write(e.alice, "/s", VFS_WRITE_APPEND, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/s", 0, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/s", "");

    /* A pending partial wins over the complete file: the target stays as it was. */
    hwrite(&e, "t", "complete", 8);
    put(e.alice, "/t", "part", 4, false);
    ck_assert_int_eq(vfs_stat(e.alice, "/t", VFS_SHADOW, &st), 0);
    ck_assert(st.partial);
    ck_assert_uint_eq(st.size, 4);
    ck_assert_int_eq(vfs_stat(e.bob, "/t", VFS_SHADOW, &st), 0);
    ck_assert(!st.partial);
    ck_assert_uint_eq(st.size, 8);
    ck_assert_int_eq(vfs_open_write(e.alice, "/t", VFS_WRITE_APPEND, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "ial", 3), 3);
    assert_content(e.bob, "/t", "complete");
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/t", "partial");

    /* Bob's resume of the same name knows nothing of alice's partial. */
    put(e.alice, "/u", "alice", 5, false);
    ck_assert_int_eq(vfs_open_write(e.bob, "/u", VFS_WRITE_RESUME, 1, 0644, &f), GW_ERR_RANGE);
    put(e.bob, "/u", "bob", 3, false);
    ck_assert_int_eq(vfs_stat(e.alice, "/u", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, 5);
    ck_assert_int_eq(vfs_stat(e.bob, "/u", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, 3);
    ck_assert_uint_eq(count_partials(&e), 2);
    env_teardown(&e);
}
END_TEST

START_TEST(test_in_place)
{
    /* No partial pending: writes at an offset modify the complete file in place,
     * visible at once, as every FTP and SFTP server does. */
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    env_setup(&e, 0);
    hwrite(&e, "f", "0123456789", 10);
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_RESUME, 11, 0644, &f), GW_ERR_RANGE);
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_RESUME, 3, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "abc", 3), 3);
    assert_content(e.bob, "/f", "012abc6789");
    ck_assert_int_eq(vfs_fstat(f, &st), 0);
    ck_assert(!st.partial);
    ck_assert_int_eq(vfs_fsync(f), 0);
    ck_assert_int_eq(vfs_close(f, false), 0); /* nothing to commit either way */
    assert_content(e.bob, "/f", "012abc6789");
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_APPEND, 0, 0644, &f), 0);
    ck_assert_uint_eq(vfs_tell(f), 10);
    ck_assert_int_eq(vfs_write(f, "XY", 2), 2);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/f", "012abc6789XY");
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_RESUME, 12, 0644, &f), 0);
    ck_assert_int_eq(vfs_pwrite(f, "!", 1, 0), 1);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/f", "!12abc6789XY");
    /* A full rewrite from 0 in place hashes the whole file. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_RESUME, 0, 0644, &f), 0);
    unsigned char h[32], want[32];
    ck_assert_int_eq(vfs_write(f, "0123456789ab", 12), 12);
    ck_assert(vfs_sha256(f, h));
    sha256("0123456789ab", 12, want);
    ck_assert(memcmp(h, want, 32) == 0);
    vfs_close(f, true);
    ck_assert_uint_eq(count_partials(&e), 0);
    env_teardown(&e);
}
END_TEST

START_TEST(test_excl)
{
    struct env e;
    struct vfs_file *f;
    env_setup(&e, 0);
    hwrite(&e, "f", "x", 1);
    char *l = hpath(&e, "dangling");
    ck_assert_int_eq(symlink("nowhere", l), 0);
    free(l);
    ck_assert_int_eq(vfs_open_write(e.alice, "/f", VFS_WRITE_EXCL, 0, 0644, &f), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_open_write(e.alice, "/dangling", VFS_WRITE_EXCL, 0, 0644, &f),
                     GW_ERR_EXIST);
    ck_assert_int_eq(vfs_open_write(e.alice, "/g", VFS_WRITE_EXCL, 1, 0644, &f), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_open_write(e.alice, "/g", VFS_WRITE_EXCL, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "g", 1), 1);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(e.bob, "/g", "g");
    /* Someone else creates the name while the upload runs: the commit refuses. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/h", VFS_WRITE_EXCL, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "mine", 4), 4);
    put(e.bob, "/h", "bob's", 5, true);
    ck_assert_int_eq(vfs_close(f, true), GW_ERR_EXIST);
    assert_content(e.alice, "/h", "bob's");
    env_teardown(&e);
}
END_TEST

START_TEST(test_large_offsets)
{
    /* Offsets above 4 GiB: a sparse 5 GiB file read, written in place and resumed. */
    struct env e;
    struct vfs_file *f;
    struct vfs_stat st;
    char buf[8];
    const uint64_t G4 = 4ull << 30, size = 5ull << 30;
    env_setup(&e, 0);
    char *p = hpath(&e, "sparse");
    ck_assert_int_eq(truncate(p, 0) == 0 || errno == ENOENT, 1);
    tu_write_file(p, "", 0);
    ck_assert_int_eq(truncate(p, (off_t)size), 0);
    ck_assert_int_eq(vfs_stat(e.alice, "/sparse", 0, &st), 0);
    ck_assert_uint_eq(st.size, size);

    ck_assert_int_eq(vfs_open_write(e.alice, "/sparse", VFS_WRITE_RESUME, G4 + 10, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "XYZ", 3), 3);
    ck_assert_uint_eq(vfs_tell(f), G4 + 13);
    ck_assert_int_eq(vfs_pwrite(f, "Q", 1, size - 1), 1);
    ck_assert_int_eq(vfs_close(f, true), 0);
    int fd = open(p, O_RDONLY);
    ck_assert_int_eq(pread(fd, buf, 3, (off_t)(G4 + 10)), 3);
    ck_assert(memcmp(buf, "XYZ", 3) == 0);
    close(fd);

    ck_assert_int_eq(vfs_open_read(e.bob, "/sparse", G4 + 9, &f), 0);
    ck_assert_int_eq(vfs_read(f, buf, 5), 5);
    ck_assert(memcmp(buf, "\0XYZ\0", 5) == 0);
    ck_assert_int_eq(vfs_pread(f, buf, 4, size - 1), 1);
    ck_assert_int_eq(buf[0], 'Q');
    vfs_close(f, false);
    ck_assert_int_eq(vfs_open_read(e.bob, "/sparse", size + 1, &f), GW_ERR_RANGE);

    /* A partial past 4 GiB: shadow size, resume, commit. */
    ck_assert_int_eq(vfs_open_write(e.alice, "/big", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_ftruncate(f, G4 + 100), 0);
    ck_assert_int_eq(vfs_close(f, false), 0);
    ck_assert_int_eq(vfs_stat(e.alice, "/big", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, G4 + 100);
    ck_assert_int_eq(vfs_open_write(e.alice, "/big", VFS_WRITE_RESUME, st.size, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "END", 3), 3);
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/big", 0, &st), 0);
    ck_assert_uint_eq(st.size, G4 + 103);
    free(p);
    env_teardown(&e);
}
END_TEST

/* ---- partial lifetime ---------------------------------------------------------------- */

START_TEST(test_ttl)
{
    struct env e;
    struct vfs_stat st;
    struct vfs_file *f;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    size_t removed = 99;
    env_setup(&e, 60);
    hmkdir(&e, "d");
    hmkdir(&e, "d/sub");

    /* Alice's own expired partial: no longer shadows, and is gone. */
    put(e.alice, "/d/a", "aaaa", 4, false);
    char *pa = partial_rel("alice", "d", "a");
    hage(&e, pa, 3600);
    ck_assert_int_eq(vfs_stat(e.alice, "/d/a", VFS_SHADOW, &st), GW_ERR_NOENT);
    ck_assert(!hexists(&e, pa));

    /* An expired partial is not resumed: the offset is checked against nothing. */
    put(e.alice, "/d/a", "aaaa", 4, false);
    hage(&e, pa, 3600);
    ck_assert_int_eq(vfs_open_write(e.alice, "/d/a", VFS_WRITE_RESUME, 4, 0644, &f), GW_ERR_RANGE);
    ck_assert(!hexists(&e, pa));

    /* Listing removes anyone's expired partials in the directory, keeps fresh ones. */
    put(e.bob, "/d/b", "bbbb", 4, false);
    put(e.bob, "/d/c", "cccc", 4, false);
    char *pb = partial_rel("bob", "d", "b"), *pc = partial_rel("bob", "d", "c");
    hage(&e, pb, 3600);
    ck_assert_int_eq(vfs_opendir(e.alice, "/d", &d), 0);
    while (vfs_readdir(d, &ent) > 0)
        ck_assert_str_eq(ent.name, "sub");
    vfs_closedir(d);
    ck_assert(!hexists(&e, pb));
    ck_assert(hexists(&e, pc));
    /* A read-only view lists without removing anything. */
    hage(&e, pc, 3600);
    ck_assert_int_eq(vfs_opendir(e.anon, "/d", &d), 0);
    while (vfs_readdir(d, &ent) > 0)
        ;
    vfs_closedir(d);
    ck_assert(hexists(&e, pc));

    /* The sweep: recursive, counts, spares fresh partials and follows no symlink. */
    put(e.bob, "/d/sub/x", "x", 1, false);
    put(e.bob, "/d/sub/y", "y", 1, false);
    put(e.bob, "/top", "t", 1, false);
    char *px = partial_rel("bob", "d/sub", "x"), *py = partial_rel("bob", "d/sub", "y");
    char *pt = partial_rel("bob", "", "top");
    hage(&e, px, 3600);
    hage(&e, pt, 3600);
    char *outside = NULL, *link = hpath(&e, "out");
    ck_assert_int_ge(asprintf(&outside, "%s/outside", e.top), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    char *bait = NULL;
    ck_assert_int_ge(asprintf(&bait, "%s/.ferry~0000000000000000", outside), 0);
    tu_write_file(bait, "b", 1);
    struct timespec old[2] = {{0, UTIME_OMIT}, {1, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, bait, old, 0), 0);
    ck_assert_int_eq(symlink(outside, link), 0);
    ck_assert_int_eq(vfs_purge_partials(e.anon, "/", true, &removed), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_purge_partials(e.alice, "/d", false, &removed), 0);
    ck_assert_uint_eq(removed, 1); /* pc */
    ck_assert(hexists(&e, px));
    ck_assert_int_eq(vfs_purge_partials(e.alice, "/", true, &removed), 0);
    ck_assert_uint_eq(removed, 2); /* px, pt */
    ck_assert(!hexists(&e, px) && !hexists(&e, pt) && !hexists(&e, pc));
    ck_assert(hexists(&e, py));
    ck_assert_int_eq(access(bait, F_OK), 0);
    ck_assert_int_eq(vfs_purge_partials(e.alice, "/nope", true, NULL), GW_ERR_NOENT);
    free(pa);
    free(pb);
    free(pc);
    free(px);
    free(py);
    free(pt);
    free(outside);
    free(link);
    free(bait);
    env_teardown(&e);
}
END_TEST

START_TEST(test_partial_name)
{
    char a[32], b[32], c[32];
    ck_assert_int_eq(vfs_partial_name("alice", "f", a, sizeof a), 0);
    ck_assert_uint_eq(strlen(a), strlen(VFS_PARTIAL_PREFIX) + 16);
    ck_assert(strncmp(a, VFS_PARTIAL_PREFIX, strlen(VFS_PARTIAL_PREFIX)) == 0);
    ck_assert_int_eq(vfs_partial_name("alice", "f", b, sizeof b), 0);
    ck_assert_str_eq(a, b); /* deterministic */
    ck_assert_int_eq(vfs_partial_name("bob", "f", c, sizeof c), 0);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(vfs_partial_name("alice", "g", c, sizeof c), 0);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(vfs_partial_name("ab", "c", b, sizeof b), 0);
    ck_assert_int_eq(vfs_partial_name("a", "bc", c, sizeof c), 0);
    ck_assert_str_ne(b, c);
    ck_assert_int_eq(vfs_partial_name("alice", "f", a, 23), GW_ERR_TOOLONG);
    ck_assert_int_eq(vfs_partial_name("alice", "", a, sizeof a), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_partial_name(NULL, "f", a, sizeof a), GW_ERR_INVAL);
}
END_TEST

/* ---- directories ---------------------------------------------------------------------- */

START_TEST(test_readdir)
{
    struct env e;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    env_setup(&e, 0);
    hmkdir(&e, "d");
    hwrite(&e, "d/file", "12345", 5);
    hmkdir(&e, "d/sub");
    char *l = hpath(&e, "d/link");
    ck_assert_int_eq(symlink("/etc/passwd", l), 0);
    free(l);
    put(e.alice, "/d/pending", "p", 1, false);
    put(e.bob, "/d/file", "replacement", 11, false);
    int seen = 0, r;
    ck_assert_int_eq(vfs_opendir(e.alice, "/d", &d), 0);
    while ((r = vfs_readdir(d, &ent)) > 0) {
        ck_assert(!ent.st.partial);
        if (strcmp(ent.name, "file") == 0) {
            ck_assert(S_ISREG(ent.st.mode));
            ck_assert_uint_eq(ent.st.size, 5);
            ck_assert_uint_eq(ent.st.nlink, 1);
            seen |= 1;
        } else if (strcmp(ent.name, "sub") == 0) {
            ck_assert(S_ISDIR(ent.st.mode));
            seen |= 2;
        } else if (strcmp(ent.name, "link") == 0) {
            ck_assert(S_ISLNK(ent.st.mode)); /* lstat: never followed */
            ck_assert_uint_eq(ent.st.size, strlen("/etc/passwd"));
            seen |= 4;
        } else {
            ck_abort_msg("unexpected entry '%s'", ent.name);
        }
    }
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(vfs_readdir(d, &ent), 0);
    vfs_closedir(d);
    vfs_closedir(NULL);
    ck_assert_int_eq(seen, 7);
    ck_assert_int_eq(vfs_opendir(e.alice, "/d/file", &d), GW_ERR_NOTDIR);
    ck_assert_int_eq(vfs_opendir(e.alice, "/nope", &d), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_opendir(e.alice, "/d/", &d), GW_ERR_INVAL);
    env_teardown(&e);
}
END_TEST

START_TEST(test_mkdir_rmdir)
{
    struct env e;
    struct vfs_stat st;
    env_setup(&e, 0);
    ck_assert_int_eq(vfs_mkdir(e.alice, "/d", 0750), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/d", 0, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(vfs_mkdir(e.alice, "/d", 0750), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_mkdir(e.alice, "/", 0750), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_mkdir(e.alice, "/x/y", 0750), GW_ERR_NOENT);
    /* A directory holding only partials lists as empty and can be removed. */
    put(e.alice, "/d/a", "a", 1, false);
    put(e.bob, "/d/b", "b", 1, false);
    ck_assert_int_eq(vfs_rmdir(e.alice, "/d"), 0);
    ck_assert(!hexists(&e, "d"));
    ck_assert_int_eq(vfs_mkdir(e.alice, "/d", 0750), 0);
    put(e.alice, "/d/a", "a", 1, true);
    put(e.alice, "/d/b", "b", 1, false);
    ck_assert_int_eq(vfs_rmdir(e.alice, "/d"), GW_ERR_NOTEMPTY);
    ck_assert_uint_eq(count_partials(&e), 1); /* a failed rmdir keeps pending uploads */
    ck_assert_int_eq(vfs_rmdir(e.alice, "/d/a"), GW_ERR_NOTDIR);
    ck_assert_int_eq(vfs_rmdir(e.alice, "/"), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_rmdir(e.alice, "/nope"), GW_ERR_NOENT);
    env_teardown(&e);
}
END_TEST

START_TEST(test_unlink)
{
    struct env e;
    struct vfs_stat st;
    env_setup(&e, 0);
    hwrite(&e, "f", "x", 1);
    ck_assert_int_eq(vfs_unlink(e.alice, "/f"), 0);
    ck_assert(!hexists(&e, "f"));
    ck_assert_int_eq(vfs_unlink(e.alice, "/f"), GW_ERR_NOENT);
    /* Deleting what alice sees includes her pending upload... */
    hwrite(&e, "g", "x", 1);
    put(e.alice, "/g", "partial", 7, false);
    put(e.bob, "/g", "bobs", 4, false);
    ck_assert_int_eq(vfs_unlink(e.alice, "/g"), 0);
    ck_assert_int_eq(vfs_stat(e.alice, "/g", VFS_SHADOW, &st), GW_ERR_NOENT);
    /* ... but never bob's. */
    ck_assert_int_eq(vfs_stat(e.bob, "/g", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, 4);
    /* Only a partial: deleting it succeeds. */
    put(e.alice, "/h", "partial", 7, false);
    ck_assert_int_eq(vfs_unlink(e.alice, "/h"), 0);
    ck_assert_uint_eq(count_partials(&e), 1);
    hmkdir(&e, "d");
    ck_assert_int_eq(vfs_unlink(e.alice, "/d"), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_unlink(e.alice, "/"), GW_ERR_BUSY);
    env_teardown(&e);
}
END_TEST

/* An upload cancelled: only the caller's partial goes, never the file or bob's. */
START_TEST(test_discard_partial)
{
    struct env e;
    struct vfs_stat st;
    env_setup(&e, 0);
    hwrite(&e, "g", "file", 4);
    put(e.alice, "/g", "partial", 7, false);
    put(e.bob, "/g", "bobs", 4, false);
    ck_assert_uint_eq(count_partials(&e), 2);
    ck_assert_int_eq(vfs_discard_partial(e.alice, "/g"), 0);
    ck_assert_uint_eq(count_partials(&e), 1);
    ck_assert(hexists(&e, "g"));
    ck_assert_int_eq(vfs_stat(e.alice, "/g", VFS_SHADOW, &st), 0);
    ck_assert_uint_eq(st.size, 4); /* the file itself again, not a partial */
    ck_assert(!st.partial);
    ck_assert_int_eq(vfs_stat(e.bob, "/g", VFS_SHADOW, &st), 0);
    ck_assert(st.partial);
    ck_assert_int_eq(vfs_discard_partial(e.alice, "/g"), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_discard_partial(e.alice, "/none"), GW_ERR_NOENT);
    /* a partial of a new name: the name stays absent */
    put(e.alice, "/n", "partial", 7, false);
    ck_assert_int_eq(vfs_discard_partial(e.alice, "/n"), 0);
    ck_assert_int_eq(vfs_stat(e.alice, "/n", VFS_SHADOW, &st), GW_ERR_NOENT);
    env_teardown(&e);
}
END_TEST

START_TEST(test_rename)
{
    struct env e;
    env_setup(&e, 0);
    hwrite(&e, "a", "A", 1);
    hwrite(&e, "b", "B", 1);
    hmkdir(&e, "d");
    ck_assert_int_eq(vfs_rename(e.alice, "/a", "/b", false), GW_ERR_EXIST);
    assert_content(e.bob, "/b", "B");
    ck_assert_int_eq(vfs_rename(e.alice, "/a", "/b", true), 0);
    assert_content(e.bob, "/b", "A");
    ck_assert(!hexists(&e, "a"));
    ck_assert_int_eq(vfs_rename(e.alice, "/b", "/d/c", false), 0);
    ck_assert_int_eq(vfs_rename(e.alice, "/d", "/e", false), 0);
    assert_content(e.bob, "/e/c", "A");
    ck_assert_int_eq(vfs_rename(e.alice, "/nope", "/x", false), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_rename(e.alice, "/", "/x", false), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_rename(e.alice, "/e", "/", true), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_rename(e.alice, "/e", "/e/sub", false), GW_ERR_INVAL);
    env_teardown(&e);
}
END_TEST

/* ---- attributes and links ------------------------------------------------------------ */

START_TEST(test_attrs)
{
    struct env e;
    struct vfs_stat st;
    struct vfs_statvfs sv;
    env_setup(&e, 0);
    hwrite(&e, "f", "x", 1);
    ck_assert_int_eq(vfs_set_mtime(e.alice, "/f", 1234567890), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/f", 0, &st), 0);
    ck_assert_int_eq(st.mtime, 1234567890);
    ck_assert_int_eq(vfs_set_mtime(e.alice, "/nope", 1), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_chmod(e.alice, "/f", 04751), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/f", 0, &st), 0);
    ck_assert_uint_eq(st.mode & 07777, 0751);
    ck_assert_int_eq(vfs_statvfs(e.alice, "/", &sv), 0);
    ck_assert(!sv.read_only);
    ck_assert_uint_gt(sv.blocks, 0);
    ck_assert_int_eq(vfs_statvfs(e.anon, "/f", &sv), 0);
    ck_assert(sv.read_only);
    env_teardown(&e);
}
END_TEST

START_TEST(test_links)
{
    struct env e;
    char buf[64];
    struct vfs_stat st;
    env_setup(&e, 0);
    hmkdir(&e, "d");
    hwrite(&e, "d/f", "F", 1);
    ck_assert_int_eq(vfs_symlink(e.alice, "f", "/d/l"), 0);
    ck_assert_int_eq(vfs_readlink(e.bob, "/d/l", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "f");
    assert_content(e.bob, "/d/l", "F");
    ck_assert_int_eq(vfs_symlink(e.alice, "/d/f", "/abs"), 0); /* virtual absolute */
    ck_assert_int_eq(vfs_readlink(e.bob, "/abs", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "d/f");
    assert_content(e.bob, "/abs", "F");
    /* ".." stops at the root, like any client path: /d/../../../x is /x. */
    ck_assert_int_eq(vfs_symlink(e.alice, "../../../x", "/d/up"), 0);
    ck_assert_int_eq(vfs_readlink(e.bob, "/d/up", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "../x");
    ck_assert_int_eq(vfs_symlink(e.alice, "../../..", "/d/self"), 0);
    ck_assert_int_eq(vfs_readlink(e.bob, "/d/self", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "..");
    ck_assert_int_eq(vfs_readlink(e.bob, "/d/up", buf, 4), GW_ERR_TOOLONG);
    ck_assert_int_eq(vfs_readlink(e.bob, "/d/f", buf, sizeof buf), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_readlink(e.bob, "/", buf, sizeof buf), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_symlink(e.alice, "", "/x"), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_symlink(e.alice, "f", "/d/l"), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_symlink(e.alice, "f", "/"), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_link(e.alice, "/d/f", "/hard"), 0);
    ck_assert_int_eq(vfs_stat(e.bob, "/hard", 0, &st), 0);
    ck_assert_uint_eq(st.nlink, 2);
    ck_assert_int_eq(vfs_link(e.alice, "/d/f", "/hard"), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_link(e.alice, "/", "/r"), GW_ERR_PERM);
    ck_assert_int_eq(vfs_link(e.alice, "/d/f", "/"), GW_ERR_EXIST);
    env_teardown(&e);
}
END_TEST

/* ---- read-only views and mounts ------------------------------------------------------ */

static void assert_all_writes_refused(struct vfs *v, const char *dir, const char *file)
{
    struct vfs_file *f;
    char p[GW_MAX_PATH];
    snprintf(p, sizeof p, "%s/newname", dir);
    static const enum vfs_write_mode modes[] = {VFS_WRITE_NEW, VFS_WRITE_RESUME, VFS_WRITE_APPEND,
                                                VFS_WRITE_EXCL};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(vfs_open_write(v, file, modes[i], 0, 0644, &f), GW_ERR_ROFS);
        ck_assert_int_eq(vfs_open_write(v, p, modes[i], 0, 0644, &f), GW_ERR_ROFS);
    }
    ck_assert_int_eq(vfs_mkdir(v, p, 0755), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_rmdir(v, dir), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_unlink(v, file), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_rename(v, file, p, true), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_set_mtime(v, file, 1), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_chmod(v, file, 0777), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_symlink(v, file, p), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_link(v, file, p), GW_ERR_ROFS);
    ck_assert_int_eq(vfs_purge_partials(v, dir, true, NULL), GW_ERR_ROFS);
}

START_TEST(test_read_only)
{
    struct env e;
    struct vfs_stat st;
    env_setup(&e, 0);
    hmkdir(&e, "d");
    hwrite(&e, "d/f", "content", 7);
    const char *snap = "find . -printf '%p %s %m %T@\\n' | sort";
    ck_assert_int_eq(tu_sh("cd '%s' && %s > ../before", e.root, snap), 0);
    assert_all_writes_refused(e.anon, "/d", "/d/f");
    assert_content(e.anon, "/d/f", "content");
    ck_assert_int_eq(tu_sh("cd '%s' && %s > ../after && cmp -s ../before ../after", e.root, snap),
                     0);
    /* A read-only user view refuses the same, even with an owner name. */
    struct vfs *ro = view(e.root, "alice", true, 0);
    put(e.alice, "/d/f", "pending", 7, false);
    assert_all_writes_refused(ro, "/d", "/d/f");
    /* ... and its stats are never shadowed by that user's partials. */
    ck_assert_int_eq(vfs_stat(ro, "/d/f", VFS_SHADOW, &st), 0);
    ck_assert(!st.partial);
    ck_assert_uint_eq(st.size, 7);
    vfs_free(ro);
    env_teardown(&e);
}
END_TEST

struct mounts {
    struct env e;
    char *mdir1, *mdir2;
    void *be1, *be2;
    struct vfs *v;
};

static void mounts_setup(struct mounts *m, bool ro2)
{
    env_setup(&m->e, 0);
    ck_assert_int_ge(asprintf(&m->mdir1, "%s/m1", m->e.top), 0);
    ck_assert_int_ge(asprintf(&m->mdir2, "%s/m2", m->e.top), 0);
    ck_assert_int_eq(mkdir(m->mdir1, 0755), 0);
    ck_assert_int_eq(mkdir(m->mdir2, 0755), 0);
    ck_assert_int_eq(vfs_local_new(m->mdir1, &m->be1), 0);
    ck_assert_int_eq(vfs_local_new(m->mdir2, &m->be2), 0);
    struct vfs_mount mt[2] = {
        {.prefix = "/m", .ops = &vfs_local_ops, .backend = m->be1},
        {.prefix = "/m/n", .ops = &vfs_local_ops, .backend = m->be2, .read_only = ro2},
    };
    struct vfs_options o = {.root = m->e.root, .owner = "alice", .mounts = mt, .nmounts = 2};
    ck_assert_int_eq(vfs_open(&o, &m->v), 0); /* copies the mount table */
}

static void mounts_teardown(struct mounts *m)
{
    vfs_free(m->v);
    vfs_local_ops.free(m->be1);
    vfs_local_ops.free(m->be2);
    free(m->mdir1);
    free(m->mdir2);
    env_teardown(&m->e);
}

START_TEST(test_mounts)
{
    struct mounts m;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    struct vfs_stat st;
    struct vfs_file *f;
    mounts_setup(&m, false);
    hmkdir(&m.e, "m"); /* the root's own "m" is hidden behind the mount */
    hwrite(&m.e, "m/hidden", "h", 1);
    hwrite(&m.e, "rootfile", "r", 1);
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/one", m.mdir1), 0);
    tu_write_file(p, "ONE", 3);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/two", m.mdir2), 0);
    tu_write_file(p, "TWO", 3);
    free(p);

    assert_content(m.v, "/m/one", "ONE");
    assert_content(m.v, "/m/n/two", "TWO"); /* longest prefix wins */
    ck_assert_int_eq(vfs_stat(m.v, "/m/hidden", 0, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_stat(m.v, "/m/n", 0, &st), 0);
    ck_assert(S_ISDIR(st.mode));

    int seen_m = 0, seen_root = 0;
    ck_assert_int_eq(vfs_opendir(m.v, "/", &d), 0);
    while (vfs_readdir(d, &ent) > 0) {
        seen_m += strcmp(ent.name, "m") == 0;
        seen_root += strcmp(ent.name, "rootfile") == 0;
        if (strcmp(ent.name, "m") == 0)
            ck_assert(S_ISDIR(ent.st.mode));
    }
    vfs_closedir(d);
    ck_assert_int_eq(seen_m, 1);
    ck_assert_int_eq(seen_root, 1);
    int seen_one = 0, seen_n = 0;
    ck_assert_int_eq(vfs_opendir(m.v, "/m", &d), 0);
    while (vfs_readdir(d, &ent) > 0) {
        seen_one += strcmp(ent.name, "one") == 0;
        seen_n += strcmp(ent.name, "n") == 0;
    }
    vfs_closedir(d);
    ck_assert_int_eq(seen_one, 1);
    ck_assert_int_eq(seen_n, 1);

    /* Uploads into a mount use its backend, partial and all. */
    ck_assert_int_eq(vfs_open_write(m.v, "/m/up", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "UP", 2), 2);
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert_int_ge(asprintf(&p, "%s/up", m.mdir1), 0);
    char *s = tu_read_file(p, NULL);
    ck_assert_str_eq(s, "UP");
    free(s);
    free(p);

    ck_assert_int_eq(vfs_rename(m.v, "/m/up", "/up", false), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_rename(m.v, "/m/one", "/m/n/one", false), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_link(m.v, "/m/one", "/one"), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_symlink(m.v, "/m/one", "/l"), GW_ERR_ESCAPE);
    ck_assert_int_eq(vfs_rename(m.v, "/m", "/x", false), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_rmdir(m.v, "/m/n"), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_mkdir(m.v, "/m", 0755), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_open_write(m.v, "/m/n", VFS_WRITE_NEW, 0, 0644, &f), GW_ERR_ISDIR);
    mounts_teardown(&m);
}
END_TEST

START_TEST(test_read_only_mount)
{
    struct mounts m;
    struct vfs_statvfs sv;
    mounts_setup(&m, true);
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/two", m.mdir2), 0);
    tu_write_file(p, "TWO", 3);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/sub", m.mdir2), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    assert_content(m.v, "/m/n/two", "TWO");
    assert_all_writes_refused(m.v, "/m/n/sub", "/m/n/two");
    ck_assert_int_eq(vfs_statvfs(m.v, "/m/n", &sv), 0);
    ck_assert(sv.read_only);
    ck_assert_int_eq(vfs_statvfs(m.v, "/m", &sv), 0);
    ck_assert(!sv.read_only);
    put(m.v, "/m/ok", "ok", 2, true); /* the writable mount beside it */
    put(m.v, "/ok", "ok", 2, true);
    mounts_teardown(&m);
}
END_TEST

/* ---- a backend without file descriptors ------------------------------------------------ */

#define MEM_FILES 16

struct memfile {
    bool used;
    char name[64];
    unsigned char *data;
    size_t len;
};

struct membe {
    struct memfile f[MEM_FILES];
};

struct memfh {
    struct memfile *file;
    size_t pos;
};

struct memdh {
    struct membe *b;
    int i;
};

static struct memfile *mem_find(struct membe *b, const char *name)
{
    for (int i = 0; i < MEM_FILES; i++)
        if (b->f[i].used && strcmp(b->f[i].name, name) == 0)
            return &b->f[i];
    return NULL;
}

static int mem_stat(void *be, const char *path, bool follow, struct vfs_stat *st)
{
    (void)follow;
    memset(st, 0, sizeof *st);
    if (!*path) {
        st->mode = S_IFDIR | 0755;
        return 0;
    }
    struct memfile *f = mem_find(be, path);
    if (!f)
        return GW_ERR_NOENT;
    st->mode = S_IFREG | 0644;
    st->size = f->len;
    st->mtime = time(NULL);
    return 0;
}

static int mem_open(void *be, const char *path, int flags, uint32_t mode, uint64_t offset,
                    void **fh)
{
    (void)mode;
    struct membe *b = be;
    struct memfile *f = mem_find(b, path);
    if (f && (flags & O_EXCL))
        return GW_ERR_EXIST;
    if (!f && !(flags & O_CREAT))
        return GW_ERR_NOENT;
    for (int i = 0; !f && i < MEM_FILES; i++)
        if (!b->f[i].used) {
            f = &b->f[i];
            f->used = true;
            snprintf(f->name, sizeof f->name, "%s", path);
            f->len = 0;
        }
    if (!f)
        return GW_ERR_NOSPC;
    if (flags & O_TRUNC)
        f->len = 0;
    if (offset > f->len)
        return GW_ERR_RANGE;
    struct memfh *h = calloc(1, sizeof *h);
    h->file = f;
    h->pos = offset;
    *fh = h;
    return 0;
}

static ssize_t mem_read(void *fh, void *buf, size_t n)
{
    struct memfh *h = fh;
    size_t k = h->file->len - h->pos < n ? h->file->len - h->pos : n;
    memcpy(buf, h->file->data + h->pos, k);
    h->pos += k;
    return (ssize_t)k;
}

static ssize_t mem_write(void *fh, const void *buf, size_t n)
{
    struct memfh *h = fh;
    if (h->pos + n > h->file->len) {
        h->file->data = realloc(h->file->data, h->pos + n);
        h->file->len = h->pos + n;
    }
    memcpy(h->file->data + h->pos, buf, n);
    h->pos += n;
    return (ssize_t)n;
}

static int mem_fstat(void *fh, struct vfs_stat *st)
{
    struct memfh *h = fh;
    memset(st, 0, sizeof *st);
    st->mode = S_IFREG | 0644;
    st->size = h->file->len;
    return 0;
}

static int mem_close(void *fh)
{
    free(fh);
    return 0;
}

static int mem_rename(void *be, const char *from, const char *to, bool overwrite)
{
    struct membe *b = be;
    struct memfile *f = mem_find(b, from), *t = mem_find(b, to);
    if (!f)
        return GW_ERR_NOENT;
    if (t && !overwrite)
        return GW_ERR_EXIST;
    if (t) {
        free(t->data);
        memset(t, 0, sizeof *t);
    }
    snprintf(f->name, sizeof f->name, "%s", to);
    return 0;
}

static int mem_unlink(void *be, const char *path)
{
    struct memfile *f = mem_find(be, path);
    if (!f)
        return GW_ERR_NOENT;
    free(f->data);
    memset(f, 0, sizeof *f);
    return 0;
}

static int mem_opendir(void *be, const char *path, void **dh)
{
    if (*path)
        return GW_ERR_NOTDIR;
    struct memdh *d = calloc(1, sizeof *d);
    d->b = be;
    *dh = d;
    return 0;
}

static int mem_readdir(void *dh, const char **name, struct vfs_stat *st)
{
    struct memdh *d = dh;
    while (d->i < MEM_FILES) {
        struct memfile *f = &d->b->f[d->i++];
        if (f->used) {
            *name = f->name;
            return mem_stat(d->b, f->name, false, st) == 0 ? 1 : GW_ERR_IO;
        }
    }
    return 0;
}

static void mem_closedir(void *dh)
{
    free(dh);
}

static const struct vfs_ops mem_ops = {
    .name = "mem",
    .stat = mem_stat,
    .open = mem_open,
    .read = mem_read,
    .write = mem_write,
    .fstat = mem_fstat,
    .close = mem_close,
    .opendir = mem_opendir,
    .readdir = mem_readdir,
    .closedir = mem_closedir,
    .rename = mem_rename,
    .unlink = mem_unlink,
};

START_TEST(test_fdless_backend)
{
    struct env e;
    struct membe mb;
    struct vfs *v, *w;
    struct vfs_file *f;
    struct vfs_stat st;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    unsigned char h[32], want[32];
    char buf[8];
    memset(&mb, 0, sizeof mb);
    env_setup(&e, 0);
    struct vfs_mount mt = {.prefix = "/mem", .ops = &mem_ops, .backend = &mb};
    struct vfs_options o = {.root = e.root, .owner = "alice", .mounts = &mt, .nmounts = 1};
    ck_assert_int_eq(vfs_open(&o, &v), 0);
    o.owner = "bob";
    ck_assert_int_eq(vfs_open(&o, &w), 0);

    ck_assert_int_eq(vfs_open_write(v, "/mem/f", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_fd(f), -1);
    ck_assert_int_eq(vfs_write(f, "hello", 5), 5);
    ck_assert_int_eq(vfs_pwrite(f, "x", 1, 5), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_fsync(f), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_stat(w, "/mem/f", VFS_SHADOW, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_close(f, false), 0);
    ck_assert_int_eq(vfs_stat(v, "/mem/f", VFS_SHADOW, &st), 0);
    ck_assert(st.partial);
    ck_assert_int_eq(vfs_open_write(v, "/mem/f", VFS_WRITE_RESUME, st.size, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, " world", 6), 6);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(w, "/mem/f", "hello world");
    ck_assert_int_eq(vfs_opendir(w, "/mem", &d), 0);
    int n = 0;
    while (vfs_readdir(d, &ent) > 0) {
        ck_assert_str_eq(ent.name, "f");
        n++;
    }
    vfs_closedir(d);
    ck_assert_int_eq(n, 1);

    ck_assert_int_eq(vfs_open_write(v, "/mem/g", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "abc", 3), 3);
    ck_assert(vfs_sha256(f, h));
    sha256("abc", 3, want);
    ck_assert(memcmp(h, want, 32) == 0);
    ck_assert_int_eq(vfs_close(f, true), 0);
    ck_assert_int_eq(vfs_open_read(w, "/mem/g", 1, &f), 0);
    ck_assert_int_eq(vfs_read(f, buf, sizeof buf), 2);
    ck_assert_int_eq(vfs_pread(f, buf, 1, 0), GW_ERR_NOTSUP);
    vfs_close(f, false);
    /* vfs_commit on a backend that writes on close: closed first, renamed, the hash
     * kept for vfs_sha256; the handle then only closes. */
    ck_assert_int_eq(vfs_open_write(v, "/mem/c", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, "abc", 3), 3);
    ck_assert_int_eq(vfs_commit(f), 0);
    assert_content(w, "/mem/c", "abc");
    ck_assert(vfs_sha256(f, h));
    ck_assert(memcmp(h, want, 32) == 0);
    ck_assert_int_eq(vfs_fstat(f, &st), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_fd(f), -1);
    ck_assert_int_eq(vfs_write(f, "d", 1), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_close(f, true), 0);
    assert_content(w, "/mem/c", "abc");
    ck_assert_int_eq(vfs_unlink(v, "/mem/c"), 0);
    ck_assert_int_eq(vfs_mkdir(v, "/mem/d", 0755), GW_ERR_NOTSUP);
    ck_assert_int_eq(vfs_unlink(v, "/mem/g"), 0);
    vfs_free(v);
    vfs_free(w);
    for (int i = 0; i < MEM_FILES; i++)
        free(mb.f[i].data);
    env_teardown(&e);
}
END_TEST

Suite *gateway_vfs_suite(void)
{
    Suite *s = suite_create("gateway/vfs");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"vfs_open", test_open},
        {"vfs_stat", test_stat},
        {"vfs_open_read", test_open_read},
        {"vfs_open_stat", test_open_stat},
        {"vfs_sha256 (read)", test_sha256_read},
        {"vfs_sha256 (helper thread)", test_sha256_async},
        {"vfs_open_write NEW", test_upload_new},
        {"vfs_open_write replace", test_upload_replace},
        {"vfs_sha256 (upload)", test_upload_sha256},
        {"vfs_open_write RESUME (partial)", test_resume_partial},
        {"vfs_open_write RESUME/APPEND rules", test_resume_rules},
        {"vfs_open_write in place", test_in_place},
        {"vfs_open_write EXCL", test_excl},
        {"offsets above 4 GiB", test_large_offsets},
        {"partial ttl / vfs_purge_partials", test_ttl},
        {"vfs_partial_name", test_partial_name},
        {"vfs_readdir", test_readdir},
        {"vfs_mkdir/vfs_rmdir", test_mkdir_rmdir},
        {"vfs_unlink", test_unlink},
        {"vfs_discard_partial", test_discard_partial},
        {"vfs_rename", test_rename},
        {"vfs_set_mtime/chmod/statvfs", test_attrs},
        {"vfs_symlink/readlink/link", test_links},
        {"read-only views", test_read_only},
        {"mounts", test_mounts},
        {"read-only mount", test_read_only_mount},
        {"backend without fds", test_fdless_backend},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
    }
    return s;
}
