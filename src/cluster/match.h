/* Matching the tasks of a new training run to those of the current router,
 * so task ids stay stable across scheduled retrains.
 *
 * Two signals say "new task b is old task a": their centroids point the same
 * way (cosine, both in the old router's embedding space), and the new prompts
 * of b are the ones the old classifier files under a (overlap, as a Dice
 * share).  Their weighted sum is the pair's score; an optimal one-to-one
 * assignment maximises the total score (igraph's weighted bipartite
 * matching, serialised by igraph_glue.h), and a pair below min_score is no
 * match: that new task is "added", that old task "vanished".  The same
 * overlap table also shows splits (one old task's prompts now mostly in two
 * new ones) and merges (two old tasks mostly in one new one). */
#ifndef TR_MATCH_H
#define TR_MATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_match_params {
    double centroid_weight; /* weight of the cosine; 1 - it for the overlap [0.5] */
    double min_score;       /* below this a pair is no match [0.35] */
    double part_share;      /* split/merge: each of the two parts holds >= this share [0.2] */
    double pair_share;      /* ... and the two together >= this share [0.6] */
    size_t min_prompts;     /* split/merge need at least this many prompts [10] */
} tr_match_params;

void tr_match_params_default(tr_match_params *p);

typedef struct tr_match_input {
    size_t T_old, T_new, dim;
    const float *old_centroids;  /* T_old x dim, unit (zero rows allowed) */
    const float *new_centroids;  /* T_new x dim, unit, in the old space */
    /* T_old x T_new: prompts of the new run that the old classifier puts in
     * old task a and the new clustering in new task b. */
    const uint32_t *overlap;
} tr_match_input;

/* A split (one old task into two new ones) or a merge (two old into one). */
typedef struct tr_match_event {
    int32_t one;            /* the old task (split) or the new task (merge), by index */
    int32_t two[2];         /* the two new (split) or old (merge) tasks, by index */
    double share[2];        /* share of 'one's prompts in each of them */
} tr_match_event;

typedef struct tr_match_result {
    size_t T_old, T_new;
    int32_t *new_to_old;    /* T_new: matched old index or -1 */
    int32_t *old_to_new;    /* T_old: matched new index or -1 */
    double *score;          /* T_old x T_new combined score */
    double *cosine;         /* T_old x T_new centroid cosine */
    double *dice;           /* T_old x T_new overlap Dice share */
    double total;           /* sum of matched scores */
    size_t n_matched;
    tr_match_event *splits, *merges;
    size_t n_splits, n_merges;
} tr_match_result;

/* Match in's tasks.  in and p (NULL = defaults) borrowed; *out's arrays are
 * owned by *out: tr_match_result_clear.  TR_EINVAL on empty input, TR_EDEP
 * when igraph fails (its message in err), TR_ENOMEM. */
int tr_match_tasks(const tr_match_input *in, const tr_match_params *p, tr_match_result *out,
                   char *err, size_t errlen);
void tr_match_result_clear(tr_match_result *r);

#endif
