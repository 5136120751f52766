/* UTF-8 (RFC 3629) validation, encoding and decoding, and the hex digit reader that percent
 * decoding and JSON \u escapes share. Bottom layer: uses nothing of ours. */
#ifndef BRG_UTF8_H
#define BRG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns: the length (1-4) of the well-formed UTF-8 sequence at s (no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 if s[0..avail) does not start with one (also when
 * avail is 0). Thread: any. */
size_t brg_utf8_seq_len(const unsigned char *s, size_t avail);
/* Returns: true if all of s[0..len) is well-formed UTF-8. Thread: any. */
bool brg_utf8_valid(const void *s, size_t len);
/* Returns: true if s[0..len) is well-formed UTF-8 without a NUL byte: text that JSON, STOMP
 * headers and C strings can carry as it is. Thread: any. */
bool brg_utf8_is_text(const void *s, size_t len);
/* Decode the sequence at s. Returns: its code point, with *seq_len its length; on a byte that
 * does not start a well-formed sequence, *seq_len is 0 and the result is that byte. */
uint32_t brg_utf8_decode(const unsigned char *s, size_t avail, size_t *seq_len);
/* Encode code point cp into out. Returns: the number of bytes written (1-4), or 0 when cp is
 * past U+10FFFF (nothing written). Surrogate code points are encoded as they are (callers
 * that read them from escapes pair them first). Thread: any. */
size_t brg_utf8_encode(uint32_t cp, char out[4]);
/* Returns: the value of hex digit c (0-15), or -1. Thread: any. */
int brg_hex_digit(char c);

#endif
