/* Deliveries (bridge/delivery.h), driven by hand on one thread: fan-out to 1, 2 and 3 sinks
 * with every mix of outcomes (the source hears exactly once, with the worst), a parked fan-out
 * route's per-copy outcomes (only unconfirmed copies go again), and endpoints destroyed with
 * deliveries in flight (each released exactly once). */
#include "tests/check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/memory.h"
#include "bridge/conf.h"
#include "bridge/endpoint.h"
#include "bridge/route.h"
#include "mappings/mapping.h"

/* A route counter, summed over the threads' shares (brg_route_counts_read). */
static uint64_t route_count(brg_route_t *rt, size_t off)
{
    brg_route_counts_t sum;
    brg_route_counts_read(rt, &sum);
    return atomic_load((atomic_uint_fast64_t *)((char *)&sum + off));
}

#define MAX_SINKS 3

typedef struct fixture {
    brg_route_t *rt;
    brg_endpoint_t *src_ep;
    brg_endpoint_t *sink_ep[MAX_SINKS];
    brg_source_t *src;
    brg_conf_node_t *cs;
} fixture_t;

/* A route from one endpoint to n others, nothing started: the test plays every thread. The
 * route has no timer, so a copy's RETRY is final (no retry at its sink). */
static void fixture_init(fixture_t *f, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->rt = brg_route_new("r", NULL);
    /* Every route has a mapping (brg_mapping_new, by the load); this one changes nothing. The
     * configuration owns it: here the fixture. */
    f->cs = brg_conf_parse_tree("mapping = { provenance = false; };", "test.conf");
    brg_diag_t d;
    brg_diag_init(&d);
    f->rt->mapping = brg_mapping_new(f->cs, "test", "r", &d);
    ck_assert_ptr_nonnull(f->rt->mapping);
    brg_diag_fini(&d);
    f->rt->max_in_flight = 1000;
    f->rt->max_in_flight_bytes = 1 << 20;
    f->src_ep = brg_endpoint_new("src", &brg_memory_adapter, NULL, NULL, "test");
    f->src = brg_endpoint_add_source(f->src_ep, f->rt, NULL);
    f->rt->src = f->src;
    f->rt->sinks = calloc(n, sizeof(*f->rt->sinks));
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "dst%zu", i);
        f->sink_ep[i] = brg_endpoint_new(name, &brg_memory_adapter, NULL, NULL, "test");
        f->rt->sinks[i] = brg_endpoint_add_sink(f->sink_ep[i], f->rt, NULL, NULL, false);
    }
    f->rt->nsinks = n;
}

static void fixture_fini(fixture_t *f)
{
    for (size_t i = 0; i < f->rt->nsinks; i++) {
        brg_endpoint_destroy(f->sink_ep[i]);
    }
    brg_endpoint_destroy(f->src_ep);
    brg_mapping_destroy(f->rt->mapping);
    brg_route_destroy(f->rt);
    brg_conf_node_destroy(f->cs);
}

static void submit(fixture_t *f, int id)
{
    brg_envelope_t *env = brg_envelope_new();
    char body[32];
    int len = snprintf(body, sizeof(body), "m%d", id);
    brg_envelope_set_body(env, body, (size_t)len);
    env->src_seq = (uint64_t)id;
    brg_source_submit(f->src, env);
}

static const char *reason_of(brg_outcome_t o, size_t sink)
{
    static char buf[MAX_SINKS][32];
    snprintf(buf[sink], sizeof(buf[sink]), "sink %zu: %s", sink, brg_outcome_name(o));
    return o == BRG_ACCEPTED ? NULL : buf[sink];
}

