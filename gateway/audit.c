/* The audit log (see audit.h): the record encoder and its hash chain, the appending
 * writer, the line parser shared by verification and queries, the streaming verifier,
 * the log reader (plain or gzip, rotated files in order) and the xferlog formatter. */
#include "gateway/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The low-level SHA-256 functions: see struct hasher. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <zlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/log.h"

#define HASH_LEN 32
/* A window big enough to hold the last complete record and a truncated one after it. */
#define TAIL_WINDOW (2 * (size_t)GW_MAX_AUDIT_LINE + 2)
/* How far the verifier looks around a chain break to tell a reordered record from a
 * deleted one. */
#define VERIFY_RING 64

static const char hexdig[] = "0123456789abcdef";

/* ---- small helpers ---- */

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[raw[i] >> 4];
        out[2 * i + 1] = hexdig[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Lowercase hex digit values plus one, 0 for anything else: verification converts two
 * hashes per record, so this is on the hot path. */
static const unsigned char hex1[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int hexval(char c)
{
    return (int)hex1[(unsigned char)c] - 1;
}

/* Eight bytes at a time (SWAR: plain 64-bit arithmetic, each byte its own lane; no
 * lane can carry into the next once all bytes are below 0x80, checked first). Loads
 * go through memcpy, so alignment and byte order do not matter. */
#define LANES(b) (UINT64_C(0x0101010101010101) * (b))

static uint64_t load8(const char *s)
{
    uint64_t x;
    memcpy(&x, s, 8);
    return x;
}

/* Strict: exactly 64 lowercase hex digits (what the writer emits), decoded. Verification
 * and every parsed line decode two of these, so it works on sixteen digits at a time
 * (SSE2), or eight (SWAR) where there is no SSE2. */
static bool from_hex64(const char *s, size_t n, unsigned char raw[HASH_LEN])
{
    if (n != AUDIT_HASH_HEX)
        return false;
#if defined(__SSE2__)
    /* 16 digits a step: checked by range, each turned into its value, pairs joined
     * (the first digit of a pair is the low byte of a 16-bit lane) and packed. */
    const __m128i d0 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8('9' + 1);
    const __m128i la = _mm_set1_epi8('a' - 1), lf = _mm_set1_epi8('f' + 1);
    const __m128i lo4 = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i low = _mm_set1_epi16(0x00ff);
    unsigned ok = 0xffff;
    __m128i v[4];
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * k));
        __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(x, d0), _mm_cmplt_epi8(x, d9));
        __m128i let = _mm_and_si128(_mm_cmpgt_epi8(x, la), _mm_cmplt_epi8(x, lf));
        ok &= (unsigned)_mm_movemask_epi8(_mm_or_si128(dig, let));
        __m128i val = _mm_add_epi8(_mm_and_si128(x, lo4), _mm_and_si128(let, nine));
        v[k] = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(val, low), 4), _mm_srli_epi16(val, 8));
    }
    _mm_storeu_si128((__m128i *)(void *)raw, _mm_packus_epi16(v[0], v[1]));
    _mm_storeu_si128((__m128i *)(void *)(raw + 16), _mm_packus_epi16(v[2], v[3]));
    return ok == 0xffff;
#else
    uint64_t bad = 0;
    for (size_t i = 0; i < AUDIT_HASH_HEX; i += 8) {
        uint64_t x = load8(s + i);
        /* bit 7 of a lane set by x + (0x80 - c) means that byte is >= c */
        uint64_t ge30 = x + LANES(0x50), ge3a = x + LANES(0x46);
        uint64_t ge61 = x + LANES(0x1f), ge67 = x + LANES(0x19);
        uint64_t ok = ((ge30 & ~ge3a) | (ge61 & ~ge67)) & LANES(0x80);
        bad |= (x & LANES(0x80)) | (ok ^ LANES(0x80));
        /* '0'-'9' -> 0-9, 'a'-'f' -> 10-15: low nibble, plus 9 for letters (bit 6) */
        uint64_t v = (x & LANES(0x0f)) + 9 * ((x >> 6) & LANES(0x01));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* digit 2k is lane 2k: byte k = lane 2k << 4 | lane 2k+1, gathered in place */
        v = ((v << 4) | (v >> 8)) & UINT64_C(0x00ff00ff00ff00ff);
        v = (v | (v >> 8)) & UINT64_C(0x0000ffff0000ffff);
        v = (v | (v >> 16)) & UINT64_C(0x00000000ffffffff);
        uint32_t w = (uint32_t)v;
        memcpy(raw + i / 2, &w, 4);
#else
        unsigned char d[8];
        memcpy(d, &v, 8);
        for (int k = 0; k < 4; k++)
            raw[i / 2 + (size_t)k] = (unsigned char)(d[2 * k] << 4 | d[2 * k + 1]);
#endif
    }
    return bad == 0;
#endif
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- records ---- */

static const char *const events[] = {"login",    "login_failed", "logout", "upload",
                                     "download", "delete",       "rename", "mkdir",
                                     "rmdir",    "verify",       "mirror", NULL};
/* "test" is the proto of the gateway's test front end (gateway/session.h). */
static const char *const protos[] = {"ftp", "ftps", "sftp", "webdav", "mirror", "test", NULL};
static const char *const statuses[] = {"ok", "failed", "aborted", NULL};

void audit_record_init(struct audit_record *r)
{
    memset(r, 0, sizeof *r);
    r->ts_ms = -1;
    r->bytes = r->offset = r->size = r->duration_ms = -1;
}

/* The string members, for the copy below. */
#define AUDIT_RECORD_STRINGS(X)                                                              \
    X(event) X(proto) X(session) X(user) X(remote) X(path) X(path2) X(status) X(error) X(sha256)

size_t audit_record_strings_size(const struct audit_record *r)
{
    size_t n = 0;
#define AUDIT_STR_SIZE(m) n += r->m ? strlen(r->m) + 1 : 0;
    AUDIT_RECORD_STRINGS(AUDIT_STR_SIZE)
#undef AUDIT_STR_SIZE
    return n;
}

static const char *copy_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

void audit_record_copy(struct audit_record *dst, const struct audit_record *src, char *mem)
{
    *dst = *src;
#define AUDIT_STR_COPY(m) dst->m = copy_str(&mem, src->m);
    AUDIT_RECORD_STRINGS(AUDIT_STR_COPY)
#undef AUDIT_STR_COPY
}

bool audit_record_valid(const struct audit_record *r)
{
    if (!r->event || !in_list(r->event, events))
        return false;
    if (!r->status || !in_list(r->status, statuses))
        return false;
    if (r->proto && !in_list(r->proto, protos))
        return false;
    if (r->sha256) {
        unsigned char raw[HASH_LEN];
        if (!from_hex64(r->sha256, strlen(r->sha256), raw))
            return false;
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm):
 * pure, unlike timegm() whose behaviour outside time_t's comfort zone varies. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int audit_format_ts(int64_t ts_ms, char out[AUDIT_TS_LEN + 1])
{
    /* 253402300800000 = 10000-01-01T00:00:00Z */
    if (ts_ms < 0 || ts_ms >= INT64_C(253402300800000))
        return GW_ERR_INVAL;
    int64_t days = ts_ms / 86400000, rem = ts_ms % 86400000;
    /* civil_from_days */
    int64_t z = days + 719468, era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    /* Every field is in range here; the wider buffer only keeps the compiler's
     * truncation analysis quiet. */
    /* Digits by hand: the parent stamps every record it writes. */
    unsigned f[7] = {(unsigned)y, m, d, (unsigned)(rem / 3600000), (unsigned)(rem / 60000 % 60),
                     (unsigned)(rem / 1000 % 60), (unsigned)(rem % 1000)};
    static const unsigned char pos[7] = {0, 5, 8, 11, 14, 17, 20}, width[7] = {4, 2, 2, 2, 2, 2, 3};
    memcpy(out, "0000-00-00T00:00:00.000Z", AUDIT_TS_LEN + 1);
    for (int i = 0; i < 7; i++)
        for (unsigned v = f[i], k = width[i]; k > 0; v /= 10)
            out[pos[i] + --k] = (char)('0' + v % 10);
    return 0;
}

int audit_parse_ts(const char *s, size_t n, int64_t *ts_ms)
{
    /* Every line is timestamped and queries filter on it: all seventeen digits are
     * checked at once, without a branch each. */
    static const unsigned char at[17] = {0,  1,  2,  3,  5,  6,  8,  9, 11,
                                         12, 14, 15, 17, 18, 20, 21, 22};
    unsigned v[17], bad = 0;
    if (n != AUDIT_TS_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || s[23] != 'Z')
        return GW_ERR_INVAL;
    for (int k = 0; k < 17; k++) {
        v[k] = (unsigned)(unsigned char)s[at[k]] - '0';
        bad |= v[k] > 9;
    }
    if (bad)
        return GW_ERR_INVAL;
    unsigned y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3], mo = v[4] * 10 + v[5];
    unsigned d = v[6] * 10 + v[7], h = v[8] * 10 + v[9], mi = v[10] * 10 + v[11];
    unsigned se = v[12] * 10 + v[13], ms = v[14] * 100 + v[15] * 10 + v[16];
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return GW_ERR_INVAL;
    *ts_ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)se * 1000 + ms;
    return 0;
}

/* ---- hashing: SHA-256 or HMAC-SHA256 over prev's raw bytes, canonical form, '}' ---- */

/* OpenSSL 3.0's EVP digests free and allocate their provider context at every init:
 * with a few hundred bytes per record that was a fifth of verification's time. The
 * low-level SHA-256 functions (deprecated since 3.0, still in every 3.x) run the same
 * SHA-NI/AVX code without allocating, and HMAC (RFC 2104) is built on them the usual
 * way, its padded keys hashed once: a keyed record then costs one block more. */
struct hasher {
    bool keyed;
    SHA256_CTX inner, outer; /* keyed: the states after the ipad and opad blocks */
};

static void hasher_free(struct hasher *h)
{
    OPENSSL_cleanse(h, sizeof *h);
}

static int hasher_init(struct hasher *h, const unsigned char *key, size_t keylen)
{
    unsigned char k0[64] = {0}, pad[64];
    memset(h, 0, sizeof *h);
    if (!key || keylen == 0)
        return 0;
    if (keylen > sizeof k0)
        SHA256(key, keylen, k0);
    else
        memcpy(k0, key, keylen);
    h->keyed = true;
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k0[i] ^ 0x36;
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k0[i] ^ 0x5c;
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, sizeof pad);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(pad, sizeof pad);
    return 0;
}

static int hasher_run(struct hasher *h, const unsigned char prev[HASH_LEN], const char *canon,
                      size_t n, unsigned char out[HASH_LEN])
{
    SHA256_CTX c;
    if (h->keyed)
        c = h->inner;
    else
        SHA256_Init(&c);
    SHA256_Update(&c, prev, HASH_LEN);
    SHA256_Update(&c, canon, n);
    SHA256_Update(&c, "}", 1);
    SHA256_Final(out, &c);
    if (h->keyed) {
        c = h->outer;
        SHA256_Update(&c, out, HASH_LEN);
        SHA256_Final(out, &c);
        OPENSSL_cleanse(&c, sizeof c); /* derived from the key */
    }
    return 0;
}

/* ---- two records at once: SHA-256 on the SHA extensions, two lanes interleaved ----
 * Verification is mostly hashing: every record is hashed over its whole canonical form.
 * Each round instruction of the x86 SHA extensions depends on the one before; two
 * independent messages interleaved give the unit work while one waits, and skip
 * OpenSSL's per-call buffering (measured here: verification 10-15% faster than with
 * SHA256_Update). Records do not depend on each other's hash (each line carries its
 * prev), so the verifier hashes them in pairs, then checks them in order. Where the CPU
 * lacks the extensions (or FERRY_AUDIT_SHA2X=0), hasher_run does every record. */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA2X 1
#endif

#ifdef HAVE_SHA2X
#define PAIR_MAX 4096 /* longer records take hasher_run */
#define PAIR_BUF (PAIR_MAX + 2 * 64)

static const uint32_t sha_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static const uint32_t sha_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static bool cpu_has_sha(void)
{
    unsigned a, b, c, d;
    /* SSSE3 and SSE4.1 (leaf 1, ecx bits 9 and 19) and SHA (leaf 7, ebx bit 29) */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    return (b & (1u << 29)) != 0;
}

/* Four rounds of one lane: message words w (+ the round constants k) into the state
 * halves s0 (ABEF) and s1 (CDGH). */
#define SHA_RNDS(s0, s1, w, k)                                                                     \
    do {                                                                                           \
        __m128i t_ = _mm_add_epi32((w), (k));                                                      \
        s1 = _mm_sha256rnds2_epu32(s1, s0, t_);                                                    \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(t_, 0x0E));                           \
    } while (0)
