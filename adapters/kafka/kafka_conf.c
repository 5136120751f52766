/* librdkafka configuration for an endpoint: defaults, the user's properties, and the checks
 * that report a bad property at the line of its list element. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka.h"

/* Properties msgbridge sets itself; each says which key to use instead, or why. */
static const struct {
    const char *name;
    const char *why;
} reserved[] = {
    {"bootstrap.servers", "use the endpoint's \"brokers\" key"},
    {"metadata.broker.list", "use the endpoint's \"brokers\" key"},
    {"group.id", "use the route's \"from.group\" key"},
    {"enable.auto.offset.store",
     "msgbridge stores an offset only once every record before it is settled"},
    {"enable.auto.commit",
     "msgbridge commits the offsets it stored (tune auto.commit.interval.ms instead)"},
};

bool brg_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                        char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < BRG_ARRAY_SIZE(reserved); i++) {
        if (strcmp(name, reserved[i].name) == 0) {
            brg_errfmt(errstr, errstr_size, "librdkafka property \"%s\" is set by msgbridge: %s",
                       name, reserved[i].why);
            return false;
        }
    }
    char err[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, value, err, sizeof(err));
    if (r == RD_KAFKA_CONF_OK) {
        return true;
    }
    if (r == RD_KAFKA_CONF_UNKNOWN) {
        brg_errfmt(errstr, errstr_size, "unknown librdkafka property \"%s\"", name);
    } else {
        /* librdkafka's messages start with a capital letter; ours are lowercase. */
        err[0] = (char)tolower((unsigned char)err[0]);
        brg_errfmt(errstr, errstr_size, "bad value for librdkafka property \"%s\": %s", name,
                   err);
    }
    return false;
}

/* Split "name=value" (the value may contain '='). Returns: false if there is no '=' or no
 * name. */
static bool split_property(const char *s, char *name, size_t name_size, const char **value)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || (size_t)(eq - s) >= name_size) {
        return false;
    }
    memcpy(name, s, (size_t)(eq - s));
    name[eq - s] = '\0';
    /* Surrounding blanks in the name are a typo, never part of a librdkafka name. */
    size_t n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1])) {
        name[--n] = '\0';
    }
    *value = eq + 1;
    return n > 0 && !isspace((unsigned char)name[0]);
}

/* Apply one list of "name=value" strings. errnode (if not NULL) gets the failing element. */
static bool apply_list(rd_kafka_conf_t *conf, const brg_conf_node_t *list, const brg_conf_node_t **errnode,
                       char *errstr, size_t errstr_size)
{
    if (!list) {
        return true;
    }
    for (size_t i = 0; i < list->nkids; i++) {
        const brg_conf_node_t *el = list->kids[i];
        char name[256], err[600];
        const char *value;
        if (el->type != BRG_CONF_STRING) {
            continue; /* the schema pass reports the type */
        }
        if (!split_property(el->v.s, name, sizeof(name), &value)) {
            /* Quote only up to the '=': the value may be a password. */
            brg_errfmt(errstr, errstr_size, "expected \"name=value\", got \"%.*s\"",
                       (int)strcspn(el->v.s, "="), el->v.s);
            if (errnode) {
                *errnode = el;
            }
            return false;
        }
        if (!brg_kafka_conf_set(conf, name, value, err, sizeof(err))) {
            brg_errfmt(errstr, errstr_size, "%s", err);
            if (errnode) {
                *errnode = el;
            }
            return false;
        }
    }
    return true;
}

/* Read a secret file's first line (without the newline). Returns: malloc'd or NULL. */
static char *read_secret_file(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        brg_errfmt(errstr, errstr_size, "cannot read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    if (!fgets(buf, sizeof(buf), f)) {
        buf[0] = '\0';
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return brg_xstrdup(buf);
}

static bool list_sets(const brg_conf_node_t *list, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; list && i < list->nkids; i++) {
        const brg_conf_node_t *el = list->kids[i];
        if (el->type == BRG_CONF_STRING && strncmp(el->v.s, name, n) == 0 && el->v.s[n] == '=') {
            return true;
        }
    }
    return false;
}

