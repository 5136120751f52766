/* The envelope: the normalized message every adapter reads and writes (DESIGN.md section 4).
 *
 * An envelope owns its body, key, headers, properties and origin. It moves between threads
 * whole: whoever holds the pointer owns it, and ownership moves with it also on error.
 * The delivery bookkeeping (route, settle outcome) belongs to the core; adapters only read
 * it through bridge/adapter.h. */
#ifndef BRG_ENVELOPE_H
#define BRG_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/arena.h"
#include "bridge/err.h"
#include "bridge/utf8.h"

/* ---- typed values (headers, application properties, nested tables) -------------------- */

typedef enum brg_vtype {
    BRG_V_NULL = 0,
    BRG_V_BOOL,
    BRG_V_INT,       /* signed integer of width 8/16/32/64 bits */
    BRG_V_UINT,      /* unsigned integer of width 8/16/32/64 bits */
    BRG_V_FLOAT,     /* IEEE float, width 32 or 64 */
    BRG_V_DECIMAL,   /* AMQP 0-9-1 decimal: value / 10^scale */
    BRG_V_TIMESTAMP, /* milliseconds since the epoch */
    BRG_V_STRING,    /* UTF-8 text (not NUL-terminated in general; a NUL is appended) */
    BRG_V_BYTES,     /* opaque bytes */
    BRG_V_SYMBOL,    /* AMQP 1.0 symbol (ASCII) */
    BRG_V_UUID,      /* 16 bytes */
    BRG_V_TABLE,     /* nested ordered name -> value list */
    BRG_V_ARRAY,     /* ordered list of values (names unused) */
} brg_vtype_t;

typedef struct brg_fields brg_fields_t;

typedef struct brg_value {
    brg_vtype_t type;
    uint8_t width; /* bits, for INT/UINT (8,16,32,64) and FLOAT (32,64) */
    /* STRING/BYTES/SYMBOL/UUID: u.bytes.data lives in an envelope's arena (brg_envelope_value),
     * not on the heap: brg_value_fini leaves it, and it is valid as long as that envelope. */
    bool borrowed;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        int64_t ts_ms;
        struct {
            uint8_t scale;
            int32_t value;
        } dec;
        struct {
            uint8_t *data; /* owned; always followed by a NUL byte */
            size_t len;
        } bytes; /* STRING, BYTES, SYMBOL, UUID */
        brg_fields_t *fields; /* TABLE, ARRAY: owned */
    } u;
} brg_value_t;

/* One named value. Names are bytes (Kafka allows any), usually UTF-8. */
typedef struct brg_field {
    char *name; /* owned, NUL-terminated; NULL inside arrays */
    size_t name_len;
    bool name_borrowed; /* name lives in an envelope's arena (brg_envelope_add_header) */
    brg_value_t value;
} brg_field_t;

/* An ordered list of fields; duplicates are kept (Kafka allows repeated header names). */
struct brg_fields {
    brg_field_t *items;
    size_t count;
    size_t cap;
};

/* Constructors for values. Strings and bytes are copied. */
brg_value_t brg_value_null(void);
brg_value_t brg_value_bool(bool b);
brg_value_t brg_value_int(int64_t i, uint8_t width);
brg_value_t brg_value_uint(uint64_t u, uint8_t width);
brg_value_t brg_value_float(double f, uint8_t width);
brg_value_t brg_value_timestamp(int64_t ms);
brg_value_t brg_value_string(const char *s, size_t len);
brg_value_t brg_value_bytes(const void *p, size_t len);
brg_value_t brg_value_typed_bytes(brg_vtype_t type, const void *p, size_t len);
/* Takes ownership of fields (which may be NULL for an empty table). */
brg_value_t brg_value_table(brg_fields_t *fields);
brg_value_t brg_value_array(brg_fields_t *fields);

/* Free what a value owns (not the value struct itself; not borrowed bytes). */
void brg_value_fini(brg_value_t *v);
/* Deep copy (always owned, also of a borrowed value). */
brg_value_t brg_value_copy(const brg_value_t *v);
/* Deep equality, type and width included. */
bool brg_value_equal(const brg_value_t *a, const brg_value_t *b);
/* Returns: static name of the type ("string"). */
const char *brg_vtype_name(brg_vtype_t t);

brg_fields_t *brg_fields_new(void);
void brg_fields_destroy(brg_fields_t *f);
void brg_fields_init(brg_fields_t *f);
void brg_fields_fini(brg_fields_t *f);
/* Free every field but keep the item array's capacity (a recycled envelope's headers). */
void brg_fields_clear(brg_fields_t *f);
/* Append a field. Takes ownership of *value (the caller's copy is emptied); the name is copied.
 * name may be NULL (array element). */