/* Every mix of outcomes over n sinks: the source hears once, with the worst. */
static void fanout_all_mixes(size_t n)
{
    size_t mixes = 1;
    for (size_t i = 0; i < n; i++) {
        mixes *= 3;
    }
    for (size_t mix = 0; mix < mixes; mix++) {
        fixture_t f;
        fixture_init(&f, n);
        submit(&f, (int)mix);
        ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 1);
        brg_outcome_t oc[MAX_SINKS], worst = BRG_ACCEPTED;
        size_t m = mix, first_fail = n;
        for (size_t i = 0; i < n; i++) {
            oc[i] = (brg_outcome_t)(m % 3);
            m /= 3;
            if (oc[i] > worst) {
                worst = oc[i];
            }
            if (oc[i] != BRG_ACCEPTED && first_fail == n) {
                first_fail = i;
            }
        }
        /* Each sink gets exactly one envelope, with the body; settle in sink order. */
        for (size_t i = 0; i < n; i++) {
            brg_sink_t *sink = NULL;
            brg_envelope_t *env = brg_endpoint_take_publish(f.sink_ep[i], &sink);
            ck_assert_ptr_nonnull(env);
            ck_assert_ptr_eq(sink, f.rt->sinks[i]);
            ck_assert_uint_eq(env->body_len, strlen("m") + (mix >= 10 ? 2 : 1));
            ck_assert_ptr_null(brg_endpoint_take_publish(f.sink_ep[i], NULL));
            /* Nothing reaches the source before the last copy settles. */
            ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
            brg_settle(env, oc[i], reason_of(oc[i], i));
        }
        brg_outcome_t got = (brg_outcome_t)-1;
        brg_envelope_t *env = brg_endpoint_take_settled(f.src_ep, &got);
        ck_assert_ptr_nonnull(env);
        ck_assert_msg(got == worst, "mix %zu over %zu sinks: got %s, want %s", mix, n,
                      brg_outcome_name(got), brg_outcome_name(worst));
        ck_assert_uint_eq(env->src_seq, mix);
        const char *why = brg_envelope_settle_reason(env);
        if (worst == BRG_ACCEPTED) {
            ck_assert_ptr_null(why);
        } else {
            /* The first failure reason, in settle order. */
            ck_assert_ptr_nonnull(why);
            ck_assert_str_eq(why, reason_of(oc[first_fail], first_fail));
        }
        ck_assert_ptr_eq(brg_envelope_source(env), f.src);
        ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
        brg_source_done(env);
        ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 0);
        ck_assert_uint_eq(atomic_load(&f.rt->in_flight_bytes), 0);
        ck_assert_uint_eq(route_count(f.rt, offsetof(brg_route_counts_t, s.accepted)), worst == BRG_ACCEPTED);
        ck_assert_uint_eq(route_count(f.rt, offsetof(brg_route_counts_t, s.retried)), worst == BRG_RETRY);
        ck_assert_uint_eq(route_count(f.rt, offsetof(brg_route_counts_t, s.rejected)), worst == BRG_REJECTED);
        fixture_fini(&f);
    }
}

START_TEST(test_delivery_one_sink_hears_each_outcome)
{
    fanout_all_mixes(1);
}
END_TEST

START_TEST(test_delivery_fanout_two_sinks_worst_outcome_once)
{
    fanout_all_mixes(2);
}
END_TEST

START_TEST(test_delivery_fanout_three_sinks_worst_outcome_once)
{
    fanout_all_mixes(3);
}
END_TEST

START_TEST(test_delivery_single_sink_keeps_order_in_batches)
{
    fixture_t f;
    fixture_init(&f, 1);
    for (int i = 0; i < 100; i++) {
        submit(&f, i);
    }
    for (int i = 0; i < 100; i++) {
        brg_envelope_t *env = brg_endpoint_take_publish(f.sink_ep[0], NULL);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        /* A single-sink message travels itself: no parent. */
        ck_assert_ptr_null(env->dlv->parent);
        brg_settle(env, BRG_ACCEPTED, NULL);
    }
    for (int i = 0; i < 100; i++) {
        brg_outcome_t oc;
        brg_envelope_t *env = brg_endpoint_take_settled(f.src_ep, &oc);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        ck_assert_int_eq(oc, BRG_ACCEPTED);
        brg_source_done(env);
    }
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 0);
    fixture_fini(&f);
}
END_TEST

