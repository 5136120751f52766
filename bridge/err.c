#include "bridge/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *brg_err_name(brg_err_t err)
{
    switch (err) {
    case BRG_OK: return "ok";
    case BRG_ERR_INVALID: return "invalid";
    case BRG_ERR_CONFIG: return "config";
    case BRG_ERR_IO: return "io";
    case BRG_ERR_TRANSPORT: return "transport";
    case BRG_ERR_AUTH: return "auth";
    case BRG_ERR_TOO_LARGE: return "too large";
    case BRG_ERR_NOT_FOUND: return "not found";
    case BRG_ERR_FULL: return "full";
    case BRG_ERR_STOPPED: return "stopped";
    case BRG_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}

static void oom(size_t size)
{
    /* Nothing sensible can continue without memory for small bookkeeping: say so and abort. */
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "FATAL out of memory allocating %zu bytes\n", size);
    if (n > 0) {
        fwrite(msg, 1, (size_t)n, stderr);
    }
    abort();
}

void *brg_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        oom(size);
    }
    return p;
}

void *brg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom(n * size);
    }
    return p;
}

void *brg_xaligned_calloc(size_t align, size_t size)
{
    void *p = aligned_alloc(align, size ? size : align);
    if (!p) {
        oom(size);
    }
    memset(p, 0, size);
    return p;
}

void *brg_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) {
        oom(size);
    }
    return p;
}

char *brg_xstrdup(const char *s)
{
    return s ? brg_xmemdup(s, strlen(s) + 1) : NULL;
}

void brg_free_secret(char *s)
{
    if (s) {
        /* explicit_bzero: a plain memset before free is a dead store the compiler may drop. */
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

char *brg_xstrndup(const char *s, size_t n)
{
    char *p = brg_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *brg_xmemdup(const void *p, size_t n)
{
    void *q = brg_xmalloc(n);
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

char *brg_errfmt(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size) {
        return errstr;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return errstr;
}
