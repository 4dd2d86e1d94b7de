/* The judge's prompt and the strict score reader (judge.h). */
#include "label/judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char head[] =
    "You are grading an answer to a question. Judge only whether the answer is correct and "
    "answers the question; ignore style and length.\n"
    "Reply with a single number between 0 and 1 and nothing else: 1 for a fully correct answer, "
    "0 for a wrong or missing one, a value in between for a partly correct one.\n\n"
    "Question:\n";

char *tr_judge_prompt(const char *prompt, const char *answer, const char *reference)
{
    static const char ref_h[] = "\n\nReference answer:\n", ans_h[] = "\n\nAnswer to grade:\n", tail[] = "\n\nScore:";
    size_t n = sizeof head + strlen(prompt) + sizeof ans_h + strlen(answer) + sizeof tail + 1;
    if (reference) n += sizeof ref_h + strlen(reference);
    char *s = tr_malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s%s%s%s%s%s%s", head, prompt, reference ? ref_h : "", reference ? reference : "", ans_h, answer,
             tail);
    return s;
}

int tr_judge_parse_score(const char *text, size_t len, double *score, char *err, size_t errlen)
{
    size_t a = 0, b = len;
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n' || text[a] == '\r')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\n' || text[b - 1] == '\r')) b--;
    char shown[48];
    size_t sl = b - a < sizeof shown - 4 ? b - a : sizeof shown - 4;
    for (size_t i = 0; i < sl; i++) shown[i] = (unsigned char)text[a + i] < 0x20 ? ' ' : text[a + i];
    memcpy(shown + sl, b - a > sl ? "..." : "", b - a > sl ? 4 : 1);
    if (a == b) return tr_errorf(err, errlen, TR_EFORMAT, "an empty reply, not a score in [0, 1]");
    /* digits, at most one dot, at least one digit, nothing else */
    size_t digits = 0, dots = 0;
    for (size_t i = a; i < b; i++) {
        if (text[i] >= '0' && text[i] <= '9') digits++;
        else if (text[i] == '.') dots++;
        else return tr_errorf(err, errlen, TR_EFORMAT, "'%s' is not a plain number in [0, 1]", shown);
    }
    if (!digits || dots > 1 || b - a > 32)
        return tr_errorf(err, errlen, TR_EFORMAT, "'%s' is not a plain number in [0, 1]", shown);
    char buf[40];
    memcpy(buf, text + a, b - a);
    buf[b - a] = 0;
    double v = strtod(buf, NULL);
    if (!(v >= 0 && v <= 1)) return tr_errorf(err, errlen, TR_EFORMAT, "%s is outside [0, 1]", shown);
    *score = v;
    return TR_OK;
}
