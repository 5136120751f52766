/* The adapter contract: the one header an adapter needs (DESIGN.md sections 2, 3 and 7).
 *
 * An adapter is the code for one protocol. Each configured endpoint runs on its own thread:
 * the core calls adapter->run() there, and everything the adapter does with its broker
 * connection happens on that thread. The core talks to the endpoint through a mailbox with two
 * queues, drained by the adapter on its own thread:
 *
 *   publish queue: envelopes routed to this endpoint as a sink. The adapter publishes each one
 *                  and, once the broker confirmed (or refused), calls brg_settle() exactly once.
 *   settled queue: envelopes this endpoint produced as a source, coming back with the
 *                  outcome of their sinks. The adapter acknowledges (or redelivers) at its
 *                  broker, then calls brg_source_done().
 *
 * When a queue of the mailbox goes from "taken" to "has work" the core writes to the endpoint's
 * eventfd (brg_endpoint_wakefd) and calls adapter->wake(state) if set, once per batch, so an
 * adapter can block in poll(2), in pn_proactor_wait, or in rd_kafka_consumer_poll and still
 * react at once. After each wake an adapter takes from both queues until they return NULL, or
 * until it has no room: it is not woken again for what is already queued.
 * What an endpoint thread submits and settles is handed over in batches too (a per-thread
 * outbox): the adapter calls brg_endpoint_flush() right before any wait that may block.
 *
 * Delivery is at-least-once: a source acknowledges only after the outcome comes back.
 *   ACCEPTED  every sink (or the dead letter) confirmed: acknowledge at the source.
 *   RETRY     transient failure: redeliver (nack+requeue, release, seek back), keep order.
 *   REJECTED  permanent failure and the route has no dead letter: the route has been stopped
 *             by the core; do NOT acknowledge (the source keeps the message).
 *
 * A sink settles with one of the same three outcomes, plus one class of its own: UNROUTABLE
 * (brg_settle_unroutable), the destination cannot take anything right now (RabbitMQ NO_ROUTE or
 * exchange NOT_FOUND, amqp:not-found, an unknown Kafka topic or partition, access refused), as
 * opposed to REJECTED, the message itself is at fault (too large, unmappable, content refused).
 * The core then dead-letters the message or parks the route (`on_unroutable`); the source only
 * ever sees one of the three outcomes above (RETRY when the route parks).
 */
#ifndef BRG_ADAPTER_H
#define BRG_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/conf_node.h"
#include "bridge/clock.h"
#include "bridge/envelope.h"
#include "bridge/err.h"
#include "bridge/log.h"
#include "mappings/template.h"

typedef struct brg_endpoint brg_endpoint_t;
struct brg_metrics_out;
typedef struct brg_source brg_source_t; /* one route's `from`, bound to this endpoint */
typedef struct brg_sink brg_sink_t;     /* one route's `to` (or dead_letter), bound here */

typedef enum brg_outcome {
    BRG_ACCEPTED = 0,
    BRG_RETRY,
    BRG_REJECTED,
} brg_outcome_t;

/* Returns: "accepted", "retry", "rejected". */
const char *brg_outcome_name(brg_outcome_t o);

#define BRG_CAP_SOURCE 0x1u
#define BRG_CAP_SINK 0x2u

