/* The served router and its hot reload: hazard-pointer swap (see reload.h
 * for the scheme and why in-flight requests are safe). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "route/online.h"
#include "server/reload.h"
#include "base/hash.h"
#include "base/util.h"

static _Thread_local int tl_worker = -1;
static _Thread_local const tr_router_slot *tl_owner = NULL;

static void loaded_free(tr_loaded_router *L)
{
    if (!L) return;
    for (size_t i = 0; L->model_json && i < L->n_models; i++) tr_free(L->model_json[i]);
    for (size_t i = 0; L->task_json && i < L->n_tasks; i++) tr_free(L->task_json[i]);
    tr_free(L->model_json);
    tr_free(L->task_json);
    tr_free(L->model_json_len);
    tr_free(L->task_json_len);
    tr_free(L->model_slot);
    tr_free(L->task_slot);
    tr_free(L->upstream);
    tr_free(L->routable);
    tr_upstream_table_unref(L->table);
    tr_free(L->path);
    tr_online_free(L->online);
    tr_router_close(L->r);
    tr_free(L);
}

static int hash_file(const char *path, uint64_t *hash, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return tr_errorf(err, errlen, TR_EIO, "%s: cannot open", path);
    uint64_t h = TR_FNV1A64_OFFSET;
    unsigned char buf[65536];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        h = tr_fnv1a64_update(h, buf, n);
        total += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return tr_errorf(err, errlen, TR_EIO, "%s: read error", path);
    *hash = h;
    *size = total;
    return TR_OK;
}

static void warn_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "taskroute serve: warning: %s\n", msg);
}

/* Scale each model's predicted cost by its table price against the price it
 * was trained at, both as the sum of the input and output prices per
 * million tokens (the blend is exact when both prices move together).
 * Says at each load what it did, or why it did nothing. */
static int scale_prices(tr_loaded_router *L, const char *path)
{
    size_t with_ref = 0, scaled = 0, priced = 0;
    for (size_t m = 0; m < L->n_models; m++) {
        double ri, ro;
        int has_ref = tr_router_reference_price(L->r, m, &ri, &ro) == TR_OK;
        with_ref += has_ref;
        int u = L->upstream[m];
        if (u < 0 || !L->table->u[u].has_price) continue;
        priced++;
        if (!has_ref) continue;
        double f = (L->table->u[u].price_in + L->table->u[u].price_out) / (ri + ro);
        if (f != 1 && tr_router_set_cost_scale(L->r, m, f) == TR_OK) scaled++;
    }
    if (priced && !with_ref)
        fprintf(stderr, "taskroute serve: note: %s holds no reference prices (train --prices FILE): the upstream "
                        "table's prices count spending but do not rescale the router's cost estimates\n", path);
    else if (scaled)
        fprintf(stderr, "taskroute serve: note: the upstream table's prices rescale %zu model(s)' cost estimates "
                        "against the prices %s was trained at\n", scaled, path);
    return (int)scaled;
}

