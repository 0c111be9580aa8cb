#include <check.h>
#include "tests/unit/testutil.h"
/* Unit tests for gateway/metrics.c: the shared counters (also across fork), the
 * Prometheus text exposition (checked by a strict line checker below), the request
 * parser and the responses of the endpoint. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/metrics.h"

/* ---- A strict checker of text format 0.0.4 (what Prometheus' parser accepts, plus
 * the conventions we promise: HELP and TYPE once per family, before its samples,
 * counters named *_total, integer values). Returns NULL or a message. ---- */

static bool metric_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

static bool label_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static char checker_msg[256];

static const char *check_exposition(const char *text, int *samples)
{
    char family[128] = "", type[16] = "";
    char seen[64][128];
    int nseen = 0;
    bool help = false;
    *samples = 0;
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n')
        return "text must end with a newline";
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        char line[1024];
        if (n >= sizeof line)
            return "line too long";
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            const char *name = line + 7, *sp = strchr(name, ' ');
            if (!sp || !metric_name(name, (size_t)(sp - name)) || !sp[1])
                return "malformed HELP/TYPE line";
            bool is_help = line[2] == 'H';
            char nm[128];
            snprintf(nm, sizeof nm, "%.*s", (int)(sp - name), name);
            if (is_help) {
                for (int i = 0; i < nseen; i++)
                    if (strcmp(seen[i], nm) == 0)
                        return "family repeated";
                if (nseen == 64)
                    return "too many families";
                snprintf(seen[nseen++], sizeof seen[0], "%s", nm);
                snprintf(family, sizeof family, "%s", nm);
                help = true;
                type[0] = '\0';
            } else {
                if (!help || strcmp(nm, family) != 0 || type[0])
                    return "TYPE without its HELP, or repeated";
                if (strcmp(sp + 1, "counter") && strcmp(sp + 1, "gauge"))
                    return "unknown TYPE";
                snprintf(type, sizeof type, "%s", sp + 1);
                if (strcmp(type, "counter") == 0 &&
                    (strlen(nm) < 6 || strcmp(nm + strlen(nm) - 6, "_total") != 0))
                    return "counter not named *_total";
            }
            continue;
        }
        if (line[0] == '#' || line[0] == '\0')
            return "stray comment or empty line";
        /* sample: name [{label="value",...}] SP value */
        size_t i = 0;
        while (line[i] && line[i] != '{' && line[i] != ' ')
            i++;
        if (!metric_name(line, i) || strncmp(line, family, i) != 0 || family[i] != '\0')
            return "sample outside its family";
        if (!type[0])
            return "sample before TYPE";
        if (line[i] == '{') {
            i++;
            for (;;) {
                size_t l0 = i;
                while (line[i] && line[i] != '=')
                    i++;
                if (!label_name(line + l0, i - l0) || line[i] != '=' || line[i + 1] != '"')
                    return "malformed label";
                i += 2;
                while (line[i] && line[i] != '"') {
                    if (line[i] == '\\') {
                        if (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n')
                            return "bad escape in label value";
                        i++;
                    }
                    i++;
                }
                if (line[i] != '"')
                    return "unterminated label value";
                i++;
                if (line[i] == ',') {
                    i++;
                    continue;
                }
                if (line[i] != '}')
                    return "malformed label set";
                i++;
                break;
            }
        }
        if (line[i] != ' ')
            return "no space before value";
        char *end;
        const char *v = line + i + 1;
        long long val = strtoll(v, &end, 10);
        if (end == v || *end != '\0')
            return "value is not an integer";
        if (strcmp(type, "counter") == 0 && val < 0)
            return "negative counter";
        (*samples)++;
    }
    return NULL;
}

static const char *render_and_check(int *samples, char **text)
{
    struct gw_buf b;
    gw_buf_init(&b, GW_METRICS_MAX_TEXT);
    ck_assert_int_eq(gw_metrics_render(&b), 0);
    *text = gw_buf_steal(&b, NULL);
    const char *msg = check_exposition(*text, samples);
    if (msg)
        snprintf(checker_msg, sizeof checker_msg, "%s\n---\n%s", msg, *text);
    return msg ? checker_msg : NULL;
}

