/* Resumable, verified, atomic downloads from a legacy FTP server (see fetch.h). */
#include "ftp/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "integrity/algo.h"
#include "integrity/manifest.h"

#define EV_SLOTS 24

struct ev_slot {
    char *name;
    char *data; /* NULL when absent from the directory or not fetchable */
    size_t len;
};

struct ftpc_dir_evidence {
    struct ev_slot s[EV_SLOTS];
    size_t n;
};

static const char *const manifest_names[] = {"SHA256SUMS", "SHA512SUMS", "MD5SUMS"};
static const char *const sig_suffixes[] = {".minisig", ".sig", ".asc"};
static const char *const digest_suffixes[] = {".sha256", ".sha512"};

struct ftpc_dir_evidence *ftpc_evidence_new(void)
{
    return calloc(1, sizeof(struct ftpc_dir_evidence));
}

void ftpc_evidence_free(struct ftpc_dir_evidence *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->n; i++) {
        free(ev->s[i].name);
        free(ev->s[i].data);
    }
    free(ev);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

bool ftpc_is_evidence_name(const char *name)
{
    for (size_t i = 0; i < 3; i++)
        if (strcmp(name, manifest_names[i]) == 0)
            return true;
    for (size_t i = 0; i < 3; i++)
        if (ends_with(name, sig_suffixes[i]))
            return true;
    for (size_t i = 0; i < 2; i++)
        if (ends_with(name, digest_suffixes[i]))
            return true;
    return false;
}

static const struct ftpc_entry *find_entry(const struct ftpc_listing *l, const char *raw)
{
    for (size_t i = 0; l && i < l->n; i++)
        if (l->e[i].type == LP_TYPE_FILE && strcmp(l->e[i].raw, raw) == 0)
            return &l->e[i];
    return NULL;
}

static int sink_mem(void *ctx, const void *buf, size_t n)
{
    return gw_buf_append(ctx, buf, n);
}

/* Remote path of a name inside dir (raw bytes). */
static char *join_remote(const char *dir, const char *name)
{
    char *p = NULL;
    size_t n = strlen(dir);
    if (asprintf(&p, "%s%s%s", dir, n && dir[n - 1] != '/' ? "/" : "", name) < 0)
        return NULL;
    return p;
}

/* The evidence file raw name from dir, fetched once per directory; NULL when absent. */
static const struct ev_slot *evidence(struct ftpc *c, const char *dir,
                                      const struct ftpc_listing *l, struct ftpc_dir_evidence *ev,
                                      const char *raw)
{
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->s[i].name, raw) == 0)
            return ev->s[i].data ? &ev->s[i] : NULL;
    if (ev->n == EV_SLOTS) { /* recycle: the directory's main evidence comes first */
        free(ev->s[EV_SLOTS - 1].name);
        free(ev->s[EV_SLOTS - 1].data);
        ev->n--;
    }
    struct ev_slot *s = &ev->s[ev->n];
    memset(s, 0, sizeof *s);
    s->name = strdup(raw);
    if (!s->name)
        return NULL;
    ev->n++;
    const struct ftpc_entry *e = find_entry(l, raw);
    if (!e || (e->have_size && e->size > FTPC_MAX_SIDECAR))
        return NULL;
    char *path = join_remote(dir, raw);
    struct gw_buf b;
    uint64_t got;
    gw_buf_init(&b, FTPC_MAX_SIDECAR);
    if (path && ftpc_get(c, path, strlen(path), 0, sink_mem, &b, &got) == 0) {
        s->data = gw_buf_steal(&b, &s->len);
    }
    gw_buf_free(&b);
    free(path);
    return s->data ? s : NULL;
}

/* NAME.sha256 / NAME.sha512: a bare digest, or one manifest line. */
static bool bare_digest(const struct ev_slot *s, enum ig_algo algo, struct ig_verify_req *req)
{
    size_t want = 2 * ig_algo_len(algo), n = 0;
    while (n < s->len && ig_is_hex(s->data + n, 1))
        n++;
    if (n != want || (n < s->len && s->data[n] != ' ' && s->data[n] != '\n' && s->data[n] != '\r' &&
                      s->data[n] != '\t'))
        return false;
    s->data[n] = '\0'; /* the digest is kept as a C string in the cache */
    req->expect[req->n_expect].algo = algo;
    req->expect[req->n_expect].hex = s->data;
    req->n_expect++;
    return true;
}

