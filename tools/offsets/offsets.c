/* `msgbridge offsets`: where a consumer group goes on the destination cluster of a Kafka ->
 * Kafka route, for an operator failing over by hand (docs/kafka.md, "Failover"). It reads the
 * route's offset syncs from the destination, the group's committed offsets on the source, and
 * prints the translation of each partition (adapters/kafka/kafka_offset_sync.h: never skips a
 * record). It commits nothing and joins no group. Linked into msgbridge when the Kafka adapter
 * is; uses the endpoint's client settings as the load compiled them, so TLS and SASL apply. */
#include "tools/offsets/offsets.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "adapters/kafka/kafka.h"
#include "adapters/kafka/kafka_group_sync.h"
#include "adapters/kafka/kafka_offset_sync.h"
#include "bridge/buf.h"
#include "bridge/clock.h"
#include "bridge/conf.h"

enum { OK = 0, FAILED = 1, USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out, "usage: msgbridge offsets [-c FILE] --route NAME --group GROUP [--json] "
                 "[--timeout SECONDS]\n"
                 "  prints, for each partition of the route's source topics, the offset the\n"
                 "  consumer group GROUP continues from on the route's destination (the route\n"
                 "  writes offset syncs: `offset_syncs = true` in its `to`). Commits nothing.\n");
}

/* The settings the load compiled for the endpoint ep_cs (a Kafka endpoint of conf). */
static const brg_kafka_settings_t *settings_of(const brg_conf_t *conf, const brg_conf_node_t *ep_cs)
{
    for (size_t i = 0; i < conf->nendpoints; i++) {
        if (conf->endpoints[i] == ep_cs) {
            return brg_conf_endpoint_settings(conf, i);
        }
    }
    return NULL;
}

/* A client of an endpoint's cluster with the endpoint's own settings. group: the group whose
 * committed offsets are read, or a name of this process's own (librdkafka's assign and poll
 * need one); it never joins a group and never commits. */
static rd_kafka_t *client(const brg_kafka_settings_t *set, const char *group, char *err, size_t n)
{
    rd_kafka_conf_t *c = brg_kafka_settings_conf(set, BRG_KAFKA_CONSUMER_ROLE, "msgbridge-offsets");
    if ((group && rd_kafka_conf_set(c, "group.id", group, err, n) != RD_KAFKA_CONF_OK) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, n) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(c, "log_level", "3", err, n) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, n);
    if (!rk) {
        rd_kafka_conf_destroy(c);
    }
    return rk;
}

typedef struct out_row {
    const char *topic;
    int32_t partition;
    int64_t committed; /* -1: none */
    const char *dst_topic;
    int32_t dst_partition;
    int64_t offset; /* -1: no translation */
} out_row_t;

/* s as a JSON string (quotes included). */
static void json_str(const char *s)
{
    brg_buf_t b = {0};
    brg_buf_json_str(&b, s);
    fwrite(b.data, 1, b.len, stdout);
    brg_buf_fini(&b);
}

static void print_row(const out_row_t *r, const char *group, bool json, bool first)
{
    if (json) {
        /* Topic names are [A-Za-z0-9._-]: nothing to escape. */
        printf("%s\n    {\"topic\": \"%s\", \"partition\": %" PRId32 ", \"committed\": ",
               first ? "" : ",", r->topic, r->partition);
        r->committed >= 0 ? printf("%" PRId64, r->committed) : printf("null");
        if (r->offset >= 0) {
            printf(", \"destination_topic\": \"%s\", \"destination_partition\": %" PRId32
                   ", \"offset\": %" PRId64 "}",
                   r->dst_topic, r->dst_partition, r->offset);
        } else {
            printf(", \"offset\": null, \"start\": \"%s\"}",
                   r->committed < 0 ? "auto.offset.reset" : "earliest");
        }
        return;
    }
    if (r->committed < 0) {
        printf("%s[%" PRId32 "]: no committed offset for group \"%s\" (it starts as its "
               "auto.offset.reset says)\n",
               r->topic, r->partition, group);
    } else if (r->offset < 0) {
        printf("%s[%" PRId32 "]: committed %" PRId64 " -> no sync at or before it: start from the "
               "earliest offset (re-reads, skips nothing)\n",
               r->topic, r->partition, r->committed);
    } else {
        printf("%s[%" PRId32 "]: committed %" PRId64 " -> %s[%" PRId32 "] offset %" PRId64 "\n",
               r->topic, r->partition, r->committed, r->dst_topic, r->dst_partition, r->offset);
    }
}

/* The route's literal source topics (a pattern cannot be listed without the cluster's topics:
 * refused). Returns: the count, or -1 (err set). */
static int source_topics(const brg_conf_node_t *from, const char **out, int max, char *err,
                         size_t n)
{
    int count = 0;
    const char *one = brg_conf_str(from, "topic", NULL);
    if (one) {
        out[count++] = one;
    }
    const brg_conf_node_t *list = brg_conf_get(from, "topics");
    for (size_t i = 0; list && i < list->nkids && count < max; i++) {
        if (list->kids[i]->type == BRG_CONF_STRING) {
            out[count++] = list->kids[i]->v.s;
        }
    }
    for (int i = 0; i < count; i++) {
        if (out[i][0] == '^') {
            snprintf(err, n, "the route subscribes to a pattern (\"%s\"): not supported here",
                     out[i]);
            return -1;
        }
    }
    return count;
}

