/* A delivery's life, from submit to brg_source_done: see delivery.h. Every function may run on
 * any endpoint thread (a sink settles on its own thread, a copy's retry on the timer's), so what
 * two threads can touch at once is atomic: the fan-out parent's pending and worst, the reason
 * pointer, the route's counters. An envelope itself is touched by one thread at a time. */
#include "bridge/delivery.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/endpoint.h"
#include "bridge/inbox.h"
#include "bridge/mailbox.h"
#include "bridge/route.h"

static void probe_done(brg_route_t *rt, bool sent, brg_outcome_t outcome);

static size_t bucket_of(const double *bounds, size_t n, double s)
{
    size_t b = 0;
    while (b < n && s > bounds[b]) {
        b++;
    }
    return b;
}

/* Recycled deliveries kept per source at most: the route's window (what can be in flight
 * anyway, so the list never holds more memory than a full window did; a Kafka route's default
 * is 10485; at max_in_flight = 100000 settles come back in batches of tens of thousands), at
 * least DLV_FREE_MIN and at most DLV_FREE_MAX. */
#define DLV_FREE_MIN 1024
#define DLV_FREE_MAX 131072

static size_t free_cap(const brg_route_t *rt)
{
    size_t w = rt->max_in_flight;
    return w < DLV_FREE_MIN ? DLV_FREE_MIN : w > DLV_FREE_MAX ? DLV_FREE_MAX : w;
}

/* Only the fields every delivery uses are set: pending and worst are a fan-out parent's and
 * are set by brg_delivery_fanout. mem is a recycled delivery or NULL. */
static brg_delivery_t *delivery_init(brg_delivery_t *mem, brg_envelope_t *env, brg_route_t *rt)
{
    brg_delivery_t *dlv = mem ? mem : brg_xmalloc(sizeof(*dlv));
    dlv->env = env;
    dlv->next = NULL;
    dlv->rt = rt;
    dlv->src = NULL;
    dlv->sink = NULL;
    dlv->parent = NULL;
    dlv->bytes = 0;
    dlv->outcome = BRG_ACCEPTED;
    dlv->dead_letter = false;
    dlv->loop_dropped = false;
    dlv->probe = false;
    dlv->sent = false;
    dlv->attempts = 0;
    atomic_init(&dlv->reason, NULL);
    env->dlv = dlv;
    return dlv;
}

static void delivery_free(brg_delivery_t *dlv)
{
    free(atomic_load_explicit(&dlv->reason, memory_order_relaxed));
    free(dlv);
}

brg_delivery_t *brg_delivery_new(brg_source_t *src, brg_envelope_t *env)
{
    brg_route_t *rt = src->rt;
    /* The source's free list: no allocation per message once the window has been used. */
    brg_delivery_t *mem = src->free_dlv;
    if (mem) {
        src->free_dlv = mem->next;
        src->nfree_dlv--;
    }
    brg_delivery_t *dlv = delivery_init(mem, env, rt);
    dlv->src = src;
    dlv->bytes = brg_envelope_size(env);
    atomic_fetch_add(&rt->in_flight, 1);
    atomic_fetch_add(&rt->in_flight_bytes, dlv->bytes);
    return dlv;
}

/* Return a parent's credit and free it; recycle only on the source's own thread. */
static void source_release(brg_envelope_t *env, bool recycle)
{
    brg_delivery_t *dlv = env->dlv;
    if (dlv) {
        brg_route_t *rt = dlv->rt;
        atomic_fetch_sub(&rt->in_flight_bytes, dlv->bytes);
        atomic_fetch_sub(&rt->in_flight, 1);
        brg_source_t *src = dlv->src;
        if (recycle && src && src->nfree_dlv < free_cap(rt)) {
            free(atomic_load_explicit(&dlv->reason, memory_order_relaxed));
            dlv->next = src->free_dlv;
            src->free_dlv = dlv;
            src->nfree_dlv++;
        } else {
            delivery_free(dlv);
        }
        env->dlv = NULL;
    }
    /* On the source's thread the envelope goes to that thread's free list, where the source
     * takes its next ones from (brg_envelope_new): no allocation per message. */
    if (recycle) {
        brg_envelope_recycle(env);
    } else {
        brg_envelope_destroy(env);
    }
}

