/* The shared lock database (locks.h). */
#include "webdav/locks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/path.h"
#include "gateway/session.h"
#include "gateway/stateipc.h"
#include "webdav/field.h"

#define LOCKS_HEADER "# ferry webdav locks v1\n"
#define LOCKS_MAX_FILE (64u << 20)

void dav_locks_free(struct dav_locks *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].root);
        free(l->v[i].owner);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int push(struct dav_locks *l, const struct dav_lock *lk)
{
    if (l->n == DAV_LOCKS_MAX)
        return GW_ERR_LIMIT;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        struct dav_lock *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv)
            return GW_ERR_NOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = *lk;
    return 0;
}

int dav_locks_add(struct dav_locks *l, const struct dav_lock *lk)
{
    struct dav_lock c = *lk;
    c.root = strdup(lk->root);
    c.owner = strdup(lk->owner ? lk->owner : "");
    int rc = c.root && c.owner ? push(l, &c) : GW_ERR_NOMEM;
    if (rc < 0) {
        free(c.root);
        free(c.owner);
    }
    return rc;
}

/* Splits line into exactly n space-separated fields. */
static bool split(const char *line, size_t len, const char **f, size_t *fl, size_t n)
{
    size_t k = 0, i = 0;
    while (k < n) {
        size_t b = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i == b)
            return false;
        f[k] = line + b;
        fl[k++] = i - b;
        if (i == len)
            break;
        i++;
    }
    return k == n && i == len;
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static void parse_line(const char *line, size_t len, int64_t now, struct dav_locks *out)
{
    const char *f[8];
    size_t fl[8];
    struct dav_lock lk;
    memset(&lk, 0, sizeof lk);
    if (!split(line, len, f, fl, 8))
        return;
    if (fl[0] >= sizeof lk.token || fl[5] > GW_MAX_USER_NAME ||
        !parse_i64(f[1], fl[1], &lk.expires) || !parse_i64(f[2], fl[2], &lk.timeout) ||
        lk.expires <= now)
        return;
    memcpy(lk.token, f[0], fl[0]);
    if (fl[3] == 1 && f[3][0] == '0')
        lk.infinite = false;
    else if (fl[3] == 8 && memcmp(f[3], "infinity", 8) == 0)
        lk.infinite = true;
    else
        return;
    if (fl[4] == 9 && memcmp(f[4], "exclusive", 9) == 0)
        lk.exclusive = true;
    else if (!(fl[4] == 6 && memcmp(f[4], "shared", 6) == 0))
        return;
    memcpy(lk.user, f[5], fl[5]);
    lk.root = dav_field_get(f[6], fl[6]);
    lk.owner = dav_field_get(f[7], fl[7]);
    if (!lk.root || !lk.owner || !gw_path_is_normal(lk.root) || push(out, &lk) < 0) {
        free(lk.root);
        free(lk.owner);
    }
}

int dav_locks_parse(const char *buf, size_t len, int64_t now, struct dav_locks *out)
{
    size_t hl = sizeof LOCKS_HEADER - 1;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return 0;
    if (len < hl || memcmp(buf, LOCKS_HEADER, hl) != 0)
        return GW_ERR_PROTO;
    for (size_t i = hl; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (buf + i)) : len - i;
        parse_line(buf + i, ll, now, out);
        i += ll + 1;
    }
    return 0;
}

int dav_locks_format(const struct dav_locks *l, struct gw_buf *out)
{
    int rc = gw_buf_puts(out, LOCKS_HEADER);
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        const struct dav_lock *k = &l->v[i];
        rc = gw_buf_printf(out, "%s %" PRId64 " %" PRId64 " %s %s %s ", k->token, k->expires,
                           k->timeout, k->infinite ? "infinity" : "0",
                           k->exclusive ? "exclusive" : "shared", k->user);
        if (rc == 0)
            rc = dav_field_put(out, k->root);
        if (rc == 0)
            rc = gw_buf_putc(out, ' ');
        if (rc == 0)
            rc = dav_field_put(out, k->owner);
        if (rc == 0)
            rc = gw_buf_putc(out, '\n');
    }
    return rc;
}

struct dav_lock *dav_locks_find(struct dav_locks *l, const char *token, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i].token) == len && memcmp(l->v[i].token, token, len) == 0)
            return &l->v[i];
    return NULL;
}

void dav_locks_remove_at(struct dav_locks *l, size_t i)
{
    free(l->v[i].root);
    free(l->v[i].owner);
    l->v[i] = l->v[--l->n];
}

bool dav_lock_covers(const struct dav_lock *lk, const char *path)
{
    if (strcmp(lk->root, path) == 0)
        return true;
    return lk->infinite && gw_path_under(path, lk->root);
}

