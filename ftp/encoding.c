/* File-name encoding detection and conversion (see encoding.h). The statistical model is
 * generated constant data (encoding_model.h); costs there are in quarter bits. */
#include "ftp/encoding.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- model types */

struct enc_lang_model {
    const char *name;
    unsigned char size; /* alphabet + boundary (0) + other letter (size - 1) */
    unsigned char ascii[128];
    const unsigned char *bigram; /* size * size, row = previous index */
    const unsigned char *uni;
};

/* byte classes of a single-byte charset (must match gen_encoding_model.py) */
enum { C_UNDEF, C_CTRL, C_SEP, C_SYM_BAD, C_SYM_OK, C_LOWER, C_UPPER };

struct enc_sb_model {
    const char *iana, *iconv;
    int prior; /* quarter bits */
    unsigned short first_pair, npairs;
    unsigned short cp[128]; /* code point of byte 0x80 + i, 0 when undefined */
    unsigned char cls[128];
    unsigned char script[128]; /* 1 Latin, 2 Cyrillic, 3 Greek, 4 Hebrew, 5 Arabic, 6 Thai */
};

struct enc_sb_pair {
    unsigned char lang;
    unsigned char prior;    /* quarter bits: how rare the language is among the charset's */
    unsigned char idx[128]; /* alphabet index of byte 0x80 + i in that language */
};

enum { MB_SHIFT_JIS, MB_EUC_JP, MB_GBK, MB_GB18030, MB_BIG5, MB_EUC_KR };

struct enc_mb_model {
    const char *iana, *iconv;
    int kind;
    int prior;
    const unsigned short *code; /* sorted native 2-byte codes of frequent characters */
    const unsigned char *cost;  /* their costs */
    size_t n;
};

#include "ftp/encoding_model.h"

#define NSB (sizeof sb_models / sizeof sb_models[0])
#define NPAIRS (sizeof sb_pairs / sizeof sb_pairs[0])
#define NMB (sizeof mb_models / sizeof mb_models[0])
#define NCAND (NSB + NMB)

/* Penalties, in quarter bits. */
#define Q(bits) ((int)((bits)*4))
#define P_UNDEF Q(24)          /* byte undefined in the charset */
#define P_CTRL Q(20)           /* decodes to a control character */
#define P_SEP Q(10)            /* no-break space and friends */
#define P_SYM_OK Q(8)          /* symbols names do contain: ° € © « ... */
#define P_SYM_BAD Q(13)        /* box drawing, maths, ... */
#define P_SYM_INSIDE Q(12)     /* ... and either kind between two letters */
#define P_SYM_LEAD Q(6)        /* ... or glued to the front of a word */
#define P_SCRIPT Q(10)         /* letters of two scripts in one word */
#define P_FOREIGN Q(6)         /* a letter of another script than the language's */
#define P_CASE_UP Q(6)         /* an upper-case letter right after a lower-case one */
#define P_CASE_MID Q(5)        /* "MÅnchen": upper after upper, then lower */
#define P_CASE_LOW Q(4)        /* a lone lower-case letter among upper-case ones */
#define P_MB_INVALID Q(24)     /* byte sequence the multi-byte charset does not allow */
#define P_MB_AFTER_LATIN Q(3)  /* double-byte character glued to a preceding ASCII letter */
#define P_MB_BEFORE_LATIN Q(2) /* ... or to a following one */

/* ---------------------------------------------------------------- names */

struct alias {
    const char *norm; /* lower case, without '-', '_', ' ', '.' */
    const char *iana;
};

static const struct alias aliases[] = {
    {"utf8", "UTF-8"},
    {"ascii", "US-ASCII"},
    {"usascii", "US-ASCII"},
    {"ansix3.41968", "US-ASCII"},
    {"cp1252", "windows-1252"},
    {"windows1252", "windows-1252"},
    {"win1252", "windows-1252"},
    {"ansi", "windows-1252"},
    {"latin1", "ISO-8859-1"},
    {"iso88591", "ISO-8859-1"},
    {"l1", "ISO-8859-1"},
    {"latin9", "ISO-8859-15"},
    {"iso885915", "ISO-8859-15"},
    {"cp437", "IBM437"},
    {"ibm437", "IBM437"},
    {"437", "IBM437"},
    {"cp850", "IBM850"},
    {"ibm850", "IBM850"},
    {"850", "IBM850"},
    {"macintosh", "macintosh"},
    {"macroman", "macintosh"},
    {"mac", "macintosh"},
    {"xmacroman", "macintosh"},
    {"cp1250", "windows-1250"},
    {"windows1250", "windows-1250"},
    {"latin2", "ISO-8859-2"},
    {"iso88592", "ISO-8859-2"},
    {"cp1251", "windows-1251"},
    {"windows1251", "windows-1251"},
    {"koi8r", "KOI8-R"},
    {"cp866", "IBM866"},
    {"ibm866", "IBM866"},
    {"866", "IBM866"},
    {"cp1253", "windows-1253"},
    {"windows1253", "windows-1253"},
    {"iso88597", "ISO-8859-7"},
    {"greek", "ISO-8859-7"},
    {"cp1254", "windows-1254"},
    {"windows1254", "windows-1254"},
    {"cp1255", "windows-1255"},
    {"windows1255", "windows-1255"},
    {"cp1256", "windows-1256"},
    {"windows1256", "windows-1256"},
    {"cp874", "windows-874"},
    {"windows874", "windows-874"},
    {"shiftjis", "Shift_JIS"},
    {"sjis", "Shift_JIS"},
    {"cp932", "Shift_JIS"},
    {"mskanji", "Shift_JIS"},
    {"windows31j", "Shift_JIS"},
    {"eucjp", "EUC-JP"},
    {"gbk", "GBK"},
    {"cp936", "GBK"},
    {"gb2312", "GBK"},
    {"euccn", "GBK"},
    {"gb18030", "GB18030"},
    {"big5", "Big5"},
    {"cp950", "Big5"},
    {"euckr", "EUC-KR"},
    {"cp949", "EUC-KR"},
    {"uhc", "EUC-KR"},
    {"ksc56011987", "EUC-KR"},
};

