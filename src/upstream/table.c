/* Reading and validating the upstream table (format in table.h and
 * docs/upstreams.md).  Every refusal names the file and the field, e.g.
 * "up.json: models.gpt-x.price.input_per_mtok must be a number >= 0". */
#include "upstream/table.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define MAX_TEXT (16u << 20)

typedef struct ctx {
    const char *name;
    char *err;
    size_t errlen;
} ctx;

static int bad(ctx *c, const char *fmt, ...) TR_PRINTF(2, 3);
static int bad(ctx *c, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tr_errorf(c->err, c->errlen, TR_EFORMAT, "%s: %s", c->name, msg);
}

/* Refuse keys of o not in allowed (NULL-terminated); "_..." are comments. */
static int known_keys(ctx *c, const cJSON *o, const char *where, const char *const *allowed)
{
    for (const cJSON *k = o->child; k; k = k->next) {
        if (!k->string || k->string[0] == '_') continue;
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(k->string, *a);
        if (!ok) return bad(c, "%s%s%s: unknown field (keys starting with '_' are comments)", where, *where ? "." : "",
                            k->string);
    }
    /* cJSON keeps repeated keys and hands out the first: say so instead */
    for (const cJSON *k = o->child; k; k = k->next)
        for (const cJSON *l = k->next; l; l = l->next)
            if (k->string && l->string && !strcmp(k->string, l->string))
                return bad(c, "%s%s%s appears twice", where, *where ? "." : "", k->string);
    return TR_OK;
}

static int get_long(ctx *c, const cJSON *o, const char *key, const char *where, long lo, long hi, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return TR_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
        v->valuedouble != floor(v->valuedouble))
        return bad(c, "%s.%s must be a whole number in [%ld, %ld]", where, key, lo, hi);
    *out = (long)v->valuedouble;
    return TR_OK;
}

/* "timeout_ms": a number (total) or {"connect", "total"}. */
static int get_timeouts(ctx *c, const cJSON *o, const char *where, long *connect, long *total)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "timeout_ms");
    if (!v) return TR_OK;
    char w[256];
    snprintf(w, sizeof w, "%s.timeout_ms", where);
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble >= 1 && v->valuedouble <= 3600000) || v->valuedouble != floor(v->valuedouble))
            return bad(c, "%s must be a whole number in [1, 3600000] (or {\"connect\", \"total\"})", w);
        *total = (long)v->valuedouble;
        if (*connect > *total) *connect = *total;
        return TR_OK;
    }
    if (!cJSON_IsObject(v)) return bad(c, "%s must be a number or an object {\"connect\", \"total\"}", w);
    static const char *const keys[] = {"connect", "total", NULL};
    int rc;
    if ((rc = known_keys(c, v, w, keys))) return rc;
    if ((rc = get_long(c, v, "total", w, 1, 3600000, total))) return rc;
    if ((rc = get_long(c, v, "connect", w, 1, 3600000, connect))) return rc;
    if (*connect > *total) *connect = *total;
    return TR_OK;
}

static int get_retry(ctx *c, const cJSON *d, tr_retry_policy *p)
{
    long v = p->max_retries;
    int rc;
    if ((rc = get_long(c, d, "retries", "defaults", 0, 10, &v))) return rc;
    p->max_retries = (int)v;
    if ((rc = get_long(c, d, "retry_after_max_ms", "defaults", 0, 3600000, &p->retry_after_max_ms))) return rc;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(d, "backoff_ms");
    if (b) {
        if (!cJSON_IsObject(b)) return bad(c, "defaults.backoff_ms must be an object {\"base\", \"max\"}");
        static const char *const keys[] = {"base", "max", NULL};
        if ((rc = known_keys(c, b, "defaults.backoff_ms", keys))) return rc;
        if ((rc = get_long(c, b, "base", "defaults.backoff_ms", 0, 600000, &p->base_ms))) return rc;
        if ((rc = get_long(c, b, "max", "defaults.backoff_ms", 0, 600000, &p->max_ms))) return rc;
        if (p->max_ms < p->base_ms) return bad(c, "defaults.backoff_ms.max must be >= its base");
    }
    return TR_OK;
}

