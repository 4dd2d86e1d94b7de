/* The cascade's order of models for one prompt, from the router's
 * predictions: first the cheapest model whose predicted quality is within
 * `tolerance` of the best allowed model's, or the model the router chose
 * (`start`), then, step by step, the cheapest model predicted better than
 * the last one, up to the best.  Each
 * escalation thus buys predicted quality; the chain ends at the model
 * quality routing would pick.  The server's cascade and the offline
 * threshold tuning (eval/cascade_tune.h) both walk this chain. */
#ifndef TR_ROUTE_CASCADE_H
#define TR_ROUTE_CASCADE_H

#include <stddef.h>

/* q, c: n predicted qualities and costs (NaN: no prediction, skipped);
 * allowed: n flags or NULL (all); start: the first model when it is >= 0
 * and usable (tolerance is then unused), else -1.  Writes at most cap
 * model indices to chain and returns how many (0 when no allowed model has
 * a prediction). */
size_t tr_cascade_chain(const float *q, const float *c, const unsigned char *allowed, size_t n, double tolerance,
                        int start, int *chain, size_t cap);

#endif
