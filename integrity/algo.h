/* Hash algorithm table and the small text codecs (hex, base64) that the integrity
 * parsers share. Pure code: no OpenSSL, no I/O, no globals that change, so the manifest
 * and signature-file parsers built on it can be fuzzed on their own. */
#ifndef FERRY_INTEGRITY_ALGO_H
#define FERRY_INTEGRITY_ALGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digest algorithms Ferry knows. IG_ALGO_NONE means "unknown / not given". */
enum ig_algo {
    IG_ALGO_NONE = 0,
    IG_ALGO_MD5,
    IG_ALGO_SHA1,
    IG_ALGO_SHA224,
    IG_ALGO_SHA256,
    IG_ALGO_SHA384,
    IG_ALGO_SHA512,
    IG_ALGO_BLAKE2B, /* BLAKE2b-512, as b2sum without -l */
    IG_ALGO_COUNT
};

#define IG_MAX_DIGEST 64 /* bytes: SHA-512 and BLAKE2b-512 */
#define IG_MAX_HEX (2 * IG_MAX_DIGEST + 1)

/* Bit for an algorithm in a set of algorithms (unsigned mask). */
#define IG_ALGO_BIT(a) (1u << (unsigned)(a))

/* Lower-case command-line name ("sha256", "blake2b"); "none" for IG_ALGO_NONE. */
const char *ig_algo_name(enum ig_algo a);
/* The BSD/coreutils tag ("SHA256", "BLAKE2b", "MD5"). */
const char *ig_algo_tag(enum ig_algo a);
/* The coreutils program with the same output ("sha256sum", "b2sum"). */
const char *ig_algo_tool(enum ig_algo a);
/* Digest length in bytes, 0 for IG_ALGO_NONE. */
size_t ig_algo_len(enum ig_algo a);
/* Parses a command-line name, case-insensitive ("sha256", "SHA-256", "blake2b",
 * "b2", "blake2b-512", "blake2b512"); IG_ALGO_NONE when unknown. */
enum ig_algo ig_algo_from_name(const char *s, size_t n);
/* Parses a manifest tag exactly as coreutils and the BSDs write it (case-insensitive:
 * "SHA256", "SHA1", "MD5", "BLAKE2b", "BLAKE2b-512"); IG_ALGO_NONE when unknown. */
enum ig_algo ig_algo_from_tag(const char *s, size_t n);

/* Writes 2*n lower-case hex digits and a NUL to out (room for 2*n+1). */
void ig_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decodes exactly 2*n hex digits (either case) from s into out[n]; false on any
 * non-hex digit. */
bool ig_hex_decode(const char *s, size_t n, unsigned char *out);
/* True when every one of the n bytes is a hex digit. */
bool ig_is_hex(const char *s, size_t n);

/* Decodes standard base64 (RFC 4648, '=' padding required when the length is not a
 * multiple of 4, no whitespace) from s[0..n) into out (capacity cap). Returns the
 * decoded length, or -1 when malformed or when it does not fit. */
long ig_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

#endif
