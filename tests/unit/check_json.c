/* The JSON envelope codec (adapters/file/json_codec): lossless round trips of every value type,
 * the exact canonical text, and strict, soft-failing decoding of malformed lines. */
#include "tests/check_main.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/file/base64.h"
#include "adapters/file/json_codec.h"

/* Decode a NUL-terminated line; fails the test with the codec's error if it does not decode. */
static brg_envelope_t *decode_ok(const char *line)
{
    brg_envelope_t *env = NULL;
    char err[512] = "";
    brg_err_t rc = brg_json_decode(line, strlen(line), &env, err, sizeof(err));
    ck_assert_msg(rc == BRG_OK, "decode failed: %s (line: %.200s)", err, line);
    ck_assert_ptr_nonnull(env);
    return env;
}

/* Decode must fail; returns the error text in a static buffer. */
static const char *decode_err(const char *line, size_t len)
{
    static char err[512];
    brg_envelope_t *env = (brg_envelope_t *)1;
    err[0] = 0;
    brg_err_t rc = brg_json_decode(line, len, &env, err, sizeof(err));
    ck_assert_msg(rc == BRG_ERR_INVALID, "decode of %.200s unexpectedly succeeded", line);
    ck_assert_ptr_null(env);
    ck_assert_msg(err[0] != 0, "no error text");
    return err;
}

/* encode(env), decode it back, and check every part is equal. Returns the decoded copy. */
static brg_envelope_t *round_trip(const brg_envelope_t *env)
{
    size_t len;
    char *line = brg_json_encode(env, &len);
    ck_assert_uint_eq(strlen(line), len);
    ck_assert_ptr_null(memchr(line, '\n', len)); /* one line, whatever the content */
    brg_envelope_t *back = decode_ok(line);
    ck_assert_uint_eq(back->body_len, env->body_len);
    if (env->body_len) {
        ck_assert_mem_eq(back->body, env->body, env->body_len);
    }
    ck_assert_int_eq(back->key == NULL, env->key == NULL);
    ck_assert_uint_eq(back->key_len, env->key_len);
    if (env->key_len) {
        ck_assert_mem_eq(back->key, env->key, env->key_len);
    }
    ck_assert_msg(brg_fields_equal(&back->headers, &env->headers), "headers differ after %s",
                  line);
    /* Canonical: encoding the decoded envelope gives the same bytes. */
    size_t len2;
    char *again = brg_json_encode(back, &len2);
    ck_assert_str_eq(again, line);
    free(again);
    free(line);
    return back;
}

static void add(brg_fields_t *f, const char *name, size_t name_len, brg_value_t v)
{
    brg_fields_add(f, name, name_len, &v);
}

/* One header of every type and width, binary and non-UTF-8 names and values, duplicates,
 * nested tables and arrays. */
