/* libFuzzer target: route filters, the `where` expressions (mappings/filter.c).
 *
 * Parse the input as a filter; if it parses, match it against a fixed envelope with every
 * field present (fuzz_envelope.c) and an empty one, and check that matching is a pure
 * function (same answer twice). Also looks the input up as a field name, which the header and
 * key rules do with user text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/envelope.h"
#include "fuzz/fuzz_envelope.h"
#include "fuzz/fuzz_regex_guard.h"
#include "mappings/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    brg_envelope_t *full, *empty;
    fuzz_envelopes(&full, &empty);
    char *text = fuzz_text(data, size);
    if (fuzz_regex_may_explode(text)) {
        free(text);
        return -1;
    }
    char errstr[256];
    errstr[0] = 0;
    brg_filter_t *f = brg_filter_parse(text, errstr, sizeof(errstr));
    if (f) {
        bool a = brg_filter_match(f, full);
        bool b = brg_filter_match(f, empty);
        if (a != brg_filter_match(f, full) || b != brg_filter_match(f, empty)) {
            abort();
        }
        brg_filter_destroy(f);
    } else if (errstr[0] == 0) {
        abort(); /* a refusal always says why */
    }
    if (brg_field_known(text)) {
        bool present = false;
        free(brg_field_text(full, text, &present));
        free(brg_field_text(empty, text, &present));
    }
    free(text);
    return 0;
}
