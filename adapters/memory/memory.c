#include "adapters/memory/memory.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct held {
    brg_envelope_t *env;
    brg_outcome_t outcome;
    int64_t due_ns;
} held_t;

struct brg_memory {
    brg_endpoint_t *ep;
    pthread_mutex_t lock;
    /* Keep what tests inspect (acknowledged sequence numbers, received copies, attempts per
     * sequence number): `record`, default true. Without it memory stays bounded. */
    bool record;
    /* source */
    brg_envelope_t **pending; /* pending[phead..phead+npending), sorted by src_seq */
    size_t phead, npending, cappending;
    /* Every sequence number from base to next_seq has a slot (index seq & (capslot - 1)):
     * NULL once settled for good (acknowledged or dead-lettered), else SLOT_PENDING (waiting in
     * pending), SLOT_GENERATED (a generated message in flight: a retry regenerates it, it is a
     * function of its sequence number) or the original of an injected message in flight (the
     * route may change its copy; like a broker, a retry redelivers the message as it was first
     * received). base moves up over settled slots, so the ring holds only what is unsettled,
     * and a settle finds its slot in O(1). */
    brg_envelope_t **slot;
    size_t capslot; /* a power of two */
    uint64_t base;
    uint64_t next_seq;
    int64_t generate_left;
    size_t body_size;
    char *stream;          /* source stream name reported by generated messages */
    size_t stream_len;
    uint8_t *pattern;      /* body_size bytes of the generated body's filler */
    bool reject_to_broker; /* source on_reject = "reject" */
    uint64_t *acked;       /* only when record */
    size_t nacked, capacked;
    size_t retried, rejected, in_flight, max_in_flight;
    /* sink */
    brg_memory_script_fn *script;
    void *script_ctx;
    brg_outcome_t default_outcome;
    uint32_t settle_delay_ms;
    brg_envelope_t **received;
    size_t nreceived, capreceived;
    size_t deliveries;
    uint32_t *attempts; /* per source seq, for scripts */
    size_t nattempts;
    held_t *held;
    size_t nheld, capheld;
};

brg_memory_t *brg_memory_of(brg_endpoint_t *ep)
{
    return brg_endpoint_adapter(ep) == &brg_memory_adapter ? brg_endpoint_state(ep) : NULL;
}


/* Slot markers (never dereferenced). */
static char slot_pending_mark, slot_generated_mark;
#define SLOT_PENDING ((brg_envelope_t *)(void *)&slot_pending_mark)
#define SLOT_GENERATED ((brg_envelope_t *)(void *)&slot_generated_mark)

static bool slot_is_envelope(const brg_envelope_t *e)
{
    return e && e != SLOT_PENDING && e != SLOT_GENERATED;
}

/* The slot of seq, which must be in [base, next_seq]. */
static brg_envelope_t **slot_of(brg_memory_t *m, uint64_t seq)
{
    return &m->slot[seq & (m->capslot - 1)];
}

/* Assign the next sequence number and give it a slot holding v. Returns: the number. */
static uint64_t slot_new(brg_memory_t *m, brg_envelope_t *v)
{
    uint64_t seq = ++m->next_seq;
    if (seq - m->base + 1 > m->capslot) {
        size_t cap = m->capslot ? m->capslot * 2 : 1024;
        brg_envelope_t **s = brg_xcalloc(cap, sizeof(*s));
        for (uint64_t q = m->base; q < seq; q++) {
            s[q & (cap - 1)] = *slot_of(m, q);
        }
        free(m->slot);
        m->slot = s;
        m->capslot = cap;
    }
    *slot_of(m, seq) = v;
    return seq;
}

/* seq is settled for good: free its slot, move base up over settled slots. */
static void slot_done(brg_memory_t *m, uint64_t seq)
{
    brg_envelope_t **s = slot_of(m, seq);
    if (slot_is_envelope(*s)) {
        brg_envelope_destroy(*s);
    }
    *s = NULL;
    while (m->base <= m->next_seq && *slot_of(m, m->base) == NULL) {
        m->base++;
    }
}

