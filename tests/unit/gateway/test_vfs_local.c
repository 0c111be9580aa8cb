/* Unit tests for gateway/vfs_local.c: the local backend and its confinement.
 *
 * The hostile table drives client paths the way a front end does (gw_path_resolve, then
 * vfs_*), against a root that sits beside an "outside" directory full of bait, and runs
 * every row through BOTH resolution modes (openat2 and the openat fallback walk). A row
 * passes when the operation is refused with the expected error, or succeeds confined,
 * and the outside tree is byte-for-byte unchanged afterwards. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "gateway/vfs.h"

/* ---- fixture ---------------------------------------------------------------------- */

struct fx {
    char *top; /* temp dir holding root/ and outside/ */
    char *root;
    char *outside;
    struct vfs *v;      /* user alice, writable */
    void *be;           /* its local backend */
    struct gw_buf snap; /* the outside tree before the operation */
};

static char *cat(const char *a, const char *b)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", a, b), 0);
    return p;
}

static void fx_mkdir(const struct fx *f, const char *rel)
{
    char *p = cat(f->top, rel);
    ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
    free(p);
}

static void fx_write(const struct fx *f, const char *rel, const char *data)
{
    char *p = cat(f->top, rel);
    tu_write_file(p, data, strlen(data));
    free(p);
}

/* A symlink at top/rel; a target starting with '@' is made absolute below top. */
static void fx_symlink(const struct fx *f, const char *target, const char *rel)
{
    char *p = cat(f->top, rel);
    char *t = target[0] == '@' ? cat(f->top, target + 1) : strdup(target);
    if (strcmp(target, "@") == 0) {
        free(t);
        t = strdup(f->top);
    }
    ck_assert_msg(symlink(t, p) == 0, "symlink %s: %s", p, strerror(errno));
    free(p);
    free(t);
}

static char *fx_read(const struct fx *f, const char *rel)
{
    char *p = cat(f->top, rel);
    char *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

static bool fx_exists(const struct fx *f, const char *rel)
{
    struct stat st;
    char *p = cat(f->top, rel);
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

/* The hostile layout. "outside" holds everything a confined user must never reach. */
static void fx_layout(struct fx *f)
{
    fx_mkdir(f, "outside");
    fx_mkdir(f, "outside/dir");
    fx_write(f, "outside/secret", "SECRET");
    fx_write(f, "outside/hl_target", "HARDLINK");
    fx_write(f, "outside/dir/deep.txt", "DECOY");
    fx_mkdir(f, "root");
    fx_mkdir(f, "root/pub");
    fx_mkdir(f, "root/pub/sub");
    fx_mkdir(f, "root/emptydir");
    fx_mkdir(f, "root/%2e%2e");
    fx_write(f, "root/pub/file.txt", "PUBLIC");
    fx_write(f, "root/pub/sub/deep.txt", "DEEP");
    fx_write(f, "root/%2e%2e/x", "PCT");
    fx_symlink(f, "@outside/secret", "root/abs_link");
    fx_symlink(f, "@outside", "root/abs_dir");
    fx_symlink(f, "@", "root/to_top");
    fx_symlink(f, "/", "root/to_slash");
    fx_symlink(f, "/etc", "root/to_etc");
    fx_symlink(f, "/proc/self/root", "root/proc_link");
    fx_symlink(f, "../outside/secret", "root/up1");
    fx_symlink(f, "../../outside/secret", "root/pub/up2");
    fx_symlink(f, "../../outside", "root/pub/updir");
    fx_symlink(f, "file.txt", "root/pub/in_link");
    fx_symlink(f, "../pub/file.txt", "root/pub/in_up");
    fx_symlink(f, "chain2", "root/chain1");
    fx_symlink(f, "chain3", "root/chain2");
    fx_symlink(f, "up1", "root/chain3");
    fx_symlink(f, "okchain2", "root/okchain1");
    fx_symlink(f, "pub/in_link", "root/okchain2");
    fx_symlink(f, "loop2", "root/loop1");
    fx_symlink(f, "loop1", "root/loop2");
    fx_symlink(f, "self", "root/self");
    fx_symlink(f, "nonexistent", "root/dangling");
    fx_symlink(f, "../outside/newfile", "root/dangling_out");
    fx_symlink(f, "pub", "root/middir");
    fx_symlink(f, "../outside", "root/midout");
    fx_symlink(f, "pub/../../outside/secret", "root/dotdot_in_target");
    fx_symlink(f, "pub/sub/../../../outside/secret", "root/deep_escape");
    fx_symlink(f, "../root/pub/file.txt", "root/climb_back");
    fx_symlink(f, "pub/sub/../..", "root/relmid");
    /* A hard link the admin made inside the root: same inode as outside/hl_target. */
    char *a = cat(f->top, "outside/hl_target"), *b = cat(f->top, "root/hardlink_admin");
    ck_assert_int_eq(link(a, b), 0);
    free(a);
    free(b);
    char *fifo = cat(f->top, "root/fifo");
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    free(fifo);
}

static void fx_setup(struct fx *f, int mode, bool layout)
{
    memset(f, 0, sizeof *f);
    f->top = tu_mkdtemp("vfslocal");
    f->root = cat(f->top, "root");
    f->outside = cat(f->top, "outside");
    if (layout)
        fx_layout(f);
    else
        ck_assert_int_eq(mkdir(f->root, 0755), 0);
    struct vfs_options o = {.root = f->root, .owner = "alice"};
    ck_assert_int_eq(vfs_open(&o, &f->v), 0);
    f->be = vfs_root_backend(f->v);
    vfs_local_force_fallback(f->be, mode == 1);
    /* The openat2 row must really use openat2 (this kernel has it). */
    ck_assert(vfs_local_uses_fallback(f->be) == (mode == 1));
}

static void fx_teardown(struct fx *f)
{
    gw_buf_free(&f->snap);
    vfs_free(f->v);
    tu_rmtree(f->top);
    free(f->top);
    free(f->root);
    free(f->outside);
}

/* Appends to *out everything about the tree at dir that an escape could change: names,
 * types, sizes, modes, link counts, mtimes, symlink targets and file contents. Never
 * follows a symlink. With partials set, only counts names starting with the partial
 * prefix instead. */
static void tree_walk(const char *dir, const char *rel, struct gw_buf *out, int *partials)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_msg(n >= 0, "scandir %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") && strcmp(name, "..")) {
            char *p = cat(dir, name), *r = cat(rel, name);
            struct stat st;
            ck_assert_int_eq(lstat(p, &st), 0);
            if (partials) {
                *partials += strncmp(name, VFS_PARTIAL_PREFIX, 7) == 0;
            } else {
                ck_assert_int_eq(gw_buf_printf(out, "%s %o %lld %lu %lld.%09ld\n", r,
                                               (unsigned)st.st_mode, (long long)st.st_size,
                                               (unsigned long)st.st_nlink,
                                               (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec),
                                 0);
                if (S_ISREG(st.st_mode)) {
                    size_t len;
                    char *data = tu_read_file(p, &len);
                    ck_assert_int_eq(gw_buf_append(out, data, len), 0);
                    free(data);
                } else if (S_ISLNK(st.st_mode)) {
                    char t[PATH_MAX];
                    ssize_t k = readlink(p, t, sizeof t);
                    ck_assert_int_ge(k, 0);
                    ck_assert_int_eq(gw_buf_append(out, t, (size_t)k), 0);
                }
            }
            if (S_ISDIR(st.st_mode))
                tree_walk(p, r, out, partials);
            free(p);
            free(r);
        }
        free(names[i]);
    }
    free(names);
}

