/* Training: the offline pipeline, stage by stage.
 *   dataset -> embedder (fit on the training split) -> X
 *   X -> kNN graph -> Leiden/Louvain -> tasks (+ names)
 *   X, tasks -> softmax classifier -> P(task | x)
 *   X, P, scores, costs -> expert heads, calibration, cost model (tr_train only)
 * Every random choice derives from opt->seed; igraph use is serialised by
 * cluster/igraph_glue.c. */
#include "train/train.h"

#include <cJSON.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/opts.h"
#include "base/util.h"
#include "base/vec.h"
#include "classify/ood.h"
#include "cluster/community.h"
#include "cluster/knn_build.h"
#include "cluster/task_names.h"
#include "cluster/taxonomy.h"
#include "data/dataset.h"
#include "embed/word_cache.h"
#include "heads/heads.h"
#include "retrain/warm_start.h"
#include "router/router.h"
#include "train/oof_export.h"

/* The stages' own defaults, so that each value has one home; only the
 * resolution differs: 0 lets training choose it from the task count. */
void tr_train_options_default(tr_train_options *o)
{
    if (!o) return;
    tr_embed_params e;
    tr_knn_params k;
    tr_community_params c;
    tr_heads_params h;
    tr_embed_params_default(&e);
    tr_knn_params_default(&k);
    tr_community_params_default(&c);
    tr_heads_params_default(&h);
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->seed = e.seed;
    o->threads = e.threads;
    o->dim = e.dim;
    o->vocab_size = e.vocab_size;
    o->min_df = e.min_df;
    o->max_features = e.max_features;
    o->bigrams = e.bigrams;
    o->projection = e.projection == TR_PROJ_HALF ? TR_PROJECTION_HALF : TR_PROJECTION_INT8;
    o->algo = c.algo;
    o->knn_k = (int)k.k;
    o->resolution = 0;
    o->cv_folds = h.cv_folds;
    o->heads = NULL;
    o->knn_tasks = h.knn_tasks;
    o->knn_mass = h.knn_mass;
    o->knn_cap = h.knn_cap;
}

/* Our workers carry every training stage that needs threads (embedding,
 * graph, classifier, heads' CV), in fixed chunks summed in order, so with
 * OpenBLAS on one thread the router is the same whatever the thread count.
 * OpenBLAS's thread count is process-wide and the caller's: blas_threads > 0
 * sets it for the call and puts the caller's back after; 0 leaves it alone
 * (threaded BLAS calls then sum in another order: a 63 x 256 SGEMV does on
 * two threads). */
static int blas_enter(int blas_threads)
{
    if (blas_threads <= 0) return 0;
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(blas_threads);
    return prev;
}

static void blas_leave(int blas_threads, int prev)
{
    if (blas_threads > 0) openblas_set_num_threads(prev);
}

void tr_train_options_x_default(tr_train_options_x *x)
{
    tr_community_params c;
    tr_heads_params h;
    tr_community_params_default(&c);
    tr_heads_params_default(&h);
    memset(x, 0, sizeof *x);
    tr_train_options_default(&x->pub);
    x->pub.struct_size = sizeof *x | TR_OPTS_INTERNAL;
    x->mutual = c.mutual;
    x->gate_top_k = h.gate_top_k;
    x->cv_predictions = NULL;
    x->holdout_folds = 5;   /* fold 0 of 5: the evaluation protocol's split */
    x->holdout_fold = 0;
}

/* The knobs of options taken by tr_train_options_take, which are always the
 * extension's public part. */
static const tr_train_options_x *knobs(const tr_train_options *o)
{
    return (const tr_train_options_x *)o;
}

/* tr_train_options as first published */
#define TRAIN_OPTIONS_MIN TR_SIZE_THROUGH(tr_train_options, progress_ctx)

/* Every option in its range, checked before any work; the stages check
 * their own parameters again (and callers that reach them directly). */
static int check_options(const tr_train_options_x *x, char *err, size_t errlen)
{
    const tr_train_options *o = &x->pub;
#define RANGE(v, name, lo, hi)                                                                           \
    if ((v) < (lo) || (v) > (hi))                                                                        \
        return tr_errorf(err, errlen, TR_EINVAL, "tr_train_options: %s %d not in [%d, %d]", name, (int)(v), \
                         (int)(lo), (int)(hi));
    RANGE(o->threads, "threads", 0, 256)
    RANGE(o->blas_threads, "blas_threads", 0, 256)
    RANGE(o->use_all, "use_all", 0, 1)
    RANGE(o->dim, "dim", 1, 4096)
    RANGE(o->vocab_size, "vocab_size", 8, 1000000)
    RANGE(o->min_df, "min_df", 1, INT_MAX)
    RANGE(o->max_features, "max_features", 1, INT_MAX)
    RANGE(o->bigrams, "bigrams", 0, 1)
    RANGE((int)o->projection, "projection", TR_PROJECTION_INT8, TR_PROJECTION_HALF)
    RANGE((int)o->algo, "algo", TR_ALGO_LEIDEN, TR_ALGO_LOUVAIN)
    RANGE(o->knn_k, "knn_k", 1, 1000)
    RANGE(o->target_tasks, "target_tasks", 0, 100000)
    RANGE(o->min_task_size, "min_task_size", 0, INT_MAX)
    RANGE(o->cv_folds, "cv_folds", 0, 100)
    RANGE(o->knn_tasks, "knn_tasks", 0, TR_HEADS_MAX_TOPK)
    RANGE(o->knn_cap, "knn_cap", 0, INT_MAX)
    RANGE(x->mutual, "mutual", 0, 1)
    RANGE(x->gate_top_k, "gate_top_k", 1, TR_HEADS_MAX_TOPK)
    RANGE(x->holdout_folds, "holdout_folds", 0, 100)
#undef RANGE
    if (!isfinite(o->resolution))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_train_options: resolution %g is not a number (<= 0: automatic)",
                         o->resolution);
    if (!(o->knn_mass >= 0 && o->knn_mass <= 1))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_train_options: knn_mass %g not in [0, 1]", o->knn_mass);
    return TR_OK;
}

