/* FTP data connections: PASV/EPSV listeners on the configured port range, PORT/EPRT
 * connections (only to the control peer's address, ports >= 1024: no FTP bounce),
 * TLS on data connections with the session-reuse check, and the transfer loops
 * (sendfile(2) for plain binary downloads, streaming everywhere). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftp/ftpd_int.h"
#include "gateway/err.h"
#include "gateway/proxyconn.h"

/* Bytes per sendfile(2) call: between two calls the control connection is checked. */
#define FTPD_SENDFILE_CHUNK (4u * GW_IO_CHUNK)
/* The control connection is checked for ABOR every this many received chunks. */
#define FTPD_CTL_CHECK_EVERY 8

static int data_timeout_s(const struct ftpd_sess *fs)
{
    return ftpd_timeout_s(fs->cfg->data_timeout, GW_DEFAULT_DATA_TIMEOUT);
}

void ftpd_data_reset(struct ftpd_sess *fs)
{
    if (fs->pasv_fd >= 0)
        close(fs->pasv_fd);
    fs->pasv_fd = -1;
    fs->port_set = false;
}

static uint16_t sock_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Opens a passive listener on the control connection's local address, on a port of
 * the configured range (random start, then every port once). Returns the fd or
 * GW_ERR_*; *port gets the port. */
static int pasv_listen(struct ftpd_sess *fs, uint16_t *port)
{
    struct sockaddr_storage addr = fs->s->local;
    socklen_t len = fs->s->local_len;
    int lo = fs->cfg->passive_min, hi = fs->cfg->passive_max;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return GW_ERR_IO;
    if (lo <= 0 || hi < lo || hi > 65535) {
        lo = hi = 0;
    }
    uint32_t span = (uint32_t)(hi - lo) + 1;
    uint32_t start = lo ? arc4random_uniform(span) : 0;
    int rc = GW_ERR_BUSY;
    for (uint32_t i = 0; i < span; i++) {
        set_port(&addr, (uint16_t)(lo ? lo + (int)((start + i) % span) : 0));
        if (bind(fd, (struct sockaddr *)&addr, len) == 0) {
            rc = 0;
            break;
        }
        if (errno != EADDRINUSE && errno != EACCES) {
            rc = GW_ERR_IO;
            break;
        }
    }
    if (rc == 0 && listen(fd, 1) < 0)
        rc = GW_ERR_IO;
    if (rc == 0) {
        len = sizeof addr;
        if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
            rc = GW_ERR_IO;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *port = sock_port(&addr);
    return fd;
}

/* The IPv4 address to announce in a 227 reply. */
static bool pasv_address(struct ftpd_sess *fs, struct in_addr *out)
{
    const char *conf = fs->cfg->passive_address;
    if (conf && conf[0] && inet_pton(AF_INET, conf, out) == 1)
        return true;
    const struct sockaddr_storage *l = &fs->s->local;
    if (l->ss_family == AF_INET) {
        *out = ((const struct sockaddr_in *)l)->sin_addr;
        return true;
    }
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)l)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        memcpy(&out->s_addr, a6->s6_addr + 12, 4);
        return true;
    }
    return false;
}

int ftpd_cmd_pasv(struct ftpd_sess *fs)
{
    struct in_addr a;
    uint16_t port;
    if (fs->epsv_all)
        return ftpd_reply(fs, 503, "EPSV ALL in effect: use EPSV.");
    if (!pasv_address(fs, &a))
        return ftpd_reply(fs, 425, "PASV needs IPv4: use EPSV.");
    ftpd_data_reset(fs);
    int fd = pasv_listen(fs, &port);
    if (fd < 0)
        return ftpd_reply(fs, 425, "Cannot open passive connection.");
    fs->pasv_fd = fd;
    uint32_t h = ntohl(a.s_addr);
    return ftpd_reply(fs, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", h >> 24,
                      (h >> 16) & 255, (h >> 8) & 255, h & 255, port >> 8, port & 255);
}

int ftpd_cmd_epsv(struct ftpd_sess *fs)
{
    const char *a = fs->cmd.arg;
    int family = fs->s->local.ss_family == AF_INET6 ? 2 : 1;
    uint16_t port;
    if (strcasecmp(a, "ALL") == 0) {
        fs->epsv_all = true;
        return ftpd_reply(fs, 200, "EPSV ALL ok.");
    }
    if (fs->cmd.arg_len > 0 && !(strcmp(a, "1") == 0 && family == 1) &&
        !(strcmp(a, "2") == 0 && family == 2))
        return ftpd_reply(fs, 522, "Network protocol not supported, use (%d)", family);
    ftpd_data_reset(fs);
    int fd = pasv_listen(fs, &port);
    if (fd < 0)
        return ftpd_reply(fs, 425, "Cannot open passive connection.");
    fs->pasv_fd = fd;
    return ftpd_reply(fs, 229, "Entering Extended Passive Mode (|||%u|)", port);
}

