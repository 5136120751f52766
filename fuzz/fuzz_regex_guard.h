/* Known issue (docs/fuzzing.md, "Findings"): filters (`~`) and mapping patterns go to glibc's
 * regcomp, which copies a subexpression for each `+` and each `{N}` applied to it, so
 * "(((a+)+)+...)" or "a{9}{9}{9}{9}{9}{9}{9}" take seconds to minutes and gigabytes to compile.
 * Until the loader bounds that, the config and filter targets skip inputs whose `+` and `{N}`
 * could multiply to more than 100000 copies (over-approximated on the raw text: every `+`
 * doubles, every `{N` multiplies by N). FUZZ_STRICT=1 turns the guard off. */
#ifndef BRG_FUZZ_REGEX_GUARD_H
#define BRG_FUZZ_REGEX_GUARD_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline bool fuzz_regex_may_explode(const char *text)
{
    static int strict = -1;
    if (strict < 0) {
        const char *s = getenv("FUZZ_STRICT");
        strict = s && strcmp(s, "1") == 0;
    }
    if (strict) {
        return false;
    }
    double copies = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '+') {
            copies *= 2;
        } else if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
            copies *= strtod(p + 1, NULL) + 1;
        }
        if (copies > 1e5) {
            return true;
        }
    }
    return false;
}

#endif
