/* Task table: build from a partition, serialise, load.  See tasks.h. */
#include "cluster/tasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/vec.h"

void tr_tasks_clear(tr_tasks *t)
{
    if (!t) return;
    if (t->names)
        for (size_t i = 0; i < t->n_tasks; i++) tr_free(t->names[i]);
    if (t->slugs)
        for (size_t i = 0; i < t->n_tasks; i++) tr_free(t->slugs[i]);
    tr_free(t->names);
    tr_free(t->slugs);
    tr_free(t->ids);
    tr_free(t->flags);
    tr_free(t->sizes);
    tr_free(t->centroids);
    tr_free(t->quality);
    tr_free(t->cost);
    tr_free(t->n_labels);
    memset(t, 0, sizeof *t);
}

static int alloc_arrays(tr_tasks *t)
{
    size_t T = t->n_tasks, d = t->dim, M = t->n_models;
    t->names = tr_calloc(T, sizeof *t->names);
    t->slugs = tr_calloc(T, sizeof *t->slugs);
    t->ids = tr_calloc(T, sizeof *t->ids);
    t->flags = tr_calloc(T, sizeof *t->flags);
    t->sizes = tr_calloc(T, sizeof *t->sizes);
    t->centroids = tr_calloc(T * d, sizeof *t->centroids);
    t->quality = tr_calloc(T * M, sizeof *t->quality);
    t->cost = tr_calloc(T * M, sizeof *t->cost);
    t->n_labels = tr_calloc(T * M, sizeof *t->n_labels);
    if (!t->names || !t->slugs || !t->ids || !t->flags || !t->sizes || !t->centroids || !t->quality || !t->cost || !t->n_labels)
        return TR_ENOMEM;
    return TR_OK;
}

int tr_tasks_set_name(tr_tasks *t, size_t task, const char *name)
{
    if (task >= t->n_tasks) return TR_EINVAL;
    char *s = tr_strdup(name);
    if (!s) return TR_ENOMEM;
    tr_free(t->names[task]);
    t->names[task] = s;
    return TR_OK;
}

int tr_tasks_find_id(const tr_tasks *t, int32_t id)
{
    for (size_t i = 0; i < t->n_tasks; i++)
        if (t->ids[i] == id) return (int)i;
    return -1;
}

void tr_slugify(const char *name, int32_t id, char *out)
{
    char buf[4 * TR_SLUG_MAX];
    size_t o = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o < sizeof buf - 1; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o > 0) buf[o++] = '-';
            if (o < sizeof buf - 1) buf[o++] = (char)c;
            dash = 0;
        } else {
            dash = 1;
        }
    }
    buf[o] = 0;
    if (o > TR_SLUG_MAX) {
        /* cut at the last '-' that keeps at least half of it, else hard */
        size_t cut = TR_SLUG_MAX;
        while (cut > TR_SLUG_MAX / 2 && buf[cut] != '-') cut--;
        if (buf[cut] != '-') cut = TR_SLUG_MAX;
        buf[cut] = 0;
        while (cut > 0 && buf[cut - 1] == '-') buf[--cut] = 0;
    }
    if (!buf[0]) snprintf(buf, sizeof buf, "task-%ld", (long)id);
    memcpy(out, buf, strlen(buf) + 1);
}

int tr_tasks_make_slugs(tr_tasks *t)
{
    for (size_t i = 0; i < t->n_tasks; i++) {
        char s[TR_SLUG_MAX + 1], base[TR_SLUG_MAX + 1];
        tr_slugify(t->names[i] ? t->names[i] : "", t->ids[i], base);
        memcpy(s, base, sizeof s);
        for (int attempt = 0;; attempt++) {
            int taken = 0;
            for (size_t k = 0; k < i && !taken; k++) taken = !strcmp(t->slugs[k], s);
            if (!taken) break;
            /* "-<id>" (ids are unique), then "task-<id>-<n>": always ends */
            char suffix[40];
            if (attempt == 0) snprintf(suffix, sizeof suffix, "-%ld", (long)t->ids[i]);
            else snprintf(suffix, sizeof suffix, "task-%ld-%d", (long)t->ids[i], attempt + 1);
            size_t sl = strlen(suffix), keep = attempt == 0 ? strlen(base) : 0;
            if (keep + sl > TR_SLUG_MAX) keep = TR_SLUG_MAX - sl;
            while (keep > 0 && base[keep - 1] == '-') keep--;
            memcpy(s, base, keep);
            memcpy(s + keep, suffix, sl + 1);
        }
        char *d = tr_strdup(s);
        if (!d) return TR_ENOMEM;
        tr_free(t->slugs[i]);
        t->slugs[i] = d;
    }
    return TR_OK;
}

