/* Consuming: one channel per source with manual acks and basic.qos prefetch = the route's
 * max_in_flight; deliveries assembled from their frames into envelopes; outcomes turned into
 * basic.ack / basic.nack in delivery-tag order, `multiple` over each contiguous run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/rabbitmq/rmq.h"
#include "adapters/rabbitmq/rmq_codec.h"
#include "adapters/rabbitmq/rmq_dlx.h"

/* queue_arguments = { x-dead-letter-exchange = "dlx"; x-max-length = 100000; ... }: strings
 * as long strings, integers as longs (RabbitMQ accepts any integer width), booleans, floats.
 * The load checks have refused lists and groups. Ownership: the table is the source's. */
static amqp_table_t queue_arguments(const brg_conf_node_t *g)
{
    amqp_table_t t = {0, NULL};
    if (!g || g->type != BRG_CONF_GROUP || g->nkids == 0) {
        return t;
    }
    t.entries = brg_xcalloc(g->nkids, sizeof(*t.entries));
    for (size_t i = 0; i < g->nkids; i++) {
        const brg_conf_node_t *k = g->kids[i];
        amqp_table_entry_t *e = &t.entries[t.num_entries];
        switch (k->type) {
        case BRG_CONF_STRING:
            e->value.kind = AMQP_FIELD_KIND_UTF8;
            e->value.value.bytes = amqp_bytes_malloc_dup(amqp_cstring_bytes(k->v.s));
            break;
        case BRG_CONF_INT:
            e->value.kind = AMQP_FIELD_KIND_I64;
            e->value.value.i64 = k->v.i;
            break;
        case BRG_CONF_BOOL:
            e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
            e->value.value.boolean = k->v.b;
            break;
        case BRG_CONF_FLOAT:
            e->value.kind = AMQP_FIELD_KIND_F64;
            e->value.value.f64 = k->v.f;
            break;
        default: continue;
        }
        e->key = amqp_bytes_malloc_dup(amqp_cstring_bytes(k->name));
        t.num_entries++;
    }
    return t;
}

static void queue_arguments_free(amqp_table_t *t)
{
    for (int i = 0; i < t->num_entries; i++) {
        amqp_bytes_free(t->entries[i].key);
        if (t->entries[i].value.kind == AMQP_FIELD_KIND_UTF8) {
            amqp_bytes_free(t->entries[i].value.value.bytes);
        }
    }
    free(t->entries);
    t->entries = NULL;
    t->num_entries = 0;
}

void brg_rmq_source_init(brg_rmq_t *r, rmq_src_t *s, brg_source_t *src, amqp_channel_t ch)
{
    memset(s, 0, sizeof(*s));
    s->src = src;
    s->r = r;
    s->ch = ch;
    const brg_conf_node_t *cs = brg_source_conf(src);
    const char *queue = brg_conf_str(cs, "queue", NULL);
    s->exchange = brg_conf_str(cs, "exchange", NULL);
    s->binding_key = brg_conf_str(cs, "binding_key", "#");
    if (queue) {
        s->queue = brg_xstrdup(queue);
    } else {
        /* A stable name, so that messages wait in the same durable queue across restarts. */
        const char *bid = brg_endpoint_bridge_id(r->ep);
        char name[256];
        snprintf(name, sizeof(name), "msgbridge.%s.%s", bid && bid[0] ? bid : "bridge",
                 brg_source_route_name(src));
        s->queue = brg_xstrdup(name);
    }
    s->qargs = queue_arguments(brg_conf_get(cs, "queue_arguments"));
    s->reject_mode = strcmp(brg_conf_str(cs, "on_reject", "keep"), "reject") == 0;
    s->check_dlx = brg_conf_bool(cs, "check_dead_letter_exchange", true);
    /* Unchecked, the operator's word is taken from the start; checked, only once the queue
     * is known to dead-letter (no delivery arrives before the first subscribe). */
    s->broker_dlx = s->reject_mode && !s->check_dlx;
    brg_source_set_broker_dead_letter(src, s->broker_dlx);
    size_t mif = brg_source_max_in_flight(src);
    /* basic.qos prefetch-count is 16 bits; 0 would mean unlimited. */
    s->prefetch = (uint16_t)(mif == 0 ? 1 : mif > 65535 ? 65535 : mif);
    brg_backoff_init(&s->bo, 500, 30000);
    /* First requeue at once, then 100 ms growing to 5 s while nothing is accepted. */
    brg_backoff_init(&s->retry_bo, 100, 5000);
    brg_source_set_opaque(src, s);
}

