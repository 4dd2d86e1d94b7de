/* `taskroute serve`: the HTTP routing server and OpenAI-compatible proxy.
 * Parses options, sets up the pieces in src/server/ (router slot, upstream
 * table, feedback log, metrics, the libmicrohttpd daemon), then waits for
 * signals on the main thread: SIGHUP reloads the router, SIGTERM/SIGINT
 * stop accepting, let in-flight requests finish and exit 0.  The signals are
 * blocked in every thread (the worker threads inherit the mask) and taken
 * with sigwait, so no handler runs inside a request. */
#include <cblas.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/defaults.h"
#include "base/util.h"
#include "cli/cli.h"
#include "route/online.h"
#include "server/server.h"

static void usage(FILE *f)
{
    tr_online_params op;
    tr_online_params_default(&op);
    fprintf(f,
            "usage: taskroute serve ROUTER.trm [options]\n"
            "\n"
            "HTTP routing server and OpenAI-compatible proxy.\n"
            "  POST /v1/route             {\"prompt\"|\"messages\", lambda|budget|tolerance|risk, models}\n"
            "  POST /v1/chat/completions  routed and forwarded to the model's upstream\n"
            "  POST /v1/feedback          {request_id, model, score in [0,1]}\n"
            "  GET  /healthz, GET /metrics, POST /admin/reload (loopback clients only)\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT     address to bind; port 0 = any free port [%s:%d]\n"
            "  --threads N            worker threads; each new connection goes to the one\n"
            "                         holding the fewest [number of cores]\n"
            "  --upstreams FILE       JSON model -> upstream table; enables /v1/chat/completions [none]\n"
            "  --fallback MODEL       model tried once when an upstream fails [the file's \"fallback\"]\n"
            "  --feedback-log DIR     where POST /v1/feedback appends feedback.jsonl, and every\n"
            "                         decision decisions.jsonl (prompt, model, task id) for\n"
            "                         `train --feedback DIR/feedback.jsonl --decisions DIR/decisions.jsonl` [off]\n"
            "  --feedback-rotate B    rotate the feedback log past B bytes [%zu]\n"
            "  --max-body BYTES       largest request body [%zu]\n"
            "  --conn-timeout S       close a connection idle or stalled for S seconds [%u]\n"
            "  --grace S              on SIGTERM wait up to S seconds for in-flight requests [%g]\n"
            "  --port-file FILE       write the bound port to FILE once listening [none]\n"
            "  --online STATE.json    online mode: Thompson sampling on per task x model posteriors\n"
            "                         re-ranks each decision, POST /v1/feedback updates them; state\n"
            "                         loaded from / saved to the file (atomic) [off]\n"
            "  --online-explore SHARE at most this share of decisions explore [%g]\n"
            "  --online-save-every N  save the state every N updates (and on reload, SIGTERM) [%lu]\n"
            "  --online-memory N      request ids remembered for feedback (fixed ring) [%zu]\n"
            "  -q                     no per-request log lines on stderr\n"
            "\n"
            "SIGHUP or POST /admin/reload re-reads ROUTER.trm; a bad file is refused and the\n"
            "old router keeps serving.\n",
            TR_DEFAULT_LISTEN_HOST, TR_DEFAULT_LISTEN_PORT, TR_DEFAULT_FEEDBACK_ROTATE, TR_DEFAULT_MAX_BODY,
            TR_DEFAULT_CONN_TIMEOUT_S, TR_DEFAULT_GRACE_S, op.max_explore_share, TR_DEFAULT_ONLINE_SAVE_EVERY,
            TR_DEFAULT_ONLINE_MEMORY);
}

/* HOST:PORT, HOST may be [v6]. 0 ok, -1 message printed. */
static int parse_listen(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) {
        fprintf(stderr, "taskroute serve: --listen wants HOST:PORT, not '%s'\n", s);
        return -1;
    }
    long p;
    if (cli_parse_int("serve", "--listen port", colon + 1, 0, 65535, &p)) return -1;
    *host = strndup(s, (size_t)(colon - s));
    if (!*host) return -1;
    *port = (int)p;
    return 0;
}

static int write_port_file(const char *path, int port)
{
    cli_out o;
    if (cli_out_open(&o, path)) return -1;
    fprintf(o.f, "%d\n", port);
    return cli_out_commit(&o);
}

