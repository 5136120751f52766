/* The Kafka adapter (librdkafka): its keys, load-time checks and the endpoint thread's loop.
 * The source (consumer) side is in kafka_source.c, the sink (producer) side in kafka_sink.c,
 * record <-> envelope in kafka_codec.c, offset bookkeeping in kafka_offsets.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/kafka/kafka.h"
#include "bridge/buf.h"
#include "adapters/kafka/kafka_gap.h"
#include "adapters/kafka/kafka_group_sync.h"

/* ---- keys ------------------------------------------------------------------------------------ */

static const char *const start_positions[] = {"earliest", "latest", NULL};
/* The words of brg_kafka_gap_policy. */
static const char *const gap_policies[] = {"continue", "stop", NULL};

static const brg_conf_key_t endpoint_keys[] = {
    {.name = "brokers", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "bootstrap brokers, \"host:port,host:port\" (librdkafka bootstrap.servers)"},
    {.name = "properties", .type = BRG_KEY_STRING_LIST,
     .help = "librdkafka properties \"name=value\" for the producer and the consumers"},
    {.name = "producer_properties", .type = BRG_KEY_STRING_LIST,
     .help = "librdkafka properties for the producer only"},
    {.name = "consumer_properties", .type = BRG_KEY_STRING_LIST,
     .help = "librdkafka properties for the consumers only"},
    {.name = "client_id", .type = BRG_KEY_STRING,
     .help = "client.id (default \"msgbridge-BRIDGE_ID-ENDPOINT\")"},
    {.name = "user", .type = BRG_KEY_STRING,
     .help = "SASL user name (sasl.username; default mechanism PLAIN)"},
    {.name = "password", .type = BRG_KEY_STRING, .flags = BRG_KEY_SECRET,
     .help = "SASL password (sasl.password)"},
    {.name = "flush_timeout_ms", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0,
     .max = 3600000,
     .help = "at stop, how long to wait for unconfirmed messages (default 10000)"},
    {.name = NULL},
};

static const brg_conf_key_t source_keys[] = {
    {.name = "topic", .type = BRG_KEY_STRING,
     .help = "topic to read (\"^regex\" matches topic names)"},
    {.name = "topics", .type = BRG_KEY_STRING_LIST,
     .help = "topics to read; \"^regex\" entries match topic names"},
    {.name = "group", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "consumer group (group.id)"},
    {.name = "start", .type = BRG_KEY_STRING, .words = start_positions,
     .help = "where a new group starts: \"earliest\" (default) or \"latest\""},
    {.name = "revoke_grace_ms", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 0,
     .max = 60000,
     .help = "a partition given up in a rebalance is unassigned this long after the revoke began "
             "(default 0; librdkafka's mock cluster needs 3500: see docs/kafka.md)"},
    {.name = "on_gap", .type = BRG_KEY_STRING, .words = gap_policies,
     .help = "records gone before they were read (retention, recreated topic): \"continue\" "
             "(default, from the earliest offset left) or \"stop\" the route"},
    {.name = NULL},
};

/* "topic" comes first: the core names a dead letter's original destination after the first
 * template of the sink. */
static const brg_conf_key_t sink_keys[] = {
    {.name = "topic", .type = BRG_KEY_TEMPLATE, .flags = BRG_KEY_REQUIRED,
     .help = "topic to write (template)"},
    {.name = "key", .type = BRG_KEY_TEMPLATE,
     .help = "record key (template; default: the message's key)"},
    {.name = "partition", .type = BRG_KEY_TEMPLATE,
     .help = "partition number (template; default: librdkafka's partitioner by key)"},
    {.name = "offset_syncs", .type = BRG_KEY_BOOL,
     .help = "record which source offset became which destination offset, for consumer "
             "failover (Kafka sources only; needs partition = \"${partition}\"; default false)"},
    {.name = "offset_syncs_topic", .type = BRG_KEY_STRING,
     .help = "where the offset syncs are written on this cluster (default ROUTE.offset-syncs)"},
    {.name = "sync_groups", .type = BRG_KEY_STRING_LIST,
     .help = "consumer groups whose committed offsets are translated and committed on this "
             "cluster while they have no live member here (needs offset_syncs)"},
    {.name = "sync_interval", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1,
     .max = 86400, .help = "seconds between two group offset syncs (default 10)"},
    {.name = "checkpoints_topic", .type = BRG_KEY_STRING,
     .help = "where checkpoints (group, partition, source and destination offset) are written "
             "on this cluster (default ROUTE.checkpoints)"},
    {.name = "create_topics", .type = BRG_KEY_BOOL,
     .help = "create a missing destination topic with its Kafka source topic's partition "
             "count at start (Admin API; default false)"},
    {.name = NULL},
};

