/* The upstream FTP mount backend: a struct vfs_ops (gateway/vfs.h) that makes a legacy FTP
 * server appear inside the virtual file system ([mount /PATH] in the config, DESIGN.md).
 *
 * Names: the backend's paths are the decoded names its readdir gives (UTF-8, with the
 * "%HH" escape of ftp/encoding.h for bytes the detected charset cannot decode). Every
 * operation maps each component back to the server's raw bytes: through the listing of
 * its directory when the name is listed there, else by encoding it with that directory's
 * charset (new names).
 *
 * Listings are cached per directory for the mount's cache_ttl; the stat of an entry
 * comes from its parent's listing (no SIZE/MDTM round trip), and every change made
 * through the backend drops the listings it touches. Reads stream from the server (a
 * read at another offset restarts the download with REST); writes stream to it (STOR,
 * or APPE to continue a file at its end). Transfers run on their own pooled connections
 * (ftpc_xfer), listings and commands on the client's control connection.
 *
 * Limits of FTP, reported as GW_ERR_NOTSUP: writing inside a file (at an offset below
 * its size), truncating, hard and symbolic links, statvfs, fsync (an upload is durable
 * when the server confirms it, at close). set_mtime needs MFMT in the server's FEAT.
 *
 * One backend instance per session (not thread-safe); the caller owns it and releases
 * it with ops->free after every file and directory handle is closed. */
#ifndef FERRY_FTP_VFS_FTP_H
#define FERRY_FTP_VFS_FTP_H

#include <stddef.h>

#include "gateway/config.h"
#include "gateway/vfs.h"

extern const struct vfs_ops ftpc_mount_ops;

/* Creates the backend for mount m (url, encoding, listing, timezone, read_only,
 * cache_ttl). Does not connect: the first operation does, so a server that is down
 * makes operations fail (GW_ERR_UPSTREAM) rather than the login. Returns 0 with *ops and
 * *backend set, or GW_ERR_CONFIG / GW_ERR_NOMEM with a message in err. */
int ftpc_mount_new(const struct cfg_mount *m, const struct vfs_ops **ops, void **backend, char *err,
                   size_t errsz);

#endif
