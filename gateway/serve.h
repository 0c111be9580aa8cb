/* `ferry serve`: configuration, first-start set-up (state dir, keys, admin user),
 * listeners, then the parent loop (gateway/server.h). */
#ifndef FERRY_GATEWAY_SERVE_H
#define FERRY_GATEWAY_SERVE_H

#include <stddef.h>

#include "gateway/server.h"

/* A front end Ferry was built with, and the config port that enables it. */
struct gw_frontend_def {
    const char *name;             /* listener name: "ftp", "ftps", "sftp", "https", "test" */
    size_t port_offset;           /* offsetof(struct gw_config, ..._port) */
    const struct gw_frontend *fe;
    const char *proto;            /* audit proto */
    bool implicit_tls;
    const char *url_scheme;       /* for the endpoint list: "ftp", "sftp", "https" */
};

/* argv[0] = "serve". defs: every front end this binary has; mount_factory: the backend
 * of [mount] sections (gateway/main.c). */
int gw_cmd_serve(int argc, char **argv, const struct gw_frontend_def *defs, size_t ndefs,
                 gw_mount_factory mount_factory);

#endif
