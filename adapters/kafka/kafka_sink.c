/* The Kafka sink: one idempotent producer per endpoint, shared by every route that writes to
 * it. An envelope is settled from its delivery report only (DESIGN.md section 3, steps 3-4):
 * the envelope pointer travels as the message opaque, and its body is handed to librdkafka
 * without a copy (the envelope, and so the body, stays alive until it is settled). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka.h"
#include "adapters/kafka/kafka_codec.h"
#include "adapters/kafka/kafka_group_sync.h"
#include "adapters/kafka/kafka_offset_sync.h"
#include "adapters/kafka/kafka_topics.h"

/* What a failed produce means (kafka.h). The message's fault (too large, refused content):
 * REJECTED, it goes to the route's dead letter (or stops the route). The destination's fault (a
 * topic or partition that does not exist, no write permission): UNROUTABLE, the route parks or
 * dead-letters (on_unroutable). Everything else, timeouts and purges included, is RETRY: the
 * source redelivers. */
brg_kafka_err_class_t brg_kafka_produce_err_class(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return BRG_KAFKA_ERR_UNROUTABLE;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return BRG_KAFKA_ERR_REJECTED;
    default: return BRG_KAFKA_ERR_RETRY;
    }
}

/* The least a stop waits for the delivery reports of purged messages (brg_kafka_sink_stop). */
#define PURGE_FLOOR_MS 300

static void settle_err(brg_kafka_ep_t *k, brg_envelope_t *env, const char *topic,
                       int32_t partition, rd_kafka_resp_err_t err, size_t len)
{
    char reason[512];
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        brg_errfmt(reason, sizeof(reason),
                   "kafka: message too large for topic \"%s\" (%zu bytes; see message.max.bytes)",
                   topic ? topic : "", len);
    } else if (partition >= 0) {
        brg_errfmt(reason, sizeof(reason), "kafka: topic \"%s\" partition %" PRId32 ": %s",
                   topic ? topic : "", partition, rd_kafka_err2str(err));
    } else {
        brg_errfmt(reason, sizeof(reason), "kafka: topic \"%s\": %s", topic ? topic : "",
                   rd_kafka_err2str(err));
    }
    brg_kafka_err_class_t c = brg_kafka_produce_err_class(err);
    /* The core logs what happens next (dead letter, route parked or stopped, redelivery). */
    brg_log(BRG_LOG_DEBUG, &k->log.ctx, "%s: %s",
            c == BRG_KAFKA_ERR_UNROUTABLE ? "unroutable"
            : c == BRG_KAFKA_ERR_REJECTED ? "rejected"
                                          : "retry",
            reason);
    if (c == BRG_KAFKA_ERR_UNROUTABLE) {
        brg_settle_unroutable(env, reason);
        return;
    }
    brg_settle(env, c == BRG_KAFKA_ERR_REJECTED ? BRG_REJECTED : BRG_RETRY, reason);
}

/* A sync record's delivery report (no envelope): its sink is found by the topic it went to. A
 * failure is logged once per sink; the route goes on. */
static void note_sync_written(brg_kafka_ep_t *k, const rd_kafka_message_t *rkm)
{
    size_t n = brg_endpoint_sink_count(k->ep);
    for (size_t i = 0; i < n; i++) {
        brg_sink_t *sink = brg_endpoint_sink(k->ep, i);
        brg_kafka_sink_t *ks = brg_sink_opaque(sink);
        if (!ks || ks->sync_rkt != rkm->rkt) {
            continue;
        }
        if (!rkm->err) {
            ks->syncs_written++;
            return;
        }
        ks->syncs_failed++;
        if (!ks->sync_failure_logged) {
            ks->sync_failure_logged = true;
            brg_log_warn(&k->log.ctx,
                         "route \"%s\": offset_syncs: cannot write to topic \"%s\": %s (the "
                         "route goes on; a consumer that fails over re-reads more; logged once)",
                         brg_sink_route_name(sink), rd_kafka_topic_name(rkm->rkt),
                         rd_kafka_err2str(rkm->err));
        }
        return;
    }
}

