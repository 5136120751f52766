/* Consumer-group offset sync of a Kafka -> Kafka route (docs/kafka.md, "Failover"): every
 * sync_interval, each group the route names (`sync_groups`) has its committed offsets on the
 * source read, translated through the route's offset syncs, and committed to the same group
 * on the destination, never moving it back and never moving a live group; a checkpoint record
 * per partition goes to the checkpoints topic. Runs on the sink endpoint's thread without
 * blocking it (the Admin API's results are polled). */
#ifndef BRG_KAFKA_GROUP_SYNC_H
#define BRG_KAFKA_GROUP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "adapters/kafka/kafka.h"
#include "adapters/kafka/kafka_offset_sync.h"

typedef struct brg_kafka_group_sync brg_kafka_group_sync_t;

/* What a round does with one partition of a group. */
typedef enum {
    BRG_GSYNC_MOVE,     /* commit the translated offset on the destination */
    BRG_GSYNC_NO_SYNC,  /* no sync at or before the committed offset: nothing to commit */
    BRG_GSYNC_AHEAD,    /* the destination's committed offset is already there or further */
} brg_kafka_gsync_plan_t;

/* The plan for a partition whose group committed src_committed on the source (-1: nothing),
 * translated (when translated) to dst_offset, while the destination's group committed
 * dst_committed (-1: nothing). Pure. */
brg_kafka_gsync_plan_t brg_kafka_gsync_plan(int64_t src_committed, bool translated,
                                            int64_t dst_offset, int64_t dst_committed);

/* A commit refused because the group has live members on the destination (a commit from
 * outside the group's generation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * REBALANCE_IN_PROGRESS). Pure. */
bool brg_kafka_gsync_group_active(rd_kafka_resp_err_t err);

/* The checkpoint record: key "GROUP/SOURCE_TOPIC/PARTITION", value a JSON object {"group":
 * ..., "source_topic": ..., "source_partition": N, "source_offset": N, "topic": ...,
 * "partition": N, "offset": N} (the group's committed source offset and the offset it
 * translates to on the destination, whether or not it was committed there this round: a
 * group live there, or further already, keeps its own). Written into key and value (each
 * emptied first). */
void brg_kafka_checkpoint_encode(brg_buf_t *key, brg_buf_t *value, const char *group,
                                 const brg_kafka_sync_t *s);

/* The topic a sink's checkpoints go to: its checkpoints_topic, else ROUTE.checkpoints. */
const char *brg_kafka_checkpoints_topic(const brg_conf_node_t *to_cs, const char *route,
                                        char *buf, size_t size);

/* Read a route's offset-syncs topic into m, from its start to its end as of now (each pair
 * kept by brg_kafka_sync_add). rk: a consumer of the destination cluster, not subscribed.
 * Returns: false with err set (the topic is missing, or not read to its end in time).
 * Thread: the caller's; it blocks: up to timeout_ms for the metadata, each partition's
 * watermarks and the reading each. */
bool brg_kafka_sync_read(rd_kafka_t *rk, const char *topic, brg_kafka_sync_map_t *m,
                         int timeout_ms, size_t *nread, char *err, size_t n);
/* A topic's partition count. Returns: -1 with err set if the cluster has no such topic. */
int brg_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                               size_t n);

/* For a sink with sync_groups (kafka_sink.c sink_setup): reads the route's offset syncs back
 * from their topic into syncs (so that a restarted msgbridge translates as before), and makes
 * a client of the source cluster. Returns: NULL if the sink has no sync_groups, or its route
 * does not read Kafka (nothing to translate: the load checks that offset_syncs is on, and
 * offset_syncs warns once about messages that do not come from Kafka). */
brg_kafka_group_sync_t *brg_kafka_group_sync_new(brg_kafka_ep_t *k, brg_sink_t *sink,
                                                 brg_kafka_sync_map_t *syncs);
void brg_kafka_group_sync_free(brg_kafka_group_sync_t *g);
/* Start a round when one is due, act on the answers that came. Never blocks.
 * Thread: the endpoint's. */
void brg_kafka_group_sync_poll(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g);

/* /metrics. After a round that changed anything, the sink's tick asks each group sync for its
 * rows (appended to *rows, growing it) and publishes the set under k->mlock; the HTTP thread
 * prints what was published (brg_kafka_gsync_metrics, from kafka.c's metrics hook). */
bool brg_kafka_group_sync_take_changed(brg_kafka_group_sync_t *g);
void brg_kafka_group_sync_rows(const brg_kafka_group_sync_t *g, brg_kafka_gsync_row_t **rows,
                               size_t *n);
void brg_kafka_gsync_rows_free(brg_kafka_gsync_row_t *rows, size_t n);
void brg_kafka_gsync_metrics(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out);

#endif
