/* A stand-in for the parent's shared-state service (gateway/stateipc.h), for the
 * WebDAV suites: a thread on the other end of a session's socketpair that keeps named
 * blobs in memory and speaks the same GW_IPC_STATE_* protocol, so the shared-state
 * paths of locks.c and props.c (and session.c's requests) run without PostgreSQL.
 * It can be told to answer GW_ERR_AGAIN a number of times, or one error to
 * everything. Included by test files only. */
#ifndef FERRY_TESTS_FAKEPARENT_H
#define FERRY_TESTS_FAKEPARENT_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/ipc.h"
#include "gateway/session.h"
#include "gateway/stateipc.h"

#define FP_MAX 64

struct fake_parent {
    int fd;
    pthread_t th;
    pthread_mutex_t mu;
    int again; /* answer GW_ERR_AGAIN to this many requests first */
    int fail;  /* nonzero: answer this to every state request */
    char *name[FP_MAX];
    char *body[FP_MAX];
    size_t len[FP_MAX];
    size_t n;
    char held[GW_STATE_MAX_NAME + 1]; /* "" when nothing is held */
    unsigned requests, audits;
    /* The session side. */
    struct gw_config cfg;
    struct gw_session s;
};

static int fp_find(struct fake_parent *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return (int)i;
    return -1;
}

static void fp_store(struct fake_parent *f, const char *name, const char *body, size_t len)
{
    int i = fp_find(f, name);
    if (i < 0 && len == 0)
        return;
    if (i < 0) {
        i = (int)f->n++;
        f->name[i] = strdup(name);
        f->body[i] = NULL;
    }
    free(f->body[i]);
    if (len == 0) { /* delete: move the last entry here */
        free(f->name[i]);
        f->n--;
        f->name[i] = f->name[f->n];
        f->body[i] = f->body[f->n];
        f->len[i] = f->len[f->n];
        return;
    }
    f->body[i] = malloc(len);
    memcpy(f->body[i], body, len);
    f->len[i] = len;
}

static int fp_serve(struct fake_parent *f, const struct gw_ipc_msg *m, struct gw_buf *rep,
                    int *found)
{
    char name[GW_STATE_MAX_NAME + 1];
    *found = -1;
    if (!gw_ipc_get_str(m, GW_F_S_NAME, name, sizeof name) || !gw_state_name_valid(name))
        return GW_ERR_INVAL;
    if (f->fail)
        return f->fail;
    if (f->again > 0) {
        f->again--;
        return GW_ERR_AGAIN;
    }
    if (m->type == GW_IPC_STATE_GET) {
        if (gw_ipc_has(m, GW_F_S_WRITE)) {
            if (f->held[0])
                return GW_ERR_INVAL;
            memcpy(f->held, name, strlen(name) + 1);
        }
        *found = fp_find(f, name);
        return 0;
    }
    if (strcmp(f->held, name) != 0)
        return GW_ERR_INVAL;
    f->held[0] = '\0';
    if (m->type == GW_IPC_STATE_PUT)
        for (size_t i = 0; i < m->nfields; i++)
            if (m->f[i].tag == GW_F_S_BODY)
                fp_store(f, name, m->f[i].val, m->f[i].len);
    (void)rep;
    return 0;
}

static void *fp_main(void *arg)
{
    struct fake_parent *f = arg;
    static char buf[GW_MAX_IPC_MSG];
    for (;;) {
        ssize_t n = gw_ipc_recv(f->fd, buf, sizeof buf);
        struct gw_ipc_msg m;
        struct gw_buf rep;
        int found;
        if (n <= 0 || gw_ipc_decode(buf, (size_t)n, &m) != 0)
            break;
        pthread_mutex_lock(&f->mu);
        if (m.type == GW_IPC_AUDIT_ASYNC) { /* no reply, as the real parent */
            f->audits++;
            pthread_mutex_unlock(&f->mu);
            continue;
        }
        f->requests++;
        gw_buf_init(&rep, GW_MAX_IPC_MSG);
        int rc = fp_serve(f, &m, &rep, &found);
        gw_ipc_begin(&rep, GW_IPC_REPLY);
        gw_ipc_put_int(&rep, GW_F_RESULT, rc);
        if (rc == 0 && found >= 0)
            gw_ipc_put(&rep, GW_F_S_BODY, f->body[found], f->len[found]);
        pthread_mutex_unlock(&f->mu);
        gw_ipc_send(f->fd, &rep);
        gw_buf_free(&rep);
    }
    return NULL;
}

/* Starts the fake parent and a logged-in session whose config has state_db set. */
static void fp_start(struct fake_parent *f)
{
    int sv[2];
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    f->fd = sv[0];
    f->cfg.state_db = (char *)"postgresql://test@127.0.0.1/none";
    f->s.cfg = &f->cfg;
    f->s.ipc = sv[1];
    f->s.logged_in = true;
    snprintf(f->s.user, sizeof f->s.user, "alice");
    snprintf(f->s.home, sizeof f->s.home, "/");
    snprintf(f->s.proto, sizeof f->s.proto, "webdav");
    pthread_mutex_init(&f->mu, NULL);
    ck_assert_int_eq(pthread_create(&f->th, NULL, fp_main, f), 0);
}

/* The stored body of name as a string ("" when none). */
static const char *fp_body(struct fake_parent *f, const char *name)
{
    static char out[GW_STATE_MAX_BODY + 1];
    pthread_mutex_lock(&f->mu);
    int i = fp_find(f, name);
    out[0] = '\0';
    if (i >= 0) {
        memcpy(out, f->body[i], f->len[i]);
        out[f->len[i]] = '\0';
    }
    pthread_mutex_unlock(&f->mu);
    return out;
}

static bool fp_holding(struct fake_parent *f)
{
    pthread_mutex_lock(&f->mu);
    bool h = f->held[0] != '\0';
    pthread_mutex_unlock(&f->mu);
    return h;
}

static void fp_stop(struct fake_parent *f)
{
    close(f->s.ipc); /* EOF ends the thread */
    pthread_join(f->th, NULL);
    close(f->fd);
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->body[i]);
    }
    pthread_mutex_destroy(&f->mu);
}

#endif
