/* The pure parts of the consumer-group offset sync (adapters/kafka/kafka_group_sync.c): what a
 * round does with each partition, which refusals mean "live on the destination", and the
 * checkpoint record. Part of the check_kafka binary (kafka_group_sync_tcase); the clusters'
 * side is tests/integration/kafka_group_sync.sh. */
#include "tests/check_main.h"
#include <string.h>

#include "adapters/kafka/kafka_group_sync.h"

TCase *kafka_group_sync_tcase(void);

START_TEST(test_gsync_plan_never_moves_back)
{
    /* Behind, or nothing committed there: moved. */
    ck_assert_int_eq(brg_kafka_gsync_plan(500, true, 480, 100), BRG_GSYNC_MOVE);
    ck_assert_int_eq(brg_kafka_gsync_plan(500, true, 480, -1), BRG_GSYNC_MOVE);
    ck_assert_int_eq(brg_kafka_gsync_plan(500, true, 480, 479), BRG_GSYNC_MOVE);
    /* There already, or further (the group read on the destination): kept. */
    ck_assert_int_eq(brg_kafka_gsync_plan(500, true, 480, 480), BRG_GSYNC_AHEAD);
    ck_assert_int_eq(brg_kafka_gsync_plan(500, true, 480, 9000), BRG_GSYNC_AHEAD);
    /* Nothing committed on the source, or no sync at or before it. */
    ck_assert_int_eq(brg_kafka_gsync_plan(-1, true, 480, -1), BRG_GSYNC_NO_SYNC);
    ck_assert_int_eq(brg_kafka_gsync_plan(500, false, 0, -1), BRG_GSYNC_NO_SYNC);
}
END_TEST

START_TEST(test_gsync_live_group_refusals)
{
    ck_assert(brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID));
    ck_assert(brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION));
    ck_assert(brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS));
    ck_assert(!brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR_NO_ERROR));
    ck_assert(!brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED));
    ck_assert(!brg_kafka_gsync_group_active(RD_KAFKA_RESP_ERR__TIMED_OUT));
}
END_TEST

START_TEST(test_checkpoint_record)
{
    brg_buf_t key = {0}, value = {0};
    brg_kafka_sync_t s = {"orders", 3, 120400, "east.orders", 3, 118377};
    brg_kafka_checkpoint_encode(&key, &value, "billing \"eu\"", &s);
    ck_assert_str_eq(key.data, "billing \"eu\"/orders/3");
    ck_assert_str_eq(value.data,
                     "{\"group\": \"billing \\\"eu\\\"\", \"source_topic\": \"orders\", "
                     "\"source_partition\": 3, \"source_offset\": 120400, \"topic\": "
                     "\"east.orders\", \"partition\": 3, \"offset\": 118377}");
    /* The buffers are emptied first: a second record does not follow the first. */
    brg_kafka_checkpoint_encode(&key, &value, "g", &s);
    ck_assert_str_eq(key.data, "g/orders/3");
    brg_buf_fini(&key);
    brg_buf_fini(&value);
}
END_TEST

START_TEST(test_checkpoints_topic_name)
{
    char buf[64];
    ck_assert_str_eq(brg_kafka_checkpoints_topic(NULL, "mirror", buf, sizeof(buf)),
                     "mirror.checkpoints");
}
END_TEST

TCase *kafka_group_sync_tcase(void)
{
    TCase *t = tcase_create("group_sync");
    tcase_add_test(t, test_gsync_plan_never_moves_back);
    tcase_add_test(t, test_gsync_live_group_refusals);
    tcase_add_test(t, test_checkpoint_record);
    tcase_add_test(t, test_checkpoints_topic_name);
    return t;
}
