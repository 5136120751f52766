#include "bridge/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/buf.h"
#include "bridge/endpoint_routes.h"
#include "bridge/registry.h"
#include "bridge/watchdog.h"
#include "mappings/mapping.h"

brg_endpoint_t *brg_engine_endpoint(const brg_engine_t *e, const char *name)
{
    for (size_t i = 0; i < e->nendpoints; i++) {
        if (strcmp(e->endpoints[i]->name, name) == 0) {
            return e->endpoints[i];
        }
    }
    return NULL;
}

brg_route_t *brg_engine_route(const brg_engine_t *e, const char *name)
{
    for (size_t i = 0; i < e->nroutes; i++) {
        if (strcmp(e->routes[i]->name, name) == 0) {
            return e->routes[i];
        }
    }
    return NULL;
}

static brg_sink_t *add_sink(brg_engine_t *e, brg_route_t *rt, const brg_conf_node_t *side,
                            const brg_conf_templates_t *tpls, bool dl, char *errstr,
                            size_t errstr_size)
{
    brg_endpoint_t *ep = brg_engine_endpoint(e, brg_conf_str(side, "endpoint", ""));
    if (!ep) {
        brg_errfmt(errstr, errstr_size, "%s:%d: %s: unknown endpoint", side->file, side->line,
                   side->path);
        return NULL;
    }
    if (!ep->thread_started) {
        return brg_endpoint_add_sink(ep, rt, side, tpls, dl);
    }
    /* A running endpoint keeps its routes: a reload hands it this one (endpoint_routes.h). */
    brg_sink_t *sink = brg_endpoint_new_sink(ep, rt, side, tpls, dl);
    brg_endpoint_stage_sink(ep, sink, true);
    return sink;
}

static brg_source_t *add_source(brg_endpoint_t *ep, brg_route_t *rt, const brg_conf_node_t *from)
{
    if (!ep->thread_started) {
        return brg_endpoint_add_source(ep, rt, from);
    }
    brg_source_t *src = brg_endpoint_new_source(ep, rt, from);
    brg_endpoint_stage_source(ep, src, true);
    return src;
}

/* The stream table of a config's routes (for loop prevention). Returns: a new reference. */
static brg_streams_t *conf_streams(const brg_conf_t *conf)
{
    const brg_conf_node_t **cs = brg_xcalloc(conf->nroutes + 1, sizeof(*cs));
    for (size_t i = 0; i < conf->nroutes; i++) {
        cs[i] = conf->routes[i].cs;
    }
    brg_streams_t *st = brg_streams_new(cs, conf->nroutes);
    free(cs);
    return st;
}

/* Create one route from its config, attach it to its endpoints and append it to e->routes.
 * Returns: false with errstr on failure (the route is still appended, for cleanup). */
