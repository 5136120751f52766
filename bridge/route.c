/* The route pipeline: source submit -> (map) -> sink mailboxes -> settle -> dead letter or
 * back to the source's own thread. Every function here may run on any endpoint thread, so
 * shared counters are atomics and an envelope is touched by one thread at a time. */
#include "bridge/route.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/conf.h"
#include "bridge/endpoint.h"
#include "bridge/tslot.h"
#include "mappings/mapping.h"

brg_route_t *brg_route_new(const char *name, const brg_conf_node_t *cs)
{
    brg_route_t *rt = brg_xcalloc(1, sizeof(*rt));
    rt->name = brg_xstrdup(name);
    rt->started_ns = brg_now_ns();
    rt->cs = cs;
    rt->shares = brg_xaligned_calloc(_Alignof(brg_route_counts_t),
                                     (BRG_TSLOTS + 1) * sizeof(brg_route_counts_t));
    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->rate_lock, NULL);
    atomic_init(&rt->state, BRG_ROUTE_RUNNING);
    brg_route_set_park_backoff(rt, 1000, 60000);
    return rt;
}

void brg_route_destroy(brg_route_t *rt)
{
    if (!rt) {
        return;
    }
    free(rt->sinks);
    free(rt->shares);
    free(rt->stop_reason);
    free(rt->park_reason);
    free(rt->name);
    pthread_mutex_destroy(&rt->rate_lock);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

const char *brg_route_state_name(brg_route_state_t s)
{
    switch (s) {
    case BRG_ROUTE_RUNNING: return "running";
    case BRG_ROUTE_DRAINING: return "draining";
    case BRG_ROUTE_STOPPED: return "stopped";
    case BRG_ROUTE_PARKED: return "parked";
    }
    return "?";
}

void brg_route_stop(brg_route_t *rt, const char *reason)
{
    pthread_mutex_lock(&rt->lock);
    bool first = rt->stop_reason == NULL;
    if (first) {
        rt->stop_reason = brg_xstrdup(reason);
    }
    atomic_store(&rt->state, BRG_ROUTE_STOPPED);
    brg_delivery_t *held = brg_delivery_take_held_locked(rt);
    pthread_mutex_unlock(&rt->lock);
    /* Stopped for good: what it held goes back to the source (RETRY), which keeps it. */
    brg_delivery_release_held(held);
    if (first) {
        brg_log_error(rt->src ? brg_endpoint_logctx(rt->src->ep) : NULL,
                      "route \"%s\" stopped: %s (the source keeps the message; add a "
                      "dead_letter to the route to park such messages instead, or set "
                      "on_reject = \"reject\" on a source whose broker dead-letters)",
                      rt->name, reason);
    }
}

void brg_route_drain(brg_route_t *rt)
{
    /* A parked route has nothing in flight but its last failures and the fan-out copies it
     * held: those complete RETRY now, and the drain does not wait for a destination that may
     * never come. Their sources keep the messages; a healthy sink that confirmed one gets it
     * again when the source redelivers (docs/operations.md). */
    pthread_mutex_lock(&rt->lock);
    int expected = BRG_ROUTE_RUNNING;
    if (!atomic_compare_exchange_strong(&rt->state, &expected, BRG_ROUTE_DRAINING)) {
        expected = BRG_ROUTE_PARKED;
        atomic_compare_exchange_strong(&rt->state, &expected, BRG_ROUTE_DRAINING);
    }
    brg_delivery_t *held = brg_delivery_take_held_locked(rt);
    pthread_mutex_unlock(&rt->lock);
    brg_delivery_release_held(held);
}

/* ---- parking ------------------------------------------------------------------------------ */

void brg_route_set_park_backoff(brg_route_t *rt, uint32_t min_ms, uint32_t max_ms)
{
    pthread_mutex_lock(&rt->lock);
    rt->park_min_ms = min_ms;
    rt->park_max_ms = max_ms;
    brg_backoff_init(&rt->park_bo, min_ms, max_ms);
    pthread_mutex_unlock(&rt->lock);
}

void brg_route_park(brg_route_t *rt, const char *reason)
{
    pthread_mutex_lock(&rt->lock);
    int expected = BRG_ROUTE_RUNNING;
    bool first = atomic_compare_exchange_strong(&rt->state, &expected, BRG_ROUTE_PARKED);
    if (first) {
        free(rt->park_reason);
        rt->park_reason = brg_xstrdup(reason);
        rt->parked_ns = brg_now_ns();
        brg_backoff_reset(&rt->park_bo);
        brg_delivery_schedule_probe_locked(rt);
        atomic_fetch_add(&rt->stats.parks, 1);
    }
    /* Already parked: the failures of what was in flight, or a failed probe (its settle
     * schedules the next retry in delivery.c). Draining or stopped: the RETRY is enough. */
    uint64_t next_ms = (uint64_t)((atomic_load(&rt->next_retry_ns) - brg_now_ns()) / 1000000);
    pthread_mutex_unlock(&rt->lock);
    if (first) {
        brg_log_error(rt->src ? brg_endpoint_logctx(rt->src->ep) : NULL,
                      "route \"%s\" parked: %s (the source keeps the message; create the "
                      "destination or grant access, the route retries by itself, first in "
                      "%.1f s)",
                      rt->name, reason, (double)next_ms / 1000.0);
    }
}

void brg_route_park_tick(brg_route_t *rt)
{
    if (!atomic_load(&rt->park_wake) || !rt->src) {
        return;
    }
    if (atomic_load(&rt->state) != BRG_ROUTE_PARKED) {
        atomic_store(&rt->park_wake, false);
        return;
    }
    if (brg_now_ns() < atomic_load(&rt->next_retry_ns)) {
        return;
    }
    if (atomic_load(&rt->nheld) > 0) {
        /* A fan-out route probes with a copy it holds, never with a message from its source:
         * the sinks that confirmed it must not get it again. Not yet if a copy is still out. */
        brg_delivery_probe_held(rt);
        return;
    }
    if (atomic_load(&rt->in_flight) > 0) {
        return;
    }
    atomic_store(&rt->park_wake, false);
    brg_endpoint_wake(rt->src->ep);
}

char *brg_route_park_reason(brg_route_t *rt, int64_t *next_retry_ms)
{
    pthread_mutex_lock(&rt->lock);
    char *r = brg_xstrdup(rt->park_reason);
    pthread_mutex_unlock(&rt->lock);
    if (next_retry_ms) {
        int64_t ms = (atomic_load(&rt->next_retry_ns) - brg_now_ns()) / 1000000;
        *next_retry_ms = ms < 0 ? 0 : ms;
    }
    return r;
}

char *brg_route_stop_reason(brg_route_t *rt)
{
    pthread_mutex_lock(&rt->lock);
    char *r = brg_xstrdup(rt->stop_reason);
    pthread_mutex_unlock(&rt->lock);
    return r;
}

/* ---- rate limits -------------------------------------------------------------------------- */

/* Buckets hold at most 100 ms worth of tokens: smooth flow, small bursts. */
#define RATE_BURST_S 0.1

void brg_route_set_rate(brg_route_t *rt, double msgs_per_s, double bytes_per_s)
{
    pthread_mutex_lock(&rt->rate_lock);
    rt->rate_msgs = msgs_per_s > 0 ? msgs_per_s : 0;
    rt->rate_bytes = bytes_per_s > 0 ? bytes_per_s : 0;
    rt->tok_msgs = rt->rate_msgs * RATE_BURST_S < 1 ? 1 : rt->rate_msgs * RATE_BURST_S;
    rt->tok_bytes = rt->rate_bytes * RATE_BURST_S;
    rt->tok_ns = brg_now_ns();
    pthread_mutex_unlock(&rt->rate_lock);
}

static void rate_refill(brg_route_t *rt)
{
    int64_t now = brg_now_ns();
    double dt = (double)(now - rt->tok_ns) / 1e9;
    rt->tok_ns = now;
    if (rt->rate_msgs > 0) {
        double cap = rt->rate_msgs * RATE_BURST_S < 1 ? 1 : rt->rate_msgs * RATE_BURST_S;
        rt->tok_msgs += dt * rt->rate_msgs;
        if (rt->tok_msgs > cap) {
            rt->tok_msgs = cap;
        }
    }
    if (rt->rate_bytes > 0) {
        double cap = rt->rate_bytes * RATE_BURST_S;
        rt->tok_bytes += dt * rt->rate_bytes;
        if (rt->tok_bytes > cap) {
            rt->tok_bytes = cap;
        }
    }
}

/* Returns: how many messages the buckets allow now (SIZE_MAX when unlimited). */
static size_t rate_credit(brg_route_t *rt)
{
    if (rt->rate_msgs <= 0 && rt->rate_bytes <= 0) {
        return SIZE_MAX;
    }
    pthread_mutex_lock(&rt->rate_lock);
    rate_refill(rt);
    size_t n = SIZE_MAX;
    if (rt->rate_msgs > 0) {
        n = rt->tok_msgs >= 1 ? (size_t)rt->tok_msgs : 0;
    }
    /* The byte bucket may go into debt by one message, so a large message is never stuck. */
    if (rt->rate_bytes > 0 && rt->tok_bytes <= 0) {
        n = 0;
    }
    pthread_mutex_unlock(&rt->rate_lock);
    if (n == 0) {
        atomic_store(&rt->rate_blocked, true);
    }
    return n;
}

static void rate_consume(brg_route_t *rt, size_t bytes)
{
    if (rt->rate_msgs <= 0 && rt->rate_bytes <= 0) {
        return;
    }
    pthread_mutex_lock(&rt->rate_lock);
    rt->tok_msgs -= 1;
    rt->tok_bytes -= (double)bytes;
    pthread_mutex_unlock(&rt->rate_lock);
}

void brg_route_rate_tick(brg_route_t *rt)
{
    if (!atomic_load(&rt->rate_blocked) || !rt->src) {
        return;
    }
    pthread_mutex_lock(&rt->rate_lock);
    rate_refill(rt);
    bool ok = (rt->rate_msgs <= 0 || rt->tok_msgs >= 1) && (rt->rate_bytes <= 0 || rt->tok_bytes > 0);
    pthread_mutex_unlock(&rt->rate_lock);
    if (ok) {
        atomic_store(&rt->rate_blocked, false);
        brg_endpoint_wake(rt->src->ep);
    }
}

/* ---- source side ------------------------------------------------------------------------- */

const brg_conf_node_t *brg_source_conf(const brg_source_t *src) { return src->cs; }
const char *brg_source_route_name(const brg_source_t *src) { return src->rt->name; }
void *brg_source_opaque(const brg_source_t *src) { return src->opaque; }
void brg_source_set_opaque(brg_source_t *src, void *opaque) { src->opaque = opaque; }
size_t brg_source_max_in_flight(const brg_source_t *src) { return src->rt->max_in_flight; }
size_t brg_source_max_in_flight_bytes(const brg_source_t *src)
{
    return src->rt->max_in_flight_bytes;
}

size_t brg_source_credit(const brg_source_t *src)
{
    brg_route_t *rt = src->rt;
    int state = atomic_load(&rt->state);
    if (state == BRG_ROUTE_PARKED) {
        /* One probe at a time, once what was in flight when it parked came back (in order). */
        if (atomic_load(&rt->probe_out) || atomic_load(&rt->in_flight) > 0 ||
            brg_now_ns() < atomic_load(&rt->next_retry_ns)) {
            return 0;
        }
        return rate_credit(rt) > 0 ? 1 : 0;
    }
    if (state != BRG_ROUTE_RUNNING || atomic_load(&rt->resending)) {
        return 0;
    }
    size_t n = atomic_load(&rt->in_flight);
    if (n >= rt->max_in_flight) {
        return 0;
    }
    /* The byte bound is checked before taking: one message larger than the whole budget still
     * passes when nothing else is in flight, so it cannot wedge the route. */
    if (n > 0 && atomic_load(&rt->in_flight_bytes) >= rt->max_in_flight_bytes) {
        return 0;
    }
    size_t credit = rt->max_in_flight - n;
    size_t rate = rate_credit(rt);
    return rate < credit ? rate : credit;
}

bool brg_source_parked(const brg_source_t *src)
{
    return atomic_load(&src->rt->state) == BRG_ROUTE_PARKED;
}

void brg_source_set_error(brg_source_t *src, const char *reason)
{
    pthread_mutex_lock(&src->lock);
    free(src->error);
    src->error = brg_xstrdup(reason);
    pthread_mutex_unlock(&src->lock);
}

void brg_source_set_broker_dead_letter(brg_source_t *src, bool yes)
{
    atomic_store(&src->broker_dead_letter, yes);
}

char *brg_source_error(brg_source_t *src)
{
    pthread_mutex_lock(&src->lock);
    char *r = brg_xstrdup(src->error);
    pthread_mutex_unlock(&src->lock);
    return r;
}

int64_t brg_route_loop_window_ns(void)
{
    /* BRG_TEST_LOOP_WINDOW_MS (undocumented) lets the tests see it in seconds. */
    const char *t = getenv("BRG_TEST_LOOP_WINDOW_MS");
    long long ms = t ? atoll(t) : 0;
    return (ms > 0 ? ms : 60000) * 1000000LL;
}

bool brg_route_only_loops(brg_route_t *rt, int64_t now_ns)
{
    int64_t since = atomic_load(&rt->loop_since_ns), w = brg_route_loop_window_ns();
    return since > 0 && now_ns - since >= w && now_ns - atomic_load(&rt->last_in_ns) < w;
}

/* Count a loop drop and say so, at most once per route every 10 s. */
static void loop_dropped(brg_route_t *rt, const brg_envelope_t *env, const char *why)
{
    atomic_fetch_add(&rt->stats.loop_dropped, 1);
    int64_t now = brg_now_ns(), zero = 0;
    atomic_compare_exchange_strong(&rt->loop_since_ns, &zero, now);
    atomic_store(&rt->last_in_ns, now);
    int64_t last = atomic_load(&rt->loop_warn_ns);
    if ((last != 0 && now - last < 10 * 1000000000LL) ||
        !atomic_compare_exchange_strong(&rt->loop_warn_ns, &last, now)) {
        atomic_fetch_add(&rt->loop_unlogged, 1);
        return;
    }
    uint64_t more = atomic_exchange(&rt->loop_unlogged, 0);
    const brg_field_t *p = brg_fields_get(&env->headers, "x-msgbridge-path");
    bool text = p && (p->value.type == BRG_V_STRING || p->value.type == BRG_V_BYTES);
    char more_s[96] = "";
    if (more) {
        snprintf(more_s, sizeof(more_s), " (%" PRIu64 " more dropped as loops in the last 10 s)",
                 more);
    }
    brg_log_warn(brg_endpoint_logctx(rt->src->ep),
                 "route \"%s\": message from %s dropped as a loop: %s; x-msgbridge-path \"%.*s\"%s",
                 rt->name, env->origin.stream ? env->origin.stream : "?", why,
                 text ? (int)p->value.u.bytes.len : 0,
                 text ? (const char *)p->value.u.bytes.data : "", more_s);
}

void brg_source_submit(brg_source_t *src, brg_envelope_t *env)
{
    brg_route_t *rt = src->rt;
    brg_endpoint_t *ep = src->ep;
    if (!env->origin.adapter) {
        env->origin.adapter = ep->adapter->name;
    }
    if (!env->origin.endpoint) {
        env->origin.endpoint = ep->name;
        env->origin.endpoint_borrowed = true;
    }
    if (!env->origin.received_ns) {
        env->origin.received_ns = brg_batch_now_ns();
    }
    brg_delivery_t *dlv = brg_delivery_new(src, env);
    /* A parked route probes with what its source gives it next (brg_source_credit grants one
     * message once nothing is in flight). A fan-out route holding copies probes with the
     * oldest of them instead (brg_delivery_probe_held), so a message taken on credit granted
     * just before the park, with others still in flight, is no probe: its failed copy is held
     * behind the older ones. Made a probe, it went to the head of the held copies and reached
     * the missing destination before them, out of order. */
    if (atomic_load(&rt->state) == BRG_ROUTE_PARKED &&
        (rt->nsinks == 1 || atomic_load(&rt->in_flight) == 1)) {
        bool no = false;
        dlv->probe = atomic_compare_exchange_strong(&rt->probe_out, &no, true);
    }
    BRG_ROUTE_COUNT(rt, s.in_msgs, 1);
    BRG_ROUTE_COUNT(rt, s.in_bytes, env->body_len);
    /* Read only by the loop check of /readyz, so only kept while the route drops loops (no
     * clock read or shared store per message otherwise): received_ns was just set above. */
    if (atomic_load_explicit(&rt->loop_since_ns, memory_order_relaxed)) {
        atomic_store(&rt->last_in_ns, env->origin.received_ns);
    }
    rate_consume(rt, env->body_len);

    if (env->reject_reason) {
        /* The source could not decode it faithfully: park it, never deliver part of it. */
        atomic_fetch_add(&rt->stats.mapping_lost, 1);
        dlv->sink = rt->sinks[0];
        brg_settle(env, BRG_REJECTED, env->reject_reason);
        return;
    }
    {
        char why[256] = "";
        brg_map_verdict_t v = brg_mapping_apply(rt->mapping, env, why, sizeof(why));
        if (v == BRG_MAP_FILTERED || v == BRG_MAP_LOOP) {
            /* Not for this route: acknowledged at the source and counted, never dead-lettered. */
            if (v == BRG_MAP_LOOP) {
                loop_dropped(rt, env, why);
                dlv->loop_dropped = true;
            } else {
                atomic_fetch_add(&rt->stats.filtered, 1);
            }
            brg_delivery_finish(dlv, BRG_ACCEPTED);
            return;
        }
        if (v == BRG_MAP_UNMAPPABLE) {
            /* Strict mode: the message cannot cross losslessly; treat it as permanently failed. */
            dlv->sink = rt->sinks[0];
            brg_settle(env, BRG_REJECTED, why);
            return;
        }
    }

    dlv->sent = true;
    if (rt->nsinks == 1) {
        /* One sink: the envelope itself travels, no copy. */
        brg_delivery_publish(dlv, rt->sinks[0]);
        return;
    }
    /* Fan-out: one copy per sink; the source hears back once every copy is settled, with the
     * worst outcome (REJECTED > RETRY > ACCEPTED). */
    brg_delivery_fanout(dlv);
}

/* ---- sink side --------------------------------------------------------------------------- */

const brg_conf_node_t *brg_sink_conf(const brg_sink_t *sink) { return sink->cs; }
const char *brg_sink_route_name(const brg_sink_t *sink) { return sink->rt->name; }
void *brg_sink_opaque(const brg_sink_t *sink) { return sink->opaque; }
void brg_sink_set_opaque(brg_sink_t *sink, void *opaque) { sink->opaque = opaque; }

const char *brg_sink_source_type(const brg_sink_t *sink)
{
    return sink->rt->src->ep->adapter->name;
}

const void *brg_sink_source_settings(const brg_sink_t *sink)
{
    return sink->rt->src->ep->settings;
}

const brg_conf_node_t *brg_sink_source_conf(const brg_sink_t *sink)
{
    return sink->rt->src->cs;
}

void brg_sink_stop_route(brg_sink_t *sink, const char *reason)
{
    brg_source_stop(sink->rt->src, reason);
}

char *brg_sink_stream_name(const brg_sink_t *sink, const char *stream)
{
    return brg_mapping_stream_name(sink->rt->mapping, stream);
}

bool brg_sink_mapping_loss(brg_sink_t *sink, const char *field)
{
    brg_route_t *rt = sink->rt;
    atomic_fetch_add(&rt->stats.mapping_lost, 1);
    size_t n = atomic_load(&rt->nloss);
    size_t i = 0;
    while (i < n && strcmp(rt->loss[i].name, field) != 0) {
        i++;
    }
    if (i == n) {
        pthread_mutex_lock(&rt->lock);
        n = atomic_load(&rt->nloss);
        i = 0;
        while (i < n && strcmp(rt->loss[i].name, field) != 0) {
            i++;
        }
        if (i == n && n < BRG_LOSS_FIELDS) {
            snprintf(rt->loss[n].name, sizeof(rt->loss[n].name), "%s", field);
            atomic_store(&rt->nloss, n + 1);
        }
        pthread_mutex_unlock(&rt->lock);
    }
    if (i < BRG_LOSS_FIELDS) {
        atomic_fetch_add(&rt->loss[i].count, 1);
    }
    /* The dead letter is where strict mode parks what cannot cross: it carries it as it can. */
    return !sink->is_dead_letter && brg_mapping_strict(rt->mapping);
}

const brg_template_t *brg_sink_template(const brg_sink_t *sink, const char *key)
{
    for (size_t i = 0; i < sink->tpls->n; i++) {
        if (strcmp(sink->tpls->keys[i], key) == 0) {
            return sink->tpls->tpls[i];
        }
    }
    return NULL;
}

/* "endpoint/destination" for dead-letter headers: the sink's first template, rendered. */
static char *sink_destination(const brg_sink_t *sink, const brg_envelope_t *env)
{
    char *dest = sink->tpls->n ? brg_template_render(sink->tpls->tpls[0], env, NULL)
                               : brg_xstrdup("");
    size_t n = strlen(sink->ep->name) + strlen(dest) + 2;
    char *out = brg_xmalloc(n);
    snprintf(out, n, "%s/%s", sink->ep->name, dest);
    free(dest);
    return out;
}

/* Re-address a rejected envelope to the route's dead letter, with headers that say why. */
static void send_to_dead_letter(brg_delivery_t *dlv, const char *reason)
{
    brg_envelope_t *env = dlv->env;
    brg_route_t *rt = dlv->rt;
    char buf[64];
    char *dest = sink_destination(dlv->sink, env);
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-reason", reason ? reason : "rejected");
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-route", rt->name);
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-destination", dest);
    free(dest);
    char src[512];
    snprintf(src, sizeof(src), "%s/%s", env->origin.endpoint ? env->origin.endpoint : "",
             env->origin.stream ? env->origin.stream : "");
    if (env->origin.partition >= 0) {
        size_t l = strlen(src);
        snprintf(src + l, sizeof(src) - l, "[%" PRId32 "]@%" PRId64, env->origin.partition,
                 env->origin.offset);
    }
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-source", src);
    snprintf(buf, sizeof(buf), "%d", dlv->attempts + 1);
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-attempts", buf);
    snprintf(buf, sizeof(buf), "%" PRId64, brg_wall_ms());
    brg_envelope_add_header_str(env, "x-msgbridge-dlq-first-failure-ms", buf);
    dlv->dead_letter = true;
    brg_delivery_publish(dlv, rt->dead_letter);
}

void brg_settle(brg_envelope_t *env, brg_outcome_t outcome, const char *reason)
{
    brg_delivery_t *dlv = env->dlv;
    brg_route_t *rt = dlv->rt;
    brg_sink_t *sink = dlv->sink;
    if (outcome != BRG_ACCEPTED) {
        brg_delivery_note_reason(dlv, reason);
    }
    switch (outcome) {
    case BRG_ACCEPTED:
        if (sink) {
            BRG_SINK_COUNT(sink, out_msgs, 1);
            BRG_SINK_COUNT(sink, out_bytes, env->body_len);
        }
        BRG_ROUTE_COUNT(rt, s.out_msgs, 1);
        BRG_ROUTE_COUNT(rt, s.out_bytes, env->body_len);
        if (atomic_load(&rt->loop_since_ns)) {
            atomic_store(&rt->loop_since_ns, 0);
        }
        if (dlv->dead_letter) {
            atomic_fetch_add(&rt->stats.dead_lettered, 1);
            brg_log_warn(brg_endpoint_logctx(sink->ep), "route \"%s\": message dead-lettered: %s",
                         rt->name, brg_delivery_reason(dlv) ? brg_delivery_reason(dlv) : "rejected");
        }
        brg_delivery_complete(dlv, BRG_ACCEPTED);
        return;
    case BRG_RETRY:
        if (sink) {
            BRG_SINK_COUNT(sink, retried, 1);
        }
        brg_delivery_complete(dlv, BRG_RETRY);
        return;
    case BRG_REJECTED:
        if (sink) {
            BRG_SINK_COUNT(sink, rejected, 1);
        }
        if (rt->dead_letter && !dlv->dead_letter) {
            send_to_dead_letter(dlv, reason);
            return;
        }
        if (!rt->dead_letter && atomic_load(&rt->src->broker_dead_letter)) {
            /* The source's broker parks it (its dead-letter exchange or DLQ): the route goes on. */
            atomic_fetch_add(&rt->stats.broker_rejected, 1);
            brg_log_warn(brg_endpoint_logctx(rt->src->ep),
                         "route \"%s\": message rejected to the source broker's dead letter: %s",
                         rt->name, reason ? reason : "rejected by the sink");
            brg_delivery_complete(dlv, BRG_REJECTED);
            return;
        }
        {
            char why[512];
            snprintf(why, sizeof(why), "%s%s", dlv->dead_letter ? "dead letter refused it: " : "",
                     reason ? reason : "rejected by the sink");
            brg_route_stop(rt, why);
        }
        brg_delivery_complete(dlv, BRG_REJECTED);
        return;
    }
}

void brg_settle_unroutable(brg_envelope_t *env, const char *reason)
{
    brg_delivery_t *dlv = env->dlv;
    brg_route_t *rt = dlv->rt;
    brg_unroutable_t how = rt->on_unroutable;
    /* The source broker's dead letter (on_reject = "reject") counts as the route's own. */
    bool has_dl = rt->dead_letter || (rt->src && atomic_load(&rt->src->broker_dead_letter));
    if (how == BRG_UNROUTABLE_DEFAULT) {
        how = has_dl ? BRG_UNROUTABLE_DEAD_LETTER : BRG_UNROUTABLE_PARK;
    }
    if (dlv->dead_letter || (how == BRG_UNROUTABLE_DEAD_LETTER && !has_dl)) {
        /* The dead letter itself leads nowhere: only waiting helps. */
        how = BRG_UNROUTABLE_PARK;
    }
    switch (how) {
    case BRG_UNROUTABLE_DEAD_LETTER:
    case BRG_UNROUTABLE_DEFAULT:
        brg_settle(env, BRG_REJECTED, reason);
        return;
    case BRG_UNROUTABLE_STOP:
        brg_delivery_note_reason(dlv, reason);
        if (dlv->sink) {
            BRG_SINK_COUNT(dlv->sink, rejected, 1);
        }
        brg_route_stop(rt, reason ? reason : "destination unusable");
        brg_delivery_complete(dlv, BRG_REJECTED);
        return;
    case BRG_UNROUTABLE_PARK: {
        brg_delivery_note_reason(dlv, reason);
        if (dlv->sink) {
            BRG_SINK_COUNT(dlv->sink, retried, 1);
        }
        char why[512];
        snprintf(why, sizeof(why), "%s%s", dlv->dead_letter ? "dead letter: " : "",
                 reason ? reason : "destination unusable");
        brg_route_park(rt, why);
        /* A fan-out copy waits with the route; the other copies keep their outcomes. */
        brg_delivery_hold(dlv);
        return;
    }
    }
}

const char *brg_outcome_name(brg_outcome_t o)
{
    switch (o) {
    case BRG_ACCEPTED: return "accepted";
    case BRG_RETRY: return "retry";
    case BRG_REJECTED: return "rejected";
    }
    return "?";
}
