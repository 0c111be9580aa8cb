/* Users and authentication (see users.h): the STATE/users parser and writer, yescrypt
 * hashing through libxcrypt, public-key matching and the failed-login throttle. The
 * parser, the writer and the throttle are pure; only load/save, hashing and random
 * passwords touch the system. */
#include "gateway/users.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/vfs.h"

_Static_assert(AUTH_HASH_SIZE >= CRYPT_OUTPUT_SIZE, "AUTH_HASH_SIZE too small");
_Static_assert(AUTH_MAX_PASSWORD < CRYPT_MAX_PASSPHRASE_SIZE, "AUTH_MAX_PASSWORD too big");

#define KEY_TYPE_MAX 64

static const char file_header[] =
    "# Ferry users, one per line: NAME:HASH:HOME:FLAGS:KEYS. Manage with `ferry user`.\n"
    "# HASH: crypt(3) hash, \"!\" = no password. HOME: path inside the server root.\n"
    "# FLAGS: rw or ro. KEYS: authorized_keys lines (\"type base64 comment\") joined by |.\n"
    "# `ferry user` rewrites this file and keeps no other comments.\n";

/* A yescrypt hash at libcrypt's default cost, verified against when the user is unknown
 * or locked so that the answer takes as long as a real check. */
static const char dummy_hash[] =
    "$y$j9T$dq/xynUth7ZCrzO6EvdCy0$gpnCbKAn1FjNVva0gHGTRmrL1F8QAI2iCOisd8xNa64";

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* A printable excerpt of untrusted bytes for error messages: at most 40 bytes, anything
 * outside printable ASCII shown as '?'. */
