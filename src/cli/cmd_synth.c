/* `taskroute synth`: write the synthetic routing dataset of data/synth.c.
 * The file appears whole or not at all (cli_out: temp file + rename). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "data/synth.h"
#include "taskroute.h"

static void usage(FILE *f, const tr_synth_options *d)
{
    fprintf(f,
            "usage: taskroute synth -o OUT.jsonl [options]\n"
            "\n"
            "Write a deterministic synthetic routing dataset (the evaluation protocol's format):\n"
            "latent task types with their own vocabulary, models whose quality depends on\n"
            "the task, token-priced costs, label noise and missing labels.\n"
            "\n"
            "  -o, --output PATH   where to write (\"-\" = stdout) [required]\n"
            "  --prompts N         records [%zu]\n"
            "  --models M          models, cheapest first, 1..%d [%d]\n"
            "  --tasks T           latent task types, 1..%d [%d]\n"
            "  --seed S            random seed [%llu]\n"
            "  --missing RATE      probability a label is absent, in [0, 1) [%g]\n"
            "  --noise RATE        probability a score is replaced by noise [%g]\n"
            "  -q                  no messages on stderr\n"
            "  -h, --help          this help\n",
            d->prompts, TR_SYNTH_MAX_MODELS, d->models, TR_SYNTH_MAX_TASKS, d->tasks,
            (unsigned long long)d->seed, d->missing, d->noise);
}

int cmd_synth(int argc, char **argv)
{
    tr_synth_options o;
    tr_synth_options_default(&o);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout, &o); return TR_EXIT_OK; }
        if (!strcmp(a, "-q")) { cli_quiet = 1; continue; }
        /* every other option takes a value: "--opt V" or "--opt=V" */
        const char *eq = strchr(a, '=');
        size_t nlen = eq && a[0] == '-' && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        const char *v = eq && nlen < strlen(a) ? eq + 1 : NULL;
#define IS(name) (strlen(name) == nlen && !strncmp(a, name, nlen))
        int known = IS("-o") || IS("--output") || IS("--prompts") || IS("--models") || IS("--tasks") ||
                    IS("--seed") || IS("--missing") || IS("--noise");
        if (!known) {
            fprintf(stderr, "taskroute synth: unknown option '%s' (see --help)\n", a);
            return TR_EXIT_USAGE;
        }
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "taskroute synth: %.*s needs a value\n", (int)nlen, a);
                return TR_EXIT_USAGE;
            }
            v = argv[++i];
        }
        long n;
        unsigned long long u;
        if (IS("-o") || IS("--output")) out = v;
        else if (IS("--prompts")) {
            if (cli_parse_int("synth", "--prompts", v, 1, 10000000, &n)) return TR_EXIT_USAGE;
            o.prompts = (size_t)n;
        } else if (IS("--models")) {
            if (cli_parse_int("synth", "--models", v, 1, TR_SYNTH_MAX_MODELS, &n)) return TR_EXIT_USAGE;
            o.models = (int)n;
        } else if (IS("--tasks")) {
            if (cli_parse_int("synth", "--tasks", v, 1, TR_SYNTH_MAX_TASKS, &n)) return TR_EXIT_USAGE;
            o.tasks = (int)n;
        } else if (IS("--seed")) {
            if (cli_parse_u64("synth", "--seed", v, &u)) return TR_EXIT_USAGE;
            o.seed = u;
        } else if (IS("--missing")) {
            if (cli_parse_double("synth", "--missing", v, 0, 0.99, &o.missing)) return TR_EXIT_USAGE;
        } else if (IS("--noise")) {
            if (cli_parse_double("synth", "--noise", v, 0, 1, &o.noise)) return TR_EXIT_USAGE;
        }
#undef IS
    }
    if (!out) {
        fprintf(stderr, "taskroute synth: -o OUT.jsonl is required (\"-\" for stdout; see --help)\n");
        return TR_EXIT_USAGE;
    }
    cli_out co;
    if (cli_out_open(&co, out)) return cli_fail("synth", TR_EXIT_ERR, "cannot write %s", out);
    char err[512];
    int rc = tr_synth_write(&o, co.f, err, sizeof err);
    if (rc) {
        cli_out_abort(&co);
        return cli_fail("synth", TR_EXIT_ERR, "%s", err);
    }
    if (cli_out_commit(&co)) return cli_fail("synth", TR_EXIT_ERR, "cannot write %s", out);
    if (!cli_quiet && strcmp(out, "-"))
        fprintf(stderr, "taskroute synth: wrote %zu prompts, %d models, %d tasks to %s (seed %llu)\n",
                o.prompts, o.models, o.tasks, out, (unsigned long long)o.seed);
    return TR_EXIT_OK;
}