static bool build_route(brg_engine_t *e, const brg_conf_route_t *cr, const brg_streams_t *st,
                        char *errstr, size_t errstr_size)
{
    brg_route_t *rt = brg_route_new(cr->name, cr->cs);
    e->routes[e->nroutes++] = rt;
    rt->bridge_id = e->conf->bridge_id;
    rt->timer = e->timer;
    rt->max_in_flight = (size_t)cr->max_in_flight;
    rt->max_in_flight_bytes = (size_t)cr->max_in_flight_bytes;
    rt->wd.timeout_ms = cr->stall_timeout_ms;
    const brg_conf_node_t *rate = brg_conf_get(cr->cs, "rate");
    brg_route_set_rate(rt, brg_conf_float(rate, "messages_per_second", 0),
                       brg_conf_float(rate, "bytes_per_second", 0));
    const char *unr = brg_conf_str(cr->cs, "on_unroutable", "");
    rt->on_unroutable = strcmp(unr, "park") == 0          ? BRG_UNROUTABLE_PARK
                        : strcmp(unr, "dead_letter") == 0 ? BRG_UNROUTABLE_DEAD_LETTER
                        : strcmp(unr, "stop") == 0        ? BRG_UNROUTABLE_STOP
                                                          : BRG_UNROUTABLE_DEFAULT;
    brg_route_set_park_backoff(rt, (uint32_t)(brg_conf_float(cr->cs, "park_retry_min", 1) * 1000),
                               (uint32_t)(brg_conf_float(cr->cs, "park_retry_max", 60) * 1000));
    /* Compiled by the load, which reported every problem: a loaded config has one. */
    rt->mapping = cr->mapping;
    brg_mapping_set_streams(rt->mapping, st);
    brg_endpoint_t *src_ep = brg_engine_endpoint(e, brg_conf_str(cr->from, "endpoint", ""));
    if (!src_ep) {
        brg_errfmt(errstr, errstr_size, "route \"%s\": unknown source endpoint", cr->name);
        return false;
    }
    rt->src = add_source(src_ep, rt, cr->from);
    rt->sinks = brg_xcalloc(cr->nto, sizeof(brg_sink_t *));
    for (size_t j = 0; j < cr->nto; j++) {
        brg_sink_t *s = add_sink(e, rt, cr->to[j], &cr->to_templates[j], false, errstr,
                                 errstr_size);
        if (!s) {
            return false;
        }
        rt->sinks[rt->nsinks++] = s;
    }
    if (cr->dead_letter) {
        rt->dead_letter =
            add_sink(e, rt, cr->dead_letter, &cr->dead_letter_templates, true, errstr, errstr_size);
        if (!rt->dead_letter) {
            return false;
        }
    }
    return true;
}

static void engine_tick(void *arg)
{
    brg_engine_t *e = arg;
    if (!e) {
        return;
    }
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_rate_tick(e->routes[i]);
        brg_route_park_tick(e->routes[i]);
    }
    brg_watchdog_tick(e);
}

brg_engine_t *brg_engine_new(brg_conf_t *conf, char *errstr, size_t errstr_size)
{
    brg_engine_t *e = brg_xcalloc(1, sizeof(*e));
    e->conf = conf;
    /* Rate refills are checked every 5 ms: fine enough for limits up to a few hundred
     * thousand messages per second with 100 ms buckets. */
    e->timer = brg_timer_new(5, engine_tick, NULL);
    e->endpoints = brg_xcalloc(conf->nendpoints + 1, sizeof(brg_endpoint_t *));
    for (size_t i = 0; i < conf->nendpoints; i++) {
        const brg_conf_node_t *cs = conf->endpoints[i];
        const brg_adapter_t *ad = brg_adapter_find(brg_conf_str(cs, "type", ""));
        e->endpoints[e->nendpoints++] =
            brg_endpoint_new(brg_conf_str(cs, "name", "?"), ad, cs,
                             brg_conf_endpoint_settings(conf, i), conf->bridge_id);
    }
    e->routes = brg_xcalloc(conf->nroutes + 1, sizeof(brg_route_t *));
    brg_streams_t *st = conf_streams(conf);
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (!build_route(e, &conf->routes[i], st, errstr, errstr_size)) {
            brg_streams_destroy(st);
            goto fail;
        }
    }
    brg_streams_destroy(st);
    /* The tick sees the routes only once they are all built (the timer's lock orders it). */
    brg_timer_set_tick_arg(e->timer, e);
    return e;
fail:
    brg_engine_destroy(e);
    return NULL;
}

brg_err_t brg_engine_start(brg_engine_t *e, char *errstr, size_t errstr_size)
{
    e->started_ms = brg_wall_ms();
    for (size_t i = 0; i < e->nendpoints; i++) {
        char err[512];
        brg_endpoint_t *ep = e->endpoints[i];
        brg_err_t rc = brg_endpoint_start(ep, err, sizeof(err));
        if (rc != BRG_OK) {
            brg_errfmt(errstr, errstr_size, "%s:%d: endpoint \"%s\": %s", ep->logctx.file,
                       ep->logctx.line, ep->name, err);
            return rc;
        }
    }
    return BRG_OK;
}

size_t brg_engine_in_flight(const brg_engine_t *e)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nroutes; i++) {
        n += atomic_load(&e->routes[i]->in_flight);
    }
    return n;
}

