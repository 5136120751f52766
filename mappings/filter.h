/* Route filters: the `where` expression of a route's mapping, parsed once at load and
 * evaluated per message. Pure: no I/O, no threads.
 *
 *   where = "header.type = 'order' and not (key prefix 'test-' or header.debug exists)";
 *
 * Fields: key, topic (alias stream, queue, address), partition, routing_key, exchange,
 * subject, message_id, correlation_id, content_type, header.NAME.
 * Tests: FIELD = 'text', FIELD != 'text', FIELD prefix 'text', FIELD ~ 'regex' (POSIX
 * extended, alias `matches`), FIELD exists. Combine with and, or, not and parentheses.
 * An absent field equals nothing and matches nothing (so `!=` is true for it). */
#ifndef BRG_FILTER_H
#define BRG_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/envelope.h"

typedef struct brg_filter brg_filter_t;

/* Returns: the parsed filter, or NULL with errstr ("expected a quoted string after \"=\" at
 * column 14"). Ownership: the caller destroys it. */
brg_filter_t *brg_filter_parse(const char *text, char *errstr, size_t errstr_size);
void brg_filter_destroy(brg_filter_t *f);
/* Returns: true if the envelope is selected. Thread: any. */
bool brg_filter_match(const brg_filter_t *f, const brg_envelope_t *env);

/* Look up a field by name as the filter and header rules see it (text form). *present is false
 * when the envelope has no such field. Returns: a malloc'd string (caller frees) or NULL. */
char *brg_field_text(const brg_envelope_t *env, const char *field, bool *present);

/* Returns: true if name is a field the filter and rules know (see above). */
bool brg_field_known(const char *name);

#endif
