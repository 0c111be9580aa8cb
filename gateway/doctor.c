/* `ferry doctor` (doctor.h): read-only checks of a deployment, each with a fix. */
#include "gateway/doctor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libssh/libssh.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/audit.h"
#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "gateway/limits.h"
#include "gateway/sandbox.h"
#include "gateway/statedb.h"
#include "gateway/statesync.h"
#include "gateway/users.h"

#define CMD "doctor"

void gw_doctor_init(struct gw_doctor_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->now = time(NULL);
    rep->uid = getuid();
}

void gw_doctor_add(struct gw_doctor_report *rep, enum gw_doctor_status st, const char *check,
                   const char *fix, const char *fmt, ...)
{
    if (rep->n >= GW_DOCTOR_MAX_ITEMS)
        return;
    struct gw_doctor_item *it = &rep->items[rep->n++];
    va_list ap;
    it->status = st;
    snprintf(it->check, sizeof it->check, "%s", check);
    snprintf(it->fix, sizeof it->fix, "%s", fix ? fix : "");
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof it->message, fmt, ap);
    va_end(ap);
}

size_t gw_doctor_count(const struct gw_doctor_report *rep, enum gw_doctor_status st)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n; i++)
        n += rep->items[i].status == st;
    return n;
}

/* ---- ports ---- */

/* Finds the process holding a listening TCP socket on port (via /proc/net/tcp{,6} and
 * /proc/PID/fd). Without root only one's own processes are visible: 0 then. */
static pid_t port_owner(int port, char *comm, size_t commsz)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    unsigned long inode = 0;
    char line[512], want[64];
    for (size_t t = 0; t < 2 && !inode; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f)
            continue;
        while (!inode && fgets(line, sizeof line, f)) {
            char local[128], state[8];
            unsigned long ino;
            /* sl local rem st tx:rx tr:when retr uid timeout inode */
            if (sscanf(line, " %*s %127s %*s %7s %*s %*s %*s %*s %*s %lu", local, state, &ino) != 3)
                continue;
            const char *colon = strrchr(local, ':');
            if (colon && strcmp(state, "0A") == 0 && strtol(colon + 1, NULL, 16) == port)
                inode = ino;
        }
        fclose(f);
    }
    if (!inode)
        return 0;
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (proc && !found && (e = readdir(proc))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char fddir[300], target[64];
        snprintf(fddir, sizeof fddir, "/proc/%s/fd", e->d_name);
        DIR *fds = opendir(fddir);
        struct dirent *fe;
        while (fds && !found && (fe = readdir(fds))) {
            ssize_t n = readlinkat(dirfd(fds), fe->d_name, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                if (strcmp(target, want) == 0)
                    found = (pid_t)strtol(e->d_name, NULL, 10);
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
    snprintf(comm, commsz, "?");
    if (found) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)found);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(comm, (int)commsz, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
    }
    return found;
}

/* Binds and listens like the server would; 0 or an errno value (gai: -1). */
static int try_bind(const char *host, int port, char *gai_msg, size_t gaisz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    int one = 1, zero = 0, rc = 0;
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(gai_msg, gaisz, "%s", gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = errno;
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1) != 0)
        rc = errno;
    close(fd);
out:
    freeaddrinfo(res);
    return rc;
}