static void pending_insert(brg_memory_t *m, brg_envelope_t *env)
{
    if (m->phead + m->npending == m->cappending) {
        if (m->phead > 0) {
            memmove(m->pending, m->pending + m->phead, m->npending * sizeof(*m->pending));
            m->phead = 0;
        }
        if (m->npending == m->cappending) {
            m->cappending = m->cappending ? m->cappending * 2 : 64;
            m->pending = brg_xrealloc(m->pending, m->cappending * sizeof(*m->pending));
        }
    }
    brg_envelope_t **p = m->pending + m->phead;
    size_t i = m->npending;
    while (i > 0 && p[i - 1]->src_seq > env->src_seq) {
        p[i] = p[i - 1];
        i--;
    }
    p[i] = env;
    m->npending++;
}

static brg_envelope_t *pending_pop(brg_memory_t *m)
{
    brg_envelope_t *env = m->pending[m->phead++];
    if (--m->npending == 0) {
        m->phead = 0;
    }
    return env;
}

void brg_memory_inject(brg_memory_t *m, brg_envelope_t *env)
{
    pthread_mutex_lock(&m->lock);
    env->src_seq = slot_new(m, SLOT_PENDING);
    pending_insert(m, env);
    pthread_mutex_unlock(&m->lock);
    brg_endpoint_wake(m->ep);
}

#define LOCKED_GET(type, expr)                                                                     \
    pthread_mutex_lock(&m->lock);                                                                 \
    type v_ = (expr);                                                                             \
    pthread_mutex_unlock(&m->lock);                                                               \
    return v_

size_t brg_memory_acked_count(brg_memory_t *m) { LOCKED_GET(size_t, m->nacked); }
uint64_t brg_memory_acked_seq(brg_memory_t *m, size_t i)
{
    LOCKED_GET(uint64_t, m->acked && i < m->nacked ? m->acked[i] : 0);
}
size_t brg_memory_retried_count(brg_memory_t *m) { LOCKED_GET(size_t, m->retried); }
size_t brg_memory_rejected_count(brg_memory_t *m) { LOCKED_GET(size_t, m->rejected); }
size_t brg_memory_max_in_flight(brg_memory_t *m) { LOCKED_GET(size_t, m->max_in_flight); }
size_t brg_memory_pending(brg_memory_t *m) { LOCKED_GET(size_t, m->npending); }
size_t brg_memory_received_count(brg_memory_t *m) { LOCKED_GET(size_t, m->nreceived); }
size_t brg_memory_delivery_count(brg_memory_t *m) { LOCKED_GET(size_t, m->deliveries); }

const brg_envelope_t *brg_memory_received(brg_memory_t *m, size_t i)
{
    LOCKED_GET(const brg_envelope_t *, m->received && i < m->nreceived ? m->received[i] : NULL);
}

void brg_memory_set_script(brg_memory_t *m, brg_memory_script_fn *fn, void *ctx)
{
    pthread_mutex_lock(&m->lock);
    m->script = fn;
    m->script_ctx = ctx;
    pthread_mutex_unlock(&m->lock);
}

void brg_memory_set_settle_delay(brg_memory_t *m, uint32_t ms)
{
    pthread_mutex_lock(&m->lock);
    m->settle_delay_ms = ms;
    pthread_mutex_unlock(&m->lock);
}

