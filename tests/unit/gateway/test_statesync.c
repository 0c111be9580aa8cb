/* Unit tests for gateway/statesync.c: the reconnection backoff, the bounded audit
 * queue, the spill line format, the connection string, and the thread's promise that
 * no record is lost when the database cannot be reached (spill on stop, in order,
 * replayed first by the next start). The database itself is exercised by
 * tests/integration/t_statedb_serve.sh. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/statesync.h"

/* Nothing listens on port 1 of the loopback: connections are refused at once. */
#define DEAD_URL "postgresql://ferry@127.0.0.1:1/ferry"

static void rec_init(struct audit_record *r, const char *path, int64_t ts)
{
    audit_record_init(r);
    r->ts_ms = ts;
    r->event = "upload";
    r->proto = "sftp";
    r->session = "0123456789abcdef";
    r->user = "alice";
    r->remote = "192.0.2.7:50122";
    r->path = path;
    r->bytes = 1024;
    r->status = "ok";
}

START_TEST(test_backoff)
{
    ck_assert_int_eq(gw_statesync_backoff_ms(0), 500);
    ck_assert_int_eq(gw_statesync_backoff_ms(1), 500);
    ck_assert_int_eq(gw_statesync_backoff_ms(2), 1000);
    ck_assert_int_eq(gw_statesync_backoff_ms(3), 2000);
    ck_assert_int_eq(gw_statesync_backoff_ms(4), 4000);
    ck_assert_int_eq(gw_statesync_backoff_ms(5), 5000);
    ck_assert_int_eq(gw_statesync_backoff_ms(6), 5000);
    ck_assert_int_eq(gw_statesync_backoff_ms(1000000), 5000);
}
END_TEST

START_TEST(test_queue_order_and_bound)
{
    struct gw_ssq q;
    char path[32];
    struct audit_record r;
    gw_ssq_init(&q, 5, 1 << 20);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/f%d", i);
        rec_init(&r, path, 1000 + i);
        struct gw_ssq_rec *n = gw_ssq_copy(&r);
        ck_assert_ptr_nonnull(n);
        ck_assert_int_eq(gw_ssq_push(&q, n), 0);
    }
    /* Full by count: the sixth is refused and stays the caller's. */
    rec_init(&r, "/f5", 1005);
    struct gw_ssq_rec *extra = gw_ssq_copy(&r);
    ck_assert_int_eq(gw_ssq_push(&q, extra), GW_ERR_LIMIT);
    ck_assert_uint_eq(q.n, 5);
    size_t bytes = q.bytes;
    struct gw_ssq_rec *first = gw_ssq_pop(&q);
    ck_assert_str_eq(first->rec.path, "/f0");
    ck_assert_uint_eq(q.bytes, bytes - first->size);
    free(first);
    ck_assert_int_eq(gw_ssq_push(&q, extra), 0); /* room again, at the end */
    for (int i = 1; i <= 5; i++) {
        struct gw_ssq_rec *n = gw_ssq_pop(&q);
        snprintf(path, sizeof path, "/f%d", i);
        ck_assert_str_eq(n->rec.path, path);
        ck_assert_int_eq(n->rec.ts_ms, 1000 + i);
        free(n);
    }
    ck_assert_ptr_null(gw_ssq_pop(&q));
    ck_assert_uint_eq(q.n, 0);
    ck_assert_uint_eq(q.bytes, 0);

    /* Full by bytes: a record bigger than what is left is refused. */
    gw_ssq_init(&q, 1000, 3 * (sizeof(struct gw_ssq_rec) + 100));
    size_t pushed = 0;
    for (int i = 0; i < 10; i++) {
        rec_init(&r, "/a-long-enough-path-to-count", 1);
        struct gw_ssq_rec *n = gw_ssq_copy(&r);
        if (gw_ssq_push(&q, n) != 0) {
            free(n);
            break;
        }
        pushed++;
    }
    ck_assert_uint_ge(pushed, 1);
    ck_assert_uint_lt(pushed, 10);
    ck_assert_uint_le(q.bytes, q.max_bytes);
    gw_ssq_clear(&q);
    ck_assert_uint_eq(q.n, 0);
}
END_TEST

