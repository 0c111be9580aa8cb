/* Checksum manifests (SHA256SUMS, SHA512SUMS, MD5SUMS, B2SUMS, OpenBSD SHA256, ...):
 * a pure parser over (buf, len) and a lookup by file name.
 *
 * Accepted line forms (one entry per line, LF or CRLF):
 *   GNU coreutils   HASH  name        text mode (two spaces)
 *                   HASH *name        binary mode
 *   BSD reversed    HASH name         (FreeBSD `sha256 -r`; one space)
 *   BSD tagged      SHA256 (name) = HASH      (OpenBSD, FreeBSD, coreutils --tag; HASH
 *                                              may be hex or, as coreutils 9.2+ writes
 *                                              with --base64, base64)
 * A line starting with a backslash has an escaped name, as coreutils writes names that
 * hold a newline, carriage return or backslash: "\\" "\n" "\r" are the only escapes.
 * A line holding only a digest (NAME.sha256 files often do) is an entry with an empty
 * name: the caller knows which file it belongs to (see ig_manifest_bare()).
 * Leading blanks are skipped; blank lines and lines starting with '#' are ignored. As
 * in coreutils, the first untagged line decides between the GNU and the reversed form
 * (a name may start with a space or '*', so mixing the two would be ambiguous).
 *
 * The algorithm of an untagged line comes from the digest length: 32 hex digits md5,
 * 40 sha1, 56 sha224, 64 sha256, 96 sha384, 128 sha512 or BLAKE2b-512. The caller may
 * pass a hint (from the manifest's name: SHA512SUMS, B2SUMS); with a hint every
 * untagged line must have that algorithm's length. Without one, 128 digits is SHA-512
 * flagged maybe_blake2b, and a verifier should accept either digest.
 *
 * Malformed lines do not stop the parse (a manifest may list many files and only one
 * matters): they are counted and the first IG_MANIFEST_MAX_ERRORS are recorded with their
 * line numbers, so that a verifier can say why the file it wanted was not found. */
#ifndef FERRY_INTEGRITY_MANIFEST_H
#define FERRY_INTEGRITY_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "integrity/algo.h"

#define IG_MANIFEST_MAX_LINE 65536       /* bytes in one line, newline excluded */
#define IG_MANIFEST_MAX_SIZE (64u << 20) /* a whole manifest */
#define IG_MANIFEST_MAX_ERRORS 8         /* malformed lines recorded (all are counted) */

enum ig_manifest_err {
    IG_MF_TOOLONG = 1, /* line longer than IG_MANIFEST_MAX_LINE */
    IG_MF_NUL,         /* NUL byte in the line */
    IG_MF_SYNTAX,      /* not a checksum line */
    IG_MF_HASH,        /* digest is not hex (or base64) of a known length */
    IG_MF_ALGO,        /* tag names an unsupported algorithm */
    IG_MF_TAGLEN,      /* digest length does not match the tag */
    IG_MF_HINTLEN,     /* digest length does not match the expected algorithm */
    IG_MF_ESCAPE,      /* bad backslash escape in the name */
    IG_MF_NONAME,      /* empty file name */
    IG_MF_MIXED,       /* GNU and BSD-reversed lines mixed */
};

struct ig_manifest_error {
    unsigned line; /* 1-based */
    enum ig_manifest_err code;
};

struct ig_manifest_entry {
    const char *name; /* unescaped, NUL-terminated (may hold '\n'; "" for a bare digest);
                         owned by the manifest */
    size_t name_len;
    const char *key; /* name without leading "./" (lookups compare keys) */
    size_t key_len;
    enum ig_algo algo;
    bool maybe_blake2b; /* untagged 128-digit line without a hint */
    bool binary;        /* '*' mode marker */
    unsigned line;      /* 1-based line number */
    unsigned char digest[IG_MAX_DIGEST];
};

struct ig_manifest {
    struct ig_manifest_entry *entries; /* sorted by key, then line */
    size_t count;
    char *names;        /* storage for every entry's name */
    unsigned lines;     /* lines seen */
    unsigned bad_lines; /* malformed lines (all of them) */
    size_t nerrors;     /* recorded errors, <= IG_MANIFEST_MAX_ERRORS */
    struct ig_manifest_error errors[IG_MANIFEST_MAX_ERRORS];
};

/* Parses buf[0..len). hint is IG_ALGO_NONE or the algorithm every untagged line must
 * use. Returns 0 when at least one entry was parsed; -EINVAL when none was (m->errors
 * says why, or nothing when the input had no checksum line at all), -EFBIG when len >
 * IG_MANIFEST_MAX_SIZE, -ENOMEM. m is always initialised; free it with
 * ig_manifest_free() whatever the result. The manifest does not point into buf. */
int ig_manifest_parse(const char *buf, size_t len, enum ig_algo hint, struct ig_manifest *m);
void ig_manifest_free(struct ig_manifest *m);

/* Entries for a file name (a leading "./" on either side is ignored). Returns how many
 * entries carry that name (a manifest may hold several algorithms, or a duplicate); they
 * are consecutive from *first. 0 when absent. */
size_t ig_manifest_find(const struct ig_manifest *m, const char *name, size_t name_len,
                        const struct ig_manifest_entry **first);

/* The manifest's only entry when it is a single bare digest (a NAME.sha256 file holding
 * just the digest), else NULL. */
const struct ig_manifest_entry *ig_manifest_bare(const struct ig_manifest *m);

/* Short text for an error code ("malformed line", "line too long"). */
const char *ig_manifest_strerror(enum ig_manifest_err code);
/* Guesses the algorithm from a manifest's file name ("SHA256SUMS", "foo.iso.sha512",
 * "B2SUMS", "MD5SUMS", "SHA256" as OpenBSD names it); IG_ALGO_NONE when the name says
 * nothing. The directory part is ignored. */
enum ig_algo ig_manifest_hint_from_name(const char *path);

#endif
