/* Unit tests for webdav/hdr.c: HTTP and WebDAV header values. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gateway/err.h"
#include "webdav/hdr.h"

#define S(x) x, strlen(x)

START_TEST(test_dates)
{
    char out[DAV_DATE_LEN + 1], r3339[21];
    int64_t t;
    ck_assert_int_eq(dav_date_format(784111777, out), 0);
    ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(dav_date_format(0, out), 0);
    ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_int_eq(dav_date_format(-1, out), GW_ERR_INVAL);
    ck_assert_int_eq(dav_date_rfc3339(1796479387, r3339), 0);
    ck_assert_str_eq(r3339, "2026-12-05T14:03:07Z");
    ck_assert_int_eq(dav_date_parse(S("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(dav_date_parse(S("Sunday, 06-Nov-94 08:49:37 GMT"), &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(dav_date_parse(S("Sun Nov  6 08:49:37 1994"), &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(dav_date_parse(S("Thu, 29 Feb 2024 23:59:59 GMT"), &t), 0);
    ck_assert_int_eq(t, 1709251199);
    /* Round trip across years. */
    for (int64_t v = 0; v < INT64_C(4102444800); v += 86400 * 97 + 3601) {
        ck_assert_int_eq(dav_date_format(v, out), 0);
        ck_assert_int_eq(dav_date_parse(out, strlen(out), &t), 0);
        ck_assert_int_eq(t, v);
    }
    static const char *bad[] = {"",
                                "Sun, 06 Nov 1994 08:49:37",
                                "Sun, 06 Nov 1994 08:49:37 UTC",
                                "Sun, 6 Nov 1994 08:49:37 GMT",
                                "Sun, 06 Foo 1994 08:49:37 GMT",
                                "Sun, 06 Nov 1994 25:49:37 GMT",
                                "Sun, 06 Nov 1994 08:49:37 GMT ",
                                "Xyz, 06 Nov 1994 08:49:37 GMT",
                                "1994-11-06T08:49:37Z",
                                "Sun, 32 Nov 1994 08:49:37 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dav_date_parse(bad[i], strlen(bad[i]), &t) == GW_ERR_INVAL, "%s", bad[i]);
}
END_TEST

START_TEST(test_etags)
{
    struct vfs_stat st = {.ino = 0x1234, .size = 10, .mtime = 1, .mtime_nsec = 5};
    char e[DAV_ETAG_MAX];
    dav_etag(&st, e);
    ck_assert_str_eq(e, "\"1234-a-3b9aca05\"");
    struct vfs_stat zero = {0}, big = {.ino = UINT64_MAX, .size = UINT64_MAX,
                                       .mtime = INT64_C(253402300799), .mtime_nsec = 999999999};
    char e2[DAV_ETAG_MAX];
    dav_etag(&zero, e2);
    ck_assert_str_eq(e2, "\"0-0-0\"");
    dav_etag(&big, e2); /* the longest: three full-width fields fit DAV_ETAG_MAX */
    ck_assert_str_eq(e2, "\"ffffffffffffffff-ffffffffffffffff-bca9d1fea2aeffff\"");
    ck_assert_int_eq(dav_etag_match(S("\"1234-a-3b9aca05\""), e, false), 1);
    ck_assert_int_eq(dav_etag_match(S("\"x\", \"1234-a-3b9aca05\""), e, false), 1);
    ck_assert_int_eq(dav_etag_match(S("W/\"1234-a-3b9aca05\""), e, false), 0);
    ck_assert_int_eq(dav_etag_match(S("W/\"1234-a-3b9aca05\""), e, true), 1);
    ck_assert_int_eq(dav_etag_match(S("*"), e, false), 1);
    ck_assert_int_eq(dav_etag_match(S("*"), NULL, false), 0);
    ck_assert_int_eq(dav_etag_match(S("\"a\""), NULL, true), 0);
    ck_assert_int_eq(dav_etag_match(S("\"y\""), e, true), 0);
    ck_assert_int_eq(dav_etag_match(S("unquoted"), e, true), GW_ERR_INVAL);
    ck_assert_int_eq(dav_etag_match(S("\"open"), e, true), GW_ERR_INVAL);
    ck_assert_int_eq(dav_etag_match(S(""), e, true), GW_ERR_INVAL);
    ck_assert_int_eq(dav_etag_match(S("\"a\" \"b\""), e, true), GW_ERR_INVAL);
    ck_assert(dav_etag_eq(S("\"a\""), S("\"a\""), false));
    ck_assert(!dav_etag_eq(S("W/\"a\""), S("\"a\""), false));
    ck_assert(dav_etag_eq(S("W/\"a\""), S("\"a\""), true));
}
END_TEST

