/* The session sandbox (sandbox.h): a seccomp filter built as raw BPF and a Landlock
 * ruleset, both installed by the session process on itself.
 *
 * Raw BPF rather than libseccomp: the filter is a short deny list for one architecture
 * plus three argument checks; writing it directly keeps the dependency list as DESIGN.md
 * has it and lets the unit tests run the very program the kernel gets through a small
 * interpreter. A deny list (not an allow list) because a session runs OpenSSL, libssh,
 * libcurl and glibc's resolver, whose system calls vary with versions: denying what no
 * session needs stops the escalation paths without breaking a library update. */
#include "gateway/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/err.h"
#include "gateway/log.h"

/* Sanitizer builds (the tests') need ptrace on the process itself for LeakSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define SBX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SBX_SANITIZER 1
#endif
#endif
#ifndef SBX_SANITIZER
#define SBX_SANITIZER 0
#endif

/* ---- seccomp filter ----------------------------------------------------------------- */

#if defined(__x86_64__)
#define SBX_ARCH AUDIT_ARCH_X86_64
#define SBX_X32_BIT 0x40000000u

/* System calls a session never makes. Grouped by what they would give an attacker. */
/* clang-format off */
static const int deny_nr[] = {
    /* running other programs, reading or steering other processes */
    __NR_execve, __NR_execveat, __NR_process_vm_readv, __NR_process_vm_writev, __NR_kcmp,
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd,
#endif
#ifdef __NR_process_madvise
    __NR_process_madvise,
#endif
    /* file-system namespace and mounts */
    __NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot, __NR_unshare, __NR_setns,
#ifdef __NR_open_tree
    __NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
    /* escaping a directory confinement by file handle; device nodes */
    __NR_open_by_handle_at, __NR_name_to_handle_at, __NR_mknod, __NR_mknodat,
    /* the kernel itself: modules, kexec, BPF, perf, keyrings, logs, clocks, identity */
    __NR_init_module, __NR_finit_module, __NR_delete_module, __NR_kexec_load,
    __NR_kexec_file_load, __NR_bpf, __NR_perf_event_open, __NR_keyctl, __NR_add_key,
    __NR_request_key, __NR_syslog, __NR_acct, __NR_quotactl, __NR_swapon, __NR_swapoff,
    __NR_reboot, __NR_sethostname, __NR_setdomainname, __NR_settimeofday, __NR_clock_settime,
    __NR_clock_adjtime, __NR_adjtimex, __NR_iopl, __NR_ioperm, __NR_modify_ldt, __NR_uselib,
    __NR_vhangup, __NR_personality, __NR_lookup_dcookie,
    /* identity changes: the session already is who it will be */
    __NR_setuid, __NR_setgid, __NR_setreuid, __NR_setregid, __NR_setresuid, __NR_setresgid,
    __NR_setfsuid, __NR_setfsgid, __NR_setgroups, __NR_capset,
    /* large attack surfaces no session uses */
    __NR_userfaultfd,
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
};
/* clang-format on */

/* Namespace flags of clone(2); clone3 passes its flags in memory, out of BPF's sight, so
 * clone3 answers ENOSYS and glibc falls back to clone (pthread_create does). */
#define SBX_CLONE_NS                                                                               \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)
#endif /* __x86_64__ */

/* The low 32 bits of syscall argument i (little-endian). */
#define SBX_ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))

struct sbx_prog {
    struct sock_filter *f;
    size_t n, max;
};

static void emit(struct sbx_prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (p->n < p->max)
        p->f[p->n] = (struct sock_filter){code, jt, jf, k};
    p->n++; /* counted even past max: the caller reports GW_ERR_TOOLONG */
}

static void emit_ret(struct sbx_prog *p, uint32_t action)
{
    emit(p, BPF_RET | BPF_K, 0, 0, action);
}

static void emit_load(struct sbx_prog *p, uint32_t offset)
{
    emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
}

