#include <check.h>
#include "tests/unit/testutil.h"
/* Unit tests for gateway/doctor.c: every check against real files made here
 * (certificates by openssl, host keys by ssh-keygen, audit logs by the audit writer)
 * and real sockets, the report, its printing, and the command's exit codes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/cli.h"
#include "gateway/config.h"
#include "gateway/doctor.h"

static struct gw_doctor_report *new_report(void)
{
    struct gw_doctor_report *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    gw_doctor_init(r);
    return r;
}

/* The first finding whose message contains needle, or NULL. */
static const struct gw_doctor_item *find(const struct gw_doctor_report *r, const char *needle)
{
    for (size_t i = 0; i < r->n; i++)
        if (strstr(r->items[i].message, needle))
            return &r->items[i];
    return NULL;
}

static void expect(const struct gw_doctor_report *r, const char *needle, enum gw_doctor_status st)
{
    const struct gw_doctor_item *it = find(r, needle);
    if (!it) {
        for (size_t i = 0; i < r->n; i++)
            fprintf(stderr, "  [%d] %s: %s\n", r->items[i].status, r->items[i].check,
                    r->items[i].message);
    }
    ck_assert_msg(it != NULL, "no finding mentions '%s'", needle);
    ck_assert_msg(it->status == st, "'%s': status %d, want %d", it->message, it->status, st);
    ck_assert_msg((st == GW_DOCTOR_OK) == (it->fix[0] == '\0'), "'%s': fix '%s'", it->message,
                  it->fix);
}

/* ---- gw_doctor_add / gw_doctor_count ---- */

START_TEST(test_report)
{
    struct gw_doctor_report *r = new_report();
    ck_assert_uint_eq(r->uid, getuid());
    ck_assert(r->now > 0);
    for (int i = 0; i < GW_DOCTOR_MAX_ITEMS + 5; i++)
        gw_doctor_add(r, i % 3 == 0 ? GW_DOCTOR_FAIL : GW_DOCTOR_OK, "x", i % 3 ? NULL : "fix it",
                      "item %d", i);
    ck_assert_uint_eq(r->n, GW_DOCTOR_MAX_ITEMS); /* bounded */
    ck_assert_uint_eq(gw_doctor_count(r, GW_DOCTOR_FAIL), (GW_DOCTOR_MAX_ITEMS + 2) / 3);
    ck_assert_str_eq(r->items[3].message, "item 3");
    ck_assert_str_eq(r->items[3].fix, "fix it");
    ck_assert_str_eq(r->items[4].fix, "");
    free(r);
}
END_TEST

/* ---- gw_doctor_check_ports ---- */

static int listen_any_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

START_TEST(test_ports)
{
    struct gw_config c;
    struct gw_doctor_report *r = new_report();
    int busy, fd = listen_any_port(&busy);
    int freep, fd2 = listen_any_port(&freep);
    close(fd2); /* a port that was just free */
    cfg_defaults(&c);
    c.ftp_port = freep;
    c.sftp_port = busy;
    c.https_port = 0;
    gw_doctor_check_ports(&c, r);
    char msg[128];
    snprintf(msg, sizeof msg, "ftp_port %d on 127.0.0.1 is free", freep);
    expect(r, msg, GW_DOCTOR_OK);
    /* Held by this test process, which is not a ferry: a failure naming the holder. */
    snprintf(msg, sizeof msg, "sftp_port %d on 127.0.0.1 is in use by ", busy);
    expect(r, msg, GW_DOCTOR_FAIL);
    snprintf(msg, sizeof msg, "(pid %d)", (int)getpid());
    ck_assert_ptr_nonnull(find(r, msg));
    ck_assert_uint_eq(r->n, 2);
    close(fd);

    gw_doctor_init(r);
    free(c.listen);
    c.listen = strdup("192.0.2.77"); /* TEST-NET-1: not ours */
    gw_doctor_check_ports(&c, r);
    expect(r, "is not an address of this host", GW_DOCTOR_FAIL);
    ck_assert_uint_eq(r->n, 1);

    gw_doctor_init(r);
    free(c.listen);
    c.listen = strdup("no-such-host.invalid");
    gw_doctor_check_ports(&c, r);
    expect(r, "listen address no-such-host.invalid", GW_DOCTOR_FAIL);

    gw_doctor_init(r);
    c.ftp_port = c.sftp_port = c.https_port = 0;
    gw_doctor_check_ports(&c, r);
    expect(r, "no front end is enabled", GW_DOCTOR_WARN);
    cfg_free(&c);
    free(r);
}
END_TEST

