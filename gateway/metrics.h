/* Prometheus metrics for the process-per-session server.
 *
 * The counters live in one MAP_SHARED anonymous mapping that the parent creates before
 * it forks any session (gw_metrics_init, called by the metrics front end's init), so
 * the parent and every session process add to the same numbers with lock-free atomic
 * operations: no IPC round trip, no lock a crashing session could leave held. When
 * metrics are off (metrics_port = 0, or a command other than `ferry serve`) there is no
 * mapping and every gw_metrics_* call below is a cheap no-op, so callers never test
 * whether metrics are enabled.
 *
 * The table of metrics is fixed (see metrics.c); every label value comes from a fixed
 * list, so the exposition is bounded and needs no escaping. A label value that is not
 * in its list is counted under "other", so nothing is silently lost.
 *
 *   metric (type)                                  labels
 *   ferry_sessions (gauge)                         proto
 *   ferry_sessions_total (counter)                 proto
 *   ferry_logins_total (counter)                   proto, result=ok|failed
 *   ferry_transfer_bytes_total (counter)           proto, direction=in|out
 *   ferry_transfers_total (counter)                proto, status=ok|failed|aborted
 *   ferry_resumed_transfers_total (counter)        proto
 *   ferry_verifications_total (counter)            result=verified|failed|unverifiable
 *   ferry_mirror_runs_total (counter)              result=ok|failed|verify_failed|locked|
 *                                                         retry_later
 *   ferry_upstream_errors_total (counter)          kind=connect|tls|login|listing|transfer|
 *                                                       timeout|other
 *   ferry_listing_parse_errors_total (counter)     format=auto|unix|dos|vms|eplf|mlsd|os2|
 *                                                         os400|mvs|mvs-pds|netware|tandem|other
 *   ferry_start_time_seconds (gauge)               -
 *
 * proto is an audit proto: ftp, ftps, sftp or webdav for sessions and logins, and also
 * mirror for transfers; "test" rows appear when the test front end is enabled
 * (test_port); anything else is "other".
 *
 * Where the counting happens:
 *   - Everything the audit log records is counted from the record, in the parent, by
 *     gw_metrics_audit(): logins, transfers, bytes, resumed transfers, verifications.
 *     Every front end already sends its transfer records there, so front ends add no
 *     metrics calls of their own for these (doing so would count twice).
 *         gw_metrics_audit(&r);                  parent, after audit_append(r)
 *         gw_metrics_session_open(l->proto);     parent, after a session was forked
 *         gw_metrics_session_close(p->l->proto); parent, when it reaps that session
 *   - What no audit record carries, one call where it happens (parent or session):
 *         gw_metrics_upstream_error("connect");      upstream FTP client, on an error
 *         gw_metrics_parse_error(lp_format_name(f)); listing parser, unparsable line
 *         gw_metrics_mirror_run(exit_status);        end of a mirror run
 *   - The direct calls below (gw_metrics_login, gw_metrics_add_bytes, ...) exist for
 *     events that bypass the audit log; gw_metrics_audit is built on them.
 *
 * Counters made in processes that were not started by a `ferry serve` with metrics on
 * (e.g. a `ferry mirror` from cron) are not exposed: that process has no mapping.
 */
#ifndef FERRY_GATEWAY_METRICS_H
#define FERRY_GATEWAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/config.h"
#include "gateway/frontend.h"

enum gw_metrics_dir { GW_METRICS_IN = 0, GW_METRICS_OUT = 1 };

/* Whole-request deadline of the metrics endpoint (slow clients are dropped). */
#define GW_METRICS_TIMEOUT_MS 5000
/* Largest rendered exposition (the table is fixed: a few KiB in practice). */
#define GW_METRICS_MAX_TEXT (256u * 1024)

/* Creates the shared counters (all zero). Parent only, before any fork; a second call
 * keeps the existing counters. cfg may be NULL; with cfg->test_port set the "test"
 * protocol rows are exposed too. 0, or GW_ERR_NOMEM when mmap fails. Sessions share
 * the mapping writable: a compromised session can falsify the numbers, nothing else. */
