/* Unit tests for integrity/verify.c: ig_verify() combining digests, manifests and
 * signatures, against files, manifests and signatures made by the real tools in this
 * run (tests/data/integrity/mkkeys.sh). */
#include <check.h>
#include "tests/unit/testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integrity/verify.h"

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

/* Buffers a test loads; freed together. */
struct loaded {
    char *p[8];
    int n;
};

static char *load(struct loaded *l, const char *name, size_t *len)
{
    char path[4200];
    size_t dummy;
    snprintf(path, sizeof path, "%s/%s", keys, name);
    char *b = tu_read_file(path, len ? len : &dummy);
    ck_assert_int_lt(l->n, 8);
    l->p[l->n++] = b;
    return b;
}

static void unload(struct loaded *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->p[i]);
    l->n = 0;
}

static char file_path[4200];

static const char *kpath(const char *name)
{
    snprintf(file_path, sizeof file_path, "%s/%s", keys, name);
    return file_path;
}

/* The sha256sum of a file in the keys directory, as text. */
static void sha256_of(const char *name, char out[65])
{
    char path[4200];
    ck_assert_int_eq(
        tu_sh("sha256sum < '%s/%s' | cut -c1-64 > '%s/%s.hex'", keys, name, keys, name), 0);
    snprintf(path, sizeof path, "%s/%s.hex", keys, name);
    size_t len;
    char *h = tu_read_file(path, &len);
    memcpy(out, h, 64);
    out[64] = '\0';
    free(h);
}

static struct ig_verify_req base_req(const char *file)
{
    struct ig_verify_req q;
    memset(&q, 0, sizeof q);
    q.path = kpath(file);
    q.fd = -1;
    return q;
}

static void set_manifest(struct loaded *l, struct ig_verify_req *q, const char *name)
{
    q->manifest = load(l, name, &q->manifest_len);
    q->manifest_name = name;
}

static void set_sig(struct loaded *l, struct ig_verify_req *q, const char *sig, const char *key)
{
    size_t len;
    q->sig = (unsigned char *)load(l, sig, &len);
    q->sig_len = len;
    q->trust.key = (unsigned char *)load(l, key, &len);
    q->trust.key_len = len;
}

#define VERDICT(q, want, text)                                                                     \
    do {                                                                                           \
        enum ig_verdict v_ = ig_verify(&(q), &res);                                                \
        ck_assert_msg(v_ == (want), "verdict %s, want %s: %s", ig_verdict_name(v_),                \
                      ig_verdict_name(want), res.reason);                                          \
        ck_assert_msg(strstr(res.reason, text), "reason [%s] lacks [%s]", res.reason, text);       \
    } while (0)

START_TEST(test_digests)
{
    struct ig_verify_result res;
    struct ig_verify_req q = base_req("file.bin");
    char hex[65], wrong[65];
    sha256_of("file.bin", hex);
    q.expect[0].algo = IG_ALGO_SHA256;
    q.expect[0].hex = hex;
    q.n_expect = 1;
    VERDICT(q, IG_VERIFIED, "sha256 matches");
    ck_assert_uint_eq(res.methods, IG_METHOD_DIGEST);
    ck_assert(!res.weak);
    ck_assert_str_eq(res.sha256, hex);
    ck_assert_uint_eq(res.size, 100000);
    ck_assert_int_eq(res.sig_type, IG_SIG_AUTO);
    q.same_channel = true;
    VERDICT(q, IG_VERIFIED, "(weak: digests from the same server");
    ck_assert(res.weak);
    /* Mismatch: the reason names both digests. */
    memcpy(wrong, hex, sizeof wrong);
    wrong[10] = wrong[10] == '0' ? '1' : '0';
    q.expect[0].hex = wrong;
    char want[200];
    snprintf(want, sizeof want, "sha256 mismatch: expected %s got %s", wrong, hex);
    VERDICT(q, IG_FAILED, want);
    ck_assert_str_eq(res.reason, want);
    /* Upper-case hex is fine; several digests must all match. */
    for (int i = 0; i < 64; i++)
        wrong[i] = hex[i] >= 'a' ? (char)(hex[i] - 32) : hex[i];
    q.expect[1].algo = IG_ALGO_MD5;
    q.expect[1].hex = "00000000000000000000000000000000";
    q.n_expect = 2;
    VERDICT(q, IG_FAILED, "md5 mismatch: expected 00000000000000000000000000000000 got ");
    q.n_expect = 1;
    VERDICT(q, IG_VERIFIED, "sha256 matches");
    /* Malformed expectations are the caller's error. */
    q.expect[0].hex = "abc";
    VERDICT(q, IG_ERROR, "expected sha256 digest is not 64 hex digits");
    q.expect[0].algo = IG_ALGO_NONE;
    VERDICT(q, IG_ERROR, "expected none digest");
}
END_TEST

