/* Name each discovered task by its most distinctive subword pieces: those
 * whose mean TF-IDF weight in the task most exceeds their weight in the rest
 * of the training prompts.  Names are for people (reports, decisions); ids,
 * not names, are what stays stable across retrains. */
#ifndef TR_TASK_NAMES_H
#define TR_TASK_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/tasks.h"
#include "data/dataset.h"
#include "embed/embedder.h"

/* Fill t->names from the training prompts idx[0..n) of ds, whose tasks are
 * membership[0..n).  Borrows everything.  Also fills 'terms' (T x n_terms
 * feature ids, -1 when fewer) when terms is non-NULL. */
int tr_task_names_fill(tr_tasks *t, const tr_embedder *e, const tr_dataset *ds,
                       const size_t *idx, const int32_t *membership, size_t n,
                       char *err, size_t errlen);

/* The top n_terms distinctive features of every task (T x n_terms, -1 pad);
 * *terms is owned by the caller (tr_free). */
int tr_task_terms(const tr_embedder *e, const tr_dataset *ds, const size_t *idx,
                  const int32_t *membership, size_t n, size_t T, size_t n_terms,
                  int32_t **terms, char *err, size_t errlen);

/* A feature as a person reads it: SentencePiece's word-start mark becomes a
 * space, the space between a bigram's two pieces goes. */
void tr_piece_display(const char *piece, char *out, size_t outlen);

#endif
