/* libFuzzer target: AMQP 0-9-1 header tables and basic properties <-> envelope
 * (adapters/rabbitmq/rmq_codec.c), fed what rabbitmq-c decodes from the wire.
 *
 * The first input byte picks the form of the rest:
 *   even: an encoded field table (4-byte length first), decoded with amqp_decode_table;
 *   odd:  an encoded basic-properties payload (flags, then fields), decoded with
 *         amqp_decode_properties, as the content header of a delivery arrives.
 * What decodes goes to the envelope (brg_rmq_table_to_fields, brg_rmq_props_to_envelope); if
 * the codec accepts it, it must come back: envelope -> properties (brg_rmq_envelope_to_props)
 * -> wire (amqp_encode_properties, whose size must be the wire_size the codec announced) ->
 * properties -> envelope gives the same headers, key and properties. A table goes through
 * brg_rmq_fields_to_table and amqp_encode_table the same way, and its encoded size must equal
 * brg_rmq_table_wire_size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "adapters/rabbitmq/rmq_codec.h"
#include "bridge/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_STRICT=1 also checks what a known codec issue breaks (docs/fuzzing.md, "Findings"):
 * a negative x-msgbridge-timestamp-ms header without a timestamp property becomes a negative
 * timestamp_ms, which the way back drops. */
static bool strict;

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same(const brg_envelope_t *a, const brg_envelope_t *b)
{
    const brg_props_t *p = &a->props, *q = &b->props;
    return (a->key == NULL) == (b->key == NULL) && a->key_len == b->key_len &&
           (a->key_len == 0 || memcmp(a->key, b->key, a->key_len) == 0) &&
           brg_fields_equal(&a->headers, &b->headers) && str_eq(p->message_id, q->message_id) &&
           str_eq(p->correlation_id, q->correlation_id) &&
           str_eq(p->content_type, q->content_type) &&
           str_eq(p->content_encoding, q->content_encoding) && str_eq(p->reply_to, q->reply_to) &&
           str_eq(p->subject, q->subject) && str_eq(p->user_id, q->user_id) &&
           str_eq(p->app_id, q->app_id) && str_eq(p->group_id, q->group_id) &&
           p->priority == q->priority &&
           /* unknown durability is published persistent (delivery mode 2) */
           (p->durable == -1 ? q->durable == 1 : p->durable == q->durable) &&
           (p->timestamp_ms == q->timestamp_ms || (!strict && p->timestamp_ms < -1)) &&
           p->ttl_ms == q->ttl_ms;
}

/* fields -> table -> bytes -> table -> fields; the result must equal f. */
static void table_trip(const brg_fields_t *f)
{
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    char errstr[512];
    amqp_table_t t;
    if (brg_rmq_fields_to_table(f, &pool, &t, errstr, sizeof(errstr)) != BRG_OK) {
        abort(); /* what came from a table must go back into one */
    }
    size_t want = brg_rmq_table_wire_size(&t);
    char *buf = malloc(want + 16);
    size_t off = 0;
    if (amqp_encode_table((amqp_bytes_t){want + 16, buf}, &t, &off) != AMQP_STATUS_OK ||
        off != want) {
        abort(); /* brg_rmq_table_wire_size is what the frame-size check relies on */
    }
    amqp_table_t back;
    size_t off2 = 0;
    brg_fields_t fields;
    brg_fields_init(&fields);
    if (amqp_decode_table((amqp_bytes_t){off, buf}, &pool, &back, &off2) != AMQP_STATUS_OK ||
        brg_rmq_table_to_fields(&back, &fields, errstr, sizeof(errstr)) != BRG_OK ||
        !brg_fields_equal(&fields, f)) {
        abort();
    }
    brg_fields_fini(&fields);
    free(buf);
    empty_amqp_pool(&pool);
}

/* env -> properties -> bytes -> properties -> envelope; the result must equal env. */
static void props_trip(const brg_envelope_t *env)
{
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    char errstr[512];
    amqp_basic_properties_t p;
    size_t wire = 0;
    if (brg_rmq_envelope_to_props(env, "guest", &pool, &p, &wire, errstr, sizeof(errstr)) !=
        BRG_OK) {
        /* Refused soft (a name or property longer than 255 bytes after the reserved
         * headers moved back); nothing else to check. */
        empty_amqp_pool(&pool);
        return;
    }
    size_t cap = wire + 64;
    char *buf = malloc(cap);
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, &p, (amqp_bytes_t){cap, buf});
    if (n < 0 || (size_t)n + 12 != wire) {
        abort(); /* the announced wire size is what is checked against the frame size */
    }
    amqp_basic_properties_t *q = NULL;
    brg_envelope_t *back = brg_envelope_new();
    if (amqp_decode_properties(AMQP_BASIC_CLASS, &pool, (amqp_bytes_t){(size_t)n, buf},
                               (void **)&q) != AMQP_STATUS_OK ||
        brg_rmq_props_to_envelope(q, back, errstr, sizeof(errstr)) != BRG_OK) {
        abort();
    }
    if (!same(env, back)) {
        abort();
    }
    brg_envelope_destroy(back);
    free(buf);
    empty_amqp_pool(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        const char *s = getenv("FUZZ_STRICT");
        strict = s && strcmp(s, "1") == 0;
        init = true;
    }
    if (size < 1) {
        return 0;
    }
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_bytes_t in = {size - 1, (void *)(data + 1)};
    char errstr[512];
    errstr[0] = 0;
    if (data[0] % 2 == 0) {
        amqp_table_t t;
        size_t off = 0;
        if (amqp_decode_table(in, &pool, &t, &off) == AMQP_STATUS_OK) {
            brg_fields_t fields;
            brg_fields_init(&fields);
            if (brg_rmq_table_to_fields(&t, &fields, errstr, sizeof(errstr)) == BRG_OK) {
                table_trip(&fields);
            } else if (errstr[0] == 0) {
                abort();
            }
            brg_fields_fini(&fields);
        }
    } else {
        amqp_basic_properties_t *p = NULL;
        if (amqp_decode_properties(AMQP_BASIC_CLASS, &pool, in, (void **)&p) ==
            AMQP_STATUS_OK) {
            brg_envelope_t *env = brg_envelope_new();
            if (brg_rmq_props_to_envelope(p, env, errstr, sizeof(errstr)) == BRG_OK) {
                props_trip(env);
            } else if (errstr[0] == 0) {
                abort();
            }
            brg_envelope_destroy(env);
        }
    }
    empty_amqp_pool(&pool);
    return 0;
}
