/* SFTP v3 framing, request decoder and reply encoders (see sftp/packet.h). */
#include "sftp/packet.h"

#include <string.h>

#include "gateway/err.h"

const struct sftpd_ext_pair sftpd_extensions[] = {
    {"posix-rename@openssh.com", "1"}, {"statvfs@openssh.com", "2"}, {"fstatvfs@openssh.com", "2"},
    {"hardlink@openssh.com", "1"},     {"fsync@openssh.com", "1"},   {"limits@openssh.com", "1"},
    {"check-file", "sha256"},
};
const size_t sftpd_nextensions = sizeof sftpd_extensions / sizeof sftpd_extensions[0];

/* ---- decoding ---- */

/* A read cursor over one packet; once a read fails, err sticks and every later read
 * fails too, so a decoder can read all fields and check once. */
struct rd {
    const uint8_t *p;
    size_t left;
    bool err;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t rd_u8(struct rd *r)
{
    if (r->err || r->left < 1) {
        r->err = true;
        return 0;
    }
    uint8_t v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

static uint32_t rd_u32(struct rd *r)
{
    if (r->err || r->left < 4) {
        r->err = true;
        return 0;
    }
    uint32_t v = be32(r->p);
    r->p += 4;
    r->left -= 4;
    return v;
}

static uint64_t rd_u64(struct rd *r)
{
    uint64_t hi = rd_u32(r);
    uint64_t lo = rd_u32(r);
    return hi << 32 | lo;
}

static struct sftpd_str rd_str(struct rd *r)
{
    struct sftpd_str s = {NULL, 0};
    uint32_t n = rd_u32(r);
    if (r->err || n > r->left) {
        r->err = true;
        return s;
    }
    s.p = r->p;
    s.len = n;
    r->p += n;
    r->left -= n;
    return s;
}

static void rd_attrs(struct rd *r, struct sftpd_attrs *a)
{
    memset(a, 0, sizeof *a);
    uint32_t flags = rd_u32(r);
    if (flags & SFTPD_ATTR_SIZE)
        a->size = rd_u64(r);
    if (flags & SFTPD_ATTR_UIDGID) {
        a->uid = rd_u32(r);
        a->gid = rd_u32(r);
    }
    if (flags & SFTPD_ATTR_PERMISSIONS)
        a->perm = rd_u32(r);
    if (flags & SFTPD_ATTR_ACMODTIME) {
        a->atime = rd_u32(r);
        a->mtime = rd_u32(r);
    }
    if (flags & SFTPD_ATTR_EXTENDED) {
        /* Extended attribute pairs carry nothing we act on: skip them. */
        uint32_t count = rd_u32(r);
        if (count > SFTPD_MAX_ATTR_EXTENDED)
            r->err = true;
        for (uint32_t i = 0; i < count && !r->err; i++) {
            rd_str(r);
            rd_str(r);
        }
    }
    a->flags = flags & (SFTPD_ATTR_SIZE | SFTPD_ATTR_UIDGID | SFTPD_ATTR_PERMISSIONS |
                        SFTPD_ATTR_ACMODTIME);
}

static bool str_is(struct sftpd_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

int sftpd_frame(const uint8_t *buf, size_t len, size_t *pkt_len)
{
    if (len < 4)
        return 0;
    uint32_t n = be32(buf);
    if (n == 0)
        return GW_ERR_PROTO;
    if (n > GW_MAX_SFTP_PACKET)
        return GW_ERR_LIMIT;
    if (len - 4 < n)
        return 0;
    *pkt_len = 4 + (size_t)n;
    return 1;
}

/* Maps an SSH_FXP_EXTENDED name to its operation and decodes its arguments. */
static int decode_extended(struct rd *r, struct sftpd_request *q)
{
    q->ext = rd_str(r);
    if (r->err)
        return GW_ERR_PROTO;
    if (str_is(q->ext, "posix-rename@openssh.com") || str_is(q->ext, "hardlink@openssh.com")) {
        q->op = q->ext.p[0] == 'p' ? SFTPD_OP_POSIX_RENAME : SFTPD_OP_HARDLINK;
        q->path = rd_str(r);
        q->path2 = rd_str(r);
    } else if (str_is(q->ext, "statvfs@openssh.com")) {
        q->op = SFTPD_OP_STATVFS;
        q->path = rd_str(r);
    } else if (str_is(q->ext, "fstatvfs@openssh.com")) {
        q->op = SFTPD_OP_FSTATVFS;
        q->handle = rd_str(r);
    } else if (str_is(q->ext, "fsync@openssh.com")) {
        q->op = SFTPD_OP_FSYNC;
        q->handle = rd_str(r);
    } else if (str_is(q->ext, "limits@openssh.com")) {
        q->op = SFTPD_OP_LIMITS;
    } else if (str_is(q->ext, "check-file-name") || str_is(q->ext, "check-file-handle") ||
               str_is(q->ext, "check-file")) {
        /* Plain "check-file" takes a handle: paramiko's SFTPFile.check() sends it. */
        if (q->ext.len > 11 && q->ext.p[11] == 'n') {
            q->op = SFTPD_OP_CHECK_FILE_NAME;
            q->path = rd_str(r);
        } else {
            q->op = SFTPD_OP_CHECK_FILE_HANDLE;
            q->handle = rd_str(r);
        }
        q->algs = rd_str(r);
        q->offset = rd_u64(r);
        q->length = rd_u64(r);
        q->len = rd_u32(r);
    } else {
        return GW_ERR_NOTSUP;
    }
    return 0;
}

int sftpd_decode(const uint8_t *body, size_t len, struct sftpd_request *q)
{
    struct rd r = {body, len, false};
    int rc = 0;

    memset(q, 0, sizeof *q);
    q->type = rd_u8(&r);
    if (r.err)
        return GW_ERR_PROTO;
    if (q->type == SFTPD_FXP_INIT) {
        q->op = SFTPD_OP_INIT;
        q->version = rd_u32(&r);
        /* v3 clients may append extension pairs after the version: ignore them. */
        return r.err ? GW_ERR_PROTO : 0;
    }
    q->id = rd_u32(&r);
    if (r.err)
        return GW_ERR_PROTO;
    q->has_id = true;

    switch (q->type) {
    case SFTPD_FXP_OPEN:
        q->op = SFTPD_OP_OPEN;
        q->path = rd_str(&r);
        q->pflags = rd_u32(&r);
        rd_attrs(&r, &q->attrs);
        break;
    case SFTPD_FXP_CLOSE:
    case SFTPD_FXP_FSTAT:
    case SFTPD_FXP_READDIR:
        q->op = q->type == SFTPD_FXP_CLOSE   ? SFTPD_OP_CLOSE
                : q->type == SFTPD_FXP_FSTAT ? SFTPD_OP_FSTAT
                                             : SFTPD_OP_READDIR;
        q->handle = rd_str(&r);
        break;
    case SFTPD_FXP_READ:
        q->op = SFTPD_OP_READ;
        q->handle = rd_str(&r);
        q->offset = rd_u64(&r);
        q->len = rd_u32(&r);
        break;
    case SFTPD_FXP_WRITE:
        q->op = SFTPD_OP_WRITE;
        q->handle = rd_str(&r);
        q->offset = rd_u64(&r);
        q->data = rd_str(&r);
        break;
    case SFTPD_FXP_FSETSTAT:
        q->op = SFTPD_OP_FSETSTAT;
        q->handle = rd_str(&r);
        rd_attrs(&r, &q->attrs);
        break;
    case SFTPD_FXP_SETSTAT:
    case SFTPD_FXP_MKDIR:
        q->op = q->type == SFTPD_FXP_SETSTAT ? SFTPD_OP_SETSTAT : SFTPD_OP_MKDIR;
        q->path = rd_str(&r);
        rd_attrs(&r, &q->attrs);
        break;
    case SFTPD_FXP_LSTAT:
    case SFTPD_FXP_STAT:
    case SFTPD_FXP_OPENDIR:
    case SFTPD_FXP_REMOVE:
    case SFTPD_FXP_RMDIR:
    case SFTPD_FXP_REALPATH:
    case SFTPD_FXP_READLINK: {
        static const enum sftpd_op ops[] = {
            [SFTPD_FXP_LSTAT] = SFTPD_OP_LSTAT,       [SFTPD_FXP_STAT] = SFTPD_OP_STAT,
            [SFTPD_FXP_OPENDIR] = SFTPD_OP_OPENDIR,   [SFTPD_FXP_REMOVE] = SFTPD_OP_REMOVE,
            [SFTPD_FXP_RMDIR] = SFTPD_OP_RMDIR,       [SFTPD_FXP_REALPATH] = SFTPD_OP_REALPATH,
            [SFTPD_FXP_READLINK] = SFTPD_OP_READLINK,
        };
        q->op = ops[q->type];
        q->path = rd_str(&r);
        /* REALPATH may carry a control byte and compose paths in later versions;
         * a v3 client sends just the path. */
        break;
    }
    case SFTPD_FXP_RENAME:
    case SFTPD_FXP_SYMLINK:
        q->op = q->type == SFTPD_FXP_RENAME ? SFTPD_OP_RENAME : SFTPD_OP_SYMLINK;
        q->path = rd_str(&r);
        q->path2 = rd_str(&r);
        break;
    case SFTPD_FXP_EXTENDED:
        rc = decode_extended(&r, q);
        if (rc < 0)
            return rc;
        break;
    default:
        return GW_ERR_NOTSUP;
    }
    /* Bytes after the last field are ignored, as OpenSSH's sftp-server does: some
     * clients (Go's pkg/sftp on short final writes) send packets longer than their
     * fields. */
    return r.err ? GW_ERR_PROTO : 0;
}

/* ---- encoding ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int sftpd_put_u8(struct gw_buf *out, uint8_t v)
{
    return gw_buf_append(out, &v, 1);
}

int sftpd_put_u32(struct gw_buf *out, uint32_t v)
{
    uint8_t b[4];
    put_be32(b, v);
    return gw_buf_append(out, b, 4);
}

int sftpd_put_u64(struct gw_buf *out, uint64_t v)
{
    uint8_t b[8];
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b + 4, (uint32_t)v);
    return gw_buf_append(out, b, 8);
}

int sftpd_put_string(struct gw_buf *out, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return GW_ERR_LIMIT;
    int rc = sftpd_put_u32(out, (uint32_t)n);
    if (rc == 0 && n > 0)
        rc = gw_buf_append(out, p, n);
    return rc;
}

int sftpd_put_cstring(struct gw_buf *out, const char *s)
{
    return sftpd_put_string(out, s, strlen(s));
}

int sftpd_put_attrs(struct gw_buf *out, const struct sftpd_attrs *a)
{
    uint32_t flags = a->flags & (SFTPD_ATTR_SIZE | SFTPD_ATTR_UIDGID | SFTPD_ATTR_PERMISSIONS |
                                 SFTPD_ATTR_ACMODTIME);
    int rc = sftpd_put_u32(out, flags);
    if (rc == 0 && (flags & SFTPD_ATTR_SIZE))
        rc = sftpd_put_u64(out, a->size);
    if (rc == 0 && (flags & SFTPD_ATTR_UIDGID)) {
        rc = sftpd_put_u32(out, a->uid);
        if (rc == 0)
            rc = sftpd_put_u32(out, a->gid);
    }
    if (rc == 0 && (flags & SFTPD_ATTR_PERMISSIONS))
        rc = sftpd_put_u32(out, a->perm);
    if (rc == 0 && (flags & SFTPD_ATTR_ACMODTIME)) {
        rc = sftpd_put_u32(out, a->atime);
        if (rc == 0)
            rc = sftpd_put_u32(out, a->mtime);
    }
    return rc;
}

int sftpd_pkt_begin(struct gw_buf *out, uint8_t type, uint32_t id, size_t *mark)
{
    *mark = out->len;
    int rc = sftpd_put_u32(out, 0); /* length, filled in by sftpd_pkt_end */
    if (rc == 0)
        rc = sftpd_put_u8(out, type);
    if (rc == 0 && type != SFTPD_FXP_VERSION)
        rc = sftpd_put_u32(out, id);
    if (rc < 0)
        sftpd_pkt_abort(out, *mark);
    return rc;
}

int sftpd_pkt_end(struct gw_buf *out, size_t mark)
{
    size_t n = out->len - mark - 4;
    /* Replies are bounded like requests: a client may refuse anything larger. */
    if (n > GW_MAX_SFTP_PACKET) {
        sftpd_pkt_abort(out, mark);
        return GW_ERR_LIMIT;
    }
    put_be32((uint8_t *)out->data + mark, (uint32_t)n);
    return 0;
}

void sftpd_pkt_abort(struct gw_buf *out, size_t mark)
{
    if (mark < out->len) {
        out->len = mark;
        out->data[mark] = '\0';
    }
}

/* Ends a packet built by a sequence of puts whose first error is rc. */
static int finish(struct gw_buf *out, size_t mark, int rc)
{
    if (rc < 0) {
        sftpd_pkt_abort(out, mark);
        return rc;
    }
    return sftpd_pkt_end(out, mark);
}

int sftpd_reply_version(struct gw_buf *out, const struct sftpd_ext_pair *exts, size_t n)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_VERSION, 0, &mark);
    if (rc < 0)
        return rc;
    rc = sftpd_put_u32(out, SFTPD_VERSION);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = sftpd_put_cstring(out, exts[i].name);
        if (rc == 0)
            rc = sftpd_put_cstring(out, exts[i].data);
    }
    return finish(out, mark, rc);
}

