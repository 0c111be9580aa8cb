/* OpenPGP signatures through gpgv (see gpg.h). */
#include "integrity/gpg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define STATUS_PREFIX "[GNUPG:] "

static void setf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void setf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[i] = '\0';
}

static bool keyword(const char *s, size_t n, const char *kw, const char **args, size_t *an)
{
    size_t k = strlen(kw);
    if (n < k || memcmp(s, kw, k) != 0 || (n > k && s[k] != ' '))
        return false;
    *args = n > k ? s + k + 1 : s + n;
    *an = n > k ? n - k - 1 : 0;
    return true;
}

/* "KEYID rest of line": keyid into st->keyid, the rest (a user id) into st->uid. */
static void keyid_uid(struct ig_gpg_status *st, const char *a, size_t an)
{
    if (st->keyid[0])
        return;
    const char *sp = memchr(a, ' ', an);
    size_t kn = sp ? (size_t)(sp - a) : an;
    copy_field(st->keyid, sizeof st->keyid, a, kn);
    if (sp)
        copy_field(st->uid, sizeof st->uid, sp + 1, an - kn - 1);
}

void ig_gpg_status_parse(const char *buf, size_t len, struct ig_gpg_status *st)
{
    size_t pos = 0;
    const size_t pl = strlen(STATUS_PREFIX);
    memset(st, 0, sizeof *st);
    while (pos < len) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        if (n < pl || memcmp(s, STATUS_PREFIX, pl) != 0)
            continue;
        s += pl;
        n -= pl;
        const char *a;
        size_t an;
        if (keyword(s, n, "GOODSIG", &a, &an)) {
            st->goodsig++;
            keyid_uid(st, a, an);
        } else if (keyword(s, n, "VALIDSIG", &a, &an)) {
            st->validsig++;
            if (!st->fpr[0]) {
                const char *sp = memchr(a, ' ', an);
                copy_field(st->fpr, sizeof st->fpr, a, sp ? (size_t)(sp - a) : an);
            }
        } else if (keyword(s, n, "BADSIG", &a, &an) || keyword(s, n, "EXPSIG", &a, &an) ||
                   keyword(s, n, "EXPKEYSIG", &a, &an) || keyword(s, n, "REVKEYSIG", &a, &an)) {
            st->badsig++;
            keyid_uid(st, a, an);
        } else if (keyword(s, n, "ERRSIG", &a, &an)) {
            st->errsig++;
            if (!st->keyid[0]) {
                keyid_uid(st, a, an);
                st->uid[0] = '\0'; /* ERRSIG carries algorithm numbers, not a user id */
            }
        } else if (keyword(s, n, "NO_PUBKEY", &a, &an)) {
            st->no_pubkey = true;
        } else if (keyword(s, n, "NODATA", &a, &an)) {
            st->nodata = true;
        }
    }
}

/* A private working directory for one gpgv run: home, keyring, signature, data. */
struct workdir {
    char path[4096];
    bool made;
};

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        b += w;
        n -= (size_t)w;
    }
    return close(fd) < 0 ? -errno : 0;
}

static int workdir_make(struct workdir *w)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(w->path, sizeof w->path, "%s/ferry-gpgv-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(w->path))
        return -errno;
    w->made = true;
    return 0;
}

/* Removes the directory and whatever gpgv may have left in it (no subdirectories are
 * expected; any found are left alone). */
static void workdir_remove(struct workdir *w)
{
    if (!w->made)
        return;
    DIR *d = opendir(w->path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(w->path);
    w->made = false;
}

/* Reads all of fd (bounded); returns bytes read or -errno. */
static long read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char sink[4096];
        bool full = n == cap;
        ssize_t r = full ? read(fd, sink, sizeof sink) : read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return (long)n;
        if (!full)
            n += (size_t)r; /* beyond cap: drained and dropped so gpgv never blocks */
    }
}

/* Runs gpgv; the status output lands in *st. Returns gpgv's exit status, or a negative
 * errno when it could not run (-ENOENT: not installed). */
static int run_gpgv(const char *prog, const char *home, const char *keyring, const char *sigf,
                    const char *dataf, int data_fd, struct ig_gpg_status *st)
{
    int pipefd[2] = {-1, -1}, devnull = -1, rc;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *buf = NULL;
    char *argv[] = {(char *)prog,    "--homedir",   (char *)home, "--keyring",
                    (char *)keyring, "--status-fd", "1",          "--quiet",
                    (char *)sigf,    (char *)dataf, NULL};
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        rc = -errno;
        goto close_pipe;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, data_fd >= 0 ? data_fd : devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (rc != 0) {
        rc = -rc;
        goto close_pipe;
    }
    buf = malloc(IG_GPG_STATUS_MAX);
    long got = buf ? read_all(pipefd[0], buf, IG_GPG_STATUS_MAX) : -ENOMEM;
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (got < 0) {
        rc = (int)got;
        goto close_pipe;
    }
    ig_gpg_status_parse(buf, (size_t)got, st);
    rc = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
close_pipe:
    free(buf);
    if (devnull >= 0)
        close(devnull);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    return rc;
}

