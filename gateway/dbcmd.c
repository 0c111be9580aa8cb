/* `ferry db migrate | status | import` (dbcmd.h). Each opens its own connection to the
 * state database named by --state-db or by state_db in --config. */
#include "gateway/dbcmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/statedb.h"
#include "gateway/users.h"

#define CMD "db"
#define DEFAULT_STATE "./ferry-state"
#define AUDIT_NAME "audit.jsonl"
/* An audit log imported in one transaction is held in memory whole. */
#define MAX_IMPORT (1ull << 32)

struct dbctx {
    const char *sub;    /* "db migrate" ... for messages */
    const char *config; /* --config */
    const char *url_flag;
    const char *state_flag;
    bool json;
    char *url;   /* resolved (owned) */
    char *state; /* resolved (owned) */
    struct gw_statedb *db;
};

static void usage(FILE *out)
{
    fputs("Usage: ferry db COMMAND [--state-db URL | --config FILE] [--state DIR]\n"
          "\n"
          "The shared-state database of several Ferry nodes (state_db = postgresql://...\n"
          "in [server]): users and keys, the audit log, login throttling, WebDAV locks and\n"
          "properties, mirror job locks.\n"
          "\n"
          "Commands:\n"
          "  migrate        create the schema, or bring it to this version of ferry\n"
          "                 (idempotent; safe while nodes run)\n"
          "  status [--json]\n"
          "                 schema version, users, audit records and chain head, records\n"
          "                 per node\n"
          "  import         move a files-based state in: STATE/users (users already in the\n"
          "                 database are kept) and STATE/audit.jsonl with its rotations\n"
          "                 (only into an empty audit table)\n"
          "\n"
          "Options:\n"
          "  --state-db URL  the database (postgresql://USER[:PASSWORD]@HOST[:PORT]/DB or\n"
          "                  key=value conninfo); overrides the config file\n"
          "  --config FILE   take state_db and state from this config file\n"
          "  --state DIR     the files-based state to import (default: state of the\n"
          "                  config, else ./ferry-state)\n"
          "  -h, --help      show this help\n"
          "\n"
          "Exit status: 0 ok, 1 failed (database unreachable, import refused), 2 usage or\n"
          "config error (no state database configured).\n",
          out);
}

/* Resolves the url and state directory from the flags and the config file. */
static int resolve(struct dbctx *c)
{
    struct gw_config cfg;
    char err[512];
    int rc = GW_EXIT_OK;
    cfg_defaults(&cfg);
    if (c->config && cfg_load(&cfg, c->config, err, sizeof err) < 0) {
        gw_errorf(CMD, "%s", err);
        rc = GW_EXIT_USAGE;
        goto out;
    }
    const char *url = c->url_flag ? c->url_flag : cfg.state_db;
    const char *state = c->state_flag ? c->state_flag : cfg.state ? cfg.state : DEFAULT_STATE;
    if (!url || !*url) {
        rc = gw_usage_error(CMD, "no state database: give --state-db URL, or --config FILE "
                                 "with state_db = postgresql://... in [server]");
        goto out;
    }
    c->url = strdup(url);
    c->state = strdup(state);
    if (!c->url || !c->state) {
        gw_errorf(CMD, "out of memory");
        rc = GW_EXIT_SOME_FAILED;
    }
out:
    cfg_free(&cfg);
    return rc;
}

static int connect_db(struct dbctx *c)
{
    char err[512];
    if (gw_statedb_open(c->url, &c->db, err, sizeof err) < 0) {
        gw_errorf(CMD, "%s", err);
        return GW_EXIT_SOME_FAILED;
    }
    return GW_EXIT_OK;
}

/* The schema must be this binary's before anything but migrate touches it. */
static int need_schema(struct dbctx *c)
{
    char err[512];
    int v;
    if (gw_statedb_version(c->db, &v, err, sizeof err) < 0) {
        gw_errorf(CMD, "%s", err);
        return GW_EXIT_SOME_FAILED;
    }
    if (v != GW_STATEDB_SCHEMA) {
        gw_errorf(CMD,
                  "the database has schema version %d, this ferry needs %d: run 'ferry db "
                  "migrate'",
                  v, GW_STATEDB_SCHEMA);
        return GW_EXIT_SOME_FAILED;
    }
    return GW_EXIT_OK;
}

/* ---- migrate ---- */