START_TEST(test_copy_is_deep)
{
    char path[16] = "/orig", err[16] = "boom";
    struct audit_record r;
    rec_init(&r, path, 42);
    r.error = err;
    r.path2 = NULL;
    struct gw_ssq_rec *n = gw_ssq_copy(&r);
    ck_assert_ptr_nonnull(n);
    memset(path, 'x', sizeof path - 1);
    memset(err, 'y', sizeof err - 1);
    ck_assert_str_eq(n->rec.path, "/orig");
    ck_assert_str_eq(n->rec.error, "boom");
    ck_assert_ptr_null(n->rec.path2);
    ck_assert_ptr_null(n->rec.sha256);
    ck_assert_int_eq(n->rec.bytes, 1024);
    ck_assert_int_eq(n->rec.size, -1);
    free(n);
}
END_TEST

START_TEST(test_spill_roundtrip)
{
    struct audit_record r;
    struct gw_buf b;
    rec_init(&r, "/d\xc3\xa9j\xc3\xa0 \"vu\"\n.txt", 1764338587123);
    r.error = "a\\b";
    r.offset = 7;
    gw_buf_init(&b, GW_MAX_AUDIT_LINE + 2);
    ck_assert_int_eq(gw_statesync_spill_encode(&r, &b), 0);
    ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
    ck_assert(strstr(gw_buf_str(&b), "\"ts\":\"2025-11-28T14:03:07.123Z\"") != NULL);
    struct gw_ssq_rec *n = gw_statesync_spill_decode(b.data, b.len - 1);
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(n->rec.ts_ms, 1764338587123);
    ck_assert_str_eq(n->rec.path, r.path);
    ck_assert_str_eq(n->rec.error, "a\\b");
    ck_assert_str_eq(n->rec.user, "alice");
    ck_assert_int_eq(n->rec.offset, 7);
    ck_assert_int_eq(n->rec.bytes, 1024);
    free(n);
    /* A torn line (crash during the write) is not a record. */
    ck_assert_ptr_null(gw_statesync_spill_decode(b.data, b.len / 2));
    ck_assert_ptr_null(gw_statesync_spill_decode("", 0));
    /* The time of the event is required: never stamped at replay. */
    gw_buf_reset(&b);
    r.ts_ms = 0;
    ck_assert_int_eq(gw_statesync_spill_encode(&r, &b), GW_ERR_INVAL);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_conninfo)
{
    char out[256];
    ck_assert_int_eq(gw_statesync_conninfo("postgresql://u@h:5432/db", out, sizeof out), 0);
    ck_assert_str_eq(out, "postgresql://u@h:5432/db?gssencmode=disable");
    ck_assert_int_eq(gw_statesync_conninfo("postgres://h/db?sslmode=require", out, sizeof out), 0);
    ck_assert_str_eq(out, "postgres://h/db?sslmode=require&gssencmode=disable");
    ck_assert_int_eq(gw_statesync_conninfo("host=h dbname=d", out, sizeof out), 0);
    ck_assert_str_eq(out, "host=h dbname=d gssencmode=disable");
    ck_assert_int_eq(gw_statesync_conninfo("host=h gssencmode=require", out, sizeof out), 0);
    ck_assert_str_eq(out, "host=h gssencmode=require");
    ck_assert_int_eq(gw_statesync_conninfo("postgresql://h/db", out, 10), GW_ERR_TOOLONG);
}
END_TEST

