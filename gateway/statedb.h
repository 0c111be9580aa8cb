/* Shared state in PostgreSQL, for several Ferry nodes behind a balancer
 * (`state_db = postgresql://...` in [server]; without it everything stays in files in
 * the state dir and nothing here runs).
 *
 * What moves into the database, and why there:
 *   users and keys      one table; `ferry user` edits it, every node's parent reloads it
 *                       when notified (LISTEN ferry_users) - a user added through node A
 *                       logs in through node B
 *   audit log           one table and one chain: an append locks the chain head row, so
 *                       records of all nodes interleave into a single chain that
 *                       `ferry audit verify` checks like a file
 *   login throttling    failed logins per address, counted across nodes
 *   WebDAV state        locks and dead properties as named blobs, read-modify-write
 *                       under a row lock (a LOCK through A makes a PUT through B 423)
 *   mirror job locks    session advisory locks instead of lock files
 * Partial uploads need nothing here: a partial is a hidden file beside its target in the
 * data root (gateway/vfs.h), which the nodes share, so any node resumes it.
 *
 * Only the parent process of `ferry serve` talks to the database (sessions ask it over
 * their socketpair, gateway/ipc.h); the CLI commands (`ferry user`, `ferry audit`,
 * `ferry db`, `ferry mirror`) open their own connection.
 *
 * Schema (version GW_STATEDB_SCHEMA, created and migrated by gw_statedb_migrate, i.e.
 * `ferry db migrate`; every table is prefixed ferry_):
 *   ferry_schema        (version int)                         one row
 *   ferry_users         (name text primary key, hash text, home text, flags text,
 *                        keys text)                           users-file fields (users.h)
 *   ferry_users_rev     (id int primary key = 1, rev bigint)  bumped on every change
 *   ferry_audit         (seq bigserial primary key, node text, line text)
 *                                                             line: the record, verbatim,
 *                                                             without its '\n'
 *   ferry_audit_head    (id int primary key = 1, seq bigint, hash text)  the chain's end
 *   ferry_login_fails   (addr text primary key, fails int, last_fail timestamptz)
 *   ferry_blobs         (name text primary key, body bytea, updated timestamptz)
 *
 * Threading: one struct gw_statedb is one connection, used by one thread at a time.
 * Errors: GW_ERR_IO when the server cannot be reached or the connection broke (then
 * gw_statedb_ok is false until gw_statedb_reset succeeds), GW_ERR_PROTO when the
 * database answers something unexpected (wrong schema version, constraint), with one
 * line for humans in err (never the password; err may be NULL). Every connection runs
 * with statement_timeout 10 s and lock_timeout 5 s, so a stuck database or a lock held
 * too long fails the call instead of hanging it: GW_ERR_TIMEOUT, the connection stays
 * usable (retry later); GW_ERR_AGAIN likewise for a deadlock or serialization failure.
 * A failed call leaves no transaction open. The transactions of
 * users_begin and blob_get(write) are exclusive: another call that needs its own
 * transaction on the same connection meanwhile (audit append/import, a second begin or
 * blob_get(write)) is refused with GW_ERR_BUSY.
 *
 * Advisory locks: blobs use the one-key lock hashtextextended(name, 0) per name, job locks
 * hashtextextended('ferry:' || name, 0); migration uses a two-key lock (a separate key
 * space). The users lock is the ferry_users_rev row (SELECT ... FOR UPDATE). */
#ifndef FERRY_GATEWAY_STATEDB_H
#define FERRY_GATEWAY_STATEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/users.h"

#define GW_STATEDB_SCHEMA 1
#define GW_STATEDB_NOTIFY_USERS "ferry_users"

struct gw_statedb;

/* Connects to url (a postgresql:// URI or key=value conninfo). Adds connect_timeout=5
 * and application_name=ferry unless the url sets them. */