int gw_sandbox_bpf_build(const struct gw_sandbox_bpf_opts *o, struct sock_filter *out, size_t max)
{
#if defined(__x86_64__)
    struct sbx_prog p = {out, 0, max};
    const uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
    /* A foreign architecture's numbers mean other calls; the x32 ABI shares ours with a
     * high bit. Neither is ever used by this binary: whoever tries is killed. */
    emit_load(&p, offsetof(struct seccomp_data, arch));
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SBX_ARCH);
    emit_ret(&p, SECCOMP_RET_KILL_PROCESS);
    emit_load(&p, offsetof(struct seccomp_data, nr));
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, SBX_X32_BIT);
    emit_ret(&p, SECCOMP_RET_KILL_PROCESS);
    for (size_t i = 0; i < sizeof deny_nr / sizeof deny_nr[0]; i++) {
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)deny_nr[i]);
        emit_ret(&p, eperm);
    }
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_clone3);
    emit_ret(&p, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
    /* Each argument check below reloads the accumulator, so it ends in returns. */
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, __NR_clone);
    emit_load(&p, SBX_ARG_LO(0));
    emit(&p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, SBX_CLONE_NS);
    emit_ret(&p, eperm);
    emit_ret(&p, SECCOMP_RET_ALLOW);
    /* TIOCSTI/TIOCLINUX on an inherited terminal (a server started by hand logs to one)
     * would type commands into the administrator's shell. */
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 5, __NR_ioctl);
    emit_load(&p, SBX_ARG_LO(1));
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, TIOCSTI);
    emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, TIOCLINUX);
    emit_ret(&p, SECCOMP_RET_ALLOW);
    emit_ret(&p, eperm);
    if (o && o->ptrace_self > 0) {
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, __NR_ptrace);
        emit_load(&p, SBX_ARG_LO(1));
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)o->ptrace_self);
        emit_ret(&p, SECCOMP_RET_ALLOW);
        emit_ret(&p, eperm);
    } else {
        emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_ptrace);
        emit_ret(&p, eperm);
    }
    emit_ret(&p, SECCOMP_RET_ALLOW);
    return p.n > max ? GW_ERR_TOOLONG : (int)p.n;
#else
    (void)o, (void)out, (void)max;
    return GW_ERR_NOTSUP;
#endif
}

/* Whether this kernel can run seccomp filters at all (for reports and the decision to
 * continue without one). */
static bool seccomp_available(void)
{
    uint32_t act = SECCOMP_RET_ERRNO;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
        return false;
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0;
}

