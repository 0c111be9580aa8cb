/* Unit tests for gateway/audit.c: encoding and the hash chain (checked against fixtures
 * written by an independent Python implementation, tests/data/audit/make_fixtures.py),
 * the line parser, verification of every kind of tampering, the appending writer
 * (reopen, rotation, truncated tails, concurrent writers), the reader and xferlog. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"

static const char ZERO[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const unsigned char KEY[] = "ferry-test-key-0123456789";
#define KEYLEN (sizeof KEY - 1)

/* The records of tests/data/audit/make_fixtures.py. */
static void fixture_record(int i, struct audit_record *r)
{
    audit_record_init(r);
    switch (i) {
    case 0:
        audit_parse_ts("2026-11-28T14:03:07.123Z", 24, &r->ts_ms);
        r->event = "login", r->proto = "ftp", r->session = "00000000000000a1";
        r->user = "alice", r->remote = "192.0.2.7:50122", r->status = "ok";
        break;
    case 1:
        audit_parse_ts("2026-11-28T14:03:08.000Z", 24, &r->ts_ms);
        r->event = "upload", r->proto = "ftp", r->session = "00000000000000a1";
        r->user = "alice", r->remote = "192.0.2.7:50122", r->path = "/in/report 2026.csv";
        r->bytes = 1048576, r->offset = 0, r->size = 1048576, r->duration_ms = 412;
        r->status = "ok";
        r->sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        break;
    case 2:
        audit_parse_ts("2026-11-28T14:05:00.999Z", 24, &r->ts_ms);
        r->event = "rename", r->proto = "sftp", r->session = "00000000000000b2";
        r->user = "bob", r->remote = "[2001:db8::5]:40022";
        r->path = "/caf\xc3\xa9/\"quoted\"\\back";
        r->path2 = "/tab\there/\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80";
        r->status = "ok";
        break;
    case 3:
        audit_parse_ts("2026-11-29T00:00:00.000Z", 24, &r->ts_ms);
        r->event = "download", r->proto = "webdav", r->session = "00000000000000c3";
        r->user = "carol", r->remote = "198.51.100.9:443", r->path = "/pub/big.iso";
        r->bytes = 5000000000, r->offset = 4294967296, r->size = 9294967296;
        r->duration_ms = 61000, r->status = "aborted";
        r->error = "connection reset\nby peer\x01";
        break;
    default:
        audit_parse_ts("2026-11-29T00:00:01.500Z", 24, &r->ts_ms);
        r->event = "login_failed", r->proto = "ftps", r->session = "00000000000000d4";
        r->user = "mallory", r->remote = "203.0.113.66:1234", r->status = "failed";
        r->error = "bad password";
        break;
    }
}

/* n chained records, with varied content, into b (plain or keyed). */
static void make_log(struct gw_buf *b, int n, const unsigned char *key, size_t keylen)
{
    char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1], path[64];
    memcpy(prev, ZERO, sizeof prev);
    for (int i = 0; i < n; i++) {
        struct audit_record r;
        audit_record_init(&r);
        r.ts_ms = 1795000000000 + i * 1000;
        r.event = i % 2 ? "download" : "upload";
        r.proto = "sftp";
        r.user = "alice";
        r.remote = "127.0.0.1:4000";
        snprintf(path, sizeof path, "/data/file-%03d.bin", i);
        r.path = path;
        r.bytes = i * 100;
        r.status = "ok";
        ck_assert_int_eq(audit_encode(&r, prev, key, keylen, b, hash), 0);
        memcpy(prev, hash, sizeof prev);
    }
}

/* Byte offset of the start of 1-based line n in s. */
static size_t line_off(const char *s, int n)
{
    size_t off = 0;
    for (int i = 1; i < n; i++)
        off = (size_t)(strchr(s + off, '\n') - s) + 1;
    return off;
}

static size_t line_len(const char *s, int n)
{
    size_t off = line_off(s, n);
    return (size_t)(strchr(s + off, '\n') - (s + off)) + 1;
}

static struct audit_verify_result verify_str(const char *s, size_t n, const unsigned char *key,
                                             size_t keylen)
{
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_buf(s, n, NULL, key, keylen, &res), 0);
    return res;
}

static int count_lines(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

/* ---- timestamps ---- */

START_TEST(test_ts)
{
    char ts[AUDIT_TS_LEN + 1];
    int64_t ms;
    ck_assert_int_eq(audit_format_ts(0, ts), 0);
    ck_assert_str_eq(ts, "1970-01-01T00:00:00.000Z");
    ck_assert_int_eq(audit_format_ts(INT64_C(1795874587123), ts), 0);
    ck_assert_str_eq(ts, "2026-11-28T14:03:07.123Z");
    ck_assert_int_eq(audit_parse_ts(ts, strlen(ts), &ms), 0);
    ck_assert_int_eq(ms, INT64_C(1795874587123));
    /* leap day and the end of the range */
    ck_assert_int_eq(audit_parse_ts("2024-02-29T23:59:59.999Z", 24, &ms), 0);
    ck_assert_int_eq(audit_format_ts(ms, ts), 0);
    ck_assert_str_eq(ts, "2024-02-29T23:59:59.999Z");
    ck_assert_int_eq(audit_format_ts(INT64_C(253402300799999), ts), 0);
    ck_assert_str_eq(ts, "9999-12-31T23:59:59.999Z");
    ck_assert_int_eq(audit_format_ts(INT64_C(253402300800000), ts), GW_ERR_INVAL);
    ck_assert_int_eq(audit_format_ts(-1, ts), GW_ERR_INVAL);
    /* every 7 hours over 60 years round-trips */
    for (int64_t t = 0; t < INT64_C(1900000000000); t += INT64_C(25200001)) {
        ck_assert_int_eq(audit_format_ts(t, ts), 0);
        ck_assert_int_eq(audit_parse_ts(ts, 24, &ms), 0);
        ck_assert_int_eq(ms, t);
    }
    static const char *const bad[] = {
        "2023-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-11-28T24:00:00.000Z",
        "2026-11-28T14:03:07.123",  "2026-11-28 14:03:07.123Z", "2026-11-28T14:03:07,123Z",
        "1969-12-31T23:59:59.999Z", "2026-11-28T14:03:60.000Z", "2026-1a-28T14:03:07.123Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(audit_parse_ts(bad[i], strlen(bad[i]), &ms) == GW_ERR_INVAL, "%s", bad[i]);
}
END_TEST

/* ---- records ---- */

START_TEST(test_record_valid)
{
    struct audit_record r;
    audit_record_init(&r);
    ck_assert_int_eq(r.ts_ms, -1);
    ck_assert_int_eq(r.bytes, -1);
    ck_assert_ptr_null(r.path);
    ck_assert(!audit_record_valid(&r));
    r.event = "upload";
    ck_assert(!audit_record_valid(&r));
    r.status = "ok";
    ck_assert(audit_record_valid(&r));
    r.proto = "gopher";
    ck_assert(!audit_record_valid(&r));
    r.proto = "webdav";
    ck_assert(audit_record_valid(&r));
    r.event = "format_disk";
    ck_assert(!audit_record_valid(&r));
    r.event = "mirror";
    r.status = "maybe";
    ck_assert(!audit_record_valid(&r));
    r.status = "aborted";
    r.sha256 = "abc";
    ck_assert(!audit_record_valid(&r));
    r.sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    ck_assert(!audit_record_valid(&r));
    r.sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    ck_assert(audit_record_valid(&r));
}
END_TEST

/* ---- encoding ---- */

START_TEST(test_encode_matches_independent_fixture)
{
    for (int keyed = 0; keyed < 2; keyed++) {
        size_t flen;
        char *fixture =
            tu_read_file(tu_data_path(keyed ? "audit/keyed.jsonl" : "audit/plain.jsonl"), &flen);
        struct gw_buf b;
        char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
        gw_buf_init(&b, 1 << 20);
        memcpy(prev, ZERO, sizeof prev);
        for (int i = 0; i < 5; i++) {
            struct audit_record r;
            fixture_record(i, &r);
            ck_assert_int_eq(audit_encode(&r, i == 0 ? NULL : prev, keyed ? KEY : NULL,
                                          keyed ? KEYLEN : 0, &b, hash),
                             0);
            ck_assert_uint_eq(strlen(hash), AUDIT_HASH_HEX);
            memcpy(prev, hash, sizeof prev);
        }
        ck_assert_uint_eq(b.len, flen);
        ck_assert_str_eq(b.data, fixture);
        struct audit_verify_result res;
        ck_assert_int_eq(
            audit_verify_file(tu_data_path(keyed ? "audit/keyed.jsonl" : "audit/plain.jsonl"), NULL,
                              keyed ? KEY : NULL, keyed ? KEYLEN : 0, &res),
            0);
        ck_assert_int_eq(res.verdict, AUDIT_INTACT);
        ck_assert_int_eq(res.records, 5);
        ck_assert_str_eq(res.last_hash, prev);
        ck_assert_str_eq(res.reason, "5 records, chain intact");
        ck_assert_str_eq(res.first_prev, ZERO);
        gw_buf_free(&b);
        free(fixture);
    }
}
END_TEST

START_TEST(test_encode_errors_and_now)
{
    struct gw_buf b;
    struct audit_record r;
    char hash[AUDIT_HASH_HEX + 1];
    gw_buf_init(&b, 1 << 20);
    gw_buf_puts(&b, "keep");
    audit_record_init(&r);
    r.event = "login";
    r.status = "ok";
    char badprev[AUDIT_HASH_HEX + 1];
    memcpy(badprev, ZERO, sizeof badprev);
    badprev[10] = 'Z';
    ck_assert_int_eq(audit_encode(&r, badprev, NULL, 0, &b, hash), GW_ERR_INVAL);
    ck_assert_str_eq(gw_buf_str(&b), "keep");
    /* an over-long record is refused whole, the buffer untouched */
    char *big = malloc(GW_MAX_AUDIT_LINE);
    memset(big, 'x', GW_MAX_AUDIT_LINE - 1);
    big[GW_MAX_AUDIT_LINE - 1] = '\0';
    r.path = big;
    ck_assert_int_eq(audit_encode(&r, NULL, NULL, 0, &b, hash), GW_ERR_TOOLONG);
    ck_assert_str_eq(gw_buf_str(&b), "keep");
    /* a small buffer limit is reported the same way */
    struct gw_buf small;
    gw_buf_init(&small, 100);
    r.path = "/a";
    ck_assert_int_eq(audit_encode(&r, NULL, NULL, 0, &small, hash), GW_ERR_TOOLONG);
    ck_assert_uint_eq(small.len, 0);
    /* ts_ms <= 0 is now; appended after what the buffer held */
    int64_t before = (int64_t)time(NULL) * 1000 - 1000;
    ck_assert_int_eq(audit_encode(&r, NULL, NULL, 0, &b, hash), 0);
    ck_assert(strncmp(b.data, "keep{\"ts\":\"", 11) == 0);
    int64_t ts;
    ck_assert_int_eq(audit_parse_ts(b.data + 11, 24, &ts), 0);
    ck_assert(ts >= before && ts <= before + 5000);
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    /* invalid UTF-8 and controls stay valid JSON */
    gw_buf_reset(&b);
    r.path = "/bad\xff\x80name\x1b[31m";
    ck_assert_int_eq(audit_encode(&r, NULL, NULL, 0, &b, hash), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"/bad\xef\xbf\xbd\xef\xbf\xbdname\\u001b[31m\""));
    free(big);
    gw_buf_free(&b);
    gw_buf_free(&small);
}
END_TEST

/* ---- the parser ---- */

static int parse(const char *s, struct audit_line *al, char *store)
{
    return audit_parse_line(s, strlen(s), store, strlen(s) + 1, al);
}

START_TEST(test_parse_line)
{
    char store[4096];
    struct audit_line al;
    size_t flen;
    char *fixture = tu_read_file(tu_data_path("audit/plain.jsonl"), &flen);

    /* The fixture's third line: escapes, UTF-8, IPv6 remote. */
    size_t off = line_off(fixture, 3), n = line_len(fixture, 3) - 1;
    ck_assert_int_eq(audit_parse_line(fixture + off, n, store, sizeof store, &al), 0);
    ck_assert_str_eq(al.rec.event, "rename");
    ck_assert_str_eq(al.rec.remote, "[2001:db8::5]:40022");
    ck_assert_str_eq(al.rec.path, "/caf\xc3\xa9/\"quoted\"\\back");
    ck_assert_str_eq(al.rec.path2, "/tab\there/\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80");
    ck_assert_int_eq(al.rec.bytes, -1);
    ck_assert_ptr_null(al.rec.error);
    ck_assert_uint_eq(strlen(al.prev), 64);
    ck_assert_uint_eq(strlen(al.hash), 64);
    ck_assert(memcmp(fixture + off + al.hash_member, ",\"hash\":\"", 9) == 0);
    /* The fourth: big numbers, controls. */
    off = line_off(fixture, 4), n = line_len(fixture, 4) - 1;
    ck_assert_int_eq(audit_parse_line(fixture + off, n, store, sizeof store, &al), 0);
    ck_assert_int_eq(al.rec.bytes, 5000000000);
    ck_assert_int_eq(al.rec.offset, 4294967296);
    ck_assert_int_eq(al.rec.duration_ms, 61000);
    ck_assert_str_eq(al.rec.error, "connection reset\nby peer\x01");
    ck_assert_int_eq(al.rec.ts_ms, INT64_C(1795910400000));

    /* Every escape, surrogate pairs, whitespace, unknown members, null. */
    ck_assert_int_eq(parse(" { \"ts\" : \"2026-11-28T14:03:07.123Z\" , \"event\":\"\\u0075pload\","
                           "\"path\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u65E5\\ud83d\\ude00\","
                           "\"new\":[1]}",
                           &al, store),
                     GW_ERR_PROTO); /* arrays are not ours */
    ck_assert_int_eq(parse(" { \"ts\" : \"2026-11-28T14:03:07.123Z\" , \"event\":\"\\u0075pload\","
                           "\"path\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u65E5\\ud83d\\ude00\","
                           "\"new\":true,\"n2\":-1.5e+3,\"user\":null,\"\\u0062ytes\":7 } ",
                           &al, store),
                     0);
    ck_assert_str_eq(al.rec.event, "upload");
    ck_assert_str_eq(al.rec.path, "\"\\/\b\f\n\r\t\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80");
    ck_assert_ptr_null(al.rec.user);
    ck_assert_int_eq(al.rec.bytes, 7);
    ck_assert_str_eq(al.hash, "");
    ck_assert_uint_eq(al.hash_member, 0);
    ck_assert_int_eq(parse("{}", &al, store), 0);
    ck_assert_int_eq(al.rec.ts_ms, -1);

    /* Cut anywhere inside a valid line: a truncated record (GW_ERR_AGAIN), never
     * accepted, never a crash. */
    off = line_off(fixture, 3), n = line_len(fixture, 3) - 1;
    for (size_t k = 1; k < n; k++)
        ck_assert_msg(audit_parse_line(fixture + off, k, store, sizeof store, &al) == GW_ERR_AGAIN,
                      "cut at %zu", k);

    static const char *const protos[] = {
        "",
        "x",
        "[]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":1} x",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"\\ud83d\"}",        /* lone high surrogate */
        "{\"a\":\"\\ude00\"}",        /* lone low surrogate */
        "{\"a\":\"\\ud83d\\u0041\"}", /* high + non-low */
        "{\"a\":\"\\u0000\"}",        /* NUL cannot be in a record string */
        "{\"a\":\"\x01\"}",           /* raw control */
        "{\"a\":\"\xc3\x28\"}",       /* invalid UTF-8 */
        "{\"a\":\"\xed\xa0\x80\"}",   /* UTF-8 surrogate */
        "{\"bytes\":\"7\"}",          /* wrong types */
        "{\"bytes\":-7}",
        "{\"bytes\":1.5}",
        "{\"bytes\":99999999999999999999}",
        "{\"user\":5}",
        "{\"user\":true}",
        "{\"ts\":\"yesterday\"}",
        "{\"user\":\"a\",\"user\":\"b\"}", /* duplicates */
        "{\"prev\":\"00\"}",
        "{\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"a\":1,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\","
        "\"b\":2}",
        "{\"a\":1,\"hash\":null}",
        "{\"a\":1,\"hash\":\"000000000000000000000000000000000000000000000000000000000000000G\"}",
    };
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        ck_assert_msg(parse(protos[i], &al, store) == GW_ERR_PROTO, "accepted %s", protos[i]);
    static const char *const again[] = {
        "{",
        "{\"a",
        "{\"a\":",
        "{\"a\":\"x",
        "{\"a\":12",
        "{\"a\":nu",
        "{\"a\":\"\\u00",
        "{\"a\":\"\\ud83d",
        "{\"a\":\"\\ud83d\\",
        "{\"a\":\"\xe6\x97",
        "{\"a\":1 ",
        "{\"a\":1,",
    };
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
        ck_assert_msg(parse(again[i], &al, store) == GW_ERR_AGAIN, "not truncated: %s", again[i]);
    ck_assert_int_eq(audit_parse_line("{}", 2, store, 2, &al), GW_ERR_INVAL);
    free(fixture);
}
END_TEST

