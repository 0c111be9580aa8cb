/* Dead property store and digest cache in the state dir (props.h). */
#include "webdav/props.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "gateway/session.h"
#include "gateway/stateipc.h"
#include "webdav/field.h"
#include "webdav/locks.h"

#define PROPS_HEADER "# ferry webdav properties v1\n"
#define LONG_NAME 200

/* ---- codec ---- */

void dav_props_free(struct dav_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].ns);
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

static struct dav_prop *find(const struct dav_props *p, const char *ns, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].ns, ns) == 0 && strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

const struct dav_prop *dav_props_find(const struct dav_props *p, const char *ns, const char *name)
{
    return find(p, ns, name);
}

/* Takes ownership of the three strings (freed on error). */
static int add_owned(struct dav_props *p, char *ns, char *name, char *value)
{
    struct dav_prop *e = find(p, ns, name);
    if (e) {
        free(ns);
        free(name);
        free(e->value);
        e->value = value;
        return 0;
    }
    if (p->n == DAV_PROPS_MAX)
        goto fail_limit;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        struct dav_prop *nv = realloc(p->v, ncap * sizeof *nv);
        if (!nv)
            goto fail_nomem;
        p->v = nv;
        p->cap = ncap;
    }
    p->v[p->n++] = (struct dav_prop){ns, name, value};
    return 0;
fail_limit:
    free(ns), free(name), free(value);
    return GW_ERR_LIMIT;
fail_nomem:
    free(ns), free(name), free(value);
    return GW_ERR_NOMEM;
}

int dav_props_set(struct dav_props *p, const char *ns, const char *name, const char *value,
                  size_t vlen)
{
    char *a = strdup(ns), *b = strdup(name), *c = strndup(value, vlen);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return GW_ERR_NOMEM;
    }
    return add_owned(p, a, b, c);
}

void dav_props_remove(struct dav_props *p, const char *ns, const char *name)
{
    struct dav_prop *e = find(p, ns, name);
    if (!e)
        return;
    free(e->ns);
    free(e->name);
    free(e->value);
    *e = p->v[--p->n];
}

int dav_props_parse(const char *buf, size_t len, struct dav_props *out)
{
    size_t hl = sizeof PROPS_HEADER - 1, i;
    memset(out, 0, sizeof *out);
    if (len < hl || memcmp(buf, PROPS_HEADER, hl) != 0)
        return GW_ERR_PROTO;
    for (i = hl; i < len;) {
        const char *line = buf + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + 1;
        const char *sp1 = memchr(line, ' ', ll);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - line)) : NULL;
        if (!sp2 || memchr(sp2 + 1, ' ', ll - (size_t)(sp2 + 1 - line)))
            continue;
        char *ns = dav_field_get(line, (size_t)(sp1 - line));
        char *name = dav_field_get(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        char *value = dav_field_get(sp2 + 1, ll - (size_t)(sp2 + 1 - line));
        if (!ns || !name || !value || !name[0]) {
            free(ns), free(name), free(value);
            continue;
        }
        int rc = add_owned(out, ns, name, value);
        if (rc == GW_ERR_NOMEM) {
            dav_props_free(out);
            return rc;
        }
    }
    return 0;
}

int dav_props_format(const struct dav_props *p, struct gw_buf *out)
{
    int rc = gw_buf_puts(out, PROPS_HEADER);
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        rc = dav_field_put(out, p->v[i].ns);
        if (rc == 0)
            rc = gw_buf_putc(out, ' ');
        if (rc == 0)
            rc = dav_field_put(out, p->v[i].name);
        if (rc == 0)
            rc = gw_buf_putc(out, ' ');
        if (rc == 0)
            rc = dav_field_put(out, p->v[i].value);
        if (rc == 0)
            rc = gw_buf_putc(out, '\n');
    }
    return rc;
}

/* ---- store ---- */

