/* Checksum manifest parser (see manifest.h): pure, over (buf, len). */
#include "integrity/manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Which untagged form the manifest uses; the first good untagged line decides. */
enum form { FORM_UNKNOWN, FORM_GNU, FORM_REVERSED };

struct parser {
    struct ig_manifest *m;
    enum ig_algo hint;
    enum form form;
    char *out; /* next free byte of m->names */
    size_t cap_entries;
};

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool tag_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void record_error(struct ig_manifest *m, unsigned line, enum ig_manifest_err code)
{
    m->bad_lines++;
    if (m->nerrors < IG_MANIFEST_MAX_ERRORS) {
        m->errors[m->nerrors].line = line;
        m->errors[m->nerrors].code = code;
        m->nerrors++;
    }
}

/* Copies the name into the names storage, undoing coreutils' escapes when escaped.
 * The storage was sized for every line plus a NUL each, so no bound check is needed
 * beyond the line itself. Returns 0 or an error code. */
static int store_name(struct parser *p, const char *s, size_t n, bool escaped,
                      struct ig_manifest_entry *e)
{
    char *o = p->out;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (escaped && c == '\\') {
            if (++i == n)
                return IG_MF_ESCAPE;
            switch (s[i]) {
            case '\\':
                c = '\\';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            default:
                return IG_MF_ESCAPE;
            }
        }
        *o++ = c;
    }
    if (o == p->out)
        return IG_MF_NONAME;
    *o = '\0';
    e->name = p->out;
    e->name_len = (size_t)(o - p->out);
    e->key = e->name;
    e->key_len = e->name_len;
    while (e->key_len > 2 && e->key[0] == '.' && e->key[1] == '/') {
        e->key += 2;
        e->key_len -= 2;
    }
    return 0;
}

/* Decodes a tagged line's value: hex of the tag's length, else base64 of it. */
static int tagged_value(const char *v, size_t n, enum ig_algo a, unsigned char *out)
{
    size_t len = ig_algo_len(a);
    if (ig_is_hex(v, n)) {
        if (n != 2 * len)
            return IG_MF_TAGLEN;
        ig_hex_decode(v, len, out);
        return 0;
    }
    unsigned char tmp[IG_MAX_DIGEST + 3];
    long got = ig_base64_decode(v, n, tmp, sizeof tmp);
    if (got < 0)
        return IG_MF_HASH;
    if ((size_t)got != len)
        return IG_MF_TAGLEN;
    memcpy(out, tmp, len);
    return 0;
}

/* `TAG (name) = value` or OpenSSL's `TAG(name)= value`; s[name0] is the first byte of
 * the name (just past the '('). The name ends at the last ')' of the line, as in
 * coreutils, so names holding ") = " still parse. */
static int parse_tagged(struct parser *p, const char *s, size_t n, const char *tag, size_t taglen,
                        size_t name0, bool escaped, struct ig_manifest_entry *e)
{
    size_t r = n;
    while (r > name0 && s[r - 1] != ')')
        r--;
    if (r == name0)
        return IG_MF_SYNTAX;
    size_t close = r - 1, i = r;
    while (i < n && blank(s[i]))
        i++;
    if (i == n || s[i] != '=')
        return IG_MF_SYNTAX;
    i++;
    while (i < n && blank(s[i]))
        i++;
    size_t end = n;
    while (end > i && blank(s[end - 1]))
        end--;
    if (end == i)
        return IG_MF_HASH;
    e->algo = ig_algo_from_tag(tag, taglen);
    if (e->algo == IG_ALGO_NONE)
        return IG_MF_ALGO;
    int rc = tagged_value(s + i, end - i, e->algo, e->digest);
    if (rc)
        return rc;
    return store_name(p, s + name0, close - name0, escaped, e);
}

static enum ig_algo algo_for_hexlen(size_t digits)
{
    for (int a = IG_ALGO_NONE + 1; a < IG_ALGO_COUNT; a++)
        if (a != IG_ALGO_BLAKE2B && 2 * ig_algo_len((enum ig_algo)a) == digits)
            return (enum ig_algo)a;
    return IG_ALGO_NONE;
}

