/* The evaluation protocol's figures: hand-computed hulls (a point below the hull, duplicate
 * costs, one point, a non-monotone sweep, collinear points, never reaching
 * Q_best), Q@C below the hull, AIQ on both axes, ECE, the best single model
 * and the oracle, and cross-checks against figures computed by an
 * independent Python reference implementation, to 1e-9. */
#include "testutil.h"

#include <math.h>

#include "base/eval_metrics.h"
#include "base/util.h"

#define EPS 1e-12
#define N(a) (sizeof(a) / sizeof((a)[0]))

static size_t hull_of(const tr_point *p, size_t n, tr_point *h)
{
    size_t k;
    char err[128];
    assert_int_equal(tr_eval_hull(p, n, h, &k, err, sizeof err), TR_OK);
    return k;
}

static void assert_pt(tr_point p, double c, double q)
{
    if (fabs(p.cost - c) > EPS || fabs(p.quality - q) > EPS)
        fail_msg("vertex (%g, %g), want (%g, %g)", p.cost, p.quality, c, q);
}

static void test_hull_below_and_dominated(void **state)
{
    (void)state;
    /* (2.5, .6) is below the hull; (4, .74) is costlier and worse than (3, .75) */
    tr_point p[] = {{2.5, 0.6}, {1, 0.5}, {4, 0.74}, {3, 0.75}, {2, 0.7}};
    tr_point h[N(p)];
    size_t k = hull_of(p, N(p), h);
    assert_int_equal(k, 3);
    assert_pt(h[0], 1, 0.5);
    assert_pt(h[1], 2, 0.7);
    assert_pt(h[2], 3, 0.75);
    /* in place works too */
    k = hull_of(p, N(p), p);
    assert_int_equal(k, 3);
    assert_pt(p[2], 3, 0.75);
}

static void test_hull_duplicate_costs(void **state)
{
    (void)state;
    tr_point p[] = {{1, 0.4}, {2, 0.6}, {1, 0.5}, {2, 0.55}, {2, 0.6}, {1, 0.45}};
    tr_point h[N(p)];
    size_t k = hull_of(p, N(p), h);
    assert_int_equal(k, 2);
    assert_pt(h[0], 1, 0.5);
    assert_pt(h[1], 2, 0.6);
    assert_true(fabs(tr_eval_quality_at(h, k, 1.5) - 0.55) < EPS);
}

static void test_hull_one_point(void **state)
{
    (void)state;
    tr_point p[] = {{2, 0.6}}, h[1];
    size_t k = hull_of(p, 1, h);
    assert_int_equal(k, 1);
    /* below the cheapest vertex the router cannot operate: NaN */
    assert_true(isnan(tr_eval_quality_at(h, k, 1.999)));
    assert_true(tr_eval_quality_at(h, k, 2) == 0.6);
    assert_true(tr_eval_quality_at(h, k, 50) == 0.6);
    assert_true(tr_eval_cost_at(h, k, 0.3) == 2);
    assert_true(tr_eval_cost_at(h, k, 0.6) == 2);
    assert_true(isinf(tr_eval_cost_at(h, k, 0.61)));
    /* AIQ counts 0 below the first vertex, flat to c_hi: .6 * 2 / 3 */
    assert_true(fabs(tr_eval_aiq(h, k, 1, 4, 0) - 0.4) < EPS);
    /* log axis: .6 * log10(4/2) / log10(4/1) = .3 */
    assert_true(fabs(tr_eval_aiq(h, k, 1, 4, 1) - 0.3) < EPS);
    assert_true(isnan(tr_eval_aiq(h, k, 4, 4, 0)));
    assert_true(isnan(tr_eval_aiq(h, k, 0, 4, 1)));
}

static void test_hull_collinear(void **state)
{
    (void)state;
    tr_point p[] = {{1, 0.5}, {2, 0.6}, {3, 0.7}}, h[3];
    size_t k = hull_of(p, 3, h);
    assert_int_equal(k, 2); /* the middle point lies on the chord */
    assert_pt(h[1], 3, 0.7);
    assert_true(fabs(tr_eval_quality_at(h, k, 2) - 0.6) < EPS);
}

