/* LOCK, UNLOCK, lock enforcement and the If header (RFC 4918 sections 6, 7, 9.10, 9.11,
 * 10.4), over the shared lock database (locks.h). */
#include "webdav/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gateway/err.h"
#include "gateway/path.h"
#include "webdav/davxml.h"
#include "webdav/locks.h"
#include "webdav/uri.h"

/* True when this request submitted lk's token: it appears in the If header and lk
 * belongs to the requesting user (a token is not a capability another user can borrow). */
static bool submitted(const struct dav_ctx *x, const struct dav_lock *lk)
{
    if (!x->have_if || strcmp(lk->user, x->s->user) != 0)
        return false;
    size_t tl = strlen(lk->token);
    for (size_t i = 0; i < x->ifh.nconds; i++) {
        const struct dav_if_cond *c = &x->ifh.conds[i];
        if (!c->is_etag && c->n == tl && memcmp(c->v, lk->token, tl) == 0)
            return true;
    }
    return false;
}

int dav_lock_check(struct dav_ctx *x, const char *vpath, unsigned flags)
{
    char key[GW_MAX_PATH], parent[GW_MAX_PATH];
    struct dav_lockdb db;
    int status = 0;
    if (dav_key(x, vpath, key, sizeof key) < 0 || gw_path_dir(key, parent, sizeof parent) < 0)
        return 414;
    bool has_parent = strcmp(key, "/") != 0;
    int rc = dav_lockdb_open(&db, x->srv->base, x->s, false);
    if (rc < 0)
        return dav_state_status(rc); /* never ignore locks we could not read */
    for (size_t i = 0; i < db.l.n && !status; i++) {
        const struct dav_lock *lk = &db.l.v[i];
        bool affected = dav_lock_covers(lk, key) ||
                        ((flags & DAV_LC_SUBTREE) && dav_lock_below(lk, key)) ||
                        ((flags & DAV_LC_PARENT) && has_parent && dav_lock_covers(lk, parent));
        if (!affected || submitted(x, lk))
            continue;
        /* Shared locks on one root: any holder's token will do. */
        bool ok = false;
        for (size_t j = 0; j < db.l.n && !ok && !lk->exclusive; j++)
            ok = j != i && !db.l.v[j].exclusive && strcmp(db.l.v[j].root, lk->root) == 0 &&
                 submitted(x, &db.l.v[j]);
        if (!ok)
            status = 423;
    }
    dav_lockdb_close(&db);
    return status;
}

void dav_locks_forget(struct dav_ctx *x, const char *vpath)
{
    char key[GW_MAX_PATH];
    struct dav_lockdb db;
    if (dav_key(x, vpath, key, sizeof key) < 0 ||
        dav_lockdb_open(&db, x->srv->base, x->s, true) < 0)
        return;
    db.dirty = dav_locks_remove_under(&db.l, key) > 0;
    dav_lockdb_close(&db);
}

/* Evaluates one If condition against the resource at vpath (key its lock key). */
static bool cond_true(struct dav_ctx *x, const struct dav_if_cond *c, const char *vpath,
                      const char *key, const struct dav_locks *locks)
{
    bool match = false;
    if (c->is_etag) {
        struct vfs_stat st;
        char etag[DAV_ETAG_MAX];
        if (vfs_stat(x->vfs, vpath, 0, &st) == 0) {
            dav_etag(&st, etag);
            match = dav_etag_eq(c->v, c->n, etag, strlen(etag), true);
        }
    } else {
        for (size_t i = 0; i < locks->n && !match; i++)
            match = strlen(locks->v[i].token) == c->n &&
                    memcmp(locks->v[i].token, c->v, c->n) == 0 &&
                    dav_lock_covers(&locks->v[i], key);
    }
    return c->negate ? !match : match;
}

