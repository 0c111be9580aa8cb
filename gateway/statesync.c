/* The parent's background link to the state database (statesync.h).
 *
 * One mutex guards what the two threads share: the audit queue, the spill file's
 * state, the throttle rings, the users hand-off and the up flag. The thread holds it
 * only to move things in and out, never across a database call; the database calls
 * run under a read hold of forklock instead, which a fork in a sanitizer build takes
 * for writing (gw_statesync_fork_begin). Two eventfds: work_fd wakes the thread
 * (a record queued, stop), note_fd wakes the main thread. */
#include "gateway/statesync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/log.h"
#include "gateway/statedb.h"

/* ---- pure parts ---- */

int64_t gw_statesync_backoff_ms(unsigned failures)
{
    int64_t d = GW_STATESYNC_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && d < GW_STATESYNC_BACKOFF_MAX_MS; i++)
        d *= 2;
    return d > GW_STATESYNC_BACKOFF_MAX_MS ? GW_STATESYNC_BACKOFF_MAX_MS : d;
}

void gw_ssq_init(struct gw_ssq *q, size_t max_n, size_t max_bytes)
{
    memset(q, 0, sizeof *q);
    q->max_n = max_n;
    q->max_bytes = max_bytes;
}

struct gw_ssq_rec *gw_ssq_copy(const struct audit_record *r)
{
    size_t size = sizeof(struct gw_ssq_rec) + audit_record_strings_size(r);
    struct gw_ssq_rec *n = malloc(size);
    if (!n)
        return NULL;
    n->next = NULL;
    n->size = size;
    audit_record_copy(&n->rec, r, (char *)(n + 1));
    return n;
}

int gw_ssq_push(struct gw_ssq *q, struct gw_ssq_rec *rec)
{
    if (q->n >= q->max_n || rec->size > q->max_bytes - q->bytes)
        return GW_ERR_LIMIT;
    rec->next = NULL;
    if (q->tail)
        q->tail->next = rec;
    else
        q->head = rec;
    q->tail = rec;
    q->n++;
    q->bytes += rec->size;
    return 0;
}

struct gw_ssq_rec *gw_ssq_pop(struct gw_ssq *q)
{
    struct gw_ssq_rec *r = q->head;
    if (!r)
        return NULL;
    q->head = r->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    q->bytes -= r->size;
    r->next = NULL;
    return r;
}

void gw_ssq_clear(struct gw_ssq *q)
{
    struct gw_ssq_rec *r;
    while ((r = gw_ssq_pop(q)))
        free(r);
}

int gw_statesync_spill_encode(const struct audit_record *r, struct gw_buf *out)
{
    char hash[AUDIT_HASH_HEX + 1];
    if (r->ts_ms <= 0)
        return GW_ERR_INVAL; /* the time of the event, never of the replay */
    return audit_encode(r, NULL, NULL, 0, out, hash);
}

struct gw_ssq_rec *gw_statesync_spill_decode(const char *line, size_t len)
{
    struct audit_line al;
    struct gw_ssq_rec *n = NULL;
    char *storage = malloc(len + 1);
    if (!storage)
        return NULL;
    if (audit_parse_line(line, len, storage, len + 1, &al) == 0 && al.rec.ts_ms > 0 &&
        audit_record_valid(&al.rec))
        n = gw_ssq_copy(&al.rec);
    free(storage);
    return n;
}

int gw_statesync_conninfo(const char *url, char *out, size_t outsz)
{
    bool uri = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
    const char *extra = "";
    if (!strstr(url, "gssencmode"))
        extra = !uri               ? " gssencmode=disable"
                : strchr(url, '?') ? "&gssencmode=disable"
                                   : "?gssencmode=disable";
    int n = snprintf(out, outsz, "%s%s", url, extra);
    return n < 0 || (size_t)n >= outsz ? GW_ERR_TOOLONG : 0;
}

/* ---- shared state ---- */

#define RING 256
#define FORK_WAIT_S 2
#define ADDR_MAX 48

struct throttle_req {
    char addr[ADDR_MAX];
    bool fail;
    int64_t window_ms; /* fail: the window; result: the count */
};

struct ring {
    struct throttle_req item[RING];
    size_t head, n;
};

static bool ring_push(struct ring *r, const struct throttle_req *it)
{
    if (r->n == RING) {
        /* Throttling is best effort: the oldest request goes. */
        r->head = (r->head + 1) % RING;
        r->n--;
    }
    r->item[(r->head + r->n) % RING] = *it;
    r->n++;
    return true;
}

