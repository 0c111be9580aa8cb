/* TLS connection I/O with timeouts (conn.h). */
#include "webdav/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gateway/err.h"
#include "gateway/session.h"

/* Mozilla's "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. */
#define DAV_TLS12_CIPHERS                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    unsigned char sellen = 0;
    (void)ssl, (void)arg;
    if (SSL_select_next_proto(&sel, &sellen, h11, sizeof h11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no ALPN agreed: plain HTTP/1.1 all the same */
    *out = sel;
    *outlen = sellen;
    return SSL_TLSEXT_ERR_OK;
}

static void ssl_err(char *err, size_t errsz, const char *what, const char *path)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errsz, "%s %s: %s", what, path ? path : "", buf[0] ? buf : "failed");
    ERR_clear_error();
}

int dav_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out, char *err,
                    size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    *out = NULL;
    if (!ctx) {
        ssl_err(err, errsz, "SSL_CTX_new", NULL);
        return GW_ERR_CONFIG;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;
#ifdef SSL_OP_ENABLE_KTLS
    opts |= SSL_OP_ENABLE_KTLS;
#endif
    SSL_CTX_set_options(ctx, opts);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read whole TCP segments' worth of records at once: fewer read(2) calls on uploads. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 65536);
    if (!SSL_CTX_set_cipher_list(ctx, DAV_TLS12_CIPHERS)) {
        ssl_err(err, errsz, "cipher list", NULL);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        ssl_err(err, errsz, "certificate", cert_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errsz, "private key", key_path);
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* One process per connection: a server-side session cache would live and die with
     * the session process. Tickets (keys made here, before the fork) resume across
     * processes. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    return GW_ERR_CONFIG;
}

/* Waits for events on the socket within the timeout and deadline. */
static int wait_io(struct dav_conn *c, short events)
{
    for (;;) {
        int64_t now = gw_now_ms();
        int64_t t = c->timeout_ms > 0 ? c->timeout_ms : -1;
        if (c->deadline_ms > 0) {
            int64_t left = c->deadline_ms - now;
            if (left <= 0)
                return GW_ERR_TIMEOUT;
            if (t < 0 || left < t)
                t = left;
        }
        if (c->idle && gw_session_stopping())
            return GW_ERR_AGAIN;
        struct pollfd p = {.fd = c->fd, .events = events};
        int r = poll(&p, 1, (int)t);
        if (r > 0)
            return 0;
        if (r == 0)
            return GW_ERR_TIMEOUT;
        if (errno != EINTR)
            return GW_ERR_IO;
    }
}

/* Maps an SSL_read/SSL_write/SSL_accept result: 1 retry (after waiting), 0 EOF, < 0
 * error. */
static int ssl_retry(struct dav_conn *c, int r)
{
    int e = SSL_get_error(c->ssl, r);
    int rc;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        rc = wait_io(c, POLLIN);
        return rc < 0 ? rc : 1;
    case SSL_ERROR_WANT_WRITE:
        rc = wait_io(c, POLLOUT);
        return rc < 0 ? rc : 1;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == EINTR)
            return 1;
        return errno == 0 || errno == ECONNRESET ? 0 : GW_ERR_IO;
    default:
        ERR_clear_error();
        return GW_ERR_IO;
    }
}

int dav_conn_open(struct dav_conn *c, SSL_CTX *ctx, int fd, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    c->deadline_ms = gw_now_ms() + timeout_ms;
    c->in = malloc(DAV_CONN_IN_CAP);
    c->out = malloc(DAV_CONN_OUT_CAP);
    int fl = fcntl(fd, F_GETFL);
    if (!c->in || !c->out || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return GW_ERR_NOMEM;
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1)
        return GW_ERR_NOMEM;
    for (;;) {
        int r = SSL_accept(c->ssl);
        if (r == 1)
            break;
        int rr = ssl_retry(c, r);
        if (rr <= 0) {
            c->failed = true;
            return rr < 0 ? rr : GW_ERR_IO;
        }
    }
#ifdef SSL_OP_ENABLE_KTLS
    c->ktls_send = BIO_get_ktls_send(SSL_get_wbio(c->ssl)) > 0;
#endif
    c->deadline_ms = 0;
    return 0;
}

void dav_conn_linger(struct dav_conn *c, int ms, size_t max)
{
    char buf[16384];
    size_t total = 0;
    if (!c->ssl || c->failed)
        return;
    dav_conn_flush(c);
    SSL_shutdown(c->ssl);
    shutdown(c->fd, SHUT_WR);
    c->failed = true; /* the TLS stream is over: dav_conn_close sends nothing more */
    int64_t end = gw_now_ms() + ms;
    while (total < max) {
        int64_t left = end - gw_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
        if (n > 0)
            total += (size_t)n;
    }
}

