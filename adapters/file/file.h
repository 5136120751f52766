/* The file and stdio adapters: internal declarations shared by file.c (the adapter tables and
 * the endpoint loop), file_source.c (reading lines) and file_sink.c (writing lines).
 *
 * One endpoint is one file (or standard input/output for stdio). As a source it reads lines and
 * submits one envelope per line; as a sink it writes one line per envelope. Everything here runs
 * on the endpoint's thread, except open/close (main thread, before/after that thread). */
#ifndef BRG_FILE_FILE_H
#define BRG_FILE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "adapters/file/json_codec.h"
#include "bridge/adapter.h"

extern const brg_adapter_t brg_file_adapter;
extern const brg_adapter_t brg_stdio_adapter;

typedef enum brg_file_format {
    BRG_FILE_JSON = 0, /* one JSON envelope per line (docs/envelope-json.md) */
    BRG_FILE_LINES,    /* raw lines: each line (without its '\n') is a body */
} brg_file_format_t;

/* Settings of one endpoint, read from its config group at open. */
typedef struct brg_file_conf {
    bool is_stdio;
    char *path;           /* file path; NULL for stdio */
    const char *name;     /* what logs call the input: the path or "stdin" */
    const char *out_name; /* what logs call the output: the path or "stdout" */
    brg_file_format_t format;
    bool append;          /* sink: append (true) or truncate at first open (false) */
    bool fsync;           /* sink: fsync(2) after each batch of writes, before settling */
    bool follow;          /* source: keep reading what is appended, like tail -F */
    size_t max_line_bytes;
} brg_file_conf_t;

/* A line kept for an envelope in flight, so that a RETRY re-reads exactly the same input
 * (the envelope that comes back may have been changed by the route's mapping). */
typedef struct brg_file_rec {
    uint64_t lineno;
    char *line;
    size_t len;
    /* while in flight: linked into the source's list, so that close() frees the records of
     * envelopes the core still held when it stopped (drain deadline passed) */
    struct brg_file_rec *prev, *next;
} brg_file_rec_t;

/* One route reading this endpoint (each file source reads the file on its own). */
typedef struct brg_file_src {
    const brg_file_conf_t *fc;
    brg_endpoint_t *ep;
    brg_source_t *src;
    int fd;
    bool pollable; /* pipe, tty, socket: read only after poll(2) says so */
    bool readable; /* the last poll said the fd can be read */
    bool eof;      /* end of input and not following: finished, the source stays idle */
    bool at_end;   /* following: the last read hit the current end of the file */
    bool waiting;  /* following: the file does not exist (yet) */
    int64_t next_check_ns; /* following: when to look again (at_end or waiting) */
    dev_t dev;     /* identity of the open file, to notice rotation when following */
    ino_t ino;
    off_t offset;  /* bytes read from fd, to notice truncation when following */
    char *buf;     /* read buffer: bytes [head, len) are not consumed yet */
    size_t head, len, cap, scan;
    bool discarding; /* skipping the rest of a line longer than max_line_bytes */
    uint64_t lineno; /* lines seen so far (every line, skipped ones included) */
    uint64_t skipped, accepted, in_flight;
    brg_file_rec_t *flying; /* records of envelopes in flight (a list) */
    /* RETRY: records waiting to be submitted again, sorted by line number (order is kept) */
    brg_file_rec_t **retry;
    size_t nretry, capretry;
    int64_t retry_at_ns;
    brg_backoff_t backoff;
    /* REJECTED: kept, never acknowledged (the route has stopped) */
    brg_file_rec_t **kept;
    size_t nkept, capkept;
} brg_file_src_t;

/* The endpoint's state (what open() returns). */
typedef struct brg_file {
    brg_endpoint_t *ep;
    brg_file_conf_t conf;
    brg_file_src_t *srcs;
    size_t nsrcs;
    /* sink */
    int out_fd;        /* -1 until opened in run() */
    bool out_opened_once;
    brg_jbuf_t out;    /* encoded batch */
    brg_envelope_t **batch;
    size_t *batch_end; /* end offset in `out` of each envelope's line */
    size_t nbatch, capbatch;
} brg_file_t;

/* ---- file_source.c ---- */

/* Initialize a source's state (no I/O). Thread: main thread (open). */
void brg_file_src_init(brg_file_src_t *fs, const brg_file_conf_t *fc, brg_endpoint_t *ep,
                       brg_source_t *src);
/* Free what the source owns, closing its fd (not standard input). Thread: main (close). */
void brg_file_src_fini(brg_file_src_t *fs);
/* Open the input if it is not open yet. Returns: BRG_OK (also while a followed file does not
 * exist yet: fs->waiting), or BRG_ERR_IO with errstr. Thread: endpoint. */
brg_err_t brg_file_src_open(brg_file_src_t *fs, char *errstr, size_t errstr_size);
/* Act on one settled envelope of this source (ACCEPTED: done; RETRY: queue its line again;
 * REJECTED: log and keep its line), then pass it to brg_source_done(). Thread: endpoint. */
void brg_file_src_settled(brg_file_src_t *fs, brg_envelope_t *env, brg_outcome_t outcome);
/* Read and submit while the route gives credit. Returns: BRG_OK or BRG_ERR_IO (read error,
 * errstr set). Thread: endpoint. */
brg_err_t brg_file_src_pump(brg_file_src_t *fs, char *errstr, size_t errstr_size);
/* What to poll for: *want_fd is set to the fd to watch for input (or -1), and the return value
 * is the longest the loop may sleep in ms (-1: until woken). Thread: endpoint. */
int brg_file_src_poll_plan(brg_file_src_t *fs, int *want_fd);

/* ---- file_sink.c ---- */

/* Open the output if the endpoint is a sink and it is not open yet.
 * Returns: BRG_OK or BRG_ERR_IO with errstr. Thread: endpoint. */
brg_err_t brg_file_sink_open(brg_file_t *f, char *errstr, size_t errstr_size);
/* Take every envelope waiting to be published, write them (one line each), fsync if
 * configured, and settle each: ACCEPTED once written, RETRY if the write failed.
 * Thread: endpoint. */
void brg_file_sink_drain(brg_file_t *f);
/* Free the sink's buffers and close its fd (not standard output). Thread: main (close). */
void brg_file_sink_fini(brg_file_t *f);

#endif