static void result_from(struct ftpc_fetch_result *r, const struct ig_verify_result *vr)
{
    r->verdict = vr->verdict;
    r->weak = vr->weak;
    r->checked = true;
    snprintf(r->reason, sizeof r->reason, "%s", vr->reason);
}

/* Tries each key (or none) on req; keeps the first success, else the last failure. */
static void verify_with_keys(const struct ftpc_policy *pol, struct ig_verify_req *req,
                             struct ftpc_fetch_result *r)
{
    struct ig_verify_result vr;
    size_t nk = pol->nkeys ? pol->nkeys : 1;
    for (size_t k = 0; k < nk; k++) {
        req->trust.key = pol->nkeys ? pol->keys[k] : NULL;
        req->trust.key_len = pol->nkeys ? pol->key_len[k] : 0;
        ig_verify(req, &vr);
        result_from(r, &vr);
        if (vr.verdict == IG_VERIFIED)
            return;
    }
}

static void verify_auto(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                        struct ftpc_dir_evidence *ev, const struct ftpc_entry *e, const char *part,
                        int fd, const struct ftpc_policy *pol, struct ftpc_fetch_result *r)
{
    struct ig_verify_req req;
    char name[1024];
    memset(&req, 0, sizeof req);
    req.path = part;
    req.fd = fd;
    req.name = e->raw;
    r->verdict = IG_UNVERIFIED;
    r->checked = true;
    snprintf(r->reason, sizeof r->reason, "%s",
             pol->nkeys ? "no signature found and --key given"
                        : "no hash, manifest or signature found beside the file");
    if (pol->nkeys) {
        /* A signed manifest first, then a signature over the file itself. */
        for (size_t m = 0; m < 3; m++) {
            const struct ev_slot *man = evidence(c, dir, l, ev, manifest_names[m]);
            if (!man)
                continue;
            for (size_t s = 0; s < 3; s++) {
                snprintf(name, sizeof name, "%s%s", manifest_names[m], sig_suffixes[s]);
                const struct ev_slot *sig = evidence(c, dir, l, ev, name);
                if (!sig)
                    continue;
                req.manifest = man->data;
                req.manifest_len = man->len;
                req.manifest_name = manifest_names[m];
                req.sig = (const unsigned char *)sig->data;
                req.sig_len = sig->len;
                verify_with_keys(pol, &req, r);
                if (r->verdict == IG_VERIFIED || r->verdict == IG_FAILED)
                    return;
            }
        }
        req.manifest = NULL;
        req.manifest_len = 0;
        for (size_t s = 0; s < 3; s++) {
            snprintf(name, sizeof name, "%s%s", e->raw, sig_suffixes[s]);
            const struct ev_slot *sig = evidence(c, dir, l, ev, name);
            if (!sig)
                continue;
            req.sig = (const unsigned char *)sig->data;
            req.sig_len = sig->len;
            verify_with_keys(pol, &req, r);
            if (r->verdict == IG_VERIFIED || r->verdict == IG_FAILED)
                return;
        }
        return;
    }
    /* No key: hashes from the same server detect corruption, not an attacker. */
    req.same_channel = true;
    const enum ig_algo algos[2] = {IG_ALGO_SHA256, IG_ALGO_SHA512};
    for (size_t d = 0; d < 2; d++) {
        snprintf(name, sizeof name, "%s%s", e->raw, digest_suffixes[d]);
        const struct ev_slot *s = evidence(c, dir, l, ev, name);
        if (!s)
            continue;
        if (!bare_digest(s, algos[d], &req)) {
            req.manifest = s->data;
            req.manifest_len = s->len;
            req.manifest_name = name;
        }
        verify_with_keys(pol, &req, r);
        return;
    }
    for (size_t m = 0; m < 3; m++) {
        const struct ev_slot *man = evidence(c, dir, l, ev, manifest_names[m]);
        if (!man)
            continue;
        req.manifest = man->data;
        req.manifest_len = man->len;
        req.manifest_name = manifest_names[m];
        verify_with_keys(pol, &req, r);
        return;
    }
}

