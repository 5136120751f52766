/* Small helpers adapters share: backoff, clocks, URL redaction, the adapter registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/adapter.h"
#include "bridge/registry.h"

int64_t brg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t brg_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void brg_backoff_init(brg_backoff_t *b, uint32_t base_ms, uint32_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->prev_ms = b->base_ms;
    b->seed = (uint32_t)brg_now_ns() ^ (uint32_t)(uintptr_t)b;
}

void brg_backoff_reset(brg_backoff_t *b)
{
    b->prev_ms = b->base_ms;
}

uint32_t brg_backoff_next(brg_backoff_t *b)
{
    /* Decorrelated jitter: spreads reconnects of many bridges after a broker restart while
     * still growing geometrically (Marc Brooker, "Exponential Backoff And Jitter"). */
    uint64_t hi = (uint64_t)b->prev_ms * 3;
    if (hi > b->cap_ms) {
        hi = b->cap_ms;
    }
    uint32_t span = hi > b->base_ms ? (uint32_t)(hi - b->base_ms) : 0;
    uint32_t next = b->base_ms + (span ? (uint32_t)(rand_r(&b->seed) % (span + 1)) : 0);
    b->prev_ms = next;
    return next;
}

char *brg_redact_url(const char *url, char *out, size_t size)
{
    if (!size) {
        return out;
    }
    const char *scheme = strstr(url, "://");
    const char *start = scheme ? scheme + 3 : url;
    const char *at = strchr(start, '@');
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (!colon) {
        snprintf(out, size, "%s", url);
    } else {
        snprintf(out, size, "%.*s:***%s", (int)(colon - url), url, at);
    }
    return out;
}

const brg_adapter_t *brg_adapter_find(const char *name)
{
    for (size_t i = 0; brg_adapters[i]; i++) {
        if (strcmp(brg_adapters[i]->name, name) == 0) {
            return brg_adapters[i];
        }
    }
    return NULL;
}

const char *brg_adapter_enable_hint(const char *name)
{
    static const struct {
        const char *name, *hint;
    } known[] = {
        {"kafka", "--enable-kafka (needs librdkafka-dev)"},
        {"rabbitmq", "--enable-rabbitmq (needs librabbitmq-dev)"},
        {"amqp1", "--enable-amqp1 (needs libqpid-proton11-dev)"},
        {"stomp", "--enable-stomp (needs nothing)"},
        {"file", "--enable-file (needs libjansson-dev)"},
        {"stdio", "--enable-file (needs libjansson-dev)"},
    };
    for (size_t i = 0; i < BRG_ARRAY_SIZE(known); i++) {
        if (strcmp(known[i].name, name) == 0) {
            return known[i].hint;
        }
    }
    return NULL;
}
