/* FUZZ_SOURCES: gateway/users.c gateway/buf.c gateway/err.c gateway/json.c */
/* Fuzzes the STATE/users parser (pure over (buf, len)) and checks the writer's round
 * trip on whatever parses: format(parse(x)) must parse back to the same text. The key
 * line parser gets the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/buf.h"
#include "gateway/limits.h"
#include "gateway/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_db db, again;
    struct gw_buf a, b;
    struct auth_key k;
    char err[256];
    if (auth_key_parse((const char *)data, size, &k, err, sizeof err) == 0) {
        char fp[AUTH_FINGERPRINT_SIZE];
        if (auth_key_fingerprint(&k, fp, sizeof fp) != 0 || strncmp(fp, "SHA256:", 7) != 0)
            abort();
        auth_key_free(&k);
    }
    if (auth_db_parse((const char *)data, size, &db, err, sizeof err) != 0) {
        if (db.users || db.nusers || !strchr(err, ':'))
            abort(); /* errors leave the db empty and say "LINE: reason" */
        return 0;
    }
    gw_buf_init(&a, GW_MAX_USERS_FILE);
    gw_buf_init(&b, GW_MAX_USERS_FILE);
    if (auth_db_format(&db, &a) != 0)
        abort(); /* whatever parses can be written */
    if (auth_db_parse(a.data, a.len, &again, err, sizeof err) != 0)
        abort(); /* ... and read back */
    if (again.nusers != db.nusers || auth_db_format(&again, &b) != 0 || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    for (size_t i = 0; i < db.nusers; i++)
        if (auth_db_find(&again, db.users[i].name) == NULL)
            abort();
    auth_db_free(&again);
    auth_db_free(&db);
    gw_buf_free(&a);
    gw_buf_free(&b);
    return 0;
}