static void normalize(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        char c = *s;
        if (c == '-' || c == '_' || c == ' ')
            continue;
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[k] = '\0';
}

/* iconv name for an IANA name of ours, NULL when it is not one. */
static const char *iconv_name(const char *iana)
{
    if (strcmp(iana, "UTF-8") == 0)
        return "UTF-8";
    if (strcmp(iana, "US-ASCII") == 0)
        return "ASCII";
    for (size_t i = 0; i < NSB; i++)
        if (strcmp(iana, sb_models[i].iana) == 0)
            return sb_models[i].iconv;
    for (size_t i = 0; i < NMB; i++)
        if (strcmp(iana, mb_models[i].iana) == 0)
            return mb_models[i].iconv;
    return NULL;
}

const char *enc_canonical(const char *name)
{
    char norm[64];
    if (!name || !*name || strlen(name) >= sizeof norm)
        return NULL;
    normalize(name, norm, sizeof norm);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(norm, aliases[i].norm) == 0)
            return aliases[i].iana;
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1)
        return NULL;
    iconv_close(cd);
    return name;
}

static const char *const candidate_names[] = {
    "UTF-8",        "windows-1252", "ISO-8859-1",   "ISO-8859-15",  "IBM437",       "IBM850",
    "macintosh",    "windows-1250", "ISO-8859-2",   "windows-1251", "KOI8-R",       "IBM866",
    "windows-1253", "ISO-8859-7",   "windows-1254", "windows-1255", "windows-1256", "windows-874",
    "Shift_JIS",    "EUC-JP",       "GBK",          "GB18030",      "Big5",         "EUC-KR"};

size_t enc_candidate_names(const char *const **names)
{
    *names = candidate_names;
    return sizeof candidate_names / sizeof candidate_names[0];
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* ---------------------------------------------------------------- detection */

struct span {
    size_t b, e;
};

static bool ascii_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool in(unsigned c, unsigned lo, unsigned hi)
{
    return c >= lo && c <= hi;
}

static bool latin_model(const struct enc_lang_model *lm)
{
    return lm->ascii['a'] != lm->ascii['b'];
}

static bool ascii_upper(unsigned c)
{
    return c >= 'A' && c <= 'Z';
}

/* Case of the byte as a letter under m: 0 not a letter, 1 lower (or caseless), 2 upper. */
static int sb_case(const struct enc_sb_model *m, unsigned c)
{
    if (c < 0x80)
        return ascii_letter((unsigned char)c) ? (ascii_upper(c) ? 2 : 1) : 0;
    unsigned cls = m->cls[c - 0x80];
    return cls == C_UPPER ? 2 : cls == C_LOWER ? 1 : 0;
}

/* Cost of one word under a single-byte charset and one of its languages. Only transitions
 * touching a non-ASCII letter count; transitions from one into ASCII are scored against the
 * ASCII letter's own frequency, so that all-ASCII context costs nothing in any model. On
 * top of the letter model: symbols inside words, mixed scripts and odd capitalisation. */
static int sb_word_cost(const struct enc_sb_model *m, const struct enc_sb_pair *pr,
                        const unsigned char *s, size_t n)
{
    const struct enc_lang_model *lm = &lang_models[pr->lang];
    const unsigned char *big = lm->bigram;
    size_t size = lm->size;
    int cost = 0, prev_case = 0;
    unsigned prev = 0, prev_script = 0;
    bool prev_high = false, latin = latin_model(lm);
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        int next_case = i + 1 < n ? sb_case(m, s[i + 1]) : 0;
        if (c < 0x80) {
            unsigned idx = lm->ascii[c];
            if (prev_high)
                cost += big[prev * size + idx] - lm->uni[idx];
            if (prev_script > 1)
                cost += P_SCRIPT;
            prev = idx;
            prev_high = false;
            prev_case = ascii_upper(c) ? 2 : 1;
            prev_script = 1;
            continue;
        }
        unsigned cls = m->cls[c - 0x80];
        if (cls == C_LOWER || cls == C_UPPER) {
            unsigned idx = pr->idx[c - 0x80], sc = m->script[c - 0x80];
            cost += big[prev * size + idx];
            if ((sc == 1) != latin)
                cost += P_FOREIGN;
            if (prev_script && sc != prev_script)
                cost += P_SCRIPT;
            if (cls == C_UPPER && prev_case == 1)
                cost += P_CASE_UP;
            else if (cls == C_UPPER && prev_case == 2 && next_case == 1)
                cost += P_CASE_MID;
            else if (cls == C_LOWER && prev_case != 1 && next_case == 2)
                cost += P_CASE_LOW;
            prev = idx;
            prev_high = true;
            prev_case = cls == C_UPPER ? 2 : 1;
            prev_script = sc;
            continue;
        }
        switch (cls) {
        case C_UNDEF:
            cost += P_UNDEF;
            break;
        case C_CTRL:
            cost += P_CTRL;
            break;
        case C_SEP:
            cost += P_SEP;
            break;
        default:
            cost += cls == C_SYM_OK ? P_SYM_OK : P_SYM_BAD;
            if (prev_case && next_case)
                cost += P_SYM_INSIDE;
            else if (next_case)
                cost += P_SYM_LEAD;
        }
        prev = 0; /* a symbol ends the word as far as the letter model goes */
        prev_high = false;
        prev_case = 0;
        prev_script = 0;
    }
    if (prev_high)
        cost += big[prev * size] - lm->uni[0];
    return cost;
}

