/* Publishing: one channel in confirm mode shared by every sink of the endpoint, a window of
 * unconfirmed publishes (a ring indexed by publish sequence number), mandatory publishes whose
 * basic.return marks them unroutable before their confirm arrives. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "adapters/rabbitmq/rmq.h"
#include "adapters/rabbitmq/rmq_codec.h"

/* Known exchanges are cached per connection; a template that renders many names would grow
 * the cache without end, so it is simply emptied when it reaches this size. */
#define RMQ_EXCHANGE_CACHE 256

rmq_rpc_t brg_rmq_sink_open(brg_rmq_t *r, char *errstr, size_t errstr_size)
{
    rmq_rpc_t rr = brg_rmq_channel_open(r, RMQ_CH_PUBLISH, errstr, errstr_size);
    if (rr != RMQ_RPC_OK) {
        return rr;
    }
    amqp_confirm_select(r->conn, RMQ_CH_PUBLISH);
    rr = brg_rmq_rpc_result(r, RMQ_CH_PUBLISH, "confirm.select", NULL, errstr, errstr_size);
    if (rr != RMQ_RPC_OK) {
        return rr;
    }
    /* After confirm.select the broker numbers publishes on the channel from 1. */
    r->pub_open = true;
    r->pub_next_seq = 1;
    r->pub_base = 1;
    r->return_cursor = 1;
    r->inflight = 0;
    brg_rmq_asm_reset(&r->pub_as);
    return RMQ_RPC_OK;
}

brg_err_t brg_rmq_sink_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                size_t errstr_size)
{
    if (!r->conn || r->pub_open) {
        return BRG_OK;
    }
    if (now_ns < r->pub_retry_at_ns) {
        if (r->pub_retry_at_ns < *next_ns) {
            *next_ns = r->pub_retry_at_ns;
        }
        return BRG_OK;
    }
    char err[512];
    rmq_rpc_t rr = brg_rmq_sink_open(r, err, sizeof(err));
    if (rr == RMQ_RPC_CONN_LOST) {
        brg_errfmt(errstr, errstr_size, "%s", err);
        return BRG_ERR_TRANSPORT;
    }
    if (rr == RMQ_RPC_CHANNEL_CLOSED) {
        uint32_t wait = brg_backoff_next(&r->pub_bo);
        brg_log_warn(r->log, "reopening the publish channel failed: %s (retrying in %u ms)", err,
                     wait);
        r->pub_retry_at_ns = now_ns + (int64_t)wait * 1000000;
        if (r->pub_retry_at_ns < *next_ns) {
            *next_ns = r->pub_retry_at_ns;
        }
        return BRG_OK;
    }
    brg_log_info(r->log, "publish channel reopened");
    return BRG_OK;
}

/* ---- settling ----------------------------------------------------------------------------- */

static void slot_free(rmq_pub_t *p)
{
    free(p->returned);
    p->returned = NULL;
    p->env = NULL;
    p->exchange[0] = 0;
    p->routing_key[0] = 0;
}

static void settle_seq(brg_rmq_t *r, uint64_t seq, bool ack)
{
    rmq_pub_t *p = &r->ring[seq % r->ring_cap];
    if (!p->env) {
        return;
    }
    brg_envelope_t *env = p->env;
    if (p->returned) {
        char why[600];
        brg_errfmt(why, sizeof(why), "unroutable: %s (exchange \"%s\", routing key \"%s\")",
                   p->returned, p->exchange, p->routing_key);
        slot_free(p);
        /* NO_ROUTE: no queue is bound for it (yet). The destination's fault, not the message's:
         * the route dead-letters or parks it (on_unroutable). */
        brg_settle_unroutable(env, why);
    } else if (ack) {
        r->confirmed++;
        slot_free(p);
        brg_settle(env, BRG_ACCEPTED, NULL);
        brg_backoff_reset(&r->pub_bo);
    } else {
        /* basic.nack: the broker could not take responsibility (an internal error, or a queue
         * at its length limit with overflow = reject-publish): try again later. */
        r->nacked++;
        char why[600];
        brg_errfmt(why, sizeof(why), "the broker nacked the publish to exchange \"%s\"",
                   p->exchange);
        slot_free(p);
        brg_settle(env, BRG_RETRY, why);
    }
    r->inflight--;
    r->inflight_gauge = r->inflight;
}