/* The next four message words into a, from the sixteen before in a b c d. */
#define SHA_SCHED(a, b, c, d)                                                                      \
    a = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8(d, c, 4)), d)
/* Rounds 4r..4r+3 of both lanes; from r = 4 on, the schedule first. */
#define SHA_STEP(r, a, b, c, d)                                                                    \
    do {                                                                                           \
        const __m128i k_ = _mm_load_si128((const __m128i *)(const void *)(sha_k + 4 * (r)));       \
        if ((r) >= 4) {                                                                            \
            SHA_SCHED(xa[a], xa[b], xa[c], xa[d]);                                                 \
            SHA_SCHED(xb[a], xb[b], xb[c], xb[d]);                                                 \
        }                                                                                          \
        SHA_RNDS(a0, a1, xa[a], k_);                                                               \
        SHA_RNDS(b0, b1, xb[a], k_);                                                               \
    } while (0)

/* Runs nblocks 64-byte blocks of pa into state sa and of pb into sb (a..h order),
 * interleaved. pb may equal pa with sb a scratch state: one lane's work is then wasted,
 * which costs less than a second routine. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_x2(uint32_t sa[8], const unsigned char *pa, uint32_t sb[8], const unsigned char *pb,
          size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t, a0, a1, b0, b1, xa[4], xb[4];
    /* a..h -> ABEF and CDGH, as the round instruction wants them */
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)sa), 0xB1);
    a1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(sa + 4)), 0x1B);
    a0 = _mm_alignr_epi8(t, a1, 8);
    a1 = _mm_blend_epi16(a1, t, 0xF0);
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)sb), 0xB1);
    b1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(sb + 4)), 0x1B);
    b0 = _mm_alignr_epi8(t, b1, 8);
    b1 = _mm_blend_epi16(b1, t, 0xF0);
    for (; nblocks > 0; nblocks--, pa += 64, pb += 64) {
        __m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;
        for (int k = 0; k < 4; k++) {
            xa[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(pa + 16 * k)),
                                     bswap);
            xb[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(pb + 16 * k)),
                                     bswap);
        }
        SHA_STEP(0, 0, 1, 2, 3);
        SHA_STEP(1, 1, 2, 3, 0);
        SHA_STEP(2, 2, 3, 0, 1);
        SHA_STEP(3, 3, 0, 1, 2);
        SHA_STEP(4, 0, 1, 2, 3);
        SHA_STEP(5, 1, 2, 3, 0);
        SHA_STEP(6, 2, 3, 0, 1);
        SHA_STEP(7, 3, 0, 1, 2);
        SHA_STEP(8, 0, 1, 2, 3);
        SHA_STEP(9, 1, 2, 3, 0);
        SHA_STEP(10, 2, 3, 0, 1);
        SHA_STEP(11, 3, 0, 1, 2);
        SHA_STEP(12, 0, 1, 2, 3);
        SHA_STEP(13, 1, 2, 3, 0);
        SHA_STEP(14, 2, 3, 0, 1);
        SHA_STEP(15, 3, 0, 1, 2);
        a0 = _mm_add_epi32(a0, sa0);
        a1 = _mm_add_epi32(a1, sa1);
        b0 = _mm_add_epi32(b0, sb0);
        b1 = _mm_add_epi32(b1, sb1);
    }
    /* ABEF and CDGH -> a..h */
    t = _mm_shuffle_epi32(a0, 0x1B);
    a1 = _mm_shuffle_epi32(a1, 0xB1);
    _mm_storeu_si128((__m128i *)(void *)sa, _mm_blend_epi16(t, a1, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)(sa + 4), _mm_alignr_epi8(a1, t, 8));
    t = _mm_shuffle_epi32(b0, 0x1B);
    b1 = _mm_shuffle_epi32(b1, 0xB1);
    _mm_storeu_si128((__m128i *)(void *)sb, _mm_blend_epi16(t, b1, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)(sb + 4), _mm_alignr_epi8(b1, t, 8));
}
#undef SHA_STEP
#undef SHA_SCHED
#undef SHA_RNDS

/* SHA-256's padding after len bytes of message (plus pre bytes already hashed into the
 * starting state): 0x80, zeros, the bit length; m holds the message at its start and
 * room for two more blocks. Returns the number of blocks. */
static size_t sha_pad(unsigned char *m, size_t len, uint64_t pre)
{
    size_t total = (len + 9 + 63) / 64 * 64;
    uint64_t bits = (pre + len) * 8;
    m[len] = 0x80;
    memset(m + len + 1, 0, total - len - 1);
    for (int k = 0; k < 8; k++)
        m[total - 1 - (size_t)k] = (unsigned char)(bits >> (8 * k));
    return total / 64;
}

static void sha_out(const uint32_t st[8], unsigned char out[HASH_LEN])
{
    for (int k = 0; k < 8; k++) {
        out[4 * k] = (unsigned char)(st[k] >> 24);
        out[4 * k + 1] = (unsigned char)(st[k] >> 16);
        out[4 * k + 2] = (unsigned char)(st[k] >> 8);
        out[4 * k + 3] = (unsigned char)st[k];
    }
}
#endif /* HAVE_SHA2X */

/* ---- encoding ---- */

static int put_str(struct gw_buf *b, bool *first, const char *key, const char *v)
{
    if (!v)
        return 0;
    int rc = gw_json_key(b, first, key);
    return rc ? rc : gw_json_cstr(b, v);
}

static int put_num(struct gw_buf *b, bool *first, const char *key, int64_t v)
{
    if (v < 0)
        return 0;
    int rc = gw_json_key(b, first, key);
    return rc ? rc : gw_json_int(b, v);
}

static void buf_truncate(struct gw_buf *b, size_t len)
{
    if (b->data && len <= b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

static int encode_with(struct hasher *h, const struct audit_record *r, const char *prev_hex,
                       struct gw_buf *out, char hash_hex[AUDIT_HASH_HEX + 1])
{
    unsigned char prev[HASH_LEN] = {0}, hash[HASH_LEN];
    char ts[AUDIT_TS_LEN + 1];
    size_t start = out->len;
    bool first = true;
    int rc;

    if (prev_hex && !from_hex64(prev_hex, strlen(prev_hex), prev))
        return GW_ERR_INVAL;
    if (audit_format_ts(r->ts_ms > 0 ? r->ts_ms : wall_ms(), ts) < 0)
        return GW_ERR_INVAL;
    rc = gw_buf_putc(out, '{');
    if (rc == 0)
        rc = put_str(out, &first, "ts", ts);
    if (rc == 0)
        rc = put_str(out, &first, "event", r->event);
    if (rc == 0)
        rc = put_str(out, &first, "proto", r->proto);
    if (rc == 0)
        rc = put_str(out, &first, "session", r->session);
    if (rc == 0)
        rc = put_str(out, &first, "user", r->user);
    if (rc == 0)
        rc = put_str(out, &first, "remote", r->remote);
    if (rc == 0)
        rc = put_str(out, &first, "path", r->path);
    if (rc == 0)
        rc = put_str(out, &first, "path2", r->path2);
    if (rc == 0)
        rc = put_num(out, &first, "bytes", r->bytes);
    if (rc == 0)
        rc = put_num(out, &first, "offset", r->offset);
    if (rc == 0)
        rc = put_num(out, &first, "size", r->size);
    if (rc == 0)
        rc = put_num(out, &first, "duration_ms", r->duration_ms);
    if (rc == 0)
        rc = put_str(out, &first, "status", r->status);
    if (rc == 0)
        rc = put_str(out, &first, "error", r->error);
    if (rc == 0)
        rc = put_str(out, &first, "sha256", r->sha256);
    if (rc == 0) {
        char prevbuf[AUDIT_HASH_HEX + 1];
        to_hex(prev, HASH_LEN, prevbuf);
        rc = put_str(out, &first, "prev", prevbuf);
    }
    /* The canonical form is everything so far plus '}'. */
    if (rc == 0)
        rc = hasher_run(h, prev, out->data + start, out->len - start, hash);
    if (rc == 0) {
        to_hex(hash, HASH_LEN, hash_hex);
        rc = put_str(out, &first, "hash", hash_hex);
    }
    if (rc == 0)
        rc = gw_buf_append(out, "}\n", 2);
    if (rc == 0 && out->len - start > GW_MAX_AUDIT_LINE)
        rc = GW_ERR_TOOLONG;
    if (rc < 0) {
        buf_truncate(out, start);
        hash_hex[0] = '\0';
        if (rc == GW_ERR_LIMIT)
            rc = GW_ERR_TOOLONG;
    }
    return rc;
}

int audit_encode(const struct audit_record *r, const char prev_hex[AUDIT_HASH_HEX + 1],
                 const unsigned char *key, size_t keylen, struct gw_buf *out,
                 char hash_hex[AUDIT_HASH_HEX + 1])
{
    struct hasher h;
    int rc = hasher_init(&h, key, keylen);
    if (rc < 0)
        return rc;
    rc = encode_with(&h, r, prev_hex, out, hash_hex);
    hasher_free(&h);
    return rc;
}

/* ---- the line parser ---- */

enum member_type { M_STR, M_NUM, M_TS, M_HEX };

#define MEMBER(n, t, f)                                                                            \
    {                                                                                              \
        n, sizeof n - 1, t, f                                                                      \
    }
static const struct member {
    const char *name;
    size_t len;
    enum member_type type;
    size_t off; /* of the field in struct audit_record */
} members[] = {
    MEMBER("ts", M_TS, 0),
    MEMBER("event", M_STR, offsetof(struct audit_record, event)),
    MEMBER("proto", M_STR, offsetof(struct audit_record, proto)),
    MEMBER("session", M_STR, offsetof(struct audit_record, session)),
    MEMBER("user", M_STR, offsetof(struct audit_record, user)),
    MEMBER("remote", M_STR, offsetof(struct audit_record, remote)),
    MEMBER("path", M_STR, offsetof(struct audit_record, path)),
    MEMBER("path2", M_STR, offsetof(struct audit_record, path2)),
    MEMBER("bytes", M_NUM, offsetof(struct audit_record, bytes)),
    MEMBER("offset", M_NUM, offsetof(struct audit_record, offset)),
    MEMBER("size", M_NUM, offsetof(struct audit_record, size)),
    MEMBER("duration_ms", M_NUM, offsetof(struct audit_record, duration_ms)),
    MEMBER("status", M_STR, offsetof(struct audit_record, status)),
    MEMBER("error", M_STR, offsetof(struct audit_record, error)),
    MEMBER("sha256", M_STR, offsetof(struct audit_record, sha256)),
    MEMBER("prev", M_HEX, 0),
    MEMBER("hash", M_HEX, 0),
};
#undef MEMBER
#define NMEMBERS (sizeof members / sizeof members[0])
#define MEMBER_HASH (NMEMBERS - 1)

struct parser {
    const char *s;
    size_t n, i;
    char *store;
    size_t storesz, used;
};

/* Out of input: a truncated record. Anything else wrong: not a record. */
#define NEED(p, k)                                                                                 \
    do {                                                                                           \
        if ((p)->n - (p)->i < (k))                                                                 \
            return GW_ERR_AGAIN;                                                                   \
    } while (0)

static void skip_ws(struct parser *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\r' || p->s[p->i] == '\n'))
        p->i++;
}

static int hex4(struct parser *p, unsigned *v)
{
    NEED(p, 4);
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + (size_t)k];
        int d = hexval(c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c);
        if (d < 0)
            return GW_ERR_PROTO;
        x = x << 4 | (unsigned)d;
    }
    p->i += 4;
    *v = x;
    return 0;
}

static void put_utf8(struct parser *p, uint32_t cp)
{
    char *o = p->store + p->used;
    if (cp < 0x80) {
        o[0] = (char)cp;
        p->used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        p->used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        p->used += 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        p->used += 4;
    }
}

/* A multi-byte sequence cut short by the end of the line: a truncated record. */
static bool utf8_cut_short(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (need == 0 || n >= need || c > 0xF4)
        return false;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return false;
    return true;
}

/* 1 for the bytes a string copies as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80.. 0xFF: 0, UTF-8 is validated */
};

/* The lanes of x that a JSON string cannot copy as they are ('"', '\\', controls, and
 * bytes from 0x80, which need UTF-8 validation) have bit 7 set in the result. The
 * zero-lane tests, (v - 1) & ~v, may also flag lanes above a flagged one, never below:
 * the lowest flag is exact. */
static uint64_t special_lanes(uint64_t x)
{
    uint64_t q = x ^ LANES('"'), b = x ^ LANES('\\');
    return (((q - LANES(0x01)) & ~q) | ((b - LANES(0x01)) & ~b) | ((x - LANES(0x20)) & ~x) | x) &
           LANES(0x80);
}

/* How many bytes at the start of s[0..n) a JSON string copies as they are: ASCII from
 * 0x20 up, other than '"' and '\\'. Strings in the log are mostly such runs, so this is
 * where parsing spends its time: eight bytes a step. */
