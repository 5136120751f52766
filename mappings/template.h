/* Templates for destination names and keys: literal text with ${...} variables, parsed once at
 * load and rendered per message (DESIGN.md section 5).
 *
 * Variables: ${topic} / ${stream} (source topic, queue or address), ${key}, ${partition},
 * ${routing_key}, ${exchange}, ${subject}, ${message_id}, ${correlation_id},
 * ${header.NAME}, ${endpoint}. A variable whose value is absent renders as empty text.
 * "$$" is a literal "$". Pure: no I/O, no threads. */
#ifndef BRG_TEMPLATE_H
#define BRG_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/buf.h"
#include "bridge/envelope.h"

typedef struct brg_template brg_template_t;

/* Parse text. Returns: the template, or NULL with errstr set ("unknown variable \"${foo}\"",
 * "unterminated \"${\" at column 7"). Ownership: the caller destroys it. */
brg_template_t *brg_template_parse(const char *text, char *errstr, size_t errstr_size);
void brg_template_destroy(brg_template_t *t);

/* Render for one envelope. Returns: a malloc'd NUL-terminated string (the caller frees it);
 * *len_out (if not NULL) gets its length, which may include NUL bytes from binary keys. */
char *brg_template_render(const brg_template_t *t, const brg_envelope_t *env, size_t *len_out);

/* The template's value for one envelope without an allocation per message: a literal's own
 * text, or the rendering written into scratch (emptied first; its memory is reused, so a sink
 * keeps one scratch buffer per template it renders at once). Valid until scratch is used again
 * or the template destroyed. Returns: NUL-terminated text; *len_out (if not NULL) gets its
 * length, which may include NUL bytes from binary keys. */
const char *brg_template_value(const brg_template_t *t, const brg_envelope_t *env,
                               brg_buf_t *scratch, size_t *len_out);

/* The value of a template without variables, without copying: valid as long as the template;
 * *len_out (if not NULL) gets its length. Returns: NULL if the template has variables. */
const char *brg_template_literal(const brg_template_t *t, size_t *len_out);

/* True if the template has no variables (its text is its value). */
bool brg_template_is_literal(const brg_template_t *t);
/* The source text as written. */
const char *brg_template_text(const brg_template_t *t);

#endif
