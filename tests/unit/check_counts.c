/* Per-thread route counters (bridge/tslot.c, brg_route_count): what many threads add is all
 * there when summed, and a thread's slot goes back when it exits. */
#include "tests/check_main.h"
#include <pthread.h>
#include <stdlib.h>

#include "bridge/route.h"
#include "bridge/tslot.h"

#define ADDS 100000

static void *adder(void *arg)
{
    brg_route_t *rt = arg;
    for (int i = 0; i < ADDS; i++) {
        BRG_ROUTE_COUNT(rt, s.in_msgs, 1);
        BRG_ROUTE_COUNT(rt, s.in_bytes, 3);
        brg_route_count(rt, offsetof(brg_route_counts_t, latency_buckets) +
                                2 * sizeof(atomic_uint_fast64_t), 1);
    }
    return NULL;
}

START_TEST(test_counts_from_many_threads_sum_exactly)
{
    brg_route_t *rt = brg_route_new("r", NULL);
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, adder, rt), 0);
    }
    adder(rt); /* and this thread */
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
    }
    atomic_fetch_add(&rt->stats.parks, 2); /* a rare counter, kept apart */
    brg_route_counts_t sum;
    brg_route_counts_read(rt, &sum);
    ck_assert_uint_eq(atomic_load(&sum.s.in_msgs), 9 * ADDS);
    ck_assert_uint_eq(atomic_load(&sum.s.in_bytes), 27 * ADDS);
    ck_assert_uint_eq(atomic_load(&sum.latency_buckets[2]), 9 * ADDS);
    ck_assert_uint_eq(atomic_load(&sum.latency_buckets[1]), 0);
    ck_assert_uint_eq(atomic_load(&sum.s.parks), 2);
    brg_route_destroy(rt);
}
END_TEST

static void *slot_of_thread(void *arg)
{
    *(int *)arg = brg_tslot();
    return NULL;
}

START_TEST(test_thread_slot_is_given_back_at_exit)
{
    /* More threads one after another than there are slots: each finds one free. */
    for (int i = 0; i < 3 * BRG_TSLOTS; i++) {
        int slot = -5;
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, slot_of_thread, &slot), 0);
        pthread_join(t, NULL);
        ck_assert_int_ge(slot, 0);
        ck_assert_int_lt(slot, BRG_TSLOTS);
    }
    int mine = brg_tslot();
    ck_assert_int_eq(brg_tslot(), mine); /* stable for a thread */
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("counts");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_counts_from_many_threads_sum_exactly);
    tcase_add_test(tc, test_thread_slot_is_given_back_at_exit);
    suite_add_tcase(s, tc);
    return s;
}
