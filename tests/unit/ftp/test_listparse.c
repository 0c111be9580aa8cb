/* Unit tests for ftp/listparse.c: the listing parser. Besides targeted cases per format, the
 * corpus in tests/data/listings/ (raw listings, each with a .expected golden file) is parsed
 * whole and in small chunks and must match exactly; FERRY_REGEN_LISTINGS=1 rewrites the golden
 * files instead (review the diff before committing). The fuzz regression inputs are replayed
 * through the fuzz harness itself. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/listparse.h"
#include "gateway/buf.h"

#define LLVMFuzzerTestOneInput fuzz_listparse_one
#include "tests/fuzz/fuzz_listparse.c"
#undef LLVMFuzzerTestOneInput

static struct lp_options ref_opts(void)
{
    struct lp_options o;
    memset(&o, 0, sizeof o);
    o.now = (struct lp_time){2024, 3, 15, 12, 0, 0, LP_TIME_MINUTE, false, false};
    return o;
}

static int line(const char *s, enum lp_format f, struct lp_entry *e)
{
    struct lp_options o = ref_opts();
    return lp_parse_line(s, strlen(s), f, &o, e);
}

static bool name_is(const struct lp_entry *e, const char *want)
{
    return e->name_len == strlen(want) && memcmp(e->name, want, e->name_len) == 0;
}

static bool target_is(const struct lp_entry *e, const char *want)
{
    if (!want)
        return e->target == NULL;
    return e->target && e->target_len == strlen(want) &&
           memcmp(e->target, want, e->target_len) == 0;
}

static void time_is(const struct lp_time *t, int y, int mo, int d, int h, int mi, int s,
                    enum lp_time_prec p)
{
    ck_assert_int_eq(t->prec, p);
    ck_assert_int_eq(t->year, y);
    ck_assert_int_eq(t->mon, mo);
    ck_assert_int_eq(t->day, d);
    ck_assert_int_eq(t->hour, h);
    ck_assert_int_eq(t->min, mi);
    ck_assert_int_eq(t->sec, s);
}

/* ------------------------------------------------------------ lp_parse_line */