static void advance_base(brg_rmq_t *r)
{
    while (r->pub_base < r->pub_next_seq && !r->ring[r->pub_base % r->ring_cap].env) {
        r->pub_base++;
    }
}

static void on_confirm(brg_rmq_t *r, uint64_t tag, bool multiple, bool ack)
{
    if (tag >= r->pub_next_seq) {
        brg_log_warn(r->log, "confirm for unknown publish %llu ignored", (unsigned long long)tag);
        return;
    }
    if (multiple) {
        for (uint64_t seq = r->pub_base; seq <= tag; seq++) {
            settle_seq(r, seq, ack);
        }
    } else if (tag >= r->pub_base) {
        settle_seq(r, tag, ack);
    }
    advance_base(r);
}

void brg_rmq_sink_fail_all(brg_rmq_t *r, const char *reason)
{
    for (uint64_t seq = r->pub_base; seq < r->pub_next_seq; seq++) {
        rmq_pub_t *p = &r->ring[seq % r->ring_cap];
        if (p->env) {
            brg_envelope_t *env = p->env;
            slot_free(p);
            brg_settle(env, BRG_RETRY, reason);
        }
    }
    r->inflight = 0;
    r->inflight_gauge = 0;
    r->pub_base = r->pub_next_seq;
}

/* From the broker's "... access to exchange 'X' in vhost 'V' refused for user 'U'" (403) or
 * "... no exchange 'X' in vhost 'V'" (404): X and V, with the default exchange's "amq.default"
 * read as "" (how publishes name it). Returns: false if the text names no exchange. */
static bool closed_exchange(const char *text, char *ex, size_t exsize, char *vh, size_t vhsize)
{
    const char *a = strstr(text, "exchange '");
    const char *e = a ? strchr(a + 10, '\'') : NULL;
    if (!e) {
        return false;
    }
    a += 10;
    snprintf(ex, exsize, "%.*s", (int)(e - a), a);
    if (strcmp(ex, "amq.default") == 0) {
        ex[0] = 0;
    }
    const char *v = strstr(e, "vhost '");
    const char *ve = v ? strchr(v + 7, '\'') : NULL;
    snprintf(vh, vhsize, "%.*s", ve ? (int)(ve - v - 7) : 0, ve ? v + 7 : "");
    return true;
}

void brg_rmq_sink_channel_failed(brg_rmq_t *r, int code, const char *text, const char *why)
{
    if (code != AMQP_ACCESS_REFUSED && code != AMQP_NOT_FOUND) {
        brg_rmq_sink_fail_all(r, why);
        return;
    }
    /* The broker closed the channel at the first publish it refused and discarded the rest:
     * publishes to that exchange are unroutable (the route parks or dead-letters, as
     * on_unroutable says), the others on the channel only shared its fate and go again
     * (RETRY). If the text names no exchange in the window, the oldest one is the refused. */
    char ex[256] = "", vh[256] = "";
    bool named = closed_exchange(text, ex, sizeof(ex), vh, sizeof(vh));
    bool any = false;
    for (uint64_t seq = r->pub_base; named && !any && seq < r->pub_next_seq; seq++) {
        rmq_pub_t *p = &r->ring[seq % r->ring_cap];
        any = p->env && strcmp(p->exchange, ex) == 0;
    }
    char reason[900];
    bool first = true;
    for (uint64_t seq = r->pub_base; seq < r->pub_next_seq; seq++) {
        rmq_pub_t *p = &r->ring[seq % r->ring_cap];
        if (!p->env) {
            continue;
        }
        brg_envelope_t *env = p->env;
        bool hit = any ? strcmp(p->exchange, ex) == 0 : first;
        first = false;
        if (!hit) {
            slot_free(p);
            brg_settle(env, BRG_RETRY, why);
            continue;
        }
        if (code == AMQP_ACCESS_REFUSED) {
            brg_errfmt(reason, sizeof(reason),
                       "access refused: user \"%s\" may not publish to exchange \"%s\" in vhost "
                       "\"%s\"; grant it write permission on that exchange (rabbitmqctl "
                       "set_permissions -p VHOST USER CONF WRITE READ, WRITE matching the "
                       "exchange; or the topic permission if one is set) (%s)",
                       r->conf->user, p->exchange, vh[0] ? vh : r->conf->vhost, text);
        } else {
            brg_errfmt(reason, sizeof(reason), "unroutable: exchange \"%s\" does not exist (%s)",
                       p->exchange, text);
        }
        slot_free(p);
        brg_settle_unroutable(env, reason);
    }
    r->inflight = 0;
    r->inflight_gauge = 0;
    r->pub_base = r->pub_next_seq;
}

