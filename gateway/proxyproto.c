/* PROXY protocol v1/v2 parser and the trusted-peer list (proxyproto.h). Pure: no I/O,
 * no logging, no globals. The specification is HAProxy's doc/proxy-protocol.txt. */
#include "gateway/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "gateway/err.h"

static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN 6
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11
#define V2_FAM_TCP6 0x21
#define V2_ADDR_LEN_TCP4 12
#define V2_ADDR_LEN_TCP6 36

/* True when the len bytes we have agree with the first bytes of sig. */
static bool starts_like(const unsigned char *p, size_t len, const void *sig, size_t siglen)
{
    return memcmp(p, sig, len < siglen ? len : siglen) == 0;
}

static void set_in4(struct sockaddr_storage *ss, socklen_t *sl, const void *addr, uint16_t port)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, addr, 4);
    in->sin_port = htons(port);
    *sl = sizeof *in;
}

static void set_in6(struct sockaddr_storage *ss, socklen_t *sl, const void *addr, uint16_t port)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, addr, 16);
    in6->sin6_port = htons(port);
    *sl = sizeof *in6;
}

/* A v1 port: decimal 0..65535 without sign or leading zeros. */
static bool v1_port(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* A v1 address of the family named by the protocol token. */
static bool v1_addr(int family, const char *s, size_t n, unsigned char out[16])
{
    char tmp[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(family, tmp, out) == 1;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n"; line excludes the CRLF and holds no NUL. */
static int parse_v1_line(const char *line, size_t n, struct gw_proxy_hdr *h)
{
    const char *f[5];
    size_t fl[5], nf = 0, pos = V1_SIG_LEN;
    while (pos <= n && nf < 5) {
        const char *sp = memchr(line + pos, ' ', n - pos);
        size_t end = sp ? (size_t)(sp - line) : n;
        f[nf] = line + pos;
        fl[nf] = end - pos;
        nf++;
        pos = end + 1;
        /* UNKNOWN: whatever follows is the balancer's business, not ours. */
        if (nf == 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
            h->version = 1;
            h->has_addr = false;
            return 0;
        }
        if (!sp)
            break;
    }
    if (nf != 5 || pos <= n) /* too few fields, or a sixth one */
        return GW_ERR_PROTO;
    int family;
    if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
        family = AF_INET;
    else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
        family = AF_INET6;
    else
        return GW_ERR_PROTO;
    unsigned char src[16], dst[16];
    uint16_t sport, dport;
    if (!v1_addr(family, f[1], fl[1], src) || !v1_addr(family, f[2], fl[2], dst) ||
        !v1_port(f[3], fl[3], &sport) || !v1_port(f[4], fl[4], &dport))
        return GW_ERR_PROTO;
    if (family == AF_INET) {
        set_in4(&h->src, &h->src_len, src, sport);
        set_in4(&h->dst, &h->dst_len, dst, dport);
    } else {
        set_in6(&h->src, &h->src_len, src, sport);
        set_in6(&h->dst, &h->dst_len, dst, dport);
    }
    h->version = 1;
    h->has_addr = true;
    return 0;
}

static int parse_v1(const unsigned char *p, size_t len, struct gw_proxy_hdr *h)
{
    char line[GW_PROXY_V1_MAX_LEN];
    if (!starts_like(p, len, v1_sig, V1_SIG_LEN))
        return GW_ERR_PROTO;
    size_t lim = len < GW_PROXY_V1_MAX_LEN ? len : GW_PROXY_V1_MAX_LEN;
    const unsigned char *nl = memchr(p, '\n', lim);
    if (!nl)
        return len >= GW_PROXY_V1_MAX_LEN ? GW_ERR_PROTO : 0;
    size_t n = (size_t)(nl - p) + 1; /* header length, CRLF included */
    if (n < GW_PROXY_V1_MIN_LEN || p[n - 2] != '\r')
        return GW_ERR_PROTO;
    memcpy(line, p, n - 2);
    if (memchr(line, '\0', n - 2) || memchr(line, '\r', n - 2))
        return GW_ERR_PROTO;
    int rc = parse_v1_line(line, n - 2, h);
    return rc < 0 ? rc : (int)n;
}

/* TLVs (type u8, length u16) must exactly fill [pos, end): none may run past it. */
static bool v2_tlvs_ok(const unsigned char *p, size_t pos, size_t end)
{
    while (pos < end) {
        if (end - pos < 3)
            return false;
        size_t tl = (size_t)p[pos + 1] << 8 | p[pos + 2];
        pos += 3;
        if (tl > end - pos)
            return false;
        pos += tl;
    }
    return true;
}

static int parse_v2(const unsigned char *p, size_t len, struct gw_proxy_hdr *h)
{
    if (!starts_like(p, len, v2_sig, sizeof v2_sig))
        return GW_ERR_PROTO;
    if (len < 13)
        return 0;
    unsigned ver = p[12] >> 4, cmd = p[12] & 0x0f;
    if (ver != 2 || (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY))
        return GW_ERR_PROTO;
    if (len < 14)
        return 0;
    unsigned fam = p[13];
    size_t need_addr = 0;
    if (cmd == V2_CMD_PROXY) {
        if (fam == V2_FAM_TCP4)
            need_addr = V2_ADDR_LEN_TCP4;
        else if (fam == V2_FAM_TCP6)
            need_addr = V2_ADDR_LEN_TCP6;
        else if (fam != V2_FAM_UNSPEC) /* UDP, AF_UNIX: not something Ferry serves */
            return GW_ERR_PROTO;
    }
    if (len < GW_PROXY_V2_HDR_LEN)
        return 0;
    size_t plen = (size_t)p[14] << 8 | p[15];
    if (plen > GW_PROXY_V2_MAX_LEN - GW_PROXY_V2_HDR_LEN || plen < need_addr)
        return GW_ERR_PROTO;
    size_t total = GW_PROXY_V2_HDR_LEN + plen;
    if (len < total)
        return 0;
    h->version = 2;
    h->has_addr = false;
    /* LOCAL (health checks) and UNSPEC: the block is skipped unread, as the spec asks. */
    if (cmd == V2_CMD_LOCAL || fam == V2_FAM_UNSPEC)
        return (int)total;
    const unsigned char *a = p + GW_PROXY_V2_HDR_LEN;
    if (!v2_tlvs_ok(p, GW_PROXY_V2_HDR_LEN + need_addr, total))
        return GW_ERR_PROTO;
    if (fam == V2_FAM_TCP4) {
        set_in4(&h->src, &h->src_len, a, (uint16_t)(a[8] << 8 | a[9]));
        set_in4(&h->dst, &h->dst_len, a + 4, (uint16_t)(a[10] << 8 | a[11]));
    } else {
        set_in6(&h->src, &h->src_len, a, (uint16_t)(a[32] << 8 | a[33]));
        set_in6(&h->dst, &h->dst_len, a + 16, (uint16_t)(a[34] << 8 | a[35]));
    }
    h->has_addr = true;
    return (int)total;
}

int gw_proxy_parse(const void *buf, size_t len, struct gw_proxy_hdr *h)
{
    const unsigned char *p = buf;
    if (len == 0)
        return 0;
    if (p[0] == (unsigned char)v1_sig[0])
        return parse_v1(p, len, h);
    if (p[0] == v2_sig[0])
        return parse_v2(p, len, h);
    return GW_ERR_PROTO;
}

size_t gw_proxy_safe_read(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len < GW_PROXY_V1_MIN_LEN)
        return GW_PROXY_V1_MIN_LEN - len;
    if (p[0] != v2_sig[0])
        return 0; /* v1: ends at the next LF */
    if (len < GW_PROXY_V2_HDR_LEN)
        return GW_PROXY_V2_HDR_LEN - len;
    size_t total = GW_PROXY_V2_HDR_LEN + ((size_t)p[14] << 8 | p[15]);
    return total > len ? total - len : 0;
}

/* One "ADDR" or "ADDR/PREFIX" entry (NUL-terminated, trimmed). */
static bool acl_entry(char *s, struct gw_proxy_acl *acl)
{
    unsigned char a[16];
    char *slash = strchr(s, '/');
    unsigned prefix = 0, bits;
    int family;
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, s, a) == 1)
        family = AF_INET, bits = 32;
    else if (inet_pton(AF_INET6, s, a) == 1)
        family = AF_INET6, bits = 128;
    else
        return false;
    if (slash) {
        const char *d = slash + 1;
        size_t n = strlen(d);
        if (n == 0 || n > 3 || (d[0] == '0' && n > 1))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (d[i] < '0' || d[i] > '9')
                return false;
            prefix = prefix * 10 + (unsigned)(d[i] - '0');
        }
        if (prefix > bits)
            return false;
    } else {
        prefix = bits;
    }
    /* Host bits beyond the prefix are cleared, like iptables and HAProxy do. */
    for (unsigned i = 0; i < bits / 8; i++) {
        unsigned keep = prefix > i * 8 ? prefix - i * 8 : 0;
        if (keep < 8)
            a[i] &= (unsigned char)(0xff00u >> keep);
    }
    acl->net[acl->n].family = family;
    memcpy(acl->net[acl->n].addr, a, bits / 8);
    acl->net[acl->n].prefix = prefix;
    acl->n++;
    return true;
}

