/* Unit tests for gateway/usercmd.c: `ferry user` run in-process against a temporary
 * state directory, with stdin and stdout redirected to files. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/users.h"

static char *tmp; /* per-test directory */
static char state[4096];

static void setup(void)
{
    tmp = tu_mkdtemp("usercmd");
    snprintf(state, sizeof state, "%s/state", tmp);
}

static void teardown(void)
{
    tu_rmtree(tmp);
    free(tmp);
    tmp = NULL;
}

/* Runs `ferry user ARGS...` (NULL-terminated) with in as stdin (NULL: empty); returns
 * the exit code and, when out is given, stdout as a malloc'd string. "--state" and the
 * test's state dir are appended unless the first argument is "-nostate". */
static int run(const char *in, char **out, ...)
{
    char *argv[32];
    int argc = 0;
    bool add_state = true;
    va_list ap;
    argv[argc++] = (char *)"user";
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        if (strcmp(a, "-nostate") == 0) {
            add_state = false;
            continue;
        }
        ck_assert_int_lt(argc, 28);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    if (add_state) {
        argv[argc++] = (char *)"--state";
        argv[argc++] = state;
    }
    argv[argc] = NULL;

    char inpath[4200], outpath[4200];
    snprintf(inpath, sizeof inpath, "%s/stdin", tmp);
    snprintf(outpath, sizeof outpath, "%s/stdout", tmp);
    tu_write_file(inpath, in ? in : "", in ? strlen(in) : 0);
    ck_assert_ptr_nonnull(freopen(inpath, "r", stdin));
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    int rc = auth_cmd_main(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ck_assert_ptr_nonnull(freopen("/dev/null", "r", stdin));
    if (out)
        *out = tu_read_file(outpath, NULL);
    return rc;
}

static void load(struct auth_db *db)
{
    char path[4200], err[512] = "";
    snprintf(path, sizeof path, "%s/users", state);
    ck_assert_msg(auth_db_load(path, db, err, sizeof err) == 0, "%s", err);
}

START_TEST(test_add)
{
    struct auth_db db;
    struct stat st;
    char *out = NULL;
    ck_assert_int_eq(run("pw one\n", &out, "add", "alice", "--password-stdin", NULL), 0);
    ck_assert_str_eq(out, "added user alice (home /alice, read-write, 0 keys, password)\n");
    free(out);
    ck_assert_int_eq(stat(state, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    char path[4200];
    snprintf(path, sizeof path, "%s/users", state);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);

    /* Options after or before the name; CRLF stripped from the password. */
    ck_assert_int_eq(run("pw two\r\nignored\n", NULL, "add", "--read-only", "bob", "--home",
                         "/shared/b", "--password-stdin", NULL),
                     0);
    /* No password option, no key: a random password, printed once. */
    ck_assert_int_eq(run(NULL, &out, "add", "carol", NULL), 0);
    char *pw = strstr(out, "password: ");
    ck_assert_ptr_nonnull(pw);
    pw += 10;
    pw[strcspn(pw, "\n")] = '\0';
    ck_assert_uint_eq(strlen(pw), AUTH_RANDOM_PASSWORD_LEN);

    load(&db);
    ck_assert_uint_eq(db.nusers, 3);
    ck_assert(auth_check_password(auth_db_find(&db, "alice"), "pw one"));
    const struct auth_user *b = auth_db_find(&db, "bob");
    ck_assert(auth_check_password(b, "pw two"));
    ck_assert(b->read_only);
    ck_assert_str_eq(b->home, "/shared/b");
    ck_assert(auth_check_password(auth_db_find(&db, "carol"), pw));
    auth_db_free(&db);
    free(out);

    /* A key only: no password at all. Two --key files. */
    char *k1 = strdup(tu_data_path("users/ed25519.pub")); /* tu_data_path is static */
    char *k2 = strdup(tu_data_path("users/rsa.pub"));
    ck_assert_int_eq(run(NULL, &out, "add", "dave", "--key", k1, "--key", k2, NULL), 0);
    free(k1);
    free(k2);
    ck_assert_str_eq(out, "added user dave (home /dave, read-write, 2 keys)\n");
    free(out);
    load(&db);
    const struct auth_user *d = auth_db_find(&db, "dave");
    ck_assert_str_eq(d->hash, "!");
    ck_assert_uint_eq(d->nkeys, 2);
    auth_db_free(&db);
}
END_TEST

START_TEST(test_errors)
{
    char *out = NULL;
    ck_assert_int_eq(run("x\n", NULL, "add", "alice", "--password-stdin", NULL), 0);
    /* Failures: exit 1, the file unchanged. */
    ck_assert_int_eq(run("y\n", NULL, "add", "alice", "--password-stdin", NULL), 1);
    ck_assert_int_eq(run(NULL, NULL, "del", "nobody", NULL), 1);
    ck_assert_int_eq(run("z\n", NULL, "passwd", "nobody", "--password-stdin", NULL), 1);
    ck_assert_int_eq(run("", NULL, "add", "bob", "--password-stdin", NULL), 1);
    ck_assert_int_eq(run("\n", NULL, "add", "bob", "--password-stdin", NULL), 1);
    ck_assert_int_eq(run(NULL, NULL, "add", "bob", "--key", "/nonexistent.pub", NULL), 1);
    char big[AUTH_MAX_PASSWORD + 3];
    memset(big, 'b', AUTH_MAX_PASSWORD + 1);
    memcpy(big + AUTH_MAX_PASSWORD + 1, "\n", 2);
    ck_assert_int_eq(run(big, NULL, "add", "bob", "--password-stdin", NULL), 1);
    big[AUTH_MAX_PASSWORD] = '\n';
    big[AUTH_MAX_PASSWORD + 1] = '\0';
    ck_assert_int_eq(run(big, NULL, "add", "bob", "--password-stdin", NULL), 0);
    /* Usage: exit 2. */
    ck_assert_int_eq(run(NULL, NULL, "-nostate", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "frobnicate", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "a", "b", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "bad name", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "-x", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "ftp", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "carol", "--home", "carol", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "carol", "--home", "/a/../b", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "carol", "--json", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "add", "carol", "--home", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "list", "--read-only", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "list", "extra", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "del", "--nope", "alice", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "key", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "key", "frob", "a", "b", NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "passwd", "alice", "--password-stdin", "--no-password", NULL),
                     2);
    ck_assert_int_eq(run(NULL, &out, "-nostate", "--help", NULL), 0);
    ck_assert(strstr(out, "Usage: ferry user") != NULL);
    free(out);
    ck_assert_int_eq(run(NULL, &out, "list", "--help", NULL), 0);
    ck_assert(strstr(out, "Usage: ferry user") != NULL);
    free(out);

    struct auth_db db;
    load(&db);
    ck_assert_uint_eq(db.nusers, 2); /* alice and the 511-byte-password bob */
    ck_assert(auth_check_password(auth_db_find(&db, "alice"), "x"));
    auth_db_free(&db);

    /* A users file that does not parse is a config error (2), with file and line. */
    char path[4200];
    snprintf(path, sizeof path, "%s/users", state);
    tu_write_file(path, "a:!:/a:rw:\nb:!:/b:zz:\n", 22);
    ck_assert_int_eq(run(NULL, NULL, "list", NULL), 2);
    ck_assert_int_eq(run("p\n", NULL, "add", "c", "--password-stdin", NULL), 2);
    char *text = tu_read_file(path, NULL);
    ck_assert_str_eq(text, "a:!:/a:rw:\nb:!:/b:zz:\n"); /* untouched */
    free(text);
}
END_TEST

START_TEST(test_passwd_del)
{
    char *out = NULL;
    struct auth_db db;
    ck_assert_int_eq(run("old\n", NULL, "add", "alice", "--password-stdin", NULL), 0);
    ck_assert_int_eq(run("new pass\n", &out, "passwd", "alice", "--password-stdin", NULL), 0);
    ck_assert_str_eq(out, "password changed for alice\n");
    free(out);
    load(&db);
    ck_assert(auth_check_password(auth_db_find(&db, "alice"), "new pass"));
    ck_assert(!auth_check_password(auth_db_find(&db, "alice"), "old"));
    auth_db_free(&db);

    ck_assert_int_eq(run(NULL, &out, "passwd", "alice", NULL), 0);
    char *pw = strstr(out, "password: ");
    ck_assert_ptr_nonnull(pw);
    pw += 10;
    pw[strcspn(pw, "\n")] = '\0';
    load(&db);
    ck_assert(auth_check_password(auth_db_find(&db, "alice"), pw));
    auth_db_free(&db);
    free(out);

    ck_assert_int_eq(run(NULL, NULL, "passwd", "alice", "--no-password", NULL), 0);
    load(&db);
    ck_assert_str_eq(auth_db_find(&db, "alice")->hash, "!");
    auth_db_free(&db);

    ck_assert_int_eq(run(NULL, &out, "del", "alice", NULL), 0);
    ck_assert_str_eq(out, "deleted user alice (files under /alice are kept)\n");
    free(out);
    load(&db);
    ck_assert_uint_eq(db.nusers, 0);
    auth_db_free(&db);
}
END_TEST

START_TEST(test_keys)
{
    char *out = NULL;
    struct auth_db db;
    char path[4200];
    ck_assert_int_eq(run("pw\n", NULL, "add", "k", "--password-stdin", NULL), 0);
    ck_assert_int_eq(run(NULL, &out, "key", "add", "k", tu_data_path("users/ecdsa.pub"), NULL), 0);
    ck_assert_str_eq(out, "added 1 key to k\n");
    free(out);
    /* Again: already present, not an error, nothing added. */
    ck_assert_int_eq(run(NULL, &out, "key", "add", "k", tu_data_path("users/ecdsa.pub"), NULL), 0);
    ck_assert_str_eq(out, "added 0 keys to k\n");
    free(out);
    /* A file with several keys, comments and blank lines. */
    char *ed = tu_read_file(tu_data_path("users/ed25519.pub"), NULL);
    char *rsa = tu_read_file(tu_data_path("users/rsa.pub"), NULL);
    char *multi = NULL;
    ck_assert_int_ge(asprintf(&multi, "# my keys\n\n%s  \n%s", ed, rsa), 0);
    snprintf(path, sizeof path, "%s/multi.pub", tmp);
    tu_write_file(path, multi, strlen(multi));
    ck_assert_int_eq(run(NULL, &out, "key", "add", "k", path, NULL), 0);
    ck_assert_str_eq(out, "added 2 keys to k\n");
    free(out);
    load(&db);
    ck_assert_uint_eq(auth_db_find(&db, "k")->nkeys, 3);
    auth_db_free(&db);

    /* Bad input files. */
    snprintf(path, sizeof path, "%s/id_ed25519", tmp);
    tu_write_file(path, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", 43);
    ck_assert_int_eq(run(NULL, NULL, "key", "add", "k", path, NULL), 1);
    snprintf(path, sizeof path, "%s/garbage.pub", tmp);
    tu_write_file(path, "ssh-ed25519 AAAA\n", 17);
    ck_assert_int_eq(run(NULL, NULL, "key", "add", "k", path, NULL), 1);
    tu_write_file(path, "# nothing\n", 10);
    ck_assert_int_eq(run(NULL, NULL, "key", "add", "k", path, NULL), 1);
    ck_assert_int_eq(run(NULL, NULL, "key", "add", "nobody", tu_data_path("users/rsa.pub"), NULL),
                     1);

    /* Removal by fingerprint and by comment. */
    ck_assert_int_eq(run(NULL, &out, "key", "del", "k",
                         "SHA256:hvAyPHlpvpoOSsglTTcAmjUqPpf0z/+NJjwyhsWZABU", NULL),
                     0);
    ck_assert_str_eq(out, "removed 1 key from k\n");
    free(out);
    ck_assert_int_eq(run(NULL, NULL, "key", "del", "k", "rsa-test@ferry", NULL), 0);
    ck_assert_int_eq(run(NULL, NULL, "key", "del", "k", "rsa-test@ferry", NULL), 1);
    load(&db);
    const struct auth_user *u = auth_db_find(&db, "k");
    ck_assert_uint_eq(u->nkeys, 1);
    ck_assert_str_eq(u->keys[0].type, "ssh-ed25519");
    auth_db_free(&db);
    free(ed);
    free(rsa);
    free(multi);
}
END_TEST

START_TEST(test_list_and_config)
{
    char *out = NULL;
    /* An empty or missing state lists nothing (and creates nothing). */
    ck_assert_int_eq(run(NULL, &out, "list", "--json", NULL), 0);
    ck_assert_str_eq(out, "[]\n");
    free(out);
    struct stat st;
    ck_assert_int_ne(stat(state, &st), 0);

    ck_assert_int_eq(run("pw\n", NULL, "add", "alice", "--password-stdin", NULL), 0);
    ck_assert_int_eq(run(NULL, NULL, "add", "bob", "--read-only", "--home", "/", "--key",
                         tu_data_path("users/ed25519.pub"), NULL),
                     0);
    ck_assert_int_eq(run(NULL, &out, "list", NULL), 0);
    ck_assert_str_eq(out, "NAME   HOME    MODE  KEYS  PASSWORD\n"
                          "alice  /alice  rw       0  yes\n"
                          "bob    /       ro       1  no\n");
    free(out);
    ck_assert_int_eq(run(NULL, &out, "list", "--json", NULL), 0);
    ck_assert_str_eq(out,
                     "[\n"
                     "  {\"name\":\"alice\",\"home\":\"/alice\",\"read_only\":false,"
                     "\"password\":true,\"keys\":[]},\n"
                     "  {\"name\":\"bob\",\"home\":\"/\",\"read_only\":true,\"password\":false,"
                     "\"keys\":[{\"type\":\"ssh-ed25519\",\"fingerprint\":\"SHA256:"
                     "U7sTUEkIXGXYX5i6aNpECYaKKiRbWaMEolLn+s/HRdc\",\"comment\":"
                     "\"ed25519-test@ferry\"}]}\n"
                     "]\n");
    free(out);

    /* --config: the state dir comes from the config file; --state wins over it. */
    char cfgpath[4200], other[4200], text[8600];
    snprintf(cfgpath, sizeof cfgpath, "%s/ferry.conf", tmp);
    snprintf(other, sizeof other, "%s/other-state", tmp);
    snprintf(text, sizeof text, "[server]\nstate = %s\n", other);
    tu_write_file(cfgpath, text, strlen(text));
    ck_assert_int_eq(run(NULL, NULL, "-nostate", "add", "carol", "--config", cfgpath, NULL), 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/users", other);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(run(NULL, &out, "list", "--config", cfgpath, NULL), 0);
    ck_assert(strstr(out, "carol") == NULL); /* --state given after --config wins */
    free(out);
    ck_assert_int_eq(run(NULL, &out, "-nostate", "list", "--config", cfgpath, NULL), 0);
    ck_assert(strstr(out, "carol") != NULL);
    free(out);
    /* A broken config is a usage/config error. */
    tu_write_file(cfgpath, "[server]\nno_such_key = 1\n", 25);
    ck_assert_int_eq(run(NULL, NULL, "-nostate", "list", "--config", cfgpath, NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, "-nostate", "list", "--config", "/nonexistent.conf", NULL), 2);
}
END_TEST

Suite *gateway_usercmd_suite(void)
{
    Suite *s = suite_create("gateway/usercmd");
    TCase *tc = tcase_create("auth_cmd_main");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_passwd_del);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_list_and_config);
    suite_add_tcase(s, tc);
    return s;
}
