/* The routing JSONL reader (the evaluation protocol's format, docs/evaluation.md): one
 * JSON object per line, streamed with getline so a line may be any length
 * and a 100k-record file never sits in memory twice.  Every line is parsed
 * with cJSON, checked, and either kept or refused with a message naming
 * file, line, field and value; with skip_bad the refusal is reported and
 * the load goes on, so nothing is ever dropped silently.
 *
 * The model set is the union of the models named in kept records, in order of
 * first appearance.  While reading, labels are kept as a sparse list of
 * (record, model, score, cost) entries because the model set is not known
 * until the end; the dense n x n_models matrices (NaN = no label) are built
 * once at the end.  A model labelled in exactly one record of a dataset of 20
 * or more is refused as a probable typo.
 *
 * Memory comes from tr_malloc & co (fault injection in tests), except the
 * getline buffer (libc's contract) and cJSON's own trees, which live for one
 * line only. */
#include "data/dataset.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cJSON.h>

#include "base/hash.h"
#include "base/opts.h"
#include "base/util.h"

/* A model labelled in only one record of a dataset this large is a typo. */
#define TR_TYPO_MIN_RECORDS 20
/* How much of a string value an error message quotes. */
#define TR_QUOTE_MAX 40

/* ------------------------------------------------------------ string map */

/* Open addressing from a string to an index; keys are borrowed from strings
 * the dataset owns (record ids, model names), which never move. */
typedef struct map_slot {
    const char *key;
    uint64_t hash;
    uint32_t val;
} map_slot;

typedef struct strmap {
    size_t cap, n; /* cap is a power of two, or 0 */
    map_slot *slot;
} strmap;

static void map_free(strmap *m)
{
    tr_free(m->slot);
    m->slot = NULL;
    m->cap = m->n = 0;
}

/* Returns the slot where key is or would go. */
static map_slot *map_probe(const strmap *m, const char *key, uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);
    for (;;) {
        map_slot *s = &m->slot[i];
        if (!s->key || (s->hash == h && !strcmp(s->key, key))) return s;
        i = (i + 1) & (m->cap - 1);
    }
}

static int map_grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    map_slot *ns = tr_calloc(cap, sizeof *ns);
    if (!ns) return TR_ENOMEM;
    strmap nm = {cap, m->n, ns};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].key) *map_probe(&nm, m->slot[i].key, m->slot[i].hash) = m->slot[i];
    tr_free(m->slot);
    *m = nm;
    return TR_OK;
}

/* -1 when absent. */
static long map_get(const strmap *m, const char *key)
{
    if (!m->cap) return -1;
    map_slot *s = map_probe(m, key, tr_fnv1a64(key, strlen(key)));
    return s->key ? (long)s->val : -1;
}

/* key must not be present yet; it is borrowed and must outlive the map. */
static int map_put(strmap *m, const char *key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m)) return TR_ENOMEM;
    uint64_t h = tr_fnv1a64(key, strlen(key));
    map_slot *s = map_probe(m, key, h);
    s->key = key;
    s->hash = h;
    s->val = val;
    m->n++;
    return TR_OK;
}

/* ------------------------------------------------------------------ UTF-8 */

/* ----------------------------------------------------------------- loader */

typedef struct entry {
    uint32_t rec, model;
    float score, cost;      /* NaN when absent or null */
    uint8_t has_s, has_c;   /* the key was present (even as null) */
} entry;

typedef struct loader {
    const char *name;       /* for messages: path, or "<stdin>" */
    const tr_load_options *opt;
    tr_dataset *ds;
    strmap ids, models;
    entry *ent;
    size_t n_ent, cap_ent;
    /* Per model: the record (+1) and entry of its latest entry, so a second
     * key for the same model in one record is found in O(1). */
    uint32_t *m_rec;
    size_t *m_ent;
    size_t cap_models;
    size_t emb_cap;         /* floats allocated in ds->emb */
    uint32_t emb_line;      /* line of the record that fixed emb_dim */
    int part;               /* one part of a file (tr_dataset_load_range): may be empty,
                             * and the one-record model check is the caller's */
    char msg[1024];         /* the current record's error */
} loader;

static void report(loader *L, const char *msg)
{
    if (L->opt && L->opt->report) L->opt->report(L->opt->report_ctx, msg);
}

static int rec_err(loader *L, uint32_t line, int code, const char *fmt, ...) TR_PRINTF(4, 5);
static int rec_err(loader *L, uint32_t line, int code, const char *fmt, ...)
{
    int k = snprintf(L->msg, sizeof L->msg, "%s:%u: ", L->name, (unsigned)line);
    if (k < 0 || (size_t)k >= sizeof L->msg) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->msg + k, sizeof L->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return code;
}

