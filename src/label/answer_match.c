/* The matchers of `taskroute label` (rules in answer_match.h and docs/label.md). */
#include "label/answer_match.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"

int tr_match_kind_parse(const char *s, tr_match_kind *out)
{
    static const char *const names[] = {"exact", "normalized", "choice", "number", "contains"};
    for (int i = 0; i < 5; i++)
        if (s && !strcmp(s, names[i])) { *out = (tr_match_kind)i; return 0; }
    return -1;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
/* ASCII letters, digits and every non-ASCII byte are word characters. */
static int is_word(unsigned char c) { return c >= 0x80 || isalnum(c); }

char *tr_match_normalize(const char *text)
{
    size_t n = strlen(text);
    char *tmp = tr_malloc(n + 1), *out = tr_malloc(n + 1);
    if (!tmp || !out) { tr_free(tmp); tr_free(out); return NULL; }
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)text[i];
        tmp[i] = c && !is_word(c) ? ' ' : (char)tolower(c);
    }
    /* words, minus the articles, joined by one space */
    size_t o = 0;
    char *save = NULL;
    for (char *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strcmp(w, "a") || !strcmp(w, "an") || !strcmp(w, "the")) continue;
        size_t l = strlen(w);
        if (o) out[o++] = ' ';
        memcpy(out + o, w, l);
        o += l;
    }
    out[o] = 0;
    tr_free(tmp);
    return out;
}

static int exact(const char *a, const char *r)
{
    while (is_space((unsigned char)*a)) a++;
    while (is_space((unsigned char)*r)) r++;
    size_t la = strlen(a), lr = strlen(r);
    while (la && is_space((unsigned char)a[la - 1])) la--;
    while (lr && is_space((unsigned char)r[lr - 1])) lr--;
    return la == lr && !memcmp(a, r, la);
}

#define LAST_LETTER 'J'

static int letter_of(unsigned char c)
{
    int u = toupper(c);
    return u >= 'A' && u <= LAST_LETTER ? u : 0;
}

/* The cue words after which a letter of either case commits. */
static size_t cue_at(const char *s, size_t i)
{
    static const char *const cues[] = {"answer is", "answer:", "answer would be", "answer will be", "option",
                                       "choice", "answer", "choose", "pick"};
    if (i > 0 && is_word((unsigned char)s[i - 1])) return 0;
    for (size_t k = 0; k < sizeof cues / sizeof cues[0]; k++) {
        size_t l = strlen(cues[k]);
        if (!strncasecmp(s + i, cues[k], l)) return l;
    }
    return 0;
}

char tr_match_choice_letter(const char *text)
{
    const char *s = text;
    size_t n = strlen(s);
    size_t best_pos = 0;
    char best = 0;
#define COMMIT(pos, ch) do { if ((pos) >= best_pos || !best) { best_pos = (pos); best = (char)(ch); } } while (0)
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* "(b)", "[C]" */
        if ((c == '(' || c == '[') && i + 2 < n && letter_of((unsigned char)s[i + 1]) &&
            s[i + 2] == (c == '(' ? ')' : ']'))
            COMMIT(i + 1, letter_of((unsigned char)s[i + 1]));
        /* a cue, then spaces, an optional "is"/":", quotes, stars or an opening bracket, then the letter */
        size_t cl = cue_at(s, i);
        if (cl) {
            size_t j = i + cl;
            for (int guard = 0; guard < 8 && j < n; guard++) {
                while (j < n && (is_space((unsigned char)s[j]) || s[j] == ':' || s[j] == '*' || s[j] == '"' ||
                                 s[j] == '\'' || s[j] == '(' || s[j] == '['))
                    j++;
                if (j + 2 < n && !strncasecmp(s + j, "is", 2) && !is_word((unsigned char)s[j + 2])) { j += 2; continue; }
                break;
            }
            if (j < n && letter_of((unsigned char)s[j]) && (j + 1 == n || !is_word((unsigned char)s[j + 1])))
                COMMIT(j, letter_of((unsigned char)s[j]));
        }
        /* a capital standing alone, closed by the end or . ) : , * " or a line break */
        if (c >= 'A' && c <= LAST_LETTER && (i == 0 || !is_word((unsigned char)s[i - 1])) &&
            (i == 0 || s[i - 1] != '\'')) {
            unsigned char nx = i + 1 < n ? (unsigned char)s[i + 1] : 0;
            if (!nx || nx == '.' || nx == ')' || nx == ':' || nx == ',' || nx == '*' || nx == '"' || nx == '\n' ||
                nx == '\r') {
                /* "e.g." and "U.S."-like abbreviations: a letter, a dot, a letter */
                int abbrev = nx == '.' && i + 2 < n && isalpha((unsigned char)s[i + 2]);
                if (!abbrev) COMMIT(i, c);
            }
        }
    }
#undef COMMIT
    return best;
}