bool dav_lock_below(const struct dav_lock *lk, const char *path)
{
    return strcmp(lk->root, path) != 0 && gw_path_under(lk->root, path);
}

size_t dav_locks_remove_under(struct dav_locks *l, const char *path)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n;) {
        if (gw_path_under(l->v[i].root, path)) {
            dav_locks_remove_at(l, i);
            n++;
        } else {
            i++;
        }
    }
    return n;
}

int dav_lock_new_token(char out[DAV_LOCK_TOKEN_MAX])
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != sizeof r)
        return GW_ERR_IO;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, DAV_LOCK_TOKEN_MAX,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return 0;
}

bool dav_shared(const struct gw_session *s)
{
    return s && s->cfg && s->cfg->state_db && s->cfg->state_db[0];
}

/* Takes the set from the stored text. A damaged text (wrong header) counts as empty:
 * locks are advisory state that lapses anyway; refusing every write would be worse. */
static void load(struct dav_lockdb *db, const char *buf, size_t len)
{
    if (dav_locks_parse(buf, len, (int64_t)time(NULL), &db->l) == GW_ERR_PROTO)
        memset(&db->l, 0, sizeof db->l);
}

static int open_shared(struct dav_lockdb *db)
{
    struct gw_buf b;
    bool found;
    gw_buf_init(&b, GW_STATE_MAX_BODY);
    int rc = gw_session_state_get(db->share, DAV_LOCKS_BLOB, db->write, &b, &found);
    if (rc == 0) {
        db->held = db->write;
        load(db, b.data, b.len);
    }
    gw_buf_free(&b);
    return rc;
}

int dav_lockdb_open(struct dav_lockdb *db, const char *base, struct gw_session *s, bool write)
{
    char lpath[GW_MAX_PATH];
    int rc = 0;
    memset(db, 0, sizeof *db);
    db->lockfd = -1;
    db->write = write;
    if (dav_shared(s)) {
        db->share = s;
        return open_shared(db);
    }
    if (mkdir(base, 0700) != 0 && errno != EEXIST)
        return gw_err_from_errno(errno);
    snprintf(lpath, sizeof lpath, "%s/locks.lock", base);
    snprintf(db->path, sizeof db->path, "%s/locks", base);
    db->lockfd = open(lpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (db->lockfd < 0)
        return gw_err_from_errno(errno);
    while (flock(db->lockfd, write ? LOCK_EX : LOCK_SH) != 0) {
        if (errno != EINTR) {
            rc = gw_err_from_errno(errno);
            goto fail;
        }
    }
    int fd = open(db->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        rc = gw_err_from_errno(errno);
        goto fail;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > LOCKS_MAX_FILE ||
        !(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        rc = GW_ERR_LIMIT;
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    load(db, buf, got);
    free(buf);
    return 0;
fail:
    close(db->lockfd);
    db->lockfd = -1;
    return rc;
}

/* Writes the set back as the shared blob (which releases it). A set too large for
 * one message is refused whole: the stored one stays as it was. */
static int save_shared(struct dav_lockdb *db)
{
    struct gw_buf b;
    gw_buf_init(&b, GW_STATE_MAX_BODY);
    int rc = dav_locks_format(&db->l, &b);
    if (rc == 0)
        rc = gw_session_state_put(db->share, DAV_LOCKS_BLOB, b.data, b.len);
    else
        gw_session_state_end(db->share, DAV_LOCKS_BLOB);
    gw_buf_free(&b);
    return rc == GW_ERR_LIMIT ? GW_ERR_NOSPC : rc;
}

static int save(struct dav_lockdb *db)
{
    char tmp[GW_MAX_PATH + 32];
    struct gw_buf b;
    int rc;
    gw_buf_init(&b, LOCKS_MAX_FILE);
    rc = dav_locks_format(&db->l, &b);
    if (rc < 0)
        goto out;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", db->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = gw_err_from_errno(errno);
        goto out;
    }
    size_t done = 0;
    while (done < b.len && rc == 0) {
        ssize_t w = write(fd, b.data + done, b.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = GW_ERR_IO;
        else
            done += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = GW_ERR_IO;
    close(fd);
    if (rc == 0 && rename(tmp, db->path) != 0)
        rc = gw_err_from_errno(errno);
    if (rc != 0)
        unlink(tmp);
out:
    gw_buf_free(&b);
    return rc;
}

int dav_lockdb_close(struct dav_lockdb *db)
{
    int rc = 0;
    if (db->held && db->dirty)
        rc = save_shared(db);
    else if (db->held)
        gw_session_state_end(db->share, DAV_LOCKS_BLOB);
    db->held = false;
    if (db->lockfd >= 0 && db->write && db->dirty)
        rc = save(db);
    if (db->lockfd >= 0)
        close(db->lockfd);
    db->lockfd = -1;
    dav_locks_free(&db->l);
    return rc;
}
