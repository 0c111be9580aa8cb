/* Error codes shared by every module of the gateway: actions return 0 or a negative
 * GW_ERR_*; gw_strerror() gives a short human text. */
#ifndef FERRY_GATEWAY_ERR_H
#define FERRY_GATEWAY_ERR_H

#include <stddef.h>

enum gw_err {
    GW_OK = 0,
    GW_ERR_NOMEM = -1,    /* out of memory */
    GW_ERR_INVAL = -2,    /* invalid argument or request */
    GW_ERR_NOENT = -3,    /* no such file or directory */
    GW_ERR_EXIST = -4,    /* already exists */
    GW_ERR_PERM = -5,     /* permission denied */
    GW_ERR_NOTDIR = -6,   /* not a directory */
    GW_ERR_ISDIR = -7,    /* is a directory */
    GW_ERR_NOTEMPTY = -8, /* directory not empty */
    GW_ERR_NOSPC = -9,    /* no space left / quota */
    GW_ERR_IO = -10,      /* I/O error */
    GW_ERR_ESCAPE = -11,  /* path would leave the user's root */
    GW_ERR_TOOLONG = -12, /* name, path or line too long */
    GW_ERR_ROFS = -13,    /* read-only (anonymous, read-only user or mount) */
    GW_ERR_PROTO = -14,   /* malformed protocol data */
    GW_ERR_AGAIN = -15,   /* temporary failure, try again later */
    GW_ERR_NOTSUP = -16,  /* operation not supported by this backend */
    GW_ERR_AUTH = -17,    /* authentication failed */
    GW_ERR_LIMIT = -18,   /* a configured or hard limit was hit */
    GW_ERR_TIMEOUT = -19, /* timed out */
    GW_ERR_BUSY = -20,    /* resource busy or locked */
    GW_ERR_VERIFY = -21,  /* integrity verification failed */
    GW_ERR_CONFIG = -22,  /* configuration error */
    GW_ERR_RANGE = -23,   /* offset or size out of range */
    GW_ERR_UPSTREAM = -24 /* upstream server error */
};

/* Short lowercase description of a GW_ERR_* code ("no such file or directory"). */
const char *gw_strerror(int err);

/* Maps an errno value to the closest GW_ERR_* code. */
int gw_err_from_errno(int e);

/* Writes all n bytes to fd, retrying EINTR and short writes: 0 or the GW_ERR_* of the
 * failing write(2) (GW_ERR_IO when it wrote nothing without an error). For the
 * state files and logs, which must not be left with half a line. */
int gw_write_all(int fd, const void *p, size_t n);

#endif
