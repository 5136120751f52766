/* amqp1 sources: one receiver link per route `from`, link credit from the route's in-flight
 * budget, deliveries into envelopes, and the disposition once the outcome comes back.
 *
 * Outcomes (docs/amqp1.md "Delivery"): ACCEPTED -> `accepted`; RETRY -> `released` (or
 * `modified` with delivery-failed when on_retry = "modified"); REJECTED -> the core has stopped
 * the route and the delivery is left unsettled so that the broker keeps the message (or
 * `rejected` with a description when on_reject = "reject", for brokers that dead-letter
 * rejected messages themselves). */
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/terminus.h>

#include "adapters/amqp1/amqp1_codec.h"
#include "adapters/amqp1/amqp1_int.h"

/* A receiver with credit outstanding that got nothing for this long is drained to resync the
 * credit with the broker (an idle queue costs one flow exchange per period). */
#define STALL_NS (2 * 1000000000LL)
/* A drain the broker never answers is given up after this long. */
#define DRAIN_TIMEOUT_NS (10 * 1000000000LL)
#define AMQP1_DRAIN_QUIET_LINKS 0

uint64_t brg_amqp1_rx_epoch(const brg_amqp1_t *a, const amqp1_rx_t *rx)
{
    return (a->conn_gen << 32) | rx->link_gen;
}

amqp1_rx_t *brg_amqp1_rx_of_link(brg_amqp1_t *a, pn_link_t *l)
{
    amqp1_rx_t *rx = pn_link_get_context(l);
    /* A link replaced by a re-attach keeps its context: only the current one counts. */
    return rx && rx >= a->rx && rx < a->rx + a->nrx && rx->link == l ? rx : NULL;
}

static void set_capability(pn_terminus_t *t, const char *cap)
{
    if (!cap) {
        return;
    }
    pn_data_t *caps = pn_terminus_capabilities(t);
    pn_data_put_array(caps, false, PN_SYMBOL);
    pn_data_enter(caps);
    pn_data_put_symbol(caps, pn_bytes(strlen(cap), cap));
    pn_data_exit(caps);
}

void brg_amqp1_rx_attach(brg_amqp1_t *a, amqp1_rx_t *rx)
{
    char err[512];
    brg_amqp1_addr_fini(&rx->addr);
    rx->reattach_at_ns = 0;
    if (brg_amqp1_address_resolve(a->family, rx->address, &rx->addr, err, sizeof(err)) !=
        BRG_OK) {
        /* Only possible with broker = "auto" once the dialect is known: retrying cannot help. */
        brg_log_error(a->log, "route %s: %s", brg_source_route_name(rx->src), err);
        brg_source_set_error(rx->src, err);
        return;
    }
    brg_amqp1_rx_link_t ls;
    brg_amqp1_rx_link_settings(a->family, &rx->addr, rx->address, a->container_id,
                               brg_source_route_name(rx->src), rx->want_durable,
                               rx->subscription, ++a->link_seq, &ls);
    pn_link_t *l = pn_receiver(a->ssn, ls.name);
    pn_terminus_t *src = pn_link_source(l);
    pn_terminus_set_address(src, rx->addr.address);
    set_capability(src, rx->addr.capability);
    /* A durable subscription: the broker keeps what is published while we are away, under
     * the stable link name on our stable container id. */
    pn_terminus_set_durability(src, ls.durability);
    pn_terminus_set_expiry_policy(src, ls.expiry);
    pn_terminus_set_distribution_mode(src, ls.dist_mode);
    rx->durable = ls.durable;
    if (!ls.durable && rx->want_durable && rx->addr.jms_dest == 1 && !rx->warned_not_durable) {
        rx->warned_not_durable = true;
        brg_log_warn(a->log, "route %s: RabbitMQ 3.x has no durable AMQP 1.0 topic "
                             "subscriptions: messages published to \"%s\" while msgbridge is "
                             "not connected are lost (read a queue bound to the exchange instead)",
                     brg_source_route_name(rx->src), rx->address);
    }
    /* At-least-once: the broker sends unsettled and waits for our disposition. */
    pn_link_set_snd_settle_mode(l, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);
    pn_link_set_context(l, rx);
    pn_link_open(l);
    rx->link = l;
    rx->link_gen++;
    rx->draining = false;
    rx->last_rx_ns = brg_now_ns();
    brg_log_debug(a->log, "route %s: receiving from \"%s\" (link \"%s\"%s)",
                  brg_source_route_name(rx->src), rx->addr.address, ls.name,
                  ls.durable ? ", durable subscription" : "");
    brg_amqp1_rx_link_fini(&ls);
}

