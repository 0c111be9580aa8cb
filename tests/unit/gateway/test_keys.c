/* Unit tests for gateway/keys.c: first-start key and certificate generation. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/keys.h"

START_TEST(test_generate_then_reuse)
{
    struct gw_config cfg;
    struct gw_keys k1, k2;
    bool created;
    char err[256];
    struct stat st;
    char *dir = tu_mkdtemp("keys");
    cfg_defaults(&cfg);
    free(cfg.state);
    cfg.state = strdup(dir);
    ck_assert_msg(gw_keys_prepare(&cfg, &k1, &created, err, sizeof err) == 0, "%s", err);
    ck_assert(created);
    ck_assert(strncmp(k1.host_key_fingerprint, "SHA256:", 7) == 0);
    ck_assert(strncmp(k1.tls_fingerprint, "SHA256:", 7) == 0);
    ck_assert_int_eq(stat(k1.host_key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0);
    ck_assert_int_eq(stat(k1.tls_key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0);
    ck_assert_int_eq(gw_keys_prepare(&cfg, &k2, &created, err, sizeof err), 0);
    ck_assert(!created);
    ck_assert_str_eq(k1.host_key_fingerprint, k2.host_key_fingerprint);
    ck_assert_str_eq(k1.tls_fingerprint, k2.tls_fingerprint);

    /* The certificate: ECDSA P-256, SAN with the listen address and localhost. */
    FILE *f = fopen(k1.tls_cert_path, "r");
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(cert);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    ck_assert_int_eq(EVP_PKEY_get_bits(pub), 256);
    ck_assert_int_eq(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    ck_assert_int_eq(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
    ck_assert_int_ne(X509_check_host(cert, "example.com", 0, 0, NULL), 1);
    X509_free(cert);

    /* A certificate without its key is a configuration error, not silently replaced. */
    ck_assert_int_eq(unlink(k1.tls_key_path), 0);
    ck_assert_int_eq(gw_keys_prepare(&cfg, &k2, &created, err, sizeof err), GW_ERR_CONFIG);
    ck_assert(strstr(err, "tls.crt without") != NULL);
    cfg_free(&cfg);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_hostname_listen)
{
    struct gw_config cfg;
    struct gw_keys k;
    bool created;
    char err[256];
    char *dir = tu_mkdtemp("keys");
    cfg_defaults(&cfg);
    free(cfg.state);
    cfg.state = strdup(dir);
    free(cfg.listen);
    cfg.listen = strdup("ferry.example.org");
    ck_assert_msg(gw_keys_prepare(&cfg, &k, &created, err, sizeof err) == 0, "%s", err);
    FILE *f = fopen(k.tls_cert_path, "r");
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_int_eq(X509_check_host(cert, "ferry.example.org", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
    X509_free(cert);
    cfg_free(&cfg);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *gateway_keys_suite(void)
{
    Suite *s = suite_create("gateway/keys");
    TCase *tc = tcase_create("keys");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_generate_then_reuse);
    tcase_add_test(tc, test_hostname_listen);
    suite_add_tcase(s, tc);
    return s;
}
