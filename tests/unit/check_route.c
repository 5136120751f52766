/* Routes between memory endpoints: delivery, order, credit, retry, dead letters, drain. */
#include "tests/check_main.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/memory.h"
#include "bridge/clock.h"
#include "bridge/engine.h"
#include "bridge/route.h"

/* A route counter, summed over the threads' shares (brg_route_counts_read). */
static uint64_t route_count(brg_route_t *rt, size_t off)
{
    brg_route_counts_t sum;
    brg_route_counts_read(rt, &sum);
    return atomic_load((atomic_uint_fast64_t *)((char *)&sum + off));
}

static brg_engine_t *engine;

static brg_engine_t *start(const char *text)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &d);
    ck_assert_msg(conf != NULL, "config: %s", d.count ? d.lines[0] : "?");
    brg_diag_fini(&d);
    char err[256];
    brg_engine_t *e = brg_engine_new(conf, err, sizeof(err));
    ck_assert_msg(e != NULL, "engine: %s", err);
    ck_assert_int_eq(brg_engine_start(e, err, sizeof(err)), BRG_OK);
    return e;
}

static brg_memory_t *mem(const char *name)
{
    brg_memory_t *m = brg_memory_of(brg_engine_endpoint(engine, name));
    ck_assert_ptr_nonnull(m);
    return m;
}

static void inject(brg_memory_t *m, size_t n, size_t body_size)
{
    for (size_t i = 0; i < n; i++) {
        brg_envelope_t *env = brg_envelope_new();
        char *body = malloc(body_size + 1);
        int len = snprintf(body, body_size + 1, "msg-%zu", i + 1);
        memset(body + len, 'x', body_size > (size_t)len ? body_size - (size_t)len : 0);
        brg_envelope_take_body(env, (uint8_t *)body, body_size > (size_t)len ? body_size : (size_t)len);
        char seq[32];
        snprintf(seq, sizeof(seq), "msg-%zu", i + 1);
        brg_envelope_add_header_str(env, "seq", seq);
        env->origin.stream = strdup("in");
        brg_memory_inject(m, env);
    }
}

static bool acked_at_least(brg_memory_t *m, void *arg)
{
    return brg_memory_acked_count(m) >= *(size_t *)arg;
}

static bool received_at_least(brg_memory_t *m, void *arg)
{
    return brg_memory_received_count(m) >= *(size_t *)arg;
}

static void teardown(void)
{
    brg_engine_destroy(engine);
    engine = NULL;
}

#define SIMPLE(extra)                                                                              \
    "bridge = { id = \"test-bridge\"; };"                                                       \
    "endpoints = ( { name = \"src\"; type = \"memory\"; }, { name = \"dst\"; type = \"memory\"; }," \
    " { name = \"dlq\"; type = \"memory\"; } );"                                                   \
    "routes = ( { name = \"r\"; from = { endpoint = \"src\"; }; to = { endpoint = \"dst\"; "       \
    "stream = \"out.${topic}\"; }; " extra " } );"

START_TEST(test_route_delivers_everything_in_order)
{
    engine = start(SIMPLE(""));
    size_t n = 20000;
    inject(mem("src"), n, 64);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 20000));
    brg_memory_t *dst = mem("dst");
    ck_assert_uint_eq(brg_memory_received_count(dst), n);
    for (size_t i = 0; i < n; i++) {
        const brg_envelope_t *env = brg_memory_received(dst, i);
        char want[32];
        int len = snprintf(want, sizeof(want), "msg-%zu", i + 1);
        ck_assert_mem_eq(env->body, want, (size_t)len);
        ck_assert_uint_eq(env->body_len, 64);
        ck_assert_str_eq((const char *)env->headers.items[0].value.u.bytes.data, want);
        ck_assert_uint_eq(brg_memory_acked_seq(mem("src"), i), i + 1);
    }
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.in_msgs)), n);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.accepted)), n);
    ck_assert_uint_eq(atomic_load(&rt->in_flight), 0);
}
END_TEST

START_TEST(test_route_in_flight_bound_pauses_the_source)
{
    engine = start(SIMPLE("max_in_flight = 10;"));
    brg_memory_set_settle_delay(mem("dst"), 2);
    size_t n = 300;
    inject(mem("src"), n, 10);
    /* While the sink is slow, the rest waits at the source (not in a buffer). */
    ck_assert_uint_gt(brg_memory_pending(mem("src")) + brg_memory_acked_count(mem("src")), 250);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 20000));
    ck_assert_uint_le(brg_memory_max_in_flight(mem("src")), 10);
    ck_assert_uint_ge(brg_memory_max_in_flight(mem("src")), 2);
}
END_TEST

START_TEST(test_route_byte_bound_limits_in_flight)
{
    engine = start(SIMPLE("max_in_flight_bytes = 1000;"));
    brg_memory_set_settle_delay(mem("dst"), 2);
    size_t n = 100;
    inject(mem("src"), n, 300);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 20000));
    /* 300 B bodies (+ header): a new one is taken only while under 1000 B, so at most 4. */
    ck_assert_uint_le(brg_memory_max_in_flight(mem("src")), 4);
}
END_TEST

START_TEST(test_route_oversized_message_still_passes_alone)
{
    engine = start(SIMPLE("max_in_flight_bytes = 100;"));
    size_t n = 5;
    inject(mem("src"), n, 5000);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_eq(brg_memory_max_in_flight(mem("src")), 1);
}
END_TEST

