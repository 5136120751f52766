#include "bridge/tslot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Bit i set: slot i is owned by a live thread. */
static atomic_uint_least32_t taken;
static _Thread_local int tl_slot = -2; /* -2: not asked yet; -1: none free */
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void slot_release(void *p)
{
    int i = (int)(intptr_t)p - 1;
    /* Release: the next owner's acquire sees this thread's last counter stores. */
    atomic_fetch_and_explicit(&taken, ~((uint_least32_t)1 << i), memory_order_release);
}

static void slot_key_init(void)
{
    (void)pthread_key_create(&slot_key, slot_release);
}

int brg_tslot(void)
{
    if (tl_slot != -2) {
        return tl_slot;
    }
    pthread_once(&slot_once, slot_key_init);
    uint_least32_t cur = atomic_load_explicit(&taken, memory_order_acquire);
    for (;;) {
        int i = 0;
        while (i < BRG_TSLOTS && (cur & ((uint_least32_t)1 << i))) {
            i++;
        }
        if (i == BRG_TSLOTS) {
            tl_slot = -1;
            return -1;
        }
        if (atomic_compare_exchange_weak_explicit(&taken, &cur, cur | ((uint_least32_t)1 << i),
                                                  memory_order_acq_rel, memory_order_acquire)) {
            /* The key's value is slot + 1: a NULL value would not run the destructor. */
            (void)pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1));
            tl_slot = i;
            return i;
        }
    }
}