/* A non-monotone sweep: quality rises then falls with cost. */
static const tr_point nonmono[] = {{3, 0.8}, {1, 0.5}, {5, 0.7}, {2, 0.75}, {4, 0.79}};
static const tr_eval_ref ref1 = {.best = 0, .q_best = 0.7, .c_best = 2, .q_oracle = 0.9, .c_oracle = 1.5,
                                 .c_lo = 1, .c_hi = 4};

static void test_nonmonotone_figures(void **state)
{
    (void)state;
    tr_point h[N(nonmono)];
    size_t k = hull_of(nonmono, N(nonmono), h);
    assert_int_equal(k, 3);
    assert_pt(h[0], 1, 0.5);
    assert_pt(h[1], 2, 0.75);
    assert_pt(h[2], 3, 0.8);
    assert_true(fabs(tr_eval_quality_at(h, k, 2.5) - 0.775) < EPS);
    assert_true(fabs(tr_eval_cost_at(h, k, 0.78) - 2.6) < EPS);

    tr_eval_figures f;
    char err[128];
    assert_int_equal(tr_eval_figures_compute(nonmono, N(nonmono), &ref1, NULL, &f, err, sizeof err), TR_OK);
    assert_int_equal(f.hull_n, 3);
    assert_true(fabs(f.q_at_cbest - 0.75) < EPS);
    assert_true(fabs(f.gap - 0.25) < EPS);               /* (.75 - .7) / (.9 - .7) */
    assert_true(fabs(f.c_at_qbest - 0.9) < EPS);         /* 1 + .2/.25 = 1.8, / 2 */
    assert_true(fabs(f.saving - 0.1) < EPS);
    assert_true(f.q_max == 0.8 && f.c_at_qmax == 3);
    assert_true(fabs(f.aiq_lin - 2.2 / 3) < EPS);        /* (.625 + .775 + .8) / 3 */
    /* sum of (a ln(a1/a0) + b (a1 - a0)) / ln 10 over the segments, / log10 4 */
    double lg = ((0.25 * log(2) + 0.25) + (0.65 * log(1.5) + 0.05) + 0.8 * log(4.0 / 3)) / log(10) / log10(4);
    assert_true(fabs(f.aiq_log - lg) < EPS);
    assert_true(fabs(f.aiq_log - 0.6975320685792576) < 1e-12);
}

static void test_never_reaches_and_below(void **state)
{
    (void)state;
    tr_point p[] = {{0.5, 0.4}, {1, 0.6}, {3, 0.65}};
    tr_eval_figures f;
    char err[128];
    assert_int_equal(tr_eval_figures_compute(p, 3, &ref1, NULL, &f, err, sizeof err), TR_OK);
    assert_true(isinf(f.c_at_qbest) && f.c_at_qbest > 0);
    assert_true(isinf(f.saving) && f.saving < 0);
    assert_true(fabs(f.q_at_cbest - 0.625) < EPS);
    assert_true(f.gap < 0);

    /* the router's cheapest setting costs more than C_best */
    tr_point q[] = {{2.5, 0.72}, {3.5, 0.85}};
    assert_int_equal(tr_eval_figures_compute(q, 2, &ref1, NULL, &f, err, sizeof err), TR_OK);
    assert_true(isnan(f.q_at_cbest));
    assert_true(isnan(f.gap));
    assert_true(fabs(f.c_at_qbest - 1.25) < EPS); /* first vertex already >= Q_best */
    /* AIQ: 0 on [1, 2.5], trapezoid to 3.5, flat .85 to 4 */
    assert_true(fabs(f.aiq_lin - ((0.72 + 0.85) / 2 + 0.85 * 0.5) / 3) < EPS);
}

