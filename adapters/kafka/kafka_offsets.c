/* Per-partition contiguous settled prefix (see kafka_offsets.h). */
#include "adapters/kafka/kafka_offsets.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/err.h"

void brg_kafka_track_init(brg_kafka_track_t *t)
{
    memset(t, 0, sizeof(*t));
    t->last_taken = -1;
    t->rewind_to = -1;
    t->committable = -1;
    t->expect = -1;
}

void brg_kafka_track_fini(brg_kafka_track_t *t)
{
    free(t->ring);
    brg_kafka_track_init(t);
}

/* The ring's capacity is a power of two (64, doubled by grow), so an index wraps with a mask:
 * a division per probe was most of brg_kafka_track_settle's cost on a Kafka -> Kafka drain. */
static brg_kafka_track_entry_t *at(const brg_kafka_track_t *t, size_t i)
{
    return &t->ring[(t->head + i) & (t->cap - 1)];
}

/* The ring's least capacity, and what it shrinks to when nearly empty. */
#define RING_MIN 64

/* Move the entries to a ring of ncap (a power of two, at least len). */
static void resize(brg_kafka_track_t *t, size_t ncap)
{
    brg_kafka_track_entry_t *n = brg_xmalloc(ncap * sizeof(*n));
    for (size_t i = 0; i < t->len; i++) {
        n[i] = *at(t, i);
    }
    free(t->ring);
    t->ring = n;
    t->cap = ncap;
    t->head = 0;
}

bool brg_kafka_track_take(brg_kafka_track_t *t, int64_t offset, uint32_t *epoch)
{
    if (offset < 0 || offset <= t->last_taken) {
        return false;
    }
    if (t->len == t->cap) {
        resize(t, t->cap ? t->cap * 2 : RING_MIN);
    }
    *at(t, t->len) = (brg_kafka_track_entry_t){offset, t->epoch, BRG_KAFKA_PENDING};
    t->len++;
    t->last_taken = offset;
    *epoch = t->epoch;
    return true;
}

/* Returns: the index of the entry with this offset, or -1. Entries are sorted by offset. */
static long find(const brg_kafka_track_t *t, int64_t offset)
{
    if (t->len == 0) {
        return -1;
    }
    /* A partition's offsets are usually contiguous (no compaction or transaction markers in
     * between): then the entry is at its distance from the first one. */
    int64_t guess = offset - at(t, 0)->offset;
    if (guess >= 0 && (size_t)guess < t->len && at(t, (size_t)guess)->offset == offset) {
        return (long)guess;
    }
    size_t lo = 0, hi = t->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t o = at(t, mid)->offset;
        if (o == offset) {
            return (long)mid;
        }
        if (o < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

brg_kafka_settle_res_t brg_kafka_track_settle(brg_kafka_track_t *t, int64_t offset,
                                              uint32_t epoch, brg_outcome_t outcome)
{
    long i = find(t, offset);
    if (i < 0) {
        return BRG_KAFKA_SETTLE_STALE;
    }
    brg_kafka_track_entry_t *e = at(t, (size_t)i);
    /* A different epoch means this offset was dropped by a rewind or reset and taken again:
     * the outcome belongs to the earlier copy. A second settle of one copy is a bug
     * elsewhere; ignoring it keeps the first (which may already be committed). */
    if (e->epoch != epoch || e->state != BRG_KAFKA_PENDING) {
        return BRG_KAFKA_SETTLE_STALE;
    }
    switch (outcome) {
    case BRG_ACCEPTED: e->state = BRG_KAFKA_DONE; break;
    case BRG_RETRY:
        e->state = BRG_KAFKA_RETRY;
        if (t->rewind_to < 0 || offset < t->rewind_to) {
            t->rewind_to = offset;
        }
        break;
    case BRG_REJECTED: e->state = BRG_KAFKA_REJECTED; break;
    }
    return BRG_KAFKA_SETTLE_OK;
}

bool brg_kafka_track_advance(brg_kafka_track_t *t, int64_t *next)
{
    bool moved = false;
    while (t->len > 0 && at(t, 0)->state == BRG_KAFKA_DONE) {
        /* The position to commit is the next record to read: one past the settled one. A gap
         * in offsets (compaction, transaction markers) is fine: Kafka skips it again. */
        t->committable = at(t, 0)->offset + 1;
        t->head = (t->head + 1) & (t->cap - 1);
        t->len--;
        moved = true;
    }
    if (!moved) {
        return false;
    }
    *next = t->committable;
    /* Give back what a burst made the ring grow to once it is an eighth full: the partitions
     * of a drain each peak at a different time, and rings kept at their peaks held 1.4 MB of
     * a 19 MB heap (docs/performance.md). An eighth, not a half, so that a ring does not
     * shrink and grow again with every batch. */
    size_t ncap = t->cap;
    while (ncap > RING_MIN && t->len <= ncap / 8) {
        ncap /= 2;
    }
    if (ncap != t->cap) {
        resize(t, ncap);
    }
    return true;
}

bool brg_kafka_track_rewind(brg_kafka_track_t *t, int64_t *to)
{
    if (t->rewind_to < 0) {
        return false;
    }
    int64_t x = t->rewind_to;
    /* Everything from the retried record on is taken again, in order, so that the sink sees
     * the partition's records in their original order; later records already accepted
     * become duplicates, which at-least-once allows. */
    while (t->len > 0 && at(t, t->len - 1)->offset >= x) {
        t->len--;
    }
    t->epoch++;
    t->last_taken = x - 1;
    t->rewind_to = -1;
    t->expect = x;
    t->expect_misses = 0;
    *to = x;
    return true;
}

bool brg_kafka_track_check_expected(brg_kafka_track_t *t, int64_t offset)
{
    if (t->expect < 0) {
        return true;
    }
    if (offset == t->expect || ++t->expect_misses > BRG_KAFKA_EXPECT_TRIES) {
        t->expect = -1;
        t->expect_misses = 0;
        return true;
    }
    return false;
}

void brg_kafka_track_gap(brg_kafka_track_t *t, int64_t next)
{
    t->last_taken = next - 1;
    t->expect = next;
    t->expect_misses = 0;
}

void brg_kafka_track_reset(brg_kafka_track_t *t)
{
    uint32_t epoch = t->epoch + 1;
    brg_kafka_track_entry_t *ring = t->ring;
    size_t cap = t->cap;
    brg_kafka_track_init(t);
    t->ring = ring;
    t->cap = cap;
    t->epoch = epoch;
}

size_t brg_kafka_track_count(const brg_kafka_track_t *t)
{
    return t->len;
}

int64_t brg_kafka_track_first(const brg_kafka_track_t *t)
{
    return t->len > 0 ? at(t, 0)->offset : -1;
}

bool brg_kafka_track_blocked(const brg_kafka_track_t *t)
{
    return t->len > 0 && at(t, 0)->state == BRG_KAFKA_REJECTED;
}
