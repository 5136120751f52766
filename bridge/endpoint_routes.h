/* Routes added to and removed from a running endpoint by a reload, without restarting it
 * (bridge/reload_plan.h "in place"): what the main thread stages, hands to the endpoint thread
 * and waits for, and what that thread applies through the adapter's add_* and remove_* ops.
 * Engine-internal. */
#ifndef BRG_ENDPOINT_ROUTES_H
#define BRG_ENDPOINT_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/endpoint.h"

typedef struct brg_route_change {
    brg_source_t **add_src, **rm_src;
    size_t nadd_src, nrm_src;
    brg_sink_t **add_sink, **rm_sink;
    size_t nadd_sink, nrm_sink;
    size_t refused; /* added sources and sinks the adapter refused */
    bool sources;   /* the phase handed over: the sources, else the sinks */
    bool applied;   /* under the endpoint's lock */
} brg_route_change_t;

/* Whether the adapter adds and removes routes on a running endpoint (adapter.h add_source). */
bool brg_endpoint_changes_in_place(const brg_endpoint_t *ep);
/* Stage a new route's source or sink (brg_endpoint_new_source/new_sink) for the running
 * endpoint, or the removal of a drained route's (nothing of it in flight). Thread: main. */
void brg_endpoint_stage_source(brg_endpoint_t *ep, brg_source_t *src, bool add);
void brg_endpoint_stage_sink(brg_endpoint_t *ep, brg_sink_t *sink, bool add);
/* Apply what was staged for the sinks (sources false) or the sources (true): on a running
 * endpoint, hand it to the endpoint thread and wait until it applied it (logging every 5 s
 * while it waits: a thread stuck in a connect attempt applies it when it returns); otherwise
 * apply it here. Removed ones are freed. The engine applies every endpoint's sinks before any
 * sources, so that no message reaches a sink its endpoint has not taken up yet; the sources'
 * phase ends the change. Returns: how many added ones the adapter refused (their routes are
 * stopped with its error). Thread: main. */
size_t brg_endpoint_apply_route_changes(brg_endpoint_t *ep, bool sources);

#endif
