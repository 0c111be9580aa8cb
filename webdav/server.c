/* The WebDAV front end's session: the keep-alive request loop, authentication,
 * dispatch through the method table, responses and request bodies (server.h). */
#include "webdav/server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>

#include "gateway/err.h"
#include "gateway/keys.h"
#include "gateway/log.h"
#include "gateway/path.h"
#include "webdav/dav.h"
#include "webdav/davxml.h"
#include "webdav/upload.h"
#include "webdav/uri.h"

#define M_WRITE 1u /* modifies the tree: refused on a read-only view */
#define M_BODY 2u  /* the handler reads the request body itself */

struct dav_method {
    const char *name;
    int (*fn)(struct dav_ctx *x);
    unsigned flags;
};

/* Permission checks happen once, here, before any handler runs. HEAD, PUT, PATCH and
 * DELETE go through upload.c, which serves the resumable-upload draft's requests and
 * hands every other one to methods.c. */
static const struct dav_method methods[] = {
    {"OPTIONS", dav_m_options, 0},
    {"GET", dav_m_get, 0},
    {"HEAD", dav_upload_head, 0},
    {"PUT", dav_upload_put, M_WRITE | M_BODY},
    {"PATCH", dav_upload_patch, M_WRITE | M_BODY},
    {"DELETE", dav_upload_delete, M_WRITE},
    {"MKCOL", dav_m_mkcol, M_WRITE | M_BODY},
    {"COPY", dav_m_copy, M_WRITE},
    {"MOVE", dav_m_move, M_WRITE},
    {"PROPFIND", dav_m_propfind, M_BODY},
    {"PROPPATCH", dav_m_proppatch, M_WRITE | M_BODY},
    {"LOCK", dav_m_lock, M_WRITE | M_BODY},
    {"UNLOCK", dav_m_unlock, M_WRITE},
};

#define ALLOW                                                                                      \
    "OPTIONS, GET, HEAD, PUT, PATCH, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, "       \
    "UNLOCK"

const char *dav_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 207:
        return "Multi-Status";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 423:
        return "Locked";
    case 424:
        return "Failed Dependency";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    }
    return "Unknown";
}

int dav_status_from_err(int err)
{
    switch (err) {
    case GW_ERR_NOENT:
        return 404;
    case GW_ERR_EXIST:
        return 412;
    case GW_ERR_PERM:
    case GW_ERR_ROFS:
    case GW_ERR_ESCAPE:
    case GW_ERR_BUSY:
        return 403;
    case GW_ERR_NOTDIR:
        return 409;
    case GW_ERR_ISDIR:
        return 405;
    case GW_ERR_NOTEMPTY:
        return 409;
    case GW_ERR_NOSPC:
        return 507;
    case GW_ERR_TOOLONG:
    case GW_ERR_INVAL:
        return 400;
    case GW_ERR_RANGE:
        return 416;
    case GW_ERR_NOTSUP:
        return 501;
    case GW_ERR_UPSTREAM:
        return 502;
    case GW_ERR_AGAIN:
    case GW_ERR_TIMEOUT:
        return 503;
    }
    return 500;
}

int dav_state_status(int err)
{
    switch (err) {
    case GW_ERR_IO:
    case GW_ERR_AGAIN:
    case GW_ERR_TIMEOUT:
    case GW_ERR_BUSY:
        return 503;
    case GW_ERR_NOSPC:
        return 507;
    }
    return 500;
}

/* Whether the connection must close after this response: an unread body we cannot (or
 * should not) skip. */
static void decide_close(struct dav_ctx *x)
{
    if (x->body_done)
        return;
    if (!x->continued || x->req.body == DAV_BODY_CHUNKED || x->body_left > DAV_DRAIN_MAX)
        x->close = true;
}

