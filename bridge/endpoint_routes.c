/* Routes added to and removed from a running endpoint (see endpoint_routes.h). The main thread
 * stages a change while it builds and drains routes, hands it over in one piece and waits; the
 * endpoint thread applies it where its adapter holds no source or sink index (the adapter calls
 * brg_endpoint_sync_routes once per loop turn; the supervisor calls it between two runs).
 * Removed sources and sinks are freed by the main thread once the change is applied: their
 * route was drained, so no delivery points at them. */
#include "bridge/endpoint_routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/route.h"

#define APPEND(arr, n, x)                                                                          \
    do {                                                                                           \
        (arr) = brg_xrealloc((arr), ((n) + 1) * sizeof(*(arr)));                                   \
        (arr)[(n)++] = (x);                                                                        \
    } while (0)

static brg_route_change_t *staged(brg_endpoint_t *ep)
{
    if (!ep->staged) {
        ep->staged = brg_xcalloc(1, sizeof(*ep->staged));
    }
    return ep->staged;
}

void brg_endpoint_stage_source(brg_endpoint_t *ep, brg_source_t *src, bool add)
{
    brg_route_change_t *c = staged(ep);
    if (add) {
        APPEND(c->add_src, c->nadd_src, src);
    } else {
        APPEND(c->rm_src, c->nrm_src, src);
    }
}

void brg_endpoint_stage_sink(brg_endpoint_t *ep, brg_sink_t *sink, bool add)
{
    brg_route_change_t *c = staged(ep);
    if (add) {
        APPEND(c->add_sink, c->nadd_sink, sink);
    } else {
        APPEND(c->rm_sink, c->nrm_sink, sink);
    }
}

static void change_free(brg_route_change_t *c)
{
    free(c->add_src);
    free(c->rm_src);
    free(c->add_sink);
    free(c->rm_sink);
    free(c);
}

bool brg_endpoint_changes_in_place(const brg_endpoint_t *ep)
{
    const brg_adapter_t *ad = ep->adapter;
    return ad->add_source && ad->remove_source && ad->add_sink && ad->remove_sink;
}

/* Remove x from arr[0..*n), keeping the order of the rest. Returns: whether it was there. */
static bool list_remove(void **arr, size_t *n, const void *x)
{
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == x) {
            memmove(arr + i, arr + i + 1, (*n - i - 1) * sizeof(*arr));
            (*n)--;
            return true;
        }
    }
    return false;
}

static void refuse(brg_endpoint_t *ep, brg_route_change_t *c, brg_route_t *rt, const char *what,
                   const char *err)
{
    char why[600];
    brg_errfmt(why, sizeof(why), "reload: endpoint \"%s\" cannot take the %s: %s", ep->name, what,
               err[0] ? err : "no detail");
    brg_log_error(&ep->logctx, "route \"%s\": %s", rt->name, why);
    brg_route_stop(rt, why);
    c->refused++;
}

/* One phase of a change: the sinks, or the sources. Removals first (a rebuilt route leaves
 * before its replacement arrives), then additions. The adapter's ops run only when it is open,
 * and remove only what it took up. */
static void apply_sinks(brg_endpoint_t *ep, brg_route_change_t *c)
{
    const brg_adapter_t *ad = ep->adapter;
    void *st = ep->state;
    for (size_t i = 0; i < c->nrm_sink; i++) {
        brg_sink_t *sink = c->rm_sink[i];
        if (list_remove((void **)ep->sinks, &ep->nsinks, sink)) {
            if (st) {
                ad->remove_sink(st, sink);
            }
        } else {
            list_remove((void **)ep->refused_sinks, &ep->nrefused_sinks, sink);
        }
    }
    for (size_t i = 0; i < c->nadd_sink; i++) {
        brg_sink_t *sink = c->add_sink[i];
        APPEND(ep->sinks, ep->nsinks, sink);
        char err[512] = "";
        if (st && ad->add_sink(st, sink, err, sizeof(err)) != BRG_OK) {
            list_remove((void **)ep->sinks, &ep->nsinks, sink);
            APPEND(ep->refused_sinks, ep->nrefused_sinks, sink);
            refuse(ep, c, sink->rt, "route's destination", err);
        }
    }
}