int dav_if_check(struct dav_ctx *x)
{
    struct dav_lockdb db;
    char vpath[GW_MAX_PATH], key[GW_MAX_PATH];
    bool any = false;
    if (!x->have_if)
        return 0;
    int rc = dav_lockdb_open(&db, x->srv->base, x->s, false);
    if (rc < 0)
        return dav_state_status(rc);
    for (size_t i = 0; i < x->ifh.nlists && !any; i++) {
        const struct dav_if_list *l = &x->ifh.lists[i];
        if (l->tag) {
            /* A tagged list applies to the resource it names. */
            if (dav_uri_to_path(l->tag, l->tag_len, x->host, x->hostlen, vpath, sizeof vpath,
                                NULL) < 0)
                continue;
        } else {
            memcpy(vpath, x->path, strlen(x->path) + 1);
        }
        if (dav_key(x, vpath, key, sizeof key) < 0)
            continue;
        bool all = true;
        for (size_t k = 0; k < l->count && all; k++)
            all = cond_true(x, &x->ifh.conds[l->first + k], vpath, key, &db.l);
        any = all;
    }
    dav_lockdb_close(&db);
    return any ? 0 : 412;
}

/* The virtual path of a lock root as this user sees it (NULL when outside the view). */
static const char *root_vpath(const struct dav_ctx *x, const char *key)
{
    const char *home = x->s->home[0] ? x->s->home : "/";
    size_t hl = strlen(home);
    if (strcmp(home, "/") == 0)
        return key;
    if (strncmp(key, home, hl) != 0 || (key[hl] != '/' && key[hl] != '\0'))
        return NULL;
    return key[hl] ? key + hl : "/";
}

static int activelock(struct dav_ctx *x, const struct dav_lock *lk, const char *vpath,
                      struct gw_buf *b)
{
    const char *root = root_vpath(x, lk->root);
    int64_t left = lk->expires - (int64_t)time(NULL);
    int rc = gw_buf_printf(b,
                           "<D:activelock><D:locktype><D:write/></D:locktype>"
                           "<D:lockscope><D:%s/></D:lockscope><D:depth>%s</D:depth>",
                           lk->exclusive ? "exclusive" : "shared", lk->infinite ? "infinity" : "0");
    if (rc == 0 && lk->owner[0])
        rc = gw_buf_printf(b, "<D:owner>%s</D:owner>", lk->owner);
    if (rc == 0)
        rc = gw_buf_printf(b,
                           "<D:timeout>Second-%" PRId64 "</D:timeout>"
                           "<D:locktoken><D:href>%s</D:href></D:locktoken><D:lockroot><D:href>",
                           left > 0 ? left : 0, lk->token);
    if (rc == 0)
        rc = dav_uri_encode(b, root ? root : vpath, false);
    if (rc == 0)
        rc = gw_buf_puts(b, "</D:href></D:lockroot></D:activelock>");
    return rc;
}

int dav_lockdiscovery(struct dav_ctx *x, const char *vpath, struct gw_buf *b)
{
    char key[GW_MAX_PATH];
    struct dav_lockdb db;
    int rc = 0;
    if (dav_key(x, vpath, key, sizeof key) < 0)
        return 0;
    if (!x->lockcache) {
        if (dav_lockdb_open(&db, x->srv->base, x->s, false) < 0)
            return 0;
        x->lockcache = malloc(sizeof *x->lockcache);
        if (x->lockcache) {
            *x->lockcache = db.l; /* take the loaded set over */
            memset(&db.l, 0, sizeof db.l);
        }
        dav_lockdb_close(&db);
        if (!x->lockcache)
            return GW_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->lockcache->n && rc == 0; i++)
        if (dav_lock_covers(&x->lockcache->v[i], key))
            rc = activelock(x, &x->lockcache->v[i], vpath, b);
    return rc;
}

void dav_lockcache_drop(struct dav_ctx *x)
{
    if (!x->lockcache)
        return;
    dav_locks_free(x->lockcache);
    free(x->lockcache);
    x->lockcache = NULL;
}

static int lock_reply(struct dav_ctx *x, int status, const struct dav_lock *lk)
{
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    int rc = gw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                             "<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>");
    if (rc == 0)
        rc = activelock(x, lk, x->path, &b);
    if (rc == 0)
        rc = gw_buf_puts(&b, "</D:lockdiscovery></D:prop>\n");
    if (rc == 0)
        rc = dav_resp_begin(x, status);
    if (rc == 0)
        rc = dav_resp_header(x, "Lock-Token: <%s>", lk->token);
    if (rc == 0)
        rc = dav_resp_header(x, "Content-Type: application/xml; charset=utf-8");
    if (rc == 0)
        rc = dav_resp_end(x, (int64_t)b.len);
    if (rc == 0)
        rc = dav_conn_write(&x->c, b.data, b.len);
    gw_buf_free(&b);
    return rc;
}