int dav_resp_begin(struct dav_ctx *x, int status)
{
    int64_t now = (int64_t)time(NULL);
    x->status = status;
    decide_close(x);
    if (now != x->date_t) { /* formatted once a second, not once a response */
        x->date_t = now;
        dav_date_format(now, x->date);
    }
    /* Every response starts so: written piece by piece, no printf. */
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), ' '};
    const char *text = dav_status_text(status);
    int rc = dav_conn_write(&x->c, "HTTP/1.1 ", 9);
    if (rc == 0)
        rc = dav_conn_write(&x->c, code, 4);
    if (rc == 0)
        rc = dav_conn_write(&x->c, text, strlen(text));
    if (rc == 0)
        rc = dav_conn_write(&x->c, "\r\nDate: ", 8);
    if (rc == 0)
        rc = dav_conn_write(&x->c, x->date, strlen(x->date));
    if (rc == 0)
        rc = dav_conn_write(&x->c, "\r\nServer: " DAV_SERVER_NAME "\r\n",
                            sizeof "\r\nServer: " DAV_SERVER_NAME "\r\n" - 1);
    return rc;
}

int dav_resp_field(struct dav_ctx *x, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl + vl + 4 > GW_MAX_PATH * 3 + 256)
        return GW_ERR_TOOLONG; /* the bound dav_resp_header has */
    int rc = dav_conn_write(&x->c, name, nl);
    if (rc == 0)
        rc = dav_conn_write(&x->c, ": ", 2);
    if (rc == 0)
        rc = dav_conn_write(&x->c, value, vl);
    if (rc == 0)
        rc = dav_conn_write(&x->c, "\r\n", 2);
    return rc;
}

int dav_resp_header(struct dav_ctx *x, const char *fmt, ...)
{
    char tmp[GW_MAX_PATH * 3 + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp - 2)
        return GW_ERR_TOOLONG;
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    return dav_conn_write(&x->c, tmp, (size_t)n);
}

int dav_resp_end(struct dav_ctx *x, int64_t len)
{
    int rc = 0;
    if (len == DAV_LEN_STREAM && x->req.minor == 0)
        x->close = true; /* an HTTP/1.0 body without a length ends with the connection */
    if (x->close)
        rc = dav_conn_write(&x->c, "Connection: close\r\n", 19);
    else if (x->req.minor == 0)
        rc = dav_conn_write(&x->c, "Connection: keep-alive\r\n", 24);
    if (x->status == 204 || x->status == 304 || x->status < 200)
        len = DAV_LEN_NONE; /* these never have a body, nor a Content-Length */
    if (rc == 0 && len == DAV_LEN_NONE)
        rc = dav_conn_write(&x->c, "\r\n", 2);
    else if (rc == 0 && len >= 0) {
        char d[GW_I64_DEC_MAX];
        size_t n = gw_i64_dec(len, d);
        rc = dav_conn_write(&x->c, "Content-Length: ", 16);
        if (rc == 0)
            rc = dav_conn_write(&x->c, d, n);
        if (rc == 0)
            rc = dav_conn_write(&x->c, "\r\n\r\n", 4);
    }
    else if (rc == 0 && x->req.minor == 1)
        rc = dav_conn_write(&x->c, "Transfer-Encoding: chunked\r\n\r\n", 30);
    else if (rc == 0)
        rc = dav_conn_write(&x->c, "\r\n", 2);
    return rc;
}

static bool is_head(const struct dav_ctx *x)
{
    return dav_http_method_is(&x->req, "HEAD");
}

int dav_resp_simple(struct dav_ctx *x, int status, const char *ctype, const char *body, size_t len)
{
    int rc = dav_resp_begin(x, status);
    if (rc == 0 && ctype)
        rc = dav_resp_field(x, "Content-Type", ctype);
    if (rc == 0)
        rc = dav_resp_end(x, (int64_t)len);
    if (rc == 0 && len && !is_head(x))
        rc = dav_conn_write(&x->c, body, len);
    return rc;
}

int dav_resp_error(struct dav_ctx *x, int status)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, dav_status_text(status));
    int rc = dav_resp_begin(x, status);
    if (rc == 0 && status == 401)
        rc = dav_resp_header(x, "WWW-Authenticate: Basic realm=\"ferry\", charset=\"UTF-8\"");
    if (rc == 0 && (status == 405 || status == 501))
        rc = dav_resp_header(x, "Allow: " ALLOW);
    if (rc == 0 && (status == 503 || status == 429))
        rc = dav_resp_header(x, "Retry-After: 5");
    bool empty = status == 204 || status == 304;
    if (rc == 0 && !empty)
        rc = dav_resp_header(x, "Content-Type: text/plain; charset=utf-8");
    if (rc == 0)
        rc = dav_resp_end(x, empty ? DAV_LEN_NONE : n);
    if (rc == 0 && !empty && !is_head(x))
        rc = dav_conn_write(&x->c, body, (size_t)n);
    return rc;
}

