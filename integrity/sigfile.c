/* minisign / signify key and signature files, OpenPGP armor, signature type detection:
 * pure parsers over (buf, len) (see sigfile.h). */
#include "integrity/sigfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "integrity/algo.h"

#define UNTRUSTED "untrusted comment: "
#define TRUSTED "trusted comment: "
/* "Ed"/"ED" + keynum + key or signature */
#define KEY_BLOB_LEN (2 + IG_KEYNUM_LEN + IG_ED25519_PK_LEN)
#define SIG_BLOB_LEN (2 + IG_KEYNUM_LEN + IG_ED25519_SIG_LEN)

/* A cursor over lines of buf; a line excludes its "\n" and a trailing "\r". */
struct lines {
    const char *buf;
    size_t len, pos;
};

/* Next line into (*s, *n). Returns 1, 0 at the end, -IG_SF_TOOLONG. */
static int next_line(struct lines *l, const char **s, size_t *n)
{
    if (l->pos >= l->len)
        return 0;
    const char *p = l->buf + l->pos;
    size_t rest = l->len - l->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t k = nl ? (size_t)(nl - p) : rest;
    l->pos += k + (nl != NULL);
    if (k > IG_SIGFILE_MAX_LINE)
        return -IG_SF_TOOLONG;
    if (k > 0 && p[k - 1] == '\r')
        k--;
    *s = p;
    *n = k;
    return 1;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    return n >= pl && memcmp(s, prefix, pl) == 0;
}

/* Decodes a base64 line into exactly want bytes. */
static int decode_line(const char *s, size_t n, unsigned char *out, size_t want)
{
    unsigned char tmp[SIG_BLOB_LEN + 3];
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    long got = ig_base64_decode(s, n, tmp, sizeof tmp);
    if (got < 0)
        return n > 4 * (sizeof tmp / 3 + 1) ? -IG_SF_LENGTH : -IG_SF_BASE64;
    if ((size_t)got != want)
        return -IG_SF_LENGTH;
    memcpy(out, tmp, want);
    return 0;
}

int ig_edkey_parse(const char *buf, size_t len, struct ig_edkey *k)
{
    struct lines l = {buf, len, 0};
    const char *s;
    size_t n;
    unsigned char blob[KEY_BLOB_LEN];
    if (len > IG_KEYFILE_MAX_SIZE)
        return -IG_SF_TOOLONG;
    int rc = next_line(&l, &s, &n);
    if (rc <= 0)
        return rc < 0 ? rc : -IG_SF_TRUNCATED;
    if (starts_with(s, n, UNTRUSTED)) {
        rc = next_line(&l, &s, &n);
        if (rc <= 0)
            return rc < 0 ? rc : -IG_SF_TRUNCATED;
    } else if (starts_with(s, n, "untrusted comment:")) {
        return -IG_SF_COMMENT;
    }
    rc = decode_line(s, n, blob, sizeof blob);
    if (rc < 0)
        return rc;
    if (blob[0] != 'E' || blob[1] != 'd')
        return -IG_SF_ALGO;
    memcpy(k->keynum, blob + 2, IG_KEYNUM_LEN);
    memcpy(k->pk, blob + 2 + IG_KEYNUM_LEN, IG_ED25519_PK_LEN);
    return 0;
}

/* minisign's trusted comment line and global signature line. */
static int parse_trusted(struct lines *l, const char *s, size_t n, struct ig_edsig *sig)
{
    if (!starts_with(s, n, TRUSTED))
        return -IG_SF_TRUSTED;
    sig->trusted = s + strlen(TRUSTED);
    sig->trusted_len = n - strlen(TRUSTED);
    int rc = next_line(l, &s, &n);
    if (rc <= 0)
        return rc < 0 ? rc : -IG_SF_GLOBAL;
    rc = decode_line(s, n, sig->global_sig, IG_ED25519_SIG_LEN);
    if (rc < 0)
        return -IG_SF_GLOBAL;
    sig->has_trusted = true;
    return 0;
}