static bool ring_pop(struct ring *r, struct throttle_req *out)
{
    if (r->n == 0)
        return false;
    *out = r->item[r->head];
    r->head = (r->head + 1) % RING;
    r->n--;
    return true;
}

struct gw_statesync {
    char *url, *node, *spill_path, *pos_path;
    char redacted[512];
    unsigned char *key;
    size_t keylen;
    int work_fd, note_fd;
    pthread_t thread;
    bool started, joined, abandoned;
    bool fork_locked; /* main thread: fork_begin got the lock */
    pthread_mutex_t mu;
    pthread_rwlock_t forklock;

    /* under mu */
    bool stop;
    bool reload; /* SIGHUP: read the users now */
    int64_t deadline;
    bool up; /* connected and the users loaded on this connection */
    struct gw_ssq q;
    int spill_fd;     /* -1 until first needed */
    int sock_fd;      /* the database connection's socket, -1 while (re)connecting */
    bool spilling;    /* the spill file has records not yet in the database */
    uint64_t spill_n; /* records in the spill file past spill_pos (approximate) */
    off_t spill_pos;  /* bytes of the spill file already in the database */
    struct auth_db users_new;
    bool users_ready;
    int64_t users_rev;
    struct ring treq, tres;

    /* thread only */
    struct gw_statedb *db;
    size_t last_nusers;
    off_t spill_end[GW_STATESYNC_BATCH]; /* spill_read: where record i's line ends */
    struct audit_record batch[GW_STATESYNC_BATCH];
    struct gw_ssq_rec *held[GW_STATESYNC_BATCH];

    /* main thread only: the other outputs (xferlog, syslog) */
    struct audit_outputs out;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kick(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) < 0) {
        /* the counter cannot overflow at our rates */
    }
}

static void drain(int fd)
{
    uint64_t cnt;
    if (read(fd, &cnt, sizeof cnt) < 0) {
        /* nothing pending */
    }
}

static void wipe_users(struct auth_db *db)
{
    for (size_t i = 0; i < db->nusers; i++)
        if (db->users[i].hash)
            explicit_bzero(db->users[i].hash, strlen(db->users[i].hash));
    auth_db_free(db);
    memset(db, 0, sizeof *db);
}

struct gw_statesync *gw_statesync_new(const char *url, const char *node, const unsigned char *key,
                                      size_t keylen, const char *state_dir)
{
    struct gw_statesync *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->work_fd = s->note_fd = s->spill_fd = s->sock_fd = -1;
    audit_outputs_init(&s->out);
    size_t sl = strlen(state_dir) + sizeof "/" GW_STATESYNC_SPILL ".pos";
    size_t ul = strlen(url) + sizeof "?gssencmode=disable";
    s->url = malloc(ul);
    if (s->url && gw_statesync_conninfo(url, s->url, ul) != 0)
        goto fail;
    s->node = strdup(node);
    s->spill_path = malloc(sl);
    s->pos_path = malloc(sl);
    s->key = keylen ? malloc(keylen) : NULL;
    if (!s->url || !s->node || !s->spill_path || !s->pos_path || (keylen && !s->key))
        goto fail;
    snprintf(s->spill_path, sl, "%s/%s", state_dir, GW_STATESYNC_SPILL);
    snprintf(s->pos_path, sl, "%s/%s.pos", state_dir, GW_STATESYNC_SPILL);
    if (keylen)
        memcpy(s->key, key, keylen);
    s->keylen = keylen;
    gw_statedb_redact(url, s->redacted, sizeof s->redacted);
    gw_ssq_init(&s->q, GW_STATESYNC_MAX_RECORDS, GW_STATESYNC_MAX_BYTES);
    /* Tests make the spill file easy to reach (as FERRY_AUDIT_SHA2X in audit.c). */
    const char *tb = getenv("FERRY_STATESYNC_MAX_RECORDS");
    if (tb && strtoul(tb, NULL, 10) > 0)
        s->q.max_n = strtoul(tb, NULL, 10);
    s->work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->note_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->work_fd < 0 || s->note_fd < 0)
        goto fail;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto fail;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rrc = pthread_rwlock_init(&s->forklock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rrc != 0) {
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    return s;
fail:
    if (s->work_fd >= 0)
        close(s->work_fd);
    if (s->note_fd >= 0)
        close(s->note_fd);
    audit_outputs_free(&s->out);
    free(s->url);
    free(s->node);
    free(s->spill_path);
    free(s->pos_path);
    free(s->key);
    free(s);
    return NULL;
}

