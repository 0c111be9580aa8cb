/* Pure parsers and formatters of the FTP server (see ftpcmd.h). Untrusted bytes enter
 * the FTP front end only through ftpd_cmd_parse(); everything here is fuzzed by
 * tests/fuzz/fuzz_ftpcmd.c. */
#include "ftp/ftpcmd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/err.h"

#define TELNET_IAC 255
#define TELNET_WILL 251
#define TELNET_DONT 254

static bool is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Copies line[0..n) into out without telnet sequences; returns the new length. out has
 * room for n bytes (removal only shrinks). */
static size_t strip_telnet(const unsigned char *line, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i] != TELNET_IAC) {
            out[o++] = (char)line[i];
            continue;
        }
        if (i + 1 >= n)
            break; /* a lone IAC at the line end: drop it */
        unsigned char c = line[i + 1];
        if (c == TELNET_IAC) {
            out[o++] = (char)TELNET_IAC;
            i++;
        } else if (c >= TELNET_WILL && c <= TELNET_DONT) {
            i += 2; /* option negotiation: IAC verb option */
        } else {
            i++; /* IAC IP, IAC DM (the urgent ABOR prefix), IAC AYT, ... */
        }
    }
    return o;
}

static int split_command(char *line, size_t n, struct ftpd_cmd *cmd)
{
    size_t v = 0;
    if (memchr(line, '\0', n) || memchr(line, '\r', n))
        return GW_ERR_PROTO;
    while (v < n && line[v] != ' ') {
        unsigned char c = (unsigned char)line[v];
        if (v >= FTPD_MAX_VERB || !(is_alpha(c) || (v > 0 && is_digit(c))))
            return GW_ERR_PROTO;
        cmd->verb[v] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        v++;
    }
    if (v == 0)
        return GW_ERR_PROTO;
    cmd->verb[v] = '\0';
    if (v < n) {
        /* Exactly one separating space is dropped: names may start with spaces. */
        cmd->arg_len = n - v - 1;
        memmove(cmd->arg, line + v + 1, cmd->arg_len);
    } else {
        cmd->arg_len = 0;
    }
    cmd->arg[cmd->arg_len] = '\0';
    return FTPD_CMD_OK;
}

int ftpd_cmd_parse(struct ftpd_lineparser *lp, const char *buf, size_t len, struct ftpd_cmd *cmd,
                   size_t *consumed)
{
    size_t window = len < GW_MAX_FTP_LINE ? len : GW_MAX_FTP_LINE;
    const char *lf = memchr(buf, '\n', window);

    cmd->verb[0] = '\0';
    cmd->arg[0] = '\0';
    cmd->arg_len = 0;
    *consumed = 0;
    if (lp->discarding) {
        if (!lf) {
            *consumed = window;
            return FTPD_CMD_MORE;
        }
        lp->discarding = false;
        *consumed = (size_t)(lf - buf) + 1;
        return FTPD_CMD_MORE;
    }
    if (!lf) {
        if (len < GW_MAX_FTP_LINE)
            return FTPD_CMD_MORE;
        lp->discarding = true;
        *consumed = window;
        return GW_ERR_TOOLONG;
    }
    size_t n = (size_t)(lf - buf);
    *consumed = n + 1;
    /* n < GW_MAX_FTP_LINE, so the stripped line fits cmd->arg with its NUL. */
    n = strip_telnet((const unsigned char *)buf, n, cmd->arg);
    if (n > 0 && cmd->arg[n - 1] == '\r')
        n--;
    int rc = split_command(cmd->arg, n, cmd);
    if (rc < 0) {
        cmd->verb[0] = '\0';
        cmd->arg[0] = '\0';
        cmd->arg_len = 0;
    }
    return rc;
}

int ftpd_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return GW_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return GW_ERR_INVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return GW_ERR_RANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ftpd_parse_rang(const char *s, size_t n, uint64_t *start, uint64_t *end)
{
    const char *sp = memchr(s, ' ', n);
    uint64_t a, b;
    if (!sp)
        return GW_ERR_INVAL;
    size_t an = (size_t)(sp - s);
    if (ftpd_parse_u64(s, an, &a) < 0 || ftpd_parse_u64(sp + 1, n - an - 1, &b) < 0)
        return GW_ERR_INVAL;
    if (b < a && !(a == 1 && b == 0))
        return GW_ERR_RANGE;
    *start = a;
    *end = b;
    return 0;
}

