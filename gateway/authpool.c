/* Password verification worker pool with a per-key round-robin queue (authpool.h).
 *
 * Jobs live in one array allocated up front (max_jobs): no allocation per login, and a
 * bounded queue by construction. A job is free, queued (in its key's FIFO), running
 * (taken by a worker) or done (in the results FIFO). Keys with queued jobs form the
 * ring the workers walk: take the head job of the key at the cursor, move the cursor to
 * the next key. One mutex guards everything; the hash runs outside it. */
#include "gateway/authpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"

#define KEY_MAX 48
#define HASH_MAX 384 /* libxcrypt's CRYPT_OUTPUT_SIZE */

struct job {
    uint64_t cookie;
    enum gw_authpool_verdict verdict;
    bool has_hash;
    char key[KEY_MAX];
    char hash[HASH_MAX];
    char password[GW_MAX_PASSWORD + 1];
    size_t next; /* next job in its FIFO (key queue, results, free list) */
};

#define NIL ((size_t)-1)

/* A key with queued jobs: one entry of the ring. */
struct keyq {
    char key[KEY_MAX];
    size_t head, tail;
};

struct gw_authpool {
    pthread_mutex_t mu;
    pthread_rwlock_t forklock; /* workers read-hold it while verifying; a fork writes */
    pthread_cond_t cv;
    bool stop;
    int efd;
    gw_authpool_verify_fn verify;
    struct job *jobs;
    size_t max_jobs;
    size_t free_head;
    struct keyq *ring; /* ring[0..nring): keys with queued jobs, in round-robin order */
    size_t nring, cursor, nqueued;
    size_t done_head, done_tail;
    pthread_t *threads;
    unsigned nthreads;
};

static void fifo_push(struct gw_authpool *p, size_t *head, size_t *tail, size_t j)
{
    p->jobs[j].next = NIL;
    if (*head == NIL)
        *head = j;
    else
        p->jobs[*tail].next = j;
    *tail = j;
}

static size_t fifo_pop(struct gw_authpool *p, size_t *head, size_t *tail)
{
    size_t j = *head;
    if (j != NIL) {
        *head = p->jobs[j].next;
        if (*head == NIL)
            *tail = NIL;
    }
    return j;
}

/* Next job in round-robin order across keys, or NIL. Caller holds mu. */
static size_t take(struct gw_authpool *p)
{
    if (p->nring == 0)
        return NIL;
    if (p->cursor >= p->nring)
        p->cursor = 0;
    struct keyq *q = &p->ring[p->cursor];
    size_t j = fifo_pop(p, &q->head, &q->tail);
    if (q->head == NIL) {
        /* The key has nothing left: drop it; the cursor now names the next key. */
        memmove(q, q + 1, (p->nring - p->cursor - 1) * sizeof *q);
        p->nring--;
    } else {
        p->cursor++;
    }
    p->nqueued--;
    return j;
}

/* Files a finished job as a result. Caller holds mu, then calls wake() after
 * unlocking (waking the parent while holding mu would have it block on mu at once). */
static void finish(struct gw_authpool *p, size_t j, enum gw_authpool_verdict v)
{
    explicit_bzero(p->jobs[j].password, sizeof p->jobs[j].password);
    p->jobs[j].verdict = v;
    fifo_push(p, &p->done_head, &p->done_tail, j);
}

/* Makes the eventfd readable. Always after the result is filed, so no wake-up is lost:
 * at worst the parent finds the result early and then wakes once for nothing. */
static void wake(struct gw_authpool *p)
{
    uint64_t one = 1;
    if (write(p->efd, &one, sizeof one) < 0) {
        /* the counter cannot overflow at our rates */
    }
}

