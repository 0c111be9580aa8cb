/* Unit tests for integrity/manifest.c: the checksum manifest parser and lookup. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integrity/hash.h"
#include "integrity/manifest.h"

#define H32 "0123456789abcdef0123456789abcdef"
#define H40 H32 "01234567"
#define H64 H32 H32
#define H128 H64 H64

static int parse(const char *text, enum ig_algo hint, struct ig_manifest *m)
{
    return ig_manifest_parse(text, strlen(text), hint, m);
}

static const struct ig_manifest_entry *one(const struct ig_manifest *m, const char *name)
{
    const struct ig_manifest_entry *e = NULL;
    ck_assert_msg(ig_manifest_find(m, name, strlen(name), &e) == 1, "entry %s", name);
    return e;
}

START_TEST(test_gnu)
{
    struct ig_manifest m;
    ck_assert_int_eq(parse(H64 "  plain name\n" H64 " *binary\n"
                               "\\" H64 "  we\\\\ird\\nna\\rme\n" H40 "  sha1 file\r\n",
                           IG_ALGO_NONE, &m),
                     0);
    ck_assert_uint_eq(m.count, 4);
    ck_assert_uint_eq(m.bad_lines, 0);
    const struct ig_manifest_entry *e = one(&m, "plain name");
    ck_assert_int_eq(e->algo, IG_ALGO_SHA256);
    ck_assert(!e->binary);
    ck_assert_uint_eq(e->line, 1);
    ck_assert_uint_eq(e->digest[0], 0x01);
    ck_assert_uint_eq(e->digest[31], 0xef);
    ck_assert(one(&m, "binary")->binary);
    e = one(&m, "we\\ird\nna\rme");
    ck_assert_uint_eq(e->name_len, 12);
    ck_assert_uint_eq(e->line, 3);
    e = one(&m, "sha1 file"); /* CRLF line end */
    ck_assert_int_eq(e->algo, IG_ALGO_SHA1);
    ig_manifest_free(&m);

    /* Bad escapes and a name made only of the escape prefix are errors. */
    ck_assert_int_eq(
        parse("\\" H64 "  a\\tb\n\\" H64 "  trailing\\\n" H64 "  ok\n", IG_ALGO_NONE, &m), 0);
    ck_assert_uint_eq(m.count, 1);
    ck_assert_uint_eq(m.bad_lines, 2);
    ck_assert_uint_eq(m.errors[0].line, 1);
    ck_assert_int_eq(m.errors[0].code, IG_MF_ESCAPE);
    ck_assert_uint_eq(m.errors[1].line, 2);
    ck_assert_int_eq(m.errors[1].code, IG_MF_ESCAPE);
    ig_manifest_free(&m);
}
END_TEST

