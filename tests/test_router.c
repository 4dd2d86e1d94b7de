/* The router as a whole: train on synthetic traffic, save, reopen, route;
 * the file round-trips bit for bit, corrupt files are refused with the right
 * code, routing allocates nothing of ours, options and masks are honoured,
 * training is deterministic, stage-1 routers answer tasks only, and the
 * heads CV may choose can be restricted. */
#include "testutil.h"

#include <math.h>
#include <sys/stat.h>

#include <cblas.h>

#include "base/util.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "embed/embedder.h"
#include "heads/heads.h"
#include "router/router.h"

static tr_dataset *ds;
static tr_router *trained;
static const char *path;

static tr_route_options ropt(tr_select_mode mode, double value, const unsigned char *allowed)
{
    tr_route_options o;
    tr_route_options_default(&o);
    o.mode = mode;
    o.value = value;
    o.allowed = allowed;
    return o;
}

static void fast_options(tr_train_options *o)
{
    tr_train_options_default(o);
    o->dim = 32;
    o->vocab_size = 400;
    o->cv_folds = 3;
    o->threads = 2;
}

static int setup(void **state)
{
    (void)state;
    tr_synth_options so;
    tr_synth_options_default(&so);
    so.prompts = tu_slow_mode() ? 500 : 900;
    const char *p = tu_tmp("synth.jsonl");
    FILE *f = fopen(p, "wb");
    char err[512];
    if (!f || tr_synth_write(&so, f, err, sizeof err)) return -1;
    fclose(f);
    if (tr_dataset_load(p, NULL, &ds, err, sizeof err)) return -1;
    tr_train_options o;
    fast_options(&o);
    if (tr_train(ds, &o, &trained, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    path = strdup(tu_tmp("r.trm"));
    if (tr_router_save(trained, path, err, sizeof err)) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tr_router_close(trained);
    tr_dataset_free(ds);
    free((void *)path);
    return 0;
}

static unsigned char *read_file(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) { free(b); b = NULL; }
    fclose(f);
    return b;
}

static void write_file(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Reopened router decides exactly as the trained one, for every mode. */
static void test_roundtrip_identical(void **state)
{
    (void)state;
    char err[512];
    tr_router *r = NULL;
    assert_int_equal(tr_router_open(path, &r, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_model_count(r), ds->n_models);
    assert_int_equal(tr_router_task_count(r), tr_router_task_count(trained));
    assert_true(tr_router_has_heads(r));
    tr_scratch *s1, *s2;
    assert_int_equal(tr_scratch_new(trained, &s1), TR_OK);
    assert_int_equal(tr_scratch_new(r, &s2), TR_OK);
    tr_route_options modes[] = {ropt(TR_SELECT_LAMBDA, 0, NULL), ropt(TR_SELECT_LAMBDA, 300, NULL),
                                ropt(TR_SELECT_TOLERANCE, 0.05, NULL), ropt(TR_SELECT_BUDGET, 1e-4, NULL),
                                ropt(TR_SELECT_RISK, 0.1, NULL), ropt(TR_SELECT_QUALITY, 0, NULL)};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++)
        for (size_t i = 0; i < 60; i++) {
            tr_decision a, b;
            const tr_record *rec = &ds->rec[i];
            assert_int_equal(tr_route(trained, rec->prompt, rec->prompt_len, &modes[k], s1, &a), TR_OK);
            assert_int_equal(tr_route(r, rec->prompt, rec->prompt_len, &modes[k], s2, &b), TR_OK);
            assert_int_equal(a.model, b.model);
            assert_int_equal(a.task, b.task);
            assert_true(a.model >= 0 && (size_t)a.model < ds->n_models);
            assert_string_equal(a.model_name, ds->models[a.model]);
            for (size_t m = 0; m < a.n_models; m++) {
                assert_memory_equal(&a.quality[m], &b.quality[m], sizeof(float));
                assert_memory_equal(&a.cost[m], &b.cost[m], sizeof(float));
            }
            float sum = 0;
            for (size_t t = 0; t < a.n_tasks; t++) sum += a.task_probs[t];
            assert_true(fabsf(sum - 1) < 1e-3f);
        }
    char *json = NULL;
    assert_int_equal(tr_router_describe(r, &json, err, sizeof err), TR_OK);
    assert_non_null(strstr(json, "\"has_heads\":true"));
    assert_non_null(strstr(json, "HEAD"));
    tr_free(json);
    tr_scratch_free(s1);
    tr_scratch_free(s2);
    tr_router_close(r);
}

/* λ trades quality for cost: a huge λ picks the cheapest model, the mask is
 * obeyed, and tolerance 0 matches the best predicted quality. */
static void test_selection_contract(void **state)
{
    (void)state;
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(trained, &s), TR_OK);
    size_t M = ds->n_models;
    unsigned char *mask = calloc(M, 1);
    mask[1] = 1;
    for (size_t i = 0; i < 40; i++) {
        const tr_record *rec = &ds->rec[i];
        tr_decision d;
        tr_route_options cheap = ropt(TR_SELECT_LAMBDA, 1e12, NULL);
        assert_int_equal(tr_route(trained, rec->prompt, rec->prompt_len, &cheap, s, &d), TR_OK);
        for (size_t m = 0; m < M; m++)
            if (!isnan(d.cost[m])) assert_true(d.cost[d.model] <= d.cost[m]);
        tr_route_options only = ropt(TR_SELECT_QUALITY, 0, mask);
        assert_int_equal(tr_route(trained, rec->prompt, rec->prompt_len, &only, s, &d), TR_OK);
        assert_int_equal(d.model, 1);
        tr_route_options best = ropt(TR_SELECT_TOLERANCE, 0, NULL);
        assert_int_equal(tr_route(trained, rec->prompt, rec->prompt_len, &best, s, &d), TR_OK);
        for (size_t m = 0; m < M; m++)
            if (!isnan(d.quality[m])) assert_true(d.quality[d.model] >= d.quality[m]);
    }
    free(mask);
    tr_scratch_free(s);
}

/* No allocation of ours on the hot path: with every tr_malloc failing,
 * routing still succeeds. */
static void test_route_allocates_nothing(void **state)
{
    (void)state;
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(trained, &s), TR_OK);
    tr_decision d;
    tr_alloc_fail_after(0);
    int rc = tr_route(trained, ds->rec[3].prompt, ds->rec[3].prompt_len, NULL, s, &d);
    long failed = tr_alloc_fail_after(-1);
    assert_int_equal(rc, TR_OK);
    assert_int_equal(failed, 0);
    tr_scratch_free(s);
}

