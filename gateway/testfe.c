/* The test front end: a tiny line protocol that exercises the parent (fork, socketpair,
 * authentication, audit) and the VFS end to end without any real protocol. Enabled only
 * by `test_port`; used by the integration tests. One request per line, one reply line:
 *
 *   LOGIN user password     -> OK user home ro|rw      | NO code
 *   ANON ident              -> OK ...                  | NO code
 *   STAT path [shadow]      -> OK size mode partial    | ERR text
 *   GET path offset         -> OK n, then n bytes
 *   PUT new|resume|append path offset length, then length bytes -> OK bytes | ERR text
 *                              (a connection that ends early leaves a partial upload)
 *   LIST path               -> OK n, then n lines "name size mode"
 *   MKDIR path | DELE path | RMDIR path | RENAME from to -> OK | ERR text
 *   QUIT                    -> BYE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/frontend.h"
#include "gateway/path.h"
#include "gateway/session.h"

#define TFE_MAX_LINE 8192
#define TFE_MAX_ARGS 6

struct tfe {
    struct gw_session *s;
    struct vfs *vfs;
    struct gw_buf in;
};

static int put_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return GW_ERR_IO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int replyf(struct tfe *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replyf(struct tfe *t, const char *fmt, ...)
{
    char line[TFE_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    return put_all(t->s->fd, line, (size_t)n);
}

/* Reads more input into t->in; 0 at EOF. */
static ssize_t fill(struct tfe *t)
{
    char tmp[65536];
    ssize_t n;
    do
        n = read(t->s->fd, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR && !gw_session_stopping());
    if (n > 0 && gw_buf_append(&t->in, tmp, (size_t)n) != 0)
        return -1;
    return n;
}

static int err_reply(struct tfe *t, int rc)
{
    return replyf(t, "ERR %s", gw_strerror(rc));
}

static bool resolve(const char *arg, char *out)
{
    return gw_path_resolve("/", arg, strlen(arg), out, GW_MAX_PATH) == 0;
}

static int do_put(struct tfe *t, char **a, int n)
{
    char path[GW_MAX_PATH];
    enum vfs_write_mode mode;
    if (n != 5 || !resolve(a[2], path))
        return replyf(t, "ERR usage");
    if (strcmp(a[1], "new") == 0)
        mode = VFS_WRITE_NEW;
    else if (strcmp(a[1], "resume") == 0)
        mode = VFS_WRITE_RESUME;
    else if (strcmp(a[1], "append") == 0)
        mode = VFS_WRITE_APPEND;
    else
        return replyf(t, "ERR usage");
    uint64_t off = strtoull(a[3], NULL, 10), len = strtoull(a[4], NULL, 10), done = 0;
    struct vfs_file *f = NULL;
    int64_t start = gw_now_ms();
    int rc = vfs_open_write(t->vfs, path, mode, off, 0644, &f);
    if (rc < 0)
        return err_reply(t, rc);
    while (done < len) {
        if (t->in.len == 0 && fill(t) <= 0)
            break;
        size_t take = t->in.len < len - done ? t->in.len : (size_t)(len - done);
        ssize_t w = vfs_write(f, t->in.data, take);
        if (w < 0) {
            rc = (int)w;
            break;
        }
        gw_buf_consume(&t->in, (size_t)w);
        done += (uint64_t)w;
    }
    bool complete = rc == 0 && done == len;
    gw_session_audit_transfer(t->s, "upload", path, f, start, complete ? "ok" : "aborted",
                              complete ? NULL : "connection closed before the end");
    int crc = vfs_close(f, complete);
    if (!complete)
        return GW_ERR_IO; /* the client is gone or failed: end the session */
    return crc < 0 ? err_reply(t, crc) : replyf(t, "OK %" PRIu64, done);
}

static int do_get(struct tfe *t, char **a, int n)
{
    char path[GW_MAX_PATH], buf[65536];
    struct vfs_file *f = NULL;
    struct vfs_stat st;
    if (n != 3 || !resolve(a[1], path))
        return replyf(t, "ERR usage");
    uint64_t off = strtoull(a[2], NULL, 10);
    int64_t start = gw_now_ms();
    int rc = vfs_open_read(t->vfs, path, off, &f);
    if (rc == 0)
        rc = vfs_fstat(f, &st);
    if (rc < 0) {
        if (f)
            vfs_close(f, true);
        return err_reply(t, rc);
    }
    rc = replyf(t, "OK %" PRIu64, st.size - off);
    while (rc == 0) {
        ssize_t r = vfs_read(f, buf, sizeof buf);
        if (r <= 0) {
            rc = (int)r;
            break;
        }
        rc = put_all(t->s->fd, buf, (size_t)r);
    }
    gw_session_audit_transfer(t->s, "download", path, f, start, rc == 0 ? "ok" : "aborted", NULL);
    vfs_close(f, true);
    return rc;
}

static int do_list(struct tfe *t, char **a, int n)
{
    char path[GW_MAX_PATH];
    struct vfs_dir *d = NULL;
    struct vfs_dirent e;
    struct gw_buf out;
    if (n != 2 || !resolve(a[1], path))
        return replyf(t, "ERR usage");
    int rc = vfs_opendir(t->vfs, path, &d), count = 0;
    if (rc < 0)
        return err_reply(t, rc);
    gw_buf_init(&out, 16u << 20);
    while ((rc = vfs_readdir(d, &e)) == 1) {
        gw_buf_printf(&out, "%s %" PRIu64 " %o\n", e.name, e.st.size, e.st.mode);
        count++;
    }
    vfs_closedir(d);
    if (rc == 0)
        rc = replyf(t, "OK %d", count);
    else
        rc = err_reply(t, rc);
    if (rc == 0)
        rc = put_all(t->s->fd, out.data ? out.data : "", out.len);
    gw_buf_free(&out);
    return rc;
}

