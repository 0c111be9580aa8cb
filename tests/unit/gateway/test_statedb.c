/* Unit tests for gateway/statedb.c: the parts that need no database (password
 * redaction of URLs and conninfo strings, how a ferry_users row becomes a users-file line
 * and back), and that a database that cannot be reached fails cleanly. The SQL itself is
 * exercised against a real PostgreSQL by tests/integration/t_statedb_cli.sh and the
 * cluster tests. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/statedb.h"
#include "gateway/users.h"

static const char *redact(const char *url)
{
    static char out[512];
    gw_statedb_redact(url, out, sizeof out);
    return out;
}

START_TEST(test_redact)
{
    /* URIs: the password of the userinfo, and password= in the query. */
    ck_assert_str_eq(redact("postgresql://ferry:s3cret@db.example:5432/ferry"),
                     "postgresql://ferry:***@db.example:5432/ferry");
    ck_assert_str_eq(redact("postgres://ferry:s3cret@db/ferry"), "postgres://ferry:***@db/ferry");
    ck_assert_str_eq(redact("postgresql://ferry@127.0.0.1:5432/postgres"),
                     "postgresql://ferry@127.0.0.1:5432/postgres");
    ck_assert_str_eq(redact("postgresql://db/ferry"), "postgresql://db/ferry");
    ck_assert_str_eq(redact("postgresql://"), "postgresql://");
    ck_assert_str_eq(redact("postgresql://ferry:@db/x"), "postgresql://ferry:***@db/x");
    /* An '@' inside the password (percent-encoding forgotten): the last one ends it. */
    ck_assert_str_eq(redact("postgresql://u:p@ss@db/x"), "postgresql://u:***@db/x");
    ck_assert_str_eq(
        redact("postgresql://u@db/x?sslmode=require&password=s3cret&connect_timeout=2"),
        "postgresql://u@db/x?sslmode=require&password=***&connect_timeout=2");
    ck_assert_str_eq(redact("postgresql://u@db/x?password=s3cret"),
                     "postgresql://u@db/x?password=***");
    /* An '@' after the path is not userinfo. */
    ck_assert_str_eq(redact("postgresql://db/x?application_name=a@b"),
                     "postgresql://db/x?application_name=a@b");
    /* key=value conninfo, bare and quoted values, spaces around '='. */
    ck_assert_str_eq(redact("host=db user=ferry password=s3cret dbname=ferry"),
                     "host=db user=ferry password=*** dbname=ferry");
    ck_assert_str_eq(redact("host=db password='s3 cr\\'et' port=5432"),
                     "host=db password=*** port=5432");
    ck_assert_str_eq(redact("password = s3cret host=db"), "password=*** host=db");
    ck_assert_str_eq(redact("host=db"), "host=db");
    ck_assert_str_eq(redact(""), "");
    ck_assert_str_eq(redact(NULL), "");
    /* Never an overflow, always terminated. */
    char small[12];
    gw_statedb_redact("postgresql://ferry:s3cret@db/ferry", small, sizeof small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert(strstr(small, "s3") == NULL);
    gw_statedb_redact("postgresql://x", small, 1);
    ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_user_line)
{
    struct gw_buf b;
    gw_buf_init(&b, 1 << 16);
    const char *ok[5] = {"alice", "$y$j9T$abc", "/alice", "rw",
                         "ssh-ed25519 AAAA with: colon|ssh-rsa BBBB"};
    ck_assert_int_eq(gw_statedb_user_line(ok, &b), 0);
    ck_assert_str_eq(gw_buf_str(&b),
                     "alice:$y$j9T$abc:/alice:rw:ssh-ed25519 AAAA with: colon|ssh-rsa BBBB\n");
    /* A column must not be able to add a user or shift the fields. */
    const char *nl_keys[5] = {"bob", "!", "/bob", "rw", "\nmallory:$y$x:/:rw:"};
    const char *cr_home[5] = {"bob", "!", "/bob\r", "rw", ""};
    const char *colon_home[5] = {"bob", "!", "/bob:/", "rw", ""};
    const char *colon_name[5] = {"a:b", "!", "/bob", "rw", ""};
    const char *null_col[5] = {"bob", NULL, "/bob", "rw", ""};
    size_t before = b.len;
    ck_assert_int_eq(gw_statedb_user_line(nl_keys, &b), GW_ERR_INVAL);
    ck_assert_int_eq(gw_statedb_user_line(cr_home, &b), GW_ERR_INVAL);
    ck_assert_int_eq(gw_statedb_user_line(colon_home, &b), GW_ERR_INVAL);
    ck_assert_int_eq(gw_statedb_user_line(colon_name, &b), GW_ERR_INVAL);
    ck_assert_int_eq(gw_statedb_user_line(null_col, &b), GW_ERR_INVAL);
    ck_assert_uint_eq(b.len, before);
    /* What it builds parses as the users file does. */
    const char *empty[5] = {"carol", "!", "/", "", ""};
    ck_assert_int_eq(gw_statedb_user_line(empty, &b), 0);
    struct auth_db db;
    char err[256];
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), GW_ERR_CONFIG);
    gw_buf_reset(&b);
    ck_assert_int_eq(gw_statedb_user_line(empty, &b), 0);
    ck_assert_int_eq(auth_db_parse(b.data, b.len, &db, err, sizeof err), 0);
    ck_assert_uint_eq(db.nusers, 1);
    ck_assert_str_eq(db.users[0].name, "carol");
    ck_assert(!db.users[0].read_only);
    auth_db_free(&db);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_user_split)
{
    const char *f[5];
    size_t n[5];
    const char *line = "alice:$y$j9T$abc:/alice:ro:ssh-ed25519 AAAA c:d|ssh-rsa BBBB";
    ck_assert_int_eq(gw_statedb_user_split(line, strlen(line), f, n), 0);
    ck_assert_int_eq((int)n[0], 5);
    ck_assert(memcmp(f[0], "alice", 5) == 0);
    ck_assert(n[1] == 10 && memcmp(f[1], "$y$j9T$abc", 10) == 0);
    ck_assert(n[2] == 6 && memcmp(f[2], "/alice", 6) == 0);
    ck_assert(n[3] == 2 && memcmp(f[3], "ro", 2) == 0);
    ck_assert_str_eq(f[4], "ssh-ed25519 AAAA c:d|ssh-rsa BBBB"); /* the rest, ':' kept */
    ck_assert_uint_eq(n[4], strlen(f[4]));
    ck_assert_int_eq(gw_statedb_user_split("a:b:c::", 7, f, n), 0);
    ck_assert_uint_eq(n[3], 0);
    ck_assert_uint_eq(n[4], 0);
    ck_assert_int_eq(gw_statedb_user_split("a:b:c:", 6, f, n), GW_ERR_PROTO);
    ck_assert_int_eq(gw_statedb_user_split("", 0, f, n), GW_ERR_PROTO);

    /* Round trip: every line auth_db_format writes splits into columns that
     * gw_statedb_user_line turns back into the same line. */
    struct auth_db db = {0};
    struct gw_buf text, again;
    gw_buf_init(&text, 1 << 20);
    gw_buf_init(&again, 1 << 20);
    ck_assert_int_eq(auth_db_add(&db, "alice", "pw", NULL, false), 0);
    ck_assert_int_eq(auth_db_add(&db, "bob", NULL, "/shared/x", true), 0);
    ck_assert_int_eq(
        auth_db_add_key(
            &db, "alice",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
            "user@host: laptop"),
        0);
    ck_assert_int_eq(auth_db_format(&db, &text), 0);
    size_t lines = 0;
    for (char *p = text.data; p < text.data + text.len;) {
        char *nl = memchr(p, '\n', (size_t)(text.data + text.len - p));
        ck_assert_ptr_nonnull(nl);
        if (p[0] != '#' && nl > p) {
            char *cols[5];
            ck_assert_int_eq(gw_statedb_user_split(p, (size_t)(nl - p), f, n), 0);
            for (int i = 0; i < 5; i++)
                cols[i] = strndup(f[i], n[i]);
            gw_buf_reset(&again);
            ck_assert_int_eq(gw_statedb_user_line((const char *const *)cols, &again), 0);
            ck_assert_uint_eq(again.len, (size_t)(nl - p) + 1);
            ck_assert(memcmp(again.data, p, again.len) == 0);
            for (int i = 0; i < 5; i++)
                free(cols[i]);
            lines++;
        }
        p = nl + 1;
    }
    ck_assert_uint_eq(lines, 2);
    auth_db_free(&db);
    gw_buf_free(&text);
    gw_buf_free(&again);
}
END_TEST

