/* Deliveries (bridge/delivery.h), driven by hand on one thread: fan-out to 1, 2 and 3 sinks
 * with every mix of outcomes (the source hears exactly once, with the worst), and endpoints
 * destroyed with deliveries in flight (each released exactly once). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/memory.h"
#include "bridge/endpoint.h"
#include "bridge/route.h"

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
} fixture_t;

/* A route from one endpoint to n others, nothing started: the test plays every thread. The
 * route has no timer, so a copy's RETRY is final (no retry at its sink). */
static void fixture_init(fixture_t *f, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->rt = brg_route_new("r", NULL);
    f->rt->max_in_flight = 1000;
    f->rt->max_in_flight_bytes = 1 << 20;
    f->src_ep = brg_endpoint_new("src", &brg_memory_adapter, NULL, "test");
    f->src = brg_endpoint_add_source(f->src_ep, f->rt, NULL);
    f->rt->src = f->src;
    f->rt->sinks = calloc(n, sizeof(*f->rt->sinks));
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "dst%zu", i);
        f->sink_ep[i] = brg_endpoint_new(name, &brg_memory_adapter, NULL, "test");
        char err[128];
        f->rt->sinks[i] = brg_endpoint_add_sink(f->sink_ep[i], f->rt, NULL, false, err, sizeof(err));
        ck_assert_ptr_nonnull(f->rt->sinks[i]);
    }
    f->rt->nsinks = n;
}

static void fixture_fini(fixture_t *f)
{
    for (size_t i = 0; i < f->rt->nsinks; i++) {
        brg_endpoint_destroy(f->sink_ep[i]);
    }
    brg_endpoint_destroy(f->src_ep);
    brg_route_destroy(f->rt);
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
    brg_route_destroy(f.rt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_delivery_one_sink_hears_each_outcome);
    tcase_add_test(tc, test_delivery_fanout_two_sinks_worst_outcome_once);
    tcase_add_test(tc, test_delivery_fanout_three_sinks_worst_outcome_once);
    tcase_add_test(tc, test_delivery_single_sink_keeps_order_in_batches);
    tcase_add_test(tc, test_delivery_endpoint_stopped_in_flight_releases_each_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
