/* INI configuration parsed through one table of name -> field -> parser (see config.h).
 * The parser is pure over (buf, len); every error names FILE:LINE. */
#include "gateway/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "gateway/proxyproto.h"

enum cfg_type { CT_STR, CT_INT, CT_PORT, CT_BOOL, CT_DURATION, CT_RANGE };
enum cfg_section { SEC_SERVER, SEC_ANON, SEC_MOUNT, SEC_USER };

struct cfg_key {
    enum cfg_section section;
    const char *name;
    enum cfg_type type;
    size_t offset; /* into struct gw_config, struct cfg_mount (SEC_MOUNT), cfg_user (SEC_USER) */
    long min, max; /* CT_INT */
};

#define SRV(name, type, field, lo, hi) {SEC_SERVER, name, type, offsetof(struct gw_config, field), lo, hi}
#define MNT(name, type, field) {SEC_MOUNT, name, type, offsetof(struct cfg_mount, field), 0, 0}

static const struct cfg_key keys[] = {
    SRV("root", CT_STR, root, 0, 0),
    SRV("state", CT_STR, state, 0, 0),
    SRV("listen", CT_STR, listen, 0, 0),
    SRV("ftp_port", CT_PORT, ftp_port, 0, 65535),
    SRV("ftps_port", CT_PORT, ftps_port, 0, 65535),
    SRV("sftp_port", CT_PORT, sftp_port, 0, 65535),
    SRV("https_port", CT_PORT, https_port, 0, 65535),
    SRV("metrics_port", CT_PORT, metrics_port, 0, 65535),
    SRV("test_port", CT_PORT, test_port, 0, 65535),
    SRV("anonymous", CT_BOOL, anonymous, 0, 0),
    SRV("passive_ports", CT_RANGE, passive_min, 0, 0),
    SRV("passive_address", CT_STR, passive_address, 0, 0),
    SRV("max_sessions", CT_INT, max_sessions, 1, 100000),
    SRV("max_per_address", CT_INT, max_per_address, 1, 100000),
    SRV("login_timeout", CT_DURATION, login_timeout, 1, 86400),
    SRV("idle_timeout", CT_DURATION, idle_timeout, 1, 7 * 86400),
    SRV("data_timeout", CT_DURATION, data_timeout, 1, 86400),
    SRV("shutdown_grace", CT_DURATION, shutdown_grace, 0, 3600),
    SRV("max_login_fails", CT_INT, max_login_fails, 1, 1000),
    SRV("auth_workers", CT_INT, auth_workers, 0, GW_MAX_AUTH_WORKERS),
    SRV("partial_ttl", CT_DURATION, partial_ttl, 0, 0),
    SRV("run_as", CT_STR, run_as, 0, 0),
    SRV("sandbox", CT_BOOL, sandbox, 0, 0),
    SRV("xferlog", CT_STR, xferlog, 0, 0),
    SRV("syslog", CT_BOOL, syslog, 0, 0),
    SRV("audit_key", CT_STR, audit_key, 0, 0),
    SRV("ftp_require_tls", CT_BOOL, ftp_require_tls, 0, 0),
    SRV("ftp_allow_plaintext", CT_BOOL, ftp_allow_plaintext, 0, 0),
    SRV("ftp_require_ssl_reuse", CT_BOOL, ftp_require_ssl_reuse, 0, 0),
    SRV("ftp_client_encoding", CT_STR, ftp_client_encoding, 0, 0),
    SRV("hash_transfers", CT_BOOL, hash_transfers, 0, 0),
    SRV("sftp_max_handles", CT_INT, sftp_max_handles, 16, 65536),
    SRV("dav_allow_infinity", CT_BOOL, dav_allow_infinity, 0, 0),
    SRV("proxy_protocol", CT_BOOL, proxy_protocol, 0, 0),
    SRV("proxy_trusted", CT_STR, proxy_trusted, 0, 0),
    SRV("state_db", CT_STR, state_db, 0, 0),
    SRV("node_name", CT_STR, node_name, 0, 0),
    {SEC_ANON, "root", CT_STR, offsetof(struct gw_config, anon_root), 0, 0},
    MNT("url", CT_STR, url),
    MNT("encoding", CT_STR, encoding),
    MNT("listing", CT_STR, listing),
    MNT("verify", CT_STR, verify),
    MNT("key", CT_STR, key),
    MNT("timezone", CT_STR, timezone),
    MNT("read_only", CT_BOOL, read_only),
    MNT("cache_ttl", CT_DURATION, cache_ttl),
    {SEC_USER, "ftp_client_encoding", CT_STR, offsetof(struct cfg_user, ftp_client_encoding), 0, 0},
};