static void snapshot(struct fx *f)
{
    gw_buf_free(&f->snap);
    gw_buf_init(&f->snap, 1 << 24);
    tree_walk(f->outside, "", &f->snap, NULL);
}

static void assert_outside_unchanged(struct fx *f, const char *what)
{
    struct gw_buf now;
    gw_buf_init(&now, 1 << 24);
    tree_walk(f->outside, "", &now, NULL);
    ck_assert_msg(now.len == f->snap.len && memcmp(now.data, f->snap.data, now.len) == 0,
                  "%s: the outside tree changed", what);
    gw_buf_free(&now);
}

static int count_partials(const char *dir)
{
    int n = 0;
    tree_walk(dir, "", NULL, &n);
    return n;
}

/* ---- the hostile table ------------------------------------------------------------ */

enum op {
    OP_READ,
    OP_STAT,
    OP_LSTAT,
    OP_LIST,
    OP_WNEW,
    OP_WRESUME,
    OP_WAPPEND,
    OP_MKDIR,
    OP_RMDIR,
    OP_UNLINK,
    OP_RENAME,
    OP_SYMLINK, /* arg: link path, arg2: raw target as a client sends it */
    OP_LINK,
    OP_CHMOD,
    OP_MTIME,
};

struct hcase {
    const char *desc;
    enum op op;
    const char *arg; /* client path; "@LONGNAME@" "@LONGPATH@" "@DEEP@" are generated */
    size_t n;        /* 0: strlen(arg) (explicit for embedded NULs) */
    const char *arg2;
    int rc;
    const char *content;    /* OP_READ success: expected bytes */
    const char *post;       /* shell test run in the root afterwards, or NULL */
    const char *read_after; /* a client path read afterwards ... */
    int read_after_rc;      /* ... with this result */
    bool outside_changes;   /* the documented admin hard link case */
};

