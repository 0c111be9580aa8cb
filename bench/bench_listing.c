/* Benchmark of the listing parser and the encoding detector (run by bench/listing.sh).
 *
 *   bench_listing gen FILE LINES             write a synthetic Unix listing
 *   bench_listing parse FILE [PORT]          parser MB/s and entries/s in memory; with PORT,
 *                                            the same listing fetched over FTP by libcurl and
 *                                            parsed (a) by Ferry inside curl's write callback,
 *                                            (b) by libcurl's own parser (CURLOPT_WILDCARDMATCH),
 *                                            against (c) the bare transfer
 *   bench_listing mixed DIR                  parser over every tests/data/listings/ file
 *   bench_listing detect DIR                 accuracy and speed, Ferry vs uchardet, on the
 *                                            tests/data/encodings/ corpus
 */
#include <curl/curl.h>
#include <dirent.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uchardet/uchardet.h>

#include "ftp/encoding.h"
#include "ftp/listparse.h"

/* Wall clock, for anything involving another process (the FTP server). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: in-memory figures stay meaningful on a loaded machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long l = ftell(f);
        rewind(f);
        b = malloc((size_t)l + 1);
        if (b) {
            *len = fread(b, 1, (size_t)l, f);
            b[*len] = '\0';
        }
    }
    fclose(f);
    return b;
}

/* ------------------------------------------------------------ generator */

static unsigned long long rng = 88172645463325252ull;
static unsigned long long xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* LF line ends: libcurl turns CRLF into LF on ASCII-mode FTP transfers, and every parser
 * measured must see the same bytes. */
static int cmd_gen(const char *path, long lines)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const char *const perms[] = {"-rw-r--r--", "-rw-rw-r--", "drwxr-xr-x",
                                        "-rwxr-xr-x", "lrwxrwxrwx", "-rw-------"};
    static const char *const users[] = {"ftp", "root", "mirror", "1000", "www-data"};
    static const char *const words[] = {"report",  "data",    "backup",       "linux",
                                        "photo",   "release", "final",        "v2",
                                        "archive", "notes",   "My Documents", "src"};
    static const char *const exts[] = {".txt", ".tar.gz", ".pdf", ".iso", "", ".jpg", ".c"};
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fprintf(f, "total %ld\n", lines * 4);
    for (long i = 0; i < lines; i++) {
        const char *p = perms[xr() % 6], *u = users[xr() % 5];
        unsigned long long size =
            p[0] == 'd' ? 4096 : xr() % (xr() % 2 ? 100000ull : 10000000000ull);
        char date[32], name[128];
        if (xr() % 2)
            snprintf(date, sizeof date, "%s %2d %02d:%02d", mon[xr() % 12], (int)(xr() % 28) + 1,
                     (int)(xr() % 24), (int)(xr() % 60));
        else
            snprintf(date, sizeof date, "%s %2d  %d", mon[xr() % 12], (int)(xr() % 28) + 1,
                     1995 + (int)(xr() % 29));
        snprintf(name, sizeof name, "%s_%s-%ld%s", words[xr() % 12], words[xr() % 12], i,
                 exts[xr() % 7]);
        if (p[0] == 'l')
            fprintf(f, "%s   1 %-8s %-8s %12llu %s %s -> %s\n", p, u, u,
                    (unsigned long long)strlen(name), date, name, name);
        else
            fprintf(f, "%s   1 %-8s %-8s %12llu %s %s\n", p, u, u, size, date, name);
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ parser */

struct tally {
    unsigned long long entries, bytes_of_names;
};

static int count_entry(void *ctx, const struct lp_entry *e)
{
    struct tally *t = ctx;
    t->entries++;
    t->bytes_of_names += e->name_len;
    return 0;
}

static struct lp_options bench_opts(void)
{
    struct lp_options o;
    memset(&o, 0, sizeof o);
    o.now = (struct lp_time){2024, 3, 15, 12, 0, 0, LP_TIME_MINUTE, false, false};
    return o;
}

/* Best of `runs` in-memory parses of one listing; returns seconds, fills entries. */
static double parse_best(const char *data, size_t len, int runs, unsigned long long *entries)
{
    double best = 1e9;
    struct lp_options o = bench_opts();
    for (int r = 0; r < runs; r++) {
        struct tally t = {0, 0};
        struct lp_parser *p = lp_parser_new(&o);
        double t0 = cpu_s();
        lp_feed(p, data, len, count_entry, &t);
        lp_finish(p, count_entry, &t);
        double dt = cpu_s() - t0;
        lp_parser_free(p);
        if (dt < best)
            best = dt;
        *entries = t.entries;
    }
    return best;
}

struct stream {
    struct lp_parser *p;
    struct tally t;
    size_t bytes;
};

static size_t write_parse(char *ptr, size_t size, size_t n, void *ud)
{
    struct stream *s = ud;
    s->bytes += size * n;
    if (s->p)
        lp_feed(s->p, ptr, size * n, count_entry, &s->t);
    return size * n;
}

static long curl_chunks;
static long chunk_skip(const void *info, void *ptr, int remains)
{
    (void)info;
    (void)ptr;
    (void)remains;
    curl_chunks++;
    return CURL_CHUNK_BGN_FUNC_SKIP;
}

static double curl_run(const char *url, bool wildcard, struct stream *s)
{
    CURL *c = curl_easy_init();
    double t0 = now_s();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_parse);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (wildcard) {
        curl_easy_setopt(c, CURLOPT_WILDCARDMATCH, 1L);
        curl_easy_setopt(c, CURLOPT_CHUNK_BGN_FUNCTION, chunk_skip);
    }
    CURLcode rc = curl_easy_perform(c);
    double dt = now_s() - t0;
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, "curl %s: %s\n", url, curl_easy_strerror(rc));
        return -1;
    }
    return dt;
}