bool brg_memory_wait(brg_memory_t *m, bool (*fn)(brg_memory_t *m, void *arg), void *arg,
                     uint32_t timeout_ms)
{
    int64_t deadline = brg_now_ns() + (int64_t)timeout_ms * 1000000;
    while (!fn(m, arg)) {
        if (brg_now_ns() > deadline) {
            return false;
        }
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* ---- the endpoint loop -------------------------------------------------------------------- */

/* Writes v in decimal to out (at least 20 bytes). Returns: the number of digits. snprintf here
 * cost a fifth of the memory -> memory benchmark's CPU, which is there to measure the core. */
static size_t put_decimal(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* The generated message seq (the same every time: a retry regenerates it): body "message SEQ "
 * then the filler pattern, cut at body_size; key "kN" with N = seq % 16. */
static brg_envelope_t *generated(brg_memory_t *m, uint64_t seq)
{
    /* A recycled envelope (brg_envelope_new) keeps its body, key and string buffers: in steady
     * state a generated message costs no allocation. */
    brg_envelope_t *env = brg_envelope_new();
    uint8_t *body = brg_envelope_body_buf(env, m->body_size);
    char text[32] = "message ";
    size_t n = 8 + put_decimal(text + 8, seq);
    text[n++] = ' ';
    size_t from = n < m->body_size ? n : m->body_size;
    memcpy(body, text, from);
    memcpy(body + from, m->pattern + from, m->body_size - from);
    char key[24] = "k";
    brg_envelope_set_key(env, key, 1 + put_decimal(key + 1, seq % 16));
    env->src_seq = seq;
    brg_envelope_set_str(env, &env->origin.stream, m->stream, m->stream_len);
    return env;
}

static void take_settled(brg_memory_t *m, brg_endpoint_t *ep)
{
    brg_envelope_t *env;
    brg_outcome_t outcome;
    /* One lock for the whole batch: a lock per message was a tenth of the benchmark's CPU.
     * Nothing below calls back into this adapter. */
    pthread_mutex_lock(&m->lock);
    while ((env = brg_endpoint_take_settled(ep, &outcome))) {
        m->in_flight--;
        uint64_t seq = env->src_seq;
        /* Only a submitted message is settled: its slot is live. */
        bool live = seq >= m->base && seq <= m->next_seq && *slot_of(m, seq) != NULL &&
                    *slot_of(m, seq) != SLOT_PENDING;
        if (outcome == BRG_ACCEPTED) {
            if (m->record) {
                if (m->nacked == m->capacked) {
                    m->capacked = m->capacked ? m->capacked * 2 : 256;
                    m->acked = brg_xrealloc(m->acked, m->capacked * sizeof(uint64_t));
                }
                m->acked[m->nacked] = seq;
            }
            m->nacked++;
            if (live) {
                slot_done(m, seq);
            }
        } else if (outcome == BRG_RETRY) {
            /* Redeliver like a broker would: the original goes back in sequence order. */
            m->retried++;
            if (live) {
                brg_envelope_t **s = slot_of(m, seq);
                brg_envelope_t *again = *s == SLOT_GENERATED ? generated(m, seq) : *s;
                *s = SLOT_PENDING;
                again->origin.redelivered = true;
                pending_insert(m, again);
            }
        } else if (m->reject_to_broker) {
            /* Like a queue with a dead-letter exchange: the broker moves it away. */
            m->rejected++;
            if (live) {
                slot_done(m, seq);
            }
        } else {
            /* The route stopped; like a broker queue, the message stays unacknowledged. */
            m->rejected++;
        }
        brg_source_done(env);
    }
    pthread_mutex_unlock(&m->lock);
}

/* The next message for the route, or NULL: a pending (redelivered or injected) one first, then
 * a generated one. Called with the lock held. */
static brg_envelope_t *next_to_submit(brg_memory_t *m)
{
    brg_envelope_t *copy = NULL;
    if (m->npending) {
        /* The original stays in its slot for a retry; the route gets a copy. */
        brg_envelope_t *env = pending_pop(m);
        *slot_of(m, env->src_seq) = env;
        copy = brg_envelope_copy(env);
    } else if (m->generate_left > 0) {
        /* Nothing kept: a retry regenerates it. */
        copy = generated(m, slot_new(m, SLOT_GENERATED));
        m->generate_left--;
    }
    if (copy) {
        m->in_flight++;
        if (m->in_flight > m->max_in_flight) {
            m->max_in_flight = m->in_flight;
        }
    }
    return copy;
}

static void submit(brg_memory_t *m, brg_endpoint_t *ep)
{
    if (brg_endpoint_source_count(ep) == 0) {
        return;
    }
    brg_source_t *src = brg_endpoint_source(ep, 0);
    /* One message per credit check: the credit counts messages, and the route's byte bound is
     * known only once the message before was submitted. */
    while (brg_source_credit(src) > 0) {
        pthread_mutex_lock(&m->lock);
        brg_envelope_t *copy = next_to_submit(m);
        pthread_mutex_unlock(&m->lock);
        if (!copy) {
            return;
        }
        brg_source_submit(src, copy);
    }
}

/* Counts (and with record, keeps a copy of) what the sink accepted. Called with the lock held. */
static void note_received(brg_memory_t *m, const brg_envelope_t *env, brg_outcome_t outcome)
{
    if (outcome != BRG_ACCEPTED) {
        return;
    }
    if (m->record) {
        if (m->nreceived == m->capreceived) {
            m->capreceived = m->capreceived ? m->capreceived * 2 : 256;
            m->received = brg_xrealloc(m->received, m->capreceived * sizeof(*m->received));
        }
        brg_envelope_t *copy = brg_envelope_copy(env);
        copy->src_seq = env->src_seq;
        m->received[m->nreceived] = copy;
    }
    m->nreceived++;
}

static void settle_outcome(brg_envelope_t *env, brg_outcome_t outcome)
{
    if (outcome == BRG_MEMORY_UNROUTABLE) {
        brg_settle_unroutable(env, "memory sink: scripted unroutable");
        return;
    }
    brg_settle(env, outcome,
               outcome == BRG_RETRY ? "memory sink: scripted retry"
                                    : outcome == BRG_REJECTED ? "memory sink: scripted reject" : NULL);
}

static void settle_now(brg_memory_t *m, brg_envelope_t *env, brg_outcome_t outcome)
{
    pthread_mutex_lock(&m->lock);
    note_received(m, env, outcome);
    pthread_mutex_unlock(&m->lock);
    settle_outcome(env, outcome);
}

static void take_publish(brg_memory_t *m, brg_endpoint_t *ep)
{
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_publish(ep, NULL))) {
        pthread_mutex_lock(&m->lock);
        m->deliveries++;
        uint64_t seq = env->src_seq;
        /* Without record, nothing is kept per sequence number: a redelivery is attempt 2. */
        unsigned attempt = env->origin.redelivered ? 2 : 1;
        if (m->record) {
            if (seq >= m->nattempts) {
                size_t n = (size_t)seq * 2 + 16;
                m->attempts = brg_xrealloc(m->attempts, n * sizeof(uint32_t));
                memset(m->attempts + m->nattempts, 0, (n - m->nattempts) * sizeof(uint32_t));
                m->nattempts = n;
            }
            attempt = ++m->attempts[seq];
        }
        brg_memory_script_fn *fn = m->script;
        void *ctx = m->script_ctx;
        brg_outcome_t outcome = m->default_outcome;
        uint32_t delay = m->settle_delay_ms;
        /* Without a script or a delay the outcome is known now: one lock per message. */
        bool settle_at_once = !fn && delay == 0;
        if (settle_at_once) {
            note_received(m, env, outcome);
        }
        pthread_mutex_unlock(&m->lock);
        if (settle_at_once) {
            settle_outcome(env, outcome);
            continue;
        }
        if (fn) {
            outcome = fn(env, attempt, ctx);
        }
        if (delay == 0) {
            settle_now(m, env, outcome);
            continue;
        }
        if (m->nheld == m->capheld) {
            m->capheld = m->capheld ? m->capheld * 2 : 64;
            m->held = brg_xrealloc(m->held, m->capheld * sizeof(held_t));
        }
        m->held[m->nheld++] = (held_t){env, outcome, brg_now_ns() + (int64_t)delay * 1000000};
    }
}

static void settle_due(brg_memory_t *m, bool all)
{
    int64_t now = brg_now_ns();
    size_t i = 0;
    /* Held envelopes are settled in the order they arrived, as a broker confirms in order. */
    while (i < m->nheld && (all || m->held[i].due_ns <= now)) {
        i++;
    }
    for (size_t j = 0; j < i; j++) {
        settle_now(m, m->held[j].env, all ? BRG_RETRY : m->held[j].outcome);
    }
    if (i > 0) {
        memmove(m->held, m->held + i, (m->nheld - i) * sizeof(held_t));
        m->nheld -= i;
    }
}

static brg_err_t memory_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    brg_memory_t *m = state;
    brg_endpoint_set_connected(ep, true, NULL);
    while (!brg_endpoint_stopping(ep)) {
        brg_endpoint_clear_wake(ep);
        brg_endpoint_sync_routes(ep);
        take_settled(m, ep);
        take_publish(m, ep);
        settle_due(m, false);
        submit(m, ep);
        /* What submit() and the settles queued goes out before the thread sleeps. */
        brg_endpoint_flush(ep);
        struct pollfd pfd = {.fd = brg_endpoint_wakefd(ep), .events = POLLIN};
        /* With late settles pending, wake every millisecond to release them on time. */
        poll(&pfd, 1, m->nheld ? 1 : 100);
    }
    /* Stopping: whatever was never confirmed goes back as RETRY (the contract). */
    take_publish(m, ep);
    settle_due(m, true);
    take_settled(m, ep);
    return BRG_OK;
}

