/* The reload plan (bridge/reload_plan.h), without threads: two configurations in, what is kept,
 * started, drained and stopped out, per endpoint and per route. */
#include "tests/check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/reload_plan.h"

/* Four memory endpoints and three routes: r1 src1 -> a, r2 src2 -> a (a is shared by two
 * routes), r3 src3 -> b. EP_EXTRA and ROUTE_EXTRA are appended inside the lists. */
static brg_conf_t *load(const char *bridge, const char *src1_settings, const char *r1_extra,
                        const char *ep_extra, const char *route_extra)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "bridge = { id = \"%s\"; };\n"
             "endpoints = (\n"
             "  { name = \"src1\"; type = \"memory\"; %s },\n"
             "  { name = \"src2\"; type = \"memory\"; },\n"
             "  { name = \"src3\"; type = \"memory\"; },\n"
             "  { name = \"a\"; type = \"memory\"; },\n"
             "  { name = \"b\"; type = \"memory\"; }%s\n"
             ");\n"
             "routes = (\n"
             "  { name = \"r1\"; from = { endpoint = \"src1\"; }; to = { endpoint = \"a\"; }; %s },\n"
             "  { name = \"r2\"; from = { endpoint = \"src2\"; }; to = { endpoint = \"a\"; }; },\n"
             "  { name = \"r3\"; from = { endpoint = \"src3\"; }; to = { endpoint = \"b\"; }; }%s\n"
             ");\n",
             bridge, src1_settings, ep_extra, r1_extra, route_extra);
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "test.conf", &d);
    for (size_t i = 0; i < d.count; i++) {
        fprintf(stderr, "%s\n", d.lines[i]);
    }
    ck_assert_ptr_nonnull(conf);
    brg_diag_fini(&d);
    return conf;
}

static brg_conf_t *base(void) { return load("x", "", "", "", ""); }

static size_t ep(const brg_conf_t *c, const char *name)
{
    for (size_t i = 0; i < c->nendpoints; i++) {
        if (strcmp(brg_conf_str(c->endpoints[i], "name", ""), name) == 0) {
            return i;
        }
    }
    ck_abort_msg("no endpoint %s", name);
    return 0;
}

static size_t route(const brg_conf_t *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++) {
        if (strcmp(c->routes[i].name, name) == 0) {
            return i;
        }
    }
    ck_abort_msg("no route %s", name);
    return 0;
}

/* WHYS: "src1=kept src2=kept ..." for every new endpoint, in order, as a string to compare. */
static void whys(const brg_reload_plan_t *p, const brg_conf_t *nc, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < p->nendpoints; i++) {
        n += (size_t)snprintf(out + n, size - n, "%s%s=%s", i ? " " : "",
                              brg_conf_str(nc->endpoints[i], "name", ""),
                              brg_reload_why_name(p->endpoint_why[i]));
    }
}

static void assert_whys(const brg_reload_plan_t *p, const brg_conf_t *nc, const char *want)
{
    char got[1024];
    whys(p, nc, got, sizeof(got));
    ck_assert_str_eq(got, want);
}

