/* The session side of the session <-> parent protocol (session.h). */
#include "gateway/session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/log.h"
#include "gateway/path.h"
#include "gateway/sandbox.h"
#include "gateway/stateipc.h"

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

void gw_session_setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
}

bool gw_session_stopping(void)
{
    return stopping != 0;
}

int64_t gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stopping)
        ;
}

/* Sends the request in msg and decodes the reply into rep (backed by rbuf). */
static int roundtrip(struct gw_session *s, struct gw_buf *msg, char *rbuf, struct gw_ipc_msg *rep)
{
    int rc = gw_ipc_send(s->ipc, msg);
    if (rc < 0)
        return rc;
    ssize_t n = gw_ipc_recv(s->ipc, rbuf, GW_MAX_IPC_MSG);
    if (n <= 0)
        return n == 0 ? GW_ERR_IO : (int)n;
    rc = gw_ipc_decode(rbuf, (size_t)n, rep);
    if (rc == 0 && rep->type != GW_IPC_REPLY)
        rc = GW_ERR_PROTO;
    return rc;
}

/* Common tail of the three login requests. */
static int login(struct gw_session *s, struct gw_buf *msg, bool probe)
{
    static char rbuf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg rep;
    int64_t result = GW_AUTH_DENIED, delay = 0, ro = 1;
    int rc = roundtrip(s, msg, rbuf, &rep);
    gw_buf_free(msg);
    if (rc < 0)
        return rc;
    if (!gw_ipc_get_int(&rep, GW_F_RESULT, &result))
        return GW_ERR_PROTO;
    if (gw_ipc_get_int(&rep, GW_F_DELAY, &delay) && delay > 0)
        sleep_ms(delay > 30000 ? 30000 : delay);
    if (result != GW_AUTH_OK || probe)
        return (int)result;
    char user[GW_MAX_USER_NAME + 1], home[GW_MAX_PATH];
    if (!gw_ipc_get_str(&rep, GW_F_USER, user, sizeof user) ||
        !gw_ipc_get_str(&rep, GW_F_HOME, home, sizeof home) ||
        !gw_ipc_get_int(&rep, GW_F_READONLY, &ro))
        return GW_ERR_PROTO;
    memcpy(s->user, user, sizeof user);
    memcpy(s->home, home, sizeof home);
    s->read_only = ro != 0;
    s->logged_in = true;
    return GW_AUTH_OK;
}

int gw_session_login_password(struct gw_session *s, const char *user, const char *password)
{
    struct gw_buf msg;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    if (gw_ipc_begin(&msg, GW_IPC_AUTH_PASSWORD) || gw_ipc_put_str(&msg, GW_F_USER, user) ||
        gw_ipc_put_str(&msg, GW_F_PASSWORD, password) ||
        gw_ipc_put_str(&msg, GW_F_A_PROTO, s->proto)) {
        gw_buf_free(&msg);
        return GW_ERR_TOOLONG;
    }
    return login(s, &msg, false);
}

int gw_session_login_key(struct gw_session *s, const char *user, const char *type,
                         const char *blob, bool probe)
{
    struct gw_buf msg;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    if (gw_ipc_begin(&msg, GW_IPC_AUTH_KEY) || gw_ipc_put_str(&msg, GW_F_USER, user) ||
        gw_ipc_put_str(&msg, GW_F_KEYTYPE, type) || gw_ipc_put_str(&msg, GW_F_KEYBLOB, blob) ||
        gw_ipc_put_int(&msg, GW_F_PROBE, probe) || gw_ipc_put_str(&msg, GW_F_A_PROTO, s->proto)) {
        gw_buf_free(&msg);
        return GW_ERR_TOOLONG;
    }
    return login(s, &msg, probe);
}

int gw_session_login_anonymous(struct gw_session *s, const char *ident)
{
    struct gw_buf msg;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    if (gw_ipc_begin(&msg, GW_IPC_AUTH_ANON) || gw_ipc_put_str(&msg, GW_F_IDENT, ident) ||
        gw_ipc_put_str(&msg, GW_F_A_PROTO, s->proto)) {
        gw_buf_free(&msg);
        return GW_ERR_TOOLONG;
    }
    int rc = login(s, &msg, false);
    if (rc == GW_AUTH_OK)
        s->anonymous = true;
    return rc;
}

/* The session's mount backends, created on first use and kept for the session's life
 * (one process per session: they go with it). */
static struct vfs_mount session_mounts[GW_MAX_MOUNTS];
static size_t session_nmounts;
static bool mounts_ready;

