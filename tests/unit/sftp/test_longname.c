/* Unit tests for sftp/longname.c: `ls -l` style names of READDIR replies. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <string.h>
#include <sys/stat.h>

#include "gateway/err.h"
#include "sftp/longname.h"

START_TEST(test_mode_string)
{
    char m[11];
    sftpd_mode_string(S_IFREG | 0644, m);
    ck_assert_str_eq(m, "-rw-r--r--");
    sftpd_mode_string(S_IFDIR | 0755, m);
    ck_assert_str_eq(m, "drwxr-xr-x");
    sftpd_mode_string(S_IFLNK | 0777, m);
    ck_assert_str_eq(m, "lrwxrwxrwx");
    sftpd_mode_string(S_IFDIR | 01777, m);
    ck_assert_str_eq(m, "drwxrwxrwt");
    sftpd_mode_string(S_IFREG | 06644, m);
    ck_assert_str_eq(m, "-rwSr-Sr--");
    sftpd_mode_string(S_IFREG | 06755, m);
    ck_assert_str_eq(m, "-rwsr-sr-x");
    sftpd_mode_string(S_IFIFO | 0600, m);
    ck_assert_str_eq(m, "prw-------");
    sftpd_mode_string(S_IFSOCK | 0, m);
    ck_assert_str_eq(m, "s---------");
}
END_TEST

START_TEST(test_longname)
{
    char out[SFTPD_LONGNAME_MAX];
    struct vfs_stat st;
    memset(&st, 0, sizeof st);
    st.mode = S_IFREG | 0644;
    st.nlink = 1;
    st.size = 1234;
    st.mtime = 1700000000; /* 2023-11-14 22:13:20 UTC */
    int64_t now = 1700000000 + 86400;

    int n = sftpd_longname(out, sizeof out, "file.txt", &st, "alice", "alice", now);
    ck_assert_str_eq(out, "-rw-r--r--    1 alice    alice        1234 Nov 14 22:13 file.txt");
    ck_assert_int_eq(n, (int)strlen(out));

    /* Old files show the year; sizes above 4 GiB are printed whole. */
    st.size = 5ull << 32;
    st.mtime = 946684800; /* 2000-01-01 */
    sftpd_longname(out, sizeof out, "big", &st, "a-very-long-user", "g", now);
    ck_assert_str_eq(out, "-rw-r--r--    1 a-very-long-user g        21474836480 Jan  1  2000 big");

    /* Future dates beyond six months also show the year. */
    st.mtime = now + 365 * 86400;
    st.mode = S_IFDIR | 0755;
    st.nlink = 3;
    st.size = 4096;
    sftpd_longname(out, sizeof out, "d", &st, "u", "u", now);
    ck_assert_str_eq(out, "drwxr-xr-x    3 u        u            4096 Nov 14  2024 d");

    ck_assert_int_eq(sftpd_longname(out, 10, "x", &st, "u", "u", now), GW_ERR_TOOLONG);
    ck_assert_str_eq(out, "");

    /* The longest name fits the documented maximum. */
    char name[GW_MAX_NAME + 1], user[GW_MAX_USER_NAME + 1];
    memset(name, 'n', GW_MAX_NAME);
    name[GW_MAX_NAME] = '\0';
    memset(user, 'u', GW_MAX_USER_NAME);
    user[GW_MAX_USER_NAME] = '\0';
    st.size = UINT64_MAX;
    st.nlink = UINT32_MAX;
    st.mtime = INT64_MAX / 2; /* gmtime fails: still formatted */
    ck_assert_int_gt(sftpd_longname(out, sizeof out, name, &st, user, user, now), 0);
}
END_TEST

Suite *sftp_longname_suite(void)
{
    Suite *s = suite_create("sftp/longname");
    TCase *tc = tcase_create("mode_string");
    tcase_add_test(tc, test_mode_string);
    suite_add_tcase(s, tc);
    tc = tcase_create("longname");
    tcase_add_test(tc, test_longname);
    suite_add_tcase(s, tc);
    return s;
}
