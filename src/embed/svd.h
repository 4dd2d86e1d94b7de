/* Randomised truncated SVD (Halko, Martinsson & Tropp 2011, algorithms 4.4
 * and 5.1) of a sparse n x F matrix: the top-k right singular vectors and
 * singular values, which project a prompt's TF-IDF vector to R^k (latent
 * semantic analysis).  Sparse x dense products are our loops (OpenBLAS has
 * no sparse kernels), split over threads by rows so the result does not
 * depend on the thread count; orthonormalisation and the small SVD are
 * LAPACK.  Signs are fixed (each vector's largest-magnitude component is
 * positive, the first one on ties) so a fit is reproducible as bytes. */
#ifndef TR_SVD_H
#define TR_SVD_H

#include <stddef.h>
#include <stdint.h>

#include "embed/tfidf.h"

typedef struct tr_svd_params {
    int k;              /* singular triplets wanted (capped at min(n, F)) */
    int oversample;     /* extra random directions (>= 0) */
    int power_iters;    /* subspace iterations (>= 0) */
    uint64_t seed;      /* the Gaussian test matrix's seed */
    int threads;        /* >= 1 */
} tr_svd_params;

/* Decompose A (borrowed).  *k_out gets k_eff = min(k, n, F).  *V gets an
 * F x k_eff row-major matrix (row f = feature f's coordinates) and *S k_eff
 * singular values, descending; both tr_malloc'ed and owned by the caller
 * (tr_free).  LAPACK failures come back as TR_EDEP with the routine's info. */
int tr_rsvd(const tr_csr *A, const tr_svd_params *p, float **V, float **S,
            int *k_out, char *err, size_t errlen);

#endif
