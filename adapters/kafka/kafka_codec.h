/* Kafka record <-> envelope (DESIGN.md section 4; the encoding is documented in docs/kafka.md).
 *
 * Decode: value -> body (borrowed from the rd_kafka_message_t when a free callback is given:
 * zero copy), key -> key (absent stays absent, empty stays empty), headers -> headers in order
 * with duplicates kept, typed as the record's x-msgbridge-types hint says (kafka_types.h);
 * unlisted ones are BYTES (STRING for msgbridge's own "x-msgbridge-*"), a null header value
 * is a NULL value; record timestamp and type -> props.timestamp_ms / timestamp_type,
 * topic/partition/offset -> origin. Reserved "x-msgbridge-*" property headers (message id,
 * content type, ...) become envelope properties again, so that a message that crossed
 * AMQP -> Kafka -> AMQP keeps them. The hint itself is not kept.
 *
 * Encode: envelope properties -> reserved headers first, then the type hint if any header
 * needs one, then every envelope header in order; header values become bytes: BYTES, STRING
 * and SYMBOL raw, NULL as a null header value, other types as text (brg_kafka_value_bytes).
 *
 * Thread: any; no state. */
#ifndef BRG_KAFKA_CODEC_H
#define BRG_KAFKA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "adapters/kafka/kafka_types.h"
#include "bridge/envelope.h"

/* A consumed record as the codec reads it: a view, nothing is owned. */
typedef struct brg_kafka_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: null value (a tombstone) */
    size_t value_len;
    const rd_kafka_headers_t *headers; /* NULL: none */
    int64_t timestamp;                 /* ms since the epoch, -1 if not available */
    rd_kafka_timestamp_type_t tstype;
} brg_kafka_record_t;

/* Fill rec from a consumed message (no copies: rec points into rkm).
 * Thread: the thread that owns rkm. */
void brg_kafka_record_from_message(brg_kafka_record_t *rec, const rd_kafka_message_t *rkm);

/* Build an envelope from a record. If body_free is set the body borrows rec->value and
 * body_free(opaque) runs when the envelope releases it (pass the rd_kafka_message_t); if NULL
 * the value is copied.
 * Ownership: the caller owns the returned envelope. Returns: never NULL. */
brg_envelope_t *brg_kafka_decode(const brg_kafka_record_t *rec, brg_body_free_cb *body_free,
                                 void *opaque);

/* Build the Kafka headers for an envelope: reserved property headers, the type hint, then
 * env->headers.
 * Returns: a new header list, or NULL if there is nothing to write.
 * Ownership: the caller owns it (rd_kafka_producev takes it over on success). */
rd_kafka_headers_t *brg_kafka_encode_headers(const brg_envelope_t *env);

/* Names of the reserved headers that carry envelope properties. */
#define BRG_KAFKA_H_MESSAGE_ID "x-msgbridge-message-id"
#define BRG_KAFKA_H_CORRELATION_ID "x-msgbridge-correlation-id"
#define BRG_KAFKA_H_CONTENT_TYPE "x-msgbridge-content-type"
#define BRG_KAFKA_H_CONTENT_ENCODING "x-msgbridge-content-encoding"
#define BRG_KAFKA_H_REPLY_TO "x-msgbridge-reply-to"
#define BRG_KAFKA_H_SUBJECT "x-msgbridge-subject"
#define BRG_KAFKA_H_USER_ID "x-msgbridge-user-id"
#define BRG_KAFKA_H_APP_ID "x-msgbridge-app-id"
#define BRG_KAFKA_H_GROUP_ID "x-msgbridge-group-id"
#define BRG_KAFKA_H_PRIORITY "x-msgbridge-priority"
#define BRG_KAFKA_H_DURABLE "x-msgbridge-durable"
#define BRG_KAFKA_H_TTL_MS "x-msgbridge-ttl-ms"

#endif
