/* FUZZ_SOURCES: gateway/path.c */
/* Fuzzes gw_path_resolve with arbitrary client bytes: the first byte picks a cwd, the
 * rest is the argument. Checks the properties confinement relies on: total (no crash,
 * a defined result), every result normalised (gw_path_is_normal), idempotent and
 * cwd-independent once absolute, free of "..", "." and partial names, and "" on error.
 * Also exercises gw_path_base/gw_path_dir/gw_path_under on every result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/path.h"
#include "gateway/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cwds[] = {"/", "/a", "/a/b/c", "/%2e%2e", "/deep/er/still/deeper"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[GW_MAX_PATH], again[GW_MAX_PATH], dir[GW_MAX_PATH];
    if (size == 0)
        return 0;
    const char *cwd = cwds[data[0] % (sizeof cwds / sizeof cwds[0])];
    const char *arg = (const char *)data + 1;
    size_t n = size - 1;
    /* A small out buffer sometimes, to exercise the outsz bound. */
    size_t outsz = (data[0] & 0x80) ? 16 : sizeof out;

    int rc = gw_path_resolve(cwd, arg, n, out, outsz);
    if (rc != 0) {
        if ((rc != GW_ERR_INVAL && rc != GW_ERR_TOOLONG) || out[0] != '\0')
            abort();
        return 0;
    }
    size_t len = strlen(out);
    if (len >= outsz || !gw_path_is_normal(out))
        abort();
    if (strstr(out, "/../") || strstr(out, "/./") || strstr(out, "/" VFS_PARTIAL_PREFIX))
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20)
            abort();
    if (gw_path_resolve("/x/y", out, len, again, sizeof again) != 0 || strcmp(out, again))
        abort();
    if (!gw_path_under(out, "/"))
        abort();
    if (gw_path_dir(out, dir, sizeof dir) != 0 || !gw_path_is_normal(dir))
        abort();
    const char *base = gw_path_base(out);
    if (strcmp(out, "/") != 0) {
        if (!*base || !gw_path_under(out, dir))
            abort();
    } else if (*base) {
        abort();
    }
    return 0;
}
