/* FUZZ_SOURCES: gateway/proxyproto.c */
/* libFuzzer harness for the PROXY protocol parser and the proxy_trusted list parser.
 * Besides "no crash", it checks the properties the socket reader relies on: a header
 * never claims more bytes than it was given, parsing is independent of trailing bytes,
 * one byte less than a complete header is "need more", and the safe-read hint never
 * points past the header's end. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_proxy_hdr h, h2;
    int rc = gw_proxy_parse(data, size, &h);
    if (rc != 0 && rc != GW_ERR_PROTO && (rc < 0 || (size_t)rc > size))
        abort();
    if (rc > 0) {
        size_t n = (size_t)rc;
        if (gw_proxy_parse(data, n, &h2) != rc || h2.has_addr != h.has_addr)
            abort();
        if (gw_proxy_parse(data, n - 1, &h2) != 0)
            abort();
        for (size_t k = 0; k < n; k++)
            if (k + gw_proxy_safe_read(data, k) > n)
                abort();
        if (h.has_addr && h.src.ss_family != h.dst.ss_family)
            abort();
    }
    /* The same bytes as a proxy_trusted value, matched against the parsed source. */
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    struct gw_proxy_acl acl;
    char err[256];
    if (gw_proxy_acl_parse(spec, &acl, err, sizeof err) == 0 && rc > 0 && h.has_addr)
        (void)gw_proxy_acl_match(&acl, (const struct sockaddr *)&h.src);
    free(spec);
    return 0;
}
