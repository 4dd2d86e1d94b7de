/* Defaults that more than one part of the project states (the CLI's option
 * parsing and --help, the server, the library): each value once, here.
 * Options with a *_default() function in the library (tr_train_options,
 * tr_warm_params, tr_online_params, ...) keep their defaults in that
 * function, and the CLI's --help prints them from it. */
#ifndef TR_DEFAULTS_H
#define TR_DEFAULTS_H

/* `taskroute serve` (tr_server_config) */
#define TR_DEFAULT_LISTEN_HOST "127.0.0.1"
#define TR_DEFAULT_LISTEN_PORT 8080
#define TR_DEFAULT_MAX_BODY ((size_t)1 << 20)           /* request body bytes */
#define TR_DEFAULT_FEEDBACK_ROTATE ((size_t)64 << 20)   /* feedback log bytes before rotation */
#define TR_DEFAULT_CONN_TIMEOUT_S 15u                   /* idle or stalled connection */
#define TR_DEFAULT_REQUEST_TIMEOUT_S 10u                /* a request's headers and body arrive */
#define TR_DEFAULT_MAX_CONNS 4000u                      /* open connections, all clients */
#define TR_DEFAULT_MAX_CONNS_PER_CLIENT 256u            /* open connections per client address */
#define TR_DEFAULT_RELOAD_WAIT_S 2.0                    /* POST /admin/reload's wait before 202 */
#define TR_DEFAULT_GRACE_S 10.0                         /* in-flight work on SIGTERM */
#define TR_DEFAULT_ONLINE_SAVE_EVERY 100ul              /* online state saved every N updates */
#define TR_DEFAULT_ONLINE_MEMORY ((size_t)65536)        /* request ids remembered for feedback */

/* `taskroute train --warm-start`: the regression guard's tolerance on
 * AIQ(log) and Q@C_best (retrain/regress_guard.h) */
#define TR_DEFAULT_MAX_REGRESSION 0.01

#endif