static int64_t get(const char *name, const char *l1, const char *l2)
{
    int64_t v = -12345;
    ck_assert_msg(gw_metrics_get(name, l1, l2, &v), "metric %s{%s,%s} missing", name, l1 ? l1 : "-",
                  l2 ? l2 : "-");
    return v;
}

/* ---- gw_metrics_init / gw_metrics_free ---- */

START_TEST(test_init_free)
{
    int64_t v;
    ck_assert(!gw_metrics_enabled());
    gw_metrics_login("ftp", true); /* off: a no-op, must not crash */
    ck_assert(!gw_metrics_get("ferry_logins_total", "ftp", "ok", &v));
    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    ck_assert(gw_metrics_enabled());
    ck_assert_int_eq(get("ferry_logins_total", "ftp", "ok"), 0);
    gw_metrics_login("ftp", true);
    ck_assert_int_eq(gw_metrics_init(NULL), 0); /* idempotent: keeps the counters */
    ck_assert_int_eq(get("ferry_logins_total", "ftp", "ok"), 1);
    ck_assert(get("ferry_start_time_seconds", NULL, NULL) > 1600000000);
    gw_metrics_free();
    ck_assert(!gw_metrics_enabled());
    ck_assert_int_eq(gw_metrics_init(NULL), 0); /* fresh counters */
    ck_assert_int_eq(get("ferry_logins_total", "ftp", "ok"), 0);
    gw_metrics_free();
    gw_metrics_free();
}
END_TEST

/* ---- the counting calls ---- */

START_TEST(test_counters)
{
    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    gw_metrics_session_open("sftp");
    gw_metrics_session_open("sftp");
    gw_metrics_session_open("metrics"); /* scrapes are not sessions */
    gw_metrics_session_close("sftp");
    ck_assert_int_eq(get("ferry_sessions", "sftp", NULL), 1);
    ck_assert_int_eq(get("ferry_sessions_total", "sftp", NULL), 2);
    ck_assert_int_eq(get("ferry_sessions", "other", NULL), 0);
    gw_metrics_login("webdav", false);
    gw_metrics_login("webdav", false);
    gw_metrics_login("gopher", true); /* unknown protocol: counted as other */
    ck_assert_int_eq(get("ferry_logins_total", "webdav", "failed"), 2);
    ck_assert_int_eq(get("ferry_logins_total", "webdav", "ok"), 0);
    ck_assert_int_eq(get("ferry_logins_total", "other", "ok"), 1);
    gw_metrics_add_bytes("ftp", GW_METRICS_IN, 1000);
    gw_metrics_add_bytes("ftp", GW_METRICS_IN, 5000000000ull); /* above 4 GiB */
    gw_metrics_add_bytes("ftp", GW_METRICS_OUT, 7);
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "ftp", "in"), 5000001000ll);
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "ftp", "out"), 7);
    gw_metrics_transfer("ftps", "ok");
    gw_metrics_transfer("ftps", "aborted");
    gw_metrics_transfer("ftps", "weird"); /* caller bug: counted as failed */
    ck_assert_int_eq(get("ferry_transfers_total", "ftps", "ok"), 1);
    ck_assert_int_eq(get("ferry_transfers_total", "ftps", "aborted"), 1);
    ck_assert_int_eq(get("ferry_transfers_total", "ftps", "failed"), 1);
    gw_metrics_resumed("webdav");
    ck_assert_int_eq(get("ferry_resumed_transfers_total", "webdav", NULL), 1);
    gw_metrics_verify("verified");
    gw_metrics_verify("unverifiable");
    gw_metrics_verify(NULL);
    ck_assert_int_eq(get("ferry_verifications_total", "verified", NULL), 1);
    ck_assert_int_eq(get("ferry_verifications_total", "unverifiable", NULL), 1);
    ck_assert_int_eq(get("ferry_verifications_total", "other", NULL), 1);
    gw_metrics_mirror_run(0);
    gw_metrics_mirror_run(3);
    gw_metrics_mirror_run(4);
    gw_metrics_mirror_run(75);
    gw_metrics_mirror_run(1);
    gw_metrics_mirror_run(2);
    ck_assert_int_eq(get("ferry_mirror_runs_total", "ok", NULL), 1);
    ck_assert_int_eq(get("ferry_mirror_runs_total", "verify_failed", NULL), 1);
    ck_assert_int_eq(get("ferry_mirror_runs_total", "locked", NULL), 1);
    ck_assert_int_eq(get("ferry_mirror_runs_total", "retry_later", NULL), 1);
    ck_assert_int_eq(get("ferry_mirror_runs_total", "failed", NULL), 2);
    gw_metrics_upstream_error("connect");
    gw_metrics_upstream_error("cosmic rays");
    ck_assert_int_eq(get("ferry_upstream_errors_total", "connect", NULL), 1);
    ck_assert_int_eq(get("ferry_upstream_errors_total", "other", NULL), 1);
    gw_metrics_parse_error("vms");
    gw_metrics_parse_error("mvs-pds");
    gw_metrics_parse_error("mvs-pds");
    ck_assert_int_eq(get("ferry_listing_parse_errors_total", "vms", NULL), 1);
    ck_assert_int_eq(get("ferry_listing_parse_errors_total", "mvs-pds", NULL), 2);
    int64_t v;
    ck_assert(!gw_metrics_get("ferry_nope", NULL, NULL, &v));
    ck_assert(!gw_metrics_get("ferry_logins_total", "ftp", "maybe", &v));
    gw_metrics_free();
}
END_TEST

