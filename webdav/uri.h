/* URLs of the WebDAV front end, pure over (buf, len): request-targets and Destination
 * values to virtual paths, and virtual paths back to hrefs; XML and HTML escaping.
 *
 * The mapping is deliberately strict, because a URL is where traversal attempts come in:
 * it refuses (GW_ERR_INVAL, answered 400) a fragment, a bad or encoded-NUL or
 * encoded-slash (%2F) percent escape, control bytes, bytes that are not valid UTF-8
 * after decoding (so overlong encodings of '.' or '/' never reach the path layer), and
 * "." or ".." segments whether literal or encoded. What passes is then normalised by
 * gw_path_resolve(), which also refuses names of hidden partial uploads. */
#ifndef FERRY_WEBDAV_URI_H
#define FERRY_WEBDAV_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/buf.h"

/* Maps a request-target (origin-form "/a/b?q" or absolute-form "https://host/a/b") or a
 * Destination value to a normalised virtual path in out. host (hostlen bytes, the
 * request's Host field; may be NULL) must equal the authority of an absolute URL
 * (case-insensitive), else GW_ERR_ESCAPE (another server: 502 for Destination).
 * *slash (may be NULL) tells whether the path ended with '/'. Returns 0, GW_ERR_INVAL,
 * GW_ERR_ESCAPE or GW_ERR_TOOLONG. */
int dav_uri_to_path(const char *t, size_t n, const char *host, size_t hostlen, char *out,
                    size_t outsz, bool *slash);

/* Percent-decodes s[0..n) into out (NUL-terminated). GW_ERR_INVAL on a bad escape, an
 * encoded NUL or control byte; GW_ERR_TOOLONG when out is too small. Returns the
 * decoded length. */
int dav_uri_decode(const char *s, size_t n, char *out, size_t outsz);

/* Appends path percent-encoded for use as an href: every byte but unreserved characters
 * (RFC 3986) and '/' is escaped; a trailing '/' is added when dir is true and path is
 * not "/". */
int dav_uri_encode(struct gw_buf *b, const char *path, bool dir);

/* Appends s[0..n) escaped for XML text or attribute values (& < > " '); bytes that are
 * not valid UTF-8 and control characters XML 1.0 forbids become U+FFFD. Also correct
 * for HTML. */
int dav_xml_escape(struct gw_buf *b, const char *s, size_t n);

#endif
