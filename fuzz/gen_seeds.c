/* Writes the binary seed inputs of the codec targets into fuzz/corpus/<target>/ (the text
 * seeds of fuzz_conf, fuzz_template and fuzz_filter are written by hand). Built and run by
 * `scripts/fuzz.sh seeds`; each codec part is compiled in only when its target is built
 * (GEN_JSON, GEN_AMQP1, GEN_RMQ). The seeds are the shapes real traffic has: every header
 * type, nested tables, binary keys and bodies, each AMQP 1.0 body section kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/envelope.h"
#include "fuzz/fuzz_envelope.h"

#ifdef GEN_JSON
#include "adapters/file/json_codec.h"
#endif
#ifdef GEN_AMQP1
#include <proton/codec.h>
#include <proton/message.h>

#include "adapters/amqp1/amqp1_codec.h"
#endif
#ifdef GEN_RMQ
#include <amqp.h>
#include <amqp_framing.h>
#endif

static const char *dir;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* The envelopes every codec gets: all fields, empty, empty-vs-absent key, binary body. */
static brg_envelope_t *envelope(int which)
{
    brg_envelope_t *env;
    switch (which) {
    case 0: return fuzz_envelope_new();
    case 1: return brg_envelope_new();
    case 2:
        env = brg_envelope_new();
        brg_envelope_set_key(env, "", 0);
        brg_envelope_set_body(env, "plain text", 10);
        env->props.durable = 0;
        env->props.ttl_ms = 60000;
        return env;
    default:
        env = brg_envelope_new();
        brg_envelope_set_body(env, "\xff\x00\xfe binary", 9);
        brg_envelope_add_header_bytes(env, "\xc3\x28 bad utf8", "\x00", 1);
        return env;
    }
}
#define NENVELOPES 4

#ifdef GEN_JSON
static void gen_json(void)
{
    for (int i = 0; i < NENVELOPES; i++) {
        brg_envelope_t *env = envelope(i);
        size_t len;
        char *line = brg_json_encode(env, &len);
        char name[32];
        snprintf(name, sizeof(name), "envelope%d.json", i);
        put("fuzz_json", name, line, len);
        free(line);
        brg_envelope_destroy(env);
    }
}
#endif

#ifdef GEN_AMQP1
static void put_msg(pn_message_t *msg, const char *name)
{
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = pn_message_encode2(msg, &buf);
    if (n < 0) {
        fprintf(stderr, "gen_seeds: cannot encode %s\n", name);
        exit(1);
    }
    put("fuzz_amqp1_codec", name, buf.start, (size_t)n);
    free(buf.start);
}

