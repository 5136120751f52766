/* Clocks and backoff (see clock.h). */
#include "bridge/clock.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

int64_t brg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t brg_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The open batch's readings; 0: not read yet (neither clock reads 0 once the machine is up). */
static _Thread_local struct {
    bool open;
    int64_t now_ns, wall_ms;
} batch;

void brg_clock_batch_begin(void)
{
    batch.open = true;
    batch.now_ns = batch.wall_ms = 0;
}

void brg_clock_batch_end(void)
{
    batch.open = false;
}

/* The batch's reading of a clock, read on first use; the clock itself outside a batch. */
static int64_t batch_read(int64_t *slot, int64_t (*read)(void))
{
    if (!batch.open) {
        return read();
    }
    if (*slot == 0) {
        *slot = read();
    }
    return *slot;
}

int64_t brg_batch_now_ns(void)
{
    return batch_read(&batch.now_ns, brg_now_ns);
}

int64_t brg_batch_wall_ms(void)
{
    return batch_read(&batch.wall_ms, brg_wall_ms);
}

void brg_backoff_init(brg_backoff_t *b, uint32_t base_ms, uint32_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->prev_ms = b->base_ms;
    b->seed = (uint32_t)brg_now_ns() ^ (uint32_t)(uintptr_t)b;
}

void brg_backoff_reset(brg_backoff_t *b)
{
    b->prev_ms = b->base_ms;
}

uint32_t brg_backoff_next(brg_backoff_t *b)
{
    /* Decorrelated jitter: spreads reconnects of many bridges after a broker restart while
     * still growing geometrically (Marc Brooker, "Exponential Backoff And Jitter"). */
    uint64_t hi = (uint64_t)b->prev_ms * 3;
    if (hi > b->cap_ms) {
        hi = b->cap_ms;
    }
    uint32_t span = hi > b->base_ms ? (uint32_t)(hi - b->base_ms) : 0;
    uint32_t next = b->base_ms + (span ? (uint32_t)(rand_r(&b->seed) % (span + 1)) : 0);
    b->prev_ms = next;
    return next;
}
