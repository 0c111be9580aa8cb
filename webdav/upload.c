/* Resumable uploads per draft-ietf-httpbis-resumable-upload-12 (upload.h): the upload
 * resource's MAC, and the creation (PUT), offset retrieval (HEAD), append (PATCH) and
 * cancellation (DELETE) handlers. The pure parsers are in upload_parse.c. */
#include "webdav/upload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gateway/err.h"
#include "webdav/props.h"
#include "webdav/server.h"
#include "webdav/uri.h"

#define PROBLEM_BASE "https://iana.org/assignments/http-problem-types#"

static void be64(uint64_t v, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

int dav_upload_mac(const char *user, const char *key, uint64_t ino, const struct dav_upload_id *id,
                   unsigned char mac[DAV_UPLOAD_MAC])
{
    unsigned char md[EVP_MAX_MD_SIZE], num[8 * 2 + 1];
    unsigned int mdlen = 0;
    int rc = GW_ERR_NOMEM;
    be64(ino, num);
    num[8] = id->has_len ? 1 : 0;
    be64(id->has_len ? id->len : 0, num + 9);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* NULs separate the strings, so ("ab","c") and ("a","bc") differ. */
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(ctx, "ferry-upload-12", sizeof "ferry-upload-12") &&
        EVP_DigestUpdate(ctx, user, strlen(user) + 1) &&
        EVP_DigestUpdate(ctx, key, strlen(key) + 1) && EVP_DigestUpdate(ctx, num, sizeof num) &&
        EVP_DigestUpdate(ctx, id->nonce, sizeof id->nonce) && EVP_DigestFinal_ex(ctx, md, &mdlen) &&
        mdlen >= DAV_UPLOAD_MAC) {
        memcpy(mac, md, DAV_UPLOAD_MAC);
        rc = 0;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ---- the upload resource ---- */

/* One upload as a request found it. */
struct upload {
    struct dav_upload_id id;
    char key[GW_MAX_PATH]; /* server-relative path of the target */
    struct vfs_stat st;    /* the partial, or the committed file */
    bool complete;         /* the partial was committed */
};

static int64_t ttl_of(const struct dav_ctx *x)
{
    return x->cfg->partial_ttl > 0 ? x->cfg->partial_ttl : GW_DEFAULT_PARTIAL_TTL;
}

/* Seconds the partial has left (its lifetime restarts with every write: vfs.h). */
static int64_t max_age(const struct dav_ctx *x, const struct vfs_stat *st)
{
    int64_t left = ttl_of(x) - ((int64_t)time(NULL) - st->mtime);
    return left < 0 ? 0 : left > ttl_of(x) ? ttl_of(x) : left;
}

static bool id_matches(const struct dav_ctx *x, const struct upload *u, const struct vfs_stat *st)
{
    unsigned char mac[DAV_UPLOAD_MAC];
    return dav_upload_mac(x->s->user, u->key, st->ino, &u->id, mac) == 0 &&
           CRYPTO_memcmp(mac, u->id.mac, sizeof mac) == 0;
}

/* The request's upload resource: 1 with u->id when the URL names one, 0 when it does
 * not, or an HTTP status (400 for a malformed token). */
static int request_upload(struct dav_ctx *x, struct upload *u)
{
    const char *tok;
    size_t n;
    int rc = dav_upload_query(x->req.target, x->req.target_len, &tok, &n);
    if (rc <= 0)
        return rc < 0 ? 400 : 0;
    memset(u, 0, sizeof *u);
    if (dav_upload_token_parse(tok, n, &u->id) < 0)
        return 400;
    return 1;
}

/* Finds the upload u->id names, for this user: the pending partial (u->complete false)
 * or the file it became. 0, or the status to answer (404: no such upload here). */
static int resolve(struct dav_ctx *x, struct upload *u)
{
    if (vfs_read_only(x->vfs))
        return 404; /* a read-only view has no partials */
    if (dav_key(x, x->path, u->key, sizeof u->key) < 0)
        return 414;
    int rc = vfs_stat(x->vfs, x->path, VFS_SHADOW, &u->st);
    if (rc == 0 && S_ISREG(u->st.mode) && id_matches(x, u, &u->st)) {
        u->complete = !u->st.partial;
        return 0;
    }
    /* A newer upload of the same name may be pending while this one was committed. */
    if (rc == 0 && u->st.partial && vfs_stat(x->vfs, x->path, 0, &u->st) == 0 &&
        S_ISREG(u->st.mode) && id_matches(x, u, &u->st)) {
        u->complete = true;
        return 0;
    }
    if (rc < 0 && rc != GW_ERR_NOENT && rc != GW_ERR_NOTDIR)
        return dav_status_from_err(rc);
    return 404;
}

/* Waits (boundedly) for exclusive use of the upload: an append that another session is
 * still running on it finishes first, so offsets we report are ones we accept (the
 * draft's "Concurrency" section). The lock goes with the handle. 0 or 503. */
static int lock_handle(struct vfs_file *f)
{
    int fd = vfs_fd(f);
    int64_t end = gw_now_ms() + DAV_UPLOAD_LOCK_WAIT_MS;
    if (fd < 0)
        return 0; /* a backend without descriptors (upstream FTP): nothing to lock */
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return 0; /* no flock on this file system: proceed unlocked */
        if (gw_now_ms() >= end)
            return 503;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Opens the pending partial of u for appending at offset, locked. *now gets its stat
 * after the lock. 0, or a status: 409 when offset is past its end, 404 when the handle
 * is not the upload's pending partial any more: RESUME without a partial writes a
 * complete file in place, and an append that held the lock may have committed the
 * partial (same inode) while we waited. */
static int open_partial(struct dav_ctx *x, const struct upload *u, uint64_t offset,
                        struct vfs_file **out, struct vfs_stat *now)
{
    struct vfs_file *f = NULL;
    *out = NULL;
    int rc = vfs_open_write(x->vfs, x->path, VFS_WRITE_RESUME, offset, 0644, &f);
    if (rc == GW_ERR_RANGE)
        return 409;
    if (rc < 0)
        return rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc);
    int status = lock_handle(f);
    struct vfs_stat ps;
    if (status == 0 &&
        (vfs_fstat(f, now) < 0 || !now->partial || now->ino != u->st.ino || now->dev != u->st.dev ||
         vfs_stat(x->vfs, x->path, VFS_SHADOW, &ps) < 0 || !ps.partial || ps.ino != now->ino))
        status = 404;
    if (status) {
        vfs_close(f, false);
        return status;
    }
    *out = f;
    return 0;
}

/* True when the client speaks the draft's interop version, which a server must see
 * before it sends any 104 (and HTTP/1.0 gets no interim responses at all). */
static bool interop_ok(struct dav_ctx *x)
{
    uint64_t v;
    size_t n;
    const char *iv = dav_http_field(&x->req, "upload-draft-interop-version", &n);
    return x->req.minor != 0 && iv && dav_sf_uint(iv, n, &v) == 0 && v == DAV_UPLOAD_INTEROP;
}

/* A 104 telling how far the upload got (the draft's progress report: no Location). */
static int send_progress(struct dav_ctx *x, uint64_t offset)
{
    int rc =
        dav_conn_printf(&x->c,
                        "HTTP/1.1 104 Upload Resumption Supported\r\n"
                        "Upload-Draft-Interop-Version: %d\r\nUpload-Offset: %" PRIu64 "\r\n\r\n",
                        DAV_UPLOAD_INTEROP, offset);
    return rc == 0 ? dav_conn_flush(&x->c) : rc;
}

/* Appends the request body to f (which is at offset base), at most cap bytes. *got
 * counts what was written; *disk tells whether a failure was the file's (else the
 * connection's or the framing's). GW_ERR_RANGE when the body goes on past cap. Clients
 * of the draft's interop version get a 104 with the offset every DAV_UPLOAD_PROGRESS
 * bytes, so they can drop what is safely stored. */
static int recv_body(struct dav_ctx *x, struct vfs_file *f, uint64_t base, uint64_t cap,
                     uint64_t *got, bool *disk)
{
    bool progress = interop_ok(x);
    uint64_t reported = 0;
    *disk = false;
    for (;;) {
        size_t fill = 0;
        ssize_t r = 1;
        /* Gather a large block before writing: fewer, bigger writes to disk. */
        while (fill < GW_IO_CHUNK &&
               (r = dav_body_read(x, x->iobuf + fill, GW_IO_CHUNK - fill)) > 0)
            fill += (size_t)r;
        bool over = fill > cap - *got;
        size_t keep = over ? (size_t)(cap - *got) : fill;
        if (keep) {
            ssize_t w = vfs_write(f, x->iobuf, keep);
            if (w < 0) {
                *disk = true;
                return (int)w;
            }
            *got += keep;
        }
        if (progress && r > 0 && *got - reported >= DAV_UPLOAD_PROGRESS) {
            reported = *got;
            int rc = send_progress(x, base + *got);
            if (rc < 0)
                return rc;
        }
        if (over)
            return GW_ERR_RANGE;
        if (r <= 0)
            return (int)r;
    }
}

/* The upload's length as far as this request and the token tell it, checked for
 * consistency (the draft's "Length" section): 0 with *len (UINT64_MAX: unknown) or -1. */
static int request_length(struct dav_ctx *x, uint64_t offset, bool complete,
                          const struct dav_upload_id *id, uint64_t *len)
{
    uint64_t l = id && id->has_len ? id->len : UINT64_MAX, v;
    size_t n;
    const char *f = dav_http_field(&x->req, "upload-length", &n);
    if (f && dav_sf_uint(f, n, &v) == 0) {
        if (l != UINT64_MAX && l != v)
            return -1;
        l = v;
    }
    if (complete && x->req.body != DAV_BODY_CHUNKED) {
        uint64_t cl = x->req.body == DAV_BODY_LENGTH ? x->req.content_length : 0;
        if (cl > UINT64_MAX - 1 - offset || (l != UINT64_MAX && l != offset + cl))
            return -1;
        l = offset + cl;
    }
    if (l != UINT64_MAX && l < offset)
        return -1;
    *len = l;
    return 0;
}

static int state_headers(struct dav_ctx *x, uint64_t offset, bool complete, uint64_t len)
{
    int rc = dav_resp_header(x, "Upload-Offset: %" PRIu64, offset);
    if (rc == 0)
        rc = dav_resp_header(x, "Upload-Complete: ?%d", complete ? 1 : 0);
    if (rc == 0 && len != UINT64_MAX)
        rc = dav_resp_header(x, "Upload-Length: %" PRIu64, len);
    return rc;
}

/* An RFC 9457 problem for the draft's problem types. expected/provided < 0: none. */
static int problem(struct dav_ctx *x, int status, const char *type, const char *title,
                   int64_t expected, int64_t provided, bool complete)
{
    char body[512];
    int n;
    if (expected >= 0)
        n = snprintf(body, sizeof body,
                     "{\"type\":\"" PROBLEM_BASE
                     "%s\",\"title\":\"%s\",\"expected-offset\":%" PRId64
                     ",\"provided-offset\":%" PRId64 "}\n",
                     type, title, expected, provided);
    else
        n = snprintf(body, sizeof body, "{\"type\":\"" PROBLEM_BASE "%s\",\"title\":\"%s\"}\n",
                     type, title);
    int rc = dav_resp_begin(x, status);
    if (rc == 0 && expected >= 0)
        rc = state_headers(x, (uint64_t)expected, complete, UINT64_MAX);
    else if (rc == 0)
        rc = dav_resp_header(x, "Upload-Complete: ?%d", complete ? 1 : 0);
    if (rc == 0)
        rc = dav_resp_header(x, "Content-Type: application/problem+json");
    if (rc == 0)
        rc = dav_resp_end(x, n);
    if (rc == 0 && !dav_http_method_is(&x->req, "HEAD"))
        rc = dav_conn_write(&x->c, body, (size_t)n);
    return rc;
}

static int inconsistent(struct dav_ctx *x)
{
    return problem(x, 400, "inconsistent-upload-length", "the upload's length values disagree", -1,
                   -1, false);
}

static int mismatch(struct dav_ctx *x, uint64_t have, uint64_t sent)
{
    return problem(x, 409, "mismatching-upload-offset",
                   "Upload-Offset is not where the upload stands", (int64_t)have, (int64_t)sent,
                   false);
}

static int completed(struct dav_ctx *x)
{
    return problem(x, 400, "completed-upload", "the upload is complete already", -1, -1, true);
}

/* The upload resource's URL (origin-form): the target's path and "?upload=TOKEN". */
static int upload_url(struct dav_ctx *x, const struct dav_upload_id *id, struct gw_buf *b)
{
    char tok[DAV_UPLOAD_TOKEN_MAX];
    int rc = dav_upload_token_format(id, tok, sizeof tok);
    if (rc == 0)
        rc = dav_uri_encode(b, x->path, false);
    if (rc == 0)
        rc = gw_buf_printf(b, "?upload=%s", tok);
    return rc;
}

/* 104 (Upload Resumption Supported), which the draft lets a server send only to a
 * client announcing the same interop version, and never to HTTP/1.0. */
static int send_104(struct dav_ctx *x, const char *url, const struct vfs_stat *ps)
{
    char tail[160];
    if (!interop_ok(x))
        return 0;
    int m = snprintf(tail, sizeof tail,
                     "\r\nUpload-Draft-Interop-Version: %d\r\nUpload-Limit: max-age=%" PRId64
                     "\r\n\r\n",
                     DAV_UPLOAD_INTEROP, max_age(x, ps));
    int rc = dav_conn_printf(&x->c, "HTTP/1.1 104 Upload Resumption Supported\r\nLocation: ");
    if (rc == 0)
        rc = dav_conn_write(&x->c, url, strlen(url));
    if (rc == 0)
        rc = dav_conn_write(&x->c, tail, (size_t)m);
    return rc == 0 ? dav_conn_flush(&x->c) : rc;
}

/* The reply to the request that completed an upload: what the PUT would have said. */
static int reply_complete(struct dav_ctx *x, bool existed, uint64_t size, bool have_sum,
                          const unsigned char sum[32])
{
    struct vfs_stat st;
    char etag[DAV_ETAG_MAX], key[GW_MAX_PATH];
    int rc = dav_resp_begin(x, existed ? 204 : 201);
    if (rc == 0)
        rc = state_headers(x, size, true, UINT64_MAX);
    if (rc == 0 && vfs_stat(x->vfs, x->path, 0, &st) == 0) {
        dav_etag(&st, etag);
        rc = dav_resp_header(x, "ETag: %s", etag);
        if (have_sum && dav_key(x, x->path, key, sizeof key) == 0)
            dav_hash_put(x->srv->base, key, &st, sum);
    }
    return rc == 0 ? dav_resp_end(x, 0) : rc;
}

/* What is left to do once a body was received into f (opened at offset): the audit
 * record, the commit when the upload is complete (and as long as it said), the reply.
 * Shared by creation and append. */
static int finish(struct dav_ctx *x, struct vfs_file *f, int rc, bool disk, bool complete,
                  uint64_t offset, uint64_t got, uint64_t len, bool existed, int64_t started,
                  const char *url)
{
    unsigned char sum[32];
    bool body_ok = rc == 0;
    bool short_len = body_ok && complete && len != UINT64_MAX && offset + got != len;
    bool done = body_ok && complete && !short_len;
    bool have_sum = done && vfs_sha256(f, sum);
    gw_session_audit_transfer(x->s, "upload", x->path, f, started, body_ok ? "ok" : "aborted",
                              body_ok ? NULL : gw_strerror(rc));
    /* Whatever arrived stays in the partial for a later resume. */
    int crc = vfs_close(f, done);
    if (!body_ok) {
        x->close = true;
        if (x->c.failed || x->c.eof)
            return rc; /* the client is gone: nobody to answer */
        if (rc == GW_ERR_RANGE)
            return inconsistent(x);
        return dav_resp_error(x, disk ? dav_status_from_err(rc) : 400);
    }
    if (crc < 0)
        return dav_resp_error(x, dav_status_from_err(crc));
    if (short_len)
        return inconsistent(x);
    if (done)
        return reply_complete(x, existed, offset + got, have_sum, sum);
    int r = dav_resp_begin(x, url ? 201 : 204);
    if (r == 0 && url)
        r = dav_resp_header(x, "Location: %s", url);
    if (r == 0)
        r = state_headers(x, offset + got, false, len);
    if (r == 0 && url)
        r = dav_resp_header(x, "Upload-Limit: max-age=%" PRId64, ttl_of(x));
    return r == 0 ? dav_resp_end(x, 0) : r;
}

/* The checks a PUT of the target makes: 0 with *existed, or the status to answer. */
static int target_checks(struct dav_ctx *x, bool *existed, bool preconditions)
{
    struct vfs_stat st;
    if (strcmp(x->path, "/") == 0)
        return 405;
    int rc = vfs_stat(x->vfs, x->path, 0, &st);
    *existed = rc == 0;
    if (*existed && S_ISDIR(st.mode))
        return 405;
    if (rc < 0 && rc != GW_ERR_NOENT)
        return rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc);
    int pc = preconditions ? dav_preconditions(x, *existed ? &st : NULL) : 0;
    if (pc == 0)
        pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, *existed ? 0 : DAV_LC_PARENT);
    return pc;
}

