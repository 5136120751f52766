/* Test tool for the Kafka integration tests, on librdkafka directly (independent of the
 * adapter): commits offsets for a consumer group without joining it, as an application that
 * consumed that far would have.
 *
 *   kafka_test_commit BROKERS GROUP TOPIC PARTITION=OFFSET...
 *   kafka_test_commit BROKERS GROUP TOPIC --show PARTITIONS
 *
 * Exit status 0 once the group coordinator accepted every offset, 1 otherwise. --show commits
 * nothing: it prints the group's committed offset of partitions 0..PARTITIONS-1, a line
 * "PARTITION OFFSET" each (-1: none). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: kafka_test_commit BROKERS GROUP TOPIC PARTITION=OFFSET...\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", argv[2], err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
        fprintf(stderr, "kafka_test_commit: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_test_commit: %s\n", err);
        return 1;
    }
    if (strcmp(argv[4], "--show") == 0 && argc == 6) {
        int n = atoi(argv[5]);
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
        for (int p = 0; p < n; p++) {
            rd_kafka_topic_partition_list_add(list, argv[3], p);
        }
        rd_kafka_resp_err_t e = rd_kafka_committed(rk, list, 10000);
        for (int i = 0; !e && i < list->cnt; i++) {
            printf("%" PRId32 " %" PRId64 "\n", list->elems[i].partition,
                   list->elems[i].offset >= 0 ? list->elems[i].offset : -1);
        }
        if (e) {
            fprintf(stderr, "kafka_test_commit: %s\n", rd_kafka_err2str(e));
        }
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_destroy(rk);
        return e ? 1 : 0;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(argc - 4);
    for (int i = 4; i < argc; i++) {
        int32_t p;
        int64_t off;
        if (sscanf(argv[i], "%" SCNd32 "=%" SCNd64, &p, &off) != 2) {
            fprintf(stderr, "kafka_test_commit: \"%s\" is not PARTITION=OFFSET\n", argv[i]);
            return 2;
        }
        rd_kafka_topic_partition_list_add(list, argv[3], p)->offset = off;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, 0);
    int rc = 0;
    if (e) {
        fprintf(stderr, "kafka_test_commit: %s\n", rd_kafka_err2str(e));
        rc = 1;
    }
    for (int i = 0; i < list->cnt; i++) {
        if (list->elems[i].err) {
            fprintf(stderr, "kafka_test_commit: partition %" PRId32 ": %s\n",
                    list->elems[i].partition, rd_kafka_err2str(list->elems[i].err));
            rc = 1;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return rc;
}
