/* AMQP 0-9-1 message <-> envelope: basic properties and the typed headers table.
 *
 * Pure conversion code (no I/O, no connection): the only place in the adapter that knows the
 * mapping written out in docs/rabbitmq.md. Every AMQP field type keeps its type and width in
 * the envelope (brg_value_t type + width), nested tables and arrays included (x-death), so a
 * message that leaves RabbitMQ and comes back is the same message.
 *
 * Fields without an AMQP 0-9-1 home travel in reserved headers, removed again on receive:
 *   x-msgbridge-key           bytes ('x')  the envelope key (Kafka record key)
 *   x-msgbridge-timestamp-ms  long ('l')   the timestamp in ms, only when it has a sub-second
 *                                          part (the timestamp property holds seconds)
 *   x-msgbridge-group-id      string ('S') AMQP 1.0 group-id
 *   x-msgbridge-user-id       string ('S') a user id that is not the connection's user (the
 *                                          broker refuses to relay a user_id it did not see
 *                                          authenticated) */
#ifndef BRG_RMQ_CODEC_H
#define BRG_RMQ_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "bridge/envelope.h"

#define BRG_RMQ_HDR_KEY "x-msgbridge-key"
#define BRG_RMQ_HDR_TIMESTAMP_MS "x-msgbridge-timestamp-ms"
#define BRG_RMQ_HDR_GROUP_ID "x-msgbridge-group-id"
#define BRG_RMQ_HDR_USER_ID "x-msgbridge-user-id"

/* Nesting deeper than this (tables in arrays in tables...) is refused: recursion on input from
 * the network stays bounded. x-death needs 3. */
#define BRG_RMQ_MAX_DEPTH 32

/* Append the entries of an AMQP table to out, each value in its own type and width:
 * t bool, b/s/I/l int 8/16/32/64, B/u/i/L uint 8/16/32/64, f/d float 32/64, D decimal,
 * T timestamp (seconds -> ms), S string, x bytes, F table, A array, V null.
 * Ownership: out keeps what is appended, also on error (the entries before the bad one).
 * Thread: any. Returns: BRG_OK, or BRG_ERR_INVALID for a table rabbitmq-c could not have
 * decoded (negative count, missing entries, unknown type) or nesting deeper than
 * BRG_RMQ_MAX_DEPTH, with errstr naming the header. */
brg_err_t brg_rmq_table_to_fields(const amqp_table_t *t, brg_fields_t *out, char *errstr,
                                  size_t errstr_size);

/* Told about each thing the AMQP 0-9-1 form cannot carry exactly; field is one of a few
 * fixed names (metric labels): "header.type" (a symbol or uuid, or an integer that does not
 * fit its width), "header.timestamp" (a timestamp header with a sub-second part or before
 * 1970), "priority" (above 255), "timestamp" (before 1970).
 * Returns: true to refuse the message (strict mapping), false to go on with the loss. */
typedef bool brg_rmq_loss_fn(void *ctx, const char *field);

/* Build an AMQP table from fields; the inverse of brg_rmq_table_to_fields. Entry arrays are
 * allocated in pool; strings and bytes point into f (which must outlive the table's use).
 * Symbols are written as strings, UUIDs as 16 bytes, names of array elements are dropped.
 * Ownership: the table lives in pool. Thread: any.
 * Returns: BRG_OK, or BRG_ERR_INVALID when a name is longer than 255 bytes or nesting is
 * deeper than BRG_RMQ_MAX_DEPTH (errstr names the header). */
brg_err_t brg_rmq_fields_to_table(const brg_fields_t *f, amqp_pool_t *pool, amqp_table_t *out,
                                  char *errstr, size_t errstr_size);

/* Returns: the size in bytes of the table's wire encoding (its 4-byte length included). */
size_t brg_rmq_table_wire_size(const amqp_table_t *t);

/* Fill env's properties, headers and key from a message's basic properties, removing the
 * reserved headers above. Ownership: env keeps what was set, also on error.
 * Thread: any. Returns: BRG_OK, or an error from brg_rmq_table_to_fields (the headers before
 * the bad one are kept, every property is set). */
brg_err_t brg_rmq_props_to_envelope(const amqp_basic_properties_t *p, brg_envelope_t *env,
                                    char *errstr, size_t errstr_size);

/* Fill *p from env: properties, headers (typed), and the reserved headers for what has no
 * AMQP property. Delivery mode is 2 (persistent) unless env says durable = 0. A user id that
 * differs from login_user (may be NULL) moves to x-msgbridge-user-id.
 * Ownership: *p points into env and pool; use it before either changes. Thread: any.
 * *wire_size (if not NULL) gets the size of the encoded content header payload, to check it
 * against the frame size before publishing.
 * Returns: BRG_OK, or BRG_ERR_INVALID when env cannot be expressed in AMQP 0-9-1 (a property
 * longer than 255 bytes, a header name longer than 255 bytes, nesting too deep). */
brg_err_t brg_rmq_envelope_to_props(const brg_envelope_t *env, const char *login_user,
                                    amqp_pool_t *pool, amqp_basic_properties_t *p,
                                    size_t *wire_size, char *errstr, size_t errstr_size);

/* brg_rmq_envelope_to_props, reporting each loss to loss (see brg_rmq_loss_fn); a loss it
 * refuses makes the call fail with BRG_ERR_INVALID and errstr naming the header or property. */
brg_err_t brg_rmq_envelope_to_props_checked(const brg_envelope_t *env, const char *login_user,
                                            amqp_pool_t *pool, amqp_basic_properties_t *p,
                                            size_t *wire_size, brg_rmq_loss_fn *loss,
                                            void *loss_ctx, char *errstr, size_t errstr_size);

#endif