/* "string \"abc…\"", "number 3", "array"...: what a value was, for messages. */
static const char *describe(const cJSON *v, char *buf, size_t n)
{
    if (!v) snprintf(buf, n, "nothing");
    else if (cJSON_IsString(v)) {
        size_t len = strlen(v->valuestring);
        snprintf(buf, n, "string \"%.*s%s\"", (int)(len > TR_QUOTE_MAX ? TR_QUOTE_MAX : len),
                 v->valuestring, len > TR_QUOTE_MAX ? "..." : "");
    } else if (cJSON_IsNumber(v)) snprintf(buf, n, "number %.10g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(buf, n, "null");
    else if (cJSON_IsArray(v)) snprintf(buf, n, "an array");
    else if (cJSON_IsObject(v)) snprintf(buf, n, "an object");
    else snprintf(buf, n, "an invalid value");
    return buf;
}

/* Find the first string (key or value) under v that is not valid UTF-8 and
 * write its field path into path ("meta.src[1]").  0: none; 1: a value; 2: a
 * key of the object at path. */
static int find_bad_utf8(const cJSON *v, char *path, size_t n, size_t *at)
{
    size_t k = 0;
    for (const cJSON *c = v->child; c; c = c->next, k++) {
        size_t plen = strlen(path);
        if (c->string && cJSON_IsObject(v)) {
            size_t kl = strlen(c->string);
            size_t bad = tr_utf8_invalid_at((const unsigned char *)c->string, kl);
            if (bad < kl) { *at = bad; return 2; }
            snprintf(path + plen, n - plen, "%s%s", plen ? "." : "", c->string);
        } else {
            snprintf(path + plen, n - plen, "[%zu]", k);
        }
        if (cJSON_IsString(c)) {
            size_t sl = strlen(c->valuestring);
            size_t bad = tr_utf8_invalid_at((const unsigned char *)c->valuestring, sl);
            if (bad < sl) { *at = bad; return 1; }
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            int r = find_bad_utf8(c, path, n, at);
            if (r) return r;
        }
        path[plen] = 0;
    }
    return 0;
}

/* Append a label; returns TR_OK, TR_ENOMEM, or 1 when the record already
 * named that model in the same object (a duplicate key). */
static int put_label(loader *L, uint32_t rec, size_t m, int is_cost, float v)
{
    entry *e;
    if (L->m_rec[m] == rec + 1) {
        e = &L->ent[L->m_ent[m]];
    } else {
        if (L->n_ent == L->cap_ent) {
            size_t cap = L->cap_ent ? L->cap_ent * 2 : 1024;
            entry *ne = tr_realloc(L->ent, cap * sizeof *ne);
            if (!ne) return TR_ENOMEM;
            L->ent = ne;
            L->cap_ent = cap;
        }
        e = &L->ent[L->n_ent];
        e->rec = rec;
        e->model = (uint32_t)m;
        e->score = e->cost = NAN;
        e->has_s = e->has_c = 0;
        L->m_rec[m] = rec + 1;
        L->m_ent[m] = L->n_ent++;
    }
    if (is_cost) {
        if (e->has_c) return 1;
        e->has_c = 1;
        e->cost = v;
    } else {
        if (e->has_s) return 1;
        e->has_s = 1;
        e->score = v;
    }
    return TR_OK;
}

/* Index of model name, adding it (as a candidate: kept records decide at the
 * end) when new.  Returns -1 on allocation failure. */
static long model_index(loader *L, const char *name, long guess)
{
    /* Records usually list models in the same order: try the expected one
     * before hashing. */
    if (guess >= 0 && (size_t)guess < L->ds->n_models && !strcmp(L->ds->models[guess], name)) return guess;
    long m = map_get(&L->models, name);
    if (m >= 0) return m;
    tr_dataset *ds = L->ds;
    if (ds->n_models == L->cap_models) {
        size_t cap = L->cap_models ? L->cap_models * 2 : 16;
        char **nm = tr_realloc(ds->models, cap * sizeof *nm);
        if (!nm) return -1;
        ds->models = nm;
        uint32_t *nr = tr_realloc(L->m_rec, cap * sizeof *nr);
        if (!nr) return -1;
        L->m_rec = nr;
        size_t *ne = tr_realloc(L->m_ent, cap * sizeof *ne);
        if (!ne) return -1;
        L->m_ent = ne;
        L->cap_models = cap;
    }
    char *copy = tr_strdup(name);
    if (!copy) return -1;
    if (map_put(&L->models, copy, (uint32_t)ds->n_models)) { tr_free(copy); return -1; }
    ds->models[ds->n_models] = copy;
    L->m_rec[ds->n_models] = 0;
    L->m_ent[ds->n_models] = 0;
    return (long)ds->n_models++;
}

/* The "scores" or "costs" object of record rec. */
static int read_labels(loader *L, const cJSON *obj, const char *field, int is_cost,
                       uint32_t rec, uint32_t line)
{
    char what[128];
    long guess = 0;
    if (!obj || cJSON_IsNull(obj)) return TR_OK;
    if (!cJSON_IsObject(obj))
        return rec_err(L, line, TR_EFORMAT, "field '%s': expected an object, got %s", field,
                       describe(obj, what, sizeof what));
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *model = c->string;
        if (!model || !*model)
            return rec_err(L, line, TR_EFORMAT, "field '%s': empty model name", field);
        float v = NAN;
        if (cJSON_IsNumber(c)) {
            double d = c->valuedouble;
            if (!is_cost && !(d >= 0 && d <= 1))
                return rec_err(L, line, TR_ERANGE, "field '%s.%s': score %.10g is outside [0, 1]",
                               field, model, d);
            if (is_cost && !isfinite(d))
                return rec_err(L, line, TR_ERANGE, "field '%s.%s': cost %g is not finite",
                               field, model, d);
            if (is_cost && d < 0)
                return rec_err(L, line, TR_ERANGE, "field '%s.%s': cost %.10g is negative",
                               field, model, d);
            if (is_cost && d > FLT_MAX)
                return rec_err(L, line, TR_ERANGE, "field '%s.%s': cost %.10g is too large",
                               field, model, d);
            v = (float)d;
        } else if (!cJSON_IsNull(c)) {
            return rec_err(L, line, TR_EFORMAT, "field '%s.%s': expected a number%s or null, got %s",
                           field, model, is_cost ? "" : " in [0, 1]", describe(c, what, sizeof what));
        }
        long m = model_index(L, model, guess);
        if (m < 0) return rec_err(L, line, TR_ENOMEM, "out of memory");
        guess = m + 1;
        int rc = put_label(L, rec, (size_t)m, is_cost, v);
        if (rc == TR_ENOMEM) return rec_err(L, line, TR_ENOMEM, "out of memory");
        if (rc) return rec_err(L, line, TR_EFORMAT, "field '%s.%s': the key appears twice", field, model);
    }
    return TR_OK;
}

