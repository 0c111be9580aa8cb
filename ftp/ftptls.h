/* Connections of the FTP server, plain or TLS (OpenSSL 3, TLS 1.2 and later): the
 * control connection and each data connection are a struct ftpd_conn. The server
 * context is built once in the parent (ftpd_tls_ctx_new) and re-keyed in each session
 * process (ftpd_tls_ctx_session) so that a TLS session can only be resumed inside the
 * session process that created it: that is what makes "the data connection resumed the
 * control connection's TLS session" (vsftpd's require_ssl_reuse) a proof that the data
 * peer is the control peer. */
#ifndef FERRY_FTP_FTPTLS_H
#define FERRY_FTP_FTPTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* One connection. fd < 0 when closed. */
struct ftpd_conn {
    int fd;
    SSL *ssl;       /* NULL for plain */
    bool eof;       /* the peer closed its side */
    bool clean_eof; /* ...and, on TLS, with a close_notify */
    bool nonblock;  /* O_NONBLOCK: I/O returns GW_ERR_AGAIN instead of waiting */
    short want;     /* after GW_ERR_AGAIN: POLLIN or POLLOUT to wait for */
};

/* Builds the server context from PEM files: TLS 1.2 minimum, server session cache,
 * session id context. 0 or GW_ERR_* with a message in err. */
int ftpd_tls_ctx_new(const char *cert_path, const char *key_path, SSL_CTX **out, char *err,
                     size_t errsz);
/* In a session process: fresh random ticket keys, so tickets issued before the fork (or
 * by another session) cannot be resumed here. 0 or GW_ERR_*. */
int ftpd_tls_ctx_session(SSL_CTX *ctx);

/* Initialises c over fd (no TLS). Sets the socket's send and receive timeouts to
 * timeout_s seconds (0: none). */
void ftpd_conn_init(struct ftpd_conn *c, int fd, int timeout_s);
/* Server-side TLS handshake on c, sending `tickets` TLS 1.3 session tickets after it.
 * Clients resume data connections from the control connection's tickets, and some
 * (curl) from the previous data connection's. But a client uploading never reads what
 * the server sends on that data connection, and a socket closed with unread data is
 * reset, losing the end of the upload: data connections for uploads get none.
 * 0 or GW_ERR_PROTO (handshake failed), GW_ERR_TIMEOUT, GW_ERR_NOMEM. */
int ftpd_conn_tls_accept(struct ftpd_conn *c, SSL_CTX *ctx, unsigned tickets);
/* True when the TLS handshake resumed an earlier session. */
bool ftpd_conn_tls_reused(const struct ftpd_conn *c);
/* Bytes already decrypted and buffered (poll(2) cannot see them). */
bool ftpd_conn_pending(const struct ftpd_conn *c);
/* Switches c to non-blocking I/O (data connections during transfers, after the TLS
 * handshake), so that a transfer loop can watch the control connection for ABOR while it
 * waits. 0 or GW_ERR_IO. */
int ftpd_conn_set_nonblock(struct ftpd_conn *c);
/* Reads up to n bytes: > 0, 0 at end of stream (see eof/clean_eof), GW_ERR_TIMEOUT,
 * GW_ERR_IO, or (non-blocking) GW_ERR_AGAIN with c->want set. */
ssize_t ftpd_conn_read(struct ftpd_conn *c, void *buf, size_t n);
/* Writes some of n bytes: > 0 written, GW_ERR_TIMEOUT, GW_ERR_IO, or (non-blocking)
 * GW_ERR_AGAIN with c->want set. */
ssize_t ftpd_conn_write_some(struct ftpd_conn *c, const void *buf, size_t n);
/* Writes all n bytes on a blocking connection: 0, GW_ERR_TIMEOUT, GW_ERR_IO. */
int ftpd_conn_write(struct ftpd_conn *c, const void *buf, size_t n);
/* Ends TLS with a close_notify (waits for the peer's when wait_peer) and then closes
 * the socket; for plain connections just closes. Safe on a closed conn. */
void ftpd_conn_close(struct ftpd_conn *c, bool wait_peer);
/* Closes the control connection gently: close_notify, then our FIN, then whatever the
 * client still sends is read and dropped for up to ms milliseconds, so that our last
 * reply (421 ...) is not destroyed by a TCP reset caused by unread input. */
void ftpd_conn_linger_close(struct ftpd_conn *c, int ms);
/* Frees TLS state and closes the fd without any shutdown (abort paths). */
void ftpd_conn_abort(struct ftpd_conn *c);

#endif
