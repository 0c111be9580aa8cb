/* The client side of Ferry towards legacy FTP servers, on libcurl. libcurl does the
 * protocol (login, TLS, PASV/EPSV, REST, connection reuse); everything it would parse
 * itself from a listing is done by our parser instead: listings are fetched raw with
 * MLSD (when FEAT offers it) or LIST, parsed by ftp/listparse.h, and the names decoded
 * by ftp/encoding.h. Names travel to the server as the raw bytes the listing gave, so a
 * file whose name was mis-detected stays reachable.
 *
 * One struct ftpc is one logical connection (libcurl keeps the control connection
 * open between requests). Not thread-safe; one per session or job. */
#ifndef FERRY_FTP_FTPC_H
#define FERRY_FTP_FTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ftp/encoding.h"
#include "ftp/listparse.h"

struct ftpc_options {
    const char *encoding;     /* "auto" (default) or a charset for the server's names */
    const char *listing;      /* "auto" (default) or a listparse format name */
    const char *ca_file;      /* CA bundle for FTPS verification (default: system) */
    const char *pin_sha256;   /* pinned server public key, "sha256//BASE64" (curl form) */
    bool insecure;            /* FTPS without certificate verification */
    int connect_timeout;      /* seconds; 0 = 30 */
    int stall_timeout;        /* seconds without progress before a transfer fails; 0 = 60 */
    const char *timezone;     /* LIST times' zone offset "+HH:MM"; NULL: unknown (UTC) */
};

/* One directory entry, decoded. */
struct ftpc_entry {
    char *raw;                /* name as the server sent it (bytes), NUL-terminated */
    size_t raw_len;
    char *name;               /* UTF-8, with the %HH escape of ftp/encoding.h */
    enum lp_type type;
    bool have_size;
    uint64_t size;
    struct lp_time mtime;     /* as listed; prec LP_TIME_NONE when unknown */
    char *target;             /* symlink target (decoded) or NULL */
};

struct ftpc_listing {
    struct ftpc_entry *e;
    size_t n;
    const char *encoding;     /* charset decided for the names (static storage) */
    bool mixed;               /* UTF-8 names plus names in `encoding` */
    double confidence;
    enum lp_format format;    /* listing format detected */
    uint64_t junk;            /* lines skipped */
    bool mlsd;                /* fetched with MLSD */
};

enum ftpc_err_kind {
    FTPC_OK = 0,
    FTPC_TEMPORARY,           /* worth retrying: connection, timeout, 421/425/426/450 */
    FTPC_PERMANENT,           /* 550, login refused, bad URL */
};

struct ftpc;

/* Parses url (ftp://, ftps:// implicit TLS, ftpes:// explicit TLS; user:password@ optional;
 * anonymous otherwise) and prepares a client. No connection is made yet. NULL with a
 * message in err when the URL is invalid. */
struct ftpc *ftpc_new(const char *url, const struct ftpc_options *opt, char *err, size_t errsz);
void ftpc_free(struct ftpc *c);

/* The path part of the URL (decoded, "/" when empty), e.g. "/pub/". */
const char *ftpc_base_path(const struct ftpc *c);
/* True when logging in as anonymous/ftp (or with no user). */
bool ftpc_anonymous(const struct ftpc *c);
/* "host:port" for messages and audit records. */
const char *ftpc_host(const struct ftpc *c);

/* Connects, logs in and learns FEAT and SYST (done automatically by the first request). */
int ftpc_connect(struct ftpc *c);

/* Lists directory path (raw server bytes; "" or "/" relative to the login directory are
 * both the URL's base if path is NULL). Returns 0 and fills *out (free with
 * ftpc_listing_free), or a negative GW-style error; ftpc_error() explains. */
int ftpc_list(struct ftpc *c, const char *path, size_t path_len, struct ftpc_listing *out);
void ftpc_listing_free(struct ftpc_listing *l);

/* Size and modification time of a file (SIZE, MDTM). mtime 0 when unknown. */
int ftpc_stat(struct ftpc *c, const char *path, size_t path_len, uint64_t *size, time_t *mtime);

/* Downloads path from offset (REST) and passes the bytes to sink; a sink returning
 * non-zero aborts. *got = bytes received. */
typedef int (*ftpc_sink_fn)(void *ctx, const void *buf, size_t n);
int ftpc_get(struct ftpc *c, const char *path, size_t path_len, uint64_t offset, ftpc_sink_fn sink,
             void *ctx, uint64_t *got);

