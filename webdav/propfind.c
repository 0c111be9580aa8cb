/* PROPFIND and PROPPATCH (RFC 4918 sections 9.1, 9.2): live properties from the file
 * system, dead ones from the property store (props.h), streamed multistatus replies. */
#include "webdav/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "gateway/err.h"
#include "gateway/path.h"
#include "webdav/davxml.h"
#include "webdav/props.h"
#include "webdav/uri.h"

#define MS_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n"
#define MS_TAIL "</D:multistatus>\n"
#define DAV_MAX_WALK 100000 /* resources one Depth: infinity PROPFIND reports */

static const struct {
    const char *ext, *type;
} ctypes[] = {
    {"txt", "text/plain; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"csv", "text/csv"},
    {"md", "text/markdown"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"iso", "application/x-iso9660-image"},
    {"sha256", "text/plain"},
    {"asc", "application/pgp-signature"},
};

const char *dav_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && dot != name)
        for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++)
            if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
                return ctypes[i].type;
    return "application/octet-stream";
}

/* The live properties we compute; protected against PROPPATCH except displayname. */
static const char *const live[] = {"creationdate",          "displayname",     "getcontentlength",
                                   "getcontenttype",        "getetag",         "getlastmodified",
                                   "resourcetype",          "supportedlock",   "lockdiscovery",
                                   "quota-available-bytes", "quota-used-bytes"};
#define NLIVE_ALLPROP 9 /* the quota properties are reported only when asked for */

static bool is_live(const char *ns, const char *name)
{
    if (strcmp(ns, DAV_NS) != 0)
        return false;
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (strcmp(live[i], name) == 0)
            return true;
    return false;
}

struct res {
    const char *path; /* virtual */
    struct vfs_stat st;
    bool dir;
    struct dav_props dead;
};

/* Appends <D:name>value</D:name> for a live property; returns 1 when written, 0 when
 * the resource does not have it, < 0 on error. */
static int live_prop(struct dav_ctx *x, const struct res *r, const char *name, struct gw_buf *b,
                     bool name_only)
{
    char tmp[128];
    if (name_only) {
        if ((strcmp(name, "getcontentlength") == 0 || strcmp(name, "getcontenttype") == 0) &&
            r->dir)
            return 0;
        return gw_buf_printf(b, "<D:%s/>", name) < 0 ? GW_ERR_NOMEM : 1;
    }
    if (strcmp(name, "resourcetype") == 0)
        return gw_buf_puts(b, r->dir ? "<D:resourcetype><D:collection/></D:resourcetype>"
                                     : "<D:resourcetype/>") < 0
                   ? GW_ERR_NOMEM
                   : 1;
    if (strcmp(name, "getcontentlength") == 0) {
        if (r->dir)
            return 0;
        return gw_buf_printf(b, "<D:getcontentlength>%" PRIu64 "</D:getcontentlength>",
                             r->st.size) < 0
                   ? GW_ERR_NOMEM
                   : 1;
    }
    if (strcmp(name, "getcontenttype") == 0) {
        if (r->dir)
            return 0;
        return gw_buf_printf(b, "<D:getcontenttype>%s</D:getcontenttype>",
                             dav_content_type(gw_path_base(r->path))) < 0
                   ? GW_ERR_NOMEM
                   : 1;
    }
    if (strcmp(name, "getetag") == 0) {
        dav_etag(&r->st, tmp);
        return gw_buf_puts(b, "<D:getetag>") || dav_xml_escape(b, tmp, strlen(tmp)) ||
                       gw_buf_puts(b, "</D:getetag>")
                   ? GW_ERR_NOMEM
                   : 1;
    }
    if (strcmp(name, "getlastmodified") == 0) {
        if (dav_date_format(r->st.mtime, tmp) < 0)
            return 0;
        return gw_buf_printf(b, "<D:getlastmodified>%s</D:getlastmodified>", tmp) < 0 ? GW_ERR_NOMEM
                                                                                      : 1;
    }
    if (strcmp(name, "creationdate") == 0) {
        /* No birth time through the vfs: the modification time is the best we know. */
        if (dav_date_rfc3339(r->st.mtime, tmp) < 0)
            return 0;
        return gw_buf_printf(b, "<D:creationdate>%s</D:creationdate>", tmp) < 0 ? GW_ERR_NOMEM : 1;
    }
    if (strcmp(name, "displayname") == 0) {
        const struct dav_prop *p = dav_props_find(&r->dead, DAV_NS, "displayname");
        if (p)
            return gw_buf_printf(b, "<D:displayname>%s</D:displayname>", p->value) < 0
                       ? GW_ERR_NOMEM
                       : 1;
        const char *base = gw_path_base(r->path);
        return gw_buf_puts(b, "<D:displayname>") || dav_xml_escape(b, base, strlen(base)) ||
                       gw_buf_puts(b, "</D:displayname>")
                   ? GW_ERR_NOMEM
                   : 1;
    }
    if (strcmp(name, "supportedlock") == 0)
        return gw_buf_puts(b, "<D:supportedlock>"
                              "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>"
                              "<D:locktype><D:write/></D:locktype></D:lockentry>"
                              "<D:lockentry><D:lockscope><D:shared/></D:lockscope>"
                              "<D:locktype><D:write/></D:locktype></D:lockentry>"
                              "</D:supportedlock>") < 0
                   ? GW_ERR_NOMEM
                   : 1;
    if (strcmp(name, "lockdiscovery") == 0) {
        if (gw_buf_puts(b, "<D:lockdiscovery>") < 0 || dav_lockdiscovery(x, r->path, b) < 0 ||
            gw_buf_puts(b, "</D:lockdiscovery>") < 0)
            return GW_ERR_NOMEM;
        return 1;
    }
    if (strcmp(name, "quota-available-bytes") == 0 || strcmp(name, "quota-used-bytes") == 0) {
        struct vfs_statvfs sv;
        if (vfs_statvfs(x->vfs, r->path, &sv) < 0)
            return 0;
        uint64_t v = name[6] == 'a' ? sv.bavail * sv.frsize : (sv.blocks - sv.bfree) * sv.frsize;
        return gw_buf_printf(b, "<D:%s>%" PRIu64 "</D:%s>", name, v, name) < 0 ? GW_ERR_NOMEM : 1;
    }
    return 0;
}

