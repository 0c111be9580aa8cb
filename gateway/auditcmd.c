/* `ferry audit`: query the audit log (filters, table/JSON Lines/xferlog output, --stats)
 * and `ferry audit verify` (the hash chain across rotated files). Both stream the log
 * and its rotations (audit.jsonl.N, audit.jsonl.N.gz) oldest first, never holding more
 * than one line of it.
 *
 * With a state database (--state-db URL, or state_db in --config) and no --log, the
 * records come from it instead: they are dumped, oldest first, into an anonymous file
 * (memfd) that the same code then reads as a log, so the output and exit codes are the
 * file's. */
#include "gateway/audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/statedb.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define DEFAULT_STATE "./ferry-state"
#define LOG_NAME "audit.jsonl"

/* ---- time arguments ---- */

int audit_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
    size_t n = strlen(s);
    if (strcmp(s, "now") == 0) {
        *out_ms = now_ms;
        return 0;
    }
    /* An age: digits and one unit. */
    size_t d = strspn(s, "0123456789");
    if (d > 0 && d <= 9 && n == d + 1) {
        static const char units[] = "smhdw";
        static const int64_t ms[] = {1000, 60000, 3600000, 86400000, 604800000};
        const char *u = strchr(units, s[d]);
        if (!u || !s[d])
            return GW_ERR_INVAL;
        *out_ms = now_ms - strtoll(s, NULL, 10) * ms[u - units];
        return 0;
    }
    /* A date or date and time, UTC: overlay it on a full timestamp of the log's form
     * and let the log's own parser check every field. */
    char ts[AUDIT_TS_LEN + 1] = "0000-01-01T00:00:00.000Z";
    if (n > 0 && s[n - 1] == 'Z')
        n--;
    if (n != 10 && n != 13 && n != 16 && n != 19 && n != 23)
        return GW_ERR_INVAL;
    memcpy(ts, s, n);
    if (n > 10) {
        if (s[10] != 'T' && s[10] != ' ')
            return GW_ERR_INVAL;
        ts[10] = 'T';
    }
    return audit_parse_ts(ts, AUDIT_TS_LEN, out_ms) < 0 ? GW_ERR_INVAL : 0;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static char *log_path(const char *log, const char *state)
{
    char *p = NULL;
    if (log)
        return strdup(log);
    if (asprintf(&p, "%s/%s", state ? state : DEFAULT_STATE, LOG_NAME) < 0)
        return NULL;
    return p;
}

/* ---- the log in a state database ---- */

/* Where the records come from: --log, else the state database, else STATE/audit.jsonl. */
struct source {
    const char *log, *state, *config, *url_flag, *keyfile;
    char *state_cfg, *keyfile_cfg; /* from the config (owned) */
    char *url;                     /* the state database, NULL for files (owned) */
    int fd;                        /* the memfd holding the dump, -1 */
    char *path;                    /* what the file code reads (owned) */
    char label[512];               /* how messages name it */
    char head[AUDIT_HASH_HEX + 1]; /* the database's chain head ("" when none) */
};

static void source_free(struct source *s)
{
    free(s->state_cfg);
    free(s->keyfile_cfg);
    free(s->url);
    free(s->path);
    if (s->fd >= 0)
        close(s->fd);
}

/* Reads --config (state, state_db, audit_key) and settles where the records are. */
static int source_resolve(const char *cmd, struct source *s)
{
    if (s->config) {
        struct gw_config cfg;
        char err[512];
        int rc = GW_EXIT_OK;
        cfg_defaults(&cfg);
        if (cfg_load(&cfg, s->config, err, sizeof err) < 0) {
            gw_errorf(cmd, "%s", err);
            rc = GW_EXIT_USAGE;
        } else if ((cfg.state && !(s->state_cfg = strdup(cfg.state))) ||
                   (cfg.audit_key && cfg.audit_key[0] &&
                    !(s->keyfile_cfg = strdup(cfg.audit_key))) ||
                   (cfg.state_db && cfg.state_db[0] && !(s->url = strdup(cfg.state_db)))) {
            gw_errorf(cmd, "out of memory");
            rc = GW_EXIT_SOME_FAILED;
        }
        cfg_free(&cfg);
        if (rc != GW_EXIT_OK)
            return rc;
        if (!s->state)
            s->state = s->state_cfg;
        if (!s->keyfile)
            s->keyfile = s->keyfile_cfg;
    }
    if (s->url_flag) {
        free(s->url);
        if (!(s->url = strdup(s->url_flag))) {
            gw_errorf(cmd, "out of memory");
            return GW_EXIT_SOME_FAILED;
        }
    }
    /* An explicit --log always wins: it is how a file is checked with a database set. */
    if (s->log) {
        free(s->url);
        s->url = NULL;
    }
    if (!s->url) {
        s->path = log_path(s->log, s->state);
        if (!s->path)
            return GW_EXIT_SOME_FAILED;
        snprintf(s->label, sizeof s->label, "%s", s->path);
        return GW_EXIT_OK;
    }
    gw_statedb_redact(s->url, s->label, sizeof s->label);
    return GW_EXIT_OK;
}

/* Dumps the database's records into a memfd and points s->path at it. */
static int source_dump(const char *cmd, struct source *s)
{
    struct gw_statedb *db = NULL;
    struct gw_statedb_status st;
    char err[512];
    int ex = GW_EXIT_SOME_FAILED;
    memset(&st, 0, sizeof st);
    if (gw_statedb_open(s->url, &db, err, sizeof err) < 0) {
        gw_errorf(cmd, "%s", err);
        return GW_EXIT_SOME_FAILED;
    }
    /* The head is read before the dump: records appended meanwhile come after it. */
    if (gw_statedb_status(db, &st, err, sizeof err) < 0) {
        gw_errorf(cmd, "%s: %s", s->label, err);
        goto out;
    }
    if (st.version != GW_STATEDB_SCHEMA) {
        gw_errorf(cmd, "%s: schema version %d, this ferry needs %d: run 'ferry db migrate'",
                  s->label, st.version, GW_STATEDB_SCHEMA);
        goto out;
    }
    snprintf(s->head, sizeof s->head, "%s", st.head_hash);
    s->fd = memfd_create("ferry-audit", MFD_CLOEXEC);
    if (s->fd < 0 || asprintf(&s->path, "/proc/self/fd/%d", s->fd) < 0) {
        s->path = NULL;
        gw_errorf(cmd, "cannot create a temporary file: %s", strerror(errno));
        goto out;
    }
    if (gw_statedb_audit_dump(db, s->fd, err, sizeof err) < 0) {
        gw_errorf(cmd, "%s: %s", s->label, err);
        goto out;
    }
    ex = GW_EXIT_OK;
out:
    gw_statedb_status_free(&st);
    gw_statedb_close(db);
    return ex;
}

