/* Unit tests for ftp/listcmd.c: `ferry parse-listing` and `ferry detect-encoding` called
 * directly, with stdin and stdout redirected to files (Check runs each test in its own
 * process, so the redirections do not leak). tests/integration/t_parse_listing.sh drives the
 * real binary against a real FTP server. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/listcmd.h"

/* Runs cmd with argv (NULL-terminated) on input; returns the exit code, *out the stdout text. */
static int run(int (*cmd)(int, char **), const char *const *args, const char *input, size_t inlen,
               char **out)
{
    char *dir = tu_mkdtemp("listcmd");
    char in_path[4200], out_path[4200], *argv[16];
    int argc = 0;
    size_t len;
    snprintf(in_path, sizeof in_path, "%s/in", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    tu_write_file(in_path, input, inlen);
    ck_assert_ptr_nonnull(freopen(in_path, "rb", stdin));
    ck_assert_ptr_nonnull(freopen(out_path, "wb", stdout));
    for (; args[argc] && argc < 15; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    int rc = cmd(argc, argv);
    fflush(stdout);
    *out = tu_read_file(out_path, &len);
    tu_rmtree(dir);
    free(dir);
    return rc;
}

START_TEST(test_parse_listing)
{
    static const char ls[] = "total 2\r\n"
                             "-rw-r--r-- 1 u g 5 Dec 31 23:59 R\xe9sum\xe9.doc\r\n"
                             "lrwxrwxrwx 1 u g 1 Jan  1  2020 l -> t\r\n"
                             "drwxr-xr-x 2 u g 4096 Jan  2 00:00 100%41 \"q\"\r\n";
    const char *args[] = {"parse-listing", "--now", "2024-01-01T00:30", NULL};
    char *out;
    ck_assert_int_eq(run(lp_cmd_parse_listing, args, ls, sizeof ls - 1, &out), 0);
    ck_assert_str_eq(
        out, "{\"name\": \"R\xc3\xa9sum\xc3\xa9.doc\", \"type\": \"file\", \"size\": 5, "
             "\"mtime\": \"2023-12-31T23:59\", \"target\": null}\n"
             "{\"name\": \"l\", \"type\": \"link\", \"size\": 1, \"mtime\": \"2020-01-01\", "
             "\"target\": \"t\"}\n"
             "{\"name\": \"100%2541 \\\"q\\\"\", \"type\": \"dir\", \"size\": 4096, "
             "\"mtime\": \"2024-01-02T00:00\", \"target\": null}\n");
    free(out);
    const char *utf8[] = {"parse-listing", "--encoding", "utf8", "--listing", "unix", NULL};
    ck_assert_int_eq(run(lp_cmd_parse_listing, utf8, ls, sizeof ls - 1, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"R%E9sum%E9.doc\""));
    free(out);
}
END_TEST

START_TEST(test_parse_listing_usage)
{
    static const char *const bad[][4] = {{"parse-listing", "--listing", "nosuch", NULL},
                                         {"parse-listing", "--encoding", "nosuch", NULL},
                                         {"parse-listing", "--now", "2024-02-30x", NULL},
                                         {"parse-listing", "--now", NULL, NULL},
                                         {"parse-listing", "--what", NULL, NULL},
                                         {"parse-listing", "file.txt", NULL, NULL}};
    char *out;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(run(lp_cmd_parse_listing, bad[i], "", 0, &out), 2);
        ck_assert_str_eq(out, "");
        free(out);
    }
    const char *help[] = {"parse-listing", "--help", NULL};
    ck_assert_int_eq(run(lp_cmd_parse_listing, help, "", 0, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "Usage: ferry parse-listing"));
    free(out);
}
END_TEST

START_TEST(test_detect_encoding)
{
    const char *args[] = {"detect-encoding", NULL};
    char *out;
    ck_assert_int_eq(run(enc_cmd_detect, args, "caf\xe9.txt\n", 9, &out), 0);
    ck_assert(strncmp(out, "windows-1252\n", 13) == 0);
    ck_assert(strlen(out) == 18 && out[17] == '\n'); /* "0.xx\n" or "1.00\n" */
    free(out);
    const char *cand[] = {"detect-encoding", "--candidates", "--hint", "cp1250", NULL};
    ck_assert_int_eq(run(enc_cmd_detect, cand,
                         "\xde"
                         "irket.ppt",
                         10, &out),
                     0);
    ck_assert(strncmp(out, "windows-1250\n", 13) == 0);
    ck_assert_ptr_nonnull(strstr(out, "\nwindows-1250 "));
    free(out);
    const char *utf[] = {"detect-encoding", "--utf8", NULL};
    ck_assert_int_eq(run(enc_cmd_detect, utf, "readme", 6, &out), 0);
    ck_assert_str_eq(out, "UTF-8\n1.00\n");
    free(out);
    const char *bad[] = {"detect-encoding", "--hint", "nosuch", NULL};
    ck_assert_int_eq(run(enc_cmd_detect, bad, "", 0, &out), 2);
    free(out);
    const char *help[] = {"detect-encoding", "--help", NULL};
    ck_assert_int_eq(run(enc_cmd_detect, help, "", 0, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "Shift_JIS"));
    free(out);
}
END_TEST

Suite *ftp_listcmd_suite(void)
{
    Suite *s = suite_create("ftp/listcmd");
    TCase *tc = tcase_create("lp_cmd_parse_listing");
    tcase_add_test(tc, test_parse_listing);
    tcase_add_test(tc, test_parse_listing_usage);
    suite_add_tcase(s, tc);
    tc = tcase_create("enc_cmd_detect");
    tcase_add_test(tc, test_detect_encoding);
    suite_add_tcase(s, tc);
    return s;
}