static int run(const brg_conf_t *conf, const char *route, const char *group, bool json,
               int timeout_ms)
{
    const brg_conf_route_t *r = NULL;
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (strcmp(conf->routes[i].name, route) == 0) {
            r = &conf->routes[i];
        }
    }
    if (!r) {
        fprintf(stderr, "msgbridge offsets: no route \"%s\" in %s\n", route, conf->file);
        return FAILED;
    }
    const brg_conf_node_t *src_ep = brg_conf_endpoint(conf, brg_conf_str(r->from, "endpoint", ""));
    const brg_conf_node_t *to = NULL;
    for (size_t i = 0; i < r->nto && !to; i++) {
        if (brg_conf_bool(r->to[i], "offset_syncs", false)) {
            to = r->to[i];
        }
    }
    const brg_conf_node_t *dst_ep = to ? brg_conf_endpoint(conf, brg_conf_str(to, "endpoint", "")) : NULL;
    if (!src_ep || strcmp(brg_conf_str(src_ep, "type", ""), "kafka") != 0 || !dst_ep ||
        strcmp(brg_conf_str(dst_ep, "type", ""), "kafka") != 0) {
        fprintf(stderr,
                "msgbridge offsets: route \"%s\" is not a Kafka -> Kafka route with "
                "offset_syncs = true in its `to`\n",
                route);
        return FAILED;
    }
    char buf[BRG_KAFKA_TOPIC_MAX + 1], err[600];
    const char *syncs_topic = brg_kafka_sync_topic(to, route, buf, sizeof(buf));
    const char *topics[64];
    int ntopics = source_topics(r->from, topics, 64, err, sizeof(err));
    if (ntopics < 0) {
        fprintf(stderr, "msgbridge offsets: route \"%s\": %s\n", route, err);
        return FAILED;
    }

    int rc = FAILED;
    brg_kafka_sync_map_t *m = brg_kafka_sync_map_new();
    char reader[64];
    snprintf(reader, sizeof(reader), "msgbridge-offsets-%ld", (long)getpid());
    rd_kafka_t *dst = client(settings_of(conf, dst_ep), reader, err, sizeof(err));
    rd_kafka_t *src = dst ? client(settings_of(conf, src_ep), group, err, sizeof(err)) : NULL;
    size_t nsyncs = 0;
    if (!src || !brg_kafka_sync_read(dst, syncs_topic, m, timeout_ms, &nsyncs, err, sizeof(err))) {
        fprintf(stderr, "msgbridge offsets: %s\n", err);
        goto out;
    }
    if (json) {
        printf("{\"route\": ");
        json_str(route);
        printf(", \"group\": ");
        json_str(group);
        printf(", \"syncs_read\": %zu, \"partitions\": [", nsyncs);
    } else {
        printf("route \"%s\", group \"%s\": %zu offset syncs read from \"%s\"\n", route, group,
               nsyncs, syncs_topic);
    }
    bool first = true;
    for (int t = 0; t < ntopics; t++) {
        int parts = brg_kafka_topic_partitions(src, topics[t], timeout_ms, err, sizeof(err));
        if (parts < 0) {
            fprintf(stderr, "msgbridge offsets: %s\n", err);
            goto out;
        }
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++) {
            rd_kafka_topic_partition_list_add(list, topics[t], p);
        }
        rd_kafka_resp_err_t e = rd_kafka_committed(src, list, timeout_ms);
        if (e) {
            fprintf(stderr, "msgbridge offsets: group \"%s\": %s\n", group, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(list);
            goto out;
        }
        for (int i = 0; i < list->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &list->elems[i];
            out_row_t row = {topics[t], tp->partition, tp->offset >= 0 ? tp->offset : -1,
                             NULL, -1, -1};
            if (row.committed >= 0 &&
                !brg_kafka_sync_translate(m, row.topic, row.partition, row.committed,
                                          &row.dst_topic, &row.dst_partition, &row.offset)) {
                row.offset = -1;
            }
            print_row(&row, group, json, first);
            first = false;
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
    if (json) {
        printf("\n]}\n");
    }
    rc = OK;
out:
    if (src) {
        rd_kafka_destroy(src);
    }
    if (dst) {
        rd_kafka_destroy(dst);
    }
    brg_kafka_sync_map_free(m);
    return rc;
}

int brg_offsets_main(int argc, char **argv, const char *default_conf)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"route", required_argument, NULL, 'r'},
        {"group", required_argument, NULL, 'g'},  {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = default_conf, *route = NULL, *group = NULL;
    bool json = false;
    int timeout_s = 10, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:g:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'r': route = optarg; break;
        case 'g': group = optarg; break;
        case 'j': json = true; break;
        case 'T': timeout_s = atoi(optarg); break;
        case 'h': usage(stdout); return OK;
        default: usage(stderr); return USAGE;
        }
    }
    if (!route || !group || optind < argc || timeout_s < 1) {
        usage(stderr);
        return USAGE;
    }
    brg_conf_t *conf = brg_conf_load_report(path, stderr, NULL);
    if (!conf) {
        fprintf(stderr, "msgbridge offsets: %s has errors\n", path);
        return FAILED;
    }
    int rc = run(conf, route, group, json, timeout_s * 1000);
    brg_conf_destroy(conf);
    return rc;
}
