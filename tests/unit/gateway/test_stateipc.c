#include <check.h>
#include "tests/unit/testutil.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/statedb.h"
#include "gateway/stateipc.h"

/* ---- helpers: build a request, run it through handle, read the reply ---- */

struct reply {
    int64_t result;
    bool has_body;
    char body[GW_STATE_MAX_BODY + 1];
    size_t len;
};

static struct reply R;

/* Serves one request: type, name (NULL: none), write (-1: no S_WRITE field), body
 * (NULL: no S_BODY field). Returns the RESULT. */
static int64_t call(struct gw_stateipc *s, uint64_t owner, uint8_t type, const char *name,
                    int write, const void *body, size_t len)
{
    struct gw_buf req, rep;
    struct gw_ipc_msg m, r;
    gw_buf_init(&req, GW_MAX_IPC_MSG);
    gw_buf_init(&rep, GW_MAX_IPC_MSG);
    ck_assert_int_eq(gw_ipc_begin(&req, type), 0);
    if (name)
        ck_assert_int_eq(gw_ipc_put_str(&req, GW_F_S_NAME, name), 0);
    if (write >= 0)
        ck_assert_int_eq(gw_ipc_put_int(&req, GW_F_S_WRITE, write), 0);
    if (body)
        ck_assert_int_eq(gw_ipc_put(&req, GW_F_S_BODY, body, len), 0);
    ck_assert_int_eq(gw_ipc_decode(req.data, req.len, &m), 0);
    gw_stateipc_handle(s, owner, &m, &rep);
    ck_assert_int_eq(gw_ipc_decode(rep.data, rep.len, &r), 0);
    ck_assert_int_eq(r.type, GW_IPC_REPLY);
    ck_assert(gw_ipc_get_int(&r, GW_F_RESULT, &R.result));
    R.has_body = false;
    R.len = 0;
    for (size_t i = 0; i < r.nfields; i++)
        if (r.f[i].tag == GW_F_S_BODY) {
            R.has_body = true;
            R.len = r.f[i].len;
            memcpy(R.body, r.f[i].val, R.len);
            R.body[R.len] = '\0';
        }
    gw_buf_free(&req);
    gw_buf_free(&rep);
    return R.result;
}

static int64_t get(struct gw_stateipc *s, uint64_t owner, const char *name, bool write)
{
    return call(s, owner, GW_IPC_STATE_GET, name, write ? 1 : -1, NULL, 0);
}

static int64_t put(struct gw_stateipc *s, uint64_t owner, const char *name, const char *body)
{
    return call(s, owner, GW_IPC_STATE_PUT, name, -1, body, strlen(body));
}

