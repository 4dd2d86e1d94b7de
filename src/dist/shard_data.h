/* A dataset split over processes: each holds the records of its part of
 * the file (data/dataset.h's tr_dataset_load_range).  Here: the model list
 * made common to every part (the union in file order), records dropped
 * after a check across parts, and records packed into bytes to move them
 * to another process (the sample) and unpacked into a dataset there. */
#ifndef TR_SHARD_DATA_H
#define TR_SHARD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "data/dataset.h"

/* The model names of ds as one blob: each name and a NUL, in ds's order. */
void tr_models_blob(const tr_dataset *ds, tr_buf *b);
/* The union of the names in blob (len bytes of NUL-ended names, the parts'
 * blobs one after the other in file order), first appearance first:
 * *names (*M of them) owned by the caller: tr_models_free.  TR_ENOMEM,
 * TR_EFORMAT for a blob not ending in NUL. */
int tr_models_union(const char *blob, size_t len, char ***names, size_t *M, char *err, size_t errlen);
void tr_models_free(char **names, size_t M);

/* Give ds the model list names (M, copied): its score and cost columns
 * move to their place in it (NaN for a model the part never names; a
 * model of ds missing from names is dropped), and the complete flags and
 * load statistics follow.  TR_ENOMEM. */
int tr_dataset_use_models(tr_dataset *ds, char *const *names, size_t M, char *err, size_t errlen);

/* Keep the records with keep[i] != 0 (n = ds->n entries), in order.
 * The statistics follow (dropped records count as skipped).  TR_ENOMEM. */
int tr_dataset_keep_records(tr_dataset *ds, const unsigned char *keep, char *err, size_t errlen);

/* Recount ds->stats' kept, train, test and test_complete (and the complete
 * flags) from the records. */
void tr_dataset_recount(tr_dataset *ds);

/* Append records rows[0..n) of ds to b: line, split, id, prompt, task,
 * scores, costs and embedding. */
void tr_records_pack(const tr_dataset *ds, const size_t *rows, size_t n, tr_buf *b);
/* A dataset of every record packed in data (len bytes; the packers used
 * the model list names (M) and the embedding dimension emb_dim), named
 * path.  *out owned by the caller: tr_dataset_free.  TR_EFORMAT on
 * malformed bytes, TR_ENOMEM. */
int tr_records_unpack(const void *data, size_t len, const char *path, char *const *names, size_t M,
                      size_t emb_dim, tr_dataset **out, char *err, size_t errlen);

#endif
