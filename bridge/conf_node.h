/* The configuration tree and diagnostics, as adapters see them.
 *
 * bridge/conf.c reads the libconfig file once and copies it into this tree (every node knows
 * its file, line and dotted path), so no libconfig type ever leaves conf.c and nothing
 * points into libconfig's memory after config_destroy.
 * Thread: a loaded tree is immutable and may be read from any thread. */
#ifndef BRG_CONF_NODE_H
#define BRG_CONF_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum brg_conf_node_type {
    BRG_CONF_GROUP = 0, /* { a = 1; b = 2; } */
    BRG_CONF_LIST,      /* ( ... ) or [ ... ]: children have no name */
    BRG_CONF_STRING,
    BRG_CONF_INT,
    BRG_CONF_FLOAT,
    BRG_CONF_BOOL,
} brg_conf_node_type_t;

typedef struct brg_conf_node brg_conf_node_t;
struct brg_conf_node {
    char *name;       /* key in its group; NULL for list elements */
    char *path;       /* "routes[0].to.endpoint" */
    const char *file; /* the file it was read from (shared, owned by the root) */
    int line;
    brg_conf_node_type_t type;
    bool secret; /* value must never be printed or logged */
    union {
        char *s; /* STRING, after ${env.X} expansion */
        int64_t i;
        double f;
        bool b;
    } v;
    brg_conf_node_t **kids;
    size_t nkids;
    char *file_owned; /* set on a root made by brg_conf_parse_tree: freed with it */
};

/* Child of a group by name. Returns: NULL if absent or cs is not a group. */
const brg_conf_node_t *brg_conf_get(const brg_conf_node_t *cs, const char *name);
/* Typed look-ups with defaults (the schema pass has already checked the types). */
const char *brg_conf_str(const brg_conf_node_t *cs, const char *name, const char *def);
int64_t brg_conf_int(const brg_conf_node_t *cs, const char *name, int64_t def);
double brg_conf_float(const brg_conf_node_t *cs, const char *name, double def);
bool brg_conf_bool(const brg_conf_node_t *cs, const char *name, bool def);
/* Returns: a static name of the type ("string"). */
const char *brg_conf_type_name(brg_conf_node_type_t t);

/* Free a tree (recursively). Accepts NULL. */
void brg_conf_node_destroy(brg_conf_node_t *cs);

/* ---- schemas: each adapter declares the keys it accepts --------------------------------- */

typedef enum brg_key_type {
    BRG_KEY_STRING = 0,
    BRG_KEY_INT,
    BRG_KEY_FLOAT,
    BRG_KEY_BOOL,
    BRG_KEY_STRING_LIST, /* a list or array of strings */
    BRG_KEY_STRING_OR_LIST,
    BRG_KEY_TEMPLATE, /* a string compiled by mappings/template at load time */
    BRG_KEY_GROUP,    /* a nested group checked by its owner */
    BRG_KEY_GROUP_OR_LIST, /* a group, or a list of groups */
} brg_key_type_t;

#define BRG_KEY_REQUIRED 0x1u
/* A secret key NAME never appears in output; NAME_file (a path whose contents are the value)
 * is accepted in its place and read at load time. */
#define BRG_KEY_SECRET 0x2u

/* An INT or FLOAT key whose value must lie within min..max (both included; max = INFINITY: no
 * upper bound). The error reads "must be between MIN and MAX, not VALUE" ("must be at least MIN,
 * not VALUE"). */
#define BRG_KEY_RANGE 0x4u

typedef struct brg_conf_key {
    const char *name;
    brg_key_type_t type;
    unsigned flags;
    const char *help; /* one line, for docs and -t */
    /* A STRING key that takes one of these words (NULL-terminated; NULL: any string). The
     * error reads `unknown NAME "VALUE" (valid: WORD, WORD, ...)`. */
    const char *const *words;
    double min, max; /* with BRG_KEY_RANGE */
} brg_conf_key_t;

/* ---- diagnostics: every error, each as "FILE:LINE: path: message" ------------------------- */

typedef struct brg_diag {
    char **lines;
    size_t count;
    size_t cap;
    size_t warnings; /* lines that are warnings, not errors */
    size_t errors;
} brg_diag_t;

void brg_diag_init(brg_diag_t *d);
void brg_diag_fini(brg_diag_t *d);
/* Add an error located at a node ("FILE:LINE: PATH: message"). at may be NULL. */
void brg_diag_error(brg_diag_t *d, const brg_conf_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add an error at an explicit place; path may be NULL. */
void brg_diag_error_at(brg_diag_t *d, const char *file, int line, const char *path,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A warning: printed by -t, does not fail the load. */
void brg_diag_warn(brg_diag_t *d, const brg_conf_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The TLS keys of an endpoint (ca_file, cert_file, key_file, verify_peer), checked alike by
 * the adapters that take them: cert_file and key_file go together, each file is readable, and
 * each key warns when the endpoint has a url that is not a TLS one (tls false). tls_url names
 * the TLS url form for that warning, with its article ("an amqps://"). */
void brg_conf_check_tls_keys(const brg_conf_node_t *ep_cs, bool has_url, bool tls, const char *tls_url,
                            brg_diag_t *d);

/* The TLS keys of an endpoint table, as brg_conf_check_tls_keys checks them. */
#define BRG_CONF_TLS_KEYS                                                                          \
    {.name = "ca_file", .type = BRG_KEY_STRING,                                                    \
     .help = "PEM file of CA certificates to verify the broker with"},                             \
    {.name = "cert_file", .type = BRG_KEY_STRING,                                                  \
     .help = "PEM client certificate (with key_file)"},                                            \
    {.name = "key_file", .type = BRG_KEY_STRING, .help = "PEM private key of cert_file"},          \
    {.name = "verify_peer", .type = BRG_KEY_BOOL,                                                  \
     .help = "verify the broker's certificate and host name (true)"}

/* Returns: whether a node has the value type a key of type t takes. */
bool brg_conf_type_ok(const brg_conf_node_t *c, brg_key_type_t t);
/* Check one group against a schema: unknown keys (listing the valid ones), types, words and
 * ranges, required keys, NAME_file for secrets. `extra` is a second table accepted in the same
 * group (the core's own keys next to an adapter's); either may be NULL. Every problem goes to d.
 * Returns: how many were of shape (an unknown key, a wrong type, a missing key), after which
 * further checks of the group would be guesses; a word or a value out of range is not. */
size_t brg_conf_check_keys(const brg_conf_node_t *group, const brg_conf_key_t *keys,
                        const brg_conf_key_t *extra, brg_diag_t *d);

#endif
