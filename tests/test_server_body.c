/* Unit tests of the server's pieces that need no network and no router:
 * request-body parsing (body_json.c), the error vocabulary (api_error.c),
 * the feedback log (feedback_log.c), the metrics text (metrics.c) and the
 * printf-free JSON writer of route answers (json_out.c).
 * The server objects live in the binary, not the library, so their sources
 * are compiled into this test directly. */
#include "testutil.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "server/api_error.c"
#include "server/body_json.c"
#include "server/feedback_log.c"
#include "server/json_out.c"
#include "server/metrics.c"

static const char *fake_models[] = {"gpt-small", "gpt-large", "claude-x"};

static int fake_find(void *ctx, const char *name)
{
    (void)ctx;
    for (int i = 0; i < 3; i++)
        if (!strcmp(fake_models[i], name)) return i;
    return -1;
}

static int parse(const char *body, int chat, tr_route_req *r, int *e, char *msg)
{
    return tr_route_req_parse(body, strlen(body), chat, 3, fake_find, NULL, r, e, msg, 256);
}

static void test_route_prompt(void **state)
{
    (void)state;
    tr_route_req r;
    int e = -1;
    char msg[256];
    assert_int_equal(parse("{\"prompt\": \"What is 2+2?\", \"lambda\": 3.5}", 0, &r, &e, msg), 0);
    assert_string_equal(r.prompt, "What is 2+2?");
    assert_int_equal(r.prompt_len, 12);
    assert_int_equal(r.from_messages, 0);
    assert_int_equal(r.opt.mode, TR_SELECT_LAMBDA);
    assert_true(r.opt.value == 3.5);
    assert_null(r.opt.allowed);
    tr_route_req_free(&r);

    assert_int_equal(parse("{\"prompt\": \"x\", \"risk\": 0.1, \"models\": [\"claude-x\", \"gpt-small\"]}",
                           0, &r, &e, msg), 0);
    assert_int_equal(r.opt.mode, TR_SELECT_RISK);
    assert_non_null(r.opt.allowed);
    assert_int_equal(r.allowed[0], 1);
    assert_int_equal(r.allowed[1], 0);
    assert_int_equal(r.allowed[2], 1);
    tr_route_req_free(&r);

    assert_int_equal(parse("{\"prompt\": \"x\", \"budget\": 0.002}", 0, &r, &e, msg), 0);
    assert_int_equal(r.opt.mode, TR_SELECT_BUDGET);
    tr_route_req_free(&r);
    assert_int_equal(parse("{\"prompt\": \"x\", \"tolerance\": 0}", 0, &r, &e, msg), 0);
    assert_int_equal(r.opt.mode, TR_SELECT_TOLERANCE);
    tr_route_req_free(&r);
}

static void test_route_not_nul_terminated(void **state)
{
    (void)state;
    /* The body ends before the garbage: a parser reading past len would fail. */
    const char buf[] = "{\"prompt\":\"abc\"}GARBAGE{{{";
    tr_route_req r;
    int e;
    char msg[256];
    assert_int_equal(tr_route_req_parse(buf, 16, 0, 3, fake_find, NULL, &r, &e, msg, sizeof msg), 0);
    assert_string_equal(r.prompt, "abc");
    tr_route_req_free(&r);
    /* Whole buffer: trailing bytes are an error. */
    assert_int_equal(tr_route_req_parse(buf, strlen(buf), 0, 3, fake_find, NULL, &r, &e, msg, sizeof msg), 1);
    assert_int_equal(e, TR_API_BAD_JSON);
    assert_non_null(strstr(msg, "trailing bytes"));
    assert_null(r.root);
}

static void test_route_messages(void **state)
{
    (void)state;
    tr_route_req r;
    int e;
    char msg[256];
    const char *body = "{\"messages\": ["
                       "{\"role\": \"system\", \"content\": \"Be terse.\"},"
                       "{\"role\": \"user\", \"content\": \"Prove it.\"},"
                       "{\"role\": \"assistant\", \"content\": \"NOT ROUTED\"},"
                       "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Part A\"},"
                       "  {\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}},"
                       "  {\"type\": \"text\", \"text\": \"Part B\"}]}]}";
    assert_int_equal(parse(body, 0, &r, &e, msg), 0);
    assert_string_equal(r.prompt, "Be terse.\nProve it.\nPart A\nPart B");
    assert_int_equal(r.prompt_len, strlen(r.prompt));
    assert_int_equal(r.from_messages, 1);
    tr_route_req_free(&r);
}