bool brg_engine_drain(brg_engine_t *e, int64_t timeout_ms)
{
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_drain(e->routes[i]);
    }
    /* Wake every endpoint so that sources notice they have no credit any more. */
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_wake(e->endpoints[i]);
    }
    int64_t deadline = brg_now_ns() + timeout_ms * 1000000;
    while (brg_engine_in_flight(e) > 0) {
        if (brg_now_ns() >= deadline) {
            return false;
        }
        /* Polling every 10 ms costs nothing measurable and keeps the drain logic free of a
         * condition variable shared with every settle. */
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

bool brg_engine_stop(brg_engine_t *e, int64_t deadline_ns, int64_t grace_ms)
{
    /* Pending fan-out retries complete as RETRY while the endpoints still run, so their
     * sources hear of them. */
    brg_timer_destroy(e->timer);
    e->timer = NULL;
    /* Copies a parked fan-out route still holds complete RETRY the same way (a drain before
     * this did it already; a destroy without one, as in the unit tests, does it here). */
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_drain(e->routes[i]);
    }
    /* Every thread is told at once, with the deadline its adapter bounds its stop by; a settle
     * may still travel between endpoints while they stop. */
    for (size_t i = 0; i < e->nendpoints; i++) {
        atomic_store(&e->endpoints[i]->stop_deadline_ns, deadline_ns);
        atomic_store(&e->endpoints[i]->stopping, true);
        brg_endpoint_wake(e->endpoints[i]);
    }
    int64_t until = deadline_ns > 0 ? deadline_ns + grace_ms * 1000000 : 0;
    bool all = true;
    for (size_t i = 0; i < e->nendpoints; i++) {
        if (!brg_endpoint_join(e->endpoints[i], until)) {
            brg_log_warn(brg_endpoint_logctx(e->endpoints[i]),
                         "still stopping %lld ms after the shutdown deadline (its client library "
                         "waits for a broker that does not answer): exiting without it; what it "
                         "had not acknowledged will be delivered again",
                         (long long)grace_ms);
            all = false;
        }
    }
    return all;
}

void brg_engine_destroy(brg_engine_t *e)
{
    if (!e) {
        return;
    }
    /* Stop every thread first, then free. */
    brg_engine_stop(e, 0, 0);
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_stop(e->endpoints[i]);
    }
    for (size_t i = 0; i < e->nendpoints; i++) {
        brg_endpoint_destroy(e->endpoints[i]);
    }
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_destroy(e->routes[i]);
    }
    free(e->endpoints);
    free(e->routes);
    brg_conf_destroy(e->conf);
    for (size_t i = 0; i < e->nold_confs; i++) {
        brg_conf_destroy(e->old_confs[i]);
    }
    free(e->old_confs);
    free(e);
}

/* ---- reload ----------------------------------------------------------------------------------- */

bool brg_engine_in_place(const brg_conf_node_t *ep_cs, void *arg)
{
    (void)arg;
    const brg_adapter_t *ad = brg_adapter_find(brg_conf_str(ep_cs, "type", ""));
    return ad && ad->add_source && ad->remove_source && ad->add_sink && ad->remove_sink;
}

/* The old endpoint at index j keeps running with its routes changed in place. */
static bool old_in_place(const brg_reload_plan_t *p, size_t j)
{
    if (j == BRG_RELOAD_NONE) {
        return false;
    }
    for (size_t i = 0; i < p->nendpoints; i++) {
        if (p->endpoint_old[i] == j) {
            return p->endpoint_why[i] == BRG_RELOAD_IN_PLACE;
        }
    }
    return false;
}

static size_t old_index(const brg_engine_t *old, const brg_endpoint_t *ep)
{
    for (size_t j = 0; j < old->nendpoints; j++) {
        if (old->endpoints[j] == ep) {
            return j;
        }
    }
    return BRG_RELOAD_NONE;
}

/* Drain the old routes the plan removes and wait (up to drain_ms) until nothing is in flight on
 * them; what is left is redelivered by its source after the endpoints stop. */
