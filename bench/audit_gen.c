/* Writes a synthetic, chained Ferry audit log for bench/audit.sh: realistic records
 * (logins, transfers with resumes and hashes, renames, failures; 64 users, 4 protocols)
 * in the writer's exact form, hashed with OpenSSL's SHA-256 independently of
 * gateway/audit.c, so `ferry audit verify` must find the result intact. With KEYFILE
 * the chain is keyed (HMAC-SHA256 with the file's bytes minus one trailing newline, as
 * `audit_key = FILE` reads it), for `ferry audit verify --key KEYFILE`.
 *   audit_gen OUT MEGABYTES [SEED [KEYFILE]]
 * Built by bench/audit.sh: cc -O2 bench/audit_gen.c -lcrypto. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static uint64_t rng_state = 88172645463325252u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static void hex(const unsigned char *raw, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[raw[i] >> 4];
        out[2 * i + 1] = d[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

static void ts(int64_t ms, char out[80])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int main(int argc, char **argv)
{
    static const char *const protos[] = {"ftp", "ftps", "sftp", "webdav"};
    static const char *const dirs[] = {
        "/in", "/out", "/pub/releases", "/home/reports/2026", "/archive/q3", "/data/exports/daily"};
    static const char *const exts[] = {".csv", ".zip", ".tar.gz", ".pdf", ".xml", ".iso"};
    if (argc < 3) {
        fprintf(stderr, "usage: audit_gen OUT MEGABYTES [SEED [KEYFILE]]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    uint64_t limit = strtoull(argv[2], NULL, 10) * 1000000u;
    if (argc > 3)
        rng_state ^= strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15u;
    unsigned char key[1024];
    size_t keylen = 0;
    if (argc > 4) {
        FILE *kf = fopen(argv[4], "rb");
        if (!kf) {
            perror(argv[4]);
            return 1;
        }
        keylen = fread(key, 1, sizeof key, kf);
        fclose(kf);
        if (keylen > 0 && key[keylen - 1] == '\n')
            keylen--;
        if (keylen > 0 && key[keylen - 1] == '\r')
            keylen--;
        if (keylen < 16) {
            fprintf(stderr, "%s: key too short\n", argv[4]);
            return 1;
        }
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    unsigned char prev[32] = {0}, h[32];
    char prevhex[65], hashhex[65], tsb[80], line[2048], sha[65];
    unsigned char msg[2048 + 33];
    int64_t now = INT64_C(1790000000000);
    uint64_t written = 0;
    while (written < limit) {
        now += 1 + pick(2000);
        ts(now, tsb);
        unsigned u = pick(64), r = pick(100);
        const char *proto = protos[pick(4)];
        char session[17], user[16], remote[48], path[160];
        snprintf(session, sizeof session, "%016" PRIx64, rnd());
        snprintf(user, sizeof user, "user%02u", u);
        if (u % 5 == 0)
            snprintf(remote, sizeof remote, "[2001:db8::%x]:%u", u, 1024 + pick(60000));
        else
            snprintf(remote, sizeof remote, "10.%u.%u.%u:%u", u, pick(256), 1 + pick(254),
                     1024 + pick(60000));
        snprintf(path, sizeof path, "%s/%s-%06u%s", dirs[pick(6)], u % 3 ? "batch" : "report",
                 pick(1000000), exts[pick(6)]);
        hex(prev, 32, prevhex);
        int n;
        if (r < 10) {
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"login\",\"proto\":\"%s\",\"session\":\"%s\","
                         "\"user\":\"%s\",\"remote\":\"%s\",\"status\":\"ok\",\"prev\":\"%s\"",
                         tsb, proto, session, user, remote, prevhex);
        } else if (r < 12) {
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"login_failed\",\"proto\":\"%s\","
                         "\"session\":\"%s\",\"user\":\"%s\",\"remote\":\"%s\","
                         "\"status\":\"failed\",\"error\":\"bad password\",\"prev\":\"%s\"",
                         tsb, proto, session, user, remote, prevhex);
        } else if (r < 90) {
            int up = r < 45;
            int64_t size = (int64_t)(rnd() % 5000000000u);
            int64_t off = pick(10) == 0 ? size / 2 : 0;
            unsigned st = pick(50);
            const char *status = st == 0 ? "failed" : st == 1 ? "aborted" : "ok";
            int64_t bytes = st < 2 ? (size - off) / 3 : size - off;
            unsigned char shraw[32];
            for (int k = 0; k < 32; k++)
                shraw[k] = (unsigned char)rnd();
            hex(shraw, 32, sha);
            /* finished transfers carry the file's hash, the others an error */
            char tail[160];
            if (st < 2)
                snprintf(tail, sizeof tail, "\"error\":\"connection reset by peer\"");
            else
                snprintf(tail, sizeof tail, "\"sha256\":\"%s\"", sha);
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"%s\",\"proto\":\"%s\",\"session\":\"%s\","
                         "\"user\":\"%s\",\"remote\":\"%s\",\"path\":\"%s\",\"bytes\":%" PRId64
                         ",\"offset\":%" PRId64 ",\"size\":%" PRId64
                         ",\"duration_ms\":%u,\"status\":\"%s\",%s,\"prev\":\"%s\"",
                         tsb, up ? "upload" : "download", proto, session, user, remote, path, bytes,
                         off, size, pick(600000), status, tail, prevhex);
        } else if (r < 93) {
            char path2[170];
            snprintf(path2, sizeof path2, "%s.done", path);
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"rename\",\"proto\":\"%s\",\"session\":\"%s\","
                         "\"user\":\"%s\",\"remote\":\"%s\",\"path\":\"%s\",\"path2\":\"%s\","
                         "\"status\":\"ok\",\"prev\":\"%s\"",
                         tsb, proto, session, user, remote, path, path2, prevhex);
        } else if (r < 95) {
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"delete\",\"proto\":\"%s\",\"session\":\"%s\","
                         "\"user\":\"%s\",\"remote\":\"%s\",\"path\":\"%s\",\"status\":\"ok\","
                         "\"prev\":\"%s\"",
                         tsb, proto, session, user, remote, path, prevhex);
        } else {
            n = snprintf(line, sizeof line,
                         "{\"ts\":\"%s\",\"event\":\"logout\",\"proto\":\"%s\",\"session\":\"%s\","
                         "\"user\":\"%s\",\"remote\":\"%s\",\"status\":\"ok\",\"prev\":\"%s\"",
                         tsb, proto, session, user, remote, prevhex);
        }
        /* hash = SHA-256 (or HMAC) of prev's raw bytes || the line so far || "}" */
        memcpy(msg, prev, 32);
        memcpy(msg + 32, line, (size_t)n);
        msg[32 + n] = '}';
        if (keylen > 0)
            HMAC(EVP_sha256(), key, (int)keylen, msg, 32 + (size_t)n + 1, h, NULL);
        else
            SHA256(msg, 32 + (size_t)n + 1, h);
        hex(h, 32, hashhex);
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"hash\":\"%s\"}\n", hashhex);
        fwrite(line, 1, (size_t)n, out);
        written += (uint64_t)n;
        memcpy(prev, h, 32);
    }
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