static brg_outcome_t retry_seq5_once(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    return env->src_seq == 5 && attempt == 1 ? BRG_RETRY : BRG_ACCEPTED;
}

START_TEST(test_route_retry_keeps_order)
{
    /* With one message in flight, a retried message is redelivered before anything after it. */
    engine = start(SIMPLE("max_in_flight = 1;"));
    brg_memory_set_script(mem("dst"), retry_seq5_once, NULL);
    size_t n = 50;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_le(brg_memory_retried_count(mem("src")), 1);
    ck_assert_uint_eq(brg_memory_delivery_count(mem("dst")), n + 1);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(brg_memory_received(mem("dst"), i)->src_seq, i + 1);
    }
}
END_TEST

START_TEST(test_route_retry_loses_nothing_when_pipelined)
{
    engine = start(SIMPLE(""));
    brg_memory_set_script(mem("dst"), retry_seq5_once, NULL);
    size_t n = 1000;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    bool seen[1001] = {false};
    for (size_t i = 0; i < brg_memory_received_count(mem("dst")); i++) {
        seen[brg_memory_received(mem("dst"), i)->src_seq] = true;
    }
    for (size_t i = 1; i <= n; i++) {
        ck_assert_msg(seen[i], "message %zu missing", i);
    }
}
END_TEST

static brg_outcome_t reject_seq3(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    return env->src_seq == 3 ? BRG_REJECTED : BRG_ACCEPTED;
}

START_TEST(test_route_rejected_goes_to_dead_letter)
{
    engine = start(SIMPLE("dead_letter = { endpoint = \"dlq\"; stream = \"dead\"; };"));
    brg_memory_set_script(mem("dst"), reject_seq3, NULL);
    size_t n = 10, one = 1;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert(brg_memory_wait(mem("dlq"), received_at_least, &one, 1000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n - 1);
    const brg_envelope_t *dead = brg_memory_received(mem("dlq"), 0);
    ck_assert_mem_eq(dead->body, "msg-3", 5);
    const brg_field_t *f = brg_fields_get(&dead->headers, "x-msgbridge-dlq-reason");
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq((const char *)f->value.u.bytes.data, "memory sink: scripted reject");
    f = brg_fields_get(&dead->headers, "x-msgbridge-dlq-route");
    ck_assert_str_eq((const char *)f->value.u.bytes.data, "r");
    f = brg_fields_get(&dead->headers, "x-msgbridge-dlq-destination");
    ck_assert_str_eq((const char *)f->value.u.bytes.data, "dst/out.in");
    ck_assert_ptr_nonnull(brg_fields_get(&dead->headers, "x-msgbridge-dlq-first-failure-ms"));
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.dead_lettered)), 1);
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
}
END_TEST

START_TEST(test_route_rejected_without_dead_letter_stops_route)
{
    engine = start(SIMPLE("max_in_flight = 1;"));
    brg_memory_set_script(mem("dst"), reject_seq3, NULL);
    inject(mem("src"), 10, 16);
    size_t two = 2;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    brg_route_t *rt = brg_engine_route(engine, "r");
    for (int i = 0; i < 500 && atomic_load(&rt->state) != BRG_ROUTE_STOPPED; i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_STOPPED);
    char *why = brg_route_stop_reason(rt);
    ck_assert_str_eq(why, "memory sink: scripted reject");
    free(why);
    /* The source keeps message 3 and takes nothing after it. */
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
    ck_assert_uint_eq(brg_memory_rejected_count(mem("src")), 1);
    ck_assert_uint_eq(brg_memory_pending(mem("src")), 7);
}
END_TEST

/* The memory source's generated messages, as bench/run and the tests read them: body "message
 * SEQ " then the filler, cut at body_size; key "k" and SEQ % 16. */
START_TEST(test_route_memory_generated_messages)
{
    engine = start("bridge = { id = \"test-bridge\"; };"
                   "endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"dst\"; type = \"memory\"; } );"
                   "routes = ( { name = \"long\"; from = { endpoint = \"src\"; count = 17;"
                   " body_size = 20; }; to = { endpoint = \"dst\"; }; } );");
    size_t n = 17;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
    const brg_envelope_t *first = brg_memory_received(mem("dst"), 0);
    ck_assert_uint_eq(first->body_len, 20);
    ck_assert_mem_eq(first->body, "message 1 klmnopqrst", 20);
    ck_assert_uint_eq(first->key_len, 2);
    ck_assert_mem_eq(first->key, "k1", 2);
    const brg_envelope_t *last = brg_memory_received(mem("dst"), 16);
    ck_assert_mem_eq(last->body, "message 17 lmnopqrst", 20);
    ck_assert_mem_eq(last->key, "k1", 2);
    ck_assert_mem_eq(brg_memory_received(mem("dst"), 15)->key, "k0", 2);
    ck_assert_mem_eq(brg_memory_received(mem("dst"), 14)->key, "k15", 3);
    ck_assert_str_eq(first->origin.stream, "memory");
}
END_TEST

