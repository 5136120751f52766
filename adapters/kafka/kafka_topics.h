/* A Kafka -> Kafka route's destination topics, checked when its sink starts (kafka_topics.c):
 * each source topic's copy exists, with at least the source's partition count when the route
 * keeps partitions, or is created with that count (create_topics = true). */
#ifndef BRG_KAFKA_TOPICS_H
#define BRG_KAFKA_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/kafka/kafka.h"

/* What the start does about one source topic's destination. */
typedef enum {
    BRG_KAFKA_TOPIC_OK,       /* exists, with enough partitions (or partitions not kept) */
    BRG_KAFKA_TOPIC_CREATE,   /* missing, create_topics: create it with the source's count */
    BRG_KAFKA_TOPIC_MISSING,  /* missing: the cluster's auto-creation decides (WARN) */
    BRG_KAFKA_TOPIC_TOO_FEW,  /* fewer partitions than the source it keeps: stop the route */
} brg_kafka_topic_action_t;

/* Decide for one source topic with src_partitions partitions whose destination has
 * dst_partitions (-1: the topic does not exist). keeps_partitions: partition = "${partition}".
 * Pure. */
brg_kafka_topic_action_t brg_kafka_topic_action(int src_partitions, int dst_partitions,
                                                bool keeps_partitions, bool create_topics);

/* The destination topic of source topic src under the sink's topic template text: the text
 * with each ${topic} and ${stream} replaced by src and "$$" by "$". Returns: false if the
 * template has any other variable (a header, the key: not known before a record) or the name
 * would not fit in out (out_size bytes). Pure. */
bool brg_kafka_topic_destination(const char *tpl_text, const char *src, char *out,
                                 size_t out_size);

/* A client of another endpoint's cluster (the route's source) with that endpoint's compiled
 * settings, logging as endpoint k; consumer role, auto-commit off, group.id = group if not
 * NULL (it joins nothing unless subscribed). Returns: NULL with err set. */
rd_kafka_t *brg_kafka_peer_client(brg_kafka_ep_t *k, const brg_kafka_settings_t *set,
                                  const char *group, char *err, size_t n);

/* At a sink's start (kafka_sink.c sink_setup), when its route reads Kafka and either keeps
 * partitions or has create_topics: ask both clusters for their topics (bounded, a few seconds
 * each), create what is missing with create_topics, and stop the route with an ERROR naming
 * both counts when a destination has fewer partitions than the source it keeps. A cluster that
 * does not answer is logged (WARN) and the route starts unchecked. Thread: the endpoint's. */
void brg_kafka_sink_check_topics(brg_kafka_ep_t *k, brg_sink_t *sink);

#endif