void dav_conn_close(struct dav_conn *c)
{
    if (c->ssl) {
        if (!c->failed) {
            dav_conn_flush(c);
            /* Best effort: no waiting for the peer's close_notify. */
            SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    ERR_clear_error();
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
}

/* One SSL_read into dst; waits when nothing is available and block is true. Returns
 * bytes, 0 at EOF, GW_ERR_AGAIN when !block and nothing is ready, or an error. */
static ssize_t read_some(struct dav_conn *c, void *dst, size_t n, bool block)
{
    if (c->failed)
        return GW_ERR_IO;
    if (c->eof)
        return 0;
    for (;;) {
        size_t got = 0;
        int r = SSL_read_ex(c->ssl, dst, n, &got);
        if (r == 1) {
            c->bytes_in += got;
            return (ssize_t)got;
        }
        int e = SSL_get_error(c->ssl, 0);
        if (!block && e == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            return GW_ERR_AGAIN;
        }
        int rr = ssl_retry(c, 0);
        if (rr == 0) {
            c->eof = true;
            return 0;
        }
        if (rr < 0) {
            if (rr != GW_ERR_AGAIN)
                c->failed = true;
            return rr;
        }
    }
}

ssize_t dav_conn_fill(struct dav_conn *c)
{
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == DAV_CONN_IN_CAP)
        return GW_ERR_LIMIT;
    if (c->idle && c->in_len == 0 && !c->failed && !c->eof && !SSL_has_pending(c->ssl)) {
        /* Between requests a keep-alive client has usually sent nothing yet: wait
         * first rather than let SSL_read find an empty socket (one system call less
         * per request). OpenSSL holds nothing back (SSL_has_pending), so the socket
         * is the only place the next request can be. */
        int w = wait_io(c, POLLIN);
        if (w < 0) {
            if (w != GW_ERR_AGAIN)
                c->failed = true;
            return w;
        }
    }
    ssize_t r = read_some(c, c->in + c->in_len, DAV_CONN_IN_CAP - c->in_len, true);
    if (r > 0)
        c->in_len += (size_t)r;
    return r;
}

ssize_t dav_conn_read(struct dav_conn *c, void *dst, size_t n)
{
    size_t have = c->in_len - c->in_off, done = 0;
    if (n == 0)
        return 0;
    if (have) {
        done = have < n ? have : n;
        memcpy(dst, c->in + c->in_off, done);
        dav_conn_consume(c, done);
        if (done == n)
            return (ssize_t)done;
    }
    while (done < n) {
        ssize_t r = read_some(c, (char *)dst + done, n - done, done == 0);
        if (r == GW_ERR_AGAIN && done > 0)
            break;
        if (r <= 0)
            return done > 0 ? (ssize_t)done : r;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

void dav_conn_consume(struct dav_conn *c, size_t n)
{
    size_t have = c->in_len - c->in_off;
    if (n >= have) {
        c->in_off = c->in_len = 0;
        return;
    }
    c->in_off += n;
}

static int write_raw(struct dav_conn *c, const void *p, size_t n)
{
    const char *s = p;
    if (c->failed)
        return GW_ERR_IO;
    while (n > 0) {
        size_t w = 0;
        int r = SSL_write_ex(c->ssl, s, n, &w);
        if (r == 1) {
            s += w;
            n -= w;
            c->bytes_out += w;
            continue;
        }
        int rr = ssl_retry(c, 0);
        if (rr <= 0) {
            c->failed = true;
            return rr < 0 ? rr : GW_ERR_IO;
        }
    }
    return 0;
}

int dav_conn_flush(struct dav_conn *c)
{
    if (c->out_len == 0)
        return c->failed ? GW_ERR_IO : 0;
    int rc = write_raw(c, c->out, c->out_len);
    c->out_len = 0;
    return rc;
}

int dav_conn_write(struct dav_conn *c, const void *p, size_t n)
{
    if (n > DAV_CONN_OUT_CAP - c->out_len) {
        int rc = dav_conn_flush(c);
        if (rc < 0)
            return rc;
        if (n > DAV_CONN_OUT_CAP)
            return write_raw(c, p, n);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

int dav_conn_printf(struct dav_conn *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return GW_ERR_TOOLONG;
    return dav_conn_write(c, tmp, (size_t)n);
}

int dav_conn_send(struct dav_conn *c, const void *p, size_t n)
{
    /* Small enough to share a record with what is pending: buffer it. */
    if (n <= DAV_CONN_OUT_CAP - c->out_len)
        return dav_conn_write(c, p, n);
    int rc = dav_conn_flush(c);
    return rc < 0 ? rc : write_raw(c, p, n);
}

ssize_t dav_conn_sendfile(struct dav_conn *c, int fd, uint64_t off, size_t n)
{
#ifdef SSL_OP_ENABLE_KTLS
    int rc = dav_conn_flush(c);
    if (rc < 0)
        return rc;
    for (;;) {
        ossl_ssize_t r = SSL_sendfile(c->ssl, fd, (off_t)off, n, 0);
        if (r > 0) {
            c->bytes_out += (uint64_t)r;
            return (ssize_t)r;
        }
        int rr = ssl_retry(c, (int)r);
        if (rr <= 0) {
            c->failed = true;
            return rr < 0 ? rr : GW_ERR_IO;
        }
    }
#else
    (void)c, (void)fd, (void)off, (void)n;
    return GW_ERR_NOTSUP;
#endif
}
