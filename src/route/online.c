/* Online Beta posteriors per task and model, Thompson sampling / UCB with
 * bounded exploration, atomic JSON persistence.  See online.h. */
#include "route/online.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "router/router.h"

struct tr_online {
    pthread_mutex_t mu;
    tr_online_params p;
    size_t T, M;
    int32_t *task_ids;   /* T */
    char **models;       /* M */
    double *a, *b, *n, *q0;   /* T x M */
    double *cost;        /* M: a price set by the caller, NaN = the router's prediction */
    uint64_t decisions, explored;
    tr_rng rng;
};

void tr_online_params_default(tr_online_params *p)
{
    p->policy = TR_ONLINE_THOMPSON;
    p->prior_strength = 50;
    p->ucb_c = 1;
    p->explore_cost_eps = 0.5;
    p->max_explore_share = 0.05;
    p->seed = 42;
}

void tr_online_free(tr_online *o)
{
    if (!o) return;
    if (o->models)
        for (size_t m = 0; m < o->M; m++) tr_free(o->models[m]);
    tr_free(o->models);
    tr_free(o->task_ids);
    tr_free(o->a); tr_free(o->b); tr_free(o->n); tr_free(o->q0); tr_free(o->cost);
    pthread_mutex_destroy(&o->mu);
    tr_free(o);
}

int tr_online_new(const tr_router *r, const tr_online_params *p, tr_online **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!r || !r->n_models || !r->tasks.n_tasks) return tr_errorf(err, errlen, TR_EINVAL, "online: a router with models and tasks is needed");
    tr_online *o = tr_calloc(1, sizeof *o);
    if (!o) return tr_errorf(err, errlen, TR_ENOMEM, "online: out of memory");
    if (pthread_mutex_init(&o->mu, NULL)) { tr_free(o); return tr_errorf(err, errlen, TR_ENOMEM, "online: mutex"); }
    if (p) o->p = *p;
    else tr_online_params_default(&o->p);
    size_t T = r->tasks.n_tasks, M = r->n_models;
    o->T = T;
    o->M = M;
    o->task_ids = tr_mallocarray(T, sizeof *o->task_ids);
    o->models = tr_calloc(M, sizeof *o->models);
    o->a = tr_mallocarray(T * M, sizeof *o->a);
    o->b = tr_mallocarray(T * M, sizeof *o->b);
    o->n = tr_calloc(T * M, sizeof *o->n);
    o->q0 = tr_mallocarray(T * M, sizeof *o->q0);
    o->cost = tr_mallocarray(M, sizeof *o->cost);
    if (!o->task_ids || !o->models || !o->a || !o->b || !o->n || !o->q0 || !o->cost) goto oom;
    for (size_t m = 0; m < M; m++) {
        if (!(o->models[m] = tr_strdup(r->models[m]))) goto oom;
        o->cost[m] = NAN;
    }
    for (size_t t = 0; t < T; t++) {
        o->task_ids[t] = r->tasks.ids[t];
        for (size_t m = 0; m < M; m++) {
            double q = r->tasks.n_models ? r->tasks.quality[t * r->tasks.n_models + m] : NAN;
            size_t k = t * M + m;
            if (isfinite(q)) {
                /* keep both parameters positive at q0 = 0 or 1 */
                double qq = q < 0.01 ? 0.01 : q > 0.99 ? 0.99 : q, s = o->p.prior_strength > 0 ? o->p.prior_strength : 1;
                o->q0[k] = q;
                o->a[k] = s * qq;
                o->b[k] = s * (1 - qq);
            } else {
                o->q0[k] = NAN;   /* cold: no prediction to correct */
                o->a[k] = o->b[k] = 1;
            }
        }
    }
    tr_rng_seed(&o->rng, o->p.seed);
    *out = o;
    return TR_OK;
oom:
    tr_online_free(o);
    return tr_errorf(err, errlen, TR_ENOMEM, "online: out of memory");
}

int tr_online_set_cost(tr_online *o, const char *model, double usd)
{
    if (!o || !model || !(usd >= 0)) return TR_EINVAL;
    for (size_t m = 0; m < o->M; m++)
        if (!strcmp(o->models[m], model)) {
            pthread_mutex_lock(&o->mu);
            o->cost[m] = usd;
            pthread_mutex_unlock(&o->mu);
            return TR_OK;
        }
    return TR_ENOTFOUND;
}

