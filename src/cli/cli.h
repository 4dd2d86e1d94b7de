/* The taskroute command line: one binary, one file per subcommand.
 * Conventions (README): output on stdout, diagnostics on stderr, -q quiets
 * them; exit 0 ok, 1 runtime error, 2 usage error; help shows defaults in
 * brackets. */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stdio.h>

#define TR_EXIT_OK 0
#define TR_EXIT_ERR 1
#define TR_EXIT_USAGE 2

int cmd_synth(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_label(int argc, char **argv);
int cmd_tune_cascade(int argc, char **argv);

/* Shared helpers (src/cli/common.c). */
extern int cli_quiet;                 /* -q given */
/* Print "taskroute CMD: message" to stderr and return code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* s with control characters shown as \n, \r, \t, \xHH: names read from
 * input files must not move the cursor or fake a line on a terminal. */
void cli_fputs_escaped(const char *s, FILE *f);
/* Parse numbers with an end-pointer check; 0 ok, -1 (message printed) not. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out);
/* A progress line on stderr when it is a terminal and not -q: "stage  42%". */
void cli_progress(void *ctx, const char *stage, double frac);
void cli_progress_done(void);
/* Atomic output: write to a temp file beside path, then rename.  "-" = stdout. */
typedef struct cli_out { FILE *f; char *path, *tmp; } cli_out;
int cli_out_open(cli_out *o, const char *path);
int cli_out_commit(cli_out *o);       /* fflush, fsync, rename; 0 ok */
void cli_out_abort(cli_out *o);

#endif
