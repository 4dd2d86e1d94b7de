/* A synthetic routing dataset that behaves like real traffic: latent task
 * types with their own vocabulary and templates, models whose quality
 * depends on the task, per-prompt difficulty, token-priced costs, label noise
 * and missing labels.  Used for the demo data (data/demo.jsonl) and tests. */
#ifndef TR_SYNTH_H
#define TR_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#define TR_SYNTH_MAX_TASKS 12
#define TR_SYNTH_MAX_MODELS 8

typedef struct tr_synth_options {
    size_t prompts;   /* records written [4000] */
    int models;       /* 1..TR_SYNTH_MAX_MODELS, cheapest first [6] */
    int tasks;        /* 1..TR_SYNTH_MAX_TASKS latent task types [12] */
    uint64_t seed;    /* [42] */
    double missing;   /* probability a (prompt, model) label is absent [0.03] */
    double noise;     /* probability a score is replaced by noise [0.03] */
} tr_synth_options;

/* Fill *o with the defaults in brackets above.  o is the caller's. */
void tr_synth_options_default(tr_synth_options *o);

/* Write the dataset as routing JSONL to f (borrowed; not closed).  The bytes
 * depend only on *o: the same options give the same file on every platform.
 * TR_EINVAL (bad option, message says which), TR_ENOMEM, TR_EIO. */
int tr_synth_write(const tr_synth_options *o, FILE *f, char *err, size_t errlen);

/* Name and price (USD per 1k tokens) of synthetic model m, cheapest first,
 * for tests and docs.  Static strings; NULL past the last model. */
const char *tr_synth_model_name(int m);
double tr_synth_model_price(int m);
/* Name of synthetic task t.  Static string; NULL past the last task. */
const char *tr_synth_task_name(int t);

#endif
