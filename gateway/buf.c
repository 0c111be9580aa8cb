/* Bounded byte buffer (see buf.h). */
#include "gateway/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"

void gw_buf_init(struct gw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int reserve(struct gw_buf *b, size_t n)
{
    if (n > b->max - b->len)
        return GW_ERR_LIMIT;
    if (b->data && n <= b->cap - b->len)
        return 0;
    size_t want = b->cap ? b->cap : 64;
    while (want - b->len < n) {
        if (want > b->max / 2) {
            want = b->max;
            break;
        }
        want *= 2;
    }
    if (want > b->max)
        want = b->max;
    char *p = realloc(b->data, want + 1);
    if (!p)
        return GW_ERR_NOMEM;
    b->data = p;
    b->cap = want;
    return 0;
}

int gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int gw_buf_puts(struct gw_buf *b, const char *s)
{
    return gw_buf_append(b, s, strlen(s));
}

int gw_buf_putc(struct gw_buf *b, char c)
{
    return gw_buf_append(b, &c, 1);
}

int gw_buf_vprintf(struct gw_buf *b, const char *fmt, va_list ap)
{
    /* Straight into the free space (the allocation has cap + 1 bytes for the NUL):
     * formatting twice, to measure and then to write, only when it does not fit. */
    size_t avail = b->data ? b->cap - b->len : 0;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? avail + 1 : 0, fmt, ap2);
    va_end(ap2);
    if (n >= 0 && b->data && (size_t)n <= avail) {
        b->len += (size_t)n;
        return 0;
    }
    if (b->data)
        b->data[b->len] = '\0'; /* undo a truncated attempt */
    if (n < 0)
        return GW_ERR_INVAL;
    int rc = reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

size_t gw_i64_dec(int64_t v, char out[GW_I64_DEC_MAX])
{
    char d[20];
    size_t i = sizeof d, n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        d[--i] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        out[n++] = '-';
    memcpy(out + n, d + i, sizeof d - i);
    n += sizeof d - i;
    out[n] = '\0';
    return n;
}

int gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gw_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void gw_buf_consume(struct gw_buf *b, size_t n)
{
    if (n >= b->len) {
        gw_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void gw_buf_free(struct gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *gw_buf_str(const struct gw_buf *b)
{
    return b->data ? b->data : "";
}

char *gw_buf_steal(struct gw_buf *b, size_t *len)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