int gw_sandbox_enter_session(const struct gw_config *cfg)
{
    struct sock_filter f[GW_SANDBOX_BPF_MAX];
    struct gw_sandbox_bpf_opts o = {.ptrace_self = SBX_SANITIZER ? (int32_t)getpid() : 0};
    if (!cfg->sandbox)
        return 0;
    int n = gw_sandbox_bpf_build(&o, f, sizeof f / sizeof f[0]);
    if (n == GW_ERR_NOTSUP) {
        gw_log(GW_LOG_DEBUG, "sandbox: no seccomp filter for this architecture");
        return 0;
    }
    if (n < 0) {
        gw_log(GW_LOG_ERROR, "sandbox: cannot build the seccomp filter: %s", gw_strerror(n));
        return n;
    }
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    /* Needed for an unprivileged filter, and no session ever gains privileges anyway. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        int e = errno;
        if ((e == EINVAL || e == ENOSYS) && !seccomp_available()) {
            gw_log(GW_LOG_DEBUG, "sandbox: the kernel has no seccomp filters");
            return 0;
        }
        gw_log(GW_LOG_ERROR, "sandbox: cannot install the seccomp filter: %s", strerror(e));
        return GW_ERR_PERM;
    }
    return 0;
}

/* ---- Landlock ------------------------------------------------------------------------ */

#define LL_FS_ABI1                                                                                 \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |                                 \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)
/* The rights Landlock accepts on a rule for a non-directory. */
#define LL_FS_FILE                                                                                 \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define LL_RESTRICT_SELF_NOFLAGS 0u

/* Ruleset attributes as of ABI 6; a kernel that knows fewer fields accepts the longer
 * struct as long as the fields it does not know are zero. */
struct sbx_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

uint64_t gw_sandbox_ll_handled(int abi)
{
    uint64_t r = LL_FS_ABI1 | LANDLOCK_ACCESS_FS_REFER;
    if (abi < 2)
        return 0;
    if (abi >= 3)
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return r;
}

uint64_t gw_sandbox_ll_rights(enum gw_sandbox_access access, int abi)
{
    uint64_t r = 0;
    switch (access) {
    case GW_SANDBOX_RO:
        r = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
        break;
    case GW_SANDBOX_RW:
        /* Symlinks: SFTP's SYMLINK; refer: renames and hard links between directories
         * (partials become files by rename); never devices, FIFOs, sockets or exec. */
        r = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
            LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
            LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
            LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |
            LANDLOCK_ACCESS_FS_TRUNCATE;
        break;
    case GW_SANDBOX_DEV:
        r = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
        break;
    }
    return r & gw_sandbox_ll_handled(abi);
}

uint64_t gw_sandbox_ll_scoped(int abi)
{
    return abi >= 6 ? LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL : 0;
}

/* Read-only system paths a session may need after login (Debian layout; what a system
 * lacks is skipped). Single files rather than all of /etc: a session that still runs as
 * root (no run_as) must not reach /etc/shadow or /etc/ssl/private. */
static const struct gw_sandbox_rule sys_rules[] = {
    /* libraries loaded lazily (NSS modules, gconv for iconv, OpenSSL providers), time
     * zones, the CA certificates that /etc/ssl/certs links to */
    {"/usr", NULL, GW_SANDBOX_RO, false},
    {"/lib", NULL, GW_SANDBOX_RO, false},
    {"/lib64", NULL, GW_SANDBOX_RO, false},
    {"/etc/ld.so.cache", NULL, GW_SANDBOX_RO, false},
    {"/etc/localtime", NULL, GW_SANDBOX_RO, false},
    /* name resolution for upstream mounts (libcurl's resolver thread) */
    {"/etc/nsswitch.conf", NULL, GW_SANDBOX_RO, false},
    {"/etc/hosts", NULL, GW_SANDBOX_RO, false},
    {"/etc/host.conf", NULL, GW_SANDBOX_RO, false},
    {"/etc/resolv.conf", NULL, GW_SANDBOX_RO, false},
    {"/etc/gai.conf", NULL, GW_SANDBOX_RO, false},
    {"/etc/services", NULL, GW_SANDBOX_RO, false},
    {"/etc/protocols", NULL, GW_SANDBOX_RO, false},
    /* TLS trust for ftps:// and ftpes:// mounts */
    {"/etc/ssl/certs", NULL, GW_SANDBOX_RO, false},
    {"/etc/ssl/openssl.cnf", NULL, GW_SANDBOX_RO, false},
    /* the process itself: sanitizers read maps and the binary's symbols (opening
     * /proc/self follows it to /proc/PID: no other process is covered) */
    {"/proc/self", NULL, GW_SANDBOX_RO, false},
    {"/proc/self/exe", NULL, GW_SANDBOX_RO, false},
    {"/dev/null", NULL, GW_SANDBOX_DEV, false},
    {"/dev/urandom", NULL, GW_SANDBOX_DEV, false},
};

/* State a front end keeps in the state directory and uses at run time, by audit proto. */
static const struct {
    const char *proto;
    const char *sub;
} fe_state[] = {
    {"webdav", "webdav"}, /* lock database and dead properties (webdav/locks.c, props.c) */
};

int gw_sandbox_ll_plan(const struct gw_sandbox_scope *sc, struct gw_sandbox_rule *out, size_t max)
{
    size_t n = 0;
    const size_t nsys = sizeof sys_rules / sizeof sys_rules[0];
    if (max < 1 + nsys + sizeof fe_state / sizeof fe_state[0])
        return GW_ERR_TOOLONG;
    out[n++] = (struct gw_sandbox_rule){sc->root, NULL,
                                        sc->read_only ? GW_SANDBOX_RO : GW_SANDBOX_RW, true};
    for (size_t i = 0; i < sizeof fe_state / sizeof fe_state[0]; i++)
        if (sc->proto && sc->state && strcmp(sc->proto, fe_state[i].proto) == 0)
            out[n++] = (struct gw_sandbox_rule){sc->state, fe_state[i].sub, GW_SANDBOX_RW, true};
    for (size_t i = 0; i < nsys; i++)
        out[n++] = sys_rules[i];
    return (int)n;
}

static int ll_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? -errno : (int)abi;
}