/* ---- the spill file (all under mu) ---- */

static int spill_open(struct gw_statesync *s)
{
    if (s->spill_fd >= 0)
        return 0;
    s->spill_fd = open(s->spill_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    return s->spill_fd < 0 ? gw_err_from_errno(errno) : 0;
}

static int spill_append(struct gw_statesync *s, const struct audit_record *r)
{
    struct gw_buf line;
    gw_buf_init(&line, GW_MAX_AUDIT_LINE + 2);
    int rc = spill_open(s);
    if (rc == 0)
        rc = gw_statesync_spill_encode(r, &line);
    if (rc == 0)
        rc = gw_write_all(s->spill_fd, line.data, line.len);
    gw_buf_free(&line);
    if (rc == 0) {
        if (!s->spilling)
            gw_log(GW_LOG_WARN,
                   "state_db: audit queue full (%zu records): further records "
                   "go to %s until the database has them",
                   s->q.n, s->spill_path);
        s->spilling = true;
        s->spill_n++;
    }
    return rc;
}

static void pos_save(struct gw_statesync *s)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%lld\n", (long long)s->spill_pos);
    int fd = open(s->pos_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || gw_write_all(fd, tmp, (size_t)n) != 0)
        gw_log(GW_LOG_WARN, "state_db: cannot save the replay position in %s: %s", s->pos_path,
               strerror(errno));
    if (fd >= 0)
        close(fd);
}

static off_t pos_load(const char *path)
{
    char tmp[64] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, tmp, sizeof tmp - 1);
    close(fd);
    if (n <= 0)
        return 0;
    tmp[n] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    return v > 0 && (*end == '\n' || *end == '\0') ? (off_t)v : 0;
}

/* The spill file is fully in the database: empty it. */
static void spill_done(struct gw_statesync *s)
{
    if (ftruncate(s->spill_fd, 0) != 0)
        gw_log(GW_LOG_WARN, "state_db: cannot empty %s: %s", s->spill_path, strerror(errno));
    s->spill_pos = 0;
    s->spill_n = 0;
    s->spilling = false;
    unlink(s->pos_path);
    gw_log(GW_LOG_INFO, "state_db: the spilled audit records are in the database");
}

/* Reads up to GW_STATESYNC_BATCH whole records from the spill file past spill_pos into
 * held[]; *consumed: bytes they span (torn or foreign lines included, skipped). */
static size_t spill_read(struct gw_statesync *s, struct gw_ssq_rec **held, size_t max,
                         off_t *consumed)
{
    size_t cap = 1024 * 1024, n = 0;
    char *buf = malloc(cap);
    *consumed = 0;
    if (!buf)
        return 0;
    ssize_t got = pread(s->spill_fd, buf, cap, s->spill_pos);
    size_t off = 0;
    while (got > 0 && n < max) {
        char *nl = memchr(buf + off, '\n', (size_t)got - off);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (buf + off));
        struct gw_ssq_rec *r = gw_statesync_spill_decode(buf + off, len);
        if (r) {
            s->spill_end[n] = (off_t)(off + len + 1);
            held[n++] = r;
        } else if (len > 0)
            gw_log(GW_LOG_WARN, "state_db: %s: skipping a line that is not a record",
                   s->spill_path);
        off += len + 1;
    }
    if (got > 0 && off == 0 && (size_t)got == cap)
        off = cap; /* one line longer than any record: skip it */
    free(buf);
    *consumed = (off_t)off;
    return n;
}

/* ---- the thread ---- */

static void set_up(struct gw_statesync *s, bool up)
{
    pthread_mutex_lock(&s->mu);
    bool changed = s->up != up;
    s->up = up;
    pthread_mutex_unlock(&s->mu);
    if (changed)
        kick(s->note_fd);
}

/* Loads the users and hands them over. Caller holds forklock (read). */
static int load_users(struct gw_statesync *s, int64_t *have_rev, char *err, size_t errsz)
{
    struct auth_db db = {0};
    int64_t rev = 0;
    int rc = gw_statedb_users_load(s->db, &db, &rev, err, errsz);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    if (s->users_ready)
        wipe_users(&s->users_new);
    s->last_nusers = db.nusers;
    s->users_new = db;
    s->users_rev = rev;
    s->users_ready = true;
    pthread_mutex_unlock(&s->mu);
    *have_rev = rev;
    kick(s->note_fd);
    return 0;
}