static const struct hcase hostile[] = {
    /* ".." in every position: clamped at the virtual root, so it names an entry inside. */
    {"dotdot relative", OP_READ, "../outside/secret", .rc = GW_ERR_NOENT},
    {"dotdot absolute", OP_READ, "/../../../../outside/secret", .rc = GW_ERR_NOENT},
    {"dotdot middle", OP_READ, "pub/../../outside/secret", .rc = GW_ERR_NOENT},
    {"dotdot deep", OP_READ, "pub/sub/../../../../../../etc/passwd", .rc = GW_ERR_NOENT},
    {"dotdot trailing", OP_LIST, "pub/sub/../../..", .rc = 0},
    {"dotdot into partial", OP_READ, "pub/../.ferry~0123456789abcdef", .rc = GW_ERR_INVAL},
    /* Encodings the front end might not decode: plain names, confined. */
    {"pct-encoded slash", OP_READ, "..%2f..%2foutside%2fsecret", .rc = GW_ERR_NOENT},
    {"pct literal dir inside", OP_READ, "%2e%2e/x", .content = "PCT"},
    {"pct literal climb", OP_READ, "%2e%2e/%2e%2e/outside/secret", .rc = GW_ERR_NOENT},
    {"pct mkdir stays inside", OP_MKDIR, "%2e%2e/%2e%2e", .post = "test -d %2e%2e/%2e%2e"},
    {"backslashes", OP_READ, "..\\..\\outside\\secret", .rc = GW_ERR_NOENT},
    {"backslash write stays a name", OP_WNEW, "..\\outside\\pwned",
     .post = "test -f '..\\outside\\pwned'"},
    {"overlong utf8 2-byte dots", OP_READ, "\xc0\xae\xc0\xae/outside/secret", .rc = GW_ERR_NOENT},
    {"overlong utf8 3-byte dots+slash", OP_READ, "\xe0\x80\xae\xe0\x80\xae\xc0\xafoutside",
     .rc = GW_ERR_NOENT},
    /* Bytes that end or split a request. */
    {"NUL truncation", OP_READ, "pub/file.txt\0/../../outside/secret", .n = 34, .rc = GW_ERR_INVAL},
    {"NUL in write", OP_WNEW, "x\0y", .n = 3, .rc = GW_ERR_INVAL},
    {"control byte", OP_READ, "pub/\001file.txt", .rc = GW_ERR_INVAL},
    {"CRLF injection", OP_READ, "pub/file.txt\r\nDELE x", .rc = GW_ERR_INVAL},
    {"escape byte", OP_MKDIR, "\x1b[31m", .rc = GW_ERR_INVAL},
    /* Partials are unreachable by any path. */
    {"partial name", OP_READ, ".ferry~0123456789abcdef", .rc = GW_ERR_INVAL},
    {"partial name in dir", OP_WNEW, "pub/.ferry~x", .rc = GW_ERR_INVAL},
    {"partial name rename target", OP_RENAME, "pub/file.txt", .arg2 = "pub/.ferry~y",
     .rc = GW_ERR_INVAL},
    /* Lengths. */
    {"name too long", OP_WNEW, "@LONGNAME@", .rc = GW_ERR_TOOLONG},
    {"path too long", OP_READ, "@LONGPATH@", .rc = GW_ERR_TOOLONG},
    {"too deep", OP_MKDIR, "@DEEP@", .rc = GW_ERR_TOOLONG},
    /* Absolute symlinks and symlinks to "/". */
    {"absolute symlink to file", OP_READ, "abs_link", .rc = GW_ERR_ESCAPE},
    {"absolute symlink dir", OP_READ, "abs_dir/secret", .rc = GW_ERR_ESCAPE},
    {"absolute symlink to top", OP_READ, "to_top/outside/secret", .rc = GW_ERR_ESCAPE},
    {"symlink to / read", OP_READ, "to_slash/etc/passwd", .rc = GW_ERR_ESCAPE},
    {"symlink to / list", OP_LIST, "to_slash", .rc = GW_ERR_ESCAPE},
    {"symlink to /etc", OP_READ, "to_etc/passwd", .rc = GW_ERR_ESCAPE},
    {"magic link /proc/self/root", OP_READ, "proc_link/etc/passwd", .rc = GW_ERR_ESCAPE},
    /* Relative symlinks climbing out. */
    {"relative up", OP_READ, "up1", .rc = GW_ERR_ESCAPE},
    {"relative up two", OP_READ, "pub/up2", .rc = GW_ERR_ESCAPE},
    {"relative up dir", OP_READ, "pub/updir/secret", .rc = GW_ERR_ESCAPE},
    {"dotdot inside target", OP_READ, "dotdot_in_target", .rc = GW_ERR_ESCAPE},
    {"deep dotdot target", OP_READ, "deep_escape", .rc = GW_ERR_ESCAPE},
    {"climb out and back", OP_READ, "climb_back", .rc = GW_ERR_ESCAPE},
    {"relative up in place", OP_READ, "pub/in_up", .content = "PUBLIC"},
    {"relative to root", OP_READ, "relmid/pub/file.txt", .content = "PUBLIC"},
    /* Chains, loops, dangling. */
    {"chain escaping", OP_READ, "chain1", .rc = GW_ERR_ESCAPE},
    {"chain inside", OP_READ, "okchain1", .content = "PUBLIC"},
    {"loop", OP_READ, "loop1", .rc = GW_ERR_ESCAPE},
    {"self loop", OP_STAT, "self", .rc = GW_ERR_ESCAPE},
    {"dangling", OP_READ, "dangling", .rc = GW_ERR_NOENT},
    {"dangling out: new content replaces the link", OP_WNEW, "dangling_out",
     .post = "test -f dangling_out && ! test -L dangling_out && "
             "test \"$(cat dangling_out)\" = PWNED"},
    {"dangling out: resume refused", OP_WRESUME, "dangling_out", .rc = GW_ERR_ESCAPE},
    /* A symlinked directory in the middle of a path. */
    {"middle symlink inside", OP_READ, "middir/sub/deep.txt", .content = "DEEP"},
    {"middle symlink out read", OP_READ, "midout/secret", .rc = GW_ERR_ESCAPE},
    {"middle symlink out write", OP_WNEW, "midout/pwned", .rc = GW_ERR_ESCAPE},
    {"middle symlink out append", OP_WAPPEND, "midout/secret", .rc = GW_ERR_ESCAPE},
    {"middle symlink out mkdir", OP_MKDIR, "midout/newdir", .rc = GW_ERR_ESCAPE},
    {"middle symlink out unlink", OP_UNLINK, "midout/secret", .rc = GW_ERR_ESCAPE},
    {"middle symlink out lstat", OP_LSTAT, "midout/secret", .rc = GW_ERR_ESCAPE},
    {"middle symlink out rmdir", OP_RMDIR, "pub/updir/dir", .rc = GW_ERR_ESCAPE},
    {"middle symlink out list", OP_LIST, "pub/updir", .rc = GW_ERR_ESCAPE},
    {"absolute symlink write", OP_WNEW, "to_top/outside/pwned", .rc = GW_ERR_ESCAPE},
    /* Writes through symlinks at the final component. */
    {"resume through abs link", OP_WRESUME, "abs_link", .rc = GW_ERR_ESCAPE},
    {"append through up link", OP_WAPPEND, "up1", .rc = GW_ERR_ESCAPE},
    {"new content replaces in-root link", OP_WNEW, "pub/in_link",
     .post = "test -f pub/in_link && ! test -L pub/in_link && "
             "test \"$(cat pub/file.txt)\" = PUBLIC"},
    {"resume through in-root link", OP_WRESUME, "pub/in_link",
     .post = "test \"$(cat pub/file.txt)\" = PWNEDC"},
    {"write to FIFO", OP_WRESUME, "fifo", .rc = GW_ERR_PERM},
    {"read FIFO does not hang", OP_READ, "fifo", .rc = GW_ERR_PERM},
    {"read directory", OP_READ, "pub", .rc = GW_ERR_ISDIR},
    {"write root", OP_WNEW, "..", .rc = GW_ERR_ISDIR},
    {"stat through link out", OP_STAT, "pub/up2", .rc = GW_ERR_ESCAPE},
    {"lstat of link out is fine", OP_LSTAT, "pub/up2", .rc = 0},
    {"mkdir under abs dir", OP_MKDIR, "abs_dir/newdir", .rc = GW_ERR_ESCAPE},
    {"rmdir of abs dir link", OP_RMDIR, "abs_dir", .rc = GW_ERR_NOTDIR,
     .post = "test -L abs_dir && test -d ../outside"},
    {"unlink abs link removes the link only", OP_UNLINK, "abs_link",
     .post = "! test -e abs_link && ! test -L abs_link"},
    {"chmod through abs link", OP_CHMOD, "abs_link", .rc = GW_ERR_ESCAPE},
    {"chmod through updir", OP_CHMOD, "pub/updir/secret", .rc = GW_ERR_ESCAPE},
    {"chmod in root strips setuid", OP_CHMOD, "pub/in_link",
     .post = "test \"$(stat -c %a pub/file.txt)\" = 700"},
    {"mtime through up link", OP_MTIME, "up1", .rc = GW_ERR_ESCAPE},
    {"mtime through middle link", OP_MTIME, "midout/secret", .rc = GW_ERR_ESCAPE},
    /* Rename. */
    {"rename from outside", OP_RENAME, "midout/secret", .arg2 = "stolen", .rc = GW_ERR_ESCAPE},
    {"rename to outside", OP_RENAME, "pub/file.txt", .arg2 = "midout/moved", .rc = GW_ERR_ESCAPE},
    {"rename to dotdot clamps", OP_RENAME, "pub/file.txt", .arg2 = "../../pub/x",
     .post = "test -f pub/x"},
    {"rename moves the link itself", OP_RENAME, "abs_dir", .arg2 = "pub/renamed",
     .post = "test -L pub/renamed"},
    /* Symlinks made by users: resolved like client paths, stored relative, inside. */
    {"symlink target climbing", OP_SYMLINK, "evil", .arg2 = "../../outside/secret",
     .post = "test \"$(readlink evil)\" = outside/secret", .read_after = "evil",
     .read_after_rc = GW_ERR_NOENT},
    {"symlink absolute target", OP_SYMLINK, "evil", .arg2 = "/etc/passwd",
     .post = "test \"$(readlink evil)\" = etc/passwd", .read_after = "evil",
     .read_after_rc = GW_ERR_NOENT},
    {"symlink to /", OP_SYMLINK, "pub/toroot", .arg2 = "/",
     .post = "test \"$(readlink pub/toroot)\" = ..", .read_after = "pub/toroot/pub/file.txt"},
    {"symlink dots to /", OP_SYMLINK, "pub/x2", .arg2 = "sub/../../../..",
     .post = "test \"$(readlink pub/x2)\" = ..", .read_after = "pub/x2/up1",
     .read_after_rc = GW_ERR_ESCAPE},
    {"symlink to partial", OP_SYMLINK, "evil", .arg2 = ".ferry~0123456789abcdef",
     .rc = GW_ERR_INVAL},
    {"symlink control byte", OP_SYMLINK, "evil", .arg2 = "a\x01", .rc = GW_ERR_INVAL},
    {"symlink in dir outside", OP_SYMLINK, "midout/evil", .arg2 = "x", .rc = GW_ERR_ESCAPE},
    {"symlink via symlinked dir", OP_SYMLINK, "middir/l", .arg2 = "../pub/file.txt",
     .post = "test \"$(readlink pub/l)\" = file.txt", .read_after = "middir/l"},
    /* Hard links. */
    {"hard link of abs link links the link", OP_LINK, "abs_link", .arg2 = "hl2",
     .post = "test -L hl2", .read_after = "hl2", .read_after_rc = GW_ERR_ESCAPE},
    {"hard link from outside path", OP_LINK, "/../outside/secret", .arg2 = "hl3",
     .rc = GW_ERR_NOENT},
    {"hard link through middle link", OP_LINK, "midout/secret", .arg2 = "hl4", .rc = GW_ERR_ESCAPE},
    {"hard link into middle link", OP_LINK, "pub/file.txt", .arg2 = "midout/hl5",
     .rc = GW_ERR_ESCAPE},
    /* The admin's hard link: its inode IS inside the root, so the content is served, and
     * an in-place write reaches the shared inode (documented: don't hard-link into a
     * user's root what the user must not change). New content replaces the link, which
     * changes only the outside file's link count. */
    {"admin hard link readable", OP_READ, "hardlink_admin", .content = "HARDLINK"},
    {"admin hard link replaced by upload", OP_WNEW, "hardlink_admin",
     .post = "test \"$(cat ../outside/hl_target)\" = HARDLINK && "
             "test \"$(cat hardlink_admin)\" = PWNED",
     .outside_changes = true},
    {"admin hard link written in place", OP_WRESUME, "hardlink_admin",
     .post = "test \"$(cat ../outside/hl_target)\" = PWNEDINK", .outside_changes = true},
};

