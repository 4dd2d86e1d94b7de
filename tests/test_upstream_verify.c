/* The cascade's verifier (upstream/verify.c): the request body it sends,
 * the confidence read from samples and from log-probabilities, failures,
 * and one verification through a stand-in client. */
#include "testutil.h"
#include <math.h>
#include "upstream/verify.c"

/* The client stand-in: answers with the body the test sets. */
static const char *fake_body;
static long fake_status = 200;
static char last_request[4096];

int tr_upstream_client_call(tr_upstream_client *c, const tr_upstream_call *call, tr_upstream_result *res)
{
    (void)c;
    memset(res, 0, sizeof *res);
    char *b = call->make_body(call->body_ctx, "judge-up");
    snprintf(last_request, sizeof last_request, "%s", b ? b : "");
    tr_free(b);
    res->model = call->candidates[0];
    res->status = fake_status;
    res->outcome = fake_status == 200 ? TR_UPSTREAM_ANSWERED : TR_UPSTREAM_FAILED;
    if (fake_body) {
        res->body = tr_strdup(fake_body);
        res->len = strlen(fake_body);
    }
    return TR_OK;
}

void tr_upstream_result_free(tr_upstream_result *res)
{
    tr_free(res->body);
    res->body = NULL;
}

static void test_body(void **state)
{
    (void)state;
    char *b = tr_verify_body("What is 2+2?", "4", "m-up", 5);
    assert_non_null(b);
    cJSON *j = cJSON_Parse(b);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "m-up");
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 5);
    const char *content = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 0)->child->next->valuestring;
    assert_non_null(strstr(content, "What is 2+2?"));
    assert_non_null(strstr(content, TR_VERIFY_INSTRUCTION));
    cJSON_Delete(j);
    tr_free(b);
    b = tr_verify_body("q", "a", "m", 99);   /* k capped */
    assert_non_null(strstr(b, "\"n\":16"));
    tr_free(b);
}

static double conf_of(const char *body, int *rc)
{
    double c;
    int votes;
    char err[256];
    *rc = tr_verify_confidence(body, strlen(body), &c, &votes, err, sizeof err);
    return c;
}

static void test_confidence(void **state)
{
    (void)state;
    int rc;
    double c = conf_of("{\"choices\":[{\"message\":{\"content\":\"Yes.\"}},{\"message\":{\"content\":\"no\"}},"
                       "{\"message\":{\"content\":\" CORRECT\"}},{\"message\":{\"content\":\"maybe\"}}]}", &rc);
    assert_int_equal(rc, TR_OK);
    assert_true(fabs(c - 2.0 / 3) < 1e-12);   /* "maybe" does not count */
    c = conf_of("{\"choices\":[{\"message\":{\"content\":\"Yesterday\"}},{\"message\":{\"content\":\"Incorrect\"}}]}", &rc);
    assert_int_equal(rc, TR_OK);
    assert_true(c == 0);                        /* "Yesterday" is not yes */
    c = conf_of("{\"choices\":[{\"message\":{\"content\":\"Yes\"},\"logprobs\":{\"content\":[{\"token\":\"Yes\","
                "\"top_logprobs\":[{\"token\":\"Yes\",\"logprob\":-0.2231435513},{\"token\":\"No\",\"logprob\":-1.6094379124},"
                "{\"token\":\"The\",\"logprob\":-3}]}]}}]}", &rc);
    assert_int_equal(rc, TR_OK);
    assert_true(fabs(c - 0.8 / 1.0) < 1e-6);    /* 0.8 / (0.8 + 0.2) */
    conf_of("{\"choices\":[{\"message\":{\"content\":\"perhaps\"}}]}", &rc);
    assert_int_equal(rc, TR_EFORMAT);
    conf_of("{\"error\":{\"message\":\"x\"}}", &rc);
    assert_int_equal(rc, TR_EFORMAT);
    conf_of("{\"choices\":[]}", &rc);
    assert_int_equal(rc, TR_EFORMAT);
    conf_of("not json", &rc);
    assert_int_equal(rc, TR_EFORMAT);
}

static void test_run(void **state)
{
    (void)state;
    tr_upstream_call tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    tr_upstream_result res;
    double conf;
    char err[256];
    fake_body = "{\"choices\":[{\"message\":{\"content\":\"No\"}},{\"message\":{\"content\":\"Yes\"}}]}";
    fake_status = 200;
    assert_int_equal(tr_verify_run(NULL, &tmpl, 3, "the question", "the answer", 2, &res, &conf, err, sizeof err), TR_OK);
    assert_true(conf == 0.5);
    assert_int_equal(res.model, 3);
    assert_non_null(strstr(last_request, "the answer"));
    assert_non_null(strstr(last_request, "judge-up"));
    tr_upstream_result_free(&res);
    fake_status = 500;
    fake_body = "{\"error\":{\"message\":\"down\"}}";
    assert_int_not_equal(tr_verify_run(NULL, &tmpl, 3, "q", "a", 1, &res, &conf, err, sizeof err), TR_OK);
    assert_true(isnan(conf));
    tr_upstream_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