const char *sftpd_status_text(uint32_t code)
{
    static const char *const texts[] = {
        "Success",     "End of file",   "No such file",    "Permission denied",     "Failure",
        "Bad message", "No connection", "Connection lost", "Operation unsupported",
    };
    return code < sizeof texts / sizeof texts[0] ? texts[code] : "Unknown error";
}

int sftpd_reply_status(struct gw_buf *out, uint32_t id, uint32_t code, const char *msg)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_STATUS, id, &mark);
    if (rc < 0)
        return rc;
    rc = sftpd_put_u32(out, code);
    if (rc == 0)
        rc = sftpd_put_cstring(out, msg ? msg : sftpd_status_text(code));
    if (rc == 0)
        rc = sftpd_put_cstring(out, "en");
    return finish(out, mark, rc);
}

int sftpd_reply_handle(struct gw_buf *out, uint32_t id, const void *h, size_t n)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_HANDLE, id, &mark);
    if (rc < 0)
        return rc;
    return finish(out, mark, sftpd_put_string(out, h, n));
}

int sftpd_reply_data(struct gw_buf *out, uint32_t id, const void *data, size_t n)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_DATA, id, &mark);
    if (rc < 0)
        return rc;
    return finish(out, mark, sftpd_put_string(out, data, n));
}

