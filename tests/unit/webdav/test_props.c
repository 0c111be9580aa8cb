/* Unit tests for webdav/props.c: the dead property codec, the store in a state dir and
 * its tree operations, and the digest cache. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/buf.h"
#include "gateway/err.h"
#include "webdav/props.h"
#include "tests/unit/webdav/fakeparent.h"

START_TEST(test_codec)
{
    struct dav_props p = {0}, q;
    struct gw_buf b;
    gw_buf_init(&b, 1 << 20);
    ck_assert_int_eq(dav_props_set(&p, "urn:a b", "n", "<x>1 %\n2</x>", 13), 0);
    ck_assert_int_eq(dav_props_set(&p, "", "empty", "", 0), 0);
    ck_assert_int_eq(dav_props_set(&p, "urn:a b", "n", "v2", 2), 0); /* replace */
    ck_assert_uint_eq(p.n, 2);
    ck_assert_int_eq(dav_props_format(&p, &b), 0);
    ck_assert_str_eq(gw_buf_str(&b), "# ferry webdav properties v1\n"
                                     "urn:a%20b n v2\n"
                                     "% empty %\n");
    ck_assert_int_eq(dav_props_parse(b.data, b.len, &q), 0);
    ck_assert_uint_eq(q.n, 2);
    ck_assert_str_eq(dav_props_find(&q, "urn:a b", "n")->value, "v2");
    ck_assert_str_eq(dav_props_find(&q, "", "empty")->value, "");
    ck_assert_ptr_null(dav_props_find(&q, "urn:a b", "m"));
    dav_props_free(&q);
    /* Bad lines are skipped, good ones kept. */
    static const char damaged[] = "# ferry webdav properties v1\nonly two\nns n v\n% %00 v\n"
                                  "a b %zz\nx y z w\nns2 n2 a%0Ab";
    ck_assert_int_eq(dav_props_parse(damaged, sizeof damaged - 1, &q), 0);
    ck_assert_uint_eq(q.n, 2);
    ck_assert_str_eq(dav_props_find(&q, "ns2", "n2")->value, "a\nb");
    dav_props_free(&q);
    ck_assert_int_eq(dav_props_parse("junk", 4, &q), GW_ERR_PROTO);
    dav_props_remove(&p, "urn:a b", "n");
    dav_props_remove(&p, "nope", "n");
    ck_assert_uint_eq(p.n, 1);
    dav_props_free(&p);
    gw_buf_free(&b);
}
END_TEST

/* Replaces key's properties with n = v ("" removes them all), as PROPPATCH does. */
static void save1(const char *base, const char *key, const char *v)
{
    struct dav_propdb db;
    ck_assert_int_eq(dav_propdb_open(&db, base, NULL, key), 0);
    dav_props_free(&db.p);
    if (v[0])
        ck_assert_int_eq(dav_props_set(&db.p, "urn:t", "n", v, strlen(v)), 0);
    ck_assert_int_eq(dav_propdb_close(&db, true), 0);
}

static const char *get1(const char *base, const char *key, const char *name)
{
    static char v[256];
    struct dav_props p;
    ck_assert_int_eq(dav_props_load(base, NULL, key, &p), 0);
    const struct dav_prop *e = dav_props_find(&p, "urn:t", name);
    snprintf(v, sizeof v, "%s", e ? e->value : "(none)");
    dav_props_free(&p);
    return v;
}

