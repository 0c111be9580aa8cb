/* FUZZ_SOURCES: sftp/server.c sftp/packet.c sftp/longname.c gateway/vfs.c gateway/vfs_local.c gateway/path.c gateway/audit.c gateway/json.c gateway/log.c gateway/buf.c gateway/err.c */
/* FUZZ_PKGS: openssl zlib */
/* Fuzzes the SFTP request engine end to end: after a valid INIT, the input is fed as the
 * client's byte stream (in pieces, as a channel would deliver it) to a server on a real
 * VFS over a scratch directory, emptied before each run so runs stay independent and
 * fast (a sparse file left by one run would make another's check-file slow). Beyond
 * "no crash, no leak": every reply is a
 * well-formed packet within the size limit, answers never outnumber requests, and
 * nothing appears outside the scratch root. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/vfs.h"
#include "sftp/packet.h"
#include "sftp/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], base[64];
static unsigned long runs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

/* The scratch base holds only the root: nothing was created beside it. */
static void check_confined(void)
{
    DIR *d = opendir(base);
    struct dirent *e;
    if (!d)
        abort();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "root"))
            abort();
    closedir(d);
}

static void audit_sink(void *ctx, const struct audit_record *r)
{
    (void)ctx;
    if (!r->event || !r->status)
        abort();
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Replies are whole packets of a reply type, each within the limit. */
static size_t check_replies(const struct gw_buf *out)
{
    size_t pos = 0, n = 0;
    while (pos < out->len) {
        if (out->len - pos < 5)
            abort();
        uint32_t len = be32((const uint8_t *)out->data + pos);
        uint8_t type = (uint8_t)out->data[pos + 4];
        if (len == 0 || len > GW_MAX_SFTP_PACKET || len > out->len - pos - 4)
            abort();
        if (type != SFTPD_FXP_VERSION && (type < SFTPD_FXP_STATUS || type > SFTPD_FXP_ATTRS) &&
            type != SFTPD_FXP_EXTENDED_REPLY)
            abort();
        pos += 4 + (size_t)len;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t init[] = {0, 0, 0, 5, SFTPD_FXP_INIT, 0, 0, 0, 3};
    struct vfs *v = NULL;
    struct gw_buf out, in;

    if (!root[0]) {
        char tmpl[] = "/tmp/fuzz-sftp-server-XXXXXX";
        if (!mkdtemp(tmpl))
            abort();
        snprintf(base, sizeof base, "%s", tmpl);
        snprintf(root, sizeof root, "%s/root", tmpl);
        if (mkdir(root, 0755) != 0)
            abort();
    }
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    struct vfs_options vo = {.root = root, .owner = "fuzz"};
    if (vfs_open(&vo, &v) != 0)
        abort();
    struct sftpd_server_options so = {.vfs = v,
                                      .max_handles = 16,
                                      .owner = "fuzz",
                                      .max_hash_bytes = 1u << 20,
                                      .audit = audit_sink};
    struct sftpd_server *srv = sftpd_server_new(&so);
    if (!srv)
        abort();
    gw_buf_init(&out, 4u * GW_MAX_SFTP_PACKET);
    gw_buf_init(&in, 2u * GW_MAX_SFTP_PACKET + 8);
    if (gw_buf_append(&in, init, sizeof init) != 0)
        abort();

    /* The first byte picks the sizes of the pieces the rest is delivered in. */
    size_t step = size ? (size_t)(data[0] % 7) * 97 + 1 : 1;
    if (size) {
        data++;
        size--;
    }
    size_t fed = 0, packets = 0, replies = 0;
    for (;;) {
        size_t take = size - fed < step ? size - fed : step;
        if (take > in.max - in.len)
            take = in.max - in.len;
        if (take && gw_buf_append(&in, data + fed, take) != 0)
            abort();
        fed += take;
        ssize_t used = sftpd_server_input(srv, (const uint8_t *)in.data, in.len, &out,
                                          2u * GW_MAX_SFTP_PACKET);
        if (used < 0)
            break; /* the session would end here */
        for (size_t pos = 0; pos < (size_t)used; packets++)
            pos += 4 + be32((const uint8_t *)in.data + pos);
        gw_buf_consume(&in, (size_t)used);
        replies += check_replies(&out);
        gw_buf_reset(&out);
        if (fed == size && used == 0)
            break;
    }
    if (replies > packets)
        abort();
    if (++runs % 1024 == 0)
        check_confined();
    sftpd_server_free(srv);
    vfs_free(v);
    gw_buf_free(&out);
    gw_buf_free(&in);
    return 0;
}
