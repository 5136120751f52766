/* Consumer-group offset sync of a Kafka -> Kafka route (kafka_group_sync.h). A round takes the
 * named groups one after the other, each in three Admin API steps whose results are polled
 * from the endpoint thread's loop (nothing here waits):
 *   1. the group's committed offsets on the source (ListConsumerGroupOffsets);
 *   2. its committed offsets on the destination, for the partitions that translate;
 *   3. AlterConsumerGroupOffsets on the destination for those that are behind.
 * A live group is protected by the cluster itself: a commit from outside the group's
 * generation is refused (UNKNOWN_MEMBER_ID), by a real broker and by the test cluster alike;
 * it is counted and logged, never retried around. (DescribeConsumerGroups would tell first,
 * but librdkafka 2.0.2's client stops answering every later admin request once a cluster has
 * refused it as unsupported, as the test cluster does.) */
#include "adapters/kafka/kafka_group_sync.h"

#include <inttypes.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/kafka/kafka_topics.h"

/* An admin request's own timeout; a step with no answer long after it is given up. */
#define GSYNC_REQUEST_MS 10000
#define GSYNC_STEP_GIVE_UP_NS ((int64_t)(GSYNC_REQUEST_MS + 5000) * 1000000)
/* Reading the offset syncs back at start. */
#define GSYNC_READ_MS 5000

typedef enum { STEP_IDLE, STEP_LIST, STEP_SOURCE, STEP_DEST, STEP_ALTER } step_t;

/* One partition of the group being synced: its source position and its translation. */
typedef struct plan_row {
    char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
    char *dst_topic; /* a copy: the map's name goes if the destination topic changes */
    int32_t dst_partition;
    int64_t dst_offset;
    bool move;
} plan_row_t;

/* A partition's figure of the last round: how far behind its translation is. */
typedef struct part_lag {
    char *topic;
    int32_t partition;
    int64_t lag;
} part_lag_t;

typedef struct group_state {
    char *name;
    part_lag_t *lags; /* the partitions that translated in the last round */
    size_t nlags;
    bool active;        /* its last round was refused: live on the destination */
    bool error_logged;  /* a failure other than "active" logged since the last success */
    uint64_t moved, active_rounds;
    int64_t last_sync_ms; /* wall clock of the last round that completed, 0: never */
} group_state_t;

struct brg_kafka_group_sync {
    brg_sink_t *sink;
    brg_kafka_sync_map_t *syncs; /* the sink's */
    group_state_t *groups; /* the named ones, then those the patterns matched */
    size_t ngroups, cur;
    regex_t *patterns; /* the "^..." entries of sync_groups */
    size_t npatterns;
    bool list_failure_logged;
    int64_t interval_ns, next_ns, step_since_ns;
    step_t step;
    uintptr_t seq;           /* the request waited for (the admin options' opaque) */
    rd_kafka_t *src_rk;      /* a client of the source cluster */
    rd_kafka_queue_t *src_q; /* its admin results */
    rd_kafka_queue_t *dst_q; /* the producer's admin results */
    rd_kafka_t *list_rk;     /* with patterns: a client of the source that lists its groups */
    rd_kafka_queue_t *list_q;
    rd_kafka_topic_t *ckpt_rkt;
    plan_row_t *plan;
    size_t nplan;
    brg_buf_t key, value;
    bool changed; /* figures for /metrics not published yet */
};

/* ---- pure parts ------------------------------------------------------------------------------ */

brg_kafka_gsync_plan_t brg_kafka_gsync_plan(int64_t src_committed, bool translated,
                                            int64_t dst_offset, int64_t dst_committed)
{
    if (src_committed < 0 || !translated) {
        return BRG_GSYNC_NO_SYNC;
    }
    /* Never back: a group that already read further on the destination (it failed over, or
     * a consumer ran there) keeps its position. */
    return dst_committed >= dst_offset ? BRG_GSYNC_AHEAD : BRG_GSYNC_MOVE;
}