static const char *section_name(enum cfg_section s)
{
    return s == SEC_SERVER ? "server" : s == SEC_ANON ? "anonymous" : s == SEC_MOUNT ? "mount" : "user";
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort(); /* configuration happens at start-up: no sensible recovery */
    return p;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = xstrdup(v);
}

void cfg_defaults(struct gw_config *c)
{
    memset(c, 0, sizeof *c);
    c->root = xstrdup("./ferry-data");
    c->state = xstrdup("./ferry-state");
    c->listen = xstrdup("127.0.0.1");
    c->ftp_port = 2121;
    c->sftp_port = 2222;
    c->https_port = 8443;
    c->passive_address = xstrdup("");
    c->max_sessions = GW_DEFAULT_MAX_SESSIONS;
    c->max_per_address = GW_DEFAULT_MAX_PER_ADDRESS;
    c->login_timeout = GW_DEFAULT_LOGIN_TIMEOUT;
    c->idle_timeout = GW_DEFAULT_IDLE_TIMEOUT;
    c->data_timeout = GW_DEFAULT_DATA_TIMEOUT;
    c->shutdown_grace = GW_DEFAULT_SHUTDOWN_GRACE;
    c->max_login_fails = GW_DEFAULT_MAX_LOGIN_FAILS;
    c->auth_workers = GW_DEFAULT_AUTH_WORKERS;
    c->partial_ttl = GW_DEFAULT_PARTIAL_TTL;
    c->run_as = xstrdup("");
    c->sandbox = true;
    c->xferlog = xstrdup("");
    c->audit_key = xstrdup("");
    c->ftp_require_ssl_reuse = true;
    c->ftp_client_encoding = xstrdup("");
    c->hash_transfers = true;
    c->sftp_max_handles = 1024;
    c->proxy_trusted = xstrdup("");
    c->state_db = xstrdup("");
    c->node_name = xstrdup("");
    c->anon_root = xstrdup("/pub");
}

static void mount_defaults(struct cfg_mount *m)
{
    memset(m, 0, sizeof *m);
    m->url = xstrdup("");
    m->encoding = xstrdup("auto");
    m->listing = xstrdup("auto");
    m->verify = xstrdup(""); /* decided by the URL: auto when anonymous */
    m->key = xstrdup("");
    m->timezone = xstrdup("");
    m->read_only = true;
    m->cache_ttl = 30;
}

static void mount_free(struct cfg_mount *m)
{
    free(m->prefix);
    free(m->url);
    free(m->encoding);
    free(m->listing);
    free(m->verify);
    free(m->key);
    free(m->timezone);
}

void cfg_free(struct gw_config *c)
{
    free(c->source);
    free(c->root);
    free(c->state);
    free(c->listen);
    free(c->passive_address);
    free(c->run_as);
    free(c->xferlog);
    free(c->audit_key);
    free(c->ftp_client_encoding);
    free(c->proxy_trusted);
    free(c->state_db);
    free(c->node_name);
    free(c->anon_root);
    for (size_t i = 0; i < c->nmounts; i++)
        mount_free(&c->mounts[i]);
    for (size_t i = 0; i < c->nusers; i++) {
        free(c->users[i].name);
        free(c->users[i].ftp_client_encoding);
    }
    free(c->users);
    memset(c, 0, sizeof *c);
}

int cfg_parse_duration(const char *s, int64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return GW_ERR_INVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return GW_ERR_RANGE;
    int64_t mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end != '\0')
        return GW_ERR_INVAL;
    if (v > INT64_MAX / mul)
        return GW_ERR_RANGE;
    *out = (int64_t)v * mul;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return GW_ERR_INVAL;
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    if (!*v || !(isdigit((unsigned char)*v) || *v == '-'))
        return GW_ERR_INVAL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end)
        return GW_ERR_INVAL;
    if (n < min || n > max)
        return GW_ERR_RANGE;
    *out = n;
    return 0;
}

