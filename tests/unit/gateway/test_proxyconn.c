/* Unit tests for gateway/proxyconn.c: reading a PROXY header off a real socket without
 * consuming what follows (whole, in pieces, slow, silent, closed early), the session
 * policy (trusted, untrusted, off, metrics exempt) and the parent's checks of a
 * session's claim. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/limits.h"
#include "gateway/proxyconn.h"

static const char V1[] = "PROXY TCP4 203.0.113.7 198.51.100.1 40001 21\r\n";

/* A stream socketpair: [0] is read by the code under test, [1] written by the test. */
static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void put(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

/* What is left on the socket after the header. */
static void expect_rest(int fd, const char *want)
{
    char buf[64] = "";
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_int_eq(n, (ssize_t)strlen(want));
    ck_assert_str_eq(buf, want);
}

/* Writes data in pieces of step bytes, delay_us apart, from a child process. */
static pid_t slow_writer(int fd, const void *data, size_t len, size_t step, unsigned delay_us)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        const unsigned char *p = data;
        for (size_t off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;
            if (write(fd, p + off, n) != (ssize_t)n)
                _exit(1);
            usleep(delay_us);
        }
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(test_read)
{
    int sv[2];
    struct gw_proxy_hdr h;
    char buf[256];
    /* v1 then the client's first bytes, all at once: only the header is taken. */
    pair(sv);
    snprintf(buf, sizeof buf, "%sSSH-2.0-x\r\n", V1);
    put(sv[1], buf, strlen(buf));
    ck_assert_int_eq(gw_proxy_read(sv[0], 2000, &h), 0);
    ck_assert(h.has_addr);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&h.src)->sin_port), 40001);
    expect_rest(sv[0], "SSH-2.0-x\r\n");
    close(sv[0]), close(sv[1]);

    /* v1 a byte at a time, then more: still exact. */
    pair(sv);
    snprintf(buf, sizeof buf, "%sGET /", V1);
    pid_t w = slow_writer(sv[1], buf, strlen(buf), 1, 2000);
    ck_assert_int_eq(gw_proxy_read(sv[0], 5000, &h), 0);
    reap(w);
    expect_rest(sv[0], "GET /");
    close(sv[0]), close(sv[1]);

    /* v2 TCP4 in 5-byte pieces, followed by a TLS record byte. */
    unsigned char v2[29] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                            0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 192,  0,    2,    10,
                            127,  0,    0,    1,    0x9c, 0x41, 0x01, 0xbb, 'X'};
    pair(sv);
    w = slow_writer(sv[1], v2, sizeof v2, 5, 2000);
    ck_assert_int_eq(gw_proxy_read(sv[0], 5000, &h), 0);
    reap(w);
    ck_assert_int_eq(h.version, 2);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&h.src)->sin_port), 40001);
    expect_rest(sv[0], "X");
    close(sv[0]), close(sv[1]);
}
END_TEST

START_TEST(test_read_failures)
{
    int sv[2];
    struct gw_proxy_hdr h;
    /* Silent peer: a timeout, on time. */
    pair(sv);
    int64_t t0 = gw_now_ms();
    ck_assert_int_eq(gw_proxy_read(sv[0], 300, &h), GW_ERR_TIMEOUT);
    int64_t dt = gw_now_ms() - t0;
    ck_assert_int_ge(dt, 290);
    ck_assert_int_lt(dt, 2000);
    /* Half a header, then silence: the same. */
    put(sv[1], V1, 20);
    ck_assert_int_eq(gw_proxy_read(sv[0], 200, &h), GW_ERR_TIMEOUT);
    close(sv[0]), close(sv[1]);
    /* Half a header, then the peer closes. */
    pair(sv);
    put(sv[1], V1, 20);
    close(sv[1]);
    ck_assert_int_eq(gw_proxy_read(sv[0], 2000, &h), GW_ERR_PROTO);
    close(sv[0]);
    /* Not a header: refused at the first bytes, without waiting. */
    pair(sv);
    put(sv[1], "USER x\r\n", 8);
    t0 = gw_now_ms();
    ck_assert_int_eq(gw_proxy_read(sv[0], 5000, &h), GW_ERR_PROTO);
    ck_assert_int_lt(gw_now_ms() - t0, 1000);
    close(sv[0]), close(sv[1]);
    /* A v1 line that never ends: refused at 107 bytes. */
    pair(sv);
    char junk[300];
    memset(junk, 'a', sizeof junk);
    memcpy(junk, "PROXY UNKNOWN ", 14);
    put(sv[1], junk, sizeof junk);
    ck_assert_int_eq(gw_proxy_read(sv[0], 5000, &h), GW_ERR_PROTO);
    close(sv[0]), close(sv[1]);
}
END_TEST

