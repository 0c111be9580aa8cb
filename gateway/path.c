/* Virtual path normalisation (see path.h). Pure functions over strings: no I/O, no
 * globals, no allocation. Names are treated as opaque bytes: a backslash, "%2e%2e" or an
 * overlong UTF-8 encoding of '.' is an ordinary name byte sequence here, so it can only
 * ever name an entry inside the directory it appears in. */
#include "gateway/path.h"

#include <string.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/vfs.h"

/* The normalised result is built in place in out: len bytes used, depth components. */
struct pbuild {
    char *out;
    size_t outsz;
    size_t len;
    size_t depth;
};

static bool is_partial_name(const char *c, size_t n)
{
    size_t pl = sizeof VFS_PARTIAL_PREFIX - 1;
    return n >= pl && memcmp(c, VFS_PARTIAL_PREFIX, pl) == 0;
}

/* Drops the last component (".." at the root stays at the root, like chroot). */
static void pb_pop(struct pbuild *pb)
{
    if (pb->depth == 0)
        return;
    while (pb->len > 0 && pb->out[pb->len - 1] != '/')
        pb->len--;
    if (pb->len > 0)
        pb->len--; /* the separator itself */
    pb->depth--;
}

static int pb_push(struct pbuild *pb, const char *c, size_t n)
{
    if (n > GW_MAX_NAME)
        return GW_ERR_TOOLONG;
    if (is_partial_name(c, n))
        return GW_ERR_INVAL;
    if (pb->depth >= GW_MAX_DEPTH)
        return GW_ERR_TOOLONG;
    /* '/' + name + the final NUL must fit both out and the GW_MAX_PATH bound. */
    size_t room = pb->outsz < GW_MAX_PATH ? pb->outsz : GW_MAX_PATH;
    if (n + 2 > room - pb->len)
        return GW_ERR_TOOLONG;
    pb->out[pb->len++] = '/';
    memcpy(pb->out + pb->len, c, n);
    pb->len += n;
    pb->depth++;
    return 0;
}

/* Applies the components of s (n bytes) to pb. Rejects NUL and control bytes anywhere
 * in s, even inside a component that a later ".." would remove: such a request is
 * malformed, not merely odd. */
static int pb_apply(struct pbuild *pb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return GW_ERR_INVAL;
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == '/')
            i++;
        size_t start = i;
        while (i < n && s[i] != '/')
            i++;
        size_t clen = i - start;
        const char *c = s + start;
        if (clen == 0 || (clen == 1 && c[0] == '.'))
            continue;
        if (clen == 2 && c[0] == '.' && c[1] == '.') {
            pb_pop(pb);
            continue;
        }
        int rc = pb_push(pb, c, clen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int gw_path_resolve(const char *cwd, const char *arg, size_t n, char *out, size_t outsz)
{
    int rc;
    if (!out || outsz == 0)
        return GW_ERR_INVAL;
    out[0] = '\0';
    if (!arg && n > 0)
        return GW_ERR_INVAL;
    if (!cwd)
        cwd = "/";
    if (cwd[0] != '/')
        return GW_ERR_INVAL;

    struct pbuild pb = {out, outsz, 0, 0};
    /* An argument starting with '/' is absolute: cwd plays no part. */
    if (n == 0 || arg[0] != '/') {
        rc = pb_apply(&pb, cwd, strlen(cwd));
        if (rc < 0)
            goto fail;
    }
    rc = pb_apply(&pb, arg, n);
    if (rc < 0)
        goto fail;
    if (pb.len == 0) {
        if (outsz < 2)
            return GW_ERR_TOOLONG;
        out[pb.len++] = '/';
    }
    out[pb.len] = '\0';
    return 0;
fail:
    out[0] = '\0';
    return rc;
}

bool gw_path_is_normal(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    if (path[1] == '\0')
        return true;
    size_t depth = 0;
    const char *p = path;
    while (*p == '/') {
        const char *c = ++p;
        while (*p && *p != '/') {
            if ((unsigned char)*p < 0x20)
                return false;
            p++;
        }
        size_t clen = (size_t)(p - c);
        if (clen == 0 || clen > GW_MAX_NAME || is_partial_name(c, clen))
            return false;
        if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (++depth > GW_MAX_DEPTH)
            return false;
    }
    return (size_t)(p - path) < GW_MAX_PATH;
}

const char *gw_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int gw_path_dir(const char *path, char *out, size_t outsz)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0) {
        if (outsz < 2)
            return GW_ERR_TOOLONG;
        out[0] = '/';
        out[1] = '\0';
        return 0;
    }
    if (n >= outsz)
        return GW_ERR_TOOLONG;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

bool gw_path_under(const char *path, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (pl == 1 && prefix[0] == '/')
        return path[0] == '/';
    if (strncmp(path, prefix, pl) != 0)
        return false;
    return path[pl] == '\0' || path[pl] == '/';
}