/* True when the database's chain head is a record of the dump: records deleted from
 * the end of the table leave a chain that verifies, but not the head. */
static bool head_in_dump(const struct source *s)
{
    struct stat sb;
    char needle[16 + AUDIT_HASH_HEX];
    bool found = false;
    if (!s->head[0])
        return true;
    if (fstat(s->fd, &sb) < 0 || sb.st_size == 0)
        return false;
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0);
    if (m == MAP_FAILED)
        return false;
    int n = snprintf(needle, sizeof needle, "\"hash\":\"%s\"}", s->head);
    found = memmem(m, (size_t)sb.st_size, needle, (size_t)n) != NULL;
    munmap(m, (size_t)sb.st_size);
    return found;
}

/* ---- ferry audit verify ---- */

static void verify_usage(void)
{
    printf("Usage: ferry audit verify [--log FILE] [--key FILE] [--state DIR]\n"
           "                          [--config FILE] [--state-db URL]\n"
           "\n"
           "Checks the audit log's hash chain across the log and its rotations\n"
           "(FILE.N, FILE.N.gz), oldest first, or the records of the state database.\n"
           "Exit 0: intact; 3: edited, deleted, reordered, truncated or malformed records,\n"
           "reported with file (or database) and line.\n"
           "\n"
           "  --log FILE      the log (default STATE/audit.jsonl)\n"
           "  --key FILE      the chain is keyed (audit_key = FILE in the config)\n"
           "  --state DIR     the state directory (default ./ferry-state)\n"
           "  --config FILE   take state, audit_key and state_db from this config file\n"
           "  --state-db URL  check the records in this state database (unless --log)\n"
           "  --help          this text\n");
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"log", required_argument, NULL, 'l'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"state", required_argument, NULL, 's'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"state-db", required_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct source src = {.fd = -1};
    unsigned char *key = NULL;
    size_t keylen = 0, nfiles = 0, bad = 0;
    char **files = NULL;
    int c, rc, ex = GW_EXIT_SOME_FAILED;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            src.log = optarg;
            break;
        case 'k':
            src.keyfile = optarg;
            break;
        case 's':
            src.state = optarg;
            break;
        case 'c':
            src.config = optarg;
            break;
        case 'u':
            src.url_flag = optarg;
            break;
        case 'h':
            verify_usage();
            return GW_EXIT_OK;
        case ':':
            return gw_usage_error("audit verify", "%s needs a value", argv[optind - 1]);
        default:
            return gw_usage_error("audit verify", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gw_usage_error("audit verify", "unexpected argument '%s'", argv[optind]);
    ex = source_resolve("audit verify", &src);
    if (ex != GW_EXIT_OK)
        goto out;
    ex = GW_EXIT_SOME_FAILED;
    if (src.keyfile && (rc = audit_key_load(src.keyfile, &key, &keylen)) < 0) {
        gw_errorf("audit verify", "cannot load key %s: %s", src.keyfile, gw_strerror(rc));
        ex = GW_EXIT_USAGE;
        goto out;
    }
    if (src.url && source_dump("audit verify", &src) != GW_EXIT_OK)
        goto out;
    rc = audit_files(src.path, &files, &nfiles);
    if (rc < 0) {
        gw_errorf("audit verify", "%s: %s", src.label,
                  rc == GW_ERR_NOENT ? "no audit log here" : gw_strerror(rc));
        goto out;
    }
    struct audit_verify_result res;
    rc = audit_verify_files(files, nfiles, key, keylen, &res, &bad);
    if (rc < 0) {
        gw_errorf("audit verify", "%s: %s", src.url ? src.label : files[bad], gw_strerror(rc));
        goto out;
    }
    if (res.verdict != AUDIT_INTACT) {
        printf("%s: %s\n", src.url ? src.label : files[bad], res.reason);
        ex = GW_EXIT_VERIFY;
        goto out;
    }
    if (src.url && !head_in_dump(&src)) {
        printf("%s: records deleted at the end (the chain head %.16s... is not among the "
               "%" PRIu64 " records)\n",
               src.label, src.head, res.records);
        ex = GW_EXIT_VERIFY;
        goto out;
    }
    if (nfiles > 1)
        printf("%s (%zu files)\n", res.reason, nfiles);
    else
        printf("%s\n", res.reason);
    if (res.first_prev[0] && strspn(res.first_prev, "0") != AUDIT_HASH_HEX)
        fprintf(stderr,
                "ferry audit verify: note: %s line 1 continues a chain whose earlier records "
                "are not in these files (older rotations removed?)\n",
                src.url ? src.label : files[0]);
    ex = GW_EXIT_OK;
out:
    audit_files_free(files);
    source_free(&src);
    audit_key_free(key, keylen);
    return ex;
}

/* ---- ferry audit rotate ---- */

static void rotate_usage(void)
{
    printf("Usage: ferry audit rotate [--log FILE] [--state DIR] [--keep N] [--compress]\n"
           "                          [--quiet]\n"
           "\n"
           "Rotates the audit log like logrotate: FILE.N(.gz) becomes FILE.N+1(.gz) and\n"
           "FILE becomes FILE.1. A running 'ferry serve' needs no signal: its next record\n"
           "goes to a new FILE and chains on from the last one of FILE.1, so 'ferry audit\n"
           "verify' checks across the files. Nothing happens when FILE is empty or missing.\n"
           "\n"
           "  --log FILE    the log (default STATE/audit.jsonl)\n"
           "  --state DIR   the state directory (default ./ferry-state)\n"
           "  --keep N      keep N rotated files, delete older ones (default: keep all)\n"
           "  --compress    gzip the rotations older than FILE.1 (FILE.2 -> FILE.2.gz;\n"
           "                FILE.1 stays plain, as with logrotate's delaycompress)\n"
           "  --quiet       print nothing on success\n"
           "  --help        this text\n");
}

static int cmd_rotate(int argc, char **argv)
{
    static const struct option opts[] = {{"log", required_argument, NULL, 'l'},
                                         {"state", required_argument, NULL, 's'},
                                         {"keep", required_argument, NULL, 'k'},
                                         {"compress", no_argument, NULL, 'z'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *log = NULL, *state = NULL;
    unsigned keep = 0;
    bool compress = false, quiet = false, rotated = false;
    char err[512], *path = NULL, *end;
    int c, ex = GW_EXIT_SOME_FAILED;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'k': {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 || v > 100000)
                return gw_usage_error("audit rotate", "--keep needs a number from 1 to 100000");
            keep = (unsigned)v;
            break;
        }
        case 'z':
            compress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            rotate_usage();
            return GW_EXIT_OK;
        case ':':
            return gw_usage_error("audit rotate", "%s needs a value", argv[optind - 1]);
        default:
            return gw_usage_error("audit rotate", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gw_usage_error("audit rotate", "unexpected argument '%s'", argv[optind]);
    path = log_path(log, state);
    if (!path)
        return GW_EXIT_SOME_FAILED;
    int rc = audit_rotate(path, keep, compress, &rotated, err, sizeof err);
    if (rc < 0) {
        gw_errorf("audit rotate", "%s", err[0] ? err : gw_strerror(rc));
        goto out;
    }
    if (!quiet && rotated)
        printf("%s: rotated to %s.1\n", path, path);
    else if (!quiet)
        printf("%s: nothing to rotate (empty or missing)\n", path);
    ex = GW_EXIT_OK;
out:
    free(path);
    return ex;
}

/* ---- filters ---- */

struct filter {
    int64_t since, until; /* [since, until); INT64_MIN / INT64_MAX when unset */
    const char *user;
    char *proto, *event, *status; /* comma lists (copies) */
    const char *path;
    bool path_stars_only; /* path's only special byte is '*': star_match will do */
    const char *remote;
    bool cidr;
    int family;
    unsigned char net[16];
    unsigned prefix;
};

static bool in_comma_list(const char *list, const char *v)
{
    if (!list)
        return true;
    if (!v)
        return false;
    size_t n = strlen(v);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && memcmp(p, v, n) == 0)
            return true;
        p += l + (p[l] == ',');
    }
    return false;
}

/* The address of "addr:port" or "[v6]:port" (copied into out). */
static void remote_addr(const char *remote, char *out, size_t outsz)
{
    const char *s = remote;
    size_t n = strlen(s);
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        s++;
        n = e ? (size_t)(e - s) : n - 1;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') == colon)
            n = (size_t)(colon - s);
    }
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int parse_remote_filter(struct filter *f, const char *arg)
{
    const char *slash = strchr(arg, '/');
    f->remote = arg;
    if (!slash)
        return 0;
    char addr[64];
    size_t n = (size_t)(slash - arg);
    char *end;
    if (n == 0 || n >= sizeof addr)
        return GW_ERR_INVAL;
    memcpy(addr, arg, n);
    addr[n] = '\0';
    long p = strtol(slash + 1, &end, 10);
    f->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (*end || end == slash + 1 || p < 0 || p > (f->family == AF_INET ? 32 : 128) ||
        inet_pton(f->family, addr, f->net) != 1)
        return GW_ERR_INVAL;
    f->prefix = (unsigned)p;
    f->cidr = true;
    return 0;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

/* A filter with a port ("a.b.c.d:p", "[v6]:p") names one endpoint; without ("a.b.c.d",
 * "v6", "[v6]") an address, any port; with a '/' a network. */
static bool remote_match(const struct filter *f, const char *remote)
{
    char addr[64], want[64];
    if (!f->remote)
        return true;
    if (!remote)
        return false;
    remote_addr(remote, addr, sizeof addr);
    if (f->cidr) {
        unsigned char a[16];
        return inet_pton(f->family, addr, a) == 1 && prefix_match(a, f->net, f->prefix);
    }
    if (strcmp(f->remote, remote) == 0)
        return true;
    const char *colon = strchr(f->remote, ':');
    bool has_port = f->remote[0] == '[' ? strstr(f->remote, "]:") != NULL
                                        : colon && colon == strrchr(f->remote, ':');
    if (has_port)
        return false;
    remote_addr(f->remote, want, sizeof want);
    return strcmp(want, addr) == 0;
}

/* fnmatch(pat, s, 0) for a pattern whose only special byte is '*' (the usual
 * "/in/" + star or "*.iso"), on a counted string: the classic greedy match with one
 * backtrack point, linear in practice, with no copy to terminate s. */
static bool star_match(const char *pat, const char *s, size_t n)
{
    size_t i = 0, star_i = 0;
    const char *star = NULL;
    while (i < n) {
        if (*pat == '*') {
            star = ++pat;
            star_i = i;
        } else if (*pat && *pat == s[i]) {
            pat++;
            i++;
        } else if (star) {
            pat = star;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool path_match(const struct filter *f, const char *s, size_t n)
{
    if (f->path_stars_only)
        return star_match(f->path, s, n);
    char buf[GW_MAX_PATH + 1];
    if (n >= sizeof buf || memchr(s, '\0', n))
        return false; /* no path is that long (a NUL is refused by the parser) */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return fnmatch(f->path, buf, 0) == 0;
}

static bool record_match(const struct filter *f, const struct audit_line *al)
{
    const struct audit_record *r = &al->rec;
    if ((f->since != INT64_MIN || f->until != INT64_MAX) &&
        (r->ts_ms < 0 || r->ts_ms < f->since || r->ts_ms >= f->until))
        return false;
    if (f->user && (!r->user || strcmp(f->user, r->user) != 0))
        return false;
    if (!in_comma_list(f->proto, r->proto) || !in_comma_list(f->event, r->event) ||
        !in_comma_list(f->status, r->status))
        return false;
    if (f->path && !((r->path && path_match(f, r->path, strlen(r->path))) ||
                     (r->path2 && path_match(f, r->path2, strlen(r->path2)))))
        return false;
    return remote_match(f, r->remote);
}

/* ---- filtering on the raw line ----
 * Parsing is most of a query's time, so the filters first look at the line's bytes: one
 * pass finds the values of the filtered members, a line that certainly fails is
 * dropped unparsed, and the parser then checks (and record_match decides on) the lines
 * that may pass. In a valid JSON line without a backslash, no string contains a quote,
 * and a closing quote is followed by ',', '}', ':' or whitespace, never a letter: so
 * `"user":"alice"` found in the raw bytes is the member user, with its value as is.
 * A backslash anywhere, a member of another shape ("user":null, whitespace around the
 * ':') or a repeated one leaves the decision to the parser. */

enum raw_member { RM_USER, RM_PROTO, RM_EVENT, RM_STATUS, RM_PATH, RM_PATH2, RM_REMOTE, RM_N };

static const struct {
    const char *name; /* quoted, as in the line */
    size_t len;
} raw_names[RM_N] = {
    {"\"user\"", 6}, {"\"proto\"", 7}, {"\"event\"", 7},  {"\"status\"", 8},
    {"\"path\"", 6}, {"\"path2\"", 7}, {"\"remote\"", 8},
};

enum raw_state { RAW_ABSENT = 0, RAW_FOUND, RAW_UNSURE };

struct raw_vals {
    enum raw_state state[RM_N];
    const char *v[RM_N];
    size_t n[RM_N];
};

/* A quote at line[q]: is it one of the wanted keys? */
static void raw_key(const char *line, size_t n, size_t q, unsigned want, struct raw_vals *rv)
{
    for (unsigned k = 0; k < RM_N; k++) {
        size_t l = raw_names[k].len;
        if (!(want & (1u << k)) || n - q < l + 1 || memcmp(line + q, raw_names[k].name, l) != 0)
            continue;
        char after = line[q + l];
        if (after == ',' || after == '}')
            return; /* a value that looks like a key name: not a key */
        const char *end = after == ':' && line[q + l + 1] == '"'
                              ? memchr(line + q + l + 2, '"', n - (q + l + 2))
                              : NULL;
        if (!end || rv->state[k] != RAW_ABSENT) {
            rv->state[k] = RAW_UNSURE;
            return;
        }
        rv->state[k] = RAW_FOUND;
        rv->v[k] = line + q + l + 2;
        rv->n[k] = (size_t)(end - rv->v[k]);
        return;
    }
}

#define LANES(b) (UINT64_C(0x0101010101010101) * (b))

/* Bit 7 set in every lane of v that is zero; may also flag the lane above a zero one
 * (a borrow), never miss one. */
static uint64_t zero_lanes(uint64_t v)
{
    return (v - LANES(0x01)) & ~v & LANES(0x80);
}

/* Finds the members in want (bits of enum raw_member) in one pass. Where the byte
 * order is known (little-endian) it goes eight bytes a step looking for a quote
 * followed by the first letter of a wanted name, which happens once or twice a line;
 * the rest, and other machines, go byte by byte. */
static void raw_scan(const char *line, size_t n, unsigned want, struct raw_vals *rv)
{
    size_t i = 0;
    memset(rv, 0, sizeof *rv);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t letters[RM_N];
    unsigned nl = 0;
    for (unsigned k = 0; k < RM_N; k++) {
        uint64_t l = LANES((unsigned char)raw_names[k].name[1]);
        bool seen = false;
        for (unsigned j = 0; j < nl; j++)
            seen = seen || letters[j] == l;
        if ((want & (1u << k)) && !seen)
            letters[nl++] = l;
    }
    for (; n - i >= 9; i += 8) {
        uint64_t x, y;
        memcpy(&x, line + i, 8);
        memcpy(&y, line + i + 1, 8); /* lane k: the byte after lane k of x */
        if (zero_lanes(x ^ LANES('\\')))
            goto unsure;
        uint64_t cand = 0;
        for (unsigned j = 0; j < nl; j++)
            cand |= zero_lanes(y ^ letters[j]);
        cand &= zero_lanes(x ^ LANES('"'));
        while (cand) {
            size_t at = (size_t)__builtin_ctzll(cand) / 8;
            if (line[i + at] == '"')
                raw_key(line, n, i + at, want, rv);
            cand &= ~(UINT64_C(0xff) << (8 * at));
        }
    }
#endif
    for (; i < n; i++) {
        if (line[i] == '\\')
            goto unsure;
        if (line[i] == '"')
            raw_key(line, n, i, want, rv);
    }
    return;
unsure:
    for (unsigned k = 0; k < RM_N; k++)
        rv->state[k] = RAW_UNSURE;
}

/* Before the scan, a cheaper necessary condition for the exact-value filters: in a
 * line without escapes, one of the values, quoted, must occur (memmem is quick to say
 * no). A value the writer would escape disables the test. */
#define NEEDLES_MAX 16

struct needles {
    size_t count; /* 0: everything passes */
    char needle[NEEDLES_MAX][GW_MAX_PATH + 3];
    size_t len[NEEDLES_MAX];
};

static bool plain_value(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f)
            return false;
    }
    return true;
}

/* values: one value, or a comma list when list is true. */
static void needles_init(struct needles *nd, const char *values, bool list)
{
    nd->count = 0;
    if (!values)
        return;
    for (const char *p = values;;) {
        size_t l = list ? strcspn(p, ",") : strlen(p);
        if (nd->count == NEEDLES_MAX || l >= GW_MAX_PATH || !plain_value(p, l)) {
            nd->count = 0;
            return;
        }
        nd->len[nd->count] =
            (size_t)snprintf(nd->needle[nd->count], sizeof nd->needle[0], "\"%.*s\"", (int)l, p);
        nd->count++;
        if (p[l] != ',' || !list)
            return;
        p += l + 1;
    }
}

/* Whether needle (m bytes) occurs in s[0..n): memmem, but for the short needles of the
 * filters on lines of a few hundred bytes, 16 positions a step are first tested for the
 * needle's first and last bytes (few positions have both), then compared whole. */
static bool has_needle(const char *s, size_t n, const char *needle, size_t m)
{
    size_t i = 0;
#if defined(__SSE2__)
    if (m >= 2) {
        const __m128i first = _mm_set1_epi8(needle[0]), last = _mm_set1_epi8(needle[m - 1]);
        for (; n >= m - 1 + 16 && n - i >= m - 1 + 16; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + m - 1));
            unsigned cand = (unsigned)_mm_movemask_epi8(
                _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
            for (; cand; cand &= cand - 1) {
                size_t at = i + (size_t)__builtin_ctz(cand);
                if (memcmp(s + at + 1, needle + 1, m - 2) == 0)
                    return true;
            }
        }
    }
#endif
    return memmem(s + i, n - i, needle, m) != NULL;
}

static bool needles_pass(const struct needles *nd, const char *line, size_t n)
{
    if (nd->count == 0)
        return true;
    for (size_t i = 0; i < nd->count; i++)
        if (has_needle(line, n, nd->needle[i], nd->len[i]))
            return true;
    return false;
}

/* A needle that every line whose path or path2 matches the glob contains, when the
 * line has no escapes: the quote and the literal start of the pattern; for a pattern
 * of literals and stars only, else its literal end and the quote; the pattern itself,
 * quoted, when it has no special byte at all. None (count 0) when the pattern starts
 * and ends with a special byte or the literal would be escaped in the line. */
static void needles_path(struct needles *nd, const char *pat, bool stars_only)
{
    size_t n = strlen(pat), pre = strcspn(pat, "*?[\\");
    const char *last = strrchr(pat, '*');
    nd->count = 0;
    if (n >= GW_MAX_PATH)
        return;
    if (pre == n && plain_value(pat, n))
        nd->len[0] = (size_t)snprintf(nd->needle[0], sizeof nd->needle[0], "\"%s\"", pat);
    else if (pre > 0 && plain_value(pat, pre))
        nd->len[0] = (size_t)snprintf(nd->needle[0], sizeof nd->needle[0], "\"%.*s", (int)pre, pat);
    else if (stars_only && last && last[1] && plain_value(last + 1, strlen(last + 1)))
        nd->len[0] = (size_t)snprintf(nd->needle[0], sizeof nd->needle[0], "%s\"", last + 1);
    else
        return;
    nd->count = 1;
}

/* A comma list against a raw value (NULL list: anything passes). */
static bool in_list_raw(const char *list, const char *v, size_t n)
{
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && memcmp(p, v, n) == 0)
            return true;
        p += l + (p[l] == ',');
    }
    return false;
}

