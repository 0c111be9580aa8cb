/* `ferry user`: add, delete, list users and change their passwords and keys in
 * STATE/users (format in users.h). Every change takes an exclusive lock on
 * STATE/users.lock for its whole load-modify-save cycle, so two concurrent runs never
 * lose each other's update; readers (the server, `list`) need no lock because the file
 * is replaced atomically.
 *
 * With a state database (`state_db` in the config, or --state-db), the same cycle runs
 * against it instead (gateway/statedb.h): users_begin locks and loads, commit replaces
 * the rows and notifies every node. Validation and output are the file's. */
#include "gateway/users.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/statedb.h"

#define CMD "user"
#define DEFAULT_STATE "./ferry-state"
#define MAX_KEY_FILES 16
#define MAX_KEY_FILE (256u * 1024)

/* Options a subcommand accepts (bit set in its table entry). */
enum {
    OPT_PASSWORD_STDIN = 1 << 0,
    OPT_KEY = 1 << 1,
    OPT_HOME = 1 << 2,
    OPT_READ_ONLY = 1 << 3,
    OPT_JSON = 1 << 4,
    OPT_NO_PASSWORD = 1 << 5,
};

struct ucmd_ctx {
    const char *state_flag;
    const char *config;
    const char *url_flag; /* --state-db */
    const char *home;
    const char *key_files[MAX_KEY_FILES];
    size_t nkey_files;
    bool password_stdin, read_only, json, no_password;
    char **args; /* positional arguments after the subcommand */
    int nargs;
    char *state;      /* resolved state directory (owned) */
    char *users_path; /* STATE/users (owned) */
    int lock_fd;
    char *url;             /* the state database ("" or NULL: the users file) (owned) */
    struct gw_statedb *db; /* open once needed */
    bool locked;           /* lock_state ran: load_db opens the read-modify-write */
};

struct ucmd {
    const char *name;
    unsigned opts;
    int nargs;
    const char *synopsis;
    int (*run)(struct ucmd_ctx *c);
};

static int cmd_add(struct ucmd_ctx *c);
static int cmd_del(struct ucmd_ctx *c);
static int cmd_list(struct ucmd_ctx *c);
static int cmd_passwd(struct ucmd_ctx *c);
static int cmd_key_add(struct ucmd_ctx *c);
static int cmd_key_del(struct ucmd_ctx *c);

static const struct ucmd commands[] = {
    {"add", OPT_PASSWORD_STDIN | OPT_KEY | OPT_HOME | OPT_READ_ONLY, 1,
     "add NAME [--password-stdin] [--key PUBKEYFILE]... [--home /PATH] [--read-only]", cmd_add},
    {"del", 0, 1, "del NAME", cmd_del},
    {"list", OPT_JSON, 0, "list [--json]", cmd_list},
    {"passwd", OPT_PASSWORD_STDIN | OPT_NO_PASSWORD, 1,
     "passwd NAME [--password-stdin | --no-password]", cmd_passwd},
    {"key add", 0, 2, "key add NAME PUBKEYFILE", cmd_key_add},
    {"key del", 0, 2, "key del NAME FINGERPRINT|COMMENT", cmd_key_del},
};

