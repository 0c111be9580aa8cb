/* The pure parsers of resumable uploads (upload.h): structured-field items, the
 * Content-Type check, and the upload resource's token and query. Apart from the
 * handlers so that they link alone, for unit tests and tests/fuzz/fuzz_upload.c. */
#include "webdav/upload.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/err.h"

int dav_sf_uint(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (!v || n == 0 || n > 15)
        return GW_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return GW_ERR_INVAL;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

int dav_sf_bool(const char *v, size_t n, bool *out)
{
    if (!v || n != 2 || v[0] != '?' || (v[1] != '0' && v[1] != '1'))
        return GW_ERR_INVAL;
    *out = v[1] == '1';
    return 0;
}

bool dav_media_type_is(const char *v, size_t n, const char *type)
{
    size_t b = 0, e, tl = strlen(type);
    if (!v)
        return false;
    while (b < n && (v[b] == ' ' || v[b] == '\t'))
        b++;
    e = b;
    while (e < n && v[e] != ';')
        e++;
    while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
    return e - b == tl && strncasecmp(v + b, type, tl) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* tokens are lowercase: one spelling per upload */
}

int dav_upload_token_parse(const char *s, size_t n, struct dav_upload_id *id)
{
    const size_t hexlen = 2 * (DAV_UPLOAD_NONCE + DAV_UPLOAD_MAC);
    unsigned char raw[DAV_UPLOAD_NONCE + DAV_UPLOAD_MAC];
    if (!s || n < hexlen)
        return GW_ERR_INVAL;
    for (size_t i = 0; i < sizeof raw; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return GW_ERR_INVAL;
        raw[i] = (unsigned char)(h << 4 | l);
    }
    memset(id, 0, sizeof *id);
    memcpy(id->nonce, raw, DAV_UPLOAD_NONCE);
    memcpy(id->mac, raw + DAV_UPLOAD_NONCE, DAV_UPLOAD_MAC);
    if (n == hexlen)
        return 0;
    /* "." LENGTH: 1 to 19 digits, one spelling per value, at most INT64_MAX. */
    const char *d = s + hexlen + 1;
    size_t dn = n - hexlen - 1;
    uint64_t len = 0;
    if (s[hexlen] != '.' || dn == 0 || dn > 19 || (dn > 1 && d[0] == '0'))
        return GW_ERR_INVAL;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] < '0' || d[i] > '9')
            return GW_ERR_INVAL;
        uint64_t digit = (uint64_t)(d[i] - '0');
        if (len > (UINT64_C(0x7fffffffffffffff) - digit) / 10)
            return GW_ERR_INVAL;
        len = len * 10 + digit;
    }
    id->has_len = true;
    id->len = len;
    return 0;
}

int dav_upload_token_format(const struct dav_upload_id *id, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    const size_t hexlen = 2 * (DAV_UPLOAD_NONCE + DAV_UPLOAD_MAC);
    if (outsz < hexlen + 1)
        return GW_ERR_TOOLONG;
    for (size_t i = 0; i < DAV_UPLOAD_NONCE + DAV_UPLOAD_MAC; i++) {
        unsigned char c = i < DAV_UPLOAD_NONCE ? id->nonce[i] : id->mac[i - DAV_UPLOAD_NONCE];
        out[2 * i] = hex[c >> 4];
        out[2 * i + 1] = hex[c & 15];
    }
    out[hexlen] = '\0';
    if (!id->has_len)
        return 0;
    int m = snprintf(out + hexlen, outsz - hexlen, ".%" PRIu64, id->len);
    return m < 0 || (size_t)m >= outsz - hexlen ? GW_ERR_TOOLONG : 0;
}

int dav_upload_query(const char *target, size_t n, const char **tok, size_t *toklen)
{
    static const char key[] = "upload=";
    const char *q = memchr(target, '?', n);
    if (!q)
        return 0;
    size_t qn = n - (size_t)(q + 1 - target);
    q++;
    /* Only a query that is about uploads is ours; others are ignored as before. */
    bool named = qn >= sizeof key - 1 && memcmp(q, key, sizeof key - 1) == 0;
    for (size_t i = 0; !named && i + sizeof key - 1 <= qn; i++)
        if ((i == 0 || q[i - 1] == '&' || q[i - 1] == ';') &&
            memcmp(q + i, key, sizeof key - 1) == 0)
            named = true;
    if (!named)
        return 0;
    struct dav_upload_id id;
    if (memcmp(q, key, sizeof key - 1) != 0 ||
        dav_upload_token_parse(q + sizeof key - 1, qn - (sizeof key - 1), &id) < 0)
        return GW_ERR_INVAL;
    *tok = q + sizeof key - 1;
    *toklen = qn - (sizeof key - 1);
    return 1;
}