/* Accepts PORT/EPRT targets only on the control peer's own address and on unprivileged
 * ports: anything else would let a client use the server to reach third parties. */
static int set_active(struct ftpd_sess *fs, const struct sockaddr_storage *ss, socklen_t len,
                      const char *verb)
{
    if (fs->epsv_all)
        return ftpd_reply(fs, 503, "EPSV ALL in effect: use EPSV.");
    if (!ftpd_same_addr(ss, &fs->s->peer) || sock_port(ss) < 1024)
        return ftpd_reply(fs, 501, "Illegal %s command: only your own address, ports >= 1024.",
                          verb);
    ftpd_data_reset(fs);
    fs->port_addr = *ss;
    fs->port_len = len;
    fs->port_set = true;
    return ftpd_reply(fs, 200, "%s command successful. Consider using EPSV.", verb);
}

int ftpd_cmd_port(struct ftpd_sess *fs)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (ftpd_parse_port(fs->cmd.arg, fs->cmd.arg_len, &ss, &len) < 0)
        return ftpd_reply(fs, 501, "Illegal PORT command.");
    return set_active(fs, &ss, len, "PORT");
}

int ftpd_cmd_eprt(struct ftpd_sess *fs)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = ftpd_parse_eprt(fs->cmd.arg, fs->cmd.arg_len, &ss, &len);
    if (rc == GW_ERR_NOTSUP)
        return ftpd_reply(fs, 522, "Network protocol not supported, use (1,2)");
    if (rc < 0)
        return ftpd_reply(fs, 501, "Illegal EPRT command.");
    return set_active(fs, &ss, len, "EPRT");
}

int ftpd_cmd_abor(struct ftpd_sess *fs)
{
    /* No transfer is running when ABOR reaches the dispatcher (during a transfer it is
     * taken by ftpd_ctl_interrupt): drop any prepared channel. */
    ftpd_data_reset(fs);
    fs->rest = 0;
    return ftpd_reply(fs, 225, "No transfer to ABOR.");
}

/* Accepts the client's connection on the passive listener; connections from any other
 * address are closed and waited past until the data timeout. */
