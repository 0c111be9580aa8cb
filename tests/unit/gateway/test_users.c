/* Unit tests for gateway/users.c: the users-file parser and writer, atomic save,
 * yescrypt passwords, public keys (fingerprints checked against ssh-keygen) and the
 * failed-login throttle. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/users.h"

/* Key blobs of the fixtures (tests/data/users/NAME.pub, made by ssh-keygen) and the
 * fingerprints `ssh-keygen -lf` printed for them. */
#define FP_ED25519 "SHA256:U7sTUEkIXGXYX5i6aNpECYaKKiRbWaMEolLn+s/HRdc"
#define FP_RSA "SHA256:BDW8UCHJXwv1ZOvoB4pq3BCPDZqkJCP+7UAMmQJMiKg"
#define FP_ECDSA "SHA256:hvAyPHlpvpoOSsglTTcAmjUqPpf0z/+NJjwyhsWZABU"

/* `openssl passwd -6 -salt ferrysalt 'legacy secret'` */
#define SHA512CRYPT                                                                                \
    "$6$ferrysalt$a/gezzszTO56aF4LRzZA/8ngQHkJxlyPIX2oscGWjjI1/"                                   \
    "mydgE.q8RN5N1wT.067EgSJGrAkz3KKOi429ba1j1"

static char *fixture(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "users/%s", name);
    return tu_read_file(tu_data_path(rel), len);
}

