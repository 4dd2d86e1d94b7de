/* Inbound API keys (see api_keys.h): a small open-addressing table keyed
 * by a hash of each key. */
#include "server/api_keys.h"

#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"

#define MIN_KEY 16
#define MAX_KEY 256

typedef struct key {
    char *key;
    size_t len;
    uint64_t h;
    char label[16];
    int slot;
} key;

struct tr_keyset {
    key *k;
    size_t n, cap;
    int *table;        /* size nt, -1 empty */
    size_t nt;
};

static uint64_t key_hash(const char *s, size_t n)
{
    return tr_mix64(tr_fnv1a64(s, n));
}

void tr_keyset_free(tr_keyset *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) {
        /* wipe: a freed key should not linger in the heap */
        if (k->k[i].key) memset(k->k[i].key, 0, k->k[i].len);
        tr_free(k->k[i].key);
    }
    tr_free(k->k);
    tr_free(k->table);
    tr_free(k);
}

static int equal_ct(const char *a, size_t al, const char *b, size_t bl)
{
    unsigned char d = al != bl;
    for (size_t i = 0; i < bl; i++) d |= (unsigned char)(a[i < al ? i : 0] ^ b[i]);
    return al && d == 0;
}

int tr_keyset_find(const tr_keyset *k, const char *s, size_t len)
{
    if (!k || !k->nt || !s || !len || len > MAX_KEY) return -1;
    uint64_t h = key_hash(s, len);
    for (size_t j = 0; j < k->nt; j++) {
        int i = k->table[(h + j) & (k->nt - 1)];
        if (i < 0) return -1;
        if (k->k[i].h == h && equal_ct(s, len, k->k[i].key, k->k[i].len)) return i;
    }
    return -1;
}

int tr_keyset_load(const char *path, tr_keyset **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open", path);
    tr_keyset *k = tr_calloc(1, sizeof *k);
    int rc = TR_ENOMEM;
    char line[1024];
    size_t lineno = 0;
    if (!k) goto oom;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s:%zu: line longer than %zu bytes", path, lineno, sizeof line - 2);
            goto fail;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        s[n] = 0;
        if (!n || s[0] == '#') continue;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
                rc = tr_errorf(err, errlen, TR_EFORMAT, "%s:%zu: a key holds a space, a control or a non-ASCII "
                               "byte (at column %zu)", path, lineno, i + 1);
                goto fail;
            }
        if (n < MIN_KEY || n > MAX_KEY) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s:%zu: a key must have %d to %d characters, this one has %zu",
                           path, lineno, MIN_KEY, MAX_KEY, n);
            goto fail;
        }
        if (k->n == k->cap) {
            size_t cap = k->cap ? 2 * k->cap : 16;
            key *p = tr_realloc(k->k, cap * sizeof *p);
            if (!p) goto oom;
            k->k = p;
            k->cap = cap;
        }
        key *e = &k->k[k->n];
        memset(e, 0, sizeof *e);
        if (!(e->key = tr_strndup(s, n))) goto oom;
        e->len = n;
        e->h = key_hash(s, n);
        e->slot = -1;
        snprintf(e->label, sizeof e->label, "k%012llx", (unsigned long long)(tr_mix64(e->h) >> 16));
        k->n++;
        for (size_t i = 0; i + 1 < k->n; i++)
            if (k->k[i].h == e->h && k->k[i].len == n && !memcmp(k->k[i].key, s, n)) {
                rc = tr_errorf(err, errlen, TR_EFORMAT, "%s:%zu: the key repeats an earlier line's", path, lineno);
                goto fail;
            }
    }
    memset(line, 0, sizeof line);
    if (ferror(f)) { rc = tr_errorf(err, errlen, TR_EIO, "%s: read error", path); goto fail; }
    if (!k->n) { rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: no key in the file", path); goto fail; }
    k->nt = 16;
    while (k->nt < 2 * k->n) k->nt *= 2;
    if (!(k->table = tr_mallocarray(k->nt, sizeof *k->table))) goto oom;
    for (size_t j = 0; j < k->nt; j++) k->table[j] = -1;
    for (size_t i = 0; i < k->n; i++) {
        size_t j = k->k[i].h & (k->nt - 1);
        while (k->table[j] >= 0) j = (j + 1) & (k->nt - 1);
        k->table[j] = (int)i;
    }
    fclose(f);
    *out = k;
    return TR_OK;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
fail:
    memset(line, 0, sizeof line);
    fclose(f);
    tr_keyset_free(k);
    return rc;
}

size_t tr_keyset_count(const tr_keyset *k) { return k ? k->n : 0; }

const char *tr_keyset_label(const tr_keyset *k, size_t i) { return k && i < k->n ? k->k[i].label : ""; }

void tr_keyset_set_slot(tr_keyset *k, size_t i, int slot)
{
    if (k && i < k->n) k->k[i].slot = slot;
}

int tr_keyset_slot(const tr_keyset *k, size_t i) { return k && i < k->n ? k->k[i].slot : -1; }