static int read_embedding(loader *L, const cJSON *emb, uint32_t line)
{
    tr_dataset *ds = L->ds;
    char what[128];
    if (!emb) {
        if (ds->emb_dim)
            return rec_err(L, line, TR_EFORMAT,
                           "field 'embedding': missing, but the first record (line %u) has one of %zu numbers",
                           (unsigned)L->emb_line, ds->emb_dim);
        return TR_OK;
    }
    if (!cJSON_IsArray(emb))
        return rec_err(L, line, TR_EFORMAT, "field 'embedding': expected an array of numbers, got %s",
                       describe(emb, what, sizeof what));
    size_t d = (size_t)cJSON_GetArraySize(emb);
    if (d == 0) return rec_err(L, line, TR_EFORMAT, "field 'embedding': empty array");
    if (ds->n > 0 && ds->emb_dim == 0)
        return rec_err(L, line, TR_EFORMAT,
                       "field 'embedding': %zu numbers, but the first record (line %u) has none",
                       d, (unsigned)ds->rec[0].line);
    if (ds->emb_dim && d != ds->emb_dim)
        return rec_err(L, line, TR_EFORMAT,
                       "field 'embedding': %zu numbers, but the first record (line %u) has %zu",
                       d, (unsigned)L->emb_line, ds->emb_dim);
    if (!ds->emb_dim) { ds->emb_dim = d; L->emb_line = line; }
    size_t need = (ds->n + 1) * d;
    if (need > L->emb_cap) {
        size_t cap = L->emb_cap ? L->emb_cap * 2 : d * 256;
        while (cap < need) cap *= 2;
        float *ne = tr_realloc(ds->emb, cap * sizeof *ne);
        if (!ne) return rec_err(L, line, TR_ENOMEM, "out of memory");
        ds->emb = ne;
        L->emb_cap = cap;
    }
    float *row = ds->emb + ds->n * d;
    size_t k = 0;
    for (const cJSON *c = emb->child; c; c = c->next, k++) {
        if (!cJSON_IsNumber(c))
            return rec_err(L, line, TR_EFORMAT, "field 'embedding[%zu]': expected a number, got %s",
                           k, describe(c, what, sizeof what));
        if (!isfinite(c->valuedouble) || fabs(c->valuedouble) > FLT_MAX)
            return rec_err(L, line, TR_ERANGE, "field 'embedding[%zu]': %g is not a finite float",
                           k, c->valuedouble);
        row[k] = (float)c->valuedouble;
    }
    return TR_OK;
}

