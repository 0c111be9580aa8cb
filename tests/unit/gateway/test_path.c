/* Unit tests for gateway/path.c: virtual path normalisation, the pure half of path
 * confinement (the local backend's openat discipline is the other half). */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "gateway/vfs.h"

struct rcase {
    const char *cwd;
    const char *arg;
    size_t n; /* 0: strlen(arg) */
    int rc;
    const char *want;
};

static const struct rcase resolve_cases[] = {
    {"/", "a", 0, 0, "/a"},
    {"/", "", 0, 0, "/"},
    {"/a/b", "", 0, 0, "/a/b"},
    {"/a/b", ".", 0, 0, "/a/b"},
    {"/a/b", "..", 0, 0, "/a"},
    {"/a/b", "../..", 0, 0, "/"},
    {"/a", "../../../..", 0, 0, "/"},
    {"/a/b", "/x/y", 0, 0, "/x/y"},
    {"/a/b", "/", 0, 0, "/"},
    {"/", "//x///y//", 0, 0, "/x/y"},
    {"/", "./x/./y/.", 0, 0, "/x/y"},
    {"/", "x/../../y", 0, 0, "/y"},
    {"/a", "b/../../../c", 0, 0, "/c"},
    {"/", "/..", 0, 0, "/"},
    {"/", "/../etc/passwd", 0, 0, "/etc/passwd"},
    {"/", "...", 0, 0, "/..."},
    {"/", "..a/a..", 0, 0, "/..a/a.."},
    {"/", ". /.. ", 0, 0, "/. /.. "},
    /* The front end decodes percent-encoding; a literal "%2e%2e" is a plain name. */
    {"/", "%2e%2e/%2e%2e/etc", 0, 0, "/%2e%2e/%2e%2e/etc"},
    {"/", "..%2f..%2fetc", 0, 0, "/..%2f..%2fetc"},
    /* A backslash is a name byte on this server, not a separator. */
    {"/", "..\\..\\etc", 0, 0, "/..\\..\\etc"},
    {"/", "\\..\\", 0, 0, "/\\..\\"},
    /* Overlong UTF-8 encodings of '.' and '/' are bytes, never "..". */
    {"/", "\xc0\xae\xc0\xae/x", 0, 0, "/\xc0\xae\xc0\xae/x"},
    {"/", "\xe0\x80\xae\xe0\x80\xae\xc0\xafx", 0, 0, "/\xe0\x80\xae\xe0\x80\xae\xc0\xafx"},
    {"/", "caf\xc3\xa9/\xff\xfe", 0, 0, "/caf\xc3\xa9/\xff\xfe"},
    {"/", "a\x7f", 0, 0, "/a\x7f"},
    {"/", "abc/def", 3, 0, "/abc"},
    {"/", "x.ferry~", 0, 0, "/x.ferry~"},
    {"/", ".ferry", 0, 0, "/.ferry"},
    {NULL, "a", 0, 0, "/a"},
    /* Refused. */
    {"/", "a\0b", 3, GW_ERR_INVAL, ""},
    {"/", "pub/file\0../../x", 16, GW_ERR_INVAL, ""},
    {"/", "a\x01", 0, GW_ERR_INVAL, ""},
    {"/", "a\r\nDELE x", 0, GW_ERR_INVAL, ""},
    {"/", "\t", 0, GW_ERR_INVAL, ""},
    {"/", "x\x1f/..", 0, GW_ERR_INVAL, ""},
    {"/", ".ferry~", 0, GW_ERR_INVAL, ""},
    {"/", ".ferry~0123456789abcdef", 0, GW_ERR_INVAL, ""},
    {"/", "d/.ferry~x/../y", 0, GW_ERR_INVAL, ""},
    {"/.ferry~x", "a", 0, GW_ERR_INVAL, ""},
    {"a", "b", 0, GW_ERR_INVAL, ""},
    {"", "b", 0, GW_ERR_INVAL, ""},
    {"/a\n", "b", 0, GW_ERR_INVAL, ""},
};

START_TEST(test_resolve_table)
{
    char out[GW_MAX_PATH];
    for (size_t i = 0; i < sizeof resolve_cases / sizeof resolve_cases[0]; i++) {
        const struct rcase *c = &resolve_cases[i];
        size_t n = c->n ? c->n : strlen(c->arg);
        memset(out, 'X', sizeof out);
        int rc = gw_path_resolve(c->cwd, c->arg, n, out, sizeof out);
        ck_assert_msg(rc == c->rc, "case %zu (%s): rc %d want %d", i, c->arg, rc, c->rc);
        ck_assert_msg(strcmp(out, c->want) == 0, "case %zu: got '%s' want '%s'", i, out, c->want);
        if (rc == 0)
            ck_assert_msg(gw_path_is_normal(out), "case %zu: result not normal", i);
    }
}
END_TEST

