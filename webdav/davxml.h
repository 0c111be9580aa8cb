/* WebDAV request bodies (RFC 4918): expat, hardened, builds a small tree in one arena;
 * interpreters for PROPFIND, PROPPATCH and LOCK bodies walk it; a serialiser writes
 * property values back with explicit namespace declarations. Pure over (buf, len).
 *
 * Hardening: a body over GW_MAX_XML_BODY is refused before parsing; any DOCTYPE (and so
 * any entity declaration, internal or external) stops the parser, so entity expansion
 * ("billion laughs") and external entities cannot happen; parameter entities are never
 * parsed; nesting deeper than DAV_XML_MAX_DEPTH or more than DAV_XML_MAX_NODES nodes
 * stop it too. */
#ifndef FERRY_WEBDAV_DAVXML_H
#define FERRY_WEBDAV_DAVXML_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/buf.h"

#define DAV_XML_MAX_DEPTH 64
#define DAV_XML_MAX_NODES 100000
#define DAV_NS "DAV:"

struct dav_xml_attr {
    const char *ns;   /* namespace URI, "" for none */
    const char *name; /* local name */
    const char *value;
    struct dav_xml_attr *next;
};

struct dav_xml_node {
    bool is_text;
    const char *ns;   /* elements: namespace URI, "" for none */
    const char *name; /* elements: local name */
    char *text;       /* text nodes: UTF-8 character data (not NUL-terminated) */
    size_t text_len;
    struct dav_xml_attr *attrs;
    struct dav_xml_node *parent, *first, *last, *next;
};

struct dav_xml_doc;

/* Parses a whole document. Returns 0 and *out (free with dav_xml_free), GW_ERR_PROTO
 * for malformed or refused XML (a DOCTYPE), GW_ERR_LIMIT for a body, depth or node
 * count over the limits, GW_ERR_NOMEM. */
int dav_xml_parse(const char *buf, size_t len, struct dav_xml_doc **out);
void dav_xml_free(struct dav_xml_doc *d);
const struct dav_xml_node *dav_xml_root(const struct dav_xml_doc *d);

/* True when n is an element called ns:name. */
bool dav_xml_is(const struct dav_xml_node *n, const char *ns, const char *name);
/* The first child element called ns:name, or NULL. */
const struct dav_xml_node *dav_xml_child(const struct dav_xml_node *n, const char *ns,
                                         const char *name);

/* Appends the content of n (its child nodes, not n itself) as XML: text escaped, every
 * element and namespaced attribute declaring its own namespace prefix, so the result is
 * well-formed wherever it is embedded. */
int dav_xml_write_children(struct gw_buf *b, const struct dav_xml_node *n);
/* Appends an element start tag for ns:name declaring its namespace (prefix "ns0"):
 * <ns0:name xmlns:ns0="ns"> (or <name> for the empty namespace); empty true writes
 * an empty-element tag instead. dav_xml_end_tag writes the matching end tag. */
int dav_xml_start_tag(struct gw_buf *b, const char *ns, const char *name, bool empty);
int dav_xml_end_tag(struct gw_buf *b, const char *ns, const char *name);

/* A property name. */
struct dav_propname {
    const char *ns;
    const char *name;
};

enum dav_propfind_kind { DAV_PF_ALLPROP, DAV_PF_PROPNAME, DAV_PF_PROP };

#define DAV_MAX_PROPS 1024 /* properties named in one PROPFIND or PROPPATCH */

/* A PROPFIND body: allprop (plus include), propname, or prop with names. */
struct dav_propfind {
    enum dav_propfind_kind kind;
    struct dav_propname props[DAV_MAX_PROPS]; /* prop, or allprop's include */
    size_t nprops;
};
/* Interprets a parsed PROPFIND body (d NULL: an empty body, meaning allprop).
 * GW_ERR_PROTO when it is not a valid propfind, GW_ERR_LIMIT for too many names. */
int dav_xml_propfind(const struct dav_xml_doc *d, struct dav_propfind *out);

/* One PROPPATCH instruction, in document order. value is the property element itself
 * (its children are the value); NULL for remove. */
struct dav_propop {
    bool remove;
    struct dav_propname pn;
    const struct dav_xml_node *value;
};
struct dav_proppatch {
    struct dav_propop ops[DAV_MAX_PROPS];
    size_t nops;
};
int dav_xml_proppatch(const struct dav_xml_doc *d, struct dav_proppatch *out);

/* A LOCK body. owner is the DAV:owner element (its children are kept as the lock's
 * owner) or NULL. */
struct dav_lockinfo {
    bool exclusive;
    const struct dav_xml_node *owner;
};
int dav_xml_lockinfo(const struct dav_xml_doc *d, struct dav_lockinfo *out);

#endif