/* ---- load-time checks ------------------------------------------------------------------------ */

/* Each broker of a "host:port,host:port" list (librdkafka also takes a scheme such as
 * "PLAINTEXT://host:port" and a bare host) has a port in 1..65535 when it has one. */
static void check_broker_ports(const brg_conf_node_t *b, brg_diag_t *d)
{
    const char *s = b->v.s;
    while (*s) {
        size_t n = strcspn(s, ",");
        char one[512];
        snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), s);
        char *colon = strrchr(one, ':');
        char *bracket = strrchr(one, ']'); /* [IPv6]:port */
        if (colon && (!bracket || colon > bracket) && colon[1] != '/') {
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end != 0 || port < 1 || port > 65535) {
                brg_diag_error(d, b, "broker \"%s\": the port must be 1..65535", one);
            }
        }
        s += n;
        s += *s == ',';
    }
}

static void check_endpoint(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    const brg_conf_node_t *b = brg_conf_get(ep_cs, "brokers");
    if (b && b->type == BRG_CONF_STRING && b->v.s[strspn(b->v.s, " ,")] == '\0') {
        brg_diag_error(d, b, "must list at least one broker (\"host:port\")");
    } else if (b && b->type == BRG_CONF_STRING) {
        check_broker_ports(b, d);
    }
    brg_kafka_check_properties(ep_cs, d);
}

/* adapter.h compile_endpoint: the checks above, then the two client configurations, built
 * once (each property was already tried alone, so that every bad one has its line). */
static void *compile_endpoint(const brg_conf_node_t *ep_cs, brg_diag_t *d)
{
    size_t errors = d->errors;
    check_endpoint(ep_cs, d);
    return d->errors == errors ? brg_kafka_settings_new(ep_cs, d) : NULL;
}

/* Kafka topic names: 1-249 of [A-Za-z0-9._-]. */
static bool topic_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 249 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* A "^..." entry compiles as a POSIX extended regex (librdkafka's own rule for
 * subscriptions; sync_groups patterns follow it). */
static void check_pattern(const brg_conf_node_t *node, const char *s, brg_diag_t *d)
{
    regex_t re;
    int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof(msg));
        msg[0] = (char)(msg[0] >= 'A' && msg[0] <= 'Z' ? msg[0] - 'A' + 'a' : msg[0]);
        brg_diag_error(d, node, "bad regex \"%s\": %s", s, msg);
        return;
    }
    regfree(&re);
}

static void check_topic_entry(const brg_conf_node_t *node, const char *s, brg_diag_t *d)
{
    if (s[0] != '^') {
        if (!topic_name_ok(s)) {
            brg_diag_error(d, node,
                           "\"%s\" is not a valid topic name (1-249 letters, digits, '.', '_' or "
                           "'-'; start with '^' for a regex)",
                           s);
        }
        return;
    }
    check_pattern(node, s, d);
}

static void check_source(const brg_conf_node_t *ep_cs, const brg_conf_node_t *from_cs, brg_diag_t *d)
{
    const brg_conf_node_t *topic = brg_conf_get(from_cs, "topic");
    const brg_conf_node_t *topics = brg_conf_get(from_cs, "topics");
    if (topic && topics) {
        brg_diag_error(d, topics, "set \"topic\" or \"topics\", not both");
    } else if (!topic && !topics) {
        brg_diag_error(d, from_cs, "missing \"topic\" or \"topics\"");
    }
    if (topic && topic->type == BRG_CONF_STRING) {
        check_topic_entry(topic, topic->v.s, d);
    }
    if (topics && topics->type == BRG_CONF_LIST) {
        if (topics->nkids == 0) {
            brg_diag_error(d, topics, "must name at least one topic");
        }
        for (size_t i = 0; i < topics->nkids; i++) {
            if (topics->kids[i]->type == BRG_CONF_STRING) {
                check_topic_entry(topics->kids[i], topics->kids[i]->v.s, d);
            }
        }
    }
    const brg_conf_node_t *group = brg_conf_get(from_cs, "group");
    if (group && group->type == BRG_CONF_STRING && group->v.s[0] == '\0') {
        brg_diag_error(d, group, "must not be empty");
    }
}

