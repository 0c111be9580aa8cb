/* Every hard limit of Ferry, in one place. Configurable limits have their defaults
 * here too (GW_DEFAULT_*); the config can lower or raise those, never the GW_MAX_*. */
#ifndef FERRY_GATEWAY_LIMITS_H
#define FERRY_GATEWAY_LIMITS_H

#define GW_MAX_PATH 4096          /* a virtual path, bytes, NUL included */
#define GW_MAX_NAME 255           /* one path component, bytes */
#define GW_MAX_DEPTH 256          /* path components */
#define GW_MAX_USER_NAME 64       /* user names */
#define GW_MAX_PASSWORD 511       /* passwords as received (libcrypt's limit) */
#define GW_MAX_USERS_LINE 65536   /* one line of STATE/users */
#define GW_MAX_USERS_FILE (64u << 20)
#define GW_MAX_KEYS_PER_USER 64
#define GW_MAX_CONFIG_LINE 4096
#define GW_MAX_CONFIG_FILE (1u << 20)
#define GW_MAX_MOUNTS 64
#define GW_MAX_LISTENERS 16
#define GW_MAX_IPC_MSG 65536      /* one session <-> parent message */
#define GW_MAX_AUDIT_LINE 65536   /* one audit record */
#define GW_MAX_FTP_LINE 4096      /* FTP command line, CRLF included */
#define GW_MAX_SFTP_PACKET (256u * 1024)
#define GW_MAX_HTTP_LINE 8192     /* request line */
#define GW_MAX_HTTP_HEADERS 65536 /* all header bytes */
#define GW_MAX_HTTP_HEADER_COUNT 100
#define GW_MAX_XML_BODY (1u << 20)
#define GW_MAX_LISTING_LINE 65536 /* one line of an upstream LIST reply */
#define GW_IO_CHUNK (256u * 1024)

#define GW_THROTTLE_SLOTS 4096    /* remote addresses tracked for failed logins */
#define GW_MAX_AUTH_WORKERS 64    /* password verification threads in the parent */
#define GW_MAX_AUTH_QUEUE 1024    /* password checks queued in the parent; then refused */
#define GW_IPC_BATCH 16           /* messages the parent serves per session per loop turn */

#define GW_DEFAULT_MAX_SESSIONS 256
#define GW_DEFAULT_MAX_PER_ADDRESS 32
#define GW_DEFAULT_LOGIN_TIMEOUT 60   /* seconds */
#define GW_DEFAULT_IDLE_TIMEOUT 300   /* seconds */
#define GW_DEFAULT_DATA_TIMEOUT 60    /* seconds */
#define GW_DEFAULT_SHUTDOWN_GRACE 10  /* seconds */
#define GW_DEFAULT_PARTIAL_TTL (7 * 24 * 3600)
#define GW_DEFAULT_MAX_LOGIN_FAILS 5  /* per session, then disconnect */
#define GW_DEFAULT_AUTH_WORKERS 0     /* 0: one per online CPU */

#endif