void gw_doctor_check_ports(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    const struct {
        const char *key;
        int port;
    } ports[] = {
        {"ftp_port", cfg->ftp_port},         {"ftps_port", cfg->ftps_port},
        {"sftp_port", cfg->sftp_port},       {"https_port", cfg->https_port},
        {"metrics_port", cfg->metrics_port}, {"test_port", cfg->test_port},
    };
    char fix[512], gai[256], comm[64];
    size_t enabled = 0;
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        int port = ports[i].port;
        if (!port)
            continue;
        enabled++;
        int e = try_bind(cfg->listen, port, gai, sizeof gai);
        if (e == 0) {
            gw_doctor_add(rep, GW_DOCTOR_OK, "ports", NULL, "%s %d on %s is free", ports[i].key,
                          port, cfg->listen);
        } else if (e < 0) {
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports",
                          "set listen to an address of this host, 0.0.0.0 or ::",
                          "listen address %s: %s", cfg->listen, gai);
            return;
        } else if (e == EADDRINUSE) {
            pid_t pid = port_owner(port, comm, sizeof comm);
            if (pid && strncmp(comm, "ferry", 5) == 0) {
                gw_doctor_add(rep, GW_DOCTOR_OK, "ports", NULL,
                              "%s %d on %s is held by %s (pid %d): already serving", ports[i].key,
                              port, cfg->listen, comm, (int)pid);
            } else {
                snprintf(
                    fix, sizeof fix,
                    "stop what listens there (ss -ltnp 'sport = :%d') or set %s to a free port",
                    port, ports[i].key);
                if (pid)
                    gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports", fix,
                                  "%s %d on %s is in use by %s (pid %d)", ports[i].key, port,
                                  cfg->listen, comm, (int)pid);
                else
                    gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports", fix,
                                  "%s %d on %s is in use by another program", ports[i].key, port,
                                  cfg->listen);
            }
        } else if (e == EACCES) {
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports",
                          "start ferry serve as root, grant CAP_NET_BIND_SERVICE "
                          "(AmbientCapabilities= in ferry.service), or use a port above 1023",
                          "%s %d needs the privilege to bind ports below 1024", ports[i].key, port);
        } else if (e == EADDRNOTAVAIL) {
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports",
                          "set listen to an address of this host, 0.0.0.0 or ::",
                          "listen address %s is not an address of this host", cfg->listen);
            return;
        } else {
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "ports", "see the error; check the listen setting",
                          "%s %d on %s: %s", ports[i].key, port, cfg->listen, strerror(e));
        }
    }
    if (!enabled)
        gw_doctor_add(rep, GW_DOCTOR_WARN, "ports", "set ftp_port, sftp_port or https_port",
                      "no front end is enabled: ferry serve would serve nothing");
}

/* ---- state directory ---- */

static const char *user_name(uid_t uid, char *buf, size_t bufsz)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(buf, bufsz, "%s", pw->pw_name);
    else
        snprintf(buf, bufsz, "uid %u", (unsigned)uid);
    return buf;
}

void gw_doctor_check_state(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    struct stat st;
    char fix[GW_MAX_PATH + 128], owner[64], me[64];
    const char *dir = cfg->state;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) {
            snprintf(fix, sizeof fix, "start ferry serve once (it creates %s with mode 0700)", dir);
            gw_doctor_add(rep, GW_DOCTOR_WARN, "state", fix,
                          "state dir %s does not exist yet: no host key, certificate, users or "
                          "audit log to check",
                          dir);
        } else {
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "state", "check the permissions of its parents",
                          "state dir %s: %s", dir, strerror(errno));
        }
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state", "set state to a directory",
                      "state %s is not a directory", dir);
        return;
    }
    user_name(st.st_uid, owner, sizeof owner);
    user_name(rep->uid, me, sizeof me);
    if ((st.st_mode & 07777) != 0700) {
        snprintf(fix, sizeof fix, "chmod 700 %s", dir);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "state", fix,
                      "state dir %s has mode %04o, not 0700: keys and the users file are exposed "
                      "until ferry serve fixes it at start",
                      dir, (unsigned)(st.st_mode & 07777));
    }
    if (st.st_uid != rep->uid && rep->uid != 0) {
        snprintf(fix, sizeof fix, "run ferry serve (and doctor) as %s, or chown -R %s %s", owner,
                 me, dir);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state", fix,
                      "state dir %s belongs to %s, not to %s who runs this", dir, owner, me);
    } else if (access(dir, R_OK | W_OK | X_OK) != 0) {
        snprintf(fix, sizeof fix, "chmod u+rwx %s", dir);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state", fix, "state dir %s is not writable: %s", dir,
                      strerror(errno));
    } else {
        gw_doctor_add(rep, GW_DOCTOR_OK, "state", NULL, "state dir %s exists, owner %s%s", dir,
                      owner,
                      st.st_uid != rep->uid ? " (ferry serve must run as that user or root)" : "");
    }
}

/* ---- TLS certificate ---- */

/* Appends the certificate's DNS and IP subject alternative names to out, comma-separated. */
static void san_list(X509 *cert, char *out, size_t outsz)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t pos = 0;
    out[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && pos < outsz; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[INET6_ADDRSTRLEN + 8] = "";
        if (g->type == GEN_DNS) {
            const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
            snprintf(one, sizeof one, "%.*s", ASN1_STRING_length(g->d.dNSName), (const char *)d);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, d, one, sizeof one);
        }
        if (one[0])
            pos += (size_t)snprintf(out + pos, outsz - pos, "%s%s", pos ? ", " : "", one);
    }
    GENERAL_NAMES_free(names);
}

