/* Prometheus metrics (metrics.h): a fixed table of counters in one shared anonymous
 * mapping, updated with lock-free atomics by the parent and every session process, and
 * a tiny HTTP/1.1 endpoint that renders them. */
#include "gateway/metrics.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/session.h"

/* A lock-based atomic (libatomic's fallback) would take a process-local lock: only
 * lock-free 64-bit operations are safe across processes. */
_Static_assert(__atomic_always_lock_free(sizeof(int64_t), 0), "64-bit atomics must be lock-free");

/* ---- The fixed table. ---- */

#define NO_VALUES NULL, 0

/* The "test" rows are shown only when the test front end is enabled. Sessions and
 * logins happen on listeners; transfers also in mirror runs. */
static const char *const server_protos[] = {"ftp", "ftps", "sftp", "webdav", "test", "other"};
static const char *const xfer_protos[] = {"ftp",    "ftps", "sftp", "webdav",
                                          "mirror", "test", "other"};
static const char *const login_results[] = {"ok", "failed"};
static const char *const directions[] = {"in", "out"};
static const char *const xfer_status[] = {"ok", "failed", "aborted"};
static const char *const verify_results[] = {"verified", "failed", "unverifiable", "other"};
static const char *const mirror_results[] = {"ok", "failed", "verify_failed", "locked",
                                             "retry_later"};
static const char *const upstream_kinds[] = {"connect",  "tls",     "login", "listing",
                                             "transfer", "timeout", "other"};
/* lp_format_name()'s spellings (ftp/listparse.h; gateway/ may not include ftp/). */
static const char *const listing_formats[] = {"auto",    "unix",   "dos",   "vms", "eplf",
                                              "mlsd",    "os2",    "os400", "mvs", "mvs-pds",
                                              "netware", "tandem", "other"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct family {
    const char *name;
    const char *type; /* "counter" or "gauge" */
    const char *help;
    const char *label1;
    const char *const *values1;
    size_t n1;
    const char *label2;
    const char *const *values2;
    size_t n2;
};

enum {
    F_SESSIONS,
    F_SESSIONS_TOTAL,
    F_LOGINS,
    F_BYTES,
    F_TRANSFERS,
    F_RESUMED,
    F_VERIFY,
    F_MIRROR,
    F_UPSTREAM,
    F_PARSE,
    F_START,
    F_COUNT
};

static const struct family families[F_COUNT] = {
    [F_SESSIONS] = {"ferry_sessions", "gauge", "Sessions open now, by protocol.", "proto",
                    server_protos, N(server_protos), NULL, NO_VALUES},
    [F_SESSIONS_TOTAL] = {"ferry_sessions_total", "counter", "Sessions accepted, by protocol.",
                          "proto", server_protos, N(server_protos), NULL, NO_VALUES},
    [F_LOGINS] = {"ferry_logins_total", "counter", "Login attempts, by protocol and result.",
                  "proto", server_protos, N(server_protos), "result", login_results,
                  N(login_results)},
    [F_BYTES] = {"ferry_transfer_bytes_total", "counter",
                 "File content bytes received (in) and sent (out), by protocol.", "proto",
                 xfer_protos, N(xfer_protos), "direction", directions, N(directions)},
    [F_TRANSFERS] = {"ferry_transfers_total", "counter",
                     "Finished uploads and downloads, by protocol and status.", "proto",
                     xfer_protos, N(xfer_protos), "status", xfer_status, N(xfer_status)},
    [F_RESUMED] = {"ferry_resumed_transfers_total", "counter",
                   "Transfers that continued at an offset, by protocol.", "proto", xfer_protos,
                   N(xfer_protos), NULL, NO_VALUES},
    [F_VERIFY] = {"ferry_verifications_total", "counter", "Integrity verifications, by result.",
                  "result", verify_results, N(verify_results), NULL, NO_VALUES},
    [F_MIRROR] = {"ferry_mirror_runs_total", "counter", "Mirror runs, by result.", "result",
                  mirror_results, N(mirror_results), NULL, NO_VALUES},
    [F_UPSTREAM] = {"ferry_upstream_errors_total", "counter",
                    "Errors talking to upstream FTP servers, by kind.", "kind", upstream_kinds,
                    N(upstream_kinds), NULL, NO_VALUES},
    [F_PARSE] = {"ferry_listing_parse_errors_total", "counter",
                 "Upstream directory listing lines that could not be parsed, by format.", "format",
                 listing_formats, N(listing_formats), NULL, NO_VALUES},
    [F_START] = {"ferry_start_time_seconds", "gauge",
                 "Start time of the server since the Unix epoch, in seconds.", NULL, NO_VALUES,
                 NULL, NO_VALUES},
};

#define MAX_SLOTS 512

/* The shared page(s). Only whole int64_t slots, touched only through __atomic_*.
 * Sessions can write here: a compromised one can falsify numbers, nothing more, since
 * the numbers are only ever printed (by the metrics endpoint's session) and slots are
 * indexed from the fixed table, never from anything in the mapping. */
struct shm {
    int64_t show_test; /* 1: expose the "test" protocol rows */
    int64_t slots[MAX_SLOTS];
};

/* Process-local pointer to the mapping; inherited by every fork. NULL: metrics off. */
static struct shm *M;

static size_t family_slots(const struct family *f)
{
    return (f->n1 ? f->n1 : 1) * (f->n2 ? f->n2 : 1);
}

static size_t family_base(int fam)
{
    size_t base = 0;
    for (int i = 0; i < fam; i++)
        base += family_slots(&families[i]);
    return base;
}

/* Index of v in values, or of the last value ("other") when unknown and the list has
 * one; -1 otherwise. */
static int value_index(const char *const *values, size_t n, const char *v, bool fallback)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(values[i], v) == 0)
            return (int)i;
    if (fallback && n && strcmp(values[n - 1], "other") == 0)
        return (int)n - 1;
    return -1;
}