static void expect_error(const char *body, int chat, int want, const char *needle)
{
    tr_route_req r;
    int e = -1;
    char msg[256] = "";
    assert_int_equal(parse(body, chat, &r, &e, msg), 1);
    if (e != want || !strstr(msg, needle))
        fail_msg("body %s: got error %d '%s', wanted %d containing '%s'", body, e, msg, want, needle);
    assert_null(r.root);
    assert_null(r.prompt);
    assert_null(r.allowed);
}

static void test_route_errors(void **state)
{
    (void)state;
    expect_error("", 0, TR_API_BAD_JSON, "empty body");
    expect_error("{\"prompt\": ", 0, TR_API_BAD_JSON, "malformed JSON");
    expect_error("[1, 2]", 0, TR_API_BAD_JSON, "must be a JSON object");
    expect_error("{}", 0, TR_API_BAD_FIELD, "\"prompt\" (a string) or \"messages\" is required");
    expect_error("{\"prompt\": 42}", 0, TR_API_BAD_FIELD, "\"prompt\" must be a string");
    expect_error("{\"prompt\": \"  \\n \"}", 0, TR_API_EMPTY_PROMPT, "\"prompt\" is empty");
    expect_error("{\"prompt\": \"a\", \"messages\": []}", 0, TR_API_BAD_FIELD, "not both");
    expect_error("{\"messages\": []}", 0, TR_API_EMPTY_PROMPT, "\"messages\" is empty");
    expect_error("{\"messages\": \"hi\"}", 0, TR_API_BAD_FIELD, "must be an array");
    expect_error("{\"messages\": [{\"content\": \"hi\"}]}", 0, TR_API_BAD_FIELD, "messages[0] must be an object");
    expect_error("{\"messages\": [{\"role\": \"assistant\", \"content\": \"hi\"}]}", 0, TR_API_EMPTY_PROMPT,
                 "no user or system text");
    expect_error("{\"messages\": [{\"role\": \"user\", \"content\": 7}]}", 0, TR_API_BAD_FIELD,
                 "messages[0].content must be a string");
    expect_error("{\"prompt\": \"a\", \"lambda\": \"high\"}", 0, TR_API_BAD_FIELD, "\"lambda\" must be a number");
    expect_error("{\"prompt\": \"a\", \"lambda\": -1}", 0, TR_API_BAD_FIELD, "\"lambda\" must be a number in [0");
    expect_error("{\"prompt\": \"a\", \"risk\": 1.5}", 0, TR_API_BAD_FIELD, "\"risk\" must be a number in (0, 1]");
    expect_error("{\"prompt\": \"a\", \"lambda\": 1, \"budget\": 2}", 0, TR_API_BAD_FIELD,
                 "at most one of lambda, budget, tolerance, risk (got lambda and budget)");
    expect_error("{\"prompt\": \"a\", \"models\": \"gpt-small\"}", 0, TR_API_BAD_FIELD, "\"models\" must be an array");
    expect_error("{\"prompt\": \"a\", \"models\": []}", 0, TR_API_BAD_FIELD, "\"models\" is empty");
    expect_error("{\"prompt\": \"a\", \"models\": [1]}", 0, TR_API_BAD_FIELD, "\"models\"[0] must be a string");
    expect_error("{\"prompt\": \"a\", \"models\": [\"gpt-small\", \"gpt-9\"]}", 0, TR_API_UNKNOWN_MODEL,
                 "unknown model 'gpt-9' in \"models\"");
    /* chat */
    expect_error("{\"model\": \"auto\"}", 1, TR_API_BAD_FIELD, "\"messages\" is required");
    expect_error("{\"model\": 3, \"messages\": []}", 1, TR_API_BAD_FIELD, "\"model\" must be a string");
    expect_error("{\"stream\": \"yes\", \"messages\": []}", 1, TR_API_BAD_FIELD, "\"stream\" must be true or false");
    expect_error("{\"messages\": [{\"role\":\"user\",\"content\":\"q\"}], \"taskroute\": 1}", 1, TR_API_BAD_FIELD,
                 "\"taskroute\" must be an object");
    expect_error("{\"messages\": [{\"role\":\"user\",\"content\":\"q\"}], \"taskroute\": {\"models\": [\"zz\"]}}", 1,
                 TR_API_UNKNOWN_MODEL, "unknown model 'zz' in taskroute.\"models\"");
}

