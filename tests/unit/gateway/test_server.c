/* Unit tests for gateway/server.c helpers that do not need a running parent. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/server.h"

START_TEST(test_mkdir_beneath)
{
    char *dir = tu_mkdtemp("mkb"), path[4096];
    struct stat st;
    ck_assert_int_eq(gw_mkdir_beneath(dir, "/a/b/c", 0755), 0);
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(gw_mkdir_beneath(dir, "/a/b/c", 0755), 0); /* idempotent */
    /* A symlink in the way is never followed, even to a place inside. */
    char *outside = tu_mkdtemp("mkb-out");
    snprintf(path, sizeof path, "%s/link", dir);
    ck_assert_int_eq(symlink(outside, path), 0);
    ck_assert_int_eq(gw_mkdir_beneath(dir, "/link/x", 0755), GW_ERR_ESCAPE);
    snprintf(path, sizeof path, "%s/x", outside);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(gw_mkdir_beneath(dir, "/../x", 0755), GW_ERR_ESCAPE);
    tu_rmtree(dir);
    tu_rmtree(outside);
    free(dir);
    free(outside);
}
END_TEST

Suite *gateway_server_suite(void)
{
    Suite *s = suite_create("gateway/server");
    TCase *tc = tcase_create("server");
    tcase_add_test(tc, test_mkdir_beneath);
    suite_add_tcase(s, tc);
    return s;
}