static int cmd_migrate(struct dbctx *c)
{
    char err[512];
    int from = 0;
    int rc = gw_statedb_migrate(c->db, &from, err, sizeof err);
    if (rc < 0) {
        gw_errorf(CMD, "migrate: %s", err);
        return GW_EXIT_SOME_FAILED;
    }
    if (from == GW_STATEDB_SCHEMA)
        printf("schema is at version %d: nothing to do\n", from);
    else
        printf("schema migrated from version %d to %d\n", from, GW_STATEDB_SCHEMA);
    return GW_EXIT_OK;
}

/* ---- status ---- */

static int print_json(const char *red, const struct gw_statedb_status *st)
{
    struct gw_buf b;
    bool first = true;
    int rc = 0;
    gw_buf_init(&b, 1u << 24);
    rc |= gw_buf_putc(&b, '{');
    rc |= gw_json_key(&b, &first, "database");
    rc |= gw_json_cstr(&b, red);
    rc |= gw_json_key(&b, &first, "schema_version");
    rc |= gw_json_int(&b, st->version);
    rc |= gw_json_key(&b, &first, "schema_current");
    rc |= gw_buf_puts(&b, st->version == GW_STATEDB_SCHEMA ? "true" : "false");
    rc |= gw_json_key(&b, &first, "users");
    rc |= gw_json_int(&b, st->users);
    rc |= gw_json_key(&b, &first, "users_rev");
    rc |= gw_json_int(&b, st->users_rev);
    rc |= gw_json_key(&b, &first, "audit_records");
    rc |= gw_json_int(&b, st->records);
    rc |= gw_json_key(&b, &first, "chain_head");
    if (st->head_hash[0]) {
        bool f2 = true;
        rc |= gw_buf_putc(&b, '{');
        rc |= gw_json_key(&b, &f2, "seq");
        rc |= gw_json_int(&b, st->head_seq);
        rc |= gw_json_key(&b, &f2, "hash");
        rc |= gw_json_cstr(&b, st->head_hash);
        rc |= gw_buf_putc(&b, '}');
    } else {
        rc |= gw_buf_puts(&b, "null");
    }
    rc |= gw_json_key(&b, &first, "nodes");
    rc |= gw_buf_putc(&b, '[');
    for (size_t i = 0; i < st->nnodes; i++) {
        bool f2 = true;
        rc |= gw_buf_puts(&b, i ? ",{" : "{");
        rc |= gw_json_key(&b, &f2, "node");
        rc |= gw_json_cstr(&b, st->nodes[i].node);
        rc |= gw_json_key(&b, &f2, "audit_records");
        rc |= gw_json_int(&b, st->nodes[i].records);
        rc |= gw_buf_putc(&b, '}');
    }
    rc |= gw_buf_putc(&b, ']');
    rc |= gw_json_key(&b, &first, "blobs");
    rc |= gw_json_int(&b, st->blobs);
    rc |= gw_json_key(&b, &first, "throttled_addresses");
    rc |= gw_json_int(&b, st->throttled);
    rc |= gw_buf_puts(&b, "}\n");
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    gw_buf_free(&b);
    return rc ? GW_ERR_NOMEM : 0;
}

static int cmd_status(struct dbctx *c)
{
    struct gw_statedb_status st;
    char err[512], red[512];
    int ex = GW_EXIT_SOME_FAILED;
    gw_statedb_redact(c->url, red, sizeof red);
    if (gw_statedb_status(c->db, &st, err, sizeof err) < 0) {
        gw_errorf(CMD, "status: %s", err);
        goto out;
    }
    if (c->json) {
        if (print_json(red, &st) < 0) {
            gw_errorf(CMD, "out of memory");
            goto out;
        }
    } else {
        printf("database:       %s\n", red);
        if (st.version == 0) {
            printf("schema:         none (run 'ferry db migrate')\n");
        } else {
            printf("schema:         version %d%s\n", st.version,
                   st.version == GW_STATEDB_SCHEMA  ? ""
                   : st.version < GW_STATEDB_SCHEMA ? " (old: run 'ferry db migrate')"
                                                    : " (newer than this ferry)");
            printf("users:          %" PRId64 " (revision %" PRId64 ")\n", st.users, st.users_rev);
            printf("audit records:  %" PRId64 "\n", st.records);
            if (st.head_hash[0])
                printf("chain head:     record %" PRId64 ", hash %s\n", st.head_seq, st.head_hash);
            else
                printf("chain head:     none (no record yet)\n");
            for (size_t i = 0; i < st.nnodes; i++)
                printf("  node %-16s %" PRId64 " record%s\n",
                       st.nodes[i].node[0] ? st.nodes[i].node : "(none)", st.nodes[i].records,
                       st.nodes[i].records == 1 ? "" : "s");
            printf("webdav blobs:   %" PRId64 "\n", st.blobs);
            printf("throttled:      %" PRId64 " address%s\n", st.throttled,
                   st.throttled == 1 ? "" : "es");
        }
    }
    /* A database without this binary's schema is not ready for `ferry serve`. */
    ex = st.version == GW_STATEDB_SCHEMA ? GW_EXIT_OK : GW_EXIT_SOME_FAILED;
out:
    gw_statedb_status_free(&st);
    return ex;
}