/* Marsaglia-Tsang gamma(shape k, scale 1); k < 1 by the boost U^(1/k). */
static double gamma_sample(tr_rng *r, double k)
{
    if (k < 1) {
        double u = tr_rng_uniform(r);
        return gamma_sample(r, k + 1) * pow(u > 0 ? u : 1e-300, 1 / k);
    }
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = tr_rng_normal(r), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = tr_rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x) return d * v;
        if (log(u > 0 ? u : 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}

double tr_beta_sample(tr_rng *r, double a, double b)
{
    double x = gamma_sample(r, a), y = gamma_sample(r, b);
    return x + y > 0 ? x / (x + y) : 0.5;
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

int tr_online_choose(tr_online *o, const tr_decision *d, double lambda, const unsigned char *allowed,
                     tr_online_choice *out)
{
    if (!o || !d || !out || d->n_models != o->M || d->task < 0 || (size_t)d->task >= o->T) return TR_EINVAL;
    out->model = out->exploit = -1;
    out->explored = 0;
    out->q_online = NAN;
    size_t t = (size_t)d->task, M = o->M;
    int ex = -1, xp = -1;
    double best_ex = -INFINITY, best_xp = -INFINITY, q_ex = NAN, q_xp = NAN;
    pthread_mutex_lock(&o->mu);
    /* the exploit choice: posterior means */
    for (size_t m = 0; m < M; m++) {
        if (allowed && !allowed[m]) continue;
        double c = isfinite(o->cost[m]) ? o->cost[m] : d->cost ? d->cost[m] : NAN;
        size_t k = t * M + m;
        double qh = d->quality ? d->quality[m] : NAN, mean = o->a[k] / (o->a[k] + o->b[k]);
        if (!isfinite(c)) continue;
        double q = isfinite(qh) && isfinite(o->q0[k]) ? clamp01(qh + mean - o->q0[k]) : mean;
        double v = q - (isinf(lambda) ? 0 : lambda * c);
        if (isinf(lambda)) v = -c;
        if (v > best_ex) { best_ex = v; ex = (int)m; q_ex = q; }
    }
    if (ex < 0) { pthread_mutex_unlock(&o->mu); return TR_ENOTFOUND; }
    double c_ex = isfinite(o->cost[ex]) ? o->cost[ex] : d->cost[ex];
    /* the exploring choice among models no dearer than (1+eps) × exploit */
    for (size_t m = 0; m < M; m++) {
        if (allowed && !allowed[m]) continue;
        double c = isfinite(o->cost[m]) ? o->cost[m] : d->cost ? d->cost[m] : NAN;
        if (!isfinite(c)) continue;
        if (o->p.explore_cost_eps >= 0 && c > (1 + o->p.explore_cost_eps) * c_ex && (int)m != ex) continue;
        size_t k = t * M + m;
        double a = o->a[k], b = o->b[k], th;
        if (o->p.policy == TR_ONLINE_UCB)
            th = a / (a + b) + o->p.ucb_c * sqrt(a * b / ((a + b) * (a + b) * (a + b + 1)));
        else
            th = tr_beta_sample(&o->rng, a, b);
        double qh = d->quality ? d->quality[m] : NAN;
        double q = isfinite(qh) && isfinite(o->q0[k]) ? clamp01(qh + th - o->q0[k]) : clamp01(th);
        double v = isinf(lambda) ? -c : q - lambda * c;
        if (v > best_xp) { best_xp = v; xp = (int)m; q_xp = q; }
    }
    o->decisions++;
    int explore = xp >= 0 && xp != ex &&
                  (double)(o->explored + 1) <= o->p.max_explore_share * (double)o->decisions;
    if (explore) o->explored++;
    pthread_mutex_unlock(&o->mu);
    out->exploit = ex;
    out->model = explore ? xp : ex;
    out->explored = explore;
    out->q_online = (float)(explore ? q_xp : q_ex);
    return TR_OK;
}

int tr_online_update(tr_online *o, int task, int model, double q_hat, double score)
{
    if (!o || task < 0 || (size_t)task >= o->T || model < 0 || (size_t)model >= o->M || !(score >= 0 && score <= 1))
        return TR_EINVAL;
    size_t k = (size_t)task * o->M + (size_t)model;
    pthread_mutex_lock(&o->mu);
    double y = isfinite(q_hat) && isfinite(o->q0[k]) ? clamp01(o->q0[k] + score - q_hat) : score;
    o->a[k] += y;
    o->b[k] += 1 - y;
    o->n[k] += 1;
    pthread_mutex_unlock(&o->mu);
    return TR_OK;
}

int tr_online_posterior(tr_online *o, int task, int model, double *a, double *b, double *n)
{
    if (!o || task < 0 || (size_t)task >= o->T || model < 0 || (size_t)model >= o->M) return TR_EINVAL;
    size_t k = (size_t)task * o->M + (size_t)model;
    pthread_mutex_lock(&o->mu);
    if (a) *a = o->a[k];
    if (b) *b = o->b[k];
    if (n) *n = o->n[k];
    pthread_mutex_unlock(&o->mu);
    return TR_OK;
}

void tr_online_counts(tr_online *o, uint64_t *decisions, uint64_t *explored)
{
    pthread_mutex_lock(&o->mu);
    if (decisions) *decisions = o->decisions;
    if (explored) *explored = o->explored;
    pthread_mutex_unlock(&o->mu);
}

/* The state as a JSON tree (owned by the caller: cJSON_Delete), NULL when
 * out of memory. */
static cJSON *to_json(tr_online *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "format", 1);
    cJSON_AddStringToObject(j, "policy", o->p.policy == TR_ONLINE_UCB ? "ucb" : "thompson");
    pthread_mutex_lock(&o->mu);
    cJSON_AddNumberToObject(j, "decisions", (double)o->decisions);
    cJSON_AddNumberToObject(j, "explored", (double)o->explored);
    cJSON *costs = cJSON_AddObjectToObject(j, "costs");
    for (size_t m = 0; m < o->M; m++)
        if (isfinite(o->cost[m])) cJSON_AddNumberToObject(costs, o->models[m], o->cost[m]);
    cJSON *es = cJSON_AddArrayToObject(j, "entries");
    for (size_t t = 0; t < o->T; t++)
        for (size_t m = 0; m < o->M; m++) {
            size_t k = t * o->M + m;
            if (o->n[k] == 0) continue;   /* still the prior: rebuilt from the router */
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "task_id", o->task_ids[t]);
            cJSON_AddStringToObject(e, "model", o->models[m]);
            cJSON_AddNumberToObject(e, "a", o->a[k]);
            cJSON_AddNumberToObject(e, "b", o->b[k]);
            cJSON_AddNumberToObject(e, "n", o->n[k]);
            if (isfinite(o->q0[k])) cJSON_AddNumberToObject(e, "q0", o->q0[k]);
            cJSON_AddItemToArray(es, e);
        }
    pthread_mutex_unlock(&o->mu);
    return j;
}

