/* FUZZ_SOURCES: sftp/packet.c gateway/buf.c gateway/err.c */
/* Fuzzes the SFTP v3 framing and request decoder the way the server uses them: split a
 * byte stream into packets and decode each; decoded strings must lie inside the packet,
 * and re-encoding an answer to every decoded request must succeed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "sftp/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const struct sftpd_str *s, const uint8_t *p, size_t n)
{
    if (s->len && (s->p < p || s->p + s->len > p + n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_buf out;
    size_t used = 0, plen;
    gw_buf_init(&out, 4u * GW_MAX_SFTP_PACKET);
    while (sftpd_frame(data + used, size - used, &plen) == 1) {
        const uint8_t *body = data + used + 4;
        struct sftpd_request q;
        int rc = sftpd_decode(body, plen - 4, &q);
        inside(&q.path, body, plen - 4);
        inside(&q.path2, body, plen - 4);
        inside(&q.handle, body, plen - 4);
        inside(&q.data, body, plen - 4);
        inside(&q.algs, body, plen - 4);
        if (rc == 0 && q.op <= SFTPD_OP_NONE)
            abort();
        if (q.has_id && sftpd_reply_status(&out, q.id, (uint32_t)(rc < 0), "x") != 0)
            abort();
        if (rc == 0 && q.path.len && sftpd_reply_name1(&out, q.id, "n", "l", &q.attrs) != 0)
            abort();
        gw_buf_reset(&out);
        used += plen;
    }
    gw_buf_free(&out);
    return 0;
}