static int get_breaker(ctx *c, const cJSON *d, tr_breaker_params *p)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(d, "breaker");
    if (!b) return TR_OK;
    if (!cJSON_IsObject(b)) return bad(c, "defaults.breaker must be an object {\"failures\", \"cooldown_ms\"}");
    static const char *const keys[] = {"failures", "cooldown_ms", "cooldown_max_ms", NULL};
    int rc;
    if ((rc = known_keys(c, b, "defaults.breaker", keys))) return rc;
    long f = p->failures;
    if ((rc = get_long(c, b, "failures", "defaults.breaker", 0, 1000000, &f))) return rc;
    p->failures = (int)f;
    if ((rc = get_long(c, b, "cooldown_ms", "defaults.breaker", 1, 86400000, &p->cooldown_ms))) return rc;
    if (!cJSON_GetObjectItemCaseSensitive(b, "cooldown_max_ms") && p->cooldown_max_ms < p->cooldown_ms)
        p->cooldown_max_ms = p->cooldown_ms * 10;
    if ((rc = get_long(c, b, "cooldown_max_ms", "defaults.breaker", 1, 86400000, &p->cooldown_max_ms))) return rc;
    if (p->cooldown_max_ms < p->cooldown_ms) return bad(c, "defaults.breaker.cooldown_max_ms must be >= cooldown_ms");
    return TR_OK;
}

static int add_note(tr_upstream_table *t, const char *msg)
{
    char **n = tr_realloc(t->notes, (t->n_notes + 1) * sizeof *n);
    if (!n) return TR_ENOMEM;
    t->notes = n;
    if (!(t->notes[t->n_notes] = tr_strdup(msg))) return TR_ENOMEM;
    t->n_notes++;
    return TR_OK;
}

typedef struct model_defaults {
    long connect_ms, total_ms;
    long max_concurrency;
} model_defaults;