int dav_resp_dav_error(struct dav_ctx *x, int status, const char *condition)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                     "<D:error xmlns:D=\"DAV:\"><D:%s/></D:error>\n",
                     condition);
    return dav_resp_simple(x, status, "application/xml; charset=utf-8", body, (size_t)n);
}

int dav_stream_begin(struct dav_stream *st, struct dav_ctx *x, int status, const char *ctype)
{
    st->x = x;
    st->err = 0;
    gw_buf_init(&st->b, 16u << 20);
    int rc = dav_resp_begin(x, status);
    if (rc == 0)
        rc = dav_resp_field(x, "Content-Type", ctype);
    if (rc == 0)
        rc = dav_resp_end(x, DAV_LEN_STREAM);
    st->chunked = x->req.minor == 1;
    st->err = rc;
    return rc;
}

int dav_stream_flush(struct dav_stream *st, bool force)
{
    if (st->err)
        return st->err;
    if (st->b.len == 0 || (!force && st->b.len < 32768))
        return 0;
    int rc = 0;
    if (st->chunked)
        rc = dav_conn_printf(&st->x->c, "%zx\r\n", st->b.len);
    if (rc == 0)
        rc = dav_conn_send(&st->x->c, st->b.data, st->b.len);
    if (rc == 0 && st->chunked)
        rc = dav_conn_write(&st->x->c, "\r\n", 2);
    gw_buf_reset(&st->b);
    st->err = rc;
    return rc;
}

int dav_stream_end(struct dav_stream *st)
{
    int rc = dav_stream_flush(st, true);
    if (rc == 0 && st->chunked)
        rc = dav_conn_write(&st->x->c, "0\r\n\r\n", 5);
    gw_buf_free(&st->b);
    return rc;
}

bool dav_body_present(const struct dav_ctx *x)
{
    return x->req.body == DAV_BODY_CHUNKED ||
           (x->req.body == DAV_BODY_LENGTH && x->req.content_length > 0);
}

