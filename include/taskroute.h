/* taskroute: pick, for every prompt, the LLM that gives the best answer for
 * the money.
 *
 * This is the one public header.  Every handle is opaque; every call that can
 * fail returns a status from the table below and, where it takes (err, errlen),
 * writes a message naming what went wrong (file, line, field) into the
 * caller's buffer.  No call aborts or exits the process.
 *
 * Invalid arguments: a NULL handle or output, an unknown enum value, an
 * option outside its range or an options struct of the wrong size is
 * TR_EINVAL, with a message where the call takes (err, errlen).  Calls that
 * answer a count, a name or an index answer 0, NULL or -1 for a NULL
 * handle or an index out of range; free and close calls, and the
 * *_default() calls, take NULL as a no-op.
 *
 * Threads: a tr_router is immutable once opened and may be shared by any
 * number of threads; tr_route needs one tr_scratch per thread.  Routing's
 * matrix products are the library's own, so the process's OpenBLAS thread
 * setting neither slows a decision nor changes its bits.  Offline calls
 * (loading datasets, training, discovery, evaluation, retraining) serialise
 * their use of igraph internally and may run on any one thread at a time.
 *
 * Process-wide state stays the caller's: the library installs no signal
 * handler, sets no locale and uses no libc random generator.  OpenBLAS's
 * thread count changes only when tr_train_options.blas_threads asks for it,
 * for that call.  Two dependencies keep global state by design: igraph (its
 * error and warning handlers, its default random generator), which the
 * library reaches only through one lock that installs its own for the
 * length of each use and puts the caller's back after, so a program that
 * uses igraph itself must not do so while training runs on another thread;
 * and SentencePiece, whose training seed is a global that fitting an
 * embedder (training, discovery) sets from the options' seed.
 *
 * Ownership is stated in one line on each function: "borrowed" arguments stay
 * the caller's; results "owned by the caller" are freed with the named call;
 * results "owned by X" live as long as X.
 */