/* The caller's options (NULL: the defaults), public or the extension, into
 * *x, checked. */
int tr_train_options_take(const tr_train_options *opt, tr_train_options_x *x, char *err, size_t errlen)
{
    tr_train_options_x_default(x);
    if (!opt) return TR_OK;
    if (opt->struct_size & TR_OPTS_INTERNAL) {
        if (opt->struct_size != (sizeof *x | TR_OPTS_INTERNAL))
            return tr_errorf(err, errlen, TR_EINVAL, "tr_train_options: struct_size %#zx: not this library's "
                             "extension (%#zx)", opt->struct_size, sizeof *x | TR_OPTS_INTERNAL);
        memcpy(x, opt, sizeof *x);
        return check_options(x, err, errlen);
    }
    int rc = tr_opts_take(&x->pub, sizeof x->pub, opt, TRAIN_OPTIONS_MIN, "tr_train_options", err, errlen);
    x->pub.struct_size = sizeof *x | TR_OPTS_INTERNAL;
    return rc ? rc : check_options(x, err, errlen);
}

/* Defaults for the number and size of tasks when the caller sets neither a
 * resolution nor a task count: fine-grained tasks (FineRouter's point), but
 * each with enough prompts to estimate every model's quality on it. */
static size_t default_task_count(size_t n)
{
    size_t t = n / 200;
    return t < 4 ? 4 : t > 64 ? 64 : t;
}

/* A quarter of the mean task size the search aims for (n / 500 without a
 * target): groups of near-duplicate prompts (one template, a question asked
 * again and again) form small communities with no edge out, and left alone
 * they take the places of real tasks in the count, so the search lowers the
 * resolution until real tasks merge. */
static size_t default_min_task_size(size_t n, size_t target)
{
    size_t m = target ? n / (4 * target) : n / 500;
    return m < 10 ? 10 : m;
}

static void progress(const tr_train_options *o, const char *stage, double f)
{
    if (o->progress) o->progress(o->progress_ctx, stage, f);
}

/* What stage 1 produces, before it becomes a router. */
typedef struct stage1 {
    size_t *idx, n;            /* training records */
    float *X;                  /* n x dim */
    size_t dim;
    tr_embedder *emb;          /* NULL on caller-supplied embeddings */
    int32_t *membership;       /* n */
    size_t T;
    double modularity, resolution;
    tr_softmax *clf;
    float *P;                  /* n x T; out of fold for tr_train */
    int32_t *fold;             /* n: cross-validation fold of each row (tr_train only) */
    int n_folds;
    double clf_accuracy, clf_ece;              /* on a held-out fifth */
    double t_embed, t_graph, t_cluster, t_clf; /* seconds */
    tr_task_keywords keywords; /* per task, for the names and the taxonomy report */
    /* out of distribution (classify/ood.h): per training prompt its energy
     * from a classifier that did not see it (NaN: none did), and its kept
     * share (NULL on caller-supplied embeddings), corrected at calibration
     * as if the projection had not seen it */
    float *energy, *kept;
    tr_ood ood;
    int reused_embedder;       /* warm start: the old router's embedder */
    int embedded;              /* 1: prompts embedded by our embedder (emb may since
                                * have moved into the router) */
} stage1;

static void stage1_clear(stage1 *s)
{
    tr_free(s->idx);
    tr_free(s->X);
    tr_embedder_free(s->emb);
    tr_free(s->membership);
    tr_softmax_free(s->clf);
    tr_free(s->P);
    tr_free(s->fold);
    tr_free(s->energy);
    tr_free(s->kept);
    tr_task_keywords_clear(&s->keywords);
    memset(s, 0, sizeof *s);
}

/* Caller-supplied embeddings: copy the training rows and unit-normalise. */
static int use_given_embeddings(const tr_dataset *ds, stage1 *s, char *err, size_t errlen)
{
    s->dim = ds->emb_dim;
    s->X = tr_mallocarray(s->n * s->dim, sizeof *s->X);
    if (!s->X) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory for %zu x %zu embeddings", s->n, s->dim);
    for (size_t i = 0; i < s->n; i++) {
        double n2 = tr_vec_unit(s->X + i * s->dim, ds->emb + s->idx[i] * s->dim, s->dim);
        if (!(n2 > 0) || !isfinite(n2))
            return tr_errorf(err, errlen, TR_EFORMAT, "%s:%u: field 'embedding': zero or non-finite vector",
                             ds->path, ds->rec[s->idx[i]].line);
    }
    return TR_OK;
}

/* The classifier's held-out accuracy and calibration against the discovered
 * tasks: fit on four fifths (every fifth prompt held out), score the rest.
 * The held-out prompts' energies go to s->energy (discovery has no
 * out-of-fold pass). */
