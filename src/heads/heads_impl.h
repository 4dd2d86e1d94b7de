/* The layout of tr_heads, shared by heads.c (training, prediction) and
 * heads_io.c (the router file sections).  Internal to heads/. */
#ifndef TR_HEADS_IMPL_H
#define TR_HEADS_IMPL_H

#include "heads/heads.h"

struct tr_heads {
    uint32_t M, T, d, top_k;
    int32_t qv, cv;            /* variants predict uses */
    uint32_t qmask, cmask;     /* bit v set: variant v trained */
    float k0, cost_k0, ridge_alpha;
    /* quality */
    float *prior;              /* T x M shrunk task means, NaN for unlabelled models */
    float *gmean;              /* M */
    float *ridge;              /* M x (d+1), or NULL */
    /* surface features: z = (s - surf_mean) * surf_scale (scale 0 for a
     * feature constant in training); nsurf is 0 or TR_HEADS_SURF */
    uint32_t nsurf;
    float *surf_mean, *surf_scale;   /* nsurf each */
    float rs_alpha;                  /* penalty of ridge_surf */
    float *ridge_surf;               /* M x (d+nsurf+1) on [x, z, 1], or NULL */
    /* kNN store (kNN and kNN-tau share it): training prompts sorted by task */
    uint32_t knn_n, knn_k, knn_tasks;
    float knn_p, knn_k0;
    float knn_mass;            /* stop searching tasks at this probability (HEAD v4; 0: all knn_tasks) */
    uint32_t knn_tau_k;        /* kNN-tau: k and temperature */
    float knn_tau;
    float *knn_X;              /* knn_n x d (HEAD format 1-2), or NULL */
    uint16_t *knn_Xh;          /* the same as half (format 3, half.h), or NULL */
    float *knn_S;              /* knn_n x 2M packed by tr_knn_pack: [scores | labelled] */
    uint32_t *knn_off;         /* T+1: task t's rows are [off[t], off[t+1]) */
    /* kNN-sup (knn_sup.c): z(x) = (prior_soft + ridge(sup_W) - sup_mean) * sup_scale,
     * similarity (x.x_j + b2 z.z_j) / sqrt((1 + b2|z|^2)(1 + b2|z_j|^2)), b2 = sup_w / M */
    float sup_w, sup_alpha;
    float *sup_W;              /* M x (d+1) ridge weights (alpha sup_alpha), or NULL */
    float *sup_mean, *sup_scale;   /* M each */
    float *knn_Z;              /* knn_n x M standardised z of the stored rows, store order */
    float *knn_zn;             /* knn_n: 1 / sqrt(1 + b2 |z_j|^2) */
    /* cost */
    float *ctask;              /* T x M shrunk task mean costs */
    float *cgmean;             /* M */
    float *cab;                /* M x 2 (intercept, USD per prompt byte), or NULL */
    float *cres;               /* T x M residuals of the length model, or NULL */
    float *cmin;               /* M least observed cost, or NULL */
    /* calibration of the chosen quality variant */
    uint8_t *cal_kind;         /* M: TR_CAL_* */
    float *cal_ab;             /* M x 2 Platt parameters */
    uint32_t *cal_off;         /* M+1 offsets into cal_x / cal_y (isotonic knots) */
    float *cal_x, *cal_y;
    float ece_raw, ece_cal;    /* out-of-fold ECE before / after (10 bins) */
    /* selection tables */
    uint32_t n_budget;
    float *b_lambda, *b_cost, *b_quality;
    uint32_t n_risk, risk_n;   /* thresholds; calibration prompts */
    float risk_delta;
    float *r_t, *r_ucb;
    tr_select_tables tabs;     /* views of the arrays above */
    /* the default policy fitted at training (select_tables.c); not in the
     * heads' sections: training writes it to the router's config */
    int dp_ok;
    tr_policy_estimate dp;
    /* cross-validation figures */
    uint32_t n_cv;
    tr_heads_cvrow *cvrows;
    uint32_t fmt;              /* HEAD format it was loaded in, 2 for 1 (0: trained); heads_io.c */
};

/* 1 when a kNN search reads the whole store as one segment: knn_tasks 0,
 * or every task (knn_tasks >= T) with no probability mass to stop at.
 * Routing and the CV both ask here, so they search alike. */
static inline int tr_knn_whole_store(const struct tr_heads *h)
{
    int stops = h->knn_mass > 0 && h->knn_mass < 1;
    return h->knn_tasks == 0 || (h->knn_tasks >= h->T && !stops);
}

#define TR_QV_BIT(v) (1u << (v))
/* the variants that read the kNN store */
#define TR_QV_KNN_MASK (TR_QV_BIT(TR_QV_KNN) | TR_QV_BIT(TR_QV_KNN_TAU) | TR_QV_BIT(TR_QV_KNN_SUP) \
                        | TR_QV_BIT(TR_QV_KNN_SUP_RIDGE))

/* Allocate h's arrays for its M, T, d, nsurf and masks (zeroed).  TR_OK/TR_ENOMEM. */
int tr_heads_alloc_parts(tr_heads *h);
/* Store the rows (nrows of them, NULL = all n) as h's kNN index, sorted by
 * task label y, the embeddings rounded to half (knn_Xh).  Replaces any
 * previous store.  TR_OK / TR_ENOMEM. */
int tr_heads_knn_store(tr_heads *h, const float *X, const float *S, const int32_t *y,
                       const size_t *rows, size_t nrows);
/* kNN-sup (knn_sup.c).  Standardised z of one prompt into z (M); corr: M
 * floats of scratch; raw (M, or NULL): the prior+ridge prediction z is
 * standardised from, clipped to [0, 1] (NaN for a model without labels),
 * kNN-sup-ridge's shrinkage target.  Needs sup_W, sup_mean, sup_scale. */
void tr_heads_sup_z(const tr_heads *h, const float *x, const float *p_task, float *z, float *corr, float *raw);
/* Fit the standardisation on the rows (NULL = all n) and store their z in
 * the kNN store's order (the stable sort by y of tr_heads_knn_store): call
 * after it, with sup_W set.  TR_OK / TR_ENOMEM. */
int tr_heads_sup_store(tr_heads *h, const float *X, const float *P, const int32_t *y,
                       const size_t *rows, size_t nrows);
/* Similarities in the supervised space over the segments: sims (in: the
 * embedding cosines of tr_knn_sims, out: the supervised ones), zq the
 * prompt's z, zs: as many floats as candidates of scratch. */
void tr_heads_sup_sims(const tr_heads *h, const uint32_t *lo, const uint32_t *hi, size_t nseg,
                       const float *zq, float *sims, float *zs);

/* Point h->tabs at the tables. */
void tr_heads_bind_tables(tr_heads *h);

#endif