static int read_model(ctx *c, tr_upstream_table *t, const cJSON *m, const model_defaults *md, tr_upstream_env_fn env)
{
    const char *name = m->string;
    char where[300];
    snprintf(where, sizeof where, "models.%.200s", name);
    if (!cJSON_IsObject(m)) return bad(c, "%s must be an object", where);
    if (!*name) return bad(c, "models: a model name is empty");
    static const char *const keys[] = {"base_url", "model", "api_key_env", "price", "timeout_ms",
                                       "max_concurrency", "fallbacks", NULL};
    int rc;
    if ((rc = known_keys(c, m, where, keys))) return rc;
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(m, "base_url");
    const cJSON *um = cJSON_GetObjectItemCaseSensitive(m, "model");
    const cJSON *envk = cJSON_GetObjectItemCaseSensitive(m, "api_key_env");
    if (!cJSON_IsString(base) || (strncmp(base->valuestring, "http://", 7) && strncmp(base->valuestring, "https://", 8)))
        return bad(c, "%s.base_url must be an http:// or https:// URL", where);
    if (strpbrk(base->valuestring, " \t\r\n")) return bad(c, "%s.base_url holds white space", where);
    if (um && (!cJSON_IsString(um) || !*um->valuestring)) return bad(c, "%s.model must be a non-empty string", where);
    if (envk && (!cJSON_IsString(envk) || !*envk->valuestring))
        return bad(c, "%s.api_key_env must be the name of an environment variable", where);
    if (tr_upstream_table_find(t, name) >= 0) return bad(c, "%s listed twice", where);
    tr_upstream *e = &t->u[t->n++];
    e->connect_timeout_ms = md->connect_ms;
    e->timeout_ms = md->total_ms;
    e->max_concurrency = (int)md->max_concurrency;
    size_t bl = strlen(base->valuestring);
    while (bl && base->valuestring[bl - 1] == '/') bl--;
    e->name = tr_strdup(name);
    e->base_url = tr_strndup(base->valuestring, bl);
    e->model = tr_strdup(um ? um->valuestring : name);
    e->url = tr_malloc(bl + sizeof "/chat/completions");
    if (!e->name || !e->base_url || !e->model || !e->url) return tr_errorf(c->err, c->errlen, TR_ENOMEM, "out of memory");
    memcpy(e->url, base->valuestring, bl);
    memcpy(e->url + bl, "/chat/completions", sizeof "/chat/completions");
    if (envk) {
        if (!(e->api_key_env = tr_strdup(envk->valuestring))) return tr_errorf(c->err, c->errlen, TR_ENOMEM, "out of memory");
        const char *key = env(envk->valuestring);
        if (key && *key) {
            if (strpbrk(key, "\r\n")) return bad(c, "%s.api_key_env: the key in $%s holds a line break", where, envk->valuestring);
            size_t kl = strlen(key) + sizeof "Authorization: Bearer ";
            if (!(e->auth_header = tr_malloc(kl))) return tr_errorf(c->err, c->errlen, TR_ENOMEM, "out of memory");
            snprintf(e->auth_header, kl, "Authorization: Bearer %s", key);
        } else {
            char note[512];
            snprintf(note, sizeof note, "model '%.200s': $%.200s (api_key_env) is not set: requests go without a key",
                     name, envk->valuestring);
            if (add_note(t, note)) return tr_errorf(c->err, c->errlen, TR_ENOMEM, "out of memory");
        }
    }
    const cJSON *price = cJSON_GetObjectItemCaseSensitive(m, "price");
    if (price) {
        if (!cJSON_IsObject(price)) return bad(c, "%s.price must be an object {\"input_per_mtok\", \"output_per_mtok\"}", where);
        static const char *const pk[] = {"input_per_mtok", "output_per_mtok", NULL};
        char pw[320];
        snprintf(pw, sizeof pw, "%s.price", where);
        if ((rc = known_keys(c, price, pw, pk))) return rc;
        const cJSON *pi = cJSON_GetObjectItemCaseSensitive(price, "input_per_mtok");
        const cJSON *po = cJSON_GetObjectItemCaseSensitive(price, "output_per_mtok");
        if (!cJSON_IsNumber(pi) || !(pi->valuedouble >= 0 && pi->valuedouble < 1e9))
            return bad(c, "%s.input_per_mtok must be a number >= 0 (USD per million input tokens)", pw);
        if (!cJSON_IsNumber(po) || !(po->valuedouble >= 0 && po->valuedouble < 1e9))
            return bad(c, "%s.output_per_mtok must be a number >= 0 (USD per million output tokens)", pw);
        if (pi->valuedouble + po->valuedouble <= 0) return bad(c, "%s: input and output prices are both 0", pw);
        e->has_price = 1;
        e->price_in = pi->valuedouble;
        e->price_out = po->valuedouble;
    }
    if ((rc = get_timeouts(c, m, where, &e->connect_timeout_ms, &e->timeout_ms))) return rc;
    long mc = e->max_concurrency;
    if ((rc = get_long(c, m, "max_concurrency", where, 0, 1000000, &mc))) return rc;
    e->max_concurrency = (int)mc;
    return TR_OK;
}