START_TEST(test_resolve_limits)
{
    char out[GW_MAX_PATH];
    char name[GW_MAX_NAME + 2];
    memset(name, 'n', sizeof name);
    /* A component of exactly GW_MAX_NAME bytes is fine; one more is too long. */
    ck_assert_int_eq(gw_path_resolve("/", name, GW_MAX_NAME, out, sizeof out), 0);
    ck_assert_uint_eq(strlen(out), GW_MAX_NAME + 1);
    ck_assert_int_eq(gw_path_resolve("/", name, GW_MAX_NAME + 1, out, sizeof out), GW_ERR_TOOLONG);
    ck_assert_str_eq(out, "");

    /* Depth: GW_MAX_DEPTH components fit, one more does not. */
    char *deep = malloc(2 * (GW_MAX_DEPTH + 1) + 1);
    size_t len = 0;
    for (int i = 0; i < GW_MAX_DEPTH; i++) {
        deep[len++] = 'd';
        deep[len++] = '/';
    }
    ck_assert_int_eq(gw_path_resolve("/", deep, len, out, sizeof out), 0);
    deep[len++] = 'd';
    ck_assert_int_eq(gw_path_resolve("/", deep, len, out, sizeof out), GW_ERR_TOOLONG);
    free(deep);

    /* The whole path: 4095 bytes + NUL fit GW_MAX_PATH, 4096 do not. 16 components of
     * 254 bytes plus their slashes make 4080; add "/" + 14 and "/" + 15 bytes. */
    char big[GW_MAX_PATH + 64];
    len = 0;
    for (int i = 0; i < 16; i++) {
        memset(big + len, 'b', 254);
        len += 254;
        big[len++] = '/';
    }
    memset(big + len, 'c', 14);
    ck_assert_int_eq(gw_path_resolve("/", big, len + 14, out, sizeof out), 0);
    ck_assert_uint_eq(strlen(out), GW_MAX_PATH - 1);
    memset(big + len, 'c', 15);
    ck_assert_int_eq(gw_path_resolve("/", big, len + 15, out, sizeof out), GW_ERR_TOOLONG);
    /* A bigger out buffer does not lift GW_MAX_PATH. */
    char huge[2 * GW_MAX_PATH];
    ck_assert_int_eq(gw_path_resolve("/", big, len + 15, huge, sizeof huge), GW_ERR_TOOLONG);

    /* outsz bounds the result too. */
    char small[4];
    ck_assert_int_eq(gw_path_resolve("/", "ab", 2, small, sizeof small), 0);
    ck_assert_str_eq(small, "/ab");
    ck_assert_int_eq(gw_path_resolve("/", "abc", 3, small, sizeof small), GW_ERR_TOOLONG);
    ck_assert_int_eq(gw_path_resolve("/", "", 0, small, 2), 0);
    ck_assert_str_eq(small, "/");
    ck_assert_int_eq(gw_path_resolve("/", "", 0, small, 1), GW_ERR_TOOLONG);
    ck_assert_int_eq(gw_path_resolve("/", "a", 1, NULL, 10), GW_ERR_INVAL);
    ck_assert_int_eq(gw_path_resolve("/", "a", 1, small, 0), GW_ERR_INVAL);
    ck_assert_int_eq(gw_path_resolve("/", NULL, 1, small, sizeof small), GW_ERR_INVAL);
    ck_assert_int_eq(gw_path_resolve("/x", NULL, 0, small, sizeof small), 0);
    ck_assert_str_eq(small, "/x");
}
END_TEST

START_TEST(test_resolve_long_inputs)
{
    /* Linear in the input: a megabyte of "./" and ".." collapses to the root. */
    size_t n = 1 << 20;
    char *s = malloc(n + 16);
    char out[GW_MAX_PATH];
    for (size_t i = 0; i < n; i += 2)
        memcpy(s + i, "./", 2);
    ck_assert_int_eq(gw_path_resolve("/a", s, n, out, sizeof out), 0);
    ck_assert_str_eq(out, "/a");
    size_t len = 0;
    while (len + 3 <= n) {
        memcpy(s + len, "../", 3);
        len += 3;
    }
    memcpy(s + len, "etc/passwd", 10);
    ck_assert_int_eq(gw_path_resolve("/a/b/c", s, len + 10, out, sizeof out), 0);
    ck_assert_str_eq(out, "/etc/passwd");
    free(s);
}
END_TEST

/* The invariants every successful resolution keeps: normal, idempotent, below "/". */
static void check_invariants(const char *cwd, const char *arg, size_t n)
{
    char out[GW_MAX_PATH], again[GW_MAX_PATH];
    int rc = gw_path_resolve(cwd, arg, n, out, sizeof out);
    ck_assert(rc == 0 || rc == GW_ERR_INVAL || rc == GW_ERR_TOOLONG);
    if (rc < 0) {
        ck_assert_str_eq(out, "");
        return;
    }
    ck_assert(gw_path_is_normal(out));
    ck_assert_int_eq(gw_path_resolve("/", out, strlen(out), again, sizeof again), 0);
    ck_assert_str_eq(out, again);
    ck_assert_int_eq(gw_path_resolve("/elsewhere", out, strlen(out), again, sizeof again), 0);
    ck_assert_str_eq(out, again);
    ck_assert(strstr(out, "/../") == NULL);
    ck_assert(strstr(out, "/" VFS_PARTIAL_PREFIX) == NULL);
}

