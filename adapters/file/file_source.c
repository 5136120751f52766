/* The file/stdio source: read lines, turn each into an envelope, submit while the route gives
 * credit, and act on outcomes. A file cannot redeliver by itself, so the line of every envelope
 * in flight is kept until its outcome is known: RETRY submits the same line again (in line
 * order, after a backoff), REJECTED keeps it and says so. */
#include "adapters/file/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads are done in chunks of this size: large enough for throughput, small enough that a
 * paused source holds little unread data. */
#define READ_CHUNK (64 * 1024)
/* A followed file is checked for new data, truncation and rotation this often. */
#define FOLLOW_POLL_MS 250
/* RETRY backoff: 100 ms growing to 5 s (a sink that keeps failing is not hammered). */
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 5000

void brg_file_src_init(brg_file_src_t *fs, const brg_file_conf_t *fc, brg_endpoint_t *ep,
                       brg_source_t *src)
{
    memset(fs, 0, sizeof(*fs));
    fs->fc = fc;
    fs->ep = ep;
    fs->src = src;
    fs->fd = -1;
    brg_backoff_init(&fs->backoff, RETRY_BASE_MS, RETRY_CAP_MS);
}

static void rec_free(brg_file_rec_t *r)
{
    if (r) {
        free(r->line);
        free(r);
    }
}

static void fly(brg_file_src_t *fs, brg_file_rec_t *r)
{
    r->prev = NULL;
    r->next = fs->flying;
    if (fs->flying) {
        fs->flying->prev = r;
    }
    fs->flying = r;
}

static void land(brg_file_src_t *fs, brg_file_rec_t *r)
{
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        fs->flying = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    r->prev = r->next = NULL;
}

void brg_file_src_fini(brg_file_src_t *fs)
{
    while (fs->flying) {
        brg_file_rec_t *r = fs->flying;
        land(fs, r);
        rec_free(r);
    }
    if (fs->fd >= 0 && !fs->fc->is_stdio) {
        close(fs->fd);
    }
    fs->fd = -1;
    for (size_t i = 0; i < fs->nretry; i++) {
        rec_free(fs->retry[i]);
    }
    for (size_t i = 0; i < fs->nkept; i++) {
        rec_free(fs->kept[i]);
    }
    free(fs->retry);
    free(fs->kept);
    free(fs->buf);
    memset(fs, 0, sizeof(*fs));
    fs->fd = -1;
}

static const brg_log_ctx_t *logctx(const brg_file_src_t *fs)
{
    return brg_endpoint_logctx(fs->ep);
}

brg_err_t brg_file_src_open(brg_file_src_t *fs, char *errstr, size_t errstr_size)
{
    if (fs->fd >= 0 || fs->eof) {
        return BRG_OK;
    }
    int fd;
    if (fs->fc->is_stdio) {
        fd = STDIN_FILENO;
    } else {
        fd = open(fs->fc->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && fs->fc->follow) {
                /* tail -F: wait for the file to appear. */
                if (!fs->waiting) {
                    brg_log_info(logctx(fs), "%s: does not exist yet; waiting for it",
                                 fs->fc->name);
                }
                fs->waiting = true;
                fs->next_check_ns = brg_now_ns() + (int64_t)FOLLOW_POLL_MS * 1000000;
                return BRG_OK;
            }
            brg_errfmt(errstr, errstr_size, "cannot open \"%s\": %s", fs->fc->path,
                       strerror(errno));
            return BRG_ERR_IO;
        }
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        brg_errfmt(errstr, errstr_size, "cannot stat \"%s\": %s", fs->fc->name, strerror(errno));
        if (!fs->fc->is_stdio) {
            close(fd);
        }
        return BRG_ERR_IO;
    }
    if (fs->waiting) {
        brg_log_info(logctx(fs), "%s: appeared; reading it", fs->fc->name);
    }
    fs->waiting = false;
    fs->fd = fd;
    /* Regular files are always "readable" to poll(2); everything else (pipes, ttys, sockets)
     * is read only when poll says so, so that read(2) never blocks the endpoint's thread. */
    fs->pollable = !S_ISREG(st.st_mode);
    fs->dev = st.st_dev;
    fs->ino = st.st_ino;
    fs->offset = 0;
    return BRG_OK;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static void rec_list_push(brg_file_rec_t ***list, size_t *n, size_t *cap, brg_file_rec_t *r)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = brg_xrealloc(*list, *cap * sizeof(**list));
    }
    (*list)[(*n)++] = r;
}

