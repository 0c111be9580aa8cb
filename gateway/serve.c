/* `ferry serve` (serve.h). */
#include "gateway/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/cli.h"
#include "gateway/err.h"
#include "gateway/keys.h"
#include "gateway/log.h"
#include "gateway/sandbox.h"
#include "gateway/statedb.h"
#include "gateway/statesync.h"
#include "gateway/users.h"

static const char usage[] =
    "Usage: ferry serve [OPTION]...\n"
    "Serve one virtual file tree per user over FTP/FTPS, SFTP and WebDAV on HTTPS.\n"
    "\n"
    "  --config FILE         read settings from FILE (INI); flags override it\n"
    "  --root DIR            data root (default ./ferry-data, created)\n"
    "  --state DIR           state dir: keys, users, audit log (default ./ferry-state)\n"
    "  --listen ADDR         address to listen on (default 127.0.0.1)\n"
    "  --ftp-port N          FTP with explicit TLS (default 2121, 0 disables)\n"
    "  --ftps-port N         implicit FTPS (default 0, disabled)\n"
    "  --sftp-port N         SFTP (default 2222, 0 disables)\n"
    "  --https-port N        WebDAV on HTTPS (default 8443, 0 disables)\n"
    "  --anonymous           read-only anonymous access to [anonymous] root (/pub)\n"
    "  --passive-ports A-B   FTP passive data ports (default kernel-chosen)\n"
    "  --max-sessions N      concurrent sessions (default 256)\n"
    "  --metrics-port N      Prometheus metrics port (default 0, disabled)\n"
    "  --set KEY=VALUE       any [server] setting of ferry.conf(5)\n"
    "  --check-config        validate the configuration, print it, and exit\n"
    "  -v, --verbose         log every connection\n"
    "  --help                show this help\n"
    "\n"
    "First start creates the state dir, an Ed25519 SSH host key, a self-signed TLS\n"
    "certificate and the user 'admin' with a random password printed once.\n"
    "SIGTERM/SIGINT stop gracefully (shutdown_grace); SIGHUP reloads and reopens logs.\n"
    "Exit status: 0 after a clean stop, 2 for a configuration error, 1 otherwise.\n";

enum { O_CONFIG = 256, O_ROOT, O_STATE, O_LISTEN, O_FTP, O_FTPS, O_SFTP, O_HTTPS, O_ANON,
       O_PASV, O_MAXS, O_METRICS, O_SET, O_CHECK, O_HELP };

