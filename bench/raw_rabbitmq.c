/* raw_rabbitmq: the fastest rabbitmq-c can go against the bench node, to put msgbridge's
 * RabbitMQ figures next to (bench/run). Also preloads queues and waits for a queue to fill.
 *
 *   raw_rabbitmq publish -u URL -q QUEUE -n COUNT [-s SIZE] [-w WINDOW] [-r RATE] [-L]
 *       declares QUEUE durable, publishes persistent messages to it through the default
 *       exchange in confirm mode with up to WINDOW (default 1000) unconfirmed; rate from the
 *       first publish to the last confirm. -r paces the publishes; -L stamps each body with
 *       the send time.
 *   raw_rabbitmq consume -u URL -q QUEUE -n COUNT [-p PREFETCH] [-T IDLE_S] [-L]
 *       basic.qos PREFETCH (default 1000), manual acks (multiple, every PREFETCH/4);
 *       rate from the first delivery to the COUNT-th. -L also prints the latency
 *       percentiles of stamped bodies.
 *   raw_rabbitmq wait -u URL -q QUEUE -n COUNT [-T IDLE_S]
 *       poll the queue's ready count (passive declare) until it reaches COUNT.
 *   raw_rabbitmq declare|purge|delete -u URL -q QUEUE
 *
 * Each measuring mode prints one JSON line (bench_util.h). Exit status: 0 done, 1 fewer than
 * COUNT, 2 setup or protocol error. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "bench/bench_util.h"

#define CH 1

static void check_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        bench_die("raw_rabbitmq: %s: %s", what, amqp_error_string2(r.library_error));
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        bench_die("raw_rabbitmq: %s: channel closed: %.*s", what, (int)m->reply_text.len,
                  (char *)m->reply_text.bytes);
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        bench_die("raw_rabbitmq: %s: connection closed: %.*s", what, (int)m->reply_text.len,
                  (char *)m->reply_text.bytes);
    }
    bench_die("raw_rabbitmq: %s failed", what);
}

static amqp_connection_state_t connect_url(const char *url)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    if (!u || amqp_parse_url(u, &ci) != AMQP_STATUS_OK) {
        bench_die("raw_rabbitmq: bad url \"%s\"", url);
    }
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (!sock || amqp_socket_open(sock, ci.host, ci.port) != AMQP_STATUS_OK) {
        bench_die("raw_rabbitmq: cannot connect to %s:%d", ci.host, ci.port);
    }
    check_reply(amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                           ci.password),
                "login");
    amqp_channel_open(conn, CH);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    free(u);
    return conn;
}

static void disconnect(amqp_connection_state_t conn)
{
    amqp_channel_close(conn, CH, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* Returns: the ready message count of queue (declared durable unless passive). */
static uint64_t declare(amqp_connection_state_t conn, const char *queue, bool passive)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(
        conn, CH, amqp_cstring_bytes(queue), passive, !passive, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "queue.declare");
    return ok->message_count;
}

static int publish(const char *url, const char *queue, uint64_t n, size_t size, uint64_t window,
                   double rate, bool stamp)
{
    amqp_connection_state_t conn = connect_url(url);
    declare(conn, queue, false);
    amqp_confirm_select(conn, CH);
    check_reply(amqp_get_rpc_reply(conn), "confirm.select");
    char *body = bench_body(size);
    amqp_basic_properties_t props = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
                                     .delivery_mode = 2};
    uint64_t sent = 0, acked = 0, nacked = 0;
    double t0 = bench_now(), t_last = t0;
    while (acked + nacked < n) {
        while (sent < n && sent - acked - nacked < window) {
            if (rate > 0 && bench_now() < t0 + (double)sent / rate) {
                break; /* not its turn yet: read confirms meanwhile */
            }
            if (stamp) {
                bench_stamp(body, size);
            }
            int rc = amqp_basic_publish(conn, CH, amqp_empty_bytes, amqp_cstring_bytes(queue), 0,
                                        0, &props, (amqp_bytes_t){size, body});
            if (rc != AMQP_STATUS_OK) {
                bench_die("raw_rabbitmq: publish: %s", amqp_error_string2(rc));
            }
            sent++;
        }
        /* Block only when the window is full or everything is out; otherwise take the confirms
         * already here and keep publishing. */
        struct timeval zero = {0, 0};
        bool block = sent == n || sent - acked - nacked >= window;
        struct timeval pace = {0, 200};
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(conn, &f, block ? NULL : rate > 0 ? &pace : &zero);
        if (rc == AMQP_STATUS_TIMEOUT) {
            continue;
        }
        if (rc != AMQP_STATUS_OK) {
            bench_die("raw_rabbitmq: waiting for confirms: %s", amqp_error_string2(rc));
        }
        if (f.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }
        uint64_t tag;
        bool multiple;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            tag = a->delivery_tag;
            multiple = a->multiple;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            amqp_basic_nack_t *a = f.payload.method.decoded;
            nacked += a->multiple ? a->delivery_tag - acked - nacked : 1;
            continue;
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            bench_die("raw_rabbitmq: the broker closed the channel");
        } else {
            continue;
        }
        /* Confirms arrive in order here (one channel, no nacks in practice). */
        acked = multiple ? tag - nacked : acked + 1;
        t_last = bench_now();
        amqp_maybe_release_buffers(conn);
    }
    bench_report("raw_rabbitmq", "publish", acked, acked * size, t_last - t0, nacked);
    free(body);
    disconnect(conn);
    return acked == n ? 0 : 1;
}

