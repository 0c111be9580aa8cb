/* OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY and MOVE (RFC 9110, RFC 4918). */
#include "webdav/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "gateway/err.h"
#include "gateway/path.h"
#include "webdav/props.h"
#include "webdav/upload.h"
#include "webdav/uri.h"

/* Full downloads of files up to this size are hashed on the way (SHA-256 costs about
 * as much CPU as the TLS encryption), so later GET/HEAD can send Repr-Digest. */
#define DAV_HASH_ON_GET_MAX (64u << 20)
#define DAV_MAX_TREE 100000 /* members one DELETE/COPY walks */

int dav_m_options(struct dav_ctx *x)
{
    int rc = dav_resp_begin(x, 200);
    if (rc == 0)
        rc = dav_resp_header(x, "DAV: 1, 2");
    if (rc == 0)
        rc = dav_resp_header(x, "MS-Author-Via: DAV");
    if (rc == 0)
        rc = dav_resp_header(x, "Allow: OPTIONS, GET, HEAD, PUT, PATCH, DELETE, MKCOL, COPY, "
                                "MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK");
    if (rc == 0)
        rc = dav_resp_header(x, "Accept-Ranges: bytes");
    /* Resumable uploads (webdav/upload.c, draft-ietf-httpbis-resumable-upload-12): an
     * upload resource lives as long as its partial (partial_ttl since the last write). */
    if (rc == 0)
        rc = dav_resp_header(x, "Accept-Patch: application/partial-upload");
    if (rc == 0)
        rc = dav_resp_header(x, "Upload-Limit: max-age=%" PRId64,
                             x->cfg->partial_ttl > 0 ? x->cfg->partial_ttl
                                                     : (int64_t)GW_DEFAULT_PARTIAL_TTL);
    if (rc == 0)
        rc = dav_resp_end(x, 0);
    return rc;
}

/* ---- GET / HEAD ---- */

static void b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Headers every representation of a file carries. */
static int file_headers(struct dav_ctx *x, const struct vfs_stat *st, const char *etag)
{
    char date[DAV_DATE_LEN + 1] = "";
    dav_date_format(st->mtime, date);
    int rc = dav_resp_field(x, "ETag", etag);
    if (rc == 0)
        rc = dav_resp_field(x, "Last-Modified", date);
    if (rc == 0)
        rc = dav_resp_field(x, "Accept-Ranges", "bytes");
    return rc;
}

/* The cached digest, or (when the client asks for one with Want-Repr-Digest) a fresh
 * one read from the file. */
static bool file_digest(struct dav_ctx *x, const struct vfs_stat *st, unsigned char sum[32])
{
    char key[GW_MAX_PATH];
    size_t n;
    if (st->partial || dav_key(x, x->path, key, sizeof key) < 0)
        return false;
    if (dav_hash_get(x->srv->base, key, st, sum))
        return true;
    const char *w = dav_http_field(&x->req, "want-repr-digest", &n);
    if (!w || !dav_want_sha256(w, n))
        return false;
    struct vfs_file *f = NULL;
    bool ok = false;
    if (vfs_open_read(x->vfs, x->path, 0, &f) < 0)
        return false;
    ssize_t r;
    while ((r = vfs_read(f, x->iobuf, GW_IO_CHUNK)) > 0)
        ;
    struct vfs_stat now;
    if (r == 0 && vfs_fstat(f, &now) == 0 && now.size == st->size && now.mtime == st->mtime &&
        now.mtime_nsec == st->mtime_nsec && vfs_sha256(f, sum)) {
        dav_hash_put(x->srv->base, key, st, sum);
        ok = true;
    }
    vfs_close(f, false);
    return ok;
}

static bool if_range_ok(struct dav_ctx *x, const struct vfs_stat *st, const char *etag)
{
    size_t n;
    int64_t t;
    const char *v = dav_http_field(&x->req, "if-range", &n);
    if (!v)
        return true;
    if (n > 0 && (v[0] == '"' || (n > 1 && v[0] == 'W' && v[1] == '/')))
        return dav_etag_eq(v, n, etag, strlen(etag), false);
    /* A date validates only an exact Last-Modified (RFC 9110 section 13.1.5). */
    return dav_date_parse(v, n, &t) == 0 && t == st->mtime;
}

/* Sends len bytes of f from offset off: sequentially (and with sendfile under kTLS) when
 * off is the handle's position, positionally otherwise. */
