/* Softmax regression trained by L-BFGS (see classifier.h).
 *
 * The objective is the mean cross-entropy plus (l2/2)||W||^2 (the bias is
 * not penalised).  Logits and gradient are computed in row chunks of CHUNK
 * rows with SGEMM, one chunk per worker thread at a time, so memory stays
 * O(threads*CHUNK*T + n/CHUNK*T*d) beyond the data; the L-BFGS state is
 * double.  Backtracking (Armijo) line search; pairs with too
 * little curvature are skipped, which keeps the inverse-Hessian estimate
 * positive definite.  Everything is deterministic for a seed. */
#include "classify/classifier.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/eval_metrics.h"
#include "base/util.h"
#include "kernels/gemv.h"

#define CHUNK 4096
#define HIST 8
#define FORMAT_VERSION 1

void tr_softmax_params_default(tr_softmax_params *p)
{
    memset(p, 0, sizeof *p);
    p->l2 = -1;
    p->max_iter = 200;
    p->tol = 1e-5;
    p->seed = 42;
    p->holdout = 0.2;
    p->select_max = 20000;
}

void tr_softmax_free(tr_softmax *m)
{
    if (!m) return;
    tr_free(m->W);
    tr_free(m->b);
    tr_free(m);
}

static tr_softmax *model_new(size_t T, size_t d)
{
    tr_softmax *m = tr_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->T = T;
    m->d = d;
    m->W = tr_calloc(T * d, sizeof(float));
    m->b = tr_calloc(T, sizeof(float));
    if (!m->W || !m->b) {
        tr_softmax_free(m);
        return NULL;
    }
    return m;
}

/* In place: z (T logits) -> probabilities; returns log-sum-exp. */
static double softmax_inplace(float *z, size_t T)
{
    float mx = z[0];
    for (size_t t = 1; t < T; t++) if (z[t] > mx) mx = z[t];
    double s = 0;
    for (size_t t = 0; t < T; t++) {
        z[t] = expf(z[t] - mx);
        s += z[t];
    }
    float inv = (float)(1.0 / s);
    for (size_t t = 0; t < T; t++) z[t] *= inv;
    return mx + log(s);
}

void tr_softmax_predict(const tr_softmax *m, const float *x, float *probs)
{
    tr_softmax_predict_energy(m, x, probs, NULL);
}

void tr_softmax_predict_energy(const tr_softmax *m, const float *x, float *probs, float *energy)
{
    tr_gemv(m->T, m->d, m->W, m->d, x, probs);   /* gemv.h: no OpenBLAS threads on the routing path */
    for (size_t t = 0; t < m->T; t++) probs[t] = m->b[t] + probs[t];
    double lse = softmax_inplace(probs, m->T);
    if (energy) *energy = (float)-lse;
}

void tr_softmax_predict_batch(const tr_softmax *m, const float *X, size_t n, float *probs)
{
    tr_softmax_predict_batch_energy(m, X, n, probs, NULL);
}

void tr_softmax_predict_batch_energy(const tr_softmax *m, const float *X, size_t n, float *probs, float *energy)
{
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) memcpy(probs + i * m->T, m->b, m->T * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m->T, (int)m->d, 1.0f, X,
                (int)m->d, m->W, (int)m->d, 1.0f, probs, (int)m->T);
    for (size_t i = 0; i < n; i++) {
        double lse = softmax_inplace(probs + i * m->T, m->T);
        if (energy) energy[i] = (float)-lse;
    }
}

/* ---- objective ---- */

/* The rows are cut into chunks of CHUNK; worker threads take chunks, each
 * chunk's loss and gradient land in its own slot, and the slots are summed
 * in chunk order: the result does not depend on the thread count. */
typedef struct problem {
    const float *X;
    const int32_t *y;
    size_t n, d, T, nchunks, zrows;
    double l2;
    int threads;
    float *Wf, *bf;     /* theta as float: T*d, T */
    float *Z;           /* threads x zrows*T: each worker's logits */
    float *GWc;         /* nchunks x T*d: each chunk's (P - Y)^T X / n */
    double *fc, *gbc;   /* nchunks, nchunks x T: each chunk's loss and bias gradient sums */
    atomic_size_t next;
} problem;

