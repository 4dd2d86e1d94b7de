/* Out-of-distribution detection: is a prompt unlike every task the router
 * was trained on?
 *
 * Two signals, each free on the routing path:
 *   energy  the task classifier's -log sum_t exp(logit_t) (Liu et al.,
 *           "Energy-based out-of-distribution detection", 2020): a prompt
 *           like some task's training prompts has a large logit for it, one
 *           like none only small ones; larger = more out of distribution.
 *           The softmax computes the log-sum-exp anyway.
 *   kept    the share of the prompt's TF-IDF vector the embedder's
 *           projection keeps (embed/embedder.h): words and pieces the
 *           training prompts never used fall outside it; smaller = more out
 *           of distribution.  Text in a script or jargon training never saw
 *           has a low kept share however the classifier files it.  Absent
 *           for caller-supplied embeddings.
 * Each is put on a common scale by its held-out median and tail spread
 * (the 95th percentile's distance from the median for energy, the 5th's
 * for kept), and the score is the larger:
 *     score = max((energy - e_center) / e_scale, (k_center - kept) / k_scale)
 * so larger = more out of distribution, and a prompt is out of
 * distribution when score > threshold.
 *
 * Calibration uses held-out training prompts: energies from classifiers
 * that did not see them (in-sample energies are lower than a new
 * prompt's), kept shares corrected for the projection having been fitted
 * on them (tr_embedder_kept_loo); the threshold is the score a share
 * TR_OOD_FPR of them lie above.  It lives in the router's CONF JSON as
 *   "ood": {"score": "energy+kept" | "energy", "threshold", "energy_center",
 *           "energy_scale", "kept_center", "kept_scale", "fpr",
 *           "calibration_prompts"}
 * and a router file written before it has none: its decisions are never
 * flagged.  Measured on held-out domains: bench/RESULTS.md,
 * "Out-of-distribution". */
#ifndef TR_OOD_H
#define TR_OOD_H

#include <math.h>
#include <stddef.h>

#include <cJSON.h>

/* The share of in-distribution prompts a router flags: the calibration
 * target. */
#define TR_OOD_FPR 0.05

typedef struct tr_ood {
    int calibrated;          /* 0: no threshold (an older file): never flag */
    int use_kept;            /* 0: energy alone (no embedder) */
    float e_center, e_scale, k_center, k_scale;
    float threshold;
    size_t n_calibration;    /* held-out prompts it was calibrated on */
    double fpr;              /* its target rate */
} tr_ood;

/* The score of a prompt (see above); kept is ignored without use_kept, and
 * a NaN kept (a caller-supplied embedding) leaves the energy alone. */
static inline float tr_ood_score(const tr_ood *o, float energy, float kept)
{
    float s = (energy - o->e_center) / o->e_scale;
    if (o->use_kept && !isnan(kept)) {
        float k = (o->k_center - kept) / o->k_scale;
        if (k > s) s = k;
    }
    return s;
}

/* Out of distribution by o: calibrated and the score above the threshold. */
static inline int tr_ood_flag(const tr_ood *o, float score) { return o->calibrated && score > o->threshold; }

/* Calibrate on the held-out prompts i < n where energy[i] is finite:
 * kept (NULL: energy alone) holds their kept shares (leave-one-out
 * corrected).  fpr in (0, 1).  *out is the caller's.  TR_ETOOFEW with fewer
 * than 20 such prompts, TR_EINVAL for a bad fpr, TR_ENOMEM. */
int tr_ood_fit(const float *energy, const float *kept, size_t n, double fpr, tr_ood *out, char *err, size_t errlen);

/* The "ood" object for the CONF JSON (owned by the caller: cJSON_Delete);
 * NULL when out of memory. */
cJSON *tr_ood_config(const tr_ood *o);

/* The calibration stored in a router's CONF JSON (its text, borrowed) into
 * *out; out->calibrated = 0 when there is none (a file that predates it) or
 * it is malformed. */
void tr_ood_from_config(const char *config_json, tr_ood *out);

#endif