int gw_statedb_open(const char *url, struct gw_statedb **out, char *err, size_t errsz);
void gw_statedb_close(struct gw_statedb *db); /* NULL is a no-op */
bool gw_statedb_ok(const struct gw_statedb *db);
/* Reconnects a broken connection (LISTENs are re-issued). */
int gw_statedb_reset(struct gw_statedb *db, char *err, size_t errsz);
/* The connection's socket, for poll(2) (-1 when down). */
int gw_statedb_socket(const struct gw_statedb *db);
/* url with any password replaced by "***", for logs and messages. Pure. */
void gw_statedb_redact(const char *url, char *out, size_t outsz);

/* Creates the schema or migrates it to GW_STATEDB_SCHEMA: versioned steps, each in
 * one transaction under an advisory lock (two nodes migrating at once is safe), and
 * idempotent. *from: the version found (0 for an empty database). GW_ERR_PROTO when the
 * database is newer than this binary. */
int gw_statedb_migrate(struct gw_statedb *db, int *from, char *err, size_t errsz);
/* The version present (0: none). `ferry serve` refuses to start unless it is
 * GW_STATEDB_SCHEMA, and says to run `ferry db migrate`. */
int gw_statedb_version(struct gw_statedb *db, int *version, char *err, size_t errsz);

/* ---- users ---- */
/* Every user, validated exactly as the users file parser validates (auth_db_parse), and
 * the revision they were read at. A row that would not be a valid line of the users
 * file (or holds a line break or a misplaced ':') is GW_ERR_CONFIG with "user NAME:
 * reason" in err, as auth_db_load reports a bad line. Users come ordered by name. */
int gw_statedb_users_load(struct gw_statedb *db, struct auth_db *out, int64_t *rev, char *err,
                          size_t errsz);
/* The current revision (one cheap query). */
int gw_statedb_users_rev(struct gw_statedb *db, int64_t *rev, char *err, size_t errsz);
/* Read-modify-write for `ferry user`: begin opens a transaction, takes the users lock
 * (concurrent editors wait) and loads; commit replaces the table's content with *users,
 * bumps the revision and notifies GW_STATEDB_NOTIFY_USERS; abort rolls back. */
int gw_statedb_users_begin(struct gw_statedb *db, struct auth_db *out, char *err, size_t errsz);
int gw_statedb_users_commit(struct gw_statedb *db, const struct auth_db *users, char *err,
                            size_t errsz);
void gw_statedb_users_abort(struct gw_statedb *db);
/* LISTEN GW_STATEDB_NOTIFY_USERS on this connection. */
int gw_statedb_listen_users(struct gw_statedb *db, char *err, size_t errsz);
/* Reads what arrived on the socket without blocking; true when a users notification
 * was among it. A broken connection returns false and makes gw_statedb_ok false. */
bool gw_statedb_users_notified(struct gw_statedb *db);

/* ---- audit ---- */
/* Appends n records in order in one transaction: locks the chain head row (SELECT ...
 * FOR UPDATE), encodes each with audit_encode chained to the previous hash (key as
 * there; a record's ts_ms must be set: it is when the event happened, not when it got
 * here), inserts them, moves the head. All or nothing. node names the writer (its
 * hostname or `node_name`), stored beside each line. A record audit_encode refuses
 * fails the whole call with its GW_ERR_INVAL or GW_ERR_TOOLONG ("audit record I: ..."):
 * retrying cannot help, unlike GW_ERR_IO / GW_ERR_TIMEOUT / GW_ERR_AGAIN. */
int gw_statedb_audit_append(struct gw_statedb *db, const char *node,
                            const struct audit_record *recs, size_t n, const unsigned char *key,
                            size_t keylen, char *err, size_t errsz);
/* Writes every record line with its '\n', oldest first, to fd (streamed in batches, not
 * loaded whole): `ferry audit` and `ferry audit verify` read that as they read a file. */
int gw_statedb_audit_dump(struct gw_statedb *db, int fd, char *err, size_t errsz);
/* `ferry db import`: appends the lines of an existing audit file verbatim (they are
 * already chained) to an EMPTY audit table and sets the head to the last line's hash.
 * GW_ERR_EXIST when the table has records. buf holds whole lines. Every line must parse
 * as a record with prev and hash, and chain to the line before (GW_ERR_PROTO "line N:
 * ..." otherwise, nothing imported); hashes are not recomputed (no key is needed: that
 * is `ferry audit verify`'s job). The lines are stored with node "import". */