static void test_errors(void **state)
{
    (void)state;
    tr_point h[2] = {{0, 0}, {0, 0}};
    size_t k = 99;
    char err[128];
    assert_int_equal(tr_eval_hull(h, 0, h, &k, err, sizeof err), TR_EINVAL);
    assert_int_equal(k, 0);
    assert_string_equal(err, "cost-quality hull: no sweep points");
    tr_point p[] = {{1, 0.5}, {NAN, 0.6}};
    assert_int_equal(tr_eval_hull(p, 2, h, &k, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "sweep point 1"));
    tr_eval_figures f;
    tr_alloc_fail_after(0);
    int rc = tr_eval_figures_compute(nonmono, N(nonmono), &ref1, NULL, &f, err, sizeof err);
    tr_alloc_fail_after(-1);
    assert_int_equal(rc, TR_ENOMEM);
    assert_non_null(strstr(err, "out of memory"));
    tr_eval_ref r;
    assert_int_equal(tr_eval_reference(NULL, NULL, 0, 3, &r, err, sizeof err), TR_EINVAL);
    assert_string_equal(err, "evaluation: 0 test prompts and 3 models");
}

static void test_ece(void **state)
{
    (void)state;
    /* bins: {.05, -.1 -> 0}: |.025 - 0|; {.15, .15}: |.15 - .5|; {1, 1.2 -> 1}: 0 */
    double pred[] = {0.05, 0.15, 0.15, 1.0, 1.2, -0.1};
    double act[] = {0, 1, 0, 1, 1, 0};
    assert_true(fabs(tr_eval_ece(pred, act, 6, 10) - 0.125) < EPS);
    assert_true(isnan(tr_eval_ece(pred, act, 0, 10)));
    assert_true(isnan(tr_eval_ece(pred, act, 6, 0)));
    /* perfectly calibrated within each bin */
    double p2[] = {0.25, 0.25, 0.25, 0.25}, a2[] = {0, 0, 1, 0};
    assert_true(fabs(tr_eval_ece(p2, a2, 4, 10)) < EPS);
    /* cross-check with eval.py's ece() */
    double p3[] = {0.03, 0.12, 0.18, 0.35, 0.41, 0.47, 0.66, 0.7, 0.83, 0.99, 1.0, 1.07, -0.02, 0.555};
    double a3[] = {0, 0, 1, 0.5, 0, 1, 1, 0.25, 1, 1, 1, 1, 0, 0};
    assert_true(fabs(tr_eval_ece(p3, a3, N(p3), 10) - 0.18035714285714283) < 1e-9);
    /* a pair with a NaN (a model without a prediction) is left out, not binned */
    double p4[] = {0.05, NAN, 0.15, 0.15, 1.0, 1.2, -0.1, 0.5};
    double a4[] = {0, 1, 1, 0, 1, 1, 0, NAN};
    assert_true(fabs(tr_eval_ece(p4, a4, 8, 10) - 0.125) < EPS);
    /* the accumulator is the same rule */
    tr_ece_bins e;
    tr_ece_bins_init(&e, 10);
    for (size_t i = 0; i < 6; i++) tr_ece_bins_add(&e, pred[i], act[i]);
    assert_true(fabs(tr_ece_bins_value(&e) - 0.125) < EPS);
    tr_ece_bins_init(&e, TR_ECE_MAX_BINS + 1);
    tr_ece_bins_add(&e, 0.5, 1);
    assert_true(isnan(tr_ece_bins_value(&e)));
}

static void test_best_single_and_oracle(void **state)
{
    (void)state;
    /* 3 prompts x 3 models; models 0 and 2 tie on quality, 2 is cheaper */
    double s[] = {1, 0, 1,
                  0, 1, 0,
                  1, 0.5, 1};
    double c[] = {3, 1, 2,
                  3, 1, 2,
                  3, 1, 2};
    double q[3], cm[3];
    tr_eval_model_means(s, c, 3, 3, q, cm);
    assert_true(fabs(q[0] - 2.0 / 3) < EPS && fabs(q[1] - 0.5) < EPS && cm[2] == 2);
    assert_int_equal(tr_eval_best_single(q, cm, 3), 2);
    size_t ch[3];
    double qo, co;
    tr_eval_oracle(s, c, 3, 3, ch, &qo, &co);
    assert_int_equal(ch[0], 2); /* 0 and 2 score 1: 2 is cheaper */
    assert_int_equal(ch[1], 1);
    assert_int_equal(ch[2], 2);
    assert_true(fabs(qo - 1) < EPS);
    assert_true(fabs(co - 5.0 / 3) < EPS);
    tr_eval_ref r;
    char err[128];
    assert_int_equal(tr_eval_reference(s, c, 3, 3, &r, err, sizeof err), TR_OK);
    assert_int_equal(r.best, 2);
    assert_true(fabs(r.q_best - 2.0 / 3) < EPS && r.c_best == 2);
    assert_true(r.c_lo == 1 && r.c_hi == 3);
    assert_true(fabs(r.q_oracle - 1) < EPS && fabs(r.c_oracle - 5.0 / 3) < EPS);
}

