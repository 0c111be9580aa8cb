/* Legacy FTP client on libcurl with our own listing parser (see ftpc.h). */
#include "ftp/ftpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"

#define FTPC_MAX_REPLIES (64u * 1024) /* server reply text kept per request */
#define FTPC_MAX_LISTING (256u << 20) /* raw listing bytes accepted for one directory */

struct ftpc {
    CURL *curl;
    char *url_base;           /* "ftp://host:port/path/" with the path as given (encoded) */
    char *base_path;          /* decoded path, for messages */
    char hostport[300];
    char *user, *password;
    bool anonymous, explicit_tls;
    struct ftpc_options opt;
    bool connected, feat_mlsd, feat_utf8;
    bool no_list_a;           /* the server refused "LIST -a": plain LIST from now on */
    char syst[256];
    struct gw_buf replies;    /* reply lines of the current request */
    char err[512];
    enum ftpc_err_kind kind;
    long reply;
    int tz_offset;            /* seconds east of UTC for LIST times */
    const char *last_charset; /* hint for the next listing */
    struct enc_conv *conv;
    struct enc_conv *utf8conv; /* for the UTF-8 names of mixed directories */
    CURLM *multi;              /* owns the connection cache across requests */
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's detail for the last failure */
};

static int curl_ready;

static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
    struct ftpc *c = ctx;
    size_t len = size * n;
    if (gw_buf_append(&c->replies, buf, len) != 0) {
        /* Keep only the most recent replies: drop the older half. */
        gw_buf_consume(&c->replies, c->replies.len / 2);
        gw_buf_append(&c->replies, buf, len < FTPC_MAX_REPLIES / 2 ? len : 0);
    }
    return len;
}

static int parse_tz(const char *tz, int *out)
{
    int h, m = 0;
    char sign;
    if (!tz || !*tz || strcasecmp(tz, "UTC") == 0 || strcasecmp(tz, "Z") == 0) {
        *out = 0;
        return 0;
    }
    if (sscanf(tz, "%c%2d:%2d", &sign, &h, &m) < 2 || (sign != '+' && sign != '-') || h > 14 ||
        m > 59)
        return GW_ERR_INVAL;
    *out = (sign == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

struct ftpc *ftpc_new(const char *url, const struct ftpc_options *opt, char *err, size_t errsz)
{
    struct ftpc *c = NULL;
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *pass = NULL;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errsz, "not a valid URL: %s", url);
        goto fail;
    }
    if (strcmp(scheme, "ftp") && strcmp(scheme, "ftps") && strcmp(scheme, "ftpes")) {
        snprintf(err, errsz, "unsupported scheme '%s' (ftp, ftps or ftpes)", scheme);
        goto fail;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    gw_buf_init(&c->replies, FTPC_MAX_REPLIES);
    if (opt)
        c->opt = *opt;
    if (parse_tz(c->opt.timezone, &c->tz_offset) != 0) {
        snprintf(err, errsz, "timezone must look like +01:00 or UTC, got '%s'", c->opt.timezone);
        goto fail;
    }
    c->explicit_tls = strcmp(scheme, "ftpes") == 0;
    long defport = strcmp(scheme, "ftps") == 0 ? 990 : 21;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        path = NULL;
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) != CURLUE_OK)
        user = NULL;
    if (curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) != CURLUE_OK)
        pass = NULL;
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    snprintf(c->hostport, sizeof c->hostport, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
             port ? port : (defport == 990 ? "990" : "21"));
    const char *p = path && *path ? path : "/";
    size_t plen = strlen(p);
    if (asprintf(&c->url_base, "%s://%s%s%s", strcmp(scheme, "ftps") == 0 ? "ftps" : "ftp",
                 c->hostport, p, p[plen - 1] == '/' ? "" : "/") < 0) {
        c->url_base = NULL;
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    int dlen = 0;
    char *dec = curl_easy_unescape(NULL, p, (int)plen, &dlen);
    c->base_path = dec ? strdup(dec) : strdup(p);
    curl_free(dec);
    c->anonymous = !user || strcmp(user, "anonymous") == 0 || strcmp(user, "ftp") == 0;
    c->user = strdup(user ? user : "anonymous");
    c->password = strdup(pass ? pass : (c->anonymous ? "ferry@" : ""));
    c->curl = curl_easy_init();
    if (!c->curl || !c->user || !c->password || !c->base_path) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    goto out;
fail:
    ftpc_free(c);
    c = NULL;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return c;
}

void ftpc_free(struct ftpc *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    enc_conv_free(c->conv);
    enc_conv_free(c->utf8conv);
    gw_buf_free(&c->replies);
    free(c->url_base);
    free(c->base_path);
    free(c->user);
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c);
}

const char *ftpc_base_path(const struct ftpc *c)
{
    return c->base_path;
}

bool ftpc_anonymous(const struct ftpc *c)
{
    return c->anonymous;
}

const char *ftpc_host(const struct ftpc *c)
{
    return c->hostport;
}

const char *ftpc_error(const struct ftpc *c)
{
    return c->err;
}

