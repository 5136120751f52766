/* raw_amqp1: the fastest qpid-proton (proactor) can go against the bench broker's AMQP 1.0
 * listener, to put msgbridge's AMQP 1.0 figures next to (bench/run). Also preloads queues.
 *
 *   raw_amqp1 send -u HOST:PORT -a ADDRESS -n COUNT [-s SIZE] [-r RATE] [-L]
 *       durable messages with a data body, unsettled; each settled when the broker's
 *       disposition arrives (accepted counts); rate from the first send to the last outcome.
 *       -r paces the sends (1 ms ticks); -L stamps each body with the send time.
 *   raw_amqp1 receive -u HOST:PORT -a ADDRESS -n COUNT [-c CREDIT] [-T IDLE_S] [-L]
 *       decodes each message and accepts it; credit topped up to CREDIT (default 1000) when
 *       half is used; rate from the first delivery to the COUNT-th. -L also prints the
 *       latency percentiles of stamped bodies.
 *
 * Each prints one JSON line (bench_util.h). Exit status: 0 done, 1 fewer than COUNT or a
 * refused message, 2 setup error. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/transport.h>

#include "bench/bench_util.h"

static struct {
    bool sending;
    const char *address;
    uint64_t n;
    size_t size;
    int credit;
    int idle_s;
    double rate;
    bool stamp;
    pn_link_t *sender;
    uint64_t sent, accepted, refused, received, bytes;
    double t0, t_first, t_last;
    char *body;
    pn_message_t *msg;
    pn_rwbytes_t buf;
    pn_proactor_t *proactor;
    bool failed;
} A;

static void send_some(pn_link_t *l)
{
    A.sender = l;
    while (pn_link_credit(l) > 0 && A.sent < A.n) {
        if (A.rate > 0 && A.sent && bench_now() < A.t0 + (double)A.sent / A.rate) {
            return; /* not its turn: the 1 ms timer wakes the connection (handle()) */
        }
        if (A.stamp) {
            bench_stamp(A.body, A.size);
        }
        uint64_t tag = ++A.sent;
        pn_delivery(l, pn_dtag((const char *)&tag, sizeof(tag)));
        /* Encode each message, as a client with real messages would. */
        pn_message_clear(A.msg);
        pn_message_set_durable(A.msg, true);
        pn_message_set_inferred(A.msg, true);
        pn_data_t *body = pn_message_body(A.msg);
        pn_data_put_binary(body, pn_bytes(A.size, A.body));
        if (pn_message_send(A.msg, l, &A.buf) < 0) {
            bench_die("raw_amqp1: send: %s", pn_error_text(pn_message_error(A.msg)));
        }
        if (A.sent == 1) {
            A.t0 = bench_now();
        }
    }
}

static void on_delivery(pn_event_t *e)
{
    pn_delivery_t *d = pn_event_delivery(e);
    pn_link_t *l = pn_delivery_link(d);
    if (pn_link_is_sender(l)) {
        uint64_t st = pn_delivery_remote_state(d);
        if (!st) {
            return;
        }
        if (st == PN_ACCEPTED) {
            A.accepted++;
        } else if (A.refused++ < 5) {
            fprintf(stderr, "raw_amqp1: message refused (outcome %llu)\n",
                    (unsigned long long)st);
        }
        pn_delivery_settle(d);
        A.t_last = bench_now();
        if (A.accepted + A.refused >= A.n) {
            pn_connection_close(pn_event_connection(e));
        }
        return;
    }
    if (!pn_delivery_readable(d) || pn_delivery_partial(d)) {
        return;
    }
    size_t len = pn_delivery_pending(d);
    if (A.buf.size < len) {
        A.buf.start = realloc(A.buf.start, len);
        A.buf.size = len;
        if (!A.buf.start) {
            bench_die("raw_amqp1: out of memory");
        }
    }
    ssize_t got = pn_link_recv(l, A.buf.start, len);
    pn_link_advance(l);
    if (got < 0 || pn_message_decode(A.msg, A.buf.start, (size_t)got) != 0) {
        bench_die("raw_amqp1: cannot decode a message");
    }
    pn_data_t *body = pn_message_body(A.msg);
    pn_data_rewind(body);
    pn_bytes_t b = pn_data_next(body) ? pn_data_get_bytes(body) : pn_bytes(0, NULL);
    pn_delivery_update(d, PN_ACCEPTED);
    pn_delivery_settle(d);
    if (!A.received) {
        A.t_first = bench_now();
    }
    A.received++;
    A.bytes += b.size;
    if (A.stamp) {
        bench_lat_add(b.start, b.size);
    }
    A.t_last = bench_now();
    if (A.received >= A.n) {
        pn_connection_close(pn_event_connection(e));
    } else if (pn_link_credit(l) < A.credit / 2) {
        pn_link_flow(l, A.credit - pn_link_credit(l));
    }
}

