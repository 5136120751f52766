/* The rabbitmq adapter's codec: AMQP 0-9-1 field tables and basic properties <-> envelope.
 * Tables go through rabbitmq-c's own wire encoder and decoder, so what is checked is what a
 * broker would see and send back. */
#include "tests/check_main.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/rabbitmq/rmq_codec.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void add(brg_fields_t *f, const char *name, brg_value_t v)
{
    brg_fields_add(f, name, name ? strlen(name) : 0, &v);
}

static brg_value_t decimal(uint8_t scale, int32_t value)
{
    brg_value_t v = {.type = BRG_V_DECIMAL};
    v.u.dec.scale = scale;
    v.u.dec.value = value;
    return v;
}

/* Every type the envelope can carry that AMQP 0-9-1 has a field type for. */
static void fill_all_types(brg_fields_t *f)
{
    add(f, "bool", brg_value_bool(true));
    add(f, "i8", brg_value_int(-5, 8));
    add(f, "u8", brg_value_uint(200, 8));
    add(f, "i16", brg_value_int(-300, 16));
    add(f, "u16", brg_value_uint(60000, 16));
    add(f, "i32", brg_value_int(-70000, 32));
    add(f, "u32", brg_value_uint(4000000000u, 32));
    add(f, "i64", brg_value_int(-5000000000000LL, 64));
    add(f, "u64", brg_value_uint(18000000000000000000ULL, 64));
    add(f, "f32", brg_value_float(1.5, 32));
    add(f, "f64", brg_value_float(2.25, 64));
    add(f, "dec", decimal(2, -12345));
    add(f, "ts", brg_value_timestamp(1700000000000LL));
    add(f, "str", brg_value_string("h\xc3\xa9llo", 6));
    add(f, "bin", brg_value_bytes("a\0b\xff", 4));
    add(f, "void", brg_value_null());
    add(f, "", brg_value_string("empty name", 10));
    brg_fields_t *inner = brg_fields_new();
    add(inner, "a", brg_value_int(1, 32));
    add(inner, "b", brg_value_string("x", 1));
    add(f, "table", brg_value_table(inner));
    brg_fields_t *arr = brg_fields_new();
    add(arr, NULL, brg_value_int(7, 8));
    add(arr, NULL, brg_value_string("y", 1));
    add(arr, NULL, brg_value_array(NULL));
    add(f, "array", brg_value_array(arr));
    add(f, "empty-table", brg_value_table(NULL));
}

/* RabbitMQ's x-death header: an array of tables holding arrays. */
static void fill_x_death(brg_fields_t *f)
{
    brg_fields_t *death = brg_fields_new();
    add(death, "count", brg_value_int(3, 64));
    add(death, "reason", brg_value_string("rejected", 8));
    add(death, "queue", brg_value_string("orders", 6));
    add(death, "time", brg_value_timestamp(1700000123000LL));
    add(death, "exchange", brg_value_string("", 0));
    brg_fields_t *rks = brg_fields_new();
    add(rks, NULL, brg_value_string("orders.eu", 9));
    add(death, "routing-keys", brg_value_array(rks));
    brg_fields_t *arr = brg_fields_new();
    add(arr, NULL, brg_value_table(death));
    add(f, "x-death", brg_value_array(arr));
    add(f, "x-first-death-reason", brg_value_string("rejected", 8));
}

/* fields -> amqp table -> wire bytes -> amqp table -> fields. */
static void wire_round_trip(const brg_fields_t *in, brg_fields_t *out)
{
    amqp_pool_t pool, dpool;
    init_amqp_pool(&pool, 4096);
    init_amqp_pool(&dpool, 4096);
    amqp_table_t t;
    char err[256] = "";
    ck_assert_int_eq(brg_rmq_fields_to_table(in, &pool, &t, err, sizeof(err)), BRG_OK);
    size_t cap = brg_rmq_table_wire_size(&t) + 64;
    uint8_t *buf = malloc(cap);
    amqp_bytes_t enc = {cap, buf};
    size_t off = 0;
    ck_assert_int_eq(amqp_encode_table(enc, &t, &off), AMQP_STATUS_OK);
    /* Our size computation is what frames are checked against: it must be exact. */
    ck_assert_uint_eq(off, brg_rmq_table_wire_size(&t));
    amqp_table_t back;
    size_t doff = 0;
    enc.len = off;
    ck_assert_int_eq(amqp_decode_table(enc, &dpool, &back, &doff), AMQP_STATUS_OK);
    ck_assert_int_eq(brg_rmq_table_to_fields(&back, out, err, sizeof(err)), BRG_OK);
    free(buf);
    empty_amqp_pool(&pool);
    empty_amqp_pool(&dpool);
}

