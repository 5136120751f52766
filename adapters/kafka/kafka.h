/* The Kafka adapter's internal interface, shared by its files (not used outside
 * adapters/kafka/). One endpoint = one producer (if any route writes to it) and one consumer per
 * route that reads from it (a consumer belongs to exactly one consumer group), all driven by the
 * endpoint's thread in kafka.c. */
#ifndef BRG_KAFKA_H
#define BRG_KAFKA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "adapters/kafka/kafka_offsets.h"
#include "bridge/adapter.h"

typedef struct brg_kafka_ep brg_kafka_ep_t;
typedef struct brg_kafka_src brg_kafka_src_t;

/* Log context that outlives the endpoint: a consumer handle can outlive its endpoint's state
 * while consumed messages are still referenced as envelope bodies (kafka_source.c). */
typedef struct brg_kafka_logctx {
    brg_log_ctx_t ctx;
    char *endpoint;
    char *file;
} brg_kafka_logctx_t;

void brg_kafka_logctx_init(brg_kafka_logctx_t *l, const brg_log_ctx_t *from);
void brg_kafka_logctx_fini(brg_kafka_logctx_t *l);

/* librdkafka's log callback: one brg_log line per librdkafka log line. The rd_kafka_t's opaque
 * must start with a brg_kafka_logctx_t (brg_kafka_ep_t and the consumer holder both do).
 * Thread: any (librdkafka's threads). */
void brg_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* ---- configuration (kafka_conf.c) ------------------------------------------------------- */

typedef enum brg_kafka_role {
    BRG_KAFKA_PRODUCER_ROLE = 0,
    BRG_KAFKA_CONSUMER_ROLE,
} brg_kafka_role_t;

/* Build a librdkafka configuration for the endpoint: brokers, client id, the endpoint's
 * `properties` plus `producer_properties` or `consumer_properties`, user/password for SASL.
 * Ownership: the caller owns the returned conf. Returns: NULL with errstr set on error. */
rd_kafka_conf_t *brg_kafka_conf_new(const brg_conf_node_t *ep_cs, brg_kafka_role_t role,
                                    const char *client_id, char *errstr, size_t errstr_size);

/* An endpoint's client configurations, compiled once at load (adapter.h compile_endpoint):
 * for each role, everything brg_kafka_conf_new sets but the client id. */
typedef struct brg_kafka_settings {
    rd_kafka_conf_t *conf[2];    /* [brg_kafka_role_t] */
    bool user_client_id[2];      /* [role]: the user's properties set client.id themselves */
} brg_kafka_settings_t;

/* Compile ep_cs's two client configurations; a problem (an unreadable password_file) is
 * reported with FILE:LINE. Returns: the settings, or NULL. Thread: main. */
brg_kafka_settings_t *brg_kafka_settings_new(const brg_conf_node_t *ep_cs, brg_diag_t *d);
void brg_kafka_settings_free(void *settings);
/* A new client's configuration: a copy of the compiled one for role, with client_id unless
 * the user set client.id. Ownership: the caller's (rd_kafka_new takes it). */
rd_kafka_conf_t *brg_kafka_settings_conf(const brg_kafka_settings_t *s, brg_kafka_role_t role,
                                         const char *client_id);

/* A consumer's default auto.commit.interval.ms (librdkafka's is 5000), chosen from the
 * measurements in docs/performance.md ("Kafka -> Kafka: processes on one consumer group"). */
#define BRG_KAFKA_COMMIT_INTERVAL_MS "1000"

/* A Kafka-sourced route's default window (brg_adapter_t.source_window_bytes and
 * source_record_cost): 2 MiB, and as many records as that allows at 400 bytes each (5242),
 * about what a record in flight costs at least (librdkafka's consumed message, the envelope,
 * the producer's message). Sized so that a route keeps the pipe full with the least memory:
 * 4 MiB moved no more on a Kafka -> Kafka drain of 100 B or 1 KiB records and held 8-13 MiB
 * more (docs/kafka.md, "Memory"). */
#define BRG_KAFKA_WINDOW_BYTES ((size_t)2 * 1024 * 1024)
#define BRG_KAFKA_RECORD_COST 400

/* The most a source holds (records fetched and not yet handed to the route, counted with
 * their overhead) before it pauses every partition: the route's max_in_flight_bytes, 256 KiB
 * to 64 MiB. Thread: any. */
size_t brg_kafka_hold_budget(size_t max_in_flight_bytes);

/* Set a consumer's librdkafka prefetch limits from hold_budget: fetch.max.bytes and
 * max.partition.fetch.bytes so that a fetch round stays near it, and the queue limits
 * (queued.max.messages.kbytes, queued.min.messages) that stop librdkafka's fetching at a few
 * thousand records (the source wakes its fetchers below them), unless the endpoint's lists set
 * them. See docs/kafka.md, "Memory". Thread: any (conf is the caller's). */
