/* FTP listing parser (see listparse.h): per-format line parsers, lftp-style format scoring
 * over a detection window, and the streaming line splitter around them. */
#include "ftp/listparse.h"

#include <stdlib.h>
#include <string.h>

#ifdef LP_TRACE
#include <stdio.h>
#endif

/* Internal line results: the public LP_LINE_* plus "a header line of this format", which
 * counts as junk but is strong evidence for the format during detection. */
#define LPR_JUNK LP_LINE_JUNK
#define LPR_ENTRY LP_LINE_ENTRY
#define LPR_IGNORED LP_LINE_IGNORED
#define LPR_HEADER 3

#define MAXTOK 16                 /* tokens split off a line; the name is taken from the raw line */
#define YEAR_SLACK_MIN (2 * 1440) /* clock/zone skew allowed before a date is "future" */

struct tok {
    const char *s;
    size_t n;
};

/* ---------------------------------------------------------------- small helpers */

static bool isdig(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdig((unsigned char)s[i]))
            return false;
    return true;
}

static bool tok_is(const struct tok *t, const char *lit)
{
    size_t n = strlen(lit);
    if (t->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)t->s[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

/* Case-insensitive prefix test against a lower-case literal. */
static bool ci_prefix(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

static bool ci_contains(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (ci_prefix(s + i, n - i, lit))
            return true;
    return false;
}

/* Decimal digits to uint64 without overflow; false when not all digits or too big. */
static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* 1..4 digits to int, else -1. */
static int small_num(const char *s, size_t n)
{
    if (n == 0 || n > 4)
        return -1;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdig((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    return x;
}

static bool hexval(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = lower((unsigned char)s[i]);
        unsigned d;
        if (isdig(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        x = x * 16 + d;
    }
    *v = x;
    return true;
}

/* Splits at blanks into at most max tokens. Any byte up to 0x20 counts as a blank: one
 * compare per byte keeps the hot loop tight, and control bytes never belong inside the
 * fields that are tokenised (names are cut from the raw line, not from tokens). */
static size_t tokenize(const char *s, size_t n, struct tok *t, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t nt = 0, i = 0;
    while (nt < max) {
        while (i < n && u[i] <= 0x20)
            i++;
        if (i >= n)
            break;
        size_t b = i;
        while (i < n && u[i] > 0x20)
            i++;
        t[nt].s = s + b;
        t[nt].n = i - b;
        nt++;
    }
    return nt;
}

static size_t tok_end(const char *line, const struct tok *t)
{
    return (size_t)(t->s - line) + t->n;
}

/* Position of the name after the field ending at `end`: one separator skipped, so names
 * keep their own leading spaces (ls prints exactly one space before the name). */
static bool name_after_one(const char *s, size_t n, size_t end, struct lp_entry *e)
{
    if (end + 1 >= n || (s[end] != ' ' && s[end] != '\t'))
        return false;
    e->name = s + end + 1;
    e->name_len = n - end - 1;
    return true;
}

/* Name after all separators (formats that pad the name column). */
static bool name_after_all(const char *s, size_t n, size_t end, struct lp_entry *e)
{
    while (end < n && (s[end] == ' ' || s[end] == '\t'))
        end++;
    if (end >= n)
        return false;
    e->name = s + end;
    e->name_len = n - end;
    return true;
}

/* ---------------------------------------------------------------- calendar */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool valid_ymd(int y, int m, int d)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 0 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

static int64_t minutes_of(const struct lp_time *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 1440 + t->hour * 60 + t->min;
}

/* ls leaves the year out for recent files: take the reference year, or the one before when
 * that would put the date in the future. */
static void infer_year(struct lp_time *t, const struct lp_options *o)
{
    t->year_inferred = true;
    if (o->now.year <= 0)
        return;
    t->year = o->now.year;
    if (minutes_of(t) > minutes_of(&o->now) + YEAR_SLACK_MIN)
        t->year--;
    while (t->year > 0 && !valid_ymd(t->year, t->mon, t->day))
        t->year--; /* Feb 29: the last leap year */
}

/* Shifts a local time by -off_min minutes so it becomes UTC. */
static void to_utc(struct lp_time *t, int off_min)
{
    int64_t m = minutes_of(t) - off_min;
    int64_t days = m >= 0 ? m / 1440 : -((-m + 1439) / 1440);
    int64_t rem = m - days * 1440;
    civil_from_days(days, &t->year, &t->mon, &t->day);
    t->hour = (int)(rem / 60);
    t->min = (int)(rem % 60);
    t->utc = true;
}

/* "H:MM", "HH:MM", optional ":SS" and ".fraction" (full-iso, VMS hundredths). */
static bool parse_hms(const char *s, size_t n, struct lp_time *t)
{
    size_t i = 0;
    int h = 0, m, sec = -1;
    while (i < n && i < 2 && isdig((unsigned char)s[i]))
        h = h * 10 + (s[i++] - '0');
    if (i == 0 || i >= n || s[i] != ':' || n - i < 3)
        return false;
    if (!isdig((unsigned char)s[i + 1]) || !isdig((unsigned char)s[i + 2]))
        return false;
    m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
    i += 3;
    if (i < n && s[i] == ':') {
        if (n - i < 3 || !isdig((unsigned char)s[i + 1]) || !isdig((unsigned char)s[i + 2]))
            return false;
        sec = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        i += 3;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            if (i >= n)
                return false;
            while (i < n && isdig((unsigned char)s[i]))
                i++;
        }
    }
    if (i != n || h > 23 || m > 59 || sec > 60)
        return false;
    t->hour = h;
    t->min = m;
    t->sec = sec < 0 ? 0 : sec;
    t->prec = sec < 0 ? LP_TIME_MINUTE : LP_TIME_SECOND;
    return true;
}

/* ---------------------------------------------------------------- month names */

struct month_name {
    const char *s; /* lower case, UTF-8 or ISO-8859-1 bytes */
    unsigned char mon;
};

/* ls month abbreviations (and full names some servers print) of the languages whose
 * coreutils translations servers run with; a trailing '.' is stripped before lookup. */
static const struct month_name month_names[] = {
    /* German */
    {"m\xc3\xa4r", 3},
    {"m\xe4r", 3},
    {"mrz", 3},
    {"mai", 5},
    {"okt", 10},
    {"dez", 12},
    {"januar", 1},
    {"februar", 2},
    {"m\xc3\xa4rz", 3},
    {"m\xe4rz", 3},
    {"april", 4},
    {"juni", 6},
    {"juli", 7},
    {"august", 8},
    {"september", 9},
    {"oktober", 10},
    {"november", 11},
    {"dezember", 12},
    /* French */
    {"janv", 1},
    {"f\xc3\xa9vr", 2},
    {"f\xe9vr", 2},
    {"fevr", 2},
    {"f\xc3\xa9v", 2},
    {"f\xe9v", 2},
    {"mars", 3},
    {"avr", 4},
    {"juin", 6},
    {"juil", 7},
    {"ao\xc3\xbbt", 8},
    {"ao\xfbt", 8},
    {"aout", 8},
    {"sept", 9},
    {"d\xc3\xa9\x63", 12},
    {"d\xe9\x63", 12},
    {"janvier", 1},
    {"f\xc3\xa9vrier", 2},
    {"avril", 4},
    {"juillet", 7},
    {"septembre", 9},
    {"octobre", 10},
    {"novembre", 11},
    {"d\xc3\xa9\x63\x65mbre", 12},
    /* Spanish */
    {"ene", 1},
    {"abr", 4},
    {"ago", 8},
    {"set", 9},
    {"dic", 12},
    {"enero", 1},
    {"febrero", 2},
    {"marzo", 3},
    {"abril", 4},
    {"mayo", 5},
    {"junio", 6},
    {"julio", 7},
    {"agosto", 8},
    {"septiembre", 9},
    {"octubre", 10},
    {"noviembre", 11},
    {"diciembre", 12},
    /* Italian */
    {"gen", 1},
    {"mag", 5},
    {"giu", 6},
    {"lug", 7},
    {"ott", 10},
    {"gennaio", 1},
    {"febbraio", 2},
    {"aprile", 4},
    {"maggio", 5},
    {"giugno", 6},
    {"luglio", 7},
    {"settembre", 9},
    {"ottobre", 10},
    {"dicembre", 12},
    /* Dutch */
    {"mrt", 3},
    {"mei", 5},
    {"januari", 1},
    {"februari", 2},
    {"maart", 3},
    {"augustus", 8},
    /* Swedish, Danish, Norwegian */
    {"maj", 5},
    {"des", 12},
    {"mars", 3},
    {"augusti", 8},
    /* Portuguese */
    {"fev", 2},
    {"out", 10},
    /* Polish */
    {"sty", 1},
    {"lut", 2},
    {"kwi", 4},
    {"cze", 6},
    {"lip", 7},
    {"sie", 8},
    {"wrz", 9},
    {"pa\xc5\xba", 10},
    {"lis", 11},
    {"gru", 12},
    /* Finnish */
    {"tammi", 1},
    {"helmi", 2},
    {"maalis", 3},
    {"huhti", 4},
    {"touko", 5},
    {"kes\xc3\xa4", 6},
    {"kes\xe4", 6},
    {"hein\xc3\xa4", 7},
    {"hein\xe4", 7},
    {"elo", 8},
    {"syys", 9},
    {"loka", 10},
    {"marras", 11},
    {"joulu", 12},
    /* Russian (UTF-8) */
    {"\xd1\x8f\xd0\xbd\xd0\xb2", 1},
    {"\xd1\x84\xd0\xb5\xd0\xb2", 2},
    {"\xd0\xbc\xd0\xb0\xd1\x80", 3},
    {"\xd0\xb0\xd0\xbf\xd1\x80", 4},
    {"\xd0\xbc\xd0\xb0\xd0\xb9", 5},
    {"\xd0\xbc\xd0\xb0\xd1\x8f", 5},
    {"\xd0\xb8\xd1\x8e\xd0\xbd", 6},
    {"\xd0\xb8\xd1\x8e\xd0\xbb", 7},
    {"\xd0\xb0\xd0\xb2\xd0\xb3", 8},
    {"\xd1\x81\xd0\xb5\xd0\xbd", 9},
    {"\xd0\xbe\xd0\xba\xd1\x82", 10},
    {"\xd0\xbd\xd0\xbe\xd1\x8f", 11},
    {"\xd0\xb4\xd0\xb5\xd0\xba", 12},
    /* English full names */
    {"january", 1},
    {"february", 2},
    {"march", 3},
    {"june", 6},
    {"july", 7},
    {"october", 10},
    {"december", 12},
};

static int month_en3(const unsigned char *l)
{
    switch (l[0]) {
    case 'j':
        if (l[1] == 'a' && l[2] == 'n')
            return 1;
        if (l[1] == 'u' && l[2] == 'n')
            return 6;
        if (l[1] == 'u' && l[2] == 'l')
            return 7;
        return 0;
    case 'f':
        return l[1] == 'e' && l[2] == 'b' ? 2 : 0;
    case 'm':
        if (l[1] == 'a' && l[2] == 'r')
            return 3;
        return l[1] == 'a' && l[2] == 'y' ? 5 : 0;
    case 'a':
        if (l[1] == 'p' && l[2] == 'r')
            return 4;
        return l[1] == 'u' && l[2] == 'g' ? 8 : 0;
    case 's':
        return l[1] == 'e' && l[2] == 'p' ? 9 : 0;
    case 'o':
        return l[1] == 'c' && l[2] == 't' ? 10 : 0;
    case 'n':
        return l[1] == 'o' && l[2] == 'v' ? 11 : 0;
    case 'd':
        return l[1] == 'e' && l[2] == 'c' ? 12 : 0;
    default:
        return 0;
    }
}

/* Month 1..12 of a month-name token, 0 when it is none. */
static int month_of(const char *s, size_t n)
{
    unsigned char l[16];
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n < 3 || n > sizeof l)
        return 0;
    for (size_t i = 0; i < n; i++)
        l[i] = lower((unsigned char)s[i]);
    if (n == 3) {
        int m = month_en3(l);
        if (m)
            return m;
    }
    for (size_t i = 0; i < sizeof month_names / sizeof month_names[0]; i++) {
        const char *c = month_names[i].s;
        if ((unsigned char)c[0] == l[0] && strlen(c) == n && memcmp(c, l, n) == 0)
            return month_names[i].mon;
    }
    return 0;
}

/* CJK date suffixes (year, month, day) in UTF-8 and the legacy encodings servers in those
 * locales use: Shift_JIS, EUC-JP, GBK, Big5, EUC-KR. */
struct cjk_suffix {
    const char *s;
    unsigned char len;
    unsigned char kind; /* 4 year, 2 month, 1 day */
};

static const struct cjk_suffix cjk_suffixes[] = {
    {"\xe6\x9c\x88", 3, 2}, {"\x8c\x8e", 2, 2},     {"\xb7\xee", 2, 2},     {"\xd4\xc2", 2, 2},
    {"\xa4\xeb", 2, 2},     {"\xec\x9b\x94", 3, 2}, {"\xbf\xf9", 2, 2},     {"\xe6\x97\xa5", 3, 1},
    {"\x93\xfa", 2, 1},     {"\xc6\xfc", 2, 1},     {"\xc8\xd5", 2, 1},     {"\xa4\xe9", 2, 1},
    {"\xec\x9d\xbc", 3, 1}, {"\xc0\xcf", 2, 1},     {"\xe5\xb9\xb4", 3, 4}, {"\x94\x4e", 2, 4},
    {"\xc7\xaf", 2, 4},     {"\xc4\xea", 2, 4},     {"\xa6\x7e", 2, 4},     {"\xeb\x85\x84", 3, 4},
    {"\xb3\xe2", 2, 4},
};

/* Reads "11月", "17日", "2010年11月17日" and the like. Returns the mask of parts found (4
 * year, 2 month, 1 day), 0 when the token is not such a form. */
static unsigned cjk_token(const char *s, size_t n, int *y, int *m, int *d)
{
    unsigned mask = 0;
    size_t i = 0;
    while (i < n) {
        int v = 0;
        size_t b = i;
        while (i < n && isdig((unsigned char)s[i]) && i - b < 4)
            v = v * 10 + (s[i++] - '0');
        if (i == b)
            return 0;
        const struct cjk_suffix *hit = NULL;
        for (size_t k = 0; k < sizeof cjk_suffixes / sizeof cjk_suffixes[0]; k++) {
            const struct cjk_suffix *c = &cjk_suffixes[k];
            if (n - i >= c->len && memcmp(s + i, c->s, c->len) == 0) {
                hit = c;
                break;
            }
        }
        if (!hit || (mask & hit->kind))
            return 0;
        mask |= hit->kind;
        if (hit->kind == 4)
            *y = v;
        else if (hit->kind == 2)
            *m = v;
        else
            *d = v;
        i += hit->len;
    }
    return mask;
}

/* Day of month: "7", "17", "17." (German), "17日" / "17일". */
static int parse_day(const char *s, size_t n)
{
    int y, m, d = 0;
    if (n == 0 || !isdig((unsigned char)s[0]))
        return 0;
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n >= 1 && n <= 2 && all_digits(s, n))
        d = small_num(s, n);
    else if (cjk_token(s, n, &y, &m, &d) != 1)
        return 0;
    return d >= 1 && d <= 31 ? d : 0;
}

/* A 4-digit year, optionally with the CJK year suffix. */
static int parse_year4(const char *s, size_t n)
{
    int y = 0, m, d;
    if (n == 4 && all_digits(s, n))
        y = small_num(s, 4);
    else if (n > 4 && cjk_token(s, n, &y, &m, &d) != 4)
        return 0;
    return y >= 1900 && y <= 2200 ? y : 0;
}

/* The last part of a Unix date: a time (year omitted) or a year. */
static bool time_or_year(const struct tok *t, struct lp_time *tm, const struct lp_options *o)
{
    int y;
    if (parse_hms(t->s, t->n, tm)) {
        if (!valid_ymd(2000, tm->mon, tm->day)) /* 2000: leap, so Feb 29 passes */
            return false;
        infer_year(tm, o);
        return true;
    }
    y = parse_year4(t->s, t->n);
    if (!y || !valid_ymd(y, tm->mon, tm->day))
        return false;
    tm->year = y;
    tm->prec = LP_TIME_DAY;
    return true;
}

/* "2010-11-17" → y m d. */
static bool iso_date(const char *s, size_t n, int *y, int *m, int *d)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    *y = small_num(s, 4);
    *m = small_num(s + 5, 2);
    *d = small_num(s + 8, 2);
    return *y >= 0 && *m >= 0 && *d >= 0 && valid_ymd(*y, *m, *d);
}

/* "+0100" / "-0530" → minutes east of UTC. */
static bool tz_offset(const char *s, size_t n, int *off)
{
    if (n != 5 || (s[0] != '+' && s[0] != '-') || !all_digits(s + 1, 4))
        return false;
    int h = small_num(s + 1, 2), m = small_num(s + 3, 2);
    if (h > 14 || m > 59)
        return false;
    *off = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return true;
}

/* Reads the date of a Unix-style line starting at token i; returns the number of tokens it
 * spans (0: no date there). Shapes: "Nov 17 10:30", "Nov 17  2010", "17. Nov 10:30",
 * "2010-11-17 10:30[:45.123 +0100]", "2010-11-17", "11-17 10:30", "11月 17 10:30",
 * "11月17日 10:30", "2010年11月17日". */
static size_t match_date(const struct tok *t, size_t i, size_t nt, struct lp_time *tm,
                         const struct lp_options *o)
{
    const struct tok *a = &t[i];
    int y, m = 0, d = 0, off;
    memset(tm, 0, sizeof *tm);
    if (!isdig((unsigned char)a->s[0])) {
        /* the day first: it is cheap and rules out owner and group names */
        if (i + 2 >= nt || !(d = parse_day(t[i + 1].s, t[i + 1].n)))
            return 0;
        if (!(m = month_of(a->s, a->n)))
            return 0;
        tm->mon = m;
        tm->day = d;
        return time_or_year(&t[i + 2], tm, o) ? 3 : 0;
    }
    /* what follows the leading digits tells the shapes apart */
    size_t k = 0;
    while (k < a->n && isdig((unsigned char)a->s[k]))
        k++;
    unsigned char after = k < a->n ? (unsigned char)a->s[k] : 0;
    if (after != '-' && after < 0x80) {
        d = parse_day(a->s, a->n);
        if (!d || i + 2 >= nt || !(m = month_of(t[i + 1].s, t[i + 1].n)))
            return 0;
        tm->mon = m;
        tm->day = d;
        return time_or_year(&t[i + 2], tm, o) ? 3 : 0;
    }
    if (iso_date(a->s, a->n, &y, &m, &d)) {
        tm->year = y;
        tm->mon = m;
        tm->day = d;
        if (i + 1 < nt && parse_hms(t[i + 1].s, t[i + 1].n, tm)) {
            if (i + 2 < nt && tz_offset(t[i + 2].s, t[i + 2].n, &off)) {
                to_utc(tm, off);
                return 3;
            }
            return 2;
        }
        tm->prec = LP_TIME_DAY;
        return 1;
    }
    if (a->n == 5 && a->s[2] == '-' && (m = small_num(a->s, 2)) > 0 &&
        (d = small_num(a->s + 3, 2)) > 0 && i + 1 < nt && valid_ymd(2000, m, d)) {
        tm->mon = m;
        tm->day = d;
        if (parse_hms(t[i + 1].s, t[i + 1].n, tm)) {
            infer_year(tm, o);
            return 2;
        }
        return 0;
    }
    y = 0;
    unsigned mask = cjk_token(a->s, a->n, &y, &m, &d);
    if (mask == 7 || mask == 3) {
        tm->mon = m;
        tm->day = d;
        if (i + 1 < nt && parse_hms(t[i + 1].s, t[i + 1].n, tm)) {
            if (!valid_ymd(mask == 7 ? y : 2000, m, d))
                return 0;
            if (mask == 7)
                tm->year = y;
            else
                infer_year(tm, o);
            return 2;
        }
        if (mask != 7 || !valid_ymd(y, m, d))
            return 0;
        tm->year = y;
        tm->prec = LP_TIME_DAY;
        return 1;
    }
    if (mask == 2) {
        if (m < 1 || m > 12 || i + 2 >= nt || !(d = parse_day(t[i + 1].s, t[i + 1].n)))
            return 0;
        tm->mon = m;
        tm->day = d;
        return time_or_year(&t[i + 2], tm, o) ? 3 : 0;
    }
    if (mask != 0)
        return 0;
    d = parse_day(a->s, a->n);
    if (!d || i + 2 >= nt || !(m = month_of(t[i + 1].s, t[i + 1].n)))
        return 0;
    tm->mon = m;
    tm->day = d;
    return time_or_year(&t[i + 2], tm, o) ? 3 : 0;
}

/* "MM-DD-YY", "MM/DD/YYYY", "DD.MM.YYYY", "YYYY-MM-DD", "MM-DD-103" (OS/2: years since
 * 1900). Day-first when the separator is '.' or the first field cannot be a month. */
static bool dos_date(const char *s, size_t n, int *y, int *m, int *d)
{
    int f[3] = {0, 0, 0};
    size_t len[3] = {0, 0, 0}, i = 0;
    char sep = 0;
    for (int k = 0; k < 3; k++) {
        size_t b = i;
        while (i < n && isdig((unsigned char)s[i]) && i - b < 4)
            f[k] = f[k] * 10 + (s[i++] - '0');
        len[k] = i - b;
        if (len[k] == 0)
            return false;
        if (k < 2) {
            if (i >= n || (s[i] != '-' && s[i] != '/' && s[i] != '.'))
                return false;
            if (sep && s[i] != sep)
                return false;
            sep = s[i++];
        }
    }
    if (i != n)
        return false;
    if (len[0] == 4) {
        *y = f[0], *m = f[1], *d = f[2];
    } else {
        if (len[0] > 2 || len[1] > 2)
            return false;
        *y = f[2];
        if (sep == '.' || (f[0] > 12 && f[1] <= 12))
            *d = f[0], *m = f[1];
        else
            *m = f[0], *d = f[1];
        if (len[2] == 2)
            *y += *y < 70 ? 2000 : 1900;
        else if (len[2] == 3)
            *y += 1900;
        else if (len[2] != 4)
            return false;
    }
    return valid_ymd(*y, *m, *d);
}

/* "17-NOV-2010" (VMS), "15-Feb-11" (Tandem). */
static bool dmy_mon_date(const char *s, size_t n, int *y, int *m, int *d)
{
    const char *p1 = memchr(s, '-', n);
    if (!p1)
        return false;
    const char *p2 = memchr(p1 + 1, '-', n - (size_t)(p1 + 1 - s));
    if (!p2)
        return false;
    size_t ld = (size_t)(p1 - s), lm = (size_t)(p2 - p1 - 1), ly = n - (size_t)(p2 + 1 - s);
    if (ld < 1 || ld > 2 || lm != 3 || (ly != 2 && ly != 4))
        return false;
    *d = small_num(s, ld);
    *m = month_of(p1 + 1, 3);
    *y = small_num(p2 + 1, ly);
    if (*d < 0 || *y < 0 || !*m)
        return false;
    if (ly == 2)
        *y += *y < 70 ? 2000 : 1900;
    return valid_ymd(*y, *m, *d);
}

static void set_ymd(struct lp_time *t, int y, int m, int d)
{
    t->year = y;
    t->mon = m;
    t->day = d;
    if (t->prec == LP_TIME_NONE)
        t->prec = LP_TIME_DAY;
}

/* ---------------------------------------------------------------- Unix ls -l */

/* "-rwxr-sr-t", with an optional ACL '+', SELinux '.' or macOS '@' marker. */
static bool unix_perms(const struct tok *t, struct lp_entry *e)
{
    static const char types[] = "-dlbcpsDnPL?";
    if ((t->n != 10 && t->n != 11) || !memchr(types, t->s[0], sizeof types - 1))
        return false;
    if (t->n == 11 && t->s[10] != '+' && t->s[10] != '.' && t->s[10] != '@')
        return false;
    unsigned mode = 0;
    for (int k = 0; k < 3; k++) {
        const char *c = t->s + 1 + 3 * k;
        unsigned shift = (unsigned)(2 - k) * 3;
        if (c[0] == 'r')
            mode |= 4u << shift;
        else if (c[0] != '-')
            return false;
        if (c[1] == 'w')
            mode |= 2u << shift;
        else if (c[1] != '-')
            return false;
        unsigned special = k == 0 ? 04000u : k == 1 ? 02000u : 01000u;
        switch (c[2]) {
        case 'x':
            mode |= 1u << shift;
            break;
        case '-':
            break;
        case 's':
        case 't':
            mode |= (1u << shift) | special;
            break;
        case 'S':
        case 'T':
        case 'l':
        case 'L':
            mode |= special;
            break;
        default:
            return false;
        }
    }
    switch (t->s[0]) {
    case '-':
        e->type = LP_TYPE_FILE;
        break;
    case 'd':
        e->type = LP_TYPE_DIR;
        break;
    case 'l':
        e->type = LP_TYPE_LINK;
        break;
    default:
        e->type = LP_TYPE_OTHER;
    }
    e->mode = mode;
    e->flags |= LP_HAVE_MODE;
    e->perm_text = t->s;
    e->perm_text_len = t->n;
    return true;
}

/* Splits "name -> target". A name may itself contain " -> "; ls reports a link's size as
 * its target's length, which picks the right split when the size is known. */
static void split_link(struct lp_entry *e)
{
    const char *s = e->name;
    size_t n = e->name_len, first = SIZE_MAX;
    for (size_t i = 1; i + 4 <= n; i++) {
        if (memcmp(s + i, " -> ", 4) != 0)
            continue;
        if (first == SIZE_MAX)
            first = i;
        if ((e->flags & LP_HAVE_SIZE) && e->size == n - i - 4) {
            first = i;
            break;
        }
    }
    if (first == SIZE_MAX || first + 4 >= n)
        return;
    e->target = s + first + 4;
    e->target_len = n - first - 4;
    e->name_len = first;
}

static int parse_unix(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK), p = 0;
    while (p < 2 && p < nt && all_digits(t[p].s, t[p].n)) /* ls -i / ls -s prefixes */
        p++;
    if (p >= nt || !unix_perms(&t[p], e))
        return LPR_JUNK;
    p++;
    for (size_t d = p + 1; d + 1 < nt && d <= p + 6; d++) {
        const struct tok *sz = &t[d - 1];
        bool device = false;
        if (!all_digits(sz->s, sz->n)) {
            /* device files print "major, minor" or "major,minor" instead of a size */
            const char *c = memchr(sz->s, ',', sz->n);
            if (!c || !all_digits(sz->s, (size_t)(c - sz->s)))
                continue;
            device = true;
        } else if (d >= p + 2 && t[d - 2].n > 1 && t[d - 2].s[t[d - 2].n - 1] == ',') {
            device = true;
        }
        size_t used = match_date(t, d, nt, &e->mtime, o);
        if (!used || d + used > nt)
            continue;
        size_t end = tok_end(s, &t[d + used - 1]);
        if (used == 1 && end + 2 < n && s[end] == ' ' && s[end + 1] == ' ')
            end++; /* --time-style=iso pads "%Y-%m-%d " to the width of "%m-%d %H:%M" */
        if (!name_after_one(s, n, end, e))
            return LPR_JUNK;
        /* owner and group end before the size, or before "major," of "major, minor" */
        size_t ownend = device && !memchr(sz->s, ',', sz->n) ? d - 2 : d - 1;
        if (!device && parse_u64(sz->s, sz->n, &e->size))
            e->flags |= LP_HAVE_SIZE;
        size_t q = p;
        if (q < ownend && all_digits(t[q].s, t[q].n) && ownend - q >= 2)
            q++; /* link count */
        if (q < ownend) {
            e->owner = t[q].s;
            e->owner_len = t[q].n;
            q++;
        }
        if (q < ownend) {
            e->group = t[q].s;
            e->group_len = tok_end(s, &t[ownend - 1]) - (size_t)(t[q].s - s);
        }
        if (e->type == LP_TYPE_LINK)
            split_link(e);
        return LPR_ENTRY;
    }
    return LPR_JUNK;
}

/* ---------------------------------------------------------------- DOS / IIS */

/* "10:30AM", "10:30", "10:30 PM" (AM/PM in the next token). Returns tokens used. */
static size_t dos_time(const struct tok *t, size_t i, size_t nt, struct lp_time *tm)
{
    const struct tok *a = &t[i];
    size_t n = a->n, used = 1;
    int ampm = 0;
    if (n >= 2 && (a->s[n - 1] == 'M' || a->s[n - 1] == 'm')) {
        char c = (char)lower((unsigned char)a->s[n - 2]);
        if (c == 'a' || c == 'p') {
            ampm = c == 'a' ? 1 : 2;
            n -= 2;
        }
    } else if (i + 1 < nt && (tok_is(&t[i + 1], "am") || tok_is(&t[i + 1], "pm"))) {
        ampm = lower((unsigned char)t[i + 1].s[0]) == 'a' ? 1 : 2;
        used = 2;
    }
    if (!parse_hms(a->s, n, tm))
        return 0;
    if (ampm) {
        if (tm->hour < 1 || tm->hour > 12)
            return 0;
        if (ampm == 1 && tm->hour == 12)
            tm->hour = 0;
        else if (ampm == 2 && tm->hour != 12)
            tm->hour += 12;
    }
    return used;
}

/* Digits with optional thousands separators ("1,234,567", "1.234.567"). */
static bool grouped_size(const char *s, size_t n, uint64_t *v)
{
    char buf[32];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' || s[i] == '.') {
            if (i == 0 || i + 1 == n)
                return false;
            continue;
        }
        if (k >= sizeof buf)
            return false;
        buf[k++] = s[i];
    }
    return parse_u64(buf, k, v);
}

