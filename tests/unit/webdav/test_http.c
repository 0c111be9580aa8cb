/* Unit tests for webdav/http.c: the strict request parser and the chunked decoder. Every
 * rejection the parser promises has a case here; the fuzz regression inputs under
 * tests/data/fuzz-regress/http are replayed too. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "webdav/http.h"

static struct dav_http_req req;

static int parse(const char *s)
{
    return dav_http_parse(s, strlen(s), &req);
}

/* Parses s expecting an error with the given status. */
#define REJECT(s, st)                                                                              \
    do {                                                                                           \
        ck_assert_int_eq(parse(s), GW_ERR_PROTO);                                                  \
        ck_assert_int_eq(req.status, (st));                                                        \
        ck_assert_ptr_nonnull(req.why);                                                            \
    } while (0)

START_TEST(test_parse_basic)
{
    const char *s = "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.org:8443\r\n"
                    "User-Agent:  curl/7.88 \r\nAccept: */*\r\n\r\nBODY";
    int n = parse(s);
    ck_assert_int_eq(n, (int)(strlen(s) - 4));
    ck_assert(dav_http_method_is(&req, "GET"));
    ck_assert(!dav_http_method_is(&req, "get"));
    ck_assert_int_eq((int)req.target_len, 10);
    ck_assert(memcmp(req.target, "/a%20b?x=1", 10) == 0);
    ck_assert_int_eq(req.minor, 1);
    ck_assert_uint_eq(req.nfields, 3);
    ck_assert(req.keep_alive);
    ck_assert_int_eq(req.body, DAV_BODY_NONE);
    size_t len;
    const char *ua = dav_http_field(&req, "user-agent", &len);
    ck_assert_ptr_nonnull(ua);
    ck_assert_uint_eq(len, 9);
    ck_assert(memcmp(ua, "curl/7.88", 9) == 0);
    ck_assert_ptr_null(dav_http_field(&req, "missing", &len));
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_parse_incremental)
{
    const char *s =
        "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(dav_http_parse(s, i, &req), 0);
    ck_assert_int_eq(dav_http_parse(s, n, &req), (int)n);
    ck_assert_int_eq(req.body, DAV_BODY_LENGTH);
    ck_assert_uint_eq(req.content_length, 5);
    ck_assert(req.expect_continue);
}
END_TEST

