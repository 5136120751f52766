/* Small helpers shared by the raw client tools of bench/ (raw_kafka, raw_rabbitmq, raw_amqp1,
 * raw_stomp): a monotonic clock, the result line every tool prints, a filled body buffer, and
 * the flags they share.
 * Header-only: each tool is one translation unit. */
#ifndef BRG_BENCH_UTIL_H
#define BRG_BENCH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Returns: seconds on CLOCK_MONOTONIC. Thread: any. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print the one JSON result line of a throughput run on stdout: messages, body bytes, seconds
 * between the first and the last message, and the rates (MB = 10^6 bytes of message body).
 * Thread: main. */
static inline void bench_report(const char *tool, const char *mode, uint64_t msgs,
                                uint64_t bytes, double secs, uint64_t failed)
{
    double r = secs > 0 ? (double)msgs / secs : 0;
    double mb = secs > 0 ? (double)bytes / 1e6 / secs : 0;
    printf("{\"tool\": \"%s\", \"mode\": \"%s\", \"msgs\": %llu, \"bytes\": %llu, "
           "\"secs\": %.3f, \"msgs_per_s\": %.0f, \"mb_per_s\": %.2f, \"failed\": %llu}\n",
           tool, mode, (unsigned long long)msgs, (unsigned long long)bytes, secs, r, mb,
           (unsigned long long)failed);
    fflush(stdout);
}

/* Print the JSON line of a wait for a destination count: the count seen at the first
 * observation that had anything, the time of that observation and of reaching the target
 * (seconds since the wait started), and the rate in between. Thread: main. */
static inline void bench_report_wait(const char *tool, uint64_t target, uint64_t reached,
                                     uint64_t first_count, double t_first, double t_done)
{
    double d = t_done - t_first;
    double r = d > 0 ? (double)(reached - first_count) / d : 0;
    printf("{\"tool\": \"%s\", \"mode\": \"wait\", \"target\": %llu, \"reached\": %llu, "
           "\"first_count\": %llu, \"t_first\": %.3f, \"t_done\": %.3f, \"msgs_per_s\": %.0f}\n",
           tool, (unsigned long long)target, (unsigned long long)reached,
           (unsigned long long)first_count, t_first, t_done, r);
    fflush(stdout);
}

/* A message body of `size` printable bytes. Ownership: the caller frees it. */
static inline char *bench_body(size_t size)
{
    char *b = malloc(size ? size : 1);
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < size; i++) {
        b[i] = (char)('a' + i % 26);
    }
    return b;
}

/* Returns: nanoseconds on CLOCK_REALTIME: latency stamps cross processes. Thread: any. */
static inline int64_t bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Latency stamps travel in the body, the one part every protocol and msgbridge carry byte for
 * byte: its first 19 bytes are the send time in nanoseconds, in decimal. Bodies shorter than
 * that carry no stamp. */
#define BENCH_STAMP_LEN 19

static inline void bench_stamp(char *body, size_t size)
{
    if (size >= BENCH_STAMP_LEN + 1) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%019lld", (long long)bench_wall_ns());
        memcpy(body, tmp, BENCH_STAMP_LEN);
    }
}

/* Pace a sender at `rate` messages per second: sleep until message i's turn (i from 0) of a
 * run that started at t0 (bench_now()). rate <= 0 does not wait. */