void tr_online_get_params(tr_online *o, tr_online_params *p)
{
    *p = o->p;
}

int tr_online_save(tr_online *o, const char *path, char *err, size_t errlen)
{
    if (!o || !path) return tr_errorf(err, errlen, TR_EINVAL, "tr_online_save: NULL argument");
    cJSON *j = to_json(o);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) return tr_errorf(err, errlen, TR_ENOMEM, "online state: out of memory");
    size_t tl = strlen(path) + 32;
    char *tmp = tr_malloc(tl);
    if (!tmp) { cJSON_free(s); return tr_errorf(err, errlen, TR_ENOMEM, "online state: out of memory"); }
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    int rc = TR_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(s), off = 0;
    if (fd < 0) rc = tr_errorf(err, errlen, TR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    while (!rc && off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = tr_errorf(err, errlen, TR_EIO, "%s: write failed: %s", tmp, strerror(errno));
        else off += (size_t)w;
    }
    if (!rc && fsync(fd)) rc = tr_errorf(err, errlen, TR_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) && !rc) rc = tr_errorf(err, errlen, TR_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = tr_errorf(err, errlen, TR_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    tr_free(tmp);
    cJSON_free(s);
    return rc;
}

/* A state for r from the parsed tree j (borrowed); src names it in messages. */
static int from_json(const cJSON *j, const char *src, const tr_router *r, const tr_online_params *p,
                     tr_online **out, tr_online_carry *rep, char *err, size_t errlen)
{
    tr_online *o = NULL;
    int rc = TR_OK;
    if (rep) memset(rep, 0, sizeof *rep);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsNumber(fmt)) { rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: not an online state file (field 'format')", src); goto done; }
    if (fmt->valuedouble != 1) { rc = tr_errorf(err, errlen, TR_EVERSION, "%s: format %g, this reader knows 1", src, fmt->valuedouble); goto done; }
    if ((rc = tr_online_new(r, p, &o, err, errlen))) goto done;
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(j, "decisions"), *xc = cJSON_GetObjectItemCaseSensitive(j, "explored");
    if (cJSON_IsNumber(dc) && dc->valuedouble >= 0) o->decisions = (uint64_t)dc->valuedouble;
    if (cJSON_IsNumber(xc) && xc->valuedouble >= 0) o->explored = (uint64_t)xc->valuedouble;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "costs"))
        if (cJSON_IsNumber(c)) tr_online_set_cost(o, c->string, c->valuedouble);
    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "entries")) {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(e, "task_id"), *mn = cJSON_GetObjectItemCaseSensitive(e, "model");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "a"), *b = cJSON_GetObjectItemCaseSensitive(e, "b");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "n");
        if (!cJSON_IsNumber(tid) || !cJSON_IsString(mn) || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !cJSON_IsNumber(n) ||
            !(a->valuedouble > 0) || !(b->valuedouble > 0) || !(n->valuedouble >= 0)) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: entry %zu: fields task_id, model, a > 0, b > 0, n >= 0 needed", src, i);
            goto done;
        }
        i++;
        size_t t = 0, m = 0;
        while (t < o->T && o->task_ids[t] != (int32_t)tid->valuedouble) t++;
        while (m < o->M && strcmp(o->models[m], mn->valuestring)) m++;
        if (t == o->T || m == o->M) {   /* a task or model the router no longer has */
            if (rep && !rep->dropped++)
                snprintf(rep->first_dropped, sizeof rep->first_dropped, "task %d / model %.100s%s",
                         (int)tid->valuedouble, mn->valuestring, t == o->T ? " (no such task)" : " (no such model)");
            continue;
        }
        if (rep) rep->kept++;
        size_t k = t * o->M + m;
        o->a[k] = a->valuedouble;
        o->b[k] = b->valuedouble;
        o->n[k] = n->valuedouble;
    }
