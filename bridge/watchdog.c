#include "bridge/watchdog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bridge/endpoint.h"
#include "bridge/engine.h"
#include "bridge/metrics.h"
#include "bridge/buf.h"
#include "bridge/route.h"

/* How often the engine's 5 ms tick actually looks at the routes. */
#define WD_CHECK_EVERY_NS (250LL * 1000000)

brg_wd_verdict_t brg_wd_step(brg_wd_t *wd, const brg_wd_sample_t *s, int64_t now_ns, bool *act)
{
    *act = false;
    bool was = atomic_load(&wd->stalled);
    if (!wd->primed || s->progress != wd->last_progress) {
        wd->primed = true;
        wd->last_progress = s->progress;
        wd->last_move_ns = now_ns;
        if (was) {
            atomic_store(&wd->stalled, false);
            return BRG_WD_RESUMED;
        }
        return BRG_WD_OK;
    }
    if (was && s->reconnecting) {
        /* The watchdog's own reconnect (or another) is under way. A source that is not
         * consuming reports no backlog and no overdue check, which is not the route moving
         * again: the stall lasts until it completes work, or is idle while connected. */
        wd->last_move_ns = now_ns;
        return BRG_WD_STILL;
    }
    bool waiting = s->in_flight > 0 || s->backlog > 0 || s->unanswered;
    if (!waiting) {
        /* Nothing to wait on: idle is not stalled. */
        wd->last_move_ns = now_ns;
        if (was) {
            atomic_store(&wd->stalled, false);
            return BRG_WD_RESUMED;
        }
        return BRG_WD_OK;
    }
    if (!s->eligible || wd->timeout_ms <= 0) {
        /* Paused on purpose or an endpoint reconnecting: the clock starts again afterwards. */
        wd->last_move_ns = now_ns;
        return was ? BRG_WD_STILL : BRG_WD_OK;
    }
    int64_t timeout_ns = wd->timeout_ms * 1000000;
    if (!was) {
        if (now_ns - wd->last_move_ns < timeout_ns) {
            return BRG_WD_OK;
        }
        atomic_store(&wd->stalled, true);
        atomic_fetch_add(&wd->stalls, 1);
        wd->last_action_ns = now_ns;
        *act = true;
        return BRG_WD_STALLED;
    }
    /* Still stalled after a reconnect: try again, but at most once per timeout. */
    if (now_ns - wd->last_action_ns >= timeout_ns && now_ns - wd->last_move_ns >= timeout_ns) {
        wd->last_action_ns = now_ns;
        *act = true;
    }
    return BRG_WD_STILL;
}

/* Work finished: confirmed by a sink or settled for good at the source. Reads and RETRY
 * settles are not progress: a frozen sink lets the route read up to max_in_flight, and the
 * watchdog's own reconnect settles what was in flight RETRY; the stall lasts until something
 * completes again. */
static uint64_t route_progress(brg_route_t *rt)
{
    brg_route_counts_t sum; /* the counters are kept per thread */
    brg_route_counts_read(rt, &sum);
    brg_route_stats_t *st = &sum.s;
    /* Filtered and loop-dropped messages are settled too (counted apart from accepted or
     * not): they are progress. */
    return atomic_load(&st->out_msgs) + atomic_load(&st->accepted) +
           atomic_load(&st->rejected) + atomic_load(&st->dead_lettered) +
           atomic_load(&st->filtered) + atomic_load(&st->loop_dropped);
}

/* Running, but an endpoint of the route is down (reconnecting). */
static bool route_reconnecting(brg_route_t *rt)
{
    if (atomic_load(&rt->state) != BRG_ROUTE_RUNNING) {
        return false;
    }
    bool down = !atomic_load(&rt->src->ep->connected);
    for (size_t i = 0; i < rt->nsinks && !down; i++) {
        down = !atomic_load(&rt->sinks[i]->ep->connected);
    }
    return down;
}

static bool route_eligible(brg_route_t *rt)
{
    /* Any state but running (draining, stopped, parked) is a pause on purpose. */
    if (atomic_load(&rt->state) != BRG_ROUTE_RUNNING || atomic_load(&rt->rate_blocked)) {
        return false;
    }
    if (!atomic_load(&rt->src->ep->connected)) {
        return false;
    }
    for (size_t i = 0; i < rt->nsinks; i++) {
        if (!atomic_load(&rt->sinks[i]->ep->connected)) {
            return false;
        }
    }
    return true;
}

