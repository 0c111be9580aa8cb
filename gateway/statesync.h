/* The parent's link to the shared state database (`state_db`, gateway/statedb.h), on
 * one background thread, so that the parent's event loop never waits for PostgreSQL.
 *
 * The thread owns one gw_statedb connection and:
 *   - keeps it up: on failure it logs ONE line naming the (redacted) URL and the reason,
 *     retries with a backoff of 0.5 s doubling to 5 s, and logs once when it is back;
 *   - LISTENs for user changes and reloads the users on a notification, on every
 *     (re)connection and every GW_STATESYNC_USERS_POLL_MS when the revision moved,
 *     handing each snapshot to the main thread (gw_statesync_take_users);
 *   - drains the audit queue in order, in batches of GW_STATESYNC_BATCH records, one
 *     transaction each (gw_statedb_audit_append);
 *   - counts failed logins across nodes (gw_statedb_throttle_fail) and hands the
 *     totals back (gw_statesync_take_throttle).
 * It signals the main thread through an eventfd (gw_statesync_fd).
 *
 * Audit records are never dropped. The main thread queues a deep copy of each record
 * (its time set to when the event happened). The queue in memory is bounded
 * (GW_STATESYNC_MAX_RECORDS records or GW_STATESYNC_MAX_BYTES bytes); past that,
 * records are appended to the spill file (STATE/audit-spill.jsonl) and, from then on,
 * every new record goes there too until the thread has replayed the whole file into
 * the database, so the order stays the order of events. A spill line is the record
 * encoded as an audit line chained to zeros (audit_encode with no previous hash and no
 * key): readable by `ferry audit --log`, parsed back with audit_parse_line and chained
 * for real when it reaches the database. The replay position is kept beside it
 * (audit-spill.jsonl.pos) after every committed batch, so a crash during replay
 * repeats at most one batch; it never loses one. On stop, what could not be written
 * before the deadline is saved to the spill file (the records still in memory first,
 * then what the spill file held), which the next start replays before anything else.
 *
 * Threading: every gw_statesync_* function is called from the parent's main thread,
 * except the thread's own internals. */
#ifndef FERRY_GATEWAY_STATESYNC_H
#define FERRY_GATEWAY_STATESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/audit.h"
#include "gateway/users.h"

#define GW_STATESYNC_MAX_RECORDS 100000
#define GW_STATESYNC_MAX_BYTES (64u * 1024 * 1024)
#define GW_STATESYNC_BATCH 256
#define GW_STATESYNC_USERS_POLL_MS 30000
#define GW_STATESYNC_BACKOFF_MIN_MS 500
#define GW_STATESYNC_BACKOFF_MAX_MS 5000
#define GW_STATESYNC_SPILL "audit-spill.jsonl"

/* ---- pure parts (exported for the unit tests) ---- */

/* The reconnection delay after `failures` consecutive failed attempts (1 = the first):
 * 500 ms doubling, at most 5 s. */
int64_t gw_statesync_backoff_ms(unsigned failures);

/* One queued record: a deep copy, every string inside the same allocation. */
struct gw_ssq_rec {
    struct gw_ssq_rec *next;
    size_t size; /* bytes of this allocation, counted against the bound */
    struct audit_record rec;
};

/* A FIFO of records with a bound on count and bytes. Not locked: the caller locks. */
struct gw_ssq {
    struct gw_ssq_rec *head, *tail;
    size_t n, bytes;
    size_t max_n, max_bytes;
};

void gw_ssq_init(struct gw_ssq *q, size_t max_n, size_t max_bytes);
/* Copies r (every string, ts_ms as given) into a new node. NULL when out of memory. */
struct gw_ssq_rec *gw_ssq_copy(const struct audit_record *r);
/* Appends rec (taking it) unless the queue is full: GW_ERR_LIMIT (rec is then still
 * the caller's). */
int gw_ssq_push(struct gw_ssq *q, struct gw_ssq_rec *rec);
/* Removes and returns the oldest record (NULL when empty); the caller frees it. */
struct gw_ssq_rec *gw_ssq_pop(struct gw_ssq *q);
void gw_ssq_clear(struct gw_ssq *q);

/* The spill format: one record as an unchained audit line (with '\n') appended to out;
 * the record's ts_ms must be set. Errors as audit_encode. */
int gw_statesync_spill_encode(const struct audit_record *r, struct gw_buf *out);
/* Parses one spill line (without '\n') back into a queue node (a deep copy). NULL when
 * it is not a record (a torn last line after a crash). */
struct gw_ssq_rec *gw_statesync_spill_decode(const char *line, size_t len);