/* Writes the keyring in binary form (gpgv reads no armor). */
static int write_keyring(const struct workdir *w, const unsigned char *key, size_t len,
                         struct ig_sig_result *res)
{
    if (!ig_pgp_is_armored((const char *)key, len))
        return write_file(w->path, "keyring.gpg", key, len);
    unsigned char *bin = malloc(len);
    long n = bin ? ig_pgp_dearmor((const char *)key, len, bin, len) : -IG_SF_TOOLONG;
    int rc;
    if (n < 0) {
        setf(res->reason, sizeof res->reason, "cannot read the OpenPGP key: %s",
             ig_sigfile_strerror((int)n));
        rc = -EINVAL;
    } else {
        rc = write_file(w->path, "keyring.gpg", bin, (size_t)n);
    }
    free(bin);
    return rc;
}

enum ig_sig_status ig_gpg_verify(const unsigned char *sig, size_t sig_len,
                                 const struct ig_trust *trust, const struct ig_signed *data,
                                 struct ig_sig_result *res)
{
    struct workdir w = {.made = false};
    struct ig_gpg_status st;
    enum ig_sig_status verdict = IG_SIGV_ERROR;
    char keyring[4200], sigf[4200], dataf[4200];
    const char *prog = trust->gpgv && *trust->gpgv ? trust->gpgv : "gpgv";
    int data_fd = -1;
    int rc = workdir_make(&w);
    if (rc < 0)
        goto fail_errno;
    rc = write_keyring(&w, trust->key, trust->key_len, res);
    if (rc == -EINVAL)
        goto out;
    if (rc < 0)
        goto fail_errno;
    if ((rc = write_file(w.path, "sig", sig, sig_len)) < 0)
        goto fail_errno;
    snprintf(keyring, sizeof keyring, "%s/keyring.gpg", w.path);
    snprintf(sigf, sizeof sigf, "%s/sig", w.path);
    if (data->buf || data->fd < 0) {
        if ((rc = write_file(w.path, "data", data->buf ? data->buf : (const unsigned char *)"",
                             data->buf ? data->len : 0)) < 0)
            goto fail_errno;
        snprintf(dataf, sizeof dataf, "%s/data", w.path);
    } else {
        /* The file goes in as stdin ("-"): no path to trust or to race on. */
        if (lseek(data->fd, 0, SEEK_SET) < 0) {
            rc = -errno;
            goto fail_errno;
        }
        data_fd = data->fd;
        snprintf(dataf, sizeof dataf, "-");
    }
    rc = run_gpgv(prog, w.path, keyring, sigf, dataf, data_fd, &st);
    if (rc == -ENOENT) {
        setf(res->reason, sizeof res->reason,
             "cannot check the OpenPGP signature: %s is not installed (Debian package gpgv)", prog);
        goto out;
    }
    if (rc < 0)
        goto fail_errno;
    if (rc == 0 && st.goodsig > 0 && st.validsig > 0 && st.badsig == 0 && st.errsig == 0) {
        setf(res->signer, sizeof res->signer, "%s%s%s%s", st.fpr, st.uid[0] ? " (" : "", st.uid,
             st.uid[0] ? ")" : "");
        setf(res->reason, sizeof res->reason, "signature by key %s verified", res->signer);
        verdict = IG_SIGV_OK;
    } else if (st.badsig > 0) {
        setf(res->reason, sizeof res->reason, "bad OpenPGP signature from key %s%s%s%s", st.keyid,
             st.uid[0] ? " (" : "", st.uid, st.uid[0] ? ")" : "");
        verdict = IG_SIGV_BAD;
    } else if (st.no_pubkey || st.errsig > 0) {
        setf(res->reason, sizeof res->reason,
             "OpenPGP signature was made by key %s, which is not in the given keyring",
             st.keyid[0] ? st.keyid : "?");
        verdict = IG_SIGV_BAD;
    } else if (st.nodata) {
        setf(res->reason, sizeof res->reason, "malformed OpenPGP signature: no signature found");
        verdict = IG_SIGV_BAD;
    } else {
        setf(res->reason, sizeof res->reason,
             "OpenPGP signature not verified (gpgv exit status %d)", rc);
        verdict = IG_SIGV_BAD;
    }
    goto out;
fail_errno:
    setf(res->reason, sizeof res->reason, "cannot run gpgv: %s", strerror(-rc));
out:
    workdir_remove(&w);
    return verdict;
}
