/* Host key and TLS certificate: generated on first start, loaded afterwards (keys.h).
 * The SSH host key is written in OpenSSH format through libssh (which uses OpenSSL);
 * the certificate is built with OpenSSL's X509 API. Nothing shells out. */
#include "gateway/keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libssh/libssh.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/err.h"

static int host_key(struct gw_keys *k, bool *created, char *err, size_t errsz)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    int rc = GW_ERR_IO;
    if (access(k->host_key_path, F_OK) != 0) {
        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
            snprintf(err, errsz, "cannot generate the Ed25519 host key");
            goto out;
        }
        mode_t old = umask(077);
        int w = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, k->host_key_path);
        umask(old);
        if (w != SSH_OK) {
            snprintf(err, errsz, "cannot write %s", k->host_key_path);
            goto out;
        }
        *created = true;
    } else if (ssh_pki_import_privkey_file(k->host_key_path, NULL, NULL, NULL, &key) != SSH_OK) {
        snprintf(err, errsz, "cannot read the SSH host key %s", k->host_key_path);
        goto out;
    }
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0) {
        snprintf(err, errsz, "cannot hash the SSH host key");
        goto out;
    }
    char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    if (fp) {
        snprintf(k->host_key_fingerprint, sizeof k->host_key_fingerprint, "%s", fp);
        ssh_string_free_char(fp);
    }
    rc = 0;
out:
    if (hash)
        ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
    return rc;
}

static bool add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static bool is_ip(const char *s)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static int make_cert(const struct gw_config *cfg, struct gw_keys *k, char *err, size_t errsz)
{
    int rc = GW_ERR_IO;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    FILE *f = NULL;
    char san[1024], host[256] = "";
    unsigned char serial[16];
    if (!pkey || !cert) {
        snprintf(err, errsz, "cannot generate the TLS key");
        goto out;
    }
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_set_version(cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert, pkey);
    X509_NAME *name = X509_get_subject_name(cert);
    const char *cn = strcmp(cfg->listen, "0.0.0.0") && strcmp(cfg->listen, "::") ? cfg->listen
                                                                                 : "localhost";
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Ferry", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, name);
    gethostname(host, sizeof host - 1);
    if (strcmp(cn, "localhost") == 0)
        snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1%s%s", host[0] ? ",DNS:" : "",
                 host);
    else
        snprintf(san, sizeof san, "%s:%s,DNS:localhost", is_ip(cn) ? "IP" : "DNS", cn);
    if (!add_ext(cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
        !add_ext(cert, NID_ext_key_usage, "serverAuth") ||
        !add_ext(cert, NID_subject_key_identifier, "hash") ||
        !add_ext(cert, NID_subject_alt_name, san)) {
        snprintf(err, errsz, "cannot build the certificate extensions (SAN %s)", san);
        goto out;
    }
    if (!X509_sign(cert, pkey, EVP_sha256())) {
        snprintf(err, errsz, "cannot sign the certificate");
        goto out;
    }
    mode_t old = umask(077);
    f = fopen(k->tls_key_path, "wx");
    umask(old);
    if (!f || !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
        f = NULL;
        snprintf(err, errsz, "cannot write %s: %s", k->tls_key_path, strerror(errno));
        goto out;
    }
    f = fopen(k->tls_cert_path, "wx");
    if (!f || !PEM_write_X509(f, cert) || fclose(f) != 0) {
        f = NULL;
        snprintf(err, errsz, "cannot write %s: %s", k->tls_cert_path, strerror(errno));
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return rc;
}

static int cert_fingerprint(struct gw_keys *k, char *err, size_t errsz)
{
    FILE *f = fopen(k->tls_cert_path, "r");
    X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (f)
        fclose(f);
    if (!cert || !X509_digest(cert, EVP_sha256(), md, &mdlen)) {
        X509_free(cert);
        snprintf(err, errsz, "cannot read the TLS certificate %s", k->tls_cert_path);
        return GW_ERR_IO;
    }
    size_t pos = (size_t)snprintf(k->tls_fingerprint, sizeof k->tls_fingerprint, "SHA256:");
    for (unsigned i = 0; i < mdlen && pos + 3 < sizeof k->tls_fingerprint; i++)
        pos += (size_t)snprintf(k->tls_fingerprint + pos, sizeof k->tls_fingerprint - pos,
                                i ? ":%02X" : "%02X", md[i]);
    X509_free(cert);
    return 0;
}

int gw_keys_prepare(const struct gw_config *cfg, struct gw_keys *keys, bool *created, char *err,
                    size_t errsz)
{
    memset(keys, 0, sizeof *keys);
    *created = false;
    snprintf(keys->host_key_path, sizeof keys->host_key_path, "%s/ssh_host_ed25519_key",
             cfg->state);
    snprintf(keys->tls_cert_path, sizeof keys->tls_cert_path, "%s/tls.crt", cfg->state);
    snprintf(keys->tls_key_path, sizeof keys->tls_key_path, "%s/tls.key", cfg->state);
    int rc = host_key(keys, created, err, errsz);
    if (rc < 0)
        return rc;
    bool have_cert = access(keys->tls_cert_path, F_OK) == 0;
    bool have_key = access(keys->tls_key_path, F_OK) == 0;
    if (have_cert != have_key) {
        snprintf(err, errsz, "%s without %s: remove the other or restore it",
                 have_cert ? keys->tls_cert_path : keys->tls_key_path,
                 have_cert ? keys->tls_key_path : keys->tls_cert_path);
        return GW_ERR_CONFIG;
    }
    if (!have_cert) {
        rc = make_cert(cfg, keys, err, errsz);
        if (rc < 0)
            return rc;
        *created = true;
    }
    return cert_fingerprint(keys, err, errsz);
}
