/* A route's and a sink's counters (route.h: brg_route_counts_t, brg_sink_counts_t): one share
 * per thread, written without a locked instruction, summed when read. Below the delivery module,
 * which counts every settled message here, and route.c, which counts the rest. */
#include <stdlib.h>

#include "bridge/endpoint.h"
#include "bridge/route.h"
#include "bridge/tslot.h"

const double brg_latency_bounds[BRG_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
const double brg_e2e_bounds[BRG_E2E_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,    1.0,   2.5,  5.0,   30.0, 300.0};

void brg_route_count(brg_route_t *rt, size_t off, uint64_t n)
{
    int i = brg_tslot();
    if (i < 0) {
        atomic_uint_fast64_t *c = (atomic_uint_fast64_t *)((char *)&rt->shares[BRG_TSLOTS] + off);
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
        return;
    }
    /* Only this thread writes its share: a plain add, no locked instruction. */
    atomic_uint_fast64_t *c = (atomic_uint_fast64_t *)((char *)&rt->shares[i] + off);
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void brg_sink_count(brg_sink_t *sink, size_t off, uint64_t n)
{
    int i = brg_tslot();
    atomic_uint_fast64_t *c =
        (atomic_uint_fast64_t *)((char *)&sink->shares[i < 0 ? BRG_TSLOTS : i] + off);
    if (i < 0) {
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void brg_sink_counts_read(const brg_sink_t *sink, brg_sink_counts_t *out)
{
    uint64_t m = 0, b = 0, r = 0, j = 0;
    for (size_t t = 0; t <= BRG_TSLOTS; t++) {
        const brg_sink_counts_t *c = &sink->shares[t];
        m += atomic_load_explicit(&c->out_msgs, memory_order_relaxed);
        b += atomic_load_explicit(&c->out_bytes, memory_order_relaxed);
        r += atomic_load_explicit(&c->retried, memory_order_relaxed);
        j += atomic_load_explicit(&c->rejected, memory_order_relaxed);
    }
    atomic_init(&out->out_msgs, m);
    atomic_init(&out->out_bytes, b);
    atomic_init(&out->retried, r);
    atomic_init(&out->rejected, j);
}

void brg_route_counts_read(brg_route_t *rt, brg_route_counts_t *out)
{
    /* Every member is a 64-bit counter: sum them as an array, the rare ones (rt->stats) too. */
    size_t n = sizeof(brg_route_counts_t) / sizeof(atomic_uint_fast64_t);
    size_t ns = sizeof(brg_route_stats_t) / sizeof(atomic_uint_fast64_t);
    uint64_t sum[sizeof(brg_route_counts_t) / sizeof(atomic_uint_fast64_t)] = {0};
    for (size_t t = 0; t <= BRG_TSLOTS; t++) {
        const atomic_uint_fast64_t *c = (const atomic_uint_fast64_t *)&rt->shares[t];
        for (size_t k = 0; k < n; k++) {
            sum[k] += atomic_load_explicit(&c[k], memory_order_relaxed);
        }
    }
    const atomic_uint_fast64_t *rare = (const atomic_uint_fast64_t *)&rt->stats;
    for (size_t k = 0; k < ns; k++) {
        sum[k] += atomic_load_explicit(&rare[k], memory_order_relaxed);
    }
    atomic_uint_fast64_t *o = (atomic_uint_fast64_t *)out;
    for (size_t k = 0; k < n; k++) {
        atomic_init(&o[k], sum[k]);
    }
}
