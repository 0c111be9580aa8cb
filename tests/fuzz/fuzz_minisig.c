/* FUZZ_SOURCES: integrity/sigfile.c integrity/algo.c */
/* libFuzzer harness for the minisign/signify key and signature parsers, OpenPGP armor
 * and signature type detection: any bytes must parse or fail cleanly, and whatever a
 * parser points at must lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "integrity/sigfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p, size_t n, const uint8_t *data, size_t size)
{
    if (p && (p < (const char *)data || n > size || p + n > (const char *)data + size))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct ig_edkey k;
    struct ig_edsig sig;
    (void)ig_edkey_parse(s, size, &k);
    for (int t = IG_SIG_AUTO; t <= IG_SIG_SIGNIFY; t++) {
        if (ig_edsig_parse(s, size, (enum ig_sigtype)t, &sig) != 0)
            continue;
        inside(sig.trusted, sig.trusted_len, data, size);
        inside(sig.embedded, sig.embedded_len, data, size);
        if (t == IG_SIG_MINISIGN && !sig.has_trusted)
            __builtin_trap();
        if (t == IG_SIG_SIGNIFY && (sig.has_trusted || sig.prehashed))
            __builtin_trap();
    }
    unsigned char *out = malloc(size + 1);
    if (out) {
        long n = ig_pgp_dearmor(s, size, out, size);
        if (n > (long)size)
            __builtin_trap();
        free(out);
    }
    if (ig_sigtype_detect(data, size) == IG_SIG_AUTO)
        __builtin_trap();
    return 0;
}
