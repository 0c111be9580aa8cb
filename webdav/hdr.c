/* Header value parsers and formatters (hdr.h). */
#include "webdav/hdr.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/err.h"
#include "webdav/http.h"

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const lwdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int dav_date_format(int64_t t, char out[DAV_DATE_LEN + 1])
{
    if (t < 0 || t > INT64_C(253402300799))
        return GW_ERR_INVAL;
    int64_t days = t / 86400, secs = t % 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", by hand: every GET carries one. */
    unsigned f[5] = {d, (unsigned)y, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                     (unsigned)(secs % 60)};
    static const unsigned char pos[5] = {5, 12, 17, 20, 23}, width[5] = {2, 4, 2, 2, 2};
    memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", DAV_DATE_LEN + 1); /* every field rewritten */
    memcpy(out, wdays[(days + 4) % 7], 3);
    memcpy(out + 8, months[m - 1], 3);
    for (int i = 0; i < 5; i++)
        for (unsigned v = f[i], k = width[i]; k > 0; v /= 10)
            out[pos[i] + --k] = (char)('0' + v % 10);
    return 0;
}

int dav_date_rfc3339(int64_t t, char out[21])
{
    if (t < 0 || t > INT64_C(253402300799))
        return GW_ERR_INVAL;
    int64_t days = t / 86400, secs = t % 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 21, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
    return 0;
}

/* Reads exactly w digits at s[*i]. */
static bool digits(const char *s, size_t n, size_t *i, unsigned w, unsigned *out)
{
    unsigned v = 0;
    if (*i + w > n)
        return false;
    for (unsigned k = 0; k < w; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += w;
    *out = v;
    return true;
}

static bool lit(const char *s, size_t n, size_t *i, const char *l)
{
    size_t m = strlen(l);
    if (*i + m > n || memcmp(s + *i, l, m) != 0)
        return false;
    *i += m;
    return true;
}

static bool month(const char *s, size_t n, size_t *i, unsigned *m)
{
    for (unsigned k = 0; k < 12; k++)
        if (lit(s, n, i, months[k])) {
            *m = k + 1;
            return true;
        }
    return false;
}

static bool hms(const char *s, size_t n, size_t *i, unsigned *h, unsigned *mi, unsigned *se)
{
    return digits(s, n, i, 2, h) && lit(s, n, i, ":") && digits(s, n, i, 2, mi) &&
           lit(s, n, i, ":") && digits(s, n, i, 2, se);
}

int dav_date_parse(const char *s, size_t n, int64_t *t)
{
    unsigned d = 0, m = 0, y = 0, h = 0, mi = 0, se = 0;
    size_t i = 0;
    bool ok = false;
    int64_t year = 0;
    for (unsigned k = 0; k < 7 && !ok; k++) {
        size_t j = 0;
        if (lit(s, n, &j, wdays[k]) && lit(s, n, &j, ", ")) {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            i = j;
            ok = digits(s, n, &i, 2, &d) && lit(s, n, &i, " ") && month(s, n, &i, &m) &&
                 lit(s, n, &i, " ") && digits(s, n, &i, 4, &y) && lit(s, n, &i, " ") &&
                 hms(s, n, &i, &h, &mi, &se) && lit(s, n, &i, " GMT") && i == n;
            year = y;
            if (ok)
                goto done;
            return GW_ERR_INVAL;
        }
        j = 0;
        if (lit(s, n, &j, lwdays[k]) && lit(s, n, &j, ", ")) {
            /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit year: RFC 9110 says
             * interpret a year more than 50 years ahead as the past century) */
            i = j;
            ok = digits(s, n, &i, 2, &d) && lit(s, n, &i, "-") && month(s, n, &i, &m) &&
                 lit(s, n, &i, "-") && digits(s, n, &i, 2, &y) && lit(s, n, &i, " ") &&
                 hms(s, n, &i, &h, &mi, &se) && lit(s, n, &i, " GMT") && i == n;
            year = y < 70 ? 2000 + y : 1900 + y;
            if (ok)
                goto done;
            return GW_ERR_INVAL;
        }
        j = 0;
        if (lit(s, n, &j, wdays[k]) && lit(s, n, &j, " ")) {
            /* asctime: Sun Nov  6 08:49:37 1994 */
            i = j;
            ok = month(s, n, &i, &m) && lit(s, n, &i, " ");
            if (ok && i < n && s[i] == ' ') {
                i++;
                ok = digits(s, n, &i, 1, &d);
            } else if (ok) {
                ok = digits(s, n, &i, 2, &d);
            }
            ok = ok && lit(s, n, &i, " ") && hms(s, n, &i, &h, &mi, &se) && lit(s, n, &i, " ") &&
                 digits(s, n, &i, 4, &y) && i == n;
            year = y;
            if (ok)
                goto done;
            return GW_ERR_INVAL;
        }
    }
    return GW_ERR_INVAL;
done:
    if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || year < 1970)
        return GW_ERR_INVAL;
    *t = days_from_civil(year, m, d) * 86400 + h * 3600 + mi * 60 + (se > 59 ? 59 : se);
    return 0;
}