static void apply_sources(brg_endpoint_t *ep, brg_route_change_t *c)
{
    const brg_adapter_t *ad = ep->adapter;
    void *st = ep->state;
    for (size_t i = 0; i < c->nrm_src; i++) {
        brg_source_t *src = c->rm_src[i];
        if (list_remove((void **)ep->sources, &ep->nsources, src)) {
            if (st) {
                ad->remove_source(st, src);
            }
        } else {
            list_remove((void **)ep->refused_sources, &ep->nrefused_sources, src);
        }
    }
    for (size_t i = 0; i < c->nadd_src; i++) {
        brg_source_t *src = c->add_src[i];
        /* Listed first: the adapter sees its new source among the endpoint's. */
        APPEND(ep->sources, ep->nsources, src);
        char err[512] = "";
        if (st && ad->add_source(st, src, err, sizeof(err)) != BRG_OK) {
            list_remove((void **)ep->sources, &ep->nsources, src);
            APPEND(ep->refused_sources, ep->nrefused_sources, src);
            refuse(ep, c, src->rt, "route's source", err);
        }
    }
}

static void apply(brg_endpoint_t *ep, brg_route_change_t *c)
{
    if (c->sources) {
        apply_sources(ep, c);
    } else {
        apply_sinks(ep, c);
    }
}

void brg_endpoint_sync_routes(brg_endpoint_t *ep)
{
    if (!atomic_load_explicit(&ep->change_waiting, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&ep->lock);
    brg_route_change_t *c = ep->handed;
    ep->handed = NULL;
    atomic_store(&ep->change_waiting, false);
    pthread_mutex_unlock(&ep->lock);
    if (!c) {
        return;
    }
    /* The ops may log or report the connection state, which takes the lock: not held here. */
    apply(ep, c);
    pthread_mutex_lock(&ep->lock);
    c->applied = true;
    pthread_cond_broadcast(&ep->change_applied);
    pthread_mutex_unlock(&ep->lock);
}

/* Hand c to the running endpoint thread and wait until it applied it. */
static void hand_over(brg_endpoint_t *ep, brg_route_change_t *c)
{
    pthread_mutex_lock(&ep->lock);
    ep->handed = c;
    atomic_store_explicit(&ep->change_waiting, true, memory_order_release);
    pthread_mutex_unlock(&ep->lock);
    brg_endpoint_wake(ep);
    int64_t started = brg_now_ns();
    pthread_mutex_lock(&ep->lock);
    while (!c->applied) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (pthread_cond_timedwait(&ep->change_applied, &ep->lock, &ts) == ETIMEDOUT &&
            !c->applied) {
            /* A thread in the middle of a connect attempt takes it up when that returns. */
            brg_log_warn(&ep->logctx, "reload: still waiting for the endpoint to take up its "
                                      "route changes (%lld s)",
                         (long long)((brg_now_ns() - started) / 1000000000));
            pthread_mutex_unlock(&ep->lock);
            brg_endpoint_wake(ep);
            pthread_mutex_lock(&ep->lock);
        }
    }
    pthread_mutex_unlock(&ep->lock);
}

size_t brg_endpoint_apply_route_changes(brg_endpoint_t *ep, bool sources)
{
    brg_route_change_t *c = ep->staged;
    if (!c || (sources ? c->nadd_src + c->nrm_src : c->nadd_sink + c->nrm_sink) == 0) {
        if (c && sources) {
            ep->staged = NULL;
            change_free(c);
        }
        return 0;
    }
    c->sources = sources;
    c->applied = false;
    if (ep->thread_started) {
        hand_over(ep, c);
    } else {
        apply(ep, c);
    }
    size_t refused = c->refused;
    c->refused = 0;
    if (sources) {
        for (size_t i = 0; i < c->nrm_src; i++) {
            brg_endpoint_free_source(c->rm_src[i]);
        }
        ep->staged = NULL;
        change_free(c);
    } else {
        for (size_t i = 0; i < c->nrm_sink; i++) {
            brg_endpoint_free_sink(c->rm_sink[i]);
        }
        c->nrm_sink = 0;
    }
    return refused;
}