START_TEST(test_policy)
{
    struct ig_verify_result res;
    struct loaded l = {.n = 0};
    struct ig_verify_req q = base_req("file.bin");
    VERDICT(q, IG_UNVERIFIED, "nothing to verify against");
    size_t len;
    q.trust.key = (unsigned char *)load(&l, "m.pub", &len);
    q.trust.key_len = len;
    VERDICT(q, IG_UNVERIFIED, "no signature found and --key given");
    ck_assert_str_eq(res.reason, "no signature found and --key given");
    q.trust.key = NULL;
    q.sig = (unsigned char *)load(&l, "file.bin.minisig", &len);
    q.sig_len = len;
    VERDICT(q, IG_ERROR, "no key to check it with");
    /* The file: missing, a directory, or an fd. */
    set_sig(&l, &q, "file.bin.minisig", "m.pub");
    q.path = "/nonexistent/file";
    VERDICT(q, IG_ERROR, "cannot open /nonexistent/file");
    q.path = keys;
    VERDICT(q, IG_ERROR, "not a regular file");
    q.path = NULL;
    q.fd = open(kpath("file.bin"), O_RDONLY);
    ck_assert_int_ge(q.fd, 0);
    ck_assert_int_eq(lseek(q.fd, 500, SEEK_SET), 500); /* read from 0 whatever the offset */
    VERDICT(q, IG_VERIFIED, "signature by key");
    ck_assert_uint_eq(res.size, 100000);
    set_manifest(&l, &q, "SHA256SUMS");
    q.sig = NULL;
    q.trust.key = NULL;
    VERDICT(q, IG_ERROR, "no file name to look up in SHA256SUMS");
    q.name = "file.bin";
    VERDICT(q, IG_VERIFIED, "sha256 matches SHA256SUMS line 1");
    close(q.fd);
    ck_assert_str_eq(ig_verdict_name(IG_UNVERIFIED), "unverified");
    unload(&l);
}
END_TEST

START_TEST(test_manifests)
{
    struct ig_verify_result res;
    struct loaded l = {.n = 0};
    struct ig_verify_req q = base_req("file.bin");
    set_manifest(&l, &q, "SHA256SUMS");
    VERDICT(q, IG_VERIFIED, "sha256 matches SHA256SUMS line 1");
    ck_assert_uint_eq(res.methods, IG_METHOD_MANIFEST);
    q.same_channel = true;
    VERDICT(q, IG_VERIFIED, "weak");
    ck_assert(res.weak);
    q.same_channel = false;
    /* Named by its path: "./x" and "dir/x" find "x". */
    q.path = kpath("other.txt");
    VERDICT(q, IG_VERIFIED, "SHA256SUMS line 2");
    q.path = kpath("empty");
    VERDICT(q, IG_VERIFIED, "SHA256SUMS line 3");
    q.path = kpath("file.bin");
    q.name = "other.txt"; /* an explicit name is used as is */
    VERDICT(q, IG_FAILED, "sha256 mismatch: expected ");
    ck_assert(strstr(res.reason, "(SHA256SUMS line 2)") != NULL);
    q.name = "missing.iso";
    VERDICT(q, IG_FAILED, "missing.iso is not listed in SHA256SUMS");
    q.name = NULL;
    /* Every algorithm's manifest; 128 digits settled by the name, or by trying both. */
    const char *lists[] = {"SHA512SUMS", "B2SUMS", "MD5SUMS", "SHA256"};
    const char *algos[] = {"sha512", "blake2b", "md5", "sha256"};
    for (int i = 0; i < 4; i++) {
        set_manifest(&l, &q, lists[i]);
        char want[64];
        snprintf(want, sizeof want, "%s matches %s line 1", algos[i], lists[i]);
        VERDICT(q, IG_VERIFIED, want);
    }
    q.manifest_name = NULL;
    VERDICT(q, IG_VERIFIED, "sha256 matches manifest line 1");
    set_manifest(&l, &q, "B2SUMS");
    q.manifest_name = "CHECKSUMS"; /* says nothing: both 512-bit digests are tried */
    VERDICT(q, IG_VERIFIED, "blake2b matches CHECKSUMS line 1");
    q.manifest_hint = IG_ALGO_SHA512; /* a wrong hint is a mismatch, not a pass */
    VERDICT(q, IG_FAILED, "sha512 mismatch");
    unload(&l);

    /* NAME.sha256 holding only the digest applies to the file it was paired with. */
    char hex[65];
    sha256_of("file.bin", hex);
    q.manifest = hex;
    q.manifest_len = 64;
    q.manifest_hint = IG_ALGO_NONE;
    q.manifest_name = "file.bin.sha256";
    VERDICT(q, IG_VERIFIED, "sha256 matches file.bin.sha256 line 1");
    q.path = kpath("other.txt");
    VERDICT(q, IG_FAILED, "sha256 mismatch: expected ");
    q.path = kpath("file.bin");

    /* Malformed manifests say which line is wrong. */
    static const char junk[] = "not a manifest\nSHA256 (x) = 12\n";
    q.manifest = junk;
    q.manifest_len = sizeof junk - 1;
    q.manifest_name = "SHA256SUMS";
    q.manifest_hint = IG_ALGO_NONE;
    VERDICT(q, IG_FAILED, "SHA256SUMS has no valid checksum line (line 1: not a checksum line)");
    static const char partly[] = "0123  file.bin\n"
                                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                                 "  empty\n";
    q.manifest = partly;
    q.manifest_len = sizeof partly - 1;
    VERDICT(q, IG_FAILED, "file.bin is not listed in SHA256SUMS (1 malformed line, first: line 1");
    q.manifest_len = 0;
    VERDICT(q, IG_FAILED, "SHA256SUMS has no checksum line");
}
END_TEST

