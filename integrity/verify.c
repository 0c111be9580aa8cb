/* ig_verify(): digests, manifests and signatures combined into one verdict (see
 * verify.h). */
#include "integrity/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integrity/hash.h"
#include "integrity/manifest.h"

/* State of one ig_verify() call. */
struct run {
    const struct ig_verify_req *req;
    struct ig_verify_result *res;
    int fd;
    bool own_fd;
    struct ig_manifest mf;
    bool have_mf;
    const char *mf_buf; /* manifest bytes actually used (may be signify's embedded) */
    size_t mf_len;
    const struct ig_manifest_entry *entries; /* the file's entries in the manifest */
    size_t nentries;
    bool sig_over_file;
    bool sig_ok;
    struct ig_digests dg;
    char done[IG_REASON_MAX]; /* what passed, for the final reason */
};

static void setf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void setf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static enum ig_verdict fail(struct run *r, enum ig_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ig_verdict fail(struct run *r, enum ig_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->res->reason, sizeof r->res->reason, fmt, ap);
    va_end(ap);
    r->res->verdict = v;
    return v;
}

/* Appends "; text" (or text) to what passed. */
static void passed(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void passed(struct run *r, const char *fmt, ...)
{
    size_t n = strlen(r->done);
    va_list ap;
    if (n > 0 && n + 2 < sizeof r->done) {
        memcpy(r->done + n, "; ", 3);
        n += 2;
    }
    va_start(ap, fmt);
    vsnprintf(r->done + n, sizeof r->done - n, fmt, ap);
    va_end(ap);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Prints up to 64 bytes of a (possibly hostile) name on one line. */
static void printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (o + 4 >= cap && n > 0)
        memcpy(dst + o - 3, "...", 3);
    dst[o] = '\0';
}

static enum ig_verdict check_request(struct run *r)
{
    const struct ig_verify_req *q = r->req;
    bool has_key = q->trust.key != NULL || q->trust.ca != NULL;
    if (q->n_expect > IG_MAX_EXPECT)
        return fail(r, IG_ERROR, "too many expected digests");
    for (size_t i = 0; i < q->n_expect; i++) {
        const struct ig_expect *e = &q->expect[i];
        size_t len = ig_algo_len(e->algo);
        if (len == 0 || !e->hex || strlen(e->hex) != 2 * len || !ig_is_hex(e->hex, 2 * len))
            return fail(r, IG_ERROR, "expected %s digest is not %zu hex digits",
                        ig_algo_name(e->algo), 2 * len);
    }
    if (q->sig && !has_key)
        return fail(r, IG_ERROR, "a signature was given but no key to check it with");
    if (!q->sig && has_key)
        return fail(r, IG_UNVERIFIED, "no signature found and --key given");
    if (!q->sig && !q->manifest && q->n_expect == 0)
        return fail(r, IG_UNVERIFIED,
                    "nothing to verify against: no digest, manifest or "
                    "signature");
    return IG_VERIFIED;
}

static enum ig_verdict open_file(struct run *r)
{
    const struct ig_verify_req *q = r->req;
    struct stat st;
    r->fd = q->fd;
    if (r->fd < 0) {
        if (!q->path)
            return fail(r, IG_ERROR, "no file given");
        r->fd = open(q->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (r->fd < 0)
            return fail(r, IG_ERROR, "cannot open %s: %s", q->path, strerror(errno));
        r->own_fd = true;
    }
    if (fstat(r->fd, &st) < 0)
        return fail(r, IG_ERROR, "cannot stat the file: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(r, IG_ERROR, "not a regular file");
    return IG_VERIFIED;
}

/* A signature over the manifest (or carrying it: signify -e). */
static enum ig_verdict check_manifest_sig(struct run *r, enum ig_sigtype type)
{
    const struct ig_verify_req *q = r->req;
    struct ig_sig_result sr;
    struct ig_signed data = {
        .buf = (const unsigned char *)q->manifest, .len = q->manifest_len, .fd = -1};
    struct ig_edsig es;
    bool embedded = type == IG_SIG_SIGNIFY &&
                    ig_edsig_parse((const char *)q->sig, q->sig_len, type, &es) == 0 && es.embedded;
    enum ig_sig_status st =
        ig_sig_verify(type, q->sig, q->sig_len, &q->trust, embedded ? NULL : &data, &sr);
    r->res->sig_type = sr.type;
    if (st != IG_SIGV_OK)
        return fail(r, st == IG_SIGV_BAD ? IG_FAILED : IG_ERROR, "%s", sr.reason);
    if (embedded) {
        if (q->manifest && (q->manifest_len != sr.embedded_len ||
                            memcmp(q->manifest, sr.embedded, sr.embedded_len) != 0))
            return fail(r, IG_FAILED,
                        "the manifest differs from the one embedded in the signify "
                        "signature");
        r->mf_buf = sr.embedded;
        r->mf_len = sr.embedded_len;
    }
    setf(r->res->signer, sizeof r->res->signer, "%s", sr.signer);
    setf(r->res->trusted_comment, sizeof r->res->trusted_comment, "%s", sr.trusted_comment);
    r->sig_ok = true;
    r->res->methods |= IG_METHOD_SIGNATURE;
    passed(r, "%s (over the manifest)", sr.reason);
    return IG_VERIFIED;
}

static enum ig_verdict parse_manifest(struct run *r)
{
    const struct ig_verify_req *q = r->req;
    const char *mname = q->manifest_name ? base_name(q->manifest_name) : "manifest";
    enum ig_algo hint = q->manifest_hint;
    char name[80];
    if (hint == IG_ALGO_NONE && q->manifest_name)
        hint = ig_manifest_hint_from_name(q->manifest_name);
    int rc = ig_manifest_parse(r->mf_buf, r->mf_len, hint, &r->mf);
    r->have_mf = true;
    if (rc == -EFBIG)
        return fail(r, IG_FAILED, "%s is larger than %u bytes", mname, IG_MANIFEST_MAX_SIZE);
    if (rc == -ENOMEM)
        return fail(r, IG_ERROR, "out of memory");
    if (rc < 0 && r->mf.nerrors > 0)
        return fail(r, IG_FAILED, "%s has no valid checksum line (line %u: %s)", mname,
                    r->mf.errors[0].line, ig_manifest_strerror(r->mf.errors[0].code));
    if (rc < 0)
        return fail(r, IG_FAILED, "%s has no checksum line", mname);
    const char *want = q->name;
    if (!want && !q->path)
        return fail(r, IG_ERROR, "no file name to look up in %s", mname);
    if (!want)
        want = q->path;
    r->nentries = ig_manifest_find(&r->mf, want, strlen(want), &r->entries);
    if (r->nentries == 0 && !q->name)
        r->nentries =
            ig_manifest_find(&r->mf, base_name(want), strlen(base_name(want)), &r->entries);
    if (r->nentries == 0 && (r->entries = ig_manifest_bare(&r->mf)) != NULL)
        r->nentries = 1; /* NAME.sha256 with only a digest: the caller paired them */
    if (r->nentries == 0) {
        printable(name, sizeof name, q->name ? want : base_name(want),
                  strlen(q->name ? want : base_name(want)));
        if (r->mf.bad_lines > 0)
            return fail(r, IG_FAILED,
                        "%s is not listed in %s (%u malformed line%s, first: line "
                        "%u: %s)",
                        name, mname, r->mf.bad_lines, r->mf.bad_lines == 1 ? "" : "s",
                        r->mf.errors[0].line, ig_manifest_strerror(r->mf.errors[0].code));
        return fail(r, IG_FAILED, "%s is not listed in %s", name, mname);
    }
    return IG_VERIFIED;
}

static enum ig_verdict hash_file(struct run *r, unsigned mask)
{
    if (lseek(r->fd, 0, SEEK_SET) < 0)
        return fail(r, IG_ERROR, "cannot rewind the file: %s", strerror(errno));
    int rc = ig_hash_fd(r->fd, mask, &r->dg);
    if (rc < 0)
        return fail(r, IG_ERROR, "cannot read the file: %s", strerror(-rc));
    ig_hex_encode(r->dg.d[IG_ALGO_SHA256], 32, r->res->sha256);
    r->res->size = r->dg.bytes;
    return IG_VERIFIED;
}

static bool digest_eq(const struct run *r, enum ig_algo a, const unsigned char *want)
{
    return memcmp(r->dg.d[a], want, ig_algo_len(a)) == 0;
}

static enum ig_verdict mismatch(struct run *r, enum ig_algo a, const unsigned char *want,
                                const char *where)
{
    char w[IG_MAX_HEX], g[IG_MAX_HEX];
    ig_hex_encode(want, ig_algo_len(a), w);
    ig_hex_encode(r->dg.d[a], ig_algo_len(a), g);
    return fail(r, IG_FAILED, "%s mismatch: expected %s got %s%s", ig_algo_name(a), w, g, where);
}

static enum ig_verdict check_digests(struct run *r)
{
    const struct ig_verify_req *q = r->req;
    const char *mname = q->manifest_name ? base_name(q->manifest_name) : "manifest";
    char where[128];
    for (size_t i = 0; i < q->n_expect; i++) {
        unsigned char want[IG_MAX_DIGEST];
        enum ig_algo a = q->expect[i].algo;
        ig_hex_decode(q->expect[i].hex, ig_algo_len(a), want);
        if (!digest_eq(r, a, want))
            return mismatch(r, a, want, "");
        r->res->methods |= IG_METHOD_DIGEST;
        passed(r, "%s matches", ig_algo_name(a));
    }
    for (size_t i = 0; i < r->nentries; i++) {
        const struct ig_manifest_entry *e = &r->entries[i];
        enum ig_algo a = e->algo;
        if (e->maybe_blake2b && !digest_eq(r, a, e->digest) &&
            digest_eq(r, IG_ALGO_BLAKE2B, e->digest))
            a = IG_ALGO_BLAKE2B;
        setf(where, sizeof where, " (%.64s line %u)", mname, e->line);
        if (!digest_eq(r, a, e->digest))
            return mismatch(r, a, e->digest, where);
        r->res->methods |= IG_METHOD_MANIFEST;
        passed(r, "%s matches %.64s line %u", ig_algo_name(a), mname, e->line);
    }
    return IG_VERIFIED;
}

static enum ig_verdict check_file_sig(struct run *r, enum ig_sigtype type)
{
    const struct ig_verify_req *q = r->req;
    struct ig_sig_result sr;
    struct ig_signed data = {.fd = r->fd, .path = q->path, .dg = &r->dg};
    enum ig_sig_status st = ig_sig_verify(type, q->sig, q->sig_len, &q->trust, &data, &sr);
    r->res->sig_type = sr.type;
    if (st != IG_SIGV_OK)
        return fail(r, st == IG_SIGV_BAD ? IG_FAILED : IG_ERROR, "%s", sr.reason);
    setf(r->res->signer, sizeof r->res->signer, "%s", sr.signer);
    setf(r->res->trusted_comment, sizeof r->res->trusted_comment, "%s", sr.trusted_comment);
    r->sig_ok = true;
    r->res->methods |= IG_METHOD_SIGNATURE;
    passed(r, "%s", sr.reason);
    return IG_VERIFIED;
}

/* Runs the checks in order: request, signature over the manifest, manifest lookup, one
 * pass over the file, digests, signature over the file. */
static enum ig_verdict run_checks(struct run *r)
{
    const struct ig_verify_req *q = r->req;
    enum ig_sigtype type = IG_SIG_AUTO;
    unsigned mask = IG_ALGO_BIT(IG_ALGO_SHA256);
    enum ig_verdict v = check_request(r);
    if (v != IG_VERIFIED)
        return v;
    if ((v = open_file(r)) != IG_VERIFIED)
        return v;
    r->mf_buf = q->manifest;
    r->mf_len = q->manifest_len;
    if (q->sig) {
        struct ig_edsig es;
        type = q->sig_type != IG_SIG_AUTO ? q->sig_type : ig_sigtype_detect(q->sig, q->sig_len);
        bool embedded = type == IG_SIG_SIGNIFY &&
                        ig_edsig_parse((const char *)q->sig, q->sig_len, type, &es) == 0 &&
                        es.embedded;
        r->sig_over_file = !q->manifest && !embedded;
        if (!r->sig_over_file && (v = check_manifest_sig(r, type)) != IG_VERIFIED)
            return v;
    }
    if (r->mf_buf && (v = parse_manifest(r)) != IG_VERIFIED)
        return v;
    for (size_t i = 0; i < q->n_expect; i++)
        mask |= IG_ALGO_BIT(q->expect[i].algo);
    for (size_t i = 0; i < r->nentries; i++)
        mask |= IG_ALGO_BIT(r->entries[i].algo) |
                (r->entries[i].maybe_blake2b ? IG_ALGO_BIT(IG_ALGO_BLAKE2B) : 0);
    if (r->sig_over_file)
        mask |= ig_sig_digests_needed(type, q->sig, q->sig_len);
    if ((v = hash_file(r, mask)) != IG_VERIFIED)
        return v;
    if ((v = check_digests(r)) != IG_VERIFIED)
        return v;
    if (r->sig_over_file && (v = check_file_sig(r, type)) != IG_VERIFIED)
        return v;
    return IG_VERIFIED;
}

enum ig_verdict ig_verify(const struct ig_verify_req *req, struct ig_verify_result *res)
{
    struct run r = {.req = req, .res = res, .fd = -1};
    memset(res, 0, sizeof *res);
    enum ig_verdict v = run_checks(&r);
    if (v == IG_VERIFIED) {
        res->verdict = IG_VERIFIED;
        res->weak = !r.sig_ok && req->same_channel;
        setf(res->reason, sizeof res->reason, "%s%s", r.done,
             res->weak ? " (weak: digests from the same server as the file, no signature)" : "");
    }
    if (r.have_mf)
        ig_manifest_free(&r.mf);
    if (r.own_fd)
        close(r.fd);
    return res->verdict;
}

const char *ig_verdict_name(enum ig_verdict v)
{
    switch (v) {
    case IG_VERIFIED:
        return "verified";
    case IG_FAILED:
        return "failed";
    case IG_UNVERIFIED:
        return "unverified";
    case IG_ERROR:
        return "error";
    }
    return "error";
}