START_TEST(test_store_tree)
{
    char *base = tu_mkdtemp("props");
    save1(base, "/", "root");
    save1(base, "/d", "dir");
    save1(base, "/d/f.txt", "file");
    /* A 255-byte name maps to a hashed directory name. */
    char longkey[300] = "/d/";
    memset(longkey + 3, 'L', 255);
    longkey[258] = '\0';
    save1(base, longkey, "long");
    ck_assert_str_eq(get1(base, "/", "n"), "root");
    ck_assert_str_eq(get1(base, "/d/f.txt", "n"), "file");
    ck_assert_str_eq(get1(base, longkey, "n"), "long");
    ck_assert_str_eq(get1(base, "/missing/x", "n"), "(none)");
    /* A read-modify-write left without saving changes nothing. */
    struct dav_propdb db;
    ck_assert_int_eq(dav_propdb_open(&db, base, NULL, "/d"), 0);
    ck_assert_uint_eq(db.p.n, 1);
    dav_props_remove(&db.p, "urn:t", "n");
    ck_assert_int_eq(dav_propdb_close(&db, false), 0);
    ck_assert_str_eq(get1(base, "/d", "n"), "dir");
    /* Copy (shallow and deep), move, delete: members follow their collection. */
    ck_assert_int_eq(dav_props_copy(base, NULL, "/d", "/c0", false), 0);
    ck_assert_str_eq(get1(base, "/c0", "n"), "dir");
    ck_assert_str_eq(get1(base, "/c0/f.txt", "n"), "(none)");
    ck_assert_int_eq(dav_props_copy(base, NULL, "/d", "/c", true), 0);
    ck_assert_str_eq(get1(base, "/c/f.txt", "n"), "file");
    ck_assert_int_eq(dav_props_move(base, NULL, "/d", "/m/inner"), 0);
    ck_assert_str_eq(get1(base, "/m/inner/f.txt", "n"), "file");
    ck_assert_str_eq(get1(base, "/d/f.txt", "n"), "(none)");
    ck_assert_int_eq(dav_props_move(base, NULL, "/c", "/m"), 0); /* replaces /m entirely */
    ck_assert_str_eq(get1(base, "/m/inner/f.txt", "n"), "(none)");
    ck_assert_str_eq(get1(base, "/m/f.txt", "n"), "file");
    ck_assert_int_eq(dav_props_delete(base, NULL, "/m"), 0);
    ck_assert_str_eq(get1(base, "/m/f.txt", "n"), "(none)");
    ck_assert_str_eq(get1(base, "/", "n"), "root");
    ck_assert_int_eq(dav_props_move(base, NULL, "/nothing", "/x"), 0);
    ck_assert_int_eq(dav_props_delete(base, NULL, "/nothing"), 0);
    /* An empty set removes the file. */
    save1(base, "/", "");
    ck_assert_str_eq(get1(base, "/", "n"), "(none)");
    tu_rmtree(base);
    free(base);
}
END_TEST

/* Shared state: the same text as the blob "webdav/props" + key, through the parent. */
static void save_shared(struct fake_parent *f, const char *key, const char *v)
{
    struct dav_propdb db;
    ck_assert_int_eq(dav_propdb_open(&db, "/nonexistent", &f->s, key), 0);
    ck_assert(fp_holding(f));
    dav_props_free(&db.p);
    if (v[0])
        ck_assert_int_eq(dav_props_set(&db.p, "urn:t", "n", v, strlen(v)), 0);
    ck_assert_int_eq(dav_propdb_close(&db, true), 0);
    ck_assert(!fp_holding(f));
}

static const char *get_shared(struct fake_parent *f, const char *key)
{
    static char v[256];
    struct dav_props p;
    ck_assert_int_eq(dav_props_load("/nonexistent", &f->s, key, &p), 0);
    const struct dav_prop *e = dav_props_find(&p, "urn:t", "n");
    snprintf(v, sizeof v, "%s", e ? e->value : "(none)");
    dav_props_free(&p);
    return v;
}