static void test_route_errors(void **state)
{
    (void)state;
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(trained, &s), TR_OK);
    tr_decision d;
    float x[64] = {0};
    size_t dim = tr_router_dim(trained);
    assert_int_equal(tr_route(NULL, "x", 1, NULL, s, &d), TR_EINVAL);
    assert_int_equal(tr_route_embedding(trained, x, dim + 1, NULL, s, &d), TR_EINVAL);
    assert_int_equal(tr_route_embedding(trained, x, dim, NULL, s, &d), TR_EINVAL);   /* zero vector */
    x[0] = NAN;
    assert_int_equal(tr_route_embedding(trained, x, dim, NULL, s, &d), TR_EINVAL);
    x[0] = 1;
    assert_int_equal(tr_route_embedding(trained, x, dim, NULL, s, &d), TR_OK);
    assert_true(d.model >= 0);
    /* an empty prompt still routes (to the prior), it is the caller's to refuse */
    assert_int_equal(tr_route(trained, "", 0, NULL, s, &d), TR_OK);
    /* prompts past TR_MAX_PROMPT_BYTES are routed on their head, not refused */
    size_t big = TR_MAX_PROMPT_BYTES + 5000;
    char *p = malloc(big);
    for (size_t i = 0; i < big; i++) p[i] = "abc def "[i % 8];
    assert_int_equal(tr_route(trained, p, big, NULL, s, &d), TR_OK);
    free(p);
    tr_scratch_free(s);
    tr_router_close(NULL);
    tr_scratch_free(NULL);
}

/* A decision names its task by stable id and slug and says whether it is out
 * of distribution: the empty prompt (no known feature) is, a training prompt
 * is not, and tr_route_embedding scores the energy alone. */
static void test_decision_ids_and_ood(void **state)
{
    (void)state;
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(trained, &s), TR_OK);
    tr_decision d;
    double thr = tr_router_ood_threshold(trained);
    assert_false(isnan(thr));
    assert_int_equal(tr_route(trained, ds->rec[3].prompt, ds->rec[3].prompt_len, NULL, s, &d), TR_OK);
    assert_int_equal(d.task_id, tr_router_task_id(trained, (size_t)d.task));
    const char *slug = tr_router_task_slug(trained, (size_t)d.task);
    assert_non_null(slug);
    assert_true(strlen(slug) >= 1 && strlen(slug) <= 40);
    assert_true(strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(slug));
    assert_null(tr_router_task_slug(trained, tr_router_task_count(trained)));
    assert_true(isfinite(d.ood_score));
    assert_int_equal(d.ood, d.ood_score > thr);
    assert_int_equal(tr_route(trained, "", 0, NULL, s, &d), TR_OK);
    assert_true(d.ood);
    float x[64] = {1};
    assert_int_equal(tr_route_embedding(trained, x, tr_router_dim(trained), NULL, s, &d), TR_OK);
    assert_true(isfinite(d.ood_score));
    assert_int_equal(d.ood, d.ood_score > thr);
    tr_scratch_free(s);
}

