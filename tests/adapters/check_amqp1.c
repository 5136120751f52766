/* Unit tests of the amqp1 adapter's pure parts: the codec (pn_message_t <-> envelope), the
 * address resolution per broker family and the endpoint URL parser. No network. */
#include "tests/check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "adapters/amqp1/amqp1_address.h"
#include "adapters/amqp1/amqp1_codec.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Serialize msg to bytes (malloc'd) as a sender would put them on the wire. */
static char *wire(pn_message_t *msg, size_t *len)
{
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = pn_message_encode2(msg, &buf);
    ck_assert_int_ge(n, 0);
    *len = (size_t)n;
    return buf.start;
}

/* envelope -> AMQP bytes -> envelope. */
static brg_envelope_t *round_trip(const brg_envelope_t *in, const brg_amqp1_encode_opts_t *o)
{
    pn_message_t *msg = pn_message();
    char err[256];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, o, err, sizeof(err)), BRG_OK);
    size_t len;
    char *bytes = wire(msg, &len);
    brg_envelope_t *out = brg_envelope_new();
    brg_err_t rc = brg_amqp1_decode(msg, bytes, len, out, err, sizeof(err));
    ck_assert_msg(rc == BRG_OK, "decode: %s", err);
    free(bytes);
    pn_message_free(msg);
    return out;
}

static void add(brg_envelope_t *env, const char *name, brg_value_t v)
{
    brg_fields_add(&env->headers, name, strlen(name), &v);
}

/* ---- values ------------------------------------------------------------------------------- */

START_TEST(test_value_every_type_round_trips_through_pn_data)
{
    brg_fields_t *inner = brg_fields_new();
    brg_value_t iv = brg_value_int(-5, 16);
    brg_fields_add(inner, "n", 1, &iv);
    brg_fields_t *list = brg_fields_new();
    brg_value_t lv1 = brg_value_string("a", 1), lv2 = brg_value_uint(7, 8);
    brg_fields_add(list, NULL, 0, &lv1);
    brg_fields_add(list, NULL, 0, &lv2);
    uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    brg_value_t vals[] = {
        brg_value_null(),
        brg_value_bool(true),
        brg_value_bool(false),
        brg_value_int(-128, 8),
        brg_value_int(-32768, 16),
        brg_value_int(-2147483647 - 1, 32),
        brg_value_int(INT64_MIN, 64),
        brg_value_uint(255, 8),
        brg_value_uint(65535, 16),
        brg_value_uint(4294967295u, 32),
        brg_value_uint(UINT64_MAX, 64),
        brg_value_float(1.5, 32),
        brg_value_float(-2.25e300, 64),
        brg_value_timestamp(1700000000123),
        brg_value_string("h\xc3\xa9llo", 6),
        brg_value_bytes("\x00\x01\xff", 3),
        brg_value_typed_bytes(BRG_V_SYMBOL, "sym", 3),
        brg_value_typed_bytes(BRG_V_UUID, uuid, 16),
        brg_value_table(inner),
        brg_value_array(list),
    };
    for (size_t i = 0; i < BRG_ARRAY_SIZE(vals); i++) {
        pn_data_t *d = pn_data(0);
        brg_amqp1_value_put(d, &vals[i]);
        pn_data_rewind(d);
        ck_assert(pn_data_next(d));
        brg_value_t back;
        char err[128];
        ck_assert_int_eq(brg_amqp1_value_get(d, &back, 0, err, sizeof(err)), BRG_OK);
        ck_assert_msg(brg_value_equal(&vals[i], &back), "value %zu (%s) changed", i,
                      brg_vtype_name(vals[i].type));
        brg_value_fini(&back);
        brg_value_fini(&vals[i]);
        pn_data_free(d);
    }
}
END_TEST