static void prepare_mounts(struct gw_session *s)
{
    char err[256];
    if (mounts_ready || !s->mount_factory)
        return;
    mounts_ready = true;
    for (size_t i = 0; i < s->cfg->nmounts; i++) {
        const struct cfg_mount *m = &s->cfg->mounts[i];
        struct vfs_mount *vm = &session_mounts[session_nmounts];
        if (s->mount_factory(m, &vm->ops, &vm->backend, err, sizeof err) != 0) {
            gw_log(GW_LOG_WARN, "session %s: mount %s unavailable: %s", s->id, m->prefix, err);
            continue;
        }
        vm->prefix = m->prefix;
        vm->read_only = m->read_only;
        session_nmounts++;
    }
}

int gw_session_vfs(struct gw_session *s, struct vfs **out)
{
    char root[GW_MAX_PATH];
    if (!s->logged_in)
        return GW_ERR_AUTH;
    int n = snprintf(root, sizeof root, "%s%s", s->cfg->root,
                     strcmp(s->home, "/") == 0 ? "" : s->home);
    if (n < 0 || (size_t)n >= sizeof root)
        return GW_ERR_TOOLONG;
    prepare_mounts(s);
    struct vfs_options opts = {
        .root = root,
        .owner = s->user,
        .read_only = s->read_only || s->anonymous,
        .mounts = session_mounts,
        .nmounts = session_nmounts,
        .partial_ttl = s->cfg->partial_ttl,
    };
    int rc = gw_sandbox_confine(s->cfg, s->proto, root, opts.read_only);
    if (rc < 0)
        return rc; /* fail closed (the sandbox logged why) */
    return vfs_open(&opts, out);
}

/* Encodes r as an audit request of the given type. */
static int encode_audit(struct gw_session *s, const struct audit_record *r, uint8_t type,
                        struct gw_buf *msg)
{
    if (gw_ipc_begin(msg, type) || gw_ipc_put_str(msg, GW_F_A_EVENT, r->event) ||
        gw_ipc_put_str(msg, GW_F_A_PROTO, r->proto ? r->proto : s->proto) ||
        gw_ipc_put_str(msg, GW_F_A_PATH, r->path) || gw_ipc_put_str(msg, GW_F_A_PATH2, r->path2) ||
        gw_ipc_put_str(msg, GW_F_A_STATUS, r->status) ||
        gw_ipc_put_str(msg, GW_F_A_ERROR, r->error) ||
        gw_ipc_put_str(msg, GW_F_A_SHA256, r->sha256) ||
        (r->bytes >= 0 && gw_ipc_put_int(msg, GW_F_A_BYTES, r->bytes)) ||
        (r->offset >= 0 && gw_ipc_put_int(msg, GW_F_A_OFFSET, r->offset)) ||
        (r->size >= 0 && gw_ipc_put_int(msg, GW_F_A_SIZE, r->size)) ||
        (r->duration_ms >= 0 && gw_ipc_put_int(msg, GW_F_A_DURATION, r->duration_ms)))
        return GW_ERR_TOOLONG;
    return 0;
}

int gw_session_audit(struct gw_session *s, const struct audit_record *r)
{
    struct gw_buf msg;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    int rc = encode_audit(s, r, GW_IPC_AUDIT_ASYNC, &msg);
    /* A blocking send: when the parent falls behind, the socket's queue fills and the
     * session waits here (back-pressure) rather than dropping the record. */
    if (rc == 0)
        rc = gw_ipc_send(s->ipc, &msg);
    gw_buf_free(&msg);
    return rc;
}

int gw_session_audit_sync(struct gw_session *s, const struct audit_record *r)
{
    static char rbuf[GW_MAX_IPC_MSG];
    struct gw_buf msg;
    struct gw_ipc_msg rep;
    int64_t result = -1;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    int rc = encode_audit(s, r, GW_IPC_AUDIT, &msg);
    if (rc == 0)
        rc = roundtrip(s, &msg, rbuf, &rep);
    if (rc == 0 && (!gw_ipc_get_int(&rep, GW_F_RESULT, &result) || result != 0))
        rc = GW_ERR_INVAL;
    gw_buf_free(&msg);
    return rc;
}