void brg_amqp1_rx_attach_all(brg_amqp1_t *a)
{
    int64_t now = brg_now_ns();
    for (size_t i = 0; i < a->nrx; i++) {
        amqp1_rx_t *rx = &a->rx[i];
        if (rx->attach_after_ns > now) {
            rx->reattach_at_ns = rx->attach_after_ns; /* brg_amqp1_rx_service attaches it then */
            continue;
        }
        brg_amqp1_rx_attach(a, rx);
    }
}

/* The node a refusal names: "NOT_FOUND - no queue 'orders' in vhost '/'" -> "orders". */
static bool quoted_name(const char *desc, char *out, size_t size)
{
    const char *q = desc ? strchr(desc, '\'') : NULL;
    const char *e = q ? strchr(q + 1, '\'') : NULL;
    if (!e || (size_t)(e - q - 1) >= size || e == q + 1) {
        return false;
    }
    memcpy(out, q + 1, (size_t)(e - q - 1));
    out[e - q - 1] = 0;
    return true;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0 && (n == m || s[n - m - 1] == '/');
}

void brg_amqp1_rx_connection_refused(brg_amqp1_t *a, pn_condition_t *cond)
{
    const char *name = cond && pn_condition_is_set(cond) ? pn_condition_get_name(cond) : NULL;
    if (!name || strcmp(name, "amqp:not-found") != 0) {
        return;
    }
    char node[256];
    bool named = quoted_name(pn_condition_get_description(cond), node, sizeof(node));
    /* Receivers attached and not yet confirmed by the broker: one of them is refused. The
     * refusal names the queue; without a name, the first one (attaches are handled in order). */
    amqp1_rx_t *blame = NULL;
    int64_t now = brg_now_ns();
    for (size_t i = 0; i < a->nrx && !blame; i++) {
        amqp1_rx_t *rx = &a->rx[i];
        if (rx->link && !(pn_link_state(rx->link) & PN_REMOTE_ACTIVE) && rx->addr.address &&
            (!named || ends_with(rx->addr.address, node))) {
            blame = rx;
        }
    }
    /* The same refusal can arrive twice (session end, then the transport's error). */
    if (blame && blame->attach_after_ns > now) {
        return;
    }
    if (!blame) {
        return;
    }
    char cause[400], why[600];
    brg_amqp1_condition_text(cond, cause, sizeof(cause));
    uint32_t delay = brg_backoff_next(&blame->backoff);
    blame->attach_after_ns = now + (int64_t)delay * 1000000;
    brg_errfmt(why, sizeof(why), "receiving from \"%s\": %s", blame->addr.address, cause);
    brg_log_error(a->log, "route %s: %s (the broker closed the connection over it; attaching "
                          "this receiver again in %u ms, the others at once)",
                  brg_source_route_name(blame->src), why, delay);
    brg_source_set_error(blame->src, why);
}

static void hold(amqp1_rx_t *rx, brg_envelope_t *env)
{
    amqp1_pending_t *p = brg_xmalloc(sizeof(*p));
    p->env = env;
    p->next = NULL;
    if (rx->held_tail) {
        rx->held_tail->next = p;
    } else {
        rx->held_head = p;
    }
    rx->held_tail = p;
    rx->nheld++;
}

static brg_envelope_t *unhold(amqp1_rx_t *rx)
{
    amqp1_pending_t *p = rx->held_head;
    if (!p) {
        return NULL;
    }
    rx->held_head = p->next;
    if (!rx->held_head) {
        rx->held_tail = NULL;
    }
    rx->nheld--;
    brg_envelope_t *env = p->env;
    free(p);
    return env;
}

/* Forget held envelopes whose deliveries died with their link or connection: the broker
 * redelivers them. */
static void drop_held(amqp1_rx_t *rx)
{
    brg_envelope_t *env;
    while ((env = unhold(rx))) {
        brg_envelope_destroy(env);
    }
}

void brg_amqp1_rx_link_closed(brg_amqp1_t *a, amqp1_rx_t *rx, const char *why)
{
    drop_held(rx);
    pn_link_t *l = rx->link;
    /* Deliveries received on this link can no longer be settled: the broker returns them to
     * the queue, and their late settles no longer match the link generation. */
    rx->link = NULL;
    if (pn_link_state(l) & PN_LOCAL_ACTIVE) {
        /* Closing (not detaching) a durable subscription's link deletes the subscription on
         * ActiveMQ and Artemis: detach keeps it for the re-attach. */
        if (rx->durable) {
            pn_link_detach(l);
        } else {
            pn_link_close(l);
        }
    }
    uint32_t delay = brg_backoff_next(&rx->backoff);
    rx->reattach_at_ns = brg_now_ns() + (int64_t)delay * 1000000;
    brg_log_error(a->log, "route %s: receiver for \"%s\" closed by the broker: %s; "
                          "re-attaching in %u ms",
                  brg_source_route_name(rx->src), rx->addr.address, why, delay);
    brg_source_set_error(rx->src, why);
}

