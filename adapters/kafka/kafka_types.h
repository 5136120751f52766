/* Typed header values through Kafka (the encoding is documented in docs/kafka.md, "Header
 * types", and summarized in docs/mapping.md).
 *
 * Kafka header values are plain bytes. A typed envelope header (an AMQP 0-9-1 long, an AMQP
 * 1.0 timestamp, a nested table such as x-death) is written as readable text, and its type is
 * listed in one reserved header, BRG_KAFKA_H_TYPES, so that a Kafka source restores it:
 *
 *   x-msgbridge-types: seq=long,flag=boolean,x-death=list(map(long,string,timestamp)),...
 *
 * One "NAME=TYPE" entry per listed header, in header order, comma-separated; in NAME the bytes
 * '%' ',' '=' and control characters are percent-encoded (%2C). The k-th entry for a NAME
 * types the k-th header of that name written after the hint header. TYPE is an AMQP type name
 * (the vocabulary of the AMQP 1.0 adapter's x-msgbridge-amqp-types) or a nested signature:
 *
 *   string symbol binary boolean byte short int long ubyte ushort uint ulong float double
 *   decimal timestamp uuid null map(TYPE,...) list(TYPE,...)
 *
 * map() and list() list their members' types in order; the value is JSON text
 * (brg_kafka_value_bytes). In a record with a hint, unlisted headers are strings (bytes are
 * listed as binary): typed sources' headers are mostly text, which then costs nothing. In a
 * record without one they are bytes (what plain Kafka producers write), except names starting
 * with "x-msgbridge-" (msgbridge's own headers, always text). A null header value is a null
 * value.
 *
 * Thread: any; no state. */
#ifndef BRG_KAFKA_TYPES_H
#define BRG_KAFKA_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/envelope.h"

/* The header listing the types of the typed headers (see above). */
#define BRG_KAFKA_H_TYPES "x-msgbridge-types"
/* The AMQP 1.0 adapter's older hint (adapters/amqp1/amqp1_codec.h, BRG_AMQP1_TYPES_PROP): the
 * same "NAME=TYPE" list, scalar types only, applying to headers anywhere in the record. Read
 * when a record has no BRG_KAFKA_H_TYPES. */
#define BRG_KAFKA_H_AMQP_TYPES "x-msgbridge-amqp-types"
/* The prefix of msgbridge's own headers: unlisted ones read back as strings. */
#define BRG_KAFKA_OWN_PREFIX "x-msgbridge-"
/* Nesting limit for map()/list() in a hint: deeper input is refused (the header stays bytes). */
#define BRG_KAFKA_MAX_DEPTH 32

/* The bytes a header value is written as: BYTES, STRING and SYMBOL raw; booleans
 * "true"/"false"; integers and timestamps (ms) in decimal; floats in the shortest text that
 * reads back as the same value ("nan", "inf", "-inf" too); decimals as their exact decimal
 * text (scale kept: "1.50"); uuids 8-4-4-4-12; tables and arrays as JSON, strings inside as
 * JSON strings where bytes that are not UTF-8 are written \u0080-\u00ff (one byte each).
 * NULL values: returns NULL with *len 0 (a null header value).
 * Ownership: the caller frees the result (NUL-terminated, the NUL not counted in *len). */
uint8_t *brg_kafka_value_bytes(const brg_value_t *v, size_t *len);

/* Whether a record needs a hint for this header: its value would not read back right without
 * one (any type but bytes and null; a string unless its name starts with "x-msgbridge-"). */
bool brg_kafka_type_needs_hint(const char *name, size_t name_len, const brg_value_t *v);

/* Whether a header is listed in a record that has a hint (where unlisted headers read back
 * as strings): everything but strings and null values. */
bool brg_kafka_type_listed(const brg_value_t *v);

/* A growable text buffer for the hint. */
typedef struct brg_kafka_hint_buf {
    char *p; /* NUL-terminated; owned */
    size_t len, cap;
} brg_kafka_hint_buf_t;

/* Append the entry "NAME=TYPE" for a header (a ',' first unless the buffer is empty).
 * Thread: any. */
void brg_kafka_hint_add(brg_kafka_hint_buf_t *b, const char *name, size_t name_len,
                        const brg_value_t *v);

/* A parsed hint: entries point into the header value, which must outlive it. */
typedef struct brg_kafka_hint_entry {
    const char *name; /* percent-encoded */
    size_t name_len;
    const char *type;
    size_t type_len;
    bool used;
} brg_kafka_hint_entry_t;

typedef struct brg_kafka_hint {
    brg_kafka_hint_entry_t *entries;
    size_t count;
    brg_kafka_hint_entry_t small[16]; /* no allocation for short hints */
} brg_kafka_hint_t;

/* Parse a hint header value. Returns: false if it is not a well-formed list (h is then empty
 * and needs no fini). Ownership: h borrows text. */
bool brg_kafka_hint_parse(brg_kafka_hint_t *h, const void *text, size_t len);
void brg_kafka_hint_fini(brg_kafka_hint_t *h);

/* The type of the next header named name: the first unused entry for that name, marked used.
 * Returns: false if there is none. */
bool brg_kafka_hint_take(brg_kafka_hint_t *h, const char *name, size_t name_len,
                         const char **type, size_t *type_len);

/* Read a header value (val, len; NULL for a null value) as the given TYPE.
 * Returns: false if it is not a value of that type (*out untouched); else *out is the caller's. */
bool brg_kafka_value_parse(const char *type, size_t type_len, const void *val, size_t len,
                           brg_value_t *out);

#endif