/* Endpoints destroyed with deliveries everywhere: unsettled at one sink of three, settled at
 * some sinks, back at the source. Each is released exactly once: the route's in-flight count
 * comes back to zero without going below, and ASan/valgrind see no leak or double free. */
START_TEST(test_delivery_endpoint_stopped_in_flight_releases_each_once)
{
    fixture_t f;
    fixture_init(&f, 3);
    for (int i = 0; i < 30; i++) {
        submit(&f, i);
    }
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 30);
    /* Sinks 0 and 1 settle every copy; sink 2 settles the first 10 and keeps 5 taken (the
     * adapter settles them RETRY when it stops, as run() must), 15 stay queued. */
    for (size_t s = 0; s < 2; s++) {
        brg_envelope_t *env;
        while ((env = brg_endpoint_take_publish(f.sink_ep[s], NULL))) {
            brg_settle(env, BRG_ACCEPTED, NULL);
        }
    }
    brg_envelope_t *held[5];
    for (int i = 0; i < 15; i++) {
        brg_envelope_t *env = brg_endpoint_take_publish(f.sink_ep[2], NULL);
        ck_assert_ptr_nonnull(env);
        if (i < 10) {
            brg_settle(env, BRG_ACCEPTED, NULL);
        } else {
            held[i - 10] = env;
        }
    }
    /* The first 10 are back at the source; take 4 and act on them. */
    for (int i = 0; i < 4; i++) {
        brg_outcome_t oc;
        brg_envelope_t *env = brg_endpoint_take_settled(f.src_ep, &oc);
        ck_assert_ptr_nonnull(env);
        ck_assert_int_eq(oc, BRG_ACCEPTED);
        brg_source_done(env);
    }
    for (int i = 0; i < 5; i++) {
        brg_settle(held[i], BRG_RETRY, "stopping");
    }
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 26);
    /* Sink 2 stops with 15 copies queued: their parents are released with the last copy. */
    brg_endpoint_destroy(f.sink_ep[2]);
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 11);
    brg_endpoint_destroy(f.sink_ep[1]);
    brg_endpoint_destroy(f.sink_ep[0]);
    /* The source stops with 6 accepted and 5 retried ones back in its mailbox. */
    brg_endpoint_destroy(f.src_ep);
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 0);
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight_bytes), 0);
    brg_mapping_destroy(f.rt->mapping);
    brg_route_destroy(f.rt);
    brg_conf_node_destroy(f.cs);
}
END_TEST

/* ---- parking: per-copy outcomes ------------------------------------------------------------ */

/* A copy's outcome at its sink: the three of adapter.h, or its destination missing. */
enum { OC_ACCEPT, OC_RETRY, OC_REJECT, OC_UNROUTABLE, OC_N };

static void settle_as(brg_envelope_t *env, int oc, size_t sink)
{
    if (oc == OC_UNROUTABLE) {
        brg_settle_unroutable(env, "destination missing");
        return;
    }
    brg_settle(env, (brg_outcome_t)oc, reason_of((brg_outcome_t)oc, sink));
}

/* How many copies are queued at each sink (taken, kept in got[] for the caller to settle). */
static size_t take_all(fixture_t *f, size_t n, brg_envelope_t **got)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        got[i] = brg_endpoint_take_publish(f->sink_ep[i], NULL);
        total += got[i] != NULL;
        ck_assert_ptr_null(brg_endpoint_take_publish(f->sink_ep[i], NULL));
    }
    return total;
}

/* Every mix of the four outcomes over n sinks, settled in sink order or in reverse: a sink
 * that confirmed its copy is never sent it again; only unconfirmed copies are held, probed
 * (the first one held) and re-sent; the source hears exactly once, after the last copy is
 * confirmed, with the worst final outcome; a rejection with nowhere to put it stops the route
 * and what it held goes back to the source as RETRY. */