START_TEST(test_bsd)
{
    struct ig_manifest m;
    /* base64 of 32 bytes 0x00..0x1f */
    const char *b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    char text[2048];
    snprintf(text, sizeof text,
             "SHA256 (a file) = " H64 "\n"
             "BLAKE2b (b2) = " H128 "\n"
             "SHA1 (x) = y) = " H40 "\n"    /* the name ends at the last ')' */
             "SHA2-256(openssl)= " H64 "\n" /* openssl dgst output */
             "sha256 (lower) = " H64 "  \n" /* case-insensitive tag, trailing blanks */
             "SHA256 (b64) = %s\n"
             "\\SHA256 (esc\\\\aped) = " H64 "\n"
             "MD5 (m) = " H32 "\n",
             b64);
    ck_assert_int_eq(parse(text, IG_ALGO_NONE, &m), 0);
    ck_assert_uint_eq(m.bad_lines, 0);
    ck_assert_uint_eq(m.count, 8);
    ck_assert_int_eq(one(&m, "a file")->algo, IG_ALGO_SHA256);
    ck_assert_int_eq(one(&m, "b2")->algo, IG_ALGO_BLAKE2B);
    ck_assert(!one(&m, "b2")->maybe_blake2b);
    ck_assert_int_eq(one(&m, "x) = y")->algo, IG_ALGO_SHA1);
    ck_assert_int_eq(one(&m, "openssl")->algo, IG_ALGO_SHA256);
    ck_assert_int_eq(one(&m, "lower")->algo, IG_ALGO_SHA256);
    const struct ig_manifest_entry *e = one(&m, "b64");
    for (int i = 0; i < 32; i++)
        ck_assert_uint_eq(e->digest[i], i);
    one(&m, "esc\\aped");
    ck_assert_int_eq(one(&m, "m")->algo, IG_ALGO_MD5);
    ig_manifest_free(&m);

    /* Unsupported tag, digest length against the tag, missing '=', bad value. */
    ck_assert_int_eq(parse("SHA3-256 (a) = " H64 "\n"
                           "BLAKE2b-256 (b) = " H64 "\n"
                           "SHA256 (c) = " H40 "\n"
                           "SHA256 (d) " H64 "\n"
                           "SHA256 (e) = zz\n"
                           "SHA256 (f = " H64 "\n"
                           "SHA256 () = " H64 "\n",
                           IG_ALGO_NONE, &m),
                     -EINVAL);
    ck_assert_uint_eq(m.bad_lines, 7);
    ck_assert_uint_eq(m.nerrors, 7);
    ck_assert_int_eq(m.errors[0].code, IG_MF_ALGO);
    ck_assert_int_eq(m.errors[1].code, IG_MF_ALGO);
    ck_assert_int_eq(m.errors[2].code, IG_MF_TAGLEN);
    ck_assert_int_eq(m.errors[3].code, IG_MF_SYNTAX);
    ck_assert_int_eq(m.errors[4].code, IG_MF_HASH);
    ck_assert_int_eq(m.errors[5].code, IG_MF_SYNTAX);
    ck_assert_int_eq(m.errors[6].code, IG_MF_NONAME);
    for (unsigned i = 0; i < 7; i++)
        ck_assert_uint_eq(m.errors[i].line, i + 1);
    ig_manifest_free(&m);
}
END_TEST

START_TEST(test_forms)
{
    struct ig_manifest m;
    /* BSD reversed (one space); then a two-space line keeps its space in the name. */
    ck_assert_int_eq(parse(H64 " rev\n" H64 "  spaced\n", IG_ALGO_NONE, &m), 0);
    one(&m, "rev");
    one(&m, " spaced");
    ig_manifest_free(&m);
    /* GNU first: a reversed line is then refused (coreutils does the same). */
    ck_assert_int_eq(parse(H64 "  gnu\n" H64 " rev\n", IG_ALGO_NONE, &m), 0);
    ck_assert_uint_eq(m.count, 1);
    ck_assert_int_eq(m.errors[0].code, IG_MF_MIXED);
    ck_assert_uint_eq(m.errors[0].line, 2);
    ig_manifest_free(&m);
    /* Comments, blank lines, leading blanks, tab separator, bare digests, escaped lines
     * without a name. */
    ck_assert_int_eq(parse("# comment\n\n   \n  " H64 "  lead\n" H64 "\t name\n" H64 "\n" H64
                           "  \n\\" H64 "\n",
                           IG_ALGO_NONE, &m),
                     0);
    ck_assert_uint_eq(m.count, 4);
    one(&m, "lead");
    one(&m, "name");
    const struct ig_manifest_entry *e;
    ck_assert_uint_eq(ig_manifest_find(&m, "", 0, &e), 2);
    ck_assert_uint_eq(e->line, 6);
    ck_assert_ptr_null(ig_manifest_bare(&m)); /* more than one entry */
    ck_assert_uint_eq(m.bad_lines, 1);
    ck_assert_int_eq(m.errors[0].code, IG_MF_NONAME);
    ck_assert_uint_eq(m.errors[0].line, 8);
    ig_manifest_free(&m);
    /* A NAME.sha256 file with just the digest. */
    ck_assert_int_eq(parse(H64 "\n", IG_ALGO_NONE, &m), 0);
    ck_assert_ptr_nonnull(ig_manifest_bare(&m));
    ck_assert_uint_eq(ig_manifest_bare(&m)->name_len, 0);
    ck_assert_int_eq(ig_manifest_bare(&m)->algo, IG_ALGO_SHA256);
    ig_manifest_free(&m);
    /* A line without a newline at the end of the input still counts. */
    ck_assert_int_eq(parse(H32 "  last", IG_ALGO_NONE, &m), 0);
    ck_assert_int_eq(one(&m, "last")->algo, IG_ALGO_MD5);
    ig_manifest_free(&m);
}
END_TEST

