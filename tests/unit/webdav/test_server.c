/* Unit tests for webdav/server.c: the keyed hash that recognises a connection's
 * credentials on every request. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <string.h>

#include <openssl/hmac.h>

#include "webdav/server.h"

/* The kept context gives, call after call, what the one-shot HMAC() gives. */
START_TEST(test_cred_mac)
{
    static const char *vals[] = {"Basic YmVuY2g6YmVuY2gtcHc=", "Basic eDp5", "",
                                 "Basic YmVuY2g6YmVuY2gtcHc="};
    unsigned char key[32], other[32], got[32], want[32];
    unsigned int wl = 0;
    EVP_MAC_CTX *ctx = NULL, *ctx2 = NULL;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 7 + 1), other[i] = (unsigned char)(i * 7 + 2);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = strlen(vals[i]);
        ck_assert_int_eq(dav_cred_mac(&ctx, key, vals[i], n, got), 0);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, 32, (const unsigned char *)vals[i], n,
                                   want, &wl));
        ck_assert_uint_eq(wl, 32);
        ck_assert(memcmp(got, want, 32) == 0);
    }
    /* Another key, another value for the same header. */
    ck_assert_int_eq(dav_cred_mac(&ctx2, other, vals[0], strlen(vals[0]), got), 0);
    ck_assert_int_eq(dav_cred_mac(&ctx, key, vals[0], strlen(vals[0]), want), 0);
    ck_assert(memcmp(got, want, 32) != 0);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_CTX_free(ctx2);
}
END_TEST

Suite *webdav_server_suite(void)
{
    Suite *s = suite_create("webdav/server");
    TCase *tc = tcase_create("dav_cred_mac");
    tcase_add_test(tc, test_cred_mac);
    suite_add_tcase(s, tc);
    return s;
}