enum ftpc_err_kind ftpc_error_kind(const struct ftpc *c)
{
    return c->kind;
}

long ftpc_reply_code(const struct ftpc *c)
{
    return c->reply;
}

/* Percent-encodes a relative server path (raw bytes) for the URL; '/' separates
 * components and is kept. */
static char *url_for(const struct ftpc *c, const char *path, size_t len, bool dir)
{
    static const char hex[] = "0123456789ABCDEF";
    struct gw_buf b;
    gw_buf_init(&b, GW_MAX_PATH * 3 + strlen(c->url_base) + 2);
    int rc = gw_buf_puts(&b, c->url_base);
    while (len && *path == '/')
        path++, len--;
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/') {
            rc = gw_buf_putc(&b, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = gw_buf_append(&b, e, 3);
        }
    }
    if (rc == 0 && dir && b.len && b.data[b.len - 1] != '/')
        rc = gw_buf_putc(&b, '/');
    if (rc != 0) {
        gw_buf_free(&b);
        return NULL;
    }
    return gw_buf_steal(&b, NULL);
}

/* The last reply line from the server, for messages. */
static void last_reply(const struct ftpc *c, char *out, size_t outsz)
{
    const char *s = gw_buf_str(&c->replies);
    size_t n = c->replies.len;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    size_t start = n;
    while (start && s[start - 1] != '\n')
        start--;
    size_t len = n - start < outsz - 1 ? n - start : outsz - 1;
    memcpy(out, s + start, len);
    out[len] = '\0';
}

static void set_error(struct ftpc *c, CURLcode rc, const char *what)
{
    char line[200];
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    c->reply = code;
    last_reply(c, line, sizeof line);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_FTP_ACCEPT_FAILED:
    case CURLE_FTP_ACCEPT_TIMEOUT:
    case CURLE_FTP_WEIRD_PASV_REPLY:
    case CURLE_FTP_WEIRD_227_FORMAT:
    case CURLE_FTP_CANT_GET_HOST:
    case CURLE_SSL_CONNECT_ERROR:
        c->kind = FTPC_TEMPORARY;
        break;
    default:
        c->kind = code == 421 || code == 425 || code == 426 || code == 450 || code == 451
                      ? FTPC_TEMPORARY
                      : FTPC_PERMANENT;
    }
    snprintf(c->err, sizeof c->err, "%.40s %.200s: %.100s%s%.150s", what, c->hostport,
             c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc),
             line[0] ? " (server said: " : "", line[0] ? line : "");
    if (line[0])
        strncat(c->err, ")", sizeof c->err - strlen(c->err) - 1);
    /* The usual first meeting with a legacy FTPS server: a self-signed certificate. */
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
        strncat(c->err, "; the server's certificate is not trusted: give its CA with --ca FILE "
                        "or pin its key with --pin sha256//BASE64",
                sizeof c->err - strlen(c->err) - 1);
    else if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        strncat(c->err, "; the server's public key is not the pinned one (--pin)",
                sizeof c->err - strlen(c->err) - 1);
}

/* Options common to every request. */
static void base_options(struct ftpc *c, const char *url, struct curl_slist *quote)
{
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(c->opt.connect_timeout ? c->opt.connect_timeout : 30));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(c->opt.stall_timeout ? c->opt.stall_timeout : 60));
    curl_easy_setopt(h, CURLOPT_FTP_USE_EPSV, 1L);
    curl_easy_setopt(h, CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_SINGLECWD);
    curl_easy_setopt(h, CURLOPT_QUOTE, quote);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_FILETIME, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)0);
    curl_easy_setopt(h, CURLOPT_TRANSFERTEXT, 0L);
    curl_easy_setopt(h, CURLOPT_IGNORE_CONTENT_LENGTH, 0L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)CURL_MAX_WRITE_SIZE);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "ftp,ftps");
    if (c->explicit_tls)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (c->opt.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->opt.ca_file);
    if (c->opt.pin_sha256)
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->opt.pin_sha256);
    bool verify = !c->opt.insecure && !c->opt.pin_sha256;
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    gw_buf_reset(&c->replies);
    c->err[0] = '\0';
    c->kind = FTPC_OK;
    c->reply = 0;
}

/* Runs the prepared request. Not curl_easy_perform: libcurl 7.88's threaded resolver
 * can miss its wake-up when a server answers EPSV/PASV at once, and the transfer then
 * sleeps a full second before every data connection (measured: 1 s per file against
 * vsftpd on loopback). Driving the multi interface with a short poll cap bounds that
 * stall to a few milliseconds. */
#define FTPC_POLL_CAP_MS 1

