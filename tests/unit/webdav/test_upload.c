/* Unit tests for webdav/upload.c: the pure parsers of the resumable-upload draft
 * (draft-ietf-httpbis-resumable-upload-12): Upload-Offset / Upload-Length as
 * structured-field integers, Upload-Complete as a structured-field boolean, the
 * application/partial-upload media type, and the upload resource's token and MAC. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdint.h>
#include <string.h>

#include "gateway/err.h"
#include "webdav/upload.h"

#define S(x) x, strlen(x)

START_TEST(test_sf_uint)
{
    uint64_t v = 77;
    ck_assert_int_eq(dav_sf_uint(S("0"), &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(dav_sf_uint(S("100000"), &v), 0);
    ck_assert_uint_eq(v, 100000);
    ck_assert_int_eq(dav_sf_uint(S("007"), &v), 0); /* sf-integer allows leading zeros */
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(dav_sf_uint(S("999999999999999"), &v), 0); /* 15 digits: the maximum */
    ck_assert_uint_eq(v, UINT64_C(999999999999999));
    ck_assert_int_eq(dav_sf_uint(S("4294967296"), &v), 0); /* past 4 GiB */
    ck_assert_uint_eq(v, UINT64_C(4294967296));
    static const char *bad[] = {"",       "-1",
                                "+1",     "1.5",
                                " 1",     "1 ",
                                "1;a",    "1;a=2",
                                "0x10",   "1e3",
                                "?1",     "\"1\"",
                                "1,2",    "1000000000000000", /* 16 digits */
                                "12a",    "١",
                                ":AQ==:", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        ck_assert_msg(dav_sf_uint(S(bad[i]), &v) == GW_ERR_INVAL, "accepted [%s]", bad[i]);
        ck_assert_uint_eq(v, 42); /* untouched on error */
    }
    ck_assert_int_eq(dav_sf_uint(NULL, 0, &v), GW_ERR_INVAL);
    ck_assert_int_eq(dav_sf_uint("12", 1, &v), 0); /* counted, not NUL-terminated */
    ck_assert_uint_eq(v, 1);
}
END_TEST

START_TEST(test_sf_bool)
{
    bool b = false;
    ck_assert_int_eq(dav_sf_bool(S("?1"), &b), 0);
    ck_assert(b);
    ck_assert_int_eq(dav_sf_bool(S("?0"), &b), 0);
    ck_assert(!b);
    static const char *bad[] = {"",    "?",   "1",    "0",      "true", "?2",  "? 1", "?1 ",
                                " ?1", "?01", "?1;a", "?1;a=1", "?T",   "yes", "??1", "?1,?0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = true;
        ck_assert_msg(dav_sf_bool(S(bad[i]), &b) == GW_ERR_INVAL, "accepted [%s]", bad[i]);
        ck_assert(b);
    }
    ck_assert_int_eq(dav_sf_bool(NULL, 0, &b), GW_ERR_INVAL);
    ck_assert_int_eq(dav_sf_bool("?1x", 2, &b), 0);
}
END_TEST

START_TEST(test_media_type_is)
{
    ck_assert(dav_media_type_is(S("application/partial-upload"), DAV_UPLOAD_MEDIA));
    ck_assert(dav_media_type_is(S("Application/Partial-Upload"), DAV_UPLOAD_MEDIA));
    ck_assert(dav_media_type_is(S(" application/partial-upload ; x=1"), DAV_UPLOAD_MEDIA));
    ck_assert(!dav_media_type_is(S("application/octet-stream"), DAV_UPLOAD_MEDIA));
    ck_assert(!dav_media_type_is(S("application/partial-upload2"), DAV_UPLOAD_MEDIA));
    ck_assert(!dav_media_type_is(S("application/partial"), DAV_UPLOAD_MEDIA));
    ck_assert(!dav_media_type_is(S(""), DAV_UPLOAD_MEDIA));
    ck_assert(!dav_media_type_is(NULL, 0, DAV_UPLOAD_MEDIA));
}
END_TEST

#define TOK                                                                                        \
    "000102030405060708090a0b"                                                                     \
    "f0e1d2c3b4a5968778695a4b"

