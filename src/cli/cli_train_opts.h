/* Options shared by `train` and `discover` (embedding, graph, clustering,
 * heads), so both commands spell and document them the same way. */
#ifndef TR_CLI_TRAIN_OPTS_H
#define TR_CLI_TRAIN_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "taskroute.h"
#include "train/train.h"

/* Print the shared options with their defaults. */
void cli_train_opts_help(FILE *f);
/* Copy 'base' then the shared long options into out (cap entries, the last
 * zeroed); returns the count. */
size_t cli_train_opts_merge(struct option *out, size_t cap, const struct option *base, size_t nbase);
/* Handle one getopt code of a shared option: 0 handled, -1 bad value
 * (message printed), 1 not a shared option.  x: the public options and the
 * experiments' knobs (train/train.h). */
int cli_train_opts_parse(const char *cmd, int code, const char *arg, tr_train_options_x *x);
/* Load a dataset with the CLI's reporting (counts, skipped records on
 * stderr).  0 ok; else the error was printed. */
int cli_load_dataset(const char *cmd, const char *path, int skip_bad, tr_dataset **out);

#endif
