/* Unit tests for ftp/vfs_ftp.c, the upstream FTP mount backend, and the pull-style
 * transfers it adds to ftp/ftpc.c (ftpc_xfer_*, ftpc_command). Runs against a real
 * pyftpdlib server (tests/peers/pyftpd.py) on a free loopback port, serving the tricky
 * tree of tests/peers/make_tree.sh plus a few directories made here; every check
 * compares what the backend says with the files on disk. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftp/ftpc.h"
#include "ftp/vfs_ftp.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/vfs.h"

/* ---- the server ------------------------------------------------------------------ */

static char *top;  /* temp dir: tree/, port, pid, log */
static char *tree; /* what the server serves */
static char url[256];
static bool server_ok;

/* FERRY_VFSFTP_PEER=vsftpd|pure-ftpd|proftpd runs the suite against that server of
 * tests/peers/peers.sh instead of pyftpdlib (a developer's check, as root; a few checks
 * that only pyftpdlib can pass, such as MFMT, are skipped there). */
static const char *peer_kind(void)
{
    const char *k = getenv("FERRY_VFSFTP_PEER");
    return k && *k && strcmp(k, "pyftpdlib") != 0 ? k : NULL;
}

static const char *src(void)
{
    const char *s = getenv("FERRY_SRC");
    return s && *s ? s : ".";
}

static void server_start(void)
{
    char pf[4096];
    top = tu_mkdtemp("vfsftp");
    ck_assert_int_ge(asprintf(&tree, "%s/tree", top), 0);
    ck_assert_int_eq(tu_sh("bash '%s/tests/peers/make_tree.sh' '%s'", src(), tree), 0);
    /* Directories whose names are all in one charset, so detection is decidable. */
    ck_assert_int_eq(
        tu_sh("cd '%s' && mkdir -p enc/utf8 enc/latin1 w && echo u1 > enc/utf8/café.txt"
              " && echo u2 > enc/utf8/日本語.txt"
              " && echo l1 > \"enc/latin1/$(printf 'r\\351sum\\351.txt')\""
              " && echo l2 > \"enc/latin1/$(printf 'caf\\351 cr\\350me.txt')\"",
              tree),
        0);
    size_t n;
    if (peer_kind()) {
        /* Another server of tests/peers/peers.sh, for a developer's run (see peer_kind). */
        snprintf(pf, sizeof pf, "%s/url", top);
        ck_assert_int_eq(
            tu_sh("cd '%s' || exit 1; bash -c '. tests/peers/peers.sh; trap \"exit 0\" TERM;"
                  " peer_start %s \"$0\" user || exit 1; echo \"$PEER_URL\" >\"$1.tmp\";"
                  " mv \"$1.tmp\" \"$1\"; wait' '%s' '%s' >'%s/log' 2>&1 &"
                  " echo $! >'%s/pid'",
                  src(), peer_kind(), tree, pf, top, top),
            0);
        for (int i = 0; i < 600 && access(pf, F_OK) != 0; i++)
            usleep(50 * 1000);
        char *u = tu_read_file(pf, &n);
        u[strcspn(u, "\n")] = '\0';
        snprintf(url, sizeof url, "%s", u);
        free(u);
    } else {
        snprintf(pf, sizeof pf, "%s/port", top);
        ck_assert_int_eq(tu_sh("TZ=UTC /usr/bin/python3 '%s/tests/peers/pyftpd.py' --dir '%s'"
                               " --user u:p --port-file '%s' >'%s/log' 2>&1 & echo $! >'%s/pid'",
                               src(), tree, pf, top, top),
                         0);
        for (int i = 0; i < 200 && access(pf, F_OK) != 0; i++)
            usleep(50 * 1000);
        char *port = tu_read_file(pf, &n);
        snprintf(url, sizeof url, "ftp://u:p@127.0.0.1:%ld/", strtol(port, NULL, 10));
        free(port);
    }
    server_ok = true;
}

static void server_stop(void)
{
    if (top) {
        /* peers.sh cleans up (users it made) when its shell exits: wait for that. */
        tu_sh("p=$(cat '%s/pid'); kill $p 2>/dev/null; i=0;"
              " while kill -0 $p 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done",
              top);
        tu_rmtree(top);
    }
    free(top);
    free(tree);
    top = tree = NULL;
}

/* ---- helpers --------------------------------------------------------------------- */

struct be {
    const struct vfs_ops *ops;
    void *b;
};

static struct be mount_opts(const char *encoding, int64_t ttl, bool ro)
{
    struct cfg_mount m = {.prefix = "/legacy",
                          .url = url,
                          .encoding = (char *)encoding,
                          .listing = "auto",
                          .timezone = "",
                          .read_only = ro,
                          .cache_ttl = ttl};
    struct be be;
    char err[256] = "";
    ck_assert_msg(server_ok, "pyftpdlib did not start");
    ck_assert_int_eq(ftpc_mount_new(&m, &be.ops, &be.b, err, sizeof err), 0);
    return be;
}

static struct be mount(void)
{
    return mount_opts("auto", 30, false);
}