static void drain_removed_routes(brg_engine_t *old, const brg_reload_plan_t *p, int64_t drain_ms)
{
    for (size_t r = 0; r < old->nroutes; r++) {
        if (p->old_route_drains[r]) {
            brg_route_drain(old->routes[r]);
        }
    }
    for (size_t j = 0; j < old->nendpoints; j++) {
        if (p->old_endpoint_stops[j]) {
            brg_endpoint_wake(old->endpoints[j]);
        }
    }
    int64_t deadline = brg_now_ns() + drain_ms * 1000000;
    for (;;) {
        size_t n = 0;
        for (size_t r = 0; r < old->nroutes; r++) {
            if (p->old_route_drains[r]) {
                n += atomic_load(&old->routes[r]->in_flight);
            }
        }
        if (n == 0) {
            return;
        }
        if (brg_now_ns() >= deadline) {
            brg_log_warn(NULL, "reload: %zu messages still in flight on replaced routes; "
                               "their sources will redeliver them", n);
            return;
        }
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* The in-place rule, less the endpoints whose names are in the list arg. */
typedef struct exclusion {
    const char **names;
    size_t n;
} exclusion_t;

static bool in_place_unless_excluded(const brg_conf_node_t *ep_cs, void *arg)
{
    const exclusion_t *x = arg;
    const char *name = brg_conf_str(ep_cs, "name", "");
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->names[i], name) == 0) {
            return false;
        }
    }
    return brg_engine_in_place(ep_cs, NULL);
}

/* Endpoints kept in place that a drained route with messages still in flight touches: that
 * route cannot leave them while deliveries point at it. Adds their names to x. Returns: how
 * many were added. */
static size_t exclude_busy(const brg_engine_t *old, const brg_reload_plan_t *p, exclusion_t *x)
{
    size_t added = 0;
    for (size_t r = 0; r < old->nroutes; r++) {
        brg_route_t *rt = old->routes[r];
        if (!p->old_route_drains[r] || atomic_load(&rt->in_flight) == 0) {
            continue;
        }
        for (size_t j = 0; j < old->nendpoints; j++) {
            brg_endpoint_t *ep = old->endpoints[j];
            bool touches = rt->src && rt->src->ep == ep;
            for (size_t k = 0; k < rt->nsinks && !touches; k++) {
                touches = rt->sinks[k]->ep == ep;
            }
            touches = touches || (rt->dead_letter && rt->dead_letter->ep == ep);
            if (!touches || !old_in_place(p, j)) {
                continue;
            }
            brg_log_warn(&ep->logctx, "reload: restarts after all: route \"%s\" still has "
                                      "messages in flight after the drain",
                         rt->name);
            x->names = brg_xrealloc(x->names, (x->n + 1) * sizeof(*x->names));
            x->names[x->n++] = ep->name;
            added++;
        }
    }
    return added;
}

/* Drain what the plan removes; while a drained route still has messages in flight on an
 * endpoint kept in place, plan again with that endpoint restarting (more routes may drain). */
static brg_reload_plan_t *drain_until_settled(brg_engine_t *old, brg_conf_t *nc,
                                              brg_reload_plan_t *p, int64_t drain_ms)
{
    exclusion_t x = {0};
    for (;;) {
        drain_removed_routes(old, p, drain_ms);
        if (exclude_busy(old, p, &x) == 0) {
            break;
        }
        brg_reload_plan_free(p);
        p = brg_reload_plan(old->conf, nc, in_place_unless_excluded, &x);
    }
    free(x.names);
    return p;
}

/* The drained routes leave the endpoints kept in place (applied with their additions). */
static void stage_removals(brg_engine_t *old, const brg_reload_plan_t *p)
{
    for (size_t r = 0; r < old->nroutes; r++) {
        brg_route_t *rt = old->routes[r];
        if (!p->old_route_drains[r]) {
            continue;
        }
        if (rt->src && old_in_place(p, old_index(old, rt->src->ep))) {
            brg_endpoint_stage_source(rt->src->ep, rt->src, false);
        }
        for (size_t k = 0; k < rt->nsinks; k++) {
            if (old_in_place(p, old_index(old, rt->sinks[k]->ep))) {
                brg_endpoint_stage_sink(rt->sinks[k]->ep, rt->sinks[k], false);
            }
        }
        if (rt->dead_letter && old_in_place(p, old_index(old, rt->dead_letter->ep))) {
            brg_endpoint_stage_sink(rt->dead_letter->ep, rt->dead_letter, false);
        }
    }
}

