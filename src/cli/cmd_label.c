/* taskroute label: turn prompts into routing training data by calling the
 * candidate models through the upstream table and client the proxy uses,
 * scoring their answers, and writing routing JSONL that `train` reads.
 * docs/label.md is the reference; label_run.c runs the calls. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "base/util.h"
#include "cli/cli.h"
#include "cli/label_run.h"
#include "label/input.h"
#include "label/journal.h"
#include "label/sample.h"
#include "taskroute.h"
#include "upstream/verify.h"

#define DEFAULT_OUT_TOKENS 256
#define DEFAULT_THREADS 8
#define DEFAULT_VERIFY_K 4   /* the serving cascade's default k */

static void help(FILE *f)
{
    fprintf(f,
            "usage: taskroute label PROMPTS.jsonl --upstreams up.json -o OUT.jsonl [options]\n"
            "\n"
            "Call every candidate model on every prompt, score the answers and write\n"
            "routing JSONL for `taskroute train` (id, prompt, scores, costs).  Input lines\n"
            "hold \"prompt\" or \"messages\", optional \"id\" and reference fields; the\n"
            "server's decisions.jsonl is read as is.  Re-running the same command resumes:\n"
            "no (prompt, model) pair is paid for twice (journal: OUT.jsonl.journal).\n"
            "\n"
            "  --upstreams FILE       the upstream table (docs/upstreams.md): URLs, prices,\n"
            "                         max_concurrency, retries; every model needs a price\n"
            "  -o, --output FILE      routing JSONL, appended to\n"
            "  --models a,b,c         candidate models [every model in the table]\n"
            "scoring (one of):\n"
            "  --reference FIELD      the input field holding the reference answer\n"
            "  --match KIND           exact|normalized|choice|number|contains [normalized]\n"
            "  --tolerance T          number: |a - r| <= T * max(1, |r|) [1e-6]\n"
            "  --judge MODEL          LLM-as-judge through the table (docs/label.md has its prompt)\n"
            "  --scorer 'CMD'         a program reading {prompt, answer, reference} JSON lines\n"
            "                         and writing one score in [0, 1] (or null) per line\n"
            "verifier confidences (for `taskroute tune-cascade`, docs/cascade.md):\n"
            "  --verify               ask the verifier about every answer, as the serving\n"
            "                         cascade does; its confidence goes in \"verify\"\n"
            "  --verify-samples K     samples per verification, 1..16 [%d]\n"
            "  --verifier MODEL       the table entry that verifies [each model itself]\n"
            "calls:\n"
            "  --concurrency N        calls in flight in all (each model also within its\n"
            "                         max_concurrency) [%d]\n"
            "  --max-tokens N         sent as max_tokens; also the spend estimate's answer\n"
            "                         length [not sent; estimates assume %d]\n"
            "  --temperature T        sent as temperature [0]\n"
            "  --max-spend USD        stop before a call could take the spend past USD [none]\n"
            "  --dry-run              print the estimated spend and exit, calling nothing\n"
            "  --keep-answers         add each model's answer to the records (\"answers\")\n"
            "which prompts:\n"
            "  --sample N             label only N prompts [all]\n"
            "  --strategy S           random|uncertain|stratified: the order prompts are\n"
            "                         labelled in (and which N with --sample) [input order]\n"
            "  --router FILE          the current router: uncertain and stratified need it;\n"
            "                         its tokenizer also estimates tokens [bytes / 4]\n"
            "  --seed N               random, ties and strata order [42]\n"
            "  --print-sample         print the chosen ids in order and exit\n"
            "  -q, --quiet            no progress, warnings or summary\n",
            DEFAULT_VERIFY_K, DEFAULT_THREADS, DEFAULT_OUT_TOKENS);
}

static void on_int(int s)
{
    (void)s;
    label_interrupted = 1;
    signal(SIGINT, SIG_DFL);   /* a second ^C kills */
}

/* ---------------------------------------------------------------- input */

/* Read every line of path into items (duplicate ids are skipped with a
 * count).  0 ok, or an exit code with the message printed. */
static int read_items(const char *path, const char *ref_field, tr_label_item **out, size_t *n_out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return cli_fail("label", TR_EXIT_ERR, "cannot open %s: %s", path, strerror(errno));
    tr_label_item *it = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        size_t l = (size_t)len;
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) l--;
        if (!l) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            tr_label_item *p = realloc(it, cap * sizeof *p);
            if (!p) { rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); break; }
            it = p;
        }
        char err[512];
        if (tr_label_item_parse(line, l, ref_field, &it[n], err, sizeof err)) {
            rc = cli_fail("label", TR_EXIT_ERR, "%s:%zu: %s", path, lineno, err);
            break;
        }
        n++;
    }
    free(line);
    if (f != stdin) fclose(f);
    if (!rc && !n) rc = cli_fail("label", TR_EXIT_ERR, "%s: no prompts", path);
    if (rc) {
        for (size_t i = 0; i < n; i++) tr_label_item_free(&it[i]);
        free(it);
        return rc;
    }
    *out = it;
    *n_out = n;
    return 0;
}