static int cmd_parse(const char *path, const char *port)
{
    size_t len;
    unsigned long long entries;
    char *data = slurp(path, &len);
    if (!data)
        return 1;
    double t = parse_best(data, len, 15, &entries);
    printf("unix listing   %8.1f MB  %9llu entries  ferry in memory  %7.1f MB/s  %6.2f M entries/s "
           " (CPU time, best of 15)\n",
           len / 1e6, entries, len / 1e6 / t, entries / 1e6 / t);
    if (port) {
        char url[256];
        double best_plain = 1e9, best_ours = 1e9, best_curl = 1e9;
        unsigned long long ours_entries = 0;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        for (int r = 0; r < 3; r++) {
            struct stream plain = {NULL, {0, 0}, 0}, ours = {NULL, {0, 0}, 0},
                          wild = {NULL, {0, 0}, 0};
            struct lp_options o = bench_opts();
            snprintf(url, sizeof url, "ftp://127.0.0.1:%s/pub/", port);
            double tp = curl_run(url, false, &plain);
            ours.p = lp_parser_new(&o);
            double to = curl_run(url, false, &ours);
            double t0 = now_s();
            lp_finish(ours.p, count_entry, &ours.t);
            to += now_s() - t0;
            lp_parser_free(ours.p);
            snprintf(url, sizeof url, "ftp://127.0.0.1:%s/pub/*", port);
            curl_chunks = 0;
            double tw = curl_run(url, true, &wild);
            if (tp < 0 || to < 0 || tw < 0)
                return 1;
            best_plain = tp < best_plain ? tp : best_plain;
            best_ours = to < best_ours ? to : best_ours;
            best_curl = tw < best_curl ? tw : best_curl;
            ours_entries = ours.t.entries;
            if (plain.bytes != len)
                fprintf(stderr, "warning: served %zu bytes, file has %zu\n", plain.bytes, len);
        }
        double po = best_ours - best_plain, pc = best_curl - best_plain;
        printf("over FTP       transfer only %6.3f s | + ferry parser %6.3f s (%llu entries) | "
               "libcurl wildcard parser %6.3f s (%ld entries)\n",
               best_plain, best_ours, ours_entries, best_curl, curl_chunks);
        printf("parsing cost   ferry %6.3f s  libcurl %6.3f s  ratio libcurl/ferry %.1fx  "
               "(libcurl parser %.1f MB/s, ferry %.1f MB/s)\n",
               po > 0 ? po : 0, pc, po > 0.001 ? pc / po : pc / 0.001, len / 1e6 / pc,
               po > 0.001 ? len / 1e6 / po : len / 1e6 / t);
        curl_global_cleanup();
    }
    free(data);
    return 0;
}