/* The first line of a fixture (a .pub file), without its newline. */
static char *pub_line(const char *name)
{
    char *s = fixture(name, NULL);
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

/* The base64 blob of a .pub fixture. */
static char *pub_blob(const char *name)
{
    char *line = pub_line(name);
    char *sp = strchr(line, ' ');
    ck_assert_ptr_nonnull(sp);
    char *blob = strdup(sp + 1);
    blob[strcspn(blob, " ")] = '\0';
    free(line);
    return blob;
}

static int parse_str(const char *s, struct auth_db *db, char *err, size_t errsz)
{
    return auth_db_parse(s, strlen(s), db, err, errsz);
}

static bool db_equal(const struct auth_db *a, const struct auth_db *b)
{
    if (a->nusers != b->nusers)
        return false;
    for (size_t i = 0; i < a->nusers; i++) {
        const struct auth_user *x = &a->users[i], *y = &b->users[i];
        if (strcmp(x->name, y->name) || strcmp(x->hash, y->hash) || strcmp(x->home, y->home) ||
            x->read_only != y->read_only || x->nkeys != y->nkeys)
            return false;
        for (size_t k = 0; k < x->nkeys; k++)
            if (strcmp(x->keys[k].type, y->keys[k].type) ||
                strcmp(x->keys[k].blob, y->keys[k].blob) ||
                strcmp(x->keys[k].comment, y->keys[k].comment))
                return false;
    }
    return true;
}

/* ---- auth_db_parse ---- */

START_TEST(test_parse_good_fixture)
{
    size_t len;
    char *buf = fixture("good.users", &len);
    struct auth_db db;
    char err[256] = "";
    ck_assert_msg(auth_db_parse(buf, len, &db, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(db.nusers, 5);

    const struct auth_user *a = auth_db_find(&db, "alice");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->home, "/alice");
    ck_assert(!a->read_only);
    ck_assert_uint_eq(a->nkeys, 1);
    ck_assert_str_eq(a->keys[0].type, "ssh-ed25519");
    ck_assert_str_eq(a->keys[0].comment, "ed25519-test@ferry");

    const struct auth_user *b = auth_db_find(&db, "bob");
    ck_assert_ptr_nonnull(b); /* its line ends in CRLF */
    ck_assert_str_eq(b->home, "/shared/bob");
    ck_assert(b->read_only);
    ck_assert_uint_eq(b->nkeys, 0);

    const struct auth_user *c = auth_db_find(&db, "carol");
    ck_assert_str_eq(c->hash, "!");
    ck_assert(!c->read_only); /* empty FLAGS is rw */
    ck_assert_uint_eq(c->nkeys, 2);
    ck_assert_str_eq(c->keys[0].type, "ssh-rsa");
    ck_assert_str_eq(c->keys[1].type, "ecdsa-sha2-nistp256");

    const struct auth_user *l = auth_db_find(&db, "legacy.user_1");
    ck_assert_str_eq(l->hash, SHA512CRYPT);
    ck_assert_str_eq(l->home, "/");

    const struct auth_user *adm = auth_db_find(&db, "admin");
    ck_assert_str_eq(adm->keys[0].comment, "comment: with colons");
    ck_assert_ptr_null(auth_db_find(&db, "nobody"));
    ck_assert_ptr_null(auth_db_find(&db, NULL));
    auth_db_free(&db);
    free(buf);
}
END_TEST

START_TEST(test_parse_accepts)
{
    static const struct {
        const char *text;
        size_t nusers;
    } ok[] = {
        {"", 0},
        {"\n\n  \t\n", 0},
        {"# only a comment", 0},
        {"a:!:/:rw:", 1},
        {"a:!:/:rw:\n", 1},
        {"a:!:/x:ro,ro:", 1},
        {"a:!:/x::   ", 1},
        {"A-Z_0.9:$y$abc:/d\xc3\xa9j\xc3\xa0/x y:rw:\r\n", 1},
        {"a:!:/a:rw:\nb:!:/b:rw:\nc:!:/c:rw:", 3},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct auth_db db;
        char err[256] = "";
        int rc = parse_str(ok[i].text, &db, err, sizeof err);
        ck_assert_msg(rc == 0, "case %zu: %s", i, err);
        ck_assert_uint_eq(db.nusers, ok[i].nusers);
        auth_db_free(&db);
    }
}
END_TEST

START_TEST(test_parse_rejects)
{
    char *ed = pub_blob("ed25519.pub");
    char *name65 = malloc(GW_MAX_USER_NAME + 20);
    memset(name65, 'n', GW_MAX_USER_NAME + 1);
    memcpy(name65 + GW_MAX_USER_NAME + 1, ":!:/b:rw:", 10);
    char keys[256];
    snprintf(keys, sizeof keys, "bob:!:/b:rw:ssh-rsa %s", ed);
    char ctl[256];
    snprintf(ctl, sizeof ctl, "bob:!:/b:rw:ssh-ed25519 %s bad\x01comment", ed);
    char bar[256];
    snprintf(bar, sizeof bar, "bob:!:/b:rw:ssh-ed25519 %s|", ed);
    struct {
        const char *text;
        unsigned line;
        const char *why;
    } bad[] = {
        {"alice", 1, "expected NAME:HASH:HOME:FLAGS:KEYS, found 1 field"},
        {"alice:!:/a:rw", 1, "found 4 fields"},
        {"-bob:!:/b:rw:", 1, "bad name '-bob'"},
        {".bob:!:/b:rw:", 1, "bad name"},
        {"bo b:!:/b:rw:", 1, "bad name"},
        {"b\xc3\xa9:!:/b:rw:", 1, "bad name"},
        {":!:/b:rw:", 1, "bad name ''"},
        {name65, 1, "bad name"},
        {"bob::/b:rw:", 1, "bad hash"},
        {"bob:a b:/b:rw:", 1, "bad hash"},
        {"bob:!:b:rw:", 1, "bad home 'b'"},
        {"bob:!::rw:", 1, "bad home"},
        {"bob:!:/a/../b:rw:", 1, "bad home"},
        {"bob:!:/..:rw:", 1, "bad home"},
        {"bob:!:/a/./b:rw:", 1, "bad home"},
        {"bob:!:/a//b:rw:", 1, "bad home"},
        {"bob:!:/a/:rw:", 1, "bad home"},
        {"bob:!:/.ferry~x:rw:", 1, "bad home"},
        {"bob:!:/a\x01:rw:", 1, "bad home '/a?'"},
        {"bob:!:/\xff:rw:", 1, "bad home"},
        {"bob:!:/b:rx:", 1, "unknown flag 'rx'"},
        {"bob:!:/b:RW:", 1, "unknown flag 'RW'"},
        {"bob:!:/b:rw,:", 1, "empty flag"},
        {"bob:!:/b:ro,rw:", 1, "conflicting flags"},
        {"bob:!:/b:rw:ssh-ed25519", 1, "bad key 1: missing base64"},
        {"bob:!:/b:rw:ssh-ed25519 !!!!", 1, "bad key 1: key data is not valid base64"},
        {"bob:!:/b:rw:ssh-ed25519 AAAA=AAA", 1, "not valid base64"},
        {"bob:!:/b:rw:ssh-ed25519 AAAAC3Nz", 1, "does not match the key type"},
        {keys, 1, "bad key 1: key data does not match the key type"},
        {ctl, 1, "bad key 1: key comment"},
        {bar, 1, "bad key 2: empty key"},
        {"bob:!:/b:rw:from=\"10.0.0.1\" ssh-ed25519 AAAA", 1, "options are not supported"},
        {"# c\n\nalice:!:/a:rw:\nalice:!:/b:ro:\n", 4, "duplicate user 'alice'"},
        {"a:!:/a:rw:\nb:!:/b:rw:\n\n# x\nb x:!:/b:rw:", 5, "bad name 'b x'"},
        {"a:!:/a:rw:\r\nb:!:/b:rx:\r\n", 2, "unknown flag 'rx'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct auth_db db;
        char err[256] = "", want[256];
        int rc = parse_str(bad[i].text, &db, err, sizeof err);
        ck_assert_msg(rc == GW_ERR_CONFIG, "case %zu accepted", i);
        ck_assert_ptr_null(db.users);
        ck_assert_uint_eq(db.nusers, 0);
        snprintf(want, sizeof want, "%u: ", bad[i].line);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "case %zu: '%s' not at line %u", i,
                      err, bad[i].line);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      bad[i].why);
    }
    /* A NUL byte inside a line (the parser works on (buf, len), not C strings). */
    static const char nul[] = "a:!:/a:rw:\nb:!:/b:rw:ssh-ed25519 AA\0A\n";
    struct auth_db db;
    char err[256];
    ck_assert_int_eq(auth_db_parse(nul, sizeof nul - 1, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "2: bad key 1: key data is not valid base64");
    static const char nul2[] = "a:!:/a\0b:rw:\n";
    ck_assert_int_eq(auth_db_parse(nul2, sizeof nul2 - 1, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "1: bad home '/a?b' (an absolute path without . or ..)");
    free(name65);
    free(ed);
}
END_TEST

START_TEST(test_parse_limits)
{
    char *ed = pub_blob("ed25519.pub");
    struct gw_buf b;
    struct auth_db db;
    char err[256] = "";
    /* A line of exactly GW_MAX_USERS_LINE bytes (padded by a long key comment) is fine;
     * one byte more is an error on that line. */
    gw_buf_init(&b, 4 * GW_MAX_USERS_LINE);
    gw_buf_puts(&b, "first:!:/f:rw:\n");
    size_t start = b.len;
    gw_buf_printf(&b, "long:!:/l:rw:ssh-ed25519 %s ", ed);
    while (b.len - start < GW_MAX_USERS_LINE)
        gw_buf_putc(&b, 'c');
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(db.users[1].keys[0].comment), GW_MAX_USERS_LINE - (strlen(ed) + 26));
    auth_db_free(&db);
    gw_buf_puts(&b, "c\n");
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "2: line too long (max 65536 bytes)");
    /* ... also when the over-long line is a comment. */
    gw_buf_reset(&b);
    gw_buf_putc(&b, '#');
    while (b.len <= GW_MAX_USERS_LINE)
        gw_buf_putc(&b, 'x');
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "1: line too long (max 65536 bytes)");

    /* GW_MAX_KEYS_PER_USER keys parse; one more is refused. */
    gw_buf_reset(&b);
    gw_buf_puts(&b, "k:!:/k:rw:");
    for (int i = 0; i < GW_MAX_KEYS_PER_USER; i++)
        gw_buf_printf(&b, "%sssh-ed25519 %s k%d", i ? "|" : "", ed, i);
    ck_assert_msg(auth_db_parse(b.data, b.len, &db, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(db.users[0].nkeys, GW_MAX_KEYS_PER_USER);
    auth_db_free(&db);
    gw_buf_printf(&b, "|ssh-ed25519 %s", ed);
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "1: too many keys (max 64)");
    gw_buf_free(&b);

    /* Thousands of users (the duplicate check must not be quadratic), one duplicate at
     * the end, reported on its line. */
    gw_buf_init(&b, GW_MAX_USERS_FILE);
    for (int i = 0; i < 20000; i++)
        gw_buf_printf(&b, "user%d:!:/u%d:rw:\n", i, i);
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), 0);
    ck_assert_uint_eq(db.nusers, 20000);
    ck_assert_str_eq(auth_db_find(&db, "user12345")->home, "/u12345");
    auth_db_free(&db);
    gw_buf_puts(&b, "user777:!:/x:ro:\n");
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_str_eq(err, "20001: duplicate user 'user777'");
    gw_buf_free(&b);

    /* The file size limit is checked before anything is read. */
    char *huge = calloc(1, (size_t)GW_MAX_USERS_FILE + 1);
    ck_assert_ptr_nonnull(huge);
    ck_assert_int_eq(auth_db_parse(huge, (size_t)GW_MAX_USERS_FILE + 1, &db, err, sizeof err),
                     GW_ERR_CONFIG);
    ck_assert(strstr(err, "file too large") != NULL);
    free(huge);
    free(ed);
}
END_TEST