static void check_sink(const brg_conf_node_t *ep_cs, const brg_conf_node_t *to_cs, brg_diag_t *d)
{
    const brg_conf_node_t *topic = brg_conf_get(to_cs, "topic");
    if (topic && topic->type == BRG_CONF_STRING && !strstr(topic->v.s, "${") &&
        !strstr(topic->v.s, "$$") && !topic_name_ok(topic->v.s)) {
        brg_diag_error(d, topic,
                       "\"%s\" is not a valid topic name (1-249 letters, digits, '.', '_' or "
                       "'-')",
                       topic->v.s);
    }
    const brg_conf_node_t *part = brg_conf_get(to_cs, "partition");
    if (part && part->type == BRG_CONF_STRING && !strchr(part->v.s, '$')) {
        char *end;
        long v = strtol(part->v.s, &end, 10);
        if (!part->v.s[0] || *end || v < 0 || v > INT32_MAX) {
            brg_diag_error(d, part, "\"%s\" is not a partition number (or a template)",
                           part->v.s);
        }
    }
    const brg_conf_node_t *syncs = brg_conf_get(to_cs, "offset_syncs");
    if (syncs && syncs->type == BRG_CONF_BOOL && syncs->v.b &&
        !(part && part->type == BRG_CONF_STRING && strcmp(part->v.s, "${partition}") == 0)) {
        /* A consumer's position translates only when each source partition lands, in order,
         * in the destination partition of the same number. */
        brg_diag_error(d, syncs,
                       "offset_syncs needs partition = \"${partition}\" (each source partition "
                       "written to the partition of the same number)");
    }
    static const char *const topic_keys[] = {"offset_syncs_topic", "checkpoints_topic"};
    for (size_t i = 0; i < 2; i++) {
        const brg_conf_node_t *st = brg_conf_get(to_cs, topic_keys[i]);
        if (st && st->type == BRG_CONF_STRING && !topic_name_ok(st->v.s)) {
            brg_diag_error(d, st,
                           "\"%s\" is not a valid topic name (1-249 letters, digits, '.', '_' "
                           "or '-')",
                           st->v.s);
        }
    }
    const brg_conf_node_t *groups = brg_conf_get(to_cs, "sync_groups");
    if (groups && groups->type == BRG_CONF_LIST) {
        if (!(syncs && syncs->type == BRG_CONF_BOOL && syncs->v.b)) {
            /* A group's offsets translate through the route's offset syncs. */
            brg_diag_error(d, groups, "sync_groups needs offset_syncs = true");
        }
        if (groups->nkids == 0) {
            brg_diag_error(d, groups, "must name at least one consumer group");
        }
        for (size_t i = 0; i < groups->nkids; i++) {
            const brg_conf_node_t *g = groups->kids[i];
            if (g->type == BRG_CONF_STRING && g->v.s[0] == '\0') {
                brg_diag_error(d, g, "a consumer group name must not be empty");
            } else if (g->type == BRG_CONF_STRING && g->v.s[0] == '^') {
                check_pattern(g, g->v.s, d);
            }
        }
    }
}

/* ---- logging ---------------------------------------------------------------------------------- */

void brg_kafka_logctx_init(brg_kafka_logctx_t *l, const brg_log_ctx_t *from)
{
    l->endpoint = brg_xstrdup(from->endpoint);
    l->file = brg_xstrdup(from->file);
    l->ctx = (brg_log_ctx_t){from->adapter, l->endpoint, l->file, from->line};
}

void brg_kafka_logctx_fini(brg_kafka_logctx_t *l)
{
    free(l->endpoint);
    free(l->file);
    memset(l, 0, sizeof(*l));
}