static const struct option opts[] = {
    {"config", required_argument, NULL, O_CONFIG},
    {"root", required_argument, NULL, O_ROOT},
    {"state", required_argument, NULL, O_STATE},
    {"listen", required_argument, NULL, O_LISTEN},
    {"ftp-port", required_argument, NULL, O_FTP},
    {"ftps-port", required_argument, NULL, O_FTPS},
    {"sftp-port", required_argument, NULL, O_SFTP},
    {"https-port", required_argument, NULL, O_HTTPS},
    {"anonymous", no_argument, NULL, O_ANON},
    {"passive-ports", required_argument, NULL, O_PASV},
    {"max-sessions", required_argument, NULL, O_MAXS},
    {"metrics-port", required_argument, NULL, O_METRICS},
    {"set", required_argument, NULL, O_SET},
    {"check-config", no_argument, NULL, O_CHECK},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Flag -> [server] key, applied after the config file. */
static const char *flag_key(int o)
{
    switch (o) {
    case O_ROOT: return "root";
    case O_STATE: return "state";
    case O_LISTEN: return "listen";
    case O_FTP: return "ftp_port";
    case O_FTPS: return "ftps_port";
    case O_SFTP: return "sftp_port";
    case O_HTTPS: return "https_port";
    case O_PASV: return "passive_ports";
    case O_MAXS: return "max_sessions";
    case O_METRICS: return "metrics_port";
    }
    return NULL;
}

/* mkdir -p for an administrator-given path. */
static int mkdirs(const char *path, mode_t mode)
{
    char tmp[GW_MAX_PATH];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return GW_ERR_TOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return gw_err_from_errno(errno);
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return gw_err_from_errno(errno);
    return 0;
}

/* Replaces *path by its absolute, resolved form (sessions chdir nowhere, but the
 * parent and sessions must agree on one path). */
static int absolutize(char **path)
{
    char *real = realpath(*path, NULL);
    if (!real)
        return gw_err_from_errno(errno);
    free(*path);
    *path = real;
    return 0;
}

static int create_admin(const char *users_path)
{
    struct auth_db db = {0};
    char pw[AUTH_RANDOM_PASSWORD_LEN + 1];
    int rc = auth_random_password(pw, sizeof pw, AUTH_RANDOM_PASSWORD_LEN);
    if (rc == 0)
        rc = auth_db_add(&db, "admin", pw, "/", false);
    if (rc == 0)
        rc = auth_db_save(&db, users_path);
    if (rc == 0) {
        printf("ferry: created user 'admin' with full access to the root\n"
               "  admin password: %s\n"
               "  (shown once; change it with 'ferry user passwd admin --password-stdin')\n",
               pw);
    }
    explicit_bzero(pw, sizeof pw);
    auth_db_free(&db);
    return rc;
}

/* state_db: the database must carry this binary's schema. Reachable with another
 * version: refuse to start (GW_EXIT_USAGE, the administrator runs `ferry db migrate`).
 * Unreachable: start anyway, with a warning; logins are refused until it is back
 * (gateway/statesync.h). */
static int check_state_db(const struct gw_config *cfg)
{
    char err[512], red[512];
    struct gw_statedb *db = NULL;
    int version = 0;
    char *url = malloc(strlen(cfg->state_db) + 32);
    gw_statedb_redact(cfg->state_db, red, sizeof red);
    int rc =
        url ? gw_statesync_conninfo(cfg->state_db, url, strlen(cfg->state_db) + 32) : GW_ERR_NOMEM;
    if (rc == 0)
        rc = gw_statedb_open(url, &db, err, sizeof err);
    else
        snprintf(err, sizeof err, "%s", gw_strerror(rc));
    free(url);
    if (rc == 0)
        rc = gw_statedb_version(db, &version, err, sizeof err);
    gw_statedb_close(db);
    if (rc == GW_ERR_IO) {
        gw_log(GW_LOG_WARN,
               "state_db %s unreachable: %s; starting anyway: logins are refused "
               "until it is back",
               red, err);
        return 0;
    }
    if (rc < 0) {
        gw_errorf("serve", "state_db %s: %s", red, err);
        return GW_EXIT_USAGE;
    }
    if (version != GW_STATEDB_SCHEMA) {
        gw_errorf("serve",
                  "state_db: schema version %d, this ferry needs %d: run `ferry db migrate`",
                  version, GW_STATEDB_SCHEMA);
        return GW_EXIT_USAGE;
    }
    printf("ferry: shared state in %s (schema %d)\n", red, version);
    return 0;
}

static void print_endpoints(const struct gw_config *cfg, const struct gw_keys *keys,
                            const struct gw_frontend_def *defs, size_t ndefs)
{
    const char *host = cfg->listen;
    bool v6 = strchr(host, ':') != NULL;
    printf("ferry: serving %s (state %s)\n", cfg->root, cfg->state);
    for (size_t i = 0; i < ndefs; i++) {
        int port = *(const int *)(const void *)((const char *)cfg + defs[i].port_offset);
        if (!port || !defs[i].url_scheme)
            continue;
        printf("  %-7s %s://%s%s%s:%d/", defs[i].name, defs[i].url_scheme, v6 ? "[" : "", host,
               v6 ? "]" : "", port);
        if (strcmp(defs[i].name, "ftp") == 0)
            printf("  (AUTH TLS)");
        putchar('\n');
    }
    printf("  SSH host key %s\n  TLS certificate %s\n", keys->host_key_fingerprint,
           keys->tls_fingerprint);
    if (cfg->anonymous)
        printf("  anonymous read-only access to %s\n", cfg->anon_root);
}

int gw_cmd_serve(int argc, char **argv, const struct gw_frontend_def *defs, size_t ndefs,
                 gw_mount_factory mount_factory)
{
    struct gw_config cfg;
    struct gw_keys keys;
    struct gw_listener_def listeners[GW_MAX_LISTENERS];
    struct gw_server_ctx ctx;
    char err[1024];
    const char *config_path = NULL;
    bool check_only = false, verbose = false, created = false;
    size_t nl = 0;
    int status = GW_EXIT_USAGE, o;
    struct { int opt; const char *val; } flags[64];
    size_t nflags = 0;

    memset(&ctx, 0, sizeof ctx);
    cfg_defaults(&cfg);
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":v", opts, NULL)) != -1) {
        switch (o) {
        case O_HELP: fputs(usage, stdout); status = GW_EXIT_OK; goto out_cfg;
        case O_CONFIG: config_path = optarg; break;
        case O_CHECK: check_only = true; break;
        case 'v': verbose = true; break;
        case O_ANON: cfg.anonymous = true; break;
        case ':': status = gw_usage_error("serve", "option '%s' needs a value", argv[optind - 1]); goto out_cfg;
        case '?': status = gw_usage_error("serve", "unknown option '%s'", argv[optind - 1]); goto out_cfg;
        default:
            if (nflags == sizeof flags / sizeof flags[0]) {
                status = gw_usage_error("serve", "too many options");
                goto out_cfg;
            }
            flags[nflags].opt = o;
            flags[nflags++].val = optarg;
        }
    }
    if (optind < argc) {
        status = gw_usage_error("serve", "unexpected argument '%s'", argv[optind]);
        goto out_cfg;
    }
    if (config_path) {
        bool anon = cfg.anonymous;
        if (cfg_load(&cfg, config_path, err, sizeof err) != 0) {
            gw_errorf("serve", "%s", err);
            goto out_cfg;
        }
        cfg.anonymous = cfg.anonymous || anon;
    }
    for (size_t i = 0; i < nflags; i++) {
        const char *key = flag_key(flags[i].opt), *val = flags[i].val;
        char kbuf[64];
        if (flags[i].opt == O_SET) {
            const char *eq = strchr(val, '=');
            if (!eq || (size_t)(eq - val) >= sizeof kbuf) {
                status = gw_usage_error("serve", "--set wants KEY=VALUE, got '%s'", val);
                goto out_cfg;
            }
            memcpy(kbuf, val, (size_t)(eq - val));
            kbuf[eq - val] = '\0';
            key = kbuf;
            val = eq + 1;
        }
        if (cfg_set(&cfg, key, val, err, sizeof err) != 0) {
            status = gw_usage_error("serve", "%s", err);
            goto out_cfg;
        }
    }
    if (cfg_validate(&cfg, err, sizeof err) != 0) {
        gw_errorf("serve", "%s%s%s", config_path ? config_path : "", config_path ? ": " : "", err);
        goto out_cfg;
    }
    if (check_only) {
        cfg_dump(&cfg, stdout);
        printf("# configuration OK\n");
        status = GW_EXIT_OK;
        goto out_cfg;
    }
    gw_log_setup(verbose ? GW_LOG_DEBUG : GW_LOG_INFO, cfg.syslog);
    status = 1;
    if (mkdirs(cfg.root, 0755) != 0 || absolutize(&cfg.root) != 0) {
        gw_errorf("serve", "cannot create the data root %s: %s", cfg.root, strerror(errno));
        goto out_cfg;
    }
    bool fresh = access(cfg.state, F_OK) != 0;
    if (mkdirs(cfg.state, 0700) != 0 || chmod(cfg.state, 0700) != 0 || absolutize(&cfg.state) != 0) {
        gw_errorf("serve", "cannot create the state dir %s: %s", cfg.state, strerror(errno));
        goto out_cfg;
    }
    if (fresh)
        printf("ferry: first start: created the state dir %s\n", cfg.state);
    if (gw_keys_prepare(&cfg, &keys, &created, err, sizeof err) != 0) {
        gw_errorf("serve", "%s", err);
        goto out_cfg;
    }
    if (created)
        printf("ferry: generated the SSH host key and the TLS certificate\n");
    snprintf(ctx.users_path, sizeof ctx.users_path, "%s/users", cfg.state);
    bool use_db = cfg.state_db[0] != '\0';
    if (use_db && (status = check_state_db(&cfg)) != 0)
        goto out_cfg;
    status = 1;
    /* With state_db the users and the audit log are in the database (`ferry user add
     * --state-db`); the state dir keeps keys, certificates and the audit spill file. */
    if (!use_db && access(ctx.users_path, F_OK) != 0 && create_admin(ctx.users_path) != 0) {
        gw_errorf("serve", "cannot create %s", ctx.users_path);
        goto out_cfg;
    }
    unsigned char *akey = NULL;
    size_t akeylen = 0;
    int krc = cfg.audit_key[0] ? audit_key_load(cfg.audit_key, &akey, &akeylen) : 0;
    if (krc != 0) {
        gw_errorf("serve", "audit_key %s: %s (a key has %d to %d bytes)", cfg.audit_key,
                  gw_strerror(krc), AUDIT_MIN_KEY, AUDIT_MAX_KEY);
        goto out_cfg;
    }
    char audit_path[GW_MAX_PATH];
    snprintf(audit_path, sizeof audit_path, "%s/audit.jsonl", cfg.state);
    int rc = use_db ? 0 : audit_open(audit_path, akey, akeylen, &ctx.audit);
    audit_key_free(akey, akeylen);
    if (rc != 0) {
        gw_errorf("serve", "cannot open the audit log %s: %s", audit_path, gw_strerror(rc));
        goto out_cfg;
    }
    /* (state_db: the server's database link writes the other outputs.) */
    rc = use_db ? 0 : audit_set_outputs(ctx.audit, cfg.xferlog, cfg.syslog);
    if (rc != 0) {
        gw_errorf("serve", "cannot open the xferlog %s: %s", cfg.xferlog, gw_strerror(rc));
        audit_close(ctx.audit);
        ctx.audit = NULL;
        goto out_cfg;
    }
    if (cfg.anonymous)
        gw_mkdir_beneath(cfg.root, cfg.anon_root, 0755);
    for (size_t i = 0; i < ndefs && nl < GW_MAX_LISTENERS; i++) {
        int port = *(const int *)(const void *)((const char *)&cfg + defs[i].port_offset);
        if (!port)
            continue;
        struct gw_listener_def *l = &listeners[nl];
        memset(l, 0, sizeof *l);
        l->name = defs[i].name;
        l->port = port;
        l->fe = defs[i].fe;
        l->proto = defs[i].proto;
        l->implicit_tls = defs[i].implicit_tls;
        /* One init per front end; a second listener of the same front end shares it. */
        bool shared = false;
        for (size_t j = 0; j < nl && !shared; j++)
            if (listeners[j].fe == l->fe) {
                l->fe_state = listeners[j].fe_state;
                shared = true;
            }
        if (!shared && l->fe->init && (rc = l->fe->init(&cfg, &keys, &l->fe_state)) != 0) {
            gw_errorf("serve", "%s: %s", l->name, gw_strerror(rc));
            goto out_fe;
        }
        nl++;
    }
    ctx.cfg = &cfg;
    ctx.mount_factory = mount_factory;
    ctx.config_path = config_path;
    ctx.keys = &keys;
    ctx.listeners = listeners;
    ctx.nlisteners = nl;
    if (gw_server_bind(&ctx, err, sizeof err) != 0) {
        gw_errorf("serve", "%s", err);
        status = GW_EXIT_USAGE;
        goto out_fe;
    }
    print_endpoints(&cfg, &keys, defs, ndefs);
    gw_sandbox_log_status(&cfg);
    printf("ferry: ready (pid %d)\n", (int)getpid());
    fflush(stdout);
    status = gw_server_run(&ctx);
out_fe:
    for (size_t i = 0; i < nl; i++) {
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first = first && listeners[j].fe != listeners[i].fe;
        if (first && listeners[i].fe->dispose)
            listeners[i].fe->dispose(listeners[i].fe_state);
    }
    audit_close(ctx.audit);
out_cfg:
    cfg_free(&cfg);
    return status;
}