/* Sends waiting throttle requests. Caller holds forklock. */
static int do_throttle(struct gw_statesync *s, char *err, size_t errsz)
{
    struct throttle_req t;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool have = ring_pop(&s->treq, &t);
        pthread_mutex_unlock(&s->mu);
        if (!have)
            return 0;
        int64_t fails = 0;
        int rc = t.fail ? gw_statedb_throttle_fail(s->db, t.addr, t.window_ms, &fails, err, errsz)
                        : gw_statedb_throttle_ok(s->db, t.addr, err, errsz);
        if (rc < 0)
            return rc;
        if (t.fail) {
            t.window_ms = fails;
            pthread_mutex_lock(&s->mu);
            ring_push(&s->tres, &t);
            pthread_mutex_unlock(&s->mu);
            kick(s->note_fd);
        }
    }
}

/* How many of the batch's first records audit_encode accepts on their own. */
static size_t encodable_prefix(struct gw_statesync *s, size_t n)
{
    struct gw_buf line;
    char hash[AUDIT_HASH_HEX + 1];
    size_t i = 0;
    gw_buf_init(&line, GW_MAX_AUDIT_LINE + 2);
    for (; i < n; i++) {
        gw_buf_reset(&line);
        if (audit_encode(&s->batch[i], NULL, s->key, s->keylen, &line, hash) != 0)
            break;
    }
    gw_buf_free(&line);
    return i;
}

/* Writes one batch of audit records (memory queue first, then the spill file). *did:
 * something was written. Caller holds forklock. */