/* ---- gw_doctor_check_state ---- */

START_TEST(test_state)
{
    char *dir = tu_mkdtemp("doctor-state");
    char path[4096];
    struct gw_config c;
    struct gw_doctor_report *r = new_report();
    cfg_defaults(&c);
    snprintf(path, sizeof path, "%s/state", dir);
    free(c.state);
    c.state = strdup(path);

    gw_doctor_check_state(&c, r);
    expect(r, "does not exist yet", GW_DOCTOR_WARN);

    tu_write_file(path, "x", 1);
    gw_doctor_init(r);
    gw_doctor_check_state(&c, r);
    expect(r, "is not a directory", GW_DOCTOR_FAIL);
    unlink(path);

    ck_assert_int_eq(mkdir(path, 0755), 0);
    chmod(path, 0755);
    gw_doctor_init(r);
    gw_doctor_check_state(&c, r);
    expect(r, "has mode 0755, not 0700", GW_DOCTOR_WARN);
    expect(r, "exists, owner", GW_DOCTOR_OK);

    chmod(path, 0700);
    gw_doctor_init(r);
    gw_doctor_check_state(&c, r);
    ck_assert_uint_eq(r->n, 1);
    expect(r, "exists, owner", GW_DOCTOR_OK);

    /* Someone else runs the doctor (not root): the owner is wrong for them. */
    gw_doctor_init(r);
    r->uid = getuid() == 4242 ? 4243 : 4242;
    gw_doctor_check_state(&c, r);
    expect(r, "not to uid 424", GW_DOCTOR_FAIL);
    cfg_free(&c);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_tls ---- */

static void make_cert(const char *dir, const char *name, int days, const char *san)
{
    ck_assert_int_eq(tu_sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
                           "ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.crt -days %d "
                           "-subj /CN=ferry -addext subjectAltName=%s 2>/dev/null",
                           dir, name, name, days, san),
                     0);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.key", dir, name);
    chmod(p, 0600);
}

