/* Scheduled retraining from C, as a nightly job would run it: how far the
 * new traffic moved from the router in service, a new router trained
 * against it (task ids and names kept), the regression guard, and the new
 * router written only when the guard accepts it.
 *
 *   cc -std=c11 example_retrain.c $(pkg-config --cflags --libs taskroute) -o example_retrain
 *   ./example_retrain current.trm new-data.jsonl new.trm > drift.md
 *
 * Exit: 0 new router written; 3 refused by the guard (nothing written);
 * 1 error.
 */
#include <stdio.h>

#include <taskroute.h>

/* Print a drift report (JSON) as Markdown. */
static int print_markdown(const char *json)
{
    char err[512], *md = NULL;
    if (tr_drift_markdown(json, &md, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fputs(md, stdout);
    tr_free(md);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s current.trm new-data.jsonl new.trm\n", argv[0]);
        return 2;
    }
    char err[1024];
    int ex = 1;
    tr_router *current = NULL, *candidate = NULL;
    tr_dataset *ds = NULL;
    char *traffic = NULL, *drift = NULL, *evidence = NULL;
    if (tr_router_open(argv[1], &current, err, sizeof err) != TR_OK ||
        tr_dataset_load(argv[2], NULL, &ds, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }

    /* 1. the new traffic against the router in service */
    if (tr_drift_traffic(current, ds, NULL, &traffic, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (print_markdown(traffic)) goto done;

    /* 2. a new router trained against the current one */
    tr_train_options opt;
    tr_train_options_default(&opt);
    opt.blas_threads = 1;   /* the same router whatever the machine's core count */
    tr_warm_options wopt;
    tr_warm_options_default(&wopt);
    wopt.current_name = argv[1];
    if (tr_train_warm_start(ds, current, &opt, &wopt, &candidate, &drift, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (print_markdown(drift)) goto done;

    /* 3. the guard: is the candidate worse than the router in service? */
    int rc = tr_regression_guard(current, candidate, ds, NULL, &evidence, err, sizeof err);
    if (rc == TR_EREGRESS) {
        fprintf(stderr, "refused: %s\n%s\n", err, evidence);
        ex = 3;
        goto done;
    }
    if (rc != TR_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    fprintf(stderr, "accepted: %s\n", evidence);

    /* 4. written atomically: a server reloading the file never sees half of it */
    if (tr_router_save(candidate, argv[3], err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    for (size_t t = 0; t < tr_router_task_count(candidate); t++)
        fprintf(stderr, "task %d %s\n", tr_router_task_id(candidate, t), tr_router_task_name(candidate, t));
    ex = 0;
done:
    tr_free(traffic);
    tr_free(drift);
    tr_free(evidence);
    tr_router_close(candidate);
    tr_router_close(current);
    tr_dataset_free(ds);
    return ex;
}
