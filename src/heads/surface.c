/* Surface ("format") features of a prompt: ten numbers about how it looks
 * rather than what it is about.  The TF-IDF/SVD embedding is dominated by
 * topic, so tasks that share a topic but differ in format (multiple choice
 * vs. open question, a question vs. a statement to complete, maths with $ or
 * LaTeX) are mixed in it; the prompt's format tells them apart
 * (+0.002..0.006 CV Q@C on llmrouter).
 *
 * On the prompt with outer white space stripped (Python's str.strip()):
 *   s0 ln(1 + tokens)          tokens: runs of word characters (letters,
 *                              digits, '_') plus every other non-space char
 *   s1 ends with '?'           s2 first character upper case
 *   s3 upper-case letters / letters      s4 digits / characters
 *   s5 ln(1 + '\n' count)      s6 contains '?'
 *   s7 characters neither alphanumeric nor space / characters
 *   s8 ends with '.'           s9 contains '$' or '\'
 * (characters = code points, at least 1).
 *
 * Character classes follow Python's str methods (the research prototype's)
 * on ASCII, Latin-1, Latin Extended-A/B, IPA, Greek, Cyrillic, the general
 * punctuation, super/subscript, letterlike, fullwidth and mathematical
 * alphanumeric blocks, and count any other code point from U+0500 up as a
 * letter without case (on all 18,140 prompts of the two reference datasets
 * the features equal the prototype's to 1e-6).  This classification is part of the router-file
 * format (HEAD section version 2): the stored standardisation was computed
 * with it, so changing it needs a new section version.  Invalid UTF-8 bytes
 * count as one non-alphanumeric character each.  No allocation; O(len). */
#include <math.h>

#include "heads/heads.h"

enum { C_SPACE, C_UPPER, C_LOWER, C_DIGIT, C_NUMERIC, C_OTHER };

