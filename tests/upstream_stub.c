/* A stand-in for an OpenAI-style chat API, on loopback only, for
 * tests/e2e_server.sh.  Usage: upstream_stub PORTFILE  (binds 127.0.0.1 on a
 * free port and writes it to PORTFILE; runs until SIGTERM/SIGINT).
 *
 * What it answers depends on the "model" it receives, so one stub plays
 * every upstream the test needs:
 *   "...fail..."        HTTP 500 with an error body
 *   "...hang..."        answers nothing for 20 s (the proxy must time out)
 *   "...badreq..."      HTTP 400 (must pass through unchanged)
 *   "...malformed..."   HTTP 200 with a cut-off JSON body (passed on, counted)
 *   anything else       a chat completion whose content echoes the model and
 *                       the Authorization header; with "stream": true, three
 *                       SSE chunks 100 ms apart, then "data: [DONE]".
 * Thread per connection, so a hanging answer blocks nobody else. */
#include <cJSON.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

typedef struct req { char *body; size_t len; } req;
typedef struct stream { char model[128]; int i; } stream;

static volatile sig_atomic_t stop_flag = 0;
static void on_sig(int s) { (void)s; stop_flag = 1; }

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    if (s->i > 0) usleep(100000);
    int n;
    if (s->i < 3)
        n = snprintf(buf, max, "data: {\"object\":\"chat.completion.chunk\",\"model\":\"%s\",\"choices\":[{\"index\":0,"
                     "\"delta\":{\"content\":\"part%d \"}}]}\n\n", s->model, s->i);
    else if (s->i == 3)
        n = snprintf(buf, max, "data: [DONE]\n\n");
    else
        return MHD_CONTENT_READER_END_OF_STREAM;
    s->i++;
    return n;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ct, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ct);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
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
    if (strcmp(method, "POST") || !strstr(url, "/chat/completions"))
        return reply(c, 404, "application/json", "{\"error\":{\"message\":\"stub: no such endpoint\"}}");
    cJSON *j = q->body ? cJSON_ParseWithLength(q->body, q->len) : NULL;
    const cJSON *m = cJSON_GetObjectItem(j, "model");
    const char *model = cJSON_IsString(m) ? m->valuestring : "";
    int streaming = cJSON_IsTrue(cJSON_GetObjectItem(j, "stream"));
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    enum MHD_Result ok;
    if (strstr(model, "fail")) {
        ok = reply(c, 500, "application/json", "{\"error\":{\"message\":\"stub failure\"}}");
    } else if (strstr(model, "hang")) {
        for (int i = 0; i < 200 && !stop_flag; i++) usleep(100000);
        ok = reply(c, 200, "application/json", "{\"late\":true}");
    } else if (strstr(model, "malformed")) {
        ok = reply(c, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"cut");
    } else if (strstr(model, "badreq")) {
        ok = reply(c, 400, "application/json", "{\"error\":{\"message\":\"stub: bad request\"}}");
    } else if (streaming) {
        stream *s = calloc(1, sizeof *s);
        snprintf(s->model, sizeof s->model, "%s", model);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_reader, s, free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
    } else {
        char content[512];
        snprintf(content, sizeof content, "echo model=%s auth=%s", model, auth ? auth : "none");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", "stub-1");
        cJSON_AddStringToObject(o, "object", "chat.completion");
        cJSON_AddStringToObject(o, "model", model);
        cJSON *choices = cJSON_AddArrayToObject(o, "choices");
        cJSON *ch = cJSON_CreateObject();
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", content);
        cJSON_AddItemToArray(choices, ch);
        cJSON *usage = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", 7);
        cJSON_AddNumberToObject(usage, "completion_tokens", 5);
        cJSON_AddNumberToObject(usage, "total_tokens", 12);
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