/* New content in the caller's partial, locked. A pending partial is taken over (after
 * an append still running on it ends) and emptied, rather than truncated under that
 * append as a fresh open would. 0 or a status. */
static int open_new(struct dav_ctx *x, struct vfs_file **out)
{
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    int rc, status;
    *out = NULL;
    if (vfs_stat(x->vfs, x->path, VFS_SHADOW, &st) == 0 && st.partial) {
        rc = vfs_open_write(x->vfs, x->path, VFS_WRITE_RESUME, 0, 0644, &f);
        if (rc == 0 && (status = lock_handle(f)) != 0) {
            vfs_close(f, false);
            return status;
        }
        if (rc == 0 && (vfs_fstat(f, &st) < 0 || !st.partial)) {
            vfs_close(f, false); /* no longer a partial: start afresh below */
            f = NULL;
        } else if (rc == 0 && (rc = vfs_ftruncate(f, 0)) < 0) {
            vfs_close(f, false);
            return dav_status_from_err(rc);
        }
    }
    if (!f) {
        rc = vfs_open_write(x->vfs, x->path, VFS_WRITE_NEW, 0, 0644, &f);
        if (rc < 0)
            return rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc);
        if ((status = lock_handle(f)) != 0) {
            vfs_close(f, false);
            return status;
        }
    }
    *out = f;
    return 0;
}