ssize_t dav_body_read(struct dav_ctx *x, void *buf, size_t n)
{
    if (x->body_done || n == 0)
        return 0;
    if (!x->continued) {
        /* The client waits for this before sending: every check has passed. */
        int rc = dav_conn_write(&x->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        if (rc == 0)
            rc = dav_conn_flush(&x->c);
        if (rc < 0)
            return rc;
        x->continued = true;
    }
    if (x->req.body == DAV_BODY_LENGTH) {
        size_t want = x->body_left < n ? (size_t)x->body_left : n;
        ssize_t r = dav_conn_read(&x->c, buf, want);
        if (r <= 0)
            return r == 0 ? GW_ERR_IO : r; /* the client left before the end */
        x->body_left -= (uint64_t)r;
        if (x->body_left == 0)
            x->body_done = true;
        return r;
    }
    for (;;) {
        size_t avail = x->c.in_len - x->c.in_off;
        if (avail == 0) {
            ssize_t r = dav_conn_fill(&x->c);
            if (r <= 0)
                return r == 0 ? GW_ERR_IO : r;
            continue;
        }
        size_t used, off, dl, lim = avail < n ? avail : n;
        const char *in = x->c.in + x->c.in_off;
        if (dav_chunked_decode(&x->ch, in, lim, &used, &off, &dl) < 0)
            return GW_ERR_PROTO;
        memcpy(buf, in + off, dl);
        dav_conn_consume(&x->c, used);
        if (dav_chunked_done(&x->ch))
            x->body_done = true;
        if (dl)
            return (ssize_t)dl;
        if (x->body_done)
            return 0;
    }
}

int dav_body_slurp(struct dav_ctx *x, struct gw_buf *b, size_t max)
{
    char tmp[16384];
    if (x->req.body == DAV_BODY_LENGTH && x->req.content_length > max)
        return GW_ERR_LIMIT;
    for (;;) {
        ssize_t r = dav_body_read(x, tmp, sizeof tmp);
        if (r == 0)
            return 0;
        if (r < 0)
            return (int)r;
        if ((size_t)r > max - b->len)
            return GW_ERR_LIMIT;
        if (gw_buf_append(b, tmp, (size_t)r) < 0)
            return GW_ERR_NOMEM;
    }
}

/* Reads and parses an XML request body; d is NULL for an empty body. Returns 0 or the
 * status to answer. */
int dav_read_xml(struct dav_ctx *x, struct dav_xml_doc **d)
{
    struct gw_buf b;
    *d = NULL;
    gw_buf_init(&b, GW_MAX_XML_BODY);
    int rc = dav_body_slurp(x, &b, GW_MAX_XML_BODY);
    int status = 0;
    if (rc == GW_ERR_LIMIT) {
        x->close = true;
        status = 413;
    } else if (rc < 0) {
        x->close = true;
        status = 400;
    } else {
        size_t i = 0;
        while (i < b.len &&
               (b.data[i] == ' ' || b.data[i] == '\t' || b.data[i] == '\r' || b.data[i] == '\n'))
            i++;
        if (i < b.len) {
            rc = dav_xml_parse(b.data, b.len, d);
            if (rc < 0)
                status = rc == GW_ERR_NOMEM ? 500 : rc == GW_ERR_LIMIT ? 413 : 400;
        }
    }
    gw_buf_free(&b);
    return status;
}

/* Reads and drops what is left of the body (at most DAV_DRAIN_MAX). */
static int body_drain(struct dav_ctx *x)
{
    uint64_t total = 0;
    while (!x->body_done) {
        ssize_t r = dav_body_read(x, x->iobuf, GW_IO_CHUNK);
        if (r <= 0)
            return r == 0 ? 0 : (int)r;
        total += (uint64_t)r;
        if (total > DAV_DRAIN_MAX)
            return GW_ERR_LIMIT;
    }
    return 0;
}

int dav_key(const struct dav_ctx *x, const char *vpath, char *out, size_t outsz)
{
    const char *home = x->s->home[0] ? x->s->home : "/";
    int n;
    if (strcmp(home, "/") == 0)
        n = snprintf(out, outsz, "%s", vpath);
    else if (strcmp(vpath, "/") == 0)
        n = snprintf(out, outsz, "%s", home);
    else
        n = snprintf(out, outsz, "%s%s", home, vpath);
    return n < 0 || (size_t)n >= outsz ? GW_ERR_TOOLONG : 0;
}

int dav_destination(struct dav_ctx *x, char *out, size_t outsz)
{
    size_t n;
    const char *v = dav_http_field(&x->req, "destination", &n);
    if (!v || n == 0)
        return 400;
    int rc = dav_uri_to_path(v, n, x->host, x->hostlen, out, outsz, NULL);
    if (rc == GW_ERR_ESCAPE)
        return 502;
    return rc < 0 ? 400 : 0;
}

int dav_preconditions(struct dav_ctx *x, const struct vfs_stat *st)
{
    char etag[DAV_ETAG_MAX];
    size_t n;
    const char *v;
    int64_t t;
    bool safe = dav_http_method_is(&x->req, "GET") || is_head(x);
    if (st)
        dav_etag(st, etag);
    if ((v = dav_http_field(&x->req, "if-match", &n))) {
        if (dav_etag_match(v, n, st ? etag : NULL, false) != 1)
            return 412;
    } else if (st && (v = dav_http_field(&x->req, "if-unmodified-since", &n)) &&
               dav_date_parse(v, n, &t) == 0 && st->mtime > t) {
        return 412;
    }
    if ((v = dav_http_field(&x->req, "if-none-match", &n))) {
        int r = dav_etag_match(v, n, st ? etag : NULL, true);
        if (r == 1)
            return safe ? 304 : 412;
    } else if (safe && st && (v = dav_http_field(&x->req, "if-modified-since", &n)) &&
               dav_date_parse(v, n, &t) == 0 && st->mtime <= t) {
        return 304;
    }
    return 0;
}

void dav_audit(struct dav_ctx *x, const char *event, const char *path, const char *path2, int err)
{
    struct audit_record r;
    audit_record_init(&r);
    r.event = event;
    r.path = path;
    r.path2 = path2;
    r.status = err ? "failed" : "ok";
    r.error = err ? gw_strerror(err) : NULL;
    gw_session_audit(x->s, &r);
}

/* ---- authentication ---- */

int dav_cred_mac(EVP_MAC_CTX **ctx, const unsigned char key[32], const char *v, size_t n,
                 unsigned char out[32])
{
    size_t len = 0;
    if (!*ctx) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end()};
        *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        if (!*ctx || EVP_MAC_init(*ctx, key, 32, params) != 1)
            goto fail;
    } else if (EVP_MAC_init(*ctx, NULL, 0, NULL) != 1) { /* again, with the same key */
        goto fail;
    }
    if (EVP_MAC_update(*ctx, (const unsigned char *)v, n) == 1 &&
        EVP_MAC_final(*ctx, out, &len, 32) == 1 && len == 32)
        return 0;
