/* FUZZ_SOURCES: gateway/metrics.c gateway/buf.c gateway/err.c */
/* libFuzzer harness for the metrics endpoint's request parser and its responses.
 * Properties beyond "no crash": a complete head is at most the input and at most
 * GW_MAX_HTTP_HEADERS bytes, ends with an empty line, and every proper prefix of it
 * needs more bytes (never an error); whatever the parse result, the response is a
 * whole HTTP/1.1 message that closes the connection. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct gw_metrics_req req, r2;
    static int inited;
    if (!inited) {
        gw_metrics_init(NULL); /* render real counters in 200 responses */
        inited = 1;
    }
    int rc = gw_metrics_parse_request(buf, size, &req);
    if (rc > 0) {
        size_t n = (size_t)rc;
        if (n > size || n > GW_MAX_HTTP_HEADERS || buf[n - 1] != '\n')
            abort();
        if (!(n >= 2 && buf[n - 2] == '\n') && !(n >= 3 && memcmp(buf + n - 3, "\n\r\n", 3) == 0))
            abort();
        /* A few prefixes (all of them would make the harness quadratic). */
        for (size_t cut = n - 1; cut > 0 && cut + 64 > n; cut--)
            if (gw_metrics_parse_request(buf, cut, &r2) != 0)
                abort();
        if (gw_metrics_parse_request(buf, n / 2, &r2) != 0)
            abort();
    } else if (rc != 0 && rc != GW_ERR_PROTO && rc != GW_ERR_LIMIT) {
        abort();
    }
    struct gw_buf out;
    gw_buf_init(&out, GW_METRICS_MAX_TEXT + 4096);
    if (gw_metrics_respond(rc, &req, &out) != 0)
        abort();
    if (out.len < 12 || memcmp(out.data, "HTTP/1.1 ", 9) != 0 ||
        !strstr(out.data, "\r\nConnection: close\r\n"))
        abort();
    gw_buf_free(&out);
    return 0;
}
