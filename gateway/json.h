/* JSON output helpers: strings escaped per RFC 8259 into a gw_buf. Bytes that are not
 * valid UTF-8 are written as U+FFFD so the output is always valid JSON. */
#ifndef FERRY_GATEWAY_JSON_H
#define FERRY_GATEWAY_JSON_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/buf.h"

/* Appends "s" (quoted, escaped). s may hold any bytes; n is its length. */
int gw_json_str(struct gw_buf *b, const char *s, size_t n);
/* Appends a quoted string, or null when s is NULL. */
int gw_json_cstr(struct gw_buf *b, const char *s);
/* Appends a decimal integer. */
int gw_json_int(struct gw_buf *b, int64_t v);
/* Appends ,"key": (leading comma unless *first, which is then cleared). */
int gw_json_key(struct gw_buf *b, bool *first, const char *key);
/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
size_t gw_utf8_seq_len(const unsigned char *s, size_t n);
/* True when all n bytes are valid UTF-8. */
bool gw_utf8_valid(const char *s, size_t n);

#endif