/* ---- gw_metrics_audit ---- */

START_TEST(test_audit)
{
    struct audit_record r;
    audit_record_init(&r);
    r.event = "upload"; /* metrics off: nothing, no crash */
    gw_metrics_audit(&r);
    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    r.proto = "sftp";
    r.status = "ok";
    r.bytes = 1000;
    r.offset = 0;
    gw_metrics_audit(&r); /* a plain upload */
    r.bytes = 500;
    r.offset = 4096;
    r.status = "aborted";
    gw_metrics_audit(&r); /* a resumed upload, interrupted again */
    r.event = "download";
    r.proto = "ftps";
    r.status = "ok";
    r.bytes = 77;
    r.offset = -1; /* absent */
    gw_metrics_audit(&r);
    ck_assert_int_eq(get("ferry_transfers_total", "sftp", "ok"), 1);
    ck_assert_int_eq(get("ferry_transfers_total", "sftp", "aborted"), 1);
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "sftp", "in"), 1500);
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "sftp", "out"), 0);
    ck_assert_int_eq(get("ferry_resumed_transfers_total", "sftp", NULL), 1);
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "ftps", "out"), 77);
    ck_assert_int_eq(get("ferry_transfers_total", "ftps", "ok"), 1);
    ck_assert_int_eq(get("ferry_resumed_transfers_total", "ftps", NULL), 0);

    audit_record_init(&r);
    r.proto = "webdav";
    r.event = "login";
    r.status = "ok";
    gw_metrics_audit(&r);
    r.event = "login_failed";
    r.status = "failed";
    gw_metrics_audit(&r);
    r.event = "logout"; /* counts nothing */
    gw_metrics_audit(&r);
    r.event = "mkdir";
    gw_metrics_audit(&r);
    ck_assert_int_eq(get("ferry_logins_total", "webdav", "ok"), 1);
    ck_assert_int_eq(get("ferry_logins_total", "webdav", "failed"), 1);

    r.proto = "mirror";
    r.event = "verify";
    r.status = "ok";
    gw_metrics_audit(&r);
    r.status = "failed";
    gw_metrics_audit(&r);
    r.status = NULL;
    gw_metrics_audit(&r);
    ck_assert_int_eq(get("ferry_verifications_total", "verified", NULL), 1);
    ck_assert_int_eq(get("ferry_verifications_total", "failed", NULL), 1);
    ck_assert_int_eq(get("ferry_verifications_total", "unverifiable", NULL), 1);
    r.event = NULL;
    gw_metrics_audit(&r); /* no event: ignored */
    gw_metrics_free();
}
END_TEST