START_TEST(test_route_memory_generated_body_shorter_than_its_prefix)
{
    engine = start("bridge = { id = \"test-bridge\"; };"
                   "endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"dst\"; type = \"memory\"; } );"
                   "routes = ( { name = \"short\"; from = { endpoint = \"src\"; count = 12;"
                   " body_size = 10; stream = \"gen\"; }; to = { endpoint = \"dst\"; }; } );");
    size_t n = 12;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    const brg_envelope_t *tenth = brg_memory_received(mem("dst"), 9);
    ck_assert_uint_eq(tenth->body_len, 10);
    ck_assert_mem_eq(tenth->body, "message 10", 10);
    ck_assert_mem_eq(brg_memory_received(mem("dst"), 0)->body, "message 1 ", 10);
    ck_assert_str_eq(tenth->origin.stream, "gen");
}
END_TEST

/* Retry generated message 29999 once (late: the script is set while the source already runs);
 * count its redelivery (the memory source regenerates it). */
static brg_outcome_t retry_generated_late_once(const brg_envelope_t *env, unsigned attempt,
                                               void *ctx)
{
    if (env->body_len >= 14 && memcmp(env->body, "message 29999 ", 14) == 0) {
        if (attempt == 1) {
            return BRG_RETRY;
        }
        atomic_fetch_add((atomic_int *)ctx, 1);
    }
    return BRG_ACCEPTED;
}

/* record = false (what bench/run uses): counts stay exact, nothing is kept per message, and a
 * retried generated message comes back the same, marked redelivered. */
START_TEST(test_route_memory_without_record_counts_and_regenerates)
{
    engine = start("bridge = { id = \"test-bridge\"; };"
                   "endpoints = ( { name = \"src\"; type = \"memory\"; record = false; },"
                   " { name = \"dst\"; type = \"memory\"; record = false; } );"
                   "routes = ( { name = \"r\"; max_in_flight = 100000;"
                   " from = { endpoint = \"src\"; count = 30000; body_size = 40; };"
                   " to = { endpoint = \"dst\"; }; } );");
    static atomic_int redelivered;
    atomic_store(&redelivered, 0);
    brg_memory_set_script(mem("dst"), retry_generated_late_once, &redelivered);
    size_t n = 30000;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 20000));
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), n);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
    /* Unless the whole count passed before the script was set (a very slow test thread). */
    ck_assert_uint_le(brg_memory_retried_count(mem("src")), 1);
    ck_assert_int_eq(atomic_load(&redelivered), (int)brg_memory_retried_count(mem("src")));
    ck_assert_uint_eq(brg_memory_pending(mem("src")), 0);
    ck_assert_ptr_null(brg_memory_received(mem("dst"), 0));
    ck_assert_uint_eq(brg_memory_acked_seq(mem("src"), 0), 0);
}
END_TEST

START_TEST(test_route_rejected_to_broker_dead_letter_keeps_running)
{
    engine = start("bridge = { id = \"b\"; };"
                   "endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"dst\"; type = \"memory\"; } );"
                   "routes = ( { name = \"r\"; max_in_flight = 1;"
                   " from = { endpoint = \"src\"; on_reject = \"reject\"; };"
                   " to = { endpoint = \"dst\"; stream = \"out\"; }; } );");
    brg_memory_set_script(mem("dst"), reject_seq3, NULL);
    inject(mem("src"), 10, 16);
    size_t nine = 9;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &nine, 5000));
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
    ck_assert_uint_eq(brg_memory_rejected_count(mem("src")), 1);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.broker_rejected)), 1);
    ck_assert_uint_eq(brg_memory_pending(mem("src")), 0);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), 9);
    char *why = brg_route_stop_reason(rt);
    ck_assert_ptr_null(why);
}
END_TEST

/* The end-to-end histogram counts from the message's own timestamp; messages without one are
 * left out. */
START_TEST(test_route_end_to_end_latency_from_timestamp)
{
    engine = start(SIMPLE(""));
    brg_memory_t *src = mem("src");
    int64_t now = brg_wall_ms();
    for (int i = 0; i < 10; i++) {
        brg_envelope_t *env = brg_envelope_new();
        brg_envelope_set_body(env, "x", 1);
        env->props.timestamp_ms = i < 6 ? now - 2000 : -1; /* 6 two seconds old, 4 without */
        brg_memory_inject(src, env);
    }
    size_t ten = 10;
    ck_assert(brg_memory_wait(src, acked_at_least, &ten, 5000));
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.e2e_count)), 6);
    uint64_t sum = route_count(rt, offsetof(brg_route_counts_t, s.e2e_ms_sum));
    ck_assert_msg(sum >= 6 * 2000 && sum < 6 * 4000, "sum %llu ms", (unsigned long long)sum);
    /* All six in the (1 s, 2.5 s] bucket, whose bound is brg_e2e_bounds[10]. */
    ck_assert(brg_e2e_bounds[10] == 2.5);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, e2e_buckets) + 10 * sizeof(atomic_uint_fast64_t)), 6);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.latency_count)), 10);
}
END_TEST

START_TEST(test_route_late_settles_complete)
{
    engine = start(SIMPLE("max_in_flight = 50;"));
    brg_memory_set_settle_delay(mem("dst"), 20);
    size_t n = 200;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 10000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
}
END_TEST