static int send_body(struct dav_ctx *x, struct vfs_file *f, uint64_t off, uint64_t len)
{
    bool seq = off == vfs_tell(f);
    int fd = seq && x->c.ktls_send ? vfs_fd(f) : -1;
    while (len > 0) {
        if (fd >= 0) {
            size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
            ssize_t r = dav_conn_sendfile(&x->c, fd, vfs_tell(f), want);
            if (r <= 0)
                return r < 0 ? (int)r : GW_ERR_IO;
            vfs_advance(f, (uint64_t)r);
            len -= (uint64_t)r;
            continue;
        }
        size_t want = len > GW_IO_CHUNK ? GW_IO_CHUNK : (size_t)len;
        ssize_t r = seq ? vfs_read(f, x->iobuf, want) : vfs_pread(f, x->iobuf, want, off);
        if (r <= 0)
            return r < 0 ? (int)r : GW_ERR_IO; /* the file shrank under us */
        int rc = dav_conn_send(&x->c, x->iobuf, (size_t)r);
        if (rc < 0)
            return rc;
        off += (uint64_t)r;
        len -= (uint64_t)r;
    }
    return 0;
}

static int digest_header(struct dav_ctx *x, const unsigned char sum[32])
{
    char b[64] = "sha-256=:";
    b64(sum, 32, b + 9); /* 44 characters */
    b[53] = ':';
    b[54] = '\0';
    return dav_resp_field(x, "Repr-Digest", b);
}

static int send_multipart(struct dav_ctx *x, struct vfs_file *f, const struct vfs_stat *st,
                          const char *etag, const struct dav_range *r, size_t nr)
{
    char boundary[64], part[512];
    const char *ctype = dav_content_type(gw_path_base(x->path));
    uint64_t total = 0;
    int rc;
    snprintf(boundary, sizeof boundary, "ferry-%.40s", etag + 1);
    boundary[strcspn(boundary, "\"")] = '\0';
    for (size_t i = 0; i < nr; i++) {
        int n = snprintf(part, sizeof part,
                         "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                         "/%" PRIu64 "\r\n\r\n",
                         boundary, ctype, r[i].first, r[i].last, st->size);
        total += (uint64_t)n + (r[i].last - r[i].first + 1);
    }
    total += strlen(boundary) + 8; /* \r\n--B--\r\n */
    rc = dav_resp_begin(x, 206);
    if (rc == 0)
        rc = file_headers(x, st, etag);
    if (rc == 0)
        rc = dav_resp_header(x, "Content-Type: multipart/byteranges; boundary=%s", boundary);
    if (rc == 0)
        rc = dav_resp_end(x, (int64_t)total);
    for (size_t i = 0; i < nr && rc == 0; i++) {
        int n = snprintf(part, sizeof part,
                         "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                         "/%" PRIu64 "\r\n\r\n",
                         boundary, ctype, r[i].first, r[i].last, st->size);
        rc = dav_conn_write(&x->c, part, (size_t)n);
        if (rc == 0)
            rc = send_body(x, f, r[i].first, r[i].last - r[i].first + 1);
    }
    if (rc == 0)
        rc = dav_conn_printf(&x->c, "\r\n--%s--\r\n", boundary);
    return rc;
}

/* A whole small file: read it in one go, so its digest comes with the read (vfs.h hashes
 * reads from offset 0) and no cache lookup is needed; what was read is what is sent. */
static int send_small(struct dav_ctx *x, struct vfs_file *f, const struct vfs_stat *st,
                      const char *etag)
{
    unsigned char sum[32];
    size_t got = 0;
    ssize_t r = 0;
    while (got < st->size && (r = vfs_read(f, x->iobuf + got, GW_IO_CHUNK - got)) > 0)
        got += (size_t)r;
    if (r < 0)
        return dav_resp_error(x, dav_status_from_err((int)r));
    bool digest = vfs_sha256(f, sum); /* false when the file grew meanwhile */
    int rc = dav_resp_begin(x, 200);
    if (rc == 0)
        rc = file_headers(x, st, etag);
    if (rc == 0)
        rc = dav_resp_field(x, "Content-Type", dav_content_type(gw_path_base(x->path)));
    if (rc == 0 && digest)
        rc = digest_header(x, sum);
    if (rc == 0)
        rc = dav_resp_end(x, (int64_t)got);
    if (rc == 0)
        rc = dav_conn_send(&x->c, x->iobuf, got);
    return rc;
}

/* GET and HEAD of a file or (through dav_index) a collection. GET opens the file first
 * and takes its stat from the open handle: one path resolution per request. */