void gw_session_audit_transfer(struct gw_session *s, const char *event, const char *path,
                               struct vfs_file *f, int64_t started_ms, const char *status,
                               const char *error)
{
    struct audit_record r;
    struct vfs_stat st;
    unsigned char sum[32];
    char hex[65];
    audit_record_init(&r);
    r.event = event;
    r.path = path;
    r.status = status;
    r.error = error;
    r.duration_ms = gw_now_ms() - started_ms;
    if (f) {
        r.bytes = (int64_t)vfs_bytes(f);
        r.offset = (int64_t)vfs_start_offset(f);
        /* A download's size as its headers announced it (no system call); an
         * upload's as it is now. */
        if (vfs_open_stat(f, &st) == 0)
            r.size = (int64_t)st.size;
        if (vfs_sha256(f, sum)) {
            /* Once per download: a table, not 32 snprintf calls. */
            static const char digits[] = "0123456789abcdef";
            for (int i = 0; i < 32; i++) {
                hex[2 * i] = digits[sum[i] >> 4];
                hex[2 * i + 1] = digits[sum[i] & 15];
            }
            hex[64] = '\0';
            r.sha256 = hex;
        }
    }
    gw_session_audit(s, &r);
}

void gw_session_set_proto(struct gw_session *s, const char *proto)
{
    snprintf(s->proto, sizeof s->proto, "%s", proto);
}

/* One state request with its reply: retried while the parent answers GW_ERR_AGAIN.
 * Returns the parent's RESULT (or a transport error); the reply stays in rbuf/rep. */
static int state_call(struct gw_session *s, struct gw_buf *msg, char *rbuf, struct gw_ipc_msg *rep)
{
    int64_t deadline = gw_now_ms() + GW_SESSION_STATE_WAIT_MS, pause = 10, result;
    for (;;) {
        int rc = roundtrip(s, msg, rbuf, rep);
        if (rc < 0)
            return rc;
        if (!gw_ipc_get_int(rep, GW_F_RESULT, &result) || result > 0 || result < GW_ERR_UPSTREAM)
            return GW_ERR_PROTO;
        if (result != GW_ERR_AGAIN || stopping || gw_now_ms() + pause > deadline)
            return (int)result;
        sleep_ms(pause);
        pause = pause < 100 ? pause * 2 : 100;
    }
}

static int state_msg(struct gw_buf *msg, uint8_t type, const char *name)
{
    if (strlen(name) > GW_STATE_MAX_NAME)
        return GW_ERR_TOOLONG;
    return gw_ipc_begin(msg, type) || gw_ipc_put_str(msg, GW_F_S_NAME, name) ? GW_ERR_TOOLONG : 0;
}

int gw_session_state_get(struct gw_session *s, const char *name, bool write, struct gw_buf *out,
                         bool *found)
{
    static char rbuf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg rep;
    struct gw_buf msg;
    *found = false;
    gw_buf_reset(out);
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    int rc = state_msg(&msg, GW_IPC_STATE_GET, name);
    if (rc == 0 && write && gw_ipc_put_int(&msg, GW_F_S_WRITE, 1))
        rc = GW_ERR_TOOLONG;
    if (rc == 0)
        rc = state_call(s, &msg, rbuf, &rep);
    for (size_t i = 0; rc == 0 && i < rep.nfields; i++) {
        if (rep.f[i].tag != GW_F_S_BODY)
            continue;
        *found = true;
        rc = gw_buf_append(out, rep.f[i].val, rep.f[i].len);
        if (rc < 0 && write)
            gw_session_state_end(s, name); /* cannot use it: do not keep it locked */
    }
    gw_buf_free(&msg);
    return rc;
}

int gw_session_state_put(struct gw_session *s, const char *name, const void *body, size_t len)
{
    static char rbuf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg rep;
    struct gw_buf msg;
    if (len > GW_STATE_MAX_BODY) {
        gw_session_state_end(s, name);
        return GW_ERR_NOSPC;
    }
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    int rc = state_msg(&msg, GW_IPC_STATE_PUT, name);
    if (rc == 0 && gw_ipc_put(&msg, GW_F_S_BODY, len ? body : "", len))
        rc = GW_ERR_TOOLONG;
    if (rc == 0)
        rc = state_call(s, &msg, rbuf, &rep);
    else
        gw_session_state_end(s, name);
    gw_buf_free(&msg);
    return rc;
}

void gw_session_state_end(struct gw_session *s, const char *name)
{
    static char rbuf[GW_MAX_IPC_MSG];
    struct gw_ipc_msg rep;
    struct gw_buf msg;
    gw_buf_init(&msg, GW_MAX_IPC_MSG);
    if (state_msg(&msg, GW_IPC_STATE_END, name) == 0)
        state_call(s, &msg, rbuf, &rep);
    gw_buf_free(&msg);
}
