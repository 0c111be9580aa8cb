/* Unit tests for gateway/config.c: the INI parser, flags, validation. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/err.h"

static int parse(struct gw_config *c, const char *text, char *err, size_t errsz)
{
    cfg_defaults(c);
    return cfg_parse(c, text, strlen(text), "t.conf", err, errsz);
}

START_TEST(test_defaults)
{
    struct gw_config c;
    char err[256];
    cfg_defaults(&c);
    ck_assert_str_eq(c.root, "./ferry-data");
    ck_assert_str_eq(c.state, "./ferry-state");
    ck_assert_str_eq(c.listen, "127.0.0.1");
    ck_assert_int_eq(c.ftp_port, 2121);
    ck_assert_int_eq(c.ftps_port, 0);
    ck_assert_int_eq(c.sftp_port, 2222);
    ck_assert_int_eq(c.https_port, 8443);
    ck_assert_int_eq(c.max_sessions, 256);
    ck_assert_int_eq(c.shutdown_grace, 10);
    ck_assert_int_eq(c.partial_ttl, 7 * 86400);
    ck_assert(!c.anonymous);
    ck_assert(c.ftp_require_ssl_reuse);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
    cfg_free(&c);
}
END_TEST

START_TEST(test_parse_full)
{
    struct gw_config c;
    char err[256] = "";
    const char *text = "# comment\n"
                       "[server]\n"
                       "root = /srv/ferry\n"
                       "  listen=0.0.0.0  \n"
                       "ftp_port = 21\n"
                       "anonymous = yes\n"
                       "passive_ports = 50000-50100\n"
                       "partial_ttl = 2d\n"
                       "idle_timeout = 5m\n"
                       "run_as = \"ferry\"\n"
                       "\n"
                       "[anonymous]\n"
                       "root = /pub\n"
                       "[mount /legacy/]\n"
                       "url = ftp://u:p@127.0.0.1:21/data/\n"
                       "encoding = windows-1252\n"
                       "read_only = no\n"
                       "cache_ttl = 1m\n";
    ck_assert_msg(parse(&c, text, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(c.root, "/srv/ferry");
    ck_assert_str_eq(c.listen, "0.0.0.0");
    ck_assert_int_eq(c.ftp_port, 21);
    ck_assert(c.anonymous);
    ck_assert_int_eq(c.passive_min, 50000);
    ck_assert_int_eq(c.passive_max, 50100);
    ck_assert_int_eq(c.partial_ttl, 2 * 86400);
    ck_assert_int_eq(c.idle_timeout, 300);
    ck_assert_str_eq(c.run_as, "ferry");
    ck_assert_str_eq(c.anon_root, "/pub");
    ck_assert_uint_eq(c.nmounts, 1);
    ck_assert_str_eq(c.mounts[0].prefix, "/legacy");
    ck_assert_str_eq(c.mounts[0].encoding, "windows-1252");
    ck_assert(!c.mounts[0].read_only);
    ck_assert_int_eq(c.mounts[0].cache_ttl, 60);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
    cfg_free(&c);
}
END_TEST

static void expect_error(const char *text, const char *want)
{
    struct gw_config c;
    char err[512] = "";
    ck_assert_int_eq(parse(&c, text, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_msg(strstr(err, want) != NULL, "error [%s] lacks [%s]", err, want);
    cfg_free(&c);
}

START_TEST(test_parse_errors)
{
    expect_error("[server]\nbogus = 1\n", "t.conf:2: unknown key 'bogus' in [server]");
    expect_error("ftp_port = 70000\n", "t.conf:1: ftp_port: expected a number from 0 to 65535");
    expect_error("ftp_port = 21x\n", "t.conf:1:");
    expect_error("\n\nanonymous = maybe\n", "t.conf:3: anonymous: expected yes or no");
    expect_error("[nope]\n", "t.conf:1: unknown section [nope]");
    expect_error("[server\n", "t.conf:1: malformed section header");
    expect_error("just words\n", "t.conf:1: expected 'key = value'");
    expect_error("passive_ports = 100-50\n", "passive_ports");
    expect_error("partial_ttl = soon\n", "expected a duration");
    expect_error("[mount relative]\nurl = ftp://x/\n", "mount point must be an absolute path");
    expect_error("[mount /a]\nurl = ftp://x/\n[mount /a/]\nurl = ftp://y/\n", "declared twice");
    expect_error("[mount /a]\nencoding = auto\n", "t.conf:1: mount /a has no url");
    expect_error("[anonymous]\nftp_port = 1\n", "unknown key 'ftp_port' in [anonymous]");
}
END_TEST

START_TEST(test_user_sections)
{
    struct gw_config c;
    char err[256];
    const char *text = "ftp_client_encoding = windows-1251\n"
                       "[user alice]\nftp_client_encoding = GBK\n"
                       "[user bob]\n";
    ck_assert_int_eq(parse(&c, text, err, sizeof err), 0);
    ck_assert_uint_eq(c.nusers, 2);
    ck_assert_str_eq(cfg_user_ftp_encoding(&c, "alice"), "GBK");
    /* bob's section sets nothing, carol has none: both get [server]'s value. */
    ck_assert_str_eq(cfg_user_ftp_encoding(&c, "bob"), "windows-1251");
    ck_assert_str_eq(cfg_user_ftp_encoding(&c, "carol"), "windows-1251");
    ck_assert_uint_eq(c.users[0].line, 2);
    cfg_free(&c);
    expect_error("[user alice]\n[user alice]\n", "t.conf:2: user alice declared twice (line 1)");
    expect_error("[user ]\n", "[user NAME] needs a user name");
    expect_error("[user a/b]\n", "[user NAME] needs a user name");
    expect_error("[user alice]\nftp_port = 21\n", "t.conf:2: unknown key 'ftp_port' in [user");
}
END_TEST

