/* The circuit breaker's state machine (see breaker.h). */
#include "upstream/breaker.h"

void tr_breaker_params_default(tr_breaker_params *p)
{
    p->failures = 5;
    p->cooldown_ms = 30000;
    p->cooldown_max_ms = 300000;
}

int tr_breaker_init(tr_breaker *b, const tr_breaker_params *p)
{
    b->state = TR_BREAKER_CLOSED;
    b->fails = 0;
    b->probing = 0;
    b->open_until = 0;
    b->cooldown = p->cooldown_ms;
    b->opens = 0;
    return pthread_mutex_init(&b->mu, NULL);
}

void tr_breaker_destroy(tr_breaker *b)
{
    pthread_mutex_destroy(&b->mu);
}

int tr_breaker_allow(tr_breaker *b, const tr_breaker_params *p, long long now_ms, int *probe)
{
    (void)p;
    int ok = 1;
    *probe = 0;
    pthread_mutex_lock(&b->mu);
    if (b->state == TR_BREAKER_OPEN && now_ms >= b->open_until) b->state = TR_BREAKER_HALF_OPEN;
    if (b->state == TR_BREAKER_OPEN) {
        ok = 0;
    } else if (b->state == TR_BREAKER_HALF_OPEN) {
        if (b->probing) ok = 0;
        else b->probing = *probe = 1;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void tr_breaker_success(tr_breaker *b, const tr_breaker_params *p, int probe)
{
    pthread_mutex_lock(&b->mu);
    b->fails = 0;
    if (probe || b->state == TR_BREAKER_HALF_OPEN) {
        b->state = TR_BREAKER_CLOSED;
        b->probing = 0;
        b->cooldown = p->cooldown_ms;
    }
    pthread_mutex_unlock(&b->mu);
}

static void open_now(tr_breaker *b, const tr_breaker_params *p, long long now_ms)
{
    b->state = TR_BREAKER_OPEN;
    b->open_until = now_ms + b->cooldown;
    b->probing = 0;
    b->fails = 0;
    b->opens++;
    long next = b->cooldown * 2;
    b->cooldown = next > p->cooldown_max_ms ? p->cooldown_max_ms : next;
}

void tr_breaker_failure(tr_breaker *b, const tr_breaker_params *p, int probe, long long now_ms)
{
    pthread_mutex_lock(&b->mu);
    if (probe && b->state == TR_BREAKER_HALF_OPEN) {
        open_now(b, p, now_ms);
    } else if (b->state == TR_BREAKER_CLOSED && p->failures > 0 && ++b->fails >= p->failures) {
        b->cooldown = p->cooldown_ms;
        open_now(b, p, now_ms);
    }
    pthread_mutex_unlock(&b->mu);
}

void tr_breaker_abandon(tr_breaker *b, int probe)
{
    if (!probe) return;
    pthread_mutex_lock(&b->mu);
    b->probing = 0;
    pthread_mutex_unlock(&b->mu);
}

int tr_breaker_state(tr_breaker *b, long long now_ms, unsigned long *opens)
{
    pthread_mutex_lock(&b->mu);
    int s = b->state == TR_BREAKER_OPEN && now_ms >= b->open_until ? TR_BREAKER_HALF_OPEN : b->state;
    if (opens) *opens = b->opens;
    pthread_mutex_unlock(&b->mu);
    return s;
}

const char *tr_breaker_state_name(int state)
{
    switch (state) {
    case TR_BREAKER_CLOSED: return "closed";
    case TR_BREAKER_OPEN: return "open";
    case TR_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}
