/* `ferry hash` and `ferry verify`: thin command-line layers over integrity/ (see
 * cmd_integrity.h). Output of `ferry hash` is byte-identical to coreutils' sha256sum,
 * sha512sum, sha1sum, md5sum and b2sum, escaping included. */
#include "gateway/cmd_integrity.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/buf.h"
#include "gateway/cli.h"
#include "gateway/err.h"
#include "gateway/json.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"
#include "integrity/sigfile.h"
#include "integrity/verify.h"

/* Reads a whole file of at most max bytes into b. 0, -errno, or -EFBIG. */
static int read_file(const char *path, size_t max, struct gw_buf *b)
{
    char chunk[65536];
    int rc = 0;
    gw_buf_init(b, max);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        int err = gw_buf_append(b, chunk, (size_t)n);
        if (err < 0) {
            rc = err == GW_ERR_LIMIT ? -EFBIG : -ENOMEM;
            break;
        }
    }
    close(fd);
    return rc;
}

static const char *read_error(int rc)
{
    return rc == -EFBIG ? "file too large" : strerror(-rc);
}

/* ---- ferry hash ---------------------------------------------------------------- */

static void hash_usage(void)
{
    printf("Usage: ferry hash [--algo ALGO] [--tag] [--binary] [FILE]...\n"
           "       ferry hash --check [--algo ALGO] [--quiet] SUMSFILE...\n"
           "Print or check message digests, exactly like sha256sum and friends.\n"
           "With no FILE, or when FILE is -, read standard input.\n\n"
           "  -a, --algo ALGO  sha256 (default), sha512, sha1, md5, blake2b (b2sum),\n"
           "                   sha224, sha384\n"
           "      --tag        BSD-style lines: SHA256 (name) = digest\n"
           "  -b, --binary     mark lines with '*' (binary mode, as sha256sum -b)\n"
           "  -c, --check      read digests from SUMSFILEs (GNU or BSD format) and check them\n"
           "      --quiet      with --check: print nothing for files that match\n"
           "  -h, --help       this text\n\n"
           "Exit status: 0 ok, 1 a file could not be read, 3 (--check) a digest did not\n"
           "match, 2 usage error.\n");
}

static bool needs_escape(const char *s)
{
    return strpbrk(s, "\\\n\r") != NULL;
}

/* coreutils' escaping: the caller prints a leading backslash when needs_escape(). */
static void put_name(const char *s, bool escape)
{
    if (!escape) {
        fputs(s, stdout);
        return;
    }
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", stdout);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\r')
            fputs("\\r", stdout);
        else
            putchar(*s);
    }
}

static void print_sum(enum ig_algo a, const unsigned char *d, const char *name, bool tag,
                      bool binary)
{
    char hex[IG_MAX_HEX];
    bool esc = needs_escape(name);
    ig_hex_encode(d, ig_algo_len(a), hex);
    if (esc)
        putchar('\\');
    if (tag) {
        printf("%s (", ig_algo_tag(a));
        put_name(name, esc);
        printf(") = %s\n", hex);
    } else {
        printf("%s %c", hex, binary ? '*' : ' ');
        put_name(name, esc);
        putchar('\n');
    }
}

