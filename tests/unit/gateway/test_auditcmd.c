/* Unit tests for gateway/auditcmd.c: `ferry audit` (filters, formats, --stats, rotated
 * and compressed files), `ferry audit verify` (exit codes and where it says the log
 * was tampered with) and `ferry audit rotate`, run in-process with stdout and stderr
 * captured. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/cli.h"
#include "gateway/err.h"

struct run {
    int rc;
    char *out, *err;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* Runs `ferry audit ARGS...` (NULL-terminated) with stdout/stderr captured. */
static struct run run_audit(const char *dir, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    argv[argc++] = strdup("audit");
    va_start(ap, dir);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 63;)
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;

    char outp[4096], errp[4096];
    snprintf(outp, sizeof outp, "%s/.out", dir);
    snprintf(errp, sizeof errp, "%s/.err", dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    struct run r;
    r.rc = audit_cmd_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so), close(se), close(fo), close(fe);
    size_t n;
    r.out = tu_read_file(outp, &n);
    r.err = tu_read_file(errp, &n);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return r;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* 2026-11-28T00:00:00Z */
#define DAY0 INT64_C(1795824000000)
#define HOUR INT64_C(3600000)

/* A small, known log: 12 records over two days from three users. */
static void write_log(const char *path, int first, int last)
{
    static const struct {
        int hour;
        const char *event, *proto, *user, *remote, *path, *path2, *status;
        int64_t bytes, offset;
    } recs[] = {
        {1, "login", "ftp", "alice", "192.0.2.7:50122", NULL, NULL, "ok", -1, -1},
        {2, "upload", "ftp", "alice", "192.0.2.7:50122", "/in/a.csv", NULL, "ok", 1000, 0},
        {3, "upload", "ftp", "alice", "192.0.2.7:50122", "/in/b.csv", NULL, "aborted", 500, 0},
        {4, "upload", "ftp", "alice", "192.0.2.7:50122", "/in/b.csv", NULL, "ok", 1500, 500},
        {5, "login_failed", "sftp", "mallory", "203.0.113.66:4444", NULL, NULL, "failed", -1, -1},
        {6, "download", "sftp", "bob", "[2001:db8::5]:40022", "/pub/x.iso", NULL, "ok", 7000, 0},
        {7, "rename", "sftp", "bob", "[2001:db8::5]:40022", "/pub/x.iso", "/pub/y iso", "ok", -1,
         -1},
        {25, "download", "webdav", "carol", "198.51.100.9:443", "/pub/y iso", NULL, "ok", 9000, 0},
        {26, "delete", "webdav", "carol", "198.51.100.9:443", "/pub/y iso", NULL, "ok", -1, -1},
        {27, "mkdir", "webdav", "carol", "198.51.100.10:443", "/new", NULL, "ok", -1, -1},
        {28, "download", "ftps", "anonymous", "192.0.2.99:1000", "/pub/readme\x1b[2J", NULL,
         "failed", 10, 0},
        {29, "logout", "ftp", "alice", "192.0.2.7:50122", NULL, NULL, "ok", -1, -1},
    };
    struct audit_log *log;
    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    for (int i = first; i <= last; i++) {
        struct audit_record r;
        audit_record_init(&r);
        r.ts_ms = DAY0 + recs[i].hour * HOUR + 123;
        r.event = recs[i].event;
        r.proto = recs[i].proto;
        r.user = recs[i].user;
        r.remote = recs[i].remote;
        r.path = recs[i].path;
        r.path2 = recs[i].path2;
        r.status = recs[i].status;
        r.bytes = recs[i].bytes;
        r.offset = recs[i].offset;
        r.duration_ms = r.bytes >= 0 ? 2400 : -1;
        ck_assert_int_eq(audit_append(log, &r), 0);
    }
    audit_close(log);
}

