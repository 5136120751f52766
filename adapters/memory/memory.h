/* The memory adapter: an in-process source and sink whose behaviour tests script
 * (accept, retry, reject, settle late), like skupper-router's test adaptor. Also usable from a
 * config for demos: a source with `count` generates messages, a sink counts them.
 * Thread: every function here may be called from any thread. */
#ifndef BRG_MEMORY_H
#define BRG_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/adapter.h"

typedef struct brg_memory brg_memory_t;

/* A script's fourth answer: the destination is unusable (brg_settle_unroutable), as a broker
 * says NO_ROUTE or not-found. Not a value the core ever passes to a source. */
#define BRG_MEMORY_UNROUTABLE ((brg_outcome_t)100)

/* Decide the outcome for an envelope the sink received: one of brg_outcome_t or
 * BRG_MEMORY_UNROUTABLE. attempt counts deliveries of the same source sequence number (1 the
 * first time; with `record = false`, 2 for any redelivery). */
typedef brg_outcome_t(brg_memory_script_fn)(const brg_envelope_t *env, unsigned attempt,
                                             void *ctx);

/* The memory state of an endpoint of type "memory" (after the engine started it). */
brg_memory_t *brg_memory_of(brg_endpoint_t *ep);

/* Source: queue an envelope for the endpoint's first source. Its src_seq is assigned here
 * (1, 2, ...). Ownership: moves to the adapter. */
void brg_memory_inject(brg_memory_t *m, brg_envelope_t *env);
/* Source: sequence numbers acknowledged (settled ACCEPTED), in acknowledgement order. With the
 * endpoint's `record = false` only the count is kept (acked_seq returns 0). */
size_t brg_memory_acked_count(brg_memory_t *m);
uint64_t brg_memory_acked_seq(brg_memory_t *m, size_t i);
/* Source: settles seen by outcome, and the most envelopes ever in flight at once. */
size_t brg_memory_retried_count(brg_memory_t *m);
size_t brg_memory_rejected_count(brg_memory_t *m);
size_t brg_memory_max_in_flight(brg_memory_t *m);
/* Source: messages not yet submitted (backpressure keeps them here). */
size_t brg_memory_pending(brg_memory_t *m);

/* Sink: script outcomes (NULL: the endpoint's `outcome`, default accept) and a settle delay. */
void brg_memory_set_script(brg_memory_t *m, brg_memory_script_fn *fn, void *ctx);
void brg_memory_set_settle_delay(brg_memory_t *m, uint32_t ms);
/* Sink: envelopes settled ACCEPTED, in order (copies owned by the adapter, valid until the
 * engine is destroyed). With `record = false` only the count is kept (received returns NULL). */
size_t brg_memory_received_count(brg_memory_t *m);
const brg_envelope_t *brg_memory_received(brg_memory_t *m, size_t i);
/* Sink: every delivery attempt, accepted or not. */
size_t brg_memory_delivery_count(brg_memory_t *m);

/* Wait until fn(m) is true or timeout. Returns: true if it became true. */
bool brg_memory_wait(brg_memory_t *m, bool (*fn)(brg_memory_t *m, void *arg), void *arg,
                     uint32_t timeout_ms);

extern const brg_adapter_t brg_memory_adapter;

#endif
