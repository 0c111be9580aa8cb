/* FUZZ_SOURCES: gateway/audit.c gateway/buf.c gateway/json.c gateway/err.c gateway/log.c */
/* FUZZ_PKGS: openssl zlib */
/* libFuzzer harness for the audit log's line parser and verifier, and the xferlog and
 * syslog lines made from what it parses. Properties checked, beyond "no crash":
 * - a line that parses re-encodes (audit_encode) to a line that parses to the same
 *   record, and that re-encoded line verifies as an intact one-record chain;
 * - every proper prefix of a line that parses is "truncated" (GW_ERR_AGAIN) or, when
 *   only whitespace was cut, parses: never "malformed";
 * - the whole input, as a log, verifies without crashing and never says "intact" with
 *   more records than it has lines;
 * - a parsed record's syslog line holds no control byte (nothing can forge a second
 *   line), and its xferlog line (for transfers) holds none but its final '\n';
 * - whenever the fast path (audit_parse_line_fast) accepts a line, the general parser
 *   accepts it too and fills every field identically. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/audit.h"
#include "gateway/err.h"
#include "gateway/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_roundtrip(const struct audit_line *al)
{
    const struct audit_record *r = &al->rec;
    if (r->ts_ms < 0)
        return; /* audit_encode would stamp "now" */
    struct gw_buf b;
    char hash[AUDIT_HASH_HEX + 1];
    gw_buf_init(&b, GW_MAX_AUDIT_LINE + 1);
    if (audit_encode(r, al->prev[0] ? al->prev : NULL, NULL, 0, &b, hash) == 0) {
        char *store = malloc(b.len + 1);
        struct audit_line back;
        if (!store || audit_parse_line(b.data, b.len - 1, store, b.len + 1, &back) != 0)
            abort();
        const struct audit_record *x = &back.rec;
        if (x->ts_ms != r->ts_ms || !same(x->event, r->event) || !same(x->proto, r->proto) ||
            !same(x->session, r->session) || !same(x->user, r->user) ||
            !same(x->remote, r->remote) || !same(x->path, r->path) || !same(x->path2, r->path2) ||
            x->bytes != r->bytes || x->offset != r->offset || x->size != r->size ||
            x->duration_ms != r->duration_ms || !same(x->status, r->status) ||
            !same(x->error, r->error) || !same(x->sha256, r->sha256) ||
            strcmp(back.hash, hash) != 0)
            abort();
        struct audit_verify_result res;
        if (audit_verify_buf(b.data, b.len, al->prev[0] ? al->prev : NULL, NULL, 0, &res) != 0 ||
            res.verdict != AUDIT_INTACT || res.records != 1)
            abort();
        free(store);
    }
    gw_buf_free(&b);
}

static void check_outputs(const struct audit_record *r)
{
    struct gw_buf b;
    gw_buf_init(&b, 4 * (size_t)GW_MAX_AUDIT_LINE + 256);
    if (audit_syslog_line(r, NULL, &b) == 0)
        for (size_t i = 0; i < b.len; i++)
            if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
                abort();
    gw_buf_reset(&b);
    struct audit_record x = *r;
    if (x.ts_ms < 0)
        x.ts_ms = 1; /* audit_xferlog_line would read the clock */
    if (audit_xferlog_line(&x, &b) == 0) {
        if (b.len == 0 || b.data[b.len - 1] != '\n')
            abort();
        for (size_t i = 0; i + 1 < b.len; i++)
            if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
                abort();
    }
    gw_buf_free(&b);
}

static void check_fast_agrees(const char *s, size_t n)
{
    char *fs = malloc(n + 1), *gs = malloc(n + 1);
    struct audit_line f, g;
    if (!fs || !gs)
        abort();
    if (audit_parse_line_fast(s, n, fs, &f)) {
        if (audit_parse_line_general(s, n, gs, n + 1, &g) != 0)
            abort();
        const struct audit_record *a = &f.rec, *b = &g.rec;
        if (a->ts_ms != b->ts_ms || !same(a->event, b->event) || !same(a->proto, b->proto) ||
            !same(a->session, b->session) || !same(a->user, b->user) ||
            !same(a->remote, b->remote) || !same(a->path, b->path) ||
            !same(a->path2, b->path2) || a->bytes != b->bytes || a->offset != b->offset ||
            a->size != b->size || a->duration_ms != b->duration_ms ||
            !same(a->status, b->status) || !same(a->error, b->error) ||
            !same(a->sha256, b->sha256) || strcmp(f.prev, g.prev) != 0 ||
            strcmp(f.hash, g.hash) != 0 || f.hash_member != g.hash_member)
            abort();
    }
    free(fs);
    free(gs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *store = malloc(size + 1);
    struct audit_line al;
    if (!store)
        return 0;
    const char *nl = memchr(s, '\n', size);
    size_t n = nl ? (size_t)(nl - s) : size;
    check_fast_agrees(s, n);
    int rc = audit_parse_line(s, n, store, size + 1, &al);
    if (rc != 0 && rc != GW_ERR_AGAIN && rc != GW_ERR_PROTO)
        abort();
    if (rc == 0) {
        check_roundtrip(&al);
        check_outputs(&al.rec);
        /* Prefixes (a few, to keep it fast). */
        size_t cuts[] = {n / 3, n / 2, n - 1};
        for (size_t k = 0; k < 3; k++) {
            if (cuts[k] == 0 || cuts[k] >= n)
                continue;
            struct audit_line p;
            int pr = audit_parse_line(s, cuts[k], store, size + 1, &p);
            if (pr == GW_ERR_PROTO)
                abort();
        }
    }
    struct audit_verify_result res;
    if (audit_verify_buf(s, size, NULL, NULL, 0, &res) != 0)
        abort();
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += s[i] == '\n';
    if (res.verdict == AUDIT_INTACT && res.records > lines)
        abort();
    free(store);
    return 0;
}
