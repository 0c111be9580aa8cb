/* Unit tests for gateway/json.c: string escaping and UTF-8 validation. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gateway/err.h"
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

/* Numbers and keys have fast paths; their output must be what printf and the
 * escaping path give. */
START_TEST(test_int_and_key)
{
    static const int64_t nums[] = {0, 7, -7, 10, 999, 1000, INT64_MAX, INT64_MIN, -1000000007};
    struct gw_buf b, want;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        gw_buf_init(&b, 64);
        gw_buf_init(&want, 64);
        ck_assert_int_eq(gw_json_int(&b, nums[i]), 0);
        ck_assert_int_eq(gw_buf_printf(&want, "%" PRId64, nums[i]), 0);
        ck_assert_str_eq(gw_buf_str(&b), gw_buf_str(&want));
        gw_buf_free(&b);
        gw_buf_free(&want);
    }
    gw_buf_init(&b, 1024);
    bool first = true;
    ck_assert_int_eq(gw_json_key(&b, &first, "ts"), 0);
    ck_assert(!first);
    ck_assert_int_eq(gw_json_key(&b, &first, "duration_ms"), 0);
    ck_assert_int_eq(gw_json_key(&b, &first, "a\"b"), 0);   /* escaped: the slow path */
    ck_assert_int_eq(gw_json_key(&b, &first, "caf\xc3\xa9"), 0);
    ck_assert_int_eq(gw_json_key(&b, &first, ""), 0);
    char longkey[101];
    memset(longkey, 'k', 100);
    longkey[100] = '\0';
    ck_assert_int_eq(gw_json_key(&b, &first, longkey), 0); /* longer than the fast path */
    ck_assert_str_eq(gw_buf_str(&b), "\"ts\":,\"duration_ms\":,\"a\\\"b\":,\"caf\xc3\xa9\":,\"\":,\""
                     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
                     "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":");
    gw_buf_free(&b);
    /* A limit that cuts the fast path's single append refuses it whole. */
    gw_buf_init(&b, 4);
    first = true;
    ck_assert_int_eq(gw_json_key(&b, &first, "long"), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, 0);
    gw_buf_free(&b);
}
END_TEST

/* The eight-bytes-at-a-time scan: one special byte at every position of a longer
 * string comes out escaped exactly as the byte-by-byte path would. */
START_TEST(test_escape_positions)
{
    static const struct {
        const char *in, *out;
    } sp[] = {{"\"", "\\\""}, {"\\", "\\\\"}, {"\x01", "\\u0001"}, {"\x1f", "\\u001f"},
              {"\xc3\xa9", "\xc3\xa9"}, {"\xff", "\xef\xbf\xbd"}, {"~", "~"}, {" ", " "}};
    for (size_t k = 0; k < sizeof sp / sizeof sp[0]; k++) {
        for (size_t pos = 0; pos <= 20; pos++) {
            char in[64], want[64];
            size_t il = strlen(sp[k].in);
            memset(in, 'a', pos);
            memcpy(in + pos, sp[k].in, il);
            memset(in + pos + il, 'b', 20 - pos);
            size_t n = pos + il + 20 - pos;
            int w = snprintf(want, sizeof want, "\"%.*s%s%.*s\"", (int)pos,
                             "aaaaaaaaaaaaaaaaaaaa", sp[k].out, (int)(20 - pos), "bbbbbbbbbbbbbbbbbbbb");
            ck_assert_int_lt(w, (int)sizeof want);
            expect_json(in, n, want);
        }
    }
}
END_TEST

Suite *gateway_json_suite(void)
{
    Suite *s = suite_create("gateway/json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_int_and_key);
    tcase_add_test(tc, test_escape_positions);
    suite_add_tcase(s, tc);
    return s;
}