/* Describe what the route waits on into wd->stalled_on and ask that endpoint to reconnect. */
static void act_on_stall(brg_route_t *rt, const brg_wd_sample_t *s, bool first)
{
    char on[256];
    long long secs = (long long)(rt->wd.timeout_ms / 1000);
    if (s->in_flight > 0) {
        char names[160] = "";
        size_t o = 0;
        for (size_t i = 0; i < rt->nsinks; i++) {
            bool dup = false;
            for (size_t j = 0; j < i; j++) {
                dup = dup || rt->sinks[j]->ep == rt->sinks[i]->ep;
            }
            if (!dup && o < sizeof(names)) {
                int n = snprintf(names + o, sizeof(names) - o, "%s\"%s\"", o ? ", " : "",
                                 rt->sinks[i]->ep->name);
                o += n > 0 ? (size_t)n : 0;
            }
        }
        snprintf(on, sizeof(on), "%zu messages in flight to endpoint %s and no confirm for %lld s",
                 s->in_flight, names, secs);
    } else if (s->unanswered) {
        snprintf(on, sizeof(on), "endpoint \"%s\" answers no backlog check (last known backlog %"
                 PRId64 ") and nothing read for %lld s", rt->src->ep->name, s->backlog, secs);
    } else {
        snprintf(on, sizeof(on), "source backlog %" PRId64 " at endpoint \"%s\" and nothing read "
                 "for %lld s", s->backlog, rt->src->ep->name, secs);
    }
    pthread_mutex_lock(&rt->lock);
    snprintf(rt->wd.stalled_on, sizeof(rt->wd.stalled_on), "%s", on);
    pthread_mutex_unlock(&rt->lock);
    const brg_log_ctx_t *log = brg_endpoint_logctx(rt->src->ep);
    char reason[300];
    snprintf(reason, sizeof(reason), "route \"%s\" stalled: %s", rt->name, on);
    if (first) {
        brg_log_error(log, "%s; re-establishing the connection", reason);
    } else {
        brg_log_error(log, "%s; still stalled, re-establishing the connection again", reason);
    }
    if (s->in_flight > 0) {
        for (size_t i = 0; i < rt->nsinks; i++) {
            bool dup = false;
            for (size_t j = 0; j < i; j++) {
                dup = dup || rt->sinks[j]->ep == rt->sinks[i]->ep;
            }
            if (!dup) {
                brg_endpoint_request_reconnect(rt->sinks[i]->ep, reason);
            }
        }
    } else {
        brg_endpoint_request_reconnect(rt->src->ep, reason);
    }
}

void brg_watchdog_tick(brg_engine_t *e)
{
    int64_t now = brg_now_ns();
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        if (!rt->src || rt->wd.timeout_ms <= 0 || now - rt->wd.last_check_ns < WD_CHECK_EVERY_NS) {
            continue;
        }
        rt->wd.last_check_ns = now;
        brg_wd_sample_t s = {
            .progress = route_progress(rt),
            .in_flight = atomic_load(&rt->in_flight),
            .backlog = atomic_load(&rt->src->backlog),
            .eligible = route_eligible(rt),
            .unanswered = atomic_load(&rt->src->backlog_unanswered),
            .reconnecting = route_reconnecting(rt),
        };
        bool act = false;
        brg_wd_verdict_t v = brg_wd_step(&rt->wd, &s, now, &act);
        if (act) {
            act_on_stall(rt, &s, v == BRG_WD_STALLED);
        } else if (v == BRG_WD_RESUMED) {
            brg_log_info(brg_endpoint_logctx(rt->src->ep), "route \"%s\" resumed after a stall",
                         rt->name);
        }
    }
}

/* ---- the endpoint and source hooks of bridge/adapter.h ----------------------------------- */

