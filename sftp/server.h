/* The SFTP v3 request engine: turns a stream of client packets into vfs_* calls and
 * reply packets. It knows nothing of SSH: the front end (sftp/sftpd.c) feeds it the
 * bytes of the "sftp" subsystem channel and sends back what it appends to `out`, so it
 * can also be driven directly from memory (tests).
 *
 * Requests are answered in the order received; the replies of a batch of pipelined
 * requests are appended to one buffer so the caller can send them in large writes.
 * Uploads follow DESIGN.md "Uploads and resume" through the VFS: OPEN with TRUNC (or
 * EXCL) writes new content that appears only at CLOSE, APPEND continues the caller's
 * partial or the file, plain WRITE modifies in place or resumes; a handle still open
 * when the session ends keeps its partial. An upload's CLOSE commits it before the
 * reply; its audit record may follow (see sftpd_server_settle). */
#ifndef FERRY_SFTP_SERVER_H
#define FERRY_SFTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/vfs.h"

#define SFTPD_DEFAULT_MAX_HANDLES 1024u
#define SFTPD_HARD_MAX_HANDLES 65536u
/* Entries per READDIR reply: bounded so a reply stays far below the packet limit. */
#define SFTPD_READDIR_BATCH 100
/* Most bytes one check-file request may hash (it runs inside the session, and a sparse
 * file can claim terabytes); clients hash larger files in ranges. */
#define SFTPD_DEFAULT_MAX_HASH_BYTES (64ull << 30)

struct sftpd_server;

struct sftpd_server_options {
    struct vfs *vfs;         /* the user's view; owned by the caller, outlives the server */
    unsigned max_handles;    /* open files and directories at once; 0: default */
    bool read_only;          /* refuse every modifying request up front */
    const char *owner;       /* shown as owner and group in long names */
    uint64_t max_hash_bytes; /* check-file range limit; 0: the default */
    bool no_hash;            /* hash_transfers = no: transfers are not hashed on the fly */
    /* Receives one record per upload, download and file operation (may be NULL). The
     * record and its strings are valid only during the call. */
    void (*audit)(void *ctx, const struct audit_record *r);
    void *audit_ctx;
};

/* Creates an engine; NULL when out of memory. */
struct sftpd_server *sftpd_server_new(const struct sftpd_server_options *opts);

/* Answers the complete packets at the start of (buf, len), appending the replies to
 * out, and stops early once out holds flush_at bytes or more (the caller sends them and
 * calls again with the rest). out's maximum must leave room for flush_at plus one
 * packet (GW_MAX_SFTP_PACKET + 4).
 * Returns the bytes consumed (whole packets only), or a negative GW_ERR_* after which
 * the session must end: GW_ERR_LIMIT for a packet over GW_MAX_SFTP_PACKET, GW_ERR_PROTO
 * for a zero-length packet or anything but INIT first, GW_ERR_NOMEM. */
ssize_t sftpd_server_input(struct sftpd_server *srv, const uint8_t *buf, size_t len,
                           struct gw_buf *out, size_t flush_at);

/* Open handles (files and directories), and open file handles only (transfers in
 * progress: a stopping server lets these finish). */
unsigned sftpd_server_handles(const struct sftpd_server *srv);
unsigned sftpd_server_transfers(const struct sftpd_server *srv);
/* Open file handles for writing (the front end offers a larger channel window then). */
unsigned sftpd_server_uploads(const struct sftpd_server *srv);

/* Uploads committed and answered (CLOSE) whose audit record waits for their hash to
 * catch up (at most one: the next request waits for it). sftpd_server_settle writes the
 * record once the hash is done (or waits for it, with wait = true); the front end calls
 * it while the session is idle, so that records appear in step with the transfers. */
unsigned sftpd_server_settling(const struct sftpd_server *srv);
void sftpd_server_settle(struct sftpd_server *srv, bool wait);

/* Ends the session: every open handle is closed; uploads keep their partial and are
 * audited as aborted, committed ones still settling get their record (waiting for the
 * hash). NULL is allowed. */
void sftpd_server_free(struct sftpd_server *srv);

#endif