static int classifier_holdout(stage1 *s, const tr_softmax_params *sp, char *err, size_t errlen)
{
    s->clf_accuracy = s->clf_ece = NAN;
    size_t nh = s->n / 5, nf = s->n - nh;
    if (nh < 10) return TR_OK;
    float *Xf = tr_mallocarray(nf * s->dim, sizeof *Xf), *p = tr_mallocarray(s->T, sizeof *p);
    int32_t *yf = tr_mallocarray(nf, sizeof *yf);
    float *conf = tr_mallocarray(nh, sizeof *conf);
    unsigned char *ok = tr_mallocarray(nh, 1);
    tr_softmax *m = NULL;
    int rc = TR_OK;
    if (!Xf || !p || !yf || !conf || !ok) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    size_t a = 0;
    for (size_t i = 0; i < s->n; i++)
        if (i % 5 != 4 || i / 5 >= nh) {
            memcpy(Xf + a * s->dim, s->X + i * s->dim, s->dim * sizeof *Xf);
            yf[a++] = s->membership[i];
        }
    if ((rc = tr_softmax_fit(Xf, a, s->dim, yf, s->T, sp, &m, err, errlen))) {
        tr_error_prefix(err, errlen, rc, "task classifier (held-out check)");
        goto done;
    }
    size_t right = 0;
    for (size_t h = 0; h < nh; h++) {
        size_t i = h * 5 + 4, best = 0;
        tr_softmax_predict_energy(m, s->X + i * s->dim, p, &s->energy[i]);
        for (size_t t = 1; t < s->T; t++)
            if (p[t] > p[best]) best = t;
        conf[h] = p[best];
        ok[h] = (int32_t)best == s->membership[i];
        right += ok[h];
    }
    s->clf_accuracy = (double)right / (double)nh;
    s->clf_ece = tr_ece_binary(conf, ok, nh, 10);
done:
    tr_softmax_free(m);
    tr_free(Xf); tr_free(p); tr_free(yf); tr_free(conf); tr_free(ok);
    return rc;
}

/* P(task | x) of every training prompt from a classifier that did not see
 * it (the folds the heads cross-validate on).  The heads learn how far to trust the gate from
 * these: in-sample probabilities are near one-hot, sharper than anything a
 * new prompt gets, and cross-validation inside the heads would believe them. */
static int out_of_fold_probs(stage1 *s, const tr_softmax_params *sp, char *err, size_t errlen)
{
    int K = s->n_folds;
    if (K < 2 || s->n < 10 * (size_t)K) {
        tr_softmax_predict_batch(s->clf, s->X, s->n, s->P);
        return TR_OK;
    }
    float *Xf = tr_mallocarray(s->n * s->dim, sizeof *Xf);
    int32_t *yf = tr_mallocarray(s->n, sizeof *yf);
    int rc = TR_OK;
    if (!Xf || !yf) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    for (int k = 0; k < K && !rc; k++) {
        size_t a = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->fold[i] != k) {
                memcpy(Xf + a * s->dim, s->X + i * s->dim, s->dim * sizeof *Xf);
                yf[a++] = s->membership[i];
            }
        tr_softmax *m = NULL;
        if ((rc = tr_softmax_fit(Xf, a, s->dim, yf, s->T, sp, &m, err, errlen))) {
            tr_error_prefix(err, errlen, rc, "task classifier (out-of-fold)");
            break;
        }
        for (size_t i = 0; i < s->n; i++)
            if (s->fold[i] == k) tr_softmax_predict_energy(m, s->X + i * s->dim, s->P + i * s->T, &s->energy[i]);
        tr_softmax_free(m);
    }
done:
    tr_free(Xf);
    tr_free(yf);
    return rc;
}

/* The OOD calibration on the held-out prompts; on data too small to hold
 * any out, on the final classifier's own energies (which flags too few). */
static int calibrate_ood(stage1 *s, char *err, size_t errlen)
{
    size_t held = 0;
    for (size_t i = 0; i < s->n; i++) held += !isnan(s->energy[i]);
    if (held < 20) {
        float *P = tr_mallocarray(s->n * s->T, sizeof *P);
        if (!P) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        tr_softmax_predict_batch_energy(s->clf, s->X, s->n, P, s->energy);
        tr_free(P);
    }
    /* as if the projection had not seen them: held-out-like kept shares (with a
     * reused embedder, prompts new since its fit are corrected too, which
     * only makes the threshold more cautious) */
    if (s->kept)
        for (size_t i = 0; i < s->n; i++) s->kept[i] = tr_embedder_kept_loo(s->emb, s->X + i * s->dim, s->kept[i]);
    int rc = tr_ood_fit(s->energy, s->kept, s->n, TR_OOD_FPR, &s->ood, err, errlen);
    if (rc == TR_ETOOFEW) return TR_OK;   /* too few prompts to calibrate: never flag */
    return rc ? tr_error_prefix(err, errlen, rc, "out-of-distribution calibration") : TR_OK;
}

/* want_oof: out-of-fold task probabilities for the heads; want_holdout: the
 * classifier's held-out accuracy, which only the taxonomy report shows. */
