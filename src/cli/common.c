/* Helpers every subcommand shares: failing with a message, strict number
 * parsing, progress on a terminal, atomic output files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_quiet = 0;

void cli_fputs_escaped(const char *s, FILE *f)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f) { fputc(*p, f); continue; }
        if (*p == '\n') fputs("\\n", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p == '\t') fputs("\\t", f);
        else fprintf(f, "\\x%02x", *p);
    }
}

int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    cli_progress_done();
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "taskroute %s: ", cmd);
    cli_fputs_escaped(msg, stderr);
    fputc('\n', stderr);
    return code;
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "taskroute %s: %s wants a whole number in [%ld, %ld], not '%s'\n",
                cmd, opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || *s == '-') {
        fprintf(stderr, "taskroute %s: %s wants a non-negative whole number, not '%s'\n",
                cmd, opt, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "taskroute %s: %s wants a number in [%g, %g], not '%s'\n",
                cmd, opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* Progress: one rewritten line on a terminal; silent otherwise. */
static int progress_shown = 0;

void cli_progress(void *ctx, const char *stage, double frac)
{
    (void)ctx;
    if (cli_quiet || !isatty(2)) return;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    fprintf(stderr, "\r\033[K%s %3d%%", stage, (int)(frac * 100 + 0.5));
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_done(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = 0;
    }
}

int cli_out_open(cli_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!strcmp(path, "-")) { o->f = stdout; return 0; }
    size_t n = strlen(path) + 32;
    o->path = strdup(path);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) { free(o->path); free(o->tmp); return -1; }
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) { free(o->path); free(o->tmp); o->path = o->tmp = NULL; return -1; }
    return 0;
}

int cli_out_commit(cli_out *o)
{
    if (o->f == stdout) { return fflush(stdout) ? -1 : 0; }
    int rc = 0;
    if (fflush(o->f) || fsync(fileno(o->f))) rc = -1;
    if (fclose(o->f)) rc = -1;
    o->f = NULL;
    if (!rc && rename(o->tmp, o->path)) rc = -1;
    if (rc) unlink(o->tmp);
    free(o->path); free(o->tmp);
    o->path = o->tmp = NULL;
    return rc;
}

void cli_out_abort(cli_out *o)
{
    if (!o->f) return;
    if (o->f != stdout) {
        fclose(o->f);
        unlink(o->tmp);
        free(o->path); free(o->tmp);
        o->path = o->tmp = NULL;
    }
    o->f = NULL;
}