void brg_rmq_source_drop_waiting(rmq_src_t *s)
{
    /* Not submitted yet, so no delivery is attached: plain destroy. Unacknowledged, the broker
     * redelivers them. */
    while (s->wait_len) {
        brg_envelope_destroy(s->wait[s->wait_head]);
        s->wait_head = (s->wait_head + 1) % s->wait_cap;
        s->wait_len--;
    }
    s->wait_head = 0;
}

void brg_rmq_source_fini(rmq_src_t *s)
{
    brg_rmq_source_drop_waiting(s);
    brg_rmq_asm_reset(&s->as);
    queue_arguments_free(&s->qargs);
    free(s->wait);
    free(s->out);
    free(s->queue);
    free(s->error);
    memset(s, 0, sizeof(*s));
}

rmq_src_t *brg_rmq_source_by_channel(brg_rmq_t *r, amqp_channel_t ch)
{
    /* A few sources per connection: a scan. Frames of a channel closed for a removed source
     * find none and are dropped. */
    for (size_t i = 0; i < r->nsrcs; i++) {
        if (r->srcs[i]->ch == ch) {
            return r->srcs[i];
        }
    }
    return NULL;
}

static void forget_channel(rmq_src_t *s)
{
    s->ch_open = false;
    s->consuming = false;
    brg_rmq_asm_reset(&s->as);
    /* The broker requeues every unacknowledged delivery of a closed channel; settles that
     * come back for them carry the old generation and are ignored. */
    s->out_head = 0;
    s->out_len = 0;
    s->held_unacked = false;
    s->dirty = false;
    s->nack_waiting = false;
    brg_rmq_source_drop_waiting(s);
}

/* The source's error for /routes (source_error); NULL clears it. Returns: true if it differs
 * from the previous one (a repeated error is logged at debug level only). */
static bool set_error(rmq_src_t *s, const char *err)
{
    bool changed = (err == NULL) != (s->error == NULL) || (err && strcmp(err, s->error) != 0);
    brg_source_set_error(s->src, err);
    free(s->error);
    s->error = err ? brg_xstrdup(err) : NULL;
    return changed;
}

void brg_rmq_source_channel_closed(rmq_src_t *s, const char *reason)
{
    forget_channel(s);
    uint32_t wait = brg_backoff_next(&s->bo);
    s->retry_at_ns = brg_now_ns() + (int64_t)wait * 1000000;
    brg_log(set_error(s, reason) ? BRG_LOG_WARN : BRG_LOG_DEBUG, s->r->log,
            "route \"%s\": %s (subscribing again in %u ms)", brg_source_route_name(s->src),
            reason, wait);
}

void brg_rmq_source_conn_lost(rmq_src_t *s)
{
    forget_channel(s);
    s->retry_at_ns = 0;
}

/* on_reject = "reject": reject to the broker only if the queue has a dead-letter exchange
 * (RabbitMQ drops a rejected message otherwise); without one a rejection stops the route and
 * the message stays. What is learned is logged when it changes, not at every subscribe.
 * Returns: RMQ_RPC_OK, or RMQ_RPC_CONN_LOST (err says why). */