/* The connection string the parent uses for url: url itself plus gssencmode=disable
 * unless url names gssencmode (a postgresql:// URI gets it as a query parameter, a
 * key=value conninfo as one more pair). Kerberos, tried by default, keeps per-thread
 * data that a forked session could only report as leaked, and a state database on a
 * private network wants TLS or nothing rather than GSSAPI. GW_ERR_TOOLONG when out is
 * too small. Pure. */
int gw_statesync_conninfo(const char *url, char *out, size_t outsz);

/* ---- the background thread ---- */

struct gw_statesync;

/* Prepares (no thread, no connection yet): url of the database, node name stored with
 * each audit record, the audit chain key (copied; may be NULL), the state dir (for
 * the spill file). NULL when out of memory. */
struct gw_statesync *gw_statesync_new(const char *url, const char *node, const unsigned char *key,
                                      size_t keylen, const char *state_dir);
/* Changes the memory queue's bound (tests; before gw_statesync_start). The environment
 * variable FERRY_STATESYNC_MAX_RECORDS does the same for a whole `ferry serve` (tests). */
void gw_statesync_set_bound(struct gw_statesync *s, size_t max_records, size_t max_bytes);
/* Opens the spill file left by an earlier run (its records go first) and starts the
 * thread with every signal blocked. Call after the signal handlers are set. */
int gw_statesync_start(struct gw_statesync *s);
/* The eventfd that becomes readable when something changed for the main thread (a
 * users snapshot, the connection going up or down, throttle counts). Reading it is
 * done by gw_statesync_poll. */
int gw_statesync_fd(const struct gw_statesync *s);
/* Clears the eventfd; call when it polled readable, then take what is there. */
void gw_statesync_poll(struct gw_statesync *s);
/* True while the connection is up and a users snapshot has been loaded. */
bool gw_statesync_up(struct gw_statesync *s);
/* Moves the newest users snapshot, if one came since the last call, into *out (which
 * must be empty: the caller frees it) with its revision. */
bool gw_statesync_take_users(struct gw_statesync *s, struct auth_db *out, int64_t *rev);

/* Queues a deep copy of r (ts_ms <= 0 is set to now) and writes its xferlog and syslog
 * lines. Never blocks on the database; writes the spill file when the queue is full.
 * GW_ERR_IO only when even the spill file cannot be written (the record is then kept
 * in memory over the bound rather than lost). */
int gw_statesync_audit(struct gw_statesync *s, const struct audit_record *r);
/* The other outputs of audit records, as audit_set_outputs (gateway/audit.h); also
 * reopens the xferlog (SIGHUP). */
int gw_statesync_set_outputs(struct gw_statesync *s, const char *xferlog_path, bool use_syslog);
/* Records queued and not yet in the database (memory and spill file). */
uint64_t gw_statesync_backlog(struct gw_statesync *s);

/* SIGHUP: the thread reads the users again now (they are also read on every change
 * notification and every GW_STATESYNC_USERS_POLL_MS). */
void gw_statesync_reload_users(struct gw_statesync *s);

/* A failed login from addr (counted across nodes when the database is up) / a good one
 * (clears addr there). Best effort: dropped while the database is down. */
void gw_statesync_throttle_fail(struct gw_statesync *s, const char *addr, int64_t window_ms);
void gw_statesync_throttle_ok(struct gw_statesync *s, const char *addr);
/* Takes one cross-node count: addr (48 bytes) and its failures in the window. */
bool gw_statesync_take_throttle(struct gw_statesync *s, char addr[48], int64_t *fails);

/* Stops: the thread keeps flushing the audit queue until it is empty or deadline_ms
 * (gw_now_ms clock) passes, then exits; what is left goes to the spill file. Logs how
 * many records were left for the next start. */
void gw_statesync_stop(struct gw_statesync *s, int64_t deadline_ms);
/* Stops if needed (deadline: now) and frees. NULL is a no-op. */
void gw_statesync_free(struct gw_statesync *s);

/* Brackets a fork(2) in sanitizer builds (as gw_authpool_fork_begin): waits until the
 * thread is outside the database library, whose memory would otherwise be referenced
 * only from a stack the child does not have; at most 2 s (a query stuck on a dead
 * network), then the fork goes ahead. */
void gw_statesync_fork_begin(struct gw_statesync *s);
void gw_statesync_fork_end(struct gw_statesync *s);
/* In a forked child: the thread does not exist, a lock may be held. Closes the
 * descriptors (the database socket without any libpq call: a PQfinish would send
 * Terminate on the parent's connection), wipes the users' hashes, frees the queue.
 * What libpq allocated stays reachable from s, which the caller keeps. */
void gw_statesync_forget_in_child(struct gw_statesync *s);

#endif