static int parse_dos(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[6];
    size_t nt = tokenize(s, n, t, 6);
    int y, m, d;
    (void)o;
    if (nt < 4 || !dos_date(t[0].s, t[0].n, &y, &m, &d))
        return LPR_JUNK;
    size_t used = dos_time(t, 1, nt, &e->mtime);
    if (!used || 1 + used >= nt)
        return LPR_JUNK;
    set_ymd(&e->mtime, y, m, d);
    const struct tok *f = &t[1 + used];
    size_t end = tok_end(s, f);
    if (tok_is(f, "<dir>")) {
        e->type = LP_TYPE_DIR;
        /* IIS pads "<DIR>" to 14 columns, then one space */
        size_t k = 0;
        while (end + k < n && s[end + k] == ' ')
            k++;
        if (k >= 10 && end + 10 < n) {
            e->name = s + end + 10;
            e->name_len = n - end - 10;
            return LPR_ENTRY;
        }
        return name_after_all(s, n, end, e) ? LPR_ENTRY : LPR_JUNK;
    }
    if (tok_is(f, "<junction>") || tok_is(f, "<symlink>") || tok_is(f, "<symlinkd>")) {
        e->type = LP_TYPE_LINK;
        if (!name_after_all(s, n, end, e))
            return LPR_JUNK;
        /* cmd.exe prints "name [target]" */
        if (e->name_len > 3 && e->name[e->name_len - 1] == ']') {
            for (size_t i = e->name_len - 1; i-- > 1;) {
                if (e->name[i] == '[' && e->name[i - 1] == ' ') {
                    e->target = e->name + i + 1;
                    e->target_len = e->name_len - i - 2;
                    e->name_len = i - 1;
                    break;
                }
            }
        }
        return LPR_ENTRY;
    }
    if (!grouped_size(f->s, f->n, &e->size))
        return LPR_JUNK;
    e->flags |= LP_HAVE_SIZE;
    e->type = LP_TYPE_FILE;
    return name_after_one(s, n, end, e) ? LPR_ENTRY : LPR_JUNK;
}

