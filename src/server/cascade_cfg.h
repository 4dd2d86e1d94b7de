/* The cascade's settings (`taskroute:cascade`, serve --policy cascade):
 * defaults, or the file `taskroute tune-cascade` writes (serve --cascade
 * FILE; docs/cascade.md has the format):
 *   {"tolerance": T | "start": "router", "threshold": C, "max_steps": N,
 *    "k": K, "verifier": "model name" | null, ...}
 * Other keys (what the tuning measured) are kept for people, not read. */
#ifndef TR_SERVER_CASCADE_CFG_H
#define TR_SERVER_CASCADE_CFG_H

#include <stddef.h>

typedef struct tr_cascade_cfg {
    double tolerance;     /* the first model's distance from the best predicted quality [0.05] */
    int from_router;      /* 1: the chain starts at the request's routing decision ("start": "router") */
    double threshold;     /* verifier confidence needed to accept [0.5] */
    int max_steps;        /* models that may answer, 1..16 [3] */
    int k;                /* verification samples, 1..16 [4] */
    char verifier[128];   /* an upstream table entry that verifies every answer; "" = the answering model */
} tr_cascade_cfg;

void tr_cascade_cfg_default(tr_cascade_cfg *c);
/* Read path into *c (defaults for absent keys).  0, or -1 with msg naming
 * the file and the field. */
int tr_cascade_cfg_load(const char *path, tr_cascade_cfg *c, char *msg, size_t msglen);

#endif
