/* Unit tests for ftp/ftptls.c: server TLS context (TLS 1.2 minimum), handshakes over a
 * socketpair with an OpenSSL client in a child process, clean versus truncated end of
 * stream (close_notify), session resumption detection, and the per-session re-keying
 * that keeps a TLS session from being resumed in another session process. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ftp/ftptls.h"
#include "gateway/err.h"

static char *dir;
static char cert[512], key[512];

static void setup(void)
{
    dir = tu_mkdtemp("ftptls");
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    ck_assert_int_eq(tu_sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                           "-nodes -keyout '%s' -out '%s' -days 1 -subj /CN=test "
                           ">/dev/null 2>&1",
                           key, cert),
                     0);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

enum client_mode { CLIENT_CLEAN, CLIENT_TRUNCATE, CLIENT_TLS11, CLIENT_REUSE };

/* The client side, in a child: exits 0 when its part went as expected. */
static int client_conn(int fd, SSL_CTX *ctx, SSL_SESSION *resume, SSL_SESSION **out_sess,
                       enum client_mode mode)
{
    SSL *ssl = SSL_new(ctx);
    char buf[16];
    size_t n;
    SSL_set_fd(ssl, fd);
    if (resume)
        SSL_set_session(ssl, resume);
    if (SSL_connect(ssl) != 1)
        return mode == CLIENT_TLS11 ? 0 : 1;
    if (mode == CLIENT_TLS11)
        return 1;
    if (SSL_write_ex(ssl, "hello", 5, &n) != 1)
        return 1;
    if (mode == CLIENT_REUSE) {
        /* Read the server's byte: TLS 1.3 tickets arrive before it. */
        if (SSL_read_ex(ssl, buf, 1, &n) != 1)
            return 1;
        if (out_sess)
            *out_sess = SSL_get1_session(ssl);
    }
    if (mode == CLIENT_TRUNCATE) {
        /* A FIN without close_notify, then wait for the server to close. */
        shutdown(fd, SHUT_WR);
        while (read(fd, buf, sizeof buf) > 0)
            ;
    } else {
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    return 0;
}

static pid_t spawn_client(int fds[2], int fds2[2], enum client_mode mode)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        SSL_SESSION *sess = NULL;
        int rc;
        close(fds[0]);
        if (fds2)
            close(fds2[0]);
        if (mode == CLIENT_TLS11) {
            SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
            SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
            SSL_CTX_set_security_level(ctx, 0);
        }
        rc = client_conn(fds[1], ctx, NULL, &sess, mode);
        if (rc == 0 && fds2)
            rc = client_conn(fds2[1], ctx, sess, NULL, mode);
        _exit(rc);
    }
    close(fds[1]);
    if (fds2)
        close(fds2[1]);
    return pid;
}

static int wait_child(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Reads everything until the end of stream into buf. */
static size_t read_all(struct ftpd_conn *c, char *buf, size_t size)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = ftpd_conn_read(c, buf + got, size - got);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            return got;
        got += (size_t)n;
    }
}