static int in(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

/* Python's str.isspace. */
static int is_space(uint32_t c)
{
    return in(c, 0x09, 0x0D) || in(c, 0x1C, 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           in(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int char_class(uint32_t c)
{
    if (c < 0x80) {
        if (is_space(c)) return C_SPACE;
        if (in(c, 'A', 'Z')) return C_UPPER;
        if (in(c, 'a', 'z')) return C_LOWER;
        if (in(c, '0', '9')) return C_DIGIT;
        return C_OTHER;
    }
    if (is_space(c)) return C_SPACE;
    if (c < 0xC0) {
        if (c == 0xAA || c == 0xB5 || c == 0xBA) return C_LOWER;
        if (c == 0xB2 || c == 0xB3 || c == 0xB9) return C_DIGIT;
        if (in(c, 0xBC, 0xBE)) return C_NUMERIC;
        return C_OTHER;
    }
    if (c < 0x100) {
        if (c == 0xD7 || c == 0xF7) return C_OTHER;
        return c <= 0xDE ? C_UPPER : C_LOWER;
    }
    if (c < 0x180) {   /* Latin Extended-A: case pairs, upper first */
        if (c == 0x138 || c == 0x149) return C_LOWER;
        if (c == 0x178) return C_UPPER;
        if (in(c, 0x139, 0x148) || in(c, 0x179, 0x17E)) return c % 2 ? C_UPPER : C_LOWER;
        if (c == 0x17F) return C_LOWER;
        return c % 2 ? C_LOWER : C_UPPER;
    }
    if (c < 0x250) {   /* Latin Extended-B: bit c - 0x180 set = upper case (Unicode 14) */
        static const uint32_t up[7] = {0xB1DBCED6u, 0x11AED2D5u, 0x4AAAA490u, 0x55D25555u,
                                       0x55555555u, 0x6C055555u, 0x0000557Au};
        return up[(c - 0x180) / 32] >> ((c - 0x180) % 32) & 1u ? C_UPPER : C_LOWER;
    }
    if (c < 0x2B0) return C_LOWER;                                                 /* IPA */
    if (c < 0x370) {   /* modifier letters are letters; modifier symbols and combining marks are not */
        if (in(c, 0x2B0, 0x2C1) || in(c, 0x2C6, 0x2D1) || in(c, 0x2E0, 0x2E4) || c == 0x2EC || c == 0x2EE)
            return C_LOWER;
        return C_OTHER;
    }
    if (c < 0x400) {   /* Greek */
        if (c == 0x375 || c == 0x37E || c == 0x384 || c == 0x385 || c == 0x387 || c == 0x3F6) return C_OTHER;
        if (c == 0x386 || in(c, 0x388, 0x38F) || in(c, 0x391, 0x3AB) || c == 0x3CF || c == 0x3F4) return C_UPPER;
        return C_LOWER;
    }
    if (c < 0x500) {   /* Cyrillic */
        if (in(c, 0x482, 0x489)) return C_OTHER;
        if (c < 0x430) return C_UPPER;
        if (c < 0x460) return C_LOWER;
        return c % 2 ? C_LOWER : C_UPPER;
    }
    if (in(c, 0x591, 0x5C7) || in(c, 0x610, 0x61A) || in(c, 0x64B, 0x65F) || c == 0x670 || in(c, 0x6D6, 0x6ED))
        return C_OTHER;   /* Hebrew points, Arabic marks */
    if (in(c, 0x660, 0x669) || in(c, 0x6F0, 0x6F9) || in(c, 0x966, 0x96F)) return C_DIGIT;
    if (in(c, 0x2000, 0x206F)) return C_OTHER;   /* general punctuation */
    if (in(c, 0x2070, 0x209F)) {                 /* super- and subscripts */
        if (c == 0x2070 || in(c, 0x2074, 0x2079) || in(c, 0x2080, 0x2089)) return C_DIGIT;
        if (c == 0x2071 || c == 0x207F || in(c, 0x2090, 0x209C)) return C_LOWER;
        return C_OTHER;
    }
    if (in(c, 0x20A0, 0x20FF)) return C_OTHER;   /* currency, combining marks for symbols */
    if (in(c, 0x2100, 0x214F)) {                 /* letterlike */
        if (c == 0x2102 || c == 0x2107 || in(c, 0x210B, 0x210D) || in(c, 0x2110, 0x2112) || c == 0x2115 ||
            in(c, 0x2119, 0x211D) || c == 0x2124 || c == 0x2126 || c == 0x2128 || in(c, 0x212A, 0x212D) ||
            in(c, 0x2130, 0x2133) || c == 0x213E || c == 0x213F || c == 0x2145)
            return C_UPPER;
        if (c == 0x210A || c == 0x210E || c == 0x210F || c == 0x2113 || c == 0x212F || c == 0x2134 ||
            c == 0x2139 || c == 0x213C || c == 0x213D || in(c, 0x2146, 0x2149) || c == 0x214E)
            return C_LOWER;
        return C_OTHER;
    }
    if (in(c, 0x2150, 0x218F) || in(c, 0x2460, 0x249B) || in(c, 0x24EA, 0x24FF) || in(c, 0x2776, 0x2793))
        return C_NUMERIC;   /* number forms, circled and dingbat numbers */
    if (in(c, 0x2190, 0x2BFF) || in(c, 0x2E00, 0x2E7F) || in(c, 0x3001, 0x3004) || in(c, 0x3008, 0x3020) ||
        in(c, 0x3030, 0x3030) || in(c, 0xFE00, 0xFE0F) || in(c, 0xFE10, 0xFE6F) || c == 0xFEFF ||
        in(c, 0xFFF0, 0xFFFF))
        return C_OTHER;     /* arrows, maths, shapes, CJK punctuation, variation selectors, specials */
    if (in(c, 0xFF00, 0xFFEF)) {   /* fullwidth forms */
        if (in(c, 0xFF10, 0xFF19)) return C_DIGIT;
        if (in(c, 0xFF21, 0xFF3A)) return C_UPPER;
        if (in(c, 0xFF41, 0xFF5A) || in(c, 0xFF66, 0xFFDC)) return C_LOWER;
        return C_OTHER;
    }
    if (in(c, 0x1D400, 0x1D6A3)) return (c - 0x1D400) % 52 < 26 ? C_UPPER : C_LOWER;   /* maths alphabets */
    if (in(c, 0x1D6A8, 0x1D7CB)) return C_LOWER;
    if (in(c, 0x1D7CE, 0x1D7FF)) return C_DIGIT;
    if (in(c, 0x1F000, 0x1FAFF) || in(c, 0xE0000, 0xE007F)) return C_OTHER;   /* emoji, tags */
    return C_LOWER;
}

/* Decode one UTF-8 code point at p[*i]; invalid bytes decode to U+FFFD
 * (class OTHER), one byte each. */
static uint32_t next_cp(const unsigned char *p, size_t len, size_t *i)
{
    unsigned b = p[*i];
    size_t need = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : 9;
    if (need == 0) { (*i)++; return b; }
    if (need > 3 || len - *i <= need) { (*i)++; return 0xFFFD; }
    uint32_t c = b & (0x3F >> need);
    for (size_t k = 1; k <= need; k++) {
        unsigned t = p[*i + k];
        if ((t & 0xC0) != 0x80) { (*i)++; return 0xFFFD; }
        c = c << 6 | (t & 0x3F);
    }
    *i += need + 1;
    return c;
}

/* The byte range [*lo, *hi) of p without leading and trailing white space.
 * Only the ends are decoded: a code point never ends in a lead byte, so
 * stepping back over continuation bytes finds the last one. */
static void strip(const unsigned char *p, size_t len, size_t *lo, size_t *hi)
{
    size_t a = 0, b = len;
    while (a < b) {
        size_t j = a;
        if (!is_space(next_cp(p, b, &j))) break;
        a = j;
    }
    while (b > a) {
        size_t j = b - 1;
        while (j > a && b - j < 4 && (p[j] & 0xC0) == 0x80) j--;
        size_t k = j;
        uint32_t c = next_cp(p, b, &k);
        if (k != b || !is_space(c)) break;
        b = j;
    }
    *lo = a;
    *hi = b;
}

/* ASCII classes (the hot path: most prompts are mostly ASCII), as
 * char_class plus C_USCORE for '_', a word character that is not
 * alphanumeric. */
enum { C_USCORE = C_OTHER + 1, N_CLASSES };
static const unsigned char ASCII_CLASS[128] = {
    5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0,
    0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5,
    5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 6,
    5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5,
};

void tr_surface_features(const char *prompt, size_t len, float out[TR_HEADS_SURF])
{
    const unsigned char *p = (const unsigned char *)prompt;
    size_t lo, hi;
    strip(p, prompt ? len : 0, &lo, &hi);
    size_t cnt[N_CLASSES] = {0}, newlines = 0, tokens = 0, chars = 0;
    unsigned in_word = 0, has_q = 0, has_math = 0, first_upper = 0;
    uint32_t last = 0;
    for (size_t i = lo; i < hi;) {
        uint32_t c = p[i];
        int k;
        if (c < 0x80) {
            k = ASCII_CLASS[c];
            i++;
        } else {
            c = next_cp(p, hi, &i);
            k = char_class(c);
        }
        cnt[k]++;
        unsigned word = (k != C_SPACE) & (k != C_OTHER);
        /* a run of word characters is one token, any other non-space one each */
        tokens += word ? !in_word : k != C_SPACE;
        in_word = word;
        newlines += c == '\n';
        has_q |= c == '?';
        has_math |= (c == '$') | (c == '\\');
        last = c;
    }
    if (hi > lo) {
        size_t j = lo;
        first_upper = char_class(next_cp(p, hi, &j)) == C_UPPER;
    }
    for (int k = 0; k < N_CLASSES; k++) chars += cnt[k];
    size_t letters = cnt[C_UPPER] + cnt[C_LOWER];
    double n = chars ? (double)chars : 1.0;
    out[0] = (float)log1p((double)tokens);
    out[1] = last == '?';
    out[2] = (float)first_upper;
    out[3] = (float)((double)cnt[C_UPPER] / (double)(letters ? letters : 1));
    out[4] = (float)((double)cnt[C_DIGIT] / n);
    out[5] = (float)log1p((double)newlines);
    out[6] = (float)has_q;
    out[7] = (float)((double)(cnt[C_OTHER] + cnt[C_USCORE]) / n);
    out[8] = last == '.';
    out[9] = (float)has_math;
}