void brg_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const brg_kafka_logctx_t *l = rd_kafka_opaque(rk);
    brg_log_level_t lv = level <= 3 ? BRG_LOG_ERROR
                         : level == 4 ? BRG_LOG_WARN
                         : level <= 6 ? BRG_LOG_INFO
                                      : BRG_LOG_DEBUG;
    /* Property warnings ("a consumer property ignored by this producer") are expected: the
     * endpoint's `properties` go to both clients. */
    if (strcmp(fac, "CONFWARN") == 0) {
        lv = BRG_LOG_DEBUG;
    }
    /* Connection failures are retried by librdkafka forever; the endpoint's connection state
     * (/readyz, "disconnected: 3/3 brokers are down") is what says the cluster is out. */
    if (strcmp(fac, "FAIL") == 0 && lv == BRG_LOG_ERROR) {
        lv = BRG_LOG_WARN;
    }
    if (brg_log_enabled(lv)) {
        brg_log(lv, l ? &l->ctx : NULL, "librdkafka %s: %s", fac, buf);
    }
}

void brg_kafka_set_connected(brg_kafka_ep_t *k, bool up, const char *reason)
{
    if (k->connected == up) {
        return;
    }
    k->connected = up;
    brg_endpoint_set_connected(k->ep, up, reason);
}

void brg_kafka_on_error(brg_kafka_ep_t *k, rd_kafka_t *rk, int err, const char *reason)
{
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__RESOLVE) {
        brg_kafka_set_connected(k, false, reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        brg_log_error(&k->log.ctx, "fatal librdkafka error: %s: %s", rd_kafka_err2name(orig),
                      fatal);
        if (rk == k->producer) {
            k->producer_fatal = true;
        }
        return;
    }
    /* Transient errors (a broker disconnected, a request timed out) are retried by librdkafka
     * and already in its log lines. */
    brg_log_debug(&k->log.ctx, "librdkafka error: %s: %s", rd_kafka_err2name(err), reason);
}

/* ---- endpoint lifecycle --------------------------------------------------------------------- */

int brg_kafka_stop_budget_ms(const brg_kafka_ep_t *k, int want_ms)
{
    if (brg_endpoint_stop_deadline(k->ep) <= 0) {
        return want_ms;
    }
    int left = brg_endpoint_stop_budget_ms(k->ep, INT32_MAX) - BRG_KAFKA_TEARDOWN_MS;
    return left <= 0 ? 0 : left < want_ms ? left : want_ms;
}

static void kafka_close(void *state)
{
    brg_kafka_ep_t *k = state;
    if (!k) {
        return;
    }
    if (k->evfd[0] >= 0) {
        close(k->evfd[0]);
        close(k->evfd[1]);
    }
    brg_kafka_rows_free(k->rows, k->nrows);
    brg_kafka_gsync_rows_free(k->gsync_rows, k->ngsync_rows);
    pthread_mutex_destroy(&k->mlock);
    free(k->client_id);
    brg_buf_fini(&k->scratch_topic);
    brg_buf_fini(&k->scratch_key);
    brg_buf_fini(&k->scratch_part);
    brg_kafka_logctx_fini(&k->log);
    free(k);
}

static brg_err_t kafka_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    /* A consumer belongs to one group: two routes of one endpoint in the same group would
     * steal each other's partitions. */
    size_t n = brg_endpoint_source_count(ep);
    for (size_t i = 0; i < n; i++) {
        const char *gi = brg_conf_str(brg_source_conf(brg_endpoint_source(ep, i)), "group", "");
        for (size_t j = i + 1; j < n; j++) {
            brg_source_t *sj = brg_endpoint_source(ep, j);
            if (strcmp(gi, brg_conf_str(brg_source_conf(sj), "group", "")) == 0) {
                brg_errfmt(errstr, errstr_size,
                           "routes \"%s\" and \"%s\" read endpoint \"%s\" with the same group "
                           "\"%s\": give each route its own group",
                           brg_source_route_name(brg_endpoint_source(ep, i)),
                           brg_source_route_name(sj), brg_endpoint_name(ep), gi);
                return BRG_ERR_CONFIG;
            }
        }
    }
    brg_kafka_ep_t *k = brg_xcalloc(1, sizeof(*k));
    pthread_mutex_init(&k->mlock, NULL);
    k->ep = ep;
    k->cs = brg_endpoint_conf(ep);
    k->settings = brg_endpoint_settings(ep);
    brg_kafka_logctx_init(&k->log, brg_endpoint_logctx(ep));
    const char *cid = brg_conf_str(k->cs, "client_id", NULL);
    if (cid) {
        k->client_id = brg_xstrdup(cid);
    } else {
        const char *bid = brg_endpoint_bridge_id(ep);
        size_t len = strlen(bid ? bid : "") + strlen(brg_endpoint_name(ep)) + 16;
        k->client_id = brg_xmalloc(len);
        snprintf(k->client_id, len, "msgbridge-%s%s%s", bid ? bid : "", bid ? "-" : "",
                 brg_endpoint_name(ep));
    }
    k->flush_timeout_ms = (int)brg_conf_int(k->cs, "flush_timeout_ms", 10000);
    if (pipe2(k->evfd, O_NONBLOCK | O_CLOEXEC) != 0) {
        brg_errfmt(errstr, errstr_size, "pipe: %s", strerror(errno));
        k->evfd[0] = k->evfd[1] = -1;
        kafka_close(k);
        return BRG_ERR_IO;
    }
    *statep = k;
    return BRG_OK;
}

