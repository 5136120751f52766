/* Offset syncs of a Kafka -> Kafka route: see kafka_offset_sync.h. */
#include "adapters/kafka/kafka_offset_sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/conf_node.h"
#include "bridge/err.h"

/* One source partition: its destination and the ring of its last syncs (source offsets only
 * grow, so the ring is sorted oldest first from `head`). */
typedef struct sync_part {
    char *src_topic;
    int32_t src_partition;
    char *dst_topic;
    int32_t dst_partition;
    int64_t src[BRG_KAFKA_SYNC_HISTORY], dst[BRG_KAFKA_SYNC_HISTORY];
    size_t head, n;
} sync_part_t;

struct brg_kafka_sync_map {
    sync_part_t **slots; /* open addressing by (topic, partition) */
    size_t cap, used;
    sync_part_t *last; /* delivery reports come in runs of one partition */
};

static uint64_t part_hash(const char *topic, int32_t partition)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)topic; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return (h ^ (uint64_t)(uint32_t)partition) * 1099511628211ULL;
}

brg_kafka_sync_map_t *brg_kafka_sync_map_new(void)
{
    brg_kafka_sync_map_t *m = brg_xcalloc(1, sizeof(*m));
    m->cap = 64;
    m->slots = brg_xcalloc(m->cap, sizeof(*m->slots));
    return m;
}

size_t brg_kafka_sync_map_sources(const brg_kafka_sync_map_t *m, brg_kafka_sync_source_fn fn,
                                  void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i] && m->slots[i]->n > 0) {
            fn(arg, m->slots[i]->src_topic, m->slots[i]->src_partition);
            n++;
        }
    }
    return n;
}

void brg_kafka_sync_map_free(brg_kafka_sync_map_t *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i]) {
            free(m->slots[i]->src_topic);
            free(m->slots[i]->dst_topic);
            free(m->slots[i]);
        }
    }
    free(m->slots);
    free(m);
}

static sync_part_t **slot_of(sync_part_t **slots, size_t cap, const char *topic, int32_t partition)
{
    size_t i = (size_t)part_hash(topic, partition) & (cap - 1);
    while (slots[i] &&
           (slots[i]->src_partition != partition || strcmp(slots[i]->src_topic, topic) != 0)) {
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

static sync_part_t *find(const brg_kafka_sync_map_t *m, const char *topic, int32_t partition)
{
    if (m->last && m->last->src_partition == partition && strcmp(m->last->src_topic, topic) == 0) {
        return m->last;
    }
    return *slot_of(m->slots, m->cap, topic, partition);
}

static sync_part_t *find_or_add(brg_kafka_sync_map_t *m, const char *topic, int32_t partition)
{
    sync_part_t *p = find(m, topic, partition);
    if (p) {
        return m->last = p;
    }
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap * 2;
        sync_part_t **slots = brg_xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i]) {
                *slot_of(slots, cap, m->slots[i]->src_topic, m->slots[i]->src_partition) =
                    m->slots[i];
            }
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    p = brg_xcalloc(1, sizeof(*p));
    p->src_topic = brg_xstrdup(topic);
    p->src_partition = partition;
    *slot_of(m->slots, m->cap, topic, partition) = p;
    m->used++;
    return m->last = p;
}

static size_t newest(const sync_part_t *p) { return (p->head + p->n - 1) % BRG_KAFKA_SYNC_HISTORY; }

/* Append a sync; a new destination (the route's topic template rendered another name) starts
 * the history again: older pairs say nothing about it. */
static void push(sync_part_t *p, int64_t src, const char *dst_topic, int32_t dst_partition,
                 int64_t dst)
{
    if (!p->dst_topic || strcmp(p->dst_topic, dst_topic) != 0 || p->dst_partition != dst_partition) {
        free(p->dst_topic);
        p->dst_topic = brg_xstrdup(dst_topic);
        p->dst_partition = dst_partition;
        p->head = p->n = 0;
    }
    if (p->n == BRG_KAFKA_SYNC_HISTORY) {
        p->head = (p->head + 1) % BRG_KAFKA_SYNC_HISTORY;
        p->n--;
    }
    size_t i = (p->head + p->n) % BRG_KAFKA_SYNC_HISTORY;
    p->src[i] = src;
    p->dst[i] = dst;
    p->n++;
}

static void fill(brg_kafka_sync_t *out, const sync_part_t *p)
{
    size_t i = newest(p);
    *out = (brg_kafka_sync_t){p->src_topic, p->src_partition, p->src[i],
                              p->dst_topic, p->dst_partition, p->dst[i]};
}