START_TEST(test_drain_waits_for_in_flight)
{
    engine = start(SIMPLE("max_in_flight = 20;"));
    brg_memory_set_settle_delay(mem("dst"), 30);
    inject(mem("src"), 100, 16);
    size_t some = 1;
    ck_assert(brg_memory_wait(mem("dst"), received_at_least, &some, 2000));
    ck_assert(brg_engine_drain(engine, 5000));
    ck_assert_uint_eq(brg_engine_in_flight(engine), 0);
    /* Nothing new is taken once draining: the rest stays at the source. */
    size_t acked = brg_memory_acked_count(mem("src"));
    ck_assert_uint_lt(acked, 100);
    ck_assert_uint_eq(brg_memory_pending(mem("src")), 100 - acked);
}
END_TEST

static brg_outcome_t retry_seq2_once(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    return env->src_seq == 2 && attempt == 1 ? BRG_RETRY : BRG_ACCEPTED;
}

START_TEST(test_fanout_acks_after_every_sink)
{
    engine = start("endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"a\"; type = \"memory\"; }, { name = \"b\"; type = \"memory\"; } );"
                   "routes = ( { name = \"r\"; from = { endpoint = \"src\"; };"
                   " to = ( { endpoint = \"a\"; }, { endpoint = \"b\"; } ); } );");
    brg_memory_set_script(mem("b"), retry_seq2_once, NULL);
    size_t n = 100;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    /* b's retry is handled at b: the source is not asked to redeliver, a gets no duplicate. */
    ck_assert_uint_eq(brg_memory_retried_count(mem("src")), 0);
    ck_assert_uint_eq(brg_memory_received_count(mem("a")), n);
    ck_assert_uint_eq(brg_memory_received_count(mem("b")), n);
    ck_assert_uint_eq(brg_memory_delivery_count(mem("b")), n + 1);
}
END_TEST

START_TEST(test_route_filtered_messages_are_acked_and_counted)
{
    engine = start(SIMPLE("mapping = { where = \"header.seq ~ '[05]$'\"; };"));
    size_t n = 100;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), 20);
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.filtered)), 80);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.dead_lettered)), 0);
    /* Every forwarded message carries this bridge's provenance. */
    const brg_field_t *p = brg_fields_get(&brg_memory_received(mem("dst"), 0)->headers,
                                          "x-msgbridge-path");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq((char *)p->value.u.bytes.data, "test-bridge/r");
}
END_TEST

START_TEST(test_route_drops_messages_that_crossed_this_bridge)
{
    /* "other-route" is no route of this config: what it read is unknown, so a loop. */
    engine = start(SIMPLE(""));
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "echo", 4);
    brg_envelope_add_header_str(env, "x-msgbridge-path", "test-bridge/other-route");
    brg_memory_inject(mem("src"), env);
    inject(mem("src"), 1, 8);
    size_t two = 2;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), 1);
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.loop_dropped)), 1);
    /* A loop drop is acknowledged at the source but not counted as accepted. */
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.accepted)), 1);
    ck_assert(!brg_route_only_loops(rt, brg_now_ns()));
}
END_TEST

static brg_outcome_t reject_at_b(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    return env->src_seq == 3 ? BRG_REJECTED : BRG_ACCEPTED;
}

START_TEST(test_fanout_worst_outcome_wins)
{
    engine = start("endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"a\"; type = \"memory\"; }, { name = \"b\"; type = \"memory\"; } );"
                   "routes = ( { name = \"r\"; from = { endpoint = \"src\"; }; max_in_flight = 1;"
                   " to = ( { endpoint = \"a\"; }, { endpoint = \"b\"; } ); } );");
    brg_memory_set_script(mem("b"), reject_at_b, NULL);
    inject(mem("src"), 5, 16);
    size_t two = 2;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    brg_route_t *rt = brg_engine_route(engine, "r");
    for (int i = 0; i < 500 && atomic_load(&rt->state) != BRG_ROUTE_STOPPED; i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    /* a accepted message 3, b rejected it: the source keeps it and the route stops. */
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_STOPPED);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
}
END_TEST

START_TEST(test_route_rate_limit_paces_the_source)
{
    engine = start(SIMPLE("rate = { messages_per_second = 200; };"));
    size_t n = 100;
    int64_t t0 = brg_now_ns();
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 10000));
    double s = (double)(brg_now_ns() - t0) / 1e9;
    /* 100 messages at 200/s with a 20-message burst: at least 0.4 s, and not much more. */
    ck_assert_msg(s >= 0.38 && s < 1.5, "took %.3f s", s);
}
END_TEST

/* ---- parking: a destination that is missing or refuses -------------------------------------- */

typedef struct {
    atomic_bool exists;   /* the destination is there */
    uint64_t from_seq;    /* messages from this seq on are unroutable while it is not */
    pthread_mutex_t lock;
    int64_t probe_ns[64]; /* delivery times of from_seq while unroutable */
    size_t nprobes;
} dest_t;

static brg_outcome_t dest_script(const brg_envelope_t *env, unsigned attempt, void *ctx)
{
    (void)attempt;
    dest_t *d = ctx;
    if (env->src_seq < d->from_seq || atomic_load(&d->exists)) {
        return BRG_ACCEPTED;
    }
    if (env->src_seq == d->from_seq) {
        pthread_mutex_lock(&d->lock);
        if (d->nprobes < 64) {
            d->probe_ns[d->nprobes++] = brg_now_ns();
        }
        pthread_mutex_unlock(&d->lock);
    }
    return BRG_MEMORY_UNROUTABLE;
}