static rmq_rpc_t check_dlx(rmq_src_t *s, char *err, size_t errsize)
{
    char dlx[256], why[600];
    rmq_dlx_result_t res = brg_rmq_dlx_probe(s->r, s->queue, dlx, sizeof(dlx), why, sizeof(why));
    if (res == RMQ_DLX_R_CONN_LOST) {
        brg_errfmt(err, errsize, "%s", why);
        return RMQ_RPC_CONN_LOST;
    }
    /* Unknown: the operator asked for it and the broker would not say otherwise. */
    s->broker_dlx = res != RMQ_DLX_R_NO;
    brg_source_set_broker_dead_letter(s->src, s->broker_dlx);
    bool changed = s->dlx_seen != (int)res + 1;
    s->dlx_seen = (int)res + 1;
    if (!changed) {
        return RMQ_RPC_OK;
    }
    const char *route = brg_source_route_name(s->src);
    switch (res) {
    case RMQ_DLX_R_YES:
        brg_log_info(s->r->log,
                     "route \"%s\": queue \"%s\" dead-letters to exchange \"%s\": messages the "
                     "route rejects go there (on_reject = \"reject\")",
                     route, s->queue, dlx);
        break;
    case RMQ_DLX_R_NO:
        brg_log_warn(s->r->log,
                     "route \"%s\": on_reject = \"reject\", but queue \"%s\" has no "
                     "x-dead-letter-exchange argument and RabbitMQ would drop rejected messages: "
                     "a rejected message stops the route instead (if a policy sets the queue's "
                     "dead-letter exchange, set check_dead_letter_exchange = false)",
                     route, s->queue);
        break;
    case RMQ_DLX_R_UNKNOWN:
        brg_log_warn(s->r->log,
                     "route \"%s\": cannot check that queue \"%s\" has a dead-letter exchange "
                     "(%s): rejected messages are rejected to the broker as on_reject says; "
                     "without a dead-letter exchange RabbitMQ drops them",
                     route, s->queue, why);
        break;
    case RMQ_DLX_R_CONN_LOST: break;
    }
    return RMQ_RPC_OK;
}

/* ---- subscribe ---------------------------------------------------------------------------- */

