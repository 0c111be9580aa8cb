/* The privileged parent: owns the listening sockets, the user database, the audit log
 * and the session table; forks one session process per accepted connection and answers
 * the sessions' requests (gateway/ipc.h) until it is told to stop. */
#ifndef FERRY_GATEWAY_SERVER_H
#define FERRY_GATEWAY_SERVER_H

#include <stddef.h>

#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/frontend.h"
#include "gateway/keys.h"
#include "gateway/session.h"

/* One listening endpoint: which front end serves it and under which audit proto. */
struct gw_listener_def {
    const char *name;              /* "ftp", "ftps", "sftp", "https", "test" */
    int port;                      /* 0: disabled */
    const struct gw_frontend *fe;
    void *fe_state;                /* from fe->init */
    const char *proto;             /* audit proto of its sessions */
    bool implicit_tls;
};

struct gw_server_ctx {
    struct gw_config *cfg;         /* scalar limits are reloaded on SIGHUP */
    const char *config_path;       /* for SIGHUP reload; NULL = embedded defaults */
    const struct gw_keys *keys;
    struct gw_listener_def *listeners;
    size_t nlisteners;
    struct audit_log *audit;
    gw_mount_factory mount_factory;
    char users_path[GW_MAX_PATH];
};

/* Binds every enabled listener (errors name the address and port). */
int gw_server_bind(struct gw_server_ctx *ctx, char *err, size_t errsz);
/* Runs until SIGTERM/SIGINT and every session has ended (or shutdown_grace passed).
 * Returns the process exit status. */
int gw_server_run(struct gw_server_ctx *ctx);

/* Creates a directory path (like mkdir -p) below an existing base without following
 * symlinks; used for users' homes on first login. rel is a normalised virtual path. */
int gw_mkdir_beneath(const char *base, const char *rel, unsigned mode);

#endif
