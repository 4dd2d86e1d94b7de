/* Out-of-distribution detection (classify/ood.h): the calibration flags its
 * target share of held-out scores and no more, the score's direction and
 * its two parts, the CONF entry round-trips and a missing or malformed one
 * never flags; end to end, a router trained without one domain of the demo
 * data flags most of that domain and at most 10% of ordinary test prompts,
 * and garbage text is flagged. */
#include "testutil.h"

#include <math.h>

#include "base/util.h"
#include "classify/ood.h"
#include "data/dataset.h"

static void test_fit_rate_and_direction(void **state)
{
    (void)state;
    enum { N = 1000 };
    float e[N], k[N];
    tr_rng g;
    tr_rng_seed(&g, 3);
    for (int i = 0; i < N; i++) {
        e[i] = (float)(-6 + tr_rng_normal(&g));
        k[i] = (float)(0.8 + 0.05 * tr_rng_normal(&g));
    }
    tr_ood o;
    char err[256];
    assert_int_equal(tr_ood_fit(e, k, N, 0.05, &o, err, sizeof err), TR_OK);
    assert_true(o.calibrated && o.use_kept);
    assert_int_equal(o.n_calibration, N);
    assert_true(fabsf(o.e_center + 6) < 0.2f && fabsf(o.k_center - 0.8f) < 0.02f);
    size_t above = 0;
    for (int i = 0; i < N; i++) above += tr_ood_flag(&o, tr_ood_score(&o, e[i], k[i]));
    assert_true(above <= 50 && above >= 40);   /* the target share, ties aside */
    /* larger energy and smaller kept are more out of distribution */
    assert_true(tr_ood_score(&o, -2, 0.8f) > tr_ood_score(&o, -6, 0.8f));
    assert_true(tr_ood_score(&o, -6, 0.2f) > tr_ood_score(&o, -6, 0.8f));
    assert_true(tr_ood_flag(&o, tr_ood_score(&o, -6, 0.0f)));   /* nothing the projection knows */
    assert_true(tr_ood_flag(&o, tr_ood_score(&o, 5, 0.8f)));
    /* no kept share (a caller-supplied embedding): the energy alone */
    assert_true(tr_ood_score(&o, -6, NAN) == tr_ood_score(&o, -6, o.k_center));
    /* energy alone, and NaN energies are not held out */
    e[0] = NAN;
    assert_int_equal(tr_ood_fit(e, NULL, N, 0.1, &o, err, sizeof err), TR_OK);
    assert_false(o.use_kept);
    assert_int_equal(o.n_calibration, N - 1);
    assert_true(tr_ood_score(&o, -6, 0.0f) < o.threshold);   /* kept ignored */
    /* errors */
    assert_int_equal(tr_ood_fit(e, k, 10, 0.05, &o, err, sizeof err), TR_ETOOFEW);
    assert_non_null(strstr(err, "at least 20"));
    assert_int_equal(tr_ood_fit(e, k, N, 1.0, &o, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_ood_fit(e, k, N, 0, &o, err, sizeof err), TR_EINVAL);
}

static void test_config_roundtrip(void **state)
{
    (void)state;
    tr_ood o = {.calibrated = 1, .use_kept = 1, .e_center = -5.5f, .e_scale = 1.25f, .k_center = 0.75f,
                .k_scale = 0.125f, .threshold = 1.5f, .n_calibration = 640, .fpr = 0.05}, r;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "ood", tr_ood_config(&o));
    char *txt = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    tr_ood_from_config(txt, &r);
    cJSON_free(txt);
    assert_true(r.calibrated && r.use_kept);
    assert_true(r.e_center == o.e_center && r.e_scale == o.e_scale && r.k_center == o.k_center &&
                r.k_scale == o.k_scale && r.threshold == o.threshold);
    assert_int_equal(r.n_calibration, 640);
    /* older files and malformed entries: never calibrated */
    tr_ood_from_config("{\"format\":1,\"ood_threshold\":0.2}", &r);
    assert_false(r.calibrated);
    tr_ood_from_config("{\"ood\":{\"score\":\"energy\",\"threshold\":1,\"energy_center\":0,\"energy_scale\":0}}", &r);
    assert_false(r.calibrated);
    tr_ood_from_config("{\"ood\":{\"score\":\"cosine\",\"threshold\":1,\"energy_center\":0,\"energy_scale\":1}}", &r);
    assert_false(r.calibrated);
    tr_ood_from_config("not json", &r);
    assert_false(r.calibrated);
    tr_ood_from_config(NULL, &r);
    assert_false(r.calibrated);
    tr_ood_from_config("{\"ood\":{\"score\":\"energy\",\"threshold\":1,\"energy_center\":0,\"energy_scale\":2}}", &r);
    assert_true(r.calibrated && !r.use_kept && r.threshold == 1 && r.e_scale == 2);
}

