/* PROXY protocol on accepted connections (`proxy_protocol = yes` in [server]): the
 * session process, before its front end says or reads anything, checks that the peer
 * is a trusted balancer (`proxy_trusted`), reads the balancer's header within
 * GW_PROXY_TIMEOUT_MS without consuming a byte of what follows (TLS, SSH and HTTP
 * clients speak first), and takes the client address it names as the session's remote
 * address. The parser itself is gateway/proxyproto.h.
 *
 * Policy: with proxy_protocol on, every listener but metrics (scraped per node,
 * directly) requires the header; a connection from a peer outside proxy_trusted, one
 * without a valid header, or one that stays silent is closed before the front end
 * speaks. A LOCAL (v2) or UNKNOWN (v1) header - the balancer's own health checks - keeps
 * the socket's addresses. */
#ifndef FERRY_GATEWAY_PROXYCONN_H
#define FERRY_GATEWAY_PROXYCONN_H

#include "gateway/proxyproto.h"
#include "gateway/session.h"

/* How long a trusted balancer may take to send its header (HAProxy sends it with the
 * connection). */
#define GW_PROXY_TIMEOUT_MS 5000
/* The same for an FTP passive data connection, where a header is optional (see
 * ftp/ftpd_data.c): the header comes with the connection or not at all. */
#define GW_PROXY_DATA_TIMEOUT_MS 300

/* Reads one PROXY header off fd, exactly: on success no byte after the header has been
 * consumed. Waits at most timeout_ms in total. Returns 0 with *h filled, GW_ERR_PROTO
 * (not a valid header, or the peer closed first), GW_ERR_TIMEOUT, GW_ERR_AGAIN (the
 * session was told to stop) or GW_ERR_IO. */
int gw_proxy_read(int fd, int timeout_ms, struct gw_proxy_hdr *h);

/* Applies the policy above to a new session accepted on listener lname ("ftp",
 * "https", ...): returns 0 when the session may go on (s->peer, s->remote and
 * s->remote_addr then name the real client when the header carried one), or a negative
 * GW_ERR_* when the connection must be closed (the reason is logged). */
int gw_proxy_session_start(struct gw_session *s, const char *lname);

/* ---- For the parent (gateway/server.c) -------------------------------------------- */

/* True when proxy_protocol is on and peer is in proxy_trusted: the connection's TCP
 * peer is a balancer, so its address says nothing about the client (the per-address
 * session limit waits for the address the session reports). */
bool gw_proxy_peer_trusted(const struct gw_config *cfg, const struct sockaddr *peer);

/* Checks a session's report of its client address (what gw_proxy_session_start read
 * from the header): proxy_protocol on, the session's TCP peer peer_addr (numeric, as the
 * parent formatted it) in proxy_trusted, addr a numeric IPv4/IPv6 address, port
 * 0..65535. On success fills addr_out ("addr") and remote_out ("addr:port",
 * "[v6]:port") as the parent spells them and returns 0; else GW_ERR_PERM (not a
 * balancer's session) or GW_ERR_PROTO (malformed). Pure apart from reading cfg. */
int gw_proxy_check_claim(const struct gw_config *cfg, const char *peer_addr, const char *addr,
                         int64_t port, char *addr_out, size_t addrsz, char *remote_out,
                         size_t remotesz);

/* Spells a socket address as the audit log and limits do: addr "192.0.2.1" or
 * "2001:db8::1" (IPv4-mapped shown as IPv4), remote "addr:port" / "[addr]:port". */
void gw_format_addr(const struct sockaddr_storage *ss, char *addr, size_t addrsz, char *remote,
                    size_t remotesz);

#endif