/* Items sorted by id, for look-ups (journal, output) and repeated ids. */
static const tr_label_item *sort_items;
static int by_id(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    int c = strcmp(sort_items[*x].id, sort_items[*y].id);
    return c ? c : (*x > *y) - (*x < *y);
}

typedef struct id_index { size_t *ord; size_t n; const tr_label_item *items; } id_index;

static int index_build(id_index *ix, const tr_label_item *items, size_t n)
{
    ix->items = items;
    ix->n = n;
    ix->ord = malloc((n ? n : 1) * sizeof *ix->ord);
    if (!ix->ord) return -1;
    for (size_t i = 0; i < n; i++) ix->ord[i] = i;
    sort_items = items;
    qsort(ix->ord, n, sizeof *ix->ord, by_id);
    return 0;
}

/* The first item with id, or -1. */
static long index_find(const id_index *ix, const char *id)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ix->items[ix->ord[mid]].id, id);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < ix->n && !strcmp(ix->items[ix->ord[lo]].id, id) ? (long)ix->ord[lo] : -1;
}

/* ------------------------------------------------------------- resume */

typedef struct resume_ctx {
    label_run *L;
    const id_index *ix;
    size_t used, ignored;
} resume_ctx;

static int model_of(const label_run *L, const char *name)
{
    for (size_t m = 0; m < L->n_models; m++)
        if (!strcmp(L->models[m], name)) return (int)m;
    return -1;
}

static int on_journal(void *ctx, const tr_journal_entry *e)
{
    resume_ctx *r = ctx;
    label_run *L = r->L;
    long i = index_find(r->ix, e->id);
    int m = model_of(L, e->model);
    if (i < 0 || m < 0) { r->ignored++; return TR_OK; }
    label_pair *p = &L->pairs[(size_t)i * L->n_models + (size_t)m];
    if (e->kind == TR_JOURNAL_ANSWER) {
        if (p->state == PAIR_ANSWERED) return TR_OK;   /* two runs at once wrote it twice: the first stands */
        if (!(p->answer = tr_strdup(e->answer))) return TR_ENOMEM;
        p->state = PAIR_ANSWERED;
        p->usd = e->usd;
        p->estimated = e->estimated;
        L->spent_before += e->usd;
    } else if (e->kind == TR_JOURNAL_SCORE) {
        /* a verdict of another scorer (the command line changed) is not this run's */
        const char *want = L->judge_entry >= 0 ? "judge" : L->scorer_cmd ? "scorer" : "";
        if (strcmp(e->by, want) || p->state != PAIR_ANSWERED || p->scored) { r->ignored++; return TR_OK; }
        p->scored = 1;
        p->score = e->score;
        p->judge_usd = e->usd;
        if (!isnan(e->usd)) L->spent_before += e->usd;
    } else if (e->kind == TR_JOURNAL_VERIFY) {
        /* another verifier's or another k's confidence (the command line changed) is not this run's */
        const char *want = L->verifier_entry >= 0 ? L->verifier_name : L->models[m];
        if (!L->verify || strcmp(e->verifier, want) || e->k != L->verify_k || p->state != PAIR_ANSWERED || p->verified) {
            r->ignored++;
            return TR_OK;
        }
        p->verified = 1;
        p->conf = e->confidence;
        p->verify_usd = e->usd;
        L->spent_before += e->usd;
    } else {
        r->ignored++;
        return TR_OK;
    }
    r->used++;
    return TR_OK;
}

/* Read a whole file (NULL and *len 0 when it does not exist). */
static int slurp(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (*len + k + 1 > cap) {
            cap = (*len + k + 1) * 2;
            char *p = realloc(*buf, cap);
            if (!p) { free(*buf); fclose(f); *buf = NULL; return -1; }
            *buf = p;
        }
        memcpy(*buf + *len, tmp, k);
        *len += k;
    }
    int bad = ferror(f);
    fclose(f);
    if (*buf) (*buf)[*len] = 0;
    return bad ? -1 : 0;
}

/* Load the journal and mark what the output holds; truncate torn last
 * lines so appends start clean.  0, or an exit code (message printed). */