/* A stand-in for the parent on the session's IPC channel: answers every request with
 * RESULT 0 until the channel closes. */
static pid_t fake_parent(int *ipc)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char buf[GW_MAX_IPC_MSG];
        struct gw_buf rep;
        close(sv[0]);
        gw_buf_init(&rep, GW_MAX_IPC_MSG);
        while (gw_ipc_recv(sv[1], buf, sizeof buf) > 0) {
            gw_ipc_begin(&rep, GW_IPC_REPLY);
            gw_ipc_put_int(&rep, GW_F_RESULT, 0);
            if (gw_ipc_send(sv[1], &rep) < 0)
                break;
        }
        gw_buf_free(&rep);
        _exit(0);
    }
    close(sv[1]);
    *ipc = sv[0];
    return pid;
}

static pid_t parent_pid = -1;

static void make_session(struct gw_session *s, struct gw_config *cfg, int fd, const char *peer)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->fd = fd;
    parent_pid = fake_parent(&s->ipc);
    snprintf(s->id, sizeof s->id, "0123456789abcdef");
    struct sockaddr_in *in = (struct sockaddr_in *)&s->peer;
    in->sin_family = AF_INET;
    inet_pton(AF_INET, peer, &in->sin_addr);
    in->sin_port = htons(5555);
    s->peer_len = sizeof *in;
    snprintf(s->remote, sizeof s->remote, "%s:5555", peer);
    snprintf(s->remote_addr, sizeof s->remote_addr, "%s", peer);
}

static void end_session(struct gw_session *s, int sv[2])
{
    close(s->ipc);
    reap(parent_pid);
    close(sv[0]), close(sv[1]);
}

static void config(struct gw_config *cfg, bool on, const char *trusted)
{
    char err[256];
    cfg_defaults(cfg);
    ck_assert_int_eq(cfg_set(cfg, "proxy_protocol", on ? "yes" : "no", err, sizeof err), 0);
    ck_assert_int_eq(cfg_set(cfg, "proxy_trusted", trusted, err, sizeof err), 0);
}

START_TEST(test_session_start)
{
    struct gw_config cfg;
    struct gw_session s;
    int sv[2];
    config(&cfg, true, "127.0.0.1, 10.0.0.0/8");
    /* Trusted balancer: the session now names the client. */
    pair(sv);
    put(sv[1], V1, strlen(V1));
    make_session(&s, &cfg, sv[0], "10.1.2.3");
    ck_assert_int_eq(gw_proxy_session_start(&s, "ftp"), 0);
    ck_assert_str_eq(s.remote, "203.0.113.7:40001");
    ck_assert_str_eq(s.remote_addr, "203.0.113.7");
    ck_assert_int_eq(s.peer.ss_family, AF_INET);
    ck_assert_uint_eq(s.peer_len, sizeof(struct sockaddr_in));
    end_session(&s, sv);
    /* IPv6 client. */
    pair(sv);
    const char *v6 = "PROXY TCP6 2001:db8::9 2001:db8::1 40002 443\r\n";
    put(sv[1], v6, strlen(v6));
    make_session(&s, &cfg, sv[0], "127.0.0.1");
    ck_assert_int_eq(gw_proxy_session_start(&s, "https"), 0);
    ck_assert_str_eq(s.remote, "[2001:db8::9]:40002");
    end_session(&s, sv);
    /* UNKNOWN: the balancer's own address stays. */
    pair(sv);
    put(sv[1], "PROXY UNKNOWN\r\n", 15);
    make_session(&s, &cfg, sv[0], "127.0.0.1");
    ck_assert_int_eq(gw_proxy_session_start(&s, "sftp"), 0);
    ck_assert_str_eq(s.remote, "127.0.0.1:5555");
    end_session(&s, sv);
    /* Untrusted peer: refused without reading a byte. */
    pair(sv);
    put(sv[1], V1, strlen(V1));
    make_session(&s, &cfg, sv[0], "192.0.2.1");
    ck_assert_int_eq(gw_proxy_session_start(&s, "ftp"), GW_ERR_PERM);
    ck_assert_str_eq(s.remote, "192.0.2.1:5555");
    char buf[128];
    ck_assert_int_eq(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), (ssize_t)strlen(V1));
    /* Metrics is exempt: nothing is read. */
    put(sv[1], V1, strlen(V1));
    ck_assert_int_eq(gw_proxy_session_start(&s, "metrics"), 0);
    ck_assert_int_eq(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), (ssize_t)strlen(V1));
    end_session(&s, sv);
    cfg_free(&cfg);
    /* Off: nothing is read, whoever the peer is. */
    config(&cfg, false, "127.0.0.1");
    pair(sv);
    put(sv[1], V1, strlen(V1));
    make_session(&s, &cfg, sv[0], "127.0.0.1");
    ck_assert_int_eq(gw_proxy_session_start(&s, "ftp"), 0);
    ck_assert_str_eq(s.remote, "127.0.0.1:5555");
    ck_assert_int_eq(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), (ssize_t)strlen(V1));
    end_session(&s, sv);
    cfg_free(&cfg);
    /* A broken proxy_trusted fails closed. */
    config(&cfg, true, "127.0.0.1/40");
    pair(sv);
    make_session(&s, &cfg, sv[0], "127.0.0.1");
    ck_assert_int_eq(gw_proxy_session_start(&s, "ftp"), GW_ERR_CONFIG);
    end_session(&s, sv);
    cfg_free(&cfg);
}
END_TEST