/* Cost of a valid double-byte character missing from the frequency table, by the region of
 * the code table it lies in: kana and Hangul are common, first-level ideographs less so,
 * second-level ideographs and vendor extensions rare. */
static int mb_floor(int kind, unsigned c, unsigned t)
{
    /* about log2 of the region's size plus the share of text the region gets */
    unsigned code = c << 8 | t;
    switch (kind) {
    case MB_SHIFT_JIS:
        if (in(code, 0x829F, 0x82F1) || in(code, 0x8340, 0x8396))
            return Q(10);
        if (in(code, 0x824F, 0x829A))
            return Q(12);
        if (in(c, 0x81, 0x84))
            return Q(14);
        if (in(code, 0x889F, 0x9872))
            return Q(13);
        if (in(code, 0x989F, 0xEAA4))
            return Q(17);
        return in(c, 0xF0, 0xF9) ? Q(24) : Q(19);
    case MB_EUC_JP:
        if (c == 0xA4 || c == 0xA5)
            return Q(10);
        if (c == 0xA3)
            return Q(12);
        if (in(c, 0xA1, 0xA8))
            return Q(14);
        if (in(c, 0xB0, 0xCF))
            return Q(13);
        return in(c, 0xD0, 0xF4) ? Q(17) : Q(21);
    case MB_GBK:
    case MB_GB18030:
        if (t < 0xA1 || c < 0xA1)
            return Q(19);
        if (c == 0xA3)
            return Q(12);
        if (in(c, 0xA1, 0xA9))
            return Q(14);
        if (in(c, 0xB0, 0xD7))
            return Q(13);
        return in(c, 0xD8, 0xF7) ? Q(17) : Q(21);
    case MB_BIG5:
        if (in(code, 0xA140, 0xA3BF))
            return Q(14);
        if (in(code, 0xA440, 0xC67E))
            return Q(13.5);
        return in(code, 0xC940, 0xF9D5) ? Q(17) : Q(21);
    default: /* EUC-KR / CP949 */
        if (in(c, 0xB0, 0xC8) && t >= 0xA1)
            return Q(12);
        if (t < 0xA1 || c < 0xA1)
            return in(c, 0x81, 0xC6) ? Q(17) : Q(21); /* UHC extra Hangul */
        if (in(c, 0xA1, 0xAF))
            return Q(14);
        return Q(18);
    }
}

#define NLANG (sizeof lang_models / sizeof lang_models[0])

/* Cost of the ASCII letter pairs inside the analysed words under each Latin-script language,
 * as a penalty over the best of them. */
