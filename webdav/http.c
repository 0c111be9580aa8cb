/* The strict HTTP/1.1 request parser and chunked decoder (http.h). The head parser
 * re-parses from the start of the buffer on each call, like picohttpparser: heads are
 * small and a stateless parser cannot be confused by how bytes were split. */
#include "webdav/http.h"

#include <string.h>
#include <strings.h>

#include "gateway/err.h"

#ifdef DAV_HTTP_TRACE
#include <stdio.h>
#endif

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB, obs-text included. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool dav_ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && strncasecmp(s, lit, n) == 0;
}

bool dav_list_has(const char *s, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t b = i;
        while (i < n && s[i] != ',')
            i++;
        size_t e = i;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > b && dav_ieq(s + b, e - b, tok))
            return true;
    }
    return false;
}

static int fail(struct dav_http_req *req, int status, const char *why)
{
    req->status = status;
    req->why = why;
    return GW_ERR_PROTO;
}

/* Finds the end of the line starting at p (the index of its LF) in buf[p..len), checking
 * that the line holds no CR except right before the LF. Returns 1 and *lf, 0 when the
 * line is incomplete, -1 on a bare CR or bare LF. */
static int line_end(const char *buf, size_t p, size_t len, size_t *lf)
{
    for (size_t i = p; i < len; i++) {
        if (buf[i] == '\n') {
            if (i == p || buf[i - 1] != '\r')
                return -1;
            *lf = i;
            return 1;
        }
        if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
            return -1;
    }
    return 0;
}

static int parse_request_line(const char *l, size_t n, struct dav_http_req *req)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ' ')
        return fail(req, 400, "malformed request line");
    if (i > DAV_HTTP_MAX_METHOD)
        return fail(req, 501, "method name too long");
    req->method = l;
    req->method_len = i;
    size_t t = ++i;
    while (i < n && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
        i++;
    if (i == t || i >= n || l[i] != ' ')
        return fail(req, 400, "malformed request target");
    req->target = l + t;
    req->target_len = i - t;
    const char *v = l + i + 1;
    size_t vn = n - i - 1;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return fail(req, 400, "malformed HTTP version");
    if (v[5] != '1')
        return fail(req, 505, "HTTP version not supported");
    req->minor = v[7] == '0' ? 0 : 1;
    return 0;
}

static int parse_field(const char *l, size_t n, struct dav_http_req *req)
{
    size_t i = 0;
    if (l[0] == ' ' || l[0] == '\t')
        return fail(req, 400, "obsolete line folding");
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= n || l[i] != ':')
        return fail(req, 400,
                    i < n && (l[i] == ' ' || l[i] == '\t') ? "whitespace before colon"
                                                           : "malformed header field");
    if (req->nfields == GW_MAX_HTTP_HEADER_COUNT)
        return fail(req, 431, "too many header fields");
    struct dav_http_field *f = &req->fields[req->nfields++];
    f->name = l;
    f->name_len = i;
    size_t b = i + 1, e = n;
    for (size_t k = b; k < e; k++)
        if (!is_value_char((unsigned char)l[k]))
            return fail(req, 400, "control character in header field");
    while (b < e && (l[b] == ' ' || l[b] == '\t'))
        b++;
    while (e > b && (l[e - 1] == ' ' || l[e - 1] == '\t'))
        e--;
    f->value = l + b;
    f->value_len = e - b;
    return 0;
}

const char *dav_http_field(const struct dav_http_req *req, const char *name, size_t *len)
{
    for (size_t i = 0; i < req->nfields; i++)
        if (dav_ieq(req->fields[i].name, req->fields[i].name_len, name)) {
            if (len)
                *len = req->fields[i].value_len;
            return req->fields[i].value;
        }
    if (len)
        *len = 0;
    return NULL;
}

size_t dav_http_field_count(const struct dav_http_req *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nfields; i++)
        n += dav_ieq(req->fields[i].name, req->fields[i].name_len, name);
    return n;
}

bool dav_http_method_is(const struct dav_http_req *req, const char *m)
{
    size_t n = strlen(m);
    return req->method_len == n && memcmp(req->method, m, n) == 0;
}

/* Transfer-Encoding over every field of that name: only a lone "chunked" is accepted. */
static int check_te(struct dav_http_req *req)
{
    size_t ncodings = 0;
    bool chunked_last = false;
    for (size_t k = 0; k < req->nfields; k++) {
        const struct dav_http_field *f = &req->fields[k];
        if (!dav_ieq(f->name, f->name_len, "transfer-encoding"))
            continue;
        const char *s = f->value;
        size_t n = f->value_len, i = 0;
        while (i < n) {
            while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
                i++;
            size_t b = i;
            while (i < n && s[i] != ',')
                i++;
            size_t e = i;
            while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
            if (e == b)
                continue;
            if (chunked_last)
                return fail(req, 400, "chunked is not the final transfer coding");
            ncodings++;
            chunked_last = dav_ieq(s + b, e - b, "chunked");
        }
    }
    if (ncodings == 0)
        return fail(req, 400, "empty Transfer-Encoding");
    if (!chunked_last)
        return fail(req, ncodings == 1 ? 501 : 400, "unsupported transfer coding");
    if (ncodings > 1)
        return fail(req, 501, "unsupported transfer coding");
    req->body = DAV_BODY_CHUNKED;
    return 0;
}

