/* The SFTP front end (see sftp/sftpd.h): libssh for key exchange, login and the
 * channel; our own SFTP framing over ssh_channel_read/ssh_channel_write.
 *
 * Speed notes (measured on loopback, 2 GiB): TCP_NODELAY on the accepted socket
 * (without it every status reply of an upload waits ~25 ms for delayed ACKs), large
 * blocks advertised through limits@openssh.com (sftp/server.c), and replies batched into
 * writes of up to SFTPD_FLUSH_AT bytes: every complete request received is answered
 * before the replies are sent in one write, and they are sent before reading on.
 * Bulk bytes are not copied by us on the way: a READ's pread lands in the reply buffer
 * (sftp/server.c) and channel bytes are read straight into the input buffer (fill()).
 * What remains in a profile is libssh's: its copies into and out of its packet
 * buffers, crypto, and on uploads one poll and one 4 KiB recv per 4 KiB received.
 * On uploads the SHA-256 (sftp/server.c, gateway/vfs.c) costs more CPU than the AES-GCM
 * decryption; it runs on a helper thread at a lower priority, and an upload's CLOSE is
 * answered once the file is committed, its audit record following when the hash has
 * caught up (sftpd_server_settle), so on a busy machine the client does not wait for
 * it. */
#include "sftp/sftpd.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/keys.h"
#include "gateway/limits.h"
#include "gateway/log.h"
#include "gateway/session.h"
#include "sftp/packet.h"
#include "sftp/server.h"

#define SFTPD_FLUSH_AT (128u * 1024)
/* The input buffer also sets the channel window of uploads (see fill()). */
#define SFTPD_IN_MAX (2u * 1024 * 1024 + 2u * (GW_MAX_SFTP_PACKET + 4))
#define SFTPD_OUT_MAX (SFTPD_FLUSH_AT + 2u * (GW_MAX_SFTP_PACKET + 4))
#define SFTPD_READ_SMALL (64u * 1024) /* reads while no upload is under way */
#define SFTPD_COMPACT (256u * 1024)   /* move unanswered bytes to the front below this */
#define SFTPD_POLL_MS 1000            /* how often idle sessions look at timeouts and shutdown */
#define SFTPD_SETTLE_MS 20            /* ... and sessions with uploads settling (audit records) */
#define SFTPD_LINGER_MS 5000          /* wait for the client to hang up after the channel closed */

struct sftpd_state {
    ssh_bind bind;
};

/* One connection, in the session process. */
struct conn {
    struct gw_session *s;
    ssh_session ssh;
    ssh_channel chan;
    bool authenticated;
    bool subsystem; /* the client asked for "sftp" on our channel */
    bool give_up;   /* too many failed logins, or throttled */
    int fails, max_fails;
    struct ssh_server_callbacks_struct scb;
    struct ssh_channel_callbacks_struct ccb;
};

/* ---- shutdown ---- */

/* SIGTERM/SIGINT stay blocked while libssh runs: a signal landing in one of its socket
 * calls would break the connection mid-transfer. We look for them between packets. */
static bool stop_requested(void)
{
    sigset_t pend;
    if (gw_session_stopping())
        return true;
    if (sigpending(&pend) != 0)
        return false;
    return sigismember(&pend, SIGTERM) == 1 || sigismember(&pend, SIGINT) == 1;
}

/* ---- authentication (libssh callbacks) ---- */

static void login_failed(struct conn *c, int rc)
{
    c->fails++;
    if (rc == GW_AUTH_THROTTLED || rc < 0 || c->fails >= c->max_fails)
        c->give_up = true;
}

static int cb_auth_password(ssh_session ssh, const char *user, const char *password, void *ud)
{
    struct conn *c = ud;
    (void)ssh;
    if (c->authenticated || c->give_up)
        return SSH_AUTH_DENIED;
    if (strlen(user) > GW_MAX_USER_NAME || strlen(password) > GW_MAX_PASSWORD) {
        login_failed(c, GW_AUTH_DENIED);
        return SSH_AUTH_DENIED;
    }
    int rc = gw_session_login_password(c->s, user, password);
    if (rc == GW_AUTH_OK) {
        c->authenticated = true;
        return SSH_AUTH_SUCCESS;
    }
    login_failed(c, rc);
    return SSH_AUTH_DENIED;
}