static void retry_insert(brg_file_src_t *fs, brg_file_rec_t *r)
{
    rec_list_push(&fs->retry, &fs->nretry, &fs->capretry, r);
    /* Keep line order: outcomes of one batch may come back in any order. */
    size_t i = fs->nretry - 1;
    while (i > 0 && fs->retry[i - 1]->lineno > r->lineno) {
        fs->retry[i] = fs->retry[i - 1];
        i--;
    }
    fs->retry[i] = r;
}

void brg_file_src_settled(brg_file_src_t *fs, brg_envelope_t *env, brg_outcome_t outcome)
{
    brg_file_rec_t *r = env->src_token;
    env->src_token = NULL;
    land(fs, r);
    fs->in_flight--;
    switch (outcome) {
    case BRG_ACCEPTED:
        fs->accepted++;
        brg_backoff_reset(&fs->backoff);
        rec_free(r);
        break;
    case BRG_RETRY:
        if (fs->nretry == 0) {
            fs->retry_at_ns = brg_now_ns() + (int64_t)brg_backoff_next(&fs->backoff) * 1000000;
        }
        retry_insert(fs, r);
        break;
    case BRG_REJECTED:
        /* The core has stopped the route and logged why; a file cannot dead-letter by
         * itself, so the line stays here, never acknowledged. */
        brg_log_error(logctx(fs), "%s:%" PRIu64 ": rejected by route \"%s\"; the line is kept "
                      "and not acknowledged",
                      fs->fc->name, r->lineno, brg_source_route_name(fs->src));
        rec_list_push(&fs->kept, &fs->nkept, &fs->capkept, r);
        break;
    }
    brg_source_done(env);
}

/* ---- lines -> envelopes ------------------------------------------------------------------- */

/* Build the envelope for one line. Returns: NULL with errstr set for a malformed line. */
static brg_envelope_t *line_envelope(brg_file_src_t *fs, const char *line, size_t len,
                                     uint64_t lineno, bool redelivered, char *errstr,
                                     size_t errstr_size)
{
    brg_envelope_t *env;
    if (fs->fc->format == BRG_FILE_LINES) {
        env = brg_envelope_new();
        brg_envelope_set_body(env, line, len);
    } else if (brg_json_decode(line, len, &env, errstr, errstr_size) != BRG_OK) {
        return NULL;
    } else {
        /* The envelope comes from this file now: an origin in the line (a dump of another
         * route) is replaced, the core fills in adapter and endpoint. */
        brg_origin_t *o = &env->origin;
        free(o->endpoint);
        free(o->stream);
        free(o->exchange);
        free(o->routing_key);
        memset(o, 0, sizeof(*o));
        o->partition = -1;
    }
    env->origin.stream = brg_xstrdup(fs->fc->name);
    env->origin.offset = (int64_t)lineno; /* line number, from 1 */
    env->origin.redelivered = redelivered;
    env->src_seq = lineno;
    return env;
}

static void submit_rec(brg_file_src_t *fs, brg_file_rec_t *r, brg_envelope_t *env)
{
    env->src_token = r;
    fly(fs, r);
    fs->in_flight++;
    brg_source_submit(fs->src, env);
}

/* Handle one complete line (without its '\n'). */
static void take_line(brg_file_src_t *fs, const char *line, size_t len)
{
    uint64_t lineno = ++fs->lineno;
    if (fs->fc->format == BRG_FILE_JSON) {
        /* Blank lines separate nothing in NDJSON: skip them quietly. */
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
            i++;
        }
        if (i == len) {
            return;
        }
    }
    char err[512];
    brg_envelope_t *env = line_envelope(fs, line, len, lineno, false, err, sizeof(err));
    if (!env) {
        /* Bad input cannot be redelivered into shape: say where, count it, go on. */
        fs->skipped++;
        brg_log_warn(logctx(fs), "%s:%" PRIu64 ": %s; line skipped (%" PRIu64 " skipped so far)",
                     fs->fc->name, lineno, err, fs->skipped);
        return;
    }
    brg_file_rec_t *r = brg_xmalloc(sizeof(*r));
    r->lineno = lineno;
    r->line = brg_xmemdup(line, len);
    r->len = len;
    submit_rec(fs, r, env);
}

