/* Offset syncs of a Kafka -> Kafka route (adapters/kafka/kafka_offset_sync.h): which pairs
 * become sync points, and that a translated position never skips a record. Part of the
 * check_kafka binary (kafka_offset_sync_tcase). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka_offset_sync.h"

TCase *kafka_offset_sync_tcase(void);

/* Note src -> dst; returns whether it became a sync point. */
static bool note(brg_kafka_sync_map_t *m, int32_t p, int64_t src, int64_t dst)
{
    brg_kafka_sync_t s;
    bool synced = brg_kafka_sync_note(m, "orders", p, src, "orders.replica", p, dst, &s);
    if (synced) {
        ck_assert_str_eq(s.src_topic, "orders");
        ck_assert_int_eq(s.src_partition, p);
        ck_assert_int_eq(s.src_offset, src);
        ck_assert_str_eq(s.dst_topic, "orders.replica");
        ck_assert_int_eq(s.dst_partition, p);
        ck_assert_int_eq(s.dst_offset, dst);
    }
    return synced;
}

static int64_t translate(const brg_kafka_sync_map_t *m, int32_t p, int64_t committed)
{
    const char *topic = NULL;
    int32_t part = -1;
    int64_t off = -1;
    if (!brg_kafka_sync_translate(m, "orders", p, committed, &topic, &part, &off)) {
        return -1;
    }
    ck_assert_str_eq(topic, "orders.replica");
    ck_assert_int_eq(part, p);
    return off;
}

START_TEST(test_sync_points_first_then_every_n)
{
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    /* The destination already held 500 records: offsets differ by a constant. */
    size_t syncs = 0;
    for (int64_t i = 0; i < 5000; i++) {
        syncs += note(m, 0, i, i + 500);
    }
    /* 0, 1000, 2000, 3000, 4000: one per BRG_KAFKA_SYNC_EVERY. */
    ck_assert_uint_eq(syncs, 5000 / BRG_KAFKA_SYNC_EVERY);
    ck_assert_int_eq(translate(m, 0, 0), 500);      /* nothing read: from the first copy */
    ck_assert_int_eq(translate(m, 0, 1000), 1500);  /* exactly at a sync */
    ck_assert_int_eq(translate(m, 0, 1700), 1501);  /* between: re-reads 1501..2199 */
    ck_assert_int_eq(translate(m, 0, 4999), 4501);
    ck_assert_int_eq(translate(m, 1, 10), -1);      /* a partition never seen */
    brg_kafka_sync_map_free(m);
}
END_TEST

/* Records filtered or dead-lettered on the way: the destination advances less than the
 * source. Every committed position translates to a destination offset at or before the copy
 * of the next unread record, and re-reads at most one drift period (plus the gap). */
START_TEST(test_sync_translation_never_skips_under_gaps)
{
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    enum { N = 20000 };
    int64_t *copy_of = malloc(N * sizeof(int64_t)); /* destination offset, -1: not copied */
    int64_t dst = 0;
    for (int64_t i = 0; i < N; i++) {
        bool dropped = i % 7 == 3 || (i >= 5000 && i < 5400); /* a filter, then an outage */
        copy_of[i] = dropped ? -1 : dst++;
        if (!dropped) {
            note(m, 2, i, copy_of[i]);
        }
    }
    /* Only the newest BRG_KAFKA_SYNC_HISTORY syncs are kept: check positions they cover. */
    int64_t checked = 0;
    for (int64_t c = 0; c < N; c += 37) {
        int64_t t = translate(m, 2, c);
        if (t < 0) {
            continue; /* older than the kept history: the caller starts from the earliest */
        }
        checked++;
        /* The next record the group has not read that was copied: at or after t. */
        int64_t next = c;
        while (next < N && copy_of[next] < 0) {
            next++;
        }
        if (next < N) {
            ck_assert_msg(t <= copy_of[next], "committed %lld -> %lld skips the copy at %lld",
                          (long long)c, (long long)t, (long long)copy_of[next]);
            ck_assert_msg(copy_of[next] - t <= BRG_KAFKA_SYNC_EVERY,
                          "committed %lld -> %lld re-reads %lld", (long long)c, (long long)t,
                          (long long)(copy_of[next] - t));
        }
    }
    ck_assert_int_gt(checked, 100);
    free(copy_of);
    brg_kafka_sync_map_free(m);
}
END_TEST