/* Adds one rule to ruleset rfd. A missing optional path is skipped. */
static int add_rule(int rfd, int abi, const struct gw_sandbox_rule *r, char *why, size_t whysz)
{
    char path[GW_MAX_PATH];
    struct stat st;
    int rc = 0;
    int n = r->sub ? snprintf(path, sizeof path, "%s/%s", r->path, r->sub)
                   : snprintf(path, sizeof path, "%s", r->path);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(why, whysz, "path too long: %s", r->path);
        return GW_ERR_TOOLONG;
    }
    /* O_PATH follows symlinks: the rule lands on what the name leads to now. */
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (!r->required)
            return 0;
        rc = gw_err_from_errno(errno);
        snprintf(why, whysz, "%s: %s", path, strerror(errno));
        return rc;
    }
    struct landlock_path_beneath_attr pb = {
        .allowed_access = gw_sandbox_ll_rights(r->access, abi),
        .parent_fd = fd,
    };
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        pb.allowed_access &= LL_FS_FILE;
    if (pb.allowed_access &&
        syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) {
        rc = gw_err_from_errno(errno);
        snprintf(why, whysz, "rule for %s: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

/* ---- test hook (FERRY_SANDBOX_PROBE, see sandbox.h) ---- */

static const char *outcome(int ok, int e, char *buf, size_t size)
{
    if (ok)
        snprintf(buf, size, "allowed");
    else
        snprintf(buf, size, "denied (%s)", strerror(e));
    return buf;
}

static void probe_exec(void)
{
    char res[128];
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)"true", NULL}, *envp[] = {NULL};
        execve("/bin/true", argv, envp);
        _exit(errno == EPERM ? 3 : 4);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 5;
    gw_log(GW_LOG_INFO, "sandbox probe exec: %s",
           outcome(code == 0, code == 3 ? EPERM : EIO, res, sizeof res));
}

static void probe_ptrace(void)
{
    char res[128];
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    if (pid < 0)
        return;
    long r = ptrace(PTRACE_SEIZE, pid, NULL, NULL);
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    gw_log(GW_LOG_INFO, "sandbox probe ptrace: %s", outcome(r == 0, e, res, sizeof res));
}

static void probe_open(const char *path)
{
    char res[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    if (fd >= 0)
        close(fd);
    gw_log(GW_LOG_INFO, "sandbox probe %s: %s", path, outcome(fd >= 0, e, res, sizeof res));
}

static void run_probes(const char *list)
{
    char item[GW_MAX_PATH];
    while (list && *list) {
        const char *end = strchr(list, ':');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        if (len > 0 && len < sizeof item) {
            memcpy(item, list, len);
            item[len] = '\0';
            if (strcmp(item, "exec") == 0)
                probe_exec();
            else if (strcmp(item, "ptrace") == 0)
                probe_ptrace();
            else
                probe_open(item);
        }
        list = end ? end + 1 : NULL;
    }
}

/* Builds the ruleset for sc at ABI abi and restricts the calling process to it. On
 * failure why says what failed. */
static int ll_install(const struct gw_sandbox_scope *sc, int abi, char *why, size_t whysz)
{
    struct gw_sandbox_rule rules[GW_SANDBOX_MAX_RULES];
    struct sbx_ll_ruleset_attr attr = {
        .handled_access_fs = gw_sandbox_ll_handled(abi),
        .scoped = gw_sandbox_ll_scoped(abi),
    };
    int rc = GW_ERR_PERM;
    int n = gw_sandbox_ll_plan(sc, rules, sizeof rules / sizeof rules[0]);
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (n < 0 || rfd < 0) {
        snprintf(why, whysz, "ruleset: %s", n < 0 ? gw_strerror(n) : strerror(errno));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        rc = add_rule(rfd, abi, &rules[i], why, whysz);
        if (rc < 0)
            goto out;
    }
    rc = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_landlock_restrict_self, rfd, LL_RESTRICT_SELF_NOFLAGS) != 0) {
        rc = GW_ERR_PERM;
        snprintf(why, whysz, "restrict: %s", strerror(errno));
    }