void brg_kafka_conf_bound_consumer(rd_kafka_conf_t *conf, const brg_conf_node_t *ep_cs,
                                   size_t hold_budget);

/* How the sink settles a failed produce: RETRY (transient), REJECTED (the message's fault),
 * UNROUTABLE (the topic or partition does not exist, or writing is not allowed:
 * brg_settle_unroutable). Thread: any. */
typedef enum brg_kafka_err_class {
    BRG_KAFKA_ERR_RETRY = 0,
    BRG_KAFKA_ERR_REJECTED,
    BRG_KAFKA_ERR_UNROUTABLE,
} brg_kafka_err_class_t;
brg_kafka_err_class_t brg_kafka_produce_err_class(rd_kafka_resp_err_t err);

/* The producer's linger.ms: 0.5 unless the endpoint's lists set it (or queue.buffering.max.ms).
 * See docs/kafka.md, "Throughput". Thread: any (conf is the caller's). */
void brg_kafka_conf_tune_producer(rd_kafka_conf_t *conf, const brg_conf_node_t *ep_cs);

/* Set one property, refusing the ones msgbridge owns. Returns: false with errstr set. */
bool brg_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                        char *errstr, size_t errstr_size);

/* Check an endpoint's property lists, reporting each bad element at its own line. */
void brg_kafka_check_properties(const brg_conf_node_t *ep_cs, brg_diag_t *d);

/* ---- the endpoint ----------------------------------------------------------------------- */

/* Per-sink state (brg_sink_opaque). */
typedef struct brg_kafka_sink {
    const brg_template_t *topic_tpl, *key_tpl, *part_tpl;
    rd_kafka_topic_t *rkt; /* for a literal topic: no name look-up per message */
    int32_t partition;     /* literal partition, or RD_KAFKA_PARTITION_UA */
    /* offset_syncs = true: the pairs (kafka_offset_sync.h) and their topic; else NULL. */
    struct brg_kafka_sync_map *syncs;
    rd_kafka_topic_t *sync_rkt;
    uint64_t syncs_written, syncs_failed;
    bool sync_failure_logged, sync_origin_logged;
    /* sync_groups: the consumer-group offset sync (kafka_group_sync.h); else NULL. */
    struct brg_kafka_group_sync *gsync;
} brg_kafka_sink_t;


/* One partition's figures for /metrics: a copy made by the endpoint thread (see
 * brg_kafka_sources_publish_metrics), read by the HTTP thread under brg_kafka_ep_t.mlock. */
typedef struct brg_kafka_part_row {
    char *route, *topic; /* owned */
    int32_t partition;
    int64_t lag;       /* records not yet bridged (high watermark - first unsettled), -1 unknown */
    int64_t committed; /* the group's committed offset, -1 unknown */
} brg_kafka_part_row_t;

/* One row of the group offset syncs' figures for /metrics (kafka_group_sync.c writes a new
 * set after a round, the HTTP thread reads it under brg_kafka_ep_t.mlock). topic NULL: the
 * group's own row (last_sync_ms, live, live_rounds, moved); else a partition's lag. */
typedef struct brg_kafka_gsync_row {
    char *route, *group, *topic; /* owned */
    int32_t partition;
    int64_t lag;          /* records a failover from here would read again at most */
    int64_t last_sync_ms; /* wall clock of the last round done, 0: none yet */
    bool live;
    uint64_t live_rounds, moved;
} brg_kafka_gsync_row_t;

struct brg_kafka_ep {
    brg_kafka_logctx_t log; /* first: rd_kafka opaque for the log callback */
    brg_endpoint_t *ep;
    const brg_conf_node_t *cs;
    const brg_kafka_settings_t *settings; /* compiled at load, owned by the configuration */
    char *client_id;
    int flush_timeout_ms;

    /* One pipe that every librdkafka queue the thread waits on writes to (io events). */
    int evfd[2];

    /* producer side (kafka_sink.c) */
    rd_kafka_t *producer;
    brg_envq_t pending; /* envelopes the producer could not take yet (queue full), in order */
    /* Templated topic, key and partition of the message being produced: rendered into reused
     * memory (no allocation per message). */
    brg_buf_t scratch_topic, scratch_key, scratch_part;
    size_t outstanding; /* records handed to librdkafka without their delivery report yet
                        * (envelopes, and offset syncs) */
    bool offset_syncs; /* a sink has offset_syncs (no look-up per record otherwise) */
    bool producer_fatal;

    /* consumer side (kafka_source.c) */
    brg_kafka_src_t **srcs;
    size_t nsrcs;
    uint8_t generation; /* bumped per run(): settles from a previous run are stale */

    bool connected;
    int64_t next_probe_ns;

