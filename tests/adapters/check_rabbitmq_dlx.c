/* Reading a queue's dead-letter exchange from RabbitMQ's queue.declare refusals (rmq_dlx.h):
 * the texts are those RabbitMQ 3.10 sends (captured from the test node). */
#include "tests/check_main.h"
#include <stdlib.h>
#include <string.h>

#include "adapters/rabbitmq/rmq_dlx.h"

START_TEST(test_rmq_dlx_found_when_both_sides_set)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'probe.a' "
             "in vhost '/': received '0' but current is 'dlx'");
    ck_assert_int_eq(st.kind, RMQ_DLX_FOUND);
    ck_assert_str_eq(st.value, "dlx");
}
END_TEST

START_TEST(test_rmq_dlx_found_with_quotes_and_typed_form)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'q' in "
             "vhost '/': received '0' but current is 'it's.dlx'");
    ck_assert_int_eq(st.kind, RMQ_DLX_FOUND);
    ck_assert_str_eq(st.value, "it's.dlx");
    st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for "
             "queue 'q' in vhost '/': received none but current is the value "
             "'' of type 'longstr'");
    ck_assert_int_eq(st.kind, RMQ_DLX_FOUND);
    ck_assert_str_eq(st.value, "");
}
END_TEST

START_TEST(test_rmq_dlx_none)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'probe.b' "
             "in vhost '/': received the value '0' of type 'long' but current is none");
    ck_assert_int_eq(st.kind, RMQ_DLX_NONE);
}
END_TEST

START_TEST(test_rmq_dlx_earlier_argument_echoed)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'probe.c' in vhost "
             "'/': received none but current is the value '60000' of type 'signedint'");
    ck_assert_int_eq(st.kind, RMQ_DLX_ECHO_ARG);
    ck_assert_str_eq(st.name, "x-message-ttl");
    ck_assert_str_eq(st.value, "60000");
    ck_assert(st.numeric);
    st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'x-overflow' for queue 'q' in "
             "vhost '/': received none but current is the value 'reject-publish' "
             "of type 'longstr'");
    ck_assert_int_eq(st.kind, RMQ_DLX_ECHO_ARG);
    ck_assert_str_eq(st.value, "reject-publish");
    ck_assert(!st.numeric);
    /* A type that cannot be echoed faithfully. */
    st = brg_rmq_dlx_parse(406, "PRECONDITION_FAILED - inequivalent arg 'x-odd' for queue 'q' in "
                            "vhost '/': received none but current is the value 'true' of type "
                            "'bool'");
    ck_assert_int_eq(st.kind, RMQ_DLX_UNKNOWN);
}
END_TEST

START_TEST(test_rmq_dlx_flags_flipped)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'probe.a' in vhost '/': "
             "received 'true' but current is 'false'");
    ck_assert_int_eq(st.kind, RMQ_DLX_FLIP_DURABLE);
    st = brg_rmq_dlx_parse(406, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue "
                            "'probe.c' in vhost '/': received 'false' but current is 'true'");
    ck_assert_int_eq(st.kind, RMQ_DLX_FLIP_AUTO_DELETE);
}
END_TEST

START_TEST(test_rmq_dlx_gone_and_unknown)
{
    rmq_dlx_step_t st = brg_rmq_dlx_parse(
        406, "PRECONDITION_FAILED - invalid type 'long' for arg 'x-dead-letter-exchange' in queue "
             "'probe.nonexist' in vhost '/'");
    ck_assert_int_eq(st.kind, RMQ_DLX_GONE);
    st = brg_rmq_dlx_parse(404, "NOT_FOUND - no queue 'q' in vhost '/'");
    ck_assert_int_eq(st.kind, RMQ_DLX_GONE);
    st = brg_rmq_dlx_parse(405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue "
                            "'probe.c' in vhost '/'.");
    ck_assert_int_eq(st.kind, RMQ_DLX_UNKNOWN);
    st = brg_rmq_dlx_parse(
        403, "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user "
             "'reader'");
    ck_assert_int_eq(st.kind, RMQ_DLX_UNKNOWN);
    st = brg_rmq_dlx_parse(406, NULL);
    ck_assert_int_eq(st.kind, RMQ_DLX_UNKNOWN);
    st = brg_rmq_dlx_parse(406, "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange'");
    ck_assert_int_eq(st.kind, RMQ_DLX_UNKNOWN);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("rabbitmq_dlx");
    TCase *t = tcase_create("parse");
    tcase_add_test(t, test_rmq_dlx_found_when_both_sides_set);
    tcase_add_test(t, test_rmq_dlx_found_with_quotes_and_typed_form);
    tcase_add_test(t, test_rmq_dlx_none);
    tcase_add_test(t, test_rmq_dlx_earlier_argument_echoed);
    tcase_add_test(t, test_rmq_dlx_flags_flipped);
    tcase_add_test(t, test_rmq_dlx_gone_and_unknown);
    suite_add_tcase(s, t);
    return s;
}