static bool wildcard_address(const char *listen)
{
    return strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ||
           strcmp(listen, "[::]") == 0;
}

static void check_cert_dates(X509 *cert, const char *cert_path, struct gw_doctor_report *rep)
{
    char fix[GW_MAX_PATH + 256], when[64] = "?";
    const ASN1_TIME *na = X509_get0_notAfter(cert), *nb = X509_get0_notBefore(cert);
    struct tm tm;
    if (ASN1_TIME_to_tm(na, &tm) == 1)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(fix, sizeof fix,
             "install a renewed certificate, or remove %s and its key to have ferry serve "
             "generate a new self-signed one",
             cert_path);
    time_t now = rep->now;
    if (X509_cmp_time(nb, &now) > 0) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls",
                      "check the system clock, or replace the certificate",
                      "certificate %s is not valid yet", cert_path);
        return;
    }
    int days = 0, secs = 0;
    ASN1_TIME *ref = ASN1_TIME_set(NULL, now);
    bool diff_ok = ref && ASN1_TIME_diff(&days, &secs, ref, na) == 1;
    ASN1_TIME_free(ref);
    if (!diff_ok || days < 0 || secs < 0 || (days == 0 && secs == 0))
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls", fix, "certificate %s expired on %s", cert_path,
                      when);
    else if (days < GW_DOCTOR_CERT_WARN_DAYS)
        gw_doctor_add(rep, GW_DOCTOR_WARN, "tls", fix, "certificate %s expires in %d days (%s)",
                      cert_path, days, when);
    else
        gw_doctor_add(rep, GW_DOCTOR_OK, "tls", NULL, "certificate %s valid until %s (%d days)",
                      cert_path, when, days);
}

void gw_doctor_check_tls(const char *cert_path, const char *key_path, const char *listen,
                         struct gw_doctor_report *rep)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = NULL;
    struct stat st;
    char fix[GW_MAX_PATH * 2 + 128], sans[512];
    bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
    if (!have_cert && !have_key) {
        gw_doctor_add(rep, GW_DOCTOR_WARN, "tls",
                      "start ferry serve once, or install a certificate there",
                      "no TLS certificate yet (%s): ferry serve generates a self-signed one on "
                      "first start",
                      cert_path);
        return;
    }
    if (have_cert != have_key) {
        snprintf(fix, sizeof fix, "restore %s, or remove %s to have both regenerated",
                 have_cert ? key_path : cert_path, have_cert ? cert_path : key_path);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls", fix,
                      "%s exists without %s: ferry serve refuses to start",
                      have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        return;
    }
    f = fopen(cert_path, "r");
    cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!cert) {
        snprintf(fix, sizeof fix, "replace %s with a PEM certificate (or remove it and its key)",
                 cert_path);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls", fix, "%s is not a readable PEM certificate",
                      cert_path);
        goto out;
    }
    f = fopen(key_path, "r");
    key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!key) {
        snprintf(fix, sizeof fix, "replace %s with the certificate's unencrypted PEM key",
                 key_path);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls", fix, "%s is not a readable PEM private key",
                      key_path);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(fix, sizeof fix,
                 "install the matching key, or remove %s and %s to regenerate both", cert_path,
                 key_path);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "tls", fix, "%s does not match the certificate %s",
                      key_path, cert_path);
        goto out;
    }
    if (stat(key_path, &st) == 0 && (st.st_mode & 077)) {
        snprintf(fix, sizeof fix, "chmod 600 %s", key_path);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "tls", fix,
                      "private key %s has mode %04o: others can read it", key_path,
                      (unsigned)(st.st_mode & 07777));
    }
    check_cert_dates(cert, cert_path, rep);
    san_list(cert, sans, sizeof sans);
    if (wildcard_address(listen)) {
        gw_doctor_add(rep, GW_DOCTOR_OK, "tls", NULL,
                      "certificate names %s (listening on every address: clients must use one "
                      "of these names)",
                      sans[0] ? sans : "nothing");
    } else if (X509_check_ip_asc(cert, listen, 0) == 1 ||
               X509_check_host(cert, listen, 0, 0, NULL) == 1) {
        gw_doctor_add(rep, GW_DOCTOR_OK, "tls", NULL,
                      "certificate names the listen address %s (%s)", listen, sans);
    } else {
        snprintf(fix, sizeof fix,
                 "install a certificate for %s, or remove %s and %s to have ferry serve generate "
                 "one for it",
                 listen, cert_path, key_path);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "tls", fix,
                      "certificate names %s but not the listen address %s: clients that verify "
                      "it will refuse to connect",
                      sans[0] ? sans : "nothing", listen);
    }
