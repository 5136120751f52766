#include "tests/check_main.h"
#include <stdlib.h>
#include <string.h>

#include "bridge/envelope.h"

static brg_fields_t *sample_table(void)
{
    brg_fields_t *t = brg_fields_new();
    brg_value_t v = brg_value_int(-5, 16);
    brg_fields_add(t, "count", 5, &v);
    v = brg_value_string("queue-a", 7);
    brg_fields_add(t, "queue", 5, &v);
    brg_fields_t *arr = brg_fields_new();
    v = brg_value_bool(true);
    brg_fields_add(arr, NULL, 0, &v);
    v = brg_value_timestamp(1700000000000);
    brg_fields_add(arr, NULL, 0, &v);
    v = brg_value_array(arr);
    brg_fields_add(t, "list", 4, &v);
    return t;
}

START_TEST(test_envelope_absent_and_empty_key_differ)
{
    brg_envelope_t *env = brg_envelope_new();
    ck_assert_ptr_null(env->key);
    brg_envelope_set_key(env, "", 0);
    ck_assert_ptr_nonnull(env->key);
    ck_assert_uint_eq(env->key_len, 0);
    brg_envelope_set_key(env, NULL, 0);
    ck_assert_ptr_null(env->key);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_envelope_copy_is_deep_and_equal)
{
    brg_envelope_t *env = brg_envelope_new();
    const uint8_t body[] = {0, 1, 2, 0xff, 0};
    brg_envelope_set_body(env, body, sizeof(body));
    brg_envelope_set_key(env, "k\0y", 3);
    brg_envelope_add_header_bytes(env, "bin", "\x00\x01", 2);
    brg_envelope_add_header_str(env, "dup", "one");
    brg_envelope_add_header_str(env, "dup", "two");
    brg_value_t t = brg_value_table(sample_table());
    brg_fields_add(&env->headers, "x-death", 7, &t);
    brg_props_set(&env->props.message_id, "m-1");
    env->props.priority = 7;
    env->origin.partition = 3;
    env->origin.stream = strdup("orders");

    brg_envelope_t *c = brg_envelope_copy(env);
    ck_assert_uint_eq(c->body_len, sizeof(body));
    ck_assert_mem_eq(c->body, body, sizeof(body));
    ck_assert_ptr_ne(c->body, env->body);
    ck_assert_uint_eq(c->key_len, 3);
    ck_assert_mem_eq(c->key, "k\0y", 3);
    ck_assert(brg_fields_equal(&c->headers, &env->headers));
    ck_assert_uint_eq(c->headers.count, 4);
    ck_assert_str_eq((const char *)c->headers.items[1].value.u.bytes.data, "one");
    ck_assert_str_eq((const char *)c->headers.items[2].value.u.bytes.data, "two");
    ck_assert_str_eq(c->props.message_id, "m-1");
    ck_assert_ptr_ne(c->props.message_id, env->props.message_id);
    ck_assert_int_eq(c->props.priority, 7);
    ck_assert_str_eq(c->origin.stream, "orders");
    brg_envelope_destroy(env);
    /* The copy survives the original. */
    ck_assert_uint_eq(c->headers.items[3].value.u.fields->count, 3);
    brg_envelope_destroy(c);
}
END_TEST

START_TEST(test_value_equal_checks_type_and_width)
{
    brg_value_t a = brg_value_int(5, 32), b = brg_value_int(5, 64), c = brg_value_uint(5, 32);
    ck_assert(!brg_value_equal(&a, &b));
    ck_assert(!brg_value_equal(&a, &c));
    brg_value_t d = brg_value_int(5, 32);
    ck_assert(brg_value_equal(&a, &d));
    brg_value_t s = brg_value_string("ab", 2), y = brg_value_bytes("ab", 2);
    ck_assert(!brg_value_equal(&s, &y));
    brg_value_fini(&s);
    brg_value_fini(&y);
}
END_TEST

START_TEST(test_fields_remove_all_duplicates)
{
    brg_fields_t f;
    brg_fields_init(&f);
    brg_value_t v = brg_value_string("1", 1);
    brg_fields_add(&f, "a", 1, &v);
    v = brg_value_string("2", 1);
    brg_fields_add(&f, "b", 1, &v);
    v = brg_value_string("3", 1);
    brg_fields_add(&f, "a", 1, &v);
    ck_assert_uint_eq(brg_fields_remove(&f, "a"), 2);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_str_eq(f.items[0].name, "b");
    ck_assert_ptr_null(brg_fields_get(&f, "a"));
    brg_fields_fini(&f);
}
END_TEST

static int freed;
static void count_free(void *opaque)
{
    freed += *(int *)opaque;
}

START_TEST(test_borrowed_body_released_once)
{
    static const char data[] = "borrowed";
    int one = 1;
    freed = 0;
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body_ref(env, data, 8, count_free, &one);
    ck_assert_ptr_eq(env->body, data);
    brg_envelope_set_body(env, "own", 3);
    ck_assert_int_eq(freed, 1);
    brg_envelope_destroy(env);
    ck_assert_int_eq(freed, 1);
}
END_TEST

START_TEST(test_copy_keeps_null_body_apart_from_empty)
{
    brg_envelope_t *tomb = brg_envelope_new();
    brg_envelope_t *c = brg_envelope_copy(tomb);
    ck_assert_ptr_null(c->body);
    brg_envelope_destroy(c);
    brg_envelope_set_body(tomb, "", 0);
    c = brg_envelope_copy(tomb);
    ck_assert_ptr_nonnull(c->body);
    ck_assert_uint_eq(c->body_len, 0);
    brg_envelope_destroy(c);
    brg_envelope_destroy(tomb);
}
END_TEST

START_TEST(test_envelope_size_counts_headers)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "12345", 5);
    size_t base = brg_envelope_size(env);
    ck_assert_uint_eq(base, 5);
    brg_envelope_add_header_str(env, "h", "0123456789");
    ck_assert_uint_gt(brg_envelope_size(env), base + 10);
    brg_envelope_destroy(env);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_envelope_absent_and_empty_key_differ);
    tcase_add_test(tc, test_envelope_copy_is_deep_and_equal);
    tcase_add_test(tc, test_value_equal_checks_type_and_width);
    tcase_add_test(tc, test_fields_remove_all_duplicates);
    tcase_add_test(tc, test_borrowed_body_released_once);
    tcase_add_test(tc, test_envelope_size_counts_headers);
    tcase_add_test(tc, test_copy_keeps_null_body_apart_from_empty);
    suite_add_tcase(s, tc);
    return s;
}
