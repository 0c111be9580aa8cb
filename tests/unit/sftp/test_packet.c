/* Unit tests for sftp/packet.c: SFTP v3 framing, request decoding, reply encoding, and
 * the replay of fuzz regressions (tests/data/fuzz-regress/sftp_packet/). */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "sftp/packet.h"

/* Builds a request packet: begin, fields, end. */
static void begin(struct gw_buf *b, uint8_t type, uint32_t id, size_t *mark)
{
    gw_buf_init(b, 1u << 20);
    ck_assert_int_eq(sftpd_pkt_begin(b, type, id, mark), 0);
}

/* Decodes a whole packet built in b (skipping its length). */
static int decode(const struct gw_buf *b, struct sftpd_request *q)
{
    size_t plen = 0;
    ck_assert_int_eq(sftpd_frame((const uint8_t *)b->data, b->len, &plen), 1);
    ck_assert_uint_eq(plen, b->len);
    return sftpd_decode((const uint8_t *)b->data + 4, b->len - 4, q);
}

static bool str_eq(struct sftpd_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static uint32_t rd32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

START_TEST(test_frame)
{
    size_t plen = 99;
    const uint8_t need[] = {0, 0, 0};
    ck_assert_int_eq(sftpd_frame(need, sizeof need, &plen), 0);
    const uint8_t partial[] = {0, 0, 0, 5, 1, 0};
    ck_assert_int_eq(sftpd_frame(partial, sizeof partial, &plen), 0);
    const uint8_t whole[] = {0, 0, 0, 5, 1, 0, 0, 0, 3, 0xff};
    ck_assert_int_eq(sftpd_frame(whole, sizeof whole, &plen), 1);
    ck_assert_uint_eq(plen, 9);
    const uint8_t zero[] = {0, 0, 0, 0};
    ck_assert_int_eq(sftpd_frame(zero, sizeof zero, &plen), GW_ERR_PROTO);
    /* The cap itself is allowed, one byte more is not; and huge lengths do not wrap. */
    const uint8_t cap[] = {0, 4, 0, 0};
    ck_assert_int_eq(sftpd_frame(cap, sizeof cap, &plen), 0);
    const uint8_t over[] = {0, 4, 0, 1};
    ck_assert_int_eq(sftpd_frame(over, sizeof over, &plen), GW_ERR_LIMIT);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1};
    ck_assert_int_eq(sftpd_frame(huge, sizeof huge, &plen), GW_ERR_LIMIT);
}
END_TEST

