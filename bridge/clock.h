/* Clocks and reconnect backoff. Bottom layer: uses nothing of ours. */
#ifndef BRG_CLOCK_H
#define BRG_CLOCK_H

#include <stdint.h>

/* Monotonic clock in nanoseconds (for deadlines and durations) / wall clock in milliseconds
 * since the epoch (for timestamps that leave the process). Thread: any. */
int64_t brg_now_ns(void);
int64_t brg_wall_ms(void);

/* A batch's clock, for what is stamped on every message of a batch that a thread handles in one
 * go (metrics' arrival time and latencies): between brg_clock_batch_begin and _end, the
 * brg_batch_* functions read each clock once and return that reading again. Outside a batch
 * they read the clock. Three clock reads per message were 2-3% of a Kafka -> Kafka route's
 * CPU; a batch lasts well under a millisecond. Batches do not nest. Thread: the calling
 * thread's own (thread-local). */
void brg_clock_batch_begin(void);
void brg_clock_batch_end(void);
int64_t brg_batch_now_ns(void);
int64_t brg_batch_wall_ms(void);

/* Decorrelated-jitter exponential backoff (AWS architecture blog; Mosquitto's bridge):
 * next = min(cap, random(base, prev * 3)).
 * Ownership: a plain value, embedded by its user. Thread: one at a time. */
typedef struct brg_backoff {
    uint32_t base_ms, cap_ms, prev_ms;
    uint32_t seed;
} brg_backoff_t;
/* A base of 0 counts as 1 ms; a cap below the base is the base. */
void brg_backoff_init(brg_backoff_t *b, uint32_t base_ms, uint32_t cap_ms);
/* Returns: the next delay in milliseconds, between base and cap. */
uint32_t brg_backoff_next(brg_backoff_t *b);
/* Start again from the base (after a success). */
void brg_backoff_reset(brg_backoff_t *b);

#endif