/* Crash inputs found by tests/fuzz/fuzz_audit.c are replayed here. */
START_TEST(test_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/audit");
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        char *data = tu_read_file(path, &n);
        char *store = malloc(n + 1);
        struct audit_line al;
        if (audit_parse_line(data, n, store, n + 1, &al) == 0) {
            /* what fuzz_audit.c checks: no control byte in the lines made of it */
            struct gw_buf b;
            gw_buf_init(&b, 4 * n + 256);
            if (al.rec.ts_ms < 0)
                al.rec.ts_ms = 1;
            if (audit_xferlog_line(&al.rec, &b) == 0)
                gw_buf_append(&b, "x", 1); /* drop the final '\n' from the check */
            if (audit_syslog_line(&al.rec, NULL, &b) == 0)
                for (size_t i = 0; i < b.len; i++)
                    ck_assert_msg((unsigned char)b.data[i] >= 0x20 ||
                                      (i + 1 < b.len && b.data[i] == '\n' && b.data[i + 1] == 'x'),
                                  "%s: control byte at %zu", e->d_name, i);
            gw_buf_free(&b);
        }
        struct audit_verify_result res;
        audit_verify_buf(data, n, NULL, NULL, 0, &res);
        free(store);
        free(data);
    }
    closedir(d);
}
END_TEST

/* ---- verification: every kind of tampering, found at the right line ---- */

START_TEST(test_verify_tamper)
{
    struct gw_buf b;
    struct audit_verify_result res;
    gw_buf_init(&b, 1 << 20);
    make_log(&b, 20, NULL, 0);
    const char *log = b.data;
    size_t n = b.len;

    res = verify_str(log, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 20);
    ck_assert_int_eq(res.line, 0);

    /* edit one byte of line 7 (its path) */
    char *t = strdup(log);
    char *p = strstr(t + line_off(t, 7), "file-006");
    p[5] = '9';
    res = verify_str(t, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);
    ck_assert_int_eq(res.line, 7);
    ck_assert_int_eq(res.records, 6);
    ck_assert_str_eq(res.reason, "line 7: record edited (hash mismatch)");
    free(t);

    /* edit a byte of the hash itself, and of prev */
    t = strdup(log);
    p = strstr(t + line_off(t, 12), "\"hash\":\"") + 8;
    *p = *p == 'a' ? 'b' : 'a';
    res = verify_str(t, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);
    ck_assert_int_eq(res.line, 12);
    free(t);
    t = strdup(log);
    p = strstr(t + line_off(t, 3), "\"prev\":\"") + 8;
    *p = *p == 'a' ? 'b' : 'a';
    res = verify_str(t, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);
    ck_assert_int_eq(res.line, 3);
    free(t);

    /* delete line 5 */
    t = malloc(n);
    size_t o5 = line_off(log, 5), l5 = line_len(log, 5);
    memcpy(t, log, o5);
    memcpy(t + o5, log + o5 + l5, n - o5 - l5);
    res = verify_str(t, n - l5, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 5);
    ck_assert_int_eq(res.records, 4);
    ck_assert_msg(strstr(res.reason, "line 5: chain broken: record(s) missing") != NULL, "%s",
                  res.reason);
    free(t);

    /* delete the last 3 lines plus the first: a chain with a non-zero start */
    size_t o2 = line_off(log, 2);
    res = verify_str(log + o2, line_off(log, 18) - o2, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_str_ne(res.first_prev, ZERO);
    /* ...which is caught when the caller knows where the chain must start */
    ck_assert_int_eq(audit_verify_buf(log + o2, n - o2, ZERO, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 1);

    /* swap lines 9 and 10 */
    t = malloc(n);
    size_t o9 = line_off(log, 9), l9 = line_len(log, 9), l10 = line_len(log, 10);
    memcpy(t, log, n);
    memcpy(t + o9, log + o9 + l9, l10);
    memcpy(t + o9 + l10, log + o9, l9);
    res = verify_str(t, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 9);
    ck_assert_msg(strstr(res.reason, "line 9: record out of order") != NULL, "%s", res.reason);
    free(t);

    /* move line 3 to after line 15: out of order where it lands */
    t = malloc(n);
    size_t o3 = line_off(log, 3), l3 = line_len(log, 3), o16 = line_off(log, 16);
    memcpy(t, log, o3);
    memcpy(t + o3, log + o3 + l3, o16 - o3 - l3);
    memcpy(t + o16 - l3, log + o3, l3);
    memcpy(t + o16, log + o16, n - o16);
    res = verify_str(t, n, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 3);
    ck_assert_msg(strstr(res.reason, "out of order") != NULL, "%s", res.reason);
    free(t);

    /* repeat line 4 (a replayed record) */
    t = malloc(n + 1000);
    size_t o5b = line_off(log, 5), l4 = line_len(log, 4);
    memcpy(t, log, o5b);
    memcpy(t + o5b, log + o5b - l4, l4);
    memcpy(t + o5b + l4, log + o5b, n - o5b);
    res = verify_str(t, n + l4, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 5);
    ck_assert_msg(strstr(res.reason, "repeated") != NULL, "%s", res.reason);
    free(t);

    /* truncate in the middle of the last line */
    size_t o20 = line_off(log, 20);
    res = verify_str(log, o20 + 40, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 20);
    ck_assert_int_eq(res.records, 19);
    ck_assert_msg(strstr(res.reason, "line 20: truncated") != NULL, "%s", res.reason);
    /* even a complete record without its newline is an unfinished write */
    res = verify_str(log, n - 1, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 20);

    /* a truncated record followed by more records (the writer restarted after a crash) */
    t = malloc(n + 1);
    size_t o8 = line_off(log, 8);
    memcpy(t, log, o8 + 50);
    t[o8 + 50] = '\n';
    memcpy(t + o8 + 51, log + o8 + line_len(log, 8), n - o8 - line_len(log, 8));
    res = verify_str(t, o8 + 51 + n - o8 - line_len(log, 8), NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 8);
    free(t);

    /* a junk line after line 3, and an empty one */
    for (int junk = 0; junk < 3; junk++) {
        static const char *const junks[] = {"hello world\n", "\n", "{\"ts\":1}\n"};
        size_t jl = strlen(junks[junk]);
        t = malloc(n + jl);
        size_t o4 = line_off(log, 4);
        memcpy(t, log, o4);
        memcpy(t + o4, junks[junk], jl);
        memcpy(t + o4 + jl, log + o4, n - o4);
        res = verify_str(t, n + jl, NULL, 0);
        ck_assert_int_eq(res.verdict, AUDIT_MALFORMED);
        ck_assert_int_eq(res.line, 4);
        ck_assert_msg(strstr(res.reason, "line 4: not an audit record") != NULL, "%s", res.reason);
        free(t);
    }

    /* an over-long line */
    t = malloc(n + GW_MAX_AUDIT_LINE + 10);
    memcpy(t, log, o2);
    memset(t + o2, '{', GW_MAX_AUDIT_LINE + 5);
    t[o2 + GW_MAX_AUDIT_LINE + 5] = '\n';
    res = verify_str(t, o2 + GW_MAX_AUDIT_LINE + 6, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_MALFORMED);
    ck_assert_int_eq(res.line, 2);
    free(t);

    /* an empty log is intact */
    res = verify_str("", 0, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 0);
    ck_assert_str_eq(res.reason, "0 records, chain intact");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_verify_keyed)
{
    struct gw_buf b;
    struct audit_verify_result res;
    gw_buf_init(&b, 1 << 20);
    make_log(&b, 10, KEY, KEYLEN);
    res = verify_str(b.data, b.len, KEY, KEYLEN);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 10);
    /* without the key, or with another one, the first record fails */
    res = verify_str(b.data, b.len, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);
    ck_assert_int_eq(res.line, 1);
    ck_assert_msg(strstr(res.reason, "key") != NULL, "%s", res.reason);
    res = verify_str(b.data, b.len, (const unsigned char *)"other", 5);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);

    /* An attacker without the key edits line 4 and re-hashes the rest of the chain
     * with plain SHA-256: that passes an unkeyed check, not the keyed one. */
    struct gw_buf plain, forged;
    gw_buf_init(&plain, 1 << 20);
    gw_buf_init(&forged, 1 << 20);
    make_log(&plain, 10, NULL, 0);
    char *t = strdup(plain.data);
    char *p = strstr(t + line_off(t, 4), "file-003");
    p[5] = '7';
    /* re-hash from line 4 on, unkeyed, as the attacker would */
    char store[8192], prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
    memcpy(prev, ZERO, sizeof prev);
    for (int i = 1; i <= 10; i++) {
        struct audit_line al;
        size_t o = line_off(t, i), l = line_len(t, i) - 1;
        ck_assert_int_eq(audit_parse_line(t + o, l, store, sizeof store, &al), 0);
        ck_assert_int_eq(audit_encode(&al.rec, prev, NULL, 0, &forged, hash), 0);
        memcpy(prev, hash, sizeof prev);
    }
    res = verify_str(forged.data, forged.len, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT); /* an unkeyed chain can be rebuilt */
    ck_assert_ptr_nonnull(strstr(forged.data, "file-703"));
    res = verify_str(forged.data, forged.len, KEY, KEYLEN);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);
    free(t);
    gw_buf_free(&b);
    gw_buf_free(&plain);
    gw_buf_free(&forged);
}
END_TEST

