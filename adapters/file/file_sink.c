/* The file/stdio sink: one line per envelope. Envelopes waiting in the mailbox are written as
 * one batch (one write(2) in the common case, one fsync(2) if configured) and each is settled
 * ACCEPTED only once its whole line has been written (and synced). A failed write settles RETRY
 * what was not written; on a regular file the partial line is cut off again, so that the next
 * write starts on a line boundary. */
#include "adapters/file/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Flush a batch at this many bytes or envelopes: bounds the buffer, keeps settles flowing. */
#define BATCH_BYTES (1024 * 1024)
#define BATCH_COUNT 1024

brg_err_t brg_file_sink_open(brg_file_t *f, char *errstr, size_t errstr_size)
{
    if (f->out_fd >= 0 || brg_endpoint_sink_count(f->ep) == 0) {
        return BRG_OK;
    }
    if (f->conf.is_stdio) {
        f->out_fd = STDOUT_FILENO;
        return BRG_OK;
    }
    /* append = false truncates only at the first open: a restart of the endpoint loop must not
     * erase what this run already wrote. */
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    flags |= f->conf.append || f->out_opened_once ? O_APPEND : O_TRUNC;
    int fd = open(f->conf.path, flags, 0666);
    if (fd < 0) {
        brg_errfmt(errstr, errstr_size, "cannot open \"%s\" for writing: %s", f->conf.path,
                   strerror(errno));
        return BRG_ERR_IO;
    }
    f->out_fd = fd;
    f->out_opened_once = true;
    return BRG_OK;
}

static void batch_add(brg_file_t *f, brg_envelope_t *env)
{
    if (f->nbatch == f->capbatch) {
        f->capbatch = f->capbatch ? f->capbatch * 2 : 64;
        f->batch = brg_xrealloc(f->batch, f->capbatch * sizeof(*f->batch));
        f->batch_end = brg_xrealloc(f->batch_end, f->capbatch * sizeof(*f->batch_end));
    }
    if (f->conf.format == BRG_FILE_LINES) {
        /* Raw: the body as it is and a newline (a body containing '\n' reads back as several
         * lines: documented). */
        brg_jbuf_t *b = &f->out;
        size_t need = b->len + env->body_len + 1;
        if (need > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < need) {
                cap *= 2;
            }
            b->data = brg_xrealloc(b->data, cap);
            b->cap = cap;
        }
        if (env->body_len) {
            memcpy(b->data + b->len, env->body, env->body_len);
        }
        b->len += env->body_len;
        b->data[b->len++] = '\n';
    } else {
        brg_json_encode_append(env, &f->out);
    }
    f->batch[f->nbatch] = env;
    f->batch_end[f->nbatch] = f->out.len;
    f->nbatch++;
}

/* Write the batch, settle every envelope in it, empty it. */
static void batch_flush(brg_file_t *f)
{
    if (f->nbatch == 0) {
        return;
    }
    const brg_log_ctx_t *lc = brg_endpoint_logctx(f->ep);
    struct stat st;
    bool regular = fstat(f->out_fd, &st) == 0 && S_ISREG(st.st_mode);
    off_t start = regular ? lseek(f->out_fd, 0, SEEK_END) : -1;
    size_t done = 0;
    int err = 0;
    while (done < f->out.len) {
        ssize_t n = write(f->out_fd, f->out.data + done, f->out.len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        done += (size_t)n;
    }
    char reason[256] = "";
    if (err) {
        brg_errfmt(reason, sizeof(reason), "cannot write to \"%s\": %s", f->conf.out_name,
                   strerror(err));
        /* Whole lines that made it are kept; a partial one is cut off (regular files only:
         * on a pipe the reader already has it). */
        size_t whole = 0;
        for (size_t i = 0; i < f->nbatch && f->batch_end[i] <= done; i++) {
            whole = f->batch_end[i];
        }
        if (regular && start >= 0 && whole < done) {
            if (ftruncate(f->out_fd, start + (off_t)whole) != 0) {
                brg_log_warn(lc, "%s: cannot cut off a partial line: %s", f->conf.out_name,
                             strerror(errno));
            }
        }
        done = whole;
    }
    if (f->conf.fsync && done > 0 && fsync(f->out_fd) != 0) {
        /* Nothing of this batch is known to be on disk: all of it is retried. */
        brg_errfmt(reason, sizeof(reason), "cannot fsync \"%s\": %s", f->conf.out_name,
                   strerror(errno));
        done = 0;
    }
    if (reason[0]) {
        size_t failed = 0;
        for (size_t i = 0; i < f->nbatch; i++) {
            failed += f->batch_end[i] > done;
        }
        brg_log_error(lc, "%s; %zu message(s) settled retry", reason, failed);
    }
    for (size_t i = 0; i < f->nbatch; i++) {
        bool ok = f->batch_end[i] <= done;
        brg_settle(f->batch[i], ok ? BRG_ACCEPTED : BRG_RETRY, ok ? NULL : reason);
    }
    f->nbatch = 0;
    f->out.len = 0;
}

void brg_file_sink_drain(brg_file_t *f)
{
    brg_envelope_t *env;
    while ((env = brg_endpoint_take_publish(f->ep, NULL))) {
        batch_add(f, env);
        if (f->out.len >= BATCH_BYTES || f->nbatch >= BATCH_COUNT) {
            batch_flush(f);
        }
    }
    batch_flush(f);
    /* One line of a huge message must not keep a huge buffer for the rest of the run. */
    if (f->out.cap > 4 * BATCH_BYTES) {
        free(f->out.data);
        f->out = (brg_jbuf_t){0};
    }
}

void brg_file_sink_fini(brg_file_t *f)
{
    if (f->out_fd >= 0 && !f->conf.is_stdio) {
        close(f->out_fd);
    }
    f->out_fd = -1;
    free(f->out.data);
    free(f->batch);
    free(f->batch_end);
    f->out = (brg_jbuf_t){0};
    f->batch = NULL;
    f->batch_end = NULL;
    f->nbatch = f->capbatch = 0;
}