/* A required non-empty string field (id, prompt). */
static int need_string(loader *L, const cJSON *root, const char *field, uint32_t line,
                       const cJSON **out)
{
    char what[128];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!v) return rec_err(L, line, TR_EFORMAT, "field '%s': missing", field);
    if (!cJSON_IsString(v))
        return rec_err(L, line, TR_EFORMAT, "field '%s': expected a string, got %s", field,
                       describe(v, what, sizeof what));
    if (!v->valuestring[0]) return rec_err(L, line, TR_EFORMAT, "field '%s': empty string", field);
    *out = v;
    return TR_OK;
}

/* Parse, check and keep one line.  On failure nothing of it stays in the
 * dataset (entries and candidate embedding row are dropped by the caller's
 * rollback) and L->msg says why. */
static int load_line(loader *L, const char *line, size_t len, uint32_t lineno, int no_newline)
{
    tr_dataset *ds = L->ds;
    cJSON *root = NULL;
    tr_record r = {0};
    int rc;
    char what[128];

    const char *nul = memchr(line, 0, len);
    if (nul) { rc = rec_err(L, lineno, TR_EFORMAT, "NUL byte at column %zu", (size_t)(nul - line) + 1); goto fail; }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!root) {
        size_t col = end ? (size_t)(end - line) + 1 : 1;
        if (no_newline)
            rc = rec_err(L, lineno, TR_ETRUNC,
                         "truncated last line (no final newline): malformed JSON at column %zu", col);
        else
            rc = rec_err(L, lineno, TR_EFORMAT, "malformed JSON at column %zu", col);
        goto fail;
    }
    for (const char *p = end; p < line + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') {
            rc = rec_err(L, lineno, TR_EFORMAT, "unexpected text after the JSON value at column %zu",
                         (size_t)(p - line) + 1);
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        rc = rec_err(L, lineno, TR_EFORMAT, "expected a JSON object, got %s", describe(root, what, sizeof what));
        goto fail;
    }
    if (tr_utf8_invalid_at((const unsigned char *)line, len) < len) {
        char path[256] = "";
        size_t at = 0;
        int where = find_bad_utf8(root, path, sizeof path, &at);
        if (where == 1)
            rc = rec_err(L, lineno, TR_EFORMAT, "field '%s': invalid UTF-8 at byte %zu of the string", path, at);
        else if (where == 2 && path[0])
            rc = rec_err(L, lineno, TR_EFORMAT, "field '%s': a key has invalid UTF-8 at byte %zu", path, at);
        else if (where == 2)
            rc = rec_err(L, lineno, TR_EFORMAT, "a key has invalid UTF-8 at byte %zu", at);
        else
            rc = rec_err(L, lineno, TR_EFORMAT, "invalid UTF-8 at column %zu",
                         tr_utf8_invalid_at((const unsigned char *)line, len) + 1);
        goto fail;
    }

    /* cJSON keeps every copy of a repeated key and hands out the first; a
     * field the reader uses must appear once, or two readers of the file
     * could see two different records */
    static const char *const used[] = {"id", "prompt", "task", "scores", "costs", "embedding"};
    unsigned seen = 0;
    int repeated = 0, k = 0;
    for (const cJSON *c = root->child; c; c = c->next, k++) {
        size_t u = 0;
        while (u < sizeof used / sizeof used[0] && strcmp(c->string, used[u])) u++;
        if (u < sizeof used / sizeof used[0]) {
            if (seen & (1u << u)) {
                rc = rec_err(L, lineno, TR_EFORMAT, "field '%s': the key appears twice", used[u]);
                goto fail;
            }
            seen |= 1u << u;
        } else if (!repeated && k < 64) {   /* ignored keys: counted, among a record's first 64 */
            for (const cJSON *d = root->child; d != c && !repeated; d = d->next) repeated = !strcmp(d->string, c->string);
        }
    }

    const cJSON *id, *prompt;
    if ((rc = need_string(L, root, "id", lineno, &id))) goto fail;
    long first = map_get(&L->ids, id->valuestring);
    if (first >= 0) {
        size_t il = strlen(id->valuestring);
        rc = rec_err(L, lineno, TR_EFORMAT, "field 'id': duplicate id \"%.*s%s\" (first on line %u)",
                     (int)(il > TR_QUOTE_MAX ? TR_QUOTE_MAX : il), id->valuestring,
                     il > TR_QUOTE_MAX ? "..." : "", (unsigned)ds->rec[first].line);
        goto fail;
    }
    if ((rc = need_string(L, root, "prompt", lineno, &prompt))) goto fail;
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
    if (task && !cJSON_IsNull(task) && !cJSON_IsString(task)) {
        rc = rec_err(L, lineno, TR_EFORMAT, "field 'task': expected a string or null, got %s",
                     describe(task, what, sizeof what));
        goto fail;
    }
    uint32_t ri = (uint32_t)ds->n;
    if ((rc = read_labels(L, cJSON_GetObjectItemCaseSensitive(root, "scores"), "scores", 0, ri, lineno))) goto fail;
    if ((rc = read_labels(L, cJSON_GetObjectItemCaseSensitive(root, "costs"), "costs", 1, ri, lineno))) goto fail;
    if ((rc = read_embedding(L, cJSON_GetObjectItemCaseSensitive(root, "embedding"), lineno))) goto fail;

    /* Keep it. */
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 1024;
        tr_record *nr = tr_realloc(ds->rec, cap * sizeof *nr);
        if (!nr) { rc = rec_err(L, lineno, TR_ENOMEM, "out of memory"); goto fail; }
        ds->rec = nr;
        ds->cap = cap;
    }
    r.id = tr_strdup(id->valuestring);
    r.prompt_len = strlen(prompt->valuestring);
    r.prompt = tr_strndup(prompt->valuestring, r.prompt_len);
    if (cJSON_IsString(task)) r.task = tr_strdup(task->valuestring);
    if (!r.id || !r.prompt || (cJSON_IsString(task) && !r.task)) {
        rc = rec_err(L, lineno, TR_ENOMEM, "out of memory");
        goto fail;
    }
    if (map_put(&L->ids, r.id, ri)) { rc = rec_err(L, lineno, TR_ENOMEM, "out of memory"); goto fail; }
    r.line = lineno;
    r.is_test = tr_split_is_test(r.id, strlen(r.id));
    ds->rec[ds->n++] = r;
    ds->stats.repeated_keys += repeated;
    cJSON_Delete(root);
    return TR_OK;