static size_t plain_run(const char *s, size_t n)
{
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t sp = special_lanes(load8(s + i));
        if (sp) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + (size_t)__builtin_ctzll(sp) / 8;
#else
            break;
#endif
        }
    }
    while (i < n && plain[(unsigned char)s[i]])
        i++;
    return i;
}

/* Parses a string at p->i (on its opening quote) into the storage; *out points to the
 * NUL-terminated result, *outlen its length. Every escape decodes to no more bytes than
 * it takes in the line, so storage of len + 1 bytes always suffices. */
static int parse_string(struct parser *p, const char **out, size_t *outlen)
{
    NEED(p, 1);
    if (p->s[p->i] != '"')
        return GW_ERR_PROTO;
    p->i++;
    size_t start = p->used;
    for (;;) {
        NEED(p, 1);
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return GW_ERR_PROTO;
        if (plain[c]) {
            /* A run of bytes that need no attention, copied at once. */
            size_t k = plain_run(p->s + p->i, p->n - p->i);
            memcpy(p->store + p->used, p->s + p->i, k);
            p->used += k;
            p->i += k;
            continue;
        }
        if (c >= 0x80) {
            size_t l = gw_utf8_seq_len((const unsigned char *)p->s + p->i, p->n - p->i);
            if (l == 0)
                return utf8_cut_short((const unsigned char *)p->s + p->i, p->n - p->i)
                           ? GW_ERR_AGAIN
                           : GW_ERR_PROTO;
            memcpy(p->store + p->used, p->s + p->i, l);
            p->used += l;
            p->i += l;
            continue;
        }
        if (c != '\\') {
            p->store[p->used++] = (char)c;
            p->i++;
            continue;
        }
        NEED(p, 2);
        char e = p->s[p->i + 1];
        p->i += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            p->store[p->used++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u')
            return GW_ERR_PROTO;
        unsigned u, lo;
        int rc = hex4(p, &u);
        if (rc < 0)
            return rc;
        uint32_t cp = u;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return GW_ERR_PROTO; /* a lone low surrogate */
        if (u >= 0xD800 && u <= 0xDBFF) {
            NEED(p, 2);
            if (p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                return GW_ERR_PROTO;
            p->i += 2;
            rc = hex4(p, &lo);
            if (rc < 0)
                return rc;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return GW_ERR_PROTO;
            cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0)
            return GW_ERR_PROTO; /* records are C strings */
        put_utf8(p, cp);
    }
    *outlen = p->used - start;
    p->store[p->used++] = '\0';
    *out = p->store + start;
    return 0;
}

/* A JSON number; *intval gets its value when it is a non-negative integer that fits
 * (else *isint is false). At the end of the line a number may still be growing. */
static int parse_number(struct parser *p, int64_t *intval, bool *isint)
{
    size_t st = p->i;
    bool neg = false, frac = false;
    int64_t v = 0;
    bool overflow = false;
    if (p->s[p->i] == '-') {
        neg = true;
        p->i++;
    }
    NEED(p, 1);
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            int d = p->s[p->i] - '0';
            if (v > (INT64_MAX - d) / 10)
                overflow = true;
            else
                v = v * 10 + d;
            p->i++;
        }
    } else {
        return GW_ERR_PROTO;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        frac = true;
        p->i++;
        NEED(p, 1);
        if (p->s[p->i] < '0' || p->s[p->i] > '9')
            return GW_ERR_PROTO;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        frac = true;
        p->i++;
        NEED(p, 1);
        if (p->s[p->i] == '+' || p->s[p->i] == '-')
            p->i++;
        NEED(p, 1);
        if (p->s[p->i] < '0' || p->s[p->i] > '9')
            return GW_ERR_PROTO;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    NEED(p, 1); /* an object member is followed by ',' or '}' */
    *isint = !neg && !frac && !overflow && p->i > st;
    *intval = v;
    return 0;
}

static int parse_literal(struct parser *p, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t k = 0; k < l; k++) {
        NEED(p, 1);
        if (p->s[p->i] != lit[k])
            return GW_ERR_PROTO;
        p->i++;
    }
    return 0;
}

/* Names are a few bytes long: a loop beats a call to memcmp. */
static bool same_name(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* By length and first letter, then the whole name: one or two comparisons a key. */
static inline int find_member(const char *name, size_t len)
{
    int m;
    switch (len) {
    case 2:
        m = 0;
        break; /* ts */
    case 4:
        m = name[0] == 'u'   ? 4   /* user */
            : name[0] == 's' ? 10  /* size */
            : name[0] == 'h' ? 16  /* hash */
            : name[1] == 'a' ? 6   /* path */
                             : 15; /* prev */
        break;
    case 5:
        m = name[0] == 'e'   ? (name[1] == 'v' ? 1 : 13) /* event, error */
            : name[0] == 'b' ? 8                         /* bytes */
            : name[1] == 'r' ? 2                         /* proto */
                             : 7;                        /* path2 */
        break;
    case 6:
        m = name[0] == 'r'   ? 5   /* remote */
            : name[0] == 'o' ? 9   /* offset */
            : name[1] == 't' ? 12  /* status */
                             : 14; /* sha256 */
        break;
    case 7:
        m = 3;
        break; /* session */
    case 11:
        m = 11;
        break; /* duration_ms */
    default:
        return -1;
    }
    return same_name(members[m].name, name, len) ? m : -1;
}

/* One member's value, stored into out when the member is known (m >= 0). */
static int parse_value(struct parser *p, int m, struct audit_line *out)
{
    NEED(p, 1);
    char c = p->s[p->i];
    const struct member *mem = m >= 0 ? &members[m] : NULL;
    int rc;
    /* The writer's forms of a hash and a time, read in place; anything else (escapes,
     * say) goes the general way below. */
    if (c == '"' && mem && mem->type == M_HEX && p->n - p->i > AUDIT_HASH_HEX + 1 &&
        p->s[p->i + AUDIT_HASH_HEX + 1] == '"') {
        bool hash = m == (int)MEMBER_HASH;
        if (from_hex64(p->s + p->i + 1, AUDIT_HASH_HEX, hash ? out->hash_raw : out->prev_raw)) {
            char *hex = hash ? out->hash : out->prev;
            memcpy(hex, p->s + p->i + 1, AUDIT_HASH_HEX);
            hex[AUDIT_HASH_HEX] = '\0';
            p->i += AUDIT_HASH_HEX + 2;
            return 0;
        }
    }
    if (c == '"' && mem && mem->type == M_TS && p->n - p->i > AUDIT_TS_LEN + 1 &&
        p->s[p->i + AUDIT_TS_LEN + 1] == '"' &&
        audit_parse_ts(p->s + p->i + 1, AUDIT_TS_LEN, &out->rec.ts_ms) == 0) {
        p->i += AUDIT_TS_LEN + 2;
        return 0;
    }
    if (c == '"') {
        const char *v;
        size_t vlen;
        rc = parse_string(p, &v, &vlen);
        if (rc < 0 || !mem)
            return rc;
        switch (mem->type) {
        case M_STR:
            *(const char **)((char *)&out->rec + mem->off) = v;
            return 0;
        case M_TS:
            return audit_parse_ts(v, vlen, &out->rec.ts_ms) < 0 ? GW_ERR_PROTO : 0;
        case M_HEX: {
            bool hash = m == (int)MEMBER_HASH;
            if (!from_hex64(v, vlen, hash ? out->hash_raw : out->prev_raw))
                return GW_ERR_PROTO;
            memcpy(hash ? out->hash : out->prev, v, AUDIT_HASH_HEX + 1);
            return 0;
        }
        case M_NUM:
            return GW_ERR_PROTO;
        }
        return GW_ERR_PROTO;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        int64_t v;
        bool isint;
        rc = parse_number(p, &v, &isint);
        if (rc < 0 || !mem)
            return rc;
        if (mem->type != M_NUM || !isint)
            return GW_ERR_PROTO;
        *(int64_t *)((char *)&out->rec + mem->off) = v;
        return 0;
    }
    if (c == 'n') {
        /* null: the member is absent, which init already says */
        rc = parse_literal(p, "null");
        if (rc == 0 && m == (int)MEMBER_HASH)
            rc = GW_ERR_PROTO;
        return rc;
    }
    if (c == 't' || c == 'f') {
        rc = parse_literal(p, c == 't' ? "true" : "false");
        return rc == 0 && mem ? GW_ERR_PROTO : rc;
    }
    return GW_ERR_PROTO;
}

int audit_parse_line_general(const char *line, size_t len, char *storage, size_t storage_len,
                             struct audit_line *out)
{
    struct parser p = {.s = line, .n = len, .store = storage, .storesz = storage_len};
    uint32_t seen = 0;
    bool first = true;
    int rc;

    /* Not a memset of the whole: the hex and raw hashes are only read when set. */
    audit_record_init(&out->rec);
    out->prev[0] = out->hash[0] = '\0';
    out->hash_member = 0;
    if (!storage || len == SIZE_MAX || storage_len < len + 1)
        return GW_ERR_INVAL;
    if (len == 0)
        return GW_ERR_PROTO; /* an empty line is not a record cut short */
    skip_ws(&p);
    NEED(&p, 1);
    if (line[p.i] != '{')
        return GW_ERR_PROTO;
    p.i++;
    skip_ws(&p);
    NEED(&p, 1);
    if (line[p.i] == '}') {
        p.i++;
        goto end;
    }
    for (;;) {
        size_t member_start = p.i; /* the ',' before it, or the key for the first */
        if (!first) {
            if (line[p.i] != ',')
                return GW_ERR_PROTO;
            p.i++;
            skip_ws(&p);
        }
        /* Keys are read in place; one with escapes is decoded into storage and dropped
         * again. */
        const char *key;
        size_t klen, k;
        int m;
        NEED(&p, 1);
        if (line[p.i] == '"' && (k = plain_run(line + p.i + 1, len - p.i - 1)) < len - p.i - 1 &&
            line[p.i + 1 + k] == '"') {
            key = line + p.i + 1;
            klen = k;
            p.i += k + 2;
        } else {
            size_t mark = p.used;
            rc = parse_string(&p, &key, &klen);
            if (rc < 0)
                return rc;
            p.used = mark; /* key stays readable: nothing is written before find_member */
        }
        m = find_member(key, klen);
        if (m >= 0) {
            if (seen & (UINT32_C(1) << m))
                return GW_ERR_PROTO;
            seen |= UINT32_C(1) << m;
            if (m == (int)MEMBER_HASH) {
                if (first)
                    return GW_ERR_PROTO;
                out->hash_member = member_start;
            }
        }
        skip_ws(&p);
        NEED(&p, 1);
        if (line[p.i] != ':')
            return GW_ERR_PROTO;
        p.i++;
        skip_ws(&p);
        rc = parse_value(&p, m, out);
        if (rc < 0)
            return rc;
        skip_ws(&p);
        NEED(&p, 1);
        if (line[p.i] == '}') {
            p.i++;
            break;
        }
        if (m == (int)MEMBER_HASH)
            return GW_ERR_PROTO; /* members after hash would be outside the chain */
        first = false;
    }
end:
    skip_ws(&p);
    if (p.i != p.n)
        return GW_ERR_PROTO;
    return 0;
}

/* ---- the fast path: lines in the writer's own form, read in place ----
 * Queries and verification read every line of logs of gigabytes, and the general parser
 * above goes byte by byte, copying every string. The writer's lines have a fixed shape:
 * known members in the order of struct audit_record, no whitespace, strings without
 * escapes, non-negative integers. The fast path reads such a line member by member:
 * each key compared whole with the one its first letter names, times and hashes at
 * their fixed lengths, other strings scanned 16 bytes a step for their closing quote.
 * Anything else (an escape, whitespace, null, an unknown, repeated or out-of-order
 * member, a value of the wrong type, a bad time or hash) it leaves to the general
 * parser, which alone decides what is wrong: the fast path accepts a subset of what
 * the general parser accepts and for that subset fills *out with the same values. */

/* memcpy for the short strings of a record: compilers expand a memcpy of unknown
 * length inline into `rep movs`, slow to start, which cost the fast path a fifth of
 * its time. Overlapping word copies instead. */
static inline void copy_short(char *d, const char *s, size_t n)
{
    uint64_t a, b;
    if (n >= 16) {
        for (size_t i = 0; n - i > 16; i += 16) {
            memcpy(&a, s + i, 8);
            memcpy(&b, s + i + 8, 8);
            memcpy(d + i, &a, 8);
            memcpy(d + i + 8, &b, 8);
        }
        memcpy(&a, s + n - 16, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d + n - 16, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

/* A string member's value into the caller's storage (store NULL: not stored). */
static inline void fast_store(char *store, size_t *used, const char **field, const char *v,
                              size_t n)
{
    if (!store)
        return;
    copy_short(store + *used, v, n);
    store[*used + n] = '\0';
    *field = store + *used;
    *used += n + 1;
}

/* The member whose key, quoted and followed by ':', starts at p (on the quote; at
 * least 16 bytes readable), its length in *toklen; -1 for any other key. */
static inline int fast_key(const char *p, size_t *toklen)
{
    /* Constant-length comparisons: compilers turn each into a load or two. */
#define FAST_KEY(lit, m)                                                                           \
    if (memcmp(p, lit, sizeof lit - 1) == 0) {                                                     \
        *toklen = sizeof lit - 1;                                                                  \
        return m;                                                                                  \
    }
    switch (p[1]) {
    case 't':
        FAST_KEY("\"ts\":", 0)
        break;
    case 'e':
        FAST_KEY("\"event\":", 1)
        FAST_KEY("\"error\":", 13)
        break;
    case 'p':
        FAST_KEY("\"proto\":", 2)
        FAST_KEY("\"path\":", 6)
        FAST_KEY("\"path2\":", 7)
        FAST_KEY("\"prev\":", 15)
        break;
    case 's':
        FAST_KEY("\"session\":", 3)
        FAST_KEY("\"size\":", 10)
        FAST_KEY("\"status\":", 12)
        FAST_KEY("\"sha256\":", 14)
        break;
    case 'u':
        FAST_KEY("\"user\":", 4)
        break;
    case 'r':
        FAST_KEY("\"remote\":", 5)
        break;
    case 'b':
        FAST_KEY("\"bytes\":", 8)
        break;
    case 'o':
        FAST_KEY("\"offset\":", 9)
        break;
    case 'd':
        FAST_KEY("\"duration_ms\":", 11)
        break;
    case 'h':
        FAST_KEY("\"hash\":", 16)
        break;
    default:
        break;
    }
#undef FAST_KEY
    return -1;
}

/* The length of the string whose content starts at s (after its opening quote), up to
 * its closing quote within s[0..avail), when the general parser would copy it as it
 * is: no backslash, no control byte, valid UTF-8. SIZE_MAX otherwise. */
static inline size_t fast_string(const char *s, size_t avail)
{
    size_t i = 0;
    bool hi = false, found = false;
#if defined(__SSE2__)
    /* 16 bytes a step. A signed compare with 0x20 flags controls and bytes from 0x80
     * (negative); the sign bits tell them apart. */
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    for (; !found && avail - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, dq));
        unsigned h = (unsigned)_mm_movemask_epi8(x);
        unsigned bad = ((unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, sp)) & ~h) |
                       (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, bs));
        unsigned before = q ? (q & (0u - q)) - 1 : 0xffffu; /* the bytes before a quote */
        if (bad & before)
            return SIZE_MAX;
        hi = hi || (h & before) != 0;
        if (q) {
            found = true;
            i += (size_t)__builtin_ctz(q);
            break;
        }
    }
#endif
    for (; !found && i < avail; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            found = true;
            break;
        }
        if (c < 0x20 || c == '\\')
            return SIZE_MAX;
        hi = hi || c >= 0x80;
    }
    if (!found || (hi && !gw_utf8_valid(s, i)))
        return SIZE_MAX;
    return i;
}