static void gen_amqp1(void)
{
    pn_message_t *msg = pn_message();
    char errstr[256], name[32];
    brg_amqp1_encode_opts_t opts = {.address = "orders", .jms_dest = 1};
    for (int i = 0; i < NENVELOPES; i++) {
        brg_envelope_t *env = envelope(i);
        if (brg_amqp1_encode(msg, env, &opts, errstr, sizeof(errstr)) != BRG_OK) {
            fprintf(stderr, "gen_seeds: %s\n", errstr);
            exit(1);
        }
        snprintf(name, sizeof(name), "envelope%d", i);
        put_msg(msg, name);
        brg_envelope_destroy(env);
    }

    /* Bodies the codec does not write itself: amqp-value string, map, described; sequence. */
    pn_message_clear(msg);
    pn_data_put_string(pn_message_body(msg), pn_bytes(5, "hello"));
    put_msg(msg, "value_string");

    pn_message_clear(msg);
    pn_data_t *b = pn_message_body(msg);
    pn_data_put_map(b);
    pn_data_enter(b);
    pn_data_put_string(b, pn_bytes(1, "a"));
    pn_data_put_list(b);
    pn_data_enter(b);
    pn_data_put_int(b, 1);
    pn_data_put_double(b, 2.5);
    pn_data_put_null(b);
    pn_data_exit(b);
    pn_data_put_symbol(b, pn_bytes(1, "s"));
    pn_data_put_uuid(b, (pn_uuid_t){{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}});
    pn_data_exit(b);
    pn_message_set_subject(msg, "map");
    pn_message_set_creation_time(msg, 1700000000123);
    put_msg(msg, "value_map");

    pn_message_clear(msg);
    b = pn_message_body(msg);
    pn_data_put_list(b);
    pn_data_enter(b);
    pn_data_put_ulong(b, 7);
    pn_data_put_char(b, 'z');
    pn_data_exit(b);
    pn_message_set_inferred(msg, true);
    put_msg(msg, "sequence");

    pn_message_clear(msg);
    b = pn_message_body(msg);
    pn_data_put_described(b);
    pn_data_enter(b);
    pn_data_put_symbol(b, pn_bytes(13, "com.example:t"));
    pn_data_put_string(b, pn_bytes(1, "v"));
    pn_data_exit(b);
    pn_data_t *ann = pn_message_annotations(msg);
    pn_data_put_map(ann);
    pn_data_enter(ann);
    pn_data_put_symbol(ann, pn_bytes(19, "x-opt-enqueued-time"));
    pn_data_put_timestamp(ann, 1700000000000);
    pn_data_put_symbol(ann, pn_bytes(18, "x-opt-jms-msg-type"));
    pn_data_put_byte(ann, 5);
    pn_data_exit(ann);
    pn_data_t *props = pn_message_properties(msg);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(3, "d32"));
    pn_data_put_decimal32(props, 7);
    pn_data_put_string(props, pn_bytes(3, "arr"));
    pn_data_put_array(props, false, PN_INT);
    pn_data_enter(props);
    pn_data_put_int(props, 1);
    pn_data_put_int(props, 2);
    pn_data_exit(props);
    pn_data_exit(props);
    pn_message_set_id(msg, (pn_msgid_t){.type = PN_ULONG, .u.as_ulong = 42});
    put_msg(msg, "described_annotations");
    pn_message_free(msg);
}
#endif

#ifdef GEN_RMQ
/* fuzz_rmq_table inputs start with a byte that says what follows: 0 a table, 1 properties. */
static void put_rmq(uint8_t mode, const char *name, const void *data, size_t len)
{
    uint8_t *b = malloc(len + 1);
    b[0] = mode;
    memcpy(b + 1, data, len);
    put("fuzz_rmq_table", name, b, len + 1);
    free(b);
}