/* Chunk c's loss, bias gradient and weight gradient, with Z as scratch. */
static void chunk_objective(problem *P, size_t c, float *Z)
{
    size_t T = P->T, d = P->d, c0 = c * CHUNK;
    size_t cn = P->n - c0 < CHUNK ? P->n - c0 : CHUNK;
    float invn = (float)(1.0 / (double)P->n);
    double f = 0, *gb = P->gbc + c * T;
    for (size_t t = 0; t < T; t++) gb[t] = 0;
    for (size_t i = 0; i < cn; i++) memcpy(Z + i * T, P->bf, T * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cn, (int)T, (int)d, 1.0f,
                P->X + c0 * d, (int)d, P->Wf, (int)d, 1.0f, Z, (int)T);
    for (size_t i = 0; i < cn; i++) {
        float *z = Z + i * T;
        int32_t yi = P->y[c0 + i];
        double zy = z[yi];
        f += softmax_inplace(z, T) - zy;
        z[yi] -= 1.0f;
        for (size_t t = 0; t < T; t++) {
            gb[t] += z[t];
            z[t] *= invn;
        }
    }
    P->fc[c] = f;
    /* (P - Y)^T X / n for this chunk */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)d, (int)cn, 1.0f, Z,
                (int)T, P->X + c0 * d, (int)d, 0.0f, P->GWc + c * T * d, (int)d);
}

typedef struct worker {
    problem *P;
    float *Z;
} worker;

static void *objective_worker(void *arg)
{
    worker *w = arg;
    for (size_t c; (c = atomic_fetch_add(&w->P->next, 1)) < w->P->nchunks;) chunk_objective(w->P, c, w->Z);
    return NULL;
}

/* f(theta) and its gradient g (both double, length T*d + T). */
static double objective(problem *P, const double *theta, double *g)
{
    size_t T = P->T, d = P->d, nw = T * d;
    for (size_t i = 0; i < nw; i++) P->Wf[i] = (float)theta[i];
    for (size_t t = 0; t < T; t++) P->bf[t] = (float)theta[nw + t];
    atomic_store(&P->next, 0);
    worker W[TR_RUN_MAX_THREADS];
    for (int t = 0; t < P->threads; t++) W[t] = (worker){P, P->Z + (size_t)t * P->zrows * T};
    tr_run_workers(P->threads, objective_worker, W, sizeof W[0]);
    double f = 0, *gb = g + nw;
    for (size_t i = 0; i < nw; i++) g[i] = 0;
    for (size_t t = 0; t < T; t++) gb[t] = 0;
    for (size_t c = 0; c < P->nchunks; c++) {
        f += P->fc[c];
        const float *gw = P->GWc + c * nw;
        for (size_t i = 0; i < nw; i++) g[i] += gw[i];
        for (size_t t = 0; t < T; t++) gb[t] += P->gbc[c * T + t];
    }
    f /= (double)P->n;
    double reg = 0;
    for (size_t i = 0; i < nw; i++) {
        reg += theta[i] * theta[i];
        g[i] += P->l2 * theta[i];
    }
    for (size_t t = 0; t < T; t++) gb[t] /= (double)P->n;
    return f + 0.5 * P->l2 * reg;
}

