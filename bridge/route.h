/* Routes: from one source to one or more sinks, with credit, dead letters and the settle path
 * (DESIGN.md section 3). Engine-internal: adapters use bridge/adapter.h. */
#ifndef BRG_ROUTE_H
#define BRG_ROUTE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/adapter.h"
#include "bridge/delivery.h"
#include "bridge/timer.h"
#include "bridge/watchdog.h"

typedef enum brg_route_state {
    BRG_ROUTE_RUNNING = 0,
    BRG_ROUTE_DRAINING, /* takes nothing new; in-flight envelopes finish */
    BRG_ROUTE_STOPPED,  /* a permanent failure with no dead letter: see stop_reason */
    BRG_ROUTE_PARKED,   /* the destination is unusable: nothing taken until a probe gets through */
} brg_route_state_t;

/* What a route does with a message its destination cannot take (brg_settle_unroutable). */
typedef enum brg_unroutable {
    BRG_UNROUTABLE_DEFAULT = 0, /* dead_letter when the route has one, else park */
    BRG_UNROUTABLE_PARK,
    BRG_UNROUTABLE_DEAD_LETTER,
    BRG_UNROUTABLE_STOP,
} brg_unroutable_t;

/* Per-route counters. The ones every message moves (in, out, outcomes, latencies) are kept
 * per thread (brg_route_counts_t, brg_route_count) and summed when read
 * (brg_route_counts_read); the rare ones (dead letters, filters, loops, losses, parks) are
 * atomics in rt->stats. Read either only through brg_route_counts_read. */
typedef struct brg_route_stats {
    atomic_uint_fast64_t in_msgs, in_bytes;    /* submitted by the source */
    atomic_uint_fast64_t out_msgs, out_bytes;  /* accepted by a sink (each sink counts) */
    atomic_uint_fast64_t accepted, retried, rejected; /* source-level outcomes */
    atomic_uint_fast64_t dead_lettered;
    atomic_uint_fast64_t filtered;
    atomic_uint_fast64_t loop_dropped;
    atomic_uint_fast64_t mapping_lost;
    atomic_uint_fast64_t latency_ns_sum, latency_count; /* receive to settle */
    atomic_uint_fast64_t broker_rejected; /* REJECTED to a source whose broker dead-letters */
    atomic_uint_fast64_t e2e_ms_sum, e2e_count; /* source timestamp to settle */
    atomic_uint_fast64_t parks; /* times the route went from running to parked */
} brg_route_stats_t;

/* Latency histogram buckets (seconds), shared with metrics. */
#define BRG_LAT_BUCKETS 12
extern const double brg_latency_bounds[BRG_LAT_BUCKETS];
/* End-to-end buckets (seconds): the message's own timestamp (set by its producer, in ms) to
 * the destination's confirm; wider, since a backlog or a clock skew shows up here. */
#define BRG_E2E_BUCKETS 14
extern const double brg_e2e_bounds[BRG_E2E_BUCKETS];

/* One thread's share of a route's counters: written by that thread alone with relaxed loads
 * and stores (no locked instruction, no cache line shared with another writer), summed on
 * read. Aligned so that two threads' shares never share a cache line. */
typedef struct brg_route_counts {
    brg_route_stats_t s;
    atomic_uint_fast64_t latency_buckets[BRG_LAT_BUCKETS + 1];
    atomic_uint_fast64_t e2e_buckets[BRG_E2E_BUCKETS + 1];
} __attribute__((aligned(64))) brg_route_counts_t;

struct brg_route {
    char *name;
    const brg_conf_node_t *cs;
    brg_source_t *src;
    brg_sink_t **sinks;
    size_t nsinks;
    brg_sink_t *dead_letter; /* NULL if none */
    size_t max_in_flight;
    size_t max_in_flight_bytes;
    struct brg_mapping *mapping; /* never NULL; compiled by the load, the config's */
    const char *bridge_id;

    atomic_size_t in_flight;
    atomic_size_t in_flight_bytes;
    atomic_int state;
    pthread_mutex_t lock; /* guards stop_reason */
    char *stop_reason;

    brg_timer_t *timer; /* the engine's: fan-out retries */

    /* Parking (brg_settle_unroutable): the route takes nothing until next_retry_ns, then lets
     * one probe through; its success resumes the route. park_reason and park_bo under `lock`. */
    brg_unroutable_t on_unroutable;
    uint32_t park_min_ms, park_max_ms;
    brg_backoff_t park_bo;
    char *park_reason;
    int64_t parked_ns;              /* when it parked (monotonic), under `lock` */
    atomic_int_fast64_t next_retry_ns; /* monotonic; when the next probe may go */
    atomic_bool probe_out;          /* a probe is in flight */
    atomic_bool park_wake;          /* the tick must wake the source at next_retry_ns */
    /* Fan-out copies held while parked (brg_delivery_hold), oldest first, linked through
     * brg_delivery_t.next, under `lock`: only these go out again, the probe first, so a sink
     * that confirmed a message never gets it a second time. nheld is written under `lock` and
     * read anywhere; copies_out counts the fan-out copies at a sink or waiting for a retry
     * there (a probe waits for 0, as a source probe waits for in_flight 0: order per sink). */
    struct brg_delivery *held_head, *held_tail;
    atomic_size_t nheld;
    atomic_size_t copies_out;
    atomic_bool resending; /* resumed, held copies not yet queued at their sinks: take nothing */

