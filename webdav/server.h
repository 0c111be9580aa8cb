/* The WebDAV session: the per-connection context every method handler works on, and
 * the helpers they share (responses, request bodies, paths, preconditions, locks).
 * Private to webdav/. */
#ifndef FERRY_WEBDAV_SERVER_H
#define FERRY_WEBDAV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "gateway/buf.h"
#include "gateway/limits.h"
#include "gateway/session.h"
#include "gateway/vfs.h"
#include "webdav/conn.h"
#include "webdav/hdr.h"
#include "webdav/http.h"
#include "webdav/locks.h"

#define DAV_SERVER_NAME "ferry"
/* Locks: default and longest timeout (seconds). */
#define DAV_LOCK_TIMEOUT_DEFAULT 3600
#define DAV_LOCK_TIMEOUT_MAX (7 * 24 * 3600)
/* A request head must arrive completely within this many seconds (or login_timeout,
 * whichever is shorter): the slowloris bound. */
#define DAV_HEAD_TIMEOUT 30
/* Unread request bodies up to this size are read and dropped to keep the connection;
 * larger ones close it. */
#define DAV_DRAIN_MAX (1u << 20)

/* Front-end state built by init() in the parent. */
struct dav_srv {
    SSL_CTX *tls;
    char base[GW_MAX_PATH]; /* STATE/webdav: properties and locks */
};

/* HMAC-SHA256 of v under key, with *ctx kept between calls (NULL at first; free it with
 * EVP_MAC_CTX_free): the one-shot HMAC() looks the algorithm up on every call, a cost
 * each request of a keep-alive connection paid. 0, or -1 when OpenSSL fails. */
int dav_cred_mac(EVP_MAC_CTX **ctx, const unsigned char key[32], const char *v, size_t n,
                 unsigned char out[32]);

struct dav_ctx {
    struct gw_session *s;
    const struct gw_config *cfg;
    const struct dav_srv *srv;
    struct dav_conn c;
    struct vfs *vfs;
    /* Basic credentials verified on this connection: a keyed hash of the header. */
    unsigned char cred_key[32], cred_mac[32];
    bool have_cred;
    EVP_MAC_CTX *cred_ctx; /* HMAC-SHA256 keyed with cred_key, set up on first use */
    unsigned fails;
    /* The current request. */
    char *head; /* a copy of the request head, which req points into */
    struct dav_http_req req;
    char path[GW_MAX_PATH]; /* the request-URI as a normalised virtual path */
    bool slash;             /* the request-URI ended with '/' */
    const char *host;       /* Host field (may be NULL for HTTP/1.0) */
    size_t hostlen;
    bool close;         /* close the connection after this response */
    bool continued;     /* 100 Continue sent (or not needed) */
    bool body_done;     /* the request body was read completely */
    uint64_t body_left; /* Content-Length bytes still unread */
    struct dav_chunked ch;
    struct dav_if ifh;
    bool have_if;
    int status;                  /* the response's status, for the log */
    char *iobuf;                 /* GW_IO_CHUNK bytes for file transfers */
    struct dav_locks *lockcache; /* the lock set, loaded once per PROPFIND (lockops.c) */
    int64_t date_t;              /* the second x->date was formatted for */
    char date[DAV_DATE_LEN + 1];
};

