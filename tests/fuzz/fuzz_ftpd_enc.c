/* FUZZ_SOURCES: ftp/ftpd_enc.c gateway/buf.c gateway/err.c */
/* Fuzzes the legacy-charset name conversion of the FTP server: names sent by a client
 * (from_client) and names shown to it (to_client), with the round-trip property that
 * every name shown can be sent back and means the same name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/ftpd_enc.h"
#include "gateway/buf.h"
#include "gateway/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const charsets[] = {"GBK", "windows-1251", "CP932", "ISO-8859-1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ftpd_enc *enc[4];
    static char out[GW_MAX_PATH], back[GW_MAX_PATH];
    size_t n, m;
    /* Escaping triples a byte at most, and what the client sends back must fit one
     * command line (GW_MAX_FTP_LINE) and the converter's GW_MAX_PATH output: 1024 bytes
     * is four full-length (GW_MAX_NAME) components. */
    if (size < 1 || size > 1025)
        return 0;
    unsigned which = data[0] % 4;
    if (!enc[which])
        enc[which] = ftpd_enc_new(charsets[which]);
    if (!enc[which])
        return 0;
    const char *in = (const char *)data + 1;
    size--;
    /* Whatever a client sends converts to something, or is refused; never overflows. */
    if (ftpd_enc_from_client(enc[which], in, size, out, sizeof out, &n) == 0 &&
        (n >= sizeof out || out[n] != '\0'))
        __builtin_trap();
    /* Any stored name (arbitrary bytes, no NUL) shown to the client comes back intact. */
    if (memchr(in, '\0', size))
        return 0;
    struct gw_buf b;
    gw_buf_init(&b, 4 * GW_MAX_PATH);
    if (ftpd_enc_to_client(enc[which], in, size, &b) == 0) {
        if (ftpd_enc_from_client(enc[which], b.data ? b.data : "", b.len, back, sizeof back, &m) !=
                0 ||
            m != size || memcmp(back, in, size) != 0)
            __builtin_trap();
    }
    gw_buf_free(&b);
    return 0;
}
