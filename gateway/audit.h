/* The audit log: JSON Lines at STATE/audit.jsonl, one record per line, appended with
 * one write(2) on an O_APPEND descriptor, and chained: every record carries `prev` (the
 * previous record's hash, 64 zero hex digits for the first record of a chain) and
 * `hash` = hex SHA-256 (or HMAC-SHA256 with a key) over prev's 32 raw bytes followed by
 * the record's canonical form: the exact bytes of the line from its opening '{' up to,
 * not including, the `,"hash":` member, followed by '}'. The writer always emits the
 * members in the fixed order of struct audit_record with `prev` and `hash` last, so the
 * canonical form is the line itself minus its hash. Only the parent process writes it.
 *
 * Example line (wrapped here):
 *   {"ts":"2026-11-28T14:03:07.123Z","event":"upload","proto":"sftp","session":"9f..",
 *    "user":"alice","remote":"192.0.2.7:50122","path":"/in/a.csv","bytes":1024,
 *    "status":"ok","prev":"00..00","hash":"5e..c1"}
 *
 * Appends take an flock(2) on the file for the duration of one write and, when the file
 * changed under us (another writer, or logrotate's copytruncate emptied it), re-read its
 * tail first, so the chain stays unbroken even with several writers.
 *
 * Rotation needs no signal: under the lock, every append compares the open file with
 * what the path names now (fstat vs stat: one system call per record), and when the
 * file was renamed away (`ferry audit rotate`, logrotate `create`) it first adopts the
 * old file's final tail, then moves to the new file (creating it if nothing has yet),
 * whose first record chains to the old file's last hash (or, when the old file is not
 * path.1 because this writer slept through several rotations, to path.1's last). A
 * writer that starts on an empty or missing file continues the chain of the newest
 * rotation (path.1, else path.1.gz, read whole). Verification across files passes
 * each file's last hash as the next file's start_prev. SIGHUP (audit_reopen) still
 * works and is harmless.
 *
 * Use `ferry audit rotate --compress` (it takes the writers' lock around the rename,
 * so no record can land in the old file after it) or logrotate `nocreate`/`create` +
 * `delaycompress` (doc/logrotate.ferry): logrotate does not take the lock, so
 * compressing the file it just renamed could race an append that began before the
 * rename, and a compressed path.1 costs writers a whole read of it after rotation.
 * `copytruncate` also works but loses the records written between its copy and its
 * truncate (verify then reports them missing across the two files), so prefer the
 * others. Rotated names must be path.N or path.N.gz (no `dateext`).
 *
 * A chain is only as strong as its anchor: records removed from the end of the newest
 * file, or from the start of the oldest one, leave a consistent chain. The keyed chain
 * (HMAC-SHA256, audit_key = FILE) stops someone who can write the log but not read the
 * key from re-hashing an edited log.
 *
 * Field names and meanings: DESIGN.md "Audit log". */
#ifndef FERRY_GATEWAY_AUDIT_H
#define FERRY_GATEWAY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/buf.h"

#define AUDIT_HASH_HEX 64

/* One record. Strings may be NULL (member omitted); numbers < 0 are omitted. ts_ms <= 0
 * means "now" (audit_encode and audit_append read the wall clock). */
struct audit_record {
    int64_t ts_ms;     /* ms since the epoch; 0 = now */
    const char *event; /* login, login_failed, logout, upload, download, delete,
                          rename, mkdir, rmdir, verify, mirror */
    const char *proto; /* ftp, ftps, sftp, webdav, mirror */
    const char *session;
    const char *user;
    const char *remote; /* addr:port ([v6]:port) */
    const char *path;
    const char *path2; /* rename target */
    int64_t bytes;
    int64_t offset; /* resume start */
    int64_t size;
    int64_t duration_ms;
    const char *status; /* ok, failed, aborted */
    const char *error;
    const char *sha256; /* hex, of the whole file when known */
};

