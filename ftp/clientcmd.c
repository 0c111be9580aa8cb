/* `ferry ls`, `ferry get` and `ferry mirror`: the client side towards legacy FTP
 * servers, made for people at a terminal and for cron (locking, retries, exit codes,
 * --quiet, --json). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ftp/fetch.h"
#include "ftp/ftpc.h"
#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/session.h"
#include "gateway/statedb.h"

#define TRASH_DIR ".ferry-trash"
#define LOCK_NAME ".ferry-mirror.lock"
#define MAX_DEPTH 64
/* Connections a mirror uses at once by default: small files cost round trips, not bytes,
 * so a few connections side by side hide the latency (rclone's --transfers default is 4,
 * too); few enough that servers limiting connections per address still serve us. */
#define PARALLEL_DEFAULT 4
#define PARALLEL_MAX 16

enum { O_JSON = 256, O_ENCODING, O_LISTING, O_CA, O_INSECURE, O_PIN, O_TZ, O_VERIFY, O_KEY,
       O_REQSIG, O_DELETE, O_DRYRUN, O_RETRIES, O_RETRY_DELAY, O_LOCK, O_QUIET, O_STATE,
       O_OUTPUT, O_EXCLUDE, O_AUDIT_KEY, O_PARALLEL, O_STATE_DB, O_CONFIG, O_HELP };

static const struct option long_opts[] = {
    {"json", no_argument, NULL, O_JSON},
    {"encoding", required_argument, NULL, O_ENCODING},
    {"listing", required_argument, NULL, O_LISTING},
    {"ca", required_argument, NULL, O_CA},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"pin", required_argument, NULL, O_PIN},
    {"timezone", required_argument, NULL, O_TZ},
    {"verify", required_argument, NULL, O_VERIFY},
    {"key", required_argument, NULL, O_KEY},
    {"require-signature", no_argument, NULL, O_REQSIG},
    {"delete", optional_argument, NULL, O_DELETE},
    {"dry-run", no_argument, NULL, O_DRYRUN},
    {"retries", required_argument, NULL, O_RETRIES},
    {"retry-delay", required_argument, NULL, O_RETRY_DELAY},
    {"lock", required_argument, NULL, O_LOCK},
    {"quiet", no_argument, NULL, O_QUIET},
    {"state", required_argument, NULL, O_STATE},
    {"output", required_argument, NULL, O_OUTPUT},
    {"exclude", required_argument, NULL, O_EXCLUDE},
    {"audit-key", required_argument, NULL, O_AUDIT_KEY},
    {"parallel", required_argument, NULL, O_PARALLEL},
    {"state-db", required_argument, NULL, O_STATE_DB},
    {"config", required_argument, NULL, O_CONFIG},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

struct copts {
    const char *cmd;
    struct ftpc_options fo;
    bool json, quiet, dry_run, require_sig, insecure, warned_insecure;
    int delete_mode;          /* 0 none, 1 to trash, 2 hard */
    int retries, retry_delay_ms;
    int parallel;             /* mirror: connections fetching at once */
    const char *verify;       /* NULL: default for the URL */
    const char *key_paths[FTPC_MAX_KEYS];
    size_t nkeys;
    const char *lock_path, *state, *output, *audit_key;
    const char *state_db, *config; /* mirror: the job lock in PostgreSQL */
    const char *excludes[32];
    size_t nexcludes;
    const char *args[2];
    int nargs;
};

static const char ls_usage[] =
    "Usage: ferry ls URL [OPTION]...\n"
    "List a directory of a legacy FTP server, parsed and decoded.\n"
    "URL is ftp://[user[:password]@]host[:port]/path/ (ftps:// implicit TLS, ftpes://\n"
    "explicit TLS); without a user Ferry logs in as anonymous.\n\n"
    "  --json                one JSON object per entry per line\n"
    "  --encoding auto|NAME  charset of the server's names (default auto-detect)\n"
    "  --listing auto|FMT    listing format: unix, dos, vms, eplf, mlsd, os2, os400,\n"
    "                        mvs, mvs-pds, netware, tandem (default auto)\n"
    "  --timezone +HH:MM     the server's zone for LIST times (default UTC)\n"
    "  --ca FILE             CA bundle for FTPS;  --insecure  skip verification\n"
    "  --pin sha256//BASE64  pin the FTPS server's public key (self-signed servers)\n"
    "  --help                show this help\n"
    "Exit status: 0 ok, 1 failed, 2 usage, 75 temporary failure (retry later).\n";

static const char get_usage[] =
    "Usage: ferry get URL [-o FILE] [OPTION]...\n"
    "Download one file from a legacy FTP server. An interrupted download is kept as\n"
    "FILE.ferry-part and resumed (REST) by the next run while the remote file is\n"
    "unchanged; the file appears under its name only when complete and verified.\n\n"
    "  -o, --output FILE     where to write (default: the remote name, here)\n"
    "  --verify auto|none|manifest=URL\n"
    "                        auto (default for anonymous URLs): check NAME.sha256,\n"
    "                        NAME.sha512, NAME.minisig/.sig/.asc, SHA256SUMS, SHA512SUMS,\n"
    "                        MD5SUMS (+ .minisig/.sig/.asc) found beside the file;\n"
    "                        none (default with a user): accept unverified files\n"
    "  --key FILE            trusted public key (minisign, signify, PEM, OpenPGP);\n"
    "                        repeatable; with a key a valid signature is required\n"
    "  --require-signature   a hash from the same server is not enough\n"
    "  --retries N           retries on temporary errors (default 3)\n"
    "  --retry-delay MS      first backoff in milliseconds (default 1000, doubling)\n"
    "  --state DIR           write audit records to DIR/audit.jsonl\n"
    "  --quiet, --json, --encoding, --listing, --timezone, --ca, --insecure, --pin\n"
    "Unverified or failed files go to .ferry-quarantine/ beside FILE with a reason.\n"
    "Exit status: 0 ok, 1 failed, 2 usage, 3 verification failed, 75 retry later.\n";

static const char mirror_usage[] =
    "Usage: ferry mirror URL DEST [OPTION]...\n"
    "Mirror a legacy FTP tree into DEST (a local directory, or one under ferry serve's\n"
    "root). Made for cron: one run at a time (lock), only what changed is fetched\n"
    "(size and time), partial files resume, nothing half-written or unverified ever\n"
    "appears under its real name.\n\n"
    "  --verify auto|none|manifest=URL   as for ferry get (auto for anonymous URLs)\n"
    "  --key FILE            trusted public key, repeatable; signatures then required\n"
    "  --require-signature   a hash from the same server is not enough\n"
    "  --delete[=hard]       local files gone upstream move to DEST/.ferry-trash/\n"
    "                        (hard: are removed)\n"
    "  --exclude GLOB        skip matching names or relative paths (repeatable)\n"
    "  --dry-run             print the plan, change nothing\n"
    "  --retries N           retries per file on temporary errors (default 3)\n"
    "  --retry-delay MS      first backoff in milliseconds (default 1000, doubling)\n"
    "  --lock FILE           lock file (default DEST/.ferry-mirror.lock)\n"
    "  --state-db URL        also lock the job in this PostgreSQL (ferry serve's\n"
    "                        state_db), so one run at a time across every node\n"
    "  --config FILE         take state_db from this ferry serve configuration\n"
    "  --parallel N          fetch over N connections at once (default 4, 1-16)\n"
    "  --state DIR           write audit records to DIR/audit.jsonl\n"
    "  --audit-key FILE      the server's audit_key, when its chain is keyed\n"
    "  --quiet               print nothing on success\n"
    "  --json                print one JSON summary object\n"
    "  --encoding, --listing, --timezone, --ca, --insecure, --pin  as for ferry ls\n"
    "Exit status: 0 ok, 1 some files failed, 2 usage, 3 verification failed\n"
    "(quarantined in DEST/.ferry-quarantine/), 4 another run holds the lock,\n"
    "75 temporary failure (retry later).\n";