void brg_fields_add(brg_fields_t *f, const char *name, size_t name_len, brg_value_t *value);
/* Returns: the first field with that name, or NULL. */
brg_field_t *brg_fields_get(const brg_fields_t *f, const char *name);
/* Remove every field with that name. Returns: how many were removed. */
size_t brg_fields_remove(brg_fields_t *f, const char *name);
void brg_fields_copy(brg_fields_t *dst, const brg_fields_t *src);
bool brg_fields_equal(const brg_fields_t *a, const brg_fields_t *b);

/* UTF-8 checks (brg_utf8_valid, brg_utf8_seq_len) live in bridge/utf8.h, included above. */

/* ---- the envelope ------------------------------------------------------------------------ */

/* Standard properties. Strings are owned and NULL when absent: on the heap, or in the envelope's
 * arena (brg_envelope_set_str); replace them only with brg_envelope_set_str, or brg_props_set on
 * an envelope whose strings were never set with brg_envelope_set_str. */
typedef struct brg_props {
    char *message_id;
    char *correlation_id;
    char *content_type;
    char *content_encoding;
    char *reply_to;
    char *subject; /* AMQP 1.0 subject; AMQP 0-9-1 "type" */
    char *user_id;
    char *app_id;
    char *group_id; /* AMQP 1.0 group-id (JMSXGroupID) */
    int priority;   /* 0..255, -1 if absent */
    int durable;    /* 1 persistent, 0 transient, -1 unknown (publish persistent) */
    int64_t ttl_ms; /* time to live in ms, -1 if absent */
    int64_t timestamp_ms;  /* creation time in ms since the epoch, -1 if absent */
    int timestamp_type;    /* Kafka: 0 none/unknown, 1 create time, 2 log-append time */
} brg_props_t;

/* Where the envelope came from. Strings are owned and NULL when absent (heap or arena, as the
 * properties), except endpoint when endpoint_borrowed is set. */
typedef struct brg_origin {
    const char *adapter;  /* static adapter name */
    /* Endpoint name. brg_source_submit points it at the source endpoint's own name (borrowed:
     * the endpoint outlives its messages, so no copy per message); a decoder that reads it
     * from the message (the file adapter's JSON) owns its copy and leaves the flag clear. */
    char *endpoint;
    bool endpoint_borrowed; /* endpoint is not freed with the envelope */
    char *stream;         /* Kafka topic, queue name or AMQP 1.0 address */
    /* The stream as read when the route's mapping renamed it (stream is then the new name),
     * else NULL: what a Kafka offset sync names as its source. */
    char *stream_read;
    int32_t partition;    /* Kafka partition, -1 otherwise */
    int64_t offset;       /* Kafka offset, -1 otherwise */
    uint64_t delivery_tag;/* AMQP 0-9-1 delivery tag, 0 otherwise */
    char *exchange;       /* AMQP 0-9-1 exchange published to */
    char *routing_key;    /* AMQP 0-9-1 routing key */
    bool redelivered;
    int64_t received_ns;  /* monotonic time the source received it (latency metrics) */
} brg_origin_t;

typedef struct brg_route brg_route_t;

typedef struct brg_envelope brg_envelope_t;

/* Called when the envelope's body is released, for zero-copy bodies (for example an
 * rd_kafka_message_t kept alive until settle). */
typedef void(brg_body_free_cb)(void *opaque);

struct brg_envelope {
    /* Body bytes, never re-encoded. body may point into borrowed memory (see
     * brg_envelope_set_body_ref). */
    const uint8_t *body;
    size_t body_len;
    uint8_t *key; /* owned; NULL when absent (distinct from an empty key) */
    size_t key_len;
    brg_fields_t headers;
    brg_props_t props;
    brg_origin_t origin;

    /* ---- source adapter's settle token: opaque to everyone else ---- */
    void *src_token;    /* e.g. an rd_kafka_message_t, a proton delivery */
    uint64_t src_seq;   /* e.g. a delivery tag or a per-partition sequence */
    uint64_t src_epoch; /* the source adapter's own value, opaque to the core: which connection,
                         * link or run the delivery came on, so that a settle from an old one
                         * is ignored (Kafka packs run, partition index and tracker epoch) */
    /* Set by a source that could not decode the message faithfully (a header table nested
     * too deep): the core does not deliver it but rejects it at once with this reason (the
     * route's dead letter gets what was decoded). Owned; see brg_envelope_set_reject_reason. */
    char *reject_reason;

    /* ---- core bookkeeping (bridge/route.c): adapters must not touch ---- */
    struct brg_delivery *dlv;

    /* private: storage kept when the envelope is recycled (brg_envelope_recycle) */
    uint8_t *body_owned; /* body_cap bytes; body points here unless it is borrowed */
    size_t body_cap;
    brg_body_free_cb *body_free;
    void *body_opaque;
    uint8_t *key_buf; /* key_cap bytes; key points here when set with brg_envelope_set_key */
    size_t key_cap;
    brg_arena_t arena; /* header names and values, property and origin strings */
    brg_envelope_t *next_free; /* link in the thread's free list */
};

