/* What a session process (one per accepted connection) knows and may ask of the
 * parent. The parent keeps the user database, host keys and the audit log; a session
 * asks it, over a socketpair and a short fixed table of requests (gateway/ipc.h), to
 * authenticate a user and to append audit records. The parent validates every request
 * and fills in what the session cannot be trusted with (session id, remote address,
 * user name of a logged-in session). Login, login_failed and logout records are written
 * by the parent itself (logout when the session process ends, even if it crashed). */
#ifndef FERRY_GATEWAY_SESSION_H
#define FERRY_GATEWAY_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/config.h"
#include "gateway/keys.h"
#include "gateway/limits.h"
#include "gateway/vfs.h"

/* Creates the backend of a [mount] section (gateway/main.c passes the upstream FTP
 * backend's constructor; the gateway core knows no backend but the local one). */
typedef int (*gw_mount_factory)(const struct cfg_mount *m, const struct vfs_ops **ops,
                                void **backend, char *err, size_t errsz);

struct gw_session {
    const struct gw_config *cfg;
    gw_mount_factory mount_factory; /* NULL: mounts are not served */
    const struct gw_keys *keys;
    int fd;                      /* the accepted client connection */
    int ipc;                     /* socketpair to the parent */
    bool implicit_tls;           /* accepted on an implicit-TLS listener (FTPS port) */
    char id[17];                 /* 16 hex digits, unique per server run */
    char proto[8];               /* audit proto: ftp, ftps, sftp, webdav, test */
    char remote[64];             /* "addr:port" / "[v6]:port" */
    char remote_addr[48];        /* "addr" */
    struct sockaddr_storage peer, local;
    socklen_t peer_len, local_len;
    /* Set by a successful login: */
    bool logged_in;
    bool anonymous;
    bool read_only;
    char user[GW_MAX_USER_NAME + 1];
    char home[GW_MAX_PATH];      /* virtual home inside the server root ("/" or "/alice") */
};

/* Result of an authentication request. */
enum gw_auth_result {
    GW_AUTH_OK = 0,
    GW_AUTH_DENIED = 1,   /* wrong user or credential */
    GW_AUTH_THROTTLED = 2 /* too many failures from this address: try later */
};

/* Password login. On GW_AUTH_OK the session is logged in (s->user, s->home, ...). The
 * parent delays failures (throttling); this call returns after the delay. A negative
 * GW_ERR_* means the parent could not be asked. */
int gw_session_login_password(struct gw_session *s, const char *user, const char *password);
/* Public-key login: type ("ssh-ed25519") and base64 blob as in authorized_keys. When
 * probe is true, only asks whether the key is acceptable (SSH's query before the
 * signature) and does not log in. The caller must have verified the signature. */
int gw_session_login_key(struct gw_session *s, const char *user, const char *type,
                         const char *blob, bool probe);
/* Anonymous login (FTP anonymous/ftp, WebDAV without credentials); ident is the
 * e-mail-ish password FTP clients send, recorded in the audit log. Refused unless
 * anonymous access is configured. Anonymous is always read-only. */
int gw_session_login_anonymous(struct gw_session *s, const char *ident);

/* Opens the logged-in user's view of the tree (home, mounts, read-only flag). */
int gw_session_vfs(struct gw_session *s, struct vfs **out);

/* Sends an audit record to the parent without waiting for it to be written (one
 * message, no reply: a download costs no round trip). session, remote and user are
 * filled in by the parent; proto defaults to s->proto. Records keep their order (one
 * SOCK_SEQPACKET channel, read in order), the parent reads every record a session
 * queued before it writes that session's logout record, and when the parent falls
 * behind the send blocks rather than dropping anything. 0 once queued, or GW_ERR_*
 * when the record does not fit a message or the channel is gone. The parent validates
 * the record and logs a rejected one. */
int gw_session_audit(struct gw_session *s, const struct audit_record *r);
/* As gw_session_audit, but waits for the parent's verdict: 0 once written,
 * GW_ERR_INVAL when the parent rejected the record or could not write it. For callers
 * that must know (none of the front ends do today). */
int gw_session_audit_sync(struct gw_session *s, const struct audit_record *r);
/* Convenience: an audit record for a finished transfer through a vfs_file handle
 * (bytes, offset, duration, sha256 taken from f before it is closed). */
void gw_session_audit_transfer(struct gw_session *s, const char *event, const char *path,
                               struct vfs_file *f, int64_t started_ms, const char *status,
                               const char *error);

/* Shared state (when `state_db` is set; gateway/stateipc.h): named blobs kept by the
 * parent in PostgreSQL. The requests are synchronous; asynchronous audit records sent
 * earlier on the same channel get no reply, so a reply always answers the request
 * just sent. A parent answering GW_ERR_AGAIN (every database connection busy) is
 * asked again after a short sleep, for up to GW_SESSION_STATE_WAIT_MS.
 *   get: reads name into out (replaced; out's max should be at least
 *        GW_STATE_MAX_BODY); *found false when there is none. write true holds the
 *        blob (a row lock across nodes) until put or end; the parent rolls a holder
 *        back after GW_STATE_HOLD_MS.
 *   put: replaces the held blob (len 0 deletes it) and releases it. A body over
 *        GW_STATE_MAX_BODY releases the blob unchanged and returns GW_ERR_NOSPC.
 *   end: releases a held blob unchanged.
 * Errors: GW_ERR_IO (database unreachable, channel gone), GW_ERR_AGAIN (still busy
 * after the wait), GW_ERR_TIMEOUT (row locked elsewhere), GW_ERR_NOSPC, GW_ERR_INVAL,
 * GW_ERR_PROTO (a parent that does not serve these requests). */
#define GW_SESSION_STATE_WAIT_MS 5000
int gw_session_state_get(struct gw_session *s, const char *name, bool write, struct gw_buf *out,
                         bool *found);
int gw_session_state_put(struct gw_session *s, const char *name, const void *body, size_t len);
void gw_session_state_end(struct gw_session *s, const char *name);

/* Changes the audit proto (e.g. "ftps" after AUTH TLS). */
void gw_session_set_proto(struct gw_session *s, const char *proto);

/* True once the parent asked this session to stop (server shutdown): finish the
 * current transfer, then end the session. */
bool gw_session_stopping(void);

/* Installs the session's signal handling (SIGTERM/SIGINT set the stopping flag and
 * interrupt blocking calls; SIGPIPE ignored). Called by the parent's fork path. */
void gw_session_setup_signals(void);

/* Milliseconds on a monotonic clock, and on the wall clock. */
int64_t gw_now_ms(void);
int64_t gw_wall_ms(void);

#endif