fail:
    tr_free(r.id);
    tr_free(r.prompt);
    tr_free(r.task);
    cJSON_Delete(root);
    return rc;
}

/* Lines from a FILE (getline) or from memory. */
typedef struct src {
    FILE *f;
    char *buf;
    size_t cap;
    const char *mem;
    size_t len, pos;
    long long total;        /* bytes, or -1 when unknown (a pipe) */
    long long done;
    long long limit;        /* stop after this many bytes (whole lines); -1: none */
} src;

/* 1: a line (without '\n', *nl says whether one ended it); 0: end; <0 status. */
static int src_next(src *s, const char **p, size_t *n, int *nl)
{
    if (s->f) {
        if (s->limit >= 0 && s->done >= s->limit) return 0;
        errno = 0;
        ssize_t k = getline(&s->buf, &s->cap, s->f);
        if (k < 0) {
            if (ferror(s->f)) return errno == ENOMEM ? TR_ENOMEM : TR_EIO;
            return 0;
        }
        s->done += k;
        *nl = k > 0 && s->buf[k - 1] == '\n';
        *p = s->buf;
        *n = (size_t)k - (size_t)*nl;
        return 1;
    }
    if (s->pos >= s->len) return 0;
    const char *start = s->mem + s->pos;
    const char *e = memchr(start, '\n', s->len - s->pos);
    *p = start;
    if (e) {
        *n = (size_t)(e - start);
        *nl = 1;
        s->pos += *n + 1;
    } else {
        *n = s->len - s->pos;
        *nl = 0;
        s->pos = s->len;
    }
    s->done = (long long)s->pos;
    return 1;
}

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

/* After the last line: check the model set, build the dense matrices and the
 * split counts. */
