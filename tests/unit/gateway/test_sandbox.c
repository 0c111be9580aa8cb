/* Unit tests for gateway/sandbox.c: the seccomp program is run through a small BPF
 * interpreter (the pure builder), the Landlock planner is checked for what it grants,
 * and both layers are installed for real in forked children to watch the kernel enforce
 * them. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/err.h"
#include "gateway/sandbox.h"

/* ---- a BPF interpreter for the instructions a seccomp filter may use ---- */

static uint32_t bpf_run(const struct sock_filter *f, int n, const struct seccomp_data *d)
{
    uint32_t a = 0;
    for (int pc = 0; pc < n; pc++) {
        const struct sock_filter *i = &f[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            ck_assert_msg(i->k + 4 <= sizeof *d && i->k % 4 == 0, "load out of seccomp_data");
            memcpy(&a, (const char *)d + i->k, 4);
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == i->k ? i->jt : i->jf;
            break;
        case BPF_JMP | BPF_JSET | BPF_K:
            pc += (a & i->k) ? i->jt : i->jf;
            break;
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += a >= i->k ? i->jt : i->jf;
            break;
        case BPF_RET | BPF_K:
            return i->k;
        default:
            ck_abort_msg("unexpected BPF instruction %#x at %d", i->code, pc);
        }
    }
    ck_abort_msg("the program ran off its end");
    return 0;
}

static struct sock_filter prog[GW_SANDBOX_BPF_MAX];
static int prog_n;

static void build(int32_t ptrace_self)
{
    struct gw_sandbox_bpf_opts o = {.ptrace_self = ptrace_self};
    prog_n = gw_sandbox_bpf_build(&o, prog, GW_SANDBOX_BPF_MAX);
    ck_assert_int_gt(prog_n, 0);
}

static uint32_t call(uint32_t arch, int nr, uint64_t a0, uint64_t a1)
{
    struct seccomp_data d;
    memset(&d, 0, sizeof d);
    d.arch = arch;
    d.nr = nr;
    d.args[0] = a0;
    d.args[1] = a1;
    return bpf_run(prog, prog_n, &d);
}

#define EPERM_RET (SECCOMP_RET_ERRNO | EPERM)

