/* Parsers and formatters of HTTP and WebDAV header values, pure over (buf, len): dates
 * (RFC 9110 section 5.6.7), entity tags and their lists (section 8.8.3), byte ranges
 * (section 14), Content-Range on PUT (resumable uploads, Apache mod_dav semantics),
 * Basic credentials (RFC 7617), the WebDAV Depth, Overwrite, Timeout, Lock-Token and If
 * headers (RFC 4918 section 10) and Want-Repr-Digest (RFC 9530). No I/O, no globals. */
#ifndef FERRY_WEBDAV_HDR_H
#define FERRY_WEBDAV_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/limits.h"
#include "gateway/vfs.h"

#define DAV_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define DAV_ETAG_MAX 64 /* a formatted ETag with its quotes, NUL included */

/* Formats seconds since the epoch as an IMF-fixdate. GW_ERR_INVAL outside 1970..9999. */
int dav_date_format(int64_t t, char out[DAV_DATE_LEN + 1]);
/* Formats seconds since the epoch as RFC 3339 UTC ("2026-11-28T14:03:07Z"). */
int dav_date_rfc3339(int64_t t, char out[21]);
/* Parses an HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime);
 * GW_ERR_INVAL when it is none of them. */
int dav_date_parse(const char *s, size_t n, int64_t *t);

/* The strong entity tag of a file or collection: "inode-size-mtime" in hex, quoted. It
 * changes whenever the content can have changed (mtime has nanoseconds). */
void dav_etag(const struct vfs_stat *st, char out[DAV_ETAG_MAX]);
/* Evaluates an If-Match (strong comparison) or If-None-Match (weak comparison) field
 * value against etag (NULL: the resource does not exist). "*" matches any existing
 * resource. Returns 1 when the list matches, 0 when not, GW_ERR_INVAL when malformed. */
int dav_etag_match(const char *list, size_t n, const char *etag, bool weak);

/* One byte range, both ends inclusive, resolved against a representation's size. */
struct dav_range {
    uint64_t first, last;
};
#define DAV_MAX_RANGES 64

enum dav_range_result {
    DAV_RANGE_IGNORE = 0,       /* no usable Range: send the whole representation */
    DAV_RANGE_OK = 1,           /* out[0..*count) are satisfiable (unsatisfiable ones dropped) */
    DAV_RANGE_UNSATISFIABLE = 2 /* none of the ranges overlaps the representation: 416 */
};
/* Parses a Range field value ("bytes=0-99,200-,-50") for a representation of size
 * bytes. A malformed value, another unit, or more than DAV_MAX_RANGES ranges are
 * ignored (RFC 9110 allows a server to ignore Range). Ranges are kept in request order,
 * suffix and open ranges resolved, last clamped to size - 1. */
enum dav_range_result dav_range_parse(const char *v, size_t n, uint64_t size, struct dav_range *out,
                                      size_t *count);

/* Parses "bytes FIRST-LAST/TOTAL" or "bytes FIRST-LAST/ *" of a PUT (resumable upload).
 * *total is UINT64_MAX when the complete length is unknown ("*"). GW_ERR_INVAL when
 * malformed or when last < first or total <= last. */
int dav_content_range_parse(const char *v, size_t n, uint64_t *first, uint64_t *last,
                            uint64_t *total);

/* Decodes "Basic base64(user:password)". user and pass are NUL-terminated; GW_ERR_INVAL
 * when the scheme is not Basic or the encoding is bad, GW_ERR_TOOLONG when a part does
 * not fit, GW_ERR_PROTO when the decoded bytes hold NUL or control bytes. */
int dav_basic_parse(const char *v, size_t n, char *user, size_t usersz, char *pass, size_t passsz);
/* Standard base64 decoding (padding required when the length is not a multiple of 4).
 * Returns the decoded length or GW_ERR_INVAL / GW_ERR_TOOLONG. */
int dav_base64_decode(const char *in, size_t n, unsigned char *out, size_t outsz);

#define DAV_DEPTH_INFINITY 3
/* Depth: "0" -> 0, "1" -> 1, "infinity" -> DAV_DEPTH_INFINITY; def when the field is
 * absent (v NULL); GW_ERR_INVAL otherwise. */
int dav_depth_parse(const char *v, size_t n, int def);
/* Overwrite: "T" -> 1, "F" -> 0, absent -> 1, else GW_ERR_INVAL. */
int dav_overwrite_parse(const char *v, size_t n);
/* Timeout: the first usable of "Second-N" and "Infinite", clamped to max seconds; def
 * when absent or when nothing is usable. */
int64_t dav_timeout_parse(const char *v, size_t n, int64_t def, int64_t max);
/* Lock-Token: "<token>" -> token (its span inside v). GW_ERR_INVAL when malformed. */
int dav_locktoken_parse(const char *v, size_t n, const char **tok, size_t *toklen);
/* Want-Repr-Digest / Want-Content-Digest: true when sha-256 is asked for with a
 * non-zero preference. */
bool dav_want_sha256(const char *v, size_t n);

/* The If header (RFC 4918 section 10.4), parsed. Conditions point into the field value.
 * A list carries the resource tag that precedes it (tag NULL: the request-URI). */
#define DAV_IF_MAX_LISTS 32
#define DAV_IF_MAX_CONDS 64

struct dav_if_cond {
    bool negate;   /* "Not" */
    bool is_etag;  /* [entity-tag] rather than <state-token> */
    const char *v; /* token without its angle brackets, or the entity-tag as sent */
    size_t n;
};

struct dav_if_list {
    const char *tag; /* resource tag without its angle brackets, or NULL */
    size_t tag_len;
    size_t first, count; /* conditions conds[first .. first + count) */
};

struct dav_if {
    struct dav_if_list lists[DAV_IF_MAX_LISTS];
    size_t nlists;
    struct dav_if_cond conds[DAV_IF_MAX_CONDS];
    size_t nconds;
};

/* Parses an If field value. GW_ERR_INVAL when malformed (answer 400), GW_ERR_LIMIT when
 * it has more lists or conditions than the limits. */
int dav_if_parse(const char *v, size_t n, struct dav_if *out);

/* Compares two entity-tags as sent (quoted, optionally W/ prefixed); strong comparison
 * fails when either is weak. */
bool dav_etag_eq(const char *a, size_t an, const char *b, size_t bn, bool weak);

#endif
