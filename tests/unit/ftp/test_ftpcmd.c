/* Unit tests for ftp/ftpcmd.c: the FTP command-line parser and the pure argument
 * parsers and reply formatters. Also replays fuzz regressions from
 * tests/data/fuzz-regress/ftpcmd/. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftp/ftpcmd.h"
#include "gateway/err.h"

/* Parses exactly one line from a string literal (binary-safe length). */
static int parse1(const char *s, size_t n, struct ftpd_cmd *cmd, size_t *used)
{
    struct ftpd_lineparser lp = {0};
    return ftpd_cmd_parse(&lp, s, n, cmd, used);
}

START_TEST(test_cmd_parse)
{
    static struct ftpd_cmd cmd;
    size_t used;

    ck_assert_int_eq(parse1("USER alice\r\n", 12, &cmd, &used), FTPD_CMD_OK);
    ck_assert_uint_eq(used, 12);
    ck_assert_str_eq(cmd.verb, "USER");
    ck_assert_str_eq(cmd.arg, "alice");
    ck_assert_uint_eq(cmd.arg_len, 5);

    /* Lower case verb, bare LF, no argument. */
    ck_assert_int_eq(parse1("pwd\n", 4, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "PWD");
    ck_assert_uint_eq(cmd.arg_len, 0);
    ck_assert_uint_eq(used, 4);

    /* Arguments keep leading and trailing spaces: only one separator is eaten. */
    ck_assert_int_eq(parse1("RETR  a b \r\n", 12, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.arg, " a b ");

    /* Two lines: one at a time. */
    const char two[] = "NOOP\r\nQUIT\r\n";
    ck_assert_int_eq(parse1(two, sizeof two - 1, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "NOOP");
    ck_assert_uint_eq(used, 6);
    ck_assert_int_eq(parse1(two + used, sizeof two - 1 - used, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "QUIT");

    /* Incomplete line. */
    ck_assert_int_eq(parse1("USER al", 7, &cmd, &used), FTPD_CMD_MORE);
    ck_assert_uint_eq(used, 0);

    /* Verbs with digits (XSHA256) and a too long verb. */
    ck_assert_int_eq(parse1("XSHA256 f\r\n", 11, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "XSHA256");
    ck_assert_int_eq(parse1("ABCDEFGHI x\r\n", 13, &cmd, &used), GW_ERR_PROTO);
    ck_assert_uint_eq(used, 13);
    ck_assert_int_eq(parse1("1USER x\r\n", 9, &cmd, &used), GW_ERR_PROTO);
    ck_assert_int_eq(parse1("\r\n", 2, &cmd, &used), GW_ERR_PROTO);
    ck_assert_int_eq(parse1(" USER\r\n", 7, &cmd, &used), GW_ERR_PROTO);
    ck_assert_int_eq(parse1("US-R\r\n", 6, &cmd, &used), GW_ERR_PROTO);
}
END_TEST

START_TEST(test_cmd_parse_injection)
{
    static struct ftpd_cmd cmd;
    size_t used;
    /* NUL and CR inside arguments are refused, the whole line is consumed. */
    const char nul[] = "DELE a\0b\r\nNOOP\r\n";
    ck_assert_int_eq(parse1(nul, sizeof nul - 1, &cmd, &used), GW_ERR_PROTO);
    ck_assert_uint_eq(used, 10);
    ck_assert_str_eq(cmd.verb, "");
    ck_assert_int_eq(parse1("RETR a\rDELE b\r\n", 15, &cmd, &used), GW_ERR_PROTO);
    ck_assert_int_eq(parse1("RETR a\r\r\n", 9, &cmd, &used), GW_ERR_PROTO);
    /* A LF always ends the line: what follows is the next command, not the argument. */
    ck_assert_int_eq(parse1("RNFR a\nDELE b\r\n", 15, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.arg, "a");
    ck_assert_uint_eq(used, 7);
}
END_TEST

START_TEST(test_cmd_parse_telnet)
{
    static struct ftpd_cmd cmd;
    size_t used;
    /* The urgent ABOR of RFC 959: IAC IP IAC DM ABOR. */
    const char abor[] = "\xff\xf4\xff\xf2"
                        "ABOR\r\n";
    ck_assert_int_eq(parse1(abor, sizeof abor - 1, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "ABOR");
    ck_assert_uint_eq(used, sizeof abor - 1);
    /* IAC IAC is a literal 0xFF byte in a name. */
    const char ff[] = "RETR a\xff\xff"
                      "b\r\n";
    ck_assert_int_eq(parse1(ff, sizeof ff - 1, &cmd, &used), FTPD_CMD_OK);
    ck_assert_uint_eq(cmd.arg_len, 3);
    ck_assert(memcmp(cmd.arg,
                     "a\xff"
                     "b",
                     3) == 0);
    /* Option negotiation vanishes. */
    const char neg[] = "\xff\xfd\x01NOOP\xff\xfb\x03\r\n";
    ck_assert_int_eq(parse1(neg, sizeof neg - 1, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "NOOP");
    ck_assert_uint_eq(cmd.arg_len, 0);
    /* A trailing lone IAC is dropped, not read past. */
    const char lone[] = "NOOP\xff\n";
    ck_assert_int_eq(parse1(lone, sizeof lone - 1, &cmd, &used), FTPD_CMD_OK);
    ck_assert_str_eq(cmd.verb, "NOOP");
}
END_TEST

START_TEST(test_cmd_parse_long)
{
    static struct ftpd_cmd cmd;
    struct ftpd_lineparser lp = {0};
    size_t used, n = 10000;
    char *big = malloc(n + 16);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "STOR ", 5);
    memset(big + 5, 'x', n - 5);
    memcpy(big + n, "\r\nNOOP\r\n", 8);

    /* A line exactly at the limit (CRLF included) is accepted. */
    char *max = malloc(GW_MAX_FTP_LINE);
    memcpy(max, "STOR ", 5);
    memset(max + 5, 'y', GW_MAX_FTP_LINE - 7);
    memcpy(max + GW_MAX_FTP_LINE - 2, "\r\n", 2);
    ck_assert_int_eq(ftpd_cmd_parse(&lp, max, GW_MAX_FTP_LINE, &cmd, &used), FTPD_CMD_OK);
    ck_assert_uint_eq(cmd.arg_len, GW_MAX_FTP_LINE - 7);
    ck_assert_uint_eq(used, GW_MAX_FTP_LINE);

    /* The caller feeds at most GW_MAX_FTP_LINE bytes at a time, as the session does. */
    size_t off = 0, errors = 0, oks = 0;
    while (off < n + 8) {
        size_t avail = n + 8 - off;
        if (avail > GW_MAX_FTP_LINE)
            avail = GW_MAX_FTP_LINE;
        int rc = ftpd_cmd_parse(&lp, big + off, avail, &cmd, &used);
        if (rc == GW_ERR_TOOLONG)
            errors++;
        if (rc == FTPD_CMD_OK) {
            oks++;
            ck_assert_str_eq(cmd.verb, "NOOP");
        }
        ck_assert_msg(used > 0 || rc == FTPD_CMD_OK, "no progress at %zu", off);
        off += used;
    }
    ck_assert_uint_eq(errors, 1);
    ck_assert_uint_eq(oks, 1);
    ck_assert(!lp.discarding);
    free(big);
    free(max);
}
END_TEST

START_TEST(test_parse_u64)
{
    uint64_t v;
    ck_assert_int_eq(ftpd_parse_u64("0", 1, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(ftpd_parse_u64("5368709120", 10, &v), 0);
    ck_assert_uint_eq(v, 5368709120ull);
    ck_assert_int_eq(ftpd_parse_u64("18446744073709551615", 20, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(ftpd_parse_u64("18446744073709551616", 20, &v), GW_ERR_RANGE);
    ck_assert_int_eq(ftpd_parse_u64("", 0, &v), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_u64("-1", 2, &v), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_u64("12 ", 3, &v), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_parse_rang)
{
    uint64_t a = 7, b = 7;
    ck_assert_int_eq(ftpd_parse_rang("0 49", 4, &a, &b), 0);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 49);
    ck_assert_int_eq(ftpd_parse_rang("5368709120 5368709121", 21, &a, &b), 0);
    ck_assert_uint_eq(a, 5368709120ULL);
    ck_assert_uint_eq(b, 5368709121ULL);
    ck_assert_int_eq(ftpd_parse_rang("7 7", 3, &a, &b), 0); /* one byte */
    ck_assert_int_eq(ftpd_parse_rang("1 0", 3, &a, &b), 0); /* the reset */
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 0);
    a = b = 9;
    ck_assert_int_eq(ftpd_parse_rang("5 4", 3, &a, &b), GW_ERR_RANGE);
    ck_assert_int_eq(ftpd_parse_rang("5", 1, &a, &b), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_rang("5 ", 2, &a, &b), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_rang(" 5 6", 4, &a, &b), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_rang("5  6", 4, &a, &b), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_rang("-1 6", 4, &a, &b), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_rang("0 18446744073709551616", 22, &a, &b), GW_ERR_INVAL);
    ck_assert_uint_eq(a, 9); /* untouched on error */
    ck_assert_uint_eq(b, 9);
}
END_TEST

START_TEST(test_parse_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *ok = "127,0,0,1,4,1";
    ck_assert_int_eq(ftpd_parse_port(ok, strlen(ok), &ss, &len), 0);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(sin->sin_port), 1025);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001u);
    const char *bad[] = {"127,0,0,1,4", "127,0,0,256,4,1", "127,0,0,1,4,1,",
                         "a,b,c,d,e,f", "127,0,0,1,4,1 ",  "",
                         ",,,,,",       "1,2,3,4,5,6,7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(ftpd_parse_port(bad[i], strlen(bad[i]), &ss, &len), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_parse_eprt)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *v4 = "|1|132.235.1.2|6275|";
    ck_assert_int_eq(ftpd_parse_eprt(v4, strlen(v4), &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 6275);
    const char *v6 = "!2!1080::8:800:200C:417A!5282!";
    ck_assert_int_eq(ftpd_parse_eprt(v6, strlen(v6), &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
    ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 5282);
    const char *af3 = "|3|1.2.3.4|5|";
    ck_assert_int_eq(ftpd_parse_eprt(af3, strlen(af3), &ss, &len), GW_ERR_NOTSUP);
    const char *bad[] = {"|1|132.235.1.2|6275",
                         "|1|::1|6275|",
                         "|2|1.2.3.4|80|",
                         "|1||80|",
                         "1|1|1.2.3.4|80|1",
                         "|1|1.2.3.4|0|",
                         "|1|1.2.3.4|65536|",
                         "|1|1.2.3.4|80|x",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ftpd_parse_eprt(bad[i], strlen(bad[i]), &ss, &len) == GW_ERR_INVAL,
                      "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_parse_time)
{
    int64_t t;
    char out[FTPD_TIME_LEN + 1];
    ck_assert_int_eq(ftpd_parse_time("19700101000000", 14, &t), 14);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(ftpd_parse_time("20240229123456.789 x", 20, &t), 18);
    ck_assert_int_eq(t, 1709210096);
    ck_assert_int_eq(ftpd_parse_time("20230229123456", 14, &t), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_time("20231301000000", 14, &t), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_time("2023010100000", 13, &t), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_time("2023010100000a", 14, &t), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_time("20230101000000.", 15, &t), GW_ERR_INVAL);
    ftpd_format_time(1709210096, out);
    ck_assert_str_eq(out, "20240229123456");
    ftpd_format_time(-1, out);
    ck_assert_str_eq(out, "19691231235959");
    ftpd_format_time(INT64_MAX / 2, out);
    ck_assert_str_eq(out, "99991231235959");
    /* Round trip over a range of dates. */
    for (int64_t x = -86400LL * 365 * 3; x < 86400LL * 365 * 200; x += 86400LL * 37 + 3601) {
        ftpd_format_time(x, out);
        ck_assert_int_eq(ftpd_parse_time(out, 14, &t), 14);
        ck_assert_int_eq(t, x);
    }
}
END_TEST

START_TEST(test_list_skip_options)
{
    const char *cases[][2] = {
        {"-la", ""},    {"-la dir", "dir"},       {"-a -l my dir", "my dir"},
        {"dir", "dir"}, {"-foo.txt", "-foo.txt"}, {"-", "-"},
        {"", ""},       {"-l  two", "two"},       {"-l -", "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i][0]);
        size_t off = ftpd_list_skip_options(cases[i][0], n);
        ck_assert_str_eq(cases[i][0] + off, cases[i][1]);
    }
}
END_TEST

START_TEST(test_format_list)
{
    struct gw_buf b;
    struct vfs_stat st = {0};
    int64_t now = 1700000000; /* 2023-11-14 22:13:20 */
    gw_buf_init(&b, 1 << 16);
    st.mode = S_IFREG | 0644;
    st.size = 5368709120ull;
    st.nlink = 1;
    st.mtime = now - 3600;
    ck_assert_int_eq(ftpd_format_list(&b, &st, " lead space", NULL, "ftp", "ftp", now), 0);
    ck_assert_str_eq(gw_buf_str(&b),
                     "-rw-r--r--    1 ftp      ftp        5368709120 Nov 14 21:13  lead space\r\n");
    gw_buf_reset(&b);
    st.mode = S_IFDIR | 01777;
    st.size = 4096;
    st.nlink = 3;
    st.mtime = 946684800; /* 2000-01-01 */
    ck_assert_int_eq(ftpd_format_list(&b, &st, "tmp", NULL, "ftp", "ftp", now), 0);
    ck_assert_str_eq(gw_buf_str(&b),
                     "drwxrwxrwt    3 ftp      ftp              4096 Jan  1  2000 tmp\r\n");
    gw_buf_reset(&b);
    st.mode = S_IFLNK | 0777;
    st.mtime = now;
    ck_assert_int_eq(ftpd_format_list(&b, &st, "evil\r\n-rw", "t", "o", "g", now), 0);
    /* One line only: the name's CR LF cannot start a forged entry. */
    ck_assert_ptr_eq(strchr(gw_buf_str(&b), '\n'), gw_buf_str(&b) + b.len - 1);
    ck_assert_ptr_nonnull(strstr(gw_buf_str(&b), "evil?"
                                                 "?-rw -> t\r\n"));
    ck_assert_int_eq(gw_buf_str(&b)[0], 'l');
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_format_facts)
{
    struct gw_buf b;
    struct vfs_stat st = {0};
    gw_buf_init(&b, 1 << 16);
    st.mode = S_IFREG | 0640;
    st.size = 42;
    st.mtime = 1709210096;
    st.dev = 0x803;
    st.ino = 0x1234;
    ck_assert_int_eq(ftpd_format_facts(&b, &st, FTPD_FACT_ALL, true, NULL, "a b"), 0);
    ck_assert_str_eq(gw_buf_str(&b), "type=file;size=42;modify=20240229123456;perm=adfrw;"
                                     "unique=803g1234;UNIX.mode=0640; a b");
    gw_buf_reset(&b);
    st.mode = S_IFDIR | 0755;
    ck_assert_int_eq(
        ftpd_format_facts(&b, &st, FTPD_FACT_TYPE | FTPD_FACT_PERM, false, "cdir", "/x"), 0);
    ck_assert_str_eq(gw_buf_str(&b), "type=cdir;perm=el; /x");
    gw_buf_reset(&b);
    ck_assert_int_eq(ftpd_format_fact_names(&b, FTPD_FACT_TYPE | FTPD_FACT_SIZE, true), 0);
    ck_assert_str_eq(gw_buf_str(&b), "type*;size*;modify;perm;unique;UNIX.mode;");
    gw_buf_reset(&b);
    ck_assert_int_eq(ftpd_format_fact_names(&b, FTPD_FACT_SIZE | FTPD_FACT_UNIX_MODE, false), 0);
    ck_assert_str_eq(gw_buf_str(&b), "size;UNIX.mode;");
    ck_assert_uint_eq(ftpd_parse_fact_names("Type;SIZE;bogus;unix.mode;", 26),
                      FTPD_FACT_TYPE | FTPD_FACT_SIZE | FTPD_FACT_UNIX_MODE);
    ck_assert_uint_eq(ftpd_parse_fact_names("", 0), 0);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_quote_path)
{
    struct gw_buf b;
    gw_buf_init(&b, 1 << 16);
    ck_assert_int_eq(ftpd_quote_path(&b, "/a \"q\"\n"), 0);
    ck_assert_str_eq(gw_buf_str(&b), "\"/a \"\"q\"\"?\"");
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_ascii)
{
    char out[64];
    bool cr = false;
    size_t n = ftpd_ascii_to_net("a\nb\r\nc\n", 7, out, &cr);
    ck_assert_uint_eq(n, 9);
    ck_assert(memcmp(out, "a\r\nb\r\nc\r\n", 9) == 0);
    /* A CR at the end of one chunk and LF at the start of the next is not doubled. */
    cr = false;
    n = ftpd_ascii_to_net("x\r", 2, out, &cr);
    ck_assert(cr);
    n = ftpd_ascii_to_net("\ny", 2, out, &cr);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(out, "\ny", 2) == 0);

    bool pend = false;
    n = ftpd_ascii_from_net("a\r\nb\rc\r", 7, out, &pend);
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(out, "a\nb\rc", 5) == 0);
    ck_assert(pend);
    n = ftpd_ascii_from_net("\nd", 2, out, &pend);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(out, "\nd", 2) == 0);
    n = ftpd_ascii_from_net("e\r", 2, out, &pend);
    n += ftpd_ascii_from_net(NULL, 0, out + n, &pend);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(out, "e\r", 2) == 0);
    ck_assert(!pend);
}
END_TEST

START_TEST(test_hash_names)
{
    ck_assert_int_eq(ftpd_hash_lookup("sha-256", 7), FTPD_HASH_SHA256);
    ck_assert_int_eq(ftpd_hash_lookup("MD5", 3), FTPD_HASH_MD5);
    ck_assert_int_eq(ftpd_hash_lookup("SHA-1", 5), FTPD_HASH_SHA1);
    ck_assert_int_eq(ftpd_hash_lookup("SHA-512", 7), FTPD_HASH_SHA512);
    ck_assert_int_eq(ftpd_hash_lookup("CRC32", 5), -1);
    ck_assert_int_eq(ftpd_hash_lookup("SHA-2567", 8), -1);
    ck_assert_str_eq(ftpd_hash_name(FTPD_HASH_SHA1), "SHA-1");
}
END_TEST

START_TEST(test_parse_chmod)
{
    uint32_t mode;
    size_t off;
    ck_assert_int_eq(ftpd_parse_chmod("755 my file", 11, &mode, &off), 0);
    ck_assert_uint_eq(mode, 0755);
    ck_assert_str_eq("755 my file" + off, "my file");
    ck_assert_int_eq(ftpd_parse_chmod("0644 x", 6, &mode, &off), 0);
    ck_assert_uint_eq(mode, 0644);
    ck_assert_int_eq(ftpd_parse_chmod("888 x", 5, &mode, &off), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_chmod("755", 3, &mode, &off), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_chmod("755 ", 4, &mode, &off), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_chmod("07555 x", 7, &mode, &off), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_parse_time_path)
{
    int64_t t;
    size_t off;
    const char *a = "20240229123456 dir/f";
    ck_assert_int_eq(ftpd_parse_time_path(a, strlen(a), &t, &off), 0);
    ck_assert_int_eq(t, 1709210096);
    ck_assert_str_eq(a + off, "dir/f");
    ck_assert_int_eq(ftpd_parse_time_path("20240229123456", 14, &t, &off), GW_ERR_INVAL);
    ck_assert_int_eq(ftpd_parse_time_path("file.txt", 8, &t, &off), GW_ERR_INVAL);
}
END_TEST

START_TEST(test_same_addr)
{
    struct sockaddr_storage a = {0}, b = {0}, c = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
    struct sockaddr_in6 *b6 = (struct sockaddr_in6 *)&b, *c6 = (struct sockaddr_in6 *)&c;
    a4->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a4->sin_addr);
    b6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &b6->sin6_addr);
    c6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &c6->sin6_addr);
    ck_assert(ftpd_same_addr(&a, &b));
    ck_assert(!ftpd_same_addr(&a, &c));
    ck_assert(ftpd_same_addr(&c, &c));
    inet_pton(AF_INET, "127.0.0.2", &a4->sin_addr);
    ck_assert(!ftpd_same_addr(&a, &b));
}
END_TEST

/* Every saved fuzz crash input must now parse without incident. */
START_TEST(test_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/ftpcmd");
    char *copy = strdup(dir);
    DIR *d = opendir(copy);
    static struct ftpd_cmd cmd;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            size_t len, used;
            snprintf(path, sizeof path, "%s/%s", copy, e->d_name);
            char *data = tu_read_file(path, &len);
            struct ftpd_lineparser lp = {0};
            size_t off = 0;
            while (off < len) {
                size_t avail = len - off < GW_MAX_FTP_LINE ? len - off : GW_MAX_FTP_LINE;
                int rc = ftpd_cmd_parse(&lp, data + off, avail, &cmd, &used);
                if (rc == FTPD_CMD_MORE && used == 0)
                    break;
                off += used;
            }
            free(data);
        }
        closedir(d);
    }
    free(copy);
}
END_TEST

Suite *ftp_ftpcmd_suite(void)
{
    Suite *s = suite_create("ftp/ftpcmd");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"ftpd_cmd_parse", test_cmd_parse},
        {"ftpd_cmd_parse_injection", test_cmd_parse_injection},
        {"ftpd_cmd_parse_telnet", test_cmd_parse_telnet},
        {"ftpd_cmd_parse_long", test_cmd_parse_long},
        {"ftpd_parse_u64", test_parse_u64},
        {"ftpd_parse_rang", test_parse_rang},
        {"ftpd_parse_port", test_parse_port},
        {"ftpd_parse_eprt", test_parse_eprt},
        {"ftpd_parse_time", test_parse_time},
        {"ftpd_list_skip_options", test_list_skip_options},
        {"ftpd_format_list", test_format_list},
        {"ftpd_format_facts", test_format_facts},
        {"ftpd_quote_path", test_quote_path},
        {"ftpd_ascii", test_ascii},
        {"ftpd_hash", test_hash_names},
        {"ftpd_parse_chmod", test_parse_chmod},
        {"ftpd_parse_time_path", test_parse_time_path},
        {"ftpd_same_addr", test_same_addr},
        {"fuzz_regressions", test_fuzz_regressions},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