static rmq_rpc_t subscribe(rmq_src_t *s, char *err, size_t errsize)
{
    brg_rmq_t *r = s->r;
    amqp_connection_state_t conn = r->conn;
    rmq_rpc_t rr;
    char what[400];
    if (!s->ch_open) {
        rr = brg_rmq_channel_open(r, s->ch, err, errsize);
        if (rr != RMQ_RPC_OK) {
            return rr;
        }
        s->ch_open = true;
        /* Delivery tags restart at 1 on a new channel: a new generation tells stale settles
         * from current ones. */
        s->gen = ++r->next_gen;
        s->out_head = 0;
        s->out_len = 0;
        s->held_unacked = false;
    }
    amqp_bytes_t q = amqp_cstring_bytes(s->queue);
    if (s->exchange) {
        /* Declared durable (and never auto-deleted) so that nothing published while the
         * bridge is away is lost; re-declared on every reconnect. */
        amqp_queue_declare(conn, s->ch, q, 0, 1, 0, 0, s->qargs);
        snprintf(what, sizeof(what), "declaring queue \"%s\"", s->queue);
        rr = brg_rmq_rpc_result(r, s->ch, what, NULL, err, errsize);
        if (rr != RMQ_RPC_OK) {
            return rr;
        }
        amqp_queue_bind(conn, s->ch, q, amqp_cstring_bytes(s->exchange),
                        amqp_cstring_bytes(s->binding_key), amqp_empty_table);
        snprintf(what, sizeof(what), "binding queue \"%s\" to exchange \"%s\" with key \"%s\"",
                 s->queue, s->exchange, s->binding_key);
        rr = brg_rmq_rpc_result(r, s->ch, what, NULL, err, errsize);
        if (rr != RMQ_RPC_OK) {
            return rr;
        }
    } else {
        /* Passive: the queue belongs to someone else; only check that it is there. */
        amqp_queue_declare(conn, s->ch, q, 1, 0, 0, 0, amqp_empty_table);
        snprintf(what, sizeof(what), "queue \"%s\"", s->queue);
        rr = brg_rmq_rpc_result(r, s->ch, what, NULL, err, errsize);
        if (rr != RMQ_RPC_OK) {
            return rr;
        }
    }
    if (s->reject_mode && s->check_dlx && check_dlx(s, err, errsize) != RMQ_RPC_OK) {
        return RMQ_RPC_CONN_LOST;
    }
    /* Per-consumer prefetch (global = 0): at most max_in_flight unacknowledged deliveries. */
    amqp_basic_qos(conn, s->ch, 0, s->prefetch, 0);
    rr = brg_rmq_rpc_result(r, s->ch, "basic.qos", NULL, err, errsize);
    if (rr != RMQ_RPC_OK) {
        return rr;
    }
    amqp_basic_consume(conn, s->ch, q, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    snprintf(what, sizeof(what), "consuming from queue \"%s\"", s->queue);
    rr = brg_rmq_rpc_result(r, s->ch, what, NULL, err, errsize);
    if (rr != RMQ_RPC_OK) {
        return rr;
    }
    s->consuming = true;
    return RMQ_RPC_OK;
}

brg_err_t brg_rmq_sources_maintain(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, char *errstr,
                                   size_t errstr_size)
{
    for (size_t i = 0; i < r->nsrcs && r->conn; i++) {
        rmq_src_t *s = r->srcs[i];
        if (s->consuming) {
            continue;
        }
        if (now_ns < s->retry_at_ns) {
            if (s->retry_at_ns < *next_ns) {
                *next_ns = s->retry_at_ns;
            }
            continue;
        }
        char err[600];
        rmq_rpc_t rr = subscribe(s, err, sizeof(err));
        if (rr == RMQ_RPC_CONN_LOST) {
            brg_errfmt(errstr, errstr_size, "%s", err);
            return BRG_ERR_TRANSPORT;
        }
        if (rr == RMQ_RPC_CHANNEL_CLOSED) {
            brg_rmq_source_channel_closed(s, err);
            if (s->retry_at_ns < *next_ns) {
                *next_ns = s->retry_at_ns;
            }
            continue;
        }
        brg_backoff_reset(&s->bo);
        bool recovered = s->error != NULL;
        set_error(s, NULL);
        brg_log_info(r->log, "route \"%s\": consuming queue \"%s\" (prefetch %u)%s",
                     brg_source_route_name(s->src), s->queue, (unsigned)s->prefetch,
                     recovered ? " again" : "");
    }
    return BRG_OK;
}

/* ---- deliveries --------------------------------------------------------------------------- */

static void out_push(rmq_src_t *s, uint64_t tag)
{
    if (s->out_len == s->out_cap) {
        size_t ncap = s->out_cap ? s->out_cap * 2 : 256;
        rmq_out_t *n = brg_xmalloc(ncap * sizeof(*n));
        for (size_t i = 0; i < s->out_len; i++) {
            n[i] = s->out[(s->out_head + i) % s->out_cap];
        }
        free(s->out);
        s->out = n;
        s->out_cap = ncap;
        s->out_head = 0;
    }
    rmq_out_t *e = &s->out[(s->out_head + s->out_len) % s->out_cap];
    e->tag = tag;
    e->st = RMQ_D_PENDING;
    s->out_len++;
}

static void wait_push(rmq_src_t *s, brg_envelope_t *env)
{
    if (s->wait_len == s->wait_cap) {
        size_t ncap = s->wait_cap ? s->wait_cap * 2 : 64;
        brg_envelope_t **n = brg_xmalloc(ncap * sizeof(*n));
        for (size_t i = 0; i < s->wait_len; i++) {
            n[i] = s->wait[(s->wait_head + i) % s->wait_cap];
        }
        free(s->wait);
        s->wait = n;
        s->wait_cap = ncap;
        s->wait_head = 0;
    }
    s->wait[(s->wait_head + s->wait_len) % s->wait_cap] = env;
    s->wait_len++;
}

static void delivery_complete(rmq_src_t *s)
{
    rmq_asm_t *a = &s->as;
    brg_envelope_t *env = a->env;
    a->env = NULL;
    out_push(s, a->tag);
    s->delivered++;
    if (a->skip) {
        /* Only when memory ran out: hand it back to the queue and try again later. */
        brg_log_error(s->r->log,
                      "route \"%s\": delivery of %llu bytes from queue \"%s\" cannot be held in "
                      "memory: requeued",
                      brg_source_route_name(s->src), (unsigned long long)a->body_size, s->queue);
        s->out[(s->out_head + s->out_len - 1) % s->out_cap].st = RMQ_D_RETRY;
        s->dirty = true;
        brg_envelope_destroy(env);
        brg_rmq_asm_reset(a);
        return;
    }
    if (!a->body_in_env) {
        brg_envelope_take_body(env, a->body, (size_t)a->body_size);
    }
    a->body = NULL;
    brg_rmq_asm_reset(a);
    /* Order: nothing overtakes a delivery that is already waiting for credit. */
    if (s->wait_len == 0 && brg_source_credit(s->src) > 0) {
        brg_source_submit(s->src, env);
    } else {
        wait_push(s, env);
    }
}

brg_err_t brg_rmq_source_on_frame(rmq_src_t *s, const amqp_frame_t *f, char *errstr,
                                  size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    rmq_asm_t *a = &s->as;
    if (f->frame_type == AMQP_FRAME_METHOD) {
        switch (f->payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            const amqp_basic_deliver_t *m = f->payload.method.decoded;
            brg_rmq_asm_reset(a);
            a->active = true;
            a->tag = m->delivery_tag;
            brg_envelope_t *env = brg_envelope_new();
            /* In the envelope's arena: a recycled envelope needs no allocation for them. */
            brg_envelope_set_str(env, &env->origin.stream, s->queue, strlen(s->queue));
            brg_envelope_set_str(env, &env->origin.exchange,
                                 m->exchange.len ? m->exchange.bytes : "", m->exchange.len);
            brg_envelope_set_str(env, &env->origin.routing_key,
                                 m->routing_key.len ? m->routing_key.bytes : "",
                                 m->routing_key.len);
            env->origin.redelivered = m->redelivered != 0;
            env->origin.delivery_tag = m->delivery_tag;
            env->origin.partition = -1;
            env->origin.offset = -1;
            env->src_seq = m->delivery_tag;
            env->src_epoch = s->gen;
            a->env = env;
            return BRG_OK;
        }
        case AMQP_BASIC_CANCEL_METHOD: {
            /* Consumer cancel notification: the queue was deleted (or its node went away).
             * Deliveries already received stay valid on the channel. */
            s->consuming = false;
            uint32_t wait = brg_backoff_next(&s->bo);
            s->retry_at_ns = brg_now_ns() + (int64_t)wait * 1000000;
            char why[400];
            brg_errfmt(why, sizeof(why),
                       "the broker cancelled the consumer of queue \"%s\" (queue deleted?)",
                       s->queue);
            set_error(s, why);
            brg_log_warn(s->r->log, "route \"%s\": %s (subscribing again in %u ms)",
                         brg_source_route_name(s->src), why, wait);
            return BRG_OK;
        }
        default: return BRG_OK;
        }
    }
    if (!a->active) {
        return BRG_OK;
    }
    if (f->frame_type == AMQP_FRAME_HEADER) {
        const amqp_basic_properties_t *p = f->payload.properties.decoded;
        char err[400];
        if (p && brg_rmq_props_to_envelope(p, a->env, err, sizeof(err)) != BRG_OK) {
            /* Not forwarded with headers missing: the core rejects it (dead letter). */
            brg_log_warn(s->r->log, "route \"%s\": delivery %llu from queue \"%s\": %s: "
                         "rejected (dead letter)",
                         brg_source_route_name(s->src), (unsigned long long)a->tag, s->queue, err);
            char why[512];
            brg_errfmt(why, sizeof(why), "rabbitmq: cannot decode the headers: %s", err);
            brg_envelope_set_reject_reason(a->env, why);
        }
        a->have_header = true;
        a->body_size = f->payload.properties.body_size;
        if (a->body_size <= BRG_ENVELOPE_KEEP_BYTES) {
            /* Small: straight into the envelope's own buffer, kept when it is recycled. An
             * empty body is present, not absent (a Kafka tombstone). */
            a->body = brg_envelope_body_buf(a->env, (size_t)a->body_size);
            a->body_in_env = true;
        } else {
            a->body = a->body_size <= RMQ_MAX_BODY ? malloc((size_t)a->body_size) : NULL;
            a->skip = a->body == NULL;
        }
    } else if (f->frame_type == AMQP_FRAME_BODY && a->have_header) {
        size_t n = f->payload.body_fragment.len;
        if (n > a->body_size - a->body_got) {
            n = (size_t)(a->body_size - a->body_got);
        }
        if (!a->skip && n) {
            memcpy(a->body + a->body_got, f->payload.body_fragment.bytes, n);
        }
        a->body_got += n;
    }
    if (a->have_header && a->body_got == a->body_size) {
        delivery_complete(s);
    }
    return BRG_OK;
}