static int parse_opts(int argc, char **argv, struct copts *o, const char *usage, int want_args)
{
    int c;
    memset(o, 0, sizeof *o);
    o->cmd = argv[0];
    o->retries = 3;
    o->retry_delay_ms = 1000;
    o->parallel = PARALLEL_DEFAULT;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", long_opts, NULL)) != -1) {
        switch (c) {
        case O_HELP: fputs(usage, stdout); return -1;
        case O_JSON: o->json = true; break;
        case O_ENCODING: o->fo.encoding = optarg; break;
        case O_LISTING: o->fo.listing = optarg; break;
        case O_CA: o->fo.ca_file = optarg; break;
        case O_INSECURE: o->fo.insecure = true; break;
        case O_PIN: o->fo.pin_sha256 = optarg; break;
        case O_TZ: o->fo.timezone = optarg; break;
        case O_VERIFY: o->verify = optarg; break;
        case O_KEY:
            if (o->nkeys == FTPC_MAX_KEYS)
                return gw_usage_error(o->cmd, "at most %d --key options", FTPC_MAX_KEYS);
            o->key_paths[o->nkeys++] = optarg;
            break;
        case O_REQSIG: o->require_sig = true; break;
        case O_DELETE:
            if (!optarg)
                o->delete_mode = 1;
            else if (strcmp(optarg, "hard") == 0)
                o->delete_mode = 2;
            else
                return gw_usage_error(o->cmd, "--delete takes no value or =hard");
            break;
        case O_DRYRUN: o->dry_run = true; break;
        case O_RETRIES:
        case O_RETRY_DELAY: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1000000)
                return gw_usage_error(o->cmd, "%s wants a number, got '%s'",
                                      c == O_RETRIES ? "--retries" : "--retry-delay", optarg);
            if (c == O_RETRIES)
                o->retries = (int)v;
            else
                o->retry_delay_ms = (int)v;
            break;
        }
        case O_PARALLEL: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > PARALLEL_MAX)
                return gw_usage_error(o->cmd, "--parallel wants 1 to %d, got '%s'", PARALLEL_MAX,
                                      optarg);
            o->parallel = (int)v;
            break;
        }
        case O_LOCK: o->lock_path = optarg; break;
        case O_AUDIT_KEY: o->audit_key = optarg; break;
        case O_STATE_DB: o->state_db = optarg; break;
        case O_CONFIG: o->config = optarg; break;
        case O_EXCLUDE:
            if (o->nexcludes == sizeof o->excludes / sizeof o->excludes[0])
                return gw_usage_error(o->cmd, "too many --exclude patterns");
            o->excludes[o->nexcludes++] = optarg;
            break;
        case O_QUIET: o->quiet = true; break;
        case O_STATE: o->state = optarg; break;
        case 'o':
        case O_OUTPUT: o->output = optarg; break;
        case ':': return gw_usage_error(o->cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return gw_usage_error(o->cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        if (o->nargs == want_args)
            return gw_usage_error(o->cmd, "unexpected argument '%s'", argv[optind]);
        o->args[o->nargs++] = argv[optind];
    }
    if (o->nargs != want_args)
        return gw_usage_error(o->cmd, "%s", want_args == 2 ? "needs URL and DEST" : "needs a URL");
    if (o->require_sig && o->nkeys == 0)
        return gw_usage_error(o->cmd, "--require-signature needs --key");
    if (want_args != 2 && (o->state_db || o->config))
        return gw_usage_error(o->cmd, "--state-db and --config are for ferry mirror");
    return 0;
}

/* snprintf for paths: false (and an empty string) when the result would not fit. */
static bool pathf(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool pathf(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* ---- output helpers ---- */

static void json_time(struct gw_buf *b, const struct lp_time *t)
{
    char s[32];
    if (t->prec == LP_TIME_NONE || t->year == 0) {
        gw_buf_puts(b, "null");
        return;
    }
    if (t->prec == LP_TIME_DAY)
        snprintf(s, sizeof s, "%04d-%02d-%02d", t->year, t->mon, t->day);
    else
        snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d", t->year, t->mon, t->day, t->hour, t->min);
    gw_json_cstr(b, s);
}

static const char *type_name(enum lp_type t)
{
    return t == LP_TYPE_DIR ? "dir" : t == LP_TYPE_LINK ? "link" : t == LP_TYPE_FILE ? "file"
                                                                                     : "other";
}

static int exit_for(const struct ftpc *c)
{
    return ftpc_error_kind(c) == FTPC_TEMPORARY ? GW_EXIT_TEMPFAIL : GW_EXIT_SOME_FAILED;
}

static struct ftpc *client_for(struct copts *o, const char *url)
{
    char err[256];
    if (o->fo.insecure && !o->quiet && !o->warned_insecure && strncmp(url, "ftp://", 6) != 0) {
        fprintf(stderr,
                "ferry %s: warning: --insecure: the server's certificate is not checked; "
                "anyone on the path can read and change this transfer\n",
                o->cmd);
        o->warned_insecure = true; /* once per run, not once per connection */
    }
    struct ftpc *c = ftpc_new(url, &o->fo, err, sizeof err);
    if (!c)
        gw_usage_error(o->cmd, "%s", err);
    return c;
}

int ftpc_cmd_ls(int argc, char **argv)
{
    struct copts o;
    struct ftpc_listing l;
    int rc = parse_opts(argc, argv, &o, ls_usage, 1);
    if (rc != 0)
        return rc < 0 ? GW_EXIT_OK : rc;
    struct ftpc *c = client_for(&o, o.args[0]);
    if (!c)
        return GW_EXIT_USAGE;
    if (ftpc_list(c, NULL, 0, &l) != 0) {
        gw_errorf(o.cmd, "%s", ftpc_error(c));
        rc = exit_for(c);
        ftpc_free(c);
        return rc;
    }
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < l.n; i++) {
        const struct ftpc_entry *e = &l.e[i];
        gw_buf_reset(&b);
        if (o.json) {
            gw_buf_puts(&b, "{\"name\": ");
            gw_json_cstr(&b, e->name);
            gw_buf_printf(&b, ", \"type\": \"%s\", \"size\": ", type_name(e->type));
            if (e->have_size)
                gw_buf_printf(&b, "%" PRIu64, e->size);
            else
                gw_buf_puts(&b, "null");
            gw_buf_puts(&b, ", \"mtime\": ");
            json_time(&b, &e->mtime);
            gw_buf_puts(&b, ", \"target\": ");
            gw_json_cstr(&b, e->target);
            gw_buf_puts(&b, "}\n");
        } else {
            char when[32] = "-";
            const struct lp_time *t = &e->mtime;
            if (t->prec >= LP_TIME_MINUTE && t->year)
                snprintf(when, sizeof when, "%04d-%02d-%02d %02d:%02d", t->year, t->mon, t->day,
                         t->hour, t->min);
            else if (t->prec == LP_TIME_DAY && t->year)
                snprintf(when, sizeof when, "%04d-%02d-%02d", t->year, t->mon, t->day);
            char sz[24] = "-";
            if (e->have_size)
                snprintf(sz, sizeof sz, "%" PRIu64, e->size);
            gw_buf_printf(&b, "%c %14s  %-16s  %s%s%s\n", type_name(e->type)[0], sz, when, e->name,
                          e->target ? " -> " : "", e->target ? e->target : "");
        }
        fwrite(b.data, 1, b.len, stdout);
    }
    if (!o.json && !o.quiet)
        fprintf(stderr, "%zu entries, %s listing, names in %s%s\n", l.n,
                l.mlsd ? "MLSD" : lp_format_name(l.format), l.encoding,
                l.junk ? " (some lines skipped)" : "");
    gw_buf_free(&b);
    ftpc_listing_free(&l);
    ftpc_free(c);
    return GW_EXIT_OK;
}

/* ---- shared by get and mirror ---- */

struct run {
    struct copts *o;
    struct ftpc *c;
    struct ftpc_policy pol;
    struct ftpc_fetch_opts fo;
    struct audit_log *audit;
    char audit_path[4096]; /* the file of audit, "" when none */
    /* With a state database the records join its chain (struct dbaudit), audit is then
     * only where they go when the database cannot take them. */
    struct dbaudit *dba;
    char *key_data[FTPC_MAX_KEYS];
    char *manifest;
    const char *dest;
    /* summary */
    uint64_t files, transferred, bytes, skipped, failed, failed_temp, resumed, verified,
        quarantined, deleted, dirs;
    int64_t started_ms;
    bool tty;
    char current[256];
};

static int read_small_file(const char *path, char **out, size_t *len)
{
    struct gw_buf b;
    char tmp[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return gw_err_from_errno(errno);
    gw_buf_init(&b, FTPC_MAX_SIDECAR);
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? gw_err_from_errno(errno) : 0;
            break;
        }
        if ((rc = gw_buf_append(&b, tmp, (size_t)n)) != 0)
            break;
    }
    close(fd);
    if (rc == 0)
        *out = gw_buf_steal(&b, len);
    gw_buf_free(&b);
    return rc;
}

