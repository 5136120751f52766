/* Gap detection for the Kafka source (kafka_gap.h). */
#include "adapters/kafka/kafka_gap.h"

#include <string.h>

brg_kafka_gap_t brg_kafka_gap_check(int64_t expected, int64_t read_high, int64_t offset,
                                    int64_t low, int64_t high, int64_t *skipped)
{
    *skipped = 0;
    /* First: the log ends at or before an offset already read, so this record belongs to a
     * newer log (the offsets went backwards). */
    if (read_high >= 0 && high >= 0 && high <= read_high && offset <= read_high) {
        return BRG_KAFKA_GAP_RESTARTED;
    }
    /* The same seen from a committed offset only (msgbridge restarted since): the log ends
     * before the offset the group had reached. */
    if (expected >= 0 && high >= 0 && high < expected && offset < expected) {
        return BRG_KAFKA_GAP_RESTARTED;
    }
    if (expected >= 0 && offset > expected && low > expected) {
        *skipped = (low < offset ? low : offset) - expected;
        return BRG_KAFKA_GAP_REMOVED;
    }
    return BRG_KAFKA_GAP_NONE;
}

int brg_kafka_gap_policy(const char *s)
{
    if (!s || strcmp(s, "continue") == 0) {
        return BRG_KAFKA_GAP_CONTINUE;
    }
    if (strcmp(s, "stop") == 0) {
        return BRG_KAFKA_GAP_STOP;
    }
    return -1;
}