/* Returns: false once the connection is gone. */
static bool handle(pn_event_t *e)
{
    switch (pn_event_type(e)) {
    case PN_CONNECTION_INIT: {
        pn_connection_t *c = pn_event_connection(e);
        pn_connection_set_container(c, A.sending ? "raw-amqp1-send" : "raw-amqp1-receive");
        pn_connection_open(c);
        pn_session_t *s = pn_session(c);
        pn_session_open(s);
        pn_link_t *l = A.sending ? pn_sender(s, "raw-sender") : pn_receiver(s, "raw-receiver");
        pn_terminus_set_address(A.sending ? pn_link_target(l) : pn_link_source(l), A.address);
        pn_link_open(l);
        if (!A.sending) {
            pn_link_flow(l, A.credit);
        }
        break;
    }
    case PN_LINK_FLOW: {
        pn_link_t *l = pn_event_link(e);
        if (pn_link_is_sender(l)) {
            send_some(l);
        }
        break;
    }
    case PN_DELIVERY:
        on_delivery(e);
        break;
    case PN_CONNECTION_WAKE:
        if (A.sender) {
            send_some(A.sender);
        }
        break;
    case PN_PROACTOR_TIMEOUT:
        if (bench_now() - (A.t_last ? A.t_last : A.t0) > A.idle_s) {
            fprintf(stderr, "raw_amqp1: idle for %d s: giving up\n", A.idle_s);
            A.failed = true;
            pn_proactor_disconnect(A.proactor, NULL);
        } else if (A.sending && A.rate > 0 && A.sent < A.n) {
            /* Paced sending: the link may only be touched from its connection's batch. Before
             * the link has credit there is nothing to wake, but the ticks go on. */
            if (A.sender) {
                pn_connection_wake(pn_session_connection(pn_link_session(A.sender)));
            }
            pn_proactor_set_timeout(A.proactor, 1);
        } else {
            pn_proactor_set_timeout(A.proactor, 500);
        }
        break;
    case PN_TRANSPORT_CLOSED: {
        pn_condition_t *cond = pn_transport_condition(pn_event_transport(e));
        if (pn_condition_is_set(cond)) {
            fprintf(stderr, "raw_amqp1: %s: %s\n", pn_condition_get_name(cond),
                    pn_condition_get_description(cond));
            A.failed = true;
        }
        /* One connection per run: its end is the end (the idle timer would keep the proactor
         * from ever going inactive). */
        return false;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_CONNECTION_REMOTE_CLOSE: {
        pn_condition_t *cond = pn_event_type(e) == PN_LINK_REMOTE_CLOSE
                                   ? pn_link_remote_condition(pn_event_link(e))
                                   : pn_connection_remote_condition(pn_event_connection(e));
        if (pn_condition_is_set(cond)) {
            fprintf(stderr, "raw_amqp1: closed by the broker: %s: %s\n",
                    pn_condition_get_name(cond), pn_condition_get_description(cond));
            A.failed = true;
        }
        pn_connection_close(pn_event_connection(e));
        break;
    }
    case PN_PROACTOR_INACTIVE:
        return false;
    default:
        break;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_die("usage: raw_amqp1 send|receive -u HOST:PORT -a ADDRESS -n COUNT [-s SIZE] "
                  "[-c CREDIT] [-T IDLE_S] [-r RATE] [-L]");
    }
    const char *url = "127.0.0.1:55672";
    A.sending = strcmp(argv[1], "send") == 0;
    if (!A.sending && strcmp(argv[1], "receive") != 0) {
        bench_die("raw_amqp1: unknown mode \"%s\"", argv[1]);
    }
    bench_opts_t o = bench_opts_default(0);
    A.credit = 1000;
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "u:a:n:s:c:T:r:L")) != -1) {
        if (bench_common_opt(&o, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'u': url = optarg; break;
        case 'a': A.address = optarg; break;
        case 'c': A.credit = atoi(optarg); break;
        default: return 2;
        }
    }
    A.n = o.n;
    A.size = o.size;
    A.idle_s = o.idle_s;
    A.rate = o.rate;
    A.stamp = o.stamp;
    if (!A.address || !A.n || A.credit < 1) {
        bench_die("raw_amqp1: -a ADDRESS and -n COUNT are required");
    }
    if (strncmp(url, "amqp://", 7) == 0) {
        url += 7;
    }
    signal(SIGPIPE, SIG_IGN);
    A.body = bench_body(A.size);
    A.msg = pn_message();
    A.proactor = pn_proactor();
    A.t0 = bench_now();
    pn_proactor_connect2(A.proactor, NULL, NULL, url);
    /* A paced sender ticks every millisecond from the start: with the first tick at 500 ms,
     * the messages due meanwhile went out in one burst of about 500 when it came, and their
     * queueing behind each other was measured as latency. */
    pn_proactor_set_timeout(A.proactor, A.sending && A.rate > 0 ? 1 : 500);
    bool running = true;
    while (running) {
        pn_event_batch_t *batch = pn_proactor_wait(A.proactor);
        pn_event_t *e;
        while ((e = pn_event_batch_next(batch))) {
            running = handle(e) && running;
        }
        pn_proactor_done(A.proactor, batch);
    }
    int rc;
    if (A.sending) {
        bench_report("raw_amqp1", "send", A.accepted, A.accepted * A.size, A.t_last - A.t0,
                     A.refused);
        rc = A.accepted == A.n ? 0 : 1;
    } else {
        bench_report("raw_amqp1", "receive", A.received, A.bytes, A.t_last - A.t_first, 0);
        if (A.stamp) {
            bench_lat_report("raw_amqp1");
        }
        rc = A.received >= A.n ? 0 : 1;
    }
    pn_proactor_free(A.proactor);
    pn_message_free(A.msg);
    free(A.buf.start);
    free(A.body);
    return rc;
}
