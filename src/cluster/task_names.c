/* Task names from c-TF-IDF keywords; see task_names.h. */
#include "cluster/task_names.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"

/* Sorted, for bsearch: NLTK's English list, its contractions' stems, and
 * the politeness and asking every kind of prompt carries ("please", "help",
 * "question"). */
static const char *const STOPWORDS[] = {
    "about", "above", "after", "again", "against", "ain", "all", "also", "and", "answer", "any", "are", "aren",
    "aren't", "because", "been", "before", "being", "below", "between", "both", "but", "can", "could", "couldn",
    "couldn't", "did", "didn", "didn't", "does", "doesn", "doesn't", "doing", "don", "don't", "down", "during",
    "each", "few", "for", "from", "further", "had", "hadn", "hadn't", "has", "hasn", "hasn't", "have", "haven",
    "haven't", "having", "hello", "help", "her", "here", "hers", "herself", "hey", "him", "himself", "his", "how",
    "i'd", "i'll", "i'm", "i've", "into", "isn", "isn't", "it's", "its", "itself", "just", "let", "let's", "mightn",
    "mightn't", "more", "most", "mustn", "mustn't", "myself", "need", "needn", "needn't", "nor", "not", "now",
    "off", "once", "one", "only", "other", "our", "ours", "ourselves", "out", "over", "own", "please", "question",
    "questions", "same", "shan", "shan't", "she", "she's", "should", "should've", "shouldn", "shouldn't", "some",
    "such", "than", "thank", "thanks", "that", "that'll", "that's", "the", "their", "theirs", "them", "themselves",
    "then", "there", "there's", "these", "they", "they're", "this", "those", "through", "too", "under", "until",
    "very", "was", "wasn", "wasn't", "we're", "were", "weren", "weren't", "what", "what's", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "won", "won't", "would", "wouldn", "wouldn't", "you",
    "you'd", "you'll", "you're", "you've", "your", "yours", "yourself", "yourselves",
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int tr_is_stopword(const char *w)
{
    return bsearch(&w, STOPWORDS, sizeof STOPWORDS / sizeof *STOPWORDS, sizeof *STOPWORDS, cmp_str) != NULL;
}

enum { WORD_MIN = 3, WORD_MAX = 24 };

static int word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

void tr_name_words(const char *text, size_t len, void (*fn)(void *ctx, const char *w, size_t n), void *ctx)
{
    char w[WORD_MAX + 1];
    size_t i = 0;
    while (i < len) {
        while (i < len && !word_char((unsigned char)text[i])) i++;
        size_t a = i;
        while (i < len && word_char((unsigned char)text[i])) i++;
        size_t b = i;
        /* apostrophes only inside a word; a possessive 's goes */
        while (a < b && text[a] == '\'') a++;
        while (b > a && text[b - 1] == '\'') b--;
        if (b - a > 2 && text[b - 2] == '\'' && (text[b - 1] == 's' || text[b - 1] == 'S')) b -= 2;
        size_t n = b - a;
        if (n < WORD_MIN || n > WORD_MAX) continue;
        size_t letters = 0, digits = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)text[a + k];
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
            w[k] = (char)c;
            if (c >= '0' && c <= '9') digits++;
            else if (c != '\'') letters++;
        }
        w[n] = 0;
        if (letters < 2 || digits >= letters || tr_is_stopword(w)) continue;
        fn(ctx, w, n);
    }
}

/* ---- the vocabulary: words -> ids, open addressing over an arena ---- */

typedef struct vocab {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *off;          /* word id -> arena offset */
    uint32_t *df;         /* prompts containing the word */
    uint32_t *last;       /* last prompt counted + 1 (one count per prompt) */
    size_t n, cap;        /* words, capacity of the per-word arrays */
    int32_t *slot;        /* hash table of word ids, -1 empty */
    size_t nslot;
    int oom;
} vocab;

static void vocab_free(vocab *v)
{
    tr_free(v->arena); tr_free(v->off); tr_free(v->df); tr_free(v->last); tr_free(v->slot);
    memset(v, 0, sizeof *v);
}

static int vocab_grow_table(vocab *v)
{
    size_t ns = v->nslot ? v->nslot * 2 : 4096;
    int32_t *s = tr_mallocarray(ns, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < ns; i++) s[i] = -1;
    for (size_t id = 0; id < v->n; id++) {
        const char *w = v->arena + v->off[id];
        size_t h = (size_t)tr_fnv1a64(w, strlen(w)) & (ns - 1);
        while (s[h] >= 0) h = (h + 1) & (ns - 1);
        s[h] = (int32_t)id;
    }
    tr_free(v->slot);
    v->slot = s;
    v->nslot = ns;
    return 0;
}

