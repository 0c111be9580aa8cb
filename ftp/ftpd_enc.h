/* Name conversion for legacy FTP clients that cannot do UTF-8 (ftp_client_encoding =
 * GBK, windows-1251, ...). Names are UTF-8 inside Ferry; towards such a client they are
 * converted to its charset, and what cannot be represented there is shown escaped as
 * %XX (the UTF-8 bytes, upper-case hex), with '%' itself shown as %25, so every name
 * stays visible and reachable: the client sends the escaped form back and it is decoded
 * after conversion. Only %XX with XX >= 80 or XX = 25 are decoded, so escaping can never
 * produce a '/', a NUL or any other ASCII byte that would change a path's meaning.
 * Supports charsets where every printable ASCII byte stands for itself (checked when
 * created): GBK, Big5, CP932, windows-125x, ISO-8859-x, KOI8-R, ...; not JIS X 0201
 * "SHIFT_JIS" (use CP932) nor UTF-16. */
#ifndef FERRY_FTP_FTPD_ENC_H
#define FERRY_FTP_FTPD_ENC_H

#include <stddef.h>

#include "gateway/buf.h"

struct ftpd_enc;

/* Converter for charset (an iconv name); NULL when iconv does not know it or it is not
 * ASCII-compatible. */
struct ftpd_enc *ftpd_enc_new(const char *charset);
void ftpd_enc_free(struct ftpd_enc *e);

/* Appends the client form of a UTF-8 (or arbitrary-byte) name to out. 0 or GW_ERR_*. */
int ftpd_enc_to_client(struct ftpd_enc *e, const char *in, size_t n, struct gw_buf *out);
/* Converts a name sent by the client into UTF-8 in out (NUL-terminated, *outlen bytes).
 * GW_ERR_INVAL when the bytes are not valid in the client's charset, GW_ERR_TOOLONG
 * when out is too small. */
int ftpd_enc_from_client(struct ftpd_enc *e, const char *in, size_t n, char *out, size_t outsz,
                         size_t *outlen);

#endif