static int cmd_mixed(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *all[64];
    size_t lens[64], n = 0, total = 0;
    if (!d)
        return 1;
    while ((de = readdir(d)) && n < 64) {
        size_t l = strlen(de->d_name);
        char path[4096];
        if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        all[n] = slurp(path, &lens[n]);
        if (all[n])
            total += lens[n++];
    }
    closedir(d);
    /* each listing is its own LIST reply (detection included); repeat to about 64 MB */
    int reps = (int)(64e6 / (double)total) + 1;
    double best = 1e9;
    unsigned long long entries = 0;
    struct lp_options o = bench_opts();
    for (int r = 0; r < 3; r++) {
        struct tally t = {0, 0};
        double t0 = cpu_s();
        for (int k = 0; k < reps; k++) {
            for (size_t i = 0; i < n; i++) {
                struct lp_parser *p = lp_parser_new(&o);
                lp_feed(p, all[i], lens[i], count_entry, &t);
                lp_finish(p, count_entry, &t);
                lp_parser_free(p);
            }
        }
        double dt = cpu_s() - t0;
        if (dt < best)
            best = dt;
        entries = t.entries;
    }
    printf("mixed corpus   %8.1f MB  %9llu entries  ferry in memory  %7.1f MB/s  %6.2f M entries/s"
           "  (%zu listings, 12 formats, %d passes)\n",
           total * (double)reps / 1e6, entries, total * (double)reps / 1e6 / best,
           entries / 1e6 / best, n, reps);
    for (size_t i = 0; i < n; i++)
        free(all[i]);
    return 0;
}

/* ------------------------------------------------------------ detection */

static bool decode_equals(const char *charset, const char *raw, size_t n, const char *want,
                          size_t wlen)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return false;
    char *out = malloc(4 * n + 4), *op = out, *ip = (char *)raw;
    size_t il = n, ol = 4 * n + 4;
    size_t r = iconv(cd, &ip, &il, &op, &ol);
    iconv_close(cd);
    bool ok = r != (size_t)-1 && (size_t)(op - out) == wlen && memcmp(out, want, wlen) == 0;
    free(out);
    return ok;
}

static const char *ours_detect(const char *raw, size_t n)
{
    struct enc_result r;
    if (enc_detect(raw, n, NULL, &r) != 0)
        return "error";
    if (r.ascii)
        return "UTF-8";
    /* our IANA names map to what glibc decodes with */
    static const struct {
        const char *iana, *iconv;
    } map[] = {{"Shift_JIS", "CP932"}, {"Big5", "CP950"}, {"EUC-KR", "CP949"}};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(r.name, map[i].iana) == 0)
            return map[i].iconv;
    return r.name;
}

static char uch_name[64];
static const char *uchardet_detect(const char *raw, size_t n)
{
    uchardet_t u = uchardet_new();
    uchardet_handle_data(u, raw, n);
    uchardet_data_end(u);
    const char *cs = uchardet_get_charset(u);
    snprintf(uch_name, sizeof uch_name, "%s", cs && *cs ? cs : "UTF-8");
    uchardet_delete(u);
    if (strcmp(uch_name, "ASCII") == 0)
        snprintf(uch_name, sizeof uch_name, "UTF-8");
    return uch_name;
}

struct sample {
    const char *raw, *want;
    size_t rl, wl;
    int kind; /* 0 names, 1 list, 2 short, 3 single */
};