START_TEST(test_line_unix)
{
    struct lp_entry e;
    ck_assert_int_eq(
        line("-rw-r--r--   1 alice staff 1048576 Nov  3 08:00 archive.tar.gz", LP_FMT_UNIX, &e),
        LP_LINE_ENTRY);
    ck_assert(name_is(&e, "archive.tar.gz"));
    ck_assert_int_eq(e.type, LP_TYPE_FILE);
    ck_assert(e.flags & LP_HAVE_SIZE);
    ck_assert_uint_eq(e.size, 1048576);
    time_is(&e.mtime, 2023, 11, 3, 8, 0, 0, LP_TIME_MINUTE); /* Nov is after Mar 15: last year */
    ck_assert(e.mtime.year_inferred);
    ck_assert_uint_eq(e.mode, 0644);
    ck_assert(e.owner_len == 5 && memcmp(e.owner, "alice", 5) == 0);
    ck_assert(e.group_len == 5 && memcmp(e.group, "staff", 5) == 0);

    ck_assert_int_eq(
        line("lrwxrwxrwx 1 u g 11 Jun 13  2021 a -> b -> target -> c", LP_FMT_UNIX, &e),
        LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_LINK);
    ck_assert(name_is(&e, "a -> b")); /* the split whose target is 11 bytes long */
    ck_assert(target_is(&e, "target -> c"));
    time_is(&e.mtime, 2021, 6, 13, 0, 0, 0, LP_TIME_DAY);
    ck_assert(!e.mtime.year_inferred);

    ck_assert_int_eq(line("-rw-r--r-- 1 u g 5 Jun 13  2021  lead", LP_FMT_UNIX, &e), LP_LINE_ENTRY);
    ck_assert(name_is(&e, " lead"));
    ck_assert_int_eq(line("-rwsr-sr-t 1 u g 5 Jun 13  2021 x", LP_FMT_UNIX, &e), LP_LINE_ENTRY);
    ck_assert_uint_eq(e.mode, 07755);
    ck_assert_int_eq(line("crw-rw-rw- 1 root root 1,   3 Mar 11 09:00 null", LP_FMT_UNIX, &e),
                     LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_OTHER);
    ck_assert(!(e.flags & LP_HAVE_SIZE));
    ck_assert(e.group_len == 4 && memcmp(e.group, "root", 4) == 0);
    ck_assert_int_eq(line("-rw-r--r-- 1 u g 5 2010-01-02 03:04:05.1 +0130 z", LP_FMT_UNIX, &e),
                     LP_LINE_ENTRY);
    time_is(&e.mtime, 2010, 1, 2, 1, 34, 5, LP_TIME_SECOND);
    ck_assert(e.mtime.utc);
    ck_assert_int_eq(line("-rw-r--r-- 1 u g 5 17. M\xc3\xa4r 10:30 de", LP_FMT_UNIX, &e),
                     LP_LINE_ENTRY);
    time_is(&e.mtime, 2024, 3, 17, 10, 30, 0, LP_TIME_MINUTE); /* within the 2-day slack */
    ck_assert_int_eq(line("-rw-r--r-- 1 u g 5 11\x8c\x8e 17  2010 sjis", LP_FMT_UNIX, &e),
                     LP_LINE_ENTRY);
    time_is(&e.mtime, 2010, 11, 17, 0, 0, 0, LP_TIME_DAY);

    ck_assert_int_eq(line("total 12", LP_FMT_UNIX, &e), LP_LINE_JUNK);
    ck_assert_int_eq(line("-rw-r--r-- 1 u g 10 Mar 32 10:00 x", LP_FMT_UNIX, &e), LP_LINE_JUNK);
    ck_assert_int_eq(line("-rw-r--r-- 1 u g 10 Mar  1 10:00 ", LP_FMT_UNIX, &e), LP_LINE_JUNK);
    ck_assert_int_eq(line("drwxr-xr-x 2 u g 4096 Mar  1 10:00 ..", LP_FMT_UNIX, &e),
                     LP_LINE_IGNORED);
    ck_assert_int_eq(line("x", LP_FMT_AUTO, &e), LP_ERR_INVAL);
}
END_TEST

START_TEST(test_line_dos)
{
    struct lp_entry e;
    ck_assert_int_eq(line("02-20-14  04:16PM                  689 iisstart.htm", LP_FMT_DOS, &e),
                     LP_LINE_ENTRY);
    ck_assert(name_is(&e, "iisstart.htm"));
    ck_assert_uint_eq(e.size, 689);
    time_is(&e.mtime, 2014, 2, 20, 16, 16, 0, LP_TIME_MINUTE);
    ck_assert_int_eq(line("01-01-00  12:00AM       <DIR>           sp", LP_FMT_DOS, &e),
                     LP_LINE_ENTRY);
    ck_assert(name_is(&e, " sp")); /* IIS pads <DIR> to 14 columns plus one space */
    ck_assert_int_eq(e.type, LP_TYPE_DIR);
    time_is(&e.mtime, 2000, 1, 1, 0, 0, 0, LP_TIME_MINUTE);
    ck_assert_int_eq(line("17.11.2010  10:31             1.024 G.txt", LP_FMT_DOS, &e),
                     LP_LINE_ENTRY);
    ck_assert_uint_eq(e.size, 1024);
    time_is(&e.mtime, 2010, 11, 17, 10, 31, 0, LP_TIME_MINUTE);
    ck_assert_int_eq(
        line("11/17/2010  10:34 AM    <JUNCTION>     App Data [C:\\x y]", LP_FMT_DOS, &e),
        LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_LINK);
    ck_assert(name_is(&e, "App Data"));
    ck_assert(target_is(&e, "C:\\x y"));
    ck_assert_int_eq(line("13-13-10  10:00AM  1 bad", LP_FMT_DOS, &e), LP_LINE_JUNK);
}
END_TEST

