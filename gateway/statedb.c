/* Shared state in PostgreSQL (statedb.h): one libpq connection per struct gw_statedb.
 * Every statement carrying data is sent with PQexecParams (user data never becomes SQL
 * text); blobs travel as binary bytea. After connecting, statement_timeout and
 * lock_timeout are set so a stuck database fails a caller instead of hanging it. */
#include "gateway/statedb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"

/* Two-key advisory locks (a key space apart from the one-key locks of try_lock and the
 * blobs): 'FERY' and what is locked. */
#define LOCK_CLASS "1179951705"
#define LOCK_MIGRATE "1"

/* Rows per INSERT (and per SELECT when dumping): big enough to amortise round trips,
 * small enough to keep one statement's parameters and memory modest. */
#define INSERT_BATCH 500
#define DUMP_BATCH "10000"

enum txn { TXN_NONE, TXN_USERS, TXN_BLOB };

struct gw_statedb {
    PGconn *conn;
    bool broken;    /* a statement failed with the connection gone */
    bool listening; /* LISTEN ferry_users issued (re-issued by reset) */
    enum txn txn;
};

/* ---- errors ---- */

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* libpq messages span lines ("...failed: Connection refused\n\tIs the server running");
 * ours are one line. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    char *w = s;
    bool space = false;
    for (char *r = s; *r; r++) {
        if (*r == '\n' || *r == '\r' || *r == '\t') {
            space = true;
            continue;
        }
        if (space && w > s)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
}

/* Classifies a failure and writes "what: message". */
static int fail(struct gw_statedb *db, PGresult *res, const char *what, char *err, size_t errsz)
{
    char msg[512];
    /* The primary message alone: no "ERROR:  " prefix, no DETAIL lines. */
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(db->conn);
    if (m && (!strncmp(m, "FATAL:  ", 8) || !strncmp(m, "ERROR:  ", 8)))
        m += 8;
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "unknown error");
    one_line(msg);
    seterr(err, errsz, "%s: %s", what, msg);
    int rc = GW_ERR_PROTO;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db->broken = true;
        db->txn = TXN_NONE;
        rc = GW_ERR_IO;
    } else if (state && (!strcmp(state, "57014") || !strcmp(state, "55P03"))) {
        rc = GW_ERR_TIMEOUT; /* statement_timeout, lock_timeout: the connection is fine */
    } else if (state && !strncmp(state, "40", 2)) {
        rc = GW_ERR_AGAIN; /* serialization failure or deadlock: rolled back, retry */
    } else if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))) {
        db->broken = true;
        rc = GW_ERR_IO;
    }
    return rc;
}

static int not_connected(char *err, size_t errsz)
{
    seterr(err, errsz, "not connected to the state database");
    return GW_ERR_IO;
}