/* `HASH  name`, `HASH *name` or the reversed `HASH name`; s[t..i) is the digest. */
static int parse_untagged(struct parser *p, const char *s, size_t n, size_t t, size_t i,
                          bool escaped, struct ig_manifest_entry *e, enum form *form)
{
    size_t digits = i - t;
    if (!ig_is_hex(s + t, digits))
        return IG_MF_SYNTAX;
    if (p->hint != IG_ALGO_NONE) {
        if (digits != 2 * ig_algo_len(p->hint))
            return IG_MF_HINTLEN;
        e->algo = p->hint;
    } else {
        e->algo = algo_for_hexlen(digits);
        if (e->algo == IG_ALGO_NONE)
            return IG_MF_HASH;
        e->maybe_blake2b = e->algo == IG_ALGO_SHA512;
    }
    ig_hex_decode(s + t, digits / 2, e->digest);
    size_t k = i;
    while (k < n && blank(s[k]))
        k++;
    if (k == n) { /* a bare digest, as NAME.sha256 files often hold */
        if (escaped)
            return IG_MF_NONAME;
        *p->out = '\0';
        e->name = e->key = p->out;
        return 0;
    }
    i++; /* the separator blank */
    /* coreutils' rule: one byte left, or no mode marker, means the reversed form. */
    bool reversed = n - i == 1 || (i < n && s[i] != ' ' && s[i] != '*');
    if (i == n)
        return IG_MF_NONAME;
    if (reversed) {
        if (p->form == FORM_GNU)
            return s[i] == ' ' || s[i] == '*' ? IG_MF_NONAME : IG_MF_MIXED;
        *form = FORM_REVERSED;
    } else if (p->form != FORM_REVERSED) {
        *form = FORM_GNU;
        e->binary = s[i] == '*';
        i++;
    }
    return store_name(p, s + i, n - i, escaped, e);
}

/* Parses one line (without its newline). Returns 0 with *e filled, -1 for a line to
 * skip (blank, comment), or an IG_MF_* code. */
static int parse_line(struct parser *p, const char *s, size_t n, struct ig_manifest_entry *e)
{
    size_t i = 0;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (memchr(s, '\0', n))
        return IG_MF_NUL;
    while (i < n && blank(s[i]))
        i++;
    if (i == n || s[i] == '#')
        return -1;
    bool escaped = s[i] == '\\';
    if (escaped)
        i++;
    size_t t = i, j = i;
    while (j < n && tag_char(s[j]))
        j++;
    size_t k = j;
    if (k < n && s[k] == ' ')
        k++;
    if (j > t && k < n && s[k] == '(' && !ig_is_hex(s + t, j - t)) {
        int rc = parse_tagged(p, s, n, s + t, j - t, k + 1, escaped, e);
        return rc;
    }
    while (i < n && !blank(s[i]))
        i++;
    enum form form = p->form;
    int rc = parse_untagged(p, s, n, t, i, escaped, e, &form);
    if (rc == 0)
        p->form = form;
    return rc;
}