int gw_proxy_acl_parse(const char *spec, struct gw_proxy_acl *acl, char *err, size_t errsz)
{
    memset(acl, 0, sizeof *acl);
    const char *p = spec ? spec : "";
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char entry[INET6_ADDRSTRLEN + 8];
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0 || n >= sizeof entry) {
            snprintf(err, errsz, "proxy_trusted: empty or over-long entry");
            return GW_ERR_CONFIG;
        }
        memcpy(entry, p, n);
        entry[n] = '\0';
        if (acl->n >= GW_PROXY_MAX_TRUSTED) {
            snprintf(err, errsz, "proxy_trusted: more than %d entries", GW_PROXY_MAX_TRUSTED);
            return GW_ERR_CONFIG;
        }
        char shown[sizeof entry];
        memcpy(shown, entry, n + 1);
        if (!acl_entry(entry, acl)) {
            snprintf(err, errsz, "proxy_trusted: '%s' is not an address or ADDR/PREFIX", shown);
            return GW_ERR_CONFIG;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return (a[whole] & mask) == (net[whole] & mask);
}

bool gw_proxy_acl_match(const struct gw_proxy_acl *acl, const struct sockaddr *sa)
{
    uint8_t a[16];
    int family;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(a, a6->s6_addr + 12, 4);
            family = AF_INET;
        } else {
            memcpy(a, a6->s6_addr, 16);
            family = AF_INET6;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < acl->n; i++)
        if (acl->net[i].family == family && prefix_match(a, acl->net[i].addr, acl->net[i].prefix))
            return true;
    return false;
}