START_TEST(test_lengths)
{
    struct ig_manifest m;
    ck_assert_int_eq(parse(H32 "  a\n" H40 "  b\n" H64 "  c\n" H128 "  d\n" H64 H32 "  e\n" H32
                               "0  odd\n" H64 "zz  nothex\n",
                           IG_ALGO_NONE, &m),
                     0);
    ck_assert_int_eq(one(&m, "a")->algo, IG_ALGO_MD5);
    ck_assert_int_eq(one(&m, "b")->algo, IG_ALGO_SHA1);
    ck_assert_int_eq(one(&m, "c")->algo, IG_ALGO_SHA256);
    ck_assert_int_eq(one(&m, "d")->algo, IG_ALGO_SHA512);
    ck_assert(one(&m, "d")->maybe_blake2b);
    ck_assert_int_eq(one(&m, "e")->algo, IG_ALGO_SHA384);
    ck_assert_uint_eq(m.bad_lines, 2);
    ck_assert_int_eq(m.errors[0].code, IG_MF_HASH);
    ck_assert_uint_eq(m.errors[0].line, 6);
    ck_assert_int_eq(m.errors[1].code, IG_MF_SYNTAX);
    ig_manifest_free(&m);
    /* A hint settles 128 digits and refuses other lengths. */
    ck_assert_int_eq(parse(H128 "  d\n" H64 "  c\nSHA256 (t) = " H64 "\n", IG_ALGO_BLAKE2B, &m), 0);
    ck_assert_int_eq(one(&m, "d")->algo, IG_ALGO_BLAKE2B);
    ck_assert(!one(&m, "d")->maybe_blake2b);
    ck_assert_int_eq(one(&m, "t")->algo, IG_ALGO_SHA256); /* a tag wins over the hint */
    ck_assert_int_eq(m.errors[0].code, IG_MF_HINTLEN);
    ck_assert_uint_eq(m.errors[0].line, 2);
    ig_manifest_free(&m);
    ck_assert_int_eq(parse(H128 "  d\n", (enum ig_algo)99, &m), -EINVAL);
    ig_manifest_free(&m);
}
END_TEST