/* Which members the filters of f look at. */
static unsigned raw_wanted(const struct filter *f)
{
    return (f->user ? 1u << RM_USER : 0) | (f->proto ? 1u << RM_PROTO : 0) |
           (f->event ? 1u << RM_EVENT : 0) | (f->status ? 1u << RM_STATUS : 0) |
           (f->path ? 1u << RM_PATH | 1u << RM_PATH2 : 0) | (f->remote ? 1u << RM_REMOTE : 0);
}

/* False when no record in this line can pass the filters (other than time): the line
 * need not be parsed. */
static bool raw_pass(const struct filter *f, unsigned want, const char *line, size_t n)
{
    struct raw_vals rv;
    char buf[GW_MAX_PATH + 1];
    raw_scan(line, n, want, &rv);
    const enum raw_state *st = rv.state;
    if (f->user &&
        (st[RM_USER] == RAW_ABSENT ||
         (st[RM_USER] == RAW_FOUND && (strlen(f->user) != rv.n[RM_USER] ||
                                       memcmp(f->user, rv.v[RM_USER], rv.n[RM_USER]) != 0))))
        return false;
    static const struct {
        enum raw_member m;
        size_t off;
    } lists[] = {{RM_PROTO, offsetof(struct filter, proto)},
                 {RM_EVENT, offsetof(struct filter, event)},
                 {RM_STATUS, offsetof(struct filter, status)}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *list = *(char *const *)(const void *)((const char *)f + lists[i].off);
        enum raw_member m = lists[i].m;
        if (list &&
            (st[m] == RAW_ABSENT || (st[m] == RAW_FOUND && !in_list_raw(list, rv.v[m], rv.n[m]))))
            return false;
    }
    if (f->path) {
        bool hit = false, unsure = false;
        for (int m = RM_PATH; m <= RM_PATH2 && !hit; m++) {
            if (st[m] == RAW_UNSURE || (st[m] == RAW_FOUND && rv.n[m] >= sizeof buf))
                unsure = true;
            else if (st[m] == RAW_FOUND)
                hit = path_match(f, rv.v[m], rv.n[m]);
        }
        if (!hit && !unsure)
            return false;
    }
    if (f->remote) {
        if (st[RM_REMOTE] == RAW_ABSENT)
            return false;
        if (st[RM_REMOTE] == RAW_FOUND && rv.n[RM_REMOTE] < 64) {
            memcpy(buf, rv.v[RM_REMOTE], rv.n[RM_REMOTE]);
            buf[rv.n[RM_REMOTE]] = '\0';
            return remote_match(f, buf);
        }
    }
    return true;
}