/* Resolve each model's "fallbacks" once every model is known. */
static int read_fallbacks(ctx *c, tr_upstream_table *t, const cJSON *models)
{
    for (size_t i = 0; i < t->n; i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(models, t->u[i].name);
        const cJSON *fb = cJSON_GetObjectItemCaseSensitive(m, "fallbacks");
        if (!fb) continue;
        if (!cJSON_IsArray(fb)) return bad(c, "models.%.200s.fallbacks must be an array of model names", t->u[i].name);
        int k = 0;
        for (const cJSON *e = fb->child; e; e = e->next, k++) {
            if (!cJSON_IsString(e)) return bad(c, "models.%.200s.fallbacks[%d] must be a model name", t->u[i].name, k);
            int j = tr_upstream_table_find(t, e->valuestring);
            if (j < 0)
                return bad(c, "models.%.200s.fallbacks[%d]: '%.200s' has no entry in \"models\"", t->u[i].name, k,
                           e->valuestring);
            if ((size_t)j == i) return bad(c, "models.%.200s.fallbacks[%d] names the model itself", t->u[i].name, k);
            if (t->u[i].n_fallbacks >= TR_UPSTREAM_MAX_FALLBACKS)
                return bad(c, "models.%.200s.fallbacks: more than %d", t->u[i].name, TR_UPSTREAM_MAX_FALLBACKS);
            t->u[i].fallbacks[t->u[i].n_fallbacks++] = j;
        }
    }
    return TR_OK;
}

static const char *plain_getenv(const char *name)
{
    return getenv(name);
}

int tr_upstream_table_parse(const char *text, size_t len, const char *name, const char *fallback_override,
                            tr_upstream_env_fn env, tr_upstream_table **out, char *err, size_t errlen)
{
    *out = NULL;
    ctx c = {name ? name : "upstream table", err, errlen};
    if (!env) env = plain_getenv;
    tr_upstream_table *t = tr_calloc(1, sizeof *t);
    if (!t) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    atomic_init(&t->refs, 1);
    t->fallback = -1;
    tr_retry_policy_default(&t->retry);
    tr_breaker_params_default(&t->breaker);
    int rc = TR_ENOMEM;
    cJSON *root = NULL;
    if (!(t->path = tr_strdup(name ? name : ""))) goto oom;
    const char *end = NULL;
    root = text ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        rc = bad(&c, "malformed JSON near byte %zu", off);
        goto fail;
    }
    if (!cJSON_IsObject(root)) { rc = bad(&c, "not a JSON object"); goto fail; }
    static const char *const top[] = {"models", "defaults", "fallback", "timeout_ms", NULL};
    if ((rc = known_keys(&c, root, "", top))) goto fail;
    model_defaults md = {TR_UPSTREAM_CONNECT_TIMEOUT_MS, TR_UPSTREAM_TIMEOUT_MS, TR_UPSTREAM_MAX_CONCURRENCY};
    /* the first version's top-level time-out: the default total time */
    if ((rc = get_timeouts(&c, root, "(top level)", &md.connect_ms, &md.total_ms))) goto fail;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    if (d) {
        if (!cJSON_IsObject(d)) { rc = bad(&c, "\"defaults\" must be an object"); goto fail; }
        static const char *const dk[] = {"timeout_ms", "max_concurrency", "retries", "backoff_ms",
                                         "retry_after_max_ms", "breaker", NULL};
        if ((rc = known_keys(&c, d, "defaults", dk))) goto fail;
        if ((rc = get_timeouts(&c, d, "defaults", &md.connect_ms, &md.total_ms))) goto fail;
        if ((rc = get_long(&c, d, "max_concurrency", "defaults", 0, 1000000, &md.max_concurrency))) goto fail;
        if ((rc = get_retry(&c, d, &t->retry))) goto fail;
        if ((rc = get_breaker(&c, d, &t->breaker))) goto fail;
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsObject(models) || !models->child) { rc = bad(&c, "\"models\" must be a non-empty object"); goto fail; }
    int nm = cJSON_GetArraySize(models);
    if (nm > TR_UPSTREAM_MAX_MODELS) { rc = bad(&c, "\"models\": more than %d entries", TR_UPSTREAM_MAX_MODELS); goto fail; }
    if (!(t->u = tr_calloc((size_t)nm, sizeof *t->u))) goto oom;
    for (const cJSON *m = models->child; m; m = m->next)
        if ((rc = read_model(&c, t, m, &md, env))) goto fail;
    if ((rc = read_fallbacks(&c, t, models))) goto fail;
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(root, "fallback");
    const char *fbname = fallback_override;
    if (!fbname && fb && !cJSON_IsNull(fb)) {
        if (!cJSON_IsString(fb)) { rc = bad(&c, "\"fallback\" must be a model name"); goto fail; }
        fbname = fb->valuestring;
    }
    if (fbname && (t->fallback = tr_upstream_table_find(t, fbname)) < 0) {
        rc = bad(&c, "fallback model '%.200s' has no entry in \"models\"", fbname);
        goto fail;
    }
    cJSON_Delete(root);
    *out = t;
    return TR_OK;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