/* The mirror directory of key: base/props/t/_a/_b. */
static int mirror_dir(const char *base, const char *key, char *out, size_t outsz)
{
    struct gw_buf b;
    int rc;
    gw_buf_init(&b, outsz - 1);
    rc = gw_buf_printf(&b, "%s/props/t", base);
    const char *p = key;
    while (rc == 0 && *p) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            break;
        if (n > LONG_NAME) {
            unsigned char md[SHA256_DIGEST_LENGTH];
            SHA256((const unsigned char *)p, n, md);
            rc = gw_buf_puts(&b, "/#");
            for (int k = 0; k < SHA256_DIGEST_LENGTH && rc == 0; k++)
                rc = gw_buf_printf(&b, "%02x", md[k]);
        } else {
            rc = gw_buf_puts(&b, "/_");
            if (rc == 0)
                rc = gw_buf_append(&b, p, n);
        }
        p += n;
    }
    if (rc == 0)
        memcpy(out, gw_buf_str(&b), b.len + 1);
    gw_buf_free(&b);
    return rc == GW_ERR_LIMIT ? GW_ERR_TOOLONG : rc;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return gw_err_from_errno(errno);
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return gw_err_from_errno(errno);
    return 0;
}

static int read_small(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    int rc = 0;
    *out = NULL;
    if (fd < 0)
        return gw_err_from_errno(errno);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        rc = GW_ERR_LIMIT;
        goto out;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = GW_ERR_NOMEM;
        goto out;
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
    buf[got] = '\0';
    *out = buf;
    *len = got;
out:
    close(fd);
    return rc;
}

/* Writes data to path atomically. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[GW_MAX_PATH + 32];
    int rc = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return gw_err_from_errno(errno);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = gw_err_from_errno(errno);
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = gw_err_from_errno(errno);
    if (close(fd) != 0 && rc == 0)
        rc = gw_err_from_errno(errno);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = gw_err_from_errno(errno);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int load_file(const char *base, const char *key, struct dav_props *out)
{
    char dir[GW_MAX_PATH], path[GW_MAX_PATH + 16];
    char *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = mirror_dir(base, key, dir, sizeof dir);
    if (rc < 0)
        return rc == GW_ERR_TOOLONG ? 0 : rc;
    snprintf(path, sizeof path, "%s/@props", dir);
    rc = read_small(path, DAV_PROPS_MAX_FILE, &buf, &len);
    if (rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR)
        return 0;
    if (rc < 0)
        return rc;
    rc = dav_props_parse(buf, len, out);
    free(buf);
    return rc == GW_ERR_PROTO ? 0 : rc;
}

static int save_file(const char *base, const char *key, const struct dav_props *p)
{
    char dir[GW_MAX_PATH], path[GW_MAX_PATH + 16];
    struct gw_buf b;
    int rc = mirror_dir(base, key, dir, sizeof dir);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/@props", dir);
    if (p->n == 0) {
        if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
            return gw_err_from_errno(errno);
        return 0;
    }
    if ((rc = mkdirs(dir)) < 0)
        return rc;
    gw_buf_init(&b, DAV_PROPS_MAX_FILE);
    rc = dav_props_format(p, &b);
    if (rc == 0)
        rc = write_atomic(path, gw_buf_str(&b), b.len);
    gw_buf_free(&b);
    return rc == GW_ERR_LIMIT ? GW_ERR_NOSPC : rc;
}

static int lock_file(const char *base)
{
    char path[GW_MAX_PATH];
    snprintf(path, sizeof path, "%s/props", base);
    int rc = mkdirs(path);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/props.lock", base);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return gw_err_from_errno(errno);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = gw_err_from_errno(errno);
            close(fd);
            return rc;
        }
    }
    return fd;
}

static void unlock_file(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* rm -rf of a mirror directory (only ever directories and regular files of ours). */
static int rmtree(int dfd, const char *name, unsigned depth)
{
    if (depth > GW_MAX_DEPTH + 2)
        return GW_ERR_LIMIT;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP)
            return unlinkat(dfd, name, 0) == 0 ? 0 : gw_err_from_errno(errno);
        return gw_err_from_errno(errno);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return GW_ERR_NOMEM;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_type == DT_DIR) {
            int r = rmtree(dirfd(d), e->d_name, depth + 1);
            if (r < 0)
                rc = r;
        } else if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
            if (errno == EISDIR) {
                int r = rmtree(dirfd(d), e->d_name, depth + 1);
                if (r < 0)
                    rc = r;
            } else if (errno != ENOENT) {
                rc = gw_err_from_errno(errno);
            }
        }
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && rc == 0)
        rc = gw_err_from_errno(errno);
    return rc;
}

