/* The one bounded byte buffer of Ferry. Created with its maximum size; every append
 * checks `n > max - len` so no size arithmetic can overflow. The data is always kept
 * NUL-terminated (the NUL is not counted in len), so text can be read as a C string. */
#ifndef FERRY_GATEWAY_BUF_H
#define FERRY_GATEWAY_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct gw_buf {
    char *data;  /* owned; NULL until the first append */
    size_t len;  /* bytes used */
    size_t cap;  /* bytes allocated (excluding the NUL) */
    size_t max;  /* hard maximum of len */
};

/* Initialises an empty buffer that may grow up to max bytes. Allocates nothing. */
void gw_buf_init(struct gw_buf *b, size_t max);
/* Appends n bytes; GW_ERR_LIMIT past max, GW_ERR_NOMEM. On error b is unchanged. */
int gw_buf_append(struct gw_buf *b, const void *p, size_t n);
int gw_buf_puts(struct gw_buf *b, const char *s);
int gw_buf_putc(struct gw_buf *b, char c);
int gw_buf_printf(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal into out (NUL-terminated), as printf's PRId64 would, without printf:
 * audit records, IPC messages and HTTP heads carry numbers by the thousand a second.
 * Returns the length (at most 20). */
#define GW_I64_DEC_MAX 21
size_t gw_i64_dec(int64_t v, char out[GW_I64_DEC_MAX]);
int gw_buf_vprintf(struct gw_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n > len drops all). */
void gw_buf_consume(struct gw_buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void gw_buf_reset(struct gw_buf *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void gw_buf_free(struct gw_buf *b);
/* The contents as a NUL-terminated string ("" when empty); valid until the next change. */
const char *gw_buf_str(const struct gw_buf *b);
/* Takes ownership of the data (malloc'd, NUL-terminated, never NULL unless out of
 * memory); the buffer is left empty. */
char *gw_buf_steal(struct gw_buf *b, size_t *len);

#endif