static int resume(label_run *L, const id_index *ix)
{
    char *buf;
    size_t len, good;
    int torn;
    char err[1024];
    if (slurp(L->journal_path, &buf, &len))
        return cli_fail("label", TR_EXIT_ERR, "cannot read %s: %s", L->journal_path, strerror(errno));
    resume_ctx r = {L, ix, 0, 0};
    int rc = tr_journal_scan(buf ? buf : "", len, L->journal_path, on_journal, &r, &good, &torn, err, sizeof err);
    free(buf);
    if (rc) return cli_fail("label", TR_EXIT_ERR, "%s%s", err, rc == TR_EFORMAT ? " (the journal is damaged "
                            "before its last line: move it aside to start over, paying again)" : "");
    if (torn || good < len) {
        if (truncate(L->journal_path, (off_t)good))
            return cli_fail("label", TR_EXIT_ERR, "cannot truncate %s: %s", L->journal_path, strerror(errno));
        if (!cli_quiet)
            fprintf(stderr, "taskroute label: %s: a torn last line (an interrupted run) was dropped\n", L->journal_path);
    }
    if (r.used && !cli_quiet)
        fprintf(stderr, "taskroute label: resuming: %zu answers and verdicts from %s are reused, not paid again\n",
                r.used, L->journal_path);
    /* the output: ids already written */
    if (slurp(L->out_path, &buf, &len))
        return cli_fail("label", TR_EXIT_ERR, "cannot read %s: %s", L->out_path, strerror(errno));
    size_t pos = 0, lineno = 0, last_good = 0;
    while (buf && pos < len) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        lineno++;
        cJSON *o = nl ? cJSON_ParseWithLength(buf + pos, end - pos) : NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        if (!cJSON_IsString(id)) {
            cJSON_Delete(o);
            int blank = end == pos;
            if (blank && nl) { pos = end + 1; last_good = pos; continue; }
            if (!nl || end + 1 >= len) break;   /* torn last line */
            free(buf);
            return cli_fail("label", TR_EXIT_ERR, "%s:%zu: not a record written by label (no string \"id\"); give "
                            "another -o", L->out_path, lineno);
        }
        long i = index_find(ix, id->valuestring);
        if (i >= 0 && !L->written[i]) { L->written[i] = 1; L->records_before++; }
        cJSON_Delete(o);
        pos = end + 1;
        last_good = pos;
    }
    free(buf);
    if (last_good < len) {
        if (truncate(L->out_path, (off_t)last_good))
            return cli_fail("label", TR_EXIT_ERR, "cannot truncate %s: %s", L->out_path, strerror(errno));
        if (!cli_quiet)
            fprintf(stderr, "taskroute label: %s: a torn last line (an interrupted run) was dropped; its prompt is "
                    "written again from the journal\n", L->out_path);
    }
    return 0;
}

/* ------------------------------------------------------------- sampling */

/* The labelling order of every item (n), by strategy s. */
static int order_items(label_run *L, int strategy, uint64_t seed, size_t *order)
{
    size_t n = L->n_items;
    if (strategy < 0) {
        for (size_t i = 0; i < n; i++) order[i] = i;
        return 0;
    }
    float *margin = NULL;
    int *task = NULL;
    if (strategy != TR_SAMPLE_RANDOM) {
        const tr_router *r = L->router;
        tr_scratch *sc = NULL;
        margin = malloc(n * sizeof *margin);
        task = malloc(n * sizeof *task);
        /* the candidates the router knows, for the margin */
        size_t R = tr_router_model_count(r);
        unsigned char *known = calloc(R ? R : 1, 1);
        size_t n_known = 0;
        for (size_t m = 0; m < L->n_models; m++) {
            int k = tr_router_find_model(r, L->models[m]);
            if (k >= 0 && !known[k]) { known[k] = 1; n_known++; }
        }
        if (!margin || !task || !known || tr_scratch_new(r, &sc)) {
            free(margin); free(task); free(known);
            return cli_fail("label", TR_EXIT_ERR, "out of memory");
        }
        if (strategy == TR_SAMPLE_UNCERTAIN && n_known < 2 && !cli_quiet)
            fprintf(stderr, "taskroute label: warning: the router knows fewer than two of the candidate models: "
                    "no margins, the order is random\n");
        tr_route_options ro;
        tr_route_options_default(&ro);
        ro.mode = TR_SELECT_QUALITY;
        for (size_t i = 0; i < n; i++) {
            tr_decision d;
            margin[i] = NAN;
            task[i] = 0;
            if (tr_route(r, L->items[i].prompt, strlen(L->items[i].prompt), &ro, sc, &d)) continue;
            task[i] = d.task < 0 ? 0 : d.task;
            float b1 = -INFINITY, b2 = -INFINITY;
            for (size_t m = 0; m < d.n_models && d.quality; m++) {
                if (!known[m] || isnan(d.quality[m])) continue;
                float q = d.quality[m];
                if (q > b1) { b2 = b1; b1 = q; }
                else if (q > b2) b2 = q;
            }
            if (isfinite(b2)) margin[i] = b1 - b2;
            /* out of distribution: first of all, the furthest out first (keys in (-2, -1]) */
            if (d.ood) {
                float o = d.ood_score > 0 ? d.ood_score : 0;
                margin[i] = -1.0f - o / (1.0f + o);
            }
        }
        tr_scratch_free(sc);
        free(known);
    }
    int rc = tr_sample_order(n, (tr_sample_strategy)strategy, margin, task, seed, order);
    free(margin);
    free(task);
    return rc ? cli_fail("label", TR_EXIT_ERR, "cannot order the prompts: %s", tr_strerror(rc)) : 0;
}