int tr_tasks_build(const int32_t *membership, size_t n, size_t T, const float *X,
                   size_t dim, const float *scores, const float *costs,
                   size_t M, tr_tasks *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (T == 0) return tr_errorf(err, errlen, TR_EINVAL, "task table: no tasks");
    out->n_tasks = T;
    out->dim = dim;
    out->n_models = scores ? M : 0;
    int rc = alloc_arrays(out);
    double *qsum = NULL, *csum = NULL;
    uint32_t *ncost = NULL;
    if (rc) goto fail;
    for (size_t i = 0; i < n; i++) {
        int32_t t = membership[i];
        if (t < 0 || (size_t)t >= T) {
            rc = tr_errorf(err, errlen, TR_EINVAL, "task table: prompt %zu has task %d outside [0, %zu)", i, t, T);
            goto fail;
        }
        out->sizes[t]++;
        float *c = out->centroids + (size_t)t * dim;
        for (size_t j = 0; j < dim; j++) c[j] += X[i * dim + j];
    }
    for (size_t t = 0; t < T; t++) {
        float *c = out->centroids + t * dim;
        tr_vec_unit(c, c, dim);
        out->ids[t] = (int32_t)t;
        char name[32];
        snprintf(name, sizeof name, "task-%zu", t);
        if ((rc = tr_tasks_set_name(out, t, name))) goto fail;
    }
    if ((rc = tr_tasks_make_slugs(out))) goto fail;
    if (out->n_models) {
        qsum = tr_calloc(T * M, sizeof *qsum);
        csum = tr_calloc(T * M, sizeof *csum);
        ncost = tr_calloc(T * M, sizeof *ncost);
        if (!qsum || !csum || !ncost) { rc = TR_ENOMEM; goto fail; }
        for (size_t i = 0; i < n; i++) {
            size_t t = (size_t)membership[i];
            for (size_t m = 0; m < M; m++) {
                float q = scores[i * M + m];
                if (!isnan(q)) { qsum[t * M + m] += q; out->n_labels[t * M + m]++; }
                float c = costs ? costs[i * M + m] : NAN;
                if (!isnan(c)) { csum[t * M + m] += c; ncost[t * M + m]++; }
            }
        }
        for (size_t k = 0; k < T * M; k++) {
            out->quality[k] = out->n_labels[k] ? (float)(qsum[k] / out->n_labels[k]) : NAN;
            out->cost[k] = ncost[k] ? (float)(csum[k] / ncost[k]) : NAN;
        }
    }
    tr_free(qsum); tr_free(csum); tr_free(ncost);
    return TR_OK;
fail:
    tr_free(qsum); tr_free(csum); tr_free(ncost);
    tr_tasks_clear(out);
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "task table: out of memory");
    return rc;
}

/* Section layout (format 2): u32 version, u64 T, u64 dim, u64 M, then per
 * task: str name, i32 id, u32 size, u32 flags (TR_TASK_*); then centroids
 * T*dim f32, quality T*M f32, cost T*M f32, n_labels T*M u32.  Format 1 has
 * no flags: its names are made of subword pieces (TR_TASK_LEGACY_NAME). */
#define TASKS_FORMAT 2u