/* Replays crash regressions found by tests/fuzz/fuzz_users.c, if any were kept. */
START_TEST(test_parse_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/users");
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char file[4400];
        size_t len;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        char *buf = tu_read_file(file, &len);
        struct auth_db db;
        char err[256];
        if (auth_db_parse(buf, len, &db, err, sizeof err) == 0)
            auth_db_free(&db);
        free(buf);
    }
    closedir(d);
}
END_TEST

/* ---- auth_db_format ---- */

START_TEST(test_format_round_trip)
{
    size_t len;
    char *buf = fixture("good.users", &len);
    struct auth_db a, b;
    struct gw_buf out1, out2;
    char err[256] = "";
    ck_assert_int_eq(auth_db_parse(buf, len, &a, err, sizeof err), 0);
    gw_buf_init(&out1, GW_MAX_USERS_FILE);
    gw_buf_init(&out2, GW_MAX_USERS_FILE);
    ck_assert_int_eq(auth_db_format(&a, &out1), 0);
    ck_assert_msg(auth_db_parse(out1.data, out1.len, &b, err, sizeof err) == 0, "%s", err);
    ck_assert(db_equal(&a, &b));
    ck_assert_int_eq(auth_db_format(&b, &out2), 0);
    ck_assert_str_eq(gw_buf_str(&out1), gw_buf_str(&out2));
    /* Canonical form: flags spelled out, keys joined by '|' with single spaces. */
    ck_assert(strstr(out1.data, "\ncarol:!:/carol:rw:ssh-rsa AAAA") != NULL);
    ck_assert(strstr(out1.data, "\nlegacy.user_1:" SHA512CRYPT ":/:rw:\n") != NULL);
    ck_assert(strstr(out1.data, " rsa-test@ferry|ecdsa-sha2-nistp256 ") != NULL);
    ck_assert(strchr(out1.data, '\r') == NULL);
    ck_assert_int_eq(out1.data[0], '#');
    auth_db_free(&b);

    /* An empty database writes just the header, which parses to no users. */
    struct auth_db empty = {0};
    gw_buf_reset(&out1);
    ck_assert_int_eq(auth_db_format(&empty, &out1), 0);
    ck_assert_int_eq(auth_db_parse(out1.data, out1.len, &b, err, sizeof err), 0);
    ck_assert_uint_eq(b.nusers, 0);

    /* The writer refuses what the parser would refuse instead of corrupting the file. */
    char *saved = a.users[0].home;
    a.users[0].home = (char *)"/a:b";
    gw_buf_reset(&out1);
    ck_assert_int_eq(auth_db_format(&a, &out1), GW_ERR_INVAL);
    a.users[0].home = saved;
    saved = a.users[0].keys[0].comment;
    a.users[0].keys[0].comment = (char *)"a|b";
    ck_assert_int_eq(auth_db_format(&a, &out1), GW_ERR_INVAL);
    a.users[0].keys[0].comment = saved;
    saved = a.users[1].name;
    a.users[1].name = (char *)"bo:b";
    ck_assert_int_eq(auth_db_format(&a, &out1), GW_ERR_INVAL);
    a.users[1].name = saved;
    saved = a.users[1].hash;
    a.users[1].hash = (char *)"x\ny";
    ck_assert_int_eq(auth_db_format(&a, &out1), GW_ERR_INVAL);
    a.users[1].hash = saved;

    gw_buf_free(&out1);
    gw_buf_free(&out2);
    auth_db_free(&a);
    free(buf);
}
END_TEST

/* ---- auth_db_save / auth_db_load ---- */

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

