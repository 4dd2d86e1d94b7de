/* Markdown taxonomy report and its heatmap; see report_md.h. */
#include "cli/report_md.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cluster/taxonomy.h"
#include "eval/heatmap_svg.h"

/* Table cells must not break the table: '|' and newlines escaped. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
}

static void header(FILE *f, const cJSON *r)
{
    fprintf(f, "# Task taxonomy of %s\n\n", tr_json_get_str(r, "dataset", "-"));
    fprintf(f, "%.0f prompts, **%.0f tasks** (%s, resolution %.3g), modularity %.3f.\n",
            tr_json_get_num(r, "n_prompts"), tr_json_get_num(r, "n_tasks"), tr_json_get_str(r, "algo", "-"),
            tr_json_get_num(r, "resolution"), tr_json_get_num(r, "modularity"));
    if (!isnan(tr_json_get_num(r, "sample_prompts")))
        fprintf(f, "Tasks discovered on a sample of %.0f prompts; sizes and per-model figures count every prompt, "
                "exemplars and the label agreement come from the sample.\n", tr_json_get_num(r, "sample_prompts"));
    const cJSON *clf = cJSON_GetObjectItem(r, "classifier");
    if (!isnan(tr_json_get_num(clf, "heldout_accuracy")))
        fprintf(f, "Task classifier: held-out accuracy %.3f, ECE %.3f.\n", tr_json_get_num(clf, "heldout_accuracy"),
                tr_json_get_num(clf, "heldout_ece"));
    const cJSON *ood = cJSON_GetObjectItem(r, "ood");
    if (!isnan(tr_json_get_num(ood, "threshold"))) {
        fprintf(f, "Out of distribution: the classifier's energy above %.3f (calibrated to flag %.0f%% of %.0f held-out "
                   "training prompts)",
                tr_json_get_num(ood, "threshold"), 100 * tr_json_get_num(ood, "fpr"),
                tr_json_get_num(ood, "calibration_prompts"));
        if (tr_json_get_num(ood, "outside_prompts") > 0)
            fprintf(f, "; of the %.0f prompts outside the training split, %.0f (%.1f%%) are flagged",
                    tr_json_get_num(ood, "outside_prompts"), tr_json_get_num(ood, "outside_flagged"),
                    100 * tr_json_get_num(ood, "outside_share"));
        fprintf(f, ".\n");
    }
    const cJSON *sec = cJSON_GetObjectItem(r, "seconds");
    fprintf(f, "Time: embed %.2f s, graph %.2f s, clustering %.2f s, classifier %.2f s.\n\n", tr_json_get_num(sec, "embed"),
            tr_json_get_num(sec, "graph"), tr_json_get_num(sec, "cluster"), tr_json_get_num(sec, "classifier"));
}

/* The id of the task at index i (labels name tasks by index). */
static double id_at(const cJSON *r, double index)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tasks"))
        if (tr_json_get_num(t, "index") == index) return tr_json_get_num(t, "id");
    return index;
}

static void labels(FILE *f, const cJSON *r, const cJSON *lab)
{
    fprintf(f, "## Agreement with the `task` labels\n\n%.0f labels: NMI %.3f, adjusted Rand %.3f, purity %.3f.\n\n",
            tr_json_get_num(lab, "n_labels"), tr_json_get_num(lab, "nmi"), tr_json_get_num(lab, "ari"),
            tr_json_get_num(lab, "purity_overall"));
    fprintf(f, "| label | prompts | main task (id) | share in it |\n|---|---:|---:|---:|\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(lab, "by_label")) {
        fputs("| ", f);
        cell(f, tr_json_get_str(e, "label", "-"));
        fprintf(f, " | %.0f | %.0f | %.2f |\n", tr_json_get_num(e, "prompts"), id_at(r, tr_json_get_num(e, "main_task")),
                tr_json_get_num(e, "share"));
    }
    fputc('\n', f);
}

/* One line per task: the overview a reader scans before the details. */
static void overview(FILE *f, const cJSON *r, const char *heatmap)
{
    fprintf(f, "## Tasks at a glance\n\n");
    if (heatmap) fprintf(f, "![Mean quality by task and model](%s)\n\n", heatmap);
    fprintf(f, "| id | slug | prompts | best model | quality | best value | quality | mean cost (USD) |\n"
               "|---:|---|---:|---|---:|---|---:|---:|\n");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tasks")) {
        fprintf(f, "| %.0f | `%s` | %.0f | ", tr_json_get_num(t, "id"), tr_json_get_str(t, "slug", "-"),
                tr_json_get_num(t, "size"));
        cell(f, tr_json_get_str(t, "best_model", "-"));
        fprintf(f, " | %.3f | ", tr_json_get_num(t, "best_quality"));
        cell(f, tr_json_get_str(t, "best_value_model", "-"));
        fprintf(f, " | %.3f | %.3g |\n", tr_json_get_num(t, "best_value_quality"), tr_json_get_num(t, "best_value_cost"));
    }
    fputc('\n', f);
}