/* ---- tables ------------------------------------------------------------------------------- */

START_TEST(test_rmq_table_all_types_round_trip)
{
    brg_fields_t in, out;
    brg_fields_init(&in);
    brg_fields_init(&out);
    fill_all_types(&in);
    wire_round_trip(&in, &out);
    ck_assert_uint_eq(out.count, in.count);
    for (size_t i = 0; i < in.count; i++) {
        ck_assert_msg(brg_value_equal(&in.items[i].value, &out.items[i].value),
                      "header \"%s\" changed (%s/%u -> %s/%u)", in.items[i].name,
                      brg_vtype_name(in.items[i].value.type), in.items[i].value.width,
                      brg_vtype_name(out.items[i].value.type), out.items[i].value.width);
    }
    ck_assert(brg_fields_equal(&in, &out));
    brg_fields_fini(&in);
    brg_fields_fini(&out);
}
END_TEST

START_TEST(test_rmq_table_amqp_kinds_keep_their_width)
{
    brg_fields_t in;
    brg_fields_init(&in);
    fill_all_types(&in);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    char err[256];
    ck_assert_int_eq(brg_rmq_fields_to_table(&in, &pool, &t, err, sizeof(err)), BRG_OK);
    const char kinds[] = "tbBsuIilLfdDTSxVSFAF";
    ck_assert_int_eq(t.num_entries, (int)strlen(kinds));
    for (int i = 0; i < t.num_entries; i++) {
        ck_assert_msg(t.entries[i].value.kind == (uint8_t)kinds[i], "entry %d: kind '%c', want '%c'",
                      i, t.entries[i].value.kind, kinds[i]);
    }
    /* Timestamps are seconds on the wire. */
    ck_assert_uint_eq(t.entries[12].value.value.u64, 1700000000u);
    empty_amqp_pool(&pool);
    brg_fields_fini(&in);
}
END_TEST

START_TEST(test_rmq_table_x_death_round_trip)
{
    brg_fields_t in, out;
    brg_fields_init(&in);
    brg_fields_init(&out);
    fill_x_death(&in);
    wire_round_trip(&in, &out);
    ck_assert(brg_fields_equal(&in, &out));
    const brg_field_t *xd = brg_fields_get(&out, "x-death");
    ck_assert_ptr_nonnull(xd);
    ck_assert_int_eq(xd->value.type, BRG_V_ARRAY);
    const brg_value_t *d0 = &xd->value.u.fields->items[0].value;
    ck_assert_int_eq(d0->type, BRG_V_TABLE);
    const brg_field_t *count = brg_fields_get(d0->u.fields, "count");
    ck_assert_int_eq(count->value.type, BRG_V_INT);
    ck_assert_int_eq(count->value.width, 64);
    ck_assert_int_eq(count->value.u.i, 3);
    brg_fields_fini(&in);
    brg_fields_fini(&out);
}
END_TEST

START_TEST(test_rmq_table_duplicates_and_order_kept)
{
    brg_fields_t in, out;
    brg_fields_init(&in);
    brg_fields_init(&out);
    add(&in, "b", brg_value_string("1", 1));
    add(&in, "a", brg_value_string("2", 1));
    add(&in, "b", brg_value_string("3", 1));
    wire_round_trip(&in, &out);
    ck_assert(brg_fields_equal(&in, &out));
    ck_assert_str_eq(out.items[2].name, "b");
    brg_fields_fini(&in);
    brg_fields_fini(&out);
}
END_TEST