static int dead_prop(const struct dav_prop *p, struct gw_buf *b, bool name_only)
{
    int rc = dav_xml_start_tag(b, p->ns, p->name, name_only || !p->value[0]);
    if (rc == 0 && !name_only && p->value[0]) {
        rc = gw_buf_puts(b, p->value);
        if (rc == 0)
            rc = dav_xml_end_tag(b, p->ns, p->name);
    }
    return rc;
}

static int propstat(struct gw_buf *b, const struct gw_buf *props, int status)
{
    if (props->len == 0)
        return 0;
    int rc = gw_buf_puts(b, "<D:propstat><D:prop>");
    if (rc == 0)
        rc = gw_buf_append(b, props->data, props->len);
    if (rc == 0)
        rc = gw_buf_printf(b, "</D:prop><D:status>HTTP/1.1 %d %s</D:status></D:propstat>", status,
                           dav_status_text(status));
    return rc;
}

/* One <D:response> for r. */
static int emit(struct dav_ctx *x, struct res *r, const struct dav_propfind *pf, struct gw_buf *b)
{
    struct gw_buf ok, missing;
    char key[GW_MAX_PATH];
    int rc = 0;
    gw_buf_init(&ok, 8u << 20);
    gw_buf_init(&missing, 1u << 20);
    memset(&r->dead, 0, sizeof r->dead);
    if (dav_key(x, r->path, key, sizeof key) == 0)
        dav_props_load(x->srv->base, x->s, key, &r->dead);
    if (pf->kind == DAV_PF_PROP) {
        for (size_t i = 0; i < pf->nprops && rc >= 0; i++) {
            const struct dav_propname *pn = &pf->props[i];
            int w = 0;
            if (is_live(pn->ns, pn->name)) {
                w = live_prop(x, r, pn->name, &ok, false);
            } else {
                const struct dav_prop *p = dav_props_find(&r->dead, pn->ns, pn->name);
                if (p) {
                    rc = dead_prop(p, &ok, false);
                    w = 1;
                }
            }
            if (w == 0)
                rc = dav_xml_start_tag(&missing, pn->ns, pn->name, true);
            if (w < 0)
                rc = w;
        }
    } else {
        bool names = pf->kind == DAV_PF_PROPNAME;
        for (size_t i = 0; i < NLIVE_ALLPROP && rc >= 0; i++)
            rc = live_prop(x, r, live[i], &ok, names);
        for (size_t i = 0; i < r->dead.n && rc >= 0; i++)
            if (!is_live(r->dead.v[i].ns, r->dead.v[i].name))
                rc = dead_prop(&r->dead.v[i], &ok, names);
        /* allprop's include: quota and such, when asked */
        for (size_t i = 0; i < pf->nprops && rc >= 0 && !names; i++)
            if (is_live(pf->props[i].ns, pf->props[i].name) &&
                strncmp(pf->props[i].name, "quota-", 6) == 0)
                rc = live_prop(x, r, pf->props[i].name, &ok, false);
    }
    if (rc >= 0) {
        rc = gw_buf_puts(b, "<D:response><D:href>");
        if (rc == 0)
            rc = dav_uri_encode(b, r->path, r->dir);
        if (rc == 0)
            rc = gw_buf_puts(b, "</D:href>");
        if (rc == 0)
            rc = propstat(b, &ok, 200);
        if (rc == 0)
            rc = propstat(b, &missing, 404);
        if (rc == 0)
            rc = gw_buf_puts(b, "</D:response>\n");
    }
    dav_props_free(&r->dead);
    gw_buf_free(&ok);
    gw_buf_free(&missing);
    return rc < 0 ? rc : 0;
}

