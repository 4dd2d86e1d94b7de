/* The taxonomy report: what discovery found, for people.  Built once from
 * the training prompts' partition and rendered as JSON (the library's
 * output) and Markdown with a task x model quality heatmap (cli/report_md.c,
 * eval/heatmap_svg.h).
 *
 * Per task: id, slug, name, keywords, size and share, 3 representative
 * prompts (nearest its centroid), every model's mean quality, cost and
 * labels, the best model and the best value model (the cheapest within
 * TR_VALUE_TOLERANCE of the best) with their qualities.  Overall: counts,
 * modularity, the size histogram, agreement with `task` labels where every
 * prompt has one, and how much of the data outside the training split is
 * out of distribution. */
#ifndef TR_TAXONOMY_H
#define TR_TAXONOMY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/task_names.h"
#include "cluster/tasks.h"
#include "data/dataset.h"

/* Best value: the cheapest model whose mean quality on the task is within
 * this of the best model's (2 points of accuracy buy a lot of cost). */
#define TR_VALUE_TOLERANCE 0.02

typedef struct tr_taxonomy_input {
    const tr_dataset *ds;
    const size_t *idx;          /* training records, n */
    size_t n;
    const float *X;             /* n x dim unit embeddings */
    size_t dim;
    const int32_t *membership;  /* n */
    const tr_tasks *tasks;      /* names, slugs, sizes, per-model stats */
    const tr_task_keywords *keywords; /* per task; NULL: none */
    const char *const *models;  /* tasks->n_models names */
    double modularity, resolution;
    const char *algo;
    double clf_accuracy, clf_ece;   /* held-out, NaN when not measured */
    double seconds_embed, seconds_graph, seconds_cluster, seconds_classifier;
    /* prompts the task table counts when it is larger than the n prompts
     * above, which are then a sample (exemplars and label agreement come
     * from it; sizes and shares from the table); 0: n */
    size_t n_total;
    /* out of distribution (classify/ood.h): the calibrated threshold (NaN:
     * none), its target rate and held-out prompts, and of the prompts
     * outside the training split, how many there are and how many it flags */
    double ood_threshold, ood_fpr;
    size_t ood_calibration, ood_outside, ood_flagged;
} tr_taxonomy_input;

/* The report as a JSON string; *json owned by the caller (tr_free). */
int tr_taxonomy_json(const tr_taxonomy_input *in, char **json, char *err, size_t errlen);

#endif