/* ---------------------------------------------------------------- VMS */

/* "NAME.EXT;12": true with the position of ';'. */
static bool vms_name(const struct tok *t, size_t *semi)
{
    const char *c = NULL;
    for (size_t i = t->n; i-- > 0;) {
        if (t->s[i] == ';') {
            c = t->s + i;
            break;
        }
    }
    if (!c || c == t->s)
        return false;
    size_t vlen = t->n - (size_t)(c - t->s) - 1;
    if (vlen == 0 || vlen > 5 || !all_digits(c + 1, vlen))
        return false;
    *semi = (size_t)(c - t->s);
    return true;
}

static void vms_set_name(const struct tok *t, size_t semi, const struct lp_options *o,
                         struct lp_entry *e)
{
    e->name = t->s;
    e->name_len = (o->flags & LP_OPT_KEEP_VMS_VERSION) ? t->n : semi;
    e->type = LP_TYPE_FILE;
    if (semi > 4 && ci_prefix(t->s + semi - 4, 4, ".dir")) {
        e->type = LP_TYPE_DIR;
        e->name_len = semi - 4;
    }
}

/* Is the line a lone VMS name, i.e. the first half of an entry VMS wrapped? */
static bool vms_lone_name(const char *s, size_t n)
{
    struct tok t[2];
    size_t semi;
    return tokenize(s, n, t, 2) == 1 && vms_name(&t[0], &semi);
}

