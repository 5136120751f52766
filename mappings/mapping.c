#include "mappings/mapping.h"

#include <stdlib.h>

struct brg_mapping {
    int unused;
};

const brg_conf_key_t brg_mapping_keys[] = {
    {NULL, 0, 0, NULL},
};

brg_mapping_t *brg_mapping_new(const brg_cfg_t *route_cs, const char *bridge_id,
                               const char *route_name, brg_diag_t *d)
{
    return NULL;
}

void brg_mapping_destroy(brg_mapping_t *m)
{
    free(m);
}

brg_map_verdict_t brg_mapping_apply(const brg_mapping_t *m, brg_envelope_t *env, char *why,
                                    size_t why_size)
{
    return BRG_MAP_PASS;
}
