/* The session sandbox: what a session process restricts itself to, on top of the
 * privilege drop to run_as (vsftpd's and OpenSSH's sandboxes are the model).
 *
 * Two layers, each installed once per session process:
 *  - a seccomp filter (x86_64), right after the privilege drop and before any client byte
 *    is read: the system calls a session never needs (execve, ptrace, mount, module and
 *    kexec calls, bpf, perf, keyrings, namespaces, io_uring, userfaultfd, identity
 *    changes, ...) fail with EPERM; a foreign architecture or the x32 ABI kills the
 *    process;
 *  - a Landlock ruleset, as soon as a login tells the session its root: files may be
 *    read and written only beneath the user's root (read-only for read-only and anonymous
 *    users), beneath the state the session's front end keeps at run time (WebDAV locks and
 *    dead properties), and read beneath the system paths needed after login (libraries
 *    loaded lazily, resolver and TLS trust files, the time zone, /proc/self); no signal may
 *    leave the session and no abstract UNIX socket outside it may be reached.
 *
 * Config `sandbox = yes|no` (default yes). When configured yes and the kernel has the
 * feature, failing to install a layer is an error: the caller refuses the session (fail
 * closed). A kernel without seccomp filters, without Landlock or with Landlock ABI 1 (which
 * cannot rename across directories) only loses that layer. gw_sandbox_status() tells which
 * level is active, for the start-up log and `ferry doctor`.
 *
 * The rule builders (gw_sandbox_bpf_build, gw_sandbox_ll_*) are pure and unit-tested. */
#ifndef FERRY_GATEWAY_SANDBOX_H
#define FERRY_GATEWAY_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/filter.h>
#include <linux/landlock.h>

#include "gateway/config.h"

/* Landlock rights newer than some installed kernel headers (Debian 12 has ABI 2's). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

#define GW_SANDBOX_BPF_MAX 256 /* instructions; the filter needs about 170 */
#define GW_SANDBOX_MAX_RULES 40

/* ---- seccomp ---------------------------------------------------------------------- */

struct gw_sandbox_bpf_opts {
    /* 0: ptrace is refused. Else the one pid ptrace may target: sanitizer builds pass the
     * session's own pid, because LeakSanitizer attaches to the process's own threads at
     * exit to look for leaks. */
    int32_t ptrace_self;
};

/* Builds the session's syscall filter into out[0..max). Pure. Returns the number of
 * instructions, GW_ERR_NOTSUP on an architecture other than x86_64, GW_ERR_TOOLONG when
 * max is too small. */
int gw_sandbox_bpf_build(const struct gw_sandbox_bpf_opts *o, struct sock_filter *out, size_t max);

/* Session process, right after the privilege drop: installs the filter (and sets
 * no_new_privs). Returns 0 when installed, when cfg->sandbox is off, or when the kernel
 * or the architecture lacks seccomp filters (logged at debug level); a negative GW_ERR_*
 * (logged as an error) when it should have been installed and was not: refuse the
 * session. */
int gw_sandbox_enter_session(const struct gw_config *cfg);

/* ---- Landlock ----------------------------------------------------------------------- */

enum gw_sandbox_access {
    GW_SANDBOX_RO, /* read files, list directories */
    GW_SANDBOX_RW, /* also create, write, truncate, remove, rename, link, symlink */
    GW_SANDBOX_DEV /* read and write an existing device file (/dev/null) */
};

struct gw_sandbox_rule {
    const char *path; /* absolute, or relative to the working directory like cfg->root */
    const char *sub;  /* appended after a '/', NULL for none */
    enum gw_sandbox_access access;
    bool required; /* missing: installing fails (the user's root); else skipped */
};

/* What a logged-in session may reach. Strings are borrowed for the call. */
struct gw_sandbox_scope {
    const char *root;  /* the user's root on the host: server root + home */
    bool read_only;    /* read-only and anonymous users */
    const char *state; /* the server's state directory */
    const char *proto; /* the session's audit proto: selects the front end's state */
};

/* File-system rights Landlock handles at ABI abi: every right the ABI knows, so that what
 * no rule grants is denied. 0 when abi < 2: ABI 1 refuses every rename or link across
 * directories, which uploads and MOVE need, so the sandbox skips Landlock there. */
uint64_t gw_sandbox_ll_handled(int abi);
/* The rights an access kind grants at ABI abi (a subset of gw_sandbox_ll_handled). */
uint64_t gw_sandbox_ll_rights(enum gw_sandbox_access access, int abi);
/* Scopes (ABI 6): signals and abstract UNIX sockets stay inside the session. */
uint64_t gw_sandbox_ll_scoped(int abi);
/* The rules of a session's ruleset, into out[0..max). Pure. Returns the count or
 * GW_ERR_TOOLONG. The rule paths borrow sc's strings and static text. */
int gw_sandbox_ll_plan(const struct gw_sandbox_scope *sc, struct gw_sandbox_rule *out, size_t max);

/* Session process, once a login succeeded (before the user's tree is opened): restricts
 * the process to the plan for {root, read_only, cfg->state, proto} (see struct
 * gw_sandbox_scope). Idempotent (the first call wins: one login per
 * session). Returns 0 when installed, when cfg->sandbox is off or when the kernel lacks a
 * usable Landlock (debug log); a negative GW_ERR_* (logged as an error) otherwise: refuse
 * the session.
 *
 * Test hook: when the environment has FERRY_SANDBOX_PROBE=ITEM[:ITEM...], the session then
 * tries each item once and logs "sandbox probe ITEM: allowed|denied (reason)" at info
 * level, so that integration tests can watch the sandbox act on what the VFS would never
 * do. ITEM is a path (opened read-only), "exec" (fork and execve /bin/true) or "ptrace"
 * (attach to a child of the session). */
int gw_sandbox_confine(const struct gw_config *cfg, const char *proto, const char *root,
                       bool read_only);

/* What the sandbox does on this kernel with cfg, e.g. "seccomp filter, Landlock ABI 7
 * (files, signals, abstract sockets)" or "off (sandbox = no)". Probes the kernel without
 * changing the calling process. */
void gw_sandbox_status(const struct gw_config *cfg, char *buf, size_t size);
/* Logs gw_sandbox_status() once at info level (the parent, at start-up). */
void gw_sandbox_log_status(const struct gw_config *cfg);

#endif