static void drain_fd(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

/* While disconnected, ask for metadata now and then: an idle endpoint has no traffic that
 * would tell us the cluster is back. Bounded to 200 ms, once a second. */
static void probe_connection(brg_kafka_ep_t *k)
{
    int64_t now = brg_now_ns();
    if (k->connected || now < k->next_probe_ns) {
        return;
    }
    k->next_probe_ns = now + 1000 * (int64_t)1000000;
    rd_kafka_t *rk = k->producer ? k->producer : brg_kafka_sources_handle(k);
    const struct rd_kafka_metadata *md;
    if (rk && rd_kafka_metadata(rk, 0, NULL, &md, 200) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        brg_kafka_set_connected(k, true, NULL);
    }
}

/* Publish what the routes handed to this endpoint's sink, serve its delivery reports, act on
 * the settles that came back for its sources and store the offsets they reached. */
static void serve_sinks_and_settles(brg_kafka_ep_t *k)
{
    brg_sink_t *sink;
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_publish(k->ep, &sink))) {
        brg_kafka_sink_publish(k, env, sink);
    }
    brg_kafka_sink_poll(k);

    brg_outcome_t outcome;
    while ((env = brg_endpoint_take_settled(k->ep, &outcome))) {
        brg_kafka_sources_settled(k, env, outcome);
    }
    brg_kafka_sources_flush_offsets(k);
}

void brg_kafka_serve_settles(brg_kafka_ep_t *k, int timeout_ms)
{
    struct pollfd pfd[2] = {
        {.fd = brg_endpoint_wakefd(k->ep), .events = POLLIN},
        {.fd = k->evfd[0], .events = POLLIN},
    };
    brg_endpoint_flush(k->ep); /* what this thread submitted reaches its routes */
    poll(pfd, 2, timeout_ms);
    if (pfd[1].revents & POLLIN) {
        drain_fd(k->evfd[0]);
    }
    brg_endpoint_clear_wake(k->ep);
    serve_sinks_and_settles(k);
}

static brg_err_t kafka_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    brg_kafka_ep_t *k = state;
    brg_err_t rc = BRG_OK;
    k->generation++;
    k->connected = false;
    k->next_probe_ns = 0;

    rc = brg_kafka_sink_start(k, errstr, errstr_size);
    if (rc == BRG_OK) {
        rc = brg_kafka_sources_start(k, errstr, errstr_size);
    }

    bool busy = false;
    while (rc == BRG_OK && !brg_endpoint_stopping(ep)) {
        struct pollfd pfd[2] = {
            {.fd = brg_endpoint_wakefd(ep), .events = POLLIN},
            {.fd = k->evfd[0], .events = POLLIN},
        };
        /* The 100 ms ceiling serves timers (retry pauses, connection probes) and is a safety
         * net: librdkafka signals a queue only when it turns non-empty. */
        brg_endpoint_flush(ep);
        poll(pfd, 2, busy ? 0 : 100);
        if (pfd[1].revents & POLLIN) {
            drain_fd(k->evfd[0]);
        }
        brg_endpoint_clear_wake(ep);
        brg_endpoint_sync_routes(ep);

        serve_sinks_and_settles(k);
        busy = brg_kafka_sources_poll(k);
        probe_connection(k);
        brg_kafka_sink_tick(k);

        if (k->producer_fatal) {
            brg_errfmt(errstr, errstr_size, "the idempotent producer hit a fatal error");
            rc = BRG_ERR_TRANSPORT;
        }
        /* The stall watchdog saw this endpoint hold work and move nothing: end this run as on
         * a fatal error, so the core starts it again with new librdkafka handles (what the
         * producer holds settles RETRY, the consumer resumes from its committed offsets). */
        char why[300];
        if (rc == BRG_OK && brg_endpoint_reconnect_requested(ep, why, sizeof(why))) {
            brg_errfmt(errstr, errstr_size, "%s", why);
            rc = BRG_ERR_TRANSPORT;
        }
    }

    /* Stop: confirm or settle what the producer holds, acknowledge what came back settled
     * (including what this endpoint's own producer just confirmed), commit, close. */
    brg_kafka_sink_stop(k);
    brg_envelope_t *env;
    brg_outcome_t outcome;
    while ((env = brg_endpoint_take_settled(ep, &outcome))) {
        brg_kafka_sources_settled(k, env, outcome);
    }
    brg_kafka_sources_stop(k);
    return rc;
}

