/* Unit tests for gateway/cmd_integrity.c: `ferry hash` output against coreutils byte for
 * byte, and `ferry verify`'s exit codes, reason lines and JSON, with keys and
 * signatures made by the real tools in this run (tests/data/integrity/mkkeys.sh). */
#include <check.h>
#include "tests/unit/testutil.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/cmd_integrity.h"

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

/* What one command run printed. */
struct out {
    int rc;
    char *out, *err;
};

static void out_free(struct out *o)
{
    free(o->out);
    free(o->err);
}

/* Runs fn with the NULL-terminated arguments, in directory dir (or the keys directory),
 * stdin from in_file (or /dev/null), capturing stdout and stderr. */
static struct out run(int (*fn)(int, char **), const char *in_file, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, in_file);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char op[4200], ep[4200];
    snprintf(op, sizeof op, "%s/cmd.out", keys);
    snprintf(ep, sizeof ep, "%s/cmd.err", keys);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2), si = dup(0);
    int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fi = open(in_file ? in_file : "/dev/null", O_RDONLY);
    ck_assert(so >= 0 && se >= 0 && si >= 0 && fo >= 0 && fe >= 0 && fi >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    dup2(fi, 0);
    struct out o;
    o.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    dup2(si, 0);
    close(so), close(se), close(si), close(fo), close(fe), close(fi);
    clearerr(stdin);
    o.out = tu_read_file(op, NULL);
    o.err = tu_read_file(ep, NULL);
    return o;
}

/* Output of a shell command run in the keys directory. */
static char *sh_out(const char *cmd)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sh.out", keys);
    ck_assert_int_eq(tu_sh("cd '%s' && %s > sh.out", keys, cmd), 0);
    return tu_read_file(path, NULL);
}

static void make_odd_names(void)
{
    ck_assert_int_eq(tu_sh("cd '%s' && mkdir -p odd && cd odd && printf a > 'back\\slash' && "
                           "printf b > \"$(printf 'new\\nline')\" && printf c > \"$(printf "
                           "'cr\\rname')\" && printf d > ' lead' && printf e > plain",
                           keys),
                     0);
}

START_TEST(test_hash_like_coreutils)
{
    static const char *const algos[][2] = {{"sha256", "sha256sum"}, {"sha512", "sha512sum"},
                                           {"sha1", "sha1sum"},     {"md5", "md5sum"},
                                           {"blake2b", "b2sum"},    {"sha384", "sha384sum"}};
    make_odd_names();
    ck_assert_int_eq(chdir(keys), 0);
    char *odd[] = {"odd/back\\slash", "odd/new\nline", "odd/cr\rname", "odd/ lead",
                   "odd/plain",       "file.bin",      "empty"};
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++) {
        char cmd[256];
        const char *flags[] = {"", "--tag", "-b"};
        for (size_t f = 0; f < 3; f++) {
            snprintf(cmd, sizeof cmd, "%s %s odd/* file.bin empty", algos[i][1], flags[f]);
            char *want = sh_out(cmd);
            struct out o = f == 0
                               ? run(gw_cmd_hash, NULL, "hash", "--algo", (char *)algos[i][0],
                                     odd[0], odd[1], odd[2], odd[3], odd[4], odd[5], odd[6], NULL)
                               : run(gw_cmd_hash, NULL, "hash", "--algo", (char *)algos[i][0],
                                     (char *)flags[f], odd[0], odd[1], odd[2], odd[3], odd[4],
                                     odd[5], odd[6], NULL);
            ck_assert_int_eq(o.rc, 0);
            ck_assert_str_eq(o.err, "");
            /* Compare as sets of lines: glob order and our argument order differ. */
            ck_assert_int_eq(tu_sh("cd '%s' && printf '%%s' \"$(cat cmd.out)\" | sort > a && "
                                   "printf '%%s' \"$(cat sh.out)\" | sort > b && cmp -s a b",
                                   keys),
                             0);
            ck_assert_uint_eq(strlen(o.out), strlen(want));
            free(want);
            out_free(&o);
        }
    }
    /* stdin, explicit "-" and no operand; the default is sha256 */
    char in[4200];
    snprintf(in, sizeof in, "%s/file.bin", keys);
    char *want = sh_out("sha256sum < file.bin");
    struct out o = run(gw_cmd_hash, in, "hash", NULL);
    ck_assert_str_eq(o.out, want);
    out_free(&o);
    o = run(gw_cmd_hash, in, "hash", "-", NULL);
    ck_assert_str_eq(o.out, want);
    out_free(&o);
    free(want);
    want = sh_out("b2sum --tag < file.bin");
    o = run(gw_cmd_hash, in, "hash", "-a", "b2", "--tag", NULL);
    ck_assert_str_eq(o.out, want);
    out_free(&o);
    free(want);
}
END_TEST