static int sink_buf(void *ctx, const void *p, size_t n)
{
    return gw_buf_append(ctx, p, n);
}

static int fetch_url_to_mem(struct run *r, const char *url, char **out, size_t *len)
{
    char err[256];
    struct ftpc *m = ftpc_new(url, &r->o->fo, err, sizeof err);
    if (!m) {
        gw_errorf(r->o->cmd, "manifest: %s", err);
        return GW_ERR_INVAL;
    }
    struct gw_buf b;
    uint64_t got;
    gw_buf_init(&b, FTPC_MAX_SIDECAR);
    /* The URL's path names the file: fetch it relative to the server root. */
    int rc = ftpc_get(m, "", 0, 0, sink_buf, &b, &got);
    if (rc == 0)
        *out = gw_buf_steal(&b, len);
    else
        gw_errorf(r->o->cmd, "manifest: %s", ftpc_error(m));
    gw_buf_free(&b);
    ftpc_free(m);
    return rc;
}

static int setup_run(struct run *r, struct copts *o, const char *url)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->started_ms = gw_now_ms();
    r->tty = gw_stdout_tty() && !o->quiet && !o->json;
    r->c = client_for(o, url);
    if (!r->c)
        return GW_EXIT_USAGE;
    const char *v = o->verify ? o->verify : (ftpc_anonymous(r->c) ? "auto" : "none");
    if (strcmp(v, "auto") == 0) {
        r->pol.mode = FTPC_VERIFY_AUTO;
    } else if (strcmp(v, "none") == 0) {
        r->pol.mode = FTPC_VERIFY_NONE;
        if (o->nkeys)
            return gw_usage_error(o->cmd, "--key makes no sense with --verify none");
    } else if (strncmp(v, "manifest=", 9) == 0 && v[9]) {
        size_t len;
        const char *src = v + 9;
        int rc = strstr(src, "://") ? fetch_url_to_mem(r, src, &r->manifest, &len)
                                    : read_small_file(src, &r->manifest, &len);
        if (rc != 0) {
            gw_errorf(o->cmd, "cannot read the manifest %s: %s", src, gw_strerror(rc));
            return GW_EXIT_USAGE;
        }
        r->pol.mode = FTPC_VERIFY_MANIFEST;
        r->pol.manifest = r->manifest;
        r->pol.manifest_len = len;
        const char *slash = strrchr(src, '/');
        r->pol.manifest_name = slash ? slash + 1 : src;
    } else {
        return gw_usage_error(o->cmd, "--verify takes auto, none or manifest=URL, got '%s'", v);
    }
    for (size_t i = 0; i < o->nkeys; i++) {
        size_t len;
        if (read_small_file(o->key_paths[i], &r->key_data[i], &len) != 0) {
            gw_errorf(o->cmd, "cannot read the key %s: %s", o->key_paths[i], strerror(errno));
            return GW_EXIT_USAGE;
        }
        r->pol.keys[i] = (const unsigned char *)r->key_data[i];
        r->pol.key_len[i] = len;
    }
    r->pol.nkeys = o->nkeys;
    r->pol.require_signature = o->require_sig;
    r->fo.policy = &r->pol;
    r->fo.retries = o->retries;
    r->fo.retry_delay_ms = o->retry_delay_ms;
    const char *state = o->state;
    struct stat st;
    if (!state && stat("ferry-state/audit.jsonl", &st) == 0)
        state = "ferry-state";
    if (state) {
        char path[4096];
        snprintf(path, sizeof path, "%s/audit.jsonl", state);
        snprintf(r->audit_path, sizeof r->audit_path, "%s", path);
        unsigned char *key = NULL;
        size_t keylen = 0;
        if (o->audit_key && audit_key_load(o->audit_key, &key, &keylen) != 0) {
            gw_errorf(o->cmd, "cannot read the audit key %s", o->audit_key);
            return GW_EXIT_USAGE;
        }
        int rc = audit_open(path, key, keylen, &r->audit);
        audit_key_free(key, keylen);
        if (rc != 0) {
            gw_errorf(o->cmd, "cannot open the audit log %s", path);
            return GW_EXIT_USAGE;
        }
    }
    return 0;
}

static void dba_free(struct dbaudit *d);

static void free_run(struct run *r)
{
    for (size_t i = 0; i < FTPC_MAX_KEYS; i++)
        free(r->key_data[i]);
    free(r->manifest);
    if (r->audit)
        audit_close(r->audit);
    dba_free(r->dba);
    ftpc_free(r->c);
}

/* ---- mirror's audit records in the state database ----
 * With --state-db (or state_db from --config), the run's records join the one chain
 * every node writes (gateway/statedb.h), on a connection of their own: the job lock's
 * is used by its watch thread. They are sent in batches (at most DBA_BATCH records or
 * DBA_MAX_WAIT_MS after the oldest, and at the end), because each append is a
 * transaction that locks the chain's head. A batch the database refuses even after a
 * reconnect goes to the state directory's audit file when the run has one, else the
 * records are counted as lost and the run exits 75: nothing vanishes silently. */
#define DBA_BATCH 256
#define DBA_MAX_WAIT_MS 1000

struct dbaudit {
    struct gw_statedb *db;
    char node[256];
    unsigned char *key;
    size_t keylen;
    struct audit_record recs[DBA_BATCH];
    char *store[DBA_BATCH]; /* each record's strings, one allocation */
    size_t n;
    int64_t oldest_ms;
    uint64_t diverted, lost;
};

/* A copy of a whose strings live in one block (*store), stamped now unless a has a time. */
static int rec_copy(const struct audit_record *a, struct audit_record *out, char **store)
{
    size_t total = audit_record_strings_size(a);
    if (!(*store = malloc(total ? total : 1)))
        return GW_ERR_NOMEM;
    audit_record_copy(out, a, *store);
    if (out->ts_ms <= 0)
        out->ts_ms = gw_wall_ms();
    return 0;
}