/* 0: *out filled (as audit_parse_line_general would); 1: not sure, ask the general
 * parser. store NULL: string and number members are not stored (left NULL and -1), for
 * the verifier, which needs only prev, hash and where hash begins. */
static int fast_parse(const char *s, size_t n, char *store, struct audit_line *out)
{
    bool first = true;
    int last = -1;
    size_t i = 1, used = 0, tl = 0;

    if (n < 2 || s[0] != '{' || s[n - 1] != '}')
        return 1;
    audit_record_init(&out->rec);
    out->prev[0] = out->hash[0] = '\0';
    out->hash_member = 0;
    /* s[n - 1] is '}': every value below ends before it, so s[i] stays readable. */
    for (;;) {
        size_t member_start = i;
        if (!first && s[i++] != ',')
            return 1;
        /* members in the writer's order: none repeats, none unknown */
        int m = n - i > 16 ? fast_key(s + i, &tl) : -1;
        if (m <= last || (m == (int)MEMBER_HASH && first))
            return 1;
        last = m;
        i += tl;
        const struct member *mem = &members[m];
        if (mem->type == M_TS) {
            if (n - i < AUDIT_TS_LEN + 2 || s[i] != '"' || s[i + AUDIT_TS_LEN + 1] != '"' ||
                audit_parse_ts(s + i + 1, AUDIT_TS_LEN, &out->rec.ts_ms) < 0)
                return 1;
            i += AUDIT_TS_LEN + 2;
        } else if (mem->type == M_HEX) {
            bool hash = m == (int)MEMBER_HASH;
            if (n - i < AUDIT_HASH_HEX + 2 || s[i] != '"' || s[i + AUDIT_HASH_HEX + 1] != '"' ||
                !from_hex64(s + i + 1, AUDIT_HASH_HEX, hash ? out->hash_raw : out->prev_raw))
                return 1;
            char *hex = hash ? out->hash : out->prev;
            memcpy(hex, s + i + 1, AUDIT_HASH_HEX);
            hex[AUDIT_HASH_HEX] = '\0';
            if (hash)
                out->hash_member = member_start;
            i += AUDIT_HASH_HEX + 2;
        } else if (mem->type == M_STR) {
            size_t l = s[i] == '"' ? fast_string(s + i + 1, n - i - 1) : SIZE_MAX;
            if (l == SIZE_MAX)
                return 1;
            fast_store(store, &used, (const char **)(void *)((char *)&out->rec + mem->off),
                       s + i + 1, l);
            i += l + 2;
        } else {
            /* 18 digits always fit an int64_t; more, or a leading zero: not sure */
            size_t st = i;
            int64_t v = 0;
            while (s[i] >= '0' && s[i] <= '9' && i - st < 18)
                v = v * 10 + (s[i++] - '0');
            if (i == st || (s[i] >= '0' && s[i] <= '9') || (s[st] == '0' && i - st > 1))
                return 1;
            if (store)
                *(int64_t *)(void *)((char *)&out->rec + mem->off) = v;
        }
        if (s[i] == '}')
            return i == n - 1 ? 0 : 1;
        if (m == (int)MEMBER_HASH)
            return 1;
        first = false;
    }
}

bool audit_parse_line_fast(const char *line, size_t len, char *storage, struct audit_line *out)
{
    return fast_parse(line, len, storage, out) == 0;
}

int audit_parse_line(const char *line, size_t len, char *storage, size_t storage_len,
                     struct audit_line *out)
{
    if (storage && len != SIZE_MAX && storage_len >= len + 1 &&
        fast_parse(line, len, storage, out) == 0)
        return 0;
    return audit_parse_line_general(line, len, storage, storage_len, out);
}

/* ---- the writer ---- */

struct audit_log {
    int fd;
    char *path;
    struct hasher h;
    char last[AUDIT_HASH_HEX + 1];
    off_t expect_size; /* file size after our last write; -1: unknown, re-read the tail */
    struct gw_buf line;
    struct audit_outputs out; /* xferlog and syslog (audit_set_outputs) */
};

/* Finds the last complete record in the file's tail: its hash continues the chain.
 * *partial is set when the file does not end with '\n' (a truncated record). When no
 * record is found, last is left as it was (zeros for a fresh writer), and verify will
 * report what the file holds. */
static int scan_tail(int fd, off_t size, char last[AUDIT_HASH_HEX + 1], bool *partial)
{
    size_t want = size > (off_t)TAIL_WINDOW ? TAIL_WINDOW : (size_t)size;
    off_t base = size - (off_t)want;
    char *win = NULL, *store = NULL;
    int rc = 0;

    *partial = false;
    if (want == 0)
        return 0;
    win = malloc(want);
    store = malloc(GW_MAX_AUDIT_LINE + 1);
    if (!win || !store) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, win + got, want - got, base + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? gw_err_from_errno(errno) : GW_ERR_IO;
            goto out;
        }
        got += (size_t)r;
    }
    *partial = win[want - 1] != '\n';
    /* Walk complete lines backwards: end is one past a '\n'. */
    size_t end = want;
    while (end > 0 && win[end - 1] != '\n')
        end--;
    while (end > 0) {
        size_t lend = end - 1, st = lend;
        while (st > 0 && win[st - 1] != '\n')
            st--;
        if (st == 0 && base > 0)
            break; /* the line may begin before the window */
        struct audit_line al;
        if (lend - st <= GW_MAX_AUDIT_LINE &&
            audit_parse_line(win + st, lend - st, store, GW_MAX_AUDIT_LINE + 1, &al) == 0 &&
            al.hash[0]) {
            memcpy(last, al.hash, AUDIT_HASH_HEX + 1);
            break;
        }
        end = st;
    }
out:
    free(win);
    free(store);
    return rc;
}

static int open_fd(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return gw_err_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return GW_ERR_INVAL;
    }
    *fd_out = fd;
    return 0;
}

/* The lock only keeps several writers' chains straight (there is normally one, the
 * parent): where the file system has no flock, writing unlocked beats not writing. */
static bool lock_fd(int fd, int op)
{
    while (flock(fd, op) < 0)
        if (errno != EINTR)
            return false;
    return true;
}

/* Under the lock: adopt the file's tail when it is not what we left. A file emptied by
 * copytruncate (or a new one after rotation) keeps our chain. */
static int sync_tail_st(struct audit_log *log, bool *partial, const struct stat *known)
{
    struct stat st;
    *partial = false;
    if (known)
        st = *known;
    else if (fstat(log->fd, &st) < 0)
        return gw_err_from_errno(errno);
    if (st.st_size == log->expect_size || st.st_size == 0) {
        log->expect_size = st.st_size;
        return 0;
    }
    if (st.st_size < log->expect_size) {
        /* Records were cut off the end (not copytruncate, which empties the file):
         * keep our chain, so the next record exposes the cut instead of hiding it. */
        char c;
        ssize_t r;
        while ((r = pread(log->fd, &c, 1, st.st_size - 1)) < 0 && errno == EINTR)
            ;
        if (r != 1)
            return r < 0 ? gw_err_from_errno(errno) : GW_ERR_IO;
        *partial = c != '\n';
        log->expect_size = st.st_size;
        return 0;
    }
    int rc = scan_tail(log->fd, st.st_size, log->last, partial);
    if (rc == 0)
        log->expect_size = st.st_size;
    return rc;
}

static int sync_tail(struct audit_log *log, bool *partial)
{
    return sync_tail_st(log, partial, NULL);
}

/* A fresh writer on an empty file continues the chain of the newest rotation (path.1
 * or path.1.gz): rotation while no writer runs (`ferry audit rotate` with the server
 * stopped, or logrotate `create`) must not start a new chain. A gzip file is read to
 * its end: this happens once per audit_open, on an empty file only. Nothing found
 * leaves last as it was. */
