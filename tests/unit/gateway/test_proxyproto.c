/* Unit tests for gateway/proxyproto.c: PROXY protocol v1/v2 parsing (every rejection
 * the parser makes, incremental arrival, never reading past the header) and the
 * proxy_trusted list. Replays tests/data/fuzz-regress/proxyproto/. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/err.h"
#include "gateway/proxyproto.h"

static const unsigned char SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Builds a v2 header: 16 fixed bytes, then payload. Returns its length. */
static size_t v2(unsigned char *out, unsigned char vercmd, unsigned char fam,
                 const unsigned char *payload, size_t plen)
{
    memcpy(out, SIG, 12);
    out[12] = vercmd;
    out[13] = fam;
    out[14] = (unsigned char)(plen >> 8);
    out[15] = (unsigned char)plen;
    if (plen)
        memcpy(out + 16, payload, plen);
    return 16 + plen;
}

/* 192.0.2.10:51000 -> 198.51.100.1:21 */
static const unsigned char TCP4_ADDR[12] = {192, 0, 2, 10, 198, 51, 100, 1, 0xC7, 0x38, 0, 21};

static const char *src_str(const struct gw_proxy_hdr *h, char *buf, size_t sz)
{
    unsigned port;
    char host[INET6_ADDRSTRLEN];
    if (h->src.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&h->src;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&h->src;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, sz, "%s %u", host, port);
    return buf;
}

static int parse_str(const char *s, struct gw_proxy_hdr *h)
{
    return gw_proxy_parse(s, strlen(s), h);
}

/* A complete header of length n: every proper prefix is "need more", the reader's
 * safe-read hint never points past the end, and bytes after the header are not eaten. */
static void check_incremental(const unsigned char *hdr, size_t n)
{
    struct gw_proxy_hdr h;
    unsigned char buf[GW_PROXY_V2_MAX_LEN + 8];
    ck_assert_uint_le(n + 4, sizeof buf);
    for (size_t k = 0; k < n; k++) {
        ck_assert_msg(gw_proxy_parse(hdr, k, &h) == 0, "prefix %zu of %zu", k, n);
        size_t s = gw_proxy_safe_read(hdr, k);
        ck_assert_msg(k + s <= n, "safe_read %zu at %zu overshoots %zu", s, k, n);
    }
    memcpy(buf, hdr, n);
    memcpy(buf + n, "SSH-", 4);
    ck_assert_int_eq(gw_proxy_parse(buf, n + 4, &h), (int)n);
}

START_TEST(test_v1_valid)
{
    struct gw_proxy_hdr h;
    char s[64];
    const char *t4 = "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21\r\n";
    ck_assert_int_eq(parse_str(t4, &h), (int)strlen(t4));
    ck_assert_int_eq(h.version, 1);
    ck_assert(h.has_addr);
    ck_assert_str_eq(src_str(&h, s, sizeof s), "192.0.2.10 51000");
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&h.dst)->sin_port), 21);
    check_incremental((const unsigned char *)t4, strlen(t4));

    const char *t6 = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n";
    ck_assert_int_eq(parse_str(t6, &h), (int)strlen(t6));
    ck_assert_int_eq(h.src.ss_family, AF_INET6);
    ck_assert_str_eq(src_str(&h, s, sizeof s), "2001:db8::7 65535");
    check_incremental((const unsigned char *)t6, strlen(t6));

    /* UNKNOWN: the rest of the line is ignored, the socket's addresses stay. */
    ck_assert_int_eq(parse_str("PROXY UNKNOWN\r\n", &h), 15);
    ck_assert(!h.has_addr);
    const char *unk = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    ck_assert_int_eq(parse_str(unk, &h), (int)strlen(unk));
    ck_assert(!h.has_addr);
    check_incremental((const unsigned char *)"PROXY UNKNOWN\r\n", 15);

    /* The longest legal header, exactly 107 bytes. */
    const char *max = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    ck_assert_uint_eq(strlen(max), 104);
    ck_assert_int_eq(parse_str(max, &h), 104);
    char pad[GW_PROXY_V1_MAX_LEN + 1];
    memset(pad, 'x', sizeof pad);
    memcpy(pad, "PROXY UNKNOWN ", 14);
    memcpy(pad + GW_PROXY_V1_MAX_LEN - 2, "\r\n", 2);
    ck_assert_int_eq(gw_proxy_parse(pad, GW_PROXY_V1_MAX_LEN, &h), GW_PROXY_V1_MAX_LEN);
}
END_TEST