static void unmount(struct be be)
{
    be.ops->free(be.b);
}

static char *disk(const char *rel)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", tree, rel), 0);
    return p;
}

static char *disk_read(const char *rel, size_t *len)
{
    char *p = disk(rel);
    char *s = tu_read_file(p, len);
    free(p);
    return s;
}

static bool disk_exists(const char *rel)
{
    struct stat st;
    char *p = disk(rel);
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

/* Reads a whole file through the backend (sequential reads). */
static char *be_read_all(struct be be, const char *path, size_t *len)
{
    void *fh = NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_int_eq(be.ops->open(be.b, path, O_RDONLY, 0, 0, &fh), 0);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = be.ops->read(fh, buf + n, cap - n);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    ck_assert_int_eq(be.ops->close(fh), 0);
    *len = n;
    return buf;
}

static void be_write_file(struct be be, const char *path, const void *data, size_t len,
                          size_t chunk)
{
    void *fh = NULL;
    ck_assert_int_eq(be.ops->open(be.b, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, &fh), 0);
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        ck_assert_int_eq(be.ops->write(fh, (const char *)data + off, k), (ssize_t)k);
    }
    ck_assert_int_eq(be.ops->close(fh), 0);
}

static int count_entries(struct be be, const char *path, const char *want, struct vfs_stat *st)
{
    void *dh = NULL;
    const char *name;
    struct vfs_stat s;
    int n = 0, rc;
    ck_assert_int_eq(be.ops->opendir(be.b, path, &dh), 0);
    while ((rc = be.ops->readdir(dh, &name, &s)) == 1) {
        if (want && strcmp(name, want) == 0) {
            if (st)
                *st = s;
            n += 1000;
        }
        n++;
    }
    ck_assert_int_eq(rc, 0);
    be.ops->closedir(dh);
    return n;
}

static char *random_bytes(size_t n)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(rand() & 0xff);
    return p;
}

/* ---- ftpc_mount_new -------------------------------------------------------------- */

