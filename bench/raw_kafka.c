/* raw_kafka: the fastest librdkafka can go against the bench cluster, to put msgbridge's Kafka
 * figures next to (bench/run). Also preloads backlogs and waits for a topic to fill.
 *
 *   raw_kafka produce -b BROKERS -t TOPIC -n COUNT [-s SIZE] [-r RATE] [-L] [-l LINGER_MS]
 *       acks=all, enable.idempotence=true, null keys, partitions in turn (the mock keeps only
 *       about 5 MiB per partition: a backlog must be spread evenly, which the sticky
 *       partitioner does not do); rate from the first send to the last delivery report. -r
 *       paces the sends; -L stamps each body with the send time; -l sets linger.ms (default
 *       librdkafka's, 5: a latency run passes 0 so that the producer's own batching is not
 *       counted).
 *   raw_kafka consume -b BROKERS -t TOPIC -n COUNT [-T IDLE_S] [-E] [-L] [-W FETCH_WAIT_MS]
 *       assign every partition from the beginning (-E: from the end; no group join, no
 *       commits: a ceiling); rate from the first message to the COUNT-th. -L also prints the
 *       latency percentiles of stamped bodies. -W sets fetch.wait.max.ms (default 10; see
 *       make()).
 *   raw_kafka wait -b BROKERS -t TOPIC -n COUNT [-T IDLE_S]
 *       poll the sum of the partitions' high watermarks until it reaches COUNT.
 *   raw_kafka both -b BROKERS -t TOPIC -o OUT_TOPIC -n COUNT [-s SIZE]
 *       the ceiling of a bridge: consume TOPIC (preloaded) and produce COUNT records of SIZE
 *       to OUT_TOPIC at the same time, each with its own client (as above) on its own thread,
 *       both on the same cluster. The rates are over the window in which both run (from the
 *       later first record to the first one to finish), so neither is counted while it has
 *       the cluster and the CPUs to itself; msgs_per_s is the smaller of the two.
 *
 * Each prints one JSON line (bench_util.h). Exit status: 0 done, 1 fewer than COUNT (idle
 * timeout), 2 setup error. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bench/bench_util.h"

/* Written by the producer's thread (its delivery reports), read by both's sampler. */
static _Atomic uint64_t delivered;
static uint64_t failed;
static double t_last_dr;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ < 5) {
            fprintf(stderr, "raw_kafka: delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
    } else {
        delivered++;
    }
    t_last_dr = bench_now();
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        bench_die("raw_kafka: %s=%s: %s", k, v, errstr);
    }
}

/* librdkafka settings from the command line (NULL: the tool's default). */
static const char *opt_linger, *opt_fetch_wait;
/* -X NAME=VALUE: any librdkafka setting, applied last (e.g. batch.size of a preload). */
static const char *opt_props[16];
static size_t n_props;

static rd_kafka_t *make(rd_kafka_type_t type, const char *brokers)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "log_level", "3");
    if (type == RD_KAFKA_PRODUCER) {
        set(conf, "acks", "all");
        set(conf, "enable.idempotence", "true");
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        if (opt_linger) {
            set(conf, "linger.ms", opt_linger);
        }
    } else {
        char group[64];
        snprintf(group, sizeof(group), "raw-kafka-%d", (int)getpid());
        set(conf, "group.id", group);
        set(conf, "enable.auto.commit", "false");
        /* The mock answers an empty fetch after fetch.wait.max.ms; keep the local queue deep
         * so the consumer never waits on a round trip (DESIGN.md section 9). It also holds an
         * empty fetch for the whole wait even when records arrive meanwhile (a real broker
         * answers at once), so on the mock each consuming hop adds up to this much latency:
         * latency runs pass -W 1. */
        set(conf, "fetch.wait.max.ms", opt_fetch_wait ? opt_fetch_wait : "10");
        set(conf, "queued.min.messages", "1000000");
    }
    for (size_t i = 0; i < n_props; i++) {
        char kv[256];
        snprintf(kv, sizeof(kv), "%s", opt_props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            bench_die("raw_kafka: -X %s: NAME=VALUE expected", opt_props[i]);
        }
        *eq = '\0';
        set(conf, kv, eq + 1);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        bench_die("raw_kafka: %s", errstr);
    }
    return rk;
}

