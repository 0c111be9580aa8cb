/* The privileged parent process (server.h): accept, fork one session per connection,
 * answer the sessions' authentication and audit requests, enforce session limits,
 * reap sessions, stop gracefully. One thread runs poll(2) and owns every table;
 * signals arrive through a self-pipe. Password hashing alone runs on worker threads
 * (gateway/authpool.h), so a storm of logins does not stall other sessions' requests;
 * the session that asked waits for its reply, and the parent reads nothing more from it
 * until the answer is sent (its requests stay in order). Each loop turn serves at most
 * GW_IPC_BATCH messages per session, so a busy session cannot starve the others.
 *
 * With `state_db` (shared state in PostgreSQL) the parent never waits for the database
 * either: a background thread (gateway/statesync.h) owns the connection, hands over
 * users snapshots and cross-node throttle counts, and writes the audit records this
 * thread queues. While the database is unreachable, password and key logins are
 * refused (THROTTLED, audited "state database unavailable"); anonymous logins, which
 * need no user table, still work; records queue (and spill to a file past the bound)
 * until it is back. A synchronous GW_IPC_AUDIT is answered once its record is queued.
 * WebDAV's shared blobs go through gateway/stateipc.h. */
#include "gateway/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gateway/authpool.h"
#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/path.h"
#include "gateway/proxyconn.h"
#include "gateway/sandbox.h"
#include "gateway/session.h"
#include "gateway/statesync.h"
#include "gateway/users.h"
#include "gateway/stateipc.h"

struct pending_auth;

struct psess {
    pid_t pid;
    int ipc;                 /* -1 once the session closed its end */
    const struct gw_listener_def *l;
    char id[17];
    char remote[64];
    char addr[48];
    bool logged_in;
    bool anonymous;
    bool read_only;          /* logged in read-only (anonymous is too) */
    char user[GW_MAX_USER_NAME + 1];
    int64_t started_ms;
    struct pending_auth *pending; /* its password check in the pool, or NULL */
    bool proxied;            /* addr/remote came from its balancer's PROXY header */
};

/* A password check handed to the worker pool: what the parent needs to finish the login
 * when the verdict comes (the pool sees only the hash and the password). */
struct pending_auth {
    struct pending_auth *next;   /* S.pending list */
    struct psess snap;           /* the session as it asked: used if it is gone by then */
    bool orphan;                 /* the session ended while its check was queued */
    bool known;                  /* the user exists */
    bool read_only;
    bool tagged;                 /* tag holds the credential cache key */
    unsigned char tag[32];
    uint64_t users_gen; /* C.gen when the hash was taken */
    char proto[8];
    char user[GW_MAX_USER_NAME + 1];
    char home[GW_MAX_PATH];
};

/* Parent state: one server per process. */
static struct {
    struct gw_server_ctx *ctx;
    int lfd[GW_MAX_LISTENERS];
    int sigpipe[2];
    struct psess *sess;
    size_t nsess, cap;
    struct auth_throttle *throttle;
    struct gw_authpool *pool;
    struct pending_auth *pending; /* every check in the pool, orphans included */
    bool stopping;
    int64_t stop_deadline;
    struct gw_statesync *sync; /* state_db set: the database link, else NULL */
    struct gw_stateipc *stateipc; /* state_db set: WebDAV's shared blobs */
    int64_t db_down_logged; /* when "logins refused" was last logged */
    bool have_run_as;
    uid_t run_uid;
    gid_t run_gid;
    char ipcbuf[GW_MAX_IPC_MSG];
} S = {.sigpipe = {-1, -1}};

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    int saved = errno;
    if (write(S.sigpipe[1], &c, 1) < 0) {
        /* pipe full: a wake-up is already pending */
    }
    errno = saved;
}

static int64_t now_ms(void)
{
    return gw_now_ms();
}

int gw_mkdir_beneath(const char *base, const char *rel, unsigned mode)
{
    int rc = 0;
    int dfd = open(base, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (dfd < 0)
        return gw_err_from_errno(errno);
    char copy[GW_MAX_PATH];
    snprintf(copy, sizeof copy, "%s", rel);
    char *save = NULL;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
            rc = GW_ERR_ESCAPE;
            break;
        }
        if (mkdirat(dfd, comp, mode) != 0 && errno != EEXIST) {
            rc = gw_err_from_errno(errno);
            break;
        }
        int next = openat(dfd, comp, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            struct stat st;
            bool link = fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            rc = link ? GW_ERR_ESCAPE : gw_err_from_errno(errno);
            break;
        }
        close(dfd);
        dfd = next;
    }
    close(dfd);
    return rc;
}

static int bind_one(const char *host, int port, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errsz, "listen address %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (res->ai_family == AF_INET6) {
            int zero = 0; /* "::" also accepts IPv4, like most daemons */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        }
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 511) != 0) {
            snprintf(err, errsz, "cannot listen on %s port %d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    } else {
        snprintf(err, errsz, "socket: %s", strerror(errno));
    }
    freeaddrinfo(res);
    return fd;
}

int gw_server_bind(struct gw_server_ctx *ctx, char *err, size_t errsz)
{
    S.ctx = ctx;
    for (size_t i = 0; i < ctx->nlisteners && i < GW_MAX_LISTENERS; i++) {
        S.lfd[i] = -1;
        if (ctx->listeners[i].port == 0)
            continue;
        S.lfd[i] = bind_one(ctx->cfg->listen, ctx->listeners[i].port, err, errsz);
        if (S.lfd[i] < 0)
            return GW_ERR_CONFIG;
    }
    if (ctx->cfg->run_as[0]) {
        struct passwd *pw = getpwnam(ctx->cfg->run_as);
        if (!pw) {
            snprintf(err, errsz, "run_as: no such user '%s'", ctx->cfg->run_as);
            return GW_ERR_CONFIG;
        }
        S.have_run_as = true;
        S.run_uid = pw->pw_uid;
        S.run_gid = pw->pw_gid;
    }
    return 0;
}

/* Records for the audit file wait here for the end of the loop iteration that produced
 * them, then go out with one lock and one write(2) (audit_append_many): under load a
 * wake-up carries records from many sessions, and appending them one by one cost the
 * parent six system calls each. Order is kept (every record of the parent goes through
 * here), the time stamp is taken when the record arrives, and nothing waits past the
 * next poll(2): the loop flushes before it sleeps, before a fork and before it ends. */
#define AUDIT_BATCH_MAX 64

