/* Unit tests for sftp/server.c: the SFTP request engine driven from memory against the
 * real VFS on a temporary directory. Requests are built with the packet encoders;
 * replies are parsed here. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/vfs.h"
#include "sftp/packet.h"
#include "sftp/server.h"

#define MAX_AUDIT 32

/* One test client: a temporary root, the user's view, an engine, reply buffer. */
struct cli {
    char *root;
    struct vfs *v;
    struct sftpd_server *srv;
    struct gw_buf out;
    size_t rpos; /* next reply to parse in out */
    uint32_t next_id;
    char audit[MAX_AUDIT][160];
    bool audit_sha[MAX_AUDIT]; /* the record carried a sha256 */
    char last_sha[65];         /* the latest record's sha256, or "" */
    int naudit;
    bool no_hash; /* start the engine with hash_transfers = no */
};

/* A parsed reply. */
struct rep {
    uint8_t type;
    uint32_t id;
    const uint8_t *p; /* after the id */
    size_t len;
};

static void on_audit(void *ctx, const struct audit_record *r)
{
    struct cli *c = ctx;
    if (c->naudit < MAX_AUDIT)
        c->audit_sha[c->naudit] = r->sha256 != NULL;
    snprintf(c->last_sha, sizeof c->last_sha, "%s", r->sha256 ? r->sha256 : "");
    if (c->naudit < MAX_AUDIT)
        snprintf(c->audit[c->naudit++], sizeof c->audit[0], "%s %s %s%s%s bytes=%lld", r->event,
                 r->status, r->path ? r->path : "-", r->path2 ? " " : "", r->path2 ? r->path2 : "",
                 (long long)r->bytes);
}

static void cli_start(struct cli *c, bool read_only, unsigned max_handles)
{
    struct vfs_options vo;
    memset(&vo, 0, sizeof vo);
    vo.root = c->root;
    vo.owner = "alice";
    vo.read_only = read_only;
    ck_assert_int_eq(vfs_open(&vo, &c->v), 0);
    struct sftpd_server_options o = {
        .vfs = c->v,
        .max_handles = max_handles,
        .read_only = read_only,
        .owner = "alice",
        .no_hash = c->no_hash,
        .audit = on_audit,
        .audit_ctx = c,
    };
    c->srv = sftpd_server_new(&o);
    ck_assert_ptr_nonnull(c->srv);
    gw_buf_init(&c->out, 4u * GW_MAX_SFTP_PACKET);
    c->rpos = 0;
}

static void cli_stop(struct cli *c)
{
    sftpd_server_free(c->srv);
    c->srv = NULL;
    vfs_free(c->v);
    c->v = NULL;
    gw_buf_free(&c->out);
}

static void cli_new(struct cli *c)
{
    memset(c, 0, sizeof *c);
    c->root = tu_mkdtemp("sftp-server");
    c->next_id = 100;
}

static void cli_free(struct cli *c)
{
    if (c->srv)
        cli_stop(c);
    tu_rmtree(c->root);
    free(c->root);
}

/* Feeds bytes to the engine; they must all be consumed. */
static void feed(struct cli *c, const struct gw_buf *req)
{
    ssize_t used = sftpd_server_input(c->srv, (const uint8_t *)req->data, req->len, &c->out,
                                      4u * GW_MAX_SFTP_PACKET);
    ck_assert_int_eq(used, (ssize_t)req->len);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* The next reply in out. */
static struct rep next_reply(struct cli *c)
{
    struct rep r;
    ck_assert_uint_ge(c->out.len - c->rpos, 9);
    const uint8_t *p = (const uint8_t *)c->out.data + c->rpos;
    uint32_t n = rd32(p);
    ck_assert_uint_le(n, c->out.len - c->rpos - 4);
    r.type = p[4];
    r.id = r.type == SFTPD_FXP_VERSION ? 0 : rd32(p + 5);
    size_t hdr = r.type == SFTPD_FXP_VERSION ? 5 : 9;
    r.p = p + hdr;
    r.len = n + 4 - hdr;
    c->rpos += 4 + n;
    return r;
}

static void init(struct cli *c)
{
    struct gw_buf b;
    gw_buf_init(&b, 64);
    sftpd_put_u32(&b, 5);
    sftpd_put_u8(&b, SFTPD_FXP_INIT);
    sftpd_put_u32(&b, 3);
    feed(c, &b);
    gw_buf_free(&b);
    struct rep r = next_reply(c);
    ck_assert_int_eq(r.type, SFTPD_FXP_VERSION);
    ck_assert_uint_eq(rd32(r.p), 3);
}

/* Request builders: each returns the id used. */
static uint32_t req_begin(struct cli *c, struct gw_buf *b, uint8_t type, size_t *m)
{
    uint32_t id = c->next_id++;
    gw_buf_init(b, 2u * GW_MAX_SFTP_PACKET);
    ck_assert_int_eq(sftpd_pkt_begin(b, type, id, m), 0);
    return id;
}

static void req_send(struct cli *c, struct gw_buf *b, size_t m)
{
    ck_assert_int_eq(sftpd_pkt_end(b, m), 0);
    feed(c, b);
    gw_buf_free(b);
}

static uint32_t send_path(struct cli *c, uint8_t type, const char *path)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, type, &m);
    sftpd_put_cstring(&b, path);
    if (type == SFTPD_FXP_MKDIR || type == SFTPD_FXP_SETSTAT)
        sftpd_put_u32(&b, 0);
    req_send(c, &b, m);
    return id;
}

