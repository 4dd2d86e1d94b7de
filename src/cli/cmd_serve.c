/* `taskroute serve`: the HTTP routing server and OpenAI-compatible proxy.
 * Parses options, sets up the pieces in src/server/ (router slot, upstream
 * table, feedback log, metrics, the libmicrohttpd daemon), then waits for
 * signals on the main thread: SIGHUP queues a router reload, SIGTERM/SIGINT
 * stop accepting, let in-flight requests finish and exit 0.  The signals are
 * blocked in every thread the server starts (they inherit the mask) and
 * taken with sigwait, so no handler runs inside a request. */
#include <cblas.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    tr_cache_config cc;
    tr_cache_config_default(&cc, 0);
    fprintf(f,
            "usage: taskroute serve ROUTER.trm [options]\n"
            "\n"
            "HTTP routing server and OpenAI-compatible proxy.\n"
            "  POST /v1/route             {\"prompt\"|\"messages\", lambda|budget|tolerance|risk, models}\n"
            "  POST /v1/chat/completions  routed and forwarded to the model's upstream; \"model\":\n"
            "                             \"taskroute\" (the default policy), \"taskroute:quality\",\n"
            "                             \"taskroute:cheap\", \"taskroute:lambda=L\", \"taskroute:budget=USD\",\n"
            "                             \"taskroute:cascade\" (verified cascade, no streams), or a\n"
            "                             model's own name (pinned; \"fallback\": false: no other);\n"
            "                             \"cache\": false skips the answer cache\n"
            "  GET  /v1/models            the policies and models a request may name (OpenAI's list)\n"
            "  POST /v1/feedback          {request_id, model, score in [0,1]}\n"
            "  GET  /healthz, GET /metrics, POST /admin/reload {\"path\"} (admin: see --admin-key-file)\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT     address to bind; port 0 = any free port [%s:%d]\n"
            "  --threads N            worker threads; each new connection goes to the one\n"
            "                         holding the fewest [number of cores]\n"
            "  --policy SPEC          the policy of requests that name none: default (the router's\n"
            "                         own: the best single model's quality at the least cost),\n"
            "                         quality, cheap, lambda=L (quality points per USD), budget=USD,\n"
            "                         tolerance=T, risk=A, or cascade (taskroute:cascade) [default]\n"
            "  --upstreams FILE       the upstream table (docs/upstreams.md): per model base_url,\n"
            "                         key, price, time-outs, concurrency, fallbacks; enables\n"
            "                         /v1/chat/completions; reloaded with the router [none]\n"
            "  --fallback MODEL       a fallback for every model, after the router's ranking\n"
            "                         [the file's \"fallback\"]\n"
            "  --api-keys FILE        inbound keys, one a line ('#' comments): every endpoint but\n"
            "                         /healthz needs 'Authorization: Bearer KEY'; reloaded with the\n"
            "                         router [none: open to anyone who reaches the port]\n"
            "  --feedback-log DIR     where POST /v1/feedback appends feedback.jsonl, and every\n"
            "                         decision decisions.jsonl (prompt, model, task id) for\n"
            "                         `train --feedback DIR/feedback.jsonl --decisions DIR/decisions.jsonl` [off]\n"
            "  --feedback-rotate B    rotate the feedback log past B bytes [%zu]\n"
            "  --max-body BYTES       largest request body [%zu]\n"
            "  --conn-timeout S       close a connection on which nothing moves (the client\n"
            "                         sends or reads nothing) for S seconds [%u]\n"
            "  --request-timeout S    each request's headers and body must arrive within S seconds\n"
            "                         of the connection opening or of its previous answer [%u]\n"
            "  --max-conns N          open connections, all clients; past it a new connection\n"
            "                         closes the oldest one that has no request in progress,\n"
            "                         preferring one that never completed a request; in a burst\n"
            "                         none of which has started yet, 64 more are admitted, then\n"
            "                         new ones get 503 \"too many connections\" (retry) [%u]\n"
            "  --max-conns-per-client N  open connections per client address, same rule [%u]\n"
            "  --grace S              on SIGTERM wait up to S seconds for in-flight requests [%g]\n"
            "  --port-file FILE       write the bound port to FILE once listening [none]\n"
            "  --online STATE.json    online mode: Thompson sampling on per task x model posteriors\n"
            "                         re-ranks each decision, POST /v1/feedback updates them; state\n"
            "                         loaded from / saved to the file (atomic) [off]\n"
            "  --online-explore SHARE at most this share of decisions explore [%g]\n"
            "  --online-save-every N  save the state every N updates (and on reload, SIGTERM) [%lu]\n"
            "  --online-memory N      request ids remembered for feedback (fixed ring) [%zu]\n"
            "  --reload-dir DIR       POST /admin/reload {\"path\"} may name files under DIR [none:\n"
            "                         only the served router's file]\n"
            "  --reload-wait S        POST /admin/reload answers within S seconds: 200 reloaded,\n"
            "                         409 refused, or 202 still loading (GET /healthz shows it) [%g]\n"
            "  --admin-key-file FILE  admin endpoints need 'Authorization: Bearer KEY' (the file's\n"
            "                         first line, 16 characters at least) from every client; or\n"
            "                         the environment's TASKROUTE_ADMIN_KEY [none: loopback clients only]\n"
            "  --cascade FILE         the cascade's thresholds (`taskroute tune-cascade` writes it;\n"
            "                         docs/cascade.md) [tolerance 0.05, threshold 0.5, 3 steps, k 4]\n"
            "  --cache ENTRIES        semantic answer cache of whole answers, LRU [off]; each entry\n"
            "                         holds about 2 KiB beside its answer (a 256-float embedding)\n"
            "  --cache-similarity S   a hit needs cosine >= S with a stored prompt of the same\n"
            "                         policy, models and key (1: exact repeats only) [%g]\n"
            "  --cache-ttl SECONDS    entries expire after this [%g]\n"
            "  --cache-bytes B        stored answers' bytes, all entries [%zu]\n"
            "  -q                     no per-request log lines on stderr\n"
            "\n"
            "SIGHUP or POST /admin/reload re-reads ROUTER.trm, the upstream table and the keys\n"
            "on a thread of its own; a bad file is refused and the old ones keep serving.  GET /healthz answers 503 with\n"
            "a reason when routing fails.  Request bodies need a Content-Length (chunked\n"
            "bodies get 411).\n",
            TR_DEFAULT_LISTEN_HOST, TR_DEFAULT_LISTEN_PORT, TR_DEFAULT_FEEDBACK_ROTATE, TR_DEFAULT_MAX_BODY,
            TR_DEFAULT_CONN_TIMEOUT_S, TR_DEFAULT_REQUEST_TIMEOUT_S, TR_DEFAULT_MAX_CONNS,
            TR_DEFAULT_MAX_CONNS_PER_CLIENT, TR_DEFAULT_GRACE_S, op.max_explore_share, TR_DEFAULT_ONLINE_SAVE_EVERY,
            TR_DEFAULT_ONLINE_MEMORY, TR_DEFAULT_RELOAD_WAIT_S, cc.similarity, cc.ttl_s, cc.max_bytes);
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