/* A router file written by an older taskroute (task section format 1, no
 * OOD calibration in its CONF; tests/data/router-v1.trm: 240 caller-embedded
 * 8-dimensional records in 3 clusters, 2 models, written by taskroute 0.1.0)
 * opens and routes; its decisions are never out of distribution. */
static void test_older_file_loads(void **state)
{
    (void)state;
    tr_router *r = NULL;
    char err[512];
    assert_int_equal(tr_router_open("tests/data/router-v1.trm", &r, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_task_count(r), 3);
    assert_int_equal(tr_router_model_count(r), 2);
    assert_true(isnan(tr_router_ood_threshold(r)));
    assert_string_equal(tr_router_task_name(r, 0), "task-0");
    assert_string_equal(tr_router_task_slug(r, 0), "task-0");
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(r, &s), TR_OK);
    float x[8] = {0, 3, 0.1f, 0, 0, 0, 0, 0};
    tr_decision d;
    assert_int_equal(tr_route_embedding(r, x, 8, NULL, s, &d), TR_OK);
    assert_true(d.model >= 0);
    assert_false(d.ood);
    float far[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    assert_int_equal(tr_route_embedding(r, far, 8, NULL, s, &d), TR_OK);
    assert_false(d.ood);
    char *json = NULL;
    assert_int_equal(tr_router_describe(r, &json, err, sizeof err), TR_OK);
    assert_non_null(strstr(json, "\"ood_threshold\":null"));
    tr_free(json);
    tr_scratch_free(s);
    tr_router_close(r);
}

/* Every byte region of the file corrupted or cut: refused, never a crash. */
static void test_corrupt_files(void **state)
{
    (void)state;
    size_t n;
    unsigned char *orig = read_file(path, &n);
    assert_non_null(orig);
    unsigned char *b = malloc(n);
    const char *bad = tu_tmp("bad.trm");
    char err[512];
    size_t step = tu_slow_mode() ? n / 7 + 1 : n / 41 + 1;
    for (size_t off = 0; off < n; off += step) {
        memcpy(b, orig, n);
        b[off] ^= 0x5A;
        write_file(bad, b, n);
        tr_router *r = NULL;
        int rc = tr_router_open(bad, &r, err, sizeof err);
        assert_int_not_equal(rc, TR_OK);
        assert_null(r);
        assert_non_null(strstr(err, "bad.trm"));
    }
    for (size_t cut = 0; cut < n; cut += step) {
        write_file(bad, orig, cut);
        tr_router *r = NULL;
        int rc = tr_router_open(bad, &r, err, sizeof err);
        assert_true(rc == TR_ETRUNC || rc == TR_EFORMAT);
        assert_null(r);
    }
    tr_router *r = NULL;
    assert_int_equal(tr_router_open(tu_tmp("missing.trm"), &r, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "missing.trm"));
    free(b);
    free(orig);
}

/* Out of memory at any point of opening: an error, no leak (ASan/valgrind). */
static void test_open_oom(void **state)
{
    (void)state;
    char err[512];
    int ok = 0;
    for (long k = 0; k < 400 && !ok; k += tu_slow_mode() ? 7 : 1) {
        tr_router *r = NULL;
        tr_alloc_fail_after(k);
        int rc = tr_router_open(path, &r, err, sizeof err);
        tr_alloc_fail_after(-1);
        if (rc == TR_OK) { ok = 1; tr_router_close(r); continue; }
        assert_true(rc == TR_ENOMEM || rc == TR_EDEP);
        assert_null(r);
    }
    assert_true(ok);
}

/* The same seed gives the same file, byte for byte. */
static void test_deterministic(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    tr_train_options o;
    fast_options(&o);
    char err[512];
    tr_router *r = NULL;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    const char *p2 = tu_tmp("r2.trm");
    assert_int_equal(tr_router_save(r, p2, err, sizeof err), TR_OK);
    tr_router_close(r);
    size_t n1, n2;
    unsigned char *a = read_file(path, &n1), *b = read_file(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
}

/* The most OpenBLAS threads seen at a progress report. */
static void blas_seen(void *ctx, const char *stage, double frac)
{
    (void)stage; (void)frac;
    int *most = ctx, n = openblas_get_num_threads();
    if (n > *most) *most = n;
}

/* blas_threads = 1 runs OpenBLAS on one thread for the call and puts the
 * caller's count back after; the router is then the same bits as one
 * trained by a caller who set one OpenBLAS thread itself, whatever our
 * thread count. */
static void test_blas_threads(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    int blas = openblas_get_num_threads();
    char err[512];
    tr_train_options o;
    fast_options(&o);
    o.threads = 1;
    o.blas_threads = 1;
    int most = 0;
    o.progress = blas_seen;
    o.progress_ctx = &most;
    openblas_set_num_threads(2);
    int two = openblas_get_num_threads();   /* 2, or 1 on a one-core machine */
    tr_router *r = NULL;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    assert_int_equal(most, 1);
    assert_int_equal(openblas_get_num_threads(), two);
    const char *p1 = tu_tmp("blas1.trm"), *p2 = tu_tmp("blas2.trm");
    assert_int_equal(tr_router_save(r, p1, err, sizeof err), TR_OK);
    tr_router_close(r);
    openblas_set_num_threads(1);
    o.threads = 2;
    o.blas_threads = 0;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    assert_int_equal(openblas_get_num_threads(), 1);
    assert_int_equal(tr_router_save(r, p2, err, sizeof err), TR_OK);
    tr_router_close(r);
    openblas_set_num_threads(blas);
    size_t n1, n2;
    unsigned char *a = read_file(p1, &n1), *b = read_file(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
}

/* A stage-1 router: tasks and probabilities, no model. */
static void test_stage1(void **state)
{
    (void)state;
    tr_train_options o;
    fast_options(&o);
    char err[512], *report = NULL;
    tr_router *r = NULL;
    assert_int_equal(tr_discover(ds, &o, &r, &report, err, sizeof err), TR_OK);
    assert_false(tr_router_has_heads(r));
    assert_non_null(strstr(report, "\"tasks\""));
    assert_non_null(strstr(report, "\"nmi\""));
    const char *p = tu_tmp("s1.trm");
    assert_int_equal(tr_router_save(r, p, err, sizeof err), TR_OK);
    tr_router_close(r);
    assert_int_equal(tr_router_open(p, &r, err, sizeof err), TR_OK);
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(r, &s), TR_OK);
    tr_decision d;
    assert_int_equal(tr_route(r, ds->rec[0].prompt, ds->rec[0].prompt_len, NULL, s, &d), TR_OK);
    assert_int_equal(d.model, -1);
    assert_non_null(d.task_name);
    assert_true(d.task_prob > 0 && d.task_prob <= 1);
    tr_scratch_free(s);
    tr_router_close(r);
    tr_free(report);
}

/* r routes record i of the dataset to some model. */
static void assert_routes_to_a_model(const tr_router *r, size_t i)
{
    tr_scratch *s;
    assert_int_equal(tr_scratch_new(r, &s), TR_OK);
    tr_decision d;
    assert_int_equal(tr_route(r, ds->rec[i].prompt, ds->rec[i].prompt_len, NULL, s, &d), TR_OK);
    assert_true(d.model >= 0);
    tr_scratch_free(s);
}

/* The embedding's feature options reach the embedder: unigram features
 * only, at most max_features of them, and the router routes. */
static void test_feature_options(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    tr_train_options o;
    fast_options(&o);
    o.bigrams = 0;
    o.max_features = 150;
    o.heads = "prior-soft,prior+ridge";
    char err[512];
    tr_router *r = NULL;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    assert_int_equal(tr_embedder_params(r->emb)->bigrams, 0);
    size_t nf = tr_embedder_feature_count(r->emb);
    assert_true(nf > 0 && nf <= 150);
    assert_int_equal(tr_embedder_feature_count(trained->emb) > nf, 1);
    assert_routes_to_a_model(r, 2);
    tr_router_close(r);
    o.max_features = 0;   /* refused by the embedder, named */
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, "max_features 0"));
}