static uint32_t send_path2(struct cli *c, uint8_t type, const char *ext, const char *a,
                           const char *b2)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, type, &m);
    if (ext)
        sftpd_put_cstring(&b, ext);
    sftpd_put_cstring(&b, a);
    sftpd_put_cstring(&b, b2);
    req_send(c, &b, m);
    return id;
}

static uint32_t send_open(struct cli *c, const char *path, uint32_t pflags)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, SFTPD_FXP_OPEN, &m);
    sftpd_put_cstring(&b, path);
    sftpd_put_u32(&b, pflags);
    sftpd_put_u32(&b, SFTPD_ATTR_PERMISSIONS);
    sftpd_put_u32(&b, 0640);
    req_send(c, &b, m);
    return id;
}

static uint32_t send_handle(struct cli *c, uint8_t type, const char *ext, const uint8_t *h,
                            size_t hl)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, type, &m);
    if (ext)
        sftpd_put_cstring(&b, ext);
    sftpd_put_string(&b, h, hl);
    req_send(c, &b, m);
    return id;
}

static uint32_t send_write(struct cli *c, const uint8_t *h, uint64_t off, const void *d, size_t n)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, SFTPD_FXP_WRITE, &m);
    sftpd_put_string(&b, h, 8);
    sftpd_put_u64(&b, off);
    sftpd_put_string(&b, d, n);
    req_send(c, &b, m);
    return id;
}

static uint32_t send_read(struct cli *c, const uint8_t *h, uint64_t off, uint32_t n)
{
    struct gw_buf b;
    size_t m;
    uint32_t id = req_begin(c, &b, SFTPD_FXP_READ, &m);
    sftpd_put_string(&b, h, 8);
    sftpd_put_u64(&b, off);
    sftpd_put_u32(&b, n);
    req_send(c, &b, m);
    return id;
}

/* Expects a STATUS reply to id with code; returns its message. */
static void expect_status(struct cli *c, uint32_t id, uint32_t code)
{
    struct rep r = next_reply(c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    ck_assert_uint_eq(r.id, id);
    ck_assert_msg(rd32(r.p) == code, "status %u (%.*s), want %u", rd32(r.p), (int)rd32(r.p + 4),
                  (const char *)r.p + 8, code);
}

/* Expects a HANDLE reply; copies the 8-byte handle. */
static void expect_handle(struct cli *c, uint32_t id, uint8_t h[8])
{
    struct rep r = next_reply(c);
    ck_assert_msg(r.type == SFTPD_FXP_HANDLE, "reply type %d (status %u)", r.type,
                  r.type == SFTPD_FXP_STATUS ? rd32(r.p) : 0);
    ck_assert_uint_eq(r.id, id);
    ck_assert_uint_eq(rd32(r.p), 8);
    memcpy(h, r.p + 4, 8);
}

static bool host_exists(struct cli *c, const char *rel)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", c->root, rel);
    return lstat(p, &st) == 0;
}

static int count_partials(struct cli *c)
{
    return tu_sh("test \"$(ls -A '%s' | grep -c '^%s')\" = 0", c->root, VFS_PARTIAL_PREFIX) == 0
               ? 0
               : 1;
}

START_TEST(test_init_required)
{
    struct cli c;
    cli_new(&c);
    cli_start(&c, false, 0);
    struct gw_buf b;
    size_t m;
    gw_buf_init(&b, 256);
    sftpd_pkt_begin(&b, SFTPD_FXP_STAT, 1, &m);
    sftpd_put_cstring(&b, "/");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(sftpd_server_input(c.srv, (const uint8_t *)b.data, b.len, &c.out, 1 << 20),
                     GW_ERR_PROTO);
    gw_buf_free(&b);
    cli_stop(&c);

    /* After INIT: a version reply listing our extensions. */
    cli_start(&c, false, 0);
    init(&c);
    ck_assert_ptr_nonnull(memmem(c.out.data, c.out.len, "limits@openssh.com", 18));
    ck_assert_ptr_nonnull(memmem(c.out.data, c.out.len, "fsync@openssh.com", 17));
    /* A second INIT is ignored; an oversized packet ends the session. */
    gw_buf_init(&b, 64);
    sftpd_put_u32(&b, 5);
    sftpd_put_u8(&b, SFTPD_FXP_INIT);
    sftpd_put_u32(&b, 3);
    feed(&c, &b);
    ck_assert_uint_eq(c.out.len, c.rpos);
    gw_buf_reset(&b);
    sftpd_put_u32(&b, GW_MAX_SFTP_PACKET + 1);
    sftpd_put_u8(&b, SFTPD_FXP_STAT);
    ck_assert_int_eq(sftpd_server_input(c.srv, (const uint8_t *)b.data, b.len, &c.out, 1 << 20),
                     GW_ERR_LIMIT);
    gw_buf_free(&b);
    cli_free(&c);
}
END_TEST

