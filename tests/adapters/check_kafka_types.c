/* Typed header values through Kafka (kafka_types.c, and the codec around it): every envelope
 * value type comes back from a Kafka record as it went in, the hint and the values are the
 * documented text (docs/kafka.md, "Header types"), and records that msgbridge did not write,
 * or that someone changed on the way, are read as well as they can be, never worse than bytes.
 * Part of the check_kafka binary (kafka_types_tcase). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "adapters/kafka/kafka_codec.h"
#include "adapters/kafka/kafka_types.h"

TCase *kafka_types_tcase(void);

/* ---- helpers ----------------------------------------------------------------------------- */

static void add(brg_fields_t *f, const char *name, brg_value_t v)
{
    brg_fields_add(f, name, name ? strlen(name) : 0, &v);
}

static void add_n(brg_fields_t *f, const char *name, size_t len, brg_value_t v)
{
    brg_fields_add(f, name, len, &v);
}

static brg_value_t dec(int32_t value, uint8_t scale)
{
    brg_value_t v = {.type = BRG_V_DECIMAL};
    v.u.dec.value = value;
    v.u.dec.scale = scale;
    return v;
}

/* A string literal and its length (it may hold NUL bytes). */
#define LIT(s) s, sizeof(s) - 1

static const uint8_t uuid16[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* Encode the envelope's headers, decode them as a consumed record would be. *hout (if not
 * NULL) gets the Kafka headers, which the caller destroys. */
static brg_envelope_t *through_kafka(const brg_envelope_t *in, rd_kafka_headers_t **hout)
{
    rd_kafka_headers_t *h = brg_kafka_encode_headers(in);
    brg_kafka_record_t rec = {.topic = "t", .value = "", .headers = h, .timestamp = -1};
    brg_envelope_t *out = brg_kafka_decode(&rec, NULL, NULL);
    if (hout) {
        *hout = h;
    } else if (h) {
        rd_kafka_headers_destroy(h);
    }
    return out;
}

/* Decode a record whose headers are given as name/value pairs (value NULL: a null value). */
static brg_envelope_t *decode_pairs(const char *const *pairs, size_t n, const size_t *lens)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(n);
    for (size_t i = 0; i < n; i++) {
        const char *v = pairs[2 * i + 1];
        rd_kafka_header_add(h, pairs[2 * i], -1, v, v ? (ssize_t)(lens ? lens[i] : strlen(v)) : 0);
    }
    brg_kafka_record_t rec = {.topic = "t", .value = "", .headers = h, .timestamp = -1};
    brg_envelope_t *env = brg_kafka_decode(&rec, NULL, NULL);
    rd_kafka_headers_destroy(h);
    return env;
}