/* Resubmit the first line waiting for a retry. */
static void resubmit_one(brg_file_src_t *fs)
{
    brg_file_rec_t *r = fs->retry[0];
    memmove(fs->retry, fs->retry + 1, (fs->nretry - 1) * sizeof(*fs->retry));
    fs->nretry--;
    char err[512];
    brg_envelope_t *env = line_envelope(fs, r->line, r->len, r->lineno, true, err, sizeof(err));
    if (!env) {
        /* Cannot happen: the same bytes decoded before. Do not lose the line silently. */
        brg_log_error(logctx(fs), "%s:%" PRIu64 ": %s (on retry); line kept", fs->fc->name,
                      r->lineno, err);
        rec_list_push(&fs->kept, &fs->nkept, &fs->capkept, r);
        return;
    }
    submit_rec(fs, r, env);
}

/* Find the next complete line in the buffer and take it. Returns: true if one was taken. */
static bool next_line(brg_file_src_t *fs)
{
    for (;;) {
        size_t from = fs->scan > fs->head ? fs->scan : fs->head;
        char *nl = memchr(fs->buf + from, '\n', fs->len - from);
        if (!nl) {
            fs->scan = fs->len;
            size_t pending = fs->len - fs->head;
            if (!fs->discarding && pending > fs->fc->max_line_bytes) {
                /* Too long to hold: drop it up to its newline, wherever that is. */
                fs->discarding = true;
                fs->skipped++;
                brg_log_warn(logctx(fs),
                             "%s:%" PRIu64 ": line longer than max_line_bytes (%zu); line "
                             "skipped (%" PRIu64 " skipped so far)",
                             fs->fc->name, fs->lineno + 1, fs->fc->max_line_bytes, fs->skipped);
            }
            if (fs->discarding) {
                fs->head = fs->len = fs->scan = 0;
            }
            return false;
        }
        size_t end = (size_t)(nl - fs->buf);
        const char *line = fs->buf + fs->head;
        size_t len = end - fs->head;
        fs->head = fs->scan = end + 1;
        if (fs->discarding) {
            fs->discarding = false;
            fs->lineno++; /* the over-long line ends here */
            continue;
        }
        if (len > fs->fc->max_line_bytes) {
            fs->skipped++;
            brg_log_warn(logctx(fs),
                         "%s:%" PRIu64 ": line longer than max_line_bytes (%zu); line skipped "
                         "(%" PRIu64 " skipped so far)",
                         fs->fc->name, ++fs->lineno, fs->fc->max_line_bytes, fs->skipped);
            continue;
        }
        take_line(fs, line, len);
        return true;
    }
}

/* Following: notice truncation (start again from the top) and rotation (a new file under the
 * same name: finish the old one, then read the new one). */
static void follow_check(brg_file_src_t *fs)
{
    struct stat st;
    if (fstat(fs->fd, &st) == 0 && st.st_size < fs->offset) {
        brg_log_warn(logctx(fs), "%s: truncated (%jd < %jd bytes read); reading from the start",
                     fs->fc->name, (intmax_t)st.st_size, (intmax_t)fs->offset);
        lseek(fs->fd, 0, SEEK_SET);
        fs->offset = 0;
        fs->head = fs->len = fs->scan = 0;
        fs->discarding = false;
        return;
    }
    if (stat(fs->fc->path, &st) == 0 && (st.st_dev != fs->dev || st.st_ino != fs->ino)) {
        brg_log_info(logctx(fs), "%s: replaced by a new file (rotated); reading the new one",
                     fs->fc->name);
        /* A partial last line of the old file is complete by now: nobody writes there. */
        if (fs->len > fs->head && !fs->discarding) {
            take_line(fs, fs->buf + fs->head, fs->len - fs->head);
        }
        close(fs->fd);
        fs->fd = -1;
        fs->head = fs->len = fs->scan = 0;
        fs->discarding = false;
    }
}