static int consume(const char *url, const char *queue, uint64_t n, int prefetch, int idle_s,
                   bool stamp)
{
    amqp_connection_state_t conn = connect_url(url);
    amqp_basic_qos(conn, CH, 0, (uint16_t)prefetch, 0);
    check_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, CH, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "basic.consume");
    uint64_t got = 0, bytes = 0, unacked = 0, last_tag = 0;
    uint64_t every = prefetch >= 4 ? (uint64_t)prefetch / 4 : 1;
    double t_first = 0, t_last = 0, t_idle = bench_now();
    while (got < n && bench_now() - t_idle < idle_s) {
        amqp_envelope_t env;
        struct timeval tv = {0, 100000};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT) {
            if (unacked) {
                amqp_basic_ack(conn, CH, last_tag, 1);
                unacked = 0;
            }
            continue;
        }
        check_reply(r, "consume");
        if (!got) {
            t_first = bench_now();
        }
        got++;
        bytes += env.message.body.len;
        if (stamp) {
            bench_lat_add(env.message.body.bytes, env.message.body.len);
        }
        last_tag = env.delivery_tag;
        amqp_destroy_envelope(&env);
        if (++unacked >= every || got == n) {
            amqp_basic_ack(conn, CH, last_tag, 1);
            unacked = 0;
        }
        t_last = t_idle = bench_now();
    }
    bench_report("raw_rabbitmq", "consume", got, bytes, t_last - t_first, 0);
    if (stamp) {
        bench_lat_report("raw_rabbitmq");
    }
    disconnect(conn);
    return got >= n ? 0 : 1;
}

static int wait_for(const char *url, const char *queue, uint64_t n, int idle_s)
{
    amqp_connection_state_t conn = connect_url(url);
    double t0 = bench_now(), t_first = 0, t_change = t0;
    uint64_t first = 0, last = declare(conn, queue, true);
    while (last < n && bench_now() - t_change < idle_s) {
        usleep(20000);
        uint64_t c = declare(conn, queue, true);
        if (c != last) {
            t_change = bench_now();
            if (!t_first && c > 0) {
                t_first = t_change;
                first = c;
            }
            last = c;
        }
    }
    bench_report_wait("raw_rabbitmq", n, last, first, t_first ? t_first - t0 : 0, t_change - t0);
    disconnect(conn);
    return last >= n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_die("usage: raw_rabbitmq publish|consume|wait|declare|purge|delete -u URL "
                  "-q QUEUE [-n COUNT] [-s SIZE] [-w WINDOW] [-p PREFETCH] [-T IDLE_S] [-r RATE] [-L]");
    }
    const char *mode = argv[1], *url = "amqp://guest:guest@127.0.0.1:55672/%2f", *queue = NULL;
    bench_opts_t o = bench_opts_default(1000);
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "u:q:n:s:w:p:T:r:L")) != -1) {
        if (bench_common_opt(&o, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'u': url = optarg; break;
        case 'q': queue = optarg; break;
        default: return 2;
        }
    }
    if (!queue) {
        bench_die("raw_rabbitmq: -q QUEUE is required");
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "declare") == 0 || strcmp(mode, "purge") == 0 ||
        strcmp(mode, "delete") == 0) {
        amqp_connection_state_t conn = connect_url(url);
        if (mode[0] == 'd' && mode[1] == 'e' && mode[2] == 'c') {
            declare(conn, queue, false);
        } else if (mode[0] == 'p') {
            amqp_queue_purge(conn, CH, amqp_cstring_bytes(queue));
            check_reply(amqp_get_rpc_reply(conn), "queue.purge");
        } else {
            amqp_queue_delete(conn, CH, amqp_cstring_bytes(queue), 0, 0);
            check_reply(amqp_get_rpc_reply(conn), "queue.delete");
        }
        disconnect(conn);
        return 0;
    }
    if (!o.n || !o.window || o.prefetch < 1 || o.prefetch > 65535) {
        bench_die("raw_rabbitmq: -n COUNT is required; -w and -p must be positive (-p <= 65535)");
    }
    if (strcmp(mode, "publish") == 0) {
        return publish(url, queue, o.n, o.size, o.window, o.rate, o.stamp);
    }
    if (strcmp(mode, "consume") == 0) {
        return consume(url, queue, o.n, o.prefetch, o.idle_s, o.stamp);
    }
    if (strcmp(mode, "wait") == 0) {
        return wait_for(url, queue, o.n, o.idle_s);
    }
    bench_die("raw_rabbitmq: unknown mode \"%s\"", mode);
}