void brg_source_done(brg_envelope_t *env)
{
    source_release(env, true);
}

void brg_delivery_source_fini(brg_source_t *src)
{
    while (src->free_dlv) {
        brg_delivery_t *d = src->free_dlv;
        src->free_dlv = d->next;
        free(d);
    }
    src->nfree_dlv = 0;
}

const char *brg_envelope_settle_reason(const brg_envelope_t *env)
{
    return env->dlv ? brg_delivery_reason(env->dlv) : NULL;
}

brg_source_t *brg_envelope_source(const brg_envelope_t *env)
{
    return env->dlv ? env->dlv->src : NULL;
}

void brg_delivery_note_reason(brg_delivery_t *dlv, const char *reason)
{
    if (!reason || atomic_load(&dlv->reason)) {
        return;
    }
    /* Two sinks may fail the same message at once: the first swap wins, the other copy is
     * dropped. Cheaper than a mutex per delivery, and only failures pay for the strdup. */
    char *copy = brg_xstrdup(reason);
    char *expected = NULL;
    if (!atomic_compare_exchange_strong(&dlv->reason, &expected, copy)) {
        free(copy);
    }
}

const char *brg_delivery_reason(const brg_delivery_t *dlv)
{
    return atomic_load(&((brg_delivery_t *)dlv)->reason);
}

void brg_delivery_publish(brg_delivery_t *dlv, brg_sink_t *sink)
{
    dlv->sink = sink;
    brg_endpoint_push_publish(sink->ep, dlv);
}

void brg_delivery_fanout(brg_delivery_t *parent)
{
    brg_route_t *rt = parent->rt;
    /* Set before the first copy goes: a sink may settle it before the loop ends. */
    atomic_init(&parent->pending, (int)rt->nsinks);
    atomic_init(&parent->worst, BRG_ACCEPTED);
    atomic_fetch_add(&rt->copies_out, rt->nsinks);
    for (size_t i = 0; i < rt->nsinks; i++) {
        brg_envelope_t *copy = brg_envelope_copy(parent->env);
        /* Copies are freed on their sink's thread: allocated normally. */
        brg_delivery_t *child = delivery_init(NULL, copy, rt);
        child->parent = parent;
        brg_delivery_publish(child, rt->sinks[i]);
    }
}

void brg_delivery_finish(brg_delivery_t *dlv, brg_outcome_t outcome)
{
    brg_route_t *rt = dlv->rt;
    dlv->outcome = outcome;
    switch (outcome) {
    case BRG_ACCEPTED:
        if (!dlv->loop_dropped) {
            BRG_ROUTE_COUNT(rt, s.accepted, 1);
        }
        break;
    case BRG_RETRY: BRG_ROUTE_COUNT(rt, s.retried, 1); break;
    case BRG_REJECTED: BRG_ROUTE_COUNT(rt, s.rejected, 1); break;
    }
    if (outcome == BRG_ACCEPTED && dlv->env->origin.received_ns > 0) {
        int64_t ns = brg_batch_now_ns() - dlv->env->origin.received_ns;
        BRG_ROUTE_COUNT(rt, s.latency_ns_sum, (uint64_t)ns);
        BRG_ROUTE_COUNT(rt, s.latency_count, 1);
        size_t b = bucket_of(brg_latency_bounds, BRG_LAT_BUCKETS, (double)ns / 1e9);
        brg_route_count(rt, offsetof(brg_route_counts_t, latency_buckets) +
                                b * sizeof(atomic_uint_fast64_t), 1);
    }
    if (outcome == BRG_ACCEPTED && dlv->env->props.timestamp_ms > 0) {
        /* Producer clocks may run ahead of ours: count a negative age as zero. */
        int64_t ms = brg_batch_wall_ms() - dlv->env->props.timestamp_ms;
        ms = ms < 0 ? 0 : ms;
        BRG_ROUTE_COUNT(rt, s.e2e_ms_sum, (uint64_t)ms);
        BRG_ROUTE_COUNT(rt, s.e2e_count, 1);
        size_t b = bucket_of(brg_e2e_bounds, BRG_E2E_BUCKETS, (double)ms / 1e3);
        brg_route_count(rt, offsetof(brg_route_counts_t, e2e_buckets) +
                                b * sizeof(atomic_uint_fast64_t), 1);
    }
    if (dlv->probe) {
        probe_done(rt, dlv->sent, outcome);
    }
    brg_endpoint_push_settled(dlv->src->ep, dlv);
}

