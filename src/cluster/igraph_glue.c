/* igraph's process-wide state, tamed (see igraph_glue.h for why).
 * The error handler writes into a static buffer, and the process's
 * handlers and RNG wait in statics while ours are installed: that is safe
 * only because the global mutex admits one igraph user at a time. */
#include "cluster/igraph_glue.h"

#include <igraph.h>
#include <pthread.h>
#include <stdio.h>

#include "base/util.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_msg[512];
/* Our generator: PCG32, igraph 0.10's own default, so communities are the
 * ones igraph's default generator gave for a seed.  Initialised once; lives
 * as long as the process. */
static igraph_rng_t g_rng;
static int g_rng_ok;
/* the process's, while ours are installed (igraph_rng_set_default copies) */
static igraph_error_handler_t *g_saved_error;
static igraph_warning_handler_t *g_saved_warning;
static igraph_rng_t g_saved_rng;

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

static void glue_init(void)
{
    /* igraph_rng_init reports failure (out of memory) through the error
     * handler, so ours must be in place */
    igraph_error_handler_t *prev = igraph_set_error_handler(glue_error_handler);
    g_rng_ok = igraph_rng_init(&g_rng, &igraph_rngtype_pcg32) == IGRAPH_SUCCESS;
    igraph_set_error_handler(prev);
}

void tr_igraph_lock(void)
{
    pthread_once(&g_once, glue_init);
    pthread_mutex_lock(&g_lock);
    g_msg[0] = '\0';
    g_saved_error = igraph_set_error_handler(glue_error_handler);
    g_saved_warning = igraph_set_warning_handler(glue_warning_handler);
    g_saved_rng = *igraph_rng_default();
    /* without our generator (no memory for it at the first use), igraph's
     * default serves, and reseeding it changes the process's stream */
    if (g_rng_ok) igraph_rng_set_default(&g_rng);
}

void tr_igraph_unlock(void)
{
    if (g_rng_ok) {
        g_rng = *igraph_rng_default();   /* the state is shared; the seeded flag may have changed */
        igraph_rng_set_default(&g_saved_rng);
    }
    igraph_set_warning_handler(g_saved_warning);
    igraph_set_error_handler(g_saved_error);
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