/* ---- basic.return ------------------------------------------------------------------------- */

/* Returns come in publish order, before the confirm of the same publish: the returned
 * message is the first unconfirmed publish after the previous return with the same exchange,
 * routing key and body. (Two identical messages of which only the first was routable would
 * swap outcomes, which changes nothing anyone can observe.) */
static void match_return(brg_rmq_t *r)
{
    rmq_asm_t *a = &r->pub_as;
    uint64_t from = r->return_cursor > r->pub_base ? r->return_cursor : r->pub_base;
    for (uint64_t seq = from; seq < r->pub_next_seq; seq++) {
        rmq_pub_t *p = &r->ring[seq % r->ring_cap];
        if (!p->env || p->returned) {
            continue;
        }
        if (strcmp(p->exchange, a->exchange) != 0 || strcmp(p->routing_key, a->routing_key) != 0 ||
            p->env->body_len != a->body_size) {
            continue;
        }
        if (!a->skip && a->body_size && memcmp(p->env->body, a->body, a->body_size) != 0) {
            continue;
        }
        p->returned = brg_xstrdup(a->reply_text);
        r->return_cursor = seq + 1;
        r->returned++;
        return;
    }
    brg_log_warn(r->log, "basic.return (%s) for no known publish to exchange \"%s\" ignored",
                 a->reply_text, a->exchange);
}

void brg_rmq_sink_on_frame(brg_rmq_t *r, const amqp_frame_t *f)
{
    rmq_asm_t *a = &r->pub_as;
    if (f->frame_type == AMQP_FRAME_METHOD) {
        switch (f->payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const amqp_basic_ack_t *m = f->payload.method.decoded;
            on_confirm(r, m->delivery_tag, m->multiple, true);
            return;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const amqp_basic_nack_t *m = f->payload.method.decoded;
            on_confirm(r, m->delivery_tag, m->multiple, false);
            return;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            const amqp_basic_return_t *m = f->payload.method.decoded;
            brg_rmq_asm_reset(a);
            a->active = true;
            a->reply_text = brg_rmq_bytes_dup(m->reply_text);
            a->exchange = brg_rmq_bytes_dup(m->exchange);
            a->routing_key = brg_rmq_bytes_dup(m->routing_key);
            return;
        }
        default: return;
        }
    }
    if (!a->active) {
        return;
    }
    if (f->frame_type == AMQP_FRAME_HEADER) {
        a->have_header = true;
        a->body_size = f->payload.properties.body_size;
        /* Only needed to tell identical publishes apart: skip what cannot be held. */
        if (a->body_size > 0) {
            a->body = a->body_size <= RMQ_MAX_BODY ? malloc(a->body_size) : NULL;
            a->skip = a->body == NULL;
        }
    } else if (f->frame_type == AMQP_FRAME_BODY && a->have_header) {
        size_t n = f->payload.body_fragment.len;
        if (n > a->body_size - a->body_got) {
            n = a->body_size - a->body_got;
        }
        if (!a->skip && n) {
            memcpy(a->body + a->body_got, f->payload.body_fragment.bytes, n);
        }
        a->body_got += n;
    }
    if (a->have_header && a->body_got == a->body_size) {
        match_return(r);
        brg_rmq_asm_reset(a);
    }
}

