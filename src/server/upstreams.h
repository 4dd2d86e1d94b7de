/* The proxy's upstream table (--upstreams FILE):
 *   {"models": {"gpt-x": {"base_url": "http://127.0.0.1:9001/v1",
 *                         "model": "upstream-name", "api_key_env": "X_KEY"}},
 *    "fallback": "gpt-y", "timeout_ms": 30000}
 * Keys of "models" are router model names; "model" (default: the key) is the
 * name sent upstream; the key is read from the environment once, at start,
 * and sent as "Authorization: Bearer <key>".  Requests go to
 * base_url + "/chat/completions". */
#ifndef TR_SERVER_UPSTREAMS_H
#define TR_SERVER_UPSTREAMS_H

#include <stddef.h>

typedef struct tr_upstream {
    char *name;         /* router model name */
    char *url;          /* base_url + "/chat/completions" */
    char *model;        /* name sent upstream */
    char *auth_header;  /* "Authorization: Bearer ..." or NULL */
} tr_upstream;

typedef struct tr_upstreams {
    tr_upstream *u;
    size_t n;
    int fallback;       /* index in u, or -1 */
    long timeout_ms;    /* [30000] */
} tr_upstreams;

/* Load and validate path.  fallback_override (borrowed, may be NULL)
 * replaces the file's "fallback".  *out owned by the caller:
 * tr_upstreams_free.  Messages name the file and the field. */
int tr_upstreams_load(const char *path, const char *fallback_override, tr_upstreams **out,
                      char *err, size_t errlen);
void tr_upstreams_free(tr_upstreams *u);
/* Index of the upstream for router model 'name', or -1. */
int tr_upstreams_find(const tr_upstreams *u, const char *name);

#endif
