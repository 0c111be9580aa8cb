/* Unit tests for gateway/buf.c: the bounded buffer. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"

START_TEST(test_append_and_limit)
{
    struct gw_buf b;
    gw_buf_init(&b, 8);
    ck_assert_str_eq(gw_buf_str(&b), "");
    ck_assert_int_eq(gw_buf_append(&b, "abcd", 4), 0);
    ck_assert_int_eq(gw_buf_puts(&b, "efgh"), 0);
    ck_assert_str_eq(gw_buf_str(&b), "abcdefgh");
    ck_assert_int_eq(gw_buf_putc(&b, 'x'), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_int_eq(gw_buf_append(&b, "x", (size_t)-1), GW_ERR_LIMIT);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_printf_consume)
{
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(gw_buf_printf(&b, "%04d", i), 0);
    ck_assert_uint_eq(b.len, 4000);
    ck_assert(memcmp(b.data + 3996, "0999", 4) == 0);
    gw_buf_consume(&b, 3996);
    ck_assert_str_eq(gw_buf_str(&b), "0999");
    ck_assert_int_eq(gw_buf_printf(&b, "%.*s", 2000000, ""), 0);
    struct gw_buf small;
    gw_buf_init(&small, 3);
    ck_assert_int_eq(gw_buf_printf(&small, "%d", 1234), GW_ERR_LIMIT);
    ck_assert_uint_eq(small.len, 0);
    /* Formatted in place when it fits; a longer one that does not fit the free space
     * (a truncated first attempt) grows the buffer and leaves no trace of the attempt. */
    ck_assert_int_eq(gw_buf_printf(&small, "%d", 12), 0);
    ck_assert_int_eq(gw_buf_printf(&small, "%d", 34), GW_ERR_LIMIT);
    ck_assert_str_eq(gw_buf_str(&small), "12");
    struct gw_buf grow;
    gw_buf_init(&grow, 1 << 16);
    ck_assert_int_eq(gw_buf_printf(&grow, "%s", "x"), 0);
    size_t cap = grow.cap;
    ck_assert_int_eq(gw_buf_printf(&grow, "%0*d", (int)cap + 5, 7), 0);
    ck_assert_uint_eq(grow.len, cap + 6);
    ck_assert_uint_eq(strlen(gw_buf_str(&grow)), cap + 6);
    ck_assert(grow.data[cap + 5] == '7');
    gw_buf_free(&grow);
    size_t n;
    char *s = gw_buf_steal(&b, &n);
    ck_assert_str_eq(s, "0999");
    ck_assert_uint_eq(n, 4);
    ck_assert_ptr_null(b.data);
    free(s);
    gw_buf_free(&small);
}
END_TEST

START_TEST(test_i64_dec)
{
    static const int64_t v[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN};
    char got[GW_I64_DEC_MAX], want[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = gw_i64_dec(v[i], got);
        snprintf(want, sizeof want, "%" PRId64, v[i]);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(n, strlen(want));
    }
}
END_TEST

Suite *gateway_buf_suite(void)
{
    Suite *s = suite_create("gateway/buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_append_and_limit);
    tcase_add_test(tc, test_printf_consume);
    tcase_add_test(tc, test_i64_dec);
    suite_add_tcase(s, tc);
    return s;
}