static void add_all_types(brg_fields_t *h)
{
    static const uint8_t uuid[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                                     0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
    add(h, "null", 4, brg_value_null());
    add(h, "true", 4, brg_value_bool(true));
    add(h, "false", 5, brg_value_bool(false));
    add(h, "i8", 2, brg_value_int(-128, 8));
    add(h, "i16", 3, brg_value_int(32767, 16));
    add(h, "i32", 3, brg_value_int(INT32_MIN, 32));
    add(h, "i64", 3, brg_value_int(INT64_MIN, 64));
    add(h, "i64max", 6, brg_value_int(INT64_MAX, 64));
    add(h, "u8", 2, brg_value_uint(255, 8));
    add(h, "u16", 3, brg_value_uint(65535, 16));
    add(h, "u32", 3, brg_value_uint(UINT32_MAX, 32));
    add(h, "u64", 3, brg_value_uint(UINT64_MAX, 64));
    add(h, "u64small", 8, brg_value_uint(7, 64));
    add(h, "f32", 3, brg_value_float((double)0.1f, 32));
    add(h, "f64", 3, brg_value_float(0.1, 64));
    add(h, "f64big", 6, brg_value_float(-1.7976931348623157e308, 64));
    add(h, "f64tiny", 7, brg_value_float(4.9406564584124654e-324, 64));
    add(h, "negzero", 7, brg_value_float(-0.0, 64));
    add(h, "nan", 3, brg_value_float(NAN, 64));
    add(h, "inf", 3, brg_value_float(INFINITY, 32));
    add(h, "-inf", 4, brg_value_float(-INFINITY, 64));
    brg_value_t dec = {.type = BRG_V_DECIMAL};
    dec.u.dec.scale = 2;
    dec.u.dec.value = -12345;
    add(h, "decimal", 7, dec);
    add(h, "ts", 2, brg_value_timestamp(1700000000123));
    add(h, "ts-neg", 6, brg_value_timestamp(-5));
    add(h, "str", 3, brg_value_string("h\xc3\xa9llo \"w\"\n\t\\", 13));
    add(h, "str-nul", 7, brg_value_string("a\0b", 3));
    add(h, "str-latin1", 10, brg_value_string("caf\xe9", 4));
    add(h, "str-empty", 9, brg_value_string("", 0));
    add(h, "bytes", 5, brg_value_bytes("\x00\x01\xfe\xff", 4));
    add(h, "bytes-text", 10, brg_value_bytes("plain", 5));
    add(h, "bytes-empty", 11, brg_value_bytes("", 0));
    add(h, "symbol", 6, brg_value_typed_bytes(BRG_V_SYMBOL, "amqp:sym", 8));
    add(h, "uuid", 4, brg_value_typed_bytes(BRG_V_UUID, uuid, 16));
    add(h, "uuid-short", 10, brg_value_typed_bytes(BRG_V_UUID, "\x01\x02", 2));
    add(h, "dup", 3, brg_value_string("one", 3));
    add(h, "dup", 3, brg_value_string("two", 3));
    add(h, "\xff\xfe-binary-name", 15, brg_value_string("x", 1));
    add(h, "nul\0name", 8, brg_value_int(1, 64));
    add(h, "", 0, brg_value_string("empty name", 10));

    brg_fields_t *inner = brg_fields_new();
    add(inner, "deep", 4, brg_value_bytes("\x80", 1));
    brg_fields_t *arr = brg_fields_new();
    add(arr, NULL, 0, brg_value_int(1, 8));
    add(arr, NULL, 0, brg_value_string("two", 3));
    add(arr, NULL, 0, brg_value_table(inner));
    add(arr, NULL, 0, brg_value_array(NULL));
    add(arr, NULL, 0, brg_value_null());
    brg_fields_t *table = brg_fields_new();
    add(table, "list", 4, brg_value_array(arr));
    add(table, "empty", 5, brg_value_table(NULL));
    add(table, "x-death-count", 13, brg_value_int(3, 64));
    add(h, "table", 5, brg_value_table(table));
}

START_TEST(test_json_every_value_type_round_trips)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "body", 4);
    add_all_types(&env->headers);
    brg_envelope_t *back = round_trip(env);
    ck_assert_uint_eq(back->headers.count, env->headers.count);
    /* Types and widths survive, not only the printed values. */
    brg_field_t *f = brg_fields_get(&back->headers, "i8");
    ck_assert_int_eq(f->value.type, BRG_V_INT);
    ck_assert_uint_eq(f->value.width, 8);
    f = brg_fields_get(&back->headers, "u64");
    ck_assert_int_eq(f->value.type, BRG_V_UINT);
    ck_assert(f->value.u.u == UINT64_MAX);
    f = brg_fields_get(&back->headers, "f32");
    ck_assert_uint_eq(f->value.width, 32);
    ck_assert(f->value.u.f == (double)0.1f);
    f = brg_fields_get(&back->headers, "nan");
    ck_assert(isnan(f->value.u.f));
    f = brg_fields_get(&back->headers, "negzero");
    ck_assert(signbit(f->value.u.f));
    f = brg_fields_get(&back->headers, "bytes-text");
    ck_assert_int_eq(f->value.type, BRG_V_BYTES);
    f = brg_fields_get(&back->headers, "symbol");
    ck_assert_int_eq(f->value.type, BRG_V_SYMBOL);
    ck_assert_uint_eq(back->headers.items[env->headers.count - 3].name_len, 8); /* "nul\0name" */
    brg_envelope_destroy(back);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_json_exact_canonical_text)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "hello", 5);
    brg_envelope_set_key(env, "k1", 2);
    brg_envelope_add_header_str(env, "s", "v");
    add(&env->headers, "i8", 2, brg_value_int(-5, 8));
    add(&env->headers, "b", 1, brg_value_bytes("\x00\xff", 2));
    add(&env->headers, "u", 1, brg_value_uint(UINT64_MAX, 64));
    add(&env->headers, "f", 1, brg_value_float(1.5, 32));
    add(&env->headers, "n", 1, brg_value_float(NAN, 64));
    brg_props_set(&env->props.message_id, "m1");
    env->props.priority = 4;
    env->props.durable = 1;
    env->props.timestamp_ms = 1700000000000;
    env->origin.adapter = "kafka";
    env->origin.endpoint = strdup("east");
    env->origin.stream = strdup("orders");
    env->origin.partition = 2;
    env->origin.offset = 42;
    char *line = brg_json_encode(env, NULL);
    ck_assert_str_eq(line,
                     "{\"body\":\"hello\",\"key\":\"k1\",\"headers\":["
                     "{\"name\":\"s\",\"type\":\"string\",\"value\":\"v\"},"
                     "{\"name\":\"i8\",\"type\":\"int\",\"width\":8,\"value\":-5},"
                     "{\"name\":\"b\",\"type\":\"bytes\",\"value_base64\":\"AP8=\"},"
                     "{\"name\":\"u\",\"type\":\"uint\",\"value\":\"18446744073709551615\"},"
                     "{\"name\":\"f\",\"type\":\"float\",\"width\":32,\"value\":1.5},"
                     "{\"name\":\"n\",\"type\":\"float\",\"value\":\"NaN\"}],"
                     "\"properties\":{\"message_id\":\"m1\",\"priority\":4,\"durable\":true,"
                     "\"timestamp_ms\":1700000000000},"
                     "\"origin\":{\"adapter\":\"kafka\",\"endpoint\":\"east\",\"stream\":"
                     "\"orders\",\"partition\":2,\"offset\":42}}");
    free(line);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_json_binary_bodies_use_base64)
{
    static const struct {
        const char *body;
        size_t len;
        const char *expect;
    } cases[] = {
        {"", 0, "{\"body\":\"\"}"},
        {"plain text", 10, "{\"body\":\"plain text\"}"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "{\"body\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"},
        {"line\nbreak\r\n", 12, "{\"body\":\"line\\nbreak\\r\\n\"}"},
        {"\x00\x01\x02\xff", 4, "{\"body_base64\":\"AAEC/w==\"}"},
        {"a\0b", 3, "{\"body_base64\":\"YQBi\"}"},          /* NUL is not text */
        {"\xc0\xaf", 2, "{\"body_base64\":\"wK8=\"}"},      /* overlong '/' */
        {"\xed\xa0\x80", 3, "{\"body_base64\":\"7aCA\"}"},  /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, "{\"body_base64\":\"9JCAgA==\"}"}, /* past U+10FFFF */
        {"\xe2\x82", 2, "{\"body_base64\":\"4oI=\"}"},      /* truncated sequence */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        brg_envelope_t *env = brg_envelope_new();
        brg_envelope_set_body(env, cases[i].body, cases[i].len);
        char *line = brg_json_encode(env, NULL);
        ck_assert_msg(strcmp(line, cases[i].expect) == 0, "case %zu: got %s", i, line);
        brg_envelope_destroy(round_trip(env));
        free(line);
        brg_envelope_destroy(env);
    }
    /* A large binary body: every byte value, many times. */
    size_t n = 1 << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++) {
        big[i] = (uint8_t)(i * 7 + i / 256);
    }
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_take_body(env, big, n);
    brg_envelope_destroy(round_trip(env));
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_json_absent_and_empty_key_differ)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "b", 1);
    char *line = brg_json_encode(env, NULL);
    ck_assert_str_eq(line, "{\"body\":\"b\"}");
    free(line);
    brg_envelope_t *back = decode_ok("{\"body\":\"b\"}");
    ck_assert_ptr_null(back->key);
    brg_envelope_destroy(back);

    brg_envelope_set_key(env, "", 0);
    line = brg_json_encode(env, NULL);
    ck_assert_str_eq(line, "{\"body\":\"b\",\"key\":\"\"}");
    free(line);
    back = decode_ok("{\"body\":\"b\",\"key\":\"\"}");
    ck_assert_ptr_nonnull(back->key);
    ck_assert_uint_eq(back->key_len, 0);
    brg_envelope_destroy(back);

    brg_envelope_set_key(env, "k\0\xff", 3);
    line = brg_json_encode(env, NULL);
    ck_assert_str_eq(line, "{\"body\":\"b\",\"key_base64\":\"awD/\"}");
    free(line);
    brg_envelope_destroy(round_trip(env));
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_json_properties_and_origin_round_trip)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_props_t *p = &env->props;
    brg_props_set(&p->message_id, "id-1");
    brg_props_set(&p->correlation_id, "corr");
    brg_props_set(&p->content_type, "application/json");
    brg_props_set(&p->content_encoding, "gzip");
    brg_props_set(&p->reply_to, "replies");
    brg_props_set(&p->subject, "order.created");
    brg_props_set(&p->user_id, "caf\xe9"); /* Latin-1: not UTF-8, goes to user_id_base64 */
    brg_props_set(&p->app_id, "app");
    brg_props_set(&p->group_id, "g");
    p->priority = 0;
    p->durable = 0;
    p->ttl_ms = 60000;
    p->timestamp_ms = 0;
    p->timestamp_type = 2;
    brg_origin_t *o = &env->origin;
    o->adapter = "rabbitmq";
    o->endpoint = strdup("rabbit");
    o->stream = strdup("q");
    o->delivery_tag = UINT64_MAX;
    o->exchange = strdup("");
    o->routing_key = strdup("rk");
    o->redelivered = true;
    char *line = brg_json_encode(env, NULL);
    ck_assert_ptr_nonnull(strstr(line, "\"user_id_base64\":\"Y2Fm6Q==\""));
    brg_envelope_t *back = decode_ok(line);
    free(line);
    ck_assert_str_eq(back->props.message_id, "id-1");
    ck_assert_str_eq(back->props.correlation_id, "corr");
    ck_assert_str_eq(back->props.content_type, "application/json");
    ck_assert_str_eq(back->props.content_encoding, "gzip");
    ck_assert_str_eq(back->props.reply_to, "replies");
    ck_assert_str_eq(back->props.subject, "order.created");
    ck_assert_str_eq(back->props.user_id, "caf\xe9");
    ck_assert_str_eq(back->props.app_id, "app");
    ck_assert_str_eq(back->props.group_id, "g");
    ck_assert_int_eq(back->props.priority, 0);
    ck_assert_int_eq(back->props.durable, 0);
    ck_assert_int_eq(back->props.ttl_ms, 60000);
    ck_assert_int_eq(back->props.timestamp_ms, 0);
    ck_assert_int_eq(back->props.timestamp_type, 2);
    ck_assert_str_eq(back->origin.adapter, "rabbitmq");
    ck_assert_str_eq(back->origin.endpoint, "rabbit");
    ck_assert_str_eq(back->origin.stream, "q");
    ck_assert(back->origin.delivery_tag == UINT64_MAX);
    ck_assert_str_eq(back->origin.exchange, "");
    ck_assert_str_eq(back->origin.routing_key, "rk");
    ck_assert(back->origin.redelivered);
    ck_assert_int_eq(back->origin.partition, -1);
    ck_assert_int_eq(back->origin.offset, -1);
    brg_envelope_destroy(back);

    /* Absent stays absent. */
    back = decode_ok("{\"body\":\"\"}");
    ck_assert_ptr_null(back->props.message_id);
    ck_assert_int_eq(back->props.priority, -1);
    ck_assert_int_eq(back->props.durable, -1);
    ck_assert_int_eq(back->props.ttl_ms, -1);
    ck_assert_int_eq(back->props.timestamp_ms, -1);
    ck_assert_ptr_null(back->origin.adapter);
    brg_envelope_destroy(back);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_json_non_canonical_input_is_normalized)
{
    /* Spaces, another member order, explicit defaults, empty lists and objects, upper-case
     * UUID, integers for floats, a CRLF line end: all accepted, written back canonically. */
    const char *in =
        "  { \"origin\": {\"redelivered\": false, \"adapter\": \"someday-adapter\"},\r\n"
        "    \"headers\": [ {\"value\": 64, \"type\": \"int\", \"width\": 64, \"name\": \"a\"},\n"
        "      {\"name\":\"f\",\"type\":\"float\",\"value\":2},"
        "      {\"name\":\"u\",\"type\":\"uint\",\"value\":\"12\"},"
        "      {\"name\":\"n\",\"type\":\"null\",\"value\":null},"
        "      {\"name\":\"id\",\"type\":\"uuid\","
        "\"value\":\"123E4567-E89B-12D3-A456-426614174000\"}],"
        "    \"properties\": {}, \"key_base64\": \"\", \"body\": \"x\" }\r\n";
    brg_envelope_t *env = decode_ok(in);
    char *line = brg_json_encode(env, NULL);
    ck_assert_str_eq(line, "{\"body\":\"x\",\"key\":\"\",\"headers\":["
                           "{\"name\":\"a\",\"type\":\"int\",\"value\":64},"
                           "{\"name\":\"f\",\"type\":\"float\",\"value\":2.0},"
                           "{\"name\":\"u\",\"type\":\"uint\",\"value\":12},"
                           "{\"name\":\"n\",\"type\":\"null\"},"
                           "{\"name\":\"id\",\"type\":\"uuid\","
                           "\"value\":\"123e4567-e89b-12d3-a456-426614174000\"}]}");
    free(line);
    brg_envelope_destroy(env);
}
END_TEST