static void park_all_mixes(size_t n, bool reverse)
{
    size_t mixes = 1;
    for (size_t i = 0; i < n; i++) {
        mixes *= OC_N;
    }
    for (size_t mix = 0; mix < mixes; mix++) {
        fixture_t f;
        fixture_init(&f, n);
        brg_route_t *rt = f.rt;
        submit(&f, (int)mix);
        int oc[MAX_SINKS];
        size_t nu = 0, first_u = n;
        bool any_retry = false, any_reject = false;
        for (size_t i = 0, m = mix; i < n; i++, m /= OC_N) {
            oc[i] = (int)(m % OC_N);
            any_retry = any_retry || oc[i] == OC_RETRY;
            any_reject = any_reject || oc[i] == OC_REJECT;
            nu += oc[i] == OC_UNROUTABLE;
        }
        for (size_t k = 0; k < n; k++) {
            size_t i = reverse ? n - 1 - k : k;
            if (oc[i] == OC_UNROUTABLE && first_u == n) {
                first_u = i;
            }
        }
        brg_envelope_t *got[MAX_SINKS];
        ck_assert_uint_eq(take_all(&f, n, got), n);
        for (size_t k = 0; k < n; k++) {
            size_t i = reverse ? n - 1 - k : k;
            settle_as(got[i], oc[i], i);
        }
        brg_outcome_t heard = (brg_outcome_t)-1;
        brg_envelope_t *env = NULL;
        if (n > 1 && nu > 0 && !any_reject) {
            /* Parked, holding the unconfirmed copies; the source hears nothing, no sink is sent
             * anything again, and the probe is the first copy held, alone. */
            ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_PARKED);
            ck_assert_uint_eq(atomic_load(&rt->nheld), nu);
            ck_assert_uint_eq(atomic_load(&rt->copies_out), 0);
            ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
            ck_assert_uint_eq(take_all(&f, n, got), 0);
            for (int round = 0; round < 2; round++) {
                ck_assert(brg_delivery_probe_held(rt));
                ck_assert(!brg_delivery_probe_held(rt));
                ck_assert_uint_eq(take_all(&f, n, got), 1);
                ck_assert_ptr_nonnull(got[first_u]);
                ck_assert_uint_eq(atomic_load(&rt->nheld), nu - 1);
                if (round == 0) {
                    /* Still missing: held again, first in line, still parked. */
                    settle_as(got[first_u], OC_UNROUTABLE, first_u);
                    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_PARKED);
                    ck_assert_uint_eq(atomic_load(&rt->nheld), nu);
                    ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
                    ck_assert_uint_eq(take_all(&f, n, got), 0);
                } else {
                    settle_as(got[first_u], OC_ACCEPT, first_u);
                }
            }
            /* Resumed: the other held copies go to their own sinks, once; nothing else. */
            ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
            ck_assert_uint_eq(atomic_load(&rt->nheld), 0);
            ck_assert_uint_eq(take_all(&f, n, got), nu - 1);
            for (size_t i = 0; i < n; i++) {
                ck_assert(!got[i] || (oc[i] == OC_UNROUTABLE && i != first_u));
                if (got[i]) {
                    ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
                    settle_as(got[i], OC_ACCEPT, i);
                }
            }
            env = brg_endpoint_take_settled(f.src_ep, &heard);
            ck_assert_ptr_nonnull(env);
            ck_assert_int_eq(heard, any_retry ? BRG_RETRY : BRG_ACCEPTED);
        } else {
            env = brg_endpoint_take_settled(f.src_ep, &heard);
            ck_assert_ptr_nonnull(env);
            brg_outcome_t want = any_reject ? BRG_REJECTED
                                 : (any_retry || nu) ? BRG_RETRY
                                                     : BRG_ACCEPTED;
            ck_assert_msg(heard == want, "mix %zu over %zu sinks: got %s, want %s", mix, n,
                          brg_outcome_name(heard), brg_outcome_name(want));
            ck_assert_int_eq(atomic_load(&rt->state), any_reject ? BRG_ROUTE_STOPPED
                                                      : nu       ? BRG_ROUTE_PARKED
                                                                 : BRG_ROUTE_RUNNING);
            ck_assert_uint_eq(atomic_load(&rt->nheld), 0);
            ck_assert_uint_eq(take_all(&f, n, got), 0);
        }
        ck_assert_uint_eq(env->src_seq, mix);
        ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
        brg_source_done(env);
        ck_assert_uint_eq(atomic_load(&rt->in_flight), 0);
        ck_assert_uint_eq(atomic_load(&rt->copies_out), 0);
        fixture_fini(&f);
    }
}