/* Counts lines of a file and checks they name /r0, /r1, ... in order. */
static size_t spill_lines_in_order(const char *path, size_t from)
{
    size_t len = 0, n = 0;
    char *buf = tu_read_file(path, &len);
    char want[32];
    for (char *p = buf, *nl;
         buf && p < buf + len && (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
        struct gw_ssq_rec *r = gw_statesync_spill_decode(p, (size_t)(nl - p));
        ck_assert_ptr_nonnull(r);
        snprintf(want, sizeof want, "/r%zu", from + n);
        ck_assert_str_eq(r->rec.path, want);
        free(r);
        n++;
    }
    free(buf);
    return n;
}

static void queue_n(struct gw_statesync *s, size_t from, size_t n)
{
    char path[32];
    struct audit_record r;
    for (size_t i = from; i < from + n; i++) {
        snprintf(path, sizeof path, "/r%zu", i);
        rec_init(&r, path, 1764338587000 + (int64_t)i);
        ck_assert_int_eq(gw_statesync_audit(s, &r), 0);
    }
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_unreachable_spills_in_order)
{
    char *dir = tu_mkdtemp("statesync");
    char spill[512];
    snprintf(spill, sizeof spill, "%s/%s", dir, GW_STATESYNC_SPILL);

    /* Run 1: the database never answers. A bound of 4 records: 4 stay in memory, the
     * next 6 go to the spill file; stopping puts the 4 in front of them. */
    struct gw_statesync *s = gw_statesync_new(DEAD_URL, "n1", NULL, 0, dir);
    ck_assert_ptr_nonnull(s);
    gw_statesync_set_bound(s, 4, 1 << 20);
    ck_assert_int_eq(gw_statesync_start(s), 0);
    queue_n(s, 0, 10);
    ck_assert_uint_eq(gw_statesync_backlog(s), 10);
    ck_assert(!gw_statesync_up(s));
    ck_assert_uint_eq(spill_lines_in_order(spill, 4), 6);
    int64_t t0 = mono_now();
    gw_statesync_stop(s, mono_now() + 2000);
    ck_assert_int_lt(mono_now() - t0, 4000);
    gw_statesync_free(s);
    ck_assert_uint_eq(spill_lines_in_order(spill, 0), 10);

    /* Run 2: the file from run 1 comes first; new records follow it, none overtakes. */
    s = gw_statesync_new(DEAD_URL, "n1", NULL, 0, dir);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(gw_statesync_start(s), 0);
    queue_n(s, 10, 3);
    gw_statesync_free(s);
    ck_assert_uint_eq(spill_lines_in_order(spill, 0), 13);

    /* Run 3: a crash left a torn last line: it is ended (skipped later as one bad
     * line), and the next record starts on a line of its own. */
    size_t len = 0;
    char *buf = tu_read_file(spill, &len);
    ck_assert_ptr_nonnull(buf);
    tu_write_file(spill, buf, len - 10);
    free(buf);
    s = gw_statesync_new(DEAD_URL, "n1", NULL, 0, dir);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(gw_statesync_start(s), 0);
    queue_n(s, 13, 1);
    gw_statesync_free(s);
    buf = tu_read_file(spill, &len);
    ck_assert_ptr_nonnull(buf);
    char *torn = memrchr(buf, '\n', len - 1);
    ck_assert_ptr_nonnull(torn);
    struct gw_ssq_rec *last =
        gw_statesync_spill_decode(torn + 1, len - (size_t)(torn + 1 - buf) - 1);
    ck_assert_ptr_nonnull(last);
    ck_assert_str_eq(last->rec.path, "/r13");
    free(last);
    *torn = '\0';
    char *prev = strrchr(buf, '\n');
    ck_assert_ptr_nonnull(prev);
    ck_assert_ptr_null(gw_statesync_spill_decode(prev + 1, strlen(prev + 1)));
    free(buf);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *fn)
{
    TCase *tc = tcase_create(name);
    tcase_add_test(tc, fn);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
}

Suite *gateway_statesync_suite(void)
{
    Suite *s = suite_create("gateway/statesync");
    add_case(s, "backoff", test_backoff);
    add_case(s, "queue", test_queue_order_and_bound);
    add_case(s, "copy", test_copy_is_deep);
    add_case(s, "spill_format", test_spill_roundtrip);
    add_case(s, "conninfo", test_conninfo);
    add_case(s, "unreachable", test_unreachable_spills_in_order);
    return s;
}