#ifndef TASKROUTE_H
#define TASKROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function of this header, and only those, is exported by the shared
 * library (built with hidden visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif

/* The one statement of the library's version: the Makefile reads these three
 * numbers for the shared library's file names and soname
 * (libtaskroute.so.MAJOR) and for taskroute.pc; tr_version() returns
 * TR_VERSION_STRING as the library was compiled. */
#define TR_VERSION_MAJOR 0
#define TR_VERSION_MINOR 1
#define TR_VERSION_PATCH 0
#define TR_VERSION_STR_(x) #x
#define TR_VERSION_XSTR_(x) TR_VERSION_STR_(x)
#define TR_VERSION_STRING                                                     \
    TR_VERSION_XSTR_(TR_VERSION_MAJOR) "." TR_VERSION_XSTR_(TR_VERSION_MINOR) "." \
    TR_VERSION_XSTR_(TR_VERSION_PATCH)

/* The library's run-time version, e.g. "0.1.0"; compare with TR_VERSION_STRING.
 * Static string. */
TR_API const char *tr_version(void);

/* ---------------------------------------------------------------- errors */

/* Status codes.  A code is never reused for another meaning. */
#define TR_ERROR_TABLE(X)                                                     \
    X(TR_OK, 0, "ok")                                                         \
    X(TR_EINVAL, -1, "invalid argument")                                      \
    X(TR_ENOMEM, -2, "out of memory")                                         \
    X(TR_EIO, -3, "input/output error")                                       \
    X(TR_EFORMAT, -4, "malformed input")                                      \
    X(TR_EVERSION, -5, "file written by a newer version")                     \
    X(TR_ECHECKSUM, -6, "checksum mismatch: file corrupted")                  \
    X(TR_ETRUNC, -7, "truncated file")                                        \
    X(TR_ENOTFOUND, -8, "not found")                                          \
    X(TR_EDEP, -9, "a dependency library failed")                             \
    X(TR_ETOOFEW, -10, "not enough data")                                     \
    X(TR_EREGRESS, -11, "new router is worse than the current one")           \
    X(TR_EINTERNAL, -12, "internal error")                                    \
    X(TR_ERANGE, -13, "value out of range")                                   \
    X(TR_EBUSY, -14, "resource busy")

enum tr_status {
#define TR_X_(name, code, msg) name = code,
    TR_ERROR_TABLE(TR_X_)
#undef TR_X_
};

/* A short description of a status code.  Static string; never NULL. */
TR_API const char *tr_strerror(int code);

/* The status code's symbolic name, e.g. "TR_EFORMAT".  Static string. */
TR_API const char *tr_strerror_name(int code);

/* --------------------------------------------------------------- datasets */

/* A routing dataset (the format of the evaluation protocol (EVAL.md)) held in memory. */
typedef struct tr_dataset tr_dataset;

/* Option structs can grow: each begins with struct_size, which its
 * *_default() function sets; a program compiled with an older header keeps
 * working with a newer library.  Always start from *_default() and then set
 * fields: options that did not (struct_size 0 or a size the library does
 * not know) are refused with TR_EINVAL. */

typedef struct tr_load_options {
    size_t struct_size;   /* sizeof(tr_load_options), set by tr_load_options_default */
    int skip_bad;         /* 1: report a bad record and go on; 0: stop at it [0] */
    /* Called once per skipped record with a message naming file, line and
     * field (and once more with the totals).  NULL: messages are dropped. */
    void (*report)(void *ctx, const char *msg);
    void *report_ctx;
    /* Progress on long loads: fraction of bytes read in [0,1].  NULL: none. */
    void (*progress)(void *ctx, double frac);
    void *progress_ctx;
} tr_load_options;

/* Fill *o with the defaults shown in brackets (no callbacks).  o is the caller's. */
TR_API void tr_load_options_default(tr_load_options *o);

typedef struct tr_load_stats {
    size_t lines;         /* non-blank lines seen */
    size_t kept;          /* records kept */
    size_t skipped;       /* bad records skipped (skip_bad only) */
    size_t train;         /* kept records in the training split */
    size_t test;          /* kept records in the test split (all of them) */
    size_t test_complete; /* test records with a score and cost for every model */
    size_t unscored;      /* kept records without a score (no "scores", {} or all null) */
    size_t repeated_keys; /* kept records that repeat a key the reader ignores (a repeated
                             id, prompt, task, scores, costs or embedding is refused) */
} tr_load_stats;

/* Read a routing JSONL file ("-" reads stdin).  opt may be NULL (the
 * defaults: stop at the first bad record).  *out is owned by the caller: tr_dataset_free. */
TR_API int tr_dataset_load(const char *path, const tr_load_options *opt,
                    tr_dataset **out, char *err, size_t errlen);

/* Free a dataset; NULL is a no-op. */
TR_API void tr_dataset_free(tr_dataset *ds);

/* Counts of what the load read, kept and skipped.  'out' is the caller's
 * (all zero for a NULL ds; out NULL: no-op). */
TR_API void tr_dataset_stats(const tr_dataset *ds, tr_load_stats *out);

TR_API size_t tr_dataset_count(const tr_dataset *ds);        /* records kept */
TR_API size_t tr_dataset_model_count(const tr_dataset *ds);
/* Model name m in file order of first appearance, or NULL.  Owned by ds. */
TR_API const char *tr_dataset_model_name(const tr_dataset *ds, size_t m);

/* 1 when the record id (len bytes, borrowed) falls in the evaluation
 * protocol's test split (fnv1a64(id) % 5 == 0), else 0; TR_EINVAL when id
 * is NULL and len > 0. */
TR_API int tr_split_is_test(const char *id, size_t len);

/* The record's fold (id: len bytes, borrowed) in the evaluation protocol's
 * k-fold evaluation: fnv1a64(id) % k, in [0, k); 0 for k < 2.  With k = 5,
 * fold 0 is the test split above.  -1 (TR_EINVAL) when id is NULL and
 * len > 0. */
TR_API int tr_split_fold(const char *id, size_t len, int k);

/* FNV-1a, 64-bit, over len bytes (the split's hash); NULL data hashes as
 * no bytes. */
TR_API uint64_t tr_fnv1a64(const void *data, size_t len);

/* ---------------------------------------------------------------- routers */

/* A trained router: embedder, tasks, classifier, heads, calibration, costs.
 * Immutable once opened or trained; share it across threads. */
typedef struct tr_router tr_router;

/* Per-thread working memory for tr_route.  Never share one between threads. */
typedef struct tr_scratch tr_scratch;

typedef enum tr_algo { TR_ALGO_LEIDEN = 0, TR_ALGO_LOUVAIN = 1 } tr_algo;

typedef enum tr_projection {
    TR_PROJECTION_INT8 = 0,  /* int8 rows with a scale each: half the bytes a route reads */
    TR_PROJECTION_HALF = 1   /* half-precision rows */
} tr_projection;

/* Progress of long work: a stage name and the fraction done in [0,1]. */
typedef void (*tr_progress_fn)(void *ctx, const char *stage, double frac);

typedef struct tr_train_options {
    size_t struct_size;     /* sizeof(tr_train_options), set by tr_train_options_default */
    uint64_t seed;          /* every random choice derives from it [42] */
    int threads;            /* worker threads, 0 = number of cores [0] */
    /* OpenBLAS's thread count during the call.  It is process-wide, so it
     * is the caller's: 0 leaves it as it is; n > 0 sets it to n for the
     * call and puts the caller's back after (no other thread of the process
     * should use OpenBLAS meanwhile).  The workers above carry the
     * parallelism: with OpenBLAS on 1 thread (what the CLI runs) the router
     * is the same whatever either thread count [0] */
    int blas_threads;
    int use_all;            /* 1: train on every record, not only the train split [0] */
    /* embedding */
    int dim;                /* projection dimension [256] */
    int vocab_size;         /* SentencePiece vocabulary [4000] */
    int min_df;             /* features in fewer prompts are dropped [2] */
    int max_features;       /* at most this many features, the most frequent; each is a
                             * projection row a route reads [50000] */
    int bigrams;            /* 1: piece bigrams as well as unigrams; 0 makes routing
                             * faster (a projection small enough to stay in cache) [1] */
    tr_projection projection; /* how the projection's rows are stored [TR_PROJECTION_INT8] */
    /* discovery */
    tr_algo algo;           /* [TR_ALGO_LEIDEN] */
    int knn_k;              /* neighbours per prompt in the graph [15] */
    double resolution;      /* modularity resolution; <= 0: chosen automatically [0] */
    int target_tasks;       /* > 0: search the resolution for about this many tasks [0] */
    int min_task_size;      /* smaller communities merge into their nearest task [0 = auto] */
    /* heads (stage 2) */
    int cv_folds;           /* folds for choosing the head variant [5] */
    /* comma-separated quality heads cross-validation may choose among:
     * prior-hard, prior-soft, prior+ridge, knn, ensemble, knn-tau,
     * prior+ridge-surface, knn-tau/ridge-surface, knn-sup, knn-sup-ridge;
     * NULL = all but prior-hard.
     * Leaving out every kNN head drops the kNN store: a smaller, faster
     * router [NULL] */
    const char *heads;
    int knn_tasks;          /* the kNN heads search the prompts of this many most probable tasks, 0 = all [2] */
    double knn_mass;        /* ...but only as many as it takes for their probabilities to reach this:
                               a prompt the classifier is sure of searches one task; 0 = always knn_tasks [0.9] */
    int knn_cap;            /* at most this many prompts of a task in the kNN store (a fixed sample of a
                               larger task), 0 = all: bounds kNN routing and training work on big data [1024] */
    /* path of the current router, or NULL; tr_train_warm_start takes the
     * router itself instead, and gives the drift report [NULL] */
    const char *warm_start;
    tr_progress_fn progress;
    void *progress_ctx;
} tr_train_options;

/* Fill *o with the defaults shown in brackets above.  o is the caller's. */
TR_API void tr_train_options_default(tr_train_options *o);

/* Stage 1 only: embed, build the prompt graph, discover tasks, train the task
 * classifier.  Borrows ds and opt.  *out owned by the caller: tr_router_close.
 * report: NULL, or receives the taxonomy report as JSON (tasks, names, sizes,
 * exemplars, per-model quality and cost, modularity, agreement with `task`
 * labels), owned by the caller: tr_free. */
TR_API int tr_discover(const tr_dataset *ds, const tr_train_options *opt,
                tr_router **out, char **report, char *err, size_t errlen);

/* The whole router (stage 1 + heads, calibration, cost model).  Borrows ds and
 * opt.  *out owned by the caller: tr_router_close. */
TR_API int tr_train(const tr_dataset *ds, const tr_train_options *opt,
             tr_router **out, char *err, size_t errlen);

/* Write the router file atomically (temporary file, fsync, rename).  Borrows r. */
TR_API int tr_router_save(const tr_router *r, const char *path, char *err, size_t errlen);

/* Name the task whose stable id is id (UTF-8, 1 to 200 bytes, no control
 * characters, unique among the router's tasks): read the router file at
 * path_in and write it to path_out (which may be path_in) atomically, every
 * section but the task table unchanged.  The name survives warm-started
 * retraining (a matched task keeps it) and the task's slug follows it.
 * A router already open is not changed: open the file again to see the
 * name.  Borrows everything.  TR_ENOTFOUND (no such id, the ids in the
 * message), TR_EINVAL (a bad or repeated name), the errors of
 * tr_router_open and tr_router_save. */
TR_API int tr_router_rename_task(const char *path_in, int id, const char *name, const char *path_out,
                                 char *err, size_t errlen);

/* Load and validate a router file (magic, version, checksums, counts).
 * *out owned by the caller: tr_router_close. */
TR_API int tr_router_open(const char *path, tr_router **out, char *err, size_t errlen);

/* Free a router; NULL is a no-op.  No tr_route may be running on it. */
TR_API void tr_router_close(tr_router *r);

TR_API size_t tr_router_model_count(const tr_router *r);
TR_API const char *tr_router_model_name(const tr_router *r, size_t m); /* owned by r, or NULL */
TR_API size_t tr_router_task_count(const tr_router *r);
TR_API const char *tr_router_task_name(const tr_router *r, size_t t);  /* owned by r, or NULL */
/* Task t's slug: its name as a short unique ASCII identifier ([a-z0-9-],
 * at most 40 bytes, e.g. "contract-lease-tenant"), for metric labels, URLs
 * and file names; it follows the name (a rename changes it).  Owned by r;
 * NULL when t is out of range. */
TR_API const char *tr_router_task_slug(const tr_router *r, size_t t);
TR_API size_t tr_router_dim(const tr_router *r);  /* embedding dimension */
/* Task t's stable id (kept across warm-started retrains), or -1. */
TR_API int tr_router_task_id(const tr_router *r, size_t t);
TR_API int tr_router_has_heads(const tr_router *r); /* 0 for a stage-1 (discover) file */
/* The out-of-distribution threshold decisions' ood_score is compared with
 * (tr_decision), or NaN for a router file that has none. */
TR_API double tr_router_ood_threshold(const tr_router *r);
/* Index of the model called 'name', or -1.  Borrows name. */
TR_API int tr_router_find_model(const tr_router *r, const char *name);

/* A JSON description (config, tasks, models, sections) for `inspect`.
 * *json owned by the caller: tr_free. */
TR_API int tr_router_describe(const tr_router *r, char **json, char *err, size_t errlen);

/* Free memory the library handed to the caller (JSON strings). NULL: no-op. */
TR_API void tr_free(void *p);

/* Working memory for tr_route on r.  It records every size it was made
 * for, and serves another router only when it covers all of that router's
 * sizes: models, tasks, dimensions, and the embedder's and heads' working
 * memory (which grows with the kNN store).  Borrows r.  *out owned by the
 * caller: tr_scratch_free. */
TR_API int tr_scratch_new_v2(const tr_router *r, tr_scratch **out, char *err, size_t errlen);
/* tr_scratch_new_v2 without a message. */
TR_API int tr_scratch_new(const tr_router *r, tr_scratch **out);
/* Free a scratch; NULL is a no-op. */
TR_API void tr_scratch_free(tr_scratch *s);
/* TR_OK when s can route on r; else TR_EINVAL and err names the size that
 * does not fit (or the NULL argument).  Borrows both. */
TR_API int tr_scratch_check(const tr_router *r, const tr_scratch *s, char *err, size_t errlen);

typedef enum tr_select_mode {
    TR_SELECT_LAMBDA = 0,    /* maximise q - value * c (value = λ per USD) */
    TR_SELECT_TOLERANCE = 1, /* cheapest model with q >= max q - value */
    TR_SELECT_BUDGET = 2,    /* mean cost per query <= value USD (λ fitted at training) */
    TR_SELECT_RISK = 3,      /* cheapest model whose misrouting risk <= value */
    TR_SELECT_QUALITY = 4    /* best predicted quality, cost ignored */
} tr_select_mode;

typedef struct tr_route_options {
    size_t struct_size;      /* sizeof(tr_route_options), set by tr_route_options_default */
    tr_select_mode mode;     /* [TR_SELECT_LAMBDA] */
    double value;            /* the mode's knob [0] */
    /* Candidates: allowed[m] != 0 for each permitted model (router order);
     * NULL = all models.  Borrowed. */
    const unsigned char *allowed;
} tr_route_options;

/* Fill *o with the defaults shown in brackets.  o is the caller's. */
TR_API void tr_route_options_default(tr_route_options *o);

typedef struct tr_decision {
    int model;                /* chosen model index */
    const char *model_name;   /* owned by the router */
    int task;                 /* most probable task (index in this router) */
    const char *task_name;    /* owned by the router */
    float task_prob;          /* its probability */
    size_t n_models, n_tasks;
    /* Explanation, owned by the scratch (valid until its next use):
     * predicted quality, calibrated quality and cost per model, P(task). */
    const float *quality;
    const float *cost;
    const float *task_probs;
    int task_id;              /* that task's id, stable across warm-started retrains */
    /* Out of distribution: the prompt looks like none of the router's tasks.
     * ood_score: LARGER means MORE out of distribution.  It is the larger of
     * the task classifier's energy (-log sum_t exp(logit_t)) and the share
     * of the prompt the embedder's projection loses, each on the scale of
     * held-out training prompts (tr_route_embedding: the energy alone).
     * ood = 1 when ood_score is above the router's threshold
     * (tr_router_ood_threshold), calibrated at training so that about 5% of
     * held-out training prompts lie above it.  A router file without a
     * threshold (written before it existed) never sets ood. */
    int ood;
    float ood_score;
    /* The prompt's unit-length embedding (dim floats, dim = tr_router_dim),
     * owned by the scratch like the arrays above: what a caller keys a
     * semantic cache on without embedding the prompt a second time. */
    const float *embedding;
    size_t dim;
} tr_decision;

/* Route one prompt (UTF-8, len bytes).  Borrows r, prompt, opt (NULL =
 * defaults); s is this thread's scratch; *out's arrays are owned by s.
 * Allocates nothing.  TR_EINVAL (no message: no buffer) for a NULL
 * argument, a scratch too small for r (tr_scratch_check says which size), a
 * router trained on caller-supplied embeddings (use tr_route_embedding),
 * options of the wrong size, an unknown mode or a NaN value; TR_ENOTFOUND
 * when no allowed model has a prediction. */
TR_API int tr_route(const tr_router *r, const char *prompt, size_t len,
             const tr_route_options *opt, tr_scratch *s, tr_decision *out);

/* Route a caller-embedded prompt: x has tr_router_dim(r) floats (it is
 * unit-normalised internally).  Without the prompt's text, a head that
 * reads its surface features (length, punctuation, digits...) sees the
 * training mean and the length-based cost model a zero length.  Same
 * ownership as tr_route. */
TR_API int tr_route_embedding(const tr_router *r, const float *x, size_t d,
                       const tr_route_options *opt, tr_scratch *s,
                       tr_decision *out);

/* ------------------------------------------------------------- policies */

/* What training estimated for the router's default policy, "the best
 * single model's quality at the least cost": out-of-fold predictions on the
 * training rows, selection at each λ of a grid, and the λ whose mean cost
 * is least while its mean quality reaches the best single model's (when
 * none reaches it, the λ of highest quality). */
typedef struct tr_policy_estimate {
    double lambda;          /* the default λ: quality points (scores in [0, 1]) the
                               policy gives up to save one USD per request */
    double quality, cost;   /* its mean quality and USD per request on the training rows */
    int best_model;         /* the best single model (router index) on the same rows */
    double best_quality, best_cost;
} tr_policy_estimate;

/* The router's default policy: sets opt->mode and opt->value (other fields
 * of opt are left as they are) and, when est is not NULL, what training
 * estimated for it.  TR_OK; or TR_ENOTFOUND for a router file trained
 * before defaults were stored (or a stage-1 router), with opt set to the
 * fallback, TR_SELECT_QUALITY, and *est NaN with best_model -1.  Borrows r;
 * opt and est are the caller's. */
TR_API int tr_router_default_policy(const tr_router *r, tr_route_options *opt, tr_policy_estimate *est);

/* The λ that selection under opt trades quality against cost with:
 * LAMBDA its value (negative: 0; +inf: the cheapest model), BUDGET the λ
 * the router's budget table gives for the budget, QUALITY 0; NaN for
 * TOLERANCE and RISK, which do not select by one λ.  Borrows both; opt
 * NULL: the defaults (λ = 0). */
TR_API double tr_route_lambda(const tr_router *r, const tr_route_options *opt);

/* Rank the models for the prompt d was routed on, the way the policy opt
 * prefers them: d->model first, then every other model that opt->allowed
 * permits (NULL: all) and that has a prediction.  LAMBDA and BUDGET order
 * by q - λ c (ties: cheaper), QUALITY and RISK by predicted quality (ties:
 * cheaper), TOLERANCE the models within the tolerance by cost, then the
 * rest by quality.  Writes at most cap model indices to order and returns
 * how many it wrote.  d must be the last decision of its scratch (its
 * arrays are read); when d->model is -1 the ranking starts with the
 * policy's own first choice.  Allocates nothing; borrows everything. */
TR_API size_t tr_decision_rank(const tr_router *r, const tr_decision *d, const tr_route_options *opt,
                        int *order, size_t cap);

/* --------------------------------------------------------------- prices */

/* Record the price model m was trained at (USD per million input and
 * output tokens; finite, >= 0, not both 0), kept in the router's config
 * when it is saved: a server scales the router's cost estimates by a later
 * price against this one.  Call before the router is shared.  TR_OK or
 * TR_EINVAL / TR_ENOMEM with err set.  r is the caller's. */
TR_API int tr_router_set_reference_price(tr_router *r, size_t m, double input_per_mtok, double output_per_mtok,
                                  char *err, size_t errlen);
/* Model m's reference price: TR_OK and both written, or TR_ENOTFOUND (none
 * recorded).  Borrows r. */
TR_API int tr_router_reference_price(const tr_router *r, size_t m, double *input_per_mtok, double *output_per_mtok);
/* Multiply model m's predicted cost by scale (finite, > 0; 1 undoes it) in
 * every later tr_route and tr_route_embedding on r: a price change without
 * retraining.  Not saved with the router.  Call before the router is
 * shared: routing reads the scale without a lock.  TR_OK or TR_EINVAL /
 * TR_ENOMEM. */
TR_API int tr_router_set_cost_scale(tr_router *r, size_t m, double scale);

/* ------------------------------------------------------------- evaluation */

/* Score r on the evaluation protocol's test split of ds.  with_baselines
 * (0 or 1): also every baseline router.  Borrows r and ds.  *json ({"dataset", "n_test", "routers": {...}, ...}) is
 * owned by the caller: tr_free. */
TR_API int tr_evaluate(const tr_router *r, const tr_dataset *ds, int with_baselines,
                char **json, char *err, size_t errlen);

/* The evaluation protocol's k-fold evaluation: the figures to report and
 * decide by. */
typedef struct tr_kfold_options {
    size_t struct_size;     /* sizeof(tr_kfold_options), set by tr_kfold_options_default */
    int folds;              /* K, 2..100; fold f's test set is the complete records with
                             * fnv1a64(id) % K == f (tr_split_fold), so K = 5's fold 0 is
                             * the test split above [5] */
    int baselines;          /* 1: also train and score every baseline router in each fold [0] */
    int jobs;               /* folds trained at once, >= 0; 0 = as many as the cores allow,
                             * given the training options' threads [0] */
    /* Called as each fold finishes, with a one-line summary of it (fold,
     * test prompts, seconds, its figures); calls are serialised but may come
     * from any thread.  NULL: none.  The line is valid during the call. */
    void (*fold_done)(void *ctx, const char *line);
    void *fold_done_ctx;
} tr_kfold_options;

/* Fill *o with the defaults shown in brackets above.  o is the caller's. */
TR_API void tr_kfold_options_default(tr_kfold_options *o);

/* For each fold f of K: train a router with 'train' (NULL = defaults) on
 * every record outside fold f (everything training chooses, heads by
 * cross-validation included, is chosen again inside that part), score it
 * and its ablations (and with baselines every baseline) on fold f's test
 * set by tr_evaluate's protocol.  Then each figure over the folds:
 *   {"dataset", "folds", "n_test": {"total", "folds": [...]},
 *    "reference": {"q_best", "c_best", "q_oracle", "c_oracle": S, "best_model": [...]},
 *    "heads": [{"quality", "cost"} chosen per fold],
 *    "routers": {NAME: {FIGURE: S}},
 *    "paired": {NAME: {FIGURE: P}, "best-single": {"q_at_c_best": P}}}
 * where S = {"mean", "se", "folds": [per fold]} (se: sample standard
 * deviation / sqrt(K); null where a fold has no value, e.g. an infinite
 * c_at_q_best) and P is S of the per-fold difference taskroute − NAME plus
 * "won", "lost", "tied": folds where taskroute is better, worse, equal.
 * FIGURE: q_at_c_best, gap_captured, c_at_q_best, cost_saving, q_max,
 * c_at_q_max, aiq_lin, aiq_log, ece (as tr_evaluate; P has all but
 * c_at_q_max).  A router appears only when every fold scored it.
 * train's use_all and warm_start are refused (TR_EINVAL); its progress is
 * not called (opt->fold_done reports instead); its threads apply to each
 * fold and its blas_threads to the whole call (set once, not per fold).
 * With OpenBLAS on one thread the result is the same whatever jobs and
 * threads.  Borrows ds, train and opt (NULL = defaults).  *json owned by
 * the caller: tr_free. */
TR_API int tr_evaluate_kfold(const tr_dataset *ds, const tr_train_options *train, const tr_kfold_options *opt,
                             char **json, char *err, size_t errlen);

/* ------------------------------------------------------------- retraining */

/* Scheduled retraining from C, as `taskroute train --warm-start` and
 * `taskroute drift` run it: train against the current router (stable task
 * ids and names, a drift report), compare the candidate with the current
 * router before swapping (the regression guard), and watch traffic drift
 * between retrains. */

typedef struct tr_warm_options {
    size_t struct_size;       /* sizeof(tr_warm_options), set by tr_warm_options_default */
    int refit_embedder;       /* 1: fit a new embedder instead of reusing the current one [0] */
    double match_min_score;   /* least match score for a new task to keep a current task's id
                                 and name, in [0, 1] [0.35] */
    /* names the current router (e.g. its path) in the drift report and the
     * new router's config; borrowed; NULL: "current" [NULL] */
    const char *current_name;
} tr_warm_options;

/* Fill *o with the defaults shown in brackets.  o is the caller's. */
TR_API void tr_warm_options_default(tr_warm_options *o);

/* Train a new router on ds against current, the router in service: its
 * embedder is reused unless refit_embedder (embeddings stay comparable and
 * the tokenizer, TF-IDF and SVD are not refitted), its task count is the
 * clustering target unless opt sets a resolution or target_tasks, and the
 * new tasks are matched to its tasks: a matched task keeps its id and name,
 * a new one gets the next free id.  opt->warm_start must be NULL (the
 * current router is given here).  Borrows ds, current (only read: it may
 * keep routing on other threads meanwhile), opt and wopt (NULL: defaults).
 * *out owned by the caller: tr_router_close.  drift: NULL, or receives the
 * drift report as JSON ({"kind":"retrain", tasks matched, added and
 * vanished, shares and per-model shifts, splits, merges, models added and
 * retired}; tr_drift_markdown renders it), owned by the caller: tr_free. */
TR_API int tr_train_warm_start(const tr_dataset *ds, const tr_router *current, const tr_train_options *opt,
                               const tr_warm_options *wopt, tr_router **out, char **drift, char *err,
                               size_t errlen);

typedef struct tr_guard_options {
    size_t struct_size;       /* sizeof(tr_guard_options), set by tr_guard_options_default */
    /* the candidate is refused when it is worse than the current router by
     * more than this beyond noise, in AIQ(log) or Q@C_best on the test
     * split (tr_regression_guard), in [0, 1] [0.01] */
    double max_regression;
} tr_guard_options;

/* Fill *o with the defaults shown in brackets.  o is the caller's. */
TR_API void tr_guard_options_default(tr_guard_options *o);

/* The regression guard: score candidate and current on the test split of
 * ds (the evaluation protocol's) and decide whether the candidate may
 * replace current, so that a retrain is refused for being worse, not for
 * being unlucky on a few prompts.  current routes only among the models it
 * knows, as it would in service.  The test: 1000 bootstrap resamples of
 * the test prompts (fixed seed), the same for both routers; in each, the
 * best single model, C_best, and both routers' Q@C_best and AIQ (log cost
 * axis) are recomputed; the 2.5% and 97.5% quantiles of a difference
 * new − current are its 95% interval.  The candidate is refused when the
 * interval of Q@C_best or AIQ(log) lies wholly below −max_regression, or
 * when current beats the best single model beyond noise (the interval of
 * its Q@C_best − Q_best lies above 0) and the candidate does not beat it.
 * TR_OK: accepted; TR_EREGRESS: refused, err says why with the figures;
 * any other status: the comparison failed.  evidence: NULL, or receives
 * (on TR_OK and TR_EREGRESS) the verdict and its evidence as JSON, owned
 * by the caller: tr_free:
 *   {"test", "n_test", "resamples", "level", "seed", "max_regression",
 *    "current_usable", "q_at_c_best": F, "aiq_log": F, "q_best",
 *    "beats_best_single": {"before", "before_ci": [lo, hi], "after"},
 *    "verdict": "accepted" | "refused", "reason"}
 * with F = {"before", "after", "diff", "ci": [lo, hi]} (current_usable
 * false: current knows none of ds's models, nothing to regress from, the
 * figures before are null).  Borrows all. */
TR_API int tr_regression_guard(const tr_router *current, const tr_router *candidate, const tr_dataset *ds,
                               const tr_guard_options *opt, char **evidence, char *err, size_t errlen);

/* Traffic drift without retraining: how the prompts of ds (scores ignored)
 * spread over r's tasks against the training shares, and which of them are
 * out of distribution (a decision's ood_score above the threshold).
 * threshold: NULL for the one calibrated at training
 * (tr_router_ood_threshold), else a threshold on the same score (borrowed).
 * A router file without an OOD calibration counts no OOD prompts
 * ("ood_count", "ood_share" and "ood_threshold" null, "threshold_source"
 * "none").  *json owned by the caller: tr_free:
 * {"kind":"traffic", "n", "ood_threshold", "threshold_source", "ood_share",
 * "ood_count", "tv_distance", "js_divergence", "tasks": [{"id", "slug",
 * "name", "share_train", "share_traffic", "delta", "ood_nearest"}], ...}.
 * Borrows r and ds.  TR_EINVAL for a NaN or infinite threshold. */
TR_API int tr_drift_traffic(const tr_router *r, const tr_dataset *ds, const double *threshold, char **json,
                            char *err, size_t errlen);

/* Render a drift report (the JSON of tr_train_warm_start or
 * tr_drift_traffic, borrowed) as Markdown.  *md owned by the caller:
 * tr_free.  TR_EFORMAT when json is not a drift report. */
TR_API int tr_drift_markdown(const char *json, char **md, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* TASKROUTE_H */