static const char *excerpt(const char *s, size_t n, char *out, size_t outsz)
{
    size_t max = 40, o = 0;
    for (size_t i = 0; i < n && i < max && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > max && o + 4 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- field validation (shared by parser, writer and the mutators) ---- */

static bool name_valid_n(const char *s, size_t n)
{
    if (n == 0 || n > GW_MAX_USER_NAME || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

bool auth_name_valid(const char *name)
{
    return name && name_valid_n(name, strlen(name));
}

bool auth_name_reserved(const char *name)
{
    return name && (strcmp(name, "anonymous") == 0 || strcmp(name, "ftp") == 0);
}

static bool hash_valid_n(const char *s, size_t n)
{
    if (n == 0 || n >= AUTH_HASH_SIZE)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ':')
            return false;
    }
    return true;
}

static bool home_valid_n(const char *s, size_t n)
{
    static const char partial[] = VFS_PARTIAL_PREFIX;
    const size_t plen = sizeof partial - 1;
    if (n == 0 || n >= GW_MAX_PATH || s[0] != '/')
        return false;
    if (n == 1)
        return true;
    if (s[n - 1] == '/' || !gw_utf8_valid(s, n))
        return false;
    size_t depth = 0;
    for (size_t i = 1; i <= n;) {
        size_t j = i;
        for (; j < n && s[j] != '/'; j++) {
            unsigned char c = (unsigned char)s[j];
            if (c < 0x20 || c == 0x7f || c == ':')
                return false;
        }
        size_t len = j - i;
        if (len == 0 || len > GW_MAX_NAME || ++depth > GW_MAX_DEPTH)
            return false;
        if (s[i] == '.' && (len == 1 || (len == 2 && s[i + 1] == '.')))
            return false;
        if (len >= plen && memcmp(s + i, partial, plen) == 0)
            return false;
        i = j + 1;
    }
    return true;
}

bool auth_home_valid(const char *home)
{
    return home && home_valid_n(home, strlen(home));
}

static bool hash_locked(const char *hash)
{
    return hash[0] == '!' || hash[0] == '*';
}

/* ---- public keys ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 (padding required, only at the end) of n bytes into out, which holds at
 * least n / 4 * 3 bytes. Returns the decoded length or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    if (n == 0 || n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) /* '=' followed by a data character */
                return -1;
            v[k] = b64_value((unsigned char)s[i + k]);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

static void b64_encode_nopad(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            w |= in[i + 2];
        out[o++] = tab[(w >> 18) & 63];
        out[o++] = tab[(w >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(w >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tab[w & 63];
    }
    out[o] = '\0';
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks a key's three fields as they would be written; NULL when valid, else why. */
static const char *key_fields_check(const char *type, size_t tn, const char *blob, size_t bn,
                                    const char *comment, size_t cn)
{
    if (tn == 0 || tn > KEY_TYPE_MAX)
        return "bad key type";
    for (size_t i = 0; i < tn; i++) {
        unsigned char c = (unsigned char)type[i];
        if (c == '=' || c == '"' || c == ',')
            return "authorized_keys options are not supported";
        if (!is_alnum(c) && c != '-' && c != '@' && c != '.' && c != '_' && c != '+')
            return "bad key type";
    }
    if (bn == 0)
        return "missing base64 key data";
    if (bn > AUTH_MAX_KEY_BLOB)
        return "key data too long";
    unsigned char *raw = malloc(bn / 4 * 3 + 3);
    if (!raw)
        return "out of memory";
    long rn = b64_decode(blob, bn, raw);
    const char *why = NULL;
    /* The blob starts with the key type as an SSH string: a type/blob mismatch is a
     * pasting mistake (or an options prefix) that would otherwise never match. */
    if (rn < 0)
        why = "key data is not valid base64";
    else if (rn < 4 || be32(raw) != tn || (size_t)rn - 4 < tn || memcmp(raw + 4, type, tn) != 0)
        why = "key data does not match the key type";
    free(raw);
    if (why)
        return why;
    for (size_t i = 0; i < cn; i++) {
        unsigned char c = (unsigned char)comment[i];
        if (c < 0x20 || c == 0x7f || c == '|')
            return "key comment may not contain '|' or control characters";
    }
    if (!gw_utf8_valid(comment, cn))
        return "key comment is not UTF-8";
    if (cn && (is_space(comment[0]) || is_space(comment[cn - 1])))
        return "key comment has surrounding spaces";
    return NULL;
}

/* Splits "type blob [comment]" (surrounding blanks ignored) and validates it. On
 * success fills k with allocated copies and returns NULL; else returns the reason. */
static const char *key_parse(const char *s, size_t n, struct auth_key *k, bool *nomem)
{
    while (n && (is_space(s[0]) || s[0] == '\r' || s[0] == '\n'))
        s++, n--;
    while (n && (is_space(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n == 0)
        return "empty key";
    size_t i = 0;
    while (i < n && !is_space(s[i]))
        i++;
    const char *type = s;
    size_t tn = i;
    while (i < n && is_space(s[i]))
        i++;
    const char *blob = s + i;
    size_t bstart = i;
    while (i < n && !is_space(s[i]))
        i++;
    size_t bn = i - bstart;
    while (i < n && is_space(s[i]))
        i++;
    const char *comment = s + i;
    size_t cn = n - i;
    const char *why = key_fields_check(type, tn, blob, bn, comment, cn);
    if (why)
        return why;
    k->type = dup_n(type, tn);
    k->blob = dup_n(blob, bn);
    k->comment = dup_n(comment, cn);
    if (!k->type || !k->blob || !k->comment) {
        auth_key_free(k);
        *nomem = true;
        return "out of memory";
    }
    return NULL;
}

int auth_key_parse(const char *line, size_t n, struct auth_key *k, char *err, size_t errsz)
{
    bool nomem = false;
    k->type = k->blob = k->comment = NULL;
    const char *why = key_parse(line, n, k, &nomem);
    if (!why)
        return 0;
    set_err(err, errsz, "%s", why);
    return nomem ? GW_ERR_NOMEM : GW_ERR_INVAL;
}

void auth_key_free(struct auth_key *k)
{
    free(k->type);
    free(k->blob);
    free(k->comment);
    k->type = k->blob = k->comment = NULL;
}

int auth_key_fingerprint(const struct auth_key *k, char *out, size_t outsz)
{
    int rc = GW_ERR_INVAL;
    size_t bn = strlen(k->blob);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    unsigned char *raw = NULL;
    if (outsz < AUTH_FINGERPRINT_SIZE || bn == 0 || bn > AUTH_MAX_KEY_BLOB)
        goto out;
    raw = malloc(bn / 4 * 3 + 3);
    if (!raw) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    long rn = b64_decode(k->blob, bn, raw);
    if (rn < 0)
        goto out_raw;
    if (EVP_Digest(raw, (size_t)rn, md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = GW_ERR_IO;
        goto out_raw;
    }
    memcpy(out, "SHA256:", 7);
    b64_encode_nopad(md, mdlen, out + 7);
    rc = 0;
out_raw:
    free(raw);
out:
    return rc;
}

/* ---- the database ---- */

static void user_free(struct auth_user *u)
{
    free(u->name);
    free(u->hash);
    free(u->home);
    for (size_t i = 0; i < u->nkeys; i++)
        auth_key_free(&u->keys[i]);
    free(u->keys);
    memset(u, 0, sizeof *u);
}

void auth_db_free(struct auth_db *db)
{
    for (size_t i = 0; i < db->nusers; i++)
        user_free(&db->users[i]);
    free(db->users);
    db->users = NULL;
    db->nusers = 0;
}

static long user_index(const struct auth_db *db, const char *name)
{
    for (size_t i = 0; i < db->nusers; i++)
        if (strcmp(db->users[i].name, name) == 0)
            return (long)i;
    return -1;
}

const struct auth_user *auth_db_find(const struct auth_db *db, const char *name)
{
    long i = name ? user_index(db, name) : -1;
    return i < 0 ? NULL : &db->users[i];
}

/* Names seen so far while parsing, for duplicate detection in O(1) per line: open
 * addressing over indices into db->users (0 = empty, else index + 1). */
struct name_set {
    size_t *slot;
    size_t cap; /* power of two */
    size_t used;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Returns the index of an existing user with this name, -1 after inserting idx, or -2
 * when out of memory. */
static long name_set_add(struct name_set *ns, const struct auth_db *db, size_t idx)
{
    if (ns->used >= ns->cap / 2) {
        size_t ncap = ns->cap ? ns->cap * 2 : 64;
        size_t *nslot = calloc(ncap, sizeof *nslot);
        if (!nslot)
            return -2;
        for (size_t i = 0; i < ns->cap; i++) {
            if (!ns->slot[i])
                continue;
            size_t h = (size_t)name_hash(db->users[ns->slot[i] - 1].name) & (ncap - 1);
            while (nslot[h])
                h = (h + 1) & (ncap - 1);
            nslot[h] = ns->slot[i];
        }
        free(ns->slot);
        ns->slot = nslot;
        ns->cap = ncap;
    }
    const char *name = db->users[idx].name;
    size_t h = (size_t)name_hash(name) & (ns->cap - 1);
    while (ns->slot[h]) {
        if (strcmp(db->users[ns->slot[h] - 1].name, name) == 0)
            return (long)(ns->slot[h] - 1);
        h = (h + 1) & (ns->cap - 1);
    }
    ns->slot[h] = idx + 1;
    ns->used++;
    return -1;
}

/* Appends *u (moved: *u is zeroed). *cap is the allocated count of db->users; the
 * parser grows it geometrically, single additions pass cap == nusers. */
static int push_user(struct auth_db *db, size_t *cap, struct auth_user *u)
{
    if (db->nusers == *cap) {
        size_t ncap = *cap < 8 ? 8 : *cap * 2;
        struct auth_user *p = realloc(db->users, ncap * sizeof *p);
        if (!p)
            return GW_ERR_NOMEM;
        db->users = p;
        *cap = ncap;
    }
    db->users[db->nusers++] = *u;
    memset(u, 0, sizeof *u);
    return 0;
}

static int parse_flags(const char *s, size_t n, bool *ro, char *why, size_t whysz)
{
    bool seen_ro = false, seen_rw = false;
    char ex[64];
    for (size_t i = 0; n > 0 && i <= n;) {
        const char *f = s + i;
        const char *comma = memchr(f, ',', n - i);
        size_t fn = comma ? (size_t)(comma - f) : n - i;
        if (fn == 2 && memcmp(f, "ro", 2) == 0)
            seen_ro = true;
        else if (fn == 2 && memcmp(f, "rw", 2) == 0)
            seen_rw = true;
        else if (fn == 0) {
            snprintf(why, whysz, "empty flag");
            return GW_ERR_CONFIG;
        } else {
            snprintf(why, whysz, "unknown flag '%s' (use rw or ro)", excerpt(f, fn, ex, sizeof ex));
            return GW_ERR_CONFIG;
        }
        i += fn + 1;
    }
    if (seen_ro && seen_rw) {
        snprintf(why, whysz, "conflicting flags ro and rw");
        return GW_ERR_CONFIG;
    }
    *ro = seen_ro;
    return 0;
}

static int parse_keys(const char *s, size_t n, struct auth_user *u, char *why, size_t whysz)
{
    size_t i = 0;
    while (i < n && (is_space(s[i]) || s[i] == '\r'))
        i++;
    if (i == n)
        return 0; /* no keys */
    for (size_t nth = 1; i <= n; nth++) {
        const char *seg = s + i;
        const char *bar = memchr(seg, '|', n - i);
        size_t sn = bar ? (size_t)(bar - seg) : n - i;
        if (u->nkeys >= GW_MAX_KEYS_PER_USER) {
            snprintf(why, whysz, "too many keys (max %d)", GW_MAX_KEYS_PER_USER);
            return GW_ERR_CONFIG;
        }
        struct auth_key *nk = realloc(u->keys, (u->nkeys + 1) * sizeof *nk);
        if (!nk)
            return GW_ERR_NOMEM;
        u->keys = nk;
        bool nomem = false;
        const char *kwhy = key_parse(seg, sn, &u->keys[u->nkeys], &nomem);
        if (nomem)
            return GW_ERR_NOMEM;
        if (kwhy) {
            snprintf(why, whysz, "bad key %zu: %s", nth, kwhy);
            return GW_ERR_CONFIG;
        }
        u->nkeys++;
        i += sn + 1;
    }
    return 0;
}

/* Parses one user line (no newline). On error returns GW_ERR_CONFIG with why set, or
 * GW_ERR_NOMEM; u is then partly filled and must be freed by the caller. */
static int parse_user(const char *s, size_t n, struct auth_user *u, char *why, size_t whysz)
{
    const char *f[5];
    size_t fn[5];
    char ex[64];
    size_t start = 0;
    /* KEYS is last and may contain ':' in comments: split on the first four only. */
    for (int k = 0; k < 4; k++) {
        const char *c = memchr(s + start, ':', n - start);
        if (!c) {
            snprintf(why, whysz, "expected NAME:HASH:HOME:FLAGS:KEYS, found %d field%s", k + 1,
                     k ? "s" : "");
            return GW_ERR_CONFIG;
        }
        f[k] = s + start;
        fn[k] = (size_t)(c - f[k]);
        start += fn[k] + 1;
    }
    f[4] = s + start;
    fn[4] = n - start;
    if (!name_valid_n(f[0], fn[0])) {
        snprintf(why, whysz, "bad name '%s'", excerpt(f[0], fn[0], ex, sizeof ex));
        return GW_ERR_CONFIG;
    }
    if (!hash_valid_n(f[1], fn[1])) {
        snprintf(why, whysz, "bad hash for '%.*s' (a crypt(3) hash, or ! for no password)",
                 (int)fn[0], f[0]);
        return GW_ERR_CONFIG;
    }
    if (!home_valid_n(f[2], fn[2])) {
        snprintf(why, whysz, "bad home '%s' (an absolute path without . or ..)",
                 excerpt(f[2], fn[2], ex, sizeof ex));
        return GW_ERR_CONFIG;
    }
    int rc = parse_flags(f[3], fn[3], &u->read_only, why, whysz);
    if (rc < 0)
        return rc;
    u->name = dup_n(f[0], fn[0]);
    u->hash = dup_n(f[1], fn[1]);
    u->home = dup_n(f[2], fn[2]);
    if (!u->name || !u->hash || !u->home)
        return GW_ERR_NOMEM;
    return parse_keys(f[4], fn[4], u, why, whysz);
}

static bool line_blank_or_comment(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (is_space(s[i]) || s[i] == '\r'))
        i++;
    return i == n || s[i] == '#';
}

int auth_db_parse(const char *buf, size_t len, struct auth_db *db, char *err, size_t errsz)
{
    int rc = 0;
    unsigned line = 0;
    char why[256] = "";
    struct name_set names = {0};
    struct auth_user u = {0};
    size_t cap = 0;
    db->users = NULL;
    db->nusers = 0;
    if (len > GW_MAX_USERS_FILE) {
        set_err(err, errsz, "file too large (max %u bytes)", GW_MAX_USERS_FILE);
        return GW_ERR_CONFIG;
    }
    for (size_t pos = 0; pos < len;) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n > GW_MAX_USERS_LINE) {
            snprintf(why, sizeof why, "line too long (max %d bytes)", GW_MAX_USERS_LINE);
            rc = GW_ERR_CONFIG;
            goto fail;
        }
        if (n && s[n - 1] == '\r')
            n--;
        if (line_blank_or_comment(s, n))
            continue;
        rc = parse_user(s, n, &u, why, sizeof why);
        if (rc < 0)
            goto fail;
        rc = push_user(db, &cap, &u);
        if (rc < 0)
            goto fail;
        long prev = name_set_add(&names, db, db->nusers - 1);
        if (prev == -2) {
            rc = GW_ERR_NOMEM;
            goto fail;
        }
        if (prev >= 0) {
            snprintf(why, sizeof why, "duplicate user '%s'", db->users[prev].name);
            rc = GW_ERR_CONFIG;
            goto fail;
        }
    }
    free(names.slot);
    return 0;
fail:
    if (rc == GW_ERR_NOMEM)
        set_err(err, errsz, "%u: out of memory", line);
    else
        set_err(err, errsz, "%u: %s", line, why);
    user_free(&u);
    free(names.slot);
    auth_db_free(db);
    return rc;
}

int auth_db_load(const char *path, struct auth_db *db, char *err, size_t errsz)
{
    int rc = 0;
    char *data = NULL;
    size_t len = 0;
    char perr[320];
    db->users = NULL;
    db->nusers = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        rc = gw_err_from_errno(errno);
        set_err(err, errsz, "%s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = gw_err_from_errno(errno);
        set_err(err, errsz, "%s: %s", path, strerror(errno));
        goto out_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = GW_ERR_CONFIG;
        set_err(err, errsz, "%s: not a regular file", path);
        goto out_fd;
    }
    /* Read up to the limit plus one byte so a file that grew past it is still caught. */
    size_t cap = (size_t)st.st_size < GW_MAX_USERS_FILE ? (size_t)st.st_size + 1
                                                        : (size_t)GW_MAX_USERS_FILE + 1;
    data = malloc(cap);
    if (!data) {
        rc = GW_ERR_NOMEM;
        set_err(err, errsz, "%s: out of memory", path);
        goto out_fd;
    }
    for (;;) {
        if (len == cap) {
            if (cap > GW_MAX_USERS_FILE)
                break;
            size_t ncap =
                cap * 2 > (size_t)GW_MAX_USERS_FILE + 1 ? (size_t)GW_MAX_USERS_FILE + 1 : cap * 2;
            char *p = realloc(data, ncap);
            if (!p) {
                rc = GW_ERR_NOMEM;
                set_err(err, errsz, "%s: out of memory", path);
                goto out_data;
            }
            data = p;
            cap = ncap;
        }
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = gw_err_from_errno(errno);
            set_err(err, errsz, "%s: %s", path, strerror(errno));
            goto out_data;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    rc = auth_db_parse(data, len, db, perr, sizeof perr);
    if (rc < 0)
        set_err(err, errsz, "%s:%s", path, perr);
out_data:
    free(data);
out_fd:
    close(fd);
out:
    return rc;
}

static int format_user(const struct auth_user *u, struct gw_buf *out)
{
    size_t start = out->len;
    if (!auth_name_valid(u->name) || !u->hash || !hash_valid_n(u->hash, strlen(u->hash)) ||
        !auth_home_valid(u->home) || u->nkeys > GW_MAX_KEYS_PER_USER)
        return GW_ERR_INVAL;
    int rc =
        gw_buf_printf(out, "%s:%s:%s:%s:", u->name, u->hash, u->home, u->read_only ? "ro" : "rw");
    for (size_t i = 0; rc == 0 && i < u->nkeys; i++) {
        const struct auth_key *k = &u->keys[i];
        if (!k->type || !k->blob || !k->comment ||
            key_fields_check(k->type, strlen(k->type), k->blob, strlen(k->blob), k->comment,
                             strlen(k->comment)))
            return GW_ERR_INVAL;
        rc = gw_buf_printf(out, "%s%s %s%s%s", i ? "|" : "", k->type, k->blob,
                           k->comment[0] ? " " : "", k->comment);
    }
    if (rc == 0 && out->len - start > GW_MAX_USERS_LINE)
        rc = GW_ERR_TOOLONG;
    if (rc == 0)
        rc = gw_buf_putc(out, '\n');
    return rc;
}

int auth_db_format(const struct auth_db *db, struct gw_buf *out)
{
    int rc = gw_buf_puts(out, file_header);
    for (size_t i = 0; rc == 0 && i < db->nusers; i++)
        rc = format_user(&db->users[i], out);
    return rc;
}

int auth_db_save(const struct auth_db *db, const char *path)
{
    int rc;
    struct gw_buf b;
    char *tmp = NULL, *dir = NULL;
    int fd = -1, dfd = -1;
    gw_buf_init(&b, GW_MAX_USERS_FILE);
    rc = auth_db_format(db, &b);
    if (rc < 0)
        goto out_buf;
    /* The temporary file lives beside the target so rename() is atomic. */
    const char *slash = strrchr(path, '/');
    dir = slash ? dup_n(path, slash == path ? 1 : (size_t)(slash - path)) : dup_n(".", 1);
    if (!dir || asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
        tmp = NULL;
        rc = GW_ERR_NOMEM;
        goto out_names;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = gw_err_from_errno(errno);
        goto out_names;
    }
    if (fchmod(fd, 0600) < 0) {
        rc = gw_err_from_errno(errno);
        goto out_tmp;
    }
    rc = gw_write_all(fd, gw_buf_str(&b), b.len);
    if (rc < 0)
        goto out_tmp;
    if (fsync(fd) < 0) {
        rc = gw_err_from_errno(errno);
        goto out_tmp;
    }
    int crc = close(fd);
    fd = -1;
    if (crc < 0 || rename(tmp, path) < 0) {
        rc = gw_err_from_errno(errno);
        goto out_tmp;
    }
    /* The rename itself is durable only once the directory is synced. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        rc = gw_err_from_errno(errno);
    if (dfd >= 0)
        close(dfd);
    goto out_names;
out_tmp:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out_names:
    free(tmp);
    free(dir);
out_buf:
    gw_buf_free(&b);
    return rc;
}

/* ---- changes ---- */

static int set_hash(char **dst, const char *password)
{
    char hash[AUTH_HASH_SIZE];
    int rc = 0;
    if (password)
        rc = auth_hash_password(password, hash, sizeof hash);
    else
        memcpy(hash, "!", 2);
    if (rc < 0)
        return rc;
    char *p = strdup(hash);
    if (!p)
        return GW_ERR_NOMEM;
    free(*dst);
    *dst = p;
    return 0;
}

int auth_db_add(struct auth_db *db, const char *name, const char *password, const char *home,
                bool read_only)
{
    int rc;
    struct auth_user u = {0};
    if (!auth_name_valid(name) || auth_name_reserved(name))
        return GW_ERR_INVAL;
    if (home && !auth_home_valid(home))
        return GW_ERR_INVAL;
    if (auth_db_find(db, name))
        return GW_ERR_EXIST;
    u.read_only = read_only;
    u.name = strdup(name);
    if (home)
        u.home = strdup(home);
    else if (asprintf(&u.home, "/%s", name) < 0)
        u.home = NULL;
    if (!u.name || !u.home) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    rc = set_hash(&u.hash, password);
    if (rc < 0)
        goto out;
    size_t cap = db->nusers;
    rc = push_user(db, &cap, &u);
out:
    user_free(&u);
    return rc;
}

int auth_db_del(struct auth_db *db, const char *name)
{
    long i = name ? user_index(db, name) : -1;
    if (i < 0)
        return GW_ERR_NOENT;
    user_free(&db->users[i]);
    memmove(&db->users[i], &db->users[i + 1], (db->nusers - (size_t)i - 1) * sizeof *db->users);
    db->nusers--;
    return 0;
}

int auth_db_set_password(struct auth_db *db, const char *name, const char *password)
{
    long i = name ? user_index(db, name) : -1;
    if (i < 0)
        return GW_ERR_NOENT;
    return set_hash(&db->users[i].hash, password);
}

int auth_db_add_key(struct auth_db *db, const char *name, const char *line)
{
    long i = name ? user_index(db, name) : -1;
    struct auth_key k;
    struct gw_buf b;
    int rc;
    if (i < 0)
        return GW_ERR_NOENT;
    struct auth_user *u = &db->users[i];
    rc = auth_key_parse(line, strlen(line), &k, NULL, 0);
    if (rc < 0)
        return rc;
    if (auth_check_key(u, k.type, k.blob)) {
        rc = GW_ERR_EXIST;
        goto out_key;
    }
    if (u->nkeys >= GW_MAX_KEYS_PER_USER) {
        rc = GW_ERR_LIMIT;
        goto out_key;
    }
    struct auth_key *nk = realloc(u->keys, (u->nkeys + 1) * sizeof *nk);
    if (!nk) {
        rc = GW_ERR_NOMEM;
        goto out_key;
    }
    u->keys = nk;
    u->keys[u->nkeys++] = k;
    /* Refuse a key that would make the user's line unparseable (too long). */
    gw_buf_init(&b, GW_MAX_USERS_LINE + 2);
    rc = format_user(u, &b);
    gw_buf_free(&b);
    if (rc == GW_ERR_LIMIT)
        rc = GW_ERR_TOOLONG;
    if (rc < 0) {
        u->nkeys--;
        goto out_key;
    }
    return 0;
out_key:
    auth_key_free(&k);
    return rc;
}

int auth_db_del_key(struct auth_db *db, const char *name, const char *which)
{
    long i = name ? user_index(db, name) : -1;
    if (i < 0 || !which)
        return GW_ERR_NOENT;
    struct auth_user *u = &db->users[i];
    size_t kept = 0, before = u->nkeys;
    for (size_t j = 0; j < u->nkeys; j++) {
        char fp[AUTH_FINGERPRINT_SIZE];
        bool match =
            strcmp(u->keys[j].comment, which) == 0 ||
            (auth_key_fingerprint(&u->keys[j], fp, sizeof fp) == 0 && strcmp(fp, which) == 0);
        if (match)
            auth_key_free(&u->keys[j]);
        else
            u->keys[kept++] = u->keys[j];
    }
    u->nkeys = kept;
    return kept == before ? GW_ERR_NOENT : 0;
}

/* ---- passwords ---- */

int auth_hash_password(const char *password, char *out, size_t outsz)
{
    int rc = GW_ERR_IO;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!password || !password[0])
        return GW_ERR_INVAL;
    if (strlen(password) > AUTH_MAX_PASSWORD)
        return GW_ERR_TOOLONG;
    /* struct crypt_data is 32 KiB: too big for a session's stack. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return GW_ERR_NOMEM;
    /* NULL random bytes: libcrypt draws the salt from the kernel itself. */
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt))
        goto out;
    const char *h = crypt_rn(password, salt, cd, sizeof *cd);
    if (!h || h[0] == '*')
        goto out;
    size_t n = strlen(h);
    if (n >= outsz) {
        rc = GW_ERR_TOOLONG;
        goto out;
    }
    memcpy(out, h, n + 1);
    rc = 0;
out:
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

bool auth_check_password(const struct auth_user *u, const char *password)
{
    bool real = u && u->hash && u->hash[0] && !hash_locked(u->hash) && password && password[0] &&
                strlen(password) <= AUTH_MAX_PASSWORD;
    const char *setting = real ? u->hash : dummy_hash;
    bool ok = false;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return false;
    /* Hash even when the answer is known to be no, so timing does not reveal it. */
    const char *phrase = password && strlen(password) <= AUTH_MAX_PASSWORD ? password : "";
    const char *h = crypt_rn(phrase, setting, cd, sizeof *cd);
    if (real && h && h[0] != '*') {
        size_t n = strlen(setting);
        ok = strlen(h) == n && CRYPTO_memcmp(h, setting, n) == 0;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

bool auth_check_key(const struct auth_user *u, const char *type, const char *blob)
{
    if (!u || !type || !blob)
        return false;
    for (size_t i = 0; i < u->nkeys; i++)
        if (strcmp(u->keys[i].type, type) == 0 && strcmp(u->keys[i].blob, blob) == 0)
            return true;
    return false;
}

int auth_random_password(char *out, size_t outsz, size_t n)
{
    static const char alphabet[] = "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const unsigned alen = sizeof alphabet - 1;
    /* Bytes at or above limit are dropped so every letter is equally likely. */
    const unsigned limit = 256 - 256 % alen;
    unsigned char rnd[64];
    size_t have = 0, used = 0, i = 0;
    int rc = 0;
    if (!out || n == 0 || n >= outsz)
        return GW_ERR_INVAL;
    while (i < n) {
        if (used == have) {
            ssize_t r = getrandom(rnd, sizeof rnd, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                rc = GW_ERR_IO;
                goto out;
            }
            have = (size_t)r;
            used = 0;
        }
        unsigned b = rnd[used++];
        if (b < limit)
            out[i++] = alphabet[b % alen];
    }
    out[n] = '\0';
out:
    explicit_bzero(rnd, sizeof rnd);
    return rc;
}

/* ---- failed-login throttle ---- */

#define THROTTLE_KEY_SIZE 64

struct throttle_slot {
    uint64_t hash; /* of key: compared first so a scan rarely touches the strings */
    char key[THROTTLE_KEY_SIZE];
    int64_t last_ms; /* time of the last failure */
    uint32_t fails;
    bool used;
};

/* A linear table: a lookup costs a few microseconds against a yescrypt hash's
 * milliseconds, and it cannot be driven into a bad case the way a hash table can. */
struct auth_throttle {
    struct throttle_slot slot[GW_THROTTLE_SLOTS];
};

static void throttle_key(const char *addr, char *out)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!addr)
        addr = "";
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        inet_ntop(AF_INET, &a4, out, THROTTLE_KEY_SIZE);
    } else if (inet_pton(AF_INET6, addr, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            memcpy(&a4, a6.s6_addr + 12, 4);
            inet_ntop(AF_INET, &a4, out, THROTTLE_KEY_SIZE);
            return;
        }
        memset(a6.s6_addr + 8, 0, 8);
        inet_ntop(AF_INET6, &a6, out, THROTTLE_KEY_SIZE - 3);
        memcpy(out + strlen(out), "/64", 4);
    } else {
        snprintf(out, THROTTLE_KEY_SIZE, "%s", addr);
    }
}

static int64_t elapsed(const struct throttle_slot *s, int64_t now_ms)
{
    return now_ms > s->last_ms ? now_ms - s->last_ms : 0;
}

static bool slot_live(const struct throttle_slot *s, int64_t now_ms)
{
    return s->used && elapsed(s, now_ms) < AUTH_THROTTLE_WINDOW_MS;
}

static bool slot_is(const struct throttle_slot *s, uint64_t hash, const char *key)
{
    return s->used && s->hash == hash && strcmp(s->key, key) == 0;
}

static struct throttle_slot *throttle_find(struct auth_throttle *t, const char *key)
{
    uint64_t h = name_hash(key);
    for (size_t i = 0; i < GW_THROTTLE_SLOTS; i++)
        if (slot_is(&t->slot[i], h, key))
            return &t->slot[i];
    return NULL;
}

static uint32_t delay_for(uint32_t fails)
{
    if (fails <= AUTH_THROTTLE_FREE)
        return 0;
    uint32_t shift = fails - AUTH_THROTTLE_FREE - 1;
    if (shift >= 16)
        return AUTH_THROTTLE_MAX_MS;
    uint64_t d = (uint64_t)AUTH_THROTTLE_BASE_MS << shift;
    return d > AUTH_THROTTLE_MAX_MS ? AUTH_THROTTLE_MAX_MS : (uint32_t)d;
}

struct auth_throttle *auth_throttle_new(void)
{
    return calloc(1, sizeof(struct auth_throttle));
}

void auth_throttle_free(struct auth_throttle *t)
{
    free(t);
}

uint32_t auth_throttle_delay(struct auth_throttle *t, const char *addr, int64_t now_ms)
{
    char key[THROTTLE_KEY_SIZE];
    throttle_key(addr, key);
    struct throttle_slot *s = throttle_find(t, key);
    if (!s || !slot_live(s, now_ms))
        return 0;
    int64_t d = delay_for(s->fails), e = elapsed(s, now_ms);
    return e >= d ? 0 : (uint32_t)(d - e);
}

void auth_throttle_fail(struct auth_throttle *t, const char *addr, int64_t now_ms)
{
    char key[THROTTLE_KEY_SIZE];
    throttle_key(addr, key);
    uint64_t h = name_hash(key);
    struct throttle_slot *s = NULL, *victim = NULL;
    for (size_t i = 0; i < GW_THROTTLE_SLOTS && !s; i++) {
        struct throttle_slot *c = &t->slot[i];
        if (slot_is(c, h, key))
            s = c;
        else if (!victim || (victim->used && (!c->used || c->last_ms < victim->last_ms)))
            victim = c;
    }
    if (!s) {
        s = victim;
        memset(s, 0, sizeof *s);
        memcpy(s->key, key, sizeof s->key);
        s->hash = h;
        s->used = true;
    } else if (!slot_live(s, now_ms)) {
        s->fails = 0;
    }
    if (s->fails < UINT32_MAX)
        s->fails++;
    if (now_ms > s->last_ms || s->fails == 1)
        s->last_ms = now_ms;
}

void auth_throttle_ok(struct auth_throttle *t, const char *addr)
{
    char key[THROTTLE_KEY_SIZE];
    throttle_key(addr, key);
    struct throttle_slot *s = throttle_find(t, key);
    if (s)
        memset(s, 0, sizeof *s);
}

unsigned auth_throttle_count(struct auth_throttle *t, const char *addr, int64_t now_ms)
{
    char key[THROTTLE_KEY_SIZE];
    throttle_key(addr, key);
    struct throttle_slot *s = throttle_find(t, key);
    return s && slot_live(s, now_ms) ? s->fails : 0;
}