START_TEST(test_tls)
{
    char *dir = tu_mkdtemp("doctor-tls");
    char crt[4096], key[4096], crt10[4096], key10[4096], other_key[4096];
    struct gw_doctor_report *r = new_report();
    snprintf(crt, sizeof crt, "%s/good.crt", dir);
    snprintf(key, sizeof key, "%s/good.key", dir);
    snprintf(crt10, sizeof crt10, "%s/short.crt", dir);
    snprintf(key10, sizeof key10, "%s/short.key", dir);
    snprintf(other_key, sizeof other_key, "%s/short.key", dir);

    gw_doctor_check_tls(crt, key, "127.0.0.1", r);
    expect(r, "no TLS certificate yet", GW_DOCTOR_WARN);

    make_cert(dir, "good", 365, "IP:127.0.0.1,DNS:localhost,DNS:ferry.example");
    make_cert(dir, "short", 10, "DNS:localhost");
    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key, "127.0.0.1", r);
    ck_assert_uint_eq(gw_doctor_count(r, GW_DOCTOR_OK), 2);
    expect(r, "valid until", GW_DOCTOR_OK);
    expect(r, "names the listen address 127.0.0.1 (127.0.0.1, localhost, ferry.example)",
           GW_DOCTOR_OK);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key, "ferry.example", r);
    expect(r, "names the listen address ferry.example", GW_DOCTOR_OK);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key, "10.1.2.3", r);
    expect(r, "but not the listen address 10.1.2.3", GW_DOCTOR_WARN);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key, "0.0.0.0", r);
    expect(r, "listening on every address", GW_DOCTOR_OK);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt10, key10, "localhost", r);
    expect(r, "short.crt expires in", GW_DOCTOR_WARN);

    gw_doctor_init(r);
    r->now += 400 * 86400; /* a year and a month later */
    gw_doctor_check_tls(crt, key, "127.0.0.1", r);
    expect(r, "expired on", GW_DOCTOR_FAIL);

    gw_doctor_init(r);
    r->now -= 86400 * 2; /* before it was made */
    gw_doctor_check_tls(crt, key, "127.0.0.1", r);
    expect(r, "is not valid yet", GW_DOCTOR_FAIL);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt, other_key, "127.0.0.1", r);
    expect(r, "does not match the certificate", GW_DOCTOR_FAIL);

    chmod(key, 0644);
    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key, "127.0.0.1", r);
    expect(r, "has mode 0644: others can read it", GW_DOCTOR_WARN);

    unlink(key10);
    gw_doctor_init(r);
    gw_doctor_check_tls(crt10, key10, "127.0.0.1", r);
    expect(r, "short.crt exists without", GW_DOCTOR_FAIL);

    tu_write_file(crt10, "-----BEGIN CERTIFICATE-----\nnope\n", 33);
    tu_write_file(key10, "x", 1);
    gw_doctor_init(r);
    gw_doctor_check_tls(crt10, key10, "127.0.0.1", r);
    expect(r, "is not a readable PEM certificate", GW_DOCTOR_FAIL);

    gw_doctor_init(r);
    gw_doctor_check_tls(crt, key10, "127.0.0.1", r);
    expect(r, "is not a readable PEM private key", GW_DOCTOR_FAIL);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_host_key ---- */