START_TEST(test_unchanged_keeps_everything)
{
    brg_conf_t *old = base();
    /* A comment and other whitespace change nothing. */
    brg_conf_t *nc = load("x", "  # the first source\n", "", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc, "src1=kept src2=kept src3=kept a=kept b=kept");
    ck_assert_uint_eq(p->kept_endpoints, 5);
    ck_assert_uint_eq(p->kept_routes, 3);
    for (size_t i = 0; i < nc->nendpoints; i++) {
        ck_assert_uint_eq(p->endpoint_old[i], i);
        ck_assert(!p->old_endpoint_stops[i]);
    }
    for (size_t r = 0; r < nc->nroutes; r++) {
        ck_assert_uint_eq(p->route_old[r], r);
        ck_assert(!p->old_route_drains[r]);
    }
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* r1 changes: its endpoints restart; a is shared with r2, which is rebuilt too and restarts
 * src2; r3 and its endpoints keep running. */
START_TEST(test_changed_route_restarts_its_endpoints_only)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("x", "", "max_in_flight = 7;", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc,
                "src1=routes changed src2=shares a replaced route src3=kept a=routes changed "
                "b=kept");
    ck_assert_uint_eq(p->kept_endpoints, 2);
    ck_assert_uint_eq(p->endpoint_old[ep(nc, "src3")], ep(old, "src3"));
    ck_assert_uint_eq(p->endpoint_old[ep(nc, "b")], ep(old, "b"));
    ck_assert_uint_eq(p->endpoint_old[ep(nc, "src1")], BRG_RELOAD_NONE);
    ck_assert(p->old_endpoint_stops[ep(old, "src1")]);
    ck_assert(p->old_endpoint_stops[ep(old, "src2")]);
    ck_assert(p->old_endpoint_stops[ep(old, "a")]);
    ck_assert(!p->old_endpoint_stops[ep(old, "b")]);
    ck_assert_uint_eq(p->kept_routes, 1);
    ck_assert_uint_eq(p->route_old[route(nc, "r3")], route(old, "r3"));
    ck_assert_uint_eq(p->route_old[route(nc, "r1")], BRG_RELOAD_NONE);
    ck_assert_uint_eq(p->route_old[route(nc, "r2")], BRG_RELOAD_NONE);
    ck_assert(p->old_route_drains[route(old, "r1")]);
    ck_assert(p->old_route_drains[route(old, "r2")]);
    ck_assert(!p->old_route_drains[route(old, "r3")]);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* An endpoint's own setting: it restarts, and so does every endpoint it shares a route with,
 * transitively (src1 -> a -> src2). */
START_TEST(test_changed_endpoint_spreads_through_shared_routes)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("x", "settle_delay_ms = 5;", "", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc,
                "src1=settings changed src2=shares a replaced route src3=kept "
                "a=shares a replaced route b=kept");
    ck_assert_uint_eq(p->kept_routes, 1);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* A new route on a new endpoint and a kept one: b gains a route (restarts, with r3 and src3);
 * the new endpoint starts; old routes untouched by it stay. */
START_TEST(test_added_route_and_endpoint)
{
    brg_conf_t *old = base();
    brg_conf_t *nc =
        load("x", "", "", ",\n  { name = \"src4\"; type = \"memory\"; }",
             ",\n  { name = \"r4\"; from = { endpoint = \"src4\"; }; to = { endpoint = \"b\"; }; }");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc,
                "src1=kept src2=kept src3=shares a replaced route a=kept b=routes changed src4=new");
    ck_assert_uint_eq(p->kept_endpoints, 3);
    ck_assert_uint_eq(p->kept_routes, 2);
    ck_assert_uint_eq(p->route_old[route(nc, "r4")], BRG_RELOAD_NONE);
    ck_assert_uint_eq(p->route_old[route(nc, "r1")], route(old, "r1"));
    ck_assert(!p->old_route_drains[route(old, "r1")]);
    ck_assert(p->old_route_drains[route(old, "r3")]);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* Removing a route and its endpoint: the old ones are drained and stopped; the endpoints the
 * route shared restart (they lost a route); the new config's indexes map back correctly. */
START_TEST(test_removed_route_and_endpoint)
{
    brg_conf_t *old =
        load("x", "", "", ",\n  { name = \"src4\"; type = \"memory\"; }",
             ",\n  { name = \"r4\"; from = { endpoint = \"src4\"; }; to = { endpoint = \"b\"; }; }");
    brg_conf_t *nc = base();
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc,
                "src1=kept src2=kept src3=shares a replaced route a=kept b=routes changed");
    ck_assert(p->old_endpoint_stops[ep(old, "src4")]);
    ck_assert(p->old_route_drains[route(old, "r4")]);
    ck_assert(p->old_route_drains[route(old, "r3")]);
    ck_assert(!p->old_route_drains[route(old, "r2")]);
    ck_assert_uint_eq(p->route_old[route(nc, "r2")], route(old, "r2"));
    ck_assert_uint_eq(p->nold_routes, 4);
    ck_assert_uint_eq(p->nold_endpoints, 6);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* The bridge id is stamped on everything an endpoint writes: every endpoint restarts. */
START_TEST(test_bridge_id_restarts_all)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("y", "", "", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, NULL, NULL);
    assert_whys(p, nc,
                "src1=settings changed src2=settings changed src3=settings changed "
                "a=settings changed b=settings changed");
    ck_assert_uint_eq(p->kept_endpoints, 0);
    ck_assert_uint_eq(p->kept_routes, 0);
    for (size_t r = 0; r < old->nroutes; r++) {
        ck_assert(p->old_route_drains[r]);
    }
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* ---- with adapters that change routes on a running endpoint ---------------------------------- */

static bool memory_in_place(const brg_conf_node_t *ep_cs, void *arg)
{
    (void)arg;
    return strcmp(brg_conf_str(ep_cs, "type", ""), "memory") == 0;
}

/* r1 changes: it is rebuilt on src1 and a, which keep running (routes changed in place); r2
 * shares a but is unchanged: it is kept, and so is everything else. */
START_TEST(test_in_place_changed_route_keeps_the_others)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("x", "", "max_in_flight = 7;", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, memory_in_place, NULL);
    assert_whys(p, nc,
                "src1=routes changed in place src2=kept src3=kept a=routes changed in place "
                "b=kept");
    ck_assert_uint_eq(p->kept_endpoints, 5);
    for (size_t j = 0; j < old->nendpoints; j++) {
        ck_assert(!p->old_endpoint_stops[j]);
    }
    ck_assert_uint_eq(p->kept_routes, 2);
    ck_assert_uint_eq(p->route_old[route(nc, "r1")], BRG_RELOAD_NONE);
    ck_assert_uint_eq(p->route_old[route(nc, "r2")], route(old, "r2"));
    ck_assert(p->old_route_drains[route(old, "r1")]);
    ck_assert(!p->old_route_drains[route(old, "r2")]);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* src1's own setting changes: it restarts; r1 is rebuilt, so a changes in place; r2 and src2
 * are left alone (today's rule restarts src2 and a as well). */
START_TEST(test_in_place_restart_does_not_spread)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("x", "settle_delay_ms = 5;", "", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, memory_in_place, NULL);
    assert_whys(p, nc,
                "src1=settings changed src2=kept src3=kept a=routes changed in place b=kept");
    ck_assert(p->old_endpoint_stops[ep(old, "src1")]);
    ck_assert(!p->old_endpoint_stops[ep(old, "a")]);
    ck_assert_uint_eq(p->kept_routes, 2);
    ck_assert(p->old_route_drains[route(old, "r1")]);
    ck_assert(!p->old_route_drains[route(old, "r2")]);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

/* Added and removed routes: the endpoint they share with kept routes changes in place. */
START_TEST(test_in_place_added_and_removed_routes)
{
    brg_conf_t *four =
        load("x", "", "", ",\n  { name = \"src4\"; type = \"memory\"; }",
             ",\n  { name = \"r4\"; from = { endpoint = \"src4\"; }; to = { endpoint = \"b\"; }; }");
    brg_conf_t *three = base();
    brg_reload_plan_t *p = brg_reload_plan(three, four, memory_in_place, NULL);
    assert_whys(p, four,
                "src1=kept src2=kept src3=kept a=kept b=routes changed in place src4=new");
    ck_assert_uint_eq(p->kept_routes, 3);
    ck_assert_uint_eq(p->route_old[route(four, "r4")], BRG_RELOAD_NONE);
    brg_reload_plan_free(p);
    p = brg_reload_plan(four, three, memory_in_place, NULL);
    assert_whys(p, three, "src1=kept src2=kept src3=kept a=kept b=routes changed in place");
    ck_assert(p->old_endpoint_stops[ep(four, "src4")]);
    ck_assert(p->old_route_drains[route(four, "r4")]);
    ck_assert(!p->old_route_drains[route(four, "r3")]);
    ck_assert_uint_eq(p->kept_routes, 3);
    brg_reload_plan_free(p);
    brg_conf_destroy(three);
    brg_conf_destroy(four);
}
END_TEST

/* No adapter can: today's rule, a restart spreads to every endpoint sharing a route. */
static bool never_in_place(const brg_conf_node_t *ep_cs, void *arg)
{
    (void)ep_cs;
    (void)arg;
    return false;
}

START_TEST(test_in_place_predicate_false_is_todays_rule)
{
    brg_conf_t *old = base();
    brg_conf_t *nc = load("x", "", "max_in_flight = 7;", "", "");
    brg_reload_plan_t *p = brg_reload_plan(old, nc, never_in_place, NULL);
    assert_whys(p, nc,
                "src1=routes changed src2=shares a replaced route src3=kept a=routes changed "
                "b=kept");
    ck_assert_uint_eq(p->kept_routes, 1);
    brg_reload_plan_free(p);
    brg_conf_destroy(old);
    brg_conf_destroy(nc);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("reload_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_unchanged_keeps_everything);
    tcase_add_test(tc, test_in_place_changed_route_keeps_the_others);
    tcase_add_test(tc, test_in_place_restart_does_not_spread);
    tcase_add_test(tc, test_in_place_added_and_removed_routes);
    tcase_add_test(tc, test_in_place_predicate_false_is_todays_rule);
    tcase_add_test(tc, test_changed_route_restarts_its_endpoints_only);
    tcase_add_test(tc, test_changed_endpoint_spreads_through_shared_routes);
    tcase_add_test(tc, test_added_route_and_endpoint);
    tcase_add_test(tc, test_removed_route_and_endpoint);
    tcase_add_test(tc, test_bridge_id_restarts_all);
    suite_add_tcase(s, tc);
    return s;
}
