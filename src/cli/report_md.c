/* Markdown taxonomy report; see report_md.h. */
#include "cli/report_md.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "base/json.h"

/* Table cells must not break the table: '|' and newlines escaped. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
}

int report_md_write(FILE *f, const char *json)
{
    cJSON *r = cJSON_Parse(json);
    if (!r || !cJSON_GetObjectItem(r, "tasks")) { cJSON_Delete(r); return -1; }
    fprintf(f, "# Task taxonomy of %s\n\n", tr_json_get_str(r, "dataset", "-"));
    fprintf(f, "%.0f prompts, **%.0f tasks** (%s, resolution %.3g), modularity %.3f.\n",
            tr_json_get_num(r, "n_prompts"), tr_json_get_num(r, "n_tasks"), tr_json_get_str(r, "algo", "-"), tr_json_get_num(r, "resolution"), tr_json_get_num(r, "modularity"));
    if (!isnan(tr_json_get_num(r, "sample_prompts")))
        fprintf(f, "Tasks discovered on a sample of %.0f prompts; sizes and per-model figures count every prompt, "
                "exemplars and the label agreement come from the sample.\n", tr_json_get_num(r, "sample_prompts"));
    const cJSON *clf = cJSON_GetObjectItem(r, "classifier");
    if (!isnan(tr_json_get_num(clf, "heldout_accuracy")))
        fprintf(f, "Task classifier: held-out accuracy %.3f, ECE %.3f.\n", tr_json_get_num(clf, "heldout_accuracy"),
                tr_json_get_num(clf, "heldout_ece"));
    const cJSON *sec = cJSON_GetObjectItem(r, "seconds");
    fprintf(f, "Time: embed %.2f s, graph %.2f s, clustering %.2f s, classifier %.2f s.\n\n", tr_json_get_num(sec, "embed"),
            tr_json_get_num(sec, "graph"), tr_json_get_num(sec, "cluster"), tr_json_get_num(sec, "classifier"));
    const cJSON *lab = cJSON_GetObjectItem(r, "labels");
    if (cJSON_IsObject(lab)) {
        fprintf(f, "## Agreement with the `task` labels\n\n%.0f labels: NMI %.3f, adjusted Rand %.3f, purity %.3f.\n\n",
                tr_json_get_num(lab, "n_labels"), tr_json_get_num(lab, "nmi"), tr_json_get_num(lab, "ari"), tr_json_get_num(lab, "purity_overall"));
        fprintf(f, "| label | prompts | main task | share in it |\n|---|---:|---:|---:|\n");
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(lab, "by_label")) {
            fputs("| ", f);
            cell(f, tr_json_get_str(e, "label", "-"));
            fprintf(f, " | %.0f | %.0f | %.2f |\n", tr_json_get_num(e, "prompts"), tr_json_get_num(e, "main_task"), tr_json_get_num(e, "share"));
        }
        fputc('\n', f);
    }
    fprintf(f, "## Task sizes\n\n| prompts | tasks |\n|---|---:|\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "size_histogram"))
        fprintf(f, "| %.0f-%.0f | %.0f |\n", tr_json_get_num(e, "from"), tr_json_get_num(e, "to"), tr_json_get_num(e, "tasks"));
    fprintf(f, "\n## Tasks\n\n");
    const cJSON *pur = cJSON_IsObject(lab) ? cJSON_GetObjectItem(lab, "purity") : NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tasks")) {
        fprintf(f, "### %.0f. %s\n\n%.0f prompts (%.1f%%)", tr_json_get_num(t, "id"), tr_json_get_str(t, "name", "-"), tr_json_get_num(t, "size"),
                100 * tr_json_get_num(t, "share"));
        if (pur) {
            const cJSON *p;
            cJSON_ArrayForEach(p, pur)
                if (tr_json_get_num(p, "task") == tr_json_get_num(t, "id"))
                    fprintf(f, "; mostly `%s` (%.0f%%)", tr_json_get_str(p, "label", "-"), 100 * tr_json_get_num(p, "share"));
        }
        const char *best = tr_json_get_str(t, "best_model", "-"), *value = tr_json_get_str(t, "best_value_model", "-");
        if (strcmp(best, "-")) fprintf(f, "; best model **%s**, best value **%s**", best, value);
        fprintf(f, ".\n\n");
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
                fprintf(f, " | %.3f | %.3g | %.0f |\n", tr_json_get_num(m, "quality"), tr_json_get_num(m, "cost"), tr_json_get_num(m, "labels"));
            }
        }
        fputc('\n', f);
    }
    cJSON_Delete(r);
    return ferror(f) ? -1 : 0;
}