START_TEST(test_bpf_build)
{
    /* Independent of the builder's table: what issue #11 asks to refuse. */
    /* clang-format off */
    static const int denied[] = {
        SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
        SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_kexec_load, SYS_kexec_file_load,
        SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf, SYS_perf_event_open,
        SYS_keyctl, SYS_add_key, SYS_request_key, SYS_unshare, SYS_setns, SYS_personality,
        SYS_swapon, SYS_swapoff, SYS_reboot, SYS_setuid, SYS_setgid, SYS_setreuid,
        SYS_setregid, SYS_setresuid, SYS_setresgid, SYS_setfsuid, SYS_setfsgid, SYS_setgroups,
        SYS_capset, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
        SYS_userfaultfd, SYS_open_by_handle_at, SYS_mknodat, SYS_fsopen, SYS_move_mount};
    /* What sessions, OpenSSL, libssh, libcurl and the sanitizers do all the time. */
    static const int allowed[] = {
        SYS_read, SYS_write, SYS_openat, SYS_openat2, SYS_close, SYS_mmap, SYS_mprotect,
        SYS_munmap, SYS_socket, SYS_connect, SYS_accept4, SYS_bind, SYS_listen, SYS_sendmsg,
        SYS_recvmsg, SYS_poll, SYS_futex, SYS_exit_group, SYS_getrandom, SYS_renameat2,
        SYS_linkat, SYS_symlinkat, SYS_unlinkat, SYS_mkdirat, SYS_fsync, SYS_ftruncate,
        SYS_landlock_create_ruleset, SYS_landlock_add_rule, SYS_landlock_restrict_self,
        SYS_seccomp, SYS_prctl, SYS_wait4, SYS_kill, SYS_fork, SYS_rt_sigaction, SYS_statx,
        SYS_newfstatat, SYS_getdents64, SYS_utimensat, SYS_fchmodat, SYS_statfs, SYS_sendfile};
    /* clang-format on */
    build(0);
    ck_assert_int_lt(prog_n, GW_SANDBOX_BPF_MAX);
    /* Well formed: every jump lands inside, the last instruction returns. */
    for (int i = 0; i < prog_n; i++)
        if (BPF_CLASS(prog[i].code) == BPF_JMP)
            ck_assert_int_lt(i + 1 + (prog[i].jt > prog[i].jf ? prog[i].jt : prog[i].jf), prog_n);
    ck_assert_uint_eq(prog[prog_n - 1].code, BPF_RET | BPF_K);

    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        ck_assert_msg(call(AUDIT_ARCH_X86_64, denied[i], 0, 0) == EPERM_RET,
                      "syscall %d is not refused", denied[i]);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        ck_assert_msg(call(AUDIT_ARCH_X86_64, allowed[i], 0, 0) == SECCOMP_RET_ALLOW,
                      "syscall %d is refused", allowed[i]);
    /* Another architecture or the x32 ABI: killed, whatever the number. */
    ck_assert_uint_eq(call(AUDIT_ARCH_I386, SYS_read, 0, 0), SECCOMP_RET_KILL_PROCESS);
    ck_assert_uint_eq(call(AUDIT_ARCH_AARCH64, SYS_execve, 0, 0), SECCOMP_RET_KILL_PROCESS);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, 0x40000000 | SYS_read, 0, 0),
                      SECCOMP_RET_KILL_PROCESS);
    /* clone: threads and fork pass, any new namespace does not; clone3 asks for clone. */
    const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                            CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                            CLONE_CHILD_CLEARTID;
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_clone, thread, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_clone, SIGCHLD, 0), SECCOMP_RET_ALLOW);
    static const uint64_t ns[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        ck_assert_msg(call(AUDIT_ARCH_X86_64, SYS_clone, SIGCHLD | ns[i], 0) == EPERM_RET,
                      "clone flag %#llx passes", (unsigned long long)ns[i]);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_clone3, 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
    /* ioctl: only the terminal-injection requests are refused. */
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ioctl, 2, TIOCSTI), EPERM_RET);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ioctl, 2, TIOCLINUX), EPERM_RET);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ioctl, 3, FIONREAD), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ioctl, 3, FIONBIO), SECCOMP_RET_ALLOW);

    /* Sanitizer builds: ptrace on the session itself only. */
    build(4242);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ptrace, PTRACE_ATTACH, 4242), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_ptrace, PTRACE_ATTACH, 1), EPERM_RET);
    ck_assert_uint_eq(call(AUDIT_ARCH_X86_64, SYS_execve, 0, 0), EPERM_RET);

    /* Too small a buffer: refused, and nothing written past it. */
    struct sock_filter small[11];
    memset(small, 0xab, sizeof small);
    ck_assert_int_eq(gw_sandbox_bpf_build(NULL, small, 10), GW_ERR_TOOLONG);
    ck_assert_uint_eq(small[10].code, 0xabab);
}
END_TEST