int tr_router_slot_load(tr_router_slot *s, const char *path, tr_loaded_router **out, char *err, size_t errlen)
{
    int rc = TR_ENOMEM;
    tr_scratch *sc = NULL;
    tr_loaded_router *L = tr_calloc(1, sizeof *L);
    if (!L) return tr_errorf(err, errlen, rc, "out of memory");
    L->best_up = -1;
    if ((rc = tr_router_open(path, &L->r, err, errlen))) goto fail;
    if (s->upstreams_path &&
        (rc = tr_upstream_table_load(s->upstreams_path, s->fallback, &L->table, err, errlen)))
        goto fail;
    if ((rc = hash_file(path, &L->file_hash, &L->file_size, err, errlen))) goto fail;
    L->path = tr_strdup(path);
    L->n_models = tr_router_model_count(L->r);
    L->n_tasks = tr_router_task_count(L->r);
    L->dim = tr_router_dim(L->r);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(L->loaded_at, sizeof L->loaded_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (L->n_models == 0) { rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: the router has no models", path); goto fail; }
    size_t nm = L->n_models, nt = L->n_tasks ? L->n_tasks : 1;
    L->model_json = tr_calloc(nm, sizeof *L->model_json);
    L->task_json = tr_calloc(nt, sizeof *L->task_json);
    L->model_json_len = tr_calloc(nm, sizeof *L->model_json_len);
    L->task_json_len = tr_calloc(nt, sizeof *L->task_json_len);
    L->model_slot = tr_calloc(nm, sizeof *L->model_slot);
    L->task_slot = tr_calloc(nt, sizeof *L->task_slot);
    L->upstream = tr_calloc(nm, sizeof *L->upstream);
    L->routable = tr_calloc(nm, 1);
    rc = TR_ENOMEM;
    if (!L->path || !L->model_json || !L->task_json || !L->model_json_len || !L->task_json_len ||
        !L->model_slot || !L->task_slot || !L->upstream || !L->routable) {
        tr_errorf(err, errlen, rc, "out of memory");
        goto fail;
    }
    for (size_t m = 0; m < nm; m++) {
        const char *name = tr_router_model_name(L->r, m);
        if (!(L->model_json[m] = tr_json_quote(name))) { tr_errorf(err, errlen, rc, "out of memory"); goto fail; }
        L->model_json_len[m] = strlen(L->model_json[m]);
        L->model_slot[m] = tr_metrics_intern(s->metrics, TR_METRICS_MODEL, name);
        L->upstream[m] = L->table ? tr_upstream_table_find(L->table, name) : -1;
        L->routable[m] = !L->table || L->upstream[m] >= 0;
        L->n_routable += L->routable[m];
    }
    if (L->table) {
        const char **names = tr_mallocarray(nm, sizeof *names);
        if (!names) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
        for (size_t m = 0; m < nm; m++) names[m] = tr_router_model_name(L->r, m);
        tr_upstream_table_check(L->table, names, nm, warn_stderr, NULL);
        tr_free(names);
        L->prices_scaled = scale_prices(L, path);
    }
    tr_route_options dopt;
    tr_route_options_default(&dopt);
    dopt.mode = TR_SELECT_QUALITY;
    L->has_default = tr_router_default_policy(L->r, &dopt, &L->est) == TR_OK;
    if (!L->has_default && !s->policy_fixed && tr_router_has_heads(L->r))
        fprintf(stderr, "taskroute serve: note: %s stores no default policy (trained by an older taskroute): "
                        "requests without a policy route for the best predicted quality; retrain it, or set "
                        "serve --policy\n", path);
    if (L->has_default && L->est.best_model >= 0 && (size_t)L->est.best_model < nm)
        L->best_up = L->upstream[L->est.best_model];
    for (size_t t = 0; t < L->n_tasks; t++) {
        const char *name = tr_router_task_name(L->r, t), *slug = tr_router_task_slug(L->r, t);
        if (!(L->task_json[t] = tr_json_quote(name))) { tr_errorf(err, errlen, rc, "out of memory"); goto fail; }
        L->task_json_len[t] = strlen(L->task_json[t]);
        L->task_slot[t] = tr_metrics_intern(s->metrics, TR_METRICS_TASK, slug ? slug : "");
    }
    /* the answer's fixed text, its longest model and task names (the
     * chosen and the offline model, the task), and per model its name, two
     * numbers and the keys around them */
    size_t longest_model = 0, longest_task = 4;   /* "null" */
    L->answer_cap = 640 + 2 * strlen(L->path);
    for (size_t m = 0; m < nm; m++) {
        L->answer_cap += L->model_json_len[m] + 96;
        if (L->model_json_len[m] > longest_model) longest_model = L->model_json_len[m];
    }
    for (size_t t = 0; t < L->n_tasks; t++)
        if (L->task_json_len[t] > longest_task) longest_task = L->task_json_len[t];
    L->answer_cap += 2 * longest_model + longest_task;
    if (L->n_routable == 0) {
        rc = tr_errorf(err, errlen, TR_EINVAL,
                       "%s: none of the router's %zu models (first: %s) has an entry in the upstream table",
                       path, nm, tr_router_model_name(L->r, 0));
        goto fail;
    }
    /* A probe route proves the file is usable, not only well-formed. */
    if ((rc = tr_scratch_new(L->r, &sc))) { tr_errorf(err, errlen, rc, "%s: cannot allocate routing scratch", path); goto fail; }
    tr_route_options opt;
    tr_route_options_default(&opt);
    opt.allowed = L->routable;
    tr_decision d;
    static const char probe[] = TR_PROBE_PROMPT;
    if ((rc = tr_route(L->r, probe, sizeof probe - 1, &opt, sc, &d))) {
        tr_errorf(err, errlen, rc, "%s: the router fails to route a probe prompt: %s", path, tr_strerror(rc));
        goto fail;
    }
    tr_scratch_free(sc);
    *out = L;
    return TR_OK;
fail:
    tr_scratch_free(sc);
    loaded_free(L);
    return rc;
}

int tr_router_slot_init(tr_router_slot *s, const char *path, tr_metrics *metrics, const char *upstreams_path,
                        const char *fallback, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->metrics = metrics;
    s->upstreams_path = upstreams_path;
    s->fallback = fallback;
    if (pthread_mutex_init(&s->reload_lock, NULL)) return tr_errorf(err, errlen, TR_ENOMEM, "mutex");
    tr_loaded_router *L = NULL;
    int rc = tr_router_slot_load(s, path, &L, err, errlen);
    if (rc) { pthread_mutex_destroy(&s->reload_lock); return rc; }
    s->generation = L->generation = 1;
    atomic_store(&s->cur, L);
    tr_metrics_set_generation(metrics, 1);
    return TR_OK;
}

void tr_router_slot_destroy(tr_router_slot *s)
{
    loaded_free(atomic_load(&s->cur));
    atomic_store(&s->cur, NULL);
    int n = atomic_load(&s->n_workers);
    for (int i = 0; i < n && i < TR_MAX_WORKERS; i++) {
        tr_scratch_free(s->workers[i].scratch);
        s->workers[i].scratch = NULL;
    }
    pthread_mutex_destroy(&s->reload_lock);
}

tr_loaded_router *tr_router_slot_acquire(tr_router_slot *s, tr_scratch **scratch, int *rc,
                                         char *err, size_t errlen)
{
    if (tl_owner != s || tl_worker < 0) {
        int i = atomic_fetch_add(&s->n_workers, 1);
        if (i >= TR_MAX_WORKERS) {
            atomic_fetch_sub(&s->n_workers, 1);
            *rc = tr_errorf(err, errlen, TR_EBUSY, "more than %d server threads", TR_MAX_WORKERS);
            return NULL;
        }
        tl_worker = i;
        tl_owner = s;
    }
    tr_worker_slot *w = &s->workers[tl_worker];
    tr_loaded_router *L;
    /* Publish, then confirm: if a reload swapped the pointer between the load
     * and the store, the reloader may not have seen our hazard; retry. */
    do {
        L = atomic_load(&s->cur);
        atomic_store(&w->hazard, L);
    } while (L != atomic_load(&s->cur));
    if (w->s_gen != L->generation) {
        /* First request of this thread on this generation: keep the scratch
         * only if it covers every size of the new router. */
        if (!w->scratch || tr_scratch_check(L->r, w->scratch, NULL, 0)) {
            tr_scratch_free(w->scratch);
            w->scratch = NULL;
            w->s_gen = 0;
            if ((*rc = tr_scratch_new(L->r, &w->scratch))) {
                atomic_store(&w->hazard, NULL);
                tr_errorf(err, errlen, *rc, "cannot allocate routing scratch");
                return NULL;
            }
        }
        w->s_gen = L->generation;
    }
    *scratch = w->scratch;
    *rc = TR_OK;
    return L;
}

void tr_router_slot_release(tr_router_slot *s)
{
    if (tl_owner == s && tl_worker >= 0) atomic_store(&s->workers[tl_worker].hazard, NULL);
}

void tr_router_slot_discard(tr_loaded_router *L)
{
    loaded_free(L);
}

char *tr_router_slot_path(tr_router_slot *s)
{
    /* the current router cannot be retired under us: publishes take the
     * lock, and the path is copied before it is released */
    pthread_mutex_lock(&s->reload_lock);
    char *p = tr_strdup(atomic_load(&s->cur)->path);
    pthread_mutex_unlock(&s->reload_lock);
    return p;
}

int tr_router_slot_publish(tr_router_slot *s, tr_loaded_router *L, unsigned long *gen, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->reload_lock);
    tr_loaded_router *old = atomic_load(&s->cur);
    L->generation = s->generation + 1;
    if (s->attach) {
        pthread_rwlock_wrlock(s->swap_lock);
        int rc = s->attach(s->attach_ctx, L, old, err, errlen);
        if (rc) {
            pthread_rwlock_unlock(s->swap_lock);
            loaded_free(L);
            pthread_mutex_unlock(&s->reload_lock);
            tr_metrics_reload(s->metrics, 0);
            return rc;
        }
    }
    s->generation++;
    atomic_store(&s->cur, L);
    if (s->attach) pthread_rwlock_unlock(s->swap_lock);
    /* Grace period: wait until no worker still holds the old router.  A
     * request holds it only while routing (microseconds), so this is short;
     * past 10 s something is wrong and leaking beats a use-after-free. */
    double t0 = tr_now();
    int n = atomic_load(&s->n_workers);
    int leaked = 0;
    for (int i = 0; i < n && i < TR_MAX_WORKERS; i++) {
        while (atomic_load(&s->workers[i].hazard) == old) {
            if (tr_now() - t0 > 10) { leaked = 1; break; }
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    if (!leaked) loaded_free(old);
    if (gen) *gen = s->generation;
    tr_metrics_set_generation(s->metrics, s->generation);
    tr_metrics_reload(s->metrics, 1);
    pthread_mutex_unlock(&s->reload_lock);
    return TR_OK;
}
