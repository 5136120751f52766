/* amqp1 sinks: one sender link per distinct address (the `to.address` template rendered per
 * message), messages sent unsettled, and each envelope settled from the broker's disposition:
 * accepted -> ACCEPTED; released / modified -> RETRY; rejected -> REJECTED with the broker's
 * error condition. Envelopes wait in a per-link FIFO for credit, so order per address holds. */
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/terminus.h>

#include "adapters/amqp1/amqp1_codec.h"
#include "adapters/amqp1/amqp1_int.h"

amqp1_tx_t *brg_amqp1_tx_of_link(brg_amqp1_t *a, pn_link_t *l)
{
    for (amqp1_tx_t *tx = a->tx; tx; tx = tx->next) {
        if (tx->link == l) {
            return tx;
        }
    }
    return NULL;
}

static void tx_attach(brg_amqp1_t *a, amqp1_tx_t *tx)
{
    char name[512];
    brg_amqp1_link_name(a, "to", tx->name, name, sizeof(name));
    pn_link_t *l = pn_sender(a->ssn, name);
    pn_terminus_set_address(pn_link_target(l), tx->addr.address);
    if (tx->addr.capability) {
        pn_data_t *caps = pn_terminus_capabilities(pn_link_target(l));
        pn_data_put_array(caps, false, PN_SYMBOL);
        pn_data_enter(caps);
        pn_data_put_symbol(caps, pn_bytes(strlen(tx->addr.capability), tx->addr.capability));
        pn_data_exit(caps);
    }
    /* Unsettled sends: the broker's disposition is the publish confirm. */
    pn_link_set_snd_settle_mode(l, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(l, PN_RCV_FIRST);
    pn_link_open(l);
    tx->link = l;
    tx->reattach_at_ns = 0;
}

static void push(amqp1_tx_t *tx, brg_envelope_t *env)
{
    brg_envq_push(&tx->queue, env);
}

static brg_envelope_t *pop(amqp1_tx_t *tx)
{
    return brg_envq_pop(&tx->queue);
}

/* Send what the link's credit allows. */
static void pump(brg_amqp1_t *a, amqp1_tx_t *tx)
{
    while (tx->link && tx->queue.head && pn_link_credit(tx->link) > 0) {
        brg_envelope_t *env = pop(tx);
        brg_amqp1_encode_opts_t o = {tx->addr.address, tx->addr.jms_dest};
        char err[512];
        if (brg_amqp1_encode(a->msg, env, &o, err, sizeof(err)) != BRG_OK) {
            brg_settle(env, BRG_REJECTED, err);
            continue;
        }
        ssize_t n = pn_message_encode2(a->msg, &a->buf);
        if (n < 0) {
            const char *why = pn_error_text(pn_message_error(a->msg));
            brg_errfmt(err, sizeof(err), "cannot encode the AMQP 1.0 message: %s",
                       why ? why : pn_code((int)n));
            brg_settle(env, BRG_REJECTED, err);
            continue;
        }
        uint64_t tag = ++a->tag;
        pn_delivery_t *d = pn_delivery(tx->link, pn_dtag((const char *)&tag, sizeof(tag)));
        pn_delivery_set_context(d, env);
        pn_link_send(tx->link, a->buf.start, (size_t)n);
        pn_link_advance(tx->link);
        tx->unsettled++;
    }
}

static void tx_free(amqp1_tx_t *tx)
{
    brg_amqp1_addr_fini(&tx->addr);
    free(tx->name);
    free(tx);
}

/* Route one envelope to the sender link of its rendered address. */
static void route_one(brg_amqp1_t *a, brg_envelope_t *env, brg_sink_t *sink)
{
    const brg_template_t *t = brg_sink_template(sink, "address");
    size_t len = 0;
    /* A literal address is used in place, a templated one rendered into reused memory: no
     * allocation per message. */
    const char *name = t ? brg_template_value(t, env, &a->scratch_address, &len) : NULL;
    char err[600];
    if (!name || len == 0 || memchr(name, 0, len)) {
        brg_errfmt(err, sizeof(err), "address template \"%s\" rendered an empty or binary address",
                   t ? brg_template_text(t) : "");
        brg_settle(env, BRG_REJECTED, err);
        return;
    }
    amqp1_tx_t *tx = a->tx, *prev = NULL;
    while (tx && strcmp(tx->name, name) != 0) {
        prev = tx;
        tx = tx->next;
    }
    if (tx && prev) {
        /* Move to front: the common case is one or a few hot addresses. */
        prev->next = tx->next;
        tx->next = a->tx;
        a->tx = tx;
    }
    if (!tx) {
        tx = brg_xcalloc(1, sizeof(*tx));
        char rerr[512];
        if (brg_amqp1_address_resolve(a->family, name, &tx->addr, rerr, sizeof(rerr)) != BRG_OK) {
            brg_errfmt(err, sizeof(err), "route %s: %s", brg_sink_route_name(sink), rerr);
            tx_free(tx);
            brg_settle(env, BRG_REJECTED, err);
            return;
        }
        tx->name = brg_xstrdup(name); /* once per address */
        /* A refused target is retried after 1 s, growing to 30 s; its messages wait. */
        brg_backoff_init(&tx->backoff, 1000, 30000);
        tx->next = a->tx;
        a->tx = tx;
        tx_attach(a, tx);
        brg_log_debug(a->log, "route %s: sending to \"%s\"", brg_sink_route_name(sink),
                      tx->addr.address);
    }
    push(tx, env);
}

void brg_amqp1_tx_service(brg_amqp1_t *a, int64_t now)
{
    brg_sink_t *sink;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_publish(a->ep, &sink))) {
        route_one(a, env, sink);
    }
    for (amqp1_tx_t *tx = a->tx; tx; tx = tx->next) {
        if (!tx->link && tx->reattach_at_ns && now >= tx->reattach_at_ns) {
            tx_attach(a, tx);
        }
        pump(a, tx);
    }
}

