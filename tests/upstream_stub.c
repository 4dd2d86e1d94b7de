/* A stand-in for an OpenAI-style chat API, on loopback only, for the
 * server's end-to-end tests and the proxy benchmark.  Usage: upstream_stub
 * PORTFILE (binds 127.0.0.1 on a free port and writes it to PORTFILE;
 * runs until SIGTERM/SIGINT).
 *
 * What it answers depends on the "model" it receives, so one stub plays
 * every upstream a test needs:
 *   "...fail..."          HTTP 500 with an error body
 *   "...unavail..."       HTTP 503 with an error body
 *   "...hang..."          answers nothing for 20 s (the proxy must time out)
 *   "...badreq..."        HTTP 400 (must pass through unchanged)
 *   "...malformed..."     HTTP 200 with a cut-off JSON body (passed on, counted)
 *   "...garbage..."       HTTP 200 with a body that is not JSON at all
 *   "...ratelimited-N..." HTTP 429 with Retry-After: 1 for the first N
 *                         requests naming this model, then a regular answer
 *   "...ratelimited..."   (no count) HTTP 429 with Retry-After: 1, always
 *   "...switch..."        a regular answer while the switch is up, HTTP 503
 *                         while it is down (GET /stub/down, GET /stub/up)
 *   "...cut..."           streams: one chunk, then the connection is cut
 *   "...nousage..."       a regular answer without "usage"
 *   "...slow..."          waits STUB_LATENCY_MS (env, default 50) ms first
 *   "...quiz..."          labelling: the last message holds "ref=X" (a
 *                         letter); "...good..." answers "I think A... no,
 *                         the answer is X.", any other quiz model the
 *                         next letter, "(Y)"; usage 7 + 5 tokens
 *   "...judge..."         labelling's judge: "1" when the graded answer
 *                         says "the answer is", else "0"; a question
 *                         holding "judge=garbage" gets "Score: high"
 *   a self-verification   (the last message holds upstream/verify.h's instruction):
 *                         counted as "verify:MODEL"; "...vdown..." HTTP 500,
 *                         "...vjunk..." n choices saying "maybe", "...doubt..."
 *                         n choices saying "No", else n choices saying "Yes"
 *                         ("n" from the body, default 1), with usage
 *   anything else         a chat completion whose content echoes the model
 *                         and the Authorization header, with "usage" and
 *                         "stub_received": {"headers": {...}, "body": {...}}
 *                         (what the request carried); with "stream": true,
 *                         three SSE chunks 100 ms apart, a last chunk with
 *                         usage, then "data: [DONE]".
 * Every answer carries x-ratelimit-remaining-requests: 99.
 * GET /stub/count?model=NAME: how many requests named NAME, as text.
 * GET /stub/pairs: one line "COUNT MODEL HASH" per (model, last message)
 * pair seen, so a test can tell that no pair was asked twice.
 * Thread per connection, so a hanging answer blocks nobody else. */
#include <cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

typedef struct req { char *body; size_t len; } req;
typedef struct stream { char model[128]; int i, cut, usage; } stream;

static volatile sig_atomic_t stop_flag = 0;
static void on_sig(int s) { (void)s; stop_flag = 1; }

static volatile int switch_down = 0;

/* requests per model name */
#define MAX_SEEN 256
static struct { char name[128]; long n; } seen[MAX_SEEN];
static int n_seen;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

#define MAX_PAIRS 65536
static struct { unsigned long long h; char model[64]; long n; } pairs[MAX_PAIRS];
static int n_pairs;

static unsigned long long fnv(const char *s)
{
    unsigned long long h = 14695981039346656037ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void count_pair(const char *model, const char *text)
{
    unsigned long long h = fnv(text);
    pthread_mutex_lock(&seen_mu);
    int i;
    for (i = 0; i < n_pairs; i++)
        if (pairs[i].h == h && !strcmp(pairs[i].model, model)) break;
    if (i == n_pairs && n_pairs < MAX_PAIRS) {
        pairs[n_pairs].h = h;
        snprintf(pairs[n_pairs].model, sizeof pairs[n_pairs].model, "%s", model);
        pairs[n_pairs++].n = 0;
    }
    if (i < n_pairs) pairs[i].n++;
    pthread_mutex_unlock(&seen_mu);
}

static long count_model(const char *model, int add)
{
    pthread_mutex_lock(&seen_mu);
    long n = 0;
    int i;
    for (i = 0; i < n_seen; i++)
        if (!strcmp(seen[i].name, model)) break;
    if (i == n_seen && add && n_seen < MAX_SEEN) {
        snprintf(seen[n_seen].name, sizeof seen[n_seen].name, "%s", model);
        seen[n_seen++].n = 0;
    }
    if (i < n_seen) {
        seen[i].n += add;
        n = seen[i].n;
    }
    pthread_mutex_unlock(&seen_mu);
    return n;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    if (s->i > 0) usleep(100000);
    int n;
    if (s->cut && s->i == 1) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->i < 3)
        n = snprintf(buf, max, "data: {\"object\":\"chat.completion.chunk\",\"model\":\"%s\",\"choices\":[{\"index\":0,"
                     "\"delta\":{\"content\":\"part%d \"}}]}\n\n", s->model, s->i);
    else if (s->i == 3 && s->usage)
        n = snprintf(buf, max, "data: {\"object\":\"chat.completion.chunk\",\"model\":\"%s\",\"choices\":[],"
                     "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}\n\n", s->model);
    else if (s->i <= 4)
        n = snprintf(buf, max, "data: [DONE]\n\n");
    else
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->i == 3 && !s->usage) s->i++;
    s->i++;
    return n;
}

