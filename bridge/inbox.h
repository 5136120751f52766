/* Inboxes: the hand-off of deliveries between threads (DESIGN.md section 7).
 *
 * An inbox is an intrusive, multi-producer single-consumer FIFO: the link lives in the delivery
 * (brg_delivery_t.next), so queueing allocates nothing. Producers on any thread push a chain of
 * deliveries at once (brg_inbox_push_chain); the one consumer takes everything queued at once
 * (brg_inbox_take_all). Like librdkafka's rd_kafka_msgq_t, messages move between queues by
 * splicing, never one node allocation at a time.
 *
 * How it works: the shared part is a lock-free stack (Treiber) of deliveries, newest first.
 * A producer links its chain (kept newest first, see brg_dchain_t) on top of the current head
 * with one compare-and-swap; the consumer swaps the head with NULL (taking all: no ABA problem,
 * since nothing is ever popped singly) and reverses what it got, which restores the order of
 * the pushes. Every producer's own order is kept, and so is the order between its batches.
 *
 * One wake per batch: an inbox has a `signalled` flag. A producer, after its push, sets it with
 * an atomic exchange and only if it was clear wakes the consumer (eventfd write plus the
 * adapter's wake hook, done by the caller: brg_inbox_push_chain returns true then). The
 * consumer clears the flag before it takes. No wake is lost (all operations seq_cst, one
 * total order S):
 *   - A producer that finds the flag clear wakes the consumer after its push; the consumer,
 *     once woken, clears and takes, and that take comes after the push: it sees it.
 *   - A producer X that finds the flag set: let X' be the last producer before X, in the
 *     flag's modification order, that found it clear (one exists: only a producer finding it
 *     clear sets it after a clear). X' wakes the consumer after X', so the consumer clears
 *     (C) and takes (T) after X'. No clear lies between X' and X (X read "set"), so C comes
 *     after X in S, and X's push comes before X: push < X < C < T, the take sees the push.
 * So a consumer that, after every wake, clears and takes every inbox it has never leaves a
 * delivery queued while it sleeps. check_inbox hammers this with threads and an eventfd.
 *
 * Thread: push from any thread; take and the consumer-side functions from the owner only.
 */
#ifndef BRG_INBOX_H
#define BRG_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "bridge/adapter.h"

struct brg_delivery;

typedef struct brg_inbox {
    _Atomic(struct brg_delivery *) head; /* newest first */
    atomic_bool signalled;
} brg_inbox_t;

/* A private chain of deliveries, built by one thread before it is pushed: newest first
 * (head), oldest last (tail), linked through brg_delivery_t.next. Also the consumer's FIFO of
 * what it took, then oldest first. Zero-initialised is empty. */
typedef struct brg_dchain brg_dchain_t; /* defined in adapter.h as brg_envq_t */
typedef brg_dchain_t brg_dfifo_t;

void brg_inbox_init(brg_inbox_t *ib);

/* Append d to a chain that will be pushed (newest first). Thread: the chain's owner. */
void brg_dchain_add(brg_dchain_t *c, struct brg_delivery *d);

/* Push every delivery of c (emptied) in the order they were added.
 * Returns: true if the caller must wake the consumer (the inbox was not signalled).
 * Thread: any. */
bool brg_inbox_push_chain(brg_inbox_t *ib, brg_dchain_t *c);
/* Push one delivery. Returns: as brg_inbox_push_chain. Thread: any. */
bool brg_inbox_push(brg_inbox_t *ib, struct brg_delivery *d);

/* Clear the flag, then take everything queued, oldest first, appended to out (a FIFO: use
 * brg_dfifo_pop). Returns: how many were taken. Thread: the consumer. */
size_t brg_inbox_take_all(brg_inbox_t *ib, brg_dfifo_t *out);

/* A plain single-thread FIFO of deliveries on the same link (what adapters keep for what they
 * took: no node allocation). push appends, pop takes the oldest, NULL when empty. */
void brg_dfifo_push(brg_dfifo_t *q, struct brg_delivery *d);
struct brg_delivery *brg_dfifo_pop(brg_dfifo_t *q);

#endif