int dav_m_get(struct dav_ctx *x)
{
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    struct dav_range ranges[DAV_MAX_RANGES];
    size_t nr = 0, n;
    char etag[DAV_ETAG_MAX], key[GW_MAX_PATH];
    unsigned char sum[32];
    bool head = dav_http_method_is(&x->req, "HEAD"), sent = false;
    int64_t started = gw_now_ms();
    int rc;
    if (head) {
        /* HEAD by the owner of a pending upload reports the partial: how far it got. */
        rc = vfs_stat(x->vfs, x->path, vfs_read_only(x->vfs) ? 0 : VFS_SHADOW, &st);
    } else {
        rc = vfs_open_read(x->vfs, x->path, 0, &f);
        if (rc == 0)
            rc = vfs_open_stat(f, &st);
        else if (rc == GW_ERR_ISDIR || rc == GW_ERR_PERM)
            rc = vfs_stat(x->vfs, x->path, 0, &st);
    }
    if (rc < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc));
        goto out;
    }
    if (S_ISDIR(st.mode)) {
        rc = dav_index(x, &st);
        goto out;
    }
    if (!S_ISREG(st.mode) || (!head && !f)) {
        rc = dav_resp_error(x, 403);
        goto out;
    }
    dav_etag(&st, etag);
    int pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_preconditions(x, &st);
    if (pc == 304) {
        rc = dav_resp_begin(x, 304);
        if (rc == 0)
            rc = file_headers(x, &st, etag);
        if (rc == 0)
            rc = dav_resp_end(x, DAV_LEN_NONE);
        goto out;
    }
    if (pc) {
        rc = dav_resp_error(x, pc);
        goto out;
    }
    enum dav_range_result rr = DAV_RANGE_IGNORE;
    const char *rv = dav_http_field(&x->req, "range", &n);
    if (rv && !head && if_range_ok(x, &st, etag))
        rr = dav_range_parse(rv, n, st.size, ranges, &nr);
    if (rr == DAV_RANGE_UNSATISFIABLE) {
        rc = dav_resp_begin(x, 416);
        if (rc == 0)
            rc = dav_resp_header(x, "Content-Range: bytes */%" PRIu64, st.size);
        if (rc == 0)
            rc = file_headers(x, &st, etag);
        if (rc == 0)
            rc = dav_resp_end(x, 0);
        goto out;
    }
    if (!head && rr == DAV_RANGE_IGNORE && st.size <= GW_IO_CHUNK) {
        rc = send_small(x, f, &st, etag);
        sent = true;
        goto flush;
    }
    bool digest = rr == DAV_RANGE_IGNORE && file_digest(x, &st, sum);
    if (head) {
        rc = dav_resp_begin(x, 200);
        if (rc == 0)
            rc = file_headers(x, &st, etag);
        if (rc == 0)
            rc = dav_resp_field(x, "Content-Type", dav_content_type(gw_path_base(x->path)));
        if (rc == 0 && digest)
            rc = digest_header(x, sum);
        if (rc == 0 && !vfs_read_only(x->vfs)) /* where a resumed upload continues */
            rc = dav_resp_header(x, "Upload-Offset: %" PRIu64 "\r\nUpload-Complete: ?%d", st.size,
                                 st.partial ? 0 : 1);
        if (rc == 0)
            rc = dav_resp_end(x, (int64_t)st.size);
        goto out;
    }
    bool hashing = rr == DAV_RANGE_IGNORE && !digest && st.size <= DAV_HASH_ON_GET_MAX;
    if (!hashing && st.size > 1) {
        /* Reading a byte out of order ends the handle's running hash (vfs.h): a big
         * download need not pay for SHA-256 we would not use. */
        unsigned char one;
        vfs_pread(f, &one, 1, 1);
    }
    sent = true;
    if (rr == DAV_RANGE_OK && nr > 1) {
        rc = send_multipart(x, f, &st, etag, ranges, nr);
    } else {
        bool part = rr == DAV_RANGE_OK;
        uint64_t first = part ? ranges[0].first : 0;
        uint64_t len = part ? ranges[0].last - ranges[0].first + 1 : st.size;
        rc = dav_resp_begin(x, part ? 206 : 200);
        if (rc == 0)
            rc = file_headers(x, &st, etag);
        if (rc == 0)
            rc = dav_resp_field(x, "Content-Type", dav_content_type(gw_path_base(x->path)));
        if (rc == 0 && part)
            rc = dav_resp_header(x, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                                 ranges[0].first, ranges[0].last, st.size);
        if (rc == 0 && digest)
            rc = digest_header(x, sum);
        if (rc == 0)
            rc = dav_resp_end(x, (int64_t)len);
        if (rc == 0)
            rc = send_body(x, f, first, len);
    }
    if (rc == 0 && hashing && vfs_sha256(f, sum) && dav_key(x, x->path, key, sizeof key) == 0)
        dav_hash_put(x->srv->base, key, &st, sum);