/* An edit re-hashed without fixing the next record's prev shows as a break after it. */
START_TEST(test_verify_rehashed_line)
{
    struct gw_buf b, out;
    gw_buf_init(&b, 1 << 20);
    gw_buf_init(&out, 1 << 20);
    make_log(&b, 6, NULL, 0);
    char store[8192], hash[AUDIT_HASH_HEX + 1];
    struct audit_line al;
    size_t o3 = line_off(b.data, 3), l3 = line_len(b.data, 3);
    ck_assert_int_eq(audit_parse_line(b.data + o3, l3 - 1, store, sizeof store, &al), 0);
    al.rec.user = "eve";
    gw_buf_append(&out, b.data, o3);
    ck_assert_int_eq(audit_encode(&al.rec, al.prev, NULL, 0, &out, hash), 0);
    gw_buf_append(&out, b.data + o3 + l3, b.len - o3 - l3);
    struct audit_verify_result res = verify_str(out.data, out.len, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 4);
    ck_assert_msg(strstr(res.reason, "or line 3 rewritten") != NULL, "%s", res.reason);
    gw_buf_free(&b);
    gw_buf_free(&out);
}
END_TEST

/* Keys longer than SHA-256's block are hashed first (RFC 2104): checked against
 * Python's hmac, as the fixtures check short keys. */
START_TEST(test_hmac_long_key)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], keyp[4096];
    unsigned char key[200];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    snprintf(keyp, sizeof keyp, "%s/key", dir);
    tu_write_file(keyp, key, sizeof key);
    for (size_t len = 63; len <= 200; len += 65) { /* 63, 128, 193: both sides of 64 */
        struct gw_buf b;
        struct audit_record r;
        char hash[AUDIT_HASH_HEX + 1];
        gw_buf_init(&b, 4096);
        fixture_record(1, &r);
        ck_assert_int_eq(audit_encode(&r, NULL, key, len, &b, hash), 0);
        snprintf(path, sizeof path, "%s/line", dir);
        tu_write_file(path, b.data, b.len);
        ck_assert_msg(tu_sh("/usr/bin/python3 -c 'import hmac, hashlib, json, sys\n"
                            "line = open(sys.argv[1], \"rb\").read().rstrip(b\"\\n\")\n"
                            "key = open(sys.argv[2], \"rb\").read()[:int(sys.argv[3])]\n"
                            "canon = line[:line.index(b\",\\\"hash\\\":\")] + b\"}\"\n"
                            "h = hmac.new(key, bytes(32) + canon, hashlib.sha256).hexdigest()\n"
                            "sys.exit(h != json.loads(line)[\"hash\"])' '%s' '%s' %zu",
                            path, keyp, len) == 0,
                      "key of %zu bytes", len);
        struct audit_verify_result res;
        ck_assert_int_eq(audit_verify_buf(b.data, b.len, NULL, key, len, &res), 0);
        ck_assert_int_eq(res.verdict, AUDIT_INTACT);
        gw_buf_free(&b);
    }
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the writer ---- */

static void append_n(struct audit_log *log, int n, const char *tag)
{
    char path[64];
    for (int i = 0; i < n; i++) {
        struct audit_record r;
        audit_record_init(&r);
        r.event = "upload";
        r.proto = "ftp";
        r.user = "bob";
        snprintf(path, sizeof path, "/%s/%d", tag, i);
        r.path = path;
        r.bytes = i;
        r.status = "ok";
        ck_assert_int_eq(audit_append(log, &r), 0);
    }
}

static struct audit_verify_result verify_path(const char *path, const unsigned char *key,
                                              size_t keylen)
{
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_file(path, NULL, key, keylen, &res), 0);
    return res;
}

START_TEST(test_open_append_reopen)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096];
    struct audit_log *log;
    struct stat st;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);

    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    close(fd);
    append_n(log, 3, "a");
    audit_close(log);
    /* reopening continues the chain */
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 2, "b");
    /* audit_reopen on the same, unrotated file keeps it too */
    ck_assert_int_eq(audit_reopen(log), 0);
    append_n(log, 2, "c");
    audit_close(log);
    struct audit_verify_result res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 7);

    /* keyed */
    snprintf(path, sizeof path, "%s/keyed.jsonl", dir);
    ck_assert_int_eq(audit_open(path, KEY, KEYLEN, &log), 0);
    append_n(log, 2, "k");
    audit_close(log);
    ck_assert_int_eq(audit_open(path, KEY, KEYLEN, &log), 0);
    append_n(log, 2, "k2");
    audit_close(log);
    res = verify_path(path, KEY, KEYLEN);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 4);
    res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_EDITED);

    /* not a regular file; no such directory */
    ck_assert_int_eq(audit_open(dir, NULL, 0, &log), GW_ERR_ISDIR);
    snprintf(path, sizeof path, "%s/nope/audit.jsonl", dir);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), GW_ERR_NOENT);
    ck_assert_ptr_null(log);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_truncated_tail_then_append)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096];
    struct audit_log *log;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 5, "x");
    audit_close(log);
    /* a crash in the middle of record 5 */
    size_t n;
    char *data = tu_read_file(path, &n);
    size_t o5 = line_off(data, 5);
    ck_assert_int_eq(truncate(path, (off_t)(o5 + 30)), 0);
    struct audit_verify_result res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 5);
    ck_assert_int_eq(res.records, 4);
    char last4[AUDIT_HASH_HEX + 1];
    memcpy(last4, res.last_hash, sizeof last4);

    /* the restarted writer continues from record 4, on a line of its own */
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 2, "y");
    audit_close(log);
    free(data);
    data = tu_read_file(path, &n);
    ck_assert_int_eq(count_lines(data, n), 7);
    ck_assert_int_eq(data[o5 + 30], '\n');
    char store[8192];
    struct audit_line al;
    size_t o6 = line_off(data, 6);
    ck_assert_int_eq(audit_parse_line(data + o6, line_len(data, 6) - 1, store, sizeof store, &al),
                     0);
    ck_assert_str_eq(al.prev, last4);
    res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 5);
    /* everything after the truncated line chains on from record 4 */
    ck_assert_int_eq(audit_verify_buf(data + o6, n - o6, last4, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 2);
    free(data);

    /* records cut off the end while the writer runs: the next record exposes it */
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 3, "z");
    data = tu_read_file(path, &n);
    ck_assert_int_eq(truncate(path, (off_t)line_off(data, 10)), 0);
    append_n(log, 1, "after");
    audit_close(log);
    free(data);
    data = tu_read_file(path, &n);
    ck_assert_int_eq(audit_verify_buf(data + o6, n - o6, last4, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_int_eq(res.line, 5); /* line 10 of the file */
    free(data);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A tail with no record in it: a fresh writer starts a chain, verify reports the junk. */
START_TEST(test_junk_tail)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096];
    struct audit_log *log;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    static const char junk[] = "garbage\n{\"half\":";
    tu_write_file(path, junk, sizeof junk - 1);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 2, "j");
    audit_close(log);
    size_t n;
    char *data = tu_read_file(path, &n);
    ck_assert_int_eq(count_lines(data, n), 4);
    char store[8192];
    struct audit_line al;
    size_t o3 = line_off(data, 3);
    ck_assert_int_eq(audit_parse_line(data + o3, line_len(data, 3) - 1, store, sizeof store, &al),
                     0);
    ck_assert_str_eq(al.prev, ZERO);
    struct audit_verify_result res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_MALFORMED);
    ck_assert_int_eq(res.line, 1);
    ck_assert_int_eq(audit_verify_buf(data + o3, n - o3, ZERO, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 2);
    free(data);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_rotation)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], p1[4200], p2[4200];
    struct audit_log *log;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);

    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 3, "one");
    /* logrotate `create`: rename, then SIGHUP -> audit_reopen */
    ck_assert_int_eq(rename(path, p2), 0);
    ck_assert_int_eq(audit_reopen(log), 0);
    append_n(log, 2, "two");
    /* logrotate `copytruncate`: copy, then empty the file under the writer */
    ck_assert_int_eq(tu_sh("cp '%s' '%s' && : > '%s'", path, p1, path), 0);
    append_n(log, 4, "three");
    audit_close(log);
    ck_assert_int_eq(tu_sh("gzip '%s'", p2), 0);

    char **files;
    size_t n, bad;
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(strstr(files[0], "audit.jsonl.2.gz") != NULL);
    ck_assert(strstr(files[1], "audit.jsonl.1") != NULL);
    ck_assert_str_eq(files[2], path);
    ck_assert_ptr_null(files[3]);
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_files(files, n, NULL, 0, &res, &bad), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 9);
    ck_assert_uint_eq(bad, 3);
    ck_assert_str_eq(res.first_prev, ZERO);
    /* the newest file alone starts mid-chain */
    res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_str_ne(res.first_prev, ZERO);

    /* remove the middle file: the newest no longer continues the chain */
    char *both[] = {files[0], files[2], NULL};
    ck_assert_int_eq(audit_verify_files(both, 2, NULL, 0, &res, &bad), 0);
    ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
    ck_assert_uint_eq(bad, 1);
    ck_assert_int_eq(res.line, 1);
    ck_assert_msg(strstr(res.reason, "previous file") != NULL, "%s", res.reason);
    audit_files_free(files);

    /* both x.1 and x.1.gz (logrotate compressing): the plain one is read */
    ck_assert_int_eq(tu_sh("gzip -k '%s'", p1), 0);
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(strstr(files[1], "audit.jsonl.1") != NULL && strstr(files[1], ".gz") == NULL);
    audit_files_free(files);
    /* unrelated names are not rotations */
    ck_assert_int_eq(tu_sh("cd '%s' && touch audit.jsonl.bak audit.jsonl.01 audit.jsonl.3x "
                           "audit.jsonlx.4",
                           dir),
                     0);
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_uint_eq(n, 3);
    audit_files_free(files);
    char nope[4096];
    snprintf(nope, sizeof nope, "%s/none.jsonl", dir);
    ck_assert_int_eq(audit_files(nope, &files, &n), GW_ERR_NOENT);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Several processes, each with its own audit_open on one file, append at once: every
 * line stays whole (O_APPEND, one write per record), and because appends lock the file
 * and re-read a tail that moved, the chain is intact too. */
