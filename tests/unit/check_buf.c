/* bridge/buf: the growable buffer and the Prometheus label escaper. */
#include "tests/check_main.h"
#include <stdlib.h>
#include <string.h>

#include "bridge/buf.h"

START_TEST(test_buf_appends_bytes_text_and_formats_in_order)
{
    brg_buf_t b = {0};
    brg_buf_add(&b, "ab\0c", 4);
    brg_buf_str(&b, "de");
    brg_buf_str(&b, NULL);
    brg_buf_byte(&b, 'f');
    brg_buf_printf(&b, "%d-%s", 42, "x");
    ck_assert_uint_eq(b.len, 11);
    ck_assert_mem_eq(b.data, "ab\0cdef42-x", 11);
    ck_assert_int_eq(b.data[b.len], '\0');
    brg_buf_fini(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_buf_grows_past_any_first_guess)
{
    brg_buf_t b = {0};
    char big[5000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 100; i++) {
        brg_buf_printf(&b, "%s|%d", big, i);
    }
    size_t one = strlen(big) + 1;
    ck_assert_uint_eq(b.len, 100 * one + 10 + 90 * 2);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert_mem_eq(b.data + b.len - 4, "y|99", 4);
    brg_buf_fini(&b);
}
END_TEST

START_TEST(test_buf_steal_hands_over_text_and_empties)
{
    brg_buf_t b = {0};
    size_t len = 99;
    char *empty = brg_buf_steal(&b, &len);
    ck_assert_ptr_nonnull(empty);
    ck_assert_str_eq(empty, "");
    ck_assert_uint_eq(len, 0);
    free(empty);
    brg_buf_str(&b, "hello");
    char *s = brg_buf_steal(&b, &len);
    ck_assert_str_eq(s, "hello");
    ck_assert_uint_eq(len, 5);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len + b.cap, 0);
    free(s);
    brg_buf_fini(&b); /* an empty buffer */
}
END_TEST

START_TEST(test_prom_label_escapes_quote_backslash_newline)
{
    char out[64];
    ck_assert_str_eq(brg_prom_label("a\"b\\c\nd", out, sizeof(out)), "a\\\"b\\\\c\\nd");
    ck_assert_str_eq(brg_prom_label("plain-name.1", out, sizeof(out)), "plain-name.1");
    ck_assert_str_eq(brg_prom_label(NULL, out, sizeof(out)), "");
}
END_TEST

START_TEST(test_json_str_escapes_quote_backslash_controls_keeps_utf8)
{
    brg_buf_t b = {0};
    brg_buf_json_str(&b, "a\"b\\c\nd\x01 \xc3\xa9");
    brg_buf_str(&b, ",");
    brg_buf_json_str(&b, NULL);
    ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\u000ad\\u0001 \xc3\xa9\",\"\"");
    brg_buf_fini(&b);
}
END_TEST

START_TEST(test_prom_label_cuts_long_values_without_half_escapes)
{
    char out[8];
    /* Room for 7 bytes and the NUL, but an escape pair is never split: it stops before. */
    ck_assert_str_eq(brg_prom_label("abcdefghij", out, sizeof(out)), "abcde");
    ck_assert_str_eq(brg_prom_label("abcd\"x", out, sizeof(out)), "abcd\\\"");
    ck_assert_str_eq(brg_prom_label("abcde\"", out, sizeof(out)), "abcde");
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_appends_bytes_text_and_formats_in_order);
    tcase_add_test(tc, test_buf_grows_past_any_first_guess);
    tcase_add_test(tc, test_buf_steal_hands_over_text_and_empties);
    tcase_add_test(tc, test_prom_label_escapes_quote_backslash_newline);
    tcase_add_test(tc, test_prom_label_cuts_long_values_without_half_escapes);
    tcase_add_test(tc, test_json_str_escapes_quote_backslash_controls_keeps_utf8);
    suite_add_tcase(s, tc);
    return s;
}