typedef struct brg_adapter {
    const char *name;        /* the endpoint `type` ("kafka") */
    const char *description; /* one line for --help and -t */
    unsigned caps;           /* BRG_CAP_SOURCE | BRG_CAP_SINK */

    /* Keys accepted in the endpoint group (besides `name` and `type`), in a route's `from`
     * group and in a route's `to` / `dead_letter` group (besides `endpoint`). Terminated by
     * an entry with name == NULL. Template keys are compiled by the core at load. */
    const brg_conf_key_t *endpoint_keys;
    const brg_conf_key_t *source_keys;
    const brg_conf_key_t *sink_keys;

    /* Pass 4 of the config load: adapter-specific checks (for example that librdkafka accepts
     * each property, that a regex compiles, that exactly one of `topic`/`topics` is set).
     * Report every problem with brg_diag_error(d, node, ...). Each may be NULL.
     * Thread: main thread, before anything runs. */
    void (*check_endpoint)(const brg_conf_node_t *ep_cs, brg_diag_t *d);
    void (*check_source)(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, brg_diag_t *d);
    void (*check_sink)(const brg_conf_node_t *ep_cs, const brg_conf_node_t *to_cs, brg_diag_t *d);
    /* Optional: a route whose source and sink are both of this adapter: does the sink write
     * into the stream the source reads (a loop: RabbitMQ's default exchange with a routing key
     * equal to the source queue; Kafka the same brokers and topic)? The core already warns
     * when both name the same endpoint and a key of the same name has the same value.
     * Returns: the sink node to point the warning at, or NULL. Thread: main thread. */
    const brg_conf_node_t *(*writes_to_source)(const brg_conf_node_t *src_ep_cs, const brg_conf_node_t *from_cs,
                                         const brg_conf_node_t *sink_ep_cs, const brg_conf_node_t *to_cs);

    /* Optional, both or neither: compile the endpoint's own settings (URL, credentials, TLS
     * files, client properties) once, at load, after check_endpoint (whatever it found), into
     * what open() and run() use, so that nothing is parsed twice and nothing fails later that
     * the load could have reported with its FILE:LINE. Report every problem with
     * brg_diag_error() and return NULL. Ownership: the loaded configuration keeps the result
     * and frees it with free_settings() when it is destroyed, after every endpoint made from
     * it has closed; the endpoint reads it with brg_endpoint_settings(). Thread: main thread. */
    void *(*compile_endpoint)(const brg_conf_node_t *ep_cs, brg_diag_t *d);
    void (*free_settings)(void *settings);
    /* Create the endpoint's state. No network I/O is required here (run() connects).
     * Ownership: *statep belongs to the adapter until close().
     * Thread: main thread. Returns: BRG_OK or an error described in errstr. */
    brg_err_t (*open)(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size);

    /* The endpoint thread's body: connect, move messages, reconnect forever with backoff
     * (brg_backoff_*), and return once brg_endpoint_stopping(ep) is true, after acknowledging
     * what was settled and flushing what it can. Returning an error before stopping is a bug
     * or a fatal condition: the core logs it and calls run() again after a backoff.
     * When run() returns for stopping, every envelope taken with brg_endpoint_take_publish()
     * must have been settled (RETRY if its confirm never came), and every settled envelope
     * taken must have been passed to brg_source_done().
     * Thread: the endpoint's own thread. */
    brg_err_t (*run)(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size);

    /* Optional: make a blocked run() return to its loop soon. Must not block.
     * Thread: any. */
    void (*wake)(void *state);

    /* Free the state. Thread: main thread, after run() returned for the last time. */
    void (*close)(void *state);

    /* Optional, all four or none: routes added to and removed from the running endpoint by a
     * reload, leaving the connection and every other source and sink alone (without them, a
     * reload that changes a route on this endpoint restarts it: bridge/reload_plan.h).
     * add_source / add_sink: the adapter takes up a new source or sink (at once when
     * connected, else when it connects); an error stops that route with errstr.
     * remove_source / remove_sink: the route was drained first (nothing of it is in flight);
     * the adapter stops reading for the source (gives back, as on a disconnect, what the broker
     * may still push) and keeps no pointer to either once it returns.
     * Thread: the endpoint's thread, from brg_endpoint_sync_routes() or between two run()s. */
    brg_err_t (*add_source)(void *state, brg_source_t *src, char *errstr, size_t errstr_size);
    void (*remove_source)(void *state, brg_source_t *src);
    brg_err_t (*add_sink)(void *state, brg_sink_t *sink, char *errstr, size_t errstr_size);
    void (*remove_sink)(void *state, brg_sink_t *sink);

    /* Optional: append adapter-specific Prometheus metrics (each family's # HELP and # TYPE
     * once, then samples for every endpoint in eps) with brg_metrics_printf(). Called once per
     * adapter per scrape with all its endpoints. Thread: the HTTP thread, while run() goes on:
     * read only what is safe to read concurrently (atomics, or copies under a lock). */
    void (*metrics)(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out);

    /* Optional: the default window of routes reading from this adapter, in bytes, for sources
     * that read ahead in bulk (Kafka) and would be braked by a window counted in messages.
     * When source_record_cost is not 0, a route that sets neither key gets max_in_flight_bytes
     * = source_window_bytes (if not 0) and max_in_flight = max_in_flight_bytes /
     * source_record_cost (the memory a record in flight costs at least, whatever its size),
     * within 1..1000000. A key the user sets is kept as it is. */
    size_t source_window_bytes;
    size_t source_record_cost;

    /* Optional: how many messages in flight keep this adapter's destinations busy (about its
     * rate times its confirm round trip), 0 for no bound. A route whose max_in_flight is
     * derived from its source's byte window (above) takes no more than the smallest
     * sink_window of its sinks: a broker that confirms some 15k messages a second gains
     * nothing from 5242 in flight, and each costs memory (the AMQP 1.0 sink keeps a proton
     * delivery per unsettled message). A max_in_flight the user sets is kept as it is. */
    size_t sink_window;
} brg_adapter_t;

