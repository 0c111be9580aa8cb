/* Unit tests for ftp/encoding.c: detection over the corpus in tests/data/encodings/ (see
 * gen.py there), hints, names, and the reversible conversion. The fuzz regression inputs are
 * replayed through the fuzz harness itself. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp/encoding.h"
#include "gateway/json.h"

#define LLVMFuzzerTestOneInput fuzz_encoding_one
#include "tests/fuzz/fuzz_encoding.c"
#undef LLVMFuzzerTestOneInput

static bool decodes_to(const char *charset, const char *raw, size_t n, const char *want,
                       size_t wlen)
{
    struct enc_conv *c = enc_conv_new(charset);
    char *out;
    size_t olen;
    ck_assert_msg(c != NULL, "cannot open %s", charset);
    ck_assert_int_eq(enc_decode(c, raw, n, &out, &olen), 0);
    bool same = olen == wlen && memcmp(out, want, wlen) == 0;
    free(out);
    enc_conv_free(c);
    return same;
}

/* Detects and decodes; true when the text comes out right. A charset that decodes the bytes
 * to the same text as the true one (windows-1252 for ISO-8859-1 names) counts as right. */
static bool detect_ok(const char *raw, size_t n, const char *want, size_t wlen, const char **got)
{
    struct enc_result r;
    ck_assert_int_eq(enc_detect(raw, n, NULL, &r), 0);
    *got = r.name;
    ck_assert(r.confidence >= 0 && r.confidence <= 1.0001);
    return decodes_to(r.ascii ? "UTF-8" : r.name, raw, n, want, wlen);
}

struct corpus_case {
    char base[128];
    char charset[64];
};

static size_t load_manifest(struct corpus_case *cases, size_t max)
{
    size_t len, n = 0;
    char *m = tu_read_file(tu_data_path("encodings/MANIFEST"), &len);
    for (char *l = m, *next; l && *l && n < max; l = next) {
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        int k;
        if (l[0] != '#' && sscanf(l, "%127s %63s %d", cases[n].base, cases[n].charset, &k) == 3)
            n++;
    }
    free(m);
    return n;
}

static char *case_file(const char *base, const char *suffix, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "encodings/cases/%s.%s", base, suffix);
    return tu_read_file(tu_data_path(rel), len);
}

/* ------------------------------------------------------------ enc_detect */

START_TEST(test_detect_corpus_lists)
{
    struct corpus_case cases[256];
    size_t n = load_manifest(cases, 256);
    ck_assert_uint_ge(n, 60);
    for (size_t i = 0; i < n; i++) {
        static const char *const kinds[] = {"names", "list"};
        for (int k = 0; k < 2; k++) {
            char sfx[32];
            size_t rl, wl;
            const char *got;
            snprintf(sfx, sizeof sfx, "%s.utf8", kinds[k]);
            char *raw = case_file(cases[i].base, kinds[k], &rl);
            char *want = case_file(cases[i].base, sfx, &wl);
            ck_assert_msg(detect_ok(raw, rl, want, wl, &got), "%s.%s: detected %s, not %s",
                          cases[i].base, kinds[k], got, cases[i].charset);
            free(raw);
            free(want);
        }
    }
}
END_TEST

/* Each non-ASCII name alone, and between ASCII names: the hard case. Most must be right. */
START_TEST(test_detect_corpus_single_names)
{
    struct corpus_case cases[256];
    size_t n = load_manifest(cases, 256), total = 0, good = 0, short_good = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rl, wl;
        char *raw = case_file(cases[i].base, "names", &rl);
        char *want = case_file(cases[i].base, "names.utf8", &wl);
        char *r = raw, *w = want;
        while (*r && *w) {
            char *re = strchr(r, '\n'), *we = strchr(w, '\n');
            ck_assert(re && we);
            bool high = false;
            for (char *p = r; p < re; p++)
                high |= (unsigned char)*p >= 0x80;
            if (high) {
                const char *got;
                char sr[1024], sw[1024];
                total++;
                good += detect_ok(r, (size_t)(re - r), w, (size_t)(we - w), &got);
                int sn = snprintf(sr, sizeof sr, "index.html\nREADME.txt\n%.*s\nlogo.png\n",
                                  (int)(re - r), r);
                int wn = snprintf(sw, sizeof sw, "index.html\nREADME.txt\n%.*s\nlogo.png\n",
                                  (int)(we - w), w);
                short_good += detect_ok(sr, (size_t)sn, sw, (size_t)wn, &got);
            }
            r = re + 1;
            w = we + 1;
        }
        free(raw);
        free(want);
    }
    ck_assert_uint_ge(total, 500);
    /* measured 96% (uchardet: 62%); fail on a real regression, not on model retuning noise */
    ck_assert_msg(good * 100 >= total * 93, "single names: %zu/%zu right", good, total);
    ck_assert_msg(short_good * 100 >= total * 93, "short lists: %zu/%zu right", short_good, total);
}
END_TEST