START_TEST(test_upload_commit)
{
    struct cli c;
    uint8_t h[8];
    cli_new(&c);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_open(&c, "/up.bin", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    expect_handle(&c, id, h);
    /* Out of order, as a pipelining client may send them. */
    id = send_write(&c, h, 5, " world", 6);
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_write(&c, h, 0, "hello", 5);
    expect_status(&c, id, SFTPD_FX_OK);
    /* Not there until CLOSE: neither on disk nor through SFTP for other users. */
    ck_assert(!host_exists(&c, "up.bin"));
    ck_assert_int_eq(count_partials(&c), 1);
    id = send_handle(&c, SFTPD_FXP_FSTAT, NULL, h, 8);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_ATTRS);
    ck_assert_uint_eq(rd64(r.p + 4), 11);
    id = send_handle(&c, SFTPD_FXP_EXTENDED, "fsync@openssh.com", h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    /* put -p: attributes sent before CLOSE apply to the committed file. */
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_FSETSTAT, &m);
        sftpd_put_string(&b, h, 8);
        sftpd_put_u32(&b, SFTPD_ATTR_PERMISSIONS | SFTPD_ATTR_ACMODTIME);
        sftpd_put_u32(&b, 0600);
        sftpd_put_u32(&b, 1000000000);
        sftpd_put_u32(&b, 1000000000);
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_OK);
    }
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    char p[4096];
    size_t len;
    snprintf(p, sizeof p, "%s/up.bin", c.root);
    char *data = tu_read_file(p, &len);
    ck_assert_uint_eq(len, 11);
    ck_assert(memcmp(data, "hello world", 11) == 0);
    free(data);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(st.st_mtime, 1000000000);
    ck_assert_int_eq(count_partials(&c), 0);
    ck_assert_int_eq(c.naudit, 1);
    ck_assert_str_eq(c.audit[0], "upload ok /up.bin bytes=11");
    /* The handle is gone: stale strings are refused. */
    id = send_write(&c, h, 0, "x", 1);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    cli_free(&c);
}
END_TEST

START_TEST(test_upload_abort_resume)
{
    struct cli c;
    uint8_t h[8];
    cli_new(&c);
    cli_start(&c, false, 0);
    init(&c);
    /* An existing file being replaced stays readable and unchanged. */
    char p[4096];
    snprintf(p, sizeof p, "%s/doc.txt", c.root);
    tu_write_file(p, "old", 3);
    uint32_t id = send_open(&c, "/doc.txt", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    expect_handle(&c, id, h);
    id = send_write(&c, h, 0, "new-par", 7);
    expect_status(&c, id, SFTPD_FX_OK);
    cli_stop(&c); /* the client vanished */
    ck_assert_int_eq(c.naudit, 1);
    ck_assert_str_eq(c.audit[0], "upload aborted /doc.txt bytes=7");
    size_t len;
    char *data = tu_read_file(p, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(data, "old", 3) == 0);
    free(data);
    ck_assert_int_eq(count_partials(&c), 1);

    /* reput: STAT sees the partial's size, OPEN with APPEND continues it. */
    cli_start(&c, false, 0);
    init(&c);
    id = send_path(&c, SFTPD_FXP_STAT, "/doc.txt");
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_ATTRS);
    ck_assert_uint_eq(r.id, id);
    ck_assert_uint_eq(rd64(r.p + 4), 7);
    id = send_open(&c, "/doc.txt", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_APPEND);
    expect_handle(&c, id, h);
    id = send_write(&c, h, 7, "tial!", 5);
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    data = tu_read_file(p, &len);
    ck_assert_uint_eq(len, 12);
    ck_assert(memcmp(data, "new-partial!", 12) == 0);
    free(data);
    ck_assert_int_eq(count_partials(&c), 0);

    /* Without CREAT a missing file is an error. */
    id = send_open(&c, "/missing", SFTPD_FXF_WRITE | SFTPD_FXF_APPEND);
    expect_status(&c, id, SFTPD_FX_NO_SUCH_FILE);
    /* EXCL on an existing file fails. */
    id = send_open(&c, "/doc.txt", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_EXCL);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    /* A plain WRITE open modifies in place. */
    id = send_open(&c, "/doc.txt", SFTPD_FXF_WRITE);
    expect_handle(&c, id, h);
    id = send_write(&c, h, 0, "N", 1);
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    data = tu_read_file(p, &len);
    ck_assert(memcmp(data, "New-partial!", 12) == 0);
    free(data);
    cli_free(&c);
}
END_TEST