static CURLcode perform(struct ftpc *c)
{
    CURLcode rc = CURLE_OK;
    int running = 1, queued;
    CURLMsg *msg;
    if (!c->multi && !(c->multi = curl_multi_init()))
        return CURLE_OUT_OF_MEMORY;
    if (curl_multi_add_handle(c->multi, c->curl) != CURLM_OK)
        return CURLE_FAILED_INIT;
    while (running) {
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        if (running && curl_multi_poll(c->multi, NULL, 0, FTPC_POLL_CAP_MS, NULL) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
    }
    while ((msg = curl_multi_info_read(c->multi, &queued)))
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->curl)
            rc = msg->data.result;
    curl_multi_remove_handle(c->multi, c->curl);
    return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

int ftpc_connect(struct ftpc *c)
{
    if (c->connected)
        return 0;
    struct curl_slist *q = curl_slist_append(NULL, "FEAT");
    q = curl_slist_append(q, "*SYST");
    base_options(c, c->url_base, q);
    curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = perform(c);
    curl_easy_setopt(c->curl, CURLOPT_QUOTE, NULL);
    curl_slist_free_all(q);
    if (rc != CURLE_OK) {
        set_error(c, rc, "connecting to");
        return rc == CURLE_LOGIN_DENIED ? GW_ERR_AUTH : GW_ERR_UPSTREAM;
    }
    /* FEAT: "211-Features:" then one feature per line, each starting with a space. */
    const char *s = gw_buf_str(&c->replies);
    for (const char *line = s; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 1 && line[0] == ' ') {
            if (strncasecmp(line + 1, "MLST", 4) == 0 || strncasecmp(line + 1, "MLSD", 4) == 0)
                c->feat_mlsd = true;
            if (strncasecmp(line + 1, "UTF8", 4) == 0)
                c->feat_utf8 = true;
        }
        if (len > 4 && strncmp(line, "215 ", 4) == 0) {
            size_t n = len - 4 < sizeof c->syst - 1 ? len - 4 : sizeof c->syst - 1;
            memcpy(c->syst, line + 4, n);
            c->syst[n] = '\0';
            c->syst[strcspn(c->syst, "\r")] = '\0';
        }
        line += len + (nl ? 1 : 0);
    }
    c->connected = true;
    return 0;
}

struct list_ctx {
    struct ftpc *c;
    struct lp_parser *p;
    struct ftpc_listing *out;
    size_t cap;
    size_t raw_bytes;
    int err;
};

static int on_entry(void *vctx, const struct lp_entry *e)
{
    struct list_ctx *x = vctx;
    struct ftpc_listing *l = x->out;
    if (e->name_len == 0 || memchr(e->name, '/', e->name_len) || memchr(e->name, '\0', e->name_len))
        return 0; /* unusable as a local name: skip, counted as junk by the caller */
    if (l->n == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 64;
        struct ftpc_entry *ne = realloc(l->e, ncap * sizeof *ne);
        if (!ne)
            return GW_ERR_NOMEM;
        l->e = ne;
        x->cap = ncap;
    }
    struct ftpc_entry *d = &l->e[l->n];
    memset(d, 0, sizeof *d);
    d->raw = strndup(e->name, e->name_len);
    d->raw_len = e->name_len;
    if (e->target_len)
        d->target = strndup(e->target, e->target_len);
    if (!d->raw || (e->target_len && !d->target)) {
        free(d->raw);
        free(d->target);
        return GW_ERR_NOMEM;
    }
    d->type = e->type;
    d->have_size = (e->flags & LP_HAVE_SIZE) != 0;
    d->size = e->size;
    d->mtime = e->mtime;
    l->n++;
    return 0;
}

static size_t on_list_data(char *buf, size_t size, size_t n, void *vctx)
{
    struct list_ctx *x = vctx;
    size_t len = size * n;
    if (len > FTPC_MAX_LISTING - x->raw_bytes) {
        x->err = GW_ERR_LIMIT;
        return 0;
    }
    x->raw_bytes += len;
    int rc = lp_feed(x->p, buf, len, on_entry, x);
    if (rc != 0) {
        x->err = rc;
        return 0;
    }
    return len;
}

/* Opens (or reuses) the converter for charset cs in *slot. */
static int conv_for(struct enc_conv **slot, const char *cs)
{
    const char *canon = enc_canonical(cs) ? enc_canonical(cs) : cs;
    if (*slot && strcmp(enc_conv_name(*slot), canon) == 0)
        return 0;
    enc_conv_free(*slot);
    *slot = enc_conv_new(cs);
    return *slot ? 0 : GW_ERR_NOMEM;
}

static bool all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Decides the names' charset and decodes every name and link target.
 * Directories written over years by different clients often mix UTF-8 names with a few
 * legacy ones: when some names are valid UTF-8 beyond ASCII (or the server announced
 * UTF8) and others are not, the valid ones are taken as UTF-8 and the charset of the
 * rest is detected from those names alone. */