/* Parses a decimal number of at most max from s[*i..n), advancing *i. */
static int parse_small(const char *s, size_t n, size_t *i, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t start = *i;
    while (*i < n && is_digit((unsigned char)s[*i])) {
        v = v * 10 + (unsigned)(s[*i] - '0');
        if (v > max)
            return GW_ERR_INVAL;
        (*i)++;
    }
    if (*i == start)
        return GW_ERR_INVAL;
    *out = v;
    return 0;
}

int ftpd_parse_port(const char *arg, size_t n, struct sockaddr_storage *ss, socklen_t *sslen)
{
    unsigned f[6];
    size_t i = 0;
    for (int k = 0; k < 6; k++) {
        if (parse_small(arg, n, &i, 255, &f[k]) < 0)
            return GW_ERR_INVAL;
        if (k < 5) {
            if (i >= n || arg[i] != ',')
                return GW_ERR_INVAL;
            i++;
        }
    }
    if (i != n)
        return GW_ERR_INVAL;
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr =
        htonl((uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3]);
    sin->sin_port = htons((uint16_t)(f[4] << 8 | f[5]));
    *sslen = sizeof *sin;
    return 0;
}

int ftpd_parse_eprt(const char *arg, size_t n, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned proto, port;
    size_t i = 1, a0;
    if (n < 7)
        return GW_ERR_INVAL;
    char d = arg[0];
    if ((unsigned char)d < 33 || (unsigned char)d > 126 || is_digit((unsigned char)d))
        return GW_ERR_INVAL;
    if (parse_small(arg, n, &i, 65535, &proto) < 0 || i >= n || arg[i] != d)
        return GW_ERR_INVAL;
    a0 = ++i;
    while (i < n && arg[i] != d)
        i++;
    if (i >= n || i == a0 || i - a0 >= sizeof addr)
        return GW_ERR_INVAL;
    memcpy(addr, arg + a0, i - a0);
    addr[i - a0] = '\0';
    i++;
    if (parse_small(arg, n, &i, 65535, &port) < 0 || i + 1 != n || arg[i] != d || port == 0)
        return GW_ERR_INVAL;
    memset(ss, 0, sizeof *ss);
    if (proto == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
            return GW_ERR_INVAL;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *sslen = sizeof *sin;
    } else if (proto == 2) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            return GW_ERR_INVAL;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof *sin6;
    } else {
        return GW_ERR_NOTSUP;
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int ftpd_parse_time(const char *s, size_t n, int64_t *t)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned v[6];
    static const unsigned width[6] = {4, 2, 2, 2, 2, 2};
    size_t i = 0;
    if (n < FTPD_TIME_LEN)
        return GW_ERR_INVAL;
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (unsigned w = 0; w < width[k]; w++, i++) {
            if (!is_digit((unsigned char)s[i]))
                return GW_ERR_INVAL;
            v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] ||
        (v[1] == 2 && v[2] == 29 && !leap(v[0])) || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return GW_ERR_INVAL;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == f)
            return GW_ERR_INVAL;
    }
    *t = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    return (int)i;
}

static void put_num(char *out, unsigned v, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
}

void ftpd_format_time(int64_t t, char out[FTPD_TIME_LEN + 1])
{
    int64_t days = t / 86400, rem = t % 86400, y;
    unsigned m, d;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y < 0) {
        y = 0;
        m = d = 1;
        rem = 0;
    } else if (y > 9999) {
        y = 9999;
        m = 12;
        d = 31;
        rem = 86399;
    }
    put_num(out, (unsigned)y, 4);
    put_num(out + 4, m, 2);
    put_num(out + 6, d, 2);
    put_num(out + 8, (unsigned)(rem / 3600), 2);
    put_num(out + 10, (unsigned)(rem / 60 % 60), 2);
    put_num(out + 12, (unsigned)(rem % 60), 2);
    out[FTPD_TIME_LEN] = '\0';
}

size_t ftpd_list_skip_options(const char *arg, size_t n)
{
    static const char ls_letters[] = "aAlLRrtdFhinoSs1gGTuUcC";
    size_t i = 0;
    while (i < n && arg[i] == '-') {
        size_t j = i + 1;
        while (j < n && arg[j] != ' ' && strchr(ls_letters, arg[j]) && arg[j] != '\0')
            j++;
        if (j == i + 1 || (j < n && arg[j] != ' '))
            break; /* "-" alone or "-foo.txt": a path */
        i = j;
        while (i < n && arg[i] == ' ')
            i++;
    }
    return i;
}

/* Appends name with CR and LF shown as '?'. */
static int put_name(struct gw_buf *out, const char *name)
{
    size_t n = strlen(name), start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && name[i] != '\r' && name[i] != '\n')
            continue;
        int rc = gw_buf_append(out, name + start, i - start);
        if (rc == 0 && i < n)
            rc = gw_buf_putc(out, '?');
        if (rc < 0)
            return rc;
        start = i + 1;
    }
    return 0;
}