/* Runs sql with n text parameters; 0 with *out (PQclear it) on success. */
static int run(struct gw_statedb *db, PGresult **out, const char *what, char *err, size_t errsz,
               const char *sql, int n, const char *const *vals)
{
    *out = NULL;
    if (!gw_statedb_ok(db))
        return not_connected(err, errsz);
    PGresult *res = PQexecParams(db->conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = fail(db, res, what, err, errsz);
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* Constant SQL, possibly several statements (PQexecParams takes only one). */
static int exec_sql(struct gw_statedb *db, const char *what, char *err, size_t errsz,
                    const char *sql)
{
    if (!gw_statedb_ok(db))
        return not_connected(err, errsz);
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail(db, res, what, err, errsz);
    PQclear(res);
    return rc;
}

/* run() for statements whose result is not needed. */
static int exec0(struct gw_statedb *db, const char *what, char *err, size_t errsz, const char *sql,
                 int n, const char *const *vals)
{
    PGresult *res;
    int rc = run(db, &res, what, err, errsz, sql, n, vals);
    PQclear(res);
    return rc;
}

/* Ends a failed transaction; a broken connection has none left. */
static void rollback(struct gw_statedb *db)
{
    db->txn = TXN_NONE;
    if (gw_statedb_ok(db) && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(db->conn, "ROLLBACK");
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            fail(db, res, "rollback", NULL, 0);
        PQclear(res);
    }
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return GW_ERR_PROTO;
    *v = x;
    return 0;
}

/* ---- connection ---- */

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

static int session_setup(struct gw_statedb *db, char *err, size_t errsz)
{
    PQsetNoticeProcessor(db->conn, quiet_notices, NULL);
    int rc = exec_sql(db, "setup", err, errsz,
                      "SET statement_timeout = '10s'; SET lock_timeout = '5s'; "
                      "SET client_min_messages = warning");
    if (rc == 0 && db->listening)
        rc = exec_sql(db, "listen", err, errsz, "LISTEN " GW_STATEDB_NOTIFY_USERS);
    return rc;
}

int gw_statedb_open(const char *url, struct gw_statedb **out, char *err, size_t errsz)
{
    char red[512];
    *out = NULL;
    gw_statedb_redact(url ? url : "", red, sizeof red);
    if (!url || !*url) {
        seterr(err, errsz, "no state database configured");
        return GW_ERR_CONFIG;
    }
    struct gw_statedb *db = calloc(1, sizeof *db);
    if (!db)
        return GW_ERR_NOMEM;
    /* Keywords are processed in order and later ones win: our defaults come first so
     * that whatever url sets overrides them. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "ferry", url, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    int rc = 0;
    if (!db->conn) {
        rc = GW_ERR_NOMEM;
        goto fail_db;
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(db->conn));
        one_line(msg);
        seterr(err, errsz, "cannot connect to %s: %s", red, msg);
        rc = GW_ERR_IO;
        goto fail_db;
    }
    rc = session_setup(db, err, errsz);
    if (rc < 0)
        goto fail_db;
    *out = db;
    return 0;
fail_db:
    gw_statedb_close(db);
    return rc;
}

void gw_statedb_close(struct gw_statedb *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    free(db);
}

bool gw_statedb_ok(const struct gw_statedb *db)
{
    return db && db->conn && !db->broken && PQstatus(db->conn) == CONNECTION_OK;
}

int gw_statedb_reset(struct gw_statedb *db, char *err, size_t errsz)
{
    if (!db || !db->conn)
        return not_connected(err, errsz);
    PQreset(db->conn);
    db->txn = TXN_NONE;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(db->conn));
        one_line(msg);
        seterr(err, errsz, "cannot reconnect to the state database: %s", msg);
        db->broken = true;
        return GW_ERR_IO;
    }
    db->broken = false;
    return session_setup(db, err, errsz);
}

int gw_statedb_socket(const struct gw_statedb *db)
{
    return gw_statedb_ok(db) ? PQsocket(db->conn) : -1;
}

/* ---- redaction (pure) ---- */

static void put(char *out, size_t outsz, size_t *w, const char *p, size_t n)
{
    for (size_t i = 0; i < n && *w + 1 < outsz; i++)
        out[(*w)++] = p[i];
}

/* key=value conninfo: every password value (bare or single-quoted) becomes ***. */
static void redact_kv(const char *s, char *out, size_t outsz, size_t *w)
{
    while (*s) {
        size_t sp = strspn(s, " \t\n\r");
        put(out, outsz, w, s, sp);
        s += sp;
        if (!*s)
            break;
        size_t klen = strcspn(s, "= \t\n\r");
        bool pw = klen == 8 && !strncmp(s, "password", 8);
        put(out, outsz, w, s, klen);
        s += klen;
        s += strspn(s, " \t");
        if (*s != '=')
            continue;
        put(out, outsz, w, "=", 1);
        s++;
        s += strspn(s, " \t");
        const char *v = s;
        if (*s == '\'') {
            s++;
            while (*s && *s != '\'') {
                if (*s == '\\' && s[1])
                    s++;
                s++;
            }
            if (*s == '\'')
                s++;
        } else {
            while (*s && !strchr(" \t\n\r", *s)) {
                if (*s == '\\' && s[1])
                    s++;
                s++;
            }
        }
        if (pw)
            put(out, outsz, w, "***", 3);
        else
            put(out, outsz, w, v, (size_t)(s - v));
    }
}

void gw_statedb_redact(const char *url, char *out, size_t outsz)
{
    size_t w = 0;
    if (!out || outsz == 0)
        return;
    const char *s = url ? url : "";
    size_t scheme = 0;
    if (!strncmp(s, "postgresql://", 13))
        scheme = 13;
    else if (!strncmp(s, "postgres://", 11))
        scheme = 11;
    if (!scheme) {
        redact_kv(s, out, outsz, &w);
        out[w] = '\0';
        return;
    }
    put(out, outsz, &w, s, scheme);
    s += scheme;
    /* userinfo ends at the last '@' before the path or query. */
    size_t auth = strcspn(s, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < auth; i++)
        if (s[i] == '@')
            at = s + i;
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon) {
            put(out, outsz, &w, s, (size_t)(colon - s) + 1);
            put(out, outsz, &w, "***", 3);
        } else {
            put(out, outsz, &w, s, (size_t)(at - s));
        }
        s = at;
    }
    /* The query may carry password=... too. */
    const char *q = strchr(s, '?');
    if (!q) {
        put(out, outsz, &w, s, strlen(s));
        out[w] = '\0';
        return;
    }
    put(out, outsz, &w, s, (size_t)(q - s) + 1);
    s = q + 1;
    while (*s) {
        size_t n = strcspn(s, "&");
        if (n >= 9 && !strncmp(s, "password=", 9)) {
            put(out, outsz, &w, "password=***", 12);
        } else {
            put(out, outsz, &w, s, n);
        }
        s += n;
        if (*s == '&') {
            put(out, outsz, &w, "&", 1);
            s++;
        }
    }
    out[w] = '\0';
}

/* ---- schema ---- */

/* Step i brings the schema from version i to i + 1. Each runs in one transaction, under
 * the migration lock, with IF NOT EXISTS so a half-known state cannot trip it. */
static const char *const steps[GW_STATEDB_SCHEMA] = {
    "CREATE TABLE IF NOT EXISTS ferry_users (name text PRIMARY KEY, hash text NOT NULL,"
    " home text NOT NULL, flags text NOT NULL DEFAULT '', keys text NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS ferry_users_rev (id int PRIMARY KEY CHECK (id = 1),"
    " rev bigint NOT NULL);"
    "INSERT INTO ferry_users_rev VALUES (1, 0) ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS ferry_audit (seq bigserial PRIMARY KEY, node text,"
    " line text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ferry_audit_head (id int PRIMARY KEY CHECK (id = 1),"
    " seq bigint NOT NULL, hash text NOT NULL);"
    "INSERT INTO ferry_audit_head VALUES (1, 0, '') ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS ferry_login_fails (addr text PRIMARY KEY, fails int NOT NULL,"
    " last_fail timestamptz NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ferry_blobs (name text PRIMARY KEY, body bytea NOT NULL,"
    " updated timestamptz NOT NULL DEFAULT now());",
};

static int read_version(struct gw_statedb *db, int *version, char *err, size_t errsz)
{
    PGresult *res;
    *version = 0;
    int rc = run(db, &res, "schema version", err, errsz,
                 "SELECT to_regclass('ferry_schema') IS NOT NULL", 0, NULL);
    if (rc < 0)
        return rc;
    bool exists = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (!exists)
        return 0;
    rc = run(db, &res, "schema version", err, errsz, "SELECT max(version) FROM ferry_schema", 0,
             NULL);
    if (rc < 0)
        return rc;
    int64_t v = 0;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && parse_i64(PQgetvalue(res, 0, 0), &v))
        rc = GW_ERR_PROTO;
    PQclear(res);
    if (rc < 0 || v < 0 || v > 1000000) {
        seterr(err, errsz, "schema version: unreadable ferry_schema");
        return GW_ERR_PROTO;
    }
    *version = (int)v;
    return 0;
}