static int decode_names(struct ftpc *c, struct ftpc_listing *l)
{
    struct gw_buf all;
    struct enc_result r;
    struct enc_hint hint = {.charset = c->last_charset, .flags = c->feat_utf8 ? ENC_HINT_UTF8 : 0};
    bool forced = c->opt.encoding && *c->opt.encoding && strcasecmp(c->opt.encoding, "auto");
    size_t utf8 = 0, invalid = 0;
    if (forced) {
        hint.charset = c->opt.encoding;
        hint.flags = ENC_HINT_FORCE;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (all_ascii(l->e[i].raw, l->e[i].raw_len))
            continue;
        if (gw_utf8_valid(l->e[i].raw, l->e[i].raw_len))
            utf8++;
        else
            invalid++;
    }
    bool mixed = !forced && invalid > 0 && (utf8 > 0 || c->feat_utf8);
    gw_buf_init(&all, ENC_MAX_SCAN);
    for (size_t i = 0; i < l->n; i++) {
        if (mixed && gw_utf8_valid(l->e[i].raw, l->e[i].raw_len))
            continue;
        if (gw_buf_append(&all, l->e[i].raw, l->e[i].raw_len) || gw_buf_putc(&all, '\n'))
            break;
    }
    if (mixed)
        hint.flags &= ~ENC_HINT_UTF8; /* these names are not UTF-8 */
    int rc = enc_detect(all.data ? all.data : "", all.len, &hint, &r);
    gw_buf_free(&all);
    if (rc != 0) {
        snprintf(c->err, sizeof c->err, "unknown encoding '%s'", hint.charset);
        c->kind = FTPC_PERMANENT;
        return GW_ERR_INVAL;
    }
    const char *cs = strcmp(r.name, "US-ASCII") == 0 ? "UTF-8" : r.name;
    if (conv_for(&c->conv, cs) != 0 || (mixed && conv_for(&c->utf8conv, "UTF-8") != 0))
        return GW_ERR_NOMEM;
    if (!r.ascii)
        c->last_charset = r.name;
    l->encoding = r.name;
    l->mixed = mixed;
    l->confidence = r.confidence;
    for (size_t i = 0; i < l->n; i++) {
        size_t n;
        struct ftpc_entry *e = &l->e[i];
        struct enc_conv *conv =
            mixed && gw_utf8_valid(e->raw, e->raw_len) ? c->utf8conv : c->conv;
        if (enc_decode(conv, e->raw, e->raw_len, &e->name, &n) != 0)
            return GW_ERR_NOMEM;
        if (e->target) {
            char *t;
            conv = mixed && gw_utf8_valid(e->target, strlen(e->target)) ? c->utf8conv : c->conv;
            if (enc_decode(conv, e->target, strlen(e->target), &t, &n) != 0)
                return GW_ERR_NOMEM;
            free(e->target);
            e->target = t;
        }
    }
    return 0;
}

int ftpc_list(struct ftpc *c, const char *path, size_t path_len, struct ftpc_listing *out)
{
    struct lp_options lo;
    struct list_ctx x = {.c = c, .out = out};
    char *url = NULL;
    struct curl_slist *q = NULL;
    int rc = ftpc_connect(c);
    memset(out, 0, sizeof *out);
    if (rc < 0)
        return rc;
    memset(&lo, 0, sizeof lo);
    if (c->opt.listing && *c->opt.listing && strcasecmp(c->opt.listing, "auto")) {
        int f = lp_format_from_name(c->opt.listing);
        if (f < 0) {
            snprintf(c->err, sizeof c->err, "unknown listing format '%s'", c->opt.listing);
            c->kind = FTPC_PERMANENT;
            return GW_ERR_INVAL;
        }
        lo.format = (enum lp_format)f;
    }
    out->mlsd = c->feat_mlsd && (lo.format == LP_FMT_AUTO || lo.format == LP_FMT_MLSD);
    if (out->mlsd)
        lo.format = LP_FMT_MLSD;
    time_t now = time(NULL) + c->tz_offset;
    struct tm tm;
    gmtime_r(&now, &tm);
    lo.now = (struct lp_time){.year = tm.tm_year + 1900, .mon = tm.tm_mon + 1, .day = tm.tm_mday,
                              .hour = tm.tm_hour, .min = tm.tm_min, .prec = LP_TIME_MINUTE};
    lo.syst = c->syst[0] ? c->syst : NULL;
    lo.syst_len = strlen(c->syst);
    url = url_for(c, path ? path : "", path ? path_len : 0, true);
    if (!url) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    if (c->feat_utf8)
        q = curl_slist_append(NULL, "*OPTS UTF8 ON");
    /* Unix servers hide dot files from a plain LIST (vsftpd, pure-ftpd by default); "-a"
     * shows them, as ls does. Only where SYST says UNIX: elsewhere "-a" may be taken for
     * a path. A server refusing it with a 5xx gets plain LIST from then on. */
    bool list_a = !out->mlsd && !c->no_list_a && strncasecmp(c->syst, "UNIX", 4) == 0;
    CURLcode cr;
    for (;;) {
        x.p = lp_parser_new(&lo);
        if (!x.p) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        base_options(c, url, q);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
                         out->mlsd ? "MLSD" : list_a ? "LIST -a" : "LIST");
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_list_data);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &x);
        cr = perform(c);
        curl_easy_setopt(c->curl, CURLOPT_QUOTE, NULL);
        long code = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (cr == CURLE_OK || !list_a || code < 500 || x.err)
            break;
        c->no_list_a = true;
        list_a = false;
        ftpc_listing_free(out);
        lp_parser_free(x.p);
        x = (struct list_ctx){.c = c, .out = out};
    }
    if (cr != CURLE_OK) {
        set_error(c, cr, "listing on");
        if (x.err == GW_ERR_LIMIT)
            snprintf(c->err, sizeof c->err, "listing larger than %u bytes", FTPC_MAX_LISTING);
        rc = x.err ? x.err : GW_ERR_UPSTREAM;
        goto out;
    }
    rc = lp_finish(x.p, on_entry, &x);
    if (rc == 0) {
        struct lp_stats st;
        lp_get_stats(x.p, &st);
        out->format = st.format;
        out->junk = st.junk;
        rc = decode_names(c, out);
    }