/* LOCK without a body: refresh the lock named in the If header. */
static int refresh(struct dav_ctx *x, int64_t timeout)
{
    char key[GW_MAX_PATH];
    struct dav_lockdb db;
    struct dav_lock copy;
    bool found = false;
    int rc;
    if (!x->have_if)
        return dav_resp_error(x, 400);
    if (dav_key(x, x->path, key, sizeof key) < 0)
        return dav_resp_error(x, 414);
    if ((rc = dav_lockdb_open(&db, x->srv->base, x->s, true)) < 0)
        return dav_resp_error(x, dav_state_status(rc));
    for (size_t i = 0; i < db.l.n && !found; i++) {
        struct dav_lock *lk = &db.l.v[i];
        if (!dav_lock_covers(lk, key) || !submitted(x, lk))
            continue;
        lk->timeout = timeout;
        lk->expires = (int64_t)time(NULL) + timeout;
        db.dirty = true;
        copy = *lk;
        copy.root = strdup(lk->root);
        copy.owner = strdup(lk->owner);
        found = copy.root && copy.owner;
    }
    rc = dav_lockdb_close(&db);
    if (!found)
        rc = dav_resp_dav_error(x, 412, "lock-token-submitted");
    else if (rc < 0)
        rc = dav_resp_error(x, dav_state_status(rc));
    else
        rc = lock_reply(x, 200, &copy);
    if (found) {
        free(copy.root);
        free(copy.owner);
    }
    return rc;
}