/* What went wrong in the last call: one line, and whether retrying may help. */
const char *ftpc_error(const struct ftpc *c);
enum ftpc_err_kind ftpc_error_kind(const struct ftpc *c);
/* The server's last reply code (e.g. 550), 0 when none. */
long ftpc_reply_code(const struct ftpc *c);

/* Converts a listed time to a UTC time_t (MLSD/EPLF are UTC; LIST times are shifted by
 * the configured timezone, else taken as UTC). Returns 0 when the time has no date. */
time_t ftpc_time_utc(const struct ftpc *c, const struct lp_time *t);

/* ---- Raw commands and pull-style transfers (for the mount backend, ftp/vfs_ftp.c) ----
 * Paths are raw server bytes relative to the URL's base, like those of ftpc_list. */
#include <sys/types.h> /* ssize_t */

/* Changes into directory dir (NULL or "" = the base), then sends each command of cmds
 * (NUL-terminated; must hold no CR or LF) in order, stopping at the first reply >= 400.
 * For DELE, MKD, RMD, RNFR/RNTO, MFMT, SITE CHMOD. Returns 0 or a GW_ERR_* mapped from the
 * refusing reply (550 NOENT, 553/530/532 PERM, 500/502/504 NOTSUP, 501 INVAL, 452/552 NOSPC,
 * 421/425/426/450 AGAIN, else UPSTREAM); ftpc_error() and ftpc_reply_code() tell more. */
int ftpc_command(struct ftpc *c, const char *dir, size_t dir_len, const char *const *cmds,
                 size_t ncmds);
/* True when the server's FEAT reply lists feature name ("MFMT", "MLST", "HASH", ...),
 * compared case-insensitively with each feature's first word. Sends FEAT each call. */
bool ftpc_has_feature(struct ftpc *c, const char *name);

/* One data transfer at a time, driven by the caller: libcurl's multi interface on a
 * handle of its own, so a transfer can stay open while the client (c) lists and runs
 * commands. The bytes of a download are pulled with ftpc_xfer_read (the transfer pauses
 * when the caller stops reading); an upload is fed by ftpc_xfer_write (it pauses when the
 * caller has nothing to give). The xfer keeps its control connection open between
 * transfers, so a pool of them is a pool of logged-in connections. c must outlive it. */
struct ftpc_xfer;

struct ftpc_xfer *ftpc_xfer_new(struct ftpc *c);
/* Ends any open transfer (as ftpc_xfer_close) and frees x (NULL is fine). */
void ftpc_xfer_free(struct ftpc_xfer *x);
/* Starts downloading path from offset (REST). Returns 0, or a GW_ERR_* when a transfer is
 * already open (GW_ERR_BUSY) or out of memory; server errors surface on the first read. */
int ftpc_xfer_open_read(struct ftpc_xfer *x, const char *path, size_t path_len, uint64_t offset);
/* Up to n bytes of the open download: > 0 bytes, 0 at the end of the file, or a GW_ERR_*
 * (NOENT when the server refused the file with 550, UPSTREAM, TIMEOUT, AUTH). Blocks until
 * at least one byte, the end or an error. */
ssize_t ftpc_xfer_read(struct ftpc_xfer *x, void *buf, size_t n);
/* Starts an upload to path: STOR (replace), or APPE when append is true. */
int ftpc_xfer_open_write(struct ftpc_xfer *x, const char *path, size_t path_len, bool append);
/* Hands all n bytes to the upload (blocks until libcurl has taken them). Returns n or a
 * GW_ERR_* when the transfer failed (the server refused or closed it). */
ssize_t ftpc_xfer_write(struct ftpc_xfer *x, const void *buf, size_t n);
/* Ends the open transfer. An upload is finished (end of data, then the server's final
 * reply) and its result returned: 0 only when the server confirmed the whole file. A
 * download not read to its end is aborted (0 unless it had already failed). No-op (0)
 * without an open transfer. x can then start another transfer. */
int ftpc_xfer_close(struct ftpc_xfer *x);
/* True while a transfer is open. */
bool ftpc_xfer_busy(const struct ftpc_xfer *x);
/* Bytes moved by the current (or last) transfer. */
uint64_t ftpc_xfer_bytes(const struct ftpc_xfer *x);
/* The last transfer error, one line ("" when none), and whether retrying may help. */
const char *ftpc_xfer_error(const struct ftpc_xfer *x);
enum ftpc_err_kind ftpc_xfer_error_kind(const struct ftpc_xfer *x);

#endif