START_TEST(test_delivery_park_one_sink_goes_back_to_the_source)
{
    park_all_mixes(1, false);
}
END_TEST

START_TEST(test_delivery_park_two_sinks_only_unconfirmed_copies_go_again)
{
    park_all_mixes(2, false);
    park_all_mixes(2, true);
}
END_TEST

START_TEST(test_delivery_park_three_sinks_only_unconfirmed_copies_go_again)
{
    park_all_mixes(3, false);
    park_all_mixes(3, true);
}
END_TEST

/* Many messages held for one sink: the probe is the oldest, the rest follow it in order once it
 * gets through, the healthy sink gets each exactly once, and the source hears each once, in
 * order, only after both sinks confirmed it. */
START_TEST(test_delivery_park_held_copies_resend_in_order)
{
    fixture_t f;
    fixture_init(&f, 2);
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        submit(&f, i);
    }
    brg_envelope_t *env;
    for (int i = 0; i < N; i++) {
        env = brg_endpoint_take_publish(f.sink_ep[0], NULL);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        brg_settle(env, BRG_ACCEPTED, NULL);
        env = brg_endpoint_take_publish(f.sink_ep[1], NULL);
        brg_settle_unroutable(env, "destination missing");
    }
    ck_assert_uint_eq(atomic_load(&f.rt->nheld), N);
    ck_assert_ptr_null(brg_endpoint_take_settled(f.src_ep, NULL));
    ck_assert(brg_delivery_probe_held(f.rt));
    env = brg_endpoint_take_publish(f.sink_ep[1], NULL);
    ck_assert_uint_eq(env->src_seq, 0);
    brg_settle(env, BRG_ACCEPTED, NULL);
    for (int i = 1; i < N; i++) {
        env = brg_endpoint_take_publish(f.sink_ep[1], NULL);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        brg_settle(env, BRG_ACCEPTED, NULL);
    }
    ck_assert_ptr_null(brg_endpoint_take_publish(f.sink_ep[0], NULL));
    ck_assert_ptr_null(brg_endpoint_take_publish(f.sink_ep[1], NULL));
    for (int i = 0; i < N; i++) {
        brg_outcome_t oc;
        env = brg_endpoint_take_settled(f.src_ep, &oc);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        ck_assert_int_eq(oc, BRG_ACCEPTED);
        brg_source_done(env);
    }
    ck_assert_uint_eq(route_count(f.rt, offsetof(brg_route_counts_t, s.accepted)), N);
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 0);
    fixture_fini(&f);
}
END_TEST