void brg_amqp1_rx_reset(brg_amqp1_t *a)
{
    for (size_t i = 0; i < a->nrx; i++) {
        drop_held(&a->rx[i]);
        a->rx[i].link = NULL;
        a->rx[i].reattach_at_ns = 0;
    }
}

/* Read the whole delivery into a->buf. Returns: its length. */
static size_t read_delivery(brg_amqp1_t *a, pn_link_t *l, pn_delivery_t *d)
{
    size_t need = pn_delivery_pending(d), len = 0;
    for (;;) {
        if (a->buf.size < len + need + 1) {
            size_t cap = a->buf.size ? a->buf.size : 4096;
            while (cap < len + need + 1) {
                cap *= 2;
            }
            a->buf.start = brg_xrealloc(a->buf.start, cap);
            a->buf.size = cap;
        }
        ssize_t n = pn_link_recv(l, a->buf.start + len, a->buf.size - len);
        if (n <= 0) {
            break; /* PN_EOS: all read */
        }
        len += (size_t)n;
        need = pn_delivery_pending(d) ? pn_delivery_pending(d) : 4096;
    }
    return len;
}

void brg_amqp1_rx_delivery(brg_amqp1_t *a, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    amqp1_rx_t *rx = brg_amqp1_rx_of_link(a, l);
    if (pn_delivery_aborted(d)) {
        pn_delivery_settle(d); /* the sender gave up on it: nothing to deliver */
        return;
    }
    if (!pn_delivery_readable(d) || pn_delivery_partial(d)) {
        return; /* more frames to come; proton buffers them */
    }
    size_t len = read_delivery(a, l, d);
    pn_link_advance(l);
    if (rx) {
        rx->last_rx_ns = brg_now_ns();
    }
    if (!rx || brg_endpoint_stopping(a->ep)) {
        /* A stale link, or stopping: give it back for another consumer. */
        pn_delivery_update(d, PN_RELEASED);
        pn_delivery_settle(d);
        return;
    }
    brg_backoff_reset(&rx->backoff);
    brg_envelope_t *env = brg_envelope_new();
    char err[512];
    if (brg_amqp1_decode(a->msg, a->buf.start, len, env, err, sizeof(err)) != BRG_OK) {
        /* Nothing sensible can be bridged: refuse it with the reason (a broker with a dead
         * letter queue parks it there) rather than block the queue behind it. */
        brg_log_error(a->log, "route %s: rejecting a message from \"%s\": %s",
                      brg_source_route_name(rx->src), rx->address, err);
        pn_condition_t *c = pn_disposition_condition(pn_delivery_local(d));
        pn_condition_set_name(c, "amqp:decode-error");
        pn_condition_set_description(c, err);
        pn_delivery_update(d, PN_REJECTED);
        pn_delivery_settle(d);
        brg_envelope_destroy(env);
        return;
    }
    brg_props_set(&env->origin.stream, rx->address);
    env->src_token = d;
    env->src_epoch = brg_amqp1_rx_epoch(a, rx);
    if (rx->nheld == 0 && brg_source_credit(rx->src) > 0) {
        brg_source_submit(rx->src, env);
        return;
    }
    /* Beyond the credit we granted. Keep order: hold it behind the others, up to a second
     * max_in_flight; past that the broker is ignoring credit altogether and the message goes
     * back to it, so that memory stays bounded. */
    if (rx->nheld < brg_source_max_in_flight(rx->src)) {
        hold(rx, env);
        return;
    }
    if (rx->released_over_credit++ % 10000 == 0) {
        brg_log_warn(a->log, "route %s: the broker sends beyond the granted link credit; "
                             "releasing the excess (%llu so far)",
                     brg_source_route_name(rx->src),
                     (unsigned long long)rx->released_over_credit);
    }
    pn_delivery_update(d, PN_RELEASED);
    pn_delivery_settle(d);
    brg_envelope_destroy(env);
}

