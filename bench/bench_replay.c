/* Replay benchmark of online learning (route/online.c): stream the EVAL.md test
 * split of a dataset in file order, route each prompt, reveal only the chosen
 * model's score, update; compare cumulative quality and cost with the
 * offline router (same router, no updates) and the oracle, at one λ.
 *
 *   build/bench/bench_replay DATA.jsonl [--lambda L] [--drop-model NAME]
 *                            [--svg out.svg] [--policy thompson|ucb]
 *                            [--explore SHARE] [--prior N]
 *
 * --drop-model: the cold-start case.  The router is trained with that
 * model's labels removed (it knows the name, the heads predict nothing for
 * it); the replay then offers it, priced at its mean training cost (the
 * operator's price list), and online mode must learn whether to use it.
 * λ defaults to 0.1 / (mean training cost over models).  The SVG plots the
 * cumulative mean quality against the number of prompts seen (log axis). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/util.h"
#include "data/dataset.h"
#include "eval/plot_svg.h"
#include "heads/select.h"
#include "route/online.h"
#include "router/router.h"
#include "taskroute.h"

extern char *openblas_get_config(void);

typedef struct run { double q, c; size_t used_drop; } run;

int main(int argc, char **argv)
{
    double explore = -1, prior = 0;   /* --explore SHARE, --prior N: override the library defaults */
    const char *data = NULL, *svg = NULL, *drop = NULL;
    double lambda = -1;
    int policy = TR_ONLINE_THOMPSON;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lambda") && i + 1 < argc) lambda = atof(argv[++i]);
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc) svg = argv[++i];
        else if (!strcmp(argv[i], "--drop-model") && i + 1 < argc) drop = argv[++i];
        else if (!strcmp(argv[i], "--policy") && i + 1 < argc) policy = !strcmp(argv[++i], "ucb");
        else if (!strcmp(argv[i], "--explore") && i + 1 < argc) explore = atof(argv[++i]);
        else if (!strcmp(argv[i], "--prior") && i + 1 < argc) prior = atof(argv[++i]);
        else if (!data) data = argv[i];
        else { fprintf(stderr, "usage: bench_replay DATA.jsonl [--lambda L] [--drop-model M] [--svg F] [--policy P]\n"); return 2; }
    }
    if (!data) { fprintf(stderr, "usage: bench_replay DATA.jsonl [...]\n"); return 2; }
    char err[1024];
    tr_dataset *ds = NULL;
    if (tr_dataset_load(data, NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    size_t M = ds->n_models;
    /* keep the true labels of the test rows; blank the dropped model's training labels */
    int dm = drop ? tr_dataset_find_model(ds, drop) : -1;
    if (drop && dm < 0) { fprintf(stderr, "no model %s\n", drop); return 1; }
    double drop_cost = 0;
    size_t ndc = 0;
    double csum = 0;
    size_t cn = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->rec[i].is_test) continue;
        for (size_t m = 0; m < M; m++) {
            float c = ds->costs[i * M + m];
            if (!isnan(c)) { csum += c; cn++; }
        }
        if (dm >= 0) {
            float c = ds->costs[i * M + (size_t)dm];
            if (!isnan(c)) { drop_cost += c; ndc++; }
            ds->scores[i * M + (size_t)dm] = NAN;
            ds->costs[i * M + (size_t)dm] = NAN;
        }
    }
    if (lambda < 0) lambda = 0.1 / (csum / (double)(cn ? cn : 1));
    tr_train_options o;
    tr_train_options_default(&o);
    tr_router *r = NULL;
    double t0 = tr_now();
    if (tr_train(ds, &o, &r, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    double t_train = tr_now() - t0;
    tr_online_params op;
    tr_online_params_default(&op);
    op.policy = policy;
    if (explore >= 0) op.max_explore_share = explore;
    if (prior > 0) op.prior_strength = prior;
    tr_online *ol = NULL;
    if (tr_online_new(r, &op, &ol, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    int rdm = dm >= 0 ? tr_router_find_model(r, drop) : -1;
    if (rdm >= 0) tr_online_set_cost(ol, drop, drop_cost / (double)(ndc ? ndc : 1));
    size_t *test = NULL, nt = 0;
    tr_dataset_test_indices(ds, &test, &nt);
    tr_scratch *s = NULL;
    tr_scratch_new(r, &s);
    int *rm = malloc(M * sizeof *rm);
    for (size_t m = 0; m < M; m++) rm[m] = tr_router_find_model(r, ds->models[m]);
    run off = {0, 0, 0}, on = {0, 0, 0}, orc = {0, 0, 0};
    tr_point *c_off = malloc(nt * sizeof *c_off), *c_on = malloc(nt * sizeof *c_on), *c_orc = malloc(nt * sizeof *c_orc);
    size_t npts = 0, explored = 0;
    tr_route_options ro;
    tr_route_options_default(&ro);
    ro.value = lambda;
    for (size_t k = 0; k < nt; k++) {
        size_t i = test[k];
        tr_decision d;
        if (tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, &ro, s, &d)) continue;
        int mo = d.model;
        tr_online_choice ch;
        if (tr_online_choose(ol, &d, lambda, NULL, &ch)) ch.model = mo;
        explored += ch.explored;
        /* the dataset column of a router model */
        size_t jo = 0, jn = 0;
        for (size_t m = 0; m < M; m++) {
            if (rm[m] == mo) jo = m;
            if (rm[m] == ch.model) jn = m;
        }
        double so = ds->scores[i * M + jo], sn = ds->scores[i * M + jn];
        off.q += so; off.c += ds->costs[i * M + jo];
        on.q += sn; on.c += ds->costs[i * M + jn];
        on.used_drop += ch.model == rdm && rdm >= 0;
        tr_online_update(ol, d.task, ch.model, d.quality[ch.model], sn);
        size_t b = 0;
        for (size_t m = 1; m < M; m++) {
            double x = ds->scores[i * M + m], y = ds->scores[i * M + b];
            if (x > y || (x == y && ds->costs[i * M + m] < ds->costs[i * M + b])) b = m;
        }
        orc.q += ds->scores[i * M + b];
        orc.c += ds->costs[i * M + b];
        npts++;
        c_off[k].cost = c_on[k].cost = c_orc[k].cost = (double)npts;
        c_off[k].quality = off.q / (double)npts;
        c_on[k].quality = on.q / (double)npts;
        c_orc[k].quality = orc.q / (double)npts;
    }
    double n = (double)npts;
    printf("dataset %s, %zu test prompts replayed in order, lambda %.6g, policy %s%s%s\n", data, npts, lambda,
           policy ? "ucb" : "thompson", drop ? ", cold-start model " : "", drop ? drop : "");
    printf("train %.1f s; openblas %s\n", t_train, openblas_get_config());
    printf("| router | mean quality | mean cost | explored | cold model chosen |\n|---|---:|---:|---:|---:|\n");
    printf("| offline (no updates) | %.4f | %.6g | 0 | - |\n", off.q / n, off.c / n);
    printf("| online | %.4f | %.6g | %zu | %zu |\n", on.q / n, on.c / n, explored, on.used_drop);
    printf("| oracle | %.4f | %.6g | - | - |\n", orc.q / n, orc.c / n);
    if (svg) {
        tr_plot_series ser[3] = {{"offline", c_off, npts, NULL, 0}, {"online", c_on, npts, NULL, 0},
                                 {"oracle", c_orc, npts, NULL, 0}};
        tr_plot p = {"Cumulative mean quality (x: prompts seen, log axis)", ser, 3, NULL, 0};
        if (tr_plot_svg_write(&p, svg, err, sizeof err)) fprintf(stderr, "%s\n", err);
    }
    free(c_off); free(c_on); free(c_orc); free(rm);
    tr_free(test);
    tr_scratch_free(s);
    tr_online_free(ol);
    tr_router_close(r);
    tr_dataset_free(ds);
    return 0;
}
