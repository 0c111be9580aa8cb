/* `ferry doctor`: checks a deployment before (or while) `ferry serve` runs it, and says
 * what to fix. Every check appends findings to a report, each OK, WARN or FAIL with a
 * one-line message and, unless OK, a one-line fix. Nothing is created or changed: the
 * doctor only looks (it binds test sockets and closes them at once).
 *
 * Checks, in order: configuration, listening ports (bind test on the listen address;
 * a port held by a running `ferry` is fine), state directory (exists, mode 0700, owner),
 * TLS certificate (present, parsable, matches its key, expiry: WARN under 30 days,
 * FAIL when expired; subject alternative names cover the listen address), SSH host key
 * (present, loadable, private), users file (parses), data root and run_as (the user
 * exists and can write the root), audit log (the hash chain verifies across its
 * rotations, with audit_key when set), kernel features (openat2 for confinement, kTLS
 * for WebDAV downloads).
 *
 * Exit status of the command: 0 when nothing FAILed, 1 otherwise, 2 for usage errors. */
#ifndef FERRY_GATEWAY_DOCTOR_H
#define FERRY_GATEWAY_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "gateway/config.h"

enum gw_doctor_status { GW_DOCTOR_OK = 0, GW_DOCTOR_WARN, GW_DOCTOR_FAIL };

#define GW_DOCTOR_MAX_ITEMS 64
#define GW_DOCTOR_CERT_WARN_DAYS 30

struct gw_doctor_item {
    enum gw_doctor_status status;
    char check[32];    /* "ports", "state", "state-db", "tls", "host-key", "users", ... */
    char message[512]; /* what was found */
    char fix[512];     /* what to do; "" when OK */
};

struct gw_doctor_report {
    time_t now; /* reference time for certificate expiry */
    uid_t uid;  /* the user the doctor runs as (getuid(), tests vary it) */
    struct gw_doctor_item items[GW_DOCTOR_MAX_ITEMS];
    size_t n; /* items used; findings past the limit are dropped */
};

/* Empties rep; now and uid default to time(NULL) and getuid(). */
void gw_doctor_init(struct gw_doctor_report *rep);
/* Appends a finding (fix may be NULL). */
void gw_doctor_add(struct gw_doctor_report *rep, enum gw_doctor_status st, const char *check,
                   const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Counts findings of a status. */
size_t gw_doctor_count(const struct gw_doctor_report *rep, enum gw_doctor_status st);

/* The checks (each appends one or more findings). */
void gw_doctor_check_ports(const struct gw_config *cfg, struct gw_doctor_report *rep);
void gw_doctor_check_state(const struct gw_config *cfg, struct gw_doctor_report *rep);
/* Certificate at cert_path with private key key_path, for clients of listen. */
void gw_doctor_check_tls(const char *cert_path, const char *key_path, const char *listen,
                         struct gw_doctor_report *rep);
void gw_doctor_check_host_key(const char *path, struct gw_doctor_report *rep);
void gw_doctor_check_users(const char *path, struct gw_doctor_report *rep);
/* The data root and run_as: the user exists and can create files in the root. */
void gw_doctor_check_root(const struct gw_config *cfg, struct gw_doctor_report *rep);
/* The audit log at path (and its rotations), keyed with key_path when not "". */
void gw_doctor_check_audit(const char *path, const char *key_path, struct gw_doctor_report *rep);
void gw_doctor_check_kernel(struct gw_doctor_report *rep);
/* The session sandbox layers this kernel and config give (gateway/sandbox.h). */
void gw_doctor_check_sandbox(const struct gw_config *cfg, struct gw_doctor_report *rep);
/* Runs every check above for cfg. */
void gw_doctor_run(const struct gw_config *cfg, struct gw_doctor_report *rep);

/* Prints the report: aligned text lines ("OK    ports  ...", then "      fix: ...") and
 * a summary line, or (json) one JSON object {"checks":[{"check","status","message",
 * "fix"}...],"ok":N,"warn":N,"fail":N} on one line. */
void gw_doctor_print(const struct gw_doctor_report *rep, bool json, FILE *out);

/* `ferry doctor [--config FILE] [--state DIR] [--root DIR] [--json]`; argv[0] is
 * "doctor". Returns the exit status. */
int gw_cmd_doctor(int argc, char **argv);

#endif