static void verify_file(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                        struct ftpc_dir_evidence *ev, const struct ftpc_entry *e, const char *part,
                        int fd, const struct ftpc_policy *pol, struct ftpc_fetch_result *r)
{
    if (pol->mode == FTPC_VERIFY_NONE) {
        r->verdict = IG_VERIFIED;
        r->checked = false;
        snprintf(r->reason, sizeof r->reason, "not verified (--verify none)");
        return;
    }
    if (pol->mode == FTPC_VERIFY_MANIFEST) {
        struct ig_verify_req req;
        memset(&req, 0, sizeof req);
        req.path = part;
        req.fd = fd;
        req.name = e->raw;
        req.manifest = pol->manifest;
        req.manifest_len = pol->manifest_len;
        req.manifest_name = pol->manifest_name;
        verify_with_keys(pol, &req, r);
        return;
    }
    verify_auto(c, dir, l, ev, e, part, fd, pol, r);
    if (r->verdict == IG_VERIFIED && r->weak && pol->require_signature) {
        r->verdict = IG_UNVERIFIED;
        snprintf(r->reason, sizeof r->reason,
                 "only a hash from the same server was found and --require-signature is set");
    }
}

const char *ftpc_evidence_get(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                              struct ftpc_dir_evidence *ev, const char *raw, size_t *len)
{
    const struct ev_slot *s = evidence(c, dir, l, ev, raw);
    *len = s ? s->len : 0;
    return s ? s->data : NULL;
}

static bool listed(const struct ftpc_listing *l, const char *raw)
{
    return find_entry(l, raw) != NULL;
}

/* True when manifest (a listed name) exists and names e. */
static bool manifest_names_entry(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                                 struct ftpc_dir_evidence *ev, const char *manifest,
                                 const struct ftpc_entry *e)
{
    struct ig_manifest man;
    size_t len;
    if (!listed(l, manifest))
        return false;
    const char *data = ftpc_evidence_get(c, dir, l, ev, manifest, &len);
    if (!data)
        return false;
    const struct ig_manifest_entry *first;
    size_t n = 0;
    if (ig_manifest_parse(data, len, ig_manifest_hint_from_name(manifest), &man) == 0)
        n = ig_manifest_find(&man, e->raw, e->raw_len, &first);
    ig_manifest_free(&man);
    return n > 0;
}

bool ftpc_has_evidence(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                       struct ftpc_dir_evidence *ev, const struct ftpc_entry *e,
                       const struct ftpc_policy *pol)
{
    char name[1024];
    for (size_t s = 0; s < 3; s++) {
        if (!pol->nkeys)
            break;
        snprintf(name, sizeof name, "%s%s", e->raw, sig_suffixes[s]);
        if (listed(l, name))
            return true;
    }
    for (size_t d = 0; d < 2 && !pol->nkeys; d++) {
        snprintf(name, sizeof name, "%s%s", e->raw, digest_suffixes[d]);
        if (listed(l, name))
            return true;
    }
    for (size_t m = 0; m < 3; m++) {
        bool signed_ok = !pol->nkeys;
        for (size_t s = 0; s < 3 && !signed_ok; s++) {
            snprintf(name, sizeof name, "%s%s", manifest_names[m], sig_suffixes[s]);
            signed_ok = listed(l, name);
        }
        if (signed_ok && manifest_names_entry(c, dir, l, ev, manifest_names[m], e))
            return true;
    }
    return false;
}

void ftpc_verify_copy(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                      struct ftpc_dir_evidence *ev, const struct ftpc_entry *e, const char *path,
                      int fd, const struct ftpc_policy *pol, struct ftpc_fetch_result *r)
{
    verify_file(c, dir, l, ev, e, path, fd, pol, r);
}

#define WRITEBACK_STEP (8u << 20)

/* Big files are hashed by a second thread that reads back what the download wrote
 * (from the page cache), so the SHA-256 runs beside the transfer instead of inside it:
 * on a 4 GiB file that is the difference between the hash adding ~3.5 s and adding
 * nothing while a second core is free. Small files hash inline: a thread per file
 * would cost more than it saves. */
