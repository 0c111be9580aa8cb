/* Client charset conversion of FTP names (see ftpd_enc.h), on glibc iconv. */
#include "ftp/ftpd_enc.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"

struct ftpd_enc {
    iconv_t to;   /* UTF-8 -> client */
    iconv_t from; /* client -> UTF-8 */
};

/* Every printable ASCII byte must map to itself: names are split on '/', escapes use '%'
 * and hex digits, and a charset like JIS X 0201 Shift_JIS (0x5C is YEN SIGN, 0x7E is
 * OVERLINE) would make "a\\b" and "~user" unreachable. Windows' CP932 passes. */
static bool ascii_roundtrip(iconv_t cd)
{
    char in[95], out[4 * sizeof in];
    for (int i = 0; i < 95; i++)
        in[i] = (char)(0x20 + i);
    char *ip = in, *op = out;
    size_t il = sizeof in, ol = sizeof out;
    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
        return false;
    return (size_t)(op - out) == sizeof in && memcmp(in, out, sizeof in) == 0;
}

struct ftpd_enc *ftpd_enc_new(const char *charset)
{
    struct ftpd_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->to = iconv_open(charset, "UTF-8");
    if (e->to == (iconv_t)-1)
        goto fail;
    e->from = iconv_open("UTF-8", charset);
    if (e->from == (iconv_t)-1)
        goto fail_to;
    if (!ascii_roundtrip(e->to) || !ascii_roundtrip(e->from))
        goto fail_from;
    return e;

fail_from:
    iconv_close(e->from);
fail_to:
    iconv_close(e->to);
fail:
    free(e);
    return NULL;
}

void ftpd_enc_free(struct ftpd_enc *e)
{
    if (!e)
        return;
    iconv_close(e->to);
    iconv_close(e->from);
    free(e);
}

/* Length of the UTF-8 sequence starting at p (1 for an invalid lead byte). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t want = p[0] < 0x80             ? 1
                  : (p[0] & 0xe0) == 0xc0 ? 2
                  : (p[0] & 0xf0) == 0xe0 ? 3
                  : (p[0] & 0xf8) == 0xf0 ? 4
                                          : 1;
    if (want > n)
        return 1;
    for (size_t i = 1; i < want; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 1;
    }
    return want;
}

static int put_escaped(struct gw_buf *out, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        char esc[3] = {'%', hex[p[i] >> 4], hex[p[i] & 15]};
        int rc = gw_buf_append(out, esc, 3);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Converts one character to the client charset, and only when the client's bytes
 * convert back to the very same character: some charsets map several characters to one
 * code (CP932 shows U+2016 and U+2225 alike), and a name shown must stay reachable. */
static bool to_client_char(struct ftpd_enc *e, const unsigned char *c, size_t cl, char *out,
                           size_t outsz, size_t *outlen)
{
    char back[16];
    char *ip = (char *)c, *op = out;
    size_t il = cl, ol = outsz;
    if (iconv(e->to, &ip, &il, &op, &ol) == (size_t)-1 || il != 0) {
        iconv(e->to, NULL, NULL, NULL, NULL);
        return false;
    }
    *outlen = (size_t)(op - out);
    ip = out;
    il = *outlen;
    op = back;
    ol = sizeof back;
    if (iconv(e->from, &ip, &il, &op, &ol) == (size_t)-1 || il != 0) {
        iconv(e->from, NULL, NULL, NULL, NULL);
        return false;
    }
    return (size_t)(op - back) == cl && memcmp(back, c, cl) == 0;
}

int ftpd_enc_to_client(struct ftpd_enc *e, const char *in, size_t n, struct gw_buf *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0;
    int rc = 0;
    iconv(e->to, NULL, NULL, NULL, NULL);
    while (i < n && rc == 0) {
        if (p[i] == '%') {
            rc = gw_buf_puts(out, "%25");
            i++;
            continue;
        }
        /* One character at a time: iconv's EILSEQ then names exactly it. */
        size_t cl = utf8_len(p + i, n - i), k;
        char tmp[16];
        if (to_client_char(e, p + i, cl, tmp, sizeof tmp, &k))
            rc = gw_buf_append(out, tmp, k);
        else
            rc = put_escaped(out, p + i, cl);
        i += cl;
    }
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ftpd_enc_from_client(struct ftpd_enc *e, const char *in, size_t n, char *out, size_t outsz,
                         size_t *outlen)
{
    char *ip = (char *)in, *op = out;
    size_t il = n, ol = outsz ? outsz - 1 : 0;
    if (outsz == 0)
        return GW_ERR_TOOLONG;
    iconv(e->from, NULL, NULL, NULL, NULL);
    if (iconv(e->from, &ip, &il, &op, &ol) == (size_t)-1)
        return errno == E2BIG ? GW_ERR_TOOLONG : GW_ERR_INVAL;
    if (iconv(e->from, NULL, NULL, &op, &ol) == (size_t)-1)
        return GW_ERR_INVAL;
    /* Undo the escapes of ftpd_enc_to_client in place (decoding only shrinks). */
    size_t len = (size_t)(op - out), o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (out[i] == '%' && i + 2 < len && (hi = hexval(out[i + 1])) >= 0 &&
            (lo = hexval(out[i + 2])) >= 0 && (hi >= 8 || (hi == 2 && lo == 5))) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = out[i];
        }
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}