static void test_chat_and_upstream_body(void **state)
{
    (void)state;
    tr_route_req r;
    int e;
    char msg[256];
    const char *body = "{\"model\": \"auto\", \"stream\": true, \"temperature\": 0.5,"
                       "\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}],"
                       "\"taskroute\": {\"tolerance\": 0.05, \"models\": [\"gpt-large\"]}}";
    assert_int_equal(parse(body, 1, &r, &e, msg), 0);
    assert_int_equal(r.stream, 1);
    assert_string_equal(r.model_field, "auto");
    assert_string_equal(r.prompt, "Hello");
    assert_int_equal(r.opt.mode, TR_SELECT_TOLERANCE);
    assert_int_equal(r.allowed[1], 1);
    assert_int_equal(r.allowed[0] + r.allowed[2], 0);
    char *up = tr_route_req_upstream_body(&r, "upstream-\"big\"");
    assert_non_null(up);
    cJSON *j = cJSON_Parse(up);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "upstream-\"big\"");
    assert_null(cJSON_GetObjectItem(j, "taskroute"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
    assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.5);
    cJSON_Delete(j);
    tr_free(up);
    tr_route_req_free(&r);

    /* No "model" at all: one is added. */
    assert_int_equal(parse("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}", 1, &r, &e, msg), 0);
    assert_null(r.model_field);
    assert_int_equal(r.stream, 0);
    up = tr_route_req_upstream_body(&r, "m1");
    assert_string_equal(up, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"model\":\"m1\"}");
    tr_free(up);
    tr_route_req_free(&r);

    /* "modeL" is not "model": the upstream still gets the one we chose */
    assert_int_equal(parse("{\"modeL\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}", 1, &r, &e,
                           msg), 0);
    up = tr_route_req_upstream_body(&r, "m1");
    assert_non_null(strstr(up, "\"model\":\"m1\""));
    tr_free(up);
    tr_route_req_free(&r);

    /* a key read twice would route one request and forward another */
    static const char *const twice[] = {
        "{\"model\": \"a\", \"model\": \"b\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
        "{\"messages\": [], \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
        "{\"stream\": false, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"stream\": true}",
    };
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        assert_int_equal(parse(twice[i], 1, &r, &e, msg), 1);
        assert_int_equal(e, TR_API_BAD_JSON);
        assert_non_null(strstr(msg, "appears twice in the body"));
    }
}

static void test_route_alloc_failures(void **state)
{
    (void)state;
    const char *body = "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"},"
                       "{\"role\": \"user\", \"content\": \"b\"}], \"models\": [\"gpt-small\"]}";
    int ok = 0, oom = 0;
    for (long n = 0; n < 20; n++) {
        tr_alloc_fail_after(n);
        tr_route_req r;
        int e = -1;
        char msg[256];
        int rc = parse(body, 0, &r, &e, msg);
        long failed = tr_alloc_fail_after(-1);
        if (rc == 0) {
            ok++;
            assert_string_equal(r.prompt, "a\nb");
            tr_route_req_free(&r);
        } else {
            oom++;
            assert_true(failed > 0);
            assert_int_equal(e, TR_API_INTERNAL);
            assert_string_equal(msg, "out of memory");
        }
    }
    assert_true(ok > 0);
    assert_true(oom > 0);
}

