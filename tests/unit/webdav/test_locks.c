/* Unit tests for webdav/locks.c: the lock file codec, coverage queries, tokens, and the
 * shared database (including two processes contending for it), in files and through
 * the parent's shared state (a fake parent, fakeparent.h). */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "webdav/locks.h"
#include "tests/unit/webdav/fakeparent.h"

static struct dav_lock mk(const char *tok, const char *root, bool inf, bool ex, int64_t exp)
{
    struct dav_lock l;
    memset(&l, 0, sizeof l);
    snprintf(l.token, sizeof l.token, "%s", tok);
    snprintf(l.user, sizeof l.user, "alice");
    l.root = (char *)root;
    l.owner = (char *)"<D:href xmlns:D=\"DAV:\">me too</D:href>";
    l.infinite = inf;
    l.exclusive = ex;
    l.expires = exp;
    l.timeout = 600;
    return l;
}

START_TEST(test_codec)
{
    struct dav_locks l = {0}, q;
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    struct dav_lock a = mk("urn:uuid:a", "/x y/%z", true, true, 2000);
    struct dav_lock c = mk("urn:uuid:c", "/old", false, false, 500);
    ck_assert_int_eq(dav_locks_add(&l, &a), 0);
    ck_assert_int_eq(dav_locks_add(&l, &c), 0);
    ck_assert_int_eq(dav_locks_format(&l, &b), 0);
    ck_assert_int_eq(dav_locks_parse(b.data, b.len, 1000, &q), 0);
    ck_assert_uint_eq(q.n, 1); /* the expired one is dropped */
    ck_assert_str_eq(q.v[0].root, "/x y/%z");
    ck_assert_str_eq(q.v[0].owner, a.owner);
    ck_assert(q.v[0].infinite && q.v[0].exclusive);
    ck_assert_str_eq(q.v[0].user, "alice");
    dav_locks_free(&q);
    static const char damaged[] = "# ferry webdav locks v1\n"
                                  "t 9999999999 600 2 exclusive u /a %\n"
                                  "t 9999999999 600 0 weird u /a %\n"
                                  "t 9999999999 600 0 shared u a/relative %\n"
                                  "t 9999999999 600 0 shared u /a\n"
                                  "ok 9999999999 600 0 shared u /a %\n";
    ck_assert_int_eq(dav_locks_parse(damaged, sizeof damaged - 1, 1000, &q), 0);
    ck_assert_uint_eq(q.n, 1);
    ck_assert_str_eq(q.v[0].token, "ok");
    dav_locks_free(&q);
    ck_assert_int_eq(dav_locks_parse("x", 1, 0, &q), GW_ERR_PROTO);
    ck_assert_int_eq(dav_locks_parse("", 0, 0, &q), 0);
    dav_locks_free(&l);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_queries)
{
    struct dav_lock d0 = mk("t", "/a", false, true, 1), di = mk("t", "/a", true, true, 1);
    ck_assert(dav_lock_covers(&d0, "/a"));
    ck_assert(!dav_lock_covers(&d0, "/a/b"));
    ck_assert(dav_lock_covers(&di, "/a/b/c"));
    ck_assert(!dav_lock_covers(&di, "/ab"));
    ck_assert(!dav_lock_covers(&di, "/"));
    ck_assert(dav_lock_below(&d0, "/"));
    ck_assert(!dav_lock_below(&d0, "/a"));
    ck_assert(!dav_lock_below(&d0, "/a/b"));
    struct dav_locks l = {0};
    struct dav_lock x = mk("1", "/a/b", false, true, 9), y = mk("2", "/c", false, true, 9);
    struct dav_lock z = mk("3", "/a", false, true, 9);
    dav_locks_add(&l, &x);
    dav_locks_add(&l, &y);
    dav_locks_add(&l, &z);
    ck_assert_ptr_nonnull(dav_locks_find(&l, "2", 1));
    ck_assert_ptr_null(dav_locks_find(&l, "22", 2));
    ck_assert_uint_eq(dav_locks_remove_under(&l, "/a"), 2);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.v[0].root, "/c");
    dav_locks_free(&l);
    char t1[DAV_LOCK_TOKEN_MAX], t2[DAV_LOCK_TOKEN_MAX];
    ck_assert_int_eq(dav_lock_new_token(t1), 0);
    ck_assert_int_eq(dav_lock_new_token(t2), 0);
    ck_assert_uint_eq(strlen(t1), 45);
    ck_assert(strncmp(t1, "urn:uuid:", 9) == 0);
    ck_assert_int_eq(t1[23], '4');
    ck_assert_str_ne(t1, t2);
}
END_TEST