    /* Rate limit (token buckets refilled continuously; 0 = unlimited). */
    double rate_msgs, rate_bytes;
    pthread_mutex_t rate_lock;
    double tok_msgs, tok_bytes;
    int64_t tok_ns;
    atomic_bool rate_blocked; /* credit() returned 0 for want of tokens: wake the source later */

    brg_route_stats_t stats; /* the rare counters (and a thread without a slot's share) */
    /* Per-thread shares (bridge/tslot.h): BRG_TSLOTS, then one shared by threads without a
     * slot, written with atomic adds. */
    brg_route_counts_t *shares;
    /* Loop drops (brg_route_loop_dropped): the monotonic time of the first drop since the
     * route last forwarded anything (0: it forwarded since, or never dropped), of the last
     * message read, of the last WARN, and the drops not logged since that WARN. */
    atomic_int_fast64_t loop_since_ns, last_in_ns, loop_warn_ns;
    atomic_uint_fast64_t loop_unlogged;
    /* The previous summary line (rates since then); only the main thread logs summaries. */
    struct {
        int64_t ns;
        uint64_t in, out, out_bytes;
    } last_summary;
    int64_t started_ns; /* creation time (monotonic) */
    /* Mapping losses per field: a small fixed table, filled under `lock`, read lock-free. */
#define BRG_LOSS_FIELDS 32
    struct {
        char name[48];
        atomic_uint_fast64_t count;
    } loss[BRG_LOSS_FIELDS];
    atomic_size_t nloss;
    brg_wd_t wd; /* the stall watchdog (bridge/watchdog.h) */
};


/* Add n to the counter at byte offset off of brg_route_counts_t (BRG_ROUTE_COUNT) in the
 * calling thread's share of rt's counters. Lock-free, no read-modify-write. Thread: any. */
void brg_route_count(brg_route_t *rt, size_t off, uint64_t n);
#define BRG_ROUTE_COUNT(rt, field, n) brg_route_count((rt), offsetof(brg_route_counts_t, field), (n))
/* Sum of every share of rt's counters and the rare ones into *out. Thread: any. */
void brg_route_counts_read(brg_route_t *rt, brg_route_counts_t *out);

/* Create a route; sources/sinks are attached by the engine. */
brg_route_t *brg_route_new(const char *name, const brg_conf_node_t *cs);
void brg_route_destroy(brg_route_t *rt);

/* Stop the route for good (until reload): logs reason once. Thread: any. */
void brg_route_stop(brg_route_t *rt, const char *reason);
/* Park the route (brg_settle_unroutable): logs reason once per park. Thread: any. */
void brg_route_park(brg_route_t *rt, const char *reason);
/* Set how parking retries: jittered exponential backoff between min_ms and max_ms. */
void brg_route_set_park_backoff(brg_route_t *rt, uint32_t min_ms, uint32_t max_ms);
/* Timer tick: wake the source of a parked route whose next retry is due. */
void brg_route_park_tick(brg_route_t *rt);
/* Returns: a copy of the park reason or NULL (caller frees); *next_retry_ms (may be NULL) gets
 * the milliseconds until the next probe (0 when due). */
char *brg_route_park_reason(brg_route_t *rt, int64_t *next_retry_ms);
/* Set the rate limit (0 = unlimited for either). */
void brg_route_set_rate(brg_route_t *rt, double msgs_per_s, double bytes_per_s);
/* Timer tick: wake the source of a rate-limited route whose bucket has refilled. */
void brg_route_rate_tick(brg_route_t *rt);
/* Ask the route to take nothing new; the copies it held while parked complete RETRY (their
 * sources keep the messages). Thread: any. */
void brg_route_drain(brg_route_t *rt);
/* Returns: a copy of the stop reason or NULL (caller frees). */
char *brg_route_stop_reason(brg_route_t *rt);
/* Returns: a copy of the source's error (brg_source_set_error) or NULL (caller frees). */
char *brg_source_error(brg_source_t *src);
const char *brg_route_state_name(brg_route_state_t s);
/* How long a route may drop every message it reads as a loop before /readyz says so. */
int64_t brg_route_loop_window_ns(void);
/* True if, over the last loop window, the route read messages and dropped every one as a
 * loop. Thread: any. */
bool brg_route_only_loops(brg_route_t *rt, int64_t now_ns);

#endif