START_TEST(test_rmq_table_large_string_round_trip)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)(i * 7);
    }
    brg_fields_t in, out;
    brg_fields_init(&in);
    brg_fields_init(&out);
    add(&in, "big", brg_value_bytes(big, n));
    wire_round_trip(&in, &out);
    ck_assert(brg_fields_equal(&in, &out));
    free(big);
    brg_fields_fini(&in);
    brg_fields_fini(&out);
}
END_TEST

START_TEST(test_rmq_table_symbol_and_uuid_become_string_and_bytes)
{
    brg_fields_t in, out;
    brg_fields_init(&in);
    brg_fields_init(&out);
    add(&in, "sym", brg_value_typed_bytes(BRG_V_SYMBOL, "amqp:sym", 8));
    add(&in, "id", brg_value_typed_bytes(BRG_V_UUID, "0123456789abcdef", 16));
    wire_round_trip(&in, &out);
    ck_assert_int_eq(out.items[0].value.type, BRG_V_STRING);
    ck_assert_str_eq((const char *)out.items[0].value.u.bytes.data, "amqp:sym");
    ck_assert_int_eq(out.items[1].value.type, BRG_V_BYTES);
    ck_assert_uint_eq(out.items[1].value.u.bytes.len, 16);
    brg_fields_fini(&in);
    brg_fields_fini(&out);
}
END_TEST

START_TEST(test_rmq_table_long_name_refused)
{
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    brg_fields_t in;
    brg_fields_init(&in);
    add(&in, name, brg_value_string("v", 1));
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    char err[256] = "";
    ck_assert_int_eq(brg_rmq_fields_to_table(&in, &pool, &t, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "name longer than 255 bytes (299)") != NULL, "%s", err);
    empty_amqp_pool(&pool);
    brg_fields_fini(&in);
}
END_TEST

/* A value nested n levels deep: {"d": {"d": ... 1}}. */
static brg_value_t nested(int n)
{
    if (n == 0) {
        return brg_value_int(1, 32);
    }
    brg_fields_t *f = brg_fields_new();
    add(f, "d", nested(n - 1));
    return brg_value_table(f);
}