static int add_entry(struct parser *p, const struct ig_manifest_entry *e)
{
    struct ig_manifest *m = p->m;
    if (m->count == p->cap_entries) {
        size_t cap = p->cap_entries ? p->cap_entries * 2 : 64;
        struct ig_manifest_entry *n = realloc(m->entries, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        m->entries = n;
        p->cap_entries = cap;
    }
    m->entries[m->count++] = *e;
    p->out += e->name_len + 1;
    return 0;
}

static int cmp_key(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const struct ig_manifest_entry *a = pa, *b = pb;
    int c = cmp_key(a->key, a->key_len, b->key, b->key_len);
    if (c)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

int ig_manifest_parse(const char *buf, size_t len, enum ig_algo hint, struct ig_manifest *m)
{
    struct parser p = {.m = m, .hint = hint};
    memset(m, 0, sizeof *m);
    if (len > IG_MANIFEST_MAX_SIZE)
        return -EFBIG;
    if ((unsigned)hint >= IG_ALGO_COUNT)
        return -EINVAL;
    /* Every name is at most its line, plus a NUL: len + one byte per line suffices. */
    size_t lines = 1;
    for (const char *q = buf; len && (q = memchr(q, '\n', (size_t)(buf + len - q))); q++)
        lines++;
    m->names = malloc(len + lines + 1);
    if (!m->names)
        return -ENOMEM;
    p.out = m->names;
    size_t pos = 0;
    while (pos < len) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        m->lines++;
        if (n > IG_MANIFEST_MAX_LINE) {
            record_error(m, m->lines, IG_MF_TOOLONG);
            continue;
        }
        struct ig_manifest_entry e = {.line = m->lines};
        int rc = parse_line(&p, s, n, &e);
        if (rc > 0)
            record_error(m, m->lines, (enum ig_manifest_err)rc);
        else if (rc == 0 && add_entry(&p, &e) < 0)
            return -ENOMEM;
    }
    if (m->count == 0)
        return -EINVAL;
    qsort(m->entries, m->count, sizeof *m->entries, cmp_entry);
    return 0;
}

void ig_manifest_free(struct ig_manifest *m)
{
    free(m->entries);
    free(m->names);
    m->entries = NULL;
    m->names = NULL;
    m->count = 0;
}

size_t ig_manifest_find(const struct ig_manifest *m, const char *name, size_t name_len,
                        const struct ig_manifest_entry **first)
{
    while (name_len > 2 && name[0] == '.' && name[1] == '/') {
        name += 2;
        name_len -= 2;
    }
    size_t lo = 0, hi = m->count;
    while (lo < hi) { /* lower bound */
        size_t mid = lo + (hi - lo) / 2;
        const struct ig_manifest_entry *e = &m->entries[mid];
        if (cmp_key(e->key, e->key_len, name, name_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    while (lo + n < m->count &&
           cmp_key(m->entries[lo + n].key, m->entries[lo + n].key_len, name, name_len) == 0)
        n++;
    if (first)
        *first = n ? &m->entries[lo] : NULL;
    return n;
}

const struct ig_manifest_entry *ig_manifest_bare(const struct ig_manifest *m)
{
    return m->count == 1 && m->entries[0].name_len == 0 ? &m->entries[0] : NULL;
}

const char *ig_manifest_strerror(enum ig_manifest_err code)
{
    switch (code) {
    case IG_MF_TOOLONG:
        return "line too long";
    case IG_MF_NUL:
        return "NUL byte in line";
    case IG_MF_SYNTAX:
        return "not a checksum line";
    case IG_MF_HASH:
        return "digest is not hex of a known length";
    case IG_MF_ALGO:
        return "unsupported algorithm";
    case IG_MF_TAGLEN:
        return "digest length does not match its algorithm tag";
    case IG_MF_HINTLEN:
        return "digest length does not match the manifest's algorithm";
    case IG_MF_ESCAPE:
        return "bad backslash escape in file name";
    case IG_MF_NONAME:
        return "missing file name";
    case IG_MF_MIXED:
        return "GNU and BSD-reversed lines mixed";
    }
    return "malformed line";
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char c = *s;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != *prefix)
            return false;
    }
    return true;
}

enum ig_algo ig_manifest_hint_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* SHA256SUMS, SHA256SUMS.txt, SHA256 (OpenBSD), sha256sum.txt: a prefix names it. */
    static const struct {
        const char *prefix;
        enum ig_algo algo;
    } prefixes[] = {
        {"SHA512", IG_ALGO_SHA512}, {"SHA384", IG_ALGO_SHA384},   {"SHA256", IG_ALGO_SHA256},
        {"SHA224", IG_ALGO_SHA224}, {"SHA1", IG_ALGO_SHA1},       {"MD5", IG_ALGO_MD5},
        {"B2", IG_ALGO_BLAKE2B},    {"BLAKE2B", IG_ALGO_BLAKE2B},
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (has_prefix_nocase(base, prefixes[i].prefix))
            return prefixes[i].algo;
    /* foo.iso.sha256, foo.b2: the extension names it. */
    const char *dot = strrchr(base, '.');
    if (dot && dot[1])
        return ig_algo_from_name(dot + 1, strlen(dot + 1));
    return IG_ALGO_NONE;
}