START_TEST(test_line_vms)
{
    struct lp_entry e;
    ck_assert_int_eq(line("LOGIN.COM;12  2/3  28-FEB-2012 23:59:59.99  [G1,ALICE]  (RWED,RWED,,)",
                          LP_FMT_VMS, &e),
                     LP_LINE_ENTRY);
    ck_assert(name_is(&e, "LOGIN.COM"));
    ck_assert_uint_eq(e.size, 1024);
    ck_assert(e.flags & LP_SIZE_APPROX);
    time_is(&e.mtime, 2012, 2, 28, 23, 59, 59, LP_TIME_SECOND);
    ck_assert(e.owner_len == 8 && memcmp(e.owner, "G1,ALICE", 8) == 0);
    ck_assert(e.perm_text_len == 13);
    ck_assert_int_eq(line("BACKUP.DIR;1  1/3  5-MAR-2010 09:00:00", LP_FMT_VMS, &e), LP_LINE_ENTRY);
    ck_assert(name_is(&e, "BACKUP"));
    ck_assert_int_eq(e.type, LP_TYPE_DIR);
    struct lp_options o = ref_opts();
    o.flags = LP_OPT_KEEP_VMS_VERSION;
    ck_assert_int_eq(lp_parse_line("A.B;7 1 1-JAN-2000", 18, LP_FMT_VMS, &o, &e), LP_LINE_ENTRY);
    ck_assert(name_is(&e, "A.B;7"));
    ck_assert_int_eq(line("Total of 10 files, 1253/1268 blocks.", LP_FMT_VMS, &e), LP_LINE_JUNK);
    ck_assert_int_eq(line("LONELY.TXT;1", LP_FMT_VMS, &e), LP_LINE_JUNK);
}
END_TEST

START_TEST(test_line_others)
{
    struct lp_entry e;
    ck_assert_int_eq(line("+i8388621.48594,m825718503,r,s280,\tdjb.html", LP_FMT_EPLF, &e),
                     LP_LINE_ENTRY);
    time_is(&e.mtime, 1996, 3, 1, 22, 15, 3, LP_TIME_SECOND);
    ck_assert(e.mtime.utc);
    ck_assert_uint_eq(e.size, 280);
    ck_assert_int_eq(
        line("Type=File;Size=12;Modify=20220202020202.123;UNIX.mode=0640; a;b c", LP_FMT_MLSD, &e),
        LP_LINE_ENTRY);
    ck_assert(name_is(&e, "a;b c"));
    ck_assert_uint_eq(e.mode, 0640);
    time_is(&e.mtime, 2022, 2, 2, 2, 2, 2, LP_TIME_SECOND);
    ck_assert_int_eq(line("type=OS.unix=slink:/etc/hosts;size=10; h", LP_FMT_MLSD, &e),
                     LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_LINK);
    ck_assert(target_is(&e, "/etc/hosts"));
    ck_assert_int_eq(line("type=cdir;modify=20240314091200; /x", LP_FMT_MLSD, &e), LP_LINE_IGNORED);
    ck_assert_int_eq(line("type=file;modify=2024; bad", LP_FMT_MLSD, &e), LP_LINE_JUNK);
    ck_assert_int_eq(
        line(" 36611      A          04-23-103  10:57  OS2 test1.file", LP_FMT_OS2, &e),
        LP_LINE_ENTRY);
    time_is(&e.mtime, 2003, 4, 23, 10, 57, 0, LP_TIME_MINUTE);
    ck_assert(name_is(&e, "OS2 test1.file"));
    ck_assert_int_eq(line("QSYS  77824 02/23/00 15:09:55 *DIR  QOpenSys/", LP_FMT_OS400, &e),
                     LP_LINE_ENTRY);
    ck_assert(name_is(&e, "QOpenSys"));
    ck_assert_int_eq(e.type, LP_TYPE_DIR);
    ck_assert_int_eq(line("QPGMR  *MEM  LIB.LIB/F.FILE/M.MBR", LP_FMT_OS400, &e), LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_FILE);
    ck_assert_int_eq(line("WYOSPT 3420 2003/03/18 1 200 FB 80 6160 PO INCOMING.X", LP_FMT_MVS, &e),
                     LP_LINE_ENTRY);
    ck_assert_int_eq(e.type, LP_TYPE_DIR);
    time_is(&e.mtime, 2003, 3, 18, 0, 0, 0, LP_TIME_DAY);
    ck_assert_int_eq(
        line("SAMPLE 01.03 2002/10/11 2002/10/12 10:51 14 14 0 USER1", LP_FMT_MVS_PDS, &e),
        LP_LINE_ENTRY);
    time_is(&e.mtime, 2002, 10, 12, 10, 51, 0, LP_TIME_MINUTE);
    ck_assert_int_eq(line("IEFBR14   000008   00000F  00  FO  RN RU  31 ANY", LP_FMT_MVS_PDS, &e),
                     LP_LINE_ENTRY);
    ck_assert_uint_eq(e.size, 8);
    ck_assert_int_eq(line("d [R----F--] supervisor 512 Jan 16 18:53    login", LP_FMT_NETWARE, &e),
                     LP_LINE_ENTRY);
    ck_assert(name_is(&e, "login"));
    ck_assert_int_eq(e.type, LP_TYPE_DIR);
    ck_assert_int_eq(line("EMPTY 101 0 17-Nov-09 16:42:04 255, 0 \"oooo\"", LP_FMT_TANDEM, &e),
                     LP_LINE_ENTRY);
    ck_assert(e.owner_len == 6 && memcmp(e.owner, "255, 0", 6) == 0);
    time_is(&e.mtime, 2009, 11, 17, 16, 42, 4, LP_TIME_SECOND);
}
END_TEST