/* A noisy 47-point sweep (with an exact duplicate and a worse point at an
 * existing cost); expected figures computed by the Python reference
 * implementation (numbers copied here). */
static const tr_point xs[] = {
    {0.00011868705084669107, 0.5596714795704292}, {0.00014116744519942755, 0.5937677964664034},
    {0.00015874379391189977, 0.6167671244440625}, {0.0001493541317886232, 0.6202347901660622},
    {0.00021652186452056197, 0.6474158036058134}, {0.0002443357418693756, 0.6441073129040413},
    {0.0002500854463800008, 0.6659894296693505},  {0.0002906396618760767, 0.694193645067109},
    {0.00028592407731362003, 0.6937016676616063}, {0.0003518282422272123, 0.7342838645443469},
    {0.0004549746708913868, 0.7155170720355817},  {0.0005225427331301281, 0.7251868643845234},
    {0.0005696694456530154, 0.7342946749302621},  {0.0005481097732272038, 0.7728400225160043},
    {0.0006636226118755491, 0.7545992185224947},  {0.000921405304651538, 0.788177562643542},
    {0.0008815301331095815, 0.7984071758307294},  {0.0010740590091206364, 0.7931487390956851},
    {0.0011184593592467806, 0.809233027544067},   {0.0014498464608858786, 0.8153320006442465},
    {0.0017359005697006856, 0.7932553725596003},  {0.0017292647111568826, 0.7921737223839338},
    {0.0018560090217607874, 0.7920050035640432},  {0.0022100754659656954, 0.817051976677822},
    {0.002312474333446846, 0.8232665137867905},   {0.002899929345875714, 0.811489076225596},
    {0.003737969763126295, 0.8210065573331794},   {0.003744562427931581, 0.8234780655381118},
    {0.004722771411179211, 0.8087488200262924},   {0.005743384088560573, 0.8094282512907578},
    {0.006203827902018327, 0.8441760146065672},   {0.005803784375445035, 0.8435952074395618},
    {0.007302107045606212, 0.8367831704290445},   {0.007519365582442691, 0.8169329642375984},
    {0.009010988567738914, 0.8545690136471594},   {0.010316074849658529, 0.8477764224378183},
    {0.014200053375856989, 0.8563108788568204},   {0.013962785630002117, 0.8338089747157064},
    {0.016694689432483145, 0.8515436209423539},   {0.016973201176860454, 0.8512792712422701},
    {0.023219745943923044, 0.8564833785231687},   {0.02159196106689605, 0.860614499355408},
    {0.025008274940764633, 0.8370393096533383},   {0.032829002967899173, 0.8607058690265159},
    {0.03484791585091477, 0.8614732131104914},    {0.0002906396618760767, 0.694193645067109},
    {0.0004549746708913868, 0.7055170720355817},
};

