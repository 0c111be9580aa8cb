/* FUZZ_SOURCES: webdav/upload_parse.c gateway/err.c */
/* libFuzzer harness for the resumable-upload field parsers (webdav/upload.h): the
 * first byte picks the parser, the rest is the field value or request-target. Besides
 * "no crash", it checks what the handlers rely on: a token that parses formats back to
 * the same bytes, a query's token lies inside the target and parses, an Integer fits
 * in 15 digits and a Boolean is exactly ?0 or ?1. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "webdav/upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *v = (const char *)data + 1;
    size_t n = size - 1;
    uint64_t u;
    bool b;
    struct dav_upload_id id;
    char out[DAV_UPLOAD_TOKEN_MAX];
    const char *tok;
    size_t toklen;
    switch (data[0] % 5) {
    case 0:
        if (dav_sf_uint(v, n, &u) == 0 && (n == 0 || n > 15 || u > 999999999999999ULL))
            abort();
        break;
    case 1:
        if (dav_sf_bool(v, n, &b) == 0 && (n != 2 || v[0] != '?'))
            abort();
        break;
    case 2:
        (void)dav_media_type_is(v, n, DAV_UPLOAD_MEDIA);
        break;
    case 3:
        if (dav_upload_token_parse(v, n, &id) == 0) {
            if (dav_upload_token_format(&id, out, sizeof out) != 0 || strlen(out) != n ||
                memcmp(out, v, n) != 0)
                abort();
        }
        break;
    default:
        if (dav_upload_query(v, n, &tok, &toklen) == 1) {
            if (tok < v || tok + toklen > v + n || dav_upload_token_parse(tok, toklen, &id) != 0)
                abort();
        }
        break;
    }
    return 0;
}