int gw_statedb_version(struct gw_statedb *db, int *version, char *err, size_t errsz)
{
    return read_version(db, version, err, errsz);
}

int gw_statedb_migrate(struct gw_statedb *db, int *from, char *err, size_t errsz)
{
    int rc, v = 0;
    bool first = true;
    for (;;) {
        rc = exec_sql(db, "migrate", err, errsz,
                      "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_CLASS ", " LOCK_MIGRATE ");"
                      "CREATE TABLE IF NOT EXISTS ferry_schema (version int NOT NULL)");
        if (rc < 0)
            goto fail_txn;
        rc = read_version(db, &v, err, errsz);
        if (rc < 0)
            goto fail_txn;
        if (first && from)
            *from = v;
        first = false;
        if (v > GW_STATEDB_SCHEMA) {
            seterr(err, errsz,
                   "the database has schema version %d, newer than this ferry (%d): upgrade "
                   "ferry",
                   v, GW_STATEDB_SCHEMA);
            rc = GW_ERR_PROTO;
            goto fail_txn;
        }
        if (v == GW_STATEDB_SCHEMA)
            break;
        rc = exec_sql(db, "migrate", err, errsz, steps[v]);
        if (rc < 0)
            goto fail_txn;
        char next[16];
        snprintf(next, sizeof next, "%d", v + 1);
        const char *p[] = {next};
        rc = exec0(db, "migrate", err, errsz, "DELETE FROM ferry_schema", 0, NULL);
        if (rc == 0)
            rc =
                exec0(db, "migrate", err, errsz, "INSERT INTO ferry_schema VALUES ($1::int)", 1, p);
        if (rc < 0)
            goto fail_txn;
        rc = exec0(db, "migrate", err, errsz, "COMMIT", 0, NULL);
        if (rc < 0)
            goto fail_txn;
    }
    return exec0(db, "migrate", err, errsz, "COMMIT", 0, NULL);
fail_txn:
    rollback(db);
    return rc;
}

/* ---- users ---- */

/* A field may not break the line structure: no line break anywhere, no ':' in the
 * first four (the keys field is the rest of the line, as in the file). */
static bool user_field_ok(const char *s, bool last)
{
    return s && !strpbrk(s, last ? "\n\r" : ":\n\r");
}

int gw_statedb_user_line(const char *const f[5], struct gw_buf *out)
{
    for (int i = 0; i < 5; i++)
        if (!user_field_ok(f[i], i == 4))
            return GW_ERR_INVAL;
    return gw_buf_printf(out, "%s:%s:%s:%s:%s\n", f[0], f[1], f[2], f[3], f[4]);
}

int gw_statedb_user_split(const char *line, size_t len, const char *f[5], size_t flen[5])
{
    const char *p = line, *end = line + len;
    for (int i = 0; i < 4; i++) {
        const char *c = memchr(p, ':', (size_t)(end - p));
        if (!c)
            return GW_ERR_PROTO;
        f[i] = p;
        flen[i] = (size_t)(c - p);
        p = c + 1;
    }
    f[4] = p;
    flen[4] = (size_t)(end - p);
    return 0;
}

/* Builds the users-file text of res's rows (columns col..col+4; a NULL name is the empty
 * row of a LEFT JOIN) and parses it like the file, so the database is validated exactly
 * as STATE/users. The parser's "LINE: reason" becomes "user NAME: reason". */
static int rows_to_db(PGresult *res, int col, struct auth_db *out, char *err, size_t errsz)
{
    struct gw_buf b;
    char why[256];
    int rc = 0, n = PQntuples(res);
    gw_buf_init(&b, GW_MAX_USERS_FILE);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (PQgetisnull(res, i, col))
            continue;
        const char *f[5];
        for (int j = 0; j < 5; j++)
            f[j] = PQgetisnull(res, i, col + j) ? "" : PQgetvalue(res, i, col + j);
        rc = gw_statedb_user_line(f, &b);
        if (rc == GW_ERR_INVAL) {
            /* Bad content, like a line of the file that does not parse. */
            seterr(err, errsz, "user %.64s: a field holds a line break or ':'", f[0]);
            rc = GW_ERR_CONFIG;
        } else if (rc < 0)
            seterr(err, errsz, "users: %s", gw_strerror(rc));
    }
    if (rc < 0)
        goto out_buf;
    rc = auth_db_parse(b.data ? b.data : "", b.len, out, why, sizeof why);
    if (rc == GW_ERR_CONFIG) {
        char *end;
        unsigned long line = strtoul(why, &end, 10);
        /* Every row is one line, first line 1, in row order (NULL names skipped only
         * when there is no user at all). */
        if (end != why && *end == ':' && line >= 1 && line <= (unsigned long)n &&
            !PQgetisnull(res, (int)line - 1, col))
            seterr(err, errsz, "user %.64s:%s", PQgetvalue(res, (int)line - 1, col), end + 1);
        else
            seterr(err, errsz, "users: %s", why);
    } else if (rc < 0) {
        seterr(err, errsz, "users: %s", why);
    }