static void assert_kheader(const rd_kafka_headers_t *h, const char *name, const char *want)
{
    const void *v;
    size_t size;
    ck_assert_int_eq(rd_kafka_header_get(h, 0, name, &v, &size), 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(size == strlen(want) && memcmp(v, want, size) == 0, "%s: got %.*s, want %s",
                  name, (int)size, (const char *)v, want);
}

static void assert_typed(const brg_field_t *f, const char *name, brg_vtype_t type)
{
    ck_assert_str_eq(f->name, name);
    ck_assert_str_eq(brg_vtype_name(f->value.type), brg_vtype_name(type));
}

/* Every value type, at the top and nested, with widths, edge values, non-UTF-8 bytes. */
static brg_fields_t *every_type(int depth)
{
    brg_fields_t *f = brg_fields_new();
    add(f, "t", brg_value_bool(true));
    add(f, "f", brg_value_bool(false));
    add(f, "i8", brg_value_int(INT8_MIN, 8));
    add(f, "i16", brg_value_int(-300, 16));
    add(f, "i32", brg_value_int(INT32_MIN, 32));
    add(f, "i64", brg_value_int(INT64_MIN, 64));
    add(f, "u8", brg_value_uint(UINT8_MAX, 8));
    add(f, "u16", brg_value_uint(60000, 16));
    add(f, "u32", brg_value_uint(UINT32_MAX, 32));
    add(f, "u64", brg_value_uint(UINT64_MAX, 64));
    add(f, "f32", brg_value_float((double)0.1f, 32));
    add(f, "f64", brg_value_float(0.1, 64));
    add(f, "big", brg_value_float(-1.7976931348623157e308, 64));
    add(f, "inf", brg_value_float(INFINITY, 64));
    add(f, "ninf", brg_value_float(-INFINITY, 32));
    add(f, "dec", dec(-12345, 3));
    add(f, "dec0", dec(0, 2));
    add(f, "decmin", dec(INT32_MIN, 4));
    add(f, "decint", dec(77, 0));
    add(f, "ts", brg_value_timestamp(1700000000123LL));
    add(f, "tsneg", brg_value_timestamp(-1000));
    add(f, "s", brg_value_string(LIT("text \"quoted\" \\ é")));
    add(f, "s8", brg_value_string(LIT("\xff\xfe\x00 not utf-8 \xc3")));
    add(f, "sym", brg_value_typed_bytes(BRG_V_SYMBOL, "sym", 3));
    add(f, "uuid", brg_value_typed_bytes(BRG_V_UUID, uuid16, 16));
    add(f, "b", brg_value_bytes("\x00\x01\xff", 3));
    add(f, "es", brg_value_string("", 0));
    add(f, "eb", brg_value_bytes("", 0));
    add(f, "nul", brg_value_null());
    add_n(f, "n\"a,m=e%\xff\x01", 10, brg_value_int(3, 32));
    add(f, "", brg_value_int(4, 8)); /* an empty name */
    add(f, "etab", brg_value_table(NULL));
    add(f, "earr", brg_value_array(brg_fields_new()));
    if (depth < 2) {
        add(f, "tab", brg_value_table(every_type(depth + 1)));
        brg_fields_t *arr = every_type(depth + 1);
        for (size_t i = 0; i < arr->count; i++) { /* arrays have no names */
            free(arr->items[i].name);
            arr->items[i].name = NULL;
            arr->items[i].name_len = 0;
        }
        add(f, "arr", brg_value_array(arr));
    }
    return f;
}

/* ---- round trips --------------------------------------------------------------------------- */

START_TEST(test_types_every_type_comes_back)
{
    brg_envelope_t *in = brg_envelope_new();
    brg_fields_t *all = every_type(0);
    brg_fields_copy(&in->headers, all);
    brg_fields_destroy(all);
    brg_envelope_t *out = through_kafka(in, NULL);
    ck_assert_uint_eq(out->headers.count, in->headers.count);
    for (size_t i = 0; i < in->headers.count; i++) {
        const brg_field_t *a = &in->headers.items[i], *b = &out->headers.items[i];
        ck_assert_uint_eq(a->name_len, b->name_len);
        ck_assert(memcmp(a->name, b->name, a->name_len) == 0);
        ck_assert_msg(brg_value_equal(&a->value, &b->value), "header %zu \"%s\" (%s) differs",
                      i, a->name, brg_vtype_name(a->value.type));
    }
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    /* And again: what a Kafka -> Kafka route writes is what it read. */
    brg_envelope_t *again = through_kafka(out, NULL);
    ck_assert(brg_fields_equal(&in->headers, &again->headers));
    brg_envelope_destroy(again);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_hint_and_values_are_the_documented_text)
{
    brg_envelope_t *in = brg_envelope_new();
    add(&in->headers, "seq", brg_value_int(5, 64));
    add(&in->headers, "text", brg_value_string("hi", 2));
    add(&in->headers, "raw", brg_value_bytes("\x01", 1));
    brg_fields_t *death = brg_fields_new();
    add(death, "count", brg_value_int(1, 64));
    add(death, "reason", brg_value_string("rejected", 8));
    add(death, "time", brg_value_timestamp(1700000000000LL));
    brg_fields_t *rks = brg_fields_new();
    add(rks, NULL, brg_value_string("q", 1));
    add(death, "routing-keys", brg_value_array(rks));
    brg_fields_t *deaths = brg_fields_new();
    add(deaths, NULL, brg_value_table(death));
    add(&in->headers, "x-death", brg_value_array(deaths));
    add(&in->headers, "price", dec(150, 2));
    add(&in->headers, "x-msgbridge-path", brg_value_string("b/r", 3));
    add(&in->headers, "x-msgbridge-bin", brg_value_bytes("\xff", 1));
    add(&in->headers, "u", brg_value_typed_bytes(BRG_V_UUID, uuid16, 16));

    rd_kafka_headers_t *h;
    brg_envelope_t *out = through_kafka(in, &h);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 9);
    const char *name;
    const void *v;
    size_t size;
    ck_assert_int_eq(rd_kafka_header_get_all(h, 0, &name, &v, &size), 0);
    ck_assert_str_eq(name, "x-msgbridge-types"); /* first: before what it types */
    assert_kheader(h, "x-msgbridge-types",
                   "seq=long,raw=binary,x-death=list(map(long,string,timestamp,list(string))),"
                   "price=decimal,x-msgbridge-bin=binary,u=uuid");
    assert_kheader(h, "seq", "5");
    assert_kheader(h, "text", "hi");
    assert_kheader(h, "raw", "\x01");
    assert_kheader(h, "x-death",
                   "[{\"count\":1,\"reason\":\"rejected\",\"time\":1700000000000,"
                   "\"routing-keys\":[\"q\"]}]");
    assert_kheader(h, "price", "1.50");
    assert_kheader(h, "x-msgbridge-path", "b/r");
    assert_kheader(h, "u", "12345678-9abc-def0-0123-456789abcdef");
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    rd_kafka_headers_destroy(h);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_strings_alone_cost_one_empty_hint)
{
    /* Text headers from a typed source: an empty hint says "unlisted headers are strings". */
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_add_header_str(in, "a", "1");
    brg_envelope_add_header_str(in, "x-msgbridge-path", "p");
    add(&in->headers, "n", brg_value_null());
    rd_kafka_headers_t *h;
    brg_envelope_t *out = through_kafka(in, &h);
    assert_kheader(h, "x-msgbridge-types", "");
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    rd_kafka_headers_destroy(h);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_no_hint_when_nothing_needs_one)
{
    /* Bytes, nulls and msgbridge's own text headers (provenance, dead-letter reasons) read back
     * right without a hint: a Kafka -> Kafka mirror adds nothing. */
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_add_header_bytes(in, "trace", "a\0b", 3);
    add(&in->headers, "null", brg_value_null());
    brg_envelope_add_header_str(in, "x-msgbridge-path", "k2k/mirror");
    brg_envelope_add_header_str(in, "x-msgbridge-dlq-reason", "rejected");
    rd_kafka_headers_t *h;
    brg_envelope_t *out = through_kafka(in, &h);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 4);
    const void *v;
    size_t size;
    ck_assert_int_ne(rd_kafka_header_get(h, 0, "x-msgbridge-types", &v, &size), 0);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    rd_kafka_headers_destroy(h);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_repeated_names_keep_each_type)
{
    /* Kafka repeats header names: once one of a name is typed, every one of that name is
     * listed, so the k-th entry types the k-th header. */
    brg_envelope_t *in = brg_envelope_new();
    add(&in->headers, "h", brg_value_bytes("raw", 3));
    add(&in->headers, "h", brg_value_int(1, 32));
    add(&in->headers, "other", brg_value_bytes("o", 1));
    add(&in->headers, "h", brg_value_null());
    add(&in->headers, "h", brg_value_string("s", 1));
    add(&in->headers, "x-msgbridge-path", brg_value_string("p", 1));
    add(&in->headers, "x-msgbridge-path", brg_value_bool(true));
    rd_kafka_headers_t *h;
    brg_envelope_t *out = through_kafka(in, &h);
    assert_kheader(h, "x-msgbridge-types",
                   "h=binary,h=int,other=binary,h=null,h=string,x-msgbridge-path=string,"
                   "x-msgbridge-path=boolean");
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    rd_kafka_headers_destroy(h);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_nested_bytes_that_are_not_utf8)
{
    brg_fields_t *arr = brg_fields_new();
    add(arr, NULL, brg_value_bytes("\xff\x00\xc3\xa9" "a\x7f", 6)); /* 0xff, NUL, é, a, DEL */
    add(arr, NULL, brg_value_string("\xe2\x82\xac\xed\xa0\x80", 6)); /* €, then a surrogate */
    add(arr, NULL, brg_value_float(NAN, 64));
    brg_value_t v = brg_value_array(arr);
    size_t len;
    uint8_t *text = brg_kafka_value_bytes(&v, &len);
    /* Valid JSON: UTF-8 stays readable, stray bytes are \u00XX (one byte each). */
    ck_assert_str_eq((char *)text, "[\"\\u00ff\\u0000\xc3\xa9" "a\\u007f\","
                                   "\"\xe2\x82\xac\\u00ed\\u00a0\\u0080\",\"nan\"]");
    brg_value_t back;
    ck_assert(brg_kafka_value_parse("list(binary,string,double)", 26, text, len, &back));
    ck_assert_uint_eq(back.u.fields->count, 3);
    ck_assert(brg_value_equal(&back.u.fields->items[0].value, &arr->items[0].value));
    ck_assert(brg_value_equal(&back.u.fields->items[1].value, &arr->items[1].value));
    ck_assert(isnan(back.u.fields->items[2].value.u.f));
    brg_value_fini(&back);
    /* Escapes a plain JSON writer would use read as UTF-8 (surrogate pairs joined). */
    const char *foreign = "[\"\\u20ac\\ud83d\\ude00\\n\\/\"]";
    ck_assert(brg_kafka_value_parse("list(string)", 12, foreign, strlen(foreign), &back));
    ck_assert_uint_eq(back.u.fields->items[0].value.u.bytes.len, 9);
    ck_assert(memcmp(back.u.fields->items[0].value.u.bytes.data,
                     "\xe2\x82\xac\xf0\x9f\x98\x80\n/", 9) == 0);
    brg_value_fini(&back);
    free(text);
    brg_value_fini(&v);
}
END_TEST