static void dba_flush(struct run *r)
{
    struct dbaudit *d = r->dba;
    char err[512];
    if (!d || d->n == 0)
        return;
    int rc = gw_statedb_audit_append(d->db, d->node, d->recs, d->n, d->key, d->keylen, err,
                                     sizeof err);
    if (rc != 0 && !gw_statedb_ok(d->db) && gw_statedb_reset(d->db, err, sizeof err) == 0)
        rc = gw_statedb_audit_append(d->db, d->node, d->recs, d->n, d->key, d->keylen, err,
                                     sizeof err);
    if (rc != 0) {
        bool kept = r->audit != NULL;
        for (size_t i = 0; kept && i < d->n; i++)
            kept = audit_append(r->audit, &d->recs[i]) == 0;
        if (kept)
            d->diverted += d->n;
        else
            d->lost += d->n;
        gw_errorf(r->o->cmd, "cannot add %zu audit record%s to the state database's chain "
                  "(%s): %s", d->n, d->n == 1 ? "" : "s", err,
                  kept ? "written to the audit file instead" : "they are lost");
        if (kept)
            fprintf(stderr, "  (the audit file: %s; `ferry db import` takes it only into an "
                            "empty table, so keep it with the run's logs)\n", r->audit_path);
    }
    for (size_t i = 0; i < d->n; i++)
        free(d->store[i]);
    d->n = 0;
}

static void run_audit(struct run *r, const struct audit_record *a)
{
    struct dbaudit *d = r->dba;
    if (!d) {
        if (r->audit)
            audit_append(r->audit, a);
        return;
    }
    if (rec_copy(a, &d->recs[d->n], &d->store[d->n]) != 0) {
        d->lost++;
        return;
    }
    int64_t now = gw_now_ms();
    if (d->n++ == 0)
        d->oldest_ms = now;
    if (d->n == DBA_BATCH || now - d->oldest_ms >= DBA_MAX_WAIT_MS)
        dba_flush(r);
}

static void dba_free(struct dbaudit *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->store[i]);
    gw_statedb_close(d->db);
    audit_key_free(d->key, d->keylen);
    free(d);
}

static void audit_fetch(struct run *r, const char *local, const struct ftpc_fetch_result *fr,
                        int64_t started)
{
    if (!r->audit && !r->dba)
        return;
    struct audit_record a;
    audit_record_init(&a);
    a.event = "download";
    a.proto = "mirror";
    a.user = getenv("USER");
    a.remote = ftpc_host(r->c);
    a.path = local;
    a.bytes = (int64_t)fr->bytes;
    a.offset = (int64_t)fr->offset;
    a.size = fr->status == 0 || fr->status == GW_ERR_VERIFY ? (int64_t)fr->size : -1;
    a.duration_ms = gw_now_ms() - started;
    a.status = fr->status == 0 ? "ok" : fr->temporary ? "aborted" : "failed";
    a.error = fr->status ? fr->reason : NULL;
    a.sha256 = fr->sha256[0] ? fr->sha256 : NULL;
    run_audit(r, &a);
    if (fr->checked) {
        audit_record_init(&a);
        a.event = "verify";
        a.proto = "mirror";
        a.remote = ftpc_host(r->c);
        a.path = local;
        a.status = fr->verdict == IG_VERIFIED ? "ok" : "failed";
        a.error = fr->reason;
        a.sha256 = fr->sha256[0] ? fr->sha256 : NULL;
        run_audit(r, &a);
    }
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    struct run *r = ctx;
    static int64_t last;
    int64_t now = gw_now_ms();
    if (!r->tty || (now - last < 200 && done != total))
        return;
    last = now;
    double secs = (double)(now - r->started_ms) / 1000.0;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 0;
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = (unsigned)i < pct / 5 ? '#' : '.';
    bar[20] = '\0';
    printf("\r[%s] %3u%% %8.1f MiB  %6.1f MiB/s  %u files  %.30s\033[K", bar, pct,
           (double)(r->bytes + done) / 1048576.0,
           secs > 0 ? (double)(r->bytes + done) / 1048576.0 / secs : 0.0,
           (unsigned)r->transferred, r->current);
    fflush(stdout);
}

static void note_result(struct run *r, const char *local, const struct ftpc_fetch_result *fr)
{
    if (fr->status == 0) {
        r->transferred++;
        r->bytes += fr->bytes;
        r->resumed += fr->resumed;
        r->verified += fr->checked && fr->verdict == IG_VERIFIED;
        if (fr->weak && !r->o->quiet && !r->o->json)
            fprintf(stderr, "ferry %s: %s: %s (weak: the hash came from the same server)\n",
                    r->o->cmd, local, fr->reason);
    } else if (fr->status == GW_ERR_VERIFY) {
        r->quarantined++;
        gw_errorf(r->o->cmd, "%s: quarantined: %s", local, fr->reason);
    } else {
        r->failed++;
        r->failed_temp += fr->temporary;
        gw_errorf(r->o->cmd, "%s: %s", local, fr->reason);
    }
}

static void print_summary(struct run *r, const char *what)
{
    int64_t ms = gw_now_ms() - r->started_ms;
    if (r->tty)
        printf("\r\033[K");
    if (r->o->json) {
        printf("{\"command\": \"%s\", \"files\": %" PRIu64 ", \"transferred\": %" PRIu64
               ", \"bytes\": %" PRIu64 ", \"skipped\": %" PRIu64 ", \"failed\": %" PRIu64
               ", \"resumed\": %" PRIu64 ", \"verified\": %" PRIu64 ", \"quarantined\": %" PRIu64
               ", \"deleted\": %" PRIu64 ", \"dry_run\": %s, \"duration_ms\": %" PRId64 "}\n",
               what, r->files, r->transferred, r->bytes, r->skipped, r->failed, r->resumed,
               r->verified, r->quarantined, r->deleted, r->o->dry_run ? "true" : "false", ms);
    } else if (!r->o->quiet || r->failed || r->quarantined) {
        printf("%s: %" PRIu64 " files, %" PRIu64 " transferred (%.1f MiB, %" PRIu64
               " resumed), %" PRIu64 " unchanged, %" PRIu64 " failed, %" PRIu64
               " quarantined, %" PRIu64 " deleted in %.1fs\n",
               what, r->files, r->transferred, (double)r->bytes / 1048576.0, r->resumed,
               r->skipped, r->failed, r->quarantined, r->deleted, (double)ms / 1000.0);
    }
}

static int final_status(const struct run *r)
{
    if (r->quarantined)
        return GW_EXIT_VERIFY;
    if (r->failed)
        return r->failed == r->failed_temp ? GW_EXIT_TEMPFAIL : GW_EXIT_SOME_FAILED;
    return GW_EXIT_OK;
}