bool brg_rmq_sources_submit_waiting(brg_rmq_t *r, bool *waiting)
{
    bool did = false;
    for (size_t i = 0; i < r->nsrcs; i++) {
        rmq_src_t *s = r->srcs[i];
        size_t credit = s->wait_len ? brg_source_credit(s->src) : 0;
        while (s->wait_len && credit > 0) {
            brg_envelope_t *env = s->wait[s->wait_head];
            s->wait_head = (s->wait_head + 1) % s->wait_cap;
            s->wait_len--;
            credit--;
            brg_source_submit(s->src, env);
            did = true;
        }
        if (s->wait_len) {
            *waiting = true;
        }
    }
    return did;
}

/* ---- settle -> ack ------------------------------------------------------------------------ */

static rmq_out_t *out_find(rmq_src_t *s, uint64_t tag)
{
    if (s->out_len == 0) {
        return NULL;
    }
    /* Tags on a channel with one consumer are consecutive: try the direct index first. */
    uint64_t first = s->out[s->out_head].tag;
    if (tag >= first && tag - first < s->out_len) {
        rmq_out_t *e = &s->out[(s->out_head + (tag - first)) % s->out_cap];
        if (e->tag == tag) {
            return e;
        }
    }
    for (size_t i = 0; i < s->out_len; i++) {
        rmq_out_t *e = &s->out[(s->out_head + i) % s->out_cap];
        if (e->tag == tag) {
            return e;
        }
    }
    return NULL;
}

