/* Unit tests for integrity/sig.c: every signature type against keys and signatures
 * made by the real tools in this run (tests/data/integrity/mkkeys.sh): minisign,
 * signify-openbsd, openssl dgst/pkeyutl/cms. Each case must verify or be rejected
 * exactly as expected, with a reason that says why. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>

#include "integrity/sig.h"

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

/* Verifies SIG with KEY (and CA) over the file DATA (a name in the keys directory, or
 * an absolute path). Any of key/ca may be NULL. */
static enum ig_sig_status check_file(enum ig_sigtype type, const char *sig, const char *key,
                                     const char *ca, const char *data, struct ig_sig_result *res)
{
    size_t slen, klen = 0, clen = 0;
    char path[4200];
    char *s = load(sig, &slen);
    char *k = key ? load(key, &klen) : NULL;
    char *c = ca ? load(ca, &clen) : NULL;
    if (data[0] == '/')
        snprintf(path, sizeof path, "%s", data);
    else
        snprintf(path, sizeof path, "%s/%s", keys, data);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct ig_trust trust = {
        .key = (unsigned char *)k, .key_len = klen, .ca = (unsigned char *)c, .ca_len = clen};
    struct ig_signed d = {.fd = fd, .path = path};
    enum ig_sig_status st = ig_sig_verify(type, (unsigned char *)s, slen, &trust, &d, res);
    close(fd);
    free(s);
    free(k);
    free(c);
    return st;
}

/* Same, over bytes in memory (a manifest). */
static enum ig_sig_status check_buf(enum ig_sigtype type, const char *sig, const char *key,
                                    const char *ca, const void *buf, size_t len,
                                    struct ig_sig_result *res)
{
    size_t slen, klen = 0, clen = 0;
    char *s = load(sig, &slen);
    char *k = key ? load(key, &klen) : NULL;
    char *c = ca ? load(ca, &clen) : NULL;
    struct ig_trust trust = {
        .key = (unsigned char *)k, .key_len = klen, .ca = (unsigned char *)c, .ca_len = clen};
    struct ig_signed d = {.buf = buf, .len = len, .fd = -1};
    enum ig_sig_status st = ig_sig_verify(type, (unsigned char *)s, slen, &trust, &d, res);
    free(s);
    free(k);
    free(c);
    return st;
}

/* A copy of file.bin with one byte changed, in a fresh directory; returns its path. */
static char *tampered_copy(char **dir)
{
    size_t len;
    char *data = load("file.bin", &len);
    char *path = NULL;
    *dir = tu_mkdtemp("sigt");
    data[len / 2] ^= 1;
    ck_assert_int_ge(asprintf(&path, "%s/file.bin", *dir), 0);
    tu_write_file(path, data, len);
    free(data);
    return path;
}

#define OK(st) ck_assert_msg((st) == IG_SIGV_OK, "want OK: %s", res.reason)
#define BAD(st, text)                                                                              \
    do {                                                                                           \
        enum ig_sig_status st_ = (st);                                                             \
        ck_assert_msg(st_ == IG_SIGV_BAD, "want BAD (%s), got %d: %s", text, st_, res.reason);     \
        ck_assert_msg(strstr(res.reason, text), "reason [%s] lacks [%s]", res.reason, text);       \
    } while (0)
#define ERROR(st, text)                                                                            \
    do {                                                                                           \
        enum ig_sig_status st_ = (st);                                                             \
        ck_assert_msg(st_ == IG_SIGV_ERROR, "want ERROR (%s), got %d: %s", text, st_, res.reason); \
        ck_assert_msg(strstr(res.reason, text), "reason [%s] lacks [%s]", res.reason, text);       \
    } while (0)

