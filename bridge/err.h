/* msgbridge error codes and allocation helpers: the bottom of the dependency graph. */
#ifndef BRG_ERR_H
#define BRG_ERR_H

#include <stddef.h>

/* Error codes; 0 is success. Functions that can fail for a user-visible reason return one of
 * these and fill a caller-provided errstr buffer (librdkafka style). */
typedef enum brg_err {
    BRG_OK = 0,
    BRG_ERR_INVALID,   /* bad argument or malformed input */
    BRG_ERR_CONFIG,    /* configuration error (already reported with FILE:LINE) */
    BRG_ERR_IO,        /* operating-system I/O failure */
    BRG_ERR_TRANSPORT, /* broker connection failed or was lost: retry later */
    BRG_ERR_AUTH,      /* broker refused credentials */
    BRG_ERR_TOO_LARGE, /* a size limit was exceeded */
    BRG_ERR_NOT_FOUND, /* named thing does not exist */
    BRG_ERR_FULL,      /* bounded resource has no room: try again later */
    BRG_ERR_STOPPED,   /* the component is shutting down */
    BRG_ERR_UNSUPPORTED,
} brg_err_t;

/* Returns: a static lowercase name of the code ("transport"). */
const char *brg_err_name(brg_err_t err);

/* Allocation that aborts the process on out-of-memory: only for small, bounded allocations.
 * Sizes that come from the network must be checked before they reach these. */
void *brg_xmalloc(size_t size);
void *brg_xcalloc(size_t n, size_t size);
/* size zeroed bytes aligned to align (a power of two; size a multiple of it), for per-thread
 * counter shares kept on their own cache lines; free() releases them. */
void *brg_xaligned_calloc(size_t align, size_t size);
void *brg_xrealloc(void *ptr, size_t size);
char *brg_xstrdup(const char *s);
char *brg_xstrndup(const char *s, size_t n);
void *brg_xmemdup(const void *p, size_t n);
/* Free a string that held a secret (a password), wiping it first so that it does not linger
 * in freed memory; NULL is fine. */
void brg_free_secret(char *s);

/* snprintf into a fixed buffer that always NUL-terminates and never fails.
 * Returns: errstr, for use in expressions. */
char *brg_errfmt(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BRG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