/* Create an empty envelope (no body, no key, no headers, priority/ttl/timestamp absent).
 * It comes from the calling thread's free list when there is one there (a recycled envelope,
 * with the buffers of an earlier message: no allocation), else from the heap.
 * Ownership: the caller owns it until it hands it on. Thread: any. */
brg_envelope_t *brg_envelope_new(void);

/* Free the envelope and everything it owns. Accepts NULL.
 * Note: adapters never call this for an envelope that carries a delivery: they settle it
 * (bridge/adapter.h) and the core frees it. */
void brg_envelope_destroy(brg_envelope_t *env);

/* Release everything the envelope's message holds (body reference, strings, headers) and keep
 * it, with its buffers, on the calling thread's free list for the next brg_envelope_new there;
 * destroy it instead when the list is full (BRG_ENVELOPE_CACHE_MAX envelopes or
 * BRG_ENVELOPE_CACHE_BYTES of buffers) or its buffers are too large to keep. The core calls it
 * in brg_source_done, on the source's thread, which is where the source creates its next
 * envelopes. Accepts NULL. Thread: any (the list is per thread; freed when the thread exits). */
void brg_envelope_recycle(brg_envelope_t *env);
#define BRG_ENVELOPE_CACHE_MAX 131072
#define BRG_ENVELOPE_CACHE_BYTES (64u << 20)
/* Largest body, key or arena buffer a recycled envelope keeps (larger ones are freed). */
#define BRG_ENVELOPE_KEEP_BYTES (16u << 10)
/* Returns: how many envelopes the calling thread's free list holds (tests). */
size_t brg_envelope_cache_count(void);
/* Free the calling thread's free list now (tests; threads free theirs when they exit). */
void brg_envelope_cache_clear(void);

/* A writable body of len bytes in the envelope's own buffer (kept when recycled), followed by a
 * NUL byte. Returns: the buffer; env->body points at it. */
uint8_t *brg_envelope_body_buf(brg_envelope_t *env, size_t len);

/* Copy len bytes into the envelope as its body. */
void brg_envelope_set_body(brg_envelope_t *env, const void *data, size_t len);
/* Take ownership of a malloc'd buffer as the body. */
void brg_envelope_take_body(brg_envelope_t *env, uint8_t *data, size_t len);
/* Borrow data as the body without copying; free_cb(opaque) runs when the envelope no longer
 * needs it (destroy, or a later set_body). */
void brg_envelope_set_body_ref(brg_envelope_t *env, const void *data, size_t len,
                               brg_body_free_cb *free_cb, void *opaque);
/* Set (copy) the key, or clear it with data == NULL. An empty key is kept as present. */
void brg_envelope_set_key(brg_envelope_t *env, const void *data, size_t len);

/* Replace a property string (copies; NULL clears). */
void brg_props_set(char **slot, const char *value);

/* Strings, values and headers stored in the envelope's arena: no heap allocation once the
 * envelope has carried a message of that size. Valid as long as the envelope (until it is
 * destroyed or recycled): never keep such a pointer beyond it, copy it (brg_value_copy).
 * brg_envelope_strndup: a NUL-terminated copy of len bytes.
 * brg_envelope_set_str: replace *slot (a property or origin string of env: the old one is
 *   freed if it is on the heap) with an arena copy of len bytes of s, or clear it (s NULL).
 * brg_envelope_value: a value of a bytes type (STRING, BYTES, SYMBOL, UUID) in the arena.
 * brg_envelope_add_header: append a header whose name is copied into the arena; takes *value
 *   (emptied). */
char *brg_envelope_strndup(brg_envelope_t *env, const void *s, size_t len);
void brg_envelope_set_str(brg_envelope_t *env, char **slot, const char *s, size_t len);
brg_value_t brg_envelope_value(brg_envelope_t *env, brg_vtype_t type, const void *p, size_t len);
void brg_envelope_add_header(brg_envelope_t *env, const char *name, size_t name_len,
                             brg_value_t *value);
/* Free a property or origin string of env if it is on the heap (not in the arena). */
void brg_envelope_free_str(brg_envelope_t *env, char *s);

/* Deep copy of body, key, headers, properties and origin; the delivery is not copied.
 * Used for fan-out and dead letters. */
brg_envelope_t *brg_envelope_copy(const brg_envelope_t *env);

/* Total bytes the envelope accounts for in max_in_flight_bytes: body + key + headers. */
size_t brg_envelope_size(const brg_envelope_t *env);

/* Convenience: add a string/bytes header (copies name and value into the arena). */
void brg_envelope_add_header_str(brg_envelope_t *env, const char *name, const char *value);
void brg_envelope_add_header_bytes(brg_envelope_t *env, const char *name, const void *value,
                                   size_t len);

/* Mark an envelope as not decoded faithfully (see brg_envelope_t.reject_reason); the first
 * reason wins. Thread: the source endpoint's thread. */
void brg_envelope_set_reject_reason(brg_envelope_t *env, const char *reason);

#endif