static int run_stage1(const tr_dataset *ds, const tr_train_options *o, tr_warm *warm, int want_oof,
                      int want_holdout, stage1 *s, char *err, size_t errlen)
{
    int rc;
    memset(s, 0, sizeof *s);
    int threads = o->threads > 0 ? o->threads : tr_ncpu();
    const tr_train_options_x *x = knobs(o);
    int K = x->holdout_folds < 2 ? 5 : x->holdout_folds;
    if (!o->use_all && (x->holdout_fold < 0 || x->holdout_fold >= K))
        return tr_errorf(err, errlen, TR_EINVAL, "holdout_fold %d: want 0..%d (holdout_folds %d)", x->holdout_fold,
                         K - 1, K);
    rc = o->use_all ? tr_dataset_train_indices(ds, 1, &s->idx, &s->n)
                    : tr_dataset_fold_indices(ds, (unsigned)K, (unsigned)x->holdout_fold, 0, &s->idx, &s->n);
    if (rc) return tr_errorf(err, errlen, rc, "%s: selecting the training split failed", ds->path);
    size_t min_n = (size_t)(o->knn_k > 0 ? o->knn_k : 15) + 2;
    if (s->n < min_n)
        return tr_errorf(err, errlen, TR_ETOOFEW, "%s: %zu training prompts; discovery needs at least %zu (k=%d)",
                         ds->path, s->n, min_n, o->knn_k);
    progress(o, "embedding", 0);
    double t0 = tr_now();
    if (ds->emb) {
        if ((rc = use_given_embeddings(ds, s, err, errlen))) return rc;
    } else {
        const char **texts = tr_mallocarray(s->n, sizeof *texts);
        size_t *lens = tr_mallocarray(s->n, sizeof *lens);
        if (!texts || !lens) { tr_free(texts); tr_free(lens); return tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); }
        for (size_t i = 0; i < s->n; i++) {
            texts[i] = ds->rec[s->idx[i]].prompt;
            lens[i] = ds->rec[s->idx[i]].prompt_len;
        }
        tr_embed_params ep;
        tr_embed_params_default(&ep);
        ep.dim = o->dim;
        ep.vocab_size = o->vocab_size;
        ep.min_df = o->min_df;
        ep.max_features = o->max_features;
        ep.bigrams = o->bigrams;
        ep.projection = o->projection == TR_PROJECTION_HALF ? TR_PROJ_HALF : TR_PROJ_INT8;
        ep.seed = o->seed;
        ep.threads = threads;
        /* warm start: the old embedder, so embeddings stay comparable */
        rc = tr_warm_embedder(warm, &s->emb, err, errlen);
        s->reused_embedder = s->emb != NULL;
        if (!rc && !s->emb) rc = tr_embedder_fit(texts, lens, s->n, &ep, &s->emb, err, errlen);
        s->embedded = s->emb != NULL;
        if (!rc) {
            s->dim = tr_embedder_dim(s->emb);
            s->X = tr_mallocarray(s->n * s->dim, sizeof *s->X);
            s->kept = tr_mallocarray(s->n, sizeof *s->kept);
            rc = s->X && s->kept
                     ? tr_embedder_embed_batch_kept(s->emb, texts, lens, s->n, s->X, s->kept, threads, err, errlen)
                     : tr_errorf(err, errlen, TR_ENOMEM, "out of memory for embeddings");
        }
        tr_free(texts);
        tr_free(lens);
        if (rc) return tr_error_prefix(err, errlen, rc, "embedding");
    }
    s->t_embed = tr_now() - t0;
    t0 = tr_now();
    progress(o, "graph", 0.3);
    tr_knn_params kp;
    tr_knn_params_default(&kp);
    kp.k = (size_t)o->knn_k;
    kp.threads = threads;
    kp.seed = o->seed;
    tr_knn g = {0};
    if ((rc = tr_knn_build(s->X, s->n, s->dim, &kp, &g, err, errlen)))
        return tr_error_prefix(err, errlen, rc, "kNN graph");
    s->t_graph = tr_now() - t0;
    t0 = tr_now();
    progress(o, "clustering", 0.5);
    tr_community_params cp;
    tr_community_params_default(&cp);
    cp.algo = o->algo;
    cp.resolution = o->resolution > 0 ? o->resolution : 1.0;
    cp.target_tasks = (size_t)(o->target_tasks > 0 ? o->target_tasks : 0);
    cp.min_size = (size_t)(o->min_task_size > 0 ? o->min_task_size : 0);
    cp.mutual = knobs(o)->mutual;
    cp.seed = o->seed;
    /* out-of-distribution calibration data: energies come with the classifier */
    s->energy = tr_mallocarray(s->n, sizeof *s->energy);
    if (!s->energy) { tr_knn_free(&g); return tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < s->n; i++) s->energy[i] = NAN;
    if (!cp.target_tasks && o->resolution <= 0)
        cp.target_tasks = warm ? tr_warm_task_count(warm) : default_task_count(s->n);
    if (!cp.min_size) cp.min_size = default_min_task_size(s->n, cp.target_tasks);
    /* warm start: the current router's tasks are where Leiden starts, at the
     * resolution they were found at, and stay unless the data moved
     * (retrain/warm_start.h, "Stable tasks") */
    int reconcile = 0;
    if (warm && o->algo == TR_ALGO_LEIDEN && o->resolution <= 0 && o->target_tasks <= 0) {
        if ((rc = tr_warm_prepare(warm, ds, s->idx, s->n, s->X, s->kept, s->dim, s->reused_embedder, err, errlen))) {
            tr_knn_free(&g);
            return rc;
        }
        double gamma = tr_warm_resolution(warm);
        if (gamma > 0) {
            cp.initial = tr_warm_old_tasks(warm);
            cp.resolution = gamma;
            cp.target_tasks = 0;
        }
        reconcile = tr_warm_can_reconcile(warm);
    }
    s->membership = tr_mallocarray(s->n, sizeof *s->membership);
    if (!s->membership) { tr_knn_free(&g); return tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); }
    cp.X = s->X;
    cp.d = s->dim;
    tr_community_info info = {0};
    cp.info = &info;
    rc = tr_community_detect(&g, &cp, s->membership, &s->T, &s->modularity, err, errlen);
    s->resolution = info.resolution;
    if (!rc && reconcile) {
        int32_t *clusters = s->membership;
        s->membership = tr_mallocarray(s->n, sizeof *s->membership);
        if (!s->membership) rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        if (!rc) rc = tr_warm_reconcile(warm, clusters, s->n, cp.min_size, s->membership, &s->T, err, errlen);
        if (!rc) rc = tr_modularity(&g, cp.mutual, s->membership, 1.0, &s->modularity, err, errlen);
        tr_free(clusters);
    }
    tr_knn_free(&g);
    if (rc) return tr_error_prefix(err, errlen, rc, "community detection");
    s->t_cluster = tr_now() - t0;
    t0 = tr_now();
    progress(o, "classifier", 0.7);
    tr_softmax_params sp;
    tr_softmax_params_default(&sp);
    sp.seed = o->seed;
    sp.threads = threads;
    s->clf_accuracy = s->clf_ece = NAN;
    /* without the out-of-fold pass, the held-out fifth calibrates the OOD threshold */
    if ((want_holdout || !want_oof) && (rc = classifier_holdout(s, &sp, err, errlen))) return rc;
    if ((rc = tr_softmax_fit(s->X, s->n, s->dim, s->membership, s->T, &sp, &s->clf, err, errlen)))
        return tr_error_prefix(err, errlen, rc, "task classifier");
    s->P = tr_mallocarray(s->n * s->T, sizeof *s->P);
    if (!s->P) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (want_oof) {
        /* the heads' folds (by id hash: tr_heads_folds_from_ids), shared so that no row's
         * task probabilities come from a model that saw it */
        s->n_folds = o->cv_folds;
        s->fold = tr_mallocarray(s->n, sizeof *s->fold);
        const char **ids = tr_mallocarray(s->n, sizeof *ids);
        if (!s->fold || !ids) { tr_free(ids); return tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); }
        for (size_t i = 0; i < s->n; i++) ids[i] = ds->rec[s->idx[i]].id;
        tr_heads_folds_from_ids(ids, NULL, s->n, s->n_folds, s->fold);
        tr_free(ids);
        sp.l2 = s->clf->l2;   /* the strength chosen on all rows: no re-selection per fold */
        /* each fold starts from the final model: the folds' fits take half
         * the iterations.  The start has seen the fold's rows, but the fit
         * runs to convergence from it: out-of-fold log-loss moved 0.1%
         * (on both shared datasets and a 100k synthetic set) */
        sp.init = s->clf;
        progress(o, "out-of-fold", 0.75);
        if ((rc = out_of_fold_probs(s, &sp, err, errlen))) return rc;
    } else {
        tr_softmax_predict_batch(s->clf, s->X, s->n, s->P);
    }
    s->t_clf = tr_now() - t0;
    return calibrate_ood(s, err, errlen);
}