out_buf:
    gw_buf_free(&b);
    return rc;
}

int gw_statedb_users_load(struct gw_statedb *db, struct auth_db *out, int64_t *rev, char *err,
                          size_t errsz)
{
    PGresult *res;
    memset(out, 0, sizeof *out);
    /* One statement, one snapshot: the revision matches the rows. */
    int rc = run(db, &res, "users", err, errsz,
                 "SELECT r.rev, u.name, u.hash, u.home, u.flags, u.keys FROM ferry_users_rev r"
                 " LEFT JOIN ferry_users u ON true WHERE r.id = 1 ORDER BY u.name",
                 0, NULL);
    if (rc < 0)
        return rc;
    if (PQntuples(res) < 1 || parse_i64(PQgetvalue(res, 0, 0), rev)) {
        seterr(err, errsz, "users: no revision row (run ferry db migrate)");
        rc = GW_ERR_PROTO;
    } else {
        rc = rows_to_db(res, 1, out, err, errsz);
    }
    PQclear(res);
    return rc;
}

int gw_statedb_users_rev(struct gw_statedb *db, int64_t *rev, char *err, size_t errsz)
{
    PGresult *res;
    int rc = run(db, &res, "users revision", err, errsz,
                 "SELECT rev FROM ferry_users_rev WHERE id = 1", 0, NULL);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1 || parse_i64(PQgetvalue(res, 0, 0), rev)) {
        seterr(err, errsz, "users revision: no revision row (run ferry db migrate)");
        rc = GW_ERR_PROTO;
    }
    PQclear(res);
    return rc;
}

int gw_statedb_users_begin(struct gw_statedb *db, struct auth_db *out, char *err, size_t errsz)
{
    PGresult *res = NULL;
    memset(out, 0, sizeof *out);
    if (db && db->txn != TXN_NONE) {
        seterr(err, errsz, "users: a transaction is already open on this connection");
        return GW_ERR_BUSY;
    }
    int rc = exec0(db, "users", err, errsz, "BEGIN", 0, NULL);
    if (rc < 0)
        return rc;
    db->txn = TXN_USERS;
    /* The revision row is the users lock: a second editor waits here (up to
     * lock_timeout) and then reads what the first one committed. */
    rc = run(db, &res, "users lock", err, errsz,
             "SELECT rev FROM ferry_users_rev WHERE id = 1 FOR UPDATE", 0, NULL);
    if (rc < 0)
        goto fail_txn;
    bool have = PQntuples(res) == 1;
    PQclear(res);
    if (!have) {
        seterr(err, errsz, "users: no revision row (run ferry db migrate)");
        rc = GW_ERR_PROTO;
        goto fail_txn;
    }
    rc = run(db, &res, "users", err, errsz,
             "SELECT name, hash, home, flags, keys FROM ferry_users ORDER BY name", 0, NULL);
    if (rc < 0)
        goto fail_txn;
    rc = rows_to_db(res, 0, out, err, errsz);
    PQclear(res);
    if (rc < 0)
        goto fail_txn;
    return 0;
fail_txn:
    rollback(db);
    return rc;
}

/* INSERT of nrows rows of ncols text values each, INSERT_BATCH rows per statement:
 * prefix "INSERT INTO t (a, b) VALUES ", then "($1, $2), ...", then suffix. With a
 * RETURNING suffix, *last receives the largest first column returned. */
static int insert_rows(struct gw_statedb *db, const char *what, const char *prefix, int ncols,
                       const char *const *vals, size_t nrows, const char *suffix, int64_t *last,
                       char *err, size_t errsz)
{
    struct gw_buf sql;
    int rc = 0;
    gw_buf_init(&sql, 1u << 20);
    for (size_t done = 0; rc == 0 && done < nrows;) {
        size_t k = nrows - done < INSERT_BATCH ? nrows - done : INSERT_BATCH;
        gw_buf_reset(&sql);
        rc = gw_buf_puts(&sql, prefix);
        for (size_t r = 0; rc == 0 && r < k; r++) {
            rc = gw_buf_puts(&sql, r ? ",(" : "(");
            for (int c = 0; rc == 0 && c < ncols; c++)
                rc = gw_buf_printf(&sql, "%s$%zu", c ? "," : "", r * (size_t)ncols + (size_t)c + 1);
            if (rc == 0)
                rc = gw_buf_putc(&sql, ')');
        }
        if (rc == 0 && suffix)
            rc = gw_buf_puts(&sql, suffix);
        if (rc < 0) {
            seterr(err, errsz, "%s: %s", what, gw_strerror(rc));
            break;
        }
        PGresult *res;
        rc = run(db, &res, what, err, errsz, gw_buf_str(&sql), (int)(k * (size_t)ncols),
                 vals + done * (size_t)ncols);
        if (rc < 0)
            break;
        for (int i = 0; last && i < PQntuples(res); i++) {
            int64_t v;
            if (parse_i64(PQgetvalue(res, i, 0), &v) == 0 && v > *last)
                *last = v;
        }
        PQclear(res);
        done += k;
    }
    gw_buf_free(&sql);
    return rc;
}

