/* The FTP front end: session loop, replies, the command table with its central login,
 * argument and read-only checks, and the login, TLS and protocol-state commands. File
 * commands live in ftpd_fs.c, data connections in ftpd_data.c. */
#include "ftp/ftpd.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ftp/ftpd_int.h"
#include "gateway/err.h"
#include "gateway/log.h"
#include "gateway/path.h"

/* Consecutive unparsable lines (binary garbage) before the session is closed. */
#define FTPD_MAX_BAD_LINES 32
/* How long a closing session keeps reading so that its last reply arrives intact. */
#define FTPD_LINGER_MS 1000
/* How often a waiting session looks at gw_session_stopping(). */
#define FTPD_POLL_SLICE_MS 1000
/* How often it looks whether a settling transfer's hash is done (ftpd_settle). */
#define FTPD_SETTLE_SLICE_MS 10

/* ---- replies ---------------------------------------------------------------------- */

int ftpd_flush(struct ftpd_sess *fs)
{
    int rc = 0;
    if (fs->out.len > 0 && !fs->ctl_gone) {
        rc = ftpd_conn_write(&fs->ctl, fs->out.data, fs->out.len);
        if (rc < 0)
            fs->ctl_gone = true;
    }
    gw_buf_reset(&fs->out);
    return rc;
}

int ftpd_reply(struct ftpd_sess *fs, int code, const char *fmt, ...)
{
    va_list ap;
    int rc = gw_buf_printf(&fs->out, "%03d ", code);
    va_start(ap, fmt);
    if (rc == 0)
        rc = gw_buf_vprintf(&fs->out, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "\r\n");
    if (rc < 0) {
        gw_buf_reset(&fs->out);
        return rc;
    }
    return ftpd_flush(fs);
}

void ftpd_reply_err(struct ftpd_sess *fs, int err)
{
    switch (err) {
    case GW_ERR_NOENT:
        ftpd_reply(fs, 550, "No such file or directory.");
        break;
    case GW_ERR_PERM:
    case GW_ERR_ESCAPE:
        ftpd_reply(fs, 550, "Permission denied.");
        break;
    case GW_ERR_ROFS:
        ftpd_reply(fs, 550, "Permission denied: read-only.");
        break;
    case GW_ERR_EXIST:
        ftpd_reply(fs, 550, "File exists.");
        break;
    case GW_ERR_NOTDIR:
        ftpd_reply(fs, 550, "Not a directory.");
        break;
    case GW_ERR_ISDIR:
        ftpd_reply(fs, 550, "Is a directory.");
        break;
    case GW_ERR_NOTEMPTY:
        ftpd_reply(fs, 550, "Directory not empty.");
        break;
    case GW_ERR_NOSPC:
        ftpd_reply(fs, 452, "Insufficient storage space.");
        break;
    case GW_ERR_INVAL:
    case GW_ERR_TOOLONG:
        ftpd_reply(fs, 553, "File name not allowed.");
        break;
    case GW_ERR_RANGE:
        ftpd_reply(fs, 554, "Invalid REST parameter.");
        break;
    case GW_ERR_NOTSUP:
        ftpd_reply(fs, 502, "Not supported here.");
        break;
    case GW_ERR_AGAIN:
    case GW_ERR_BUSY:
        ftpd_reply(fs, 450, "File busy, try again later.");
        break;
    default:
        ftpd_reply(fs, 451, "Local error: %s.", gw_strerror(err));
        break;
    }
}

/* ---- helpers shared with the other files ------------------------------------------ */

bool ftpd_read_only(const struct ftpd_sess *fs)
{
    return fs->s->read_only || fs->s->anonymous || (fs->vfs && vfs_read_only(fs->vfs));
}

int ftpd_timeout_s(int configured, int dflt)
{
    return configured > 0 ? configured : dflt;
}

static bool legacy_names(const struct ftpd_sess *fs)
{
    return fs->enc && !fs->utf8;
}

int ftpd_resolve(struct ftpd_sess *fs, const char *arg, size_t n, char *out)
{
    if (legacy_names(fs)) {
        size_t len;
        int rc = ftpd_enc_from_client(fs->enc, arg, n, fs->path2, sizeof fs->path2, &len);
        if (rc < 0)
            return rc;
        /* out may be fs->path2 itself: resolve from a copy. */
        char tmp[GW_MAX_PATH];
        memcpy(tmp, fs->path2, len + 1);
        return gw_path_resolve(fs->cwd, tmp, len, out, GW_MAX_PATH);
    }
    return gw_path_resolve(fs->cwd, arg, n, out, GW_MAX_PATH);
}

bool ftpd_resolve_arg(struct ftpd_sess *fs, const char *arg, size_t n, char *out)
{
    int rc = ftpd_resolve(fs, arg, n, out);
    if (rc < 0) {
        ftpd_reply(fs, 553, "File name not allowed.");
        return false;
    }
    return true;
}

