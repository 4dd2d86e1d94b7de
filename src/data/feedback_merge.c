/* Feedback log + decision log -> extra training records.  See
 * feedback_merge.h for the formats. */
#include "data/feedback_merge.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "data/dataset.h"

typedef struct dec { char *rid, *prompt; } dec;
typedef struct fb { char *rid, *model, *prompt; double score; size_t order; } fb;

typedef struct acc {
    dec *d; size_t nd, capd;
    fb *f; size_t nf, capf;
} acc;

static void acc_free(acc *a)
{
    for (size_t i = 0; i < a->nd; i++) { tr_free(a->d[i].rid); tr_free(a->d[i].prompt); }
    for (size_t i = 0; i < a->nf; i++) { tr_free(a->f[i].rid); tr_free(a->f[i].model); tr_free(a->f[i].prompt); }
    tr_free(a->d);
    tr_free(a->f);
}

/* A non-empty string field, or NULL. */
static const char *str(const cJSON *o, const char *k)
{
    const char *s = tr_json_get_str(o, k, NULL);
    return s && s[0] ? s : NULL;
}

/* Read one log; kind 0 = decisions, 1 = feedback. */
static int read_log(const char *path, int kind, acc *a, tr_feedback_stats *st, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = TR_OK;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || line[0] == '\n') continue;
        if (kind) st->feedback_lines++;
        else st->decision_lines++;
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(line, (size_t)len, &end, 0);
        const char *rid = str(j, "request_id"), *prompt = str(j, "prompt"), *model = str(j, "model");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "score");
        if (!kind) {
            if (!rid || !prompt) { st->bad_lines++; cJSON_Delete(j); continue; }
            if (a->nd == a->capd) {
                size_t nc = a->capd ? 2 * a->capd : 256;
                dec *p = tr_realloc(a->d, nc * sizeof *p);
                if (!p) { rc = TR_ENOMEM; cJSON_Delete(j); break; }
                a->d = p; a->capd = nc;
            }
            dec *d = &a->d[a->nd];
            d->rid = tr_strdup(rid);
            d->prompt = tr_strdup(prompt);
            if (!d->rid || !d->prompt) { tr_free(d->rid); tr_free(d->prompt); rc = TR_ENOMEM; }
            else a->nd++;
        } else {
            if (!rid || !model || !cJSON_IsNumber(sc) || !(sc->valuedouble >= 0 && sc->valuedouble <= 1)) {
                st->bad_lines++;
                cJSON_Delete(j);
                continue;
            }
            if (a->nf == a->capf) {
                size_t nc = a->capf ? 2 * a->capf : 256;
                fb *p = tr_realloc(a->f, nc * sizeof *p);
                if (!p) { rc = TR_ENOMEM; cJSON_Delete(j); break; }
                a->f = p; a->capf = nc;
            }
            fb *x = &a->f[a->nf];
            x->rid = tr_strdup(rid);
            x->model = tr_strdup(model);
            x->prompt = prompt ? tr_strdup(prompt) : NULL;
            x->score = sc->valuedouble;
            x->order = a->nf;
            if (!x->rid || !x->model || (prompt && !x->prompt)) {
                tr_free(x->rid); tr_free(x->model); tr_free(x->prompt);
                rc = TR_ENOMEM;
            } else a->nf++;
        }
        cJSON_Delete(j);
    }
    if (!rc && ferror(f)) rc = tr_errorf(err, errlen, TR_EIO, "%s: read error: %s", path, strerror(errno));
    else if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "%s: out of memory", path);
    free(line);
    fclose(f);
    return rc;
}

