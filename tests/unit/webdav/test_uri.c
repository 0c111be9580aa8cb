/* Unit tests for webdav/uri.c: request-targets and Destinations to virtual paths (with
 * every traversal form refused), hrefs and escaping. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "webdav/uri.h"

static char out[GW_MAX_PATH];

static int map(const char *t)
{
    return dav_uri_to_path(t, strlen(t), "h:8443", 6, out, sizeof out, NULL);
}

START_TEST(test_to_path)
{
    bool slash;
    ck_assert_int_eq(map("/"), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(map("/a/b%20c/"), 0);
    ck_assert_str_eq(out, "/a/b c");
    ck_assert_int_eq(dav_uri_to_path("/a/", 3, NULL, 0, out, sizeof out, &slash), 0);
    ck_assert(slash);
    ck_assert_int_eq(dav_uri_to_path("/a?x=/b/", 8, NULL, 0, out, sizeof out, &slash), 0);
    ck_assert_str_eq(out, "/a");
    ck_assert(!slash);
    ck_assert_int_eq(map("//a///b"), 0);
    ck_assert_str_eq(out, "/a/b");
    ck_assert_int_eq(map("/%C3%BCn%c3%af"), 0);
    ck_assert_str_eq(out, "/\xc3\xbcn\xc3\xaf");
    ck_assert_int_eq(map("/a%2Bb%25"), 0);
    ck_assert_str_eq(out, "/a+b%");
    ck_assert_int_eq(map("https://h:8443/x/y"), 0);
    ck_assert_str_eq(out, "/x/y");
    ck_assert_int_eq(map("HTTPS://H:8443"), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(map("http://h:8443/x"), 0);
    ck_assert_int_eq(map("/..."), 0); /* three dots is a name */
    ck_assert_str_eq(out, "/...");
    ck_assert_int_eq(map("/a..b/.c"), 0);
}
END_TEST

START_TEST(test_to_path_refusals)
{
    static const char *bad[] = {
        "",
        "a/b",
        "*",
        "/..",
        "/a/../b",
        "/./a",
        "/%2e%2e/a",
        "/%2E%2e",
        "/.%2e/",
        "/%2e/",
        "/a%2fb",
        "/a%2F..%2Fb",
        "/%c0%ae%c0%ae/",
        "/%e0%80%ae",
        "/%c0%af",
        "/%ed%a0%80",
        "/%ff",
        "/a%00",
        "/%01",
        "/a%7f",
        "/%",
        "/%4",
        "/%zz",
        "/a#f",
        "/a?b#c",
        "/.ferry~0123456789abcdef",
        "/x/.ferry~",
        "https://",
        "https:///a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = map(bad[i]);
        ck_assert_msg(rc == GW_ERR_INVAL, "%s -> %d", bad[i], rc);
        ck_assert_str_eq(out, "");
    }
    ck_assert_int_eq(map("https://evil/x"), GW_ERR_ESCAPE);
    ck_assert_int_eq(map("https://h:8443.evil/x"), GW_ERR_ESCAPE);
    ck_assert_int_eq(map("https://h/x"), GW_ERR_ESCAPE);
    char big[GW_MAX_PATH + 64];
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(map(big), GW_ERR_TOOLONG);
}
END_TEST

START_TEST(test_decode)
{
    char d[16];
    ck_assert_int_eq(dav_uri_decode("a%41%62", 7, d, sizeof d), 3);
    ck_assert_str_eq(d, "aAb");
    ck_assert_int_eq(dav_uri_decode("%00", 3, d, sizeof d), GW_ERR_INVAL);
    ck_assert_int_eq(dav_uri_decode("%0", 2, d, sizeof d), GW_ERR_INVAL);
    ck_assert_int_eq(dav_uri_decode("abcdefghijklmnopq", 17, d, sizeof d), GW_ERR_TOOLONG);
}
END_TEST

START_TEST(test_encode_escape)
{
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    ck_assert_int_eq(dav_uri_encode(&b, "/a b/\xc3\xbc&<>%#?", true), 0);
    ck_assert_str_eq(gw_buf_str(&b), "/a%20b/%C3%BC%26%3C%3E%25%23%3F/");
    gw_buf_reset(&b);
    ck_assert_int_eq(dav_uri_encode(&b, "/", true), 0);
    ck_assert_str_eq(gw_buf_str(&b), "/");
    gw_buf_reset(&b);
    ck_assert_int_eq(dav_xml_escape(&b, "<a&\"'>\xc3\xbc\x01\xff\xef\xbf\xbf", 13), 0);
    ck_assert_str_eq(gw_buf_str(&b), "&lt;a&amp;&quot;&#39;&gt;\xc3\xbc\xef\xbf\xbd\xef\xbf\xbd"
                                     "\xef\xbf\xbd");
    /* Round trip: every byte sequence encodes to something that maps back. */
    gw_buf_reset(&b);
    ck_assert_int_eq(dav_uri_encode(&b, "/x y/%2e%2e/\xc3\xa9", false), 0);
    ck_assert_int_eq(dav_uri_to_path(b.data, b.len, NULL, 0, out, sizeof out, NULL), 0);
    ck_assert_str_eq(out, "/x y/%2e%2e/\xc3\xa9");
    gw_buf_free(&b);
}
END_TEST

Suite *webdav_uri_suite(void)
{
    Suite *s = suite_create("webdav/uri");
    TCase *tc = tcase_create("dav_uri_to_path");
    tcase_add_test(tc, test_to_path);
    tcase_add_test(tc, test_to_path_refusals);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_uri_decode");
    tcase_add_test(tc, test_decode);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_uri_encode");
    tcase_add_test(tc, test_encode_escape);
    suite_add_tcase(s, tc);
    return s;
}
