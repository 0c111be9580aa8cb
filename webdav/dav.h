/* The WebDAV on HTTPS front end (RFC 4918 class 1 and 2 over our own HTTP/1.1 server on
 * OpenSSL 3). gateway/main.c lists it in its front-end table:
 *   {"https", offsetof(struct gw_config, https_port), &gw_webdav_frontend, "webdav",
 *    false, "https"}
 * init() (parent) builds the TLS context from the state dir's certificate; serve()
 * (one session process per TCP connection) runs keep-alive requests until the client
 * leaves, a timeout passes or the server stops. Module map:
 *   http.c    strict request parser and chunked decoder (pure)
 *   hdr.c     header values: dates, ETags, ranges, If, Depth, Timeout... (pure)
 *   uri.c     URLs to virtual paths and back, escaping (pure)
 *   davxml.c  hardened expat parsing of request bodies (pure)
 *   props.c   dead properties and digests in STATE/webdav/props
 *   locks.c   the shared lock database STATE/webdav/locks
 *   conn.c    TLS connection I/O with timeouts
 *   server.c  the session loop, authentication, responses, dispatch
 *   methods.c GET HEAD PUT DELETE MKCOL OPTIONS COPY MOVE
 *   propfind.c PROPFIND PROPPATCH;  lockops.c LOCK UNLOCK and the If header
 *   index.c   the HTML index of a collection */
#ifndef FERRY_WEBDAV_DAV_H
#define FERRY_WEBDAV_DAV_H

#include "gateway/frontend.h"

extern const struct gw_frontend gw_webdav_frontend;

#endif