int gw_statedb_users_commit(struct gw_statedb *db, const struct auth_db *users, char *err,
                            size_t errsz)
{
    struct gw_buf b;
    const char **vals = NULL;
    size_t nrows = 0;
    PGresult *res = NULL;
    int rc;
    gw_buf_init(&b, GW_MAX_USERS_FILE);
    if (!db || db->txn != TXN_USERS) {
        seterr(err, errsz, "users: commit without begin");
        rc = GW_ERR_INVAL;
        goto out_buf;
    }
    /* The file writer validates every field; its lines are split back into columns. */
    rc = auth_db_format(users, &b);
    if (rc < 0) {
        seterr(err, errsz, "users: %s", gw_strerror(rc));
        goto fail_txn;
    }
    vals = calloc(users->nusers ? users->nusers * 5 : 1, sizeof *vals);
    if (!vals) {
        rc = GW_ERR_NOMEM;
        goto fail_txn;
    }
    for (char *p = b.data; p && p < b.data + b.len;) {
        char *nl = memchr(p, '\n', (size_t)(b.data + b.len - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(b.data + b.len - p);
        if (len > 0 && p[0] != '#') {
            const char *f[5];
            size_t flen[5];
            if (nrows >= users->nusers || gw_statedb_user_split(p, len, f, flen)) {
                seterr(err, errsz, "users: the writer's output did not split");
                rc = GW_ERR_PROTO;
                goto fail_txn;
            }
            for (int i = 0; i < 5; i++) {
                ((char *)f[i])[flen[i]] = '\0'; /* the ':' or '\n' after the field */
                vals[nrows * 5 + (size_t)i] = f[i];
            }
            nrows++;
        }
        p += len + 1;
    }
    rc = exec0(db, "users", err, errsz, "DELETE FROM ferry_users", 0, NULL);
    if (rc == 0)
        rc = insert_rows(db, "users",
                         "INSERT INTO ferry_users (name, hash, home, flags, keys) VALUES ", 5, vals,
                         nrows, NULL, NULL, err, errsz);
    if (rc == 0)
        rc = run(db, &res, "users", err, errsz,
                 "UPDATE ferry_users_rev SET rev = rev + 1 WHERE id = 1 RETURNING rev", 0, NULL);
    if (rc < 0)
        goto fail_txn;
    const char *p[] = {GW_STATEDB_NOTIFY_USERS, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : ""};
    rc = exec0(db, "users", err, errsz, "SELECT pg_notify($1, $2)", 2, p);
    PQclear(res);
    if (rc < 0)
        goto fail_txn;
    db->txn = TXN_NONE;
    rc = exec0(db, "users commit", err, errsz, "COMMIT", 0, NULL);
    goto out_buf;
fail_txn:
    rollback(db);
out_buf:
    free(vals);
    gw_buf_free(&b);
    return rc;
}

void gw_statedb_users_abort(struct gw_statedb *db)
{
    if (db && db->txn == TXN_USERS)
        rollback(db);
}

int gw_statedb_listen_users(struct gw_statedb *db, char *err, size_t errsz)
{
    int rc = exec_sql(db, "listen", err, errsz, "LISTEN " GW_STATEDB_NOTIFY_USERS);
    if (rc == 0)
        db->listening = true;
    return rc;
}

bool gw_statedb_users_notified(struct gw_statedb *db)
{
    bool seen = false;
    if (!gw_statedb_ok(db))
        return false;
    if (!PQconsumeInput(db->conn)) {
        db->broken = true;
        db->txn = TXN_NONE;
        return false;
    }
    PGnotify *n;
    while ((n = PQnotifies(db->conn)) != NULL) {
        if (!strcmp(n->relname, GW_STATEDB_NOTIFY_USERS))
            seen = true;
        PQfreemem(n);
    }
    if (PQstatus(db->conn) != CONNECTION_OK)
        db->broken = true;
    return seen;
}

/* ---- audit ---- */

/* Locks the chain head; *prev receives its hash ("" before the first record). */
static int lock_head(struct gw_statedb *db, char prev[AUDIT_HASH_HEX + 1], char *err, size_t errsz)
{
    PGresult *res;
    int rc = run(db, &res, "audit head", err, errsz,
                 "SELECT hash FROM ferry_audit_head WHERE id = 1 FOR UPDATE", 0, NULL);
    if (rc < 0)
        return rc;
    const char *h = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
    if (!h || (*h && strlen(h) != AUDIT_HASH_HEX)) {
        seterr(err, errsz, "audit head: missing or malformed (run ferry db migrate)");
        rc = GW_ERR_PROTO;
    } else {
        snprintf(prev, AUDIT_HASH_HEX + 1, "%s", h);
    }
    PQclear(res);
    return rc;
}

static int move_head(struct gw_statedb *db, int64_t seq, const char *hash, char *err, size_t errsz)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, seq);
    const char *p[] = {s, hash};
    return exec0(db, "audit head", err, errsz,
                 "UPDATE ferry_audit_head SET seq = $1::bigint, hash = $2 WHERE id = 1", 2, p);
}