out:
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* ---- SSH host key ---- */

void gw_doctor_check_host_key(const char *path, struct gw_doctor_report *rep)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char fix[GW_MAX_PATH + 64];
    struct stat st;
    if (stat(path, &st) != 0) {
        gw_doctor_add(rep, GW_DOCTOR_WARN, "host-key", "start ferry serve once",
                      "no SSH host key yet (%s): ferry serve generates an Ed25519 key on first "
                      "start",
                      path);
        return;
    }
    if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
        snprintf(fix, sizeof fix,
                 "restore it from a backup (clients remember it), or remove it to have a new one "
                 "generated");
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "host-key", fix,
                      "%s is not a loadable unencrypted OpenSSH private key", path);
        return;
    }
    if (st.st_mode & 077) {
        snprintf(fix, sizeof fix, "chmod 600 %s", path);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "host-key", fix,
                      "host key %s has mode %04o: others can read it", path,
                      (unsigned)(st.st_mode & 07777));
    }
    char *fp = NULL;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0)
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    gw_doctor_add(rep, GW_DOCTOR_OK, "host-key", NULL, "host key %s: %s %s", path,
                  ssh_key_type_to_char(ssh_key_type(key)), fp ? fp : "");
    if (fp)
        ssh_string_free_char(fp);
    if (hash)
        ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
}

/* ---- users ---- */

void gw_doctor_check_users(const char *path, struct gw_doctor_report *rep)
{
    struct auth_db db = {0};
    struct stat st;
    char err[512], fix[GW_MAX_PATH + 64];
    if (stat(path, &st) != 0) {
        gw_doctor_add(rep, GW_DOCTOR_WARN, "users",
                      "start ferry serve once, or: ferry user add NAME",
                      "no users file yet (%s): first start creates the user admin", path);
        return;
    }
    if (auth_db_load(path, &db, err, sizeof err) != 0) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "users",
                      "correct that line (NAME:HASH:HOME:FLAGS:KEYS, see ferry(1)); logins fail "
                      "until it parses",
                      "%s", err);
        return;
    }
    size_t keys = 0;
    for (size_t i = 0; i < db.nusers; i++)
        keys += db.users[i].nkeys > 0;
    if (db.nusers == 0)
        gw_doctor_add(rep, GW_DOCTOR_WARN, "users", "ferry user add NAME",
                      "%s has no users: nobody can log in", path);
    else
        gw_doctor_add(rep, GW_DOCTOR_OK, "users", NULL, "%s: %zu user(s), %zu with public keys",
                      path, db.nusers, keys);
    if (st.st_mode & 077) {
        snprintf(fix, sizeof fix, "chmod 600 %s", path);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "users", fix,
                      "%s has mode %04o: others can read the password hashes", path,
                      (unsigned)(st.st_mode & 07777));
    }
    auth_db_free(&db);
}

/* ---- data root and run_as ---- */

/* Whether uid/gid (switched to exactly as the server's sessions do) may create files in
 * dir. Needs root; -1 when the check could not run. */
static int writable_as(const char *dir, uid_t uid, gid_t gid)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(2);
        _exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
        return -1;
    return WEXITSTATUS(status) == 0;
}