static int parse_vms(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK), semi;
    int y, m, d;
    if (nt == 0)
        return LPR_JUNK;
    if (tok_is(&t[0], "directory") && nt == 2)
        return LPR_HEADER;
    if ((tok_is(&t[0], "total") && nt > 1 && tok_is(&t[1], "of")) ||
        (tok_is(&t[0], "grand") && nt > 2 && tok_is(&t[1], "total")))
        return LPR_HEADER;
    if (nt < 2 || !vms_name(&t[0], &semi))
        return LPR_JUNK;
    vms_set_name(&t[0], semi, o, e);
    if (t[1].s[0] == '%' || tok_is(&t[1], "no")) /* "%RMS-E-PRV, ..." / "no privilege" */
        return LPR_ENTRY;
    const char *slash = memchr(t[1].s, '/', t[1].n);
    size_t blen = slash ? (size_t)(slash - t[1].s) : t[1].n;
    uint64_t blocks, alloc;
    if (!parse_u64(t[1].s, blen, &blocks) || blocks > UINT64_MAX / 512)
        return LPR_JUNK;
    if (slash && !parse_u64(slash + 1, t[1].n - blen - 1, &alloc))
        return LPR_JUNK;
    if (nt < 3 || !dmy_mon_date(t[2].s, t[2].n, &y, &m, &d))
        return LPR_JUNK;
    size_t k = 3;
    if (nt > 3 && parse_hms(t[3].s, t[3].n, &e->mtime))
        k = 4;
    set_ymd(&e->mtime, y, m, d);
    e->size = blocks * 512;
    e->flags |= LP_HAVE_SIZE | LP_SIZE_APPROX;
    for (; k < nt; k++) {
        const struct tok *f = &t[k];
        if (f->s[0] == '[') {
            size_t j = k;
            while (j + 1 < nt && t[j].s[t[j].n - 1] != ']')
                j++;
            size_t end = tok_end(s, &t[j]);
            e->owner = f->s + 1;
            e->owner_len = end - (size_t)(f->s - s) - 1 - (s[end - 1] == ']');
            k = j;
        } else if (f->s[0] == '(') {
            e->perm_text = f->s;
            e->perm_text_len = f->n;
        } else {
            return LPR_JUNK;
        }
    }
    return LPR_ENTRY;
}

/* ---------------------------------------------------------------- EPLF */