out:
    if (rc < 0)
        ftpc_listing_free(out);
    curl_slist_free_all(q);
    lp_parser_free(x.p);
    free(url);
    return rc;
}

void ftpc_listing_free(struct ftpc_listing *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].raw);
        free(l->e[i].name);
        free(l->e[i].target);
    }
    free(l->e);
    memset(l, 0, sizeof *l);
}

int ftpc_stat(struct ftpc *c, const char *path, size_t path_len, uint64_t *size, time_t *mtime)
{
    int rc = ftpc_connect(c);
    if (rc < 0)
        return rc;
    char *url = url_for(c, path, path_len, false);
    if (!url)
        return GW_ERR_NOMEM;
    base_options(c, url, NULL);
    curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cr = perform(c);
    free(url);
    if (cr != CURLE_OK) {
        set_error(c, cr, "SIZE/MDTM on");
        return c->reply == 550 ? GW_ERR_NOENT : GW_ERR_UPSTREAM;
    }
    curl_off_t len = -1, ft = -1;
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    curl_easy_getinfo(c->curl, CURLINFO_FILETIME_T, &ft);
    *size = len >= 0 ? (uint64_t)len : 0;
    *mtime = ft >= 0 ? (time_t)ft : 0;
    return len >= 0 ? 0 : GW_ERR_NOENT;
}

struct get_ctx {
    ftpc_sink_fn sink;
    void *ctx;
    uint64_t got;
    int err;
};

static size_t on_get_data(char *buf, size_t size, size_t n, void *vctx)
{
    struct get_ctx *g = vctx;
    size_t len = size * n;
    int rc = g->sink(g->ctx, buf, len);
    if (rc != 0) {
        g->err = rc;
        return 0;
    }
    g->got += len;
    return len;
}

int ftpc_get(struct ftpc *c, const char *path, size_t path_len, uint64_t offset, ftpc_sink_fn sink,
             void *ctx, uint64_t *got)
{
    struct get_ctx g = {.sink = sink, .ctx = ctx};
    struct curl_slist *q = NULL;
    int rc = ftpc_connect(c);
    *got = 0;
    if (rc < 0)
        return rc;
    char *url = url_for(c, path, path_len, false);
    if (!url)
        return GW_ERR_NOMEM;
    if (c->feat_utf8)
        q = curl_slist_append(NULL, "*OPTS UTF8 ON");
    base_options(c, url, q);
    curl_easy_setopt(c->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)offset);
    /* A whole file needs no SIZE round trip first: callers know the size from the listing
     * and check what arrived (ftp/fetch.c); many small files cost round trips, not bytes.
     * A resumed download keeps SIZE, which libcurl uses to check the offset. */
    curl_easy_setopt(c->curl, CURLOPT_IGNORE_CONTENT_LENGTH, offset == 0 ? 1L : 0L);
    /* The default 16 KiB receive buffer means a wake-up per 16 KiB: 256 KiB (curl's
     * own tool uses 100 KiB) lets one wake-up drain what the socket holds. Only here:
     * the pull-style transfers (ftpc_xfer) size their pauses for the default. */
    curl_easy_setopt(c->curl, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_get_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &g);
    CURLcode cr = perform(c);
    curl_easy_setopt(c->curl, CURLOPT_QUOTE, NULL);
    curl_slist_free_all(q);
    free(url);
    *got = g.got;
    if (cr != CURLE_OK) {
        set_error(c, cr, "download from");
        if (g.err) {
            snprintf(c->err, sizeof c->err, "writing the download failed: %s", gw_strerror(g.err));
            c->kind = FTPC_PERMANENT;
            return g.err;
        }
        return c->reply == 550 ? GW_ERR_NOENT : GW_ERR_UPSTREAM;
    }
    return 0;
}

time_t ftpc_time_utc(const struct ftpc *c, const struct lp_time *t)
{
    if (t->prec == LP_TIME_NONE || t->year == 0)
        return 0;
    struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
                    .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec};
    time_t v = timegm(&tm);
    return t->utc ? v : v - c->tz_offset;
}

/* ---- Raw commands and pull-style transfers (see ftpc.h) ---- */

#define XFER_BUF (256u * 1024) /* download bytes held between two reads */

/* A GW_ERR_* for an FTP reply that refused a command. */
static int reply_error(long code)
{
    switch (code) {
    case 550:
        return GW_ERR_NOENT;
    case 530:
    case 532:
    case 553:
        return GW_ERR_PERM;
    case 500:
    case 502:
    case 504:
        return GW_ERR_NOTSUP;
    case 501:
        return GW_ERR_INVAL;
    case 452:
    case 552:
        return GW_ERR_NOSPC;
    case 421:
    case 425:
    case 426:
    case 450:
        return GW_ERR_AGAIN;
    default:
        return GW_ERR_UPSTREAM;
    }
}

