/* Hash algorithm table and hex/base64 codecs (see algo.h). */
#include "integrity/algo.h"

#include <string.h>
#include <strings.h>

struct algo_info {
    const char *name; /* command-line name */
    const char *tag;  /* BSD / coreutils --tag name */
    const char *tool; /* coreutils program */
    size_t len;
};

static const struct algo_info algos[IG_ALGO_COUNT] = {
    [IG_ALGO_NONE] = {"none", "", "", 0},
    [IG_ALGO_MD5] = {"md5", "MD5", "md5sum", 16},
    [IG_ALGO_SHA1] = {"sha1", "SHA1", "sha1sum", 20},
    [IG_ALGO_SHA224] = {"sha224", "SHA224", "sha224sum", 28},
    [IG_ALGO_SHA256] = {"sha256", "SHA256", "sha256sum", 32},
    [IG_ALGO_SHA384] = {"sha384", "SHA384", "sha384sum", 48},
    [IG_ALGO_SHA512] = {"sha512", "SHA512", "sha512sum", 64},
    [IG_ALGO_BLAKE2B] = {"blake2b", "BLAKE2b", "b2sum", 64},
};

/* Other spellings seen in the wild, mapped to their algorithm. */
static const struct {
    const char *alias;
    enum ig_algo algo;
} aliases[] = {
    {"sha-1", IG_ALGO_SHA1},      {"sha-224", IG_ALGO_SHA224},      {"sha-256", IG_ALGO_SHA256},
    {"sha-384", IG_ALGO_SHA384},  {"sha-512", IG_ALGO_SHA512},      {"sha2-224", IG_ALGO_SHA224},
    {"sha2-256", IG_ALGO_SHA256}, {"sha2-384", IG_ALGO_SHA384},     {"sha2-512", IG_ALGO_SHA512},
    {"b2", IG_ALGO_BLAKE2B},      {"blake2b-512", IG_ALGO_BLAKE2B}, {"blake2b512", IG_ALGO_BLAKE2B},
    {"blake2", IG_ALGO_BLAKE2B},
};

static bool valid(enum ig_algo a)
{
    return (unsigned)a < IG_ALGO_COUNT;
}

const char *ig_algo_name(enum ig_algo a)
{
    return valid(a) ? algos[a].name : "none";
}

const char *ig_algo_tag(enum ig_algo a)
{
    return valid(a) ? algos[a].tag : "";
}

const char *ig_algo_tool(enum ig_algo a)
{
    return valid(a) ? algos[a].tool : "";
}

size_t ig_algo_len(enum ig_algo a)
{
    return valid(a) ? algos[a].len : 0;
}

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

enum ig_algo ig_algo_from_name(const char *s, size_t n)
{
    for (int a = IG_ALGO_NONE + 1; a < IG_ALGO_COUNT; a++)
        if (eq_nocase(s, n, algos[a].name))
            return (enum ig_algo)a;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (eq_nocase(s, n, aliases[i].alias))
            return aliases[i].algo;
    return IG_ALGO_NONE;
}

enum ig_algo ig_algo_from_tag(const char *s, size_t n)
{
    /* Tags are names too ("SHA256" == "sha256"); the table covers "BLAKE2b-512". */
    return ig_algo_from_name(s, n);
}

void ig_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ig_is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0)
            return false;
    return true;
}

bool ig_hex_decode(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s[2 * i]);
        int lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static int b64val(unsigned char c)
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

long ig_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    size_t outlen = n / 4 * 3 - pad;
    if (outlen > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (size_t k = 0; k < 4; k++) {
            bool last = i + 4 == n;
            if (last && s[i + k] == '=' && k >= 4 - pad)
                v[k] = 0;
            else if ((v[k] = b64val((unsigned char)s[i + k])) < 0)
                return -1;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        unsigned char bytes[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8),
                                  (unsigned char)w};
        for (size_t k = 0; k < 3 && o < outlen; k++)
            out[o++] = bytes[k];
    }
    return (long)outlen;
}