void gw_doctor_check_root(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    struct stat st;
    char fix[GW_MAX_PATH + 128];
    const char *root = cfg->root;
    bool exists = stat(root, &st) == 0;
    if (!exists && errno != ENOENT) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "root", "check the permissions of its parents",
                      "data root %s: %s", root, strerror(errno));
        return;
    }
    if (exists && !S_ISDIR(st.st_mode)) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "root", "set root to a directory",
                      "data root %s is not a directory", root);
        return;
    }
    if (!exists)
        gw_doctor_add(rep, GW_DOCTOR_WARN, "root", "start ferry serve once, or mkdir it",
                      "data root %s does not exist yet (ferry serve creates it)", root);
    if (!cfg->run_as[0]) {
        if (rep->uid == 0)
            gw_doctor_add(rep, GW_DOCTOR_WARN, "run_as",
                          "set run_as = ferry (a system user owning the root), or run ferry "
                          "serve as that user (systemd User=)",
                          "sessions would run as root: a compromised session owns the host");
        if (exists && access(root, W_OK | X_OK) != 0) {
            snprintf(fix, sizeof fix,
                     "chown the root to the user that runs ferry serve: chown -R "
                     "$(id -un) %s",
                     root);
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "root", fix, "data root %s is not writable: %s",
                          root, strerror(errno));
        } else if (exists) {
            gw_doctor_add(rep, GW_DOCTOR_OK, "root", NULL, "data root %s is writable", root);
        }
        return;
    }
    struct passwd *pw = getpwnam(cfg->run_as);
    if (!pw) {
        snprintf(fix, sizeof fix, "adduser --system --group --no-create-home %s, or correct run_as",
                 cfg->run_as);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "run_as", fix, "run_as user '%s' does not exist",
                      cfg->run_as);
        return;
    }
    uid_t ruid = pw->pw_uid;
    gid_t rgid = pw->pw_gid;
    if (rep->uid != 0) {
        gw_doctor_add(rep, GW_DOCTOR_WARN, "run_as",
                      "run ferry doctor as root to check it; ferry serve must start as root for "
                      "run_as to work",
                      "run_as %s exists (uid %u), but only root can switch to it or check what it "
                      "can write",
                      cfg->run_as, (unsigned)ruid);
        return;
    }
    gw_doctor_add(rep, GW_DOCTOR_OK, "run_as", NULL, "run_as user %s exists (uid %u)", cfg->run_as,
                  (unsigned)ruid);
    struct stat sst;
    if (stat(cfg->state, &sst) == 0 && sst.st_uid == ruid && ruid != rep->uid) {
        snprintf(fix, sizeof fix, "chown -R root %s (the state belongs to the parent process)",
                 cfg->state);
        gw_doctor_add(rep, GW_DOCTOR_WARN, "run_as", fix,
                      "the state dir belongs to the run_as user %s: a compromised session could "
                      "edit users and the audit log",
                      cfg->run_as);
    }
    if (!exists)
        return;
    int w = writable_as(root, ruid, rgid);
    snprintf(fix, sizeof fix, "chown -R %s: %s", cfg->run_as, root);
    if (w == 1)
        gw_doctor_add(rep, GW_DOCTOR_OK, "root", NULL, "data root %s is writable by %s", root,
                      cfg->run_as);
    else if (w == 0)
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "root", fix,
                      "data root %s is not writable by run_as user %s: uploads will fail", root,
                      cfg->run_as);
    else
        gw_doctor_add(rep, GW_DOCTOR_WARN, "root", NULL, "could not check whether %s can write %s",
                      cfg->run_as, root);
}

/* ---- audit log ---- */

void gw_doctor_check_audit(const char *path, const char *key_path, struct gw_doctor_report *rep)
{
    unsigned char *key = NULL;
    size_t keylen = 0, n = 0, bad = 0;
    char **files = NULL;
    char fix[GW_MAX_PATH + 128];
    struct audit_verify_result res;
    if (key_path && key_path[0]) {
        int krc = audit_key_load(key_path, &key, &keylen);
        if (krc != 0) {
            snprintf(fix, sizeof fix, "make %s hold %d to %d bytes (openssl rand -hex 32 > FILE)",
                     key_path, AUDIT_MIN_KEY, AUDIT_MAX_KEY);
            gw_doctor_add(rep, GW_DOCTOR_FAIL, "audit", fix, "audit_key %s: %s", key_path,
                          gw_strerror(krc));
            return;
        }
    }
    int rc = audit_files(path, &files, &n);
    if (rc == GW_ERR_NOENT) {
        gw_doctor_add(rep, GW_DOCTOR_OK, "audit", NULL, "no audit log yet (%s)", path);
        goto out;
    }
    if (rc == 0)
        rc = audit_verify_files(files, n, key, keylen, &res, &bad);
    if (rc != 0) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "audit", "check the file's permissions",
                      "cannot read the audit log %s: %s", bad < n ? files[bad] : path,
                      gw_strerror(rc));
    } else if (res.verdict != AUDIT_INTACT) {
        snprintf(fix, sizeof fix,
                 "keep a copy for investigation; 'ferry audit verify --log %s' names the line",
                 path);
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "audit", fix, "audit log %s: %s",
                      bad < n ? files[bad] : path, res.reason);
    } else {
        gw_doctor_add(rep, GW_DOCTOR_OK, "audit", NULL,
                      "audit log %s: %llu record(s) in %zu file(s), hash chain intact%s", path,
                      (unsigned long long)res.records, n, key ? " (keyed)" : "");
    }
