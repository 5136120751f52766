/* stomp sources: one SUBSCRIBE per route's `from`, ack:client-individual, a prefetch equal to
 * the route's max_in_flight; ACK after ACCEPTED; RETRY resubscribes after a backoff so that the
 * broker redelivers (ActiveMQ Classic does not redeliver a NACKed message on the same
 * subscription, see docs/activemq.md); REJECTED NACKs when on_reject = "reject". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/stomp/stomp_codec.h"
#include "adapters/stomp/stomp_int.h"

/* The subscription id of x now: "s<index>-<gen>". */
static void sub_id(const stomp_src_t *x, char *buf, size_t size)
{
    snprintf(buf, size, "s%zu-%" PRIu32, x->index, x->sub_gen);
}

static uint64_t epoch_of(const brg_stomp_t *s, const stomp_src_t *x)
{
    return ((uint64_t)s->conn_gen << 32) | x->sub_gen;
}

static void subscribe(brg_stomp_t *s, stomp_src_t *x)
{
    char id[64], prefetch[32];
    x->sub_gen++;
    sub_id(x, id, sizeof(id));
    size_t credit = brg_source_max_in_flight(x->src);
    snprintf(prefetch, sizeof(prefetch), "%zu", credit ? credit : 1);
    brg_stomp_enc_begin(&s->out, "SUBSCRIBE");
    brg_stomp_enc_hdr(&s->out, "id", id);
    brg_stomp_enc_hdr(&s->out, "destination", x->destination);
    brg_stomp_enc_hdr(&s->out, "ack", "client-individual");
    /* ActiveMQ Classic's prefetch; RabbitMQ's is prefetch-count. */
    brg_stomp_enc_hdr(&s->out, "activemq.prefetchSize", prefetch);
    brg_stomp_enc_hdr(&s->out, "prefetch-count", prefetch);
    if (x->durable) {
        brg_stomp_enc_hdr(&s->out, "activemq.subscriptionName", x->sub_name);
    }
    /* The broker's RECEIPT tells that the subscription is in place (logged). */
    char receipt[64];
    snprintf(receipt, sizeof(receipt), "sub-%zu-%" PRIu32, x->index, x->sub_gen);
    brg_stomp_enc_hdr(&s->out, "receipt", receipt);
    brg_stomp_buf_append(&s->out, "\n", 1);
    brg_stomp_buf_append(&s->out, "", 1);
    x->subscribed = true;
    x->resub_at_ns = 0;
}

void stomp_src_subscribe_all(brg_stomp_t *s)
{
    for (size_t i = 0; i < s->nsrcs; i++) {
        subscribe(s, &s->srcs[i]);
    }
}

void stomp_src_drop(brg_envelope_t *env)
{
    free(env->src_token);
    env->src_token = NULL;
    brg_envelope_destroy(env);
}

static void held_clear(stomp_src_t *x)
{
    while (x->held_head) {
        stomp_pending_t *p = x->held_head;
        x->held_head = p->next;
        stomp_src_drop(p->env);
        free(p);
    }
    x->held_tail = NULL;
}

void stomp_src_message(brg_stomp_t *s, brg_stomp_frame_t *f)
{
    const char *sid = brg_stomp_get(f, "subscription", NULL);
    const char *ack = brg_stomp_get(f, "ack", NULL);
    stomp_src_t *x = NULL;
    char id[64];
    for (size_t i = 0; sid && i < s->nsrcs; i++) {
        sub_id(&s->srcs[i], id, sizeof(id));
        if (s->srcs[i].subscribed && strcmp(id, sid) == 0) {
            x = &s->srcs[i];
            break;
        }
    }
    if (!x) {
        /* For a subscription we have left (a resubscribe after RETRY): the broker gives the
         * message to the new one. */
        return;
    }
    if (!ack) {
        brg_log_warn(s->log, "a MESSAGE on %s without an ack header (the broker ignored "
                     "ack:client-individual?): it cannot be acknowledged", x->destination);
    }
    brg_envelope_t *env = brg_envelope_new();
    char err[256];
    if (brg_stomp_decode(f, env, brg_wall_ms(), err, sizeof(err)) != BRG_OK) {
        brg_envelope_set_reject_reason(env, err);
    }
    env->src_token = ack ? brg_xstrdup(ack) : NULL;
    env->src_epoch = epoch_of(s, x);
    env->origin.received_ns = brg_now_ns();
    if (!env->origin.stream) {
        brg_props_set(&env->origin.stream, x->destination);
    }
    if (!x->held_head && brg_source_credit(x->src) > 0) {
        brg_source_submit(x->src, env);
        return;
    }
    stomp_pending_t *p = brg_xcalloc(1, sizeof(*p));
    p->env = env;
    if (x->held_tail) {
        x->held_tail->next = p;
    } else {
        x->held_head = p;
    }
    x->held_tail = p;
}