/* ---- import ---- */

/* Reads the log at path and its rotations, oldest first, into out as whole lines. A
 * missing log is no log (*present false). */
static int read_log(const char *path, struct gw_buf *out, bool *present, size_t *nfiles_out)
{
    char **files = NULL;
    size_t nfiles = 0;
    int ex = GW_EXIT_SOME_FAILED;
    *present = false;
    int rc = audit_files(path, &files, &nfiles);
    if (rc == GW_ERR_NOENT)
        return GW_EXIT_OK;
    if (rc < 0) {
        gw_errorf(CMD, "%s: %s", path, gw_strerror(rc));
        return GW_EXIT_SOME_FAILED;
    }
    *present = true;
    *nfiles_out = nfiles;
    for (size_t i = 0; i < nfiles; i++) {
        struct audit_reader *rd;
        const char *line;
        size_t n;
        unsigned flags;
        uint64_t lineno = 0;
        rc = audit_reader_open(files[i], &rd);
        if (rc < 0) {
            gw_errorf(CMD, "%s: %s", files[i], gw_strerror(rc));
            goto out;
        }
        while ((rc = audit_reader_next(rd, &line, &n, &flags)) == 1) {
            lineno++;
            if ((flags & AUDIT_LINE_TOOLONG) || !(flags & AUDIT_LINE_NEWLINE)) {
                gw_errorf(CMD,
                          "%s line %" PRIu64 ": %s; nothing imported (check it with 'ferry "
                          "audit verify --log %s')",
                          files[i], lineno,
                          (flags & AUDIT_LINE_TOOLONG) ? "line too long" : "incomplete last line",
                          path);
                audit_reader_close(rd);
                goto out;
            }
            if (gw_buf_append(out, line, n) < 0 || gw_buf_putc(out, '\n') < 0) {
                gw_errorf(CMD, "%s: the audit log is too large to import at once", path);
                audit_reader_close(rd);
                goto out;
            }
        }
        audit_reader_close(rd);
        if (rc < 0) {
            gw_errorf(CMD, "%s: %s", files[i],
                      rc == GW_ERR_PROTO ? "compressed data corrupt or truncated"
                                         : gw_strerror(rc));
            goto out;
        }
    }
    ex = GW_EXIT_OK;
out:
    audit_files_free(files);
    return ex;
}

/* Adds the users of the file that the database lacks; users present in both keep the
 * database's version (it may be newer). */
static int import_users(struct dbctx *c, const char *path)
{
    struct auth_db file = {0}, cur = {0};
    char err[512];
    size_t added = 0, kept = 0;
    int ex = GW_EXIT_SOME_FAILED;
    int rc = auth_db_load(path, &file, err, sizeof err);
    if (rc < 0) {
        gw_errorf(CMD, "%s", err);
        return rc == GW_ERR_CONFIG ? GW_EXIT_USAGE : GW_EXIT_SOME_FAILED;
    }
    if (file.nusers == 0) {
        printf("users: none in %s\n", path);
        auth_db_free(&file);
        return GW_EXIT_OK;
    }
    rc = gw_statedb_users_begin(c->db, &cur, err, sizeof err);
    if (rc < 0) {
        gw_errorf(CMD, "import: %s", err);
        goto out;
    }
    for (size_t i = 0; i < file.nusers; i++) {
        if (auth_db_find(&cur, file.users[i].name)) {
            kept++;
            continue;
        }
        /* Moved, not re-added: the hash and keys are taken as they are. */
        struct auth_user *nu = realloc(cur.users, (cur.nusers + 1) * sizeof *nu);
        if (!nu) {
            gw_errorf(CMD, "out of memory");
            gw_statedb_users_abort(c->db);
            goto out;
        }
        cur.users = nu;
        cur.users[cur.nusers++] = file.users[i];
        memset(&file.users[i], 0, sizeof file.users[i]);
        added++;
    }
    if (added == 0) {
        gw_statedb_users_abort(c->db);
    } else if (gw_statedb_users_commit(c->db, &cur, err, sizeof err) < 0) {
        gw_errorf(CMD, "import: %s", err);
        goto out;
    }
    printf("users: imported %zu from %s", added, path);
    if (kept)
        printf(", kept %zu already in the database", kept);
    printf("\n");
    ex = GW_EXIT_OK;
out:
    /* Moved entries were zeroed in file: freeing both frees each string once. */
    auth_db_free(&cur);
    auth_db_free(&file);
    return ex;
}