/* Gather the training rows of an n x M matrix. */
static float *gather(const float *src, const size_t *idx, size_t n, size_t M)
{
    size_t nm = n * M;
    float *dst = tr_mallocarray(nm ? nm : 1, sizeof *dst);
    if (!dst) return NULL;
    for (size_t i = 0; i < n; i++) memcpy(dst + i * M, src + idx[i] * M, M * sizeof *dst);
    return dst;
}

/* The heads' choices and their cross-validation table, for the config. */
static char *heads_desc(const struct tr_heads *h)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "quality", tr_qvariant_name(tr_heads_qvariant(h)));
    cJSON_AddStringToObject(j, "cost", tr_cvariant_name(tr_heads_cvariant(h)));
    size_t nrows = 0;
    const tr_heads_cvrow *rows = tr_heads_cv_table(h, &nrows);
    cJSON *cv = cJSON_AddArrayToObject(j, "cv");
    for (size_t i = 0; i < nrows; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "quality", tr_qvariant_name(rows[i].qv));
        cJSON_AddStringToObject(e, "cost", tr_cvariant_name(rows[i].cv));
        cJSON_AddNumberToObject(e, "aiq_lin", isfinite(rows[i].aiq_lin) ? rows[i].aiq_lin : -1);
        cJSON_AddNumberToObject(e, "aiq_log", isfinite(rows[i].aiq_log) ? rows[i].aiq_log : -1);
        cJSON_AddNumberToObject(e, "criterion", isfinite(rows[i].crit) ? rows[i].crit : -1);
        cJSON_AddItemToArray(cv, e);
    }
    char *copy = tr_json_print(j);
    cJSON_Delete(j);
    return copy;
}

static char *config_json(const tr_dataset *ds, const tr_train_options *o, const stage1 *s, const tr_embedder *emb,
                         const char *kind, const char *heads_desc, const char *warm_summary)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "format", 2);
    cJSON_AddStringToObject(j, "taskroute", TR_VERSION_STRING);
    cJSON_AddStringToObject(j, "kind", kind);
    cJSON_AddStringToObject(j, "trained_on", ds->path ? ds->path : "");
    cJSON_AddNumberToObject(j, "n_train", (double)s->n);
    const tr_train_options_x *x = knobs(o);
    if (!o->use_all && x->holdout_folds >= 2 && !(x->holdout_folds == 5 && x->holdout_fold == 0)) {
        /* a k-fold run's router says which fold it never saw */
        cJSON_AddNumberToObject(j, "holdout_folds", x->holdout_folds);
        cJSON_AddNumberToObject(j, "holdout_fold", x->holdout_fold);
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddStringToObject(j, "embedding", s->embedded ? "sentencepiece-tfidf-svd" : "caller-supplied");
    cJSON_AddNumberToObject(j, "dim", (double)s->dim);
    /* the embedder's own parameters: a warm start reuses the current
     * router's, whatever the options say, and a small corpus shrinks the
     * vocabulary */
    const tr_embed_params *ep = emb ? tr_embedder_params(emb) : NULL;
    cJSON_AddNumberToObject(j, "vocab_size", ep ? ep->vocab_size : o->vocab_size);
    cJSON_AddNumberToObject(j, "min_df", ep ? ep->min_df : o->min_df);
    cJSON_AddNumberToObject(j, "max_features", ep ? ep->max_features : o->max_features);
    cJSON_AddNumberToObject(j, "bigrams", ep ? ep->bigrams : o->bigrams);
    int proj = ep ? ep->projection : o->projection == TR_PROJECTION_HALF ? TR_PROJ_HALF : TR_PROJ_INT8;
    cJSON_AddStringToObject(j, "projection", proj == TR_PROJ_INT8 ? "int8" : proj == TR_PROJ_HALF ? "half" : "float");
    if (emb) {
        static const char *const rules[] = {"whole", "ascii-words", "utf8-words", "digit-runs", "script-runs"};
        int rule = tr_embedder_rule(emb);
        cJSON_AddStringToObject(j, "tokenizer_rule", rule >= 0 && rule <= TR_TOK_SCRIPT_RUNS ? rules[rule] : "unknown");
    }
    cJSON_AddStringToObject(j, "algo", o->algo == TR_ALGO_LEIDEN ? "leiden" : "louvain");
    cJSON_AddNumberToObject(j, "knn_k", o->knn_k);
    cJSON_AddBoolToObject(j, "mutual", knobs(o)->mutual);
    cJSON_AddNumberToObject(j, "resolution", s->resolution);
    cJSON_AddNumberToObject(j, "n_tasks", (double)s->T);
    cJSON_AddNumberToObject(j, "modularity", s->modularity);
    if (s->ood.calibrated) {
        cJSON *ood = tr_ood_config(&s->ood);
        if (ood) cJSON_AddItemToObject(j, "ood", ood);
    }
    if (warm_summary) {
        cJSON *w = cJSON_Parse(warm_summary);
        if (w) cJSON_AddItemToObject(j, "warm_start", w);
    }
    if (heads_desc) {
        cJSON *h = cJSON_Parse(heads_desc);
        if (h) cJSON_AddItemToObject(j, "heads", h);
    }
    char *copy = tr_json_print(j);
    cJSON_Delete(j);
    return copy;
}