bool brg_kafka_gsync_group_active(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
           err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

void brg_kafka_checkpoint_encode(brg_buf_t *key, brg_buf_t *value, const char *group,
                                 const brg_kafka_sync_t *s)
{
    brg_buf_reset(key);
    brg_buf_printf(key, "%s/%s/%" PRId32, group, s->src_topic, s->src_partition);
    brg_buf_reset(value);
    brg_buf_str(value, "{\"group\": ");
    brg_buf_json_str(value, group);
    brg_buf_str(value, ", \"source_topic\": ");
    brg_buf_json_str(value, s->src_topic);
    brg_buf_printf(value, ", \"source_partition\": %" PRId32 ", \"source_offset\": %" PRId64
                          ", \"topic\": ",
                   s->src_partition, s->src_offset);
    brg_buf_json_str(value, s->dst_topic);
    brg_buf_printf(value, ", \"partition\": %" PRId32 ", \"offset\": %" PRId64 "}",
                   s->dst_partition, s->dst_offset);
}

const char *brg_kafka_checkpoints_topic(const brg_conf_node_t *to_cs, const char *route,
                                        char *buf, size_t size)
{
    const char *t = brg_conf_str(to_cs, "checkpoints_topic", NULL);
    if (t) {
        return t;
    }
    snprintf(buf, size, "%s.checkpoints", route);
    return buf;
}

/* ---- reading the offset syncs back ------------------------------------------------------------ */

int brg_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                               size_t n)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int count = -1;
    if (e) {
        snprintf(err, n, "topic \"%s\": %s", topic, rd_kafka_err2str(e));
    } else if (md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, n, "topic \"%s\": %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
    } else {
        count = md->topics[0].partition_cnt;
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return count;
}