static int delete_file(const char *base, const char *key)
{
    char dir[GW_MAX_PATH];
    int rc = mirror_dir(base, key, dir, sizeof dir);
    if (rc < 0)
        return rc == GW_ERR_TOOLONG ? 0 : rc;
    return rmtree(AT_FDCWD, dir, 0);
}

static int move_file(const char *base, const char *from, const char *to)
{
    char a[GW_MAX_PATH], b[GW_MAX_PATH];
    int rc = mirror_dir(base, from, a, sizeof a);
    if (rc == 0)
        rc = mirror_dir(base, to, b, sizeof b);
    if (rc < 0)
        return rc == GW_ERR_TOOLONG ? 0 : rc;
    if ((rc = rmtree(AT_FDCWD, b, 0)) < 0)
        return rc;
    struct stat st;
    if (lstat(a, &st) != 0)
        return 0; /* nothing stored for the source */
    char *slash = strrchr(b, '/');
    *slash = '\0';
    rc = mkdirs(b);
    *slash = '/';
    if (rc < 0)
        return rc;
    return rename(a, b) == 0 ? 0 : gw_err_from_errno(errno);
}

static int copy_file(int sfd, int dfd, const char *name)
{
    char buf[65536];
    int rc = 0;
    int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return gw_err_from_errno(errno);
    int out = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = gw_err_from_errno(errno);
        close(in);
        return rc;
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                rc = gw_err_from_errno(errno);
            break;
        }
        if (write(out, buf, (size_t)r) != r) {
            rc = GW_ERR_IO;
            break;
        }
    }
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = GW_ERR_IO;
    return rc;
}

static int copytree(const char *from, const char *to, bool recursive, unsigned depth)
{
    if (depth > GW_MAX_DEPTH + 2)
        return GW_ERR_LIMIT;
    int rc = 0;
    int sfd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return errno == ENOENT ? 0 : gw_err_from_errno(errno);
    char tbuf[GW_MAX_PATH];
    snprintf(tbuf, sizeof tbuf, "%s", to);
    if ((rc = mkdirs(tbuf)) < 0) {
        close(sfd);
        return rc;
    }
    int dfd = open(to, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fdopendir(sfd);
    if (dfd < 0 || !d) {
        if (d)
            closedir(d);
        else
            close(sfd);
        if (dfd >= 0)
            close(dfd);
        return GW_ERR_IO;
    }
    struct dirent *e;
    while ((e = readdir(d)) && rc == 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '@' && !strchr(e->d_name, '.')) {
            rc = copy_file(dirfd(d), dfd, e->d_name);
        } else if (recursive && (e->d_name[0] == '_' || e->d_name[0] == '#')) {
            char a[GW_MAX_PATH], b[GW_MAX_PATH];
            if (snprintf(a, sizeof a, "%s/%s", from, e->d_name) >= (int)sizeof a ||
                snprintf(b, sizeof b, "%s/%s", to, e->d_name) >= (int)sizeof b)
                rc = GW_ERR_TOOLONG;
            else
                rc = copytree(a, b, true, depth + 1);
        }
    }
    closedir(d);
    close(dfd);
    return rc;
}

static int copy_file_tree(const char *base, const char *from, const char *to, bool recursive)
{
    char a[GW_MAX_PATH], b[GW_MAX_PATH];
    int rc = mirror_dir(base, from, a, sizeof a);
    if (rc == 0)
        rc = mirror_dir(base, to, b, sizeof b);
    if (rc < 0)
        return rc == GW_ERR_TOOLONG ? 0 : rc;
    if ((rc = rmtree(AT_FDCWD, b, 0)) < 0)
        return rc;
    struct stat st;
    if (lstat(a, &st) != 0)
        return 0;
    return copytree(a, b, recursive, 0);
}