static void usage(FILE *out)
{
    fputs("Usage: ferry user COMMAND [ARGS] [--state DIR | --config FILE]\n"
          "\n"
          "Manage the users of `ferry serve`, kept in STATE/users, or in the state\n"
          "database when one is configured (state_db in [server], or --state-db).\n"
          "\n"
          "Commands:\n"
          "  add NAME [--password-stdin] [--key PUBKEYFILE]... [--home /PATH] [--read-only]\n"
          "        Create a user. Without --password-stdin and --key a random password is\n"
          "        generated and printed once. --key alone makes a key-only user. --home is\n"
          "        a path inside the server root (default /NAME).\n"
          "  del NAME\n"
          "        Delete a user; the files under their home are kept.\n"
          "  list [--json]\n"
          "        Show users (name, home, ro/rw, keys, password). --json prints one JSON\n"
          "        array of {name, home, read_only, password, keys: [{type, fingerprint,\n"
          "        comment}]}.\n"
          "  passwd NAME [--password-stdin | --no-password]\n"
          "        Set a new password (random and printed once unless read from stdin);\n"
          "        --no-password allows key login only.\n"
          "  key add NAME PUBKEYFILE\n"
          "        Add the public keys in PUBKEYFILE (OpenSSH .pub / authorized_keys lines).\n"
          "  key del NAME FINGERPRINT|COMMENT\n"
          "        Remove keys by SHA256 fingerprint (as ssh-keygen -l shows) or comment.\n"
          "\n"
          "Options:\n"
          "  --password-stdin  read the password from the first line of standard input\n"
          "  --state DIR       state directory (default ./ferry-state; created 0700)\n"
          "  --config FILE     take the state directory (and state_db) from this config file\n"
          "  --state-db URL    work on the users in this state database (postgresql://...)\n"
          "  -h, --help        show this help\n"
          "\n"
          "Exit status: 0 ok, 1 failed (e.g. user exists), 2 usage or config error.\n"
          "A running `ferry serve` applies changes from the next login on.\n",
          out);
}

/* ---- helpers ---- */

static int resolve_state(struct ucmd_ctx *c)
{
    int rc = GW_EXIT_OK;
    if (c->config) {
        struct gw_config cfg;
        char err[512];
        cfg_defaults(&cfg);
        if (cfg_load(&cfg, c->config, err, sizeof err) < 0) {
            gw_errorf(CMD, "%s", err);
            rc = GW_EXIT_USAGE;
        } else {
            c->state = strdup(c->state_flag ? c->state_flag
                              : cfg.state   ? cfg.state
                                            : DEFAULT_STATE);
            if (!c->url_flag && cfg.state_db && cfg.state_db[0] && !(c->url = strdup(cfg.state_db)))
                rc = GW_EXIT_SOME_FAILED;
        }
        cfg_free(&cfg);
        if (rc != GW_EXIT_OK)
            return rc;
    } else {
        c->state = strdup(c->state_flag ? c->state_flag : DEFAULT_STATE);
    }
    if (c->url_flag && !(c->url = strdup(c->url_flag))) {
        gw_errorf(CMD, "out of memory");
        return GW_EXIT_SOME_FAILED;
    }
    if (!c->state || asprintf(&c->users_path, "%s/users", c->state) < 0) {
        c->users_path = NULL;
        gw_errorf(CMD, "out of memory");
        return GW_EXIT_SOME_FAILED;
    }
    return GW_EXIT_OK;
}

static bool use_db(const struct ucmd_ctx *c)
{
    return c->url && c->url[0];
}

/* Connects to the state database and checks its schema is this binary's. */
static int db_connect(struct ucmd_ctx *c)
{
    char err[512];
    int v;
    if (c->db)
        return GW_EXIT_OK;
    if (gw_statedb_open(c->url, &c->db, err, sizeof err) < 0) {
        gw_errorf(CMD, "%s", err);
        return GW_EXIT_SOME_FAILED;
    }
    if (gw_statedb_version(c->db, &v, err, sizeof err) < 0) {
        gw_errorf(CMD, "%s", err);
        return GW_EXIT_SOME_FAILED;
    }
    if (v != GW_STATEDB_SCHEMA) {
        gw_errorf(CMD,
                  "the state database has schema version %d, this ferry needs %d: run "
                  "'ferry db migrate'",
                  v, GW_STATEDB_SCHEMA);
        return GW_EXIT_SOME_FAILED;
    }
    return GW_EXIT_OK;
}

/* Creates the state directory (0700) when missing and takes the users lock. With a
 * state database, the lock is taken by load_db (users_begin) instead. */