static int64_t end(struct gw_stateipc *s, uint64_t owner, const char *name)
{
    return call(s, owner, GW_IPC_STATE_END, name, -1, NULL, 0);
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- gw_state_name_valid ---- */

START_TEST(test_name_valid)
{
    static const char *good[] = {"webdav/locks", "webdav/props/", "webdav/props/alice",
                                 "webdav/props/alice/docs/a b.txt",
                                 "webdav/props/\xc3\xa9t\xc3\xa9"};
    static const char *bad[] = {"",
                                "webdav/lock",
                                "webdav/locks/",
                                "webdav/locks/x",
                                "webdav/props",
                                "webdav/propsx/a",
                                "webdav/props//a",
                                "webdav/props/a/",
                                "webdav/props/a/../b",
                                "webdav/props/./a",
                                "webdav/props/..",
                                "webdav/props/a\x01z",
                                "webdav/props/a/.ferry~0123456789abcdef",
                                "/webdav/locks",
                                "users",
                                "audit"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(gw_state_name_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!gw_state_name_valid(bad[i]), "%s", bad[i]);
    ck_assert(!gw_state_name_valid(NULL));
    /* Length: a key of GW_MAX_PATH - 1 bytes is the longest (components of 200). */
    static char name[GW_STATE_MAX_NAME + 16];
    size_t pl = strlen("webdav/props"), keylen = GW_MAX_PATH - 1;
    memcpy(name, "webdav/props", pl);
    memset(name + pl, 'a', keylen);
    for (size_t i = 0; i < keylen; i += 200)
        name[pl + i] = '/';
    name[pl + keylen] = '\0';
    ck_assert_uint_eq(strlen(name), GW_STATE_MAX_NAME);
    ck_assert(gw_state_name_valid(name));
    name[pl + keylen] = 'a';
    name[pl + keylen + 1] = '\0';
    ck_assert(!gw_state_name_valid(name));
}
END_TEST

/* ---- gw_stateipc_handle without a database: hostile requests, database down ---- */

START_TEST(test_handle_no_db)
{
    char url[128];
    snprintf(url, sizeof url, "postgresql://ferry@127.0.0.1:%d/postgres?connect_timeout=2",
             free_port());
    struct gw_stateipc *s = gw_stateipc_new(url);
    ck_assert_ptr_nonnull(s);
    /* Validation happens before any connection is tried. */
    ck_assert_int_eq(get(s, 1, "webdav/../users", false), GW_ERR_INVAL);
    ck_assert_int_eq(get(s, 1, NULL, false), GW_ERR_INVAL);
    ck_assert_int_eq(call(s, 1, GW_IPC_STATE_GET, "webdav/locks", 7, NULL, 0), GW_ERR_INVAL);
    ck_assert_int_eq(put(s, 1, "webdav/locks", "x"), GW_ERR_INVAL); /* holds nothing */
    ck_assert_int_eq(end(s, 1, "webdav/locks"), GW_ERR_INVAL);
    ck_assert_int_eq(call(s, 1, GW_IPC_STATE_PUT, "webdav/locks", -1, NULL, 0), GW_ERR_INVAL);
    ck_assert_int_eq(call(s, 1, GW_IPC_AUDIT, "webdav/locks", -1, NULL, 0), GW_ERR_PROTO);
    /* A NUL inside the name field ("webdav/locks\0..." must not pass as webdav/locks). */
    struct gw_buf req, rep;
    struct gw_ipc_msg m, r;
    int64_t res = 0;
    gw_buf_init(&req, GW_MAX_IPC_MSG);
    gw_buf_init(&rep, GW_MAX_IPC_MSG);
    ck_assert_int_eq(gw_ipc_begin(&req, GW_IPC_STATE_GET), 0);
    ck_assert_int_eq(gw_ipc_put(&req, GW_F_S_NAME, "webdav/locks\0/../users", 22), 0);
    ck_assert_int_eq(gw_ipc_decode(req.data, req.len, &m), 0);
    gw_stateipc_handle(s, 1, &m, &rep);
    ck_assert_int_eq(gw_ipc_decode(rep.data, rep.len, &r), 0);
    ck_assert(gw_ipc_get_int(&r, GW_F_RESULT, &res));
    ck_assert_int_eq(res, GW_ERR_INVAL);
    gw_buf_free(&req);
    gw_buf_free(&rep);
    /* Database down: GW_ERR_IO at once, and no new connect attempt per request. */
    int64_t t0 = ms_now();
    ck_assert_int_eq(get(s, 1, "webdav/locks", false), GW_ERR_IO);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(get(s, 2, "webdav/locks", true), GW_ERR_IO);
    ck_assert_int_lt(ms_now() - t0, 1000);
    gw_stateipc_release(s, 1);
    gw_stateipc_free(s);
    gw_stateipc_free(NULL);
}
END_TEST

/* ---- against a throwaway PostgreSQL (tests/cluster/pg.sh) ---- */

static char *pgdir;
static int pgport;
static char pgurl[128];

static bool pg_start(void)
{
    return tu_sh("sh tests/cluster/pg.sh start %s %d >/dev/null", pgdir, pgport) == 0;
}

static void pg_stop(void)
{
    tu_sh("sh tests/cluster/pg.sh stop %s >/dev/null 2>&1", pgdir);
}

/* An unchecked fixture: it runs in the runner itself, so the server is stopped even
 * when a failed assertion ends the (forked) test early. */
static void pg_setup(void)
{
    pgdir = tu_mkdtemp("stateipc-pg");
    tu_sh("chmod 0711 %s", pgdir); /* the server runs as postgres when we are root */
    pgport = free_port();
    snprintf(pgurl, sizeof pgurl, "postgresql://ferry@127.0.0.1:%d/postgres", pgport);
}

static void pg_teardown(void)
{
    pg_stop();
    tu_rmtree(pgdir);
    free(pgdir);
    pgdir = NULL;
}

START_TEST(test_handle_pg)
{
    if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0) {
        fprintf(stderr, "test_stateipc: no PostgreSQL 15: skipped\n");
        return;
    }
    char err[256];
    int from = -1;
    struct gw_statedb *db = NULL;
    ck_assert_msg(pg_start(), "cannot start PostgreSQL");
    ck_assert_int_eq(gw_statedb_open(pgurl, &db, err, sizeof err), 0);
    ck_assert_msg(gw_statedb_migrate(db, &from, err, sizeof err) == 0, "%s", err);
    gw_statedb_close(db);

    struct gw_stateipc *a = gw_stateipc_new(pgurl), *b = gw_stateipc_new(pgurl);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    /* A session that keeps a blob too long (checked below, after the other waits). */
    int64_t t_stale = ms_now();
    ck_assert_int_eq(get(a, 50, "webdav/props/stale", true), 0);
    /* Nothing yet; a held write, then a read from the other node sees it. */
    ck_assert_int_eq(get(a, 1, "webdav/locks", false), 0);
    ck_assert(!R.has_body);
    ck_assert_int_eq(get(a, 1, "webdav/locks", true), 0);
    ck_assert_int_eq(get(a, 1, "webdav/props/x", true), GW_ERR_INVAL); /* one at a time */
    /* Another session of the same node is told to retry at once: waiting would block
     * the loop that must serve the holder's PUT. */
    int64_t t1 = ms_now();
    ck_assert_int_eq(get(a, 2, "webdav/locks", true), GW_ERR_AGAIN);
    ck_assert_int_lt(ms_now() - t1, 1000);
    ck_assert_int_eq(put(a, 2, "webdav/locks", "stolen"), GW_ERR_INVAL); /* not the holder */
    ck_assert_int_eq(end(a, 2, "webdav/locks"), GW_ERR_INVAL);
    ck_assert_int_eq(put(a, 1, "webdav/props/x", "wrong name"), GW_ERR_INVAL);
    /* While A holds it, node B reads the old value at once (no blocking)... */
    ck_assert_int_eq(get(b, 7, "webdav/locks", false), 0);
    ck_assert(!R.has_body);
    /* ...and a writer on B is told to retry at once: B's parent never waits for a lock
     * held through another node. */
    int64_t t0 = ms_now();
    int64_t rc = get(b, 7, "webdav/locks", true);
    ck_assert_msg(rc == GW_ERR_AGAIN, "got %lld", (long long)rc);
    ck_assert_int_lt(ms_now() - t0, 1000);
    ck_assert_int_eq(put(a, 1, "webdav/locks", "v1"), 0);
    ck_assert_int_eq(put(a, 1, "webdav/locks", "again"), GW_ERR_INVAL); /* released */
    ck_assert_int_eq(get(b, 7, "webdav/locks", false), 0);
    ck_assert(R.has_body);
    ck_assert_str_eq(R.body, "v1");
    /* END leaves the blob as it was. */
    ck_assert_int_eq(get(b, 7, "webdav/locks", true), 0);
    ck_assert_str_eq(R.body, "v1");
    ck_assert_int_eq(end(b, 7, "webdav/locks"), 0);
    ck_assert_int_eq(get(a, 1, "webdav/locks", false), 0);
    ck_assert_str_eq(R.body, "v1");

    /* The stale holder is rolled back by the next request after GW_STATE_HOLD_MS. */
    int64_t left = t_stale + GW_STATE_HOLD_MS + 300 - ms_now();
    if (left > 0)
        usleep((useconds_t)left * 1000);
    ck_assert_int_eq(get(a, 1, "webdav/locks", false), 0);
    ck_assert_int_eq(put(a, 50, "webdav/props/stale", "too late"), GW_ERR_INVAL);
    ck_assert_int_eq(get(b, 7, "webdav/props/stale", true), 0); /* free again, at once */
    ck_assert(!R.has_body);
    ck_assert_int_eq(end(b, 7, "webdav/props/stale"), 0);
    /* The pool: GW_STATE_POOL holders, then the next request is told to retry. */
    char name[64];
    for (uint64_t o = 1; o <= GW_STATE_POOL; o++) {
        snprintf(name, sizeof name, "webdav/props/f%llu", (unsigned long long)o);
        ck_assert_int_eq(get(a, o, name, true), 0);
    }
    ck_assert_int_eq(get(a, 99, "webdav/locks", false), GW_ERR_AGAIN);
    /* A session gone: its write is rolled back and its connection freed. */
    ck_assert_int_eq(put(a, 1, "webdav/props/f1", "never kept"), 0);
    ck_assert_int_eq(get(a, 1, "webdav/props/f1", true), 0);
    ck_assert_str_eq(R.body, "never kept");
    gw_stateipc_release(a, 1);
    ck_assert_int_eq(put(a, 1, "webdav/props/f1", "after release"), GW_ERR_INVAL);
    ck_assert_int_eq(get(a, 99, "webdav/props/f1", false), 0);
    ck_assert_str_eq(R.body, "never kept");
    for (uint64_t o = 2; o <= GW_STATE_POOL; o++)
        gw_stateipc_release(a, o);

    /* Sizes: the largest body round-trips; one byte more is refused, nothing stored. */
    static char big[GW_STATE_MAX_BODY + 2];
    memset(big, 'b', sizeof big - 1);
    big[GW_STATE_MAX_BODY] = '\0';
    ck_assert_int_eq(get(a, 3, "webdav/props/big", true), 0);
    ck_assert_int_eq(put(a, 3, "webdav/props/big", big), 0);
    ck_assert_int_eq(get(b, 3, "webdav/props/big", false), 0);
    ck_assert_uint_eq(R.len, GW_STATE_MAX_BODY);
    big[GW_STATE_MAX_BODY] = 'b';
    ck_assert_int_eq(get(a, 3, "webdav/props/big", true), 0);
    ck_assert_int_eq(put(a, 3, "webdav/props/big", big), GW_ERR_NOSPC);
    ck_assert_int_eq(end(a, 3, "webdav/props/big"), GW_ERR_INVAL); /* already released */
    /* An empty body deletes. */
    ck_assert_int_eq(get(a, 3, "webdav/props/big", true), 0);
    ck_assert_int_eq(put(a, 3, "webdav/props/big", ""), 0);
    ck_assert_int_eq(get(a, 3, "webdav/props/big", false), 0);
    ck_assert(!R.has_body);

    /* The database goes away: GW_ERR_IO, no crash; back: reconnected. */
    ck_assert_int_eq(get(a, 4, "webdav/locks", true), 0);
    pg_stop();
    ck_assert_int_eq(put(a, 4, "webdav/locks", "lost"), GW_ERR_IO);
    ck_assert_int_eq(get(a, 4, "webdav/locks", false), GW_ERR_IO);
    ck_assert(pg_start());
    int64_t deadline = ms_now() + 10000;
    while ((rc = get(a, 4, "webdav/locks", false)) == GW_ERR_IO && ms_now() < deadline)
        usleep(100 * 1000);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(R.body, "v1");
    gw_stateipc_free(a);
    gw_stateipc_free(b);
}
END_TEST

Suite *gateway_stateipc_suite(void)
{
    Suite *s = suite_create("gateway/stateipc");
    TCase *tc = tcase_create("gw_state_name_valid");
    tcase_add_test(tc, test_name_valid);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_stateipc_handle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_handle_no_db);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_stateipc_handle_pg");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, pg_setup, pg_teardown);
    tcase_add_test(tc, test_handle_pg);
    suite_add_tcase(s, tc);
    return s;
}