/* The writer starts every line with {"ts":"<24 bytes>": the time, without parsing the
 * line. Lines of another shape go through the parser. */
static bool quick_ts(const char *line, size_t n, int64_t *ts)
{
    return n > 31 && memcmp(line, "{\"ts\":\"", 7) == 0 && audit_parse_ts(line + 7, 24, ts) == 0;
}

/* ---- output ---- */

enum out_format { FMT_TABLE, FMT_JSON, FMT_XFERLOG };

/* Terminal-safe: control bytes (escape sequences from the log) become '?'. */
static void put_safe(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void put_col(FILE *out, const char *s, int width)
{
    const char *v = s && *s ? s : "-";
    put_safe(out, v);
    for (int k = (int)strlen(v); k < width; k++)
        fputc(' ', out);
}

static void table_header(FILE *out)
{
    fprintf(out, "%-19s  %-12s  %-6s  %-12s  %-21s  %-7s  %12s  %s\n", "TIME (UTC)", "EVENT",
            "PROTO", "USER", "REMOTE", "STATUS", "BYTES", "PATH");
}

static void table_row(FILE *out, const struct audit_record *r)
{
    char ts[AUDIT_TS_LEN + 1] = "-";
    if (r->ts_ms >= 0 && audit_format_ts(r->ts_ms, ts) == 0) {
        ts[10] = ' ';
        ts[19] = '\0';
    }
    put_col(out, ts, 19);
    fputs("  ", out);
    put_col(out, r->event, 12);
    fputs("  ", out);
    put_col(out, r->proto, 6);
    fputs("  ", out);
    put_col(out, r->user, 12);
    fputs("  ", out);
    put_col(out, r->remote, 21);
    fputs("  ", out);
    put_col(out, r->status, 7);
    if (r->bytes >= 0)
        fprintf(out, "  %12" PRId64 "  ", r->bytes);
    else
        fprintf(out, "  %12s  ", "-");
    put_safe(out, r->path ? r->path : "-");
    if (r->path2) {
        fputs(" -> ", out);
        put_safe(out, r->path2);
    }
    if (r->offset > 0)
        fprintf(out, " (resumed at %" PRId64 ")", r->offset);
    if (r->error) {
        fputs(" (", out);
        put_safe(out, r->error);
        fputc(')', out);
    }
    fputc('\n', out);
}

/* ---- --stats ---- */

struct counters {
    uint64_t uploads, downloads, bytes_in, bytes_out, failed, resumed, login_failed;
};

struct stat_entry {
    char *key;
    struct counters c;
};

/* A small growable open-addressing table: a few thousand users or days at most. */
struct stat_table {
    struct stat_entry *e;
    size_t n, cap; /* cap is a power of two */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static struct stat_entry *stat_get(struct stat_table *t, const char *key)
{
    if (t->n * 2 >= t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct stat_entry *ne = calloc(ncap, sizeof *ne);
        if (!ne)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->e[i].key)
                continue;
            size_t j = fnv1a(t->e[i].key) & (ncap - 1);
            while (ne[j].key)
                j = (j + 1) & (ncap - 1);
            ne[j] = t->e[i];
        }
        free(t->e);
        t->e = ne;
        t->cap = ncap;
    }
    size_t j = fnv1a(key) & (t->cap - 1);
    while (t->e[j].key && strcmp(t->e[j].key, key) != 0)
        j = (j + 1) & (t->cap - 1);
    if (!t->e[j].key) {
        t->e[j].key = strdup(key);
        if (!t->e[j].key)
            return NULL;
        t->n++;
    }
    return &t->e[j];
}