START_TEST(test_value_amqp_only_types_map_to_nearest)
{
    pn_data_t *d = pn_data(0);
    pn_data_put_char(d, 0x20AC); /* euro sign */
    pn_decimal64_t dec = 0x0102030405060708ull;
    pn_data_put_decimal64(d, dec);
    pn_data_put_described(d);
    pn_data_enter(d);
    pn_data_put_symbol(d, pn_bytes(4, "desc"));
    pn_data_put_int(d, 42);
    pn_data_exit(d);
    pn_data_rewind(d);
    char err[128];
    brg_value_t v;

    ck_assert(pn_data_next(d));
    ck_assert_int_eq(brg_amqp1_value_get(d, &v, 0, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(v.type, BRG_V_STRING);
    ck_assert_str_eq((char *)v.u.bytes.data, "\xe2\x82\xac");
    brg_value_fini(&v);

    ck_assert(pn_data_next(d));
    ck_assert_int_eq(brg_amqp1_value_get(d, &v, 0, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(v.type, BRG_V_BYTES);
    ck_assert_uint_eq(v.u.bytes.len, 8);
    ck_assert(memcmp(v.u.bytes.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    brg_value_fini(&v);

    ck_assert(pn_data_next(d));
    ck_assert_int_eq(brg_amqp1_value_get(d, &v, 0, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(v.type, BRG_V_INT);
    ck_assert_int_eq(v.u.i, 42);
    brg_value_fini(&v);
    pn_data_free(d);
}
END_TEST

/* An AMQP 0-9-1 decimal becomes a decimal64 (IEEE 754-2008, BID encoding) and comes back
 * exactly; a decimal64 that is not such a decimal keeps its raw bits as bytes. */
START_TEST(test_value_decimal_0_9_1_becomes_decimal64)
{
    brg_value_t v = {.type = BRG_V_DECIMAL};
    v.u.dec.scale = 3;
    v.u.dec.value = -12345;
    pn_data_t *d = pn_data(0);
    brg_amqp1_value_put(d, &v);
    v.u.dec.scale = 4;
    v.u.dec.value = 5;
    brg_amqp1_value_put(d, &v);
    pn_data_put_decimal64(d, UINT64_C(0x7800000000000000)); /* +infinity */
    pn_data_rewind(d);
    ck_assert(pn_data_next(d));
    ck_assert_int_eq(pn_data_type(d), PN_DECIMAL64);
    /* -12345e-3 in BID: sign, exponent 398-3 = 395, coefficient 12345 */
    ck_assert(pn_data_get_decimal64(d) == ((UINT64_C(1) << 63) | (UINT64_C(395) << 53) | 12345));
    char err[128];
    brg_value_t back;
    ck_assert_int_eq(brg_amqp1_value_get(d, &back, 0, err, sizeof(err)), BRG_OK);
    ck_assert(brg_value_equal(&back, &(brg_value_t){.type = BRG_V_DECIMAL, .u.dec = {3, -12345}}));
    ck_assert(pn_data_next(d));
    ck_assert_int_eq(brg_amqp1_value_get(d, &back, 0, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(back.type, BRG_V_DECIMAL);
    ck_assert_int_eq(back.u.dec.scale, 4);
    ck_assert_int_eq(back.u.dec.value, 5);
    ck_assert(pn_data_next(d));
    ck_assert_int_eq(brg_amqp1_value_get(d, &back, 0, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(back.type, BRG_V_BYTES);
    ck_assert_uint_eq(back.u.bytes.len, 8);
    brg_value_fini(&back);
    pn_data_free(d);
}
END_TEST

START_TEST(test_value_nesting_too_deep_is_an_error)
{
    pn_data_t *d = pn_data(0);
    for (int i = 0; i < BRG_AMQP1_MAX_DEPTH + 5; i++) {
        pn_data_put_list(d);
        pn_data_enter(d);
    }
    pn_data_put_int(d, 1);
    pn_data_rewind(d);
    ck_assert(pn_data_next(d));
    brg_value_t v;
    char err[128] = "";
    ck_assert_int_eq(brg_amqp1_value_get(d, &v, 0, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_str_eq(err, "values nested deeper than 32 levels");
    brg_value_fini(&v);
    pn_data_free(d);
}
END_TEST

/* ---- envelopes ---------------------------------------------------------------------------- */

static brg_envelope_t *full_envelope(void)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "\x00payload\xff", 9);
    brg_envelope_set_key(env, "k\x00y", 3);
    add(env, "s", brg_value_string("text", 4));
    add(env, "i8", brg_value_int(-3, 8));
    add(env, "u16", brg_value_uint(60000, 16));
    add(env, "i32", brg_value_int(-100000, 32));
    add(env, "u64", brg_value_uint(1ull << 60, 64));
    add(env, "f", brg_value_float(0.5, 32));
    add(env, "d", brg_value_float(3.25, 64));
    add(env, "b", brg_value_bool(true));
    add(env, "t", brg_value_timestamp(1700000000999));
    add(env, "bin", brg_value_bytes("\x01\x02", 2));
    add(env, "nul", brg_value_null());
    add(env, BRG_AMQP1_MA_PREFIX "x-opt-partition-key", brg_value_string("pk", 2));
    brg_props_set(&env->props.message_id, "m-1");
    brg_props_set(&env->props.correlation_id, "ID:AMQP_ULONG:99");
    brg_props_set(&env->props.content_type, "application/octet-stream");
    brg_props_set(&env->props.content_encoding, "gzip");
    brg_props_set(&env->props.reply_to, "/queue/replies");
    brg_props_set(&env->props.subject, "subj");
    brg_props_set(&env->props.user_id, "guest");
    brg_props_set(&env->props.app_id, "app");
    brg_props_set(&env->props.group_id, "grp");
    env->props.priority = 7;
    env->props.durable = 1;
    env->props.ttl_ms = 60000;
    env->props.timestamp_ms = 1700000000123;
    return env;
}

START_TEST(test_envelope_round_trip_keeps_everything)
{
    brg_envelope_t *in = full_envelope();
    brg_amqp1_encode_opts_t o = {"/amq/queue/q", 0};
    brg_envelope_t *out = round_trip(in, &o);
    ck_assert_uint_eq(out->body_len, 9);
    ck_assert(memcmp(out->body, "\x00payload\xff", 9) == 0);
    ck_assert_uint_eq(out->key_len, 3);
    ck_assert(memcmp(out->key, "k\x00y", 3) == 0);
    /* The types stay in the envelope: no hint header is added (Kafka writes its own). */
    ck_assert_ptr_null(brg_fields_get(&out->headers, BRG_AMQP1_TYPES_PROP));
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    ck_assert_str_eq(out->props.message_id, "m-1");
    ck_assert_str_eq(out->props.correlation_id, "ID:AMQP_ULONG:99");
    ck_assert_str_eq(out->props.content_type, "application/octet-stream");
    ck_assert_str_eq(out->props.content_encoding, "gzip");
    ck_assert_str_eq(out->props.reply_to, "/queue/replies");
    ck_assert_str_eq(out->props.subject, "subj");
    ck_assert_str_eq(out->props.user_id, "guest");
    ck_assert_str_eq(out->props.app_id, "app");
    ck_assert_str_eq(out->props.group_id, "grp");
    ck_assert_int_eq(out->props.priority, 7);
    ck_assert_int_eq(out->props.durable, 1);
    ck_assert_int_eq(out->props.ttl_ms, 60000);
    ck_assert_int_eq(out->props.timestamp_ms, 1700000000123);
    brg_envelope_destroy(in);
    brg_envelope_destroy(out);
}
END_TEST

START_TEST(test_envelope_without_source_durability_is_sent_durable)
{
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_set_body(in, "x", 1);
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    ck_assert(pn_message_is_durable(msg));
    ck_assert(pn_message_is_inferred(msg)); /* a data section */
    in->props.durable = 0;
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    ck_assert(!pn_message_is_durable(msg));
    pn_message_free(msg);

    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert_int_eq(out->props.durable, 0);
    ck_assert_int_eq(out->props.priority, -1);
    ck_assert_int_eq(out->props.ttl_ms, -1);
    ck_assert_int_eq(out->props.timestamp_ms, -1);
    ck_assert_ptr_null(out->key);
    ck_assert_ptr_null(out->props.message_id);
    ck_assert_uint_eq(out->headers.count, 0);
    brg_envelope_destroy(in);
    brg_envelope_destroy(out);
}
END_TEST

START_TEST(test_envelope_empty_key_is_kept_and_empty_body_allowed)
{
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_set_key(in, "", 0);
    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert_ptr_nonnull(out->key);
    ck_assert_uint_eq(out->key_len, 0);
    ck_assert_uint_eq(out->body_len, 0);
    brg_envelope_destroy(in);
    brg_envelope_destroy(out);
}
END_TEST

START_TEST(test_encode_sets_jms_annotations_and_to)
{
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_set_body(in, "{}", 2);
    brg_props_set(&in->props.content_type, "application/json");
    brg_amqp1_encode_opts_t o = {"topic://prices", 1};
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, &o, err, sizeof(err)), BRG_OK);
    ck_assert_str_eq(pn_message_get_address(msg), "topic://prices");
    pn_data_t *ma = pn_message_annotations(msg);
    pn_data_rewind(ma);
    ck_assert(pn_data_next(ma));
    pn_data_enter(ma);
    int seen = 0;
    while (pn_data_next(ma)) {
        pn_bytes_t k = pn_data_get_symbol(ma);
        ck_assert(pn_data_next(ma));
        if (k.size == 18 && memcmp(k.start, "x-opt-jms-msg-type", 18) == 0) {
            ck_assert_int_eq(pn_data_get_byte(ma), 5); /* TextMessage: JSON is text */
            seen |= 1;
        } else if (k.size == 14 && memcmp(k.start, "x-opt-jms-dest", 14) == 0) {
            ck_assert_int_eq(pn_data_get_byte(ma), 1); /* topic */
            seen |= 2;
        }
    }
    ck_assert_int_eq(seen, 3);
    pn_message_free(msg);
    brg_envelope_destroy(in);
}
END_TEST

/* The AMQP type and bytes of application property `name` in msg. Returns: false if absent. */
static bool app_prop(pn_message_t *msg, const char *name, pn_type_t *type, pn_bytes_t *val)
{
    pn_data_t *ap = pn_message_properties(msg);
    pn_data_rewind(ap);
    ck_assert(pn_data_next(ap));
    size_t n = pn_data_get_map(ap);
    pn_data_enter(ap);
    bool found = false;
    for (size_t i = 0; i + 2 <= n && !found; i += 2) {
        ck_assert(pn_data_next(ap));
        pn_bytes_t k = pn_data_get_string(ap);
        ck_assert(pn_data_next(ap));
        if (k.size == strlen(name) && memcmp(k.start, name, k.size) == 0) {
            found = true;
            *type = pn_data_type(ap);
            *val = *type == PN_STRING ? pn_data_get_string(ap)
                   : *type == PN_BINARY ? pn_data_get_binary(ap)
                                        : pn_bytes(0, NULL);
        }
    }
    pn_data_exit(ap);
    return found;
}

static void assert_prop(pn_message_t *msg, const char *name, pn_type_t type, const char *val,
                        size_t len)
{
    pn_type_t t = PN_NULL;
    pn_bytes_t v = pn_bytes(0, NULL);
    ck_assert_msg(app_prop(msg, name, &t, &v), "no property %s", name);
    ck_assert_msg(t == type, "%s is %s, not %s", name, pn_type_name(t), pn_type_name(type));
    ck_assert_uint_eq(v.size, len);
    ck_assert(len == 0 || memcmp(v.start, val, len) == 0);
}

START_TEST(test_utf8_bytes_headers_and_key_go_out_as_strings_and_come_back_as_bytes)
{
    /* What a plain Kafka record carries: header values and the key are bytes. */
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_set_body(in, "b", 1);
    brg_envelope_set_key(in, "k01", 3);
    add(in, "city", brg_value_bytes("caf\xc3\xa9", 5));
    add(in, "path", brg_value_bytes("a\\b", 3));
    add(in, "raw", brg_value_bytes("\xff\x00z", 3));      /* not UTF-8: stays binary */
    add(in, "a,b=c%", brg_value_bytes("v", 1));           /* name needs percent-encoding */
    add(in, "text", brg_value_string("t\xc3\xa9", 3));    /* a string stays a string */
    add(in, "empty", brg_value_bytes("", 0));
    add(in, "n", brg_value_int(42, 64));
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    assert_prop(msg, "city", PN_STRING, "caf\xc3\xa9", 5);
    assert_prop(msg, "path", PN_STRING, "a\\b", 3);
    assert_prop(msg, "raw", PN_BINARY, "\xff\x00z", 3);
    assert_prop(msg, "a,b=c%", PN_STRING, "v", 1);
    assert_prop(msg, "text", PN_STRING, "t\xc3\xa9", 3);
    assert_prop(msg, "empty", PN_STRING, "", 0);
    assert_prop(msg, BRG_AMQP1_KEY_PROP, PN_STRING, "k01", 3);
    const char hint[] = "city=binary,path=binary,a%2Cb%3Dc%25=binary,empty=binary";
    assert_prop(msg, BRG_AMQP1_TYPES_PROP, PN_STRING, hint, strlen(hint));
    pn_message_free(msg);

    /* The way back: the same types, the hint consumed. */
    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    ck_assert_ptr_null(brg_fields_get(&out->headers, BRG_AMQP1_TYPES_PROP));
    ck_assert_uint_eq(out->key_len, 3);
    ck_assert(memcmp(out->key, "k01", 3) == 0);
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_key_that_is_not_utf8_stays_binary_and_no_hint_without_bytes)
{
    brg_envelope_t *in = brg_envelope_new();
    brg_envelope_set_key(in, "\xc3(", 2);
    add(in, "s", brg_value_string("x", 1));
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    assert_prop(msg, BRG_AMQP1_KEY_PROP, PN_BINARY, "\xc3(", 2);
    pn_type_t t;
    pn_bytes_t v;
    ck_assert(!app_prop(msg, BRG_AMQP1_TYPES_PROP, &t, &v)); /* nothing to list */
    pn_message_free(msg);
    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert_uint_eq(out->key_len, 2);
    ck_assert(memcmp(out->key, "\xc3(", 2) == 0);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_repeated_names_keep_bytes_in_the_list_and_strings_in_the_map)
{
    brg_envelope_t *in = brg_envelope_new();
    add(in, "h", brg_value_bytes("one", 3));
    add(in, "h", brg_value_bytes("two", 3));
    add(in, "g", brg_value_bytes("\xe2\x82\xac", 3));
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    assert_prop(msg, "h", PN_STRING, "one", 3); /* what a JMS consumer reads */
    assert_prop(msg, "g", PN_STRING, "\xe2\x82\xac", 3);
    pn_message_free(msg);
    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    ck_assert_ptr_null(brg_fields_get(&out->headers, BRG_AMQP1_TYPES_PROP));
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

/* Build a message the way another AMQP 1.0 client would, and decode it. */
static brg_envelope_t *decode_foreign(pn_message_t *msg)
{
    size_t len;
    char *bytes = wire(msg, &len);
    brg_envelope_t *env = brg_envelope_new();
    char err[256];
    brg_err_t rc = brg_amqp1_decode(msg, bytes, len, env, err, sizeof(err));
    ck_assert_msg(rc == BRG_OK, "decode: %s", err);
    free(bytes);
    return env;
}

START_TEST(test_non_utf8_header_name_keeps_the_hint_valid_utf8)
{
    /* The map gets U+FFFD for the stray bytes and its value as it is; the list the exact name
     * and value; the hint (an AMQP string) never a name that is not UTF-8. */
    brg_envelope_t *in = brg_envelope_new();
    add(in, "ok", brg_value_bytes("v", 1));
    add(in, "\xff\xfe-name", brg_value_bytes("w", 1));
    pn_message_t *msg = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    assert_prop(msg, BRG_AMQP1_TYPES_PROP, PN_STRING, "ok=binary", 9);
    assert_prop(msg, "\xef\xbf\xbd\xef\xbf\xbd-name", PN_BINARY, "w", 1);
    pn_message_free(msg);
    brg_envelope_t *out = round_trip(in, NULL);
    ck_assert(brg_fields_equal(&in->headers, &out->headers));
    brg_envelope_destroy(out);
    brg_envelope_destroy(in);
}
END_TEST

START_TEST(test_decode_foreign_string_properties_stay_strings)
{
    /* A message from another client: strings are strings, the key may be a string. */
    pn_message_t *msg = pn_message();
    pn_data_t *ap = pn_message_properties(msg);
    pn_data_put_map(ap);
    pn_data_enter(ap);
    pn_data_put_string(ap, pn_bytes(1, "s"));
    pn_data_put_string(ap, pn_bytes(2, "ab"));
    pn_data_put_string(ap, pn_bytes(strlen(BRG_AMQP1_KEY_PROP), BRG_AMQP1_KEY_PROP));
    pn_data_put_string(ap, pn_bytes(2, "kk"));
    pn_data_exit(ap);
    brg_envelope_t *env = decode_foreign(msg);
    const brg_field_t *f = brg_fields_get(&env->headers, "s");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->value.type, BRG_V_STRING);
    ck_assert_uint_eq(env->key_len, 2);
    ck_assert(memcmp(env->key, "kk", 2) == 0);
    brg_envelope_destroy(env);
    pn_message_free(msg);
}
END_TEST

START_TEST(test_decode_amqp_value_string_and_binary_bodies)
{
    pn_message_t *msg = pn_message();
    pn_data_put_string(pn_message_body(msg), pn_bytes(5, "hello"));
    brg_envelope_t *env = decode_foreign(msg);
    ck_assert_uint_eq(env->body_len, 5);
    ck_assert(memcmp(env->body, "hello", 5) == 0);
    brg_field_t *k = brg_fields_get(&env->headers, BRG_AMQP1_BODY_PROP);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq((char *)k->value.u.bytes.data, "string");

    /* ... and the sink sends it back as an amqp-value string (a JMS TextMessage). */
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(msg, env, NULL, err, sizeof(err)), BRG_OK);
    ck_assert(!pn_message_is_inferred(msg));
    pn_data_t *b = pn_message_body(msg);
    pn_data_rewind(b);
    ck_assert(pn_data_next(b));
    ck_assert_int_eq(pn_data_type(b), PN_STRING);
    pn_data_rewind(pn_message_properties(msg));
    ck_assert(pn_data_next(pn_message_properties(msg)));
    ck_assert_uint_eq(pn_data_get_map(pn_message_properties(msg)), 0);
    brg_envelope_destroy(env);

    pn_message_clear(msg);
    pn_data_put_binary(pn_message_body(msg), pn_bytes(3, "a\0b"));
    env = decode_foreign(msg);
    ck_assert_uint_eq(env->body_len, 3);
    ck_assert(memcmp(env->body, "a\0b", 3) == 0);
    ck_assert_ptr_null(brg_fields_get(&env->headers, BRG_AMQP1_BODY_PROP));
    brg_envelope_destroy(env);
    pn_message_free(msg);
}
END_TEST

START_TEST(test_decode_amqp_value_map_body_is_restored_by_the_sink)
{
    pn_message_t *msg = pn_message();
    pn_data_t *b = pn_message_body(msg);
    pn_data_put_map(b);
    pn_data_enter(b);
    pn_data_put_string(b, pn_bytes(3, "qty"));
    pn_data_put_int(b, 3);
    pn_data_exit(b);
    brg_envelope_t *env = decode_foreign(msg);
    brg_field_t *k = brg_fields_get(&env->headers, BRG_AMQP1_BODY_PROP);
    ck_assert_str_eq((char *)k->value.u.bytes.data, "value");

    pn_message_t *out = pn_message();
    char err[128];
    ck_assert_int_eq(brg_amqp1_encode(out, env, NULL, err, sizeof(err)), BRG_OK);
    pn_data_t *ob = pn_message_body(out);
    pn_data_rewind(ob);
    ck_assert(pn_data_next(ob));
    ck_assert_int_eq(pn_data_type(ob), PN_MAP);
    ck_assert_uint_eq(pn_data_get_map(ob), 2);
    pn_data_enter(ob);
    ck_assert(pn_data_next(ob) && pn_data_next(ob));
    ck_assert_int_eq(pn_data_get_int(ob), 3);

    /* A body marked as an encoded value that is not one is refused with a reason. */
    brg_envelope_set_body(env, "junk", 4);
    ck_assert_int_eq(brg_amqp1_encode(out, env, NULL, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_str_eq(err, "the body is marked \"x-msgbridge-amqp-body: value\" but is not one "
                          "AMQP-encoded value");
    pn_message_free(out);
    pn_message_free(msg);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_decode_message_ids_of_every_type_round_trip)
{
    pn_message_t *msg = pn_message();
    pn_msgid_t ids[4];
    memset(ids, 0, sizeof(ids));
    ids[0].type = PN_ULONG;
    ids[0].u.as_ulong = 12345678901234ull;
    ids[1].type = PN_UUID;
    for (int i = 0; i < 16; i++) {
        ids[1].u.as_uuid.bytes[i] = (char)(0xA0 + i);
    }
    ids[2].type = PN_BINARY;
    ids[2].u.as_bytes = pn_bytes(3, "\x00\xab\xff");
    ids[3].type = PN_STRING;
    ids[3].u.as_bytes = pn_bytes(17, "ID:AMQP_ULONG:abc");
    const char *texts[] = {"ID:AMQP_ULONG:12345678901234",
                           "ID:AMQP_UUID:a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf",
                           "ID:AMQP_BINARY:00ABFF", "ID:AMQP_STRING:ID:AMQP_ULONG:abc"};
    for (int i = 0; i < 4; i++) {
        pn_message_clear(msg);
        pn_message_set_id(msg, ids[i]);
        brg_envelope_t *env = decode_foreign(msg);
        ck_assert_str_eq(env->props.message_id, texts[i]);
        char err[128];
        ck_assert_int_eq(brg_amqp1_encode(msg, env, NULL, err, sizeof(err)), BRG_OK);
        pn_msgid_t back = pn_message_get_id(msg);
        ck_assert_int_eq(back.type, ids[i].type);
        if (back.type == PN_ULONG) {
            ck_assert(back.u.as_ulong == ids[i].u.as_ulong);
        } else if (back.type == PN_UUID) {
            ck_assert(memcmp(back.u.as_uuid.bytes, ids[i].u.as_uuid.bytes, 16) == 0);
        } else {
            ck_assert_uint_eq(back.u.as_bytes.size, ids[i].u.as_bytes.size);
            ck_assert(memcmp(back.u.as_bytes.start, ids[i].u.as_bytes.start,
                             back.u.as_bytes.size) == 0);
        }
        brg_envelope_destroy(env);
    }
    pn_message_free(msg);
}
END_TEST

START_TEST(test_decode_annotations_fill_origin_and_travel_as_headers)
{
    pn_message_t *msg = pn_message();
    pn_data_t *ma = pn_message_annotations(msg);
    pn_data_put_map(ma);
    pn_data_enter(ma);
    pn_data_put_symbol(ma, pn_bytes(10, "x-exchange"));
    pn_data_put_string(ma, pn_bytes(6, "orders"));
    pn_data_put_symbol(ma, pn_bytes(13, "x-routing-key"));
    pn_data_put_string(ma, pn_bytes(2, "eu"));
    pn_data_put_symbol(ma, pn_bytes(14, "x-opt-jms-dest"));
    pn_data_put_byte(ma, 0);
    pn_data_put_symbol(ma, pn_bytes(19, "x-opt-enqueued-time"));
    pn_data_put_timestamp(ma, 1234);
    pn_data_exit(ma);
    pn_message_set_durable(msg, true);
    pn_message_set_delivery_count(msg, 2);
    brg_envelope_t *env = decode_foreign(msg);
    ck_assert_str_eq(env->origin.exchange, "orders");
    ck_assert_str_eq(env->origin.routing_key, "eu");
    ck_assert(env->origin.redelivered);
    ck_assert_int_eq(env->props.durable, 1);
    ck_assert_uint_eq(env->headers.count, 1);
    ck_assert_str_eq(env->headers.items[0].name, "x-msgbridge-ma-x-opt-enqueued-time");
    ck_assert_int_eq(env->headers.items[0].value.type, BRG_V_TIMESTAMP);
    brg_envelope_destroy(env);
    pn_message_free(msg);
}
END_TEST

/* Repeated names (Kafka allows them) survive through BRG_AMQP1_HEADERS_PROP, in order and in
 * their types; the map has the first value of each name for ordinary consumers. */
START_TEST(test_repeated_header_names_survive_in_order)
{
    brg_envelope_t *in = brg_envelope_new();
    add(in, "h", brg_value_string("one", 3));
    add(in, "n", brg_value_int(7, 32));
    add(in, "h", brg_value_string("two", 3));
    pn_message_t *msg = pn_message();
    char err[256];
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    pn_data_t *ap = pn_message_properties(msg);
    pn_data_rewind(ap);
    ck_assert(pn_data_next(ap));
    ck_assert_uint_eq(pn_data_get_map(ap), 2 * 3); /* h (first), n, the list */
    pn_message_free(msg);

    brg_envelope_t *out = round_trip(in, NULL);
    size_t n = 0;
    const char *want[] = {"h", "n", "h"};
    for (size_t i = 0; i < out->headers.count; i++) {
        if (strncmp(out->headers.items[i].name, "x-msgbridge-", 12) == 0) {
            continue;
        }
        ck_assert_uint_lt(n, 3);
        ck_assert_str_eq(out->headers.items[i].name, want[n]);
        n++;
    }
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq((char *)out->headers.items[0].value.u.bytes.data, "one");
    ck_assert_int_eq(out->headers.items[1].value.type, BRG_V_INT);
    ck_assert_str_eq((char *)out->headers.items[2].value.u.bytes.data, "two");
    brg_envelope_destroy(in);
    brg_envelope_destroy(out);
}
END_TEST

/* What Kafka does to headers: every value becomes its text or bytes. */
static void flatten_like_kafka(brg_envelope_t *env)
{
    char buf[64];
    for (size_t i = 0; i < env->headers.count; i++) {
        brg_value_t *v = &env->headers.items[i].value;
        brg_value_t nv;
        switch (v->type) {
        case BRG_V_INT: snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i); break;
        case BRG_V_UINT: snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v->u.u); break;
        case BRG_V_FLOAT: snprintf(buf, sizeof(buf), "%.17g", v->u.f); break;
        case BRG_V_BOOL: snprintf(buf, sizeof(buf), "%s", v->u.b ? "true" : "false"); break;
        case BRG_V_TIMESTAMP: snprintf(buf, sizeof(buf), "%lld", (long long)v->u.ts_ms); break;
        case BRG_V_UUID: snprintf(buf, sizeof(buf), "01020304-0506-0708-090a-0b0c0d0e0f10"); break;
        case BRG_V_STRING:
        case BRG_V_SYMBOL:
        case BRG_V_BYTES:
            nv = brg_value_bytes(v->u.bytes.data, v->u.bytes.len);
            brg_value_fini(v);
            *v = nv;
            continue;
        default: continue;
        }
        brg_value_fini(v);
        *v = brg_value_bytes(buf, strlen(buf));
    }
}

START_TEST(test_types_survive_a_trip_through_bytes_headers)
{
    brg_envelope_t *in = full_envelope();
    uint8_t u[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    add(in, "we,ird=na%me", brg_value_typed_bytes(BRG_V_UUID, u, 16));
    add(in, "sym", brg_value_typed_bytes(BRG_V_SYMBOL, "s", 1));
    /* Data written by an older msgbridge: the AMQP 1.0 source added a type hint, Kafka kept the
     * values as text. The AMQP 1.0 sink still restores the types from that hint. */
    brg_envelope_t *mid = round_trip(in, NULL);
    flatten_like_kafka(mid);
    brg_value_t hint = brg_value_string(
        "s=string,i8=byte,u16=ushort,i32=int,u64=ulong,f=float,d=double,b=boolean,t=timestamp,"
        "nul=null,x-msgbridge-ma-x-opt-partition-key=string,we%2Cird%3Dna%25me=uuid,sym=symbol",
        strlen("s=string,i8=byte,u16=ushort,i32=int,u64=ulong,f=float,d=double,b=boolean,"
               "t=timestamp,nul=null,x-msgbridge-ma-x-opt-partition-key=string,"
               "we%2Cird%3Dna%25me=uuid,sym=symbol"));
    brg_fields_add(&mid->headers, BRG_AMQP1_TYPES_PROP, strlen(BRG_AMQP1_TYPES_PROP), &hint);
    brg_envelope_t *out = round_trip(mid, NULL); /* AMQP 1.0 sink restores the types */
    brg_fields_remove(&out->headers, BRG_AMQP1_TYPES_PROP);
    ck_assert_uint_eq(out->headers.count, in->headers.count);
    for (size_t i = 0; i < in->headers.count; i++) {
        /* Annotations come after application properties: compare by name. */
        brg_field_t *o = brg_fields_get(&out->headers, in->headers.items[i].name);
        ck_assert_ptr_nonnull(o);
        ck_assert_msg(brg_value_equal(&in->headers.items[i].value, &o->value),
                      "header %s changed", in->headers.items[i].name);
    }
    brg_envelope_destroy(in);
    brg_envelope_destroy(mid);
    brg_envelope_destroy(out);
}
END_TEST

START_TEST(test_decode_malformed_input_soft_fails)
{
    char err[256] = "";
    pn_message_t *msg = pn_message();
    brg_envelope_t *env = brg_envelope_new();
    ck_assert_int_eq(brg_amqp1_decode(msg, "\x00\x53\x77\xa1\x05" "ab", 7, env, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "malformed AMQP 1.0 message (7 bytes): bad encoding at byte 0 (PN_UNDERFLOW)");
    brg_envelope_destroy(env);

    /* Every truncation of a full message and a byte flipped at every position: never a
     * crash or a leak, only OK or INVALID (run under ASan in CI). */
    brg_envelope_t *in = full_envelope();
    ck_assert_int_eq(brg_amqp1_encode(msg, in, NULL, err, sizeof(err)), BRG_OK);
    size_t len;
    char *bytes = wire(msg, &len);
    for (size_t cut = 0; cut < len; cut++) {
        env = brg_envelope_new();
        brg_err_t rc = brg_amqp1_decode(msg, bytes, cut, env, err, sizeof(err));
        ck_assert(rc == BRG_OK || rc == BRG_ERR_INVALID);
        brg_envelope_destroy(env);
    }
    for (size_t i = 0; i < len; i++) {
        char saved = bytes[i];
        bytes[i] = (char)(bytes[i] ^ 0x5a);
        env = brg_envelope_new();
        brg_err_t rc = brg_amqp1_decode(msg, bytes, len, env, err, sizeof(err));
        ck_assert(rc == BRG_OK || rc == BRG_ERR_INVALID);
        brg_envelope_destroy(env);
        bytes[i] = saved;
    }
    free(bytes);
    brg_envelope_destroy(in);
    pn_message_free(msg);
}
END_TEST

/* ---- addresses and URLs ------------------------------------------------------------------ */

static void check_addr(brg_amqp1_family_t f, const char *in, const char *want, const char *cap,
                       int jms_dest)
{
    brg_amqp1_addr_t a;
    char err[256];
    ck_assert_msg(brg_amqp1_address_resolve(f, in, &a, err, sizeof(err)) == BRG_OK, "%s: %s", in,
                  err);
    ck_assert_str_eq(a.address, want);
    if (cap) {
        ck_assert_str_eq(a.capability, cap);
    } else {
        ck_assert_ptr_null(a.capability);
    }
    ck_assert_int_eq(a.jms_dest, jms_dest);
    brg_amqp1_addr_fini(&a);
}

START_TEST(test_address_forms_per_broker_family)
{
    check_addr(BRG_AMQP1_ACTIVEMQ, "queue://orders", "queue://orders", "queue", 0);
    check_addr(BRG_AMQP1_ACTIVEMQ, "topic://prices", "topic://prices", "topic", 1);
    check_addr(BRG_AMQP1_ACTIVEMQ, "orders", "orders", "queue", 0);
    check_addr(BRG_AMQP1_ARTEMIS, "queue://orders", "orders", "queue", 0);
    check_addr(BRG_AMQP1_ARTEMIS, "topic://prices", "prices", "topic", 1);
    check_addr(BRG_AMQP1_ARTEMIS, "orders::orders.eu", "orders::orders.eu", NULL, 0);
    check_addr(BRG_AMQP1_RABBITMQ, "queue://orders", "/amq/queue/orders", NULL, 0);
    check_addr(BRG_AMQP1_RABBITMQ, "topic://eu.*", "/topic/eu.*", NULL, 1);
    check_addr(BRG_AMQP1_RABBITMQ, "/amq/queue/q", "/amq/queue/q", NULL, 0);
    check_addr(BRG_AMQP1_RABBITMQ, "/queue/q", "/queue/q", NULL, 0);
    check_addr(BRG_AMQP1_RABBITMQ, "/exchange/ex/key", "/exchange/ex/key", NULL, 1);
    check_addr(BRG_AMQP1_RABBITMQ, "/topic/k", "/topic/k", NULL, 1);
    check_addr(BRG_AMQP1_RABBITMQ, "plain", "plain", NULL, 0);
    check_addr(BRG_AMQP1_GENERIC, "queue://q", "q", "queue", 0);
    check_addr(BRG_AMQP1_AUTO, "q", "q", NULL, 0);

    brg_amqp1_addr_t a;
    char err[256];
    ck_assert_int_eq(brg_amqp1_address_resolve(BRG_AMQP1_RABBITMQ, "/amq/q", &a, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "address \"/amq/q\" is not a RabbitMQ AMQP 1.0 address (use "
                          "/amq/queue/NAME, /queue/NAME, /exchange/NAME/KEY, /topic/KEY, "
                          "queue://NAME or topic://KEY)");
    ck_assert_int_eq(brg_amqp1_address_resolve(BRG_AMQP1_ACTIVEMQ, "queue://", &a, err,
                                               sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "address \"queue://\" has no name after \"queue://\"");
    ck_assert_int_eq(brg_amqp1_address_resolve(BRG_AMQP1_ACTIVEMQ, "", &a, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "empty address");
}
END_TEST

/* The link settings for a source address on a broker family. */
static brg_amqp1_rx_link_t link_for(brg_amqp1_family_t f, const char *address, bool durable,
                                    const char *subscription)
{
    brg_amqp1_addr_t a;
    char err[256];
    ck_assert_int_eq(brg_amqp1_address_resolve(f, address, &a, err, sizeof(err)), BRG_OK);
    brg_amqp1_rx_link_t l;
    brg_amqp1_rx_link_settings(f, &a, address, "msgbridge-east-amq", "prices-in", durable,
                               subscription, 7, &l);
    brg_amqp1_addr_fini(&a);
    return l;
}

static void assert_durable_link(brg_amqp1_rx_link_t *l, const char *name)
{
    ck_assert(l->durable);
    ck_assert_str_eq(l->name, name);
    ck_assert_int_eq(l->durability, PN_DELIVERIES); /* unsettled-state */
    ck_assert_int_eq(l->expiry, PN_EXPIRE_NEVER);
    ck_assert_int_eq(l->dist_mode, PN_DIST_MODE_COPY);
    brg_amqp1_rx_link_fini(l);
}

static void assert_plain_link(brg_amqp1_rx_link_t *l, const char *name)
{
    ck_assert(!l->durable);
    ck_assert_str_eq(l->name, name);
    ck_assert_int_eq(l->durability, PN_NONDURABLE);
    ck_assert_int_eq(l->expiry, PN_EXPIRE_WITH_SESSION);
    ck_assert_int_eq(l->dist_mode, PN_DIST_MODE_UNSPECIFIED);
    brg_amqp1_rx_link_fini(l);
}

START_TEST(test_topic_sources_ask_for_a_durable_subscription_with_a_stable_name)
{
    brg_amqp1_rx_link_t l = link_for(BRG_AMQP1_ACTIVEMQ, "topic://prices", true, NULL);
    assert_durable_link(&l, "msgbridge-prices-in");
    l = link_for(BRG_AMQP1_ARTEMIS, "topic://prices", true, NULL);
    assert_durable_link(&l, "msgbridge-prices-in");
    l = link_for(BRG_AMQP1_GENERIC, "topic://prices", true, "audit-sub");
    assert_durable_link(&l, "audit-sub");
    /* The same name at every attach (the sequence number only names plain links). */
    l = link_for(BRG_AMQP1_ACTIVEMQ, "topic://prices", true, NULL);
    assert_durable_link(&l, "msgbridge-prices-in");
}
END_TEST

START_TEST(test_queues_rabbitmq_topics_and_durable_false_get_the_plain_link)
{
    brg_amqp1_rx_link_t l = link_for(BRG_AMQP1_ACTIVEMQ, "topic://prices", false, "ignored");
    assert_plain_link(&l, "msgbridge-east-amq:from:topic://prices:7");
    l = link_for(BRG_AMQP1_ACTIVEMQ, "queue://orders", true, NULL);
    assert_plain_link(&l, "msgbridge-east-amq:from:queue://orders:7");
    l = link_for(BRG_AMQP1_GENERIC, "orders", true, NULL);
    assert_plain_link(&l, "msgbridge-east-amq:from:orders:7");
    /* RabbitMQ 3.x: no durable AMQP 1.0 topic subscriptions. */
    l = link_for(BRG_AMQP1_RABBITMQ, "/topic/prices", true, NULL);
    assert_plain_link(&l, "msgbridge-east-amq:from:/topic/prices:7");
    l = link_for(BRG_AMQP1_RABBITMQ, "topic://prices", true, NULL);
    assert_plain_link(&l, "msgbridge-east-amq:from:topic://prices:7");
}
END_TEST

START_TEST(test_family_names_and_detection)
{
    brg_amqp1_family_t f;
    ck_assert(brg_amqp1_family_parse("artemis", &f) && f == BRG_AMQP1_ARTEMIS);
    ck_assert(!brg_amqp1_family_parse("qpidd", &f));
    ck_assert_str_eq(brg_amqp1_family_name(BRG_AMQP1_RABBITMQ), "rabbitmq");
    ck_assert_int_eq(brg_amqp1_family_detect("RabbitMQ"), BRG_AMQP1_RABBITMQ);
    ck_assert_int_eq(brg_amqp1_family_detect("ActiveMQ"), BRG_AMQP1_ACTIVEMQ);
    ck_assert_int_eq(brg_amqp1_family_detect("apache-activemq-artemis"), BRG_AMQP1_ARTEMIS);
    ck_assert_int_eq(brg_amqp1_family_detect("qpid-cpp"), BRG_AMQP1_GENERIC);
    ck_assert_int_eq(brg_amqp1_family_detect(NULL), BRG_AMQP1_GENERIC);
}
END_TEST

START_TEST(test_url_forms)
{
    brg_amqp1_url_t u;
    char err[256];
    ck_assert_int_eq(brg_amqp1_url_parse("amqp://127.0.0.1:35672", &u, err, sizeof(err)), BRG_OK);
    ck_assert(!u.tls);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_str_eq(u.port, "35672");
    ck_assert_ptr_null(u.user);
    brg_amqp1_url_fini(&u);

    ck_assert_int_eq(brg_amqp1_url_parse("amqps://ad%40min:p%3Ass@mq.example/", &u, err,
                                         sizeof(err)),
                     BRG_OK);
    ck_assert(u.tls);
    ck_assert_str_eq(u.host, "mq.example");
    ck_assert_str_eq(u.port, "5671");
    ck_assert_str_eq(u.user, "ad@min");
    ck_assert_str_eq(u.password, "p:ss");
    brg_amqp1_url_fini(&u);

    ck_assert_int_eq(brg_amqp1_url_parse("localhost:5672", &u, err, sizeof(err)), BRG_OK);
    ck_assert_str_eq(u.host, "localhost");
    brg_amqp1_url_fini(&u);

    ck_assert_int_eq(brg_amqp1_url_parse("amqp://[::1]:5673", &u, err, sizeof(err)), BRG_OK);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_str_eq(u.port, "5673");
    brg_amqp1_url_fini(&u);

    ck_assert_int_eq(brg_amqp1_url_parse("http://x", &u, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_str_eq(err, "url \"http://x\": scheme must be amqp:// or amqps://");
    ck_assert_int_eq(brg_amqp1_url_parse("amqp://u:secret@h:99999", &u, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "url \"amqp://u:***@h:99999\": bad port \"99999\"");
    ck_assert_int_eq(brg_amqp1_url_parse("amqp://h/queue", &u, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "url \"amqp://h/queue\": unexpected path \"/queue\" (the address "
                          "goes in the route's `address`)");
    ck_assert_int_eq(brg_amqp1_url_parse("amqp://:5672", &u, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_str_eq(err, "url \"amqp://:5672\": no host");
}
END_TEST

static Suite *amqp1_suite(void)
{
    Suite *s = suite_create("amqp1");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_value_every_type_round_trips_through_pn_data);
    tcase_add_test(tc, test_value_amqp_only_types_map_to_nearest);
    tcase_add_test(tc, test_value_decimal_0_9_1_becomes_decimal64);
    tcase_add_test(tc, test_value_nesting_too_deep_is_an_error);
    tcase_add_test(tc, test_envelope_round_trip_keeps_everything);
    tcase_add_test(tc, test_envelope_without_source_durability_is_sent_durable);
    tcase_add_test(tc, test_envelope_empty_key_is_kept_and_empty_body_allowed);
    tcase_add_test(tc, test_encode_sets_jms_annotations_and_to);
    tcase_add_test(tc, test_utf8_bytes_headers_and_key_go_out_as_strings_and_come_back_as_bytes);
    tcase_add_test(tc, test_key_that_is_not_utf8_stays_binary_and_no_hint_without_bytes);
    tcase_add_test(tc, test_repeated_names_keep_bytes_in_the_list_and_strings_in_the_map);
    tcase_add_test(tc, test_decode_foreign_string_properties_stay_strings);
    tcase_add_test(tc, test_non_utf8_header_name_keeps_the_hint_valid_utf8);
    tcase_add_test(tc, test_decode_amqp_value_string_and_binary_bodies);
    tcase_add_test(tc, test_decode_amqp_value_map_body_is_restored_by_the_sink);
    tcase_add_test(tc, test_decode_message_ids_of_every_type_round_trip);
    tcase_add_test(tc, test_decode_annotations_fill_origin_and_travel_as_headers);
    tcase_add_test(tc, test_repeated_header_names_survive_in_order);
    tcase_add_test(tc, test_types_survive_a_trip_through_bytes_headers);
    tcase_add_test(tc, test_decode_malformed_input_soft_fails);
    suite_add_tcase(s, tc);
    TCase *ta = tcase_create("address");
    tcase_add_test(ta, test_address_forms_per_broker_family);
    tcase_add_test(ta, test_family_names_and_detection);
    tcase_add_test(ta, test_topic_sources_ask_for_a_durable_subscription_with_a_stable_name);
    tcase_add_test(ta, test_queues_rabbitmq_topics_and_durable_false_get_the_plain_link);
    tcase_add_test(ta, test_url_forms);
    suite_add_tcase(s, ta);
    return s;
}

Suite *check_suite(void)
{
    return amqp1_suite();
}
