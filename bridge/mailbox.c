/* An endpoint's mailbox, the hand-off between threads: deliveries go into a destination
 * endpoint's publish inbox or back to their source endpoint's settled inbox (bridge/inbox.h:
 * intrusive, lock-free, batch push and take-all) and wake it through its eventfd; the endpoint
 * thread takes them one by one. Below both the delivery module (which hands deliveries on) and
 * endpoint.c (which runs the thread): neither calls the other for it. */
#include "bridge/mailbox.h"

#include <unistd.h>

#include "bridge/endpoint.h"

void brg_endpoint_wake(brg_endpoint_t *ep)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter would overflow: the fd is readable then anyway. */
    ssize_t w = write(ep->wakefd, &one, sizeof(one));
    (void)w;
    if (ep->adapter->wake && ep->state) {
        ep->adapter->wake(ep->state);
    }
}

/* ---- the outbox --------------------------------------------------------------------------
 * An endpoint thread does not push each delivery to its destination's inbox at once: it
 * collects them per destination (endpoint and queue) in a per-thread outbox and pushes each
 * destination's chain as one batch, with at most one wake. The outbox is flushed when the
 * thread takes from its own mailbox (brg_endpoint_take_* finding nothing left, clear_wake),
 * when a chain reaches OUTBOX_BATCH, before the thread blocks (brg_endpoint_flush, which every
 * adapter calls before its blocking wait; brg_endpoint_sleep does it itself) and when run()
 * returns. Threads that are not endpoint threads (the timer, the HTTP server, the main thread,
 * library callback threads) have no outbox and push directly. */

/* Destinations one endpoint thread feeds at once: typically one or two sinks and its own
 * sources' settlements. More than this flushes the oldest first. */
#define OUTBOX_SLOTS 8
/* A longer chain is pushed at once: bounds the delay of the first message of a long burst. */
#define OUTBOX_BATCH 256

typedef struct outbox_slot {
    brg_endpoint_t *ep;
    bool settled; /* the settled queue, else the publish queue */
    brg_dchain_t chain;
} outbox_slot_t;

typedef struct outbox {
    bool active; /* this thread is an endpoint thread */
    size_t n;
    outbox_slot_t slot[OUTBOX_SLOTS];
} outbox_t;

static _Thread_local outbox_t outbox;

static void push_chain(brg_endpoint_t *ep, bool settled, brg_dchain_t *c)
{
    if (brg_inbox_push_chain(settled ? &ep->settled : &ep->publish, c)) {
        brg_endpoint_wake(ep);
    }
}

static void outbox_flush_slot(size_t i)
{
    outbox_slot_t *sl = &outbox.slot[i];
    push_chain(sl->ep, sl->settled, &sl->chain);
}

static void outbox_flush(void)
{
    for (size_t i = 0; i < outbox.n; i++) {
        outbox_flush_slot(i);
    }
    outbox.n = 0;
}

void brg_endpoint_flush(brg_endpoint_t *ep)
{
    (void)ep;
    outbox_flush();
}

static void outbox_add(brg_endpoint_t *ep, bool settled, brg_delivery_t *dlv)
{
    if (!outbox.active) {
        brg_dchain_t c = {0};
        brg_dchain_add(&c, dlv);
        push_chain(ep, settled, &c);
        return;
    }
    size_t i = 0;
    while (i < outbox.n && (outbox.slot[i].ep != ep || outbox.slot[i].settled != settled)) {
        i++;
    }
    if (i == OUTBOX_SLOTS) {
        outbox_flush();
        i = 0;
    }
    if (i == outbox.n) {
        outbox.slot[i] = (outbox_slot_t){ep, settled, {0}};
        outbox.n++;
    }
    brg_dchain_add(&outbox.slot[i].chain, dlv);
    if (outbox.slot[i].chain.len >= OUTBOX_BATCH) {
        outbox_flush_slot(i);
    }
}

void brg_endpoint_push_publish(brg_endpoint_t *ep, brg_delivery_t *dlv)
{
    outbox_add(ep, false, dlv);
}

void brg_endpoint_push_settled(brg_endpoint_t *ep, brg_delivery_t *dlv)
{
    outbox_add(ep, true, dlv);
}

/* The next delivery of a mailbox queue: what was taken before, else everything queued now. */
static brg_delivery_t *take_next(brg_inbox_t *ib, brg_dfifo_t *taken)
{
    if (!taken->head) {
        /* What this thread produced while working through its last batch goes out now: the
         * adapter may block once it finds nothing more to take. */
        outbox_flush();
        brg_inbox_take_all(ib, taken);
    }
    return brg_dfifo_pop(taken);
}

brg_envelope_t *brg_endpoint_take_publish(brg_endpoint_t *ep, brg_sink_t **sink)
{
    brg_delivery_t *d = take_next(&ep->publish, &ep->taken_publish);
    if (!d) {
        return NULL;
    }
    if (sink) {
        *sink = d->sink;
    }
    return d->env;
}

brg_envelope_t *brg_endpoint_take_settled(brg_endpoint_t *ep, brg_outcome_t *outcome)
{
    brg_delivery_t *d = take_next(&ep->settled, &ep->taken_settled);
    if (!d) {
        return NULL;
    }
    if (outcome) {
        *outcome = d->outcome;
    }
    return d->env;
}

void brg_endpoint_clear_wake(brg_endpoint_t *ep)
{
    outbox_flush();
    uint64_t v;
    ssize_t r = read(ep->wakefd, &v, sizeof(v));
    (void)r;
}

void brg_mailbox_thread_begin(void)
{
    outbox.active = true;
}

void brg_mailbox_thread_end(void)
{
    outbox_flush();
    outbox.active = false;
}