int ftpc_command(struct ftpc *c, const char *dir, size_t dir_len, const char *const *cmds,
                 size_t ncmds)
{
    struct curl_slist *pre = NULL, *post = NULL;
    char *url = NULL;
    int rc = ftpc_connect(c);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < ncmds; i++) {
        struct curl_slist *n;
        if (strpbrk(cmds[i], "\r\n")) {
            snprintf(c->err, sizeof c->err, "an FTP command cannot hold a line break");
            c->kind = FTPC_PERMANENT;
            rc = GW_ERR_INVAL;
            goto out;
        }
        n = curl_slist_append(post, cmds[i]);
        if (!n) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        post = n;
    }
    url = url_for(c, dir ? dir : "", dir ? dir_len : 0, true);
    if (!url) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    /* Servers that announce UTF8 may read the names in our commands in another charset
     * until told. */
    if (c->feat_utf8)
        pre = curl_slist_append(NULL, "*OPTS UTF8 ON");
    base_options(c, url, pre);
    /* No transfer: the URL names a directory, so libcurl changes into it and then runs
     * the "post-quote" commands there. */
    curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c->curl, CURLOPT_POSTQUOTE, post);
    CURLcode cr = perform(c);
    curl_easy_setopt(c->curl, CURLOPT_POSTQUOTE, NULL);
    curl_easy_setopt(c->curl, CURLOPT_QUOTE, NULL);
    if (cr != CURLE_OK) {
        set_error(c, cr, "command on");
        if (cr == CURLE_QUOTE_ERROR || c->reply >= 400)
            rc = reply_error(c->reply);
        else
            rc = cr == CURLE_LOGIN_DENIED ? GW_ERR_AUTH : GW_ERR_UPSTREAM;
    }
out:
    curl_slist_free_all(pre);
    curl_slist_free_all(post);
    free(url);
    return rc;
}

bool ftpc_has_feature(struct ftpc *c, const char *name)
{
    static const char *const feat[] = {"FEAT"};
    size_t nlen = strlen(name);
    if (nlen == 0 || ftpc_command(c, NULL, 0, feat, 1) < 0)
        return false;
    /* "211-Features:" then one feature per line, each line starting with a space. */
    const char *s = gw_buf_str(&c->replies);
    for (const char *line = s; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > nlen && line[0] == ' ' && strncasecmp(line + 1, name, nlen) == 0 &&
            (len == nlen + 1 || line[nlen + 1] == ' ' || line[nlen + 1] == '\r'))
            return true;
        line += len + (nl ? 1 : 0);
    }
    return false;
}

enum xfer_until { UNTIL_DATA, UNTIL_TAKEN, UNTIL_END };

struct ftpc_xfer {
    struct ftpc *c;
    CURL *easy;
    CURLM *multi; /* holds the connection cache between transfers */
    struct curl_slist *quote;
    char *url;
    bool open; /* a transfer is in the multi handle */
    bool upload, eof, done, paused;
    CURLcode result;
    unsigned char *buf; /* download: bytes received and not yet read */
    size_t cap, head, tail;
    const unsigned char *wp; /* upload: the caller's bytes not yet taken by libcurl */
    size_t wlen;
    uint64_t bytes;
    struct gw_buf replies;
    char err[512];
    enum ftpc_err_kind kind;
};

static size_t xfer_on_header(char *buf, size_t size, size_t n, void *ctx)
{
    struct ftpc_xfer *x = ctx;
    size_t len = size * n;
    if (gw_buf_append(&x->replies, buf, len) != 0) {
        gw_buf_consume(&x->replies, x->replies.len / 2);
        gw_buf_append(&x->replies, buf, len < FTPC_MAX_REPLIES / 2 ? len : 0);
    }
    return len;
}

/* Download bytes from libcurl. When they do not fit beside bytes the caller has not read
 * yet, the transfer pauses (libcurl keeps them) until the next read drains the buffer. */
static size_t xfer_on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct ftpc_xfer *x = ctx;
    size_t len = size * n;
    if (x->head == x->tail)
        x->head = x->tail = 0;
    if (len > x->cap - x->tail && x->head > 0) {
        memmove(x->buf, x->buf + x->head, x->tail - x->head);
        x->tail -= x->head;
        x->head = 0;
    }
    if (len > x->cap - x->tail) {
        if (x->tail > 0) {
            x->paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        unsigned char *nb = realloc(x->buf, len);
        if (!nb)
            return 0;
        x->buf = nb;
        x->cap = len;
    }
    memcpy(x->buf + x->tail, p, len);
    x->tail += len;
    x->bytes += len;
    return len;
}

/* Upload bytes for libcurl: the caller's pending buffer, the end once closed, else a
 * pause until the next write. */
