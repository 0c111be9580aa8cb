/* FUZZ_SOURCES: integrity/gpg.c integrity/sigfile.c integrity/algo.c */
/* libFuzzer harness for the gpgv --status-fd parser: the user ids it copies come from
 * keys, so any bytes must parse into bounded, NUL-terminated, control-free fields. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "integrity/gpg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void clean(const char *f, size_t cap)
{
    size_t n = strnlen(f, cap);
    if (n == cap)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)f[i] < 0x20)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ig_gpg_status st;
    ig_gpg_status_parse((const char *)data, size, &st);
    clean(st.fpr, sizeof st.fpr);
    clean(st.uid, sizeof st.uid);
    clean(st.keyid, sizeof st.keyid);
    return 0;
}
