/* A small scheduler thread for the engine: delayed callbacks (fan-out retries) and a periodic
 * tick (rate-limit refills wake paused sources). Thread: all functions may be called from any
 * thread; callbacks run on the timer thread and must not block. */
#ifndef BRG_TIMER_H
#define BRG_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct brg_timer brg_timer_t;

/* cancelled is true when the timer is stopping: the callback must finish its work at once. */
typedef void(brg_timer_fn)(void *arg, bool cancelled);

/* Start the thread; tick(tick_arg) runs every tick_ms (tick may be NULL). */
brg_timer_t *brg_timer_new(uint32_t tick_ms, void (*tick)(void *), void *tick_arg);
/* Run fn(arg, false) at monotonic time due_ns (brg_now_ns() clock). */
void brg_timer_at(brg_timer_t *t, int64_t due_ns, brg_timer_fn *fn, void *arg);
/* Change the tick's argument (NULL pauses it: tick(NULL) is not called). */
void brg_timer_set_tick_arg(brg_timer_t *t, void *arg);
/* Stop the thread; every pending callback runs with cancelled = true first. Accepts NULL. */
void brg_timer_destroy(brg_timer_t *t);

#endif