int ig_edsig_parse(const char *buf, size_t len, enum ig_sigtype type, struct ig_edsig *sig)
{
    struct lines l = {buf, len, 0};
    const char *s;
    size_t n;
    unsigned char blob[SIG_BLOB_LEN];
    memset(sig, 0, sizeof *sig);
    if (len > IG_SIGFILE_MAX_SIZE)
        return -IG_SF_TOOLONG;
    int rc = next_line(&l, &s, &n);
    if (rc <= 0)
        return rc < 0 ? rc : -IG_SF_TRUNCATED;
    if (!starts_with(s, n, UNTRUSTED))
        return -IG_SF_COMMENT;
    rc = next_line(&l, &s, &n);
    if (rc <= 0)
        return rc < 0 ? rc : -IG_SF_TRUNCATED;
    rc = decode_line(s, n, blob, sizeof blob);
    if (rc < 0)
        return rc;
    if (blob[0] != 'E' || (blob[1] != 'd' && blob[1] != 'D'))
        return -IG_SF_ALGO;
    sig->prehashed = blob[1] == 'D';
    memcpy(sig->keynum, blob + 2, IG_KEYNUM_LEN);
    memcpy(sig->sig, blob + 2 + IG_KEYNUM_LEN, IG_ED25519_SIG_LEN);
    if (type == IG_SIG_SIGNIFY) {
        if (sig->prehashed)
            return -IG_SF_ALGO;
        if (l.pos < len) {
            sig->embedded = buf + l.pos;
            sig->embedded_len = len - l.pos;
        }
        return 0;
    }
    size_t here = l.pos;
    rc = next_line(&l, &s, &n);
    if (rc < 0)
        return rc;
    if (rc > 0 && (type == IG_SIG_MINISIGN || starts_with(s, n, TRUSTED)))
        return parse_trusted(&l, s, n, sig);
    if (type == IG_SIG_MINISIGN)
        return -IG_SF_TRUSTED;
    /* Auto: no trusted comment, so signify; the rest (if any) is an embedded message. */
    if (sig->prehashed)
        return -IG_SF_TRUSTED;
    if (here < len) {
        sig->embedded = buf + here;
        sig->embedded_len = len - here;
    }
    return 0;
}