/* A record of a sink with offset_syncs is confirmed at rkm's partition and offset: keep the
 * pair if it is a sync point, and write it to the offset-syncs topic. Sync records go without
 * an envelope (opaque NULL): a lost one only makes a later translation re-read a little more. */
static void note_offset_sync(brg_kafka_ep_t *k, const brg_envelope_t *env,
                             const rd_kafka_message_t *rkm)
{
    brg_sink_t *sink = brg_envelope_sink(env);
    brg_kafka_sink_t *ks = sink ? brg_sink_opaque(sink) : NULL;
    if (!ks || !ks->syncs) {
        return;
    }
    if (env->origin.offset < 0 || env->origin.partition < 0 || !env->origin.stream) {
        if (!ks->sync_origin_logged) {
            ks->sync_origin_logged = true;
            brg_log_warn(&k->log.ctx,
                         "route \"%s\": offset_syncs: messages that do not come from Kafka have "
                         "no source offset to sync (logged once)",
                         brg_sink_route_name(sink));
        }
        return;
    }
    brg_kafka_sync_t s;
    const char *src_topic = env->origin.stream_read ? env->origin.stream_read : env->origin.stream;
    if (!brg_kafka_sync_note(ks->syncs, src_topic, env->origin.partition,
                             env->origin.offset, rd_kafka_topic_name(rkm->rkt), rkm->partition,
                             rkm->offset, &s)) {
        return;
    }
    char key[BRG_KAFKA_TOPIC_MAX + 16], value[2 * BRG_KAFKA_TOPIC_MAX + 200];
    size_t klen = brg_kafka_sync_encode_key(&s, key, sizeof(key));
    size_t vlen = brg_kafka_sync_encode_value(&s, value, sizeof(value));
    rd_kafka_resp_err_t err = rd_kafka_producev(
        k->producer, RD_KAFKA_V_RKT(ks->sync_rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(value, vlen), RD_KAFKA_V_OPAQUE(NULL),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->outstanding++;
    } else {
        ks->syncs_failed++;
    }
}

/* Delivery report: served by rd_kafka_poll() on the endpoint thread. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    brg_kafka_ep_t *k = opaque;
    brg_envelope_t *env = rkm->_private;
    k->outstanding--;
    if (!env) {
        note_sync_written(k, rkm);
        return;
    }
    if (!rkm->err) {
        if (!k->connected) {
            brg_kafka_set_connected(k, true, NULL);
        }
        if (k->offset_syncs) {
            note_offset_sync(k, env, rkm);
        }
        brg_settle(env, BRG_ACCEPTED, NULL);
        return;
    }
    /* Do not touch rkm->payload after settling: it is the envelope's body. */
    settle_err(k, env, rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : NULL, rkm->partition, rkm->err,
               rkm->len);
}

static void producer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    brg_kafka_on_error(opaque, rk, err, reason);
}

static void sink_state_free(brg_kafka_sink_t *ks)
{
    if (!ks) {
        return;
    }
    if (ks->rkt) {
        rd_kafka_topic_destroy(ks->rkt);
    }
    if (ks->sync_rkt) {
        rd_kafka_topic_destroy(ks->sync_rkt);
    }
    brg_kafka_group_sync_free(ks->gsync); /* before the map it translates with */
    brg_kafka_sync_map_free(ks->syncs);
    free(ks);
}

/* The producer, made when the endpoint has its first sink. */
static brg_err_t producer_new(brg_kafka_ep_t *k, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = brg_kafka_settings_conf(k->settings, BRG_KAFKA_PRODUCER_ROLE,
                                                    k->client_id);
    brg_kafka_conf_tune_producer(conf, k->cs);
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, producer_error_cb);
    rd_kafka_conf_set_log_cb(conf, brg_kafka_log_cb);
    char err[512];
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->producer) {
        rd_kafka_conf_destroy(conf);
        brg_errfmt(errstr, errstr_size, "cannot create the producer: %s", err);
        return BRG_ERR_CONFIG;
    }
    /* Delivery reports and errors wake the endpoint thread's poll(2) through the shared pipe. */
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(k->producer);
    rd_kafka_queue_io_event_enable(mq, k->evfd[1], "p", 1);
    rd_kafka_queue_destroy(mq);
    return BRG_OK;
}