static char type_char(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return 'd';
    case S_IFLNK:
        return 'l';
    case S_IFCHR:
        return 'c';
    case S_IFBLK:
        return 'b';
    case S_IFIFO:
        return 'p';
    case S_IFSOCK:
        return 's';
    default:
        return '-';
    }
}

static void mode_string(uint32_t mode, char out[11])
{
    static const char rwx[] = "rwxrwxrwx";
    out[0] = type_char(mode);
    for (int i = 0; i < 9; i++)
        out[i + 1] = (mode & (0400u >> i)) ? rwx[i] : '-';
    if (mode & S_ISUID)
        out[3] = out[3] == 'x' ? 's' : 'S';
    if (mode & S_ISGID)
        out[6] = out[6] == 'x' ? 's' : 'S';
    if (mode & S_ISVTX)
        out[9] = out[9] == 'x' ? 't' : 'T';
    out[10] = '\0';
}

int ftpd_format_list(struct gw_buf *out, const struct vfs_stat *st, const char *name,
                     const char *target, const char *owner, const char *group, int64_t now)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char modes[11];
    int64_t t = st->mtime, days = t / 86400, rem = t % 86400, y;
    unsigned m, d;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    mode_string(st->mode, modes);
    int rc = gw_buf_printf(out, "%s %4u %-8s %-8s %12llu %s %2u ", modes, st->nlink ? st->nlink : 1,
                           owner, group, (unsigned long long)st->size, months[m - 1], d);
    /* ls shows the time of day for entries from the last six months only. */
    if (rc == 0 && t > now - 15552000 && t <= now + 3600)
        rc = gw_buf_printf(out, "%02u:%02u ", (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60));
    else if (rc == 0)
        rc = gw_buf_printf(out, " %4lld ", (long long)(y < 0 ? 0 : y > 9999 ? 9999 : y));
    if (rc == 0)
        rc = put_name(out, name);
    if (rc == 0 && target && (st->mode & S_IFMT) == S_IFLNK) {
        rc = gw_buf_puts(out, " -> ");
        if (rc == 0)
            rc = put_name(out, target);
    }
    if (rc == 0)
        rc = gw_buf_puts(out, "\r\n");
    return rc;
}

static const char *const fact_names[] = {"type", "size", "modify", "perm", "unique", "UNIX.mode"};
#define NFACTS (sizeof fact_names / sizeof fact_names[0])

int ftpd_format_fact_names(struct gw_buf *out, unsigned facts, bool with_star)
{
    for (size_t i = 0; i < NFACTS; i++) {
        bool on = facts & (1u << i);
        if (!with_star && !on)
            continue;
        int rc = gw_buf_printf(out, "%s%s;", fact_names[i], with_star && on ? "*" : "");
        if (rc < 0)
            return rc;
    }
    return 0;
}

unsigned ftpd_parse_fact_names(const char *arg, size_t n)
{
    unsigned facts = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && arg[j] != ';')
            j++;
        for (size_t k = 0; k < NFACTS; k++) {
            if (strlen(fact_names[k]) == j - i && strncasecmp(fact_names[k], arg + i, j - i) == 0)
                facts |= 1u << k;
        }
        i = j + 1;
    }
    return facts;
}

int ftpd_format_facts(struct gw_buf *out, const struct vfs_stat *st, unsigned facts, bool writable,
                      const char *type_override, const char *name)
{
    bool dir = (st->mode & S_IFMT) == S_IFDIR;
    bool reg = (st->mode & S_IFMT) == S_IFREG;
    int rc = 0;
    if (facts & FTPD_FACT_TYPE) {
        const char *type = type_override ? type_override
                           : dir         ? "dir"
                           : reg         ? "file"
                                         : "OS.unix=special";
        rc = gw_buf_printf(out, "type=%s;", type);
    }
    if (rc == 0 && (facts & FTPD_FACT_SIZE) && !dir)
        rc = gw_buf_printf(out, "size=%llu;", (unsigned long long)st->size);
    if (rc == 0 && (facts & FTPD_FACT_MODIFY)) {
        char tv[FTPD_TIME_LEN + 1];
        ftpd_format_time(st->mtime, tv);
        rc = gw_buf_printf(out, "modify=%s;", tv);
    }
    if (rc == 0 && (facts & FTPD_FACT_PERM)) {
        /* RFC 3659 7.5.5: files a(ppend) d(elete) f(rename) r(etrieve) w(rite); dirs
         * c(reate) d(elete) e(nter) f(rename) l(ist) m(kdir) p(urge). */
        const char *perm = dir ? (writable ? "cdeflmp" : "el") : (writable ? "adfrw" : "r");
        rc = gw_buf_printf(out, "perm=%s;", perm);
    }
    if (rc == 0 && (facts & FTPD_FACT_UNIQUE) && st->ino)
        rc = gw_buf_printf(out, "unique=%llxg%llx;", (unsigned long long)st->dev,
                           (unsigned long long)st->ino);
    if (rc == 0 && (facts & FTPD_FACT_UNIX_MODE))
        rc = gw_buf_printf(out, "UNIX.mode=0%o;", (unsigned)(st->mode & 07777));
    if (rc == 0)
        rc = gw_buf_putc(out, ' ');
    if (rc == 0)
        rc = put_name(out, name);
    return rc;
}