int cmd_serve(int argc, char **argv)
{
    tr_server srv;
    memset(&srv, 0, sizeof srv);
    tr_server_config *cfg = &srv.cfg;
    cfg->host = TR_DEFAULT_LISTEN_HOST;
    cfg->port = TR_DEFAULT_LISTEN_PORT;
    cfg->threads = tr_ncpu();
    cfg->max_body = TR_DEFAULT_MAX_BODY;
    cfg->feedback_rotate = TR_DEFAULT_FEEDBACK_ROTATE;
    cfg->conn_timeout_s = TR_DEFAULT_CONN_TIMEOUT_S;
    cfg->grace_s = TR_DEFAULT_GRACE_S;
    cfg->online_explore = -1;
    cfg->online_save_every = TR_DEFAULT_ONLINE_SAVE_EVERY;
    cfg->online_memory = TR_DEFAULT_ONLINE_MEMORY;
    char *host = NULL;
    int rc = TR_EXIT_USAGE;
    long v;
    double d;
    unsigned long long u;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(host); return TR_EXIT_OK; }
        if (!strcmp(a, "-q")) { cfg->quiet = cli_quiet = 1; continue; }
        if (a[0] == '-' && a[1] && !next) {
            fprintf(stderr, "taskroute serve: %s needs a value (see --help)\n", a);
            goto out;
        }
        if (!strcmp(a, "--listen")) {
            free(host);
            host = NULL;
            if (parse_listen(next, &host, &cfg->port)) goto out;
            cfg->host = host;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int("serve", a, next, 1, TR_MAX_WORKERS - 8, &v)) goto out;
            cfg->threads = (int)v;
        } else if (!strcmp(a, "--upstreams")) {
            cfg->upstreams_path = next;
        } else if (!strcmp(a, "--fallback")) {
            cfg->fallback = next;
        } else if (!strcmp(a, "--feedback-log")) {
            cfg->feedback_dir = next;
        } else if (!strcmp(a, "--feedback-rotate")) {
            if (cli_parse_u64("serve", a, next, &u)) goto out;
            cfg->feedback_rotate = (size_t)u;
        } else if (!strcmp(a, "--max-body")) {
            if (cli_parse_int("serve", a, next, 1, 1L << 30, &v)) goto out;
            cfg->max_body = (size_t)v;
        } else if (!strcmp(a, "--conn-timeout")) {
            if (cli_parse_int("serve", a, next, 1, 3600, &v)) goto out;
            cfg->conn_timeout_s = (unsigned)v;
        } else if (!strcmp(a, "--grace")) {
            if (cli_parse_double("serve", a, next, 0, 3600, &d)) goto out;
            cfg->grace_s = d;
        } else if (!strcmp(a, "--port-file")) {
            cfg->port_file = next;
        } else if (!strcmp(a, "--online")) {
            cfg->online_path = next;
        } else if (!strcmp(a, "--online-explore")) {
            if (cli_parse_double("serve", a, next, 0, 1, &d)) goto out;
            cfg->online_explore = d;
        } else if (!strcmp(a, "--online-save-every")) {
            if (cli_parse_int("serve", a, next, 1, 1L << 30, &v)) goto out;
            cfg->online_save_every = (unsigned long)v;
        } else if (!strcmp(a, "--online-memory")) {
            if (cli_parse_int("serve", a, next, 1, 1L << 26, &v)) goto out;
            cfg->online_memory = (size_t)v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "taskroute serve: unknown option '%s' (see --help)\n", a);
            goto out;
        } else if (!cfg->router_path) {
            cfg->router_path = a;
            continue;
        } else {
            fprintf(stderr, "taskroute serve: one router file only ('%s' is extra)\n", a);
            goto out;
        }
        i++;
    }
    if (!cfg->router_path) {
        usage(stderr);
        goto out;
    }
    if (cfg->fallback && !cfg->upstreams_path) {
        fprintf(stderr, "taskroute serve: --fallback needs --upstreams\n");
        goto out;
    }

    rc = TR_EXIT_ERR;
    /* Each worker routes on its own core: BLAS must not spawn threads of its
     * own under them. */
    openblas_set_num_threads(1);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        fprintf(stderr, "taskroute serve: libcurl failed to initialise\n");
        goto out;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    srv.start_ms = (unsigned long long)now.tv_sec * 1000ULL + (unsigned long long)now.tv_nsec / 1000000ULL;
    char err[1024];
    int slot_ok = 0;
    if (tr_metrics_new(&srv.metrics)) { fprintf(stderr, "taskroute serve: out of memory\n"); goto cleanup; }
    if (cfg->upstreams_path &&
        tr_upstreams_load(cfg->upstreams_path, cfg->fallback, &srv.ups, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (cfg->feedback_dir &&
        (tr_feedback_log_open(cfg->feedback_dir, cfg->feedback_rotate, &srv.feedback, err, sizeof err) ||
         tr_jsonl_log_open(cfg->feedback_dir, "decisions.jsonl", cfg->feedback_rotate, 0, &srv.decisions, err,
                           sizeof err))) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (tr_router_slot_init(&srv.slot, cfg->router_path, srv.metrics, srv.ups, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    slot_ok = 1;
    if (tr_online_serve_init(&srv, err, sizeof err)) {
        cli_fail("serve", 0, "--online: %s", err);
        goto cleanup;
    }
    if (tr_server_start(&srv, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (!cfg->quiet)
        fprintf(stderr, "taskroute serve: listening on http://%s:%d (%d threads, router %s, %zu models%s)\n",
                cfg->host, srv.port, cfg->threads, cfg->router_path, atomic_load(&srv.slot.cur)->n_models,
                srv.ups ? ", proxy on" : "");
    if (cfg->port_file && write_port_file(cfg->port_file, srv.port)) {
        cli_fail("serve", 0, "%s: cannot write the port file", cfg->port_file);
        tr_server_stop(&srv);
        goto cleanup;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig)) continue;
        if (sig == SIGHUP) {
            unsigned long gen = 0;
            if (tr_router_slot_reload(&srv.slot, NULL, &gen, err, sizeof err))
                fprintf(stderr, "taskroute serve: SIGHUP reload refused, still serving the old router: %s\n", err);
            else {
                if (!cfg->quiet) fprintf(stderr, "taskroute serve: SIGHUP: reloaded router generation %lu\n", gen);
                if (tr_online_serve_save(&srv, 1, err, sizeof err))
                    fprintf(stderr, "taskroute serve: online state not saved after reload: %s\n", err);
            }
            continue;
        }
        if (!cfg->quiet) fprintf(stderr, "taskroute serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    tr_server_stop(&srv);
    rc = TR_EXIT_OK;
cleanup:
    tr_online_serve_fini(&srv);   /* saves: after the stop, before the router goes */
    if (slot_ok) tr_router_slot_destroy(&srv.slot);
    tr_feedback_log_close(srv.feedback);
    tr_feedback_log_close(srv.decisions);
    tr_upstreams_free(srv.ups);
    tr_metrics_free(srv.metrics);
    curl_global_cleanup();
out:
    free(host);
    return rc;
}