/* Hashes one file ("-": stdin). Returns 0, or -errno after printing the error. */
static int hash_one(const char *cmd, const char *name, unsigned mask, struct ig_digests *dg)
{
    bool is_stdin = strcmp(name, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int rc = fd < 0 ? -errno : ig_hash_fd(fd, mask, dg);
    if (fd >= 0 && !is_stdin)
        close(fd);
    if (rc < 0) {
        fflush(stdout); /* keep the error after the lines before it, as coreutils does */
        gw_errorf(cmd, "%s: %s", name, strerror(-rc));
    }
    return rc;
}

/* Tallies of a --check run. */
struct check_counts {
    unsigned mismatched, unreadable, malformed;
};

/* Prints "name: RESULT" as coreutils' --check does (escaped only for a newline). */
static void check_line(const char *name, const char *result)
{
    bool esc = strchr(name, '\n') != NULL;
    if (esc)
        putchar('\\');
    put_name(name, esc);
    printf(": %s\n", result);
}

static void check_entry(const char *cmd, const struct ig_manifest_entry *en, bool quiet,
                        struct check_counts *c)
{
    struct ig_digests dg;
    unsigned mask = IG_ALGO_BIT(en->algo) | (en->maybe_blake2b ? IG_ALGO_BIT(IG_ALGO_BLAKE2B) : 0);
    if (en->name_len == 0) {
        c->malformed++; /* a bare digest names no file to check */
        return;
    }
    if (hash_one(cmd, en->name, mask, &dg) < 0) {
        c->unreadable++;
        check_line(en->name, "FAILED open or read");
        return;
    }
    bool ok = memcmp(dg.d[en->algo], en->digest, ig_algo_len(en->algo)) == 0 ||
              (en->maybe_blake2b && memcmp(dg.d[IG_ALGO_BLAKE2B], en->digest, IG_MAX_DIGEST) == 0);
    if (!ok)
        c->mismatched++;
    if (!ok || !quiet)
        check_line(en->name, ok ? "OK" : "FAILED");
}

static int by_line(const void *a, const void *b)
{
    const struct ig_manifest_entry *x = *(const struct ig_manifest_entry *const *)a;
    const struct ig_manifest_entry *y = *(const struct ig_manifest_entry *const *)b;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Checks every entry of one manifest, in the manifest's order (entries are stored sorted
 * by name). Returns false when the manifest could not be used at all. */
static bool check_manifest(const char *cmd, const char *path, enum ig_algo hint, bool quiet,
                           struct check_counts *c)
{
    struct gw_buf b;
    struct ig_manifest m;
    const struct ig_manifest_entry **order = NULL;
    bool ok = false;
    int rc = read_file(path, IG_MANIFEST_MAX_SIZE, &b);
    if (rc < 0) {
        gw_errorf(cmd, "%s: %s", path, read_error(rc));
        goto free_buf;
    }
    rc = ig_manifest_parse(gw_buf_str(&b), b.len,
                           hint != IG_ALGO_NONE ? hint : ig_manifest_hint_from_name(path), &m);
    c->malformed += m.bad_lines;
    for (size_t k = 0; k < m.nerrors; k++)
        gw_errorf(cmd, "%s: line %u: %s", path, m.errors[k].line,
                  ig_manifest_strerror(m.errors[k].code));
    if (rc < 0) {
        gw_errorf(cmd, "%s: no properly formatted checksum lines found", path);
        goto free_manifest;
    }
    order = calloc(m.count, sizeof *order);
    if (!order) {
        gw_errorf(cmd, "out of memory");
        goto free_manifest;
    }
    for (size_t e = 0; e < m.count; e++)
        order[e] = &m.entries[e];
    qsort(order, m.count, sizeof *order, by_line);
    for (size_t e = 0; e < m.count; e++)
        check_entry(cmd, order[e], quiet, c);
    ok = true;
    free(order);
free_manifest:
    ig_manifest_free(&m);
free_buf:
    gw_buf_free(&b);
    return ok;
}

/* --check: every entry of every manifest, relative to the current directory. */
static int hash_check(const char *cmd, char **files, int n, enum ig_algo hint, bool quiet)
{
    struct check_counts c = {0, 0, 0};
    int status = GW_EXIT_OK;
    for (int i = 0; i < n; i++)
        if (!check_manifest(cmd, files[i], hint, quiet, &c))
            status = GW_EXIT_SOME_FAILED;
    fflush(stdout);
    if (c.malformed)
        gw_errorf(cmd, "WARNING: %u line%s improperly formatted", c.malformed,
                  c.malformed == 1 ? " is" : "s are");
    if (c.unreadable) {
        gw_errorf(cmd, "WARNING: %u listed file%s could not be read", c.unreadable,
                  c.unreadable == 1 ? "" : "s");
        status = GW_EXIT_SOME_FAILED;
    }
    if (c.mismatched) {
        gw_errorf(cmd, "WARNING: %u computed checksum%s did NOT match", c.mismatched,
                  c.mismatched == 1 ? "" : "s");
        status = GW_EXIT_VERIFY;
    }
    return status;
}

int gw_cmd_hash(int argc, char **argv)
{
    static const struct option opts[] = {
        {"algo", required_argument, NULL, 'a'}, {"tag", no_argument, NULL, 't'},
        {"binary", no_argument, NULL, 'b'},     {"text", no_argument, NULL, 'T'},
        {"check", no_argument, NULL, 'c'},      {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *cmd = "hash";
    enum ig_algo algo = IG_ALGO_SHA256;
    bool tag = false, binary = false, check = false, quiet = false, algo_given = false;
    int c, status = GW_EXIT_OK;
    optind = 0; /* re-entrant (tests call us repeatedly) */
    while ((c = getopt_long(argc, argv, "a:bchq", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            algo = ig_algo_from_name(optarg, strlen(optarg));
            if (algo == IG_ALGO_NONE)
                return gw_usage_error(cmd,
                                      "unknown algorithm '%s' (sha256, sha512, sha1, md5, "
                                      "blake2b, sha224, sha384)",
                                      optarg);
            algo_given = true;
            break;
        case 't':
            tag = true;
            break;
        case 'b':
            binary = true;
            break;
        case 'T':
            binary = false;
            break;
        case 'c':
            check = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            hash_usage();
            return GW_EXIT_OK;
        default:
            return gw_usage_error(cmd, "invalid option");
        }
    }
    if (check && tag)
        return gw_usage_error(cmd, "--tag makes no sense with --check");
    if (quiet && !check)
        return gw_usage_error(cmd, "--quiet works only with --check");
    char *dash[] = {"-"};
    char **files = optind < argc ? argv + optind : dash;
    int n = optind < argc ? argc - optind : 1;
    if (check)
        return hash_check(cmd, files, n, algo_given ? algo : IG_ALGO_NONE, quiet);
    for (int i = 0; i < n; i++) {
        struct ig_digests dg;
        if (hash_one(cmd, files[i], IG_ALGO_BIT(algo), &dg) < 0) {
            status = GW_EXIT_SOME_FAILED;
            continue;
        }
        print_sum(algo, dg.d[algo], files[i], tag, binary);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        gw_errorf(cmd, "write error: %s", strerror(errno));
        status = GW_EXIT_SOME_FAILED;
    }
    return status;
}

/* ---- ferry verify -------------------------------------------------------------- */

static void verify_usage(void)
{
    printf("Usage: ferry verify FILE [--sha256 HEX] [--manifest SUMSFILE [--name NAME]]\n"
           "                    [--sig SIGFILE] [--key KEYFILE] [--ca CAFILE]\n"
           "                    [--sig-type auto|minisign|signify|openssl|cms|gpg] [--json]\n"
           "Verify FILE against expected digests, a checksum manifest, and/or a signature.\n"
           "Every check given must pass. A signature covers the manifest when one is\n"
           "given, else FILE itself (the usual SHA256SUMS + SHA256SUMS.sig chain).\n\n"
           "  --sha256 HEX, --sha512 HEX, --sha1 HEX, --md5 HEX, --blake2b HEX,\n"
           "  --sha224 HEX, --sha384 HEX   expected digest of FILE\n"
           "  --manifest SUMSFILE  GNU (sha256sum) or BSD-style (SHA256 (name) = ...) list\n"
           "  --name NAME          FILE's name in the manifest (default: FILE as given,\n"
           "                       then its last component)\n"
           "  --sig SIGFILE        detached signature: minisign, signify (also with an\n"
           "                       embedded manifest), OpenSSL raw (RSA/ECDSA over SHA-256,\n"
           "                       Ed25519), CMS/PKCS#7 detached, OpenPGP (needs gpgv)\n"
           "  --key KEYFILE        minisign/signify public key, PEM public key, pinned\n"
           "                       signer certificate (CMS), or OpenPGP keyring. Without\n"
           "                       --sig, SIG is looked for beside the manifest or FILE\n"
           "                       (.minisig .sig .asc .p7s .gpg); none found fails.\n"
           "  --ca CAFILE          CMS: trust signers whose chain ends at these CAs\n"
           "  --sig-type TYPE      force the signature type (default: detected)\n"
           "  --gpgv PROG          gpgv program (default: gpgv on PATH)\n"
           "  --json               one JSON object on stdout\n"
           "  -q, --quiet          print nothing when verified\n"
           "  -h, --help           this text\n\n"
           "Exit status: 0 verified, 3 mismatch or bad signature (or nothing verifiable),\n"
           "1 could not check (unreadable file, unusable key, gpgv missing), 2 usage error.\n");
}

struct verify_opts {
    const char *file, *manifest, *name, *sig, *key, *ca, *gpgv;
    int sig_type;
    bool json, quiet;
    struct ig_verify_req req;
};

static int add_expect(const char *cmd, struct verify_opts *o, enum ig_algo a, const char *hex)
{
    size_t want = 2 * ig_algo_len(a);
    if (strlen(hex) != want || !ig_is_hex(hex, want))
        return gw_usage_error(cmd, "--%s needs %zu hex digits", ig_algo_name(a), want);
    if (o->req.n_expect == IG_MAX_EXPECT)
        return gw_usage_error(cmd, "too many expected digests");
    o->req.expect[o->req.n_expect].algo = a;
    o->req.expect[o->req.n_expect].hex = hex;
    o->req.n_expect++;
    return 0;
}

static int parse_verify_args(const char *cmd, int argc, char **argv, struct verify_opts *o)
{
    enum { O_MANIFEST = 256, O_NAME, O_SIG, O_KEY, O_CA, O_TYPE, O_GPGV, O_JSON, O_DIGEST };
    static const struct option opts[] = {
        {"sha256", required_argument, NULL, O_DIGEST + IG_ALGO_SHA256},
        {"sha512", required_argument, NULL, O_DIGEST + IG_ALGO_SHA512},
        {"sha1", required_argument, NULL, O_DIGEST + IG_ALGO_SHA1},
        {"md5", required_argument, NULL, O_DIGEST + IG_ALGO_MD5},
        {"blake2b", required_argument, NULL, O_DIGEST + IG_ALGO_BLAKE2B},
        {"sha224", required_argument, NULL, O_DIGEST + IG_ALGO_SHA224},
        {"sha384", required_argument, NULL, O_DIGEST + IG_ALGO_SHA384},
        {"manifest", required_argument, NULL, O_MANIFEST},
        {"name", required_argument, NULL, O_NAME},
        {"sig", required_argument, NULL, O_SIG},
        {"key", required_argument, NULL, O_KEY},
        {"ca", required_argument, NULL, O_CA},
        {"sig-type", required_argument, NULL, O_TYPE},
        {"gpgv", required_argument, NULL, O_GPGV},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, idx = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "qh", opts, &idx)) != -1) {
        const char **slot = NULL;
        switch (c) {
        case O_MANIFEST:
            slot = &o->manifest;
            break;
        case O_NAME:
            slot = &o->name;
            break;
        case O_SIG:
            slot = &o->sig;
            break;
        case O_KEY:
            slot = &o->key;
            break;
        case O_CA:
            slot = &o->ca;
            break;
        case O_GPGV:
            slot = &o->gpgv;
            break;
        case O_TYPE:
            o->sig_type = ig_sigtype_from_name(optarg);
            if (o->sig_type < 0)
                return gw_usage_error(cmd,
                                      "unknown --sig-type '%s' (auto, minisign, signify, "
                                      "openssl, cms, gpg)",
                                      optarg);
            break;
        case O_JSON:
            o->json = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            verify_usage();
            return -1;
        default:
            if (c > O_DIGEST && c < O_DIGEST + IG_ALGO_COUNT) {
                if (add_expect(cmd, o, (enum ig_algo)(c - O_DIGEST), optarg) != 0)
                    return GW_EXIT_USAGE;
                break;
            }
            return gw_usage_error(cmd, "invalid option");
        }
        if (slot) {
            if (*slot)
                return gw_usage_error(cmd, "--%s given twice", opts[idx].name);
            *slot = optarg;
        }
    }
    if (optind >= argc)
        return gw_usage_error(cmd, "missing FILE");
    if (optind + 1 < argc)
        return gw_usage_error(cmd, "one FILE at a time (extra operand '%s')", argv[optind + 1]);
    o->file = argv[optind];
    if (o->sig && !o->key && !o->ca)
        return gw_usage_error(cmd, "--sig needs --key (or --ca for CMS)");
    if (o->name && !o->manifest && !o->sig)
        return gw_usage_error(cmd, "--name needs --manifest");
    if (!o->sig && !o->key && !o->ca && !o->manifest && o->req.n_expect == 0)
        return gw_usage_error(cmd, "nothing to verify against: give a digest, --manifest, "
                                   "or --sig with --key");
    return 0;
}

/* Looks for a signature beside the manifest (or the file): the names that
 * `--verify auto` uses. Returns a malloc'd path or NULL. */
static char *find_sig(const char *base)
{
    static const char *const exts[] = {".minisig", ".sig", ".asc", ".p7s", ".gpg"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char *p = NULL;
        struct stat st;
        if (asprintf(&p, "%s%s", base, exts[i]) < 0)
            return NULL;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return p;
        free(p);
    }
    return NULL;
}

static void print_json(const struct verify_opts *o, const struct ig_verify_result *res)
{
    struct gw_buf b;
    bool first = true;
    gw_buf_init(&b, 1u << 20);
    gw_buf_putc(&b, '{');
    gw_json_key(&b, &first, "file");
    gw_json_cstr(&b, o->file);
    gw_json_key(&b, &first, "verified");
    gw_buf_puts(&b, res->verdict == IG_VERIFIED ? "true" : "false");
    gw_json_key(&b, &first, "verdict");
    gw_json_cstr(&b, ig_verdict_name(res->verdict));
    gw_json_key(&b, &first, "reason");
    gw_json_cstr(&b, res->reason);
    gw_json_key(&b, &first, "methods");
    gw_buf_putc(&b, '[');
    const char *sep = "";
    static const struct {
        unsigned bit;
        const char *name;
    } methods[] = {{IG_METHOD_DIGEST, "digest"},
                   {IG_METHOD_MANIFEST, "manifest"},
                   {IG_METHOD_SIGNATURE, "signature"}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (res->methods & methods[i].bit) {
            gw_buf_printf(&b, "%s\"%s\"", sep, methods[i].name);
            sep = ",";
        }
    gw_buf_putc(&b, ']');
    gw_json_key(&b, &first, "weak");
    gw_buf_puts(&b, res->weak ? "true" : "false");
    gw_json_key(&b, &first, "signature_type");
    gw_json_cstr(&b, res->sig_type != IG_SIG_AUTO ? ig_sigtype_name(res->sig_type) : NULL);
    gw_json_key(&b, &first, "signature_file");
    gw_json_cstr(&b, o->sig);
    gw_json_key(&b, &first, "signer");
    gw_json_cstr(&b, res->signer[0] ? res->signer : NULL);
    gw_json_key(&b, &first, "trusted_comment");
    gw_json_cstr(&b, res->trusted_comment[0] ? res->trusted_comment : NULL);
    gw_json_key(&b, &first, "sha256");
    gw_json_cstr(&b, res->sha256[0] ? res->sha256 : NULL);
    gw_json_key(&b, &first, "size");
    if (res->sha256[0])
        gw_json_int(&b, (int64_t)res->size);
    else
        gw_buf_puts(&b, "null");
    gw_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    gw_buf_free(&b);
}

/* A file name on one line of human output. */
static void put_safe(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static int report(const char *cmd, const struct verify_opts *o, struct ig_verify_result *res)
{
    int status = res->verdict == IG_VERIFIED ? GW_EXIT_OK
                 : res->verdict == IG_ERROR  ? GW_EXIT_SOME_FAILED
                                             : GW_EXIT_VERIFY;
    if (o->json) {
        print_json(o, res);
    } else if (status == GW_EXIT_OK) {
        if (!o->quiet) {
            put_safe(stdout, o->file);
            printf(": %s", res->reason);
            if (res->trusted_comment[0])
                printf("; trusted comment: %s", res->trusted_comment);
            putchar('\n');
        }
    } else {
        fprintf(stderr, "ferry %s: ", cmd);
        put_safe(stderr, o->file);
        fprintf(stderr, ": %s\n", res->reason);
    }
    if (fflush(stdout) != 0)
        status = status == GW_EXIT_OK ? GW_EXIT_SOME_FAILED : status;
    return status;
}

/* Reads an input named on the command line into b; on failure fills res. */
static bool load(const char *what, const char *path, size_t max, struct gw_buf *b,
                 struct ig_verify_result *res)
{
    int rc = read_file(path, max, b);
    if (rc == 0)
        return true;
    snprintf(res->reason, sizeof res->reason, "cannot read %s %s: %s", what, path, read_error(rc));
    /* An oversized manifest or signature is hostile input; an unreadable one is local. */
    res->verdict = rc == -EFBIG && strcmp(what, "key") != 0 && strcmp(what, "CA file") != 0
                       ? IG_FAILED
                       : IG_ERROR;
    return false;
}

int gw_cmd_verify(int argc, char **argv)
{
    const char *cmd = "verify";
    struct verify_opts o;
    struct ig_verify_result res;
    struct gw_buf manifest, sig, key, ca;
    char *found_sig = NULL;
    int status;
    memset(&o, 0, sizeof o);
    memset(&res, 0, sizeof res);
    gw_buf_init(&manifest, 0);
    gw_buf_init(&sig, 0);
    gw_buf_init(&key, 0);
    gw_buf_init(&ca, 0);
    int rc = parse_verify_args(cmd, argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? GW_EXIT_OK : rc;
    struct ig_verify_req *q = &o.req;
    q->path = o.file;
    q->fd = -1;
    q->name = o.name;
    q->sig_type = (enum ig_sigtype)o.sig_type;
    q->trust.gpgv = o.gpgv;
    if (o.key && !o.sig)
        o.sig = found_sig = find_sig(o.manifest ? o.manifest : o.file);
    if (o.manifest) {
        if (!load("manifest", o.manifest, IG_MANIFEST_MAX_SIZE, &manifest, &res))
            goto report;
        q->manifest = gw_buf_str(&manifest);
        q->manifest_len = manifest.len;
        q->manifest_name = o.manifest;
    }
    if (o.sig) {
        if (!load("signature", o.sig, IG_SIGFILE_MAX_SIZE, &sig, &res))
            goto report;
        q->sig = (const unsigned char *)gw_buf_str(&sig);
        q->sig_len = sig.len;
    }
    if (o.key) {
        if (!load("key", o.key, IG_KEYFILE_MAX_SIZE, &key, &res))
            goto report;
        q->trust.key = (const unsigned char *)gw_buf_str(&key);
        q->trust.key_len = key.len;
    }
    if (o.ca) {
        if (!load("CA file", o.ca, IG_KEYFILE_MAX_SIZE, &ca, &res))
            goto report;
        q->trust.ca = (const unsigned char *)gw_buf_str(&ca);
        q->trust.ca_len = ca.len;
    }
    ig_verify(q, &res);
report:
    status = report(cmd, &o, &res);
    free(found_sig);
    gw_buf_free(&manifest);
    gw_buf_free(&sig);
    gw_buf_free(&key);
    gw_buf_free(&ca);
    return status;
}