static size_t xfer_on_read(char *p, size_t size, size_t n, void *ctx)
{
    struct ftpc_xfer *x = ctx;
    size_t room = size * n;
    if (x->wlen == 0) {
        if (x->eof)
            return 0;
        x->paused = true;
        return CURL_READFUNC_PAUSE;
    }
    size_t k = x->wlen < room ? x->wlen : room;
    memcpy(p, x->wp, k);
    x->wp += k;
    x->wlen -= k;
    x->bytes += k;
    return k;
}

struct ftpc_xfer *ftpc_xfer_new(struct ftpc *c)
{
    struct ftpc_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    gw_buf_init(&x->replies, FTPC_MAX_REPLIES);
    x->easy = curl_easy_init();
    x->multi = curl_multi_init();
    if (!x->easy || !x->multi) {
        ftpc_xfer_free(x);
        return NULL;
    }
    return x;
}

void ftpc_xfer_free(struct ftpc_xfer *x)
{
    if (!x)
        return;
    ftpc_xfer_close(x);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    if (x->multi)
        curl_multi_cleanup(x->multi);
    curl_slist_free_all(x->quote);
    gw_buf_free(&x->replies);
    free(x->url);
    free(x->buf);
    free(x);
}

static void xfer_set_error(struct ftpc_xfer *x, CURLcode rc, long code)
{
    char line[200];
    const char *s = gw_buf_str(&x->replies);
    size_t n = x->replies.len, start;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    for (start = n; start && s[start - 1] != '\n'; start--)
        ;
    size_t len = n - start < sizeof line - 1 ? n - start : sizeof line - 1;
    memcpy(line, s + start, len);
    line[len] = '\0';
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_FTP_ACCEPT_FAILED:
    case CURLE_FTP_ACCEPT_TIMEOUT:
    case CURLE_FTP_WEIRD_PASV_REPLY:
    case CURLE_FTP_CANT_GET_HOST:
    case CURLE_SSL_CONNECT_ERROR:
        x->kind = FTPC_TEMPORARY;
        break;
    default:
        x->kind = code == 421 || code == 425 || code == 426 || code == 450 || code == 451
                      ? FTPC_TEMPORARY
                      : FTPC_PERMANENT;
    }
    /* A message cut short is still a message. */
    if (snprintf(x->err, sizeof x->err, "transfer %s %s: %s%s%s%s", x->upload ? "to" : "from",
                 x->c->hostport, curl_easy_strerror(rc), line[0] ? " (server said: " : "", line,
                 line[0] ? ")" : "") >= (int)sizeof x->err)
        x->err[sizeof x->err - 1] = '\0';
}

/* The finished transfer's outcome as a GW_ERR_* (0 when it succeeded). */
static int xfer_result(struct ftpc_xfer *x)
{
    long code = 0;
    if (x->result == CURLE_OK)
        return 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    xfer_set_error(x, x->result, code);
    switch (x->result) {
    case CURLE_REMOTE_FILE_NOT_FOUND:
        return GW_ERR_NOENT;
    case CURLE_LOGIN_DENIED:
        return GW_ERR_AUTH;
    case CURLE_OPERATION_TIMEDOUT:
        return GW_ERR_TIMEOUT;
    case CURLE_BAD_DOWNLOAD_RESUME:
        return GW_ERR_RANGE;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR: /* only when our buffer could not grow */
        return GW_ERR_NOMEM;
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_UPLOAD_FAILED:
    case CURLE_QUOTE_ERROR:
        return code >= 400 ? reply_error(code) : GW_ERR_PERM;
    default:
        return code >= 400 && code != 426 ? reply_error(code) : GW_ERR_UPSTREAM;
    }
}

static void xfer_collect(struct ftpc_xfer *x)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(x->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == x->easy) {
            x->done = true;
            x->result = m->data.result;
        }
}

static bool xfer_ready(const struct ftpc_xfer *x, enum xfer_until until)
{
    return (until == UNTIL_DATA && x->head < x->tail) || (until == UNTIL_TAKEN && x->wlen == 0);
}

/* Runs libcurl until the condition holds or the transfer ends. Stalls end the transfer
 * through the low-speed limit of base_options(), so this always returns. */
static int xfer_drive(struct ftpc_xfer *x, enum xfer_until until)
{
    while (!x->done && !xfer_ready(x, until)) {
        CURLMcode mc;
        int running = 0;
        if (x->paused) {
            /* May call our callback at once with the bytes libcurl held back. */
            x->paused = false;
            if (curl_easy_pause(x->easy, CURLPAUSE_CONT) != CURLE_OK)
                goto fail;
            continue;
        }
        mc = curl_multi_perform(x->multi, &running);
        if (mc != CURLM_OK)
            goto fail;
        xfer_collect(x);
        if (x->done || xfer_ready(x, until) || x->paused)
            continue;
        mc = curl_multi_poll(x->multi, NULL, 0, FTPC_POLL_CAP_MS, NULL);
        if (mc != CURLM_OK)
            goto fail;
    }
    return 0;
fail:
    snprintf(x->err, sizeof x->err, "transfer %s %s: libcurl failed", x->upload ? "to" : "from",
             x->c->hostport);
    x->kind = FTPC_TEMPORARY;
    return GW_ERR_UPSTREAM;
}