START_TEST(test_host_key)
{
    char *dir = tu_mkdtemp("doctor-hostkey");
    char path[4096];
    struct gw_doctor_report *r = new_report();
    snprintf(path, sizeof path, "%s/ssh_host_ed25519_key", dir);
    gw_doctor_check_host_key(path, r);
    expect(r, "no SSH host key yet", GW_DOCTOR_WARN);

    ck_assert_int_eq(tu_sh("ssh-keygen -q -t ed25519 -N '' -f '%s' >/dev/null", path), 0);
    gw_doctor_init(r);
    gw_doctor_check_host_key(path, r);
    ck_assert_uint_eq(r->n, 1);
    expect(r, "ssh-ed25519 SHA256:", GW_DOCTOR_OK);

    chmod(path, 0644);
    gw_doctor_init(r);
    gw_doctor_check_host_key(path, r);
    expect(r, "has mode 0644", GW_DOCTOR_WARN);

    tu_write_file(path, "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n", 44);
    gw_doctor_init(r);
    gw_doctor_check_host_key(path, r);
    expect(r, "is not a loadable", GW_DOCTOR_FAIL);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_users ---- */

START_TEST(test_users)
{
    char *dir = tu_mkdtemp("doctor-users");
    char path[4096];
    struct gw_doctor_report *r = new_report();
    snprintf(path, sizeof path, "%s/users", dir);
    gw_doctor_check_users(path, r);
    expect(r, "no users file yet", GW_DOCTOR_WARN);

    const char *good = "# users\nalice:!:/alice:rw:\nbob:!:/bob:ro:ssh-ed25519 "
                       "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl b@x\n";
    tu_write_file(path, good, strlen(good));
    chmod(path, 0600);
    gw_doctor_init(r);
    gw_doctor_check_users(path, r);
    ck_assert_uint_eq(r->n, 1);
    expect(r, "2 user(s), 1 with public keys", GW_DOCTOR_OK);

    chmod(path, 0644);
    gw_doctor_init(r);
    gw_doctor_check_users(path, r);
    expect(r, "others can read the password hashes", GW_DOCTOR_WARN);

    tu_write_file(path, "# nobody\n", 9);
    gw_doctor_init(r);
    gw_doctor_check_users(path, r);
    expect(r, "has no users", GW_DOCTOR_WARN);

    tu_write_file(path, "alice:!:/alice:rw:\nthis is not a user line\n", 43);
    gw_doctor_init(r);
    gw_doctor_check_users(path, r);
    expect(r, ":2:", GW_DOCTOR_FAIL); /* names the line */
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_root ---- */

START_TEST(test_root)
{
    char *dir = tu_mkdtemp("doctor-root");
    char root[4096];
    struct gw_config c;
    struct gw_doctor_report *r = new_report();
    cfg_defaults(&c);
    snprintf(root, sizeof root, "%s/data", dir);
    free(c.root);
    c.root = strdup(root);
    free(c.state);
    c.state = strdup(dir);

    gw_doctor_check_root(&c, r);
    expect(r, "does not exist yet", GW_DOCTOR_WARN);

    ck_assert_int_eq(mkdir(root, 0755), 0);
    chmod(root, 0755);
    gw_doctor_init(r);
    r->uid = 1000; /* not root: no run_as advice */
    gw_doctor_check_root(&c, r);
    expect(r, "is writable", GW_DOCTOR_OK);
    ck_assert_ptr_null(find(r, "sessions would run as root"));

    gw_doctor_init(r);
    r->uid = 0;
    gw_doctor_check_root(&c, r);
    expect(r, "sessions would run as root", GW_DOCTOR_WARN);

    free(c.run_as);
    c.run_as = strdup("no-such-user-ferry");
    gw_doctor_init(r);
    gw_doctor_check_root(&c, r);
    expect(r, "run_as user 'no-such-user-ferry' does not exist", GW_DOCTOR_FAIL);

    free(c.run_as);
    c.run_as = strdup("nobody");
    gw_doctor_init(r);
    r->uid = 1000;
    gw_doctor_check_root(&c, r);
    expect(r, "only root can switch to it", GW_DOCTOR_WARN);

    if (geteuid() == 0) {
        /* As root: the check switches to nobody exactly as sessions do. */
        gw_doctor_init(r);
        gw_doctor_check_root(&c, r);
        expect(r, "run_as user nobody exists", GW_DOCTOR_OK);
        expect(r, "is not writable by run_as user nobody", GW_DOCTOR_FAIL);
        chmod(dir, 0755); /* tu_mkdtemp's dir may be 0700: nobody must reach root */
        chmod(root, 0777);
        gw_doctor_init(r);
        gw_doctor_check_root(&c, r);
        expect(r, "is writable by nobody", GW_DOCTOR_OK);
    }
    cfg_free(&c);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_audit ---- */

START_TEST(test_audit)
{
    char *dir = tu_mkdtemp("doctor-audit");
    char path[4096], keyf[4096];
    struct gw_doctor_report *r = new_report();
    struct audit_log *log;
    struct audit_record rec;
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    snprintf(keyf, sizeof keyf, "%s/key", dir);

    gw_doctor_check_audit(path, "", r);
    expect(r, "no audit log yet", GW_DOCTOR_OK);

    ck_assert_int_eq(audit_open(path, NULL, 0, &log), 0);
    audit_record_init(&rec);
    rec.event = "login";
    rec.proto = "sftp";
    rec.user = "alice";
    rec.status = "ok";
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(audit_append(log, &rec), 0);
    audit_close(log);
    gw_doctor_init(r);
    gw_doctor_check_audit(path, "", r);
    expect(r, "3 record(s) in 1 file(s), hash chain intact", GW_DOCTOR_OK);

    /* An HMAC chain checked without its key, and with a key that is too short. */
    tu_write_file(keyf, "short\n", 6);
    gw_doctor_init(r);
    gw_doctor_check_audit(path, keyf, r);
    expect(r, "audit_key", GW_DOCTOR_FAIL);
    tu_write_file(keyf, "0123456789abcdef0123456789abcdef\n", 33);
    gw_doctor_init(r);
    gw_doctor_check_audit(path, keyf, r); /* the log was written without a key */
    expect(r, "audit log", GW_DOCTOR_FAIL);

    /* Tampering: edit a user name in place. */
    ck_assert_int_eq(tu_sh("sed -i '2s/alice/mallo/' '%s'", path), 0);
    gw_doctor_init(r);
    gw_doctor_check_audit(path, "", r);
    expect(r, "line 2", GW_DOCTOR_FAIL);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_check_kernel ---- */

START_TEST(test_kernel)
{
    struct gw_doctor_report *r = new_report();
    gw_doctor_check_kernel(r);
    ck_assert_uint_eq(r->n, 2);
    ck_assert_uint_eq(gw_doctor_count(r, GW_DOCTOR_FAIL), 0); /* features are optional */
    ck_assert_ptr_nonnull(find(r, "openat2"));
    ck_assert_ptr_nonnull(find(r, "TLS"));
    free(r);
}
END_TEST

/* ---- gw_doctor_run ---- */

START_TEST(test_run)
{
    char *dir = tu_mkdtemp("doctor-run");
    char state[4096];
    struct gw_config c;
    struct gw_doctor_report *r = new_report();
    cfg_defaults(&c);
    snprintf(state, sizeof state, "%s/state", dir);
    free(c.state);
    c.state = strdup(state);
    free(c.root);
    c.root = strdup(dir);
    c.ftp_port = c.sftp_port = c.https_port = 0;
    c.metrics_port = 0;
    ck_assert_int_eq(mkdir(state, 0700), 0);
    gw_doctor_run(&c, r);
    /* state exists: every file check ran, each saying it is not there yet */
    expect(r, "no users file yet", GW_DOCTOR_WARN);
    expect(r, "no audit log yet", GW_DOCTOR_OK);
    ck_assert_ptr_null(find(r, "TLS certificate")); /* no TLS front end enabled */
    ck_assert_ptr_null(find(r, "host key"));
    c.sftp_port = 1; /* bound for a moment (as root) or refused: either way not ours */
    gw_doctor_init(r);
    gw_doctor_run(&c, r);
    ck_assert_ptr_nonnull(find(r, "no SSH host key yet"));
    cfg_free(&c);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_doctor_print ---- */

START_TEST(test_print)
{
    struct gw_doctor_report *r = new_report();
    char *dir = tu_mkdtemp("doctor-print");
    char path[4096];
    size_t len;
    gw_doctor_add(r, GW_DOCTOR_OK, "state", NULL, "fine");
    gw_doctor_add(r, GW_DOCTOR_FAIL, "tls", "chmod 600 \"k\"", "bad\tkey \x01");
    snprintf(path, sizeof path, "%s/out", dir);
    FILE *f = fopen(path, "w");
    gw_doctor_print(r, false, f);
    fclose(f);
    char *text = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(strstr(text, "OK    state     fine\n"));
    ck_assert_ptr_nonnull(strstr(text, "FAIL  tls       bad"));
    ck_assert_ptr_nonnull(strstr(text, "\n                fix: chmod 600 \"k\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "1 ok, 0 warning(s), 1 failure(s)\n"));
    free(text);
    f = fopen(path, "w");
    gw_doctor_print(r, true, f);
    fclose(f);
    text = tu_read_file(path, &len);
    ck_assert_str_eq(text,
                     "{\"checks\":[{\"check\":\"state\",\"status\":\"ok\",\"message\":\"fine\","
                     "\"fix\":null},{\"check\":\"tls\",\"status\":\"fail\",\"message\":"
                     "\"bad\\tkey \\u0001\",\"fix\":\"chmod 600 \\\"k\\\"\"}],\"ok\":1,"
                     "\"warn\":0,\"fail\":1}\n");
    free(text);
    free(r);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- gw_cmd_doctor ---- */

/* Runs the command with stdout to out_path and stderr (usage errors) to out_path.err. */
static int run_cmd(const char *out_path, char **args, int n)
{
    char err_path[4200];
    snprintf(err_path, sizeof err_path, "%s.err", out_path);
    fflush(stdout);
    fflush(stderr);
    int saved = dup(1), saved_err = dup(2);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(efd, 2);
    close(fd);
    close(efd);
    int rc = gw_cmd_doctor(n, args);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, 1);
    dup2(saved_err, 2);
    close(saved);
    close(saved_err);
    return rc;
}

START_TEST(test_cmd)
{
    char *dir = tu_mkdtemp("doctor-cmd");
    char out[4096], conf[4096], state[4096];
    size_t len;
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(conf, sizeof conf, "%s/ferry.conf", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    char *help[] = {"doctor", "--help", NULL};
    ck_assert_int_eq(run_cmd(out, help, 2), GW_EXIT_OK);
    char *bad[] = {"doctor", "--bogus", NULL};
    ck_assert_int_eq(run_cmd(out, bad, 2), GW_EXIT_USAGE);
    char errf[4200];
    snprintf(errf, sizeof errf, "%s.err", out);
    char *msg = tu_read_file(errf, &len);
    ck_assert_ptr_nonnull(strstr(msg, "ferry doctor: unknown option '--bogus'"));
    free(msg);
    char *extra[] = {"doctor", "stray", NULL};
    ck_assert_int_eq(run_cmd(out, extra, 2), GW_EXIT_USAGE);
    char *badset[] = {"doctor", "--set", "nokey", NULL};
    ck_assert_int_eq(run_cmd(out, badset, 3), GW_EXIT_USAGE);

    tu_write_file(conf, "[server]\nftp_port = 0\nfrobnicate = 1\n", 37);
    char *badconf[] = {"doctor", "--config", conf, "--json", NULL};
    ck_assert_int_eq(run_cmd(out, badconf, 4), GW_EXIT_SOME_FAILED);
    char *text = tu_read_file(out, &len);
    ck_assert_ptr_nonnull(strstr(text, "ferry.conf:3: unknown key 'frobnicate'"));
    free(text);

    tu_write_file(conf, "[server]\nftp_port = 0\nsftp_port = 0\nhttps_port = 0\n", 51);
    char *good[] = {"doctor", "--config", conf, "--state", state, "--root", dir, NULL};
    ck_assert_int_eq(run_cmd(out, good, 7), GW_EXIT_OK); /* warnings only */
    text = tu_read_file(out, &len);
    ck_assert_ptr_nonnull(strstr(text, "OK    config "));
    ck_assert_ptr_nonnull(strstr(text, "does not exist yet"));
    free(text);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

Suite *gateway_doctor_suite(void)
{
    Suite *s = suite_create("gateway/doctor");
    struct {
        const char *name;
        const TTest *t;
    } cases[] = {
        {"gw_doctor_add", test_report},
        {"gw_doctor_check_ports", test_ports},
        {"gw_doctor_check_state", test_state},
        {"gw_doctor_check_tls", test_tls},
        {"gw_doctor_check_host_key", test_host_key},
        {"gw_doctor_check_users", test_users},
        {"gw_doctor_check_root", test_root},
        {"gw_doctor_check_audit", test_audit},
        {"gw_doctor_check_kernel", test_kernel},
        {"gw_doctor_run", test_run},
        {"gw_doctor_print", test_print},
        {"gw_cmd_doctor", test_cmd},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}