/* ---- handlers ---- */

int dav_upload_put(struct dav_ctx *x)
{
    struct upload u;
    struct vfs_file *f = NULL;
    struct vfs_stat ps;
    struct gw_buf url;
    uint64_t len, got = 0;
    size_t n;
    bool complete, existed, disk;
    /* An upload resource takes HEAD, PATCH and DELETE only: a PUT there must not
     * replace the target behind the upload's back. */
    int status = request_upload(x, &u);
    if (status)
        return dav_resp_error(x, status == 1 ? 405 : status);
    const char *cv = dav_http_field(&x->req, "upload-complete", &n);
    /* Without a valid Upload-Complete (the draft says to ignore an invalid one), or with
     * mod_dav's Content-Range: a plain PUT. */
    if (!cv || dav_sf_bool(cv, n, &complete) < 0 || dav_http_field(&x->req, "content-range", &n))
        return dav_m_put(x);
    if ((status = target_checks(x, &existed, true)) != 0)
        return dav_resp_error(x, status);
    if (request_length(x, 0, complete, NULL, &len) < 0)
        return inconsistent(x);
    if ((status = open_new(x, &f)) != 0)
        return dav_resp_error(x, status);
    memset(&u, 0, sizeof u);
    u.id.has_len = len != UINT64_MAX;
    u.id.len = u.id.has_len ? len : 0;
    gw_buf_init(&url, GW_MAX_PATH * 3 + 128);
    int rc = vfs_fstat(f, &ps);
    if (rc == 0 && (getrandom(u.id.nonce, sizeof u.id.nonce, 0) != sizeof u.id.nonce ||
                    dav_key(x, x->path, u.key, sizeof u.key) < 0 ||
                    dav_upload_mac(x->s->user, u.key, ps.ino, &u.id, u.id.mac) < 0))
        rc = GW_ERR_IO;
    if (rc == 0)
        rc = upload_url(x, &u.id, &url);
    if (rc == 0)
        rc = send_104(x, gw_buf_str(&url), &ps);
    if (rc < 0) {
        vfs_close(f, false);
        x->close = true;
        rc = x->c.failed ? rc : dav_resp_error(x, 500);
        goto out;
    }
    int64_t started = gw_now_ms();
    rc = recv_body(x, f, 0, len, &got, &disk);
    rc = finish(x, f, rc, disk, complete, 0, got, len, existed, started, gw_buf_str(&url));
out:
    gw_buf_free(&url);
    return rc;
}