/* Move stage 1's parts into a new router. */
static int assemble(const tr_dataset *ds, const tr_train_options *o, stage1 *s, const char *kind,
                    tr_router **out, char *err, size_t errlen)
{
    tr_router *r = tr_calloc(1, sizeof *r);
    if (!r) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    int rc = TR_OK;
    r->n_models = ds->n_models;
    r->models = tr_calloc(ds->n_models ? ds->n_models : 1, sizeof *r->models);
    if (!r->models) { rc = TR_ENOMEM; goto fail; }
    for (size_t m = 0; m < ds->n_models; m++)
        if (!(r->models[m] = tr_strdup(ds->models[m]))) { rc = TR_ENOMEM; goto fail; }
    float *S = ds->n_models ? gather(ds->scores, s->idx, s->n, ds->n_models) : NULL;
    float *C = ds->n_models ? gather(ds->costs, s->idx, s->n, ds->n_models) : NULL;
    if (ds->n_models && (!S || !C)) { tr_free(S); tr_free(C); rc = TR_ENOMEM; goto fail; }
    rc = tr_tasks_build(s->membership, s->n, s->T, s->X, s->dim, S, C, ds->n_models, &r->tasks, err, errlen);
    tr_free(S);
    tr_free(C);
    if (rc) goto fail;
    tr_task_keywords_clear(&s->keywords);
    if ((rc = tr_task_names_fill(&r->tasks, ds, s->idx, s->membership, s->n, &s->keywords, err, errlen))) goto fail;
    r->dim = s->dim;
    r->emb = s->emb; s->emb = NULL;
    r->clf = s->clf; s->clf = NULL;
    r->ood = s->ood;
    (void)kind; (void)o;
    *out = r;
    return TR_OK;
fail:
    if (rc == TR_ENOMEM) tr_errorf(err, errlen, rc, "out of memory assembling the router");
    tr_router_close(r);
    return rc;
}

/* How many of the records outside the training split the router flags as
 * out of distribution, by the decisions' rule (route.c). */
static int ood_outside(const tr_dataset *ds, const tr_train_options *o, const tr_router *r, size_t *outside,
                       size_t *flagged, char *err, size_t errlen)
{
    *outside = *flagged = 0;
    if (o->use_all) return TR_OK;
    size_t n = 0, d = r->dim, T = r->tasks.n_tasks;
    size_t *idx = tr_mallocarray(ds->n ? ds->n : 1, sizeof *idx);
    if (!idx) return tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ds->n; i++)
        if (tr_split_is_test(ds->rec[i].id, strlen(ds->rec[i].id))) idx[n++] = i;
    float *X = tr_mallocarray(n * d + 1, sizeof *X), *P = tr_mallocarray(n * T + 1, sizeof *P);
    float *E = tr_mallocarray(n + 1, sizeof *E), *K = tr_mallocarray(n + 1, sizeof *K);
    const char **texts = tr_mallocarray(n + 1, sizeof *texts);
    size_t *lens = tr_mallocarray(n + 1, sizeof *lens);
    int rc = TR_OK;
    if (!X || !P || !E || !K || !texts || !lens) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    if (r->emb) {
        for (size_t i = 0; i < n; i++) {
            texts[i] = ds->rec[idx[i]].prompt;
            lens[i] = tr_prompt_cut(texts[i], ds->rec[idx[i]].prompt_len);
        }
        if ((rc = tr_embedder_embed_batch_kept(r->emb, texts, lens, n, X, K, o->threads, err, errlen))) goto done;
    } else {
        for (size_t i = 0; i < n; i++) {
            tr_vec_unit(X + i * d, ds->emb + idx[i] * d, d);
            K[i] = NAN;
        }
    }
    tr_softmax_predict_batch_energy(r->clf, X, n, P, E);
    for (size_t i = 0; i < n; i++) *flagged += tr_ood_flag(&r->ood, tr_ood_score(&r->ood, E[i], K[i]));
    *outside = n;
done:
    tr_free(idx); tr_free(X); tr_free(P); tr_free(E); tr_free(K); tr_free(texts); tr_free(lens);
    return rc;
}