void ig_keynum_hex(const unsigned char keynum[IG_KEYNUM_LEN], char out[17])
{
    static const char digits[] = "0123456789ABCDEF";
    uint64_t v = 0;
    size_t n = 0;
    char tmp[16];
    for (int i = IG_KEYNUM_LEN - 1; i >= 0; i--)
        v = v << 8 | keynum[i];
    do { /* minisign prints "%" PRIX64: no leading zeros */
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

bool ig_pgp_is_armored(const char *buf, size_t len)
{
    return starts_with(buf, len, "-----BEGIN PGP ");
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

/* Decodes the body of one armored block (lines [s, e) after the header blank line). */
static long dearmor_body(struct lines *l, unsigned char *out, size_t cap)
{
    const char *s;
    size_t n;
    char *acc = malloc(l->len + 1);
    size_t an = 0;
    long rc = -IG_SF_ARMOR;
    if (!acc)
        return -IG_SF_TOOLONG;
    for (;;) {
        int r = next_line(l, &s, &n);
        if (r <= 0) {
            rc = r < 0 ? r : -IG_SF_ARMOR; /* no END line */
            goto free_acc;
        }
        if (starts_with(s, n, "-----END PGP "))
            break;
        if (n > 0 && s[0] == '=' && n == 5) /* CRC-24 line: the packets carry their own */
            continue;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ' || s[i] == '\t')
                continue;
            if (!b64_char(s[i]))
                goto free_acc;
            acc[an++] = s[i];
        }
    }
    rc = ig_base64_decode(acc, an, out, cap);
    if (rc < 0)
        rc = an / 4 * 3 > cap ? -IG_SF_TOOLONG : -IG_SF_ARMOR;
free_acc:
    free(acc);
    return rc;
}

long ig_pgp_dearmor(const char *buf, size_t len, unsigned char *out, size_t cap)
{
    struct lines l = {buf, len, 0};
    const char *s;
    size_t n, used = 0;
    int blocks = 0;
    if (len > IG_SIGFILE_MAX_SIZE)
        return -IG_SF_TOOLONG;
    for (;;) {
        int r = next_line(&l, &s, &n);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        if (!starts_with(s, n, "-----BEGIN PGP "))
            continue;
        /* Armor headers ("Version: ...", "Comment: ...") end at the first blank line;
         * some writers omit them and the blank line too. */
        size_t mark = l.pos;
        bool blank_seen = false;
        while ((r = next_line(&l, &s, &n)) > 0) {
            if (n == 0) {
                blank_seen = true;
                break;
            }
            if (!memchr(s, ':', n))
                break;
        }
        if (!blank_seen)
            l.pos = mark;
        long got = dearmor_body(&l, out + used, cap - used);
        if (got < 0)
            return got;
        used += (size_t)got;
        blocks++;
    }
    return blocks ? (long)used : -IG_SF_ARMOR;
}

/* DER of OID 1.2.840.113549.1.7.2 (pkcs7-signedData). */
static const unsigned char signed_data_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                0xf7, 0x0d, 0x01, 0x07, 0x02};

/* True when buf is exactly a sequence of OpenPGP signature packets (tag 2, version 3 to
 * 5). Raw RSA or Ed25519 signatures are random bytes, so a first byte that looks like a
 * packet tag is not enough: the lengths must add up to the whole file. */
static bool pgp_signature_packets(const unsigned char *p, size_t len)
{
    size_t pos = 0, packets = 0;
    while (pos < len && packets < 16) {
        unsigned b = p[pos++];
        size_t body, need;
        if ((b & 0xc0) == 0xc0) { /* new format */
            if ((b & 0x3f) != 2 || pos >= len)
                return false;
            unsigned o1 = p[pos++];
            if (o1 < 192) {
                body = o1;
            } else if (o1 < 224) {
                if (pos >= len)
                    return false;
                body = ((size_t)(o1 - 192) << 8) + p[pos++] + 192;
            } else if (o1 == 255) {
                if (len - pos < 4)
                    return false;
                body = (size_t)p[pos] << 24 | (size_t)p[pos + 1] << 16 | (size_t)p[pos + 2] << 8 |
                       p[pos + 3];
                pos += 4;
            } else {
                return false; /* partial lengths: never in a signature file */
            }
        } else if (b & 0x80) { /* old format */
            if (((b >> 2) & 0xf) != 2 || (b & 3) == 3)
                return false;
            need = (size_t)1 << (b & 3); /* 1, 2 or 4 length bytes */
            if (len - pos < need)
                return false;
            body = 0;
            for (size_t i = 0; i < need; i++)
                body = body << 8 | p[pos + i];
            pos += need;
        } else {
            return false;
        }
        if (body == 0 || body > len - pos || p[pos] < 3 || p[pos] > 5)
            return false;
        pos += body;
        packets++;
    }
    return packets > 0 && pos == len;
}

enum ig_sigtype ig_sigtype_detect(const unsigned char *sig, size_t len)
{
    const char *s = (const char *)sig;
    if (starts_with(s, len, UNTRUSTED)) {
        struct ig_edsig es;
        if (ig_edsig_parse(s, len, IG_SIG_AUTO, &es) == 0)
            return es.has_trusted ? IG_SIG_MINISIGN : IG_SIG_SIGNIFY;
        /* Malformed: let the parser that will complain be the one the file looks like. */
        return memmem(s, len, "\n" TRUSTED, strlen(TRUSTED) + 1) ? IG_SIG_MINISIGN : IG_SIG_SIGNIFY;
    }
    if (ig_pgp_is_armored(s, len))
        return IG_SIG_GPG;
    if (starts_with(s, len, "-----BEGIN PKCS7-----") ||
        starts_with(s, len, "-----BEGIN CMS-----") ||
        starts_with(s, len, "-----BEGIN PKCS #7 SIGNED DATA-----"))
        return IG_SIG_CMS;
    /* A CMS ContentInfo is SEQUENCE { OID signedData, ... }: the OID sits right after
     * the outer SEQUENCE header (2 to 6 bytes). ECDSA's DER signature is
     * SEQUENCE { INTEGER, INTEGER } and never holds it there. */
    if (len > 2 && sig[0] == 0x30) {
        size_t hdr = sig[1] < 0x80 ? 2 : 2 + (size_t)(sig[1] & 0x7f);
        if (hdr <= 6 && len >= hdr + sizeof signed_data_oid &&
            memcmp(sig + hdr, signed_data_oid, sizeof signed_data_oid) == 0)
            return IG_SIG_CMS;
    }
    if (pgp_signature_packets(sig, len))
        return IG_SIG_GPG;
    return IG_SIG_OPENSSL;
}

static const char *const sigtype_names[] = {
    [IG_SIG_AUTO] = "auto",       [IG_SIG_MINISIGN] = "minisign", [IG_SIG_SIGNIFY] = "signify",
    [IG_SIG_OPENSSL] = "openssl", [IG_SIG_CMS] = "cms",           [IG_SIG_GPG] = "gpg",
};

const char *ig_sigtype_name(enum ig_sigtype t)
{
    return (unsigned)t < sizeof sigtype_names / sizeof *sigtype_names ? sigtype_names[t]
                                                                      : "unknown";
}

int ig_sigtype_from_name(const char *s)
{
    for (size_t i = 0; i < sizeof sigtype_names / sizeof *sigtype_names; i++)
        if (strcmp(s, sigtype_names[i]) == 0)
            return (int)i;
    if (strcmp(s, "pkcs7") == 0 || strcmp(s, "smime") == 0)
        return IG_SIG_CMS;
    if (strcmp(s, "pgp") == 0 || strcmp(s, "openpgp") == 0 || strcmp(s, "gpgv") == 0)
        return IG_SIG_GPG;
    return -1;
}

const char *ig_sigfile_strerror(int code)
{
    switch (code < 0 ? -code : code) {
    case IG_SF_COMMENT:
        return "first line is not an \"untrusted comment:\" line";
    case IG_SF_BASE64:
        return "malformed base64";
    case IG_SF_LENGTH:
        return "key or signature has the wrong length";
    case IG_SF_ALGO:
        return "unsupported signature algorithm";
    case IG_SF_TRUSTED:
        return "missing or malformed trusted comment line";
    case IG_SF_GLOBAL:
        return "missing or malformed global signature line";
    case IG_SF_TOOLONG:
        return "line or file too long";
    case IG_SF_TRUNCATED:
        return "truncated";
    case IG_SF_ARMOR:
        return "malformed OpenPGP armor";
    }
    return "malformed signature file";
}