/* Verifies job j outside the lock; the job is ours while running. */
static void run(struct gw_authpool *p, size_t j)
{
    struct job *jb = &p->jobs[j];
    pthread_rwlock_rdlock(&p->forklock);
    bool ok = p->verify(jb->has_hash ? jb->hash : NULL, jb->password);
    pthread_rwlock_unlock(&p->forklock);
    pthread_mutex_lock(&p->mu);
    finish(p, j, ok ? GW_AUTHPOOL_OK : GW_AUTHPOOL_DENIED);
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

static void *worker(void *arg)
{
    struct gw_authpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->nring == 0)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        size_t j = take(p);
        pthread_mutex_unlock(&p->mu);
        run(p, j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct gw_authpool *gw_authpool_new(unsigned workers, size_t max_jobs, gw_authpool_verify_fn verify)
{
    struct gw_authpool *p = calloc(1, sizeof *p);
    if (!p || max_jobs == 0 || !verify)
        goto fail_struct;
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->efd < 0)
        goto fail_struct;
    p->jobs = calloc(max_jobs, sizeof *p->jobs);
    p->ring = calloc(max_jobs, sizeof *p->ring);
    p->threads = calloc(workers ? workers : 1, sizeof *p->threads);
    if (!p->jobs || !p->ring || !p->threads)
        goto fail_arrays;
    p->verify = verify;
    p->max_jobs = max_jobs;
    for (size_t i = 0; i < max_jobs; i++)
        p->jobs[i].next = i + 1 < max_jobs ? i + 1 : NIL;
    p->free_head = 0;
    p->done_head = p->done_tail = NIL;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_arrays;
    if (pthread_cond_init(&p->cv, NULL) != 0)
        goto fail_mutex;
    /* Writer preference: a waiting fork is not starved by workers taking turns. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rrc = pthread_rwlock_init(&p->forklock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rrc != 0)
        goto fail_cond;
    /* Workers run with every signal blocked: signals belong to the caller's loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (; p->nthreads < workers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads < workers) {
        gw_authpool_free(p);
        return NULL;
    }
    return p;
fail_cond:
    pthread_cond_destroy(&p->cv);
fail_mutex:
    pthread_mutex_destroy(&p->mu);
fail_arrays:
    free(p->threads);
    free(p->ring);
    free(p->jobs);
    close(p->efd);
fail_struct:
    free(p);
    return NULL;
}

int gw_authpool_fd(const struct gw_authpool *p)
{
    return p->efd;
}

int gw_authpool_submit(struct gw_authpool *p, const char *key, uint64_t cookie, const char *hash,
                       const char *password)
{
    int rc = 0;
    if (strlen(password) > GW_MAX_PASSWORD || (hash && strlen(hash) >= HASH_MAX))
        return GW_ERR_TOOLONG;
    pthread_mutex_lock(&p->mu);
    if (p->free_head == NIL || p->stop) {
        rc = GW_ERR_LIMIT;
        goto unlock;
    }
    size_t r = 0;
    while (r < p->nring && strncmp(p->ring[r].key, key, KEY_MAX - 1) != 0)
        r++;
    if (r == p->nring) {
        /* A new key joins the ring just before the cursor: it is served after every key
         * already waiting has had its turn, and before any of them gets a second. */
        size_t at = p->cursor < p->nring ? p->cursor : p->nring;
        memmove(&p->ring[at + 1], &p->ring[at], (p->nring - at) * sizeof *p->ring);
        p->ring[at].head = p->ring[at].tail = NIL;
        snprintf(p->ring[at].key, KEY_MAX, "%s", key);
        p->nring++;
        p->cursor = at + 1;
        r = at;
    }
    size_t j = p->free_head;
    p->free_head = p->jobs[j].next;
    struct job *jb = &p->jobs[j];
    jb->cookie = cookie;
    jb->has_hash = hash != NULL;
    snprintf(jb->hash, sizeof jb->hash, "%s", hash ? hash : "");
    memcpy(jb->password, password, strlen(password) + 1);
    snprintf(jb->key, sizeof jb->key, "%s", key);
    fifo_push(p, &p->ring[r].head, &p->ring[r].tail, j);
    p->nqueued++;
    pthread_cond_signal(&p->cv);
unlock:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

bool gw_authpool_result(struct gw_authpool *p, uint64_t *cookie, enum gw_authpool_verdict *v)
{
    uint64_t cnt;
    pthread_mutex_lock(&p->mu);
    size_t j = fifo_pop(p, &p->done_head, &p->done_tail);
    if (j != NIL) {
        *cookie = p->jobs[j].cookie;
        *v = p->jobs[j].verdict;
        explicit_bzero(&p->jobs[j], sizeof p->jobs[j]);
        p->jobs[j].next = p->free_head;
        p->free_head = j;
    } else if (read(p->efd, &cnt, sizeof cnt) < 0) {
        /* nothing pending: the counter was already zero */
    }
    pthread_mutex_unlock(&p->mu);
    return j != NIL;
}

bool gw_authpool_run_one(struct gw_authpool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t j = take(p);
    pthread_mutex_unlock(&p->mu);
    if (j != NIL)
        run(p, j);
    return j != NIL;
}

size_t gw_authpool_queued(struct gw_authpool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->nqueued;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void gw_authpool_shutdown(struct gw_authpool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t j = take(p); j != NIL; j = take(p))
        finish(p, j, GW_AUTHPOOL_CANCELLED);
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

void gw_authpool_free(struct gw_authpool *p)
{
    if (!p)
        return;
    gw_authpool_shutdown(p);
    explicit_bzero(p->jobs, p->max_jobs * sizeof *p->jobs);
    pthread_rwlock_destroy(&p->forklock);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    close(p->efd);
    free(p->threads);
    free(p->ring);
    free(p->jobs);
    free(p);
}

void gw_authpool_fork_begin(struct gw_authpool *p)
{
    if (p)
        pthread_rwlock_wrlock(&p->forklock);
}

void gw_authpool_fork_end(struct gw_authpool *p)
{
    if (p)
        pthread_rwlock_unlock(&p->forklock);
}

void gw_authpool_forget_in_child(struct gw_authpool *p)
{
    if (!p)
        return;
    explicit_bzero(p->jobs, p->max_jobs * sizeof *p->jobs);
    close(p->efd);
    free(p->threads);
    free(p->ring);
    free(p->jobs);
    free(p);
}