static int cmp_dec(const void *x, const void *y) { return strcmp(((const dec *)x)->rid, ((const dec *)y)->rid); }
static int cmp_fb(const void *x, const void *y)
{
    const fb *a = x, *b = y;
    int c = strcmp(a->rid, b->rid);
    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* The prompt of request rid: a decision's (the last logged), else NULL. */
static const char *find_prompt(const acc *a, const char *rid)
{
    dec key = {(char *)rid, NULL};
    dec *d = bsearch(&key, a->d, a->nd, sizeof *a->d, cmp_dec);
    return d ? d->prompt : NULL;
}

/* Grow ds by 'add' records and 'madd' model columns (names in newm). */
static int grow(tr_dataset *ds, size_t add, char **newm, size_t madd)
{
    size_t n2 = ds->n + add, M = ds->n_models, M2 = M + madd;
    size_t cells = n2 * M2 > 0 ? n2 * M2 : 1;
    float *S = tr_mallocarray(cells, sizeof *S), *C = tr_mallocarray(cells, sizeof *C);
    char **models = tr_realloc(ds->models, (M2 ? M2 : 1) * sizeof *models);
    tr_record *rec = ds->cap >= n2 ? ds->rec : tr_realloc(ds->rec, (n2 ? n2 : 1) * sizeof *rec);
    if (models) ds->models = models;
    if (rec) { ds->rec = rec; if (ds->cap < n2) ds->cap = n2; }
    if (!S || !C || !models || !rec) { tr_free(S); tr_free(C); return TR_ENOMEM; }
    for (size_t i = 0; i < n2; i++)
        for (size_t m = 0; m < M2; m++) {
            int old = i < ds->n && m < M;
            S[i * M2 + m] = old ? ds->scores[i * M + m] : NAN;
            C[i * M2 + m] = old ? ds->costs[i * M + m] : NAN;
        }
    for (size_t m = 0; m < madd; m++) { ds->models[M + m] = newm[m]; newm[m] = NULL; }
    tr_free(ds->scores);
    tr_free(ds->costs);
    ds->scores = S;
    ds->costs = C;
    ds->n_models = M2;
    return TR_OK;
}

int tr_feedback_merge(tr_dataset *ds, const char *const *decision_logs, size_t nd, const char *const *feedback_logs,
                      size_t nf, tr_feedback_stats *stp, char *err, size_t errlen)
{
    tr_feedback_stats st0, *st = stp ? stp : &st0;
    memset(st, 0, sizeof *st);
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_feedback_merge: NULL dataset");
    if (ds->emb && nf)
        return tr_errorf(err, errlen, TR_EINVAL, "%s: has caller-supplied embeddings; feedback records have none and "
                         "cannot be merged", ds->path);
    acc a = {0};
    char **newm = NULL;
    size_t madd = 0;
    int rc = TR_OK;
    for (size_t i = 0; i < nd && !rc; i++) rc = read_log(decision_logs[i], 0, &a, st, err, errlen);
    for (size_t i = 0; i < nf && !rc; i++) rc = read_log(feedback_logs[i], 1, &a, st, err, errlen);
    if (rc) goto done;
    qsort(a.d, a.nd, sizeof *a.d, cmp_dec);
    qsort(a.f, a.nf, sizeof *a.f, cmp_fb);
    /* pass 1: feedback without a prompt; models the dataset lacks */
    newm = tr_calloc(a.nf + 1, sizeof *newm);
    if (!newm) { rc = TR_ENOMEM; goto done; }
    for (size_t i = 0; i < a.nf; i++) {
        const char *p = a.f[i].prompt ? a.f[i].prompt : find_prompt(&a, a.f[i].rid);
        if (!p) { st->unmatched++; continue; }
        if (tr_dataset_find_model(ds, a.f[i].model) >= 0) continue;
        size_t k = 0;
        while (k < madd && strcmp(newm[k], a.f[i].model)) k++;
        if (k == madd && !(newm[madd++] = tr_strdup(a.f[i].model))) { rc = TR_ENOMEM; goto done; }
    }
    /* pass 2: requests that become records */
    size_t add = 0;
    for (size_t i = 0; i < a.nf;) {
        size_t j = i;
        int has = 0;
        while (j < a.nf && !strcmp(a.f[j].rid, a.f[i].rid)) { has |= a.f[j].prompt || find_prompt(&a, a.f[j].rid); j++; }
        add += has;
        i = j;
    }
    if ((rc = grow(ds, add, newm, madd))) goto done;
    st->models_added = madd;
    for (size_t i = 0; i < a.nf && !rc;) {
        size_t j = i;
        const char *prompt = NULL;
        while (j < a.nf && !strcmp(a.f[j].rid, a.f[i].rid)) {
            if (!prompt) prompt = a.f[j].prompt ? a.f[j].prompt : find_prompt(&a, a.f[j].rid);
            j++;
        }
        if (prompt) {
            tr_record *r = &ds->rec[ds->n];
            memset(r, 0, sizeof *r);
            size_t il = strlen(a.f[i].rid) + 10;
            r->id = tr_malloc(il);
            r->prompt = tr_strdup(prompt);
            if (!r->id || !r->prompt) { tr_free(r->id); tr_free(r->prompt); rc = TR_ENOMEM; break; }
            snprintf(r->id, il, "feedback:%s", a.f[i].rid);
            r->prompt_len = strlen(prompt);
            r->is_test = false;
            r->complete = false;
            for (size_t k = i; k < j; k++) {
                int m = tr_dataset_find_model(ds, a.f[k].model);
                if (m >= 0) ds->scores[ds->n * ds->n_models + (size_t)m] = (float)a.f[k].score; /* last wins */
            }
            ds->n++;
            st->records_added++;
        }
        i = j;
    }
    ds->stats.kept += st->records_added;
    ds->stats.train += st->records_added;
done:
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "feedback merge: out of memory");
    if (newm) for (size_t k = 0; k < madd; k++) tr_free(newm[k]);
    tr_free(newm);
    acc_free(&a);
    return rc;
}