START_TEST(test_detect_basics)
{
    struct enc_result r;
    ck_assert_int_eq(enc_detect("readme.txt\nindex.html\n", 22, NULL, &r), 0);
    ck_assert_str_eq(r.name, "US-ASCII");
    ck_assert(r.ascii);
    ck_assert_int_eq(enc_detect("", 0, NULL, &r), 0);
    ck_assert_str_eq(r.name, "US-ASCII");
    struct enc_hint h = {NULL, 0, ENC_HINT_UTF8};
    ck_assert_int_eq(enc_detect("readme.txt", 10, &h, &r), 0);
    ck_assert_str_eq(r.name, "UTF-8");
    h = (struct enc_hint){"cp1251", 0, 0};
    ck_assert_int_eq(enc_detect("readme.txt", 10, &h, &r), 0);
    ck_assert_str_eq(r.name, "windows-1251");

    const char *utf8 = "caf\xc3\xa9.txt\n\xe6\x97\xa5\xe6\x9c\xac.doc\n";
    ck_assert_int_eq(enc_detect(utf8, strlen(utf8), NULL, &r), 0);
    ck_assert_str_eq(r.name, "UTF-8");
    ck_assert(r.confidence > 0.99);
    ck_assert_uint_eq(r.high_bytes, 8);

    ck_assert_int_eq(enc_detect("caf\xe9.txt", 8, NULL, &r), 0);
    ck_assert_str_eq(r.name, "windows-1252");
    ck_assert_uint_ge(r.nranked, 2);
    ck_assert(r.ranked[0].cost < r.ranked[1].cost);
    /* candidates that decode to the same text are folded into the best one */
    for (size_t i = 0; i < r.nranked; i++)
        ck_assert_str_ne(r.ranked[i].name, "ISO-8859-1");

    /* FORCE wins over the bytes; an unknown forced charset is an error */
    h = (struct enc_hint){"koi8-r", 0, ENC_HINT_FORCE};
    ck_assert_int_eq(enc_detect("caf\xc3\xa9", 5, &h, &r), 0);
    ck_assert_str_eq(r.name, "KOI8-R");
    ck_assert(r.confidence == 1.0);
    h = (struct enc_hint){"no-such-charset", 0, ENC_HINT_FORCE};
    ck_assert_int_eq(enc_detect("x", 1, &h, &r), ENC_ERR_INVAL);
}
END_TEST

START_TEST(test_detect_hint_bias)
{
    /* "Ţirket": windows-1250 alone; a windows-1254 hint (an earlier Turkish listing) turns it */
    const char *name = "\xde"
                       "irket sunumu.ppt";
    struct enc_result r;
    struct enc_hint h = {"windows-1254", 0, 0};
    ck_assert_int_eq(enc_detect(name, strlen(name), &h, &r), 0);
    ck_assert_str_eq(r.name, "windows-1254");
    h.charset = "windows-1250";
    ck_assert_int_eq(enc_detect(name, strlen(name), &h, &r), 0);
    ck_assert_str_eq(r.name, "windows-1250");
    /* a hint does not outweigh clear evidence: KOI8-R Russian stays KOI8-R */
    size_t rl;
    char *raw = case_file("ru.KOI8-R", "names", &rl);
    h = (struct enc_hint){"windows-1252", 0, 0};
    ck_assert_int_eq(enc_detect(raw, rl, &h, &r), 0);
    ck_assert_str_eq(r.name, "KOI8-R");
    free(raw);
}
END_TEST

/* ------------------------------------------------------------ enc_canonical */

START_TEST(test_canonical)
{
    ck_assert_str_eq(enc_canonical("utf8"), "UTF-8");
    ck_assert_str_eq(enc_canonical("Latin1"), "ISO-8859-1");
    ck_assert_str_eq(enc_canonical("CP1252"), "windows-1252");
    ck_assert_str_eq(enc_canonical("sjis"), "Shift_JIS");
    ck_assert_str_eq(enc_canonical("ms_kanji"), "Shift_JIS");
    ck_assert_str_eq(enc_canonical("euc_kr"), "EUC-KR");
    ck_assert_str_eq(enc_canonical("big5"), "Big5");
    ck_assert_str_eq(enc_canonical("cp437"), "IBM437");
    ck_assert_str_eq(enc_canonical("MacRoman"), "macintosh");
    ck_assert_str_eq(enc_canonical("KOI8-U"), "KOI8-U"); /* outside the candidates, iconv knows */
    ck_assert_ptr_null(enc_canonical("no-such-charset"));
    ck_assert_ptr_null(enc_canonical(""));
    ck_assert_ptr_null(enc_canonical(NULL));
    const char *const *names;
    size_t n = enc_candidate_names(&names);
    ck_assert_uint_eq(n, 24);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(enc_canonical(names[i]), names[i]);
        struct enc_conv *c = enc_conv_new(names[i]);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(enc_conv_name(c), names[i]);
        enc_conv_free(c);
    }
    ck_assert_ptr_null(enc_conv_new("no-such-charset"));
}
END_TEST