int gw_statedb_audit_append(struct gw_statedb *db, const char *node,
                            const struct audit_record *recs, size_t n, const unsigned char *key,
                            size_t keylen, char *err, size_t errsz)
{
    char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
    struct gw_buf lines;
    const char **vals = NULL;
    size_t *offs = NULL;
    int64_t last = 0;
    int rc;
    if (n == 0)
        return 0;
    if (db && db->txn != TXN_NONE) {
        seterr(err, errsz, "audit: a transaction is already open on this connection");
        return GW_ERR_BUSY;
    }
    gw_buf_init(&lines, SIZE_MAX / 2);
    vals = calloc(n * 2, sizeof *vals);
    offs = calloc(n, sizeof *offs);
    if (!vals || !offs) {
        rc = GW_ERR_NOMEM;
        goto out_free;
    }
    rc = exec0(db, "audit", err, errsz, "BEGIN", 0, NULL);
    if (rc < 0)
        goto out_free;
    rc = lock_head(db, prev, err, errsz);
    if (rc < 0)
        goto fail_txn;
    for (size_t i = 0; i < n; i++) {
        offs[i] = lines.len;
        rc = audit_encode(&recs[i], prev[0] ? prev : NULL, key, keylen, &lines, hash);
        if (rc < 0) {
            seterr(err, errsz, "audit record %zu: %s", i + 1, gw_strerror(rc));
            goto fail_txn;
        }
        memcpy(prev, hash, sizeof prev);
    }
    /* Lines are stored without their '\n': cut the buffer there. */
    for (size_t i = 0; i < n; i++) {
        lines.data[(i + 1 < n ? offs[i + 1] : lines.len) - 1] = '\0';
        vals[2 * i] = node ? node : "";
        vals[2 * i + 1] = lines.data + offs[i];
    }
    rc = insert_rows(db, "audit", "INSERT INTO ferry_audit (node, line) VALUES ", 2, vals, n,
                     " RETURNING seq", &last, err, errsz);
    if (rc == 0)
        rc = move_head(db, last, prev, err, errsz);
    if (rc < 0)
        goto fail_txn;
    rc = exec0(db, "audit commit", err, errsz, "COMMIT", 0, NULL);
    goto out_free;
fail_txn:
    rollback(db);
out_free:
    free(offs);
    free(vals);
    gw_buf_free(&lines);
    return rc;
}

int gw_statedb_audit_dump(struct gw_statedb *db, int fd, char *err, size_t errsz)
{
    struct gw_buf out;
    char after[32] = "0";
    int rc = 0;
    gw_buf_init(&out, SIZE_MAX / 2);
    /* Keyset pagination: each batch is one short statement (no transaction held open
     * while the reader is slow), and records appended meanwhile come at the end. */
    for (;;) {
        PGresult *res;
        const char *p[] = {after};
        rc = run(db, &res, "audit", err, errsz,
                 "SELECT seq, line FROM ferry_audit WHERE seq > $1::bigint ORDER BY seq "
                 "LIMIT " DUMP_BATCH,
                 1, p);
        if (rc < 0)
            break;
        int rows = PQntuples(res);
        gw_buf_reset(&out);
        for (int i = 0; rc == 0 && i < rows; i++) {
            rc = gw_buf_append(&out, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
            if (rc == 0)
                rc = gw_buf_putc(&out, '\n');
        }
        if (rows > 0)
            snprintf(after, sizeof after, "%s", PQgetvalue(res, rows - 1, 0));
        PQclear(res);
        if (rc == 0)
            rc = gw_write_all(fd, out.data ? out.data : "", out.len);
        if (rc < 0) {
            seterr(err, errsz, "audit: writing the records: %s", gw_strerror(rc));
            break;
        }
        if (rows == 0)
            break;
    }
    gw_buf_free(&out);
    return rc;
}

int gw_statedb_audit_import(struct gw_statedb *db, const char *buf, size_t len, uint64_t *records,
                            char *err, size_t errsz)
{
    char prev[AUDIT_HASH_HEX + 1], last_hash[AUDIT_HASH_HEX + 1] = "";
    char *copy = NULL, *storage = NULL;
    const char **vals = NULL;
    size_t nlines = 0, cap = 0;
    int64_t last = 0;
    PGresult *res = NULL;
    int rc;
    *records = 0;
    if (db && db->txn != TXN_NONE) {
        seterr(err, errsz, "audit: a transaction is already open on this connection");
        return GW_ERR_BUSY;
    }
    copy = malloc(len + 1);
    storage = malloc(GW_MAX_AUDIT_LINE + 1);
    if (!copy || !storage) {
        rc = GW_ERR_NOMEM;
        goto out_free;
    }
    if (len)
        memcpy(copy, buf, len);
    copy[len] = '\0';
    /* Every line must be a record chained to the one before: the head is set from the
     * last, and a gap here would be a break nobody could see came from the import. */
    for (char *p = copy; p < copy + len;) {
        char *nl = memchr(p, '\n', (size_t)(copy + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(copy + len - p);
        struct audit_line al;
        if (n > GW_MAX_AUDIT_LINE ||
            audit_parse_line(p, n, storage, GW_MAX_AUDIT_LINE + 1, &al) != 0 || !al.hash[0] ||
            !al.prev[0]) {
            seterr(err, errsz, "line %zu: not a complete audit record", nlines + 1);
            rc = GW_ERR_PROTO;
            goto out_free;
        }
        if (nlines > 0 && strcmp(al.prev, last_hash)) {
            seterr(err, errsz,
                   "line %zu: does not chain to the line before (run ferry audit verify on "
                   "the log)",
                   nlines + 1);
            rc = GW_ERR_PROTO;
            goto out_free;
        }
        memcpy(last_hash, al.hash, sizeof last_hash);
        if (nlines == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            const char **nv = realloc(vals, ncap * 2 * sizeof *nv);
            if (!nv) {
                rc = GW_ERR_NOMEM;
                goto out_free;
            }
            vals = nv;
            cap = ncap;
        }
        p[n] = '\0';
        vals[2 * nlines] = "import";
        vals[2 * nlines + 1] = p;
        nlines++;
        p += n + 1;
    }
    rc = exec0(db, "audit import", err, errsz, "BEGIN", 0, NULL);
    if (rc < 0)
        goto out_free;
    rc = lock_head(db, prev, err, errsz);
    if (rc == 0)
        rc = run(db, &res, "audit import", err, errsz, "SELECT EXISTS (SELECT 1 FROM ferry_audit)",
                 0, NULL);
    if (rc < 0)
        goto fail_txn;
    bool nonempty = PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "f");
    PQclear(res);
    if (nonempty || prev[0]) {
        seterr(err, errsz, "the audit table already holds records: import only into an empty one");
        rc = GW_ERR_EXIST;
        goto fail_txn;
    }
    if (nlines > 0) {
        rc = insert_rows(db, "audit import", "INSERT INTO ferry_audit (node, line) VALUES ", 2,
                         vals, nlines, " RETURNING seq", &last, err, errsz);
        if (rc == 0)
            rc = move_head(db, last, last_hash, err, errsz);
        if (rc < 0)
            goto fail_txn;
    }
    rc = exec0(db, "audit import", err, errsz, "COMMIT", 0, NULL);
    if (rc == 0)
        *records = nlines;
    goto out_free;
fail_txn:
    rollback(db);
out_free:
    free(vals);
    free(storage);
    free(copy);
    return rc;
}

/* ---- login throttling ---- */

int gw_statedb_throttle_fail(struct gw_statedb *db, const char *addr, int64_t window_ms,
                             int64_t *fails, char *err, size_t errsz)
{
    char w[32];
    PGresult *res;
    snprintf(w, sizeof w, "%" PRId64, window_ms);
    const char *p[] = {addr, w};
    /* The window slides with the last failure (like auth_throttle); rows of addresses
     * whose window has passed are dropped on the way, so the table stays small. */
    int rc =
        run(db, &res, "throttle", err, errsz,
            "WITH gc AS (DELETE FROM ferry_login_fails WHERE addr <> $1 AND last_fail < "
            "now() - $2::bigint * interval '1 millisecond') "
            "INSERT INTO ferry_login_fails AS f (addr, fails, last_fail) VALUES ($1, 1, now()) "
            "ON CONFLICT (addr) DO UPDATE SET fails = CASE WHEN f.last_fail >= now() - "
            "$2::bigint * interval '1 millisecond' THEN f.fails + 1 ELSE 1 END, "
            "last_fail = now() RETURNING fails",
            2, p);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1 || parse_i64(PQgetvalue(res, 0, 0), fails)) {
        seterr(err, errsz, "throttle: unexpected answer");
        rc = GW_ERR_PROTO;
    }
    PQclear(res);
    return rc;
}

int gw_statedb_throttle_get(struct gw_statedb *db, const char *addr, int64_t window_ms,
                            int64_t *fails, char *err, size_t errsz)
{
    char w[32];
    PGresult *res;
    snprintf(w, sizeof w, "%" PRId64, window_ms);
    const char *p[] = {addr, w};
    *fails = 0;
    int rc = run(db, &res, "throttle", err, errsz,
                 "SELECT fails FROM ferry_login_fails WHERE addr = $1 AND last_fail >= now() - "
                 "$2::bigint * interval '1 millisecond'",
                 2, p);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1 && parse_i64(PQgetvalue(res, 0, 0), fails)) {
        seterr(err, errsz, "throttle: unexpected answer");
        rc = GW_ERR_PROTO;
    }
    PQclear(res);
    return rc;
}