int ftpd_put_name(struct ftpd_sess *fs, struct gw_buf *b, const char *name)
{
    if (legacy_names(fs))
        return ftpd_enc_to_client(fs->enc, name, strlen(name), b);
    return gw_buf_puts(b, name);
}

void ftpd_audit_op(struct ftpd_sess *fs, const char *event, const char *path, const char *path2,
                   int err)
{
    struct audit_record r;
    audit_record_init(&r);
    r.event = event;
    r.path = path;
    r.path2 = path2;
    r.status = err == 0 ? "ok" : "failed";
    r.error = err == 0 ? NULL : gw_strerror(err);
    (void)gw_session_audit(fs->s, &r);
}

/* ---- reading commands ------------------------------------------------------------- */

/* Waits until the control connection is readable. 1, 0 on timeout at deadline_ms, or
 * GW_ERR_AGAIN when the server is stopping. */
static int ctl_wait(struct ftpd_sess *fs, int64_t deadline_ms)
{
    if (ftpd_conn_pending(&fs->ctl))
        return 1;
    for (;;) {
        if (gw_session_stopping())
            return GW_ERR_AGAIN;
        int64_t left = deadline_ms - gw_now_ms();
        if (left <= 0)
            return 0;
        /* A transfer settling behind its 226 is written as soon as its hash is done. */
        int slice = fs->settle_f ? FTPD_SETTLE_SLICE_MS : FTPD_POLL_SLICE_MS;
        struct pollfd p = {.fd = fs->ctl.fd, .events = POLLIN};
        int r = poll(&p, 1, left < slice ? (int)left : slice);
        if (r > 0)
            return 1;
        if (r == 0 && fs->settle_f && vfs_hash_ready(fs->settle_f))
            ftpd_settle(fs);
        if (r < 0 && errno != EINTR)
            return GW_ERR_IO;
    }
}

/* Reads the next command into fs->cmd. 1, 0 when the session must end (EOF, timeout,
 * shutdown: the 421 has been sent where possible). */
static int next_command(struct ftpd_sess *fs)
{
    /* The idle timeout runs from the end of the previous command: trickling a line in
     * byte by byte does not extend it. */
    int64_t idle_deadline =
        gw_now_ms() + 1000LL * ftpd_timeout_s(fs->cfg->idle_timeout, GW_DEFAULT_IDLE_TIMEOUT);
    for (;;) {
        if (fs->in_len > 0) {
            size_t used;
            int rc = ftpd_cmd_parse(&fs->lp, fs->in, fs->in_len, &fs->cmd, &used);
            memmove(fs->in, fs->in + used, fs->in_len - used);
            /* No stale copy of a consumed line (a PASS) stays behind in the buffer. */
            explicit_bzero(fs->in + fs->in_len - used, used);
            fs->in_len -= used;
            if (rc == FTPD_CMD_OK) {
                fs->bad_lines = 0;
                return 1;
            }
            if (rc < 0) {
                if (++fs->bad_lines >= FTPD_MAX_BAD_LINES) {
                    ftpd_reply(fs, 421, "Too many bad commands, closing.");
                    return 0;
                }
                if (rc == GW_ERR_TOOLONG)
                    ftpd_reply(fs, 500, "Command line too long.");
                else
                    ftpd_reply(fs, 500, "Syntax error, command unrecognized.");
                if (fs->ctl_gone)
                    return 0;
                continue;
            }
            if (used > 0)
                continue; /* discarded part of an overlong line */
        }
        int w = ctl_wait(fs, fs->s->logged_in ? idle_deadline : fs->login_deadline);
        if (w == GW_ERR_AGAIN) {
            ftpd_reply(fs, 421, "Server shutting down.");
            return 0;
        }
        if (w == 0) {
            ftpd_reply(fs, 421, "Timeout.");
            return 0;
        }
        if (w < 0)
            return 0;
        ssize_t n = ftpd_conn_read(&fs->ctl, fs->in + fs->in_len, sizeof fs->in - fs->in_len);
        if (n == GW_ERR_TIMEOUT)
            continue; /* a TLS record arrived only in part; the deadline still holds */
        if (n <= 0) {
            fs->ctl_gone = true;
            return 0;
        }
        fs->in_len += (size_t)n;
    }
}

