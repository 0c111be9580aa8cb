/* One call that decides whether a file can be trusted: the API of `ferry verify` and of
 * the download code (`ferry get`, `ferry mirror`, mounts).
 *
 * Given a file and any of
 *   - expected digests (hex), from the user or from a NAME.sha256 file,
 *   - a manifest (SHA256SUMS & co.) and the file's name in it,
 *   - a detached signature and the key (or CA / keyring) to check it with,
 * ig_verify() checks everything given, reading the file once for all digests. When a
 * manifest is given the signature covers the manifest, else the file itself (a signify
 * signature with an embedded message carries its manifest). Every check given must pass.
 *
 * Policy encoded here (DESIGN.md, issue 8):
 *   - a key without a signature is not verified ("no signature found and --key given");
 *   - a signature without a key cannot be checked (IG_ERROR);
 *   - a result that rests only on hashes that came over the same channel as the file
 *     (same_channel) is flagged weak: it detects corruption, not an attacker. */
#ifndef FERRY_INTEGRITY_VERIFY_H
#define FERRY_INTEGRITY_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "integrity/algo.h"
#include "integrity/sig.h"

#define IG_MAX_EXPECT 8

enum ig_verdict {
    IG_VERIFIED = 0, /* every check given passed */
    IG_FAILED,       /* digest mismatch, bad or malformed signature, malformed manifest, or
                        the file is not in the manifest: do not trust the file */
    IG_UNVERIFIED,   /* nothing to check against (or a key but no signature) */
    IG_ERROR,        /* could not check: I/O error, unusable key, gpgv missing, bad request */
};

/* Checks that passed, in ig_verify_result.methods. */
#define IG_METHOD_DIGEST 1u    /* an expected digest */
#define IG_METHOD_MANIFEST 2u  /* the file's entry in a manifest */
#define IG_METHOD_SIGNATURE 4u /* a signature (over the manifest or the file) */

struct ig_expect {
    enum ig_algo algo;
    const char *hex; /* 2 * ig_algo_len(algo) hex digits, either case */
};

/* Everything is borrowed for the duration of the call. */
struct ig_verify_req {
    const char *path; /* opened read-only when fd < 0 */
    int fd;           /* an open regular file (read from offset 0), or -1 */
    const char *name; /* the file's name in the manifest; NULL: path as given (without
                         leading "./"), then its last component */
    struct ig_expect expect[IG_MAX_EXPECT];
    size_t n_expect;
    const char *manifest; /* NULL when none */
    size_t manifest_len;
    const char *manifest_name;  /* its file name: messages, and the algorithm hint */
    enum ig_algo manifest_hint; /* IG_ALGO_NONE: from manifest_name, else from lengths */
    const unsigned char *sig;   /* NULL when none */
    size_t sig_len;
    enum ig_sigtype sig_type; /* IG_SIG_AUTO detects */
    struct ig_trust trust;    /* key (NULL when none), CMS CA, gpgv program */
    bool same_channel;        /* digests/manifest came from the file's own server */
};

struct ig_verify_result {
    enum ig_verdict verdict;
    unsigned methods;           /* IG_METHOD_* that passed */
    enum ig_sigtype sig_type;   /* signature type checked, IG_SIG_AUTO when none */
    bool weak;                  /* verified by same-channel digests only */
    char reason[IG_REASON_MAX]; /* one line, always set */
    char signer[IG_SIGNER_MAX];
    char trusted_comment[IG_COMMENT_MAX];
    char sha256[65]; /* hex SHA-256 of the file when it was read, else "" */
    uint64_t size;   /* bytes read */
};

/* Runs every check the request asks for; returns res->verdict. Never fails to fill
 * res. Thread-compatible (no globals); runs gpgv as a child for OpenPGP. */
enum ig_verdict ig_verify(const struct ig_verify_req *req, struct ig_verify_result *res);

/* "verified", "failed", "unverified", "error". */
const char *ig_verdict_name(enum ig_verdict v);

#endif