static double dotd(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Minimise from theta (in/out).  Returns TR_OK or TR_ENOMEM. */
static int lbfgs(problem *P, double *theta, int max_iter, double tol)
{
    size_t N = P->T * P->d + P->T;
    double *mem = tr_mallocarray((2 * HIST + 4) * N, sizeof(double));
    if (!mem) return TR_ENOMEM;
    double *S = mem, *Y = S + HIST * N, *g = Y + HIST * N, *gn = g + N, *dir = gn + N,
           *tn = dir + N;
    double rho[HIST], alpha[HIST];
    int hlen = 0, hpos = 0;
    double f = objective(P, theta, g);
    for (int it = 0; it < max_iter; it++) {
        double gmax = 0;
        for (size_t i = 0; i < N; i++) if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
        if (gmax < tol) break;
        /* two-loop recursion */
        for (size_t i = 0; i < N; i++) dir[i] = -g[i];
        for (int h = 0; h < hlen; h++) {
            int j = (hpos - 1 - h + HIST) % HIST;
            alpha[j] = rho[j] * dotd(S + j * N, dir, N);
            for (size_t i = 0; i < N; i++) dir[i] -= alpha[j] * Y[j * N + i];
        }
        if (hlen > 0) {
            int j = (hpos - 1 + HIST) % HIST;
            double gam = dotd(S + j * N, Y + j * N, N) / dotd(Y + j * N, Y + j * N, N);
            for (size_t i = 0; i < N; i++) dir[i] *= gam;
        } else {
            double gn2 = sqrt(dotd(g, g, N));
            for (size_t i = 0; i < N; i++) dir[i] /= gn2 > 1 ? gn2 : 1;
        }
        for (int h = hlen - 1; h >= 0; h--) {
            int j = (hpos - 1 - h + HIST) % HIST;
            double beta = rho[j] * dotd(Y + j * N, dir, N);
            for (size_t i = 0; i < N; i++) dir[i] += (alpha[j] - beta) * S[j * N + i];
        }
        double slope = dotd(g, dir, N);
        if (!(slope < 0)) { /* not a descent direction: restart from -g */
            for (size_t i = 0; i < N; i++) dir[i] = -g[i];
            slope = -dotd(g, g, N);
            hlen = 0;
        }
        double step = 1, fn = 0;
        int ok = 0;
        for (int ls = 0; ls < 30; ls++) {
            for (size_t i = 0; i < N; i++) tn[i] = theta[i] + step * dir[i];
            fn = objective(P, tn, gn);
            if (fn <= f + 1e-4 * step * slope) { ok = 1; break; }
            step *= 0.5;
        }
        if (!ok) break;
        double *s = S + hpos * N, *yv = Y + hpos * N;
        for (size_t i = 0; i < N; i++) {
            s[i] = tn[i] - theta[i];
            yv[i] = gn[i] - g[i];
        }
        double sy = dotd(s, yv, N);
        if (sy > 1e-12) {
            rho[hpos] = 1.0 / sy;
            hpos = (hpos + 1) % HIST;
            if (hlen < HIST) hlen++;
        }
        memcpy(theta, tn, N * sizeof(double));
        memcpy(g, gn, N * sizeof(double));
        double rel = (f - fn) / (fabs(f) > 1e-12 ? fabs(f) : 1e-12);
        f = fn;
        if (rel < 1e-10) break;
    }
    tr_free(mem);
    return TR_OK;
}

/* Train on (X, y) with a fixed l2 into a new model, on 'threads' threads
 * (each with one BLAS thread: the chunks already fill the cores). */
static int fit_fixed(const float *X, size_t n, size_t d, const int32_t *y, size_t T, double l2,
                     int max_iter, double tol, int threads, const tr_softmax *init, tr_softmax **out)
{
    *out = NULL;
    size_t N = T * d + T, nchunks = (n + CHUNK - 1) / CHUNK;
    threads = tr_workers(threads, nchunks);
    problem P = {.X = X, .y = y, .n = n, .d = d, .T = T, .l2 = l2, .nchunks = nchunks,
                 .zrows = n < CHUNK ? n : CHUNK, .threads = threads};
    P.Wf = tr_mallocarray(T * d, sizeof(float));
    P.bf = tr_mallocarray(T, sizeof(float));
    P.Z = tr_mallocarray((size_t)threads * P.zrows * T, sizeof(float));
    P.GWc = tr_mallocarray(nchunks * T * d, sizeof(float));
    P.fc = tr_mallocarray(nchunks, sizeof(double));
    P.gbc = tr_mallocarray(nchunks * T, sizeof(double));
    double *theta = tr_calloc(N, sizeof(double));
    tr_softmax *m = model_new(T, d);
    int rc = TR_ENOMEM;
    if (!P.Wf || !P.bf || !P.Z || !P.GWc || !P.fc || !P.gbc || !theta || !m) goto done;
    if (init) {
        for (size_t i = 0; i < T * d; i++) theta[i] = init->W[i];
        for (size_t t = 0; t < T; t++) theta[T * d + t] = init->b[t];
    }
    rc = lbfgs(&P, theta, max_iter, tol);
    if (rc != TR_OK) goto done;
    for (size_t i = 0; i < T * d; i++) m->W[i] = (float)theta[i];
    for (size_t t = 0; t < T; t++) m->b[t] = (float)theta[T * d + t];
    m->l2 = l2;
    *out = m;
    m = NULL;
    rc = TR_OK;
done:
    tr_free(P.Wf); tr_free(P.bf); tr_free(P.Z); tr_free(P.GWc); tr_free(P.fc); tr_free(P.gbc);
    tr_free(theta);
    tr_softmax_free(m);
    return rc;
}

/* Mean log-loss of m on (X, y). */
static double logloss(const tr_softmax *m, const float *X, size_t n, const int32_t *y, float *pr)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        tr_softmax_predict(m, X + i * m->d, pr);
        s -= log((double)pr[y[i]] + 1e-12);
    }
    return s / (double)n;
}