/* Parse a number starting at s[i] (a digit, or a sign or dot before one);
 * returns the end, or i when there is none. */
static size_t number_at(const char *s, size_t n, size_t i, double *v)
{
    size_t j = i;
    int neg = 0;
    if (j < n && (s[j] == '-' || s[j] == '+')) { neg = s[j] == '-'; j++; }
    if (!(j < n && isdigit((unsigned char)s[j])) && !(j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])))
        return i;
    char buf[128];
    size_t b = 0;
    /* integer part, with 3-digit thousands groups after commas */
    size_t k = j, run = 0;
    while (k < n && b < 100) {
        if (isdigit((unsigned char)s[k])) { buf[b++] = s[k++]; run++; continue; }
        if (s[k] == ',' && run >= 1 && run <= 3 && k + 3 < n && isdigit((unsigned char)s[k + 1]) &&
            isdigit((unsigned char)s[k + 2]) && isdigit((unsigned char)s[k + 3]) &&
            (k + 4 >= n || !isdigit((unsigned char)s[k + 4]))) {
            k++;
            run = 0;
            continue;
        }
        break;
    }
    if (k + 1 < n && s[k] == '.' && isdigit((unsigned char)s[k + 1])) {
        buf[b++] = s[k++];
        while (k < n && isdigit((unsigned char)s[k]) && b < 120) buf[b++] = s[k++];
    }
    if (k + 1 < n && (s[k] == 'e' || s[k] == 'E')) {
        size_t e = k + 1;
        if (e < n && (s[e] == '-' || s[e] == '+')) e++;
        if (e < n && isdigit((unsigned char)s[e])) {
            size_t t = e;
            while (t < n && isdigit((unsigned char)s[t])) t++;
            /* "3e5x" or "2e10b" read as words, not exponents */
            if (!(t < n && isalpha((unsigned char)s[t])) && b + (t - k) < sizeof buf - 1) {
                for (size_t q = k; q < t; q++) buf[b++] = s[q];
                k = t;
            }
        }
    }
    buf[b] = 0;
    double x = strtod(buf, NULL);
    /* a fraction a/b */
    if (k + 1 < n && s[k] == '/' && isdigit((unsigned char)s[k + 1])) {
        double den;
        size_t e = number_at(s, n, k + 1, &den);
        if (e > k + 1 && den != 0) { x /= den; k = e; }
    }
    *v = neg ? -x : x;
    return k;
}

int tr_match_final_number(const char *text, double *out)
{
    size_t n = strlen(text), i = 0;
    int found = 0;
    while (i < n) {
        unsigned char c = (unsigned char)text[i];
        int start = isdigit(c) || ((c == '-' || c == '+' || c == '.') && i + 1 < n);
        /* a sign counts only where a word does not end before it ("x-1" is x minus 1, "3-4" a range) */
        if ((c == '-' || c == '+') && i > 0 && is_word((unsigned char)text[i - 1])) start = 0;
        if (start) {
            double v;
            size_t e = number_at(text, n, i, &v);
            if (e > i) {
                if (isfinite(v)) { *out = v; found = 1; }
                i = e;
                continue;
            }
        }
        i++;
    }
    return found;
}

static int contains_words(const char *hay, const char *needle)
{
    size_t ln = strlen(needle);
    if (!ln) return 1;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        int left = p == hay || p[-1] == ' ';
        int right = p[ln] == 0 || p[ln] == ' ';
        if (left && right) return 1;
    }
    return 0;
}

int tr_match(tr_match_kind kind, const char *answer, const char *reference, double tolerance)
{
    if (!answer) answer = "";
    if (!reference) reference = "";
    switch (kind) {
    case TR_MATCH_EXACT:
        return exact(answer, reference);
    case TR_MATCH_NORMALIZED:
    case TR_MATCH_CONTAINS: {
        char *a = tr_match_normalize(answer), *r = tr_match_normalize(reference);
        int m = -1;
        if (a && r) m = kind == TR_MATCH_NORMALIZED ? !strcmp(a, r) : (*r && contains_words(a, r));
        tr_free(a);
        tr_free(r);
        return m;
    }
    case TR_MATCH_CHOICE: {
        char ra = tr_match_choice_letter(answer), rr = tr_match_choice_letter(reference);
        /* a bare lower-case reference "b" names its letter too */
        if (!rr) {
            const char *p = reference;
            while (is_space((unsigned char)*p)) p++;
            size_t l = strlen(p);
            while (l && is_space((unsigned char)p[l - 1])) l--;
            if (l == 1) rr = (char)letter_of((unsigned char)p[0]);
        }
        return ra && rr && ra == rr;
    }
    case TR_MATCH_NUMBER: {
        double a, r;
        if (!tr_match_final_number(answer, &a) || !tr_match_final_number(reference, &r)) return 0;
        double scale = fabs(r) > 1 ? fabs(r) : 1;
        return fabs(a - r) <= tolerance * scale;
    }
    }
    return 0;
}