static void rotation_last(const char *path, char last[AUDIT_HASH_HEX + 1])
{
    char **files = NULL, *store = NULL, *keep = NULL;
    size_t n = 0, keeplen = 0;
    struct audit_reader *rd = NULL;
    const char *newest = NULL;
    bool partial;

    if (audit_files(path, &files, &n) < 0)
        return;
    if (n > 0 && strcmp(files[n - 1], path) != 0)
        newest = files[n - 1];
    else if (n > 1)
        newest = files[n - 2];
    if (!newest)
        goto out;
    size_t nl = strlen(newest);
    if (nl < 3 || strcmp(newest + nl - 3, ".gz") != 0) {
        int fd = open(newest, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            scan_tail(fd, st.st_size, last, &partial);
        if (fd >= 0)
            close(fd);
        goto out;
    }
    store = malloc(GW_MAX_AUDIT_LINE + 1);
    keep = malloc(GW_MAX_AUDIT_LINE + 1);
    if (!store || !keep || audit_reader_open(newest, &rd) < 0)
        goto out;
    const char *line;
    size_t len;
    unsigned flags;
    int r;
    while ((r = audit_reader_next(rd, &line, &len, &flags)) == 1) {
        if (flags != AUDIT_LINE_NEWLINE)
            continue;
        memcpy(keep, line, len);
        keeplen = len;
    }
    struct audit_line al;
    if (r == 0 && keeplen > 0 &&
        audit_parse_line(keep, keeplen, store, GW_MAX_AUDIT_LINE + 1, &al) == 0 && al.hash[0])
        memcpy(last, al.hash, AUDIT_HASH_HEX + 1);
out:
    audit_reader_close(rd);
    free(store);
    free(keep);
    audit_files_free(files);
}

/* A writer moving from the file old to an empty new one: our chain is current when
 * old is path.1 (the usual case: one rotation since our last record). Otherwise
 * records were written to files we never saw (another writer appended across more
 * than one rotation while we were idle), and the chain continues from the newest
 * rotation's end. path.1 is kept uncompressed by `ferry audit rotate` (and by
 * logrotate's delaycompress) so that this is a short read at the end of a file. */
static void newest_rotation_tail(const char *path, const struct stat *old,
                                 char last[AUDIT_HASH_HEX + 1])
{
    char *one = NULL;
    struct stat st;
    if (asprintf(&one, "%s.1", path) < 0)
        return;
    if (stat(one, &st) != 0 || st.st_dev != old->st_dev || st.st_ino != old->st_ino)
        rotation_last(path, last);
    free(one);
}

int audit_open(const char *path, const unsigned char *key, size_t keylen, struct audit_log **out)
{
    struct audit_log *log = calloc(1, sizeof *log);
    int rc = GW_ERR_NOMEM;

    *out = NULL;
    if (!log)
        return rc;
    log->fd = -1;
    log->expect_size = -1;
    memset(log->last, '0', AUDIT_HASH_HEX);
    gw_buf_init(&log->line, GW_MAX_AUDIT_LINE + 1);
    audit_outputs_init(&log->out);
    log->path = strdup(path);
    if (!log->path)
        goto fail;
    rc = hasher_init(&log->h, key, keylen);
    if (rc < 0)
        goto fail;
    rc = open_fd(path, &log->fd);
    if (rc < 0)
        goto fail;
    struct stat st;
    if (fstat(log->fd, &st) == 0 && st.st_size == 0)
        rotation_last(path, log->last);
    *out = log;
    return 0;
fail:
    audit_close(log);
    return rc;
}

/* True when path names the file open as fd; false when it names another file or
 * nothing (renamed away). Errors other than ENOENT count as "same": when we cannot
 * tell, we keep writing where we are. */
static bool path_is_fd(const char *path, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0)
        return true;
    if (stat(path, &b) < 0)
        return errno != ENOENT;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Under the lock of the open file: when the path now names another file (the log was
 * rotated), take the old file's final tail (another writer may have appended to it
 * after our last record), then move to the file at the path, creating it when the
 * rotation did not, and lock it. When the new file cannot be opened the record goes
 * to the old one: it is kept, and the chain stays whole either way. */
static void follow_path(struct audit_log *log, bool *locked, struct stat *fdst, bool *fdst_ok)
{
    struct stat old, cur, at;
    bool partial;
    int fd;
    /* path_is_fd, keeping the descriptor's status for sync_tail: a batch costs one
     * fstat(2) less. */
    *fdst_ok = fstat(log->fd, fdst) == 0;
    if (!*fdst_ok)
        return;
    if (stat(log->path, &at) < 0 ? errno != ENOENT
                                 : at.st_dev == fdst->st_dev && at.st_ino == fdst->st_ino)
        return;
    *fdst_ok = false;
    sync_tail(log, &partial);
    bool have_old = fstat(log->fd, &old) == 0;
    if (open_fd(log->path, &fd) < 0)
        return;
    if (*locked)
        lock_fd(log->fd, LOCK_UN);
    close(log->fd);
    log->fd = fd;
    log->expect_size = -1; /* a written file continues its own tail */
    *locked = lock_fd(fd, LOCK_EX);
    if (have_old && fstat(fd, &cur) == 0 && cur.st_size == 0)
        newest_rotation_tail(log->path, &old, log->last);
}

static int open_xferlog(const char *path, int *fd_out)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return gw_err_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return GW_ERR_INVAL;
    }
    *fd_out = fd;
    return 0;
}

/* An output failing is logged when it starts failing and when it recovers, not once
 * per record (a full disk would otherwise flood the log it shares). */
static void output_status(struct audit_outputs *o, int rc, const char *what)
{
    if (rc < 0 && !o->failing)
        gw_log(GW_LOG_ERROR, "audit: cannot write the %s %s: %s (the audit log has every record)",
               what, o->xpath, gw_strerror(rc));
    else if (rc == 0 && o->failing)
        gw_log(GW_LOG_INFO, "audit: the %s is written again", what);
    o->failing = rc < 0;
}

static bool is_transfer(const struct audit_record *r)
{
    return r->event && (strcmp(r->event, "upload") == 0 || strcmp(r->event, "download") == 0);
}

void audit_outputs_init(struct audit_outputs *o)
{
    memset(o, 0, sizeof *o);
    o->xfd = -1;
    gw_buf_init(&o->aux, GW_MAX_AUDIT_LINE + 1);
}

int audit_outputs_set(struct audit_outputs *o, const char *xferlog_path, bool use_syslog)
{
    int fd = -1;
    char *xp = NULL;
    if (xferlog_path && *xferlog_path) {
        xp = strdup(xferlog_path);
        if (!xp)
            return GW_ERR_NOMEM;
        int rc = open_xferlog(xferlog_path, &fd);
        if (rc < 0) {
            free(xp);
            return rc;
        }
    }
    if (o->xfd >= 0)
        close(o->xfd);
    free(o->xpath);
    o->xfd = fd;
    o->xpath = xp;
    o->use_syslog = use_syslog;
    return 0;
}

void audit_outputs_reopen(struct audit_outputs *o)
{
    int fd;
    if (o->xfd >= 0 && open_xferlog(o->xpath, &fd) == 0) {
        close(o->xfd);
        o->xfd = fd;
    }
}

void audit_outputs_emit(struct audit_outputs *o, const struct audit_record *r, const char *hash)
{
    int rc = 0;
    if (o->xfd >= 0 && is_transfer(r)) {
        if (!path_is_fd(o->xpath, o->xfd))
            audit_outputs_reopen(o); /* logrotate `create` renamed it away */
        gw_buf_reset(&o->aux);
        rc = audit_xferlog_line(r, &o->aux);
        if (rc == 0)
            rc = gw_write_all(o->xfd, o->aux.data, o->aux.len);
        output_status(o, rc, "xferlog");
    }
    if (o->use_syslog) {
        gw_buf_reset(&o->aux);
        if (audit_syslog_line(r, hash, &o->aux) == 0) {
            int prio =
                LOG_AUTHPRIV | (r->status && strcmp(r->status, "ok") == 0 ? LOG_INFO : LOG_NOTICE);
            if (o->syslog_hook)
                o->syslog_hook(o->syslog_arg, prio, o->aux.data);
            else
                syslog(prio, "%s", o->aux.data);
        }
    }
}

void audit_outputs_free(struct audit_outputs *o)
{
    if (o->xfd >= 0)
        close(o->xfd);
    o->xfd = -1;
    gw_buf_free(&o->aux);
    free(o->xpath);
    o->xpath = NULL;
}

int audit_append(struct audit_log *log, const struct audit_record *r)
{
    return audit_append_many(log, r, 1);
}

int audit_append_many(struct audit_log *log, const struct audit_record *recs, size_t n)
{
    char hash[AUDIT_HASH_HEX + 1], first_prev[AUDIT_HASH_HEX + 1];
    bool partial = false;
    int rc;

    if (!log || log->fd < 0 || (n > 0 && !recs))
        return GW_ERR_INVAL;
    if (n == 0)
        return 0;
    /* One lock, one rotation check and one write(2) for the whole batch: a busy parent
     * appends what every session sent since its last wake-up at once. Each record's
     * timestamp is fixed first, for the record and its xferlog and syslog lines. */
    int64_t now = wall_ms();
    struct stat fdst;
    bool fdst_ok;
    bool locked = lock_fd(log->fd, LOCK_EX);
    follow_path(log, &locked, &fdst, &fdst_ok);
    rc = sync_tail_st(log, &partial, fdst_ok ? &fdst : NULL);
    if (rc < 0)
        goto unlock;
    gw_buf_reset(&log->line);
    memcpy(first_prev, log->last, sizeof first_prev);
    /* A truncated record stays a line of its own; our records start on the next. */
    if (partial)
        rc = gw_buf_putc(&log->line, '\n');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct audit_record rec = recs[i];
        if (rec.ts_ms <= 0)
            rec.ts_ms = now;
        rc = encode_with(&log->h, &rec, log->last, &log->line, hash);
        if (rc == 0)
            memcpy(log->last, hash, sizeof hash);
    }
    if (rc < 0) {
        memcpy(log->last, first_prev, sizeof first_prev); /* nothing was written */
        goto unlock;
    }
    rc = gw_write_all(log->fd, log->line.data, log->line.len);
    if (rc < 0) {
        /* Part of it may be there: look again next time (sync_tail re-reads the tail,
         * so the chain continues from what the file really ends with). */
        memcpy(log->last, first_prev, sizeof first_prev);
        log->expect_size = -1;
        goto unlock;
    }
    if (locked) {
        log->expect_size += (off_t)log->line.len; /* nobody else wrote meanwhile */
    } else {
        off_t pos = lseek(log->fd, 0, SEEK_CUR);
        log->expect_size = pos >= 0 ? pos : -1;
    }
unlock:
    if (locked)
        lock_fd(log->fd, LOCK_UN);
    if (rc == 0) {
        /* The outputs want each record's hash: re-derive it from the line just
         * written rather than keep n hashes around. */
        const char *p = log->line.data, *end = log->line.data + log->line.len;
        if (partial)
            p++; /* the '\n' ending a truncated line before the batch */
        for (size_t i = 0; i < n && p < end; i++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl || nl - p < AUDIT_HASH_HEX + 2)
                break;
            struct audit_record rec = recs[i];
            if (rec.ts_ms <= 0)
                rec.ts_ms = now;
            memcpy(hash, nl - 2 - AUDIT_HASH_HEX, AUDIT_HASH_HEX); /* ...,"hash":"HEX"} */
            hash[AUDIT_HASH_HEX] = '\0';
            audit_outputs_emit(&log->out, &rec, hash);
            p = nl + 1;
        }
    }
    return rc;
}

int audit_reopen(struct audit_log *log)
{
    int fd = -1;
    if (!log)
        return GW_ERR_INVAL;
    audit_outputs_reopen(&log->out);
    int rc = open_fd(log->path, &fd);
    if (rc < 0)
        return rc; /* keep writing to the old file rather than losing records */
    /* The old file's final tail first, as follow_path does. */
    struct stat old, cur;
    bool partial, moved = false, locked = log->fd >= 0 && lock_fd(log->fd, LOCK_EX);
    if (log->fd >= 0 && !path_is_fd(log->path, log->fd)) {
        sync_tail(log, &partial);
        moved = fstat(log->fd, &old) == 0;
    }
    if (locked)
        lock_fd(log->fd, LOCK_UN);
    if (log->fd >= 0)
        close(log->fd);
    log->fd = fd;
    log->expect_size = -1; /* sync_tail keeps the chain for an empty file */
    if (moved && lock_fd(fd, LOCK_EX)) {
        if (fstat(fd, &cur) == 0 && cur.st_size == 0)
            newest_rotation_tail(log->path, &old, log->last);
        lock_fd(fd, LOCK_UN);
    }
    return 0;
}

int audit_set_outputs(struct audit_log *log, const char *xferlog_path, bool use_syslog)
{
    return log ? audit_outputs_set(&log->out, xferlog_path, use_syslog) : GW_ERR_INVAL;
}

void audit_set_syslog_hook(struct audit_log *log,
                           void (*hook)(void *arg, int priority, const char *line), void *arg)
{
    log->out.syslog_hook = hook;
    log->out.syslog_arg = arg;
}

void audit_close(struct audit_log *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close(log->fd);
    audit_outputs_free(&log->out);
    hasher_free(&log->h);
    gw_buf_free(&log->line);
    free(log->path);
    free(log);
}

/* ---- keys ---- */

int audit_key_load(const char *path, unsigned char **key, size_t *keylen)
{
    unsigned char *k = NULL;
    size_t n = 0;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    *key = NULL;
    *keylen = 0;
    if (fd < 0)
        return gw_err_from_errno(errno);
    k = malloc(AUDIT_MAX_KEY + 3);
    if (!k) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, k + n, AUDIT_MAX_KEY + 3 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = gw_err_from_errno(errno);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == AUDIT_MAX_KEY + 3) {
            rc = GW_ERR_TOOLONG;
            goto out;
        }
    }
    if (n > 0 && k[n - 1] == '\n') {
        n--;
        if (n > 0 && k[n - 1] == '\r')
            n--;
    }
    if (n < AUDIT_MIN_KEY || n > AUDIT_MAX_KEY) {
        rc = n < AUDIT_MIN_KEY ? GW_ERR_INVAL : GW_ERR_TOOLONG;
        goto out;
    }
    *key = k;
    *keylen = n;
    k = NULL;
out:
    if (k) {
        OPENSSL_cleanse(k, AUDIT_MAX_KEY + 3);
        free(k);
    }
    close(fd);
    return rc;
}

void audit_key_free(unsigned char *key, size_t keylen)
{
    if (key) {
        OPENSSL_cleanse(key, keylen);
        free(key);
    }
}

/* ---- the verifier: one line at a time, so files are never loaded whole ---- */