/* Splits a URL into its directory URL and the file's name (still URL-encoded). */
static int split_url(const char *url, char **dir_url, char **name_enc)
{
    const char *scheme_end = strstr(url, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    const char *slash = strrchr(url, '/');
    if (!path || !slash || slash < path || !slash[1])
        return GW_ERR_INVAL;
    *dir_url = strndup(url, (size_t)(slash - url + 1));
    *name_enc = strdup(slash + 1);
    return *dir_url && *name_enc ? 0 : GW_ERR_NOMEM;
}

int ftpc_cmd_get(int argc, char **argv)
{
    struct copts o;
    struct run r;
    struct ftpc_listing l = {0};
    char *dir_url = NULL, *name_enc = NULL, *name = NULL, local[4096], qpath[4096];
    int status = parse_opts(argc, argv, &o, get_usage, 1);
    if (status != 0)
        return status < 0 ? GW_EXIT_OK : status;
    memset(&r, 0, sizeof r);
    if (split_url(o.args[0], &dir_url, &name_enc) != 0) {
        status = gw_usage_error(o.cmd, "the URL must name a file: %s", o.args[0]);
        goto out;
    }
    if ((status = setup_run(&r, &o, dir_url)) != 0)
        goto out;
    int nlen = 0;
    char *dec = curl_easy_unescape(NULL, name_enc, 0, &nlen);
    name = dec ? strndup(dec, (size_t)nlen) : NULL;
    curl_free(dec);
    if (!name) {
        status = GW_EXIT_USAGE;
        goto out;
    }
    if (ftpc_list(r.c, NULL, 0, &l) != 0) {
        gw_errorf(o.cmd, "%s", ftpc_error(r.c));
        status = exit_for(r.c);
        goto out;
    }
    const struct ftpc_entry *e = NULL;
    for (size_t i = 0; i < l.n && !e; i++)
        if (l.e[i].raw_len == (size_t)nlen && memcmp(l.e[i].raw, name, (size_t)nlen) == 0)
            e = &l.e[i];
    for (size_t i = 0; i < l.n && !e; i++) /* the name as decoded, when the URL used it */
        if (strcmp(l.e[i].name, name) == 0)
            e = &l.e[i];
    if (!e || e->type == LP_TYPE_DIR) {
        gw_errorf(o.cmd, "%s: no such file on the server", o.args[0]);
        status = GW_EXIT_SOME_FAILED;
        goto out;
    }
    snprintf(local, sizeof local, "%s", o.output ? o.output : e->name);
    const char *slash = strrchr(local, '/');
    pathf(qpath, sizeof qpath, "%.*s%s/%s", slash ? (int)(slash - local + 1) : 0, local,
             FTPC_QUARANTINE, slash ? slash + 1 : local);
    r.files = 1;
    snprintf(r.current, sizeof r.current, "%s", e->name);
    r.fo.progress = progress;
    r.fo.progress_ctx = &r;
    struct ftpc_dir_evidence *ev = ftpc_evidence_new();
    struct ftpc_fetch_result fr;
    int64_t t0 = gw_now_ms();
    ftpc_fetch(r.c, "", &l, e, local, qpath, ev, &r.fo, &fr);
    ftpc_evidence_free(ev);
    audit_fetch(&r, local, &fr, t0);
    note_result(&r, local, &fr);
    if (!o.quiet || o.json)
        print_summary(&r, "get");
    status = final_status(&r);
out:
    ftpc_listing_free(&l);
    free(dir_url);
    free(name_enc);
    free(name);
    free_run(&r);
    return status;
}

/* ---- mirror ---- */

/* A listed remote directory; its files are fetched after the walk, maybe in parallel. */
struct mdir {
    struct ftpc_listing l;
    char *rdir;                   /* raw remote path, relative to the URL */
    struct ftpc_dir_evidence *ev; /* fetched once, shared by the directory's files */
};

/* One file to fetch: entry idx of d's listing. */
struct job {
    struct mdir *d;
    size_t idx;
    char *rel, *local, *qpath;
};

struct mirror {
    struct run *r;
    const char *dest;
    char trash[64]; /* DEST/.ferry-trash/<stamp> relative part */
    struct mdir **dirs;
    size_t ndirs, capdirs;
    struct job *jobs;
    size_t njobs, capjobs;
    size_t next; /* next job to hand out */
    bool threaded;
    atomic_bool lock_lost; /* the job's database lock went to another run: stop */
    pthread_mutex_t mu; /* threaded: guards next, the run's counters, audit, progress */
    pthread_mutex_t ev_mu;
};

static bool our_name(const char *name)
{
    size_t n = strlen(name), m = strlen(FTPC_PART_SUFFIX);
    return strncmp(name, ".ferry-", 7) == 0 || strcmp(name, LOCK_NAME) == 0 ||
           (n > m && strcmp(name + n - m, FTPC_PART_SUFFIX) == 0);
}

static void join(char *out, size_t outsz, const char *a, const char *b)
{
    pathf(out, outsz, "%s%s%s", a, a[0] && b[0] ? "/" : "", b);
}

/* Lists a remote directory, retrying temporary failures like transfers. */
static int list_retry(struct run *r, const char *rdir, struct ftpc_listing *l)
{
    int delay = r->o->retry_delay_ms > 0 ? r->o->retry_delay_ms : 1000;
    for (int attempt = 0;; attempt++) {
        int rc = ftpc_list(r->c, rdir, strlen(rdir), l);
        if (rc == 0 || ftpc_error_kind(r->c) != FTPC_TEMPORARY || attempt >= r->o->retries)
            return rc;
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000};
        nanosleep(&ts, NULL);
        delay = delay * 2 > 30000 ? 30000 : delay * 2;
    }
}

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        char sub[4096];
        while (d && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            join(sub, sizeof sub, path, de->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int mkdirs_local(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Creates the directories above path (not path itself). */
static int mkdirs_parent(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = '\0';
    return mkdirs_local(tmp);
}

/* Local entries of ldir that the remote listing no longer has. */
static void delete_gone(struct mirror *m, const char *lrel, const struct ftpc_listing *l)
{
    struct run *r = m->r;
    char ldir[4096], path[4096], rel[4096], to[4096];
    join(ldir, sizeof ldir, m->dest, lrel);
    DIR *d = opendir(ldir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || our_name(de->d_name))
            continue;
        bool present = false;
        for (size_t i = 0; i < l->n && !present; i++)
            present = strcmp(l->e[i].name, de->d_name) == 0;
        if (present)
            continue;
        join(rel, sizeof rel, lrel, de->d_name);
        join(path, sizeof path, m->dest, rel);
        r->deleted++;
        if (r->o->dry_run) {
            if (!r->o->json)
                printf("delete %s\n", rel);
            continue;
        }
        if (r->o->delete_mode == 2) {
            remove_tree(path);
        } else {
            if (!pathf(to, sizeof to, "%s/%s/%s/%s", m->dest, TRASH_DIR, m->trash, rel) ||
                mkdirs_parent(to) != 0 || rename(path, to) != 0)
                gw_errorf(r->o->cmd, "cannot move %s to the trash: %s", rel, strerror(errno));
        }
        if (r->audit || r->dba) {
            struct audit_record a;
            audit_record_init(&a);
            a.event = "delete";
            a.proto = "mirror";
            a.remote = ftpc_host(r->c);
            a.path = path;
            a.status = "ok";
            run_audit(r, &a);
        }
    }
    if (d)
        closedir(d);
}

static bool excluded(const struct copts *o, const char *name, const char *rel)
{
    for (size_t i = 0; i < o->nexcludes; i++)
        if (fnmatch(o->excludes[i], name, 0) == 0 || fnmatch(o->excludes[i], rel, 0) == 0)
            return true;
    return false;
}

static bool unchanged(struct run *r, const char *local, const struct ftpc_entry *e)
{
    struct stat st;
    if (lstat(local, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (e->have_size && (uint64_t)st.st_size != e->size)
        return false;
    time_t mt = ftpc_time_utc(r->c, &e->mtime);
    return mt == 0 || st.st_mtime == mt;
}

static void mirror_link(struct mirror *m, const char *lrel, const struct ftpc_entry *e)
{
    char rel[4096], path[4096], have[4096];
    join(rel, sizeof rel, lrel, e->name);
    join(path, sizeof path, m->dest, rel);
    /* Only relative targets that stay inside the mirror: a link never points a reader of
     * DEST somewhere else. */
    const char *t = e->target;
    int depth = 0;
    for (const char *p = lrel; *p; p++)
        depth += *p == '/';
    depth += lrel[0] ? 1 : 0;
    bool ok = t && t[0] && t[0] != '/';
    for (const char *p = t; ok && *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            ok = --depth >= 0;
        else if (!(n == 1 && p[0] == '.') && n)
            depth++;
        p += n + (p[n] == '/');
    }
    if (!ok) {
        if (!m->r->o->quiet && !m->r->o->json)
            fprintf(stderr, "ferry mirror: %s: symlink to '%s' leaves the mirror; skipped\n", rel,
                    t ? t : "?");
        return;
    }
    ssize_t n = readlink(path, have, sizeof have - 1);
    if (n >= 0 && (size_t)n == strlen(t) && memcmp(have, t, (size_t)n) == 0)
        return;
    if (m->r->o->dry_run) {
        if (!m->r->o->json)
            printf("link %s -> %s\n", rel, t);
        return;
    }
    unlink(path);
    if (symlink(t, path) != 0)
        gw_errorf(m->r->o->cmd, "%s: symlink: %s", rel, strerror(errno));
}

static struct mdir *add_dir(struct mirror *m, const char *rdir)
{
    if (m->ndirs == m->capdirs) {
        size_t cap = m->capdirs ? m->capdirs * 2 : 64;
        struct mdir **p = realloc(m->dirs, cap * sizeof *p);
        if (!p)
            return NULL;
        m->dirs = p;
        m->capdirs = cap;
    }
    struct mdir *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->rdir = strdup(rdir);
    d->ev = ftpc_evidence_new();
    if (!d->rdir || !d->ev) {
        free(d->rdir);
        ftpc_evidence_free(d->ev);
        free(d);
        return NULL;
    }
    m->dirs[m->ndirs++] = d;
    return d;
}

static int add_job(struct mirror *m, struct mdir *d, size_t idx, const char *rel, const char *local,
                   const char *qpath)
{
    if (m->njobs == m->capjobs) {
        size_t cap = m->capjobs ? m->capjobs * 2 : 256;
        struct job *p = realloc(m->jobs, cap * sizeof *p);
        if (!p)
            return GW_ERR_NOMEM;
        m->jobs = p;
        m->capjobs = cap;
    }
    struct job *j = &m->jobs[m->njobs];
    *j = (struct job){
        .d = d, .idx = idx, .rel = strdup(rel), .local = strdup(local), .qpath = strdup(qpath)};
    if (!j->rel || !j->local || !j->qpath) {
        free(j->rel);
        free(j->local);
        free(j->qpath);
        return GW_ERR_NOMEM;
    }
    m->njobs++;
    return 0;
}

static void free_mirror(struct mirror *m)
{
    for (size_t i = 0; i < m->njobs; i++) {
        free(m->jobs[i].rel);
        free(m->jobs[i].local);
        free(m->jobs[i].qpath);
    }
    free(m->jobs);
    for (size_t i = 0; i < m->ndirs; i++) {
        ftpc_listing_free(&m->dirs[i]->l);
        ftpc_evidence_free(m->dirs[i]->ev);
        free(m->dirs[i]->rdir);
        free(m->dirs[i]);
    }
    free(m->dirs);
}

static void lock_run(struct mirror *m)
{
    if (m->threaded)
        pthread_mutex_lock(&m->mu);
}

static void unlock_run(struct mirror *m)
{
    if (m->threaded)
        pthread_mutex_unlock(&m->mu);
}

/* Fetches one file over client c (any thread). */
static void run_job(struct mirror *m, struct ftpc *c, const struct job *j)
{
    struct run *r = m->r;
    const struct ftpc_entry *e = &j->d->l.e[j->idx];
    struct ftpc_fetch_result fr;
    /* Integrity metadata is mirrored as it is: it is the evidence, not the payload. */
    struct ftpc_policy none = {.mode = FTPC_VERIFY_NONE};
    struct ftpc_fetch_opts fo = r->fo;
    if (ftpc_is_evidence_name(e->name))
        fo.policy = &none;
    if (m->threaded)
        fo.evidence_lock = &m->ev_mu;
    lock_run(m);
    snprintf(r->current, sizeof r->current, "%s", e->name);
    unlock_run(m);
    int64_t t0 = gw_now_ms();
    ftpc_fetch(c, j->d->rdir, &j->d->l, e, j->local, j->qpath, j->d->ev, &fo, &fr);
    lock_run(m);
    audit_fetch(r, j->local, &fr, t0);
    note_result(r, j->rel, &fr);
    unlock_run(m);
}

struct worker {
    struct mirror *m;
    struct ftpc *c;
    pthread_t th;
    bool started;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mirror *m = w->m;
    /* A server refusing more connections (421 too many users) leaves the work to the
     * others: the first connection (the walk's) always takes part. */
    if (w->c != m->r->c && ftpc_connect(w->c) != 0)
        return NULL;
    for (;;) {
        if (atomic_load(&m->lock_lost))
            return NULL;
        pthread_mutex_lock(&m->mu);
        size_t i = m->next < m->njobs ? m->next++ : m->njobs;
        pthread_mutex_unlock(&m->mu);
        if (i == m->njobs)
            return NULL;
        run_job(m, w->c, &m->jobs[i]);
    }
}

/* A file fetched and verified that its batch could not move into place. */
static void batch_fail(void *ctx, const char *path, const char *why)
{
    struct mirror *m = ctx;
    lock_run(m);
    gw_errorf(m->r->o->cmd, "%s: not moved into place: %s", path, why);
    m->r->failed++;
    if (m->r->transferred)
        m->r->transferred--;
    unlock_run(m);
}

static void progress_mt(void *ctx, uint64_t done, uint64_t total)
{
    struct mirror *m = ctx;
    pthread_mutex_lock(&m->mu);
    progress(m->r, done, total);
    pthread_mutex_unlock(&m->mu);
}

/* Runs the walk's jobs: on the walk's connection alone, or over up to --parallel
 * connections with one thread each. */
static void run_jobs(struct mirror *m)
{
    struct run *r = m->r;
    size_t n = (size_t)r->o->parallel;
    if (n > m->njobs)
        n = m->njobs;
    if (n <= 1) {
        for (size_t i = 0; i < m->njobs && !atomic_load(&m->lock_lost); i++)
            run_job(m, r->c, &m->jobs[i]);
        return;
    }
    struct worker w[PARALLEL_MAX];
    memset(w, 0, sizeof w);
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->ev_mu, NULL);
    m->threaded = true;
    m->next = 0;
    r->fo.progress = progress_mt;
    r->fo.progress_ctx = m;
    w[0] = (struct worker){.m = m, .c = r->c};
    for (size_t i = 1; i < n; i++) {
        w[i].m = m;
        w[i].c = client_for(r->o, r->o->args[0]);
        if (w[i].c && pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0)
            w[i].started = true;
    }
    worker_main(&w[0]);
    for (size_t i = 1; i < n; i++) {
        if (w[i].started)
            pthread_join(w[i].th, NULL);
        ftpc_free(w[i].c);
    }
    m->threaded = false;
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->ev_mu);
}

static void mirror_dir(struct mirror *m, const char *rdir, const char *lrel, int depth)
{
    struct run *r = m->r;
    char ldir[4096];
    join(ldir, sizeof ldir, m->dest, lrel);
    if (depth > MAX_DEPTH) {
        gw_errorf(r->o->cmd, "%s: deeper than %d levels; skipped", lrel, MAX_DEPTH);
        r->failed++;
        return;
    }
    struct mdir *d = add_dir(m, rdir);
    if (!d) {
        gw_errorf(r->o->cmd, "%s: out of memory", lrel[0] ? lrel : "/");
        r->failed++;
        return;
    }
    if (list_retry(r, rdir, &d->l) != 0) {
        gw_errorf(r->o->cmd, "%s: %s", lrel[0] ? lrel : "/", ftpc_error(r->c));
        r->failed++;
        r->failed_temp += ftpc_error_kind(r->c) == FTPC_TEMPORARY;
        return;
    }
    const struct ftpc_listing *lp = &d->l;
    r->dirs++;
    if (!r->o->dry_run && mkdirs_local(ldir) != 0) {
        gw_errorf(r->o->cmd, "cannot create %s: %s", ldir, strerror(errno));
        r->failed++;
        return;
    }
    for (size_t i = 0; i < lp->n; i++) {
        const struct ftpc_entry *e = &lp->e[i];
        char rel[4096], local[4096], qpath[4096], sub[4096];
        if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0 || our_name(e->name))
            continue;
        join(rel, sizeof rel, lrel, e->name);
        join(local, sizeof local, m->dest, rel);
        if (excluded(r->o, e->name, rel))
            continue;
        if (e->type == LP_TYPE_DIR) {
            snprintf(sub, sizeof sub, "%s%s/", rdir, e->raw);
            mirror_dir(m, sub, rel, depth + 1);
            continue;
        }
        if (e->type == LP_TYPE_LINK) {
            mirror_link(m, lrel, e);
            continue;
        }
        if (e->type != LP_TYPE_FILE)
            continue;
        r->files++;
        if (unchanged(r, local, e)) {
            r->skipped++;
            continue;
        }
        if (r->o->dry_run) {
            if (!r->o->json)
                printf("get %s (%" PRIu64 " bytes)\n", rel, e->size);
            continue;
        }
        pathf(qpath, sizeof qpath, "%s/%s/%s", m->dest, FTPC_QUARANTINE, rel);
        if (add_job(m, d, i, rel, local, qpath) != 0) {
            gw_errorf(r->o->cmd, "%s: out of memory", rel);
            r->failed++;
        }
    }
    if (r->o->delete_mode)
        delete_gone(m, lrel, lp);
}

/* The job's name in the database: "mirror:" and the lock file's canonical path (its
 * directory resolved, so relative paths and symlinks name the same job). Every node
 * mounts the shared root at the same path, so the same job on two nodes gets one name
 * and two jobs into different directories never collide. */
static int job_name(const char *lock_path, char *out, size_t outsz)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(lock_path, '/');
    const char *base = slash ? slash + 1 : lock_path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == lock_path)
        snprintf(dir, sizeof dir, "/");
    else if (!pathf(dir, sizeof dir, "%.*s", (int)(slash - lock_path), lock_path))
        return GW_ERR_TOOLONG;
    if (!realpath(dir, real))
        return GW_ERR_IO;
    if (!pathf(out, outsz, "mirror:%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", base))
        return GW_ERR_TOOLONG;
    return 0;
}

