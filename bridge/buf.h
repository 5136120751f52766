/* A growable byte buffer, the one every layer shares (metrics text, rendered templates, Kafka
 * header values), and the Prometheus label escaper that writes into it.
 * Bottom layer: uses nothing of ours but err.h (brg_xrealloc). */
#ifndef BRG_BUF_H
#define BRG_BUF_H

#include <stddef.h>

/* data[0..len) plus a NUL at data[len] once anything was added (so text can be used as a C
 * string); cap is the allocation. A zeroed struct is an empty buffer.
 * Ownership: the buffer owns data; brg_buf_fini frees it, brg_buf_steal hands it over.
 * Thread: one at a time. */
typedef struct brg_buf {
    char *data;
    size_t len, cap;
} brg_buf_t;

/* Append n bytes (p may be NULL when n is 0). Aborts on out-of-memory. */
void brg_buf_add(brg_buf_t *b, const void *p, size_t n);
/* Append a C string; NULL appends nothing. */
void brg_buf_str(brg_buf_t *b, const char *s);
void brg_buf_byte(brg_buf_t *b, char c);
/* Append printf-formatted text (any length). */
void brg_buf_printf(brg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty the buffer and keep its allocation (a scratch buffer reused per message): data is ""
 * once anything was ever added. */
void brg_buf_reset(brg_buf_t *b);
/* Returns: the data (NUL-terminated, never NULL: "" for an empty buffer), which the caller now
 * owns and frees; *len (if not NULL) gets the length. The buffer is left empty. */
char *brg_buf_steal(brg_buf_t *b, size_t *len);
/* Free the data and empty the buffer. Accepts an empty buffer. */
void brg_buf_fini(brg_buf_t *b);

/* A Prometheus label value: backslash, double quote and newline escaped as the text
 * exposition format requires. Writes at most size-1 bytes and a NUL into out, cutting a long
 * value (names come from the configuration; the caller sizes out for them).
 * Returns: out. Thread: any. */
const char *brg_prom_label(const char *s, char *out, size_t size);
/* Append s as a JSON string, quotes included (for /routes: names come from the config, reasons
 * from brokers). NULL appends "". Bytes of 0x80 and above pass as they are (UTF-8 stays). */
void brg_buf_json_str(brg_buf_t *b, const char *s);

#endif