static int finish(loader *L, char *err, size_t errlen)
{
    tr_dataset *ds = L->ds;
    int skip = L->opt && L->opt->skip_bad;
    size_t M = ds->n_models;
    size_t *mentions = NULL, *labelled = NULL, *first = NULL;
    long *remap = NULL;
    int rc = TR_OK;

    if (ds->n == 0 && !L->part) {
        if (ds->stats.skipped)
            return tr_errorf(err, errlen, TR_ETOOFEW, "%s: no records kept (%zu bad lines skipped)",
                             L->name, ds->stats.skipped);
        return tr_errorf(err, errlen, TR_ETOOFEW, "%s: no records (empty file)", L->name);
    }
    mentions = tr_calloc(M ? M : 1, sizeof *mentions);
    labelled = tr_calloc(M ? M : 1, sizeof *labelled);
    first = tr_calloc(M ? M : 1, sizeof *first);
    remap = tr_calloc(M ? M : 1, sizeof *remap);
    if (!mentions || !labelled || !first || !remap) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    for (size_t e = 0; e < L->n_ent; e++) {
        const entry *x = &L->ent[e];
        if (!mentions[x->model]++) first[x->model] = e;
        if (!isnan(x->score) || !isnan(x->cost)) labelled[x->model]++;
    }
    size_t keep = 0;
    for (size_t m = 0; m < M; m++) {
        remap[m] = -1;
        if (!mentions[m]) continue; /* named only by skipped records */
        if (!L->part && ds->n >= TR_TYPO_MIN_RECORDS && mentions[m] == 1 && labelled[m] == 1) {
            char msg[512];
            const entry *x = &L->ent[first[m]];
            snprintf(msg, sizeof msg,
                     "%s:%u: field '%s.%s': model '%s' is labelled in only this record of %zu (a typo?)",
                     L->name, (unsigned)ds->rec[x->rec].line, x->has_s ? "scores" : "costs",
                     ds->models[m], ds->models[m], ds->n);
            if (!skip) { rc = tr_errorf(err, errlen, TR_EFORMAT, "%s", msg); goto done; }
            size_t k = strlen(msg);
            snprintf(msg + k, sizeof msg - k, "; model dropped");
            report(L, msg);
            continue;
        }
        remap[m] = (long)keep++;
    }
    /* Compact the model list; dropped names are freed. */
    for (size_t m = 0; m < M; m++) {
        if (remap[m] < 0) tr_free(ds->models[m]);
        else ds->models[remap[m]] = ds->models[m];
    }
    ds->n_models = keep;
    size_t cells = ds->n * (keep ? keep : 1);
    ds->scores = tr_mallocarray(cells ? cells : 1, sizeof(float));
    ds->costs = tr_mallocarray(cells ? cells : 1, sizeof(float));
    if (!ds->scores || !ds->costs) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < cells; i++) ds->scores[i] = ds->costs[i] = NAN;
    for (size_t e = 0; e < L->n_ent; e++) {
        const entry *x = &L->ent[e];
        long m = remap[x->model];
        if (m < 0) continue;
        ds->scores[(size_t)x->rec * keep + (size_t)m] = x->score;
        ds->costs[(size_t)x->rec * keep + (size_t)m] = x->cost;
    }
    tr_load_stats *st = &ds->stats;
    st->kept = ds->n;
    for (size_t i = 0; i < ds->n; i++) {
        bool complete = keep > 0, scored = false;
        for (size_t m = 0; m < keep && complete; m++)
            complete = !isnan(tr_ds_score(ds, i, m)) && !isnan(tr_ds_cost(ds, i, m));
        for (size_t m = 0; m < keep && !scored; m++) scored = !isnan(tr_ds_score(ds, i, m));
        st->unscored += !scored;
        ds->rec[i].complete = complete;
        if (ds->rec[i].is_test) {
            st->test++;
            st->test_complete += complete;
        } else st->train++;
    }
done:
    tr_free(mentions);
    tr_free(labelled);
    tr_free(first);
    tr_free(remap);
    return rc;
}

