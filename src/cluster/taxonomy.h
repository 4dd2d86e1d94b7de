/* The taxonomy report: what discovery found, for people.  Built once from
 * the training prompts' partition and rendered as JSON (the library's
 * output) and Markdown (src/cli/report_md.c). */
#ifndef TR_TAXONOMY_H
#define TR_TAXONOMY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/tasks.h"
#include "data/dataset.h"

typedef struct tr_taxonomy_input {
    const tr_dataset *ds;
    const size_t *idx;          /* training records, n */
    size_t n;
    const float *X;             /* n x dim unit embeddings */
    size_t dim;
    const int32_t *membership;  /* n */
    const tr_tasks *tasks;      /* names, sizes, per-model stats */
    const char *const *models;  /* tasks->n_models names */
    double modularity, resolution;
    const char *algo;
    double clf_accuracy, clf_ece;   /* held-out, NaN when not measured */
    double seconds_embed, seconds_graph, seconds_cluster, seconds_classifier;
    /* prompts the task table counts when it is larger than the n prompts
     * above, which are then a sample (exemplars and label agreement come
     * from it; sizes and shares from the table); 0: n */
    size_t n_total;
} tr_taxonomy_input;

/* The report as a JSON string; *json owned by the caller (tr_free). */
int tr_taxonomy_json(const tr_taxonomy_input *in, char **json, char *err, size_t errlen);

#endif
