/* Loading msgbridge.conf (libconfig syntax, DESIGN.md section 5) in four passes:
 *   1. parse (libconfig) and copy into a brg_conf_node_t tree, expanding ${env.NAME};
 *   2. schema: each group against its key table (core keys plus the adapter's);
 *   3. cross-references: endpoints exist, adapters built in and capable, unique names,
 *      templates and mappings compile (once: the engine runs what the load compiled);
 *   4. per-adapter checks.
 * Every problem is reported to a brg_diag_t as "FILE:LINE: path: message"; loading continues
 * after an error so that all of them are reported at once. */
#ifndef BRG_CONF_H
#define BRG_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bridge/adapter.h"
#include "bridge/log.h"
#include "mappings/template.h"

struct brg_mapping;

/* A sink side's template keys (BRG_KEY_TEMPLATE in its adapter's table), compiled at load. */
typedef struct brg_conf_templates {
    const char **keys; /* key names, from the adapter's table */
    brg_template_t **tpls;
    size_t n;
} brg_conf_templates_t;

typedef struct brg_conf_route {
    const brg_conf_node_t *cs;      /* the route group */
    const char *name;
    const brg_conf_node_t *from;    /* the `from` group */
    const brg_conf_node_t **to;     /* each `to` group (one, or several for fan-out) */
    size_t nto;
    const brg_conf_node_t *dead_letter; /* NULL if none */
    brg_conf_templates_t *to_templates;     /* one per `to` */
    brg_conf_templates_t dead_letter_templates;
    /* Compiled at load (mappings/mapping.h); the route built from this config uses it, the
     * config owns it (an engine keeps the configs its routes were built from). */
    struct brg_mapping *mapping;
    int64_t max_in_flight;
    int64_t max_in_flight_bytes;
    int64_t stall_timeout_ms; /* 0: no stall watchdog */
} brg_conf_route_t;

typedef struct brg_conf {
    brg_conf_node_t *root;
    char *file;
    char **files; /* every file read (@include), owned; nodes point at these */
    size_t nfiles;
    const char *bridge_id;
    const char *metrics_addr;      /* NULL: no HTTP endpoint */
    int64_t shutdown_timeout_ms;
    int64_t stats_interval_ms;
    int64_t stall_timeout_ms; /* bridge-wide default for routes */
    brg_log_level_t log_level;
    brg_log_format_t log_format;
    const brg_conf_node_t **endpoints;
    void **endpoint_settings; /* [i]: endpoints[i]'s adapter compile_endpoint(), or NULL */
    size_t nendpoints;
    brg_conf_route_t *routes;
    size_t nroutes;
} brg_conf_t;

/* Defaults for route credit. */
#define BRG_DEFAULT_MAX_IN_FLIGHT 1000
#define BRG_DEFAULT_MAX_IN_FLIGHT_BYTES (16 * 1024 * 1024)

/* Load and check a file. Returns: the config, or NULL if d->errors > 0 (d says why).
 * Ownership: the caller destroys the result. Thread: main. */
brg_conf_t *brg_conf_load(const char *path, brg_diag_t *d);
/* brg_conf_load for a command: each diagnostic line (FILE:LINE: path: message, errors and
 * warnings) goes to err. Returns: the config or NULL; *errors (if not NULL) the error count. */
brg_conf_t *brg_conf_load_report(const char *path, FILE *err, size_t *errors);
/* The same from text in memory; name is used in diagnostics as the file name. */
brg_conf_t *brg_conf_load_string(const char *text, const char *name, brg_diag_t *d);
void brg_conf_destroy(brg_conf_t *conf);
/* The compiled settings of endpoint i (brg_conf_t.endpoint_settings), or NULL. */
void *brg_conf_endpoint_settings(const brg_conf_t *conf, size_t i);

/* Parse libconfig text into a bare tree (pass 1 only: no schema, no ${env.X} errors kept).
 * Returns: the root group, or NULL on a syntax error. Ownership: brg_conf_node_destroy() it. */
brg_conf_node_t *brg_conf_parse_tree(const char *text, const char *name);

/* Find an endpoint group by name. Returns: NULL if absent. */
const brg_conf_node_t *brg_conf_endpoint(const brg_conf_t *conf, const char *name);

/* Print the route graph (endpoint -> route -> endpoint, with each side's stream) for -t.
 * Secrets are never printed. */
void brg_conf_print_graph(const brg_conf_t *conf, FILE *out);

#endif