static int64_t *slot(int fam, int i1, int i2)
{
    const struct family *f = &families[fam];
    size_t idx = family_base(fam) + (size_t)(i1 < 0 ? 0 : i1) * (f->n2 ? f->n2 : 1) +
                 (size_t)(i2 < 0 ? 0 : i2);
    return &M->slots[idx];
}

static void add(int fam, const char *v1, const char *v2, int64_t n)
{
    if (!M)
        return;
    const struct family *f = &families[fam];
    int i1 = f->n1 ? value_index(f->values1, f->n1, v1, true) : 0;
    int i2 = f->n2 ? value_index(f->values2, f->n2, v2, true) : 0;
    if (i1 < 0 || i2 < 0)
        return;
    __atomic_fetch_add(slot(fam, i1, i2), n, __ATOMIC_RELAXED);
}

int gw_metrics_init(const struct gw_config *cfg)
{
    _Static_assert(sizeof(struct shm) <= 64 * 1024, "metrics mapping stays small");
    if (M)
        return 0;
    if (family_base(F_COUNT) > MAX_SLOTS)
        return GW_ERR_LIMIT; /* the table outgrew MAX_SLOTS: a programming error */
    void *p =
        mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return GW_ERR_NOMEM;
    M = p; /* anonymous mappings are zero-filled */
    M->show_test = cfg && cfg->test_port ? 1 : 0;
    __atomic_store_n(slot(F_START, 0, 0), (int64_t)time(NULL), __ATOMIC_RELAXED);
    return 0;
}

void gw_metrics_free(void)
{
    if (M)
        munmap(M, sizeof(struct shm));
    M = NULL;
}

bool gw_metrics_enabled(void)
{
    return M != NULL;
}

void gw_metrics_session_open(const char *proto)
{
    if (proto && strcmp(proto, "metrics") == 0)
        return;
    add(F_SESSIONS, proto, NULL, 1);
    add(F_SESSIONS_TOTAL, proto, NULL, 1);
}

