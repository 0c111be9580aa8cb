/* The parent's service for the sessions' shared-state requests (stateipc.h). */
#include "gateway/stateipc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/log.h"
#include "gateway/path.h"
#include "gateway/statedb.h"

/* One pooled connection, and the blob a session holds on it (if any). */
struct slot {
    struct gw_statedb *db; /* NULL until first needed */
    bool held;
    uint64_t holder;
    int64_t since_ms;
    char name[GW_STATE_MAX_NAME + 1];
};

struct gw_stateipc {
    char *url;
    int64_t down_until_ms; /* after a failed connect: answer GW_ERR_IO until then */
    int64_t backoff_ms;    /* doubles per failed connect, up to GW_STATE_RETRY_MAX_MS */
    struct slot slot[GW_STATE_POOL];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool gw_state_name_valid(const char *name)
{
    size_t pl = sizeof GW_STATE_PREFIX_PROPS - 1;
    size_t len = name ? strnlen(name, GW_STATE_MAX_NAME + 1) : GW_STATE_MAX_NAME + 1;
    if (len > GW_STATE_MAX_NAME)
        return false;
    if (strcmp(name, GW_STATE_PREFIX_LOCKS) == 0)
        return true;
    /* The key keeps its leading '/': "webdav/props" + "/alice/a.txt". */
    return len >= pl && memcmp(name, GW_STATE_PREFIX_PROPS, pl) == 0 &&
           gw_path_is_normal(name + pl - 1);
}

struct gw_stateipc *gw_stateipc_new(const char *url)
{
    struct gw_stateipc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->url = strdup(url ? url : "");
    if (!s->url) {
        free(s);
        return NULL;
    }
    return s;
}

static void unhold(struct slot *sl)
{
    if (sl->held && sl->db)
        gw_statedb_blob_end(sl->db);
    sl->held = false;
    sl->holder = 0;
    sl->name[0] = '\0';
}

void gw_stateipc_forget_in_child(struct gw_stateipc *s)
{
    for (size_t i = 0; s && i < GW_STATE_POOL; i++) {
        int fd = s->slot[i].db ? gw_statedb_socket(s->slot[i].db) : -1;
        if (fd >= 0)
            close(fd);
    }
}

void gw_stateipc_free(struct gw_stateipc *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < GW_STATE_POOL; i++) {
        unhold(&s->slot[i]);
        gw_statedb_close(s->slot[i].db);
    }
    free(s->url);
    free(s);
}

void gw_stateipc_release(struct gw_stateipc *s, uint64_t owner)
{
    if (!s)
        return;
    for (size_t i = 0; i < GW_STATE_POOL; i++)
        if (s->slot[i].held && s->slot[i].holder == owner)
            unhold(&s->slot[i]);
}

/* Rolls back holders that kept a row locked too long (a stuck or hostile session must
 * not block every node's WebDAV writes). */
static void sweep(struct gw_stateipc *s, int64_t now)
{
    for (size_t i = 0; i < GW_STATE_POOL; i++) {
        struct slot *sl = &s->slot[i];
        if (sl->held && now - sl->since_ms > GW_STATE_HOLD_MS) {
            gw_log(GW_LOG_WARN, "state_db: session %llu held %s over %d ms; rolled back",
                   (unsigned long long)sl->holder, sl->name, GW_STATE_HOLD_MS);
            unhold(sl);
        }
    }
}

/* Makes sl's connection usable: opened on first use, reset when broken (*fresh then
 * true). Connecting blocks (up to the url's connect_timeout), hence the back-off. */
static int connect_slot(struct gw_stateipc *s, struct slot *sl, int64_t now, bool *fresh)
{
    char err[256], red[256];
    int rc;
    *fresh = false;
    if (sl->db && gw_statedb_ok(sl->db))
        return 0;
    if (now < s->down_until_ms)
        return GW_ERR_IO;
    err[0] = '\0';
    *fresh = true;
    if (sl->db)
        rc = gw_statedb_reset(sl->db, err, sizeof err);
    else
        rc = gw_statedb_open(s->url, &sl->db, err, sizeof err);
    if (rc == 0) {
        if (s->backoff_ms)
            gw_log(GW_LOG_INFO, "state_db: connected again");
        s->backoff_ms = 0;
        return 0;
    }
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : GW_STATE_RETRY_MS;
    if (s->backoff_ms > GW_STATE_RETRY_MAX_MS)
        s->backoff_ms = GW_STATE_RETRY_MAX_MS;
    s->down_until_ms = now + s->backoff_ms;
    gw_statedb_redact(s->url, red, sizeof red);
    gw_log(GW_LOG_ERROR, "state_db %s: %s", red, err[0] ? err : gw_strerror(rc));
    return rc == GW_ERR_IO ? rc : GW_ERR_IO;
}

/* A connection nobody holds, preferring one already open. NULL: all are held. */
static struct slot *free_slot(struct gw_stateipc *s)
{
    struct slot *any = NULL;
    for (size_t i = 0; i < GW_STATE_POOL; i++) {
        struct slot *sl = &s->slot[i];
        if (sl->held)
            continue;
        if (sl->db && gw_statedb_ok(sl->db))
            return sl;
        if (!any)
            any = sl;
    }
    return any;
}

static struct slot *held_by(struct gw_stateipc *s, uint64_t owner)
{
    for (size_t i = 0; i < GW_STATE_POOL; i++)
        if (s->slot[i].held && s->slot[i].holder == owner)
            return &s->slot[i];
    return NULL;
}