START_TEST(test_v1_rejected)
{
    struct gw_proxy_hdr h;
    static const char *bad[] = {
        "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21\n",     /* bare LF */
        "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21\r\r\n", /* CR inside */
        "PROXY  TCP4 192.0.2.10 198.51.100.1 51000 21\r\n",  /* double space */
        "PROXY TCP4 192.0.2.10  198.51.100.1 51000 21\r\n",
        "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21 \r\n",  /* trailing space */
        "PROXY TCP4 192.0.2.10 198.51.100.1 51000\r\n",      /* field missing */
        "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21 9\r\n", /* extra field */
        "PROXY TCP5 192.0.2.10 198.51.100.1 51000 21\r\n",   /* unknown protocol */
        "PROXY tcp4 192.0.2.10 198.51.100.1 51000 21\r\n",   /* case matters */
        "PROXY UNKNOWNX\r\n",
        "PROXY TCP4 2001:db8::1 198.51.100.1 51000 21\r\n", /* family mismatch */
        "PROXY TCP6 192.0.2.10 2001:db8::1 51000 21\r\n",
        "PROXY TCP4 192.0.2.256 198.51.100.1 51000 21\r\n", /* bad address */
        "PROXY TCP4 192.0.2 198.51.100.1 51000 21\r\n",
        "PROXY TCP4 192.0.2.10 198.51.100.1 65536 21\r\n",  /* port range */
        "PROXY TCP4 192.0.2.10 198.51.100.1 051000 21\r\n", /* leading zero */
        "PROXY TCP4 192.0.2.10 198.51.100.1 +5 21\r\n",     /* sign */
        "PROXY TCP4 192.0.2.10 198.51.100.1 5x 21\r\n",
        "PROXY TCP4 192.0.2.10 198.51.100.1 -1 21\r\n",
        "PROXY TCP4 192.0.2.10 198.51.100.1 1 \r\n", /* empty port */
        "PROXY \r\n",                                /* too short */
        "PROXY\r\n",
        "proxy TCP4 192.0.2.10 198.51.100.1 51000 21\r\n", /* signature */
        "GET / HTTP/1.1\r\n",                              /* not a header at all */
        "SSH-2.0-OpenSSH_9.2\r\n",
        "\x16\x03\x01\x02\x00", /* TLS ClientHello */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse_str(bad[i], &h) == GW_ERR_PROTO, "accepted [%s]", bad[i]);
    /* An embedded NUL before the CRLF. */
    const char nul[] = "PROXY UNKNOWN \0\r\n";
    ck_assert_int_eq(gw_proxy_parse(nul, sizeof nul - 1, &h), GW_ERR_PROTO);
    /* Errors are known as soon as the first differing byte arrives. */
    ck_assert_int_eq(gw_proxy_parse("PROXX", 5, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse("PRO", 3, &h), 0);
    ck_assert_int_eq(gw_proxy_parse("U", 1, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse("", 0, &h), 0);
    /* No LF within 107 bytes: refused, not waited for. */
    char longl[200];
    memset(longl, 'x', sizeof longl);
    memcpy(longl, "PROXY UNKNOWN ", 14);
    ck_assert_int_eq(gw_proxy_parse(longl, GW_PROXY_V1_MAX_LEN - 1, &h), 0);
    ck_assert_int_eq(gw_proxy_parse(longl, GW_PROXY_V1_MAX_LEN, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse(longl, sizeof longl, &h), GW_ERR_PROTO);
    /* LF at byte 108: one too many. */
    memcpy(longl + GW_PROXY_V1_MAX_LEN - 1, "\r\n", 2);
    ck_assert_int_eq(gw_proxy_parse(longl, GW_PROXY_V1_MAX_LEN + 1, &h), GW_ERR_PROTO);
}
END_TEST

START_TEST(test_v2_valid)
{
    struct gw_proxy_hdr h;
    unsigned char b[GW_PROXY_V2_MAX_LEN + 16], pl[GW_PROXY_V2_MAX_LEN];
    char s[64];
    size_t n = v2(b, 0x21, 0x11, TCP4_ADDR, sizeof TCP4_ADDR);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), 28);
    ck_assert_int_eq(h.version, 2);
    ck_assert(h.has_addr);
    ck_assert_str_eq(src_str(&h, s, sizeof s), "192.0.2.10 51000");
    check_incremental(b, n);

    /* TCP6 with TLVs (ALPN, authority, NOOP padding of length 0) after the addresses. */
    memset(pl, 0, sizeof pl);
    pl[0] = 0x20, pl[1] = 0x01, pl[2] = 0x0d, pl[3] = 0xb8, pl[15] = 7; /* src */
    pl[16] = 0x20, pl[17] = 0x01, pl[18] = 0x0d, pl[19] = 0xb8, pl[31] = 1;
    pl[32] = 0x12, pl[33] = 0x34, pl[34] = 0, pl[35] = 22;
    size_t k = 36;
    const unsigned char tlvs[] = {0x01, 0, 2, 'h', '2', 0x02, 0, 3, 'f', 'o', 'o', 0x04, 0, 0};
    memcpy(pl + k, tlvs, sizeof tlvs);
    k += sizeof tlvs;
    n = v2(b, 0x21, 0x21, pl, k);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), (int)n);
    ck_assert_str_eq(src_str(&h, s, sizeof s), "2001:db8::7 4660");
    check_incremental(b, n);

    /* LOCAL: a health check; the payload (whatever it is) is skipped. */
    n = v2(b, 0x20, 0x00, NULL, 0);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), 16);
    ck_assert(!h.has_addr);
    n = v2(b, 0x20, 0x31, (const unsigned char *)"\xff\xff\xff", 3);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), 19);
    ck_assert(!h.has_addr);
    check_incremental(b, n);
    /* PROXY with AF_UNSPEC: addresses unknown, keep the socket's. */
    n = v2(b, 0x21, 0x00, (const unsigned char *)"ab", 2);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), 18);
    ck_assert(!h.has_addr);

    /* The largest header allowed. */
    memset(pl, 0, sizeof pl);
    memcpy(pl, TCP4_ADDR, 12);
    size_t tl = GW_PROXY_V2_MAX_LEN - 16 - 12 - 3;
    pl[12] = 0x04, pl[13] = (unsigned char)(tl >> 8), pl[14] = (unsigned char)tl;
    n = v2(b, 0x21, 0x11, pl, GW_PROXY_V2_MAX_LEN - 16);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_PROXY_V2_MAX_LEN);
    check_incremental(b, n);
}
END_TEST