/* sink_window of the adapters that write to a broker confirming some thousands of messages a
 * second (RabbitMQ, AMQP 1.0, STOMP): measured in docs/performance.md, "Kafka-sourced routes
 * to AMQP brokers". */
#define BRG_BROKER_SINK_WINDOW 1000

/* Append text to a metrics page (see brg_adapter_t.metrics). */
void brg_metrics_printf(struct brg_metrics_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the endpoint, as its adapter sees it ----------------------------------------------- */

const char *brg_endpoint_name(const brg_endpoint_t *ep);
const brg_adapter_t *brg_endpoint_adapter(const brg_endpoint_t *ep);
/* The endpoint's config group (name, type and the adapter's keys). */
const brg_conf_node_t *brg_endpoint_conf(const brg_endpoint_t *ep);
/* What the adapter's compile_endpoint() made of that group at load (NULL without one). */
const void *brg_endpoint_settings(const brg_endpoint_t *ep);
/* Log context for this endpoint ([adapter:endpoint] (file:line)). */
const brg_log_ctx_t *brg_endpoint_logctx(const brg_endpoint_t *ep);
/* The bridge's id (bridge.id), for provenance and client ids. */
const char *brg_endpoint_bridge_id(const brg_endpoint_t *ep);

/* True once the core asks the endpoint to finish. Thread: any. */
bool brg_endpoint_stopping(const brg_endpoint_t *ep);
/* Once stopping: the time (brg_now_ns) by which run() must have returned, the bridge's
 * shutdown deadline (bridge.shutdown_timeout from SIGTERM), whatever the broker does; 0 when
 * there is none (the endpoint is not stopping, or is stopped by a reload). An adapter bounds
 * each wait of its stop (flush, final acknowledgements, commit, close) by it, and says in one
 * line what it gave up on (unacknowledged messages are delivered again). Thread: any. */
int64_t brg_endpoint_stop_deadline(const brg_endpoint_t *ep);
/* The milliseconds a stop step may still wait: want_ms, cut to what is left before the stop
 * deadline (0 once it has passed). Thread: any. */
int brg_endpoint_stop_budget_ms(const brg_endpoint_t *ep, int want_ms);
/* An eventfd that becomes readable when the mailbox has work or stop was requested. Read it
 * with brg_endpoint_clear_wake() before draining the mailbox. */
int brg_endpoint_wakefd(const brg_endpoint_t *ep);
void brg_endpoint_clear_wake(brg_endpoint_t *ep);

/* Push what this endpoint thread has queued for other endpoints (messages it submitted as a
 * source, settlements it made as a sink: the core collects them per destination and hands
 * each over as one batch). The core flushes by itself when the thread takes from its mailbox
 * and finds it empty, in brg_endpoint_clear_wake and brg_endpoint_sleep, but an adapter MUST
 * call this right before any other wait that may block (poll(2), rd_kafka_poll with a
 * timeout, pn_proactor_wait...): nothing may sit in the outbox while its thread sleeps.
 * Cheap when there is nothing to push. Thread: the endpoint's thread (ep is the caller's). */
void brg_endpoint_flush(brg_endpoint_t *ep);

/* Wake the endpoint's thread (eventfd + adapter->wake), e.g. from a library callback thread.
 * Thread: any; never blocks. */
void brg_endpoint_wake(brg_endpoint_t *ep);
/* The state open() returned (for test hooks reaching an adapter through its endpoint). */
void *brg_endpoint_state(const brg_endpoint_t *ep);

/* Report connection state for /readyz and metrics. reason may be NULL. Thread: any. */
void brg_endpoint_set_connected(brg_endpoint_t *ep, bool connected, const char *reason);
/* Count a reconnect attempt (metrics). */
void brg_endpoint_count_reconnect(brg_endpoint_t *ep);
/* The core's stall watchdog found a route waiting on this endpoint while it says connected
 * (confirms that never come, a backlog that is never read: a frozen connection) and asks for
 * the broker connection to be re-established. Sets a flag and wakes the endpoint.
 * Thread: any. */
void brg_endpoint_request_reconnect(brg_endpoint_t *ep, const char *reason);
/* Returns: true once per request (and clears it), with the reason copied into reason (may be
 * NULL). The adapter checks it in its run loop and then closes and reconnects exactly as on a
 * lost connection: envelopes taken for publishing and not yet confirmed settle RETRY, unacked
 * deliveries go back to the broker (the source redelivers them). Thread: the endpoint's
 * thread. */
bool brg_endpoint_reconnect_requested(brg_endpoint_t *ep, char *reason, size_t size);

/* Apply the routes a reload added to or removed from this running endpoint (the adapter's
 * add_* and remove_* ops), if any are waiting; one atomic load when none are. An adapter with
 * those ops calls it once per turn of its run loop, where it holds no source or sink index.
 * Thread: the endpoint's thread. */
void brg_endpoint_sync_routes(brg_endpoint_t *ep);

/* Sources (routes reading from this endpoint) and sinks (routes writing to it). */
size_t brg_endpoint_source_count(const brg_endpoint_t *ep);
brg_source_t *brg_endpoint_source(const brg_endpoint_t *ep, size_t i);
size_t brg_endpoint_sink_count(const brg_endpoint_t *ep);
brg_sink_t *brg_endpoint_sink(const brg_endpoint_t *ep, size_t i);

/* Take the next envelope to publish, or NULL if none. *sink is where it goes.
 * Ownership: the adapter owns the envelope until it calls brg_settle() on it.
 * Thread: the endpoint's thread. */
brg_envelope_t *brg_endpoint_take_publish(brg_endpoint_t *ep, brg_sink_t **sink);

/* A FIFO of envelopes that carry a delivery (taken with brg_endpoint_take_publish, or
 * brg_endpoint_take_settled), linked through the delivery itself: no allocation per node,
 * for what an adapter holds back (waiting for queue room, link credit...). An envelope is in
 * at most one such queue. Zero-initialised is empty. Thread: the endpoint's thread. */
typedef struct brg_dchain {
    struct brg_delivery *head, *tail;
    size_t len;
} brg_envq_t; /* the core's brg_dchain_t (bridge/inbox.h): one FIFO code for both */
void brg_envq_push(brg_envq_t *q, brg_envelope_t *env);
/* Returns: the oldest envelope (removed), or NULL when empty. */
brg_envelope_t *brg_envq_pop(brg_envq_t *q);
/* Returns: the oldest envelope (kept), or NULL. */
brg_envelope_t *brg_envq_peek(const brg_envq_t *q);
/* The sink an envelope taken with brg_endpoint_take_publish goes to. */
brg_sink_t *brg_envelope_sink(const brg_envelope_t *env);

/* Take the next envelope this endpoint sourced whose outcome is known, or NULL.
 * Ownership: the adapter owns it until brg_source_done(). Thread: the endpoint's thread. */
brg_envelope_t *brg_endpoint_take_settled(brg_endpoint_t *ep, brg_outcome_t *outcome);

/* ---- source side ------------------------------------------------------------------------- */

/* The route's `from` group. */
const brg_conf_node_t *brg_source_conf(const brg_source_t *src);
const char *brg_source_route_name(const brg_source_t *src);
/* Adapter-private pointer per source (e.g. the queue's consumer tag). */
void *brg_source_opaque(const brg_source_t *src);
void brg_source_set_opaque(brg_source_t *src, void *opaque);
/* The route's max_in_flight (for prefetch / link credit sizing). */
size_t brg_source_max_in_flight(const brg_source_t *src);
/* The route's max_in_flight_bytes (for sizing prefetch buffers). */
size_t brg_source_max_in_flight_bytes(const brg_source_t *src);
/* How many more envelopes the route lets this source take right now (0 when paused by
 * backpressure, draining or stopped). Bytes are checked too: a message larger than what is
 * left of max_in_flight_bytes is let in only when nothing else is in flight. Thread: any. */
size_t brg_source_credit(const brg_source_t *src);
/* True while the route is parked (its destination missing or refusing, see
 * brg_settle_unroutable): its credit is then at most one probe at a time, so a source that
 * pauses its consumer under backpressure and resumes only for a wide window must resume for
 * any credit. Thread: any. */
bool brg_source_parked(const brg_source_t *src);
/* Hand an envelope to the route. The core sets origin.endpoint/adapter if unset, maps it and
 * routes it; the outcome comes back through brg_endpoint_take_settled(). Never fails.
 * Ownership: moves to the core. Thread: the endpoint's thread. */
void brg_source_submit(brg_source_t *src, brg_envelope_t *env);
/* Why a settled envelope was not accepted (the first failure reason a sink gave), or NULL.
 * Valid until brg_source_done(). Thread: the endpoint's thread. */
const char *brg_envelope_settle_reason(const brg_envelope_t *env);
/* The source has acted on a settled envelope: free it and return its credit.
 * Thread: the endpoint's thread. */
void brg_source_done(brg_envelope_t *env);
/* The source of a settled envelope (for adapters with several sources). */
brg_source_t *brg_envelope_source(const brg_envelope_t *env);
/* A source failed permanently (queue deleted, access refused): say why; shown in /routes.
 * reason NULL clears it. */
void brg_source_set_error(brg_source_t *src, const char *reason);
/* The source's broker no longer has records the source was about to read (Kafka: retention or
 * DeleteRecords removed them, or the partition's log started again): count them for
 * msgbridge_source_gap_records_total{route,topic,partition} and /routes. The adapter logs the
 * gap itself (one ERROR line). stream is copied. Thread: any. */
void brg_source_count_gap(brg_source_t *src, const char *stream, int32_t partition,
                          uint64_t records);
/* Stop the source's route for good (until a reload), for a reason that is neither the
 * message's nor the destination's (a gap with on_gap = "stop"): logs reason once (ERROR), shown
 * as the route's stop_reason in /routes. The route takes nothing more; what it holds stays
 * unacknowledged. Thread: any. */
void brg_source_stop(brg_source_t *src, const char *reason);
/* The source's broker dead-letters what the source rejects (a RabbitMQ queue with a
 * dead-letter exchange, ActiveMQ's DLQ), and the operator asked for it (`on_reject =
 * "reject"`). Then a message the route finally REJECTS while it has no `dead_letter` of its
 * own does not stop the route: it settles REJECTED to the source, which rejects it at the
 * broker, counted as msgbridge_route_broker_rejected_total. Call at source start.
 * Thread: the endpoint's thread. */
void brg_source_set_broker_dead_letter(brg_source_t *src, bool yes);
/* Optional: how many messages wait at the broker for this source and are not yet taken (Kafka:
 * consumer lag summed over the assigned partitions; RabbitMQ: the queue's ready count; AMQP 1.0:
 * the link's available count). 0 means none or unknown. The stall watchdog declares a stall
 * when the backlog stays above 0 and the route moves nothing for stall_timeout; report only
 * what is cheap and already known (no extra broker round trip per message).
 * Thread: any (an atomic store). */
void brg_source_set_backlog(brg_source_t *src, int64_t n);
/* Optional: the source asked its broker for the backlog (a RabbitMQ passive queue.declare on a
 * channel of its own) and the answer is overdue (yes), or came (no). While overdue the stall
 * watchdog counts the source as having work waiting: a connection that answers nothing cannot
 * say that nothing waits, and one frozen while the queue was empty would otherwise never be
 * found. Thread: any (an atomic store). */
void brg_source_set_backlog_unanswered(brg_source_t *src, bool yes);
/* The route's stall_timeout in milliseconds (0: no watchdog), to pace backlog checks (at
 * least four per timeout). Thread: any. */
int64_t brg_source_stall_timeout_ms(const brg_source_t *src);

/* ---- sink side --------------------------------------------------------------------------- */

/* The route's `to` (or `dead_letter`) group. */
const brg_conf_node_t *brg_sink_conf(const brg_sink_t *sink);
const char *brg_sink_route_name(const brg_sink_t *sink);
void *brg_sink_opaque(const brg_sink_t *sink);
void brg_sink_set_opaque(brg_sink_t *sink, void *opaque);
/* The endpoint the sink's route reads from: its adapter's `type` ("kafka"), its settings
 * compiled at load (compile_endpoint; NULL if the adapter has none), and the route's `from`
 * group. For a sink that checks its destination against the source at start (a Kafka ->
 * Kafka route copies each topic's partition count). Thread: any. */
const char *brg_sink_source_type(const brg_sink_t *sink);
const void *brg_sink_source_settings(const brg_sink_t *sink);
const brg_conf_node_t *brg_sink_source_conf(const brg_sink_t *sink);
/* The sink cannot work at all as configured against its destination (a Kafka topic with fewer
 * partitions than the source whose partitions it keeps): stop its route until a reload, as
 * brg_source_stop does. Thread: any. */
void brg_sink_stop_route(brg_sink_t *sink, const char *reason);
/* A source stream's name as the sink's route renders it in ${topic} (after its mapping's
 * `rename`). Returns: a malloc'd name (the caller frees it). Thread: any. */
char *brg_sink_stream_name(const brg_sink_t *sink, const char *stream);
/* The compiled template of a BRG_KEY_TEMPLATE key, or NULL if the key is absent. */
const brg_template_t *brg_sink_template(const brg_sink_t *sink, const char *key);
/* The sink cannot carry `field` of the envelope losslessly (a typed header value stored as
 * text, a property with no home in the protocol, a priority out of range...). Counted per
 * route and field (metrics). Returns: true if the route is in strict mapping mode: the sink
 * must then not publish, and settle the envelope REJECTED with a reason that names the field
 * (the core sends it to the dead letter). Thread: any. */
bool brg_sink_mapping_loss(brg_sink_t *sink, const char *field);

/* Settle an envelope taken with brg_endpoint_take_publish(), exactly once. reason (may be
 * NULL) says why for RETRY/REJECTED: it is logged and written into dead-letter headers.
 * Ownership: the envelope goes back to the core. Thread: any. */
void brg_settle(brg_envelope_t *env, brg_outcome_t outcome, const char *reason);
/* Settle an envelope whose destination is unusable (missing, or access refused), not the
 * message: the route's `on_unroutable` decides, by default dead letter when the route has one,
 * else park (the route takes nothing new, the source redelivers, a probe retries with backoff
 * until the destination is back). reason names the destination and what to fix. Exactly once,
 * instead of brg_settle(). Ownership and thread: as brg_settle(). */
void brg_settle_unroutable(brg_envelope_t *env, const char *reason);

/* ---- helpers ----------------------------------------------------------------------------- */

/* Backoff (brg_backoff_*) and clocks (brg_now_ns, brg_wall_ms) come from bridge/clock.h. */
/* Sleep up to ms, returning early if the endpoint is asked to stop or woken.
 * Returns: true if stopping. */
bool brg_endpoint_sleep(brg_endpoint_t *ep, uint32_t ms);

/* brg_redact_url comes from bridge/log.h. */

#endif