START_TEST(test_limits)
{
    struct ig_manifest m;
    size_t big = IG_MANIFEST_MAX_LINE + 10;
    char *text = malloc(big + 300);
    ck_assert_ptr_nonnull(text);
    static const char head[] = H64 "  before\n" H64 "  ";
    static const char tail[] = "\n" H64 "  af\0ter\n" H64 "  after\n"; /* holds a NUL */
    size_t n = 0;
    memcpy(text, head, sizeof head - 1);
    n += sizeof head - 1;
    memset(text + n, 'x', big);
    n += big;
    memcpy(text + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    ck_assert_int_eq(ig_manifest_parse(text, n, IG_ALGO_NONE, &m), 0);
    ck_assert_uint_eq(m.count, 2);
    ck_assert_uint_eq(m.lines, 4);
    ck_assert_uint_eq(m.errors[0].line, 2);
    ck_assert_int_eq(m.errors[0].code, IG_MF_TOOLONG);
    ck_assert_uint_eq(m.errors[1].line, 3);
    ck_assert_int_eq(m.errors[1].code, IG_MF_NUL);
    ck_assert_uint_eq(one(&m, "after")->line, 4);
    ig_manifest_free(&m);
    free(text);

    /* Only the first IG_MANIFEST_MAX_ERRORS errors are kept, all are counted. */
    char junk[1000] = "";
    for (int i = 0; i < 20; i++)
        memcpy(junk + 10 * i, "junk line\n", 11);
    ck_assert_int_eq(parse(junk, IG_ALGO_NONE, &m), -EINVAL);
    ck_assert_uint_eq(m.bad_lines, 20);
    ck_assert_uint_eq(m.nerrors, IG_MANIFEST_MAX_ERRORS);
    ck_assert_uint_eq(m.errors[IG_MANIFEST_MAX_ERRORS - 1].line, IG_MANIFEST_MAX_ERRORS);
    ig_manifest_free(&m);
    /* Nothing at all; too large (rejected before a byte is read). */
    ck_assert_int_eq(parse("", IG_ALGO_NONE, &m), -EINVAL);
    ck_assert_uint_eq(m.nerrors, 0);
    ig_manifest_free(&m);
    ck_assert_int_eq(ig_manifest_parse("", IG_MANIFEST_MAX_SIZE + 1u, IG_ALGO_NONE, &m), -EFBIG);
    ig_manifest_free(&m);
    ck_assert_str_eq(ig_manifest_strerror(IG_MF_TOOLONG), "line too long");
}
END_TEST

START_TEST(test_find)
{
    struct ig_manifest m;
    const struct ig_manifest_entry *e;
    ck_assert_int_eq(parse(H64 "  ./dir/f\n" H64 "  b\n" H40 "  b\nSHA512 (b) = " H128 "\n" H64
                               "  a\n" H64 "  ./\n",
                           IG_ALGO_NONE, &m),
                     0);
    ck_assert_uint_eq(ig_manifest_find(&m, "dir/f", 5, &e), 1);
    ck_assert_str_eq(e->name, "./dir/f");
    ck_assert_uint_eq(ig_manifest_find(&m, "./dir/f", 7, NULL), 1);
    ck_assert_uint_eq(ig_manifest_find(&m, "././dir/f", 9, NULL), 1);
    ck_assert_uint_eq(ig_manifest_find(&m, "f", 1, &e), 0);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(ig_manifest_find(&m, "b", 1, &e), 3);
    ck_assert_uint_eq(e[0].line, 2); /* consecutive, in line order */
    ck_assert_uint_eq(e[1].line, 3);
    ck_assert_uint_eq(e[2].line, 4);
    ck_assert_uint_eq(ig_manifest_find(&m, "a", 1, NULL), 1);
    ck_assert_uint_eq(ig_manifest_find(&m, "./", 2, NULL), 1);
    ck_assert_uint_eq(ig_manifest_find(&m, "", 0, NULL), 0);
    ck_assert_uint_eq(ig_manifest_find(&m, "c", 1, NULL), 0);
    ig_manifest_free(&m);
}
END_TEST

START_TEST(test_hint_from_name)
{
    ck_assert_int_eq(ig_manifest_hint_from_name("SHA256SUMS"), IG_ALGO_SHA256);
    ck_assert_int_eq(ig_manifest_hint_from_name("/srv/x/SHA512SUMS.txt"), IG_ALGO_SHA512);
    ck_assert_int_eq(ig_manifest_hint_from_name("sha1sums"), IG_ALGO_SHA1);
    ck_assert_int_eq(ig_manifest_hint_from_name("B2SUMS"), IG_ALGO_BLAKE2B);
    ck_assert_int_eq(ig_manifest_hint_from_name("MD5SUMS"), IG_ALGO_MD5);
    ck_assert_int_eq(ig_manifest_hint_from_name("SHA256"), IG_ALGO_SHA256);
    ck_assert_int_eq(ig_manifest_hint_from_name("debian.iso.sha512"), IG_ALGO_SHA512);
    ck_assert_int_eq(ig_manifest_hint_from_name("x/SHA1SUMS/CHECKSUMS"), IG_ALGO_NONE);
    ck_assert_int_eq(ig_manifest_hint_from_name("CHECKSUMS"), IG_ALGO_NONE);
    ck_assert_int_eq(ig_manifest_hint_from_name("file.asc"), IG_ALGO_NONE);
}
END_TEST

/* Real coreutils output for awkward names parses back to the same names and digests. */
START_TEST(test_coreutils_output)
{
    char *top = tu_mkdtemp("manifest");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/files", top);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    const char *names[] = {"plain",    "sp ace", "back\\slash", "new\nline",
                           "cr\rname", " lead",  "*star",       "paren) = x"};
    const size_t n = sizeof names / sizeof names[0];
    char path[4400];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        tu_write_file(path, names[i], strlen(names[i]));
    }
    const char *tools[] = {"sha256sum", "sha256sum --tag", "b2sum",
                           "md5sum -b", "sha512sum",       "sha1sum --tag"};
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        /* ./-less names; sorted glob order does not matter. */
        ck_assert_int_eq(tu_sh("cd '%s' && %s -- * > ../sums-%zu", dir, tools[t], t), 0);
        snprintf(path, sizeof path, "%s/sums-%zu", top, t);
        size_t len;
        char *text = tu_read_file(path, &len);
        struct ig_manifest m;
        ck_assert_int_eq(ig_manifest_parse(text, len, IG_ALGO_NONE, &m), 0);
        ck_assert_msg(m.bad_lines == 0, "%s: %u bad lines", tools[t], m.bad_lines);
        ck_assert_uint_eq(m.count, n);
        for (size_t i = 0; i < n; i++) {
            const struct ig_manifest_entry *e = one(&m, names[i]);
            unsigned char d[IG_MAX_DIGEST];
            enum ig_algo a = e->maybe_blake2b && t == 2 ? IG_ALGO_BLAKE2B : e->algo;
            ck_assert_int_eq(ig_hash_buf(a, names[i], strlen(names[i]), d), 0);
            ck_assert_mem_eq(e->digest, d, ig_algo_len(a));
        }
        ig_manifest_free(&m);
        free(text);
        unlink(path);
    }
    tu_rmtree(top);
    free(top);
}
END_TEST