START_TEST(test_minisign)
{
    struct ig_sig_result res;
    char id[17], *dir, *bad = tampered_copy(&dir);
    size_t len;
    char *pub = load("m.pub", &len);
    const char *idp = strstr(pub, "public key ") + 11;
    size_t idn = strcspn(idp, "\n");
    ck_assert_uint_le(idn, 16);
    memcpy(id, idp, idn);
    id[idn] = '\0';
    free(pub);

    OK(check_file(IG_SIG_AUTO, "file.bin.minisig", "m.pub", NULL, "file.bin", &res));
    ck_assert_int_eq(res.type, IG_SIG_MINISIGN);
    ck_assert_str_eq(res.signer, id);
    ck_assert_str_eq(res.trusted_comment, "ferry test file");
    ck_assert(strstr(res.reason, "signature by key ") && strstr(res.reason, " verified"));
    OK(check_file(IG_SIG_MINISIGN, "file.bin.legacy.minisig", "m.pub", NULL, "file.bin", &res));
    ck_assert(strstr(res.trusted_comment, "file:file.bin") != NULL);
    /* the key as the bare base64 line (minisign -P) */
    char *k = load("m.pub", &len);
    char *line2 = strchr(k, '\n') + 1;
    size_t slen;
    char *s = load("file.bin.minisig", &slen);
    char *data = load("file.bin", &len);
    struct ig_trust t = {.key = (unsigned char *)line2, .key_len = strlen(line2)};
    struct ig_signed d = {.buf = (unsigned char *)data, .len = len, .fd = -1};
    OK(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, &d, &res));
    /* A precomputed BLAKE2b-512 is used as given: a wrong one fails. */
    struct ig_digests dg = {.mask = IG_ALGO_BIT(IG_ALGO_BLAKE2B)};
    ck_assert_int_eq(ig_hash_buf(IG_ALGO_BLAKE2B, data, len, dg.d[IG_ALGO_BLAKE2B]), 0);
    d.dg = &dg;
    OK(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, &d, &res));
    dg.d[IG_ALGO_BLAKE2B][0] ^= 1;
    BAD(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, &d, &res),
        "signature verification failed");
    /* Altered trusted comment: the global signature catches it. */
    char *tc = strstr(s, "ferry test file");
    tc[0] = 'F';
    d.dg = NULL;
    BAD(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, &d, &res),
        "trusted comment verification failed");
    free(s);
    free(data);
    free(k);

    BAD(check_file(IG_SIG_AUTO, "file.bin.minisig", "m.pub", NULL, bad, &res),
        "signature verification failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.legacy.minisig", "m.pub", NULL, bad, &res),
        "signature verification failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.minisig", "m2.pub", NULL, "file.bin", &res),
        "was made by key");
    BAD(check_file(IG_SIG_AUTO, "file.bin.m2.minisig", "m.pub", NULL, "file.bin", &res),
        "not by the given key");
    /* Over a manifest in memory. */
    char *sums = load("SHA256SUMS", &len);
    OK(check_buf(IG_SIG_AUTO, "SHA256SUMS.minisig", "m.pub", NULL, sums, len, &res));
    sums[0] ^= 1;
    BAD(check_buf(IG_SIG_AUTO, "SHA256SUMS.minisig", "m.pub", NULL, sums, len, &res),
        "signature verification failed");
    free(sums);
    /* A signify key works for minisign's format but is another key. */
    BAD(check_file(IG_SIG_AUTO, "file.bin.minisig", "s.pub", NULL, "file.bin", &res),
        "was made by key");
    /* Unusable key, malformed signature, wrong type forced. */
    ERROR(check_file(IG_SIG_MINISIGN, "file.bin.minisig", "rsa.pub", NULL, "file.bin", &res),
          "cannot read the minisign public key");
    BAD(check_file(IG_SIG_MINISIGN, "m.pub", "m.pub", NULL, "file.bin", &res),
        "malformed minisign signature");
    BAD(check_file(IG_SIG_MINISIGN, "file.bin.sig", "s.pub", NULL, "file.bin", &res),
        "trusted comment");
    tu_rmtree(dir);
    free(dir);
    free(bad);
}
END_TEST

