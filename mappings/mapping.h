/* A route's mapping: the pure transforms applied between source and sink (header rules,
 * filters, provenance and loop prevention, strict mode). No I/O, no threads. */
#ifndef BRG_MAPPING_H
#define BRG_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/cfg.h"
#include "bridge/envelope.h"

typedef enum brg_map_verdict {
    BRG_MAP_PASS = 0,   /* forward the (possibly changed) envelope */
    BRG_MAP_FILTERED,   /* the route's filter does not select it: acknowledge, count */
    BRG_MAP_LOOP,       /* it already crossed this bridge or too many hops: acknowledge, count */
    BRG_MAP_UNMAPPABLE, /* strict mode and it cannot cross losslessly: dead-letter */
} brg_map_verdict_t;

typedef struct brg_mapping brg_mapping_t;

/* Keys accepted in a route's `mapping` group (for the schema pass). */
extern const brg_conf_key_t brg_mapping_keys[];

/* Build a route's mapping from its config group (route_cs is the whole route; the `mapping`
 * group may be absent). Problems are reported to d with their lines.
 * Returns: the mapping, or NULL if the route needs none or on error (see d->errors). */
brg_mapping_t *brg_mapping_new(const brg_cfg_t *route_cs, const char *bridge_id,
                               const char *route_name, brg_diag_t *d);
void brg_mapping_destroy(brg_mapping_t *m);

/* True if the route is in strict mapping mode. m may be NULL. */
bool brg_mapping_strict(const brg_mapping_t *m);

/* Apply to one envelope. why (may be NULL) gets a reason for non-PASS verdicts.
 * Thread: any (the mapping is read-only after creation). */
brg_map_verdict_t brg_mapping_apply(const brg_mapping_t *m, brg_envelope_t *env, char *why,
                                    size_t why_size);

#endif