/* ------------------------------------------------------------- summary */

static void dry_run(label_run *L)
{
    printf("%-28s %8s %14s %14s %12s\n", "model", "pairs", "input tokens", "output tokens", "USD");
    double total = 0;
    size_t pairs = 0;
    long out_tok = L->max_tokens > 0 ? L->max_tokens : L->default_out_tokens;
    for (size_t m = 0; m < L->n_models; m++) {
        size_t n = 0;
        double in = 0, usd = 0;
        for (size_t t = 0; t < L->n_todo; t++) {
            size_t i = L->todo[t];
            const label_pair *p = &L->pairs[i * L->n_models + m];
            if (L->written[i] || p->state != PAIR_PENDING) continue;
            n++;
            in += (double)label_tokens(L, L->items[i].prompt) + 8;
            usd += label_estimate(L, i, m);
        }
        printf("%-28s %8zu %14.0f %14.0f %12.4f\n", L->models[m], n, in, (double)n * (double)out_tok, usd);
        total += usd;
        pairs += n;
    }
    printf("%-28s %8zu %14s %14s %12.4f\n", "total", pairs, "", "", total);
    printf("estimate: input tokens by %s, %ld output tokens per answer (%s)%s%s; already paid (journal): $%.4f\n",
           L->router ? "the router's tokenizer" : "bytes / 4", out_tok, L->max_tokens > 0 ? "--max-tokens" : "default",
           L->judge_entry >= 0 ? ", judge calls included" : "", L->verify ? ", verifications included" : "",
           L->spent_before);
}

static void summary(label_run *L)
{
    if (cli_quiet) return;
    fprintf(stderr, "%-28s %9s %7s %11s %10s", "model", "answered", "failed", "mean score", "USD");
    if (L->judge_entry >= 0) fprintf(stderr, " %10s %10s", "judge USD", "malformed");
    if (L->verify) fprintf(stderr, " %9s %9s %10s", "verified", "vfailed", "verify USD");
    fputc('\n', stderr);
    double tot = 0, jtot = 0, vtot = 0;
    for (size_t m = 0; m < L->n_models; m++) {
        const label_model_stats *s = &L->stats[m];
        fprintf(stderr, "%-28s %9lu %7lu ", L->models[m], s->answered, s->failed);
        if (s->scored) fprintf(stderr, "%11.4f", s->score_sum / (double)s->scored);
        else fprintf(stderr, "%11s", "-");
        fprintf(stderr, " %10.4f", s->usd);
        if (L->judge_entry >= 0) fprintf(stderr, " %10.4f %10lu", s->judge_usd, s->judge_malformed);
        if (L->verify) fprintf(stderr, " %9lu %9lu %10.4f", s->verified, s->verify_failed, s->verify_usd);
        if (s->estimated) fprintf(stderr, "  (%lu costs estimated)", s->estimated);
        fputc('\n', stderr);
        tot += s->usd;
        jtot += s->judge_usd;
        vtot += s->verify_usd;
    }
    fprintf(stderr, "taskroute label: this run: %zu records written, $%.4f spent (answers $%.4f, judge $%.4f, "
            "verifier $%.4f); in all $%.4f; %s\n", L->records_written, tot + jtot + vtot, tot, jtot, vtot, L->spent,
            L->out_path);
}

/* ---------------------------------------------------------------- main */

