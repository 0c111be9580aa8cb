/* The FTP and FTPS front end for legacy clients: RFC 959 with the extensions of RFC 2228,
 * 2389, 2428, 2640, 3659 and 4217, explicit (AUTH TLS) and implicit FTPS. One instance
 * serves one control connection inside a session process (gateway/frontend.h); every
 * file operation goes through the session's vfs (gateway/vfs.h). */
#ifndef FERRY_FTP_FTPD_H
#define FERRY_FTP_FTPD_H

#include "gateway/frontend.h"

extern const struct gw_frontend gw_ftp_frontend;

#endif