/* A scratch serves another router only when it covers every size that
 * router needs: one made for a router without a kNN head (same models,
 * tasks and dimensions) is too small for one with it, and the refusal names
 * the size; the other way round works. */
static void test_scratch_mismatch(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    tr_train_options o;
    fast_options(&o);
    o.heads = "prior-soft,prior+ridge";
    char err[512];
    tr_router *small = NULL;
    assert_int_equal(tr_train(ds, &o, &small, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_model_count(small), tr_router_model_count(trained));
    assert_int_equal(tr_router_dim(small), tr_router_dim(trained));
    tr_scratch *s_small, *s_big;
    assert_int_equal(tr_scratch_new(small, &s_small), TR_OK);
    assert_int_equal(tr_scratch_new(trained, &s_big), TR_OK);
    tr_decision d;
    const tr_record *rec = &ds->rec[0];
    assert_int_equal(tr_scratch_check(trained, s_small, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "heads working bytes"));
    assert_int_equal(tr_route(trained, rec->prompt, rec->prompt_len, NULL, s_small, &d), TR_EINVAL);
    assert_int_equal(tr_scratch_check(small, s_big, err, sizeof err), TR_OK);
    assert_int_equal(tr_route(small, rec->prompt, rec->prompt_len, NULL, s_big, &d), TR_OK);
    assert_int_equal(tr_scratch_check(trained, s_big, err, sizeof err), TR_OK);
    assert_int_equal(tr_scratch_check(NULL, s_big, err, sizeof err), TR_EINVAL);
    tr_scratch_free(s_small);
    tr_scratch_free(s_big);
    tr_router_close(small);
}

/* --heads: CV chooses only among the listed heads; without a kNN head the
 * kNN store is neither trained nor saved; an unknown name or an
 * out-of-range knn_tasks fails before any work, naming the problem. */
static void test_heads_restricted(void **state)
{
    (void)state;
    if (tu_slow_mode()) skip();
    tr_train_options o;
    fast_options(&o);
    o.heads = "prior-soft,prior+ridge";
    char err[512];
    tr_router *r = NULL;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_OK);
    int qv = tr_heads_qvariant(r->heads);
    assert_true(qv == TR_QV_PRIOR_SOFT || qv == TR_QV_RIDGE);
    assert_false(tr_heads_has_qvariant(r->heads, TR_QV_KNN));
    assert_false(tr_heads_has_qvariant(r->heads, TR_QV_KNN_TAU));
    const char *p = tu_tmp("fast.trm");
    assert_int_equal(tr_router_save(r, p, err, sizeof err), TR_OK);
    tr_router_close(r);
    struct stat a, b;
    assert_int_equal(stat(p, &a), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_size < b.st_size);   /* no kNN store */
    assert_int_equal(tr_router_open(p, &r, err, sizeof err), TR_OK);
    assert_routes_to_a_model(r, 1);
    tr_router_close(r);

    o.heads = "prior-soft,knn-tua";
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err, "unknown head variant 'knn-tua'"));
    assert_non_null(strstr(err, "knn-tau"));
    o.heads = "prior-soft,";
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "an empty name in the list 'prior-soft,'"));
    o.heads = "";
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "names no head variant"));
    o.heads = NULL;
    o.knn_tasks = 65;
    assert_int_equal(tr_train(ds, &o, &r, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "knn_tasks 65"));
}