START_TEST(test_ctx_new)
{
    SSL_CTX *ctx = NULL;
    char err[256];
    ck_assert_int_eq(ftpd_tls_ctx_new(cert, key, &ctx, err, sizeof err), 0);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    ck_assert_int_eq(ftpd_tls_ctx_session(ctx), 0);
    SSL_CTX_free(ctx);
    ck_assert_int_eq(ftpd_tls_ctx_new("/nonexistent.pem", key, &ctx, err, sizeof err),
                     GW_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.pem"));
    /* A key that does not match the certificate. */
    char other[600];
    snprintf(other, sizeof other, "%s/other.pem", dir);
    ck_assert_int_eq(tu_sh("openssl genpkey -algorithm ed25519 -out '%s' 2>/dev/null", other), 0);
    ck_assert_int_eq(ftpd_tls_ctx_new(cert, other, &ctx, err, sizeof err), GW_ERR_CONFIG);
}
END_TEST

static void run_eof_case(enum client_mode mode, bool want_clean)
{
    SSL_CTX *ctx = NULL;
    char err[256], buf[64];
    int fds[2];
    struct ftpd_conn c;
    ck_assert_int_eq(ftpd_tls_ctx_new(cert, key, &ctx, err, sizeof err), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    pid_t pid = spawn_client(fds, NULL, mode);
    ftpd_conn_init(&c, fds[0], 10);
    ck_assert_int_eq(ftpd_conn_tls_accept(&c, ctx, 0), 0);
    ck_assert(!ftpd_conn_tls_reused(&c));
    size_t n = read_all(&c, buf, sizeof buf);
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(buf, "hello", 5) == 0);
    ck_assert(c.eof);
    ck_assert(c.clean_eof == want_clean);
    ftpd_conn_close(&c, false);
    ck_assert_int_eq(c.fd, -1);
    ck_assert_int_eq(wait_child(pid), 0);
    SSL_CTX_free(ctx);
}

START_TEST(test_clean_eof)
{
    run_eof_case(CLIENT_CLEAN, true);
}
END_TEST

START_TEST(test_truncated_eof)
{
    /* A TCP close without close_notify must not look like a complete upload. */
    run_eof_case(CLIENT_TRUNCATE, false);
}
END_TEST

START_TEST(test_old_tls_refused)
{
    SSL_CTX *ctx = NULL;
    char err[256];
    int fds[2];
    struct ftpd_conn c;
    ck_assert_int_eq(ftpd_tls_ctx_new(cert, key, &ctx, err, sizeof err), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    pid_t pid = spawn_client(fds, NULL, CLIENT_TLS11);
    ftpd_conn_init(&c, fds[0], 10);
    ck_assert_int_eq(ftpd_conn_tls_accept(&c, ctx, 0), GW_ERR_PROTO);
    ck_assert_ptr_null(c.ssl);
    ftpd_conn_abort(&c);
    ck_assert_int_eq(wait_child(pid), 0);
    SSL_CTX_free(ctx);
}
END_TEST

/* Two connections from one client; the second offers the first one's session. */
static bool second_resumed(bool rekey_between)
{
    SSL_CTX *ctx = NULL;
    char err[256], buf[64];
    int a[2], b[2];
    struct ftpd_conn c1, c2;
    ck_assert_int_eq(ftpd_tls_ctx_new(cert, key, &ctx, err, sizeof err), 0);
    ck_assert_int_eq(ftpd_tls_ctx_session(ctx), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    pid_t pid = spawn_client(a, b, CLIENT_REUSE);
    ftpd_conn_init(&c1, a[0], 10);
    ck_assert_int_eq(ftpd_conn_tls_accept(&c1, ctx, 2), 0);
    ck_assert(!ftpd_conn_tls_reused(&c1));
    ck_assert_int_eq(ftpd_conn_write(&c1, "x", 1), 0);
    ck_assert_uint_eq(read_all(&c1, buf, sizeof buf), 5);
    ftpd_conn_close(&c1, false);
    if (rekey_between)
        ck_assert_int_eq(ftpd_tls_ctx_session(ctx), 0); /* as a new session process does */
    ftpd_conn_init(&c2, b[0], 10);
    ck_assert_int_eq(ftpd_conn_tls_accept(&c2, ctx, 0), 0);
    bool reused = ftpd_conn_tls_reused(&c2);
    ck_assert_int_eq(ftpd_conn_write(&c2, "y", 1), 0);
    ck_assert_uint_eq(read_all(&c2, buf, sizeof buf), 5);
    ftpd_conn_close(&c2, false);
    ck_assert_int_eq(wait_child(pid), 0);
    SSL_CTX_free(ctx);
    return reused;
}

START_TEST(test_session_reuse)
{
    ck_assert(second_resumed(false));
    /* After re-keying, the old session cannot be resumed: another session process's
     * ticket proves nothing about this control connection. */
    ck_assert(!second_resumed(true));
}
END_TEST

START_TEST(test_nonblock_io)
{
    int fds[2];
    struct ftpd_conn c;
    char buf[8];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ftpd_conn_init(&c, fds[0], 1);
    ck_assert_int_eq(ftpd_conn_set_nonblock(&c), 0);
    ck_assert_int_eq(ftpd_conn_read(&c, buf, sizeof buf), GW_ERR_AGAIN);
    ck_assert_int_eq(c.want, POLLIN);
    ck_assert_int_eq(write(fds[1], "ab", 2), 2);
    ck_assert_int_eq(ftpd_conn_read(&c, buf, sizeof buf), 2);
    shutdown(fds[1], SHUT_WR);
    ck_assert_int_eq(ftpd_conn_read(&c, buf, sizeof buf), 0);
    ck_assert(c.eof && c.clean_eof);
    /* Fill the socket buffer: the write stops with GW_ERR_AGAIN, wanting POLLOUT. */
    static char big[1 << 16];
    ssize_t w;
    do
        w = ftpd_conn_write_some(&c, big, sizeof big);
    while (w > 0);
    ck_assert_int_eq(w, GW_ERR_AGAIN);
    ck_assert_int_eq(c.want, POLLOUT);
    close(fds[1]);
    ftpd_conn_close(&c, false);
}
END_TEST

Suite *ftp_ftptls_suite(void)
{
    Suite *s = suite_create("ftp/ftptls");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"ftpd_tls_ctx_new", test_ctx_new},
        {"ftpd_conn_read_clean_eof", test_clean_eof},
        {"ftpd_conn_read_truncated", test_truncated_eof},
        {"ftpd_conn_tls_accept_old", test_old_tls_refused},
        {"ftpd_conn_tls_reused", test_session_reuse},
        {"ftpd_conn_nonblock", test_nonblock_io},
    };
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