/* libssh calls this twice per key: first to ask whether the key would do (state NONE,
 * no signature yet), then with the signature it has already verified (VALID) or found
 * wrong (WRONG). Only a VALID signature may log in. */
static int cb_auth_pubkey(ssh_session ssh, const char *user, struct ssh_key_struct *pubkey,
                          char sig_state, void *ud)
{
    struct conn *c = ud;
    char *b64 = NULL;
    int res = SSH_AUTH_DENIED;
    (void)ssh;
    if (c->authenticated || c->give_up || strlen(user) > GW_MAX_USER_NAME)
        return SSH_AUTH_DENIED;
    if (sig_state != SSH_PUBLICKEY_STATE_NONE && sig_state != SSH_PUBLICKEY_STATE_VALID) {
        login_failed(c, GW_AUTH_DENIED);
        return SSH_AUTH_DENIED;
    }
    const char *type = ssh_key_type_to_char(ssh_key_type(pubkey));
    if (!type || ssh_pki_export_pubkey_base64(pubkey, &b64) != SSH_OK)
        goto out;
    bool probe = sig_state == SSH_PUBLICKEY_STATE_NONE;
    int rc = gw_session_login_key(c->s, user, type, b64, probe);
    if (rc == GW_AUTH_OK) {
        if (!probe)
            c->authenticated = true;
        res = SSH_AUTH_SUCCESS;
    } else if (!probe || rc == GW_AUTH_THROTTLED || rc < 0) {
        /* Clients offer every key they hold: refused offers are not failures. */
        login_failed(c, rc);
    }
out:
    ssh_string_free_char(b64);
    return res;
}

static int cb_subsystem(ssh_session ssh, ssh_channel chan, const char *name, void *ud)
{
    struct conn *c = ud;
    (void)ssh;
    if (chan != c->chan || c->subsystem || strcmp(name, "sftp") != 0)
        return 1; /* refused */
    c->subsystem = true;
    return 0;
}

/* One session channel per connection; shell, exec, pty, X11 and env requests on it have
 * no callback and are refused by libssh's default reply, as are forwarding channels and
 * global requests (tcpip-forward). */
static ssh_channel cb_channel_open(ssh_session ssh, void *ud)
{
    struct conn *c = ud;
    if (!c->authenticated || c->chan)
        return NULL;
    c->chan = ssh_channel_new(ssh);
    if (!c->chan)
        return NULL;
    memset(&c->ccb, 0, sizeof c->ccb);
    c->ccb.userdata = c;
    c->ccb.channel_subsystem_request_function = cb_subsystem;
    ssh_callbacks_init(&c->ccb);
    ssh_set_channel_callbacks(c->chan, &c->ccb);
    return c->chan;
}