typedef struct bad_case {
    const char *line;
    const char *error;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* not JSON, or not one object */
    {"{\"body\":\"x\"", "invalid JSON at column 11: '}' expected near end of file"},
    {"{\"body\":\"x\",", "invalid JSON at column 12: string or '}' expected near end of file"},
    {"{\"body\":\"x\"} {}", "invalid JSON at column 14: end of file expected near '{'"},
    {"{\"body\":\"x\",\"body\":\"y\"}", "invalid JSON at column 18: duplicate object key near "
                                        "'\"body\"'"},
    {"{\"body\":\"\\u0000\"}", "invalid JSON at column 16: \\u0000 is not allowed without "
                               "JSON_ALLOW_NUL near '\"\\u0000\"'"},
    {"{\"body\":\"\xff\"}", "invalid JSON at column 9: unable to decode byte 0xff near '\"'"},
    {"[1,2]", "expected a JSON object, got an array"},
    {"\"body\"", "invalid JSON at column 6: '[' or '{' expected near '\"body\"'"},
    /* members */
    {"{\"body\":\"x\",\"value\":1}", "unknown member \"value\" (valid: body, body_base64, key, "
                                     "key_base64, headers, properties, origin)"},
    {"{\"key\":\"k\"}", "missing \"body\" (or \"body_base64\")"},
    {"{\"body\":\"x\",\"body_base64\":\"eA==\"}",
     "both \"body\" and \"body_base64\" are set (exactly one is allowed)"},
    {"{\"body\":1}", "body: expected a string, got an integer"},
    {"{\"body\":null}", "body: expected a string, got null"},
    {"{\"body\":\"x\",\"key\":[]}", "key: expected a string, got an array"},
    /* base64 */
    {"{\"body_base64\":\"eA=\"}", "body_base64: bad base64: length 3 is not a multiple of 4"},
    {"{\"body_base64\":\"e*==\"}",
     "body_base64: bad base64: invalid character '*' at offset 1"},
    {"{\"body_base64\":\"eA==eA==\"}", "body_base64: bad base64: misplaced padding at offset 2"},
    {"{\"body_base64\":\"e A=\"}", "body_base64: bad base64: invalid character ' ' at offset 1"},
    {"{\"body_base64\":\"e\\u00e9=\"}", "body_base64: bad base64: invalid byte 0xc3 at offset 1"},
    {"{\"body_base64\":\"eB==\"}", "body_base64: bad base64: non-zero padding bits at offset 1"},
    {"{\"body_base64\":\"eA= \"}", "body_base64: bad base64: misplaced padding at offset 2"},
    {"{\"body\":\"x\",\"key_base64\":\"\\n\"}",
     "key_base64: bad base64: length 1 is not a multiple of 4"},
    /* headers */
    {"{\"body\":\"x\",\"headers\":{}}", "headers: expected an array, got an object"},
    {"{\"body\":\"x\",\"headers\":[\"a\"]}", "headers[0]: expected an object, got a string"},
    {"{\"body\":\"x\",\"headers\":[{\"type\":\"bool\",\"value\":true}]}",
     "headers[0]: missing \"name\" (or \"name_base64\")"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"value\":1}]}", "headers[0]: missing \"type\""},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"integer\",\"value\":1}]}",
     "headers[0].type: unknown type \"integer\" (valid: string, bytes, int, uint, float, bool, "
     "null, timestamp, decimal, symbol, uuid, table, array)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":7,\"value\":1}]}",
     "headers[0].type: expected a string, got an integer"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"value\":\"1\"}]}",
     "headers[0].value: expected an integer for type \"int\", got a string"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"value\":1.0}]}",
     "headers[0].value: expected an integer for type \"int\", got a number with a fraction"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\"}]}",
     "headers[0]: missing \"value\""},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"width\":12,\"value\":1}]}",
     "headers[0].width: 12 is not a valid width (8, 16, 32, 64)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"float\",\"width\":16,\"value\":1}]}",
     "headers[0].width: 16 is not a valid width for a float (32, 64)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"string\",\"width\":8,\"value\":\"\"}]}",
     "headers[0].width: only int, uint and float values have a width"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"width\":8,\"value\":128}]}",
     "headers[0].value: 128 is out of range for int width 8 (-128..127)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"uint\",\"width\":16,\"value\":65536}]}",
     "headers[0].value: 65536 is out of range (0..65535)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"uint\",\"value\":-1}]}",
     "headers[0].value: -1 is negative (an unsigned value is expected)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"uint\",\"value\":\"1e3\"}]}",
     "headers[0].value: \"1e3\" is not an unsigned decimal integer"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"uint\","
     "\"value\":\"18446744073709551616\"}]}",
     "headers[0].value: 18446744073709551616 is out of range for 64 bits"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"value\":9223372036854775808}]}",
     "invalid JSON at column 75: too big integer near '9223372036854775808'"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"float\",\"value\":\"nan\"}]}",
     "headers[0].value: expected a number, \"NaN\", \"Infinity\" or \"-Infinity\" for type "
     "\"float\", got a string"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"float\",\"width\":32,\"value\":1e39}]}",
     "headers[0].value: 1e+39 is out of range for float width 32"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"bool\",\"value\":1}]}",
     "headers[0].value: expected true or false for type \"bool\", got an integer"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"null\",\"value\":0}]}",
     "headers[0].value: expected null for type \"null\", got an integer"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"decimal\",\"value\":1}]}",
     "headers[0]: missing \"scale\" for type \"decimal\""},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"decimal\",\"scale\":2,"
     "\"value\":4294967296}]}",
     "headers[0].value: 4294967296 is out of range for a decimal (32-bit value)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"scale\":2,\"value\":1}]}",
     "headers[0]: only decimal values have a \"scale\""},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"timestamp\",\"value\":\"now\"}]}",
     "headers[0].value: expected an integer (milliseconds) for type \"timestamp\", got a string"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"uuid\",\"value\":\"nope\"}]}",
     "headers[0].value: \"nope\" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"int\",\"value_base64\":\"AA==\"}]}",
     "headers[0]: \"value_base64\" is only for types string, bytes, symbol, uuid"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"bytes\",\"value_base64\":\"AA\"}]}",
     "headers[0].value_base64: bad base64: length 2 is not a multiple of 4"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"string\"}]}",
     "headers[0]: missing \"value\" (or \"value_base64\")"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"name_base64\":\"YQ==\",\"type\":\"null\"}]}",
     "headers[0]: both \"name\" and \"name_base64\" are set (exactly one is allowed)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"table\",\"value\":{}}]}",
     "headers[0].value: expected an array of named values for type \"table\", got an object"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"t\",\"type\":\"table\","
     "\"value\":[{\"type\":\"bool\",\"value\":true}]}]}",
     "headers[0].value[0]: missing \"name\" (or \"name_base64\")"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"array\","
     "\"value\":[{\"name\":\"n\",\"type\":\"null\"}]}]}",
     "headers[0].value[0]: unknown member \"name\" (valid: type, width, scale, value, "
     "value_base64)"},
    {"{\"body\":\"x\",\"headers\":[{\"name\":\"a\",\"type\":\"array\","
     "\"value\":[{\"type\":\"int\",\"width\":8,\"value\":1},{\"type\":\"uint\",\"value\":true}]}]}",
     "headers[0].value[1].value: expected an unsigned integer, got a boolean"},
    /* properties and origin */
    {"{\"body\":\"x\",\"properties\":[]}", "properties: expected an object, got an array"},
    {"{\"body\":\"x\",\"properties\":{\"id\":\"1\"}}",
     "properties: unknown member \"id\" (valid: message_id, message_id_base64, correlation_id, "
     "correlation_id_base64, content_type, content_type_base64, content_encoding, "
     "content_encoding_base64, reply_to, reply_to_base64, subject, subject_base64, user_id, "
     "user_id_base64, app_id, app_id_base64, group_id, group_id_base64, priority, durable, "
     "ttl_ms, timestamp_ms, timestamp_type)"},
    {"{\"body\":\"x\",\"properties\":{\"priority\":300}}",
     "properties.priority: 300 is out of range (0..255)"},
    {"{\"body\":\"x\",\"properties\":{\"durable\":\"yes\"}}",
     "properties.durable: expected true or false, got a string"},
    {"{\"body\":\"x\",\"properties\":{\"ttl_ms\":-1}}",
     "properties.ttl_ms: -1 is out of range (0..9223372036854775807)"},
    {"{\"body\":\"x\",\"properties\":{\"message_id_base64\":\"YQBi\"}}",
     "properties.message_id_base64: contains a NUL byte (not allowed in a property)"},
    {"{\"body\":\"x\",\"properties\":{\"timestamp_type\":1}}",
     "properties.timestamp_type: expected \"create_time\" or \"log_append_time\""},
    {"{\"body\":\"x\",\"origin\":{\"partition\":-2}}",
     "origin.partition: -2 is out of range (0..2147483647)"},
    {"{\"body\":\"x\",\"origin\":{\"redelivered\":1}}",
     "origin.redelivered: expected true or false, got an integer"},
    {"{\"body\":\"x\",\"origin\":{\"stream\":5}}", "origin.stream: expected a string, got an integer"},
};