fail:
    EVP_MAC_CTX_free(*ctx);
    *ctx = NULL;
    return -1;
}

static void cred_mac(struct dav_ctx *x, const char *v, size_t n, unsigned char out[32])
{
    /* On failure a fresh random value: it matches nothing, so the login is refused. */
    if (dav_cred_mac(&x->cred_ctx, x->cred_key, v, n, out) != 0 && getrandom(out, 32, 0) != 32)
        memset(out, 0xff, 32);
}

/* Returns 0 when the request may proceed (logged in, view open), 1 when a response was
 * sent instead. */
static int authenticate(struct dav_ctx *x)
{
    struct gw_session *s = x->s;
    size_t n;
    const char *v = dav_http_field(&x->req, "authorization", &n);
    int rc;
    if (!v) {
        if (s->logged_in && s->anonymous)
            goto ok;
        if (!s->logged_in && x->cfg->anonymous) {
            rc = gw_session_login_anonymous(s, "webdav");
            if (rc == GW_AUTH_OK)
                goto ok;
        }
        dav_resp_error(x, 401);
        return 1;
    }
    unsigned char mac[32];
    cred_mac(x, v, n, mac);
    if (s->logged_in) {
        /* One login per connection (the parent enforces it too); later requests must
         * carry the very credentials that logged in, compared in constant time. */
        if (!s->anonymous && x->have_cred && CRYPTO_memcmp(mac, x->cred_mac, 32) == 0)
            goto ok;
        x->close = true; /* another identity: the client must reconnect */
        dav_resp_error(x, 401);
        return 1;
    }
    char user[GW_MAX_USER_NAME + 1], pass[GW_MAX_PASSWORD + 1];
    rc = dav_basic_parse(v, n, user, sizeof user, pass, sizeof pass);
    if (rc < 0) {
        dav_resp_error(x, rc == GW_ERR_INVAL ? 401 : 400);
        return 1;
    }
    rc = gw_session_login_password(s, user, pass);
    explicit_bzero(pass, sizeof pass);
    if (rc == GW_AUTH_OK) {
        memcpy(x->cred_mac, mac, sizeof mac);
        x->have_cred = true;
        goto ok;
    }
    if (rc == GW_AUTH_THROTTLED || rc < 0) {
        x->close = true;
        dav_resp_error(x, rc < 0 ? 500 : 503);
        return 1;
    }
    if (++x->fails >= (unsigned)(x->cfg->max_login_fails > 0 ? x->cfg->max_login_fails : 5))
        x->close = true;
    dav_resp_error(x, 401);
    return 1;
ok:
    if (!x->vfs) {
        rc = gw_session_vfs(s, &x->vfs);
        if (rc < 0) {
            gw_log(GW_LOG_ERROR, "session %s: cannot open the file tree: %s", s->id,
                   gw_strerror(rc));
            x->close = true;
            dav_resp_error(x, 500);
            return 1;
        }
    }
    return 0;
}

/* ---- the request loop ---- */

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* Reads the next request head. Returns 1 with x->req parsed from x->head, 0 when the
 * connection ended (cleanly, idle timeout, stop), -1 after an error (answered when
 * possible). */
