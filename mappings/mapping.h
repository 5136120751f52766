/* A route's mapping: the pure transforms applied between source and sink (header rules,
 * filters, provenance and loop prevention, strict mode). No I/O, no threads. */
#ifndef BRG_MAPPING_H
#define BRG_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bridge/conf_node.h"
#include "bridge/envelope.h"

typedef enum brg_map_verdict {
    BRG_MAP_PASS = 0,   /* forward the (possibly changed) envelope */
    BRG_MAP_FILTERED,   /* the route's filter does not select it: acknowledge, count */
    BRG_MAP_LOOP,       /* it would go back to a stream it was read from, or too many hops */
    BRG_MAP_UNMAPPABLE, /* strict mode and it cannot cross losslessly: dead-letter */
} brg_map_verdict_t;

typedef struct brg_mapping brg_mapping_t;

/* Keys accepted in a route's `mapping` group (for the schema pass). */
extern const brg_conf_key_t brg_mapping_keys[];

/* Build a route's mapping from its config group (route_cs is the whole route; the `mapping`
 * group may be absent). Problems are reported to d with their lines.
 * Every route has one, also without a `mapping` group (provenance and the loop check are on by
 * default). Returns: the mapping, or NULL on error (see d->errors): the route is not built. */
brg_mapping_t *brg_mapping_new(const brg_conf_node_t *route_cs, const char *bridge_id,
                               const char *route_name, brg_diag_t *d);
void brg_mapping_destroy(brg_mapping_t *m);

/* The streams a bridge's routes read and write, taken from the config (protocol-neutral: an
 * endpoint name, a kind such as topic, queue, exchange or address, and a name). Loop
 * prevention uses it to tell, for the bridge's own hops in x-msgbridge-path, which streams a
 * message was read from; `msgbridge -t` uses it to print chains.
 * routes: the route groups of one config (the table copies what it needs). Ownership:
 * reference counted: the caller destroys its reference, each mapping given it holds one.
 * Thread: main (new/set); read-only and usable from any thread afterwards. */
typedef struct brg_streams brg_streams_t;
brg_streams_t *brg_streams_new(const brg_conf_node_t *const *routes, size_t nroutes);
void brg_streams_destroy(brg_streams_t *s);
/* Let m judge its bridge's own hops with s (without it, an own hop is always a loop); m takes a
 * reference. Calling it again (a reload) replaces the table while apply may run on other
 * threads: the replaced one is released with m. Thread: main. */
void brg_mapping_set_streams(brg_mapping_t *m, const brg_streams_t *s);
/* Print, for routes whose destination is another route's source, "route A -> route B", and
 * warn for each cycle (A feeds B and B feeds A). Returns: the number of cycles. */
size_t brg_streams_print_chains(const brg_streams_t *s, FILE *out);

/* True if the route is in strict mapping mode. m may be NULL. */
bool brg_mapping_strict(const brg_mapping_t *m);
/* A source stream's name after the mapping's `rename` (what ${topic} renders for its messages).
 * Returns: a malloc'd name (the caller frees it). Pure. */
char *brg_mapping_stream_name(const brg_mapping_t *m, const char *stream);

/* Apply to one envelope. why (may be NULL) gets a reason for non-PASS verdicts.
 * Thread: any (the mapping is read-only after creation). */
brg_map_verdict_t brg_mapping_apply(const brg_mapping_t *m, brg_envelope_t *env, char *why,
                                    size_t why_size);

#endif
