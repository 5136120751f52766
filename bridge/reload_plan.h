/* A reload (SIGHUP) as a plan: the running configuration and the new one in, what to keep,
 * start, drain and stop out. Pure: no thread, no endpoint, no I/O; the engine applies it
 * (brg_engine_reload_apply). Thread: any (the main thread in msgbridge).
 *
 * The rules, per route and per endpoint:
 *   - an endpoint whose own settings and routes are unchanged keeps running, connections and
 *     all, with its routes;
 *   - an endpoint whose own settings changed, or that gained, lost or changed a route, is
 *     restarted (its adapter binds sources and sinks when it starts), and so is every endpoint
 *     that shares a route with a restarted one (that route is rebuilt on both);
 *   - a route is kept exactly when all its endpoints are kept; every other old route is
 *     drained, then removed; every new route not kept is built. */
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
} brg_reload_why_t;

#define BRG_RELOAD_NONE SIZE_MAX

typedef struct brg_reload_plan {
    size_t nendpoints;            /* the new configuration's */
    size_t *endpoint_old;         /* each: the old endpoint's index kept running, or NONE */
    brg_reload_why_t *endpoint_why;
    size_t nold_endpoints;
    bool *old_endpoint_stops;     /* each old endpoint: stopped (its routes drained first) */
    size_t nroutes;               /* the new configuration's */
    size_t *route_old;            /* each: the old route's index kept running, or NONE: built */
    size_t nold_routes;
    bool *old_route_drains;       /* each old route: drained, then removed */
    size_t kept_endpoints, kept_routes;
} brg_reload_plan_t;

/* Returns: a new plan (brg_reload_plan_free); never NULL. */
brg_reload_plan_t *brg_reload_plan(const brg_conf_t *old, const brg_conf_t *nc);
void brg_reload_plan_free(brg_reload_plan_t *p);
/* Returns: "kept", "new", "settings changed", "routes changed", "shares a replaced route". */
const char *brg_reload_why_name(brg_reload_why_t why);

#endif
