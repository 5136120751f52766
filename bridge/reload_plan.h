/* A reload (SIGHUP) as a plan: the running configuration and the new one in, what to keep,
 * start, drain and stop out. Pure: no thread, no endpoint, no I/O; the engine applies it
 * (brg_engine_reload_apply). Thread: any (the main thread in msgbridge).
 *
 * The rules, per route and per endpoint:
 *   - an endpoint whose own settings and routes are unchanged keeps running, connections and
 *     all, with its routes;
 *   - an endpoint whose own settings are unchanged but whose routes changed (one added, removed
 *     or changed, or rebuilt because it shares a restarted endpoint) keeps running too when its
 *     adapter can bind and unbind routes on a running endpoint (`in_place`): only the changed
 *     routes' sources and sinks come and go, the other routes and the connection stay;
 *   - any other endpoint whose own settings changed, or that gained, lost or changed a route, is
 *     restarted (its adapter binds sources and sinks when it starts), and so is every endpoint
 *     without `in_place` that shares a route with a restarted one (that route is rebuilt);
 *   - a route is kept exactly when its own settings are unchanged and all its endpoints keep
 *     running; every other old route is drained, then removed; every new route not kept is
 *     built. */
#ifndef BRG_RELOAD_PLAN_H
#define BRG_RELOAD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/conf.h"

/* Why an endpoint of the new configuration is kept or (re)started (for the reload's log). */
typedef enum brg_reload_why {
    BRG_RELOAD_KEPT,     /* unchanged: keeps running */
    BRG_RELOAD_NEW,      /* not in the running configuration: started */
    BRG_RELOAD_SETTINGS, /* its own settings (or the bridge id) changed: restarted */
    BRG_RELOAD_ROUTES,   /* a route on it was added, removed or changed: restarted */
    BRG_RELOAD_SHARED,   /* shares a route with a restarted endpoint: restarted */
    BRG_RELOAD_IN_PLACE, /* routes changed, bound and unbound on the running endpoint */
} brg_reload_why_t;

/* Whether this endpoint (its config group) can keep running while its routes change: its
 * adapter binds and unbinds routes on a running endpoint, and arg does not rule it out. */
typedef bool brg_reload_in_place_fn(const brg_conf_node_t *ep_cs, void *arg);

#define BRG_RELOAD_NONE SIZE_MAX

typedef struct brg_reload_plan {
    size_t nendpoints;            /* the new configuration's */
    size_t *endpoint_old;         /* each: the old endpoint's index kept running, or NONE */
    /* endpoint_why: KEPT and IN_PLACE keep running (endpoint_old set), IN_PLACE with routes
     * bound and unbound live; the others start. */
    brg_reload_why_t *endpoint_why;
    size_t nold_endpoints;
    bool *old_endpoint_stops;     /* each old endpoint: stopped (its routes drained first) */
    size_t nroutes;               /* the new configuration's */
    size_t *route_old;            /* each: the old route's index kept running, or NONE: built */
    size_t nold_routes;
    bool *old_route_drains;       /* each old route: drained, then removed */
    size_t kept_endpoints, kept_routes;
} brg_reload_plan_t;

/* in_place: NULL when no endpoint changes routes in place; arg is passed to it.
 * Returns: a new plan (brg_reload_plan_free); never NULL. */
brg_reload_plan_t *brg_reload_plan(const brg_conf_t *old, const brg_conf_t *nc,
                                   brg_reload_in_place_fn *in_place, void *arg);
void brg_reload_plan_free(brg_reload_plan_t *p);
/* Returns: "kept", "new", "settings changed", "routes changed", "shares a replaced route",
 * "routes changed in place". */
const char *brg_reload_why_name(brg_reload_why_t why);

#endif