/* Inputs that once crashed or misbehaved under the fuzzer parse cleanly now. */
START_TEST(test_fuzz_regressions)
{
    const char *d = tu_data_path("fuzz-regress/manifest");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", d);
    DIR *dp = opendir(dir);
    if (!dp)
        return; /* no regressions recorded */
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4400];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *buf = tu_read_file(path, &len);
        struct ig_manifest m;
        int rc = ig_manifest_parse(buf, len, IG_ALGO_NONE, &m);
        ck_assert(rc == 0 || rc == -EINVAL || rc == -EFBIG);
        for (size_t i = 0; i < m.count; i++)
            ck_assert_uint_eq(
                ig_manifest_find(&m, m.entries[i].name, m.entries[i].name_len, NULL) > 0, 1);
        ig_manifest_free(&m);
        free(buf);
    }
    closedir(dp);
}
END_TEST

Suite *integrity_manifest_suite(void)
{
    Suite *s = suite_create("integrity/manifest");
    TCase *tc = tcase_create("ig_manifest_parse");
    tcase_add_test(tc, test_gnu);
    tcase_add_test(tc, test_bsd);
    tcase_add_test(tc, test_forms);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_coreutils_output);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_manifest_find");
    tcase_add_test(tc, test_find);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_manifest_hint_from_name");
    tcase_add_test(tc, test_hint_from_name);
    suite_add_tcase(s, tc);
    return s;
}