START_TEST(test_signed_manifests)
{
    struct ig_verify_result res;
    struct loaded l = {.n = 0};
    struct ig_verify_req q = base_req("file.bin");
    const char *sigs[][2] = {{"SHA256SUMS.minisig", "m.pub"},
                             {"SHA256SUMS.sig", "s.pub"},
                             {"SHA256SUMS.rsa.sig", "rsa.pub"},
                             {"SHA256SUMS.asc", "pub.asc"}};
    for (int i = 0; i < 4; i++) {
        set_manifest(&l, &q, "SHA256SUMS");
        set_sig(&l, &q, sigs[i][0], sigs[i][1]);
        q.same_channel = true; /* a signature makes the channel irrelevant */
        VERDICT(q, IG_VERIFIED, "verified (over the manifest); sha256 matches SHA256SUMS line 1");
        ck_assert_uint_eq(res.methods, IG_METHOD_MANIFEST | IG_METHOD_SIGNATURE);
        ck_assert(!res.weak);
        ck_assert(res.signer[0] != '\0');
        unload(&l);
    }
    /* CMS over the manifest, trust from the CA. */
    size_t len;
    set_manifest(&l, &q, "SHA256SUMS");
    q.sig = (unsigned char *)load(&l, "SHA256SUMS.p7s", &len);
    q.sig_len = len;
    q.trust.key = NULL;
    q.trust.ca = (unsigned char *)load(&l, "ca.pem", &len);
    q.trust.ca_len = len;
    VERDICT(q, IG_VERIFIED, "signature by CN=Ferry-Test-Signer verified (over the manifest)");
    ck_assert_int_eq(res.sig_type, IG_SIG_CMS);
    unload(&l);
    q.trust.ca = NULL;

    /* A manifest changed to match a substituted file: the signature catches it. */
    char *dir = tu_mkdtemp("verify"), path[4200];
    char *data = load(&l, "file.bin", &len);
    data[0] ^= 1;
    snprintf(path, sizeof path, "%s/file.bin", dir);
    tu_write_file(path, data, len);
    ck_assert_int_eq(tu_sh("cd '%s' && sha256sum file.bin > SHA256SUMS", dir), 0);
    snprintf(path, sizeof path, "%s/SHA256SUMS", dir);
    q.manifest = tu_read_file(path, &q.manifest_len);
    q.manifest_name = "SHA256SUMS";
    set_sig(&l, &q, "SHA256SUMS.minisig", "m.pub");
    snprintf(path, sizeof path, "%s/file.bin", dir);
    q.path = path;
    VERDICT(q, IG_FAILED, "bad minisign signature: signature verification failed");
    /* The signed manifest and the substituted file: the digest catches it. */
    free((char *)q.manifest);
    set_manifest(&l, &q, "SHA256SUMS");
    VERDICT(q, IG_FAILED, "sha256 mismatch: expected ");
    ck_assert(strstr(res.reason, "(SHA256SUMS line 1)") != NULL);
    ck_assert_uint_eq(res.methods, IG_METHOD_SIGNATURE); /* the signature itself passed */
    /* Wrong key for the manifest's signature. */
    q.path = kpath("file.bin");
    set_sig(&l, &q, "SHA256SUMS.minisig", "m2.pub");
    VERDICT(q, IG_FAILED, "was made by key");
    unload(&l);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_signify_embedded)
{
    struct ig_verify_result res;
    struct loaded l = {.n = 0};
    struct ig_verify_req q = base_req("other.txt");
    set_sig(&l, &q, "SHA256.sig", "s.pub");
    VERDICT(q, IG_VERIFIED, "verified (over the manifest); sha256 matches manifest line 2");
    /* With the same manifest given separately: fine; with another one: refused. */
    set_manifest(&l, &q, "SHA256");
    VERDICT(q, IG_VERIFIED, "sha256 matches SHA256 line 2");
    set_manifest(&l, &q, "SHA256SUMS");
    VERDICT(q, IG_FAILED, "the manifest differs from the one embedded");
    unload(&l);
    /* An embedded manifest that does not list the file. */
    q = base_req("empty");
    set_sig(&l, &q, "SHA256.sig", "s.pub");
    VERDICT(q, IG_FAILED, "empty is not listed in manifest");
    unload(&l);
}
END_TEST

