/* Compiling user-supplied regular expressions safely. glibc's regcomp() is exponential in the
 * nesting of repetitions ("((a+)+)+...", "a+++"), so a configuration could make msgbridge -t
 * or a reload run for minutes: patterns are checked for that shape before regcomp sees them. */
#ifndef BRG_REGEX_H
#define BRG_REGEX_H

#include <regex.h>
#include <stddef.h>

/* Longest pattern accepted, and deepest nesting of repeated groups. */
#define BRG_REGEX_MAX_LEN 1024
#define BRG_REGEX_MAX_REPEAT_DEPTH 3

/* regcomp(re, pattern, flags) after the checks above.
 * Returns: 0, or non-zero with errstr set ("repetitions nested more than 3 deep").
 * Ownership: on success the caller regfree()s re. */
int brg_regex_compile(regex_t *re, const char *pattern, int flags, char *errstr,
                      size_t errstr_size);

#endif
