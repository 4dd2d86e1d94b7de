/* Growing exposition text (see prom_text.h). */
#include "base/prom_text.h"

#include <stdarg.h>
#include <stdio.h>

void tr_prom_put(tr_prom_text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->p && (size_t)n < t->cap - t->len) { t->len += (size_t)n; return; }
        size_t cap = t->cap * 2 + (size_t)n + 1024;
        char *p = tr_realloc(t->p, cap);
        if (!p) { t->failed = 1; return; }
        t->p = p;
        t->cap = cap;
    }
}

void tr_prom_label(tr_prom_text *t, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\') tr_prom_put(t, "\\\\");
        else if (*s == '"') tr_prom_put(t, "\\\"");
        else if (*s == '\n') tr_prom_put(t, "\\n");
        else tr_prom_put(t, "%c", *s);
    }
}