/* The first source's settings make the generator; like a queue, the endpoint keeps its
 * messages and sequence numbers when a reload replaces the route that reads it. */
static void take_source(brg_memory_t *m, brg_source_t *src)
{
    const brg_conf_node_t *from = brg_source_conf(src);
    if (!m->stream) {
        m->generate_left = brg_conf_int(from, "count", 0);
        m->body_size = (size_t)brg_conf_int(from, "body_size", 100);
        m->stream = brg_xstrdup(brg_conf_str(from, "stream", "memory"));
        m->stream_len = strlen(m->stream);
        m->pattern = brg_xmalloc(m->body_size + 1);
        for (size_t i = 0; i < m->body_size; i++) {
            m->pattern[i] = (uint8_t)('a' + i % 26);
        }
    }
    m->reject_to_broker = strcmp(brg_conf_str(from, "on_reject", "keep"), "reject") == 0;
    brg_source_set_broker_dead_letter(src, m->reject_to_broker);
}

/* Routes changed by a reload on the running endpoint (adapter.h add_source). A memory endpoint
 * feeds one route; its sinks keep nothing per route. */
static brg_err_t memory_add_source(void *state, brg_source_t *src, char *errstr, size_t errstr_size)
{
    brg_memory_t *m = state;
    if (brg_endpoint_source_count(m->ep) > 1) {
        brg_errfmt(errstr, errstr_size, "a memory endpoint is read by one route");
        return BRG_ERR_CONFIG;
    }
    pthread_mutex_lock(&m->lock);
    take_source(m, src);
    pthread_mutex_unlock(&m->lock);
    return BRG_OK;
}

