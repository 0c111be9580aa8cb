/* Plain and TLS connections of the FTP server (see ftptls.h). Sockets stay blocking with
 * SO_RCVTIMEO/SO_SNDTIMEO as the timeout: a slow or silent peer costs one session process
 * at most the configured time, and the I/O code stays a straight line. */
#include "ftp/ftptls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "gateway/err.h"

static void ssl_error_text(char *err, size_t errsz, const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, msg, sizeof msg);
    snprintf(err, errsz, "%s: %s", what, msg);
    ERR_clear_error();
}

int ftpd_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out, char *err,
                     size_t errsz)
{
    static const unsigned char sid_ctx[] = "ferry-ftp";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc = GW_ERR_CONFIG;

    if (!ctx) {
        ssl_error_text(err, errsz, "SSL_CTX_new");
        return GW_ERR_NOMEM;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        ssl_error_text(err, errsz, "TLS 1.2 minimum");
        goto fail_ctx;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        ssl_error_text(err, errsz, cert_path);
        goto fail_ctx;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error_text(err, errsz, key_path);
        goto fail_ctx;
    }
    /* Resumption is what data connections must do; renegotiation is never wanted. */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_timeout(ctx, 24 * 3600);
    *out = ctx;
    return 0;

fail_ctx:
    SSL_CTX_free(ctx);
    return rc;
}

int ftpd_tls_ctx_session(SSL_CTX *ctx)
{
    unsigned char keys[80];
    int rc = 0;
    if (RAND_bytes(keys, sizeof keys) != 1 ||
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys) != 1)
        rc = GW_ERR_IO;
    SSL_CTX_flush_sessions(ctx, 0);
    OPENSSL_cleanse(keys, sizeof keys);
    return rc;
}

void ftpd_conn_init(struct ftpd_conn *c, int fd, int timeout_s)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    if (fd >= 0 && timeout_s > 0) {
        struct timeval tv = {.tv_sec = timeout_s};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
}

/* Maps an SSL_get_error() result after a failed call to a GW_ERR_*. */
static int ssl_failure(struct ftpd_conn *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    int rc = GW_ERR_IO;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        /* On a blocking socket only SO_RCVTIMEO/SO_SNDTIMEO get here. */
        rc = c->nonblock ? GW_ERR_AGAIN : GW_ERR_TIMEOUT;
    } else if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        rc = GW_ERR_TIMEOUT;
    }
    ERR_clear_error();
    return rc;
}

/* The GW_ERR_* for a failed plain recv/send. */
static int sock_failure(struct ftpd_conn *c, short want)
{
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return GW_ERR_IO;
    c->want = want;
    return c->nonblock ? GW_ERR_AGAIN : GW_ERR_TIMEOUT;
}

int ftpd_conn_tls_accept(struct ftpd_conn *c, SSL_CTX *ctx, unsigned tickets)
{
    int rc = GW_ERR_NOMEM;
    c->ssl = SSL_new(ctx);
    if (!c->ssl)
        goto fail;
    if (SSL_set_num_tickets(c->ssl, tickets) != 1)
        goto fail_ssl;
    if (SSL_set_fd(c->ssl, c->fd) != 1)
        goto fail_ssl;
    int ret = SSL_accept(c->ssl);
    if (ret != 1) {
        rc = ssl_failure(c, ret);
        if (rc == GW_ERR_IO)
            rc = GW_ERR_PROTO;
        goto fail_ssl;
    }
    return 0;

fail_ssl:
    SSL_free(c->ssl);
    c->ssl = NULL;
fail:
    ERR_clear_error();
    return rc;
}

bool ftpd_conn_tls_reused(const struct ftpd_conn *c)
{
    return c->ssl && SSL_session_reused(c->ssl) == 1;
}

bool ftpd_conn_pending(const struct ftpd_conn *c)
{
    return c->ssl && SSL_pending(c->ssl) > 0;
}

int ftpd_conn_set_nonblock(struct ftpd_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return GW_ERR_IO;
    c->nonblock = true;
    return 0;
}

static void set_blocking(struct ftpd_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (c->nonblock && fl >= 0)
        (void)fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
    c->nonblock = false;
}

ssize_t ftpd_conn_read(struct ftpd_conn *c, void *buf, size_t n)
{
    if (c->eof)
        return 0;
    if (!c->ssl) {
        ssize_t r;
        do
            r = recv(c->fd, buf, n, 0);
        while (r < 0 && errno == EINTR);
        if (r > 0)
            return r;
        if (r == 0) {
            c->eof = c->clean_eof = true;
            return 0;
        }
        return sock_failure(c, POLLIN);
    }
    size_t got = 0;
    int ret = SSL_read_ex(c->ssl, buf, n, &got);
    if (ret == 1)
        return (ssize_t)got;
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_ZERO_RETURN) {
        c->eof = c->clean_eof = true;
        ERR_clear_error();
        return 0;
    }
    if (e == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        c->eof = true; /* TCP FIN without close_notify: possibly truncated */
        ERR_clear_error();
        return 0;
    }
    return ssl_failure(c, ret);
}

ssize_t ftpd_conn_write_some(struct ftpd_conn *c, const void *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t w;
        do
            w = send(c->fd, buf, n, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        return w >= 0 ? w : sock_failure(c, POLLOUT);
    }
    size_t done = 0;
    int ret = SSL_write_ex(c->ssl, buf, n, &done);
    if (ret != 1)
        return ssl_failure(c, ret);
    return (ssize_t)done;
}

int ftpd_conn_write(struct ftpd_conn *c, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = ftpd_conn_write_some(c, p, n);
        if (w < 0)
            return (int)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void ftpd_conn_close(struct ftpd_conn *c, bool wait_peer)
{
    if (c->ssl) {
        /* The close_notify must not be lost to a full send buffer. */
        set_blocking(c);
        int r = SSL_shutdown(c->ssl);
        if (r == 0 && wait_peer)
            (void)SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    ftpd_conn_abort(c);
}

void ftpd_conn_linger_close(struct ftpd_conn *c, int ms)
{
    char sink[4096];
    size_t drained = 0;
    if (c->fd < 0)
        return;
    if (c->ssl) {
        set_blocking(c);
        (void)SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    if (shutdown(c->fd, SHUT_WR) == 0) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            if (left <= 0 || drained > 64 * sizeof sink || poll(&p, 1, (int)left) <= 0)
                break;
            ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n <= 0)
                break;
            drained += (size_t)n;
        }
    }
    ftpd_conn_abort(c);
}

void ftpd_conn_abort(struct ftpd_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