static int lock_state(struct ucmd_ctx *c)
{
    char *lock_path = NULL;
    int rc = GW_EXIT_SOME_FAILED;
    if (use_db(c)) {
        c->locked = true;
        return db_connect(c);
    }
    if (mkdir(c->state, 0700) < 0 && errno != EEXIST) {
        gw_errorf(CMD, "cannot create state directory %s: %s", c->state, strerror(errno));
        goto out;
    }
    if (asprintf(&lock_path, "%s/users.lock", c->state) < 0) {
        lock_path = NULL;
        gw_errorf(CMD, "out of memory");
        goto out;
    }
    c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->lock_fd < 0) {
        gw_errorf(CMD, "%s: %s", lock_path, strerror(errno));
        goto out;
    }
    while (flock(c->lock_fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            gw_errorf(CMD, "%s: lock: %s", lock_path, strerror(errno));
            goto out;
        }
    }
    rc = GW_EXIT_OK;
out:
    free(lock_path);
    return rc;
}

static int load_db(struct ucmd_ctx *c, struct auth_db *db)
{
    char err[512];
    int rc;
    if (use_db(c)) {
        int64_t rev;
        rc = db_connect(c);
        if (rc != GW_EXIT_OK)
            return rc;
        rc = c->locked ? gw_statedb_users_begin(c->db, db, err, sizeof err)
                       : gw_statedb_users_load(c->db, db, &rev, err, sizeof err);
    } else {
        rc = auth_db_load(c->users_path, db, err, sizeof err);
    }
    if (rc == 0)
        return GW_EXIT_OK;
    gw_errorf(CMD, "%s", err);
    /* A users file that does not parse is a configuration error. */
    return rc == GW_ERR_CONFIG ? GW_EXIT_USAGE : GW_EXIT_SOME_FAILED;
}

static int save_db(struct ucmd_ctx *c, const struct auth_db *db)
{
    if (use_db(c)) {
        char err[512];
        if (gw_statedb_users_commit(c->db, db, err, sizeof err) == 0)
            return GW_EXIT_OK;
        gw_errorf(CMD, "cannot write the users to the state database: %s", err);
        return GW_EXIT_SOME_FAILED;
    }
    int rc = auth_db_save(db, c->users_path);
    if (rc == 0)
        return GW_EXIT_OK;
    gw_errorf(CMD, "cannot write %s: %s", c->users_path, gw_strerror(rc));
    return GW_EXIT_SOME_FAILED;
}

/* Reads the password from the first line of stdin (trailing LF or CRLF stripped) into
 * out (AUTH_MAX_PASSWORD + 1 bytes). */
static int read_password(char *out, size_t outsz)
{
    size_t n = 0;
    int ch;
    bool too_long = false, has_nul = false;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (ch == '\0')
            has_nul = true;
        if (n + 1 < outsz)
            out[n++] = (char)ch;
        else
            too_long = true;
    }
    if (n && out[n - 1] == '\r' && !too_long)
        n--;
    out[n] = '\0';
    if (ferror(stdin)) {
        gw_errorf(CMD, "reading the password from stdin: %s", strerror(errno));
        return GW_EXIT_SOME_FAILED;
    }
    if (too_long) {
        gw_errorf(CMD, "password too long (max %d bytes)", AUTH_MAX_PASSWORD);
        return GW_EXIT_SOME_FAILED;
    }
    if (has_nul) {
        gw_errorf(CMD, "password contains a NUL byte");
        return GW_EXIT_SOME_FAILED;
    }
    if (n == 0) {
        gw_errorf(CMD, "empty password on stdin");
        return GW_EXIT_SOME_FAILED;
    }
    return GW_EXIT_OK;
}

/* Reads a public key file and checks every key line; returns the lines (one key per
 * line, comments and blank lines dropped) in *keys as one NUL-separated, malloc'd
 * block with *nkeys entries. */