int tr_tasks_save(const tr_tasks *t, tr_buf *b)
{
    tr_buf_u32(b, TASKS_FORMAT);
    tr_buf_u64(b, t->n_tasks);
    tr_buf_u64(b, t->dim);
    tr_buf_u64(b, t->n_models);
    for (size_t i = 0; i < t->n_tasks; i++) {
        tr_buf_str(b, t->names[i]);
        tr_buf_i32(b, t->ids[i]);
        tr_buf_u32(b, t->sizes[i]);
        tr_buf_u32(b, t->flags[i]);
    }
    tr_buf_f32s(b, t->centroids, t->n_tasks * t->dim);
    tr_buf_f32s(b, t->quality, t->n_tasks * t->n_models);
    tr_buf_f32s(b, t->cost, t->n_tasks * t->n_models);
    for (size_t i = 0; i < t->n_tasks * t->n_models; i++) tr_buf_u32(b, t->n_labels[i]);
    return tr_buf_ok(b);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* 1 when the n ids are distinct, 0 (and *dup one that repeats) when not,
 * -1 out of memory. */
static int ids_unique(const int32_t *ids, size_t n, int32_t *dup)
{
    int32_t *v = tr_mallocarray(n ? n : 1, sizeof *v);
    if (!v) return -1;
    memcpy(v, ids, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_i32);
    int ok = 1;
    for (size_t i = 1; i < n && ok; i++)
        if (v[i] == v[i - 1]) { ok = 0; *dup = v[i]; }
    tr_free(v);
    return ok;
}

int tr_tasks_load(const void *data, size_t len, tr_tasks *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    tr_cursor c;
    tr_cursor_init(&c, data, len);
    uint32_t ver;
    uint64_t T, d, M;
    tr_cursor_field(&c, "version");
    tr_get_u32(&c, &ver);
    tr_get_u64(&c, &T);
    tr_get_u64(&c, &d);
    tr_get_u64(&c, &M);
    if (c.err) goto bad;
    if (ver < 1 || ver > TASKS_FORMAT)
        return tr_errorf(err, errlen, TR_EVERSION, "task section: format %u, this reader knows 1 to %u", ver, TASKS_FORMAT);
    if (T == 0 || d > (1u << 20) || M > (1u << 16)) { c.err = TR_EFORMAT; c.what = "counts"; goto bad; }
    /* every task needs >= 12 bytes + its centroid: check before allocating */
    if (tr_cursor_check_count(&c, T, 12 + 4 * (size_t)d + 12 * (size_t)M, "task count")) goto bad;
    out->n_tasks = T;
    out->dim = d;
    out->n_models = M;
    if (alloc_arrays(out)) { tr_tasks_clear(out); return tr_errorf(err, errlen, TR_ENOMEM, "task section: out of memory"); }
    for (size_t i = 0; i < T; i++) {
        tr_cursor_field(&c, "task name");
        tr_get_str(&c, &out->names[i]);
        tr_get_i32(&c, &out->ids[i]);
        tr_get_u32(&c, &out->sizes[i]);
        if (ver >= 2) {
            tr_cursor_field(&c, "task flags");
            tr_get_u32(&c, &out->flags[i]);
        } else {
            out->flags[i] = TR_TASK_LEGACY_NAME;
        }
        if (!c.err && !out->names[i]) { c.err = TR_EFORMAT; c.what = "task name"; }
    }
    tr_cursor_field(&c, "centroids");
    tr_get_f32s(&c, out->centroids, T * d);
    tr_cursor_field(&c, "task quality");
    tr_get_f32s(&c, out->quality, T * M);
    tr_get_f32s(&c, out->cost, T * M);
    for (size_t i = 0; i < T * M; i++) tr_get_u32(&c, &out->n_labels[i]);
    if (c.err) goto bad;
    int32_t dup;
    int u = ids_unique(out->ids, T, &dup);
    if (u != 1) {
        tr_tasks_clear(out);
        if (u < 0) return tr_errorf(err, errlen, TR_ENOMEM, "task section: out of memory");
        return tr_errorf(err, errlen, TR_EFORMAT, "task section: task id %ld repeated", (long)dup);
    }
    if (tr_tasks_make_slugs(out)) {
        tr_tasks_clear(out);
        return tr_errorf(err, errlen, TR_ENOMEM, "task section: out of memory");
    }
    return TR_OK;
bad:
    tr_tasks_clear(out);
    return tr_errorf(err, errlen, c.err ? c.err : TR_EFORMAT, "task section: %s at field '%s'",
                     tr_strerror(c.err ? c.err : TR_EFORMAT), c.what ? c.what : "?");
}
