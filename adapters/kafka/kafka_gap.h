/* Gap detection for the Kafka source: is the record that just arrived the one the partition
 * should have delivered next, and if not, were records lost on the broker?
 *
 * Two ways a consumer skips records without being told (librdkafka only logs a warning when it
 * resets an out-of-range offset per auto.offset.reset):
 * - REMOVED: retention or DeleteRecords deleted records before the route read them. The fetch
 *   at the expected offset fails (offset out of range), librdkafka resets, and the next record
 *   comes from the log start. Seen as: a record past the expected offset while the log start
 *   (the low watermark of the fetch that brought it) is past the expected offset too. A record
 *   past the expected offset with the log start at or before it is normal: compaction and
 *   transaction markers leave holes in the offsets.
 * - RESTARTED: the partition's log started again (topic deleted and recreated, or truncated).
 *   Seen as: the partition's log now ends (high watermark) at or before the highest offset
 *   already read, or before the expected offset (the group's committed one after a restart of
 *   msgbridge), and the record is below it. A healthy log never loses an offset it served.
 * A recreated topic that already holds more records than the old one had when the consumer
 * fetches again cannot be told from the old one by offsets (librdkafka 2.0 has no topic ids).
 *
 * Pure: no librdkafka, no state. Thread: any. */
#ifndef BRG_KAFKA_GAP_H
#define BRG_KAFKA_GAP_H

#include <stdint.h>

typedef enum brg_kafka_gap {
    BRG_KAFKA_GAP_NONE = 0,
    BRG_KAFKA_GAP_REMOVED,
    BRG_KAFKA_GAP_RESTARTED,
} brg_kafka_gap_t;

/* expected: the offset the partition should deliver next (-1 unknown); read_high: the highest
 * offset already read from it (-1 none); offset: the record that arrived; low, high: the
 * partition's log start and high watermark as of the latest fetch (-1 unknown).
 * Returns: the kind of gap; for REMOVED, *skipped gets how many offsets were deleted before they
 * were read (from expected to the log start, or to offset if that is lower); for RESTARTED and
 * NONE, *skipped is 0 (the caller knows what it had not read of the old log). */
brg_kafka_gap_t brg_kafka_gap_check(int64_t expected, int64_t read_high, int64_t offset,
                                    int64_t low, int64_t high, int64_t *skipped);

/* Returns: "continue" or "stop" as a policy (the on_gap key), or -1 if s is neither. */
int brg_kafka_gap_policy(const char *s);
#define BRG_KAFKA_GAP_CONTINUE 0
#define BRG_KAFKA_GAP_STOP 1

#endif