/* Returns: the partition count of topic (waits up to 10 s for it to exist). */
static int partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int i = 0; i < 100; i++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
            rd_kafka_metadata_destroy(md);
            if (n > 0) {
                rd_kafka_topic_destroy(rkt);
                return n;
            }
        }
        usleep(100000);
    }
    bench_die("raw_kafka: topic \"%s\" has no partitions", topic);
}

static int produce(const char *brokers, const char *topic, uint64_t n, size_t size, double rate,
                   bool stamp)
{
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, brokers);
    int np = partitions(rk, topic);
    char *body = bench_body(size);
    double t0 = bench_now();
    for (uint64_t i = 0; i < n;) {
        bench_pace(t0, i, rate);
        if (stamp) {
            bench_stamp(body, size);
        }
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % (uint64_t)np)),
                              RD_KAFKA_V_VALUE(body, size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 5);
            continue;
        }
        if (e) {
            bench_die("raw_kafka: produce: %s", rd_kafka_err2str(e));
        }
        i++;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    bench_report("raw_kafka", "produce", delivered, delivered * size, t_last_dr - t0, failed);
    free(body);
    rd_kafka_destroy(rk);
    return delivered == n ? 0 : 1;
}

/* Records consumed so far (both's sampler reads it from another thread). */
static _Atomic uint64_t consumed;

static int consume(const char *brokers, const char *topic, uint64_t n, int idle_s, bool from_end,
                   bool stamp)
{
    rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, brokers);
    int np = partitions(rk, topic);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) {
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset =
            from_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    uint64_t got = 0, bytes = 0;
    double t_first = 0, t_last = 0, t_idle = bench_now();
    while (got < n && bench_now() - t_idle < idle_s) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            continue;
        }
        if (!m->err) {
            if (!got) {
                t_first = bench_now();
            }
            got++;
            atomic_store_explicit(&consumed, got, memory_order_relaxed);
            bytes += m->len;
            if (stamp) {
                bench_lat_add(m->payload, m->len);
            }
            t_last = t_idle = bench_now();
        }
        rd_kafka_message_destroy(m);
    }
    /* From the first message to the last: the group-less assign has no join to wait for,
     * but the first fetch still pays for connections and metadata. */
    bench_report("raw_kafka", "consume", got, bytes, t_last - t_first, 0);
    if (stamp) {
        bench_lat_report("raw_kafka");
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got >= n ? 0 : 1;
}

static uint64_t watermark_sum(rd_kafka_t *rk, const char *topic, int np)
{
    uint64_t sum = 0;
    for (int p = 0; p < np; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0 && hi > 0) {
            sum += (uint64_t)hi;
        }
    }
    return sum;
}

static int wait_for(const char *brokers, const char *topic, uint64_t n, int idle_s)
{
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, brokers);
    int np = partitions(rk, topic);
    double t0 = bench_now(), t_first = 0, t_change = t0;
    /* Absolute counts: bench/run gives every measurement a fresh destination topic. */
    uint64_t first = 0, last = watermark_sum(rk, topic, np), base = 0;
    while (last - base < n && bench_now() - t_change < idle_s) {
        usleep(20000);
        uint64_t c = watermark_sum(rk, topic, np);
        if (c != last) {
            t_change = bench_now();
            if (!t_first && c > base) {
                t_first = t_change;
                first = c - base;
            }
            last = c;
        }
    }
    bench_report_wait("raw_kafka", n, last - base, first, t_first ? t_first - t0 : 0,
                      t_change - t0);
    rd_kafka_destroy(rk);
    return last - base >= n ? 0 : 1;
}

/* ---- both: consume and produce at the same time ------------------------------------------- */

typedef struct both_arg {
    const char *brokers, *topic;
    uint64_t n;
    size_t size;
    int rc;
    _Atomic bool done;
} both_arg_t;

static void *both_consume(void *opaque)
{
    both_arg_t *a = opaque;
    a->rc = consume(a->brokers, a->topic, a->n, 30, false, false);
    atomic_store(&a->done, true);
    return NULL;
}