int dav_upload_head(struct dav_ctx *x)
{
    struct upload u;
    struct vfs_file *f = NULL;
    struct vfs_stat now;
    int status = request_upload(x, &u);
    if (status == 0)
        return dav_m_get(x);
    if (status == 1)
        status = resolve(x, &u);
    if (status == 0 && !u.complete) {
        /* Under the lock: an append still running elsewhere has ended. */
        status = open_partial(x, &u, 0, &f, &now);
        if (status == 0) {
            u.st = now;
            vfs_close(f, false);
        } else if (status == 404 && resolve(x, &u) == 0) {
            status = u.complete ? 0 : 503; /* committed meanwhile, or in flux */
        }
    }
    if (status)
        return dav_resp_error(x, status);
    int rc = dav_resp_begin(x, 204);
    if (rc == 0)
        rc = state_headers(x, u.st.size, u.complete, u.id.has_len ? u.id.len : UINT64_MAX);
    if (rc == 0 && !u.complete)
        rc = dav_resp_header(x, "Upload-Limit: max-age=%" PRId64, max_age(x, &u.st));
    if (rc == 0)
        rc = dav_resp_header(x, "Cache-Control: no-store");
    return rc == 0 ? dav_resp_end(x, DAV_LEN_NONE) : rc;
}