static void dest_init(dest_t *d, uint64_t from_seq)
{
    memset(d, 0, sizeof(*d));
    atomic_init(&d->exists, false);
    d->from_seq = from_seq;
    pthread_mutex_init(&d->lock, NULL);
}

static bool wait_state(brg_route_t *rt, int state, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 2 && atomic_load(&rt->state) != state; i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&rt->state) == state;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

START_TEST(test_route_parks_and_resumes_in_order)
{
    static dest_t d;
    dest_init(&d, 3);
    engine = start(SIMPLE("park_retry_min = 0.05; park_retry_max = 0.4;"));
    brg_memory_set_script(mem("dst"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    size_t n = 200, two = 2;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    ck_assert(wait_state(rt, BRG_ROUTE_PARKED, 5000));
    int64_t next_ms = -1;
    char *why = brg_route_park_reason(rt, &next_ms);
    ck_assert_str_eq(why, "memory sink: scripted unroutable");
    free(why);
    ck_assert_int_ge(next_ms, 0);
    ck_assert_int_le(next_ms, 400);
    /* Parked: nothing after message 2 is acknowledged, nothing rejected, the source keeps it. */
    sleep_ms(1200);
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_PARKED);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
    ck_assert_uint_eq(brg_memory_rejected_count(mem("src")), 0);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), 2);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.parks)), 1);
    /* One probe at a time, spaced by the backoff: between min and max, and growing. */
    pthread_mutex_lock(&d.lock);
    size_t np = d.nprobes;
    ck_assert_uint_ge(np, 3);
    ck_assert_uint_le(np, 1200 / 50 + 2);
    bool grew = false;
    for (size_t i = 2; i < np; i++) {
        int64_t gap_ms = (d.probe_ns[i] - d.probe_ns[i - 1]) / 1000000;
        ck_assert_int_ge(gap_ms, 45);
        ck_assert_int_le(gap_ms, 600);
        grew = grew || gap_ms > 80;
    }
    pthread_mutex_unlock(&d.lock);
    ck_assert_msg(grew, "the backoff never grew past its minimum");
    ck_assert_int_eq(atomic_load(&rt->in_flight), 0);
    /* The destination appears: the route resumes by itself, everything arrives once, in order. */
    atomic_store(&d.exists, true);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(brg_memory_received(mem("dst"), i)->src_seq, i + 1);
    }
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.parks)), 1);
}
END_TEST

START_TEST(test_route_unroutable_goes_to_dead_letter_by_default)
{
    static dest_t d;
    dest_init(&d, 3);
    d.from_seq = 3;
    engine = start(SIMPLE("max_in_flight = 1;"
                          "dead_letter = { endpoint = \"dlq\"; stream = \"dead\"; };"));
    brg_memory_set_script(mem("dst"), dest_script, &d);
    size_t n = 5;
    inject(mem("src"), n, 16);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    brg_route_t *rt = brg_engine_route(engine, "r");
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.parks)), 0);
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), 2);
    ck_assert_uint_eq(brg_memory_received_count(mem("dlq")), 3);
    const brg_field_t *f =
        brg_fields_get(&brg_memory_received(mem("dlq"), 0)->headers, "x-msgbridge-dlq-reason");
    ck_assert_str_eq((const char *)f->value.u.bytes.data, "memory sink: scripted unroutable");
}
END_TEST

