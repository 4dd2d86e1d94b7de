/* Parts of a dataset on several processes (shard_data.h). */
#include "dist/shard_data.h"

#include <math.h>
#include <string.h>

#include "base/util.h"

void tr_models_blob(const tr_dataset *ds, tr_buf *b)
{
    for (size_t m = 0; m < ds->n_models; m++) tr_buf_put(b, ds->models[m], strlen(ds->models[m]) + 1);
}

void tr_models_free(char **names, size_t M)
{
    if (!names) return;
    for (size_t m = 0; m < M; m++) tr_free(names[m]);
    tr_free(names);
}

int tr_models_union(const char *blob, size_t len, char ***names, size_t *M, char *err, size_t errlen)
{
    *names = NULL;
    *M = 0;
    if (len && blob[len - 1] != '\0') return tr_errorf(err, errlen, TR_EFORMAT, "model list: not NUL-ended");
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < len; i++) cap += blob[i] == '\0';
    char **v = tr_calloc(cap ? cap : 1, sizeof *v);
    if (!v) return tr_errorf(err, errlen, TR_ENOMEM, "model list: out of memory");
    /* a few dozen models: the quadratic search is nothing */
    for (size_t i = 0; i < len; i += strlen(blob + i) + 1) {
        const char *s = blob + i;
        size_t j = 0;
        while (j < n && strcmp(v[j], s)) j++;
        if (j < n) continue;
        if (!(v[n] = tr_strdup(s))) { tr_models_free(v, n); return tr_errorf(err, errlen, TR_ENOMEM, "model list: out of memory"); }
        n++;
    }
    *names = v;
    *M = n;
    return TR_OK;
}

void tr_dataset_recount(tr_dataset *ds)
{
    tr_load_stats *st = &ds->stats;
    size_t M = ds->n_models;
    st->kept = ds->n;
    st->train = st->test = st->test_complete = 0;
    for (size_t i = 0; i < ds->n; i++) {
        bool complete = M > 0;
        for (size_t m = 0; m < M && complete; m++)
            complete = !isnan(tr_ds_score(ds, i, m)) && !isnan(tr_ds_cost(ds, i, m));
        ds->rec[i].complete = complete;
        if (ds->rec[i].is_test) {
            st->test++;
            st->test_complete += complete;
        } else st->train++;
    }
}

int tr_dataset_use_models(tr_dataset *ds, char *const *names, size_t M, char *err, size_t errlen)
{
    size_t n = ds->n, M0 = ds->n_models, cells = n * M;
    if (!cells) cells = 1;
    long *to = tr_mallocarray(M0 ? M0 : 1, sizeof *to);
    char **nm = tr_calloc(M ? M : 1, sizeof *nm);
    float *S = tr_mallocarray(cells, sizeof *S), *C = tr_mallocarray(cells, sizeof *C);
    int ok = to && nm && S && C;
    for (size_t m = 0; ok && m < M; m++) ok = (nm[m] = tr_strdup(names[m])) != NULL;
    if (!ok) {
        tr_free(to); tr_models_free(nm, M); tr_free(S); tr_free(C);
        return tr_errorf(err, errlen, TR_ENOMEM, "out of memory for %zu records x %zu models", n, M);
    }
    for (size_t m = 0; m < M0; m++) {
        to[m] = -1;
        for (size_t g = 0; g < M; g++)
            if (!strcmp(ds->models[m], names[g])) { to[m] = (long)g; break; }
    }
    for (size_t i = 0; i < cells; i++) S[i] = C[i] = NAN;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < M0; m++)
            if (to[m] >= 0) {
                S[i * M + (size_t)to[m]] = ds->scores[i * M0 + m];
                C[i * M + (size_t)to[m]] = ds->costs[i * M0 + m];
            }
    tr_models_free(ds->models, M0);
    tr_free(ds->scores);
    tr_free(ds->costs);
    tr_free(to);
    ds->models = nm;
    ds->n_models = M;
    ds->scores = S;
    ds->costs = C;
    tr_dataset_recount(ds);
    return TR_OK;
}

