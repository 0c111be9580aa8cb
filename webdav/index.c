/* The HTML index a browser gets for GET on a collection: names, sizes, dates, UTF-8,
 * sortable by clicking a column header (server-side, ?sort=name|size|mtime&order=asc|desc,
 * so it works without JavaScript, which the page's Content-Security-Policy forbids). */
#include "webdav/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/err.h"
#include "gateway/path.h"
#include "webdav/uri.h"

#define DAV_INDEX_MAX 100000 /* entries shown */

struct entry {
    char *name;
    uint64_t size;
    int64_t mtime;
    bool dir;
};

enum sort_key { SORT_NAME, SORT_SIZE, SORT_MTIME };

struct order {
    enum sort_key key;
    bool desc;
};

static int cmp(const void *pa, const void *pb, void *ctx)
{
    const struct entry *a = pa, *b = pb;
    const struct order *o = ctx;
    if (a->dir != b->dir)
        return a->dir ? -1 : 1; /* collections first, whatever the order */
    int r = 0;
    if (o->key == SORT_SIZE)
        r = a->size < b->size ? -1 : a->size > b->size;
    else if (o->key == SORT_MTIME)
        r = a->mtime < b->mtime ? -1 : a->mtime > b->mtime;
    if (r == 0)
        r = strcmp(a->name, b->name);
    return o->desc ? -r : r;
}

/* Reads sort and order from the query string. */
static void parse_query(const struct dav_ctx *x, enum sort_key *key, bool *desc)
{
    const char *q = memchr(x->req.target, '?', x->req.target_len);
    *key = SORT_NAME;
    *desc = false;
    if (!q)
        return;
    size_t n = x->req.target_len - (size_t)(q - x->req.target) - 1;
    q++;
    for (size_t i = 0; i < n;) {
        size_t b = i;
        while (i < n && q[i] != '&' && q[i] != ';')
            i++;
        size_t len = i - b;
        const char *p = q + b;
        if (len == 9 && memcmp(p, "sort=size", 9) == 0)
            *key = SORT_SIZE;
        else if (len == 10 && memcmp(p, "sort=mtime", 10) == 0)
            *key = SORT_MTIME;
        else if (len == 10 && memcmp(p, "order=desc", 10) == 0)
            *desc = true;
        i++;
    }
}

static void human(uint64_t v, char *out, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    unsigned u = 0;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%" PRIu64 " B", v);
    else
        snprintf(out, n, "%.1f %s", d, units[u]);
}

static int header_link(struct gw_buf *b, const char *label, const char *key, bool cur, bool desc,
                       const char *cls)
{
    return gw_buf_printf(b, "<th%s><a href=\"?sort=%s&amp;order=%s\">%s%s</a></th>", cls, key,
                         cur && !desc ? "desc" : "asc", label,
                         cur ? (desc ? " &#9660;" : " &#9650;") : "");
}

static int list(struct dav_ctx *x, struct entry **out, size_t *n)
{
    struct vfs_dir *d = NULL;
    struct vfs_dirent e;
    size_t cap = 0;
    char *child = malloc(GW_MAX_PATH);
    int rc = child ? vfs_opendir(x->vfs, x->path, &d) : GW_ERR_NOMEM;
    *out = NULL;
    *n = 0;
    while (rc == 0 && (rc = vfs_readdir(d, &e)) == 1) {
        rc = 0;
        struct vfs_stat st = e.st;
        if (S_ISLNK(st.mode)) {
            int k =
                snprintf(child, GW_MAX_PATH, "%s/%s", strcmp(x->path, "/") ? x->path : "", e.name);
            if (k < 0 || k >= GW_MAX_PATH || vfs_stat(x->vfs, child, 0, &st) < 0)
                continue;
        }
        if (*n == DAV_INDEX_MAX)
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *ne = realloc(*out, cap * sizeof *ne);
            if (!ne) {
                rc = GW_ERR_NOMEM;
                break;
            }
            *out = ne;
        }
        struct entry *en = &(*out)[*n];
        en->name = strdup(e.name);
        en->size = st.size;
        en->mtime = st.mtime;
        en->dir = S_ISDIR(st.mode);
        if (!en->name) {
            rc = GW_ERR_NOMEM;
            break;
        }
        (*n)++;
    }
    if (d)
        vfs_closedir(d);
    free(child);
    return rc < 0 ? rc : 0;
}