START_TEST(test_v2_rejected)
{
    struct gw_proxy_hdr h;
    unsigned char b[GW_PROXY_V2_MAX_LEN + 64], pl[GW_PROXY_V2_MAX_LEN + 32];
    size_t n;
    /* Version other than 2, command other than LOCAL/PROXY. */
    n = v2(b, 0x11, 0x11, TCP4_ADDR, 12);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse(b, 13, &h), GW_ERR_PROTO); /* known at byte 13 */
    n = v2(b, 0x22, 0x11, TCP4_ADDR, 12);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    n = v2(b, 0x2f, 0x11, TCP4_ADDR, 12);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    /* UDP, AF_UNIX, unknown families: refused, and known at byte 14. */
    const unsigned char fams[] = {0x12, 0x22, 0x31, 0x32, 0x41, 0x10, 0x20, 0x13, 0x01};
    for (size_t i = 0; i < sizeof fams; i++) {
        memset(pl, 0, 216);
        n = v2(b, 0x21, fams[i], pl, 216);
        ck_assert_msg(gw_proxy_parse(b, n, &h) == GW_ERR_PROTO, "family %02x", fams[i]);
        ck_assert_int_eq(gw_proxy_parse(b, 14, &h), GW_ERR_PROTO);
    }
    /* Length shorter than the address block. */
    n = v2(b, 0x21, 0x11, TCP4_ADDR, 11);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse(b, 16, &h), GW_ERR_PROTO); /* known from the length */
    memset(pl, 0, 35);
    n = v2(b, 0x21, 0x21, pl, 35);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    /* Longer than GW_PROXY_V2_MAX_LEN, refused from the 16 fixed bytes alone. */
    memset(pl, 0, sizeof pl);
    memcpy(pl, TCP4_ADDR, 12);
    n = v2(b, 0x21, 0x11, pl, GW_PROXY_V2_MAX_LEN - 15);
    ck_assert_int_eq(gw_proxy_parse(b, 16, &h), GW_ERR_PROTO);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    b[14] = 0xff, b[15] = 0xff;
    ck_assert_int_eq(gw_proxy_parse(b, 16, &h), GW_ERR_PROTO);
    /* TLVs that do not tile the rest exactly. */
    memcpy(pl, TCP4_ADDR, 12);
    const unsigned char over[] = {0x01, 0, 5, 'a', 'b'}; /* runs past the end */
    memcpy(pl + 12, over, sizeof over);
    n = v2(b, 0x21, 0x11, pl, 12 + sizeof over);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    const unsigned char cut_tlv[] = {0x01, 0}; /* truncated TLV header */
    memcpy(pl + 12, cut_tlv, sizeof cut_tlv);
    n = v2(b, 0x21, 0x11, pl, 12 + sizeof cut_tlv);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    const unsigned char huge[] = {0x01, 0xff, 0xff};
    memcpy(pl + 12, huge, sizeof huge);
    n = v2(b, 0x21, 0x11, pl, 12 + sizeof huge);
    ck_assert_int_eq(gw_proxy_parse(b, n, &h), GW_ERR_PROTO);
    /* Damaged signature, at each position. */
    for (size_t i = 0; i < 12; i++) {
        n = v2(b, 0x21, 0x11, TCP4_ADDR, 12);
        b[i] ^= 0x20;
        ck_assert_msg(gw_proxy_parse(b, n, &h) == GW_ERR_PROTO, "sig byte %zu", i);
        ck_assert_int_eq(gw_proxy_parse(b, i + 1, &h), GW_ERR_PROTO);
    }
}
END_TEST