START_TEST(test_download)
{
    struct cli c;
    uint8_t h[8];
    char p[4096];
    cli_new(&c);
    snprintf(p, sizeof p, "%s/big", c.root);
    size_t n = SFTPD_MAX_RW + 1000;
    char *content = malloc(n);
    for (size_t i = 0; i < n; i++)
        content[i] = (char)(i * 7);
    tu_write_file(p, content, n);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_open(&c, "/big", SFTPD_FXF_READ);
    expect_handle(&c, id, h);
    /* Pipelined reads, answered in order; a request above the limit is cut. */
    uint32_t a = send_read(&c, h, 0, 0xffffffffu);
    uint32_t b = send_read(&c, h, SFTPD_MAX_RW, 4096);
    uint32_t e = send_read(&c, h, n, 10);
    uint32_t far = send_read(&c, h, 1ull << 40, 10);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_DATA);
    ck_assert_uint_eq(r.id, a);
    ck_assert_uint_eq(rd32(r.p), SFTPD_MAX_RW);
    ck_assert(memcmp(r.p + 4, content, SFTPD_MAX_RW) == 0);
    r = next_reply(&c);
    ck_assert_uint_eq(r.id, b);
    ck_assert_uint_eq(rd32(r.p), 1000);
    ck_assert(memcmp(r.p + 4, content + SFTPD_MAX_RW, 1000) == 0);
    expect_status(&c, e, SFTPD_FX_EOF);
    expect_status(&c, far, SFTPD_FX_EOF);
    /* check-file-handle over the whole file equals SHA-256 of the content. */
    {
        struct gw_buf q;
        size_t m;
        id = req_begin(&c, &q, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&q, "check-file-handle");
        sftpd_put_string(&q, h, 8);
        sftpd_put_cstring(&q, "md5,sha256");
        sftpd_put_u64(&q, 0);
        sftpd_put_u64(&q, 0);
        sftpd_put_u32(&q, 0);
        req_send(&c, &q, m);
        r = next_reply(&c);
        ck_assert_int_eq(r.type, SFTPD_FXP_EXTENDED_REPLY);
        ck_assert_uint_eq(rd32(r.p), 10);
        ck_assert(memcmp(r.p + 4, "check-file", 10) == 0);
        ck_assert_uint_eq(rd32(r.p + 14), 6);
        ck_assert(memcmp(r.p + 18, "sha256", 6) == 0);
        ck_assert_uint_eq(r.len, 24 + 32);
        unsigned char md[32];
        unsigned int mdlen;
        EVP_Digest(content, n, md, &mdlen, EVP_sha256(), NULL);
        ck_assert(memcmp(r.p + 24, md, 32) == 0);
    }
    /* By name, in blocks of 128 KiB: two hashes. */
    {
        struct gw_buf q;
        size_t m;
        id = req_begin(&c, &q, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&q, "check-file-name");
        sftpd_put_cstring(&q, "big");
        sftpd_put_cstring(&q, "sha256");
        sftpd_put_u64(&q, 0);
        sftpd_put_u64(&q, 0);
        sftpd_put_u32(&q, 131072);
        req_send(&c, &q, m);
        r = next_reply(&c);
        ck_assert_int_eq(r.type, SFTPD_FXP_EXTENDED_REPLY);
        ck_assert_uint_eq(r.len, 24 + 64);
        unsigned char md[32];
        unsigned int mdlen;
        EVP_Digest(content + 131072, n - 131072, md, &mdlen, EVP_sha256(), NULL);
        ck_assert(memcmp(r.p + 24 + 32, md, 32) == 0);
        id = req_begin(&c, &q, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&q, "check-file-name");
        sftpd_put_cstring(&q, "big");
        sftpd_put_cstring(&q, "md5");
        sftpd_put_u64(&q, 0);
        sftpd_put_u64(&q, 0);
        sftpd_put_u32(&q, 0);
        req_send(&c, &q, m);
        expect_status(&c, id, SFTPD_FX_OP_UNSUPPORTED);
    }
    /* A write through a read handle is refused. */
    id = send_write(&c, h, 0, "x", 1);
    expect_status(&c, id, SFTPD_FX_PERMISSION_DENIED);
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert_int_eq(c.naudit, 1);
    ck_assert_str_eq(c.audit[0], "download ok /big bytes=262120");
    free(content);
    cli_free(&c);
}
END_TEST

START_TEST(test_readdir)
{
    struct cli c;
    uint8_t h[8];
    char p[4096];
    cli_new(&c);
    for (int i = 0; i < 150; i++) {
        snprintf(p, sizeof p, "%s/f%03d", c.root, i);
        tu_write_file(p, "x", 1);
    }
    snprintf(p, sizeof p, "%s/sub", c.root);
    mkdir(p, 0755);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_path(&c, SFTPD_FXP_OPENDIR, "/");
    expect_handle(&c, id, h);
    int total = 0, batches = 0;
    bool saw_dir = false;
    for (;;) {
        id = send_handle(&c, SFTPD_FXP_READDIR, NULL, h, 8);
        struct rep r = next_reply(&c);
        ck_assert_uint_eq(r.id, id);
        if (r.type == SFTPD_FXP_STATUS) {
            ck_assert_uint_eq(rd32(r.p), SFTPD_FX_EOF);
            break;
        }
        ck_assert_int_eq(r.type, SFTPD_FXP_NAME);
        uint32_t count = rd32(r.p);
        ck_assert_uint_le(count, SFTPD_READDIR_BATCH);
        const uint8_t *q = r.p + 4;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t nl = rd32(q);
            const char *name = (const char *)q + 4;
            q += 4 + nl;
            uint32_t ll = rd32(q);
            const char *ln = (const char *)q + 4;
            q += 4 + ll;
            if (nl == 3 && memcmp(name, "sub", 3) == 0) {
                saw_dir = true;
                ck_assert(ll > 10 && ln[0] == 'd');
            } else {
                ck_assert(ll > 10 && memcmp(ln, "-rw", 3) == 0);
            }
            ck_assert_ptr_nonnull(memmem(ln, ll, "alice", 5));
            uint32_t fl = rd32(q);
            ck_assert_uint_eq(fl, 0xf);
            q += 4 + 8 + 8 + 4 + 8;
        }
        ck_assert(q == r.p + r.len);
        total += (int)count;
        batches++;
    }
    ck_assert_int_eq(total, 151);
    ck_assert_int_ge(batches, 2);
    ck_assert(saw_dir);
    /* FSTAT on a directory handle; CLOSE; then the handle is stale. */
    id = send_handle(&c, SFTPD_FXP_FSTAT, NULL, h, 8);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_ATTRS);
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_handle(&c, SFTPD_FXP_READDIR, NULL, h, 8);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    id = send_path(&c, SFTPD_FXP_OPENDIR, "/f001");
    expect_status(&c, id, SFTPD_FX_FAILURE);
    cli_free(&c);
}
END_TEST