struct ring_entry {
    uint64_t line;
    unsigned char prev[HASH_LEN], hash[HASH_LEN];
};

/* A record parsed and waiting for its hash, to be computed with the next one's. */
struct staged {
    uint64_t line;
    size_t len; /* of the message: prev, canonical form, '}' */
    unsigned char prev[HASH_LEN], hash[HASH_LEN];
    char prevhex[AUDIT_HASH_HEX + 1], hashhex[AUDIT_HASH_HEX + 1];
};

struct verifier {
    struct hasher h;
    char *store;
    bool pairs;          /* hash records two at a time (sha256_x2) */
    unsigned char *msg;  /* pairs: two messages of PAIR_BUF bytes */
    struct staged st[2]; /* pairs: records waiting for their hash */
    unsigned nst;
    bool have_expect;
    unsigned char expect[HASH_LEN];
    uint64_t line;
    bool done;
    unsigned lookahead;           /* lines still to inspect after a break */
    unsigned char want[HASH_LEN]; /* the broken record's prev, looked for ahead */
    struct ring_entry ring[VERIFY_RING];
    unsigned ring_n, ring_pos;
    struct audit_verify_result *res;
};

static int verifier_init(struct verifier *v, const char *start_prev, const unsigned char *key,
                         size_t keylen, struct audit_verify_result *res)
{
    memset(v, 0, sizeof *v);
    memset(res, 0, sizeof *res);
    v->res = res;
    if (start_prev) {
        if (!from_hex64(start_prev, strlen(start_prev), v->expect))
            return GW_ERR_INVAL;
        v->have_expect = true;
        memcpy(res->last_hash, start_prev, AUDIT_HASH_HEX + 1);
    }
    v->store = malloc(GW_MAX_AUDIT_LINE + 1);
    if (!v->store)
        return GW_ERR_NOMEM;
    int rc = hasher_init(&v->h, key, keylen);
    if (rc < 0) {
        free(v->store);
        v->store = NULL;
        return rc;
    }
#ifdef HAVE_SHA2X
    /* FERRY_AUDIT_SHA2X=0 turns pairs off: tests compare both ways. */
    const char *env = getenv("FERRY_AUDIT_SHA2X");
    if (cpu_has_sha() && !(env && strcmp(env, "0") == 0)) {
        v->msg = malloc(2 * PAIR_BUF);
        v->pairs = v->msg != NULL; /* without the memory, one at a time */
    }
#endif
    return 0;
}

static void verifier_free(struct verifier *v)
{
    hasher_free(&v->h);
    free(v->store);
    free(v->msg);
    v->store = NULL;
    v->msg = NULL;
}

static void settle(struct verifier *v, enum audit_verdict verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void settle(struct verifier *v, enum audit_verdict verdict, const char *fmt, ...)
{
    va_list ap;
    v->res->verdict = verdict;
    v->res->line = v->line;
    va_start(ap, fmt);
    vsnprintf(v->res->reason, sizeof v->res->reason, fmt, ap);
    va_end(ap);
    v->done = v->lookahead == 0;
}

static const struct ring_entry *ring_find(const struct verifier *v, const unsigned char *h,
                                          bool by_prev)
{
    for (unsigned k = 0; k < v->ring_n; k++) {
        const struct ring_entry *e = &v->ring[k];
        if (memcmp(by_prev ? e->prev : e->hash, h, HASH_LEN) == 0)
            return e;
    }
    return NULL;
}

/* Explains a record whose prev is not the previous record's hash. */
static void explain_break(struct verifier *v, const unsigned char prev[HASH_LEN],
                          const unsigned char hash[HASH_LEN])
{
    static const unsigned char zero[HASH_LEN];
    const struct ring_entry *e;
    uint64_t n = v->line;

    if ((e = ring_find(v, prev, false)) != NULL) {
        settle(v, AUDIT_BROKEN,
               "line %" PRIu64 ": record out of order or repeated (it follows line %" PRIu64
               ", not line %" PRIu64 ")",
               n, e->line, n - 1);
    } else if ((e = ring_find(v, hash, true)) != NULL) {
        settle(v, AUDIT_BROKEN,
               "line %" PRIu64 ": record out of order (it belongs before line %" PRIu64 ")", n,
               e->line);
    } else if (memcmp(prev, zero, HASH_LEN) == 0) {
        settle(v, AUDIT_BROKEN,
               "line %" PRIu64 ": a new chain starts here (earlier records removed, or logs "
               "spliced together)",
               n);
    } else {
        /* Maybe the record it follows comes later: look ahead before calling it a
         * deletion. */
        memcpy(v->want, prev, HASH_LEN);
        v->lookahead = VERIFY_RING;
        if (v->res->records == 0 && v->have_expect && n == 1)
            settle(v, AUDIT_BROKEN,
                   "line 1: does not continue the previous file's chain (records or a file "
                   "missing before it)");
        else
            settle(v, AUDIT_BROKEN,
                   "line %" PRIu64 ": chain broken: record(s) missing before this line "
                   "(deleted), or line %" PRIu64 " rewritten",
                   n, n - 1);
    }
}

/* One line after a chain break, looked at for the record the broken one follows: hit
 * when it is a record and its hash is that record's. */
static void verifier_lookahead_hit(struct verifier *v, bool hit)
{
    if (hit) {
        snprintf(v->res->reason, sizeof v->res->reason,
                 "line %" PRIu64 ": record out of order (it follows line %" PRIu64
                 ", which comes after it)",
                 v->res->line, v->line);
        v->lookahead = 0;
    } else {
        v->lookahead--;
    }
    if (v->lookahead == 0)
        v->done = true;
}

static void verifier_lookahead(struct verifier *v, const char *s, size_t n)
{
    struct audit_line al;
    verifier_lookahead_hit(v,
                           n <= GW_MAX_AUDIT_LINE &&
                               audit_parse_line(s, n, v->store, GW_MAX_AUDIT_LINE + 1, &al) == 0 &&
                               al.hash[0] && memcmp(al.hash_raw, v->want, HASH_LEN) == 0);
}

/* A record whose hash is computed (calc): the checks, in the order the verdicts rank. */
static void verifier_check(struct verifier *v, const unsigned char prev[HASH_LEN],
                           const unsigned char hash[HASH_LEN], const unsigned char calc[HASH_LEN],
                           const char *prevhex, const char *hashhex)
{
    /* Hashes are public: no need for a constant-time comparison. */
    if (memcmp(calc, hash, HASH_LEN) != 0) {
        settle(v, AUDIT_EDITED, "line %" PRIu64 ": record edited (hash mismatch%s)", v->line,
               v->res->records == 0 ? "; or the chain is keyed and the key is wrong or missing"
                                    : "");
        return;
    }
    if (v->res->records == 0 && !v->res->first_prev[0])
        memcpy(v->res->first_prev, prevhex, AUDIT_HASH_HEX + 1);
    if (v->have_expect && memcmp(prev, v->expect, HASH_LEN) != 0) {
        explain_break(v, prev, hash);
        return;
    }
    v->have_expect = true;
    memcpy(v->expect, hash, HASH_LEN);
    struct ring_entry *e = &v->ring[v->ring_pos];
    e->line = v->line;
    memcpy(e->prev, prev, HASH_LEN);
    memcpy(e->hash, hash, HASH_LEN);
    v->ring_pos = (v->ring_pos + 1) % VERIFY_RING;
    if (v->ring_n < VERIFY_RING)
        v->ring_n++;
    v->res->records++;
    memcpy(v->res->last_hash, hashhex, AUDIT_HASH_HEX + 1);
}

#ifdef HAVE_SHA2X
/* Hashes the staged records (one or two) and checks them in order, as if each had been
 * checked when read: a verdict on the first leaves the second unread, or looked at
 * only for the record a break follows. */
static void verifier_flush(struct verifier *v)
{
    unsigned char calc[2][HASH_LEN], inner[2][64];
    uint32_t st[2][8], scratch[8];
    const uint32_t *start = v->h.keyed ? (const uint32_t *)v->h.inner.h : sha_iv;
    uint64_t pre = v->h.keyed ? 64 : 0;
    size_t nb[2] = {0, 0};
    unsigned n = v->nst;

    if (n == 0)
        return;
    v->nst = 0;
    memcpy(scratch, sha_iv, sizeof scratch); /* the wasted lane's state */
    for (unsigned k = 0; k < n; k++) {
        memcpy(st[k], start, sizeof st[k]);
        nb[k] = sha_pad(v->msg + k * PAIR_BUF, v->st[k].len, pre);
    }
    size_t both = n == 2 ? (nb[0] < nb[1] ? nb[0] : nb[1]) : 0;
    if (both > 0)
        sha256_x2(st[0], v->msg, st[1], v->msg + PAIR_BUF, both);
    for (unsigned k = 0; k < n; k++) {
        const unsigned char *rest = v->msg + k * PAIR_BUF + 64 * both;
        if (nb[k] > both)
            sha256_x2(st[k], rest, scratch, rest, nb[k] - both);
        sha_out(st[k], calc[k]);
    }
    if (v->h.keyed) {
        /* HMAC's outer hash: the inner digest, padded, after the opad block */
        for (unsigned k = 0; k < n; k++) {
            memcpy(inner[k], calc[k], HASH_LEN);
            sha_pad(inner[k], HASH_LEN, 64);
            memcpy(st[k], v->h.outer.h, sizeof st[k]);
        }
        sha256_x2(st[0], inner[0], n == 2 ? st[1] : scratch, inner[n == 2], 1);
        for (unsigned k = 0; k < n; k++)
            sha_out(st[k], calc[k]);
        /* derived from the key */
        OPENSSL_cleanse(inner, sizeof inner);
        OPENSSL_cleanse(st, sizeof st);
        OPENSSL_cleanse(scratch, sizeof scratch);
    }
    for (unsigned k = 0; k < n && !v->done; k++) {
        const struct staged *r = &v->st[k];
        v->line = r->line;
        if (v->lookahead > 0)
            verifier_lookahead_hit(v, memcmp(r->hash, v->want, HASH_LEN) == 0);
        else
            verifier_check(v, r->prev, r->hash, calc[k], r->prevhex, r->hashhex);
    }
    v->line = v->st[n - 1].line;
}

/* A line that is a record in the writer's form, staged for hashing with the next one.
 * False (nothing done) for any other line: it takes the way of verifier_line. */
static bool verifier_stage(struct verifier *v, const char *s, size_t n)
{
    struct audit_line al;
    if (n > PAIR_MAX || fast_parse(s, n, NULL, &al) != 0 || !al.prev[0] || !al.hash[0])
        return false;
    struct staged *r = &v->st[v->nst];
    unsigned char *m = v->msg + v->nst * PAIR_BUF;
    r->line = ++v->line;
    r->len = HASH_LEN + al.hash_member + 1;
    memcpy(r->prev, al.prev_raw, HASH_LEN);
    memcpy(r->hash, al.hash_raw, HASH_LEN);
    memcpy(r->prevhex, al.prev, sizeof r->prevhex);
    memcpy(r->hashhex, al.hash, sizeof r->hashhex);
    memcpy(m, al.prev_raw, HASH_LEN);
    memcpy(m + HASH_LEN, s, al.hash_member);
    m[HASH_LEN + al.hash_member] = '}';
    if (++v->nst == 2)
        verifier_flush(v);
    return true;
}
#else
static void verifier_flush(struct verifier *v)
{
    (void)v;
}
#endif

static void verifier_line_one(struct verifier *v, const char *s, size_t n, unsigned flags);

static void verifier_line(struct verifier *v, const char *s, size_t n, unsigned flags)
{
    if (v->done)
        return;
#ifdef HAVE_SHA2X
    if (v->pairs && v->lookahead == 0 && flags == AUDIT_LINE_NEWLINE && verifier_stage(v, s, n))
        return;
#endif
    verifier_flush(v);
    verifier_line_one(v, s, n, flags);
}

static void verifier_line_one(struct verifier *v, const char *s, size_t n, unsigned flags)
{
    struct audit_line al;
    unsigned char prev[HASH_LEN], hash[HASH_LEN], calc[HASH_LEN];

    if (v->done)
        return;
    v->line++;
    if (v->lookahead > 0) {
        verifier_lookahead(v, s, n);
        return;
    }
    if (flags & AUDIT_LINE_TOOLONG) {
        settle(v, AUDIT_MALFORMED, "line %" PRIu64 ": not an audit record (longer than %u bytes)",
               v->line, (unsigned)GW_MAX_AUDIT_LINE);
        return;
    }
    /* The fast path without storing strings: the chain needs none of them. */
    int rc = fast_parse(s, n, NULL, &al) == 0
                 ? 0
                 : audit_parse_line_general(s, n, v->store, GW_MAX_AUDIT_LINE + 1, &al);
    if (!(flags & AUDIT_LINE_NEWLINE)) {
        settle(v, AUDIT_TRUNCATED,
               "line %" PRIu64 ": truncated tail (the last record is incomplete)", v->line);
        return;
    }
    if (rc == GW_ERR_AGAIN) {
        settle(v, AUDIT_TRUNCATED,
               "line %" PRIu64 ": truncated record (the writer stopped in the middle of it)",
               v->line);
        return;
    }
    if (rc < 0 || !al.prev[0] || !al.hash[0]) {
        settle(v, AUDIT_MALFORMED, "line %" PRIu64 ": not an audit record (%s)", v->line,
               rc < 0 ? "malformed JSON" : "no prev/hash");
        return;
    }
    memcpy(prev, al.prev_raw, HASH_LEN);
    memcpy(hash, al.hash_raw, HASH_LEN);
    if (hasher_run(&v->h, prev, s, al.hash_member, calc) < 0) {
        settle(v, AUDIT_MALFORMED, "line %" PRIu64 ": cannot compute the hash", v->line);
        return;
    }
    verifier_check(v, prev, hash, calc, al.prev, al.hash);
}

static void verifier_finish(struct verifier *v)
{
    verifier_flush(v);
    if (v->res->verdict == AUDIT_INTACT) {
        v->res->line = 0;
        snprintf(v->res->reason, sizeof v->res->reason, "%" PRIu64 " records, chain intact",
                 v->res->records);
    }
}

int audit_verify_buf(const char *buf, size_t len, const char *start_prev, const unsigned char *key,
                     size_t keylen, struct audit_verify_result *res)
{
    struct verifier v;
    int rc = verifier_init(&v, start_prev, key, keylen, res);
    if (rc < 0)
        goto out;
    size_t i = 0;
    while (i < len && !v.done) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
        unsigned flags = nl ? AUDIT_LINE_NEWLINE : 0;
        if (n > GW_MAX_AUDIT_LINE)
            flags |= AUDIT_LINE_TOOLONG;
        verifier_line(&v, buf + i, n, flags);
        i += n + (nl != NULL);
    }
    verifier_finish(&v);
out:
    verifier_free(&v);
    return rc;
}