static int parse_eplf(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    const char *tab = memchr(s, '\t', n);
    bool dir = false, file = false;
    (void)o;
    if (n < 3 || s[0] != '+' || !tab || tab + 1 >= s + n)
        return LPR_JUNK;
    const char *f = s + 1;
    while (f < tab) {
        const char *c = memchr(f, ',', (size_t)(tab - f));
        size_t len = c ? (size_t)(c - f) : (size_t)(tab - f);
        if (len > 0) {
            switch (f[0]) {
            case '/':
                dir = true;
                break;
            case 'r':
                file = true;
                break;
            case 's':
                if (!parse_u64(f + 1, len - 1, &e->size))
                    return LPR_JUNK;
                e->flags |= LP_HAVE_SIZE;
                break;
            case 'm': {
                uint64_t secs;
                if (!parse_u64(f + 1, len - 1, &secs) || secs > 253402300799ull)
                    return LPR_JUNK;
                int64_t days = (int64_t)(secs / 86400);
                int64_t rem = (int64_t)(secs % 86400);
                civil_from_days(days, &e->mtime.year, &e->mtime.mon, &e->mtime.day);
                e->mtime.hour = (int)(rem / 3600);
                e->mtime.min = (int)(rem / 60 % 60);
                e->mtime.sec = (int)(rem % 60);
                e->mtime.prec = LP_TIME_SECOND;
                e->mtime.utc = true;
                break;
            }
            case 'u':
                if (len >= 3 && f[1] == 'p') {
                    unsigned mode = 0;
                    for (size_t i = 2; i < len; i++) {
                        if (f[i] < '0' || f[i] > '7' || mode > 07777)
                            return LPR_JUNK;
                        mode = mode * 8 + (unsigned)(f[i] - '0');
                    }
                    e->mode = mode & 07777;
                    e->flags |= LP_HAVE_MODE;
                    e->perm_text = f + 2;
                    e->perm_text_len = len - 2;
                }
                break;
            default: /* i (identifier) and unknown facts are ignored, as EPLF requires */
                break;
            }
        }
        if (!c)
            break;
        f = c + 1;
    }
    e->type = dir ? LP_TYPE_DIR : file ? LP_TYPE_FILE : LP_TYPE_OTHER;
    e->name = tab + 1;
    e->name_len = (size_t)(s + n - tab - 1);
    return LPR_ENTRY;
}

/* ---------------------------------------------------------------- MLSD / MLST */

/* "YYYYMMDDHHMMSS[.sss]" (UTC). */
static bool mlsd_time(const char *v, size_t n, struct lp_time *t)
{
    if (n < 14 || !all_digits(v, 14))
        return false;
    if (n > 14 && (v[14] != '.' || !all_digits(v + 15, n - 15)))
        return false;
    t->year = small_num(v, 4);
    t->mon = small_num(v + 4, 2);
    t->day = small_num(v + 6, 2);
    t->hour = small_num(v + 8, 2);
    t->min = small_num(v + 10, 2);
    t->sec = small_num(v + 12, 2);
    if (!valid_ymd(t->year, t->mon, t->day) || t->hour > 23 || t->min > 59 || t->sec > 60)
        return false;
    t->prec = LP_TIME_SECOND;
    t->utc = true;
    return true;
}

static int parse_mlsd(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    size_t i = 0, facts = 0;
    bool ignored = false;
    if (n > 0 && s[0] == ' ') /* MLST replies indent the fact line */
        i = 1;
    const char *sp = memchr(s + i, ' ', n - i);
    if (!sp || sp + 1 >= s + n)
        return LPR_JUNK;
    size_t end = (size_t)(sp - s);
    e->type = LP_TYPE_FILE;
    while (i < end) {
        const char *semi = memchr(s + i, ';', end - i);
        size_t flen = semi ? (size_t)(semi - s) - i : end - i;
        const char *f = s + i, *eq = memchr(f, '=', flen);
        if (!eq || eq == f)
            return LPR_JUNK;
        size_t klen = (size_t)(eq - f), vlen = flen - klen - 1;
        const char *v = eq + 1;
        facts++;
        if (klen == 4 && ci_prefix(f, 4, "type")) {
            if (vlen == 4 && ci_prefix(v, 4, "file")) {
                e->type = LP_TYPE_FILE;
            } else if (vlen == 3 && ci_prefix(v, 3, "dir")) {
                e->type = LP_TYPE_DIR;
            } else if ((vlen == 4 && ci_prefix(v, 4, "cdir")) ||
                       (vlen == 4 && ci_prefix(v, 4, "pdir"))) {
                e->type = LP_TYPE_DIR;
                ignored = !(o->flags & LP_OPT_KEEP_DOTS);
            } else if (ci_prefix(v, vlen, "os.unix=slink") ||
                       ci_prefix(v, vlen, "os.unix=symlink")) {
                e->type = LP_TYPE_LINK;
                const char *colon = memchr(v, ':', vlen);
                if (colon && colon + 1 < v + vlen) {
                    e->target = colon + 1;
                    e->target_len = (size_t)(v + vlen - colon - 1);
                }
            } else {
                e->type = LP_TYPE_OTHER;
            }
        } else if (klen == 4 && (ci_prefix(f, 4, "size") || ci_prefix(f, 4, "sizd"))) {
            if (!parse_u64(v, vlen, &e->size))
                return LPR_JUNK;
            e->flags |= LP_HAVE_SIZE;
        } else if (klen == 6 && ci_prefix(f, 6, "modify")) {
            if (!mlsd_time(v, vlen, &e->mtime))
                return LPR_JUNK;
        } else if (klen == 4 && ci_prefix(f, 4, "perm")) {
            e->perm_text = v;
            e->perm_text_len = vlen;
        } else if (klen == 9 && ci_prefix(f, 9, "unix.mode")) {
            unsigned mode = 0;
            if (vlen == 0 || vlen > 6)
                return LPR_JUNK;
            for (size_t k = 0; k < vlen; k++) {
                if (v[k] < '0' || v[k] > '7')
                    return LPR_JUNK;
                mode = mode * 8 + (unsigned)(v[k] - '0');
            }
            e->mode = mode & 07777;
            e->flags |= LP_HAVE_MODE;
        } else if ((klen == 10 && ci_prefix(f, 10, "unix.owner")) ||
                   (klen == 8 && ci_prefix(f, 8, "unix.uid"))) {
            e->owner = v;
            e->owner_len = vlen;
        } else if ((klen == 10 && ci_prefix(f, 10, "unix.group")) ||
                   (klen == 8 && ci_prefix(f, 8, "unix.gid"))) {
            e->group = v;
            e->group_len = vlen;
        }
        i += flen + (semi ? 1 : 0);
    }
    if (facts == 0)
        return LPR_JUNK;
    e->name = sp + 1;
    e->name_len = n - end - 1;
    return ignored ? LPR_IGNORED : LPR_ENTRY;
}

/* ---------------------------------------------------------------- OS/2 */

static int parse_os2(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[8];
    size_t nt = tokenize(s, n, t, 8), k = 1;
    int y, m, d;
    (void)o;
    if (nt < 4 || !parse_u64(t[0].s, t[0].n, &e->size))
        return LPR_JUNK;
    e->type = LP_TYPE_FILE;
    /* attribute columns: DIR, A, R, H, S (possibly combined) */
    while (k < nt && k < 4 && !isdig((unsigned char)t[k].s[0])) {
        if (tok_is(&t[k], "dir")) {
            e->type = LP_TYPE_DIR;
        } else {
            for (size_t i = 0; i < t[k].n; i++)
                if (!strchr("ARHS", t[k].s[i]))
                    return LPR_JUNK;
        }
        k++;
    }
    if (k + 2 >= nt || !dos_date(t[k].s, t[k].n, &y, &m, &d) || memchr(t[k].s, '-', t[k].n) == NULL)
        return LPR_JUNK;
    if (!parse_hms(t[k + 1].s, t[k + 1].n, &e->mtime) || e->mtime.prec != LP_TIME_MINUTE)
        return LPR_JUNK;
    set_ymd(&e->mtime, y, m, d);
    e->flags |= LP_HAVE_SIZE;
    size_t end = tok_end(s, &t[k + 1]);
    /* the name column follows two spaces */
    if (end + 2 < n && s[end] == ' ' && s[end + 1] == ' ') {
        e->name = s + end + 2;
        e->name_len = n - end - 2;
        return LPR_ENTRY;
    }
    return name_after_one(s, n, end, e) ? LPR_ENTRY : LPR_JUNK;
}

/* ---------------------------------------------------------------- OS/400 */

static void os400_type(const struct tok *t, struct lp_entry *e)
{
    if (tok_is(t, "*dir") || tok_is(t, "*flr") || tok_is(t, "*lib") || tok_is(t, "*file") ||
        tok_is(t, "*ddir") || tok_is(t, "*sdir"))
        e->type = LP_TYPE_DIR;
    else if (tok_is(t, "*symlnk"))
        e->type = LP_TYPE_LINK;
    else
        e->type = LP_TYPE_FILE; /* *STMF, *MEM, *DOC, *SAVF, ... are all retrievable */
}

static bool os400_name_ok(const struct tok *t)
{
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->s[i];
        if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !isdig(c) && c != '$' &&
            c != '#' && c != '@' && c != '_' && c != '.')
            return false;
    }
    return t->n > 0 && t->n <= 10;
}