flush:
    if (rc == 0)
        rc = dav_conn_flush(&x->c);
    if (rc < 0)
        x->close = true; /* a body cut short: the client must see the connection end */
    if (sent)
        gw_session_audit_transfer(x->s, "download", x->path, f, started, rc == 0 ? "ok" : "aborted",
                                  rc == 0 ? NULL : gw_strerror(rc));
out:
    if (f)
        vfs_close(f, false);
    return rc;
}

/* ---- PUT ---- */

/* Reads the body into the file. *got counts body bytes; *disk tells whether a failure
 * was the file's (else the connection's or the framing's). */
static int put_body(struct dav_ctx *x, struct vfs_file *f, uint64_t *got, bool *disk)
{
    *disk = false;
    for (;;) {
        size_t fill = 0;
        ssize_t r = 1;
        /* Gather a large block before writing: fewer, bigger writes to disk. */
        while (fill < GW_IO_CHUNK &&
               (r = dav_body_read(x, x->iobuf + fill, GW_IO_CHUNK - fill)) > 0)
            fill += (size_t)r;
        if (fill) {
            ssize_t w = vfs_write(f, x->iobuf, fill);
            if (w < 0) {
                *disk = true;
                return (int)w;
            }
            *got += fill;
        }
        if (r <= 0)
            return (int)r;
    }
}