START_TEST(test_handles)
{
    struct cli c;
    uint8_t h1[8], h2[8];
    char p[4096];
    cli_new(&c);
    snprintf(p, sizeof p, "%s/a", c.root);
    tu_write_file(p, "a", 1);
    cli_start(&c, false, 2);
    init(&c);
    uint32_t id = send_open(&c, "/a", SFTPD_FXF_READ);
    expect_handle(&c, id, h1);
    id = send_path(&c, SFTPD_FXP_OPENDIR, "/");
    expect_handle(&c, id, h2);
    ck_assert_uint_eq(sftpd_server_handles(c.srv), 2);
    id = send_open(&c, "/a", SFTPD_FXF_READ);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    /* Bogus handles: wrong length, wrong slot, wrong generation, wrong kind. */
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, (const uint8_t *)"xyz", 3);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    const uint8_t bad_slot[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    id = send_read(&c, bad_slot, 0, 10);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    uint8_t bad_gen[8];
    memcpy(bad_gen, h1, 8);
    bad_gen[7] ^= 0x55;
    id = send_read(&c, bad_gen, 0, 10);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    id = send_read(&c, h2, 0, 10);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    id = send_handle(&c, SFTPD_FXP_READDIR, NULL, h1, 8);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    /* Closing frees the slot for reuse, and the reused slot has a new handle. */
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h1, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    uint8_t h3[8];
    id = send_open(&c, "/a", SFTPD_FXF_READ);
    expect_handle(&c, id, h3);
    ck_assert(memcmp(h1, h3, 8) != 0);
    cli_free(&c);
}
END_TEST

START_TEST(test_operations)
{
    struct cli c;
    char p[4096];
    cli_new(&c);
    snprintf(p, sizeof p, "%s/f", c.root);
    tu_write_file(p, "12345", 5);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_path(&c, SFTPD_FXP_MKDIR, "/d");
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert(host_exists(&c, "d"));
    id = send_path2(&c, SFTPD_FXP_RENAME, NULL, "/f", "/d/g");
    expect_status(&c, id, SFTPD_FX_OK);
    snprintf(p, sizeof p, "%s/h", c.root);
    tu_write_file(p, "h", 1);
    /* v3 RENAME does not replace; posix-rename does. */
    id = send_path2(&c, SFTPD_FXP_RENAME, NULL, "/h", "/d/g");
    expect_status(&c, id, SFTPD_FX_FAILURE);
    id = send_path2(&c, SFTPD_FXP_EXTENDED, "posix-rename@openssh.com", "/h", "/d/g");
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_path2(&c, SFTPD_FXP_EXTENDED, "hardlink@openssh.com", "/d/g", "/d/g2");
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert(host_exists(&c, "d/g2"));
    id = send_path(&c, SFTPD_FXP_RMDIR, "/d");
    expect_status(&c, id, SFTPD_FX_FAILURE);
    id = send_path(&c, SFTPD_FXP_REMOVE, "/d/g");
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_path(&c, SFTPD_FXP_REMOVE, "/d/g2");
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_path(&c, SFTPD_FXP_REMOVE, "/d/g2");
    expect_status(&c, id, SFTPD_FX_NO_SUCH_FILE);
    id = send_path(&c, SFTPD_FXP_RMDIR, "/d");
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert(!host_exists(&c, "d"));
    ck_assert_str_eq(c.audit[0], "mkdir ok /d bytes=-1");
    ck_assert_str_eq(c.audit[1], "rename ok /f /d/g bytes=-1");
    ck_assert_str_eq(c.audit[2], "rename failed /h /d/g bytes=-1");
    ck_assert_str_eq(c.audit[5], "delete ok /d/g bytes=-1");
    ck_assert_str_eq(c.audit[8], "rmdir ok /d bytes=-1");

    /* REALPATH normalises inside the root. */
    id = send_path(&c, SFTPD_FXP_REALPATH, ".");
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_NAME);
    ck_assert_uint_eq(rd32(r.p), 1);
    ck_assert_uint_eq(rd32(r.p + 4), 1);
    ck_assert_int_eq(r.p[8], '/');
    id = send_path(&c, SFTPD_FXP_REALPATH, "a/../../../b/./c");
    r = next_reply(&c);
    ck_assert_uint_eq(rd32(r.p + 4), 4);
    ck_assert(memcmp(r.p + 8, "/b/c", 4) == 0);

    /* SETSTAT: permissions, times, size. */
    snprintf(p, sizeof p, "%s/s", c.root);
    tu_write_file(p, "0123456789", 10);
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_SETSTAT, &m);
        sftpd_put_cstring(&b, "/s");
        sftpd_put_u32(&b, SFTPD_ATTR_SIZE | SFTPD_ATTR_PERMISSIONS | SFTPD_ATTR_ACMODTIME |
                              SFTPD_ATTR_UIDGID);
        sftpd_put_u64(&b, 4);
        sftpd_put_u32(&b, 0);
        sftpd_put_u32(&b, 0);
        sftpd_put_u32(&b, 0604);
        sftpd_put_u32(&b, 12345);
        sftpd_put_u32(&b, 12345);
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_OK);
    }
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 4);
    ck_assert_uint_eq(st.st_mode & 07777, 0604);
    ck_assert_int_eq(st.st_mtime, 12345);

    /* statvfs and limits. */
    id = send_path(&c, SFTPD_FXP_EXTENDED, "statvfs@openssh.com");
    (void)id;
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&b, "statvfs@openssh.com");
        sftpd_put_cstring(&b, "/");
        req_send(&c, &b, m);
    }
    /* The first request above was malformed (no path argument): BAD_MESSAGE. */
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    ck_assert_uint_eq(rd32(r.p), SFTPD_FX_BAD_MESSAGE);
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_EXTENDED_REPLY);
    ck_assert_uint_eq(r.len, 11 * 8);
    ck_assert_uint_gt(rd64(r.p), 0);
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&b, "limits@openssh.com");
        req_send(&c, &b, m);
    }
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_EXTENDED_REPLY);
    ck_assert_uint_eq(rd64(r.p), GW_MAX_SFTP_PACKET);
    ck_assert_uint_eq(rd64(r.p + 8), 261120);
    ck_assert_uint_eq(rd64(r.p + 16), 261120);
    ck_assert_uint_eq(rd64(r.p + 24), SFTPD_DEFAULT_MAX_HANDLES);

    /* check-file on a huge sparse file is refused at once, not hashed for minutes. */
    snprintf(p, sizeof p, "%s/sparse", c.root);
    ck_assert_int_eq(tu_sh("truncate -s 100G '%s'", p), 0);
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&b, "check-file-name");
        sftpd_put_cstring(&b, "/sparse");
        sftpd_put_cstring(&b, "sha256");
        sftpd_put_u64(&b, 0);
        sftpd_put_u64(&b, 0);
        sftpd_put_u32(&b, 0);
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_FAILURE);
    }

    /* Unknown extension and unknown type: OP_UNSUPPORTED. */
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_EXTENDED, &m);
        sftpd_put_cstring(&b, "copy-data");
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_OP_UNSUPPORTED);
        id = req_begin(&c, &b, 150, &m);
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_OP_UNSUPPORTED);
    }
    cli_free(&c);
}
END_TEST