bool brg_kafka_sync_read(rd_kafka_t *rk, const char *topic, brg_kafka_sync_map_t *m,
                         int timeout_ms, size_t *nread, char *err, size_t n)
{
    int parts = brg_kafka_topic_partitions(rk, topic, timeout_ms, err, n);
    if (parts < 0) {
        return false;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
    int64_t *end = brg_xcalloc((size_t)parts + 1, sizeof(*end));
    int open = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms);
        if (e) {
            snprintf(err, n, "topic \"%s\" partition %d: %s", topic, p, rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(list);
            free(end);
            return false;
        }
        end[p] = hi;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(list, topic, p)->offset = lo;
            open++;
        }
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    int64_t deadline = brg_now_ns() + (int64_t)timeout_ms * 1000000;
    while (open > 0 && brg_now_ns() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg) {
            continue;
        }
        if (!msg->err && msg->partition >= 0 && msg->partition < parts) {
            brg_kafka_sync_t s;
            char a[BRG_KAFKA_TOPIC_MAX + 1], b[BRG_KAFKA_TOPIC_MAX + 1];
            if (brg_kafka_sync_decode_value(msg->payload, msg->len, &s, a, b)) {
                brg_kafka_sync_add(m, &s);
                (*nread)++;
            }
            if (end[msg->partition] >= 0 && msg->offset + 1 >= end[msg->partition]) {
                end[msg->partition] = -1; /* read to the end */
                open--;
            }
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_assign(rk, NULL);
    free(end);
    if (open > 0) {
        snprintf(err, n, "topic \"%s\": not read to its end within %d s", topic, timeout_ms / 1000);
        return false;
    }
    return true;
}

/* At start: what a previous run of the route wrote, so that its groups translate at once. */
static void read_back(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g)
{
    const brg_conf_node_t *to = brg_sink_conf(g->sink);
    const char *route = brg_sink_route_name(g->sink);
    char buf[BRG_KAFKA_TOPIC_MAX + 1], reader[300], err[600] = "";
    snprintf(reader, sizeof(reader), "%s-syncs-reader", k->client_id);
    const char *topic = brg_kafka_sync_topic(to, route, buf, sizeof(buf));
    rd_kafka_t *rk = brg_kafka_peer_client(k, k->settings, reader, err, sizeof(err));
    size_t nread = 0;
    if (rk && brg_kafka_sync_read(rk, topic, g->syncs, GSYNC_READ_MS, &nread, err, sizeof(err))) {
        brg_log_info(&k->log.ctx, "route \"%s\": %zu offset syncs read back from \"%s\"", route,
                     nread, topic);
    } else {
        brg_log_warn(&k->log.ctx,
                     "route \"%s\": sync_groups: cannot read the offset syncs back from \"%s\" "
                     "(%s): groups translate once new syncs are made",
                     route, topic, err);
    }
    if (rk) {
        rd_kafka_destroy(rk);
    }
}

/* ---- life ------------------------------------------------------------------------------------- */

static void plan_clear(brg_kafka_group_sync_t *g)
{
    for (size_t i = 0; i < g->nplan; i++) {
        free(g->plan[i].src_topic);
        free(g->plan[i].dst_topic);
    }
    free(g->plan);
    g->plan = NULL;
    g->nplan = 0;
}

brg_kafka_group_sync_t *brg_kafka_group_sync_new(brg_kafka_ep_t *k, brg_sink_t *sink,
                                                 brg_kafka_sync_map_t *syncs)
{
    const brg_conf_node_t *to = brg_sink_conf(sink);
    const brg_conf_node_t *list = brg_conf_get(to, "sync_groups");
    const void *src_set = brg_sink_source_settings(sink);
    if (!list || list->nkids == 0 || !syncs || !src_set ||
        strcmp(brg_sink_source_type(sink), "kafka") != 0) {
        return NULL; /* sync_groups needs offset_syncs (checked at load) and a Kafka source */
    }
    brg_kafka_group_sync_t *g = brg_xcalloc(1, sizeof(*g));
    g->sink = sink;
    g->syncs = syncs;
    g->groups = brg_xcalloc(list->nkids, sizeof(*g->groups));
    g->patterns = brg_xcalloc(list->nkids, sizeof(*g->patterns));
    for (size_t i = 0; i < list->nkids; i++) {
        const char *s = list->kids[i]->type == BRG_CONF_STRING ? list->kids[i]->v.s : NULL;
        if (s && s[0] == '^') {
            /* Checked at load (kafka.c check_sink): it compiles. */
            if (regcomp(&g->patterns[g->npatterns], s, REG_EXTENDED | REG_NOSUB) == 0) {
                g->npatterns++;
            }
        } else if (s) {
            g->groups[g->ngroups++].name = brg_xstrdup(s);
        }
    }
    g->interval_ns = brg_conf_int(to, "sync_interval", 10) * (int64_t)1000000000;
    char err[600] = "";
    g->src_rk = brg_kafka_peer_client(k, src_set, NULL, err, sizeof(err));
    if (!g->src_rk) {
        brg_log_error(&k->log.ctx, "route \"%s\": sync_groups: no client of the source: %s",
                      brg_sink_route_name(sink), err);
    } else {
        g->src_q = rd_kafka_queue_new(g->src_rk);
        /* An answer wakes the endpoint thread's poll(2), as delivery reports do. */
        rd_kafka_queue_io_event_enable(g->src_q, k->evfd[1], "g", 1);
    }
    if (g->npatterns > 0) {
        /* A handle of its own: what a cluster that cannot list groups answers stays away from
         * the offsets' requests (librdkafka 2.0.2 leaves one 176-byte object of a handle
         * unfreed once it has sent ListConsumerGroups to such a cluster). */
        g->list_rk = brg_kafka_peer_client(k, src_set, NULL, err, sizeof(err));
        if (g->list_rk) {
            g->list_q = rd_kafka_queue_new(g->list_rk);
            rd_kafka_queue_io_event_enable(g->list_q, k->evfd[1], "g", 1);
        }
    }
    g->dst_q = rd_kafka_queue_new(k->producer);
    rd_kafka_queue_io_event_enable(g->dst_q, k->evfd[1], "g", 1);
    char buf[BRG_KAFKA_TOPIC_MAX + 1];
    g->ckpt_rkt = rd_kafka_topic_new(
        k->producer, brg_kafka_checkpoints_topic(to, brg_sink_route_name(sink), buf, sizeof(buf)),
        NULL);
    read_back(k, g);
    g->next_ns = brg_now_ns(); /* a first round at once */
    return g;
}

void brg_kafka_group_sync_free(brg_kafka_group_sync_t *g)
{
    if (!g) {
        return;
    }
    plan_clear(g);
    if (g->ckpt_rkt) {
        rd_kafka_topic_destroy(g->ckpt_rkt);
    }
    if (g->dst_q) {
        rd_kafka_queue_destroy(g->dst_q);
    }
    if (g->src_q) {
        rd_kafka_queue_destroy(g->src_q);
    }
    if (g->list_q) {
        rd_kafka_queue_destroy(g->list_q);
    }
    if (g->list_rk) {
        rd_kafka_destroy(g->list_rk);
    }
    if (g->src_rk) {
        rd_kafka_destroy(g->src_rk);
    }
    for (size_t i = 0; i < g->ngroups; i++) {
        free(g->groups[i].name);
        for (size_t j = 0; j < g->groups[i].nlags; j++) {
            free(g->groups[i].lags[j].topic);
        }
        free(g->groups[i].lags);
    }
    free(g->groups);
    for (size_t i = 0; i < g->npatterns; i++) {
        regfree(&g->patterns[i]);
    }
    free(g->patterns);
    brg_buf_fini(&g->key);
    brg_buf_fini(&g->value);
    free(g);
}

/* ---- a round ---------------------------------------------------------------------------------- */

/* A request's options: its timeout, and a number that tells its answer from a late answer to
 * one given up on. */
static rd_kafka_AdminOptions_t *options(brg_kafka_group_sync_t *g, rd_kafka_t *rk,
                                        rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, GSYNC_REQUEST_MS, NULL, 0);
    rd_kafka_AdminOptions_set_opaque(o, (void *)++g->seq);
    return o;
}