/* ------------------------------------------------------------ corpus */

static void put_esc(struct gw_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            gw_buf_puts(b, "\\\\");
        else if (c == '#' && i == 0)
            gw_buf_puts(b, "\\x23"); /* lines starting with '#' are the stats line */
        else if (c == '\t')
            gw_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            gw_buf_printf(b, "\\x%02x", c);
        else
            gw_buf_putc(b, (char)c);
    }
}

static int render(void *ctx, const struct lp_entry *e)
{
    static const char *const types[] = {"file", "dir", "link", "other"};
    struct gw_buf *b = ctx;
    const struct lp_time *t = &e->mtime;
    put_esc(b, e->name, e->name_len);
    gw_buf_printf(b, "\t%s\t", types[e->type]);
    if (e->flags & LP_HAVE_SIZE)
        gw_buf_printf(b, "%llu%s", (unsigned long long)e->size,
                      (e->flags & LP_SIZE_APPROX) ? "~" : "");
    else
        gw_buf_putc(b, '-');
    gw_buf_putc(b, '\t');
    if (t->prec == LP_TIME_NONE)
        gw_buf_putc(b, '-');
    else
        gw_buf_printf(b, "%04d-%02d-%02d", t->year, t->mon, t->day);
    if (t->prec >= LP_TIME_MINUTE)
        gw_buf_printf(b, "T%02d:%02d", t->hour, t->min);
    if (t->prec == LP_TIME_SECOND)
        gw_buf_printf(b, ":%02d", t->sec);
    if (t->year_inferred)
        gw_buf_putc(b, '?');
    if (t->utc)
        gw_buf_putc(b, 'Z');
    gw_buf_putc(b, '\t');
    if (e->target)
        put_esc(b, e->target, e->target_len);
    else
        gw_buf_putc(b, '-');
    gw_buf_printf(b, "\t%s L%llu", lp_format_name(e->format), (unsigned long long)e->line);
    if (e->flags & LP_HAVE_MODE)
        gw_buf_printf(b, " mode=%04o", e->mode);
    if (e->owner) {
        gw_buf_puts(b, " owner=");
        put_esc(b, e->owner, e->owner_len);
    }
    if (e->group) {
        gw_buf_puts(b, " group=");
        put_esc(b, e->group, e->group_len);
    }
    if (e->perm_text) {
        gw_buf_puts(b, " perm=");
        put_esc(b, e->perm_text, e->perm_text_len);
    }
    gw_buf_putc(b, '\n');
    return 0;
}

