/* `ferry parse-listing` and `ferry detect-encoding` (see listcmd.h). */
#include "ftp/listcmd.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftp/encoding.h"
#include "ftp/listparse.h"
#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/err.h"
#include "gateway/json.h"

/* A listing is read whole (the encoding is decided over all of it); this bounds it. */
#define LISTCMD_MAX_INPUT (1024u * 1024 * 1024)
#define LISTCMD_FLUSH (64u * 1024) /* output is written in blocks of about this size */

/* Reads all of f into *out (malloc'd). 0, GW_ERR_LIMIT past max, GW_ERR_IO, GW_ERR_NOMEM. */
static int read_all(FILE *f, size_t max, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int rc = 0;
    if (!b)
        return GW_ERR_NOMEM;
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                rc = GW_ERR_LIMIT;
                goto fail;
            }
            size_t ncap = cap > max / 2 ? max : cap * 2;
            char *nb = realloc(b, ncap);
            if (!nb) {
                rc = GW_ERR_NOMEM;
                goto fail;
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = GW_ERR_IO;
                goto fail;
            }
            break;
        }
    }
    *out = b;
    *len = n;
    return 0;
fail:
    free(b);
    return rc;
}

/* "YYYY-MM-DDTHH:MM" (or with a space, or ":SS") into t. */
static bool parse_now(const char *s, struct lp_time *t)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    char sep;
    memset(t, 0, sizeof *t);
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return false;
    if (s[10] != '\0') {
        int used2 = 0;
        if (sscanf(s + 10, "%c%2d:%2d%n", &sep, &h, &mi, &used2) != 3 ||
            (sep != 'T' && sep != ' ') || used2 != 6)
            return false;
        if (s[16] != '\0' && (sscanf(s + 16, ":%2d%n", &sec, &used2) != 1 || s[16 + used2]))
            return false;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
        return false;
    t->year = y, t->mon = mo, t->day = d, t->hour = h, t->min = mi, t->sec = sec;
    t->prec = LP_TIME_MINUTE;
    return true;
}

static void now_local(struct lp_time *t)
{
    time_t now = time(NULL);
    struct tm tm;
    memset(t, 0, sizeof *t);
    if (!localtime_r(&now, &tm))
        return;
    t->year = tm.tm_year + 1900;
    t->mon = tm.tm_mon + 1;
    t->day = tm.tm_mday;
    t->hour = tm.tm_hour;
    t->min = tm.tm_min;
    t->prec = LP_TIME_MINUTE;
}

struct emit_ctx {
    struct gw_buf out;
    struct enc_conv *conv;
    int err;
};

static int put_decoded(struct emit_ctx *x, const char *s, size_t n)
{
    char *d = NULL;
    size_t dlen = 0;
    int rc;
    if (!s)
        return gw_buf_puts(&x->out, "null");
    /* plain ASCII without '%' is itself in every charset we decode (all ASCII-compatible) */
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80 && s[i] != '%')
        i++;
    if (i == n)
        return gw_json_str(&x->out, s, n);
    if (enc_decode(x->conv, s, n, &d, &dlen) != 0)
        return GW_ERR_NOMEM;
    rc = gw_json_str(&x->out, d, dlen);
    free(d);
    return rc;
}

