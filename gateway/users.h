/* Users and authentication. STATE/users is a text file an admin can read and edit, one
 * user per line (comments with '#', blank lines ignored; a trailing CR is tolerated):
 *
 *     NAME:HASH:HOME:FLAGS:KEYS
 *
 * NAME   [A-Za-z0-9._-], 1..GW_MAX_USER_NAME bytes, not starting with '-' or '.'
 * HASH   a crypt(3) hash (yescrypt "$y$..." when written by Ferry; any scheme libcrypt
 *        verifies, e.g. "$6$" pasted from /etc/shadow, is accepted), or "!" for no
 *        password (key-only login). A hash starting with '!' or '*' is locked: it never
 *        matches. Printable ASCII without ':' or spaces; empty is an error.
 * HOME   absolute virtual path inside the server root ("/" or "/alice"): UTF-8, no ':',
 *        no control bytes, no "." / ".." / empty components, no trailing '/', no
 *        component naming a hidden partial upload (VFS_PARTIAL_PREFIX)
 * FLAGS  comma-separated: "rw" or "ro" (read-only); empty means "rw"; unknown or
 *        conflicting flags are errors
 * KEYS   public keys in authorized_keys form ("ssh-ed25519 AAAA... comment"), several
 *        separated by '|'; may be empty. authorized_keys options (from="..." ...) are
 *        not supported. The base64 blob must decode and name the same key type; a
 *        comment may not contain '|' or control bytes. At most GW_MAX_KEYS_PER_USER.
 *
 * The parser is pure over (buf, len); the file is written atomically (temp, fsync,
 * rename, fsync of the directory) with mode 0600. The writer emits a short header
 * comment and one line per user: comments an admin added are not kept when `ferry user`
 * rewrites the file.
 *
 * Ownership: a struct auth_db owns every string it points to; auth_db_free() releases
 * them. Pointers returned by auth_db_find() stay valid until the db is next modified. */
#ifndef FERRY_GATEWAY_USERS_H
#define FERRY_GATEWAY_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/buf.h"

/* Room for any hash auth_hash_password() writes (libxcrypt's CRYPT_OUTPUT_SIZE). */
#define AUTH_HASH_SIZE 384
/* Longest password libcrypt accepts (CRYPT_MAX_PASSPHRASE_SIZE - 1); longer ones are
 * refused by auth_hash_password() and never verify. */
#define AUTH_MAX_PASSWORD 511
/* Longest base64 key blob accepted (an RSA-16384 key is about 2.8 KB). */
#define AUTH_MAX_KEY_BLOB 8192
/* Room for auth_key_fingerprint()'s "SHA256:" + 43 base64 characters. */
#define AUTH_FINGERPRINT_SIZE 64
/* Length of passwords `ferry user` and first start generate (57-letter alphabet:
 * about 116 bits). */
#define AUTH_RANDOM_PASSWORD_LEN 20

struct auth_key {
    char *type;    /* "ssh-ed25519" */
    char *blob;    /* base64 as written */
    char *comment; /* may be "" */
};

struct auth_user {
    char *name;
    char *hash;
    char *home;
    bool read_only;
    struct auth_key *keys;
    size_t nkeys;
};

struct auth_db {
    struct auth_user *users;
    size_t nusers;
};

/* Parses a users file. *db need not be initialised; on success it owns the users (free
 * with auth_db_free). On error *db is left empty and the result is GW_ERR_CONFIG with
 * "LINE: reason" in err (or GW_ERR_NOMEM); the first error in file order is reported.
 * Lines longer than GW_MAX_USERS_LINE and files over GW_MAX_USERS_FILE are errors. */
int auth_db_parse(const char *buf, size_t len, struct auth_db *db, char *err, size_t errsz);
/* Loads path (a missing file is an empty database). Errors are "PATH:LINE: reason"
 * (parse, GW_ERR_CONFIG) or "PATH: reason" (I/O, a GW_ERR_* from errno). */
int auth_db_load(const char *path, struct auth_db *db, char *err, size_t errsz);
/* Writes atomically, mode 0600: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. A failed save leaves the old file untouched. */
int auth_db_save(const struct auth_db *db, const char *path);
/* The writer behind auth_db_save: appends the file's text to out (pure). Every field is
 * validated as the parser would, so what it writes always parses back to the same db
 * (GW_ERR_INVAL otherwise; GW_ERR_TOOLONG for a line over GW_MAX_USERS_LINE). */
int auth_db_format(const struct auth_db *db, struct gw_buf *out);
void auth_db_free(struct auth_db *db);

const struct auth_user *auth_db_find(const struct auth_db *db, const char *name);
bool auth_name_valid(const char *name);
/* Names the anonymous login uses ("anonymous", "ftp"): auth_db_add refuses them. */
bool auth_name_reserved(const char *name);
/* True for a HOME as described above. */
bool auth_home_valid(const char *home);
/* Adds a user (GW_ERR_EXIST when present). password may be NULL (no password login);
 * home NULL means "/NAME". GW_ERR_INVAL: bad or reserved name, bad home, empty
 * password; GW_ERR_TOOLONG: password over AUTH_MAX_PASSWORD. */
