/* The FTP server's pure helpers: the command-line parser (CRLF framing, telnet IAC
 * removal, verb/argument split) and the small parsers and formatters of RFC 959, 2428,
 * 3659 and draft-bryan-ftpext-hash arguments and replies. Everything here is a pure
 * function over (buf, len) or plain values: no I/O, no logging, no globals. The session
 * code (ftp/ftpd.c) and the fuzz harness (tests/fuzz/fuzz_ftpcmd.c) use it. */
#ifndef FERRY_FTP_FTPCMD_H
#define FERRY_FTP_FTPCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gateway/buf.h"
#include "gateway/limits.h"
#include "gateway/vfs.h"

/* Longest verb we accept ("XSHA256" is the longest we know). */
#define FTPD_MAX_VERB 8

/* One parsed command line. */
struct ftpd_cmd {
    char verb[FTPD_MAX_VERB + 1]; /* upper case, NUL-terminated */
    char arg[GW_MAX_FTP_LINE];    /* everything after the first space, NUL-terminated;
                                     "" when the line had no argument */
    size_t arg_len;
};

/* Line framer state: once a line overflows GW_MAX_FTP_LINE the rest of it, up to its
 * LF, is discarded without another error. Zero-initialise. */
struct ftpd_lineparser {
    bool discarding;
};

/* ftpd_cmd_parse() results besides the negative errors. */
#define FTPD_CMD_MORE 0 /* no complete line yet: drop *consumed bytes, read more */
#define FTPD_CMD_OK 1   /* a command is in *cmd: drop *consumed bytes */

/* Parses one command line from the start of buf[0..len). Lines end with CRLF (a bare LF
 * is accepted, as vsftpd does). Telnet sequences are removed (IAC IAC is a literal 0xFF;
 * IAC WILL/WONT/DO/DONT x and other IAC x pairs vanish). The verb is 1..FTPD_MAX_VERB
 * letters or digits starting with a letter, case-insensitive; the argument follows one
 * space and is kept byte for byte (leading spaces, trailing spaces).
 * Always sets *consumed (bytes the caller must drop from the front of buf). Returns
 * FTPD_CMD_OK, FTPD_CMD_MORE, GW_ERR_TOOLONG (no LF within GW_MAX_FTP_LINE bytes; the rest
 * of that line is discarded silently by later calls), or GW_ERR_PROTO (a line with a
 * NUL or a CR inside, or no valid verb). The caller should never hold more than
 * GW_MAX_FTP_LINE bytes: a full buffer without a line end is always consumed. */
int ftpd_cmd_parse(struct ftpd_lineparser *lp, const char *buf, size_t len, struct ftpd_cmd *cmd,
                   size_t *consumed);

/* Decimal unsigned 64-bit number: digits only, at least one, no overflow. 0 or
 * GW_ERR_INVAL / GW_ERR_RANGE. */
int ftpd_parse_u64(const char *s, size_t n, uint64_t *out);

/* RANG "START END" (draft-bryan-ftp-range, used by draft-bryan-ftpext-hash): two
 * decimal byte positions, END inclusive. "1 0" is the draft's reset and is returned as
 * is; any other END < START is GW_ERR_RANGE. 0 or GW_ERR_INVAL / GW_ERR_RANGE. */
int ftpd_parse_rang(const char *s, size_t n, uint64_t *start, uint64_t *end);

/* PORT "h1,h2,h3,h4,p1,p2" into an IPv4 sockaddr. 0 or GW_ERR_INVAL. */
int ftpd_parse_port(const char *arg, size_t n, struct sockaddr_storage *ss, socklen_t *sslen);
/* EPRT "<d>proto<d>addr<d>port<d>" (RFC 2428; d is any printable ASCII but digits).
 * GW_ERR_NOTSUP for a protocol other than 1 (IPv4) or 2 (IPv6), GW_ERR_INVAL else. */
int ftpd_parse_eprt(const char *arg, size_t n, struct sockaddr_storage *ss, socklen_t *sslen);

/* RFC 3659 time-val "YYYYMMDDHHMMSS" with optional ".fraction" (ignored), UTC.
 * Returns the number of bytes consumed (>= 14) and *t, or GW_ERR_INVAL (a field out of
 * range, e.g. month 13, second 61). */
int ftpd_parse_time(const char *s, size_t n, int64_t *t);
#define FTPD_TIME_LEN 14
/* Formats t (seconds since the epoch, UTC) as "YYYYMMDDHHMMSS". Years outside 0..9999
 * are clamped. */