static void test_feedback_parse(void **state)
{
    (void)state;
    tr_feedback_req f;
    int e;
    char msg[256];
    const char *ok = "{\"request_id\": \"tr-1-2\", \"model\": \"gpt-small\", \"score\": 0.75}";
    assert_int_equal(tr_feedback_req_parse(ok, strlen(ok), &f, &e, msg, sizeof msg), 0);
    assert_string_equal(f.request_id, "tr-1-2");
    assert_string_equal(f.model, "gpt-small");
    assert_true(f.score == 0.75);
    tr_feedback_req_free(&f);

    static const struct { const char *body, *needle; } bad_cases[] = {
        {"{\"model\": \"m\", \"score\": 1}", "\"request_id\" is required"},
        {"{\"request_id\": 5, \"model\": \"m\", \"score\": 1}", "\"request_id\" must be a string"},
        {"{\"request_id\": \"\", \"model\": \"m\", \"score\": 1}", "\"request_id\" must have 1 to 256 bytes"},
        {"{\"request_id\": \"r\", \"score\": 1}", "\"model\" is required"},
        {"{\"request_id\": \"r\", \"model\": \"m\"}", "\"score\" is required"},
        {"{\"request_id\": \"r\", \"model\": \"m\", \"score\": 1.01}", "\"score\" must be a number in [0, 1]"},
        {"{\"request_id\": \"r\", \"model\": \"m\", \"score\": \"0.5\"}", "\"score\" must be a number in [0, 1]"},
        {"{\"request_id\": \"r\", \"model\": \"m\", \"score\": -0.1}", "\"score\" must be a number in [0, 1]"},
        {"{\"request_id\": \"tr-\xff\xfe\", \"model\": \"m\", \"score\": 1}", "\"request_id\" must be UTF-8 (a bad byte at offset 3)"},
        {"{\"request_id\": \"r\", \"model\": \"m\xc0\xaf\", \"score\": 1}", "\"model\" must be UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        msg[0] = 0;
        assert_int_equal(tr_feedback_req_parse(bad_cases[i].body, strlen(bad_cases[i].body), &f, &e, msg,
                                               sizeof msg), 1);
        assert_int_equal(e, TR_API_BAD_FIELD);
        if (!strstr(msg, bad_cases[i].needle)) fail_msg("case %zu: '%s'", i, msg);
        assert_null(f.root);
    }
    assert_int_equal(tr_feedback_req_parse("{\"x\":", 5, &f, &e, msg, sizeof msg), 1);
    assert_int_equal(e, TR_API_BAD_JSON);
}

static void test_api_error_json(void **state)
{
    (void)state;
    char *s = tr_api_error_json(TR_API_UNKNOWN_MODEL, "unknown model 'a\"b'");
    assert_string_equal(s, "{\"error\":{\"message\":\"unknown model 'a\\\"b'\",\"type\":\"invalid_request_error\","
                           "\"code\":\"unknown_model\"}}");
    tr_free(s);
    assert_int_equal(tr_api_error_status(TR_API_TOO_LARGE), 413);
    assert_int_equal(tr_api_error_status(TR_API_UPSTREAM_TIMEOUT), 504);
    assert_int_equal(tr_api_error_status(TR_API_BAD_METHOD), 405);
    assert_string_equal(tr_api_error_code(TR_API_UPSTREAM), "upstream_error");
}

/* Read every line of a file; check each is a JSON object with the fields. */
static int count_valid_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        assert_true(l > 0 && line[l - 1] == '\n');
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "ts")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "request_id")));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "model")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "score")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "unix_ms")));
        cJSON_Delete(j);
        n++;
    }
    fclose(f);
    return n;
}