static int walk(struct dav_ctx *x, const char *path, int depth, const struct dav_propfind *pf,
                struct dav_stream *st, size_t *count, unsigned level)
{
    struct vfs_dir *d = NULL;
    struct vfs_dirent e;
    int rc = vfs_opendir(x->vfs, path, &d);
    char *child = malloc(GW_MAX_PATH);
    if (rc < 0 || !child) {
        free(child);
        if (d)
            vfs_closedir(d);
        return rc < 0 ? 0 : GW_ERR_NOMEM; /* an unreadable member: just not listed */
    }
    while ((rc = vfs_readdir(d, &e)) == 1) {
        int n = snprintf(child, GW_MAX_PATH, "%s/%s", strcmp(path, "/") == 0 ? "" : path, e.name);
        if (n < 0 || n >= GW_MAX_PATH || ++*count > DAV_MAX_WALK)
            continue;
        struct res r = {.path = child, .st = e.st};
        if (S_ISLNK(e.st.mode) && vfs_stat(x->vfs, child, 0, &r.st) < 0)
            continue; /* a dangling link */
        r.dir = S_ISDIR(r.st.mode);
        if ((rc = emit(x, &r, pf, &st->b)) < 0 || (rc = dav_stream_flush(st, false)) < 0)
            break;
        /* Depth: infinity never follows links into directories (no loops). */
        if (r.dir && depth == DAV_DEPTH_INFINITY && !S_ISLNK(e.st.mode) && level < GW_MAX_DEPTH &&
            (rc = walk(x, child, depth, pf, st, count, level + 1)) < 0)
            break;
    }
    vfs_closedir(d);
    free(child);
    return rc < 0 ? rc : 0;
}

int dav_m_propfind(struct dav_ctx *x)
{
    size_t n;
    struct dav_xml_doc *doc = NULL;
    struct dav_propfind *pf = NULL;
    struct dav_stream st;
    int rc;
    const char *dv = dav_http_field(&x->req, "depth", &n);
    int depth = dav_depth_parse(dv, n, DAV_DEPTH_INFINITY);
    if (depth < 0)
        return dav_resp_error(x, 400);
    if (depth == DAV_DEPTH_INFINITY && !x->cfg->dav_allow_infinity)
        return dav_resp_dav_error(x, 403, "propfind-finite-depth");
    int status = dav_read_xml(x, &doc);
    if (status)
        return dav_resp_error(x, status);
    pf = malloc(sizeof *pf);
    if (!pf) {
        dav_xml_free(doc);
        return dav_resp_error(x, 500);
    }
    rc = dav_xml_propfind(doc, pf);
    if (rc < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_LIMIT ? 413 : 400);
        goto out;
    }
    struct res r = {.path = x->path};
    rc = vfs_stat(x->vfs, x->path, vfs_read_only(x->vfs) ? 0 : VFS_SHADOW, &r.st);
    if (rc < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc));
        goto out;
    }
    r.dir = S_ISDIR(r.st.mode);
    if ((status = dav_if_check(x)) != 0) {
        rc = dav_resp_error(x, status);
        goto out;
    }
    rc = dav_stream_begin(&st, x, 207, "application/xml; charset=utf-8");
    if (rc == 0) {
        size_t count = 0;
        gw_buf_puts(&st.b, MS_HEAD);
        rc = emit(x, &r, pf, &st.b);
        if (rc == 0)
            rc = dav_stream_flush(&st, false);
        if (rc == 0 && r.dir && depth > 0)
            rc = walk(x, x->path, depth, pf, &st, &count, 0);
        if (rc == 0)
            gw_buf_puts(&st.b, MS_TAIL);
    }
    if (rc == 0)
        rc = dav_stream_end(&st);
    else {
        gw_buf_free(&st.b);
        x->close = true; /* a multistatus cut short cannot be repaired */
    }