/* Stop the old endpoints the plan replaces: all told at once, then each joined and freed. */
static void stop_replaced_endpoints(brg_engine_t *old, const brg_reload_plan_t *p)
{
    for (size_t j = 0; j < old->nendpoints; j++) {
        if (p->old_endpoint_stops[j]) {
            atomic_store(&old->endpoints[j]->stopping, true);
            brg_endpoint_wake(old->endpoints[j]);
        }
    }
    for (size_t j = 0; j < old->nendpoints; j++) {
        if (p->old_endpoint_stops[j]) {
            brg_endpoint_stop(old->endpoints[j]);
        }
    }
    for (size_t j = 0; j < old->nendpoints; j++) {
        if (p->old_endpoint_stops[j]) {
            brg_endpoint_destroy(old->endpoints[j]);
        }
    }
}

/* The new engine's endpoints (kept ones moved over, the rest created) and routes (kept ones
 * moved over, the rest built: on a running endpoint staged for it; a route that cannot be
 * built is logged and left out, as at start it would have stopped the load). */
static void adopt_and_build(brg_engine_t *e, brg_engine_t *old, const brg_reload_plan_t *p)
{
    brg_conf_t *nc = e->conf;
    for (size_t r = 0; r < nc->nroutes; r++) {
        if (p->route_old[r] != BRG_RELOAD_NONE) {
            e->routes[e->nroutes++] = old->routes[p->route_old[r]];
        }
    }
    for (size_t i = 0; i < nc->nendpoints; i++) {
        if (p->endpoint_old[i] != BRG_RELOAD_NONE) {
            e->endpoints[e->nendpoints++] = old->endpoints[p->endpoint_old[i]];
            continue;
        }
        const brg_conf_node_t *cs = nc->endpoints[i];
        const brg_adapter_t *ad = brg_adapter_find(brg_conf_str(cs, "type", ""));
        e->endpoints[e->nendpoints++] =
            brg_endpoint_new(brg_conf_str(cs, "name", "?"), ad, cs,
                             brg_conf_endpoint_settings(nc, i), nc->bridge_id);
    }
    brg_streams_t *st = conf_streams(nc);
    for (size_t r = 0; r < nc->nroutes; r++) {
        char err[512];
        if (p->route_old[r] == BRG_RELOAD_NONE &&
            !build_route(e, &nc->routes[r], st, err, sizeof(err))) {
            brg_log_error(NULL, "reload: route \"%s\": %s", nc->routes[r].name, err);
        }
    }
    /* Kept routes judge their own hops by the new config's routes too. */
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_mapping_set_streams(e->routes[i]->mapping, st);
    }
    brg_streams_destroy(st);
}