/* ---- the reader ---- */

struct audit_reader {
    gzFile gz; /* NULL: a plain file, read(2) straight into buf */
    int fd;
    char *buf;
    size_t pos, end;
    bool eof;
    bool skipping; /* inside an over-long line */
};

#define READER_CAP ((size_t)GW_IO_CHUNK)

int audit_reader_open(const char *path, struct audit_reader **out)
{
    struct audit_reader *rd = calloc(1, sizeof *rd);
    int rc = GW_ERR_NOMEM, fd = -1;
    *out = NULL;
    if (!rd)
        return rc;
    rd->fd = -1;
    rd->buf = malloc(READER_CAP);
    if (!rd->buf)
        goto fail;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = gw_err_from_errno(errno);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = gw_err_from_errno(errno);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = GW_ERR_ISDIR;
        goto fail;
    }
    /* zlib reads plain files too, but through a copy: queries spent a tenth of their
     * time there, so only gzip's magic number (or a pipe: no peeking) goes to zlib. */
    unsigned char magic[2];
    ssize_t m;
    while ((m = pread(fd, magic, 2, 0)) < 0 && errno == EINTR)
        ;
    if (m < 0 && errno != ESPIPE) {
        rc = gw_err_from_errno(errno);
        goto fail;
    }
    if (m >= 0 && (m < 2 || magic[0] != 0x1f || magic[1] != 0x8b)) {
        rd->fd = fd;
        *out = rd;
        return 0;
    }
    rd->gz = gzdopen(fd, "rb");
    if (!rd->gz)
        goto fail;
    fd = -1; /* gzclose closes it */
    gzbuffer(rd->gz, READER_CAP);
    *out = rd;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    audit_reader_close(rd);
    return rc;
}

/* Reads more after moving the unread bytes to the front. */
static int reader_fill(struct audit_reader *rd)
{
    if (rd->pos > 0) {
        memmove(rd->buf, rd->buf + rd->pos, rd->end - rd->pos);
        rd->end -= rd->pos;
        rd->pos = 0;
    }
    size_t room = READER_CAP - rd->end;
    if (room > INT_MAX)
        room = INT_MAX;
    if (!rd->gz) {
        ssize_t n;
        while ((n = read(rd->fd, rd->buf + rd->end, room)) < 0 && errno == EINTR)
            ;
        if (n < 0)
            return GW_ERR_IO;
        rd->eof = n == 0;
        rd->end += (size_t)n;
        return 0;
    }
    int r = gzread(rd->gz, rd->buf + rd->end, (unsigned)room);
    if (r < 0) {
        int zerr;
        gzerror(rd->gz, &zerr);
        return zerr == Z_ERRNO ? GW_ERR_IO : GW_ERR_PROTO;
    }
    if (r == 0) {
        /* A compressed stream cut short reads as EOF; zlib flags it. */
        int zerr;
        gzerror(rd->gz, &zerr);
        if (zerr == Z_BUF_ERROR || zerr == Z_DATA_ERROR)
            return GW_ERR_PROTO;
        rd->eof = true;
    }
    rd->end += (size_t)r;
    return 0;
}

int audit_reader_next(struct audit_reader *rd, const char **line, size_t *len, unsigned *flags)
{
    for (;;) {
        char *st = rd->buf + rd->pos;
        size_t avail = rd->end - rd->pos;
        char *nl = memchr(st, '\n', avail);
        if (rd->skipping) {
            rd->pos = nl ? rd->pos + (size_t)(nl - st) + 1 : rd->end;
            rd->skipping = nl == NULL;
            if (rd->skipping && rd->eof)
                return 0;
            if (!nl) {
                int rc = reader_fill(rd);
                if (rc < 0)
                    return rc;
            }
            continue;
        }
        if (nl && (size_t)(nl - st) <= GW_MAX_AUDIT_LINE) {
            *line = st;
            *len = (size_t)(nl - st);
            *flags = AUDIT_LINE_NEWLINE;
            rd->pos += *len + 1;
            return 1;
        }
        if (nl || avail > GW_MAX_AUDIT_LINE) {
            *line = st;
            *len = GW_MAX_AUDIT_LINE;
            *flags = AUDIT_LINE_TOOLONG | (nl ? AUDIT_LINE_NEWLINE : 0);
            rd->pos += GW_MAX_AUDIT_LINE;
            rd->skipping = true;
            return 1;
        }
        if (rd->eof) {
            if (avail == 0)
                return 0;
            *line = st;
            *len = avail;
            *flags = 0;
            rd->pos = rd->end;
            return 1;
        }
        int rc = reader_fill(rd);
        if (rc < 0)
            return rc;
    }
}

void audit_reader_close(struct audit_reader *rd)
{
    if (!rd)
        return;
    if (rd->gz)
        gzclose(rd->gz);
    else if (rd->fd >= 0)
        close(rd->fd);
    free(rd->buf);
    free(rd);
}

int audit_verify_file(const char *path, const char *start_prev, const unsigned char *key,
                      size_t keylen, struct audit_verify_result *res)
{
    struct audit_reader *rd = NULL;
    struct verifier v;
    int rc = verifier_init(&v, start_prev, key, keylen, res);
    if (rc < 0)
        goto out;
    rc = audit_reader_open(path, &rd);
    if (rc < 0)
        goto out;
    while (!v.done) {
        const char *s;
        size_t n;
        unsigned flags;
        int r = audit_reader_next(rd, &s, &n, &flags);
        if (r == 0)
            break;
        if (r == GW_ERR_PROTO) {
            verifier_flush(&v); /* the records before it come first */
            if (v.done)
                break;
            v.line++;
            settle(&v, AUDIT_MALFORMED, "line %" PRIu64 ": compressed data corrupt or truncated",
                   v.line);
            v.done = true;
            break;
        }
        if (r < 0) {
            rc = r;
            goto out;
        }
        verifier_line(&v, s, n, flags);
    }
    verifier_finish(&v);
out:
    audit_reader_close(rd);
    verifier_free(&v);
    return rc;
}

/* ---- rotated files ---- */

struct rot {
    unsigned long n;
    char *name;
};

static int rot_cmp(const void *a, const void *b)
{
    const struct rot *x = a, *y = b;
    /* oldest (highest N) first */
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->name, y->name);
}

/* "N" or "N.gz" after "base." -> N. */
static bool rot_suffix(const char *s, unsigned long *n, bool *gz)
{
    char *end;
    if (*s < '1' || *s > '9')
        return false;
    errno = 0;
    *n = strtoul(s, &end, 10);
    if (errno)
        return false;
    *gz = strcmp(end, ".gz") == 0;
    return *end == '\0' || *gz;
}

void audit_files_free(char **files)
{
    if (!files)
        return;
    for (char **f = files; *f; f++)
        free(*f);
    free(files);
}

int audit_files(const char *path, char ***files, size_t *n)
{
    char *dir = NULL;
    const char *base;
    struct rot *rots = NULL;
    size_t nrot = 0, cap = 0;
    char **list = NULL;
    DIR *d = NULL;
    int rc = GW_ERR_NOMEM;

    *files = NULL;
    *n = 0;
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
    base = slash ? slash + 1 : path;
    if (!dir)
        goto out;
    size_t blen = strlen(base);
    d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            unsigned long k;
            bool gz;
            if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' ||
                !rot_suffix(e->d_name + blen + 1, &k, &gz))
                continue;
            if (nrot == cap) {
                size_t nc = cap ? cap * 2 : 16;
                struct rot *r = realloc(rots, nc * sizeof *r);
                if (!r)
                    goto out;
                rots = r;
                cap = nc;
            }
            rots[nrot].n = k;
            if (asprintf(&rots[nrot].name, "%s/%s", dir, e->d_name) < 0)
                goto out;
            nrot++;
        }
    }
    /* Sorted by N descending, "x.N" before "x.N.gz" (strcmp): keep the first of a pair. */
    if (nrot > 1)
        qsort(rots, nrot, sizeof *rots, rot_cmp);
    list = calloc(nrot + 2, sizeof *list);
    if (!list)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < nrot; i++) {
        if (k > 0 && i > 0 && rots[i].n == rots[i - 1].n)
            continue;
        list[k++] = rots[i].name;
        rots[i].name = NULL;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        list[k] = strdup(path);
        if (!list[k])
            goto out;
        k++;
    }
    if (k == 0) {
        rc = GW_ERR_NOENT;
        goto out;
    }
    *files = list;
    *n = k;
    list = NULL;
    rc = 0;
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < nrot; i++)
        free(rots[i].name);
    free(rots);
    audit_files_free(list);
    free(dir);
    return rc;
}

int audit_verify_files(char *const *files, size_t n, const unsigned char *key, size_t keylen,
                       struct audit_verify_result *res, size_t *bad)
{
    char prev[AUDIT_HASH_HEX + 1] = "";
    char first_prev[AUDIT_HASH_HEX + 1] = "";
    uint64_t total = 0;
    int rc = 0;

    memset(res, 0, sizeof *res);
    *bad = n;
    for (size_t i = 0; i < n; i++) {
        rc = audit_verify_file(files[i], prev[0] ? prev : NULL, key, keylen, res);
        if (rc < 0) {
            *bad = i;
            return rc;
        }
        if (!first_prev[0])
            memcpy(first_prev, res->first_prev, sizeof first_prev);
        total += res->records;
        if (res->verdict != AUDIT_INTACT) {
            *bad = i;
            break;
        }
        if (res->last_hash[0])
            memcpy(prev, res->last_hash, sizeof prev);
    }
    res->records = total;
    memcpy(res->first_prev, first_prev, sizeof first_prev);
    if (res->verdict == AUDIT_INTACT)
        snprintf(res->reason, sizeof res->reason, "%" PRIu64 " records, chain intact", total);
    return rc;
}

/* ---- xferlog ---- */

/* xferlog is space-separated: as ProFTPD does, spaces (and anything that would break the
 * line) become '_'. An absent or empty value is "*". */
static int put_field_n(struct gw_buf *out, const char *s, size_t n)
{
    int rc = 0;
    if (!s || n == 0)
        return gw_buf_putc(out, '*');
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && n > 0; p++, n--)
        rc = gw_buf_putc(out, *p <= 0x20 || *p == 0x7f ? '_' : (char)*p);
    return rc;
}

static int put_field(struct gw_buf *out, const char *s)
{
    return put_field_n(out, s, s ? strlen(s) : 0);
}