int ftpd_quote_path(struct gw_buf *out, const char *path)
{
    int rc = gw_buf_putc(out, '"');
    for (const char *p = path; rc == 0 && *p; p++) {
        if (*p == '"')
            rc = gw_buf_puts(out, "\"\"");
        else if (*p == '\r' || *p == '\n')
            rc = gw_buf_putc(out, '?');
        else
            rc = gw_buf_putc(out, *p);
    }
    if (rc == 0)
        rc = gw_buf_putc(out, '"');
    return rc;
}

size_t ftpd_ascii_to_net(const char *in, size_t n, char *out, bool *prev_cr)
{
    size_t o = 0;
    bool cr = *prev_cr;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\n' && !cr)
            out[o++] = '\r';
        out[o++] = in[i];
        cr = in[i] == '\r';
    }
    *prev_cr = cr;
    return o;
}

size_t ftpd_ascii_from_net(const char *in, size_t n, char *out, bool *pending_cr)
{
    size_t o = 0;
    if (n == 0) {
        if (*pending_cr)
            out[o++] = '\r';
        *pending_cr = false;
        return o;
    }
    for (size_t i = 0; i < n; i++) {
        if (*pending_cr) {
            *pending_cr = false;
            if (in[i] == '\n') {
                out[o++] = '\n';
                continue;
            }
            out[o++] = '\r';
        }
        if (in[i] == '\r')
            *pending_cr = true;
        else
            out[o++] = in[i];
    }
    return o;
}

static const char *const hash_names[FTPD_HASH_COUNT] = {"SHA-256", "SHA-512", "SHA-1", "MD5"};

const char *ftpd_hash_name(enum ftpd_hash_algo a)
{
    return (unsigned)a < FTPD_HASH_COUNT ? hash_names[a] : "?";
}

int ftpd_hash_lookup(const char *name, size_t n)
{
    for (int i = 0; i < FTPD_HASH_COUNT; i++) {
        if (strlen(hash_names[i]) == n && strncasecmp(hash_names[i], name, n) == 0)
            return i;
    }
    return -1;
}

int ftpd_parse_chmod(const char *arg, size_t n, uint32_t *mode, size_t *path_off)
{
    uint32_t m = 0;
    size_t i = 0;
    while (i < n && arg[i] >= '0' && arg[i] <= '7' && i < 4)
        m = m * 8 + (uint32_t)(arg[i++] - '0');
    if (i == 0 || i >= n || arg[i] != ' ' || i + 1 >= n)
        return GW_ERR_INVAL;
    *mode = m;
    *path_off = i + 1;
    return 0;
}

int ftpd_parse_time_path(const char *arg, size_t n, int64_t *t, size_t *path_off)
{
    int used = ftpd_parse_time(arg, n, t);
    if (used < 0)
        return used;
    size_t i = (size_t)used;
    if (i >= n || arg[i] != ' ' || i + 1 >= n)
        return GW_ERR_INVAL;
    *path_off = i + 1;
    return 0;
}

/* The IPv4 address of a sockaddr (also of an IPv4-mapped IPv6 one), or false. */
static bool v4_of(const struct sockaddr_storage *ss, struct in_addr *out)
{
    if (ss->ss_family == AF_INET) {
        *out = ((const struct sockaddr_in *)ss)->sin_addr;
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(&out->s_addr, a->s6_addr + 12, 4);
            return true;
        }
    }
    return false;
}

bool ftpd_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    struct in_addr a4, b4;
    bool av4 = v4_of(a, &a4), bv4 = v4_of(b, &b4);
    if (av4 || bv4)
        return av4 && bv4 && a4.s_addr == b4.s_addr;
    if (a->ss_family != AF_INET6 || b->ss_family != AF_INET6)
        return false;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
    return memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0;
}