/* Applies value to the field described by k inside base; message in why on error. */
static int apply(const struct cfg_key *k, void *base, const char *v, char *why, size_t whysz)
{
    char *field = (char *)base + k->offset;
    long n;
    int64_t d;
    switch (k->type) {
    case CT_STR:
        set_str((char **)(void *)field, v);
        return 0;
    case CT_BOOL:
        if (parse_bool(v, (bool *)(void *)field) == 0)
            return 0;
        snprintf(why, whysz, "%s: expected yes or no, got '%s'", k->name, v);
        return GW_ERR_CONFIG;
    case CT_PORT:
    case CT_INT:
        if (parse_long(v, k->min, k->max, &n) == 0) {
            *(int *)(void *)field = (int)n;
            return 0;
        }
        snprintf(why, whysz, "%s: expected a number from %ld to %ld, got '%s'", k->name, k->min,
                 k->max, v);
        return GW_ERR_CONFIG;
    case CT_DURATION:
        if (cfg_parse_duration(v, &d) == 0 && (k->max == 0 || (d >= k->min && d <= k->max))) {
            if (k->section == SEC_MOUNT || k->offset == offsetof(struct gw_config, partial_ttl))
                *(int64_t *)(void *)field = d;
            else
                *(int *)(void *)field = (int)d;
            return 0;
        }
        snprintf(why, whysz, "%s: expected a duration such as 30s, 5m, 2h or 7d, got '%s'",
                 k->name, v);
        return GW_ERR_CONFIG;
    case CT_RANGE: {
        long lo, hi;
        const char *dash = strchr(v, '-');
        char a[16], b[16];
        if (dash && (size_t)(dash - v) < sizeof a && strlen(dash + 1) < sizeof b) {
            memcpy(a, v, (size_t)(dash - v));
            a[dash - v] = '\0';
            snprintf(b, sizeof b, "%s", dash + 1);
            if (parse_long(a, 1024, 65535, &lo) == 0 && parse_long(b, 1024, 65535, &hi) == 0 &&
                lo <= hi) {
                ((int *)(void *)field)[0] = (int)lo;
                ((struct gw_config *)base)->passive_max = (int)hi;
                return 0;
            }
        }
        snprintf(why, whysz, "%s: expected a port range A-B within 1024-65535, got '%s'",
                 k->name, v);
        return GW_ERR_CONFIG;
    }
    }
    return GW_ERR_CONFIG;
}

static const struct cfg_key *find_key(enum cfg_section sec, const char *name)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i].section == sec && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int fail(char *err, size_t errsz, const char *fname, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errsz, const char *fname, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errsz, "%s:%u: %s", fname, line, msg);
    return GW_ERR_CONFIG;
}

