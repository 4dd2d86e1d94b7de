/* Distinctive-piece task names; see task_names.h. */
#include "cluster/task_names.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

void tr_piece_display(const char *piece, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = piece; *p && o + 1 < outlen;) {
        /* U+2581 LOWER ONE EIGHTH BLOCK marks a word start in SentencePiece */
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x96 && (unsigned char)p[2] == 0x81) {
            if (o > 0 && out[o - 1] != ' ') out[o++] = ' ';
            p += 3;
            continue;
        }
        if (*p == ' ') { p++; continue; }   /* the separator of a bigram's two pieces */
        out[o++] = *p++;
    }
    while (o > 0 && out[o - 1] == ' ') o--;
    out[o] = 0;
}

/* A term worth showing: mostly letters (or other scripts), at least three
 * of them, so names read as words rather than suffixes and punctuation. */
static int showable(const char *s)
{
    size_t letters = 0, other = 0;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80) letters++;
        else if (ch != ' ') other++;
    }
    return letters >= 3 && other * 2 <= letters;
}

int tr_task_terms(const tr_embedder *e, const tr_dataset *ds, const size_t *idx,
                  const int32_t *membership, size_t n, size_t T, size_t n_terms,
                  int32_t **terms, char *err, size_t errlen)
{
    *terms = NULL;
    size_t F = tr_embedder_feature_count(e), cap = 4096;
    size_t sbytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = tr_embedder_scratch_bytes(e, ds->rec[idx[i]].prompt_len);
        if (b > sbytes) sbytes = b;
    }
    double *all = tr_calloc(F ? F : 1, sizeof *all), *mine = tr_calloc(F ? F : 1, sizeof *mine);
    size_t *count = tr_calloc(T, sizeof *count), *order = tr_mallocarray(n ? n : 1, sizeof *order);
    size_t *start = tr_calloc(T + 1, sizeof *start);
    size_t nterm_all = T * n_terms;
    int32_t *fid = tr_mallocarray(cap, sizeof *fid), *out = tr_mallocarray(nterm_all ? nterm_all : 1, sizeof *out);
    float *val = tr_mallocarray(cap, sizeof *val);
    void *scratch = tr_malloc(sbytes ? sbytes : 1);
    int rc = TR_OK;
    if (!all || !mine || !count || !order || !start || !fid || !out || !val || !scratch) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "naming tasks: out of memory");
        goto done;
    }
    /* group prompts by task (counting sort keeps prompt order within a task) */
    for (size_t i = 0; i < n; i++) count[membership[i]]++;
    for (size_t t = 0; t < T; t++) start[t + 1] = start[t] + count[t];
    memset(count, 0, T * sizeof *count);
    for (size_t i = 0; i < n; i++) order[start[membership[i]] + count[membership[i]]++] = i;
    for (size_t i = 0; i < n; i++) {
        const tr_record *r = &ds->rec[idx[i]];
        size_t nnz = 0;
        if (tr_embedder_sparse(e, r->prompt, r->prompt_len, fid, val, cap, &nnz, scratch, sbytes)) continue;
        for (size_t k = 0; k < nnz; k++) all[fid[k]] += val[k];
    }
    for (size_t t = 0; t < T; t++) {
        size_t nt = start[t + 1] - start[t];
        for (size_t f = 0; f < F; f++) mine[f] = 0;
        for (size_t a = start[t]; a < start[t + 1]; a++) {
            const tr_record *r = &ds->rec[idx[order[a]]];
            size_t nnz = 0;
            if (tr_embedder_sparse(e, r->prompt, r->prompt_len, fid, val, cap, &nnz, scratch, sbytes)) continue;
            for (size_t k = 0; k < nnz; k++) mine[fid[k]] += val[k];
        }
        /* score: the term's mean weight inside the task times how much more
         * it weighs there than elsewhere (log-lift), so a name is both
         * frequent in the task and rare outside it */
        for (size_t j = 0; j < n_terms; j++) out[t * n_terms + j] = -1;
        for (size_t j = 0; j < n_terms; j++) {
            double best = 0;
            int32_t bf = -1;
            for (size_t f = 0; f < F; f++) {
                if (mine[f] <= 0) continue;
                double in = mine[f] / (double)(nt ? nt : 1);
                double outm = (n > nt) ? (all[f] - mine[f]) / (double)(n - nt) : 0;
                double s = in * log((in + 1e-3) / (outm + 1e-3));
                if (s <= best) continue;
                int taken = 0;
                for (size_t q = 0; q < j; q++) taken |= out[t * n_terms + q] == (int32_t)f;
                if (taken) continue;
                const char *txt = tr_embedder_feature_text(e, f);
                /* only terms that begin a word: "▁law", not the "ake" of "make" */
                if (!txt || strncmp(txt, "\xE2\x96\x81", 3)) continue;
                char disp[128];
                tr_piece_display(txt ? txt : "", disp, sizeof disp);
                if (!showable(disp)) continue;
                best = s;
                bf = (int32_t)f;
            }
            out[t * n_terms + j] = bf;
        }
    }
    *terms = out;
    out = NULL;
done:
    tr_free(all); tr_free(mine); tr_free(count); tr_free(order); tr_free(start);
    tr_free(fid); tr_free(val); tr_free(scratch); tr_free(out);
    return rc;
}

int tr_task_names_fill(tr_tasks *t, const tr_embedder *e, const tr_dataset *ds,
                       const size_t *idx, const int32_t *membership, size_t n,
                       char *err, size_t errlen)
{
    enum { NT = 3 };
    int32_t *terms = NULL;
    int rc = tr_task_terms(e, ds, idx, membership, n, t->n_tasks, NT, &terms, err, errlen);
    if (rc) return rc;
    for (size_t k = 0; k < t->n_tasks && !rc; k++) {
        char name[256] = "";
        size_t o = 0;
        for (size_t j = 0; j < NT; j++) {
            int32_t f = terms[k * NT + j];
            if (f < 0) continue;
            char disp[96];
            tr_piece_display(tr_embedder_feature_text(e, (size_t)f), disp, sizeof disp);
            o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", o ? "/" : "", disp);
            if (o >= sizeof name) break;
        }
        if (!name[0]) snprintf(name, sizeof name, "task-%zu", k);
        /* names must be unique: a later duplicate gets its id appended */
        for (size_t q = 0; q < k; q++)
            if (!strcmp(t->names[q], name)) {
                size_t l = strlen(name);
                snprintf(name + l, sizeof name - l, "#%zu", k);
                break;
            }
        rc = tr_tasks_set_name(t, k, name);
    }
    tr_free(terms);
    if (rc) tr_errorf(err, errlen, rc, "naming tasks: out of memory");
    return rc;
}