static void add_source(void *arg, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_add(arg, topic, partition);
}

/* Ask for the next group's source offsets, or end the round. */
static void next_group(brg_kafka_group_sync_t *g, bool first)
{
    plan_clear(g);
    g->cur = first ? 0 : g->cur + 1;
    if (g->cur >= g->ngroups || !g->src_rk) {
        g->step = STEP_IDLE;
        g->next_ns = brg_now_ns() + g->interval_ns;
        return;
    }
    /* The partitions that can translate: those with a sync. (Asking for all of a group's
     * partitions, NULL, gets nothing from the test cluster.) */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    if (brg_kafka_sync_map_sources(g->syncs, add_source, parts) == 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        g->step = STEP_IDLE; /* nothing copied yet: nothing to translate */
        g->next_ns = brg_now_ns() + g->interval_ns;
        return;
    }
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(g->groups[g->cur].name, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_AdminOptions_t *o = options(g, g->src_rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(g->src_rk, &req, 1, o, g->src_q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    g->step = STEP_SOURCE;
    g->step_since_ns = brg_now_ns();
}

/* A round starts by listing the source's groups when sync_groups has patterns. */
static void start_round(brg_kafka_group_sync_t *g)
{
    if (!g->list_rk) {
        next_group(g, true);
        return;
    }
    rd_kafka_AdminOptions_t *o = options(g, g->list_rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(g->list_rk, o, g->list_q);
    rd_kafka_AdminOptions_destroy(o);
    g->step = STEP_LIST;
    g->step_since_ns = brg_now_ns();
}

static bool known_group(const brg_kafka_group_sync_t *g, const char *name)
{
    for (size_t i = 0; i < g->ngroups; i++) {
        if (strcmp(g->groups[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool pattern_match(const brg_kafka_group_sync_t *g, const char *name)
{
    for (size_t i = 0; i < g->npatterns; i++) {
        if (regexec(&g->patterns[i], name, 0, NULL, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* The source's groups listed: those the patterns match join the round (and stay). */
static void on_list(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, rd_kafka_event_t *ev)
{
    const rd_kafka_ListConsumerGroups_result_t *r = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t n = 0, nerr = 0;
    const rd_kafka_ConsumerGroupListing_t **l = r ? rd_kafka_ListConsumerGroups_result_valid(r, &n) : NULL;
    const rd_kafka_error_t **errs = r ? rd_kafka_ListConsumerGroups_result_errors(r, &nerr) : NULL;
    const char *why = rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                      : nerr > 0                ? rd_kafka_error_string(errs[0])
                                                : NULL;
    if (why && !g->list_failure_logged) {
        /* The test cluster (no ListGroups) ends here: "Required feature not supported by
         * broker". */
        g->list_failure_logged = true;
        brg_log_warn(&k->log.ctx,
                     "route \"%s\": sync_groups: cannot list the source's consumer groups for "
                     "the patterns: %s (only the groups named are synced; tried again every "
                     "sync_interval; logged once)",
                     brg_sink_route_name(g->sink), why);
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = rd_kafka_ConsumerGroupListing_group_id(l[i]);
        if (name && pattern_match(g, name) && !known_group(g, name)) {
            g->groups = brg_xrealloc(g->groups, (g->ngroups + 1) * sizeof(*g->groups));
            g->groups[g->ngroups++] = (group_state_t){.name = brg_xstrdup(name)};
            brg_log_info(&k->log.ctx, "route \"%s\": sync_groups: group \"%s\" matched: synced",
                         brg_sink_route_name(g->sink), name);
        }
    }
    next_group(g, true);
}

/* A failure of this group's round other than "active": logged once until a round succeeds. */
static void group_failed(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, const char *what,
                         const char *why)
{
    group_state_t *gs = &g->groups[g->cur];
    if (!gs->error_logged) {
        gs->error_logged = true;
        brg_log_warn(&k->log.ctx,
                     "route \"%s\": sync_groups: group \"%s\": %s: %s (tried again every "
                     "sync_interval; logged once)",
                     brg_sink_route_name(g->sink), gs->name, what, why);
    }
}

/* The group's partitions of an admin result event, or NULL (a failure, logged). */
static const rd_kafka_topic_partition_list_t *
group_partitions(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, rd_kafka_event_t *ev,
                 const char *what)
{
    if (rd_kafka_event_error(ev)) {
        group_failed(k, g, what, rd_kafka_event_error_string(ev));
        return NULL;
    }
    size_t n = 0;
    const rd_kafka_group_result_t **gr = NULL;
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT:
        gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        break;
    case RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT:
        gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        break;
    default: break;
    }
    if (n < 1) {
        group_failed(k, g, what, "no result for the group");
        return NULL;
    }
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
    if (e) {
        group_failed(k, g, what, rd_kafka_error_string(e));
        return NULL;
    }
    return rd_kafka_group_result_partitions(gr[0]);
}

/* The group's figures of this round, for /metrics. */
static void note_lags(brg_kafka_group_sync_t *g)
{
    group_state_t *gs = &g->groups[g->cur];
    for (size_t j = 0; j < gs->nlags; j++) {
        free(gs->lags[j].topic);
    }
    gs->lags = brg_xrealloc(gs->lags, (g->nplan + 1) * sizeof(*gs->lags));
    gs->nlags = 0;
    for (size_t i = 0; i < g->nplan; i++) {
        const plan_row_t *r = &g->plan[i];
        gs->lags[gs->nlags++] = (part_lag_t){
            brg_xstrdup(r->src_topic), r->src_partition,
            brg_kafka_sync_behind(g->syncs, r->src_topic, r->src_partition, r->src_offset)};
    }
    g->changed = true;
}

/* Step 1 answered: translate each committed source offset. */
static void on_source(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, rd_kafka_event_t *ev)
{
    const rd_kafka_topic_partition_list_t *l = group_partitions(k, g, ev, "reading its offsets on the source");
    if (!l) {
        next_group(g, false);
        return;
    }
    g->plan = brg_xcalloc((size_t)l->cnt + 1, sizeof(*g->plan));
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        plan_row_t r = {.src_partition = tp->partition, .src_offset = tp->offset};
        const char *dst_topic;
        if (tp->err || tp->offset < 0 ||
            !brg_kafka_sync_translate(g->syncs, tp->topic, tp->partition, tp->offset,
                                      &dst_topic, &r.dst_partition, &r.dst_offset)) {
            continue; /* not committed, or not copied by this route (yet) */
        }
        r.src_topic = brg_xstrdup(tp->topic);
        r.dst_topic = brg_xstrdup(dst_topic);
        g->plan[g->nplan++] = r;
    }
    brg_log_debug(&k->log.ctx, "route \"%s\": sync_groups: group \"%s\": %d partitions "
                  "committed on the source, %zu translate",
                  brg_sink_route_name(g->sink), g->groups[g->cur].name, l->cnt, g->nplan);
    if (g->nplan == 0) {
        note_lags(g);
        g->groups[g->cur].last_sync_ms = brg_wall_ms();
        next_group(g, false);
        return;
    }
    rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new((int)g->nplan);
    for (size_t i = 0; i < g->nplan; i++) {
        /* Once each: a request naming a partition twice is refused whole. */
        if (!rd_kafka_topic_partition_list_find(want, g->plan[i].dst_topic,
                                                g->plan[i].dst_partition)) {
            rd_kafka_topic_partition_list_add(want, g->plan[i].dst_topic,
                                              g->plan[i].dst_partition);
        }
    }
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(g->groups[g->cur].name, want);
    rd_kafka_AdminOptions_t *o = options(g, k->producer, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(k->producer, &req, 1, o, g->dst_q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_topic_partition_list_destroy(want);
    g->step = STEP_DEST;
    g->step_since_ns = brg_now_ns();
}

/* Checkpoint records for every partition that translated this round. */
static void write_checkpoints(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g)
{
    for (size_t i = 0; i < g->nplan; i++) {
        const plan_row_t *r = &g->plan[i];
        brg_kafka_sync_t s = {r->src_topic, r->src_partition, r->src_offset,
                              r->dst_topic, r->dst_partition, r->dst_offset};
        brg_kafka_checkpoint_encode(&g->key, &g->value, g->groups[g->cur].name, &s);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->producer, RD_KAFKA_V_RKT(g->ckpt_rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(g->key.data, g->key.len), RD_KAFKA_V_VALUE(g->value.data, g->value.len),
            RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->outstanding++; /* its delivery report has no envelope (kafka_sink.c dr_msg_cb) */
        }
    }
}

/* The round of this group is over: checkpoints, figures, the next group. ok: it ended without
 * a failure (the time of the last sync, and a failure logged again when it comes back). */
static void group_done(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, uint64_t moved, bool ok)
{
    group_state_t *gs = &g->groups[g->cur];
    write_checkpoints(k, g);
    note_lags(g);
    gs->moved += moved;
    if (ok) {
        gs->error_logged = false;
        gs->last_sync_ms = brg_wall_ms();
    }
    next_group(g, false);
}

/* Step 2 answered: keep what is behind on the destination, and move it. */
static void on_dest(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, rd_kafka_event_t *ev)
{
    const rd_kafka_topic_partition_list_t *l =
        group_partitions(k, g, ev, "reading its offsets on the destination");
    if (!l) {
        next_group(g, false);
        return;
    }
    rd_kafka_topic_partition_list_t *alter = rd_kafka_topic_partition_list_new((int)g->nplan);
    for (size_t i = 0; i < g->nplan; i++) {
        plan_row_t *r = &g->plan[i];
        const rd_kafka_topic_partition_t *d =
            rd_kafka_topic_partition_list_find(l, r->dst_topic, r->dst_partition);
        if (!d || d->err) {
            continue; /* not known there: moving it could move it back */
        }
        r->move = brg_kafka_gsync_plan(r->src_offset, true, r->dst_offset,
                                       d->offset >= 0 ? d->offset : -1) == BRG_GSYNC_MOVE;
        if (!r->move) {
            continue;
        }
        /* Two source partitions written to one destination partition: the lower offset,
         * which skips nothing of either. */
        rd_kafka_topic_partition_t *a =
            rd_kafka_topic_partition_list_find(alter, r->dst_topic, r->dst_partition);
        if (!a) {
            a = rd_kafka_topic_partition_list_add(alter, r->dst_topic, r->dst_partition);
            a->offset = r->dst_offset;
        } else if (r->dst_offset < a->offset) {
            a->offset = r->dst_offset;
        }
    }
    if (alter->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(alter);
        group_done(k, g, 0, true);
        return;
    }
    rd_kafka_AlterConsumerGroupOffsets_t *req =
        rd_kafka_AlterConsumerGroupOffsets_new(g->groups[g->cur].name, alter);
    rd_kafka_AdminOptions_t *o = options(g, k->producer, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(k->producer, &req, 1, o, g->dst_q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_topic_partition_list_destroy(alter);
    g->step = STEP_ALTER;
    g->step_since_ns = brg_now_ns();
}

/* Step 3 answered: moved, or refused because the group is live there. */
static void on_alter(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g, rd_kafka_event_t *ev)
{
    const rd_kafka_topic_partition_list_t *l =
        group_partitions(k, g, ev, "committing on the destination");
    if (!l) {
        next_group(g, false);
        return;
    }
    group_state_t *gs = &g->groups[g->cur];
    uint64_t moved = 0;
    bool active = false;
    rd_kafka_resp_err_t other = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_resp_err_t e = l->elems[i].err;
        if (!e) {
            moved++;
        } else if (brg_kafka_gsync_group_active(e)) {
            active = true;
        } else {
            other = e;
        }
    }
    const char *route = brg_sink_route_name(g->sink);
    if (active != gs->active) {
        if (active) {
            brg_log_info(&k->log.ctx,
                         "route \"%s\": sync_groups: group \"%s\" has live members on endpoint "
                         "\"%s\": its offsets there are left alone while it does",
                         route, gs->name, brg_endpoint_name(k->ep));
        } else {
            brg_log_info(&k->log.ctx,
                         "route \"%s\": sync_groups: group \"%s\" has no live member on endpoint "
                         "\"%s\" any more: its offsets are synced again",
                         route, gs->name, brg_endpoint_name(k->ep));
        }
        gs->active = active;
    }
    if (active) {
        gs->active_rounds++;
    }
    if (other) {
        group_failed(k, g, "committing on the destination", rd_kafka_err2str(other));
    }
    group_done(k, g, moved, !other);
}

void brg_kafka_group_sync_poll(brg_kafka_ep_t *k, brg_kafka_group_sync_t *g)
{
    if (!g) {
        return;
    }
    int64_t now = brg_now_ns();
    if (g->step == STEP_IDLE) {
        if (now >= g->next_ns) {
            start_round(g);
        }
        return;
    }
    rd_kafka_queue_t *q = g->step == STEP_LIST     ? g->list_q
                          : g->step == STEP_SOURCE ? g->src_q
                                                   : g->dst_q;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 0);
    if (ev && (uintptr_t)rd_kafka_event_opaque(ev) != g->seq) {
        rd_kafka_event_destroy(ev); /* the late answer to a request given up on */
        return;
    }
    if (!ev) {
        if (now - g->step_since_ns <= GSYNC_STEP_GIVE_UP_NS) {
            return;
        }
        if (g->step == STEP_LIST) {
            next_group(g, true); /* the named groups all the same */
            return;
        }
        group_failed(k, g, "no answer", "the cluster did not answer the admin request");
        next_group(g, false);
        return;
    }
    brg_log_debug(&k->log.ctx, "route \"%s\": sync_groups: step %d (group \"%s\") answered: %s",
                  brg_sink_route_name(g->sink), (int)g->step,
                  g->step == STEP_LIST ? "" : g->groups[g->cur].name, rd_kafka_event_name(ev));
    switch (g->step) {
    case STEP_LIST: on_list(k, g, ev); break;
    case STEP_SOURCE: on_source(k, g, ev); break;
    case STEP_DEST: on_dest(k, g, ev); break;
    case STEP_ALTER: on_alter(k, g, ev); break;
    case STEP_IDLE: break;
    }
    rd_kafka_event_destroy(ev);
}

/* ---- /metrics ------------------------------------------------------------------------------- */

bool brg_kafka_group_sync_take_changed(brg_kafka_group_sync_t *g)
{
    bool was = g->changed;
    g->changed = false;
    return was;
}

void brg_kafka_group_sync_rows(const brg_kafka_group_sync_t *g, brg_kafka_gsync_row_t **rows,
                               size_t *n)
{
    const char *route = brg_sink_route_name(g->sink);
    for (size_t i = 0; i < g->ngroups; i++) {
        const group_state_t *gs = &g->groups[i];
        *rows = brg_xrealloc(*rows, (*n + 1 + gs->nlags) * sizeof(**rows));
        (*rows)[(*n)++] = (brg_kafka_gsync_row_t){
            .route = brg_xstrdup(route), .group = brg_xstrdup(gs->name),
            .last_sync_ms = gs->last_sync_ms, .live = gs->active,
            .live_rounds = gs->active_rounds, .moved = gs->moved};
        for (size_t j = 0; j < gs->nlags; j++) {
            if (gs->lags[j].lag < 0) {
                continue;
            }
            (*rows)[(*n)++] = (brg_kafka_gsync_row_t){
                .route = brg_xstrdup(route), .group = brg_xstrdup(gs->name),
                .topic = brg_xstrdup(gs->lags[j].topic), .partition = gs->lags[j].partition,
                .lag = gs->lags[j].lag};
        }
    }
}

void brg_kafka_gsync_rows_free(brg_kafka_gsync_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].route);
        free(rows[i].group);
        free(rows[i].topic);
    }
    free(rows);
}

/* The families, in the order printed: each a gauge or counter of one row field. */
enum { M_LAG, M_LAST, M_LIVE, M_LIVE_ROUNDS, M_MOVED, M_COUNT };

static void print_row(struct brg_metrics_out *out, int f, const char *name,
                      const brg_kafka_gsync_row_t *r, const char *e)
{
    char rt[256], gr[512], t[512];
    brg_prom_label(r->route, rt, sizeof(rt));
    brg_prom_label(r->group, gr, sizeof(gr));
    if (f == M_LAG) {
        brg_metrics_printf(out,
                           "%s{route=\"%s\",endpoint=\"%s\",group=\"%s\",topic=\"%s\","
                           "partition=\"%d\"} %lld\n",
                           name, rt, e, gr, brg_prom_label(r->topic, t, sizeof(t)),
                           (int)r->partition, (long long)r->lag);
        return;
    }
    if (f == M_LAST && r->last_sync_ms == 0) {
        return; /* no round done yet */
    }
    char v[32];
    switch (f) {
    case M_LAST: snprintf(v, sizeof(v), "%.3f", (double)r->last_sync_ms / 1000.0); break;
    case M_LIVE: snprintf(v, sizeof(v), "%d", r->live ? 1 : 0); break;
    case M_LIVE_ROUNDS: snprintf(v, sizeof(v), "%llu", (unsigned long long)r->live_rounds); break;
    default: snprintf(v, sizeof(v), "%llu", (unsigned long long)r->moved); break;
    }
    brg_metrics_printf(out, "%s{route=\"%s\",endpoint=\"%s\",group=\"%s\"} %s\n", name, rt, e,
                       gr, v);
}

void brg_kafka_gsync_metrics(brg_endpoint_t *const *eps, size_t n, struct brg_metrics_out *out)
{
    static const struct {
        const char *name, *type, *help;
    } fams[M_COUNT] = {
        [M_LAG] = {"msgbridge_kafka_group_sync_lag_records", "gauge",
                   "Records a consumer group failing over to the destination would read again "
                   "at most, per source partition: its committed offset minus the offset sync "
                   "its translation comes from (last sync round)."},
        [M_LAST] = {"msgbridge_kafka_group_sync_last_timestamp_seconds", "gauge",
                    "When the group's last offset sync round ended (Unix time)."},
        [M_LIVE] = {"msgbridge_kafka_group_sync_live", "gauge",
                    "1 while the group has live members on the destination, which refuses to "
                    "have its offsets moved: not synced."},
        [M_LIVE_ROUNDS] = {"msgbridge_kafka_group_sync_skipped_live_total", "counter",
                           "Sync rounds in which the group was not moved because it had live "
                           "members on the destination."},
        [M_MOVED] = {"msgbridge_kafka_group_sync_commits_total", "counter",
                     "Partition offsets of the group committed on the destination."},
    };
    for (int f = 0; f < M_COUNT; f++) {
        bool header = false;
        for (size_t i = 0; i < n; i++) {
            brg_kafka_ep_t *k = brg_endpoint_state(eps[i]);
            char e[256];
            brg_prom_label(brg_endpoint_name(eps[i]), e, sizeof(e));
            pthread_mutex_lock(&k->mlock);
            for (size_t j = 0; j < k->ngsync_rows; j++) {
                const brg_kafka_gsync_row_t *r = &k->gsync_rows[j];
                if ((f == M_LAG) != (r->topic != NULL)) {
                    continue;
                }
                if (!header) {
                    brg_metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[f].name,
                                       fams[f].help, fams[f].name, fams[f].type);
                    header = true;
                }
                print_row(out, f, fams[f].name, r, e);
            }
            pthread_mutex_unlock(&k->mlock);
        }
    }
}
