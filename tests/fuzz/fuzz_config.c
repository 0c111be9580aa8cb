/* FUZZ_SOURCES: gateway/config.c gateway/path.c gateway/proxyproto.c gateway/err.c */
/* libFuzzer harness for the INI config parser: any bytes must parse or fail cleanly. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_config c;
    char err[512];
    cfg_defaults(&c);
    if (cfg_parse(&c, (const char *)data, size, "fuzz", err, sizeof err) == 0)
        cfg_validate(&c, err, sizeof err);
    cfg_free(&c);
    return 0;
}