START_TEST(test_concurrent_appends)
{
    enum { PROCS = 6, PER = 150 };
    char *dir = tu_mkdtemp("audit");
    char path[4096];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            struct audit_log *log;
            char *pad = malloc(20000);
            if (audit_open(path, NULL, 0, &log) != 0)
                _exit(1);
            for (int i = 0; i < PER; i++) {
                struct audit_record r;
                audit_record_init(&r);
                r.event = "download";
                r.status = "ok";
                r.user = "worker";
                /* some records are long, to give interleaving every chance */
                size_t padlen = (size_t)((i * 7919 + p * 104729) % 19000) + 1;
                memset(pad, 'a' + p, padlen);
                pad[padlen] = '\0';
                r.path = pad;
                r.bytes = p * 1000 + i;
                if (audit_append(log, &r) != 0)
                    _exit(2);
            }
            audit_close(log);
            free(pad);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    size_t n;
    char *data = tu_read_file(path, &n);
    ck_assert_int_eq(count_lines(data, n), PROCS * PER);
    char *store = malloc(GW_MAX_AUDIT_LINE + 1);
    int seen[PROCS] = {0};
    for (size_t o = 0; o < n;) {
        char *nl = memchr(data + o, '\n', n - o);
        ck_assert_ptr_nonnull(nl);
        struct audit_line al;
        ck_assert_int_eq(audit_parse_line(data + o, (size_t)(nl - (data + o)), store,
                                          GW_MAX_AUDIT_LINE + 1, &al),
                         0);
        int p = (int)(al.rec.bytes / 1000);
        ck_assert(p >= 0 && p < PROCS);
        ck_assert_int_eq(al.rec.path[0], 'a' + p);
        ck_assert_uint_eq(strspn(al.rec.path, (char[]){(char)('a' + p), 0}), strlen(al.rec.path));
        seen[p]++;
        o = (size_t)(nl - data) + 1;
    }
    for (int p = 0; p < PROCS; p++)
        ck_assert_int_eq(seen[p], PER);
    struct audit_verify_result res = verify_path(path, NULL, 0);
    ck_assert_msg(res.verdict == AUDIT_INTACT, "%s", res.reason);
    ck_assert_int_eq(res.records, PROCS * PER);
    free(store);
    free(data);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- rotation without a signal, audit_rotate ---- */

/* The hash of the last record of a file (plain or gzip), "" when it has none. */
static void last_hash_of(const char *path, char out[AUDIT_HASH_HEX + 1])
{
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_file(path, NULL, NULL, 0, &res), 0);
    ck_assert_msg(res.verdict == AUDIT_INTACT, "%s: %s", path, res.reason);
    memcpy(out, res.last_hash, AUDIT_HASH_HEX + 1);
}

static void first_prev_of(const char *path, char out[AUDIT_HASH_HEX + 1])
{
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_file(path, NULL, NULL, 0, &res), 0);
    memcpy(out, res.first_prev, AUDIT_HASH_HEX + 1);
}

/* Verifies path and its rotations as one chain; returns the record count. */
static uint64_t verify_all(const char *path, size_t want_files)
{
    char **files;
    size_t n, bad;
    struct audit_verify_result res;
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    if (want_files)
        ck_assert_uint_eq(n, want_files);
    ck_assert_int_eq(audit_verify_files(files, n, NULL, 0, &res, &bad), 0);
    ck_assert_msg(res.verdict == AUDIT_INTACT, "%s: %s", bad < n ? files[bad] : "?", res.reason);
    ck_assert_str_eq(res.first_prev, ZERO);
    audit_files_free(files);
    return res.records;
}

/* A running writer follows a rename (logrotate `create`, with or without the new file
 * created for it) with no audit_reopen, and two writers on one log keep one chain
 * across the files. */
START_TEST(test_follow_rotation)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], p1[4200], p2[4200], p3[4200], h[AUDIT_HASH_HEX + 1], prev[AUDIT_HASH_HEX + 1];
    struct audit_log *a, *b;
    struct stat st;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    snprintf(p3, sizeof p3, "%s.3", path);

    ck_assert_int_eq(audit_open(path, NULL, 0, &a), 0);
    append_n(a, 3, "one");
    /* renamed away, nothing at the path: the writer creates it, mode 0600 */
    ck_assert_int_eq(rename(path, p3), 0);
    append_n(a, 2, "two");
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    last_hash_of(p3, h);
    first_prev_of(path, prev);
    ck_assert_str_eq(prev, h);
    /* logrotate `create`: renamed, a new empty file created (another inode) */
    ck_assert_int_eq(rename(path, p2), 0);
    ck_assert_int_eq(tu_sh("touch '%s' && chmod 600 '%s'", path, path), 0);
    append_n(a, 1, "three");
    size_t n;
    char *data = tu_read_file(path, &n);
    ck_assert_int_eq(count_lines(data, n), 1);
    free(data);
    ck_assert_uint_eq(verify_all(path, 3), 6);

    /* two writers: b's records land in the old file until the rename, both follow */
    ck_assert_int_eq(audit_open(path, NULL, 0, &b), 0);
    append_n(b, 2, "b1");
    append_n(a, 1, "a1");
    ck_assert_int_eq(tu_sh("cd '%s' && mv audit.jsonl.3 audit.jsonl.4 && mv audit.jsonl.2 "
                           "audit.jsonl.3 && mv audit.jsonl audit.jsonl.2",
                           dir),
                     0);
    append_n(b, 1, "b2"); /* b creates the new file */
    append_n(a, 2, "a2"); /* a adopts b's record */
    append_n(b, 1, "b3");
    data = tu_read_file(path, &n);
    ck_assert_int_eq(count_lines(data, n), 4);
    free(data);
    ck_assert_uint_eq(verify_all(path, 4), 13);
    audit_close(a);
    audit_close(b);

    /* a writer idle across two rotations: its old file is not the newest rotation,
     * so its next record continues from the end of audit.jsonl.1, not from memory */
    ck_assert_int_eq(audit_open(path, NULL, 0, &a), 0);
    ck_assert_int_eq(audit_open(path, NULL, 0, &b), 0);
    append_n(a, 1, "s1");
    append_n(b, 1, "s2");
    bool rotated;
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, NULL, 0), 0);
    append_n(a, 2, "s3");
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, NULL, 0), 0);
    append_n(b, 1, "s4"); /* b still holds what is now audit.jsonl.2 */
    append_n(a, 1, "s5");
    ck_assert_uint_eq(verify_all(path, 6), 19);
    /* the same through audit_reopen (SIGHUP) */
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, NULL, 0), 0);
    append_n(a, 1, "s6");
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, NULL, 0), 0);
    ck_assert_int_eq(audit_reopen(b), 0);
    append_n(b, 1, "s7");
    ck_assert_uint_eq(verify_all(path, 8), 21);
    audit_close(a);
    audit_close(b);
    ck_assert_int_eq(tu_sh("cd '%s' && rm audit.jsonl.*", dir), 0);

    /* audit_reopen after a rename still works, and is harmless when nothing moved */
    ck_assert_int_eq(audit_open(path, NULL, 0, &a), 0);
    append_n(a, 1, "r0");
    ck_assert_int_eq(rename(path, p1), 0);
    ck_assert_int_eq(audit_reopen(a), 0);
    append_n(a, 1, "r");
    ck_assert_int_eq(audit_reopen(a), 0);
    append_n(a, 1, "r2");
    audit_close(a);
    first_prev_of(path, prev);
    last_hash_of(p1, h);
    ck_assert_str_eq(prev, h);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_rotate)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], err[256], name[4300];
    struct audit_log *log;
    bool rotated;
    struct stat st;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);

    /* nothing to rotate */
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, err, sizeof err), 0);
    ck_assert(!rotated);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, err, sizeof err), 0);
    ck_assert(!rotated);
    ck_assert_int_eq(stat(path, &st), 0); /* an empty file stays */

    /* rotate under a running writer: it continues in a new file, chained */
    append_n(log, 2, "a");
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, err, sizeof err), 0);
    ck_assert(rotated);
    ck_assert_int_eq(stat(path, &st), -1); /* the writer creates it, not the rotation */
    append_n(log, 2, "b");
    ck_assert_int_eq(audit_rotate(path, 0, true, &rotated, err, sizeof err), 0);
    ck_assert_msg(rotated, "%s", err);
    append_n(log, 2, "c");
    /* --compress is delayed: .1 stays plain, the older one is gzipped */
    snprintf(name, sizeof name, "%s.1", path);
    ck_assert_int_eq(stat(name, &st), 0);
    snprintf(name, sizeof name, "%s.2.gz", path);
    ck_assert_int_eq(stat(name, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, err, sizeof err), 0);
    append_n(log, 2, "d");
    /* audit.jsonl.3.gz (a), .2 (b), .1 (c), audit.jsonl (d) */
    snprintf(name, sizeof name, "%s.3.gz", path);
    ck_assert_int_eq(stat(name, &st), 0);
    snprintf(name, sizeof name, "%s.2", path);
    ck_assert_int_eq(stat(name, &st), 0);
    ck_assert_uint_eq(verify_all(path, 4), 8);
    audit_close(log);

    /* with the writer stopped: a fresh writer continues the newest rotation's chain,
     * plain, or compressed by someone else */
    ck_assert_int_eq(audit_rotate(path, 0, true, &rotated, err, sizeof err), 0);
    snprintf(name, sizeof name, "%s.2", path);
    ck_assert_int_eq(stat(name, &st), -1); /* compressed this time */
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 1, "e");
    audit_close(log);
    ck_assert_uint_eq(verify_all(path, 5), 9);
    ck_assert_int_eq(audit_rotate(path, 0, false, &rotated, err, sizeof err), 0);
    ck_assert_int_eq(tu_sh("gzip '%s.1'", path), 0);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 1, "f");
    audit_close(log);
    ck_assert_uint_eq(verify_all(path, 6), 10);

    /* --keep 2: the older files go; verify notes the missing start but passes */
    ck_assert_int_eq(audit_rotate(path, 2, false, &rotated, err, sizeof err), 0);
    char **files;
    size_t n, bad;
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(strstr(files[0], "audit.jsonl.2") != NULL);
    ck_assert(strstr(files[1], "audit.jsonl.1") != NULL);
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_files(files, n, NULL, 0, &res, &bad), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_uint_eq(res.records, 2);
    ck_assert_str_ne(res.first_prev, ZERO);
    audit_files_free(files);

    /* a compression that cannot be written: the rotation stands, the error says so */
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    append_n(log, 1, "g");
    snprintf(name, sizeof name, "%s.2.gz.tmp", path);
    ck_assert_int_eq(mkdir(name, 0700), 0);
    ck_assert_int_lt(audit_rotate(path, 0, true, &rotated, err, sizeof err), 0);
    ck_assert(rotated);
    ck_assert_msg(strstr(err, "rotated, but cannot compress") != NULL, "%s", err);
    ck_assert_int_eq(rmdir(name), 0);
    append_n(log, 1, "h");
    audit_close(log);
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_int_eq(audit_verify_files(files, n, NULL, 0, &res, &bad), 0);
    ck_assert_msg(res.verdict == AUDIT_INTACT, "%s", res.reason);
    ck_assert_uint_eq(res.records, 4);
    audit_files_free(files);

    /* not a directory we can use */
    ck_assert_int_eq(
        audit_rotate("/nonexistent-ferry/audit.jsonl", 0, false, &rotated, err, sizeof err),
        GW_ERR_NOENT);
    ck_assert(!rotated);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Writers in several processes append while rotations (some compressing) run: no
 * record is lost, every line is whole, and the files verify as one chain. */
