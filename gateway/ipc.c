/* Session <-> parent message framing (see ipc.h). */
#include "gateway/ipc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/err.h"
#include "gateway/limits.h"

int gw_ipc_begin(struct gw_buf *out, uint8_t type)
{
    gw_buf_reset(out);
    return gw_buf_append(out, &type, 1);
}

int gw_ipc_put(struct gw_buf *out, uint8_t tag, const void *val, size_t len)
{
    if (len > UINT16_MAX)
        return GW_ERR_TOOLONG;
    unsigned char hdr[3] = {tag, (unsigned char)(len >> 8), (unsigned char)len};
    int rc = gw_buf_append(out, hdr, 3);
    if (rc == 0)
        rc = gw_buf_append(out, val, len);
    return rc;
}

int gw_ipc_put_str(struct gw_buf *out, uint8_t tag, const char *s)
{
    return s ? gw_ipc_put(out, tag, s, strlen(s)) : 0;
}

int gw_ipc_put_int(struct gw_buf *out, uint8_t tag, int64_t v)
{
    char tmp[GW_I64_DEC_MAX];
    return gw_ipc_put(out, tag, tmp, gw_i64_dec(v, tmp));
}

int gw_ipc_decode(const void *buf, size_t len, struct gw_ipc_msg *m)
{
    const unsigned char *p = buf;
    uint32_t seen = 0;
    if (len < 1 || len > GW_MAX_IPC_MSG)
        return GW_ERR_PROTO;
    m->type = p[0];
    m->nfields = 0;
    size_t pos = 1;
    while (pos < len) {
        if (len - pos < 3 || m->nfields >= GW_IPC_MAX_FIELDS)
            return GW_ERR_PROTO;
        uint8_t tag = p[pos];
        uint16_t flen = (uint16_t)(p[pos + 1] << 8 | p[pos + 2]);
        pos += 3;
        if (tag == 0 || tag >= GW_F_MAX || (seen & (1u << tag)) || flen > len - pos)
            return GW_ERR_PROTO;
        seen |= 1u << tag;
        m->f[m->nfields].tag = tag;
        m->f[m->nfields].len = flen;
        m->f[m->nfields].val = (const char *)p + pos;
        m->nfields++;
        pos += flen;
    }
    return 0;
}

static int find(const struct gw_ipc_msg *m, uint8_t tag)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->f[i].tag == tag)
            return (int)i;
    return -1;
}

bool gw_ipc_has(const struct gw_ipc_msg *m, uint8_t tag)
{
    return find(m, tag) >= 0;
}

bool gw_ipc_get_str(const struct gw_ipc_msg *m, uint8_t tag, char *out, size_t outsz)
{
    int i = find(m, tag);
    if (i < 0 || m->f[i].len >= outsz || memchr(m->f[i].val, '\0', m->f[i].len))
        return false;
    memcpy(out, m->f[i].val, m->f[i].len);
    out[m->f[i].len] = '\0';
    return true;
}

bool gw_ipc_get_int(const struct gw_ipc_msg *m, uint8_t tag, int64_t *v)
{
    char tmp[24], *end;
    if (!gw_ipc_get_str(m, tag, tmp, sizeof tmp) || !tmp[0])
        return false;
    errno = 0;
    long long n = strtoll(tmp, &end, 10);
    if (errno || *end)
        return false;
    *v = n;
    return true;
}

static int send_flags(int fd, const struct gw_buf *msg, int flags)
{
    for (;;) {
        ssize_t n = send(fd, msg->data, msg->len, MSG_NOSIGNAL | flags);
        if (n == (ssize_t)msg->len)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return GW_ERR_AGAIN;
        return n < 0 ? gw_err_from_errno(errno) : GW_ERR_IO;
    }
}

int gw_ipc_send(int fd, const struct gw_buf *msg)
{
    return send_flags(fd, msg, 0);
}

int gw_ipc_try_send(int fd, const struct gw_buf *msg)
{
    return send_flags(fd, msg, MSG_DONTWAIT);
}

static ssize_t recv_flags(int fd, void *buf, size_t size, int flags)
{
    for (;;) {
        ssize_t n = recv(fd, buf, size, MSG_TRUNC | flags);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return GW_ERR_AGAIN;
        if (n < 0)
            return gw_err_from_errno(errno);
        if ((size_t)n > size)
            return GW_ERR_PROTO;
        return n;
    }
}

ssize_t gw_ipc_recv(int fd, void *buf, size_t size)
{
    return recv_flags(fd, buf, size, 0);
}

ssize_t gw_ipc_try_recv(int fd, void *buf, size_t size)
{
    return recv_flags(fd, buf, size, MSG_DONTWAIT);
}