fail:
    cJSON_Delete(root);
    tr_upstream_table_unref(t);
    return rc;
}

int tr_upstream_table_load(const char *path, const char *fallback_override, tr_upstream_table **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open", path);
    size_t cap = 4096, n = 0;
    char *buf = tr_malloc(cap);
    int rc = TR_OK;
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        if (cap >= MAX_TEXT) { rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: larger than 16 MiB", path); break; }
        char *p = tr_realloc(buf, cap * 2);
        if (!p) { tr_free(buf); buf = NULL; break; }
        buf = p;
        cap *= 2;
    }
    if (!rc && !buf) rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (!rc && ferror(f)) rc = tr_errorf(err, errlen, TR_EIO, "%s: read error", path);
    fclose(f);
    if (!rc) rc = tr_upstream_table_parse(buf, n, path, fallback_override, NULL, out, err, errlen);
    tr_free(buf);
    return rc;
}

void tr_upstream_table_ref(tr_upstream_table *t)
{
    if (t) atomic_fetch_add(&t->refs, 1);
}

void tr_upstream_table_unref(tr_upstream_table *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1) return;
    for (size_t i = 0; i < t->n; i++) {
        tr_free(t->u[i].name);
        tr_free(t->u[i].base_url);
        tr_free(t->u[i].url);
        tr_free(t->u[i].model);
        tr_free(t->u[i].api_key_env);
        tr_free(t->u[i].auth_header);
    }
    for (size_t i = 0; i < t->n_notes; i++) tr_free(t->notes[i]);
    tr_free(t->notes);
    tr_free(t->u);
    tr_free(t->path);
    tr_free(t);
}

int tr_upstream_table_find(const tr_upstream_table *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->n; i++)
        if (t->u[i].name && !strcmp(t->u[i].name, name)) return (int)i;
    return -1;
}

size_t tr_upstream_table_check(const tr_upstream_table *t, const char *const *models, size_t n_models,
                               void (*warn)(void *ctx, const char *msg), void *ctx)
{
    size_t count = 0;
    char msg[600];
    for (size_t m = 0; m < n_models; m++)
        if (tr_upstream_table_find(t, models[m]) < 0) {
            snprintf(msg, sizeof msg, "router model '%.200s' has no entry in the upstream table %.200s: it is never "
                                      "chosen", models[m], t->path);
            warn(ctx, msg);
            count++;
        }
    for (size_t i = 0; i < t->n; i++) {
        size_t m = 0;
        while (m < n_models && strcmp(models[m], t->u[i].name)) m++;
        if (m == n_models) {
            snprintf(msg, sizeof msg, "upstream table %.200s: model '%.200s' is not one of the router's: it is "
                                      "used only as a fallback", t->path, t->u[i].name);
            warn(ctx, msg);
            count++;
        }
    }
    for (size_t i = 0; i < t->n_notes; i++) {
        snprintf(msg, sizeof msg, "upstream table %.200s: %s", t->path, t->notes[i]);
        warn(ctx, msg);
        count++;
    }
    return count;
}