int gw_statedb_throttle_ok(struct gw_statedb *db, const char *addr, char *err, size_t errsz)
{
    const char *p[] = {addr};
    return exec0(db, "throttle", err, errsz, "DELETE FROM ferry_login_fails WHERE addr = $1", 1, p);
}

/* ---- named blobs ---- */

/* Locks name for this transaction: an advisory lock, not a row lock, so a name with no
 * row yet is locked too (two first writers must not both see "absent"). */
/* Takes the name's lock without waiting: a name held through another node is
 * GW_ERR_BUSY at once, so the parent's event loop never sits in a lock wait (the
 * session retries, session.h). The lock is the transaction's: it goes with it. */
static int lock_blob(struct gw_statedb *db, const char *name, char *err, size_t errsz)
{
    const char *p[] = {name};
    PGresult *res;
    int rc = run(db, &res, "blob lock", err, errsz,
                 "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", 1, p);
    if (rc < 0)
        return rc;
    bool got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!got) {
        seterr(err, errsz, "blob %.64s: held by another session", name);
        return GW_ERR_BUSY;
    }
    return 0;
}

int gw_statedb_blob_get(struct gw_statedb *db, const char *name, bool write, struct gw_buf *out,
                        bool *found, char *err, size_t errsz)
{
    PGresult *res = NULL;
    int rc;
    *found = false;
    gw_buf_reset(out);
    if (db && db->txn != TXN_NONE) {
        seterr(err, errsz, "blob: a transaction is already open on this connection");
        return GW_ERR_BUSY;
    }
    if (write) {
        rc = exec0(db, "blob", err, errsz, "BEGIN", 0, NULL);
        if (rc < 0)
            return rc;
        db->txn = TXN_BLOB;
        rc = lock_blob(db, name, err, errsz);
        if (rc < 0)
            goto fail_txn;
    }
    if (!gw_statedb_ok(db)) {
        rc = not_connected(err, errsz);
        goto fail_txn;
    }
    const char *p[] = {name};
    /* Binary result: bytea as raw bytes. */
    res = PQexecParams(db->conn, "SELECT body FROM ferry_blobs WHERE name = $1", 1, NULL, p, NULL,
                       NULL, 1);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = fail(db, res, "blob", err, errsz);
        goto fail_txn;
    }
    rc = 0;
    if (PQntuples(res) == 1) {
        *found = true;
        rc = gw_buf_append(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        if (rc < 0) {
            seterr(err, errsz, "blob %.64s: %s", name, gw_strerror(rc));
            *found = false;
            goto fail_txn;
        }
    }
    PQclear(res);
    return 0;
fail_txn:
    PQclear(res);
    if (write)
        rollback(db);
    return rc;
}

