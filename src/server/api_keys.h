/* Inbound API keys (serve --api-keys FILE): who may use the server.
 *
 * The file holds one key per line; blank lines and lines starting with '#'
 * are skipped, white space around a key is dropped.  A key is 16 to 256
 * printable ASCII characters without spaces.  Each key gets a label for
 * the metrics: "k" and 12 hex digits of a hash of it, never the key, so
 * per-key usage can be shown without showing keys.  Look-ups hash the
 * presented key and compare candidates in time that depends on the
 * lengths only. */
#ifndef TR_SERVER_API_KEYS_H
#define TR_SERVER_API_KEYS_H

#include <stddef.h>

typedef struct tr_keyset tr_keyset;

/* Read path.  *out owned by the caller: tr_keyset_free.  TR_EIO,
 * TR_EFORMAT (the message names file and line: a short key, a space in a
 * key, a repeated key, no key at all), TR_ENOMEM. */
int tr_keyset_load(const char *path, tr_keyset **out, char *err, size_t errlen);
void tr_keyset_free(tr_keyset *k);
size_t tr_keyset_count(const tr_keyset *k);
/* The index of key (len bytes, need not be NUL-terminated), or -1. */
int tr_keyset_find(const tr_keyset *k, const char *key, size_t len);
/* Key i's label, e.g. "k3f9a0c21b7de".  Owned by k. */
const char *tr_keyset_label(const tr_keyset *k, size_t i);
/* A slot number the caller attaches to key i (its metrics slot). */
void tr_keyset_set_slot(tr_keyset *k, size_t i, int slot);
int tr_keyset_slot(const tr_keyset *k, size_t i);

#endif