START_TEST(test_parse_time)
{
    int64_t now = DAY0 + 12 * HOUR, t;
    ck_assert_int_eq(audit_parse_time("2026-11-28", now, &t), 0);
    ck_assert_int_eq(t, DAY0);
    ck_assert_int_eq(audit_parse_time("2026-11-28T05", now, &t), 0);
    ck_assert_int_eq(t, DAY0 + 5 * HOUR);
    ck_assert_int_eq(audit_parse_time("2026-11-28 05:30", now, &t), 0);
    ck_assert_int_eq(t, DAY0 + 5 * HOUR + 1800000);
    ck_assert_int_eq(audit_parse_time("2026-11-28T05:30:10Z", now, &t), 0);
    ck_assert_int_eq(t, DAY0 + 5 * HOUR + 1810000);
    ck_assert_int_eq(audit_parse_time("2026-11-28T05:30:10.250", now, &t), 0);
    ck_assert_int_eq(t, DAY0 + 5 * HOUR + 1810250);
    ck_assert_int_eq(audit_parse_time("2026-11-28T05:30:10.250Z", now, &t), 0);
    ck_assert_int_eq(audit_parse_time("now", now, &t), 0);
    ck_assert_int_eq(t, now);
    ck_assert_int_eq(audit_parse_time("90s", now, &t), 0);
    ck_assert_int_eq(t, now - 90000);
    ck_assert_int_eq(audit_parse_time("15m", now, &t), 0);
    ck_assert_int_eq(t, now - 900000);
    ck_assert_int_eq(audit_parse_time("2h", now, &t), 0);
    ck_assert_int_eq(t, now - 2 * HOUR);
    ck_assert_int_eq(audit_parse_time("7d", now, &t), 0);
    ck_assert_int_eq(t, now - 7 * 24 * HOUR);
    ck_assert_int_eq(audit_parse_time("2w", now, &t), 0);
    ck_assert_int_eq(t, now - 14 * 24 * HOUR);
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "15",
                                      "15x",
                                      "m",
                                      "2026-11-28T",
                                      "2026-11-31",
                                      "2026-11-28T25:00",
                                      "2026-11-28X05:00",
                                      "2026-11-28T05:3",
                                      "1234567890d",
                                      "2026/11/28"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(audit_parse_time(bad[i], now, &t) == GW_ERR_INVAL, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_verify_cmd)
{
    char *dir = tu_mkdtemp("auditcmd");
    char path[4200], state[4096];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(path, sizeof path, "%s/audit.jsonl", state);
    ck_assert_int_eq(tu_sh("mkdir -p '%s'", state), 0);

    struct run r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_SOME_FAILED);
    ck_assert_ptr_nonnull(strstr(r.err, "no audit log"));
    run_free(&r);

    write_log(path, 0, 11);
    r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "12 records, chain intact\n");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    r = run_audit(dir, "verify", "--log", path, NULL);
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);

    /* each kind of tampering: exit 3, file and line */
    static const struct {
        const char *sh, *want;
    } tamper[] = {
        {"sed -i '7s/x.iso/z.iso/'", "audit.jsonl: line 7: record edited (hash mismatch)\n"},
        {"sed -i '5d'", "audit.jsonl: line 5: chain broken: record(s) missing"},
        {"sed -i '3{h;d};4{G}'", "audit.jsonl: line 3: record out of order"},
        {"truncate -s -20", "audit.jsonl: line 12: truncated tail"},
        {"sed -i '2a garbage'", "audit.jsonl: line 3: not an audit record"},
    };
    char orig[4300];
    snprintf(orig, sizeof orig, "%s.orig", path);
    ck_assert_int_eq(tu_sh("cp '%s' '%s'", path, orig), 0);
    for (size_t i = 0; i < sizeof tamper / sizeof tamper[0]; i++) {
        ck_assert_int_eq(tu_sh("cp '%s' '%s'", orig, path), 0);
        ck_assert_int_eq(tu_sh("%s '%s'", tamper[i].sh, path), 0);
        r = run_audit(dir, "verify", "--state", state, NULL);
        ck_assert_int_eq(r.rc, GW_EXIT_VERIFY);
        ck_assert_msg(strstr(r.out, tamper[i].want) != NULL, "%s: got %s", tamper[i].sh, r.out);
        run_free(&r);
    }
    ck_assert_int_eq(tu_sh("mv '%s' '%s'", orig, path), 0);

    /* rotated and compressed files verify as one chain; a missing middle one is found */
    ck_assert_int_eq(tu_sh("cd '%s' && head -n 4 audit.jsonl > audit.jsonl.2 && gzip "
                           "audit.jsonl.2 && sed -n 5,8p audit.jsonl > audit.jsonl.1 && "
                           "sed -i 1,8d audit.jsonl",
                           state),
                     0);
    r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "12 records, chain intact (3 files)\n");
    run_free(&r);
    ck_assert_int_eq(tu_sh("rm '%s/audit.jsonl.1'", state), 0);
    r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_VERIFY);
    ck_assert_ptr_nonnull(strstr(r.out, "audit.jsonl: line 1: does not continue"));
    run_free(&r);
    /* the oldest rotation gone: intact, with a note */
    ck_assert_int_eq(tu_sh("rm '%s/audit.jsonl.2.gz'", state), 0);
    r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "4 records, chain intact\n");
    ck_assert_ptr_nonnull(strstr(r.err, "earlier records"));
    run_free(&r);

    /* keyed */
    char keyed[4096], key[4096];
    snprintf(keyed, sizeof keyed, "%s/keyed.jsonl", dir);
    snprintf(key, sizeof key, "%s/key", dir);
    tu_write_file(key, "s3cret-s3cret-s3cret\n", 21);
    struct audit_log *log;
    ck_assert_int_eq(audit_open(keyed, (const unsigned char *)"s3cret-s3cret-s3cret", 20, &log), 0);
    struct audit_record rec;
    audit_record_init(&rec);
    rec.event = "verify";
    rec.proto = "mirror";
    rec.status = "ok";
    ck_assert_int_eq(audit_append(log, &rec), 0);
    ck_assert_int_eq(audit_append(log, &rec), 0);
    audit_close(log);
    r = run_audit(dir, "verify", "--log", keyed, "--key", key, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "2 records, chain intact\n");
    run_free(&r);
    r = run_audit(dir, "verify", "--log", keyed, NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_VERIFY);
    ck_assert_ptr_nonnull(strstr(r.out, "line 1: record edited"));
    run_free(&r);
    r = run_audit(dir, "verify", "--log", keyed, "--key", "/nonexistent/key", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);

    /* usage */
    r = run_audit(dir, "verify", "--frobnicate", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(r.err, "--frobnicate"));
    run_free(&r);
    r = run_audit(dir, "verify", "--log", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);
    r = run_audit(dir, "verify", "extra", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);
    r = run_audit(dir, "verify", "--help", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: ferry audit verify"));
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* Runs a query in JSON Lines and returns how many records came out. */
static int query_count(const char *dir, const char *log, const char *a1, const char *v1,
                       const char *a2, const char *v2)
{
    struct run r = run_audit(dir, "--log", log, "--format", "json", a1, v1, a2, v2, NULL);
    ck_assert_msg(r.rc == 0, "%s %s: exit %d: %s", a1, v1 ? v1 : "", r.rc, r.err);
    int n = count_lines(r.out);
    run_free(&r);
    return n;
}

START_TEST(test_query_filters)
{
    char *dir = tu_mkdtemp("auditcmd");
    char log[4096];
    snprintf(log, sizeof log, "%s/audit.jsonl", dir);
    write_log(log, 0, 11);

    ck_assert_int_eq(query_count(dir, log, NULL, NULL, NULL, NULL), 12);
    ck_assert_int_eq(query_count(dir, log, "--user", "alice", NULL, NULL), 5);
    ck_assert_int_eq(query_count(dir, log, "--user", "alic", NULL, NULL), 0);
    ck_assert_int_eq(query_count(dir, log, "--proto", "sftp", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--proto", "sftp,webdav", NULL, NULL), 6);
    ck_assert_int_eq(query_count(dir, log, "--event", "upload", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--event", "upload,download", "--status", "ok"), 4);
    ck_assert_int_eq(query_count(dir, log, "--status", "failed,aborted", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/*", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/b.csv", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--path", "*.iso", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--path", "/pub/y iso", NULL, NULL), 3); /* path2 */
    ck_assert_int_eq(query_count(dir, log, "--path", "/pub/*", "--user", "bob"), 2);
    ck_assert_int_eq(query_count(dir, log, "--since", "2026-11-29", NULL, NULL), 5);
    ck_assert_int_eq(query_count(dir, log, "--until", "2026-11-29", NULL, NULL), 7);
    ck_assert_int_eq(
        query_count(dir, log, "--since", "2026-11-28T03:00:00.123", "--until", "2026-11-28T06"), 3);
    /* ages are relative to the clock: the log is from 2026 */
    ck_assert_int_eq(query_count(dir, log, "--until", "3650d", NULL, NULL), 0);
    ck_assert_int_eq(query_count(dir, log, "--since", "520w", NULL, NULL), 12);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.7", NULL, NULL), 5);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.7:50122", NULL, NULL), 5);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.7:1", NULL, NULL), 0);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.0/24", NULL, NULL), 6);
    ck_assert_int_eq(query_count(dir, log, "--remote", "198.51.100.8/31", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--remote", "198.51.100.8/30", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--remote", "2001:db8::5", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--remote", "[2001:db8::5]", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--remote", "[2001:db8::5]:40022", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--remote", "2001:db8::/32", NULL, NULL), 2);
    ck_assert_int_eq(query_count(dir, log, "--remote", "2001:db8::6", NULL, NULL), 0);

    /* '*'-only patterns take a fast matcher: it must agree with fnmatch, which the
     * same pattern with one literal byte written as a bracket expression goes to */
    static const char *const globs[][2] = {
        {"*", "[/]*"},           {"**", "[/]**"},         {"/in/*", "/[i]n/*"},
        {"*.csv", "*.[c]sv"},    {"*b*c*", "*[b]*c*"},    {"/pub/y iso", "/pub/[y] iso"},
        {"*/*/*", "*[/]*/*"},    {"*iso*iso", "*[i]so*iso"}, {"/*/*.iso", "[/]*/*.iso"},
        {"*s*s", "*[s]*s"},      {"/in/a.csv*", "/in/[a].csv*"},
    };
    for (size_t i = 0; i < sizeof globs / sizeof globs[0]; i++)
        ck_assert_msg(query_count(dir, log, "--path", globs[i][0], NULL, NULL) ==
                          query_count(dir, log, "--path", globs[i][1], NULL, NULL),
                      "%s", globs[i][0]);
    ck_assert_int_eq(query_count(dir, log, "--path", "*", NULL, NULL), 9); /* all with a path */
    ck_assert_int_eq(query_count(dir, log, "--path", "*s*s", NULL, NULL), 0);

    /* JSON Lines are the records as logged, so they still verify */
    struct run r = run_audit(dir, "--log", log, "--format", "json", NULL);
    struct audit_verify_result res;
    ck_assert_int_eq(audit_verify_buf(r.out, strlen(r.out), NULL, NULL, 0, &res), 0);
    ck_assert_int_eq(res.verdict, AUDIT_INTACT);
    ck_assert_int_eq(res.records, 12);
    run_free(&r);

    /* usage errors */
    static const char *const bad[][2] = {
        {"--event", "uplaod"}, {"--proto", "gopher"},      {"--status", "ok,"},
        {"--since", "soon"},   {"--remote", "1.2.3.4/33"}, {"--format", "xml"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run_audit(dir, "--log", log, bad[i][0], bad[i][1], NULL);
        ck_assert_msg(r.rc == GW_EXIT_USAGE, "%s %s: exit %d", bad[i][0], bad[i][1], r.rc);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
    r = run_audit(dir, "--log", log, "--stats", "--format", "xferlog", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);
    r = run_audit(dir, "--log", log, "stray", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);
    r = run_audit(dir, "--help", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--remote ADDR"));
    run_free(&r);
    r = run_audit(dir, "--state", "/nonexistent-ferry-state", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_SOME_FAILED);
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* The filters look at the raw line before parsing it: lines that are valid records but
 * not in the writer's exact form (whitespace, escapes in keys or values, another member
 * order, a value that reads like a key) must still be found exactly as the parser sees
 * them. */
START_TEST(test_query_raw_forms)
{
    char *dir = tu_mkdtemp("auditcmd");
    char log[4096];
    snprintf(log, sizeof log, "%s/audit.jsonl", dir);
    static const char lines[] =
        "{\"ts\":\"2026-11-28T01:00:00.000Z\",\"event\":\"upload\",\"user\":\"alice\","
        "\"remote\":\"192.0.2.1:1\",\"path\":\"/in/a\",\"status\":\"ok\"}\n"
        "{ \"ts\" : \"2026-11-28T02:00:00.000Z\" , \"event\" : \"upload\" , \"user\" : "
        "\"alice\" , \"remote\" : \"192.0.2.2:2\" , \"path\" : \"/in/b\" , \"status\" : \"ok\" }\n"
        "{\"ts\":\"2026-11-28T03:00:00.000Z\",\"event\":\"upload\",\"\\u0075ser\":\"alice\","
        "\"r\\u0065mote\":\"192.0.2.3:3\",\"\\u0070ath\":\"/in/c\",\"status\":\"ok\"}\n"
        "{\"ts\":\"2026-11-28T04:00:00.000Z\",\"event\":\"upl\\u006fad\",\"user\":\"\\u0061lice\","
        "\"remote\":\"192.0.2.4:4\",\"path\":\"\\/in\\/d\",\"status\":\"ok\"}\n"
        "{\"status\":\"ok\",\"path2\":\"/in/e\",\"path\":\"/out/e\",\"remote\":\"[2001:db8::1]:5\","
        "\"user\":\"alice\",\"event\":\"rename\",\"ts\":\"2026-11-28T05:00:00.000Z\"}\n"
        "{\"ts\":\"2026-11-28T06:00:00.000Z\",\"event\":\"upload\",\"user\":\"bob\",\"path\":"
        "\"user\",\"status\":\"ok\",\"error\":\"\\\"user\\\":\\\"alice\\\"\"}\n"
        "{\"ts\":\"2026-11-28T07:00:00.000Z\",\"event\":\"upload\",\"user\":null,\"remote\":null,"
        "\"path\":\"/in/g\",\"status\":\"ok\"}\n"
        "{\"ts\":\"2026-11-28T08:00:00.000Z\",\"event\":\"download\",\"user\":\"user\","
        "\"path\":\"/in/caf\xc3\xa9\",\"status\":\"failed\"}\n"
        "{\"ts\":\"2026-11-28T09:00:00.000Z\",\"user\":\"alice\",\"user\":\"bob\",\"event\":"
        "\"upload\",\"status\":\"ok\"}\n"
        "{\"ts\":\"2026-11-28T10:00:00.000Z\",\"event\":\"upload\",\"user\":\"alice\",\"path\":\n";
    tu_write_file(log, lines, sizeof lines - 1);
    ck_assert_int_eq(query_count(dir, log, "--user", "alice", NULL, NULL), 5);
    ck_assert_int_eq(query_count(dir, log, "--user", "bob", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--user", "user", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/*", NULL, NULL), 7);
    ck_assert_int_eq(query_count(dir, log, "--path", "*/e", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/caf\xc3\xa9", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "user", NULL, NULL), 1);
    /* the literal needles of globs (start, end, whole) skip no line that matches,
     * escaped or spaced out */
    ck_assert_int_eq(query_count(dir, log, "--path", "*/d", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "*c", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "*/b", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/?", NULL, NULL), 6);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/[a-c]", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/d", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "/in/b", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--path", "*caf\xc3\xa9", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--event", "upload", "--user", "alice"), 4);
    ck_assert_int_eq(query_count(dir, log, "--event", "upload,rename", "--status", "ok"), 7);
    ck_assert_int_eq(query_count(dir, log, "--status", "failed", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.0/24", NULL, NULL), 4);
    ck_assert_int_eq(query_count(dir, log, "--remote", "2001:db8::1", NULL, NULL), 1);
    ck_assert_int_eq(query_count(dir, log, "--remote", "192.0.2.3", "--user", "alice"), 1);
    /* the repeated member and the cut line are not records: reported, not matched */
    struct run r = run_audit(dir, "--log", log, "--format", "json", "--user", "alice", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "skipped 2 line"));
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_query_formats)
{
    setenv("TZ", "UTC", 1);
    tzset();
    char *dir = tu_mkdtemp("auditcmd");
    char log[4096];
    snprintf(log, sizeof log, "%s/audit.jsonl", dir);
    write_log(log, 0, 11);

    struct run r = run_audit(dir, "--log", log, "--user", "bob", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(
        r.out,
        "TIME (UTC)           EVENT         PROTO   USER          REMOTE                 STATUS "
        "         BYTES  PATH\n"
        "2026-11-28 06:00:00  download      sftp    bob           [2001:db8::5]:40022    ok     "
        "          7000  /pub/x.iso\n"
        "2026-11-28 07:00:00  rename        sftp    bob           [2001:db8::5]:40022    ok     "
        "             -  /pub/x.iso -> /pub/y iso\n");
    run_free(&r);
    /* control bytes from the log never reach the terminal */
    r = run_audit(dir, "--log", log, "--user", "anonymous", NULL);
    ck_assert_ptr_null(strchr(r.out, '\x1b'));
    ck_assert_ptr_nonnull(strstr(r.out, "/pub/readme?[2J"));
    run_free(&r);
    /* resumes and errors show in the table */
    r = run_audit(dir, "--log", log, "--path", "/in/b.csv", NULL);
    ck_assert_ptr_nonnull(strstr(r.out, "(resumed at 500)"));
    run_free(&r);

    r = run_audit(dir, "--log", log, "--format", "xferlog", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out,
                     "Sat Nov 28 02:00:00 2026 2 192.0.2.7 1000 /in/a.csv b _ i r alice ftp 0 * c\n"
                     "Sat Nov 28 03:00:00 2026 2 192.0.2.7 500 /in/b.csv b _ i r alice ftp 0 * i\n"
                     "Sat Nov 28 04:00:00 2026 2 192.0.2.7 1500 /in/b.csv b _ i r alice ftp 0 * c\n"
                     "Sat Nov 28 06:00:00 2026 2 2001:db8::5 7000 /pub/x.iso b _ o r bob sftp 0 * "
                     "c\n"
                     "Sun Nov 29 01:00:00 2026 2 198.51.100.9 9000 /pub/y_iso b _ o r carol "
                     "webdav 0 * c\n"
                     "Sun Nov 29 04:00:00 2026 2 192.0.2.99 10 /pub/readme_[2J b _ o a anonymous "
                     "ftps 0 * i\n");
    run_free(&r);

    r = run_audit(dir, "--log", log, "--stats", "--format", "json", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(
        r.out,
        "{\"total\":{\"uploads\":3,\"downloads\":3,\"bytes_in\":3000,\"bytes_out\":16010,"
        "\"failed\":2,\"resumed\":1,\"login_failed\":1},"
        "\"by_user\":{"
        "\"alice\":{\"uploads\":3,\"downloads\":0,\"bytes_in\":3000,\"bytes_out\":0,\"failed\":1,"
        "\"resumed\":1,\"login_failed\":0},"
        "\"anonymous\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":10,"
        "\"failed\":1,\"resumed\":0,\"login_failed\":0},"
        "\"bob\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":7000,\"failed\":0,"
        "\"resumed\":0,\"login_failed\":0},"
        "\"carol\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":9000,\"failed\":0,"
        "\"resumed\":0,\"login_failed\":0},"
        "\"mallory\":{\"uploads\":0,\"downloads\":0,\"bytes_in\":0,\"bytes_out\":0,\"failed\":0,"
        "\"resumed\":0,\"login_failed\":1}},"
        "\"by_proto\":{"
        "\"ftp\":{\"uploads\":3,\"downloads\":0,\"bytes_in\":3000,\"bytes_out\":0,\"failed\":1,"
        "\"resumed\":1,\"login_failed\":0},"
        "\"ftps\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":10,\"failed\":1,"
        "\"resumed\":0,\"login_failed\":0},"
        "\"sftp\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":7000,\"failed\":0,"
        "\"resumed\":0,\"login_failed\":1},"
        "\"webdav\":{\"uploads\":0,\"downloads\":1,\"bytes_in\":0,\"bytes_out\":9000,\"failed\":0,"
        "\"resumed\":0,\"login_failed\":0}},"
        "\"by_day\":{"
        "\"2026-11-28\":{\"uploads\":3,\"downloads\":1,\"bytes_in\":3000,\"bytes_out\":7000,"
        "\"failed\":1,\"resumed\":1,\"login_failed\":1},"
        "\"2026-11-29\":{\"uploads\":0,\"downloads\":2,\"bytes_in\":0,\"bytes_out\":9010,"
        "\"failed\":1,\"resumed\":0,\"login_failed\":0}}}\n");
    run_free(&r);
    r = run_audit(dir, "--log", log, "--stats", "--user", "alice", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\ntotal                    3          0            3000"));
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_query_rotated)
{
    char *dir = tu_mkdtemp("auditcmd");
    char log[4096];
    snprintf(log, sizeof log, "%s/audit.jsonl", dir);
    /* written in three parts, rotated logrotate-style, the oldest compressed */
    write_log(log, 0, 3);
    ck_assert_int_eq(tu_sh("cd '%s' && mv audit.jsonl audit.jsonl.2 && gzip audit.jsonl.2", dir),
                     0);
    write_log(log, 4, 7);
    ck_assert_int_eq(tu_sh("cd '%s' && mv audit.jsonl audit.jsonl.1", dir), 0);
    write_log(log, 8, 11);
    /* plus junk: a malformed line is skipped with a warning, not fatal */
    ck_assert_int_eq(tu_sh("echo 'not json' >> '%s'", log), 0);
    struct run r = run_audit(dir, "--log", log, "--format", "json", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(count_lines(r.out), 12);
    ck_assert_ptr_nonnull(strstr(r.err, "skipped 1 line"));
    /* oldest first */
    char *first = strstr(r.out, "\"event\":\"login\""),
         *last = strstr(r.out, "\"event\":\"logout\"");
    ck_assert(first && last && first < last && first < strstr(r.out, "\"mkdir\""));
    run_free(&r);
    ck_assert_int_eq(query_count(dir, log, "--user", "carol", NULL, NULL), 3);
    ck_assert_int_eq(query_count(dir, log, "--until", "2026-11-28T03", NULL, NULL), 2);
    /* a corrupt compressed rotation is an error (exit 1), not silently short output */
    ck_assert_int_eq(
        tu_sh("cd '%s' && head -c 60 audit.jsonl.2.gz > x && mv x audit.jsonl.2.gz", dir), 0);
    r = run_audit(dir, "--log", log, NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_SOME_FAILED);
    ck_assert_ptr_nonnull(strstr(r.err, "corrupt or truncated"));
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_rotate_cmd)
{
    char *dir = tu_mkdtemp("auditcmd");
    char state[4096], path[4200], want[8600];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(path, sizeof path, "%s/audit.jsonl", state);
    ck_assert_int_eq(tu_sh("mkdir -p '%s'", state), 0);

    struct run r = run_audit(dir, "rotate", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    snprintf(want, sizeof want, "%s: nothing to rotate (empty or missing)\n", path);
    ck_assert_str_eq(r.out, want);
    run_free(&r);

    write_log(path, 0, 3);
    r = run_audit(dir, "rotate", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    snprintf(want, sizeof want, "%s: rotated to %s.1\n", path, path);
    ck_assert_str_eq(r.out, want);
    run_free(&r);
    write_log(path, 4, 7); /* a new writer continues the chain of audit.jsonl.1 */
    r = run_audit(dir, "rotate", "--log", path, "--compress", "--quiet", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    write_log(path, 8, 11);
    /* --compress keeps the newest rotation plain (delaycompress) */
    ck_assert_int_eq(
        tu_sh("test -f '%s.1' && test -f '%s.2.gz' && ! test -e '%s.2'", path, path, path), 0);
    r = run_audit(dir, "verify", "--state", state, NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.out, "12 records, chain intact (3 files)\n");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
    /* queries read across the rotations, oldest first */
    ck_assert_int_eq(query_count(dir, path, "--user", "alice", NULL, NULL), 5);
    r = run_audit(dir, "rotate", "--state", state, "--keep", "1", NULL);
    ck_assert_int_eq(r.rc, 0);
    run_free(&r);
    ck_assert_int_eq(tu_sh("cd '%s' && ls | tr '\\n' ' ' > ../ls.txt", state), 0);
    snprintf(want, sizeof want, "%s/ls.txt", dir);
    size_t n;
    char *ls = tu_read_file(want, &n);
    ck_assert_str_eq(ls, "audit.jsonl.1 ");
    free(ls);

    /* usage */
    static const char *const bad[][2] = {
        {"--keep", "0"},       {"--keep", "-1"},  {"--keep", "x"},
        {"--keep", "1000001"}, {"--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run_audit(dir, "rotate", "--state", state, bad[i][0], bad[i][1], NULL);
        ck_assert_msg(r.rc == GW_EXIT_USAGE, "%s %s: exit %d", bad[i][0], bad[i][1], r.rc);
        run_free(&r);
    }
    r = run_audit(dir, "rotate", "extra", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_USAGE);
    run_free(&r);
    r = run_audit(dir, "rotate", "--help", NULL);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: ferry audit rotate"));
    run_free(&r);
    r = run_audit(dir, "rotate", "--log", "/nonexistent-ferry/audit.jsonl", NULL);
    ck_assert_int_eq(r.rc, GW_EXIT_SOME_FAILED);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent-ferry"));
    run_free(&r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *gateway_auditcmd_suite(void)
{
    Suite *s = suite_create("gateway/auditcmd");
    TCase *tc = tcase_create("audit_parse_time");
    tcase_add_test(tc, test_parse_time);
    suite_add_tcase(s, tc);
    tc = tcase_create("audit_cmd_main");
    tcase_add_test(tc, test_verify_cmd);
    tcase_add_test(tc, test_query_filters);
    tcase_add_test(tc, test_query_raw_forms);
    tcase_add_test(tc, test_query_formats);
    tcase_add_test(tc, test_query_rotated);
    tcase_add_test(tc, test_rotate_cmd);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
