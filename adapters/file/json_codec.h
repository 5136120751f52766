/* The JSON form of an envelope: one JSON object per line (NDJSON), documented in
 * docs/envelope-json.md.
 *
 * The encoding is canonical: members in a fixed order, compact, absent things left out. So
 * decoding a line and encoding the result gives back the same bytes whenever the line was
 * itself canonical, and any envelope survives encode -> decode unchanged (every value type and
 * width, binary and non-UTF-8 bodies, keys, names and values, absent vs empty key).
 * The decoder is strict: anything it does not understand is an error that says where, and the
 * caller's state is untouched. */
#ifndef BRG_FILE_JSON_CODEC_H
#define BRG_FILE_JSON_CODEC_H

#include <stddef.h>

#include "bridge/envelope.h"
#include "bridge/err.h"

/* Tables and arrays nested deeper than this are refused by the decoder (the deepest real
 * AMQP header table seen is a few levels; this bounds the recursion). */
#define BRG_JSON_MAX_DEPTH 64

/* A growable output buffer. Zero-initialize it; free data when done. */
typedef struct brg_jbuf {
    char *data;
    size_t len;
    size_t cap;
} brg_jbuf_t;

/* Append the JSON object for env and a '\n' to out.
 * Ownership: env is only read. Thread: any (no shared state).
 * Never fails (aborts on out-of-memory). */
void brg_json_encode_append(const brg_envelope_t *env, brg_jbuf_t *out);

/* Encode env as one JSON object without the newline.
 * Ownership: returns a malloc'd NUL-terminated string the caller frees; *len_out (if not NULL)
 * gets its length. Thread: any. */
char *brg_json_encode(const brg_envelope_t *env, size_t *len_out);

/* Decode one line (len bytes; a trailing '\n' or "\r\n" is allowed) into a new envelope.
 * Origin fields are decoded too (origin.adapter only when it names a known adapter: it is a
 * static string). Nothing about delivery is set.
 * Ownership: on success *envp is a new envelope the caller owns; on failure *envp is NULL.
 * Thread: any.
 * Returns: BRG_OK, or BRG_ERR_INVALID with errstr saying what and where, e.g.
 *   "invalid JSON at column 17: unexpected token near '}'"
 *   "headers[2].value: expected an integer for type \"int\", got a string". */
brg_err_t brg_json_decode(const char *line, size_t len, brg_envelope_t **envp, char *errstr,
                          size_t errstr_size);

#endif
