/* FUZZ_SOURCES: ftp/ftpcmd.c gateway/buf.c gateway/err.c */
/* Fuzzes the FTP command-line parser the way the session feeds it (at most
 * GW_MAX_FTP_LINE bytes at a time), then every argument parser and formatter on each
 * parsed argument. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ftp/ftpcmd.h"
#include "gateway/buf.h"
#include "gateway/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_arg(const struct ftpd_cmd *cmd)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    uint64_t u;
    int64_t t;
    uint32_t mode;
    size_t off;
    struct gw_buf b;
    struct vfs_stat st;
    const char *a = cmd->arg;
    size_t n = cmd->arg_len;

    (void)ftpd_parse_u64(a, n, &u);
    uint64_t r0, r1;
    /* RANG: accepted ranges are ordered, except the draft's "1 0" reset. */
    if (ftpd_parse_rang(a, n, &r0, &r1) == 0 && r1 < r0 && !(r0 == 1 && r1 == 0))
        __builtin_trap();
    (void)ftpd_parse_port(a, n, &ss, &sl);
    (void)ftpd_parse_eprt(a, n, &ss, &sl);
    if (ftpd_parse_time(a, n, &t) >= 0) {
        char out[FTPD_TIME_LEN + 1];
        ftpd_format_time(t, out);
    }
    (void)ftpd_parse_time_path(a, n, &t, &off);
    (void)ftpd_parse_chmod(a, n, &mode, &off);
    (void)ftpd_hash_lookup(a, n);
    unsigned facts = ftpd_parse_fact_names(a, n);
    off = ftpd_list_skip_options(a, n);
    if (off > n)
        __builtin_trap();

    memset(&st, 0, sizeof st);
    memcpy(&st.size, a, n < sizeof st.size ? n : sizeof st.size);
    memcpy(&st.mtime, a, n < sizeof st.mtime ? n : sizeof st.mtime);
    st.mode = (uint32_t)u;
    gw_buf_init(&b, 1 << 20);
    (void)ftpd_format_list(&b, &st, a + off, a, "ftp", "ftp", t);
    (void)ftpd_format_facts(&b, &st, facts, true, NULL, a);
    (void)ftpd_format_fact_names(&b, facts, true);
    (void)ftpd_quote_path(&b, a);
    gw_buf_free(&b);

    char conv[2 * GW_MAX_FTP_LINE + 1];
    bool cr = false;
    size_t k = ftpd_ascii_to_net(a, n, conv, &cr);
    if (k > 2 * n)
        __builtin_trap();
    cr = false;
    k = ftpd_ascii_from_net(a, n, conv, &cr);
    k += ftpd_ascii_from_net(NULL, 0, conv + k, &cr);
    if (k > n + 1)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ftpd_cmd cmd;
    struct ftpd_lineparser lp = {0};
    size_t off = 0, used;

    while (off < size) {
        size_t avail = size - off < GW_MAX_FTP_LINE ? size - off : GW_MAX_FTP_LINE;
        int rc = ftpd_cmd_parse(&lp, (const char *)data + off, avail, &cmd, &used);
        if (used > avail)
            __builtin_trap();
        if (rc == FTPD_CMD_OK) {
            if (cmd.arg_len >= GW_MAX_FTP_LINE || cmd.arg[cmd.arg_len] != '\0' ||
                memchr(cmd.arg, '\r', cmd.arg_len) || memchr(cmd.arg, '\0', cmd.arg_len))
                __builtin_trap();
            exercise_arg(&cmd);
        }
        if (used == 0)
            break; /* incomplete last line */
        off += used;
    }
    return 0;
}