static void memory_remove_source(void *state, brg_source_t *src)
{
    /* Drained: nothing of it is in flight; pending messages wait for the next route. */
    (void)state;
    (void)src;
}

static brg_err_t memory_add_sink(void *state, brg_sink_t *sink, char *errstr, size_t errstr_size)
{
    (void)state;
    (void)sink;
    (void)errstr;
    (void)errstr_size;
    return BRG_OK;
}

static void memory_remove_sink(void *state, brg_sink_t *sink)
{
    (void)state;
    (void)sink;
}

static brg_err_t memory_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    brg_memory_t *m = brg_xcalloc(1, sizeof(*m));
    m->ep = ep;
    pthread_mutex_init(&m->lock, NULL);
    const brg_conf_node_t *cs = brg_endpoint_conf(ep);
    const char *outcome = brg_conf_str(cs, "outcome", "accept");
    m->default_outcome = strcmp(outcome, "retry") == 0    ? BRG_RETRY
                         : strcmp(outcome, "reject") == 0 ? BRG_REJECTED
                         : strcmp(outcome, "unroutable") == 0 ? BRG_MEMORY_UNROUTABLE
                                                          : BRG_ACCEPTED;
    m->settle_delay_ms = (uint32_t)brg_conf_int(cs, "settle_delay_ms", 0);
    m->record = brg_conf_bool(cs, "record", true);
    m->base = 1;
    if (brg_endpoint_source_count(ep) > 0) {
        take_source(m, brg_endpoint_source(ep, 0));
    }
    *statep = m;
    return BRG_OK;
}

