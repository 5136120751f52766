/* The stall watchdog's decision (bridge/watchdog.h): given a route's counters over time,
 * stalled or not, and when to ask for a reconnect. */
#include "tests/check_main.h"
#include <stdlib.h>
#include <string.h>

#include "bridge/conf.h"
#include "bridge/watchdog.h"

#define S(x) ((int64_t)(x) * 1000000000LL)

static brg_wd_t wd_new(int64_t timeout_s)
{
    brg_wd_t wd;
    memset(&wd, 0, sizeof(wd));
    wd.timeout_ms = timeout_s * 1000;
    return wd;
}

static brg_wd_verdict_t step(brg_wd_t *wd, uint64_t progress, size_t in_flight, int64_t backlog,
                             bool eligible, int64_t now, bool *act)
{
    brg_wd_sample_t s = {progress, in_flight, backlog, eligible, false, false};
    return brg_wd_step(wd, &s, now, act);
}

START_TEST(test_wd_in_flight_without_progress_stalls_once)
{
    brg_wd_t wd = wd_new(60);
    bool act;
    ck_assert_int_eq(step(&wd, 10, 5, 0, true, S(1), &act), BRG_WD_OK);
    ck_assert_int_eq(step(&wd, 10, 5, 0, true, S(60), &act), BRG_WD_OK);
    ck_assert(!act);
    ck_assert_int_eq(step(&wd, 10, 5, 0, true, S(61), &act), BRG_WD_STALLED);
    ck_assert(act);
    ck_assert(atomic_load(&wd.stalled));
    ck_assert_uint_eq(atomic_load(&wd.stalls), 1);
    /* Still stalled: no new count, and no second reconnect before another timeout. */
    ck_assert_int_eq(step(&wd, 10, 5, 0, true, S(90), &act), BRG_WD_STILL);
    ck_assert(!act);
    ck_assert_int_eq(step(&wd, 10, 5, 0, true, S(121), &act), BRG_WD_STILL);
    ck_assert(act);
    ck_assert_uint_eq(atomic_load(&wd.stalls), 1);
    /* It moves again. */
    ck_assert_int_eq(step(&wd, 11, 4, 0, true, S(122), &act), BRG_WD_RESUMED);
    ck_assert(!atomic_load(&wd.stalled));
    ck_assert_int_eq(step(&wd, 11, 4, 0, true, S(150), &act), BRG_WD_OK);
    ck_assert_int_eq(step(&wd, 11, 4, 0, true, S(183), &act), BRG_WD_STALLED);
    ck_assert_uint_eq(atomic_load(&wd.stalls), 2);
}
END_TEST

START_TEST(test_wd_backlog_without_progress_stalls)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    step(&wd, 0, 0, 5000, true, S(0), &act);
    ck_assert_int_eq(step(&wd, 0, 0, 5000, true, S(2), &act), BRG_WD_OK);
    ck_assert_int_eq(step(&wd, 0, 0, 5000, true, S(3), &act), BRG_WD_STALLED);
    ck_assert(act);
}
END_TEST

/* A source whose backlog check goes unanswered (a connection frozen while its queue was empty)
 * counts as waiting: stalled after the timeout; an answer that says 0 ends the wait. */
START_TEST(test_wd_unanswered_backlog_check_stalls)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    brg_wd_sample_t s = {.progress = 4, .in_flight = 0, .backlog = 0, .eligible = true};
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(0), &act), BRG_WD_OK);
    s.unanswered = true;
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(1), &act), BRG_WD_OK);
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(2), &act), BRG_WD_OK);
    ck_assert(!act);
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(3), &act), BRG_WD_STALLED);
    ck_assert(act);
    /* Answered after the reconnect, nothing waits: not stalled any more. */
    s.unanswered = false;
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(5), &act), BRG_WD_RESUMED);
    /* An answer that comes late but within the timeout never stalls. */
    s.unanswered = true;
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(6), &act), BRG_WD_OK);
    s.unanswered = false;
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(8), &act), BRG_WD_OK);
    s.unanswered = true;
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(10), &act), BRG_WD_OK);
    ck_assert_uint_eq(atomic_load(&wd.stalls), 1);
}
END_TEST

START_TEST(test_wd_idle_or_moving_is_not_stalled)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    /* Idle: nothing in flight, no backlog, for a long time. */
    for (int t = 0; t < 100; t++) {
        ck_assert_int_eq(step(&wd, 7, 0, 0, true, S(t), &act), BRG_WD_OK);
    }
    /* Busy and moving every second. */
    for (int t = 100; t < 200; t++) {
        ck_assert_int_eq(step(&wd, (uint64_t)t, 1000, 9000, true, S(t), &act), BRG_WD_OK);
    }
    ck_assert_uint_eq(atomic_load(&wd.stalls), 0);
}
END_TEST

START_TEST(test_wd_paused_route_is_not_stalled)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    /* Rate-limited, draining, stopped, parked or an endpoint down: ineligible for minutes. */
    for (int t = 0; t < 300; t++) {
        ck_assert_int_eq(step(&wd, 1, 10, 100, false, S(t), &act), BRG_WD_OK);
        ck_assert(!act);
    }
    /* Eligible again: the clock starts now, not at the last move. */
    ck_assert_int_eq(step(&wd, 1, 10, 100, true, S(301), &act), BRG_WD_OK);
    ck_assert_int_eq(step(&wd, 1, 10, 100, true, S(303), &act), BRG_WD_STALLED);
}
END_TEST