static int parse_os400(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[8];
    size_t nt = tokenize(s, n, t, 8), k;
    int y, m, d;
    (void)o;
    if (nt < 3 || !os400_name_ok(&t[0]))
        return LPR_JUNK;
    e->owner = t[0].s;
    e->owner_len = t[0].n;
    if (t[1].s[0] == '*' && t[1].n > 1) {
        k = 1; /* no size/date: members, objects without attributes */
    } else {
        if (nt < 6 || !parse_u64(t[1].s, t[1].n, &e->size))
            return LPR_JUNK;
        e->flags |= LP_HAVE_SIZE;
        if (!dos_date(t[2].s, t[2].n, &y, &m, &d) || !parse_hms(t[3].s, t[3].n, &e->mtime))
            return LPR_JUNK;
        set_ymd(&e->mtime, y, m, d);
        k = 4;
        if (t[k].s[0] != '*' || t[k].n < 2)
            return LPR_JUNK;
    }
    os400_type(&t[k], e);
    if (!name_after_all(s, n, tok_end(s, &t[k]), e))
        return LPR_JUNK;
    if (e->name_len > 1 && e->name[e->name_len - 1] == '/') {
        e->type = LP_TYPE_DIR;
        e->name_len--;
    }
    return LPR_ENTRY;
}

/* ---------------------------------------------------------------- MVS datasets */

static bool mvs_dsorg(const struct tok *t, struct lp_entry *e)
{
    static const char *const files[] = {"ps", "da", "is", "u", "gdg", "hfs", "ps-e", "ps-l"};
    if (tok_is(t, "po") || tok_is(t, "po-e")) {
        e->type = LP_TYPE_DIR;
        return true;
    }
    if (tok_is(t, "vs") || tok_is(t, "vsam")) {
        e->type = LP_TYPE_OTHER;
        return true;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (tok_is(t, files[i])) {
            e->type = LP_TYPE_FILE;
            return true;
        }
    }
    return false;
}

static void mvs_set_name(const struct tok *t, struct lp_entry *e)
{
    e->name = t->s;
    e->name_len = t->n;
    if (t->n > 2 && t->s[0] == '\'' && t->s[t->n - 1] == '\'') {
        e->name++;
        e->name_len -= 2;
    }
}

static int parse_mvs(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK);
    int y, m, d;
    (void)o;
    if (nt == 0)
        return LPR_JUNK;
    if (tok_is(&t[0], "volume") && ci_contains(s, n, "dsname"))
        return LPR_HEADER;
    if (nt < 2 || nt >= MAXTOK)
        return LPR_JUNK;
    const struct tok *last = &t[nt - 1];
    e->type = LP_TYPE_FILE;
    if (tok_is(&t[0], "migrated") && nt == 2) {
        mvs_set_name(last, e);
        return LPR_ENTRY;
    }
    if (tok_is(&t[0], "pseudo") && nt == 3 && tok_is(&t[1], "directory")) {
        e->type = LP_TYPE_DIR;
        mvs_set_name(last, e);
        return LPR_ENTRY;
    }
    if (ci_contains(s, n, " not direct access device ") ||
        ci_contains(s, n, "error determining attributes")) {
        mvs_set_name(last, e);
        return LPR_ENTRY;
    }
    /* Volume Unit Referred Ext Used Recfm Lrecl BlkSz Dsorg Dsname */
    if (nt < 5 || !mvs_dsorg(&t[nt - 2], e))
        return LPR_JUNK;
    if (dos_date(t[2].s, t[2].n, &y, &m, &d) && t[2].n == 10)
        set_ymd(&e->mtime, y, m, d);
    else if (!tok_is(&t[2], "**none**"))
        return LPR_JUNK;
    mvs_set_name(last, e);
    return LPR_ENTRY;
}

/* ---------------------------------------------------------------- MVS PDS members */

static bool member_name(const struct tok *t)
{
    if (t->n == 0 || t->n > 8 || isdig((unsigned char)t->s[0]))
        return false;
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->s[i];
        if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !isdig(c) && c != '@' &&
            c != '#' && c != '$' && c != '_')
            return false;
    }
    return true;
}

static int parse_pds(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e,
                     bool allow_bare)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK);
    int y, m, d;
    (void)o;
    if (nt == 0)
        return LPR_JUNK;
    if (tok_is(&t[0], "name") && nt > 2 &&
        (ci_contains(s, n, "vv.mm") || ci_contains(s, n, " ttr ") || ci_contains(s, n, "alias-of")))
        return LPR_HEADER;
    if (!member_name(&t[0]))
        return LPR_JUNK;
    e->name = t[0].s;
    e->name_len = t[0].n;
    e->type = LP_TYPE_FILE;
    if (nt == 1)
        return allow_bare ? LPR_ENTRY : LPR_JUNK;
    /* source: Name VV.MM Created Changed Time Size Init Mod Id */
    const char *dot = memchr(t[1].s, '.', t[1].n);
    if (dot && t[1].n == 5 && dot == t[1].s + 2 && all_digits(t[1].s, 2) &&
        all_digits(dot + 1, 2)) {
        if (nt < 5 || !dos_date(t[3].s, t[3].n, &y, &m, &d) ||
            !parse_hms(t[4].s, t[4].n, &e->mtime))
            return LPR_JUNK;
        set_ymd(&e->mtime, y, m, d);
        if (nt > 5 && !all_digits(t[5].s, t[5].n))
            return LPR_JUNK;
        return LPR_ENTRY;
    }
    /* load module: Name Size TTR Alias-of AC Attributes Amode Rmode (size and TTR in hex) */
    uint64_t ttr;
    if (nt >= 3 && t[1].n >= 6 && hexval(t[1].s, t[1].n, &e->size) && t[2].n == 6 &&
        hexval(t[2].s, t[2].n, &ttr)) {
        e->flags |= LP_HAVE_SIZE;
        return LPR_ENTRY;
    }
    return LPR_JUNK;
}

/* ---------------------------------------------------------------- NetWare */

static int parse_netware(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK);
    if (nt < 6 || t[0].n != 1 || (t[0].s[0] != 'd' && t[0].s[0] != '-'))
        return LPR_JUNK;
    const struct tok *p = &t[1];
    if (p->n < 3 || p->s[0] != '[' || p->s[p->n - 1] != ']')
        return LPR_JUNK;
    for (size_t i = 1; i + 1 < p->n; i++)
        if (!strchr("RWCEAFMSH-", p->s[i]))
            return LPR_JUNK;
    e->type = t[0].s[0] == 'd' ? LP_TYPE_DIR : LP_TYPE_FILE;
    e->perm_text = p->s;
    e->perm_text_len = p->n;
    size_t k = 2;
    if (!all_digits(t[k].s, t[k].n)) {
        e->owner = t[k].s;
        e->owner_len = t[k].n;
        k++;
    }
    if (k + 3 >= nt || !parse_u64(t[k].s, t[k].n, &e->size))
        return LPR_JUNK;
    e->flags |= LP_HAVE_SIZE;
    size_t used = match_date(t, k + 1, nt, &e->mtime, o);
    if (!used)
        return LPR_JUNK;
    /* NetWare pads the name column */
    return name_after_all(s, n, tok_end(s, &t[k + used]), e) ? LPR_ENTRY : LPR_JUNK;
}

/* ---------------------------------------------------------------- Tandem Guardian */

static int parse_tandem(const char *s, size_t n, const struct lp_options *o, struct lp_entry *e)
{
    struct tok t[MAXTOK];
    size_t nt = tokenize(s, n, t, MAXTOK), k = 1;
    int y, m, d;
    (void)o;
    if (nt == 0)
        return LPR_JUNK;
    if (tok_is(&t[0], "file") && ci_contains(s, n, "code") && ci_contains(s, n, "eof"))
        return LPR_HEADER;
    if (nt < 6 || !member_name(&t[0]))
        return LPR_JUNK;
    if (tok_is(&t[k], "o")) /* odd-unstructured flag column */
        k++;
    if (k + 3 >= nt || !all_digits(t[k].s, t[k].n) || !parse_u64(t[k + 1].s, t[k + 1].n, &e->size))
        return LPR_JUNK;
    if (!dmy_mon_date(t[k + 2].s, t[k + 2].n, &y, &m, &d) ||
        !parse_hms(t[k + 3].s, t[k + 3].n, &e->mtime))
        return LPR_JUNK;
    set_ymd(&e->mtime, y, m, d);
    e->flags |= LP_HAVE_SIZE;
    e->type = LP_TYPE_FILE;
    e->name = t[0].s;
    e->name_len = t[0].n;
    k += 4;
    if (k < nt && t[k].s[0] != '"') { /* owner "group,user", maybe "255, 0" */
        size_t j = k;
        if (t[j].s[t[j].n - 1] == ',' && j + 1 < nt && t[j + 1].s[0] != '"')
            j++;
        e->owner = t[k].s;
        e->owner_len = tok_end(s, &t[j]) - (size_t)(t[k].s - s);
        k = j + 1;
    }
    if (k < nt) {
        if (t[k].s[0] != '"')
            return LPR_JUNK;
        e->perm_text = t[k].s;
        e->perm_text_len = t[k].n;
    }
    return LPR_ENTRY;
}