START_TEST(test_safe_read)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x11, TCP4_ADDR, 12);
    ck_assert_uint_eq(gw_proxy_safe_read(b, 0), GW_PROXY_V1_MIN_LEN);
    ck_assert_uint_eq(gw_proxy_safe_read(b, 15), 1);
    ck_assert_uint_eq(gw_proxy_safe_read(b, 16), 12);
    ck_assert_uint_eq(gw_proxy_safe_read(b, 20), 8);
    ck_assert_uint_eq(gw_proxy_safe_read(b, n), 0);
    const char *v1 = "PROXY TCP4 192.0.2.10 198.51.100.1 51000 21\r\n";
    ck_assert_uint_eq(gw_proxy_safe_read(v1, 3), 12);
    ck_assert_uint_eq(gw_proxy_safe_read(v1, 15), 0); /* peek for the LF */
}
END_TEST

static struct sockaddr_storage sa(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", addr);
    return ss;
}

static bool match(const struct gw_proxy_acl *acl, const char *addr)
{
    struct sockaddr_storage ss = sa(addr);
    return gw_proxy_acl_match(acl, (struct sockaddr *)&ss);
}

START_TEST(test_acl_parse)
{
    struct gw_proxy_acl acl;
    char err[256];
    ck_assert_int_eq(gw_proxy_acl_parse("", &acl, err, sizeof err), 0);
    ck_assert_uint_eq(acl.n, 0);
    ck_assert_int_eq(gw_proxy_acl_parse("  ", &acl, err, sizeof err), 0);
    ck_assert_int_eq(gw_proxy_acl_parse(NULL, &acl, err, sizeof err), 0);
    ck_assert_int_eq(gw_proxy_acl_parse("127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8, 192.168.1.77/24",
                                        &acl, err, sizeof err),
                     0);
    ck_assert_uint_eq(acl.n, 5);
    ck_assert_uint_eq(acl.net[0].prefix, 32);
    ck_assert_uint_eq(acl.net[2].prefix, 128);
    ck_assert_uint_eq(acl.net[4].addr[3], 0); /* host bits cleared */
    static const char *bad[] = {
        "10.0.0.0/33",       "::/129",       "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1",
        "10.0.0.0/x",        "host.example", "10.0.0.1,", ",10.0.0.1",   "10.0.0.1,,10.0.0.2",
        "10.0.0.1 10.0.0.2", "10.0.0.0/8/8", "*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(gw_proxy_acl_parse(bad[i], &acl, err, sizeof err) == GW_ERR_CONFIG,
                      "accepted [%s]", bad[i]);
        ck_assert_msg(strstr(err, "proxy_trusted") != NULL, "no message for [%s]", bad[i]);
    }
    char many[1024] = "";
    for (int i = 0; i <= GW_PROXY_MAX_TRUSTED; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.0.%d", i ? "," : "", i);
    ck_assert_int_eq(gw_proxy_acl_parse(many, &acl, err, sizeof err), GW_ERR_CONFIG);
}
END_TEST