START_TEST(test_decode)
{
    struct gw_buf b;
    struct sftpd_request q;
    size_t m;

    /* INIT, with extension pairs a v3 client may add. */
    gw_buf_init(&b, 1024);
    ck_assert_int_eq(sftpd_put_u32(&b, 0), 0);
    sftpd_put_u8(&b, SFTPD_FXP_INIT);
    sftpd_put_u32(&b, 3);
    sftpd_put_cstring(&b, "x@example");
    sftpd_put_cstring(&b, "1");
    ((uint8_t *)b.data)[3] = (uint8_t)(b.len - 4);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_INIT);
    ck_assert_uint_eq(q.version, 3);
    ck_assert(!q.has_id);
    gw_buf_free(&b);

    /* OPEN with every attribute, including extended pairs (skipped). */
    begin(&b, SFTPD_FXP_OPEN, 7, &m);
    sftpd_put_cstring(&b, "/a/b.txt");
    sftpd_put_u32(&b, SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    sftpd_put_u32(&b, SFTPD_ATTR_SIZE | SFTPD_ATTR_UIDGID | SFTPD_ATTR_PERMISSIONS |
                          SFTPD_ATTR_ACMODTIME | SFTPD_ATTR_EXTENDED);
    sftpd_put_u64(&b, 5ull << 32);
    sftpd_put_u32(&b, 1000);
    sftpd_put_u32(&b, 1001);
    sftpd_put_u32(&b, 0100640);
    sftpd_put_u32(&b, 11);
    sftpd_put_u32(&b, 22);
    sftpd_put_u32(&b, 1);
    sftpd_put_cstring(&b, "k");
    sftpd_put_cstring(&b, "v");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_OPEN);
    ck_assert(q.has_id);
    ck_assert_uint_eq(q.id, 7);
    ck_assert(str_eq(q.path, "/a/b.txt"));
    ck_assert_uint_eq(q.pflags, SFTPD_FXF_WRITE | SFTPD_FXF_CREAT | SFTPD_FXF_TRUNC);
    ck_assert_uint_eq(q.attrs.flags, SFTPD_ATTR_SIZE | SFTPD_ATTR_UIDGID | SFTPD_ATTR_PERMISSIONS |
                                         SFTPD_ATTR_ACMODTIME);
    ck_assert_uint_eq(q.attrs.size, 5ull << 32);
    ck_assert_uint_eq(q.attrs.uid, 1000);
    ck_assert_uint_eq(q.attrs.gid, 1001);
    ck_assert_uint_eq(q.attrs.perm, 0100640);
    ck_assert_uint_eq(q.attrs.atime, 11);
    ck_assert_uint_eq(q.attrs.mtime, 22);
    gw_buf_free(&b);

    /* READ and WRITE with offsets above 4 GiB. */
    begin(&b, SFTPD_FXP_READ, 8, &m);
    sftpd_put_string(&b, "\0\1\2\3\4\5\6\7", 8);
    sftpd_put_u64(&b, 0x123456789ull);
    sftpd_put_u32(&b, 261120);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_READ);
    ck_assert_uint_eq(q.handle.len, 8);
    ck_assert_uint_eq(q.offset, 0x123456789ull);
    ck_assert_uint_eq(q.len, 261120);
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_WRITE, 9, &m);
    sftpd_put_string(&b, "HANDLE01", 8);
    sftpd_put_u64(&b, 1ull << 33);
    sftpd_put_string(&b, "data\0more", 9);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_WRITE);
    ck_assert_uint_eq(q.offset, 1ull << 33);
    ck_assert_uint_eq(q.data.len, 9);
    ck_assert(memcmp(q.data.p, "data\0more", 9) == 0);
    gw_buf_free(&b);

    /* Two-path requests. */
    begin(&b, SFTPD_FXP_SYMLINK, 10, &m);
    sftpd_put_cstring(&b, "target");
    sftpd_put_cstring(&b, "/link");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_SYMLINK);
    ck_assert(str_eq(q.path, "target"));
    ck_assert(str_eq(q.path2, "/link"));
    gw_buf_free(&b);

    /* One-path requests map to their ops. */
    const struct {
        uint8_t type;
        enum sftpd_op op;
    } one[] = {{SFTPD_FXP_LSTAT, SFTPD_OP_LSTAT},      {SFTPD_FXP_STAT, SFTPD_OP_STAT},
               {SFTPD_FXP_OPENDIR, SFTPD_OP_OPENDIR},  {SFTPD_FXP_REMOVE, SFTPD_OP_REMOVE},
               {SFTPD_FXP_RMDIR, SFTPD_OP_RMDIR},      {SFTPD_FXP_REALPATH, SFTPD_OP_REALPATH},
               {SFTPD_FXP_READLINK, SFTPD_OP_READLINK}};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        begin(&b, one[i].type, (uint32_t)i, &m);
        sftpd_put_cstring(&b, "p");
        sftpd_pkt_end(&b, m);
        ck_assert_int_eq(decode(&b, &q), 0);
        ck_assert_int_eq(q.op, one[i].op);
        ck_assert(str_eq(q.path, "p"));
        gw_buf_free(&b);
    }
}
END_TEST