/* The id of w, added when new; -1 out of memory. */
static int32_t vocab_id(vocab *v, const char *w, size_t n)
{
    if ((v->n + 1) * 2 > v->nslot && vocab_grow_table(v)) return -1;
    size_t h = (size_t)tr_fnv1a64(w, n) & (v->nslot - 1);
    for (; v->slot[h] >= 0; h = (h + 1) & (v->nslot - 1)) {
        const char *x = v->arena + v->off[v->slot[h]];
        if (!strncmp(x, w, n) && x[n] == 0) return v->slot[h];
    }
    if (v->n == v->cap) {
        size_t c = v->cap ? v->cap * 2 : 1024;
        size_t *o = tr_realloc(v->off, c * sizeof *o);
        if (o) v->off = o;
        uint32_t *d = tr_realloc(v->df, c * sizeof *d);
        if (d) v->df = d;
        uint32_t *l = tr_realloc(v->last, c * sizeof *l);
        if (l) v->last = l;
        if (!o || !d || !l) return -1;
        v->cap = c;
    }
    if (v->arena_len + n + 1 > v->arena_cap) {
        size_t c = v->arena_cap ? v->arena_cap * 2 : 1 << 16;
        while (c < v->arena_len + n + 1) c *= 2;
        char *a = tr_realloc(v->arena, c);
        if (!a) return -1;
        v->arena = a;
        v->arena_cap = c;
    }
    memcpy(v->arena + v->arena_len, w, n);
    v->arena[v->arena_len + n] = 0;
    v->off[v->n] = v->arena_len;
    v->df[v->n] = 0;
    v->last[v->n] = 0;
    v->arena_len += n + 1;
    v->slot[h] = (int32_t)v->n;
    return (int32_t)v->n++;
}

/* Per-prompt word callbacks: the first pass counts document frequencies,
 * the second a task's. */
typedef struct pass {
    vocab *v;
    uint32_t doc;         /* this prompt + 1 */
    uint32_t *count;      /* per word: prompts of the current task (pass 2) */
    uint32_t *seen;       /* per word: last prompt counted in this task + 1 */
    int32_t *touched;     /* words counted in this task */
    size_t n_touched;
} pass;

static void count_df(void *ctx, const char *w, size_t n)
{
    pass *p = ctx;
    int32_t id = vocab_id(p->v, w, n);
    if (id < 0) { p->v->oom = 1; return; }
    if (p->v->last[id] == p->doc) return;
    p->v->last[id] = p->doc;
    p->v->df[id]++;
}

static void count_task(void *ctx, const char *w, size_t n)
{
    pass *p = ctx;
    vocab *v = p->v;
    size_t h = (size_t)tr_fnv1a64(w, n) & (v->nslot - 1);
    for (; v->slot[h] >= 0; h = (h + 1) & (v->nslot - 1)) {
        int32_t id = v->slot[h];
        const char *x = v->arena + v->off[id];
        if (strncmp(x, w, n) || x[n]) continue;
        if (p->seen[id] == p->doc) return;
        if (!p->count[id]) p->touched[p->n_touched++] = id;
        p->seen[id] = p->doc;
        p->count[id]++;
        return;
    }
}

typedef struct cand { float score; int32_t id; } cand;

static const vocab *g_sort_vocab;
static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(g_sort_vocab->arena + g_sort_vocab->off[x->id], g_sort_vocab->arena + g_sort_vocab->off[y->id]);
}

/* a and b are one word and its plural ("table", "tables") */
static int plural_pair(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 == lb) return !strncmp(a, b, la) && b[la] == 's';
    if (lb + 1 == la) return !strncmp(a, b, lb) && a[lb] == 's';
    return 0;
}

void tr_task_keywords_clear(tr_task_keywords *kw)
{
    if (!kw) return;
    if (kw->words)
        for (size_t i = 0; i < kw->T * kw->K; i++) tr_free(kw->words[i]);
    tr_free(kw->words);
    tr_free(kw->scores);
    memset(kw, 0, sizeof *kw);
}

