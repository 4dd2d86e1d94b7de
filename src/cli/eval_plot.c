/* Evaluation JSON -> tr_plot; see eval_plot.h. */
#include "cli/eval_plot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/plot_svg.h"

/* [[cost, quality], ...] -> points (malloc'ed) */
static tr_point *points(const cJSON *arr, size_t *n)
{
    *n = 0;
    int k = cJSON_GetArraySize(arr);
    if (k <= 0) return NULL;
    tr_point *p = calloc((size_t)k, sizeof *p);
    if (!p) return NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        p[*n].cost = cJSON_GetNumberValue(cJSON_GetArrayItem(e, 0));
        p[*n].quality = cJSON_GetNumberValue(cJSON_GetArrayItem(e, 1));
        (*n)++;
    }
    return p;
}

int eval_plot_write(const char *path, const cJSON *ev)
{
    const cJSON *routers = cJSON_GetObjectItem(ev, "routers"), *models = cJSON_GetObjectItem(ev, "models");
    size_t nr = (size_t)cJSON_GetArraySize(routers), nm = (size_t)cJSON_GetArraySize(models);
    tr_plot_series *s = calloc(nr ? nr : 1, sizeof *s);
    tr_plot_model *m = calloc(nm ? nm : 1, sizeof *m);
    int rc = -1;
    if (!s || !m) goto done;
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, routers) {
        /* the heads' ablations stay in the table: on the plot they would bury
         * the comparison that matters, ours against the baselines */
        if (!strncmp(r->string, "heads:", 6)) continue;
        s[i].name = r->string;
        s[i].hull = points(cJSON_GetObjectItem(r, "hull"), &s[i].n_hull);
        s[i].sweep = points(cJSON_GetObjectItem(r, "sweep"), &s[i].n_sweep);
        i++;
    }
    size_t i_series = i;
    i = 0;
    cJSON_ArrayForEach(r, models) {
        m[i].name = r->string;
        m[i].cost = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "cost"));
        m[i].quality = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "quality"));
        i++;
    }
    char title[512], err[512];
    snprintf(title, sizeof title, "Cost vs quality: %s (%.0f test prompts)",
             cJSON_GetStringValue(cJSON_GetObjectItem(ev, "dataset")),
             cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "n_test")));
    tr_plot p = {title, s, i_series, m, nm};
    rc = tr_plot_svg_write(&p, path, err, sizeof err);
    if (rc) fprintf(stderr, "taskroute eval: %s\n", err);
    rc = rc ? -1 : 0;
done:
    if (s)
        for (size_t k = 0; k < nr; k++) { free((void *)s[k].hull); free((void *)s[k].sweep); }
    free(s);
    free(m);
    return rc;
}
