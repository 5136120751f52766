/* A Kafka -> Kafka route's destination topics, checked when its sink starts. A route that keeps
 * partitions (partition = "${partition}") writes source partition N to destination partition
 * N: a destination with fewer partitions would fail record by record (each one parking the
 * route) for a reason that is plain before the first record. So the sink compares the two
 * clusters' topics once, at start, says what is wrong with both counts, and stops the route;
 * with create_topics = true a missing destination is created with the source's partition count
 * (the Admin API's CreateTopics). */
#include "adapters/kafka/kafka_topics.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka_offset_sync.h" /* BRG_KAFKA_TOPIC_MAX */

/* Each cluster request of the check: a start waits this long at most per request. */
#define TOPICS_TIMEOUT_MS 5000
/* Source topics looked at per route (a regex may match many). */
#define TOPICS_MAX 1024

brg_kafka_topic_action_t brg_kafka_topic_action(int src_partitions, int dst_partitions,
                                                bool keeps_partitions, bool create_topics)
{
    if (dst_partitions < 0) {
        return create_topics ? BRG_KAFKA_TOPIC_CREATE : BRG_KAFKA_TOPIC_MISSING;
    }
    if (keeps_partitions && dst_partitions < src_partitions) {
        return BRG_KAFKA_TOPIC_TOO_FEW;
    }
    return BRG_KAFKA_TOPIC_OK;
}

bool brg_kafka_topic_destination(const char *tpl_text, const char *src, char *out,
                                 size_t out_size)
{
    size_t n = 0;
    for (const char *p = tpl_text; *p;) {
        const char *piece = p;
        size_t len = 1;
        if (strncmp(p, "$$", 2) == 0) {
            piece = "$";
            p += 2;
        } else if (strncmp(p, "${topic}", 8) == 0 || strncmp(p, "${stream}", 9) == 0) {
            piece = src;
            len = strlen(src);
            p += p[2] == 't' ? 8 : 9;
        } else if (strncmp(p, "${", 2) == 0) {
            return false; /* a variable only a record knows */
        } else {
            p++;
        }
        if (n + len >= out_size) {
            return false;
        }
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return n > 0;
}

/* ---- the clusters --------------------------------------------------------------------------- */

/* Every topic of rk's cluster with its partition count (asking for all topics creates none,
 * where asking for one by name lets a producer's request auto-create it). */
static const struct rd_kafka_metadata *cluster_topics(rd_kafka_t *rk, char *err, size_t n)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, TOPICS_TIMEOUT_MS);
    if (e) {
        snprintf(err, n, "%s", rd_kafka_err2str(e));
        return NULL;
    }
    return md;
}

/* Returns: topic's partition count in md, or -1 if the cluster does not have it. */
static int partitions_in(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0) {
            return md->topics[i].err ? -1 : md->topics[i].partition_cnt;
        }
    }
    return -1;
}

/* Does the route read topic: one of its names, or matched by one of its "^regex" entries
 * (librdkafka's own rule: POSIX extended; internal "__" topics are never matched)? */
static bool route_reads(const brg_conf_node_t *from, const char *topic)
{
    const char *one = brg_conf_str(from, "topic", NULL);
    const brg_conf_node_t *list = brg_conf_get(from, "topics");
    size_t count = list ? list->nkids : 0;
    for (size_t i = 0; i <= count; i++) {
        const char *entry = i < count ? (list->kids[i]->type == BRG_CONF_STRING
                                             ? list->kids[i]->v.s
                                             : NULL)
                                      : one;
        if (!entry) {
            continue;
        }
        if (entry[0] != '^') {
            if (strcmp(entry, topic) == 0) {
                return true;
            }
            continue;
        }
        regex_t re;
        if (strncmp(topic, "__", 2) == 0 || regcomp(&re, entry, REG_EXTENDED | REG_NOSUB) != 0) {
            continue; /* checked at load: a bad regex never gets here */
        }
        bool match = regexec(&re, topic, 0, NULL, 0) == 0;
        regfree(&re);
        if (match) {
            return true;
        }
    }
    return false;
}

rd_kafka_t *brg_kafka_peer_client(brg_kafka_ep_t *k, const brg_kafka_settings_t *set,
                                  const char *group, char *err, size_t n)
{
    rd_kafka_conf_t *c = brg_kafka_settings_conf(set, BRG_KAFKA_CONSUMER_ROLE, k->client_id);
    rd_kafka_conf_set_opaque(c, k); /* the log callback's context: this endpoint */
    rd_kafka_conf_set_log_cb(c, brg_kafka_log_cb);
    /* Never commits: it reads, or acts through the Admin API. */
    if ((group && rd_kafka_conf_set(c, "group.id", group, err, n) != RD_KAFKA_CONF_OK) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, n) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, n);
    if (!rk) {
        rd_kafka_conf_destroy(c);
    }
    return rk;
}

/* CreateTopics for one topic, waited for. Returns: false with err set. */
static bool create_topic(rd_kafka_t *rk, const char *topic, int partitions, char *err, size_t n)
{
    /* -1: the cluster's default replication factor (Kafka 2.4 and later). */
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, err, n);
    if (!nt) {
        return false;
    }
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, TOPICS_TIMEOUT_MS, NULL, 0);
    rd_kafka_AdminOptions_set_operation_timeout(o, TOPICS_TIMEOUT_MS, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 2 * TOPICS_TIMEOUT_MS + 1000);
    bool ok = false;
    if (!ev) {
        snprintf(err, n, "no answer within %d ms", 2 * TOPICS_TIMEOUT_MS + 1000);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, n, "%s", rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        /* Created by another msgbridge (or a person) in the meantime: as good. */
        ok = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
        if (!ok) {
            const char *s = rd_kafka_topic_result_error_string(tr[0]);
            snprintf(err, n, "%s", s && *s ? s : rd_kafka_err2str(e));
        }
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    return ok;
}

