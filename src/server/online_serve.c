/* Online mode in the server (serve --online STATE.json; off by default):
 * the library's per task x model posteriors (route/online.h) re-rank the
 * router's decision, a fixed-size request-id memory (online_memory.h) keeps
 * what feedback needs, POST /v1/feedback updates the posterior of the model
 * that was chosen, and the state is saved atomically every N updates, after
 * each reload and at shutdown.
 *
 * Each published router carries its own state (tr_loaded_router.online),
 * so a request always chooses with the state of the router it routed on;
 * a reload rebases the old state onto the new router by stable task id and
 * model name.
 *
 * λ: online choice maximises q_online − λ c, so every mode needs a λ.
 *   lambda     the request's λ;
 *   budget     the λ the router itself uses for that budget (its table);
 *   quality    0 (cost ignored, as in the mode);
 *   tolerance, risk: the router's budget λ for a budget equal to the
 *              offline choice's predicted cost, i.e. the price of quality
 *              at which the router would spend what it chose to spend;
 *              0 for a router without tables. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/defaults.h"
#include "heads/heads.h"
#include "router/router.h"
#include "heads/select.h"
#include "server/server.h"
#include "base/util.h"

const char *tr_online_serve_policy(const tr_server *srv)
{
    return srv->online.params.policy == TR_ONLINE_UCB ? "ucb" : "thompson";
}

static void say_carry(const tr_server *srv, const char *what, const tr_online_carry *c)
{
    if (c->dropped)
        fprintf(stderr, "taskroute serve: online state %s: kept %zu posteriors, dropped %zu for tasks/models this "
                        "router does not have (first: %s)\n", what, c->kept, c->dropped, c->first_dropped);
    else if (!srv->cfg.quiet)
        fprintf(stderr, "taskroute serve: online state %s: kept %zu posteriors\n", what, c->kept);
}

/* The reload hook: the new router's state from the old one's. */
static int attach(void *ctx, tr_loaded_router *L, tr_loaded_router *old, char *err, size_t errlen)
{
    tr_server *srv = ctx;
    tr_online_carry c;
    int rc = old && old->online ? tr_online_rebase(old->online, L->r, &L->online, &c, err, errlen)
                                : tr_online_new(L->r, &srv->online.params, &L->online, err, errlen);
    if (!rc && old && old->online) say_carry(srv, "carried over to the reloaded router", &c);
    return rc;
}

int tr_online_serve_init(tr_server *srv, char *err, size_t errlen)
{
    tr_server_online *on = &srv->online;
    if (!srv->cfg.online_path) return TR_OK;
    tr_online_params_default(&on->params);
    if (srv->cfg.online_explore >= 0) on->params.max_explore_share = srv->cfg.online_explore;
    if (!srv->cfg.online_save_every) srv->cfg.online_save_every = TR_DEFAULT_ONLINE_SAVE_EVERY;
    if (!srv->cfg.online_memory) srv->cfg.online_memory = TR_DEFAULT_ONLINE_MEMORY;
    int rc = tr_online_memory_new(srv->cfg.online_memory, &on->mem);
    if (rc) return tr_errorf(err, errlen, rc, "online: cannot allocate the request-id memory");
    if (pthread_rwlock_init(&on->swap, NULL)) {
        tr_online_memory_free(on->mem);
        on->mem = NULL;
        return tr_errorf(err, errlen, TR_ENOMEM, "online: rwlock");
    }
    pthread_mutex_init(&on->save_mu, NULL);
    on->on = 1;
    tr_loaded_router *L = atomic_load(&srv->slot.cur);   /* not yet serving: no hazard needed */
    FILE *f = fopen(srv->cfg.online_path, "rb");
    if (f) {
        fclose(f);
        tr_online_carry c;
        /* a state file that exists but cannot be read is an error, not a
         * fresh start: overwriting it would lose what was learnt */
        if ((rc = tr_online_load_report(srv->cfg.online_path, L->r, &on->params, &L->online, &c, err, errlen)))
            return rc;
        say_carry(srv, srv->cfg.online_path, &c);
    } else if ((rc = tr_online_new(L->r, &on->params, &L->online, err, errlen))) {
        return rc;
    }
    srv->slot.attach = attach;
    srv->slot.attach_ctx = srv;
    srv->slot.swap_lock = &on->swap;
    return TR_OK;
}

int tr_online_serve_save(tr_server *srv, int wait, char *err, size_t errlen)
{
    tr_server_online *on = &srv->online;
    if (!on->on) return TR_OK;
    if (wait) pthread_mutex_lock(&on->save_mu);
    else if (pthread_mutex_trylock(&on->save_mu)) return TR_OK;   /* a save is running: it is as fresh */
    int rc;
    tr_scratch *sc;
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, err, errlen);
    if (L) {
        rc = tr_online_save(L->online, srv->cfg.online_path, err, errlen);
        tr_router_slot_release(&srv->slot);
    }
    pthread_mutex_unlock(&on->save_mu);
    return rc;
}

