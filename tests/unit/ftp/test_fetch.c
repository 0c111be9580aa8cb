/* Unit tests for ftp/fetch.c's pure parts: which names are integrity evidence, which
 * entries a directory's evidence can vouch for (the mount policy's listing-time check,
 * without manifests: those need a server and are covered by test_vfs_ftp's "verify"
 * case), and the durability batch's life cycle. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/fetch.h"

START_TEST(test_is_evidence_name)
{
    const char *yes[] = {"SHA256SUMS", "SHA512SUMS", "MD5SUMS", "a.tar.gz.sha256",
                         "a.sha512",   "a.minisig",  "a.sig",   "SHA256SUMS.asc"};
    const char *no[] = {"a.tar.gz", "sha256", ".sig", "SHA256SUMS.txt", "readme", "x.sha1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(ftpc_is_evidence_name(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(!ftpc_is_evidence_name(no[i]), "%s", no[i]);
}
END_TEST

static struct ftpc_listing listing(const char *const *names, size_t n)
{
    struct ftpc_listing l = {.e = calloc(n, sizeof(struct ftpc_entry)), .n = n};
    for (size_t i = 0; i < n; i++) {
        l.e[i].raw = strdup(names[i]);
        l.e[i].raw_len = strlen(names[i]);
        l.e[i].name = strdup(names[i]);
        l.e[i].type = LP_TYPE_FILE;
    }
    return l;
}

START_TEST(test_has_evidence)
{
    const char *names[] = {"a.bin", "a.bin.sha256", "b.bin", "b.bin.minisig", "c.bin"};
    struct ftpc_listing l = listing(names, 5);
    struct ftpc_dir_evidence *ev = ftpc_evidence_new();
    struct ftpc_policy nokey = {.mode = FTPC_VERIFY_AUTO};
    struct ftpc_policy key = {.mode = FTPC_VERIFY_AUTO, .nkeys = 1};
    /* Without a key: a same-channel digest file counts, a signature cannot be checked. */
    ck_assert(ftpc_has_evidence(NULL, "", &l, ev, &l.e[0], &nokey));
    ck_assert(!ftpc_has_evidence(NULL, "", &l, ev, &l.e[2], &nokey));
    ck_assert(!ftpc_has_evidence(NULL, "", &l, ev, &l.e[4], &nokey));
    /* With a key: only a signature counts. */
    ck_assert(!ftpc_has_evidence(NULL, "", &l, ev, &l.e[0], &key));
    ck_assert(ftpc_has_evidence(NULL, "", &l, ev, &l.e[2], &key));
    ck_assert(!ftpc_has_evidence(NULL, "", &l, ev, &l.e[4], &key));
    ftpc_evidence_free(ev);
    ftpc_listing_free(&l);
}
END_TEST

static unsigned fails;
static void on_fail(void *ctx, const char *path, const char *why)
{
    (void)ctx;
    (void)path;
    (void)why;
    fails++;
}

START_TEST(test_batch)
{
    char *dir = tu_mkdtemp("batch");
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ck_assert_ptr_null(ftpc_batch_new(missing, on_fail, NULL));
    struct ftpc_batch *b = ftpc_batch_new(dir, on_fail, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(ftpc_batch_flush(b), 0);
    ck_assert_uint_eq(ftpc_batch_free(b), 0);
    ck_assert_uint_eq(ftpc_batch_free(NULL), 0);
    ck_assert_uint_eq(fails, 0);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *ftp_fetch_suite(void)
{
    Suite *s = suite_create("ftp_fetch");
    TCase *tc = tcase_create("ftpc_is_evidence_name");
    tcase_add_test(tc, test_is_evidence_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("ftpc_has_evidence");
    tcase_add_test(tc, test_has_evidence);
    suite_add_tcase(s, tc);
    tc = tcase_create("ftpc_batch");
    tcase_add_test(tc, test_batch);
    suite_add_tcase(s, tc);
    return s;
}