#define NHOSTILE (sizeof hostile / sizeof hostile[0])

/* Expands the generated arguments. Returns malloc'd bytes, length in *n. */
static char *make_arg(const char *arg, size_t n, size_t *outn)
{
    char *s;
    if (strcmp(arg, "@LONGNAME@") == 0) {
        s = malloc(GW_MAX_NAME + 2);
        memset(s, 'n', GW_MAX_NAME + 1);
        *outn = GW_MAX_NAME + 1;
    } else if (strcmp(arg, "@LONGPATH@") == 0) {
        *outn = 5000;
        s = malloc(*outn + 1);
        for (size_t i = 0; i < *outn; i++)
            s[i] = i % 100 == 99 ? '/' : 'p';
    } else if (strcmp(arg, "@DEEP@") == 0) {
        *outn = 2 * 300;
        s = malloc(*outn + 1);
        for (size_t i = 0; i < *outn; i += 2)
            memcpy(s + i, "d/", 2);
    } else {
        *outn = n ? n : strlen(arg);
        s = malloc(*outn + 1);
        memcpy(s, arg, *outn);
    }
    s[*outn] = '\0';
    return s;
}

static int client_path(const char *arg, size_t n, char *out)
{
    size_t len;
    char *s = make_arg(arg, n, &len);
    int rc = gw_path_resolve("/", s, len, out, GW_MAX_PATH);
    free(s);
    return rc;
}

