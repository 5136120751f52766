/* A fixed envelope for the template and filter targets: every field a template variable or
 * filter field can name is present (key with a NUL byte, typed headers of each kind, origin,
 * properties), so parsed input renders and matches against real values. */
#ifndef BRG_FUZZ_ENVELOPE_H
#define BRG_FUZZ_ENVELOPE_H

#include "bridge/envelope.h"

/* Returns: a new envelope; the caller destroys it. Thread: any. */
brg_envelope_t *fuzz_envelope_new(void);

#endif