static int check_length(struct dav_http_req *req, const char *v, size_t n)
{
    uint64_t x = 0;
    if (n == 0)
        return fail(req, 400, "empty Content-Length");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(req, 400, "invalid Content-Length");
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_C(0x7fffffffffffffff) - d) / 10)
            return fail(req, 413, "Content-Length too large");
        x = x * 10 + d;
    }
    req->body = DAV_BODY_LENGTH;
    req->content_length = x;
    return 0;
}

static bool host_valid(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("-._~%!$&'()*+,;=:[]", c)))
            return false;
    }
    return true;
}

/* Message framing and connection semantics, once the head is complete. */
static int check_semantics(struct dav_http_req *req)
{
    size_t n;
    size_t ncl = dav_http_field_count(req, "content-length");
    size_t nte = dav_http_field_count(req, "transfer-encoding");
    size_t nhost = dav_http_field_count(req, "host");
    const char *v;
    int rc;

    req->body = DAV_BODY_NONE;
    req->content_length = 0;
    if (ncl && nte)
        return fail(req, 400, "both Content-Length and Transfer-Encoding");
    if (ncl > 1)
        return fail(req, 400, "duplicate Content-Length");
    if (nte && req->minor == 0)
        return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (nte && (rc = check_te(req)) < 0)
        return rc;
    if (ncl && (v = dav_http_field(req, "content-length", &n)) &&
        (rc = check_length(req, v, n)) < 0)
        return rc;
    if (nhost > 1 || (req->minor == 1 && nhost == 0))
        return fail(req, 400, nhost ? "duplicate Host" : "missing Host");
    if (nhost && (v = dav_http_field(req, "host", &n)) && !host_valid(v, n))
        return fail(req, 400, "invalid Host");

    req->keep_alive = req->minor == 1;
    req->expect_continue = false;
    for (size_t k = 0; k < req->nfields; k++) {
        const struct dav_http_field *f = &req->fields[k];
        if (dav_ieq(f->name, f->name_len, "connection")) {
            if (dav_list_has(f->value, f->value_len, "close"))
                req->keep_alive = false;
            else if (req->minor == 0 && dav_list_has(f->value, f->value_len, "keep-alive"))
                req->keep_alive = true;
        } else if (dav_ieq(f->name, f->name_len, "expect")) {
            if (!dav_ieq(f->value, f->value_len, "100-continue"))
                return fail(req, 417, "unsupported expectation");
            req->expect_continue = req->minor == 1;
        }
    }
    /* A Connection: close anywhere wins over an earlier keep-alive. */
    for (size_t k = 0; k < req->nfields; k++)
        if (dav_ieq(req->fields[k].name, req->fields[k].name_len, "connection") &&
            dav_list_has(req->fields[k].value, req->fields[k].value_len, "close"))
            req->keep_alive = false;
    return 0;
}

int dav_http_parse(const char *buf, size_t len, struct dav_http_req *req)
{
    size_t p = 0, lf = 0, blank = 0;
    int r;

    memset(req, 0, offsetof(struct dav_http_req, fields));
    req->nfields = 0;
    req->head_len = 0;
    req->status = 0;
    req->why = NULL;
    /* Blank lines before the request line (a client's stray CRLF after a body). */
    while (p < len && (buf[p] == '\r' || buf[p] == '\n')) {
        if (buf[p] == '\n' || p + 1 >= len) {
            if (buf[p] == '\n')
                return fail(req, 400, "bare LF");
            return 0;
        }
        if (buf[p + 1] != '\n')
            return fail(req, 400, "bare CR");
        if (++blank > DAV_HTTP_MAX_BLANK)
            return fail(req, 400, "too many empty lines");
        p += 2;
    }
    size_t start = p;
    r = line_end(buf, p, len, &lf);
    if (r < 0)
        return fail(req, 400, "bare CR or LF in request line");
    if (r == 0)
        return len - start > GW_MAX_HTTP_LINE ? fail(req, 414, "request line too long") : 0;
    if (lf + 1 - start > GW_MAX_HTTP_LINE)
        return fail(req, 414, "request line too long");
    if ((r = parse_request_line(buf + start, lf - 1 - start, req)) < 0)
        return r;
    p = lf + 1;
    size_t hstart = p;
    for (;;) {
        r = line_end(buf, p, len, &lf);
        if (r < 0)
            return fail(req, 400, "bare CR or LF in header section");
        if (r == 0)
            return len - hstart > GW_MAX_HTTP_HEADERS ? fail(req, 431, "header section too large")
                                                      : 0;
        if (lf + 1 - hstart > GW_MAX_HTTP_HEADERS)
            return fail(req, 431, "header section too large");
        if (lf == p + 1) { /* the empty line */
            p = lf + 1;
            break;
        }
        if ((r = parse_field(buf + p, lf - 1 - p, req)) < 0)
            return r;
        p = lf + 1;
    }
    if ((r = check_semantics(req)) < 0)
        return r;
    req->head_len = p;
    return (int)p;
}