int sftpd_buf_room(struct gw_buf *b, size_t n)
{
    static const uint8_t zeros[4096];
    size_t len = b->len;
    int rc = 0;
    if (n > b->max - len)
        return GW_ERR_LIMIT;
    if (b->data && n <= b->cap - len)
        return 0;
    while (rc == 0 && b->len - len < n) {
        size_t k = n - (b->len - len);
        rc = gw_buf_append(b, zeros, k < sizeof zeros ? k : sizeof zeros);
    }
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
    return rc;
}

void sftpd_buf_commit(struct gw_buf *b, size_t n)
{
    if (n == 0)
        return; /* b->data may still be NULL */
    b->len += n;
    b->data[b->len] = '\0';
}

int sftpd_data_begin(struct gw_buf *out, uint32_t id, size_t n, uint8_t **payload, size_t *mark)
{
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_DATA, id, mark);
    if (rc == 0)
        rc = sftpd_put_u32(out, 0); /* the payload's length, set by sftpd_data_end */
    if (rc == 0)
        rc = sftpd_buf_room(out, n);
    if (rc < 0) {
        sftpd_pkt_abort(out, *mark);
        return rc;
    }
    *payload = (uint8_t *)out->data + out->len;
    return 0;
}

int sftpd_data_end(struct gw_buf *out, size_t mark, size_t got)
{
    /* begin made room for n >= got bytes past the 13 header bytes at mark */
    if (got > UINT32_MAX || out->len != mark + 13) {
        sftpd_pkt_abort(out, mark);
        return GW_ERR_INVAL;
    }
    put_be32((uint8_t *)out->data + mark + 9, (uint32_t)got);
    sftpd_buf_commit(out, got);
    return sftpd_pkt_end(out, mark);
}