bool ftpd_ctl_interrupt(struct ftpd_sess *fs)
{
    if (fs->ctl_gone || fs->abort_req)
        return true;
    if (fs->ctl_hold)
        return false;
    if (!ftpd_conn_pending(&fs->ctl)) {
        struct pollfd p = {.fd = fs->ctl.fd, .events = POLLIN | POLLRDHUP};
        if (poll(&p, 1, 0) <= 0)
            return false;
        if (!(p.revents & POLLIN) && (p.revents & (POLLERR | POLLHUP | POLLRDHUP))) {
            fs->ctl_gone = true;
            return true;
        }
    }
    if (fs->in_len < sizeof fs->in) {
        ssize_t n = ftpd_conn_read(&fs->ctl, fs->in + fs->in_len, sizeof fs->in - fs->in_len);
        if (n == 0 || (n < 0 && n != GW_ERR_TIMEOUT)) {
            fs->ctl_gone = true;
            return true;
        }
        if (n > 0)
            fs->in_len += (size_t)n;
    }
    /* Peek at the first complete line: only ABOR acts now; anything else (QUIT too: RFC
     * 959 lets the transfer finish first) waits for the transfer's end. */
    struct ftpd_lineparser lp = fs->lp;
    size_t used;
    int rc = ftpd_cmd_parse(&lp, fs->in, fs->in_len, &fs->peek, &used);
    if (rc == FTPD_CMD_MORE && used == 0)
        return false;
    if (rc == FTPD_CMD_OK && strcmp(fs->peek.verb, "ABOR") == 0) {
        fs->lp = lp;
        memmove(fs->in, fs->in + used, fs->in_len - used);
        fs->in_len -= used;
        fs->abort_req = true;
        return true;
    }
    fs->ctl_hold = true;
    return false;
}

/* ---- login ------------------------------------------------------------------------ */

static bool is_anonymous_name(const char *name)
{
    return strcasecmp(name, "anonymous") == 0 || strcasecmp(name, "ftp") == 0;
}

static int cmd_user(struct ftpd_sess *fs)
{
    const char *name = fs->cmd.arg;
    if (fs->s->logged_in)
        return ftpd_reply(fs, 530, "Can't change to another user.");
    if (fs->reinitialized) {
        fs->quit = true;
        return ftpd_reply(fs, 421, "After REIN, log in again on a new connection.");
    }
    fs->have_user = false;
    if (fs->cmd.arg_len > GW_MAX_USER_NAME)
        return ftpd_reply(fs, 530, "Login incorrect.");
    bool anon = is_anonymous_name(name);
    if (fs->cfg->ftp_require_tls && !fs->ctl.ssl)
        return ftpd_reply(fs, 530, "TLS required: use AUTH TLS first.");
    if (!anon && !fs->ctl.ssl && !fs->cfg->ftp_allow_plaintext)
        return ftpd_reply(fs, 530, "Non-anonymous logins must use encryption: use AUTH TLS.");
    memcpy(fs->user, name, fs->cmd.arg_len + 1);
    fs->have_user = true;
    fs->user_anon = anon;
    if (anon)
        return ftpd_reply(fs, 331, "Anonymous login ok, send your e-mail address as password.");
    return ftpd_reply(fs, 331, "Please specify the password.");
}

static int login_failed(struct ftpd_sess *fs, int result)
{
    fs->have_user = false;
    if (result == GW_AUTH_THROTTLED) {
        fs->quit = true;
        /* Throttled address, full login queue or shared state database down: the
         * server log says which; the client only learns to come back later. */
        return ftpd_reply(fs, 421, "Login temporarily refused, try again later.");
    }
    if (result < 0) {
        fs->quit = true;
        return ftpd_reply(fs, 421, "Service not available.");
    }
    fs->login_fails++;
    unsigned max = fs->cfg->max_login_fails > 0 ? (unsigned)fs->cfg->max_login_fails
                                                : GW_DEFAULT_MAX_LOGIN_FAILS;
    if (fs->login_fails >= max) {
        fs->quit = true;
        return ftpd_reply(fs, 421, "Too many failed logins, closing.");
    }
    return ftpd_reply(fs, 530, "Login incorrect.");
}

/* Uses charset (ftp_client_encoding; "" is UTF-8) for names from now on. */
static int set_encoding(struct ftpd_sess *fs, const char *charset)
{
    struct ftpd_enc *e = NULL;
    if (charset && charset[0]) {
        e = ftpd_enc_new(charset);
        if (!e)
            return GW_ERR_INVAL; /* ftpd_init checked every configured name */
    }
    ftpd_enc_free(fs->enc);
    fs->enc = e;
    return 0;
}

static int cmd_pass(struct ftpd_sess *fs)
{
    int result;
    if (fs->s->logged_in)
        return ftpd_reply(fs, 230, "Already logged in.");
    if (!fs->have_user)
        return ftpd_reply(fs, 503, "Login with USER first.");
    if (fs->cmd.arg_len > GW_MAX_PASSWORD)
        result = GW_AUTH_DENIED;
    else if (fs->user_anon)
        result = gw_session_login_anonymous(fs->s, fs->cmd.arg);
    else
        result = gw_session_login_password(fs->s, fs->user, fs->cmd.arg);
    explicit_bzero(fs->cmd.arg, sizeof fs->cmd.arg);
    if (result != GW_AUTH_OK)
        return login_failed(fs, result);
    int rc = gw_session_vfs(fs->s, &fs->vfs);
    if (rc < 0) {
        fs->quit = true;
        return ftpd_reply(fs, 421, "Cannot open your home directory: %s.", gw_strerror(rc));
    }
    memcpy(fs->cwd, "/", 2);
    rc = set_encoding(fs, cfg_user_ftp_encoding(fs->cfg, fs->s->user));
    if (rc < 0) {
        fs->quit = true;
        return ftpd_reply(fs, 421, "Cannot set up your name encoding: %s.", gw_strerror(rc));
    }
    return ftpd_reply(fs, 230, "Login successful.");
}