/* Initialises every number to -1 and every string to NULL. */
void audit_record_init(struct audit_record *r);

/* A record kept beyond its caller (batches, queues): audit_record_strings_size(r) bytes
 * hold its strings, and audit_record_copy makes *dst = *src with the strings copied
 * into mem (NULL stays NULL), so dst lives as long as mem. */
size_t audit_record_strings_size(const struct audit_record *r);
void audit_record_copy(struct audit_record *dst, const struct audit_record *src, char *mem);

/* True when event, proto and status are known values and the required members are
 * present (event, status). The parent checks records from sessions with this. */
bool audit_record_valid(const struct audit_record *r);

/* Encodes r as one line (with '\n') chained to prev_hex, appending it to out; writes the
 * new hash (hex, NUL-terminated) into hash_hex. prev_hex NULL starts a chain (64 zeros);
 * otherwise it must be 64 lowercase hex digits. key may be NULL (plain SHA-256). Pure
 * except for reading the clock when r->ts_ms <= 0. GW_ERR_INVAL for a bad prev_hex or
 * timestamp, GW_ERR_TOOLONG when the line would exceed GW_MAX_AUDIT_LINE; on error out
 * is left as it was. */
int audit_encode(const struct audit_record *r, const char prev_hex[AUDIT_HASH_HEX + 1],
                 const unsigned char *key, size_t keylen, struct gw_buf *out,
                 char hash_hex[AUDIT_HASH_HEX + 1]);

struct audit_log;

/* Opens (creating 0600) the log for appending. The chain continues from the hash of
 * the file's last complete record; a truncated last line is left as is (verify reports
 * it) and the chain continues from the last complete record: the next append starts
 * with a '\n' so the truncated line stays a line of its own. key may be NULL; it is
 * copied. */
int audit_open(const char *path, const unsigned char *key, size_t keylen, struct audit_log **out);
/* Appends one record (one write(2), retried on EINTR and short writes). */
int audit_append(struct audit_log *log, const struct audit_record *r);
/* Appends n records in order with one lock, one rotation check and one write(2): the
 * batch is chained as n single appends would be (records with ts_ms <= 0 all get the
 * time of the call). All or nothing as far as the chain is concerned: on an error the
 * next append continues from what the file really ends with. */
int audit_append_many(struct audit_log *log, const struct audit_record *recs, size_t n);
/* Closes and reopens the file at the same path (log rotation), keeping the chain: a
 * new empty file continues from the last hash written; a non-empty one from its tail. */
int audit_reopen(struct audit_log *log);
void audit_close(struct audit_log *log);

enum audit_verdict {
    AUDIT_INTACT = 0,
    AUDIT_EDITED,    /* a record's hash does not match its content */
    AUDIT_BROKEN,    /* a record's prev is not the previous record's hash (deleted or
                        reordered line) */
    AUDIT_TRUNCATED, /* the last line is incomplete */
    AUDIT_MALFORMED  /* a line is not a record at all */
};

struct audit_verify_result {
    enum audit_verdict verdict;
    uint64_t records; /* complete records checked */
    uint64_t line;    /* 1-based line of the first problem, 0 when intact */
    char last_hash[AUDIT_HASH_HEX + 1];
    char reason[256]; /* one line for humans: "line 17: record edited (hash mismatch)" */
    char first_prev[AUDIT_HASH_HEX + 1]; /* prev of the first record ("" when none): not
                                            all zeros means earlier records are elsewhere */
};

/* Verifies a whole log held in memory (pure). start_prev: the hash the first record
 * must chain to, or NULL to accept whatever the first record says. On x86-64 CPUs with
 * the SHA extensions, records in the writer's form are hashed two at a time (the
 * environment variable FERRY_AUDIT_SHA2X=0 turns that off, for tests comparing both);
 * the verdict, line and reason are the same either way. */
int audit_verify_buf(const char *buf, size_t len, const char *start_prev, const unsigned char *key,
                     size_t keylen, struct audit_verify_result *res);