static bool held_name(const struct gw_stateipc *s, const char *name)
{
    for (size_t i = 0; i < GW_STATE_POOL; i++)
        if (s->slot[i].held && strcmp(s->slot[i].name, name) == 0)
            return true;
    return false;
}

static void log_db_error(const char *what, const char *name, int rc, const char *err)
{
    gw_log(GW_LOG_WARN, "state_db: %s %s: %s", what, name, err[0] ? err : gw_strerror(rc));
}

static int do_get(struct gw_stateipc *s, uint64_t owner, const char *name, bool write,
                  struct gw_buf *body, bool *found, int64_t now)
{
    char err[256] = "";
    if (write && held_by(s, owner))
        return GW_ERR_INVAL; /* one held blob per session: PUT or END it first */
    /* Held by another session of this node: waiting for it here would wait for our own
     * event loop (its PUT is queued behind this call) until lock_timeout. */
    if (write && held_name(s, name))
        return GW_ERR_AGAIN;
    struct slot *sl = free_slot(s);
    if (!sl)
        return GW_ERR_AGAIN;
    bool fresh;
    int rc = connect_slot(s, sl, now, &fresh);
    if (rc < 0)
        return rc;
    rc = gw_statedb_blob_get(sl->db, name, write, body, found, err, sizeof err);
    if (rc == GW_ERR_IO && !fresh && !gw_statedb_ok(sl->db)) {
        /* An idle connection that broke meanwhile (database restarted): once more. */
        if ((rc = connect_slot(s, sl, now, &fresh)) == 0)
            rc = gw_statedb_blob_get(sl->db, name, write, body, found, err, sizeof err);
    }
    if (rc < 0) {
        if (write)
            gw_statedb_blob_end(sl->db); /* whatever was begun */
        log_db_error("read", name, rc, err);
        if (rc == GW_ERR_BUSY)
            return GW_ERR_AGAIN; /* locked elsewhere, for a statedb that does not wait */
        return rc == GW_ERR_LIMIT ? GW_ERR_NOSPC : rc;
    }
    if (*found && body->len > GW_STATE_MAX_BODY) {
        if (write)
            gw_statedb_blob_end(sl->db);
        gw_log(GW_LOG_WARN, "state_db: %s is %zu bytes, over the %u a session can take", name,
               body->len, GW_STATE_MAX_BODY);
        return GW_ERR_NOSPC;
    }
    if (write) {
        sl->held = true;
        sl->holder = owner;
        sl->since_ms = now;
        memcpy(sl->name, name, strlen(name) + 1);
    }
    return 0;
}

static int do_put(struct gw_stateipc *s, uint64_t owner, const char *name, const void *body,
                  size_t len)
{
    char err[256] = "";
    struct slot *sl = held_by(s, owner);
    if (!sl || strcmp(sl->name, name) != 0)
        return GW_ERR_INVAL;
    if (len > GW_STATE_MAX_BODY) {
        unhold(sl);
        return GW_ERR_NOSPC;
    }
    int rc = gw_statedb_blob_put(sl->db, name, body, len, err, sizeof err);
    if (rc < 0)
        log_db_error("write", name, rc, err);
    unhold(sl); /* committed, or failed: either way the row is no longer held */
    return rc;
}

static int do_end(struct gw_stateipc *s, uint64_t owner, const char *name)
{
    struct slot *sl = held_by(s, owner);
    if (!sl || strcmp(sl->name, name) != 0)
        return GW_ERR_INVAL;
    unhold(sl);
    return 0;
}

void gw_stateipc_handle(struct gw_stateipc *s, uint64_t owner, const struct gw_ipc_msg *m,
                        struct gw_buf *rep)
{
    char name[GW_STATE_MAX_NAME + 1];
    struct gw_buf body;
    bool found = false;
    int64_t now = mono_ms(), wr = 0;
    int rc = GW_ERR_INVAL;
    gw_buf_init(&body, GW_STATE_MAX_BODY);
    sweep(s, now);
    if (!gw_ipc_get_str(m, GW_F_S_NAME, name, sizeof name) || !gw_state_name_valid(name))
        goto reply;
    switch (m->type) {
    case GW_IPC_STATE_GET:
        if (gw_ipc_has(m, GW_F_S_WRITE) &&
            (!gw_ipc_get_int(m, GW_F_S_WRITE, &wr) || wr < 0 || wr > 1))
            break;
        rc = do_get(s, owner, name, wr == 1, &body, &found, now);
        break;
    case GW_IPC_STATE_PUT:
        for (size_t i = 0; i < m->nfields; i++)
            if (m->f[i].tag == GW_F_S_BODY) {
                rc = do_put(s, owner, name, m->f[i].val, m->f[i].len);
                break;
            }
        break;
    case GW_IPC_STATE_END:
        rc = do_end(s, owner, name);
        break;
    default:
        rc = GW_ERR_PROTO;
        break;
    }
reply:
    if (gw_ipc_begin(rep, GW_IPC_REPLY) || gw_ipc_put_int(rep, GW_F_RESULT, rc) ||
        (rc == 0 && found && gw_ipc_put(rep, GW_F_S_BODY, body.data ? body.data : "", body.len))) {
        /* Cannot happen with the bounds above; never send half a reply. */
        gw_ipc_begin(rep, GW_IPC_REPLY);
        gw_ipc_put_int(rep, GW_F_RESULT, GW_ERR_NOSPC);
    }
    gw_buf_free(&body);
}