void dav_etag(const struct vfs_stat *st, char out[DAV_ETAG_MAX])
{
    /* "INO-SIZE-MTIME_NS" in hex, as printf's %x would, without printf (every GET). */
    uint64_t ns = (uint64_t)st->mtime * 1000000000u + st->mtime_nsec;
    uint64_t v[3] = {st->ino, st->size, ns};
    size_t o = 0;
    out[o++] = '"';
    for (int k = 0; k < 3; k++) {
        char d[16];
        size_t i = sizeof d;
        do
            d[--i] = "0123456789abcdef"[v[k] & 15];
        while ((v[k] >>= 4) != 0);
        memcpy(out + o, d + i, sizeof d - i);
        o += sizeof d - i;
        out[o++] = k < 2 ? '-' : '"';
    }
    out[o] = '\0';
}

bool dav_etag_eq(const char *a, size_t an, const char *b, size_t bn, bool weak)
{
    bool aw = an >= 2 && a[0] == 'W' && a[1] == '/';
    bool bw = bn >= 2 && b[0] == 'W' && b[1] == '/';
    if (!weak && (aw || bw))
        return false;
    if (aw)
        a += 2, an -= 2;
    if (bw)
        b += 2, bn -= 2;
    return an == bn && memcmp(a, b, an) == 0;
}

int dav_etag_match(const char *list, size_t n, const char *etag, bool weak)
{
    size_t i = 0;
    bool any = false, match = false;
    while (i < n) {
        while (i < n && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        if (i == n)
            break;
        size_t b = i;
        if (list[i] == '*') {
            i++;
            any = true;
            if (etag)
                match = true;
        } else {
            if (i + 2 <= n && list[i] == 'W' && list[i + 1] == '/')
                i += 2;
            if (i >= n || list[i] != '"')
                return GW_ERR_INVAL;
            i++;
            while (i < n && list[i] != '"') {
                unsigned char c = (unsigned char)list[i];
                if (c < 0x21 || c == 0x7f)
                    return GW_ERR_INVAL;
                i++;
            }
            if (i >= n)
                return GW_ERR_INVAL;
            i++;
            any = true;
            if (etag && dav_etag_eq(list + b, i - b, etag, strlen(etag), weak))
                match = true;
        }
        while (i < n && (list[i] == ' ' || list[i] == '\t'))
            i++;
        if (i < n && list[i] != ',')
            return GW_ERR_INVAL;
    }
    if (!any)
        return GW_ERR_INVAL;
    return match ? 1 : 0;
}

/* Reads a decimal uint64 at s[*i]; false on no digits or overflow. */
static bool u64(const char *s, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t b = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        (*i)++;
    }
    *out = v;
    return *i > b;
}

static void skip_ows(const char *s, size_t n, size_t *i)
{
    while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
        (*i)++;
}

enum dav_range_result dav_range_parse(const char *v, size_t n, uint64_t size, struct dav_range *out,
                                      size_t *count)
{
    size_t i = 0, k = 0, nspec = 0;
    *count = 0;
    if (n < 6 || strncasecmp(v, "bytes=", 6) != 0)
        return DAV_RANGE_IGNORE;
    i = 6;
    while (i < n) {
        skip_ows(v, n, &i);
        if (i < n && v[i] == ',') {
            i++;
            continue;
        }
        if (i == n)
            break;
        uint64_t a = 0, b = 0;
        bool has_a = u64(v, n, &i, &a), has_b;
        if (i >= n || v[i] != '-')
            return DAV_RANGE_IGNORE;
        i++;
        has_b = u64(v, n, &i, &b);
        if (i < n && v[i] >= '0' && v[i] <= '9')
            return DAV_RANGE_IGNORE; /* overflow */
        skip_ows(v, n, &i);
        if (i < n && v[i] != ',')
            return DAV_RANGE_IGNORE;
        if (!has_a && !has_b)
            return DAV_RANGE_IGNORE;
        if (has_a && has_b && b < a)
            return DAV_RANGE_IGNORE;
        if (++nspec > DAV_MAX_RANGES)
            return DAV_RANGE_IGNORE;
        struct dav_range r;
        if (!has_a) { /* suffix: the last b bytes */
            if (b == 0 || size == 0)
                continue;
            r.first = b >= size ? 0 : size - b;
            r.last = size - 1;
        } else {
            if (a >= size)
                continue;
            r.first = a;
            r.last = has_b && b < size ? b : size - 1;
        }
        out[k++] = r;
    }
    if (nspec == 0)
        return DAV_RANGE_IGNORE;
    *count = k;
    return k ? DAV_RANGE_OK : DAV_RANGE_UNSATISFIABLE;
}