START_TEST(test_store_shared)
{
    struct fake_parent f;
    fp_start(&f);
    save_shared(&f, "/d", "dir");
    save_shared(&f, "/", "root");
    ck_assert_str_eq(fp_body(&f, "webdav/props/d"), "# ferry webdav properties v1\nurn:t n dir\n");
    ck_assert_str_eq(get_shared(&f, "/d"), "dir");
    ck_assert_str_eq(get_shared(&f, "/"), "root");
    ck_assert_str_eq(get_shared(&f, "/none"), "(none)");
    /* Left without saving: released, unchanged. */
    struct dav_propdb db;
    ck_assert_int_eq(dav_propdb_open(&db, "/nonexistent", &f.s, "/d"), 0);
    dav_props_remove(&db.p, "urn:t", "n");
    ck_assert_int_eq(dav_propdb_close(&db, false), 0);
    ck_assert(!fp_holding(&f));
    ck_assert_str_eq(get_shared(&f, "/d"), "dir");
    /* Copy, move (replacing the target), delete: the resource's own properties. */
    ck_assert_int_eq(dav_props_copy("/nonexistent", &f.s, "/d", "/c", true), 0);
    ck_assert_str_eq(get_shared(&f, "/c"), "dir");
    save_shared(&f, "/m", "old");
    ck_assert_int_eq(dav_props_move("/nonexistent", &f.s, "/c", "/m"), 0);
    ck_assert_str_eq(get_shared(&f, "/m"), "dir");
    ck_assert_str_eq(get_shared(&f, "/c"), "(none)");
    ck_assert_int_eq(dav_props_move("/nonexistent", &f.s, "/nothing", "/m"), 0);
    ck_assert_str_eq(get_shared(&f, "/m"), "(none)"); /* move replaces whatever was there */
    ck_assert_int_eq(dav_props_delete("/nonexistent", &f.s, "/d"), 0);
    ck_assert_str_eq(get_shared(&f, "/d"), "(none)");
    ck_assert_int_eq(dav_props_delete("/nonexistent", &f.s, "/d"), 0);
    ck_assert(!fp_holding(&f));
    /* An empty set deletes the blob. */
    save_shared(&f, "/", "");
    ck_assert_uint_eq(f.n, 0);
    /* Too large for one message: GW_ERR_NOSPC, nothing stored, nothing held. */
    ck_assert_int_eq(dav_propdb_open(&db, "/nonexistent", &f.s, "/big"), 0);
    static char big[GW_STATE_MAX_BODY];
    memset(big, 'v', sizeof big);
    ck_assert_int_eq(dav_props_set(&db.p, "urn:t", "n", big, sizeof big), 0);
    ck_assert_int_eq(dav_propdb_close(&db, true), GW_ERR_NOSPC);
    ck_assert(!fp_holding(&f));
    ck_assert_str_eq(get_shared(&f, "/big"), "(none)");
    /* Database down: an error, never an empty set written back. */
    save_shared(&f, "/d", "dir");
    f.fail = GW_ERR_IO;
    struct dav_props p;
    ck_assert_int_eq(dav_props_load("/nonexistent", &f.s, "/d", &p), GW_ERR_IO);
    ck_assert_int_eq(dav_propdb_open(&db, "/nonexistent", &f.s, "/d"), GW_ERR_IO);
    ck_assert_int_eq(dav_propdb_close(&db, true), 0); /* after a failed open: a no-op */
    ck_assert_int_eq(dav_props_move("/nonexistent", &f.s, "/d", "/e"), GW_ERR_IO);
    f.fail = 0;
    ck_assert_str_eq(get_shared(&f, "/d"), "dir");
    fp_stop(&f);
}
END_TEST

START_TEST(test_hash_cache)
{
    char *base = tu_mkdtemp("hash");
    struct vfs_stat st = {.size = 10, .mtime = 100, .mtime_nsec = 7};
    unsigned char sum[32], got[32];
    for (int i = 0; i < 32; i++)
        sum[i] = (unsigned char)(i * 7);
    ck_assert(!dav_hash_get(base, "/f", &st, got));
    dav_hash_put(base, "/f", &st, sum);
    ck_assert(dav_hash_get(base, "/f", &st, got));
    ck_assert(memcmp(sum, got, 32) == 0);
    st.mtime_nsec = 8; /* the file changed: the digest no longer counts */
    ck_assert(!dav_hash_get(base, "/f", &st, got));
    tu_rmtree(base);
    free(base);
}
END_TEST

Suite *webdav_props_suite(void)
{
    Suite *s = suite_create("webdav/props");
    TCase *tc = tcase_create("dav_props_codec");
    tcase_add_test(tc, test_codec);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_props_store");
    tcase_add_test(tc, test_store_tree);
    tcase_add_test(tc, test_store_shared);
    suite_add_tcase(s, tc);
    tc = tcase_create("dav_hash");
    tcase_add_test(tc, test_hash_cache);
    suite_add_tcase(s, tc);
    return s;
}