/* Key exchange, login and the subsystem request, within login_timeout. */
static int handshake(struct conn *c, struct sftpd_state *st)
{
    const struct gw_config *cfg = c->s->cfg;
    int login_timeout = cfg->login_timeout > 0 ? cfg->login_timeout : GW_DEFAULT_LOGIN_TIMEOUT;
    long t = login_timeout;
    ssh_event ev = NULL;
    int rc = GW_ERR_PROTO;

    ssh_options_set(c->ssh, SSH_OPTIONS_TIMEOUT, &t);
    if (ssh_bind_accept_fd(st->bind, c->ssh, c->s->fd) != SSH_OK) {
        gw_log(GW_LOG_WARN, "sftp %s: accept: %s", c->s->id, ssh_get_error(st->bind));
        return GW_ERR_IO;
    }
    memset(&c->scb, 0, sizeof c->scb);
    c->scb.userdata = c;
    c->scb.auth_password_function = cb_auth_password;
    c->scb.auth_pubkey_function = cb_auth_pubkey;
    c->scb.channel_open_request_session_function = cb_channel_open;
    ssh_callbacks_init(&c->scb);
    ssh_set_server_callbacks(c->ssh, &c->scb);
    ssh_set_auth_methods(c->ssh, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY);

    if (ssh_handle_key_exchange(c->ssh) != SSH_OK) {
        gw_log(GW_LOG_INFO, "sftp %s: key exchange with %s failed: %s", c->s->id, c->s->remote,
               ssh_get_error(c->ssh));
        return GW_ERR_PROTO;
    }
    ev = ssh_event_new();
    if (!ev || ssh_event_add_session(ev, c->ssh) != SSH_OK) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    int64_t deadline = gw_now_ms() + (int64_t)login_timeout * 1000;
    while (!(c->authenticated && c->subsystem)) {
        if (c->give_up) {
            rc = GW_ERR_AUTH;
            goto out;
        }
        if (stop_requested() || gw_now_ms() > deadline) {
            rc = GW_ERR_TIMEOUT;
            goto out;
        }
        if (ssh_event_dopoll(ev, SFTPD_POLL_MS) == SSH_ERROR ||
            (ssh_get_status(c->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
            rc = GW_ERR_IO;
            goto out;
        }
    }
    rc = 0;
out:
    if (ev) {
        ssh_event_remove_session(ev, c->ssh);
        ssh_event_free(ev);
    }
    return rc;
}

/* ---- the SFTP loop ---- */

static void audit_cb(void *ctx, const struct audit_record *r)
{
    struct conn *c = ctx;
    if (gw_session_audit(c->s, r) < 0)
        gw_log(GW_LOG_WARN, "sftp %s: audit record for %s not written", c->s->id, r->event);
}

static int flush(struct conn *c, struct gw_buf *out)
{
    size_t off = 0;
    while (off < out->len) {
        size_t n = out->len - off;
        int w =
            ssh_channel_write(c->chan, out->data + off, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
        if (w <= 0)
            return GW_ERR_IO;
        off += (size_t)w;
    }
    gw_buf_reset(out);
    return 0;
}

/* Reads what the channel holds straight into in's free space (in->data + *ipos is the
 * first unanswered byte). The count asked for is also libssh's cue for the channel
 * window: ssh_channel_read grows the window to what the caller can take. So while an
 * upload is open we offer the whole buffer, letting the client keep over 2 MiB in flight
 * (OpenSSH's sshd offers 2 MiB, libssh by itself 1.2 MiB), and otherwise little, so an
 * idle session stays small. */
static int fill(struct conn *c, struct gw_buf *in, size_t *ipos, int avail, bool upload)
{
    /* Unanswered bytes (less than a packet) move to the front only when the tail runs
     * short, not after every read. */
    if (*ipos > 0 && in->max - in->len < SFTPD_COMPACT) {
        gw_buf_consume(in, *ipos);
        *ipos = 0;
    }
    size_t space = in->max - in->len;
    size_t want = (size_t)avail > SFTPD_READ_SMALL ? (size_t)avail : SFTPD_READ_SMALL;
    if (upload || want > space)
        want = space;
    int rc = sftpd_buf_room(in, want);
    if (rc < 0)
        return rc;
    int n = ssh_channel_read(c->chan, in->data + in->len, (uint32_t)want, 0);
    if (n < 0)
        return GW_ERR_IO;
    sftpd_buf_commit(in, (size_t)n);
    return 0;
}

/* Tells the client the subsystem is done. */
static void end_channel(struct conn *c, int rc)
{
    ssh_channel_request_send_exit_status(c->chan, rc < 0 ? 1 : 0);
    ssh_channel_send_eof(c->chan);
    ssh_channel_close(c->chan);
}

static int serve_sftp(struct conn *c, struct vfs *v)
{
    const struct gw_config *cfg = c->s->cfg;
    int idle_ms = (cfg->idle_timeout > 0 ? cfg->idle_timeout : GW_DEFAULT_IDLE_TIMEOUT) * 1000;
    struct sftpd_server_options o = {
        .vfs = v,
        .max_handles = cfg->sftp_max_handles > 0 ? (unsigned)cfg->sftp_max_handles : 0,
        .read_only = c->s->read_only || c->s->anonymous,
        .owner = c->s->user,
        .no_hash = !cfg->hash_transfers,
        .audit = audit_cb,
        .audit_ctx = c,
    };
    struct gw_buf in, out;
    size_t ipos = 0; /* in->data + ipos: the first byte not yet answered */
    struct sftpd_server *srv = sftpd_server_new(&o);
    int64_t last = gw_now_ms(), settle_at = 0;
    int rc = 0;

    gw_buf_init(&in, SFTPD_IN_MAX);
    gw_buf_init(&out, SFTPD_OUT_MAX);
    if (!srv) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        /* Answer everything complete, sending whenever a batch is large. */
        for (;;) {
            ssize_t used = sftpd_server_input(srv, (const uint8_t *)in.data + ipos, in.len - ipos,
                                              &out, SFTPD_FLUSH_AT);
            if (used < 0) {
                gw_log(GW_LOG_WARN, "sftp %s: %s: %s, closing", c->s->id, c->s->remote,
                       used == GW_ERR_LIMIT ? "packet too large" : "protocol error");
                rc = (int)used;
                goto out;
            }
            ipos += (size_t)used;
            if (ipos == in.len) {
                gw_buf_reset(&in);
                ipos = 0;
            }
            if (out.len < SFTPD_FLUSH_AT)
                break;
            if ((rc = flush(c, &out)) < 0)
                goto out;
        }
        /* Send before reading on: holding replies back until the input pauses would
         * stall a pipelining client at its request limit (OpenSSH keeps 64 in flight)
         * and turn a steady upload into bursts. */
        if (out.len > 0 && (rc = flush(c, &out)) < 0)
            goto out;
        /* A stopping server lets transfers in progress finish (the parent ends us
         * after shutdown_grace anyway). */
        if (sftpd_server_transfers(srv) == 0 && stop_requested())
            break;
        /* An upload answered before its hash was done gets its audit record here (or
         * before the next request, see sftp/server.c). */
        if (sftpd_server_settling(srv) > 0 && gw_now_ms() >= settle_at) {
            sftpd_server_settle(srv, false);
            settle_at = gw_now_ms() + SFTPD_SETTLE_MS;
        }
        int avail = ssh_channel_poll_timeout(
            c->chan, sftpd_server_settling(srv) > 0 ? SFTPD_SETTLE_MS : SFTPD_POLL_MS, 0);
        if (avail == SSH_EOF || avail == SSH_ERROR)
            break;
        if (avail > 0) {
            if ((rc = fill(c, &in, &ipos, avail, sftpd_server_uploads(srv) > 0)) < 0)
                goto out;
            last = gw_now_ms();
        } else if (gw_now_ms() - last > idle_ms) {
            gw_log(GW_LOG_INFO, "sftp %s: idle timeout", c->s->id);
            break;
        }
    }
out:
    /* The client leaves once the channel is closed (OpenSSH's waits for the exit
     * status), not after an upload's hash is done and its record written: that
     * follows here. */
    end_channel(c, rc);
    sftpd_server_free(srv); /* uploads still open keep their partial; settling ones finish */
    gw_buf_free(&in);
    gw_buf_free(&out);
    return rc;
}

/* Like sshd, leaves closing the connection to the client once the channel is done:
 * clients (Go's x/crypto/ssh under rclone) report an error when the server hangs up
 * first. Bounded, so a client that never leaves cannot hold the session. */
static void linger(struct conn *c)
{
    ssh_event ev = ssh_event_new();
    int64_t deadline = gw_now_ms() + SFTPD_LINGER_MS;
    if (!ev || ssh_event_add_session(ev, c->ssh) != SSH_OK)
        goto out;
    while (!(ssh_get_status(c->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)) && gw_now_ms() < deadline &&
           !stop_requested()) {
        if (ssh_event_dopoll(ev, 100) == SSH_ERROR)
            break;
    }
    ssh_event_remove_session(ev, c->ssh);
out:
    if (ev)
        ssh_event_free(ev);
}

/* ---- front end ---- */

static int sftpd_serve(struct gw_session *s, void *state)
{
    struct sftpd_state *st = state;
    struct conn c;
    struct vfs *v = NULL;
    sigset_t block, old;
    int one = 1, rc;

    memset(&c, 0, sizeof c);
    c.s = s;
    c.max_fails =
        s->cfg->max_login_fails > 0 ? s->cfg->max_login_fails : GW_DEFAULT_MAX_LOGIN_FAILS;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    /* The parent sets it too; this front end depends on it (see the top of the file). */
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    c.ssh = ssh_new();
    if (!c.ssh) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    rc = handshake(&c, st);
    if (rc < 0) {
        rc = 0; /* the client left, failed to log in or timed out: nothing went wrong here */
        goto out;
    }
    /* From here on the timeout bounds how long a write may wait for a client that
     * stopped reading (libssh's blocking calls use it). */
    long dt = s->cfg->data_timeout > 0 ? s->cfg->data_timeout : GW_DEFAULT_DATA_TIMEOUT;
    ssh_options_set(c.ssh, SSH_OPTIONS_TIMEOUT, &dt);
    rc = gw_session_vfs(s, &v);
    if (rc < 0) {
        gw_log(GW_LOG_WARN, "sftp %s: cannot open the file tree of %s: %s", s->id, s->user,
               gw_strerror(rc));
        goto out;
    }
    rc = serve_sftp(&c, v); /* ends the channel */
    linger(&c);
out:
    if (v)
        vfs_free(v);
    if (c.ssh) {
        if (c.chan)
            ssh_channel_free(c.chan); /* before ssh_disconnect, which frees channels */
        ssh_disconnect(c.ssh);
        ssh_free(c.ssh); /* closes s->fd */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc < 0 ? 1 : 0;
}

static int sftpd_init(const struct gw_config *cfg, const struct gw_keys *keys, void **state)
{
    struct sftpd_state *st = NULL;
    ssh_key key = NULL;
    bool no = false;
    int rc = GW_ERR_NOMEM;
    (void)cfg;

    *state = NULL;
    if (ssh_init() != SSH_OK)
        return GW_ERR_IO;
    st = calloc(1, sizeof *st);
    if (!st || !(st->bind = ssh_bind_new()))
        goto fail;
    if (ssh_pki_import_privkey_file(keys->host_key_path, NULL, NULL, NULL, &key) != SSH_OK) {
        gw_log(GW_LOG_ERROR, "sftp: cannot load the host key %s", keys->host_key_path);
        rc = GW_ERR_CONFIG;
        goto fail;
    }
    /* The bind owns the key from here on, and copies it into every session. */
    if (ssh_bind_options_set(st->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) != SSH_OK) {
        ssh_key_free(key);
        gw_log(GW_LOG_ERROR, "sftp: host key %s: %s", keys->host_key_path, ssh_get_error(st->bind));
        rc = GW_ERR_CONFIG;
        goto fail;
    }
    /* Our settings only: no /etc/ssh or libssh server config files. */
    ssh_bind_options_set(st->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
    ssh_bind_options_set(st->bind, SSH_BIND_OPTIONS_BANNER, "Ferry");
    *state = st;
    return 0;
fail:
    if (st && st->bind)
        ssh_bind_free(st->bind);
    free(st);
    return rc;
}

static void sftpd_dispose(void *state)
{
    struct sftpd_state *st = state;
    if (!st)
        return;
    ssh_bind_free(st->bind);
    free(st);
    ssh_finalize();
}

const struct gw_frontend gw_sftp_frontend = {
    .name = "sftp",
    .init = sftpd_init,
    .serve = sftpd_serve,
    .dispose = sftpd_dispose,
    .refuse_message = NULL,
};