/* Choose l2 on a holdout drawn from a deterministic sample of the data.
 * The grid is fitted from the strongest penalty down, each fit starting
 * where the previous one ended (the same rows, so nothing leaks); *best_fit
 * gets the chosen penalty's model, a start for the fit on all rows.  Ties
 * (within 1e-9) go to the weaker penalty. */
static int choose_l2(const float *X, size_t n, size_t d, const int32_t *y, size_t T,
                     const tr_softmax_params *p, int threads, double *best_l2, tr_softmax **best_fit)
{
    static const double grid[] = {1e-2, 1e-3, 1e-4, 1e-5};
    size_t m = n < p->select_max ? n : p->select_max;
    size_t nh = (size_t)((double)m * p->holdout);
    *best_l2 = 1e-4;
    *best_fit = NULL;
    if (nh < 10 || m - nh < 10) return TR_OK; /* too small to choose: default */
    size_t *perm = tr_mallocarray(n, sizeof(size_t));
    float *Xs = tr_mallocarray(m * d, sizeof(float));
    int32_t *ys = tr_mallocarray(m, sizeof(int32_t));
    float *pr = tr_mallocarray(T, sizeof(float));
    tr_softmax *prev = NULL;
    int rc = TR_ENOMEM;
    if (!perm || !Xs || !ys || !pr) goto done;
    tr_rng r;
    tr_rng_seed(&r, p->seed);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)tr_rng_below(&r, n - i);
        size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        memcpy(Xs + i * d, X + perm[i] * d, d * sizeof(float));
        ys[i] = y[perm[i]];
    }
    double best = INFINITY;
    for (size_t gi = 0; gi < sizeof grid / sizeof grid[0]; gi++) {
        tr_softmax *mod = NULL;
        rc = fit_fixed(Xs + nh * d, m - nh, d, ys + nh, T, grid[gi], p->max_iter, p->tol, threads, prev, &mod);
        if (rc != TR_OK) goto done;
        double ll = logloss(mod, Xs, nh, ys, pr);
        if (ll <= best + 1e-9) {
            best = ll < best ? ll : best;
            *best_l2 = grid[gi];
            if (*best_fit != prev) tr_softmax_free(*best_fit);
            *best_fit = mod;
        }
        if (prev != *best_fit) tr_softmax_free(prev);
        prev = mod;
    }
    rc = TR_OK;
done:
    if (prev != *best_fit) tr_softmax_free(prev);
    if (rc != TR_OK) { tr_softmax_free(*best_fit); *best_fit = NULL; }
    tr_free(perm); tr_free(Xs); tr_free(ys); tr_free(pr);
    return rc;
}

int tr_softmax_fit(const float *X, size_t n, size_t d, const int32_t *y, size_t T,
                   const tr_softmax_params *p, tr_softmax **out, char *err, size_t errlen)
{
    tr_softmax_params def;
    if (!p) {
        tr_softmax_params_default(&def);
        p = &def;
    }
    if (out) *out = NULL;
    if (!X || !y || !out) return tr_errorf(err, errlen, TR_EINVAL, "softmax: NULL argument");
    if (n == 0) return tr_errorf(err, errlen, TR_ETOOFEW, "softmax: no training rows (n=0)");
    if (d == 0 || T == 0)
        return tr_errorf(err, errlen, TR_EINVAL, "softmax: d=%zu T=%zu must be > 0", d, T);
    if (d > INT32_MAX || T > INT32_MAX || n > INT32_MAX)
        return tr_errorf(err, errlen, TR_ERANGE, "softmax: n=%zu d=%zu T=%zu too large", n, d, T);
    if (p->max_iter <= 0 || !(p->holdout > 0 && p->holdout < 1))
        return tr_errorf(err, errlen, TR_EINVAL, "softmax: max_iter=%d holdout=%g invalid",
                         p->max_iter, p->holdout);
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t)y[i] >= T)
            return tr_errorf(err, errlen, TR_EINVAL, "softmax: label %d of row %zu not in [0, %zu)",
                             (int)y[i], i, T);
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return tr_errorf(err, errlen, TR_EINVAL,
                                 "softmax: row %zu has a non-finite value at column %zu", i, j);
    }
    if (p->init && (p->init->T != T || p->init->d != d))
        return tr_errorf(err, errlen, TR_EINVAL, "softmax: starting model is %zu x %zu, not %zu x %zu", p->init->T,
                         p->init->d, T, d);
    double l2 = p->l2;
    int rc, threads = p->threads > 0 ? p->threads : tr_ncpu();
    tr_softmax *start = NULL;
    if (l2 < 0 && (rc = choose_l2(X, n, d, y, T, p, threads, &l2, &start)) != TR_OK)
        return tr_errorf(err, errlen, rc, "softmax: out of memory choosing l2");
    /* from the caller's start, else the chosen penalty's fit on the sample */
    rc = fit_fixed(X, n, d, y, T, l2, p->max_iter, p->tol, threads, p->init ? p->init : start, out);
    tr_softmax_free(start);
    if (rc != TR_OK) return tr_errorf(err, errlen, rc, "softmax: out of memory training (T=%zu d=%zu)", T, d);
    return TR_OK;
}

