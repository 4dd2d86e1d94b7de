/* Drift reports as Markdown (see drift_report.h). */
#include "retrain/drift_report.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

typedef struct sb { char *p; size_t len, cap; int oom; } sb;

static void put(sb *b, const char *fmt, ...) TR_PRINTF(2, 3);
static void put(sb *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && b->len + (size_t)k < b->cap) { b->len += (size_t)k; return; }
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *q = tr_realloc(b->p, nc);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = nc;
    }
}

static void pct(sb *b, double v)
{
    if (isfinite(v)) put(b, "%.1f%%", 100 * v);
    else put(b, "–");
}

static void signed_num(sb *b, double v, const char *fmt)
{
    if (!isfinite(v)) { put(b, "–"); return; }
    put(b, fmt, v);
}

static void ids(sb *b, const cJSON *arr)
{
    const cJSON *x;
    int first = 1;
    cJSON_ArrayForEach(x, arr) {
        put(b, "%s%d", first ? "" : ", ", (int)x->valuedouble);
        first = 0;
    }
}

static void retrain(sb *b, const cJSON *j)
{
    put(b, "# Drift report: retraining\n\nCurrent router: `%s`; embedder %s. Tasks: %d before, %d after; "
           "%d matched (score >= %.2f), %d added, %d vanished.\n\n",
        tr_json_get_str(j, "current", ""), tr_json_get_str(j, "embedder", ""), (int)tr_json_get_num(j, "tasks_before"), (int)tr_json_get_num(j, "tasks_after"),
        (int)tr_json_get_num(j, "matched"), tr_json_get_num(j, "min_score"), (int)tr_json_get_num(j, "added"), (int)tr_json_get_num(j, "vanished_count"));
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "guard");
    if (g) {
        put(b, "## Regression guard\n\nVerdict: **%s** on %d test prompts", tr_json_get_str(g, "verdict", ""), (int)tr_json_get_num(g, "n_test"));
        if (*tr_json_get_str(g, "reason", "")) put(b, ": %s", tr_json_get_str(g, "reason", ""));
        put(b, ".\n\nA paired bootstrap over the test prompts (%d resamples, %.0f%% intervals); the new router is "
               "refused when an interval of new − current lies below −%.3f, or when it no longer beats the best single "
               "model (Q_best ", (int)tr_json_get_num(g, "resamples"), 100 * tr_json_get_num(g, "level"), tr_json_get_num(g, "max_regression"));
        signed_num(b, tr_json_get_num(g, "q_best"), "%.4f");
        put(b, ") where the current one did beyond noise.\n\n| figure | current | new | new − current | interval |\n"
               "|---|---:|---:|---:|---|\n");
        static const char *const F[][2] = {{"q_at_c_best", "Q@C_best"}, {"aiq_log", "AIQ (log cost)"}};
        for (size_t k = 0; k < 2; k++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(g, F[k][0]);
            const cJSON *ci = cJSON_GetObjectItemCaseSensitive(f, "ci");
            put(b, "| %s | ", F[k][1]);
            signed_num(b, tr_json_get_num(f, "before"), "%.4f");
            put(b, " | ");
            signed_num(b, tr_json_get_num(f, "after"), "%.4f");
            put(b, " | ");
            signed_num(b, tr_json_get_num(f, "diff"), "%+.4f");
            put(b, " | ");
            signed_num(b, cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) ? cJSON_GetArrayItem(ci, 0)->valuedouble : NAN, "%+.4f");
            put(b, " to ");
            signed_num(b, cJSON_IsNumber(cJSON_GetArrayItem(ci, 1)) ? cJSON_GetArrayItem(ci, 1)->valuedouble : NAN, "%+.4f");
            put(b, " |\n");
        }
        const cJSON *bb = cJSON_GetObjectItemCaseSensitive(g, "beats_best_single");
        put(b, "\nBeats the best single model: current %s, new %s.\n\n",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bb, "before")) ? "yes (beyond noise)" : "not beyond noise",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bb, "after")) ? "yes" : "no");
    }
    put(b, "## Tasks\n\n| id | name | status | share before | share after | match score | cosine | overlap |\n"
           "|---:|---|---|---:|---:|---:|---:|---:|\n");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tasks")) {
        put(b, "| %d | %s | %s | ", (int)tr_json_get_num(t, "id"), tr_json_get_str(t, "name", ""), tr_json_get_str(t, "status", ""));
        pct(b, tr_json_get_num(t, "share_before"));
        put(b, " | ");
        pct(b, tr_json_get_num(t, "share_after"));
        put(b, " | ");
        signed_num(b, tr_json_get_num(t, "score"), "%.3f");
        put(b, " | ");
        signed_num(b, tr_json_get_num(t, "cosine"), "%.3f");
        put(b, " | ");
        signed_num(b, tr_json_get_num(t, "overlap"), "%.3f");
        put(b, " |\n");
    }
    const cJSON *v, *van = cJSON_GetObjectItemCaseSensitive(j, "vanished");
    cJSON_ArrayForEach(v, van) {
        put(b, "| %d | %s | vanished | ", (int)tr_json_get_num(v, "id"), tr_json_get_str(v, "name", ""));
        pct(b, tr_json_get_num(v, "share_before"));
        put(b, " | 0.0%% | – | – | – |\n");
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "splits"), *mg = cJSON_GetObjectItemCaseSensitive(j, "merges");
    put(b, "\n## Splits and merges\n\n");
    if (!cJSON_GetArraySize(sp) && !cJSON_GetArraySize(mg)) put(b, "None.\n");
    cJSON_ArrayForEach(v, sp) {
        put(b, "- split: old task %d (%s) → new tasks ", (int)tr_json_get_num(v, "old_id"), tr_json_get_str(v, "old_name", ""));
        ids(b, cJSON_GetObjectItemCaseSensitive(v, "into_ids"));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "shares");
        put(b, " (%.0f%% + %.0f%% of its prompts)\n", 100 * cJSON_GetArrayItem(s, 0)->valuedouble,
            100 * cJSON_GetArrayItem(s, 1)->valuedouble);
    }
    cJSON_ArrayForEach(v, mg) {
        put(b, "- merge: old tasks ");
        ids(b, cJSON_GetObjectItemCaseSensitive(v, "from_ids"));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "shares");
        put(b, " → new task %d (%s) (%.0f%% + %.0f%% of its prompts)\n", (int)tr_json_get_num(v, "new_id"), tr_json_get_str(v, "new_name", ""),
            100 * cJSON_GetArrayItem(s, 0)->valuedouble, 100 * cJSON_GetArrayItem(s, 1)->valuedouble);
    }
    put(b, "\n## Models\n\nAdded: ");
    const cJSON *m;
    int any = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "models_added")) { put(b, "%s`%s`", any ? ", " : "", m->valuestring); any = 1; }
    put(b, "%s. Retired: ", any ? "" : "none");
    any = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "models_retired")) { put(b, "%s`%s`", any ? ", " : "", m->valuestring); any = 1; }
    put(b, "%s.\n\n## Quality and cost shifts per matched task\n\n"
           "| task | model | quality before | after | Δq | cost before | after | Δc |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        any ? "" : "none");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tasks")) {
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t, "models")) {
            put(b, "| %d %s | %s | ", (int)tr_json_get_num(t, "id"), tr_json_get_str(t, "name", ""), m->string);
            signed_num(b, tr_json_get_num(m, "q_before"), "%.3f"); put(b, " | ");
            signed_num(b, tr_json_get_num(m, "q_after"), "%.3f"); put(b, " | ");
            signed_num(b, tr_json_get_num(m, "dq"), "%+.3f"); put(b, " | ");
            signed_num(b, tr_json_get_num(m, "c_before"), "%.3g"); put(b, " | ");
            signed_num(b, tr_json_get_num(m, "c_after"), "%.3g"); put(b, " | ");
            signed_num(b, tr_json_get_num(m, "dc"), "%+.3g"); put(b, " |\n");
        }
    }
}