int tr_task_keywords_find(const tr_dataset *ds, const size_t *idx, const int32_t *membership, size_t n,
                          size_t T, size_t K, tr_task_keywords *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    vocab v = {0};
    size_t *start = tr_calloc(T + 1, sizeof *start), *order = tr_mallocarray(n ? n : 1, sizeof *order);
    size_t *fill = tr_calloc(T ? T : 1, sizeof *fill);
    pass p = {.v = &v};
    cand *c = NULL;
    int rc = TR_OK;
    out->T = T;
    out->K = K;
    out->words = tr_calloc(T * K + 1, sizeof *out->words);
    out->scores = tr_calloc(T * K + 1, sizeof *out->scores);
    if (!start || !order || !fill || !out->words || !out->scores) goto oom;
    for (size_t i = 0; i < n; i++) {
        const tr_record *r = &ds->rec[idx[i]];
        p.doc = (uint32_t)i + 1;
        tr_name_words(r->prompt, r->prompt_len, count_df, &p);
        if (v.oom) goto oom;
    }
    if (v.n == 0) goto done;
    p.count = tr_calloc(v.n, sizeof *p.count);
    p.seen = tr_calloc(v.n, sizeof *p.seen);
    p.touched = tr_mallocarray(v.n, sizeof *p.touched);
    c = tr_mallocarray(v.n, sizeof *c);
    if (!p.count || !p.seen || !p.touched || !c) goto oom;
    /* prompts grouped by task, in prompt order within a task */
    for (size_t i = 0; i < n; i++) start[membership[i] + 1]++;
    for (size_t t = 0; t < T; t++) start[t + 1] += start[t];
    for (size_t i = 0; i < n; i++) order[start[membership[i]] + fill[membership[i]]++] = i;
    double A = T ? (double)n / (double)T : 1;
    for (size_t t = 0; t < T; t++) {
        size_t nt = start[t + 1] - start[t];
        if (!nt) continue;
        p.n_touched = 0;
        for (size_t a = start[t]; a < start[t + 1]; a++) {
            const tr_record *r = &ds->rec[idx[order[a]]];
            p.doc = (uint32_t)order[a] + 1;
            tr_name_words(r->prompt, r->prompt_len, count_task, &p);
        }
        size_t nc = 0;
        for (size_t k = 0; k < p.n_touched; k++) {
            int32_t id = p.touched[k];
            /* a keyword is in at least two of the task's prompts */
            if (p.count[id] >= 2)
                c[nc++] = (cand){(float)((double)p.count[id] / (double)nt * log(1 + A / (double)v.df[id])), id};
            p.count[id] = 0;
        }
        g_sort_vocab = &v;
        qsort(c, nc, sizeof *c, cmp_cand);
        size_t got = 0;
        for (size_t k = 0; k < nc && got < K; k++) {
            const char *w = v.arena + v.off[c[k].id];
            int dup = 0;
            for (size_t q = 0; q < got && !dup; q++) dup = plural_pair(out->words[t * K + q], w);
            if (dup) continue;
            if (!(out->words[t * K + got] = tr_strdup(w))) goto oom;
            out->scores[t * K + got] = c[k].score;
            got++;
        }
    }
    goto done;
oom:
    rc = tr_errorf(err, errlen, TR_ENOMEM, "naming tasks: out of memory");
    tr_task_keywords_clear(out);
done:
    vocab_free(&v);
    tr_free(start); tr_free(order); tr_free(fill); tr_free(c);
    tr_free(p.count); tr_free(p.seen); tr_free(p.touched);
    return rc;
}

/* The name of task k with its keywords first..first+NW-1 replaced in the last
 * place by keyword 'last' (last < 0: the plain top words). */
static void compose(const tr_task_keywords *kw, size_t k, long last, char *name, size_t cap)
{
    size_t o = 0, used = 0;
    name[0] = 0;
    for (size_t j = 0; j < kw->K && used < TR_NAME_WORDS; j++) {
        size_t pick = j;
        if (used == TR_NAME_WORDS - 1 && last >= 0) pick = (size_t)last;
        const char *w = kw->words[k * kw->K + pick];
        if (!w) break;
        o += (size_t)snprintf(name + o, o < cap ? cap - o : 0, "%s%s", used ? ", " : "", w);
        used++;
    }
    if (o >= cap) name[cap - 1] = 0;
}

int tr_task_names_from_keywords(tr_tasks *t, const tr_task_keywords *kw)
{
    for (size_t k = 0; k < t->n_tasks; k++) {
        char name[256];
        compose(kw, k, -1, name, sizeof name);
        if (!name[0]) snprintf(name, sizeof name, "task-%ld", (long)t->ids[k]);
        for (size_t alt = TR_NAME_WORDS;; alt++) {
            int taken = 0;
            for (size_t q = 0; q < k && !taken; q++) taken = !strcmp(t->names[q], name);
            if (!taken) break;
            if (alt < kw->K && kw->words[k * kw->K + alt]) {
                compose(kw, k, (long)alt, name, sizeof name);
                continue;
            }
            /* out of keywords: the id makes it unique */
            compose(kw, k, -1, name, sizeof name);
            size_t l = strlen(name);
            snprintf(name + l, sizeof name - l, "%s#%ld", l ? " " : "", (long)t->ids[k]);
            break;
        }
        if (tr_tasks_set_name(t, k, name)) return TR_ENOMEM;
    }
    return tr_tasks_make_slugs(t);
}

int tr_task_names_fill(tr_tasks *t, const tr_dataset *ds, const size_t *idx, const int32_t *membership,
                       size_t n, tr_task_keywords *kw, char *err, size_t errlen)
{
    tr_task_keywords local;
    tr_task_keywords *k = kw ? kw : &local;
    int rc = tr_task_keywords_find(ds, idx, membership, n, t->n_tasks, TR_KEYWORDS, k, err, errlen);
    if (rc) return rc;
    if ((rc = tr_task_names_from_keywords(t, k))) tr_errorf(err, errlen, rc, "naming tasks: out of memory");
    if (!kw) tr_task_keywords_clear(&local);
    return rc;
}
