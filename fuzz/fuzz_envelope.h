/* A fixed envelope for the template and filter targets: every field a template variable or
 * filter field can name is present (key with a NUL byte, typed headers of each kind, origin,
 * properties), so parsed input renders and matches against real values. */
#ifndef BRG_FUZZ_ENVELOPE_H
#define BRG_FUZZ_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/envelope.h"

/* Returns: a new envelope; the caller destroys it. Thread: any. */
brg_envelope_t *fuzz_envelope_new(void);

/* The two envelopes the template and filter targets render and match against, made on the
 * first call and kept for the process: every field set (full), and none (empty). */
void fuzz_envelopes(brg_envelope_t **full, brg_envelope_t **empty);

/* Returns: the input as a NUL-terminated string (malloc'd; the caller frees it). */
char *fuzz_text(const uint8_t *data, size_t size);

#endif
