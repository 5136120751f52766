/* bridge/utf8: validation (RFC 3629), encoding, decoding, hex digits. */
#include <stdint.h>
#include <string.h>

#include "bridge/utf8.h"
#include "tests/check_main.h"

START_TEST(test_utf8_accepts_every_well_formed_length)
{
    ck_assert(brg_utf8_valid("", 0));
    ck_assert(brg_utf8_valid("plain", 5));
    ck_assert(brg_utf8_valid("\xc3\xa9t\xc3\xa9", 6));          /* été */
    ck_assert(brg_utf8_valid("\xe2\x82\xac", 3));               /* U+20AC */
    ck_assert(brg_utf8_valid("\xf0\x9f\x98\x80", 4));           /* U+1F600 */
    ck_assert(brg_utf8_valid("\xf4\x8f\xbf\xbf", 4));           /* U+10FFFF, the last */
    ck_assert_uint_eq(brg_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
}
END_TEST

START_TEST(test_utf8_rejects_overlongs_surrogates_and_truncation)
{
    static const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* U+D800, a surrogate */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* past the range */
        "\x80",             /* a lone continuation byte */
        "\xe2\x82",         /* cut short */
        "\xc3\x28",         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!brg_utf8_valid(bad[i], strlen(bad[i])), "case %zu accepted", i);
    }
    ck_assert_uint_eq(brg_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
    ck_assert_uint_eq(brg_utf8_seq_len((const unsigned char *)"x", 0), 0);
}
END_TEST

START_TEST(test_utf8_text_excludes_nul)
{
    ck_assert(brg_utf8_is_text("abc", 3));
    ck_assert(brg_utf8_is_text("", 0));
    ck_assert(!brg_utf8_is_text("a\0c", 3));
    ck_assert(!brg_utf8_is_text("\xff", 1));
    ck_assert(brg_utf8_valid("a\0c", 3)); /* NUL is valid UTF-8, just not text */
}
END_TEST

START_TEST(test_utf8_encode_then_decode_round_trips)
{
    static const uint32_t cps[] = {0, 0x41, 0x7f, 0x80, 0x7ff, 0x800, 0x20ac, 0xfffd, 0xffff,
                                   0x10000, 0x1f600, 0x10ffff};
    static const size_t lens[] = {1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4};
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        char u[4];
        size_t n = brg_utf8_encode(cps[i], u);
        ck_assert_uint_eq(n, lens[i]);
        size_t seq = 0;
        ck_assert_uint_eq(brg_utf8_decode((const unsigned char *)u, n, &seq), cps[i]);
        ck_assert_uint_eq(seq, n);
    }
    char u[4] = "abc";
    ck_assert_uint_eq(brg_utf8_encode(0x110000, u), 0);
    ck_assert_mem_eq(u, "abc", 3); /* nothing written */
    char e[4];
    ck_assert_uint_eq(brg_utf8_encode(0x20ac, e), 3);
    ck_assert_mem_eq(e, "\xe2\x82\xac", 3);
}
END_TEST

START_TEST(test_utf8_decode_reports_a_bad_byte)
{
    size_t seq = 9;
    ck_assert_uint_eq(brg_utf8_decode((const unsigned char *)"\xff", 1, &seq), 0xff);
    ck_assert_uint_eq(seq, 0);
    ck_assert_uint_eq(brg_utf8_decode((const unsigned char *)"\xc3", 1, &seq), 0xc3);
    ck_assert_uint_eq(seq, 0);
}
END_TEST

START_TEST(test_hex_digit_reads_both_cases_only)
{
    ck_assert_int_eq(brg_hex_digit('0'), 0);
    ck_assert_int_eq(brg_hex_digit('9'), 9);
    ck_assert_int_eq(brg_hex_digit('a'), 10);
    ck_assert_int_eq(brg_hex_digit('F'), 15);
    ck_assert_int_eq(brg_hex_digit('g'), -1);
    ck_assert_int_eq(brg_hex_digit('%'), -1);
    ck_assert_int_eq(brg_hex_digit('\0'), -1);
}
END_TEST

Suite *check_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_utf8_accepts_every_well_formed_length);
    tcase_add_test(tc, test_utf8_rejects_overlongs_surrogates_and_truncation);
    tcase_add_test(tc, test_utf8_text_excludes_nul);
    tcase_add_test(tc, test_utf8_encode_then_decode_round_trips);
    tcase_add_test(tc, test_utf8_decode_reports_a_bad_byte);
    tcase_add_test(tc, test_hex_digit_reads_both_cases_only);
    suite_add_tcase(s, tc);
    return s;
}