int cfg_parse(struct gw_config *c, const char *buf, size_t len, const char *fname, char *err,
              size_t errsz)
{
    enum cfg_section sec = SEC_SERVER;
    bool have_section = false;
    struct cfg_mount *mount = NULL;
    struct cfg_user *user = NULL;
    char line[GW_MAX_CONFIG_LINE + 1];
    unsigned lineno = 0;
    size_t pos = 0;
    if (len > GW_MAX_CONFIG_FILE)
        return fail(err, errsz, fname, 0, "file larger than %u bytes", GW_MAX_CONFIG_FILE);
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        lineno++;
        if (n > GW_MAX_CONFIG_LINE)
            return fail(err, errsz, fname, lineno, "line longer than %d bytes",
                        GW_MAX_CONFIG_LINE);
        if (memchr(buf + pos, '\0', n))
            return fail(err, errsz, fname, lineno, "NUL byte in line");
        memcpy(line, buf + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || *trim(end + 1) != '\0')
                return fail(err, errsz, fname, lineno, "malformed section header");
            *end = '\0';
            char *name = trim(s + 1);
            have_section = true;
            mount = NULL;
            user = NULL;
            if (strcmp(name, "server") == 0) {
                sec = SEC_SERVER;
            } else if (strcmp(name, "anonymous") == 0) {
                sec = SEC_ANON;
            } else if (strncmp(name, "mount", 5) == 0 && (name[5] == ' ' || name[5] == '\t')) {
                char prefix[GW_MAX_PATH];
                char *p = trim(name + 5);
                if (*p != '/' || gw_path_resolve("/", p, strlen(p), prefix, sizeof prefix) != 0 ||
                    strcmp(prefix, "/") == 0)
                    return fail(err, errsz, fname, lineno,
                                "mount point must be an absolute path below /, got '%s'", p);
                for (size_t i = 0; i < c->nmounts; i++)
                    if (strcmp(c->mounts[i].prefix, prefix) == 0)
                        return fail(err, errsz, fname, lineno, "mount %s declared twice (line %u)",
                                    prefix, c->mounts[i].line);
                if (c->nmounts >= GW_MAX_MOUNTS)
                    return fail(err, errsz, fname, lineno, "more than %d mounts", GW_MAX_MOUNTS);
                mount = &c->mounts[c->nmounts++];
                mount_defaults(mount);
                mount->prefix = xstrdup(prefix);
                mount->line = lineno;
                sec = SEC_MOUNT;
            } else if (strncmp(name, "user", 4) == 0 &&
                       (name[4] == ' ' || name[4] == '\t' || name[4] == '\0')) {
                char *u = trim(name + 4);
                if (!*u || strlen(u) > GW_MAX_USER_NAME || strpbrk(u, " \t/"))
                    return fail(err, errsz, fname, lineno, "[user NAME] needs a user name, got '%s'",
                                u);
                for (size_t i = 0; i < c->nusers; i++)
                    if (strcmp(c->users[i].name, u) == 0)
                        return fail(err, errsz, fname, lineno, "user %s declared twice (line %u)",
                                    u, c->users[i].line);
                if (c->nusers >= CFG_MAX_USER_SECTIONS)
                    return fail(err, errsz, fname, lineno, "more than %d [user] sections",
                                CFG_MAX_USER_SECTIONS);
                struct cfg_user *nu = realloc(c->users, (c->nusers + 1) * sizeof *nu);
                if (!nu)
                    abort(); /* as xstrdup: start-up, no sensible recovery */
                c->users = nu;
                user = &c->users[c->nusers++];
                memset(user, 0, sizeof *user);
                user->name = xstrdup(u);
                user->line = lineno;
                sec = SEC_USER;
            } else {
                return fail(err, errsz, fname, lineno,
                            "unknown section [%s] (expected [server], [anonymous], [mount /PATH] "
                            "or [user NAME])",
                            name);
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            return fail(err, errsz, fname, lineno, "expected 'key = value'");
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
            val[strlen(val) - 1] = '\0';
            val++;
        }
        if (!have_section)
            sec = SEC_SERVER; /* keys before any header belong to [server] */
        const struct cfg_key *k = find_key(sec, key);
        if (!k)
            return fail(err, errsz, fname, lineno, "unknown key '%s' in [%s]", key,
                        section_name(sec));
        char why[400];
        void *base = sec == SEC_MOUNT ? (void *)mount : sec == SEC_USER ? (void *)user : (void *)c;
        if (apply(k, base, val, why, sizeof why) != 0)
            return fail(err, errsz, fname, lineno, "%s", why);
    }
    for (size_t i = 0; i < c->nmounts; i++)
        if (!c->mounts[i].url[0])
            return fail(err, errsz, fname, c->mounts[i].line, "mount %s has no url",
                        c->mounts[i].prefix);
    return 0;
}

const char *cfg_user_ftp_encoding(const struct gw_config *c, const char *user)
{
    for (size_t i = 0; user && i < c->nusers; i++)
        if (strcmp(c->users[i].name, user) == 0 && c->users[i].ftp_client_encoding)
            return c->users[i].ftp_client_encoding;
    return c->ftp_client_encoding;
}

int cfg_load(struct gw_config *c, const char *path, char *err, size_t errsz)
{
    int rc = GW_ERR_CONFIG;
    char *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return GW_ERR_CONFIG;
    }
    buf = malloc(GW_MAX_CONFIG_FILE + 1);
    if (!buf) {
        rc = GW_ERR_NOMEM;
        goto out_close;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, GW_MAX_CONFIG_FILE + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errsz, "%s: %s", path, strerror(errno));
            goto out_free;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > GW_MAX_CONFIG_FILE)
            break;
    }
    rc = cfg_parse(c, buf, len, path, err, errsz);
    if (rc == 0)
        set_str(&c->source, path);
out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

int cfg_set(struct gw_config *c, const char *key, const char *value, char *err, size_t errsz)
{
    const struct cfg_key *k = find_key(SEC_SERVER, key);
    if (!k) {
        snprintf(err, errsz, "unknown setting '%s'", key);
        return GW_ERR_CONFIG;
    }
    return apply(k, c, value, err, errsz);
}