int dav_content_range_parse(const char *v, size_t n, uint64_t *first, uint64_t *last,
                            uint64_t *total)
{
    size_t i = 0;
    if (n < 6 || strncasecmp(v, "bytes ", 6) != 0)
        return GW_ERR_INVAL;
    i = 6;
    skip_ows(v, n, &i);
    if (!u64(v, n, &i, first) || i >= n || v[i++] != '-' || !u64(v, n, &i, last) || i >= n ||
        v[i++] != '/')
        return GW_ERR_INVAL;
    if (i < n && v[i] == '*') {
        i++;
        *total = UINT64_MAX;
    } else if (!u64(v, n, &i, total) || *total == UINT64_MAX) {
        return GW_ERR_INVAL;
    }
    if (i != n || *last < *first || *last > INT64_MAX)
        return GW_ERR_INVAL;
    if (*total != UINT64_MAX && *total <= *last)
        return GW_ERR_INVAL;
    return 0;
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

int dav_base64_decode(const char *in, size_t n, unsigned char *out, size_t outsz)
{
    size_t o = 0;
    if (n % 4 != 0)
        return GW_ERR_INVAL;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + (size_t)k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return GW_ERR_INVAL; /* data after padding */
            v[k] = b64val(c);
            if (v[k] < 0)
                return GW_ERR_INVAL;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t m = 3 - (size_t)pad;
        if (m > outsz - o)
            return GW_ERR_TOOLONG;
        unsigned char bytes[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8),
                                  (unsigned char)w};
        memcpy(out + o, bytes, m);
        o += m;
    }
    return (int)o;
}

int dav_basic_parse(const char *v, size_t n, char *user, size_t usersz, char *pass, size_t passsz)
{
    unsigned char dec[GW_MAX_USER_NAME + GW_MAX_PASSWORD + 2];
    size_t i = 0;
    int rc = GW_ERR_INVAL;
    while (i < n && v[i] != ' ')
        i++;
    if (!dav_ieq(v, i, "basic"))
        return GW_ERR_INVAL;
    while (i < n && v[i] == ' ')
        i++;
    int m = dav_base64_decode(v + i, n - i, dec, sizeof dec);
    if (m < 0) {
        rc = m;
        goto out;
    }
    unsigned char *colon = memchr(dec, ':', (size_t)m);
    if (!colon)
        goto out;
    size_t ul = (size_t)(colon - dec), pl = (size_t)m - ul - 1;
    for (int k = 0; k < m; k++)
        if (dec[k] < 0x20 || dec[k] == 0x7f) {
            rc = GW_ERR_PROTO;
            goto out;
        }
    if (ul >= usersz || pl >= passsz) {
        rc = GW_ERR_TOOLONG;
        goto out;
    }
    memcpy(user, dec, ul);
    user[ul] = '\0';
    memcpy(pass, colon + 1, pl);
    pass[pl] = '\0';
    rc = 0;
out:
    explicit_bzero(dec, sizeof dec);
    return rc;
}

int dav_depth_parse(const char *v, size_t n, int def)
{
    if (!v)
        return def;
    if (dav_ieq(v, n, "0"))
        return 0;
    if (dav_ieq(v, n, "1"))
        return 1;
    if (dav_ieq(v, n, "infinity"))
        return DAV_DEPTH_INFINITY;
    return GW_ERR_INVAL;
}

int dav_overwrite_parse(const char *v, size_t n)
{
    if (!v)
        return 1;
    if (dav_ieq(v, n, "T"))
        return 1;
    if (dav_ieq(v, n, "F"))
        return 0;
    return GW_ERR_INVAL;
}

int64_t dav_timeout_parse(const char *v, size_t n, int64_t def, int64_t max)
{
    size_t i = 0;
    if (!v)
        return def;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t b = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (dav_ieq(v + b, e - b, "infinite"))
            return max;
        if (e - b > 7 && strncasecmp(v + b, "second-", 7) == 0) {
            size_t j = b + 7;
            uint64_t s;
            if (u64(v, e, &j, &s) && j == e)
                return s == 0 ? def : s > (uint64_t)max ? max : (int64_t)s;
            if (j < e && v[j] >= '0' && v[j] <= '9')
                return max; /* too many digits: as long as we allow */
        }
    }
    return def;
}

