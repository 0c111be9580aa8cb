/* Error texts and errno mapping for GW_ERR_* codes. */
#include "gateway/err.h"

#include <errno.h>
#include <unistd.h>

const char *gw_strerror(int err)
{
    switch (err) {
    case GW_OK: return "ok";
    case GW_ERR_NOMEM: return "out of memory";
    case GW_ERR_INVAL: return "invalid argument";
    case GW_ERR_NOENT: return "no such file or directory";
    case GW_ERR_EXIST: return "file exists";
    case GW_ERR_PERM: return "permission denied";
    case GW_ERR_NOTDIR: return "not a directory";
    case GW_ERR_ISDIR: return "is a directory";
    case GW_ERR_NOTEMPTY: return "directory not empty";
    case GW_ERR_NOSPC: return "no space left on device";
    case GW_ERR_IO: return "input/output error";
    case GW_ERR_ESCAPE: return "path outside the user's root";
    case GW_ERR_TOOLONG: return "name too long";
    case GW_ERR_ROFS: return "read-only";
    case GW_ERR_PROTO: return "protocol error";
    case GW_ERR_AGAIN: return "temporary failure";
    case GW_ERR_NOTSUP: return "operation not supported";
    case GW_ERR_AUTH: return "authentication failed";
    case GW_ERR_LIMIT: return "limit exceeded";
    case GW_ERR_TIMEOUT: return "timed out";
    case GW_ERR_BUSY: return "resource busy";
    case GW_ERR_VERIFY: return "verification failed";
    case GW_ERR_CONFIG: return "configuration error";
    case GW_ERR_RANGE: return "out of range";
    case GW_ERR_UPSTREAM: return "upstream server error";
    }
    return "unknown error";
}

int gw_err_from_errno(int e)
{
    switch (e) {
    case 0: return GW_OK;
    case ENOMEM: return GW_ERR_NOMEM;
    case EINVAL: return GW_ERR_INVAL;
    case ENOENT: return GW_ERR_NOENT;
    case EEXIST: return GW_ERR_EXIST;
    case EACCES:
    case EPERM: return GW_ERR_PERM;
    case ENOTDIR: return GW_ERR_NOTDIR;
    case EISDIR: return GW_ERR_ISDIR;
    case ENOTEMPTY: return GW_ERR_NOTEMPTY;
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return GW_ERR_NOSPC;
    case EXDEV: return GW_ERR_ESCAPE;
    case ELOOP: return GW_ERR_ESCAPE;
    case ENAMETOOLONG: return GW_ERR_TOOLONG;
    case EROFS: return GW_ERR_ROFS;
    case EAGAIN:
    case EINTR: return GW_ERR_AGAIN;
    case ENOTSUP: return GW_ERR_NOTSUP;
    case ETIMEDOUT: return GW_ERR_TIMEOUT;
    case EBUSY:
    case ETXTBSY: return GW_ERR_BUSY;
    case ERANGE:
    case EOVERFLOW: return GW_ERR_RANGE;
    }
    return GW_ERR_IO;
}

int gw_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? gw_err_from_errno(errno) : GW_ERR_IO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
