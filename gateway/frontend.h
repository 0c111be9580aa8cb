/* The plug-in interface of protocol front ends (ftp/, sftp/, webdav/, and the test
 * front end). The parent process calls init() once before accepting, then forks one
 * session process per accepted connection and calls serve() there; dispose() runs in the
 * parent at exit. A front end turns wire requests into vfs_* calls and never open()s a
 * user path; it talks to the parent only through gw_session_* (gateway/session.h). */
#ifndef FERRY_GATEWAY_FRONTEND_H
#define FERRY_GATEWAY_FRONTEND_H

#include "gateway/config.h"

struct gw_session;
struct gw_keys;

struct gw_frontend {
    const char *name; /* "ftp", "sftp", "webdav", "test" */
    /* Parent, before any fork: load keys/certificates, build TLS contexts. *state is
     * passed to serve() in every session (inherited across fork). 0 or GW_ERR_*. */
    int (*init)(const struct gw_config *cfg, const struct gw_keys *keys, void **state);
    /* Session process: serve one connection (s->fd) until it ends. The return value
     * becomes the session's exit status (0 normal). */
    int (*serve)(struct gw_session *s, void *state);
    /* Parent, at exit. */
    void (*dispose)(void *state);
    /* Written (best effort, non-blocking) to a connection refused for a session limit
     * before it is closed, e.g. "421 Too many connections.\r\n"; NULL: just close. */
    const char *refuse_message;
};

/* The front ends Ferry knows; only gateway/main.c and the listener table use these. */
extern const struct gw_frontend gw_test_frontend;

#endif