START_TEST(test_types_null_and_empty_values_differ)
{
    const char *pairs[] = {"x-msgbridge-types", "eb=binary,nb=null",
                           "es", "", "eb", "", "nb", NULL, "plain-null", NULL};
    brg_envelope_t *env = decode_pairs(pairs, 5, NULL);
    ck_assert_uint_eq(env->headers.count, 4);
    assert_typed(&env->headers.items[0], "es", BRG_V_STRING); /* unlisted in a hinted record */
    ck_assert_uint_eq(env->headers.items[0].value.u.bytes.len, 0);
    assert_typed(&env->headers.items[1], "eb", BRG_V_BYTES);
    ck_assert_uint_eq(env->headers.items[1].value.u.bytes.len, 0);
    assert_typed(&env->headers.items[2], "nb", BRG_V_NULL);
    assert_typed(&env->headers.items[3], "plain-null", BRG_V_NULL);
    brg_envelope_destroy(env);

    /* Without a hint: empty is bytes, null is null. */
    const char *plain[] = {"plain-empty", "", "plain-null", NULL};
    env = decode_pairs(plain, 2, NULL);
    assert_typed(&env->headers.items[0], "plain-empty", BRG_V_BYTES);
    ck_assert_uint_eq(env->headers.items[0].value.u.bytes.len, 0);
    assert_typed(&env->headers.items[1], "plain-null", BRG_V_NULL);
    brg_envelope_destroy(env);

    /* A null header value stays null whatever it is listed as; an empty one is no number. */
    const char *odd[] = {"x-msgbridge-types", "n=int,m=int", "n", NULL, "m", ""};
    env = decode_pairs(odd, 3, NULL);
    assert_typed(&env->headers.items[0], "n", BRG_V_NULL);
    assert_typed(&env->headers.items[1], "m", BRG_V_BYTES);
    brg_envelope_destroy(env);
}
END_TEST