START_TEST(test_token)
{
    struct dav_upload_id id;
    char out[DAV_UPLOAD_TOKEN_MAX];
    ck_assert_int_eq(dav_upload_token_parse(S(TOK), &id), 0);
    ck_assert(!id.has_len);
    ck_assert_uint_eq(id.nonce[11], 0x0b);
    ck_assert_uint_eq(id.mac[0], 0xf0);
    ck_assert_int_eq(dav_upload_token_format(&id, out, sizeof out), 0);
    ck_assert_str_eq(out, TOK);
    ck_assert_int_eq(dav_upload_token_parse(S(TOK ".300000"), &id), 0);
    ck_assert(id.has_len);
    ck_assert_uint_eq(id.len, 300000);
    ck_assert_int_eq(dav_upload_token_format(&id, out, sizeof out), 0);
    ck_assert_str_eq(out, TOK ".300000");
    ck_assert_int_eq(dav_upload_token_parse(S(TOK ".0"), &id), 0);
    ck_assert_uint_eq(id.len, 0);
    ck_assert_int_eq(dav_upload_token_parse(S(TOK ".9223372036854775807"), &id), 0);
    ck_assert_int_eq(dav_upload_token_format(&id, out, sizeof out), 0);
    ck_assert_int_eq(dav_upload_token_format(&id, out, 49), GW_ERR_TOOLONG);
    static const char *bad[] = {
        "",
        TOK "0", /* 49 hex digits */
        "000102030405060708090a0b"
        "f0e1d2c3b4a5968778695a4", /* 47 */
        "000102030405060708090A0B"
        "f0e1d2c3b4a5968778695a4b", /* uppercase */
        "00010203040506070809%0b"
        "f0e1d2c3b4a5968778695a4b",
        "../0203040506070809000b"
        "f0e1d2c3b4a5968778695a4b",
        TOK ".",
        TOK ".01",
        TOK ".-1",
        TOK ".9223372036854775808", /* past INT64_MAX */
        TOK ".99999999999999999999",
        TOK ".1x",
        TOK "&a=b",
        TOK "/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(dav_upload_token_parse(S(bad[i]), &id) == GW_ERR_INVAL, "accepted [%s]",
                      bad[i]);
}
END_TEST

START_TEST(test_query)
{
    const char *tok = NULL;
    size_t n = 0;
    ck_assert_int_eq(dav_upload_query(S("/a/b"), &tok, &n), 0);
    ck_assert_int_eq(dav_upload_query(S("/a/b?x=1"), &tok, &n), 0);
    ck_assert_int_eq(dav_upload_query(S("/a/b?uploads=1"), &tok, &n), 0);
    ck_assert_int_eq(dav_upload_query(S("/a/b?myupload=1"), &tok, &n), 0);
    ck_assert_int_eq(dav_upload_query(S("/a/b?upload=" TOK), &tok, &n), 1);
    ck_assert_uint_eq(n, 48);
    ck_assert(memcmp(tok, TOK, 48) == 0);
    ck_assert_int_eq(dav_upload_query(S("https://h/a?upload=" TOK ".5"), &tok, &n), 1);
    ck_assert_uint_eq(n, 50);
    /* A query about uploads must be exactly one well-formed token. */
    ck_assert_int_eq(dav_upload_query(S("/a?upload="), &tok, &n), GW_ERR_INVAL);
    ck_assert_int_eq(dav_upload_query(S("/a?upload=x"), &tok, &n), GW_ERR_INVAL);
    ck_assert_int_eq(dav_upload_query(S("/a?upload=" TOK "&x=1"), &tok, &n), GW_ERR_INVAL);
    ck_assert_int_eq(dav_upload_query(S("/a?x=1&upload=" TOK), &tok, &n), GW_ERR_INVAL);
    ck_assert_int_eq(dav_upload_query(S("/a?upload=" TOK "?upload=" TOK), &tok, &n), GW_ERR_INVAL);
    ck_assert_int_eq(dav_upload_query(S("/a?upload=%30" TOK), &tok, &n), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_mac)
{
    struct dav_upload_id id;
    unsigned char a[DAV_UPLOAD_MAC], b[DAV_UPLOAD_MAC];
    ck_assert_int_eq(dav_upload_token_parse(S(TOK), &id), 0);
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/f", 2, &id, a), 0);
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/f", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) == 0); /* deterministic */
    /* Every input changes it: user, path, inode, nonce, length. */
    ck_assert_int_eq(dav_upload_mac("admin", "/alice/f", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_int_eq(dav_upload_mac("alic", "e/alice/f", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/g", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/f", 3, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    id.nonce[0] ^= 1;
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/f", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    id.nonce[0] ^= 1;
    id.has_len = true;
    id.len = 0;
    ck_assert_int_eq(dav_upload_mac("alice", "/alice/f", 2, &id, b), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0); /* "length 0" is not "no length" */
}
END_TEST

Suite *webdav_upload_suite(void)
{
    Suite *s = suite_create("webdav/upload");
    TCase *tc = tcase_create("dav_sf_uint");
    tcase_add_test(tc, test_sf_uint);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_sf_bool");
    tcase_add_test(tc, test_sf_bool);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_media_type_is");
    tcase_add_test(tc, test_media_type_is);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_upload_token");
    tcase_add_test(tc, test_token);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_upload_query");
    tcase_add_test(tc, test_query);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_upload_mac");
    tcase_add_test(tc, test_mac);
    suite_add_tcase(s, tc);
    return s;
}