/* ---- TLS --------------------------------------------------------------------------- */

static int cmd_auth(struct ftpd_sess *fs)
{
    const char *mech = fs->cmd.arg;
    if (!fs->st->tls)
        return ftpd_reply(fs, 502, "TLS not available.");
    if (fs->ctl.ssl)
        return ftpd_reply(fs, 503, "Already using TLS.");
    if (strcasecmp(mech, "TLS") != 0 && strcasecmp(mech, "TLS-C") != 0 &&
        strcasecmp(mech, "SSL") != 0 && strcasecmp(mech, "TLS-P") != 0)
        return ftpd_reply(fs, 504, "Unknown AUTH type.");
    if (fs->s->logged_in)
        return ftpd_reply(fs, 503, "AUTH must come before login.");
    int rc = ftpd_reply(fs, 234, "Proceed with negotiation.");
    if (rc < 0)
        return rc;
    /* Bytes that arrived after AUTH but before the handshake were sent in clear text:
     * never execute them as if protected (STARTTLS command injection). */
    fs->in_len = 0;
    fs->lp.discarding = false;
    rc = ftpd_conn_tls_accept(&fs->ctl, fs->st->tls, 2);
    if (rc < 0) {
        fs->ctl_gone = true;
        fs->quit = true;
        return rc;
    }
    fs->have_user = false;
    /* SSL "AUTH SSL" historically also protected data; TLS-P asks for it explicitly. */
    fs->prot_p = strcasecmp(mech, "SSL") == 0 || strcasecmp(mech, "TLS-P") == 0;
    gw_session_set_proto(fs->s, "ftps");
    return 0;
}

static int cmd_pbsz(struct ftpd_sess *fs)
{
    if (!fs->ctl.ssl)
        return ftpd_reply(fs, 503, "PBSZ not allowed on insecure control connection.");
    return ftpd_reply(fs, 200, "PBSZ=0");
}

static int cmd_prot(struct ftpd_sess *fs)
{
    const char *level = fs->cmd.arg;
    if (!fs->ctl.ssl)
        return ftpd_reply(fs, 503, "PROT not allowed on insecure control connection.");
    if (strcasecmp(level, "C") == 0) {
        fs->prot_p = false;
        return ftpd_reply(fs, 200, "PROT now Clear.");
    }
    if (strcasecmp(level, "P") == 0) {
        fs->prot_p = true;
        return ftpd_reply(fs, 200, "PROT now Private.");
    }
    if (strcasecmp(level, "S") == 0 || strcasecmp(level, "E") == 0)
        return ftpd_reply(fs, 536, "PROT level not supported.");
    return ftpd_reply(fs, 504, "Unknown PROT level.");
}

static int cmd_ccc(struct ftpd_sess *fs)
{
    /* Going back to clear text would let anyone on the path inject commands. */
    return ftpd_reply(fs, 534, "CCC refused by policy: the control connection stays encrypted.");
}

/* ---- protocol state ---------------------------------------------------------------- */

static int cmd_type(struct ftpd_sess *fs)
{
    const char *t = fs->cmd.arg;
    if (strcasecmp(t, "I") == 0 || strcasecmp(t, "L 8") == 0) {
        fs->ascii = false;
        return ftpd_reply(fs, 200, "Switching to Binary mode.");
    }
    if (strcasecmp(t, "A") == 0 || strcasecmp(t, "A N") == 0) {
        fs->ascii = true;
        return ftpd_reply(fs, 200, "Switching to ASCII mode.");
    }
    return ftpd_reply(fs, 504, "Unsupported TYPE.");
}

static int cmd_mode(struct ftpd_sess *fs)
{
    if (strcasecmp(fs->cmd.arg, "S") == 0)
        return ftpd_reply(fs, 200, "Mode set to S.");
    return ftpd_reply(fs, 504, "Only MODE S is supported.");
}

static int cmd_stru(struct ftpd_sess *fs)
{
    if (strcasecmp(fs->cmd.arg, "F") == 0)
        return ftpd_reply(fs, 200, "Structure set to F.");
    return ftpd_reply(fs, 504, "Only STRU F is supported.");
}

static int cmd_allo(struct ftpd_sess *fs)
{
    return ftpd_reply(fs, 202, "ALLO command ignored.");
}

static int cmd_acct(struct ftpd_sess *fs)
{
    return ftpd_reply(fs, 202, "ACCT command superfluous.");
}

