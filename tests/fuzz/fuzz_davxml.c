/* FUZZ_SOURCES: webdav/davxml.c webdav/uri.c gateway/json.c gateway/path.c gateway/buf.c gateway/err.c */
/* FUZZ_PKGS: expat */
/* Fuzzes the WebDAV XML body parser (hardened expat into an arena tree) and everything
 * that walks the tree: the PROPFIND, PROPPATCH and LOCK interpreters and the
 * serialiser, whose output must itself parse again (it is embedded in responses). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/limits.h"
#include "webdav/davxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dav_propfind pf;
static struct dav_proppatch pp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dav_xml_doc *d = NULL;
    struct dav_lockinfo li;
    struct gw_buf b;
    int rc = dav_xml_parse((const char *)data, size, &d);
    if (rc != 0) {
        if (d || (rc != GW_ERR_PROTO && rc != GW_ERR_LIMIT && rc != GW_ERR_NOMEM))
            abort();
        return 0;
    }
    (void)dav_xml_propfind(d, &pf);
    if (dav_xml_proppatch(d, &pp) == 0)
        for (size_t i = 0; i < pp.nops; i++)
            if (!pp.ops[i].pn.name || (!pp.ops[i].remove && !pp.ops[i].value))
                abort();
    (void)dav_xml_lockinfo(d, &li);
    gw_buf_init(&b, GW_MAX_XML_BODY * 8);
    gw_buf_puts(&b, "<r>");
    if (dav_xml_write_children(&b, dav_xml_root(d)) == 0 && gw_buf_puts(&b, "</r>") == 0) {
        struct dav_xml_doc *again = NULL;
        /* Re-serialised content is well-formed (the limits may still refuse it). */
        rc = dav_xml_parse(b.data, b.len, &again);
        if (rc != 0 && rc != GW_ERR_LIMIT)
            abort();
        dav_xml_free(again);
    }
    gw_buf_free(&b);
    dav_xml_free(d);
    return 0;
}