int gw_statedb_audit_import(struct gw_statedb *db, const char *buf, size_t len, uint64_t *records,
                            char *err, size_t errsz);

/* ---- login throttling across nodes ---- */
/* Counts one failure for addr (numeric, no port) and returns the address's failures in
 * the last window_ms (older ones are forgotten). */
int gw_statedb_throttle_fail(struct gw_statedb *db, const char *addr, int64_t window_ms,
                             int64_t *fails, char *err, size_t errsz);
/* Failures counted for addr in the last window_ms (0 when none). */
int gw_statedb_throttle_get(struct gw_statedb *db, const char *addr, int64_t window_ms,
                            int64_t *fails, char *err, size_t errsz);
/* A successful login clears addr. */
int gw_statedb_throttle_ok(struct gw_statedb *db, const char *addr, char *err, size_t errsz);

/* ---- named blobs (WebDAV locks and dead properties) ---- */
/* Reads blob name into out (replacing its content; *found false and out empty when there
 * is none). write true opens a transaction and keeps the name locked (across nodes) until
 * gw_statedb_blob_put or gw_statedb_blob_end; a name locked by another connection is
 * GW_ERR_BUSY at once, never a wait. */
int gw_statedb_blob_get(struct gw_statedb *db, const char *name, bool write, struct gw_buf *out,
                        bool *found, char *err, size_t errsz);
/* Replaces the held blob (len 0 deletes it) and commits. */
int gw_statedb_blob_put(struct gw_statedb *db, const char *name, const void *body, size_t len,
                        char *err, size_t errsz);
/* Releases a held blob unchanged (rollback). Harmless when nothing is held. */
void gw_statedb_blob_end(struct gw_statedb *db);

/* ---- `ferry db status` ---- */
struct gw_statedb_node {
    char *node; /* "" when none was stored */
    int64_t records;
};
struct gw_statedb_status {
    int version; /* 0: no schema (then nothing else is filled) */
    int64_t users, users_rev;
    int64_t records;                    /* audit records */
    int64_t head_seq;                   /* seq of the chain's last record (0: none) */
    char head_hash[AUDIT_HASH_HEX + 1]; /* "" before the first record */
    struct gw_statedb_node *nodes;      /* audit records per node, by name */
    size_t nnodes;
    int64_t blobs, throttled; /* named blobs; addresses with counted failures */
};
/* Fills st (free with gw_statedb_status_free, also after an error). */
int gw_statedb_status(struct gw_statedb *db, struct gw_statedb_status *st, char *err, size_t errsz);
void gw_statedb_status_free(struct gw_statedb_status *st);

/* ---- users rows (pure; exported for the tests) ---- */
/* Appends the users-file line "NAME:HASH:HOME:FLAGS:KEYS\n" of one ferry_users row
 * (f[0..4] in that order). GW_ERR_INVAL when a field could change the line structure:
 * a line break anywhere, or a ':' in one of the first four (a row must never turn into
 * two users). Whether the fields are valid is then auth_db_parse's call. */
int gw_statedb_user_line(const char *const f[5], struct gw_buf *out);
/* Splits one line as auth_db_format writes it (without its '\n') into the five columns:
 * the first four end at a ':', KEYS is the rest. Pointers into line. GW_ERR_PROTO when
 * there are fewer than four ':'. */
int gw_statedb_user_split(const char *line, size_t len, const char *f[5], size_t flen[5]);

/* ---- job locks ---- */
/* Tries the session advisory lock named name (hashed to a 64-bit key): *got false when
 * another connection holds it. Held until gw_statedb_unlock or the connection closes -
 * a crashed job never leaves a stale lock. */
int gw_statedb_try_lock(struct gw_statedb *db, const char *name, bool *got, char *err,
                        size_t errsz);
int gw_statedb_unlock(struct gw_statedb *db, const char *name, char *err, size_t errsz);

#endif