int dav_m_put(struct dav_ctx *x)
{
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    uint64_t first = 0, last = 0, total = UINT64_MAX, got = 0;
    size_t n;
    bool resume = false;
    char key[GW_MAX_PATH];
    unsigned char sum[32];
    if (strcmp(x->path, "/") == 0)
        return dav_resp_error(x, 405);
    int rc = vfs_stat(x->vfs, x->path, 0, &st);
    bool existed = rc == 0;
    if (existed && S_ISDIR(st.mode))
        return dav_resp_error(x, 405);
    if (rc < 0 && rc != GW_ERR_NOENT)
        return dav_resp_error(x, rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
    int pc = dav_preconditions(x, existed ? &st : NULL);
    if (pc == 0)
        pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, existed ? 0 : DAV_LC_PARENT);
    if (pc)
        return dav_resp_error(x, pc);
    const char *cr = dav_http_field(&x->req, "content-range", &n);
    if (cr) {
        if (dav_content_range_parse(cr, n, &first, &last, &total) < 0 ||
            (x->req.body == DAV_BODY_LENGTH && x->req.content_length != last - first + 1))
            return dav_resp_error(x, 400);
        resume = true;
    }
    rc =
        vfs_open_write(x->vfs, x->path, resume ? VFS_WRITE_RESUME : VFS_WRITE_NEW, first, 0644, &f);
    if (rc == GW_ERR_RANGE) {
        /* Resuming past what arrived: tell the client how far the upload got. */
        struct vfs_stat ps;
        uint64_t have = vfs_stat(x->vfs, x->path, VFS_SHADOW, &ps) == 0 ? ps.size : 0;
        rc = dav_resp_begin(x, 416);
        if (rc == 0)
            rc = dav_resp_header(x, "Content-Range: bytes */%" PRIu64, have);
        return rc == 0 ? dav_resp_end(x, 0) : rc;
    }
    if (rc < 0)
        return dav_resp_error(
            x, rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
    int64_t started = gw_now_ms();
    bool disk;
    rc = put_body(x, f, &got, &disk);
    bool body_ok = rc == 0 && (!resume || got == last - first + 1);
    bool complete = body_ok && (!resume || (total != UINT64_MAX && last + 1 == total));
    if (complete && resume) {
        struct vfs_stat fs;
        if (vfs_fstat(f, &fs) == 0 && fs.size > total)
            vfs_ftruncate(f, total); /* a longer leftover partial: the length is L */
    }
    bool have_sum = complete && vfs_sha256(f, sum);
    gw_session_audit_transfer(x->s, "upload", x->path, f, started, body_ok ? "ok" : "aborted",
                              body_ok  ? NULL
                              : rc < 0 ? gw_strerror(rc)
                                       : "short body");
    /* Whatever arrived stays as the partial for a later resume (DESIGN "Uploads"). */
    int crc = vfs_close(f, complete);
    if (!body_ok) {
        x->close = true;
        if (x->c.failed || x->c.eof)
            return rc; /* the client is gone: nobody to answer */
        return dav_resp_error(x, disk ? dav_status_from_err(rc) : 400);
    }
    if (crc < 0)
        return dav_resp_error(x, dav_status_from_err(crc));
    if (!complete)
        return dav_resp_error(x, 204) == 0 ? 0 : GW_ERR_IO;
    rc = dav_resp_begin(x, existed ? 204 : 201);
    if (rc == 0 && vfs_stat(x->vfs, x->path, 0, &st) == 0) {
        char etag[DAV_ETAG_MAX];
        dav_etag(&st, etag);
        rc = dav_resp_header(x, "ETag: %s", etag);
        if (have_sum && dav_key(x, x->path, key, sizeof key) == 0)
            dav_hash_put(x->srv->base, key, &st, sum);
    }
    if (rc == 0)
        rc = dav_resp_end(x, 0);
    return rc;
}

/* ---- PATCH: the IETF "Resumable Uploads for HTTP" flow ---- */

static int offset_reply(struct dav_ctx *x, int status, uint64_t offset, bool complete)
{
    int rc = dav_resp_begin(x, status);
    if (rc == 0)
        rc = dav_resp_header(x, "Upload-Offset: %" PRIu64, offset);
    if (rc == 0)
        rc = dav_resp_header(x, "Upload-Complete: ?%d", complete ? 1 : 0);
    if (rc == 0)
        rc = dav_resp_end(x, 0);
    return rc;
}

/* PATCH with Upload-Offset appends to the upload at the request-URI: the caller's
 * pending partial (or, with none pending, the file itself, as other resumed writes do),
 * and Upload-Complete: ?1 (or no Upload-Complete) commits it. HEAD reports
 * Upload-Offset, so a client that lost its connection asks where to continue. The
 * offset must be exactly where the upload stands (409 and the right Upload-Offset
 * otherwise). */
int dav_m_patch(struct dav_ctx *x)
{
    struct vfs_stat st;
    struct vfs_file *f = NULL;
    uint64_t offset, have = 0, got = 0;
    size_t n, cn;
    bool disk;
    const char *cv = dav_http_field(&x->req, "upload-complete", &cn);
    const char *ov = dav_http_field(&x->req, "upload-offset", &n);
    if (dav_sf_uint(ov, n, &offset) < 0) /* Upload-Offset: a structured-field integer */
        return dav_resp_error(x, 400);
    if (cv && !dav_ieq(cv, cn, "?1") && !dav_ieq(cv, cn, "?0"))
        return dav_resp_error(x, 400);
    bool finish = !cv || dav_ieq(cv, cn, "?1");
    if (strcmp(x->path, "/") == 0)
        return dav_resp_error(x, 405);
    int rc = vfs_stat(x->vfs, x->path, VFS_SHADOW, &st);
    if (rc == 0 && S_ISDIR(st.mode))
        return dav_resp_error(x, 405);
    if (rc < 0 && rc != GW_ERR_NOENT)
        return dav_resp_error(x, rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
    if (rc == 0)
        have = st.size;
    if (offset != have)
        return offset_reply(x, 409, have, rc == 0 && !st.partial);
    int pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, rc == 0 ? 0 : DAV_LC_PARENT);
    if (pc)
        return dav_resp_error(x, pc);
    rc = vfs_open_write(x->vfs, x->path, VFS_WRITE_RESUME, offset, 0644, &f);
    if (rc < 0)
        return dav_resp_error(
            x, rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
    int64_t started = gw_now_ms();
    rc = put_body(x, f, &got, &disk);
    bool complete = rc == 0 && finish;
    gw_session_audit_transfer(x->s, "upload", x->path, f, started, rc == 0 ? "ok" : "aborted",
                              rc == 0 ? NULL : gw_strerror(rc));
    int crc = vfs_close(f, complete);
    if (rc < 0) {
        x->close = true;
        if (x->c.failed || x->c.eof)
            return rc;
        return dav_resp_error(x, disk ? dav_status_from_err(rc) : 400);
    }
    if (crc < 0)
        return dav_resp_error(x, dav_status_from_err(crc));
    return offset_reply(x, 204, offset + got, complete);
}

/* ---- DELETE ---- */

struct member {
    char *name;
    bool dir;
};

/* The members of a collection (names copied), for a walk that changes it. */
static int list_members(struct dav_ctx *x, const char *path, struct member **out, size_t *n)
{
    struct vfs_dir *d = NULL;
    struct vfs_dirent e;
    size_t cap = 0;
    int rc = vfs_opendir(x->vfs, path, &d);
    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    while ((rc = vfs_readdir(d, &e)) == 1) {
        if (*n == DAV_MAX_TREE) {
            rc = GW_ERR_LIMIT;
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct member *m = realloc(*out, cap * sizeof *m);
            if (!m) {
                rc = GW_ERR_NOMEM;
                break;
            }
            *out = m;
        }
        (*out)[*n].name = strdup(e.name);
        (*out)[*n].dir = S_ISDIR(e.st.mode);
        if (!(*out)[*n].name) {
            rc = GW_ERR_NOMEM;
            break;
        }
        (*n)++;
    }
    vfs_closedir(d);
    return rc < 0 ? rc : 0;
}

static void free_members(struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].name);
    free(m);
}

