/* The HTTP/1.1 request parser of the WebDAV front end (RFC 9112), pure over (buf, len):
 * no I/O, no logging, no globals. It is strict on purpose, because every byte it
 * accepts crosses a trust boundary and a lenient parser is how request smuggling
 * starts:
 *   - lines end in CRLF; a bare CR or a bare LF anywhere is an error (400);
 *   - obs-fold (a header line starting with SP or HTAB) is an error (400);
 *   - whitespace between a field name and its colon is an error (400);
 *   - control bytes (other than HTAB) in a field value are an error (400);
 *   - a request line over GW_MAX_HTTP_LINE bytes is 414, a header section over
 *     GW_MAX_HTTP_HEADERS bytes or GW_MAX_HTTP_HEADER_COUNT fields is 431;
 *   - Content-Length must be one field of 1*DIGIT (duplicates, lists, signs: 400;
 *     larger than 2^63-1: 413); Content-Length together with Transfer-Encoding is 400;
 *   - Transfer-Encoding must be exactly "chunked" (other codings: 501, chunked not last
 *     or repeated: 400, any Transfer-Encoding in an HTTP/1.0 request: 400);
 *   - HTTP/1.1 requests need exactly one Host field (400);
 *   - an HTTP major version other than 1 is 505, an Expect other than 100-continue 417.
 * Up to DAV_HTTP_MAX_BLANK empty lines before the request line are skipped
 * (RFC 9112 section 2.2).
 *
 * Bodies framed with "chunked" are decoded by a separate incremental state machine,
 * struct dav_chunked, which also reads and discards trailer fields. */
#ifndef FERRY_WEBDAV_HTTP_H
#define FERRY_WEBDAV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/limits.h"

#define DAV_HTTP_MAX_BLANK 8   /* empty lines tolerated before a request line */
#define DAV_HTTP_MAX_METHOD 32 /* bytes of a method name */

/* A field as received: name and value point into the parsed buffer; the value has its
 * surrounding whitespace removed. */
struct dav_http_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

enum dav_http_body {
    DAV_BODY_NONE,   /* no Content-Length and no Transfer-Encoding: no body */
    DAV_BODY_LENGTH, /* content_length bytes follow (may be 0) */
    DAV_BODY_CHUNKED /* chunked transfer coding */
};

/* One parsed request head. Every pointer points into the caller's buffer, which must
 * stay unchanged while the request is used. */
struct dav_http_req {
    const char *method;
    size_t method_len;
    const char *target; /* request-target as sent (origin-form, absolute-form or "*") */
    size_t target_len;
    int minor; /* HTTP/1.<minor>: 0 or 1 (higher minors are treated as 1) */
    struct dav_http_field fields[GW_MAX_HTTP_HEADER_COUNT];
    size_t nfields;
    enum dav_http_body body;
    uint64_t content_length;
    bool keep_alive;      /* the client allows the connection to stay open */
    bool expect_continue; /* Expect: 100-continue (HTTP/1.1 only) */
    size_t head_len;      /* bytes of the head, leading blank lines and final CRLF included */
    int status;           /* after an error: the status to answer (400, 413, 414, 417,
                             431, 501, 505) */
    const char *why;      /* after an error: a short static reason, for the log */
};

/* Parses the request head at buf[0..len). Returns the head's length (req->head_len, > 0)
 * once it is complete, 0 when more bytes are needed (everything seen so far is valid and
 * within the limits), or GW_ERR_PROTO with req->status and req->why set. */
int dav_http_parse(const char *buf, size_t len, struct dav_http_req *req);

/* The value of the first field called name (case-insensitive), or NULL; *len gets its
 * length. */
const char *dav_http_field(const struct dav_http_req *req, const char *name, size_t *len);
/* How many fields are called name. */
size_t dav_http_field_count(const struct dav_http_req *req, const char *name);
/* True when the method is exactly m (methods are case-sensitive). */
bool dav_http_method_is(const struct dav_http_req *req, const char *m);

/* Case-insensitive comparison of a counted string with a C string. */
bool dav_ieq(const char *s, size_t n, const char *lit);
/* True when the comma-separated list s[0..n) holds the token tok (case-insensitive). */
bool dav_list_has(const char *s, size_t n, const char *tok);

/* The incremental decoder of the chunked transfer coding (RFC 9112 section 7.1). */
enum dav_chunked_state {
    DAV_CH_SIZE,         /* hex digits of a chunk size */
    DAV_CH_EXT,          /* chunk extensions up to CR */
    DAV_CH_SIZE_LF,      /* LF after a size line */
    DAV_CH_DATA,         /* chunk data */
    DAV_CH_DATA_CR,      /* CR after chunk data */
    DAV_CH_DATA_LF,      /* LF after chunk data */
    DAV_CH_TRAILER,      /* start of a trailer line (or of the final CRLF) */
    DAV_CH_TRAILER_LINE, /* inside a trailer field line */
    DAV_CH_TRAILER_LF,   /* LF ending a trailer line */
    DAV_CH_FINAL_LF,     /* LF ending the message */
    DAV_CH_DONE,         /* the body is complete */
    DAV_CH_ERROR         /* sticky */
};

struct dav_chunked {
    enum dav_chunked_state state;
    uint64_t left;   /* data bytes left in the current chunk, or the size being read */
    unsigned digits; /* hex digits read for the current size */
    size_t line;     /* bytes of the current size or trailer line */
    size_t trailer;  /* bytes of the trailer section */
    int status;      /* after an error: the HTTP status to answer (400, 413, 431) */
};

void dav_chunked_init(struct dav_chunked *c);
/* Decodes from in[0..len). Stops after the first stretch of chunk data, at the end of
 * the input, or at the end of the body, whichever comes first. *used is set to the
 * input bytes consumed; when data was found, *data_off and *data_len locate it inside
 * in (else *data_len is 0). Returns 0, or GW_ERR_PROTO (sticky, c->status set). */
int dav_chunked_decode(struct dav_chunked *c, const char *in, size_t len, size_t *used,
                       size_t *data_off, size_t *data_len);
/* True once the last chunk and the trailer section were read. */
bool dav_chunked_done(const struct dav_chunked *c);

#endif