/* Options of a corpus file from tests/data/listings/options. */
static struct lp_options corpus_opts(const char *file, char *syst, size_t systcap)
{
    struct lp_options o = ref_opts();
    size_t len;
    char *all = tu_read_file(tu_data_path("listings/options"), &len);
    for (char *l = all, *next; l && *l; l = next) {
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        size_t fl = strlen(file);
        if (l[0] == '#' || strncmp(l, file, fl) != 0 || l[fl] != ' ')
            continue;
        char *kv = l + fl + 1;
        if (strncmp(kv, "syst=", 5) == 0) {
            snprintf(syst, systcap, "%s", kv + 5);
            o.syst = syst;
            o.syst_len = strlen(syst);
        } else if (strncmp(kv, "format=", 7) == 0) {
            o.format = (enum lp_format)lp_format_from_name(kv + 7);
        } else if (strncmp(kv, "now=", 4) == 0) {
            ck_assert_int_eq(sscanf(kv + 4, "%d-%d-%dT%d:%d", &o.now.year, &o.now.mon, &o.now.day,
                                    &o.now.hour, &o.now.min),
                             5);
        }
    }
    free(all);
    return o;
}

/* Parses data fed in chunks of `step` bytes (0: whole) and renders entries and stats. */
static void run_listing(const char *data, size_t len, const struct lp_options *o, size_t step,
                        struct gw_buf *out)
{
    struct lp_parser *p = lp_parser_new(o);
    struct lp_stats st;
    ck_assert_ptr_nonnull(p);
    if (step == 0)
        step = len ? len : 1;
    for (size_t off = 0; off < len; off += step)
        ck_assert_int_eq(lp_feed(p, data + off, len - off < step ? len - off : step, render, out),
                         0);
    ck_assert_int_eq(lp_finish(p, render, out), 0);
    lp_get_stats(p, &st);
    gw_buf_printf(out, "# lines=%llu entries=%llu junk=%llu ignored=%llu format=%s\n",
                  (unsigned long long)st.lines, (unsigned long long)st.entries,
                  (unsigned long long)st.junk, (unsigned long long)st.ignored,
                  lp_format_name(st.format));
    lp_parser_free(p);
}

static size_t count_entries(const char *s)
{
    size_t n = 0;
    for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
        if (*l != '#')
            n++;
        if (!strchr(l, '\n'))
            break;
    }
    return n;
}

START_TEST(test_corpus)
{
    char dir[4096], syst[512];
    snprintf(dir, sizeof dir, "%s", tu_data_path("listings"));
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t files = 0, entries = 0;
    bool regen = getenv("FERRY_REGEN_LISTINGS") != NULL;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".txt") != 0)
            continue;
        char path[4400], exp[4500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        snprintf(exp, sizeof exp, "%.*s.expected", (int)strlen(path) - 4, path);
        size_t len;
        char *data = tu_read_file(path, &len);
        struct lp_options o = corpus_opts(de->d_name, syst, sizeof syst);
        struct gw_buf whole;
        gw_buf_init(&whole, 1 << 24);
        run_listing(data, len, &o, 0, &whole);
        if (regen) {
            tu_write_file(exp, whole.data, whole.len);
        } else {
            size_t elen;
            char *want = tu_read_file(exp, &elen);
            ck_assert_msg(elen == whole.len && memcmp(want, whole.data, elen) == 0,
                          "%s differs from %s:\n%s", de->d_name, exp, gw_buf_str(&whole));
            free(want);
        }
        /* any split of the bytes gives the same result */
        static const size_t steps[] = {1, 2, 3, 7, 64};
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            struct gw_buf part;
            gw_buf_init(&part, 1 << 24);
            run_listing(data, len, &o, steps[k], &part);
            ck_assert_msg(part.len == whole.len && memcmp(part.data, whole.data, part.len) == 0,
                          "%s fed in %zu-byte chunks differs", de->d_name, steps[k]);
            gw_buf_free(&part);
        }
        entries += count_entries(gw_buf_str(&whole));
        files++;
        gw_buf_free(&whole);
        free(data);
    }
    closedir(d);
    ck_assert_uint_ge(files, 20);
    ck_assert_msg(entries >= 300, "the corpus holds only %zu entries", entries);
}
END_TEST

