/* The SFTP front end: SSH transport and login through libssh, SFTP v3 through our own
 * framing (sftp/packet.h) and request engine (sftp/server.h) over the channel of the
 * "sftp" subsystem. Shell, exec, port and agent forwarding and X11 are refused.
 *
 * The parent loads the host key once (init); each session process does the key
 * exchange on its accepted socket, authenticates by password or public key through
 * the parent (gw_session_login_*), then serves the subsystem until the client leaves,
 * the idle timeout passes or the server stops. */
#ifndef FERRY_SFTP_SFTPD_H
#define FERRY_SFTP_SFTPD_H

#include "gateway/frontend.h"

extern const struct gw_frontend gw_sftp_frontend;

#endif