/* The state_db URL: --state-db, else [server] state_db of --config; NULL when neither
 * names one (then the lock file alone keeps runs apart, as on a single node). The
 * returned string is malloc'd. */
static int state_db_url(const struct copts *o, char **url)
{
    *url = NULL;
    if (o->state_db) {
        *url = strdup(o->state_db);
        return *url ? 0 : GW_EXIT_SOME_FAILED;
    }
    if (!o->config)
        return 0;
    struct gw_config cfg;
    char err[512];
    int status = 0;
    cfg_defaults(&cfg);
    if (cfg_load(&cfg, o->config, err, sizeof err) != 0) {
        gw_errorf(o->cmd, "%s", err);
        status = GW_EXIT_USAGE;
    } else if (cfg.state_db[0] && !(*url = strdup(cfg.state_db))) {
        status = GW_EXIT_SOME_FAILED;
    }
    cfg_free(&cfg);
    return status;
}

/* Opens the run's audit link to the state database at url (see struct dbaudit): the
 * chain's key is --audit-key, else audit_key of --config; the node is node_name of
 * --config, else the host name, as `ferry serve` names it. Returns an exit status. */
static int dba_open(struct run *r, const struct copts *o, const char *url)
{
    char err[512];
    struct gw_config cfg;
    bool have_cfg = false;
    int status = GW_EXIT_OK;
    struct dbaudit *d = calloc(1, sizeof *d);
    if (!d)
        return GW_EXIT_SOME_FAILED;
    if (o->config) {
        cfg_defaults(&cfg);
        have_cfg = cfg_load(&cfg, o->config, err, sizeof err) == 0;
        if (!have_cfg) {
            gw_errorf(o->cmd, "%s", err);
            status = GW_EXIT_USAGE;
            goto out;
        }
    }
    const char *key = o->audit_key ? o->audit_key
                      : have_cfg && cfg.audit_key[0] ? cfg.audit_key : NULL;
    if (key && audit_key_load(key, &d->key, &d->keylen) != 0) {
        gw_errorf(o->cmd, "cannot read the audit key %s", key);
        status = GW_EXIT_USAGE;
        goto out;
    }
    if (have_cfg && cfg.node_name[0])
        snprintf(d->node, sizeof d->node, "%s", cfg.node_name);
    else if (gethostname(d->node, sizeof d->node - 1) != 0)
        snprintf(d->node, sizeof d->node, "ferry");
    if (gw_statedb_open(url, &d->db, err, sizeof err) != 0) {
        gw_errorf(o->cmd, "cannot open the audit link to the state database: %s "
                  "(temporary failure, retry later)", err);
        status = GW_EXIT_TEMPFAIL;
        goto out;
    }
    r->dba = d;
    d = NULL;
out:
    if (o->config)
        cfg_free(&cfg);
    dba_free(d);
    return status;
}