static pthread_t main_thread;

static void forward_signal(int sig)
{
    pthread_kill(main_thread, sig);   /* async-signal-safe */
}

/* The admin key: the first line of path, or TASKROUTE_ADMIN_KEY when path
 * is NULL; NULL when neither is set.  0 ok, -1 message printed. */
static int read_admin_key(const char *path, char **key)
{
    *key = NULL;
    char line[1024];
    const char *k = NULL;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "taskroute serve: --admin-key-file %s: cannot open: %s\n", path, strerror(errno));
            return -1;
        }
        k = fgets(line, sizeof line, f);
        fclose(f);
        if (!k) line[0] = 0;
        line[strcspn(line, "\r\n")] = 0;
        k = line;
    } else {
        k = getenv("TASKROUTE_ADMIN_KEY");
        if (!k || !*k) return 0;
    }
    size_t n = strlen(k);
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) n--;
    if (n < 16) {
        fprintf(stderr, "taskroute serve: the admin key (%s) must have 16 characters at least\n",
                path ? path : "TASKROUTE_ADMIN_KEY");
        return -1;
    }
    *key = strndup(k, n);
    return *key ? 0 : -1;
}

/* One line at start: the policy of requests that name none, and what the
 * router expects of it. */
static void describe_policy(const tr_server *srv, const tr_loaded_router *L)
{
    const tr_policy *p = &srv->cfg.policy;
    if (p->kind == TR_POLICY_FIXED) {
        fprintf(stderr, "taskroute serve: default policy: %s (--policy)\n", p->name);
        return;
    }
    if (!L->has_default) return;   /* the load said why */
    const char *best = tr_router_model_name(L->r, L->est.best_model >= 0 ? (size_t)L->est.best_model : L->n_models);
    fprintf(stderr, "taskroute serve: default policy: the router's, lambda=%.4g; on its training prompts it scored "
                    "%.4f against %.4f for the best single model (%s) at %.0f%% of its cost\n",
            L->est.lambda, L->est.quality, L->est.best_quality, best ? best : "?",
            L->est.best_cost > 0 ? 100 * L->est.cost / L->est.best_cost : 0.0);
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
    /* static: a reload thread abandoned at shutdown (stuck reading its
     * file) may still reach it while the process exits */
    static tr_server srv;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.fail_mu, NULL);
    pthread_rwlock_init(&srv.keys_lock, NULL);
    tr_server_config *cfg = &srv.cfg;
    {
        char why[64];
        tr_policy_parse("default", &cfg->policy, why, sizeof why);
    }
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
    cfg->reload_wait_s = TR_DEFAULT_RELOAD_WAIT_S;
    cfg->request_timeout_s = TR_DEFAULT_REQUEST_TIMEOUT_S;
    cfg->max_conns = TR_DEFAULT_MAX_CONNS;
    cfg->max_conns_per_client = TR_DEFAULT_MAX_CONNS_PER_CLIENT;
    tr_cache_config_default(&cfg->cache, 0);
    tr_cascade_cfg_default(&cfg->cascade);
    const char *reload_dir = NULL, *admin_key_file = NULL;
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
        } else if (!strcmp(a, "--api-keys")) {
            cfg->api_keys_path = next;
        } else if (!strcmp(a, "--policy")) {
            char why[256];
            if (tr_policy_parse(next, &cfg->policy, why, sizeof why)) {
                fprintf(stderr, "taskroute serve: --policy %s\n", why);
                goto out;
            }
        } else if (!strcmp(a, "--cascade")) {
            char why[512];
            if (tr_cascade_cfg_load(next, &cfg->cascade, why, sizeof why)) {
                fprintf(stderr, "taskroute serve: --cascade %s\n", why);
                goto out;
            }
        } else if (!strcmp(a, "--cache")) {
            if (cli_parse_int("serve", a, next, 1, 1L << 24, &v)) goto out;
            cfg->cache.entries = (size_t)v;
        } else if (!strcmp(a, "--cache-similarity")) {
            if (cli_parse_double("serve", a, next, 1e-6, 1, &d)) goto out;
            cfg->cache.similarity = d;
        } else if (!strcmp(a, "--cache-ttl")) {
            if (cli_parse_double("serve", a, next, 1e-3, 1e9, &d)) goto out;
            cfg->cache.ttl_s = d;
        } else if (!strcmp(a, "--cache-bytes")) {
            if (cli_parse_int("serve", a, next, 1, 1L << 40, &v)) goto out;
            cfg->cache.max_bytes = (size_t)v;
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
        } else if (!strcmp(a, "--request-timeout")) {
            if (cli_parse_int("serve", a, next, 1, 3600, &v)) goto out;
            cfg->request_timeout_s = (unsigned)v;
        } else if (!strcmp(a, "--max-conns")) {
            if (cli_parse_int("serve", a, next, 2, 1000000, &v)) goto out;
            cfg->max_conns = (unsigned)v;
        } else if (!strcmp(a, "--max-conns-per-client")) {
            if (cli_parse_int("serve", a, next, 1, 1000000, &v)) goto out;
            cfg->max_conns_per_client = (unsigned)v;
        } else if (!strcmp(a, "--reload-dir")) {
            reload_dir = next;
        } else if (!strcmp(a, "--reload-wait")) {
            if (cli_parse_double("serve", a, next, 0, 3600, &d)) goto out;
            cfg->reload_wait_s = d;
        } else if (!strcmp(a, "--admin-key-file")) {
            admin_key_file = next;
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
    if (reload_dir) {
        /* resolved once, so the requests' paths are compared with the
         * directory the links lead to */
        cfg->reload_dir = realpath(reload_dir, NULL);
        struct stat st;
        if (!cfg->reload_dir || stat(cfg->reload_dir, &st) || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "taskroute serve: --reload-dir %s: not a directory\n", reload_dir);
            goto out;
        }
    }
    if (read_admin_key(admin_key_file, &cfg->admin_key)) goto out;
    cfg->router_real = realpath(cfg->router_path, NULL);

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
    /* Threads started before this point (OpenBLAS starts its pool when the
     * library loads) do not block them: one that takes a signal hands it to
     * the main thread's sigwait instead of dying of it. */
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
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
    if (cfg->upstreams_path && tr_upstream_client_new((uint64_t)srv.start_ms, &srv.client, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (cfg->api_keys_path) {
        tr_keyset *keys = NULL;
        if (tr_server_keys_load(&srv, &keys, err, sizeof err)) {
            cli_fail("serve", 0, "--api-keys %s", err);
            goto cleanup;
        }
        tr_server_keys_swap(&srv, keys);
    }
    if (cfg->feedback_dir &&
        (tr_feedback_log_open(cfg->feedback_dir, cfg->feedback_rotate, &srv.feedback, err, sizeof err) ||
         tr_jsonl_log_open(cfg->feedback_dir, "decisions.jsonl", cfg->feedback_rotate, 0, &srv.decisions, err,
                           sizeof err))) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    srv.slot.policy_fixed = cfg->policy.kind == TR_POLICY_FIXED;
    if (tr_router_slot_init(&srv.slot, cfg->router_path, srv.metrics, cfg->upstreams_path, cfg->fallback, err,
                            sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    slot_ok = 1;
    tr_loaded_router *L0 = atomic_load(&srv.slot.cur);
    if (srv.client && tr_upstream_client_set_table(srv.client, L0->table)) {
        fprintf(stderr, "taskroute serve: out of memory\n");
        goto cleanup;
    }
    if (!cfg->quiet) describe_policy(&srv, L0);
    if (cfg->cache.entries) {
        if (!srv.client) {
            cli_fail("serve", 0, "--cache caches proxied answers: it needs --upstreams");
            goto cleanup;
        }
        if (tr_answer_cache_new(&cfg->cache, L0->dim, &srv.cache, err, sizeof err)) {
            cli_fail("serve", 0, "--cache: %s", err);
            goto cleanup;
        }
    }
    if (tr_online_serve_init(&srv, err, sizeof err)) {
        cli_fail("serve", 0, "--online: %s", err);
        goto cleanup;
    }
    if (tr_reloader_start(&srv, &srv.reloader, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (tr_server_start(&srv, err, sizeof err)) {
        cli_fail("serve", 0, "%s", err);
        goto cleanup;
    }
    if (!cfg->quiet)
        fprintf(stderr, "taskroute serve: listening on http://%s:%d (%d threads, router %s, %zu models%s)\n",
                cfg->host, srv.port, cfg->threads, cfg->router_path, atomic_load(&srv.slot.cur)->n_models,
                srv.client ? ", proxy on" : "");
    if (cfg->port_file && write_port_file(cfg->port_file, srv.port)) {
        cli_fail("serve", 0, "%s: cannot write the port file", cfg->port_file);
        tr_server_stop(&srv);
        goto cleanup;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig)) continue;
        if (sig == SIGHUP) {
            /* the reload thread reports the outcome */
            if (!tr_reloader_submit(srv.reloader, NULL, "SIGHUP", err, sizeof err))
                fprintf(stderr, "taskroute serve: SIGHUP reload not queued: %s\n", err);
            continue;
        }
        if (!cfg->quiet) fprintf(stderr, "taskroute serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    double deadline = tr_now() + cfg->grace_s;
    tr_reloader_shutdown_begin(srv.reloader);
    tr_server_stop(&srv);
    rc = TR_EXIT_OK;
    if (tr_reloader_stop(srv.reloader, deadline)) {
        /* Blocked reading its file: left behind, with everything it may
         * touch; only what must reach the disk is saved. */
        fprintf(stderr, "taskroute serve: a reload is still blocked reading its file; exiting without it\n");
        if (tr_online_serve_save(&srv, 1, err, sizeof err))
            fprintf(stderr, "taskroute serve: online state not saved: %s\n", err);
        tr_feedback_log_close(srv.feedback);
        tr_feedback_log_close(srv.decisions);
        goto out;
    }
    srv.reloader = NULL;
cleanup:
    tr_reloader_stop(srv.reloader, tr_now() + 5);   /* idle here: it ends at once */
    tr_online_serve_fini(&srv);   /* saves: after the stop, before the router goes */
    if (slot_ok) tr_router_slot_destroy(&srv.slot);
    tr_feedback_log_close(srv.feedback);
    tr_feedback_log_close(srv.decisions);
    tr_upstream_client_free(srv.client);
    tr_answer_cache_free(srv.cache);
    tr_keyset_free(srv.keys);
    tr_metrics_free(srv.metrics);
    curl_global_cleanup();
out:
    free(cfg->router_real);
    free(cfg->reload_dir);
    free(cfg->admin_key);
    free(host);
    return rc;
}
