/* Offset syncs of a Kafka -> Kafka route (what MirrorMaker 2 calls offset syncs): pairs
 * (source topic, partition, offset) -> (destination topic, partition, offset) taken from the
 * producer's delivery reports, so that a consumer group's position on the source cluster can be
 * translated to the destination (docs/kafka.md, "Failover").
 *
 * A pair is kept only at a sync point, not for every record: the first record of a source
 * partition, then whenever the source offset moved BRG_KAFKA_SYNC_EVERY past the last sync, or
 * moved BRG_KAFKA_SYNC_DRIFT past it while the two offsets drifted apart (records filtered,
 * dead-lettered or written twice make the destination advance differently). The last
 * BRG_KAFKA_SYNC_HISTORY syncs of each partition stay in memory; each one is also written as a
 * record to the destination's offset-syncs topic (see brg_kafka_sync_encode).
 *
 * Translation (brg_kafka_sync_translate) never skips a record: a committed source offset C (the
 * next record the group reads) becomes the destination offset of the sync with the largest
 * source offset S <= C, plus one if S < C (the group had read S). What comes after S on the
 * source comes after that sync's destination offset on the destination, because a route that
 * syncs offsets keeps each source partition in the partition of the same number, in order. A
 * failed-over consumer reads again at most the records between that sync and its position.
 *
 * Used by the endpoint thread only (the delivery reports): no lock. */
#ifndef BRG_KAFKA_OFFSET_SYNC_H
#define BRG_KAFKA_OFFSET_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct brg_conf_node;

#define BRG_KAFKA_SYNC_EVERY 1000
#define BRG_KAFKA_SYNC_DRIFT 100
#define BRG_KAFKA_SYNC_HISTORY 64

typedef struct brg_kafka_sync {
    const char *src_topic; /* borrowed from the map (or the decoded record) */
    int32_t src_partition;
    int64_t src_offset;
    const char *dst_topic;
    int32_t dst_partition;
    int64_t dst_offset;
} brg_kafka_sync_t;

typedef struct brg_kafka_sync_map brg_kafka_sync_map_t;

brg_kafka_sync_map_t *brg_kafka_sync_map_new(void);
void brg_kafka_sync_map_free(brg_kafka_sync_map_t *m);
/* Call fn for each source partition the map has a sync for (in no order). Returns: how many. */
typedef void (*brg_kafka_sync_source_fn)(void *arg, const char *src_topic, int32_t partition);
size_t brg_kafka_sync_map_sources(const brg_kafka_sync_map_t *m, brg_kafka_sync_source_fn fn,
                                  void *arg);

/* A record confirmed on the destination. Returns: true if it is a sync point; then *out holds
 * the pair (its strings live as long as the map). Pairs that go back on the source (a record
 * delivered again after a retry) are ignored: the earlier sync stays right. */
bool brg_kafka_sync_note(brg_kafka_sync_map_t *m, const char *src_topic, int32_t src_partition,
                         int64_t src_offset, const char *dst_topic, int32_t dst_partition,
                         int64_t dst_offset, brg_kafka_sync_t *out);

/* Keep a sync read back from the offset-syncs topic (same rules as brg_kafka_sync_note, without
 * the spacing: every pair read is kept, oldest first). */
void brg_kafka_sync_add(brg_kafka_sync_map_t *m, const brg_kafka_sync_t *s);

/* Translate the committed source offset `committed` of src_topic[src_partition] (see above).
 * Returns: true with *dst_topic, *dst_partition and *dst_offset set; false when no sync is at
 * or before it (the caller must start from the earliest destination offset: re-reads, skips
 * nothing). */
bool brg_kafka_sync_translate(const brg_kafka_sync_map_t *m, const char *src_topic,
                              int32_t src_partition, int64_t committed, const char **dst_topic,
                              int32_t *dst_partition, int64_t *dst_offset);

/* How many records before `committed` the sync that translates it is (committed minus its
 * source offset): at most what a consumer failing over from there reads again. Returns: -1
 * when nothing translates it. */
int64_t brg_kafka_sync_behind(const brg_kafka_sync_map_t *m, const char *src_topic,
                              int32_t src_partition, int64_t committed);

/* The topic a sink's offset syncs go to: its offset_syncs_topic, else ROUTE.offset-syncs
 * (written into buf). The sink and `msgbridge offsets` both name it here. */
const char *brg_kafka_sync_topic(const struct brg_conf_node *to_cs, const char *route, char *buf,
                                 size_t size);

/* The record written to the offset-syncs topic: key "SRC_TOPIC/PARTITION" (compaction keeps
 * the newest sync of each source partition), value a JSON object {"source_topic": ...,
 * "source_partition": N, "source_offset": N, "topic": ..., "partition": N, "offset": N}.
 * Returns: the value's length (written to buf, NUL-terminated, truncated to size). */
size_t brg_kafka_sync_encode_key(const brg_kafka_sync_t *s, char *buf, size_t size);
size_t brg_kafka_sync_encode_value(const brg_kafka_sync_t *s, char *buf, size_t size);
/* Parse a value written by brg_kafka_sync_encode_value. Returns: false if it is not one. The
 * topic names are copied into the two buffers (each of size BRG_KAFKA_TOPIC_MAX + 1). */
#define BRG_KAFKA_TOPIC_MAX 249
bool brg_kafka_sync_decode_value(const char *value, size_t len, brg_kafka_sync_t *out,
                                 char *src_topic_buf, char *dst_topic_buf);

#endif
