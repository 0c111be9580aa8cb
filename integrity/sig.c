/* Detached signature verification: minisign, signify, raw OpenSSL signatures, CMS
 * (see sig.h); OpenPGP is delegated to gpg.c. */
#include "integrity/sig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h> /* before cms.h: it declares PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "integrity/gpg.h"

static void setf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void setf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* Copies n bytes as a one-line C string: tabs become spaces, other control bytes '?'. */
static void copy_line(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c == '\t' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[i] = '\0';
}

/* The most telling OpenSSL error in the queue (the first one carrying extra text, else
 * the last), then an empty queue. */
static void ossl_reason(char *out, size_t cap)
{
    unsigned long e, pick = 0;
    const char *data = NULL, *pick_data = NULL;
    int flags = 0;
    char databuf[256] = "";
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        bool has_text = data && *data && (flags & ERR_TXT_STRING);
        if (!pick_data && has_text) {
            pick = e;
            copy_line(databuf, sizeof databuf, data, strlen(data));
            pick_data = databuf;
        } else if (!pick_data) {
            pick = e;
        }
    }
    const char *r = pick ? ERR_reason_error_string(pick) : NULL;
    setf(out, cap, "%s%s%s", r ? r : "unknown OpenSSL error", pick_data ? ": " : "",
         pick_data ? pick_data : "");
}

/* The whole signed message in memory: the buffer itself, or a read-only map. */
struct msg {
    const unsigned char *p;
    size_t n;
    void *map;
    size_t maplen;
};

static int msg_open(const struct ig_signed *d, struct msg *m)
{
    struct stat st;
    memset(m, 0, sizeof *m);
    if (d->buf || d->fd < 0) {
        m->p = d->buf ? d->buf : (const unsigned char *)"";
        m->n = d->buf ? d->len : 0;
        return 0;
    }
    if (fstat(d->fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if (st.st_size == 0) {
        m->p = (const unsigned char *)"";
        return 0;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, d->fd, 0);
    if (map == MAP_FAILED)
        return -errno;
    (void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    m->map = map;
    m->maplen = (size_t)st.st_size;
    m->p = map;
    m->n = m->maplen;
    return 0;
}

static void msg_close(struct msg *m)
{
    if (m->map)
        munmap(m->map, m->maplen);
    m->map = NULL;
}

/* One digest of the signed bytes: reuses a precomputed one, else reads them. */
static int data_digest(const struct ig_signed *d, enum ig_algo a, unsigned char *out)
{
    struct ig_digests dg;
    if (d->dg && (d->dg->mask & IG_ALGO_BIT(a))) {
        memcpy(out, d->dg->d[a], ig_algo_len(a));
        return 0;
    }
    if (d->buf || d->fd < 0)
        return ig_hash_buf(a, d->buf ? d->buf : (const unsigned char *)"", d->buf ? d->len : 0,
                           out);
    if (lseek(d->fd, 0, SEEK_SET) < 0)
        return -errno;
    int rc = ig_hash_fd(d->fd, IG_ALGO_BIT(a), &dg);
    if (rc == 0)
        memcpy(out, dg.d[a], ig_algo_len(a));
    return rc;
}

static bool eddsa_ok(EVP_PKEY *k, const unsigned char *sig, size_t sig_len, const void *msg,
                     size_t n)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
              EVP_DigestVerify(c, sig, sig_len, msg, n) == 1;
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok;
}

static bool ed25519_ok(const unsigned char pk[IG_ED25519_PK_LEN],
                       const unsigned char sig[IG_ED25519_SIG_LEN], const void *msg, size_t n)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, IG_ED25519_PK_LEN);
    bool ok = k && eddsa_ok(k, sig, IG_ED25519_SIG_LEN, msg, n);
    EVP_PKEY_free(k);
    return ok;
}

static enum ig_sig_status data_error(int rc, struct ig_sig_result *res)
{
    setf(res->reason, sizeof res->reason, "cannot read the signed data: %s",
         rc == -EINVAL ? "not a regular file" : strerror(-rc));
    return IG_SIGV_ERROR;
}