int auth_db_add(struct auth_db *db, const char *name, const char *password, const char *home,
                bool read_only);
/* GW_ERR_NOENT when absent. */
int auth_db_del(struct auth_db *db, const char *name);
/* password NULL disables password login (hash "!"). GW_ERR_NOENT, as auth_db_add. */
int auth_db_set_password(struct auth_db *db, const char *name, const char *password);
/* Adds one authorized_keys line ("type base64 [comment]") to a user. GW_ERR_NOENT (no
 * user), GW_ERR_INVAL (bad key), GW_ERR_EXIST (same type and blob present),
 * GW_ERR_LIMIT (GW_MAX_KEYS_PER_USER), GW_ERR_TOOLONG (line would pass the limit). */
int auth_db_add_key(struct auth_db *db, const char *name, const char *line);
/* Removes the user's keys whose fingerprint ("SHA256:...") or comment equals which.
 * GW_ERR_NOENT when no user or no key matched. */
int auth_db_del_key(struct auth_db *db, const char *name, const char *which);

/* Parses one authorized_keys line (n bytes, no options) into k (strings owned by k,
 * free with auth_key_free). GW_ERR_INVAL with the reason in err, or GW_ERR_NOMEM. */
int auth_key_parse(const char *line, size_t n, struct auth_key *k, char *err, size_t errsz);
void auth_key_free(struct auth_key *k);
/* OpenSSH's fingerprint of a key ("SHA256:" + unpadded base64 of the blob's SHA-256, as
 * `ssh-keygen -l` prints it). */
int auth_key_fingerprint(const struct auth_key *k, char *out, size_t outsz);

/* Hashes with yescrypt (crypt_gensalt_rn "$y$" at libcrypt's default cost + crypt_rn)
 * into out (AUTH_HASH_SIZE is enough). GW_ERR_INVAL for an empty password,
 * GW_ERR_TOOLONG over AUTH_MAX_PASSWORD, GW_ERR_IO when libcrypt fails. */
int auth_hash_password(const char *password, char *out, size_t outsz);
/* Verifies a password against the user's hash; constant-time comparison; false for
 * "!" and "*" (locked) hashes, empty passwords and passwords over AUTH_MAX_PASSWORD.
 * u may be NULL (unknown user): a dummy yescrypt hash is computed and false returned,
 * so the time taken does not tell whether a user exists. */
bool auth_check_password(const struct auth_user *u, const char *password);
/* True when the user has this key (type and base64 blob as in authorized_keys, compared
 * exactly). u may be NULL (false). */
bool auth_check_key(const struct auth_user *u, const char *type, const char *blob);
/* Random password of n characters (n < outsz) from an unambiguous alphabet (no 0 O 1 I
 * l), from getrandom(2) without modulo bias. */
int auth_random_password(char *out, size_t outsz, size_t n);

/* Failed-login throttling per remote address: a bounded table (GW_THROTTLE_SLOTS),
 * least recently used slot reused. Pure except for the caller's clock (now_ms, any
 * monotonic millisecond clock; a clock going backwards counts as no time passing).
 *
 * addr is a numeric address without port ("192.0.2.7", "2001:db8::1"). IPv4 addresses
 * (and IPv4-mapped IPv6) count per address; other IPv6 addresses count per /64, since
 * one host usually owns a whole /64. Anything else is used as an opaque string.
 *
 * Policy: the first AUTH_THROTTLE_FREE failures cost nothing; then the next attempt
 * must wait AUTH_THROTTLE_BASE_MS after the last failure, doubling with every further
 * failure up to AUTH_THROTTLE_MAX_MS. Failures are forgotten when none came for
 * AUTH_THROTTLE_WINDOW_MS (a window sliding with the last failure) and on a successful
 * login. When the table is full the slot whose last failure is oldest is reused, so a
 * flood of addresses can only make the throttle forget, never block an innocent address. */
#define AUTH_THROTTLE_FREE 2
#define AUTH_THROTTLE_BASE_MS 250
#define AUTH_THROTTLE_MAX_MS 10000
#define AUTH_THROTTLE_WINDOW_MS (15 * 60 * 1000)

struct auth_throttle;
/* NULL when out of memory. */
struct auth_throttle *auth_throttle_new(void);
void auth_throttle_free(struct auth_throttle *t);
/* Milliseconds the next attempt from addr must still wait (0 when none): the delay due
 * after its failures, minus the time since the last failure. */
uint32_t auth_throttle_delay(struct auth_throttle *t, const char *addr, int64_t now_ms);
void auth_throttle_fail(struct auth_throttle *t, const char *addr, int64_t now_ms);
void auth_throttle_ok(struct auth_throttle *t, const char *addr);
/* Failures recorded for addr within the window. */
unsigned auth_throttle_count(struct auth_throttle *t, const char *addr, int64_t now_ms);

/* `ferry user ...`: argv[0] is "user". Returns the exit code (DESIGN.md: 0 ok, 1 failed,
 * 2 usage or config error, including a users file that does not parse). */
int auth_cmd_main(int argc, char **argv);

#endif