static int taxonomy(const tr_dataset *ds, const tr_train_options *o, const stage1 *s, const tr_router *r,
                    char **report, char *err, size_t errlen)
{
    tr_taxonomy_input in = {0};
    int rc = ood_outside(ds, o, r, &in.ood_outside, &in.ood_flagged, err, errlen);
    if (rc) return tr_error_prefix(err, errlen, rc, "taxonomy report: out-of-distribution share");
    in.ood_threshold = r->ood.calibrated ? r->ood.threshold : NAN;
    in.ood_fpr = r->ood.fpr;
    in.ood_calibration = r->ood.n_calibration;
    in.ds = ds;
    in.idx = s->idx;
    in.n = s->n;
    in.X = s->X;
    in.dim = s->dim;
    in.membership = s->membership;
    in.tasks = &r->tasks;
    in.keywords = &s->keywords;
    in.models = (const char *const *)r->models;
    in.modularity = s->modularity;
    in.resolution = s->resolution;
    in.algo = o->algo == TR_ALGO_LEIDEN ? "leiden" : "louvain";
    in.clf_accuracy = s->clf_accuracy;
    in.clf_ece = s->clf_ece;
    in.seconds_embed = s->t_embed;
    in.seconds_graph = s->t_graph;
    in.seconds_cluster = s->t_cluster;
    in.seconds_classifier = s->t_clf;
    return tr_taxonomy_json(&in, report, err, errlen);
}

/* Hand stage 1's tasks of the training records to the caller (tr_train_tasks). */
static void take_membership(stage1 *s, int32_t **membership, size_t *n)
{
    if (!membership) return;
    *membership = s->membership;
    *n = s->n;
    s->membership = NULL;
}

static int discover(const tr_dataset *ds, const tr_train_options *opt, tr_router **out, char **report,
                    int32_t **membership, size_t *n_membership, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_discover: out is NULL");
    *out = NULL;
    if (report) *report = NULL;
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_discover: ds is NULL");
    tr_train_options_x d;
    int rc = tr_train_options_take(opt, &d, err, errlen);
    if (rc) return rc;
    opt = &d.pub;
    stage1 s;
    int blas = blas_enter(opt->blas_threads);
    rc = run_stage1(ds, opt, NULL, 0, report != NULL, &s, err, errlen);
    blas_leave(opt->blas_threads, blas);
    if (!rc) rc = assemble(ds, opt, &s, "discover", out, err, errlen);
    if (!rc && !((*out)->config_json = config_json(ds, opt, &s, (*out)->emb, "discover", NULL, NULL)))
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
    if (!rc && report) rc = taxonomy(ds, opt, &s, *out, report, err, errlen);
    if (rc) {
        tr_router_close(*out);
        *out = NULL;
    } else {
        take_membership(&s, membership, n_membership);
    }
    progress(opt, "done", 1);
    stage1_clear(&s);
    return rc;
}

int tr_discover(const tr_dataset *ds, const tr_train_options *opt, tr_router **out, char **report,
                char *err, size_t errlen)
{
    return discover(ds, opt, out, report, NULL, NULL, err, errlen);
}

/* cur: the current router the caller holds (named cur_name), or NULL:
 * then opt->warm_start's file, or a cold run. */
static int train_warm(const tr_dataset *ds, const tr_train_options *opt, const tr_router *cur, const char *cur_name,
                      const tr_warm_params *wp, tr_router **out, char **drift, int32_t **membership,
                      size_t *n_membership, char *err, size_t errlen)
{
    if (ds->n_models == 0)
        return tr_errorf(err, errlen, TR_ETOOFEW, "%s: no record has scores: training needs per-model scores "
                         "(`taskroute discover` needs prompts only)", ds->path);
    int rc = TR_OK;
    stage1 s;
    tr_router *r = NULL;
    float *S = NULL, *C = NULL, *L = NULL, *Z = NULL;
    char *hdesc = NULL;
    tr_warm *warm = NULL;
    memset(&s, 0, sizeof s);
    /* the heads' options are checked before the long first stage */
    tr_heads_params hp;
    tr_heads_params_default(&hp);
    hp.seed = opt->seed;
    hp.gate_top_k = knobs(opt)->gate_top_k;
    hp.cv_folds = opt->cv_folds;
    hp.knn_tasks = opt->knn_tasks;
    hp.knn_mass = opt->knn_mass;
    hp.knn_cap = opt->knn_cap;
    hp.threads = opt->threads;
    if (opt->heads && (rc = tr_heads_params_restrict(&hp, opt->heads, err, errlen))) goto done;
    if ((rc = tr_heads_params_check(&hp, err, errlen))) goto done;
    if (cur && (rc = tr_warm_from(cur, cur_name, wp, &warm, err, errlen))) goto done;
    if (!cur && opt->warm_start && (rc = tr_warm_open(opt->warm_start, wp, &warm, err, errlen))) goto done;
    if ((rc = run_stage1(ds, opt, warm, 1, 0, &s, err, errlen))) goto done;
    progress(opt, "heads", 0.8);
    S = gather(ds->scores, s.idx, s.n, ds->n_models);
    C = gather(ds->costs, s.idx, s.n, ds->n_models);
    L = tr_mallocarray(s.n, sizeof *L);
    if (!S || !C || !L) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < s.n; i++) L[i] = (float)ds->rec[s.idx[i]].prompt_len;
    if (s.emb && tr_heads_params_want_surface(&hp)) {
        /* surface features of the prompts, as tr_route computes them (on
         * the first TR_MAX_PROMPT_BYTES) */
        Z = tr_mallocarray(s.n * TR_HEADS_SURF, sizeof *Z);
        if (!Z) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto done; }
        for (size_t i = 0; i < s.n; i++) {
            const tr_record *rec = &ds->rec[s.idx[i]];
            tr_surface_features(rec->prompt, tr_prompt_cut(rec->prompt, rec->prompt_len),
                                Z + i * TR_HEADS_SURF);
        }
    }
    const char *cv_predictions = knobs(opt)->cv_predictions;
    tr_cv_predictions cvp = {cv_predictions, ds, s.idx, s.membership, err, errlen};
    if (cv_predictions) { hp.oof = tr_cv_predictions_write; hp.oof_ctx = &cvp; }
    hp.fold = s.fold;
    hp.surf = Z;   /* NULL on caller-supplied embeddings (routing never sees a prompt) or when no head reads them */
    struct tr_heads *h = NULL;
    /* a router on caller-supplied embeddings never sees the prompt, so no
     * length-based cost model */
    rc = tr_heads_train(s.X, s.P, s.membership, s.n, s.dim, s.T, S, C, s.emb ? L : NULL, ds->n_models, &hp, &h,
                        err, errlen);
    if (rc) { tr_error_prefix(err, errlen, rc, "expert heads"); goto done; }
    if ((rc = assemble(ds, opt, &s, "train", &r, err, errlen))) { tr_heads_free(h); goto done; }
    r->heads = h;
    if (warm && (rc = tr_warm_apply(warm, ds, s.idx, s.n, s.X, s.membership, s.reused_embedder, r, err, errlen)))
        goto done;
    hdesc = heads_desc(h);
    if (!(r->config_json = config_json(ds, opt, &s, r->emb, "train", hdesc, tr_warm_summary(warm)))) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory");
        goto done;
    }
    tr_policy_estimate dp;
    if (tr_heads_default_policy(h, &dp) && (rc = tr_router_store_default(r, &dp))) {
        tr_errorf(err, errlen, rc, "out of memory");
        goto done;
    }
    if (drift) *drift = tr_warm_take_drift(warm);
    take_membership(&s, membership, n_membership);
    *out = r;
    r = NULL;
