/* AMQP 1.0 message <-> envelope (DESIGN.md section 4; docs/amqp1.md "Mapping").
 *
 * Pure translation between a proton pn_message_t and a brg_envelope_t: no links, no I/O.
 * The body travels as one data section; an amqp-value string or binary is accepted on receive.
 * Application properties are typed values both ways; what has no AMQP home travels in
 * reserved application properties (the names below). */
#ifndef BRG_AMQP1_CODEC_H
#define BRG_AMQP1_CODEC_H

#include <stddef.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "bridge/envelope.h"
#include "bridge/err.h"

/* The envelope key, which AMQP 1.0 has no field for: sent as a string when it is valid UTF-8,
 * else as binary; either is read back as the key's bytes. */
#define BRG_AMQP1_KEY_PROP "x-msgbridge-key"
/* The envelope's app id (string), which AMQP 1.0 has no field for. */
#define BRG_AMQP1_APP_ID_PROP "x-msgbridge-app-id"
/* A body that was not a data section: "string" (an amqp-value string; the body holds its
 * UTF-8 text) or "value" (any other amqp-value; the body holds its AMQP encoding). Absent for
 * data sections and amqp-value binaries. The sink restores the original body section. */
#define BRG_AMQP1_BODY_PROP "x-msgbridge-amqp-body"
/* Message annotations that the adapter does not consume travel as headers named with this
 * prefix followed by the annotation key ("x-msgbridge-ma-x-opt-enqueued-time"); the sink
 * turns such headers back into message annotations. */
#define BRG_AMQP1_MA_PREFIX "x-msgbridge-ma-"

/* A list of "NAME=TYPE" entries, ',' '=' '%' and control characters in NAME percent-encoded
 * (%2C), with two uses:
 * - In an AMQP 1.0 message (an application property, written by the sink): the application
 *   properties whose value was bytes in the envelope but is sent as an AMQP string because it
 *   is valid UTF-8 (JMS consumers read binary properties as escaped text), all of TYPE
 *   "binary". The source turns those back into bytes and drops the property, so that a Kafka
 *   record (whose header values are bytes) crosses AMQP 1.0 and comes back byte for byte.
 * - As an envelope header (older msgbridge AMQP 1.0 sources wrote it into Kafka records):
 *   types are AMQP type names (ulong, byte, float, timestamp, uuid, string, symbol, boolean,
 *   null, ...); the sink turns header values that arrive as bytes or text back into the
 *   listed type and does not forward that header. */
#define BRG_AMQP1_TYPES_PROP "x-msgbridge-amqp-types"

/* A growing text buffer for the BRG_AMQP1_TYPES_PROP list the sink writes; no allocation
 * while it fits in small. */
typedef struct brg_amqp1_hint_buf {
    char *p; /* NUL-terminated; small or owned */
    size_t len, cap;
    char small[256];
} brg_amqp1_hint_buf_t;

/* brg_amqp1_hint_buf_init: an empty buffer. brg_amqp1_hint_buf_fini: frees and empties it.
 * brg_amqp1_hint_add_binary: appends "NAME=binary" (a ',' first unless empty), NAME
 * percent-encoded as above. Thread: any (one buffer per caller). */
void brg_amqp1_hint_buf_init(brg_amqp1_hint_buf_t *b);
void brg_amqp1_hint_buf_fini(brg_amqp1_hint_buf_t *b);
void brg_amqp1_hint_add_binary(brg_amqp1_hint_buf_t *b, const char *name, size_t name_len);

/* Application-property keys are unique, header names are not (Kafka repeats them). When an
 * envelope repeats a header name, the sink writes every header, in order, into this property
 * as a list [name, value, name, value, ...] (values in their types); the map keeps the first
 * value of each name for ordinary consumers. The source rebuilds the headers from the list. */
#define BRG_AMQP1_HEADERS_PROP "x-msgbridge-headers"

/* A message annotation (ubyte) saying the priority is an explicit 4, which the header section
 * cannot tell from an absent priority. */
#define BRG_AMQP1_PRIORITY_MA "x-msgbridge-priority"

/* Nesting limit for maps and lists in properties and annotations: deeper input is malformed. */
#define BRG_AMQP1_MAX_DEPTH 32

/* How the sink wants the message addressed. */
typedef struct brg_amqp1_encode_opts {
    const char *address; /* properties.to; NULL to leave it unset */
    int jms_dest;        /* x-opt-jms-dest: 0 queue, 1 topic, -1 do not set */
} brg_amqp1_encode_opts_t;

/* Decode the encoded message bytes (a complete delivery) into env: body, properties section,
 * header section, application properties (typed) as headers, message annotations.
 * msg is scratch space (cleared here) so that callers can reuse one per connection.
 * Ownership: env stays the caller's; everything put into it is owned by env.
 * Thread: any (msg must not be shared).
 * Returns: BRG_OK, or BRG_ERR_INVALID with errstr set for malformed input; env may then hold
 * part of the message and must be destroyed by the caller. */
brg_err_t brg_amqp1_decode(pn_message_t *msg, const char *bytes, size_t len,
                           brg_envelope_t *env, char *errstr, size_t errstr_size);

/* Fill msg (cleared first) from env: the body as one data section (or the section recorded in
 * BRG_AMQP1_BODY_PROP), properties, header (durable unless env says transient), application
 * properties, message annotations including the JMS ones (x-opt-jms-msg-type, x-opt-jms-dest).
 * Ownership: msg is the caller's; env is only read. Thread: any.
 * Returns: BRG_OK, or BRG_ERR_INVALID with errstr set (a body recorded as an encoded
 * amqp-value that does not decode). */
brg_err_t brg_amqp1_encode(pn_message_t *msg, const brg_envelope_t *env,
                           const brg_amqp1_encode_opts_t *opts, char *errstr,
                           size_t errstr_size);

/* Read the value at data's current node into *out (maps -> TABLE, lists and arrays -> ARRAY,
 * described values lose their descriptor, char -> STRING, decimal32/64/128 -> BYTES).
 * Ownership: *out is the caller's. Thread: any.
 * Returns: BRG_OK, or BRG_ERR_INVALID (nesting deeper than BRG_AMQP1_MAX_DEPTH). */
brg_err_t brg_amqp1_value_get(pn_data_t *data, brg_value_t *out, int depth, char *errstr,
                              size_t errstr_size);

/* Append v to data in its AMQP type (INT/UINT by width, FLOAT 32 -> float, 64 -> double,
 * TABLE -> map with string keys, ARRAY -> list, DECIMAL -> its decimal text as a string).
 * Thread: any. */
void brg_amqp1_value_put(pn_data_t *data, const brg_value_t *v);

#endif
