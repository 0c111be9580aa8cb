/* FUZZ_SOURCES: gateway/ipc.c gateway/buf.c gateway/err.c */
/* libFuzzer harness for the session -> parent message decoder. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_ipc_msg m;
    char s[256];
    int64_t v;
    if (gw_ipc_decode(data, size, &m) == 0) {
        for (uint8_t t = 1; t < GW_F_MAX; t++) {
            gw_ipc_get_str(&m, t, s, sizeof s);
            gw_ipc_get_int(&m, t, &v);
        }
    }
    return 0;
}