static void task(FILE *f, const cJSON *t, const cJSON *pur)
{
    fprintf(f, "### %.0f. %s\n\n`%s`: %.0f prompts (%.1f%%)", tr_json_get_num(t, "id"), tr_json_get_str(t, "name", "-"),
            tr_json_get_str(t, "slug", "-"), tr_json_get_num(t, "size"), 100 * tr_json_get_num(t, "share"));
    if (pur) {
        const cJSON *p;
        cJSON_ArrayForEach(p, pur)
            if (tr_json_get_num(p, "task") == tr_json_get_num(t, "index"))
                fprintf(f, "; mostly `%s` (%.0f%%)", tr_json_get_str(p, "label", "-"), 100 * tr_json_get_num(p, "share"));
    }
    fprintf(f, ".\n");
    const cJSON *kw = cJSON_GetObjectItem(t, "keywords"), *w;
    if (cJSON_GetArraySize(kw) > 0) {
        fprintf(f, "Keywords: ");
        int first = 1;
        cJSON_ArrayForEach(w, kw) {
            fprintf(f, "%s%s", first ? "" : ", ", cJSON_GetStringValue(w) ? cJSON_GetStringValue(w) : "");
            first = 0;
        }
        fprintf(f, ".\n");
    }
    const char *best = tr_json_get_str(t, "best_model", NULL), *value = tr_json_get_str(t, "best_value_model", NULL);
    if (best)
        fprintf(f, "Best model **%s** (quality %.3f, %.3g USD); best value **%s** (quality %.3f, %.3g USD).\n", best,
                tr_json_get_num(t, "best_quality"), tr_json_get_num(t, "best_cost"), value ? value : "-",
                tr_json_get_num(t, "best_value_quality"), tr_json_get_num(t, "best_value_cost"));
    fputc('\n', f);
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(t, "exemplars")) {
        fputs("> ", f);
        cell(f, x->valuestring);
        fputs("\n>\n", f);
    }
    const cJSON *mods = cJSON_GetObjectItem(t, "models");
    if (cJSON_GetArraySize(mods) > 0) {
        fprintf(f, "\n| model | quality | mean cost (USD) | labels |\n|---|---:|---:|---:|\n");
        const cJSON *m;
        cJSON_ArrayForEach(m, mods) {
            fputs("| ", f);
            cell(f, tr_json_get_str(m, "model", "-"));
            fprintf(f, " | %.3f | %.3g | %.0f |\n", tr_json_get_num(m, "quality"), tr_json_get_num(m, "cost"),
                    tr_json_get_num(m, "labels"));
        }
    }
    fputc('\n', f);
}

int report_md_write(FILE *f, const char *json, const char *heatmap)
{
    cJSON *r = cJSON_Parse(json);
    if (!r || !cJSON_GetObjectItem(r, "tasks")) { cJSON_Delete(r); return -1; }
    header(f, r);
    const cJSON *lab = cJSON_GetObjectItem(r, "labels");
    if (cJSON_IsObject(lab)) labels(f, r, lab);
    fprintf(f, "## Task sizes\n\n| prompts | tasks |\n|---|---:|\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "size_histogram"))
        fprintf(f, "| %.0f-%.0f | %.0f |\n", tr_json_get_num(e, "from"), tr_json_get_num(e, "to"), tr_json_get_num(e, "tasks"));
    fputc('\n', f);
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "tasks"), 0);
    if (tr_json_get_str(t, "best_model", NULL)) overview(f, r, heatmap);
    fprintf(f, "## Tasks\n\n");
    const cJSON *pur = cJSON_IsObject(lab) ? cJSON_GetObjectItem(lab, "purity") : NULL;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tasks")) task(f, t, pur);
    cJSON_Delete(r);
    return ferror(f) ? -1 : 0;
}

int report_heatmap_write(const char *json, const char *path, char *err, size_t errlen)
{
    cJSON *r = cJSON_Parse(json);
    const cJSON *tasks = cJSON_GetObjectItem(r, "tasks");
    size_t T = (size_t)cJSON_GetArraySize(tasks), M = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 0), "models"));
    int rc = -1;
    if (!T || !M) {
        snprintf(err, errlen, "%s: no per-model quality to draw (the data has no scores)", path);
        cJSON_Delete(r);
        return -1;
    }
    char **rows = calloc(T, sizeof *rows);
    const char **cols = calloc(M, sizeof *cols);
    double *v = malloc(T * M * sizeof *v);
    int *best = malloc(T * sizeof *best), *value = malloc(T * sizeof *value);
    if (!rows || !cols || !v || !best || !value) { snprintf(err, errlen, "out of memory"); goto done; }
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        const char *name = tr_json_get_str(t, "name", "-");
        size_t n = strlen(name) + 32;
        if (!(rows[i] = malloc(n))) { snprintf(err, errlen, "out of memory"); goto done; }
        snprintf(rows[i], n, "%.0f \xC2\xB7 %s", tr_json_get_num(t, "id"), name);
        best[i] = value[i] = -1;
        size_t m = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "models")) {
            if (m >= M) break;
            if (i == 0) cols[m] = tr_json_get_str(e, "model", "-");
            v[i * M + m] = tr_json_get_num(e, "quality");
            if (!strcmp(tr_json_get_str(e, "model", ""), tr_json_get_str(t, "best_model", "\x01"))) best[i] = (int)m;
            if (!strcmp(tr_json_get_str(e, "model", ""), tr_json_get_str(t, "best_value_model", "\x01"))) value[i] = (int)m;
            m++;
        }
        for (; m < M; m++) v[i * M + m] = NAN;
        i++;
    }
    char title[512];
    snprintf(title, sizeof title, "Mean quality by task and model: %s", tr_json_get_str(r, "dataset", "-"));
    char value_label[96];
    snprintf(value_label, sizeof value_label, "best value (the cheapest within %.2f of the best)", TR_VALUE_TOLERANCE);
    tr_heatmap h = {title, T, M, (const char *const *)rows, cols, v, best, value, "best model", value_label};
    rc = tr_heatmap_svg_write(&h, path, err, errlen) ? -1 : 0;
done:
    if (rows)
        for (size_t k = 0; k < T; k++) free(rows[k]);
    free(rows); free(cols); free(v); free(best); free(value);
    cJSON_Delete(r);
    return rc;
}
