/* FUZZ_SOURCES: ftp/listparse.c */
/* libFuzzer harness for the listing parser. The first input byte picks the options (format,
 * SYST hint, flags) and the second the chunk size, so the streaming splitter, the detection
 * window, the VMS line joining and every line parser all see arbitrary bytes split anywhere.
 * Every entry must satisfy the invariants of struct lp_entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/listparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const systs[] = {
    NULL,      "215 UNIX Type: L8", "215 MVS is the operating system", "215 NONSTOP KERNEL",
    "215 VMS", "215 OS/400"};

struct span {
    const uint8_t *b, *e;
};

static void check_inside(const char *p, size_t n, const struct span *buf)
{
    if (!p) {
        if (n != 0)
            abort();
        return;
    }
    (void)buf;
    /* touch every byte so ASan sees any out-of-bounds pointer */
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= (unsigned char)p[i];
    (void)sink;
}

static int on_entry(void *ctx, const struct lp_entry *e)
{
    const struct span *buf = ctx;
    if (!e->name || e->name_len == 0 || e->type > LP_TYPE_OTHER)
        abort();
    if (e->format <= LP_FMT_AUTO || e->format >= LP_FMT_COUNT)
        abort();
    check_inside(e->name, e->name_len, buf);
    check_inside(e->target, e->target_len, buf);
    check_inside(e->owner, e->owner_len, buf);
    check_inside(e->group, e->group_len, buf);
    check_inside(e->perm_text, e->perm_text_len, buf);
    const struct lp_time *t = &e->mtime;
    if (t->prec != LP_TIME_NONE &&
        (t->mon < 1 || t->mon > 12 || t->day < 1 || t->day > 31 || t->hour < 0 || t->hour > 23 ||
         t->min < 0 || t->min > 59 || t->sec < 0 || t->sec > 60))
        abort();
    if ((e->flags & LP_HAVE_MODE) && e->mode > 07777)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lp_options o;
    struct span buf = {data, data + size};
    if (size < 2)
        return 0;
    memset(&o, 0, sizeof o);
    uint8_t sel = data[0], chunk = data[1];
    data += 2;
    size -= 2;
    o.format = (enum lp_format)(sel % LP_FMT_COUNT);
    o.flags = (sel >> 4) & 3u;
    const char *syst = systs[(sel >> 6) % (sizeof systs / sizeof systs[0])];
    if (syst) {
        o.syst = syst;
        o.syst_len = strlen(syst);
    }
    o.now.year = 2024;
    o.now.mon = 2;
    o.now.day = 29;
    o.now.hour = 23;
    o.now.min = 59;
    struct lp_parser *p = lp_parser_new(&o);
    if (!p)
        return 0;
    size_t step = chunk ? chunk : size + 1;
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (lp_feed(p, data + off, n, on_entry, &buf) != 0)
            abort();
    }
    if (lp_finish(p, on_entry, &buf) != 0)
        abort();
    struct lp_stats st;
    lp_get_stats(p, &st);
    if (st.entries + st.junk + st.ignored > st.lines + 1)
        abort();
    lp_parser_free(p);

    /* the line API on the first line, with every format */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    for (int f = LP_FMT_AUTO + 1; f < LP_FMT_COUNT; f++) {
        struct lp_entry e;
        char *copy = malloc(len ? len : 1);
        if (!copy)
            return 0;
        memcpy(copy, data, len);
        struct span lb = {(const uint8_t *)copy, (const uint8_t *)copy + len};
        if (lp_parse_line(copy, len, (enum lp_format)f, &o, &e) == LP_LINE_ENTRY)
            on_entry(&lb, &e);
        free(copy);
    }
    return 0;
}
