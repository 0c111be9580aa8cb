/* Streaming multi-digests over OpenSSL EVP (see hash.h). */
#include "integrity/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

static const EVP_MD *evp_md(enum ig_algo a)
{
    switch (a) {
    case IG_ALGO_MD5:
        return EVP_md5();
    case IG_ALGO_SHA1:
        return EVP_sha1();
    case IG_ALGO_SHA224:
        return EVP_sha224();
    case IG_ALGO_SHA256:
        return EVP_sha256();
    case IG_ALGO_SHA384:
        return EVP_sha384();
    case IG_ALGO_SHA512:
        return EVP_sha512();
    case IG_ALGO_BLAKE2B:
        return EVP_blake2b512();
    default:
        return NULL;
    }
}

void ig_hasher_free(struct ig_hasher *h)
{
    for (int a = 0; a < IG_ALGO_COUNT; a++) {
        EVP_MD_CTX_free(h->ctx[a]);
        h->ctx[a] = NULL;
    }
    h->mask = 0;
}

int ig_hasher_init(struct ig_hasher *h, unsigned algos)
{
    memset(h, 0, sizeof *h);
    if (algos & ~((1u << IG_ALGO_COUNT) - 1) || algos & IG_ALGO_BIT(IG_ALGO_NONE))
        return -EINVAL;
    for (int a = IG_ALGO_NONE + 1; a < IG_ALGO_COUNT; a++) {
        if (!(algos & IG_ALGO_BIT(a)))
            continue;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        h->ctx[a] = c;
        if (!c || EVP_DigestInit_ex(c, evp_md((enum ig_algo)a), NULL) != 1)
            goto fail;
    }
    h->mask = algos;
    return 0;
fail:
    ig_hasher_free(h);
    return -ENOMEM;
}

int ig_hasher_update(struct ig_hasher *h, const void *p, size_t n)
{
    for (int a = IG_ALGO_NONE + 1; a < IG_ALGO_COUNT; a++)
        if (h->ctx[a] && EVP_DigestUpdate(h->ctx[a], p, n) != 1)
            return -EIO;
    h->bytes += n;
    return 0;
}

int ig_hasher_final(struct ig_hasher *h, struct ig_digests *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->mask = h->mask;
    out->bytes = h->bytes;
    for (int a = IG_ALGO_NONE + 1; a < IG_ALGO_COUNT; a++) {
        unsigned int len = 0;
        if (h->ctx[a] && EVP_DigestFinal_ex(h->ctx[a], out->d[a], &len) != 1)
            rc = -EIO;
    }
    ig_hasher_free(h);
    return rc;
}

int ig_hash_fd(int fd, unsigned algos, struct ig_digests *out)
{
    struct ig_hasher h;
    unsigned char *buf = NULL;
    int rc = ig_hasher_init(&h, algos);
    if (rc < 0)
        return rc;
    buf = malloc(IG_READ_CHUNK);
    if (!buf) {
        rc = -ENOMEM;
        goto free_hasher;
    }
    /* Tells the kernel to read ahead aggressively; harmless on pipes (fails). */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        ssize_t got = read(fd, buf, IG_READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            goto free_buf;
        }
        if (got == 0)
            break;
        rc = ig_hasher_update(&h, buf, (size_t)got);
        if (rc < 0)
            goto free_buf;
    }
    rc = ig_hasher_final(&h, out);
free_buf:
    free(buf);
free_hasher:
    ig_hasher_free(&h);
    return rc;
}

int ig_hash_buf(enum ig_algo a, const void *p, size_t n, unsigned char *out)
{
    const EVP_MD *md = evp_md(a);
    if (!md)
        return -EINVAL;
    return EVP_Digest(p, n, out, NULL, md, NULL) == 1 ? 0 : -EIO;
}