/* Acknowledge the settled prefix of the outstanding deliveries: one basic.ack (or nack) with
 * `multiple` per run of equal outcomes. A REJECTED delivery is left unacknowledged (the route
 * is stopped and the broker keeps the message); after one, `multiple` would cover it too, so
 * later runs are acknowledged one by one. A delivery rejected to the queue's dead-letter
 * exchange (RMQ_D_DEAD) gets basic.reject without requeue. */
static brg_err_t flush_acks(rmq_src_t *s, int64_t now_ns, char *errstr, size_t errstr_size)
{
    brg_rmq_t *r = s->r;
    s->dirty = false;
    s->nack_waiting = false;
    while (s->out_len > 0) {
        rmq_out_t *head = &s->out[s->out_head];
        if (head->st == RMQ_D_PENDING) {
            break;
        }
        if (head->st == RMQ_D_REJECTED) {
            s->held_unacked = true;
            s->out_head = (s->out_head + 1) % s->out_cap;
            s->out_len--;
            continue;
        }
        uint8_t st = head->st;
        if (st == RMQ_D_RETRY && now_ns < s->nack_at_ns) {
            /* Still unacknowledged, the run keeps its place and its prefetch slots. */
            s->nack_waiting = true;
            break;
        }
        size_t n = 1;
        while (n < s->out_len && s->out[(s->out_head + n) % s->out_cap].st == st) {
            n++;
        }
        /* Rejections are rare: one basic.reject each (it has no `multiple`). */
        bool one_by_one = s->held_unacked || st == RMQ_D_DEAD;
        size_t count = one_by_one ? n : 1;
        for (size_t i = 0; i < count; i++) {
            size_t idx = one_by_one ? i : n - 1;
            uint64_t tag = s->out[(s->out_head + idx) % s->out_cap].tag;
            bool multiple = !one_by_one;
            int rc = st == RMQ_D_ACCEPTED ? amqp_basic_ack(r->conn, s->ch, tag, multiple)
                     : st == RMQ_D_DEAD   ? amqp_basic_reject(r->conn, s->ch, tag, 0 /* requeue */)
                                          : amqp_basic_nack(r->conn, s->ch, tag, multiple,
                                                            1 /* requeue */);
            if (rc != AMQP_STATUS_OK) {
                brg_errfmt(errstr, errstr_size, "%s: %s",
                           st == RMQ_D_ACCEPTED ? "basic.ack"
                           : st == RMQ_D_DEAD   ? "basic.reject"
                                                : "basic.nack",
                           amqp_error_string2(rc));
                return BRG_ERR_TRANSPORT;
            }
        }
        if (st == RMQ_D_ACCEPTED) {
            s->acked += n;
            brg_backoff_reset(&s->retry_bo);
            s->nack_at_ns = 0;
        } else if (st == RMQ_D_DEAD) {
            s->dead_lettered += n;
            brg_log_debug(r->log, "route \"%s\": rejected %zu message%s to the dead-letter exchange "
                                 "of queue \"%s\" (basic.reject)",
                         brg_source_route_name(s->src), n, n == 1 ? "" : "s", s->queue);
        } else {
            s->requeued += n;
            s->nack_at_ns = now_ns + (int64_t)brg_backoff_next(&s->retry_bo) * 1000000;
        }
        s->out_head = (s->out_head + n) % s->out_cap;
        s->out_len -= n;
    }
    return BRG_OK;
}