/* Too little data is a clear error, not a crash. */
static void test_too_few(void **state)
{
    (void)state;
    const char *p = tu_write("few.jsonl",
                             "{\"id\":\"a\",\"prompt\":\"hello\",\"scores\":{\"m\":1},\"costs\":{\"m\":0.1}}\n"
                             "{\"id\":\"b\",\"prompt\":\"world\",\"scores\":{\"m\":0},\"costs\":{\"m\":0.1}}\n");
    tr_dataset *d = NULL;
    char err[512];
    assert_int_equal(tr_dataset_load(p, NULL, &d, err, sizeof err), TR_OK);
    tr_router *r = NULL;
    tr_train_options o;
    fast_options(&o);
    o.use_all = 1;
    assert_int_equal(tr_train(d, &o, &r, err, sizeof err), TR_ETOOFEW);
    assert_null(r);
    assert_non_null(strstr(err, "few.jsonl"));
    tr_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_identical),
        cmocka_unit_test(test_selection_contract),
        cmocka_unit_test(test_route_allocates_nothing),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_decision_ids_and_ood),
        cmocka_unit_test(test_older_file_loads),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_open_oom),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_blas_threads),
        cmocka_unit_test(test_stage1),
        cmocka_unit_test(test_heads_restricted),
        cmocka_unit_test(test_feature_options),
        cmocka_unit_test(test_scratch_mismatch),
        cmocka_unit_test(test_too_few),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