START_TEST(test_confinement)
{
    struct cli c;
    char p[4096];
    uint8_t h[8];
    cli_new(&c);
    /* A symlink planted on the host that leads out of the root. */
    snprintf(p, sizeof p, "%s/out", c.root);
    ck_assert_int_eq(symlink("/etc", p), 0);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_open(&c, "/../../../etc/passwd", SFTPD_FXF_READ);
    expect_status(&c, id, SFTPD_FX_NO_SUCH_FILE);
    id = send_open(&c, "/out/passwd", SFTPD_FXF_READ);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    ck_assert_uint_ne(rd32(r.p), SFTPD_FX_OK);
    id = send_path(&c, SFTPD_FXP_OPENDIR, "/out");
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    /* Symlinks created through SFTP stay inside: "/" is the user's root. */
    id = send_path2(&c, SFTPD_FXP_SYMLINK, NULL, "/", "/rootlink");
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_path2(&c, SFTPD_FXP_SYMLINK, NULL, "../../../../etc/passwd", "/pw");
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    id = send_open(&c, "/rootlink/out/passwd", SFTPD_FXF_READ);
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    ck_assert_uint_ne(rd32(r.p), SFTPD_FX_OK);
    /* The link target as stored is relative and inside. */
    char tgt[4096];
    snprintf(p, sizeof p, "%s/rootlink", c.root);
    ssize_t n = readlink(p, tgt, sizeof tgt - 1);
    ck_assert_int_gt(n, 0);
    tgt[n] = '\0';
    ck_assert_msg(tgt[0] != '/', "stored target %s", tgt);
    id = send_path(&c, SFTPD_FXP_READLINK, "/rootlink");
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_NAME);
    /* Hidden partial names cannot be addressed. */
    id = send_open(&c, "/" VFS_PARTIAL_PREFIX "0123456789abcdef", SFTPD_FXF_READ);
    r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_STATUS);
    ck_assert_uint_ne(rd32(r.p), SFTPD_FX_OK);
    /* NUL inside a path. */
    {
        struct gw_buf b;
        size_t m;
        id = req_begin(&c, &b, SFTPD_FXP_STAT, &m);
        sftpd_put_string(&b, "/a\0b", 4);
        req_send(&c, &b, m);
        expect_status(&c, id, SFTPD_FX_FAILURE);
    }
    (void)h;
    cli_free(&c);
}
END_TEST

START_TEST(test_read_only)
{
    struct cli c;
    char p[4096];
    uint8_t h[8];
    cli_new(&c);
    snprintf(p, sizeof p, "%s/f", c.root);
    tu_write_file(p, "abc", 3);
    cli_start(&c, true, 0);
    init(&c);
    uint32_t id = send_open(&c, "/new", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    expect_status(&c, id, SFTPD_FX_PERMISSION_DENIED);
    id = send_path(&c, SFTPD_FXP_REMOVE, "/f");
    expect_status(&c, id, SFTPD_FX_PERMISSION_DENIED);
    id = send_path(&c, SFTPD_FXP_MKDIR, "/d");
    expect_status(&c, id, SFTPD_FX_PERMISSION_DENIED);
    id = send_path2(&c, SFTPD_FXP_EXTENDED, "posix-rename@openssh.com", "/f", "/g");
    expect_status(&c, id, SFTPD_FX_PERMISSION_DENIED);
    id = send_open(&c, "/f", SFTPD_FXF_READ);
    expect_handle(&c, id, h);
    id = send_read(&c, h, 0, 100);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_DATA);
    ck_assert_uint_eq(rd32(r.p), 3);
    ck_assert(host_exists(&c, "f") && !host_exists(&c, "new") && !host_exists(&c, "d"));
    cli_free(&c);
}
END_TEST

