/* Unit tests for integrity/hash.c: streaming multi-digests over OpenSSL. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integrity/hash.h"

/* Digests of "abc" from the standards (FIPS 180, RFC 1321, RFC 7693). */
static const struct {
    enum ig_algo algo;
    const char *hex;
} abc[] = {
    {IG_ALGO_MD5, "900150983cd24fb0d6963f7d28e17f72"},
    {IG_ALGO_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {IG_ALGO_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
    {IG_ALGO_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {IG_ALGO_SHA384,
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc"
     "2358baeca134c825a7"},
    {IG_ALGO_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274f"
                     "c1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    {IG_ALGO_BLAKE2B, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab"
                      "792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"},
};

START_TEST(test_vectors)
{
    char hex[IG_MAX_HEX];
    unsigned char d[IG_MAX_DIGEST];
    for (size_t i = 0; i < sizeof abc / sizeof abc[0]; i++) {
        ck_assert_int_eq(ig_hash_buf(abc[i].algo, "abc", 3, d), 0);
        ig_hex_encode(d, ig_algo_len(abc[i].algo), hex);
        ck_assert_str_eq(hex, abc[i].hex);
    }
    ck_assert_int_eq(ig_hash_buf(IG_ALGO_NONE, "abc", 3, d), -EINVAL);
}
END_TEST

START_TEST(test_hasher)
{
    struct ig_hasher h;
    struct ig_digests dg;
    unsigned all = 0;
    char hex[IG_MAX_HEX];
    for (int a = 1; a < IG_ALGO_COUNT; a++)
        all |= IG_ALGO_BIT(a);
    /* Every algorithm at once, fed in uneven pieces. */
    ck_assert_int_eq(ig_hasher_init(&h, all), 0);
    ck_assert_int_eq(ig_hasher_update(&h, "a", 1), 0);
    ck_assert_int_eq(ig_hasher_update(&h, "", 0), 0);
    ck_assert_int_eq(ig_hasher_update(&h, "bc", 2), 0);
    ck_assert_int_eq(ig_hasher_final(&h, &dg), 0);
    ck_assert_uint_eq(dg.bytes, 3);
    ck_assert_uint_eq(dg.mask, all);
    for (size_t i = 0; i < sizeof abc / sizeof abc[0]; i++) {
        ig_hex_encode(dg.d[abc[i].algo], ig_algo_len(abc[i].algo), hex);
        ck_assert_str_eq(hex, abc[i].hex);
    }
    /* Empty mask: counts bytes only. Invalid bits are refused, nothing leaks. */
    ck_assert_int_eq(ig_hasher_init(&h, 0), 0);
    ck_assert_int_eq(ig_hasher_update(&h, "xyz", 3), 0);
    ck_assert_int_eq(ig_hasher_final(&h, &dg), 0);
    ck_assert_uint_eq(dg.bytes, 3);
    ck_assert_int_eq(ig_hasher_init(&h, IG_ALGO_BIT(IG_ALGO_NONE)), -EINVAL);
    ck_assert_int_eq(ig_hasher_init(&h, 1u << IG_ALGO_COUNT), -EINVAL);
    /* Freeing an unfinished hasher releases its contexts (LeakSanitizer checks). */
    ck_assert_int_eq(ig_hasher_init(&h, all), 0);
    ig_hasher_free(&h);
    ig_hasher_free(&h);
}
END_TEST

/* A file several read chunks long, compared with coreutils. */
START_TEST(test_hash_fd)
{
    char *dir = tu_mkdtemp("hash");
    char path[4200], out[4200], want[IG_MAX_HEX + 8];
    struct ig_digests dg;
    snprintf(path, sizeof path, "%s/data", dir);
    snprintf(out, sizeof out, "%s/sums", dir);
    ck_assert_int_eq(tu_sh("head -c 700001 /dev/urandom > '%s'", path), 0);
    ck_assert_int_eq(tu_sh("(sha256sum < '%s'; b2sum < '%s'; md5sum < '%s') | cut -c1-128 > '%s'",
                           path, path, path, out),
                     0);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    unsigned mask =
        IG_ALGO_BIT(IG_ALGO_SHA256) | IG_ALGO_BIT(IG_ALGO_BLAKE2B) | IG_ALGO_BIT(IG_ALGO_MD5);
    ck_assert_int_eq(ig_hash_fd(fd, mask, &dg), 0);
    close(fd);
    ck_assert_uint_eq(dg.bytes, 700001);
    size_t len;
    char *sums = tu_read_file(out, &len);
    char *line = sums;
    enum ig_algo order[] = {IG_ALGO_SHA256, IG_ALGO_BLAKE2B, IG_ALGO_MD5};
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        /* cut kept up to 128 columns: the digest, then "  -" for the shorter ones */
        char *sp = strchr(line, ' ');
        if (sp)
            *sp = '\0';
        ig_hex_encode(dg.d[order[i]], ig_algo_len(order[i]), want);
        ck_assert_str_eq(line, want);
        line = nl + 1;
    }
    free(sums);
    /* A pipe works too (stdin of `ferry hash`). */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "abc", 3), 3);
    close(p[1]);
    ck_assert_int_eq(ig_hash_fd(p[0], IG_ALGO_BIT(IG_ALGO_SHA1), &dg), 0);
    close(p[0]);
    ig_hex_encode(dg.d[IG_ALGO_SHA1], 20, want);
    ck_assert_str_eq(want, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* Read errors come back as -errno. */
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_eq(ig_hash_fd(fd, IG_ALGO_BIT(IG_ALGO_SHA256), &dg), -EISDIR);
    close(fd);
    ck_assert_int_eq(ig_hash_fd(-1, IG_ALGO_BIT(IG_ALGO_SHA256), &dg), -EBADF);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *integrity_hash_suite(void)
{
    Suite *s = suite_create("integrity/hash");
    TCase *tc = tcase_create("ig_hash_buf");
    tcase_add_test(tc, test_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_hasher");
    tcase_add_test(tc, test_hasher);
    suite_add_tcase(s, tc);
    tc = tcase_create("ig_hash_fd");
    tcase_add_test(tc, test_hash_fd);
    suite_add_tcase(s, tc);
    return s;
}