static inline void bench_pace(double t0, uint64_t i, double rate)
{
    if (rate <= 0) {
        return;
    }
    double due = t0 + (double)i / rate, now = bench_now();
    if (due > now) {
        struct timespec ts = {(time_t)(due - now), (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* Latencies of received stamped bodies (bench_lat_add), reported as percentiles. Each sample
 * keeps its send time too, so that a stall can be placed in time (BENCH_LAT_DUMP). */
static struct {
    int64_t *sent, *lat;
    size_t n, cap;
} bench_lat;

static inline void bench_lat_add(const void *body, size_t len)
{
    if (len < BENCH_STAMP_LEN + 1) {
        return;
    }
    int64_t ts = 0;
    const char *b = body;
    for (int i = 0; i < BENCH_STAMP_LEN; i++) {
        if (b[i] < '0' || b[i] > '9') {
            return;
        }
        ts = ts * 10 + (b[i] - '0');
    }
    if (bench_lat.n == bench_lat.cap) {
        bench_lat.cap = bench_lat.cap ? bench_lat.cap * 2 : 65536;
        bench_lat.sent = realloc(bench_lat.sent, bench_lat.cap * sizeof(int64_t));
        bench_lat.lat = realloc(bench_lat.lat, bench_lat.cap * sizeof(int64_t));
        if (!bench_lat.sent || !bench_lat.lat) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    bench_lat.sent[bench_lat.n] = ts;
    bench_lat.lat[bench_lat.n++] = bench_wall_ns() - ts;
}

static int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0..1) of n sorted values. */
static inline double bench_pct_ms(const int64_t *v, size_t n, double q)
{
    size_t i = (size_t)(q * (double)n);
    return (double)v[i < n ? i : n - 1] / 1e6;
}

/* Print the JSON line of a latency run: samples, p50/p90/p99/p99.9/max in milliseconds, and
 * where the worst one was: its send time in seconds after the first message's
 * (worst_at_s), and how many messages in a row, around it, took more than 10 ms (worst_run:
 * one stall delays every message sent during it, while scattered slow messages are noise).
 * With BENCH_LAT_DUMP set, every sample is also written to that file, one "send_ns
 * latency_ns" line each in arrival order. */
static inline void bench_lat_report(const char *tool)
{
    size_t n = bench_lat.n;
    double p[5] = {0, 0, 0, 0, 0}, worst_at = 0;
    size_t worst = 0, run = 0;
    const char *dump = getenv("BENCH_LAT_DUMP");
    FILE *f = dump && dump[0] ? fopen(dump, "w") : NULL;
    for (size_t i = 0; i < n; i++) {
        if (f) {
            fprintf(f, "%lld %lld\n", (long long)bench_lat.sent[i], (long long)bench_lat.lat[i]);
        }
        if (bench_lat.lat[i] > bench_lat.lat[worst]) {
            worst = i;
        }
    }
    if (f) {
        fclose(f);
    }
    if (n) {
        worst_at = (double)(bench_lat.sent[worst] - bench_lat.sent[0]) / 1e9;
        size_t lo = worst, hi = worst;
        while (lo > 0 && bench_lat.lat[lo - 1] > 10000000) {
            lo--;
        }
        while (hi + 1 < n && bench_lat.lat[hi + 1] > 10000000) {
            hi++;
        }
        run = bench_lat.lat[worst] > 10000000 ? hi - lo + 1 : 0;
        qsort(bench_lat.lat, n, sizeof(int64_t), bench_cmp_i64);
        p[0] = bench_pct_ms(bench_lat.lat, n, 0.50);
        p[1] = bench_pct_ms(bench_lat.lat, n, 0.90);
        p[2] = bench_pct_ms(bench_lat.lat, n, 0.99);
        p[3] = bench_pct_ms(bench_lat.lat, n, 0.999);
        p[4] = (double)bench_lat.lat[n - 1] / 1e6;
    }
    printf("{\"tool\": \"%s\", \"mode\": \"latency\", \"samples\": %zu, \"p50_ms\": %.3f, "
           "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, "
           "\"worst_at_s\": %.3f, \"worst_run\": %zu}\n",
           tool, n, p[0], p[1], p[2], p[3], p[4], worst_at, run);
    fflush(stdout);
    free(bench_lat.sent);
    free(bench_lat.lat);
}

/* The flags the raw tools share: -n COUNT, -s SIZE (body bytes), -w WINDOW (unconfirmed
 * sends), -p PREFETCH, -T IDLE_S (give up after this long without a message), -r RATE (per
 * second, 0: as fast as possible), -L (stamp bodies for end-to-end latency). A tool lists in
 * its getopt string only those it takes. */
typedef struct bench_opts {
    uint64_t n, window;
    size_t size;
    int prefetch, idle_s;
    double rate;
    bool stamp;
} bench_opts_t;

static inline bench_opts_t bench_opts_default(uint64_t window)
{
    return (bench_opts_t){.window = window, .size = 100, .prefetch = 1000, .idle_s = 30};
}

/* Returns: true if c is one of the shared flags (its value, if any, taken from arg). */
static inline bool bench_common_opt(bench_opts_t *o, int c, const char *arg)
{
    switch (c) {
    case 'n': o->n = strtoull(arg, NULL, 10); return true;
    case 's': o->size = (size_t)strtoul(arg, NULL, 10); return true;
    case 'w': o->window = strtoull(arg, NULL, 10); return true;
    case 'p': o->prefetch = atoi(arg); return true;
    case 'T': o->idle_s = atoi(arg); return true;
    case 'r': o->rate = strtod(arg, NULL); return true;
    case 'L': o->stamp = true; return true;
    default: return false;
    }
}

/* Print a message and exit with status 2 (setup failures: the run is meaningless). */
static inline void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

#endif
