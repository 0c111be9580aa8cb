/* Unit tests for integrity/sigfile.c: minisign/signify files, OpenPGP armor, type
 * detection. Keys and signatures are made by the real tools for this run
 * (tests/data/integrity/mkkeys.sh). */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integrity/sigfile.h"

static const char *keys; /* directory made by mkkeys.sh, shared by the integrity suites */
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

/* The key id minisign prints in the public key's comment. */
static void minisign_id(const char *pub, char out[17])
{
    const char *p = strstr(pub, "public key ");
    ck_assert_ptr_nonnull(p);
    size_t n = strcspn(p + 11, "\n");
    ck_assert_uint_le(n, 16);
    memcpy(out, p + 11, n);
    out[n] = '\0';
}

START_TEST(test_keys)
{
    size_t len;
    struct ig_edkey k, k2;
    char id[17], want[17];
    char *pub = load("m.pub", &len);
    ck_assert_int_eq(ig_edkey_parse(pub, len, &k), 0);
    ig_keynum_hex(k.keynum, id);
    minisign_id(pub, want);
    ck_assert_str_eq(id, want);
    /* The bare base64 line (minisign -P) gives the same key. */
    char *line2 = strchr(pub, '\n') + 1;
    ck_assert_int_eq(ig_edkey_parse(line2, strlen(line2), &k2), 0);
    ck_assert_mem_eq(&k, &k2, sizeof k);
    /* Truncated, damaged, wrong comment. */
    ck_assert_int_eq(ig_edkey_parse(pub, (size_t)(line2 - pub), &k2), -IG_SF_TRUNCATED);
    ck_assert_int_eq(ig_edkey_parse(pub, (size_t)(line2 - pub) + 20, &k2), -IG_SF_LENGTH);
    ck_assert_int_eq(ig_edkey_parse(pub, (size_t)(line2 - pub) + 21, &k2), -IG_SF_BASE64);
    ck_assert_int_eq(ig_edkey_parse("", 0, &k2), -IG_SF_TRUNCATED);
    ck_assert_int_eq(ig_edkey_parse("untrusted comment:x\nAAAA\n", 25, &k2), -IG_SF_COMMENT);
    ck_assert_int_eq(ig_edkey_parse("untrusted comment: x\nAAAA\n", 26, &k2), -IG_SF_LENGTH);
    line2[1] = 'X'; /* "RW" -> "RX": the algorithm bytes change */
    ck_assert_int_eq(ig_edkey_parse(pub, len, &k2), -IG_SF_ALGO);
    free(pub);
    pub = load("s.pub", &len);
    ck_assert_int_eq(ig_edkey_parse(pub, len, &k), 0);
    free(pub);
}
END_TEST

START_TEST(test_minisign_sigs)
{
    size_t len, klen;
    struct ig_edsig s;
    struct ig_edkey k;
    char *pub = load("m.pub", &klen);
    ck_assert_int_eq(ig_edkey_parse(pub, klen, &k), 0);
    char *sig = load("file.bin.minisig", &len);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_MINISIGN, &s), 0);
    ck_assert(s.prehashed);
    ck_assert(s.has_trusted);
    ck_assert_mem_eq(s.keynum, k.keynum, IG_KEYNUM_LEN);
    ck_assert_uint_eq(s.trusted_len, strlen("ferry test file"));
    ck_assert_mem_eq(s.trusted, "ferry test file", s.trusted_len);
    ck_assert_ptr_null(s.embedded);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_AUTO, &s), 0);
    ck_assert(s.has_trusted);
    /* As signify it is refused: prehashed signatures are minisign's alone. */
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_SIGNIFY, &s), -IG_SF_ALGO);
    /* Every truncation point gives an error, never a crash or a half-filled success. */
    for (size_t cut = 0; cut < len - 1; cut++) {
        int rc = ig_edsig_parse(sig, cut, IG_SIG_MINISIGN, &s);
        ck_assert_msg(rc < 0, "truncated at %zu parsed", cut);
    }
    /* No trusted comment line. */
    char *third = strstr(sig, "trusted comment: ");
    third = strstr(third + 1, "trusted comment: ");
    ck_assert_ptr_nonnull(third);
    ck_assert_int_eq(ig_edsig_parse(sig, (size_t)(third - sig), IG_SIG_MINISIGN, &s),
                     -IG_SF_TRUSTED);
    third[0] = 'T';
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_MINISIGN, &s), -IG_SF_TRUSTED);
    free(sig);
    sig = load("file.bin.legacy.minisig", &len);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_MINISIGN, &s), 0);
    ck_assert(!s.prehashed);
    ck_assert(s.has_trusted);
    free(sig);
    /* Huge line. */
    size_t big = IG_SIGFILE_MAX_LINE + 100;
    char *huge = malloc(big + 40);
    memcpy(huge, "untrusted comment: ", 19);
    memset(huge + 19, 'a', big);
    ck_assert_int_eq(ig_edsig_parse(huge, big + 19, IG_SIG_AUTO, &s), -IG_SF_TOOLONG);
    free(huge);
    free(pub);
}
END_TEST