static int child_path(const char *dir, const char *name, char *out)
{
    int n = snprintf(out, GW_MAX_PATH, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
    return n < 0 || n >= GW_MAX_PATH ? GW_ERR_TOOLONG : 0;
}

static void ms_failure(struct dav_ctx *x, struct gw_buf *ms, const char *path, int err)
{
    (void)x;
    if (!ms)
        return;
    int status = dav_status_from_err(err);
    gw_buf_puts(ms, "<D:response><D:href>");
    dav_uri_encode(ms, path, false);
    gw_buf_printf(ms, "</D:href><D:status>HTTP/1.1 %d %s</D:status></D:response>\n", status,
                  dav_status_text(status));
}

/* The shared property store (state_db) is asked by name, never for listings: each
 * member of a removed, moved or copied tree is handled by the walk that visits it. The
 * files store handles a whole subtree at once (dav_remove_tree, copy_move). */
static void forget_props(struct dav_ctx *x, const char *path)
{
    char key[GW_MAX_PATH];
    if (dav_shared(x->s) && dav_key(x, path, key, sizeof key) == 0)
        dav_props_delete(x->srv->base, x->s, key);
}

static int remove_rec(struct dav_ctx *x, const char *path, bool dir, unsigned depth,
                      struct gw_buf *ms)
{
    if (!dir) {
        int rc = vfs_unlink(x->vfs, path);
        if (rc < 0)
            ms_failure(x, ms, path, rc);
        else
            forget_props(x, path);
        return rc;
    }
    if (depth > GW_MAX_DEPTH)
        return GW_ERR_LIMIT;
    struct member *m;
    size_t n;
    int rc = list_members(x, path, &m, &n), first = 0;
    if (rc < 0) {
        ms_failure(x, ms, path, rc);
        return rc;
    }
    char *child = malloc(GW_MAX_PATH);
    if (!child) {
        free_members(m, n);
        return GW_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (child_path(path, m[i].name, child) < 0)
            continue;
        rc = remove_rec(x, child, m[i].dir, depth + 1, ms);
        if (rc < 0 && !first)
            first = rc;
    }
    free(child);
    free_members(m, n);
    if (first)
        return first; /* a member stayed: so does its collection (no failure entry) */
    rc = vfs_rmdir(x->vfs, path);
    if (rc < 0)
        ms_failure(x, ms, path, rc);
    else
        forget_props(x, path);
    return rc;
}

int dav_remove_tree(struct dav_ctx *x, const char *vpath, struct gw_buf *ms)
{
    struct vfs_stat st;
    int rc = vfs_stat(x->vfs, vpath, VFS_NOFOLLOW, &st);
    if (rc < 0)
        return rc;
    rc = remove_rec(x, vpath, S_ISDIR(st.mode), 0, ms);
    char key[GW_MAX_PATH];
    if (rc == 0 && !dav_shared(x->s) && dav_key(x, vpath, key, sizeof key) == 0)
        dav_props_delete(x->srv->base, x->s, key);
    if (rc == 0)
        dav_locks_forget(x, vpath);
    return rc;
}

static int send_multistatus_buf(struct dav_ctx *x, struct gw_buf *ms)
{
    struct dav_stream st;
    int rc = dav_stream_begin(&st, x, 207, "application/xml; charset=utf-8");
    if (rc == 0) {
        gw_buf_puts(&st.b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                           "<D:multistatus xmlns:D=\"DAV:\">\n");
        gw_buf_append(&st.b, ms->data ? ms->data : "", ms->len);
        gw_buf_puts(&st.b, "</D:multistatus>\n");
    }
    return dav_stream_end(&st);
}

int dav_m_delete(struct dav_ctx *x)
{
    struct vfs_stat st;
    size_t n;
    const char *dv = dav_http_field(&x->req, "depth", &n);
    int depth = dav_depth_parse(dv, n, DAV_DEPTH_INFINITY);
    if (strcmp(x->path, "/") == 0)
        return dav_resp_error(x, 403);
    int rc = vfs_stat(x->vfs, x->path, VFS_NOFOLLOW | VFS_SHADOW, &st);
    if (rc < 0)
        return dav_resp_error(x, rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc));
    bool dir = S_ISDIR(st.mode);
    if (dir && depth != DAV_DEPTH_INFINITY)
        return dav_resp_error(x, 400);
    int pc = dav_preconditions(x, &st);
    if (pc == 0)
        pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, DAV_LC_SUBTREE | DAV_LC_PARENT);
    if (pc)
        return dav_resp_error(x, pc);
    struct gw_buf ms;
    gw_buf_init(&ms, 16u << 20);
    rc = dav_remove_tree(x, x->path, &ms);
    dav_audit(x, dir ? "rmdir" : "delete", x->path, NULL, rc);
    if (rc == 0)
        rc = dav_resp_error(x, 204);
    else if (dir && ms.len)
        rc = send_multistatus_buf(x, &ms);
    else
        rc = dav_resp_error(x, dav_status_from_err(rc));
    gw_buf_free(&ms);
    return rc;
}