/* A delivery comes back RETRY (a sink failed, or the route parked): what waits for credit
 * behind it is requeued with it, so the broker hands everything back in queue order instead of
 * the waiting ones overtaking the retried one. */
static void requeue_waiting(rmq_src_t *s)
{
    while (s->wait_len) {
        brg_envelope_t *w = s->wait[s->wait_head];
        s->wait_head = (s->wait_head + 1) % s->wait_cap;
        s->wait_len--;
        rmq_out_t *o = out_find(s, w->src_seq);
        if (o) {
            o->st = RMQ_D_RETRY;
            s->dirty = true;
        }
        brg_envelope_destroy(w);
    }
}

brg_err_t brg_rmq_sources_settle(brg_rmq_t *r, int64_t now_ns, int64_t *next_ns, bool *did,
                                 char *errstr, size_t errstr_size)
{
    brg_outcome_t outcome;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_settled(r->ep, &outcome)) != NULL) {
        *did = true;
        brg_source_t *src = brg_envelope_source(env);
        rmq_src_t *s = src ? brg_source_opaque(src) : NULL;
        /* From an earlier channel or connection: the broker has requeued it already. */
        if (!s || !r->conn || !s->ch_open || env->src_epoch != s->gen) {
            brg_source_done(env);
            continue;
        }
        rmq_out_t *e = out_find(s, env->src_seq);
        if (e && outcome == BRG_RETRY) {
            requeue_waiting(s);
        }
        if (e) {
            /* The core let a REJECTED through without stopping the route only because this
             * source said its queue dead-letters (brg_source_set_broker_dead_letter). */
            e->st = outcome == BRG_ACCEPTED ? RMQ_D_ACCEPTED
                    : outcome == BRG_RETRY  ? RMQ_D_RETRY
                    : s->broker_dlx         ? RMQ_D_DEAD
                                            : RMQ_D_REJECTED;
            s->dirty = true;
        }
        brg_source_done(env);
    }
    for (size_t i = 0; i < r->nsrcs; i++) {
        rmq_src_t *s = r->srcs[i];
        bool due = s->nack_waiting && now_ns >= s->nack_at_ns;
        if ((s->dirty || due) && r->conn && s->ch_open) {
            brg_err_t rc = flush_acks(s, now_ns, errstr, errstr_size);
            if (rc != BRG_OK) {
                return rc;
            }
        }
        if (s->nack_waiting && s->nack_at_ns < *next_ns) {
            *next_ns = s->nack_at_ns;
        }
    }
    return BRG_OK;
}

amqp_channel_t brg_rmq_source_detach(rmq_src_t *s)
{
    brg_rmq_t *r = s->r;
    amqp_channel_t closed = 0;
    if (r->conn && s->ch_open) {
        /* Settled, so acknowledged now (a retried one goes back to the queue at once); a
         * failed write shows as a lost connection at the next read. */
        char err[256];
        if (flush_acks(s, INT64_MAX, err, sizeof(err)) == BRG_OK) {
            amqp_channel_close_t req;
            memset(&req, 0, sizeof(req));
            req.reply_code = AMQP_REPLY_SUCCESS;
            req.reply_text = amqp_cstring_bytes("the route was removed by a reload");
            if (amqp_send_method(r->conn, s->ch, AMQP_CHANNEL_CLOSE_METHOD, &req) ==
                AMQP_STATUS_OK) {
                closed = s->ch;
            }
        }
    }
    /* Never submitted: the channel's close gives them back to the queue. */
    brg_rmq_source_drop_waiting(s);
    return closed;
}