START_TEST(test_acl_match)
{
    struct gw_proxy_acl acl;
    char err[256];
    ck_assert_int_eq(
        gw_proxy_acl_parse("127.0.0.1,10.1.0.0/20,fd00::/8,2001:db8::5", &acl, err, sizeof err), 0);
    ck_assert(match(&acl, "127.0.0.1"));
    ck_assert(!match(&acl, "127.0.0.2"));
    ck_assert(match(&acl, "10.1.15.255"));
    ck_assert(!match(&acl, "10.1.16.0"));
    ck_assert(match(&acl, "fdff::1"));
    ck_assert(!match(&acl, "fe00::1"));
    ck_assert(match(&acl, "2001:db8::5"));
    ck_assert(!match(&acl, "2001:db8::6"));
    /* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
    ck_assert(match(&acl, "::ffff:127.0.0.1"));
    ck_assert(match(&acl, "::ffff:10.1.3.4"));
    ck_assert(!match(&acl, "::ffff:10.2.3.4"));
    ck_assert_int_eq(gw_proxy_acl_parse("", &acl, err, sizeof err), 0);
    ck_assert(!match(&acl, "127.0.0.1"));
    ck_assert_int_eq(gw_proxy_acl_parse("0.0.0.0/0", &acl, err, sizeof err), 0);
    ck_assert(match(&acl, "203.0.113.9"));
    ck_assert(!match(&acl, "2001:db8::1"));
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert(!gw_proxy_acl_match(&acl, &un));
}
END_TEST

/* Every saved fuzz input parses (or fails) without incident, consistently. */
START_TEST(test_fuzz_regressions)
{
    const char *dir = tu_data_path("fuzz-regress/proxyproto");
    char *copy = strdup(dir);
    DIR *d = opendir(copy);
    int seen = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            size_t len;
            struct gw_proxy_hdr h;
            snprintf(path, sizeof path, "%s/%s", copy, e->d_name);
            char *data = tu_read_file(path, &len);
            int rc = gw_proxy_parse(data, len, &h);
            ck_assert(rc == 0 || rc == GW_ERR_PROTO || (rc > 0 && (size_t)rc <= len));
            free(data);
            seen++;
        }
        closedir(d);
    }
    ck_assert_int_gt(seen, 0);
    free(copy);
}
END_TEST

Suite *gateway_proxyproto_suite(void)
{
    Suite *s = suite_create("gateway/proxyproto");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"gw_proxy_parse_v1", test_v1_valid},   {"gw_proxy_parse_v1_rejected", test_v1_rejected},
        {"gw_proxy_parse_v2", test_v2_valid},   {"gw_proxy_parse_v2_rejected", test_v2_rejected},
        {"gw_proxy_safe_read", test_safe_read}, {"gw_proxy_acl_parse", test_acl_parse},
        {"gw_proxy_acl_match", test_acl_match}, {"fuzz_regressions", test_fuzz_regressions},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