START_TEST(test_resolve_random)
{
    static const char alphabet[] = "//..a~\\%\xc0\xae\x01.ferry~";
    unsigned seed = 12345;
    char arg[64];
    for (int iter = 0; iter < 30000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof arg;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            arg[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        check_invariants(iter % 3 ? "/" : "/d/e", arg, n);
    }
}
END_TEST

/* Crash regressions found by tests/fuzz/fuzz_path.c, replayed with the same checks. */
START_TEST(test_resolve_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/path");
    char *dpath = strdup(dir);
    DIR *d = opendir(dpath);
    int replayed = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = NULL;
            ck_assert_int_ge(asprintf(&p, "%s/%s", dpath, de->d_name), 0);
            size_t n;
            char *data = tu_read_file(p, &n);
            check_invariants("/", data, n);
            check_invariants("/a/b", data, n);
            free(data);
            free(p);
            replayed++;
        }
        closedir(d);
    }
    free(dpath);
    ck_assert_int_ge(replayed, 0);
}
END_TEST

START_TEST(test_is_normal)
{
    ck_assert(gw_path_is_normal("/"));
    ck_assert(gw_path_is_normal("/a"));
    ck_assert(gw_path_is_normal("/a/b c/..d"));
    ck_assert(!gw_path_is_normal(NULL));
    ck_assert(!gw_path_is_normal(""));
    ck_assert(!gw_path_is_normal("a"));
    ck_assert(!gw_path_is_normal("//"));
    ck_assert(!gw_path_is_normal("/a/"));
    ck_assert(!gw_path_is_normal("/a//b"));
    ck_assert(!gw_path_is_normal("/."));
    ck_assert(!gw_path_is_normal("/a/.."));
    ck_assert(!gw_path_is_normal("/a/./b"));
    ck_assert(!gw_path_is_normal("/.ferry~1"));
    ck_assert(!gw_path_is_normal("/a/.ferry~"));
    ck_assert(!gw_path_is_normal("/a\nb"));
    char name[GW_MAX_NAME + 3];
    name[0] = '/';
    memset(name + 1, 'x', GW_MAX_NAME + 1);
    name[GW_MAX_NAME + 2] = '\0';
    ck_assert(!gw_path_is_normal(name));
    name[GW_MAX_NAME + 1] = '\0';
    ck_assert(gw_path_is_normal(name));
}
END_TEST

START_TEST(test_base)
{
    ck_assert_str_eq(gw_path_base("/"), "");
    ck_assert_str_eq(gw_path_base("/a"), "a");
    ck_assert_str_eq(gw_path_base("/a/bc"), "bc");
    ck_assert_str_eq(gw_path_base("rel"), "rel");
}
END_TEST

START_TEST(test_dir)
{
    char out[16];
    ck_assert_int_eq(gw_path_dir("/", out, sizeof out), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(gw_path_dir("/x", out, sizeof out), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(gw_path_dir("/a/b/c", out, sizeof out), 0);
    ck_assert_str_eq(out, "/a/b");
    ck_assert_int_eq(gw_path_dir("/abcdefgh/x", out, 10), 0);
    ck_assert_str_eq(out, "/abcdefgh");
    ck_assert_int_eq(gw_path_dir("/abcdefgh/x", out, 9), GW_ERR_TOOLONG);
    ck_assert_int_eq(gw_path_dir("/x", out, 1), GW_ERR_TOOLONG);
}
END_TEST

START_TEST(test_under)
{
    ck_assert(gw_path_under("/a", "/"));
    ck_assert(gw_path_under("/", "/"));
    ck_assert(gw_path_under("/legacy", "/legacy"));
    ck_assert(gw_path_under("/legacy/x/y", "/legacy"));
    ck_assert(!gw_path_under("/legacyx", "/legacy"));
    ck_assert(!gw_path_under("/leg", "/legacy"));
    ck_assert(!gw_path_under("/", "/legacy"));
    ck_assert(!gw_path_under("/other/legacy", "/legacy"));
}
END_TEST

Suite *gateway_path_suite(void)
{
    Suite *s = suite_create("gateway/path");
    TCase *tc = tcase_create("gw_path_resolve");
    tcase_add_test(tc, test_resolve_table);
    tcase_add_test(tc, test_resolve_limits);
    tcase_add_test(tc, test_resolve_long_inputs);
    tcase_add_test(tc, test_resolve_random);
    tcase_add_test(tc, test_resolve_fuzz_regressions);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_path_is_normal");
    tcase_add_test(tc, test_is_normal);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_path_base");
    tcase_add_test(tc, test_base);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_path_dir");
    tcase_add_test(tc, test_dir);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_path_under");
    tcase_add_test(tc, test_under);
    suite_add_tcase(s, tc);
    return s;
}