/* ---- the backend switch: files above, or shared-state blobs through the parent ---- */

static int blob_name(const char *key, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s%s", DAV_PROPS_BLOB, key);
    return n < 0 || (size_t)n >= outsz ? GW_ERR_TOOLONG : 0;
}

/* Reads key's stored text into b (empty when none); write holds it. */
static int blob_get(struct gw_session *s, const char *key, bool write, struct gw_buf *b)
{
    char name[GW_STATE_MAX_NAME + 1];
    bool found;
    int rc = blob_name(key, name, sizeof name);
    return rc < 0 ? rc : gw_session_state_get(s, name, write, b, &found);
}

static int blob_put(struct gw_session *s, const char *key, const void *body, size_t len)
{
    char name[GW_STATE_MAX_NAME + 1];
    int rc = blob_name(key, name, sizeof name);
    return rc < 0 ? rc : gw_session_state_put(s, name, body, len);
}

static void blob_end(struct gw_session *s, const char *key)
{
    char name[GW_STATE_MAX_NAME + 1];
    if (blob_name(key, name, sizeof name) == 0)
        gw_session_state_end(s, name);
}

/* Parses a stored text; a damaged one counts as no properties (as a damaged file). */
static int parse_stored(const struct gw_buf *b, struct dav_props *out)
{
    int rc = b->len ? dav_props_parse(b->data, b->len, out) : 0;
    if (rc == GW_ERR_PROTO)
        memset(out, 0, sizeof *out);
    return rc == GW_ERR_PROTO ? 0 : rc;
}

int dav_props_load(const char *base, struct gw_session *s, const char *key, struct dav_props *out)
{
    struct gw_buf b;
    memset(out, 0, sizeof *out);
    if (!dav_shared(s))
        return load_file(base, key, out);
    gw_buf_init(&b, GW_STATE_MAX_BODY);
    int rc = blob_get(s, key, false, &b);
    if (rc == 0)
        rc = parse_stored(&b, out);
    gw_buf_free(&b);
    return rc;
}

int dav_propdb_open(struct dav_propdb *db, const char *base, struct gw_session *s, const char *key)
{
    struct gw_buf b;
    int rc;
    memset(db, 0, sizeof *db);
    db->base = base;
    db->key = key;
    db->lockfd = -1;
    if (!dav_shared(s)) {
        db->lockfd = lock_file(base);
        if (db->lockfd < 0)
            return db->lockfd;
        rc = load_file(base, key, &db->p);
        if (rc < 0) {
            unlock_file(db->lockfd);
            db->lockfd = -1;
        }
        return rc;
    }
    db->share = s;
    gw_buf_init(&b, GW_STATE_MAX_BODY);
    rc = blob_get(s, key, true, &b);
    db->held = rc == 0;
    if (rc == 0 && (rc = parse_stored(&b, &db->p)) < 0) {
        blob_end(s, key);
        db->held = false;
    }
    gw_buf_free(&b);
    return rc;
}

int dav_propdb_close(struct dav_propdb *db, bool save)
{
    struct gw_buf b;
    int rc = 0;
    if (db->lockfd >= 0) {
        if (save)
            rc = save_file(db->base, db->key, &db->p);
        unlock_file(db->lockfd);
    } else if (db->held && save) {
        gw_buf_init(&b, GW_STATE_MAX_BODY);
        if (db->p.n && (rc = dav_props_format(&db->p, &b)) < 0)
            blob_end(db->share, db->key);
        else
            rc = blob_put(db->share, db->key, b.data, b.len);
        gw_buf_free(&b);
    } else if (db->held) {
        blob_end(db->share, db->key);
    }
    db->lockfd = -1;
    db->held = false;
    dav_props_free(&db->p);
    return rc == GW_ERR_LIMIT ? GW_ERR_NOSPC : rc;
}

