/* The heads' parameters that are functions of sums over prompts, as sums:
 * task priors of quality and cost, the length cost model, the surface
 * features' standardisation and the ridge heads' normal equations.  Add
 * any number of row blocks (on as many machines as you like), add the
 * sums up, and apply them to heads trained on a sample: the parameters
 * become those of the final fit on every row, while what cross-validation
 * chose on the sample (variants, penalties, calibration, selection tables)
 * stays.  The kNN store is a capped sample per task, not a sum:
 * tr_heads_set_knn_store takes its rows.
 *
 * The ridge systems are linear in the sums.  With u = [x, v, 1], v the
 * surface features shifted and scaled by the sample's standardisation
 * (so the sums stay well conditioned), every row adds u u^T to the Gram
 * matrix of all rows and to that of each model it has no score for;
 * model m's system is (all - its unlabelled) and its right-hand side
 *   sum_i (S_im - prior[y_i, m]) u_i = sum_i S_im u_i - sum_t prior[t, m] sum_{i in t} u_i,
 * so the prior, known only once every row is counted, enters after the
 * reduction.  The standardisation z = (s - mean) * scale is an affine map
 * of u, applied to the reduced matrices. */
#ifndef TR_HEADS_SUMS_H
#define TR_HEADS_SUMS_H

#include <stddef.h>
#include <stdint.h>

#include "heads/heads.h"

typedef struct tr_heads_sums {
    size_t T, M, d, nsurf;
    size_t D;              /* d + nsurf + 1: the length of u; 0 without ridge heads */
    /* Everything reduced by addition, one array (for one MPI_Allreduce);
     * the pointers below are views into it. */
    double *sum;
    size_t n_sum;
    double *ns, *ss;       /* T x M: scored rows, sum of scores */
    double *nc, *sc, *sl;  /* T x M: costed rows, sum of costs, sum of their lengths */
    double *len5;          /* M x 5: costed rows' count, sum l, sum c, sum l^2, sum l c */
    double *G;             /* (M+1) x D x D, upper triangles: [0] every row, [1+m] rows without m's score */
    double *R;             /* M x D: sum of S_im u_i */
    double *U;             /* T x M x D: sum of u_i over task t's rows scored for m */
    /* Reduced by minimum: M least costs (INFINITY when none). */
    double *cmin;
    /* the sample's standardisation of the surface features, fixed at init */
    float *v_shift, *v_scale;
} tr_heads_sums;

/* Zeroed sums shaped for heads h (trained on a sample): its tasks, models,
 * dimension and the parts it has.  s is the caller's; free with
 * tr_heads_sums_free.  TR_ENOMEM with a message. */
int tr_heads_sums_init(tr_heads_sums *s, const tr_heads *h, char *err, size_t errlen);
void tr_heads_sums_free(tr_heads_sums *s);

/* Add n rows: X (n x d unit embeddings), surf (n x TR_HEADS_SURF raw
 * surface features; may be NULL when the heads read none), S and C (n x M
 * scores and costs, NaN = none), L (n prompt lengths; NULL when the heads
 * have no length cost model), y (n tasks in [0, T)).  All borrowed.
 * TR_ENOMEM, or TR_EINVAL for a task out of range or missing inputs. */
int tr_heads_sums_add(tr_heads_sums *s, const float *X, const float *surf, const float *S,
                      const float *C, const float *L, const int32_t *y, size_t n,
                      char *err, size_t errlen);

/* Replace h's priors, global means, cost model, surface standardisation and
 * ridge weights (every penalty h uses: the ridge head's, the ridge-surface
 * head's, kNN-sup's) with the fit on the summed rows.  Call with the sums
 * of every row; kNN-sup's store must be rebuilt after it
 * (tr_heads_set_knn_store), since its z depend on the new ridge.
 * TR_EDEP (LAPACK) or TR_ENOMEM with a message. */
int tr_heads_sums_apply(tr_heads *h, const tr_heads_sums *s, char *err, size_t errlen);

/* 1 when h keeps a kNN store (a kNN variant was trained). */
int tr_heads_has_knn_store(const tr_heads *h);

/* Replace h's kNN store with n rows: X (n x d), S (n x M scores), P (n x T
 * task probabilities, read by kNN-sup), y (n tasks).  Rows keep their
 * order within a task.  Borrowed.  TR_ENOMEM. */
int tr_heads_set_knn_store(tr_heads *h, const float *X, const float *S, const float *P,
                           const int32_t *y, size_t n, char *err, size_t errlen);

#endif
