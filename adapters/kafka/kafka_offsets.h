/* Per-partition offset tracking for the Kafka source (DESIGN.md section 3, step 5).
 *
 * A consumer takes records of one partition in increasing offset order and hands each to a
 * route; outcomes come back in any order. Kafka only lets a consumer commit a position (the
 * next offset to read), so the source may store a position only once every record before it
 * is settled: the contiguous settled prefix. A RETRY rewinds the partition to the lowest
 * retried offset (records from there on are taken again, in order); a REJECTED record is never
 * passed (the core has stopped the route and the source keeps the message).
 *
 * Each taken record gets an epoch. Rewinding or resetting (partition revoked) starts a new
 * epoch for what is dropped, so a settle that arrives for a record taken before is recognised
 * as stale and ignored: it was, or will be, taken again.
 *
 * Pure bookkeeping: no librdkafka, no threads. Thread: one tracker is used by one thread (the
 * endpoint's). */
#ifndef BRG_KAFKA_OFFSETS_H
#define BRG_KAFKA_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/adapter.h"

typedef struct brg_kafka_track_entry {
    int64_t offset;
    uint32_t epoch;
    uint8_t state; /* BRG_KAFKA_PENDING, ... */
} brg_kafka_track_entry_t;

enum {
    BRG_KAFKA_PENDING = 0,
    BRG_KAFKA_DONE,
    BRG_KAFKA_RETRY,
    BRG_KAFKA_REJECTED,
};

/* One partition's in-flight records, oldest first (a ring buffer: taking and settling the
 * prefix are O(1), finding an entry is a binary search). */
typedef struct brg_kafka_track {
    brg_kafka_track_entry_t *ring;
    size_t head, len, cap;
    uint32_t epoch;       /* stamped on records taken from now on */
    int64_t last_taken;   /* highest offset taken in this epoch, -1 if none */
    int64_t rewind_to;    /* lowest retried offset not yet rewound to, -1 if none */
    int64_t committable;  /* position (next offset) the settled prefix reached, -1 if none */
    int64_t expect;       /* after a rewind: the offset the next record must have, else -1 */
    int expect_misses;    /* records that arrived past `expect` since the rewind */
} brg_kafka_track_t;

/* Outcome of brg_kafka_track_settle(). */
typedef enum brg_kafka_settle_res {
    BRG_KAFKA_SETTLE_OK = 0, /* recorded */
    BRG_KAFKA_SETTLE_STALE,  /* taken in an earlier epoch, or unknown: ignore it */
} brg_kafka_settle_res_t;

void brg_kafka_track_init(brg_kafka_track_t *t);
void brg_kafka_track_fini(brg_kafka_track_t *t);

/* Record that the record at offset was taken. *epoch gets the epoch to remember with it.
 * Returns: false if offset is not above every offset already taken in this epoch (a record
 * seen twice): the caller must not hand it on. */
bool brg_kafka_track_take(brg_kafka_track_t *t, int64_t offset, uint32_t *epoch);

/* Record the outcome of the record at offset taken in epoch. RETRY marks a rewind point
 * (see brg_kafka_track_rewind). Returns: OK or STALE. */
brg_kafka_settle_res_t brg_kafka_track_settle(brg_kafka_track_t *t, int64_t offset,
                                              uint32_t epoch, brg_outcome_t outcome);

/* Drop the settled prefix. Returns: true if the committable position advanced, with it in
 * *next (the offset to store: the first record not yet settled, or the last one + 1). */
bool brg_kafka_track_advance(brg_kafka_track_t *t, int64_t *next);

/* If a RETRY was recorded: drop every entry at or after the lowest retried offset, start a
 * new epoch and return true with that offset in *to (the caller seeks the consumer there).
 * The next record taken must then have offset *to (see brg_kafka_track_check_expected). */
bool brg_kafka_track_rewind(brg_kafka_track_t *t, int64_t *to);

/* After a rewind, the first record taken must be the rewind point. Returns: true if offset
 * is acceptable (no rewind pending, or it is the expected offset, which clears the
 * expectation); false if the consumer delivered past the rewind point (the caller seeks
 * again). After BRG_KAFKA_EXPECT_TRIES misses the record is accepted: the rewind point no
 * longer exists in the log (retention deleted it), so there is nothing left to redeliver. */
#define BRG_KAFKA_EXPECT_TRIES 3
bool brg_kafka_track_check_expected(brg_kafka_track_t *t, int64_t offset);

/* The log no longer has the offsets before next that the tracker waits for (retention removed
 * them, or the log started again): the next record taken must be next (as after a rewind to
 * next; records already taken stay tracked). */
void brg_kafka_track_gap(brg_kafka_track_t *t, int64_t next);

/* Forget everything (partition revoked or assigned anew) and start a new epoch. */
void brg_kafka_track_reset(brg_kafka_track_t *t);

/* Returns: how many records are taken and not yet dropped (in flight or waiting for the
 * prefix to reach them). */
size_t brg_kafka_track_count(const brg_kafka_track_t *t);

/* Returns: the offset of the oldest record taken and not yet dropped (the first one not
 * settled ACCEPTED, until the next brg_kafka_track_advance), or -1 if there is none. */
int64_t brg_kafka_track_first(const brg_kafka_track_t *t);

/* Returns: true if the record at the head of the prefix was REJECTED (the partition is
 * blocked until the route is reconfigured). */
bool brg_kafka_track_blocked(const brg_kafka_track_t *t);

#endif
