/* The labelling run of `taskroute label` (cmd_label.c sets it up): a pool
 * of worker threads that call every (prompt, model) pair still unanswered
 * through the upstream client, score the answers, journal every paid-for
 * result before it is used, and append a routing record once a prompt's
 * pairs are all settled. */
#ifndef TR_CLI_LABEL_RUN_H
#define TR_CLI_LABEL_RUN_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "label/input.h"
#include "label/answer_match.h"
#include "taskroute.h"
#include "upstream/client.h"

enum pair_state { PAIR_PENDING = 0, PAIR_ANSWERED, PAIR_FAILED };

typedef struct label_pair {
    int state;                  /* enum pair_state */
    char *answer;               /* owned */
    double usd;                 /* the answer's cost */
    int estimated;
    int scored;                 /* judge/scorer: a score line is journaled */
    double score;               /* NaN: none */
    double judge_usd;           /* NaN: no judge call */
    int verified;               /* --verify: the verifier was asked (or failed) */
    double conf;                /* the verifier's confidence; NaN: none */
    double verify_usd;          /* NaN: no paid verification */
} label_pair;

typedef struct label_model_stats {
    unsigned long answered, failed, scored, judge_malformed, estimated, verified, verify_failed;
    double score_sum, usd, judge_usd, verify_usd;
    int warned_usage, warned_fail;
} label_model_stats;

typedef struct label_run {
    /* set up by cmd_label.c */
    tr_upstream_client *client;
    tr_upstream_table *table;
    tr_label_item *items;
    size_t n_items;
    size_t *todo;               /* item indices to label, in order */
    size_t n_todo;
    char **models;              /* candidate names */
    int *model_entry;           /* their table entries */
    size_t n_models;
    label_pair *pairs;          /* n_items x n_models */
    unsigned char *written;     /* item has an output record */
    int judge_entry;            /* -1: no judge */
    const char *judge_name;
    int use_match;
    tr_match_kind match;
    double tolerance;
    const char *scorer_cmd;     /* NULL: none */
    int verify;                 /* --verify: record the verifier's confidence per answer */
    int verifier_entry;         /* -1: each model verifies itself */
    const char *verifier_name;
    int verify_k;               /* samples per verification */
    int keep_answers;
    long max_tokens;            /* 0: not sent */
    double temperature;         /* NaN: not sent */
    double max_spend;           /* +inf: none */
    long default_out_tokens;    /* the spend limit's and --dry-run's guess of an answer's length */
    int threads;
    const tr_router *router;    /* the tokenizer for estimates, or NULL (bytes / 4) */
    FILE *out, *journal;
    const char *out_path, *journal_path;
    /* run state */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t io_mu;      /* journal and output */
    pthread_mutex_t scorer_mu;
    size_t *queue;              /* pair indices (item * n_models + model) to do, in order */
    size_t n_queue, q_next;
    long *inflight;             /* per model entry of the table */
    int *limit;                 /* per table entry: max_concurrency, 0 none */
    unsigned *remaining;        /* per item: pairs not settled */
    size_t active;              /* jobs running */
    double spent, reserved;
    int stop_spend, fatal;
    char fatal_msg[1024];
    size_t pairs_total, pairs_done, records_written;
    double spent_before;        /* what the journal records as paid by earlier runs */
    size_t records_before;      /* records the output held */
    unsigned journal_unsynced;
    label_model_stats *stats;   /* per candidate */
    double t0;
    /* the scorer process */
    pid_t scorer_pid;
    FILE *scorer_in, *scorer_out;
    unsigned long scorer_lines;
    int scorer_dead;
} label_run;

/* Set by ^C: no new call starts, the calls in flight finish. */
extern volatile sig_atomic_t label_interrupted;

/* Estimated tokens of text: the router's tokenizer, else bytes / 4. */
long label_tokens(const label_run *L, const char *text);
/* The estimated cost of answering item i with candidate m (and judging
 * and verifying it). */
double label_estimate(const label_run *L, size_t i, size_t m);
/* Write item i's record (all its pairs settled).  Caller holds io_mu. */
int label_write_record(label_run *L, size_t i);
/* Run the pool until every pair in the queue is settled, the spend limit
 * stops it, or a fatal error (the scorer crashed, a write failed).  0 ok
 * (or stopped cleanly at the limit), -1 fatal (L->fatal_msg says why). */
int label_run_pool(label_run *L);
/* Start / stop the scorer command.  0 ok, -1 with fatal_msg. */
int label_scorer_start(label_run *L);
void label_scorer_stop(label_run *L);

#endif
