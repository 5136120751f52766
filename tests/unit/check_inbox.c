/* Inboxes (bridge/inbox.h): order through batches, many producers and one consumer, and no
 * lost wake with eventfd semantics under a hammering. */
#include "tests/check_main.h"
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/inbox.h"
#include "bridge/route.h"

/* The tests use attempts as the producer id and bytes as the sequence number. */
static brg_delivery_t *dlv_new(int producer, size_t seq)
{
    brg_delivery_t *d = calloc(1, sizeof(*d));
    d->attempts = producer;
    d->bytes = seq;
    return d;
}

START_TEST(test_inbox_keeps_order_through_batches)
{
    brg_inbox_t ib;
    brg_inbox_init(&ib);
    size_t seq = 0;
    /* Batches of 1, 2, ... 10, and single pushes in between. */
    bool first = true;
    for (size_t b = 1; b <= 10; b++) {
        brg_dchain_t c = {0};
        for (size_t i = 0; i < b; i++) {
            brg_dchain_add(&c, dlv_new(0, seq++));
        }
        ck_assert_uint_eq(c.len, b);
        bool wake = brg_inbox_push_chain(&ib, &c);
        /* Only the first push after a take asks for a wake. */
        ck_assert(wake == first);
        first = false;
        ck_assert_ptr_null(c.head);
        ck_assert(!brg_inbox_push(&ib, dlv_new(0, seq++)));
    }
    brg_dfifo_t out = {0};
    ck_assert_uint_eq(brg_inbox_take_all(&ib, &out), seq);
    ck_assert_uint_eq(out.len, seq);
    for (size_t i = 0; i < seq; i++) {
        brg_delivery_t *d = brg_dfifo_pop(&out);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->bytes, i);
        free(d);
    }
    ck_assert_ptr_null(brg_dfifo_pop(&out));
    ck_assert_uint_eq(brg_inbox_take_all(&ib, &out), 0);
    /* Taken: the next push wakes again. */
    brg_delivery_t *d = dlv_new(0, 0);
    ck_assert(brg_inbox_push(&ib, d));
    ck_assert_uint_eq(brg_inbox_take_all(&ib, &out), 1);
    ck_assert_ptr_eq(brg_dfifo_pop(&out), d);
    free(d);
}
END_TEST

START_TEST(test_inbox_take_appends_to_what_was_taken)
{
    brg_inbox_t ib;
    brg_inbox_init(&ib);
    brg_dfifo_t out = {0};
    brg_dfifo_push(&out, dlv_new(0, 0));
    brg_inbox_push(&ib, dlv_new(0, 1));
    brg_inbox_push(&ib, dlv_new(0, 2));
    ck_assert_uint_eq(brg_inbox_take_all(&ib, &out), 2);
    for (size_t i = 0; i < 3; i++) {
        brg_delivery_t *d = brg_dfifo_pop(&out);
        ck_assert_uint_eq(d->bytes, i);
        free(d);
    }
    ck_assert_uint_eq(out.len, 0);
}
END_TEST

/* ---- producers and a consumer on an eventfd ------------------------------------------------ */

#define PRODUCERS 4
#define PER_PRODUCER 200000

typedef struct hammer {
    brg_inbox_t ib;
    int fd;
    int id;
    _Atomic uint64_t wakes;
} hammer_t;

typedef struct producer_arg {
    hammer_t *h;
    int id;
} producer_arg_t;

static void *producer(void *arg)
{
    producer_arg_t *pa = arg;
    hammer_t *h = pa->h;
    size_t seq = 0;
    unsigned r = (unsigned)pa->id * 2654435761u;
    while (seq < PER_PRODUCER) {
        /* Batches of 1 to 16, as a source's outbox would flush them. */
        r = r * 1103515245u + 12345u;
        size_t n = 1 + (r >> 16) % 16;
        brg_dchain_t c = {0};
        for (size_t i = 0; i < n && seq < PER_PRODUCER; i++) {
            brg_dchain_add(&c, dlv_new(pa->id, seq++));
        }
        if (brg_inbox_push_chain(&h->ib, &c)) {
            uint64_t one = 1;
            ssize_t w = write(h->fd, &one, sizeof(one));
            ck_assert_int_eq(w, sizeof(one));
            atomic_fetch_add(&h->wakes, 1);
        }
    }
    return NULL;
}

START_TEST(test_inbox_mpsc_never_loses_a_wake)
{
    hammer_t h;
    memset(&h, 0, sizeof(h));
    brg_inbox_init(&h.ib);
    h.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ck_assert_int_ge(h.fd, 0);
    pthread_t t[PRODUCERS];
    producer_arg_t pa[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i] = (producer_arg_t){&h, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, producer, &pa[i]), 0);
    }
    size_t next[PRODUCERS] = {0};
    size_t total = 0, takes = 0;
    brg_dfifo_t out = {0};
    /* The consumer sleeps in poll(2) with no timeout that matters: a lost wake shows up as a
     * 10 s poll timeout with messages still queued, and fails the test. */
    while (total < (size_t)PRODUCERS * PER_PRODUCER) {
        struct pollfd pfd = {.fd = h.fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 10000);
        ck_assert_msg(pr == 1, "no wake for 10 s with %zu of %d taken", total,
                      PRODUCERS * PER_PRODUCER);
        uint64_t v;
        ssize_t rd = read(h.fd, &v, sizeof(v));
        (void)rd;
        takes += brg_inbox_take_all(&h.ib, &out) > 0;
        brg_delivery_t *d;
        while ((d = brg_dfifo_pop(&out))) {
            /* Each producer's order is kept. */
            ck_assert_uint_eq(d->bytes, next[d->attempts]);
            next[d->attempts]++;
            total++;
            free(d);
        }
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_uint_eq(next[i], PER_PRODUCER);
    }
    /* Nothing left behind, and at most one wake per take plus one. */
    ck_assert_uint_eq(brg_inbox_take_all(&h.ib, &out), 0);
    ck_assert_uint_le(atomic_load(&h.wakes), takes + PRODUCERS + 1);
    close(h.fd);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("inbox");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_inbox_keeps_order_through_batches);
    tcase_add_test(tc, test_inbox_take_appends_to_what_was_taken);
    tcase_add_test(tc, test_inbox_mpsc_never_loses_a_wake);
    suite_add_tcase(s, tc);
    return s;
}