void tr_softmax_save(const tr_softmax *m, tr_buf *b)
{
    tr_buf_u32(b, FORMAT_VERSION);
    tr_buf_u32(b, (uint32_t)m->T);
    tr_buf_u32(b, (uint32_t)m->d);
    tr_buf_f64(b, m->l2);
    tr_buf_f32s(b, m->W, m->T * m->d);
    tr_buf_f32s(b, m->b, m->T);
}

int tr_softmax_load(tr_cursor *c, tr_softmax **out, char *err, size_t errlen)
{
    *out = NULL;
    uint32_t ver = 0, T = 0, d = 0;
    double l2 = 0;
    tr_cursor_field(c, "classifier version");
    tr_get_u32(c, &ver);
    if (c->err == TR_OK && ver != FORMAT_VERSION)
        return tr_errorf(err, errlen, ver > FORMAT_VERSION ? TR_EVERSION : TR_EFORMAT,
                         "classifier: format version %u, this build reads %d", ver,
                         FORMAT_VERSION);
    tr_cursor_field(c, "classifier task count");
    tr_get_u32(c, &T);
    tr_cursor_field(c, "classifier dimension");
    tr_get_u32(c, &d);
    tr_cursor_field(c, "classifier l2");
    tr_get_f64(c, &l2);
    if (c->err != TR_OK)
        return tr_errorf(err, errlen, c->err, "classifier: truncated at %s", c->what);
    if (T == 0 || d == 0 || T > (1u << 20) || d > (1u << 20))
        return tr_errorf(err, errlen, TR_EFORMAT, "classifier: bad sizes T=%u d=%u", T, d);
    /* Check the count against what remains before allocating. */
    uint64_t need = ((uint64_t)T * d + T) * sizeof(float);
    if (need > c->left)
        return tr_errorf(err, errlen, TR_ETRUNC,
                         "classifier: truncated: weights for T=%u d=%u need %llu bytes, %zu left",
                         T, d, (unsigned long long)need, c->left);
    tr_softmax *m = model_new(T, d);
    if (!m) return tr_errorf(err, errlen, TR_ENOMEM, "classifier: out of memory");
    m->l2 = l2;
    tr_cursor_field(c, "classifier weights");
    tr_get_f32s(c, m->W, (size_t)T * d);
    tr_cursor_field(c, "classifier bias");
    tr_get_f32s(c, m->b, T);
    if (c->err != TR_OK) {
        tr_softmax_free(m);
        return tr_errorf(err, errlen, c->err, "classifier: truncated at %s", c->what);
    }
    for (size_t i = 0; i < (size_t)T * d; i++)
        if (!isfinite(m->W[i])) {
            tr_softmax_free(m);
            return tr_errorf(err, errlen, TR_EFORMAT, "classifier: non-finite weight %zu", i);
        }
    *out = m;
    return TR_OK;
}

double tr_ece_binary(const float *conf, const unsigned char *correct, size_t n, int bins)
{
    tr_ece_bins e;
    tr_ece_bins_init(&e, bins);
    for (size_t i = 0; i < n; i++) tr_ece_bins_add(&e, conf[i], correct[i] ? 1.0 : 0.0);
    double v = tr_ece_bins_value(&e);
    return isnan(v) ? 0 : v;
}

size_t tr_argmax(const float *probs, size_t T, float *conf)
{
    size_t a = 0;
    for (size_t t = 1; t < T; t++) if (probs[t] > probs[a]) a = t;
    if (conf) *conf = probs[a];
    return a;
}

double tr_accuracy(const float *probs, size_t n, size_t T, const int32_t *y)
{
    if (n == 0) return 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += tr_argmax(probs + i * T, T, NULL) == (size_t)y[i];
    return (double)ok / (double)n;
}
