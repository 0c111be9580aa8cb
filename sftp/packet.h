/* SFTP v3 wire format (draft-ietf-secsh-filexfer-02 plus the OpenSSH extensions and
 * check-file from draft-ietf-secsh-filexfer-extensions): framing, a decoder of client
 * requests and encoders of server replies. Pure: no I/O, no logging, no globals.
 *
 * Framing: every packet is a uint32 length followed by that many bytes (type byte,
 * request id, arguments). A length above GW_MAX_SFTP_PACKET or of zero is a stream
 * error the session cannot recover from (the next packet boundary is unknown).
 *
 * Decoding never copies: strings in a decoded request point into the packet bytes
 * and are valid as long as those bytes are.
 *
 * Encoders append whole packets to a struct gw_buf: on any error the buffer is left
 * exactly as it was, so a half-written reply is never sent. */
#ifndef FERRY_SFTP_PACKET_H
#define FERRY_SFTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/buf.h"
#include "gateway/limits.h"

#define SFTPD_VERSION 3

/* Largest READ or WRITE payload we accept and advertise (limits@openssh.com): leaves
 * room for the packet header inside GW_MAX_SFTP_PACKET, as OpenSSH does. */
#define SFTPD_MAX_RW (GW_MAX_SFTP_PACKET - 1024)

/* Packet types. */
enum {
    SFTPD_FXP_INIT = 1,
    SFTPD_FXP_VERSION = 2,
    SFTPD_FXP_OPEN = 3,
    SFTPD_FXP_CLOSE = 4,
    SFTPD_FXP_READ = 5,
    SFTPD_FXP_WRITE = 6,
    SFTPD_FXP_LSTAT = 7,
    SFTPD_FXP_FSTAT = 8,
    SFTPD_FXP_SETSTAT = 9,
    SFTPD_FXP_FSETSTAT = 10,
    SFTPD_FXP_OPENDIR = 11,
    SFTPD_FXP_READDIR = 12,
    SFTPD_FXP_REMOVE = 13,
    SFTPD_FXP_MKDIR = 14,
    SFTPD_FXP_RMDIR = 15,
    SFTPD_FXP_REALPATH = 16,
    SFTPD_FXP_STAT = 17,
    SFTPD_FXP_RENAME = 18,
    SFTPD_FXP_READLINK = 19,
    SFTPD_FXP_SYMLINK = 20,
    SFTPD_FXP_STATUS = 101,
    SFTPD_FXP_HANDLE = 102,
    SFTPD_FXP_DATA = 103,
    SFTPD_FXP_NAME = 104,
    SFTPD_FXP_ATTRS = 105,
    SFTPD_FXP_EXTENDED = 200,
    SFTPD_FXP_EXTENDED_REPLY = 201
};

/* Status codes (v3). */
enum {
    SFTPD_FX_OK = 0,
    SFTPD_FX_EOF = 1,
    SFTPD_FX_NO_SUCH_FILE = 2,
    SFTPD_FX_PERMISSION_DENIED = 3,
    SFTPD_FX_FAILURE = 4,
    SFTPD_FX_BAD_MESSAGE = 5,
    SFTPD_FX_NO_CONNECTION = 6,
    SFTPD_FX_CONNECTION_LOST = 7,
    SFTPD_FX_OP_UNSUPPORTED = 8
};

/* OPEN pflags. */
#define SFTPD_FXF_READ 0x01u
#define SFTPD_FXF_WRITE 0x02u
#define SFTPD_FXF_APPEND 0x04u
#define SFTPD_FXF_CREAT 0x08u
#define SFTPD_FXF_TRUNC 0x10u
#define SFTPD_FXF_EXCL 0x20u

/* Attribute flags. */
#define SFTPD_ATTR_SIZE 0x01u
#define SFTPD_ATTR_UIDGID 0x02u
#define SFTPD_ATTR_PERMISSIONS 0x04u
#define SFTPD_ATTR_ACMODTIME 0x08u
#define SFTPD_ATTR_EXTENDED 0x80000000u

/* Most extended attribute pairs we skip in one ATTRS (their bytes are bounded by the
 * packet anyway; this bounds the loop). */
#define SFTPD_MAX_ATTR_EXTENDED 64