static void stat_free(struct stat_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->e[i].key);
    free(t->e);
    memset(t, 0, sizeof *t);
}

static int by_key(const void *a, const void *b)
{
    const struct stat_entry *x = a, *y = b;
    if (!x->key || !y->key)
        return !x->key - !y->key;
    return strcmp(x->key, y->key);
}

/* What one record adds to each counter: worked out once per record, then added to the
 * total and to its user, protocol and day. */
static void classify(struct counters *d, const struct audit_record *r)
{
    const char *e = r->event;
    bool up = e[0] == 'u' && strcmp(e, "upload") == 0;
    bool down = e[0] == 'd' && strcmp(e, "download") == 0;
    memset(d, 0, sizeof *d);
    d->login_failed = e[0] == 'l' && strcmp(e, "login_failed") == 0;
    if (!up && !down)
        return;
    d->uploads = up;
    d->downloads = down;
    if (r->bytes > 0) {
        if (up)
            d->bytes_in = (uint64_t)r->bytes;
        else
            d->bytes_out = (uint64_t)r->bytes;
    }
    d->failed = !r->status || strcmp(r->status, "ok") != 0;
    d->resumed = r->offset > 0;
}

static void count(struct counters *c, const struct counters *d)
{
    c->uploads += d->uploads;
    c->downloads += d->downloads;
    c->bytes_in += d->bytes_in;
    c->bytes_out += d->bytes_out;
    c->failed += d->failed;
    c->resumed += d->resumed;
    c->login_failed += d->login_failed;
}