static void send_ack(brg_stomp_t *s, const char *cmd, const char *ack, bool no_requeue)
{
    brg_stomp_enc_begin(&s->out, cmd);
    brg_stomp_enc_hdr(&s->out, "id", ack);
    if (no_requeue) {
        /* RabbitMQ: dead-letter instead of requeueing. */
        brg_stomp_enc_hdr(&s->out, "requeue", "false");
    }
    brg_stomp_buf_append(&s->out, "\n", 1);
    brg_stomp_buf_append(&s->out, "", 1);
}

void stomp_src_service(brg_stomp_t *s, int64_t now_ns, int64_t *next_ns)
{
    brg_outcome_t outcome;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_settled(s->ep, &outcome)) != NULL) {
        brg_source_t *src = brg_envelope_source(env);
        stomp_src_t *x = src ? brg_source_opaque(src) : NULL;
        /* From an earlier connection or subscription: the broker redelivers it anyway. */
        bool current = x && s->fd >= 0 && x->subscribed && env->src_epoch == epoch_of(s, x);
        if (current && env->src_token) {
            if (outcome == BRG_ACCEPTED) {
                send_ack(s, "ACK", env->src_token, false);
            } else if (outcome == BRG_REJECTED && x->reject) {
                send_ack(s, "NACK", env->src_token, true);
            } else if (outcome == BRG_RETRY && x->resub_at_ns == 0) {
                const char *why = brg_envelope_settle_reason(env);
                uint32_t wait = brg_backoff_next(&x->retry_bo);
                brg_log_info(s->log, "%s: redelivery in %u ms (%s)", x->destination, wait,
                             why ? why : "retry");
                x->resub_at_ns = now_ns + (int64_t)wait * 1000000;
            }
            /* REJECTED without on_reject: the route has stopped; the message stays unacked
             * and comes back on the next connection. */
            if (outcome == BRG_ACCEPTED && x->resub_at_ns == 0) {
                brg_backoff_reset(&x->retry_bo);
            }
        }
        free(env->src_token);
        env->src_token = NULL;
        brg_source_done(env);
    }
    for (size_t i = 0; i < s->nsrcs; i++) {
        stomp_src_t *x = &s->srcs[i];
        if (s->fd < 0) {
            continue;
        }
        if (x->resub_at_ns && now_ns >= x->resub_at_ns) {
            /* UNSUBSCRIBE without activemq.subscriptionName keeps a durable subscription:
             * the unacknowledged messages go back to it and come to the new id. */
            char id[64];
            sub_id(x, id, sizeof(id));
            brg_stomp_enc_begin(&s->out, "UNSUBSCRIBE");
            brg_stomp_enc_hdr(&s->out, "id", id);
            brg_stomp_buf_append(&s->out, "\n", 1);
            brg_stomp_buf_append(&s->out, "", 1);
            held_clear(x);
            subscribe(s, x);
        } else if (x->resub_at_ns && x->resub_at_ns < *next_ns) {
            *next_ns = x->resub_at_ns;
        }
        while (x->held_head && brg_source_credit(x->src) > 0) {
            stomp_pending_t *p = x->held_head;
            x->held_head = p->next;
            if (!x->held_head) {
                x->held_tail = NULL;
            }
            brg_source_submit(x->src, p->env);
            free(p);
        }
        if (x->held_head && now_ns + 20000000 < *next_ns) {
            *next_ns = now_ns + 20000000; /* credit returns with settles: look again soon */
        }
    }
}

void stomp_src_reset(brg_stomp_t *s)
{
    for (size_t i = 0; i < s->nsrcs; i++) {
        stomp_src_t *x = &s->srcs[i];
        held_clear(x);
        x->subscribed = false;
        x->resub_at_ns = 0;
    }
}