/* One sink's compiled destination on the producer. */
static void sink_setup(brg_kafka_ep_t *k, brg_sink_t *sink)
{
    /* First: a topic handle makes the producer ask for the topic's metadata, which lets a
     * cluster that creates topics on first use create it, with its default partition count,
     * before create_topics could give it the source's. */
    brg_kafka_sink_check_topics(k, sink);
    brg_kafka_sink_t *ks = brg_xcalloc(1, sizeof(*ks));
    ks->topic_tpl = brg_sink_template(sink, "topic");
    ks->key_tpl = brg_sink_template(sink, "key");
    ks->part_tpl = brg_sink_template(sink, "partition");
    ks->partition = RD_KAFKA_PARTITION_UA;
    if (ks->topic_tpl && brg_template_is_literal(ks->topic_tpl)) {
        ks->rkt = rd_kafka_topic_new(k->producer, brg_template_text(ks->topic_tpl), NULL);
    }
    if (ks->part_tpl && brg_template_is_literal(ks->part_tpl)) {
        /* Checked at load (check_sink): a literal partition is a number. */
        ks->partition = (int32_t)strtol(brg_template_text(ks->part_tpl), NULL, 10);
        ks->part_tpl = NULL;
    }
    const brg_conf_node_t *to = brg_sink_conf(sink);
    if (brg_conf_bool(to, "offset_syncs", false)) {
        char buf[BRG_KAFKA_TOPIC_MAX + 1];
        ks->syncs = brg_kafka_sync_map_new();
        k->offset_syncs = true;
        ks->sync_rkt = rd_kafka_topic_new(
            k->producer, brg_kafka_sync_topic(to, brg_sink_route_name(sink), buf, sizeof(buf)),
            NULL);
        ks->gsync = brg_kafka_group_sync_new(k, sink, ks->syncs);
    }
    sink_state_free(brg_sink_opaque(sink));
    brg_sink_set_opaque(sink, ks);
}

void brg_kafka_sink_tick(brg_kafka_ep_t *k)
{
    /* Runs at every turn of the endpoint loop: nothing to look at unless a sink has offset
     * syncs (a group sync needs them; the flag stays set after such a sink is removed, so its
     * /metrics rows still go). */
    if (!k->offset_syncs) {
        return;
    }
    size_t n = brg_endpoint_sink_count(k->ep);
    bool changed = false;
    for (size_t i = 0; i < n && k->producer; i++) {
        brg_kafka_sink_t *ks = brg_sink_opaque(brg_endpoint_sink(k->ep, i));
        if (ks && ks->gsync) {
            brg_kafka_group_sync_poll(k, ks->gsync);
            changed |= brg_kafka_group_sync_take_changed(ks->gsync);
        }
    }
    if (!changed && !k->gsync_stale) {
        return;
    }
    k->gsync_stale = false;
    /* A new set of figures for /metrics, swapped in under the lock the HTTP thread takes. */
    brg_kafka_gsync_row_t *rows = NULL;
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        brg_kafka_sink_t *ks = brg_sink_opaque(brg_endpoint_sink(k->ep, i));
        if (ks && ks->gsync) {
            brg_kafka_group_sync_rows(ks->gsync, &rows, &nrows);
        }
    }
    pthread_mutex_lock(&k->mlock);
    brg_kafka_gsync_row_t *old = k->gsync_rows;
    size_t nold = k->ngsync_rows;
    k->gsync_rows = rows;
    k->ngsync_rows = nrows;
    pthread_mutex_unlock(&k->mlock);
    brg_kafka_gsync_rows_free(old, nold);
}