static void traffic(sb *b, const cJSON *j)
{
    put(b, "# Drift report: traffic\n\nTraffic: `%s`, %d prompts. ", tr_json_get_str(j, "traffic", ""),
        (int)tr_json_get_num(j, "n"));
    const char *src = tr_json_get_str(j, "threshold_source", "none");
    if (!strcmp(src, "none")) {
        put(b, "Out of distribution: not counted (this router file predates the calibration: retrain it).");
    } else {
        put(b, "Out of distribution (score above %.4f, %s): %d = ", tr_json_get_num(j, "ood_threshold"),
            !strcmp(src, "router") ? "calibrated at training to flag 5% of held-out training prompts" : "given",
            (int)tr_json_get_num(j, "ood_count"));
        pct(b, tr_json_get_num(j, "ood_share"));
        put(b, ".");
    }
    put(b, " Task-share shift: total variation %.4f, Jensen-Shannon %.4f bits.\n\n"
           "| id | task | share at training | share in traffic | Δ | OOD prompts nearest |\n|---:|---|---:|---:|---:|---:|\n",
        tr_json_get_num(j, "tv_distance"), tr_json_get_num(j, "js_divergence"));
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tasks")) {
        put(b, "| %d | %s | ", (int)tr_json_get_num(t, "id"), tr_json_get_str(t, "name", ""));
        pct(b, tr_json_get_num(t, "share_train"));
        put(b, " | ");
        pct(b, tr_json_get_num(t, "share_traffic"));
        put(b, " | %+.1f | %d |\n", 100 * tr_json_get_num(t, "delta"), (int)tr_json_get_num(t, "ood_nearest"));
    }
}

int tr_drift_markdown(const char *json, char **md, char *err, size_t errlen)
{
    if (!md || !json) return tr_errorf(err, errlen, TR_EINVAL, "tr_drift_markdown: %s is NULL", md ? "json" : "md");
    *md = NULL;
    cJSON *j = cJSON_Parse(json);
    const char *kind = tr_json_get_str(j, "kind", "");
    sb b = {0};
    if (!strcmp(kind, "retrain")) retrain(&b, j);
    else if (!strcmp(kind, "traffic")) traffic(&b, j);
    else {
        cJSON_Delete(j);
        return tr_errorf(err, errlen, TR_EFORMAT, "drift report: not a drift report JSON (kind '%s')", kind);
    }
    cJSON_Delete(j);
    if (b.oom || !b.p) { tr_free(b.p); return tr_errorf(err, errlen, TR_ENOMEM, "drift report: out of memory"); }
    *md = b.p;
    return TR_OK;
}