START_TEST(test_rmq_table_depth_limit_both_ways)
{
    brg_fields_t ok, deep;
    brg_fields_init(&ok);
    brg_fields_init(&deep);
    add(&ok, "n", nested(BRG_RMQ_MAX_DEPTH));
    add(&deep, "n", nested(BRG_RMQ_MAX_DEPTH + 1));
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t t;
    char err[256] = "";
    ck_assert_int_eq(brg_rmq_fields_to_table(&ok, &pool, &t, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(brg_rmq_fields_to_table(&deep, &pool, &t, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "nested deeper than 32 levels") != NULL, "%s", err);

    /* The same from the wire: an AMQP table 40 levels deep, as a broker could send it. */
    amqp_table_entry_t e[40];
    for (int i = 0; i < 40; i++) {
        memset(&e[i], 0, sizeof(e[i]));
        e[i].key = amqp_cstring_bytes("d");
        if (i < 39) {
            e[i].value.kind = AMQP_FIELD_KIND_TABLE;
            e[i].value.value.table.num_entries = 1;
            e[i].value.value.table.entries = &e[i + 1];
        } else {
            e[i].value.kind = AMQP_FIELD_KIND_VOID;
        }
    }
    amqp_table_t top = {1, &e[0]};
    brg_fields_t out;
    brg_fields_init(&out);
    ck_assert_int_eq(brg_rmq_table_to_fields(&top, &out, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "header \"d\": nested deeper than 32 levels") != NULL, "%s", err);
    brg_fields_fini(&out);
    empty_amqp_pool(&pool);
    brg_fields_fini(&ok);
    brg_fields_fini(&deep);
}
END_TEST

START_TEST(test_rmq_table_malformed_input_fails_softly)
{
    char err[256] = "";
    brg_fields_t out;
    brg_fields_init(&out);
    amqp_table_t neg = {-1, NULL};
    ck_assert_int_eq(brg_rmq_table_to_fields(&neg, &out, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "malformed table") != NULL, "%s", err);
    amqp_table_t missing = {3, NULL};
    ck_assert_int_eq(brg_rmq_table_to_fields(&missing, &out, err, sizeof(err)), BRG_ERR_INVALID);

    amqp_table_entry_t e[2];
    memset(e, 0, sizeof(e));
    e[0].key = amqp_cstring_bytes("good");
    e[0].value.kind = AMQP_FIELD_KIND_I32;
    e[0].value.value.i32 = 42;
    e[1].key = amqp_cstring_bytes("bad");
    e[1].value.kind = 'Z';
    amqp_table_t t = {2, e};
    ck_assert_int_eq(brg_rmq_table_to_fields(&t, &out, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_str_eq(err, "header \"bad\": unknown AMQP field type 0x5a");
    /* What came before the bad entry is kept. */
    ck_assert_uint_eq(out.count, 1);
    ck_assert_int_eq(out.items[0].value.u.i, 42);

    amqp_array_t badarr = {2, NULL};
    e[1].value.kind = AMQP_FIELD_KIND_ARRAY;
    e[1].value.value.array = badarr;
    ck_assert_int_eq(brg_rmq_table_to_fields(&t, &out, err, sizeof(err)), BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "header \"bad\": malformed array") != NULL, "%s", err);

    e[1].value.kind = AMQP_FIELD_KIND_UTF8;
    e[1].value.value.bytes.len = 5;
    e[1].value.value.bytes.bytes = NULL;
    ck_assert_int_eq(brg_rmq_table_to_fields(&t, &out, err, sizeof(err)), BRG_ERR_INVALID);
    brg_fields_fini(&out);

    /* Truncated wire bytes never reach the codec: rabbitmq-c refuses them. */
    uint8_t wire[] = {0, 0, 0, 20, 3, 'a', 'b', 'c', 'S', 0, 0, 0, 100, 'x'};
    amqp_bytes_t enc = {sizeof(wire), wire};
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t back;
    size_t off = 0;
    ck_assert_int_lt(amqp_decode_table(enc, &pool, &back, &off), 0);
    empty_amqp_pool(&pool);
}
END_TEST

START_TEST(test_rmq_timestamp_out_of_range_kept_exactly)
{
    amqp_table_entry_t e;
    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes("t");
    e.value.kind = AMQP_FIELD_KIND_TIMESTAMP;
    e.value.value.u64 = UINT64_MAX;
    amqp_table_t t = {1, &e};
    brg_fields_t out;
    brg_fields_init(&out);
    char err[128];
    ck_assert_int_eq(brg_rmq_table_to_fields(&t, &out, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(out.items[0].value.type, BRG_V_UINT);
    ck_assert(out.items[0].value.u.u == UINT64_MAX);
    brg_fields_fini(&out);
}
END_TEST

/* ---- properties --------------------------------------------------------------------------- */

static brg_envelope_t *full_envelope(void)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_envelope_set_body(env, "body", 4);
    brg_envelope_set_key(env, "k\0ey", 4);
    brg_props_set(&env->props.message_id, "msg-1");
    brg_props_set(&env->props.correlation_id, "corr-1");
    brg_props_set(&env->props.content_type, "application/json");
    brg_props_set(&env->props.content_encoding, "gzip");
    brg_props_set(&env->props.reply_to, "replies");
    brg_props_set(&env->props.subject, "order.created");
    brg_props_set(&env->props.user_id, "guest");
    brg_props_set(&env->props.app_id, "shop");
    brg_props_set(&env->props.group_id, "group-7");
    env->props.priority = 7;
    env->props.durable = 0;
    env->props.ttl_ms = 60000;
    env->props.timestamp_ms = 1700000000123LL;
    fill_all_types(&env->headers);
    fill_x_death(&env->headers);
    return env;
}

/* envelope -> properties -> wire (rabbitmq-c's content header encoder) -> properties ->
 * envelope. *p_out gets the properties as decoded from the wire. */
static brg_envelope_t *props_round_trip(const brg_envelope_t *env, const char *login_user,
                                        amqp_basic_properties_t *p_out)
{
    static amqp_pool_t dpool;
    static bool dpool_init;
    if (!dpool_init) {
        init_amqp_pool(&dpool, 4096);
        dpool_init = true;
    }
    recycle_amqp_pool(&dpool);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_basic_properties_t p;
    size_t wire = 0;
    char err[256] = "";
    ck_assert_int_eq(brg_rmq_envelope_to_props(env, login_user, &pool, &p, &wire, err, sizeof(err)),
                     BRG_OK);
    /* The decoded properties point into the wire bytes: keep them until the next call. */
    static uint8_t *buf;
    free(buf);
    size_t cap = wire + 64;
    buf = malloc(cap);
    amqp_bytes_t enc = {cap, buf};
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, &p, enc);
    ck_assert_int_gt(n, 0);
    /* The header frame payload: class, weight, body size (12 bytes), then these. */
    ck_assert_uint_eq(wire, 12 + (size_t)n);
    enc.len = (size_t)n;
    amqp_basic_properties_t *dec = NULL;
    ck_assert_int_eq(amqp_decode_properties(AMQP_BASIC_CLASS, &dpool, enc, (void **)&dec), 0);
    if (p_out) {
        *p_out = *dec;
    }
    brg_envelope_t *back = brg_envelope_new();
    ck_assert_int_eq(brg_rmq_props_to_envelope(dec, back, err, sizeof(err)), BRG_OK);
    empty_amqp_pool(&pool);
    return back;
}

static void assert_str_eq_opt(const char *a, const char *b)
{
    if (!a || !b) {
        ck_assert_ptr_eq(a, b);
    } else {
        ck_assert_str_eq(a, b);
    }
}

static void assert_props_equal(const brg_props_t *a, const brg_props_t *b)
{
    assert_str_eq_opt(a->message_id, b->message_id);
    assert_str_eq_opt(a->correlation_id, b->correlation_id);
    assert_str_eq_opt(a->content_type, b->content_type);
    assert_str_eq_opt(a->content_encoding, b->content_encoding);
    assert_str_eq_opt(a->reply_to, b->reply_to);
    assert_str_eq_opt(a->subject, b->subject);
    assert_str_eq_opt(a->user_id, b->user_id);
    assert_str_eq_opt(a->app_id, b->app_id);
    assert_str_eq_opt(a->group_id, b->group_id);
    ck_assert_int_eq(a->priority, b->priority);
    ck_assert_int_eq(a->durable, b->durable);
    ck_assert_int_eq(a->ttl_ms, b->ttl_ms);
    ck_assert_int_eq(a->timestamp_ms, b->timestamp_ms);
}

START_TEST(test_rmq_props_full_round_trip)
{
    brg_envelope_t *env = full_envelope();
    amqp_basic_properties_t p;
    brg_envelope_t *back = props_round_trip(env, "guest", &p);
    assert_props_equal(&env->props, &back->props);
    ck_assert_uint_eq(back->key_len, 4);
    ck_assert_mem_eq(back->key, "k\0ey", 4);
    /* The reserved headers are gone again; the user's headers are all there, in order. */
    ck_assert(brg_fields_equal(&env->headers, &back->headers));
    /* What the broker sees: seconds, delivery mode 1 for a transient message, the user id. */
    ck_assert_uint_eq(p.timestamp, 1700000000u);
    ck_assert_int_eq(p.delivery_mode, 1);
    ck_assert_int_eq(p.priority, 7);
    ck_assert_uint_eq(p.expiration.len, 5);
    ck_assert_mem_eq(p.expiration.bytes, "60000", 5);
    ck_assert(p._flags & AMQP_BASIC_USER_ID_FLAG);
    brg_envelope_destroy(env);
    brg_envelope_destroy(back);
}
END_TEST

START_TEST(test_rmq_props_reserved_headers_only_when_needed)
{
    brg_envelope_t *env = brg_envelope_new();
    env->props.timestamp_ms = 1700000000000LL; /* whole seconds: no ms header */
    amqp_basic_properties_t p;
    brg_envelope_t *back = props_round_trip(env, "guest", &p);
    ck_assert(!(p._flags & AMQP_BASIC_HEADERS_FLAG));
    ck_assert_int_eq(p.delivery_mode, 2); /* unknown durability: persistent */
    ck_assert_int_eq(back->props.timestamp_ms, 1700000000000LL);
    ck_assert_ptr_null(back->key);
    ck_assert_int_eq(back->props.durable, 1);
    ck_assert_int_eq(back->props.priority, -1);
    ck_assert_int_eq(back->props.ttl_ms, -1);
    brg_envelope_destroy(env);
    brg_envelope_destroy(back);

    /* An empty key is a key: it travels. */
    env = brg_envelope_new();
    brg_envelope_set_key(env, "", 0);
    back = props_round_trip(env, NULL, &p);
    ck_assert_int_eq(p.headers.num_entries, 1);
    ck_assert_ptr_nonnull(back->key);
    ck_assert_uint_eq(back->key_len, 0);
    ck_assert_uint_eq(back->headers.count, 0);
    brg_envelope_destroy(env);
    brg_envelope_destroy(back);
}
END_TEST

START_TEST(test_rmq_props_foreign_user_id_moves_to_header)
{
    brg_envelope_t *env = brg_envelope_new();
    brg_props_set(&env->props.user_id, "alice");
    amqp_basic_properties_t p;
    brg_envelope_t *back = props_round_trip(env, "guest", &p);
    /* RabbitMQ closes the channel on a user_id that is not the connection's user. */
    ck_assert(!(p._flags & AMQP_BASIC_USER_ID_FLAG));
    ck_assert_int_eq(p.headers.num_entries, 1);
    ck_assert_str_eq(back->props.user_id, "alice");
    ck_assert_uint_eq(back->headers.count, 0);
    brg_envelope_destroy(env);
    brg_envelope_destroy(back);
}
END_TEST

START_TEST(test_rmq_props_from_broker_message)
{
    /* As RabbitMQ delivers it: seconds, delivery mode 2, expiration text. */
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
               AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    p.timestamp = 1600000000;
    p.delivery_mode = 2;
    p.expiration = amqp_cstring_bytes("1500");
    p.type = amqp_cstring_bytes("evt");
    p.priority = 0;
    brg_envelope_t *env = brg_envelope_new();
    char err[128];
    ck_assert_int_eq(brg_rmq_props_to_envelope(&p, env, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(env->props.timestamp_ms, 1600000000000LL);
    ck_assert_int_eq(env->props.durable, 1);
    ck_assert_int_eq(env->props.ttl_ms, 1500);
    ck_assert_str_eq(env->props.subject, "evt");
    ck_assert_int_eq(env->props.priority, 0);
    brg_envelope_destroy(env);

    /* A ms header that disagrees with the seconds is not trusted (and still removed). */
    amqp_table_entry_t e;
    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes(BRG_RMQ_HDR_TIMESTAMP_MS);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = 1234567;
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
    p.headers.num_entries = 1;
    p.headers.entries = &e;
    p.expiration = amqp_cstring_bytes("soon");
    env = brg_envelope_new();
    ck_assert_int_eq(brg_rmq_props_to_envelope(&p, env, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(env->props.timestamp_ms, 1600000000000LL);
    ck_assert_int_eq(env->props.ttl_ms, -1);
    ck_assert_uint_eq(env->headers.count, 0);
    brg_envelope_destroy(env);

    /* A negative ms header alone is no timestamp (-1 means absent; found by fuzz_rmq_table). */
    p._flags = AMQP_BASIC_HEADERS_FLAG;
    e.value.value.i64 = -5;
    env = brg_envelope_new();
    ck_assert_int_eq(brg_rmq_props_to_envelope(&p, env, err, sizeof(err)), BRG_OK);
    ck_assert_int_eq(env->props.timestamp_ms, -1);
    ck_assert_uint_eq(env->headers.count, 0);
    brg_envelope_destroy(env);
}
END_TEST

START_TEST(test_rmq_props_too_long_refused)
{
    brg_envelope_t *env = brg_envelope_new();
    char id[300];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = 0;
    brg_props_set(&env->props.message_id, id);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_basic_properties_t p;
    char err[256] = "";
    ck_assert_int_eq(brg_rmq_envelope_to_props(env, NULL, &pool, &p, NULL, err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_msg(strstr(err, "message_id longer than 255 bytes (299)") != NULL, "%s", err);
    empty_amqp_pool(&pool);
    brg_envelope_destroy(env);
}
END_TEST

/* Records the losses reported; refuses them when strict. */
typedef struct losses {
    bool strict;
    int n;
    char fields[8][32];
} losses_t;

static bool record_loss(void *ctx, const char *field)
{
    losses_t *l = ctx;
    if (l->n < 8) {
        snprintf(l->fields[l->n], sizeof(l->fields[0]), "%s", field);
    }
    l->n++;
    return l->strict;
}

START_TEST(test_rmq_losses_reported_and_strict_refuses)
{
    brg_envelope_t *env = brg_envelope_new();
    add(&env->headers, "sym", brg_value_typed_bytes(BRG_V_SYMBOL, "s", 1));
    add(&env->headers, "ts", brg_value_timestamp(1700000000123LL));
    brg_fields_t *inner = brg_fields_new();
    add(inner, "id", brg_value_typed_bytes(BRG_V_UUID, "0123456789abcdef", 16));
    add(&env->headers, "nested", brg_value_table(inner));
    add(&env->headers, "fine", brg_value_timestamp(1700000000000LL));
    env->props.priority = 300;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_basic_properties_t p;
    char err[256] = "";
    losses_t l = {.strict = false};
    ck_assert_int_eq(brg_rmq_envelope_to_props_checked(env, NULL, &pool, &p, NULL, record_loss, &l,
                                                       err, sizeof(err)),
                     BRG_OK);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.fields[0], "priority");
    ck_assert_str_eq(l.fields[1], "header.type");
    ck_assert_str_eq(l.fields[2], "header.timestamp");
    ck_assert_str_eq(l.fields[3], "header.type");
    ck_assert_int_eq(p.priority, 255);

    /* Strict: the first loss refuses the message, naming the header. */
    l = (losses_t){.strict = true};
    env->props.priority = 5;
    recycle_amqp_pool(&pool);
    ck_assert_int_eq(brg_rmq_envelope_to_props_checked(env, NULL, &pool, &p, NULL, record_loss, &l,
                                                       err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "header \"sym\": symbol written as a string (strict mapping)");
    brg_fields_remove(&env->headers, "sym");
    brg_fields_remove(&env->headers, "ts");
    recycle_amqp_pool(&pool);
    ck_assert_int_eq(brg_rmq_envelope_to_props_checked(env, NULL, &pool, &p, NULL, record_loss, &l,
                                                       err, sizeof(err)),
                     BRG_ERR_INVALID);
    ck_assert_str_eq(err, "header \"nested\": uuid written as bytes (strict mapping)");
    empty_amqp_pool(&pool);
    brg_envelope_destroy(env);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rabbitmq_codec");
    TCase *t = tcase_create("tables");
    tcase_add_test(t, test_rmq_table_all_types_round_trip);
    tcase_add_test(t, test_rmq_table_amqp_kinds_keep_their_width);
    tcase_add_test(t, test_rmq_table_x_death_round_trip);
    tcase_add_test(t, test_rmq_table_duplicates_and_order_kept);
    tcase_add_test(t, test_rmq_table_large_string_round_trip);
    tcase_add_test(t, test_rmq_table_symbol_and_uuid_become_string_and_bytes);
    tcase_add_test(t, test_rmq_table_long_name_refused);
    tcase_add_test(t, test_rmq_table_depth_limit_both_ways);
    tcase_add_test(t, test_rmq_table_malformed_input_fails_softly);
    tcase_add_test(t, test_rmq_timestamp_out_of_range_kept_exactly);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("properties");
    tcase_add_test(p, test_rmq_props_full_round_trip);
    tcase_add_test(p, test_rmq_props_reserved_headers_only_when_needed);
    tcase_add_test(p, test_rmq_props_foreign_user_id_moves_to_header);
    tcase_add_test(p, test_rmq_props_from_broker_message);
    tcase_add_test(p, test_rmq_props_too_long_refused);
    tcase_add_test(p, test_rmq_losses_reported_and_strict_refuses);
    suite_add_tcase(s, p);
    return s;
}

Suite *check_suite(void)
{
    return suite();
}