START_TEST(test_db)
{
    char *base = tu_mkdtemp("locks");
    struct dav_lockdb db;
    int64_t far = (int64_t)time(NULL) + 3600;
    ck_assert_int_eq(dav_lockdb_open(&db, base, NULL, true), 0);
    ck_assert_uint_eq(db.l.n, 0);
    struct dav_lock a = mk("urn:uuid:a", "/f", false, true, far);
    ck_assert_int_eq(dav_locks_add(&db.l, &a), 0);
    db.dirty = true;
    ck_assert_int_eq(dav_lockdb_close(&db), 0);
    /* Two processes add locks at once; the flock keeps both. */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 50; i++) {
            struct dav_lockdb c;
            char tok[32];
            snprintf(tok, sizeof tok, "child-%d", i);
            struct dav_lock k = mk(tok, "/c", false, false, far);
            if (dav_lockdb_open(&c, base, NULL, true) != 0 || dav_locks_add(&c.l, &k) != 0)
                _exit(1);
            c.dirty = true;
            if (dav_lockdb_close(&c) != 0)
                _exit(1);
        }
        _exit(0);
    }
    for (int i = 0; i < 50; i++) {
        char tok[32];
        snprintf(tok, sizeof tok, "parent-%d", i);
        struct dav_lock k = mk(tok, "/p", false, false, far);
        ck_assert_int_eq(dav_lockdb_open(&db, base, NULL, true), 0);
        ck_assert_int_eq(dav_locks_add(&db.l, &k), 0);
        db.dirty = true;
        ck_assert_int_eq(dav_lockdb_close(&db), 0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(dav_lockdb_open(&db, base, NULL, false), 0);
    ck_assert_uint_eq(db.l.n, 101);
    ck_assert_int_eq(dav_lockdb_close(&db), 0);
    /* A damaged file counts as empty rather than blocking every write. */
    char path[4096];
    snprintf(path, sizeof path, "%s/locks", base);
    tu_write_file(path, "garbage", 7);
    ck_assert_int_eq(dav_lockdb_open(&db, base, NULL, false), 0);
    ck_assert_uint_eq(db.l.n, 0);
    dav_lockdb_close(&db);
    tu_rmtree(base);
    free(base);
}
END_TEST

/* The same database as shared state: one blob, held for write between open and close,
 * read and written whole through the session's requests to the parent. */
START_TEST(test_db_shared)
{
    struct fake_parent f;
    struct dav_lockdb db;
    int64_t far = (int64_t)time(NULL) + 3600;
    fp_start(&f);
    ck_assert(dav_shared(&f.s));
    ck_assert(!dav_shared(NULL));
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, true), 0);
    ck_assert(fp_holding(&f));
    ck_assert_uint_eq(db.l.n, 0);
    struct dav_lock a = mk("urn:uuid:a", "/f", false, true, far);
    ck_assert_int_eq(dav_locks_add(&db.l, &a), 0);
    db.dirty = true;
    ck_assert_int_eq(dav_lockdb_close(&db), 0);
    ck_assert(!fp_holding(&f));
    const char *want = "# ferry webdav locks v1\nurn:uuid:a ";
    ck_assert(strncmp(fp_body(&f, "webdav/locks"), want, strlen(want)) == 0);
    /* A read holds nothing; an unchanged write releases without writing. */
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, false), 0);
    ck_assert(!fp_holding(&f));
    ck_assert_uint_eq(db.l.n, 1);
    ck_assert_int_eq(dav_lockdb_close(&db), 0);
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, true), 0);
    ck_assert(fp_holding(&f));
    ck_assert_int_eq(dav_lockdb_close(&db), 0);
    ck_assert(!fp_holding(&f));
    /* An asynchronous audit record queued before a request gets no reply: the next
     * reply read is the request's. */
    struct audit_record r;
    audit_record_init(&r);
    r.event = "upload";
    r.path = "/f";
    r.status = "ok";
    ck_assert_int_eq(gw_session_audit(&f.s, &r), 0);
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, false), 0);
    ck_assert_uint_eq(db.l.n, 1);
    dav_lockdb_close(&db);
    ck_assert_uint_eq(f.audits, 1);
    /* A busy parent is asked again; a database that is down is an error, not empty. */
    f.again = 3;
    unsigned before = f.requests;
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, false), 0);
    ck_assert_uint_eq(f.requests - before, 4);
    dav_lockdb_close(&db);
    f.fail = GW_ERR_IO;
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, false), GW_ERR_IO);
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, true), GW_ERR_IO);
    f.fail = 0;
    /* A set too large for one message is refused whole: the stored one is kept and
     * the blob is released. */
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, true), 0);
    char tok[64], root[64];
    int i;
    for (i = 0; i < 1000; i++) {
        snprintf(tok, sizeof tok, "urn:uuid:%d", i);
        snprintf(root, sizeof root, "/dir/file-%d", i);
        struct dav_lock k = mk(tok, root, false, false, far);
        ck_assert_int_eq(dav_locks_add(&db.l, &k), 0);
    }
    db.dirty = true;
    ck_assert_int_eq(dav_lockdb_close(&db), GW_ERR_NOSPC);
    ck_assert(!fp_holding(&f));
    ck_assert_int_eq(dav_lockdb_open(&db, "/nonexistent", &f.s, false), 0);
    ck_assert_uint_eq(db.l.n, 1);
    dav_lockdb_close(&db);
    fp_stop(&f);
}
END_TEST

Suite *webdav_locks_suite(void)
{
    Suite *s = suite_create("webdav/locks");
    TCase *tc = tcase_create("dav_locks_codec");
    tcase_add_test(tc, test_codec);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_lock_covers");
    tcase_add_test(tc, test_queries);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_lockdb");
    tcase_add_test(tc, test_db);
    tcase_add_test(tc, test_db_shared);
    suite_add_tcase(s, tc);
    return s;
}