START_TEST(test_json_malformed_lines_fail_softly)
{
    const bad_case_t *c = &bad_cases[_i];
    const char *err = decode_err(c->line, strlen(c->line));
    ck_assert_msg(strcmp(err, c->error) == 0, "line %s\n  expected error: %s\n  got:            %s",
                  c->line, c->error, err);
}
END_TEST

START_TEST(test_json_empty_and_truncated_input)
{
    ck_assert_str_eq(decode_err("", 0), "invalid JSON at column 1: '[' or '{' expected near end "
                                        "of file");
    /* Every prefix of a valid line fails cleanly (never crashes, never succeeds). */
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "\x01\x02", 2);
    brg_envelope_set_key(env, "key", 3);
    add_all_types(&env->headers);
    size_t len;
    char *line = brg_json_encode(env, &len);
    for (size_t n = 0; n < len; n++) {
        decode_err(line, n);
    }
    free(line);
    brg_envelope_destroy(env);
}
END_TEST

/* n nested arrays: {"body":"","headers":[{"name":"a","type":"array","value":[{"type":"array",
 * "value":[ ... ]}]}]} */
static char *nested(int n)
{
    size_t cap = (size_t)n * 48 + 128, len = 0;
    char *s = malloc(cap);
    len += (size_t)sprintf(s + len, "{\"body\":\"\",\"headers\":[{\"name\":\"a\",\"type\":\"array\","
                                    "\"value\":[");
    for (int i = 1; i < n; i++) {
        len += (size_t)sprintf(s + len, "{\"type\":\"array\",\"value\":[");
    }
    for (int i = 1; i < n; i++) {
        len += (size_t)sprintf(s + len, "]}");
    }
    sprintf(s + len, "]}]}");
    return s;
}