static enum MHD_Result reply_h(struct MHD_Connection *c, int status, const char *ct, const char *body,
                               const char *retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ct);
    MHD_add_response_header(r, "x-ratelimit-remaining-requests", "99");
    if (retry_after) MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ct, const char *body)
{
    return reply_h(c, status, ct, body, NULL);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    cJSON_AddStringToObject((cJSON *)cls, key, value);
    return MHD_YES;
}

/* "ratelimited-N": N, or -1 when the model has no count (always 429). */
static long rate_count(const char *model)
{
    const char *p = strstr(model, "ratelimited");
    if (!p) return -2;
    p += strlen("ratelimited");
    return *p == '-' && p[1] >= '0' && p[1] <= '9' ? atol(p + 1) : -1;
}

/* 1 when the body asks for a self-verification (upstream/verify.h). */
static int is_verification(const cJSON *j)
{
    const cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : 0;
    const cJSON *last = n ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
    const cJSON *c = cJSON_GetObjectItem(last, "content");
    return cJSON_IsString(c) && strstr(c->valuestring, "Reply with one word: Yes or No") != NULL;
}

static enum MHD_Result verification(struct MHD_Connection *c, const char *model, const cJSON *j)
{
    char name[160];
    snprintf(name, sizeof name, "verify:%s", model);
    count_model(name, 1);
    if (strstr(model, "vdown")) return reply(c, 500, "application/json", "{\"error\":{\"message\":\"stub: verifier down\"}}");
    const char *say = strstr(model, "vjunk") ? "maybe" : strstr(model, "doubt") ? "No" : "Yes";
    const cJSON *nj = cJSON_GetObjectItem(j, "n");
    int n = cJSON_IsNumber(nj) && nj->valueint >= 1 && nj->valueint <= 16 ? nj->valueint : 1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddStringToObject(o, "model", model);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    for (int i = 0; i < n; i++) {
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", i);
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", say);
        cJSON_AddStringToObject(ch, "finish_reason", "stop");
        cJSON_AddItemToArray(choices, ch);
    }
    cJSON *usage = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", 20);
    cJSON_AddNumberToObject(usage, "completion_tokens", n);
    cJSON_AddNumberToObject(usage, "total_tokens", 20 + n);
    char *s = cJSON_PrintUnformatted(o);
    enum MHD_Result ok = reply(c, 200, "application/json", s);
    free(s);
    cJSON_Delete(o);
    return ok;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls; (void)version;
    req *q = *con_cls;
    if (!q) { *con_cls = calloc(1, sizeof(req)); return MHD_YES; }
    if (*size) {
        char *p = realloc(q->body, q->len + *size + 1);
        if (!p) return MHD_NO;
        q->body = p;
        memcpy(q->body + q->len, data, *size);
        q->len += *size;
        q->body[q->len] = 0;
        *size = 0;
        return MHD_YES;
    }
    if (!strcmp(method, "GET") && !strcmp(url, "/stub/down")) { switch_down = 1; return reply(c, 200, "text/plain", "down\n"); }
    if (!strcmp(method, "GET") && !strcmp(url, "/stub/up")) { switch_down = 0; return reply(c, 200, "text/plain", "up\n"); }
    if (!strcmp(method, "GET") && !strcmp(url, "/stub/count")) {
        const char *m = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
        char out[32];
        snprintf(out, sizeof out, "%ld\n", m ? count_model(m, 0) : 0L);
        return reply(c, 200, "text/plain", out);
    }
    if (!strcmp(method, "GET") && !strcmp(url, "/stub/pairs")) {
        pthread_mutex_lock(&seen_mu);
        size_t cap = 64 + (size_t)n_pairs * 100, len = 0;
        char *out = malloc(cap);
        out[0] = 0;
        for (int i = 0; i < n_pairs; i++)
            len += (size_t)snprintf(out + len, cap - len, "%ld %s %016llx\n", pairs[i].n, pairs[i].model, pairs[i].h);
        pthread_mutex_unlock(&seen_mu);
        enum MHD_Result r = reply(c, 200, "text/plain", out);
        free(out);
        return r;
    }
    if (strcmp(method, "POST") || !strstr(url, "/chat/completions"))
        return reply(c, 404, "application/json", "{\"error\":{\"message\":\"stub: no such endpoint\"}}");
    cJSON *j = q->body ? cJSON_ParseWithLength(q->body, q->len) : NULL;
    const cJSON *m = cJSON_GetObjectItem(j, "model");
    const char *model = cJSON_IsString(m) ? m->valuestring : "";
    if (is_verification(j)) {
        enum MHD_Result vok = verification(c, model, j);
        cJSON_Delete(j);
        return vok;
    }
    long nth = count_model(model, 1);
    int streaming = cJSON_IsTrue(cJSON_GetObjectItem(j, "stream"));
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    long rl = rate_count(model);
    enum MHD_Result ok;
    /* the last message's text: what labelling asks */
    const cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *lc = cJSON_GetObjectItem(last, "content");
    const char *text = cJSON_IsString(lc) ? lc->valuestring : "";
    count_pair(model, text);
    if (strstr(model, "slow")) {
        const char *ms = getenv("STUB_LATENCY_MS");
        usleep((useconds_t)(ms ? atol(ms) : 50) * 1000);
    }
    char quiz[512] = "";
    if (strstr(model, "judge")) {
        const char *q = strstr(text, "Question:");
        const char *a = strstr(text, "Answer to grade:");
        if (q && strstr(q, "judge=garbage")) snprintf(quiz, sizeof quiz, "Score: high");
        else snprintf(quiz, sizeof quiz, "%s", a && strstr(a, "the answer is") ? "1" : "0");
    } else if (strstr(model, "quiz")) {
        const char *r = strstr(text, "ref=");
        char x = r && r[4] >= 'A' && r[4] <= 'I' ? r[4] : 'A';
        if (strstr(model, "good")) snprintf(quiz, sizeof quiz, "I think A... no, the answer is %c.", x);
        else snprintf(quiz, sizeof quiz, "(%c)", x + 1);
    }
    if (strstr(model, "fail")) {
        ok = reply(c, 500, "application/json", "{\"error\":{\"message\":\"stub failure\"}}");
    } else if (strstr(model, "unavail") || (strstr(model, "switch") && switch_down)) {
        ok = reply(c, 503, "application/json", "{\"error\":{\"message\":\"stub: overloaded\"}}");
    } else if (strstr(model, "hang")) {
        for (int i = 0; i < 200 && !stop_flag; i++) usleep(100000);
        ok = reply(c, 200, "application/json", "{\"late\":true}");
    } else if (strstr(model, "malformed")) {
        ok = reply(c, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"cut");
    } else if (strstr(model, "garbage")) {
        ok = reply(c, 200, "application/json", "<html>502 Bad Gateway (but sent as 200)</html>");
    } else if (strstr(model, "badreq")) {
        ok = reply(c, 400, "application/json", "{\"error\":{\"message\":\"stub: bad request\"}}");
    } else if (rl == -1 || (rl >= 0 && nth <= rl)) {
        ok = reply_h(c, 429, "application/json",
                     "{\"error\":{\"message\":\"stub: rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
                     "1");
    } else if (streaming) {
        stream *s = calloc(1, sizeof *s);
        snprintf(s->model, sizeof s->model, "%s", model);
        s->cut = strstr(model, "cut") != NULL;
        s->usage = !strstr(model, "nousage");
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_reader, s, free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "x-ratelimit-remaining-requests", "99");
        ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
    } else {
        char content[512];
        if (quiz[0]) snprintf(content, sizeof content, "%s", quiz);
        else snprintf(content, sizeof content, "echo model=%s auth=%s", model, auth ? auth : "none");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", "stub-1");
        cJSON_AddStringToObject(o, "object", "chat.completion");
        cJSON_AddStringToObject(o, "model", model);
        cJSON *choices = cJSON_AddArrayToObject(o, "choices");
        cJSON *ch = cJSON_CreateObject();
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", content);
        cJSON_AddStringToObject(ch, "finish_reason", "stop");
        cJSON_AddItemToArray(choices, ch);
        if (!strstr(model, "nousage")) {
            cJSON *usage = cJSON_AddObjectToObject(o, "usage");
            cJSON_AddNumberToObject(usage, "prompt_tokens", 7);
            cJSON_AddNumberToObject(usage, "completion_tokens", 5);
            cJSON_AddNumberToObject(usage, "total_tokens", 12);
        }
        cJSON *rec = cJSON_AddObjectToObject(o, "stub_received");
        cJSON *hd = cJSON_AddObjectToObject(rec, "headers");
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, hd);
        cJSON_AddItemToObject(rec, "body", j ? cJSON_Duplicate(j, 1) : cJSON_CreateNull());
        char *s = cJSON_PrintUnformatted(o);
        ok = reply(c, 200, "application/json", s);
        free(s);
        cJSON_Delete(o);
    }
    cJSON_Delete(j);
    return ok;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls; (void)c; (void)t;
    req *q = *con_cls;
    if (q) { free(q->body); free(q); }
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: upstream_stub PORTFILE\n"); return 2; }
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                                            NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                            MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    if (!d) { fprintf(stderr, "upstream_stub: cannot listen\n"); return 1; }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) return 1;
    fprintf(f, "%d\n", di->port);
    fclose(f);
    rename(tmp, argv[1]);
    while (!stop_flag) usleep(50000);
    MHD_stop_daemon(d);
    return 0;
}