static void test_feedback_log_append_and_rotate(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_tmp("fb1"));
    char err[256];
    tr_feedback_log *log = NULL;
    /* Each line is about 110 bytes; 300 bytes holds two. */
    assert_int_equal(tr_feedback_log_open(dir, 300, &log, err, sizeof err), TR_OK);
    for (int i = 0; i < 7; i++) {
        char id[32];
        snprintf(id, sizeof id, "req-%d", i);
        assert_int_equal(tr_feedback_log_append(log, id, "gpt \"q\"\n", i / 10.0, err, sizeof err), TR_OK);
    }
    unsigned rot = tr_feedback_log_rotations(log);
    assert_int_equal(rot, 3);
    tr_feedback_log_close(log);
    char p[600];
    int total = 0;
    for (unsigned k = 1; k <= rot; k++) {
        snprintf(p, sizeof p, "%s/feedback.jsonl.%u", dir, k);
        int n = count_valid_lines(p);
        assert_int_equal(n, 2);
        total += n;
    }
    snprintf(p, sizeof p, "%s/feedback.jsonl", dir);
    total += count_valid_lines(p);
    assert_int_equal(total, 7);
    /* The first record survives with its escaping intact. */
    snprintf(p, sizeof p, "%s/feedback.jsonl.1", dir);
    FILE *f = fopen(p, "rb");
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    cJSON *j = cJSON_Parse(line);
    assert_string_equal(cJSON_GetObjectItem(j, "request_id")->valuestring, "req-0");
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "gpt \"q\"\n");
    cJSON_Delete(j);

    /* Reopening resumes the numbering instead of overwriting .1 */
    assert_int_equal(tr_feedback_log_open(dir, 300, &log, err, sizeof err), TR_OK);
    assert_int_equal(tr_feedback_log_rotations(log), 3);
    assert_int_equal(tr_feedback_log_append(log, "again", "m", 1, err, sizeof err), TR_OK);
    assert_int_equal(tr_feedback_log_append(log, "again2", "m", 1, err, sizeof err), TR_OK);
    assert_int_equal(tr_feedback_log_rotations(log), 4);
    tr_feedback_log_close(log);
}

static void test_feedback_log_bad_dir(void **state)
{
    (void)state;
    char err[256] = "";
    tr_feedback_log *log = NULL;
    const char *file = tu_write("not_a_dir", "x");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sub", file);
    assert_int_equal(tr_feedback_log_open(dir, 0, &log, err, sizeof err), TR_EIO);
    assert_null(log);
    assert_non_null(strstr(err, "cannot create the feedback directory"));
}

typedef struct fb_arg { tr_feedback_log *log; int id, n; } fb_arg;

static void *fb_worker(void *p)
{
    fb_arg *a = p;
    char err[256], rid[64];
    for (int i = 0; i < a->n; i++) {
        snprintf(rid, sizeof rid, "t%d-%d", a->id, i);
        if (tr_feedback_log_append(a->log, rid, "model", 0.5, err, sizeof err)) return (void *)1;
    }
    return NULL;
}

static void test_feedback_log_concurrent(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_tmp("fb2"));
    char err[256];
    tr_feedback_log *log = NULL;
    assert_int_equal(tr_feedback_log_open(dir, 2000, &log, err, sizeof err), TR_OK);
    int per = tu_slow_mode() ? 10 : 40;
    pthread_t th[4];
    fb_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (fb_arg){log, t, per};
        assert_int_equal(pthread_create(&th[t], NULL, fb_worker, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        void *rv;
        pthread_join(th[t], &rv);
        assert_null(rv);
    }
    unsigned rot = tr_feedback_log_rotations(log);
    tr_feedback_log_close(log);
    assert_true(rot >= 1);
    int total = 0;
    char p[600];
    for (unsigned k = 1; k <= rot; k++) {
        snprintf(p, sizeof p, "%s/feedback.jsonl.%u", dir, k);
        total += count_valid_lines(p);
    }
    snprintf(p, sizeof p, "%s/feedback.jsonl", dir);
    total += count_valid_lines(p);
    assert_int_equal(total, 4 * per);
}

