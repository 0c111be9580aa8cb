/* Dead properties (PROPPATCH) and cached SHA-256 digests of WebDAV resources, kept in
 * the state dir, never beside the user's files.
 *
 * Layout: STATE/webdav/props/t is a tree that mirrors the server's data tree. A
 * resource's server-relative path ("/alice/docs/a.txt", i.e. the session's home joined
 * with the virtual path, so two users who see one file through different homes share its
 * properties) maps to the directory t/_alice/_docs/_a.txt: every component is prefixed
 * with '_' (so no component is "." or ".." and none collides with the data files), or,
 * when longer than 200 bytes, replaced by '#' and the hex SHA-256 of the name. In that
 * directory:
 *   @props   the dead properties, a text file:
 *              line 1: "# ferry webdav properties v1"
 *              then one line per property: NS NAME VALUE, separated by one space,
 *              each field percent-encoded (bytes <= 0x20, '%' and 0x7f as %XX; an
 *              empty field is written as "%"); NS is the namespace URI ("" none), NAME
 *              the local name, VALUE the property's content as XML whose elements
 *              declare their own namespaces (davxml.h), so it can be embedded anywhere.
 *            Lines that do not parse are skipped (a damaged file loses only them).
 *   @sha256  "SIZE MTIME NSEC HEX\n": the digest of the file's content, valid only while
 *            the file's size and mtime are still SIZE and MTIME.NSEC.
 * Files are replaced atomically (write to a temporary name, fsync, rename). Moves,
 * copies and deletes of resources move, copy and delete the mirrored directory, so a
 * collection's members keep their properties. Changes made through other front ends
 * (FTP, SFTP renames) do not follow; stale entries are harmless and removed when a
 * WebDAV client deletes the path. Every change runs under an exclusive flock(2) on
 * STATE/webdav/props.lock: sessions are separate processes. (With `state_db` set, the
 * @props text lives in the shared database instead; @sha256 stays a per-node cache,
 * valid on any node since it is checked against the file's size and mtime.)
 *
 * The text codec (dav_props_parse / dav_props_format) is pure. */
#ifndef FERRY_WEBDAV_PROPS_H
#define FERRY_WEBDAV_PROPS_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/buf.h"
#include "gateway/vfs.h"

#define DAV_PROPS_MAX_FILE (4u << 20) /* bytes of one @props file */
#define DAV_PROPS_MAX 4096            /* properties per resource */

struct dav_prop {
    char *ns, *name, *value; /* owned, NUL-terminated */
};

struct dav_props {
    struct dav_prop *v;
    size_t n, cap;
};

/* Pure codec. parse: GW_ERR_PROTO only for a missing header line; bad lines are
 * skipped. */
int dav_props_parse(const char *buf, size_t len, struct dav_props *out);
int dav_props_format(const struct dav_props *p, struct gw_buf *out);
void dav_props_free(struct dav_props *p);
const struct dav_prop *dav_props_find(const struct dav_props *p, const char *ns, const char *name);
/* Sets (adds or replaces) a property; copies the strings. GW_ERR_LIMIT past
 * DAV_PROPS_MAX. */
int dav_props_set(struct dav_props *p, const char *ns, const char *name, const char *value,
                  size_t vlen);
/* Removes a property; removing an absent one is not an error. */
void dav_props_remove(struct dav_props *p, const char *ns, const char *name);

/* The store. base is STATE/webdav (created on demand); key a server-relative path.
 * s is the session: when dav_shared(s) (locks.h) the properties of key are instead the
 * shared-state blob DAV_PROPS_BLOB + key ("webdav/props/alice/a.txt"), same text,
 * read and written through the parent (gateway/session.h) and bounded by
 * GW_STATE_MAX_BODY (gateway/stateipc.h); there, tree operations move, copy and
 * delete the resource's own properties only (the database is asked for names, never
 * for listings): the caller, which walks the tree anyway, handles each member
 * (methods.c). s may be NULL (files). */
#define DAV_PROPS_BLOB "webdav/props"
struct gw_session;
int dav_props_load(const char *base, struct gw_session *s, const char *key, struct dav_props *out);
/* A read-modify-write of key's properties: open locks the store (files: an exclusive
 * flock on STATE/webdav/props.lock; shared: key's row, across nodes) and loads them
 * into db->p; close writes db->p back when save is true (an empty set removes them),
 * releases the lock and frees db->p. Failures of the shared store: GW_ERR_IO,
 * GW_ERR_AGAIN, GW_ERR_TIMEOUT (cannot be asked), GW_ERR_NOSPC (does not fit). */
struct dav_propdb {
    const char *base;
    struct gw_session *share; /* non-NULL: shared state */
    const char *key;
    int lockfd;
    bool held;
    struct dav_props p;
};
int dav_propdb_open(struct dav_propdb *db, const char *base, struct gw_session *s, const char *key);
int dav_propdb_close(struct dav_propdb *db, bool save);
/* Tree operations, each under the store's lock. move replaces whatever was at to; copy
 * copies the resource's own entries, and with recursive its whole subtree; delete
 * removes the subtree. Missing sources are not errors. */
int dav_props_move(const char *base, struct gw_session *s, const char *from, const char *to);
int dav_props_copy(const char *base, struct gw_session *s, const char *from, const char *to,
                   bool recursive);
int dav_props_delete(const char *base, struct gw_session *s, const char *key);

/* The SHA-256 cache: get returns true with the digest when one is stored and st (the
 * file's current stat) still matches; put stores one (best effort). */
bool dav_hash_get(const char *base, const char *key, const struct vfs_stat *st,
                  unsigned char out[32]);
void dav_hash_put(const char *base, const char *key, const struct vfs_stat *st,
                  const unsigned char sum[32]);

#endif