START_TEST(test_json_deep_nesting_is_refused)
{
    char *ok = nested(BRG_JSON_MAX_DEPTH);
    brg_envelope_t *env = decode_ok(ok);
    brg_envelope_destroy(round_trip(env));
    brg_envelope_destroy(env);
    free(ok);

    char *deep = nested(BRG_JSON_MAX_DEPTH + 1);
    const char *err = decode_err(deep, strlen(deep));
    ck_assert_msg(strstr(err, ": tables and arrays nested deeper than 64 levels") != NULL, "%s",
                  err);
    ck_assert_msg(strncmp(err, "headers[0].value[0].value[0].", 29) == 0, "%s", err);
    free(deep);

    /* Far deeper than any parser stack should go: jansson's own depth limit answers. */
    size_t n = 100000;
    char *brackets = malloc(n + 32);
    strcpy(brackets, "{\"body\":\"\",\"x\":");
    size_t l = strlen(brackets);
    memset(brackets + l, '[', n);
    brackets[l + n] = 0;
    err = decode_err(brackets, l + n);
    ck_assert_msg(strstr(err, "invalid JSON at column") == err && strstr(err, "depth") != NULL,
                  "%s", err);
    free(brackets);
}
END_TEST

START_TEST(test_json_huge_lines)
{
    /* 20 MiB of text body plus 10000 headers: the codec has no size limit of its own (the
     * file source's max_line_bytes is the limit); it must just work. */
    size_t n = 20u << 20;
    char *body = malloc(n);
    memset(body, 'z', n);
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_take_body(env, (uint8_t *)body, n);
    for (int i = 0; i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        add(&env->headers, name, strlen(name), brg_value_int(i, 32));
    }
    brg_envelope_destroy(round_trip(env));
    brg_envelope_destroy(env);

    /* A huge malformed line: 8 MiB string that never closes. */
    char *bad = malloc(n);
    memcpy(bad, "{\"body\":\"", 9);
    memset(bad + 9, 'a', n - 9);
    const char *err = decode_err(bad, n);
    ck_assert_msg(strstr(err, "premature end of input") != NULL, "%s", err);
    free(bad);
}
END_TEST