static void test_metrics_format(void **state)
{
    (void)state;
    tr_metrics *m = NULL;
    assert_int_equal(tr_metrics_new(&m), TR_OK);
    int a = tr_metrics_intern(m, TR_METRICS_MODEL, "gpt-small");
    int b = tr_metrics_intern(m, TR_METRICS_MODEL, "we\"ird\\name\n");
    assert_int_equal(tr_metrics_intern(m, TR_METRICS_MODEL, "gpt-small"), a);
    assert_int_not_equal(a, b);
    int t = tr_metrics_intern(m, TR_METRICS_TASK, "math");
    tr_metrics_decision(m, a, t, 0);
    tr_metrics_decision(m, a, t, 1);
    tr_metrics_decision(m, b, t, 0);
    tr_metrics_request(m, TR_EP_ROUTE, 200, 0.00004);
    tr_metrics_request(m, TR_EP_ROUTE, 200, 0.0003);
    tr_metrics_request(m, TR_EP_ROUTE, 400, 2.0);
    tr_metrics_request(m, TR_EP_CHAT, 418, 0.1);
    tr_metrics_error(m, TR_API_BAD_JSON);
    tr_metrics_reload(m, 1);
    tr_metrics_reload(m, 0);
    tr_metrics_reload(m, 0);
    tr_metrics_set_generation(m, 2);
    tr_metrics_inflight_add(m, 1);
    char *txt;
    size_t len;
    assert_int_equal(tr_metrics_format(m, &txt, &len), TR_OK);
    assert_int_equal(strlen(txt), len);
    static const char *want[] = {
        "# TYPE taskroute_requests_total counter\n",
        "taskroute_requests_total{endpoint=\"/v1/route\",status=\"200\"} 2\n",
        "taskroute_requests_total{endpoint=\"/v1/route\",status=\"400\"} 1\n",
        "taskroute_requests_total{endpoint=\"/v1/chat/completions\",status=\"other\"} 1\n",
        "taskroute_request_duration_seconds_bucket{endpoint=\"/v1/route\",le=\"0.0001\"} 1\n",
        "taskroute_request_duration_seconds_bucket{endpoint=\"/v1/route\",le=\"0.0005\"} 2\n",
        "taskroute_request_duration_seconds_bucket{endpoint=\"/v1/route\",le=\"1\"} 2\n",
        "taskroute_request_duration_seconds_bucket{endpoint=\"/v1/route\",le=\"2.5\"} 3\n",
        "taskroute_request_duration_seconds_bucket{endpoint=\"/v1/route\",le=\"+Inf\"} 3\n",
        "taskroute_request_duration_seconds_count{endpoint=\"/v1/route\"} 3\n",
        "taskroute_request_duration_seconds_sum{endpoint=\"/v1/route\"} 2.000340\n",
        "taskroute_decisions_total{model=\"gpt-small\"} 2\n",
        "taskroute_decisions_total{model=\"we\\\"ird\\\\name\\n\"} 1\n",
        "taskroute_task_decisions_total{task=\"math\"} 3\n",
        "taskroute_ood_decisions_total 1\n",
        "taskroute_errors_total{code=\"invalid_json\"} 1\n",
        "taskroute_reloads_total{result=\"ok\"} 1\n",
        "taskroute_reloads_total{result=\"failed\"} 2\n",
        "taskroute_inflight_requests 1\n",
        "taskroute_router_generation 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(txt, want[i])) fail_msg("missing line: %s\n--- got:\n%s", want[i], txt);
    assert_null(strstr(txt, "status=\"404\""));  /* zero series are left out */
    tr_free(txt);
    tr_metrics_free(m);
}

static void test_metrics_name_overflow(void **state)
{
    (void)state;
    tr_metrics *m = NULL;
    assert_int_equal(tr_metrics_new(&m), TR_OK);
    char name[32];
    int last = -1;
    for (int i = 0; i < TR_METRICS_MAX_NAMES + 3; i++) {
        snprintf(name, sizeof name, "t%d", i);
        last = tr_metrics_intern(m, TR_METRICS_TASK, name);
    }
    assert_int_equal(last, TR_METRICS_MAX_NAMES);
    tr_metrics_decision(m, -1, last, 0);
    char *txt;
    size_t len;
    assert_int_equal(tr_metrics_format(m, &txt, &len), TR_OK);
    assert_non_null(strstr(txt, "taskroute_task_decisions_total{task=\"_other\"} 1\n"));
    tr_free(txt);
    tr_metrics_free(m);
}

typedef struct mt_arg { tr_metrics *m; int slot, n; } mt_arg;

static void *metrics_worker(void *p)
{
    mt_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        tr_metrics_request(a->m, TR_EP_ROUTE, 200, 0.001);
        tr_metrics_decision(a->m, a->slot, a->slot, 0);
    }
    return NULL;
}