START_TEST(test_peer_trusted)
{
    struct gw_config cfg;
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    config(&cfg, true, "127.0.0.1");
    ck_assert(gw_proxy_peer_trusted(&cfg, (struct sockaddr *)&in));
    inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
    ck_assert(!gw_proxy_peer_trusted(&cfg, (struct sockaddr *)&in));
    cfg_free(&cfg);
    config(&cfg, false, "127.0.0.1");
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    ck_assert(!gw_proxy_peer_trusted(&cfg, (struct sockaddr *)&in));
    cfg_free(&cfg);
}
END_TEST

START_TEST(test_check_claim)
{
    struct gw_config cfg;
    char addr[48], remote[64];
    config(&cfg, true, "127.0.0.1,::1");
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "127.0.0.1", "203.0.113.7", 40001, addr,
                                          sizeof addr, remote, sizeof remote),
                     0);
    ck_assert_str_eq(addr, "203.0.113.7");
    ck_assert_str_eq(remote, "203.0.113.7:40001");
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "::1", "2001:db8::9", 0, addr, sizeof addr, remote,
                                          sizeof remote),
                     0);
    ck_assert_str_eq(remote, "[2001:db8::9]:0");
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "::1", "::ffff:192.0.2.1", 7, addr, sizeof addr,
                                          remote, sizeof remote),
                     0);
    ck_assert_str_eq(remote, "192.0.2.1:7");
    /* Not from a balancer's session. */
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "192.0.2.1", "203.0.113.7", 1, addr, sizeof addr,
                                          remote, sizeof remote),
                     GW_ERR_PERM);
    ck_assert_int_eq(
        gw_proxy_check_claim(&cfg, "?", "203.0.113.7", 1, addr, sizeof addr, remote, sizeof remote),
        GW_ERR_PERM);
    /* Malformed claims. */
    static const char *bad[] = {
        "", "host.example", "203.0.113.7:1", "[::1]", "fe80::1%eth0", "203.0.113", " 203.0.113.7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(gw_proxy_check_claim(&cfg, "127.0.0.1", bad[i], 1, addr, sizeof addr, remote,
                                           sizeof remote) == GW_ERR_PROTO,
                      "accepted [%s]", bad[i]);
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "127.0.0.1", "203.0.113.7", 65536, addr,
                                          sizeof addr, remote, sizeof remote),
                     GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "127.0.0.1", "203.0.113.7", -1, addr, sizeof addr,
                                          remote, sizeof remote),
                     GW_ERR_PROTO);
    cfg_free(&cfg);
    config(&cfg, false, "127.0.0.1");
    ck_assert_int_eq(gw_proxy_check_claim(&cfg, "127.0.0.1", "203.0.113.7", 1, addr, sizeof addr,
                                          remote, sizeof remote),
                     GW_ERR_PERM);
    cfg_free(&cfg);
}
END_TEST

Suite *gateway_proxyconn_suite(void)
{
    Suite *s = suite_create("gateway/proxyconn");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"gw_proxy_read", test_read},
        {"gw_proxy_read_failures", test_read_failures},
        {"gw_proxy_session_start", test_session_start},
        {"gw_proxy_peer_trusted", test_peer_trusted},
        {"gw_proxy_check_claim", test_check_claim},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