START_TEST(test_signify)
{
    struct ig_sig_result res;
    char *dir, *bad = tampered_copy(&dir);
    size_t len, slen;
    OK(check_file(IG_SIG_AUTO, "file.bin.sig", "s.pub", NULL, "file.bin", &res));
    ck_assert_int_eq(res.type, IG_SIG_SIGNIFY);
    ck_assert_str_eq(res.trusted_comment, "");
    BAD(check_file(IG_SIG_AUTO, "file.bin.sig", "s.pub", NULL, bad, &res),
        "signature verification failed");
    BAD(check_file(IG_SIG_SIGNIFY, "file.bin.sig", "s2.pub", NULL, "file.bin", &res),
        "was made by key");
    /* minisign's prehashed format is not signify's */
    BAD(check_file(IG_SIG_SIGNIFY, "file.bin.minisig", "m.pub", NULL, "file.bin", &res),
        "unsupported signature algorithm");
    char *sums = load("SHA256SUMS", &len);
    OK(check_buf(IG_SIG_AUTO, "SHA256SUMS.sig", "s.pub", NULL, sums, len, &res));
    free(sums);
    /* Embedded message (signify -e): no separate data. */
    char *s = load("SHA256.sig", &slen);
    char *k = load("s.pub", &len);
    char *manifest = load("SHA256", &len);
    struct ig_trust t = {.key = (unsigned char *)k, .key_len = strlen(k)};
    OK(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, NULL, &res));
    ck_assert_uint_eq(res.embedded_len, len);
    ck_assert_mem_eq(res.embedded, manifest, len);
    s[slen - 3] ^= 1; /* inside the embedded manifest */
    BAD(ig_sig_verify(IG_SIG_AUTO, (unsigned char *)s, slen, &t, NULL, &res),
        "signature verification failed");
    /* A detached signature without data cannot be checked. */
    free(s);
    s = load("file.bin.sig", &slen);
    ERROR(ig_sig_verify(IG_SIG_SIGNIFY, (unsigned char *)s, slen, &t, NULL, &res),
          "no embedded message");
    free(s);
    free(k);
    free(manifest);
    tu_rmtree(dir);
    free(dir);
    free(bad);
}
END_TEST

/* Re-encodes a DER ECDSA signature as raw r||s (P1363, as WebCrypto writes it). */
static void ecdsa_to_raw(const char *from, const char *to)
{
    size_t len;
    char *der = load(from, &len);
    const unsigned char *p = (unsigned char *)der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(es);
    unsigned char raw[64];
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", keys, to);
    tu_write_file(path, raw, sizeof raw);
    ECDSA_SIG_free(es);
    free(der);
}