done:
    if (rc) tr_online_free(o);
    else *out = o;
    return rc;
}

int tr_online_load(const char *path, const tr_router *r, const tr_online_params *p, tr_online **out, char *err,
                   size_t errlen)
{
    return tr_online_load_report(path, r, p, out, NULL, err, errlen);
}

int tr_online_load_report(const char *path, const tr_router *r, const tr_online_params *p, tr_online **out,
                          tr_online_carry *rep, char *err, size_t errlen)
{
    *out = NULL;
    if (rep) memset(rep, 0, sizeof *rep);
    FILE *f = fopen(path, "rb");
    if (!f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = TR_OK;
    for (;;) {
        if (len + 4096 > cap) {
            char *q = tr_realloc(buf, cap = (cap + 4096) * 2);
            if (!q) { rc = TR_ENOMEM; break; }
            buf = q;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int ioerr = ferror(f);
    fclose(f);
    if (rc || ioerr) { tr_free(buf); return tr_errorf(err, errlen, rc ? rc : TR_EIO, "%s: cannot read", path); }
    cJSON *j = cJSON_ParseWithLength(buf, len);
    tr_free(buf);
    rc = from_json(j, path, r, p, out, rep, err, errlen);
    cJSON_Delete(j);
    return rc;
}

int tr_online_rebase(tr_online *old, const tr_router *r, tr_online **out, tr_online_carry *rep,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (!old || !r) return tr_errorf(err, errlen, TR_EINVAL, "tr_online_rebase: NULL argument");
    cJSON *j = to_json(old);
    if (!j) return tr_errorf(err, errlen, TR_ENOMEM, "online: out of memory");
    int rc = from_json(j, "online state", r, &old->p, out, rep, err, errlen);
    cJSON_Delete(j);
    return rc;
}
