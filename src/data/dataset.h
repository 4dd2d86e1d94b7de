/* The in-memory routing dataset (internal view of the public tr_dataset).
 * Scores and costs are dense n x n_models float matrices with NaN for "no
 * label": training skips NaN per model, never imputes it. */
#ifndef TR_DATASET_H
#define TR_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

typedef struct tr_record {
    char *id;
    char *prompt;          /* NUL-terminated UTF-8 (validated) */
    size_t prompt_len;     /* bytes, without the NUL */
    char *task;            /* human label, NULL when absent; never a router input */
    uint32_t line;         /* 1-based line in the source file */
    bool is_test;          /* docs/evaluation.md split: fnv1a64(id) % 5 == 0 */
    bool complete;         /* a score and a cost for every model */
} tr_record;

struct tr_dataset {
    char *path;            /* as given to tr_dataset_load ("-" for stdin) */
    size_t n, cap;
    tr_record *rec;
    size_t n_models;
    char **models;         /* names, in order of first appearance */
    float *scores;         /* n x n_models row-major, NaN = no label */
    float *costs;          /* n x n_models row-major, NaN = no cost */
    size_t emb_dim;        /* 0 unless records carry an "embedding" array */
    float *emb;            /* n x emb_dim, or NULL */
    tr_load_stats stats;
};

/* Score / cost of record i for model m (NaN when absent). */
static inline float tr_ds_score(const tr_dataset *ds, size_t i, size_t m) { return ds->scores[i * ds->n_models + m]; }
static inline float tr_ds_cost(const tr_dataset *ds, size_t i, size_t m) { return ds->costs[i * ds->n_models + m]; }

/* Indices of the records in the training split (or all records when use_all),
 * and of the complete test records.  *idx is tr_malloc'ed, owned by the caller. */
int tr_dataset_train_indices(const tr_dataset *ds, int use_all, size_t **idx, size_t *n);
int tr_dataset_test_indices(const tr_dataset *ds, size_t **idx, size_t *n);

/* The evaluation protocol's k-fold: fold f of K (2 <= K, f < K) is the records with
 * fnv1a64(id) % K == f.  test 0: the fold's training part, every record
 * outside it; test 1: its test set, the complete records in it.  (5, 0) is
 * the split above.  *idx as above; TR_EINVAL for a bad K or f. */
int tr_dataset_fold_indices(const tr_dataset *ds, unsigned K, unsigned f, int test, size_t **idx, size_t *n);

/* Index of model 'name' or -1.  Borrows both. */
int tr_dataset_find_model(const tr_dataset *ds, const char *name);

/* tr_dataset_load over a buffer already in memory (the fuzz target, tests):
 * len bytes of routing JSONL, need not be NUL-terminated; 'name' stands for
 * the path in messages (NULL: "<memory>").  Borrows buf, name, opt.  *out is
 * owned by the caller: tr_dataset_free. */
int tr_dataset_load_mem(const char *buf, size_t len, const char *name,
                        const tr_load_options *opt, tr_dataset **out,
                        char *err, size_t errlen);

/* Load the lines of path's bytes [begin, end) (both at line starts; see
 * dist/byte_range.h), numbering them from first_line in messages and
 * records, as one part of a file split between processes: an empty part
 * is a dataset of 0 records, and the check that refuses a model labelled in
 * only one record is left to the caller, who sees every part.  Otherwise
 * as tr_dataset_load.  *out owned by the caller: tr_dataset_free. */
int tr_dataset_load_range(const char *path, uint64_t begin, uint64_t end, uint32_t first_line,
                          const tr_load_options *opt, tr_dataset **out, char *err, size_t errlen);

#endif
