/* The out-of-fold predictions' JSONL (see oof_export.h).  Numbers are
 * printed with 9 significant digits: a float's value round-trips. */
#include "train/oof_export.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"

int tr_cv_predictions_write(void *ctx, const tr_heads_oof *o)
{
    tr_cv_predictions *w = ctx;
    const tr_dataset *ds = w->ds;
    int to_stdout = strcmp(w->path, "-") == 0;
    size_t tl = strlen(w->path) + 32;
    char *tmp = tr_malloc(tl);
    if (!tmp) return tr_errorf(w->err, w->errlen, TR_ENOMEM, "%s: out of memory", w->path);
    snprintf(tmp, tl, "%s.tmp.%ld", w->path, (long)getpid());
    FILE *f = to_stdout ? stdout : fopen(tmp, "w");
    if (!f) {
        int rc = tr_errorf(w->err, w->errlen, TR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        tr_free(tmp);
        return rc;
    }
    int rc = TR_OK;
    /* the models' names as JSON strings, quoted once for every line */
    char **mn = tr_calloc(o->M ? o->M : 1, sizeof *mn);
    for (size_t m = 0; mn && m < o->M && !rc; m++)
        if (!(mn[m] = tr_json_quote(ds->models[m]))) rc = TR_ENOMEM;
    if (!mn || rc) rc = tr_errorf(w->err, w->errlen, TR_ENOMEM, "%s: out of memory", w->path);
    for (size_t i = 0; i < o->n && !rc; i++) {
        const tr_record *r = &ds->rec[w->idx[i]];
        char *id = tr_json_quote(r->id);
        if (!id) { rc = tr_errorf(w->err, w->errlen, TR_ENOMEM, "%s: out of memory", w->path); break; }
        fprintf(f, "{\"id\":%s,\"line\":%zu,\"fold\":%d,\"task_index\":%d,\"chosen\":\"%s\",\"q\":{", id, (size_t)r->line,
                (int)o->fold[i], (int)w->task[i], o->chosen ? o->chosen : "");
        tr_free(id);
        for (size_t h = 0; h < o->n_heads; h++) {
            fprintf(f, "%s\"%s\":{", h ? "," : "", o->name[h]);
            for (size_t m = 0; m < o->M; m++) {
                float q = o->Q[h][i * o->M + m];
                if (isnan(q)) fprintf(f, "%s%s:null", m ? "," : "", mn[m]);
                else fprintf(f, "%s%s:%.9g", m ? "," : "", mn[m], (double)q);
            }
            fputc('}', f);
        }
        fputs("}}\n", f);
    }
    if (!rc && ferror(f)) rc = tr_errorf(w->err, w->errlen, TR_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (to_stdout) {
        if (fflush(f) && !rc) rc = tr_errorf(w->err, w->errlen, TR_EIO, "standard output: write failed: %s", strerror(errno));
    } else {
        if (fclose(f) && !rc) rc = tr_errorf(w->err, w->errlen, TR_EIO, "%s: write failed: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, w->path))
            rc = tr_errorf(w->err, w->errlen, TR_EIO, "%s: rename failed: %s", w->path, strerror(errno));
        if (rc) unlink(tmp);
    }
    for (size_t m = 0; mn && m < o->M; m++) tr_free(mn[m]);
    tr_free(mn);
    tr_free(tmp);
    return rc;
}
