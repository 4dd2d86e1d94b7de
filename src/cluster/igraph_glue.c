/* igraph's process-wide state, tamed (see igraph_glue.h for why).
 * The error handler writes into a static buffer: that is safe only because
 * the global mutex admits one igraph user at a time. */
#include "cluster/igraph_glue.h"

#include <igraph.h>
#include <pthread.h>
#include <stdio.h>

#include "base/util.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_msg[512];

/* Record, free igraph's temporaries (the handler contract), never abort. */
static void glue_error_handler(const char *reason, const char *file, int line,
                               igraph_error_t igraph_errno)
{
    snprintf(g_msg, sizeof g_msg, "%s (%s, %s:%d)", reason ? reason : "?",
             igraph_strerror(igraph_errno), file ? file : "?", line);
    IGRAPH_FINALLY_FREE();
}

static void glue_warning_handler(const char *reason, const char *file, int line)
{
    (void)reason; (void)file; (void)line;
}

static void glue_install(void)
{
    igraph_set_error_handler(glue_error_handler);
    igraph_set_warning_handler(glue_warning_handler);
}

void tr_igraph_lock(void)
{
    pthread_once(&g_once, glue_install);
    pthread_mutex_lock(&g_lock);
    g_msg[0] = '\0';
}

void tr_igraph_unlock(void)
{
    pthread_mutex_unlock(&g_lock);
}

void tr_igraph_seed(uint64_t seed)
{
    igraph_rng_seed(igraph_rng_default(), (igraph_uint_t)seed);
}

const char *tr_igraph_last_error(void)
{
    return g_msg;
}

int tr_igraph_check(int igraph_rc, const char *what, char *err, size_t errlen)
{
    if (igraph_rc == IGRAPH_SUCCESS) return TR_OK;
    int code = igraph_rc == IGRAPH_ENOMEM ? TR_ENOMEM : TR_EDEP;
    return tr_errorf(err, errlen, code, "%s: igraph: %s", what ? what : "igraph",
                     g_msg[0] ? g_msg : igraph_strerror((igraph_error_t)igraph_rc));
}