static int cmd_import(struct dbctx *c)
{
    char err[512];
    char *users_path = NULL, *audit_path = NULL;
    struct gw_buf log;
    bool present = false;
    size_t nfiles = 0;
    uint64_t records = 0;
    int ex = GW_EXIT_SOME_FAILED;
    gw_buf_init(&log, MAX_IMPORT);
    if (asprintf(&users_path, "%s/users", c->state) < 0 ||
        asprintf(&audit_path, "%s/%s", c->state, AUDIT_NAME) < 0) {
        gw_errorf(CMD, "out of memory");
        goto out;
    }
    ex = read_log(audit_path, &log, &present, &nfiles);
    if (ex != GW_EXIT_OK)
        goto out;
    ex = GW_EXIT_SOME_FAILED;
    /* The audit log first: when it is refused (records already there), nothing at all
     * has been changed. */
    if (present) {
        int rc = gw_statedb_audit_import(c->db, log.data ? log.data : "", log.len, &records, err,
                                         sizeof err);
        if (rc == GW_ERR_EXIST) {
            gw_errorf(CMD, "import refused: the database already holds audit records (an "
                           "import runs once, into an empty audit table); nothing imported");
            goto out;
        }
        if (rc < 0) {
            gw_errorf(CMD, "import of %s: %s; nothing imported", audit_path, err);
            goto out;
        }
        printf("audit: imported %" PRIu64 " record%s from %s", records, records == 1 ? "" : "s",
               audit_path);
        if (nfiles > 1)
            printf(" and %zu rotation%s", nfiles - 1, nfiles == 2 ? "" : "s");
        printf("\n");
    } else {
        printf("audit: no log at %s\n", audit_path);
    }
    ex = import_users(c, users_path);
    if (ex == GW_EXIT_OK && present)
        printf("check the imported chain with 'ferry audit verify --state-db URL'\n");
out:
    gw_buf_free(&log);
    free(users_path);
    free(audit_path);
    return ex;
}

/* ---- dispatch ---- */

struct dbsub {
    const char *name;
    bool json; /* accepts --json */
    int (*run)(struct dbctx *c);
};

static const struct dbsub subs[] = {
    {"migrate", false, cmd_migrate},
    {"status", true, cmd_status},
    {"import", false, cmd_import},
};

int gw_db_cmd_main(int argc, char **argv)
{
    enum { O_URL = 256, O_CONFIG, O_STATE, O_JSON };
    static const struct option longopts[] = {
        {"state-db", required_argument, NULL, O_URL},
        {"config", required_argument, NULL, O_CONFIG},
        {"state", required_argument, NULL, O_STATE},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dbctx c;
    const struct dbsub *sub = NULL;
    int opt, ex;
    memset(&c, 0, sizeof c);
    if (argc < 2)
        return gw_usage_error(CMD, "missing command (migrate, status, import)");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return GW_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(subs[i].name, argv[1]))
            sub = &subs[i];
    if (!sub)
        return gw_usage_error(CMD, "unknown command '%s' (migrate, status, import)", argv[1]);
    argc--;
    argv++;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            return GW_EXIT_OK;
        case O_URL:
            c.url_flag = optarg;
            break;
        case O_CONFIG:
            c.config = optarg;
            break;
        case O_STATE:
            c.state_flag = optarg;
            break;
        case O_JSON:
            if (!sub->json)
                return gw_usage_error(CMD, "--json does not apply to 'db %s'", sub->name);
            c.json = true;
            break;
        case ':':
            return gw_usage_error(CMD, "option '%s' needs an argument", argv[optind - 1]);
        default:
            return gw_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gw_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    ex = resolve(&c);
    if (ex == GW_EXIT_OK)
        ex = connect_db(&c);
    if (ex == GW_EXIT_OK && sub->run != cmd_migrate && sub->run != cmd_status)
        ex = need_schema(&c);
    if (ex == GW_EXIT_OK)
        ex = sub->run(&c);
    gw_statedb_close(c.db);
    free(c.url);
    free(c.state);
    return ex;
}