static void settle_one(brg_amqp1_t *a, amqp1_rx_t *rx, pn_delivery_t *d, brg_outcome_t oc)
{
    switch (oc) {
    case BRG_ACCEPTED:
        pn_delivery_update(d, PN_ACCEPTED);
        pn_delivery_settle(d);
        return;
    case BRG_RETRY:
        if (rx->modified_on_retry) {
            /* delivery-failed: the broker counts the attempt (ActiveMQ's redelivery policy). */
            pn_disposition_set_failed(pn_delivery_local(d), true);
            pn_delivery_update(d, PN_MODIFIED);
        } else {
            pn_delivery_update(d, PN_RELEASED);
        }
        pn_delivery_settle(d);
        return;
    case BRG_REJECTED:
        if (rx->reject_on_rejected) {
            char why[256];
            brg_errfmt(why, sizeof(why), "msgbridge route %s could not deliver the message",
                       brg_source_route_name(rx->src));
            pn_condition_t *c = pn_disposition_condition(pn_delivery_local(d));
            pn_condition_set_name(c, "amqp:internal-error");
            pn_condition_set_description(c, why);
            pn_delivery_update(d, PN_REJECTED);
            pn_delivery_settle(d);
        }
        /* Otherwise: left unsettled, the broker keeps the message (the route is stopped). */
        return;
    }
    (void)a;
}

void brg_amqp1_rx_drain_settled(brg_amqp1_t *a)
{
    brg_outcome_t oc;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_settled(a->ep, &oc))) {
        brg_source_t *src = brg_envelope_source(env);
        amqp1_rx_t *rx = src ? brg_source_opaque(src) : NULL;
        /* Only a delivery of the current connection and link may be touched: older ones were
         * freed with their connection and the broker redelivers them anyway. */
        if (a->conn && rx && rx->link && env->src_token &&
            env->src_epoch == brg_amqp1_rx_epoch(a, rx)) {
            settle_one(a, rx, env->src_token, oc);
            /* What waits for credit behind a retried delivery goes back with it, so that the
             * broker hands everything out again in queue order (a parked route's probe would
             * otherwise be a later message). */
            while (oc == BRG_RETRY && rx->nheld) {
                brg_envelope_t *h = unhold(rx);
                if (h->src_token && h->src_epoch == brg_amqp1_rx_epoch(a, rx)) {
                    settle_one(a, rx, h->src_token, BRG_RETRY);
                }
                brg_envelope_destroy(h);
            }
        }
        brg_source_done(env);
    }
}

void brg_amqp1_rx_service(brg_amqp1_t *a, int64_t now)
{
    for (size_t i = 0; i < a->nrx; i++) {
        amqp1_rx_t *rx = &a->rx[i];
        if (!rx->link) {
            if (rx->reattach_at_ns && now >= rx->reattach_at_ns) {
                brg_amqp1_rx_attach(a, rx);
            }
            continue;
        }
        if (!(pn_link_state(rx->link) & PN_REMOTE_ACTIVE)) {
            continue;
        }
        while (rx->nheld && brg_source_credit(rx->src) > 0) {
            brg_source_submit(rx->src, unhold(rx));
        }
        if (rx->draining) {
            if (pn_link_draining(rx->link) && now - rx->drain_started_ns < DRAIN_TIMEOUT_NS) {
                continue; /* no new credit until the broker answered */
            }
            pn_link_drained(rx->link);
            pn_link_set_drain(rx->link, false);
            rx->draining = false;
            rx->last_rx_ns = now;
        }
        /* Credit mirrors what the route lets in: link credit plus what is in flight never
         * exceeds max_in_flight. It is topped up in batches of a quarter of the budget so
         * that a flow frame is not sent per message.
         * A broker that sent beyond the credit (RabbitMQ 3.x does) leaves proton's credit
         * negative, and proton would announce that as a huge unsigned link-credit: the flow
         * always brings it back to exactly `want` (0 at least). */
        int64_t want = rx->nheld ? 0 : (int64_t)brg_source_credit(rx->src);
        int64_t have = pn_link_credit(rx->link);
        if (want > have) {
            int64_t add = want - have;
            int64_t batch = (int64_t)brg_source_max_in_flight(rx->src) / 4;
            if (add >= (batch ? batch : 1) || have <= 0) {
                pn_link_flow(rx->link, add > INT32_MAX ? INT32_MAX : (int)add);
            }
        }
        /* Off: RabbitMQ 3.10 crashes the session on a drain of a classic queue link
         * (function_clause in rabbit_classic_queue:handle_event send_drained), closing the
         * connection every STALL_NS; seen in amqp1_broker_kill.sh. Kept for brokers that
         * need it once an endpoint key selects it. */
        if (AMQP1_DRAIN_QUIET_LINKS && pn_link_credit(rx->link) > 0 &&
            now - rx->last_rx_ns > STALL_NS) {
            rx->draining = true;
            rx->drain_started_ns = now;
            rx->drains++;
            pn_link_drain(rx->link, 0);
            brg_log_debug(a->log, "route %s: draining a quiet link (credit %d)",
                          brg_source_route_name(rx->src), pn_link_credit(rx->link));
        }
    }
}
