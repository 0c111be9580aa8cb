/* Detached signature verification over OpenSSL 3 (and gpgv for OpenPGP, see gpg.h).
 *
 * Supported signatures, each over "the signed bytes" (a file, or a manifest in memory):
 *   minisign  Ed25519 over the bytes ("Ed", legacy) or over BLAKE2b-512 of them ("ED",
 *             the default since minisign 0.10); the trusted comment is always checked
 *             with the global signature. Key: a minisign .pub file or its base64 line.
 *   signify   Ed25519 over the bytes; a signature with an embedded message (signify -e)
 *             covers that message. Key: a signify .pub file.
 *   openssl   a raw detached signature as `openssl dgst -sha256 -sign KEY` writes it
 *             (RSA PKCS#1 v1.5 or RSA-PSS with any salt length, ECDSA as DER or as raw
 *             r||s, DSA) -- ALWAYS OVER SHA-256 of the bytes -- or as
 *             `openssl pkeyutl -sign -rawin` writes it for Ed25519/Ed448 (over the bytes
 *             themselves). Key: a PEM or DER public key (SubjectPublicKeyInfo or PKCS#1
 *             RSA), or a certificate whose key is used.
 *   cms       CMS / PKCS#7 detached signedData (DER or PEM, `openssl cms -sign -binary
 *             -outform DER`). Trust comes from a CA bundle (chain verified at the
 *             current time) and/or from pinned signer certificates (the signer must be
 *             one of them; with a CA the chain is checked too). The signer's certificate
 *             must allow signing: key usage digitalSignature or nonRepudiation, extended
 *             key usage (when present) emailProtection, codeSigning or any. Use a CA of
 *             your own, not a public bundle: any certificate such a CA issued for
 *             signing would be accepted.
 *   gpg       OpenPGP, binary or armored, checked by running gpgv with the key as its
 *             only keyring (armored keys are dearmored first).
 *
 * Ownership: every input is borrowed. The fd of a file is read from offset 0 (its
 * offset moves); a regular file is memory-mapped when the algorithm needs the whole
 * message (Ed25519), so files of any size work. */
#ifndef FERRY_INTEGRITY_SIG_H
#define FERRY_INTEGRITY_SIG_H

#include <stddef.h>

#include "integrity/hash.h"
#include "integrity/sigfile.h"

#define IG_SIGNER_MAX 512 /* key id, fingerprint or certificate subject */
#define IG_COMMENT_MAX 1024
#define IG_REASON_MAX 1024

/* The bytes a signature covers: a buffer, or a file (buf == NULL). */
struct ig_signed {
    const unsigned char *buf;
    size_t len;
    int fd;
    const char *path;            /* for messages only (may be NULL) */
    const struct ig_digests *dg; /* optional digests already computed over the bytes */
};

/* Trust anchors: the user's --key (and --ca for CMS). */
struct ig_trust {
    const unsigned char *key; /* minisign/signify/PEM key, pinned certificates, keyring */
    size_t key_len;
    const unsigned char *ca; /* CMS only: PEM CA bundle, or NULL */
    size_t ca_len;
    const char *gpgv; /* gpgv program (NULL: "gpgv" on PATH) */
};

enum ig_sig_status {
    IG_SIGV_OK = 0,   /* signature valid for this key */
    IG_SIGV_BAD = 1,  /* invalid, malformed, or made by another key */
    IG_SIGV_ERROR = 2 /* could not check: unusable key, missing gpgv, I/O error */
};

struct ig_sig_result {
    enum ig_sigtype type;                 /* type checked (after detection) */
    char signer[IG_SIGNER_MAX];           /* who signed, when known */
    char trusted_comment[IG_COMMENT_MAX]; /* minisign (control bytes replaced by '?') */
    char reason[IG_REASON_MAX];           /* one line: "signature by key X verified", or why not */
    const char *embedded;                 /* signify -e: the embedded message (points into sig) */
    size_t embedded_len;
};

/* Checks sig (type IG_SIG_AUTO detects it) made over data with the key in trust. data
 * may be NULL only for a signify signature with an embedded message. Fills res (reason
 * always set). */
enum ig_sig_status ig_sig_verify(enum ig_sigtype type, const unsigned char *sig, size_t sig_len,
                                 const struct ig_trust *trust, const struct ig_signed *data,
                                 struct ig_sig_result *res);

/* Digests a signature check will need over the data (mask of IG_ALGO_BIT), so that a
 * caller hashing the file anyway can compute them in the same pass. */
unsigned ig_sig_digests_needed(enum ig_sigtype type, const unsigned char *sig, size_t sig_len);

#endif
