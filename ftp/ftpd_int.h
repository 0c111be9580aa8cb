/* Internals shared by the FTP server's source files: the per-session state and the
 * helpers the command handlers use. Only ftp/ftpd*.c include this.
 *   ftpd.c       session loop, replies, dispatch table, login and TLS commands
 *   ftpd_data.c  PASV/EPSV/PORT/EPRT, data connections, transfer loops, ABOR
 *   ftpd_fs.c    file commands: listings, RETR/STOR, SIZE/MDTM/MFMT, HASH, ... */
#ifndef FERRY_FTP_FTPD_INT_H
#define FERRY_FTP_FTPD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "ftp/ftpcmd.h"
#include "ftp/ftpd_enc.h"
#include "ftp/ftptls.h"
#include "gateway/buf.h"
#include "gateway/config.h"
#include "gateway/limits.h"
#include "gateway/session.h"
#include "gateway/vfs.h"

/* Built in the parent by init(), inherited by every session process. */
struct ftpd_state {
    const struct gw_config *cfg;
    SSL_CTX *tls; /* NULL when no certificate could be loaded: no AUTH TLS */
};

/* One audit record for a transfer, captured from its vfs handle. */
struct ftpd_xfer {
    const char *event;
    int64_t started, ended; /* gw_now_ms(); ended 0: not yet */
    uint64_t bytes, offset, size;
    bool have_sha;
    char sha[65];
};

struct ftpd_sess {
    struct gw_session *s;
    const struct gw_config *cfg;
    struct ftpd_state *st;
    struct ftpd_conn ctl;
    /* Control input: at most one line limit buffered; parsed by ftpd_cmd_parse(). */
    struct ftpd_lineparser lp;
    char in[GW_MAX_FTP_LINE];
    size_t in_len;
    struct ftpd_cmd cmd;  /* the command being executed */
    struct ftpd_cmd peek; /* a command read during a transfer (ABOR) */
    bool ctl_hold;        /* a non-ABOR command waits until the transfer ends */
    bool ctl_gone;        /* the control connection closed or failed */
    struct gw_buf out;    /* reply being built */
    unsigned bad_lines;   /* consecutive unparsable lines */
    /* Login. */
    char user[GW_MAX_USER_NAME + 1];
    bool have_user, user_anon;
    bool reinitialized; /* a REIN ended a login: no new login on this connection */
    unsigned login_fails;
    int64_t login_deadline; /* gw_now_ms() by which login must be done */
    struct vfs *vfs;
    char cwd[GW_MAX_PATH];
    /* Transfer parameters. */
    bool ascii;
    uint64_t rest;
    bool rang_set; /* RANG start end (inclusive) for the next HASH */
    uint64_t rang_start, rang_end;
    bool epsv_all;
    int pasv_fd;
    bool port_set;
    struct sockaddr_storage port_addr;
    socklen_t port_len;
    bool prot_p;
    bool abort_req; /* ABOR arrived during the current transfer */
    char rnfr[GW_MAX_PATH];
    bool have_rnfr;
    /* Names. */
    struct ftpd_enc *enc; /* legacy client charset; used unless utf8 */
    bool utf8;            /* OPTS UTF8 ON */
    unsigned facts;       /* OPTS MLST */
    enum ftpd_hash_algo hash;
    bool quit;
    /* A finished transfer whose SHA-256 may still be computed behind it: the client
     * already has its 226 (an upload is committed by then); the record is written and
     * the file closed by ftpd_settle() before the next command runs, so records stay in
     * order. */
    struct vfs_file *settle_f;
    struct ftpd_xfer settle_x;
    int settle_rc;
    char settle_path[GW_MAX_PATH];
    char *io;                /* transfer buffer (2 * GW_IO_CHUNK + 1), only during transfers */
    char path[GW_MAX_PATH];  /* scratch: resolved argument */
    char path2[GW_MAX_PATH]; /* scratch: second path */
};

/* Replies. ftpd_reply sends one line "CODE text\r\n"; for multi-line replies append to
 * fs->out and call ftpd_flush. Errors of the control connection set fs->ctl_gone. */
