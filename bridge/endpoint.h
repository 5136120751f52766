/* Endpoints: one configured broker connection run by one adapter on its own thread, with the
 * mailbox that connects it to routes. Engine-internal: adapters use bridge/adapter.h. */
#ifndef BRG_ENDPOINT_H
#define BRG_ENDPOINT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bridge/adapter.h"
#include "bridge/inbox.h"
#include "bridge/route.h"
#include "bridge/tslot.h"

struct brg_conf_templates;
struct brg_route_change;

struct brg_source {
    brg_route_t *rt;
    brg_endpoint_t *ep;
    const brg_conf_node_t *cs;
    void *opaque;
    pthread_mutex_t lock;
    char *error;
    atomic_bool broker_dead_letter; /* see brg_source_set_broker_dead_letter() */
    atomic_int_fast64_t backlog;    /* see brg_source_set_backlog() */
    atomic_bool backlog_unanswered; /* see brg_source_set_backlog_unanswered() */
    /* Recycled deliveries (delivery.c): taken at submit and given back at brg_source_done,
     * both on this source's endpoint thread, so the list needs no lock. */
    struct brg_delivery *free_dlv;
    size_t nfree_dlv;
    /* Gaps the source reported (bridge/gap.c), under lock. */
    struct brg_gap_row *gaps;
    size_t ngaps;
};

/* A sink's counters, one share per thread (see brg_route_counts_t). */
typedef struct brg_sink_counts {
    atomic_uint_fast64_t out_msgs, out_bytes, retried, rejected;
} __attribute__((aligned(64))) brg_sink_counts_t;

struct brg_sink {
    brg_route_t *rt;
    brg_endpoint_t *ep;
    const brg_conf_node_t *cs;
    void *opaque;
    bool is_dead_letter;
    const struct brg_conf_templates *tpls; /* compiled at load, the config's (bridge/conf.h) */
    /* Counters: BRG_TSLOTS per-thread shares and one shared (bridge/tslot.h); write with
     * BRG_SINK_COUNT, read with brg_sink_counts_read. */
    brg_sink_counts_t *shares;
};

/* Add n to a counter of the calling thread's share of sink's counters. Thread: any. */
void brg_sink_count(brg_sink_t *sink, size_t off, uint64_t n);
#define BRG_SINK_COUNT(sink, field, n) \
    brg_sink_count((sink), offsetof(brg_sink_counts_t, field), (n))
/* Sum of the shares. Thread: any. */
void brg_sink_counts_read(const brg_sink_t *sink, brg_sink_counts_t *out);


struct brg_endpoint {
    char *name;
    const brg_adapter_t *adapter;
    const brg_conf_node_t *cs;
    const void *settings; /* the adapter's compile_endpoint(), kept by the configuration */
    brg_log_ctx_t logctx;
    const char *bridge_id;
    void *state;
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;
    atomic_int_fast64_t stop_deadline_ns; /* see brg_endpoint_stop_deadline(), 0: none */
    int wakefd;

    /* The mailbox: deliveries to publish here, and deliveries this endpoint sourced coming
     * back settled. Pushed by any thread in batches, taken whole by the endpoint thread into
     * its private FIFOs (taken_*), from which brg_endpoint_take_* hand them out one by one. */
    brg_inbox_t publish, settled;
    brg_dfifo_t taken_publish, taken_settled;

    pthread_mutex_t lock; /* guards `reason` and `reconnect_reason` */
    char reason[256];

    brg_source_t **sources;
    size_t nsources;
    brg_sink_t **sinks;
    size_t nsinks;

    atomic_bool connected;
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t restarts;
    /* The stall watchdog's request (brg_endpoint_request_reconnect); reason under `lock`. */
    atomic_bool reconnect_req;
    char reconnect_reason[300];
    /* Routes a reload adds to or removes from the running endpoint (bridge/endpoint_routes.h):
     * staged by the main thread, handed over under `lock`, applied on the endpoint thread,
     * which signals change_applied. */
    struct brg_route_change *staged, *handed;
    atomic_bool change_waiting;
    pthread_cond_t change_applied;
    /* Added by a reload and refused by the adapter (their routes stopped): not listed above, so
     * that a reconnect does not take them up; freed with the endpoint or by the next reload. */
    brg_source_t **refused_sources;
    size_t nrefused_sources;
    brg_sink_t **refused_sinks;
    size_t nrefused_sinks;
};

/* settings: the adapter's compiled settings (brg_conf_t.endpoint_settings), borrowed. */
brg_endpoint_t *brg_endpoint_new(const char *name, const brg_adapter_t *adapter,
                                 const brg_conf_node_t *cs, const void *settings,
                                 const char *bridge_id);
/* Free a source or sink that no endpoint lists any more (nothing of its route in flight). */
void brg_endpoint_free_source(brg_source_t *src);
void brg_endpoint_free_sink(brg_sink_t *sink);
/* Frees queued envelopes too. The thread must have been joined. */
void brg_endpoint_destroy(brg_endpoint_t *ep);

brg_source_t *brg_endpoint_add_source(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs);
/* A source or sink of ep not yet listed on it (a reload stages it for a running endpoint:
 * bridge/endpoint_routes.h). */
brg_source_t *brg_endpoint_new_source(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs);
brg_sink_t *brg_endpoint_new_sink(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs,
                                  const struct brg_conf_templates *tpls, bool dead_letter);
/* tpls: the sink's templates, compiled by the configuration load (which keeps them). */
brg_sink_t *brg_endpoint_add_sink(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *cs,
                                  const struct brg_conf_templates *tpls, bool dead_letter);

/* Open the adapter and start the endpoint thread (which restarts run() with backoff).
 * Thread: main. */
brg_err_t brg_endpoint_start(brg_endpoint_t *ep, char *errstr, size_t errstr_size);
/* Ask the thread to finish, join it, close the adapter. Thread: main. */
void brg_endpoint_stop(brg_endpoint_t *ep);
/* Wait for the thread (asked to stop) to return, until until_ns (brg_now_ns clock; 0: as long
 * as it takes). Returns: true once it has returned (or never ran); false if it still runs (the
 * caller must then leave the endpoint alone: the process is about to exit). Thread: main. */
bool brg_endpoint_join(brg_endpoint_t *ep, int64_t until_ns);

/* Copy the last connection problem into buf (empty if none). */
void brg_endpoint_reason(brg_endpoint_t *ep, char *buf, size_t size);

#endif