START_TEST(test_nul_and_long_lines)
{
    struct gw_config c;
    char err[256];
    char text[] = "root = a\0b\n";
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_parse(&c, text, sizeof text - 1, "t.conf", err, sizeof err), GW_ERR_CONFIG);
    ck_assert(strstr(err, "NUL") != NULL);
    cfg_free(&c);
    char *big = malloc(GW_MAX_CONFIG_LINE + 100);
    memset(big, 'a', GW_MAX_CONFIG_LINE + 99);
    big[GW_MAX_CONFIG_LINE + 99] = '\0';
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_parse(&c, big, strlen(big), "t.conf", err, sizeof err), GW_ERR_CONFIG);
    ck_assert(strstr(err, "line longer") != NULL);
    cfg_free(&c);
    free(big);
}
END_TEST

START_TEST(test_set_and_validate)
{
    struct gw_config c;
    char err[256];
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_set(&c, "sftp_port", "2121", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), GW_ERR_CONFIG);
    ck_assert(strstr(err, "ftp_port and sftp_port are both 2121") != NULL);
    ck_assert_int_eq(cfg_set(&c, "sftp_port", "0", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
    ck_assert_int_eq(cfg_set(&c, "no_such", "1", err, sizeof err), GW_ERR_CONFIG);
    ck_assert_int_eq(cfg_set(&c, "max_sessions", "0", err, sizeof err), GW_ERR_CONFIG);
    /* PROXY protocol: the trusted list is required and checked at start-up. */
    ck_assert_int_eq(cfg_set(&c, "proxy_protocol", "yes", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_msg(strstr(err, "needs proxy_trusted") != NULL, "%s", err);
    ck_assert_int_eq(cfg_set(&c, "proxy_trusted", "10.0.0.0/33", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_msg(strncmp(err, "proxy_trusted: ", 15) == 0, "%s", err);
    ck_assert_int_eq(cfg_set(&c, "proxy_trusted", "10.0.0.0/8, ::1", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
    /* state_db: a URI or a conninfo; anything else is a typo caught at start-up. */
    ck_assert_int_eq(cfg_set(&c, "state_db", "pg.example.net/ferry", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), GW_ERR_CONFIG);
    ck_assert_msg(strncmp(err, "state_db: ", 10) == 0, "%s", err);
    const char *good_db[] = {"postgresql://ferry@10.0.0.5:5432/ferry", "postgres://db/ferry",
                             "host=10.0.0.5 dbname=ferry user=ferry"};
    for (size_t i = 0; i < sizeof good_db / sizeof good_db[0]; i++) {
        ck_assert_int_eq(cfg_set(&c, "state_db", good_db[i], err, sizeof err), 0);
        ck_assert_msg(cfg_validate(&c, err, sizeof err) == 0, "%s: %s", good_db[i], err);
    }
    ck_assert_int_eq(cfg_set(&c, "node_name", "node-a", err, sizeof err), 0);
    ck_assert_str_eq(c.node_name, "node-a");
    cfg_free(&c);
    const char *bad_url = "[mount /m]\nurl = http://x/\n";
    cfg_defaults(&c);
    ck_assert_int_eq(cfg_parse(&c, bad_url, strlen(bad_url), "t", err, sizeof err), 0);
    ck_assert_int_eq(cfg_validate(&c, err, sizeof err), GW_ERR_CONFIG);
    cfg_free(&c);
}
END_TEST

START_TEST(test_duration)
{
    int64_t d;
    ck_assert_int_eq(cfg_parse_duration("30", &d), 0);
    ck_assert_int_eq(d, 30);
    ck_assert_int_eq(cfg_parse_duration("30s", &d), 0);
    ck_assert_int_eq(d, 30);
    ck_assert_int_eq(cfg_parse_duration("5m", &d), 0);
    ck_assert_int_eq(d, 300);
    ck_assert_int_eq(cfg_parse_duration("2h", &d), 0);
    ck_assert_int_eq(d, 7200);
    ck_assert_int_eq(cfg_parse_duration("7d", &d), 0);
    ck_assert_int_eq(d, 604800);
    ck_assert_int_ne(cfg_parse_duration("", &d), 0);
    ck_assert_int_ne(cfg_parse_duration("-1", &d), 0);
    ck_assert_int_ne(cfg_parse_duration("5x", &d), 0);
    ck_assert_int_ne(cfg_parse_duration("99999999999999999999d", &d), 0);
}
END_TEST

START_TEST(test_dump_roundtrip)
{
    struct gw_config c, c2;
    char err[256], *text = NULL;
    size_t len = 0;
    const char *in = "ftp_port = 2100\nanonymous = yes\n[mount /m]\nurl = ftp://h/\n";
    ck_assert_int_eq(parse(&c, in, err, sizeof err), 0);
    FILE *f = open_memstream(&text, &len);
    cfg_dump(&c, f);
    fclose(f);
    cfg_defaults(&c2);
    ck_assert_msg(cfg_parse(&c2, text, len, "dump", err, sizeof err) == 0, "%s\n%s", err, text);
    ck_assert_int_eq(c2.ftp_port, 2100);
    ck_assert(c2.anonymous);
    ck_assert_uint_eq(c2.nmounts, 1);
    free(text);
    cfg_free(&c);
    cfg_free(&c2);
}
END_TEST

Suite *gateway_config_suite(void)
{
    Suite *s = suite_create("gateway/config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_parse_full);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_user_sections);
    tcase_add_test(tc, test_nul_and_long_lines);
    tcase_add_test(tc, test_set_and_validate);
    tcase_add_test(tc, test_duration);
    tcase_add_test(tc, test_dump_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
