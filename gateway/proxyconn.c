/* PROXY protocol on accepted connections (proxyconn.h): the socket side of
 * gateway/proxyproto.c, run in the session process so that a slow or silent peer only
 * ever holds up itself, never the parent's accept loop. */
#include "gateway/proxyconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/log.h"

/* Receives at most want bytes into buf; with peek, takes only up to the first LF of
 * what is queued (a v1 header's end) and leaves the rest in the socket. Returns bytes
 * taken, 0 when nothing was ready, or GW_ERR_*. */
static ssize_t take_bytes(int fd, unsigned char *buf, size_t want, bool peek)
{
    ssize_t n = recv(fd, buf, want, MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : GW_ERR_IO;
    if (n == 0)
        return GW_ERR_PROTO; /* closed before the header was complete */
    if (!peek)
        return n;
    const unsigned char *nl = memchr(buf, '\n', (size_t)n);
    size_t upto = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
    /* The bytes are queued already: this returns them at once. */
    n = recv(fd, buf, upto, MSG_DONTWAIT);
    return n > 0 ? n : GW_ERR_IO;
}

int gw_proxy_read(int fd, int timeout_ms, struct gw_proxy_hdr *h)
{
    unsigned char buf[GW_PROXY_V2_MAX_LEN];
    size_t len = 0;
    int64_t deadline = gw_now_ms() + timeout_ms;
    for (;;) {
        int rc = gw_proxy_parse(buf, len, h);
        if (rc > 0)
            return (size_t)rc == len ? 0 : GW_ERR_PROTO;
        if (rc < 0)
            return rc;
        size_t want = gw_proxy_safe_read(buf, len);
        bool peek = want == 0;
        if (peek)
            want = GW_PROXY_V1_MAX_LEN - len;
        /* The parser bounds both versions below the buffer; this only guards it. */
        if (want > sizeof buf - len)
            return GW_ERR_PROTO;
        int64_t left = deadline - gw_now_ms();
        if (left <= 0)
            return GW_ERR_TIMEOUT;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno != EINTR)
            return GW_ERR_IO;
        if (gw_session_stopping())
            return GW_ERR_AGAIN;
        if (pr <= 0)
            continue;
        ssize_t n = take_bytes(fd, buf + len, want, peek);
        if (n < 0)
            return (int)n;
        len += (size_t)n;
    }
}

void gw_format_addr(const struct sockaddr_storage *ss, char *addr, size_t addrsz, char *remote,
                    size_t remotesz)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    /* IPv4-mapped addresses are shown as IPv4. */
    const char *hp = strncmp(host, "::ffff:", 7) == 0 && strchr(host, '.') ? host + 7 : host;
    snprintf(addr, addrsz, "%s", hp);
    if (strchr(hp, ':'))
        snprintf(remote, remotesz, "[%s]:%u", hp, port);
    else
        snprintf(remote, remotesz, "%s:%u", hp, port);
}

/* Tells the parent the client's address and waits for its verdict (0 or GW_ERR_*). */
static int tell_parent(struct gw_session *s, const char *addr, const struct sockaddr_storage *ss)
{
    struct gw_buf m;
    struct gw_ipc_msg rep;
    char buf[GW_MAX_IPC_MSG];
    int64_t result = GW_ERR_PROTO;
    unsigned port = ss->ss_family == AF_INET
                        ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                        : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    gw_buf_init(&m, GW_MAX_IPC_MSG);
    int rc = gw_ipc_begin(&m, GW_IPC_PROXY);
    if (rc == 0)
        rc = gw_ipc_put_str(&m, GW_F_P_ADDR, addr);
    if (rc == 0)
        rc = gw_ipc_put_int(&m, GW_F_P_PORT, port);
    if (rc == 0)
        rc = gw_ipc_send(s->ipc, &m);
    ssize_t n = rc == 0 ? gw_ipc_recv(s->ipc, buf, sizeof buf) : rc;
    if (n <= 0)
        rc = n < 0 ? (int)n : GW_ERR_IO;
    else if (gw_ipc_decode(buf, (size_t)n, &rep) != 0 || rep.type != GW_IPC_REPLY ||
             !gw_ipc_get_int(&rep, GW_F_RESULT, &result))
        rc = GW_ERR_PROTO;
    else
        rc = (int)result;
    gw_buf_free(&m);
    return rc;
}