static void lang_ascii_penalties(const unsigned char *s, const struct span *words, size_t nwords,
                                 int *pen)
{
    int best = INT32_MAX;
    for (size_t l = 0; l < NLANG; l++) {
        const struct enc_lang_model *lm = &lang_models[l];
        pen[l] = 0;
        if (!latin_model(lm))
            continue;
        for (size_t w = 0; w < nwords; w++) {
            for (size_t i = words[w].b + 1; i < words[w].e; i++) {
                unsigned a = s[i - 1], b = s[i];
                if (a < 0x80 && b < 0x80)
                    pen[l] += lm->bigram[lm->ascii[a] * lm->size + lm->ascii[b]];
            }
        }
        if (pen[l] < best)
            best = pen[l];
    }
    long sum = 0, n = 0;
    for (size_t l = 0; l < NLANG; l++) {
        if (latin_model(&lang_models[l])) {
            pen[l] -= best;
            sum += pen[l];
            n++;
        }
    }
    /* languages of other scripts do not explain Latin words well either: they pay what an
     * average Latin language pays */
    for (size_t l = 0; l < NLANG; l++)
        if (!latin_model(&lang_models[l]))
            pen[l] = n ? (int)(sum / n) : 0;
}

static int mb_lookup(const struct enc_mb_model *m, unsigned code, int rare)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->code[mid] < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* the tables come from technical text: a character it ranks rarer than its code-table
     * region suggests costs the region's price */
    return lo < m->n && m->code[lo] == code && m->cost[lo] < rare ? m->cost[lo] : rare;
}

/* Length of the character at s[i] under a multi-byte charset and its cost; 0 when the
 * bytes there are not a valid sequence. */
static size_t mb_char(const struct enc_mb_model *m, const unsigned char *s, size_t n, size_t i,
                      int *cost, bool *four)
{
    unsigned c = s[i], t = i + 1 < n ? s[i + 1] : 0;
    switch (m->kind) {
    case MB_SHIFT_JIS:
        if (in(c, 0xA1, 0xDF)) {
            *cost = Q(13); /* half-width katakana */
            return 1;
        }
        if ((in(c, 0x81, 0x9F) || in(c, 0xE0, 0xFC)) && (in(t, 0x40, 0x7E) || in(t, 0x80, 0xFC)))
            break;
        return 0;
    case MB_EUC_JP:
        if (c == 0x8E && in(t, 0xA1, 0xDF)) {
            *cost = Q(13);
            return 2;
        }
        if (c == 0x8F && in(t, 0xA1, 0xFE) && i + 2 < n && in(s[i + 2], 0xA1, 0xFE)) {
            *cost = Q(21); /* JIS X 0212 */
            return 3;
        }
        if (in(c, 0xA1, 0xFE) && in(t, 0xA1, 0xFE))
            break;
        return 0;
    case MB_GBK:
    case MB_GB18030:
        if (in(c, 0x81, 0xFE) && (in(t, 0x40, 0x7E) || in(t, 0x80, 0xFE)))
            break;
        if (m->kind == MB_GB18030 && in(c, 0x81, 0xFE) && in(t, 0x30, 0x39) && i + 3 < n &&
            in(s[i + 2], 0x81, 0xFE) && in(s[i + 3], 0x30, 0x39)) {
            *cost = Q(16);
            *four = true;
            return 4;
        }
        return 0;
    case MB_BIG5:
        if (in(c, 0x81, 0xFE) && (in(t, 0x40, 0x7E) || in(t, 0xA1, 0xFE)))
            break;
        return 0;
    default: /* EUC-KR, read as its superset CP949 (UHC) */
        if (in(c, 0x81, 0xFE) && (in(t, 0x41, 0x5A) || in(t, 0x61, 0x7A) || in(t, 0x81, 0xFE)))
            break;
        return 0;
    }
    *cost = mb_lookup(m, c << 8 | t, mb_floor(m->kind, c, t));
    return 2;
}

/* Cost of the whole text under a multi-byte charset: its byte structure and how common the
 * characters it decodes to are. *four is set when GB18030 four-byte sequences occur. */
static int mb_cost(const struct enc_mb_model *m, const unsigned char *s, size_t n, bool *four)
{
    int cost = 0;
    size_t i = 0, mb_end = 0; /* end of the last multi-byte character */
    *four = false;
    while (i < n) {
        int k;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = mb_char(m, s, n, i, &k, four);
        if (l == 0) {
            cost += P_MB_INVALID;
            i++;
            continue;
        }
        if (i > mb_end && ascii_letter(s[i - 1]))
            k += P_MB_AFTER_LATIN;
        if (i + l < n && ascii_letter(s[i + l]))
            k += P_MB_BEFORE_LATIN;
        cost += k;
        i += l;
        mb_end = i;
    }
    return cost;
}

struct cand {
    const char *name;
    int cost;  /* quarter bits */
    int sb;    /* index into sb_models, or -1 */
    int mb;    /* index into mb_models, or -1 */
    bool four; /* GB18030 four-byte sequences seen */
};

/* Do two candidates decode the analysed bytes (seen[0..nseen) - 0x80) to the same text? */
static bool same_decoding(const struct cand *a, const struct cand *b, const unsigned char *seen,
                          size_t nseen)
{
    if (a->sb >= 0 && b->sb >= 0) {
        for (size_t i = 0; i < nseen; i++)
            if (sb_models[a->sb].cp[seen[i]] != sb_models[b->sb].cp[seen[i]])
                return false;
        return true;
    }
    if (a->mb >= 0 && b->mb >= 0) {
        int ka = mb_models[a->mb].kind, kb = mb_models[b->mb].kind;
        if ((ka == MB_GBK && kb == MB_GB18030 && !b->four) ||
            (kb == MB_GBK && ka == MB_GB18030 && !a->four))
            return true;
    }
    return false;
}

