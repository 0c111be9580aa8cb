/* FUZZ_SOURCES: webdav/http.c webdav/hdr.c webdav/uri.c gateway/path.c gateway/json.c gateway/buf.c gateway/err.c */
/* Fuzzes the WebDAV front end's request parser the way the session feeds it: the head
 * parser on every prefix length the network could deliver (a stateless re-parse must
 * give the same answer however the bytes were split), then the chunked decoder on what
 * follows the head, in pieces, and the header value parsers on every field. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "webdav/hdr.h"
#include "webdav/http.h"
#include "webdav/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dav_http_req req, req2;

static void values(const struct dav_http_req *r)
{
    static struct dav_if ifh;
    struct dav_range ranges[DAV_MAX_RANGES];
    char user[GW_MAX_USER_NAME + 1], pass[GW_MAX_PASSWORD + 1], path[GW_MAX_PATH];
    uint64_t a, b, c;
    int64_t t;
    size_t n, tl;
    const char *tok;
    for (size_t i = 0; i < r->nfields; i++) {
        const char *v = r->fields[i].value;
        size_t vn = r->fields[i].value_len;
        (void)dav_date_parse(v, vn, &t);
        (void)dav_etag_match(v, vn, "\"1-2-3\"", i & 1);
        if (dav_range_parse(v, vn, (uint64_t)vn * 7, ranges, &n) == DAV_RANGE_OK)
            for (size_t k = 0; k < n; k++)
                if (ranges[k].first > ranges[k].last || ranges[k].last >= (uint64_t)vn * 7)
                    abort();
        if (dav_content_range_parse(v, vn, &a, &b, &c) == 0 &&
            (b < a || (c != UINT64_MAX && c <= b)))
            abort();
        (void)dav_basic_parse(v, vn, user, sizeof user, pass, sizeof pass);
        (void)dav_depth_parse(v, vn, 0);
        (void)dav_timeout_parse(v, vn, 60, 3600);
        (void)dav_locktoken_parse(v, vn, &tok, &tl);
        (void)dav_want_sha256(v, vn);
        (void)dav_if_parse(v, vn, &ifh);
        if (dav_uri_to_path(v, vn, "h", 1, path, sizeof path, NULL) == 0 && path[0] != '/')
            abort();
    }
    if (dav_uri_to_path(r->target, r->target_len, NULL, 0, path, sizeof path, NULL) == 0 &&
        path[0] != '/')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t step = size ? (size_t)data[0] % 61 + 1 : 1;
    int full = dav_http_parse(buf, size, &req);
    if (full > 0) {
        if ((size_t)full > size || (size_t)full != req.head_len)
            abort();
        if (req.body == DAV_BODY_CHUNKED && dav_http_field_count(&req, "content-length"))
            abort();
        values(&req);
    } else if (full == GW_ERR_PROTO) {
        if (req.status < 400 || req.status > 505 || !req.why)
            abort();
    } else if (full != 0) {
        abort();
    }
    /* Prefixes: a complete head stays complete with the same length; an error on a
     * prefix means the whole input is an error too. */
    for (size_t k = step; k < size; k += step) {
        int r = dav_http_parse(buf, k, &req2);
        if (r > 0 && r != full)
            abort();
        if (r == GW_ERR_PROTO && full != GW_ERR_PROTO)
            abort();
    }
    /* The body after the head through the chunked decoder. */
    size_t pos = full > 0 ? (size_t)full : 0;
    struct dav_chunked ch;
    dav_chunked_init(&ch);
    while (pos < size && !dav_chunked_done(&ch)) {
        size_t avail = size - pos < step ? size - pos : step;
        size_t used, off, dl;
        if (dav_chunked_decode(&ch, buf + pos, avail, &used, &off, &dl) < 0)
            break;
        if (used > avail || off + dl > avail || (dl && off + dl != used))
            abort();
        if (used == 0)
            abort();
        pos += used;
    }
    return 0;
}
