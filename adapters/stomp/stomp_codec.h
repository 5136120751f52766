/* STOMP MESSAGE frame -> envelope and envelope -> SEND frame (the mapping of docs/mapping.md,
 * "STOMP", and docs/activemq.md).
 *
 * STOMP headers are UTF-8 strings. Properties travel in the headers ActiveMQ, Artemis and
 * RabbitMQ know: content-type, correlation-id, reply-to, expires (absolute ms; the envelope's
 * ttl), priority, persistent, timestamp, type (subject), JMSXGroupID (group id); the message id
 * in x-msgbridge-message-id (brokers assign their own message-id on SEND; a received message
 * without it takes the broker's message-id). Other envelope fields use reserved headers,
 * removed again on receive: x-msgbridge-key (the key), x-msgbridge-user-id, -app-id,
 * -content-encoding, -group-id (as well as JMSXGroupID, which ActiveMQ does not give back to
 * STOMP consumers), x-msgbridge-absent (properties the envelope did not have). Other headers are string headers; a typed one (an AMQP long, a Kafka
 * header of bytes) is written as text and listed in x-msgbridge-types, exactly as the Kafka
 * adapter does (adapters/kafka/kafka_types.h), and a value that is not UTF-8 text (or holds a
 * NUL) is written in base64 and listed in x-msgbridge-base64 (same "NAME=binary" syntax).
 *
 * Thread: any; no state. */
#ifndef BRG_STOMP_CODEC_H
#define BRG_STOMP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/stomp/stomp_frame.h"
#include "bridge/envelope.h"

#define BRG_STOMP_H_KEY "x-msgbridge-key"
#define BRG_STOMP_H_TYPES "x-msgbridge-types"
#define BRG_STOMP_H_BASE64 "x-msgbridge-base64"
#define BRG_STOMP_H_MESSAGE_ID "x-msgbridge-message-id"
#define BRG_STOMP_H_USER_ID "x-msgbridge-user-id"
#define BRG_STOMP_H_APP_ID "x-msgbridge-app-id"
#define BRG_STOMP_H_CONTENT_ENCODING "x-msgbridge-content-encoding"
#define BRG_STOMP_H_GROUP_ID "x-msgbridge-group-id"
/* The properties the envelope did not have, comma-separated ("priority,message-id,timestamp,
 * persistent"): a broker fills in its defaults (ActiveMQ: priority 4, its own message-id and
 * timestamp, persistent), which the source then ignores, so round trips stay exact. */
#define BRG_STOMP_H_ABSENT "x-msgbridge-absent"
/* The envelope headers' wire names in order, comma-separated (',' and '%' as %2C, %25): ActiveMQ
 * keeps neither header order nor repeated names, so the k-th occurrence (k > 1) of a name goes
 * as x-msgbridge-dup-K-NAME and the source restores names and order. */
#define BRG_STOMP_H_ORDER "x-msgbridge-order"
/* The TTL as it was (expires is absolute: a round trip would lose the milliseconds spent). */
#define BRG_STOMP_H_TTL_MS "x-msgbridge-ttl-ms"

/* Fill env from a MESSAGE frame: body (exact bytes), key, properties, headers; the destination
 * goes to origin.stream, redelivered:true to origin.redelivered. now_ms turns expires into a
 * ttl. Ownership: env keeps what was set. Returns: BRG_OK, or BRG_ERR_INVALID when a reserved
 * header is malformed (a bad base64 value): errstr says which; the rest is decoded. */
brg_err_t brg_stomp_decode(const brg_stomp_frame_t *f, brg_envelope_t *env, int64_t now_ms,
                           char *errstr, size_t errstr_size);

/* Told about each thing the STOMP form cannot carry exactly: field is "header.name" (a header
 * name that is not UTF-8, holds a NUL, or is a STOMP frame header such as destination),
 * "priority" (above 9). Returns: true to refuse the message (strict mapping). */
typedef bool brg_stomp_loss_fn(void *ctx, const char *field);

typedef struct brg_stomp_encode_opts {
    const char *destination;
    const char *receipt; /* NULL: no receipt header */
    bool persistent;     /* the default when the envelope does not say (durable -1) */
    int64_t now_ms;      /* for expires */
    brg_stomp_loss_fn *loss;
    void *loss_ctx;
} brg_stomp_encode_opts_t;

/* Append a SEND frame for env to b. Returns: BRG_OK, or BRG_ERR_INVALID when loss() asked to
 * refuse (errstr names the field); b is then unchanged. */
brg_err_t brg_stomp_encode(brg_stomp_buf_t *b, const brg_envelope_t *env,
                           const brg_stomp_encode_opts_t *o, char *errstr, size_t errstr_size);

#endif
