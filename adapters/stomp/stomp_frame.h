/* STOMP 1.2 frames: an incremental parser and an encoder (https://stomp.github.io/stomp-specification-1.2.html).
 *
 * Pure code (no I/O): the connection feeds the bytes it read and gets frames back. A frame is
 *   COMMAND EOL (NAME ":" VALUE EOL)* EOL BODY NUL (EOL)*      EOL = LF or CR LF
 * The body is exactly content-length bytes when that header is present (so NUL bytes survive),
 * else everything up to the first NUL. A lone EOL between frames is a heart-beat. Header names
 * and values are unescaped (\n \r \c \\) except in CONNECT and CONNECTED frames, as the
 * specification says; any other backslash sequence is an error. Repeated headers are kept in
 * order; brg_stomp_get() returns the first (the one that counts in STOMP 1.2).
 *
 * Thread: any; a parser or a buffer is used by one thread at a time. */
#ifndef BRG_STOMP_FRAME_H
#define BRG_STOMP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/err.h"

typedef struct brg_stomp_header {
    char *name; /* owned, unescaped, NUL-terminated (may hold NUL bytes: use name_len) */
    size_t name_len;
    char *value; /* owned, unescaped, NUL-terminated */
    size_t value_len;
} brg_stomp_header_t;

typedef struct brg_stomp_frame {
    char command[32];
    brg_stomp_header_t *headers;
    size_t nheaders, cap;
    uint8_t *body; /* owned; NUL-terminated (not counted in body_len); NULL when empty */
    size_t body_len;
} brg_stomp_frame_t;

void brg_stomp_frame_init(brg_stomp_frame_t *f);
/* Free what the frame owns and empty it (it can be reused). */
void brg_stomp_frame_fini(brg_stomp_frame_t *f);
/* Returns: the value of the first header of that name, or NULL. *len (if not NULL) its length. */
const char *brg_stomp_get(const brg_stomp_frame_t *f, const char *name, size_t *len);

typedef enum brg_stomp_parse_rc {
    BRG_STOMP_NEED_MORE = 0, /* no complete frame yet: read more and call again */
    BRG_STOMP_FRAME,         /* *f holds a frame */
    BRG_STOMP_HEARTBEAT,     /* a lone EOL was consumed */
    BRG_STOMP_BAD,           /* malformed or too large: errstr says why; the stream is lost */
} brg_stomp_parse_rc_t;

/* Parse one frame or heart-beat from data[0..len). *consumed gets the bytes used (0 for
 * NEED_MORE and BAD). A frame whose bytes (headers and body) exceed max_frame is BAD as soon as
 * that is known, even before it is complete. f must be empty (brg_stomp_frame_init/fini).
 * Ownership: f owns what is set in it, also for BAD (the caller finis it). */
brg_stomp_parse_rc_t brg_stomp_parse(const uint8_t *data, size_t len, size_t max_frame,
                                     brg_stomp_frame_t *f, size_t *consumed, char *errstr,
                                     size_t errstr_size);

/* A growable output buffer. */
typedef struct brg_stomp_buf {
    uint8_t *p;
    size_t len, cap;
} brg_stomp_buf_t;

void brg_stomp_buf_append(brg_stomp_buf_t *b, const void *data, size_t len);
/* Drop the first n bytes (they were written). */
void brg_stomp_buf_consume(brg_stomp_buf_t *b, size_t n);
void brg_stomp_buf_free(brg_stomp_buf_t *b);

/* Frame encoding: begin with the command, add headers (escaped unless escape is false, for
 * CONNECT), end with the body: content-length is always written, then the body and NUL. */
void brg_stomp_enc_begin(brg_stomp_buf_t *b, const char *command);
void brg_stomp_enc_header(brg_stomp_buf_t *b, const char *name, size_t name_len,
                          const char *value, size_t value_len, bool escape);
/* Convenience for NUL-terminated name and value, escaped. */
void brg_stomp_enc_hdr(brg_stomp_buf_t *b, const char *name, const char *value);
void brg_stomp_enc_end(brg_stomp_buf_t *b, const void *body, size_t body_len);

#endif
