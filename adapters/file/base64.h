/* Standard base64 (RFC 4648 section 4, with padding) for binary bodies, keys and header values
 * in the JSON envelope. The decoder is strict so that decoding then encoding gives back the
 * same text: no whitespace, no missing padding, no non-zero padding bits. */
#ifndef BRG_FILE_BASE64_H
#define BRG_FILE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encode len bytes.
 * Ownership: returns a malloc'd NUL-terminated string the caller frees; *out_len (if not NULL)
 * gets its length. Thread: any. Returns: never NULL (aborts on out-of-memory). */
char *brg_b64_encode(const void *data, size_t len, size_t *out_len);

/* Decode text of length len.
 * Ownership: on success *out is a malloc'd buffer of *out_len bytes followed by a NUL byte
 * (not counted), which the caller frees; on failure *out is NULL.
 * Thread: any. Returns: true, or false with why set ("length 5 is not a multiple of 4",
 * "invalid character '*' at offset 7", ...). */
bool brg_b64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len, char *why,
                    size_t why_size);

#endif
