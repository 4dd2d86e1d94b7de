/* The one gate to igraph.  igraph 0.10 aborts the process on error by
 * default, keeps a global RNG and is built without thread safety, so every
 * call into igraph from taskroute goes through here: a global mutex
 * serialises igraph use, and while it is held our error handler records
 * igraph's message instead of aborting, warnings are quieted and igraph's
 * default RNG is our own generator, which tr_igraph_seed() reseeds before
 * each randomised call so results never depend on what ran before.
 * Unlocking puts back the handlers and the default RNG (state included)
 * that the process had: a program using igraph itself keeps its settings. */
#ifndef TR_IGRAPH_GLUE_H
#define TR_IGRAPH_GLUE_H

#include <stddef.h>
#include <stdint.h>

/* Take the global igraph lock and install our handlers and RNG.  Every
 * igraph call, including igraph_*_destroy, must run between
 * tr_igraph_lock() and tr_igraph_unlock() on the same thread. */
void tr_igraph_lock(void);
/* Put the process's handlers and default RNG back; release the lock. */
void tr_igraph_unlock(void);

/* Reseed our RNG (igraph's default while the lock is held).  Call with
 * the lock held, right before every randomised igraph call. */
void tr_igraph_seed(uint64_t seed);

/* Map an igraph status to ours: IGRAPH_SUCCESS -> TR_OK; IGRAPH_ENOMEM ->
 * TR_ENOMEM; anything else -> TR_EDEP with "what: igraph: <igraph's
 * message> (<file>:<line>)" written to err.  Call with the lock held. */
int tr_igraph_check(int igraph_rc, const char *what, char *err, size_t errlen);

/* The last message igraph's error handler recorded ("" if none); borrowed,
 * valid until the next igraph call.  Call with the lock held. */
const char *tr_igraph_last_error(void);

#endif