/* Verifies a file, streaming (never loads it whole); gzip-compressed files (rotated
 * audit.jsonl.N.gz) are read transparently. Returns 0 with the verdict in res, or a
 * GW_ERR_* when the file cannot be read at all. Corrupt compressed data is a verdict
 * (AUDIT_MALFORMED), not an error. */
int audit_verify_file(const char *path, const char *start_prev, const unsigned char *key,
                      size_t keylen, struct audit_verify_result *res);

/* ---- Additions: timestamps, keys, the line parser, reading logs, xferlog. ---- */

#define AUDIT_TS_LEN 24    /* "2026-11-28T14:03:07.123Z" */
#define AUDIT_MIN_KEY 16   /* a shorter key protects nothing */
#define AUDIT_MAX_KEY 1024 /* bytes of an audit key */

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds. GW_ERR_INVAL outside
 * years 1970..9999. Pure. */
int audit_format_ts(int64_t ts_ms, char out[AUDIT_TS_LEN + 1]);
/* Parses exactly the writer's form (AUDIT_TS_LEN bytes, 'Z', milliseconds). Pure. */
int audit_parse_ts(const char *s, size_t n, int64_t *ts_ms);

/* Loads an audit key file (`audit_key = FILE`, `--key FILE`): its bytes, minus one
 * trailing "\n" or "\r\n" (so `openssl rand -hex 32 > key` works), AUDIT_MIN_KEY to
 * AUDIT_MAX_KEY bytes (GW_ERR_INVAL when shorter, GW_ERR_TOOLONG when longer). The
 * server and `ferry audit verify` must both load keys with this, or a key file ending
 * in a newline would give them different keys. *key is malloc'd; release it with
 * audit_key_free (which wipes it). */
int audit_key_load(const char *path, unsigned char **key, size_t *keylen);
void audit_key_free(unsigned char *key, size_t keylen);

/* One line parsed. */
struct audit_line {
    struct audit_record rec;       /* strings point into the caller's storage; ts_ms -1
                                      when the line has no ts */
    char prev[AUDIT_HASH_HEX + 1]; /* "" when absent */
    char hash[AUDIT_HASH_HEX + 1]; /* "" when absent */
    size_t hash_member;            /* offset of the ',' of the final `,"hash":` member (the
                                      canonical form is line[0..hash_member) + '}'); 0 when absent */
    unsigned char prev_raw[32], hash_raw[32]; /* prev and hash decoded (valid when the
                                                 hex forms are not "") */
};

/* Parses one line (without its '\n') as a flat JSON object whose members are strings,
 * numbers, true, false or null, as the writer produces (whitespace and every JSON
 * escape, \uXXXX with surrogate pairs, are accepted). Known members must have their
 * type (strings, or non-negative integers for bytes/offset/size/duration_ms; null means
 * absent), may not repeat, and `hash`, when present, must be the last member and 64
 * lowercase hex digits like `prev`. Unknown members are ignored. storage (at least
 * len + 1 bytes) receives the decoded strings. Pure.
 * Returns 0; GW_ERR_AGAIN when the line ends inside the object (a truncated record);
 * GW_ERR_PROTO when it is not such an object; GW_ERR_INVAL when storage is too small. */
int audit_parse_line(const char *line, size_t len, char *storage, size_t storage_len,
                     struct audit_line *out);
/* audit_parse_line is these two: the fast path for lines in the writer's own form (no
 * whitespace, escapes, nulls or unknown members; strings and integers of the right
 * types, read in place), and the general parser for everything else. The fast path
 * returns true when it parsed the line, with *out exactly as the general parser would
 * fill it; false when it is not sure, and only the general parser decides what is
 * wrong with a line. storage (len + 1 bytes) may be NULL for the fast path: then string
 * and number members are not stored (NULL, -1), as verification needs only prev, hash
 * and hash_member. Exported so that tests and fuzzing can hold the two to agreeing.
 * Pure. */