/* A probe waits until no copy is out at a sink: one still there could be overtaken by it. */
START_TEST(test_delivery_park_probe_waits_for_copies_out)
{
    fixture_t f;
    fixture_init(&f, 2);
    submit(&f, 0);
    submit(&f, 1);
    brg_envelope_t *a0 = brg_endpoint_take_publish(f.sink_ep[0], NULL);
    brg_envelope_t *a1 = brg_endpoint_take_publish(f.sink_ep[0], NULL);
    brg_envelope_t *b0 = brg_endpoint_take_publish(f.sink_ep[1], NULL);
    brg_envelope_t *b1 = brg_endpoint_take_publish(f.sink_ep[1], NULL);
    brg_settle_unroutable(b0, "destination missing");
    ck_assert(!brg_delivery_probe_held(f.rt));
    brg_settle(a0, BRG_ACCEPTED, NULL);
    brg_settle(a1, BRG_ACCEPTED, NULL);
    ck_assert(!brg_delivery_probe_held(f.rt));
    brg_settle_unroutable(b1, "destination missing");
    ck_assert_uint_eq(atomic_load(&f.rt->nheld), 2);
    ck_assert(brg_delivery_probe_held(f.rt));
    brg_envelope_t *probe = brg_endpoint_take_publish(f.sink_ep[1], NULL);
    ck_assert_uint_eq(probe->src_seq, 0);
    ck_assert_ptr_null(brg_endpoint_take_publish(f.sink_ep[1], NULL));
    brg_settle(probe, BRG_ACCEPTED, NULL);
    /* Resumed: message 1's copy follows (left queued: the teardown releases it). */
    ck_assert_uint_eq(atomic_load(&f.rt->nheld), 0);
    fixture_fini(&f);
}
END_TEST

/* Draining (SIGTERM, reload) a parked route: the held copies complete RETRY at once (the source
 * keeps the messages), the confirmed copies are not sent again, nothing waits for the missing
 * destination. */
START_TEST(test_delivery_park_drain_releases_held_copies)
{
    fixture_t f;
    fixture_init(&f, 3);
    for (int i = 0; i < 5; i++) {
        submit(&f, i);
    }
    brg_envelope_t *env;
    for (int i = 0; i < 5; i++) {
        brg_settle(brg_endpoint_take_publish(f.sink_ep[0], NULL), BRG_ACCEPTED, NULL);
        brg_settle_unroutable(brg_endpoint_take_publish(f.sink_ep[1], NULL), "missing");
        brg_settle_unroutable(brg_endpoint_take_publish(f.sink_ep[2], NULL), "missing");
    }
    ck_assert_uint_eq(atomic_load(&f.rt->nheld), 10);
    brg_route_drain(f.rt);
    ck_assert_int_eq(atomic_load(&f.rt->state), BRG_ROUTE_DRAINING);
    ck_assert_uint_eq(atomic_load(&f.rt->nheld), 0);
    ck_assert(!brg_delivery_probe_held(f.rt));
    for (int i = 0; i < 5; i++) {
        brg_outcome_t oc;
        env = brg_endpoint_take_settled(f.src_ep, &oc);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->src_seq, (uint64_t)i);
        ck_assert_int_eq(oc, BRG_RETRY);
        ck_assert_str_eq(brg_envelope_settle_reason(env), "missing");
        brg_source_done(env);
    }
    for (size_t s = 0; s < 3; s++) {
        ck_assert_ptr_null(brg_endpoint_take_publish(f.sink_ep[s], NULL));
    }
    ck_assert_uint_eq(atomic_load(&f.rt->in_flight), 0);
    ck_assert_uint_eq(atomic_load(&f.rt->copies_out), 0);
    fixture_fini(&f);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_delivery_one_sink_hears_each_outcome);
    tcase_add_test(tc, test_delivery_fanout_two_sinks_worst_outcome_once);
    tcase_add_test(tc, test_delivery_fanout_three_sinks_worst_outcome_once);
    tcase_add_test(tc, test_delivery_single_sink_keeps_order_in_batches);
    tcase_add_test(tc, test_delivery_endpoint_stopped_in_flight_releases_each_once);
    tcase_add_test(tc, test_delivery_park_one_sink_goes_back_to_the_source);
    tcase_add_test(tc, test_delivery_park_two_sinks_only_unconfirmed_copies_go_again);
    tcase_add_test(tc, test_delivery_park_three_sinks_only_unconfirmed_copies_go_again);
    tcase_add_test(tc, test_delivery_park_held_copies_resend_in_order);
    tcase_add_test(tc, test_delivery_park_probe_waits_for_copies_out);
    tcase_add_test(tc, test_delivery_park_drain_releases_held_copies);
    suite_add_tcase(s, tc);
    return s;
}
