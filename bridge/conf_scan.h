/* A pass over the raw text of a configuration file before libconfig parses it, for the
 * mistakes libconfig hides or handles badly: NUL bytes (binary files), "\x00" in strings
 * (libconfig drops the NUL without a word), integers too large for 64 bits (libconfig wraps
 * them), and @include targets that are missing or not regular files (libconfig's scanner
 * exits the process on a directory). Each is reported as FILE:LINE: message. */
#ifndef BRG_CONF_SCAN_H
#define BRG_CONF_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/conf_node.h"

/* The most bytes a configuration file (each included file too) may have. */
#define BRG_CONF_MAX_BYTES (16L * 1024 * 1024)

/* Read a whole configuration file into memory (NUL-terminated), refusing what is not a
 * regular file or is larger than BRG_CONF_MAX_BYTES. `file` and `line` say where it was named
 * (line 0: on the command line). Ownership: the caller frees the result.
 * Returns: the text and its length in *len, or NULL with an error added to d. */
char *brg_conf_read_text(const char *path, const char *file, int line, size_t *len,
                         brg_diag_t *d);

/* Scan `text` (len bytes, named `file`; @include paths are relative to `dir`, NULL for the
 * current folder) and the files it includes (10 levels at most; a cycle is an error).
 * Returns: true if nothing was found (errors are added to d otherwise). Thread: any. */
bool brg_conf_scan(const char *text, size_t len, const char *file, const char *dir,
                   brg_diag_t *d);

#endif