int gw_metrics_init(const struct gw_config *cfg);
/* Unmaps the counters (parent at exit, tests); later calls are no-ops again. */
void gw_metrics_free(void);
/* True while the counters exist in this process. */
bool gw_metrics_enabled(void);

/* A session of proto started / ended (ferry_sessions and ferry_sessions_total).
 * proto "metrics" is ignored: scrapes are not sessions. */
void gw_metrics_session_open(const char *proto);
void gw_metrics_session_close(const char *proto);
void gw_metrics_login(const char *proto, bool ok);
void gw_metrics_add_bytes(const char *proto, enum gw_metrics_dir dir, uint64_t n);
/* status: ok, failed or aborted (the audit record's status). */
void gw_metrics_transfer(const char *proto, const char *status);
void gw_metrics_resumed(const char *proto);
/* result: verified, failed or unverifiable. */
void gw_metrics_verify(const char *result);
/* exit_status of the mirror run: 0 ok, 3 verify_failed, 4 locked, 75 retry_later,
 * anything else failed. */
void gw_metrics_mirror_run(int exit_status);
/* kind: connect, tls, login, listing, transfer, timeout (anything else: other). */
void gw_metrics_upstream_error(const char *kind);
/* format: a listing format name as lp_format_name() spells it. */
void gw_metrics_parse_error(const char *format);

/* Counts what an audit record says happened: login / login_failed (logins), upload /
 * download (transfers by status, bytes in / out, resumed when offset > 0), verify
 * (verifications: status ok -> verified, failed -> failed, else unverifiable). Other
 * events count nothing. Call it once per record written. */
void gw_metrics_audit(const struct audit_record *r);

/* Reads one counter (tests, doctor): the value of metric name with the given label
 * values (NULL for a metric without that label). Returns false when the metric or a
 * label value is unknown or metrics are off. */
bool gw_metrics_get(const char *name, const char *label1, const char *label2, int64_t *value);

/* Appends the Prometheus text exposition format 0.0.4 (# HELP and # TYPE lines, then
 * one sample per line) to out. Metrics off: appends nothing and returns 0. 0, or the
 * gw_buf error (GW_ERR_LIMIT, GW_ERR_NOMEM); out may then hold a partial text. */
int gw_metrics_render(struct gw_buf *out);

/* ---- The HTTP endpoint. ---- */

enum gw_metrics_method { GW_METRICS_GET, GW_METRICS_HEAD, GW_METRICS_OTHER };

struct gw_metrics_req {
    enum gw_metrics_method method;
    bool is_metrics; /* target is /metrics (a query string is allowed and ignored) */
};

/* Parses an HTTP/1.x request head (request line and header lines, CRLF or LF line
 * ends) from buf. Pure. Returns the number of bytes of the head (up to and including
 * the empty line) when it is complete; 0 when more bytes are needed; GW_ERR_PROTO when
 * it is malformed; GW_ERR_LIMIT when the request line exceeds GW_MAX_HTTP_LINE, the
 * head GW_MAX_HTTP_HEADERS or the header count GW_MAX_HTTP_HEADER_COUNT. A body is
 * never read: the endpoint answers and closes. */
int gw_metrics_parse_request(const char *buf, size_t len, struct gw_metrics_req *req);

/* Appends the complete HTTP/1.1 response for a parse result (rc from
 * gw_metrics_parse_request, req valid when rc > 0) to out: 200 with the exposition
 * for GET /metrics (headers only for HEAD), 404 for another target, 405 with Allow
 * for another method on /metrics, 400 for a malformed request, 431 over a limit,
 * 408 for rc == GW_ERR_TIMEOUT. Always "Connection: close". 0 or a gw_buf error. */
int gw_metrics_respond(int rc, const struct gw_metrics_req *req, struct gw_buf *out);

/* The front end behind metrics_port: plain HTTP/1.1 on the listen address (loopback
 * by default); one request per connection, bounded and with a deadline. Its init
 * calls gw_metrics_init(cfg); its dispose gw_metrics_free(). It never audits. */
extern const struct gw_frontend gw_metrics_frontend;

#endif