static int cmd_noop(struct ftpd_sess *fs)
{
    return ftpd_reply(fs, 200, "NOOP ok.");
}

static int cmd_syst(struct ftpd_sess *fs)
{
    return ftpd_reply(fs, 215, "UNIX Type: L8");
}

static int cmd_clnt(struct ftpd_sess *fs)
{
    return ftpd_reply(fs, 200, "Noted.");
}

static int cmd_quit(struct ftpd_sess *fs)
{
    fs->quit = true;
    return ftpd_reply(fs, 221, "Goodbye.");
}

static int cmd_smnt(struct ftpd_sess *fs)
{
    /* Every user sees one tree, their home: there is nothing else to mount. */
    return ftpd_reply(fs, 202, "SMNT superfluous: your file system is your home.");
}

/* REIN (RFC 959): ends the login and resets every parameter to its default, keeping the
 * control connection. Decisions (doc/ferry.1, FTP):
 * - TLS stays. After AUTH TLS the control connection stays encrypted, with its PROT
 *   level: going back to clear text is refused for the reason CCC is (RFC 4217 lets a
 *   server refuse to drop protection), and data protection belongs to that TLS state.
 * - A login lives in its own session process, which the parent never lets log in
 *   twice (a process that served one user's files does not serve another's). So after
 *   a REIN that ended a login, USER answers 421 and the connection closes: the client
 *   logs in again on a new connection. A REIN before any login resets, nothing more.
 * - Failed logins still count: REIN is no way around max_login_fails. */
static int cmd_rein(struct ftpd_sess *fs)
{
    bool was_logged_in = fs->s->logged_in;
    ftpd_data_reset(fs);
    if (fs->vfs) {
        vfs_free(fs->vfs);
        fs->vfs = NULL;
    }
    fs->s->logged_in = false;
    fs->s->anonymous = false;
    fs->s->read_only = false;
    fs->have_user = fs->user_anon = false;
    explicit_bzero(fs->user, sizeof fs->user);
    memcpy(fs->cwd, "/", 2);
    fs->ascii = false;
    fs->rest = 0;
    fs->rang_set = false;
    fs->epsv_all = false;
    fs->have_rnfr = false;
    fs->utf8 = false;
    fs->facts = FTPD_FACT_ALL;
    fs->hash = FTPD_HASH_SHA256;
    (void)set_encoding(fs, fs->cfg->ftp_client_encoding);
    fs->reinitialized |= was_logged_in;
    fs->login_deadline =
        gw_now_ms() + 1000LL * ftpd_timeout_s(fs->cfg->login_timeout, GW_DEFAULT_LOGIN_TIMEOUT);
    return ftpd_reply(fs, 220, "Service ready for new user.");
}

static int cmd_feat(struct ftpd_sess *fs)
{
    struct gw_buf *b = &fs->out;
    int rc = gw_buf_puts(b, "211-Features:\r\n");
    if (rc == 0 && fs->st->tls)
        rc = gw_buf_puts(b, " AUTH TLS\r\n PBSZ\r\n PROT\r\n");
    if (rc == 0)
        rc = gw_buf_puts(b, " EPRT\r\n EPSV\r\n MDTM\r\n MFMT\r\n SIZE\r\n REST STREAM\r\n"
                            " TVFS\r\n UTF8\r\n RANG STREAM\r\n HASH ");
    for (int i = 0; rc == 0 && i < FTPD_HASH_COUNT; i++)
        rc = gw_buf_printf(b, "%s%s%s", i ? ";" : "", ftpd_hash_name((enum ftpd_hash_algo)i),
                           (int)fs->hash == i ? "*" : "");
    if (rc == 0)
        rc = gw_buf_puts(b, "\r\n MLST ");
    if (rc == 0)
        rc = ftpd_format_fact_names(b, fs->facts, true);
    if (rc == 0)
        rc = gw_buf_puts(b, "\r\n XSHA1\r\n XSHA256\r\n XSHA512\r\n XMD5\r\n211 End\r\n");
    if (rc < 0) {
        gw_buf_reset(b);
        return ftpd_reply(fs, 451, "Local error.");
    }
    return ftpd_flush(fs);
}