brg_err_t brg_kafka_sink_start(brg_kafka_ep_t *k, char *errstr, size_t errstr_size)
{
    size_t nsinks = brg_endpoint_sink_count(k->ep);
    k->producer_fatal = false;
    if (nsinks == 0) {
        return BRG_OK;
    }
    brg_err_t rc = producer_new(k, errstr, errstr_size);
    if (rc != BRG_OK) {
        return rc;
    }
    for (size_t i = 0; i < nsinks; i++) {
        sink_setup(k, brg_endpoint_sink(k->ep, i));
    }
    return BRG_OK;
}

brg_err_t brg_kafka_sink_add(brg_kafka_ep_t *k, brg_sink_t *sink, char *errstr, size_t errstr_size)
{
    if (!k->producer) {
        brg_err_t rc = producer_new(k, errstr, errstr_size);
        if (rc != BRG_OK) {
            return rc;
        }
    }
    sink_setup(k, sink);
    return BRG_OK;
}

void brg_kafka_sink_remove(brg_kafka_ep_t *k, brg_sink_t *sink)
{
    /* Drained: nothing of this sink is queued or unconfirmed. The producer stays. */
    brg_kafka_sink_t *ks = brg_sink_opaque(sink);
    k->gsync_stale |= ks && ks->gsync; /* its /metrics rows go at the next tick */
    sink_state_free(ks);
    brg_sink_set_opaque(sink, NULL);
}

/* Parse a rendered partition. Returns: false if it is not a partition number. */
static bool parse_partition(const char *s, int32_t *out)
{
    if (!*s) {
        *out = RD_KAFKA_PARTITION_UA; /* empty: let the partitioner choose */
        return true;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 0 || v > INT32_MAX) {
        return false;
    }
    *out = (int32_t)v;
    return true;
}

/* Hand one envelope to librdkafka. Returns: false only when the local queue is full (the
 * caller keeps it, in order); any other failure settles the envelope. */
static bool produce(brg_kafka_ep_t *k, brg_envelope_t *env, brg_sink_t *sink)
{
    brg_kafka_sink_t *ks = brg_sink_opaque(sink);
    const char *topic = ks->rkt ? rd_kafka_topic_name(ks->rkt) : NULL;
    const void *key = env->key;
    size_t key_len = env->key_len;
    int32_t partition = ks->partition;
    char reason[512];
    bool queued = true;

    if (!topic) {
        topic = brg_template_value(ks->topic_tpl, env, &k->scratch_topic, NULL);
        if (!*topic) {
            brg_settle(env, BRG_REJECTED, "kafka: the topic template rendered an empty name");
            goto out;
        }
    }
    if (ks->key_tpl) {
        key = brg_template_value(ks->key_tpl, env, &k->scratch_key, &key_len);
    }
    if (ks->part_tpl) {
        const char *part = brg_template_value(ks->part_tpl, env, &k->scratch_part, NULL);
        if (!parse_partition(part, &partition)) {
            brg_errfmt(reason, sizeof(reason), "kafka: partition \"%s\" is not a number", part);
            brg_settle(env, BRG_REJECTED, reason);
            goto out;
        }
    }

    rd_kafka_headers_t *hdrs = brg_kafka_encode_headers(env);
    int64_t ts = env->props.timestamp_ms >= 0 ? env->props.timestamp_ms : 0;
    /* No RD_KAFKA_MSG_F_COPY: librdkafka reads the body in place; the envelope owns it until
     * the delivery report settles it. librdkafka copies the key and takes the headers. */
    rd_kafka_resp_err_t err;
    if (ks->rkt) {
        err = rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(ks->rkt),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE((void *)env->body, env->body_len),
                                RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(env), RD_KAFKA_V_END);
    } else {
        err = rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE((void *)env->body, env->body_len),
                                RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(env), RD_KAFKA_V_END);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->outstanding++;
        goto out;
    }
    if (hdrs) {
        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        queued = false;
        goto out;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        k->producer_fatal = true;
    }
    settle_err(k, env, topic, partition, err, env->body_len + key_len);
