/* An endpoint's mailbox (bridge/mailbox.c): handing deliveries to an endpoint thread in
 * batches. The adapter-facing half (take, flush, wake, clear_wake) is declared in
 * bridge/adapter.h; this is the core's half. */
#ifndef BRG_MAILBOX_H
#define BRG_MAILBOX_H

#include "bridge/adapter.h"

struct brg_delivery;

/* Queue a delivery for publishing at ep / hand a settled one back to its source endpoint ep.
 * On an endpoint thread it goes into that thread's outbox and is pushed with the rest of its
 * batch (brg_endpoint_flush); elsewhere it is pushed at once. The endpoint is woken once per
 * batch. Thread: any. */
void brg_endpoint_push_publish(brg_endpoint_t *ep, struct brg_delivery *dlv);
void brg_endpoint_push_settled(brg_endpoint_t *ep, struct brg_delivery *dlv);

/* The calling thread is an endpoint thread from now on (it batches in an outbox) / no longer
 * (what its outbox holds is pushed first). Thread: the endpoint thread itself. */
void brg_mailbox_thread_begin(void);
void brg_mailbox_thread_end(void);

#endif