START_TEST(test_rotate_concurrent)
{
    enum { PROCS = 4, PER = 250, ROTATIONS = 12 };
    char *dir = tu_mkdtemp("audit");
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            struct audit_log *log;
            if (audit_open(path, NULL, 0, &log) != 0)
                _exit(1);
            for (int i = 0; i < PER; i++) {
                struct audit_record r;
                audit_record_init(&r);
                r.event = "download";
                r.status = "ok";
                r.user = "worker";
                r.path = "/some/file";
                r.bytes = p * 1000 + i;
                if (audit_append(log, &r) != 0)
                    _exit(2);
                if (i % 8 == 0)
                    usleep(2000);
            }
            audit_close(log);
            _exit(0);
        }
    }
    for (int k = 0; k < ROTATIONS; k++) {
        bool rotated;
        usleep(15000);
        ck_assert_msg(audit_rotate(path, 0, k % 3 == 0, &rotated, err, sizeof err) == 0, "%s", err);
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_uint_eq(verify_all(path, 0), PROCS * PER);
    /* the rotations did happen while records were written */
    char **files;
    size_t n;
    ck_assert_int_eq(audit_files(path, &files, &n), 0);
    ck_assert_msg(n >= 4, "only %zu files", n);
    audit_files_free(files);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the other outputs ---- */

struct syslog_capture {
    int n;
    int prio[8];
    char line[8][1024];
};

static void capture_syslog(void *arg, int priority, const char *line)
{
    struct syslog_capture *c = arg;
    if (c->n < 8) {
        c->prio[c->n] = priority;
        snprintf(c->line[c->n], sizeof c->line[0], "%s", line);
    }
    c->n++;
}

START_TEST(test_outputs)
{
    setenv("TZ", "UTC", 1);
    tzset();
    char *dir = tu_mkdtemp("audit");
    char path[4096], xfer[4096], xfer1[4200];
    struct audit_log *log;
    struct syslog_capture cap;
    memset(&cap, 0, sizeof cap);
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(xfer, sizeof xfer, "%s/xferlog", dir);
    snprintf(xfer1, sizeof xfer1, "%s/xferlog.1", dir);

    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    audit_set_syslog_hook(log, capture_syslog, &cap);
    snprintf(xfer1, sizeof xfer1, "%s/no/such/dir/xferlog", dir);
    ck_assert_int_eq(audit_set_outputs(log, xfer1, true), GW_ERR_NOENT);
    ck_assert_int_eq(audit_set_outputs(log, xfer, true), 0);
    struct stat st;
    ck_assert_int_eq(stat(xfer, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* a login (no xferlog line), an upload, a failed download, a rename */
    struct audit_record r;
    for (int i = 0; i < 4; i++) {
        fixture_record(i, &r);
        ck_assert_int_eq(audit_append(log, &r), 0);
    }
    size_t n;
    char *x = tu_read_file(xfer, &n);
    ck_assert_str_eq(x, "Sat Nov 28 14:03:08 2026 1 192.0.2.7 1048576 /in/report_2026.csv b _ "
                        "i r alice ftp 0 * c\n"
                        "Sun Nov 29 00:00:00 2026 61 198.51.100.9 5000000000 /pub/big.iso b _ "
                        "o r carol webdav 0 * i\n");
    free(x);
    /* one syslog line per record, the chain hash in it */
    ck_assert_int_eq(cap.n, 4);
    ck_assert_int_eq(cap.prio[0], LOG_AUTHPRIV | LOG_INFO);
    ck_assert_int_eq(cap.prio[3], LOG_AUTHPRIV | LOG_NOTICE);
    struct audit_verify_result res = verify_path(path, NULL, 0);
    char want[1024];
    snprintf(want, sizeof want,
             "audit: event=download proto=webdav session=00000000000000c3 user=carol "
             "remote=198.51.100.9:443 path=/pub/big.iso bytes=5000000000 offset=4294967296 "
             "size=9294967296 duration_ms=61000 status=aborted error=\"connection reset\\x0aby "
             "peer\\x01\" hash=%s",
             res.last_hash);
    ck_assert_str_eq(cap.line[3], want);
    ck_assert(strncmp(cap.line[0], "audit: event=login proto=ftp ", 29) == 0);

    /* the xferlog renamed away (logrotate create) is recreated by the next transfer;
     * copytruncate needs nothing */
    snprintf(xfer1, sizeof xfer1, "%s/xferlog.1", dir);
    ck_assert_int_eq(rename(xfer, xfer1), 0);
    fixture_record(1, &r);
    ck_assert_int_eq(audit_append(log, &r), 0);
    x = tu_read_file(xfer, &n);
    ck_assert_int_eq(count_lines(x, n), 1);
    free(x);
    ck_assert_int_eq(truncate(xfer, 0), 0);
    ck_assert_int_eq(audit_append(log, &r), 0);
    x = tu_read_file(xfer, &n);
    ck_assert_int_eq(count_lines(x, n), 1);
    ck_assert(strncmp(x, "Sat Nov 28 14:03:08 2026 1 ", 27) == 0);
    free(x);
    /* audit_reopen reopens it too */
    ck_assert_int_eq(rename(xfer, xfer1), 0);
    ck_assert_int_eq(audit_reopen(log), 0);
    ck_assert_int_eq(stat(xfer, &st), 0);
    /* outputs off */
    ck_assert_int_eq(audit_set_outputs(log, NULL, false), 0);
    cap.n = 0;
    ck_assert_int_eq(audit_append(log, &r), 0);
    ck_assert_int_eq(cap.n, 0);
    x = tu_read_file(xfer, &n);
    ck_assert_uint_eq(n, 0);
    free(x);
    audit_close(log);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* A batch is chained exactly as the same records appended one by one (same lines, byte
 * for byte, given the same timestamps), writes one line per record with its xferlog and
 * syslog lines, and after a truncated tail starts on a line of its own. */
START_TEST(test_append_many)
{
    char *dir = tu_mkdtemp("audit");
    char one[4096], many[4096], xfer[4096];
    struct audit_log *a, *b;
    struct syslog_capture cap;
    memset(&cap, 0, sizeof cap);
    snprintf(one, sizeof one, "%s/one.jsonl", dir);
    snprintf(many, sizeof many, "%s/many.jsonl", dir);
    snprintf(xfer, sizeof xfer, "%s/xferlog", dir);
    struct audit_record recs[4];
    for (int i = 0; i < 4; i++)
        fixture_record(i, &recs[i]);
    ck_assert_int_eq(audit_open(one, NULL, 0, &a), 0);
    ck_assert_int_eq(audit_open(many, NULL, 0, &b), 0);
    audit_set_syslog_hook(b, capture_syslog, &cap);
    ck_assert_int_eq(audit_set_outputs(b, xfer, true), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(audit_append(a, &recs[i]), 0);
    ck_assert_int_eq(audit_append_many(b, recs, 0), 0);
    ck_assert_int_eq(audit_append_many(b, recs, 4), 0);
    ck_assert_int_eq(audit_append_many(NULL, recs, 1), GW_ERR_INVAL);
    size_t n1, n2;
    char *d1 = tu_read_file(one, &n1), *d2 = tu_read_file(many, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(d1, d2, n1) == 0);
    free(d1);
    free(d2);
    /* outputs: one syslog line per record carrying that record's own hash, and the two
     * transfers in the xferlog */
    ck_assert_int_eq(cap.n, 4);
    struct audit_verify_result res = verify_path(many, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 4);
    char want[128];
    snprintf(want, sizeof want, "hash=%s", res.last_hash);
    ck_assert_ptr_nonnull(strstr(cap.line[3], want));
    ck_assert_ptr_null(strstr(cap.line[2], want));
    char *x = tu_read_file(xfer, &n1);
    ck_assert_int_eq(count_lines(x, n1), 2);
    free(x);
    audit_close(a);
    audit_close(b);

    /* a torn last record, then a batch: the batch chains to the last complete record
     * and begins on a new line */
    size_t n;
    char *data = tu_read_file(many, &n);
    ck_assert_int_eq(truncate(many, (off_t)(n - 20)), 0);
    free(data);
    ck_assert_int_eq(audit_open(many, NULL, 0, &b), 0);
    ck_assert_int_eq(audit_append_many(b, recs, 3), 0);
    audit_close(b);
    res = verify_path(many, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
    ck_assert_int_eq(res.line, 4);
    data = tu_read_file(many, &n);
    ck_assert_int_eq(count_lines(data, n), 7);
    size_t o5 = line_off(data, 5);
    ck_assert_int_eq(data[o5 - 1], '\n');
    ck_assert_int_eq(audit_verify_buf(data + o5, n - o5, NULL, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 3);
    free(data);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The server's xferlog, written under load and with "now" timestamps, passes an
 * independent checker of the documented field order (tests/data/audit/check_xferlog.py)
 * against the audit records. */
START_TEST(test_outputs_checked)
{
    /* local time, as wu-ftpd: the checker converts with the same TZ, and fails with
     * another one (so it does check the time) */
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    char *dir = tu_mkdtemp("audit");
    char path[4096], xfer[4096], name[64];
    struct audit_log *log;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(xfer, sizeof xfer, "%s/xferlog", dir);
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    ck_assert_int_eq(audit_set_outputs(log, xfer, false), 0);
    static const char *const events[] = {"login", "upload", "download", "delete", "rename"};
    static const char *const users[] = {"alice", "anonymous", "bob smith", "ftp"};
    static const char *const remotes[] = {"127.0.0.1:4000", "[::1]:50000", "10.1.2.3:21"};
    for (int i = 0; i < 200; i++) {
        struct audit_record r;
        audit_record_init(&r);
        r.event = events[i % 5];
        r.proto = i % 3 ? "sftp" : "ftp";
        r.user = users[i % 4];
        r.remote = remotes[i % 3];
        snprintf(name, sizeof name, "/dir %d/f\t%d.bin", i % 7, i);
        r.path = name;
        r.bytes = i * 1000;
        r.duration_ms = i * 37;
        r.status = i % 11 ? "ok" : "aborted";
        ck_assert_int_eq(audit_append(log, &r), 0);
    }
    audit_close(log);
    ck_assert_int_eq(tu_sh("TZ=Europe/Berlin /usr/bin/python3 '%s' '%s' '%s' >/dev/null && "
                           "! TZ=UTC /usr/bin/python3 '%s' '%s' '%s' > /dev/null",
                           tu_data_path("audit/check_xferlog.py"), xfer, path,
                           tu_data_path("audit/check_xferlog.py"), xfer, path),
                     0);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_syslog_line)
{
    struct gw_buf b;
    struct audit_record r;
    gw_buf_init(&b, 4096);
    fixture_record(2, &r);
    ck_assert_int_eq(audit_syslog_line(&r, NULL, &b), 0);
    ck_assert_str_eq(b.data,
                     "audit: event=rename proto=sftp session=00000000000000b2 user=bob "
                     "remote=[2001:db8::5]:40022 path=\"/caf\xc3\xa9/\\\"quoted\\\"\\\\back\" "
                     "path2=\"/tab\\x09here/\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80\" "
                     "status=ok");
    /* nothing in a value can start a new line or a new field */
    gw_buf_reset(&b);
    audit_record_init(&r);
    r.event = "login_failed";
    r.user = "x status=ok";
    r.error = "a\r\nfake: event=login\x7f\xc2\x9b[2J\xff\xc3";
    r.path = "";
    r.status = "failed";
    ck_assert_int_eq(audit_syslog_line(&r, ZERO, &b), 0);
    ck_assert_str_eq(b.data,
                     "audit: event=login_failed user=\"x status=ok\" path=\"\" status=failed "
                     "error=\"a\\x0d\\x0afake: event=login\\x7f\\xc2\\x9b[2J\\xff\\xc3\" "
                     "hash=0000000000000000000000000000000000000000000000000000000000000000");
    ck_assert_ptr_null(strchr(b.data, '\n'));
    /* too long for the buffer: nothing is left half-written */
    struct gw_buf small;
    gw_buf_init(&small, 40);
    gw_buf_puts(&small, "x");
    ck_assert_int_lt(audit_syslog_line(&r, ZERO, &small), 0);
    ck_assert_str_eq(small.data, "x");
    gw_buf_free(&small);
    gw_buf_free(&b);
}
END_TEST

/* ---- keys ---- */

START_TEST(test_key_load)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096];
    unsigned char *key;
    size_t len;
    snprintf(path, sizeof path, "%s/key", dir);
    /* `openssl rand -hex 32 > key`: the newline is not part of the key */
    tu_write_file(path, "0123456789abcdef0123456789abcdef\n", 33);
    ck_assert_int_eq(audit_key_load(path, &key, &len), 0);
    ck_assert_uint_eq(len, 32);
    ck_assert(memcmp(key, "0123456789abcdef0123456789abcdef", 32) == 0);
    audit_key_free(key, len);
    tu_write_file(path, "0123456789abcdef\r\n", 18);
    ck_assert_int_eq(audit_key_load(path, &key, &len), 0);
    ck_assert_uint_eq(len, 16);
    audit_key_free(key, len);
    /* binary keys keep everything but one final newline */
    static const char binkey[] = "bin\0ary\xff-0123456789\n\n";
    tu_write_file(path, binkey, sizeof binkey - 1);
    ck_assert_int_eq(audit_key_load(path, &key, &len), 0);
    ck_assert_uint_eq(len, sizeof binkey - 2);
    ck_assert_int_eq(key[3], 0);
    audit_key_free(key, len);
    /* too short to protect anything */
    tu_write_file(path, "0123456789abcde\n", 16);
    ck_assert_int_eq(audit_key_load(path, &key, &len), GW_ERR_INVAL);
    ck_assert_ptr_null(key);
    tu_write_file(path, "", 0);
    ck_assert_int_eq(audit_key_load(path, &key, &len), GW_ERR_INVAL);
    char big[AUDIT_MAX_KEY + 2];
    memset(big, 'k', sizeof big);
    tu_write_file(path, big, AUDIT_MAX_KEY);
    ck_assert_int_eq(audit_key_load(path, &key, &len), 0);
    audit_key_free(key, len);
    tu_write_file(path, big, AUDIT_MAX_KEY + 1);
    ck_assert_int_eq(audit_key_load(path, &key, &len), GW_ERR_TOOLONG);
    ck_assert_int_eq(audit_key_load(tu_data_path("audit/key"), &key, &len), 0);
    ck_assert_uint_eq(len, KEYLEN);
    ck_assert(memcmp(key, KEY, KEYLEN) == 0);
    audit_key_free(key, len);
    snprintf(path, sizeof path, "%s/none", dir);
    ck_assert_int_eq(audit_key_load(path, &key, &len), GW_ERR_NOENT);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the reader ---- */

START_TEST(test_reader)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], gz[4096];
    struct audit_reader *rd;
    const char *line;
    size_t len;
    unsigned flags;
    snprintf(path, sizeof path, "%s/log", dir);
    snprintf(gz, sizeof gz, "%s/log.gz", dir);

    /* lines across the reader's block boundary, an over-long line, an unterminated tail */
    struct gw_buf b;
    gw_buf_init(&b, 4u << 20);
    for (int i = 0; i < 3000; i++)
        gw_buf_printf(&b, "line %d %0*d\n", i, i % 200, 0);
    for (int i = 0; i < GW_MAX_AUDIT_LINE + 10; i++)
        gw_buf_putc(&b, 'L');
    gw_buf_puts(&b, "\nafter\ntail");
    tu_write_file(path, b.data, b.len);
    ck_assert_int_eq(tu_sh("gzip -c '%s' > '%s'", path, gz), 0);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(audit_reader_open(pass ? gz : path, &rd), 0);
        for (int i = 0; i < 3000; i++) {
            char want[512];
            snprintf(want, sizeof want, "line %d %0*d", i, i % 200, 0);
            ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 1);
            ck_assert_uint_eq(len, strlen(want));
            ck_assert(memcmp(line, want, len) == 0);
            ck_assert_uint_eq(flags, AUDIT_LINE_NEWLINE);
        }
        ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 1);
        ck_assert_uint_eq(len, GW_MAX_AUDIT_LINE);
        ck_assert(flags & AUDIT_LINE_TOOLONG);
        ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 1);
        ck_assert_uint_eq(len, 5);
        ck_assert(memcmp(line, "after", 5) == 0);
        ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 1);
        ck_assert_uint_eq(len, 4);
        ck_assert_uint_eq(flags, 0);
        ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 0);
        ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 0);
        audit_reader_close(rd);
    }
    /* a cut-off gzip stream is an error, not a quiet end */
    ck_assert_int_eq(tu_sh("head -c 3000 '%s' > '%s.cut'", gz, gz), 0);
    char cut[4200];
    snprintf(cut, sizeof cut, "%s.cut", gz);
    ck_assert_int_eq(audit_reader_open(cut, &rd), 0);
    int r;
    while ((r = audit_reader_next(rd, &line, &len, &flags)) == 1)
        ;
    ck_assert_int_eq(r, GW_ERR_PROTO);
    audit_reader_close(rd);
    /* empty file */
    tu_write_file(path, "", 0);
    ck_assert_int_eq(audit_reader_open(path, &rd), 0);
    ck_assert_int_eq(audit_reader_next(rd, &line, &len, &flags), 0);
    audit_reader_close(rd);
    ck_assert_int_eq(audit_reader_open(dir, &rd), GW_ERR_ISDIR);
    gw_buf_free(&b);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_verify_file_gz)
{
    char *dir = tu_mkdtemp("audit");
    char path[4096], gz[4200];
    snprintf(path, sizeof path, "%s/a.jsonl", dir);
    snprintf(gz, sizeof gz, "%s.gz", path);
    struct gw_buf b;
    gw_buf_init(&b, 8u << 20);
    make_log(&b, 5000, NULL, 0); /* several reader blocks */
    tu_write_file(path, b.data, b.len);
    ck_assert_int_eq(tu_sh("gzip -k '%s'", path), 0);
    struct audit_verify_result res = verify_path(gz, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 5000);
    res = verify_path(path, NULL, 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(tu_sh("head -c 20000 '%s.gz' > '%s.cut.gz'", path, path), 0);
    snprintf(gz, sizeof gz, "%s.cut.gz", path);
    res = verify_path(gz, NULL, 0);
    ck_assert_int_ne(res.verdict, AUDIT_INTACT);
    ck_assert_int_gt(res.line, 1);
    snprintf(gz, sizeof gz, "%s/missing", dir);
    ck_assert_int_eq(audit_verify_file(gz, NULL, NULL, 0, &res), GW_ERR_NOENT);
    ck_assert_int_eq(audit_verify_file(path, "nothex", NULL, 0, &res), GW_ERR_INVAL);
    gw_buf_free(&b);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- xferlog ---- */

START_TEST(test_xferlog_line)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct gw_buf b;
    struct audit_record r;
    gw_buf_init(&b, 4096);
    fixture_record(1, &r);
    ck_assert_int_eq(audit_xferlog_line(&r, &b), 0);
    ck_assert_str_eq(b.data, "Sat Nov 28 14:03:08 2026 1 192.0.2.7 1048576 /in/report_2026.csv b _ "
                             "i r alice ftp 0 * c\n");
    gw_buf_reset(&b);
    fixture_record(3, &r);
    ck_assert_int_eq(audit_xferlog_line(&r, &b), 0);
    ck_assert_str_eq(b.data, "Sun Nov 29 00:00:00 2026 61 198.51.100.9 5000000000 /pub/big.iso b _ "
                             "o r carol webdav 0 * i\n");
    gw_buf_reset(&b);
    r.remote = "[2001:db8::5]:40022";
    r.user = "anonymous";
    r.path = NULL;
    r.bytes = -1;
    r.duration_ms = 1600;
    ck_assert_int_eq(audit_xferlog_line(&r, &b), 0);
    ck_assert_str_eq(b.data,
                     "Sun Nov 29 00:00:00 2026 2 2001:db8::5 0 * b _ o a anonymous webdav 0 * i\n");
    fixture_record(0, &r);
    ck_assert_int_eq(audit_xferlog_line(&r, &b), GW_ERR_INVAL);
    gw_buf_free(&b);
}
END_TEST

/* ---- the parser's fast path against the general parser ---- */

static uint64_t fast_rng = 0x9e3779b97f4a7c15u;

static unsigned fast_rand(unsigned n)
{
    fast_rng ^= fast_rng << 13;
    fast_rng ^= fast_rng >> 7;
    fast_rng ^= fast_rng << 17;
    return (unsigned)(fast_rng % n);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Parses line both ways: the general parser must give the same answer as
 * audit_parse_line, and whenever the fast path accepts a line, exactly the same
 * record. Returns whether the fast path took it. */
static bool parse_both(const char *line, size_t n)
{
    char *s1 = malloc(n + 1), *s2 = malloc(n + 1), *s3 = malloc(n + 1);
    struct audit_line a, b, c;
    ck_assert(s1 && s2 && s3);
    int rg = audit_parse_line_general(line, n, s1, n + 1, &a);
    int rp = audit_parse_line(line, n, s3, n + 1, &c);
    ck_assert_msg(rg == rp, "general %d, audit_parse_line %d: %.*s", rg, rp, (int)n, line);
    bool fast = audit_parse_line_fast(line, n, s2, &b);
    if (fast) {
        ck_assert_msg(rg == 0, "fast path accepted what the general parser refuses (%d): %.*s", rg,
                      (int)n, line);
        const struct audit_record *x = &a.rec, *y = &b.rec;
        ck_assert_msg(x->ts_ms == y->ts_ms && same_str(x->event, y->event) &&
                          same_str(x->proto, y->proto) && same_str(x->session, y->session) &&
                          same_str(x->user, y->user) && same_str(x->remote, y->remote) &&
                          same_str(x->path, y->path) && same_str(x->path2, y->path2) &&
                          x->bytes == y->bytes && x->offset == y->offset && x->size == y->size &&
                          x->duration_ms == y->duration_ms && same_str(x->status, y->status) &&
                          same_str(x->error, y->error) && same_str(x->sha256, y->sha256),
                      "fast path record differs: %.*s", (int)n, line);
        ck_assert_str_eq(a.prev, b.prev);
        ck_assert_str_eq(a.hash, b.hash);
        ck_assert_uint_eq(a.hash_member, b.hash_member);
        if (a.prev[0])
            ck_assert(memcmp(a.prev_raw, b.prev_raw, 32) == 0);
        if (a.hash[0])
            ck_assert(memcmp(a.hash_raw, b.hash_raw, 32) == 0);
        /* without storage: the same chain fields */
        ck_assert(audit_parse_line_fast(line, n, NULL, &c));
        ck_assert_str_eq(c.hash, b.hash);
        ck_assert_uint_eq(c.hash_member, b.hash_member);
    }
    free(s1);
    free(s2);
    free(s3);
    return fast;
}

/* A random string for a record: mostly plain, sometimes what the writer escapes
 * (quotes, backslashes, controls) or UTF-8. */
static void random_value(char *out, size_t cap)
{
    static const char *const pieces[] = {"a",
                                         "/",
                                         "Z",
                                         "9",
                                         " ",
                                         "-",
                                         ".",
                                         "\"",
                                         "\\",
                                         "\t",
                                         "\n",
                                         "\x01",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "{",
                                         "}",
                                         ":",
                                         ",",
                                         "\xf0\x9f\x98\x80"};
    size_t n = 0, len = fast_rand(40);
    for (size_t i = 0; i < len; i++) {
        const char *p = pieces[fast_rand(4) ? fast_rand(7) : fast_rand(19)];
        size_t l = strlen(p);
        if (n + l >= cap)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    out[n] = '\0';
}

START_TEST(test_parse_line_fast)
{
    struct gw_buf b;
    char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
    char v[6][256];
    static const int64_t nums[] = {
        -1, 0, 1, 9, 10, 1048576, 999999999999999999, INT64_C(1000000000000000000), INT64_MAX};
    gw_buf_init(&b, 1 << 22);
    memcpy(prev, ZERO, sizeof prev);

    /* Lines as the writer makes them, with random content: the fast path takes every
     * one whose strings need no escape. */
    for (int i = 0; i < 400; i++) {
        struct audit_record r;
        audit_record_init(&r);
        r.ts_ms = 1795000000000 + (int64_t)fast_rand(1000000000);
        for (int k = 0; k < 6; k++)
            random_value(v[k], sizeof v[k]);
        r.event = fast_rand(3) ? "upload" : v[0];
        r.proto = fast_rand(5) ? "sftp" : NULL;
        r.user = v[1];
        r.remote = fast_rand(2) ? "[2001:db8::1]:22" : v[2];
        r.path = fast_rand(4) ? v[3] : NULL;
        r.path2 = fast_rand(4) ? NULL : v[4];
        r.bytes = nums[fast_rand(9)];
        r.offset = nums[fast_rand(9)];
        r.size = nums[fast_rand(9)];
        r.status = "ok";
        r.error = fast_rand(3) ? NULL : v[5];
        r.sha256 = fast_rand(2) ? "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                                : NULL;
        size_t start = b.len;
        ck_assert_int_eq(audit_encode(&r, prev, NULL, 0, &b, hash), 0);
        memcpy(prev, hash, sizeof prev);
        const char *line = b.data + start;
        size_t n = b.len - start - 1;
        /* numbers of 19 digits are left to the general parser (overflow checks) */
        bool plain = !memchr(line, '\\', n) && r.bytes < INT64_C(1000000000000000000) &&
                     r.offset < INT64_C(1000000000000000000) &&
                     r.size < INT64_C(1000000000000000000);
        ck_assert_msg(parse_both(line, n) == plain, "fast path %s a writer's line: %.*s",
                      plain ? "missed" : "took", (int)n, line);
    }

    /* Every line mutated: a byte replaced, inserted or removed, or the line cut. Both
     * parsers must agree on each. */
    static const char subst[] = "\"\\ ,:{}0195aAfGn-.\x01\x80\xc3\xa9\t";
    size_t off = 0;
    int taken = 0, tried = 0;
    char *m = malloc(GW_MAX_AUDIT_LINE + 2);
    ck_assert_ptr_nonnull(m);
    while (off < b.len) {
        const char *line = b.data + off;
        size_t n = (size_t)((const char *)memchr(line, '\n', b.len - off) - line);
        for (int k = 0; k < 60; k++) {
            size_t at = fast_rand((unsigned)n), mn = n;
            memcpy(m, line, n);
            switch (fast_rand(4)) {
            case 0:
                m[at] = subst[fast_rand(sizeof subst - 1)];
                break;
            case 1:
                memmove(m + at + 1, m + at, n - at);
                m[at] = subst[fast_rand(sizeof subst - 1)];
                mn++;
                break;
            case 2:
                memmove(m + at, m + at + 1, n - at - 1);
                mn--;
                break;
            default:
                mn = at;
                break;
            }
            taken += parse_both(m, mn);
            tried++;
        }
        off += n + 1;
    }
    ck_assert_int_gt(taken, 0); /* some mutants stay valid in the writer's form */
    ck_assert_int_lt(taken, tried);
    free(m);

    /* Shapes around the edges of the fast path: each decided the same both ways. */
    static const char *const shapes[] = {
        "{}",
        "{\"ts\":\"2026-11-28T14:03:07.123Z\"}",
        "{\"ts\":\"2026-11-28T14:03:07.123Z\",\"event\":\"login\",\"user\":\"someone-long\"}",
        "{\"ts\":\"2026-11-28T14:03:07.123Z\" ,\"event\":\"login\",\"user\":\"someone-long\"}",
        "{\"ts\":\"2026-02-30T14:03:07.123Z\"}",
        "{\"bytes\":0}",
        "{\"bytes\":00}",
        "{\"bytes\":123456789012345678}",
        "{\"bytes\":1234567890123456789}",
        "{\"bytes\":9223372036854775807}",
        "{\"bytes\":9223372036854775808}",
        "{\"bytes\":1e3}",
        "{\"bytes\":\"1\"}",
        "{\"user\":1}",
        "{\"user\":null}",
        "{\"x\":1,\"y\":\"z\",\"user\":\"u\"}",
        "{\"user\":\"a\",\"user\":\"a\"}",
        "{\"user\":\"\xc3\xa9\"}",
        "{\"user\":\"\xc3\"}",
        "{\"\xc3\xa9\":\"x\"}",
        "{\"user\":\"a\"}}",
        "{\"user\":\"a\"",
        "{\"user\":\"a\"}x}",
        "{\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"a\":1,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"a\":1,\"hash\":\"000000000000000000000000000000000000000000000000000000000000000A\"}",
        "{\"a\":1,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\","
        "\"b\":1}",
        "{\"prev\":\"00\",\"a\":1}",
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        parse_both(shapes[i], strlen(shapes[i]));
    ck_assert(audit_parse_line_fast(shapes[2], strlen(shapes[2]), NULL, &(struct audit_line){0}));
    ck_assert(!audit_parse_line_fast(shapes[3], strlen(shapes[3]), NULL, &(struct audit_line){0}));

    /* the fixture's first two lines are the writer's, the third has escapes */
    size_t flen;
    char *fixture = tu_read_file(tu_data_path("audit/plain.jsonl"), &flen);
    ck_assert(parse_both(fixture + line_off(fixture, 1), line_len(fixture, 1) - 1));
    ck_assert(parse_both(fixture + line_off(fixture, 2), line_len(fixture, 2) - 1));
    ck_assert(!parse_both(fixture + line_off(fixture, 3), line_len(fixture, 3) - 1));
    free(fixture);
    gw_buf_free(&b);
}
END_TEST

/* Appends a record in a form the writer never makes (whitespace, escapes, members
 * reordered), hashed over its own bytes as the chain defines it, so that it is valid. */
static void append_noncanonical(struct gw_buf *b, char prev[AUDIT_HASH_HEX + 1],
                                const unsigned char *key, size_t keylen, int i)
{
    char body[512], hex[AUDIT_HASH_HEX + 1];
    unsigned char raw[32], msg[600], md[32];
    unsigned mdlen = 32;
    int n = snprintf(body, sizeof body,
                     "{ \"event\" : \"up\\u006coad\", \"ts\":\"2026-11-28T14:03:%02d.000Z\","
                     "\"user\":\"alice\",\"path\":\"/n\\/c-%d\",\"bytes\": %d ,\"status\":\"ok\","
                     "\"prev\":\"%s\"",
                     i % 60, i, i, prev);
    for (int k = 0; k < 32; k++)
        sscanf(prev + 2 * k, "%2hhx", &raw[k]);
    memcpy(msg, raw, 32);
    memcpy(msg + 32, body, (size_t)n);
    msg[32 + n] = '}';
    if (key)
        HMAC(EVP_sha256(), key, (int)keylen, msg, 33 + (size_t)n, md, &mdlen);
    else
        SHA256(msg, 33 + (size_t)n, md);
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", md[k]);
    ck_assert_int_eq(gw_buf_printf(b, "%s,\"hash\":\"%s\"}\n", body, hex), 0);
    memcpy(prev, hex, AUDIT_HASH_HEX + 1);
}

/* A log mixing the writer's lines (fast path) and other valid forms (general parser):
 * verification must give the same verdicts, at the same lines, on both kinds. */
START_TEST(test_verify_mixed_forms)
{
    for (int keyed = 0; keyed < 2; keyed++) {
        const unsigned char *key = keyed ? KEY : NULL;
        size_t keylen = keyed ? KEYLEN : 0;
        struct gw_buf b;
        char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
        gw_buf_init(&b, 1 << 20);
        memcpy(prev, ZERO, sizeof prev);
        for (int i = 0; i < 12; i++) {
            if (i == 4 || i == 8 || i == 9) {
                append_noncanonical(&b, prev, key, keylen, i);
                continue;
            }
            struct audit_record r;
            audit_record_init(&r);
            r.ts_ms = 1795000000000 + i * 1000;
            r.event = "download";
            r.user = "bob";
            r.status = "ok";
            r.bytes = i;
            ck_assert_int_eq(audit_encode(&r, prev, key, keylen, &b, hash), 0);
            memcpy(prev, hash, sizeof prev);
        }
        struct audit_verify_result res = verify_str(b.data, b.len, key, keylen);
        ck_assert_msg(res.verdict == AUDIT_INTACT, "%s", res.reason);
        ck_assert_int_eq(res.records, 12);
        ck_assert_str_eq(res.last_hash, prev);
        if (keyed) {
            res = verify_str(b.data, b.len, NULL, 0);
            ck_assert_int_eq(res.verdict, AUDIT_EDITED);
            ck_assert_int_eq(res.line, 1);
        }

        /* line 5 (other form) and line 6 (writer's form) edited */
        for (int line = 5; line <= 6; line++) {
            char *t = strdup(b.data);
            char *p = strstr(t + line_off(t, line), line == 5 ? "alice" : "bob");
            p[0] = 'A';
            res = verify_str(t, b.len, key, keylen);
            ck_assert_int_eq(res.verdict, AUDIT_EDITED);
            ck_assert_int_eq(res.line, (uint64_t)line);
            free(t);
        }
        /* line 9 (other form) deleted: line 10 no longer follows line 8 */
        struct gw_buf d;
        gw_buf_init(&d, 1 << 20);
        gw_buf_append(&d, b.data, line_off(b.data, 9));
        gw_buf_append(&d, b.data + line_off(b.data, 10), b.len - line_off(b.data, 10));
        res = verify_str(d.data, d.len, key, keylen);
        ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
        ck_assert_int_eq(res.line, 9);
        /* lines 9 and 10 swapped: one form for the other */
        gw_buf_reset(&d);
        gw_buf_append(&d, b.data, line_off(b.data, 9));
        gw_buf_append(&d, b.data + line_off(b.data, 10), line_len(b.data, 10));
        gw_buf_append(&d, b.data + line_off(b.data, 9), line_len(b.data, 9));
        gw_buf_append(&d, b.data + line_off(b.data, 11), b.len - line_off(b.data, 11));
        res = verify_str(d.data, d.len, key, keylen);
        ck_assert_int_eq(res.verdict, AUDIT_BROKEN);
        ck_assert_int_eq(res.line, 9);
        ck_assert_msg(strstr(res.reason, "out of order"), "%s", res.reason);
        /* cut inside line 12 (writer's) and inside line 9 (other form) */
        res = verify_str(b.data, b.len - 20, key, keylen);
        ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
        ck_assert_int_eq(res.line, 12);
        gw_buf_reset(&d);
        gw_buf_append(&d, b.data, line_off(b.data, 9) + 30);
        res = verify_str(d.data, d.len, key, keylen);
        ck_assert_int_eq(res.verdict, AUDIT_TRUNCATED);
        ck_assert_int_eq(res.line, 9);

        /* the same through a file (the streaming reader) */
        char *dir = tu_mkdtemp("audit"), *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/a.jsonl", dir), 0);
        tu_write_file(path, b.data, b.len);
        ck_assert_int_eq(audit_verify_file(path, NULL, key, keylen, &res), 0);
        ck_assert_msg(res.verdict == AUDIT_INTACT && res.records == 12, "%s", res.reason);
        free(path);
        tu_rmtree(dir);
        free(dir);
        gw_buf_free(&d);
        gw_buf_free(&b);
    }
}
END_TEST

/* Verification with records hashed in pairs (SHA extensions, where the CPU has them)
 * and one at a time (FERRY_AUDIT_SHA2X=0) must agree on every verdict, line and reason,
 * whatever the parity of the line a problem is on. */
static struct audit_verify_result verify_mode(const char *s, size_t n, const unsigned char *key,
                                              size_t keylen, bool pairs)
{
    if (pairs)
        unsetenv("FERRY_AUDIT_SHA2X");
    else
        setenv("FERRY_AUDIT_SHA2X", "0", 1);
    struct audit_verify_result res = verify_str(s, n, key, keylen);
    unsetenv("FERRY_AUDIT_SHA2X");
    return res;
}

static void verify_both_ways(const char *s, size_t n, const unsigned char *key, size_t keylen)
{
    struct audit_verify_result a = verify_mode(s, n, key, keylen, true);
    struct audit_verify_result b = verify_mode(s, n, key, keylen, false);
    ck_assert_msg(a.verdict == b.verdict && a.line == b.line && a.records == b.records,
                  "pairs: %d line %llu (%s); one by one: %d line %llu (%s)", a.verdict,
                  (unsigned long long)a.line, a.reason, b.verdict, (unsigned long long)b.line,
                  b.reason);
    ck_assert_str_eq(a.reason, b.reason);
    ck_assert_str_eq(a.last_hash, b.last_hash);
    ck_assert_str_eq(a.first_prev, b.first_prev);
}

START_TEST(test_verify_pairs)
{
    for (int keyed = 0; keyed < 2; keyed++) {
        const unsigned char *key = keyed ? KEY : NULL;
        size_t keylen = keyed ? KEYLEN : 0;
        struct gw_buf b, d;
        char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1], path[600];
        gw_buf_init(&b, 1 << 20);
        gw_buf_init(&d, 1 << 20);
        memcpy(prev, ZERO, sizeof prev);
        /* records of many lengths (1 to 9 blocks), one in another form, one escaped */
        for (int i = 0; i < 40; i++) {
            if (i == 17) {
                append_noncanonical(&b, prev, key, keylen, i);
                continue;
            }
            struct audit_record r;
            audit_record_init(&r);
            r.ts_ms = 1795000000000 + i * 1000;
            r.event = "upload";
            r.status = i == 23 ? "fa\"iled" : "ok";
            size_t pl = (size_t)(i * 37 % 500);
            memset(path, 'p', pl);
            path[0] = '/';
            path[pl] = '\0';
            r.path = path;
            ck_assert_int_eq(audit_encode(&r, prev, key, keylen, &b, hash), 0);
            memcpy(prev, hash, sizeof prev);
        }
        struct audit_verify_result res = verify_mode(b.data, b.len, key, keylen, true);
        ck_assert_msg(res.verdict == AUDIT_INTACT && res.records == 40, "%s", res.reason);
        verify_both_ways(b.data, b.len, key, keylen);
        verify_both_ways(b.data, b.len, NULL, 0);
        for (int line = 1; line <= 40; line++) {
            /* one byte edited */
            char *t = strdup(b.data);
            t[line_off(t, line) + 3] ^= 1;
            verify_both_ways(t, b.len, key, keylen);
            free(t);
            /* deleted */
            gw_buf_reset(&d);
            gw_buf_append(&d, b.data, line_off(b.data, line));
            if (line < 40)
                gw_buf_append(&d, b.data + line_off(b.data, line + 1),
                              b.len - line_off(b.data, line + 1));
            verify_both_ways(d.data, d.len, key, keylen);
            /* cut inside it */
            verify_both_ways(b.data, line_off(b.data, line) + 20, key, keylen);
            /* swapped with the next */
            if (line < 40) {
                gw_buf_reset(&d);
                gw_buf_append(&d, b.data, line_off(b.data, line));
                gw_buf_append(&d, b.data + line_off(b.data, line + 1), line_len(b.data, line + 1));
                gw_buf_append(&d, b.data + line_off(b.data, line), line_len(b.data, line));
                if (line < 39)
                    gw_buf_append(&d, b.data + line_off(b.data, line + 2),
                                  b.len - line_off(b.data, line + 2));
                verify_both_ways(d.data, d.len, key, keylen);
            }
            /* moved three lines down */
            if (line < 37) {
                gw_buf_reset(&d);
                gw_buf_append(&d, b.data, line_off(b.data, line));
                gw_buf_append(&d, b.data + line_off(b.data, line + 1),
                              line_off(b.data, line + 4) - line_off(b.data, line + 1));
                gw_buf_append(&d, b.data + line_off(b.data, line), line_len(b.data, line));
                gw_buf_append(&d, b.data + line_off(b.data, line + 4),
                              b.len - line_off(b.data, line + 4));
                verify_both_ways(d.data, d.len, key, keylen);
            }
            /* junk line before it */
            gw_buf_reset(&d);
            gw_buf_append(&d, b.data, line_off(b.data, line));
            gw_buf_puts(&d, "not a record\n");
            gw_buf_append(&d, b.data + line_off(b.data, line), b.len - line_off(b.data, line));
            verify_both_ways(d.data, d.len, key, keylen);
        }
        gw_buf_free(&d);
        gw_buf_free(&b);
    }
}
END_TEST

/* audit_record_copy: the copy owns its strings (the source's may go), keeps NULLs and
 * numbers, and audit_record_strings_size is exactly what it writes. */
START_TEST(test_record_copy)
{
    struct audit_record r, c;
    audit_record_init(&r);
    char *ev = strdup("download"), *path = strdup("/d/f \xc3\xa9"), *st = strdup("ok");
    r.event = ev;
    r.path = path;
    r.status = st;
    r.bytes = 42;
    r.ts_ms = 1234;
    size_t n = audit_record_strings_size(&r);
    ck_assert_uint_eq(n, strlen(ev) + strlen(path) + strlen(st) + 3);
    char *mem = malloc(n + 1);
    ck_assert_ptr_nonnull(mem);
    mem[n] = 'X'; /* a guard past the end */
    audit_record_copy(&c, &r, mem);
    ck_assert(mem[n] == 'X');
    free(ev);
    free(path);
    free(st);
    ck_assert_str_eq(c.event, "download");
    ck_assert_str_eq(c.path, "/d/f \xc3\xa9");
    ck_assert_str_eq(c.status, "ok");
    ck_assert_ptr_null(c.user);
    ck_assert_ptr_null(c.sha256);
    ck_assert_int_eq(c.bytes, 42);
    ck_assert_int_eq(c.ts_ms, 1234);
    ck_assert_int_eq(c.size, -1);
    audit_record_init(&r);
    ck_assert_uint_eq(audit_record_strings_size(&r), 0);
    free(mem);
}
END_TEST

Suite *gateway_audit_suite(void)
{
    Suite *s = suite_create("gateway/audit");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"format_parse_ts", test_ts},
        {"record_valid", test_record_valid},
        {"record_copy", test_record_copy},
        {"parse_line_fast", test_parse_line_fast},
        {"verify_mixed_forms", test_verify_mixed_forms},
        {"verify_pairs", test_verify_pairs},
        {"encode", test_encode_matches_independent_fixture},
        {"encode_errors", test_encode_errors_and_now},
        {"parse_line", test_parse_line},
        {"fuzz_regressions", test_fuzz_regressions},
        {"verify_buf", test_verify_tamper},
        {"verify_keyed", test_verify_keyed},
        {"hmac_long_key", test_hmac_long_key},
        {"verify_rehashed", test_verify_rehashed_line},
        {"open_append_reopen", test_open_append_reopen},
        {"truncated_tail", test_truncated_tail_then_append},
        {"append_many", test_append_many},
        {"junk_tail", test_junk_tail},
        {"rotation", test_rotation},
        {"concurrent_appends", test_concurrent_appends},
        {"follow_rotation", test_follow_rotation},
        {"audit_rotate", test_rotate},
        {"rotate_concurrent", test_rotate_concurrent},
        {"audit_set_outputs", test_outputs},
        {"outputs_checked", test_outputs_checked},
        {"audit_syslog_line", test_syslog_line},
        {"key_load", test_key_load},
        {"reader", test_reader},
        {"verify_file", test_verify_file_gz},
        {"xferlog_line", test_xferlog_line},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
    }
    return s;
}
