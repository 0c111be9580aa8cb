/* Configuration: INI (`key = value`, `[section]`, `#` comments) parsed once through a
 * table of name -> field -> parser into a struct gw_config that is then passed down as
 * const. Unknown sections and keys are errors reported as "FILE:LINE: message".
 * Sections: [server], [anonymous], [mount /PATH] (repeatable), [user NAME] (repeatable:
 * per-user overrides of a few [server] keys, see struct cfg_user). Command-line flags are
 * applied afterwards with cfg_set(), so flags override the file. */
#ifndef FERRY_GATEWAY_CONFIG_H
#define FERRY_GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gateway/limits.h"

struct cfg_mount {
    char *prefix;       /* virtual path, normalised ("/legacy") */
    char *url;          /* ftp://, ftps://, ftpes:// */
    char *encoding;     /* "auto" or an IANA charset name */
    char *listing;      /* "auto" or a listing format name */
    char *verify;       /* auto|required|none; "": auto for anonymous URLs, else none */
    char *key;          /* verify: trusted public key file (minisign, signify, PEM, OpenPGP) */
    char *timezone;     /* upstream LIST times zone, "" unknown */
    bool read_only;
    int64_t cache_ttl;  /* seconds */
    unsigned line;      /* where it was declared */
};

/* [user NAME]: settings that override [server] for one user once logged in. */
#define CFG_MAX_USER_SECTIONS 1024
struct cfg_user {
    char *name;
    char *ftp_client_encoding; /* NULL: the [server] value */
    unsigned line;
};

struct gw_config {
    char *source;           /* config file path, NULL for embedded defaults */
    /* [server] */
    char *root;
    char *state;
    char *listen;
    int ftp_port, ftps_port, sftp_port, https_port, metrics_port;
    int test_port;                  /* the test front end (tests only); 0 = off */
    bool anonymous;
    int passive_min, passive_max;   /* 0-0: kernel-chosen */
    char *passive_address;          /* address announced in PASV replies; "" = local */
    int max_sessions, max_per_address;
    int login_timeout, idle_timeout, data_timeout, shutdown_grace;
    int max_login_fails;
    int auth_workers;               /* password verification threads; 0 = online CPUs */
    int64_t partial_ttl;
    char *run_as;
    bool sandbox;                   /* sessions confine themselves (gateway/sandbox.h) */
    char *xferlog;
    bool syslog;
    char *audit_key;
    bool ftp_require_tls;           /* logins need AUTH TLS first */
    bool ftp_allow_plaintext;       /* allow PASS on a plaintext control connection */
    bool ftp_require_ssl_reuse;     /* data TLS sessions must resume the control's */
    char *ftp_client_encoding;      /* "" = UTF-8 */
    bool hash_transfers;            /* SHA-256 of transfers on the fly (audit, HASH) */
    int sftp_max_handles;
    bool dav_allow_infinity;
    bool proxy_protocol;            /* listeners expect a PROXY header (gateway/proxyconn.h) */
    char *proxy_trusted;            /* balancers allowed to send one: "ADDR/NET,..." */
    char *state_db;                 /* "" = files in the state dir; else a PostgreSQL URL
                                       (gateway/statedb.h) */
    char *node_name;                /* this node in shared state and logs; "" = hostname */
    /* [anonymous] */
    char *anon_root;                /* virtual path inside root served to anonymous */
    /* [user ...], in file order */
    struct cfg_user *users;
    size_t nusers;
    /* [mount ...] */
    struct cfg_mount mounts[GW_MAX_MOUNTS];
    size_t nmounts;
};

/* Fills c with the embedded defaults (DESIGN.md). */
void cfg_defaults(struct gw_config *c);
/* Parses INI text (pure). fname names it in errors. */
int cfg_parse(struct gw_config *c, const char *buf, size_t len, const char *fname, char *err,
              size_t errsz);
/* Reads and parses a file. */
int cfg_load(struct gw_config *c, const char *path, char *err, size_t errsz);
/* Sets one [server] key from a string (command-line flags). */
int cfg_set(struct gw_config *c, const char *key, const char *value, char *err, size_t errsz);
/* Cross-field checks after all sources are applied (port clashes, ranges). */
int cfg_validate(const struct gw_config *c, char *err, size_t errsz);
/* Writes the effective configuration as INI. */
void cfg_dump(const struct gw_config *c, FILE *out);
void cfg_free(struct gw_config *c);

/* The ftp_client_encoding for user: the [user NAME] override, else [server]'s. */
const char *cfg_user_ftp_encoding(const struct gw_config *c, const char *user);

/* Parses "30s", "5m", "2h", "7d" or plain seconds. */
int cfg_parse_duration(const char *s, int64_t *out);

#endif