static void test_metrics_concurrent(void **state)
{
    (void)state;
    tr_metrics *m = NULL;
    assert_int_equal(tr_metrics_new(&m), TR_OK);
    int s = tr_metrics_intern(m, TR_METRICS_MODEL, "m");
    assert_int_equal(tr_metrics_intern(m, TR_METRICS_TASK, "t"), s);
    int n = tu_slow_mode() ? 2000 : 50000;
    pthread_t th[4];
    mt_arg arg = {m, s, n};
    for (int t = 0; t < 4; t++) pthread_create(&th[t], NULL, metrics_worker, &arg);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    char *txt;
    size_t len;
    assert_int_equal(tr_metrics_format(m, &txt, &len), TR_OK);
    char want[128];
    snprintf(want, sizeof want, "taskroute_requests_total{endpoint=\"/v1/route\",status=\"200\"} %d\n", 4 * n);
    assert_non_null(strstr(txt, want));
    snprintf(want, sizeof want, "taskroute_decisions_total{model=\"m\"} %d\n", 4 * n);
    assert_non_null(strstr(txt, want));
    tr_free(txt);
    tr_metrics_free(m);
}

/* Deterministic mutation fuzzing: flip, drop and duplicate bytes of valid
 * bodies; the parser must answer 0 or 1 with a consistent struct, never
 * crash or read past len (ASan/valgrind runs watch that). */
static void test_parsers_survive_mutations(void **state)
{
    (void)state;
    static const char *seeds[] = {
        "{\"prompt\": \"What is 2+2?\", \"lambda\": 3.5, \"models\": [\"gpt-small\"]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}],"
        " \"taskroute\": {\"risk\": 0.2}, \"stream\": true, \"model\": \"auto\"}",
        "{\"request_id\": \"tr-1-2\", \"model\": \"gpt-small\", \"score\": 0.75}",
    };
    tr_rng rng;
    tr_rng_seed(&rng, 7);
    int rounds = tu_slow_mode() ? 300 : 3000;
    int accepted = 0;
    for (int k = 0; k < rounds; k++) {
        const char *seed = seeds[k % 3];
        size_t n = strlen(seed);
        char *buf = malloc(n * 2 + 1);
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tr_rng_below(&rng, 100);
            if (r < 3) continue;                                         /* drop */
            buf[len++] = r < 6 ? (char)tr_rng_below(&rng, 256) : seed[i]; /* flip */
            if (r == 99) buf[len++] = seed[i];                           /* duplicate */
        }
        /* Not NUL-terminated on purpose: the exact length is all we give. */
        char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        tr_route_req r;
        tr_feedback_req f;
        int e = -1;
        char msg[256];
        for (int chat = 0; chat < 2; chat++) {
            int rc = tr_route_req_parse(exact, len, chat, 3, fake_find, NULL, &r, &e, msg, sizeof msg);
            if (rc == 0) {
                accepted++;
                assert_non_null(r.prompt);
                assert_int_equal(strlen(r.prompt), r.prompt_len);
                tr_route_req_free(&r);
            } else {
                assert_int_equal(rc, 1);
                assert_true(e >= 0 && e < TR_API_ERROR_COUNT);
                assert_null(r.root);
            }
        }
        if (tr_feedback_req_parse(exact, len, &f, &e, msg, sizeof msg) == 0) {
            assert_true(f.score >= 0 && f.score <= 1);
            tr_feedback_req_free(&f);
        }
        free(exact);
        free(buf);
    }
    assert_true(accepted > 0);
}

/* tr_jout_num writes what "%.6g" writes, but for halfway cases where it
 * may round the other way: always within half a unit of the sixth digit
 * (plus float noise), always a valid JSON number; overflow latches. */
