/* The session <-> parent protocol: one SOCK_SEQPACKET message per request or reply,
 * at most GW_MAX_IPC_MSG bytes: a type byte, then fields as (tag u8, length u16 big
 * endian, bytes). The decoder is pure over (buf, len) and checks every length; the
 * parent treats every message from a session as hostile. */
#ifndef FERRY_GATEWAY_IPC_H
#define FERRY_GATEWAY_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/buf.h"

enum gw_ipc_type {
    GW_IPC_AUTH_PASSWORD = 1, /* USER, PASSWORD */
    GW_IPC_AUTH_KEY = 2,      /* USER, KEYTYPE, KEYBLOB, PROBE */
    GW_IPC_AUTH_ANON = 3,     /* IDENT */
    GW_IPC_AUDIT = 4,         /* A_* fields; the parent replies RESULT once written */
    GW_IPC_AUDIT_ASYNC = 5,   /* A_* fields; no reply (fire and forget, see session.h) */
    GW_IPC_PROXY = 6,         /* P_ADDR P_PORT: the client named by the balancer's PROXY
                                 header; once, before any login (gateway/proxyconn.h) */
    GW_IPC_STATE_GET = 7,     /* S_NAME [S_WRITE]: a named blob of shared state (WebDAV
                                 locks, dead properties) when state_db is set; S_WRITE
                                 holds it (a row lock across nodes) until STATE_PUT or
                                 STATE_END. Reply: RESULT [S_BODY] (no S_BODY: none yet) */
    GW_IPC_STATE_PUT = 8,     /* S_NAME S_BODY: replaces the held blob (empty body deletes
                                 it) and releases it. Reply: RESULT */
    GW_IPC_STATE_END = 9,     /* releases a held blob unchanged. Reply: RESULT */
    GW_IPC_REPLY = 100        /* RESULT [HOME READONLY USER DELAY S_BODY] */
};

enum gw_ipc_tag {
    GW_F_USER = 1,
    GW_F_PASSWORD,
    GW_F_KEYTYPE,
    GW_F_KEYBLOB,
    GW_F_PROBE,
    GW_F_IDENT,
    GW_F_RESULT,
    GW_F_HOME,
    GW_F_READONLY,
    GW_F_DELAY,
    GW_F_A_EVENT,
    GW_F_A_PROTO,
    GW_F_A_PATH,
    GW_F_A_PATH2,
    GW_F_A_BYTES,
    GW_F_A_OFFSET,
    GW_F_A_SIZE,
    GW_F_A_DURATION,
    GW_F_A_STATUS,
    GW_F_A_ERROR,
    GW_F_A_SHA256,
    GW_F_P_ADDR,
    GW_F_P_PORT,
    GW_F_S_NAME,
    GW_F_S_WRITE,
    GW_F_S_BODY,
    GW_F_MAX
};

#define GW_IPC_MAX_FIELDS 32

struct gw_ipc_msg {
    uint8_t type;
    size_t nfields;
    struct {
        uint8_t tag;
        uint16_t len;
        const char *val; /* points into the decoded buffer; not NUL-terminated */
    } f[GW_IPC_MAX_FIELDS];
};

/* Starts a message of type in out (which should be created with max GW_MAX_IPC_MSG). */
int gw_ipc_begin(struct gw_buf *out, uint8_t type);
int gw_ipc_put(struct gw_buf *out, uint8_t tag, const void *val, size_t len);
/* Puts a string field; NULL puts nothing. */
int gw_ipc_put_str(struct gw_buf *out, uint8_t tag, const char *s);
int gw_ipc_put_int(struct gw_buf *out, uint8_t tag, int64_t v);

/* Decodes (pure). GW_ERR_PROTO on any malformation: unknown tag, duplicate tag,
 * truncated field, too many fields, empty message. */
int gw_ipc_decode(const void *buf, size_t len, struct gw_ipc_msg *m);
/* Copies field tag as a C string into out; false when absent, containing NUL, or not
 * fitting in outsz. */
bool gw_ipc_get_str(const struct gw_ipc_msg *m, uint8_t tag, char *out, size_t outsz);
/* Reads an integer field; false when absent or malformed. */
bool gw_ipc_get_int(const struct gw_ipc_msg *m, uint8_t tag, int64_t *v);
bool gw_ipc_has(const struct gw_ipc_msg *m, uint8_t tag);

/* Sends one message (MSG_NOSIGNAL, retrying EINTR). */
int gw_ipc_send(int fd, const struct gw_buf *msg);
/* Receives one message into buf (size GW_MAX_IPC_MSG); returns its length, 0 at EOF,
 * or GW_ERR_*; an over-long message is GW_ERR_PROTO. */
ssize_t gw_ipc_recv(int fd, void *buf, size_t size);
/* As gw_ipc_recv, but never blocks: GW_ERR_AGAIN when no message is queued. */
ssize_t gw_ipc_try_recv(int fd, void *buf, size_t size);
/* As gw_ipc_send, but never blocks: GW_ERR_AGAIN when the peer's queue is full. */
int gw_ipc_try_send(int fd, const struct gw_buf *msg);

#endif