START_TEST(test_ll_rights)
{
    ck_assert_uint_eq(gw_sandbox_ll_handled(-1), 0);
    ck_assert_uint_eq(gw_sandbox_ll_handled(1), 0);
    uint64_t h2 = gw_sandbox_ll_handled(2), h3 = gw_sandbox_ll_handled(3),
             h5 = gw_sandbox_ll_handled(5), h7 = gw_sandbox_ll_handled(7);
    ck_assert(h2 & LANDLOCK_ACCESS_FS_REFER);
    ck_assert(h2 & LANDLOCK_ACCESS_FS_EXECUTE);
    ck_assert(!(h2 & LANDLOCK_ACCESS_FS_TRUNCATE));
    ck_assert(h3 & LANDLOCK_ACCESS_FS_TRUNCATE);
    ck_assert(!(h3 & LANDLOCK_ACCESS_FS_IOCTL_DEV));
    ck_assert(h5 & LANDLOCK_ACCESS_FS_IOCTL_DEV);
    ck_assert_uint_eq(h7, h5);
    for (int abi = 2; abi <= 7; abi++) {
        uint64_t ro = gw_sandbox_ll_rights(GW_SANDBOX_RO, abi);
        uint64_t rw = gw_sandbox_ll_rights(GW_SANDBOX_RW, abi);
        uint64_t dev = gw_sandbox_ll_rights(GW_SANDBOX_DEV, abi);
        uint64_t h = gw_sandbox_ll_handled(abi);
        ck_assert_uint_eq(ro, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
        ck_assert_uint_eq(ro & ~rw, 0);
        ck_assert_uint_eq((ro | rw | dev) & ~h, 0);
        /* Never: running programs, device or special files, device ioctls. */
        ck_assert_uint_eq(rw & (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                                LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                                LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_IOCTL_DEV),
                          0);
        ck_assert(rw & LANDLOCK_ACCESS_FS_REFER);
        ck_assert(rw & LANDLOCK_ACCESS_FS_MAKE_REG);
        ck_assert_uint_eq(!!(rw & LANDLOCK_ACCESS_FS_TRUNCATE), abi >= 3);
        ck_assert_uint_eq(dev, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
    }
    ck_assert_uint_eq(gw_sandbox_ll_scoped(5), 0);
    ck_assert_uint_eq(gw_sandbox_ll_scoped(6),
                      LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL);
}
END_TEST

static bool is_prefix_dir(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    return strncmp(dir, path, n) == 0 &&
           (path[n] == '\0' || path[n] == '/' || (n > 0 && dir[n - 1] == '/'));
}

START_TEST(test_ll_plan)
{
    struct gw_sandbox_rule r[GW_SANDBOX_MAX_RULES];
    struct gw_sandbox_scope sc = {"/srv/ferry/alice", false, "/var/lib/ferry", "ftp"};
    int n = gw_sandbox_ll_plan(&sc, r, GW_SANDBOX_MAX_RULES);
    ck_assert_int_gt(n, 1);
    ck_assert_str_eq(r[0].path, "/srv/ferry/alice");
    ck_assert_ptr_null(r[0].sub);
    ck_assert_int_eq(r[0].access, GW_SANDBOX_RW);
    ck_assert(r[0].required);
    for (int i = 1; i < n; i++) {
        /* Nothing else writable, nothing of the state, no whole system tree. */
        ck_assert_int_ne(r[i].access, GW_SANDBOX_RW);
        ck_assert(!r[i].required);
        ck_assert_msg(!is_prefix_dir("/var/lib/ferry", r[i].path), "%s", r[i].path);
        ck_assert_msg(!is_prefix_dir(r[i].path, "/srv/ferry"), "%s covers the root", r[i].path);
        ck_assert_msg(!is_prefix_dir(r[i].path, "/etc/shadow"), "%s", r[i].path);
        ck_assert_msg(!is_prefix_dir(r[i].path, "/etc/ssl/private/k.pem"), "%s", r[i].path);
        ck_assert_msg(!is_prefix_dir(r[i].path, "/proc/1/environ"), "%s", r[i].path);
        ck_assert_msg(!is_prefix_dir(r[i].path, "/home/u/.ssh/id_ed25519"), "%s", r[i].path);
        if (r[i].access == GW_SANDBOX_DEV)
            ck_assert(is_prefix_dir("/dev", r[i].path));
    }
    /* Read-only users get a read-only root. */
    sc.read_only = true;
    ck_assert_int_eq(gw_sandbox_ll_plan(&sc, r, GW_SANDBOX_MAX_RULES), n);
    ck_assert_int_eq(r[0].access, GW_SANDBOX_RO);
    /* WebDAV sessions also reach the lock and property store, and only that. */
    sc.read_only = false;
    sc.proto = "webdav";
    int nw = gw_sandbox_ll_plan(&sc, r, GW_SANDBOX_MAX_RULES);
    ck_assert_int_eq(nw, n + 1);
    int found = 0;
    for (int i = 0; i < nw; i++)
        if (r[i].sub) {
            ck_assert_str_eq(r[i].path, "/var/lib/ferry");
            ck_assert_str_eq(r[i].sub, "webdav");
            ck_assert_int_eq(r[i].access, GW_SANDBOX_RW);
            found++;
        }
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(gw_sandbox_ll_plan(&sc, r, 3), GW_ERR_TOOLONG);
}
END_TEST

/* ---- the real thing, in forked children ---- */

#define CHILD_CHECK(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: child check failed: %s (errno %s)\n", __FILE__, __LINE__, #c,  \
                    strerror(errno));                                                              \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* Runs fn in a child (so that the restrictions stay there) and expects exit 0. */
static void in_child(void (*fn)(void *), void *arg)
{
    int status = -1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

static int seccomp_mode(void)
{
    size_t len;
    char *s = tu_read_file("/proc/self/status", &len);
    char *p = strstr(s, "\nSeccomp:");
    int mode = p ? (int)strtol(p + 9, NULL, 10) : -1;
    free(s);
    return mode;
}

static void *thread_fn(void *arg)
{
    return arg;
}

static void seccomp_child(void *arg)
{
    struct gw_config *cfg = arg;
    CHILD_CHECK(gw_sandbox_enter_session(cfg) == 0);
    if (!cfg->sandbox) {
        CHILD_CHECK(seccomp_mode() == 0);
        return;
    }
    CHILD_CHECK(seccomp_mode() == 2);
    /* /bin/false: should the exec happen, the child's status fails the test. */
    char *argv[] = {(char *)"false", NULL}, *envp[] = {NULL};
    errno = 0;
    CHILD_CHECK(execve("/bin/false", argv, envp) < 0 && errno == EPERM);
    CHILD_CHECK(unshare(CLONE_NEWUSER) < 0 && errno == EPERM);
    CHILD_CHECK(mount("none", "/mnt", "tmpfs", 0, NULL) < 0 && errno == EPERM);
    CHILD_CHECK(setuid(getuid()) < 0 && errno == EPERM);
    CHILD_CHECK(ptrace(PTRACE_SEIZE, getppid(), NULL, NULL) < 0 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_io_uring_setup, 1, NULL) < 0 && errno == EPERM);
    CHILD_CHECK(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
    /* What sessions do keeps working: threads (libcurl's resolver), files, sockets. */
    pthread_t t;
    void *ret = NULL;
    CHILD_CHECK(pthread_create(&t, NULL, thread_fn, (void *)"ok") == 0);
    CHILD_CHECK(pthread_join(t, &ret) == 0 && ret && strcmp(ret, "ok") == 0);
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    close(fd);
    int sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHILD_CHECK(sfd >= 0);
    close(sfd);
    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0)
        _exit(7);
    int status = 0;
    CHILD_CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7);
}