START_TEST(test_openssl)
{
    struct ig_sig_result res;
    char *dir, *bad = tampered_copy(&dir);
    size_t len;
    OK(check_file(IG_SIG_AUTO, "file.bin.rsa.sig", "rsa.pub", NULL, "file.bin", &res));
    ck_assert_int_eq(res.type, IG_SIG_OPENSSL);
    ck_assert(strncmp(res.signer, "RSA-2048 key sha256:", 20) == 0);
    ck_assert_uint_eq(strlen(res.signer), 20 + 64);
    OK(check_file(IG_SIG_AUTO, "file.bin.pss.sig", "rsa.pub", NULL, "file.bin", &res));
    OK(check_file(IG_SIG_AUTO, "file.bin.ec.sig", "ec.pub", NULL, "file.bin", &res));
    ck_assert(strncmp(res.signer, "EC-256 key", 10) == 0);
    OK(check_file(IG_SIG_AUTO, "file.bin.ed.sig", "ed.pub", NULL, "file.bin", &res));
    ck_assert(strncmp(res.signer, "ED25519 key", 11) == 0);
    /* A private key file holds the public key too. */
    OK(check_file(IG_SIG_OPENSSL, "file.bin.rsa.sig", "rsa.pem", NULL, "file.bin", &res));
    ecdsa_to_raw("file.bin.ec.sig", "file.bin.ec.raw");
    OK(check_file(IG_SIG_OPENSSL, "file.bin.ec.raw", "ec.pub", NULL, "file.bin", &res));
    /* A certificate as the key; DER public keys. */
    ck_assert_int_eq(tu_sh("cd '%s' && openssl dgst -sha256 -sign signer.key -out file.bin.crt.sig"
                           " file.bin && openssl pkey -pubin -in ec.pub -outform DER -out ec.der",
                           keys),
                     0);
    OK(check_file(IG_SIG_OPENSSL, "file.bin.crt.sig", "signer.crt", NULL, "file.bin", &res));
    OK(check_file(IG_SIG_OPENSSL, "file.bin.ec.sig", "ec.der", NULL, "file.bin", &res));
    /* Over a manifest in memory. */
    char *sums = load("SHA256SUMS", &len);
    OK(check_buf(IG_SIG_OPENSSL, "SHA256SUMS.rsa.sig", "rsa.pub", NULL, sums, len, &res));
    sums[1] ^= 1;
    BAD(check_buf(IG_SIG_OPENSSL, "SHA256SUMS.rsa.sig", "rsa.pub", NULL, sums, len, &res),
        "verification with RSA-2048 key");
    free(sums);

    /* Tampered data, wrong key, wrong digest algorithm, wrong key type. */
    BAD(check_file(IG_SIG_AUTO, "file.bin.rsa.sig", "rsa.pub", NULL, bad, &res), "failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.pss.sig", "rsa.pub", NULL, bad, &res), "failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.ec.sig", "ec.pub", NULL, bad, &res), "failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.ed.sig", "ed.pub", NULL, bad, &res), "failed");
    BAD(check_file(IG_SIG_AUTO, "file.bin.rsa.sig", "rsa2.pub", NULL, "file.bin", &res),
        "wrong key");
    BAD(check_file(IG_SIG_AUTO, "file.bin.rsa512.sig", "rsa.pub", NULL, "file.bin", &res),
        "not a SHA-256 signature");
    BAD(check_file(IG_SIG_AUTO, "file.bin.rsa.sig", "ec.pub", NULL, "file.bin", &res), "failed");
    BAD(check_file(IG_SIG_OPENSSL, "file.bin.ed.sig", "rsa.pub", NULL, "file.bin", &res), "failed");
    BAD(check_file(IG_SIG_OPENSSL, "empty", "ed.pub", NULL, "file.bin", &res), "failed");
    ERROR(check_file(IG_SIG_OPENSSL, "file.bin.rsa.sig", "m.pub", NULL, "file.bin", &res),
          "cannot read the public key");
    ERROR(check_file(IG_SIG_OPENSSL, "file.bin.rsa.sig", "empty", NULL, "file.bin", &res),
          "cannot read the public key");
    /* An encrypted private key fails at once (no passphrase prompt). */
    ck_assert_int_eq(tu_sh("cd '%s' && openssl genpkey -algorithm ed25519 -aes256 -pass pass:x "
                           "-out enc.pem 2>/dev/null",
                           keys),
                     0);
    ERROR(check_file(IG_SIG_OPENSSL, "file.bin.ed.sig", "enc.pem", NULL, "file.bin", &res),
          "cannot read the public key");
    tu_rmtree(dir);
    free(dir);
    free(bad);
}
END_TEST

