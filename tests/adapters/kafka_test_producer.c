/* Test producer for the Kafka integration tests, on librdkafka directly (independent of the
 * adapter): writes N numbered records round-robin over P partitions, each with a key, headers
 * (a numbered one, a repeated name, a null value on every 7th record, an empty value) and an
 * explicit timestamp, so that a copy can be compared byte for byte with kcat.
 *
 *   kafka_test_producer BROKERS TOPIC COUNT [PARTITIONS] [FIRST] [VALUE_SIZE] [RATE]
 *
 * Record i (FIRST <= i < FIRST+COUNT) goes to partition i % PARTITIONS, key "key-<i % 100>",
 * value "value-<i>" padded with '.' to VALUE_SIZE bytes, timestamp 1600000000000 + i.
 * RATE (records per second, 0 = as fast as possible) paces the writes, so that a test can act
 * while a stream is flowing.
 * Exit status 0 once every record is acknowledged (acks=all), 1 otherwise. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static long failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ < 5) {
            fprintf(stderr, "kafka_test_producer: delivery failed: %s\n",
                    rd_kafka_err2str(m->err));
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s BROKERS TOPIC COUNT [PARTITIONS] [FIRST] [VALUE_SIZE] [RATE]\n",
                argv[0]);
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    long count = atol(argv[3]);
    int parts = argc > 4 ? atoi(argv[4]) : 1;
    long first = argc > 5 ? atol(argv[5]) : 0;
    size_t vsize = argc > 6 ? (size_t)atol(argv[6]) : 0;
    double rate = argc > 7 ? atof(argv[7]) : 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "message.max.bytes", "10000000", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))) {
        fprintf(stderr, "kafka_test_producer: %s\n", err);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_test_producer: %s\n", err);
        return 2;
    }
    char *value = malloc(vsize + 64);
    for (long i = first; i < first + count; i++) {
        char key[32], seq[32];
        int vlen = snprintf(value, 64, "value-%ld", i);
        if ((size_t)vlen < vsize) {
            memset(value + vlen, '.', vsize - (size_t)vlen);
            vlen = (int)vsize;
        }
        snprintf(key, sizeof(key), "key-%ld", i % 100);
        snprintf(seq, sizeof(seq), "%ld", i);
        rd_kafka_headers_t *h = rd_kafka_headers_new(5);
        rd_kafka_header_add(h, "seq", -1, seq, -1);
        rd_kafka_header_add(h, "dup", -1, "first", -1);
        rd_kafka_header_add(h, "empty", -1, "", 0);
        if (i % 7 == 0) {
            rd_kafka_header_add(h, "nullable", -1, NULL, 0);
        }
        rd_kafka_header_add(h, "dup", -1, "second", -1);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                                      RD_KAFKA_V_VALUE(value, (size_t)vlen),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_HEADERS(h),
                                      RD_KAFKA_V_TIMESTAMP(1600000000000LL + i), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
        }
        if (e) {
            fprintf(stderr, "kafka_test_producer: produce: %s\n", rd_kafka_err2str(e));
            rd_kafka_headers_destroy(h);
            return 1;
        }
        rd_kafka_poll(rk, 0);
        if (rate > 0 && (i - first) % 50 == 49) {
            /* Sleep until record i is due. */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double due = (double)(i - first + 1) / rate;
            double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
            if (due > el) {
                struct timespec d = {(time_t)(due - el), (long)((due - el - (double)(time_t)(due - el)) * 1e9)};
                nanosleep(&d, NULL);
            }
        }
    }
    if (rd_kafka_flush(rk, 60000) != 0) {
        fprintf(stderr, "kafka_test_producer: flush timed out\n");
        failed++;
    }
    rd_kafka_destroy(rk);
    free(value);
    return failed ? 1 : 0;
}
