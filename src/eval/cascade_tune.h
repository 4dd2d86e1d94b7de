/* Offline figures and thresholds of the verified cascade (route/cascade.h)
 * on labelled data that carries the verifier's confidence per answer.
 *
 * Per prompt the cascade walks its chain: the model answers (its cost is
 * paid), the verifier judges (verify_cost_share x the model's cost is
 * paid too: self-verification re-reads the prompt and the answer), and a
 * confidence below `threshold` escalates to the next model, at most
 * max_steps models in all; the last model allowed is never verified, nor
 * is any answer under a threshold of 0 (it would be accepted anyway).  A
 * missing confidence (NaN) is a verifier failure: the answer stands, as in
 * the server, which then answers with plain routing's model.
 *
 * Tuning tries every (start, threshold) of a fixed grid on the rows chosen,
 * where a start is a tolerance or the router's own choice (plain routing's
 * model, heads/select.h's tr_select_lambda), keeps the one of highest mean
 * quality - lambda x mean cost (ties: the cheaper), and gives every grid
 * point as a sweep for the protocol's figures (a hull, Q@C_best, AIQ).
 * The router's choice at threshold 0 is plain routing itself, so on the
 * tuning rows the tuned cascade never does worse than plain routing. */
#ifndef TR_EVAL_CASCADE_TUNE_H
#define TR_EVAL_CASCADE_TUNE_H

#include <stddef.h>

#include "base/eval_metrics.h"

typedef struct tr_cascade_data {
    size_t n, m;              /* prompts, models */
    const float *qhat, *chat; /* n x m predicted quality and cost (the router's) */
    const float *q, *c;       /* n x m realised quality and cost */
    const float *v;           /* n x m verifier confidence in [0, 1], NaN none */
    double verify_cost_share; /* >= 0 */
    double lambda;            /* plain routing's: where a chain from the router's choice starts */
} tr_cascade_data;

typedef struct tr_cascade_params {
    double tolerance;         /* the first model's distance from the best prediction */
    double threshold;         /* accept when confidence >= threshold */
    int max_steps;            /* models that may answer, >= 1 */
    int from_router;          /* 1: the chain starts at the router's choice (tolerance unused) */
} tr_cascade_params;

typedef struct tr_cascade_outcome {
    double quality, cost;     /* means over the rows */
    double escalated;         /* share of prompts answered by a later model than the first */
    double steps;             /* mean models that answered */
    size_t n;                 /* rows used */
} tr_cascade_outcome;

/* rows: n flags choosing the prompts, or NULL (all). */
void tr_cascade_simulate(const tr_cascade_data *d, const tr_cascade_params *p, const unsigned char *rows,
                         tr_cascade_outcome *out);

/* The grid's size ((tolerances + the router's choice) x thresholds). */
size_t tr_cascade_grid_size(void);
/* Grid point g: its start and threshold (max_steps left as it is). */
void tr_cascade_grid_point(size_t g, tr_cascade_params *p);

/* Tune on rows (NULL: all) for quality - lambda x cost, with max_steps
 * fixed.  *best the caller's; sweep: the caller's array of
 * tr_cascade_grid_size() points (mean cost, mean quality) or NULL.
 * TR_OK, or TR_EINVAL (no rows, lambda not finite, max_steps < 1). */
int tr_cascade_tune(const tr_cascade_data *d, const unsigned char *rows, double lambda, int max_steps,
                    tr_cascade_params *best, tr_point *sweep);

/* AutoMix's incremental benefit per cost of a point (q, c) over the
 * cheapest single model (q_slm, c_slm), relative to the straight line to
 * the best single model (q_llm, c_llm), in percent:
 * ((q - q_slm)/(c - c_slm)) / ((q_llm - q_slm)/(c_llm - c_slm)) x 100 - 100.
 * NaN when a denominator is 0. */
double tr_cascade_dibc(double q, double c, double q_slm, double c_slm, double q_llm, double c_llm);

#endif