int gw_proxy_session_start(struct gw_session *s, const char *lname)
{
    struct gw_proxy_acl acl;
    struct gw_proxy_hdr h;
    char err[256];
    if (!s->cfg->proxy_protocol || strcmp(lname, "metrics") == 0)
        return 0;
    /* cfg_validate has checked the list; a failure here still fails closed. */
    if (gw_proxy_acl_parse(s->cfg->proxy_trusted, &acl, err, sizeof err) != 0) {
        gw_log(GW_LOG_ERROR, "session %s: %s: connection refused", s->id, err);
        return GW_ERR_CONFIG;
    }
    if (!gw_proxy_acl_match(&acl, (const struct sockaddr *)&s->peer)) {
        gw_log(GW_LOG_WARN, "%s connection from %s refused: not a trusted proxy (proxy_trusted)",
               lname, s->remote);
        return GW_ERR_PERM;
    }
    int rc = gw_proxy_read(s->fd, GW_PROXY_TIMEOUT_MS, &h);
    if (rc < 0) {
        gw_log(GW_LOG_WARN, "%s connection from %s refused: no valid PROXY header (%s)", lname,
               s->remote, gw_strerror(rc));
        return rc;
    }
    if (!h.has_addr) {
        gw_log(GW_LOG_DEBUG, "session %s: PROXY v%d header without addresses from %s", s->id,
               h.version, s->remote);
        return 0;
    }
    char addr[sizeof s->remote_addr], remote[sizeof s->remote];
    gw_format_addr(&h.src, addr, sizeof addr, remote, sizeof remote);
    rc = tell_parent(s, addr, &h.src);
    if (rc < 0) {
        gw_log(GW_LOG_WARN, "%s connection from %s via proxy %s refused: %s", lname, remote,
               s->remote, gw_strerror(rc));
        return rc;
    }
    gw_log(GW_LOG_INFO, "session %s: %s connection from %s via proxy %s", s->id, lname, remote,
           s->remote);
    memcpy(&s->peer, &h.src, sizeof s->peer);
    s->peer_len = h.src_len;
    memcpy(s->remote, remote, sizeof s->remote);
    memcpy(s->remote_addr, addr, sizeof s->remote_addr);
    return 0;
}

static bool acl_of(const struct gw_config *cfg, struct gw_proxy_acl *acl)
{
    char err[256];
    return cfg->proxy_protocol && gw_proxy_acl_parse(cfg->proxy_trusted, acl, err, sizeof err) == 0;
}

bool gw_proxy_peer_trusted(const struct gw_config *cfg, const struct sockaddr *peer)
{
    struct gw_proxy_acl acl;
    return acl_of(cfg, &acl) && gw_proxy_acl_match(&acl, peer);
}

/* A numeric address (no names, no scope ids) into ss; false when it is none. */
static bool numeric_addr(const char *a, uint16_t port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, a, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return true;
    }
    if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return true;
    }
    return false;
}

int gw_proxy_check_claim(const struct gw_config *cfg, const char *peer_addr, const char *addr,
                         int64_t port, char *addr_out, size_t addrsz, char *remote_out,
                         size_t remotesz)
{
    struct sockaddr_storage peer, client;
    struct gw_proxy_acl acl;
    if (!acl_of(cfg, &acl) || !numeric_addr(peer_addr, 0, &peer) ||
        !gw_proxy_acl_match(&acl, (const struct sockaddr *)&peer))
        return GW_ERR_PERM;
    if (port < 0 || port > 65535 || !numeric_addr(addr, (uint16_t)port, &client))
        return GW_ERR_PROTO;
    gw_format_addr(&client, addr_out, addrsz, remote_out, remotesz);
    return 0;
}
