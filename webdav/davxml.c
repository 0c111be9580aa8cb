/* Hardened expat parsing into an arena tree, and the WebDAV body interpreters
 * (davxml.h). */
#include "webdav/davxml.h"

#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/limits.h"
#include "webdav/uri.h"

/* expat reports a namespaced name as URI + NS_SEP + local name. \x01 cannot occur in
 * an XML 1.0 document, so the split is unambiguous. */
#define NS_SEP '\x01'
#define XML_NS "http://www.w3.org/XML/1998/namespace"
#define ARENA_CHUNK 16384

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

struct dav_xml_doc {
    struct arena_chunk *chunks;
    struct dav_xml_node *root, *cur;
    XML_Parser p;
    size_t depth, nodes;
    int err; /* sticky: GW_ERR_* that stopped the parser */
};

static void *arena_alloc(struct dav_xml_doc *d, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    struct arena_chunk *c = d->chunks;
    if (!c || n > c->size - c->used) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = d->chunks;
        c->used = 0;
        c->size = size;
        d->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(struct dav_xml_doc *d, const char *s, size_t n)
{
    char *p = arena_alloc(d, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void stop(struct dav_xml_doc *d, int err)
{
    if (!d->err)
        d->err = err;
    XML_StopParser(d->p, XML_FALSE);
}

/* Splits an expat name into namespace and local name (both arena copies). */
static bool split_name(struct dav_xml_doc *d, const char *qn, const char **ns, const char **name)
{
    const char *sep = strchr(qn, NS_SEP);
    if (sep) {
        *ns = arena_strndup(d, qn, (size_t)(sep - qn));
        *name = arena_strndup(d, sep + 1, strlen(sep + 1));
    } else {
        *ns = "";
        *name = arena_strndup(d, qn, strlen(qn));
    }
    return *ns && *name;
}

static struct dav_xml_node *new_node(struct dav_xml_doc *d)
{
    if (++d->nodes > DAV_XML_MAX_NODES) {
        stop(d, GW_ERR_LIMIT);
        return NULL;
    }
    struct dav_xml_node *n = arena_alloc(d, sizeof *n);
    if (!n) {
        stop(d, GW_ERR_NOMEM);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->parent = d->cur;
    if (d->cur) {
        if (d->cur->last)
            d->cur->last->next = n;
        else
            d->cur->first = n;
        d->cur->last = n;
    }
    return n;
}

static void XMLCALL on_start(void *ud, const XML_Char *qn, const XML_Char **atts)
{
    struct dav_xml_doc *d = ud;
    if (d->err)
        return;
    if (++d->depth > DAV_XML_MAX_DEPTH) {
        stop(d, GW_ERR_LIMIT);
        return;
    }
    struct dav_xml_node *n = new_node(d);
    if (!n)
        return;
    if (!split_name(d, qn, &n->ns, &n->name)) {
        stop(d, GW_ERR_NOMEM);
        return;
    }
    struct dav_xml_attr **tail = &n->attrs;
    for (size_t i = 0; atts[i] && atts[i + 1]; i += 2) {
        struct dav_xml_attr *a = arena_alloc(d, sizeof *a);
        if (!a || !split_name(d, atts[i], &a->ns, &a->name) ||
            !(a->value = arena_strndup(d, atts[i + 1], strlen(atts[i + 1])))) {
            stop(d, GW_ERR_NOMEM);
            return;
        }
        a->next = NULL;
        *tail = a;
        tail = &a->next;
    }
    if (!d->root)
        d->root = n;
    d->cur = n;
}

static void XMLCALL on_end(void *ud, const XML_Char *qn)
{
    struct dav_xml_doc *d = ud;
    (void)qn;
    if (d->err || !d->cur)
        return;
    d->depth--;
    d->cur = d->cur->parent;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct dav_xml_doc *d = ud;
    if (d->err || !d->cur || len <= 0)
        return;
    struct dav_xml_node *last = d->cur->last;
    if (last && last->is_text) {
        /* expat splits text at buffer and line boundaries: join the pieces. */
        char *t = arena_alloc(d, last->text_len + (size_t)len);
        if (!t) {
            stop(d, GW_ERR_NOMEM);
            return;
        }
        memcpy(t, last->text, last->text_len);
        memcpy(t + last->text_len, s, (size_t)len);
        last->text = t;
        last->text_len += (size_t)len;
        return;
    }
    struct dav_xml_node *n = new_node(d);
    if (!n)
        return;
    n->is_text = true;
    n->text = arena_alloc(d, (size_t)len);
    if (!n->text) {
        stop(d, GW_ERR_NOMEM);
        return;
    }
    memcpy(n->text, s, (size_t)len);
    n->text_len = (size_t)len;
}

/* No DTDs at all: WebDAV bodies never need one, and refusing the DOCTYPE refuses every
 * entity declaration with it. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    stop(ud, GW_ERR_PROTO);
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    stop(ud, GW_ERR_PROTO);
}

static int XMLCALL on_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
                               const XML_Char *sysid, const XML_Char *pubid)
{
    (void)p, (void)context, (void)base, (void)sysid, (void)pubid;
    return XML_STATUS_ERROR;
}

static int write_node(struct gw_buf *b, const struct dav_xml_node *n, unsigned depth);

/* Parsed documents are later written back out as UTF-8 (property values, lock owners),
 * so accept only those whose UTF-8 form is itself well-formed. Expat's name rules differ
 * between its encodings: in an ISO-8859-1 document it takes U+00B5 as a name character,
 * in UTF-8 it does not (a fuzzing find); without this check such a name would be stored
 * and make every later PROPFIND reply unparseable. */
static int check_roundtrip(const struct dav_xml_doc *d)
{
    struct gw_buf b;
    int rc;
    gw_buf_init(&b, (size_t)GW_MAX_XML_BODY * 16);
    rc = write_node(&b, d->root, 0);
    if (rc == 0) {
        XML_Parser p = XML_ParserCreateNS("UTF-8", NS_SEP);
        if (!p)
            rc = GW_ERR_NOMEM;
        else if (XML_Parse(p, b.data, (int)b.len, XML_TRUE) != XML_STATUS_OK)
            rc = GW_ERR_PROTO;
        if (p)
            XML_ParserFree(p);
    }
    gw_buf_free(&b);
    return rc == GW_ERR_LIMIT ? GW_ERR_LIMIT : rc;
}

void dav_xml_free(struct dav_xml_doc *d)
{
    if (!d)
        return;
    struct arena_chunk *c = d->chunks;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(d);
}

int dav_xml_parse(const char *buf, size_t len, struct dav_xml_doc **out)
{
    int rc = 0;
    *out = NULL;
    if (len > GW_MAX_XML_BODY)
        return GW_ERR_LIMIT;
    struct dav_xml_doc *d = calloc(1, sizeof *d);
    if (!d)
        return GW_ERR_NOMEM;
    d->p = XML_ParserCreateNS(NULL, NS_SEP);
    if (!d->p) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    XML_SetUserData(d->p, d);
    XML_SetElementHandler(d->p, on_start, on_end);
    XML_SetCharacterDataHandler(d->p, on_text);
    XML_SetStartDoctypeDeclHandler(d->p, on_doctype);
    XML_SetEntityDeclHandler(d->p, on_entity);
    XML_SetExternalEntityRefHandler(d->p, on_external);
    XML_SetParamEntityParsing(d->p, XML_PARAM_ENTITY_PARSING_NEVER);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    XML_SetReparseDeferralEnabled(d->p, XML_FALSE); /* one-shot parse: nothing to defer */
#endif
    if (XML_Parse(d->p, buf, (int)len, XML_TRUE) != XML_STATUS_OK || d->err || !d->root) {
        rc = d->err ? d->err : GW_ERR_PROTO;
        goto fail;
    }
    XML_ParserFree(d->p);
    d->p = NULL;
    if ((rc = check_roundtrip(d)) < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    if (d->p)
        XML_ParserFree(d->p);
    dav_xml_free(d);
    return rc;
}

const struct dav_xml_node *dav_xml_root(const struct dav_xml_doc *d)
{
    return d ? d->root : NULL;
}

bool dav_xml_is(const struct dav_xml_node *n, const char *ns, const char *name)
{
    return n && !n->is_text && strcmp(n->ns, ns) == 0 && strcmp(n->name, name) == 0;
}

const struct dav_xml_node *dav_xml_child(const struct dav_xml_node *n, const char *ns,
                                         const char *name)
{
    for (const struct dav_xml_node *c = n ? n->first : NULL; c; c = c->next)
        if (dav_xml_is(c, ns, name))
            return c;
    return NULL;
}

static int write_qname(struct gw_buf *b, const char *ns, const char *prefix, const char *name)
{
    if (ns[0])
        return gw_buf_printf(b, "%s:%s", prefix, name);
    return gw_buf_puts(b, name);
}

int dav_xml_start_tag(struct gw_buf *b, const char *ns, const char *name, bool empty)
{
    int rc = gw_buf_putc(b, '<');
    if (rc == 0)
        rc = write_qname(b, ns, "ns0", name);
    if (rc == 0 && ns[0]) {
        rc = gw_buf_puts(b, " xmlns:ns0=\"");
        if (rc == 0)
            rc = dav_xml_escape(b, ns, strlen(ns));
        if (rc == 0)
            rc = gw_buf_putc(b, '"');
    }
    if (rc == 0)
        rc = gw_buf_puts(b, empty ? "/>" : ">");
    return rc;
}

int dav_xml_end_tag(struct gw_buf *b, const char *ns, const char *name)
{
    int rc = gw_buf_puts(b, "</");
    if (rc == 0)
        rc = write_qname(b, ns, "ns0", name);
    if (rc == 0)
        rc = gw_buf_putc(b, '>');
    return rc;
}

static int write_node(struct gw_buf *b, const struct dav_xml_node *n, unsigned depth);

static int write_attrs(struct gw_buf *b, const struct dav_xml_attr *a)
{
    int rc = 0;
    for (unsigned k = 0; a && rc == 0; a = a->next, k++) {
        if (strcmp(a->ns, XML_NS) == 0)
            rc = gw_buf_printf(b, " xml:%s=\"", a->name);
        else if (a->ns[0]) {
            rc = gw_buf_printf(b, " xmlns:a%u=\"", k);
            if (rc == 0)
                rc = dav_xml_escape(b, a->ns, strlen(a->ns));
            if (rc == 0)
                rc = gw_buf_printf(b, "\" a%u:%s=\"", k, a->name);
        } else
            rc = gw_buf_printf(b, " %s=\"", a->name);
        if (rc == 0)
            rc = dav_xml_escape(b, a->value, strlen(a->value));
        if (rc == 0)
            rc = gw_buf_putc(b, '"');
    }
    return rc;
}

static int write_children(struct gw_buf *b, const struct dav_xml_node *n, unsigned depth)
{
    int rc = 0;
    for (const struct dav_xml_node *c = n->first; c && rc == 0; c = c->next)
        rc = write_node(b, c, depth + 1);
    return rc;
}

static int write_node(struct gw_buf *b, const struct dav_xml_node *n, unsigned depth)
{
    int rc;
    if (depth > DAV_XML_MAX_DEPTH)
        return GW_ERR_LIMIT;
    if (n->is_text)
        return dav_xml_escape(b, n->text, n->text_len);
    rc = gw_buf_putc(b, '<');
    if (rc == 0)
        rc = write_qname(b, n->ns, "ns0", n->name);
    if (rc == 0 && n->ns[0]) {
        rc = gw_buf_puts(b, " xmlns:ns0=\"");
        if (rc == 0)
            rc = dav_xml_escape(b, n->ns, strlen(n->ns));
        if (rc == 0)
            rc = gw_buf_putc(b, '"');
    }
    if (rc == 0)
        rc = write_attrs(b, n->attrs);
    if (rc == 0 && !n->first)
        return gw_buf_puts(b, "/>");
    if (rc == 0)
        rc = gw_buf_putc(b, '>');
    if (rc == 0)
        rc = write_children(b, n, depth);
    if (rc == 0)
        rc = dav_xml_end_tag(b, n->ns, n->name);
    return rc;
}

int dav_xml_write_children(struct gw_buf *b, const struct dav_xml_node *n)
{
    return write_children(b, n, 0);
}

/* ---- interpreters ---- */

static int collect_names(const struct dav_xml_node *prop, struct dav_propname *out, size_t *n)
{
    for (const struct dav_xml_node *c = prop->first; c; c = c->next) {
        if (c->is_text)
            continue;
        if (*n == DAV_MAX_PROPS)
            return GW_ERR_LIMIT;
        out[*n].ns = c->ns;
        out[*n].name = c->name;
        (*n)++;
    }
    return 0;
}

/* True when n holds only whitespace text and elements. */
static bool text_is_blank(const struct dav_xml_node *n)
{
    for (size_t i = 0; i < n->text_len; i++)
        if (n->text[i] != ' ' && n->text[i] != '\t' && n->text[i] != '\r' && n->text[i] != '\n')
            return false;
    return true;
}

int dav_xml_propfind(const struct dav_xml_doc *d, struct dav_propfind *out)
{
    const struct dav_xml_node *root = dav_xml_root(d), *c;
    bool have = false;
    out->kind = DAV_PF_ALLPROP;
    out->nprops = 0;
    if (!root)
        return 0;
    if (!dav_xml_is(root, DAV_NS, "propfind"))
        return GW_ERR_PROTO;
    for (c = root->first; c; c = c->next) {
        if (c->is_text) {
            if (!text_is_blank(c))
                return GW_ERR_PROTO;
            continue;
        }
        if (strcmp(c->ns, DAV_NS) != 0)
            continue; /* extensions we do not know are ignored (RFC 4918 section 17) */
        if (strcmp(c->name, "include") == 0) {
            int rc = collect_names(c, out->props, &out->nprops);
            if (rc < 0)
                return rc;
            continue;
        }
        enum dav_propfind_kind k;
        if (strcmp(c->name, "allprop") == 0)
            k = DAV_PF_ALLPROP;
        else if (strcmp(c->name, "propname") == 0)
            k = DAV_PF_PROPNAME;
        else if (strcmp(c->name, "prop") == 0)
            k = DAV_PF_PROP;
        else
            continue;
        if (have)
            return GW_ERR_PROTO; /* two of allprop, propname, prop */
        have = true;
        out->kind = k;
        if (k == DAV_PF_PROP) {
            out->nprops = 0;
            int rc = collect_names(c, out->props, &out->nprops);
            if (rc < 0)
                return rc;
        }
    }
    return have ? 0 : GW_ERR_PROTO;
}

int dav_xml_proppatch(const struct dav_xml_doc *d, struct dav_proppatch *out)
{
    const struct dav_xml_node *root = dav_xml_root(d);
    out->nops = 0;
    if (!dav_xml_is(root, DAV_NS, "propertyupdate"))
        return GW_ERR_PROTO;
    for (const struct dav_xml_node *c = root->first; c; c = c->next) {
        bool set = dav_xml_is(c, DAV_NS, "set"), rem = dav_xml_is(c, DAV_NS, "remove");
        if (c->is_text && !text_is_blank(c))
            return GW_ERR_PROTO;
        if (!set && !rem)
            continue;
        const struct dav_xml_node *prop = dav_xml_child(c, DAV_NS, "prop");
        if (!prop)
            return GW_ERR_PROTO;
        for (const struct dav_xml_node *p = prop->first; p; p = p->next) {
            if (p->is_text)
                continue;
            if (out->nops == DAV_MAX_PROPS)
                return GW_ERR_LIMIT;
            struct dav_propop *op = &out->ops[out->nops++];
            op->remove = rem;
            op->pn.ns = p->ns;
            op->pn.name = p->name;
            op->value = rem ? NULL : p;
        }
    }
    return out->nops ? 0 : GW_ERR_PROTO;
}

int dav_xml_lockinfo(const struct dav_xml_doc *d, struct dav_lockinfo *out)
{
    const struct dav_xml_node *root = dav_xml_root(d);
    if (!dav_xml_is(root, DAV_NS, "lockinfo"))
        return GW_ERR_PROTO;
    const struct dav_xml_node *scope = dav_xml_child(root, DAV_NS, "lockscope");
    const struct dav_xml_node *type = dav_xml_child(root, DAV_NS, "locktype");
    if (!scope || !type || !dav_xml_child(type, DAV_NS, "write"))
        return GW_ERR_PROTO;
    bool ex = dav_xml_child(scope, DAV_NS, "exclusive") != NULL;
    bool sh = dav_xml_child(scope, DAV_NS, "shared") != NULL;
    if (ex == sh)
        return GW_ERR_PROTO;
    out->exclusive = ex;
    out->owner = dav_xml_child(root, DAV_NS, "owner");
    return 0;
}
