/* Streaming message digests over OpenSSL EVP: one or several algorithms fed from the
 * same bytes in one pass (a download is hashed while it is written, a file for
 * verification is read once for every digest a check needs).
 *
 * Errors: functions returning int give 0 or a negative errno value (-ENOMEM, -EIO,
 * -EINVAL, or the errno of a failed read); this module includes nothing of Ferry's. */
#ifndef FERRY_INTEGRITY_HASH_H
#define FERRY_INTEGRITY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "integrity/algo.h"

/* Read size for whole-file hashing: large reads keep syscalls out of the profile. */
#define IG_READ_CHUNK (256u * 1024)

/* Results of a multi-digest pass. d[a] holds ig_algo_len(a) bytes when mask has
 * IG_ALGO_BIT(a). */
struct ig_digests {
    unsigned mask;
    uint64_t bytes; /* bytes hashed */
    unsigned char d[IG_ALGO_COUNT][IG_MAX_DIGEST];
};

/* A running multi-digest. Owns one OpenSSL context per algorithm in mask. */
struct ig_hasher {
    unsigned mask;
    uint64_t bytes;
    void *ctx[IG_ALGO_COUNT]; /* EVP_MD_CTX *, opaque here to keep OpenSSL out of users */
};

/* Starts digests for every algorithm in algos (a mask of IG_ALGO_BIT). An empty mask
 * is allowed (counts bytes only). On error nothing is left allocated. */
int ig_hasher_init(struct ig_hasher *h, unsigned algos);
/* Feeds n bytes to every digest. */
int ig_hasher_update(struct ig_hasher *h, const void *p, size_t n);
/* Finishes every digest into out and frees the contexts (h may be re-initialised). */
int ig_hasher_final(struct ig_hasher *h, struct ig_digests *out);
/* Frees the contexts without a result (safe on a finished or zeroed hasher). */
void ig_hasher_free(struct ig_hasher *h);

/* Reads fd from its current offset to EOF in IG_READ_CHUNK reads, computing every
 * algorithm in algos. Works on pipes (stdin) as well as files. */
int ig_hash_fd(int fd, unsigned algos, struct ig_digests *out);
/* One digest of a memory buffer into out (ig_algo_len(a) bytes). */
int ig_hash_buf(enum ig_algo a, const void *p, size_t n, unsigned char *out);

#endif