START_TEST(test_ranges)
{
    struct dav_range r[DAV_MAX_RANGES];
    size_t n;
    ck_assert_int_eq(dav_range_parse(S("bytes=0-99"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(r[0].first, 0);
    ck_assert_uint_eq(r[0].last, 99);
    ck_assert_int_eq(dav_range_parse(S("bytes=-100"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(r[0].first, 900);
    ck_assert_uint_eq(r[0].last, 999);
    ck_assert_int_eq(dav_range_parse(S("bytes=-5000"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(r[0].first, 0);
    ck_assert_int_eq(dav_range_parse(S("bytes=990-"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(r[0].last, 999);
    ck_assert_int_eq(dav_range_parse(S("bytes=990-5000"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(r[0].last, 999);
    ck_assert_int_eq(dav_range_parse(S("Bytes= 0-0 , 5-9,1000-"), 1000, r, &n), DAV_RANGE_OK);
    ck_assert_uint_eq(n, 2); /* the unsatisfiable one is dropped */
    ck_assert_uint_eq(r[1].first, 5);
    ck_assert_int_eq(dav_range_parse(S("bytes=1000-"), 1000, r, &n), DAV_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(dav_range_parse(S("bytes=-0"), 1000, r, &n), DAV_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(dav_range_parse(S("bytes=0-"), 0, r, &n), DAV_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(dav_range_parse(S("bytes=4294967296-4294967395"), 5000000000ull, r, &n),
                     DAV_RANGE_OK);
    ck_assert_uint_eq(r[0].first, 4294967296ull);
    static const char *ignored[] = {
        "bytes=",     "bytes=5-1",   "bytes=a-b", "items=0-1",
        "bytes=-",    "bytes=0-1;x", "bytes 0-1", "bytes=99999999999999999999-",
        "bytes=1-2-3"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        ck_assert_msg(dav_range_parse(ignored[i], strlen(ignored[i]), 1000, r, &n) ==
                          DAV_RANGE_IGNORE,
                      "%s", ignored[i]);
    char many[2000] = "bytes=";
    for (int i = 0; i < DAV_MAX_RANGES + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%d-%d,", i, i);
    ck_assert_int_eq(dav_range_parse(many, strlen(many), 1000, r, &n), DAV_RANGE_IGNORE);
}
END_TEST

START_TEST(test_content_range)
{
    uint64_t a, b, t;
    ck_assert_int_eq(dav_content_range_parse(S("bytes 0-99/1000"), &a, &b, &t), 0);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 99);
    ck_assert_uint_eq(t, 1000);
    ck_assert_int_eq(dav_content_range_parse(S("bytes 100-199/*"), &a, &b, &t), 0);
    ck_assert_uint_eq(t, UINT64_MAX);
    ck_assert_int_eq(
        dav_content_range_parse(S("bytes 4294967296-4294967299/4294967300"), &a, &b, &t), 0);
    ck_assert_int_eq(dav_content_range_parse(S("bytes 5-4/10"), &a, &b, &t), GW_ERR_INVAL);
    ck_assert_int_eq(dav_content_range_parse(S("bytes 0-9/9"), &a, &b, &t), GW_ERR_INVAL);
    ck_assert_int_eq(dav_content_range_parse(S("bytes */10"), &a, &b, &t), GW_ERR_INVAL);
    ck_assert_int_eq(dav_content_range_parse(S("bytes 0-9/10x"), &a, &b, &t), GW_ERR_INVAL);
    ck_assert_int_eq(dav_content_range_parse(S("items 0-9/10"), &a, &b, &t), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_basic)
{
    char u[65], p[1025];
    /* alice:s3cr:et */
    ck_assert_int_eq(dav_basic_parse(S("Basic YWxpY2U6czNjcjpldA=="), u, sizeof u, p, sizeof p), 0);
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "s3cr:et");
    ck_assert_int_eq(dav_basic_parse(S("basic  YTpi"), u, sizeof u, p, sizeof p), 0);
    ck_assert_str_eq(p, "b");
    ck_assert_int_eq(dav_basic_parse(S("Bearer abc"), u, sizeof u, p, sizeof p), GW_ERR_INVAL);
    ck_assert_int_eq(dav_basic_parse(S("Basic YWxpY2U="), u, sizeof u, p, sizeof p),
                     GW_ERR_INVAL); /* no colon */
    ck_assert_int_eq(dav_basic_parse(S("Basic !!!!"), u, sizeof u, p, sizeof p), GW_ERR_INVAL);
    /* "a:b\0c" has a NUL */
    ck_assert_int_eq(dav_basic_parse(S("Basic YTpiAGM="), u, sizeof u, p, sizeof p), GW_ERR_PROTO);
    ck_assert_int_eq(dav_basic_parse(S("Basic YTpi"), u, 1, p, sizeof p), GW_ERR_TOOLONG);
    unsigned char out[8];
    ck_assert_int_eq(dav_base64_decode(S("Zm9vYg=="), out, sizeof out), 4);
    ck_assert_int_eq(dav_base64_decode(S("Zm9vYmE="), out, sizeof out), 5);
    ck_assert_int_eq(dav_base64_decode(S("Zm=vYmE="), out, sizeof out), GW_ERR_INVAL);
    ck_assert_int_eq(dav_base64_decode(S("Zm9"), out, sizeof out), GW_ERR_INVAL);
    ck_assert_int_eq(dav_base64_decode(S("Zm9vYmFyYmF6"), out, 8), GW_ERR_TOOLONG);
}
END_TEST

START_TEST(test_dav_fields)
{
    ck_assert_int_eq(dav_depth_parse(NULL, 0, 7), 7);
    ck_assert_int_eq(dav_depth_parse(S("0"), 7), 0);
    ck_assert_int_eq(dav_depth_parse(S("1"), 7), 1);
    ck_assert_int_eq(dav_depth_parse(S("Infinity"), 7), DAV_DEPTH_INFINITY);
    ck_assert_int_eq(dav_depth_parse(S("2"), 7), GW_ERR_INVAL);
    ck_assert_int_eq(dav_overwrite_parse(NULL, 0), 1);
    ck_assert_int_eq(dav_overwrite_parse(S("F")), 0);
    ck_assert_int_eq(dav_overwrite_parse(S("T")), 1);
    ck_assert_int_eq(dav_overwrite_parse(S("x")), GW_ERR_INVAL);
    ck_assert_int_eq(dav_timeout_parse(NULL, 0, 60, 3600), 60);
    ck_assert_int_eq(dav_timeout_parse(S("Second-600"), 60, 3600), 600);
    ck_assert_int_eq(dav_timeout_parse(S("Second-99999"), 60, 3600), 3600);
    ck_assert_int_eq(dav_timeout_parse(S("Infinite, Second-4100000000"), 60, 3600), 3600);
    ck_assert_int_eq(dav_timeout_parse(S("bogus, Second-10"), 60, 3600), 10);
    ck_assert_int_eq(dav_timeout_parse(S("Second-"), 60, 3600), 60);
    ck_assert_int_eq(dav_timeout_parse(S("Second-123456789012345678901234"), 60, 3600), 3600);
    const char *t;
    size_t tl;
    ck_assert_int_eq(dav_locktoken_parse(S("<urn:uuid:abc>"), &t, &tl), 0);
    ck_assert_uint_eq(tl, 12);
    ck_assert(memcmp(t, "urn:uuid:abc", 12) == 0);
    ck_assert_int_eq(dav_locktoken_parse(S("urn:uuid:abc"), &t, &tl), GW_ERR_INVAL);
    ck_assert_int_eq(dav_locktoken_parse(S("<>"), &t, &tl), GW_ERR_INVAL);
    ck_assert_int_eq(dav_locktoken_parse(S("<a b>"), &t, &tl), GW_ERR_INVAL);
    ck_assert(dav_want_sha256(S("sha-256=1")));
    ck_assert(dav_want_sha256(S("sha-512=3, sha-256=10")));
    ck_assert(dav_want_sha256(S("SHA-256")));
    ck_assert(!dav_want_sha256(S("sha-256=0")));
    ck_assert(!dav_want_sha256(S("sha-512=1")));
}
END_TEST

START_TEST(test_if)
{
    struct dav_if h;
    ck_assert_int_eq(dav_if_parse(S("(<urn:uuid:1> [\"e1\"]) (Not <DAV:no-lock>)"), &h), 0);
    ck_assert_uint_eq(h.nlists, 2);
    ck_assert_uint_eq(h.nconds, 3);
    ck_assert_ptr_null(h.lists[0].tag);
    ck_assert(!h.conds[0].negate && !h.conds[0].is_etag);
    ck_assert_uint_eq(h.conds[0].n, 10);
    ck_assert(h.conds[1].is_etag);
    ck_assert(memcmp(h.conds[1].v, "\"e1\"", 4) == 0);
    ck_assert(h.conds[2].negate);
    ck_assert_uint_eq(h.lists[1].first, 2);
    ck_assert_int_eq(
        dav_if_parse(S("<https://h/a> (<urn:x>) <https://h/b> ([W/\"e\"]) (Not [\"f\"])"), &h), 0);
    ck_assert_uint_eq(h.nlists, 3);
    ck_assert_uint_eq(h.lists[0].tag_len, 11);
    ck_assert(memcmp(h.lists[2].tag, "https://h/b", 11) == 0);
    static const char *bad[] = {"",
                                "()",
                                "(<a>",
                                "<https://h/a>",
                                "(<a>) <https://h/b> (<c>)",
                                "(Nut <a>)",
                                "([unquoted])",
                                "(<a b>)",
                                "x (<a>)",
                                "(<a>) junk",
                                "([\"e\" \"f\"])"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dav_if_parse(bad[i], strlen(bad[i]), &h) == GW_ERR_INVAL, "%s", bad[i]);
    char many[4096];
    size_t m = 0;
    for (int i = 0; i < DAV_IF_MAX_LISTS + 1; i++, m += 5)
        memcpy(many + m, "(<a>)", 5);
    many[m] = '\0';
    ck_assert_int_eq(dav_if_parse(many, strlen(many), &h), GW_ERR_LIMIT);
}
END_TEST

Suite *webdav_hdr_suite(void)
{
    Suite *s = suite_create("webdav/hdr");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"dav_date", test_dates},         {"dav_etag", test_etags},
        {"dav_range_parse", test_ranges}, {"dav_content_range_parse", test_content_range},
        {"dav_basic_parse", test_basic},  {"dav_depth_overwrite_timeout", test_dav_fields},
        {"dav_if_parse", test_if},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}