/* minisign and signify: same key format, same Ed25519. */
static enum ig_sig_status verify_ed(enum ig_sigtype type, const unsigned char *sig, size_t sig_len,
                                    const struct ig_trust *trust, const struct ig_signed *data,
                                    struct ig_sig_result *res)
{
    const char *tn = ig_sigtype_name(type);
    struct ig_edkey key;
    struct ig_edsig es;
    struct msg m = {0};
    unsigned char prehash[IG_MAX_DIGEST];
    char want[17], have[17];
    enum ig_sig_status st = IG_SIGV_BAD;
    int rc = ig_edkey_parse((const char *)trust->key, trust->key_len, &key);
    if (rc < 0) {
        setf(res->reason, sizeof res->reason, "cannot read the %s public key: %s", tn,
             ig_sigfile_strerror(rc));
        return IG_SIGV_ERROR;
    }
    rc = ig_edsig_parse((const char *)sig, sig_len, type, &es);
    if (rc < 0) {
        setf(res->reason, sizeof res->reason, "malformed %s signature: %s", tn,
             ig_sigfile_strerror(rc));
        return IG_SIGV_BAD;
    }
    res->embedded = es.embedded;
    res->embedded_len = es.embedded_len;
    ig_keynum_hex(key.keynum, want);
    ig_keynum_hex(es.keynum, have);
    if (memcmp(key.keynum, es.keynum, IG_KEYNUM_LEN) != 0) {
        setf(res->reason, sizeof res->reason,
             "%s signature was made by key %s, not by the given key %s", tn, have, want);
        return IG_SIGV_BAD;
    }
    struct ig_signed embedded = {
        .buf = (const unsigned char *)es.embedded, .len = es.embedded_len, .fd = -1};
    if (!data) {
        if (!es.embedded) {
            setf(res->reason, sizeof res->reason, "%s signature has no embedded message", tn);
            return IG_SIGV_ERROR;
        }
        data = &embedded;
    }
    if (es.prehashed) {
        rc = data_digest(data, IG_ALGO_BLAKE2B, prehash);
        m.p = prehash;
        m.n = ig_algo_len(IG_ALGO_BLAKE2B);
    } else {
        rc = msg_open(data, &m);
    }
    if (rc < 0)
        return data_error(rc, res);
    if (!ed25519_ok(key.pk, es.sig, m.p, m.n)) {
        setf(res->reason, sizeof res->reason,
             "bad %s signature: signature verification failed (data or signature altered, "
             "or key %s does not match)",
             tn, want);
        goto unmap;
    }
    if (es.has_trusted) {
        /* The global signature binds the trusted comment to this signature. */
        unsigned char gm[IG_ED25519_SIG_LEN + IG_SIGFILE_MAX_LINE];
        memcpy(gm, es.sig, IG_ED25519_SIG_LEN);
        memcpy(gm + IG_ED25519_SIG_LEN, es.trusted, es.trusted_len);
        if (!ed25519_ok(key.pk, es.global_sig, gm, IG_ED25519_SIG_LEN + es.trusted_len)) {
            setf(res->reason, sizeof res->reason,
                 "bad %s signature: trusted comment verification failed (comment altered)", tn);
            goto unmap;
        }
        copy_line(res->trusted_comment, sizeof res->trusted_comment, es.trusted, es.trusted_len);
    }
    setf(res->signer, sizeof res->signer, "%s", want);
    setf(res->reason, sizeof res->reason, "signature by key %s verified", want);
    st = IG_SIGV_OK;
unmap:
    msg_close(&m);
    return st;
}

/* A public key from PEM/DER (SubjectPublicKeyInfo, PKCS#1 RSA, an unencrypted private key)
 * or a certificate. */
static EVP_PKEY *load_pubkey(const unsigned char *key, size_t len)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf(key, len > INT32_MAX ? -1 : (int)len);
    if (!bio)
        return NULL;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!cert) {
        const unsigned char *p = key;
        cert = d2i_X509(NULL, &p, (long)len);
    }
    if (cert) {
        pkey = X509_get_pubkey(cert);
        X509_free(cert);
        goto done;
    }
    const unsigned char *p = key;
    size_t left = len;
    /* Selection 0: any structure, so a private key file serves as its public key. */
    OSSL_DECODER_CTX *dc = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, 0, NULL, NULL);
    /* An encrypted key must fail, not prompt for a passphrase on the terminal. */
    if (dc && OSSL_DECODER_CTX_set_passphrase(dc, (const unsigned char *)"", 0) != 1)
        pkey = NULL;
    else if (dc && OSSL_DECODER_from_data(dc, &p, &left) != 1)
        pkey = NULL;
    OSSL_DECODER_CTX_free(dc);
done:
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