int dav_upload_patch(struct dav_ctx *x)
{
    struct upload u;
    struct vfs_file *f = NULL;
    struct vfs_stat now;
    uint64_t offset, len, got = 0;
    size_t n;
    bool complete, existed, disk;
    int status = request_upload(x, &u);
    if (status == 0)
        return dav_m_patch(x); /* PATCH of the target itself: the in-place flow */
    if (status != 1)
        return dav_resp_error(x, status);
    const char *ct = dav_http_field(&x->req, "content-type", &n);
    if (!ct || !dav_media_type_is(ct, n, DAV_UPLOAD_MEDIA)) {
        int rc = dav_resp_begin(x, 415);
        if (rc == 0)
            rc = dav_resp_header(x, "Accept-Patch: " DAV_UPLOAD_MEDIA);
        return rc == 0 ? dav_resp_end(x, 0) : rc;
    }
    const char *ov = dav_http_field(&x->req, "upload-offset", &n);
    if (!ov || dav_sf_uint(ov, n, &offset) < 0)
        return dav_resp_error(x, 400);
    const char *cv = dav_http_field(&x->req, "upload-complete", &n);
    if (!cv || dav_sf_bool(cv, n, &complete) < 0)
        return dav_resp_error(x, 400);
    if ((status = resolve(x, &u)) != 0)
        return dav_resp_error(x, status);
    if (u.complete)
        return dav_body_present(x) ? inconsistent(x) : completed(x);
    if (offset != u.st.size)
        return mismatch(x, u.st.size, offset);
    if (request_length(x, offset, complete, &u.id, &len) < 0)
        return inconsistent(x);
    /* The commit replaces the target: the same lock rules as a PUT of it. */
    if ((status = target_checks(x, &existed, false)) != 0)
        return dav_resp_error(x, status);
    status = open_partial(x, &u, offset, &f, &now);
    if (status == 404 && resolve(x, &u) == 0 && u.complete) /* committed while we waited */
        return dav_body_present(x) ? inconsistent(x) : completed(x);
    if (status == 409 || (status == 0 && now.size != offset)) {
        if (f)
            vfs_close(f, false);
        return mismatch(x, status == 0 ? now.size : u.st.size, offset);
    }
    if (status)
        return dav_resp_error(x, status);
    int64_t started = gw_now_ms();
    int rc = recv_body(x, f, offset, len == UINT64_MAX ? UINT64_MAX : len - offset, &got, &disk);
    return finish(x, f, rc, disk, complete, offset, got, len, existed, started, NULL);
}

int dav_upload_delete(struct dav_ctx *x)
{
    struct upload u;
    struct vfs_file *f = NULL;
    struct vfs_stat now;
    int status = request_upload(x, &u);
    if (status == 0)
        return dav_m_delete(x);
    if (status == 1)
        status = resolve(x, &u);
    if (status)
        return dav_resp_error(x, status);
    if (u.complete)
        return completed(x);
    /* Under the lock, so that an append still running elsewhere has ended. */
    if ((status = open_partial(x, &u, 0, &f, &now)) != 0)
        return dav_resp_error(x, status);
    vfs_close(f, false);
    /* Only the caller's partial goes: a complete file of that name stays. */
    int rc = vfs_discard_partial(x->vfs, x->path);
    dav_audit(x, "delete", x->path, NULL, rc);
    return dav_resp_error(x, rc == 0 ? 204 : dav_status_from_err(rc));
}