START_TEST(test_batching)
{
    /* With a small flush threshold the engine stops early and resumes where it left. */
    struct cli c;
    struct gw_buf b;
    cli_new(&c);
    cli_start(&c, false, 0);
    init(&c);
    gw_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10; i++) {
        size_t m;
        sftpd_pkt_begin(&b, SFTPD_FXP_REALPATH, (uint32_t)i, &m);
        sftpd_put_cstring(&b, "/x");
        sftpd_pkt_end(&b, m);
    }
    size_t pos = 0;
    int rounds = 0;
    while (pos < b.len) {
        ssize_t used = sftpd_server_input(c.srv, (const uint8_t *)b.data + pos, b.len - pos, &c.out,
                                          c.out.len + 1);
        ck_assert_int_gt(used, 0);
        pos += (size_t)used;
        rounds++;
    }
    ck_assert_int_eq(rounds, 10);
    for (uint32_t i = 0; i < 10; i++)
        ck_assert_uint_eq(next_reply(&c).id, i);
    /* A partial packet is left for later. */
    ck_assert_int_eq(sftpd_server_input(c.srv, (const uint8_t *)b.data, 7, &c.out, 1 << 20), 0);
    gw_buf_free(&b);
    cli_free(&c);
}
END_TEST

START_TEST(test_no_hash)
{
    /* An upload and a download passing whole through the engine are hashed for the
     * audit record, unless the configuration says hash_transfers = no. */
    for (int no_hash = 0; no_hash <= 1; no_hash++) {
        struct cli c;
        uint8_t h[8];
        cli_new(&c);
        c.no_hash = no_hash;
        cli_start(&c, false, 0);
        init(&c);
        uint32_t id = send_open(&c, "/h.txt", SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
        expect_handle(&c, id, h);
        id = send_write(&c, h, 0, "hello", 5);
        expect_status(&c, id, SFTPD_FX_OK);
        id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h, 8);
        expect_status(&c, id, SFTPD_FX_OK);
        ck_assert_int_eq(c.naudit, 1);
        ck_assert_str_eq(c.audit[0], "upload ok /h.txt bytes=5");
        ck_assert_int_eq(c.audit_sha[0], !no_hash);
        cli_free(&c);
    }
}
END_TEST

/* Uploads n bytes of a fixed pattern to path (new content) and closes; returns the
 * pattern's SHA-256 in hex and the handle (stale now) in h. */