/* The endpoint key that lists a role's own properties. */
static const char *role_list(brg_kafka_role_t role)
{
    return role == BRG_KAFKA_PRODUCER_ROLE ? "producer_properties" : "consumer_properties";
}

rd_kafka_conf_t *brg_kafka_conf_new(const brg_conf_node_t *ep_cs, brg_kafka_role_t role,
                                    const char *client_id, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[600];
    const brg_conf_node_t *props = brg_conf_get(ep_cs, "properties");
    const brg_conf_node_t *role_props = brg_conf_get(ep_cs, role_list(role));

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brg_conf_str(ep_cs, "brokers", ""), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", client_id, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        brg_errfmt(errstr, errstr_size, "%s", err);
        goto fail;
    }
    if (role == BRG_KAFKA_PRODUCER_ROLE) {
        /* At-least-once without reordering or duplicates from librdkafka's own retries: the
         * idempotent producer implies acks=all and keeps order per partition. The user may
         * still turn it off through properties. */
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
        rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    } else {
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof(err));
        rd_kafka_conf_set(conf, "enable.auto.commit", "true", err, sizeof(err));
        /* Defaults the user's lists below may override (docs/operations.md, "Scaling out"):
         * - cooperative (incremental) rebalancing, so that a process joining or leaving the
         *   group moves only the partitions that change owner; with the eager strategies
         *   every member gives up every partition at every rebalance, and whatever it had not
         *   committed is delivered again;
         * - a commit every BRG_KAFKA_COMMIT_INTERVAL_MS instead of librdkafka's 5 s: what a
         *   crashed process delivers again is at most its in-flight window plus this much of
         *   its traffic (five times less), for 10-25% of the throughput of a drain at full
         *   speed (docs/performance.md). */
        rd_kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err,
                          sizeof(err));
        rd_kafka_conf_set(conf, "auto.commit.interval.ms", BRG_KAFKA_COMMIT_INTERVAL_MS, err,
                          sizeof(err));
    }

    /* SASL credentials from keys, so that the password can come from password_file. */
    const char *user = brg_conf_str(ep_cs, "user", NULL);
    const char *password = brg_conf_str(ep_cs, "password", NULL);
    char *pw_owned = NULL;
    if (!password && brg_conf_str(ep_cs, "password_file", NULL)) {
        pw_owned = read_secret_file(brg_conf_str(ep_cs, "password_file", NULL), errstr,
                                    errstr_size);
        if (!pw_owned) {
            goto fail;
        }
        password = pw_owned;
    }
    if (user) {
        if (!list_sets(props, "security.protocol") && !list_sets(role_props, "security.protocol")) {
            rd_kafka_conf_set(conf, "security.protocol", "sasl_plaintext", err, sizeof(err));
        }
        if (!list_sets(props, "sasl.mechanisms") && !list_sets(props, "sasl.mechanism") &&
            !list_sets(role_props, "sasl.mechanisms") && !list_sets(role_props, "sasl.mechanism")) {
            rd_kafka_conf_set(conf, "sasl.mechanisms", "PLAIN", err, sizeof(err));
        }
        if (rd_kafka_conf_set(conf, "sasl.username", user, err, sizeof(err)) !=
                RD_KAFKA_CONF_OK ||
            (password && rd_kafka_conf_set(conf, "sasl.password", password, err, sizeof(err)) !=
                             RD_KAFKA_CONF_OK)) {
            brg_free_secret(pw_owned);
            brg_errfmt(errstr, errstr_size, "%s", err);
            goto fail;
        }
    }
    brg_free_secret(pw_owned);

    if (!apply_list(conf, props, NULL, errstr, errstr_size) ||
        !apply_list(conf, role_props, NULL, errstr, errstr_size)) {
        goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ---- compiled once per endpoint (adapter.h compile_endpoint) ------------------------------- */

brg_kafka_settings_t *brg_kafka_settings_new(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    brg_kafka_settings_t *s = brg_xcalloc(1, sizeof(*s));
    for (int role = BRG_KAFKA_PRODUCER_ROLE; role <= BRG_KAFKA_CONSUMER_ROLE; role++) {
        char err[600];
        s->conf[role] = brg_kafka_conf_new(ep_cs, (brg_kafka_role_t)role, "msgbridge", err,
                                           sizeof(err));
        if (!s->conf[role]) {
            /* What check_endpoint did not see: the password file, read here once. */
            const brg_conf_node_t *at = brg_conf_get(ep_cs, "password_file");
            brg_diag_error(d, at ? at : ep_cs, "%s", err);
            brg_kafka_settings_free(s);
            return NULL;
        }
        s->user_client_id[role] = list_sets(brg_conf_get(ep_cs, "properties"), "client.id") ||
                                  list_sets(brg_conf_get(ep_cs, role_list((brg_kafka_role_t)role)), "client.id");
    }
    return s;
}

void brg_kafka_settings_free(void *settings)
{
    brg_kafka_settings_t *s = settings;
    for (int role = 0; role < 2; role++) {
        if (s->conf[role]) {
            rd_kafka_conf_destroy(s->conf[role]);
        }
    }
    free(s);
}

rd_kafka_conf_t *brg_kafka_settings_conf(const brg_kafka_settings_t *s, brg_kafka_role_t role,
                                         const char *client_id)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(s->conf[role]);
    char err[512];
    if (!s->user_client_id[role]) {
        /* client.id takes any string: this cannot fail. */
        rd_kafka_conf_set(conf, "client.id", client_id, err, sizeof(err));
    }
    return conf;
}