START_TEST(test_route_on_unroutable_park_with_dead_letter)
{
    static dest_t d;
    dest_init(&d, 3);
    engine = start(SIMPLE("on_unroutable = \"park\"; park_retry_min = 0.05; park_retry_max = 0.1;"
                          "dead_letter = { endpoint = \"dlq\"; stream = \"dead\"; };"));
    brg_memory_set_script(mem("dst"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    size_t n = 10;
    inject(mem("src"), n, 16);
    ck_assert(wait_state(rt, BRG_ROUTE_PARKED, 5000));
    size_t two = 2; /* acknowledged on the source's thread, maybe after the park */
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    sleep_ms(200);
    ck_assert_uint_eq(brg_memory_received_count(mem("dlq")), 0);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
    atomic_store(&d.exists, true);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_eq(brg_memory_received_count(mem("dst")), n);
    ck_assert_uint_eq(brg_memory_received_count(mem("dlq")), 0);
}
END_TEST

START_TEST(test_route_on_unroutable_stop)
{
    static dest_t d;
    dest_init(&d, 3);
    engine = start(SIMPLE("max_in_flight = 1; on_unroutable = \"stop\";"));
    brg_memory_set_script(mem("dst"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    inject(mem("src"), 10, 16);
    ck_assert(wait_state(rt, BRG_ROUTE_STOPPED, 5000));
    char *why = brg_route_stop_reason(rt);
    ck_assert_str_eq(why, "memory sink: scripted unroutable");
    free(why);
    size_t two = 2; /* acknowledged on the source's thread, maybe after the stop */
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    atomic_store(&d.exists, true);
    sleep_ms(100);
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_STOPPED);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
}
END_TEST

START_TEST(test_route_parked_drains)
{
    /* A parked route has nothing in flight: draining it for a stop or reload finishes at once. */
    static dest_t d;
    dest_init(&d, 1);
    engine = start(SIMPLE(""));
    brg_memory_set_script(mem("dst"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    inject(mem("src"), 50, 16);
    ck_assert(wait_state(rt, BRG_ROUTE_PARKED, 5000));
    int64_t t0 = brg_now_ns();
    brg_engine_destroy(engine);
    engine = NULL;
    ck_assert_int_lt((brg_now_ns() - t0) / 1000000, 3000);
}
END_TEST

/* One sink's destination is missing: the whole route parks (the source keeps the message: it
 * acknowledges nothing the missing sink has not confirmed). The healthy sink keeps what it
 * confirmed and is sent nothing again while the route probes with the held copies; once the
 * destination is there every message reaches it once, in order, and the healthy sink has each
 * message exactly once. */
static void fanout_park(const char *window, size_t n, size_t max_acked_while_parked)
{
    static dest_t d;
    dest_init(&d, 3);
    char conf[1024];
    snprintf(conf, sizeof(conf),
             "endpoints = ( { name = \"src\"; type = \"memory\"; },"
             " { name = \"a\"; type = \"memory\"; }, { name = \"b\"; type = \"memory\"; } );"
             "routes = ( { name = \"r\"; from = { endpoint = \"src\"; }; max_in_flight = %s;"
             " park_retry_min = 0.05; park_retry_max = 0.1;"
             " to = ( { endpoint = \"a\"; }, { endpoint = \"b\"; } ); } );",
             window);
    engine = start(conf);
    brg_memory_set_script(mem("b"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    inject(mem("src"), n, 16);
    ck_assert(wait_state(rt, BRG_ROUTE_PARKED, 5000));
    size_t two = 2; /* acknowledged on the source's thread, maybe after the park */
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    /* Several probes (50-100 ms apart) while parked. */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&d.lock);
        size_t np = d.nprobes;
        pthread_mutex_unlock(&d.lock);
        if (np >= 4) {
            break;
        }
        sleep_ms(10);
    }
    pthread_mutex_lock(&d.lock);
    ck_assert_uint_ge(d.nprobes, 4);
    pthread_mutex_unlock(&d.lock);
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_PARKED);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
    ck_assert_uint_eq(brg_memory_rejected_count(mem("src")), 0);
    /* a got at most the window, each once; b only the first two; b's copies are held. */
    size_t at_a = brg_memory_received_count(mem("a"));
    ck_assert_uint_le(at_a, max_acked_while_parked);
    ck_assert_uint_eq(brg_memory_received_count(mem("b")), 2);
    ck_assert_uint_eq(atomic_load(&rt->nheld), at_a - 2);
    atomic_store(&d.exists, true);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_RUNNING);
    ck_assert_uint_eq(brg_memory_received_count(mem("b")), n);
    ck_assert_uint_eq(brg_memory_received_count(mem("a")), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(brg_memory_received(mem("b"), i)->src_seq, i + 1);
        ck_assert_uint_eq(brg_memory_received(mem("a"), i)->src_seq, i + 1);
    }
    /* Each acknowledged once (fan-out settles in the order the last copy of each is confirmed,
     * which two sink threads may interleave: a set, not a sequence). */
    bool *acked = calloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = brg_memory_acked_seq(mem("src"), i);
        ck_assert(seq >= 1 && seq <= n && !acked[seq]);
        acked[seq] = true;
    }
    free(acked);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.accepted)), n);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.retried)), 0);
    ck_assert_uint_eq(route_count(rt, offsetof(brg_route_counts_t, s.parks)), 1);
}

START_TEST(test_fanout_parks_when_one_sink_is_unroutable)
{
    fanout_park("1", 20, 3);
}
END_TEST

START_TEST(test_fanout_park_never_resends_to_the_healthy_sink)
{
    fanout_park("50", 500, 52);
}
END_TEST

/* A reload that leaves a parked fan-out route unchanged keeps it running, with the copies it
 * holds: the healthy sink still gets nothing twice. */
START_TEST(test_fanout_park_survives_unchanged_reload)
{
    static dest_t d;
    dest_init(&d, 3);
    const char *text = "endpoints = ( { name = \"src\"; type = \"memory\"; },"
                       " { name = \"a\"; type = \"memory\"; }, { name = \"b\"; type = \"memory\"; } );"
                       "routes = ( { name = \"r\"; from = { endpoint = \"src\"; }; max_in_flight = 20;"
                       " park_retry_min = 0.05; park_retry_max = 0.1;"
                       " to = ( { endpoint = \"a\"; }, { endpoint = \"b\"; } ); } );";
    engine = start(text);
    brg_memory_set_script(mem("b"), dest_script, &d);
    brg_route_t *rt = brg_engine_route(engine, "r");
    size_t n = 100;
    inject(mem("src"), n, 16);
    ck_assert(wait_state(rt, BRG_ROUTE_PARKED, 5000));
    /* Copies held at b: up to 18, as many as the source took before the route parked (8 under
     * TSan, where the source is slower than the park), so only "some" is certain. */
    for (int i = 0; i < 500 && atomic_load(&rt->nheld) < 1; i++) {
        sleep_ms(10);
    }
    ck_assert_uint_ge(atomic_load(&rt->nheld), 1);
    /* Messages 1 and 2 reached both sinks; their acknowledgement reaches the source on its own
     * thread, maybe after the park (a loaded machine saw 0 here). */
    size_t two = 2;
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &two, 5000));
    brg_diag_t dg;
    brg_diag_init(&dg);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &dg);
    ck_assert_ptr_nonnull(conf);
    brg_diag_fini(&dg);
    brg_reload_plan_t *plan = brg_reload_plan(engine->conf, conf, NULL, NULL);
    ck_assert_uint_eq(plan->kept_endpoints, 3);
    ck_assert_uint_eq(plan->kept_routes, 1);
    engine = brg_engine_reload_apply(engine, conf, &plan, 1000);
    brg_reload_plan_free(plan);
    ck_assert_ptr_eq(brg_engine_route(engine, "r"), rt);
    ck_assert_int_eq(atomic_load(&rt->state), BRG_ROUTE_PARKED);
    ck_assert_uint_eq(brg_memory_acked_count(mem("src")), 2);
    atomic_store(&d.exists, true);
    ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
    ck_assert_uint_eq(brg_memory_received_count(mem("a")), n);
    ck_assert_uint_eq(brg_memory_received_count(mem("b")), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(brg_memory_received(mem("a"), i)->src_seq, i + 1);
        ck_assert_uint_eq(brg_memory_received(mem("b"), i)->src_seq, i + 1);
    }
}
END_TEST