#define HASH_THREAD_MIN (16u << 20)
#define HASH_PUBLISH_STEP (1u << 20)
#define HASH_READ_BUF (256u << 10)

struct hasher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    EVP_MD_CTX *md;
    uint64_t avail;   /* bytes [0, avail) are in the file (the download published them) */
    bool final, stop; /* final: avail is the whole file; stop: give up */
    int err;          /* the thread's result, read after the join */
};

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;
    char *buf = malloc(HASH_READ_BUF);
    uint64_t hashed = 0, blocked_at = UINT64_MAX;
    if (!buf) {
        h->err = GW_ERR_NOMEM;
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&h->mu);
        /* blocked_at: the file ended before avail (a hole still to be set by ftruncate);
         * wait for more, not in a loop. */
        while (!h->stop && !h->final && (hashed >= h->avail || h->avail == blocked_at))
            pthread_cond_wait(&h->cv, &h->mu);
        uint64_t end = h->avail;
        bool stop = h->stop, fin = h->final;
        pthread_mutex_unlock(&h->mu);
        if (stop || (fin && hashed >= end))
            break;
        while (hashed < end) {
            size_t want = end - hashed < HASH_READ_BUF ? (size_t)(end - hashed) : HASH_READ_BUF;
            ssize_t r = pread(h->fd, buf, want, (off_t)hashed);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || (r == 0 && fin)) {
                h->err = r < 0 ? gw_err_from_errno(errno) : GW_ERR_IO;
                goto done;
            }
            if (r == 0) {
                blocked_at = end;
                break;
            }
            EVP_DigestUpdate(h->md, buf, (size_t)r);
            hashed += (uint64_t)r;
        }
    }
done:
    free(buf);
    return NULL;
}

static void hasher_publish(struct hasher *h, uint64_t avail, bool final)
{
    pthread_mutex_lock(&h->mu);
    h->avail = avail;
    h->final = h->final || final;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Stops (stop) or finishes the thread and returns its result. */
static int hasher_end(struct hasher *h, bool stop)
{
    pthread_mutex_lock(&h->mu);
    h->stop = h->stop || stop;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    return h->err;
}

static int hasher_start(struct hasher *h, int fd, EVP_MD_CTX *md, uint64_t avail)
{
    memset(h, 0, sizeof *h);
    h->fd = fd;
    h->md = md;
    h->avail = avail;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->th, NULL, hasher_main, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        return GW_ERR_NOMEM;
    }
    return 0;
}

struct file_sink {
    int fd;
    EVP_MD_CTX *md;
    struct hasher *hasher; /* NULL: hash inline */
    uint64_t done, total;
    uint64_t kicked;    /* bytes handed to writeback (sync_file_range) so far */
    uint64_t published; /* bytes handed to the hasher so far */
    const struct ftpc_fetch_opts *o;
};

static bool all_zero(const char *p, size_t n)
{
    static const char zero[4096];
    while (n) {
        size_t k = n < sizeof zero ? n : sizeof zero;
        if (memcmp(p, zero, k) != 0)
            return false;
        p += k;
        n -= k;
    }
    return true;
}

/* Writes a downloaded block; blocks of zeros become holes (seek instead of write), so
 * sparse files stay sparse. The final size is set with ftruncate at the end. */
