/* Markdown taxonomy report; see report_md.h. */
#include "cli/report_md.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

static double getn(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *gets_(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

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
    fprintf(f, "# Task taxonomy of %s\n\n", gets_(r, "dataset"));
    fprintf(f, "%.0f prompts, **%.0f tasks** (%s, resolution %.3g), modularity %.3f.\n",
            getn(r, "n_prompts"), getn(r, "n_tasks"), gets_(r, "algo"), getn(r, "resolution"), getn(r, "modularity"));
    const cJSON *clf = cJSON_GetObjectItem(r, "classifier");
    if (!isnan(getn(clf, "heldout_accuracy")))
        fprintf(f, "Task classifier: held-out accuracy %.3f, ECE %.3f.\n", getn(clf, "heldout_accuracy"),
                getn(clf, "heldout_ece"));
    const cJSON *sec = cJSON_GetObjectItem(r, "seconds");
    fprintf(f, "Time: embed %.2f s, graph %.2f s, clustering %.2f s, classifier %.2f s.\n\n", getn(sec, "embed"),
            getn(sec, "graph"), getn(sec, "cluster"), getn(sec, "classifier"));
    const cJSON *lab = cJSON_GetObjectItem(r, "labels");
    if (cJSON_IsObject(lab)) {
        fprintf(f, "## Agreement with the `task` labels\n\n%.0f labels: NMI %.3f, adjusted Rand %.3f, purity %.3f.\n\n",
                getn(lab, "n_labels"), getn(lab, "nmi"), getn(lab, "ari"), getn(lab, "purity_overall"));
        fprintf(f, "| label | prompts | main task | share in it |\n|---|---:|---:|---:|\n");
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(lab, "by_label")) {
            fputs("| ", f);
            cell(f, gets_(e, "label"));
            fprintf(f, " | %.0f | %.0f | %.2f |\n", getn(e, "prompts"), getn(e, "main_task"), getn(e, "share"));
        }
        fputc('\n', f);
    }
    fprintf(f, "## Task sizes\n\n| prompts | tasks |\n|---|---:|\n");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "size_histogram"))
        fprintf(f, "| %.0f-%.0f | %.0f |\n", getn(e, "from"), getn(e, "to"), getn(e, "tasks"));
    fprintf(f, "\n## Tasks\n\n");
    const cJSON *pur = cJSON_IsObject(lab) ? cJSON_GetObjectItem(lab, "purity") : NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tasks")) {
        fprintf(f, "### %.0f. %s\n\n%.0f prompts (%.1f%%)", getn(t, "id"), gets_(t, "name"), getn(t, "size"),
                100 * getn(t, "share"));
        if (pur) {
            const cJSON *p;
            cJSON_ArrayForEach(p, pur)
                if (getn(p, "task") == getn(t, "id"))
                    fprintf(f, "; mostly `%s` (%.0f%%)", gets_(p, "label"), 100 * getn(p, "share"));
        }
        const char *best = gets_(t, "best_model"), *value = gets_(t, "best_value_model");
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
                cell(f, gets_(m, "model"));
                fprintf(f, " | %.3f | %.3g | %.0f |\n", getn(m, "quality"), getn(m, "cost"), getn(m, "labels"));
            }
        }
        fputc('\n', f);
    }
    cJSON_Delete(r);
    return ferror(f) ? -1 : 0;
}
