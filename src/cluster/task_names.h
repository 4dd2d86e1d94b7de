/* Task names people can read: the whole words that distinguish a task from
 * the others, by class-based TF-IDF over its training prompts (c-TF-IDF, as
 * BERTopic names topics): word w of task t scores
 *     share(t, w) * log(1 + A / df(w))
 * where share(t, w) is the share of t's prompts that contain w, df(w) the
 * number of training prompts that contain it and A the mean task size, so a
 * keyword is both common in its task and rare elsewhere.  Words are runs of
 * letters and digits (and any non-ASCII character) cut at everything else,
 * lower-cased, 3 to 24 bytes, with more letters than digits; English
 * stopwords go.  A name is a task's three best keywords ("contract, lease,
 * tenant"); names are unique.  Names are for people (reports, decisions,
 * slugs); ids, not names, are what stays stable across retrains, and a
 * name a person set (rename) is kept by warm-started retraining. */
#ifndef TR_TASK_NAMES_H
#define TR_TASK_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/tasks.h"
#include "data/dataset.h"

/* Keywords a name takes, and how many the report shows. */
#define TR_NAME_WORDS 3
#define TR_KEYWORDS 8

typedef struct tr_task_keywords {
    size_t T, K;
    char **words;           /* T x K, best first; NULL past a task's last keyword */
    float *scores;          /* T x K c-TF-IDF scores, 0 where no keyword */
} tr_task_keywords;

void tr_task_keywords_clear(tr_task_keywords *kw);

/* The K best keywords of each of T tasks from the training prompts idx[0..n)
 * of ds, whose tasks are membership[0..n) (in [0, T)).  Borrows everything;
 * *out owned by the caller: tr_task_keywords_clear.  TR_ENOMEM. */
int tr_task_keywords_find(const tr_dataset *ds, const size_t *idx, const int32_t *membership, size_t n,
                          size_t T, size_t K, tr_task_keywords *out, char *err, size_t errlen);

/* Name every task of t from kw (kw->T == t->n_tasks): its TR_NAME_WORDS best
 * keywords joined by ", "; a name an earlier task (by index) already has
 * takes the task's further keywords in turn for its last word, and failing
 * that gets " #<id>"; a task without keywords is "task-<id>".  Then the
 * slugs.  TR_ENOMEM. */
int tr_task_names_from_keywords(tr_tasks *t, const tr_task_keywords *kw);

/* Both: keywords (into *kw when not NULL, else dropped) and names. */
int tr_task_names_fill(tr_tasks *t, const tr_dataset *ds, const size_t *idx, const int32_t *membership,
                       size_t n, tr_task_keywords *kw, char *err, size_t errlen);

/* 1 when w (lower case, NUL-terminated) is an English stopword. */
int tr_is_stopword(const char *w);

/* The words of text[0..len) as names use them (lower case, filtered as
 * above): calls fn(ctx, word, word_len) for each, in order, repeats
 * included.  The word is in a buffer of ours, valid during the call. */
void tr_name_words(const char *text, size_t len, void (*fn)(void *ctx, const char *w, size_t n), void *ctx);

#endif