static int sink_file(void *ctx, const void *buf, size_t n)
{
    struct file_sink *fs = ctx;
    const char *p = buf;
    size_t left = n;
    if (n >= 4096 && all_zero(p, n)) {
        if (lseek(fs->fd, (off_t)n, SEEK_CUR) < 0)
            return gw_err_from_errno(errno);
        left = 0;
    }
    while (left) {
        ssize_t w = write(fs->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return gw_err_from_errno(errno);
        p += w;
        left -= (size_t)w;
    }
    fs->done += n;
    if (!fs->hasher) {
        EVP_DigestUpdate(fs->md, buf, n);
    } else if (fs->done - fs->published >= HASH_PUBLISH_STEP) {
        hasher_publish(fs->hasher, fs->done, false);
        fs->published = fs->done;
    }
    /* Start the disk writing while the rest arrives, so that the fsync (or the batch's
     * syncfs) at the end has little left to wait for. */
    if (fs->done - fs->kicked >= WRITEBACK_STEP) {
        sync_file_range(fs->fd, (off_t)fs->kicked, (off_t)(fs->done - fs->kicked),
                        SYNC_FILE_RANGE_WRITE);
        fs->kicked = fs->done;
    }
    if (fs->o->progress)
        fs->o->progress(fs->o->progress_ctx, fs->done, fs->total);
    return 0;
}

/* Hashes the bytes a resumed partial already holds (the rest is hashed as it arrives). */
static int hash_prefix(int fd, EVP_MD_CTX *md, uint64_t len)
{
    char buf[65536];
    uint64_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, buf, sizeof buf, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return GW_ERR_IO;
        EVP_DigestUpdate(md, buf, (size_t)r);
        done += (uint64_t)r;
    }
    return 0;
}

static int mkdir_parents(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return gw_err_from_errno(errno);
        *p = '/';
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

struct ftpc_batch {
    pthread_mutex_t mu;
    int fsfd; /* for syncfs */
    char **part, **final;
    size_t n, cap;
    uint64_t bytes;
    void (*on_fail)(void *ctx, const char *path, const char *why);
    void *ctx;
};

struct ftpc_batch *ftpc_batch_new(const char *dest,
                                  void (*on_fail)(void *ctx, const char *path, const char *why),
                                  void *ctx)
{
    struct ftpc_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->fsfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->fsfd < 0) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->on_fail = on_fail;
    b->ctx = ctx;
    return b;
}

static size_t flush_locked(struct ftpc_batch *b)
{
    size_t failed = 0;
    /* One sync for the whole batch: the data of every part is durable before any name
     * points at it. */
    bool synced = b->n == 0 || syncfs(b->fsfd) == 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!synced) {
            b->on_fail(b->ctx, b->final[i], strerror(errno)); /* parts stay for next run */
            failed++;
        } else if (rename(b->part[i], b->final[i]) != 0) {
            b->on_fail(b->ctx, b->final[i], strerror(errno));
            failed++;
        }
        free(b->part[i]);
        free(b->final[i]);
    }
    b->n = 0;
    b->bytes = 0;
    return failed;
}

size_t ftpc_batch_flush(struct ftpc_batch *b)
{
    pthread_mutex_lock(&b->mu);
    size_t failed = flush_locked(b);
    pthread_mutex_unlock(&b->mu);
    return failed;
}

size_t ftpc_batch_free(struct ftpc_batch *b)
{
    if (!b)
        return 0;
    size_t failed = ftpc_batch_flush(b);
    syncfs(b->fsfd); /* the renames themselves */
    close(b->fsfd);
    pthread_mutex_destroy(&b->mu);
    free(b->part);
    free(b->final);
    free(b);
    return failed;
}

/* Queues part -> final. When memory runs out the batch is flushed first and the file
 * handled on its own (fsync, rename). */
static int batch_add(struct ftpc_batch *b, const char *part, const char *final, uint64_t size)
{
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char **p = realloc(b->part, cap * sizeof *p);
        if (p)
            b->part = p;
        char **f = p ? realloc(b->final, cap * sizeof *f) : NULL;
        if (f)
            b->final = f;
        if (!p || !f) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        b->cap = cap;
    }
    b->part[b->n] = strdup(part);
    b->final[b->n] = strdup(final);
    if (!b->part[b->n] || !b->final[b->n]) {
        free(b->part[b->n]);
        free(b->final[b->n]);
        rc = GW_ERR_NOMEM;
        goto out;
    }
    b->n++;
    b->bytes += size;
    if (b->n >= FTPC_BATCH_FILES || b->bytes >= FTPC_BATCH_BYTES)
        flush_locked(b);
out:
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

