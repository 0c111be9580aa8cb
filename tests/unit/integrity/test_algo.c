/* Unit tests for integrity/algo.c: the algorithm table, hex and base64. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <string.h>

#include "integrity/algo.h"

START_TEST(test_names)
{
    ck_assert_int_eq(ig_algo_from_name("sha256", 6), IG_ALGO_SHA256);
    ck_assert_int_eq(ig_algo_from_name("SHA-512", 7), IG_ALGO_SHA512);
    ck_assert_int_eq(ig_algo_from_name("b2", 2), IG_ALGO_BLAKE2B);
    ck_assert_int_eq(ig_algo_from_name("blake2b512", 10), IG_ALGO_BLAKE2B);
    ck_assert_int_eq(ig_algo_from_name("md5", 3), IG_ALGO_MD5);
    ck_assert_int_eq(ig_algo_from_name("sha3-256", 8), IG_ALGO_NONE);
    ck_assert_int_eq(ig_algo_from_name("sha2567", 6), IG_ALGO_SHA256); /* length bounds it */
    ck_assert_int_eq(ig_algo_from_name("", 0), IG_ALGO_NONE);
    ck_assert_int_eq(ig_algo_from_tag("BLAKE2b", 7), IG_ALGO_BLAKE2B);
    ck_assert_int_eq(ig_algo_from_tag("BLAKE2b-256", 11), IG_ALGO_NONE);
    ck_assert_int_eq(ig_algo_from_tag("SHA1", 4), IG_ALGO_SHA1);
    ck_assert_str_eq(ig_algo_tag(IG_ALGO_BLAKE2B), "BLAKE2b");
    ck_assert_str_eq(ig_algo_tool(IG_ALGO_BLAKE2B), "b2sum");
    ck_assert_str_eq(ig_algo_name(IG_ALGO_COUNT), "none");
    ck_assert_uint_eq(ig_algo_len(IG_ALGO_SHA1), 20);
    ck_assert_uint_eq(ig_algo_len(IG_ALGO_NONE), 0);
    for (int a = 1; a < IG_ALGO_COUNT; a++) {
        const char *n = ig_algo_name((enum ig_algo)a);
        ck_assert_int_eq(ig_algo_from_name(n, strlen(n)), a);
        ck_assert_uint_le(ig_algo_len((enum ig_algo)a), IG_MAX_DIGEST);
    }
}
END_TEST

START_TEST(test_hex)
{
    unsigned char b[4] = {0x00, 0xab, 0x7f, 0xff}, out[4];
    char hex[9];
    ig_hex_encode(b, 4, hex);
    ck_assert_str_eq(hex, "00ab7fff");
    ck_assert(ig_hex_decode("00AB7fFF", 4, out));
    ck_assert_mem_eq(out, b, 4);
    ck_assert(!ig_hex_decode("00ab7fgf", 4, out));
    ck_assert(ig_is_hex("0123456789abcdefABCDEF", 22));
    ck_assert(!ig_is_hex("12 4", 4));
    ck_assert(ig_is_hex("", 0));
}
END_TEST

START_TEST(test_base64)
{
    unsigned char out[16];
    ck_assert_int_eq(ig_base64_decode("aGVsbG8=", 8, out, sizeof out), 5);
    ck_assert_mem_eq(out, "hello", 5);
    ck_assert_int_eq(ig_base64_decode("aGVsbA==", 8, out, sizeof out), 4);
    ck_assert_int_eq(ig_base64_decode("aGVs", 4, out, sizeof out), 3);
    ck_assert_int_eq(ig_base64_decode("", 0, out, sizeof out), 0);
    ck_assert_int_eq(ig_base64_decode("aGVsbG8", 7, out, sizeof out), -1);  /* no padding */
    ck_assert_int_eq(ig_base64_decode("aG=sbG8=", 8, out, sizeof out), -1); /* '=' inside */
    ck_assert_int_eq(ig_base64_decode("a*Vs", 4, out, sizeof out), -1);
    ck_assert_int_eq(ig_base64_decode("====", 4, out, sizeof out), -1);
    ck_assert_int_eq(ig_base64_decode("aGVsbG8=", 8, out, 4), -1); /* does not fit */
}
END_TEST

Suite *integrity_algo_suite(void)
{
    Suite *s = suite_create("integrity/algo");
    TCase *tc = tcase_create("ig_algo_from_name");
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_hex");
    tcase_add_test(tc, test_hex);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_base64_decode");
    tcase_add_test(tc, test_base64);
    suite_add_tcase(s, tc);
    return s;
}