/* "RSA-3072 key sha256:<hex of the SubjectPublicKeyInfo digest>". */
static void pkey_id(EVP_PKEY *k, char *out, size_t cap)
{
    unsigned char *der = NULL, md[32];
    char hex[65] = "?";
    int n = i2d_PUBKEY(k, &der);
    if (n > 0 && ig_hash_buf(IG_ALGO_SHA256, der, (size_t)n, md) == 0)
        ig_hex_encode(md, sizeof md, hex);
    OPENSSL_free(der);
    const char *type = EVP_PKEY_get0_type_name(k);
    int base = EVP_PKEY_get_base_id(k);
    if (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448) /* the name says the size */
        setf(out, cap, "%s key sha256:%s", type ? type : "?", hex);
    else
        setf(out, cap, "%s-%d key sha256:%s", type ? type : "?", EVP_PKEY_get_bits(k), hex);
}

/* Verifies a signature over a SHA-256 digest; pad is 0 (key default) or an RSA padding. */
static bool digest_sig_ok(EVP_PKEY *k, int pad, const unsigned char *sig, size_t sig_len,
                          const unsigned char *dgst)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    bool ok =
        c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1;
    if (ok && pad)
        ok = EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1;
    /* PSS signers pick the salt length (openssl dgst: the maximum); recover it. */
    if (ok && pad == RSA_PKCS1_PSS_PADDING)
        ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_AUTO) == 1;
    ok = ok && EVP_PKEY_verify(c, sig, sig_len, dgst, 32) == 1;
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    return ok;
}

/* ECDSA as raw r||s (IEEE P1363, WebCrypto) re-encoded as DER, or false. */
static bool ecdsa_raw_ok(EVP_PKEY *k, const unsigned char *sig, size_t sig_len,
                         const unsigned char *dgst)
{
    size_t half = ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;
    unsigned char *der = NULL;
    bool ok = false;
    if (half == 0 || sig_len != 2 * half)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto free_sig;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    ok = n > 0 && digest_sig_ok(k, 0, der, (size_t)n, dgst);
    OPENSSL_free(der);
free_sig:
    ECDSA_SIG_free(es);
    ERR_clear_error();
    return ok;
}

static enum ig_sig_status verify_openssl(const unsigned char *sig, size_t sig_len,
                                         const struct ig_trust *trust, const struct ig_signed *data,
                                         struct ig_sig_result *res)
{
    enum ig_sig_status st = IG_SIGV_BAD;
    struct msg m = {0};
    unsigned char dgst[32];
    char id[IG_SIGNER_MAX];
    bool ok = false;
    int rc;
    EVP_PKEY *k = load_pubkey(trust->key, trust->key_len);
    if (!k) {
        setf(res->reason, sizeof res->reason,
             "cannot read the public key: not a PEM or DER public key or certificate");
        return IG_SIGV_ERROR;
    }
    pkey_id(k, id, sizeof id);
    int base = EVP_PKEY_get_base_id(k);
    if (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448) {
        /* Pure EdDSA signs the message itself, not a digest of it. */
        rc = msg_open(data, &m);
        if (rc < 0) {
            st = data_error(rc, res);
            goto free_key;
        }
        ok = eddsa_ok(k, sig, sig_len, m.p, m.n);
        msg_close(&m);
    } else {
        rc = data_digest(data, IG_ALGO_SHA256, dgst);
        if (rc < 0) {
            st = data_error(rc, res);
            goto free_key;
        }
        if (base == EVP_PKEY_RSA)
            ok = digest_sig_ok(k, RSA_PKCS1_PADDING, sig, sig_len, dgst) ||
                 digest_sig_ok(k, RSA_PKCS1_PSS_PADDING, sig, sig_len, dgst);
        else if (base == EVP_PKEY_RSA_PSS)
            ok = digest_sig_ok(k, RSA_PKCS1_PSS_PADDING, sig, sig_len, dgst);
        else
            ok = digest_sig_ok(k, 0, sig, sig_len, dgst) ||
                 (base == EVP_PKEY_EC && ecdsa_raw_ok(k, sig, sig_len, dgst));
    }
    if (!ok) {
        setf(res->reason, sizeof res->reason,
             "bad openssl signature: verification with %s failed (data or signature altered, "
             "wrong key, or not a SHA-256 signature)",
             id);
        goto free_key;
    }
    setf(res->signer, sizeof res->signer, "%s", id);
    setf(res->reason, sizeof res->reason, "signature by %s verified", id);
    st = IG_SIGV_OK;
free_key:
    EVP_PKEY_free(k);
    return st;
}