/* The demo data's lines whose "task" is (keep 0) or is not (keep 1) label. */
static char *demo_lines(const char *label, int keep, size_t max, size_t *len)
{
    FILE *f = fopen("data/demo.jsonl", "rb");
    if (!f) return NULL;
    size_t cap = 1 << 22, n = 0, seen = 0;
    char *buf = malloc(cap), line[8192], tag[64];
    snprintf(tag, sizeof tag, "\"task\":\"%s\"", label);
    while (fgets(line, sizeof line, f) && seen++ < max) {
        if ((strstr(line, tag) == NULL) != keep) continue;
        size_t l = strlen(line);
        if (n + l + 1 > cap) buf = realloc(buf, cap *= 2);
        memcpy(buf + n, line, l);
        n += l;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void test_heldout_domain(void **state)
{
    (void)state;
    size_t max = tu_slow_mode() ? 2000 : 4000, lin, lout;
    char *in = demo_lines("code", 1, max, &lin), *out = demo_lines("code", 0, max, &lout);
    if (!in) { print_message("data/demo.jsonl missing\n"); skip(); }
    char err[1024];
    tr_dataset *din = NULL, *dout = NULL;
    assert_int_equal(tr_dataset_load_mem(in, lin, "in", NULL, &din, err, sizeof err), TR_OK);
    assert_int_equal(tr_dataset_load_mem(out, lout, "code", NULL, &dout, err, sizeof err), TR_OK);
    tr_train_options o;
    tr_train_options_default(&o);
    o.heads = "prior-soft";
    o.threads = 2;
    tr_router *r = NULL;
    assert_int_equal(tr_train(din, &o, &r, err, sizeof err), TR_OK);
    assert_false(isnan(tr_router_ood_threshold(r)));
    tr_scratch *s = NULL;
    assert_int_equal(tr_scratch_new(r, &s), TR_OK);
    tr_decision d;
    size_t n = 0, flagged = 0;
    for (size_t i = 0; i < dout->n; i++) {
        assert_int_equal(tr_route(r, dout->rec[i].prompt, dout->rec[i].prompt_len, NULL, s, &d), TR_OK);
        n++;
        flagged += d.ood;
        assert_true(d.ood == (d.ood_score > tr_router_ood_threshold(r)));
    }
    size_t nt = 0, ft = 0;
    for (size_t i = 0; i < din->n; i++) {
        const tr_record *rec = &din->rec[i];
        if (!tr_split_is_test(rec->id, strlen(rec->id))) continue;
        assert_int_equal(tr_route(r, rec->prompt, rec->prompt_len, NULL, s, &d), TR_OK);
        nt++;
        ft += d.ood;
    }
    print_message("held-out domain 'code': %zu of %zu flagged; ordinary test prompts: %zu of %zu\n", flagged, n, ft, nt);
    assert_true(n > 100 && nt > 100);
    assert_true(flagged >= 0.8 * (double)n);      /* most of the unseen domain */
    assert_true(ft <= 0.10 * (double)nt);         /* at most 10% of ordinary traffic */
    assert_true(ft > 0);                          /* calibrated, not blind: about 5% */
    static const char *junk[] = {"zzqx vbnm qwrt plokij", "\xe3\x81\x81\xe3\x82\x94\xe3\x83\xb8\xe3\x83\x85"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tr_route(r, junk[k], strlen(junk[k]), NULL, s, &d), TR_OK);
        assert_true(d.ood);
    }
    tr_scratch_free(s);
    tr_router_close(r);
    tr_dataset_free(din);
    tr_dataset_free(dout);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_rate_and_direction),
        cmocka_unit_test(test_config_roundtrip),
        cmocka_unit_test(test_heldout_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
