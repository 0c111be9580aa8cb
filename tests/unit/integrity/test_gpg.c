/* Unit tests for integrity/gpg.c: gpgv status parsing, and OpenPGP signatures made by
 * gpg in this run (tests/data/integrity/mkkeys.sh) checked through the real gpgv. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integrity/gpg.h"

static const char *keys;
static pid_t keys_owner;

static void keys_remove(void)
{
    if (getpid() == keys_owner) /* not in Check's forked children */
        tu_rmtree(keys);
}

/* Makes the keys once per run: the first suite to need them exports the directory in
 * FERRY_IG_KEYS and removes it when the runner exits. */
static void keys_setup(void)
{
    keys = getenv("FERRY_IG_KEYS");
    if (keys && *keys)
        return;
    char *dir = tu_mkdtemp("igkeys");
    if (tu_sh("sh '%s' '%s' >/dev/null", tu_data_path("integrity/mkkeys.sh"), dir) != 0)
        fprintf(stderr, "mkkeys.sh failed in %s\n", dir);
    setenv("FERRY_IG_KEYS", dir, 1);
    free(dir);
    keys = getenv("FERRY_IG_KEYS");
    keys_owner = getpid();
    atexit(keys_remove);
}

static char *load(const char *name, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", keys, name);
    return tu_read_file(path, len);
}

static enum ig_sig_status check(const char *sig, const char *key, const char *data,
                                const char *gpgv, struct ig_sig_result *res)
{
    size_t slen, klen;
    char path[4200];
    char *s = load(sig, &slen);
    char *k = load(key, &klen);
    if (data[0] == '/')
        snprintf(path, sizeof path, "%s", data);
    else
        snprintf(path, sizeof path, "%s/%s", keys, data);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct ig_trust t = {.key = (unsigned char *)k, .key_len = klen, .gpgv = gpgv};
    struct ig_signed d = {.fd = fd};
    enum ig_sig_status st = ig_gpg_verify((unsigned char *)s, slen, &t, &d, res);
    close(fd);
    free(s);
    free(k);
    return st;
}

/* gpg's own idea of the signing key's fingerprint. */
static void fingerprint(char out[64])
{
    char path[4200];
    ck_assert_int_eq(tu_sh("GNUPGHOME='%s/gnupg' gpg --batch --with-colons --fingerprint "
                           "ferry@example.org 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}' "
                           "> '%s/fpr'",
                           keys, keys),
                     0);
    snprintf(path, sizeof path, "%s/fpr", keys);
    size_t len;
    char *f = tu_read_file(path, &len);
    ck_assert_uint_eq(len, 41);
    memcpy(out, f, 40);
    out[40] = '\0';
    free(f);
}

START_TEST(test_status_parse)
{
    struct ig_gpg_status st;
    const char *good = "[GNUPG:] NEWSIG\n"
                       "[GNUPG:] KEY_CONSIDERED 73D0 0\n"
                       "[GNUPG:] GOODSIG ECCC554FCA4C41F6 Test Signer <t@example.org>\n"
                       "[GNUPG:] VALIDSIG 73D010E2FE370F52A00F7E6BECCC554FCA4C41F6 2026-11-28 "
                       "1795875821 0 4 0 22 8 00 73D010E2FE370F52A00F7E6BECCC554FCA4C41F6\n";
    ig_gpg_status_parse(good, strlen(good), &st);
    ck_assert_uint_eq(st.goodsig, 1);
    ck_assert_uint_eq(st.validsig, 1);
    ck_assert_uint_eq(st.badsig + st.errsig, 0);
    ck_assert_str_eq(st.keyid, "ECCC554FCA4C41F6");
    ck_assert_str_eq(st.uid, "Test Signer <t@example.org>");
    ck_assert_str_eq(st.fpr, "73D010E2FE370F52A00F7E6BECCC554FCA4C41F6");
    const char *bad = "[GNUPG:] BADSIG ECCC554FCA4C41F6 Mallory\x01 <m@x>\n"
                      "gpgv: not a status line GOODSIG\n"
                      "[GNUPG:] GOODSIGNATURE is not GOODSIG\n"
                      "[GNUPG:] EXPKEYSIG AB Old\n"
                      "[GNUPG:] ERRSIG ECCC554FCA4C41F6 22 8 00 1795875821 9 -\n"
                      "[GNUPG:] NO_PUBKEY ECCC554FCA4C41F6\n"
                      "[GNUPG:] NODATA 1\n"
                      "[GNUPG:] GOODSIG"; /* no newline, no argument */
    ig_gpg_status_parse(bad, strlen(bad), &st);
    ck_assert_uint_eq(st.badsig, 2);
    ck_assert_uint_eq(st.errsig, 1);
    ck_assert_uint_eq(st.goodsig, 1);
    ck_assert(st.no_pubkey);
    ck_assert(st.nodata);
    ck_assert_str_eq(st.keyid, "ECCC554FCA4C41F6");
    ck_assert_str_eq(st.uid, "Mallory? <m@x>");
    ig_gpg_status_parse("", 0, &st);
    ck_assert_uint_eq(st.goodsig + st.validsig + st.badsig + st.errsig, 0);
}
END_TEST