/* A fan-out copy's final outcome: fold it into the parent; the last copy finishes it. */
static void complete_child(brg_delivery_t *dlv, brg_outcome_t outcome)
{
    brg_delivery_t *parent = dlv->parent;
    if (outcome != BRG_ACCEPTED) {
        brg_delivery_note_reason(parent, brg_delivery_reason(dlv));
    }
    int cur = atomic_load(&parent->worst);
    while ((int)outcome > cur && !atomic_compare_exchange_weak(&parent->worst, &cur, (int)outcome)) {
    }
    brg_route_t *rt = dlv->rt;
    brg_envelope_destroy(dlv->env);
    delivery_free(dlv);
    atomic_fetch_sub(&rt->copies_out, 1);
    if (atomic_fetch_sub(&parent->pending, 1) == 1) {
        brg_delivery_finish(parent, (brg_outcome_t)atomic_load(&parent->worst));
    }
}

/* Copies are retried at their own sink while the route runs or is parked (parked, a copy to a
 * healthy sink still goes; one to the missing destination fails again and is held). Draining
 * or stopped, the retry is final: the parent gets RETRY and the source keeps the message. */
static bool copies_retry(const brg_route_t *rt)
{
    int state = atomic_load(&rt->state);
    return state == BRG_ROUTE_RUNNING || state == BRG_ROUTE_PARKED;
}

/* A fan-out copy's retry is due: publish it again to the same sink, unless the route drains
 * or stopped. */
static void fanout_retry_due(void *arg, bool cancelled)
{
    brg_delivery_t *dlv = arg;
    if (cancelled || !copies_retry(dlv->rt)) {
        complete_child(dlv, BRG_RETRY);
        return;
    }
    brg_delivery_publish(dlv, dlv->sink);
}

void brg_delivery_complete(brg_delivery_t *dlv, brg_outcome_t outcome)
{
    if (!dlv->parent) {
        brg_delivery_finish(dlv, outcome);
        return;
    }
    if (dlv->probe) {
        /* A held copy sent as the parked route's probe. A transient failure says the
         * destination is still not usable: hold it again (first in line) and wait for the next
         * retry. Any other outcome reached the destination: resume (or, rejected, the route
         * stopped or dead-letters it), then settle the copy as usual. */
        if (outcome == BRG_RETRY) {
            brg_delivery_hold(dlv);
            return;
        }
        dlv->probe = false;
        probe_done(dlv->rt, true, outcome);
    }
    /* A fan-out copy that failed transiently is retried here, at its own sink only: the sinks
     * that already accepted the message do not get it again. Backoff 100 ms doubling to 5 s. */
    if (outcome == BRG_RETRY && dlv->rt->timer && copies_retry(dlv->rt)) {
        int shift = dlv->attempts < 6 ? dlv->attempts : 6;
        int64_t delay_ms = 100LL << shift;
        if (delay_ms > 5000) {
            delay_ms = 5000;
        }
        dlv->attempts++;
        brg_timer_at(dlv->rt->timer, brg_now_ns() + delay_ms * 1000000, fanout_retry_due, dlv);
        return;
    }
    complete_child(dlv, outcome);
}

/* ---- a parked route's held copies -------------------------------------------------------- */