/* ---- MKCOL ---- */

int dav_m_mkcol(struct dav_ctx *x)
{
    struct vfs_stat st;
    if (dav_body_present(x))
        return dav_resp_error(x, 415); /* no MKCOL body format is supported */
    int rc = vfs_stat(x->vfs, x->path, VFS_NOFOLLOW, &st);
    if (rc == 0)
        return dav_resp_error(x, 405);
    if (rc != GW_ERR_NOENT)
        return dav_resp_error(x, rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
    int pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, DAV_LC_PARENT);
    if (pc)
        return dav_resp_error(x, pc);
    rc = vfs_mkdir(x->vfs, x->path, 0755);
    dav_audit(x, "mkdir", x->path, NULL, rc);
    if (rc == GW_ERR_EXIST)
        return dav_resp_error(x, 405);
    if (rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR)
        return dav_resp_error(x, 409);
    if (rc < 0)
        return dav_resp_error(x, dav_status_from_err(rc));
    int r = dav_resp_begin(x, 201);
    return r == 0 ? dav_resp_end(x, 0) : r;
}

/* ---- COPY / MOVE ---- */

static int copy_file(struct dav_ctx *x, const char *from, const char *to)
{
    struct vfs_file *in = NULL, *out = NULL;
    int64_t started = gw_now_ms();
    int rc = vfs_open_read(x->vfs, from, 0, &in);
    if (rc == 0)
        rc = vfs_open_write(x->vfs, to, VFS_WRITE_NEW, 0, 0644, &out);
    while (rc == 0) {
        ssize_t r = vfs_read(in, x->iobuf, GW_IO_CHUNK);
        if (r <= 0) {
            rc = (int)r;
            break;
        }
        ssize_t w = vfs_write(out, x->iobuf, (size_t)r);
        if (w < 0)
            rc = (int)w;
    }
    if (out) {
        gw_session_audit_transfer(x->s, "upload", to, out, started, rc == 0 ? "ok" : "failed",
                                  rc == 0 ? NULL : gw_strerror(rc));
        int crc = vfs_close(out, rc == 0);
        if (rc == 0)
            rc = crc;
    }
    if (in)
        vfs_close(in, false);
    return rc;
}

static int copy_rec(struct dav_ctx *x, const char *from, const char *to, bool infinite,
                    unsigned depth)
{
    struct vfs_stat st;
    int rc = vfs_stat(x->vfs, from, 0, &st);
    if (rc < 0)
        return rc;
    if (!S_ISDIR(st.mode))
        return copy_file(x, from, to);
    if (depth > GW_MAX_DEPTH)
        return GW_ERR_LIMIT;
    rc = vfs_mkdir(x->vfs, to, 0755);
    if (rc < 0 || !infinite)
        return rc;
    struct member *m;
    size_t n;
    if ((rc = list_members(x, from, &m, &n)) < 0)
        return rc;
    char *a = malloc(GW_MAX_PATH), *b = malloc(GW_MAX_PATH);
    if (!a || !b)
        rc = GW_ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (child_path(from, m[i].name, a) < 0 || child_path(to, m[i].name, b) < 0) {
            rc = GW_ERR_TOOLONG;
            break;
        }
        rc = copy_rec(x, a, b, true, depth + 1);
    }
    free(a);
    free(b);
    free_members(m, n);
    return rc;
}

/* Shared store: the members below the collection now at to (moved or copied from
 * from) take their properties along, one by one (see forget_props). */