/* Shared store: sets key's stored text to body (len 0 removes it). */
static int replace_shared(struct gw_session *s, const char *key, const void *body, size_t len)
{
    struct gw_buf old;
    gw_buf_init(&old, GW_STATE_MAX_BODY);
    /* Removing what is not there (most members of a deleted tree) costs one read and
     * holds nothing. */
    int rc = len == 0 ? blob_get(s, key, false, &old) : 0;
    if (rc < 0 || (len == 0 && old.len == 0))
        goto out;
    rc = blob_get(s, key, true, &old);
    if (rc == 0 && len == 0 && old.len == 0)
        blob_end(s, key); /* removed meanwhile */
    else if (rc == 0)
        rc = blob_put(s, key, body, len);
out:
    gw_buf_free(&old);
    return rc;
}

/* Shared store: copies from's text to to, then removes from's when move. Each step
 * holds one row at a time (a session never holds two). */
static int transfer_shared(struct gw_session *s, const char *from, const char *to, bool move)
{
    struct gw_buf b;
    gw_buf_init(&b, GW_STATE_MAX_BODY);
    int rc = blob_get(s, from, false, &b);
    if (rc == 0)
        rc = replace_shared(s, to, b.data, b.len);
    if (rc == 0 && move && b.len)
        rc = replace_shared(s, from, NULL, 0);
    gw_buf_free(&b);
    return rc;
}

int dav_props_delete(const char *base, struct gw_session *s, const char *key)
{
    if (dav_shared(s))
        return replace_shared(s, key, NULL, 0);
    int lk = lock_file(base);
    if (lk < 0)
        return lk;
    int rc = delete_file(base, key);
    unlock_file(lk);
    return rc;
}

int dav_props_move(const char *base, struct gw_session *s, const char *from, const char *to)
{
    if (dav_shared(s))
        return transfer_shared(s, from, to, true);
    int lk = lock_file(base);
    if (lk < 0)
        return lk;
    int rc = move_file(base, from, to);
    unlock_file(lk);
    return rc;
}

int dav_props_copy(const char *base, struct gw_session *s, const char *from, const char *to,
                   bool recursive)
{
    if (dav_shared(s))
        return transfer_shared(s, from, to, false);
    int lk = lock_file(base);
    if (lk < 0)
        return lk;
    int rc = copy_file_tree(base, from, to, recursive);
    unlock_file(lk);
    return rc;
}

bool dav_hash_get(const char *base, const char *key, const struct vfs_stat *st,
                  unsigned char out[32])
{
    char dir[GW_MAX_PATH], path[GW_MAX_PATH + 16], hex[65];
    char *buf = NULL;
    size_t len = 0;
    uint64_t size;
    int64_t mtime;
    unsigned nsec;
    bool ok = false;
    if (mirror_dir(base, key, dir, sizeof dir) < 0)
        return false;
    snprintf(path, sizeof path, "%s/@sha256", dir);
    if (read_small(path, 256, &buf, &len) < 0)
        return false;
    if (sscanf(buf, "%" SCNu64 " %" SCNd64 " %u %64[0-9a-f]", &size, &mtime, &nsec, hex) == 4 &&
        strlen(hex) == 64 && size == st->size && mtime == st->mtime && nsec == st->mtime_nsec) {
        for (int i = 0; i < 32; i++)
            out[i] = (unsigned char)(dav_hex_value(hex[2 * i]) << 4 | dav_hex_value(hex[2 * i + 1]));
        ok = true;
    }
    free(buf);
    return ok;
}

void dav_hash_put(const char *base, const char *key, const struct vfs_stat *st,
                  const unsigned char sum[32])
{
    char dir[GW_MAX_PATH], path[GW_MAX_PATH + 16], line[160];
    if (mirror_dir(base, key, dir, sizeof dir) < 0 || mkdirs(dir) < 0)
        return;
    snprintf(path, sizeof path, "%s/@sha256", dir);
    int n = snprintf(line, sizeof line, "%" PRIu64 " %" PRId64 " %u ", st->size, st->mtime,
                     st->mtime_nsec);
    for (int i = 0; i < 32; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%02x", sum[i]);
    line[n++] = '\n';
    write_atomic(path, line, (size_t)n);
}
