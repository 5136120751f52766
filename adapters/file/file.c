/* The `file` and `stdio` adapters: their keys, config checks and the endpoint loop.
 *
 * Both share all their code; `stdio` is a file endpoint whose input is standard input and
 * whose output is standard output. The loop is a plain poll(2) over the endpoint's wake fd and
 * the input (when it is a pipe or a tty and the route has credit). */
#include "adapters/file/file.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* Lines longer than this are skipped (and counted): a runaway line must not eat the memory. */
#define DEFAULT_MAX_LINE_BYTES (16u * 1024 * 1024)
#define MAX_MAX_LINE_BYTES (1024u * 1024 * 1024)
/* With nothing planned the loop still looks around this often (a missed wake costs 1 s). */
#define IDLE_POLL_MS 1000

/* ---- configuration ---------------------------------------------------------------------- */

static const char *const formats[] = {"json", "lines", NULL};

static const brg_conf_key_t file_endpoint_keys[] = {
    {.name = "path", .type = BRG_KEY_STRING, .flags = BRG_KEY_REQUIRED,
     .help = "the file to read (source) or write (sink)"},
    {.name = "format", .type = BRG_KEY_STRING, .words = formats,
     .help = "json (default: one envelope per line) or lines (raw lines)"},
    {.name = "append", .type = BRG_KEY_BOOL,
     .help = "sink: append to the file (default true) or truncate it"},
    {.name = "fsync", .type = BRG_KEY_BOOL,
     .help = "sink: fsync after each batch, before settling (default false)"},
    {.name = "follow", .type = BRG_KEY_BOOL,
     .help = "source: keep reading appended lines like tail -F (default false)"},
    {.name = "max_line_bytes", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1,
     .max = MAX_MAX_LINE_BYTES,
     .help = "longest line accepted (default 16777216); longer ones are skipped"},
    {.name = NULL},
};

static const brg_conf_key_t stdio_endpoint_keys[] = {
    {.name = "format", .type = BRG_KEY_STRING, .words = formats,
     .help = "json (default: one envelope per line) or lines (raw lines)"},
    {.name = "max_line_bytes", .type = BRG_KEY_INT, .flags = BRG_KEY_RANGE, .min = 1,
     .max = MAX_MAX_LINE_BYTES,
     .help = "longest line accepted (default 16777216); longer ones are skipped"},
    {.name = NULL},
};

/* Routes need no keys beside `endpoint`: the endpoint is the file. */
static const brg_conf_key_t no_keys[] = {
    {.name = NULL},
};

static void file_check_endpoint(const brg_conf_node_t *cs, brg_diag_t *d)
{
    const brg_conf_node_t *path = brg_conf_get(cs, "path");
    if (path && path->type == BRG_CONF_STRING && path->v.s[0] == 0) {
        brg_diag_error(d, path, "path is empty");
    }
}

/* ---- open / close ------------------------------------------------------------------------- */

static void file_close(void *state)
{
    brg_file_t *f = state;
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->nsrcs; i++) {
        brg_file_src_fini(&f->srcs[i]);
    }
    free(f->srcs);
    brg_file_sink_fini(f);
    free(f->conf.path);
    free(f);
}

