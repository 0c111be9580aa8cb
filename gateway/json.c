/* JSON output helpers (see json.h). */
#include "gateway/json.h"

#include <inttypes.h>
#include <string.h>

size_t gw_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
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

bool gw_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = gw_utf8_seq_len(p + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

int gw_json_str(struct gw_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int rc = gw_buf_putc(b, '"');
    size_t i = 0, run = 0;
    while (rc == 0 && i < n) {
        /* The common case, eight bytes at a time: no control byte, no byte >= 0x80, no
         * quote, no backslash. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            uint64_t bad = ((w - ones * 0x20) | (q - ones) | (bs - ones) | w) & high;
            if (bad)
                break;
            i += 8;
            run += 8;
        }
        if (i >= n)
            break;
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        size_t l = c >= 0x20 && c != '"' && c != '\\' ? gw_utf8_seq_len(p + i, n - i) : 1;
        if (c >= 0x20 && c != '"' && c != '\\' && l > 0) {
            i += l;
            run += l;
            continue;
        }
        rc = gw_buf_append(b, p + i - run, run);
        run = 0;
        if (rc < 0)
            break;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = gw_buf_append(b, e, 2);
        } else if (c == '\n') {
            rc = gw_buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            rc = gw_buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            rc = gw_buf_append(b, "\\t", 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = gw_buf_append(b, e, 6);
        } else {
            rc = gw_buf_append(b, "\xEF\xBF\xBD", 3); /* invalid byte: U+FFFD */
        }
        i++;
    }
    if (rc == 0)
        rc = gw_buf_append(b, p + i - run, run);
    if (rc == 0)
        rc = gw_buf_putc(b, '"');
    return rc;
}

int gw_json_cstr(struct gw_buf *b, const char *s)
{
    return s ? gw_json_str(b, s, strlen(s)) : gw_buf_puts(b, "null");
}

int gw_json_int(struct gw_buf *b, int64_t v)
{
    char d[GW_I64_DEC_MAX];
    return gw_buf_append(b, d, gw_i64_dec(v, d));
}

int gw_json_key(struct gw_buf *b, bool *first, const char *key)
{
    /* Keys are nearly always plain ASCII names: one append of ,"key": for those. */
    char k[64];
    size_t n = 0;
    if (!*first)
        k[n++] = ',';
    k[n++] = '"';
    for (const char *p = key; *p && n < sizeof k - 2; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
            n = 0;
            break;
        }
        k[n++] = (char)c;
    }
    if (n > 0 && n < sizeof k - 2 && key[n - (*first ? 1 : 2)] == '\0') {
        k[n++] = '"';
        k[n++] = ':';
        *first = false;
        return gw_buf_append(b, k, n);
    }
    int rc = 0;
    if (!*first)
        rc = gw_buf_putc(b, ',');
    *first = false;
    if (rc == 0)
        rc = gw_json_cstr(b, key);
    if (rc == 0)
        rc = gw_buf_putc(b, ':');
    return rc;
}