static void test_crosscheck_eval_py(void **state)
{
    (void)state;
    tr_eval_ref r = {.q_best = 0.79, .c_best = 0.0009, .q_oracle = 0.93, .c_lo = 0.00012, .c_hi = 0.004};
    tr_point h[N(xs)];
    tr_eval_figures f;
    char err[128];
    assert_int_equal(tr_eval_figures_compute(xs, N(xs), &r, h, &f, err, sizeof err), TR_OK);
    assert_int_equal(f.hull_n, 12);
    assert_true(fabs(f.q_at_cbest - 0.799251107343024) < 1e-9);
    assert_true(fabs(f.gap - 0.06607933816445659) < 1e-9);
    assert_true(fabs(f.c_at_qbest - 0.8576582717830075) < 1e-9);
    assert_true(fabs(f.saving - 0.14234172821699254) < 1e-9);
    assert_true(fabs(f.q_max - 0.8614732131104914) < 1e-9);
    assert_true(fabs(f.c_at_qmax - 0.03484791585091477) < 1e-12);
    assert_true(fabs(f.aiq_lin - 0.8062600968029922) < 1e-9);
    assert_true(fabs(f.aiq_log - 0.7548204067117851) < 1e-9);
    /* the hull rises strictly and is concave */
    for (size_t i = 1; i < f.hull_n; i++) assert_true(h[i].cost > h[i - 1].cost && h[i].quality > h[i - 1].quality);
    for (size_t i = 2; i < f.hull_n; i++) {
        double s1 = (h[i - 1].quality - h[i - 2].quality) / (h[i - 1].cost - h[i - 2].cost);
        double s2 = (h[i].quality - h[i - 1].quality) / (h[i].cost - h[i - 1].cost);
        assert_true(s2 < s1);
    }
}

/* research/golden_eval.json (golden.py: the soft-prior router on the mmlu-pro test
 * split, 101 lambda settings; figures from eval.py).  Numbers copied, not the file. */
