/* URL mapping and escaping (uri.h). */
#include "webdav/uri.h"

#include <string.h>
#include <strings.h>

#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/path.h"

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dav_uri_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexv((unsigned char)s[i + 1])) < 0 ||
                (l = hexv((unsigned char)s[i + 2])) < 0)
                return GW_ERR_INVAL;
            c = (unsigned char)(h << 4 | l);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return GW_ERR_INVAL;
        if (o + 1 >= outsz)
            return GW_ERR_TOOLONG;
        out[o++] = (char)c;
    }
    if (outsz == 0)
        return GW_ERR_TOOLONG;
    out[o] = '\0';
    return (int)o;
}

/* Percent-decodes one path segment, refusing an encoded '/'. */
static int decode_segment(const char *s, size_t n, char *out, size_t outsz)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == '%' && s[i + 1] == '2' && (s[i + 2] == 'f' || s[i + 2] == 'F'))
            return GW_ERR_INVAL;
    return dav_uri_decode(s, n, out, outsz);
}

int dav_uri_to_path(const char *t, size_t n, const char *host, size_t hostlen, char *out,
                    size_t outsz, bool *slash)
{
    char dec[GW_MAX_PATH];
    size_t i = 0, o = 0;
    if (outsz)
        out[0] = '\0';
    if (slash)
        *slash = false;
    if (n >= 7 && (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
        i = t[4] == ':' ? 7 : 8;
        size_t a = i;
        while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
            i++;
        if (i == a)
            return GW_ERR_INVAL;
        if (host && (i - a != hostlen || strncasecmp(t + a, host, hostlen) != 0))
            return GW_ERR_ESCAPE;
        if (i == n || t[i] != '/') {
            if (i < n && t[i] == '#')
                return GW_ERR_INVAL;
            return gw_path_resolve("/", "/", 1, out, outsz);
        }
    }
    if (i >= n || t[i] != '/')
        return GW_ERR_INVAL;
    size_t end = i;
    while (end < n && t[end] != '?' && t[end] != '#')
        end++;
    if (end < n && t[end] == '#')
        return GW_ERR_INVAL;
    for (size_t k = end; k < n; k++)
        if (t[k] == '#')
            return GW_ERR_INVAL;
    /* Segment by segment, so "." and ".." are refused whether literal or encoded. */
    while (i < end) {
        i++; /* the '/' */
        size_t b = i;
        while (i < end && t[i] != '/')
            i++;
        if (i == b)
            continue;
        if (o + 1 >= sizeof dec)
            return GW_ERR_TOOLONG;
        int m = decode_segment(t + b, i - b, dec + o + 1, sizeof dec - o - 1);
        if (m < 0)
            return m;
        if ((m == 1 && dec[o + 1] == '.') || (m == 2 && dec[o + 1] == '.' && dec[o + 2] == '.'))
            return GW_ERR_INVAL;
        dec[o] = '/';
        o += (size_t)m + 1;
    }
    if (!gw_utf8_valid(dec, o))
        return GW_ERR_INVAL;
    if (slash)
        *slash = end > 0 && t[end - 1] == '/';
    if (o == 0)
        return gw_path_resolve("/", "/", 1, out, outsz);
    return gw_path_resolve("/", dec, o, out, outsz);
}

int dav_uri_encode(struct gw_buf *b, const char *path, bool dir)
{
    static const char hex[] = "0123456789ABCDEF";
    char tmp[3 * 64];
    size_t t = 0;
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && rc == 0; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            tmp[t++] = (char)c;
        } else {
            tmp[t++] = '%';
            tmp[t++] = hex[c >> 4];
            tmp[t++] = hex[c & 15];
        }
        if (t > sizeof tmp - 3) {
            rc = gw_buf_append(b, tmp, t);
            t = 0;
        }
    }
    if (rc == 0 && t)
        rc = gw_buf_append(b, tmp, t);
    if (rc == 0 && dir && strcmp(path, "/") != 0)
        rc = gw_buf_putc(b, '/');
    return rc;
}

int dav_xml_escape(struct gw_buf *b, const char *s, size_t n)
{
    size_t i = 0, run = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t len = 1;
        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (c == '"')
            rep = "&quot;";
        else if (c == '\'')
            rep = "&#39;";
        else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            rep = "\xEF\xBF\xBD";
        else if (c >= 0x80) {
            len = gw_utf8_seq_len((const unsigned char *)s + i, n - i);
            /* U+FFFE and U+FFFF are not XML characters either: one U+FFFD for the
             * whole sequence. */
            if (len == 3 && c == 0xEF && (unsigned char)s[i + 1] == 0xBF &&
                (unsigned char)s[i + 2] >= 0xBE)
                rep = "\xEF\xBF\xBD";
            if (len == 0) {
                rep = "\xEF\xBF\xBD";
                len = 1;
            }
        }
        if (rep) {
            if (run)
                rc = gw_buf_append(b, s + i - run, run);
            run = 0;
            if (rc == 0)
                rc = gw_buf_puts(b, rep);
        } else {
            run += len;
        }
        i += len;
    }
    if (rc == 0 && run)
        rc = gw_buf_append(b, s + i - run, run);
    return rc;
}