START_TEST(test_signify_sigs)
{
    size_t len;
    struct ig_edsig s;
    char *sig = load("file.bin.sig", &len);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_SIGNIFY, &s), 0);
    ck_assert(!s.prehashed);
    ck_assert(!s.has_trusted);
    ck_assert_ptr_null(s.embedded);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_AUTO, &s), 0);
    ck_assert(!s.has_trusted);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_MINISIGN, &s), -IG_SF_TRUSTED);
    free(sig);
    /* signify -e: the manifest follows the signature lines. */
    size_t mlen;
    char *manifest = load("SHA256", &mlen);
    sig = load("SHA256.sig", &len);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_SIGNIFY, &s), 0);
    ck_assert_ptr_nonnull(s.embedded);
    ck_assert_uint_eq(s.embedded_len, mlen);
    ck_assert_mem_eq(s.embedded, manifest, mlen);
    ck_assert_int_eq(ig_edsig_parse(sig, len, IG_SIG_AUTO, &s), 0);
    ck_assert_uint_eq(s.embedded_len, mlen);
    free(sig);
    free(manifest);
    /* Wrong length and garbage base64. */
    const char *shortsig = "untrusted comment: x\nRWQAAAAAAAAAAAAA\n";
    ck_assert_int_eq(ig_edsig_parse(shortsig, strlen(shortsig), IG_SIG_SIGNIFY, &s), -IG_SF_LENGTH);
    const char *bad = "untrusted comment: x\n!!!!\n";
    ck_assert_int_eq(ig_edsig_parse(bad, strlen(bad), IG_SIG_SIGNIFY, &s), -IG_SF_BASE64);
    ck_assert_int_eq(ig_edsig_parse("no comment\n", 11, IG_SIG_SIGNIFY, &s), -IG_SF_COMMENT);
}
END_TEST

START_TEST(test_keynum_hex)
{
    const unsigned char kn[8] = {0xf3, 0x35, 0x59, 0x13, 0x68, 0xf8, 0x20, 0xd1};
    char out[17];
    ig_keynum_hex(kn, out);
    ck_assert_str_eq(out, "D120F868135935F3"); /* little-endian, as minisign prints it */
    const unsigned char lead[8] = {0x7d, 0x9e, 0x16, 0x1a, 0x24, 0x75, 0x09, 0x09};
    ig_keynum_hex(lead, out);
    ck_assert_str_eq(out, "90975241A169E7D"); /* no leading zero, as minisign */
    const unsigned char zero[8] = {0};
    ig_keynum_hex(zero, out);
    ck_assert_str_eq(out, "0");
}
END_TEST

START_TEST(test_dearmor)
{
    size_t alen, blen;
    char *armored = load("pub.asc", &alen);
    ck_assert_int_eq(tu_sh("gpg --dearmor < '%s/pub.asc' > '%s/pub.dearmored'", keys, keys), 0);
    char *binary = load("pub.dearmored", &blen);
    unsigned char *out = malloc(alen);
    ck_assert(ig_pgp_is_armored(armored, alen));
    ck_assert(!ig_pgp_is_armored(binary, blen));
    ck_assert_int_eq(ig_pgp_dearmor(armored, alen, out, alen), (long)blen);
    ck_assert_mem_eq(out, binary, blen);
    /* Too small an output, no END line, bad characters, no block at all. */
    ck_assert_int_eq(ig_pgp_dearmor(armored, alen, out, blen / 2), -IG_SF_TOOLONG);
    char *end = strstr(armored, "-----END");
    ck_assert_int_eq(ig_pgp_dearmor(armored, (size_t)(end - armored), out, alen), -IG_SF_ARMOR);
    char *body = strstr(armored, "\n\n") + 2;
    body[3] = '*';
    ck_assert_int_eq(ig_pgp_dearmor(armored, alen, out, alen), -IG_SF_ARMOR);
    ck_assert_int_eq(ig_pgp_dearmor("hello\n", 6, out, alen), -IG_SF_ARMOR);
    /* Without headers or the blank line, as some tools write it. */
    const char *bare =
        "-----BEGIN PGP SIGNATURE-----\naGVsbG8=\n=AAAA\n-----END PGP SIGNATURE-----\n";
    ck_assert_int_eq(ig_pgp_dearmor(bare, strlen(bare), out, alen), 5);
    ck_assert_mem_eq(out, "hello", 5);
    free(out);
    free(binary);
    free(armored);
}
END_TEST