START_TEST(test_json_encode_append_builds_ndjson)
{
    brg_jbuf_t b = {0};
    for (int i = 0; i < 3; i++) {
        brg_envelope_t *env = brg_envelope_new();
        char body[8];
        snprintf(body, sizeof(body), "m%d", i);
        brg_envelope_set_body(env, body, strlen(body));
        brg_json_encode_append(env, &b);
        brg_envelope_destroy(env);
    }
    ck_assert_uint_eq(b.len, 3 * strlen("{\"body\":\"m0\"}\n"));
    ck_assert_mem_eq(b.data, "{\"body\":\"m0\"}\n{\"body\":\"m1\"}\n{\"body\":\"m2\"}\n", b.len);
    free(b.data);
}
END_TEST

START_TEST(test_base64_round_trips_all_lengths)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(255 - i * 13);
    }
    for (size_t n = 0; n <= sizeof(data); n++) {
        size_t elen;
        char *e = brg_b64_encode(data, n, &elen);
        ck_assert_uint_eq(elen, (n + 2) / 3 * 4);
        uint8_t *d;
        size_t dlen;
        char why[128];
        ck_assert_msg(brg_b64_decode(e, elen, &d, &dlen, why, sizeof(why)), "%s", why);
        ck_assert_uint_eq(dlen, n);
        ck_assert_mem_eq(d, data, n);
        ck_assert_uint_eq(d[n], 0);
        free(d);
        free(e);
    }
    char *e = brg_b64_encode("foobar", 6, NULL);
    ck_assert_str_eq(e, "Zm9vYmFy"); /* RFC 4648 test vector */
    free(e);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_json_every_value_type_round_trips);
    tcase_add_test(tc, test_json_exact_canonical_text);
    tcase_add_test(tc, test_json_binary_bodies_use_base64);
    tcase_add_test(tc, test_json_absent_and_empty_key_differ);
    tcase_add_test(tc, test_json_properties_and_origin_round_trip);
    tcase_add_test(tc, test_json_non_canonical_input_is_normalized);
    tcase_add_loop_test(tc, test_json_malformed_lines_fail_softly, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_json_empty_and_truncated_input);
    tcase_add_test(tc, test_json_deep_nesting_is_refused);
    tcase_add_test(tc, test_json_huge_lines);
    tcase_add_test(tc, test_json_encode_append_builds_ndjson);
    tcase_add_test(tc, test_base64_round_trips_all_lengths);
    suite_add_tcase(s, tc);
    return s;
}

Suite *check_suite(void)
{
    return json_suite();
}