bool brg_kafka_sync_note(brg_kafka_sync_map_t *m, const char *src_topic, int32_t src_partition,
                         int64_t src_offset, const char *dst_topic, int32_t dst_partition,
                         int64_t dst_offset, brg_kafka_sync_t *out)
{
    sync_part_t *p = find_or_add(m, src_topic, src_partition);
    bool same_dst = p->dst_topic && p->dst_partition == dst_partition &&
                    strcmp(p->dst_topic, dst_topic) == 0;
    if (p->n > 0 && same_dst) {
        size_t i = newest(p);
        int64_t moved = src_offset - p->src[i];
        if (moved <= 0) {
            return false; /* delivered again after a retry: the earlier sync stays right */
        }
        if (dst_offset <= p->dst[i]) {
            /* The destination went back (the topic was deleted and made again): the older
             * pairs name records that are gone. */
            p->head = p->n = 0;
        } else {
            bool drifted = dst_offset - p->dst[i] != moved;
            if (moved < BRG_KAFKA_SYNC_EVERY && !(drifted && moved >= BRG_KAFKA_SYNC_DRIFT)) {
                return false;
            }
        }
    }
    push(p, src_offset, dst_topic, dst_partition, dst_offset);
    fill(out, p);
    return true;
}

void brg_kafka_sync_add(brg_kafka_sync_map_t *m, const brg_kafka_sync_t *s)
{
    sync_part_t *p = find_or_add(m, s->src_topic, s->src_partition);
    if (p->n > 0 && p->dst_partition == s->dst_partition && strcmp(p->dst_topic, s->dst_topic) == 0 &&
        (s->src_offset <= p->src[newest(p)] || s->dst_offset <= p->dst[newest(p)])) {
        return;
    }
    push(p, s->src_offset, s->dst_topic, s->dst_partition, s->dst_offset);
}

bool brg_kafka_sync_translate(const brg_kafka_sync_map_t *m, const char *src_topic,
                              int32_t src_partition, int64_t committed, const char **dst_topic,
                              int32_t *dst_partition, int64_t *dst_offset)
{
    const sync_part_t *p = find(m, src_topic, src_partition);
    if (!p || committed < 0) {
        return false;
    }
    /* Newest first: the largest source offset at or before the committed one. */
    for (size_t k = p->n; k > 0; k--) {
        size_t i = (p->head + k - 1) % BRG_KAFKA_SYNC_HISTORY;
        if (p->src[i] <= committed) {
            *dst_topic = p->dst_topic;
            *dst_partition = p->dst_partition;
            *dst_offset = p->dst[i] + (p->src[i] < committed ? 1 : 0);
            return true;
        }
    }
    return false;
}

int64_t brg_kafka_sync_behind(const brg_kafka_sync_map_t *m, const char *src_topic,
                              int32_t src_partition, int64_t committed)
{
    const sync_part_t *p = find(m, src_topic, src_partition);
    for (size_t k = p && committed >= 0 ? p->n : 0; k > 0; k--) {
        size_t i = (p->head + k - 1) % BRG_KAFKA_SYNC_HISTORY;
        if (p->src[i] <= committed) {
            return committed - p->src[i];
        }
    }
    return -1;
}

const char *brg_kafka_sync_topic(const brg_conf_node_t *to_cs, const char *route, char *buf,
                                 size_t size)
{
    snprintf(buf, size, "%s.offset-syncs", route);
    return brg_conf_str(to_cs, "offset_syncs_topic", buf);
}

size_t brg_kafka_sync_encode_key(const brg_kafka_sync_t *s, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%" PRId32, s->src_topic, s->src_partition);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Topic names are [A-Za-z0-9._-] (checked at load for literal ones, by the broker for rendered
 * ones): nothing to escape in JSON. */
size_t brg_kafka_sync_encode_value(const brg_kafka_sync_t *s, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "{\"source_topic\": \"%s\", \"source_partition\": %" PRId32
                     ", \"source_offset\": %" PRId64 ", \"topic\": \"%s\", \"partition\": %" PRId32
                     ", \"offset\": %" PRId64 "}",
                     s->src_topic, s->src_partition, s->src_offset, s->dst_topic,
                     s->dst_partition, s->dst_offset);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

bool brg_kafka_sync_decode_value(const char *value, size_t len, brg_kafka_sync_t *out,
                                 char *src_topic_buf, char *dst_topic_buf)
{
    char text[2 * BRG_KAFKA_TOPIC_MAX + 256];
    if (!value || len >= sizeof(text)) {
        return false;
    }
    memcpy(text, value, len);
    text[len] = 0;
    int32_t sp, dp;
    int64_t so, dof;
    int end = -1;
    if (sscanf(text,
               " { \"source_topic\" : \"%249[A-Za-z0-9._-]\" , \"source_partition\" : %" SCNd32
               " , \"source_offset\" : %" SCNd64 " , \"topic\" : \"%249[A-Za-z0-9._-]\" , "
               "\"partition\" : %" SCNd32 " , \"offset\" : %" SCNd64 " }%n",
               src_topic_buf, &sp, &so, dst_topic_buf, &dp, &dof, &end) != 6 ||
        end < 0 || text[end + strspn(text + end, " \t\r\n")] != 0 || sp < 0 || dp < 0 ||
        so < 0 || dof < 0) {
        return false;
    }
    *out = (brg_kafka_sync_t){src_topic_buf, sp, so, dst_topic_buf, dp, dof};
    return true;
}