brg_delivery_t *brg_delivery_take_held_locked(brg_route_t *rt)
{
    brg_delivery_t *chain = rt->held_head;
    rt->held_head = rt->held_tail = NULL;
    atomic_store(&rt->nheld, 0);
    return chain;
}

void brg_delivery_schedule_probe_locked(brg_route_t *rt)
{
    uint32_t ms = brg_backoff_next(&rt->park_bo);
    atomic_store(&rt->next_retry_ns, brg_now_ns() + (int64_t)ms * 1000000);
    atomic_store(&rt->park_wake, true);
}

/* The parked route's probe settled (sent: it reached a sink; not sent: the mapping filtered or
 * dropped it). Accepted: the route runs again and the copies it held go to their sinks. Else
 * the next probe is scheduled. */
static void probe_done(brg_route_t *rt, bool sent, brg_outcome_t outcome)
{
    if (!sent) {
        /* A probe the mapping filtered or dropped says nothing about the destination. */
        atomic_store(&rt->probe_out, false);
        atomic_store(&rt->park_wake, true);
        return;
    }
    atomic_store(&rt->probe_out, false);
    pthread_mutex_lock(&rt->lock);
    bool resumed = false;
    brg_delivery_t *held = NULL;
    double parked_s = (double)(brg_now_ns() - rt->parked_ns) / 1e9;
    if (outcome == BRG_ACCEPTED) {
        int expected = BRG_ROUTE_PARKED;
        /* Set before the state changes: a source that sees the route running sees it too. */
        atomic_store(&rt->resending, true);
        resumed = atomic_compare_exchange_strong(&rt->state, &expected, BRG_ROUTE_RUNNING);
        if (resumed) {
            brg_backoff_reset(&rt->park_bo);
            atomic_store(&rt->park_wake, false);
            held = brg_delivery_take_held_locked(rt);
        } else {
            atomic_store(&rt->resending, false);
        }
    } else if (atomic_load(&rt->state) == BRG_ROUTE_PARKED) {
        brg_delivery_schedule_probe_locked(rt);
    }
    pthread_mutex_unlock(&rt->lock);
    if (resumed) {
        brg_log_info(rt->src ? &rt->src->ep->logctx : NULL,
                     "route \"%s\" resumed after %.0f s parked", rt->name, parked_s);
        /* The copies the probe stood for go to their sinks, in order; nothing else goes again.
         * They are in their sinks' inboxes before the source may take anything new, so a new
         * message cannot overtake them at their sink. */
        brg_delivery_resend_held(held);
        atomic_store(&rt->resending, false);
        if (rt->src) {
            brg_endpoint_wake(rt->src->ep);
        }
    }
}

void brg_delivery_hold(brg_delivery_t *dlv)
{
    brg_delivery_t *parent = dlv->parent;
    if (!parent) {
        /* One sink: nothing else has the message, the source keeps it and redelivers. */
        brg_delivery_finish(dlv, BRG_RETRY);
        return;
    }
    brg_route_t *rt = dlv->rt;
    bool probe = false;
    /* The state is read under the lock that every change to or from parked takes (park,
     * resume, drain, stop) before it takes the held chain: a copy is either in the chain they
     * take or sees their new state, never left behind. */
    pthread_mutex_lock(&rt->lock);
    int state = atomic_load(&rt->state);
    if (state == BRG_ROUTE_PARKED) {
        /* Siblings' flags are cleared under the lock: a parent whose copies fail at two sinks
         * ends its probe once. */
        probe = dlv->probe || parent->probe;
        dlv->probe = false;
        parent->probe = false;
        if (probe) {
            /* The probe is the oldest: it stays first, so the destination gets them in order. */
            dlv->next = rt->held_head;
            rt->held_head = dlv;
            if (!rt->held_tail) {
                rt->held_tail = dlv;
            }
        } else {
            dlv->next = NULL;
            if (rt->held_tail) {
                rt->held_tail->next = dlv;
            } else {
                rt->held_head = dlv;
            }
            rt->held_tail = dlv;
        }
        atomic_fetch_add(&rt->nheld, 1);
    }
    pthread_mutex_unlock(&rt->lock);
    if (state == BRG_ROUTE_PARKED) {
        atomic_fetch_sub(&rt->copies_out, 1);
        if (probe) {
            probe_done(rt, true, BRG_RETRY);
        }
        return;
    }
    if (dlv->probe) {
        dlv->probe = false;
        probe_done(rt, true, BRG_RETRY);
    }
    if (state == BRG_ROUTE_RUNNING) {
        /* It resumed between this copy's park and now: go again (it parks anew if it fails). */
        brg_delivery_publish(dlv, dlv->sink);
        return;
    }
    complete_child(dlv, BRG_RETRY);
}