static void memory_close(void *state)
{
    brg_memory_t *m = state;
    for (size_t i = 0; i < m->npending; i++) {
        brg_envelope_destroy(m->pending[m->phead + i]);
    }
    for (size_t i = 0; m->received && i < m->nreceived; i++) {
        brg_envelope_destroy(m->received[i]);
    }
    for (uint64_t q = m->base; m->capslot && q <= m->next_seq; q++) {
        if (slot_is_envelope(*slot_of(m, q))) {
            brg_envelope_destroy(*slot_of(m, q));
        }
    }
    free(m->slot);
    free(m->stream);
    free(m->pattern);
    free(m->pending);
    free(m->received);
    free(m->acked);
    free(m->attempts);
    free(m->held);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const char *const outcomes[] = {"accept", "retry", "reject", "unroutable", NULL};
static const char *const reject_policies[] = {"keep", "reject", NULL};

static const brg_conf_key_t endpoint_keys[] = {
    {.name = "outcome", .type = BRG_KEY_STRING, .words = outcomes,
     .help = "what the sink answers: accept (default), retry, reject, unroutable"},
    {.name = "settle_delay_ms", .type = BRG_KEY_INT,
     .help = "delay before the sink settles (default 0)"},
    {.name = "record", .type = BRG_KEY_BOOL,
     .help = "keep acknowledged sequence numbers, received copies and attempts per message for "
             "inspection (default true; false: counts only, memory bounded, for benchmarks)"},
    {.name = "token", .type = BRG_KEY_STRING, .flags = BRG_KEY_SECRET,
     .help = "an unused secret (tests of secret handling)"},
    {.name = NULL},
};
static const brg_conf_key_t source_keys[] = {
    {.name = "stream", .type = BRG_KEY_STRING, .help = "name reported as the source stream"},
    {.name = "count", .type = BRG_KEY_INT,
     .help = "generate this many messages (default 0: only injected ones)"},
    {.name = "body_size", .type = BRG_KEY_INT, .help = "size of generated bodies (default 100)"},
    {.name = "on_reject", .type = BRG_KEY_STRING, .words = reject_policies,
     .help = "keep (default: a rejected message stays, the route stops) or reject (the \"broker\" "
             "dead-letters it)"},
    {.name = NULL},
};
static const brg_conf_key_t sink_keys[] = {
    {.name = "stream", .type = BRG_KEY_TEMPLATE, .help = "destination name (template)"},
    {.name = NULL},
};

const brg_adapter_t brg_memory_adapter = {
    .name = "memory",
    .description = "in-process source and sink with scripted outcomes (tests, demos)",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = endpoint_keys,
    .source_keys = source_keys,
    .sink_keys = sink_keys,
    .open = memory_open,
    .run = memory_run,
    .close = memory_close,
    .add_source = memory_add_source,
    .remove_source = memory_remove_source,
    .add_sink = memory_add_sink,
    .remove_sink = memory_remove_sink,
};
