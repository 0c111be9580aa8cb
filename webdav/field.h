/* The one-line text field codec shared by the lock database and the dead-property store
 * (both in the state dir): bytes <= 0x20, '%' and DEL become %HH, and an empty string is
 * a lone "%", so fields split on spaces and records on newlines. Pure. */
#ifndef FERRY_WEBDAV_FIELD_H
#define FERRY_WEBDAV_FIELD_H

#include <stddef.h>

#include "gateway/buf.h"

/* Appends s encoded. 0 or a gw_buf error. */
int dav_field_put(struct gw_buf *b, const char *s);
/* Decodes s[0..n) into a malloc'd string; NULL when malformed (or %00, or no memory). */
char *dav_field_get(const char *s, size_t n);

/* Value of one hex digit (either case), -1 for anything else. */
int dav_hex_value(char c);

#endif
