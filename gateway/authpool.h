/* Password verification off the parent's event loop. yescrypt costs tens of
 * milliseconds of CPU per login; done inline, a storm of first logins would stall every
 * session's requests behind it. The parent submits (hash, password) jobs here; a small
 * pool of worker threads verifies them and signals completion on an eventfd the parent
 * polls. Workers see only the copies in the job: the user database, the credential
 * cache and the throttle stay with the parent's main thread.
 *
 * Fairness: jobs queue per key (the remote address) and workers take them round-robin
 * across keys, so one address's storm cannot starve another address's login. The queue
 * is bounded; a full queue refuses new jobs at once.
 *
 * Threading: every function except the worker threads' own is called from one thread
 * (the parent's main thread). */
#ifndef FERRY_GATEWAY_AUTHPOOL_H
#define FERRY_GATEWAY_AUTHPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_authpool;

/* Verifies password against hash (NULL: unknown user; must still take the time of a
 * real check). Called on a worker thread: must be thread-safe. */
typedef bool (*gw_authpool_verify_fn)(const char *hash, const char *password);

/* What gw_authpool_result reports for a job. */
enum gw_authpool_verdict {
    GW_AUTHPOOL_DENIED = 0,
    GW_AUTHPOOL_OK = 1,
    GW_AUTHPOOL_CANCELLED = 2 /* never verified: the pool was shut down first */
};

/* Creates a pool of `workers` threads (0: none; jobs then run only through
 * gw_authpool_run_one, for tests) holding at most max_jobs queued or finished jobs.
 * NULL on failure. */
struct gw_authpool *gw_authpool_new(unsigned workers, size_t max_jobs,
                                    gw_authpool_verify_fn verify);
/* The eventfd that becomes readable when results are waiting (level: stays readable
 * until gw_authpool_result has returned every result). */
int gw_authpool_fd(const struct gw_authpool *p);
/* Queues a job: copies key (fairness key, truncated to 47 bytes), hash (may be NULL)
 * and password. cookie identifies the job in its result. GW_ERR_LIMIT when max_jobs
 * jobs are queued or unclaimed, GW_ERR_TOOLONG for an over-long hash or password,
 * GW_ERR_NOMEM. */
int gw_authpool_submit(struct gw_authpool *p, const char *key, uint64_t cookie, const char *hash,
                       const char *password);
/* Takes one finished job: true with its cookie and verdict, false when none is waiting. */
bool gw_authpool_result(struct gw_authpool *p, uint64_t *cookie, enum gw_authpool_verdict *v);
/* Runs the next job (in fairness order) on the calling thread; false when none is
 * queued. For pools without workers (tests). */
bool gw_authpool_run_one(struct gw_authpool *p);
/* Jobs queued and not yet taken by a worker. */
size_t gw_authpool_queued(struct gw_authpool *p);
/* Stops and joins the workers; jobs still queued become CANCELLED results, for the
 * caller to collect with gw_authpool_result before gw_authpool_free. */
void gw_authpool_shutdown(struct gw_authpool *p);
/* Shuts down if needed, wipes every password and frees the pool. NULL is a no-op. */
void gw_authpool_free(struct gw_authpool *p);
/* Brackets a fork(2) of the caller (end only in the parent): begin waits until no
 * worker is inside verify and keeps them out until end. A child then holds no memory
 * that only a worker's stack referenced (LeakSanitizer in the child cannot scan the
 * stacks of threads that did not follow it) and no lock a worker took inside the
 * allocator. Costs the fork at most one running verification. */
void gw_authpool_fork_begin(struct gw_authpool *p);
void gw_authpool_fork_end(struct gw_authpool *p);
/* In a child process forked while the pool ran: the workers do not exist here and a
 * lock may be held by one that vanished. Wipes the queued passwords (a session must
 * not carry other users' passwords) and releases the memory without taking a lock. */
void gw_authpool_forget_in_child(struct gw_authpool *p);

#endif