static void quarantine(const char *part, const char *qpath, struct ftpc_fetch_result *r)
{
    char reason_path[4096];
    if (mkdir_parents(qpath) != 0 || rename(part, qpath) != 0) {
        unlink(part); /* never leave a rejected file where it could be taken for good */
        return;
    }
    snprintf(reason_path, sizeof reason_path, "%s.reason", qpath);
    FILE *f = fopen(reason_path, "w");
    if (f) {
        time_t now = time(NULL);
        fprintf(f, "%s\nquarantined: %s", r->reason, ctime(&now));
        fclose(f);
    }
}

int ftpc_fetch(struct ftpc *c, const char *dir, const struct ftpc_listing *listing,
               const struct ftpc_entry *e, const char *local_path, const char *quarantine_path,
               struct ftpc_dir_evidence *ev, const struct ftpc_fetch_opts *o,
               struct ftpc_fetch_result *r)
{
    char part[4096], origin[64], have[64];
    struct file_sink fs = {.fd = -1, .o = o};
    struct hasher hasher;
    char *rpath = join_remote(dir, e->raw);
    int rc = 0;
    memset(r, 0, sizeof *r);
    fs.md = EVP_MD_CTX_new();
    if (!rpath || !fs.md ||
        snprintf(part, sizeof part, "%s%s", local_path, FTPC_PART_SUFFIX) >= (int)sizeof part) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    EVP_DigestInit_ex(fs.md, EVP_sha256(), NULL);
    uint64_t size = e->size;
    time_t mtime = ftpc_time_utc(c, &e->mtime);
    if (!e->have_size) {
        time_t mt2;
        if (ftpc_stat(c, rpath, strlen(rpath), &size, &mt2) != 0) {
            snprintf(r->reason, sizeof r->reason, "%s", ftpc_error(c));
            r->temporary = ftpc_error_kind(c) == FTPC_TEMPORARY;
            rc = GW_ERR_UPSTREAM;
            goto out;
        }
        if (!mtime)
            mtime = mt2;
    }
    fs.total = size;
    snprintf(origin, sizeof origin, "%llu:%lld", (unsigned long long)size, (long long)mtime);
    /* A new part (the common case) needs no resume checks; its directory usually exists
     * (a mirror creates it from the listing), so mkdir only when open says it is missing. */
    bool fresh = true;
    fs.fd = open(part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fs.fd < 0 && errno == ENOENT) {
        if ((rc = mkdir_parents(local_path)) != 0)
            goto out;
        fs.fd = open(part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fs.fd < 0 && errno == EEXIST) {
        fresh = false;
        fs.fd = open(part, O_RDWR | O_CLOEXEC);
    }
    if (fs.fd < 0) {
        rc = gw_err_from_errno(errno);
        snprintf(r->reason, sizeof r->reason, "cannot create %.512s: %s", part, strerror(errno));
        goto out;
    }
    struct stat st;
    bool threaded = size >= HASH_THREAD_MIN;
    ssize_t hl = fresh ? -1 : fgetxattr(fs.fd, FTPC_ORIGIN_XATTR, have, sizeof have - 1);
    if (!fresh && fstat(fs.fd, &st) == 0 && hl > 0 && (size_t)hl == strlen(origin) &&
        memcmp(have, origin, (size_t)hl) == 0 && (uint64_t)st.st_size <= size) {
        r->offset = (uint64_t)st.st_size;
        r->resumed = r->offset > 0;
        /* The hash thread reads the kept prefix itself. */
        if (!threaded && hash_prefix(fs.fd, fs.md, r->offset) != 0)
            r->offset = 0, r->resumed = false, EVP_DigestInit_ex(fs.md, EVP_sha256(), NULL);
    }
    if (!fresh && r->offset == 0 && ftruncate(fs.fd, 0) != 0) {
        rc = gw_err_from_errno(errno);
        goto out;
    }
    /* Remember which remote version this partial belongs to; without xattr support a
     * later run simply starts over. */
    fsetxattr(fs.fd, FTPC_ORIGIN_XATTR, origin, strlen(origin), 0);
    fs.done = r->offset;
    fs.kicked = r->offset;
    fs.published = r->offset;
    if (threaded && hasher_start(&hasher, fs.fd, fs.md, r->offset) == 0)
        fs.hasher = &hasher;
    else if (threaded && r->offset && hash_prefix(fs.fd, fs.md, r->offset) != 0) {
        rc = GW_ERR_IO;
        snprintf(r->reason, sizeof r->reason, "cannot read back %.512s", part);
        goto out;
    }
    int delay = o->retry_delay_ms > 0 ? o->retry_delay_ms : 1000;
    for (int attempt = 0;; attempt++) {
        uint64_t got = 0;
        lseek(fs.fd, (off_t)fs.done, SEEK_SET);
        if (fs.done < size || size == 0)
            rc = ftpc_get(c, rpath, strlen(rpath), fs.done, sink_file, &fs, &got);
        else
            rc = 0;
        r->bytes = fs.done - r->offset;
        if (rc == 0 && fs.done != size && size != 0) {
            snprintf(r->reason, sizeof r->reason, "got %llu bytes of %llu (remote file changed?)",
                     (unsigned long long)fs.done, (unsigned long long)size);
            rc = GW_ERR_UPSTREAM;
            r->temporary = true;
        } else if (rc != 0) {
            snprintf(r->reason, sizeof r->reason, "%s", ftpc_error(c));
            r->temporary = ftpc_error_kind(c) == FTPC_TEMPORARY;
        }
        if (rc == 0 || !r->temporary || attempt >= o->retries)
            break;
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000};
        nanosleep(&ts, NULL);
        delay = delay * 2 > 30000 ? 30000 : delay * 2;
    }
    if (rc != 0) {
        /* The partial stays for the next run, unless there is nothing in it to resume. */
        if (fs.done == 0 && !r->temporary)
            unlink(part);
        goto out;
    }
    /* The size is set explicitly only when the file ends in a hole (sink_file seeks). */
    struct stat fin;
    bool short_file = fstat(fs.fd, &fin) != 0 || (uint64_t)fin.st_size != fs.done;
    if ((short_file && ftruncate(fs.fd, (off_t)fs.done) != 0) || (!o->batch && fsync(fs.fd) != 0)) {
        rc = gw_err_from_errno(errno);
        snprintf(r->reason, sizeof r->reason, "fsync %.512s: %s", part, strerror(errno));
        goto out;
    }
    if (fs.hasher) {
        hasher_publish(fs.hasher, fs.done, true);
        rc = hasher_end(fs.hasher, false);
        fs.hasher = NULL;
        if (rc != 0) {
            snprintf(r->reason, sizeof r->reason, "hashing %.512s: %s", part, gw_strerror(rc));
            goto out;
        }
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(fs.md, md, &mdlen);
    ig_hex_encode(md, 32, r->sha256);
    r->size = fs.done;
    if (o->evidence_lock)
        pthread_mutex_lock(o->evidence_lock);
    verify_file(c, dir, listing, ev, e, part, -1, o->policy, r);
    if (o->evidence_lock)
        pthread_mutex_unlock(o->evidence_lock);
    if (r->verdict != IG_VERIFIED) {
        close(fs.fd);
        fs.fd = -1;
        quarantine(part, quarantine_path, r);
        rc = GW_ERR_VERIFY;
        goto out;
    }
    fremovexattr(fs.fd, FTPC_ORIGIN_XATTR);
    if (mtime) {
        struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
        futimens(fs.fd, times);
    }
    close(fs.fd);
    fs.fd = -1;
    if (o->batch && batch_add(o->batch, part, local_path, fs.done) == 0)
        goto out;
    if (o->batch && fsync_path(part) != 0) {
        rc = GW_ERR_IO;
        snprintf(r->reason, sizeof r->reason, "fsync %.512s: %s", part, strerror(errno));
        goto out;
    }
    if (rename(part, local_path) != 0) {
        rc = gw_err_from_errno(errno);
        snprintf(r->reason, sizeof r->reason, "rename to %.512s: %s", local_path, strerror(errno));
        goto out;
    }
    fsync_dir_of(local_path);
out:
    r->status = rc;
    if (fs.hasher)
        hasher_end(fs.hasher, true); /* before the fd it reads is closed */
    if (fs.fd >= 0)
        close(fs.fd);
    EVP_MD_CTX_free(fs.md);
    free(rpath);
    return rc;
}