/* The job's lock in the state database, and a thread that keeps it while the run
 * lasts: every JOBLOCK_CHECK_MS it takes the lock again (advisory locks nest, so this
 * is a no-op while the session lives, and a query that notices a broken connection).
 * When the connection broke (PostgreSQL restarted), the lock went with it: the thread
 * reconnects and takes it again; if another run got it meanwhile, lost is set and the
 * workers stop handing out files (those in flight finish), and the run exits 75. */
#define JOBLOCK_CHECK_MS 2000
struct joblock {
    struct gw_statedb *db; /* NULL: no state database */
    char name[PATH_MAX + 16];
    const char *cmd;
    atomic_bool *lost;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop;
};

static void joblock_check(struct joblock *jl, bool *down)
{
    char err[512], why[512] = "";
    bool got = false;
    int rc = gw_statedb_try_lock(jl->db, jl->name, &got, err, sizeof err);
    if (rc != 0 && !gw_statedb_ok(jl->db)) {
        snprintf(why, sizeof why, "%s", err);
        if (gw_statedb_reset(jl->db, err, sizeof err) == 0)
            rc = gw_statedb_try_lock(jl->db, jl->name, &got, err, sizeof err);
    }
    if (rc != 0) {
        if (!*down)
            gw_errorf(jl->cmd, "the state database is unreachable (%s); the job lock is taken "
                      "again when it is back", err);
        *down = true;
    } else if (!got) {
        gw_errorf(jl->cmd, "lost the job lock %s to another run while the state database was "
                  "unreachable: stopping after the files in flight", jl->name);
        atomic_store(jl->lost, true);
    } else if (*down || why[0]) {
        gw_errorf(jl->cmd, "the state database connection was lost%s%s; reconnected, the job "
                  "lock is held again", why[0] ? ": " : "", why);
        *down = false;
    }
}