static int xfer_open(struct ftpc_xfer *x, const char *path, size_t path_len, bool upload,
                     bool append, uint64_t offset)
{
    struct ftpc *c = x->c;
    if (x->open)
        return GW_ERR_BUSY;
    x->err[0] = '\0';
    x->kind = FTPC_OK;
    int rc = ftpc_connect(c); /* FEAT: OPTS UTF8 */
    if (rc < 0) {
        snprintf(x->err, sizeof x->err, "%s", c->err);
        x->kind = c->kind;
        return rc;
    }
    free(x->url);
    curl_slist_free_all(x->quote);
    x->quote = NULL;
    x->url = url_for(c, path, path_len, false);
    if (!x->url)
        return GW_ERR_NOMEM;
    if (c->feat_utf8 && !(x->quote = curl_slist_append(NULL, "*OPTS UTF8 ON")))
        return GW_ERR_NOMEM;
    if (!upload && !x->buf) {
        x->buf = malloc(XFER_BUF);
        if (!x->buf)
            return GW_ERR_NOMEM;
        x->cap = XFER_BUF;
    }
    /* The client's common options (credentials, TLS, timeouts) on our own handle:
     * base_options() works on c->curl, so point that at ours for the call (it also clears
     * c's last error; the transfer keeps its own). */
    CURL *own = c->curl;
    c->curl = x->easy;
    base_options(c, x->url, x->quote);
    c->curl = own;
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, xfer_on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, xfer_on_data);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, xfer_on_read);
    curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_UPLOAD, upload ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_APPEND, append ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(x->easy, CURLOPT_FTP_CREATE_MISSING_DIRS, 0L);
    curl_easy_setopt(x->easy, CURLOPT_RESUME_FROM_LARGE,
                     upload ? (curl_off_t)0 : (curl_off_t)offset);
    gw_buf_reset(&x->replies);
    x->upload = upload;
    x->eof = x->done = x->paused = false;
    x->result = CURLE_OK;
    x->head = x->tail = 0;
    x->wp = NULL;
    x->wlen = 0;
    x->bytes = 0;
    if (curl_multi_add_handle(x->multi, x->easy) != CURLM_OK)
        return GW_ERR_NOMEM;
    x->open = true;
    return 0;
}

int ftpc_xfer_open_read(struct ftpc_xfer *x, const char *path, size_t path_len, uint64_t offset)
{
    return xfer_open(x, path, path_len, false, false, offset);
}

int ftpc_xfer_open_write(struct ftpc_xfer *x, const char *path, size_t path_len, bool append)
{
    return xfer_open(x, path, path_len, true, append, 0);
}

ssize_t ftpc_xfer_read(struct ftpc_xfer *x, void *buf, size_t n)
{
    if (!x->open || x->upload)
        return GW_ERR_INVAL;
    int rc = xfer_drive(x, UNTIL_DATA);
    if (rc < 0)
        return rc;
    if (x->head == x->tail)
        return xfer_result(x); /* the end: 0, or why it ended early */
    size_t k = x->tail - x->head < n ? x->tail - x->head : n;
    memcpy(buf, x->buf + x->head, k);
    x->head += k;
    return (ssize_t)k;
}

ssize_t ftpc_xfer_write(struct ftpc_xfer *x, const void *buf, size_t n)
{
    if (!x->open || !x->upload || n > ((size_t)-1 >> 1))
        return GW_ERR_INVAL;
    if (n == 0)
        return 0;
    x->wp = buf;
    x->wlen = n;
    int rc = xfer_drive(x, UNTIL_TAKEN);
    size_t left = x->wlen;
    x->wp = NULL; /* never kept past the call */
    x->wlen = 0;
    if (rc < 0)
        return rc;
    if (left > 0) {
        rc = xfer_result(x);
        if (rc == 0) {
            snprintf(x->err, sizeof x->err, "transfer to %s: the server ended the upload early",
                     x->c->hostport);
            rc = GW_ERR_UPSTREAM;
        }
        return rc;
    }
    return (ssize_t)n;
}

int ftpc_xfer_close(struct ftpc_xfer *x)
{
    int rc = 0;
    if (!x->open)
        return 0;
    if (x->upload) {
        /* The end of the data: libcurl closes the data connection and waits for 226. */
        x->eof = true;
        rc = xfer_drive(x, UNTIL_END);
        if (rc == 0)
            rc = xfer_result(x);
    } else if (x->done) {
        rc = xfer_result(x);
    }
    /* A download still running is aborted here: libcurl closes its data connection. */
    curl_multi_remove_handle(x->multi, x->easy);
    x->open = false;
    x->paused = false;
    x->head = x->tail = 0;
    return rc;
}

bool ftpc_xfer_busy(const struct ftpc_xfer *x)
{
    return x->open;
}

uint64_t ftpc_xfer_bytes(const struct ftpc_xfer *x)
{
    return x->bytes;
}

const char *ftpc_xfer_error(const struct ftpc_xfer *x)
{
    return x->err;
}

enum ftpc_err_kind ftpc_xfer_error_kind(const struct ftpc_xfer *x)
{
    return x->kind;
}