static void test_json_numbers(void **state)
{
    (void)state;
    static const double exact[] = {0.25, 1, -1, 0.1, 1e-4, 1.5e-5, 0.000123456, 123456, 1234567, 1e6, 999999.4,
                                   999999.6, 0.9999996, 6.54e-05, 0.00117, 0.7264, -3.5e-12, 1e300, 4.9e-324, 42};
    char a[64], b[64];
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        tr_jout o = {a, sizeof a, 0, 1};
        tr_jout_num(&o, exact[i]);
        snprintf(b, sizeof b, "%.6g", exact[i]);
        assert_true(o.ok);
        assert_string_equal(a, b);
    }
    tr_rng r;
    tr_rng_seed(&r, 5);
    for (int i = 0; i < 200000; i++) {
        double x = ldexp(tr_rng_uniform(&r) + 0.5, (int)tr_rng_below(&r, 200) - 100);
        if (i & 1) x = -x;
        tr_jout o = {a, sizeof a, 0, 1};
        tr_jout_num(&o, x);
        char *end = NULL;
        double y = strtod(a, &end);
        assert_true(*end == '\0');
        assert_true(a[0] == '-' || (a[0] >= '0' && a[0] <= '9'));
        double unit = pow(10, floor(log10(fabs(x))) - 5);
        assert_true(fabs(y - x) <= 0.51 * unit);
        snprintf(b, sizeof b, "%.6g", x);   /* and the very text printf writes */
        assert_string_equal(a, b);
    }
    /* the whole exponent range, subnormals included: the exponent comes
     * from the bits, or frexp below the normals */
    for (int i = 0; i < 50000; i++) {
        double x = ldexp(tr_rng_uniform(&r) + 0.5, (int)tr_rng_below(&r, 2120) - 1095);
        if (x == 0 || !isfinite(x)) continue;
        tr_jout o = {a, sizeof a, 0, 1};
        tr_jout_num(&o, x);
        snprintf(b, sizeof b, "%.6g", x);
        assert_string_equal(a, b);
    }
    tr_jout o = {a, sizeof a, 0, 1};
    tr_jout_num(&o, NAN);
    tr_jout_raw(&o, ",");
    tr_jout_num(&o, -INFINITY);
    tr_jout_raw(&o, ",");
    tr_jout_num(&o, 0.0);
    tr_jout_raw(&o, ",");
    tr_jout_num(&o, -0.0);
    assert_true(o.ok);
    assert_string_equal(a, "null,null,0,0");
    char small[8];
    tr_jout t = {small, sizeof small, 0, 1};
    tr_jout_raw(&t, "1234");
    tr_jout_num(&t, 0.123456);   /* does not fit: latches, keeps what fitted */
    tr_jout_raw(&t, "5");
    assert_false(t.ok);
    assert_string_equal(small, "1234");
}

/* Integers, literals and measured strings: the pieces a /v1/route answer
 * is made of besides its numbers. */
static void test_json_pieces(void **state)
{
    (void)state;
    char a[128];
    tr_jout o = {a, sizeof a, 0, 1};
    TR_JOUT_LIT(&o, "[");
    static const long long v[] = {0, 7, -1, 10, 4294967296LL, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        if (i) TR_JOUT_LIT(&o, ",");
        tr_jout_int(&o, v[i]);
    }
    tr_jout_put(&o, "]xyz", 1);
    assert_true(o.ok);
    assert_string_equal(a, "[0,7,-1,10,4294967296,9223372036854775807,-9223372036854775808]");
    assert_int_equal(o.len, strlen(a));
    char small[4];
    tr_jout t = {small, sizeof small, 0, 1};
    tr_jout_int(&t, 123);
    tr_jout_int(&t, 4);   /* does not fit: latches */
    assert_false(t.ok);
    assert_string_equal(small, "123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_pieces),
        cmocka_unit_test(test_route_prompt),
        cmocka_unit_test(test_route_not_nul_terminated),
        cmocka_unit_test(test_route_messages),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_chat_and_upstream_body),
        cmocka_unit_test(test_route_alloc_failures),
        cmocka_unit_test(test_parsers_survive_mutations),
        cmocka_unit_test(test_feedback_parse),
        cmocka_unit_test(test_api_error_json),
        cmocka_unit_test(test_feedback_log_append_and_rotate),
        cmocka_unit_test(test_feedback_log_bad_dir),
        cmocka_unit_test(test_feedback_log_concurrent),
        cmocka_unit_test(test_metrics_format),
        cmocka_unit_test(test_metrics_name_overflow),
        cmocka_unit_test(test_metrics_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
