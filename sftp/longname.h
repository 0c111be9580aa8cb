/* The `ls -l` style "longname" that SFTP v3 servers send with every READDIR entry and
 * that clients (OpenSSH sftp `ls -l`, curl, WinSCP) print as is. Same layout as
 * OpenSSH's sftp-server, with times in UTC and English month names so the output does
 * not depend on the server's locale or time zone. Pure. */
#ifndef FERRY_SFTP_LONGNAME_H
#define FERRY_SFTP_LONGNAME_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/limits.h"
#include "gateway/vfs.h"

/* Longest longname: mode, links, two padded owner names, size, date and one name. */
#define SFTPD_LONGNAME_MAX (64 + 2 * GW_MAX_USER_NAME + GW_MAX_NAME + 1)

/* Writes the ten-character mode string ("drwxr-xr-x") of mode into out[11]. */
void sftpd_mode_string(uint32_t mode, char out[11]);

/* Formats "-rw-r--r--    1 owner    group        1234 Jan  5 12:34 name" into out.
 * Dates within six months of now (seconds since the epoch) show the time, others the
 * year. Returns the length, or GW_ERR_TOOLONG when out is too small (out then holds
 * an empty string). */
int sftpd_longname(char *out, size_t outsz, const char *name, const struct vfs_stat *st,
                   const char *owner, const char *group, int64_t now);

#endif
