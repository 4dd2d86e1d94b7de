/* Online learning from feedback on top of a trained router (off by
 * default; the server hooks it in).
 *
 * Per task and model a Beta posterior over the task-level quality θ.  Its
 * prior mean q0 is the router's task-level quality for that model (the mean
 * the heads shrink their prediction to) with pseudo-count prior_strength; a
 * model the heads cannot predict (no labels at training: a model added
 * since) starts from Beta(1, 1) and needs a price (tr_online_set_cost).
 * Feedback arrives for the chosen model only.  To keep the posterior free of
 * selection bias (a model is chosen where q̂ is high), an observed score s
 * on a prompt with prediction q̂ updates the posterior with the pseudo-
 * outcome y = clamp(q0 + s − q̂, 0, 1) as a fractional Bernoulli (a += y,
 * b += 1 − y); with no q̂, y = s.
 *
 * Deciding: q_online(x, m) = clamp(q̂(x, m) + θ_m − q0_m, 0, 1) (θ_m alone
 * when q̂ is missing), where θ_m is a posterior sample (Thompson) or the
 * posterior mean plus ucb_c standard deviations (UCB); the exploit choice
 * uses the posterior mean.  Exploration is bounded twice: only models whose
 * predicted cost is <= (1 + explore_cost_eps) × the exploit choice's cost
 * may be explored, and at most max_explore_share of decisions may differ
 * from the exploit choice.
 *
 * State persists across restarts as a small JSON file written atomically
 * (temporary file, fsync, rename), keyed by stable task id and model name:
 *   {"format":1,"policy":"thompson","decisions":N,"explored":E,
 *    "costs":{"model":usd,...},
 *    "entries":[{"task_id":3,"model":"m","a":5.2,"b":3.1,"n":4,"q0":0.61},...]}
 * Entries whose task id or model the router no longer has are dropped on
 * load.  One mutex per state: choose and update may run on any threads. */
#ifndef TR_ONLINE_H
#define TR_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "taskroute.h"

typedef enum tr_online_policy { TR_ONLINE_THOMPSON = 0, TR_ONLINE_UCB = 1 } tr_online_policy;

typedef struct tr_online_params {
    int policy;               /* tr_online_policy [TR_ONLINE_THOMPSON] */
    double prior_strength;    /* pseudo-count of the prior from the router [50] */
    double ucb_c;             /* UCB: standard deviations above the mean [1] */
    double explore_cost_eps;  /* explore among cost <= (1+eps) × exploit's; < 0: no bound [0.5] */
    double max_explore_share; /* at most this share of decisions explore [0.05] */
    uint64_t seed;            /* [42] */
} tr_online_params;

void tr_online_params_default(tr_online_params *p);

typedef struct tr_online tr_online;

/* A fresh state for r (borrowed; only its shape, task ids, model names and
 * task quality are read).  p NULL = defaults.  *out owned by the caller:
 * tr_online_free. */
int tr_online_new(const tr_router *r, const tr_online_params *p, tr_online **out, char *err, size_t errlen);
void tr_online_free(tr_online *o);   /* NULL: no-op */

/* A price (USD per query) for a model whose cost the router cannot predict.
 * TR_ENOTFOUND when the router has no such model. */
int tr_online_set_cost(tr_online *o, const char *model, double usd);

typedef struct tr_online_choice {
    int model;                /* chosen model (router index), -1 when none is usable */
    int exploit;              /* what the posterior mean alone would choose */
    int explored;             /* 1: model != exploit */
    float q_online;           /* the chosen model's online quality */
} tr_online_choice;

/* Choose for a decision d of tr_route on the router o was made for: argmax
 * q_online − λ c over allowed models (NULL: all).  Borrows d, allowed. */
int tr_online_choose(tr_online *o, const tr_decision *d, double lambda, const unsigned char *allowed,
                     tr_online_choice *out);

/* Feedback: model (router index) chosen on a prompt of task (router index)
 * with predicted quality q_hat (NaN if none) scored 'score' in [0, 1]. */
int tr_online_update(tr_online *o, int task, int model, double q_hat, double score);

/* The posterior of (task, model): *a, *b (Beta parameters), *n feedback count. */
int tr_online_posterior(tr_online *o, int task, int model, double *a, double *b, double *n);
/* Decisions and explorations so far. */
void tr_online_counts(tr_online *o, uint64_t *decisions, uint64_t *explored);

/* Persist (atomic) / restore for router r.  Borrow their arguments; *out
 * owned by the caller: tr_online_free.  Load: TR_EIO, TR_EFORMAT (with the
 * field named), TR_ENOMEM. */
int tr_online_save(tr_online *o, const char *path, char *err, size_t errlen);
int tr_online_load(const char *path, const tr_router *r, const tr_online_params *p, tr_online **out,
                   char *err, size_t errlen);

/* What a load or rebase kept and dropped (entries whose task id or model
 * the router does not have). */
typedef struct tr_online_carry {
    size_t kept, dropped;
    char first_dropped[160];  /* "task 7 / model m" of the first dropped entry, or "" */
} tr_online_carry;

/* tr_online_load that also says what it dropped (rep may be NULL). */
int tr_online_load_report(const char *path, const tr_router *r, const tr_online_params *p, tr_online **out,
                          tr_online_carry *rep, char *err, size_t errlen);
/* A state for router r (a hot-reloaded one) carrying over old's posteriors,
 * prices and counters for the task ids and model names r still has; old's
 * parameters are kept.  Borrows old (not modified) and r; *out owned by the
 * caller: tr_online_free. */
int tr_online_rebase(tr_online *old, const tr_router *r, tr_online **out, tr_online_carry *rep,
                     char *err, size_t errlen);
/* The parameters o was made with (copied into *p). */
void tr_online_get_params(tr_online *o, tr_online_params *p);

/* A Beta(a, b) draw from rng (exposed for tests).  a, b > 0. */
struct tr_rng;
double tr_beta_sample(struct tr_rng *rng, double a, double b);

#endif
