#include "bridge/log.h"

#include "bridge/utf8.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = BRG_LOG_INFO;
static _Atomic int log_format = BRG_LOG_TEXT;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void brg_log_setup(brg_log_level_t level, brg_log_format_t format, int fd)
{
    atomic_store(&log_level, (int)level);
    atomic_store(&log_format, (int)format);
    atomic_store(&log_fd, fd);
}

bool brg_log_level_parse(const char *s, brg_log_level_t *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (brg_log_level_t)i;
            return true;
        }
    }
    return false;
}

bool brg_log_enabled(brg_log_level_t level)
{
    return (int)level <= atomic_load(&log_level);
}

/* Append s to buf as a JSON string body (no quotes), escaping what JSON requires; bytes that
 * are not UTF-8 (a name in another encoding) become U+FFFD, so every line stays JSON. */
static size_t json_escape(char *buf, size_t size, size_t off, const char *s)
{
    while (*s && off + 7 < size) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[off++] = '\\';
            buf[off++] = (char)c;
        } else if (c < 0x20) {
            off += (size_t)snprintf(buf + off, size - off, "\\u%04x", c);
        } else if (c < 0x80) {
            buf[off++] = (char)c;
        } else {
            size_t n = brg_utf8_seq_len((const unsigned char *)s, 4); /* stops at the NUL */
            if (n == 0) {
                off += (size_t)snprintf(buf + off, size - off, "\\ufffd");
                s++;
                continue;
            }
            if (off + n + 7 >= size) {
                break;
            }
            memcpy(buf + off, s, n);
            off += n;
            s += n;
            continue;
        }
        s++;
    }
    return off;
}

void brg_log(brg_log_level_t level, const brg_log_ctx_t *ctx, const char *fmt, ...)
{
    if (!brg_log_enabled(level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    char line[2600];
    size_t off = 0;
    if (atomic_load(&log_format) == BRG_LOG_JSON) {
        off += (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\"", when,
                                level_names[level]);
        if (ctx && ctx->adapter) {
            off += (size_t)snprintf(line + off, sizeof(line) - off, ",\"adapter\":\"%s\"",
                                    ctx->adapter);
        }
        if (ctx && ctx->endpoint) {
            off += (size_t)snprintf(line + off, sizeof(line) - off, ",\"endpoint\":\"");
            off = json_escape(line, sizeof(line), off, ctx->endpoint);
            off += (size_t)snprintf(line + off, sizeof(line) - off, "\"");
        }
        if (ctx && ctx->file) {
            off += (size_t)snprintf(line + off, sizeof(line) - off, ",\"conf\":\"");
            off = json_escape(line, sizeof(line), off, ctx->file);
            off += (size_t)snprintf(line + off, sizeof(line) - off, ":%d\"", ctx->line);
        }
        off += (size_t)snprintf(line + off, sizeof(line) - off, ",\"msg\":\"");
        off = json_escape(line, sizeof(line), off, msg);
        off += (size_t)snprintf(line + off, sizeof(line) - off, "\"}\n");
    } else {
        off += (size_t)snprintf(line, sizeof(line), "%s %-5s ", when, level_names[level]);
        if (ctx && (ctx->adapter || ctx->endpoint)) {
            off += (size_t)snprintf(line + off, sizeof(line) - off, "[%s:%s] ",
                                    ctx->adapter ? ctx->adapter : "-",
                                    ctx->endpoint ? ctx->endpoint : "-");
        }
        if (ctx && ctx->file) {
            off += (size_t)snprintf(line + off, sizeof(line) - off, "(%s:%d) ", ctx->file,
                                    ctx->line);
        }
        off += (size_t)snprintf(line + off, sizeof(line) - off, "%s\n", msg);
    }
    if (off >= sizeof(line)) {
        off = sizeof(line) - 1;
        line[off - 1] = '\n';
    }
    /* One write per line: POSIX keeps writes to a pipe up to PIPE_BUF atomic, and a terminal or
     * file gets whole lines in practice. A failed log write has nowhere to be reported. */
    ssize_t w = write(atomic_load(&log_fd), line, off);
    (void)w;
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