int dav_index(struct dav_ctx *x, const struct vfs_stat *st)
{
    struct entry *ents = NULL;
    size_t n = 0;
    char etag[DAV_ETAG_MAX], parent[GW_MAX_PATH], *child = NULL;
    enum sort_key key;
    bool desc;
    struct dav_stream s;
    int rc;
    int pc = dav_preconditions(x, st);
    if (pc)
        return dav_resp_error(x, pc);
    if (dav_http_method_is(&x->req, "HEAD")) {
        rc = dav_resp_begin(x, 200);
        if (rc == 0)
            rc = dav_resp_header(x, "Content-Type: text/html; charset=utf-8");
        return rc == 0 ? dav_resp_end(x, DAV_LEN_NONE) : rc;
    }
    rc = list(x, &ents, &n);
    if (rc < 0) {
        rc = dav_resp_error(x, dav_status_from_err(rc));
        goto out;
    }
    parse_query(x, &key, &desc);
    struct order ord = {key, desc};
    if (n > 1)
        qsort_r(ents, n, sizeof *ents, cmp, &ord);
    dav_etag(st, etag);
    child = malloc(GW_MAX_PATH);
    if (!child) {
        rc = dav_resp_error(x, 500);
        goto out;
    }
    rc = dav_resp_begin(x, 200);
    if (rc == 0)
        rc = dav_resp_header(x, "Content-Security-Policy: default-src 'none'; "
                                "style-src 'unsafe-inline'; img-src data:");
    if (rc == 0)
        rc = dav_resp_header(x, "X-Content-Type-Options: nosniff");
    if (rc == 0)
        rc = dav_resp_header(x, "Cache-Control: no-cache");
    if (rc < 0)
        goto out;
    /* dav_stream_begin writes the status line again: build on its buffer instead. */
    s.x = x;
    s.err = 0;
    gw_buf_init(&s.b, 16u << 20);
    rc = dav_resp_header(x, "Content-Type: text/html; charset=utf-8");
    if (rc == 0)
        rc = dav_resp_end(x, DAV_LEN_STREAM);
    s.chunked = x->req.minor == 1;
    struct gw_buf *b = &s.b;
    gw_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<title>Index of ");
    dav_xml_escape(b, x->path, strlen(x->path));
    gw_buf_puts(b, "</title><style>"
                   "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
                   "h1{font-size:1.3em;font-weight:600;word-break:break-all}"
                   "table{border-collapse:collapse;width:100%}"
                   "th,td{padding:.35em .8em;text-align:left;white-space:nowrap}"
                   "td.n{white-space:normal;word-break:break-all}"
                   "th{border-bottom:1px solid #ccc}th a{color:inherit}"
                   ".s{text-align:right}tbody tr:nth-child(even){background:#f5f5f5}"
                   "a{text-decoration:none;color:#0645ad}a:hover{text-decoration:underline}"
                   "footer{margin-top:1.5em;color:#888;font-size:.85em}"
                   "</style></head><body><h1>Index of ");
    dav_xml_escape(b, x->path, strlen(x->path));
    gw_buf_puts(b, "</h1>\n<table><thead><tr>");
    header_link(b, "Name", "name", key == SORT_NAME, desc, "");
    header_link(b, "Size", "size", key == SORT_SIZE, desc, " class=\"s\"");
    header_link(b, "Modified", "mtime", key == SORT_MTIME, desc, "");
    gw_buf_puts(b, "</tr></thead>\n<tbody>\n");
    if (strcmp(x->path, "/") != 0 && gw_path_dir(x->path, parent, sizeof parent) == 0) {
        gw_buf_puts(b, "<tr><td class=\"n\"><a href=\"");
        dav_uri_encode(b, parent, true);
        gw_buf_puts(b, "\">../</a></td><td class=\"s\"></td><td></td></tr>\n");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char size[32] = "", date[24] = "";
        int k = snprintf(child, GW_MAX_PATH, "%s/%s", strcmp(x->path, "/") ? x->path : "",
                         ents[i].name);
        if (k < 0 || k >= GW_MAX_PATH)
            continue;
        if (!ents[i].dir)
            human(ents[i].size, size, sizeof size);
        if (dav_date_rfc3339(ents[i].mtime, date) == 0) {
            date[10] = ' ';
            date[16] = '\0'; /* "2026-11-28 14:03" */
        }
        gw_buf_puts(b, "<tr><td class=\"n\"><a href=\"");
        dav_uri_encode(b, child, ents[i].dir);
        gw_buf_puts(b, "\">");
        dav_xml_escape(b, ents[i].name, strlen(ents[i].name));
        gw_buf_printf(b, "%s</a></td><td class=\"s\"", ents[i].dir ? "/" : "");
        if (!ents[i].dir)
            gw_buf_printf(b, " title=\"%" PRIu64 " bytes\"", ents[i].size);
        gw_buf_printf(b, ">%s</td><td><time datetime=\"%.10sT%s:00Z\">%s</time></td></tr>\n", size,
                      date, date[0] ? date + 11 : "", date);
        rc = dav_stream_flush(&s, false);
    }
    gw_buf_printf(b, "</tbody></table>\n<footer>%zu item%s &middot; ferry</footer></body></html>\n",
                  n, n == 1 ? "" : "s");
    if (rc == 0)
        rc = dav_stream_end(&s);
    else
        gw_buf_free(&s.b);
out:
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    free(child);
    return rc;
}