/* statvfs@openssh.com f_flag bits. */
#define SFTPD_ST_RDONLY 0x1u
#define SFTPD_ST_NOSUID 0x2u

struct sftpd_attrs {
    uint32_t flags; /* SFTPD_ATTR_*; SFTPD_ATTR_EXTENDED is never set when decoded */
    uint64_t size;
    uint32_t uid, gid;
    uint32_t perm; /* type bits | permission bits, as st_mode */
    uint32_t atime, mtime;
};

/* A string inside a packet: not NUL-terminated, may contain any byte. */
struct sftpd_str {
    const uint8_t *p;
    uint32_t len;
};

/* What a request asks for: the packet type, or for SSH_FXP_EXTENDED the extension. */
enum sftpd_op {
    SFTPD_OP_NONE = 0,
    SFTPD_OP_INIT,
    SFTPD_OP_OPEN,
    SFTPD_OP_CLOSE,
    SFTPD_OP_READ,
    SFTPD_OP_WRITE,
    SFTPD_OP_LSTAT,
    SFTPD_OP_FSTAT,
    SFTPD_OP_SETSTAT,
    SFTPD_OP_FSETSTAT,
    SFTPD_OP_OPENDIR,
    SFTPD_OP_READDIR,
    SFTPD_OP_REMOVE,
    SFTPD_OP_MKDIR,
    SFTPD_OP_RMDIR,
    SFTPD_OP_REALPATH,
    SFTPD_OP_STAT,
    SFTPD_OP_RENAME,
    SFTPD_OP_READLINK,
    SFTPD_OP_SYMLINK,
    SFTPD_OP_POSIX_RENAME,      /* posix-rename@openssh.com */
    SFTPD_OP_STATVFS,           /* statvfs@openssh.com */
    SFTPD_OP_FSTATVFS,          /* fstatvfs@openssh.com */
    SFTPD_OP_HARDLINK,          /* hardlink@openssh.com */
    SFTPD_OP_FSYNC,             /* fsync@openssh.com */
    SFTPD_OP_LIMITS,            /* limits@openssh.com */
    SFTPD_OP_CHECK_FILE_NAME,   /* check-file-name */
    SFTPD_OP_CHECK_FILE_HANDLE, /* check-file-handle, and paramiko's "check-file" */
    SFTPD_OP_COUNT
};

/* A decoded request. Which members are meaningful depends on op:
 *   INIT: version.  OPEN: path, pflags, attrs.  CLOSE, READDIR, FSTAT, FSYNC, FSTATVFS:
 *   handle.  READ: handle, offset, len.  WRITE: handle, offset, data.  FSETSTAT:
 *   handle, attrs.  LSTAT, STAT, OPENDIR, REMOVE, RMDIR, REALPATH, READLINK, STATVFS:
 *   path.  SETSTAT, MKDIR: path, attrs.  RENAME, POSIX_RENAME, HARDLINK: path (old),
 *   path2 (new).  SYMLINK: path (the link's target as sent first, the OpenSSH order),
 *   path2 (the link to create).  CHECK_FILE_NAME: path; CHECK_FILE_HANDLE: handle; both:
 *   algs, offset, length, len (block size). */
struct sftpd_request {
    uint8_t type;
    enum sftpd_op op;
    bool has_id; /* false for INIT and for packets too short to carry an id */
    uint32_t id;
    uint32_t version;
    struct sftpd_str ext; /* extension name of SSH_FXP_EXTENDED */
    struct sftpd_str path, path2, handle, data, algs;
    uint32_t pflags;
    struct sftpd_attrs attrs;
    uint64_t offset, length;
    uint32_t len;
};

/* Looks for one packet at the start of (buf, len). Returns 1 with *pkt_len = 4 + the
 * packet's length when the whole packet is there, 0 when more bytes are needed,
 * GW_ERR_LIMIT when the length exceeds GW_MAX_SFTP_PACKET, GW_ERR_PROTO for a packet
 * of length zero. */
int sftpd_frame(const uint8_t *buf, size_t len, size_t *pkt_len);

/* Decodes one packet body (after the length field: type byte first). Returns 0 and
 * fills req; GW_ERR_PROTO when the packet is malformed (truncated fields, bad
 * attributes); GW_ERR_NOTSUP for an unknown type or extension. Bytes after the last
 * field are ignored (OpenSSH does; some clients depend on it). req->has_id and
 * req->id are set whenever the packet carried an id, so that errors can be answered. */
