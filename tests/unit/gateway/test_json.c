/* Unit tests for gateway/json.c: string escaping and UTF-8 validation. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <string.h>

#include "gateway/json.h"

static void expect_json(const char *in, size_t n, const char *want)
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    ck_assert_int_eq(gw_json_str(&b, in, n), 0);
    ck_assert_str_eq(gw_buf_str(&b), want);
    gw_buf_free(&b);
}

START_TEST(test_escape)
{
    expect_json("plain", 5, "\"plain\"");
    expect_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_json("l1\nl2\r\t\x01", 8, "\"l1\\nl2\\r\\t\\u0001\"");
    expect_json("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
    expect_json("caf\xe9!", 5, "\"caf\xef\xbf\xbd!\"");
    expect_json("a\0b", 3, "\"a\\u0000b\"");
}
END_TEST

START_TEST(test_utf8)
{
    ck_assert(gw_utf8_valid("", 0));
    ck_assert(gw_utf8_valid("\xe6\x97\xa5\xf0\x9f\x98\x80", 7));
    ck_assert(!gw_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    ck_assert(!gw_utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
    ck_assert(!gw_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!gw_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!gw_utf8_valid("\xe6\x97", 2));         /* truncated */
}
END_TEST

Suite *gateway_json_suite(void)
{
    Suite *s = suite_create("gateway/json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_utf8);
    suite_add_tcase(s, tc);
    return s;
}