int ftpd_reply(struct ftpd_sess *fs, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ftpd_flush(struct ftpd_sess *fs);
/* Replies for a GW_ERR_* of a file operation (550 not found, 452 no space, ...). */
void ftpd_reply_err(struct ftpd_sess *fs, int err);

/* Resolves a client path argument (converted from the client charset first) against
 * the cwd into out (GW_MAX_PATH bytes). 0 or GW_ERR_*. */
int ftpd_resolve(struct ftpd_sess *fs, const char *arg, size_t n, char *out);
/* Like ftpd_resolve, replying 553 on failure; returns true on success. */
bool ftpd_resolve_arg(struct ftpd_sess *fs, const char *arg, size_t n, char *out);
/* Appends a name in the client's charset. */
int ftpd_put_name(struct ftpd_sess *fs, struct gw_buf *b, const char *name);
/* True when the session may not write (anonymous, read-only user or view). */
bool ftpd_read_only(const struct ftpd_sess *fs);
/* Milliseconds of a timeout config value in seconds, or the default when <= 0. */
int ftpd_timeout_s(int configured, int dflt);
/* Sends an audit record for a file operation (event, path, optional path2, status). */
void ftpd_audit_op(struct ftpd_sess *fs, const char *event, const char *path, const char *path2,
                   int err);

/* Data connections (ftpd_data.c). */
int ftpd_cmd_pasv(struct ftpd_sess *fs);
int ftpd_cmd_epsv(struct ftpd_sess *fs);
int ftpd_cmd_port(struct ftpd_sess *fs);
int ftpd_cmd_eprt(struct ftpd_sess *fs);
int ftpd_cmd_abor(struct ftpd_sess *fs);
/* Closes any prepared data channel (passive listener, PORT address). */
void ftpd_data_reset(struct ftpd_sess *fs);
/* Establishes the data connection prepared by PASV/EPSV/PORT/EPRT, sends the 150
 * reply (text given), then does TLS when PROT P (upload: the client will only send on
 * it). On failure the reply (425/522) has been sent. 0 or GW_ERR_*. */
int ftpd_data_open(struct ftpd_sess *fs, struct ftpd_conn *dc, const char *mark, bool upload);
/* Transfer loops. They watch the control connection for ABOR (fs->abort_req) and for
 * its loss (fs->ctl_gone), returning GW_ERR_AGAIN in both cases. */
int ftpd_data_send_file(struct ftpd_sess *fs, struct ftpd_conn *dc, struct vfs_file *f);
int ftpd_data_send(struct ftpd_sess *fs, struct ftpd_conn *dc, const void *buf, size_t n);
/* Receives into f until the client closes the data connection. *complete is true when
 * it closed cleanly (TLS: close_notify) and the client is still there. */
int ftpd_data_recv_file(struct ftpd_sess *fs, struct ftpd_conn *dc, struct vfs_file *f,
                        bool *complete);
/* Ends a transfer: closes dc and sends the final reply for result (0: 226; ABOR: 426 and
 * 226; otherwise 426/451/452). */
void ftpd_data_finish(struct ftpd_sess *fs, struct ftpd_conn *dc, int result);
/* Checks the control connection during a transfer; true when the transfer must stop. */
bool ftpd_ctl_interrupt(struct ftpd_sess *fs);

/* File commands (ftpd_fs.c). */
int ftpd_cmd_cwd(struct ftpd_sess *fs);
int ftpd_cmd_cdup(struct ftpd_sess *fs);
int ftpd_cmd_pwd(struct ftpd_sess *fs);
int ftpd_cmd_mkd(struct ftpd_sess *fs);
int ftpd_cmd_rmd(struct ftpd_sess *fs);
int ftpd_cmd_dele(struct ftpd_sess *fs);
int ftpd_cmd_rnfr(struct ftpd_sess *fs);
int ftpd_cmd_rnto(struct ftpd_sess *fs);
int ftpd_cmd_size(struct ftpd_sess *fs);
int ftpd_cmd_mdtm(struct ftpd_sess *fs);
int ftpd_cmd_mfmt(struct ftpd_sess *fs);
int ftpd_cmd_hash(struct ftpd_sess *fs);
int ftpd_cmd_xhash(struct ftpd_sess *fs);
int ftpd_cmd_rang(struct ftpd_sess *fs);
int ftpd_cmd_list(struct ftpd_sess *fs);
int ftpd_cmd_nlst(struct ftpd_sess *fs);
int ftpd_cmd_mlsd(struct ftpd_sess *fs);
int ftpd_cmd_mlst(struct ftpd_sess *fs);
int ftpd_cmd_retr(struct ftpd_sess *fs);
int ftpd_cmd_stor(struct ftpd_sess *fs);
int ftpd_cmd_stou(struct ftpd_sess *fs);
int ftpd_cmd_appe(struct ftpd_sess *fs);
int ftpd_cmd_rest(struct ftpd_sess *fs);
/* Writes the audit record of a transfer left to settle (waiting for its hash). */
void ftpd_settle(struct ftpd_sess *fs);
/* STAT with a path argument: a listing over the control connection. */
int ftpd_stat_path(struct ftpd_sess *fs, const char *arg, size_t n);
/* SITE CHMOD argument. */
int ftpd_site_chmod(struct ftpd_sess *fs, const char *arg, size_t n);

#endif