static int cmd_opts(struct ftpd_sess *fs)
{
    const char *a = fs->cmd.arg;
    size_t n = fs->cmd.arg_len, w = 0;
    while (w < n && a[w] != ' ')
        w++;
    const char *rest = w < n ? a + w + 1 : "";
    size_t rn = w < n ? n - w - 1 : 0;
    if (w == 4 && strncasecmp(a, "UTF8", 4) == 0) {
        if (rn == 0 || strcasecmp(rest, "ON") == 0) {
            fs->utf8 = true;
            return ftpd_reply(fs, 200, "Always in UTF8 mode.");
        }
        if (strcasecmp(rest, "OFF") == 0) {
            fs->utf8 = false;
            return ftpd_reply(fs, 200, "UTF8 mode off.");
        }
        return ftpd_reply(fs, 501, "Bad OPTS UTF8 argument.");
    }
    if (w == 4 && strncasecmp(a, "MLST", 4) == 0) {
        fs->facts = ftpd_parse_fact_names(rest, rn);
        int rc = gw_buf_puts(&fs->out, "200 MLST OPTS ");
        if (rc == 0)
            rc = ftpd_format_fact_names(&fs->out, fs->facts, false);
        if (rc == 0)
            rc = gw_buf_puts(&fs->out, "\r\n");
        return rc < 0 ? rc : ftpd_flush(fs);
    }
    if (w == 4 && strncasecmp(a, "HASH", 4) == 0) {
        if (rn > 0) {
            int algo = ftpd_hash_lookup(rest, rn);
            if (algo < 0)
                return ftpd_reply(fs, 501, "Unknown algorithm.");
            fs->hash = (enum ftpd_hash_algo)algo;
        }
        return ftpd_reply(fs, 200, "%s", ftpd_hash_name(fs->hash));
    }
    return ftpd_reply(fs, 501, "Option not understood.");
}

static int cmd_site(struct ftpd_sess *fs)
{
    const char *a = fs->cmd.arg;
    size_t n = fs->cmd.arg_len;
    if (strncasecmp(a, "CHMOD ", 6) == 0) {
        if (!fs->s->logged_in)
            return ftpd_reply(fs, 530, "Please login with USER and PASS.");
        if (ftpd_read_only(fs))
            return ftpd_reply(fs, 550, "Permission denied: read-only.");
        return ftpd_site_chmod(fs, a + 6, n - 6);
    }
    if (strcasecmp(a, "HELP") == 0 || strncasecmp(a, "HELP ", 5) == 0)
        return ftpd_reply(fs, 214, "SITE commands: CHMOD HELP");
    return ftpd_reply(fs, 500, "Unknown SITE command.");
}

static int cmd_stat(struct ftpd_sess *fs)
{
    if (fs->cmd.arg_len > 0) {
        if (!fs->s->logged_in)
            return ftpd_reply(fs, 530, "Please login with USER and PASS.");
        return ftpd_stat_path(fs, fs->cmd.arg, fs->cmd.arg_len);
    }
    int rc = gw_buf_printf(&fs->out,
                           "211-FTP server status:\r\n"
                           "     Connected to %s\r\n"
                           "     Logged in as %s\r\n"
                           "     TYPE: %s\r\n"
                           "     Control connection: %s\r\n"
                           "     Data connections: %s\r\n"
                           "     Session timeout in seconds is %d\r\n"
                           "211 End of status\r\n",
                           fs->s->remote, fs->s->logged_in ? fs->s->user : "(not logged in)",
                           fs->ascii ? "ASCII" : "BINARY", fs->ctl.ssl ? "TLS" : "plain text",
                           fs->prot_p ? "TLS" : "plain text",
                           ftpd_timeout_s(fs->cfg->idle_timeout, GW_DEFAULT_IDLE_TIMEOUT));
    return rc < 0 ? rc : ftpd_flush(fs);
}

static int cmd_help(struct ftpd_sess *fs);

/* ---- the command table ------------------------------------------------------------- */

struct ftpd_verb {
    const char *verb;
    bool needs_login;
    bool needs_arg;
    bool writes; /* refused (550) in read-only sessions, before the handler runs */
    int (*handler)(struct ftpd_sess *fs);
};