void gw_metrics_session_close(const char *proto)
{
    if (proto && strcmp(proto, "metrics") == 0)
        return;
    add(F_SESSIONS, proto, NULL, -1);
}

void gw_metrics_login(const char *proto, bool ok)
{
    add(F_LOGINS, proto, ok ? "ok" : "failed", 1);
}

void gw_metrics_add_bytes(const char *proto, enum gw_metrics_dir dir, uint64_t n)
{
    /* Counters are int64_t slots: clamp absurd values rather than going negative. */
    add(F_BYTES, proto, dir == GW_METRICS_IN ? "in" : "out",
        n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}

void gw_metrics_transfer(const char *proto, const char *status)
{
    /* An unknown status is a bug in the caller; count it as failed, not lost. */
    if (value_index(xfer_status, N(xfer_status), status, false) < 0)
        status = "failed";
    add(F_TRANSFERS, proto, status, 1);
}

void gw_metrics_resumed(const char *proto)
{
    add(F_RESUMED, proto, NULL, 1);
}

void gw_metrics_verify(const char *result)
{
    add(F_VERIFY, result, NULL, 1);
}

void gw_metrics_mirror_run(int exit_status)
{
    const char *r = exit_status == 0    ? "ok"
                    : exit_status == 3  ? "verify_failed"
                    : exit_status == 4  ? "locked"
                    : exit_status == 75 ? "retry_later"
                                        : "failed";
    add(F_MIRROR, r, NULL, 1);
}

void gw_metrics_upstream_error(const char *kind)
{
    add(F_UPSTREAM, kind, NULL, 1);
}

void gw_metrics_parse_error(const char *format)
{
    add(F_PARSE, format, NULL, 1);
}

void gw_metrics_audit(const struct audit_record *r)
{
    if (!M || !r->event)
        return;
    const char *ev = r->event, *proto = r->proto;
    bool ok = r->status && strcmp(r->status, "ok") == 0;
    if (strcmp(ev, "login") == 0 || strcmp(ev, "login_failed") == 0) {
        gw_metrics_login(proto, strcmp(ev, "login") == 0 && ok);
    } else if (strcmp(ev, "upload") == 0 || strcmp(ev, "download") == 0) {
        gw_metrics_transfer(proto, r->status);
        if (r->bytes > 0)
            gw_metrics_add_bytes(proto, ev[0] == 'u' ? GW_METRICS_IN : GW_METRICS_OUT,
                                 (uint64_t)r->bytes);
        if (r->offset > 0)
            gw_metrics_resumed(proto);
    } else if (strcmp(ev, "verify") == 0) {
        gw_metrics_verify(ok                                              ? "verified"
                          : r->status && strcmp(r->status, "failed") == 0 ? "failed"
                                                                          : "unverifiable");
    }
}

bool gw_metrics_get(const char *name, const char *label1, const char *label2, int64_t *value)
{
    if (!M)
        return false;
    for (int fam = 0; fam < F_COUNT; fam++) {
        const struct family *f = &families[fam];
        if (strcmp(f->name, name) != 0)
            continue;
        int i1 = f->n1 ? value_index(f->values1, f->n1, label1, false) : 0;
        int i2 = f->n2 ? value_index(f->values2, f->n2, label2, false) : 0;
        if (i1 < 0 || i2 < 0)
            return false;
        *value = __atomic_load_n(slot(fam, i1, i2), __ATOMIC_RELAXED);
        return true;
    }
    return false;
}

static bool hidden(const struct family *f, size_t i1)
{
    return strcmp(f->label1, "proto") == 0 && strcmp(f->values1[i1], "test") == 0 && !M->show_test;
}

int gw_metrics_render(struct gw_buf *out)
{
    int rc = 0;
    if (!M)
        return 0;
    for (int fam = 0; fam < F_COUNT && rc == 0; fam++) {
        const struct family *f = &families[fam];
        rc = gw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
        for (size_t i1 = 0; i1 < (f->n1 ? f->n1 : 1) && rc == 0; i1++) {
            if (f->n1 && hidden(f, i1))
                continue;
            for (size_t i2 = 0; i2 < (f->n2 ? f->n2 : 1) && rc == 0; i2++) {
                int64_t v = __atomic_load_n(slot(fam, (int)i1, (int)i2), __ATOMIC_RELAXED);
                if (!f->n1)
                    rc = gw_buf_printf(out, "%s %lld\n", f->name, (long long)v);
                else if (!f->n2)
                    rc = gw_buf_printf(out, "%s{%s=\"%s\"} %lld\n", f->name, f->label1,
                                       f->values1[i1], (long long)v);
                else
                    rc = gw_buf_printf(out, "%s{%s=\"%s\",%s=\"%s\"} %lld\n", f->name, f->label1,
                                       f->values1[i1], f->label2, f->values2[i2], (long long)v);
            }
        }
    }
    return rc;
}

/* ---- The HTTP endpoint. ---- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Validates the request line [p, p+n) (without its line end) and fills req. */
static int parse_request_line(const char *p, size_t n, struct gw_metrics_req *req)
{
    size_t i = 0, m0, t0, tn;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return GW_ERR_PROTO;
    m0 = i;
    t0 = ++i;
    while (i < n && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f)
            return GW_ERR_PROTO;
        i++;
    }
    tn = i - t0;
    if (tn == 0 || i >= n)
        return GW_ERR_PROTO;
    i++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x is spoken here. */
    if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' || p[i + 7] > '9')
        return GW_ERR_PROTO;
    if (m0 == 3 && memcmp(p, "GET", 3) == 0)
        req->method = GW_METRICS_GET;
    else if (m0 == 4 && memcmp(p, "HEAD", 4) == 0)
        req->method = GW_METRICS_HEAD;
    else
        req->method = GW_METRICS_OTHER;
    req->is_metrics =
        (tn == 8 || (tn > 8 && p[t0 + 8] == '?')) && memcmp(p + t0, "/metrics", 8) == 0;
    return 0;
}