/* No server needed: a closed port fails at once, with the password redacted, and a NULL
 * or never-opened handle answers every call without crashing. */
START_TEST(test_open_unreachable)
{
    struct gw_statedb *db = (struct gw_statedb *)1;
    char err[512] = "";
    /* Port 1 on loopback: nothing listens there (and connecting needs no privilege). */
    int rc = gw_statedb_open("postgresql://ferry:s3cret@127.0.0.1:1/ferry?connect_timeout=2", &db,
                             err, sizeof err);
    ck_assert_int_eq(rc, GW_ERR_IO);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err, "cannot connect to postgresql://ferry:***@127.0.0.1:1/ferry") == err,
                  "%s", err);
    ck_assert_msg(strstr(err, "s3cret") == NULL, "%s", err);
    ck_assert(strchr(err, '\n') == NULL);
    rc = gw_statedb_open("host=127.0.0.1 port=1 password=s3cret connect_timeout=2", &db, err,
                         sizeof err);
    ck_assert_int_eq(rc, GW_ERR_IO);
    ck_assert_msg(strstr(err, "password=***") && !strstr(err, "s3cret"), "%s", err);
    ck_assert_int_eq(gw_statedb_open("", &db, err, sizeof err), GW_ERR_CONFIG);

    ck_assert(!gw_statedb_ok(NULL));
    ck_assert_int_eq(gw_statedb_socket(NULL), -1);
    ck_assert(!gw_statedb_users_notified(NULL));
    int64_t rev;
    ck_assert_int_eq(gw_statedb_users_rev(NULL, &rev, err, sizeof err), GW_ERR_IO);
    ck_assert_str_eq(err, "not connected to the state database");
    bool got = true;
    ck_assert_int_eq(gw_statedb_try_lock(NULL, "job", &got, err, sizeof err), GW_ERR_IO);
    ck_assert(!got);
    struct gw_buf b;
    bool found = true;
    gw_buf_init(&b, 16);
    ck_assert_int_eq(gw_statedb_blob_get(NULL, "x", true, &b, &found, err, sizeof err), GW_ERR_IO);
    ck_assert(!found);
    gw_buf_free(&b);
    gw_statedb_blob_end(NULL);
    gw_statedb_users_abort(NULL);
    gw_statedb_close(NULL);
}
END_TEST

Suite *gateway_statedb_suite(void)
{
    Suite *s = suite_create("gateway_statedb");
    TCase *tc;
    tc = tcase_create("gw_statedb_redact");
    tcase_add_test(tc, test_redact);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_statedb_user_line");
    tcase_add_test(tc, test_user_line);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_statedb_user_split");
    tcase_add_test(tc, test_user_split);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_statedb_open");
    tcase_add_test(tc, test_open_unreachable);
    suite_add_tcase(s, tc);
    return s;
}