static int do_read(struct vfs *v, const char *path, char *buf, size_t size)
{
    struct vfs_file *f;
    int rc = vfs_open_read(v, path, 0, &f);
    if (rc < 0)
        return rc;
    size_t len = 0;
    ssize_t r;
    while ((r = vfs_read(f, buf + len, size - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    vfs_close(f, false);
    return r < 0 ? (int)r : 0;
}

static int run_op(struct vfs *v, const struct hcase *c, char *content, size_t csize)
{
    char p1[GW_MAX_PATH], p2[GW_MAX_PATH];
    struct vfs_stat st;
    struct vfs_file *f;
    struct vfs_dir *d;
    struct vfs_dirent ent;
    int rc = client_path(c->arg, c->n, p1);
    if (rc < 0)
        return rc;
    if (c->arg2 && c->op != OP_SYMLINK) {
        rc = client_path(c->arg2, 0, p2);
        if (rc < 0)
            return rc;
    }
    switch (c->op) {
    case OP_READ:
        return do_read(v, p1, content, csize);
    case OP_STAT:
        return vfs_stat(v, p1, 0, &st);
    case OP_LSTAT:
        return vfs_stat(v, p1, VFS_NOFOLLOW, &st);
    case OP_LIST:
        rc = vfs_opendir(v, p1, &d);
        if (rc < 0)
            return rc;
        while ((rc = vfs_readdir(d, &ent)) > 0)
            ck_assert(strncmp(ent.name, VFS_PARTIAL_PREFIX, 7) != 0);
        vfs_closedir(d);
        return rc;
    case OP_WNEW:
    case OP_WRESUME:
    case OP_WAPPEND:
        rc = vfs_open_write(v, p1,
                            c->op == OP_WNEW      ? VFS_WRITE_NEW
                            : c->op == OP_WRESUME ? VFS_WRITE_RESUME
                                                  : VFS_WRITE_APPEND,
                            0, 0644, &f);
        if (rc < 0)
            return rc;
        if (vfs_write(f, "PWNED", 5) != 5) {
            vfs_close(f, false);
            return GW_ERR_IO;
        }
        return vfs_close(f, true);
    case OP_MKDIR:
        return vfs_mkdir(v, p1, 0755);
    case OP_RMDIR:
        return vfs_rmdir(v, p1);
    case OP_UNLINK:
        return vfs_unlink(v, p1);
    case OP_RENAME:
        return vfs_rename(v, p1, p2, false);
    case OP_SYMLINK:
        return vfs_symlink(v, c->arg2, p1);
    case OP_LINK:
        return vfs_link(v, p1, p2);
    case OP_CHMOD:
        return vfs_chmod(v, p1, 04700);
    case OP_MTIME:
        return vfs_set_mtime(v, p1, 12345);
    }
    return GW_ERR_INVAL;
}

START_TEST(test_hostile_table)
{
    const struct hcase *c = &hostile[_i / 2];
    int mode = _i % 2;
    const char *mname = mode ? "openat walk" : "openat2";
    struct fx f;
    char content[256];
    fx_setup(&f, mode, true);
    snapshot(&f);

    content[0] = '\0';
    int rc = run_op(f.v, c, content, sizeof content);
    ck_assert_msg(rc == c->rc, "[%s] %s: rc %d (%s), want %d (%s)", mname, c->desc, rc,
                  gw_strerror(rc), c->rc, gw_strerror(c->rc));
    if (c->op == OP_READ) {
        ck_assert_msg(strstr(content, "SECRET") == NULL && strstr(content, "DECOY") == NULL,
                      "[%s] %s: read outside content", mname, c->desc);
        if (c->content)
            ck_assert_msg(strcmp(content, c->content) == 0, "[%s] %s: read '%s'", mname, c->desc,
                          content);
    }
    if (c->post)
        ck_assert_msg(tu_sh("cd '%s' && %s", f.root, c->post) == 0, "[%s] %s: post check: %s",
                      mname, c->desc, c->post);
    if (c->read_after) {
        char p[GW_MAX_PATH];
        ck_assert_int_eq(client_path(c->read_after, 0, p), 0);
        content[0] = '\0';
        rc = do_read(f.v, p, content, sizeof content);
        ck_assert_msg(rc == c->read_after_rc, "[%s] %s: read after: %d", mname, c->desc, rc);
        ck_assert(strstr(content, "SECRET") == NULL);
    }
    ck_assert(!fx_exists(&f, "outside/newfile") && !fx_exists(&f, "outside/pwned"));
    if (!c->outside_changes)
        assert_outside_unchanged(&f, c->desc);
    /* No partial is ever left behind by a completed or refused operation. */
    ck_assert_msg(count_partials(f.root) == 0, "[%s] %s: partial left behind", mname, c->desc);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_hostile_table_size)
{
    ck_assert_uint_ge(NHOSTILE, 40);
}
END_TEST

/* ---- races: a directory swapped for a symlink between resolution and use ---------- */

struct swap {
    const struct fx *f;
    const char *stage; /* fire on this hook stage */
    int fired;
};

/* Moves root/pub/sub away and puts an absolute symlink to outside/dir in its place. */
static void swap_sub(const struct fx *f)
{
    char *sub = cat(f->root, "pub/sub"), *moved = cat(f->root, "pub/sub_moved");
    char *target = cat(f->outside, "dir");
    ck_assert_int_eq(rename(sub, moved), 0);
    ck_assert_int_eq(symlink(target, sub), 0);
    free(sub);
    free(moved);
    free(target);
}

static void swap_hook(void *arg, const char *stage)
{
    struct swap *s = arg;
    if (s->fired || strcmp(stage, s->stage) != 0)
        return;
    s->fired = 1;
    swap_sub(s->f);
}

START_TEST(test_race_parent)
{
    /* unlink resolves pub/sub, then the swap happens, then unlinkat runs on the held fd:
     * the original directory's file goes, the decoy outside stays. */
    struct fx f;
    fx_setup(&f, _i, true);
    struct swap s = {&f, "parent", 0};
    vfs_local_set_hook(f.be, swap_hook, &s);
    ck_assert_int_eq(vfs_unlink(f.v, "/pub/sub/deep.txt"), 0);
    ck_assert_int_eq(s.fired, 1);
    ck_assert(fx_exists(&f, "outside/dir/deep.txt"));
    ck_assert(!fx_exists(&f, "root/pub/sub_moved/deep.txt"));
    vfs_local_set_hook(f.be, NULL, NULL);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_race_walk)
{
    /* The fallback walk holds pub, then pub/sub becomes a symlink out: the next openat
     * (O_NOFOLLOW) sees the link and refuses its absolute target. With openat2 the
     * kernel resolves atomically and the hook never fires mid-walk. */
    struct fx f;
    char buf[64];
    fx_setup(&f, _i, true);
    struct swap s = {&f, "walk", 0};
    vfs_local_set_hook(f.be, swap_hook, &s);
    int rc = do_read(f.v, "/pub/sub/deep.txt", buf, sizeof buf);
    if (_i == 1) {
        ck_assert_int_eq(s.fired, 1);
        ck_assert_int_eq(rc, GW_ERR_ESCAPE);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_str_eq(buf, "DEEP");
    }
    /* After the swap, every later access is refused in both modes. */
    if (!s.fired)
        swap_sub(&f);
    ck_assert_int_eq(do_read(f.v, "/pub/sub/deep.txt", buf, sizeof buf), GW_ERR_ESCAPE);
    vfs_local_set_hook(f.be, NULL, NULL);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_race_commit)
{
    /* The upload's directory is swapped for a symlink before the commit: the commit's
     * rename resolves afresh and is refused; nothing lands outside. */
    struct fx f;
    struct vfs_file *fh;
    fx_setup(&f, _i, true);
    ck_assert_int_eq(vfs_open_write(f.v, "/pub/sub/new.txt", VFS_WRITE_NEW, 0, 0644, &fh), 0);
    ck_assert_int_eq(vfs_write(fh, "NEW", 3), 3);
    swap_sub(&f);
    ck_assert_int_eq(vfs_close(fh, true), GW_ERR_ESCAPE);
    ck_assert(!fx_exists(&f, "outside/dir/new.txt"));
    ck_assert_int_eq(count_partials(f.outside), 0);
    fx_teardown(&f);
}
END_TEST

struct flipper {
    const struct fx *f;
    volatile int stop;
};

/* Alternates pub/sub between the real directory and an absolute symlink out. */
static void *flip(void *arg)
{
    struct flipper *fl = arg;
    char *sub = cat(fl->f->root, "pub/sub"), *real = cat(fl->f->root, "pub/sub_real");
    char *target = cat(fl->f->outside, "dir");
    while (!fl->stop) {
        if (rename(sub, real) == 0 && symlink(target, sub) == 0) {
            sched_yield();
            unlink(sub);
        }
        rename(real, sub);
        sched_yield();
    }
    free(sub);
    free(real);
    free(target);
    return NULL;
}

START_TEST(test_race_stress)
{
    /* A thread flips pub/sub between the real directory and a symlink out while reads,
     * writes and listings run: none may ever touch the outside. */
    struct fx f;
    char buf[64];
    pthread_t t;
    fx_setup(&f, _i, true);
    fx_write(&f, "outside/dir/only_outside", "DECOY");
    snapshot(&f);
    struct flipper fl = {&f, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, flip, &fl), 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int reads = 0;
    do {
        buf[0] = '\0';
        if (do_read(f.v, "/pub/sub/deep.txt", buf, sizeof buf) == 0)
            reads++;
        ck_assert(strcmp(buf, "DECOY") != 0);
        struct vfs_file *fh;
        if (vfs_open_write(f.v, "/pub/sub/w.txt", VFS_WRITE_NEW, 0, 0644, &fh) == 0) {
            vfs_write(fh, "W", 1);
            vfs_close(fh, true);
        }
        vfs_unlink(f.v, "/pub/sub/w.txt");
        struct vfs_dir *d;
        struct vfs_dirent ent;
        if (vfs_opendir(f.v, "/pub/sub", &d) == 0) {
            while (vfs_readdir(d, &ent) > 0)
                ck_assert(strcmp(ent.name, "only_outside") != 0);
            vfs_closedir(d);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 1);
    fl.stop = 1;
    pthread_join(t, NULL);
    assert_outside_unchanged(&f, "stress");
    fx_teardown(&f);
}
END_TEST

/* ---- the backend's operations, called directly ------------------------------------ */

static void *be_of(struct fx *f)
{
    return f->be;
}

START_TEST(test_new_free)
{
    void *be = NULL;
    ck_assert_int_eq(vfs_local_new("/nonexistent/ferry", &be), GW_ERR_NOENT);
    ck_assert_ptr_null(be);
    ck_assert_int_eq(vfs_local_new("", &be), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_new("/etc/passwd", &be), GW_ERR_NOTDIR);
    char *d = tu_mkdtemp("vfsnew");
    ck_assert_int_eq(vfs_local_new(d, &be), 0);
    ck_assert(!vfs_local_uses_fallback(be));
    vfs_local_force_fallback(be, true);
    ck_assert(vfs_local_uses_fallback(be));
    vfs_local_ops.free(be);
    tu_rmtree(d);
    free(d);
}
END_TEST

START_TEST(test_stat)
{
    struct fx f;
    struct vfs_stat st;
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    ck_assert_int_eq(vfs_local_ops.stat(be, "", true, &st), 0);
    ck_assert(S_ISDIR(st.mode));
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/file.txt", true, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_uint_eq(st.size, 6);
    ck_assert_uint_eq(st.nlink, 1);
    ck_assert_uint_ne(st.ino, 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/in_link", false, &st), 0);
    ck_assert(S_ISLNK(st.mode));
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/in_link", true, &st), 0);
    ck_assert(S_ISREG(st.mode));
    ck_assert_int_eq(vfs_local_ops.stat(be, "abs_link", true, &st), GW_ERR_ESCAPE);
    ck_assert_int_eq(vfs_local_ops.stat(be, "abs_link", false, &st), 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "nope", true, &st), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/file.txt/x", true, &st), GW_ERR_NOTDIR);
    /* Backend paths are never absolute and never contain "..". */
    ck_assert_int_eq(vfs_local_ops.stat(be, "/etc", true, &st), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/../pub", true, &st), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub//file.txt", true, &st), GW_ERR_INVAL);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_file_io)
{
    struct fx f;
    void *fh;
    char buf[32];
    struct vfs_stat st;
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    ck_assert_int_eq(vfs_local_ops.open(be, "pub/file.txt", O_RDONLY, 0, 2, &fh), 0);
    ck_assert_int_eq(vfs_local_ops.read(fh, buf, sizeof buf), 4);
    ck_assert(memcmp(buf, "BLIC", 4) == 0);
    ck_assert_int_eq(vfs_local_ops.pread(fh, buf, 3, 0), 3);
    ck_assert(memcmp(buf, "PUB", 3) == 0);
    ck_assert_int_eq(vfs_local_ops.fstat(fh, &st), 0);
    ck_assert_uint_eq(st.size, 6);
    ck_assert_int_ge(vfs_local_ops.fd(fh), 0);
    ck_assert_int_lt(vfs_local_ops.write(fh, "x", 1), 0);
    ck_assert_int_eq(vfs_local_ops.close(fh), 0);

    ck_assert_int_eq(vfs_local_ops.open(be, "pub/new", O_WRONLY | O_CREAT | O_EXCL, 0640, 0, &fh),
                     0);
    ck_assert_int_eq(vfs_local_ops.write(fh, "hello", 5), 5);
    ck_assert_int_eq(vfs_local_ops.pwrite(fh, "J", 1, 0), 1);
    ck_assert_int_eq(vfs_local_ops.fsync(fh), 0);
    ck_assert_int_eq(vfs_local_ops.ftruncate(fh, 4), 0);
    ck_assert_int_eq(vfs_local_ops.close(fh), 0);
    char *s = fx_read(&f, "root/pub/new");
    ck_assert_str_eq(s, "Jell");
    free(s);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/new", false, &st), 0);
    mode_t um = umask(0);
    umask(um);
    ck_assert_uint_eq(st.mode & 0777, 0640 & ~um);
    ck_assert_int_eq(vfs_local_ops.open(be, "pub/new", O_WRONLY | O_CREAT | O_EXCL, 0640, 0, &fh),
                     GW_ERR_EXIST);
    /* O_NOFOLLOW refuses a final symlink even inside the root. */
    ck_assert_int_eq(vfs_local_ops.open(be, "pub/in_link", O_WRONLY | O_NOFOLLOW, 0, 0, &fh),
                     GW_ERR_ESCAPE);
    ck_assert_int_eq(vfs_local_ops.open(be, "pub", O_RDONLY, 0, 0, &fh), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_local_ops.open(be, "", O_RDONLY, 0, 0, &fh), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_local_ops.open(be, "fifo", O_RDONLY, 0, 0, &fh), GW_ERR_PERM);
    ck_assert_int_eq(vfs_local_ops.open(be, "pub/file.txt", O_RDWR, 0, 0, &fh), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.open(be, "pub/file.txt", O_RDONLY | O_APPEND, 0, 0, &fh),
                     GW_ERR_INVAL);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_dir_ops)
{
    struct fx f;
    void *dh;
    const char *name;
    struct vfs_stat st;
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    ck_assert_int_eq(vfs_local_ops.opendir(be, "pub", &dh), 0);
    int files = 0, links = 0, dirs = 0, r;
    while ((r = vfs_local_ops.readdir(dh, &name, &st)) > 0) {
        ck_assert(strcmp(name, ".") && strcmp(name, ".."));
        files += S_ISREG(st.mode);
        links += S_ISLNK(st.mode);
        dirs += S_ISDIR(st.mode);
        if (strcmp(name, "updir") == 0) /* lstat: the link, not the outside dir */
            ck_assert_uint_eq(st.size, strlen("../../outside"));
    }
    ck_assert_int_eq(r, 0);
    vfs_local_ops.closedir(dh);
    ck_assert_int_eq(files, 1);
    ck_assert_int_eq(links, 4);
    ck_assert_int_eq(dirs, 1);
    ck_assert_int_eq(vfs_local_ops.opendir(be, "pub/file.txt", &dh), GW_ERR_NOTDIR);
    ck_assert_int_eq(vfs_local_ops.opendir(be, "middir", &dh), 0); /* follows inside */
    vfs_local_ops.closedir(dh);

    ck_assert_int_eq(vfs_local_ops.mkdir(be, "pub/newdir", 0750), 0);
    ck_assert_int_eq(vfs_local_ops.mkdir(be, "pub/newdir", 0750), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_local_ops.mkdir(be, "", 0750), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_local_ops.mkdir(be, "nope/x", 0750), GW_ERR_NOENT);
    /* mkdir never follows a final symlink (a dangling one must not create its target) */
    ck_assert_int_eq(vfs_local_ops.mkdir(be, "dangling", 0750), GW_ERR_EXIST);
    ck_assert(!fx_exists(&f, "root/nonexistent"));
    ck_assert_int_eq(vfs_local_ops.rmdir(be, "pub"), GW_ERR_NOTEMPTY);
    ck_assert_int_eq(vfs_local_ops.rmdir(be, "pub/newdir"), 0);
    ck_assert_int_eq(vfs_local_ops.rmdir(be, ""), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_local_ops.rmdir(be, "middir"), GW_ERR_NOTDIR);
    ck_assert_int_eq(vfs_local_ops.unlink(be, "pub"), GW_ERR_ISDIR);
    ck_assert_int_eq(vfs_local_ops.unlink(be, "middir"), 0); /* the link itself */
    ck_assert(fx_exists(&f, "root/pub/file.txt"));
    ck_assert_int_eq(vfs_local_ops.unlink(be, "nope"), GW_ERR_NOENT);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_rename_link)
{
    struct fx f;
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    fx_write(&f, "root/a", "A");
    fx_write(&f, "root/b", "B");
    ck_assert_int_eq(vfs_local_ops.rename(be, "a", "b", false), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_local_ops.rename(be, "a", "b", true), 0);
    char *s = fx_read(&f, "root/b");
    ck_assert_str_eq(s, "A");
    free(s);
    ck_assert_int_eq(vfs_local_ops.rename(be, "b", "pub/sub/c", false), 0);
    ck_assert_int_eq(vfs_local_ops.rename(be, "", "x", false), GW_ERR_BUSY);
    ck_assert_int_eq(vfs_local_ops.rename(be, "nope", "x", false), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_local_ops.link(be, "pub/sub/c", "c2"), 0);
    struct vfs_stat st;
    ck_assert_int_eq(vfs_local_ops.stat(be, "c2", false, &st), 0);
    ck_assert_uint_eq(st.nlink, 2);
    ck_assert_int_eq(vfs_local_ops.link(be, "pub/sub/c", "c2"), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_local_ops.link(be, "", "c3"), GW_ERR_PERM);
    ck_assert_int_eq(vfs_local_ops.link(be, "abs_link", "c4"), 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "c4", false, &st), 0);
    ck_assert(S_ISLNK(st.mode));
    fx_teardown(&f);
}
END_TEST

START_TEST(test_attrs)
{
    struct fx f;
    struct vfs_stat st;
    struct vfs_statvfs sv;
    char buf[64];
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    ck_assert_int_eq(vfs_local_ops.set_mtime(be, "pub/file.txt", 1000000000), 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/file.txt", true, &st), 0);
    ck_assert_int_eq(st.mtime, 1000000000);
    ck_assert_int_eq(vfs_local_ops.set_mtime(be, "pub", 2000000000), 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub", true, &st), 0);
    ck_assert_int_eq(st.mtime, 2000000000);
    ck_assert_int_eq(vfs_local_ops.chmod(be, "pub/file.txt", 06755), 0);
    ck_assert_int_eq(vfs_local_ops.stat(be, "pub/file.txt", true, &st), 0);
    ck_assert_uint_eq(st.mode & 07777, 0755);
    ck_assert_int_eq(vfs_local_ops.chmod(be, "nope", 0644), GW_ERR_NOENT);
    ck_assert_int_eq(vfs_local_ops.statvfs(be, "", &sv), 0);
    ck_assert_uint_gt(sv.bsize, 0);
    ck_assert_uint_gt(sv.namemax, 0);
    ck_assert_int_eq(vfs_local_ops.readlink(be, "pub/in_link", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "file.txt");
    ck_assert_int_eq(vfs_local_ops.readlink(be, "pub/in_link", buf, 8), GW_ERR_TOOLONG);
    ck_assert_int_eq(vfs_local_ops.readlink(be, "pub/file.txt", buf, sizeof buf), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.readlink(be, "", buf, sizeof buf), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.fsync_dir(be, "pub"), 0);
    ck_assert_int_eq(vfs_local_ops.fsync_dir(be, ""), 0);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_symlink)
{
    struct fx f;
    char buf[128];
    fx_setup(&f, _i, true);
    void *be = be_of(&f);
    static const struct {
        const char *link, *target, *stored;
    } cases[] = {
        {"l1", "pub/file.txt", "pub/file.txt"},
        {"pub/l2", "pub/file.txt", "file.txt"},
        {"pub/sub/l3", "pub/file.txt", "../file.txt"},
        {"pub/sub/l4", "", "../.."},
        {"pub/sub/l5", "pub/sub", "."},
        {"pub/l6", "pubx", "../pubx"},
        {"l7", "", "."},
        /* The link's real directory is pub (middir is a link to it). */
        {"middir/sub/l8", "emptydir", "../../emptydir"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(vfs_local_ops.symlink(be, cases[i].target, cases[i].link), 0);
        ck_assert_int_eq(vfs_local_ops.readlink(be, cases[i].link, buf, sizeof buf), 0);
        ck_assert_msg(strcmp(buf, cases[i].stored) == 0, "%s: stored %s", cases[i].link, buf);
    }
    ck_assert_int_eq(vfs_local_ops.symlink(be, "x", "l1"), GW_ERR_EXIST);
    ck_assert_int_eq(vfs_local_ops.symlink(be, "../x", "l9"), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.symlink(be, "/x", "l9"), GW_ERR_INVAL);
    ck_assert_int_eq(vfs_local_ops.symlink(be, "x", ""), GW_ERR_EXIST);
    fx_teardown(&f);
}
END_TEST

Suite *gateway_vfs_local_suite(void)
{
    Suite *s = suite_create("gateway/vfs_local");
    TCase *tc = tcase_create("hostile");
    tcase_add_loop_test(tc, test_hostile_table, 0, (int)(2 * NHOSTILE));
    tcase_add_test(tc, test_hostile_table_size);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("races");
    tcase_add_loop_test(tc, test_race_parent, 0, 2);
    tcase_add_loop_test(tc, test_race_walk, 0, 2);
    tcase_add_loop_test(tc, test_race_commit, 0, 2);
    tcase_add_loop_test(tc, test_race_stress, 0, 2);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("vfs_local_new");
    tcase_add_test(tc, test_new_free);
    suite_add_tcase(s, tc);
    tc = tcase_create("stat");
    tcase_add_loop_test(tc, test_stat, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("open/read/write");
    tcase_add_loop_test(tc, test_file_io, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("dirs");
    tcase_add_loop_test(tc, test_dir_ops, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("rename/link");
    tcase_add_loop_test(tc, test_rename_link, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("attrs");
    tcase_add_loop_test(tc, test_attrs, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("symlink");
    tcase_add_loop_test(tc, test_symlink, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