brg_engine_t *brg_engine_reload_apply(brg_engine_t *old, brg_conf_t *nc,
                                      brg_reload_plan_t **plan, int64_t drain_ms)
{
    /* The timer's tick must not see the old engine while it is taken apart. */
    brg_timer_set_tick_arg(old->timer, NULL);
    brg_reload_plan_t *p = *plan = drain_until_settled(old, nc, *plan, drain_ms);
    stage_removals(old, p);
    stop_replaced_endpoints(old, p);
    brg_engine_t *e = brg_xcalloc(1, sizeof(*e));
    e->conf = nc;
    e->started_ms = old->started_ms;
    e->timer = old->timer;
    e->old_confs = brg_xrealloc(old->old_confs, (old->nold_confs + 1) * sizeof(brg_conf_t *));
    e->nold_confs = old->nold_confs;
    e->old_confs[e->nold_confs++] = old->conf;
    e->endpoints = brg_xcalloc(nc->nendpoints + 1, sizeof(brg_endpoint_t *));
    e->routes = brg_xcalloc(nc->nroutes + 1, sizeof(brg_route_t *));
    adopt_and_build(e, old, p);
    /* On the endpoints kept in place: first the sinks, so that a sink is taken up before any
     * source (there or on an endpoint starting now) can send to it; then the new endpoints
     * start; then the sources. After that nothing refers to a drained route: it is freed. */
    for (size_t i = 0; i < nc->nendpoints; i++) {
        if (p->endpoint_why[i] == BRG_RELOAD_IN_PLACE) {
            brg_endpoint_apply_route_changes(e->endpoints[i], false);
        }
    }
    for (size_t i = 0; i < nc->nendpoints; i++) {
        char err[512];
        brg_endpoint_t *ep = e->endpoints[i];
        if (p->endpoint_old[i] == BRG_RELOAD_NONE &&
            brg_endpoint_start(ep, err, sizeof(err)) != BRG_OK) {
            brg_log_error(&ep->logctx, "reload: cannot start: %s", err);
        }
    }
    for (size_t i = 0; i < nc->nendpoints; i++) {
        if (p->endpoint_why[i] == BRG_RELOAD_IN_PLACE) {
            brg_endpoint_apply_route_changes(e->endpoints[i], true);
        }
    }
    for (size_t r = 0; r < old->nroutes; r++) {
        if (p->old_route_drains[r]) {
            brg_route_destroy(old->routes[r]);
        }
    }
    brg_timer_set_tick_arg(e->timer, e);
    free(old->endpoints);
    free(old->routes);
    free(old);
    return e;
}

void brg_engine_log_stats(brg_engine_t *e)
{
    int64_t now = brg_now_ns();
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_route_counts_t st; /* summed over the threads' shares */
        brg_route_counts_read(rt, &st);
        uint64_t lc = atomic_load(&st.s.latency_count);
        uint64_t ls = atomic_load(&st.s.latency_ns_sum);
        uint64_t in = atomic_load(&st.s.in_msgs);
        uint64_t out = atomic_load(&st.s.out_msgs);
        uint64_t out_bytes = atomic_load(&st.s.out_bytes);
        /* Rates since the previous summary (since the route started, for the first one). */
        int64_t since = rt->last_summary.ns ? rt->last_summary.ns : rt->started_ns;
        double s = since && now > since ? (double)(now - since) / 1e9 : 0.0;
        double in_rate = s > 0 ? (double)(in - rt->last_summary.in) / s : 0.0;
        double out_rate = s > 0 ? (double)(out - rt->last_summary.out) / s : 0.0;
        double mb_rate = s > 0 ? (double)(out_bytes - rt->last_summary.out_bytes) / s / 1e6 : 0.0;
        rt->last_summary.ns = now;
        rt->last_summary.in = in;
        rt->last_summary.out = out;
        rt->last_summary.out_bytes = out_bytes;
        brg_log_info(NULL,
                     "route %s: state=%s in=%" PRIu64 " out=%" PRIu64 " in_rate=%.1f/s"
                     " out_rate=%.1f/s out_MBps=%.3f accepted=%" PRIu64
                     " retried=%" PRIu64 " rejected=%" PRIu64 " dead_lettered=%" PRIu64
                     " filtered=%" PRIu64 " loop_dropped=%" PRIu64
                     " in_flight=%zu avg_latency_ms=%.2f",
                     rt->name, brg_route_state_name(atomic_load(&rt->state)), in, out, in_rate,
                     out_rate, mb_rate, (uint64_t)atomic_load(&st.s.accepted),
                     (uint64_t)atomic_load(&st.s.retried),
                     (uint64_t)atomic_load(&st.s.rejected),
                     (uint64_t)atomic_load(&st.s.dead_lettered),
                     (uint64_t)atomic_load(&st.s.filtered),
                     (uint64_t)atomic_load(&st.s.loop_dropped), atomic_load(&rt->in_flight),
                     lc ? (double)ls / (double)lc / 1e6 : 0.0);
    }
}
