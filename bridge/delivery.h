/* Deliveries: the core's bookkeeping for one message on one route, from the source's submit
 * to brg_source_done (DESIGN.md sections 3 and 7). This module owns a delivery's whole life:
 *
 *   creation      brg_delivery_new (the source's thread, in brg_source_submit): in-flight
 *                 credit taken;
 *   publishing    brg_delivery_publish to one sink, or brg_delivery_fanout: one copy (a child)
 *                 per sink when the route has more than one. A single-sink message travels
 *                 itself and never touches parent/pending/worst;
 *   outcome       brg_delivery_note_reason (first failure reason, kept with one compare-and-
 *                 swap: no lock), brg_delivery_complete (a copy's retry at its own sink, the
 *                 fan-out accounting: the source hears once, when the last copy settles, with
 *                 the worst outcome REJECTED > RETRY > ACCEPTED);
 *   parking       brg_delivery_hold: a fan-out copy whose destination is missing stays with
 *                 the parked route (its siblings' outcomes are kept in the parent); the route's
 *                 probe is the oldest held copy, and when it gets through the others go again.
 *                 Only unconfirmed copies are ever re-sent, and the source hears once, after
 *                 every copy is confirmed. A copy held when the route drains or stops
 *                 completes RETRY (the source keeps the message);
 *   settlement    brg_delivery_finish: route counters, then back to the source endpoint's
 *                 settled inbox; the source acts at its broker and calls brg_source_done,
 *                 which returns the credit and frees it;
 *   teardown      brg_delivery_abandon, for what is still queued at an endpoint that is being
 *                 destroyed: each delivery is released exactly once (a copy releases its parent
 *                 when it is the last one). Nothing was acknowledged for it: its source's
 *                 broker redelivers.
 *
 * The decisions about a settled message's route (dead letter, park, stop) stay in route.c
 * (brg_settle), which calls in here for the bookkeeping.
 */
#ifndef BRG_DELIVERY_H
#define BRG_DELIVERY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "bridge/adapter.h"

typedef struct brg_route brg_route_t;

typedef struct brg_delivery {
    brg_envelope_t *env;
    struct brg_delivery *next;   /* inbox link (bridge/inbox.h) */
    brg_route_t *rt;
    brg_source_t *src;           /* the source it came from (parents only) */
    brg_sink_t *sink;            /* where it is being published */
    struct brg_delivery *parent; /* fan-out child -> parent; NULL for a parent */
    atomic_int pending;          /* fan-out parent only: copies not yet settled */
    atomic_int worst;            /* fan-out parent only: worst copy outcome */
    size_t bytes;                /* accounted against max_in_flight_bytes */
    brg_outcome_t outcome;       /* set when it goes back to the source */
    bool dead_letter;            /* being published to the dead letter */
    bool loop_dropped;           /* dropped by loop prevention: not counted as accepted */
    bool probe;                  /* parent: the probe of a parked route */
    bool sent;                   /* parent: handed to its sink(s) (not filtered or dropped) */
    int attempts;
    _Atomic(char *) reason;      /* first failure reason (owned), set once */
} brg_delivery_t;

/* A new parent delivery for env, submitted by src: takes in-flight credit (count and bytes).
 * Ownership: env stays the caller's (the core's) and points at the delivery (env->dlv).
 * Thread: the source endpoint's. */
brg_delivery_t *brg_delivery_new(brg_source_t *src, brg_envelope_t *env);

/* Queue dlv for publishing at sink. Thread: any. */
void brg_delivery_publish(brg_delivery_t *dlv, brg_sink_t *sink);
/* Publish one copy of parent's envelope to each of the route's sinks (the route has more than
 * one). Thread: the source endpoint's. */
void brg_delivery_fanout(brg_delivery_t *parent);

/* Keep reason as the delivery's failure reason unless it has one. Lock-free. Thread: any. */
void brg_delivery_note_reason(brg_delivery_t *dlv, const char *reason);
/* Returns: the first failure reason, or NULL. */
const char *brg_delivery_reason(const brg_delivery_t *dlv);

/* dlv (a parent or a copy) reached its outcome at its sink: retry a copy at its own sink,
 * account a copy against its parent, or finish the parent. Thread: any. */
void brg_delivery_complete(brg_delivery_t *dlv, brg_outcome_t outcome);
/* The parent's fate is known: count it and hand it back to the source endpoint. Thread: any. */
void brg_delivery_finish(brg_delivery_t *dlv, brg_outcome_t outcome);

/* dlv's destination is missing or refuses and its route parked (brg_settle_unroutable, after
 * brg_route_park). A single-sink delivery goes back to its source as RETRY (the source keeps it
 * and redelivers the probe). A fan-out copy is held by the route, its parent unsettled: at the
 * tail, or at the head if it was the probe (and then the next retry is scheduled). If the
 * route resumed meanwhile the copy goes again at once; if it drains or stopped it completes
 * RETRY. Thread: any. */
void brg_delivery_hold(brg_delivery_t *dlv);
/* The parked route's retry is due: publish its oldest held copy as the probe, unless a probe is
 * out or another fan-out copy is still at a sink (it could overtake it there). Returns: true if
 * a probe went. Thread: any (the engine's timer). */
bool brg_delivery_probe_held(brg_route_t *rt);
/* A chain taken from rt->held (oldest first): publish each copy again to its own sink (the
 * route resumed), queued at the sinks when it returns (the calling thread's outbox flushed).
 * Thread: any, without rt->lock. */
void brg_delivery_resend_held(brg_delivery_t *chain);
/* A chain taken from rt->held: complete each copy RETRY (the route drains or stopped). Thread:
 * any, without rt->lock. */
void brg_delivery_release_held(brg_delivery_t *chain);
/* Take the chain of copies held while parked (oldest first), leaving none. Called under
 * rt->lock, in the same critical section as the state change that ends the park
 * (brg_delivery_hold reads the state under that lock). */
brg_delivery_t *brg_delivery_take_held_locked(brg_route_t *rt);
/* Schedule the parked route's next probe (its park backoff) and ask for the park tick. Called
 * under rt->lock. */
void brg_delivery_schedule_probe_locked(brg_route_t *rt);

/* Free the source's recycled deliveries. Thread: main, at endpoint teardown. */
void brg_delivery_source_fini(brg_source_t *src);

/* Release a delivery still queued at an endpoint being destroyed (see above). Thread: the
 * main thread, once the endpoint's thread has been joined. */
void brg_delivery_abandon(brg_delivery_t *dlv);

#endif