/* ---------------------------------------------------------------- dispatch */

static int parse_fmt(enum lp_format f, const char *s, size_t n, const struct lp_options *o,
                     struct lp_entry *e, bool primary)
{
    int r;
    memset(e, 0, sizeof *e);
    e->format = f;
    switch (f) {
    case LP_FMT_UNIX:
        r = parse_unix(s, n, o, e);
        break;
    case LP_FMT_DOS:
        r = parse_dos(s, n, o, e);
        break;
    case LP_FMT_VMS:
        r = parse_vms(s, n, o, e);
        break;
    case LP_FMT_EPLF:
        r = parse_eplf(s, n, o, e);
        break;
    case LP_FMT_MLSD:
        r = parse_mlsd(s, n, o, e);
        break;
    case LP_FMT_OS2:
        r = parse_os2(s, n, o, e);
        break;
    case LP_FMT_OS400:
        r = parse_os400(s, n, o, e);
        break;
    case LP_FMT_MVS:
        r = parse_mvs(s, n, o, e);
        break;
    case LP_FMT_MVS_PDS:
        r = parse_pds(s, n, o, e, primary);
        break;
    case LP_FMT_NETWARE:
        r = parse_netware(s, n, o, e);
        break;
    case LP_FMT_TANDEM:
        r = parse_tandem(s, n, o, e);
        break;
    default:
        r = LPR_JUNK;
    }
    if (r == LPR_ENTRY && e->name_len == 0)
        r = LPR_JUNK;
    if (r == LPR_ENTRY && !(o->flags & LP_OPT_KEEP_DOTS) && e->name[0] == '.' &&
        (e->name_len == 1 || (e->name_len == 2 && e->name[1] == '.')))
        r = LPR_IGNORED;
    return r;
}

static size_t strip_cr(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\0'))
        n--;
    return n;
}

int lp_parse_line(const char *line, size_t len, enum lp_format fmt, const struct lp_options *opt,
                  struct lp_entry *out)
{
    static const struct lp_options defaults;
    if (fmt <= LP_FMT_AUTO || fmt >= LP_FMT_COUNT || (!line && len))
        return LP_ERR_INVAL;
    int r = parse_fmt(fmt, line, strip_cr(line, len), opt ? opt : &defaults, out, true);
    return r == LPR_HEADER ? LP_LINE_JUNK : r;
}

/* ---------------------------------------------------------------- names, SYST */

static const char *const fmt_names[LP_FMT_COUNT] = {"auto", "unix",    "dos",     "vms",
                                                    "eplf", "mlsd",    "os2",     "os400",
                                                    "mvs",  "mvs-pds", "netware", "tandem"};

const char *lp_format_name(enum lp_format f)
{
    return f >= LP_FMT_AUTO && f < LP_FMT_COUNT ? fmt_names[f] : "unknown";
}

int lp_format_from_name(const char *name)
{
    static const struct {
        const char *alias;
        enum lp_format f;
    } aliases[] = {{"windows", LP_FMT_DOS},   {"iis", LP_FMT_DOS},     {"nt", LP_FMT_DOS},
                   {"msdos", LP_FMT_DOS},     {"mlst", LP_FMT_MLSD},   {"as400", LP_FMT_OS400},
                   {"os/400", LP_FMT_OS400},  {"os/2", LP_FMT_OS2},    {"zos", LP_FMT_MVS},
                   {"z/os", LP_FMT_MVS},      {"pds", LP_FMT_MVS_PDS}, {"peter", LP_FMT_UNIX},
                   {"macos", LP_FMT_UNIX},    {"ls", LP_FMT_UNIX},     {"guardian", LP_FMT_TANDEM},
                   {"nonstop", LP_FMT_TANDEM}};
    if (!name)
        return -1;
    struct tok t = {name, strlen(name)};
    for (int f = 0; f < LP_FMT_COUNT; f++)
        if (tok_is(&t, fmt_names[f]))
            return f;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (tok_is(&t, aliases[i].alias))
            return (int)aliases[i].f;
    return -1;
}

enum lp_format lp_syst_format(const char *syst, size_t len)
{
    if (!syst)
        return LP_FMT_AUTO;
    if (ci_contains(syst, len, "mvs") || ci_contains(syst, len, "z/os") ||
        ci_contains(syst, len, "os/390"))
        return LP_FMT_MVS;
    if (ci_contains(syst, len, "os/400"))
        return LP_FMT_OS400;
    if (ci_contains(syst, len, "nonstop") || ci_contains(syst, len, "tandem") ||
        ci_contains(syst, len, "guardian"))
        return LP_FMT_TANDEM;
    if (ci_contains(syst, len, "vms"))
        return LP_FMT_VMS;
    if (ci_contains(syst, len, "netware"))
        return LP_FMT_NETWARE;
    if (ci_contains(syst, len, "os/2"))
        return LP_FMT_OS2;
    if (ci_contains(syst, len, "windows_nt") || ci_contains(syst, len, "windows"))
        return LP_FMT_DOS;
    if (ci_contains(syst, len, "unix") || ci_contains(syst, len, "macos") ||
        ci_contains(syst, len, "mac os"))
        return LP_FMT_UNIX;
    return LP_FMT_AUTO;
}

/* ---------------------------------------------------------------- streaming parser */

enum lp_state {
    LP_ST_DETECT, /* collecting the detection window */
    LP_ST_LOCKED, /* a format is chosen; lines are parsed as they come */
    LP_ST_FAILED  /* the callback or an allocation failed; the error sticks */
};

struct win_line {
    size_t off, len;
    uint64_t line;
};

struct lp_parser {
    struct lp_options opt;
    char *syst; /* owned copy of opt.syst */
    enum lp_state state;
    int err;
    enum lp_format fmt;      /* locked format */
    enum lp_format syst_fmt; /* what SYST suggests */
    unsigned eligible;       /* bit per format: candidates for fallback */
    bool discarding;         /* inside an over-long line, dropping bytes up to its newline */
    char *part;              /* unterminated line carried between feeds */
    size_t part_len;
    char *pend; /* VMS: a lone name line waiting for the rest of its entry */
    size_t pend_len;
    uint64_t pend_line;
    char *join; /* pend + ' ' + line */
    char *win;  /* detection window bytes */
    size_t win_len;
    struct win_line wl[LP_DETECT_LINES];
    size_t nwl;
    struct lp_stats st;
};

/* Formats tried in this order, and preferred in this order on equal scores. */
static const enum lp_format fmt_order[] = {
    LP_FMT_MLSD, LP_FMT_EPLF,  LP_FMT_UNIX,   LP_FMT_NETWARE, LP_FMT_DOS,    LP_FMT_VMS,
    LP_FMT_OS2,  LP_FMT_OS400, LP_FMT_TANDEM, LP_FMT_MVS,     LP_FMT_MVS_PDS};

static bool gated(enum lp_format f)
{
    return f == LP_FMT_MVS || f == LP_FMT_MVS_PDS || f == LP_FMT_TANDEM;
}

static bool syst_allows(const struct lp_parser *p, enum lp_format f)
{
    if (f == LP_FMT_MVS_PDS)
        return p->syst_fmt == LP_FMT_MVS;
    return p->syst_fmt == f;
}

static void set_state(struct lp_parser *p, enum lp_state s)
{
#ifdef LP_TRACE
    static const char *const names[] = {"detect", "locked", "failed"};
    fprintf(stderr, "lp: %s -> %s (line %llu, format %s)\n", names[p->state], names[s],
            (unsigned long long)p->st.lines, lp_format_name(p->fmt));
#endif
    p->state = s;
}

static void reset_listing(struct lp_parser *p)
{
    p->nwl = 0;
    p->win_len = 0;
    p->part_len = 0;
    p->pend_len = 0;
    p->discarding = false;
    if (p->opt.format != LP_FMT_AUTO) {
        p->fmt = p->opt.format;
        p->st.format = p->fmt;
        set_state(p, LP_ST_LOCKED);
    } else {
        p->fmt = LP_FMT_AUTO;
        p->st.format = LP_FMT_AUTO;
        set_state(p, LP_ST_DETECT);
    }
}

struct lp_parser *lp_parser_new(const struct lp_options *opt)
{
    struct lp_parser *p = calloc(1, sizeof *p);
    if (!p)
        goto fail;
    if (opt) {
        if (opt->format < LP_FMT_AUTO || opt->format >= LP_FMT_COUNT)
            goto fail;
        p->opt = *opt;
    }
    p->opt.syst = NULL;
    p->opt.syst_len = 0;
    if (opt && opt->syst && opt->syst_len > 0) {
        p->syst = malloc(opt->syst_len);
        if (!p->syst)
            goto fail;
        memcpy(p->syst, opt->syst, opt->syst_len);
        p->opt.syst = p->syst;
        p->opt.syst_len = opt->syst_len;
    }
    p->syst_fmt = lp_syst_format(p->opt.syst, p->opt.syst_len);
    p->part = malloc(LP_MAX_LINE);
    p->win = malloc(LP_DETECT_BYTES);
    if (!p->part || !p->win)
        goto fail;
    reset_listing(p);
    return p;
fail:
    lp_parser_free(p);
    return NULL;
}