done:
    tr_warm_free(warm);
    progress(opt, "done", 1);
    tr_free(hdesc);
    tr_router_close(r);
    tr_free(S); tr_free(C); tr_free(L); tr_free(Z);
    stage1_clear(&s);
    return rc;
}

/* The entry of every training run: arguments and options checked, then
 * OpenBLAS as the caller asked for the length of the run. */
static int train_entry(const char *fn, const tr_dataset *ds, const tr_train_options *opt, const tr_router *cur,
                       const char *cur_name, const tr_warm_params *wp, tr_router **out, char **drift, char *err,
                       size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    if (drift) *drift = NULL;
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "%s: ds is NULL", fn);
    tr_train_options_x o;
    int rc = tr_train_options_take(opt, &o, err, errlen);
    if (rc) return rc;
    int blas = blas_enter(o.pub.blas_threads);
    rc = train_warm(ds, &o.pub, cur, cur_name, wp, out, drift, NULL, NULL, err, errlen);
    blas_leave(o.pub.blas_threads, blas);
    return rc;
}

int tr_train(const tr_dataset *ds, const tr_train_options *opt, tr_router **out, char *err, size_t errlen)
{
    return train_entry("tr_train", ds, opt, NULL, NULL, NULL, out, NULL, err, errlen);
}

int tr_train_warm(const tr_dataset *ds, const tr_train_options *opt, const tr_warm_params *wp, tr_router **out,
                  char **drift, char *err, size_t errlen)
{
    return train_entry("tr_train", ds, opt, NULL, NULL, wp, out, drift, err, errlen);
}

/* tr_warm_options as first published */
#define WARM_OPTIONS_MIN TR_SIZE_THROUGH(tr_warm_options, current_name)

int tr_train_warm_start(const tr_dataset *ds, const tr_router *current, const tr_train_options *opt,
                        const tr_warm_options *wopt, tr_router **out, char **drift, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (drift) *drift = NULL;
    if (!current) return tr_errorf(err, errlen, TR_EINVAL, "tr_train_warm_start: current is NULL");
    tr_train_options_x x;
    int rc = tr_train_options_take(opt, &x, err, errlen);
    if (rc) return rc;
    if (x.pub.warm_start)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_train_warm_start: opt->warm_start names a file, but the "
                         "current router is given: leave warm_start NULL");
    tr_warm_options w;
    tr_warm_options_default(&w);
    rc = wopt ? tr_opts_take(&w, sizeof w, wopt, WARM_OPTIONS_MIN, "tr_warm_options", err, errlen) : TR_OK;
    if (rc) return rc;
    if (w.refit_embedder != 0 && w.refit_embedder != 1)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_warm_options: refit_embedder %d is not 0 or 1", w.refit_embedder);
    if (!(w.match_min_score >= 0 && w.match_min_score <= 1))
        return tr_errorf(err, errlen, TR_EINVAL, "tr_warm_options: match_min_score %g not in [0, 1]",
                         w.match_min_score);
    tr_warm_params wp;
    tr_warm_params_default(&wp);
    wp.refit_embedder = w.refit_embedder;
    wp.match.min_score = w.match_min_score;
    return train_entry("tr_train_warm_start", ds, &x.pub, current, w.current_name, &wp, out, drift, err, errlen);
}

int tr_train_tasks(const tr_dataset *ds, const tr_train_options *opt, int heads, tr_router **out,
                   char **report, int32_t **membership, size_t *n, char *err, size_t errlen)
{
    if (!membership || !n) return tr_errorf(err, errlen, TR_EINVAL, "tr_train_tasks: membership is NULL");
    *membership = NULL;
    *n = 0;
    if (!heads) return discover(ds, opt, out, report, membership, n, err, errlen);
    if (report) *report = NULL;
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_train_tasks: out is NULL");
    *out = NULL;
    if (!ds) return tr_errorf(err, errlen, TR_EINVAL, "tr_train_tasks: ds is NULL");
    tr_train_options_x o;
    int rc = tr_train_options_take(opt, &o, err, errlen);
    if (rc) return rc;
    if (o.pub.warm_start)
        return tr_errorf(err, errlen, TR_EINVAL, "tr_train_tasks: no warm start here (tr_train_warm)");
    int blas = blas_enter(o.pub.blas_threads);
    rc = train_warm(ds, &o.pub, NULL, NULL, NULL, out, NULL, membership, n, err, errlen);
    blas_leave(o.pub.blas_threads, blas);
    return rc;
}
