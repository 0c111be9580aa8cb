/* Unit tests for ftp/ftpd_enc.c: names converted for legacy (non-UTF-8) FTP clients,
 * with escapes for what the client's charset cannot represent. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/ftpd_enc.h"
#include "gateway/err.h"

START_TEST(test_enc_new)
{
    struct ftpd_enc *e = ftpd_enc_new("GBK");
    ck_assert_ptr_nonnull(e);
    ftpd_enc_free(e);
    ck_assert_ptr_null(ftpd_enc_new("NO-SUCH-CHARSET"));
    /* Not ASCII-compatible: names could not be split on '/'. */
    ck_assert_ptr_null(ftpd_enc_new("UTF-16LE"));
    /* JIS X 0201 maps '\\' and '~' to other characters; Windows' CP932 does not. */
    ck_assert_ptr_null(ftpd_enc_new("SHIFT_JIS"));
    e = ftpd_enc_new("CP932");
    ck_assert_ptr_nonnull(e);
    ftpd_enc_free(e);
    ftpd_enc_free(NULL);
}
END_TEST

/* Converts to the client and back, checking both forms. */
static void roundtrip(struct ftpd_enc *e, const char *utf8, const char *client, size_t clen)
{
    struct gw_buf b;
    char back[256];
    size_t n;
    gw_buf_init(&b, 4096);
    ck_assert_int_eq(ftpd_enc_to_client(e, utf8, strlen(utf8), &b), 0);
    ck_assert_uint_eq(b.len, clen);
    ck_assert(memcmp(b.data, client, clen) == 0);
    ck_assert_int_eq(ftpd_enc_from_client(e, b.data, b.len, back, sizeof back, &n), 0);
    ck_assert_uint_eq(n, strlen(utf8));
    ck_assert_str_eq(back, utf8);
    gw_buf_free(&b);
}

START_TEST(test_enc_to_client)
{
    struct ftpd_enc *gbk = ftpd_enc_new("GBK");
    struct ftpd_enc *cyr = ftpd_enc_new("windows-1251");
    ck_assert_ptr_nonnull(gbk);
    ck_assert_ptr_nonnull(cyr);
    /* 中文.txt in GBK: D6 D0 CE C4. */
    roundtrip(gbk, "\xe4\xb8\xad\xe6\x96\x87.txt", "\xd6\xd0\xce\xc4.txt", 8);
    /* Привет in windows-1251. */
    roundtrip(cyr, "\xd0\x9f\xd1\x80\xd0\xb8", "\xcf\xf0\xe8", 3);
    /* Not representable: the euro sign in GBK, Chinese in windows-1251: escaped. */
    roundtrip(cyr,
              "a\xe4\xb8\xad"
              "b",
              "a%E4%B8%ADb", 11);
    /* '%' itself is escaped so "%41" stays a literal name. */
    roundtrip(cyr, "100%41", "100%2541", 8);
    /* Invalid UTF-8 on disk is escaped byte by byte and reachable. */
    roundtrip(gbk,
              "x\xff"
              "y",
              "x%FFy", 5);
    ftpd_enc_free(gbk);
    ftpd_enc_free(cyr);
}
END_TEST

START_TEST(test_enc_from_client)
{
    struct ftpd_enc *gbk = ftpd_enc_new("GBK");
    char out[64];
    size_t n;
    /* A lone lead byte is invalid GBK. */
    ck_assert_int_eq(ftpd_enc_from_client(gbk, "a\xd6", 2, out, sizeof out, &n), GW_ERR_INVAL);
    /* Escapes of ASCII are never decoded: %2F stays, so no path separator appears. */
    ck_assert_int_eq(ftpd_enc_from_client(gbk, "a%2Fb%00%zz%", 12, out, sizeof out, &n), 0);
    ck_assert_str_eq(out, "a%2Fb%00%zz%");
    ck_assert_int_eq(ftpd_enc_from_client(gbk, "abcdef", 6, out, 4, &n), GW_ERR_TOOLONG);
    ftpd_enc_free(gbk);
}
END_TEST

/* Replays tests/data/fuzz-regress/ftpd_enc/ with the fuzz harness's properties: the
 * first byte picks the charset, the rest is a name that must survive to_client and back. */
START_TEST(test_fuzz_regressions)
{
    static const char *const charsets[] = {"GBK", "windows-1251", "CP932", "ISO-8859-1"};
    char *dirpath = strdup(tu_data_path("fuzz-regress/ftpd_enc"));
    DIR *d = opendir(dirpath);
    struct dirent *e;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        char path[4096], back[4096];
        size_t len, m;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        char *data = tu_read_file(path, &len);
        ck_assert_uint_ge(len, 1);
        struct ftpd_enc *enc = ftpd_enc_new(charsets[(unsigned char)data[0] % 4]);
        struct gw_buf b;
        gw_buf_init(&b, 1 << 16);
        ck_assert_int_eq(ftpd_enc_to_client(enc, data + 1, len - 1, &b), 0);
        ck_assert_int_eq(ftpd_enc_from_client(enc, b.data, b.len, back, sizeof back, &m), 0);
        ck_assert_uint_eq(m, len - 1);
        ck_assert(memcmp(back, data + 1, m) == 0);
        gw_buf_free(&b);
        ftpd_enc_free(enc);
        free(data);
    }
    closedir(d);
    free(dirpath);
}
END_TEST

Suite *ftp_ftpd_enc_suite(void)
{
    Suite *s = suite_create("ftp/ftpd_enc");
    TCase *tc = tcase_create("ftpd_enc_new");
    tcase_add_test(tc, test_enc_new);
    suite_add_tcase(s, tc);
    tc = tcase_create("ftpd_enc_to_client");
    tcase_add_test(tc, test_enc_to_client);
    suite_add_tcase(s, tc);
    tc = tcase_create("ftpd_enc_from_client");
    tcase_add_test(tc, test_enc_from_client);
    suite_add_tcase(s, tc);
    tc = tcase_create("fuzz_regressions");
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    return s;
}