/* Does pair j (of model mq) score the text exactly as (m, pr) would: the same class, script
 * and letter index for every byte that occurs? (The caller checked the language.) */
static bool same_pair(const struct enc_sb_model *m, const struct enc_sb_pair *pr,
                      const struct enc_sb_model *mq, unsigned j, const unsigned char *seen,
                      size_t nseen)
{
    const struct enc_sb_pair *q = &sb_pairs[j];
    for (size_t i = 0; i < nseen; i++) {
        unsigned b = seen[i];
        if (q->idx[b] != pr->idx[b] || mq->cls[b] != m->cls[b] || mq->script[b] != m->script[b])
            return false;
    }
    return true;
}

static int cand_prior(const struct cand *c)
{
    return c->sb >= 0 ? sb_models[c->sb].prior : mb_models[c->mb].prior;
}

static int by_cost(const void *x, const void *y)
{
    const struct cand *a = x, *b = y;
    return a->cost < b->cost ? -1 : a->cost > b->cost ? 1 : 0;
}

/* 2^-d for d >= 0 without libm: integer part by halving, fraction by a short series. */
static double pow2_neg(double d)
{
    if (d > 60)
        return 0;
    int k = (int)d;
    double r = 1.0 / (double)(1ull << k);
    d -= k;
    double x = d * 0.6931471805599453; /* e^-x, x < 0.7: error below 1e-4 */
    return r * (1 - x + x * x / 2 - x * x * x / 6 + x * x * x * x / 24);
}

/* log2(x) for 1 <= x <= 2^30 without libm (x is a sum of at most 256 terms <= 1, one = 1). */
static double log2_small(double x)
{
    double r = 0;
    while (x >= 2) {
        x *= 0.5;
        r += 1;
    }
    double y = (x - 1) / (x + 1), y2 = y * y; /* ln x = 2 atanh y, y <= 1/3 */
    double ln = 2 * y * (1 + y2 / 3 + y2 * y2 / 5 + y2 * y2 * y2 / 7 + y2 * y2 * y2 * y2 / 9);
    return r + ln * 1.4426950408889634;
}

static void set_single(struct enc_result *out, const char *name, double conf)
{
    out->name = name;
    out->confidence = conf;
    out->nranked = 1;
    out->ranked[0].name = name;
    out->ranked[0].cost = 0;
}