void brg_amqp1_tx_flow(brg_amqp1_t *a, pn_link_t *l)
{
    amqp1_tx_t *tx = brg_amqp1_tx_of_link(a, l);
    if (tx) {
        pump(a, tx);
    }
}

void brg_amqp1_tx_delivery(brg_amqp1_t *a, pn_delivery_t *d)
{
    uint64_t state = pn_delivery_remote_state(d);
    bool terminal = state == PN_ACCEPTED || state == PN_REJECTED || state == PN_RELEASED ||
                    state == PN_MODIFIED;
    if (!terminal && !pn_delivery_settled(d)) {
        return; /* nothing yet, or a non-terminal state (received) */
    }
    brg_envelope_t *env = pn_delivery_get_context(d);
    amqp1_tx_t *tx = brg_amqp1_tx_of_link(a, pn_delivery_link(d));
    pn_delivery_set_context(d, NULL);
    pn_delivery_settle(d);
    if (!env) {
        return;
    }
    if (tx && tx->unsettled) {
        tx->unsettled--;
    }
    char why[600], cond[512];
    const char *addr = tx ? tx->addr.address : "?";
    switch (state) {
    case PN_ACCEPTED:
        if (tx) {
            brg_backoff_reset(&tx->backoff);
        }
        brg_settle(env, BRG_ACCEPTED, NULL);
        return;
    case PN_REJECTED:
        if (!brg_amqp1_condition_text(pn_disposition_condition(pn_delivery_remote(d)), cond,
                                      sizeof(cond))) {
            brg_errfmt(cond, sizeof(cond), "no reason given");
        }
        brg_errfmt(why, sizeof(why), "rejected by the broker at \"%s\": %s", addr, cond);
        brg_settle(env, BRG_REJECTED, why);
        return;
    case PN_MODIFIED:
        brg_errfmt(why, sizeof(why), "modified by the broker at \"%s\"%s", addr,
                   pn_disposition_is_undeliverable(pn_delivery_remote(d))
                       ? " (undeliverable here)"
                       : "");
        brg_settle(env, BRG_RETRY, why);
        return;
    case PN_RELEASED:
        brg_errfmt(why, sizeof(why), "released by the broker at \"%s\"", addr);
        brg_settle(env, BRG_RETRY, why);
        return;
    default:
        /* Settled without an outcome: the message may or may not have arrived. */
        brg_errfmt(why, sizeof(why), "settled by the broker at \"%s\" without an outcome", addr);
        brg_settle(env, BRG_RETRY, why);
        return;
    }
}