/* Read one chunk. Returns: bytes read, 0 at end of input, -1 on error (errstr set). */
static ssize_t read_chunk(brg_file_src_t *fs, char *errstr, size_t errstr_size)
{
    if (fs->head > 0) {
        memmove(fs->buf, fs->buf + fs->head, fs->len - fs->head);
        fs->len -= fs->head;
        fs->scan = fs->scan > fs->head ? fs->scan - fs->head : 0;
        fs->head = 0;
    }
    if (fs->cap - fs->len < READ_CHUNK) {
        /* Bounded: a pending line never exceeds max_line_bytes (it is dropped before). */
        size_t cap = fs->cap ? fs->cap : READ_CHUNK * 2;
        while (cap - fs->len < READ_CHUNK) {
            cap *= 2;
        }
        fs->buf = brg_xrealloc(fs->buf, cap);
        fs->cap = cap;
    }
    ssize_t n;
    do {
        n = read(fs->fd, fs->buf + fs->len, READ_CHUNK);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return -2;
        }
        brg_errfmt(errstr, errstr_size, "cannot read \"%s\": %s", fs->fc->name, strerror(errno));
        return -1;
    }
    fs->len += (size_t)n;
    fs->offset += n;
    return n;
}

static void finish(brg_file_src_t *fs)
{
    /* The last line may lack its newline: it is still a line. */
    if (fs->len > fs->head && !fs->discarding) {
        size_t len = fs->len - fs->head;
        const char *line = fs->buf + fs->head;
        fs->head = fs->len = fs->scan = 0;
        if (len > fs->fc->max_line_bytes) {
            fs->skipped++;
            brg_log_warn(logctx(fs), "%s:%" PRIu64 ": line longer than max_line_bytes (%zu); "
                         "line skipped (%" PRIu64 " skipped so far)",
                         fs->fc->name, ++fs->lineno, fs->fc->max_line_bytes, fs->skipped);
        } else {
            take_line(fs, line, len);
        }
    } else if (fs->discarding) {
        fs->lineno++;
    }
    fs->eof = true;
    brg_log_info(logctx(fs), "%s: end of input after %" PRIu64 " lines (%" PRIu64
                 " skipped); the source stays idle until msgbridge stops",
                 fs->fc->name, fs->lineno, fs->skipped);
    if (!fs->fc->is_stdio) {
        close(fs->fd);
    }
    fs->fd = -1;
}

brg_err_t brg_file_src_pump(brg_file_src_t *fs, char *errstr, size_t errstr_size)
{
    while (brg_source_credit(fs->src) > 0) {
        /* Lines waiting for a retry go first, and nothing new passes them: order is kept. */
        if (fs->nretry) {
            if (brg_now_ns() < fs->retry_at_ns) {
                return BRG_OK;
            }
            resubmit_one(fs);
            continue;
        }
        if (fs->buf && next_line(fs)) {
            continue;
        }
        if (fs->eof) {
            return BRG_OK;
        }
        if (fs->at_end || fs->waiting) {
            /* Following: look again only every FOLLOW_POLL_MS (the loop's timer). */
            if (brg_now_ns() < fs->next_check_ns) {
                return BRG_OK;
            }
            if (fs->at_end) {
                fs->at_end = false;
                follow_check(fs);
            }
        }
        if (fs->fd < 0) {
            brg_err_t rc = brg_file_src_open(fs, errstr, errstr_size);
            if (rc != BRG_OK || fs->fd < 0) {
                return rc;
            }
        }
        if (fs->pollable && !fs->readable) {
            return BRG_OK; /* the loop polls the fd and calls again */
        }
        fs->readable = false;
        ssize_t n = read_chunk(fs, errstr, errstr_size);
        if (n == -2) {
            return BRG_OK;
        }
        if (n < 0) {
            return BRG_ERR_IO;
        }
        if (n == 0) {
            if (fs->fc->follow) {
                fs->at_end = true;
                fs->next_check_ns = brg_now_ns() + (int64_t)FOLLOW_POLL_MS * 1000000;
                continue;
            }
            finish(fs);
        }
    }
    return BRG_OK;
}

static int ms_until(int64_t when_ns)
{
    int64_t ms = (when_ns - brg_now_ns() + 999999) / 1000000;
    return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

int brg_file_src_poll_plan(brg_file_src_t *fs, int *want_fd)
{
    *want_fd = -1;
    if (fs->eof || brg_source_credit(fs->src) == 0) {
        return -1; /* a settle (or stop) wakes the loop */
    }
    if (fs->nretry) {
        return ms_until(fs->retry_at_ns);
    }
    if (fs->at_end || fs->waiting) {
        return ms_until(fs->next_check_ns);
    }
    if (fs->pollable && fs->fd >= 0 && !fs->readable) {
        *want_fd = fs->fd;
    }
    return -1;
}