/* Every session process adds to the same counters: fork writers, count exactly. */
START_TEST(test_shared_across_fork)
{
    enum { CHILDREN = 4, EACH = 20000 };
    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            for (int i = 0; i < EACH; i++) {
                gw_metrics_add_bytes("sftp", GW_METRICS_OUT, 3);
                gw_metrics_login("sftp", i % 2 == 0);
            }
            gw_metrics_session_open("ftp"); /* a gauge changed in a child */
            _exit(0);
        }
    }
    for (int i = 0; i < EACH; i++)
        gw_metrics_add_bytes("sftp", GW_METRICS_OUT, 1);
    for (int c = 0; c < CHILDREN; c++) {
        int st;
        ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ck_assert_int_eq(get("ferry_transfer_bytes_total", "sftp", "out"),
                     (int64_t)CHILDREN * EACH * 3 + EACH);
    ck_assert_int_eq(get("ferry_logins_total", "sftp", "ok"), (int64_t)CHILDREN * EACH / 2);
    ck_assert_int_eq(get("ferry_logins_total", "sftp", "failed"), (int64_t)CHILDREN * EACH / 2);
    ck_assert_int_eq(get("ferry_sessions", "ftp", NULL), CHILDREN);
    gw_metrics_free();
}
END_TEST

/* ---- gw_metrics_render ---- */

START_TEST(test_render)
{
    struct gw_buf b;
    char *text = NULL;
    int samples = 0;
    gw_buf_init(&b, 1024);
    ck_assert_int_eq(gw_metrics_render(&b), 0); /* off: nothing */
    ck_assert_uint_eq(b.len, 0);
    gw_buf_free(&b);

    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    gw_metrics_session_open("webdav");
    gw_metrics_add_bytes("ftp", GW_METRICS_OUT, 4242);
    gw_metrics_parse_error("dos");
    const char *msg = render_and_check(&samples, &text);
    ck_assert_msg(msg == NULL, "%s", msg);
    ck_assert_int_gt(samples, 50);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE ferry_sessions gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nferry_sessions{proto=\"webdav\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nferry_transfer_bytes_total{proto=\"ftp\",direction=\"out\"} 4242\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nferry_listing_parse_errors_total{format=\"dos\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nferry_mirror_runs_total{result=\"retry_later\"} 0\n"));
    ck_assert_ptr_null(strstr(text, "proto=\"test\"")); /* test front end off */
    free(text);
    gw_metrics_free();

    struct gw_config cfg;
    cfg_defaults(&cfg);
    cfg.test_port = 4000;
    ck_assert_int_eq(gw_metrics_init(&cfg), 0);
    cfg_free(&cfg);
    gw_metrics_login("test", true);
    msg = render_and_check(&samples, &text);
    ck_assert_msg(msg == NULL, "%s", msg);
    ck_assert_ptr_nonnull(strstr(text, "\nferry_logins_total{proto=\"test\",result=\"ok\"} 1\n"));
    free(text);

    gw_buf_init(&b, 100); /* too small: the buffer's error */
    ck_assert_int_eq(gw_metrics_render(&b), GW_ERR_LIMIT);
    gw_buf_free(&b);
    gw_metrics_free();
}
END_TEST

/* The checker itself must reject what Prometheus would (or what we promise not to). */
START_TEST(test_checker_rejects)
{
    static const char *bad[] = {
        "ferry_x_total 1\n",                                        /* no HELP/TYPE */
        "# HELP a_total h\n# TYPE a_total counter\na_total 1",      /* no final newline */
        "# HELP a h\n# TYPE a counter\na 1\n",                      /* counter w/o _total */
        "# HELP a h\n# TYPE a gauge\na{x=\"1} 1\n",                 /* unterminated value */
        "# HELP a h\n# TYPE a gauge\na{1x=\"1\"} 1\n",              /* bad label name */
        "# HELP a h\n# TYPE a gauge\nb 1\n",                        /* other family */
        "# HELP a h\n# TYPE a gauge\na 1.5x\n",                     /* bad value */
        "# HELP a h\n# TYPE a gauge\n# HELP a h\n# TYPE a gauge\n", /* repeated family */
        "# HELP a h\n# TYPE a gauge\n\n",                           /* empty line */
    };
    int n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(check_exposition(bad[i], &n) != NULL, "checker accepted case %zu", i);
    ck_assert_ptr_null(
        check_exposition("# HELP a h\n# TYPE a gauge\na{x=\"q\\\"\",y=\"\"} -3\n", &n));
}
END_TEST