void tr_load_options_default(tr_load_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* tr_load_options as first published */
#define LOAD_OPTIONS_MIN TR_SIZE_THROUGH(tr_load_options, progress_ctx)

/* The caller's options (NULL: the defaults) into *o. */
static int take_options(const tr_load_options *opt, tr_load_options *o, char *err, size_t errlen)
{
    tr_load_options_default(o);
    int rc = opt ? tr_opts_take(o, sizeof *o, opt, LOAD_OPTIONS_MIN, "tr_load_options", err, errlen) : TR_OK;
    if (!rc && o->skip_bad != 0 && o->skip_bad != 1)
        rc = tr_errorf(err, errlen, TR_EINVAL, "tr_load_options: skip_bad %d is not 0 or 1", o->skip_bad);
    return rc;
}

static int load_src(src *s, const char *path, const char *name, uint32_t first_line, int part,
                    const tr_load_options *opt, tr_dataset **out, char *err, size_t errlen)
{
    loader L;
    memset(&L, 0, sizeof L);
    L.name = name;
    L.opt = opt;
    L.part = part;
    int skip = opt && opt->skip_bad;
    int rc = TR_OK;
    tr_dataset *ds = tr_calloc(1, sizeof *ds);
    if (!ds || !(ds->path = tr_strdup(path))) {
        tr_free(ds);
        ds = NULL;
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        goto fail;
    }
    L.ds = ds;
    uint32_t lineno = first_line - 1;
    long long next_progress = 1 << 20;
    const char *p;
    size_t n;
    int nl;
    for (;;) {
        int got = src_next(s, &p, &n, &nl);
        if (got < 0) {
            rc = got == TR_ENOMEM ? tr_errorf(err, errlen, TR_ENOMEM, "out of memory")
                                  : tr_errorf(err, errlen, TR_EIO, "%s: read error after line %u: %s",
                                              name, (unsigned)lineno, strerror(errno));
            goto fail;
        }
        if (!got) break;
        if (lineno < UINT32_MAX) lineno++;
        if (lineno == 1 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) { p += 3; n -= 3; } /* BOM */
        if (is_blank(p, n)) continue;
        ds->stats.lines++;
        size_t n_ent0 = L.n_ent, emb_dim0 = ds->emb_dim;
        rc = load_line(&L, p, n, lineno, !nl);
        if (rc == TR_OK) goto progress;
        /* Roll back what the bad line added. */
        L.n_ent = n_ent0;
        for (size_t m = 0; m < ds->n_models; m++)
            if (L.m_rec[m] == ds->n + 1) L.m_rec[m] = 0;
        ds->emb_dim = emb_dim0;
        if (rc == TR_ENOMEM || !skip) {
            if (err && errlen) snprintf(err, errlen, "%s", L.msg);
            goto fail;
        }
        ds->stats.skipped++;
        report(&L, L.msg);
        rc = TR_OK;
progress:
        if (opt && opt->progress && s->total > 0 && s->done >= next_progress) {
            opt->progress(opt->progress_ctx, (double)s->done / (double)s->total);
            next_progress = s->done + (1 << 20);
        }
    }
    if ((rc = finish(&L, err, errlen))) goto fail;
    if (skip) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: %zu lines, %zu records kept, %zu skipped, %zu models; %zu without a score, "
                 "%zu repeating an ignored key", name, ds->stats.lines, ds->stats.kept, ds->stats.skipped,
                 ds->n_models, ds->stats.unscored, ds->stats.repeated_keys);
        report(&L, msg);
    }
    if (opt && opt->progress) opt->progress(opt->progress_ctx, 1.0);
    map_free(&L.ids);
    map_free(&L.models);
    tr_free(L.ent);
    tr_free(L.m_rec);
    tr_free(L.m_ent);
    *out = ds;
    return TR_OK;
fail:
    map_free(&L.ids);
    map_free(&L.models);
    tr_free(L.ent);
    tr_free(L.m_rec);
    tr_free(L.m_ent);
    tr_dataset_free(ds);
    *out = NULL;
    return rc;
}

int tr_dataset_load(const char *path, const tr_load_options *opt, tr_dataset **out,
                    char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load: out is NULL");
    *out = NULL;
    if (!path) return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load: path is NULL");
    tr_load_options o;
    int rc = take_options(opt, &o, err, errlen);
    if (rc) return rc;
    src s = {0};
    s.total = -1;
    s.limit = -1;
    int is_stdin = !strcmp(path, "-");
    s.f = is_stdin ? stdin : fopen(path, "rb");
    if (!s.f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(s.f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (!is_stdin) fclose(s.f);
            return tr_errorf(err, errlen, TR_EIO, "%s: is a directory", path);
        }
        if (S_ISREG(st.st_mode)) s.total = (long long)st.st_size;
    }
    rc = load_src(&s, path, is_stdin ? "<stdin>" : path, 1, 0, &o, out, err, errlen);
    free(s.buf); /* getline's buffer: libc's malloc */
    if (!is_stdin) fclose(s.f);
    return rc;
}