/* Two routes share sink endpoint a; a reload changes r1 only. a and src1 keep running (their
 * adapter changes routes in place), r2 is not touched: every message of r2 arrives exactly once
 * and none of r1's is lost across the change. */
static const char *two_routes(char *buf, size_t size, const char *r1_extra)
{
    snprintf(buf, size,
             "bridge = { id = \"test-bridge\"; };"
             "endpoints = ( { name = \"src1\"; type = \"memory\"; },"
             " { name = \"src2\"; type = \"memory\"; }, { name = \"a\"; type = \"memory\"; } );"
             "routes = ( { name = \"r1\"; %s rate = { messages_per_second = 20000.0; };"
             " from = { endpoint = \"src1\"; count = 20000; body_size = 24; stream = \"one\"; };"
             " to = { endpoint = \"a\"; }; },"
             " { name = \"r2\"; rate = { messages_per_second = 20000.0; };"
             " from = { endpoint = \"src2\"; count = 20000; body_size = 24; stream = \"two\"; };"
             " to = { endpoint = \"a\"; }; } );",
             r1_extra);
    return buf;
}

START_TEST(test_reload_in_place_leaves_the_other_route_alone)
{
    char text[2048];
    engine = start(two_routes(text, sizeof(text), ""));
    brg_endpoint_t *a = brg_engine_endpoint(engine, "a");
    brg_endpoint_t *src1 = brg_engine_endpoint(engine, "src1");
    brg_route_t *r1 = brg_engine_route(engine, "r1"), *r2 = brg_engine_route(engine, "r2");
    size_t some = 4000;
    ck_assert(brg_memory_wait(mem("a"), received_at_least, &some, 5000));

    brg_diag_t dg;
    brg_diag_init(&dg);
    brg_conf_t *conf = brg_conf_load_string(two_routes(text, sizeof(text), "max_in_flight = 64;"),
                                            "test.conf", &dg);
    ck_assert_ptr_nonnull(conf);
    brg_diag_fini(&dg);
    brg_reload_plan_t *plan = brg_reload_plan(engine->conf, conf, brg_engine_in_place, NULL);
    engine = brg_engine_reload_apply(engine, conf, &plan, 5000);
    ck_assert_str_eq(brg_reload_why_name(plan->endpoint_why[0]), "routes changed in place");
    ck_assert_str_eq(brg_reload_why_name(plan->endpoint_why[1]), "kept");
    ck_assert_str_eq(brg_reload_why_name(plan->endpoint_why[2]), "routes changed in place");
    ck_assert_uint_eq(plan->kept_routes, 1);
    brg_reload_plan_free(plan);
    /* The same endpoints, threads never restarted; r2 the same route; r1 a new one on them. */
    ck_assert_ptr_eq(brg_engine_endpoint(engine, "a"), a);
    ck_assert_ptr_eq(brg_engine_endpoint(engine, "src1"), src1);
    ck_assert_uint_eq(atomic_load(&a->restarts), 0);
    ck_assert_ptr_eq(brg_engine_route(engine, "r2"), r2);
    ck_assert_ptr_ne(brg_engine_route(engine, "r1"), r1);
    ck_assert_uint_eq(brg_engine_route(engine, "r1")->max_in_flight, 64);
    ck_assert_uint_eq(a->nsinks, 2);
    ck_assert_uint_eq(src1->nsources, 1);

    size_t all = 20000;
    ck_assert(brg_memory_wait(mem("src1"), acked_at_least, &all, 10000));
    ck_assert(brg_memory_wait(mem("src2"), acked_at_least, &all, 10000));
    static uint8_t seen1[20001], seen2[20001];
    memset(seen1, 0, sizeof(seen1));
    memset(seen2, 0, sizeof(seen2));
    for (size_t i = 0; i < brg_memory_received_count(mem("a")); i++) {
        const brg_envelope_t *env = brg_memory_received(mem("a"), i);
        ck_assert_uint_le(env->src_seq, 20000);
        uint8_t *seen = strcmp(env->origin.stream, "one") == 0 ? seen1 : seen2;
        seen[env->src_seq]++;
    }
    for (size_t q = 1; q <= 20000; q++) {
        ck_assert_msg(seen1[q] >= 1, "r1: message %zu missing", q);
        ck_assert_msg(seen2[q] == 1, "r2: message %zu arrived %u times", q, seen2[q]);
    }
}
END_TEST

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nothing waits in an endpoint thread's outbox while the thread sleeps: at 4 msg/s each
 * message goes source -> sink -> settled -> acknowledged in a few ms. Without the flush
 * before the memory adapter's poll (100 ms timeout), each hop would wait out that timeout. */