int cmd_label(int argc, char **argv)
{
    const char *upstreams = NULL, *out_path = NULL, *models_arg = NULL, *ref = NULL, *match_s = NULL,
               *judge = NULL, *scorer = NULL, *router_path = NULL, *strategy_s = NULL, *verifier = NULL;
    long concurrency = DEFAULT_THREADS, max_tokens = 0, sample = -1, verify_k = -1;
    double tolerance = 1e-6, temperature = 0, max_spend = INFINITY;
    unsigned long long seed = 42;
    int dry = 0, keep = 0, print_sample = 0, verify = 0;
    static const struct option longopts[] = {
        {"upstreams", required_argument, 0, 'U'}, {"output", required_argument, 0, 'o'},
        {"models", required_argument, 0, 'm'}, {"reference", required_argument, 0, 'r'},
        {"match", required_argument, 0, 'M'}, {"tolerance", required_argument, 0, 't'},
        {"judge", required_argument, 0, 'J'}, {"scorer", required_argument, 0, 'S'},
        {"concurrency", required_argument, 0, 'c'}, {"max-tokens", required_argument, 0, 'x'},
        {"temperature", required_argument, 0, 'T'}, {"max-spend", required_argument, 0, '$'},
        {"dry-run", no_argument, 0, 'n'}, {"keep-answers", no_argument, 0, 'k'},
        {"sample", required_argument, 0, 's'}, {"strategy", required_argument, 0, 'y'},
        {"router", required_argument, 0, 'R'}, {"seed", required_argument, 0, 'e'},
        {"print-sample", no_argument, 0, 'P'}, {"quiet", no_argument, 0, 'q'},
        {"verify", no_argument, 0, 'V'}, {"verify-samples", required_argument, 0, 'K'},
        {"verifier", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'U': upstreams = optarg; break;
        case 'o': out_path = optarg; break;
        case 'm': models_arg = optarg; break;
        case 'r': ref = optarg; break;
        case 'M': match_s = optarg; break;
        case 't': if (cli_parse_double("label", "--tolerance", optarg, 0, 1e300, &tolerance)) return TR_EXIT_USAGE; break;
        case 'J': judge = optarg; break;
        case 'S': scorer = optarg; break;
        case 'c': if (cli_parse_int("label", "--concurrency", optarg, 1, 1024, &concurrency)) return TR_EXIT_USAGE; break;
        case 'x': if (cli_parse_int("label", "--max-tokens", optarg, 1, 10000000, &max_tokens)) return TR_EXIT_USAGE; break;
        case 'T': if (cli_parse_double("label", "--temperature", optarg, 0, 2, &temperature)) return TR_EXIT_USAGE; break;
        case '$': if (cli_parse_double("label", "--max-spend", optarg, 0, 1e12, &max_spend)) return TR_EXIT_USAGE; break;
        case 'n': dry = 1; break;
        case 'k': keep = 1; break;
        case 's': if (cli_parse_int("label", "--sample", optarg, 1, 1000000000L, &sample)) return TR_EXIT_USAGE; break;
        case 'y': strategy_s = optarg; break;
        case 'R': router_path = optarg; break;
        case 'e': if (cli_parse_u64("label", "--seed", optarg, &seed)) return TR_EXIT_USAGE; break;
        case 'P': print_sample = 1; break;
        case 'V': verify = 1; break;
        case 'K': if (cli_parse_int("label", "--verify-samples", optarg, 1, TR_VERIFY_MAX_K, &verify_k)) return TR_EXIT_USAGE; break;
        case 'W': verifier = optarg; break;
        case 'q': cli_quiet = 1; break;
        case 'h': help(stdout); return TR_EXIT_OK;
        default: help(stderr); return TR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) { help(stderr); return TR_EXIT_USAGE; }
    const char *in_path = argv[optind];
    tr_match_kind match = TR_MATCH_NORMALIZED;
    if (match_s && tr_match_kind_parse(match_s, &match))
        return cli_fail("label", TR_EXIT_USAGE, "--match wants exact, normalized, choice, number or contains, not '%s'",
                        match_s);
    if (match_s && !ref) return cli_fail("label", TR_EXIT_USAGE, "--match needs --reference FIELD");
    int strategy = -1;
    if (strategy_s) {
        tr_sample_strategy st;
        if (tr_sample_strategy_parse(strategy_s, &st))
            return cli_fail("label", TR_EXIT_USAGE, "--strategy wants random, uncertain or stratified, not '%s'", strategy_s);
        strategy = (int)st;
    }
    if (sample > 0 && strategy < 0) strategy = TR_SAMPLE_RANDOM;
    if ((strategy == TR_SAMPLE_UNCERTAIN || strategy == TR_SAMPLE_STRATIFIED) && !router_path)
        return cli_fail("label", TR_EXIT_USAGE, "--strategy %s needs --router FILE (the current router)", strategy_s);
    if (!print_sample) {
        if (!upstreams) return cli_fail("label", TR_EXIT_USAGE, "--upstreams FILE is required (the upstream table)");
        if (!out_path && !dry) return cli_fail("label", TR_EXIT_USAGE, "-o OUT.jsonl is required");
        if (!!judge + !!scorer > 1) return cli_fail("label", TR_EXIT_USAGE, "give one of --judge and --scorer");
        if (!judge && !scorer && !ref)
            return cli_fail("label", TR_EXIT_USAGE, "nothing scores the answers: give --reference FIELD (with --match), "
                            "--judge MODEL or --scorer 'CMD'");
    }
    if ((verifier || verify_k > 0) && !verify)
        return cli_fail("label", TR_EXIT_USAGE, "%s needs --verify", verifier ? "--verifier" : "--verify-samples");
    if (!out_path) out_path = "-";

    label_run L;
    memset(&L, 0, sizeof L);
    L.judge_entry = -1;
    L.verifier_entry = -1;
    L.verify = verify;
    L.verify_k = verify_k > 0 ? (int)verify_k : DEFAULT_VERIFY_K;
    L.match = match;
    L.use_match = !judge && !scorer;
    L.tolerance = tolerance;
    L.scorer_cmd = scorer;
    L.keep_answers = keep;
    L.max_tokens = max_tokens;
    L.temperature = temperature;
    L.max_spend = max_spend;
    L.default_out_tokens = DEFAULT_OUT_TOKENS;
    L.threads = (int)concurrency;
    L.out_path = out_path;
    char err[1024];
    int rc = TR_EXIT_ERR;
    tr_router *router = NULL;
    size_t *order = NULL;
    id_index ix = {0};
    char *jpath = NULL;
    int curl_up = 0;
    if (router_path && tr_router_open(router_path, &router, err, sizeof err)) {
        rc = cli_fail("label", TR_EXIT_ERR, "%s", err);
        goto done;
    }
    L.router = router;
    if ((rc = read_items(in_path, ref, &L.items, &L.n_items))) goto done;
    rc = TR_EXIT_ERR;
    if (index_build(&ix, L.items, L.n_items)) { rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); goto done; }
    /* a repeated id is one prompt: the first stands */
    L.written = calloc(L.n_items, 1);
    unsigned char *dup = calloc(L.n_items, 1);
    size_t n_dup = 0;
    for (size_t k = 1; dup && k < L.n_items; k++)
        if (!strcmp(L.items[ix.ord[k]].id, L.items[ix.ord[k - 1]].id)) { dup[ix.ord[k]] = 1; n_dup++; }
    if (n_dup && !cli_quiet)
        fprintf(stderr, "taskroute label: %zu lines repeat an earlier line's id and are skipped\n", n_dup);
    /* the models */
    if (!print_sample) {
        if (tr_upstream_table_load(upstreams, NULL, &L.table, err, sizeof err)) {
            free(dup);
            rc = cli_fail("label", TR_EXIT_ERR, "%s", err);
            goto done;
        }
        for (size_t i = 0; i < L.table->n_notes && !cli_quiet; i++) fprintf(stderr, "taskroute label: warning: %s\n", L.table->notes[i]);
        size_t cap = L.table->n;
        L.models = calloc(cap ? cap : 1, sizeof *L.models);
        L.model_entry = calloc(cap ? cap : 1, sizeof *L.model_entry);
        if (models_arg) {
            char *copy = strdup(models_arg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int e = tr_upstream_table_find(L.table, t);
                if (e < 0) {
                    rc = cli_fail("label", TR_EXIT_USAGE, "--models: '%s' is not in the upstream table %s", t, upstreams);
                    free(copy);
                    free(dup);
                    goto done;
                }
                if (model_of(&L, t) >= 0) continue;
                if (L.n_models == cap) break;
                L.models[L.n_models] = L.table->u[e].name;
                L.model_entry[L.n_models++] = e;
            }
            free(copy);
        } else {
            for (size_t e = 0; e < L.table->n; e++) {
                if (judge && !strcmp(L.table->u[e].name, judge)) continue;   /* the judge judges */
                L.models[L.n_models] = L.table->u[e].name;
                L.model_entry[L.n_models++] = (int)e;
            }
        }
        if (!L.n_models) { free(dup); rc = cli_fail("label", TR_EXIT_USAGE, "no candidate models"); goto done; }
        if (judge && (L.judge_entry = tr_upstream_table_find(L.table, judge)) < 0) {
            free(dup);
            rc = cli_fail("label", TR_EXIT_USAGE, "--judge: '%s' is not in the upstream table %s", judge, upstreams);
            goto done;
        }
        L.judge_name = judge;
        if (verifier && (L.verifier_entry = tr_upstream_table_find(L.table, verifier)) < 0) {
            free(dup);
            rc = cli_fail("label", TR_EXIT_USAGE, "--verifier: '%s' is not in the upstream table %s", verifier, upstreams);
            goto done;
        }
        L.verifier_name = verifier;
        for (size_t m = 0; m <= L.n_models + 1; m++) {
            int e = m < L.n_models ? L.model_entry[m] : m == L.n_models ? L.judge_entry : L.verifier_entry;
            if (e >= 0 && !L.table->u[e].has_price) {
                free(dup);
                rc = cli_fail("label", TR_EXIT_USAGE, "model '%s' has no \"price\" in %s: label records what each "
                              "answer cost, so every model it calls needs one", L.table->u[e].name, upstreams);
                goto done;
            }
        }
    } else {
        /* --print-sample: the router's models are the candidates of the margin */
        size_t R = router ? tr_router_model_count(router) : 0;
        L.models = calloc(R ? R : 1, sizeof *L.models);
        if (models_arg && router) {
            char *copy = strdup(models_arg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && L.n_models < R; t = strtok_r(NULL, ",", &save)) {
                int k = tr_router_find_model(router, t);
                if (k >= 0) L.models[L.n_models++] = (char *)tr_router_model_name(router, (size_t)k);
            }
            free(copy);
        } else {
            for (size_t m = 0; m < R; m++) L.models[L.n_models++] = (char *)tr_router_model_name(router, m);
        }
    }
    /* the order, and which items */
    order = malloc(L.n_items * sizeof *order);
    if (!order || !dup || !L.written) { free(dup); rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); goto done; }
    if ((rc = order_items(&L, strategy, seed, order))) { free(dup); goto done; }
    L.todo = malloc(L.n_items * sizeof *L.todo);
    for (size_t k = 0; L.todo && k < L.n_items; k++) {
        if (dup[order[k]]) continue;
        if (sample > 0 && L.n_todo >= (size_t)sample) break;
        L.todo[L.n_todo++] = order[k];
    }
    free(dup);
    if (!L.todo) { rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); goto done; }
    if (print_sample) {
        for (size_t t = 0; t < L.n_todo; t++) {
            cli_fputs_escaped(L.items[L.todo[t]].id, stdout);
            fputc('\n', stdout);
        }
        rc = fflush(stdout) ? TR_EXIT_ERR : TR_EXIT_OK;
        goto done;
    }
    /* the pairs, and what earlier runs left */
    L.pairs = calloc(L.n_items * L.n_models, sizeof *L.pairs);
    L.stats = calloc(L.n_models, sizeof *L.stats);
    if (!L.pairs || !L.stats) { rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); goto done; }
    for (size_t k = 0; k < L.n_items * L.n_models; k++)
        L.pairs[k].score = L.pairs[k].judge_usd = L.pairs[k].conf = L.pairs[k].verify_usd = NAN;
    size_t jl = strlen(out_path) + 16;
    jpath = malloc(jl);
    snprintf(jpath, jl, "%s.journal", out_path);
    L.journal_path = jpath;
    if (strcmp(out_path, "-") && (rc = resume(&L, &ix))) goto done;
    rc = TR_EXIT_ERR;
    L.spent = L.spent_before;
    if (dry) {
        dry_run(&L);
        rc = TR_EXIT_OK;
        goto done;
    }
    if (!strcmp(out_path, "-")) { rc = cli_fail("label", TR_EXIT_USAGE, "-o wants a file (it is appended to and resumed)"); goto done; }
    /* matcher scores are recomputed, judge and scorer verdicts come from the journal */
    for (size_t k = 0; k < L.n_items * L.n_models; k++)
        if (L.pairs[k].state == PAIR_ANSWERED && L.use_match) {
            const tr_label_item *it = &L.items[k / L.n_models];
            int r = tr_match(L.match, L.pairs[k].answer, it->reference, L.tolerance);
            L.pairs[k].scored = 1;
            L.pairs[k].score = !it->reference || r < 0 ? NAN : (double)r;
        }
    L.queue = malloc((L.n_todo * L.n_models + 1) * sizeof *L.queue);
    L.remaining = calloc(L.n_items, sizeof *L.remaining);
    L.inflight = calloc(L.table->n, sizeof *L.inflight);
    L.limit = calloc(L.table->n, sizeof *L.limit);
    if (!L.queue || !L.remaining || !L.inflight || !L.limit) { rc = cli_fail("label", TR_EXIT_ERR, "out of memory"); goto done; }
    for (size_t e = 0; e < L.table->n; e++) L.limit[e] = L.table->u[e].max_concurrency;
    L.out = fopen(out_path, "ab");
    L.journal = fopen(jpath, "ab");
    if (!L.out || !L.journal) {
        rc = cli_fail("label", TR_EXIT_ERR, "cannot open %s for appending: %s", !L.out ? out_path : jpath, strerror(errno));
        goto done;
    }
    /* prompts whose pairs are all settled already (a run killed before their record) are written now */
    for (size_t t = 0; t < L.n_todo; t++) {
        size_t i = L.todo[t];
        if (L.written[i]) continue;
        unsigned left = 0;
        for (size_t m = 0; m < L.n_models; m++) {
            const label_pair *p = &L.pairs[i * L.n_models + m];
            if (p->state == PAIR_ANSWERED && p->scored && (!L.verify || p->verified)) continue;
            L.queue[L.n_queue++] = i * L.n_models + m;
            left++;
        }
        L.remaining[i] = left;
        if (!left && label_write_record(&L, i)) { rc = cli_fail("label", TR_EXIT_ERR, "cannot write to %s", out_path); goto done; }
    }
    L.pairs_total = L.n_queue;
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) { rc = cli_fail("label", TR_EXIT_ERR, "cannot initialise libcurl"); goto done; }
    curl_up = 1;
    if (tr_upstream_client_new(seed, &L.client, err, sizeof err) || tr_upstream_client_set_table(L.client, L.table)) {
        rc = cli_fail("label", TR_EXIT_ERR, "%s", err);
        goto done;
    }
    if (scorer && L.n_queue) {
        signal(SIGPIPE, SIG_IGN);
        if (label_scorer_start(&L)) { rc = cli_fail("label", TR_EXIT_ERR, "%s", L.fatal_msg); goto done; }
    }
    pthread_mutex_init(&L.mu, NULL);
    pthread_mutex_init(&L.io_mu, NULL);
    pthread_mutex_init(&L.scorer_mu, NULL);
    pthread_cond_init(&L.cv, NULL);
    if (L.n_todo * L.n_models > L.n_queue && !cli_quiet)
        fprintf(stderr, "taskroute label: %zu of %zu prompts already written; %zu pairs to settle\n", L.records_before,
                L.n_todo, L.n_queue);
    signal(SIGINT, on_int);
    int prc = label_run_pool(&L);
    signal(SIGINT, SIG_DFL);
    if (scorer) label_scorer_stop(&L);
    pthread_mutex_destroy(&L.mu);
    pthread_mutex_destroy(&L.io_mu);
    pthread_mutex_destroy(&L.scorer_mu);
    pthread_cond_destroy(&L.cv);
    summary(&L);
    if (prc) {
        rc = cli_fail("label", TR_EXIT_ERR, "%s", L.fatal_msg);
    } else if (L.stop_spend) {
        size_t left = 0;
        for (size_t t = 0; t < L.n_todo; t++) left += !L.written[L.todo[t]];
        if (!cli_quiet)
            fprintf(stderr, "taskroute label: stopped at --max-spend $%g ($%.4f spent in all): %zu prompts left; "
                    "raise the limit and run again to go on\n", max_spend, L.spent, left);
        rc = TR_EXIT_OK;
    } else if (label_interrupted) {
        rc = cli_fail("label", TR_EXIT_ERR, "interrupted: the calls in flight were recorded; run again to resume");
    } else {
        rc = TR_EXIT_OK;
    }
done:
    if (L.out) fclose(L.out);
    if (L.journal) fclose(L.journal);
    tr_upstream_client_free(L.client);
    if (curl_up) curl_global_cleanup();
    tr_upstream_table_unref(L.table);
    for (size_t k = 0; L.pairs && k < L.n_items * L.n_models; k++) tr_free(L.pairs[k].answer);
    free(L.pairs);
    free(L.stats);
    free(L.queue);
    free(L.remaining);
    free(L.inflight);
    free(L.limit);
    free(L.models);
    free(L.model_entry);
    free(L.todo);
    free(L.written);
    free(order);
    free(ix.ord);
    free(jpath);
    for (size_t i = 0; i < L.n_items; i++) tr_label_item_free(&L.items[i]);
    free(L.items);
    tr_router_close(router);
    return rc;
}