/* ---- routes changed by a reload (adapter.h add_source) ---------------------------------------- */

static brg_err_t kafka_add_source(void *state, brg_source_t *src, char *errstr, size_t errstr_size)
{
    return brg_kafka_source_add(state, src, errstr, errstr_size);
}

static void kafka_remove_source(void *state, brg_source_t *src)
{
    brg_kafka_source_remove(state, src);
}

static brg_err_t kafka_add_sink(void *state, brg_sink_t *sink, char *errstr, size_t errstr_size)
{
    return brg_kafka_sink_add(state, sink, errstr, errstr_size);
}

static void kafka_remove_sink(void *state, brg_sink_t *sink)
{
    brg_kafka_sink_remove(state, sink);
}

/* ---- metrics ------------------------------------------------------------------------------- */

/* Per-partition gauges of every Kafka source, from the snapshot each endpoint thread keeps
 * (brg_kafka_sources_publish_metrics: at most 250 ms old). */
static void kafka_metrics(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out)
{
    static const struct {
        const char *name, *help;
    } fams[] = {
        {"msgbridge_kafka_consumer_lag_messages",
         "Records of a source partition not bridged yet: high watermark (as of the last fetch) "
         "minus the first offset not settled."},
        {"msgbridge_kafka_committed_offset",
         "The consumer group's committed offset of a source partition (the next record to "
         "read after a restart)."},
    };
    char rt[256], e[256], t[512];
    for (size_t f = 0; f < BRG_ARRAY_SIZE(fams); f++) {
        brg_metrics_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", fams[f].name, fams[f].help,
                           fams[f].name);
        for (size_t i = 0; i < n; i++) {
            brg_kafka_ep_t *k = brg_endpoint_state(eps[i]);
            brg_prom_label(brg_endpoint_name(eps[i]), e, sizeof(e));
            pthread_mutex_lock(&k->mlock);
            for (size_t j = 0; j < k->nrows; j++) {
                const brg_kafka_part_row_t *r = &k->rows[j];
                int64_t v = f == 0 ? r->lag : r->committed;
                if (v < 0) {
                    continue; /* not known yet */
                }
                brg_metrics_printf(out,
                                   "%s{route=\"%s\",endpoint=\"%s\",topic=\"%s\",partition=\"%d\"} "
                                   "%lld\n",
                                   fams[f].name, brg_prom_label(r->route, rt, sizeof(rt)), e,
                                   brg_prom_label(r->topic, t, sizeof(t)), (int)r->partition,
                                   (long long)v);
            }
            pthread_mutex_unlock(&k->mlock);
        }
    }
    brg_kafka_gsync_metrics(eps, n, out);
}

const brg_adapter_t brg_kafka_adapter = {
    .name = "kafka",
    .description = "Apache Kafka (librdkafka): consumer groups and an idempotent producer",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .source_window_bytes = BRG_KAFKA_WINDOW_BYTES,
    .source_record_cost = BRG_KAFKA_RECORD_COST,
    .endpoint_keys = endpoint_keys,
    .source_keys = source_keys,
    .sink_keys = sink_keys,
    .compile_endpoint = compile_endpoint,
    .free_settings = brg_kafka_settings_free,
    .check_source = check_source,
    .check_sink = check_sink,
    .open = kafka_open,
    .run = kafka_run,
    .wake = NULL,
    .close = kafka_close,
    .add_source = kafka_add_source,
    .remove_source = kafka_remove_source,
    .add_sink = kafka_add_sink,
    .remove_sink = kafka_remove_sink,
    .metrics = kafka_metrics,
};
