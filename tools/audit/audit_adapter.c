/* The "audit" adapter: as a source it generates the audit messages (at a rate, in order), as a
 * sink it checks what arrives. Only msgbridge-audit's adapter table contains it. */
#include "tools/audit/audit.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAMS 4096

static struct {
    pthread_mutex_t lock;
    char run_id[64];
    uint64_t count;
    double rate;
    size_t body_size;
    /* generator */
    uint64_t next_seq;
    uint64_t sent;
    /* checker */
    uint8_t *seen; /* per seq: times received (saturating) */
    uint64_t received, unique, duplicates, reordered, foreign;
    struct {
        char key[96];
        uint64_t last;
    } streams[MAX_STREAMS];
    size_t nstreams;
    int64_t *lat;
    size_t nlat, caplat;
    /* generation starts once every endpoint is connected (brg_audit_start) */
    atomic_bool go;
    int64_t go_ns; /* the generator's thread only */
} A = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Wall clock in ns: send and receive stamps are compared across processes. */
static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void brg_audit_start(void)
{
    atomic_store(&A.go, true);
}

void brg_audit_setup(const char *run_id, uint64_t count, double rate, size_t body_size)
{
    snprintf(A.run_id, sizeof(A.run_id), "%s", run_id);
    A.count = count;
    A.rate = rate;
    A.body_size = body_size < 32 ? 32 : body_size;
    A.seen = brg_xcalloc(count + 1, 1);
}

void brg_audit_cleanup(void)
{
    free(A.seen);
    free(A.lat);
    A.seen = NULL;
    A.lat = NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void brg_audit_snapshot(brg_audit_stats_t *st)
{
    pthread_mutex_lock(&A.lock);
    memset(st, 0, sizeof(*st));
    st->sent = A.sent;
    st->received = A.received;
    st->unique = A.unique;
    st->duplicates = A.duplicates;
    st->reordered = A.reordered;
    st->foreign = A.foreign;
    st->lat_count = A.nlat;
    if (A.nlat) {
        int64_t *c = brg_xmemdup(A.lat, A.nlat * sizeof(int64_t));
        qsort(c, A.nlat, sizeof(int64_t), cmp_i64);
        st->lat_ns[0] = c[A.nlat * 50 / 100];
        st->lat_ns[1] = c[A.nlat * 99 / 100];
        st->lat_ns[2] = c[A.nlat * 999 / 1000];
        st->lat_ns[3] = c[A.nlat - 1];
        free(c);
    }
    pthread_mutex_unlock(&A.lock);
}

size_t brg_audit_missing(uint64_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&A.lock);
    for (uint64_t s = 1; s <= A.count && n < max; s++) {
        if (!A.seen[s]) {
            out[n++] = s;
        }
    }
    pthread_mutex_unlock(&A.lock);
    return n;
}

/* ---- source: the generator ------------------------------------------------------------------ */

static brg_envelope_t *generate(uint64_t seq, const brg_source_t *src)
{
    brg_envelope_t *env = brg_envelope_new();
    uint8_t *body = brg_xmalloc(A.body_size);
    int n = snprintf((char *)body, A.body_size, "audit %s %" PRIu64 " ", A.run_id, seq);
    for (size_t i = (size_t)n; i < A.body_size; i++) {
        body[i] = (uint8_t)('a' + (seq + i) % 26);
    }
    brg_envelope_take_body(env, body, A.body_size);
    char buf[128];
    /* Keys spread messages over partitions; order is checked per partition. */
    snprintf(buf, sizeof(buf), "k%" PRIu64, seq % 64);
    brg_envelope_set_key(env, buf, strlen(buf));
    brg_envelope_add_header_str(env, "x-audit-run", A.run_id);
    snprintf(buf, sizeof(buf), "%" PRIu64, seq);
    brg_envelope_add_header_str(env, "x-audit-seq", buf);
    snprintf(buf, sizeof(buf), "%" PRId64, wall_ns());
    brg_envelope_add_header_str(env, "x-audit-ts-ns", buf);
    snprintf(buf, sizeof(buf), "audit-%s-%" PRIu64, A.run_id, seq);
    brg_props_set(&env->props.message_id, buf);
    env->props.timestamp_ms = brg_wall_ms();
    env->origin.stream = brg_xstrdup(brg_conf_str(brg_source_conf(src), "stream", "audit"));
    env->src_seq = seq;
    return env;
}

static void run_source(brg_endpoint_t *ep, int64_t t0)
{
    brg_source_t *src = brg_endpoint_source(ep, 0);
    brg_envelope_t *env;
    brg_outcome_t outcome;
    while ((env = brg_endpoint_take_settled(ep, &outcome))) {
        uint64_t seq = env->src_seq;
        brg_source_done(env);
        if (outcome == BRG_ACCEPTED) {
            pthread_mutex_lock(&A.lock);
            A.sent++;
            pthread_mutex_unlock(&A.lock);
        } else {
            /* The produce side failed transiently: send the same number again (at the end). */
            brg_envelope_t *again = generate(seq, src);
            brg_source_submit(src, again);
        }
    }
    if (!atomic_load(&A.go)) {
        return; /* not every endpoint is connected yet (see brg_audit_start) */
    }
    if (A.go_ns == 0) {
        A.go_ns = brg_now_ns(); /* the rate counts from the start of generation */
    }
    (void)t0;
    while (A.next_seq < A.count && brg_source_credit(src) > 0) {
        if (A.rate > 0) {
            double due = (double)A.next_seq / A.rate;
            if ((double)(brg_now_ns() - A.go_ns) / 1e9 < due) {
                return;
            }
        }
        brg_source_submit(src, generate(++A.next_seq, src));
    }
}