START_TEST(test_detect)
{
    static const struct {
        const char *file;
        enum ig_sigtype type;
    } cases[] = {
        {"file.bin.minisig", IG_SIG_MINISIGN}, {"file.bin.legacy.minisig", IG_SIG_MINISIGN},
        {"file.bin.sig", IG_SIG_SIGNIFY},      {"SHA256.sig", IG_SIG_SIGNIFY},
        {"file.bin.rsa.sig", IG_SIG_OPENSSL},  {"file.bin.pss.sig", IG_SIG_OPENSSL},
        {"file.bin.ec.sig", IG_SIG_OPENSSL},   {"file.bin.ed.sig", IG_SIG_OPENSSL},
        {"file.bin.p7s", IG_SIG_CMS},          {"file.bin.p7s.pem", IG_SIG_CMS},
        {"file.bin.gpgsig", IG_SIG_GPG},       {"file.bin.asc", IG_SIG_GPG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *sig = load(cases[i].file, &len);
        ck_assert_msg(ig_sigtype_detect((unsigned char *)sig, len) == cases[i].type, "%s: %s",
                      cases[i].file, ig_sigtype_name(ig_sigtype_detect((unsigned char *)sig, len)));
        free(sig);
    }
    ck_assert_int_eq(ig_sigtype_detect((const unsigned char *)"", 0), IG_SIG_OPENSSL);
    /* Random bytes (an RSA signature) that start like an OpenPGP packet are not one; the
     * lengths of real packets must add up to the file. */
    unsigned char fake[260];
    memset(fake, 0x55, sizeof fake);
    const size_t flen = 256;
    const unsigned char firsts[] = {0x88, 0x89, 0x8a, 0xc2};
    for (size_t i = 0; i < sizeof firsts; i++) {
        fake[0] = firsts[i];
        ck_assert_int_eq(ig_sigtype_detect(fake, flen), IG_SIG_OPENSSL);
    }
    fake[0] = 0x88; /* old format, 1-byte length 254: one version-4 packet, exactly */
    fake[1] = 254;
    fake[2] = 4;
    ck_assert_int_eq(ig_sigtype_detect(fake, flen), IG_SIG_GPG);
    fake[2] = 6;
    ck_assert_int_eq(ig_sigtype_detect(fake, flen), IG_SIG_OPENSSL);
    fake[0] = 0xc2; /* new format, two-octet length 192 + 62 = 254 */
    fake[1] = 192;
    fake[2] = 62;
    fake[3] = 4;
    ck_assert_int_eq(ig_sigtype_detect(fake, 3 + 254), IG_SIG_GPG);
    ck_assert_int_eq(ig_sigtype_detect(fake, 3 + 253), IG_SIG_OPENSSL);
    /* A damaged minisign file still goes to the minisign parser for its error message. */
    const char *broken = "untrusted comment: x\nzz\ntrusted comment: y\n";
    ck_assert_int_eq(ig_sigtype_detect((const unsigned char *)broken, strlen(broken)),
                     IG_SIG_MINISIGN);
    ck_assert_int_eq(ig_sigtype_from_name("gpg"), IG_SIG_GPG);
    ck_assert_int_eq(ig_sigtype_from_name("pkcs7"), IG_SIG_CMS);
    ck_assert_int_eq(ig_sigtype_from_name("auto"), IG_SIG_AUTO);
    ck_assert_int_eq(ig_sigtype_from_name("x509"), -1);
    ck_assert_str_eq(ig_sigtype_name(IG_SIG_SIGNIFY), "signify");
    ck_assert_str_eq(ig_sigfile_strerror(-IG_SF_TRUNCATED), "truncated");
}
END_TEST

/* Inputs the fuzzers found are replayed through every parser of this file. */
START_TEST(test_fuzz_regressions)
{
    const char *sub[] = {"fuzz-regress/minisig"};
    for (size_t d = 0; d < sizeof sub / sizeof sub[0]; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", tu_data_path(sub[d]));
        DIR *dp = opendir(dir);
        if (!dp)
            continue;
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4400];
            size_t len;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            char *buf = tu_read_file(path, &len);
            struct ig_edkey k;
            struct ig_edsig s;
            unsigned char *out = malloc(len + 1);
            (void)ig_edkey_parse(buf, len, &k);
            for (int t = IG_SIG_AUTO; t <= IG_SIG_SIGNIFY; t++)
                (void)ig_edsig_parse(buf, len, (enum ig_sigtype)t, &s);
            (void)ig_pgp_dearmor(buf, len, out, len);
            (void)ig_sigtype_detect((unsigned char *)buf, len);
            free(out);
            free(buf);
        }
        closedir(dp);
    }
}
END_TEST

Suite *integrity_sigfile_suite(void)
{
    Suite *s = suite_create("integrity/sigfile");
    TCase *tc = tcase_create("ig_edkey_parse");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_add_test(tc, test_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_edsig_parse");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_add_test(tc, test_minisign_sigs);
    tcase_add_test(tc, test_signify_sigs);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_keynum_hex");
    tcase_add_test(tc, test_keynum_hex);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_pgp_dearmor");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_add_test(tc, test_dearmor);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_sigtype_detect");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_add_test(tc, test_detect);
    suite_add_tcase(s, tc);
    return s;
}
