#include "fuzz/fuzz_envelope.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/envelope.h"

static void add(brg_envelope_t *env, const char *name, brg_value_t v)
{
    brg_fields_add(&env->headers, name, strlen(name), &v);
}

brg_envelope_t *fuzz_envelope_new(void)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "{\"id\":42}", 9);
    /* A binary key: templates must keep its NUL byte (len_out), filters see its text. */
    brg_envelope_set_key(env, "order-\0007", 8);
    brg_envelope_add_header_str(env, "type", "order");
    brg_envelope_add_header_str(env, "type", "duplicate");
    brg_envelope_add_header_bytes(env, "raw", "\xff\xfe\x00\x01", 4);
    add(env, "count", brg_value_int(-7, 32));
    add(env, "big", brg_value_uint(UINT64_MAX, 64));
    add(env, "ratio", brg_value_float(0.25, 64));
    add(env, "flag", brg_value_bool(true));
    add(env, "nothing", brg_value_null());
    add(env, "when", brg_value_timestamp(1700000000123));
    add(env, "sym", brg_value_typed_bytes(BRG_V_SYMBOL, "amqp:sym", 8));
    add(env, "uuid", brg_value_typed_bytes(BRG_V_UUID, "0123456789abcdef", 16));
    brg_value_t dec = {.type = BRG_V_DECIMAL, .u.dec = {.scale = 2, .value = 12345}};
    add(env, "price", dec);
    brg_fields_t *inner = brg_fields_new();
    brg_value_t s = brg_value_string("q1", 2);
    brg_fields_add(inner, "queue", 5, &s);
    add(env, "x-death", brg_value_table(inner));
    brg_fields_t *list = brg_fields_new();
    brg_value_t one = brg_value_int(1, 8);
    brg_fields_add(list, NULL, 0, &one);
    add(env, "list", brg_value_array(list));
    /* A header name with a dot and one with a space: ${header.a.b}, header.a b. */
    brg_envelope_add_header_str(env, "a.b", "dotted");
    brg_envelope_add_header_str(env, "a b", "spaced");

    brg_props_set(&env->props.message_id, "msg-1");
    brg_props_set(&env->props.correlation_id, "corr-1");
    brg_props_set(&env->props.content_type, "application/json");
    brg_props_set(&env->props.subject, "orders.created");
    brg_props_set(&env->props.reply_to, "replies");
    env->props.priority = 4;
    env->props.timestamp_ms = 1700000000000;

    env->origin.adapter = "memory";
    env->origin.endpoint = brg_xstrdup("in");
    env->origin.stream = brg_xstrdup("orders");
    env->origin.partition = 3;
    env->origin.offset = 1234;
    env->origin.exchange = brg_xstrdup("amq.topic");
    env->origin.routing_key = brg_xstrdup("eu.orders");
    return env;
}

void fuzz_envelopes(brg_envelope_t **full, brg_envelope_t **empty)
{
    static brg_envelope_t *f, *e;
    if (!f) {
        f = fuzz_envelope_new();
        e = brg_envelope_new();
    }
    *full = f;
    *empty = e;
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) {
        abort();
    }
    memcpy(text, data, size);
    text[size] = 0;
    return text;
}