/* A header field line: token ':' then visible characters, spaces and tabs. */
static int check_header_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return GW_ERR_PROTO;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return GW_ERR_PROTO;
    }
    return 0;
}

int gw_metrics_parse_request(const char *buf, size_t len, struct gw_metrics_req *req)
{
    size_t pos = 0, lines = 0;
    memset(req, 0, sizeof *req);
    req->method = GW_METRICS_OTHER;
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t limit = lines == 0 ? GW_MAX_HTTP_LINE : GW_MAX_HTTP_HEADERS;
        if (!nl)
            return len - pos > limit || len > GW_MAX_HTTP_HEADERS ? GW_ERR_LIMIT : 0;
        size_t n = (size_t)(nl - (buf + pos));
        size_t end = pos + n + 1; /* just past the '\n' */
        if (end > GW_MAX_HTTP_HEADERS || (lines == 0 && n > GW_MAX_HTTP_LINE))
            return GW_ERR_LIMIT;
        if (n && buf[pos + n - 1] == '\r')
            n--;
        int rc;
        if (lines == 0)
            rc = parse_request_line(buf + pos, n, req);
        else if (n == 0)
            return (int)end;
        else if (lines > GW_MAX_HTTP_HEADER_COUNT)
            rc = GW_ERR_LIMIT;
        else
            rc = check_header_line(buf + pos, n);
        if (rc < 0)
            return rc;
        lines++;
        pos = end;
    }
}

static int status_head(struct gw_buf *out, int code, const char *reason, const char *ctype,
                       size_t clen, const char *extra)
{
    return gw_buf_printf(out,
                         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                         "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                         code, reason, ctype, clen, extra);
}

static int error_response(struct gw_buf *out, int code, const char *reason, const char *extra)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", code, reason);
    int rc = status_head(out, code, reason, "text/plain; charset=utf-8", (size_t)n, extra);
    return rc ? rc : gw_buf_append(out, body, (size_t)n);
}

