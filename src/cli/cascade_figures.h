/* The verified cascade's figures on data with verifier confidences
 * (cmd_tune_cascade.c), shared by `tune-cascade` and `eval`. */
#ifndef TR_CLI_CASCADE_FIGURES_H
#define TR_CLI_CASCADE_FIGURES_H

#include <cJSON.h>

#include "taskroute.h"

typedef struct tr_cascade_opts {
    double lambda;              /* NaN: the router's default policy's */
    long max_steps, k;
    double verify_cost_share;
} tr_cascade_opts;

/* Tune on ds's training split, score on its test split (docs/cascade.md).
 * 0 and *out (the cascade file's JSON, with "tuned" figures; cJSON_Delete),
 * 1 when dpath holds no "verify" confidences, -1 on an error (printed,
 * prefixed by cmd). */
int cli_cascade_figures(const char *cmd, const tr_router *r, const tr_dataset *ds, const char *rpath,
                        const char *dpath, const tr_cascade_opts *opts, cJSON **out);
/* The figures as a table on stdout. */
void cli_cascade_print(const cJSON *res);

#endif