bool brg_delivery_probe_held(brg_route_t *rt)
{
    brg_delivery_t *d = NULL;
    pthread_mutex_lock(&rt->lock);
    bool no = false;
    if (atomic_load(&rt->state) == BRG_ROUTE_PARKED && rt->held_head &&
        atomic_load(&rt->copies_out) == 0 &&
        atomic_compare_exchange_strong(&rt->probe_out, &no, true)) {
        d = rt->held_head;
        rt->held_head = d->next;
        if (!rt->held_head) {
            rt->held_tail = NULL;
        }
        d->next = NULL;
        d->probe = true;
        atomic_fetch_sub(&rt->nheld, 1);
        atomic_fetch_add(&rt->copies_out, 1);
        /* Under the lock, before it goes: its failure schedules the next retry (and sets the
         * wake again) under the same lock. */
        atomic_store(&rt->park_wake, false);
    }
    pthread_mutex_unlock(&rt->lock);
    if (!d) {
        return false;
    }
    brg_delivery_publish(d, d->sink);
    return true;
}

void brg_delivery_resend_held(brg_delivery_t *chain)
{
    while (chain) {
        brg_delivery_t *d = chain;
        chain = d->next;
        d->next = NULL;
        atomic_fetch_add(&d->rt->copies_out, 1);
        brg_delivery_publish(d, d->sink);
    }
    /* Into the sinks' inboxes now, not at this thread's next flush: the caller lets the source
     * take new messages next, and their copies must not get to a sink before these. */
    brg_endpoint_flush(NULL);
}

void brg_delivery_release_held(brg_delivery_t *chain)
{
    while (chain) {
        brg_delivery_t *d = chain;
        chain = d->next;
        d->next = NULL;
        /* complete_child counts it back from copies_out: it was taken off when held. */
        atomic_fetch_add(&d->rt->copies_out, 1);
        complete_child(d, BRG_RETRY);
    }
}

void brg_delivery_abandon(brg_delivery_t *dlv)
{
    brg_delivery_t *parent = dlv->parent;
    if (!parent) {
        /* A parent, queued for its sink (single sink, dead letter) or back at its source. Not
         * recycled: the source's thread may still be running (a reload stops only some
         * endpoints). */
        source_release(dlv->env, false);
        return;
    }
    dlv->env->dlv = NULL;
    atomic_fetch_sub(&dlv->rt->copies_out, 1);
    brg_envelope_destroy(dlv->env);
    delivery_free(dlv);
    /* The last copy of a fan-out frees the parent it kept alive. */
    if (atomic_fetch_sub(&parent->pending, 1) == 1) {
        source_release(parent->env, false);
    }
}

/* ---- adapters' envelope queues (adapter.h): the inbox link, used privately ---------------- */

void brg_envq_push(brg_envq_t *q, brg_envelope_t *env)
{
    brg_dfifo_push(q, env->dlv);
}

brg_envelope_t *brg_envq_pop(brg_envq_t *q)
{
    brg_delivery_t *d = brg_dfifo_pop(q);
    return d ? d->env : NULL;
}

brg_envelope_t *brg_envq_peek(const brg_envq_t *q)
{
    return q->head ? q->head->env : NULL;
}

brg_sink_t *brg_envelope_sink(const brg_envelope_t *env)
{
    return env->dlv ? env->dlv->sink : NULL;
}