bool audit_parse_line_fast(const char *line, size_t len, char *storage, struct audit_line *out);
int audit_parse_line_general(const char *line, size_t len, char *storage, size_t storage_len,
                             struct audit_line *out);

/* Reads the lines of a log file, plain or gzip (zlib reads both), in GW_IO_CHUNK
 * blocks: never the whole file. */
struct audit_reader;

#define AUDIT_LINE_NEWLINE 1u /* the line ended with '\n' (else: the file's unterminated tail) */
#define AUDIT_LINE_TOOLONG 2u /* longer than GW_MAX_AUDIT_LINE: cut there, rest skipped */

int audit_reader_open(const char *path, struct audit_reader **out);
/* The next line without its '\n', valid until the next call. Returns 1 with a line, 0
 * at the end, GW_ERR_IO on a read error, GW_ERR_PROTO on corrupt compressed data. */
int audit_reader_next(struct audit_reader *rd, const char **line, size_t *len, unsigned *flags);
void audit_reader_close(struct audit_reader *rd);

/* The files of the log at path, oldest first: its rotations path.N or path.N.gz (N
 * descending; the plain file wins when both exist, as logrotate compresses a copy),
 * then path itself when it exists. *files is NULL-terminated, free with
 * audit_files_free. GW_ERR_NOENT when none exists. */
int audit_files(const char *path, char ***files, size_t *n);
void audit_files_free(char **files);

/* Verifies the files in order as one chain (each file's last hash is the next one's
 * start_prev; a file with no records passes the chain on). *bad is set to the index of
 * the file holding the problem (or n when intact). Returns 0 or GW_ERR_* as
 * audit_verify_file (then *bad is the file that could not be read). */
int audit_verify_files(char *const *files, size_t n, const unsigned char *key, size_t keylen,
                       struct audit_verify_result *res, size_t *bad);

/* Appends the classic wu-ftpd xferlog line (with '\n') for an upload or download
 * record; GW_ERR_INVAL for any other event. Fields, space-separated:
 *   current-time    "Www Mmm dd hh:mm:ss yyyy" in local time (TZ), as wu-ftpd
 *   transfer-time   whole seconds, rounded, at least 1
 *   remote-host     the address of `remote` without its port
 *   file-size       bytes transferred
 *   filename        path; spaces and control bytes become '_' (ProFTPD's rule)
 *   transfer-type   b (binary: Ferry never converts)
 *   special-action  _ (none)
 *   direction       o outgoing (download), i incoming (upload)
 *   access-mode     a anonymous (user anonymous or ftp), r real user
 *   username        user, or * when unknown
 *   service-name    the proto (ftp, ftps, sftp, webdav, mirror)
 *   auth-method     0 (none)
 *   auth-user-id    *
 *   completion      c when status is ok, i otherwise */
int audit_xferlog_line(const struct audit_record *r, struct gw_buf *out);

/* Parses a --since/--until time: "2026-11-28", "2026-11-28T14[:03[:07[.123]]][Z]" (a
 * space may replace the T; times are UTC like the log), "now", or an age "90s", "15m",
 * "2h", "7d", "2w" before now_ms. Pure. */
int audit_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);

/* ---- Additions: the writer's other outputs, rotation. ---- */

/* The other outputs of audit records: the classic xferlog line of every transfer
 * (audit_xferlog_line) and a syslog line of every record (audit_syslog_line, facility
 * authpriv, through syslog_hook when set). The file log and the state database link
 * (gateway/statesync.c) both write them through this. An xferlog renamed away
 * (logrotate `create`) is followed; a failing output is logged when it starts and
 * when it stops failing, never at the cost of the audit record. */
struct audit_outputs {
    int xfd; /* xferlog, -1 when none */
    char *xpath;
    bool use_syslog;
    void (*syslog_hook)(void *arg, int priority, const char *line);
    void *syslog_arg;
    struct gw_buf aux; /* one xferlog or syslog line */
    bool failing;      /* the xferlog is failing (logged once) */
};
void audit_outputs_init(struct audit_outputs *o);
/* Opens (creating 0600) xferlog_path (NULL or "": none) and sets syslog on or off; on
 * an error the previous outputs stay. */