START_TEST(test_gpgv)
{
    struct ig_sig_result res;
    char fpr[64], want[256];
    fingerprint(fpr);
    ck_assert_int_eq(check("file.bin.gpgsig", "pub.gpg", "file.bin", NULL, &res), IG_SIGV_OK);
    snprintf(want, sizeof want, "signature by key %s (Ferry Test <ferry@example.org>) verified",
             fpr);
    ck_assert_str_eq(res.reason, want);
    ck_assert(strncmp(res.signer, fpr, 40) == 0);
    /* Armored signature, armored key (gpgv itself reads no armored keyring). */
    ck_assert_int_eq(check("file.bin.asc", "pub.asc", "file.bin", NULL, &res), IG_SIGV_OK);
    ck_assert_int_eq(check("file.bin.asc", "pub.gpg", "file.bin", NULL, &res), IG_SIGV_OK);
    /* The keybox of the signing home works as a keyring too. */
    ck_assert_int_eq(check("file.bin.gpgsig", "gnupg/pubring.kbx", "file.bin", NULL, &res),
                     IG_SIGV_OK);
    /* Over bytes in memory. */
    size_t len, slen, klen;
    char *sums = load("SHA256SUMS", &len);
    char *s = load("SHA256SUMS.asc", &slen);
    char *k = load("pub.asc", &klen);
    struct ig_trust t = {.key = (unsigned char *)k, .key_len = klen};
    struct ig_signed d = {.buf = (unsigned char *)sums, .len = len, .fd = -1};
    ck_assert_int_eq(ig_gpg_verify((unsigned char *)s, slen, &t, &d, &res), IG_SIGV_OK);
    sums[0] ^= 1;
    ck_assert_int_eq(ig_gpg_verify((unsigned char *)s, slen, &t, &d, &res), IG_SIGV_BAD);
    ck_assert_msg(strstr(res.reason, "bad OpenPGP signature from key"), "%s", res.reason);
    free(sums);
    free(s);
    free(k);
}
END_TEST

START_TEST(test_gpgv_rejects)
{
    struct ig_sig_result res;
    char *dir = tu_mkdtemp("gpgt"), path[4200];
    size_t len;
    char *data = load("file.bin", &len);
    data[7] ^= 0x40;
    snprintf(path, sizeof path, "%s/file.bin", dir);
    tu_write_file(path, data, len);
    free(data);
    ck_assert_int_eq(check("file.bin.gpgsig", "pub.gpg", path, NULL, &res), IG_SIGV_BAD);
    ck_assert_msg(strstr(res.reason, "bad OpenPGP signature from key") &&
                      strstr(res.reason, "Ferry Test"),
                  "%s", res.reason);
    ck_assert_int_eq(check("file.bin.asc", "pub.asc", path, NULL, &res), IG_SIGV_BAD);
    /* Signed by a key that is not in the keyring. */
    ck_assert_int_eq(check("file.bin.other.gpgsig", "pub.gpg", "file.bin", NULL, &res),
                     IG_SIGV_BAD);
    ck_assert_msg(strstr(res.reason, "not in the given keyring"), "%s", res.reason);
    ck_assert_int_eq(check("file.bin.gpgsig", "pub2.gpg", "file.bin", NULL, &res), IG_SIGV_BAD);
    /* Not a signature; a broken armored key. */
    ck_assert_int_eq(check("file.bin.minisig", "pub.gpg", "file.bin", NULL, &res), IG_SIGV_BAD);
    ck_assert_msg(strstr(res.reason, "no signature found"), "%s", res.reason);
    tu_write_file(path, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!\n", 41);
    char rel[4300];
    snprintf(rel, sizeof rel, "%s/file.bin", dir);
    size_t slen, klen;
    char *s = load("file.bin.asc", &slen);
    char *k = tu_read_file(rel, &klen);
    char *d = load("file.bin", &len);
    struct ig_trust t = {.key = (unsigned char *)k, .key_len = klen};
    struct ig_signed sd = {.buf = (unsigned char *)d, .len = len, .fd = -1};
    ck_assert_int_eq(ig_gpg_verify((unsigned char *)s, slen, &t, &sd, &res), IG_SIGV_ERROR);
    ck_assert_msg(strstr(res.reason, "cannot read the OpenPGP key"), "%s", res.reason);
    free(s);
    free(k);
    free(d);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_gpgv_missing)
{
    struct ig_sig_result res;
    ck_assert_int_eq(check("file.bin.gpgsig", "pub.gpg", "file.bin", "/nonexistent/gpgv", &res),
                     IG_SIGV_ERROR);
    ck_assert_str_eq(res.reason, "cannot check the OpenPGP signature: /nonexistent/gpgv is not "
                                 "installed (Debian package gpgv)");
    ck_assert_int_eq(check("file.bin.gpgsig", "pub.gpg", "file.bin", "no-such-gpgv-here", &res),
                     IG_SIGV_ERROR);
    ck_assert(strstr(res.reason, "is not installed") != NULL);
    /* A "gpgv" that says nothing is not a verification. */
    ck_assert_int_eq(check("file.bin.gpgsig", "pub.gpg", "file.bin", "/bin/true", &res),
                     IG_SIGV_BAD);
    ck_assert(strstr(res.reason, "not verified") != NULL);
}
END_TEST

Suite *integrity_gpg_suite(void)
{
    Suite *s = suite_create("integrity/gpg");
    TCase *tc = tcase_create("ig_gpg_status_parse");
    tcase_add_test(tc, test_status_parse);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_gpg_verify");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gpgv);
    tcase_add_test(tc, test_gpgv_rejects);
    tcase_add_test(tc, test_gpgv_missing);
    suite_add_tcase(s, tc);
    return s;
}