int gw_statedb_blob_put(struct gw_statedb *db, const char *name, const void *body, size_t len,
                        char *err, size_t errsz)
{
    int rc;
    PGresult *res = NULL;
    if (len > INT32_MAX) {
        seterr(err, errsz, "blob %.64s: too large", name);
        if (db && db->txn == TXN_BLOB)
            rollback(db);
        return GW_ERR_TOOLONG;
    }
    if (!db || db->txn != TXN_BLOB) {
        /* Nothing held: a blind write, still under the name's lock. */
        rc = exec0(db, "blob", err, errsz, "BEGIN", 0, NULL);
        if (rc < 0)
            return rc;
        db->txn = TXN_BLOB;
        rc = lock_blob(db, name, err, errsz);
        if (rc < 0)
            goto fail_txn;
    }
    if (len == 0) {
        const char *p[] = {name};
        rc = exec0(db, "blob", err, errsz, "DELETE FROM ferry_blobs WHERE name = $1", 1, p);
    } else if (!gw_statedb_ok(db)) {
        rc = not_connected(err, errsz);
    } else {
        const char *p[] = {name, body};
        int lens[] = {0, (int)len}, fmts[] = {0, 1};
        res = PQexecParams(db->conn,
                           "INSERT INTO ferry_blobs (name, body, updated) VALUES ($1, $2, now()) "
                           "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated = now()",
                           2, NULL, p, lens, fmts, 0);
        rc = res && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : fail(db, res, "blob", err, errsz);
        PQclear(res);
    }
    if (rc < 0)
        goto fail_txn;
    db->txn = TXN_NONE;
    return exec0(db, "blob commit", err, errsz, "COMMIT", 0, NULL);
fail_txn:
    rollback(db);
    return rc;
}

void gw_statedb_blob_end(struct gw_statedb *db)
{
    if (db && db->txn == TXN_BLOB)
        rollback(db);
}

/* ---- job locks ---- */

int gw_statedb_try_lock(struct gw_statedb *db, const char *name, bool *got, char *err, size_t errsz)
{
    PGresult *res;
    const char *p[] = {name};
    *got = false;
    int rc = run(db, &res, "lock", err, errsz,
                 "SELECT pg_try_advisory_lock(hashtextextended('ferry:' || $1, 0))", 1, p);
    if (rc < 0)
        return rc;
    *got = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    return 0;
}

int gw_statedb_unlock(struct gw_statedb *db, const char *name, char *err, size_t errsz)
{
    const char *p[] = {name};
    return exec0(db, "unlock", err, errsz,
                 "SELECT pg_advisory_unlock(hashtextextended('ferry:' || $1, 0))", 1, p);
}

/* ---- status ---- */

static int count(struct gw_statedb *db, const char *sql, int64_t *v, char *err, size_t errsz)
{
    PGresult *res;
    int rc = run(db, &res, "status", err, errsz, sql, 0, NULL);
    if (rc < 0)
        return rc;
    *v = 0;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && parse_i64(PQgetvalue(res, 0, 0), v)) {
        seterr(err, errsz, "status: unexpected answer");
        rc = GW_ERR_PROTO;
    }
    PQclear(res);
    return rc;
}

int gw_statedb_status(struct gw_statedb *db, struct gw_statedb_status *st, char *err, size_t errsz)
{
    PGresult *res = NULL;
    memset(st, 0, sizeof *st);
    int rc = read_version(db, &st->version, err, errsz);
    if (rc < 0 || st->version == 0)
        return rc;
    /* One snapshot for every figure. */
    rc =
        exec0(db, "status", err, errsz, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (rc < 0)
        return rc;
    rc = count(db, "SELECT count(*) FROM ferry_users", &st->users, err, errsz);
    if (rc == 0)
        rc = count(db, "SELECT rev FROM ferry_users_rev WHERE id = 1", &st->users_rev, err, errsz);
    if (rc == 0)
        rc = count(db, "SELECT count(*) FROM ferry_audit", &st->records, err, errsz);
    if (rc == 0)
        rc = count(db, "SELECT count(*) FROM ferry_blobs", &st->blobs, err, errsz);
    if (rc == 0)
        rc = count(db, "SELECT count(*) FROM ferry_login_fails", &st->throttled, err, errsz);
    if (rc == 0)
        rc = run(db, &res, "status", err, errsz,
                 "SELECT seq, hash FROM ferry_audit_head WHERE id = 1", 0, NULL);
    if (rc < 0)
        goto out_txn;
    if (PQntuples(res) == 1) {
        parse_i64(PQgetvalue(res, 0, 0), &st->head_seq);
        snprintf(st->head_hash, sizeof st->head_hash, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    rc = run(db, &res, "status", err, errsz,
             "SELECT coalesce(node, ''), count(*) FROM ferry_audit GROUP BY 1 ORDER BY 1", 0, NULL);
    if (rc < 0)
        goto out_txn;
    int n = PQntuples(res);
    st->nodes = calloc(n > 0 ? (size_t)n : 1, sizeof *st->nodes);
    if (!st->nodes) {
        rc = GW_ERR_NOMEM;
        goto out_res;
    }
    for (int i = 0; i < n; i++) {
        st->nodes[i].node = strdup(PQgetvalue(res, i, 0));
        if (!st->nodes[i].node) {
            rc = GW_ERR_NOMEM;
            goto out_res;
        }
        st->nnodes++;
        parse_i64(PQgetvalue(res, i, 1), &st->nodes[i].records);
    }
out_res:
    PQclear(res);
out_txn:
    rollback(db);
    return rc;
}

void gw_statedb_status_free(struct gw_statedb_status *st)
{
    for (size_t i = 0; i < st->nnodes; i++)
        free(st->nodes[i].node);
    free(st->nodes);
    st->nodes = NULL;
    st->nnodes = 0;
}