int enc_detect(const void *buf, size_t len, const struct enc_hint *hint, struct enc_result *out)
{
    const unsigned char *s = buf;
    struct span *words = NULL;
    size_t nwords = 0, cap = 0, utf8_multi = 0;
    bool utf8_ok = true, present[128] = {false};
    struct cand c[NCAND];
    int rc = 0;

    memset(out, 0, sizeof *out);
    const char *hinted = hint && hint->charset ? enc_canonical(hint->charset) : NULL;
    if (hint && (hint->flags & ENC_HINT_FORCE)) {
        if (!hinted)
            return ENC_ERR_INVAL;
        set_single(out, hinted, 1.0);
        return 0;
    }
    if (len > ENC_MAX_SCAN)
        len = ENC_MAX_SCAN;

    /* strict UTF-8 first */
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_ok ? utf8_seq(s + i, len - i) : 0;
        if (l == 0) {
            utf8_ok = false;
            out->high_bytes++;
            i++;
        } else {
            utf8_multi++;
            out->high_bytes += l;
            i += l;
        }
    }
    if (out->high_bytes == 0) {
        out->ascii = true;
        if (hint && (hint->flags & ENC_HINT_UTF8))
            set_single(out, "UTF-8", 1.0);
        else
            set_single(out, hinted ? hinted : "US-ASCII", 1.0);
        goto out_free;
    }
    if (utf8_ok) {
        /* mojibake that happens to be valid UTF-8 is rare, and rarer with every sequence */
        double doubt = 0.25;
        for (size_t k = 1; k < utf8_multi && k < 8; k++)
            doubt *= 0.25;
        set_single(out, "UTF-8", 1.0 - doubt * 0.25);
        goto out_free;
    }

    /* the words holding non-ASCII bytes: only they tell single-byte charsets apart */
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80 && !ascii_letter(s[i])) {
            i++;
            continue;
        }
        size_t b = i;
        bool high = false;
        for (; i < len && (s[i] >= 0x80 || ascii_letter(s[i])); i++) {
            if (s[i] >= 0x80) {
                high = true;
                present[s[i] - 0x80] = true;
            }
        }
        if (!high)
            continue;
        if (nwords == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct span *nw = realloc(words, ncap * sizeof *nw);
            if (!nw) {
                rc = ENC_ERR_NOMEM;
                goto out_free;
            }
            words = nw;
            cap = ncap;
        }
        words[nwords].b = b;
        words[nwords].e = i;
        nwords++;
    }

    /* Language evidence from the ASCII letters around the non-ASCII ones: a Latin-script
     * language pays for how much worse than the best one it explains them. Without this, a
     * charset whose languages use many accents (Hungarian in windows-1250) explains a Dutch
     * list of accented names better than Dutch itself. */
    int lang_pen[NLANG];
    lang_ascii_penalties(s, words, nwords, lang_pen);

    int bias = hint && hint->bias > 0 ? hint->bias : ENC_DEFAULT_BIAS;
    size_t nc = 0;
    /* the bytes that occur: two (charset, language) pairs that agree on all of them cost the
     * same, so windows-1252, ISO-8859-1/15, ... share most of the work */
    unsigned char seen[128];
    size_t nseen = 0;
    for (unsigned i = 0; i < 128; i++)
        if (present[i])
            seen[nseen++] = (unsigned char)i;
    int pair_cost[NPAIRS];
    bool pair_done[NPAIRS] = {false};
    unsigned char pair_owner[NPAIRS];
    int pair_prev[NPAIRS], lang_last[NLANG]; /* computed pairs, chained per language */
    for (size_t l = 0; l < NLANG; l++)
        lang_last[l] = -1;
    for (size_t k = 0; k < NSB; k++) {
        const struct enc_sb_model *m = &sb_models[k];
        int lc[256], best = INT32_MAX;
        /* a mixture over the charset's languages, weighted by their priors */
        for (unsigned p = 0; p < m->npairs; p++) {
            unsigned pi = m->first_pair + p;
            const struct enc_sb_pair *pr = &sb_pairs[pi];
            int cost = -1;
            for (int j = lang_last[pr->lang]; j >= 0 && cost < 0; j = pair_prev[j])
                if (pair_done[j] &&
                    same_pair(m, pr, &sb_models[pair_owner[j]], (unsigned)j, seen, nseen))
                    cost = pair_cost[j] - sb_pairs[j].prior + pr->prior;
            if (cost < 0) {
                size_t w = 0;
                cost = pr->prior + lang_pen[pr->lang];
                /* far behind the best language: its share of the mixture is nil */
                for (; w < nwords && (best == INT32_MAX || cost < best + Q(20)); w++)
                    cost += sb_word_cost(m, pr, s + words[w].b, words[w].e - words[w].b);
                pair_done[pi] = w == nwords;
                pair_owner[pi] = (unsigned char)k;
                pair_prev[pi] = lang_last[pr->lang];
                lang_last[pr->lang] = (int)pi;
            }
            pair_cost[pi] = cost;
            lc[p] = cost;
            if (cost < best)
                best = cost;
        }
        double sum = 0;
        for (unsigned p = 0; p < m->npairs; p++)
            sum += pow2_neg((lc[p] - best) / 4.0);
        c[nc] =
            (struct cand){m->iana, best - (int)(log2_small(sum) * 4) + m->prior, (int)k, -1, false};
        nc++;
    }
    for (size_t k = 0; k < NMB; k++) {
        const struct enc_mb_model *m = &mb_models[k];
        bool four;
        int cost = mb_cost(m, s, len, &four);
        /* GB18030 is only worth naming when GBK cannot decode the text */
        c[nc] = (struct cand){m->iana, cost + m->prior, -1, (int)k, four};
        nc++;
    }
    if (hinted) {
        for (size_t k = 0; k < nc; k++)
            if (strcmp(c[k].name, hinted) == 0)
                c[k].cost -= Q(bias);
    }
    qsort(c, nc, sizeof c[0], by_cost);

    /* keep one candidate per distinct decoding; confidence = share of likelihood */
    size_t kept[NCAND], nkept = 0;
    double total = 0;
    for (size_t k = 0; k < nc; k++) {
        bool dup = false;
        for (size_t j = 0; j < nkept && !dup; j++)
            dup = same_decoding(&c[kept[j]], &c[k], seen, nseen);
        if (dup)
            continue;
        kept[nkept++] = k;
        total += pow2_neg((c[k].cost - c[0].cost) / 4.0);
        /* name the most common charset among those giving this very text */
        const char *name = c[k].name;
        int best_prior = cand_prior(&c[k]);
        for (size_t j = k + 1; j < nc; j++) {
            if (cand_prior(&c[j]) < best_prior && same_decoding(&c[k], &c[j], seen, nseen)) {
                best_prior = cand_prior(&c[j]);
                name = c[j].name;
            }
        }
        if (out->nranked < ENC_MAX_RANKED) {
            out->ranked[out->nranked].name = name;
            out->ranked[out->nranked].cost = c[k].cost / 4.0;
            out->nranked++;
        }
    }
    out->name = out->ranked[0].name;
    out->confidence = total > 0 ? 1.0 / total : 0;