/* ---- records msgbridge did not write, or that changed on the way ----------------------------- */

START_TEST(test_types_value_that_does_not_match_stays_bytes)
{
    const char *pairs[] = {"x-msgbridge-types", "a=int,b=byte,c=boolean,d=uuid,e=map(int),f=long",
                           "a", "abc", "b", "128", "c", "TRUE", "d", "not-a-uuid",
                           "e", "{\"k\":1,\"extra\":2}", "f", "42"};
    brg_envelope_t *env = decode_pairs(pairs, 7, NULL);
    ck_assert_uint_eq(env->headers.count, 6);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(env->headers.items[i].value.type, BRG_V_BYTES);
    }
    assert_typed(&env->headers.items[5], "f", BRG_V_INT);
    ck_assert_int_eq(env->headers.items[5].value.u.i, 42);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_types_malformed_hint_is_an_ordinary_header)
{
    static const char *bad[] = {"n=int,", "n", "=int,n=(", "n=int)", "n=map(int", "n=,m=int",
                                "n=map(int,)"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *pairs[] = {"x-msgbridge-types", bad[i], "n", "5"};
        brg_envelope_t *env = decode_pairs(pairs, 2, NULL);
        ck_assert_msg(env->headers.count == 2, "hint \"%s\"", bad[i]);
        assert_typed(&env->headers.items[0], "x-msgbridge-types", BRG_V_STRING);
        assert_typed(&env->headers.items[1], "n", BRG_V_BYTES);
        brg_envelope_destroy(env);
    }
    /* A type this version does not know leaves that header bytes, the others typed. */
    const char *pairs[] = {"x-msgbridge-types", "n=int,m=float128,k=map(zzz(int),boolean)",
                           "n", "5", "m", "1.5", "k", "{\"a\":1,\"b\":true}"};
    brg_envelope_t *env = decode_pairs(pairs, 4, NULL);
    ck_assert_uint_eq(env->headers.count, 3);
    assert_typed(&env->headers.items[0], "n", BRG_V_INT);
    assert_typed(&env->headers.items[1], "m", BRG_V_BYTES);
    assert_typed(&env->headers.items[2], "k", BRG_V_BYTES);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_types_hint_types_only_headers_after_it)
{
    /* A property header before the hint stays a property; a header of the same name after it
     * is the listed, typed header (never taken for the property). */
    const char *pairs[] = {"x-msgbridge-priority", "7", "x-msgbridge-types",
                           "x-msgbridge-priority=int,x-msgbridge-types=string",
                           "x-msgbridge-priority", "9", "x-msgbridge-types", "mine"};
    brg_envelope_t *env = decode_pairs(pairs, 4, NULL);
    ck_assert_int_eq(env->props.priority, 7);
    ck_assert_uint_eq(env->headers.count, 2);
    assert_typed(&env->headers.items[0], "x-msgbridge-priority", BRG_V_INT);
    ck_assert_int_eq(env->headers.items[0].value.u.i, 9);
    assert_typed(&env->headers.items[1], "x-msgbridge-types", BRG_V_STRING);
    brg_envelope_destroy(env);

    /* The envelope's own header of the hint's name round-trips. */
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_add_header_str(in, "x-msgbridge-types", "n=int");
    brg_envelope_add_header_bytes(in, "n", "5", 1);
    brg_envelope_t *out = through_kafka(in, NULL);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_old_amqp1_hint_is_read)
{
    /* Records written before x-msgbridge-types carry the AMQP 1.0 source's hint: it types
     * the listed headers and stays (the AMQP 1.0 sink drops it). */
    const char *pairs[] = {"seq", "5", "x-msgbridge-amqp-types", "seq=ulong,flag=boolean,m=map",
                           "flag", "true", "m", "{}", "other", "x"};
    brg_envelope_t *env = decode_pairs(pairs, 5, NULL);
    ck_assert_uint_eq(env->headers.count, 5);
    assert_typed(&env->headers.items[0], "seq", BRG_V_UINT);
    ck_assert_uint_eq(env->headers.items[0].value.width, 64);
    assert_typed(&env->headers.items[1], "x-msgbridge-amqp-types", BRG_V_STRING);
    assert_typed(&env->headers.items[2], "flag", BRG_V_BOOL);
    assert_typed(&env->headers.items[3], "m", BRG_V_BYTES); /* no members listed: not typed */
    assert_typed(&env->headers.items[4], "other", BRG_V_BYTES);
    brg_envelope_destroy(env);

    /* With both, the new one is used. */
    const char *both[] = {"x-msgbridge-types", "seq=int,x-msgbridge-amqp-types=string", "seq", "5",
                          "x-msgbridge-amqp-types", "seq=ulong"};
    env = decode_pairs(both, 3, NULL);
    assert_typed(&env->headers.items[0], "seq", BRG_V_INT);
    ck_assert_uint_eq(env->headers.items[0].value.width, 32);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_types_nesting_deeper_than_the_limit_stays_bytes)
{
    brg_value_t v = brg_value_int(1, 32);
    for (int i = 0; i < BRG_KAFKA_MAX_DEPTH + 2; i++) {
        brg_fields_t *f = brg_fields_new();
        brg_fields_add(f, NULL, 0, &v);
        v = brg_value_array(f);
    }
    brg_envelope_t *in = brg_envelope_new();
    brg_fields_add(&in->headers, "deep", 4, &v);
    add(&in->headers, "n", brg_value_int(2, 32));
    brg_envelope_t *out = through_kafka(in, NULL);
    assert_typed(&out->headers.items[0], "deep", BRG_V_BYTES); /* its JSON text */
    ck_assert_int_eq(out->headers.items[0].value.u.bytes.data[0], '[');
    assert_typed(&out->headers.items[1], "n", BRG_V_INT);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_types_scalar_text_is_strict)
{
    static const struct {
        const char *type, *text;
        bool ok;
    } cases[] = {
        {"byte", "-128", true},    {"byte", "128", false},   {"ubyte", "255", true},
        {"ubyte", "-1", false},    {"ubyte", "256", false},  {"short", "-32768", true},
        {"ushort", "65536", false}, {"int", " 5", false},    {"int", "+5", false},
        {"int", "5 ", false},      {"int", "0x10", false},   {"long", "-9223372036854775808", true},
        {"long", "9223372036854775808", false},              {"ulong", "18446744073709551615", true},
        {"ulong", "18446744073709551616", false},            {"timestamp", "-5", true},
        {"decimal", "1.", false},  {"decimal", ".5", false}, {"decimal", "1.2.3", false},
        {"decimal", "21474836.47", true},                    {"decimal", "21474836.48", false},
        {"decimal", "-21474836.48", true},                   {"decimal", "1e3", false},
        {"double", "1e-300", true}, {"double", "", false},   {"double", "1.5x", false},
        {"float", "-inf", true},   {"boolean", "True", false}, {"uuid", "12345678-9abc-def0-0123-456789abcdeg", false},
        {"uuid", "123456789abcdef00123456789abcdef", false},  {"null", "", false},
        {"map()", "{}", true},     {"map()", "{} x", false}, {"list()", " [ ] ", true},
        {"int()", "5", false},     {"string(int)", "x", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        brg_value_t v;
        bool ok = brg_kafka_value_parse(cases[i].type, strlen(cases[i].type), cases[i].text,
                                        strlen(cases[i].text), &v);
        ck_assert_msg(ok == cases[i].ok, "%s \"%s\": %s", cases[i].type, cases[i].text,
                      ok ? "accepted" : "refused");
        if (ok) {
            brg_value_fini(&v);
        }
    }
    brg_value_t v;
    ck_assert(brg_kafka_value_parse("decimal", 7, "-0.05", 5, &v));
    ck_assert_int_eq(v.u.dec.value, -5);
    ck_assert_uint_eq(v.u.dec.scale, 2);
    ck_assert(brg_kafka_value_parse("float", 5, "0.1", 3, &v));
    ck_assert(v.u.f == (double)0.1f); /* the float's value, not the double's */
}
END_TEST

/* A random type expression (depth-bounded) into b. */
static void random_type(char *b, size_t size, unsigned *seed, int depth)
{
    static const char *const scalars[] = {"int", "string", "binary", "boolean", "double",
                                          "decimal", "uuid", "null", "ubyte", "timestamp"};
    int r = rand_r(seed) % 12;
    if (depth >= 3 || r < 10) {
        snprintf(b, size, "%s", scalars[r % 10]);
        return;
    }
    size_t n = (size_t)snprintf(b, size, "%s(", r == 10 ? "map" : "list");
    int kids = rand_r(seed) % 3;
    for (int i = 0; i < kids && n + 2 < size; i++) {
        if (i) {
            b[n++] = ',';
        }
        random_type(b + n, size - n, seed, depth + 1);
        n += strlen(b + n);
    }
    snprintf(b + n, size - n, ")");
}

/* Records from anyone: random hints and values over the characters that matter must never
 * crash or leak (run under ASan in the sanitizer build), and whatever decodes re-encodes. */
START_TEST(test_types_random_input_is_safe)
{
    static const char talpha[] = "maplistringbyteshortulongfloatdoubledecimaluuidnull()=,%2C";
    static const char valpha[] = "{}[]\":,0123456789.-e\\u00ff truefalsenull nan\xff\x01";
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        char hint[64], val[64];
        size_t hl = (size_t)(rand_r(&seed) % 40), vl = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < hl; i++) {
            hint[i] = talpha[rand_r(&seed) % (sizeof(talpha) - 1)];
        }
        if (iter % 2) { /* half of them well-formed: "n=TYPE" */
            hint[0] = 'n';
            hint[1] = '=';
            random_type(hint + 2, sizeof(hint) - 2, &seed, 0);
            hl = strlen(hint);
        }
        for (size_t i = 0; i < vl; i++) {
            val[i] = valpha[rand_r(&seed) % (sizeof(valpha) - 1)];
        }
        hint[hl] = '\0';
        val[vl] = '\0';
        /* The hint types "n" and "m" if it lists them. */
        const char *pairs[] = {"x-msgbridge-types", hint, "n", val, "m", val};
        size_t lens[] = {hl, vl, vl};
        brg_envelope_t *env = decode_pairs(pairs, 3, lens);
        brg_envelope_t *again = through_kafka(env, NULL);
        ck_assert(brg_fields_equal(&env->headers, &again->headers));
        brg_envelope_destroy(again);
        brg_envelope_destroy(env);
        brg_value_t v;
        if (brg_kafka_value_parse(hint, hl, val, vl, &v)) {
            brg_value_fini(&v);
        }
    }
}
END_TEST