START_TEST(test_hash_errors)
{
    ck_assert_int_eq(chdir(keys), 0);
    struct out o = run(gw_cmd_hash, NULL, "hash", "file.bin", "/nonexistent", ".", "empty", NULL);
    ck_assert_int_eq(o.rc, 1);
    char *want = sh_out("sha256sum file.bin empty");
    ck_assert_str_eq(o.out, want);
    ck_assert_str_eq(o.err, "ferry hash: /nonexistent: No such file or directory\n"
                            "ferry hash: .: Is a directory\n");
    free(want);
    out_free(&o);
    o = run(gw_cmd_hash, NULL, "hash", "--algo", "sha3", "file.bin", NULL);
    ck_assert_int_eq(o.rc, 2);
    ck_assert(strstr(o.err, "unknown algorithm 'sha3'") != NULL);
    ck_assert_str_eq(o.out, "");
    out_free(&o);
    o = run(gw_cmd_hash, NULL, "hash", "--bogus", NULL);
    ck_assert_int_eq(o.rc, 2);
    out_free(&o);
    o = run(gw_cmd_hash, NULL, "hash", "--help", NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert(strncmp(o.out, "Usage: ferry hash", 17) == 0);
    out_free(&o);
}
END_TEST

START_TEST(test_hash_check)
{
    ck_assert_int_eq(chdir(keys), 0);
    struct out o = run(gw_cmd_hash, NULL, "hash", "--check", "SHA256SUMS", "B2SUMS", NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert_str_eq(o.out,
                     "file.bin: OK\nother.txt: OK\nempty: OK\nfile.bin: OK\nother.txt: OK\n");
    out_free(&o);
    ck_assert_int_eq(tu_sh("cd '%s' && mkdir -p chk && cp file.bin other.txt chk/ && "
                           "(cat SHA256SUMS; echo garbage) > chk/SUMS && printf x >> chk/other.txt",
                           keys),
                     0);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/chk", keys);
    ck_assert_int_eq(chdir(dir), 0);
    o = run(gw_cmd_hash, NULL, "hash", "-c", "SUMS", NULL);
    ck_assert_int_eq(o.rc, 3);
    ck_assert_str_eq(o.out, "file.bin: OK\nother.txt: FAILED\nempty: FAILED open or read\n");
    ck_assert(strstr(o.err, "SUMS: line 4: not a checksum line") != NULL);
    ck_assert(strstr(o.err, "WARNING: 1 computed checksum did NOT match") != NULL);
    ck_assert(strstr(o.err, "WARNING: 1 listed file could not be read") != NULL);
    out_free(&o);
    o = run(gw_cmd_hash, NULL, "hash", "-c", "--quiet", "SUMS", NULL);
    ck_assert_str_eq(o.out, "other.txt: FAILED\nempty: FAILED open or read\n");
    out_free(&o);
    o = run(gw_cmd_hash, NULL, "hash", "-c", "--tag", "SUMS", NULL);
    ck_assert_int_eq(o.rc, 2);
    out_free(&o);
}
END_TEST

START_TEST(test_verify_exit_codes)
{
    ck_assert_int_eq(chdir(keys), 0);
    char *hex = sh_out("sha256sum < file.bin | cut -c1-64 | tr -d '\\n'");
    struct out o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--sha256", hex, NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert_str_eq(o.out, "file.bin: sha256 matches\n");
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "other.txt", "--sha256", hex, NULL);
    ck_assert_int_eq(o.rc, 3);
    ck_assert_str_eq(o.out, "");
    ck_assert(strncmp(o.err, "ferry verify: other.txt: sha256 mismatch: expected ", 51) == 0);
    out_free(&o);
    free(hex);
    /* usage errors */
    const char *bad[][6] = {
        {"verify", NULL},
        {"verify", "file.bin", NULL},
        {"verify", "file.bin", "--sha256", "xyz", NULL},
        {"verify", "file.bin", "--sig", "file.bin.minisig", NULL},
        {"verify", "file.bin", "other.txt", "--sha1", "0", NULL},
        {"verify", "file.bin", "--sig-type", "x509", "--key", "m.pub"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = run(gw_cmd_verify, NULL, (char *)bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
                bad[i][5], NULL);
        ck_assert_msg(o.rc == 2, "case %zu: rc %d", i, o.rc);
        ck_assert(strstr(o.err, "Try 'ferry verify --help'") != NULL);
        out_free(&o);
    }
    /* signatures: good, bad, wrong key, auto-discovered, missing */
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--sig", "file.bin.minisig", "--key",
            "m.pub", NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert(strstr(o.out, "file.bin: signature by key ") == o.out);
    ck_assert(strstr(o.out, " verified; trusted comment: ferry test file\n") != NULL);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "other.txt", "--sig", "file.bin.minisig", "--key",
            "m.pub", NULL);
    ck_assert_int_eq(o.rc, 3);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--key", "m.pub", NULL); /* .minisig */
    ck_assert_int_eq(o.rc, 0);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--key", "m2.pub", NULL);
    ck_assert_int_eq(o.rc, 3);
    ck_assert(strstr(o.err, "not by the given key") != NULL);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "other.txt", "--key", "m.pub", NULL);
    ck_assert_int_eq(o.rc, 3);
    ck_assert_str_eq(o.err, "ferry verify: other.txt: no signature found and --key given\n");
    out_free(&o);
    /* manifest + signature beside it */
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--manifest", "SHA256SUMS", "--key", "m.pub",
            NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert(strstr(o.out, "verified (over the manifest); sha256 matches SHA256SUMS line 1"));
    out_free(&o);
    /* could not check: gpgv missing, unreadable inputs */
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--sig", "file.bin.asc", "--key", "pub.asc",
            "--gpgv", "/nonexistent/gpgv", NULL);
    ck_assert_int_eq(o.rc, 1);
    ck_assert(strstr(o.err, "is not installed") != NULL);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--manifest", "/nonexistent", NULL);
    ck_assert_int_eq(o.rc, 1);
    ck_assert(strstr(o.err, "cannot read manifest /nonexistent: No such file") != NULL);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "/nonexistent", "--sha1",
            "0000000000000000000000000000000000000000", NULL);
    ck_assert_int_eq(o.rc, 1);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "--quiet", "file.bin", "--manifest", "B2SUMS", NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert_str_eq(o.out, "");
    out_free(&o);
}
END_TEST