static int cmd_detect(const char *dir)
{
    static const char *const kinds[] = {"whole name lists", "whole LIST replies",
                                        "one name among ASCII names", "single names"};
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *m = fopen(path, "r");
    struct sample *s = calloc(4096, sizeof *s);
    size_t ns = 0;
    if (!m || !s)
        return 1;
    while (fgets(line, sizeof line, m) && ns < 4000) {
        char base[128], cs[64];
        int k;
        if (line[0] == '#' || sscanf(line, "%127s %63s %d", base, cs, &k) != 3)
            continue;
        for (int kind = 0; kind < 2; kind++) {
            size_t rl, wl;
            snprintf(path, sizeof path, "%s/cases/%s.%s", dir, base, kind ? "list" : "names");
            char *raw = slurp(path, &rl);
            snprintf(path, sizeof path, "%s/cases/%s.%s.utf8", dir, base, kind ? "list" : "names");
            char *want = slurp(path, &wl);
            if (!raw || !want)
                return 1;
            s[ns++] = (struct sample){raw, want, rl, wl, kind};
            if (kind)
                continue;
            for (char *r = raw, *w = want; *r && *w && ns < 4000;) {
                char *re = strchr(r, '\n'), *we = strchr(w, '\n');
                bool high = false;
                for (char *p = r; p < re; p++)
                    high |= (unsigned char)*p >= 0x80;
                if (high) {
                    s[ns++] = (struct sample){r, w, (size_t)(re - r), (size_t)(we - w), 3};
                    char *sr = malloc((size_t)(re - r) + 64), *sw = malloc((size_t)(we - w) + 64);
                    int a =
                        sprintf(sr, "index.html\nREADME.txt\n%.*s\nlogo.png\n", (int)(re - r), r);
                    int b =
                        sprintf(sw, "index.html\nREADME.txt\n%.*s\nlogo.png\n", (int)(we - w), w);
                    s[ns++] = (struct sample){sr, sw, (size_t)a, (size_t)b, 2};
                }
                r = re + 1;
                w = we + 1;
            }
        }
    }
    fclose(m);
    int tot[4] = {0}, good[2][4] = {{0}};
    double time_used[2] = {0, 0};
    size_t bytes = 0;
    for (size_t i = 0; i < ns; i++) {
        tot[s[i].kind]++;
        bytes += s[i].rl;
        for (int who = 0; who < 2; who++) {
            double t0 = cpu_s();
            const char *cs =
                who == 0 ? ours_detect(s[i].raw, s[i].rl) : uchardet_detect(s[i].raw, s[i].rl);
            time_used[who] += cpu_s() - t0;
            good[who][s[i].kind] += decode_equals(cs, s[i].raw, s[i].rl, s[i].want, s[i].wl);
        }
    }
    printf("detection accuracy (right when the detected charset decodes the bytes to the true "
           "text):\n");
    for (int k = 0; k < 4; k++)
        printf("  %-28s %4d cases  ferry %5.1f%%  uchardet %5.1f%%\n", kinds[k], tot[k],
               100.0 * good[0][k] / tot[k], 100.0 * good[1][k] / tot[k]);
    /* speed: repeat the whole set until it takes a while */
    int reps = 20;
    for (int who = 0; who < 2; who++) {
        double t0 = cpu_s();
        for (int r = 0; r < reps; r++)
            for (size_t i = 0; i < ns; i++)
                (void)(who == 0 ? ours_detect(s[i].raw, s[i].rl)
                                : uchardet_detect(s[i].raw, s[i].rl));
        time_used[who] = cpu_s() - t0;
    }
    printf("detection speed over %zu inputs x %d: ferry %.1f us/input (%.1f MB/s), uchardet %.1f "
           "us/input (%.1f MB/s); ratio %.2fx\n",
           ns, reps, time_used[0] * 1e6 / (double)(ns * reps),
           bytes * (double)reps / 1e6 / time_used[0], time_used[1] * 1e6 / (double)(ns * reps),
           bytes * (double)reps / 1e6 / time_used[1], time_used[1] / time_used[0]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], atol(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "parse") == 0)
        return cmd_parse(argv[2], argc > 3 ? argv[3] : NULL);
    if (argc >= 3 && strcmp(argv[1], "mixed") == 0)
        return cmd_mixed(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "detect") == 0)
        return cmd_detect(argv[2]);
    fprintf(stderr, "usage: bench_listing gen FILE LINES | parse FILE [PORT] | mixed DIR | "
                    "detect DIR\n");
    return 2;
}