static int pasv_accept(struct ftpd_sess *fs)
{
    int64_t deadline = gw_now_ms() + 1000LL * data_timeout_s(fs);
    for (;;) {
        int64_t left = deadline - gw_now_ms();
        if (left <= 0)
            return GW_ERR_TIMEOUT;
        struct pollfd p = {.fd = fs->pasv_fd, .events = POLLIN};
        int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return GW_ERR_IO;
        if (gw_session_stopping())
            return GW_ERR_AGAIN;
        if (r <= 0)
            continue;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(fs->pasv_fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        /* From a balancer forwarding this node's passive ports with send-proxy-v2 (EPSV
         * clients connect to the balancer's address): the connection's own PROXY header
         * names the client, which must be the control connection's. */
        /* Not every data connection from the balancer's address carries a header: a
         * balancer that does not forward the passive ports, or a client on the
         * balancer's own host, connects without one, and for a download it then sends
         * nothing at all. A balancer sends the header with the connection, so a short
         * wait tells the two apart without costing such a transfer seconds. */
        struct gw_proxy_hdr h;
        if (gw_proxy_peer_trusted(fs->cfg, (struct sockaddr *)&peer) &&
            gw_proxy_read(fd, GW_PROXY_DATA_TIMEOUT_MS, &h) == 0 && h.has_addr)
            memcpy(&peer, &h.src, sizeof peer);
        if (ftpd_same_addr(&peer, &fs->s->peer))
            return fd;
        close(fd); /* another host raced to our port */
    }
}

static int active_connect(struct ftpd_sess *fs)
{
    struct sockaddr_storage local = fs->s->local;
    int fd = socket(fs->port_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = GW_ERR_IO;
    if (fd < 0)
        return GW_ERR_IO;
    /* Connect from the control connection's local address when the families match, so
     * the client sees the data connection come from the server it talks to. */
    if (local.ss_family == fs->port_addr.ss_family) {
        set_port(&local, 0);
        (void)bind(fd, (struct sockaddr *)&local, fs->s->local_len);
    }
    if (connect(fd, (struct sockaddr *)&fs->port_addr, fs->port_len) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&p, 1, 1000 * data_timeout_s(fs));
        while (r < 0 && errno == EINTR);
        int err = 0;
        socklen_t elen = sizeof err;
        if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0)
            goto fail;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
        goto fail;
    return fd;

fail:
    close(fd);
    return rc;
}

int ftpd_data_open(struct ftpd_sess *fs, struct ftpd_conn *dc, const char *mark, bool upload)
{
    int fd;
    ftpd_conn_init(dc, -1, 0);
    if (fs->pasv_fd >= 0) {
        fd = pasv_accept(fs);
    } else if (fs->port_set) {
        fd = active_connect(fs);
    } else {
        ftpd_reply(fs, 425, "Use PORT or PASV first.");
        return GW_ERR_INVAL;
    }
    ftpd_data_reset(fs); /* each PASV/PORT serves one transfer */
    if (fd < 0) {
        ftpd_reply(fs, 425, "Failed to establish connection.");
        return fd;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    ftpd_conn_init(dc, fd, data_timeout_s(fs));
    int rc = ftpd_reply(fs, 150, "%s", mark);
    if (rc < 0)
        goto fail;
    if (!fs->prot_p)
        return ftpd_conn_set_nonblock(dc);
    rc = ftpd_conn_tls_accept(dc, fs->st->tls, upload ? 0 : 1);
    if (rc < 0) {
        ftpd_reply(fs, 522, "Data connection TLS handshake failed.");
        goto fail;
    }
    if (fs->cfg->ftp_require_ssl_reuse && !ftpd_conn_tls_reused(dc)) {
        ftpd_reply(fs, 522,
                   "TLS session reuse required: the data connection must resume "
                   "the control connection's TLS session.");
        rc = GW_ERR_PERM;
        goto fail;
    }
    return ftpd_conn_set_nonblock(dc);

fail:
    ftpd_conn_abort(dc);
    return rc < 0 ? rc : GW_ERR_IO;
}

static int ensure_io(struct ftpd_sess *fs)
{
    if (!fs->io)
        fs->io = malloc(2 * GW_IO_CHUNK + 1);
    return fs->io ? 0 : GW_ERR_NOMEM;
}

/* Waits until dc is ready for dc->want while watching the control connection: 0,
 * GW_ERR_AGAIN (ABOR, or the client went away), GW_ERR_TIMEOUT (data timeout). */
static int data_wait(struct ftpd_sess *fs, struct ftpd_conn *dc)
{
    int64_t deadline = gw_now_ms() + 1000LL * data_timeout_s(fs);
    for (;;) {
        struct pollfd p[2] = {{.fd = dc->fd, .events = dc->want},
                              {.fd = fs->ctl.fd, .events = POLLIN | POLLRDHUP}};
        /* A command held for after the transfer keeps the control readable: ignore it. */
        nfds_t n = fs->ctl_hold ? 1 : 2;
        int64_t left = deadline - gw_now_ms();
        if (left <= 0)
            return GW_ERR_TIMEOUT;
        int r = poll(p, n, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return GW_ERR_IO;
        if (r > 0 && p[0].revents)
            return 0;
        if (r > 0 && n == 2 && p[1].revents && ftpd_ctl_interrupt(fs))
            return GW_ERR_AGAIN;
    }
}

static int data_write(struct ftpd_sess *fs, struct ftpd_conn *dc, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = ftpd_conn_write_some(dc, p, n);
        if (w == GW_ERR_AGAIN) {
            int rc = data_wait(fs, dc);
            if (rc < 0)
                return rc;
            continue;
        }
        if (w < 0)
            return (int)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t data_read(struct ftpd_sess *fs, struct ftpd_conn *dc, char *buf, size_t n)
{
    for (;;) {
        ssize_t r = ftpd_conn_read(dc, buf, n);
        if (r != GW_ERR_AGAIN)
            return r;
        int rc = data_wait(fs, dc);
        if (rc < 0)
            return rc;
    }
}

int ftpd_data_send(struct ftpd_sess *fs, struct ftpd_conn *dc, const void *buf, size_t n)
{
    if (ftpd_ctl_interrupt(fs))
        return GW_ERR_AGAIN;
    return data_write(fs, dc, buf, n);
}

static int send_sendfile(struct ftpd_sess *fs, struct ftpd_conn *dc, struct vfs_file *f, int ffd)
{
    off_t off = (off_t)vfs_tell(f);
    for (unsigned round = 1;; round++) {
        if (round % FTPD_CTL_CHECK_EVERY == 0 && ftpd_ctl_interrupt(fs))
            return GW_ERR_AGAIN;
        ssize_t n = sendfile(dc->fd, ffd, &off, FTPD_SENDFILE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            dc->want = POLLOUT;
            int rc = data_wait(fs, dc);
            if (rc < 0)
                return rc;
            continue;
        }
        if (n < 0)
            return errno == EPIPE || errno == ECONNRESET ? GW_ERR_IO : gw_err_from_errno(errno);
        if (n == 0)
            return 0;
        vfs_advance(f, (uint64_t)n);
    }
}

int ftpd_data_send_file(struct ftpd_sess *fs, struct ftpd_conn *dc, struct vfs_file *f)
{
    int ffd = vfs_fd(f);
    if (!dc->ssl && !fs->ascii && ffd >= 0)
        return send_sendfile(fs, dc, f, ffd);
    int rc = ensure_io(fs);
    bool prev_cr = false;
    char *conv = fs->io + GW_IO_CHUNK / 2;
    size_t chunk = fs->ascii ? GW_IO_CHUNK / 2 : GW_IO_CHUNK;
    for (unsigned round = 1; rc == 0; round++) {
        if (round % FTPD_CTL_CHECK_EVERY == 0 && ftpd_ctl_interrupt(fs))
            return GW_ERR_AGAIN;
        ssize_t n = vfs_read(f, fs->io, chunk);
        if (n <= 0)
            return (int)n;
        if (fs->ascii) {
            size_t m = ftpd_ascii_to_net(fs->io, (size_t)n, conv, &prev_cr);
            rc = data_write(fs, dc, conv, m);
        } else {
            rc = data_write(fs, dc, fs->io, (size_t)n);
        }
    }
    return rc;
}

static int write_all(struct vfs_file *f, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = vfs_write(f, p, n);
        if (w < 0)
            return (int)w;
        if (w == 0)
            return GW_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* How long to wait for the control connection's end after a data EOF: the two FINs of a
 * killed client leave it together, but may arrive in either order (measured on loopback:
 * 1 in 12 times the data FIN is seen first, at most 50 us ahead). Half the control
 * connection's RTT, within 2..50 ms, covers the jitter of a real path. */
static int gone_grace_ms(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int ms = 2;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        ms = (int)(ti.tcpi_rtt / 2000);
    return ms < 2 ? 2 : ms > 50 ? 50 : ms;
}

/* After the data connection's EOF during an upload: is the client still there? A
 * client killed mid-STOR closes both connections at once, so a control connection that
 * ends right after the data EOF means that EOF was no promise of completeness. A live
 * client keeps the control connection open and waits for the 226. */
static bool client_gone(struct ftpd_sess *fs)
{
    if (fs->ctl_gone)
        return true;
    struct pollfd p = {.fd = fs->ctl.fd, .events = POLLIN | POLLRDHUP};
    int r;
    do
        r = poll(&p, 1, gone_grace_ms(fs->ctl.fd));
    while (r < 0 && errno == EINTR);
    if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLRDHUP))) {
        fs->ctl_gone = true;
        return true;
    }
    return false;
}

int ftpd_data_recv_file(struct ftpd_sess *fs, struct ftpd_conn *dc, struct vfs_file *f,
                        bool *complete)
{
    int rc = ensure_io(fs);
    bool pending_cr = false;
    char *conv = fs->io + GW_IO_CHUNK;
    *complete = false;
    for (unsigned round = 1; rc == 0; round++) {
        if (round % FTPD_CTL_CHECK_EVERY == 0 && ftpd_ctl_interrupt(fs))
            return GW_ERR_AGAIN;
        ssize_t n = data_read(fs, dc, fs->io, GW_IO_CHUNK);
        if (n < 0)
            return (int)n;
        if (n == 0)
            break;
        if (fs->ascii) {
            size_t m = ftpd_ascii_from_net(fs->io, (size_t)n, conv, &pending_cr);
            rc = write_all(f, conv, m);
        } else {
            rc = write_all(f, fs->io, (size_t)n);
        }
    }
    if (rc == 0 && fs->ascii) {
        size_t m = ftpd_ascii_from_net(NULL, 0, conv, &pending_cr);
        rc = write_all(f, conv, m);
    }
    if (rc == 0)
        *complete = dc->clean_eof && !client_gone(fs);
    return rc;
}

void ftpd_data_finish(struct ftpd_sess *fs, struct ftpd_conn *dc, int result)
{
    if (result == 0)
        ftpd_conn_close(dc, false);
    else
        ftpd_conn_abort(dc);
    free(fs->io);
    fs->io = NULL;
    if (fs->ctl_gone)
        return;
    if (fs->abort_req) {
        fs->abort_req = false;
        ftpd_reply(fs, 426, "Connection closed; transfer aborted.");
        ftpd_reply(fs, 226, "ABOR successful.");
        return;
    }
    switch (result) {
    case 0:
        ftpd_reply(fs, 226, "Transfer complete.");
        break;
    case GW_ERR_NOSPC:
        ftpd_reply(fs, 452, "Insufficient storage space: transfer aborted.");
        break;
    case GW_ERR_TIMEOUT:
        ftpd_reply(fs, 426, "Data connection timed out; transfer aborted.");
        break;
    case GW_ERR_IO:
    case GW_ERR_AGAIN:
    case GW_ERR_PROTO:
        ftpd_reply(fs, 426, "Connection closed; transfer aborted.");
        break;
    default:
        ftpd_reply(fs, 451, "Transfer aborted: %s.", gw_strerror(result));
        break;
    }
}