static brg_err_t file_open(brg_endpoint_t *ep, void **statep, char *errstr, size_t errstr_size)
{
    const brg_conf_node_t *cs = brg_endpoint_conf(ep);
    bool is_stdio = brg_endpoint_adapter(ep) == &brg_stdio_adapter;
    size_t nsrcs = brg_endpoint_source_count(ep);
    if (is_stdio && nsrcs > 1) {
        brg_errfmt(errstr, errstr_size,
                   "stdio endpoint \"%s\" is the source of %zu routes; standard input can feed "
                   "only one",
                   brg_endpoint_name(ep), nsrcs);
        return BRG_ERR_CONFIG;
    }
    brg_file_t *f = brg_xcalloc(1, sizeof(*f));
    f->ep = ep;
    f->out_fd = -1;
    brg_file_conf_t *fc = &f->conf;
    fc->is_stdio = is_stdio;
    if (is_stdio) {
        fc->name = "stdin";
        fc->out_name = "stdout";
    } else {
        fc->path = brg_xstrdup(brg_conf_str(cs, "path", ""));
        fc->name = fc->out_name = fc->path;
    }
    fc->format = strcmp(brg_conf_str(cs, "format", "json"), "lines") == 0 ? BRG_FILE_LINES
                                                                          : BRG_FILE_JSON;
    fc->append = brg_conf_bool(cs, "append", true);
    fc->fsync = brg_conf_bool(cs, "fsync", false);
    fc->follow = !is_stdio && brg_conf_bool(cs, "follow", false);
    fc->max_line_bytes = (size_t)brg_conf_int(cs, "max_line_bytes", DEFAULT_MAX_LINE_BYTES);

    f->nsrcs = nsrcs;
    f->srcs = brg_xcalloc(nsrcs ? nsrcs : 1, sizeof(*f->srcs));
    for (size_t i = 0; i < nsrcs; i++) {
        brg_source_t *src = brg_endpoint_source(ep, i);
        brg_file_src_init(&f->srcs[i], fc, ep, src);
        brg_source_set_opaque(src, &f->srcs[i]);
    }
    *statep = f;
    return BRG_OK;
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void take_settled(brg_file_t *f)
{
    brg_envelope_t *env;
    brg_outcome_t outcome;
    while ((env = brg_endpoint_take_settled(f->ep, &outcome))) {
        brg_file_src_t *fs = brg_source_opaque(brg_envelope_source(env));
        brg_file_src_settled(fs, env, outcome);
    }
}

static brg_err_t file_run(void *state, brg_endpoint_t *ep, char *errstr, size_t errstr_size)
{
    brg_file_t *f = state;
    brg_err_t rc = brg_file_sink_open(f, errstr, errstr_size);
    for (size_t i = 0; rc == BRG_OK && i < f->nsrcs; i++) {
        rc = brg_file_src_open(&f->srcs[i], errstr, errstr_size);
    }
    if (rc != BRG_OK) {
        return rc;
    }
    brg_endpoint_set_connected(ep, true, NULL);

    struct pollfd *pfds = brg_xcalloc(f->nsrcs + 1, sizeof(*pfds));
    brg_file_src_t **pfd_src = brg_xcalloc(f->nsrcs + 1, sizeof(*pfd_src));
    while (!brg_endpoint_stopping(ep)) {
        brg_endpoint_clear_wake(ep);
        take_settled(f);
        brg_file_sink_drain(f);
        for (size_t i = 0; rc == BRG_OK && i < f->nsrcs; i++) {
            rc = brg_file_src_pump(&f->srcs[i], errstr, errstr_size);
        }
        if (rc != BRG_OK) {
            break;
        }
        size_t n = 0;
        pfds[n++] = (struct pollfd){.fd = brg_endpoint_wakefd(ep), .events = POLLIN};
        int timeout = IDLE_POLL_MS;
        for (size_t i = 0; i < f->nsrcs; i++) {
            int fd;
            int t = brg_file_src_poll_plan(&f->srcs[i], &fd);
            if (t >= 0 && t < timeout) {
                timeout = t;
            }
            if (fd >= 0) {
                pfd_src[n] = &f->srcs[i];
                pfds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
            }
        }
        brg_endpoint_flush(f->ep);
        if (poll(pfds, n, timeout) < 0 && errno != EINTR) {
            brg_errfmt(errstr, errstr_size, "poll: %s", strerror(errno));
            rc = BRG_ERR_IO;
            break;
        }
        for (size_t i = 1; i < n; i++) {
            /* POLLHUP without POLLIN is the end of a pipe: read(2) returns 0 and says so. */
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
                pfd_src[i]->readable = true;
            }
        }
    }
    free(pfds);
    free(pfd_src);
    /* Stopping (or failing): settle what was taken, act on outcomes that came back. */
    take_settled(f);
    brg_file_sink_drain(f);
    return rc;
}

const brg_adapter_t brg_file_adapter = {
    .name = "file",
    .description = "newline-delimited JSON envelopes or raw lines, read from or written to a file",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = file_endpoint_keys,
    .source_keys = no_keys,
    .sink_keys = no_keys,
    .check_endpoint = file_check_endpoint,
    .open = file_open,
    .run = file_run,
    .close = file_close,
};

const brg_adapter_t brg_stdio_adapter = {
    .name = "stdio",
    .description = "newline-delimited JSON envelopes or raw lines on standard input and output",
    .caps = BRG_CAP_SOURCE | BRG_CAP_SINK,
    .endpoint_keys = stdio_endpoint_keys,
    .source_keys = no_keys,
    .sink_keys = no_keys,
    .open = file_open,
    .run = file_run,
    .close = file_close,
};
