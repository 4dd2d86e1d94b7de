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

static char tu_tmp_dir[64];

static inline void tu_tmp_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "testutil: could not remove %s\n", tu_tmp_dir);
}

/* A fresh path in a per-process temp directory; the file is not created.
 * The directory is new and empty (mkdtemp: one named after the pid alone
 * was found again, with an earlier test's files, once the pid came round)
 * and is removed at exit. */
static inline const char *tu_tmp(const char *name)
{
    static char path[512];
    if (!tu_tmp_dir[0]) {
        snprintf(tu_tmp_dir, sizeof tu_tmp_dir, "/tmp/trtest.%ld.XXXXXX", (long)getpid());
        if (!mkdtemp(tu_tmp_dir)) { tu_tmp_dir[0] = 0; return NULL; }
        atexit(tu_tmp_remove);
    }
    snprintf(path, sizeof path, "%s/%s", tu_tmp_dir, name);
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
