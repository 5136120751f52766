/* One-line logging. Every event is one line, written with a single write(2) so that lines from
 * librdkafka's threads and ours never interleave:
 *   LEVEL [adapter:endpoint] (file.conf:LINE) message
 * Thread: all functions may be called from any thread. */
#ifndef BRG_LOG_H
#define BRG_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum brg_log_level {
    BRG_LOG_ERROR = 0,
    BRG_LOG_WARN,
    BRG_LOG_INFO,
    BRG_LOG_DEBUG,
} brg_log_level_t;

typedef enum brg_log_format {
    BRG_LOG_TEXT = 0,
    BRG_LOG_JSON,
} brg_log_format_t;

/* Where a log line comes from; every field may be NULL/0. */
typedef struct brg_log_ctx {
    const char *adapter;  /* "kafka" */
    const char *endpoint; /* endpoint name from the config */
    const char *file;     /* config file the endpoint or route was defined in */
    int line;             /* its line, 0 if unknown */
} brg_log_ctx_t;

/* Set the minimum level and format; default INFO, text, to stderr (fd 2). */
void brg_log_setup(brg_log_level_t level, brg_log_format_t format, int fd);

/* Parse "error", "warn", "info", "debug". Returns: false if unknown. */
bool brg_log_level_parse(const char *s, brg_log_level_t *out);

/* Returns: true if a message at this level would be written. */
bool brg_log_enabled(brg_log_level_t level);

/* Write one line. ctx may be NULL. */
void brg_log(brg_log_level_t level, const brg_log_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define brg_log_error(ctx, ...) brg_log(BRG_LOG_ERROR, ctx, __VA_ARGS__)
#define brg_log_warn(ctx, ...) brg_log(BRG_LOG_WARN, ctx, __VA_ARGS__)
#define brg_log_info(ctx, ...) brg_log(BRG_LOG_INFO, ctx, __VA_ARGS__)
#define brg_log_debug(ctx, ...) brg_log(BRG_LOG_DEBUG, ctx, __VA_ARGS__)

/* Copy a URL for logging with any password replaced by "***". Returns: out. Thread: any. */
char *brg_redact_url(const char *url, char *out, size_t size);

#endif
