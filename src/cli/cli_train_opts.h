/* Options shared by `train`, `discover` and `eval --folds` (embedding,
 * graph, clustering, heads), so the commands spell and document them the
 * same way.  The heads' own options (--heads, --knn-*, --fast) belong to
 * the commands that train heads: `train` and `eval --folds`. */
#ifndef TR_CLI_TRAIN_OPTS_H
#define TR_CLI_TRAIN_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "taskroute.h"
#include "train/train.h"

/* Print the shared options with their defaults. */
void cli_train_opts_help(FILE *f);
/* Print the heads' options with their defaults. */
void cli_heads_opts_help(FILE *f);
/* Copy 'base', the shared long options and (heads != 0) the heads' options
 * into out (cap entries, the last zeroed); returns the count. */
size_t cli_train_opts_merge(struct option *out, size_t cap, const struct option *base, size_t nbase, int heads);
/* Defaults (the public options and the experiments' knobs, train/train.h),
 * with max_features left unset so that --fast can tell whether it was
 * given; cli_train_opts_finish fills it after parsing. */
void cli_train_opts_init(tr_train_options_x *x);
void cli_train_opts_finish(tr_train_options_x *x);
/* Handle one getopt code of a shared or heads option: 0 handled, -1 bad
 * value (message printed), 1 not one of them. */
int cli_train_opts_parse(const char *cmd, int code, const char *arg, tr_train_options_x *x);
/* The k-fold commands' own options (`eval --folds`, `tune-cascade
 * --folds`): --folds K (2..100) and --jobs N (0..64), for a command's long
 * option table, and what was given.  cli_kfold_opts_parse handles one getopt
 * code of these or of the train options: 0 handled, -1 bad value (message
 * printed), 1 neither. */
enum { CLI_O_FOLDS = 900, CLI_O_JOBS };
#define CLI_KFOLD_OPTIONS {"folds", required_argument, 0, CLI_O_FOLDS}, {"jobs", required_argument, 0, CLI_O_JOBS}
typedef struct cli_kfold_opts {
    int folds;              /* 0: not given */
    long jobs;
    int train_opts;         /* a train option was given */
    tr_train_options_x x;   /* cli_train_opts_init'ed by cli_kfold_opts_init */
} cli_kfold_opts;
void cli_kfold_opts_init(cli_kfold_opts *k);
int cli_kfold_opts_parse(const char *cmd, int code, const char *arg, cli_kfold_opts *k);

/* Load a dataset with the CLI's reporting (counts, skipped records on
 * stderr).  0 ok; else the error was printed. */
int cli_load_dataset(const char *cmd, const char *path, int skip_bad, tr_dataset **out);

#endif