void ftpd_format_time(int64_t t, char out[FTPD_TIME_LEN + 1]);

/* LIST/NLST/STAT arguments: skips leading ls-style option words ("-a", "-la", "-lRt")
 * and returns the offset of the path that follows (n when there is none). A word is an
 * option only when it is '-' followed by letters from ls's set and ends at a space or
 * the end; "-foo.txt" is a path. */
size_t ftpd_list_skip_options(const char *arg, size_t n);

/* Appends one `ls -l` line for an entry (with CRLF). owner/group are shown as given;
 * target (may be NULL) is appended as " -> target" for symlinks. Times within six
 * months of now show "Mmm dd HH:MM", older or future ones "Mmm dd  YYYY". CR and LF in
 * names are shown as '?', so a name can never forge a listing line. */
int ftpd_format_list(struct gw_buf *out, const struct vfs_stat *st, const char *name,
                     const char *target, const char *owner, const char *group, int64_t now);

/* MLST/MLSD facts (RFC 3659 7.5), as a bit mask selected with OPTS MLST. */
#define FTPD_FACT_TYPE 0x01u
#define FTPD_FACT_SIZE 0x02u
#define FTPD_FACT_MODIFY 0x04u
#define FTPD_FACT_PERM 0x08u
#define FTPD_FACT_UNIQUE 0x10u
#define FTPD_FACT_UNIX_MODE 0x20u
#define FTPD_FACT_ALL 0x3fu
/* Appends the FEAT form "type*;size*;...;" with '*' on the selected facts (with_star) or
 * just the selected ones (the OPTS MLST reply). */
int ftpd_format_fact_names(struct gw_buf *out, unsigned facts, bool with_star);
/* Parses the OPTS MLST argument ("type;size;" or "" for none); unknown facts are ignored
 * as RFC 3659 requires. */
unsigned ftpd_parse_fact_names(const char *arg, size_t n);
/* Appends "fact=value;...; name" (no CRLF). type_override, when non-NULL, replaces the
 * type fact (e.g. "cdir"). writable: the user may modify the entry (perm fact). */
int ftpd_format_facts(struct gw_buf *out, const struct vfs_stat *st, unsigned facts, bool writable,
                      const char *type_override, const char *name);

/* Appends path quoted for a 257 reply: surrounded by '"', inner '"' doubled, CR/LF as
 * '?'. */
int ftpd_quote_path(struct gw_buf *out, const char *path);

/* TYPE A conversion, streaming. To the network: a LF not preceded by CR becomes CRLF
 * (so files already in CRLF form are not doubled); out must hold 2 * n bytes; *prev_cr
 * carries the last byte's CR-ness across chunks (start false). Returns bytes written. */
size_t ftpd_ascii_to_net(const char *in, size_t n, char *out, bool *prev_cr);
/* From the network: CRLF becomes LF; a lone CR is kept. *pending_cr carries a CR at a
 * chunk end (start false); out must hold n + 1 bytes. At end of stream, call with
 * n = 0 to flush a pending CR. Returns bytes written. */
size_t ftpd_ascii_from_net(const char *in, size_t n, char *out, bool *pending_cr);

/* HASH algorithms (draft-bryan-ftpext-hash). */
enum ftpd_hash_algo {
    FTPD_HASH_SHA256 = 0,
    FTPD_HASH_SHA512,
    FTPD_HASH_SHA1,
    FTPD_HASH_MD5,
    FTPD_HASH_COUNT
};
/* Name as in FEAT and replies ("SHA-256"). */
const char *ftpd_hash_name(enum ftpd_hash_algo a);
/* Case-insensitive lookup of "SHA-256", "SHA-512", "SHA-1", "MD5"; -1 when unknown. */
int ftpd_hash_lookup(const char *name, size_t n);

/* "SITE CHMOD" argument "MODE PATH": octal mode of 1 to 4 digits, one space, a path.
 * Sets *mode and *path_off (offset of the path). 0 or GW_ERR_INVAL. */
int ftpd_parse_chmod(const char *arg, size_t n, uint32_t *mode, size_t *path_off);

/* "MFMT" argument "TIME PATH" (and the legacy "MDTM TIME PATH" form). 0 or GW_ERR_INVAL. */
int ftpd_parse_time_path(const char *arg, size_t n, int64_t *t, size_t *path_off);

/* True when a and b are the same IP address (port ignored); IPv4-mapped IPv6 addresses
 * equal their IPv4 form. */
bool ftpd_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