int tr_dataset_load_mem(const char *buf, size_t len, const char *name,
                        const tr_load_options *opt, tr_dataset **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load_mem: out is NULL");
    *out = NULL;
    if (!buf && len) return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load_mem: buf is NULL");
    tr_load_options o;
    int rc = take_options(opt, &o, err, errlen);
    if (rc) return rc;
    src s = {0};
    s.mem = buf;
    s.len = len;
    s.total = (long long)len;
    s.limit = -1;
    if (!name) name = "<memory>";
    return load_src(&s, name, name, 1, 0, &o, out, err, errlen);
}

int tr_dataset_load_range(const char *path, uint64_t begin, uint64_t end, uint32_t first_line,
                          const tr_load_options *opt, tr_dataset **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load_range: out is NULL");
    *out = NULL;
    if (!path || end < begin || first_line == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_dataset_load_range: bad arguments");
    tr_load_options o;
    int rc = take_options(opt, &o, err, errlen);
    if (rc) return rc;
    src s = {0};
    s.f = fopen(path, "rb");
    if (!s.f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fseeko(s.f, (off_t)begin, SEEK_SET)) {
        int e = errno;
        fclose(s.f);
        return tr_errorf(err, errlen, TR_EIO, "%s: cannot seek to byte %llu: %s", path,
                         (unsigned long long)begin, strerror(e));
    }
    s.total = s.limit = (long long)(end - begin);
    rc = load_src(&s, path, path, first_line, 1, &o, out, err, errlen);
    free(s.buf); /* getline's buffer: libc's malloc */
    fclose(s.f);
    return rc;
}

void tr_dataset_free(tr_dataset *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) {
        tr_free(ds->rec[i].id);
        tr_free(ds->rec[i].prompt);
        tr_free(ds->rec[i].task);
    }
    tr_free(ds->rec);
    for (size_t m = 0; m < ds->n_models; m++) tr_free(ds->models[m]);
    tr_free(ds->models);
    tr_free(ds->scores);
    tr_free(ds->costs);
    tr_free(ds->emb);
    tr_free(ds->path);
    tr_free(ds);
}

void tr_dataset_stats(const tr_dataset *ds, tr_load_stats *out)
{
    if (!out) return;
    if (!ds) { memset(out, 0, sizeof *out); return; }
    *out = ds->stats;
}

size_t tr_dataset_count(const tr_dataset *ds) { return ds ? ds->n : 0; }
size_t tr_dataset_model_count(const tr_dataset *ds) { return ds ? ds->n_models : 0; }

const char *tr_dataset_model_name(const tr_dataset *ds, size_t m)
{
    return ds && m < ds->n_models ? ds->models[m] : NULL;
}

int tr_dataset_find_model(const tr_dataset *ds, const char *name)
{
    if (!ds || !name) return -1;
    for (size_t m = 0; m < ds->n_models; m++)
        if (!strcmp(ds->models[m], name)) return (int)m;
    return -1;
}

/* Fold f of K holds the records with fnv1a64(id) % K == f.  (5, 0) reads
 * is_test, which the loader sets by the same rule and feedback_merge.c
 * clears for records that are training data only. */
static bool in_fold(const tr_record *r, unsigned K, unsigned f)
{
    return K == 5 && f == 0 ? r->is_test : (unsigned)tr_split_fold(r->id, strlen(r->id), (int)K) == f;
}

/* which: 0 every record, 1 those outside fold f, 2 the complete ones in it */
static int pick(const tr_dataset *ds, int which, unsigned K, unsigned f, size_t **idx, size_t *n)
{
    *idx = NULL;
    *n = 0;
    size_t *v = tr_mallocarray(ds->n ? ds->n : 1, sizeof *v);
    if (!v) return TR_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const tr_record *r = &ds->rec[i];
        if (which == 0 ? 1 : which == 1 ? !in_fold(r, K, f) : (r->complete && in_fold(r, K, f))) v[k++] = i;
    }
    *idx = v;
    *n = k;
    return TR_OK;
}

int tr_dataset_train_indices(const tr_dataset *ds, int use_all, size_t **idx, size_t *n)
{
    if (!ds || !idx || !n) return TR_EINVAL;
    return pick(ds, use_all ? 0 : 1, 5, 0, idx, n);
}

int tr_dataset_test_indices(const tr_dataset *ds, size_t **idx, size_t *n)
{
    if (!ds || !idx || !n) return TR_EINVAL;
    return pick(ds, 2, 5, 0, idx, n);
}

int tr_dataset_fold_indices(const tr_dataset *ds, unsigned K, unsigned f, int test, size_t **idx, size_t *n)
{
    if (!ds || !idx || !n || K < 2 || K > INT_MAX || f >= K) return TR_EINVAL;
    return pick(ds, test ? 2 : 1, K, f, idx, n);
}
