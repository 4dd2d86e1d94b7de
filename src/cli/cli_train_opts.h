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
/* Load a dataset with the CLI's reporting (counts, skipped records on
 * stderr).  0 ok; else the error was printed. */
int cli_load_dataset(const char *cmd, const char *path, int skip_bad, tr_dataset **out);

#endif