START_TEST(test_signed_files)
{
    struct ig_verify_result res;
    struct loaded l = {.n = 0};
    const char *sigs[][3] = {
        {"file.bin.minisig", "m.pub", "minisign"},
        {"file.bin.legacy.minisig", "m.pub", "minisign"},
        {"file.bin.sig", "s.pub", "signify"},
        {"file.bin.rsa.sig", "rsa.pub", "openssl"},
        {"file.bin.pss.sig", "rsa.pub", "openssl"},
        {"file.bin.ec.sig", "ec.pub", "openssl"},
        {"file.bin.ed.sig", "ed.pub", "openssl"},
        {"file.bin.p7s", "signer.crt", "cms"},
        {"file.bin.gpgsig", "pub.gpg", "gpg"},
        {"file.bin.asc", "pub.asc", "gpg"},
    };
    char hex[65];
    sha256_of("file.bin", hex);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct ig_verify_req q = base_req("file.bin");
        set_sig(&l, &q, sigs[i][0], sigs[i][1]);
        q.same_channel = true;
        VERDICT(q, IG_VERIFIED, " verified");
        ck_assert_str_eq(ig_sigtype_name(res.sig_type), sigs[i][2]);
        ck_assert_uint_eq(res.methods, IG_METHOD_SIGNATURE);
        ck_assert(!res.weak);
        ck_assert_str_eq(res.sha256, hex);
        /* With a digest too: both must hold. */
        q.expect[0].algo = IG_ALGO_SHA256;
        q.expect[0].hex = hex;
        q.n_expect = 1;
        VERDICT(q, IG_VERIFIED, "sha256 matches");
        ck_assert_uint_eq(res.methods, IG_METHOD_SIGNATURE | IG_METHOD_DIGEST);
        /* Another file under the same signature. */
        q.n_expect = 0;
        q.path = kpath("other.txt");
        enum ig_verdict v = ig_verify(&q, &res);
        ck_assert_msg(v == IG_FAILED, "%s over other.txt: %s", sigs[i][0], res.reason);
        unload(&l);
    }
    /* gpgv missing is an error, not a failure. */
    struct ig_verify_req q = base_req("file.bin");
    set_sig(&l, &q, "file.bin.gpgsig", "pub.gpg");
    q.trust.gpgv = "/nonexistent/gpgv";
    VERDICT(q, IG_ERROR, "/nonexistent/gpgv is not installed");
    /* Forcing the wrong type. */
    q.trust.gpgv = NULL;
    q.sig_type = IG_SIG_MINISIGN;
    VERDICT(q, IG_ERROR, "cannot read the minisign public key");
    set_sig(&l, &q, "file.bin.gpgsig", "m.pub");
    VERDICT(q, IG_FAILED, "malformed minisign signature");
    unload(&l);
}
END_TEST

Suite *integrity_verify_suite(void)
{
    Suite *s = suite_create("integrity/verify");
    TCase *tc = tcase_create("ig_verify");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_digests);
    tcase_add_test(tc, test_policy);
    tcase_add_test(tc, test_manifests);
    tcase_add_test(tc, test_signed_manifests);
    tcase_add_test(tc, test_signify_embedded);
    tcase_add_test(tc, test_signed_files);
    suite_add_tcase(s, tc);
    return s;
}