out:
    if (rfd >= 0)
        close(rfd);
    return rc;
}

int gw_sandbox_confine(const struct gw_config *cfg, const char *proto, const char *root,
                       bool read_only)
{
    static bool confined;
    struct gw_sandbox_scope sc = {root, read_only, cfg->state, proto};
    char why[GW_MAX_PATH + 128] = "";
    int rc = 0, abi = 0;
    if (confined || !cfg->sandbox)
        goto out;
    abi = ll_abi();
    if (abi == -ENOSYS || abi == -EOPNOTSUPP || abi == 1) {
        /* Not built in, disabled at boot, or unable to rename across directories: the
         * seccomp layer still stands. */
        gw_log(GW_LOG_DEBUG, "sandbox: no usable Landlock (%s)",
               abi == 1 ? "ABI 1" : strerror(-abi));
        goto out;
    }
    if (abi < 0) {
        rc = GW_ERR_PERM;
        snprintf(why, sizeof why, "Landlock: %s", strerror(-abi));
        goto out;
    }
    rc = ll_install(&sc, abi, why, sizeof why);
    if (rc == 0) {
        confined = true;
        gw_log(GW_LOG_DEBUG, "sandbox: Landlock ABI %d confines files to %s (%s)", abi, root,
               read_only ? "read-only" : "read-write");
    }
out:
    if (rc < 0)
        gw_log(GW_LOG_ERROR, "sandbox: cannot confine the session to %s: %s", root, why);
    else if (getenv("FERRY_SANDBOX_PROBE"))
        run_probes(getenv("FERRY_SANDBOX_PROBE"));
    return rc;
}

/* ---- status ---------------------------------------------------------------------------- */

void gw_sandbox_status(const struct gw_config *cfg, char *buf, size_t size)
{
    struct sock_filter f[GW_SANDBOX_BPF_MAX];
    const char *sc;
    char ll[128];
    if (!cfg->sandbox) {
        snprintf(buf, size, "off (sandbox = no)");
        return;
    }
    if (gw_sandbox_bpf_build(NULL, f, sizeof f / sizeof f[0]) < 0)
        sc = "no seccomp filter (architecture)";
    else if (!seccomp_available())
        sc = "no seccomp filter (kernel)";
    else
        sc = "seccomp filter";
    int abi = ll_abi();
    if (abi < 0)
        snprintf(ll, sizeof ll, "no Landlock (%s)", strerror(-abi));
    else if (abi < 2)
        snprintf(ll, sizeof ll, "no Landlock (ABI 1 cannot rename across directories)");
    else
        snprintf(ll, sizeof ll, "Landlock ABI %d (files%s)", abi,
                 gw_sandbox_ll_scoped(abi) ? ", signals, abstract sockets" : "");
    snprintf(buf, size, "%s, %s", sc, ll);
}

void gw_sandbox_log_status(const struct gw_config *cfg)
{
    char buf[256];
    gw_sandbox_status(cfg, buf, sizeof buf);
    gw_log(GW_LOG_INFO, "session sandbox: %s", buf);
}