/* ---- server.c ---- */
const char *dav_status_text(int status);
/* Status line, Date, Server and (when closing) Connection: close. */
int dav_resp_begin(struct dav_ctx *x, int status);
int dav_resp_header(struct dav_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "name: value" without printf: the headers every download carries. */
int dav_resp_field(struct dav_ctx *x, const char *name, const char *value);
/* Ends the head: len >= 0 writes Content-Length; DAV_LEN_STREAM announces a streamed
 * body (chunked for HTTP/1.1, close-delimited for HTTP/1.0); DAV_LEN_NONE writes no
 * length (304, 204, HEAD of a streamed body). 204 and 304 never get a length. */
#define DAV_LEN_STREAM (-1)
#define DAV_LEN_NONE (-2)
int dav_resp_end(struct dav_ctx *x, int64_t len);
/* A complete response with a small body (HEAD: the head only). */
int dav_resp_simple(struct dav_ctx *x, int status, const char *ctype, const char *body, size_t len);
/* An error response with a short text body; adds WWW-Authenticate to 401 and Allow to
 * 405. */
int dav_resp_error(struct dav_ctx *x, int status);
/* An error with a DAV:error body naming a precondition (RFC 4918 section 16). */
int dav_resp_dav_error(struct dav_ctx *x, int status, const char *condition);
/* Maps a GW_ERR_* of a vfs call to an HTTP status. */
int dav_status_from_err(int err);
/* Maps a failure of the lock or property store to an HTTP status: 503 when it could
 * not be asked (shared state database down or busy), 507 when the state would not fit,
 * else 500. */
int dav_state_status(int err);

/* A streamed body (multistatus, HTML index): write into b, call dav_stream_flush after
 * each piece; dav_stream_end finishes it. */
struct dav_stream {
    struct dav_ctx *x;
    struct gw_buf b;
    bool chunked;
    int err;
};
int dav_stream_begin(struct dav_stream *st, struct dav_ctx *x, int status, const char *ctype);
int dav_stream_flush(struct dav_stream *st, bool force);
int dav_stream_end(struct dav_stream *st);

/* Request bodies. */
bool dav_body_present(const struct dav_ctx *x);
/* Reads up to n body bytes (sending 100 Continue first when the client waits for it).
 * Returns bytes, 0 at the end of the body, or a GW_ERR_* (GW_ERR_PROTO: bad chunked
 * framing; others: the connection failed). */
ssize_t dav_body_read(struct dav_ctx *x, void *buf, size_t n);
/* Reads the whole body into b (at most max bytes: GW_ERR_LIMIT beyond). */
int dav_body_slurp(struct dav_ctx *x, struct gw_buf *b, size_t max);
struct dav_xml_doc;
/* Reads and parses an XML request body (at most GW_MAX_XML_BODY); *d is NULL for an
 * empty one. Returns 0 or the status to answer (400, 413, 500). */
int dav_read_xml(struct dav_ctx *x, struct dav_xml_doc **d);

/* The server-relative key of a virtual path (home joined with it), for props and
 * locks. */
int dav_key(const struct dav_ctx *x, const char *vpath, char *out, size_t outsz);
/* Maps a Destination field to a virtual path: 0, or the status to answer (400, 502). */
int dav_destination(struct dav_ctx *x, char *out, size_t outsz);

/* RFC 9110 section 13.2.2 preconditions (If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since) for the resource st (NULL: it does not exist). Returns 0 to
 * proceed or the status to answer (304, 412). */
int dav_preconditions(struct dav_ctx *x, const struct vfs_stat *st);

/* Audit helper: an event without a file handle. */
void dav_audit(struct dav_ctx *x, const char *event, const char *path, const char *path2, int err);

/* ---- lockops.c ---- */
/* Evaluates the If header (x->ifh): 0 when absent or true, else 412. */
int dav_if_check(struct dav_ctx *x);
#define DAV_LC_SUBTREE 1u /* the request affects everything below vpath too */
#define DAV_LC_PARENT 2u  /* the request adds or removes vpath in its parent collection */
/* Checks that every lock affected by a change of vpath has its token submitted (in the
 * If header, by the lock's own user). Returns 0, 423, or 500 when the lock database is
 * unreadable. */
int dav_lock_check(struct dav_ctx *x, const char *vpath, unsigned flags);
/* Drops every lock rooted at vpath or below (after DELETE, and MOVE's source). */
void dav_locks_forget(struct dav_ctx *x, const char *vpath);
/* Appends the DAV:lockdiscovery content for vpath (its active locks) to b. The lock set
 * is read once per request and kept in x->lockcache until dav_lockcache_drop. */
int dav_lockdiscovery(struct dav_ctx *x, const char *vpath, struct gw_buf *b);
void dav_lockcache_drop(struct dav_ctx *x);
int dav_m_lock(struct dav_ctx *x);
int dav_m_unlock(struct dav_ctx *x);

/* ---- methods.c ---- */
int dav_m_options(struct dav_ctx *x);
int dav_m_get(struct dav_ctx *x);
int dav_m_put(struct dav_ctx *x);
int dav_m_patch(struct dav_ctx *x);
int dav_m_delete(struct dav_ctx *x);
int dav_m_mkcol(struct dav_ctx *x);
int dav_m_copy(struct dav_ctx *x);
int dav_m_move(struct dav_ctx *x);
/* Removes a file or a whole collection; failures of members are appended to ms as
 * multistatus responses (ms may be NULL). Returns 0 or the first error. */
int dav_remove_tree(struct dav_ctx *x, const char *vpath, struct gw_buf *ms);

/* ---- propfind.c ---- */
int dav_m_propfind(struct dav_ctx *x);
int dav_m_proppatch(struct dav_ctx *x);
/* The Content-Type served for a file name. */
const char *dav_content_type(const char *name);

/* ---- index.c ---- */
/* Answers GET/HEAD on a collection with its HTML index. */
int dav_index(struct dav_ctx *x, const struct vfs_stat *st);

#endif