static const struct ftpd_verb verbs[] = {
    {"ABOR", false, false, false, ftpd_cmd_abor},
    {"ACCT", false, false, false, cmd_acct},
    {"ALLO", false, false, false, cmd_allo},
    {"APPE", true, true, true, ftpd_cmd_appe},
    {"AUTH", false, true, false, cmd_auth},
    {"CCC", false, false, false, cmd_ccc},
    {"CDUP", true, false, false, ftpd_cmd_cdup},
    {"CLNT", false, false, false, cmd_clnt},
    {"CWD", true, true, false, ftpd_cmd_cwd},
    {"DELE", true, true, true, ftpd_cmd_dele},
    {"EPRT", true, true, false, ftpd_cmd_eprt},
    {"EPSV", true, false, false, ftpd_cmd_epsv},
    {"FEAT", false, false, false, cmd_feat},
    {"HASH", true, true, false, ftpd_cmd_hash},
    {"HELP", false, false, false, cmd_help},
    {"LIST", true, false, false, ftpd_cmd_list},
    {"MDTM", true, true, false, ftpd_cmd_mdtm},
    {"MFMT", true, true, true, ftpd_cmd_mfmt},
    {"MKD", true, true, true, ftpd_cmd_mkd},
    {"MLSD", true, false, false, ftpd_cmd_mlsd},
    {"MLST", true, false, false, ftpd_cmd_mlst},
    {"MODE", false, true, false, cmd_mode},
    {"NLST", true, false, false, ftpd_cmd_nlst},
    {"NOOP", false, false, false, cmd_noop},
    {"OPTS", false, true, false, cmd_opts},
    {"PASS", false, false, false, cmd_pass},
    {"PASV", true, false, false, ftpd_cmd_pasv},
    {"PBSZ", false, true, false, cmd_pbsz},
    {"PORT", true, true, false, ftpd_cmd_port},
    {"PROT", false, true, false, cmd_prot},
    {"PWD", true, false, false, ftpd_cmd_pwd},
    {"QUIT", false, false, false, cmd_quit},
    {"RANG", true, true, false, ftpd_cmd_rang},
    {"REIN", false, false, false, cmd_rein},
    {"REST", true, true, false, ftpd_cmd_rest},
    {"RETR", true, true, false, ftpd_cmd_retr},
    {"RMD", true, true, true, ftpd_cmd_rmd},
    {"RNFR", true, true, true, ftpd_cmd_rnfr},
    {"RNTO", true, true, true, ftpd_cmd_rnto},
    {"SITE", false, true, false, cmd_site},
    {"SIZE", true, true, false, ftpd_cmd_size},
    {"SMNT", true, false, false, cmd_smnt},
    {"STAT", false, false, false, cmd_stat},
    {"STOR", true, true, true, ftpd_cmd_stor},
    {"STOU", true, false, true, ftpd_cmd_stou},
    {"STRU", false, true, false, cmd_stru},
    {"SYST", false, false, false, cmd_syst},
    {"TYPE", false, true, false, cmd_type},
    {"USER", false, true, false, cmd_user},
    {"XCUP", true, false, false, ftpd_cmd_cdup},
    {"XCWD", true, true, false, ftpd_cmd_cwd},
    {"XMD5", true, true, false, ftpd_cmd_xhash},
    {"XMKD", true, true, true, ftpd_cmd_mkd},
    {"XPWD", true, false, false, ftpd_cmd_pwd},
    {"XRMD", true, true, true, ftpd_cmd_rmd},
    {"XSHA1", true, true, false, ftpd_cmd_xhash},
    {"XSHA256", true, true, false, ftpd_cmd_xhash},
    {"XSHA512", true, true, false, ftpd_cmd_xhash},
};

#define NVERBS (sizeof verbs / sizeof verbs[0])

static int cmd_help(struct ftpd_sess *fs)
{
    int rc = gw_buf_puts(&fs->out, "214-The following commands are recognized.\r\n");
    for (size_t i = 0; rc == 0 && i < NVERBS; i++)
        rc = gw_buf_printf(&fs->out, "%s%-8s%s", i % 8 == 0 ? " " : "", verbs[i].verb,
                           i % 8 == 7 || i + 1 == NVERBS ? "\r\n" : "");
    if (rc == 0)
        rc = gw_buf_puts(&fs->out, "214 Help OK.\r\n");
    return rc < 0 ? rc : ftpd_flush(fs);
}