out:
    return queued;
}

void brg_kafka_sink_publish(brg_kafka_ep_t *k, brg_envelope_t *env, brg_sink_t *sink)
{
    if (!k->producer) {
        /* Cannot happen (the core only routes to endpoints with sinks); be safe anyway. */
        brg_settle(env, BRG_RETRY, "kafka: the producer is not running");
        return;
    }
    /* Behind a full queue everything waits in order: a later envelope must not overtake. */
    if (k->pending.head || !produce(k, env, sink)) {
        brg_envq_push(&k->pending, env);
    }
}

void brg_kafka_sink_poll(brg_kafka_ep_t *k)
{
    if (!k->producer) {
        return;
    }
    /* The delivery reports of one poll settle with one clock reading (latency metrics). */
    brg_clock_batch_begin();
    rd_kafka_poll(k->producer, 0);
    brg_clock_batch_end();
    brg_envelope_t *env;
    while ((env = brg_envq_peek(&k->pending))) {
        if (!produce(k, env, brg_envelope_sink(env))) {
            break; /* still full: try again after the next delivery reports */
        }
        brg_envq_pop(&k->pending);
    }
}

void brg_kafka_sink_stop(brg_kafka_ep_t *k)
{
    if (!k->producer) {
        return;
    }
    /* Bounded flush: give the brokers flush_timeout_ms to confirm what is in flight (less if
     * the bridge's shutdown deadline comes first), then settle the rest RETRY (purged), so that
     * every envelope taken is settled exactly once. */
    int flush_ms = brg_kafka_stop_budget_ms(k, k->flush_timeout_ms);
    int64_t deadline = brg_now_ns() + (int64_t)flush_ms * 1000000;
    while ((k->outstanding > 0 || k->pending.head) && !k->producer_fatal &&
           brg_now_ns() < deadline) {
        brg_kafka_sink_poll(k);
        brg_endpoint_flush(k->ep);
        rd_kafka_poll(k->producer, 50);
    }
    brg_envelope_t *env;
    while ((env = brg_envq_pop(&k->pending))) {
        brg_settle(env, BRG_RETRY, "kafka: endpoint stopping before the message was sent");
    }
    if (k->outstanding > 0) {
        brg_log_warn(&k->log.ctx,
                     "%zu messages not confirmed within %d ms%s: settled as retry (their sources "
                     "deliver them again)",
                     k->outstanding, flush_ms,
                     flush_ms < k->flush_timeout_ms ? " (the shutdown deadline)" : "");
        rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        /* Purged messages get their delivery reports (_PURGE_QUEUE/_PURGE_INFLIGHT) at the
         * next poll; in-flight ones as soon as librdkafka drops their requests. */
        /* At least PURGE_FLOOR_MS even past the shutdown deadline: librdkafka's broker threads
         * fail purged messages at once, also against a frozen broker, and only their delivery
         * reports let the envelopes be settled (and freed) exactly once. */
        int purge_ms = brg_kafka_stop_budget_ms(k, 5000);
        if (purge_ms < PURGE_FLOOR_MS) {
            purge_ms = PURGE_FLOOR_MS;
        }
        int64_t purge_deadline = brg_now_ns() + purge_ms * (int64_t)1000000;
        while (k->outstanding > 0 && brg_now_ns() < purge_deadline) {
            brg_endpoint_flush(k->ep);
            rd_kafka_poll(k->producer, 50);
        }
        if (k->outstanding > 0) {
            brg_log_error(&k->log.ctx, "%zu delivery reports never arrived", k->outstanding);
        }
    }
    for (size_t i = 0; i < brg_endpoint_sink_count(k->ep); i++) {
        brg_sink_t *sink = brg_endpoint_sink(k->ep, i);
        sink_state_free(brg_sink_opaque(sink));
        brg_sink_set_opaque(sink, NULL);
    }
    rd_kafka_destroy(k->producer);
    k->producer = NULL;
    k->outstanding = 0;
}