int sftpd_reply_attrs(struct gw_buf *out, uint32_t id, const struct sftpd_attrs *a)
{
    size_t mark;
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_ATTRS, id, &mark);
    if (rc < 0)
        return rc;
    return finish(out, mark, sftpd_put_attrs(out, a));
}

int sftpd_name_begin(struct gw_buf *out, uint32_t id, size_t *mark)
{
    int rc = sftpd_pkt_begin(out, SFTPD_FXP_NAME, id, mark);
    if (rc < 0)
        return rc;
    rc = sftpd_put_u32(out, 0); /* count, filled in by sftpd_name_end */
    if (rc < 0)
        sftpd_pkt_abort(out, *mark);
    return rc;
}

int sftpd_name_add(struct gw_buf *out, const char *name, size_t name_len, const char *longname,
                   const struct sftpd_attrs *a)
{
    size_t mark = out->len;
    int rc = sftpd_put_string(out, name, name_len);
    if (rc == 0)
        rc = sftpd_put_cstring(out, longname);
    if (rc == 0)
        rc = sftpd_put_attrs(out, a);
    if (rc < 0)
        sftpd_pkt_abort(out, mark);
    return rc;
}

int sftpd_name_end(struct gw_buf *out, size_t mark, uint32_t count)
{
    put_be32((uint8_t *)out->data + mark + 9, count);
    return sftpd_pkt_end(out, mark);
}

int sftpd_reply_name1(struct gw_buf *out, uint32_t id, const char *name, const char *longname,
                      const struct sftpd_attrs *a)
{
    size_t mark;
    int rc = sftpd_name_begin(out, id, &mark);
    if (rc < 0)
        return rc;
    rc = sftpd_name_add(out, name, strlen(name), longname, a);
    if (rc < 0) {
        sftpd_pkt_abort(out, mark);
        return rc;
    }
    return sftpd_name_end(out, mark, 1);
}