out_free:
    free(words);
    return rc;
}

/* ---------------------------------------------------------------- conversion */

struct enc_conv {
    const char *name;
    bool utf8;
    bool verify; /* several byte sequences may decode to one character (CP932's NEC and IBM
                  * duplicates, ...): check that decoded text encodes back to the same bytes */
    iconv_t dec; /* charset → UTF-8 */
    iconv_t enc; /* UTF-8 → charset */
};

struct enc_conv *enc_conv_new(const char *charset)
{
    const char *iana = enc_canonical(charset);
    struct enc_conv *c = NULL;
    if (!iana)
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = iana;
    c->dec = c->enc = (iconv_t)-1;
    if (strcmp(iana, "UTF-8") == 0) {
        c->utf8 = true;
        return c;
    }
    const char *ic = iconv_name(iana);
    c->verify = true;
    for (size_t i = 0; ic && i < NSB; i++)
        if (strcmp(ic, sb_models[i].iconv) == 0)
            c->verify = false; /* single-byte tables are one-to-one */
    if (ic && strcmp(ic, "WINDOWS-1255") == 0)
        c->verify = true; /* glibc composes Hebrew points into presentation forms */
    if (!ic)
        ic = iana; /* a charset outside our candidates that iconv knows */
    c->dec = iconv_open("UTF-8", ic);
    c->enc = iconv_open(ic, "UTF-8");
    if (c->dec == (iconv_t)-1 || c->enc == (iconv_t)-1) {
        enc_conv_free(c);
        return NULL;
    }
    return c;
}

void enc_conv_free(struct enc_conv *c)
{
    if (!c)
        return;
    if (c->dec != (iconv_t)-1)
        iconv_close(c->dec);
    if (c->enc != (iconv_t)-1)
        iconv_close(c->enc);
    free(c);
}

const char *enc_conv_name(const struct enc_conv *c)
{
    return c->name;
}

static const char hexd[] = "0123456789ABCDEF";

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Copies decoded UTF-8 text, writing a '%' that starts "%HH" as "%25". */
static char *put_text(char *o, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *o++ = t[i];
        if (t[i] == '%' && i + 2 < n && hexv((unsigned char)t[i + 1]) >= 0 &&
            hexv((unsigned char)t[i + 2]) >= 0) {
            *o++ = '2';
            *o++ = '5';
        }
    }
    return o;
}

static char *put_escape(char *o, unsigned char b)
{
    *o++ = '%';
    *o++ = hexd[b >> 4];
    *o++ = hexd[b & 15];
    return o;
}

static int decode_fast(struct enc_conv *c, const char *in, size_t n, char **out, size_t *outlen)
{
    /* every input byte yields at most 3 output bytes ("%HH", "%25", a BMP character) */
    char *res = NULL, *tmp = NULL, *o;
    int rc = 0;
    *out = NULL;
    *outlen = 0;
    if (n > (SIZE_MAX - 8) / 3)
        return ENC_ERR_NOMEM;
    res = malloc(3 * n + 8);
    if (!res)
        return ENC_ERR_NOMEM;
    o = res;
    if (c->utf8) {
        const unsigned char *s = (const unsigned char *)in;
        size_t i = 0;
        while (i < n) {
            size_t b = i;
            while (i < n && utf8_seq(s + i, n - i) > 0)
                i += utf8_seq(s + i, n - i);
            o = put_text(o, in + b, i - b);
            if (i < n)
                o = put_escape(o, s[i++]);
        }
        goto done;
    }
    tmp = malloc(3 * n + 8);
    if (!tmp) {
        rc = ENC_ERR_NOMEM;
        goto fail;
    }
    iconv(c->dec, NULL, NULL, NULL, NULL);
    char *ip = (char *)in;
    size_t left = n;
    while (left > 0) {
        char *tp = tmp;
        size_t tleft = 3 * n + 8;
        size_t r = iconv(c->dec, &ip, &left, &tp, &tleft);
        int e = errno;
        if (r == (size_t)-1 && (e == EILSEQ || e == EINVAL))
            iconv(c->dec, NULL, NULL, &tp, &tleft); /* a combining decoder's held letter */
        o = put_text(o, tmp, (size_t)(tp - tmp));
        if (r != (size_t)-1)
            break;
        if (e != EILSEQ && e != EINVAL) {
            rc = ENC_ERR_NOMEM; /* E2BIG cannot happen with 3n; treat as resource failure */
            goto fail;
        }
        o = put_escape(o, (unsigned char)*ip);
        ip++;
        left--;
    }
    /* flush a stateful decoder's pending output */
    {
        char *tp = tmp;
        size_t tleft = 3 * n + 8;
        if (iconv(c->dec, NULL, NULL, &tp, &tleft) != (size_t)-1)
            o = put_text(o, tmp, (size_t)(tp - tmp));
    }
done:
    *o = '\0';
    *outlen = (size_t)(o - res);
    *out = res;
    free(tmp);
    return 0;
fail:
    free(tmp);
    free(res);
    return rc;
}

