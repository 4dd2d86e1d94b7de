/* The labelling pool (label_run.h).
 *
 * Dispatch: one queue of (item, model) pairs in labelling order; a worker
 * takes the first pair whose model has a free slot (the table's
 * max_concurrency; the judge's calls take slots of the judge's model too),
 * so a slow or limited upstream never holds up the others.  The spend
 * limit is checked at dispatch: a call starts only when what has been
 * spent, what the calls in flight may cost and this call's estimate stay
 * within it; calls in flight always finish and are recorded.
 *
 * With --verify each answer is then shown to the verifier (the model
 * itself, or --verifier) through upstream/verify.h, the serving cascade's
 * one verification, and its confidence goes into the record's "verify".
 *
 * Crash safety: every answer, verification and judge or scorer verdict is written
 * to the journal and flushed (fsync'd every 64 lines and at the end) as it
 * comes back, before the output record that uses it, so a run killed at
 * any point loses at most the calls in flight.  Records are appended to
 * the output whole, one line each, flushed. */
#include "cli/label_run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "base/json.h"
#include "base/util.h"
#include "cli/cli.h"
#include "embed/embedder.h"
#include "label/journal.h"
#include "label/judge.h"
#include "router/router.h"
#include "upstream/answer.h"
#include "upstream/verify.h"

#define SYNC_EVERY 64

volatile sig_atomic_t label_interrupted = 0;

long label_tokens(const label_run *L, const char *text)
{
    size_t n = strlen(text);
    if (L->router && L->router->emb) {
        long k = tr_embedder_piece_count(L->router->emb, text, n);
        if (k >= 0) return k;
    }
    return (long)((n + 3) / 4);
}

/* The table entry that verifies candidate m's answers. */
static int verifier_of(const label_run *L, size_t m)
{
    return L->verifier_entry >= 0 ? L->verifier_entry : L->model_entry[m];
}

/* Tokens of a verification request beyond the prompt and the answer: the
 * markers and the instruction (verify.c's template). */
#define VERIFY_OVERHEAD_TOKENS 40

double label_estimate(const label_run *L, size_t i, size_t m)
{
    const tr_upstream *u = &L->table->u[L->model_entry[m]];
    double in = (double)label_tokens(L, L->items[i].prompt) + 8;   /* the chat template's few tokens */
    double out = (double)(L->max_tokens > 0 ? L->max_tokens : L->default_out_tokens);
    double usd = (in * u->price_in + out * u->price_out) / 1e6;
    if (L->judge_entry >= 0) {
        const tr_upstream *j = &L->table->u[L->judge_entry];
        /* the judge reads the prompt, the answer, the reference and its instructions; it replies briefly */
        double jin = in + out + 120 + (L->items[i].reference ? (double)label_tokens(L, L->items[i].reference) : 0);
        usd += (jin * j->price_in + 4 * j->price_out) / 1e6;
    }
    if (L->verify) {
        /* one request reads the prompt and the answer once; k samples of at most 4 tokens each */
        const tr_upstream *v = &L->table->u[verifier_of(L, m)];
        double vin = in + out + VERIFY_OVERHEAD_TOKENS;
        usd += (vin * v->price_in + 4.0 * L->verify_k * v->price_out) / 1e6;
    }
    return usd;
}

/* ------------------------------------------------------------ journal */

static int journal_put(label_run *L, const tr_journal_entry *e)
{
    size_t len;
    char *line = tr_journal_format(e, &len);
    if (!line) return -1;
    pthread_mutex_lock(&L->io_mu);
    int rc = fwrite(line, 1, len, L->journal) == len && !fflush(L->journal) ? 0 : -1;
    if (!rc && ++L->journal_unsynced >= SYNC_EVERY) {
        fsync(fileno(L->journal));
        L->journal_unsynced = 0;
    }
    pthread_mutex_unlock(&L->io_mu);
    tr_free(line);
    return rc;
}

/* ------------------------------------------------------------- records */