/* Every certificate in a PEM bundle, or one DER certificate. NULL when none. */
static STACK_OF(X509) * load_certs(const unsigned char *buf, size_t len)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = BIO_new_mem_buf(buf, len > INT32_MAX ? -1 : (int)len);
    X509 *c;
    if (!sk || !bio)
        goto fail;
    while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(sk, c)) {
            X509_free(c);
            goto fail;
        }
    if (sk_X509_num(sk) == 0) {
        const unsigned char *p = buf;
        c = d2i_X509(NULL, &p, (long)len);
        if (!c || !sk_X509_push(sk, c)) {
            X509_free(c);
            goto fail;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    return sk;
fail:
    BIO_free(bio);
    sk_X509_pop_free(sk, X509_free);
    ERR_clear_error();
    return NULL;
}

static CMS_ContentInfo *parse_cms(const unsigned char *sig, size_t sig_len)
{
    BIO *bio = BIO_new_mem_buf(sig, sig_len > INT32_MAX ? -1 : (int)sig_len);
    CMS_ContentInfo *cms = NULL;
    if (!bio)
        return NULL;
    if (sig_len >= 11 && memcmp(sig, "-----BEGIN ", 11) == 0)
        cms = PEM_read_bio_CMS(bio, NULL, NULL, NULL);
    else
        cms = d2i_CMS_bio(bio, NULL);
    BIO_free(bio);
    return cms;
}

static void signer_name(CMS_ContentInfo *cms, char *out, size_t cap)
{
    STACK_OF(X509) *signers = CMS_get0_signers(cms);
    X509 *c = signers && sk_X509_num(signers) > 0 ? sk_X509_value(signers, 0) : NULL;
    BIO *mem = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = 0;
    setf(out, cap, "unknown signer");
    if (c && mem && X509_NAME_print_ex(mem, X509_get_subject_name(c), 0, XN_FLAG_RFC2253) >= 0)
        n = BIO_get_mem_data(mem, &p);
    if (n > 0)
        copy_line(out, cap, p, (size_t)n);
    BIO_free(mem);
    sk_X509_free(signers);
}

/* Every signer's certificate may sign: key usage (when present) allows digital
 * signatures, extended key usage (when present) names S/MIME, code signing or any. */
static bool signer_usage_ok(CMS_ContentInfo *cms)
{
    STACK_OF(X509) *signers = CMS_get0_signers(cms);
    bool ok = signers && sk_X509_num(signers) > 0;
    for (int i = 0; ok && i < sk_X509_num(signers); i++) {
        X509 *c = sk_X509_value(signers, i);
        uint32_t ku = X509_get_key_usage(c), xku = X509_get_extended_key_usage(c);
        if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
            ok = false;
        if (xku != UINT32_MAX && !(xku & (XKU_SMIME | XKU_CODE_SIGN | XKU_ANYEKU)))
            ok = false;
    }
    sk_X509_free(signers);
    return ok;
}

static enum ig_sig_status verify_cms(const unsigned char *sig, size_t sig_len,
                                     const struct ig_trust *trust, const struct ig_signed *data,
                                     struct ig_sig_result *res)
{
    enum ig_sig_status st = IG_SIGV_ERROR;
    STACK_OF(X509) *pinned = NULL, *cas = NULL;
    X509_STORE *store = NULL;
    BIO *content = NULL;
    char err[512];
    CMS_ContentInfo *cms = parse_cms(sig, sig_len);
    if (!cms) {
        ossl_reason(err, sizeof err);
        setf(res->reason, sizeof res->reason, "malformed CMS signature: %s", err);
        return IG_SIGV_BAD;
    }
    if (!trust->key && !trust->ca) {
        setf(res->reason, sizeof res->reason,
             "a CMS signature needs a CA bundle or a pinned signer certificate");
        goto free_cms;
    }
    if (trust->key && !(pinned = load_certs(trust->key, trust->key_len))) {
        setf(res->reason, sizeof res->reason, "cannot read a certificate from the key file");
        goto free_cms;
    }
    store = X509_STORE_new();
    /* CMS would demand S/MIME signing certificates; files are signed with code-signing
     * ones as often, so the chain is checked for any purpose and the signer's own key
     * usage is checked below. */
    if (!store || X509_STORE_set_purpose(store, X509_PURPOSE_ANY) != 1)
        goto free_cms;
    if (trust->ca) {
        if (!(cas = load_certs(trust->ca, trust->ca_len))) {
            setf(res->reason, sizeof res->reason, "cannot read a certificate from the CA file");
            goto free_cms;
        }
        for (int i = 0; i < sk_X509_num(cas); i++)
            if (X509_STORE_add_cert(store, sk_X509_value(cas, i)) != 1)
                goto free_cms;
    }
    if (!CMS_is_detached(cms)) {
        setf(res->reason, sizeof res->reason,
             "bad CMS signature: not detached (it carries its own content)");
        st = IG_SIGV_BAD;
        goto free_cms;
    }
    if (data->buf || data->fd < 0) {
        content = BIO_new_mem_buf(data->buf ? data->buf : (const unsigned char *)"",
                                  (int)(data->buf ? data->len : 0));
    } else {
        if (lseek(data->fd, 0, SEEK_SET) < 0) {
            st = data_error(-errno, res);
            goto free_cms;
        }
        content = BIO_new_fd(data->fd, BIO_NOCLOSE);
    }
    if (!content)
        goto free_cms;
    /* Pinned: the signer must be one of the given certificates (the message's own are
     * not searched); without a CA that pin is the whole trust decision. */
    unsigned flags = CMS_BINARY;
    if (pinned)
        flags |= CMS_NOINTERN;
    if (!trust->ca)
        flags |= CMS_NO_SIGNER_CERT_VERIFY;
    ERR_clear_error();
    if (CMS_verify(cms, pinned, store, content, NULL, flags) != 1) {
        ossl_reason(err, sizeof err);
        setf(res->reason, sizeof res->reason, "bad CMS signature: %s%s", err,
             pinned && strstr(err, "signer certificate not found")
                 ? " (the signer is none of the pinned certificates)"
                 : "");
        st = IG_SIGV_BAD;
        goto free_cms;
    }
    signer_name(cms, res->signer, sizeof res->signer);
    if (!signer_usage_ok(cms)) {
        setf(res->reason, sizeof res->reason,
             "bad CMS signature: the certificate of %s is not for signing (key usage or extended "
             "key usage)",
             res->signer);
        st = IG_SIGV_BAD;
        goto free_cms;
    }
    setf(res->reason, sizeof res->reason, "signature by %s verified", res->signer);
    st = IG_SIGV_OK;
free_cms:
    if (st == IG_SIGV_ERROR && !res->reason[0])
        setf(res->reason, sizeof res->reason, "CMS verification failed: out of memory");
    BIO_free(content);
    X509_STORE_free(store);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_pop_free(pinned, X509_free);
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return st;
}

unsigned ig_sig_digests_needed(enum ig_sigtype type, const unsigned char *sig, size_t sig_len)
{
    struct ig_edsig es;
    if (type == IG_SIG_AUTO)
        type = ig_sigtype_detect(sig, sig_len);
    if (type == IG_SIG_MINISIGN &&
        ig_edsig_parse((const char *)sig, sig_len, IG_SIG_MINISIGN, &es) == 0 && es.prehashed)
        return IG_ALGO_BIT(IG_ALGO_BLAKE2B);
    if (type == IG_SIG_OPENSSL)
        return IG_ALGO_BIT(IG_ALGO_SHA256); /* unless the key is EdDSA: harmless */
    return 0;
}

enum ig_sig_status ig_sig_verify(enum ig_sigtype type, const unsigned char *sig, size_t sig_len,
                                 const struct ig_trust *trust, const struct ig_signed *data,
                                 struct ig_sig_result *res)
{
    memset(res, 0, sizeof *res);
    if (type == IG_SIG_AUTO)
        type = ig_sigtype_detect(sig, sig_len);
    res->type = type;
    if (!trust || !trust->key) {
        if (!(type == IG_SIG_CMS && trust && trust->ca)) {
            setf(res->reason, sizeof res->reason, "no key given to check the %s signature",
                 ig_sigtype_name(type));
            return IG_SIGV_ERROR;
        }
    }
    if (!data && type != IG_SIG_SIGNIFY) {
        setf(res->reason, sizeof res->reason, "no signed data given");
        return IG_SIGV_ERROR;
    }
    switch (type) {
    case IG_SIG_MINISIGN:
    case IG_SIG_SIGNIFY:
        return verify_ed(type, sig, sig_len, trust, data, res);
    case IG_SIG_OPENSSL:
        return verify_openssl(sig, sig_len, trust, data, res);
    case IG_SIG_CMS:
        return verify_cms(sig, sig_len, trust, data, res);
    case IG_SIG_GPG:
        return ig_gpg_verify(sig, sig_len, trust, data, res);
    default:
        setf(res->reason, sizeof res->reason, "unknown signature type");
        return IG_SIGV_ERROR;
    }
}