static const tr_point golden_pts[] = {
    {0.0010098356416464891, 0.7162227602905569},
    {0.0008848510411622276, 0.7152542372881356},
    {0.0008775433898305085, 0.7162227602905569},
    {0.0008648054237288136, 0.7181598062953995},
    {0.0008566062469733656, 0.7171912832929782},
    {0.0008508608232445521, 0.7181598062953995},
    {0.0008418971428571429, 0.7167070217917676},
    {0.0008237092493946732, 0.7157384987893463},
    {0.0008129599031476998, 0.7157384987893463},
    {0.0008063130750605326, 0.7171912832929782},
    {0.0007998273607748184, 0.7171912832929782},
    {0.0007765258111380145, 0.7167070217917676},
    {0.0007380537046004842, 0.7147699757869249},
    {0.0006951804842615011, 0.711864406779661},
    {0.0006698641162227603, 0.710411622276029},
    {0.0006335781113801453, 0.7099273607748184},
    {0.0005788858595641646, 0.7079903147699758},
    {0.0005300535108958838, 0.7026634382566586},
    {0.0005083784503631961, 0.7041162227602905},
    {0.00047762532687651335, 0.7016949152542373},
    {0.00042415012106537526, 0.7026634382566586},
    {0.0003688859079903148, 0.6968523002421307},
    {0.0003174029055690073, 0.6924939467312349},
    {0.0002707310895883777, 0.6857142857142857},
    {0.00021958106537530266, 0.6765133171912833},
    {0.00019294692493946732, 0.6721549636803874},
    {0.00016586329297820822, 0.6687651331719129},
    {0.00013859181598062956, 0.6697336561743341},
    {0.0001269064406779661, 0.6668280871670702},
    {0.00011916416464891042, 0.6663438256658596},
    {0.00011079854721549638, 0.6653753026634383},
    {0.00010232261501210654, 0.6590799031476997},
    {9.930121065375303e-05, 0.6566585956416465},
    {9.620571428571428e-05, 0.6556900726392252},
    {9.386174334140437e-05, 0.6532687651331719},
    {9.144058111380147e-05, 0.6527845036319613},
    {8.494956416464892e-05, 0.6547215496368038},
    {8.419726392251815e-05, 0.6547215496368038},
    {8.386142857142858e-05, 0.6547215496368038},
    {8.385615012106536e-05, 0.6547215496368038},
    {8.38465617433414e-05, 0.6547215496368038},
    {8.363547215496367e-05, 0.6542372881355932},
    {8.34451573849879e-05, 0.6532687651331719},
    {8.255653753026634e-05, 0.6518159806295399},
    {8.102927360774818e-05, 0.6484261501210654},
    {7.796094430992736e-05, 0.6416464891041163},
    {7.078704600484262e-05, 0.6217917675544794},
    {6.17109200968523e-05, 0.5917675544794189},
    {4.368360774818402e-05, 0.5283292978208233},
    {3.528733656174334e-05, 0.48958837772397096},
    {3.1163535108958845e-05, 0.4658595641646489},
    {2.9452978208232442e-05, 0.4518159806295399},
    {2.809583535108959e-05, 0.44552058111380144},
    {2.7596755447941892e-05, 0.44213075060532686},
    {2.7300484261501212e-05, 0.4406779661016949},
    {2.7071476997578692e-05, 0.4387409200968523},
    {2.703133171912833e-05, 0.43825665859564167},
    {2.7013365617433414e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
    {2.701457627118644e-05, 0.43825665859564167},
};
static const tr_point golden_hull[] = {
    {2.7013365617433414e-05, 0.43825665859564167},
    {2.7300484261501212e-05, 0.4406779661016949},
    {3.1163535108958845e-05, 0.4658595641646489},
    {3.528733656174334e-05, 0.48958837772397096},
    {4.368360774818402e-05, 0.5283292978208233},
    {6.17109200968523e-05, 0.5917675544794189},
    {7.078704600484262e-05, 0.6217917675544794},
    {7.796094430992736e-05, 0.6416464891041163},
    {8.38465617433414e-05, 0.6547215496368038},
    {0.00011079854721549638, 0.6653753026634383},
    {0.00013859181598062956, 0.6697336561743341},
    {0.0003174029055690073, 0.6924939467312349},
    {0.00042415012106537526, 0.7026634382566586},
    {0.0007765258111380145, 0.7167070217917676},
    {0.0007998273607748184, 0.7171912832929782},
    {0.0008508608232445521, 0.7181598062953995},
};

static void test_golden_eval_json(void **state)
{
    (void)state;
    tr_eval_ref r = {.q_best = 0.7196125907990315, .c_best = 0.001173369975786926, .q_oracle = 0.9467312348668281,
                     .c_lo = 2.7014576271186514e-05, .c_hi = 0.001173369975786926};
    tr_point h[N(golden_pts)];
    tr_eval_figures f;
    char err[128];
    assert_int_equal(N(golden_pts), 101);
    assert_int_equal(tr_eval_figures_compute(golden_pts, N(golden_pts), &r, h, &f, err, sizeof err), TR_OK);
    assert_int_equal(f.hull_n, N(golden_hull));
    for (size_t i = 0; i < f.hull_n; i++) {
        assert_true(fabs(h[i].cost - golden_hull[i].cost) < 1e-15);
        assert_true(fabs(h[i].quality - golden_hull[i].quality) < 1e-12);
    }
    assert_true(fabs(f.q_at_cbest - 0.7181598062953995) < 1e-9);
    assert_true(fabs(f.gap - -0.0063965884861406945) < 1e-9);
    assert_true(isinf(f.c_at_qbest) && f.c_at_qbest > 0); /* golden: inf */
    assert_true(isinf(f.saving) && f.saving < 0);         /* golden: -inf */
    assert_true(fabs(f.q_max - 0.7181598062953995) < 1e-9);
    assert_true(fabs(f.c_at_qmax - 0.0008508608232445521) < 1e-12);
    assert_true(fabs(f.aiq_lin - 0.6975926672103382) < 1e-9);
    assert_true(fabs(f.aiq_log - 0.6470871790931412) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hull_below_and_dominated),
        cmocka_unit_test(test_hull_duplicate_costs),
        cmocka_unit_test(test_hull_one_point),
        cmocka_unit_test(test_hull_collinear),
        cmocka_unit_test(test_nonmonotone_figures),
        cmocka_unit_test(test_never_reaches_and_below),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ece),
        cmocka_unit_test(test_best_single_and_oracle),
        cmocka_unit_test(test_crosscheck_eval_py),
        cmocka_unit_test(test_golden_eval_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