START_TEST(test_mount_new)
{
    struct cfg_mount m = {.prefix = "/x",
                          .url = "http://example/",
                          .encoding = "auto",
                          .listing = "auto",
                          .timezone = "",
                          .cache_ttl = 30};
    const struct vfs_ops *ops;
    void *b;
    char err[256] = "";
    ck_assert_int_eq(ftpc_mount_new(&m, &ops, &b, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_ptr_null(ops);
    ck_assert_ptr_nonnull(strstr(err, "scheme"));
    m.url = url;
    m.encoding = "no-such-charset";
    ck_assert_int_eq(ftpc_mount_new(&m, &ops, &b, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "no-such-charset"));
    m.encoding = "latin1";
    ck_assert_int_eq(ftpc_mount_new(&m, &ops, &b, err, sizeof err), 0);
    ck_assert_ptr_eq(ops, &ftpc_mount_ops);
    /* No connection yet: the root is a directory without asking the server. */
    struct vfs_stat st;
    ck_assert_int_eq(ops->stat(b, "", true, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ops->free(b);
}
END_TEST

/* ---- stat ------------------------------------------------------------------------ */

START_TEST(test_stat)
{
    struct be be = mount();
    struct vfs_stat st;
    ck_assert_int_eq(be.ops->stat(be.b, "plain.txt", true, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_uint_eq(st.size, 1000);
    ck_assert_int_eq(be.ops->stat(be.b, "old-2001.txt", true, &st), 0);
    struct tm tm = {.tm_year = 101, .tm_mon = 5, .tm_mday = 15, .tm_hour = 12, .tm_min = 34};
    if (peer_kind()) /* LIST gives old files' dates without the time */
        ck_assert_int_eq(st.mtime / 86400, (int64_t)timegm(&tm) / 86400);
    else
        ck_assert_int_eq(st.mtime, (int64_t)timegm(&tm));
    ck_assert_int_eq(be.ops->stat(be.b, "sparse-5g.bin", true, &st), 0);
    ck_assert_uint_eq(st.size, 5ull << 30);
    ck_assert_int_eq(be.ops->stat(be.b, "nested", true, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(be.ops->stat(be.b, "nested/a/b/deep.bin", true, &st), 0);
    ck_assert_uint_eq(st.size, 4096);
    ck_assert_int_eq(be.ops->stat(be.b, " leading space.txt", true, &st), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "trailing space.txt ", true, &st), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "arrow -> name.txt", true, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_int_eq(be.ops->stat(be.b, "link-to-plain", true, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_uint_eq(st.size, 1000);
    ck_assert_int_eq(be.ops->stat(be.b, "nope", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->stat(be.b, "nope/deeper", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->stat(be.b, "enc/utf8/日本語.txt", true, &st), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "enc/latin1/résumé.txt", true, &st), 0);
    ck_assert_uint_eq(st.size, 3);
    unmount(be);
}
END_TEST

/* ---- opendir / readdir ----------------------------------------------------------- */

START_TEST(test_readdir)
{
    static const char *const want[] = {" leading space.txt",
                                       "trailing space.txt ",
                                       "café.txt",
                                       "日本語.txt",
                                       "latin1-%E9.txt",
                                       "arrow -> name.txt",
                                       "link-to-plain",
                                       "empty-dir",
                                       "nested",
                                       "sparse-5g.bin",
                                       "old-2001.txt",
                                       "last-week.txt",
                                       "plain.txt",
                                       "random.bin",
                                       "enc",
                                       "w"};
    /* Forced UTF-8: the one Latin-1 byte cannot decode and shows as its escape. */
    struct be be = mount_opts("UTF-8", 30, false);
    struct vfs_stat st;
    size_t nwant = sizeof want / sizeof want[0];
    ck_assert_int_eq(count_entries(be, "", NULL, NULL), (int)nwant);
    for (size_t i = 0; i < nwant; i++)
        ck_assert_msg(count_entries(be, "", want[i], NULL) > 1000, "missing '%s'", want[i]);
    count_entries(be, "", "sparse-5g.bin", &st);
    ck_assert_uint_eq(st.size, 5ull << 30);
    count_entries(be, "", "empty-dir", &st);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(count_entries(be, "empty-dir", NULL, NULL), 0);
    ck_assert_int_eq(count_entries(be, "nested/a", "b", &st), 1001);
    ck_assert(S_ISDIR(st.mode));
    /* The escaped name reaches the raw bytes. */
    size_t n;
    char *s = be_read_all(be, "latin1-%E9.txt", &n);
    ck_assert_int_eq(n, 7);
    ck_assert_mem_eq(s, "latin1\n", 7);
    free(s);
    void *dh;
    ck_assert_int_eq(be.ops->opendir(be.b, "plain.txt", &dh), GW_ERR_NOTDIR);
    ck_assert_int_eq(be.ops->opendir(be.b, "nope", &dh), GW_ERR_NOENT);
    unmount(be);

    /* Detected: a directory of Latin-1 names decodes to the real letters. */
    be = mount();
    ck_assert_int_eq(count_entries(be, "enc/latin1", "résumé.txt", NULL), 1002);
    ck_assert_int_eq(count_entries(be, "enc/latin1", "café crème.txt", NULL), 1002);
    ck_assert_int_eq(count_entries(be, "enc/utf8", "日本語.txt", NULL), 1002);
    s = be_read_all(be, "enc/latin1/café crème.txt", &n);
    ck_assert_int_eq(n, 3);
    ck_assert_mem_eq(s, "l2\n", 3);
    free(s);
    unmount(be);
}
END_TEST

/* ---- open / read / pread --------------------------------------------------------- */

START_TEST(test_read)
{
    struct be be = mount();
    size_t n, dn;
    char *s = be_read_all(be, "random.bin", &n);
    char *d = disk_read("random.bin", &dn);
    ck_assert_uint_eq(n, dn);
    ck_assert_mem_eq(s, d, n);
    free(s);
    s = be_read_all(be, " leading space.txt", &n);
    ck_assert_mem_eq(s, "leading\n", 8);
    free(s);

    /* Positional reads: forward skip, backwards restart, far jump restart. */
    void *fh;
    char buf[64];
    ck_assert_int_eq(be.ops->open(be.b, "random.bin", O_RDONLY, 0, 0, &fh), 0);
    ck_assert_int_eq(be.ops->pread(fh, buf, 10, 50000), 10);
    ck_assert_mem_eq(buf, d + 50000, 10);
    ck_assert_int_eq(be.ops->pread(fh, buf, 10, 60000), 10);
    ck_assert_mem_eq(buf, d + 60000, 10);
    ck_assert_int_eq(be.ops->pread(fh, buf, 10, 5), 10);
    ck_assert_mem_eq(buf, d + 5, 10);
    ck_assert_int_eq(be.ops->pread(fh, buf, 64, 99990), 10);
    ck_assert_mem_eq(buf, d + 99990, 10);
    ck_assert_int_eq(be.ops->pread(fh, buf, 64, 100000), 0);
    struct vfs_stat st;
    ck_assert_int_eq(be.ops->fstat(fh, &st), 0);
    ck_assert_uint_eq(st.size, 100000);
    ck_assert_int_eq(be.ops->close(fh), 0);
    free(d);

    /* Above 4 GiB, with REST. */
    ck_assert_int_eq(be.ops->open(be.b, "sparse-5g.bin", O_RDONLY, 0, 0, &fh), 0);
    ck_assert_int_eq(be.ops->pread(fh, buf, 9, (4ull << 30) + 17), 9);
    ck_assert_mem_eq(buf, "past-4GiB", 9);
    ck_assert_int_eq(be.ops->close(fh), 0); /* closes mid-file: aborts the download */

    /* The aborted connection does not spoil the next file. */
    s = be_read_all(be, "nested/a/b/deep.bin", &n);
    d = disk_read("nested/a/b/deep.bin", &dn);
    ck_assert_uint_eq(n, dn);
    ck_assert_mem_eq(s, d, n);
    free(s);
    free(d);

    ck_assert_int_eq(be.ops->open(be.b, "plain.txt", O_RDONLY, 0, 1001, &fh), GW_ERR_RANGE);
    ck_assert_int_eq(be.ops->open(be.b, "nested", O_RDONLY, 0, 0, &fh), GW_ERR_ISDIR);
    ck_assert_int_eq(be.ops->open(be.b, "nope", O_RDONLY, 0, 0, &fh), GW_ERR_NOENT);
    unmount(be);
}
END_TEST

/* ---- open / write / pwrite ------------------------------------------------------- */

START_TEST(test_write)
{
    struct be be = mount();
    size_t n = 700000, dn;
    char *data = random_bytes(n);
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/up", 0755), 0);
    be_write_file(be, "w/up/new.bin", data, n, 65536 + 7);
    char *d = disk_read("w/up/new.bin", &dn);
    ck_assert_uint_eq(dn, n);
    ck_assert_mem_eq(d, data, n);
    free(d);
    struct vfs_stat st;
    ck_assert_int_eq(be.ops->stat(be.b, "w/up/new.bin", true, &st), 0);
    ck_assert_uint_eq(st.size, n);

    /* Continue at the end (APPE); writing inside the file is not FTP. */
    void *fh;
    ck_assert_int_eq(be.ops->open(be.b, "w/up/new.bin", O_WRONLY, 0644, n, &fh), 0);
    ck_assert_int_eq(be.ops->pwrite(fh, "tail", 4, n), 4);
    ck_assert_int_eq(be.ops->pwrite(fh, "x", 1, 3), GW_ERR_NOTSUP);
    ck_assert_int_eq(be.ops->fstat(fh, &st), 0);
    ck_assert_uint_eq(st.size, n + 4);
    ck_assert_int_eq(be.ops->ftruncate(fh, n + 4), 0);
    ck_assert_int_eq(be.ops->close(fh), 0);
    d = disk_read("w/up/new.bin", &dn);
    ck_assert_uint_eq(dn, n + 4);
    ck_assert_mem_eq(d + n, "tail", 4);
    free(d);
    ck_assert_int_eq(be.ops->open(be.b, "w/up/new.bin", O_WRONLY, 0644, 10, &fh), GW_ERR_NOTSUP);
    ck_assert_int_eq(be.ops->open(be.b, "w/up/new.bin", O_WRONLY | O_CREAT | O_EXCL, 0644, 0, &fh),
                     GW_ERR_EXIST);
    ck_assert_int_eq(be.ops->open(be.b, "w/up", O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, &fh),
                     GW_ERR_ISDIR);

    /* New names are encoded: UTF-8 stays UTF-8, an escape becomes its raw byte. */
    unmount(be);
    be = mount_opts("UTF-8", 30, false);
    be_write_file(be, "w/up/naïve.txt", "n\n", 2, 100);
    ck_assert(disk_exists("w/up/naïve.txt"));
    be_write_file(be, "w/up/raw-%E9.txt", "r\n", 2, 100);
    ck_assert(disk_exists("w/up/raw-\351.txt"));
    unmount(be);

    be = mount_opts("auto", 30, true);
    ck_assert_int_eq(be.ops->open(be.b, "w/ro.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644, 0, &fh),
                     GW_ERR_ROFS);
    unmount(be);
    free(data);
}
END_TEST

/* ---- mkdir / rmdir / unlink / rename --------------------------------------------- */

START_TEST(test_namespace)
{
    struct be be = mount();
    struct vfs_stat st;
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/ns", 0755), 0);
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/ns", 0755), GW_ERR_EXIST);
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/nope/deeper", 0755), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->mkdir(be.b, "", 0755), GW_ERR_EXIST);
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/ns/sub", 0755), 0);
    be_write_file(be, "w/ns/a.txt", "aaa", 3, 10);
    be_write_file(be, "w/ns/b.txt", "bbbb", 4, 10);

    /* Rename in one directory, across directories, and over an existing file. */
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns/a.txt", "w/ns/a2.txt", false), 0);
    ck_assert(disk_exists("w/ns/a2.txt") && !disk_exists("w/ns/a.txt"));
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns/a2.txt", "w/ns/sub/a3 moved.txt", false), 0);
    ck_assert(disk_exists("w/ns/sub/a3 moved.txt"));
    ck_assert_int_eq(be.ops->stat(be.b, "w/ns/sub/a3 moved.txt", true, &st), 0);
    ck_assert_uint_eq(st.size, 3);
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns/b.txt", "w/ns/sub/a3 moved.txt", false),
                     GW_ERR_EXIST);
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns/b.txt", "w/ns/sub/a3 moved.txt", true), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "w/ns/sub/a3 moved.txt", true, &st), 0);
    ck_assert_uint_eq(st.size, 4);
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns/none", "w/ns/x", false), GW_ERR_NOENT);
    /* Names with leading and trailing spaces survive commands as they do transfers. (New
     * names get no trailing space, and MKD no leading one: pure-ftpd makes those '_'.) */
    ck_assert_int_eq(be.ops->rename(be.b, "trailing space.txt ", "w/ns/ lead moved.txt", false), 0);
    ck_assert(disk_exists("w/ns/ lead moved.txt") && !disk_exists("trailing space.txt "));
    ck_assert_int_eq(be.ops->rename(be.b, " leading space.txt", "w/ns/ lead2", false), 0);
    ck_assert(disk_exists("w/ns/ lead2") && !disk_exists(" leading space.txt"));
    ck_assert_int_eq(be.ops->unlink(be.b, "w/ns/ lead2"), 0);
    ck_assert_int_eq(be.ops->unlink(be.b, "w/ns/ lead moved.txt"), 0);
    ck_assert(!disk_exists("w/ns/ lead2") && !disk_exists("w/ns/ lead moved.txt"));
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/ns/spaced dir", 0755), 0);
    ck_assert(disk_exists("w/ns/spaced dir"));
    ck_assert_int_eq(be.ops->rmdir(be.b, "w/ns/spaced dir"), 0);
    ck_assert(!disk_exists("w/ns/spaced dir"));
    ck_assert_int_eq(be.ops->rename(be.b, "", "w/x", false), GW_ERR_BUSY);

    ck_assert_int_eq(be.ops->rmdir(be.b, "w/ns/sub"), GW_ERR_NOTEMPTY);
    ck_assert_int_eq(be.ops->unlink(be.b, "w/ns/sub"), GW_ERR_ISDIR);
    ck_assert_int_eq(be.ops->rmdir(be.b, "w/ns/sub/a3 moved.txt"), GW_ERR_NOTDIR);
    ck_assert_int_eq(be.ops->unlink(be.b, "w/ns/sub/a3 moved.txt"), 0);
    ck_assert(!disk_exists("w/ns/sub/a3 moved.txt"));
    ck_assert_int_eq(be.ops->unlink(be.b, "w/ns/sub/a3 moved.txt"), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->rmdir(be.b, "w/ns/sub"), 0);
    ck_assert(!disk_exists("w/ns/sub"));
    ck_assert_int_eq(be.ops->rmdir(be.b, ""), GW_ERR_BUSY);

    /* A renamed directory's contents follow it. */
    be_write_file(be, "w/ns/c.txt", "c", 1, 10);
    ck_assert_int_eq(count_entries(be, "w/ns", "c.txt", NULL), 1001);
    ck_assert_int_eq(be.ops->rename(be.b, "w/ns", "w/ns2", false), 0);
    ck_assert_int_eq(count_entries(be, "w/ns2", "c.txt", NULL), 1001);
    ck_assert_int_eq(be.ops->stat(be.b, "w/ns/c.txt", true, &st), GW_ERR_NOENT);
    unmount(be);

    be = mount_opts("auto", 30, true);
    ck_assert_int_eq(be.ops->mkdir(be.b, "w/ro", 0755), GW_ERR_ROFS);
    ck_assert_int_eq(be.ops->unlink(be.b, "plain.txt"), GW_ERR_ROFS);
    ck_assert_int_eq(be.ops->rename(be.b, "plain.txt", "p2", true), GW_ERR_ROFS);
    ck_assert_int_eq(be.ops->stat(be.b, "plain.txt", true, &st), 0);
    ck_assert_uint_eq(st.mode & 0777, 0444);
    unmount(be);
}
END_TEST

/* ---- set_mtime / chmod / readlink ------------------------------------------------ */

START_TEST(test_set_mtime)
{
    struct be be = mount();
    struct vfs_stat st;
    struct stat hs;
    be_write_file(be, "w/t.txt", "t", 1, 10);
    if (peer_kind() && strcmp(peer_kind(), "vsftpd") == 0) { /* no MFMT, no SITE CHMOD */
        ck_assert_int_eq(be.ops->set_mtime(be.b, "w/t.txt", 1000000000), GW_ERR_NOTSUP);
        unmount(be);
        return;
    }
    ck_assert_int_eq(be.ops->set_mtime(be.b, "w/t.txt", 1000000000), 0);
    char *p = disk("w/t.txt");
    ck_assert_int_eq(stat(p, &hs), 0);
    ck_assert_int_eq(hs.st_mtime, 1000000000);
    ck_assert_int_eq(be.ops->stat(be.b, "w/t.txt", true, &st), 0);
    ck_assert_int_eq(st.mtime, 1000000000);
    ck_assert_int_eq(be.ops->set_mtime(be.b, "w/none", 1000000000), GW_ERR_NOENT);

    ck_assert_int_eq(be.ops->chmod(be.b, "w/t.txt", 0600), 0);
    ck_assert_int_eq(stat(p, &hs), 0);
    ck_assert_uint_eq(hs.st_mode & 0777, 0600);
    free(p);

    char buf[64];
    ck_assert_int_eq(be.ops->readlink(be.b, "plain.txt", buf, sizeof buf), GW_ERR_INVAL);
    ck_assert_int_eq(be.ops->readlink(be.b, "none", buf, sizeof buf), GW_ERR_NOENT);
    unmount(be);
}
END_TEST

/* ---- the listing cache ----------------------------------------------------------- */

START_TEST(test_cache)
{
    struct be be = mount_opts("auto", 3600, false);
    struct be fresh = mount_opts("auto", 0, false);
    struct vfs_stat st;
    ck_assert_int_eq(tu_sh("mkdir -m 0777 -p '%s/w/cache' && echo 1 > '%s/w/cache/f'", tree, tree),
                     0);
    ck_assert_int_eq(be.ops->stat(be.b, "w/cache/f", true, &st), 0);
    ck_assert_int_eq(fresh.ops->stat(fresh.b, "w/cache/f", true, &st), 0);
    /* Changed behind the backends' backs: the cached listing still answers. */
    ck_assert_int_eq(tu_sh("rm '%s/w/cache/f' && echo 22 > '%s/w/cache/g'", tree, tree), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "w/cache/f", true, &st), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "w/cache/g", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(fresh.ops->stat(fresh.b, "w/cache/f", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(fresh.ops->stat(fresh.b, "w/cache/g", true, &st), 0);
    /* A change made through the backend drops what it touched. */
    be_write_file(be, "w/cache/h", "h", 1, 10);
    ck_assert_int_eq(be.ops->stat(be.b, "w/cache/g", true, &st), 0);
    ck_assert_int_eq(be.ops->stat(be.b, "w/cache/h", true, &st), 0);
    unmount(be);
    unmount(fresh);
}
END_TEST

/* ---- through the vfs layer: uploads commit by rename, partials stay hidden --------- */

START_TEST(test_vfs)
{
    struct be be = mount();
    char *root = tu_mkdtemp("vfsftp-root");
    struct vfs_mount vm = {.prefix = "/legacy", .ops = be.ops, .backend = be.b};
    struct vfs_options o = {.root = root, .owner = "alice", .mounts = &vm, .nmounts = 1};
    struct vfs *v = NULL;
    struct vfs_file *f = NULL;
    struct vfs_dir *dir = NULL;
    struct vfs_dirent ent;
    struct vfs_stat st;
    size_t n = 300000, dn;
    char *data = random_bytes(n);
    ck_assert_int_eq(vfs_open(&o, &v), 0);

    ck_assert_int_eq(vfs_mkdir(v, "/legacy/w/vfs", 0755), 0);
    ck_assert_int_eq(vfs_open_write(v, "/legacy/w/vfs/up.bin", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, data, 100000), 100000);
    /* Not there under its name until complete. */
    ck_assert(!disk_exists("w/vfs/up.bin"));
    ck_assert_int_eq(vfs_write(f, data + 100000, n - 100000), (ssize_t)(n - 100000));
    ck_assert_int_eq(vfs_close(f, true), 0);
    char *d = disk_read("w/vfs/up.bin", &dn);
    ck_assert_uint_eq(dn, n);
    ck_assert_mem_eq(d, data, n);
    free(d);

    /* Listed, without partials; read back with its SHA-256. */
    int seen = 0;
    ck_assert_int_eq(vfs_opendir(v, "/legacy/w/vfs", &dir), 0);
    while (vfs_readdir(dir, &ent) == 1) {
        ck_assert_str_eq(ent.name, "up.bin");
        seen++;
    }
    vfs_closedir(dir);
    ck_assert_int_eq(seen, 1);
    ck_assert_int_eq(vfs_stat(v, "/legacy/w/vfs/up.bin", 0, &st), 0);
    ck_assert_uint_eq(st.size, n);
    ck_assert_int_eq(vfs_open_read(v, "/legacy/w/vfs/up.bin", 0, &f), 0);
    char *back = malloc(n);
    size_t got = 0;
    ssize_t r;
    while ((r = vfs_read(f, back + got, n - got + 1)) > 0)
        got += (size_t)r;
    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(got, n);
    ck_assert_mem_eq(back, data, n);
    unsigned char h[32];
    ck_assert(vfs_sha256(f, h));
    ck_assert_int_eq(vfs_close(f, false), 0);

    /* An interrupted upload stays as the owner's partial and resumes (APPE). */
    ck_assert_int_eq(vfs_open_write(v, "/legacy/w/vfs/res.bin", VFS_WRITE_NEW, 0, 0644, &f), 0);
    ck_assert_int_eq(vfs_write(f, data, 1000), 1000);
    ck_assert_int_eq(vfs_close(f, false), 0);
    ck_assert(!disk_exists("w/vfs/res.bin"));
    ck_assert_int_eq(vfs_stat(v, "/legacy/w/vfs/res.bin", VFS_SHADOW, &st), 0);
    ck_assert(st.partial);
    ck_assert_uint_eq(st.size, 1000);
    ck_assert_int_eq(vfs_open_write(v, "/legacy/w/vfs/res.bin", VFS_WRITE_APPEND, 0, 0644, &f), 0);
    ck_assert_uint_eq(vfs_tell(f), 1000);
    ck_assert_int_eq(vfs_write(f, data + 1000, 5000), 5000);
    ck_assert_int_eq(vfs_close(f, true), 0);
    d = disk_read("w/vfs/res.bin", &dn);
    ck_assert_uint_eq(dn, 6000);
    ck_assert_mem_eq(d, data, 6000);
    free(d);
    ck_assert_int_eq(count_entries(be, "w/vfs", NULL, NULL), 2); /* no partial left */

    ck_assert_int_eq(vfs_unlink(v, "/legacy/w/vfs/res.bin"), 0);
    ck_assert(!disk_exists("w/vfs/res.bin"));
    vfs_free(v);
    tu_rmtree(root);
    free(root);
    free(back);
    free(data);
    unmount(be);
}
END_TEST

/* ---- ftpc_xfer_* / ftpc_command -------------------------------------------------- */

START_TEST(test_ftpc_xfer)
{
    char err[256] = "";
    struct ftpc *c = ftpc_new(url, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(c);
    struct ftpc_xfer *x = ftpc_xfer_new(c);
    ck_assert_ptr_nonnull(x);
    char buf[2048];

    /* A refused file shows at the first read; the handle is reusable after close. */
    ck_assert_int_eq(ftpc_xfer_open_read(x, "nope.bin", 8, 0), 0);
    ck_assert_int_eq(ftpc_xfer_read(x, buf, sizeof buf), GW_ERR_NOENT);
    ck_assert_ptr_nonnull(strstr(ftpc_xfer_error(x), "550"));
    ck_assert_int_eq(ftpc_xfer_close(x), GW_ERR_NOENT);
    ck_assert(!ftpc_xfer_busy(x));

    ck_assert_int_eq(ftpc_xfer_open_read(x, "plain.txt", 9, 990), 0);
    ck_assert_int_eq(ftpc_xfer_open_read(x, "plain.txt", 9, 0), GW_ERR_BUSY);
    ssize_t r = ftpc_xfer_read(x, buf, sizeof buf);
    ck_assert_int_eq(r, 10);
    ck_assert_int_eq(ftpc_xfer_read(x, buf, sizeof buf), 0);
    ck_assert_int_eq(ftpc_xfer_close(x), 0);
    ck_assert_uint_eq(ftpc_xfer_bytes(x), 10);

    /* Upload with several writes, then APPE. */
    ck_assert_int_eq(ftpc_xfer_open_write(x, "w/x.bin", 7, false), 0);
    for (int i = 0; i < 50; i++) {
        memset(buf, 'a' + i % 26, sizeof buf);
        ck_assert_int_eq(ftpc_xfer_write(x, buf, sizeof buf), (ssize_t)sizeof buf);
    }
    ck_assert_int_eq(ftpc_xfer_close(x), 0);
    ck_assert_int_eq(ftpc_xfer_open_write(x, "w/x.bin", 7, true), 0);
    ck_assert_int_eq(ftpc_xfer_write(x, "end", 3), 3);
    ck_assert_int_eq(ftpc_xfer_close(x), 0);
    size_t dn;
    char *d = disk_read("w/x.bin", &dn);
    ck_assert_uint_eq(dn, 50 * sizeof buf + 3);
    ck_assert_int_eq(d[0], 'a');
    ck_assert_int_eq(d[49 * sizeof buf], 'a' + 49 % 26);
    ck_assert_mem_eq(d + dn - 3, "end", 3);
    free(d);

    /* Uploading into a directory that does not exist fails at close at the latest. */
    ck_assert_int_eq(ftpc_xfer_open_write(x, "nodir/x.bin", 11, false), 0);
    r = ftpc_xfer_write(x, "abc", 3);
    int rc = ftpc_xfer_close(x);
    ck_assert(r < 0 || rc < 0);

    /* Commands: run in a directory, stop at the first refusal. */
    const char *ok[] = {"MKD cmd-dir"};
    ck_assert_int_eq(ftpc_command(c, "w", 1, ok, 1), 0);
    ck_assert(disk_exists("w/cmd-dir"));
    const char *bad[] = {"RMD no-such-dir", "RMD cmd-dir"};
    ck_assert_int_eq(ftpc_command(c, "w", 1, bad, 2), GW_ERR_NOENT);
    ck_assert_int_eq(ftpc_reply_code(c), 550);
    ck_assert(disk_exists("w/cmd-dir"));
    const char *crlf[] = {"DELE a\r\nDELE b"};
    ck_assert_int_eq(ftpc_command(c, NULL, 0, crlf, 1), GW_ERR_INVAL);
    if (!peer_kind()) {
        ck_assert(ftpc_has_feature(c, "MFMT"));
        ck_assert(ftpc_has_feature(c, "mlst"));
    }
    ck_assert(ftpc_has_feature(c, "EPSV"));
    ck_assert(!ftpc_has_feature(c, "EPS"));

    ftpc_xfer_free(x);
    ftpc_free(c);
}
END_TEST

/* ---- integrity policy (verify = auto|required) ------------------------------------ */

static struct be mount_verify(const char *verify)
{
    struct cfg_mount m = {.prefix = "/v",
                          .url = url,
                          .encoding = "auto",
                          .listing = "auto",
                          .verify = (char *)verify,
                          .key = "",
                          .timezone = "",
                          .read_only = true,
                          .cache_ttl = 30};
    struct be be;
    char err[256] = "";
    ck_assert_msg(server_ok, "pyftpdlib did not start");
    ck_assert_int_eq(ftpc_mount_new(&m, &be.ops, &be.b, err, sizeof err), 0);
    return be;
}

static void make_integ_tree(void)
{
    ck_assert_int_eq(tu_sh("mkdir -p '%s/integ' && cd '%s/integ' && printf 'good\\n' >good.txt && "
                           "printf 'original\\n' >bad.txt && printf 'orphan\\n' >orphan.txt && "
                           "sha256sum good.txt bad.txt >SHA256SUMS && printf 'evil\\n' >bad.txt && "
                           "printf 'x\\n' >.dot",
                           tree, tree),
                     0);
}

START_TEST(test_verify)
{
    make_integ_tree();
    void *fh;
    size_t n;
    struct be be = mount_verify("required");
    /* required: what nothing vouches for is not there at all */
    ck_assert_int_eq(count_entries(be, "integ", "orphan.txt", NULL), 3);
    ck_assert_int_ge(count_entries(be, "integ", "good.txt", NULL), 1000);
    ck_assert_int_ge(count_entries(be, "integ", "SHA256SUMS", NULL), 1000);
    ck_assert_int_eq(be.ops->open(be.b, "integ/orphan.txt", O_RDONLY, 0, 0, &fh), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->open(be.b, "integ/.dot", O_RDONLY, 0, 0, &fh), GW_ERR_NOENT);
    /* a good file reads byte for byte, also at an offset, from the verified copy */
    char *g = be_read_all(be, "integ/good.txt", &n);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(g, "good\n", 5);
    free(g);
    char buf[8];
    ck_assert_int_eq(be.ops->open(be.b, "integ/good.txt", O_RDONLY, 0, 0, &fh), 0);
    ck_assert_int_eq(be.ops->pread(fh, buf, 8, 2), 3);
    ck_assert_mem_eq(buf, "od\n", 3);
    ck_assert_int_eq(be.ops->close(fh), 0);
    /* the tampered file: refused, then gone from the listing and from stat */
    ck_assert_int_eq(count_entries(be, "integ", "bad.txt", NULL), 1003);
    ck_assert_int_eq(be.ops->open(be.b, "integ/bad.txt", O_RDONLY, 0, 0, &fh), GW_ERR_PERM);
    ck_assert_int_eq(count_entries(be, "integ", "bad.txt", NULL), 2);
    struct vfs_stat st;
    ck_assert_int_eq(be.ops->stat(be.b, "integ/bad.txt", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(be.ops->open(be.b, "integ/bad.txt", O_RDONLY, 0, 0, &fh), GW_ERR_NOENT);
    unmount(be);

    /* auto: the unverifiable file is listed, marked, readable only under the mark */
    be = mount_verify("auto");
    ck_assert_int_ge(count_entries(be, "integ", "orphan.txt.unverified", NULL), 1000);
    ck_assert_int_lt(count_entries(be, "integ", "orphan.txt", NULL), 1000);
    ck_assert_int_eq(be.ops->open(be.b, "integ/orphan.txt", O_RDONLY, 0, 0, &fh), GW_ERR_NOENT);
    g = be_read_all(be, "integ/orphan.txt.unverified", &n);
    ck_assert_mem_eq(g, "orphan\n", 7);
    free(g);
    ck_assert_int_eq(be.ops->open(be.b, "integ/bad.txt", O_RDONLY, 0, 0, &fh), GW_ERR_PERM);
    unmount(be);

    /* none (the default for this authenticated URL): everything as the server has it */
    be = mount_verify("");
    g = be_read_all(be, "integ/bad.txt", &n);
    ck_assert_mem_eq(g, "evil\n", 5);
    free(g);
    ck_assert_int_ge(count_entries(be, "integ", "orphan.txt", NULL), 1000);
    unmount(be);
}
END_TEST

/* Each case gets a fresh tree and server: the cases write to it. */
static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_set_timeout(tc, 120);
    return tc;
}

#define ADD_CASE(s, name, fn)                                                                      \
    do {                                                                                           \
        TCase *tc_ = tcase(name);                                                                  \
        tcase_add_test(tc_, fn);                                                                   \
        suite_add_tcase(s, tc_);                                                                   \
    } while (0)

Suite *ftp_vfs_ftp_suite(void)
{
    Suite *s = suite_create("ftp_vfs_ftp");
    ADD_CASE(s, "ftpc_mount_new", test_mount_new);
    ADD_CASE(s, "stat", test_stat);
    ADD_CASE(s, "readdir", test_readdir);
    ADD_CASE(s, "read", test_read);
    ADD_CASE(s, "write", test_write);
    ADD_CASE(s, "namespace", test_namespace);
    ADD_CASE(s, "set_mtime", test_set_mtime);
    ADD_CASE(s, "cache", test_cache);
    ADD_CASE(s, "vfs", test_vfs);
    ADD_CASE(s, "ftpc_xfer", test_ftpc_xfer);
    ADD_CASE(s, "verify", test_verify);
    return s;
}