START_TEST(test_enter_session)
{
    struct gw_config cfg;
    cfg_defaults(&cfg);
    ck_assert(cfg.sandbox); /* on unless configured off */
    in_child(seccomp_child, &cfg);
    cfg.sandbox = false;
    in_child(seccomp_child, &cfg);
    cfg_free(&cfg);
}
END_TEST

struct ll_case {
    struct gw_config *cfg;
    const char *base;
    const char *proto;
    bool read_only;
};

static bool can_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* buf = a/b; a path that does not fit ends the child. */
static void pj(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size)
        _exit(2);
}

static void landlock_child(void *arg)
{
    const struct ll_case *c = arg;
    char root[1024], p[1024], q[1024];
    pj(root, sizeof root, c->base, "root/alice");
    CHILD_CHECK(gw_sandbox_confine(c->cfg, c->proto, root, c->read_only) == 0);
    /* A second login cannot widen anything (and does not stack another layer). */
    pj(p, sizeof p, c->base, "root");
    CHILD_CHECK(gw_sandbox_confine(c->cfg, c->proto, p, false) == 0);

    pj(p, sizeof p, root, "file.txt");
    CHILD_CHECK(can_open(p, O_RDONLY));
    CHILD_CHECK(can_open(root, O_RDONLY | O_DIRECTORY));
    /* Outside the user's root: another user's home, the state, the server's other files,
     * system secrets, other processes. */
    pj(p, sizeof p, c->base, "root/bob/secret.txt");
    CHILD_CHECK(!can_open(p, O_RDONLY) && errno == EACCES);
    pj(p, sizeof p, c->base, "root");
    CHILD_CHECK(!can_open(p, O_RDONLY | O_DIRECTORY) && errno == EACCES);
    pj(p, sizeof p, c->base, "state/users");
    CHILD_CHECK(!can_open(p, O_RDONLY) && errno == EACCES);
    CHILD_CHECK(!can_open("/etc/shadow", O_RDONLY) && errno == EACCES);
    CHILD_CHECK(!can_open("/proc/1/environ", O_RDONLY));
    /* The system paths a session needs still read. */
    CHILD_CHECK(can_open("/etc/hosts", O_RDONLY));
    CHILD_CHECK(can_open("/usr/lib", O_RDONLY | O_DIRECTORY));
    CHILD_CHECK(can_open("/proc/self/maps", O_RDONLY));
    CHILD_CHECK(can_open("/dev/null", O_WRONLY));
    /* The front end's state: WebDAV sessions only. */
    pj(p, sizeof p, c->base, "state/webdav/locks");
    if (strcmp(c->proto, "webdav") == 0) {
        CHILD_CHECK(can_open(p, O_RDWR | O_TRUNC));
        pj(q, sizeof q, c->base, "state/webdav/props/new");
        CHILD_CHECK(mkdir(q, 0700) == 0 && rmdir(q) == 0);
    } else {
        CHILD_CHECK(!can_open(p, O_RDONLY) && errno == EACCES);
    }
    /* Writes inside the root: create, truncate, rename across directories (partials
     * become files so), hard links, symlinks, mkdir, rmdir, unlink. */
    pj(p, sizeof p, root, "sub/.partial");
    pj(q, sizeof q, root, "final.txt");
    if (c->read_only) {
        CHILD_CHECK(!can_open(p, O_WRONLY | O_CREAT) && errno == EACCES);
        pj(p, sizeof p, root, "file.txt");
        CHILD_CHECK(!can_open(p, O_WRONLY) && errno == EACCES);
        CHILD_CHECK(rename(p, q) < 0 && errno == EACCES);
        return;
    }
    CHILD_CHECK(can_open(p, O_WRONLY | O_CREAT | O_TRUNC));
    CHILD_CHECK(truncate(p, 3) == 0);
    CHILD_CHECK(rename(p, q) == 0);
    pj(p, sizeof p, root, "sub/link.txt");
    CHILD_CHECK(link(q, p) == 0 && unlink(p) == 0);
    CHILD_CHECK(symlink("final.txt", p) == 0 && unlink(p) == 0);
    pj(p, sizeof p, root, "newdir");
    CHILD_CHECK(mkdir(p, 0755) == 0 && rmdir(p) == 0);
    CHILD_CHECK(unlink(q) == 0);
    /* Never out of the root by rename or link, nor special files inside it. */
    pj(p, sizeof p, root, "file.txt");
    pj(q, sizeof q, c->base, "root/bob/stolen.txt");
    CHILD_CHECK(link(p, q) < 0);
    CHILD_CHECK(rename(p, q) < 0);
    pj(q, sizeof q, root, "fifo");
    CHILD_CHECK(mkfifo(q, 0600) < 0 && errno == EACCES);
}

