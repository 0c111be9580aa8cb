/* The parent's side of the shared-state requests (GW_IPC_STATE_GET/PUT/END, ipc.h):
 * when `state_db` is set, sessions keep their WebDAV locks and dead properties as named
 * blobs in PostgreSQL (statedb.h), and only the parent talks to the database.
 *
 * The parent calls gw_stateipc_handle from its event loop, so nothing here waits long:
 *   - a small pool of database connections (GW_STATE_POOL), opened lazily and
 *     reconnected when broken, with a back-off after a failed connect so a database
 *     that is down costs one connect attempt per GW_STATE_RETRY_MS (doubling up to
 *     GW_STATE_RETRY_MAX_MS), not one per request. A connect blocks the parent up to
 *     the url's connect_timeout (5 s by default, statedb.h): with a database host that
 *     drops packets rather than refusing, set a shorter one in state_db;
 *   - a session holding a blob for write (GET with S_WRITE, until PUT or END) owns one
 *     connection (its open transaction keeps the row locked across nodes); reads use
 *     any free connection; when none is free the reply is GW_ERR_AGAIN and the session
 *     retries (session.h);
 *   - a name held by another session, of this node or another, is GW_ERR_AGAIN at
 *     once (statedb takes the name's lock without waiting): the parent never sits in a
 *     lock wait, and the session retries until its own deadline (session.h);
 *   - a holder that keeps a blob longer than GW_STATE_HOLD_MS is rolled back (checked
 *     on every request), as is one whose session ends (gw_stateipc_release).
 * Every message is hostile: names are checked (gw_state_name_valid), PUT and END are
 * accepted only from the session holding that name, bodies are bounded.
 *
 * Replies: GW_IPC_REPLY with RESULT (0 or a GW_ERR_*), and S_BODY when GET found one.
 *   GW_ERR_IO       the database is unreachable or the connection broke
 *   GW_ERR_AGAIN    every connection is busy: retry shortly
 *   GW_ERR_TIMEOUT  a statement ran past statedb's statement_timeout
 *   GW_ERR_INVAL    bad name, body or sequence (PUT/END without holding the name)
 *   GW_ERR_NOSPC    a stored blob too large for one reply message */
#ifndef FERRY_GATEWAY_STATEIPC_H
#define FERRY_GATEWAY_STATEIPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/buf.h"
#include "gateway/ipc.h"
#include "gateway/limits.h"

#define GW_STATE_POOL 4            /* database connections of one parent */
#define GW_STATE_HOLD_MS 10000     /* a blob held for write longer is rolled back */
#define GW_STATE_RETRY_MS 500      /* after a failed connect, answer GW_ERR_IO this long, */
#define GW_STATE_RETRY_MAX_MS 5000 /* doubling per further failure up to this */
#define GW_STATE_PREFIX_LOCKS "webdav/locks"
#define GW_STATE_PREFIX_PROPS "webdav/props/"
/* A name: "webdav/locks", or "webdav/props" followed by a server-relative path. */
#define GW_STATE_MAX_NAME (sizeof GW_STATE_PREFIX_PROPS - 2 + GW_MAX_PATH - 1)
/* A body: what fits one message beside the longest name (type byte, two field
 * headers of 3 bytes, the name), rounded down. Both directions use this bound. */
#define GW_STATE_MAX_BODY 60000u

/* True when name is one a session may use: exactly GW_STATE_PREFIX_LOCKS, or
 * GW_STATE_PREFIX_PROPS followed by an absolute normalised path without its leading
 * '/' (gw_path_is_normal of "/" + rest), at most GW_STATE_MAX_NAME bytes (a C
 * string: a name field with a NUL never gets here). Pure. */
bool gw_state_name_valid(const char *name);

struct gw_stateipc;

/* url: the state_db setting. No connection is made yet. NULL on allocation failure. */
struct gw_stateipc *gw_stateipc_new(const char *url);
void gw_stateipc_free(struct gw_stateipc *s); /* rolls back what is held; NULL no-op */
/* Serves one STATE_* request m of the session owner into rep (created by the caller
 * with max GW_MAX_IPC_MSG; replaced). Any other message type: GW_ERR_PROTO. */
void gw_stateipc_handle(struct gw_stateipc *s, uint64_t owner, const struct gw_ipc_msg *m,
                        struct gw_buf *rep);
/* The session owner is gone: rolls back whatever it held. */
void gw_stateipc_release(struct gw_stateipc *s, uint64_t owner);
/* In a session process just forked from the parent: closes the pool's database sockets
 * without a word to the server (no libpq call that could send Terminate on the
 * parent's connections) so that a session never holds an authenticated connection to
 * the database. The memory stays as it is, reachable. NULL is a no-op. */
void gw_stateipc_forget_in_child(struct gw_stateipc *s);

#endif