int audit_xferlog_line(const struct audit_record *r, struct gw_buf *out)
{
    static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    bool up;
    size_t start = out->len;
    int rc;

    if (!r->event)
        return GW_ERR_INVAL;
    if (strcmp(r->event, "upload") == 0)
        up = true;
    else if (strcmp(r->event, "download") == 0)
        up = false;
    else
        return GW_ERR_INVAL;

    int64_t ms = r->ts_ms > 0 ? r->ts_ms : wall_ms();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return GW_ERR_INVAL;
    int64_t secs = r->duration_ms > 0 ? (r->duration_ms + 500) / 1000 : 0;
    if (secs < 1)
        secs = 1;

    /* remote without its port: "a.b.c.d:p" -> a.b.c.d, "[v6]:p" -> v6 */
    const char *rem = r->remote ? r->remote : "*";
    size_t rlen = strlen(rem);
    if (rem[0] == '[') {
        const char *close = strchr(rem, ']');
        rem++;
        rlen = close ? (size_t)(close - rem) : rlen - 1;
    } else {
        const char *colon = strrchr(rem, ':');
        if (colon && strchr(rem, ':') == colon)
            rlen = (size_t)(colon - rem);
    }
    const char *user = r->user && *r->user ? r->user : "*";
    bool anon = strcmp(user, "anonymous") == 0 || strcmp(user, "ftp") == 0;

    rc = gw_buf_printf(out, "%s %s %2d %02d:%02d:%02d %d %" PRId64 " ", wday[tm.tm_wday],
                       mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       tm.tm_year + 1900, secs);
    /* the remote comes from a socket address, but a query may format an edited log */
    if (rc == 0)
        rc = put_field_n(out, rem, rlen);
    if (rc == 0)
        rc = gw_buf_printf(out, " %" PRId64 " ", r->bytes > 0 ? r->bytes : 0);
    if (rc == 0)
        rc = put_field(out, r->path);
    if (rc == 0)
        rc = gw_buf_printf(out, " b _ %c %c ", up ? 'i' : 'o', anon ? 'a' : 'r');
    if (rc == 0)
        rc = put_field(out, user);
    if (rc == 0)
        rc = gw_buf_putc(out, ' ');
    if (rc == 0)
        rc = put_field(out, r->proto ? r->proto : "ftp");
    if (rc == 0)
        rc = gw_buf_printf(out, " 0 * %c\n", r->status && strcmp(r->status, "ok") == 0 ? 'c' : 'i');
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}

/* ---- syslog ---- */

/* One " key=value" pair: bare when the value is a plain token, else quoted with '"' and
 * '\\' escaped, control bytes, DEL, C1 controls and invalid UTF-8 as \xHH: nothing in a
 * record can end the line or fake another field. */
static int put_kv(struct gw_buf *b, const char *key, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t n = strlen(v);
    bool bare = n > 0;
    for (size_t i = 0; i < n && bare; i++)
        bare = p[i] > 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\' && p[i] != '=';
    int rc = gw_buf_printf(b, " %s=", key);
    if (rc < 0 || bare)
        return rc < 0 ? rc : gw_buf_append(b, v, n);
    rc = gw_buf_putc(b, '"');
    for (size_t i = 0; i < n && rc == 0;) {
        unsigned char c = p[i];
        size_t l = c >= 0x80 ? gw_utf8_seq_len(p + i, n - i) : 1;
        if (c >= 0x80 && l > 0 && !(c == 0xC2 && p[i + 1] < 0xA0)) {
            rc = gw_buf_append(b, p + i, l);
            i += l;
        } else if (c < 0x20 || c >= 0x7f) {
            rc = gw_buf_printf(b, "\\x%02x", c);
            i++;
        } else {
            if (c == '"' || c == '\\')
                rc = gw_buf_putc(b, '\\');
            if (rc == 0)
                rc = gw_buf_putc(b, (char)c);
            i++;
        }
    }
    return rc < 0 ? rc : gw_buf_putc(b, '"');
}

static int put_knum(struct gw_buf *b, const char *key, int64_t v)
{
    return v < 0 ? 0 : gw_buf_printf(b, " %s=%" PRId64, key, v);
}

int audit_syslog_line(const struct audit_record *r, const char *hash_hex, struct gw_buf *out)
{
    const char *const keys[] = {"event", "proto", "session", "user", "remote", "path", "path2"};
    const char *const vals[] = {r->event,  r->proto, r->session, r->user,
                                r->remote, r->path,  r->path2};
    size_t start = out->len;
    int rc = gw_buf_puts(out, "audit:");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && rc == 0; i++)
        if (vals[i])
            rc = put_kv(out, keys[i], vals[i]);
    if (rc == 0)
        rc = put_knum(out, "bytes", r->bytes);
    if (rc == 0)
        rc = put_knum(out, "offset", r->offset);
    if (rc == 0)
        rc = put_knum(out, "size", r->size);
    if (rc == 0)
        rc = put_knum(out, "duration_ms", r->duration_ms);
    if (rc == 0 && r->status)
        rc = put_kv(out, "status", r->status);
    if (rc == 0 && r->error)
        rc = put_kv(out, "error", r->error);
    if (rc == 0 && r->sha256)
        rc = put_kv(out, "sha256", r->sha256);
    if (rc == 0 && hash_hex)
        rc = put_kv(out, "hash", hash_hex);
    if (rc < 0)
        buf_truncate(out, start);
    return rc;
}

/* ---- rotation ---- */

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    if (!err || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static int ulong_desc(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Shifts base.N(.gz) to base.N+1(.gz), newest last so nothing is overwritten, deleting
 * what would go above keep (0: keep everything). */
static int shift_rotations(int dfd, const char *base, unsigned keep, char *err, size_t errsz)
{
    unsigned long *ns = NULL;
    size_t n = 0, cap = 0, blen = strlen(base);
    int rc = 0, dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        if (dup >= 0)
            close(dup);
        seterr(err, errsz, "cannot read the directory: %s", strerror(errno));
        return gw_err_from_errno(errno);
    }
    rewinddir(d); /* the duplicate shares dfd's offset, which an earlier pass moved */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long k;
        bool gz;
        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' ||
            !rot_suffix(e->d_name + blen + 1, &k, &gz) || k >= ULONG_MAX - 1)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            unsigned long *x = realloc(ns, nc * sizeof *x);
            if (!x) {
                rc = GW_ERR_NOMEM;
                goto out;
            }
            ns = x;
            cap = nc;
        }
        ns[n++] = k;
    }
    if (n > 1)
        qsort(ns, n, sizeof *ns, ulong_desc);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0 && ns[i] == ns[i - 1])
            continue; /* base.N and base.N.gz: one pass moves both */
        for (int gz = 0; gz < 2 && rc == 0; gz++) {
            char from[NAME_MAX + 32], to[NAME_MAX + 32];
            const char *sfx = gz ? ".gz" : "";
            snprintf(from, sizeof from, "%s.%lu%s", base, ns[i], sfx);
            snprintf(to, sizeof to, "%s.%lu%s", base, ns[i] + 1, sfx);
            struct stat st;
            if (fstatat(dfd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            if (keep > 0 && ns[i] + 1 > keep) {
                if (unlinkat(dfd, from, 0) < 0) {
                    seterr(err, errsz, "cannot remove %s: %s", from, strerror(errno));
                    rc = gw_err_from_errno(errno);
                }
            } else if (renameat(dfd, from, dfd, to) < 0) {
                seterr(err, errsz, "cannot rename %s to %s: %s", from, to, strerror(errno));
                rc = gw_err_from_errno(errno);
            }
        }
    }
out:
    closedir(d);
    free(ns);
    return rc;
}

/* Gzips dir/name into dir/name.gz (through name.gz.tmp, synced), then removes name. */
static int compress_rotated(int dfd, const char *name, char *err, size_t errsz)
{
    char gzname[NAME_MAX + 64], tmp[NAME_MAX + 64];
    char *buf = malloc(GW_IO_CHUNK);
    gzFile gz = NULL;
    int in = -1, out = -1, rc = GW_ERR_NOMEM;
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    snprintf(tmp, sizeof tmp, "%s.gz.tmp", name);
    if (!buf)
        goto out;
    struct stat st;
    in = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in < 0 || fstat(in, &st) < 0)
        goto sys;
    out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, st.st_mode & 0777);
    if (out < 0)
        goto sys;
    /* Run as root on a log the server owns: the compressed copy keeps the owner. */
    if (fchown(out, st.st_uid, st.st_gid) < 0 && errno != EPERM)
        goto sys;
    int gfd = fcntl(out, F_DUPFD_CLOEXEC, 0);
    gz = gfd >= 0 ? gzdopen(gfd, "wb6") : NULL;
    if (!gz) {
        if (gfd >= 0)
            close(gfd);
        goto sys;
    }
    for (;;) {
        ssize_t r = read(in, buf, GW_IO_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto sys;
        if (r == 0)
            break;
        if (gzwrite(gz, buf, (unsigned)r) != (int)r) {
            errno = EIO;
            goto sys;
        }
    }
    int zrc = gzclose(gz);
    gz = NULL;
    if (zrc != Z_OK) {
        errno = EIO;
        goto sys;
    }
    if (fsync(out) < 0 || close(out) < 0) {
        out = -1;
        goto sys;
    }
    out = -1;
    if (renameat(dfd, tmp, dfd, gzname) < 0 || unlinkat(dfd, name, 0) < 0)
        goto sys;
    fsync(dfd);
    rc = 0;
    goto out;
sys:
    rc = gw_err_from_errno(errno);
    seterr(err, errsz, "rotated, but cannot compress %s: %s", name, strerror(errno));
    unlinkat(dfd, tmp, 0);
out:
    if (gz)
        gzclose(gz);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    free(buf);
    return rc;
}

/* Gzips every plain base.N but base.1 (logrotate's delaycompress): base.1 stays
 * plain because a writer moving to the new file may read its end (see
 * newest_rotation_tail), and reading the end of a gzip file means reading all of it. */
static int compress_older(int dfd, const char *base, char *err, size_t errsz)
{
    size_t blen = strlen(base);
    int rc = 0, dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!d) {
        if (dup >= 0)
            close(dup);
        seterr(err, errsz, "rotated, but cannot read the directory: %s", strerror(errno));
        return gw_err_from_errno(errno);
    }
    rewinddir(d); /* the duplicate shares dfd's offset, which shift_rotations moved */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long k;
        bool gz;
        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' ||
            !rot_suffix(e->d_name + blen + 1, &k, &gz) || gz || k < 2)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **x = realloc(names, nc * sizeof *x);
            if (!x) {
                rc = GW_ERR_NOMEM;
                goto out;
            }
            names = x;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = compress_rotated(dfd, names[i], err, errsz);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

/* Opens and locks the file at path, retrying when it was replaced before the lock
 * was ours. *fd is -1 when there is no file. */
static int lock_current(const char *path, int *fd_out, struct stat *st)
{
    *fd_out = -1;
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return errno == ENOENT ? 0 : gw_err_from_errno(errno);
        lock_fd(fd, LOCK_EX);
        if (fstat(fd, st) == 0 && path_is_fd(path, fd)) {
            *fd_out = fd;
            return S_ISREG(st->st_mode) ? 0 : GW_ERR_INVAL;
        }
        close(fd);
    }
    return GW_ERR_BUSY;
}

int audit_rotate(const char *path, unsigned keep, bool compress, bool *rotated, char *err,
                 size_t errsz)
{
    char *dir = NULL;
    int dfd = -1, fd = -1, rc = GW_ERR_NOMEM;
    struct stat st;

    *rotated = false;
    seterr(err, errsz, "%s", "");
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
    const char *base = slash ? slash + 1 : path;
    if (!dir)
        goto out;
    if (!*base || strlen(base) > NAME_MAX - 24) {
        rc = GW_ERR_INVAL;
        seterr(err, errsz, "%s: not a file name", path);
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = gw_err_from_errno(errno);
        seterr(err, errsz, "%s: %s", dir, strerror(errno));
        goto out;
    }
    /* Rotations exclude each other for the whole shift, rename and compression. */
    lock_fd(dfd, LOCK_EX);
    rc = lock_current(path, &fd, &st);
    if (rc < 0) {
        seterr(err, errsz, "%s: %s", path, gw_strerror(rc));
        goto out;
    }
    if (fd < 0 || st.st_size == 0)
        goto out; /* nothing to rotate */
    char one[NAME_MAX + 32];
    snprintf(one, sizeof one, "%s.1", base);
    /* Writers append under the file's lock and look at the path first: holding it
     * across the rename means no record lands in the old file afterwards, and the next
     * append moves to the new path (see follow_path). */
    rc = shift_rotations(dfd, base, keep, err, errsz);
    if (rc == 0 && renameat(dfd, base, dfd, one) < 0) {
        rc = gw_err_from_errno(errno);
        seterr(err, errsz, "cannot rename %s: %s", path, strerror(errno));
    }
    if (rc < 0)
        goto out;
    fsync(dfd);
    *rotated = true;
    lock_fd(fd, LOCK_UN);
    close(fd);
    fd = -1;
    if (compress)
        rc = compress_older(dfd, base, err, errsz);
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd); /* releases the directory lock */
    free(dir);
    return rc;
}