    /* /metrics snapshot of the sources' partitions (kafka_source.c writes, kafka.c reads). */
    pthread_mutex_t mlock;
    brg_kafka_part_row_t *rows;
    size_t nrows;
    brg_kafka_gsync_row_t *gsync_rows; /* the sinks' group offset syncs */
    size_t ngsync_rows;
    bool gsync_stale; /* a sink with a group sync went: publish the rows again */
    int64_t next_rows_ns;
};

/* At shutdown (brg_endpoint_stop_deadline): how long a stop step may still wait, leaving
 * BRG_KAFKA_TEARDOWN_MS before the deadline for destroying the librdkafka handles (about a
 * second: rd_kafka_destroy joins broker threads that wake up once a second). want_ms when
 * there is no deadline. Thread: the endpoint's. */
#define BRG_KAFKA_TEARDOWN_MS 1500
int brg_kafka_stop_budget_ms(const brg_kafka_ep_t *k, int want_ms);

/* Sink side. Thread: the endpoint's. */
brg_err_t brg_kafka_sink_start(brg_kafka_ep_t *k, char *errstr, size_t errstr_size);
/* Publish one envelope taken from the mailbox (settles it on any immediate failure). */
void brg_kafka_sink_publish(brg_kafka_ep_t *k, brg_envelope_t *env, brg_sink_t *sink);
/* Serve delivery reports and retry envelopes waiting for queue space. */
void brg_kafka_sink_poll(brg_kafka_ep_t *k);
/* What runs on a clock: the sinks' consumer-group offset syncs. Never blocks. */
void brg_kafka_sink_tick(brg_kafka_ep_t *k);
/* Flush (bounded by flush_timeout_ms), settle RETRY what is left, destroy the producer. */
void brg_kafka_sink_stop(brg_kafka_ep_t *k);
/* A sink a reload adds to or removes from the running endpoint (adapter.h add_sink): the
 * producer (made for the first sink) and the other sinks are untouched. */
brg_err_t brg_kafka_sink_add(brg_kafka_ep_t *k, brg_sink_t *sink, char *errstr, size_t errstr_size);
void brg_kafka_sink_remove(brg_kafka_ep_t *k, brg_sink_t *sink);

/* Serve everything but the consumers for up to timeout_ms (returns at the first wake-up):
 * publish what the routes handed to the sink, serve its delivery reports, act on settles and
 * store offsets. For a source that waits, inside a rebalance callback, for its records to
 * settle. Thread: the endpoint's (kafka.c). */
void brg_kafka_serve_settles(brg_kafka_ep_t *k, int timeout_ms);

/* Source side. Thread: the endpoint's. */
brg_err_t brg_kafka_sources_start(brg_kafka_ep_t *k, char *errstr, size_t errstr_size);
/* Take records while the routes give credit; serve rebalances and resume timers.
 * Returns: true if records are left to take with credit for them (poll again at once). */
bool brg_kafka_sources_poll(brg_kafka_ep_t *k);
/* Act on one settled envelope from the mailbox (then brg_source_done). */
void brg_kafka_sources_settled(brg_kafka_ep_t *k, brg_envelope_t *env, brg_outcome_t outcome);
/* Store the offsets the settled prefixes reached and rewind retried partitions. */
void brg_kafka_sources_flush_offsets(brg_kafka_ep_t *k);
/* Commit synchronously, close the consumers (they are destroyed once no envelope body refers
 * to their messages). */
void brg_kafka_sources_stop(brg_kafka_ep_t *k);
/* A source a reload adds to or removes from the running endpoint (adapter.h add_source): its
 * own consumer joins its group, or commits and leaves it; the other consumers are untouched.
 * add refuses a group another route of the endpoint reads with. */
brg_err_t brg_kafka_source_add(brg_kafka_ep_t *k, brg_source_t *src, char *errstr,
                               size_t errstr_size);
void brg_kafka_source_remove(brg_kafka_ep_t *k, brg_source_t *src);

/* Copy each assigned partition's lag and committed offset into k->rows for /metrics, at most
 * every 250 ms unless force. Thread: the endpoint's. */
void brg_kafka_sources_publish_metrics(brg_kafka_ep_t *k, bool force);
/* Free a row list. */
void brg_kafka_rows_free(brg_kafka_part_row_t *rows, size_t n);

/* Returns: one consumer handle (for metadata probes), or NULL if there are none. */
rd_kafka_t *brg_kafka_sources_handle(brg_kafka_ep_t *k);

/* Connection state for /readyz: set from callbacks and from successful traffic. */
void brg_kafka_set_connected(brg_kafka_ep_t *k, bool up, const char *reason);

/* An error event from a client (served on the endpoint thread): connection state and logs. */
void brg_kafka_on_error(brg_kafka_ep_t *k, rd_kafka_t *rk, int err, const char *reason);

#endif