int cfg_validate(const struct gw_config *c, char *err, size_t errsz)
{
    const int ports[] = {c->ftp_port, c->ftps_port, c->sftp_port, c->https_port, c->metrics_port,
                         c->test_port};
    const char *names[] = {"ftp_port", "ftps_port", "sftp_port", "https_port", "metrics_port",
                           "test_port"};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            if (ports[i] && ports[i] == ports[j]) {
                snprintf(err, errsz, "%s and %s are both %d", names[i], names[j], ports[i]);
                return GW_ERR_CONFIG;
            }
    if (!c->root[0] || !c->state[0] || !c->listen[0]) {
        snprintf(err, errsz, "root, state and listen must not be empty");
        return GW_ERR_CONFIG;
    }
    char tmp[GW_MAX_PATH];
    if (c->anon_root[0] != '/' ||
        gw_path_resolve("/", c->anon_root, strlen(c->anon_root), tmp, sizeof tmp) != 0) {
        snprintf(err, errsz, "[anonymous] root must be an absolute path inside the root");
        return GW_ERR_CONFIG;
    }
    if (c->proxy_protocol) {
        /* Caught here, at start-up, rather than by every connection failing closed. */
        struct gw_proxy_acl acl;
        char why[256];
        if (!c->proxy_trusted[0]) {
            snprintf(err, errsz, "proxy_protocol = yes needs proxy_trusted (the balancers' "
                                 "addresses)");
            return GW_ERR_CONFIG;
        }
        if (gw_proxy_acl_parse(c->proxy_trusted, &acl, why, sizeof why) != 0) {
            snprintf(err, errsz, "proxy_trusted: %s", why);
            return GW_ERR_CONFIG;
        }
    }
    if (c->state_db[0] && strncmp(c->state_db, "postgresql://", 13) != 0 &&
        strncmp(c->state_db, "postgres://", 11) != 0 && !strchr(c->state_db, '=')) {
        /* libpq takes a URI or "key=value ..." conninfo; anything else is a typo. */
        snprintf(err, errsz, "state_db: not a PostgreSQL URI (postgresql://...) or conninfo "
                             "(host=... dbname=...)");
        return GW_ERR_CONFIG;
    }
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        if (strncmp(m->url, "ftp://", 6) && strncmp(m->url, "ftps://", 7) &&
            strncmp(m->url, "ftpes://", 8)) {
            snprintf(err, errsz, "mount %s: url must start with ftp://, ftps:// or ftpes://",
                     m->prefix);
            return GW_ERR_CONFIG;
        }
        if (m->verify[0] && strcmp(m->verify, "auto") && strcmp(m->verify, "required") &&
            strcmp(m->verify, "none")) {
            snprintf(err, errsz, "mount %s: verify must be auto, required or none", m->prefix);
            return GW_ERR_CONFIG;
        }
        if (m->key[0] && strcmp(m->verify, "none") == 0) {
            snprintf(err, errsz, "mount %s: key needs verify = auto or required", m->prefix);
            return GW_ERR_CONFIG;
        }
    }
    return 0;
}

void cfg_dump(const struct gw_config *c, FILE *out)
{
    fprintf(out, "# effective configuration (%s)\n[server]\n",
            c->source ? c->source : "embedded defaults");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct cfg_key *k = &keys[i];
        if (k->section != SEC_SERVER)
            continue;
        const char *f = (const char *)c + k->offset;
        switch (k->type) {
        case CT_STR: fprintf(out, "%s = %s\n", k->name, *(char *const *)(const void *)f); break;
        case CT_BOOL: fprintf(out, "%s = %s\n", k->name, *(const bool *)(const void *)f ? "yes" : "no"); break;
        case CT_PORT:
        case CT_INT: fprintf(out, "%s = %d\n", k->name, *(const int *)(const void *)f); break;
        case CT_DURATION:
            if (k->offset == offsetof(struct gw_config, partial_ttl))
                fprintf(out, "%s = %" PRId64 "s\n", k->name, c->partial_ttl);
            else
                fprintf(out, "%s = %ds\n", k->name, *(const int *)(const void *)f);
            break;
        case CT_RANGE:
            if (c->passive_min)
                fprintf(out, "%s = %d-%d\n", k->name, c->passive_min, c->passive_max);
            else
                fprintf(out, "# %s: kernel-chosen\n", k->name);
            break;
        }
    }
    fprintf(out, "\n[anonymous]\nroot = %s\n", c->anon_root);
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct cfg_mount *m = &c->mounts[i];
        fprintf(out, "\n[mount %s]\nurl = %s\nencoding = %s\nlisting = %s\nverify = %s\n"
                     "read_only = %s\ncache_ttl = %" PRId64 "s\n",
                m->prefix, m->url, m->encoding, m->listing, m->verify, m->read_only ? "yes" : "no",
                m->cache_ttl);
        if (m->timezone[0])
            fprintf(out, "timezone = %s\n", m->timezone);
        if (m->key[0])
            fprintf(out, "key = %s\n", m->key);
    }
    for (size_t i = 0; i < c->nusers; i++) {
        fprintf(out, "\n[user %s]\n", c->users[i].name);
        if (c->users[i].ftp_client_encoding)
            fprintf(out, "ftp_client_encoding = %s\n", c->users[i].ftp_client_encoding);
    }
}
