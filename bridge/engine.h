/* The engine: endpoints and routes built from a loaded config, started, drained and stopped.
 * Thread: every function is for the main thread (tests: the test's thread). */
#ifndef BRG_ENGINE_H
#define BRG_ENGINE_H

#include "bridge/conf.h"
#include "bridge/endpoint.h"
#include "bridge/reload_plan.h"
#include "bridge/route.h"

typedef struct brg_engine {
    brg_conf_t *conf; /* owned */
    brg_endpoint_t **endpoints;
    size_t nendpoints;
    brg_route_t **routes;
    size_t nroutes;
    int64_t started_ms;
    brg_timer_t *timer;
    /* Configurations of earlier reloads that adopted endpoints and routes still point into. */
    brg_conf_t **old_confs;
    size_t nold_confs;
} brg_engine_t;

/* Build endpoints and routes. Takes ownership of conf (also on error).
 * Returns: the engine or NULL with errstr. */
brg_engine_t *brg_engine_new(brg_conf_t *conf, char *errstr, size_t errstr_size);
/* Open adapters and start every endpoint thread. */
brg_err_t brg_engine_start(brg_engine_t *e, char *errstr, size_t errstr_size);
/* Stop taking new messages on every route and wait until nothing is in flight or the
 * deadline passes. Returns: true if everything drained. */
bool brg_engine_drain(brg_engine_t *e, int64_t timeout_ms);
/* Messages in flight across all routes. */
size_t brg_engine_in_flight(const brg_engine_t *e);
/* Stop every endpoint thread. Each adapter bounds its stop by deadline_ns (brg_now_ns clock,
 * see brg_endpoint_stop_deadline; 0: no deadline, wait as long as it takes); a thread still
 * running grace_ms after it is logged (WARN) and left alone. Returns: true if every thread
 * returned; false if some still run: the caller must not destroy the engine, only exit the
 * process (_exit: nothing may be freed under that thread). Thread: main. */
bool brg_engine_stop(brg_engine_t *e, int64_t deadline_ns, int64_t grace_ms);
/* Stop and free everything: pending fan-out retries complete as RETRY first (the timer), then
 * every endpoint is told to stop at once and each is joined (brg_engine_stop without a
 * deadline; no order between sources and sinks: call brg_engine_drain first so that nothing is
 * in flight), then all is freed. */
void brg_engine_destroy(brg_engine_t *e);

brg_endpoint_t *brg_engine_endpoint(const brg_engine_t *e, const char *name);
brg_route_t *brg_engine_route(const brg_engine_t *e, const char *name);

/* The reload plan's in-place rule (brg_reload_in_place_fn): the endpoint's adapter adds and
 * removes routes on a running endpoint. arg: NULL. */
bool brg_engine_in_place(const brg_conf_node_t *ep_cs, void *arg);

/* Apply a reload plan (bridge/reload_plan.h) made from old->conf and new_conf with
 * brg_engine_in_place: drain the routes it removes (up to drain_ms), stop the endpoints it
 * replaces, then move kept endpoints and routes over, build the rest, start the new endpoints
 * and hand route changes to the endpoints kept in place. Kept routes run on untouched.
 * A route that still has messages in flight after the drain cannot leave a running endpoint:
 * its endpoints then restart after all, and *plan is replaced by the plan that was applied.
 * Takes ownership of new_conf. Returns: the engine to use from now on (old is consumed). */
brg_engine_t *brg_engine_reload_apply(brg_engine_t *old, brg_conf_t *new_conf,
                                      brg_reload_plan_t **plan, int64_t drain_ms);

/* Log one summary line per route (rates since the previous call). */
void brg_engine_log_stats(brg_engine_t *e);

#endif