void lp_parser_free(struct lp_parser *p)
{
    if (!p)
        return;
    free(p->syst);
    free(p->part);
    free(p->pend);
    free(p->join);
    free(p->win);
    free(p);
}

void lp_get_stats(const struct lp_parser *p, struct lp_stats *st)
{
    *st = p->st;
}

static int emit(struct lp_parser *p, struct lp_entry *e, uint64_t line, lp_entry_fn fn, void *ctx)
{
    e->line = line;
    p->st.entries++;
    int rc = fn ? fn(ctx, e) : 0;
    if (rc != 0) {
        p->err = rc;
        set_state(p, LP_ST_FAILED);
    }
    return rc;
}

/* Joins the pending VMS name with this line into p->join; returns its length. */
static size_t join_pend(struct lp_parser *p, const char *a, size_t alen, const char *s, size_t n)
{
    memcpy(p->join, a, alen);
    p->join[alen] = ' ';
    memcpy(p->join + alen + 1, s, n);
    return alen + 1 + n;
}

static int ensure_vms_buffers(struct lp_parser *p)
{
    if (!p->pend)
        p->pend = malloc(LP_MAX_LINE);
    if (!p->join)
        p->join = malloc(2 * (size_t)LP_MAX_LINE + 1);
    if (!p->pend || !p->join) {
        p->err = LP_ERR_NOMEM;
        set_state(p, LP_ST_FAILED);
        return LP_ERR_NOMEM;
    }
    return 0;
}

/* One line in the locked state: the locked format, then (auto mode) every other eligible
 * format in order; VMS lone names wait for their second line. */
static int process_locked(struct lp_parser *p, const char *s, size_t n, uint64_t line,
                          lp_entry_fn fn, void *ctx)
{
    struct lp_entry e;
    int r;
    if (p->pend_len > 0) {
        size_t jn = join_pend(p, p->pend, p->pend_len, s, n);
        uint64_t pl = p->pend_line;
        p->pend_len = 0;
        r = parse_fmt(LP_FMT_VMS, p->join, jn, &p->opt, &e, true);
        if (r == LPR_ENTRY)
            return emit(p, &e, pl, fn, ctx);
        if (r == LPR_IGNORED) {
            p->st.ignored++;
            return 0;
        }
        p->st.junk++; /* the lone name was junk after all; parse this line on its own */
    }
    if (n == 0) {
        p->st.junk++;
        return 0;
    }
    r = parse_fmt(p->fmt, s, n, &p->opt, &e, true);
    if (r == LPR_JUNK && p->fmt == LP_FMT_VMS && vms_lone_name(s, n)) {
        if (ensure_vms_buffers(p) < 0)
            return p->err;
        memcpy(p->pend, s, n);
        p->pend_len = n;
        p->pend_line = line;
        return 0;
    }
    for (size_t i = 0; r == LPR_JUNK && p->opt.format == LP_FMT_AUTO &&
                       i < sizeof fmt_order / sizeof fmt_order[0];
         i++) {
        enum lp_format f = fmt_order[i];
        if (f != p->fmt && (p->eligible & (1u << f)))
            r = parse_fmt(f, s, n, &p->opt, &e, false);
    }
    if (r == LPR_ENTRY)
        return emit(p, &e, line, fn, ctx);
    if (r == LPR_IGNORED)
        p->st.ignored++;
    else
        p->st.junk++;
    return 0;
}

/* Scores every candidate over the window (lftp's idea: count each parser's successes and
 * failures), locks in the best and replays the window through it. */
static int decide(struct lp_parser *p, lp_entry_fn fn, void *ctx)
{
    int best_score = -1000000;
    enum lp_format best = p->syst_fmt != LP_FMT_AUTO ? p->syst_fmt : LP_FMT_UNIX;
    struct lp_entry e;
    p->eligible = 0;
    for (size_t k = 0; k < sizeof fmt_order / sizeof fmt_order[0]; k++) {
        enum lp_format f = fmt_order[k];
        int ok = 0, bad = 0, hdr = 0;
        for (size_t i = 0; i < p->nwl; i++) {
            const char *s = p->win + p->wl[i].off;
            size_t n = p->wl[i].len;
            int r = parse_fmt(f, s, n, &p->opt, &e, true);
            if (r == LPR_JUNK && f == LP_FMT_VMS && i + 1 < p->nwl && vms_lone_name(s, n)) {
                if (ensure_vms_buffers(p) < 0)
                    return p->err;
                size_t jn = join_pend(p, s, n, p->win + p->wl[i + 1].off, p->wl[i + 1].len);
                r = parse_fmt(f, p->join, jn, &p->opt, &e, true);
                if (r != LPR_JUNK)
                    i++;
            }
            if (r == LPR_ENTRY || r == LPR_IGNORED)
                ok++;
            else if (r == LPR_HEADER)
                hdr++;
            else
                bad++;
        }
        if (gated(f) && hdr == 0 && !syst_allows(p, f))
            continue;
        p->eligible |= 1u << f;
        int score = 2 * ok + 3 * hdr - bad + (p->syst_fmt == f ? 1 : 0);
        if ((ok > 0 || hdr > 0) && score > best_score) {
            best_score = score;
            best = f;
        }
    }
    p->fmt = best;
    p->st.format = best;
    set_state(p, LP_ST_LOCKED);
    for (size_t i = 0; i < p->nwl && p->state == LP_ST_LOCKED; i++)
        process_locked(p, p->win + p->wl[i].off, p->wl[i].len, p->wl[i].line, fn, ctx);
    p->nwl = 0;
    p->win_len = 0;
    return p->state == LP_ST_FAILED ? p->err : 0;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

static int handle_line(struct lp_parser *p, const char *s, size_t n, lp_entry_fn fn, void *ctx)
{
    uint64_t line = ++p->st.lines;
    n = strip_cr(s, n);
    if (n > LP_MAX_LINE) {
        p->st.junk++;
        return 0;
    }
    if (p->state == LP_ST_LOCKED)
        return process_locked(p, s, n, line, fn, ctx);
    if (blank(s, n)) {
        p->st.junk++;
        return 0;
    }
    if (n > LP_DETECT_BYTES - p->win_len) {
        int rc = decide(p, fn, ctx);
        if (rc != 0)
            return rc;
        return process_locked(p, s, n, line, fn, ctx);
    }
    memcpy(p->win + p->win_len, s, n);
    p->wl[p->nwl].off = p->win_len;
    p->wl[p->nwl].len = n;
    p->wl[p->nwl].line = line;
    p->nwl++;
    p->win_len += n;
    return p->nwl == LP_DETECT_LINES ? decide(p, fn, ctx) : 0;
}

int lp_feed(struct lp_parser *p, const void *buf, size_t len, lp_entry_fn fn, void *ctx)
{
    const char *s = buf;
    int rc = 0;
    if (p->state == LP_ST_FAILED)
        return p->err;
    while (len > 0 && rc == 0) {
        const char *nl = memchr(s, '\n', len);
        size_t take = nl ? (size_t)(nl - s) : len;
        if (p->discarding) {
            if (!nl)
                return 0;
            p->discarding = false;
            p->st.lines++;
            p->st.junk++;
        } else if (p->part_len == 0 && nl) {
            rc = handle_line(p, s, take, fn, ctx); /* whole line in the caller's buffer */
        } else if (take > LP_MAX_LINE - p->part_len) {
            p->part_len = 0;
            if (nl) {
                p->st.lines++;
                p->st.junk++;
            } else {
                p->discarding = true;
            }
        } else {
            memcpy(p->part + p->part_len, s, take);
            p->part_len += take;
            if (nl) {
                size_t pl = p->part_len;
                p->part_len = 0;
                rc = handle_line(p, p->part, pl, fn, ctx);
            }
        }
        if (!nl)
            break;
        s = nl + 1;
        len -= take + 1;
    }
    return p->state == LP_ST_FAILED ? p->err : rc;
}

int lp_finish(struct lp_parser *p, lp_entry_fn fn, void *ctx)
{
    int rc = 0;
    if (p->state == LP_ST_FAILED)
        return p->err;
    if (p->discarding) {
        p->st.lines++;
        p->st.junk++;
    } else if (p->part_len > 0) {
        size_t pl = p->part_len;
        p->part_len = 0;
        rc = handle_line(p, p->part, pl, fn, ctx);
    }
    if (rc == 0 && p->state == LP_ST_DETECT && p->nwl > 0)
        rc = decide(p, fn, ctx);
    if (rc == 0 && p->pend_len > 0)
        p->st.junk++;
    if (p->state == LP_ST_FAILED)
        return p->err;
    enum lp_format locked = p->st.format;
    reset_listing(p);
    p->st.format = locked;
    return rc;
}
