#include "bridge/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/registry.h"
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

static brg_sink_t *add_sink(brg_engine_t *e, brg_route_t *rt, const brg_cfg_t *side, bool dl,
                            char *errstr, size_t errstr_size)
{
    brg_endpoint_t *ep = brg_engine_endpoint(e, brg_cfg_str(side, "endpoint", ""));
    if (!ep) {
        brg_errfmt(errstr, errstr_size, "%s:%d: %s: unknown endpoint", side->file, side->line,
                   side->path);
        return NULL;
    }
    char err[256];
    brg_sink_t *sink = brg_endpoint_add_sink(ep, rt, side, dl, err, sizeof(err));
    if (!sink) {
        brg_errfmt(errstr, errstr_size, "%s:%d: %s: %s", side->file, side->line, side->path, err);
    }
    return sink;
}

static void engine_tick(void *arg)
{
    brg_engine_t *e = arg;
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_rate_tick(e->routes[i]);
    }
}

brg_engine_t *brg_engine_new(brg_conf_t *conf, char *errstr, size_t errstr_size)
{
    brg_engine_t *e = brg_xcalloc(1, sizeof(*e));
    e->conf = conf;
    e->endpoints = brg_xcalloc(conf->nendpoints + 1, sizeof(brg_endpoint_t *));
    for (size_t i = 0; i < conf->nendpoints; i++) {
        const brg_cfg_t *cs = conf->endpoints[i];
        const brg_adapter_t *ad = brg_adapter_find(brg_cfg_str(cs, "type", ""));
        e->endpoints[e->nendpoints++] =
            brg_endpoint_new(brg_cfg_str(cs, "name", "?"), ad, cs, conf->bridge_id);
    }
    e->routes = brg_xcalloc(conf->nroutes + 1, sizeof(brg_route_t *));
    for (size_t i = 0; i < conf->nroutes; i++) {
        const brg_conf_route_t *cr = &conf->routes[i];
        brg_route_t *rt = brg_route_new(cr->name, cr->cs);
        e->routes[e->nroutes++] = rt;
        rt->bridge_id = conf->bridge_id;
        rt->max_in_flight = (size_t)cr->max_in_flight;
        rt->max_in_flight_bytes = (size_t)cr->max_in_flight_bytes;
        const brg_cfg_t *rate = brg_cfg_get(cr->cs, "rate");
        brg_route_set_rate(rt, brg_cfg_float(rate, "messages_per_second", 0),
                           brg_cfg_float(rate, "bytes_per_second", 0));
        brg_diag_t d;
        brg_diag_init(&d);
        rt->mapping = brg_mapping_new(cr->cs, conf->bridge_id, cr->name, &d);
        bool bad = d.errors > 0;
        if (bad) {
            brg_errfmt(errstr, errstr_size, "%s", d.lines[0]);
        }
        brg_diag_fini(&d);
        if (bad) {
            goto fail;
        }
        brg_endpoint_t *src_ep = brg_engine_endpoint(e, brg_cfg_str(cr->from, "endpoint", ""));
        if (!src_ep) {
            brg_errfmt(errstr, errstr_size, "route \"%s\": unknown source endpoint", cr->name);
            goto fail;
        }
        rt->src = brg_endpoint_add_source(src_ep, rt, cr->from);
        rt->sinks = brg_xcalloc(cr->nto, sizeof(brg_sink_t *));
        for (size_t j = 0; j < cr->nto; j++) {
            brg_sink_t *s = add_sink(e, rt, cr->to[j], false, errstr, errstr_size);
            if (!s) {
                goto fail;
            }
            rt->sinks[rt->nsinks++] = s;
        }
        if (cr->dead_letter) {
            rt->dead_letter = add_sink(e, rt, cr->dead_letter, true, errstr, errstr_size);
            if (!rt->dead_letter) {
                goto fail;
            }
        }
    }
    /* Rate refills are checked every 5 ms: fine enough for limits up to a few hundred
     * thousand messages per second with 100 ms buckets. */
    e->timer = brg_timer_new(5, engine_tick, e);
    for (size_t i = 0; i < e->nroutes; i++) {
        e->routes[i]->timer = e->timer;
    }
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

void brg_engine_destroy(brg_engine_t *e)
{
    if (!e) {
        return;
    }
    /* Pending fan-out retries complete as RETRY while the endpoints still run, so their
     * sources hear of them. */
    brg_timer_destroy(e->timer);
    e->timer = NULL;
    /* Stop every thread first, then free: a settle may still travel between endpoints while
     * the threads run. */
    for (size_t i = 0; i < e->nendpoints; i++) {
        atomic_store(&e->endpoints[i]->stopping, true);
        brg_endpoint_wake(e->endpoints[i]);
    }
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
    free(e);
}

void brg_engine_log_stats(brg_engine_t *e)
{
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        uint64_t lc = atomic_load(&rt->stats.latency_count);
        uint64_t ls = atomic_load(&rt->stats.latency_ns_sum);
        brg_log_info(NULL,
                     "route %s: state=%s in=%" PRIu64 " out=%" PRIu64 " accepted=%" PRIu64
                     " retried=%" PRIu64 " rejected=%" PRIu64 " dead_lettered=%" PRIu64
                     " filtered=%" PRIu64 " in_flight=%zu avg_latency_ms=%.2f",
                     rt->name, brg_route_state_name(atomic_load(&rt->state)),
                     (uint64_t)atomic_load(&rt->stats.in_msgs),
                     (uint64_t)atomic_load(&rt->stats.out_msgs),
                     (uint64_t)atomic_load(&rt->stats.accepted),
                     (uint64_t)atomic_load(&rt->stats.retried),
                     (uint64_t)atomic_load(&rt->stats.rejected),
                     (uint64_t)atomic_load(&rt->stats.dead_lettered),
                     (uint64_t)atomic_load(&rt->stats.filtered), atomic_load(&rt->in_flight),
                     lc ? (double)ls / (double)lc / 1e6 : 0.0);
    }
}