struct stats {
    struct counters total;
    struct stat_table by[3]; /* user, proto, day */
    /* Consecutive records mostly share a day and often a user or protocol: the last
     * entry of each table is tried before hashing (valid while the table's cap stays). */
    struct stat_entry *last[3];
    size_t last_cap[3];
    int64_t day_num; /* of day[], -1 none */
    char day[AUDIT_TS_LEN + 1];
};

static const char *const stat_titles[3] = {"user", "protocol", "day"};

static int stats_add(struct stats *st, const struct audit_record *r)
{
    if (!r->event)
        return 0;
    if (r->ts_ms < 0) {
        st->day_num = -1;
        memcpy(st->day, "-", 2);
    } else if (r->ts_ms / 86400000 != st->day_num) {
        if (audit_format_ts(r->ts_ms, st->day) == 0) {
            st->day[10] = '\0';
            st->day_num = r->ts_ms / 86400000;
        } else {
            st->day_num = -1;
            memcpy(st->day, "-", 2);
        }
    }
    const char *keys[3] = {r->user ? r->user : "-", r->proto ? r->proto : "-", st->day};
    struct counters d;
    classify(&d, r);
    count(&st->total, &d);
    for (int i = 0; i < 3; i++) {
        struct stat_entry *e = st->last[i];
        if (!e || st->last_cap[i] != st->by[i].cap || strcmp(e->key, keys[i]) != 0) {
            e = stat_get(&st->by[i], keys[i]);
            if (!e)
                return GW_ERR_NOMEM;
            st->last[i] = e;
            st->last_cap[i] = st->by[i].cap;
        }
        count(&e->c, &d);
    }
    return 0;
}

static void counters_row(FILE *out, const char *key, const struct counters *c)
{
    put_col(out, key, 16);
    fprintf(out,
            "  %8" PRIu64 "  %9" PRIu64 "  %14" PRIu64 "  %14" PRIu64 "  %6" PRIu64 "  %7" PRIu64
            "  %11" PRIu64 "\n",
            c->uploads, c->downloads, c->bytes_in, c->bytes_out, c->failed, c->resumed,
            c->login_failed);
}

static int counters_json(struct gw_buf *b, const struct counters *c)
{
    return gw_buf_printf(b,
                         "{\"uploads\":%" PRIu64 ",\"downloads\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                         ",\"bytes_out\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"resumed\":%" PRIu64
                         ",\"login_failed\":%" PRIu64 "}",
                         c->uploads, c->downloads, c->bytes_in, c->bytes_out, c->failed, c->resumed,
                         c->login_failed);
}

static int stats_print(FILE *out, struct stats *st, enum out_format fmt)
{
    static const char *const json_names[3] = {"by_user", "by_proto", "by_day"};
    struct gw_buf b;
    int rc = 0;
    gw_buf_init(&b, (size_t)1 << 30);
    for (int i = 0; i < 3; i++)
        if (st->by[i].cap > 0)
            qsort(st->by[i].e, st->by[i].cap, sizeof *st->by[i].e, by_key);
    if (fmt == FMT_JSON) {
        rc = gw_buf_puts(&b, "{\"total\":");
        if (rc == 0)
            rc = counters_json(&b, &st->total);
        for (int i = 0; i < 3 && rc == 0; i++) {
            bool first = true;
            rc = gw_buf_printf(&b, ",\"%s\":{", json_names[i]);
            for (size_t k = 0; k < st->by[i].n && rc == 0; k++) {
                rc = gw_json_key(&b, &first, st->by[i].e[k].key);
                if (rc == 0)
                    rc = counters_json(&b, &st->by[i].e[k].c);
            }
            if (rc == 0)
                rc = gw_buf_putc(&b, '}');
        }
        if (rc == 0)
            rc = gw_buf_puts(&b, "}\n");
        if (rc == 0)
            fwrite(b.data, 1, b.len, out);
        gw_buf_free(&b);
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        fprintf(out, "%s%-16s  %8s  %9s  %14s  %14s  %6s  %7s  %11s\n", i ? "\n" : "",
                stat_titles[i], "UPLOADS", "DOWNLOADS", "BYTES IN", "BYTES OUT", "FAILED",
                "RESUMED", "LOGIN FAILS");
        for (size_t k = 0; k < st->by[i].n; k++)
            counters_row(out, st->by[i].e[k].key, &st->by[i].e[k].c);
    }
    fputc('\n', out);
    counters_row(out, "total", &st->total);
    gw_buf_free(&b);
    return rc;
}