static void *both_produce(void *opaque)
{
    both_arg_t *a = opaque;
    a->rc = produce(a->brokers, a->topic, a->n, a->size, 0, false);
    atomic_store(&a->done, true);
    return NULL;
}

static int both(const char *brokers, const char *in, const char *out, uint64_t n, size_t size)
{
    both_arg_t c = {.brokers = brokers, .topic = in, .n = n, .size = size};
    both_arg_t p = {.brokers = brokers, .topic = out, .n = n, .size = size};
    pthread_t tc, tp;
    if (pthread_create(&tc, NULL, both_consume, &c) || pthread_create(&tp, NULL, both_produce, &p)) {
        bench_die("raw_kafka: pthread_create failed");
    }
    /* Sample both counters every 2 ms: the overlap starts once each has moved a record (the
     * consumer's setup and the producer's metadata round trip are not counted) and ends when
     * the first of them is done. */
    double t0 = 0, t1 = 0;
    uint64_t c0 = 0, p0 = 0, c1 = 0, p1 = 0;
    for (;;) {
        uint64_t cn = atomic_load(&consumed), pn = atomic_load(&delivered);
        double now = bench_now();
        if (!t0 && cn > 0 && pn > 0) {
            t0 = now, c0 = cn, p0 = pn;
        }
        if (atomic_load(&c.done) || atomic_load(&p.done)) {
            t1 = now, c1 = cn, p1 = pn;
            break;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(tc, NULL);
    pthread_join(tp, NULL);
    double secs = t0 ? t1 - t0 : 0;
    double rc = secs > 0 ? (double)(c1 - c0) / secs : 0;
    double rp = secs > 0 ? (double)(p1 - p0) / secs : 0;
    double r = rc < rp ? rc : rp;
    printf("{\"tool\": \"raw_kafka\", \"mode\": \"both\", \"msgs\": %llu, \"secs\": %.3f, "
           "\"consume_msgs_per_s\": %.0f, \"produce_msgs_per_s\": %.0f, \"msgs_per_s\": %.0f, "
           "\"mb_per_s\": %.2f}\n",
           (unsigned long long)n, secs, rc, rp, r, r * (double)size / 1e6);
    fflush(stdout);
    return c.rc || p.rc || !secs ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_die("usage: raw_kafka produce|consume|wait|both -b BROKERS -t TOPIC -n COUNT "
                  "[-o OUT_TOPIC] [-s SIZE] [-r RATE] [-T IDLE_S] [-E] [-L] [-l LINGER_MS] "
                  "[-W FETCH_WAIT_MS] [-X NAME=VALUE]...");
    }
    const char *mode = argv[1], *brokers = "127.0.0.1:59092", *topic = NULL, *out = NULL;
    bench_opts_t o = bench_opts_default(0);
    int c;
    bool from_end = false;
    optind = 2;
    while ((c = getopt(argc, argv, "b:t:o:n:s:T:r:LEl:W:X:")) != -1) {
        if (bench_common_opt(&o, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'o': out = optarg; break;
        case 'E': from_end = true; break;
        case 'l': opt_linger = optarg; break;
        case 'W': opt_fetch_wait = optarg; break;
        case 'X':
            if (n_props == sizeof(opt_props) / sizeof(opt_props[0])) {
                bench_die("raw_kafka: too many -X");
            }
            opt_props[n_props++] = optarg;
            break;
        default: return 2;
        }
    }
    if (!topic || !o.n) {
        bench_die("raw_kafka: -t TOPIC and -n COUNT are required");
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "produce") == 0) {
        return produce(brokers, topic, o.n, o.size, o.rate, o.stamp);
    }
    if (strcmp(mode, "consume") == 0) {
        return consume(brokers, topic, o.n, o.idle_s, from_end, o.stamp);
    }
    if (strcmp(mode, "both") == 0) {
        if (!out) {
            bench_die("raw_kafka: both needs -o OUT_TOPIC");
        }
        return both(brokers, topic, out, o.n, o.size);
    }
    if (strcmp(mode, "wait") == 0) {
        return wait_for(brokers, topic, o.n, o.idle_s);
    }
    bench_die("raw_kafka: unknown mode \"%s\"", mode);
}