/* ---- chunked ---- */

static void set_state(struct dav_chunked *c, enum dav_chunked_state s)
{
#ifdef DAV_HTTP_TRACE
    fprintf(stderr, "chunked: %d -> %d\n", (int)c->state, (int)s);
#endif
    c->state = s;
}

static int chunk_fail(struct dav_chunked *c, int status)
{
    c->status = status;
    set_state(c, DAV_CH_ERROR);
    return GW_ERR_PROTO;
}

void dav_chunked_init(struct dav_chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = DAV_CH_SIZE;
}

bool dav_chunked_done(const struct dav_chunked *c)
{
    return c->state == DAV_CH_DONE;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int dav_chunked_decode(struct dav_chunked *c, const char *in, size_t len, size_t *used,
                       size_t *data_off, size_t *data_len)
{
    size_t i = 0;
    *used = 0;
    *data_off = 0;
    *data_len = 0;
    if (c->state == DAV_CH_ERROR)
        return GW_ERR_PROTO;
    while (i < len && c->state != DAV_CH_DONE) {
        unsigned char ch = (unsigned char)in[i];
        if (c->state == DAV_CH_DATA) {
            size_t take = len - i;
            if ((uint64_t)take > c->left)
                take = (size_t)c->left;
            *data_off = i;
            *data_len = take;
            c->left -= take;
            if (c->left == 0)
                set_state(c, DAV_CH_DATA_CR);
            *used = i + take;
            return 0;
        }
        i++;
        switch (c->state) {
        case DAV_CH_SIZE: {
            int h = hexval(ch);
            if (++c->line > GW_MAX_HTTP_LINE)
                return chunk_fail(c, 400);
            if (h >= 0) {
                if (c->digits == 16)
                    return chunk_fail(c, 413);
                c->left = c->left << 4 | (unsigned)h;
                c->digits++;
            } else if (c->digits == 0) {
                return chunk_fail(c, 400);
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                set_state(c, DAV_CH_EXT);
            } else if (ch == '\r') {
                set_state(c, DAV_CH_SIZE_LF);
            } else {
                return chunk_fail(c, 400);
            }
            if (c->left > UINT64_C(0x7fffffffffffffff))
                return chunk_fail(c, 413);
            break;
        }
        case DAV_CH_EXT:
            if (++c->line > GW_MAX_HTTP_LINE)
                return chunk_fail(c, 400);
            if (ch == '\r')
                set_state(c, DAV_CH_SIZE_LF);
            else if (!is_value_char(ch))
                return chunk_fail(c, 400);
            break;
        case DAV_CH_SIZE_LF:
            if (ch != '\n')
                return chunk_fail(c, 400);
            c->line = 0;
            c->digits = 0;
            set_state(c, c->left ? DAV_CH_DATA : DAV_CH_TRAILER);
            break;
        case DAV_CH_DATA_CR:
            if (ch != '\r')
                return chunk_fail(c, 400);
            set_state(c, DAV_CH_DATA_LF);
            break;
        case DAV_CH_DATA_LF:
            if (ch != '\n')
                return chunk_fail(c, 400);
            c->left = 0;
            set_state(c, DAV_CH_SIZE);
            break;
        case DAV_CH_TRAILER:
            if (++c->trailer > GW_MAX_HTTP_HEADERS)
                return chunk_fail(c, 431);
            if (ch == '\r')
                set_state(c, DAV_CH_FINAL_LF);
            else if (is_tchar(ch))
                set_state(c, DAV_CH_TRAILER_LINE);
            else
                return chunk_fail(c, 400); /* obs-fold, or not a field name */
            break;
        case DAV_CH_TRAILER_LINE:
            if (++c->trailer > GW_MAX_HTTP_HEADERS)
                return chunk_fail(c, 431);
            if (ch == '\r')
                set_state(c, DAV_CH_TRAILER_LF);
            else if (!is_value_char(ch))
                return chunk_fail(c, 400);
            break;
        case DAV_CH_TRAILER_LF:
            if (ch != '\n')
                return chunk_fail(c, 400);
            set_state(c, DAV_CH_TRAILER);
            break;
        case DAV_CH_FINAL_LF:
            if (ch != '\n')
                return chunk_fail(c, 400);
            set_state(c, DAV_CH_DONE);
            break;
        case DAV_CH_DATA:
        case DAV_CH_DONE:
        case DAV_CH_ERROR:
            break;
        }
    }
    *used = i;
    return 0;
}