void brg_endpoint_request_reconnect(brg_endpoint_t *ep, const char *reason)
{
    pthread_mutex_lock(&ep->lock);
    snprintf(ep->reconnect_reason, sizeof(ep->reconnect_reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&ep->lock);
    atomic_store(&ep->reconnect_req, true);
    brg_endpoint_wake(ep);
}

bool brg_endpoint_reconnect_requested(brg_endpoint_t *ep, char *reason, size_t size)
{
    if (!atomic_exchange(&ep->reconnect_req, false)) {
        return false;
    }
    if (reason && size) {
        pthread_mutex_lock(&ep->lock);
        snprintf(reason, size, "%s", ep->reconnect_reason[0] ? ep->reconnect_reason
                                                             : "reconnect requested");
        pthread_mutex_unlock(&ep->lock);
    }
    return true;
}

void brg_source_set_backlog(brg_source_t *src, int64_t n)
{
    atomic_store(&src->backlog, n > 0 ? n : 0);
}

void brg_source_set_backlog_unanswered(brg_source_t *src, bool yes)
{
    atomic_store(&src->backlog_unanswered, yes);
}

int64_t brg_source_stall_timeout_ms(const brg_source_t *src)
{
    return src->rt ? src->rt->wd.timeout_ms : 0;
}

/* ---- HTTP views -------------------------------------------------------------------------- */

void brg_watchdog_routes_json(brg_route_t *rt, brg_buf_t *b)
{
    bool stalled = atomic_load(&rt->wd.stalled);
    brg_buf_printf(b, ", \"stalled\": %s, \"stalls\": %" PRIu64 ", \"stalled_on\": ",
                   stalled ? "true" : "false", (uint64_t)atomic_load(&rt->wd.stalls));
    if (stalled) {
        char on[sizeof(rt->wd.stalled_on)];
        pthread_mutex_lock(&rt->lock);
        memcpy(on, rt->wd.stalled_on, sizeof(on));
        pthread_mutex_unlock(&rt->lock);
        brg_buf_json_str(b, on);
    } else {
        brg_buf_printf(b, "null");
    }
    brg_buf_printf(b, ", \"source_backlog\": %" PRId64,
                   rt->src ? (int64_t)atomic_load(&rt->src->backlog) : 0);
}

bool brg_watchdog_ready(brg_engine_t *e, brg_buf_t *b)
{
    bool ready = true;
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        if (atomic_load(&rt->wd.stalled)) {
            char on[sizeof(rt->wd.stalled_on)];
            pthread_mutex_lock(&rt->lock);
            memcpy(on, rt->wd.stalled_on, sizeof(on));
            pthread_mutex_unlock(&rt->lock);
            brg_buf_printf(b, "route %s stalled: %s\n", rt->name, on);
            ready = false;
        }
    }
    return ready;
}

void brg_watchdog_metrics(brg_engine_t *e, brg_buf_t *b)
{
    char r[256];
    brg_buf_printf(b, "# HELP msgbridge_route_stalls_total Times the stall watchdog found the "
                      "route with work waiting and nothing moving for stall_timeout.\n"
                      "# TYPE msgbridge_route_stalls_total counter\n");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_buf_printf(b, "msgbridge_route_stalls_total{route=\"%s\"} %" PRIu64 "\n",
                       brg_prom_label(rt->name, r, sizeof(r)), (uint64_t)atomic_load(&rt->wd.stalls));
    }
    brg_buf_printf(b, "# HELP msgbridge_route_source_backlog Messages waiting at the source's "
                      "broker as its adapter last reported them (Kafka: lag; RabbitMQ: the "
                      "queue's ready count; 0: none or unknown).\n"
                      "# TYPE msgbridge_route_source_backlog gauge\n");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_buf_printf(b, "msgbridge_route_source_backlog{route=\"%s\"} %" PRId64 "\n",
                       brg_prom_label(rt->name, r, sizeof(r)),
                       rt->src ? (int64_t)atomic_load(&rt->src->backlog) : 0);
    }
    brg_buf_printf(b, "# HELP msgbridge_route_stalled 1 while the route is stalled.\n"
                      "# TYPE msgbridge_route_stalled gauge\n");
    for (size_t i = 0; i < e->nroutes; i++) {
        brg_route_t *rt = e->routes[i];
        brg_buf_printf(b, "msgbridge_route_stalled{route=\"%s\"} %d\n",
                       brg_prom_label(rt->name, r, sizeof(r)), atomic_load(&rt->wd.stalled) ? 1 : 0);
    }
}
