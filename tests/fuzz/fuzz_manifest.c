/* FUZZ_SOURCES: integrity/manifest.c integrity/algo.c */
/* libFuzzer harness for the checksum manifest parser: any bytes must parse or fail
 * cleanly, and every entry parsed must be found again by its name. The first byte picks
 * the algorithm hint. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "integrity/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ig_manifest m;
    if (size == 0)
        return 0;
    enum ig_algo hint = (enum ig_algo)(data[0] % IG_ALGO_COUNT);
    int rc = ig_manifest_parse((const char *)data + 1, size - 1, hint, &m);
    if (rc != 0 && m.count != 0)
        __builtin_trap();
    if (m.nerrors > IG_MANIFEST_MAX_ERRORS || m.nerrors > m.bad_lines || m.bad_lines > m.lines)
        __builtin_trap();
    for (size_t i = 0; i < m.count; i++) {
        const struct ig_manifest_entry *e = &m.entries[i], *first;
        if (strlen(e->name) != e->name_len || e->line == 0 || e->line > m.lines ||
            ig_algo_len(e->algo) == 0)
            __builtin_trap();
        if (hint != IG_ALGO_NONE && e->maybe_blake2b)
            __builtin_trap();
        size_t n = ig_manifest_find(&m, e->name, e->name_len, &first);
        if (n == 0 || e < first || e >= first + n)
            __builtin_trap();
    }
    ig_manifest_free(&m);
    return 0;
}
