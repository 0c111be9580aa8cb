/* FUZZ_SOURCES: ftp/encoding.c */
/* libFuzzer harness for encoding detection and the reversible conversion: detection must not
 * crash on any bytes, and for the charset the first byte picks (and the detected one),
 * enc_encode(enc_decode(x)) must give x back exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const char *charset, const uint8_t *data, size_t size)
{
    struct enc_conv *c = enc_conv_new(charset);
    char *dec = NULL, *back = NULL;
    size_t dlen = 0, blen = 0;
    if (!c)
        abort(); /* every candidate must be openable */
    if (enc_decode(c, (const char *)data, size, &dec, &dlen) != 0)
        abort();
    if (enc_encode(c, dec, dlen, &back, &blen) != 0)
        abort();
    if (blen != size || memcmp(back, data, size) != 0)
        abort();
    free(dec);
    free(back);
    enc_conv_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *names;
    size_t n = enc_candidate_names(&names);
    struct enc_result r;
    if (size < 1)
        return 0;
    const char *pick = names[data[0] % n];
    struct enc_hint h = {pick, data[0] & 0x40 ? 3 : 0, data[0] & 0x80 ? ENC_HINT_UTF8 : 0};
    data++;
    size--;
    if (enc_detect(data, size, &h, &r) != 0)
        abort();
    if (!r.name || r.confidence < 0 || r.confidence > 1.0001)
        abort();
    round_trip(pick, data, size);
    if (strcmp(r.name, pick) != 0)
        round_trip(r.name, data, size);
    return 0;
}
