/* WebDAV write locks (RFC 4918 section 6, 7), shared by every session process through
 * one file in the state dir.
 *
 * STATE/webdav/locks is a text file, replaced atomically (temporary file, fsync,
 * rename) on every change; STATE/webdav/locks.lock is the flock(2) that serialises
 * readers (shared) and writers (exclusive) across processes. Format:
 *   line 1: "# ferry webdav locks v1"
 *   then one lock per line, fields separated by one space:
 *     TOKEN EXPIRES TIMEOUT DEPTH SCOPE USER ROOT OWNER
 *   TOKEN    "urn:uuid:" + a random UUID (RFC 4122 version 4)
 *   EXPIRES  seconds since the epoch when the lock lapses
 *   TIMEOUT  the lock's timeout in seconds (what LOCK and refreshes granted)
 *   DEPTH    0 or infinity
 *   SCOPE    exclusive or shared
 *   USER     the user who created it (only that user's requests can use the token)
 *   ROOT     the locked resource: a server-relative path (home joined with the virtual
 *            path, as props.h), percent-encoded like props.h fields
 *   OWNER    the DAV:owner XML sent with LOCK, percent-encoded ("%" when none)
 * Expired locks and lines that do not parse are dropped whenever the file is loaded.
 * The set is bounded by DAV_LOCKS_MAX.
 *
 * The codec and the queries over a loaded set are pure. */
#ifndef FERRY_WEBDAV_LOCKS_H
#define FERRY_WEBDAV_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/buf.h"
#include "gateway/limits.h"

#define DAV_LOCKS_MAX 10000
#define DAV_LOCK_TOKEN_MAX 64 /* "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

struct dav_lock {
    char token[DAV_LOCK_TOKEN_MAX];
    int64_t expires;
    int64_t timeout;
    bool infinite; /* Depth: infinity */
    bool exclusive;
    char user[GW_MAX_USER_NAME + 1];
    char *root;  /* owned */
    char *owner; /* owned, "" when none */
};

struct dav_locks {
    struct dav_lock *v;
    size_t n, cap;
};

int dav_locks_parse(const char *buf, size_t len, int64_t now, struct dav_locks *out);
int dav_locks_format(const struct dav_locks *l, struct gw_buf *out);
void dav_locks_free(struct dav_locks *l);
/* Adds a copy of *lk (strings duplicated). GW_ERR_LIMIT past DAV_LOCKS_MAX. */
int dav_locks_add(struct dav_locks *l, const struct dav_lock *lk);
struct dav_lock *dav_locks_find(struct dav_locks *l, const char *token, size_t len);
void dav_locks_remove_at(struct dav_locks *l, size_t i);
/* Removes every lock rooted at path or below it. Returns how many. */
size_t dav_locks_remove_under(struct dav_locks *l, const char *path);

/* True when lk applies to path: its root is path, or an ancestor with depth infinity. */
bool dav_lock_covers(const struct dav_lock *lk, const char *path);
/* True when lk is rooted strictly below path. */
bool dav_lock_below(const struct dav_lock *lk, const char *path);

/* Makes a new random token. */
int dav_lock_new_token(char out[DAV_LOCK_TOKEN_MAX]);

/* The database: open loads the current set under a shared (write false) or exclusive
 * (write true) flock; close writes it back when dirty is set (exclusive only) and
 * releases the lock. base is STATE/webdav.
 *
 * With `state_db` set (dav_shared(s) true), the same text is instead the shared-state
 * blob DAV_LOCKS_BLOB, read and written through the parent (gateway/session.h): a
 * write open holds its row until close, across every node. It is bounded by
 * GW_STATE_MAX_BODY (gateway/stateipc.h), a few hundred locks: close returns
 * GW_ERR_NOSPC for a set that does not fit (and leaves the stored one unchanged);
 * GW_ERR_IO / GW_ERR_AGAIN / GW_ERR_TIMEOUT when the database cannot be asked. */
#define DAV_LOCKS_BLOB "webdav/locks"
struct gw_session;
struct dav_lockdb {
    int lockfd;
    bool write;
    bool dirty;
    bool held;                /* shared state: the blob is held for write */
    struct gw_session *share; /* non-NULL: shared state through the parent */
    char path[GW_MAX_PATH];
    struct dav_locks l;
};
/* True when s keeps WebDAV state in the shared database (s may be NULL: files). */
bool dav_shared(const struct gw_session *s);
int dav_lockdb_open(struct dav_lockdb *db, const char *base, struct gw_session *s, bool write);
int dav_lockdb_close(struct dav_lockdb *db);

#endif