START_TEST(test_cms)
{
    struct ig_sig_result res;
    char *dir, *bad = tampered_copy(&dir);
    size_t len;
    OK(check_file(IG_SIG_AUTO, "file.bin.p7s", NULL, "ca.pem", "file.bin", &res));
    ck_assert_int_eq(res.type, IG_SIG_CMS);
    ck_assert_str_eq(res.signer, "CN=Ferry-Test-Signer");
    ck_assert_str_eq(res.reason, "signature by CN=Ferry-Test-Signer verified");
    OK(check_file(IG_SIG_AUTO, "file.bin.p7s.pem", NULL, "ca.pem", "file.bin", &res));
    OK(check_file(IG_SIG_AUTO, "file.bin.p7s", "signer.crt", NULL, "file.bin", &res));
    OK(check_file(IG_SIG_AUTO, "file.bin.p7s", "signer.crt", "ca.pem", "file.bin", &res));
    char *sums = load("SHA256SUMS", &len);
    OK(check_buf(IG_SIG_CMS, "SHA256SUMS.p7s", NULL, "ca.pem", sums, len, &res));
    sums[2] ^= 1;
    BAD(check_buf(IG_SIG_CMS, "SHA256SUMS.p7s", NULL, "ca.pem", sums, len, &res),
        "bad CMS signature");
    free(sums);

    BAD(check_file(IG_SIG_AUTO, "file.bin.p7s", NULL, "ca.pem", bad, &res), "bad CMS signature");
    BAD(check_file(IG_SIG_AUTO, "file.bin.p7s", "signer.crt", NULL, bad, &res),
        "bad CMS signature");
    /* Another CA, another pinned certificate, both. */
    BAD(check_file(IG_SIG_AUTO, "file.bin.p7s", NULL, "ca2.pem", "file.bin", &res),
        "unable to get local issuer certificate");
    BAD(check_file(IG_SIG_AUTO, "file.bin.p7s", "ca2.pem", NULL, "file.bin", &res),
        "none of the pinned certificates");
    BAD(check_file(IG_SIG_AUTO, "file.bin.p7s", "signer.crt", "ca2.pem", "file.bin", &res),
        "bad CMS signature");
    /* Code-signing certificates sign files too; a TLS server certificate does not. */
    OK(check_file(IG_SIG_CMS, "file.bin.codesign.p7s", NULL, "ca.pem", "file.bin", &res));
    BAD(check_file(IG_SIG_CMS, "file.bin.tls.p7s", NULL, "ca.pem", "file.bin", &res),
        "is not for signing");
    BAD(check_file(IG_SIG_CMS, "file.bin.tls.p7s", "tls.crt", NULL, "file.bin", &res),
        "is not for signing");
    /* Attached (opaque) signatures and garbage are refused. */
    BAD(check_file(IG_SIG_CMS, "file.bin.attached.p7s", NULL, "ca.pem", "file.bin", &res),
        "not detached");
    BAD(check_file(IG_SIG_CMS, "file.bin.rsa.sig", NULL, "ca.pem", "file.bin", &res),
        "malformed CMS signature");
    ERROR(check_file(IG_SIG_CMS, "file.bin.p7s", "m.pub", NULL, "file.bin", &res),
          "cannot read a certificate");
    ERROR(check_file(IG_SIG_CMS, "file.bin.p7s", NULL, "empty", "file.bin", &res),
          "cannot read a certificate from the CA file");
    tu_rmtree(dir);
    free(dir);
    free(bad);
}
END_TEST

START_TEST(test_no_key)
{
    struct ig_sig_result res;
    ERROR(check_file(IG_SIG_AUTO, "file.bin.minisig", NULL, NULL, "file.bin", &res),
          "no key given");
    ERROR(check_file(IG_SIG_CMS, "file.bin.p7s", NULL, NULL, "file.bin", &res), "no key given");
    size_t slen;
    char *s = load("file.bin.minisig", &slen);
    char *k = load("m.pub", &slen);
    struct ig_trust t = {.key = (unsigned char *)k, .key_len = strlen(k)};
    ERROR(ig_sig_verify(IG_SIG_MINISIGN, (unsigned char *)s, strlen(s), &t, NULL, &res),
          "no signed data");
    free(s);
    free(k);
}
END_TEST

START_TEST(test_digests_needed)
{
    size_t len;
    char *s = load("file.bin.minisig", &len);
    ck_assert_uint_eq(ig_sig_digests_needed(IG_SIG_AUTO, (unsigned char *)s, len),
                      IG_ALGO_BIT(IG_ALGO_BLAKE2B));
    free(s);
    s = load("file.bin.legacy.minisig", &len);
    ck_assert_uint_eq(ig_sig_digests_needed(IG_SIG_AUTO, (unsigned char *)s, len), 0);
    free(s);
    s = load("file.bin.rsa.sig", &len);
    ck_assert_uint_eq(ig_sig_digests_needed(IG_SIG_AUTO, (unsigned char *)s, len),
                      IG_ALGO_BIT(IG_ALGO_SHA256));
    free(s);
    s = load("file.bin.p7s", &len);
    ck_assert_uint_eq(ig_sig_digests_needed(IG_SIG_AUTO, (unsigned char *)s, len), 0);
    free(s);
}
END_TEST

Suite *integrity_sig_suite(void)
{
    Suite *s = suite_create("integrity/sig");
    TCase *tc = tcase_create("ig_sig_verify");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_minisign);
    tcase_add_test(tc, test_signify);
    tcase_add_test(tc, test_openssl);
    tcase_add_test(tc, test_cms);
    tcase_add_test(tc, test_no_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_sig_digests_needed");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_add_test(tc, test_digests_needed);
    suite_add_tcase(s, tc);
    return s;
}