int dav_locktoken_parse(const char *v, size_t n, const char **tok, size_t *toklen)
{
    if (!v || n < 3 || v[0] != '<' || v[n - 1] != '>')
        return GW_ERR_INVAL;
    for (size_t i = 1; i + 1 < n; i++)
        if (v[i] == '<' || v[i] == '>' || (unsigned char)v[i] <= 0x20)
            return GW_ERR_INVAL;
    *tok = v + 1;
    *toklen = n - 2;
    return 0;
}

bool dav_want_sha256(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t b = i;
        while (i < n && v[i] != ',' && v[i] != '=' && v[i] != ' ' && v[i] != '\t')
            i++;
        bool is = dav_ieq(v + b, i - b, "sha-256");
        skip_ows(v, n, &i);
        bool nonzero = true;
        if (i < n && v[i] == '=') {
            i++;
            skip_ows(v, n, &i);
            nonzero = i < n && v[i] >= '1' && v[i] <= '9';
        }
        while (i < n && v[i] != ',')
            i++;
        if (is && nonzero)
            return true;
    }
    return false;
}

/* ---- If ---- */

static bool if_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads "<...>" at v[*i]; the span inside the brackets goes to *s, *sn. */
static bool angle(const char *v, size_t n, size_t *i, const char **s, size_t *sn)
{
    if (*i >= n || v[*i] != '<')
        return false;
    size_t b = ++*i;
    while (*i < n && v[*i] != '>') {
        unsigned char c = (unsigned char)v[*i];
        if (c <= 0x20 || c == '<' || c == 0x7f)
            return false;
        (*i)++;
    }
    if (*i >= n || *i == b)
        return false;
    *s = v + b;
    *sn = *i - b;
    (*i)++;
    return true;
}

static int if_list(const char *v, size_t n, size_t *i, struct dav_if *out)
{
    struct dav_if_list *l = &out->lists[out->nlists];
    (*i)++; /* '(' */
    l->first = out->nconds;
    l->count = 0;
    for (;;) {
        while (*i < n && if_ws(v[*i]))
            (*i)++;
        if (*i >= n)
            return GW_ERR_INVAL;
        if (v[*i] == ')') {
            (*i)++;
            break;
        }
        if (out->nconds == DAV_IF_MAX_CONDS)
            return GW_ERR_LIMIT;
        struct dav_if_cond *c = &out->conds[out->nconds];
        c->negate = false;
        if (n - *i >= 3 && strncasecmp(v + *i, "not", 3) == 0) {
            c->negate = true;
            *i += 3;
            while (*i < n && if_ws(v[*i]))
                (*i)++;
        }
        if (*i < n && v[*i] == '<') {
            c->is_etag = false;
            if (!angle(v, n, i, &c->v, &c->n))
                return GW_ERR_INVAL;
        } else if (*i < n && v[*i] == '[') {
            size_t b = ++*i;
            while (*i < n && v[*i] != ']')
                (*i)++;
            if (*i >= n || *i == b)
                return GW_ERR_INVAL;
            c->is_etag = true;
            c->v = v + b;
            c->n = *i - b;
            (*i)++;
            int chk = dav_etag_match(c->v, c->n, NULL, true);
            if (chk < 0 || c->n < 2 || c->v[c->n - 1] != '"')
                return GW_ERR_INVAL;
        } else {
            return GW_ERR_INVAL;
        }
        out->nconds++;
        l->count++;
    }
    if (l->count == 0)
        return GW_ERR_INVAL;
    out->nlists++;
    return 0;
}

int dav_if_parse(const char *v, size_t n, struct dav_if *out)
{
    size_t i = 0;
    const char *tag = NULL;
    size_t tag_len = 0;
    bool tagged = false, untagged = false;
    out->nlists = 0;
    out->nconds = 0;
    for (;;) {
        while (i < n && if_ws(v[i]))
            i++;
        if (i >= n)
            break;
        if (v[i] == '<') {
            if (untagged || !angle(v, n, &i, &tag, &tag_len))
                return GW_ERR_INVAL;
            tagged = true;
            while (i < n && if_ws(v[i]))
                i++;
            if (i >= n || v[i] != '(')
                return GW_ERR_INVAL; /* a tag needs at least one list */
            continue;
        }
        if (v[i] != '(')
            return GW_ERR_INVAL;
        if (!tagged)
            untagged = true;
        if (out->nlists == DAV_IF_MAX_LISTS)
            return GW_ERR_LIMIT;
        out->lists[out->nlists].tag = tag;
        out->lists[out->nlists].tag_len = tag_len;
        int rc = if_list(v, n, &i, out);
        if (rc < 0)
            return rc;
    }
    return out->nlists ? 0 : GW_ERR_INVAL;
}
