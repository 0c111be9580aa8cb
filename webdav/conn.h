/* One HTTPS connection of the WebDAV front end: the OpenSSL 3 server context (built
 * once in the parent) and a connection's TLS I/O with timeouts, an input buffer for
 * request heads and an output buffer that gathers a response's head and small bodies
 * into few TLS records.
 *
 * The socket is non-blocking and every wait is a poll(2) bounded by the connection's
 * current timeout (inactivity) and deadline (absolute, e.g. for a whole request head),
 * so a slow or silent client (slowloris) costs at most that long. A signal that asks the
 * session to stop interrupts a wait only while the connection is idle between requests.
 *
 * kTLS: the context enables SSL_OP_ENABLE_KTLS; when the kernel's tls module accepted
 * the keys (dav_conn.ktls_send), file bodies go out with SSL_sendfile(); otherwise
 * with SSL_write() of large buffers. */
#ifndef FERRY_WEBDAV_CONN_H
#define FERRY_WEBDAV_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "gateway/limits.h"

/* The input buffer holds one request head at most, plus what arrived behind it. */
#define DAV_CONN_IN_CAP (GW_MAX_HTTP_LINE + GW_MAX_HTTP_HEADERS + 65536)
/* Output is flushed when this much is pending. */
#define DAV_CONN_OUT_CAP 65536

struct dav_conn {
    SSL *ssl;
    int fd;
    char *in; /* DAV_CONN_IN_CAP bytes; unread data is in[in_off..in_len) */
    size_t in_off, in_len;
    char *out; /* DAV_CONN_OUT_CAP bytes of pending output */
    size_t out_len;
    int timeout_ms;      /* inactivity limit of each wait */
    int64_t deadline_ms; /* absolute limit (gw_now_ms clock), 0 = none */
    bool idle;           /* between requests: a stop request ends the wait */
    bool eof;            /* the peer closed (cleanly or not) */
    bool failed;         /* an I/O error or timeout: the connection is unusable */
    bool ktls_send;      /* kernel TLS offload is active for sending */
    uint64_t bytes_in, bytes_out;
};

/* Builds the server context: certificate chain and key (PEM files), TLS 1.2 and 1.3
 * only, forward-secret AEAD suites, ALPN "http/1.1", session tickets, kTLS when the
 * kernel has it. Returns 0 or GW_ERR_CONFIG with a message in err. */
int dav_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out, char *err,
                    size_t errsz);

/* Sets up c on the accepted socket fd and runs the TLS handshake, which must finish
 * within timeout_ms. Returns 0 or a GW_ERR_* (the connection is then unusable; call
 * dav_conn_close anyway). */
int dav_conn_open(struct dav_conn *c, SSL_CTX *ctx, int fd, int timeout_ms);
/* Lingering close: after a response to a request whose input we did not read, sends
 * close_notify and the TCP FIN, then reads and drops what the client still sends, for
 * at most ms milliseconds or max bytes. Closing a socket with unread input makes the
 * kernel send a reset, which can destroy the response before the client read it. */
void dav_conn_linger(struct dav_conn *c, int ms, size_t max);
/* Sends close_notify (best effort, without waiting long) and frees everything; the
 * socket itself is the caller's. */
void dav_conn_close(struct dav_conn *c);

/* Reads more input into the input buffer (compacting it first). Returns the number of
 * bytes added, 0 at end of stream, GW_ERR_LIMIT when the buffer is full, GW_ERR_TIMEOUT,
 * GW_ERR_AGAIN when the session is stopping while idle, or GW_ERR_IO. */
ssize_t dav_conn_fill(struct dav_conn *c);
/* Reads body bytes straight into dst (after what the input buffer still holds): at
 * least one byte, then as many as arrive without waiting, up to n. Same returns as
 * dav_conn_fill. */
ssize_t dav_conn_read(struct dav_conn *c, void *dst, size_t n);
/* Drops n bytes from the front of the input buffer. */
void dav_conn_consume(struct dav_conn *c, size_t n);

/* Buffers output (flushing when the buffer fills). 0 or GW_ERR_IO / GW_ERR_TIMEOUT. */
int dav_conn_write(struct dav_conn *c, const void *p, size_t n);
int dav_conn_printf(struct dav_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends everything buffered. */
int dav_conn_flush(struct dav_conn *c);
/* Flushes, then writes p directly (large bodies). */
int dav_conn_send(struct dav_conn *c, const void *p, size_t n);
/* kTLS only: sends n bytes of file descriptor fd from offset off with SSL_sendfile().
 * Returns bytes sent (> 0) or a GW_ERR_*. */
ssize_t dav_conn_sendfile(struct dav_conn *c, int fd, uint64_t off, size_t n);

#endif