out:
    free(pf);
    dav_xml_free(doc);
    return rc;
}

/* ---- PROPPATCH ---- */

static bool protected_prop(const struct dav_propname *pn)
{
    return is_live(pn->ns, pn->name) && strcmp(pn->name, "displayname") != 0;
}

int dav_m_proppatch(struct dav_ctx *x)
{
    struct dav_xml_doc *doc = NULL;
    struct dav_proppatch *pp = NULL;
    struct dav_propdb db;
    struct vfs_stat vst;
    struct dav_stream st;
    char key[GW_MAX_PATH];
    int rc;
    int status = dav_read_xml(x, &doc);
    if (status)
        return dav_resp_error(x, status);
    if (!doc)
        return dav_resp_error(x, 400);
    pp = malloc(sizeof *pp);
    if (!pp) {
        rc = dav_resp_error(x, 500);
        goto out;
    }
    if ((rc = dav_xml_proppatch(doc, pp)) < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_LIMIT ? 413 : 400);
        goto out;
    }
    rc = vfs_stat(x->vfs, x->path, 0, &vst);
    if (rc < 0) {
        rc = dav_resp_error(x, rc == GW_ERR_NOTDIR ? 404 : dav_status_from_err(rc));
        goto out;
    }
    int pc = dav_if_check(x);
    if (pc == 0)
        pc = dav_lock_check(x, x->path, 0);
    if (pc || dav_key(x, x->path, key, sizeof key) < 0) {
        rc = dav_resp_error(x, pc ? pc : 414);
        goto out;
    }
    /* All or nothing (RFC 4918 section 9.2): check every instruction first. */
    bool failed = false;
    for (size_t i = 0; i < pp->nops; i++)
        failed |= protected_prop(&pp->ops[i].pn);
    int save_rc = 0;
    if (!failed) {
        save_rc = dav_propdb_open(&db, x->srv->base, x->s, key);
        struct gw_buf v;
        gw_buf_init(&v, GW_MAX_XML_BODY);
        for (size_t i = 0; i < pp->nops && save_rc == 0; i++) {
            const struct dav_propop *op = &pp->ops[i];
            if (op->remove) {
                dav_props_remove(&db.p, op->pn.ns, op->pn.name);
                continue;
            }
            gw_buf_reset(&v);
            save_rc = dav_xml_write_children(&v, op->value);
            if (save_rc == 0)
                save_rc = dav_props_set(&db.p, op->pn.ns, op->pn.name, gw_buf_str(&v), v.len);
        }
        gw_buf_free(&v);
        int crc = dav_propdb_close(&db, save_rc == 0);
        if (save_rc == 0)
            save_rc = crc;
        /* The store could not be asked (shared state database down or busy): say so
         * rather than report every property as failed. */
        if (dav_state_status(save_rc) == 503) {
            rc = dav_resp_error(x, 503);
            goto out;
        }
    }
    rc = dav_stream_begin(&st, x, 207, "application/xml; charset=utf-8");
    if (rc == 0) {
        gw_buf_puts(&st.b, MS_HEAD "<D:response><D:href>");
        dav_uri_encode(&st.b, x->path, S_ISDIR(vst.mode));
        gw_buf_puts(&st.b, "</D:href>\n");
        for (size_t i = 0; i < pp->nops; i++) {
            const struct dav_propname *pn = &pp->ops[i].pn;
            int s = failed ? (protected_prop(pn) ? 403 : 424) : save_rc ? 507 : 200;
            gw_buf_puts(&st.b, "<D:propstat><D:prop>");
            dav_xml_start_tag(&st.b, pn->ns, pn->name, true);
            gw_buf_printf(&st.b, "</D:prop><D:status>HTTP/1.1 %d %s</D:status>", s,
                          dav_status_text(s));
            if (s == 403)
                gw_buf_puts(&st.b, "<D:error><D:cannot-modify-protected-property/></D:error>");
            gw_buf_puts(&st.b, "</D:propstat>\n");
        }
        gw_buf_puts(&st.b, "</D:response>\n" MS_TAIL);
        rc = dav_stream_end(&st);
    }
out:
    free(pp);
    dav_xml_free(doc);
    return rc;
}