out:
    if (files)
        audit_files_free(files);
    if (key)
        audit_key_free(key, keylen);
}

/* ---- state database ---- */

/* state_db: reachable, at this binary's schema version, and no audit records left
 * waiting in the spill file by a stop while it was away. */
static void check_state_db(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    char err[512] = "", red[512], url[2048], spill[GW_MAX_PATH];
    struct gw_statedb *db = NULL;
    struct stat st;
    int version = 0;
    gw_statedb_redact(cfg->state_db, red, sizeof red);
    int rc = gw_statesync_conninfo(cfg->state_db, url, sizeof url);
    if (rc == 0)
        rc = gw_statedb_open(url, &db, err, sizeof err);
    if (rc == 0)
        rc = gw_statedb_version(db, &version, err, sizeof err);
    gw_statedb_close(db);
    explicit_bzero(url, sizeof url);
    if (rc == GW_ERR_IO)
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state-db",
                      "start PostgreSQL or fix state_db (host, port, password, pg_hba.conf)",
                      "state_db %s unreachable: %s (ferry serve refuses logins until it is back)",
                      red, err);
    else if (rc < 0)
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state-db", "check the database and the role's rights",
                      "state_db %s: %s", red, err[0] ? err : gw_strerror(rc));
    else if (version != GW_STATEDB_SCHEMA)
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "state-db", "run `ferry db migrate`",
                      "state_db %s: schema version %d, this ferry needs %d", red, version,
                      GW_STATEDB_SCHEMA);
    else
        gw_doctor_add(rep, GW_DOCTOR_OK, "state-db", NULL, "state_db %s: reachable, schema %d", red,
                      version);
    snprintf(spill, sizeof spill, "%s/%s", cfg->state, GW_STATESYNC_SPILL);
    if (stat(spill, &st) == 0 && st.st_size > 0)
        gw_doctor_add(rep, GW_DOCTOR_WARN, "state-db",
                      "start ferry serve with the database reachable: it writes them first",
                      "%s holds %lld bytes of audit records not yet in the database", spill,
                      (long long)st.st_size);
}

/* ---- kernel ---- */

void gw_doctor_check_kernel(struct gw_doctor_report *rep)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    long fd = dfd >= 0 ? syscall(SYS_openat2, dfd, ".", &how, sizeof how) : -1;
    int e = errno;
    if (fd >= 0) {
        close((int)fd);
        gw_doctor_add(rep, GW_DOCTOR_OK, "kernel", NULL,
                      "openat2(RESOLVE_BENEATH) available: the kernel confines every path");
    } else {
        gw_doctor_add(rep, GW_DOCTOR_WARN, "kernel",
                      "use Linux 5.6 or later, or allow openat2 in the container's seccomp "
                      "profile",
                      "openat2 unavailable (%s): paths are confined by a slower walk, one "
                      "openat per component",
                      strerror(e));
    }
    if (dfd >= 0)
        close(dfd);
#ifdef OPENSSL_NO_KTLS
    gw_doctor_add(rep, GW_DOCTOR_WARN, "kernel", "use an OpenSSL built with kTLS",
                  "this OpenSSL has no kernel TLS: WebDAV downloads are encrypted in user space");
#else
    bool ktls = access("/sys/module/tls", F_OK) == 0;
    FILE *f = ktls ? NULL : fopen("/proc/modules", "r");
    char line[256];
    while (f && !ktls && fgets(line, sizeof line, f))
        ktls = strncmp(line, "tls ", 4) == 0;
    if (f)
        fclose(f);
    if (ktls)
        gw_doctor_add(rep, GW_DOCTOR_OK, "kernel", NULL,
                      "kernel TLS (tls module) loaded: WebDAV downloads use sendfile");
    else
        gw_doctor_add(rep, GW_DOCTOR_WARN, "kernel",
                      "modprobe tls, and list it in /etc/modules-load.d/ferry.conf",
                      "kernel TLS module not loaded: WebDAV downloads are encrypted in user "
                      "space (slower)");
#endif
}

/* ---- session sandbox ---- */

