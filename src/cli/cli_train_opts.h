/* Options shared by `train` and `discover` (embedding, graph, clustering,
 * heads), so both commands spell and document them the same way. */
#ifndef TR_CLI_TRAIN_OPTS_H
#define TR_CLI_TRAIN_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "taskroute.h"

/* Print the shared options with their defaults. */
void cli_train_opts_help(FILE *f);
/* Copy 'base' then the shared long options into out (cap entries, the last
 * zeroed); returns the count. */
size_t cli_train_opts_merge(struct option *out, size_t cap, const struct option *base, size_t nbase);
/* Handle one getopt code of a shared option: 0 handled, -1 bad value
 * (message printed), 1 not a shared option. */
int cli_train_opts_parse(const char *cmd, int code, const char *arg, tr_train_options *o);
/* `train`'s heads options (--heads, --knn-tasks, --knn-mass, --knn-cap,
 * --fast; help in cmd_train.c), shared with taskroute-mpi.  Append them
 * to out after its first n entries (cap entries, the last zeroed); returns
 * the new count. */
size_t cli_heads_opts_add(struct option *out, size_t cap, size_t n);
/* As cli_train_opts_parse, for the heads options; --fast sets *fast. */
int cli_heads_opts_parse(const char *cmd, int code, const char *arg, tr_train_options *o, int *fast);
/* After parsing (o->max_features set to 0 before it, meaning "not given"):
 * --fast's defaults, else the default feature count. */
void cli_heads_opts_finish(tr_train_options *o, int fast);
/* Load a dataset with the CLI's reporting (counts, skipped records on
 * stderr).  0 ok; else the error was printed. */
int cli_load_dataset(const char *cmd, const char *path, int skip_bad, tr_dataset **out);

#endif