START_TEST(test_verify_json)
{
    ck_assert_int_eq(chdir(keys), 0);
    struct out o = run(gw_cmd_verify, NULL, "verify", "file.bin", "--sig", "file.bin.p7s", "--ca",
                       "ca.pem", "--json", NULL);
    ck_assert_int_eq(o.rc, 0);
    ck_assert_str_eq(o.err, "");
    tu_write_file("j.json", o.out, strlen(o.out));
    /* Debian's python3 checks that it is one valid JSON object with the right fields. */
    ck_assert_int_eq(
        tu_sh("cd '%s' && /usr/bin/python3 -c 'import json,sys; d=json.load(open(\"j.json\"));"
              " assert d[\"verified\"] is True and d[\"verdict\"]==\"verified\";"
              " assert d[\"methods\"]==[\"signature\"] and d[\"signature_type\"]==\"cms\";"
              " assert d[\"signer\"]==\"CN=Ferry-Test-Signer\" and not d[\"weak\"];"
              " assert len(d[\"sha256\"])==64 and d[\"size\"]==100000'",
              keys),
        0);
    out_free(&o);
    o = run(gw_cmd_verify, NULL, "verify", "other.txt", "--manifest", "SHA256", "--sig",
            "SHA256.sig", "--key", "m.pub", "--json", NULL);
    ck_assert_int_eq(o.rc, 3);
    ck_assert_str_eq(o.err, "");
    tu_write_file("j.json", o.out, strlen(o.out));
    ck_assert_int_eq(
        tu_sh("cd '%s' && /usr/bin/python3 -c 'import json; d=json.load(open(\"j.json\"));"
              " assert d[\"verified\"] is False and d[\"verdict\"]==\"failed\";"
              " assert \"was made by key\" in d[\"reason\"] and d[\"sha256\"] is None'",
              keys),
        0);
    out_free(&o);
}
END_TEST

Suite *gateway_cmd_integrity_suite(void)
{
    Suite *s = suite_create("gateway/cmd_integrity");
    TCase *tc = tcase_create("gw_cmd_hash");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hash_like_coreutils);
    tcase_add_test(tc, test_hash_errors);
    tcase_add_test(tc, test_hash_check);
    suite_add_tcase(s, tc);
    tc = tcase_create("gw_cmd_verify");
    tcase_add_unchecked_fixture(tc, keys_setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_verify_exit_codes);
    tcase_add_test(tc, test_verify_json);
    suite_add_tcase(s, tc);
    return s;
}
