/* The pure parts of the start-time check of a Kafka -> Kafka route's destination topics
 * (adapters/kafka/kafka_topics.c): what is done about each source topic, and the destination
 * name its topic template gives. Part of the check_kafka binary (kafka_topics_tcase); the
 * clusters' side is tests/integration/kafka_dest_topics.sh. */
#include "tests/check_main.h"
#include <string.h>

#include "adapters/kafka/kafka_topics.h"

TCase *kafka_topics_tcase(void);

START_TEST(test_topic_action_counts)
{
    /* Kept partitions: the destination needs at least the source's count. */
    ck_assert_int_eq(brg_kafka_topic_action(4, 4, true, false), BRG_KAFKA_TOPIC_OK);
    ck_assert_int_eq(brg_kafka_topic_action(4, 6, true, false), BRG_KAFKA_TOPIC_OK);
    ck_assert_int_eq(brg_kafka_topic_action(4, 3, true, false), BRG_KAFKA_TOPIC_TOO_FEW);
    ck_assert_int_eq(brg_kafka_topic_action(4, 3, true, true), BRG_KAFKA_TOPIC_TOO_FEW);
    ck_assert_int_eq(brg_kafka_topic_action(1, 0, true, false), BRG_KAFKA_TOPIC_TOO_FEW);
    /* The producer's partitioner spreads records over whatever the destination has. */
    ck_assert_int_eq(brg_kafka_topic_action(4, 1, false, true), BRG_KAFKA_TOPIC_OK);
    /* Missing: created only when asked for, whether partitions are kept or not. */
    ck_assert_int_eq(brg_kafka_topic_action(4, -1, true, false), BRG_KAFKA_TOPIC_MISSING);
    ck_assert_int_eq(brg_kafka_topic_action(4, -1, true, true), BRG_KAFKA_TOPIC_CREATE);
    ck_assert_int_eq(brg_kafka_topic_action(4, -1, false, true), BRG_KAFKA_TOPIC_CREATE);
}
END_TEST

START_TEST(test_topic_destination_names)
{
    char out[64];
    ck_assert(brg_kafka_topic_destination("orders", "x", out, sizeof(out)));
    ck_assert_str_eq(out, "orders");
    ck_assert(brg_kafka_topic_destination("${topic}", "orders", out, sizeof(out)));
    ck_assert_str_eq(out, "orders");
    ck_assert(brg_kafka_topic_destination("dc1.${stream}.copy", "orders", out, sizeof(out)));
    ck_assert_str_eq(out, "dc1.orders.copy");
    ck_assert(brg_kafka_topic_destination("${topic}-${topic}", "a", out, sizeof(out)));
    ck_assert_str_eq(out, "a-a");
    ck_assert(brg_kafka_topic_destination("cost$$", "a", out, sizeof(out)));
    ck_assert_str_eq(out, "cost$");
    /* A record's own values are not known at start. */
    ck_assert(!brg_kafka_topic_destination("${header.region}", "a", out, sizeof(out)));
    ck_assert(!brg_kafka_topic_destination("${topic}.${key}", "a", out, sizeof(out)));
    ck_assert(!brg_kafka_topic_destination("${partition}", "a", out, sizeof(out)));
    /* Too long for out, or empty. */
    ck_assert(!brg_kafka_topic_destination("${topic}", "0123456789", out, 10));
    ck_assert(brg_kafka_topic_destination("${topic}", "012345678", out, 10));
    ck_assert_str_eq(out, "012345678");
    ck_assert(!brg_kafka_topic_destination("${topic}", "", out, sizeof(out)));
}
END_TEST

TCase *kafka_topics_tcase(void)
{
    TCase *t = tcase_create("topics");
    tcase_add_test(t, test_topic_action_counts);
    tcase_add_test(t, test_topic_destination_names);
    return t;
}
