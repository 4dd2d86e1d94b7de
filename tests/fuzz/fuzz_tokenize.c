/* libFuzzer target for word-by-word tokenising: for any bytes, tr_tokenize
 * (memo, per-call table of repeated unseen words, any output cap) must give
 * the pieces of SentencePiece run on each word alone, or the whole text when
 * the rule sends it whole.  Under the finest rule the vocabulary allows
 * (digit or script runs), the memo's output must equal the output without
 * it, cut at the same cap.  Build with `make fuzz`; run from the project
 * root (it trains a small model on data/demo.jsonl first), e.g.
 *   build-fuzz/fuzz/fuzz_tokenize -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "embed/spm.h"
#include "embed/word_cache.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tr_spm *sp;
static tr_word_cache *memo, *runs_memo;
static int runs_rule;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char err[512];
    tr_dataset *ds = NULL;
    if (tr_dataset_load("data/demo.jsonl", NULL, &ds, err, sizeof err)) { fprintf(stderr, "%s\n", err); abort(); }
    size_t n = ds->n < 400 ? ds->n : 400;
    const char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) { texts[i] = ds->rec[i].prompt; lens[i] = ds->rec[i].prompt_len; }
    tr_spm_train_params p = {300, 1, 1, NULL};
    if (tr_spm_train(texts, lens, n, &p, &sp, NULL, err, sizeof err)
        || tr_word_cache_build(sp, TR_TOK_UTF8_WORDS, texts, lens, n / 2, 100000, &memo, err, sizeof err)
        || tr_word_cache_build(sp, runs_rule = tr_word_rule_for(sp), texts, lens, n / 2, 100000, &runs_memo, err,
                               sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    free(texts);
    free(lens);
    tr_dataset_free(ds);
    return 0;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

enum { CAP = 1 << 14 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = data[0] == 255 ? CAP : (size_t)data[0];   /* cut anywhere, or not at all */
    const char *t = (const char *)data + 1;
    size_t len = size - 1;
    static int32_t ref[CAP], got[CAP];
    char err[256];
    size_t nref = 0, ng = 0;
    if (tr_text_takes_words(TR_TOK_UTF8_WORDS, t, len)) {
        for (size_t k = 0; k < len;) {
            while (k < len && is_space((uint8_t)t[k])) k++;
            size_t st = k;
            while (k < len && !is_space((uint8_t)t[k])) k++;
            if (k == st) break;
            size_t nw = 0, at = nref < CAP ? nref : CAP;
            if (tr_spm_encode(sp, t + st, k - st, ref + at, CAP - at, &nw, err, sizeof err)) __builtin_trap();
            nref += nw;
        }
    } else if (tr_spm_encode(sp, t, len, ref, CAP, &nref, err, sizeof err)) {
        __builtin_trap();
    }
    for (int with_memo = 0; with_memo < 2; with_memo++) {
        memset(got, 0xff, sizeof got);
        if (tr_tokenize(sp, with_memo ? memo : NULL, TR_TOK_UTF8_WORDS, t, len, got, cap, &ng, err, sizeof err))
            __builtin_trap();
        size_t w = cap < nref ? cap : nref;
        if (ng != nref || memcmp(got, ref, w * sizeof *got) || (w < CAP && got[w] != -1)) __builtin_trap();
    }
    if (tr_tokenize(sp, NULL, runs_rule, t, len, ref, CAP, &nref, err, sizeof err)) __builtin_trap();
    memset(got, 0xff, sizeof got);
    if (tr_tokenize(sp, runs_memo, runs_rule, t, len, got, cap, &ng, err, sizeof err)) __builtin_trap();
    size_t w = cap < nref ? cap : nref;
    if (ng != nref || memcmp(got, ref, w * sizeof *got) || (w < CAP && got[w] != -1)) __builtin_trap();
    return 0;
}