/* Settle every unsettled delivery of a link: RETRY, or unroutable (the address is missing or
 * refused: the route parks or dead-letters). */
static void settle_unsettled(amqp1_tx_t *tx, const char *reason, bool unroutable)
{
    if (!tx->link) {
        return;
    }
    pn_delivery_t *d = pn_unsettled_head(tx->link);
    while (d) {
        pn_delivery_t *next = pn_unsettled_next(d);
        brg_envelope_t *env = pn_delivery_get_context(d);
        if (env) {
            pn_delivery_set_context(d, NULL);
            if (unroutable) {
                brg_settle_unroutable(env, reason);
            } else {
                brg_settle(env, BRG_RETRY, reason);
            }
        }
        pn_delivery_settle(d);
        d = next;
    }
    tx->unsettled = 0;
}

void brg_amqp1_tx_link_closed(brg_amqp1_t *a, amqp1_tx_t *tx, const char *why)
{
    char reason[600];
    brg_errfmt(reason, sizeof(reason), "sender for \"%s\" closed by the broker: %s",
               tx->addr.address, why);
    /* The address does not exist or this user may not send there: the destination's fault.
     * What is queued for the link goes back too, so the route parks (or dead-letters) it all
     * and a probe finds out when the address is back. */
    bool unroutable = strncmp(why, "amqp:not-found", 14) == 0 ||
                      strncmp(why, "amqp:unauthorized-access", 24) == 0;
    settle_unsettled(tx, reason, unroutable);
    if (unroutable) {
        brg_envelope_t *env;
        while ((env = pop(tx))) {
            brg_settle_unroutable(env, reason);
        }
    }
    if (pn_link_state(tx->link) & PN_LOCAL_ACTIVE) {
        pn_link_close(tx->link);
    }
    tx->link = NULL;
    uint32_t delay = brg_backoff_next(&tx->backoff);
    tx->reattach_at_ns = brg_now_ns() + (int64_t)delay * 1000000;
    /* Waiting messages stay queued for the new link, in order. */
    brg_log_error(a->log, "%s; re-attaching in %u ms (%zu messages waiting)", reason, delay,
                  tx->queue.len);
}

void brg_amqp1_tx_reset(brg_amqp1_t *a, const char *reason)
{
    char why[600];
    brg_errfmt(why, sizeof(why), "AMQP 1.0 connection lost: %s", reason);
    /* RabbitMQ 3.10 closes the whole connection, not the link, when a sender attaches to a
     * missing exchange or queue (amqp:not-found) or one it may not write to: the senders whose
     * attach the broker never answered are the cause, and their messages are unroutable. */
    bool refused = strncmp(reason, "amqp:not-found", 14) == 0 ||
                   strncmp(reason, "amqp:unauthorized-access", 24) == 0;
    amqp1_tx_t *tx = a->tx;
    while (tx) {
        amqp1_tx_t *next = tx->next;
        bool unroutable = refused && tx->link && !(pn_link_state(tx->link) & PN_REMOTE_ACTIVE);
        char why2[700];
        if (unroutable) {
            brg_errfmt(why2, sizeof(why2), "sender for \"%s\" refused by the broker: %s",
                       tx->addr.address, reason);
        }
        settle_unsettled(tx, unroutable ? why2 : why, unroutable);
        brg_envelope_t *env;
        while ((env = pop(tx))) {
            if (unroutable) {
                brg_settle_unroutable(env, why2);
            } else {
                brg_settle(env, BRG_RETRY, why);
            }
        }
        tx_free(tx);
        tx = next;
    }
    a->tx = NULL;
}