START_TEST(test_wd_reconnecting_keeps_the_stall)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    step(&wd, 1, 10, 0, true, S(0), &act);
    ck_assert_int_eq(step(&wd, 1, 10, 0, true, S(3), &act), BRG_WD_STALLED);
    /* The watchdog's own reconnect takes the endpoint down: still stalled, no new request. */
    ck_assert_int_eq(step(&wd, 1, 10, 0, false, S(4), &act), BRG_WD_STILL);
    ck_assert(!act);
    ck_assert(atomic_load(&wd.stalled));
    /* Reconnected and still nothing for a whole timeout: ask again. */
    ck_assert_int_eq(step(&wd, 1, 10, 0, true, S(5), &act), BRG_WD_STILL);
    ck_assert(!act);
    ck_assert_int_eq(step(&wd, 1, 10, 0, true, S(8), &act), BRG_WD_STILL);
    ck_assert(act);
    /* In-flight settles RETRY and the route moves again. */
    ck_assert_int_eq(step(&wd, 20, 0, 0, true, S(9), &act), BRG_WD_RESUMED);
    ck_assert_uint_eq(atomic_load(&wd.stalls), 1);
}
END_TEST

/* A reconnect takes the source down: it stops consuming, so it reports no backlog and no
 * overdue check. That is not the route moving again (/readyz once lost the stall here). */
START_TEST(test_wd_reconnect_with_nothing_reported_keeps_the_stall)
{
    brg_wd_t wd = wd_new(3);
    bool act;
    brg_wd_sample_t s = {.progress = 1, .unanswered = true, .eligible = true};
    brg_wd_step(&wd, &s, S(0), &act);
    ck_assert_int_eq(brg_wd_step(&wd, &s, S(3), &act), BRG_WD_STALLED);
    brg_wd_sample_t down = {.progress = 1, .eligible = false, .reconnecting = true};
    for (int t = 4; t < 20; t++) {
        ck_assert_int_eq(brg_wd_step(&wd, &down, S(t), &act), BRG_WD_STILL);
        ck_assert(!act);
        ck_assert(atomic_load(&wd.stalled));
    }
    /* Connected again and idle: resumed. */
    brg_wd_sample_t idle = {.progress = 1, .eligible = true};
    ck_assert_int_eq(brg_wd_step(&wd, &idle, S(21), &act), BRG_WD_RESUMED);
    ck_assert(!atomic_load(&wd.stalled));
    /* Not stalled, an endpoint down and nothing waiting: simply not stalled. */
    ck_assert_int_eq(brg_wd_step(&wd, &down, S(40), &act), BRG_WD_OK);
}
END_TEST

START_TEST(test_wd_off)
{
    brg_wd_t wd = wd_new(0);
    bool act;
    for (int t = 0; t < 100; t++) {
        ck_assert_int_eq(step(&wd, 1, 10, 100, true, S(t), &act), BRG_WD_OK);
    }
}
END_TEST

START_TEST(test_wd_stall_timeout_keys)
{
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *c = brg_conf_load_string(
        "bridge = { stall_timeout = 5; };\n"
        "endpoints = ( { name = \"a\"; type = \"memory\"; },\n"
        "  { name = \"b\"; type = \"memory\"; } );\n"
        "routes = ( { name = \"r1\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; },\n"
        "  { name = \"r2\"; stall_timeout = 0;\n"
        "    from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; },\n"
        "  { name = \"r3\"; stall_timeout = 90;\n"
        "    from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; } );\n",
        "wd.conf", &d);
    ck_assert_msg(c != NULL, "%s", d.count ? d.lines[0] : "");
    ck_assert_int_eq(c->routes[0].stall_timeout_ms, 5000);
    ck_assert_int_eq(c->routes[1].stall_timeout_ms, 0);
    ck_assert_int_eq(c->routes[2].stall_timeout_ms, 90000);
    brg_conf_destroy(c);
    brg_diag_fini(&d);

    brg_diag_init(&d);
    c = brg_conf_load_string(
        "endpoints = ( { name = \"a\"; type = \"memory\"; } );\n"
        "routes = ( { name = \"r\"; from = { endpoint = \"a\"; }; to = { endpoint = \"a\"; };\n"
        "  stall_timeout = -1; } );\n",
        "bad.conf", &d);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(d.errors, 1);
    ck_assert_str_eq(d.lines[0],
                     "bad.conf:3: routes[0].stall_timeout: must be between 0 and 86400, not -1");
    brg_diag_fini(&d);

    /* The default: 60 s. */
    brg_diag_init(&d);
    c = brg_conf_load_string(
        "endpoints = ( { name = \"a\"; type = \"memory\"; },\n"
        "  { name = \"b\"; type = \"memory\"; } );\n"
        "routes = ( { name = \"r\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; }; } );\n",
        "def.conf", &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->routes[0].stall_timeout_ms, 60000);
    brg_conf_destroy(c);
    brg_diag_fini(&d);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("watchdog");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_wd_in_flight_without_progress_stalls_once);
    tcase_add_test(tc, test_wd_backlog_without_progress_stalls);
    tcase_add_test(tc, test_wd_unanswered_backlog_check_stalls);
    tcase_add_test(tc, test_wd_idle_or_moving_is_not_stalled);
    tcase_add_test(tc, test_wd_paused_route_is_not_stalled);
    tcase_add_test(tc, test_wd_reconnecting_keeps_the_stall);
    tcase_add_test(tc, test_wd_reconnect_with_nothing_reported_keeps_the_stall);
    tcase_add_test(tc, test_wd_off);
    tcase_add_test(tc, test_wd_stall_timeout_keys);
    suite_add_tcase(s, tc);
    return s;
}