static int do_simple(struct tfe *t, char **a, int n)
{
    char p1[GW_MAX_PATH], p2[GW_MAX_PATH];
    struct audit_record r;
    int rc;
    if (n < 2 || !resolve(a[1], p1) || (n == 3 && !resolve(a[2], p2)))
        return replyf(t, "ERR bad path");
    audit_record_init(&r);
    r.path = p1;
    if (strcmp(a[0], "MKDIR") == 0 && n == 2)
        rc = vfs_mkdir(t->vfs, p1, 0755), r.event = "mkdir";
    else if (strcmp(a[0], "RMDIR") == 0 && n == 2)
        rc = vfs_rmdir(t->vfs, p1), r.event = "rmdir";
    else if (strcmp(a[0], "DELE") == 0 && n == 2)
        rc = vfs_unlink(t->vfs, p1), r.event = "delete";
    else if (strcmp(a[0], "RENAME") == 0 && n == 3)
        rc = vfs_rename(t->vfs, p1, p2, true), r.event = "rename", r.path2 = p2;
    else
        return replyf(t, "ERR usage");
    r.status = rc == 0 ? "ok" : "failed";
    r.error = rc == 0 ? NULL : gw_strerror(rc);
    gw_session_audit(t->s, &r);
    return rc == 0 ? replyf(t, "OK") : err_reply(t, rc);
}

static int do_stat(struct tfe *t, char **a, int n)
{
    char path[GW_MAX_PATH];
    struct vfs_stat st;
    if ((n != 2 && n != 3) || !resolve(a[1], path))
        return replyf(t, "ERR usage");
    int rc = vfs_stat(t->vfs, path, n == 3 ? VFS_SHADOW : 0, &st);
    if (rc < 0)
        return err_reply(t, rc);
    return replyf(t, "OK %" PRIu64 " %o %d", st.size, st.mode, st.partial ? 1 : 0);
}

static int do_login(struct tfe *t, char **a, int n)
{
    int rc;
    if (t->s->logged_in)
        return replyf(t, "NO already");
    if (n == 3 && strcmp(a[0], "LOGIN") == 0)
        rc = gw_session_login_password(t->s, a[1], a[2]);
    else if (n == 2 && strcmp(a[0], "ANON") == 0)
        rc = gw_session_login_anonymous(t->s, a[1]);
    else
        return replyf(t, "NO usage");
    if (rc != GW_AUTH_OK)
        return replyf(t, "NO %d", rc);
    rc = gw_session_vfs(t->s, &t->vfs);
    if (rc < 0)
        return err_reply(t, rc);
    return replyf(t, "OK %s %s %s", t->s->user, t->s->home, t->s->read_only ? "ro" : "rw");
}

static int dispatch(struct tfe *t, char *line)
{
    char *a[TFE_MAX_ARGS], *save = NULL;
    int n = 0;
    for (char *w = strtok_r(line, " ", &save); w && n < TFE_MAX_ARGS; w = strtok_r(NULL, " ", &save))
        a[n++] = w;
    if (n == 0)
        return replyf(t, "ERR empty");
    if (strcmp(a[0], "QUIT") == 0)
        return replyf(t, "BYE"), 1;
    if (strcmp(a[0], "LOGIN") == 0 || strcmp(a[0], "ANON") == 0)
        return do_login(t, a, n);
    if (!t->vfs)
        return replyf(t, "ERR login first");
    if (strcmp(a[0], "STAT") == 0)
        return do_stat(t, a, n);
    if (strcmp(a[0], "GET") == 0)
        return do_get(t, a, n);
    if (strcmp(a[0], "PUT") == 0)
        return do_put(t, a, n);
    if (strcmp(a[0], "LIST") == 0)
        return do_list(t, a, n);
    return do_simple(t, a, n);
}

static int tfe_serve(struct gw_session *s, void *state)
{
    (void)state;
    struct tfe t = {.s = s};
    int rc = 0;
    gw_buf_init(&t.in, 1u << 20);
    replyf(&t, "FERRY-TEST %s", s->id);
    while (rc == 0 && !gw_session_stopping()) {
        char *nl = t.in.len ? memchr(t.in.data, '\n', t.in.len) : NULL;
        if (!nl) {
            if (t.in.len > TFE_MAX_LINE || fill(&t) <= 0)
                break;
            continue;
        }
        size_t len = (size_t)(nl - t.in.data);
        char line[TFE_MAX_LINE + 1];
        if (len > TFE_MAX_LINE)
            break;
        memcpy(line, t.in.data, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        gw_buf_consume(&t.in, len + 1);
        rc = dispatch(&t, line);
    }
    if (t.vfs)
        vfs_free(t.vfs);
    gw_buf_free(&t.in);
    return 0;
}

const struct gw_frontend gw_test_frontend = {
    .name = "test",
    .init = NULL,
    .serve = tfe_serve,
    .dispose = NULL,
    .refuse_message = "BUSY\n",
};