/* ---- sink: the checker ---------------------------------------------------------------------- */

static const char *header_text(const brg_envelope_t *env, const char *name, char *buf, size_t size)
{
    const brg_field_t *f = brg_fields_get(&env->headers, name);
    if (!f || (f->value.type != BRG_V_STRING && f->value.type != BRG_V_BYTES)) {
        return NULL;
    }
    snprintf(buf, size, "%.*s", (int)f->value.u.bytes.len, (const char *)f->value.u.bytes.data);
    return buf;
}

static void check(const brg_envelope_t *env)
{
    char run[64], seqs[32], ts[32];
    const char *r = header_text(env, "x-audit-run", run, sizeof(run));
    const char *s = header_text(env, "x-audit-seq", seqs, sizeof(seqs));
    const char *t = header_text(env, "x-audit-ts-ns", ts, sizeof(ts));
    int64_t now = wall_ns();
    pthread_mutex_lock(&A.lock);
    uint64_t seq = s ? strtoull(s, NULL, 10) : 0;
    if (!r || strcmp(r, A.run_id) != 0 || seq == 0 || seq > A.count) {
        A.foreign++;
        pthread_mutex_unlock(&A.lock);
        return;
    }
    A.received++;
    if (A.seen[seq] == 0) {
        A.unique++;
    } else {
        A.duplicates++;
    }
    if (A.seen[seq] < 255) {
        A.seen[seq]++;
    }
    char key[96];
    snprintf(key, sizeof(key), "%s/%" PRId32, env->origin.stream ? env->origin.stream : "",
             env->origin.partition);
    size_t i = 0;
    while (i < A.nstreams && strcmp(A.streams[i].key, key) != 0) {
        i++;
    }
    if (i == A.nstreams && i < MAX_STREAMS) {
        snprintf(A.streams[i].key, sizeof(A.streams[i].key), "%s", key);
        A.streams[i].last = 0;
        A.nstreams++;
    }
    if (i < MAX_STREAMS) {
        /* A first arrival lower than an earlier one on the same partition is out of order;
         * a redelivered duplicate is counted as a duplicate only. */
        if (seq < A.streams[i].last && A.seen[seq] == 1) {
            A.reordered++;
        }
        if (seq > A.streams[i].last) {
            A.streams[i].last = seq;
        }
    }
    if (t) {
        if (A.nlat == A.caplat) {
            A.caplat = A.caplat ? A.caplat * 2 : 4096;
            A.lat = brg_xrealloc(A.lat, A.caplat * sizeof(int64_t));
        }
        A.lat[A.nlat++] = now - strtoll(t, NULL, 10);
    }
    pthread_mutex_unlock(&A.lock);
}

static brg_err_t audit_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    int64_t t0 = brg_now_ns();
    brg_endpoint_set_connected(ep, true, NULL);
    while (!brg_endpoint_stopping(ep)) {
        brg_endpoint_clear_wake(ep);
        brg_envelope_t *env;
        while ((env = brg_endpoint_take_publish(ep, NULL))) {
            check(env);
            brg_settle(env, BRG_ACCEPTED, NULL);
        }
        if (brg_endpoint_source_count(ep)) {
            run_source(ep, t0);
        }
        struct pollfd pfd = {.fd = brg_endpoint_wakefd(ep), .events = POLLIN};
        /* At a fixed rate, wake every millisecond to send on time. */
        poll(&pfd, 1, A.rate > 0 ? 1 : 100);
    }
    brg_envelope_t *env;
    brg_outcome_t outcome;
    while ((env = brg_endpoint_take_publish(ep, NULL))) {
        brg_settle(env, BRG_RETRY, "stopping");
    }
    while ((env = brg_endpoint_take_settled(ep, &outcome))) {
        brg_source_done(env);
    }
    return BRG_OK;
}

static brg_err_t audit_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    *statep = ep;
    return BRG_OK;
}

static void audit_close(void *state)
{
}

static const brg_conf_key_t no_keys[] = {{.name = NULL}};
static const brg_conf_key_t source_keys[] = {
    {.name = "stream", .type = BRG_KEY_STRING, .help = "name reported as the source stream"},
    {.name = NULL},
};

const brg_adapter_t brg_audit_adapter = {
    .name = "audit",
    .description = "msgbridge-audit's generator (source) and checker (sink)",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = no_keys,
    .source_keys = source_keys,
    .sink_keys = no_keys,
    .open = audit_open,
    .run = audit_run,
    .close = audit_close,
};