int gw_metrics_respond(int rc, const struct gw_metrics_req *req, struct gw_buf *out)
{
    if (rc == GW_ERR_TIMEOUT)
        return error_response(out, 408, "Request Timeout", "");
    if (rc == GW_ERR_LIMIT)
        return error_response(out, 431, "Request Header Fields Too Large", "");
    if (rc <= 0)
        return error_response(out, 400, "Bad Request", "");
    if (!req->is_metrics)
        return error_response(out, 404, "Not Found", "");
    if (req->method == GW_METRICS_OTHER)
        return error_response(out, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
    struct gw_buf text;
    gw_buf_init(&text, GW_METRICS_MAX_TEXT);
    int r = gw_metrics_render(&text);
    if (r == 0)
        r = status_head(out, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text.len, "");
    if (r == 0 && req->method == GW_METRICS_GET)
        r = gw_buf_append(out, text.data ? text.data : "", text.len);
    gw_buf_free(&text);
    if (r < 0) {
        gw_buf_reset(out);
        return error_response(out, 500, "Internal Server Error", "");
    }
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the request head within the deadline. Returns what gw_metrics_parse_request
 * returns, GW_ERR_TIMEOUT at the deadline, or GW_ERR_IO when the client went away. */
static int read_request(int fd, struct gw_buf *in, struct gw_metrics_req *req)
{
    int64_t deadline = mono_ms() + GW_METRICS_TIMEOUT_MS;
    char tmp[4096];
    for (;;) {
        int rc = gw_metrics_parse_request(in->data ? in->data : "", in->len, req);
        if (rc != 0)
            return rc;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return GW_ERR_TIMEOUT;
        /* Sessions catch SIGTERM/SIGINT without SA_RESTART and ignore the other
         * signals, so EINTR means the server is stopping: answer 408 at once. */
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr == 0 || (pr < 0 && errno == EINTR))
            return GW_ERR_TIMEOUT;
        if (pr < 0)
            return GW_ERR_IO;
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            return GW_ERR_TIMEOUT;
        if (n <= 0)
            return GW_ERR_IO;
        /* Never hold more than one over the limit: the parser reports GW_ERR_LIMIT. */
        size_t room = GW_MAX_HTTP_HEADERS + 1 - in->len;
        if (gw_buf_append(in, tmp, (size_t)n < room ? (size_t)n : room) != 0)
            return GW_ERR_LIMIT;
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static int metrics_serve(struct gw_session *s, void *state)
{
    (void)state;
    struct gw_buf in, out;
    struct gw_metrics_req req;
    struct timeval tv = {.tv_sec = GW_METRICS_TIMEOUT_MS / 1000};
    gw_buf_init(&in, GW_MAX_HTTP_HEADERS + 1);
    gw_buf_init(&out, GW_METRICS_MAX_TEXT + 4096);
    /* The send deadline bounds a client that never reads its answer. */
    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = read_request(s->fd, &in, &req);
    if (rc != GW_ERR_IO && gw_metrics_respond(rc, &req, &out) == 0) {
        write_all(s->fd, out.data, out.len);
        /* Close gracefully: closing with unread request bytes would send a reset that
         * can destroy the response before the client reads it. */
        shutdown(s->fd, SHUT_WR);
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        char sink[4096];
        for (int i = 0; i < 16 && poll(&pf, 1, 500) > 0; i++)
            if (read(s->fd, sink, sizeof sink) <= 0)
                break;
    }
    gw_buf_free(&in);
    gw_buf_free(&out);
    return 0;
}

static int metrics_init(const struct gw_config *cfg, const struct gw_keys *keys, void **state)
{
    (void)keys;
    *state = NULL;
    return gw_metrics_init(cfg);
}

static void metrics_dispose(void *state)
{
    (void)state;
    gw_metrics_free();
}

const struct gw_frontend gw_metrics_frontend = {
    .name = "metrics",
    .init = metrics_init,
    .serve = metrics_serve,
    .dispose = metrics_dispose,
    .refuse_message = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n",
};