/* ---- the check ------------------------------------------------------------------------------ */

/* One source topic with its destination. Returns: false if the route was stopped. */
static bool check_one(brg_kafka_ep_t *k, brg_sink_t *sink, const char *src, int src_parts,
                      const struct rd_kafka_metadata *dst_md, const char *tpl, bool keeps,
                      bool create)
{
    const char *route = brg_sink_route_name(sink);
    char dst[BRG_KAFKA_TOPIC_MAX + 1];
    char *stream = brg_sink_stream_name(sink, src); /* after the mapping's rename */
    bool known = brg_kafka_topic_destination(tpl, stream, dst, sizeof(dst));
    free(stream);
    if (!known) {
        brg_log_info(&k->log.ctx,
                     "route \"%s\": the destination of topic \"%s\" depends on each record "
                     "(topic = \"%s\"): not checked at start",
                     route, src, tpl);
        return true;
    }
    int dst_parts = partitions_in(dst_md, dst);
    char reason[768];
    char err[512];
    switch (brg_kafka_topic_action(src_parts, dst_parts, keeps, create)) {
    case BRG_KAFKA_TOPIC_OK: return true;
    case BRG_KAFKA_TOPIC_MISSING:
        brg_log_warn(&k->log.ctx,
                     "route \"%s\": destination topic \"%s\" does not exist on endpoint \"%s\" "
                     "(source topic \"%s\" has %d partitions): a cluster that creates topics "
                     "on first use gives it its default partition count; create_topics = true "
                     "creates it with %d",
                     route, dst, brg_endpoint_name(k->ep), src, src_parts, src_parts);
        return true;
    case BRG_KAFKA_TOPIC_CREATE:
        if (create_topic(k->producer, dst, src_parts, err, sizeof(err))) {
            brg_log_info(&k->log.ctx,
                         "route \"%s\": created topic \"%s\" on endpoint \"%s\" with %d "
                         "partitions, as source topic \"%s\"",
                         route, dst, brg_endpoint_name(k->ep), src_parts, src);
            return true;
        }
        brg_errfmt(reason, sizeof(reason),
                   "create_topics: cannot create topic \"%s\" on endpoint \"%s\" with %d "
                   "partitions (as source topic \"%s\"): %s",
                   dst, brg_endpoint_name(k->ep), src_parts, src, err);
        brg_sink_stop_route(sink, reason);
        return false;
    case BRG_KAFKA_TOPIC_TOO_FEW:
        brg_errfmt(reason, sizeof(reason),
                   "destination topic \"%s\" on endpoint \"%s\" has %d partitions, source topic "
                   "\"%s\" has %d, and partition = \"${partition}\" keeps each record's "
                   "partition: add partitions to \"%s\" (at least %d) and reload",
                   dst, brg_endpoint_name(k->ep), dst_parts, src, src_parts, dst, src_parts);
        brg_sink_stop_route(sink, reason);
        return false;
    }
    return true;
}

void brg_kafka_sink_check_topics(brg_kafka_ep_t *k, brg_sink_t *sink)
{
    const brg_conf_node_t *to = brg_sink_conf(sink);
    const brg_template_t *part = brg_sink_template(sink, "partition");
    const brg_template_t *topic = brg_sink_template(sink, "topic");
    bool keeps = part && strcmp(brg_template_text(part), "${partition}") == 0;
    bool create = brg_conf_bool(to, "create_topics", false);
    const char *route = brg_sink_route_name(sink);
    if ((!keeps && !create) || !topic) {
        return;
    }
    if (strcmp(brg_sink_source_type(sink), "kafka") != 0 || !brg_sink_source_settings(sink)) {
        if (create) {
            brg_log_warn(&k->log.ctx,
                         "route \"%s\": create_topics: the route does not read Kafka, so there "
                         "is no partition count to copy; topics are not created",
                         route);
        }
        return;
    }
    char err[512] = "";
    rd_kafka_t *src_rk =
        brg_kafka_peer_client(k, brg_sink_source_settings(sink), NULL, err, sizeof(err));
    const struct rd_kafka_metadata *src_md =
        src_rk ? cluster_topics(src_rk, err, sizeof(err)) : NULL;
    const struct rd_kafka_metadata *dst_md = src_md ? cluster_topics(k->producer, err, sizeof(err))
                                                    : NULL;
    if (!dst_md) {
        brg_log_warn(&k->log.ctx,
                     "route \"%s\": cannot compare the destination topics with the source's "
                     "(%s cluster: %s): the route starts unchecked",
                     route, src_md ? "destination" : "source", err);
    } else {
        const brg_conf_node_t *from = brg_sink_source_conf(sink);
        const char *tpl = brg_template_text(topic);
        int seen = 0;
        for (int i = 0; i < src_md->topic_cnt && seen < TOPICS_MAX; i++) {
            const struct rd_kafka_metadata_topic *t = &src_md->topics[i];
            if (t->err || !route_reads(from, t->topic)) {
                continue;
            }
            seen++;
            if (!check_one(k, sink, t->topic, t->partition_cnt, dst_md, tpl, keeps, create)) {
                break;
            }
        }
    }
    if (dst_md) {
        rd_kafka_metadata_destroy(dst_md);
    }
    if (src_md) {
        rd_kafka_metadata_destroy(src_md);
    }
    if (src_rk) {
        rd_kafka_destroy(src_rk);
    }
}