TCase *kafka_types_tcase(void)
{
    TCase *t = tcase_create("types");
    tcase_add_test(t, test_types_every_type_comes_back);
    tcase_add_test(t, test_types_hint_and_values_are_the_documented_text);
    tcase_add_test(t, test_types_no_hint_when_nothing_needs_one);
    tcase_add_test(t, test_types_strings_alone_cost_one_empty_hint);
    tcase_add_test(t, test_types_repeated_names_keep_each_type);
    tcase_add_test(t, test_types_nested_bytes_that_are_not_utf8);
    tcase_add_test(t, test_types_null_and_empty_values_differ);
    tcase_add_test(t, test_types_value_that_does_not_match_stays_bytes);
    tcase_add_test(t, test_types_malformed_hint_is_an_ordinary_header);
    tcase_add_test(t, test_types_hint_types_only_headers_after_it);
    tcase_add_test(t, test_types_old_amqp1_hint_is_read);
    tcase_add_test(t, test_types_nesting_deeper_than_the_limit_stays_bytes);
    tcase_add_test(t, test_types_scalar_text_is_strict);
    tcase_add_test(t, test_types_random_input_is_safe);
    /* 20,000 random headers through a real librdkafka message: about a second alone, but over
     * Check's default 4 s under ASan beside the other lane's tests (seen while a whole suite
     * ran on the machine). */
    tcase_set_timeout(t, 30);
    return t;
}