static int read_head(struct dav_ctx *x, bool first)
{
    struct dav_conn *c = &x->c;
    int idle_s = first ? x->cfg->login_timeout : x->cfg->idle_timeout;
    int head_s = min_int(DAV_HEAD_TIMEOUT,
                         x->cfg->login_timeout > 0 ? x->cfg->login_timeout : DAV_HEAD_TIMEOUT);
    c->idle = true;
    c->timeout_ms = (idle_s > 0 ? idle_s : GW_DEFAULT_IDLE_TIMEOUT) * 1000;
    c->deadline_ms = 0;
    for (;;) {
        size_t avail = c->in_len - c->in_off;
        if (avail) {
            int r = dav_http_parse(c->in + c->in_off, avail, &x->req);
            if (r > 0) {
                memcpy(x->head, c->in + c->in_off, (size_t)r);
                dav_conn_consume(c, (size_t)r);
                dav_http_parse(x->head, (size_t)r, &x->req);
                return 1;
            }
            if (r < 0) {
                int status = x->req.status;
                gw_log(GW_LOG_INFO, "session %s: bad request from %s: %s", x->s->id, x->s->remote,
                       x->req.why);
                memset(&x->req, 0, sizeof x->req);
                x->req.minor = 1;
                x->body_done = true;
                x->close = true;
                dav_resp_error(x, status);
                return -1;
            }
            if (c->idle) {
                /* The first byte of a request: the whole head must follow in time. */
                c->idle = false;
                c->timeout_ms = head_s * 1000;
                c->deadline_ms = gw_now_ms() + (int64_t)head_s * 1000;
            }
        }
        ssize_t n = dav_conn_fill(c);
        if (n > 0)
            continue;
        if (n == GW_ERR_TIMEOUT && !c->idle) {
            memset(&x->req, 0, sizeof x->req);
            x->req.minor = 1;
            x->body_done = true;
            x->close = true;
            c->failed = false;
            c->deadline_ms = gw_now_ms() + 1000; /* a short grace to say why */
            dav_resp_error(x, 408);
            return -1;
        }
        return n == 0 || n == GW_ERR_AGAIN || n == GW_ERR_TIMEOUT ? 0 : -1;
    }
}

static void begin_request(struct dav_ctx *x)
{
    x->close = !x->req.keep_alive || gw_session_stopping();
    x->continued = !x->req.expect_continue;
    x->body_done = !dav_body_present(x);
    x->body_left = x->req.body == DAV_BODY_LENGTH ? x->req.content_length : 0;
    dav_chunked_init(&x->ch);
    x->have_if = false;
    x->status = 0;
    x->path[0] = '\0';
    x->slash = false;
    x->host = dav_http_field(&x->req, "host", &x->hostlen);
    /* Bodies and responses: no progress for data_timeout ends the connection. */
    x->c.idle = false;
    x->c.deadline_ms = 0;
    x->c.timeout_ms = (x->cfg->data_timeout > 0 ? x->cfg->data_timeout : 60) * 1000;
}

static void handle(struct dav_ctx *x)
{
    const struct dav_method *m = NULL;
    size_t n;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (dav_http_method_is(&x->req, methods[i].name))
            m = &methods[i];
    if (!m) {
        dav_resp_error(x, 501);
        return;
    }
    if (x->req.target_len == 1 && x->req.target[0] == '*') {
        if (m->fn != dav_m_options) {
            dav_resp_error(x, 400);
            return;
        }
        memcpy(x->path, "/", 2);
    } else {
        int rc = dav_uri_to_path(x->req.target, x->req.target_len, x->host, x->hostlen, x->path,
                                 sizeof x->path, &x->slash);
        if (rc < 0) {
            dav_resp_error(x, rc == GW_ERR_TOOLONG ? 414 : 400);
            return;
        }
    }
    const char *v = dav_http_field(&x->req, "if", &n);
    if (v) {
        if (dav_if_parse(v, n, &x->ifh) < 0) {
            dav_resp_error(x, 400);
            return;
        }
        x->have_if = true;
    }
    if (authenticate(x))
        return;
    if ((m->flags & M_WRITE) && vfs_read_only(x->vfs)) {
        /* Anonymous: ask for credentials; a read-only user: refuse. */
        if (x->s->anonymous)
            x->close = true;
        dav_resp_error(x, x->s->anonymous ? 401 : 403);
        return;
    }
    if (!(m->flags & M_BODY) && !x->body_done) {
        int rc = body_drain(x);
        if (rc < 0) {
            x->close = true;
            dav_resp_error(x, rc == GW_ERR_LIMIT ? 413 : 400);
            return;
        }
    }
    m->fn(x);
}