int label_write_record(label_run *L, size_t i)
{
    const tr_label_item *it = &L->items[i];
    cJSON *o = cJSON_CreateObject(), *sc, *co, *ans = NULL, *est = NULL, *jc = NULL, *vf = NULL, *vc = NULL;
    if (!o) return -1;
    cJSON_AddStringToObject(o, "id", it->id);
    cJSON_AddStringToObject(o, "prompt", it->prompt);
    if (it->task) cJSON_AddStringToObject(o, "task", it->task);
    sc = cJSON_AddObjectToObject(o, "scores");
    co = cJSON_AddObjectToObject(o, "costs");
    for (size_t m = 0; m < L->n_models; m++) {
        const label_pair *p = &L->pairs[i * L->n_models + m];
        if (p->state != PAIR_ANSWERED) continue;
        if (!isnan(p->score)) cJSON_AddItemToObject(sc, L->models[m], cJSON_CreateNumber(p->score));
        cJSON_AddItemToObject(co, L->models[m], cJSON_CreateNumber(p->usd));
        if (L->keep_answers) {
            if (!ans) ans = cJSON_AddObjectToObject(o, "answers");
            cJSON_AddStringToObject(ans, L->models[m], p->answer ? p->answer : "");
        }
        if (p->estimated) {
            if (!est) est = cJSON_AddObjectToObject(o, "cost_estimated");
            cJSON_AddTrueToObject(est, L->models[m]);
        }
        if (!isnan(p->judge_usd)) {
            if (!jc) jc = cJSON_AddObjectToObject(o, "judge_costs");
            cJSON_AddItemToObject(jc, L->models[m], cJSON_CreateNumber(p->judge_usd));
        }
        /* tune-cascade reads "verify"; a failed verification is an absent confidence */
        if (!isnan(p->conf)) {
            if (!vf) vf = cJSON_AddObjectToObject(o, "verify");
            cJSON_AddItemToObject(vf, L->models[m], cJSON_CreateNumber(p->conf));
        }
        if (!isnan(p->verify_usd)) {
            if (!vc) vc = cJSON_AddObjectToObject(o, "verify_costs");
            cJSON_AddItemToObject(vc, L->models[m], cJSON_CreateNumber(p->verify_usd));
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return -1;
    size_t n = strlen(s);
    /* one write of the whole line: a kill leaves a whole record or a torn last line */
    s[n] = '\n';
    int rc = fwrite(s, 1, n + 1, L->out) == n + 1 && !fflush(L->out) ? 0 : -1;
    cJSON_free(s);
    if (!rc) {
        L->written[i] = 1;
        L->records_written++;
    }
    return rc;
}

/* ------------------------------------------------------------- scorer */

int label_scorer_start(label_run *L)
{
    int to[2], from[2];
    if (pipe(to)) goto fail;
    if (pipe(from)) { close(to[0]); close(to[1]); goto fail; }
    pid_t pid = fork();
    if (pid < 0) { close(to[0]); close(to[1]); close(from[0]); close(from[1]); goto fail; }
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]); close(to[1]); close(from[0]); close(from[1]);
        execl("/bin/sh", "sh", "-c", L->scorer_cmd, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    L->scorer_pid = pid;
    L->scorer_in = fdopen(to[1], "w");
    L->scorer_out = fdopen(from[0], "r");
    if (!L->scorer_in || !L->scorer_out) goto fail;
    return 0;
fail:
    snprintf(L->fatal_msg, sizeof L->fatal_msg, "cannot start the scorer command: %s", strerror(errno));
    return -1;
}

static void scorer_reap(label_run *L, char *why, size_t whylen)
{
    int st = 0;
    if (L->scorer_pid > 0 && waitpid(L->scorer_pid, &st, 0) == L->scorer_pid) {
        if (WIFEXITED(st)) snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st)) snprintf(why, whylen, "was killed by signal %d", WTERMSIG(st));
        L->scorer_pid = 0;
    }
}

void label_scorer_stop(label_run *L)
{
    char why[64];
    if (L->scorer_in) fclose(L->scorer_in);
    if (L->scorer_out) fclose(L->scorer_out);
    L->scorer_in = L->scorer_out = NULL;
    scorer_reap(L, why, sizeof why);
}

/* One verdict from the scorer: 0 and *score (NaN for "null"), or -1 with
 * fatal_msg (the process is gone or broke the protocol). */