/* Decimal without printf: the JSON writer is on the hot path of big listings. */
static int put_u64(struct gw_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return gw_buf_append(b, tmp + i, sizeof tmp - i);
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM", "YYYY-MM-DD" (date only) or null. */
static int put_time(struct gw_buf *b, const struct lp_time *t)
{
    char s[20];
    if (t->prec == LP_TIME_NONE || t->year <= 0 || t->year > 9999)
        return gw_buf_puts(b, "null");
    s[0] = '"';
    put2(s + 1, t->year / 100);
    put2(s + 3, t->year % 100);
    s[5] = '-';
    put2(s + 6, t->mon);
    s[8] = '-';
    put2(s + 9, t->day);
    if (t->prec == LP_TIME_DAY) {
        s[11] = '"';
        return gw_buf_append(b, s, 12);
    }
    s[11] = 'T';
    put2(s + 12, t->hour);
    s[14] = ':';
    put2(s + 15, t->min);
    s[17] = '"';
    return gw_buf_append(b, s, 18);
}

static int on_entry(void *ctx, const struct lp_entry *e)
{
    static const char *const types[] = {"file", "dir", "link", "other"};
    struct emit_ctx *x = ctx;
    struct gw_buf *b = &x->out;
    int rc = gw_buf_puts(b, "{\"name\": ");
    if (rc == 0)
        rc = put_decoded(x, e->name, e->name_len);
    if (rc == 0)
        rc = gw_buf_puts(b, ", \"type\": \"");
    if (rc == 0)
        rc = gw_buf_puts(b, types[e->type]);
    if (rc == 0)
        rc = gw_buf_puts(b, "\", \"size\": ");
    if (rc == 0)
        rc = (e->flags & LP_HAVE_SIZE) ? put_u64(b, e->size) : gw_buf_puts(b, "null");
    if (rc == 0)
        rc = gw_buf_puts(b, ", \"mtime\": ");
    if (rc == 0)
        rc = put_time(b, &e->mtime);
    if (rc == 0)
        rc = gw_buf_puts(b, ", \"target\": ");
    if (rc == 0)
        rc = put_decoded(x, e->target, e->target_len);
    if (rc == 0)
        rc = gw_buf_puts(b, "}\n");
    if (rc == 0 && b->len >= LISTCMD_FLUSH) {
        if (fwrite(b->data, 1, b->len, stdout) != b->len)
            rc = GW_ERR_IO;
        gw_buf_reset(b);
    }
    if (rc != 0)
        x->err = rc;
    return rc;
}

static void parse_usage(void)
{
    fputs("Usage: ferry parse-listing [--listing auto|FORMAT] [--encoding auto|CHARSET]\n"
          "                           [--now YYYY-MM-DDTHH:MM] [--syst TEXT] < RAW\n"
          "Parses raw LIST/MLSD bytes and prints one JSON object per entry per line:\n"
          "  {\"name\": \"...\", \"type\": \"file|dir|link|other\", \"size\": N|null,\n"
          "   \"mtime\": \"YYYY-MM-DDTHH:MM\"|\"YYYY-MM-DD\"|null, \"target\": \"...\"|null}\n"
          "Names are decoded to UTF-8; bytes that cannot be decoded appear as %HH.\n"
          "  --listing FORMAT  auto (default), unix, dos, vms, eplf, mlsd, os2, os400, mvs,\n"
          "                    mvs-pds, netware, tandem\n"
          "  --encoding NAME   auto (default: detected from the listing) or a charset\n"
          "  --now TIME        reference for dates printed without a year (default: now)\n"
          "  --syst TEXT       the server's SYST reply, a hint for format detection\n"
          "Times are the server's local time, except MLSD and EPLF times, which are UTC.\n",
          stdout);
}

int lp_cmd_parse_listing(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listing", required_argument, NULL, 'l'}, {"encoding", required_argument, NULL, 'e'},
        {"now", required_argument, NULL, 'n'},     {"syst", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *cmd = "parse-listing", *encoding = "auto";
    struct lp_options o;
    struct lp_parser *p = NULL;
    struct emit_ctx x = {.conv = NULL, .err = 0};
    char *in = NULL;
    size_t inlen = 0;
    bool have_now = false;
    int c, rc, exit_code = GW_EXIT_OK;

    memset(&o, 0, sizeof o);
    gw_buf_init(&x.out, 2 * LISTCMD_FLUSH + 4 * (size_t)LP_MAX_LINE);
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (strcmp(optarg, "auto") == 0) {
                o.format = LP_FMT_AUTO;
            } else {
                int f = lp_format_from_name(optarg);
                if (f < 0) {
                    exit_code = gw_usage_error(cmd, "unknown listing format '%s'", optarg);
                    goto out;
                }
                o.format = (enum lp_format)f;
            }
            break;
        case 'e':
            encoding = optarg;
            if (strcmp(encoding, "auto") != 0 && !enc_canonical(encoding)) {
                exit_code = gw_usage_error(cmd, "unknown encoding '%s'", optarg);
                goto out;
            }
            break;
        case 'n':
            if (!parse_now(optarg, &o.now)) {
                exit_code = gw_usage_error(cmd, "--now wants YYYY-MM-DDTHH:MM, not '%s'", optarg);
                goto out;
            }
            have_now = true;
            break;
        case 's':
            o.syst = optarg;
            o.syst_len = strlen(optarg);
            break;
        case 'h':
            parse_usage();
            goto out;
        case ':':
            exit_code = gw_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            exit_code = gw_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        exit_code = gw_usage_error(cmd,
                                   "unexpected argument '%s' (the listing is read from "
                                   "standard input)",
                                   argv[optind]);
        goto out;
    }
    if (!have_now)
        now_local(&o.now);

    rc = read_all(stdin, LISTCMD_MAX_INPUT, &in, &inlen);
    if (rc != 0) {
        gw_errorf(cmd, "reading standard input: %s", gw_strerror(rc));
        exit_code = GW_EXIT_SOME_FAILED;
        goto out;
    }
    if (strcmp(encoding, "auto") == 0) {
        struct enc_result r;
        if (enc_detect(in, inlen, NULL, &r) != 0) {
            gw_errorf(cmd, "%s", gw_strerror(GW_ERR_NOMEM));
            exit_code = GW_EXIT_SOME_FAILED;
            goto out;
        }
        /* all-ASCII listings decode the same in every charset; UTF-8 keeps %HH rules simple */
        encoding = r.ascii ? "UTF-8" : r.name;
    }
    x.conv = enc_conv_new(encoding);
    p = lp_parser_new(&o);
    if (!x.conv || !p) {
        gw_errorf(cmd, "cannot convert from %s or %s", encoding, gw_strerror(GW_ERR_NOMEM));
        exit_code = GW_EXIT_SOME_FAILED;
        goto out;
    }
    rc = lp_feed(p, in, inlen, on_entry, &x);
    if (rc == 0)
        rc = lp_finish(p, on_entry, &x);
    if (rc == 0 && x.out.len > 0 && fwrite(x.out.data, 1, x.out.len, stdout) != x.out.len)
        rc = GW_ERR_IO;
    if (rc == 0 && fflush(stdout) != 0)
        rc = GW_ERR_IO;
    if (rc != 0) {
        gw_errorf(cmd, "%s", gw_strerror(rc));
        exit_code = GW_EXIT_SOME_FAILED;
    }
out:
    lp_parser_free(p);
    enc_conv_free(x.conv);
    gw_buf_free(&x.out);
    free(in);
    return exit_code;
}

static void detect_usage(void)
{
    const char *const *names;
    size_t n = enc_candidate_names(&names);
    fputs("Usage: ferry detect-encoding [--hint CHARSET] [--utf8] [--candidates] < RAW\n"
          "Prints the charset of file names in a raw listing (or any text): its IANA name\n"
          "on the first line, the confidence (0.00-1.00) on the second.\n"
          "  --hint CHARSET  favour CHARSET (a configured or earlier answer)\n"
          "  --utf8          the server announced UTF8: say UTF-8 whenever the bytes are\n"
          "  --candidates    then list the ranked candidates with their cost in bits\n"
          "Candidates:",
          stdout);
    for (size_t i = 0; i < n; i++)
        printf("%s %s", i % 8 == 7 ? "\n " : "", names[i]);
    fputs("\n", stdout);
}

int enc_cmd_detect(int argc, char **argv)
{
    static const struct option opts[] = {{"hint", required_argument, NULL, 'H'},
                                         {"utf8", no_argument, NULL, 'u'},
                                         {"candidates", no_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = "detect-encoding";
    struct enc_hint hint = {NULL, 0, 0};
    struct enc_result r;
    bool candidates = false;
    char *in = NULL;
    size_t inlen = 0;
    int c, rc, exit_code = GW_EXIT_OK;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            if (!enc_canonical(optarg)) {
                exit_code = gw_usage_error(cmd, "unknown charset '%s'", optarg);
                goto out;
            }
            hint.charset = optarg;
            break;
        case 'u':
            hint.flags |= ENC_HINT_UTF8;
            break;
        case 'c':
            candidates = true;
            break;
        case 'h':
            detect_usage();
            goto out;
        case ':':
            exit_code = gw_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            exit_code = gw_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        exit_code = gw_usage_error(cmd,
                                   "unexpected argument '%s' (the text is read from "
                                   "standard input)",
                                   argv[optind]);
        goto out;
    }
    rc = read_all(stdin, LISTCMD_MAX_INPUT, &in, &inlen);
    if (rc == 0)
        rc = enc_detect(in, inlen, &hint, &r);
    if (rc != 0) {
        gw_errorf(cmd, "%s", gw_strerror(rc));
        exit_code = GW_EXIT_SOME_FAILED;
        goto out;
    }
    printf("%s\n%.2f\n", r.name, r.confidence);
    for (size_t i = 0; candidates && i < r.nranked; i++)
        printf("%s %.2f\n", r.ranked[i].name, r.ranked[i].cost);
    if (fflush(stdout) != 0)
        exit_code = GW_EXIT_SOME_FAILED;
out:
    free(in);
    return exit_code;
}