static void ll_case_run(const char *proto, bool read_only)
{
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 2) {
        fprintf(stderr, "test_confine: no usable Landlock here, skipped\n");
        return;
    }
    struct gw_config cfg;
    char *base = tu_mkdtemp("sandbox");
    cfg_defaults(&cfg);
    free(cfg.state);
    ck_assert_int_eq(asprintf(&cfg.state, "%s/state", base), (int)strlen(base) + 6);
    ck_assert_int_eq(tu_sh("cd '%s' && mkdir -p root/alice/sub root/bob state/webdav/props && "
                           "echo hi >root/alice/file.txt && echo no >root/bob/secret.txt && "
                           "echo x >state/users && echo l >state/webdav/locks",
                           base),
                     0);
    struct ll_case c = {&cfg, base, proto, read_only};
    in_child(landlock_child, &c);
    tu_rmtree(base);
    free(base);
    cfg_free(&cfg);
}

START_TEST(test_confine)
{
    ll_case_run("ftp", false);
    ll_case_run("webdav", false);
    ll_case_run("sftp", true);
}
END_TEST

static void off_child(void *arg)
{
    const struct ll_case *c = arg;
    char root[1024], p[1024];
    pj(root, sizeof root, c->base, "root/alice");
    CHILD_CHECK(gw_sandbox_confine(c->cfg, c->proto, root, false) == 0);
    pj(p, sizeof p, c->base, "root/bob/secret.txt");
    CHILD_CHECK(can_open(p, O_RDONLY)); /* sandbox = no: nothing but the VFS confines */
}