static int scorer_ask(label_run *L, const tr_label_item *it, const char *answer, double *score)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", it->prompt);
    cJSON_AddStringToObject(o, "answer", answer);
    if (it->reference) cJSON_AddStringToObject(o, "reference", it->reference);
    else cJSON_AddNullToObject(o, "reference");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) { snprintf(L->fatal_msg, sizeof L->fatal_msg, "out of memory"); return -1; }
    pthread_mutex_lock(&L->scorer_mu);
    int rc = -1;
    char *line = NULL;
    size_t cap = 0;
    char why[64] = "closed its output";
    if (L->scorer_dead) goto out;   /* another worker found it gone and said why */
    if (!L->scorer_in || fprintf(L->scorer_in, "%s\n", s) < 0 || fflush(L->scorer_in)) goto dead;
    ssize_t n = getline(&line, &cap, L->scorer_out);
    if (n <= 0) goto dead;
    L->scorer_lines++;
    char err[128];
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    line[n] = 0;
    if (!strcmp(line, "null")) { *score = NAN; rc = 0; }
    else if (tr_judge_parse_score(line, (size_t)n, score, err, sizeof err)) {
        snprintf(L->fatal_msg, sizeof L->fatal_msg, "the scorer command's line %lu: %s (expected a number in [0, 1] or "
                 "null)", L->scorer_lines, err);
    } else {
        rc = 0;
    }
    goto out;
dead:
    L->scorer_dead = 1;
    if (L->scorer_in) { fclose(L->scorer_in); L->scorer_in = NULL; }
    scorer_reap(L, why, sizeof why);
    snprintf(L->fatal_msg, sizeof L->fatal_msg, "the scorer command '%.300s' %s after %lu scores; every answer so far "
             "is kept in %.300s: fix the command and run the same command line again to resume", L->scorer_cmd, why,
             L->scorer_lines, L->journal_path);
out:
    pthread_mutex_unlock(&L->scorer_mu);
    free(line);
    cJSON_free(s);
    return rc;
}

/* -------------------------------------------------------------- calls */

typedef struct body_ctx { const char *messages; const label_run *L; } body_ctx;

static char *make_body(void *ctx, const char *upstream_model)
{
    const body_ctx *b = ctx;
    char *q = tr_json_quote(upstream_model);
    if (!q) return NULL;
    char extra[96] = "";
    size_t el = 0;
    if (b->L->max_tokens > 0) el += (size_t)snprintf(extra + el, sizeof extra - el, ",\"max_tokens\":%ld", b->L->max_tokens);
    if (!isnan(b->L->temperature)) snprintf(extra + el, sizeof extra - el, ",\"temperature\":%.17g", b->L->temperature);
    size_t n = strlen(b->messages) + strlen(q) + strlen(extra) + 32;
    char *s = tr_malloc(n);
    if (s) snprintf(s, n, "{\"model\":%s,\"messages\":%s%s}", q, b->messages, extra);
    tr_free(q);
    return s;
}

/* The messages array of a lone user message. */
static char *user_messages(const char *text)
{
    char *q = tr_json_quote(text);
    if (!q) return NULL;
    size_t n = strlen(q) + 40;
    char *s = tr_malloc(n);
    if (s) snprintf(s, n, "[{\"role\":\"user\",\"content\":%s}]", q);
    tr_free(q);
    return s;
}

/* Call table entry e with messages; 0 and *content (owned) / tokens / usd
 * (NaN without usage), or -1 with why. */