void tr_online_serve_fini(tr_server *srv)
{
    tr_server_online *on = &srv->online;
    if (!on->on) return;
    char err[512];
    if (atomic_load(&srv->slot.cur) && tr_online_serve_save(srv, 1, err, sizeof err))
        fprintf(stderr, "taskroute serve: online state not saved: %s\n", err);
    else if (!srv->cfg.quiet)
        fprintf(stderr, "taskroute serve: online state saved to %s\n", srv->cfg.online_path);
    tr_online_memory_free(on->mem);
    on->mem = NULL;
    pthread_rwlock_destroy(&on->swap);
    pthread_mutex_destroy(&on->save_mu);
    srv->slot.attach = NULL;
    on->on = 0;
}

static double choose_lambda(const tr_loaded_router *L, const tr_route_options *opt, const tr_decision *d)
{
    const tr_select_tables *tab = L->r->heads ? tr_heads_tables(L->r->heads) : NULL;
    if (tab && !tab->n_budget) tab = NULL;
    switch (opt->mode) {
    case TR_SELECT_LAMBDA: return opt->value;
    case TR_SELECT_QUALITY: return 0;
    case TR_SELECT_BUDGET: return tab ? tr_select_budget_lambda(tab, opt->value) : 0;
    case TR_SELECT_TOLERANCE:
    case TR_SELECT_RISK:
        if (!tab || !d->cost || !isfinite(d->cost[d->model])) return 0;
        return tr_select_budget_lambda(tab, d->cost[d->model]);
    }
    return 0;
}

void tr_online_serve_decide(tr_server *srv, tr_request *q, tr_loaded_router *L, const tr_route_options *opt,
                            const unsigned char *mask, tr_decision *d, tr_online_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->offline_model = d->model;
    if (!srv->online.on || !L->online) return;
    out->on = 1;
    out->lambda = choose_lambda(L, opt, d);
    tr_online_choice ch;
    if (!tr_online_choose(L->online, d, out->lambda, mask, &ch) && ch.model >= 0 && (size_t)ch.model < L->n_models &&
        mask[ch.model]) {
        d->model = ch.model;
        out->explored = ch.explored;
    }
    tr_metrics_online_decision(srv->metrics, out->explored);
    q->online = out->explored ? 2 : 1;
    tr_online_memo mo;
    mo.task_id = d->task_id;
    mo.q_hat = d->quality && (size_t)d->model < d->n_models ? d->quality[d->model] : NAN;
    snprintf(mo.model, sizeof mo.model, "%s", tr_router_model_name(L->r, (size_t)d->model));
    tr_online_memory_put(srv->online.mem, q->request_id, &mo);
}

int tr_online_serve_feedback(tr_server *srv, const char *request_id, const char *model, double score,
                             const char **why)
{
    tr_server_online *on = &srv->online;
    *why = "online mode is off";
    if (!on->on) return 0;
    tr_online_memo mo;
    if (!tr_online_memory_take(on->mem, request_id, &mo)) {
        *why = "unknown or expired request id";
        return 0;
    }
    if (strcmp(mo.model, model)) {
        tr_online_memory_put(on->mem, request_id, &mo);   /* the right model's feedback may still come */
        *why = "the feedback names another model than the one chosen for this request";
        return 0;
    }
    char err[256];
    int rc, updated = 0;
    tr_scratch *sc;
    pthread_rwlock_rdlock(&on->swap);
    tr_loaded_router *L = tr_router_slot_acquire(&srv->slot, &sc, &rc, err, sizeof err);
    if (!L) {
        *why = "server busy";
    } else {
        int t = -1, m = tr_router_find_model(L->r, mo.model);
        for (size_t i = 0; i < L->n_tasks && t < 0; i++)
            if (tr_router_task_id(L->r, i) == mo.task_id) t = (int)i;
        if (t < 0 || m < 0) *why = "the task or model is no longer in the router";
        else if (tr_online_update(L->online, t, m, mo.q_hat, score)) *why = "update refused";
        else updated = 1;
        tr_router_slot_release(&srv->slot);
    }
    pthread_rwlock_unlock(&on->swap);
    if (!updated) return 0;
    *why = "";
    tr_metrics_online_update(srv->metrics);
    unsigned long n = atomic_fetch_add(&on->updates, 1) + 1;
    if (n % srv->cfg.online_save_every == 0 && tr_online_serve_save(srv, 0, err, sizeof err))
        fprintf(stderr, "taskroute serve: online state not saved: %s\n", err);
    return 1;
}
