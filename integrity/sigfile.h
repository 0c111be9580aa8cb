/* Signature and key *files*: pure parsers over (buf, len) for the text formats of
 * minisign and signify, OpenPGP ASCII armor, and the detection of a signature's type.
 * Nothing here checks a signature (see sig.h); these functions only take untrusted
 * bytes apart, bounded, without I/O.
 *
 * minisign and signify share the key layout (base64 of "Ed" + 8-byte key number +
 * 32-byte Ed25519 public key, after an "untrusted comment:" line). Signatures:
 *   signify   untrusted comment line, base64("Ed" + keynum + 64-byte signature), then
 *             optionally the signed message itself (`signify -S -e`, how OpenBSD ships
 *             its SHA256 manifest);
 *   minisign  the same two lines, with "ED" instead of "Ed" when the signature is over
 *             BLAKE2b-512(message) (minisign >= 0.10 default), then
 *             "trusted comment: TEXT" and base64(64-byte global signature over
 *             signature || TEXT). */
#ifndef FERRY_INTEGRITY_SIGFILE_H
#define FERRY_INTEGRITY_SIGFILE_H

#include <stdbool.h>
#include <stddef.h>

#define IG_ED25519_PK_LEN 32
#define IG_ED25519_SIG_LEN 64
#define IG_KEYNUM_LEN 8
#define IG_SIGFILE_MAX_LINE 8192        /* a comment or base64 line */
#define IG_SIGFILE_MAX_SIZE (65u << 20) /* signify -e may embed a whole manifest */
#define IG_KEYFILE_MAX_SIZE (1u << 20)  /* any key, certificate or keyring file */

enum ig_sigtype {
    IG_SIG_AUTO = 0, /* detect from the signature bytes */
    IG_SIG_MINISIGN,
    IG_SIG_SIGNIFY,
    IG_SIG_OPENSSL, /* raw detached signature (openssl dgst -sign / pkeyutl -sign -rawin) */
    IG_SIG_CMS,     /* CMS / PKCS#7 detached signedData, DER or PEM */
    IG_SIG_GPG,     /* OpenPGP detached signature, binary or armored, checked by gpgv */
};

/* Negative results of the parsers below. */
enum ig_sigfile_err {
    IG_SF_COMMENT = 1, /* first line is not "untrusted comment: ..." */
    IG_SF_BASE64,      /* a base64 line does not decode */
    IG_SF_LENGTH,      /* decoded key or signature has the wrong size */
    IG_SF_ALGO,        /* algorithm bytes are not "Ed" (or "ED" for minisign) */
    IG_SF_TRUSTED,     /* minisign: missing or malformed trusted comment line */
    IG_SF_GLOBAL,      /* minisign: missing or malformed global signature line */
    IG_SF_TOOLONG,     /* a line longer than IG_SIGFILE_MAX_LINE, or file too large */
    IG_SF_TRUNCATED,   /* file ends before a required line */
    IG_SF_ARMOR,       /* OpenPGP armor malformed */
};

/* A minisign or signify public key. */
struct ig_edkey {
    unsigned char keynum[IG_KEYNUM_LEN];
    unsigned char pk[IG_ED25519_PK_LEN];
};

/* A minisign or signify signature. Pointers point into the parsed buffer. */
struct ig_edsig {
    bool prehashed; /* minisign "ED": the signature covers BLAKE2b-512(message) */
    unsigned char keynum[IG_KEYNUM_LEN];
    unsigned char sig[IG_ED25519_SIG_LEN];
    bool has_trusted; /* minisign: trusted comment and global signature present */
    const char *trusted;
    size_t trusted_len;
    unsigned char global_sig[IG_ED25519_SIG_LEN];
    const char *embedded; /* signify -e: the message after the signature lines, or NULL */
    size_t embedded_len;
};

/* Parses a minisign or signify public key file, or a bare base64 key line (as
 * `minisign -P` takes it). Returns 0 or -IG_SF_*. */
int ig_edkey_parse(const char *buf, size_t len, struct ig_edkey *k);
/* Parses a signature file. type is IG_SIG_MINISIGN (trusted comment required),
 * IG_SIG_SIGNIFY (anything after the signature line is an embedded message; "ED" is
 * refused) or IG_SIG_AUTO (minisign when a trusted comment line follows). Returns 0 or
 * -IG_SF_*. */
int ig_edsig_parse(const char *buf, size_t len, enum ig_sigtype type, struct ig_edsig *s);
/* The key number as minisign prints it: the little-endian 64-bit value in upper-case
 * hex without leading zeros ("%" PRIX64). out has room for 17 bytes. */
void ig_keynum_hex(const unsigned char keynum[IG_KEYNUM_LEN], char out[17]);

/* True when buf starts with an OpenPGP ASCII armor line ("-----BEGIN PGP "). */
bool ig_pgp_is_armored(const char *buf, size_t len);
/* Decodes every armored block in buf into out (binary OpenPGP packets, concatenated;
 * headers and CRC lines skipped; gpgv reads no armored keyrings). Returns the decoded
 * length, or -IG_SF_ARMOR / -IG_SF_TOOLONG (output larger than cap). */
long ig_pgp_dearmor(const char *buf, size_t len, unsigned char *out, size_t cap);

/* Guesses a signature's type from its bytes: minisign/signify text, OpenPGP (armored or
 * a binary signature packet), CMS (PEM, or DER holding the pkcs7-signedData OID), else a
 * raw OpenSSL signature. Never returns IG_SIG_AUTO. */
enum ig_sigtype ig_sigtype_detect(const unsigned char *sig, size_t len);
/* "minisign", "signify", "openssl", "cms", "gpg", "auto". */
const char *ig_sigtype_name(enum ig_sigtype t);
/* Parses a name as above; returns -1 when unknown. */
int ig_sigtype_from_name(const char *s);
/* Short text for an IG_SF_* code (positive or negative). */
const char *ig_sigfile_strerror(int code);

#endif