static int call_model(label_run *L, int e, const char *messages, char **content, long long *pt, long long *ct,
                      double *usd, char *why, size_t whylen)
{
    body_ctx b = {messages, L};
    tr_upstream_call call;
    memset(&call, 0, sizeof call);
    call.table = L->table;
    call.candidates = &e;
    call.n_candidates = 1;    /* that model's answer, never a fallback's */
    call.make_body = make_body;
    call.body_ctx = &b;
    tr_upstream_result res;
    int rc = tr_upstream_client_call(L->client, &call, &res);
    int ok = -1;
    if (rc) {
        snprintf(why, whylen, "%s", res.message[0] ? res.message : tr_strerror(rc));
    } else if (res.outcome != TR_UPSTREAM_ANSWERED) {
        snprintf(why, whylen, "%s", res.message);
    } else if (res.status < 200 || res.status >= 300) {
        snprintf(why, whylen, "HTTP %ld: %.200s", res.status, res.body ? res.body : "");
    } else if (res.read_kind != TR_READ_OK) {
        snprintf(why, whylen, "%s", res.read_kind == TR_READ_ERROR_OBJECT ? "the provider answered with an error object"
                                                                          : res.read_error);
    } else {
        tr_upstream_answer a;
        char err[256];
        if (tr_upstream_answer_parse(res.body ? res.body : "", res.len, &a, err, sizeof err)) {
            snprintf(why, whylen, "%s", err);
        } else {
            *content = tr_strdup(a.content ? a.content : "");
            *pt = res.prompt_tokens;
            *ct = res.completion_tokens;
            *usd = res.usd;
            ok = *content ? 0 : -1;
            if (ok) snprintf(why, whylen, "out of memory");
            tr_upstream_answer_free(&a);
        }
    }
    tr_upstream_result_free(&res);
    return ok;
}

/* Cost of a call: the provider's usage, else tokens estimated (flagged). */
static double cost_of(label_run *L, int e, const char *in_text, const char *out_text, long long pt, long long ct,
                      double usd, int *estimated)
{
    *estimated = 0;
    if (!isnan(usd)) return usd;
    const tr_upstream *u = &L->table->u[e];
    double in = pt >= 0 ? (double)pt : (double)label_tokens(L, in_text) + 8;
    double out = ct >= 0 ? (double)ct : (double)label_tokens(L, out_text);
    *estimated = pt < 0 || ct < 0;
    return (in * u->price_in + out * u->price_out) / 1e6;
}