/* ------------------------------------------------------------ enc_decode / enc_encode */

static void round_trip_ok(const char *charset, const char *in, size_t n)
{
    struct enc_conv *c = enc_conv_new(charset);
    char *dec, *back;
    size_t dl, bl;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(enc_decode(c, in, n, &dec, &dl), 0);
    ck_assert_msg(gw_utf8_valid(dec, dl), "%s: decoded text is not UTF-8", charset);
    ck_assert_int_eq(enc_encode(c, dec, dl, &back, &bl), 0);
    ck_assert_msg(bl == n && memcmp(back, in, n) == 0, "%s: round trip changed the bytes", charset);
    free(dec);
    free(back);
    enc_conv_free(c);
}

START_TEST(test_escape_rules)
{
    struct enc_conv *c = enc_conv_new("UTF-8");
    char *out;
    size_t n;
    /* undecodable bytes become %HH; a literal % before two hex digits becomes %25 */
    ck_assert_int_eq(enc_decode(c, "caf\xe9 100% %41 %4", 16, &out, &n), 0);
    ck_assert_str_eq(out, "caf%E9 100% %2541 %4");
    free(out);
    ck_assert_int_eq(enc_encode(c, "caf%E9 100% %2541 %4", 20, &out, &n), 0);
    ck_assert_uint_eq(n, 16);
    ck_assert(memcmp(out, "caf\xe9 100% %41 %4", 16) == 0);
    free(out);
    /* lower-case escapes are accepted on the way back */
    ck_assert_int_eq(enc_encode(c, "%e9", 3, &out, &n), 0);
    ck_assert(n == 1 && (unsigned char)out[0] == 0xe9);
    free(out);
    /* invalid UTF-8 on the way back is refused */
    ck_assert_int_eq(enc_encode(c, "\xff", 1, &out, &n), ENC_ERR_INVAL);
    ck_assert_ptr_null(out);
    enc_conv_free(c);

    c = enc_conv_new("windows-1252");
    ck_assert_int_eq(enc_decode(c, "\x80 \x81 caf\xe9", 9, &out, &n), 0);
    ck_assert_str_eq(out, "\xe2\x82\xac %81 caf\xc3\xa9"); /* 0x81 is undefined in 1252 */
    free(out);
    /* a character the charset lacks cannot be sent */
    ck_assert_int_eq(enc_encode(c, "\xe6\x97\xa5", 3, &out, &n), ENC_ERR_INVAL);
    enc_conv_free(c);

    c = enc_conv_new("Shift_JIS");
    /* a truncated double-byte character at the end */
    ck_assert_int_eq(enc_decode(c, "\x93\xfa\x96", 3, &out, &n), 0);
    ck_assert_str_eq(out, "\xe6\x97\xa5%96");
    free(out);
    enc_conv_free(c);
}
END_TEST

START_TEST(test_round_trip_everywhere)
{
    /* every corpus file, and every byte value, survive decode + encode in every charset */
    const char *const *names;
    size_t n = enc_candidate_names(&names);
    char all[512];
    for (int i = 0; i < 256; i++) {
        all[2 * i] = (char)i;
        all[2 * i + 1] = (char)(255 - i);
    }
    struct corpus_case cases[256];
    size_t nc = load_manifest(cases, 256);
    for (size_t k = 0; k < n; k++) {
        round_trip_ok(names[k], all, sizeof all);
        round_trip_ok(names[k], "%41%%zz%", 8);
        for (size_t i = 0; i < nc; i += 3) {
            size_t rl;
            char *raw = case_file(cases[i].base, "names", &rl);
            round_trip_ok(names[k], raw, rl);
            free(raw);
        }
    }
    /* CP932's NEC and IBM duplicates: both byte forms must come back as they were */
    round_trip_ok("Shift_JIS", "\x87\x54\xfa\x4a\xed\x40\xfa\x5c", 8);
}
END_TEST

START_TEST(test_fuzz_regressions)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_data_path("fuzz-regress/encoding"));
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
        ck_assert_int_eq(fuzz_encoding_one((const uint8_t *)data, len), 0);
        free(data);
    }
    closedir(d);
}
END_TEST

Suite *ftp_encoding_suite(void)
{
    Suite *s = suite_create("ftp/encoding");
    TCase *tc = tcase_create("enc_detect");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_detect_corpus_lists);
    tcase_add_test(tc, test_detect_corpus_single_names);
    tcase_add_test(tc, test_detect_basics);
    tcase_add_test(tc, test_detect_hint_bias);
    suite_add_tcase(s, tc);
    tc = tcase_create("enc_canonical");
    tcase_add_test(tc, test_canonical);
    suite_add_tcase(s, tc);
    tc = tcase_create("enc_decode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_escape_rules);
    tcase_add_test(tc, test_round_trip_everywhere);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    return s;
}