/* ------------------------------------------------------------ streaming */

static int count_cb(void *ctx, const struct lp_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static int fail_cb(void *ctx, const struct lp_entry *e)
{
    (void)e;
    (*(int *)ctx)++;
    return -42;
}

START_TEST(test_feed_errors_and_limits)
{
    struct lp_options o = ref_opts();
    struct lp_parser *p = lp_parser_new(&o);
    const char *ls = "-rw-r--r-- 1 u g 1 Mar  1 10:00 a\n-rw-r--r-- 1 u g 1 Mar  1 10:00 b\n";
    int n = 0;
    /* the callback's error stops parsing and sticks */
    ck_assert_int_eq(lp_feed(p, ls, strlen(ls), fail_cb, &n), 0); /* still detecting */
    ck_assert_int_eq(lp_finish(p, fail_cb, &n), -42);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(lp_feed(p, ls, strlen(ls), count_cb, &n), -42);
    lp_parser_free(p);

    /* a line longer than LP_MAX_LINE is junk, in one piece or in many */
    size_t big = LP_MAX_LINE + 100;
    char *buf = malloc(big + strlen(ls) + 1);
    memset(buf, 'x', big);
    buf[big - 1] = '\n';
    memcpy(buf + big, ls, strlen(ls) + 1);
    for (size_t step = 1000; step <= big + strlen(ls); step *= 4) {
        struct lp_stats st;
        n = 0;
        p = lp_parser_new(&o);
        for (size_t off = 0; off < big + strlen(ls); off += step) {
            size_t m = big + strlen(ls) - off;
            ck_assert_int_eq(lp_feed(p, buf + off, m < step ? m : step, count_cb, &n), 0);
        }
        ck_assert_int_eq(lp_finish(p, count_cb, &n), 0);
        lp_get_stats(p, &st);
        ck_assert_int_eq(n, 2);
        ck_assert_uint_eq(st.junk, 1);
        ck_assert_uint_eq(st.lines, 3);
        lp_parser_free(p);
    }
    free(buf);

    /* a forced format does no detection and no fallback */
    o.format = LP_FMT_DOS;
    p = lp_parser_new(&o);
    n = 0;
    ck_assert_int_eq(lp_feed(p, ls, strlen(ls), count_cb, &n), 0);
    ck_assert_int_eq(lp_finish(p, count_cb, &n), 0);
    ck_assert_int_eq(n, 0);
    lp_parser_free(p);
    o.format = LP_FMT_COUNT;
    ck_assert_ptr_null(lp_parser_new(&o));
    ck_assert_ptr_nonnull(p = lp_parser_new(NULL));
    lp_parser_free(p);
}
END_TEST

START_TEST(test_feed_detection)
{
    /* a SYST hint alone lets a header-less PDS member list through */
    struct lp_options o = ref_opts();
    int n = 0;
    const char *bare = "MEMBER1\nMEMBER2\n";
    struct lp_parser *p = lp_parser_new(&o);
    ck_assert_int_eq(lp_feed(p, bare, strlen(bare), count_cb, &n), 0);
    ck_assert_int_eq(lp_finish(p, count_cb, &n), 0);
    ck_assert_int_eq(n, 0); /* without it, bare names are junk */
    lp_parser_free(p);
    o.syst = "215 MVS is the operating system of this server.";
    o.syst_len = strlen(o.syst);
    p = lp_parser_new(&o);
    ck_assert_int_eq(lp_feed(p, bare, strlen(bare), count_cb, &n), 0);
    ck_assert_int_eq(lp_finish(p, count_cb, &n), 0);
    ck_assert_int_eq(n, 2);
    struct lp_stats st;
    lp_get_stats(p, &st);
    ck_assert_int_eq(st.format, LP_FMT_MVS_PDS);
    /* the parser is reusable after lp_finish */
    const char *dos = "02-20-14  04:16PM                  689 iisstart.htm\r\n";
    ck_assert_int_eq(lp_feed(p, dos, strlen(dos), count_cb, &n), 0);
    ck_assert_int_eq(lp_finish(p, count_cb, &n), 0);
    ck_assert_int_eq(n, 3);
    lp_get_stats(p, &st);
    ck_assert_int_eq(st.format, LP_FMT_DOS);
    lp_parser_free(p);
}
END_TEST

/* ------------------------------------------------------------ names */

START_TEST(test_format_names)
{
    for (int f = 0; f < LP_FMT_COUNT; f++)
        ck_assert_int_eq(lp_format_from_name(lp_format_name((enum lp_format)f)), f);
    ck_assert_int_eq(lp_format_from_name("IIS"), LP_FMT_DOS);
    ck_assert_int_eq(lp_format_from_name("as400"), LP_FMT_OS400);
    ck_assert_int_eq(lp_format_from_name("bogus"), -1);
    ck_assert_int_eq(lp_format_from_name(NULL), -1);
    ck_assert_str_eq(lp_format_name(LP_FMT_COUNT), "unknown");
    const char *s = "215 UNIX Type: L8";
    ck_assert_int_eq(lp_syst_format(s, strlen(s)), LP_FMT_UNIX);
    s = "215 MVS is the operating system of this server. FTP Server is running on z/OS.";
    ck_assert_int_eq(lp_syst_format(s, strlen(s)), LP_FMT_MVS);
    s = "215 Windows_NT";
    ck_assert_int_eq(lp_syst_format(s, strlen(s)), LP_FMT_DOS);
    s = "215 OS/400 is the remote operating system.";
    ck_assert_int_eq(lp_syst_format(s, strlen(s)), LP_FMT_OS400);
    s = "215 NONSTOP KERNEL";
    ck_assert_int_eq(lp_syst_format(s, strlen(s)), LP_FMT_TANDEM);
    ck_assert_int_eq(lp_syst_format("215 Z", 5), LP_FMT_AUTO);
    ck_assert_int_eq(lp_syst_format(NULL, 0), LP_FMT_AUTO);
}
END_TEST

/* ------------------------------------------------------------ fuzz regressions */

START_TEST(test_fuzz_regressions)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_data_path("fuzz-regress/listparse"));
    DIR *d = opendir(dir);
    struct dirent *de;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4400];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *data = tu_read_file(path, &len);
        ck_assert_int_eq(fuzz_listparse_one((const uint8_t *)data, len), 0);
        free(data);
    }
    closedir(d);
    /* and the seed corpus */
    snprintf(dir, sizeof dir, "%s/../fuzz/corpus/listparse", tu_data_path("."));
    d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4400];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *data = tu_read_file(path, &len);
        ck_assert_int_eq(fuzz_listparse_one((const uint8_t *)data, len), 0);
        free(data);
    }
    closedir(d);
}
END_TEST

Suite *ftp_listparse_suite(void)
{
    Suite *s = suite_create("ftp/listparse");
    TCase *tc = tcase_create("lp_parse_line");
    tcase_add_test(tc, test_line_unix);
    tcase_add_test(tc, test_line_dos);
    tcase_add_test(tc, test_line_vms);
    tcase_add_test(tc, test_line_others);
    suite_add_tcase(s, tc);
    tc = tcase_create("lp_feed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_corpus);
    tcase_add_test(tc, test_feed_errors_and_limits);
    tcase_add_test(tc, test_feed_detection);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    tc = tcase_create("lp_format_from_name");
    tcase_add_test(tc, test_format_names);
    suite_add_tcase(s, tc);
    return s;
}