static void fatal(label_run *L, const char *fmt, const char *a)
{
    pthread_mutex_lock(&L->mu);
    if (!L->fatal) {
        L->fatal = 1;
        snprintf(L->fatal_msg, sizeof L->fatal_msg, fmt, a);
    }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

/* Ask pair k's verifier about its answer and journal what a paid reply
 * said (a confidence, or none).  A call that failed is not journaled, so a
 * re-run asks again; either way the pair counts as verified for this run
 * and its confidence stays absent.  Returns the USD it spent. */
static double verify_pair(label_run *L, size_t k)
{
    size_t i = k / L->n_models, m = k % L->n_models;
    const tr_label_item *it = &L->items[i];
    label_pair *p = &L->pairs[k];
    label_model_stats *ms = &L->stats[m];
    int v = verifier_of(L, m);
    tr_upstream_call tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    tmpl.table = L->table;
    tr_upstream_result res;
    memset(&res, 0, sizeof res);
    double conf = NAN, cost = NAN;
    char why[512];
    int rc = tr_verify_run(L->client, &tmpl, v, it->prompt, p->answer ? p->answer : "", L->verify_k, &res, &conf,
                           why, sizeof why);
    int paid = res.outcome == TR_UPSTREAM_ANSWERED && res.status >= 200 && res.status < 300;
    if (paid) {
        const tr_upstream *u = &L->table->u[v];
        double in = res.prompt_tokens >= 0 ? (double)res.prompt_tokens
                                           : (double)(label_tokens(L, it->prompt) + label_tokens(L, p->answer ? p->answer : "") +
                                                      VERIFY_OVERHEAD_TOKENS);
        double out = res.completion_tokens >= 0 ? (double)res.completion_tokens : (double)L->verify_k;
        cost = !isnan(res.usd) ? res.usd : (in * u->price_in + out * u->price_out) / 1e6;
    }
    tr_upstream_result_free(&res);
    if (rc) conf = NAN;
    if (paid) {
        tr_journal_entry je = {.kind = TR_JOURNAL_VERIFY, .id = it->id, .model = L->models[m],
                               .verifier = L->table->u[v].name, .k = L->verify_k, .confidence = conf, .usd = cost};
        if (journal_put(L, &je)) { fatal(L, "cannot write the journal %s", L->journal_path); return cost; }
    }
    pthread_mutex_lock(&L->mu);
    p->verified = 1;
    p->conf = conf;
    p->verify_usd = cost;
    if (!isnan(cost)) ms->verify_usd += cost;
    if (isnan(conf)) ms->verify_failed++;
    else ms->verified++;
    int warn = rc && ms->warned_fail++ < 3;
    pthread_mutex_unlock(&L->mu);
    if (warn && !cli_quiet) {
        cli_progress_done();
        fprintf(stderr, "taskroute label: verifier %s on %s's answer to '", L->table->u[v].name, L->models[m]);
        cli_fputs_escaped(it->id, stderr);
        fputs("': ", stderr);
        cli_fputs_escaped(why, stderr);
        fputc('\n', stderr);
    }
    return isnan(cost) ? 0 : cost;
}

/* Answer (unless answered), verify (with --verify) and score pair k.
 * Returns the USD it spent. */
static double do_pair(label_run *L, size_t k)
{
    size_t i = k / L->n_models, m = k % L->n_models;
    tr_label_item *it = &L->items[i];
    label_pair *p = &L->pairs[k];
    label_model_stats *ms = &L->stats[m];
    int e = L->model_entry[m];
    double spent = 0;
    char why[700];
    if (p->state == PAIR_PENDING) {
        char *msgs = it->messages ? NULL : user_messages(it->prompt);
        char *content = NULL;
        long long pt = -1, ct = -1;
        double usd = NAN;
        if (!it->messages && !msgs) { fatal(L, "%s", "out of memory"); return 0; }
        int rc = call_model(L, e, it->messages ? it->messages : msgs, &content, &pt, &ct, &usd, why, sizeof why);
        tr_free(msgs);
        if (rc) {
            pthread_mutex_lock(&L->mu);
            p->state = PAIR_FAILED;
            ms->failed++;
            int warn = ms->warned_fail++ < 3;
            pthread_mutex_unlock(&L->mu);
            if (warn && !cli_quiet) {
                cli_progress_done();
                fprintf(stderr, "taskroute label: %s: prompt '", L->models[m]);
                cli_fputs_escaped(it->id, stderr);
                fputs("': ", stderr);
                cli_fputs_escaped(why, stderr);
                fputc('\n', stderr);
            }
            return 0;
        }
        int est;
        double cost = cost_of(L, e, it->prompt, content, pt, ct, usd, &est);
        tr_journal_entry je = {.kind = TR_JOURNAL_ANSWER, .id = it->id, .model = L->models[m], .answer = content,
                               .prompt_tokens = pt, .completion_tokens = ct, .usd = cost, .estimated = est};
        if (journal_put(L, &je)) { tr_free(content); fatal(L, "cannot write the journal %s", L->journal_path); return cost; }
        spent += cost;
        pthread_mutex_lock(&L->mu);
        p->answer = content;
        p->usd = cost;
        p->estimated = est;
        p->state = PAIR_ANSWERED;
        ms->answered++;
        ms->usd += cost;
        if (est) ms->estimated++;
        int warn = est && !ms->warned_usage++;
        pthread_mutex_unlock(&L->mu);
        if (warn && !cli_quiet) {
            cli_progress_done();
            fprintf(stderr, "taskroute label: warning: model '%s' answered without usage: its costs are estimated "
                    "from %s and marked in cost_estimated\n", L->models[m],
                    L->router ? "the router's tokenizer" : "the bytes (4 per token; --router uses its tokenizer)");
        }
    }
    if (L->verify && p->state == PAIR_ANSWERED && !p->verified) {
        spent += verify_pair(L, k);
        if (L->fatal) return spent;
    }
    /* score */
    if (p->state != PAIR_ANSWERED || p->scored) return spent;
    double score = NAN, jusd = NAN;
    const char *by = NULL;
    if (L->judge_entry >= 0) {
        by = "judge";
        char *jp = tr_judge_prompt(it->prompt, p->answer, it->reference);
        char *msgs = jp ? user_messages(jp) : NULL;
        char *content = NULL;
        long long pt = -1, ct = -1;
        double usd = NAN;
        if (!msgs) { tr_free(jp); fatal(L, "%s", "out of memory"); return spent; }
        if (call_model(L, L->judge_entry, msgs, &content, &pt, &ct, &usd, why, sizeof why)) {
            /* the judge failed to answer: no verdict journaled, so a re-run asks again */
            tr_free(jp);
            tr_free(msgs);
            pthread_mutex_lock(&L->mu);
            int warn = ms->warned_fail++ < 3;
            pthread_mutex_unlock(&L->mu);
            if (warn && !cli_quiet) {
                cli_progress_done();
                fprintf(stderr, "taskroute label: judge %s: ", L->judge_name);
                cli_fputs_escaped(why, stderr);
                fputc('\n', stderr);
            }
            return spent;
        }
        int est;
        jusd = cost_of(L, L->judge_entry, jp, content, pt, ct, usd, &est);
        spent += jusd;
        char err[128];
        if (tr_judge_parse_score(content, strlen(content), &score, err, sizeof err)) {
            score = NAN;
            pthread_mutex_lock(&L->mu);
            ms->judge_malformed++;
            pthread_mutex_unlock(&L->mu);
        }
        tr_free(jp);
        tr_free(msgs);
        tr_free(content);
    } else if (L->scorer_cmd) {
        by = "scorer";
        if (scorer_ask(L, it, p->answer, &score)) {
            pthread_mutex_lock(&L->mu);
            L->fatal = 1;
            pthread_cond_broadcast(&L->cv);
            pthread_mutex_unlock(&L->mu);
            return spent;
        }
    }
    if (by) {
        tr_journal_entry je = {.kind = TR_JOURNAL_SCORE, .id = it->id, .model = L->models[m], .score = score,
                               .usd = jusd};
        snprintf(je.by, sizeof je.by, "%s", by);
        if (journal_put(L, &je)) { fatal(L, "cannot write the journal %s", L->journal_path); return spent; }
    } else {
        int r = tr_match(L->match, p->answer, it->reference, L->tolerance);
        score = !it->reference ? NAN : r < 0 ? NAN : (double)r;
    }
    pthread_mutex_lock(&L->mu);
    p->scored = 1;
    p->score = score;
    p->judge_usd = jusd;
    if (!isnan(jusd)) ms->judge_usd += jusd;
    if (!isnan(score)) { ms->scored++; ms->score_sum += score; }
    pthread_mutex_unlock(&L->mu);
    return spent;
}

/* A pair is settled when it failed, or it is answered, scored and (with
 * --verify) verified. */
static int settled(const label_run *L, const label_pair *p)
{
    return p->state == PAIR_FAILED || (p->state == PAIR_ANSWERED && p->scored && (!L->verify || p->verified));
}

/* The table entries whose slots pair c's calls take (at most 3, distinct):
 * its model when it needs an answer, the judge, its verifier. */
static int slots_of(const label_run *L, size_t c, int *e)
{
    size_t m = c % L->n_models;
    const label_pair *p = &L->pairs[c];
    int n = 0, cand[3] = {p->state == PAIR_PENDING ? L->model_entry[m] : -1, L->judge_entry,
                          L->verify && !p->verified ? verifier_of(L, m) : -1};
    for (int a = 0; a < 3; a++) {
        int dup = cand[a] < 0;
        for (int b = 0; b < n && !dup; b++) dup = e[b] == cand[a];
        if (!dup) e[n++] = cand[a];
    }
    return n;
}

/* Take the next pair whose model (and judge) has a free slot.  Caller holds
 * mu.  1 and *k set, 0 none now (wait), -1 none left. */
static int take(label_run *L, size_t *k, double *est)
{
    while (L->q_next < L->n_queue && L->queue[L->q_next] == (size_t)-1) L->q_next++;
    if (L->q_next >= L->n_queue || L->stop_spend || L->fatal || label_interrupted) return -1;
    for (size_t q = L->q_next; q < L->n_queue; q++) {
        size_t c = L->queue[q];
        if (c == (size_t)-1) continue;
        size_t m = c % L->n_models;
        int e[3], ns = slots_of(L, c, e), busy = 0;
        for (int s = 0; s < ns && !busy; s++) busy = L->limit[e[s]] > 0 && L->inflight[e[s]] >= L->limit[e[s]];
        if (busy) continue;
        double x = ns ? label_estimate(L, c / L->n_models, m) : 0;
        if (L->spent + L->reserved + x > L->max_spend) {
            L->stop_spend = 1;
            return -1;
        }
        L->queue[q] = (size_t)-1;
        *k = c;
        *est = x;
        return 1;
    }
    return 0;
}

static void *worker(void *arg)
{
    label_run *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        size_t k;
        double est = 0;
        int t = take(L, &k, &est);
        if (t < 0) {
            if (!L->active) break;
            pthread_cond_wait(&L->cv, &L->mu);
            continue;
        }
        if (t == 0) { pthread_cond_wait(&L->cv, &L->mu); continue; }
        int e[3], ns = slots_of(L, k, e);
        for (int s = 0; s < ns; s++) L->inflight[e[s]]++;
        L->reserved += est;
        L->active++;
        pthread_mutex_unlock(&L->mu);
        double spent = do_pair(L, k);
        pthread_mutex_lock(&L->mu);
        for (int s = 0; s < ns; s++) L->inflight[e[s]]--;
        L->reserved -= est;
        L->spent += spent;
        L->active--;
        L->pairs_done++;
        size_t i = k / L->n_models;
        if (settled(L, &L->pairs[k]) && --L->remaining[i] == 0 && !L->fatal) {
            pthread_mutex_unlock(&L->mu);
            pthread_mutex_lock(&L->io_mu);
            int rc = label_write_record(L, i);
            pthread_mutex_unlock(&L->io_mu);
            if (rc) fatal(L, "cannot write to %s", L->out_path);
            pthread_mutex_lock(&L->mu);
        }
        pthread_cond_broadcast(&L->cv);
    }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ------------------------------------------------------------ progress */

static void fmt_secs(double s, char *b, size_t n)
{
    if (!isfinite(s) || s < 0) snprintf(b, n, "--");
    else if (s < 60) snprintf(b, n, "%.0fs", s);
    else if (s < 3600) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

static void progress_line(label_run *L, int tty)
{
    pthread_mutex_lock(&L->mu);
    size_t done = L->pairs_done, total = L->pairs_total;
    double spent = L->spent;
    pthread_mutex_unlock(&L->mu);
    double el = tr_now() - L->t0, rate = el > 0 ? (double)done / el : 0;
    char eta[32];
    fmt_secs(rate > 0 ? (double)(total - done) / rate : NAN, eta, sizeof eta);
    int width = 24, fill = total ? (int)((double)done / (double)total * width) : width;
    char bar[32];
    for (int b = 0; b < width; b++) bar[b] = b < fill ? '#' : '.';
    bar[width] = 0;
    if (tty)
        fprintf(stderr, "\r\033[Klabel [%s] %zu/%zu pairs  %.1f/s  ETA %s  $%.4f", bar, done, total, rate, eta, spent);
    else
        fprintf(stderr, "taskroute label: %zu/%zu pairs, %.1f/s, ETA %s, $%.4f spent\n", done, total, rate, eta, spent);
    fflush(stderr);
}

typedef struct prog { label_run *L; int stop; pthread_mutex_t mu; pthread_cond_t cv; } prog;

static void *progress_thread(void *arg)
{
    prog *p = arg;
    int tty = isatty(2);
    double every = tty ? 0.5 : 60.0;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(every * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stop) progress_line(p->L, tty);
    }
    pthread_mutex_unlock(&p->mu);
    if (tty) fputs("\r\033[K", stderr);
    return NULL;
}

int label_run_pool(label_run *L)
{
    L->t0 = tr_now();
    prog p = {L, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    pthread_t pt;
    int have_prog = !cli_quiet && !pthread_create(&pt, NULL, progress_thread, &p);
    int nth = L->threads > 0 ? L->threads : 1;
    pthread_t *th = calloc((size_t)nth, sizeof *th);
    int started = 0;
    for (int t = 0; th && t < nth; t++)
        if (!pthread_create(&th[t], NULL, worker, L)) started++;
    if (!started) worker(L);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    free(th);
    if (have_prog) {
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_signal(&p.cv);
        pthread_mutex_unlock(&p.mu);
        pthread_join(pt, NULL);
    }
    fflush(L->journal);
    fsync(fileno(L->journal));
    fflush(L->out);
    fsync(fileno(L->out));
    return L->fatal ? -1 : 0;
}