/* The table the fuzz_rmq_table target decodes: every AMQP 0-9-1 field kind, x-death nesting. */
static void gen_rmq(void)
{
    amqp_field_value_t deep_vals[2];
    deep_vals[0].kind = AMQP_FIELD_KIND_UTF8;
    deep_vals[0].value.bytes = amqp_cstring_bytes("q1");
    deep_vals[1].kind = AMQP_FIELD_KIND_I64;
    deep_vals[1].value.i64 = 3;
    amqp_table_entry_t death_e[2] = {{amqp_cstring_bytes("queue"), deep_vals[0]},
                                     {amqp_cstring_bytes("count"), deep_vals[1]}};
    amqp_field_value_t death_tab = {.kind = AMQP_FIELD_KIND_TABLE,
                                    .value.table = {2, death_e}};
    amqp_field_value_t arr = {.kind = AMQP_FIELD_KIND_ARRAY,
                              .value.array = {1, &death_tab}};
    amqp_table_entry_t e[18];
    int n = 0;
#define ENTRY(k, kind_, field, v)                                                             \
    do {                                                                                       \
        e[n].key = amqp_cstring_bytes(k);                                                      \
        e[n].value.kind = (kind_);                                                             \
        e[n].value.value.field = (v);                                                          \
        n++;                                                                                   \
    } while (0)
    ENTRY("bool", AMQP_FIELD_KIND_BOOLEAN, boolean, 1);
    ENTRY("i8", AMQP_FIELD_KIND_I8, i8, -8);
    ENTRY("u8", AMQP_FIELD_KIND_U8, u8, 8);
    ENTRY("i16", AMQP_FIELD_KIND_I16, i16, -16);
    ENTRY("u16", AMQP_FIELD_KIND_U16, u16, 16);
    ENTRY("i32", AMQP_FIELD_KIND_I32, i32, -32);
    ENTRY("u32", AMQP_FIELD_KIND_U32, u32, 32);
    ENTRY("i64", AMQP_FIELD_KIND_I64, i64, -64);
    ENTRY("u64", AMQP_FIELD_KIND_U64, u64, 64);
    ENTRY("f32", AMQP_FIELD_KIND_F32, f32, 0.5f);
    ENTRY("f64", AMQP_FIELD_KIND_F64, f64, 0.25);
    ENTRY("dec", AMQP_FIELD_KIND_DECIMAL, decimal, ((amqp_decimal_t){2, 12345}));
    ENTRY("ts", AMQP_FIELD_KIND_TIMESTAMP, u64, 1700000000);
    ENTRY("str", AMQP_FIELD_KIND_UTF8, bytes, amqp_cstring_bytes("order"));
    ENTRY("bin", AMQP_FIELD_KIND_BYTES, bytes, amqp_cstring_bytes("\x01\x02"));
    e[n].key = amqp_cstring_bytes("void");
    e[n].value.kind = AMQP_FIELD_KIND_VOID;
    n++;
    e[n].key = amqp_cstring_bytes("x-death");
    e[n].value = arr;
    n++;
#undef ENTRY
    amqp_table_t t = {n, e};
    char buf[4096];
    size_t off = 0;
    if (amqp_encode_table((amqp_bytes_t){sizeof(buf), buf}, &t, &off) != AMQP_STATUS_OK) {
        fprintf(stderr, "gen_seeds: cannot encode the table\n");
        exit(1);
    }
    put_rmq(0, "table_all_kinds", buf, off);
    amqp_table_t one = {1, &e[13]};
    off = 0;
    amqp_encode_table((amqp_bytes_t){sizeof(buf), buf}, &one, &off);
    put_rmq(0, "table_one_string", buf, off);
    put_rmq(0, "table_empty", "\0\0\0\0", 4);

    /* The same table as the headers of a delivery's properties, with every property. */
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
               AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG |
               AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
               AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG |
               AMQP_BASIC_APP_ID_FLAG;
    p.content_type = amqp_cstring_bytes("application/json");
    p.content_encoding = amqp_cstring_bytes("gzip");
    p.headers = t;
    p.delivery_mode = 2;
    p.priority = 5;
    p.correlation_id = amqp_cstring_bytes("corr-1");
    p.reply_to = amqp_cstring_bytes("replies");
    p.expiration = amqp_cstring_bytes("60000");
    p.message_id = amqp_cstring_bytes("msg-1");
    p.timestamp = 1700000000;
    p.type = amqp_cstring_bytes("order.created");
    p.user_id = amqp_cstring_bytes("guest");
    p.app_id = amqp_cstring_bytes("app");
    int len = amqp_encode_properties(AMQP_BASIC_CLASS, &p, (amqp_bytes_t){sizeof(buf), buf});
    if (len < 0) {
        fprintf(stderr, "gen_seeds: cannot encode the properties\n");
        exit(1);
    }
    put_rmq(1, "props_all", buf, (size_t)len);
    /* Reserved headers: a binary key, a millisecond timestamp, a group id. */
    amqp_table_entry_t r[3] = {
        {amqp_cstring_bytes("x-msgbridge-key"),
         {.kind = AMQP_FIELD_KIND_BYTES, .value.bytes = {3, "k\0y"}}},
        {amqp_cstring_bytes("x-msgbridge-timestamp-ms"),
         {.kind = AMQP_FIELD_KIND_I64, .value.i64 = 1700000000123}},
        {amqp_cstring_bytes("x-msgbridge-group-id"),
         {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = {1, "g"}}},
    };
    p.headers = (amqp_table_t){3, r};
    len = amqp_encode_properties(AMQP_BASIC_CLASS, &p, (amqp_bytes_t){sizeof(buf), buf});
    put_rmq(1, "props_reserved", buf, (size_t)len);
}
#endif

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "fuzz/corpus";
#ifdef GEN_JSON
    gen_json();
#endif
#ifdef GEN_AMQP1
    gen_amqp1();
#endif
#ifdef GEN_RMQ
    gen_rmq();
#endif
    return 0;
}
