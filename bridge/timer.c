#include "bridge/timer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "bridge/clock.h"
#include "bridge/err.h"
#include "bridge/log.h"

typedef struct entry {
    int64_t due_ns;
    brg_timer_fn *fn;
    void *arg;
    struct entry *next;
} entry_t;

struct brg_timer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    entry_t *head; /* sorted by due time */
    bool stop;
    uint32_t tick_ms;
    void (*tick)(void *);
    void *tick_arg;
};

static void *timer_main(void *arg)
{
    brg_timer_t *t = arg;
    int64_t next_tick = brg_now_ns() + (int64_t)t->tick_ms * 1000000;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        int64_t now = brg_now_ns();
        if (t->head && t->head->due_ns <= now) {
            entry_t *e = t->head;
            t->head = e->next;
            pthread_mutex_unlock(&t->lock);
            e->fn(e->arg, false);
            free(e);
            pthread_mutex_lock(&t->lock);
            continue;
        }
        if (t->tick && now >= next_tick) {
            next_tick = now + (int64_t)t->tick_ms * 1000000;
            /* The tick runs under the lock so that set_tick_arg() waits for a running tick. */
            if (t->tick_arg) {
                t->tick(t->tick_arg);
            }
            continue;
        }
        int64_t wake = t->tick ? next_tick : now + 1000000000;
        if (t->head && t->head->due_ns < wake) {
            wake = t->head->due_ns;
        }
        /* The condition variable uses CLOCK_MONOTONIC (see brg_timer_new). */
        struct timespec ts = {wake / 1000000000, wake % 1000000000};
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

brg_timer_t *brg_timer_new(uint32_t tick_ms, void (*tick)(void *), void *tick_arg)
{
    brg_timer_t *t = brg_xcalloc(1, sizeof(*t));
    t->tick_ms = tick_ms ? tick_ms : 10;
    t->tick = tick;
    t->tick_arg = tick_arg;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, timer_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        brg_log_error(NULL, "cannot start the timer thread: error %d", rc);
        abort();
    }
    return t;
}

void brg_timer_at(brg_timer_t *t, int64_t due_ns, brg_timer_fn *fn, void *arg)
{
    entry_t *e = brg_xcalloc(1, sizeof(*e));
    e->due_ns = due_ns;
    e->fn = fn;
    e->arg = arg;
    pthread_mutex_lock(&t->lock);
    entry_t **pp = &t->head;
    while (*pp && (*pp)->due_ns <= due_ns) {
        pp = &(*pp)->next;
    }
    e->next = *pp;
    *pp = e;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void brg_timer_set_tick_arg(brg_timer_t *t, void *arg)
{
    pthread_mutex_lock(&t->lock);
    t->tick_arg = arg;
    pthread_mutex_unlock(&t->lock);
}

void brg_timer_destroy(brg_timer_t *t)
{
    if (!t) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    entry_t *e = t->head;
    while (e) {
        entry_t *next = e->next;
        e->fn(e->arg, true);
        free(e);
        e = next;
    }
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