START_TEST(test_route_slow_trickle_is_not_held_in_outboxes)
{
    engine = start("endpoints = ( { name = \"src\"; type = \"memory\"; },"
                   " { name = \"dst\"; type = \"memory\"; } );"
                   "routes = ( { name = \"r\"; from = { endpoint = \"src\"; };"
                   " to = { endpoint = \"dst\"; }; } );");
    int64_t rt_ns[8];
    for (size_t i = 1; i <= 8; i++) {
        int64_t t0 = brg_now_ns();
        inject(mem("src"), 1, 16);
        size_t n = i;
        ck_assert(brg_memory_wait(mem("src"), acked_at_least, &n, 5000));
        rt_ns[i - 1] = brg_now_ns() - t0;
        struct timespec ts = {0, 250 * 1000000};
        nanosleep(&ts, NULL);
    }
    /* A lost flush delays every message by the 100 ms poll timeout at least (once per hop), so
     * the median tells it apart; the slowest alone does not: on a loaded machine one round trip
     * in eight took 109 ms with the flushes working. */
    qsort(rt_ns, 8, sizeof(rt_ns[0]), cmp_i64);
    ck_assert_msg(rt_ns[4] < 50 * 1000000LL, "median round trip %.1f ms (slowest %.1f ms)",
                  (double)rt_ns[4] / 1e6, (double)rt_ns[7] / 1e6);
}
END_TEST

/* The batch clock: one reading per batch for everything stamped in it, a fresh one outside. */
START_TEST(test_batch_clock_reads_once_per_batch)
{
    struct timespec ms2 = {0, 2000000};
    int64_t a = brg_batch_now_ns();
    nanosleep(&ms2, NULL);
    ck_assert_int_ge(brg_batch_now_ns() - a, 2000000); /* no batch: the clock itself */

    brg_clock_batch_begin();
    int64_t b = brg_batch_now_ns(), w = brg_batch_wall_ms();
    nanosleep(&ms2, NULL);
    ck_assert_int_eq(brg_batch_now_ns(), b);
    ck_assert_int_eq(brg_batch_wall_ms(), w);
    ck_assert_int_ge(w, brg_wall_ms() - 1000);
    brg_clock_batch_end();

    ck_assert_int_ge(brg_batch_now_ns() - b, 2000000);
    brg_clock_batch_begin(); /* a new batch reads again */
    ck_assert_int_ge(brg_batch_now_ns() - b, 2000000);
    ck_assert_int_ge(brg_batch_wall_ms() - w, 2);
    brg_clock_batch_end();
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_route_delivers_everything_in_order);
    tcase_add_test(tc, test_batch_clock_reads_once_per_batch);
    tcase_add_test(tc, test_reload_in_place_leaves_the_other_route_alone);
    tcase_add_test(tc, test_route_memory_generated_messages);
    tcase_add_test(tc, test_route_memory_generated_body_shorter_than_its_prefix);
    tcase_add_test(tc, test_route_slow_trickle_is_not_held_in_outboxes);
    tcase_add_test(tc, test_route_rejected_to_broker_dead_letter_keeps_running);
    tcase_add_test(tc, test_route_memory_without_record_counts_and_regenerates);
    tcase_add_test(tc, test_route_end_to_end_latency_from_timestamp);
    tcase_add_test(tc, test_route_in_flight_bound_pauses_the_source);
    tcase_add_test(tc, test_route_byte_bound_limits_in_flight);
    tcase_add_test(tc, test_route_oversized_message_still_passes_alone);
    tcase_add_test(tc, test_route_retry_keeps_order);
    tcase_add_test(tc, test_route_retry_loses_nothing_when_pipelined);
    tcase_add_test(tc, test_route_rejected_goes_to_dead_letter);
    tcase_add_test(tc, test_route_rejected_without_dead_letter_stops_route);
    tcase_add_test(tc, test_route_late_settles_complete);
    tcase_add_test(tc, test_drain_waits_for_in_flight);
    tcase_add_test(tc, test_fanout_acks_after_every_sink);
    tcase_add_test(tc, test_route_filtered_messages_are_acked_and_counted);
    tcase_add_test(tc, test_fanout_worst_outcome_wins);
    tcase_add_test(tc, test_route_rate_limit_paces_the_source);
    tcase_add_test(tc, test_route_drops_messages_that_crossed_this_bridge);
    tcase_add_test(tc, test_route_parks_and_resumes_in_order);
    tcase_add_test(tc, test_route_unroutable_goes_to_dead_letter_by_default);
    tcase_add_test(tc, test_route_on_unroutable_park_with_dead_letter);
    tcase_add_test(tc, test_route_on_unroutable_stop);
    tcase_add_test(tc, test_route_parked_drains);
    tcase_add_test(tc, test_fanout_parks_when_one_sink_is_unroutable);
    tcase_add_test(tc, test_fanout_park_never_resends_to_the_healthy_sink);
    tcase_add_test(tc, test_fanout_park_survives_unchanged_reload);
    suite_add_tcase(s, tc);
    return s;
}
