/* Virtual path normalisation: the one pure function that decides what path a client
 * meant. Confinement below the user's root is completed by the backend (symlinks). */
#ifndef FERRY_GATEWAY_PATH_H
#define FERRY_GATEWAY_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Joins arg (n bytes, as sent by the client, relative to cwd unless it starts with '/')
 * to cwd (an absolute normalised virtual path) and normalises the result into out:
 * absolute, no "." or ".." components, no repeated or trailing slash ("/" for the root).
 * ".." at the root stays at the root (like chroot). Rejects with GW_ERR_INVAL: NUL bytes,
 * bytes below 0x20, and any component naming a hidden partial (VFS_PARTIAL_PREFIX);
 * GW_ERR_TOOLONG: a component over GW_MAX_NAME, a result over outsz or GW_MAX_DEPTH
 * components. Percent-encoding is the front end's business (decode first, then call).
 * Pure: no I/O. Returns 0 or a GW_ERR_*.
 * Details: names are opaque bytes (a backslash, a literal "%2e%2e" or an overlong UTF-8
 * '.' is just a name); control bytes are refused anywhere in arg or cwd, even in a
 * component a later ".." removes; the length and depth limits hold at every step, not
 * only for the result; cwd NULL means "/"; on error out is "" (when outsz > 0). */
int gw_path_resolve(const char *cwd, const char *arg, size_t n, char *out, size_t outsz);

/* True when path is exactly what gw_path_resolve() produces: absolute, normalised, no
 * partial name, no control byte, within GW_MAX_NAME/GW_MAX_DEPTH/GW_MAX_PATH. The vfs
 * layer checks every path it is given with it. */
bool gw_path_is_normal(const char *path);

/* The last component of a normalised path ("" for "/"); points into path. */
const char *gw_path_base(const char *path);
/* Writes the parent directory of a normalised path into out ("/" for "/x" and "/"). */
int gw_path_dir(const char *path, char *out, size_t outsz);
/* True when path equals prefix or lies below it (both normalised). */
bool gw_path_under(const char *path, const char *prefix);

#endif
