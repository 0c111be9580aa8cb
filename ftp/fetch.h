/* Fetching files from a legacy FTP server into local files, the way `ferry get` and
 * `ferry mirror` need it: resumable (a partial NAME.ferry-part beside the target,
 * continued with REST when the remote file is unchanged), retried on temporary errors,
 * verified before it becomes visible (integrity/verify.h), and moved into place
 * atomically (fsync, rename) — or into the quarantine with a reason file. */
#ifndef FERRY_FTP_FETCH_H
#define FERRY_FTP_FETCH_H

#include <pthread.h>
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
struct ftpc_fetch_result;
struct ftpc_dir_evidence *ftpc_evidence_new(void);
void ftpc_evidence_free(struct ftpc_dir_evidence *ev);
/* True for names that are integrity metadata (NAME.sha256, SHA256SUMS, *.minisig, ...):
 * they are mirrored as they are and not themselves verified. */
bool ftpc_is_evidence_name(const char *name);
/* The contents of evidence file raw (a name listed in l, the listing of remote directory
 * dir), fetched over c once and kept in ev; NULL when absent or not fetchable. *len is
 * set. Valid until ev is freed. */
const char *ftpc_evidence_get(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                              struct ftpc_dir_evidence *ev, const char *raw, size_t *len);
/* True when dir (listing l) holds something that may verify entry e under pol (auto):
 * without keys NAME.sha256/.sha512 or a manifest naming it; with keys a signature over
 * the file, or a signed manifest naming it. Fetches manifests into ev. */
bool ftpc_has_evidence(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                       struct ftpc_dir_evidence *ev, const struct ftpc_entry *e,
                       const struct ftpc_policy *pol);
/* Verifies the local copy of entry e (of listing l of remote dir) under pol, exactly as
 * ftpc_fetch does before a rename: fills r->verdict, weak, reason. The copy is read from
 * fd when >= 0 (path then only names it, e.g. for gpgv), else opened at path. */
void ftpc_verify_copy(struct ftpc *c, const char *dir, const struct ftpc_listing *l,
                      struct ftpc_dir_evidence *ev, const struct ftpc_entry *e, const char *path,
                      int fd, const struct ftpc_policy *pol, struct ftpc_fetch_result *r);

/* Durability in batches, for many small files (ferry mirror): instead of fsync + rename +
 * directory fsync per file, a verified file waits complete under its NAME.ferry-part
 * name; every FTPC_BATCH_FILES files or FTPC_BATCH_BYTES bytes (and at the end) one
 * syncfs(2) makes all of them durable, and only then are they renamed into place. A
 * crash leaves only parts (restarted by the next run), never a half file under a real
 * name. Thread-safe. */
#define FTPC_BATCH_FILES 512
#define FTPC_BATCH_BYTES (256ull << 20)
struct ftpc_batch;
/* on_fail(ctx, final_path, why) is called (under the batch's lock) for each file that
 * could not be moved into place. dest: a directory on the destination's file system. */
struct ftpc_batch *ftpc_batch_new(const char *dest,
                                  void (*on_fail)(void *ctx, const char *path, const char *why),
                                  void *ctx);
/* Syncs and renames what is pending; returns the number of files that failed. */
size_t ftpc_batch_flush(struct ftpc_batch *b);
/* Flushes, then frees (NULL is fine). Returns the flush's failures. */
size_t ftpc_batch_free(struct ftpc_batch *b);

struct ftpc_fetch_opts {
    const struct ftpc_policy *policy;
    int retries;                   /* further attempts after a temporary failure */
    int retry_delay_ms;            /* first backoff, doubled each time (cap 30 s) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Parallel fetches (several clients, one thread each) share a directory's evidence:
     * when set, this lock is held while the evidence is fetched and the file verified. */
    pthread_mutex_t *evidence_lock;
    /* When set, a good file is handed to the batch instead of being synced and renamed
     * at once (status 0 then means: complete, verified, queued for its rename). */
    struct ftpc_batch *batch;
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