static void member_props(struct dav_ctx *x, const char *from, const char *to, bool move,
                         unsigned depth)
{
    struct member *m;
    size_t n;
    if (!dav_shared(x->s) || depth > GW_MAX_DEPTH || list_members(x, to, &m, &n) < 0)
        return;
    char *a = malloc(GW_MAX_PATH), *b = malloc(GW_MAX_PATH);
    char *ka = malloc(GW_MAX_PATH), *kb = malloc(GW_MAX_PATH);
    for (size_t i = 0; a && b && ka && kb && i < n; i++) {
        if (child_path(from, m[i].name, a) < 0 || child_path(to, m[i].name, b) < 0 ||
            dav_key(x, a, ka, GW_MAX_PATH) < 0 || dav_key(x, b, kb, GW_MAX_PATH) < 0)
            continue;
        if (move)
            dav_props_move(x->srv->base, x->s, ka, kb);
        else
            dav_props_copy(x->srv->base, x->s, ka, kb, false);
        if (m[i].dir)
            member_props(x, a, b, move, depth + 1);
    }
    free(a);
    free(b);
    free(ka);
    free(kb);
    free_members(m, n);
}

static int copy_move(struct dav_ctx *x, bool move)
{
    char dst[GW_MAX_PATH], parent[GW_MAX_PATH], ka[GW_MAX_PATH], kb[GW_MAX_PATH];
    struct vfs_stat st, dst_st, pst;
    size_t n;
    int status = dav_destination(x, dst, sizeof dst);
    if (status)
        return dav_resp_error(x, status);
    const char *ov = dav_http_field(&x->req, "overwrite", &n);
    int overwrite = dav_overwrite_parse(ov, n);
    const char *dv = dav_http_field(&x->req, "depth", &n);
    int depth = dav_depth_parse(dv, n, DAV_DEPTH_INFINITY);
    if (overwrite < 0 || depth < 0 || depth == 1 || (move && depth != DAV_DEPTH_INFINITY))
        return dav_resp_error(x, 400);
    int rc = vfs_stat(x->vfs, x->path, VFS_NOFOLLOW, &st);
    if (rc < 0)
        return dav_resp_error(x, rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc));
    bool dir = S_ISDIR(st.mode);
    if (strcmp(x->path, dst) == 0 || strcmp(dst, "/") == 0 || strcmp(x->path, "/") == 0 ||
        (dir && gw_path_under(dst, x->path)))
        return dav_resp_error(x, 403);
    if (gw_path_dir(dst, parent, sizeof parent) < 0 || vfs_stat(x->vfs, parent, 0, &pst) < 0 ||
        !S_ISDIR(pst.mode))
        return dav_resp_error(x, 409);
    bool dst_exists = vfs_stat(x->vfs, dst, VFS_NOFOLLOW, &dst_st) == 0;
    if (dst_exists && !overwrite)
        return dav_resp_error(x, 412);
    int pc = dav_preconditions(x, &st);
    if (pc == 0)
        pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, dst, DAV_LC_SUBTREE | DAV_LC_PARENT);
    if (pc == 0 && move)
        pc = dav_lock_check(x, x->path, DAV_LC_SUBTREE | DAV_LC_PARENT);
    if (pc)
        return dav_resp_error(x, pc);
    if (dst_exists && (rc = dav_remove_tree(x, dst, NULL)) < 0)
        return dav_resp_error(x, rc == GW_ERR_BUSY ? 423 : dav_status_from_err(rc));
    if (dav_key(x, x->path, ka, sizeof ka) < 0 || dav_key(x, dst, kb, sizeof kb) < 0)
        return dav_resp_error(x, 414);
    if (move) {
        rc = vfs_rename(x->vfs, x->path, dst, true);
        if (rc == GW_ERR_NOTSUP) { /* between two backends: copy, then delete */
            rc = copy_rec(x, x->path, dst, true, 0);
            if (rc == 0)
                rc = dav_remove_tree(x, x->path, NULL);
        }
        dav_audit(x, "rename", x->path, dst, rc);
        if (rc == 0) {
            dav_props_move(x->srv->base, x->s, ka, kb);
            if (dir)
                member_props(x, x->path, dst, true, 0);
            dav_locks_forget(x, x->path);
        }
    } else {
        rc = copy_rec(x, x->path, dst, depth == DAV_DEPTH_INFINITY, 0);
        dav_props_copy(x->srv->base, x->s, ka, kb, depth == DAV_DEPTH_INFINITY);
        if (dir && depth == DAV_DEPTH_INFINITY)
            member_props(x, x->path, dst, false, 0);
    }
    if (rc < 0)
        return dav_resp_error(x, rc == GW_ERR_NOENT ? 409 : dav_status_from_err(rc));
    rc = dav_resp_begin(x, dst_exists ? 204 : 201);
    return rc == 0 ? dav_resp_end(x, 0) : rc;
}

int dav_m_copy(struct dav_ctx *x)
{
    return copy_move(x, false);
}

int dav_m_move(struct dav_ctx *x)
{
    return copy_move(x, true);
}