START_TEST(test_sync_redelivery_and_destination_reset)
{
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    ck_assert(note(m, 0, 100, 100));
    /* Delivered again after a retry (the source went back): ignored, the sync stays. */
    ck_assert(!note(m, 0, 99, 1200));
    ck_assert(!note(m, 0, 100, 1201));
    ck_assert_int_eq(translate(m, 0, 100), 100);
    /* The destination topic was made again: its offsets restart; the old pairs are dropped. */
    ck_assert(note(m, 0, 150, 0));
    ck_assert_int_eq(translate(m, 0, 120), -1);
    ck_assert_int_eq(translate(m, 0, 150), 0);
    /* Another destination for the same source partition starts a new history too. */
    brg_kafka_sync_t s;
    ck_assert(brg_kafka_sync_note(m, "orders", 0, 151, "other", 0, 7, &s));
    const char *topic;
    int32_t part;
    int64_t off;
    ck_assert(brg_kafka_sync_translate(m, "orders", 0, 160, &topic, &part, &off));
    ck_assert_str_eq(topic, "other");
    ck_assert_int_eq(off, 8);
    ck_assert(!brg_kafka_sync_translate(m, "orders", 0, 150, &topic, &part, &off));
    brg_kafka_sync_map_free(m);
}
END_TEST

START_TEST(test_sync_history_is_bounded)
{
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    int64_t n = (BRG_KAFKA_SYNC_HISTORY + 10) * BRG_KAFKA_SYNC_EVERY;
    for (int64_t i = 0; i < n; i++) {
        note(m, 0, i, i);
    }
    /* The oldest ten syncs are gone: a position before the kept ones does not translate. */
    ck_assert_int_eq(translate(m, 0, 5 * BRG_KAFKA_SYNC_EVERY), -1);
    ck_assert_int_eq(translate(m, 0, 10 * BRG_KAFKA_SYNC_EVERY), 10 * BRG_KAFKA_SYNC_EVERY);
    /* Many partitions: the map grows and finds each. */
    for (int32_t p = 1; p < 300; p++) {
        note(m, p, 5, 50 + p);
    }
    for (int32_t p = 1; p < 300; p++) {
        ck_assert_int_eq(translate(m, p, 6), 51 + p);
    }
    brg_kafka_sync_map_free(m);
}
END_TEST

START_TEST(test_sync_record_round_trip)
{
    brg_kafka_sync_t s = {"orders.eu-1", 11, 123456789012LL, "orders_replica", 11, 42};
    char key[300], value[700];
    brg_kafka_sync_encode_key(&s, key, sizeof(key));
    ck_assert_str_eq(key, "orders.eu-1/11");
    size_t len = brg_kafka_sync_encode_value(&s, value, sizeof(value));
    ck_assert_str_eq(value, "{\"source_topic\": \"orders.eu-1\", \"source_partition\": 11, "
                            "\"source_offset\": 123456789012, \"topic\": \"orders_replica\", "
                            "\"partition\": 11, \"offset\": 42}");
    brg_kafka_sync_t back;
    char a[BRG_KAFKA_TOPIC_MAX + 1], b[BRG_KAFKA_TOPIC_MAX + 1];
    ck_assert(brg_kafka_sync_decode_value(value, len, &back, a, b));
    ck_assert_str_eq(back.src_topic, "orders.eu-1");
    ck_assert_int_eq(back.src_partition, 11);
    ck_assert_int_eq(back.src_offset, 123456789012LL);
    ck_assert_str_eq(back.dst_topic, "orders_replica");
    ck_assert_int_eq(back.dst_partition, 11);
    ck_assert_int_eq(back.dst_offset, 42);
    /* Read back into a map, it translates as the map that wrote it. */
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    brg_kafka_sync_add(m, &back);
    const char *topic;
    int32_t part;
    int64_t off;
    ck_assert(brg_kafka_sync_translate(m, "orders.eu-1", 11, 123456789013LL, &topic, &part, &off));
    ck_assert_int_eq(off, 43);
    brg_kafka_sync_map_free(m);
    /* Not a sync record: refused, never half-read. */
    const char *bad[] = {"", "{}", "{\"source_topic\": \"a b\", \"source_partition\": 1, "
                                   "\"source_offset\": 1, \"topic\": \"t\", \"partition\": 1, "
                                   "\"offset\": 1}",
                         "{\"source_topic\": \"a\", \"source_partition\": -1, \"source_offset\": 1, "
                         "\"topic\": \"t\", \"partition\": 1, \"offset\": 1}",
                         "{\"source_topic\": \"a\", \"source_partition\": 1, \"source_offset\": 1, "
                         "\"topic\": \"t\", \"partition\": 1, \"offset\": 1} trailing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!brg_kafka_sync_decode_value(bad[i], strlen(bad[i]), &back, a, b), "%s",
                      bad[i]);
    }
}
END_TEST

TCase *kafka_offset_sync_tcase(void)
{
    TCase *t = tcase_create("offset_sync");
    tcase_add_test(t, test_sync_points_first_then_every_n);
    tcase_add_test(t, test_sync_translation_never_skips_under_gaps);
    tcase_add_test(t, test_sync_redelivery_and_destination_reset);
    tcase_add_test(t, test_sync_history_is_bounded);
    tcase_add_test(t, test_sync_record_round_trip);
    return t;
}
