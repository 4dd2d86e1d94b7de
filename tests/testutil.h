/* Shared by the unit tests: cmocka, paths to the shared data, temp files. */
#ifndef TR_TESTUTIL_H
#define TR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "taskroute.h"

/* The real datasets live beside the project (../shared/data); tests that need
 * them call skip() with a message when they are absent. */
static inline const char *tu_shared(const char *name)
{
    static char path[4096];
    const char *dir = getenv("TR_SHARED_DATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/data", name);
    return access(path, R_OK) == 0 ? path : NULL;
}

/* A fresh path in a per-process temp directory; the file is not created. */
static inline const char *tu_tmp(const char *name)
{
    static char dir[256];
    static char path[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/trtest.%ld", (long)getpid());
        char cmd[300];
        snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
        if (system(cmd) != 0) return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Write a string to a file; returns the path. */
static inline const char *tu_write(const char *name, const char *text)
{
    const char *p = tu_tmp(name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

/* 1 when running under valgrind or a sanitizer: heavy tests shrink. */
static inline int tu_slow_mode(void)
{
    return getenv("TR_VALGRIND") != NULL || getenv("TR_SANITIZED") != NULL;
}

#endif