int audit_outputs_set(struct audit_outputs *o, const char *xferlog_path, bool use_syslog);
/* The lines of r; hash (the record's chain hash) may be NULL. */
void audit_outputs_emit(struct audit_outputs *o, const struct audit_record *r, const char *hash);
/* Reopens the xferlog at its path (SIGHUP, log rotation). */
void audit_outputs_reopen(struct audit_outputs *o);
void audit_outputs_free(struct audit_outputs *o);

/* Makes the writer also emit, for every record it appends (after the record is in the
 * audit log, which stays the authority):
 *   - xferlog_path (NULL or "" for none): for each upload and download record, exactly
 *     one audit_xferlog_line() with the record's own time, appended with one write(2)
 *     to a file opened O_APPEND (created 0600). Like the audit log it is reopened when
 *     its path names another file (logrotate `create`) and on audit_reopen();
 *     `copytruncate` is fine for it (it has no chain).
 *   - use_syslog: for every record, one audit_syslog_line() through syslog(3) with
 *     facility LOG_AUTHPRIV (records name users and addresses: on Debian they land in
 *     /var/log/auth.log, readable by root and adm only; fail2ban reads login_failed
 *     there), priority LOG_INFO for status ok and LOG_NOTICE otherwise. The ident is
 *     whatever openlog() set (gw_log_setup: "ferry", LOG_PID).
 * Failures of these outputs never fail audit_append: they are logged (gw_log) once
 * when they start and once when they end. Returns 0, or a GW_ERR_* when the xferlog
 * file cannot be opened (the previous outputs are then kept). May be called again
 * (SIGHUP with a changed config). */
int audit_set_outputs(struct audit_log *log, const char *xferlog_path, bool use_syslog);

/* Tests: syslog lines go to hook(arg, priority, line) instead of syslog(3). */
void audit_set_syslog_hook(struct audit_log *log,
                           void (*hook)(void *arg, int priority, const char *line), void *arg);

/* The syslog message for a record whose chain hash is hash_hex (may be NULL), without
 * a newline: "audit: " then space-separated key=value pairs, in the audit record's
 * member order (event proto session user remote path path2 bytes offset size
 * duration_ms status error sha256), absent members left out, then hash=HEX. A value
 * is written bare when it is printable ASCII without space, '"', '\' or '='; else
 * in double quotes with '"' and '\' escaped by '\' and control bytes as \xHH
 * (UTF-8 is kept), so no record can forge a second log line or field. Pure. */
int audit_syslog_line(const struct audit_record *r, const char *hash_hex, struct gw_buf *out);

/* Rotates the log at path like logrotate (`ferry audit rotate`): path.N(.gz) become
 * path.N+1(.gz) (newest = .1), those above keep (keep > 0) are deleted, and path
 * becomes path.1, all under the writers' lock, so a running writer moves to a new
 * path with its next append and chains on (it creates the file: rotation never does,
 * so the file keeps the writer's owner). compress: then every uncompressed rotation
 * but path.1 is gzipped (zlib, written beside as path.N.gz.tmp, synced, renamed) and
 * removed: path.1 stays plain, like logrotate's delaycompress, because a writer moving
 * to the new file may need the end of path.1, which in a gzip file means all of it.
 * Concurrent rotations are serialised by a lock on the directory. *rotated is set to false when
 * there was nothing to rotate (path missing or empty). err (may be NULL) receives one line for
 * humans on failure. */
int audit_rotate(const char *path, unsigned keep, bool compress, bool *rotated, char *err,
                 size_t errsz);

/* `ferry audit ...` (gateway/auditcmd.c); argv[0] is "audit". */
int audit_cmd_main(int argc, char **argv);

#endif