int dav_m_lock(struct dav_ctx *x)
{
    struct dav_xml_doc *doc = NULL;
    struct dav_lockinfo li;
    struct dav_lock lk;
    struct dav_lockdb db;
    struct vfs_stat st;
    struct gw_buf owner;
    char key[GW_MAX_PATH];
    size_t n;
    int rc;
    memset(&lk, 0, sizeof lk);
    gw_buf_init(&owner, GW_MAX_XML_BODY);
    const char *dv = dav_http_field(&x->req, "depth", &n);
    int depth = dav_depth_parse(dv, n, DAV_DEPTH_INFINITY);
    const char *tv = dav_http_field(&x->req, "timeout", &n);
    int64_t timeout = dav_timeout_parse(tv, n, DAV_LOCK_TIMEOUT_DEFAULT, DAV_LOCK_TIMEOUT_MAX);
    if (depth != 0 && depth != DAV_DEPTH_INFINITY)
        return dav_resp_error(x, 400);
    int status = dav_read_xml(x, &doc);
    if (status)
        return dav_resp_error(x, status);
    if (!doc)
        return refresh(x, timeout);
    if (dav_xml_lockinfo(doc, &li) < 0) {
        rc = dav_resp_error(x, 400);
        goto out;
    }
    if (li.owner && dav_xml_write_children(&owner, li.owner) < 0) {
        rc = dav_resp_error(x, 413);
        goto out;
    }
    rc = vfs_stat(x->vfs, x->path, 0, &st);
    bool exists = rc == 0;
    if (rc < 0 && rc != GW_ERR_NOENT) {
        rc = dav_resp_error(x, rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
        goto out;
    }
    if ((status = dav_if_check(x)) != 0 ||
        (!exists && (status = dav_lock_check(x, x->path, DAV_LC_PARENT)) != 0)) {
        rc = dav_resp_error(x, status);
        goto out;
    }
    if (dav_key(x, x->path, key, sizeof key) < 0 || dav_lock_new_token(lk.token) < 0) {
        rc = dav_resp_error(x, 500);
        goto out;
    }
    lk.exclusive = li.exclusive;
    lk.infinite = depth == DAV_DEPTH_INFINITY;
    lk.timeout = timeout;
    lk.expires = (int64_t)time(NULL) + timeout;
    snprintf(lk.user, sizeof lk.user, "%s", x->s->user);
    lk.root = key;
    lk.owner = (char *)gw_buf_str(&owner);
    if ((rc = dav_lockdb_open(&db, x->srv->base, x->s, true)) < 0) {
        rc = dav_resp_error(x, dav_state_status(rc));
        goto out;
    }
    bool conflict = false;
    for (size_t i = 0; i < db.l.n && !conflict; i++) {
        const struct dav_lock *o = &db.l.v[i];
        bool overlap = dav_lock_covers(o, key) || (lk.infinite && dav_lock_below(o, key));
        conflict = overlap && (o->exclusive || lk.exclusive);
    }
    if (!conflict) {
        rc = dav_locks_add(&db.l, &lk);
        db.dirty = rc == 0;
    }
    int crc = dav_lockdb_close(&db);
    if (conflict) {
        rc = dav_resp_dav_error(x, 423, "no-conflicting-lock");
        goto out;
    }
    if (rc < 0 || crc < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_LIMIT ? 503 : rc < 0 ? 500 : dav_state_status(crc));
        goto out;
    }
    /* LOCK on an unmapped URL creates an empty resource (RFC 4918 section 9.10.4) -
     * unless the caller has an upload of it pending: creating it would truncate that
     * partial and commit it empty, losing what a resumable upload (Content-Range PUT,
     * the resumable-upload draft, FTP REST) has sent so far. The lock then covers the
     * name until that upload completes it. */
    struct vfs_stat pst;
    bool pending = !exists && vfs_stat(x->vfs, x->path, VFS_SHADOW, &pst) == 0 && pst.partial;
    if (!exists && !pending) {
        struct vfs_file *f = NULL;
        rc = vfs_open_write(x->vfs, x->path, VFS_WRITE_NEW, 0, 0644, &f);
        if (rc == 0)
            rc = vfs_close(f, true);
        if (rc < 0) {
            if (dav_lockdb_open(&db, x->srv->base, x->s, true) == 0) {
                for (size_t i = 0; i < db.l.n; i++)
                    if (strcmp(db.l.v[i].token, lk.token) == 0) {
                        dav_locks_remove_at(&db.l, i);
                        db.dirty = true;
                        break;
                    }
                dav_lockdb_close(&db);
            }
            rc = dav_resp_error(
                x, rc == GW_ERR_NOENT || rc == GW_ERR_NOTDIR ? 409 : dav_status_from_err(rc));
            goto out;
        }
    }
    rc = lock_reply(x, exists ? 200 : 201, &lk);
out:
    gw_buf_free(&owner);
    dav_xml_free(doc);
    return rc;
}

int dav_m_unlock(struct dav_ctx *x)
{
    char key[GW_MAX_PATH];
    struct dav_lockdb db;
    const char *tok;
    size_t n, tl;
    const char *v = dav_http_field(&x->req, "lock-token", &n);
    if (!v || dav_locktoken_parse(v, n, &tok, &tl) < 0)
        return dav_resp_error(x, 400);
    if (dav_key(x, x->path, key, sizeof key) < 0)
        return dav_resp_error(x, 414);
    int rc = dav_lockdb_open(&db, x->srv->base, x->s, true);
    if (rc < 0)
        return dav_resp_error(x, dav_state_status(rc));
    int status = 409;
    for (size_t i = 0; i < db.l.n; i++) {
        struct dav_lock *lk = &db.l.v[i];
        if (strlen(lk->token) != tl || memcmp(lk->token, tok, tl) != 0)
            continue;
        if (!dav_lock_covers(lk, key))
            break;
        if (strcmp(lk->user, x->s->user) != 0) {
            status = 403;
            break;
        }
        dav_locks_remove_at(&db.l, i);
        db.dirty = true;
        status = 204;
        break;
    }
    if ((rc = dav_lockdb_close(&db)) < 0 && status == 204)
        status = dav_state_status(rc);
    if (status == 409)
        return dav_resp_dav_error(x, 409, "lock-token-matches-request-uri");
    return dav_resp_error(x, status);
}