START_TEST(test_decode_extended)
{
    struct gw_buf b;
    struct sftpd_request q;
    size_t m;

    begin(&b, SFTPD_FXP_EXTENDED, 1, &m);
    sftpd_put_cstring(&b, "posix-rename@openssh.com");
    sftpd_put_cstring(&b, "/a");
    sftpd_put_cstring(&b, "/b");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_POSIX_RENAME);
    ck_assert(str_eq(q.path2, "/b"));
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_EXTENDED, 2, &m);
    sftpd_put_cstring(&b, "hardlink@openssh.com");
    sftpd_put_cstring(&b, "/a");
    sftpd_put_cstring(&b, "/b");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_HARDLINK);
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_EXTENDED, 3, &m);
    sftpd_put_cstring(&b, "limits@openssh.com");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_LIMITS);
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_EXTENDED, 4, &m);
    sftpd_put_cstring(&b, "check-file-handle");
    sftpd_put_string(&b, "HANDLE01", 8);
    sftpd_put_cstring(&b, "md5,sha256");
    sftpd_put_u64(&b, 10);
    sftpd_put_u64(&b, 0);
    sftpd_put_u32(&b, 4096);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_CHECK_FILE_HANDLE);
    ck_assert(str_eq(q.algs, "md5,sha256"));
    ck_assert_uint_eq(q.offset, 10);
    ck_assert_uint_eq(q.len, 4096);
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_EXTENDED, 5, &m);
    sftpd_put_cstring(&b, "check-file-name");
    sftpd_put_cstring(&b, "/f");
    sftpd_put_cstring(&b, "sha256");
    sftpd_put_u64(&b, 0);
    sftpd_put_u64(&b, 0);
    sftpd_put_u32(&b, 0);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_CHECK_FILE_NAME);
    ck_assert(str_eq(q.path, "/f"));
    gw_buf_free(&b);

    /* paramiko's spelling of check-file-handle. */
    begin(&b, SFTPD_FXP_EXTENDED, 5, &m);
    sftpd_put_cstring(&b, "check-file");
    sftpd_put_string(&b, "HANDLE01", 8);
    sftpd_put_cstring(&b, "sha256");
    sftpd_put_u64(&b, 0);
    sftpd_put_u64(&b, 0);
    sftpd_put_u32(&b, 0);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_int_eq(q.op, SFTPD_OP_CHECK_FILE_HANDLE);
    ck_assert_uint_eq(q.handle.len, 8);
    gw_buf_free(&b);

    const char *handle_exts[] = {"fsync@openssh.com", "fstatvfs@openssh.com"};
    const enum sftpd_op handle_ops[] = {SFTPD_OP_FSYNC, SFTPD_OP_FSTATVFS};
    for (int i = 0; i < 2; i++) {
        begin(&b, SFTPD_FXP_EXTENDED, 6, &m);
        sftpd_put_cstring(&b, handle_exts[i]);
        sftpd_put_string(&b, "HANDLE01", 8);
        sftpd_pkt_end(&b, m);
        ck_assert_int_eq(decode(&b, &q), 0);
        ck_assert_int_eq(q.op, handle_ops[i]);
        gw_buf_free(&b);
    }

    /* Unknown extension: unsupported, but answerable. */
    begin(&b, SFTPD_FXP_EXTENDED, 77, &m);
    sftpd_put_cstring(&b, "copy-data");
    sftpd_put_cstring(&b, "whatever");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_NOTSUP);
    ck_assert(q.has_id);
    ck_assert_uint_eq(q.id, 77);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_decode_malformed)
{
    struct gw_buf b;
    struct sftpd_request q;
    size_t m;

    /* Unknown type with an id. */
    begin(&b, 99, 1234, &m);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_NOTSUP);
    ck_assert(q.has_id);
    ck_assert_uint_eq(q.id, 1234);
    gw_buf_free(&b);

    /* Too short for an id. */
    const uint8_t tiny[] = {SFTPD_FXP_OPEN, 0, 0};
    ck_assert_int_eq(sftpd_decode(tiny, sizeof tiny, &q), GW_ERR_PROTO);
    ck_assert(!q.has_id);
    ck_assert_int_eq(sftpd_decode(tiny, 0, &q), GW_ERR_PROTO);

    /* A string longer than the packet. */
    begin(&b, SFTPD_FXP_STAT, 5, &m);
    sftpd_put_u32(&b, 1000);
    sftpd_put_cstring(&b, "abc");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_PROTO);
    ck_assert(q.has_id);
    ck_assert_uint_eq(q.id, 5);
    gw_buf_free(&b);

    /* Trailing bytes are ignored (pkg/sftp pads short WRITEs; OpenSSH accepts them). */
    begin(&b, SFTPD_FXP_WRITE, 6, &m);
    sftpd_put_string(&b, "HANDLE01", 8);
    sftpd_put_u64(&b, 0);
    sftpd_put_string(&b, "abc", 3);
    sftpd_put_string(&b, "padding", 7);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), 0);
    ck_assert_uint_eq(q.data.len, 3);
    gw_buf_free(&b);

    /* Truncated attributes; and too many extended attribute pairs. */
    begin(&b, SFTPD_FXP_SETSTAT, 7, &m);
    sftpd_put_cstring(&b, "/x");
    sftpd_put_u32(&b, SFTPD_ATTR_SIZE);
    sftpd_put_u32(&b, 1);
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_PROTO);
    gw_buf_free(&b);

    begin(&b, SFTPD_FXP_SETSTAT, 8, &m);
    sftpd_put_cstring(&b, "/x");
    sftpd_put_u32(&b, SFTPD_ATTR_EXTENDED);
    sftpd_put_u32(&b, SFTPD_MAX_ATTR_EXTENDED + 1);
    for (int i = 0; i <= SFTPD_MAX_ATTR_EXTENDED; i++) {
        sftpd_put_cstring(&b, "a");
        sftpd_put_cstring(&b, "b");
    }
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_PROTO);
    gw_buf_free(&b);

    /* A known extension with missing arguments. */
    begin(&b, SFTPD_FXP_EXTENDED, 9, &m);
    sftpd_put_cstring(&b, "statvfs@openssh.com");
    sftpd_pkt_end(&b, m);
    ck_assert_int_eq(decode(&b, &q), GW_ERR_PROTO);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_replies)
{
    struct gw_buf b;
    struct sftpd_attrs a = {0};
    gw_buf_init(&b, 1u << 20);

    ck_assert_int_eq(sftpd_reply_status(&b, 0x01020304, SFTPD_FX_NO_SUCH_FILE, NULL), 0);
    static const char want[] = "\0\0\0\x1f\x65\x01\x02\x03\x04\0\0\0\x02"
                               "\0\0\0\x0cNo such file\0\0\0\x02"
                               "en";
    ck_assert_uint_eq(b.len, sizeof want - 1);
    ck_assert(memcmp(b.data, want, b.len) == 0);
    gw_buf_reset(&b);

    ck_assert_int_eq(sftpd_reply_version(&b, sftpd_extensions, sftpd_nextensions), 0);
    ck_assert_uint_eq(rd32(b.data), b.len - 4);
    ck_assert_int_eq((unsigned char)b.data[4], SFTPD_FXP_VERSION);
    ck_assert_uint_eq(rd32(b.data + 5), 3);
    ck_assert_ptr_nonnull(memmem(b.data, b.len, "limits@openssh.com", 18));
    ck_assert_ptr_nonnull(memmem(b.data, b.len, "posix-rename@openssh.com", 24));
    gw_buf_reset(&b);

    a.flags = SFTPD_ATTR_SIZE | SFTPD_ATTR_PERMISSIONS;
    a.size = 5ull << 32;
    a.perm = 0100644;
    ck_assert_int_eq(sftpd_reply_attrs(&b, 3, &a), 0);
    ck_assert_uint_eq(b.len, 4 + 1 + 4 + 4 + 8 + 4);
    ck_assert_uint_eq(rd32(b.data + 9), a.flags);
    ck_assert_uint_eq(rd32(b.data + 13), 5);
    ck_assert_uint_eq(rd32(b.data + 17), 0);
    gw_buf_reset(&b);

    ck_assert_int_eq(sftpd_reply_data(&b, 4, "xyz", 3), 0);
    ck_assert_uint_eq(b.len, 4 + 1 + 4 + 4 + 3);
    ck_assert(memcmp(b.data + 13, "xyz", 3) == 0);
    gw_buf_reset(&b);

    ck_assert_int_eq(sftpd_reply_handle(&b, 5, "HANDLE01", 8), 0);
    ck_assert_uint_eq(rd32(b.data + 9), 8);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_name_batch)
{
    struct gw_buf b;
    struct sftpd_attrs a = {0};
    size_t mark;
    gw_buf_init(&b, 1u << 20);
    ck_assert_int_eq(sftpd_pkt_begin(&b, 1, 0, &mark), 0); /* something before */
    sftpd_pkt_abort(&b, mark);
    ck_assert_uint_eq(b.len, 0);

    ck_assert_int_eq(sftpd_reply_status(&b, 1, 0, "ok"), 0);
    size_t before = b.len;
    ck_assert_int_eq(sftpd_name_begin(&b, 9, &mark), 0);
    ck_assert_uint_eq(mark, before);
    ck_assert_int_eq(sftpd_name_add(&b, "a", 1, "-rw a", &a), 0);
    ck_assert_int_eq(sftpd_name_add(&b, "bb", 2, "-rw bb", &a), 0);
    ck_assert_int_eq(sftpd_name_end(&b, mark, 2), 0);
    ck_assert_uint_eq(rd32(b.data + mark), b.len - mark - 4);
    ck_assert_int_eq((unsigned char)b.data[mark + 4], SFTPD_FXP_NAME);
    ck_assert_uint_eq(rd32(b.data + mark + 5), 9);
    ck_assert_uint_eq(rd32(b.data + mark + 9), 2);
    ck_assert_uint_eq(rd32(b.data + mark + 13), 1);
    ck_assert_int_eq(b.data[mark + 17], 'a');
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_limits)
{
    /* A reply that does not fit leaves the buffer exactly as it was. */
    struct gw_buf b;
    struct sftpd_attrs a = {0};
    size_t mark;
    gw_buf_init(&b, 40);
    ck_assert_int_eq(sftpd_reply_status(&b, 1, 0, NULL), 0);
    size_t len = b.len;
    ck_assert_int_eq(sftpd_reply_status(&b, 2, 4, "a long message that will not fit"),
                     GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, len);
    ck_assert_int_eq(sftpd_reply_data(&b, 2, "0123456789", 10), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, len);
    gw_buf_reset(&b);
    ck_assert_int_eq(sftpd_name_begin(&b, 3, &mark), 0);
    ck_assert_int_eq(sftpd_name_add(&b, "a", 1, "a", &a), 0);
    size_t one = b.len;
    ck_assert_int_eq(sftpd_name_add(&b, "bbbbbbbbbbbb", 12, "bbbbbbbbbbbb", &a), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, one);
    ck_assert_int_eq(sftpd_name_end(&b, mark, 1), 0);
    gw_buf_free(&b);

    /* Replies are held to the packet limit too. */
    char *big = calloc(1, GW_MAX_SFTP_PACKET);
    ck_assert_ptr_nonnull(big);
    gw_buf_init(&b, 2u * GW_MAX_SFTP_PACKET);
    ck_assert_int_eq(sftpd_reply_data(&b, 1, big, GW_MAX_SFTP_PACKET), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(sftpd_reply_data(&b, 1, big, SFTPD_MAX_RW), 0);
    gw_buf_free(&b);
    free(big);
    ck_assert_str_eq(sftpd_status_text(SFTPD_FX_OP_UNSUPPORTED), "Operation unsupported");
    ck_assert_str_eq(sftpd_status_text(1000), "Unknown error");
}
END_TEST

/* In-place building: room without changing contents, commit, and a DATA reply whose
 * payload was written where sftpd_data_begin pointed (a READ's pread) equals the one
 * sftpd_reply_data builds by copying. */
START_TEST(test_in_place)
{
    struct gw_buf b, ref;
    uint8_t *dst;
    size_t mark;
    gw_buf_init(&b, 1024);
    sftpd_buf_commit(&b, 0); /* nothing read into a buffer never allocated */
    ck_assert_uint_eq(b.len, 0);
    /* Room on an empty buffer allocates without appending. */
    ck_assert_int_eq(sftpd_buf_room(&b, 100), 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_ge(b.cap, 100);
    ck_assert_str_eq(gw_buf_str(&b), "");
    memcpy(b.data, "abc", 3);
    sftpd_buf_commit(&b, 3);
    ck_assert_str_eq(gw_buf_str(&b), "abc");
    /* Growing keeps what is there; the bound is the buffer's maximum. */
    ck_assert_int_eq(sftpd_buf_room(&b, 1021), 0);
    ck_assert_str_eq(gw_buf_str(&b), "abc");
    ck_assert_int_eq(sftpd_buf_room(&b, 1022), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, 3);
    gw_buf_reset(&b);

    /* A DATA reply built in place, shorter than reserved. */
    ck_assert_int_eq(sftpd_data_begin(&b, 77, 500, &dst, &mark), 0);
    ck_assert_uint_eq(mark, 0);
    ck_assert_ptr_eq(dst, (uint8_t *)b.data + 13);
    memcpy(dst, "payload", 7);
    ck_assert_int_eq(sftpd_data_end(&b, mark, 7), 0);
    gw_buf_init(&ref, 1024);
    ck_assert_int_eq(sftpd_reply_data(&ref, 77, "payload", 7), 0);
    ck_assert_uint_eq(b.len, ref.len);
    ck_assert_mem_eq(b.data, ref.data, ref.len);
    /* After another packet: a second one appends; an aborted one leaves no trace. */
    ck_assert_int_eq(sftpd_data_begin(&b, 78, 100, &dst, &mark), 0);
    ck_assert_uint_eq(mark, ref.len);
    sftpd_pkt_abort(&b, mark);
    ck_assert_uint_eq(b.len, ref.len);
    /* No room for the payload: refused, buffer unchanged. */
    ck_assert_int_eq(sftpd_data_begin(&b, 79, 1024, &dst, &mark), GW_ERR_LIMIT);
    ck_assert_uint_eq(b.len, ref.len);
    ck_assert_mem_eq(b.data, ref.data, ref.len);
    /* Ending anything but a freshly begun DATA packet is refused. */
    ck_assert_int_eq(sftpd_data_begin(&b, 80, 10, &dst, &mark), 0);
    ck_assert_int_eq(sftpd_put_u8(&b, 1), 0);
    ck_assert_int_eq(sftpd_data_end(&b, mark, 1), GW_ERR_INVAL);
    ck_assert_uint_eq(b.len, ref.len);
    gw_buf_free(&b);
    gw_buf_free(&ref);
}
END_TEST

/* Every saved fuzz finding decodes without crashing (ASan/UBSan watch). */
START_TEST(test_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/sftp_packet");
    char path[4096];
    DIR *d = opendir(dir);
    if (!d)
        return; /* none saved */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *data = tu_read_file(path, &len);
        struct sftpd_request q;
        size_t plen;
        if (sftpd_frame((const uint8_t *)data, len, &plen) == 1)
            (void)sftpd_decode((const uint8_t *)data + 4, plen - 4, &q);
        (void)sftpd_decode((const uint8_t *)data, len, &q);
        free(data);
    }
    closedir(d);
}
END_TEST

Suite *sftp_packet_suite(void)
{
    Suite *s = suite_create("sftp/packet");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"frame", test_frame},
        {"decode", test_decode},
        {"decode_extended", test_decode_extended},
        {"decode_malformed", test_decode_malformed},
        {"replies", test_replies},
        {"name_batch", test_name_batch},
        {"limits", test_limits},
        {"in_place", test_in_place},
        {"fuzz_regressions", test_fuzz_regressions},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}