/* ---- publish ------------------------------------------------------------------------------ */

static bool exchange_known(brg_rmq_t *r, const char *name)
{
    for (size_t i = 0; i < r->nexchanges; i++) {
        if (strcmp(r->exchanges[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* rabbitmq-c writes each frame of a publish with a send(2) of its own, and with TCP_NODELAY
 * (which it sets) every publish leaves as a segment of its own that the broker then reads
 * apart. Corked, a batch of publishes leaves in as few segments as its bytes need; uncorking
 * sends what is left at once, so a lone message waits for nothing. Anything that waits for a
 * reply (exchange_check's requests) uncorks first: a corked request would sit in the kernel
 * for up to 200 ms. */
static void cork(brg_rmq_t *r, bool on)
{
    int fd = r->conn ? amqp_get_sockfd(r->conn) : -1;
    if (fd >= 0 && on != r->corked) {
        int v = on;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
    }
    r->corked = on && fd >= 0;
}

/* Check that an exchange exists before the first publish to it: publishing to a missing
 * exchange closes the publish channel (and fails every publish in the window); a passive
 * declare on the control channel closes only that one.
 * Returns: 0 exists, 1 refused (errstr has the broker's reply), -1 connection lost. */
static int exchange_check(brg_rmq_t *r, const char *name, char *errstr, size_t errstr_size)
{
    if (name[0] == 0 || exchange_known(r, name)) {
        return 0;
    }
    cork(r, false); /* the requests below wait for their replies */
    if (brg_rmq_control_open(r, errstr, errstr_size) != RMQ_RPC_OK) {
        return -1;
    }
    amqp_exchange_declare(r->conn, RMQ_CH_CONTROL, amqp_cstring_bytes(name),
                          amqp_cstring_bytes("direct"), 1, 0, 0, 0, amqp_empty_table);
    char what[300];
    snprintf(what, sizeof(what), "exchange \"%s\"", name);
    rmq_rpc_t rr = brg_rmq_rpc_result(r, RMQ_CH_CONTROL, what, NULL, errstr, errstr_size);
    if (rr == RMQ_RPC_CONN_LOST) {
        return -1;
    }
    if (rr == RMQ_RPC_CHANNEL_CLOSED) {
        r->ctl_open = false;
        return 1;
    }
    if (r->nexchanges == RMQ_EXCHANGE_CACHE) {
        for (size_t i = 0; i < r->nexchanges; i++) {
            free(r->exchanges[i]);
        }
        r->nexchanges = 0;
    }
    if (!r->exchanges) {
        r->exchanges = brg_xcalloc(RMQ_EXCHANGE_CACHE, sizeof(char *));
    }
    r->exchanges[r->nexchanges++] = brg_xstrdup(name);
    return 0;
}

/* The codec's loss report goes to the route's mapping counters; true in strict mode. */
static bool sink_loss(void *ctx, const char *field)
{
    return brg_sink_mapping_loss(ctx, field);
}

static amqp_bytes_t bytes_n(const void *p, size_t len)
{
    amqp_bytes_t b = {len, len ? (void *)p : NULL};
    return b;
}

/* A name from a sink template: a literal one as it is (the usual case), else rendered for env
 * into scratch (reused memory: no allocation per message). *len says how long it is.
 * Returns: the name, NUL-terminated. */
static const char *sink_name(const brg_template_t *t, const brg_envelope_t *env,
                             brg_buf_t *scratch, size_t *len)
{
    if (!t) {
        *len = 0;
        return "";
    }
    return brg_template_value(t, env, scratch, len);
}

static brg_err_t publish_one(brg_rmq_t *r, brg_sink_t *sink, brg_envelope_t *env, char *errstr,
                             size_t errstr_size)
{
    const rmq_sink_t *rs = brg_sink_opaque(sink);
    size_t elen = 0, klen = 0;
    const char *ex = sink_name(rs->exchange, env, &r->scratch_ex, &elen);
    const char *rk = sink_name(rs->routing_key, env, &r->scratch_rk, &klen);
    char why[600];
    if (elen > 255 || klen > 255) {
        brg_errfmt(why, sizeof(why), "%s longer than 255 bytes: \"%.40s...\"",
                   elen > 255 ? "exchange name" : "routing key", elen > 255 ? ex : rk);
        goto reject;
    }
    int chk = exchange_check(r, ex, why, sizeof(why));
    if (chk < 0) {
        brg_errfmt(errstr, errstr_size, "%s", why);
        brg_settle(env, BRG_RETRY, why);
        return BRG_ERR_TRANSPORT;
    }
    if (chk > 0) {
        /* 404 NOT_FOUND or 403 ACCESS_REFUSED on the exchange: the route parks or dead-letters
         * (on_unroutable) and the exchange is checked again at the next try. */
        brg_settle_unroutable(env, why);
        return BRG_OK;
    }
    recycle_amqp_pool(&r->pool);
    amqp_basic_properties_t props;
    size_t wire = 0;
    if (brg_rmq_envelope_to_props_checked(env, r->conf->user, &r->pool, &props, &wire, sink_loss,
                                          sink, why, sizeof(why)) != BRG_OK) {
        goto reject;
    }
    /* The content header must fit in one frame (7 bytes of frame header, 1 of frame end);
     * rabbitmq-c would otherwise fail after sending the method frame, breaking the channel. */
    size_t frame_max = (size_t)amqp_get_frame_max(r->conn);
    if (wire + 8 > frame_max) {
        brg_errfmt(why, sizeof(why),
                   "properties and headers take %zu bytes, more than the frame size %zu", wire,
                   frame_max);
        goto reject;
    }
    uint64_t seq = r->pub_next_seq++;
    rmq_pub_t *p = &r->ring[seq % r->ring_cap];
    p->env = env;
    memcpy(p->exchange, ex, elen + 1);
    memcpy(p->routing_key, rk, klen + 1);
    r->inflight++;
    r->inflight_gauge = r->inflight;
    r->published++;
    int rc = amqp_basic_publish(r->conn, RMQ_CH_PUBLISH, bytes_n(ex, elen), bytes_n(rk, klen),
                                rs->mandatory, 0, &props, bytes_n(env->body, env->body_len));
    if (rc != AMQP_STATUS_OK) {
        /* The slot stays: brg_rmq_disconnect settles it RETRY with the others. */
        brg_errfmt(errstr, errstr_size, "publish: %s", amqp_error_string2(rc));
        return BRG_ERR_TRANSPORT;
    }
    return BRG_OK;

reject:
    brg_settle(env, BRG_REJECTED, why);
    return BRG_OK;
}

brg_err_t brg_rmq_sink_publish(brg_rmq_t *r, bool *did, char *errstr, size_t errstr_size)
{
    brg_err_t rc = BRG_OK;
    size_t n = 0;
    /* While blocked by a resource alarm the broker stops reading: a publish would block this
     * thread in send(2), so envelopes wait in the mailbox (bounded by route credit). */
    while (r->conn && r->pub_open && !r->blocked && r->pub_next_seq - r->pub_base < r->ring_cap) {
        brg_sink_t *sink = NULL;
        brg_envelope_t *env = brg_endpoint_take_publish(r->ep, &sink);
        if (!env) {
            break;
        }
        *did = true;
        if (++n >= 2 && !r->corked) {
            cork(r, true); /* from the second: one message alone is not worth two system calls */
        }
        rc = publish_one(r, sink, env, errstr, errstr_size);
        if (rc != BRG_OK) {
            break;
        }
    }
    cork(r, false);
    return rc;
}