int tr_dataset_keep_records(tr_dataset *ds, const unsigned char *keep, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    size_t M = ds->n_models, d = ds->emb_dim, k = 0, dropped = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (!keep[i]) {
            tr_free(ds->rec[i].id); tr_free(ds->rec[i].prompt); tr_free(ds->rec[i].task);
            dropped++;
            continue;
        }
        if (k != i) {
            ds->rec[k] = ds->rec[i];
            memmove(ds->scores + k * M, ds->scores + i * M, M * sizeof *ds->scores);
            memmove(ds->costs + k * M, ds->costs + i * M, M * sizeof *ds->costs);
            if (d) memmove(ds->emb + k * d, ds->emb + i * d, d * sizeof *ds->emb);
        }
        k++;
    }
    ds->n = k;
    ds->stats.skipped += dropped;
    tr_dataset_recount(ds);
    return TR_OK;
}

void tr_records_pack(const tr_dataset *ds, const size_t *rows, size_t n, tr_buf *b)
{
    size_t M = ds->n_models, d = ds->emb_dim;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows[r];
        const tr_record *x = &ds->rec[i];
        tr_buf_u32(b, x->line);
        tr_buf_u8(b, x->is_test);
        tr_buf_str(b, x->id);
        tr_buf_str(b, x->prompt);
        tr_buf_str(b, x->task);
        tr_buf_f32s(b, ds->scores + i * M, M);
        tr_buf_f32s(b, ds->costs + i * M, M);
        if (d) tr_buf_f32s(b, ds->emb + i * d, d);
    }
}

int tr_records_unpack(const void *data, size_t len, const char *path, char *const *names, size_t M,
                      size_t emb_dim, tr_dataset **out, char *err, size_t errlen)
{
    *out = NULL;
    /* each record takes at least 17 bytes: line, split, three string lengths */
    size_t cap = len / 17 + 1;
    tr_dataset *ds = tr_calloc(1, sizeof *ds);
    int rc = TR_ENOMEM;
    if (!ds) goto fail;
    ds->path = tr_strdup(path);
    ds->rec = tr_calloc(cap, sizeof *ds->rec);
    ds->models = tr_calloc(M ? M : 1, sizeof *ds->models);
    ds->scores = tr_mallocarray(cap * (M ? M : 1), sizeof *ds->scores);
    ds->costs = tr_mallocarray(cap * (M ? M : 1), sizeof *ds->costs);
    if (emb_dim) ds->emb = tr_mallocarray(cap * emb_dim, sizeof *ds->emb);
    if (!ds->path || !ds->rec || !ds->models || !ds->scores || !ds->costs || (emb_dim && !ds->emb)) goto fail;
    ds->cap = cap;
    for (size_t m = 0; m < M; m++) {
        if (!(ds->models[m] = tr_strdup(names[m]))) goto fail;
        ds->n_models = m + 1;
    }
    ds->n_models = M;
    ds->emb_dim = emb_dim;
    tr_cursor c;
    tr_cursor_init(&c, data, len);
    while (c.left && !c.err) {
        tr_record *x = &ds->rec[ds->n];
        uint8_t split = 0;
        tr_get_u32(&c, &x->line);
        tr_get_u8(&c, &split);
        tr_get_str(&c, &x->id);
        tr_get_str(&c, &x->prompt);
        tr_get_str(&c, &x->task);
        tr_get_f32s(&c, ds->scores + ds->n * M, M);
        tr_get_f32s(&c, ds->costs + ds->n * M, M);
        if (emb_dim) tr_get_f32s(&c, ds->emb + ds->n * emb_dim, emb_dim);
        x->is_test = split != 0;
        ds->n++;   /* counted even when cut short, so tr_dataset_free frees its strings */
        if (!c.err && (!x->id || !x->prompt)) c.err = TR_EFORMAT;
        if (!c.err) x->prompt_len = strlen(x->prompt);
    }
    if (c.err == TR_ENOMEM) goto fail;
    if (c.err) {
        size_t at = ds->n;
        tr_dataset_free(ds);
        return tr_errorf(err, errlen, TR_EFORMAT, "%s: packed records: malformed at record %zu", path, at);
    }
    tr_dataset_recount(ds);
    ds->stats.lines = ds->n;
    *out = ds;
    return TR_OK;
fail:
    tr_dataset_free(ds);
    return tr_errorf(err, errlen, rc, "%s: out of memory unpacking records", path);
}