START_TEST(test_confine_off)
{
    struct gw_config cfg;
    char *base = tu_mkdtemp("sandbox-off");
    cfg_defaults(&cfg);
    cfg.sandbox = false;
    ck_assert_int_eq(
        tu_sh("mkdir -p '%s/root/alice' '%s/root/bob' && echo s >'%s/root/bob/secret.txt'", base,
              base, base),
        0);
    struct ll_case c = {&cfg, base, "ftp", false};
    in_child(off_child, &c);
    tu_rmtree(base);
    free(base);
    cfg_free(&cfg);
}
END_TEST

static void missing_root_child(void *arg)
{
    struct gw_config *cfg = arg;
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHILD_CHECK(nul >= 0 && dup2(nul, 2) == 2); /* the expected error line is noise here */
    /* The user's root is required: without it the session must be refused, not run
     * unconfined (the caller ends the session on a negative return). */
    CHILD_CHECK(gw_sandbox_confine(cfg, "ftp", "/nonexistent/ferry-sandbox-root", false) < 0);
}

START_TEST(test_confine_fails_closed)
{
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 2)
        return;
    struct gw_config cfg;
    cfg_defaults(&cfg);
    in_child(missing_root_child, &cfg);
    cfg_free(&cfg);
}
END_TEST

START_TEST(test_status)
{
    struct gw_config cfg;
    char buf[256];
    cfg_defaults(&cfg);
    gw_sandbox_status(&cfg, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "seccomp filter") != NULL, "%s", buf);
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi >= 2) {
        char want[48];
        snprintf(want, sizeof want, "Landlock ABI %ld", abi);
        ck_assert_msg(strstr(buf, want) != NULL, "%s", buf);
    }
    ck_assert_msg(strncmp(buf, "seccomp filter,", 15) == 0 || strstr(buf, "no seccomp"), "%s", buf);
    cfg.sandbox = false;
    gw_sandbox_status(&cfg, buf, sizeof buf);
    ck_assert_str_eq(buf, "off (sandbox = no)");
    cfg_free(&cfg);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *fn)
{
    TCase *tc = tcase_create(name);
    tcase_add_test(tc, fn);
    suite_add_tcase(s, tc);
}

Suite *gateway_sandbox_suite(void)
{
    Suite *s = suite_create("gateway/sandbox");
    add_case(s, "bpf_build", test_bpf_build);
    add_case(s, "ll_rights", test_ll_rights);
    add_case(s, "ll_plan", test_ll_plan);
    add_case(s, "enter_session", test_enter_session);
    add_case(s, "confine", test_confine);
    add_case(s, "confine_off", test_confine_off);
    add_case(s, "confine_fails_closed", test_confine_fails_closed);
    add_case(s, "status", test_status);
    return s;
}