static void *joblock_main(void *arg)
{
    struct joblock *jl = arg;
    bool down = false;
    pthread_mutex_lock(&jl->mu);
    while (!jl->stop && !atomic_load(jl->lost)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += JOBLOCK_CHECK_MS / 1000;
        if (pthread_cond_timedwait(&jl->cv, &jl->mu, &ts) == 0 || jl->stop)
            continue;
        pthread_mutex_unlock(&jl->mu);
        joblock_check(jl, &down);
        pthread_mutex_lock(&jl->mu);
    }
    pthread_mutex_unlock(&jl->mu);
    return NULL;
}

static void joblock_watch(struct joblock *jl, atomic_bool *lost)
{
    jl->lost = lost;
    if (!jl->db)
        return;
    pthread_mutex_init(&jl->mu, NULL);
    pthread_cond_init(&jl->cv, NULL);
    jl->stop = false;
    if (pthread_create(&jl->th, NULL, joblock_main, jl) == 0) {
        jl->running = true;
    } else {
        pthread_cond_destroy(&jl->cv);
        pthread_mutex_destroy(&jl->mu);
    }
}

static void joblock_unwatch(struct joblock *jl)
{
    if (!jl->running)
        return;
    pthread_mutex_lock(&jl->mu);
    jl->stop = true;
    pthread_cond_signal(&jl->cv);
    pthread_mutex_unlock(&jl->mu);
    pthread_join(jl->th, NULL);
    pthread_cond_destroy(&jl->cv);
    pthread_mutex_destroy(&jl->mu);
    jl->running = false;
}

/* With a state database, the job lock is a PostgreSQL session advisory lock, taken
 * before the lock file: the file keeps runs on one machine apart (also runs started
 * without --state-db), the database keeps the same job apart across nodes, where a
 * flock on the shared filesystem may not reach the other node (NFS) and could outlive a
 * crashed node. The database lock dies with the connection: no stale lock. *db stays
 * open for the run. Returns an exit status. */
static int db_lock(const struct copts *o, const char *lock_path, struct joblock *jl)
{
    char *url = NULL, err[512], shown[512];
    struct gw_statedb **db = &jl->db;
    const char *name = jl->name;
    bool got = false;
    int status = state_db_url(o, &url);
    *db = NULL;
    jl->cmd = o->cmd;
    if (status != 0 || !url)
        goto out;
    gw_statedb_redact(url, shown, sizeof shown);
    int rc = job_name(lock_path, jl->name, sizeof jl->name);
    if (rc != 0) {
        gw_errorf(o->cmd, "cannot resolve the lock file %s: %s", lock_path,
                  rc == GW_ERR_IO ? strerror(errno) : gw_strerror(rc));
        status = GW_EXIT_SOME_FAILED;
        goto out;
    }
    if (gw_statedb_open(url, db, err, sizeof err) != 0 ||
        gw_statedb_try_lock(*db, name, &got, err, sizeof err) != 0) {
        /* err names the redacted URL when the connection failed */
        gw_errorf(o->cmd, "cannot take the job lock in the state database: %s "
                  "(temporary failure, retry later)", err);
        status = GW_EXIT_TEMPFAIL;
        goto out_close;
    }
    if (!got) {
        gw_errorf(o->cmd, "another mirror into %s is running on this or another node "
                  "(lock %s in the state database %s)", o->args[1], name, shown);
        status = GW_EXIT_LOCKED;
        goto out_close;
    }
    goto out;
out_close:
    gw_statedb_close(*db);
    *db = NULL;
out:
    free(url);
    return status;
}

int ftpc_cmd_mirror(int argc, char **argv)
{
    struct copts o;
    struct run r;
    struct mirror m;
    char lock_path[4096];
    int lock_fd = -1;
    struct joblock jl;
    int status = parse_opts(argc, argv, &o, mirror_usage, 2);
    if (status != 0)
        return status < 0 ? GW_EXIT_OK : status;
    memset(&r, 0, sizeof r);
    memset(&jl, 0, sizeof jl);
    if (mkdirs_local(o.args[1]) != 0) {
        gw_errorf(o.cmd, "cannot create %s: %s", o.args[1], strerror(errno));
        return GW_EXIT_SOME_FAILED;
    }
    snprintf(lock_path, sizeof lock_path, "%s", o.lock_path ? o.lock_path : "");
    if (!o.lock_path)
        snprintf(lock_path, sizeof lock_path, "%s/%s", o.args[1], LOCK_NAME);
    if ((status = db_lock(&o, lock_path, &jl)) != 0)
        return status;
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
        gw_errorf(o.cmd, "cannot open the lock file %s: %s", lock_path, strerror(errno));
        status = GW_EXIT_SOME_FAILED;
        goto out;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        gw_errorf(o.cmd, "another mirror into %s is running%s%s (lock %s)", o.args[1],
                  pid[0] ? " as pid " : "", pid, lock_path);
        status = GW_EXIT_LOCKED;
        goto out;
    }
    char pidline[32];
    int pl = snprintf(pidline, sizeof pidline, "%d\n", (int)getpid());
    if (ftruncate(lock_fd, 0) == 0 && pwrite(lock_fd, pidline, (size_t)pl, 0) < 0) {
        /* the pid is only informative */
    }
    if ((status = setup_run(&r, &o, o.args[0])) != 0)
        goto out;
    if (jl.db) {
        char *url = NULL;
        status = state_db_url(&o, &url);
        if (status == 0 && url)
            status = dba_open(&r, &o, url);
        free(url);
        if (status != 0)
            goto out;
    }
    memset(&m, 0, sizeof m);
    atomic_init(&m.lock_lost, false);
    joblock_watch(&jl, &m.lock_lost);
    m.r = &r;
    m.dest = o.args[1];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m.trash, sizeof m.trash, "%Y%m%dT%H%M%SZ", &tm);
    r.fo.progress = progress;
    r.fo.progress_ctx = &r;
    mirror_dir(&m, "", "", 0);
    if (!o.dry_run)
        r.fo.batch = ftpc_batch_new(o.args[1], batch_fail, &m);
    run_jobs(&m);
    joblock_unwatch(&jl);
    ftpc_batch_free(r.fo.batch);
    r.fo.batch = NULL;
    free_mirror(&m);
    print_summary(&r, o.dry_run ? "mirror (dry run)" : "mirror");
    status = final_status(&r);
    if (atomic_load(&m.lock_lost))
        status = GW_EXIT_TEMPFAIL;
    if (r.audit || r.dba) {
        struct audit_record a;
        audit_record_init(&a);
        a.event = "mirror";
        a.proto = "mirror";
        a.remote = ftpc_host(r.c);
        a.path = o.args[1];
        a.bytes = (int64_t)r.bytes;
        a.duration_ms = gw_now_ms() - r.started_ms;
        a.status = status == 0 ? "ok" : "failed";
        run_audit(&r, &a);
    }
    dba_flush(&r);
    if (r.dba && r.dba->lost > 0 && status == GW_EXIT_OK)
        status = GW_EXIT_TEMPFAIL; /* the files are there, their audit trail is not */
out:
    free_run(&r);
    if (lock_fd >= 0)
        close(lock_fd);
    joblock_unwatch(&jl);
    gw_statedb_close(jl.db); /* releases the job lock with the session */
    return status;
}