static struct {
    struct audit_record r[AUDIT_BATCH_MAX];
    char *mem[AUDIT_BATCH_MAX]; /* the strings of r[i], in one allocation */
    size_t n;
} AB;

static int audit_flush(void)
{
    if (AB.n == 0)
        return 0;
    int rc = audit_append_many(S.ctx->audit, AB.r, AB.n);
    if (rc < 0)
        gw_log(GW_LOG_ERROR, "audit log write failed (%zu records): %s", AB.n, gw_strerror(rc));
    for (size_t i = 0; i < AB.n; i++)
        free(AB.mem[i]);
    AB.n = 0;
    return rc;
}

/* Copies r, its strings included, into the batch. */
static int audit_batch_add(const struct audit_record *r)
{
    if (AB.n == AUDIT_BATCH_MAX) {
        int rc = audit_flush();
        if (rc < 0)
            return rc;
    }
    size_t total = audit_record_strings_size(r);
    char *mem = malloc(total ? total : 1);
    if (!mem)
        return GW_ERR_NOMEM;
    struct audit_record *d = &AB.r[AB.n];
    audit_record_copy(d, r, mem);
    if (d->ts_ms <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        d->ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    AB.mem[AB.n++] = mem;
    return 0;
}

/* One record to the audit log: the file (batched, see above; sync: written before
 * returning, for a caller that reports the result), or the state database's queue. */
static int audit_write_ex(const struct audit_record *r, bool sync)
{
    int rc;
    if (S.sync) {
        rc = gw_statesync_audit(S.sync, r);
    } else {
        rc = audit_batch_add(r);
        if (rc < 0)
            rc = audit_append(S.ctx->audit, r); /* no memory: the slow way, in order */
        else if (sync)
            rc = audit_flush();
    }
    gw_metrics_audit(r);
    return rc;
}

static int audit_write(const struct audit_record *r)
{
    return audit_write_ex(r, false);
}

static void audit_parent(const struct psess *p, const char *event, const char *user,
                         const char *status, const char *error, const char *proto)
{
    struct audit_record r;
    audit_record_init(&r);
    r.event = event;
    r.proto = proto ? proto : p->l->proto;
    r.session = p->id;
    r.user = user;
    r.remote = p->remote;
    r.status = status;
    r.error = error;
    if (strcmp(event, "logout") == 0)
        r.duration_ms = now_ms() - p->started_ms;
    int rc = audit_write(&r);
    if (rc < 0)
        gw_log(GW_LOG_ERROR, "audit log write failed: %s", gw_strerror(rc));
}

/* The audit proto a session may claim: its listener's, or ftps for an ftp listener
 * after AUTH TLS. */
static const char *checked_proto(const struct psess *p, const struct gw_ipc_msg *m, char *buf,
                                 size_t bufsz)
{
    if (!gw_ipc_get_str(m, GW_F_A_PROTO, buf, bufsz))
        return p->l->proto;
    if (strcmp(buf, p->l->proto) == 0 || (strcmp(p->l->proto, "ftp") == 0 && strcmp(buf, "ftps") == 0))
        return buf;
    return NULL;
}

static void reply_result(struct gw_buf *rep, int result, int64_t delay)
{
    gw_ipc_begin(rep, GW_IPC_REPLY);
    gw_ipc_put_int(rep, GW_F_RESULT, result);
    if (delay > 0)
        gw_ipc_put_int(rep, GW_F_DELAY, delay);
}

static void login_ok(struct psess *p, struct gw_buf *rep, const char *user, const char *home,
                     bool ro, bool anon, const char *proto)
{
    if (strcmp(home, "/") != 0) {
        int rc = gw_mkdir_beneath(S.ctx->cfg->root, home, 0755);
        if (rc < 0)
            gw_log(GW_LOG_WARN, "cannot create home %s for %s: %s", home, user, gw_strerror(rc));
        else if (S.have_run_as) {
            char path[GW_MAX_PATH];
            snprintf(path, sizeof path, "%s%s", S.ctx->cfg->root, home);
            if (lchown(path, S.run_uid, S.run_gid) != 0)
                gw_log(GW_LOG_WARN, "cannot chown home %s: %s", path, strerror(errno));
        }
    }
    p->logged_in = true;
    p->anonymous = anon;
    p->read_only = ro || anon;
    snprintf(p->user, sizeof p->user, "%s", user);
    reply_result(rep, GW_AUTH_OK, 0);
    gw_ipc_put_str(rep, GW_F_USER, user);
    gw_ipc_put_str(rep, GW_F_HOME, home);
    gw_ipc_put_int(rep, GW_F_READONLY, ro || anon);
    audit_parent(p, "login", user, "ok", NULL, proto);
    gw_log(GW_LOG_INFO, "session %s: %s logged in from %s", p->id, user, p->remote);
}

/* A failed login counts here and, with state_db, across nodes: the total comes back
 * later (sync_event) and this node then delays the address as if every failure had
 * happened here. */
static void throttle_fail(const char *addr)
{
    auth_throttle_fail(S.throttle, addr, now_ms());
    if (S.sync)
        gw_statesync_throttle_fail(S.sync, addr, AUTH_THROTTLE_WINDOW_MS);
}

static void throttle_ok(const char *addr)
{
    auth_throttle_ok(S.throttle, addr);
    if (S.sync)
        gw_statesync_throttle_ok(S.sync, addr);
}

static void login_failed(struct psess *p, struct gw_buf *rep, const char *user, const char *why,
                         const char *proto)
{
    int64_t t = now_ms();
    throttle_fail(p->addr);
    int64_t delay = auth_throttle_delay(S.throttle, p->addr, t);
    reply_result(rep, GW_AUTH_DENIED, delay < 300 ? 300 : delay);
    audit_parent(p, "login_failed", user, "failed", why, proto);
    gw_log(GW_LOG_INFO, "session %s: login failed for '%s' from %s: %s", p->id, user, p->remote,
           why);
}

/* Verified passwords are remembered for a short while, so yescrypt runs once per client
 * rather than once per connection (WebDAV clients open many; per-request yescrypt caps
 * the server near 130 logins/s). Entries are keyed by HMAC-SHA256 of user and password
 * under a key that lives only in this process's memory, never store the password, expire
 * after CRED_TTL_MS, and all go when the users change (the file, or with state_db a
 * snapshot of another revision). */
#define CRED_SLOTS 256
#define CRED_TTL_MS (60 * 1000)

static struct {
    unsigned char key[32];
    bool keyed;
    struct timespec users_mtime;
    uint64_t gen; /* bumped whenever the slots are cleared for a users change */
    struct {
        unsigned char tag[32];
        int64_t expires;
    } slot[CRED_SLOTS];
} C;

static bool cred_tag(const char *user, const char *pass, unsigned char tag[32])
{
    unsigned char msg[GW_MAX_USER_NAME + 1 + GW_MAX_PASSWORD + 1];
    size_t ul = strlen(user), pl = strlen(pass);
    unsigned len = 0;
    if (!C.keyed) {
        if (getrandom(C.key, sizeof C.key, 0) != sizeof C.key)
            return false;
        C.keyed = true;
    }
    if (ul + 1 + pl > sizeof msg)
        return false;
    memcpy(msg, user, ul + 1);
    memcpy(msg + ul + 1, pass, pl);
    bool ok = HMAC(EVP_sha256(), C.key, sizeof C.key, msg, ul + 1 + pl, tag, &len) && len == 32;
    explicit_bzero(msg, sizeof msg);
    return ok;
}

static void cred_forget_all(void)
{
    memset(C.slot, 0, sizeof C.slot);
    C.gen++;
}

/* Forgets everything when the users file changed (a new password, a deleted user).
 * With state_db, users_take_snapshot does it when the revision moves. */
static void cred_check_users(void)
{
    struct stat st;
    if (S.sync)
        return;
    if (stat(S.ctx->users_path, &st) != 0 || st.st_mtim.tv_sec != C.users_mtime.tv_sec ||
        st.st_mtim.tv_nsec != C.users_mtime.tv_nsec) {
        cred_forget_all();
        if (stat(S.ctx->users_path, &st) == 0)
            C.users_mtime = st.st_mtim;
    }
}

static bool cred_known(const unsigned char tag[32])
{
    int64_t t = now_ms();
    size_t i = tag[0] % CRED_SLOTS;
    return C.slot[i].expires > t && CRYPTO_memcmp(C.slot[i].tag, tag, 32) == 0;
}

static void cred_remember(const unsigned char tag[32])
{
    size_t i = tag[0] % CRED_SLOTS;
    memcpy(C.slot[i].tag, tag, 32);
    C.slot[i].expires = now_ms() + CRED_TTL_MS;
}

/* The users file, parsed once and kept while it is unchanged (same inode, size and
 * mtime): parsing it for every login made a storm of logins quadratic in the number of
 * users. Edits (`ferry user`, an admin's editor) replace or touch the file. */
static struct {
    struct auth_db db;
    bool loaded;
    struct stat st;
    int64_t rev; /* state_db: the snapshot's revision */
} U;

/* Frees the cached users, wiping their hashes first (a forked session must not keep
 * them). */
static void users_forget(void)
{
    for (size_t i = 0; U.loaded && i < U.db.nusers; i++)
        if (U.db.users[i].hash)
            explicit_bzero(U.db.users[i].hash, strlen(U.db.users[i].hash));
    if (U.loaded)
        auth_db_free(&U.db);
    U.loaded = false;
}

/* state_db: adopts the thread's newest users snapshot, if any. */
static void users_take_snapshot(void)
{
    struct auth_db fresh = {0};
    int64_t rev = 0;
    if (!gw_statesync_take_users(S.sync, &fresh, &rev))
        return;
    bool changed = !U.loaded || rev != U.rev;
    users_forget();
    U.db = fresh;
    U.loaded = true;
    U.rev = rev;
    if (changed)
        cred_forget_all();
}

static const struct auth_db *users_db(char *err, size_t errsz)
{
    struct stat st;
    if (S.sync) {
        users_take_snapshot();
        if (!U.loaded)
            snprintf(err, errsz, "no users loaded from the state database yet");
        return U.loaded ? &U.db : NULL;
    }
    if (stat(S.ctx->users_path, &st) != 0) {
        snprintf(err, errsz, "%s", strerror(errno));
        return NULL;
    }
    if (U.loaded && st.st_ino == U.st.st_ino && st.st_dev == U.st.st_dev &&
        st.st_size == U.st.st_size && st.st_mtim.tv_sec == U.st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == U.st.st_mtim.tv_nsec)
        return &U.db;
    users_forget();
    if (auth_db_load(S.ctx->users_path, &U.db, err, errsz) != 0)
        return NULL;
    U.loaded = true;
    U.st = st;
    return &U.db;
}

/* Hands a password check to the worker pool. True when the request is taken care of:
 * queued (auth_done replies later) or refused because the queue is full. False when
 * the pool cannot take it at all: the caller then checks inline. */
static bool submit_password(struct psess *p, struct gw_buf *rep, const struct auth_user *u,
                            const char *user, const char *pass, const unsigned char *tag,
                            const char *proto)
{
    struct pending_auth *pa = S.pool ? calloc(1, sizeof *pa) : NULL;
    if (!pa)
        return false;
    pa->snap = *p;
    pa->known = u != NULL;
    pa->read_only = u && u->read_only;
    pa->tagged = tag != NULL;
    if (tag)
        memcpy(pa->tag, tag, sizeof pa->tag);
    pa->users_gen = C.gen;
    snprintf(pa->proto, sizeof pa->proto, "%s", proto);
    snprintf(pa->user, sizeof pa->user, "%s", u ? u->name : user);
    snprintf(pa->home, sizeof pa->home, "%s", u ? u->home : "/");
    int rc = gw_authpool_submit(S.pool, p->addr, (uint64_t)(uintptr_t)pa, u ? u->hash : NULL, pass);
    if (rc == 0) {
        pa->next = S.pending;
        S.pending = pa;
        p->pending = pa;
        return true;
    }
    free(pa);
    if (rc != GW_ERR_LIMIT)
        return false;
    /* A temporary failure: the client may retry; it is not the user's fault, so the
     * throttle does not count it. */
    reply_result(rep, GW_AUTH_THROTTLED, 1000);
    audit_parent(p, "login_failed", user, "failed", "server busy", proto);
    gw_log(GW_LOG_WARN, "session %s: login queue full, login of '%s' refused", p->id, user);
    return true;
}

/* With state_db down: how long a refused client is told to wait, and how often the
 * refusals are logged (each is audited). */
#define DB_DOWN_DELAY_MS 1000
#define DB_DOWN_LOG_MS 10000

static void handle_auth(struct psess *p, const struct gw_ipc_msg *m, struct gw_buf *rep)
{
    char user[GW_MAX_USER_NAME + 1] = "", pass[GW_MAX_PASSWORD + 1], type[64], blob[8192];
    char protobuf[8], err[256];
    const char *proto = checked_proto(p, m, protobuf, sizeof protobuf);
    int64_t probe = 0;
    const struct auth_db *db;
    if (!proto || p->logged_in || p->pending) {
        reply_result(rep, GW_AUTH_DENIED, 0);
        return;
    }
    if (m->type == GW_IPC_AUTH_ANON) {
        if (!S.ctx->cfg->anonymous) {
            login_failed(p, rep, "anonymous", "anonymous access is disabled", proto);
            return;
        }
        gw_mkdir_beneath(S.ctx->cfg->root, S.ctx->cfg->anon_root, 0755);
        login_ok(p, rep, "anonymous", S.ctx->cfg->anon_root, true, true, proto);
        return;
    }
    if (!gw_ipc_get_str(m, GW_F_USER, user, sizeof user) || !auth_name_valid(user)) {
        login_failed(p, rep, user[0] ? user : "?", "invalid user name", proto);
        return;
    }
    int64_t wait = auth_throttle_delay(S.throttle, p->addr, now_ms());
    if (wait > 0) {
        reply_result(rep, GW_AUTH_THROTTLED, wait);
        audit_parent(p, "login_failed", user, "failed", "throttled", proto);
        return;
    }
    if (S.sync && (!gw_statesync_up(S.sync) || !users_db(err, sizeof err))) {
        /* Not the user's fault: no throttle count; the client may retry. */
        if (m->type == GW_IPC_AUTH_KEY)
            gw_ipc_get_int(m, GW_F_PROBE, &probe);
        reply_result(rep, GW_AUTH_THROTTLED, DB_DOWN_DELAY_MS);
        if (!probe)
            audit_parent(p, "login_failed", user, "failed", "state database unavailable", proto);
        int64_t t = now_ms();
        if (S.db_down_logged == 0 || t - S.db_down_logged >= DB_DOWN_LOG_MS) {
            S.db_down_logged = t;
            gw_log(GW_LOG_WARN,
                   "session %s: login of '%s' from %s refused: state database "
                   "unavailable",
                   p->id, user, p->remote);
        }
        return;
    }
    if (!(db = users_db(err, sizeof err))) {
        gw_log(GW_LOG_ERROR, "users file %s: %s", S.ctx->users_path, err);
        reply_result(rep, GW_AUTH_DENIED, 0);
        return;
    }
    const struct auth_user *u = auth_db_find(db, user);
    bool ok = false, handled = false;
    if (m->type == GW_IPC_AUTH_PASSWORD) {
        /* auth_check_password hashes even for unknown users: no timing oracle. A cached
         * credential never waits for the pool. */
        unsigned char tag[32];
        if (gw_ipc_get_str(m, GW_F_PASSWORD, pass, sizeof pass)) {
            bool tagged = cred_tag(user, pass, tag);
            cred_check_users();
            if (u && tagged && cred_known(tag)) {
                ok = true;
            } else if (submit_password(p, rep, u, user, pass, tagged ? tag : NULL, proto)) {
                handled = true;
            } else {
                ok = auth_check_password(u, pass) && u;
                if (ok && tagged)
                    cred_remember(tag);
            }
        }
        explicit_bzero(pass, sizeof pass);
        if (handled)
            return;
    } else if (gw_ipc_get_str(m, GW_F_KEYTYPE, type, sizeof type) &&
               gw_ipc_get_str(m, GW_F_KEYBLOB, blob, sizeof blob)) {
        ok = u && auth_check_key(u, type, blob);
        gw_ipc_get_int(m, GW_F_PROBE, &probe);
    }
    if (ok && probe) {
        reply_result(rep, GW_AUTH_OK, 0);
    } else if (ok) {
        throttle_ok(p->addr);
        login_ok(p, rep, u->name, u->home, u->read_only, false, proto);
    } else if (!probe) {
        login_failed(p, rep, user, u ? "wrong credentials" : "unknown user", proto);
    } else {
        reply_result(rep, GW_AUTH_DENIED, 0);
    }
}

/* Unlinks pa from S.pending and frees it. */
static void pending_free(struct pending_auth *pa)
{
    for (struct pending_auth **pp = &S.pending; *pp; pp = &(*pp)->next)
        if (*pp == pa) {
            *pp = pa->next;
            break;
        }
    free(pa);
}

static struct psess *pending_owner(const struct pending_auth *pa)
{
    for (size_t i = 0; !pa->orphan && i < S.nsess; i++)
        if (S.sess[i].pending == pa)
            return &S.sess[i];
    return NULL;
}

static void close_channel(struct psess *p);

static void send_reply(struct psess *p, const struct gw_buf *rep)
{
    /* Never blocks: a session has at most one request outstanding, so its queue has room
     * for the reply unless it misbehaves; then it loses its channel. */
    if (rep->len && p->ipc >= 0 && gw_ipc_try_send(p->ipc, rep) < 0) {
        gw_log(GW_LOG_WARN, "session %s: cannot reply; closing its channel", p->id);
        close_channel(p);
    }
}

/* Finishes a login whose password check came back from the pool. */
static void auth_done(uint64_t cookie, enum gw_authpool_verdict v)
{
    struct pending_auth *pa = (struct pending_auth *)(uintptr_t)cookie;
    struct psess *p = pending_owner(pa);
    bool ok = v == GW_AUTHPOOL_OK && pa->known;
    const char *why = pa->known ? "wrong credentials" : "unknown user";
    struct gw_buf rep;
    gw_buf_init(&rep, GW_MAX_IPC_MSG);
    if (p)
        p->pending = NULL;
    if (v == GW_AUTHPOOL_CANCELLED) {
        if (p) {
            reply_result(&rep, GW_AUTH_THROTTLED, 0);
            send_reply(p, &rep);
        }
    } else if (!p) {
        /* The client left before the answer: a wrong password still counts against its
         * address (hanging up early must not dodge the throttle). */
        if (!ok) {
            throttle_fail(pa->snap.addr);
            audit_parent(&pa->snap, "login_failed", pa->user, "failed", why, pa->proto);
        }
    } else if (ok) {
        /* Remember the credential only if the users file is still the one checked. */
        if (pa->tagged && pa->users_gen == C.gen)
            cred_remember(pa->tag);
        throttle_ok(p->addr);
        login_ok(p, &rep, pa->user, pa->home, pa->read_only, false, pa->proto);
        send_reply(p, &rep);
    } else {
        login_failed(p, &rep, pa->user, why, pa->proto);
        send_reply(p, &rep);
    }
    gw_buf_free(&rep);
    pending_free(pa);
}

static void collect_auth_results(void)
{
    uint64_t cookie;
    enum gw_authpool_verdict v;
    while (S.pool && gw_authpool_result(S.pool, &cookie, &v))
        auth_done(cookie, v);
}

/* Writes a session's audit record; the reply (RESULT) only for GW_IPC_AUDIT. A
 * rejected record is logged either way. */
static unsigned sessions_from(const char *addr);

/* The client address a session read from its balancer's PROXY header: believed once,
 * before any login, and only from a session whose TCP peer is in proxy_trusted. From
 * then on audit records, throttling and the per-address limit use it. */
static void handle_proxy(struct psess *p, const struct gw_ipc_msg *m, struct gw_buf *rep)
{
    char addr[sizeof p->addr], remote[sizeof p->remote], claimed[INET6_ADDRSTRLEN];
    int64_t port = -1;
    int rc = GW_ERR_PERM;
    if (!p->proxied && !p->logged_in && !p->pending &&
        gw_ipc_get_str(m, GW_F_P_ADDR, claimed, sizeof claimed) &&
        gw_ipc_get_int(m, GW_F_P_PORT, &port))
        rc = gw_proxy_check_claim(S.ctx->cfg, p->addr, claimed, port, addr, sizeof addr, remote,
                                  sizeof remote);
    if (rc == 0 && sessions_from(addr) >= (unsigned)S.ctx->cfg->max_per_address)
        rc = GW_ERR_LIMIT;
    if (rc == 0) {
        gw_log(GW_LOG_DEBUG, "session %s: client %s via proxy %s", p->id, remote, p->remote);
        p->proxied = true;
        snprintf(p->addr, sizeof p->addr, "%s", addr);
        snprintf(p->remote, sizeof p->remote, "%s", remote);
    } else {
        gw_log(GW_LOG_WARN, "session %s: client address from %s refused: %s", p->id, p->remote,
               rc == GW_ERR_LIMIT ? "max_per_address reached" : gw_strerror(rc));
    }
    reply_result(rep, rc, 0);
}

static void handle_audit(struct psess *p, const struct gw_ipc_msg *m, struct gw_buf *rep)
{
    char event[16], proto_buf[8], status[16], path[GW_MAX_PATH], path2[GW_MAX_PATH];
    char error[512], sha[65];
    struct audit_record r;
    audit_record_init(&r);
    r.session = p->id;
    r.remote = p->remote;
    r.user = p->logged_in ? p->user : NULL;
    r.proto = checked_proto(p, m, proto_buf, sizeof proto_buf);
    if (gw_ipc_get_str(m, GW_F_A_EVENT, event, sizeof event))
        r.event = event;
    if (gw_ipc_get_str(m, GW_F_A_STATUS, status, sizeof status))
        r.status = status;
    if (gw_ipc_get_str(m, GW_F_A_PATH, path, sizeof path))
        r.path = path;
    if (gw_ipc_get_str(m, GW_F_A_PATH2, path2, sizeof path2))
        r.path2 = path2;
    if (gw_ipc_get_str(m, GW_F_A_ERROR, error, sizeof error))
        r.error = error;
    if (gw_ipc_get_str(m, GW_F_A_SHA256, sha, sizeof sha))
        r.sha256 = sha;
    gw_ipc_get_int(m, GW_F_A_BYTES, &r.bytes);
    gw_ipc_get_int(m, GW_F_A_OFFSET, &r.offset);
    gw_ipc_get_int(m, GW_F_A_SIZE, &r.size);
    gw_ipc_get_int(m, GW_F_A_DURATION, &r.duration_ms);
    /* Sessions report file operations, never logins: those are the parent's. */
    bool ok = r.proto && r.event && strcmp(r.event, "login") && strcmp(r.event, "login_failed") &&
              strcmp(r.event, "logout") && audit_record_valid(&r);
    int rc = ok ? audit_write_ex(&r, m->type == GW_IPC_AUDIT) : GW_ERR_INVAL;
    if (!ok)
        gw_log(GW_LOG_WARN, "session %s: rejected an invalid audit record", p->id);
    else if (rc < 0)
        gw_log(GW_LOG_ERROR, "audit log write failed: %s", gw_strerror(rc));
    if (m->type == GW_IPC_AUDIT)
        reply_result(rep, rc < 0 ? rc : 0, 0);
}

/* A session's shared-state owner id: its pid, unique among live sessions. */
static uint64_t state_owner(const struct psess *p)
{
    return (uint64_t)p->pid;
}

/* The session's channel is gone: what it held in shared state is rolled back. */
static void close_channel(struct psess *p)
{
    if (p->ipc >= 0)
        close(p->ipc);
    p->ipc = -1;
    if (S.stateipc)
        gw_stateipc_release(S.stateipc, state_owner(p));
}

/* GW_IPC_STATE_*: WebDAV's shared blobs, only with state_db (without it the front end
 * keeps them in files and never asks). */
static void handle_state(struct psess *p, const struct gw_ipc_msg *m, struct gw_buf *rep)
{
    /* Only a logged-in session has WebDAV state to keep, and a read-only one (anonymous
     * included) never changes it: it may read, not hold a blob for writing. */
    bool writes = m->type == GW_IPC_STATE_PUT ||
                  (m->type == GW_IPC_STATE_GET && gw_ipc_has(m, GW_F_S_WRITE));
    if (!S.stateipc || !p->logged_in || (writes && p->read_only)) {
        reply_result(rep, GW_ERR_PERM, 0);
        return;
    }
    gw_stateipc_handle(S.stateipc, state_owner(p), m, rep);
}

/* Serves one queued message of p without blocking; false when none was waiting or the
 * channel is gone. */
/* Serves one message of p. Returns -1 when there was none (or the channel closed), 1
 * when another may be served now, 0 after an asynchronous audit record: a session sends
 * one per operation and then waits for its client, so the loop looks at the next turn
 * (which comes at once if more is queued) rather than spend a recv(2) that, under load,
 * nearly always finds nothing. */
static int serve_one(struct psess *p)
{
    struct gw_ipc_msg m;
    struct gw_buf rep;
    int more = 1;
    ssize_t n = gw_ipc_try_recv(p->ipc, S.ipcbuf, sizeof S.ipcbuf);
    if (n == GW_ERR_AGAIN)
        return -1;
    if (n <= 0) {
        close_channel(p);
        return -1;
    }
    gw_buf_init(&rep, GW_MAX_IPC_MSG);
    if (gw_ipc_decode(S.ipcbuf, (size_t)n, &m) != 0) {
        gw_log(GW_LOG_WARN, "session %s: malformed request; closing its channel", p->id);
        close_channel(p);
    } else {
        switch (m.type) {
        case GW_IPC_AUTH_PASSWORD:
        case GW_IPC_AUTH_KEY:
        case GW_IPC_AUTH_ANON: handle_auth(p, &m, &rep); break;
        case GW_IPC_AUDIT: handle_audit(p, &m, &rep); break;
        case GW_IPC_AUDIT_ASYNC:
            handle_audit(p, &m, &rep);
            more = 0;
            break;
        case GW_IPC_PROXY: handle_proxy(p, &m, &rep); break;
        case GW_IPC_STATE_GET:
        case GW_IPC_STATE_PUT:
        case GW_IPC_STATE_END:
            handle_state(p, &m, &rep);
            break;
        default: reply_result(&rep, GW_ERR_PROTO, 0); break;
        }
        send_reply(p, &rep);
    }
    /* The message may have held a password. */
    explicit_bzero(S.ipcbuf, (size_t)n);
    gw_buf_free(&rep);
    return p->ipc >= 0 ? more : -1;
}

/* Serves up to max queued messages of p, stopping early while its login is being
 * checked (what it sends next must wait for that answer). */
static void handle_ipc(struct psess *p, unsigned max)
{
    for (unsigned i = 0; i < max && p->ipc >= 0 && !p->pending; i++)
        if (serve_one(p) <= 0)
            break;
}

static unsigned sessions_from(const char *addr)
{
    unsigned n = 0;
    for (size_t i = 0; i < S.nsess; i++)
        n += strcmp(S.sess[i].addr, addr) == 0;
    return n;
}

static void drop_privileges(void)
{
    if (!S.have_run_as)
        return;
    if (setgroups(0, NULL) != 0 || setgid(S.run_gid) != 0 || setuid(S.run_uid) != 0) {
        gw_log(GW_LOG_ERROR, "cannot switch to run_as user: %s", strerror(errno));
        _exit(1);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void run_session(const struct gw_listener_def *l, int cfd, int ipc,
                        const struct sockaddr_storage *peer, socklen_t plen, const struct psess *p)
{
    struct gw_session s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < S.ctx->nlisteners; i++)
        if (S.lfd[i] >= 0)
            close(S.lfd[i]);
    for (size_t i = 0; i < S.nsess; i++)
        if (S.sess[i].ipc >= 0)
            close(S.sess[i].ipc);
    close(S.sigpipe[0]);
    close(S.sigpipe[1]);
    audit_close(S.ctx->audit); /* a session never holds the audit log */
    S.ctx->audit = NULL;
    gw_authpool_forget_in_child(S.pool); /* other users' queued passwords */
    S.pool = NULL;
    /* The database connection is the parent's: its socket closes here without a word
     * to the server; S.sync stays set so what libpq allocated stays reachable. */
    gw_statesync_forget_in_child(S.sync);
    gw_stateipc_forget_in_child(S.stateipc); /* the same for WebDAV's pool */
    users_forget();
    while (S.pending)
        pending_free(S.pending);
    gw_session_setup_signals();
    drop_privileges();
    if (gw_sandbox_enter_session(S.ctx->cfg) != 0)
        _exit(1); /* fail closed (the sandbox logged why) */
    s.cfg = S.ctx->cfg;
    s.mount_factory = S.ctx->mount_factory;
    s.keys = S.ctx->keys;
    s.fd = cfd;
    s.ipc = ipc;
    s.implicit_tls = l->implicit_tls;
    memcpy(s.id, p->id, sizeof s.id);
    snprintf(s.proto, sizeof s.proto, "%s", l->proto);
    memcpy(s.remote, p->remote, sizeof s.remote);
    memcpy(s.remote_addr, p->addr, sizeof s.remote_addr);
    memcpy(&s.peer, peer, sizeof *peer);
    s.peer_len = plen;
    s.local_len = sizeof s.local;
    getsockname(cfd, (struct sockaddr *)&s.local, &s.local_len);
    /* Behind a balancer: the PROXY header first, before the front end speaks. */
    int status = gw_proxy_session_start(&s, l->name) == 0 ? l->fe->serve(&s, l->fe_state) : 1;
    close(cfd);
    close(ipc);
    free(S.sess);
    auth_throttle_free(S.throttle);
    exit(status & 0xff);
}

/* Sanitizer builds fork only while no password check runs (gw_authpool_fork_begin):
 * LeakSanitizer in the session would report the check's buffers, referenced only from
 * a worker's stack the child cannot scan, and the sanitizer's allocator is not known to
 * be fork-safe with other threads inside it. glibc's allocator is, and release builds
 * need no memory check, so they do not make a fork wait for a hash. */
#if defined(__SANITIZE_ADDRESS__)
#define FORK_QUIESCE 1
#else
#define FORK_QUIESCE 0
#endif

static void fork_quiesce(bool begin)
{
    if (!FORK_QUIESCE)
        return;
    if (begin) {
        gw_authpool_fork_begin(S.pool);
        gw_statesync_fork_begin(S.sync);
    } else {
        gw_statesync_fork_end(S.sync);
        gw_authpool_fork_end(S.pool);
    }
}

static void accept_one(size_t li)
{
    audit_flush(); /* a forked session must not inherit records to write */
    const struct gw_listener_def *l = &S.ctx->listeners[li];
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int cfd = accept4(S.lfd[li], (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    if (cfd < 0)
        return;
    struct psess p;
    memset(&p, 0, sizeof p);
    gw_format_addr(&peer, p.addr, sizeof p.addr, p.remote, sizeof p.remote);
    const struct gw_config *cfg = S.ctx->cfg;
    const char *refuse = NULL;
    if (S.stopping)
        refuse = "server shutting down";
    else if (S.nsess >= (size_t)cfg->max_sessions)
        refuse = "max_sessions reached";
    else if (!gw_proxy_peer_trusted(cfg, (const struct sockaddr *)&peer) &&
             sessions_from(p.addr) >= (unsigned)cfg->max_per_address)
        refuse = "max_per_address reached"; /* a balancer's: once its session reports */
    int sv[2] = {-1, -1};
    if (!refuse && S.nsess == S.cap) {
        size_t ncap = S.cap ? S.cap * 2 : 64;
        struct psess *ns = realloc(S.sess, ncap * sizeof *ns);
        if (!ns)
            refuse = "out of memory";
        else
            S.sess = ns, S.cap = ncap;
    }
    if (!refuse && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        refuse = "socketpair failed";
    if (refuse) {
        gw_log(GW_LOG_WARN, "%s connection from %s refused: %s", l->name, p.remote, refuse);
        if (l->fe->refuse_message &&
            send(cfd, l->fe->refuse_message, strlen(l->fe->refuse_message),
                 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            /* best effort */
        }
        close(cfd);
        return;
    }
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    for (int i = 0; i < 8; i++)
        snprintf(p.id + 2 * i, 3, "%02x", rnd[i]);
    p.l = l;
    p.started_ms = now_ms();
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fork_quiesce(true);
    pid_t pid = fork();
    if (pid != 0)
        fork_quiesce(false);
    if (pid == 0) {
        close(sv[0]);
        run_session(l, cfd, sv[1], &peer, plen, &p);
    }
    close(sv[1]);
    close(cfd);
    if (pid < 0) {
        gw_log(GW_LOG_ERROR, "fork: %s", strerror(errno));
        close(sv[0]);
        return;
    }
    p.pid = pid;
    p.ipc = sv[0];
    S.sess[S.nsess++] = p;
    gw_metrics_session_open(l->proto);
    gw_log(GW_LOG_DEBUG, "session %s: %s connection from %s (pid %d)", p.id, l->name, p.remote,
           (int)pid);
}

static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < S.nsess; i++) {
            struct psess *p = &S.sess[i];
            if (p->pid != pid)
                continue;
            /* Serve everything the session queued before it ended (its last audit
                 * records), all of it, before its logout record. */
            while (p->ipc >= 0 && serve_one(p) >= 0)
                ;
            if (p->ipc >= 0)
                close_channel(p);
            if (p->pending)
                p->pending->orphan = true;
            char why[64] = "";
            if (WIFSIGNALED(status)) {
                snprintf(why, sizeof why, "session ended by signal %d", WTERMSIG(status));
                gw_log(GW_LOG_WARN, "session %s (pid %d): %s", p->id, (int)pid, why);
            }
            if (p->logged_in)
                audit_parent(p, "logout", p->user, why[0] ? "aborted" : "ok", why[0] ? why : NULL,
                             NULL);
            gw_metrics_session_close(p->l->proto);
            S.sess[i] = S.sess[--S.nsess];
            break;
        }
    }
}

static void reload(void)
{
    if (S.ctx->audit && audit_reopen(S.ctx->audit) < 0)
        gw_log(GW_LOG_ERROR, "cannot reopen the audit log");
    if (S.sync && gw_statesync_set_outputs(S.sync, S.ctx->cfg->xferlog, S.ctx->cfg->syslog) < 0)
        gw_log(GW_LOG_ERROR, "cannot reopen the xferlog %s", S.ctx->cfg->xferlog);
    if (S.sync)
        gw_statesync_reload_users(S.sync);
    if (!S.ctx->config_path) {
        gw_log(GW_LOG_INFO, "SIGHUP: logs reopened");
        return;
    }
    struct gw_config fresh;
    char err[512];
    cfg_defaults(&fresh);
    if (cfg_load(&fresh, S.ctx->config_path, err, sizeof err) != 0) {
        gw_log(GW_LOG_ERROR, "SIGHUP: configuration not reloaded: %s", err);
    } else {
        /* Limits and policies apply to new sessions; listeners, root and state need a
         * restart. */
        struct gw_config *c = S.ctx->cfg;
        c->anonymous = fresh.anonymous;
        c->max_sessions = fresh.max_sessions;
        c->max_per_address = fresh.max_per_address;
        c->login_timeout = fresh.login_timeout;
        c->idle_timeout = fresh.idle_timeout;
        c->data_timeout = fresh.data_timeout;
        c->max_login_fails = fresh.max_login_fails;
        c->partial_ttl = fresh.partial_ttl;
        c->shutdown_grace = fresh.shutdown_grace;
        c->ftp_require_tls = fresh.ftp_require_tls;
        c->ftp_allow_plaintext = fresh.ftp_allow_plaintext;
        int orc = 0;
        if (S.ctx->audit)
            orc = audit_set_outputs(S.ctx->audit, fresh.xferlog, fresh.syslog);
        else if (S.sync)
            orc = gw_statesync_set_outputs(S.sync, fresh.xferlog, fresh.syslog);
        if (orc < 0)
            gw_log(GW_LOG_ERROR, "SIGHUP: cannot open the xferlog %s: keeping the old one",
                   fresh.xferlog);
        gw_log(GW_LOG_INFO, "SIGHUP: configuration reloaded, logs reopened");
    }
    cfg_free(&fresh);
}

static void begin_stop(void)
{
    if (S.stopping)
        return;
    S.stopping = true;
    S.stop_deadline = now_ms() + (int64_t)S.ctx->cfg->shutdown_grace * 1000;
    for (size_t i = 0; i < S.ctx->nlisteners; i++)
        if (S.lfd[i] >= 0) {
            close(S.lfd[i]);
            S.lfd[i] = -1;
        }
    for (size_t i = 0; i < S.nsess; i++)
        kill(S.sess[i].pid, SIGTERM);
    gw_log(GW_LOG_INFO, "stopping: %zu session(s) have %ds to finish", S.nsess,
           S.ctx->cfg->shutdown_grace);
}

static bool verify_password(const char *hash, const char *password)
{
    struct auth_user u = {.hash = (char *)hash};
    return auth_check_password(hash ? &u : NULL, password) && hash;
}

static struct gw_authpool *start_auth_pool(const struct gw_config *cfg)
{
    long n = cfg->auth_workers;
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > GW_MAX_AUTH_WORKERS)
        n = GW_MAX_AUTH_WORKERS;
    struct gw_authpool *pool = gw_authpool_new((unsigned)n, GW_MAX_AUTH_QUEUE, verify_password);
    if (!pool)
        gw_log(GW_LOG_WARN, "cannot start password workers: checking passwords inline");
    return pool;
}

/* state_db: the background link, started with the server loop. */
static int start_statesync(const struct gw_config *cfg)
{
    char node[256] = "";
    unsigned char *key = NULL;
    size_t keylen = 0;
    int rc = cfg->audit_key[0] ? audit_key_load(cfg->audit_key, &key, &keylen) : 0;
    if (rc < 0) {
        gw_log(GW_LOG_ERROR, "audit_key %s: %s", cfg->audit_key, gw_strerror(rc));
        return rc;
    }
    if (cfg->node_name[0])
        snprintf(node, sizeof node, "%s", cfg->node_name);
    else if (gethostname(node, sizeof node - 1) != 0)
        snprintf(node, sizeof node, "ferry");
    S.sync = gw_statesync_new(cfg->state_db, node, key, keylen, cfg->state);
    audit_key_free(key, keylen);
    if (!S.sync)
        return GW_ERR_NOMEM;
    rc = gw_statesync_set_outputs(S.sync, cfg->xferlog, cfg->syslog);
    if (rc < 0) {
        gw_log(GW_LOG_ERROR, "cannot open the xferlog %s: %s", cfg->xferlog, gw_strerror(rc));
        return rc;
    }
    /* Same connection options as the link's (no GSSAPI: see gw_statesync_conninfo). */
    size_t ul = strlen(cfg->state_db) + 32;
    char *url = malloc(ul);
    if (url && gw_statesync_conninfo(cfg->state_db, url, ul) == 0)
        S.stateipc = gw_stateipc_new(url);
    free(url);
    if (!S.stateipc)
        return GW_ERR_NOMEM;
    return gw_statesync_start(S.sync);
}

/* The thread has news: a users snapshot, the connection up or down, cross-node counts
 * of failed logins (this node then delays the address as if all happened here). */
static void sync_event(void)
{
    char addr[48];
    int64_t fails;
    gw_statesync_poll(S.sync);
    users_take_snapshot();
    while (gw_statesync_take_throttle(S.sync, addr, &fails)) {
        int64_t t = now_ms();
        int64_t have = auth_throttle_count(S.throttle, addr, t);
        for (int64_t i = have; i < fails && i < have + 64; i++)
            auth_throttle_fail(S.throttle, addr, t);
    }
}

int gw_server_run(struct gw_server_ctx *ctx)
{
    struct pollfd *pfd = NULL;
    size_t pcap = 0;
    int status = 0;
    S.ctx = ctx;
    S.throttle = auth_throttle_new();
    if (!S.throttle || pipe2(S.sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        gw_log(GW_LOG_ERROR, "cannot set up the server loop");
        status = 1;
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* After the signal mask is final: the workers inherit it (signals go to the loop). */
    S.pool = start_auth_pool(ctx->cfg);
    if (ctx->cfg->state_db[0] && start_statesync(ctx->cfg) < 0) {
        gw_log(GW_LOG_ERROR, "cannot start the state database link");
        status = 1;
        goto out;
    }
    for (;;) {
        audit_flush();
        if (S.stopping && S.nsess == 0)
            break;
        if (S.stopping && now_ms() >= S.stop_deadline) {
            for (size_t i = 0; i < S.nsess; i++)
                kill(S.sess[i].pid, SIGKILL);
            S.stop_deadline = now_ms() + 5000;
        }
        size_t need = 3 + ctx->nlisteners + S.nsess;
        if (need > pcap) {
            struct pollfd *np = realloc(pfd, need * 2 * sizeof *np);
            if (!np) {
                status = 1;
                goto out;
            }
            pfd = np;
            pcap = need * 2;
        }
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = S.sigpipe[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = S.pool ? gw_authpool_fd(S.pool) : -1, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = S.sync ? gw_statesync_fd(S.sync) : -1, .events = POLLIN};
        for (size_t i = 0; i < ctx->nlisteners; i++)
            pfd[n++] = (struct pollfd){.fd = S.lfd[i], .events = POLLIN};
        /* A session whose login is being checked is not read until it has its answer. */
        for (size_t i = 0; i < S.nsess; i++)
            pfd[n++] = (struct pollfd){.fd = S.sess[i].pending ? -1 : S.sess[i].ipc,
                                       .events = POLLIN};
        int r = poll(pfd, n, 1000);
        if (r < 0 && errno != EINTR) {
            gw_log(GW_LOG_ERROR, "poll: %s", strerror(errno));
            status = 1;
            goto out;
        }
        if (r <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            unsigned char sigs[64];
            ssize_t k = read(S.sigpipe[0], sigs, sizeof sigs);
            for (ssize_t i = 0; i < k; i++) {
                if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
                    begin_stop();
                else if (sigs[i] == SIGHUP)
                    reload();
            }
            reap();
        }
        if (pfd[1].revents & POLLIN)
            collect_auth_results();
        if (pfd[2].revents & POLLIN)
            sync_event();
        /* Session requests first (they are waiting), then new connections. The
         * session table may shrink while we go, so match by fd. */
        size_t base = 3 + ctx->nlisteners;
        for (size_t j = base; j < n; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            for (size_t i = 0; i < S.nsess; i++)
                if (S.sess[i].ipc == pfd[j].fd && pfd[j].fd >= 0) {
                    handle_ipc(&S.sess[i], GW_IPC_BATCH);
                    break;
                }
        }
        for (size_t i = 0; i < ctx->nlisteners; i++)
            if (S.lfd[i] >= 0 && (pfd[3 + i].revents & POLLIN))
                accept_one(i);
    }
    gw_log(GW_LOG_INFO, "stopped");
out:
    audit_flush();
    if (S.pool) {
        gw_authpool_shutdown(S.pool);
        collect_auth_results();
        gw_authpool_free(S.pool);
        S.pool = NULL;
    }
    while (S.pending)
        pending_free(S.pending);
    if (S.sync) {
        /* Every session has ended: its records are queued. The database gets them
         * until the grace runs out; the rest waits in the spill file. */
        gw_statesync_stop(S.sync, now_ms() + (int64_t)ctx->cfg->shutdown_grace * 1000);
        gw_statesync_free(S.sync);
        S.sync = NULL;
    }
    gw_stateipc_free(S.stateipc);
    S.stateipc = NULL;
    users_forget();
    free(pfd);
    free(S.sess);
    S.sess = NULL;
    S.nsess = S.cap = 0;
    auth_throttle_free(S.throttle);
    S.throttle = NULL;
    if (S.sigpipe[0] >= 0)
        close(S.sigpipe[0]), close(S.sigpipe[1]);
    return status;
}