static void end_request(struct dav_ctx *x)
{
    dav_lockcache_drop(x);
    if (!x->close && !x->body_done && body_drain(x) < 0)
        x->close = true;
    if (!x->close && !x->body_done)
        x->close = true;
    if (dav_conn_flush(&x->c) < 0)
        x->close = true;
    gw_log(GW_LOG_DEBUG, "session %s: %.*s %.*s -> %d", x->s->id, (int)x->req.method_len,
           x->req.method, (int)(x->req.target_len > 200 ? 200 : x->req.target_len), x->req.target,
           x->status);
}

static int dav_serve(struct gw_session *s, void *state)
{
    struct dav_ctx x;
    const struct dav_srv *srv = state;
    int rc;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.cfg = s->cfg;
    x.srv = srv;
    x.head = malloc(DAV_CONN_IN_CAP);
    x.iobuf = malloc(GW_IO_CHUNK);
    if (!x.head || !x.iobuf || getrandom(x.cred_key, sizeof x.cred_key, 0) != sizeof x.cred_key)
        goto out;
    int hs = x.cfg->login_timeout > 0 ? x.cfg->login_timeout : GW_DEFAULT_LOGIN_TIMEOUT;
    rc = dav_conn_open(&x.c, srv->tls, s->fd, min_int(hs, DAV_HEAD_TIMEOUT) * 1000);
    if (rc < 0) {
        gw_log(GW_LOG_DEBUG, "session %s: TLS handshake with %s failed: %s", s->id, s->remote,
               gw_strerror(rc));
        goto out;
    }
    for (bool first = true;; first = false) {
        rc = read_head(&x, first);
        if (rc <= 0)
            break;
        begin_request(&x);
        handle(&x);
        end_request(&x);
        if (x.close || x.c.failed || x.c.eof || gw_session_stopping())
            break;
    }
    if (!x.c.failed && !x.c.eof && (!x.body_done || x.c.in_len > x.c.in_off))
        dav_conn_linger(&x.c, 2000, 4u << 20);
out:
    dav_conn_close(&x.c);
    if (x.vfs)
        vfs_free(x.vfs);
    explicit_bzero(x.cred_key, sizeof x.cred_key);
    EVP_MAC_CTX_free(x.cred_ctx);
    free(x.head);
    free(x.iobuf);
    return 0;
}

static int dav_init(const struct gw_config *cfg, const struct gw_keys *keys, void **state)
{
    char err[512];
    struct dav_srv *srv = calloc(1, sizeof *srv);
    *state = NULL;
    if (!srv)
        return GW_ERR_NOMEM;
    int n = snprintf(srv->base, sizeof srv->base, "%s/webdav", cfg->state);
    if (n < 0 || (size_t)n >= sizeof srv->base) {
        free(srv);
        return GW_ERR_TOOLONG;
    }
    if (mkdir(srv->base, 0700) != 0 && errno != EEXIST) {
        gw_log(GW_LOG_ERROR, "webdav: cannot create %s: %s", srv->base, strerror(errno));
        free(srv);
        return gw_err_from_errno(errno);
    }
    int rc = dav_tls_ctx_new(keys->tls_cert_path, keys->tls_key_path, &srv->tls, err, sizeof err);
    if (rc < 0) {
        gw_log(GW_LOG_ERROR, "webdav: %s", err);
        free(srv);
        return rc;
    }
    *state = srv;
    return 0;
}

static void dav_dispose(void *state)
{
    struct dav_srv *srv = state;
    if (!srv)
        return;
    SSL_CTX_free(srv->tls);
    free(srv);
}

const struct gw_frontend gw_webdav_frontend = {
    .name = "webdav",
    .init = dav_init,
    .serve = dav_serve,
    .dispose = dav_dispose,
    /* A TLS port cannot be answered in plain text: a refused connection is just closed. */
    .refuse_message = NULL,
};