/* ---- gw_metrics_parse_request ---- */

static int parse(const char *s, struct gw_metrics_req *r)
{
    return gw_metrics_parse_request(s, strlen(s), r);
}

START_TEST(test_parse_request)
{
    struct gw_metrics_req r;
    const char *prom = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: "
                       "Prometheus/2.42.0\r\nAccept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
                       "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
    ck_assert_int_eq(parse(prom, &r), (int)strlen(prom));
    ck_assert_int_eq(r.method, GW_METRICS_GET);
    ck_assert(r.is_metrics);
    /* Every proper prefix needs more bytes. */
    for (size_t i = 0; i < strlen(prom); i++)
        ck_assert_int_eq(gw_metrics_parse_request(prom, i, &r), 0);
    /* Bytes after the head (a body, a pipelined request) are not consumed. */
    ck_assert_int_eq(parse("HEAD /metrics?x=1 HTTP/1.0\n\nGET / HTTP/1.1\r\n", &r), 28);
    ck_assert_int_eq(r.method, GW_METRICS_HEAD);
    ck_assert(r.is_metrics);
    ck_assert_int_gt(parse("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &r), 0);
    ck_assert_int_eq(r.method, GW_METRICS_OTHER);
    ck_assert_int_gt(parse("GET /metricsx HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert(!r.is_metrics);
    ck_assert_int_gt(parse("GET /metric HTTP/1.1\r\n\r\n", &r), 0);
    ck_assert(!r.is_metrics);
    ck_assert_int_gt(parse("get /metrics HTTP/1.1\r\n\r\n", &r),
                     0); /* methods are case-sensitive */
    ck_assert_int_eq(r.method, GW_METRICS_OTHER);

    static const char *malformed[] = {
        "\r\n\r\n",
        "GET\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        "GET /met\x01rics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n: empty-name\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nX: a\x7f\r\n\r\n",
        "G(T /metrics HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ck_assert_msg(parse(malformed[i], &r) == GW_ERR_PROTO, "case %zu accepted", i);
    /* A NUL inside is malformed, not a shorter string. */
    ck_assert_int_eq(gw_metrics_parse_request("GET /metrics HTTP/1.1\r\nA:\0b\r\n\r\n", 31, &r),
                     GW_ERR_PROTO);
}
END_TEST

START_TEST(test_parse_limits)
{
    struct gw_metrics_req r;
    size_t big = GW_MAX_HTTP_HEADERS + 100;
    char *buf = malloc(big + 1);
    ck_assert_ptr_nonnull(buf);
    /* A request line longer than GW_MAX_HTTP_LINE, even before its end arrives. */
    memset(buf, 'a', big);
    memcpy(buf, "GET /", 5);
    ck_assert_int_eq(gw_metrics_parse_request(buf, GW_MAX_HTTP_LINE + 10, &r), GW_ERR_LIMIT);
    ck_assert_int_eq(gw_metrics_parse_request(buf, GW_MAX_HTTP_LINE - 10, &r), 0);
    /* Too many header lines. */
    size_t pos = (size_t)snprintf(buf, big, "GET /metrics HTTP/1.1\r\n");
    for (int i = 0; i <= GW_MAX_HTTP_HEADER_COUNT; i++)
        pos += (size_t)snprintf(buf + pos, big - pos, "X-%d: y\r\n", i);
    pos += (size_t)snprintf(buf + pos, big - pos, "\r\n");
    ck_assert_int_eq(gw_metrics_parse_request(buf, pos, &r), GW_ERR_LIMIT);
    /* A head larger than GW_MAX_HTTP_HEADERS without its end. */
    pos = (size_t)snprintf(buf, big, "GET /metrics HTTP/1.1\r\nX: ");
    memset(buf + pos, 'z', big - pos);
    ck_assert_int_eq(gw_metrics_parse_request(buf, big, &r), GW_ERR_LIMIT);
    free(buf);
}
END_TEST

/* ---- gw_metrics_respond ---- */

static char *respond(int rc, const struct gw_metrics_req *r)
{
    struct gw_buf b;
    gw_buf_init(&b, GW_METRICS_MAX_TEXT + 4096);
    ck_assert_int_eq(gw_metrics_respond(rc, r, &b), 0);
    return gw_buf_steal(&b, NULL);
}

START_TEST(test_respond)
{
    struct gw_metrics_req r = {GW_METRICS_GET, true};
    ck_assert_int_eq(gw_metrics_init(NULL), 0);
    gw_metrics_login("ftp", false);
    char *s = respond(100, &r);
    ck_assert_msg(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", s);
    ck_assert_ptr_nonnull(
        strstr(s, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "\r\nConnection: close\r\n"));
    char *body = strstr(s, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    body += 4;
    long clen = strtol(strstr(s, "Content-Length: ") + 16, NULL, 10);
    ck_assert_int_eq(clen, (long)strlen(body));
    ck_assert_ptr_nonnull(strstr(body, "ferry_logins_total{proto=\"ftp\",result=\"failed\"} 1\n"));
    int samples;
    ck_assert_ptr_null(check_exposition(body, &samples));

    r.method = GW_METRICS_HEAD; /* same headers, no body */
    char *h = respond(100, &r);
    ck_assert_ptr_nonnull(strstr(h, "Content-Length: "));
    ck_assert_int_eq(strtol(strstr(h, "Content-Length: ") + 16, NULL, 10), clen);
    ck_assert_str_eq(strstr(h, "\r\n\r\n"), "\r\n\r\n");
    free(h);
    free(s);

    r.method = GW_METRICS_OTHER;
    s = respond(100, &r);
    ck_assert_msg(strncmp(s, "HTTP/1.1 405 ", 13) == 0, "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\r\nAllow: GET, HEAD\r\n"));
    free(s);
    r.method = GW_METRICS_GET;
    r.is_metrics = false;
    s = respond(100, &r);
    ck_assert(strncmp(s, "HTTP/1.1 404 ", 13) == 0);
    free(s);
    r.method = GW_METRICS_OTHER; /* unknown resource wins over method */
    s = respond(100, &r);
    ck_assert(strncmp(s, "HTTP/1.1 404 ", 13) == 0);
    free(s);
    s = respond(GW_ERR_PROTO, &r);
    ck_assert(strncmp(s, "HTTP/1.1 400 ", 13) == 0);
    free(s);
    s = respond(0, &r); /* incomplete at EOF */
    ck_assert(strncmp(s, "HTTP/1.1 400 ", 13) == 0);
    free(s);
    s = respond(GW_ERR_LIMIT, &r);
    ck_assert(strncmp(s, "HTTP/1.1 431 ", 13) == 0);
    free(s);
    s = respond(GW_ERR_TIMEOUT, &r);
    ck_assert(strncmp(s, "HTTP/1.1 408 ", 13) == 0);
    ck_assert_ptr_nonnull(strstr(s, "Connection: close"));
    free(s);
    gw_metrics_free();

    /* Metrics off (cannot happen behind the front end, whose init enables them): an
     * empty but valid exposition. */
    r.method = GW_METRICS_GET;
    r.is_metrics = true;
    s = respond(100, &r);
    ck_assert_ptr_nonnull(strstr(s, "Content-Length: 0\r\n"));
    free(s);
}
END_TEST

Suite *gateway_metrics_suite(void)
{
    Suite *s = suite_create("gateway/metrics");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"gw_metrics_init", test_init_free},
        {"counters", test_counters},
        {"gw_metrics_audit", test_audit},
        {"shared_across_fork", test_shared_across_fork},
        {"gw_metrics_render", test_render},
        {"exposition_checker", test_checker_rejects},
        {"gw_metrics_parse_request", test_parse_request},
        {"parse_limits", test_parse_limits},
        {"gw_metrics_respond", test_respond},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}
