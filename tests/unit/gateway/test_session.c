/* Unit tests for gateway/session.c: the session side of the parent protocol, against a
 * fake parent on the other end of a SOCK_SEQPACKET socketpair (as the real one). */
#include <check.h>
#include "tests/unit/testutil.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/limits.h"
#include "gateway/session.h"

static void session_on(struct gw_session *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->ipc = fd;
    s->fd = -1;
    snprintf(s->proto, sizeof s->proto, "test");
}

static void download(struct audit_record *r, const char *path, int64_t bytes)
{
    audit_record_init(r);
    r->event = "download";
    r->path = path;
    r->status = "ok";
    r->bytes = bytes;
}

/* Fire and forget: each record is one GW_IPC_AUDIT_ASYNC message carrying the fields,
 * sent without waiting for any reply, in order; nothing is lost when the session's end
 * closes right after. */
START_TEST(test_audit_async)
{
    int sv[2];
    struct gw_session s;
    struct audit_record r;
    struct gw_ipc_msg m;
    static char buf[GW_MAX_IPC_MSG];
    char v[64];
    int64_t n;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    session_on(&s, sv[0]);
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "/f%d", i);
        download(&r, path, i * 100);
        ck_assert_int_eq(gw_session_audit(&s, &r), 0); /* no reply needed */
    }
    close(sv[0]);
    for (int i = 0; i < 5; i++) {
        ssize_t len = gw_ipc_recv(sv[1], buf, sizeof buf);
        char want[32];
        ck_assert_int_gt(len, 0);
        ck_assert_int_eq(gw_ipc_decode(buf, (size_t)len, &m), 0);
        ck_assert_int_eq(m.type, GW_IPC_AUDIT_ASYNC);
        ck_assert(gw_ipc_get_str(&m, GW_F_A_EVENT, v, sizeof v));
        ck_assert_str_eq(v, "download");
        ck_assert(gw_ipc_get_str(&m, GW_F_A_PROTO, v, sizeof v));
        ck_assert_str_eq(v, "test"); /* defaults to the session's */
        ck_assert(gw_ipc_get_str(&m, GW_F_A_PATH, v, sizeof v));
        snprintf(want, sizeof want, "/f%d", i);
        ck_assert_str_eq(v, want);
        ck_assert(gw_ipc_get_int(&m, GW_F_A_BYTES, &n));
        ck_assert_int_eq(n, i * 100);
        ck_assert(!gw_ipc_has(&m, GW_F_A_OFFSET)); /* -1: absent */
    }
    ck_assert_int_eq(gw_ipc_recv(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
}
END_TEST

struct slow_parent {
    int fd;
    int delay_ms;
    int count;
    bool in_order;
};

static void *slow_reader(void *arg)
{
    struct slow_parent *sp = arg;
    static char buf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg m;
    struct timespec ts = {0, (long)sp->delay_ms * 1000000L};
    int64_t b;
    nanosleep(&ts, NULL);
    sp->in_order = true;
    for (;;) {
        ssize_t len = gw_ipc_recv(sp->fd, buf, sizeof buf);
        if (len <= 0)
            break;
        if (gw_ipc_decode(buf, (size_t)len, &m) != 0 || !gw_ipc_get_int(&m, GW_F_A_BYTES, &b) ||
            b != sp->count)
            sp->in_order = false;
        sp->count++;
    }
    return NULL;
}

/* Back-pressure: a parent that does not read makes the session's send wait, never drop
 * a record; once it reads, every record arrives in order. */
START_TEST(test_audit_backpressure)
{
    int sv[2];
    struct gw_session s;
    struct audit_record r;
    pthread_t t;
    struct slow_parent sp = {.delay_ms = 300};
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    sp.fd = sv[1];
    session_on(&s, sv[0]);
    ck_assert_int_eq(pthread_create(&t, NULL, slow_reader, &sp), 0);
    int64_t t0 = gw_now_ms();
    for (int i = 0; i < 2000; i++) {
        download(&r, "/big", i);
        ck_assert_int_eq(gw_session_audit(&s, &r), 0);
    }
    /* 2000 records do not fit the socket's queue: some send waited for the reader. */
    ck_assert_int_ge(gw_now_ms() - t0, 250);
    close(sv[0]);
    pthread_join(t, NULL);
    ck_assert_int_eq(sp.count, 2000);
    ck_assert(sp.in_order);
    close(sv[1]);
}
END_TEST

static void *verdict_parent(void *arg)
{
    int fd = *(int *)arg;
    static char buf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg m;
    struct gw_buf rep;
    char ev[16];
    gw_buf_init(&rep, GW_MAX_IPC_MSG);
    for (;;) {
        ssize_t len = gw_ipc_recv(fd, buf, sizeof buf);
        if (len <= 0 || gw_ipc_decode(buf, (size_t)len, &m) != 0)
            break;
        if (m.type != GW_IPC_AUDIT)
            continue; /* async: no reply */
        bool ok = gw_ipc_get_str(&m, GW_F_A_EVENT, ev, sizeof ev) && strcmp(ev, "bogus") != 0;
        gw_ipc_begin(&rep, GW_IPC_REPLY);
        gw_ipc_put_int(&rep, GW_F_RESULT, ok ? 0 : GW_ERR_INVAL);
        gw_ipc_send(fd, &rep);
    }
    gw_buf_free(&rep);
    return NULL;
}

/* The synchronous path still reports the parent's verdict, also after async records
 * that got no reply (the replies stay paired with their requests). */
START_TEST(test_audit_sync)
{
    int sv[2];
    struct gw_session s;
    struct audit_record r;
    pthread_t t;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    session_on(&s, sv[0]);
    ck_assert_int_eq(pthread_create(&t, NULL, verdict_parent, &sv[1]), 0);
    download(&r, "/a", 1);
    ck_assert_int_eq(gw_session_audit(&s, &r), 0);
    ck_assert_int_eq(gw_session_audit_sync(&s, &r), 0);
    ck_assert_int_eq(gw_session_audit(&s, &r), 0);
    r.event = "bogus";
    ck_assert_int_eq(gw_session_audit_sync(&s, &r), GW_ERR_INVAL);
    r.event = "download";
    ck_assert_int_eq(gw_session_audit_sync(&s, &r), 0);
    close(sv[0]);
    pthread_join(t, NULL);
    close(sv[1]);
    /* A closed channel is an error, not a hang. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    close(sv[1]);
    session_on(&s, sv[0]);
    ck_assert_int_lt(gw_session_audit(&s, &r), 0);
    ck_assert_int_lt(gw_session_audit_sync(&s, &r), 0);
    close(sv[0]);
}
END_TEST

Suite *gateway_session_suite(void)
{
    Suite *s = suite_create("gateway/session");
    TCase *tc = tcase_create("gw_session_audit");
    tcase_add_test(tc, test_audit_async);
    tcase_add_test(tc, test_audit_backpressure);
    tcase_add_test(tc, test_audit_sync);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