static int do_audit(struct gw_statesync *s, bool *did, char *err, size_t errsz)
{
    size_t n = 0;
    bool from_spill = false;
    off_t consumed = 0;
    int rc = 0;
    *did = false;
    pthread_mutex_lock(&s->mu);
    /* Only this thread removes from the head, and the main thread only appends: the
     * first n nodes stay ours to read after unlocking. */
    for (struct gw_ssq_rec *r = s->q.head; r && n < GW_STATESYNC_BATCH; r = r->next)
        s->held[n++] = r;
    if (n == 0 && s->spilling && s->spill_fd >= 0) {
        n = spill_read(s, s->held, GW_STATESYNC_BATCH, &consumed);
        from_spill = true;
        if (n == 0 && consumed == 0) {
            struct stat st;
            if (fstat(s->spill_fd, &st) == 0 && st.st_size <= s->spill_pos)
                spill_done(s);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (n == 0 && consumed == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        s->batch[i] = s->held[i]->rec;
    /* A record that cannot be encoded could not be written to a file log either: it
     * is dropped (and said so) rather than hold every later record back forever. Only
     * the records before it go in this batch. */
    size_t good = encodable_prefix(s, n);
    size_t done = good; /* records written (or dropped) if rc is 0 */
    if (good == 0 && n > 0) {
        gw_log(GW_LOG_ERROR, "state_db: dropping an audit record that cannot be encoded (%s %s)",
               s->batch[0].event ? s->batch[0].event : "?",
               s->batch[0].path ? s->batch[0].path : "");
        done = 1;
        if (from_spill) /* up to the end of that one line only */
            consumed = s->spill_end[0];
    } else if (good > 0) {
        if (from_spill && good < n)
            consumed = s->spill_end[good - 1];
        rc = gw_statedb_audit_append(s->db, s->node, s->batch, good, s->key, s->keylen, err, errsz);
    }
    pthread_mutex_lock(&s->mu);
    if (rc == 0 && !from_spill) {
        for (size_t i = 0; i < done; i++)
            free(gw_ssq_pop(&s->q));
    } else if (rc == 0) {
        s->spill_pos += consumed;
        s->spill_n = s->spill_n > done ? s->spill_n - done : 0;
        struct stat st;
        if (fstat(s->spill_fd, &st) == 0 && st.st_size <= s->spill_pos)
            spill_done(s);
        else
            pos_save(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (from_spill)
        for (size_t i = 0; i < n; i++)
            free(s->held[i]);
    *did = rc == 0;
    return rc;
}

static bool stopping(struct gw_statesync *s, int64_t *deadline, bool *backlog)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    *deadline = s->deadline;
    *backlog = s->q.n > 0 || s->spilling;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Waits up to ms for the database socket or the work eventfd. True when the database
 * socket is readable. */
static bool wait_for(struct gw_statesync *s, int dbfd, int64_t ms)
{
    struct pollfd p[2] = {{.fd = s->work_fd, .events = POLLIN}, {.fd = dbfd, .events = POLLIN}};
    if (ms < 0)
        ms = 0;
    if (ms > 60000)
        ms = 60000;
    int r = poll(p, dbfd >= 0 ? 2 : 1, (int)ms);
    if (r > 0 && (p[0].revents & POLLIN))
        drain(s->work_fd);
    return r > 0 && dbfd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
}

/* The reason in a connection error, without the URL our log line already names. */
static const char *reason(const char *err)
{
    static const char prefix[] = "cannot connect to ";
    const char *colon = strstr(err, ": ");
    if (strncmp(err, prefix, sizeof prefix - 1) == 0 && colon)
        return colon + 2;
    return err;
}

static void set_sock(struct gw_statesync *s, int fd)
{
    pthread_mutex_lock(&s->mu);
    s->sock_fd = fd;
    pthread_mutex_unlock(&s->mu);
}

static int connect_db(struct gw_statesync *s, int64_t *rev, char *err, size_t errsz)
{
    int rc;
    /* Before libpq closes the old socket: a child forked from now on must not close
     * its number, which may by then name one of the parent's new descriptors. */
    set_sock(s, -1);
    if (!s->db)
        rc = gw_statedb_open(s->url, &s->db, err, errsz);
    else
        rc = gw_statedb_reset(s->db, err, errsz);
    if (rc == 0)
        set_sock(s, gw_statedb_socket(s->db));
    if (rc == 0)
        rc = gw_statedb_listen_users(s->db, err, errsz);
    if (rc == 0)
        rc = load_users(s, rev, err, errsz);
    return rc;
}

static void *thread_main(void *arg)
{
    struct gw_statesync *s = arg;
    char err[512];
    unsigned failures = 0, hard = 0;
    bool connected = false, logged_down = false;
    int64_t next_try = 0, next_users = 0, rev = -1, deadline;
    bool backlog;
    for (;;) {
        bool stop = stopping(s, &deadline, &backlog);
        int64_t now = mono_ms();
        if (stop && (!backlog || now >= deadline))
            break;
        if (!connected) {
            if (now < next_try) {
                wait_for(s, -1, (stop && deadline < next_try ? deadline : next_try) - now);
                continue;
            }
            err[0] = '\0';
            pthread_rwlock_rdlock(&s->forklock);
            int rc = connect_db(s, &rev, err, sizeof err);
            pthread_rwlock_unlock(&s->forklock);
            if (rc < 0) {
                failures++;
                next_try = mono_ms() + gw_statesync_backoff_ms(failures);
                /* Stopping with the database away: one try was enough, the spill file
                 * keeps the records for the next start. */
                if (stop)
                    break;
                if (!logged_down)
                    gw_log(GW_LOG_ERROR,
                           "state_db %s unreachable: %s; logins refused, audit records queued",
                           s->redacted, err[0] ? reason(err) : gw_strerror(rc));
                logged_down = true;
                continue;
            }
            connected = true;
            failures = 0;
            next_users = mono_ms() + GW_STATESYNC_USERS_POLL_MS;
            set_up(s, true);
            if (logged_down)
                gw_log(GW_LOG_INFO,
                       "state_db %s reachable again: logins accepted, %llu audit "
                       "record(s) to write",
                       s->redacted, (unsigned long long)gw_statesync_backlog(s));
            else
                gw_log(GW_LOG_INFO, "state_db %s connected (%zu users)", s->redacted,
                       s->last_nusers);
            logged_down = false;
        }
        /* Connected: users first (logins wait for them), then throttling, then audit. */
        int rc = 0;
        bool did = false;
        err[0] = '\0';
        pthread_rwlock_rdlock(&s->forklock);
        pthread_mutex_lock(&s->mu);
        if (s->reload)
            next_users = 0, rev = -1;
        s->reload = false;
        pthread_mutex_unlock(&s->mu);
        if (mono_ms() >= next_users) {
            int64_t cur = 0;
            rc = gw_statedb_users_rev(s->db, &cur, err, sizeof err);
            if (rc == 0 && cur != rev)
                rc = load_users(s, &rev, err, sizeof err);
            next_users = mono_ms() + GW_STATESYNC_USERS_POLL_MS;
        }
        if (rc == 0)
            rc = do_throttle(s, err, sizeof err);
        if (rc == 0)
            rc = do_audit(s, &did, err, sizeof err);
        pthread_rwlock_unlock(&s->forklock);
        if (rc == 0 && !did) {
            int64_t until = next_users;
            if (stop && deadline < until)
                until = deadline;
            int fd = gw_statedb_socket(s->db);
            if (wait_for(s, fd, until - mono_ms())) {
                pthread_rwlock_rdlock(&s->forklock);
                bool notified = gw_statedb_users_notified(s->db);
                if (notified)
                    rc = load_users(s, &rev, err, sizeof err);
                else if (!gw_statedb_ok(s->db))
                    rc = GW_ERR_IO;
                pthread_rwlock_unlock(&s->forklock);
            }
        }
        if (rc < 0 || !gw_statedb_ok(s->db)) {
            /* Reconnect at once: a failure then says why (connection refused, ...),
             * where the broken connection only knows it is gone. */
            connected = false;
            set_up(s, false);
            failures = 0;
            next_try = 0;
            if (rc < 0 && rc != GW_ERR_IO) {
                /* The database answered, but not as expected (a schema changed under
                 * us?): say so, and do not hammer it. */
                hard++;
                next_try = mono_ms() + gw_statesync_backoff_ms(hard);
                gw_log(GW_LOG_ERROR, "state_db %s: %s; retrying", s->redacted,
                       err[0] ? err : gw_strerror(rc));
            }
        } else if (did) {
            hard = 0;
        }
    }
    return NULL;
}

void gw_statesync_set_bound(struct gw_statesync *s, size_t max_records, size_t max_bytes)
{
    s->q.max_n = max_records;
    s->q.max_bytes = max_bytes;
}

int gw_statesync_start(struct gw_statesync *s)
{
    struct stat st;
    pthread_mutex_lock(&s->mu);
    if (stat(s->spill_path, &st) == 0 && st.st_size > 0) {
        int rc = spill_open(s);
        if (rc < 0) {
            pthread_mutex_unlock(&s->mu);
            gw_log(GW_LOG_ERROR, "state_db: cannot open %s: %s", s->spill_path, gw_strerror(rc));
            return rc;
        }
        /* A crash during a write may have left a torn last line: end it, so that it
         * is skipped as one bad line and does not swallow the next record. */
        char last = '\n';
        if (pread(s->spill_fd, &last, 1, st.st_size - 1) == 1 && last != '\n' &&
            gw_write_all(s->spill_fd, "\n", 1) == 0)
            st.st_size++;
        s->spill_pos = pos_load(s->pos_path);
        if (s->spill_pos > st.st_size)
            s->spill_pos = 0;
        if (st.st_size > s->spill_pos) {
            s->spilling = true;
            /* Only a guess for the log until the thread has read it. */
            s->spill_n = 1;
            gw_log(GW_LOG_INFO,
                   "state_db: %s holds audit records of an earlier run: they go "
                   "to the database first",
                   s->spill_path);
        }
    }
    pthread_mutex_unlock(&s->mu);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, thread_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0)
        return GW_ERR_NOMEM;
    s->started = true;
    return 0;
}

int gw_statesync_fd(const struct gw_statesync *s)
{
    return s->note_fd;
}

void gw_statesync_poll(struct gw_statesync *s)
{
    drain(s->note_fd);
}

bool gw_statesync_up(struct gw_statesync *s)
{
    pthread_mutex_lock(&s->mu);
    bool up = s->up;
    pthread_mutex_unlock(&s->mu);
    return up;
}

bool gw_statesync_take_users(struct gw_statesync *s, struct auth_db *out, int64_t *rev)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->users_ready;
    if (have) {
        *out = s->users_new;
        *rev = s->users_rev;
        memset(&s->users_new, 0, sizeof s->users_new);
        s->users_ready = false;
    }
    pthread_mutex_unlock(&s->mu);
    return have;
}

/* ---- the other outputs (main thread) ---- */

int gw_statesync_set_outputs(struct gw_statesync *s, const char *xferlog_path, bool use_syslog)
{
    return audit_outputs_set(&s->out, xferlog_path, use_syslog);
}

int gw_statesync_audit(struct gw_statesync *s, const struct audit_record *r)
{
    struct audit_record rec = *r;
    int rc = 0;
    if (rec.ts_ms <= 0)
        rec.ts_ms = wall_ms();
    pthread_mutex_lock(&s->mu);
    struct gw_ssq_rec *n = NULL;
    if (!s->spilling) {
        n = gw_ssq_copy(&rec);
        if (n && gw_ssq_push(&s->q, n) == 0)
            n = NULL, rc = 1;
    }
    if (rc == 0) {
        /* Full (or already spilling: order first), or out of memory. */
        rc = spill_append(s, &rec);
        if (rc < 0 && !n)
            n = gw_ssq_copy(&rec);
        if (rc < 0 && n) {
            /* Over the bound (and, while spilling, ahead of older records in the
             * file) rather than lost. */
            n->next = NULL;
            if (s->q.tail)
                s->q.tail->next = n;
            else
                s->q.head = n;
            s->q.tail = n;
            s->q.n++;
            s->q.bytes += n->size;
            n = NULL;
            gw_log(GW_LOG_ERROR, "state_db: cannot write %s (%s): audit record kept in memory",
                   s->spill_path, gw_strerror(rc));
            rc = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(n);
    kick(s->work_fd);
    /* As the file writer does; the syslog line carries no hash: the chain is computed
     * in the database later. */
    audit_outputs_emit(&s->out, &rec, NULL);
    return rc < 0 ? GW_ERR_IO : 0;
}

uint64_t gw_statesync_backlog(struct gw_statesync *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->q.n + s->spill_n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void gw_statesync_reload_users(struct gw_statesync *s)
{
    pthread_mutex_lock(&s->mu);
    s->reload = true;
    pthread_mutex_unlock(&s->mu);
    kick(s->work_fd);
}

/* Queues a throttle request for the thread; dropped while the database is down. */
static void throttle_push(struct gw_statesync *s, struct throttle_req *t, const char *addr)
{
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    pthread_mutex_lock(&s->mu);
    bool up = s->up;
    if (up)
        ring_push(&s->treq, t);
    pthread_mutex_unlock(&s->mu);
    if (up)
        kick(s->work_fd);
}

void gw_statesync_throttle_fail(struct gw_statesync *s, const char *addr, int64_t window_ms)
{
    struct throttle_req t = {.fail = true, .window_ms = window_ms};
    throttle_push(s, &t, addr);
}

void gw_statesync_throttle_ok(struct gw_statesync *s, const char *addr)
{
    struct throttle_req t = {.fail = false};
    throttle_push(s, &t, addr);
}

bool gw_statesync_take_throttle(struct gw_statesync *s, char addr[48], int64_t *fails)
{
    struct throttle_req t;
    pthread_mutex_lock(&s->mu);
    bool have = ring_pop(&s->tres, &t);
    pthread_mutex_unlock(&s->mu);
    if (have) {
        memcpy(addr, t.addr, ADDR_MAX);
        *fails = t.window_ms;
    }
    return have;
}

/* ---- stopping ---- */

/* Saves the records still in memory to the spill file, before what it held past
 * spill_pos (those are newer), through a temporary file renamed over it. Under mu,
 * after the thread is gone (or abandoned). */
static void spill_rest(struct gw_statesync *s)
{
    if (s->q.n == 0)
        return;
    char tmp[GW_MAX_PATH + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->spill_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd < 0 ? gw_err_from_errno(errno) : 0;
    size_t n = s->q.n;
    struct gw_buf line;
    gw_buf_init(&line, GW_MAX_AUDIT_LINE + 2);
    for (struct gw_ssq_rec *r = s->q.head; r && rc == 0; r = r->next) {
        gw_buf_reset(&line);
        rc = gw_statesync_spill_encode(&r->rec, &line);
        if (rc == 0)
            rc = gw_write_all(fd, line.data, line.len);
    }
    gw_buf_free(&line);
    if (rc == 0 && s->spilling && s->spill_fd >= 0) {
        char *buf = malloc(GW_IO_CHUNK);
        off_t at = s->spill_pos;
        ssize_t got;
        while (rc == 0 && buf && (got = pread(s->spill_fd, buf, GW_IO_CHUNK, at)) > 0) {
            rc = gw_write_all(fd, buf, (size_t)got);
            at += got;
        }
        if (!buf)
            rc = GW_ERR_NOMEM;
        free(buf);
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = gw_err_from_errno(errno);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, s->spill_path) != 0)
        rc = gw_err_from_errno(errno);
    if (rc < 0) {
        unlink(tmp);
        gw_log(GW_LOG_ERROR, "state_db: cannot save %zu audit record(s) to %s: %s", n,
               s->spill_path, gw_strerror(rc));
        return;
    }
    unlink(s->pos_path);
    s->spill_pos = 0;
    s->spill_n += n;
    s->spilling = true;
    if (!s->abandoned) /* else its thread may still read them */
        gw_ssq_clear(&s->q);
    if (s->spill_fd >= 0)
        close(s->spill_fd);
    s->spill_fd = -1;
}

void gw_statesync_stop(struct gw_statesync *s, int64_t deadline_ms)
{
    if (!s || s->joined)
        return;
    int64_t dl = deadline_ms; /* gw_now_ms is CLOCK_MONOTONIC too */
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    s->deadline = dl;
    pthread_mutex_unlock(&s->mu);
    kick(s->work_fd);
    if (s->started) {
        /* A query stuck on a dead network would keep the thread past the deadline:
         * wait a little longer, then leave it and save what is queued (a record in
         * its batch may then reach the database and the spill file both; none is
         * lost). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ms = dl - mono_ms() + 5000;
        if (wait_ms < 5000)
            wait_ms = 5000;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        if (pthread_timedjoin_np(s->thread, NULL, &ts) != 0) {
            s->abandoned = true;
            gw_log(GW_LOG_ERROR, "state_db: the database does not answer; giving up on it");
        }
    }
    s->joined = true;
    pthread_mutex_lock(&s->mu);
    spill_rest(s);
    uint64_t left = s->q.n + (s->spilling ? s->spill_n : 0);
    pthread_mutex_unlock(&s->mu);
    if (left)
        gw_log(GW_LOG_WARN,
               "state_db: %s holds the audit records not yet in the database; "
               "the next start writes them",
               s->spill_path);
}

void gw_statesync_free(struct gw_statesync *s)
{
    if (!s)
        return;
    gw_statesync_stop(s, mono_ms());
    if (s->abandoned) {
        /* Its thread may still use it and the process is about to exit: keep it
         * reachable rather than free it under the thread. */
        static struct gw_statesync *volatile abandoned;
        abandoned = s;
        (void)abandoned;
        return;
    }
    gw_statedb_close(s->db);
    gw_ssq_clear(&s->q);
    if (s->users_ready)
        wipe_users(&s->users_new);
    if (s->spill_fd >= 0)
        close(s->spill_fd);
    audit_outputs_free(&s->out);
    close(s->work_fd);
    close(s->note_fd);
    pthread_rwlock_destroy(&s->forklock);
    pthread_mutex_destroy(&s->mu);
    if (s->key)
        explicit_bzero(s->key, s->keylen);
    free(s->key);
    free(s->url);
    free(s->node);
    free(s->spill_path);
    free(s->pos_path);
    free(s);
}

void gw_statesync_fork_begin(struct gw_statesync *s)
{
    if (!s)
        return;
    /* A query stuck on a dead network must not stall the parent's loop: after a
     * while the fork goes ahead (the child may then report a false leak). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += FORK_WAIT_S;
    s->fork_locked = pthread_rwlock_timedwrlock(&s->forklock, &ts) == 0;
}

void gw_statesync_fork_end(struct gw_statesync *s)
{
    if (s && s->fork_locked)
        pthread_rwlock_unlock(&s->forklock);
    if (s)
        s->fork_locked = false;
}

void gw_statesync_forget_in_child(struct gw_statesync *s)
{
    if (!s)
        return;
    /* No libpq call: the connection's state may be half-changed by the thread. */
    if (s->sock_fd >= 0)
        close(s->sock_fd);
    close(s->work_fd);
    close(s->note_fd);
    if (s->spill_fd >= 0)
        close(s->spill_fd);
    if (s->out.xfd >= 0)
        close(s->out.xfd);
    s->out.xfd = -1;
    s->work_fd = s->note_fd = s->spill_fd = s->sock_fd = -1;
    gw_ssq_clear(&s->q);
    if (s->users_ready)
        wipe_users(&s->users_new);
    s->users_ready = false;
    if (s->key)
        explicit_bzero(s->key, s->keylen);
}