static int read_key_file(const char *path, char **keys, size_t *nkeys)
{
    struct gw_buf in, out;
    int rc = GW_EXIT_SOME_FAILED;
    FILE *f = NULL;
    char chunk[4096];
    size_t got;
    *keys = NULL;
    *nkeys = 0;
    gw_buf_init(&in, MAX_KEY_FILE);
    gw_buf_init(&out, MAX_KEY_FILE);
    f = fopen(path, "re");
    if (!f) {
        gw_errorf(CMD, "%s: %s", path, strerror(errno));
        goto out;
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (gw_buf_append(&in, chunk, got) < 0) {
            gw_errorf(CMD, "%s: too large for a public key file", path);
            goto out;
        }
    }
    if (ferror(f)) {
        gw_errorf(CMD, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (strstr(gw_buf_str(&in), "PRIVATE KEY-----")) {
        gw_errorf(CMD, "%s is a private key; give the public key (the .pub file)", path);
        goto out;
    }
    const char *s = gw_buf_str(&in);
    unsigned line = 0;
    for (size_t pos = 0; pos < in.len;) {
        const char *nl = memchr(s + pos, '\n', in.len - pos);
        size_t n = nl ? (size_t)(nl - (s + pos)) : in.len - pos;
        const char *l = s + pos;
        pos += n + 1;
        line++;
        size_t i = 0;
        while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
            i++;
        if (i == n || l[i] == '#')
            continue;
        struct auth_key k;
        char why[160];
        int krc = auth_key_parse(l, n, &k, why, sizeof why);
        if (krc < 0) {
            gw_errorf(CMD, "%s:%u: %s", path, line, why);
            goto out;
        }
        int brc =
            gw_buf_printf(&out, "%s %s%s%s", k.type, k.blob, k.comment[0] ? " " : "", k.comment);
        auth_key_free(&k);
        if (brc < 0 || gw_buf_putc(&out, '\0') < 0) {
            gw_errorf(CMD, "%s: %s", path, gw_strerror(brc < 0 ? brc : GW_ERR_LIMIT));
            goto out;
        }
        (*nkeys)++;
    }
    if (*nkeys == 0) {
        gw_errorf(CMD, "%s: no public key found", path);
        goto out;
    }
    *keys = gw_buf_steal(&out, NULL);
    rc = *keys ? GW_EXIT_OK : GW_EXIT_SOME_FAILED;
out:
    if (f)
        fclose(f);
    gw_buf_free(&in);
    gw_buf_free(&out);
    return rc;
}

/* Adds every key of a block from read_key_file; a key already present is reported and
 * skipped (so re-running a provisioning script is harmless). */
static int add_keys(struct auth_db *db, const char *name, const char *path, const char *keys,
                    size_t nkeys, size_t *added)
{
    for (size_t i = 0; i < nkeys; i++, keys += strlen(keys) + 1) {
        int rc = auth_db_add_key(db, name, keys);
        if (rc == GW_ERR_EXIST) {
            fprintf(stderr, "ferry user: %s: key %zu is already present for '%s'\n", path, i + 1,
                    name);
            continue;
        }
        if (rc < 0) {
            gw_errorf(CMD, "%s: key %zu: %s", path, i + 1,
                      rc == GW_ERR_LIMIT ? "too many keys for one user" : gw_strerror(rc));
            return GW_EXIT_SOME_FAILED;
        }
        (*added)++;
    }
    return GW_EXIT_OK;
}

static void print_generated(const char *name, const char *password)
{
    printf("password: %s\n", password);
    fprintf(stderr, "ferry user: the password of '%s' is shown only once; store it now\n", name);
}

static int password_error(int rc)
{
    if (rc == GW_ERR_TOOLONG)
        gw_errorf(CMD, "password too long (max %d bytes)", AUTH_MAX_PASSWORD);
    else
        gw_errorf(CMD, "cannot hash the password: %s", gw_strerror(rc));
    return GW_EXIT_SOME_FAILED;
}

/* ---- subcommands ---- */

static int cmd_add(struct ucmd_ctx *c)
{
    const char *name = c->args[0];
    char password[AUTH_MAX_PASSWORD + 2] = "";
    char *keys[MAX_KEY_FILES] = {0};
    size_t nkeys[MAX_KEY_FILES] = {0}, added = 0;
    struct auth_db db = {0};
    bool generated = false;
    int rc;
    if (!auth_name_valid(name))
        return gw_usage_error(CMD,
                              "bad user name '%s': use 1-%d of A-Z a-z 0-9 . _ -, not "
                              "starting with . or -",
                              name, GW_MAX_USER_NAME);
    if (auth_name_reserved(name))
        return gw_usage_error(CMD, "'%s' is reserved for anonymous FTP", name);
    if (c->home && !auth_home_valid(c->home))
        return gw_usage_error(CMD,
                              "bad home '%s': an absolute path inside the server root, "
                              "without . or .. (e.g. /%s)",
                              c->home, name);
    for (size_t i = 0; i < c->nkey_files; i++) {
        rc = read_key_file(c->key_files[i], &keys[i], &nkeys[i]);
        if (rc != GW_EXIT_OK)
            goto out;
    }
    if (c->password_stdin) {
        rc = read_password(password, sizeof password);
        if (rc != GW_EXIT_OK)
            goto out;
    } else if (c->nkey_files == 0) {
        rc = auth_random_password(password, sizeof password, AUTH_RANDOM_PASSWORD_LEN);
        if (rc < 0) {
            gw_errorf(CMD, "cannot generate a password: %s", gw_strerror(rc));
            rc = GW_EXIT_SOME_FAILED;
            goto out;
        }
        generated = true;
    }
    rc = lock_state(c);
    if (rc != GW_EXIT_OK)
        goto out;
    rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out;
    int arc = auth_db_add(&db, name, password[0] ? password : NULL, c->home, c->read_only);
    if (arc == GW_ERR_EXIST) {
        gw_errorf(CMD, "user '%s' already exists", name);
        rc = GW_EXIT_SOME_FAILED;
        goto out_db;
    }
    if (arc < 0) {
        rc = password_error(arc);
        goto out_db;
    }
    for (size_t i = 0; i < c->nkey_files; i++) {
        rc = add_keys(&db, name, c->key_files[i], keys[i], nkeys[i], &added);
        if (rc != GW_EXIT_OK)
            goto out_db;
    }
    rc = save_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out_db;
    const struct auth_user *u = auth_db_find(&db, name);
    printf("added user %s (home %s, %s, %zu key%s%s)\n", name, u->home,
           u->read_only ? "read-only" : "read-write", added, added == 1 ? "" : "s",
           password[0] ? ", password" : "");
    if (generated)
        print_generated(name, password);
out_db:
    auth_db_free(&db);
out:
    for (size_t i = 0; i < MAX_KEY_FILES; i++)
        free(keys[i]);
    explicit_bzero(password, sizeof password);
    return rc;
}

static int cmd_del(struct ucmd_ctx *c)
{
    const char *name = c->args[0];
    struct auth_db db = {0};
    int rc = lock_state(c);
    if (rc != GW_EXIT_OK)
        return rc;
    rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out;
    const struct auth_user *u = auth_db_find(&db, name);
    if (!u) {
        gw_errorf(CMD, "no such user '%s'", name);
        rc = GW_EXIT_SOME_FAILED;
        goto out;
    }
    char *home = strdup(u->home);
    if (!home || auth_db_del(&db, name) < 0) {
        free(home);
        gw_errorf(CMD, "out of memory");
        rc = GW_EXIT_SOME_FAILED;
        goto out;
    }
    rc = save_db(c, &db);
    if (rc == GW_EXIT_OK)
        printf("deleted user %s (files under %s are kept)\n", name, home);
    free(home);
out:
    auth_db_free(&db);
    return rc;
}

static bool has_password(const struct auth_user *u)
{
    return u->hash[0] != '!' && u->hash[0] != '*';
}

static int list_json(const struct auth_db *db)
{
    struct gw_buf b;
    int rc = 0;
    gw_buf_init(&b, (size_t)GW_MAX_USERS_FILE * 2);
    rc = gw_buf_puts(&b, "[");
    for (size_t i = 0; rc == 0 && i < db->nusers; i++) {
        const struct auth_user *u = &db->users[i];
        bool first = true;
        rc |= gw_buf_puts(&b, i ? ",\n  {" : "\n  {");
        rc |= gw_json_key(&b, &first, "name");
        rc |= gw_json_cstr(&b, u->name);
        rc |= gw_json_key(&b, &first, "home");
        rc |= gw_json_cstr(&b, u->home);
        rc |= gw_json_key(&b, &first, "read_only");
        rc |= gw_buf_puts(&b, u->read_only ? "true" : "false");
        rc |= gw_json_key(&b, &first, "password");
        rc |= gw_buf_puts(&b, has_password(u) ? "true" : "false");
        rc |= gw_json_key(&b, &first, "keys");
        rc |= gw_buf_puts(&b, "[");
        for (size_t k = 0; rc == 0 && k < u->nkeys; k++) {
            char fp[AUTH_FINGERPRINT_SIZE];
            bool kfirst = true;
            rc |= auth_key_fingerprint(&u->keys[k], fp, sizeof fp);
            rc |= gw_buf_puts(&b, k ? ", {" : "{");
            rc |= gw_json_key(&b, &kfirst, "type");
            rc |= gw_json_cstr(&b, u->keys[k].type);
            rc |= gw_json_key(&b, &kfirst, "fingerprint");
            rc |= gw_json_cstr(&b, fp);
            rc |= gw_json_key(&b, &kfirst, "comment");
            rc |= gw_json_cstr(&b, u->keys[k].comment);
            rc |= gw_buf_puts(&b, "}");
        }
        rc |= gw_buf_puts(&b, "]}");
    }
    rc |= gw_buf_puts(&b, db->nusers ? "\n]\n" : "]\n");
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    else
        gw_errorf(CMD, "cannot format the list");
    gw_buf_free(&b);
    return rc == 0 ? GW_EXIT_OK : GW_EXIT_SOME_FAILED;
}

static void list_table(const struct auth_db *db)
{
    int wname = 4, whome = 4;
    for (size_t i = 0; i < db->nusers; i++) {
        int n = (int)strlen(db->users[i].name), h = (int)strlen(db->users[i].home);
        wname = n > wname ? n : wname;
        whome = h > whome ? (h > 60 ? 60 : h) : whome;
    }
    printf("%-*s  %-*s  %-4s  %4s  %s\n", wname, "NAME", whome, "HOME", "MODE", "KEYS", "PASSWORD");
    for (size_t i = 0; i < db->nusers; i++) {
        const struct auth_user *u = &db->users[i];
        printf("%-*s  %-*s  %-4s  %4zu  %s\n", wname, u->name, whome, u->home,
               u->read_only ? "ro" : "rw", u->nkeys, has_password(u) ? "yes" : "no");
    }
}

static int cmd_list(struct ucmd_ctx *c)
{
    struct auth_db db = {0};
    int rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        return rc;
    if (c->json)
        rc = list_json(&db);
    else
        list_table(&db);
    auth_db_free(&db);
    if (fflush(stdout) != 0 && rc == GW_EXIT_OK) {
        gw_errorf(CMD, "writing the list: %s", strerror(errno));
        rc = GW_EXIT_SOME_FAILED;
    }
    return rc;
}

static int cmd_passwd(struct ucmd_ctx *c)
{
    const char *name = c->args[0];
    char password[AUTH_MAX_PASSWORD + 2] = "";
    struct auth_db db = {0};
    bool generated = false;
    int rc;
    if (c->password_stdin && c->no_password)
        return gw_usage_error(CMD, "--password-stdin and --no-password exclude each other");
    if (c->password_stdin) {
        rc = read_password(password, sizeof password);
        if (rc != GW_EXIT_OK)
            goto out;
    } else if (!c->no_password) {
        rc = auth_random_password(password, sizeof password, AUTH_RANDOM_PASSWORD_LEN);
        if (rc < 0) {
            gw_errorf(CMD, "cannot generate a password: %s", gw_strerror(rc));
            rc = GW_EXIT_SOME_FAILED;
            goto out;
        }
        generated = true;
    }
    rc = lock_state(c);
    if (rc != GW_EXIT_OK)
        goto out;
    rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out_db;
    const struct auth_user *u = auth_db_find(&db, name);
    if (!u) {
        gw_errorf(CMD, "no such user '%s'", name);
        rc = GW_EXIT_SOME_FAILED;
        goto out_db;
    }
    if (c->no_password && u->nkeys == 0)
        fprintf(stderr, "ferry user: warning: '%s' has no key either and cannot log in\n", name);
    int prc = auth_db_set_password(&db, name, c->no_password ? NULL : password);
    if (prc < 0) {
        rc = password_error(prc);
        goto out_db;
    }
    rc = save_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out_db;
    printf(c->no_password ? "password login disabled for %s\n" : "password changed for %s\n", name);
    if (generated)
        print_generated(name, password);
out_db:
    auth_db_free(&db);
out:
    explicit_bzero(password, sizeof password);
    return rc;
}

static int cmd_key_add(struct ucmd_ctx *c)
{
    const char *name = c->args[0], *path = c->args[1];
    char *keys = NULL;
    size_t nkeys = 0, added = 0;
    struct auth_db db = {0};
    int rc = read_key_file(path, &keys, &nkeys);
    if (rc != GW_EXIT_OK)
        return rc;
    rc = lock_state(c);
    if (rc != GW_EXIT_OK)
        goto out;
    rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out_db;
    if (!auth_db_find(&db, name)) {
        gw_errorf(CMD, "no such user '%s'", name);
        rc = GW_EXIT_SOME_FAILED;
        goto out_db;
    }
    rc = add_keys(&db, name, path, keys, nkeys, &added);
    if (rc == GW_EXIT_OK && added)
        rc = save_db(c, &db);
    if (rc == GW_EXIT_OK)
        printf("added %zu key%s to %s\n", added, added == 1 ? "" : "s", name);
out_db:
    auth_db_free(&db);
out:
    free(keys);
    return rc;
}

static int cmd_key_del(struct ucmd_ctx *c)
{
    const char *name = c->args[0], *which = c->args[1];
    struct auth_db db = {0};
    int rc = lock_state(c);
    if (rc != GW_EXIT_OK)
        return rc;
    rc = load_db(c, &db);
    if (rc != GW_EXIT_OK)
        goto out;
    if (!auth_db_find(&db, name)) {
        gw_errorf(CMD, "no such user '%s'", name);
        rc = GW_EXIT_SOME_FAILED;
        goto out;
    }
    size_t before = auth_db_find(&db, name)->nkeys;
    if (auth_db_del_key(&db, name, which) < 0) {
        gw_errorf(CMD, "'%s' has no key with fingerprint or comment '%s'", name, which);
        rc = GW_EXIT_SOME_FAILED;
        goto out;
    }
    size_t removed = before - auth_db_find(&db, name)->nkeys;
    rc = save_db(c, &db);
    if (rc == GW_EXIT_OK)
        printf("removed %zu key%s from %s\n", removed, removed == 1 ? "" : "s", name);
out:
    auth_db_free(&db);
    return rc;
}

/* ---- dispatch ---- */

static const char *option_name(unsigned bit)
{
    switch (bit) {
    case OPT_PASSWORD_STDIN:
        return "--password-stdin";
    case OPT_KEY:
        return "--key";
    case OPT_HOME:
        return "--home";
    case OPT_READ_ONLY:
        return "--read-only";
    case OPT_JSON:
        return "--json";
    default:
        return "--no-password";
    }
}

/* Parses options for subcommand cmd from argv (argv[0] = the subcommand's last word).
 * Returns -1 to go on, else the exit code. */
static int parse_options(const struct ucmd *cmd, int argc, char **argv, struct ucmd_ctx *c)
{
    enum { O_STATE = 256, O_CONFIG, O_PWSTDIN, O_KEY, O_HOME, O_RO, O_JSON, O_NOPW, O_URL };
    static const struct option longopts[] = {
        {"state", required_argument, NULL, O_STATE},
        {"state-db", required_argument, NULL, O_URL},
        {"config", required_argument, NULL, O_CONFIG},
        {"password-stdin", no_argument, NULL, O_PWSTDIN},
        {"key", required_argument, NULL, O_KEY},
        {"home", required_argument, NULL, O_HOME},
        {"read-only", no_argument, NULL, O_RO},
        {"json", no_argument, NULL, O_JSON},
        {"no-password", no_argument, NULL, O_NOPW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned seen = 0;
    int opt;
    optind = 0; /* full reset: getopt may have run before in this process */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            return GW_EXIT_OK;
        case O_STATE:
            c->state_flag = optarg;
            break;
        case O_CONFIG:
            c->config = optarg;
            break;
        case O_URL:
            c->url_flag = optarg;
            break;
        case O_PWSTDIN:
            seen |= OPT_PASSWORD_STDIN;
            c->password_stdin = true;
            break;
        case O_KEY:
            seen |= OPT_KEY;
            if (c->nkey_files >= MAX_KEY_FILES)
                return gw_usage_error(CMD, "at most %d --key options", MAX_KEY_FILES);
            c->key_files[c->nkey_files++] = optarg;
            break;
        case O_HOME:
            seen |= OPT_HOME;
            c->home = optarg;
            break;
        case O_RO:
            seen |= OPT_READ_ONLY;
            c->read_only = true;
            break;
        case O_JSON:
            seen |= OPT_JSON;
            c->json = true;
            break;
        case O_NOPW:
            seen |= OPT_NO_PASSWORD;
            c->no_password = true;
            break;
        case ':':
            return gw_usage_error(CMD, "option '%s' needs an argument", argv[optind - 1]);
        default:
            return gw_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    for (unsigned bit = 1; bit <= OPT_NO_PASSWORD; bit <<= 1)
        if ((seen & bit) && !(cmd->opts & bit))
            return gw_usage_error(CMD, "%s does not apply to 'user %s'", option_name(bit),
                                  cmd->name);
    c->args = argv + optind;
    c->nargs = argc - optind;
    if (c->nargs != cmd->nargs)
        return gw_usage_error(CMD, "%s arguments; usage: ferry user %s",
                              c->nargs < cmd->nargs ? "missing" : "too many", cmd->synopsis);
    return -1;
}

int auth_cmd_main(int argc, char **argv)
{
    struct ucmd_ctx c = {.lock_fd = -1};
    const struct ucmd *cmd = NULL;
    int rc;
    if (argc < 2)
        return gw_usage_error(CMD, "missing command (add, del, list, passwd, key)");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return GW_EXIT_OK;
    }
    /* "key add" and "key del" are two words; every other command is one. */
    int skip = 1;
    char word[32];
    if (strcmp(argv[1], "key") == 0) {
        if (argc < 3 || argv[2][0] == '-')
            return gw_usage_error(CMD, "usage: ferry user key add|del NAME ...");
        snprintf(word, sizeof word, "key %.20s", argv[2]);
        skip = 2;
    } else {
        snprintf(word, sizeof word, "%.31s", argv[1]);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, word) == 0)
            cmd = &commands[i];
    if (!cmd)
        return gw_usage_error(CMD, "unknown command '%s'", word);
    rc = parse_options(cmd, argc - skip, argv + skip, &c);
    if (rc >= 0)
        return rc;
    rc = resolve_state(&c);
    if (rc == GW_EXIT_OK)
        rc = cmd->run(&c);
    if (c.lock_fd >= 0)
        close(c.lock_fd);
    /* A command that failed after users_begin leaves its transaction open: undone. */
    gw_statedb_users_abort(c.db);
    gw_statedb_close(c.db);
    free(c.url);
    free(c.state);
    free(c.users_path);
    return rc;
}