START_TEST(test_save_load)
{
    char *dir = tu_mkdtemp("users");
    char path[4096], err[512] = "";
    struct auth_db db, back;
    struct stat st;
    snprintf(path, sizeof path, "%s/users", dir);

    /* Missing file: an empty database. */
    ck_assert_int_eq(auth_db_load(path, &db, err, sizeof err), 0);
    ck_assert_uint_eq(db.nusers, 0);

    ck_assert_int_eq(auth_db_add(&db, "alice", NULL, NULL, false), 0);
    ck_assert_int_eq(auth_db_add(&db, "bob", NULL, "/shared", true), 0);
    ck_assert_int_eq(auth_db_save(&db, path), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_uint_eq(count_entries(dir), 1); /* no temporary file left behind */
    ck_assert_msg(auth_db_load(path, &back, err, sizeof err) == 0, "%s", err);
    ck_assert(db_equal(&db, &back));
    auth_db_free(&back);

    /* Saving replaces the file (a new inode), still 0600 even over a 0644 file. */
    ck_assert_int_eq(chmod(path, 0644), 0);
    ino_t ino = st.st_ino;
    ck_assert_int_eq(auth_db_del(&db, "alice"), 0);
    ck_assert_int_eq(auth_db_save(&db, path), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert(st.st_ino != ino);
    ck_assert_int_eq(auth_db_load(path, &back, err, sizeof err), 0);
    ck_assert_uint_eq(back.nusers, 1);
    ck_assert_str_eq(back.users[0].name, "bob");
    auth_db_free(&back);

    /* A save that cannot complete leaves the old file alone and no temporary. */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/missing-dir/users", dir);
    ck_assert_int_eq(auth_db_save(&db, bad), GW_ERR_NOENT);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    ck_assert_int_eq(mkdir(bad, 0700), 0);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    ck_assert_int_lt(auth_db_save(&db, bad), 0); /* rename over a directory */
    ck_assert_uint_eq(count_entries(dir), 2);
    snprintf(bad, sizeof bad, "%s/sub", dir);
    ck_assert_uint_eq(count_entries(bad), 0);

    /* A relative path saves into the current directory. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(auth_db_save(&db, "rel-users"), 0);
    ck_assert_int_eq(chdir(cwd), 0);
    snprintf(bad, sizeof bad, "%s/rel-users", dir);
    ck_assert_int_eq(auth_db_load(bad, &back, err, sizeof err), 0);
    ck_assert_uint_eq(back.nusers, 1);
    auth_db_free(&back);

    /* Parse errors name the file and the line. */
    static const char broken[] = "# x\nok:!:/ok:rw:\nbad:!:/b:xx:\n";
    tu_write_file(path, broken, sizeof broken - 1);
    ck_assert_int_eq(auth_db_load(path, &back, err, sizeof err), GW_ERR_CONFIG);
    char want[4200];
    snprintf(want, sizeof want, "%s:3: unknown flag 'xx' (use rw or ro)", path);
    ck_assert_str_eq(err, want);
    /* A directory is not a users file. */
    snprintf(bad, sizeof bad, "%s/sub", dir);
    ck_assert_int_lt(auth_db_load(bad, &back, err, sizeof err), 0);
    ck_assert(strstr(err, "not a regular file") != NULL);

    auth_db_free(&db);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- auth_db_add / del / set_password / add_key / del_key ---- */

START_TEST(test_db_changes)
{
    struct auth_db db = {0};
    ck_assert_int_eq(auth_db_add(&db, "alice", "s3cret", NULL, false), 0);
    ck_assert_int_eq(auth_db_add(&db, "alice", "x", NULL, false), GW_ERR_EXIST);
    ck_assert_int_eq(auth_db_add(&db, "bad name", "x", NULL, false), GW_ERR_INVAL);
    ck_assert_int_eq(auth_db_add(&db, "ftp", "x", NULL, false), GW_ERR_INVAL);
    ck_assert_int_eq(auth_db_add(&db, "anonymous", NULL, NULL, false), GW_ERR_INVAL);
    ck_assert_int_eq(auth_db_add(&db, "bob", "x", "/a/../b", false), GW_ERR_INVAL);
    ck_assert_int_eq(auth_db_add(&db, "bob", "", NULL, false), GW_ERR_INVAL);
    ck_assert_uint_eq(db.nusers, 1);
    const struct auth_user *a = auth_db_find(&db, "alice");
    ck_assert_str_eq(a->home, "/alice");
    ck_assert(strncmp(a->hash, "$y$", 3) == 0);
    ck_assert(auth_check_password(a, "s3cret"));

    ck_assert_int_eq(auth_db_add(&db, "bob", NULL, "/", true), 0);
    const struct auth_user *b = auth_db_find(&db, "bob");
    ck_assert_str_eq(b->hash, "!");
    ck_assert(b->read_only);
    ck_assert_str_eq(b->home, "/");

    ck_assert_int_eq(auth_db_set_password(&db, "bob", "new pass"), 0);
    b = auth_db_find(&db, "bob");
    ck_assert(auth_check_password(b, "new pass"));
    ck_assert_int_eq(auth_db_set_password(&db, "bob", NULL), 0);
    ck_assert_str_eq(auth_db_find(&db, "bob")->hash, "!");
    ck_assert_int_eq(auth_db_set_password(&db, "nobody", "x"), GW_ERR_NOENT);

    char *ed = pub_line("ed25519.pub"), *rsa = pub_line("rsa.pub");
    ck_assert_int_eq(auth_db_add_key(&db, "bob", ed), 0);
    ck_assert_int_eq(auth_db_add_key(&db, "bob", ed), GW_ERR_EXIST);
    ck_assert_int_eq(auth_db_add_key(&db, "bob", rsa), 0);
    ck_assert_int_eq(auth_db_add_key(&db, "bob", "ssh-ed25519 AAAA"), GW_ERR_INVAL);
    ck_assert_int_eq(auth_db_add_key(&db, "nobody", ed), GW_ERR_NOENT);
    b = auth_db_find(&db, "bob");
    ck_assert_uint_eq(b->nkeys, 2);

    /* Delete by fingerprint, then by comment. */
    ck_assert_int_eq(auth_db_del_key(&db, "bob", "SHA256:nope"), GW_ERR_NOENT);
    ck_assert_int_eq(auth_db_del_key(&db, "bob", FP_ED25519), 0);
    b = auth_db_find(&db, "bob");
    ck_assert_uint_eq(b->nkeys, 1);
    ck_assert_str_eq(b->keys[0].type, "ssh-rsa");
    ck_assert_int_eq(auth_db_del_key(&db, "bob", "rsa-test@ferry"), 0);
    ck_assert_uint_eq(auth_db_find(&db, "bob")->nkeys, 0);
    ck_assert_int_eq(auth_db_del_key(&db, "nobody", "x"), GW_ERR_NOENT);

    /* Keys up to the per-user limit, then GW_ERR_LIMIT. Distinct keys are needed (the
     * same blob twice is GW_ERR_EXIST), so these are made-up ed25519 blobs. */
    ck_assert_int_eq(auth_db_add(&db, "many", NULL, NULL, false), 0);
    for (int i = 0; i <= GW_MAX_KEYS_PER_USER; i++) {
        /* "AAAAC3NzaC1lZDI1NTE5AAAAI" encodes the type and length 32; vary the key. */
        char line[128];
        snprintf(line, sizeof line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%043d k%d", i, i);
        int rc = auth_db_add_key(&db, "many", line);
        ck_assert_int_eq(rc, i < GW_MAX_KEYS_PER_USER ? 0 : GW_ERR_LIMIT);
    }

    ck_assert_int_eq(auth_db_del(&db, "alice"), 0);
    ck_assert_int_eq(auth_db_del(&db, "alice"), GW_ERR_NOENT);
    ck_assert_ptr_null(auth_db_find(&db, "alice"));
    ck_assert_ptr_nonnull(auth_db_find(&db, "bob"));
    ck_assert_uint_eq(db.nusers, 2);
    free(ed);
    free(rsa);
    auth_db_free(&db);
}
END_TEST

START_TEST(test_names_and_homes)
{
    ck_assert(auth_name_valid("a"));
    ck_assert(auth_name_valid("Alice.B_c-9"));
    ck_assert(!auth_name_valid(""));
    ck_assert(!auth_name_valid(NULL));
    ck_assert(!auth_name_valid("-a"));
    ck_assert(!auth_name_valid(".a"));
    ck_assert(!auth_name_valid("a:b"));
    ck_assert(!auth_name_valid("a/b"));
    ck_assert(!auth_name_valid("a b"));
    char n[GW_MAX_USER_NAME + 2];
    memset(n, 'x', sizeof n);
    n[GW_MAX_USER_NAME] = '\0';
    ck_assert(auth_name_valid(n));
    n[GW_MAX_USER_NAME] = 'x';
    n[GW_MAX_USER_NAME + 1] = '\0';
    ck_assert(!auth_name_valid(n));
    ck_assert(auth_name_reserved("ftp"));
    ck_assert(auth_name_reserved("anonymous"));
    ck_assert(!auth_name_reserved("admin"));

    ck_assert(auth_home_valid("/"));
    ck_assert(auth_home_valid("/a"));
    ck_assert(auth_home_valid("/a/b c/..d/d..e/.hidden"));
    ck_assert(auth_home_valid("/\xe6\x97\xa5\xe6\x9c\xac"));
    ck_assert(!auth_home_valid(""));
    ck_assert(!auth_home_valid(NULL));
    ck_assert(!auth_home_valid("a"));
    ck_assert(!auth_home_valid("//"));
    ck_assert(!auth_home_valid("/a/"));
    ck_assert(!auth_home_valid("/."));
    ck_assert(!auth_home_valid("/a/.."));
    ck_assert(!auth_home_valid("/a:b"));
    ck_assert(!auth_home_valid("/a\nb"));
    ck_assert(!auth_home_valid("/\xc0\xaf"));
    ck_assert(!auth_home_valid("/x/.ferry~part"));
    char *deep = malloc(GW_MAX_PATH + 2);
    for (size_t i = 0; i < GW_MAX_PATH; i += 2)
        memcpy(deep + i, "/a", 2);
    deep[GW_MAX_PATH] = '\0';
    ck_assert(!auth_home_valid(deep)); /* too long and too deep */
    deep[2 * GW_MAX_DEPTH] = '\0';
    ck_assert(auth_home_valid(deep));
    deep[2 * GW_MAX_DEPTH] = '/';
    deep[2 * GW_MAX_DEPTH + 2] = '\0';
    ck_assert(!auth_home_valid(deep));
    free(deep);
    char comp[GW_MAX_NAME + 3];
    comp[0] = '/';
    memset(comp + 1, 'c', GW_MAX_NAME + 1);
    comp[GW_MAX_NAME + 1] = '\0';
    ck_assert(auth_home_valid(comp));
    comp[GW_MAX_NAME + 1] = 'c';
    comp[GW_MAX_NAME + 2] = '\0';
    ck_assert(!auth_home_valid(comp));
}
END_TEST

/* ---- passwords ---- */

START_TEST(test_passwords)
{
    char h1[AUTH_HASH_SIZE], h2[AUTH_HASH_SIZE];
    struct auth_user u = {.name = (char *)"u", .home = (char *)"/"};
    ck_assert_int_eq(auth_hash_password("correct horse", h1, sizeof h1), 0);
    ck_assert_int_eq(auth_hash_password("correct horse", h2, sizeof h2), 0);
    ck_assert(strncmp(h1, "$y$", 3) == 0);
    ck_assert_str_ne(h1, h2); /* fresh salt each time */
    u.hash = h1;
    ck_assert(auth_check_password(&u, "correct horse"));
    ck_assert(!auth_check_password(&u, "correct horsE"));
    ck_assert(!auth_check_password(&u, "correct horse "));
    ck_assert(!auth_check_password(&u, ""));
    ck_assert(!auth_check_password(&u, NULL));
    ck_assert(!auth_check_password(NULL, "correct horse"));

    /* Locked hashes never match, even with the right password behind the '!'. */
    char locked[AUTH_HASH_SIZE + 1];
    snprintf(locked, sizeof locked, "!%s", h1);
    u.hash = locked;
    ck_assert(!auth_check_password(&u, "correct horse"));
    u.hash = (char *)"!";
    ck_assert(!auth_check_password(&u, "!"));
    ck_assert(!auth_check_password(&u, ""));
    u.hash = (char *)"*";
    ck_assert(!auth_check_password(&u, "*"));
    u.hash = (char *)"";
    ck_assert(!auth_check_password(&u, ""));
    u.hash = (char *)"plaintext";
    ck_assert(!auth_check_password(&u, "plaintext"));

    /* Hashes from other tools: sha512crypt from openssl passwd, yescrypt from the fixture. */
    u.hash = (char *)SHA512CRYPT;
    ck_assert(auth_check_password(&u, "legacy secret"));
    ck_assert(!auth_check_password(&u, "legacy secreT"));
    u.hash = (char *)"$y$j9T$fncZ.phCrMSU1uVqyBraj.$ukPr0WiVrrwJVnuu7b4g9TNGB9wIr4s/lxnUEwTsjb5";
    ck_assert(auth_check_password(&u, "alice secret"));

    /* Limits: empty refused, AUTH_MAX_PASSWORD bytes fine, one more refused. */
    ck_assert_int_eq(auth_hash_password("", h1, sizeof h1), GW_ERR_INVAL);
    ck_assert_int_eq(auth_hash_password(NULL, h1, sizeof h1), GW_ERR_INVAL);
    ck_assert_int_eq(auth_hash_password("x", h1, 10), GW_ERR_TOOLONG);
    char big[AUTH_MAX_PASSWORD + 2];
    memset(big, 'p', sizeof big);
    big[AUTH_MAX_PASSWORD] = '\0';
    ck_assert_int_eq(auth_hash_password(big, h1, sizeof h1), 0);
    u.hash = h1;
    ck_assert(auth_check_password(&u, big));
    big[AUTH_MAX_PASSWORD] = 'p';
    big[AUTH_MAX_PASSWORD + 1] = '\0';
    ck_assert_int_eq(auth_hash_password(big, h2, sizeof h2), GW_ERR_TOOLONG);
    ck_assert(!auth_check_password(&u, big));
}
END_TEST

START_TEST(test_random_password)
{
    char a[64], b[64];
    ck_assert_int_eq(auth_random_password(a, sizeof a, AUTH_RANDOM_PASSWORD_LEN), 0);
    ck_assert_int_eq(auth_random_password(b, sizeof b, AUTH_RANDOM_PASSWORD_LEN), 0);
    ck_assert_uint_eq(strlen(a), AUTH_RANDOM_PASSWORD_LEN);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(auth_random_password(a, 20, 20), GW_ERR_INVAL);
    ck_assert_int_eq(auth_random_password(a, 20, 0), GW_ERR_INVAL);
    ck_assert_int_eq(auth_random_password(a, 21, 20), 0);
    /* Only unambiguous letters, and all of them show up over enough draws. */
    unsigned seen[256] = {0};
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(auth_random_password(a, sizeof a, 63), 0);
        for (const char *p = a; *p; p++)
            seen[(unsigned char)*p]++;
    }
    size_t distinct = 0;
    for (int c = 0; c < 256; c++) {
        if (!seen[c])
            continue;
        distinct++;
        ck_assert_msg(strchr("0O1Il", c) == NULL && c > 0x20 && c < 0x7f, "char %d", c);
    }
    ck_assert_uint_eq(distinct, 57);
}
END_TEST

/* ---- public keys ---- */

START_TEST(test_keys)
{
    static const struct {
        const char *file, *type, *fp, *comment;
    } fx[] = {
        {"ed25519.pub", "ssh-ed25519", FP_ED25519, "ed25519-test@ferry"},
        {"rsa.pub", "ssh-rsa", FP_RSA, "rsa-test@ferry"},
        {"ecdsa.pub", "ecdsa-sha2-nistp256", FP_ECDSA, "ecdsa-test@ferry"},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        char *line = pub_line(fx[i].file), err[128], fp[AUTH_FINGERPRINT_SIZE];
        struct auth_key k;
        ck_assert_int_eq(auth_key_parse(line, strlen(line), &k, err, sizeof err), 0);
        ck_assert_str_eq(k.type, fx[i].type);
        ck_assert_str_eq(k.comment, fx[i].comment);
        ck_assert_int_eq(auth_key_fingerprint(&k, fp, sizeof fp), 0);
        ck_assert_str_eq(fp, fx[i].fp);
        ck_assert_int_eq(auth_key_fingerprint(&k, fp, 20), GW_ERR_INVAL);
        auth_key_free(&k);
        free(line);
    }
    /* Surrounding blanks, tabs between fields, no comment. */
    char *blob = pub_blob("ed25519.pub"), line[256], err[128];
    struct auth_key k;
    snprintf(line, sizeof line, " \tssh-ed25519\t%s  \r\n", blob);
    ck_assert_int_eq(auth_key_parse(line, strlen(line), &k, err, sizeof err), 0);
    ck_assert_str_eq(k.blob, blob);
    ck_assert_str_eq(k.comment, "");
    auth_key_free(&k);
    snprintf(line, sizeof line, "ssh-ed25519 %s a  b", blob);
    ck_assert_int_eq(auth_key_parse(line, strlen(line), &k, err, sizeof err), 0);
    ck_assert_str_eq(k.comment, "a  b");
    auth_key_free(&k);
    ck_assert_int_eq(auth_key_parse("", 0, &k, err, sizeof err), GW_ERR_INVAL);
    ck_assert_str_eq(err, "empty key");
    ck_assert_int_eq(auth_key_parse("no-pty ssh-ed25519 AAAA", 23, &k, err, sizeof err),
                     GW_ERR_INVAL);

    /* auth_check_key: exact type and blob. */
    struct auth_db db = {0};
    char *ed = pub_line("ed25519.pub");
    ck_assert_int_eq(auth_db_add(&db, "k", NULL, NULL, false), 0);
    ck_assert_int_eq(auth_db_add_key(&db, "k", ed), 0);
    const struct auth_user *u = auth_db_find(&db, "k");
    ck_assert(auth_check_key(u, "ssh-ed25519", blob));
    ck_assert(!auth_check_key(u, "ssh-rsa", blob));
    ck_assert(!auth_check_key(u, "ssh-ed25519", "AAAA"));
    blob[strlen(blob) - 1] = 'M';
    ck_assert(!auth_check_key(u, "ssh-ed25519", blob));
    ck_assert(!auth_check_key(NULL, "ssh-ed25519", blob));
    ck_assert(!auth_check_key(u, NULL, NULL));
    /* A key-only user has no password to guess. */
    ck_assert(!auth_check_password(u, "!"));
    auth_db_free(&db);
    free(ed);
    free(blob);
}
END_TEST

/* A key freshly made by ssh-keygen: our fingerprint equals what ssh-keygen -l prints. */
START_TEST(test_keys_vs_ssh_keygen)
{
    if (tu_sh("command -v ssh-keygen >/dev/null") != 0)
        return;
    char *dir = tu_mkdtemp("keygen");
    ck_assert_int_eq(tu_sh("cd '%s' && ssh-keygen -q -t ed25519 -N '' -C 'fresh key' -f k && "
                           "ssh-keygen -lf k.pub | cut -d' ' -f2 > fp",
                           dir),
                     0);
    char path[4200];
    snprintf(path, sizeof path, "%s/k.pub", dir);
    char *line = tu_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/fp", dir);
    char *want = tu_read_file(path, NULL);
    want[strcspn(want, "\n")] = '\0';
    struct auth_key k;
    char err[128], fp[AUTH_FINGERPRINT_SIZE];
    ck_assert_int_eq(auth_key_parse(line, strlen(line), &k, err, sizeof err), 0);
    ck_assert_str_eq(k.comment, "fresh key");
    ck_assert_int_eq(auth_key_fingerprint(&k, fp, sizeof fp), 0);
    ck_assert_str_eq(fp, want);
    auth_key_free(&k);
    free(line);
    free(want);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- throttle ---- */

START_TEST(test_throttle_growth)
{
    struct auth_throttle *t = auth_throttle_new();
    ck_assert_ptr_nonnull(t);
    static const uint32_t want[] = {0, 0, 250, 500, 1000, 2000, 4000, 8000, 10000, 10000};
    int64_t now = 1000000;
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.7", now), 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        auth_throttle_fail(t, "192.0.2.7", now);
        ck_assert_uint_eq(auth_throttle_count(t, "192.0.2.7", now), i + 1);
        ck_assert_msg(auth_throttle_delay(t, "192.0.2.7", now) == want[i], "after %zu: %u", i + 1,
                      auth_throttle_delay(t, "192.0.2.7", now));
    }
    /* The cap holds for any number of failures (no shift overflow). */
    for (int i = 0; i < 100; i++)
        auth_throttle_fail(t, "192.0.2.7", now);
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.7", now), AUTH_THROTTLE_MAX_MS);
    /* The wait runs from the last failure. */
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.7", now + 4000), 6000);
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.7", now + 10000), 0);
    /* A clock going backwards counts as no time passed. */
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.7", now - 5000), AUTH_THROTTLE_MAX_MS);
    /* Other addresses are unaffected. */
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.8", now), 0);
    ck_assert_uint_eq(auth_throttle_count(t, "192.0.2.8", now), 0);

    auth_throttle_fail(t, "192.0.2.9", now);
    auth_throttle_fail(t, "192.0.2.9", now);
    auth_throttle_fail(t, "192.0.2.9", now);
    ck_assert_uint_eq(auth_throttle_delay(t, "192.0.2.9", now + 100), 150);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_throttle_window_reset)
{
    struct auth_throttle *t = auth_throttle_new();
    const int64_t w = AUTH_THROTTLE_WINDOW_MS;
    for (int i = 0; i < 5; i++)
        auth_throttle_fail(t, "198.51.100.1", 0);
    ck_assert_uint_eq(auth_throttle_count(t, "198.51.100.1", w - 1), 5);
    ck_assert_uint_eq(auth_throttle_count(t, "198.51.100.1", w), 0);
    ck_assert_uint_eq(auth_throttle_delay(t, "198.51.100.1", w), 0);
    /* After the window a failure starts over from one. */
    auth_throttle_fail(t, "198.51.100.1", w + 5);
    ck_assert_uint_eq(auth_throttle_count(t, "198.51.100.1", w + 5), 1);
    ck_assert_uint_eq(auth_throttle_delay(t, "198.51.100.1", w + 5), 0);

    /* The window slides with the last failure: steady guessing keeps counting. */
    for (int64_t i = 0; i < 10; i++)
        auth_throttle_fail(t, "198.51.100.2", i * (w / 2));
    ck_assert_uint_eq(auth_throttle_count(t, "198.51.100.2", 9 * (w / 2) + 1), 10);

    /* Success forgets everything. */
    auth_throttle_ok(t, "198.51.100.2");
    ck_assert_uint_eq(auth_throttle_count(t, "198.51.100.2", 9 * (w / 2) + 1), 0);
    ck_assert_uint_eq(auth_throttle_delay(t, "198.51.100.2", 9 * (w / 2) + 1), 0);
    auth_throttle_ok(t, "203.0.113.99"); /* unknown address: no effect */
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_throttle_addresses)
{
    struct auth_throttle *t = auth_throttle_new();
    /* IPv6 counts per /64, in any spelling. */
    auth_throttle_fail(t, "2001:db8:1:2::1", 0);
    auth_throttle_fail(t, "2001:0db8:0001:0002:ffff:ffff:ffff:fffe", 0);
    ck_assert_uint_eq(auth_throttle_count(t, "2001:db8:1:2::99", 0), 2);
    ck_assert_uint_eq(auth_throttle_count(t, "2001:db8:1:3::1", 0), 0);
    /* IPv4-mapped IPv6 is the IPv4 address, which counts alone. */
    auth_throttle_fail(t, "::ffff:192.0.2.7", 0);
    auth_throttle_fail(t, "192.0.2.7", 0);
    ck_assert_uint_eq(auth_throttle_count(t, "192.0.2.7", 0), 2);
    ck_assert_uint_eq(auth_throttle_count(t, "192.0.2.6", 0), 0);
    /* Anything else is an opaque key (even a very long one). */
    char longaddr[300];
    memset(longaddr, 'z', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    auth_throttle_fail(t, "unix-socket", 0);
    auth_throttle_fail(t, longaddr, 0);
    ck_assert_uint_eq(auth_throttle_count(t, "unix-socket", 0), 1);
    ck_assert_uint_eq(auth_throttle_count(t, longaddr, 0), 1);
    auth_throttle_free(t);
}
END_TEST

START_TEST(test_throttle_lru)
{
    struct auth_throttle *t = auth_throttle_new();
    char addr[64];
    /* A (oldest) and B fill two slots, then many others fill the rest. */
    for (int i = 0; i < 5; i++)
        auth_throttle_fail(t, "10.0.0.1", 0);
    for (int i = 0; i < 5; i++)
        auth_throttle_fail(t, "10.0.0.2", 1);
    for (int i = 0; i < GW_THROTTLE_SLOTS - 2; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        auth_throttle_fail(t, addr, 10 + i);
    }
    int64_t now = 10 + GW_THROTTLE_SLOTS;
    ck_assert_uint_eq(auth_throttle_count(t, "10.0.0.1", now), 5);
    ck_assert_uint_eq(auth_throttle_count(t, "10.0.0.2", now), 5);
    /* A fails again: it is now the most recent, so B is the least recently used. */
    auth_throttle_fail(t, "10.0.0.1", now);
    auth_throttle_fail(t, "10.2.0.1", now + 1);
    ck_assert_uint_eq(auth_throttle_count(t, "10.0.0.1", now + 1), 6);
    ck_assert_uint_eq(auth_throttle_count(t, "10.0.0.2", now + 1), 0);
    ck_assert_uint_eq(auth_throttle_count(t, "10.2.0.1", now + 1), 1);
    /* The next newcomer evicts the oldest of the crowd (10.1.0.0), nothing else. */
    auth_throttle_fail(t, "10.2.0.2", now + 2);
    ck_assert_uint_eq(auth_throttle_count(t, "10.1.0.0", now + 2), 0);
    ck_assert_uint_eq(auth_throttle_count(t, "10.1.0.1", now + 2), 1);
    /* A flood of many more addresses than slots stays bounded and keeps working. */
    for (int i = 0; i < 3 * GW_THROTTLE_SLOTS; i++) {
        snprintf(addr, sizeof addr, "2001:db8:%x:%x::1", i / 65536, i % 65536);
        auth_throttle_fail(t, addr, now + 10 + i);
    }
    ck_assert_uint_eq(auth_throttle_count(t, "10.0.0.1", now + 10), 0);
    ck_assert_uint_eq(auth_throttle_count(t, addr, now + 3 * GW_THROTTLE_SLOTS), 1);
    auth_throttle_free(t);
}
END_TEST

Suite *gateway_users_suite(void)
{
    Suite *s = suite_create("gateway/users");
    TCase *tc;

    tc = tcase_create("auth_db_parse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parse_good_fixture);
    tcase_add_test(tc, test_parse_accepts);
    tcase_add_test(tc, test_parse_rejects);
    tcase_add_test(tc, test_parse_limits);
    tcase_add_test(tc, test_parse_fuzz_regressions);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_db_format");
    tcase_add_test(tc, test_format_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_db_save");
    tcase_add_test(tc, test_save_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_db_changes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_db_changes);
    tcase_add_test(tc, test_names_and_homes);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_check_password");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_passwords);
    tcase_add_test(tc, test_random_password);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_check_key");
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_keys_vs_ssh_keygen);
    suite_add_tcase(s, tc);

    tc = tcase_create("auth_throttle");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_throttle_growth);
    tcase_add_test(tc, test_throttle_window_reset);
    tcase_add_test(tc, test_throttle_addresses);
    tcase_add_test(tc, test_throttle_lru);
    suite_add_tcase(s, tc);
    return s;
}
