/* Fetching files from a legacy FTP server into local files, the way `ferry get` and
 * `ferry mirror` need it: resumable (a partial NAME.ferry-part beside the target,
 * continued with REST when the remote file is unchanged), retried on temporary errors,
 * verified before it becomes visible (integrity/verify.h), and moved into place
 * atomically (fsync, rename) — or into the quarantine with a reason file. */
#ifndef FERRY_FTP_FETCH_H
#define FERRY_FTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftp/ftpc.h"
#include "integrity/verify.h"

#define FTPC_PART_SUFFIX ".ferry-part"
#define FTPC_QUARANTINE ".ferry-quarantine"
#define FTPC_ORIGIN_XATTR "user.ferry.origin"
#define FTPC_MAX_SIDECAR (16u << 20) /* largest hash/manifest/signature file fetched */
#define FTPC_MAX_KEYS 8

enum ftpc_verify_mode {
    FTPC_VERIFY_AUTO,     /* look for hashes, manifests and signatures beside the file */
    FTPC_VERIFY_NONE,     /* accept unverified files (explicit, or authenticated URLs) */
    FTPC_VERIFY_MANIFEST  /* check against a manifest fetched from elsewhere */
};

struct ftpc_policy {
    enum ftpc_verify_mode mode;
    const char *manifest;          /* FTPC_VERIFY_MANIFEST: its bytes, already fetched */
    size_t manifest_len;
    const char *manifest_name;
    const unsigned char *keys[FTPC_MAX_KEYS]; /* --key files' contents */
    size_t key_len[FTPC_MAX_KEYS];
    size_t nkeys;
    bool require_signature;        /* a bare same-channel hash is not enough */
};

/* Integrity evidence found in one remote directory: fetched lazily, once. */
struct ftpc_dir_evidence;
struct ftpc_dir_evidence *ftpc_evidence_new(void);
void ftpc_evidence_free(struct ftpc_dir_evidence *ev);
/* True for names that are integrity metadata (NAME.sha256, SHA256SUMS, *.minisig, ...):
 * they are mirrored as they are and not themselves verified. */
bool ftpc_is_evidence_name(const char *name);

struct ftpc_fetch_opts {
    const struct ftpc_policy *policy;
    int retries;                   /* further attempts after a temporary failure */
    int retry_delay_ms;            /* first backoff, doubled each time (cap 30 s) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

struct ftpc_fetch_result {
    int status;                    /* 0 ok; GW_ERR_VERIFY quarantined; other: failed */
    bool temporary;                /* the failure may go away on a later run */
    bool resumed;
    uint64_t offset;               /* where the transfer started (resume) */
    uint64_t bytes;                /* bytes transferred in this run */
    uint64_t size;                 /* final size */
    enum ig_verdict verdict;       /* IG_VERIFIED, IG_FAILED, IG_UNVERIFIED; or
                                      IG_VERIFIED with verify none (then unchecked) */
    bool checked;                  /* a verification ran */
    bool weak;
    char sha256[65];
    char reason[IG_REASON_MAX];    /* verification reason or error message */
};

/* Fetches the remote file dir/e->raw into local_path. dir is the remote directory's raw
 * path (relative to the URL), listing that directory's entries (for evidence lookup),
 * quarantine_dir where rejected files go (created on demand). */
int ftpc_fetch(struct ftpc *c, const char *dir, const struct ftpc_listing *listing,
               const struct ftpc_entry *e, const char *local_path, const char *quarantine_path,
               struct ftpc_dir_evidence *ev, const struct ftpc_fetch_opts *o,
               struct ftpc_fetch_result *r);

/* `ferry ls`, `ferry get`, `ferry mirror` (ftp/clientcmd.c). */
int ftpc_cmd_ls(int argc, char **argv);
int ftpc_cmd_get(int argc, char **argv);
int ftpc_cmd_mirror(int argc, char **argv);

#endif
