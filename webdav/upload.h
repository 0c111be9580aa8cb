/* Resumable uploads of the WebDAV front end, as the IETF draft "Resumable Uploads for
 * HTTP" defines them: draft-ietf-httpbis-resumable-upload-12 (July 2026, draft interop
 * version 8). It sits beside the Apache mod_dav style (PUT with Content-Range, in
 * methods.c) and resumes the very same bytes: the caller's hidden partial upload of the
 * target (gateway/vfs.h), which FTP REST/APPE and SFTP reput continue too.
 *
 *   creation   PUT /dir/name with Upload-Complete: ?0 or ?1 (and optionally
 *              Upload-Length). New content goes to the caller's partial; the upload
 *              resource is announced in a 104 (Upload Resumption Supported) interim
 *              response when the client sent Upload-Draft-Interop-Version: 8, and in
 *              Location of the 201 that ends a ?0 creation.
 *   offset     HEAD /dir/name?upload=TOKEN: 204 with Upload-Offset, Upload-Complete,
 *              Upload-Length (when known), Upload-Limit and Cache-Control: no-store.
 *   append     PATCH /dir/name?upload=TOKEN, Content-Type: application/partial-upload,
 *              Upload-Offset (must be the current offset, else 409 with the right one)
 *              and Upload-Complete; ?1 commits the partial atomically, as a PUT does.
 *              Clients of interop version 8 get a 104 with Upload-Offset every
 *              DAV_UPLOAD_PROGRESS bytes of a creation or append.
 *   cancel     DELETE /dir/name?upload=TOKEN removes the partial.
 *
 * The upload resource is the target's URL plus "?upload=TOKEN". The token is not a
 * capability: every request still needs the user's credentials, and the vfs resolves
 * only the caller's own partial, so nobody else can reach it whatever token they send.
 * The token names one upload: TOKEN = NONCE MAC [ "." LENGTH ], where NONCE is 12 random
 * bytes (24 hex digits, so each creation gets a URL of its own), LENGTH the upload's
 * length when the creation request told it, and MAC (24 hex digits) the first 12 bytes
 * of SHA-256 over the user, the server-relative path, the partial's inode, the nonce and
 * the length. A token therefore stops working when its partial is gone (cancelled,
 * expired) and keeps reporting "complete" after the commit, because the rename keeps the
 * inode. The device is left out so that nodes sharing the root over a network file
 * system (each with its own st_dev for it) accept each other's tokens. Limits, for want
 * of state: a new creation for the same target reuses the caller's one partial (and its
 * inode), so an earlier URL then reaches the new upload (the offset check still keeps
 * bytes from mixing); a file system that reuses a freed inode number at once can revive
 * a URL of a cancelled upload the same way.
 *
 * The parsers below are pure over (buf, len) and refuse everything but the exact
 * syntax (structured fields of RFC 9651, bare items only: parameters make a field
 * invalid, which the draft says to treat as absent). */
#ifndef FERRY_WEBDAV_UPLOAD_H
#define FERRY_WEBDAV_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAV_UPLOAD_DRAFT "draft-ietf-httpbis-resumable-upload-12"
#define DAV_UPLOAD_INTEROP 8 /* Upload-Draft-Interop-Version of that draft */
#define DAV_UPLOAD_MEDIA "application/partial-upload"
#define DAV_UPLOAD_NONCE 12            /* bytes */
#define DAV_UPLOAD_MAC 12              /* bytes */
#define DAV_UPLOAD_TOKEN_MAX 72        /* 48 hex digits, '.', 19 digits, NUL */
#define DAV_UPLOAD_LOCK_WAIT_MS 5000   /* wait for an append still running on the upload */
#define DAV_UPLOAD_PROGRESS (4u << 20) /* bytes between two 104 progress reports */

/* A structured-field Integer (RFC 9651 section 3.3.1) that is not negative: 1 to 15
 * digits. 0 and *out, or GW_ERR_INVAL for anything else (signs, spaces, parameters,
 * decimals, 16 digits). */
int dav_sf_uint(const char *v, size_t n, uint64_t *out);
/* A structured-field Boolean (section 3.3.6): exactly "?0" or "?1". 0 and *out, or
 * GW_ERR_INVAL. */
int dav_sf_bool(const char *v, size_t n, bool *out);
/* True when the media type of a Content-Type value (before any ';' parameters, spaces
 * around it ignored) is type, compared case-insensitively. */
bool dav_media_type_is(const char *v, size_t n, const char *type);

/* One upload resource, as its token names it. */
struct dav_upload_id {
    unsigned char nonce[DAV_UPLOAD_NONCE];
    unsigned char mac[DAV_UPLOAD_MAC];
    bool has_len;
    uint64_t len; /* the upload's length, when has_len */
};

/* Finds the upload resource's token in a request-target. Returns 1 with *tok and
 * *toklen when the query is "upload=TOKEN" (syntax checked by dav_upload_token_parse),
 * 0 when the target has no query or one that is not about uploads, GW_ERR_INVAL when
 * the query names an upload but is malformed (anything after the token, a second
 * parameter, a fragment). */
int dav_upload_query(const char *target, size_t n, const char **tok, size_t *toklen);
/* Parses TOKEN: 48 lowercase hex digits, optionally "." and a length of 1 to 19
 * digits (no leading zero unless it is "0"). 0 or GW_ERR_INVAL. */
int dav_upload_token_parse(const char *s, size_t n, struct dav_upload_id *id);
/* Formats id as a token (NUL-terminated). 0 or GW_ERR_TOOLONG. */
int dav_upload_token_format(const struct dav_upload_id *id, char *out, size_t outsz);
/* The MAC binding an upload to the user, the server-relative path and the partial's
 * inode (see the top of this file). 0 or GW_ERR_NOMEM. */
int dav_upload_mac(const char *user, const char *key, uint64_t ino, const struct dav_upload_id *id,
                   unsigned char mac[DAV_UPLOAD_MAC]);

/* Method handlers (the WebDAV dispatch table points at these). Each serves the draft's
 * request when it is one and hands every other request to the plain handler of
 * methods.c: HEAD and DELETE with "?upload=" in the URL, PUT with a valid
 * Upload-Complete field, PATCH with "?upload=" (PATCH without it keeps the older
 * in-place flow of dav_m_patch). Return as the dav_m_* handlers do. */
struct dav_ctx;
int dav_upload_head(struct dav_ctx *x);
int dav_upload_put(struct dav_ctx *x);
int dav_upload_patch(struct dav_ctx *x);
int dav_upload_delete(struct dav_ctx *x);

#endif