static void upload_pattern(struct cli *c, const char *path, size_t n, char hex[65], uint8_t h[8])
{
    static unsigned char chunk[64 * 1024];
    unsigned char md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ck_assert(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
    uint32_t id = send_open(c, path, SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    expect_handle(c, id, h);
    for (size_t off = 0; off < n; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (unsigned char)((off + i) * 7 >> 3);
        ck_assert(EVP_DigestUpdate(ctx, chunk, sizeof chunk));
        id = send_write(c, h, off, chunk, sizeof chunk);
        expect_status(c, id, SFTPD_FX_OK);
    }
    ck_assert(EVP_DigestFinal_ex(ctx, md, NULL));
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    id = send_handle(c, SFTPD_FXP_CLOSE, NULL, h, 8);
    expect_status(c, id, SFTPD_FX_OK);
}

START_TEST(test_upload_settle)
{
    /* An upload large enough to be hashed behind the transfer is committed before its
     * CLOSE reply; its audit record, with the hash of the bytes uploaded, may follow,
     * but before the session's next request is handled (records stay in order, and
     * nothing the session does can change the file under the hash) and before the
     * session ends. */
    struct cli c;
    char want[65], p[4096];
    size_t n = 16u << 20, len;
    uint8_t h[8], h2[8];
    cli_new(&c);
    cli_start(&c, false, 0);
    init(&c);
    upload_pattern(&c, "/big.bin", n, want, h);
    ck_assert(host_exists(&c, "big.bin"));
    ck_assert_int_eq(count_partials(&c), 0);
    ck_assert_int_le(c.naudit, 1);
    ck_assert_uint_eq(sftpd_server_settling(c.srv), 1u - (unsigned)c.naudit);
    /* The next request waits for the record: first the upload, then the mkdir. */
    uint32_t id = send_path(&c, SFTPD_FXP_MKDIR, "/d");
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert_int_eq(c.naudit, 2);
    ck_assert_str_eq(c.audit[0], "upload ok /big.bin bytes=16777216");
    ck_assert_int_eq(c.audit_sha[0], 1);
    ck_assert_str_eq(c.audit[1], "mkdir ok /d bytes=-1");
    ck_assert_uint_eq(sftpd_server_settling(c.srv), 0);
    /* CLOSE was final: the handle string is stale. */
    id = send_write(&c, h, 0, "x", 1);
    expect_status(&c, id, SFTPD_FX_FAILURE);
    /* Writing into it in place, as a resume would, works on the committed file. */
    id = send_open(&c, "/big.bin", SFTPD_FXF_WRITE);
    expect_handle(&c, id, h2);
    id = send_write(&c, h2, 0, "X", 1);
    expect_status(&c, id, SFTPD_FX_OK);
    id = send_handle(&c, SFTPD_FXP_CLOSE, NULL, h2, 8);
    expect_status(&c, id, SFTPD_FX_OK);
    ck_assert_int_eq(c.naudit, 3);
    snprintf(p, sizeof p, "%s/big.bin", c.root);
    char *data = tu_read_file(p, &len);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(data[0], 'X');
    free(data);
    /* sftpd_server_settle(wait) writes the record with the hash of what was sent. */
    upload_pattern(&c, "/b2.bin", n, want, h);
    sftpd_server_settle(c.srv, true);
    ck_assert_uint_eq(sftpd_server_settling(c.srv), 0);
    ck_assert_int_eq(c.naudit, 4);
    ck_assert_str_eq(c.audit[3], "upload ok /b2.bin bytes=16777216");
    ck_assert_str_eq(c.last_sha, want);
    /* A change behind the session's back while the hash catches up costs the record
     * its hash rather than giving it a wrong one. */
    upload_pattern(&c, "/b5.bin", n, want, h);
    if (sftpd_server_settling(c.srv) == 1) {
        snprintf(p, sizeof p, "%s/b5.bin", c.root);
        int rc = tu_sh("printf Z | dd of='%s' bs=1 seek=5 conv=notrunc status=none && "
                       "touch -d '2001-01-01' '%s'",
                       p, p);
        ck_assert_int_eq(rc, 0);
        sftpd_server_settle(c.srv, true);
        ck_assert_str_eq(c.audit[4], "upload ok /b5.bin bytes=16777216");
        ck_assert_str_eq(c.last_sha, "");
    } else {
        ck_assert_str_eq(c.last_sha, want);
    }
    ck_assert_int_eq(c.naudit, 5);
    /* The end of the session writes what is left. */
    upload_pattern(&c, "/b3.bin", n, want, h);
    cli_stop(&c);
    ck_assert_int_eq(c.naudit, 6);
    ck_assert_str_eq(c.audit[5], "upload ok /b3.bin bytes=16777216");
    ck_assert_str_eq(c.last_sha, want);
    ck_assert_int_eq(count_partials(&c), 0);
    cli_free(&c);
}
END_TEST

START_TEST(test_short_read)
{
    /* A READ answered into a nearly full reply buffer gets the bytes that fit (clients
     * ask again for the rest), read in place. */
    struct cli c;
    uint8_t h[8];
    char p[4096];
    struct gw_buf small, req;
    size_t m;
    cli_new(&c);
    snprintf(p, sizeof p, "%s/f", c.root);
    tu_write_file(p, "0123456789abcdefghijklmnopqrstuvwxyz", 36);
    cli_start(&c, false, 0);
    init(&c);
    uint32_t id = send_open(&c, "/f", SFTPD_FXF_READ);
    expect_handle(&c, id, h);

    gw_buf_init(&small, 13 + 10);
    id = req_begin(&c, &req, SFTPD_FXP_READ, &m);
    sftpd_put_string(&req, h, 8);
    sftpd_put_u64(&req, 5);
    sftpd_put_u32(&req, 4096);
    ck_assert_int_eq(sftpd_pkt_end(&req, m), 0);
    ck_assert_int_eq(sftpd_server_input(c.srv, (const uint8_t *)req.data, req.len, &small, 1),
                     (ssize_t)req.len);
    ck_assert_uint_eq(small.len, 13 + 10);
    const uint8_t *u = (const uint8_t *)small.data;
    ck_assert_uint_eq(u[4], SFTPD_FXP_DATA);
    ck_assert_uint_eq(rd32(u + 5), id);
    ck_assert_uint_eq(rd32(u + 9), 10);
    ck_assert(memcmp(u + 13, "56789abcde", 10) == 0);
    gw_buf_free(&req);

    /* Full (the caller broke the flush_at contract): not even a status fits, the engine
     * says so and nothing half-written stays. */
    id = req_begin(&c, &req, SFTPD_FXP_READ, &m);
    sftpd_put_string(&req, h, 8);
    sftpd_put_u64(&req, 0);
    sftpd_put_u32(&req, 4);
    ck_assert_int_eq(sftpd_pkt_end(&req, m), 0);
    ck_assert_int_eq(sftpd_server_input(c.srv, (const uint8_t *)req.data, req.len, &small, 1000),
                     GW_ERR_LIMIT);
    ck_assert_uint_eq(small.len, 13 + 10);
    gw_buf_free(&req);
    gw_buf_free(&small);

    /* The session goes on with its normal buffer. */
    uint32_t r1 = send_read(&c, h, 30, 100);
    struct rep r = next_reply(&c);
    ck_assert_int_eq(r.type, SFTPD_FXP_DATA);
    ck_assert_uint_eq(r.id, r1);
    ck_assert_uint_eq(rd32(r.p), 6);
    ck_assert(memcmp(r.p + 4, "uvwxyz", 6) == 0);
    cli_free(&c);
}
END_TEST

Suite *sftp_server_suite(void)
{
    Suite *s = suite_create("sftp/server");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"init_required", test_init_required},
        {"upload_commit", test_upload_commit},
        {"upload_abort_resume", test_upload_abort_resume},
        {"upload_settle", test_upload_settle},
        {"download", test_download},
        {"readdir", test_readdir},
        {"handles", test_handles},
        {"operations", test_operations},
        {"confinement", test_confinement},
        {"read_only", test_read_only},
        {"batching", test_batching},
        {"short_read", test_short_read},
        {"no_hash", test_no_hash},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}