static const struct ftpd_verb *find_verb(const char *verb)
{
    size_t lo = 0, hi = NVERBS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(verb, verbs[mid].verb);
        if (c == 0)
            return &verbs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Runs fs->cmd after the checks every command shares. */
static void dispatch(struct ftpd_sess *fs)
{
    const struct ftpd_verb *v = find_verb(fs->cmd.verb);
    if (!v) {
        ftpd_reply(fs, 500, "Unknown command.");
        return;
    }
    /* The previous download's record comes first; QUIT is answered before it so the
     * client need not wait for a hash still running (it is written at the session's end). */
    if (v->handler != cmd_quit)
        ftpd_settle(fs);
    /* RNTO must follow RNFR immediately (RFC 959 4.1.3). */
    if (v->handler != ftpd_cmd_rnto)
        fs->have_rnfr = false;
    if (v->needs_login && !fs->s->logged_in) {
        ftpd_reply(fs, 530, "Please login with USER and PASS.");
        return;
    }
    if (v->needs_arg && fs->cmd.arg_len == 0) {
        ftpd_reply(fs, 501, "Syntax error in parameters or arguments.");
        return;
    }
    if (v->writes && ftpd_read_only(fs)) {
        ftpd_reply(fs, 550, "Permission denied: read-only.");
        return;
    }
    (void)v->handler(fs);
}

/* ---- the session -------------------------------------------------------------------- */

static void sess_free(struct ftpd_sess *fs)
{
    ftpd_data_reset(fs);
    if (fs->vfs)
        vfs_free(fs->vfs);
    ftpd_enc_free(fs->enc);
    free(fs->io);
    gw_buf_free(&fs->out);
    explicit_bzero(fs->in, sizeof fs->in);
    free(fs);
}

static void setup_control_socket(int fd)
{
    int one = 1;
    /* Urgent data (the ABOR "synch") stays in the stream, where the telnet filter
     * removes it; without this the kernel would cut a byte out of the command. */
    setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

static int ftpd_serve(struct gw_session *s, void *state)
{
    struct ftpd_sess *fs = calloc(1, sizeof *fs);
    int rc = 0;
    if (!fs)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    fs->s = s;
    fs->cfg = s->cfg;
    fs->st = state;
    fs->pasv_fd = -1;
    fs->facts = FTPD_FACT_ALL;
    fs->hash = FTPD_HASH_SHA256;
    memcpy(fs->cwd, "/", 2);
    gw_buf_init(&fs->out, 2 * GW_MAX_FTP_LINE + GW_MAX_PATH);
    fs->login_deadline =
        gw_now_ms() + 1000LL * ftpd_timeout_s(fs->cfg->login_timeout, GW_DEFAULT_LOGIN_TIMEOUT);
    setup_control_socket(s->fd);
    /* The receive timeout only bounds a TLS record arriving in pieces; idle and login
     * timeouts are enforced by ctl_wait(). */
    ftpd_conn_init(&fs->ctl, s->fd, ftpd_timeout_s(fs->cfg->data_timeout, GW_DEFAULT_DATA_TIMEOUT));
    if (fs->cfg->ftp_client_encoding && fs->cfg->ftp_client_encoding[0])
        fs->enc = ftpd_enc_new(fs->cfg->ftp_client_encoding);
    if (fs->st->tls && ftpd_tls_ctx_session(fs->st->tls) < 0) {
        rc = 1;
        goto out;
    }
    if (s->implicit_tls) {
        if (!fs->st->tls || ftpd_conn_tls_accept(&fs->ctl, fs->st->tls, 2) < 0) {
            rc = 1;
            goto out;
        }
        fs->prot_p = true; /* implicit FTPS clients expect protected data by default */
        gw_session_set_proto(s, "ftps");
    }
    ftpd_reply(fs, 220, "Ferry FTP server ready.");
    while (!fs->quit && !fs->ctl_gone) {
        if (!next_command(fs))
            break;
        dispatch(fs);
        fs->ctl_hold = false;
        if (gw_session_stopping() && !fs->quit) {
            ftpd_reply(fs, 421, "Server shutting down.");
            break;
        }
    }
out:
    if (fs->ctl.fd >= 0)
        ftpd_conn_linger_close(&fs->ctl, FTPD_LINGER_MS);
    ftpd_settle(fs);
    sess_free(fs);
    return rc;
}

static int ftpd_init(const struct gw_config *cfg, const struct gw_keys *keys, void **state)
{
    struct ftpd_state *st = calloc(1, sizeof *st);
    char err[512];
    int rc = GW_ERR_CONFIG;
    if (!st)
        return GW_ERR_NOMEM;
    st->cfg = cfg;
    /* Every configured charset is tried once here, so that a session's set_encoding()
     * cannot fail on a name the administrator mistyped. */
    for (size_t i = 0; i <= cfg->nusers; i++) {
        const char *cs = i < cfg->nusers ? cfg->users[i].ftp_client_encoding
                                         : cfg->ftp_client_encoding;
        if (!cs || !cs[0])
            continue;
        struct ftpd_enc *e = ftpd_enc_new(cs);
        if (!e) {
            gw_log(GW_LOG_ERROR, "ftp_client_encoding%s%s: unknown or not ASCII-compatible: %s",
                   i < cfg->nusers ? " of user " : "", i < cfg->nusers ? cfg->users[i].name : "",
                   cs);
            goto fail;
        }
        ftpd_enc_free(e);
    }
    /* Without a certificate plain FTP still works (no AUTH TLS in FEAT), unless TLS is
     * what the configuration asks for. */
    bool need_tls = cfg->ftps_port > 0 || cfg->ftp_require_tls;
    if (keys && keys->tls_cert_path[0] && keys->tls_key_path[0]) {
        rc = ftpd_tls_ctx_new(keys->tls_cert_path, keys->tls_key_path, &st->tls, err, sizeof err);
        if (rc < 0) {
            gw_log(GW_LOG_ERROR, "ftp: cannot load the TLS certificate: %s", err);
            if (need_tls)
                goto fail;
        }
    } else if (need_tls) {
        gw_log(GW_LOG_ERROR, "ftp: TLS is required but no certificate is configured");
        goto fail;
    }
    *state = st;
    return 0;

fail:
    free(st);
    return rc;
}

static void ftpd_dispose(void *state)
{
    struct ftpd_state *st = state;
    if (!st)
        return;
    SSL_CTX_free(st->tls);
    free(st);
}

const struct gw_frontend gw_ftp_frontend = {
    .name = "ftp",
    .init = ftpd_init,
    .serve = ftpd_serve,
    .dispose = ftpd_dispose,
    .refuse_message = "421 Too many connections, try again later.\r\n",
};