START_TEST(test_parse_blank_lines_and_versions)
{
    ck_assert_int_gt(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    REJECT("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert(!req.keep_alive);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    ck_assert(req.keep_alive);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n"), 0);
    ck_assert(!req.keep_alive);
    ck_assert_int_gt(parse("GET / HTTP/1.9\r\nHost: h\r\n\r\n"), 0);
    ck_assert_int_eq(req.minor, 1);
    REJECT("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    REJECT("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    REJECT("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
    REJECT("GET /\r\n\r\n", 400);
}
END_TEST

START_TEST(test_parse_request_line_rejections)
{
    REJECT("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);   /* two spaces */
    REJECT("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* space in target */
    REJECT("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);    /* not a token */
    REJECT(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* raw non-ASCII */
    REJECT("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);           /* bare LF */
    REJECT("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400);       /* bare CR */
    REJECT("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("\rXGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REJECT("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\nHost: h\r\n\r\n", 501);
}
END_TEST

START_TEST(test_parse_field_rejections)
{
    REJECT("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\n\tfolded\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nX: a\nY: b\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\n\r\n", 400);                       /* no Host */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400); /* two Hosts */
    REJECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    REJECT("GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417);
    /* obs-text in a value is fine */
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n"), 0);
    /* a NUL byte: strlen would stop there, so give the length */
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    ck_assert_int_eq(dav_http_parse(nul, sizeof nul - 1, &req), GW_ERR_PROTO);
    ck_assert_int_eq(req.status, 400);
}
END_TEST

START_TEST(test_parse_framing)
{
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
           400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
           400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 413);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400);
    REJECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    REJECT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501);

    ck_assert_int_gt(parse("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    ck_assert_int_eq(req.body, DAV_BODY_CHUNKED);
    ck_assert_int_gt(
        parse("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n"), 0);
    ck_assert_uint_eq(req.content_length, 9223372036854775807ull);
    REJECT("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 413);
    ck_assert_int_gt(parse("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n"), 0);
    ck_assert_uint_eq(req.content_length, 7);
}
END_TEST

START_TEST(test_parse_limits)
{
    size_t big = GW_MAX_HTTP_LINE + 16;
    char *s = malloc(big + GW_MAX_HTTP_HEADERS * 2);
    /* An over-long request line: 414 as soon as the limit is passed, even unfinished. */
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', big - 5);
    ck_assert_int_eq(dav_http_parse(s, big, &req), GW_ERR_PROTO);
    ck_assert_int_eq(req.status, 414);
    /* Just under the limit is fine. */
    size_t n = 0;
    n += (size_t)snprintf(s, 64, "GET /");
    memset(s + n, 'a', GW_MAX_HTTP_LINE - 16 - n);
    n = GW_MAX_HTTP_LINE - 16;
    memcpy(s + n, " HTTP/1.1\r\nHost: h\r\n\r\n", 23);
    ck_assert_int_gt(dav_http_parse(s, n + 22, &req), 0);
    /* An over-long header section: 431, complete or not. */
    n = (size_t)snprintf(s, 64, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(s + n, 'b', GW_MAX_HTTP_HEADERS);
    ck_assert_int_eq(dav_http_parse(s, n + GW_MAX_HTTP_HEADERS, &req), GW_ERR_PROTO);
    ck_assert_int_eq(req.status, 431);
    memcpy(s + n + GW_MAX_HTTP_HEADERS, "\r\n\r\n", 4);
    ck_assert_int_eq(dav_http_parse(s, n + GW_MAX_HTTP_HEADERS + 4, &req), GW_ERR_PROTO);
    ck_assert_int_eq(req.status, 431);
    /* Too many fields. */
    n = (size_t)snprintf(s, 64, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < GW_MAX_HTTP_HEADER_COUNT; i++)
        n += (size_t)snprintf(s + n, 32, "X%d: y\r\n", i);
    memcpy(s + n, "\r\n", 2);
    ck_assert_int_eq(dav_http_parse(s, n + 2, &req), GW_ERR_PROTO);
    ck_assert_int_eq(req.status, 431);
    free(s);
}
END_TEST

START_TEST(test_field_helpers)
{
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\na: 2\r\nB:\r\n\r\n"), 0);
    ck_assert_uint_eq(dav_http_field_count(&req, "A"), 2);
    ck_assert_uint_eq(dav_http_field_count(&req, "b"), 1);
    size_t len = 99;
    ck_assert_ptr_nonnull(dav_http_field(&req, "b", &len));
    ck_assert_uint_eq(len, 0);
    ck_assert(dav_list_has("gzip, Chunked ,x", 16, "chunked"));
    ck_assert(!dav_list_has("gzip, chunkedx", 14, "chunked"));
    ck_assert(!dav_list_has("", 0, "x"));
    ck_assert(dav_ieq("CLOSE", 5, "close"));
    ck_assert(!dav_ieq("clos", 4, "close"));
}
END_TEST

/* Decodes a whole chunked body, fed in pieces of step bytes; returns the data. */
static int decode_all(const char *in, size_t n, size_t step, char *out, size_t *outlen,
                      size_t *consumed, int *status)
{
    struct dav_chunked c;
    size_t pos = 0, o = 0, avail = 0;
    dav_chunked_init(&c);
    while (!dav_chunked_done(&c)) {
        if (avail == pos) {
            if (avail == n)
                break;
            avail = avail + step > n ? n : avail + step;
        }
        size_t used, off, len;
        int rc = dav_chunked_decode(&c, in + pos, avail - pos, &used, &off, &len);
        if (rc < 0) {
            *status = c.status;
            return rc;
        }
        memcpy(out + o, in + pos + off, len);
        o += len;
        pos += used;
    }
    *outlen = o;
    *consumed = pos;
    *status = 0;
    return dav_chunked_done(&c) ? 0 : 1;
}

START_TEST(test_chunked)
{
    static const char body[] = "5\r\nhello\r\n1;ext=\"q\"\r\n \r\nA \r\n0123456789\r\n0\r\n"
                               "Trailer-A: x\r\nB: y\r\n\r\nNEXT";
    char out[64];
    size_t olen, used;
    int st;
    for (size_t step = 1; step <= sizeof body; step++) {
        ck_assert_int_eq(decode_all(body, sizeof body - 1, step, out, &olen, &used, &st), 0);
        ck_assert_uint_eq(olen, 16);
        ck_assert(memcmp(out, "hello 0123456789", 16) == 0);
        ck_assert_uint_eq(used, sizeof body - 1 - 4);
    }
    /* Incomplete input is not an error. */
    ck_assert_int_eq(decode_all("5\r\nhel", 7, 3, out, &olen, &used, &st), 1);
    ck_assert_int_eq(decode_all("0\r\n\r\n", 5, 1, out, &olen, &used, &st), 0);
    ck_assert_uint_eq(olen, 0);
}
END_TEST

START_TEST(test_chunked_rejections)
{
    static const char *bad[] = {
        "x\r\n",                   /* not hex */
        "\r\n",                    /* no digits */
        "5\nhello\r\n0\r\n\r\n",   /* bare LF after size */
        "5\r\nhelloX\r\n",         /* data longer than the size */
        "5\r\nhello\n0\r\n\r\n",   /* bare LF after data */
        "5\r\nhello\r\r\n",        /* bare CR */
        "5;\x01\r\n",              /* control byte in an extension */
        "0\r\n folded: x\r\n\r\n", /* obs-fold in trailers */
        "0\r\nX: a\rb\r\n\r\n",    /* bare CR in a trailer */
        "0\r\n\r\r",               /* bad final line */
        "-1\r\n",
    };
    char out[64];
    size_t olen, used;
    int st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(decode_all(bad[i], strlen(bad[i]), 1, out, &olen, &used, &st) == GW_ERR_PROTO,
                      "accepted %zu", i);
        ck_assert_int_eq(st, 400);
    }
    ck_assert_int_eq(decode_all("10000000000000000\r\n", 19, 4, out, &olen, &used, &st),
                     GW_ERR_PROTO);
    ck_assert_int_eq(st, 413);
    ck_assert_int_eq(decode_all("8000000000000000\r\n", 18, 4, out, &olen, &used, &st),
                     GW_ERR_PROTO);
    ck_assert_int_eq(st, 413);
    /* An endless extension or trailer section is cut off. */
    char *s = malloc(GW_MAX_HTTP_HEADERS + 64);
    memcpy(s, "1;", 2);
    memset(s + 2, 'e', GW_MAX_HTTP_LINE + 8);
    ck_assert_int_eq(decode_all(s, GW_MAX_HTTP_LINE + 10, 100, out, &olen, &used, &st),
                     GW_ERR_PROTO);
    memcpy(s, "0\r\nX: ", 6);
    memset(s + 6, 'v', GW_MAX_HTTP_HEADERS + 8);
    ck_assert_int_eq(decode_all(s, GW_MAX_HTTP_HEADERS + 14, 1000, out, &olen, &used, &st),
                     GW_ERR_PROTO);
    ck_assert_int_eq(st, 431);
    free(s);
    /* Errors stick. */
    struct dav_chunked c;
    size_t off, len;
    dav_chunked_init(&c);
    ck_assert_int_eq(dav_chunked_decode(&c, "z", 1, &used, &off, &len), GW_ERR_PROTO);
    ck_assert_int_eq(dav_chunked_decode(&c, "0\r\n\r\n", 5, &used, &off, &len), GW_ERR_PROTO);
}
END_TEST

/* Replays every saved fuzz finding: the parser must return without crashing and
 * with a consistent result. */
START_TEST(test_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/http");
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *data = tu_read_file(path, &len);
        int rc = dav_http_parse(data, len, &req);
        ck_assert(rc == 0 || rc == GW_ERR_PROTO || (rc > 0 && (size_t)rc <= len));
        if (rc == GW_ERR_PROTO)
            ck_assert(req.status >= 400 && req.status <= 505);
        struct dav_chunked c;
        size_t used, off, dl, pos = 0;
        dav_chunked_init(&c);
        while (pos < len && dav_chunked_decode(&c, data + pos, len - pos, &used, &off, &dl) == 0 &&
               !dav_chunked_done(&c)) {
            ck_assert(off + dl <= len - pos && used <= len - pos);
            if (used == 0)
                break;
            pos += used;
        }
        free(data);
    }
    closedir(d);
}
END_TEST

Suite *webdav_http_suite(void)
{
    Suite *s = suite_create("webdav/http");
    TCase *tc = tcase_create("dav_http_parse");
    tcase_add_test(tc, test_parse_basic);
    tcase_add_test(tc, test_parse_incremental);
    tcase_add_test(tc, test_parse_blank_lines_and_versions);
    tcase_add_test(tc, test_parse_request_line_rejections);
    tcase_add_test(tc, test_parse_field_rejections);
    tcase_add_test(tc, test_parse_framing);
    tcase_add_test(tc, test_parse_limits);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_http_field");
    tcase_add_test(tc, test_field_helpers);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_chunked_decode");
    tcase_add_test(tc, test_chunked);
    tcase_add_test(tc, test_chunked_rejections);
    suite_add_tcase(s, tc);
    return s;
}