/* ---- buffering bounded by the routes' in-flight budget ------------------------------------- */

static size_t clamp_sz(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Set name to a derived value unless the endpoint's lists set it (the user's word wins). */
static void derive(rd_kafka_conf_t *conf, const brg_conf_node_t *ep_cs, const char *role_list,
                   const char *name, size_t value)
{
    if (list_sets(brg_conf_get(ep_cs, "properties"), name) ||
        list_sets(brg_conf_get(ep_cs, role_list), name)) {
        return;
    }
    char v[32], err[512];
    snprintf(v, sizeof(v), "%zu", value);
    if (rd_kafka_conf_set(conf, name, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        /* Out of librdkafka's range cannot happen with the clamps below; keep its default. */
        return;
    }
}

size_t brg_kafka_hold_budget(size_t max_in_flight_bytes)
{
    /* Half the route's window: what is left when paused partitions resume (3/4 of it) feeds
     * the route for several fetch round trips, and hold and window together stay inside the
     * route's memory bound (docs/kafka.md, "Memory"). */
    return clamp_sz(max_in_flight_bytes / 2, 256 * 1024, 64 * 1024 * 1024);
}

void brg_kafka_conf_bound_consumer(rd_kafka_conf_t *conf, const brg_conf_node_t *ep_cs,
                                   size_t hold_budget)
{
    /* Two brakes (docs/kafka.md, "Memory"): the source pauses partitions once its hold
     * reaches hold_budget (H), and librdkafka stops fetching while its own queue holds
     * queued.min.messages records or queued.max.messages.kbytes. The second is what bounds a
     * drain at full speed: the source reads librdkafka's queue a batch per loop turn, and three
     * brokers' fetch responses bring tens of thousands of records at a time, each a ~300-byte
     * op in librdkafka (a heap profile of a 1M x 100 B drain: 37 MB of them at librdkafka's
     * default of 100000, 7 MB at 5000). A queue that stops librdkafka's fetching leaves its broker
     * threads asleep for up to a second (librdkafka issue #2879): the source wakes them when
     * it has read the queue down (wake_drained in kafka_source.c).
     * - queued.min.messages: H / 400 (what the hold takes of 100-byte records with their
     *   overhead), not under 5000 (below that a drain of small records waits on fetch round
     *   trips) nor over librdkafka's 100000;
     * - queued.max.messages.kbytes: 2 H, at least 1 MiB (the same for larger records: a drain
     *   of 200k x 1 KiB peaked at 37 MiB with 2 MiB, 39-45 with 8 MiB, at the same rate);
     * - a fetch response is at most fetch.max.bytes (F: H / 2, not less than 1 MiB: librdkafka
     *   2.0 raises it to message.max.bytes anyway), one per broker at a time;
     *   receive.message.max.bytes follows it (librdkafka keeps it at F + 512 or more);
     * - each partition's part of a response at most max.partition.fetch.bytes (H / 64, 16 KiB
     *   to librdkafka's 1 MiB; a larger batch still comes, alone), so that a fetch round over
     *   many partitions stays near H (librdkafka's mock cluster answers a whole batch per
     *   partition whatever fetch.max.bytes says);
     * A held record points into its fetch response's buffer, so a response is freed once its
     * last record left the hold (records up to 16 KiB are copied into their envelopes then) or,
     * for a larger record, was settled (kafka_source.c, record_envelope). */
    size_t fetch = clamp_sz(hold_budget / 2, 1048576, 52428800);
    size_t part = clamp_sz(hold_budget / 64, 16384, 1048576);
    size_t kbytes = clamp_sz(2 * hold_budget / 1024, 1024, 2097151);
    size_t min_msgs = clamp_sz(hold_budget / 400, 5000, 100000);
    derive(conf, ep_cs, "consumer_properties", "fetch.max.bytes", fetch);
    derive(conf, ep_cs, "consumer_properties", "max.partition.fetch.bytes", part);
    derive(conf, ep_cs, "consumer_properties", "queued.max.messages.kbytes", kbytes);
    derive(conf, ep_cs, "consumer_properties", "queued.min.messages", min_msgs);
}

void brg_kafka_conf_tune_producer(rd_kafka_conf_t *conf, const brg_conf_node_t *ep_cs)
{
    /* librdkafka waits linger.ms (5) for a batch to fill; a route already hands over what it
     * has, and a record's credit comes back only with its delivery report, so the wait adds
     * to every round trip of the in-flight window. 0.5 ms: 108k -> 120k msg/s on a 1M x 100 B
     * Kafka -> Kafka drain (docs/kafka.md, "Throughput"). */
    const char *names[] = {"linger.ms", "queue.buffering.max.ms"};
    for (size_t i = 0; i < BRG_ARRAY_SIZE(names); i++) {
        if (list_sets(brg_conf_get(ep_cs, "properties"), names[i]) ||
            list_sets(brg_conf_get(ep_cs, "producer_properties"), names[i])) {
            return;
        }
    }
    char err[512];
    rd_kafka_conf_set(conf, "linger.ms", "0.5", err, sizeof(err));
}

void brg_kafka_check_properties(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    static const char *lists[] = {"properties", "producer_properties", "consumer_properties"};
    for (size_t l = 0; l < BRG_ARRAY_SIZE(lists); l++) {
        const brg_conf_node_t *list = brg_conf_get(ep_cs, lists[l]);
        if (!list || list->type != BRG_CONF_LIST) {
            continue;
        }
        /* Each element separately on a scratch conf, so that every bad one is reported. */
        for (size_t i = 0; i < list->nkids; i++) {
            const brg_conf_node_t *el = list->kids[i];
            brg_conf_node_t one = *list;
            const brg_conf_node_t *kids[1] = {el};
            one.kids = (brg_conf_node_t **)kids;
            one.nkids = 1;
            rd_kafka_conf_t *conf = rd_kafka_conf_new();
            const brg_conf_node_t *bad = NULL;
            char err[700];
            if (!apply_list(conf, &one, &bad, err, sizeof(err))) {
                brg_diag_error(d, bad ? bad : el, "%s", err);
            }
            rd_kafka_conf_destroy(conf);
        }
    }
}
