/* stomp sinks: SEND with a receipt header, up to receipt_window SENDs outstanding; a RECEIPT
 * settles ACCEPTED (in order: a broker answers a connection's frames in order), an ERROR that
 * names one of our receipts settles it REJECTED with the broker's text (the connection then
 * closes: the others settle RETRY and the endpoint reconnects). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/stomp/stomp_codec.h"
#include "adapters/stomp/stomp_int.h"

/* Do not buffer more than this much unwritten output before taking more to send. */
#define OUT_HIGH_WATER (4u * 1024 * 1024)

static bool loss(void *ctx, const char *field)
{
    return brg_sink_mapping_loss(ctx, field);
}

static void push_sent(brg_stomp_t *s, brg_envelope_t *env, uint64_t receipt)
{
    stomp_pending_t *p = brg_xcalloc(1, sizeof(*p));
    p->env = env;
    p->receipt = receipt;
    if (s->sent_tail) {
        s->sent_tail->next = p;
    } else {
        s->sent_head = p;
    }
    s->sent_tail = p;
    s->nsent++;
}

void stomp_sink_service(brg_stomp_t *s)
{
    while (s->fd >= 0 && s->nsent < s->conf->receipt_window && s->out.len < OUT_HIGH_WATER) {
        brg_sink_t *sink;
        brg_envelope_t *env = brg_endpoint_take_publish(s->ep, &sink);
        if (!env) {
            return;
        }
        const brg_template_t *t = brg_sink_template(sink, "destination");
        size_t dl = 0;
        /* A literal destination is used in place, a templated one rendered into reused
         * memory: no allocation per message. */
        const char *dest = t ? brg_template_value(t, env, &s->scratch_destination, &dl) : NULL;
        char err[512];
        if (!dest || dl == 0 || strlen(dest) != dl) {
            brg_errfmt(err, sizeof(err), "destination template \"%s\" rendered an empty or "
                       "binary destination", t ? brg_template_text(t) : "");
            brg_settle(env, BRG_REJECTED, err);
            continue;
        }
        char receipt[32];
        uint64_t r = ++s->next_receipt;
        snprintf(receipt, sizeof(receipt), "%" PRIu64, r);
        brg_stomp_encode_opts_t o = {
            .destination = dest,
            .receipt = receipt,
            .persistent = brg_conf_bool(brg_sink_conf(sink), "persistent", true),
            .now_ms = brg_wall_ms(),
            .loss = loss,
            .loss_ctx = sink,
        };
        size_t before = s->out.len;
        brg_err_t rc = brg_stomp_encode(&s->out, env, &o, err, sizeof(err));
        if (rc != BRG_OK) {
            brg_settle(env, BRG_REJECTED, err);
            continue;
        }
        size_t frame_len = s->out.len - before;
        if (frame_len > s->conf->max_frame) {
            /* Our own limit doubles as the broker's usual one: a frame this large is refused
             * by the broker with an ERROR that closes the connection, over and over. */
            s->out.len = before;
            brg_errfmt(err, sizeof(err), "the SEND frame would be %zu bytes, more than "
                       "max_frame_size %zu", frame_len, s->conf->max_frame);
            brg_settle(env, BRG_REJECTED, err);
            continue;
        }
        push_sent(s, env, r);
    }
}

void stomp_sink_receipt(brg_stomp_t *s, const brg_stomp_frame_t *f)
{
    const char *id = brg_stomp_get(f, "receipt-id", NULL);
    if (!id) {
        return;
    }
    if (strncmp(id, "sub-", 4) == 0) {
        /* The receipt of a SUBSCRIBE (stomp_source.c): "sub-INDEX-GEN". */
        size_t i = strtoul(id + 4, NULL, 10);
        if (i < s->nsrcs) {
            stomp_src_t *x = &s->srcs[i];
            if (x->durable) {
                brg_log_info(s->log, "subscribed to %s (durable subscription \"%s\" of client "
                             "id \"%s\")", x->destination, x->sub_name, s->client_id);
            } else {
                brg_log_info(s->log, "subscribed to %s", x->destination);
            }
        }
        return;
    }
    uint64_t r = strtoull(id, NULL, 10);
    /* Receipts come in order; a gap would mean the broker skipped one: settle through it. */
    while (s->sent_head && s->sent_head->receipt <= r) {
        stomp_pending_t *p = s->sent_head;
        s->sent_head = p->next;
        if (!s->sent_head) {
            s->sent_tail = NULL;
        }
        s->nsent--;
        brg_settle(p->env, BRG_ACCEPTED, NULL);
        free(p);
    }
}

bool stomp_sink_error(brg_stomp_t *s, const brg_stomp_frame_t *f, const char *text)
{
    const char *id = brg_stomp_get(f, "receipt-id", NULL);
    uint64_t r;
    if (id) {
        r = strtoull(id, NULL, 10);
    } else if (s->sent_head && strstr(text, "maximum frame size")) {
        /* ActiveMQ Classic refuses a frame larger than its connector's
         * wireFormat.maxFrameSize while reading it, before it knows the receipt: the ERROR has
         * no receipt-id. The broker reads and answers frames in order, so the receipts of the
         * frames before it came first: the offender is the oldest SEND without a receipt.
         * Without this it would come back after each reconnect, for ever. */
        r = s->sent_head->receipt;
    } else {
        return false;
    }
    stomp_pending_t **pp = &s->sent_head, *prev = NULL;
    while (*pp && (*pp)->receipt != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) {
        return false;
    }
    stomp_pending_t *p = *pp;
    *pp = p->next;
    if (s->sent_tail == p) {
        s->sent_tail = prev;
    }
    s->nsent--;
    char why[600];
    snprintf(why, sizeof(why), "the broker refused the message: %s", text);
    brg_settle(p->env, BRG_REJECTED, why);
    free(p);
    return true;
}

void stomp_sink_reset(brg_stomp_t *s, const char *reason)
{
    while (s->sent_head) {
        stomp_pending_t *p = s->sent_head;
        s->sent_head = p->next;
        brg_settle(p->env, BRG_RETRY, reason);
        free(p);
    }
    s->sent_tail = NULL;
    s->nsent = 0;
}