/* ---- ferry audit (query) ---- */

static void query_usage(void)
{
    printf("Usage: ferry audit [--log FILE] [--state DIR] [filters] [--format table|json|xferlog]\n"
           "                   [--stats] [--config FILE] [--state-db URL]\n"
           "       ferry audit verify [--log FILE] [--key FILE] [--state DIR]\n"
           "       ferry audit rotate [--log FILE] [--state DIR] [--keep N] [--compress]\n"
           "\n"
           "Prints the audit records that match every filter given, oldest first, reading\n"
           "the log and its rotations (FILE.N, FILE.N.gz), or the records of the state\n"
           "database when one is configured and --log is not given.\n"
           "\n"
           "  --log FILE       the log (default STATE/audit.jsonl)\n"
           "  --state DIR      the state directory (default ./ferry-state)\n"
           "  --config FILE    take state and state_db from this config file\n"
           "  --state-db URL   read the records of this state database (postgresql://...)\n"
           "  --since T        records at or after T: 2026-11-28, 2026-11-28T14[:03[:07[.123]]]\n"
           "                   (UTC, like the log), now, or an age: 90s 15m 2h 7d 2w\n"
           "  --until T        records before T (same forms)\n"
           "  --user U         this user\n"
           "  --proto P        ftp, ftps, sftp, webdav, mirror (comma-separated list)\n"
           "  --event E        login, login_failed, logout, upload, download, delete, rename,\n"
           "                   mkdir, rmdir, verify, mirror (comma-separated list)\n"
           "  --path GLOB      path or rename target matches GLOB ('*' also matches '/')\n"
           "  --status S       ok, failed, aborted (comma-separated list)\n"
           "  --remote ADDR    from ADDR (any port), ADDR:PORT, or a network 10.0.0.0/8\n"
           "  --format F       table (default), json (JSON Lines, records as logged) or\n"
           "                   xferlog (wu-ftpd lines for uploads and downloads)\n"
           "  --stats          totals per user, protocol and day instead of records\n"
           "                   (with --format json: one JSON object)\n"
           "  --help           this text\n");
}

struct query {
    struct filter f;
    enum out_format fmt;
    bool stats;
    const char *path;
    const char *label; /* how messages name the log */
};

static int run_query(struct query *q, FILE *out)
{
    char **files = NULL;
    size_t nfiles = 0;
    uint64_t skipped = 0;
    char *store = malloc(GW_MAX_AUDIT_LINE + 1);
    struct gw_buf xl;
    struct stats st;
    unsigned want = raw_wanted(&q->f);
    struct needles *nd = calloc(5, sizeof *nd);
    bool timed = q->f.since != INT64_MIN || q->f.until != INT64_MAX;
    int rc, ex = GW_EXIT_SOME_FAILED;

    memset(&st, 0, sizeof st);
    st.day_num = -1;
    gw_buf_init(&xl, GW_MAX_AUDIT_LINE);
    if (!store || !nd)
        goto out;
    needles_init(&nd[0], q->f.user, false);
    needles_init(&nd[1], q->f.event, true);
    needles_init(&nd[2], q->f.proto, true);
    needles_init(&nd[3], q->f.status, true);
    if (q->f.path)
        needles_path(&nd[4], q->f.path, q->f.path_stars_only);
    rc = audit_files(q->path, &files, &nfiles);
    if (rc < 0) {
        gw_errorf("audit", "%s: %s", q->label,
                  rc == GW_ERR_NOENT ? "no audit log here" : gw_strerror(rc));
        goto out;
    }
    if (q->fmt == FMT_TABLE && !q->stats)
        table_header(out);
    for (size_t i = 0; i < nfiles; i++) {
        struct audit_reader *rd;
        rc = audit_reader_open(files[i], &rd);
        if (rc < 0) {
            gw_errorf("audit", "%s: %s", files[i], gw_strerror(rc));
            goto out;
        }
        const char *line;
        size_t n;
        unsigned flags;
        while ((rc = audit_reader_next(rd, &line, &n, &flags)) == 1) {
            struct audit_line al;
            int64_t ts;
            if (timed && quick_ts(line, n, &ts) && (ts < q->f.since || ts >= q->f.until))
                continue;
            /* a value may hide behind an escape: only a line without any can be
             * dropped for lacking a needle */
            if ((!needles_pass(&nd[0], line, n) || !needles_pass(&nd[1], line, n) ||
                 !needles_pass(&nd[2], line, n) || !needles_pass(&nd[3], line, n) ||
                 !needles_pass(&nd[4], line, n)) &&
                !memchr(line, '\\', n))
                continue;
            if (want && !raw_pass(&q->f, want, line, n))
                continue;
            if ((flags & AUDIT_LINE_TOOLONG) ||
                audit_parse_line(line, n, store, GW_MAX_AUDIT_LINE + 1, &al) < 0 || !al.rec.event) {
                skipped++;
                continue;
            }
            if (!record_match(&q->f, &al))
                continue;
            if (q->stats) {
                if (stats_add(&st, &al.rec) < 0) {
                    gw_errorf("audit", "out of memory");
                    audit_reader_close(rd);
                    goto out;
                }
            } else if (q->fmt == FMT_JSON) {
                fwrite(line, 1, n, out);
                fputc('\n', out);
            } else if (q->fmt == FMT_XFERLOG) {
                gw_buf_reset(&xl);
                if (audit_xferlog_line(&al.rec, &xl) == 0)
                    fwrite(xl.data, 1, xl.len, out);
            } else {
                table_row(out, &al.rec);
            }
        }
        audit_reader_close(rd);
        if (rc < 0) {
            gw_errorf("audit", "%s: %s", files[i],
                      rc == GW_ERR_PROTO ? "compressed data corrupt or truncated"
                                         : gw_strerror(rc));
            goto out;
        }
    }
    if (q->stats && stats_print(out, &st, q->fmt) < 0) {
        gw_errorf("audit", "out of memory");
        goto out;
    }
    if (skipped > 0)
        fprintf(stderr,
                "ferry audit: skipped %" PRIu64 " line(s) that are not audit records "
                "(see 'ferry audit verify')\n",
                skipped);
    ex = GW_EXIT_OK;
out:
    fflush(out);
    for (int i = 0; i < 3; i++)
        stat_free(&st.by[i]);
    gw_buf_free(&xl);
    audit_files_free(files);
    free(store);
    free(nd);
    return ex;
}

