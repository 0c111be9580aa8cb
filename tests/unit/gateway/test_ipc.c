/* Unit tests for gateway/ipc.c: message framing between sessions and the parent. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/limits.h"

START_TEST(test_roundtrip)
{
    struct gw_buf b;
    struct gw_ipc_msg m;
    char user[32], small[3];
    int64_t v;
    gw_buf_init(&b, GW_MAX_IPC_MSG);
    ck_assert_int_eq(gw_ipc_begin(&b, GW_IPC_AUTH_PASSWORD), 0);
    ck_assert_int_eq(gw_ipc_put_str(&b, GW_F_USER, "alice"), 0);
    ck_assert_int_eq(gw_ipc_put_int(&b, GW_F_DELAY, -42), 0);
    ck_assert_int_eq(gw_ipc_put_str(&b, GW_F_HOME, NULL), 0);
    ck_assert_int_eq(gw_ipc_decode(b.data, b.len, &m), 0);
    ck_assert_int_eq(m.type, GW_IPC_AUTH_PASSWORD);
    ck_assert_uint_eq(m.nfields, 2);
    ck_assert(gw_ipc_get_str(&m, GW_F_USER, user, sizeof user));
    ck_assert_str_eq(user, "alice");
    ck_assert(!gw_ipc_get_str(&m, GW_F_USER, small, sizeof small)); /* does not fit */
    ck_assert(gw_ipc_get_int(&m, GW_F_DELAY, &v));
    ck_assert_int_eq(v, -42);
    ck_assert(!gw_ipc_has(&m, GW_F_HOME));
    ck_assert(!gw_ipc_get_int(&m, GW_F_USER, &v)); /* not a number */
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_decode_rejects)
{
    struct gw_ipc_msg m;
    char user[8];
    ck_assert_int_eq(gw_ipc_decode("", 0, &m), GW_ERR_PROTO);
    ck_assert_int_eq(gw_ipc_decode("\x01\x01\x00", 3, &m), GW_ERR_PROTO);          /* short hdr */
    ck_assert_int_eq(gw_ipc_decode("\x01\x01\x00\x05" "ab", 6, &m), GW_ERR_PROTO);  /* overrun */
    ck_assert_int_eq(gw_ipc_decode("\x01\x00\x00\x00", 4, &m), GW_ERR_PROTO);      /* tag 0 */
    ck_assert_int_eq(gw_ipc_decode("\x01\xff\x00\x00", 4, &m), GW_ERR_PROTO);      /* unknown */
    ck_assert_int_eq(gw_ipc_decode("\x01\x01\x00\x01" "a\x01\x00\x01" "b", 9, &m), GW_ERR_PROTO);
    ck_assert_int_eq(gw_ipc_decode("\x01\x01\x00\x03" "a\0b", 7, &m), 0);
    ck_assert(!gw_ipc_get_str(&m, GW_F_USER, user, sizeof user)); /* embedded NUL */
    unsigned char many[1 + 3 * 40];
    many[0] = 1;
    for (int i = 0; i < 40; i++)
        many[1 + 3 * i] = (unsigned char)(1 + i % 20), many[2 + 3 * i] = 0, many[3 + 3 * i] = 0;
    ck_assert_int_eq(gw_ipc_decode(many, sizeof many, &m), GW_ERR_PROTO); /* dup/too many */
}
END_TEST

START_TEST(test_socket_transport)
{
    int sv[2];
    struct gw_buf b;
    char buf[GW_MAX_IPC_MSG];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    gw_buf_init(&b, GW_MAX_IPC_MSG);
    gw_ipc_begin(&b, GW_IPC_AUDIT);
    gw_ipc_put_str(&b, GW_F_A_EVENT, "upload");
    ck_assert_int_eq(gw_ipc_send(sv[0], &b), 0);
    ck_assert_int_eq(gw_ipc_recv(sv[1], buf, sizeof buf), (ssize_t)b.len);
    ck_assert(memcmp(buf, b.data, b.len) == 0);
    /* A message larger than the receiver's buffer is refused, not truncated silently. */
    ck_assert_int_eq(gw_ipc_send(sv[0], &b), 0);
    ck_assert_int_eq(gw_ipc_recv(sv[1], buf, 4), GW_ERR_PROTO);
    close(sv[0]);
    ck_assert_int_eq(gw_ipc_recv(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
    gw_buf_free(&b);
}
END_TEST

/* The fire-and-forget audit type decodes like the synchronous one. */
START_TEST(test_async_audit_type)
{
    struct gw_buf b;
    struct gw_ipc_msg m;
    char ev[16];
    int64_t v;
    gw_buf_init(&b, GW_MAX_IPC_MSG);
    ck_assert_int_eq(gw_ipc_begin(&b, GW_IPC_AUDIT_ASYNC), 0);
    ck_assert_int_eq(gw_ipc_put_str(&b, GW_F_A_EVENT, "download"), 0);
    ck_assert_int_eq(gw_ipc_put_int(&b, GW_F_A_BYTES, 1024), 0);
    ck_assert_int_eq(gw_ipc_decode(b.data, b.len, &m), 0);
    ck_assert_int_eq(m.type, GW_IPC_AUDIT_ASYNC);
    ck_assert_int_ne(GW_IPC_AUDIT_ASYNC, GW_IPC_AUDIT);
    ck_assert(gw_ipc_get_str(&m, GW_F_A_EVENT, ev, sizeof ev));
    ck_assert_str_eq(ev, "download");
    ck_assert(gw_ipc_get_int(&m, GW_F_A_BYTES, &v));
    ck_assert_int_eq(v, 1024);
    gw_buf_free(&b);
}
END_TEST

/* Non-blocking receive and send: AGAIN on an empty queue and on a full one; messages
 * keep their order and none is lost when the sender closes right after sending. */
START_TEST(test_try_send_recv)
{
    int sv[2];
    struct gw_buf b;
    static char buf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg m;
    int64_t v;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    gw_buf_init(&b, GW_MAX_IPC_MSG);
    ck_assert_int_eq(gw_ipc_try_recv(sv[1], buf, sizeof buf), GW_ERR_AGAIN);
    int sent = 0;
    for (;;) {
        gw_ipc_begin(&b, GW_IPC_AUDIT_ASYNC);
        gw_ipc_put_int(&b, GW_F_A_BYTES, sent);
        int rc = gw_ipc_try_send(sv[0], &b);
        if (rc == GW_ERR_AGAIN)
            break;
        ck_assert_int_eq(rc, 0);
        sent++;
        ck_assert_int_lt(sent, 100000);
    }
    ck_assert_int_gt(sent, 0);
    close(sv[0]);
    for (int i = 0; i < sent; i++) {
        ssize_t n = gw_ipc_try_recv(sv[1], buf, sizeof buf);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(gw_ipc_decode(buf, (size_t)n, &m), 0);
        ck_assert(gw_ipc_get_int(&m, GW_F_A_BYTES, &v));
        ck_assert_int_eq(v, i);
    }
    ck_assert_int_eq(gw_ipc_try_recv(sv[1], buf, sizeof buf), 0); /* then EOF */
    close(sv[1]);
    gw_buf_free(&b);
}
END_TEST

Suite *gateway_ipc_suite(void)
{
    Suite *s = suite_create("gateway/ipc");
    TCase *tc = tcase_create("ipc");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_decode_rejects);
    tcase_add_test(tc, test_socket_transport);
    tcase_add_test(tc, test_async_audit_type);
    tcase_add_test(tc, test_try_send_recv);
    suite_add_tcase(s, tc);
    return s;
}