/* Character by character: each decoded character must encode back to its own bytes, else
 * its first byte is escaped. Slow; used when the fast path does not round-trip. */
static int decode_careful(struct enc_conv *c, const char *in, size_t n, char **out, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    char *res = malloc(3 * n + 8), *o;
    if (!res)
        return ENC_ERR_NOMEM;
    o = res;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            /* ASCII decodes to itself in every candidate charset */
            *o++ = (char)s[i];
            if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
                *o++ = '2';
                *o++ = '5';
            }
            i++;
            continue;
        }
        size_t used = 0;
        for (size_t k = 1; k <= 4 && i + k <= n && !used; k++) {
            char chr[16], back[16];
            char *ip = (char *)in + i, *op = chr;
            size_t left = k, oleft = sizeof chr;
            iconv(c->dec, NULL, NULL, NULL, NULL);
            if (iconv(c->dec, &ip, &left, &op, &oleft) == (size_t)-1) {
                if (errno == EINVAL)
                    continue; /* incomplete: try one more byte */
                break;
            }
            if (iconv(c->dec, NULL, NULL, &op, &oleft) == (size_t)-1) /* held letters */
                break;
            size_t clen = (size_t)(op - chr);
            char *cp = chr, *bp = back;
            size_t cleft = clen, bleft = sizeof back;
            iconv(c->enc, NULL, NULL, NULL, NULL);
            if (iconv(c->enc, &cp, &cleft, &bp, &bleft) == (size_t)-1 ||
                iconv(c->enc, NULL, NULL, &bp, &bleft) == (size_t)-1 || (size_t)(bp - back) != k ||
                memcmp(back, in + i, k) != 0)
                break;
            memcpy(o, chr, clen);
            o += clen;
            used = k;
        }
        if (used) {
            i += used;
        } else {
            o = put_escape(o, s[i]);
            i++;
        }
    }
    *o = '\0';
    *out = res;
    *outlen = (size_t)(o - res);
    return 0;
}

int enc_decode(struct enc_conv *c, const char *in, size_t n, char **out, size_t *outlen)
{
    int rc = decode_fast(c, in, n, out, outlen);
    if (rc != 0 || !c->verify)
        return rc;
    char *back = NULL;
    size_t blen = 0;
    int erc = enc_encode(c, *out, *outlen, &back, &blen);
    bool same = erc == 0 && blen == n && memcmp(back, in, n) == 0;
    free(back);
    if (same)
        return 0;
    if (erc == ENC_ERR_NOMEM) {
        free(*out);
        *out = NULL;
        return erc;
    }
    free(*out);
    return decode_careful(c, in, n, out, outlen);
}

int enc_encode(struct enc_conv *c, const char *in, size_t n, char **out, size_t *outlen)
{
    /* escapes shrink; a character grows to at most 4 bytes in any of our charsets */
    size_t cap = 4 * n + 8;
    char *res = NULL, *o;
    int rc = ENC_ERR_INVAL;
    *out = NULL;
    *outlen = 0;
    if (n > (SIZE_MAX - 8) / 4)
        return ENC_ERR_NOMEM;
    res = malloc(cap);
    if (!res)
        return ENC_ERR_NOMEM;
    o = res;
    if (!c->utf8)
        iconv(c->enc, NULL, NULL, NULL, NULL);
    size_t i = 0;
    while (i < n) {
        size_t b = i;
        while (i < n && !(in[i] == '%' && i + 2 < n && hexv((unsigned char)in[i + 1]) >= 0 &&
                          hexv((unsigned char)in[i + 2]) >= 0))
            i++;
        if (i > b) {
            /* the literal text must be valid UTF-8 */
            for (size_t k = b; k < i;) {
                size_t l = utf8_seq((const unsigned char *)in + k, i - k);
                if (l == 0)
                    goto fail;
                k += l;
            }
            if (c->utf8) {
                memcpy(o, in + b, i - b);
                o += i - b;
            } else {
                char *ip = (char *)in + b;
                size_t left = i - b, oleft = cap - (size_t)(o - res);
                if (iconv(c->enc, &ip, &left, &o, &oleft) == (size_t)-1)
                    goto fail;
            }
        }
        if (i < n) {
            *o++ = (char)(hexv((unsigned char)in[i + 1]) << 4 | hexv((unsigned char)in[i + 2]));
            i += 3;
        }
    }
    if (!c->utf8) {
        size_t oleft = cap - (size_t)(o - res);
        if (iconv(c->enc, NULL, NULL, &o, &oleft) == (size_t)-1)
            goto fail;
    }
    *o = '\0';
    *outlen = (size_t)(o - res);
    *out = res;
    return 0;
fail:
    free(res);
    return rc;
}
