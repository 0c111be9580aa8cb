/* Field codec of the WebDAV state files (see field.h). */
#include "webdav/field.h"

#include <stdlib.h>
#include <string.h>

int dav_field_put(struct gw_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    if (!*s)
        return gw_buf_putc(b, '%');
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        if (*p <= 0x20 || *p == '%' || *p == 0x7f) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = gw_buf_append(b, e, 3);
        } else {
            rc = gw_buf_putc(b, (char)*p);
        }
    }
    return rc;
}

int dav_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *dav_field_get(const char *s, size_t n)
{
    if (n == 1 && s[0] == '%')
        return strdup("");
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int h, l;
        if (i + 2 >= n || (h = dav_hex_value(s[i + 1])) < 0 || (l = dav_hex_value(s[i + 2])) < 0 ||
            (h == 0 && l == 0)) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(h << 4 | l);
        i += 2;
    }
    out[o] = '\0';
    return out;
}