void gw_doctor_check_sandbox(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    char what[256];
    gw_sandbox_status(cfg, what, sizeof what);
    /* Both layers present reads "seccomp filter, Landlock ABI N (...)". */
    bool full = strncmp(what, "seccomp filter,", 15) == 0 && strstr(what, ", Landlock ABI");
    if (full)
        gw_doctor_add(rep, GW_DOCTOR_OK, "sandbox", NULL, "sessions run under %s", what);
    else
        gw_doctor_add(rep, GW_DOCTOR_WARN, "sandbox",
                      cfg->sandbox ? "use Linux 5.19 or later with Landlock enabled (lsm=...,landlock)"
                                   : "set sandbox = yes",
                      "sessions are not fully sandboxed: %s", what);
}

/* ---- everything ---- */

void gw_doctor_run(const struct gw_config *cfg, struct gw_doctor_report *rep)
{
    char path[GW_MAX_PATH], key[GW_MAX_PATH];
    struct stat st;
    gw_doctor_check_ports(cfg, rep);
    gw_doctor_check_state(cfg, rep);
    if (stat(cfg->state, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (cfg->ftp_port || cfg->ftps_port || cfg->https_port) {
            snprintf(path, sizeof path, "%s/tls.crt", cfg->state);
            snprintf(key, sizeof key, "%s/tls.key", cfg->state);
            gw_doctor_check_tls(path, key, cfg->listen, rep);
        }
        if (cfg->sftp_port) {
            snprintf(path, sizeof path, "%s/ssh_host_ed25519_key", cfg->state);
            gw_doctor_check_host_key(path, rep);
        }
        /* With state_db the users and the audit log are in the database. */
        snprintf(path, sizeof path, "%s/users", cfg->state);
        if (!cfg->state_db[0])
            gw_doctor_check_users(path, rep);
        snprintf(path, sizeof path, "%s/audit.jsonl", cfg->state);
        if (!cfg->state_db[0])
            gw_doctor_check_audit(path, cfg->audit_key, rep);
    }
    if (cfg->state_db[0])
        check_state_db(cfg, rep);
    gw_doctor_check_root(cfg, rep);
    gw_doctor_check_kernel(rep);
    gw_doctor_check_sandbox(cfg, rep);
}

static const char *status_name(enum gw_doctor_status st, bool lower)
{
    switch (st) {
    case GW_DOCTOR_OK:
        return lower ? "ok" : "OK";
    case GW_DOCTOR_WARN:
        return lower ? "warn" : "WARN";
    case GW_DOCTOR_FAIL:
        return lower ? "fail" : "FAIL";
    }
    return "?";
}

void gw_doctor_print(const struct gw_doctor_report *rep, bool json, FILE *out)
{
    size_t ok = gw_doctor_count(rep, GW_DOCTOR_OK), warn = gw_doctor_count(rep, GW_DOCTOR_WARN),
           fail = gw_doctor_count(rep, GW_DOCTOR_FAIL);
    if (!json) {
        for (size_t i = 0; i < rep->n; i++) {
            const struct gw_doctor_item *it = &rep->items[i];
            fprintf(out, "%-5s %-9s %s\n", status_name(it->status, false), it->check, it->message);
            if (it->fix[0])
                fprintf(out, "%-15s fix: %s\n", "", it->fix);
        }
        fprintf(out, "%zu ok, %zu warning(s), %zu failure(s)\n", ok, warn, fail);
        return;
    }
    struct gw_buf b;
    gw_buf_init(&b, 1u << 20);
    gw_buf_puts(&b, "{\"checks\":[");
    for (size_t i = 0; i < rep->n; i++) {
        const struct gw_doctor_item *it = &rep->items[i];
        bool first = true;
        gw_buf_puts(&b, i ? ",{" : "{");
        gw_json_key(&b, &first, "check");
        gw_json_cstr(&b, it->check);
        gw_json_key(&b, &first, "status");
        gw_json_cstr(&b, status_name(it->status, true));
        gw_json_key(&b, &first, "message");
        gw_json_cstr(&b, it->message);
        gw_json_key(&b, &first, "fix");
        gw_json_cstr(&b, it->fix[0] ? it->fix : NULL);
        gw_buf_putc(&b, '}');
    }
    gw_buf_printf(&b, "],\"ok\":%zu,\"warn\":%zu,\"fail\":%zu}\n", ok, warn, fail);
    fputs(gw_buf_str(&b), out);
    gw_buf_free(&b);
}

/* ---- the command ---- */

static const char usage[] =
    "Usage: ferry doctor [--config FILE] [--state DIR] [--root DIR] [--set KEY=VALUE]... "
    "[--json]\n"
    "Check a deployment of ferry serve and say what to fix. Nothing is changed.\n"
    "\n"
    "  --config FILE     the configuration ferry serve uses (default: embedded defaults)\n"
    "  --state DIR       state dir (overrides the config's state)\n"
    "  --root DIR        data root (overrides the config's root)\n"
    "  --set KEY=VALUE   any [server] setting, as for ferry serve\n"
    "  --json            one JSON object instead of text\n"
    "  --help            show this help\n"
    "\n"
    "Checks: configuration, ports free (bind test on the listen address; a port held by a\n"
    "running ferry is fine), state dir (exists, mode 0700, owner), TLS certificate\n"
    "(parses, matches its key, expiry: warning under 30 days, SAN covers the listen\n"
    "address), SSH host key, users file, run_as user and the root writable by it, audit\n"
    "log hash chain, kernel features (openat2, kTLS). Run it as the user that runs ferry\n"
    "serve, or as root.\n"
    "Exit status: 0 no failures (warnings allowed), 1 some check failed, 2 usage error.\n";

enum { O_CONFIG = 256, O_STATE, O_ROOT, O_SET, O_JSON, O_HELP };

int gw_cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"state", required_argument, NULL, O_STATE},
        {"root", required_argument, NULL, O_ROOT},
        {"set", required_argument, NULL, O_SET},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct gw_config cfg;
    struct gw_doctor_report *rep = NULL;
    const char *config_path = NULL, *sets[32];
    const char *state = NULL, *root = NULL;
    size_t nsets = 0;
    bool json = false;
    char err[1024];
    int o, status = GW_EXIT_USAGE;
    cfg_defaults(&cfg);
    optind = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_CONFIG:
            config_path = optarg;
            break;
        case O_STATE:
            state = optarg;
            break;
        case O_ROOT:
            root = optarg;
            break;
        case O_JSON:
            json = true;
            break;
        case O_SET:
            if (nsets == sizeof sets / sizeof sets[0]) {
                status = gw_usage_error(CMD, "too many --set options");
                goto out;
            }
            sets[nsets++] = optarg;
            break;
        case 'h':
        case O_HELP:
            fputs(usage, stdout);
            status = GW_EXIT_OK;
            goto out;
        case ':':
            status = gw_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
            goto out;
        default:
            status = gw_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        status = gw_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    rep = malloc(sizeof *rep);
    if (!rep) {
        gw_errorf(CMD, "out of memory");
        status = GW_EXIT_SOME_FAILED;
        goto out;
    }
    gw_doctor_init(rep);
    status = GW_EXIT_SOME_FAILED;
    if (config_path && cfg_load(&cfg, config_path, err, sizeof err) != 0) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "config", "correct the file; ferry serve refuses it too",
                      "%s", err);
        goto print;
    }
    for (size_t i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        char kbuf[64];
        if (!eq || (size_t)(eq - sets[i]) >= sizeof kbuf) {
            status = gw_usage_error(CMD, "--set wants KEY=VALUE, got '%s'", sets[i]);
            goto out;
        }
        memcpy(kbuf, sets[i], (size_t)(eq - sets[i]));
        kbuf[eq - sets[i]] = '\0';
        if (cfg_set(&cfg, kbuf, eq + 1, err, sizeof err) != 0) {
            status = gw_usage_error(CMD, "%s", err);
            goto out;
        }
    }
    if ((state && cfg_set(&cfg, "state", state, err, sizeof err) != 0) ||
        (root && cfg_set(&cfg, "root", root, err, sizeof err) != 0)) {
        status = gw_usage_error(CMD, "%s", err);
        goto out;
    }
    if (cfg_validate(&cfg, err, sizeof err) != 0) {
        gw_doctor_add(rep, GW_DOCTOR_FAIL, "config", "correct the configuration", "%s%s%s",
                      config_path ? config_path : "", config_path ? ": " : "", err);
        goto print;
    }
    gw_doctor_add(rep, GW_DOCTOR_OK, "config", NULL, "%s: valid (%zu mount(s))",
                  config_path ? config_path : "embedded defaults", cfg.nmounts);
    gw_doctor_run(&cfg, rep);
print:
    gw_doctor_print(rep, json, stdout);
    fflush(stdout);
    status = gw_doctor_count(rep, GW_DOCTOR_FAIL) ? GW_EXIT_SOME_FAILED : GW_EXIT_OK;
out:
    free(rep);
    cfg_free(&cfg);
    return status;
}
