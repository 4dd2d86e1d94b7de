/* A gateway's view of taskroute: link the installed library through
 * pkg-config, open a router once, route each request from a worker thread
 * with its own scratch.
 *
 *   cc -std=c11 example_gateway.c $(pkg-config --cflags --libs taskroute) -o example_gateway
 *   ./example_gateway router.trm "Write a SQL query that counts orders per day"
 */
#include <stdio.h>
#include <string.h>

#include <taskroute.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s router.trm PROMPT...\n", argv[0]);
        return 2;
    }
    char err[512];
    tr_router *r = NULL;
    if (tr_router_open(argv[1], &r, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tr_scratch *s = NULL;   /* one per worker thread; the router is shared */
    if (tr_scratch_new_v2(r, &s, err, sizeof err) != TR_OK) {
        fprintf(stderr, "%s\n", err);
        tr_router_close(r);
        return 1;
    }
    /* a quality point is worth this many USD: 1000 = pay up to $0.001 for +0.01 */
    tr_route_options opt;
    tr_route_options_default(&opt);   /* then set what differs: the struct may grow */
    opt.mode = TR_SELECT_LAMBDA;
    opt.value = 1000.0;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        tr_decision d;
        int e = tr_route(r, argv[i], strlen(argv[i]), &opt, s, &d);
        if (e != TR_OK) {
            fprintf(stderr, "route: %s\n", tr_strerror(e));
            rc = 1;
            continue;
        }
        /* the task's id stays the same across warm-started retrains; its slug suits a metric label */
        printf("%s\t(task %d %s \"%s\", p=%.2f%s; predicted quality %.3f at $%.6f)\n", d.model_name, d.task_id,
               tr_router_task_slug(r, (size_t)d.task), d.task_name, d.task_prob,
               d.ood ? ", out of distribution" : "", d.quality[d.model], d.cost[d.model]);
    }
    tr_scratch_free(s);
    tr_router_close(r);
    return rc;
}
