/* PROXY protocol (HAProxy's, versions 1 and 2): the header a TCP load balancer puts in
 * front of a connection to tell the server who the real client is. Pure functions over
 * (buf, len): the parser, and the trusted-peer list (`proxy_trusted`) that decides whose
 * headers are believed. Reading the header off a socket is gateway/proxyconn.h.
 *
 * Accepted: v1 "PROXY TCP4|TCP6|UNKNOWN ...\r\n" (at most 107 bytes, canonical
 * addresses and ports, single spaces), v2 binary with the PROXY command over TCP/IPv4 or
 * TCP/IPv6 (TLVs are walked and must tile the rest of the header exactly, their contents
 * are ignored), v2 LOCAL (the balancer's own health check) and v2 PROXY with AF_UNSPEC.
 * Refused: anything else, including v2 over UDP or AF_UNIX, v1 with a bare LF, and a v2
 * header longer than GW_PROXY_V2_MAX_LEN. */
#ifndef FERRY_GATEWAY_PROXYPROTO_H
#define FERRY_GATEWAY_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* v1: the specification's own bound, CRLF included. */
#define GW_PROXY_V1_MAX_LEN 107
/* Shortest v1 header ("PROXY UNKNOWN\r\n"): this many bytes can always be read without
 * reading past the header. */
#define GW_PROXY_V1_MIN_LEN 15
/* v2: 16 fixed bytes, then the address block and TLVs. HAProxy sends a few dozen bytes
 * of TLVs at most (ALPN, authority, unique id, SSL summary); 16 + 1008 leaves room for
 * all of them while keeping the reader's buffer on the stack. */
#define GW_PROXY_V2_HDR_LEN 16
#define GW_PROXY_V2_MAX_LEN 1024
/* Entries in a proxy_trusted list. */
#define GW_PROXY_MAX_TRUSTED 32

struct gw_proxy_hdr {
    int version;                 /* 1 or 2 */
    bool has_addr;               /* false: LOCAL / UNKNOWN / AF_UNSPEC: keep the socket's */
    struct sockaddr_storage src; /* the real client (when has_addr) */
    struct sockaddr_storage dst; /* the address the client connected to on the balancer */
    socklen_t src_len, dst_len;
};

/* Parses a PROXY header at the start of buf. Returns the header's length (> 0) with *h
 * filled, 0 when buf is a valid beginning of a header that is not complete yet, or
 * GW_ERR_PROTO when it is not (or can no longer become) a valid header. Never reads
 * past len; bytes after the header are not looked at. */
int gw_proxy_parse(const void *buf, size_t len, struct gw_proxy_hdr *h);

/* For a reader that must not consume bytes after the header (the front end's protocol
 * starts right behind it): how many more bytes certainly belong to the header, given the
 * len bytes read so far. 0 means "the v1 header ends at the next LF": peek for it. Only
 * meaningful while gw_proxy_parse returns 0. */
size_t gw_proxy_safe_read(const void *buf, size_t len);

/* The trusted-peer list: comma-separated addresses and networks ("10.0.0.5,
 * 192.168.0.0/16, ::1, fd00::/8"); host bits beyond the prefix are ignored. */
struct gw_proxy_acl {
    size_t n;
    struct {
        int family; /* AF_INET, AF_INET6 */
        uint8_t addr[16];
        unsigned prefix;
    } net[GW_PROXY_MAX_TRUSTED];
};

/* Parses spec (pure) into acl; on error returns GW_ERR_CONFIG with a message naming the
 * bad entry in err. An empty spec gives an empty list (nobody trusted). */
int gw_proxy_acl_parse(const char *spec, struct gw_proxy_acl *acl, char *err, size_t errsz);
/* True when sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as IPv4) is in the list. */
bool gw_proxy_acl_match(const struct gw_proxy_acl *acl, const struct sockaddr *sa);

#endif
