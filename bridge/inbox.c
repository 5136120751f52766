/* Intrusive MPSC inbox of deliveries: see inbox.h for the algorithm and the no-lost-wake
 * argument. */
#include "bridge/inbox.h"

#include "bridge/route.h"

void brg_inbox_init(brg_inbox_t *ib)
{
    atomic_init(&ib->head, NULL);
    atomic_init(&ib->signalled, false);
}

void brg_dchain_add(brg_dchain_t *c, brg_delivery_t *d)
{
    d->next = c->head;
    c->head = d;
    if (!c->tail) {
        c->tail = d;
    }
    c->len++;
}

bool brg_inbox_push_chain(brg_inbox_t *ib, brg_dchain_t *c)
{
    if (!c->head) {
        return false;
    }
    brg_delivery_t *old = atomic_load(&ib->head);
    do {
        c->tail->next = old;
    } while (!atomic_compare_exchange_weak(&ib->head, &old, c->head));
    c->head = c->tail = NULL;
    c->len = 0;
    /* After the push (seq_cst): see inbox.h for why no wake is lost. */
    return !atomic_exchange(&ib->signalled, true);
}

bool brg_inbox_push(brg_inbox_t *ib, brg_delivery_t *d)
{
    brg_dchain_t c = {0};
    brg_dchain_add(&c, d);
    return brg_inbox_push_chain(ib, &c);
}

size_t brg_inbox_take_all(brg_inbox_t *ib, brg_dfifo_t *out)
{
    /* Clear before taking: a push after the clear either is in this take or wakes again. */
    atomic_store(&ib->signalled, false);
    brg_delivery_t *d = atomic_exchange(&ib->head, NULL);
    if (!d) {
        return 0;
    }
    /* Newest first -> oldest first. */
    brg_delivery_t *rev = NULL, *last = d;
    size_t n = 0;
    while (d) {
        brg_delivery_t *next = d->next;
        d->next = rev;
        rev = d;
        d = next;
        n++;
    }
    if (out->tail) {
        out->tail->next = rev;
    } else {
        out->head = rev;
    }
    out->tail = last;
    out->len += n;
    return n;
}

void brg_dfifo_push(brg_dfifo_t *q, brg_delivery_t *d)
{
    d->next = NULL;
    if (q->tail) {
        q->tail->next = d;
    } else {
        q->head = d;
    }
    q->tail = d;
    q->len++;
}

brg_delivery_t *brg_dfifo_pop(brg_dfifo_t *q)
{
    brg_delivery_t *d = q->head;
    if (d) {
        q->head = d->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->len--;
        d->next = NULL;
    }
    return d;
}