int sftpd_decode(const uint8_t *body, size_t len, struct sftpd_request *req);

/* The extensions advertised in SSH_FXP_VERSION (name, data), in order. */
struct sftpd_ext_pair {
    const char *name;
    const char *data;
};
extern const struct sftpd_ext_pair sftpd_extensions[];
extern const size_t sftpd_nextensions;

/* Low-level building: begin a packet of type (with id unless type is VERSION), append
 * fields, then end it, which fills in the length. *mark remembers where the packet
 * starts; sftpd_pkt_abort() drops everything appended since begin. The put functions
 * return 0 or GW_ERR_LIMIT/GW_ERR_NOMEM; after an error call sftpd_pkt_abort(). */
int sftpd_pkt_begin(struct gw_buf *out, uint8_t type, uint32_t id, size_t *mark);
int sftpd_pkt_end(struct gw_buf *out, size_t mark);
void sftpd_pkt_abort(struct gw_buf *out, size_t mark);
int sftpd_put_u8(struct gw_buf *out, uint8_t v);
int sftpd_put_u32(struct gw_buf *out, uint32_t v);
int sftpd_put_u64(struct gw_buf *out, uint64_t v);
int sftpd_put_string(struct gw_buf *out, const void *p, size_t n);
int sftpd_put_cstring(struct gw_buf *out, const char *s);
/* Attribute block (flags and the fields it announces; never extended pairs). */
int sftpd_put_attrs(struct gw_buf *out, const struct sftpd_attrs *a);

/* In-place building, so bulk data lands in the reply buffer without a copy:
 * sftpd_buf_room makes n bytes writable at b->data + b->len without changing the
 * contents (gw_buf grows only by appending, so this appends and drops n zero bytes the
 * first time; the memory is kept for later calls); sftpd_buf_commit then counts n bytes
 * written there as appended. Both keep the trailing NUL. 0 or GW_ERR_LIMIT/GW_ERR_NOMEM. */
int sftpd_buf_room(struct gw_buf *b, size_t n);
void sftpd_buf_commit(struct gw_buf *b, size_t n);

/* A DATA reply whose payload is written in place (a READ's pread): sftpd_data_begin
 * appends the header, makes room for n payload bytes and points *payload at them;
 * nothing may be appended until sftpd_data_end, which completes the packet with the
 * first got (1..n) bytes, or sftpd_pkt_abort(out, *mark), which drops it. */
int sftpd_data_begin(struct gw_buf *out, uint32_t id, size_t n, uint8_t **payload, size_t *mark);
int sftpd_data_end(struct gw_buf *out, size_t mark, size_t got);

/* Whole replies: 0 or GW_ERR_LIMIT/GW_ERR_NOMEM with out unchanged. */
int sftpd_reply_version(struct gw_buf *out, const struct sftpd_ext_pair *exts, size_t n);
int sftpd_reply_status(struct gw_buf *out, uint32_t id, uint32_t code, const char *msg);
int sftpd_reply_handle(struct gw_buf *out, uint32_t id, const void *h, size_t n);
int sftpd_reply_data(struct gw_buf *out, uint32_t id, const void *data, size_t n);
int sftpd_reply_attrs(struct gw_buf *out, uint32_t id, const struct sftpd_attrs *a);
/* A NAME reply with one entry (REALPATH, READLINK). */
int sftpd_reply_name1(struct gw_buf *out, uint32_t id, const char *name, const char *longname,
                      const struct sftpd_attrs *a);

/* A NAME reply with many entries (READDIR): begin, add entries, end with their count.
 * sftpd_name_add leaves out unchanged on error (the reply so far stays intact). */
int sftpd_name_begin(struct gw_buf *out, uint32_t id, size_t *mark);
int sftpd_name_add(struct gw_buf *out, const char *name, size_t name_len, const char *longname,
                   const struct sftpd_attrs *a);
int sftpd_name_end(struct gw_buf *out, size_t mark, uint32_t count);

/* Default text of a status code ("No such file", ...). */
const char *sftpd_status_text(uint32_t code);

#endif
