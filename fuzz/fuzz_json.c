/* libFuzzer target: the NDJSON envelope codec (adapters/file/json_codec.c).
 *
 * Decode the input as one line. A line that decodes must round-trip: encode it, decode that,
 * and the second envelope equals the first (body, key present/absent and bytes, typed
 * headers, properties), and encoding it again gives the same bytes (the encoding is
 * canonical). A line that does not decode must leave *envp NULL and say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/file/json_codec.h"
#include "bridge/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool props_eq(const brg_props_t *a, const brg_props_t *b)
{
    return str_eq(a->message_id, b->message_id) && str_eq(a->correlation_id, b->correlation_id) &&
           str_eq(a->content_type, b->content_type) &&
           str_eq(a->content_encoding, b->content_encoding) && str_eq(a->reply_to, b->reply_to) &&
           str_eq(a->subject, b->subject) && str_eq(a->user_id, b->user_id) &&
           str_eq(a->app_id, b->app_id) && str_eq(a->group_id, b->group_id) &&
           a->priority == b->priority && a->durable == b->durable && a->ttl_ms == b->ttl_ms &&
           a->timestamp_ms == b->timestamp_ms && a->timestamp_type == b->timestamp_type;
}

static bool envelope_eq(const brg_envelope_t *a, const brg_envelope_t *b)
{
    return a->body_len == b->body_len &&
           (a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0) &&
           (a->key == NULL) == (b->key == NULL) && a->key_len == b->key_len &&
           (a->key_len == 0 || memcmp(a->key, b->key, a->key_len) == 0) &&
           brg_fields_equal(&a->headers, &b->headers) && props_eq(&a->props, &b->props) &&
           str_eq(a->origin.endpoint, b->origin.endpoint) &&
           str_eq(a->origin.stream, b->origin.stream) &&
           a->origin.partition == b->origin.partition && a->origin.offset == b->origin.offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    brg_envelope_t *env = (brg_envelope_t *)&env; /* must come back NULL on failure */
    char errstr[512];
    errstr[0] = 0;
    if (brg_json_decode((const char *)data, size, &env, errstr, sizeof(errstr)) != BRG_OK) {
        if (env != NULL || errstr[0] == 0) {
            abort();
        }
        return 0;
    }
    size_t len1 = 0, len2 = 0;
    char *line1 = brg_json_encode(env, &len1);
    brg_envelope_t *back = NULL;
    if (brg_json_decode(line1, len1, &back, errstr, sizeof(errstr)) != BRG_OK) {
        abort(); /* the codec cannot read its own output */
    }
    if (!envelope_eq(env, back)) {
        abort();
    }
    char *line2 = brg_json_encode(back, &len2);
    if (len1 != len2 || memcmp(line1, line2, len1) != 0) {
        abort(); /* not canonical */
    }
    free(line1);
    free(line2);
    brg_envelope_destroy(back);
    brg_envelope_destroy(env);
    return 0;
}