static int cmd_query(int argc, char **argv)
{
    enum {
        O_SINCE = 256,
        O_UNTIL,
        O_USER,
        O_PROTO,
        O_EVENT,
        O_PATH,
        O_STATUS,
        O_REMOTE,
        O_FORMAT,
        O_STATS,
        O_LOG,
        O_STATE,
        O_CONFIG,
        O_URL,
        O_HELP
    };
    static const struct option opts[] = {{"log", required_argument, NULL, O_LOG},
                                         {"state", required_argument, NULL, O_STATE},
                                         {"config", required_argument, NULL, O_CONFIG},
                                         {"state-db", required_argument, NULL, O_URL},
                                         {"since", required_argument, NULL, O_SINCE},
                                         {"until", required_argument, NULL, O_UNTIL},
                                         {"user", required_argument, NULL, O_USER},
                                         {"proto", required_argument, NULL, O_PROTO},
                                         {"event", required_argument, NULL, O_EVENT},
                                         {"path", required_argument, NULL, O_PATH},
                                         {"status", required_argument, NULL, O_STATUS},
                                         {"remote", required_argument, NULL, O_REMOTE},
                                         {"format", required_argument, NULL, O_FORMAT},
                                         {"stats", no_argument, NULL, O_STATS},
                                         {"help", no_argument, NULL, O_HELP},
                                         {NULL, 0, NULL, 0}};
    static const char *const events[] = {"login",    "login_failed", "logout", "upload",
                                         "download", "delete",       "rename", "mkdir",
                                         "rmdir",    "verify",       "mirror", NULL};
    static const char *const protos[] = {"ftp", "ftps", "sftp", "webdav", "mirror", "test", NULL};
    static const char *const statuses[] = {"ok", "failed", "aborted", NULL};
    struct query q;
    struct source src = {.fd = -1};
    int64_t now = now_ms();
    int c, ex;

    memset(&q, 0, sizeof q);
    q.f.since = INT64_MIN;
    q.f.until = INT64_MAX;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        const char *const *known = NULL;
        char **list = NULL;
        switch (c) {
        case O_LOG:
            src.log = optarg;
            break;
        case O_STATE:
            src.state = optarg;
            break;
        case O_CONFIG:
            src.config = optarg;
            break;
        case O_URL:
            src.url_flag = optarg;
            break;
        case O_SINCE:
        case O_UNTIL:
            if (audit_parse_time(optarg, now, c == O_SINCE ? &q.f.since : &q.f.until) < 0) {
                ex = gw_usage_error("audit", "bad time '%s' for --%s", optarg,
                                    c == O_SINCE ? "since" : "until");
                goto out;
            }
            break;
        case O_USER:
            q.f.user = optarg;
            break;
        case O_PATH:
            q.f.path = optarg;
            q.f.path_stars_only = !strpbrk(optarg, "?[\\");
            break;
        case O_PROTO:
            known = protos, list = &q.f.proto;
            break;
        case O_EVENT:
            known = events, list = &q.f.event;
            break;
        case O_STATUS:
            known = statuses, list = &q.f.status;
            break;
        case O_REMOTE:
            if (parse_remote_filter(&q.f, optarg) < 0) {
                ex = gw_usage_error("audit", "bad address '%s' for --remote", optarg);
                goto out;
            }
            break;
        case O_FORMAT:
            if (strcmp(optarg, "table") == 0)
                q.fmt = FMT_TABLE;
            else if (strcmp(optarg, "json") == 0)
                q.fmt = FMT_JSON;
            else if (strcmp(optarg, "xferlog") == 0)
                q.fmt = FMT_XFERLOG;
            else {
                ex = gw_usage_error("audit", "unknown format '%s' (table, json, xferlog)", optarg);
                goto out;
            }
            break;
        case O_STATS:
            q.stats = true;
            break;
        case O_HELP:
            query_usage();
            ex = GW_EXIT_OK;
            goto out;
        case ':':
            ex = gw_usage_error("audit", "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            ex = gw_usage_error("audit", "unknown option %s", argv[optind - 1]);
            goto out;
        }
        if (list) {
            /* Every item of a list must be a known value: a typo would silently match
             * nothing. */
            size_t alen = strlen(optarg);
            if (alen == 0 || optarg[0] == ',' || optarg[alen - 1] == ',' || strstr(optarg, ",,")) {
                ex = gw_usage_error("audit", "empty value in '%s'", optarg);
                goto out;
            }
            for (const char *p = optarg; *p;) {
                size_t l = strcspn(p, ",");
                bool ok = false;
                for (const char *const *k = known; *k && !ok; k++)
                    ok = strlen(*k) == l && memcmp(*k, p, l) == 0;
                if (!ok) {
                    ex = gw_usage_error("audit", "unknown value '%.*s' for --%s", (int)l, p,
                                        c == O_PROTO   ? "proto"
                                        : c == O_EVENT ? "event"
                                                       : "status");
                    goto out;
                }
                p += l + (p[l] == ',');
            }
            free(*list);
            *list = strdup(optarg);
            if (!*list) {
                ex = GW_EXIT_SOME_FAILED;
                goto out;
            }
        }
    }
    if (optind < argc) {
        ex = gw_usage_error("audit", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (q.stats && q.fmt == FMT_XFERLOG) {
        ex = gw_usage_error("audit", "--stats prints a table or JSON, not xferlog");
        goto out;
    }
    ex = source_resolve("audit", &src);
    if (ex == GW_EXIT_OK && src.url)
        ex = source_dump("audit", &src);
    if (ex != GW_EXIT_OK)
        goto out;
    q.path = src.path;
    q.label = src.label;
    ex = run_query(&q, stdout);
out:
    free(q.f.proto);
    free(q.f.event);
    free(q.f.status);
    source_free(&src);
    return ex;
}

int audit_cmd_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
        return cmd_rotate(argc - 1, argv + 1);
    return cmd_query(argc, argv);
}
