/* libFuzzer target: destination/key templates (mappings/template.c).
 *
 * Parse the input as template text; if it parses, render it against a fixed envelope that
 * has every variable's field (fuzz_envelope.c) and against an empty one (every variable
 * absent), and check what the header promises: the rendered string is NUL-terminated at
 * len_out, a literal template renders as its own text, and the source text is kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/envelope.h"
#include "fuzz/fuzz_envelope.h"
#include "mappings/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render_check(const brg_template_t *t, const brg_envelope_t *env)
{
    size_t len = (size_t)-1;
    char *out = brg_template_render(t, env, &len);
    if (!out || len == (size_t)-1 || out[len] != 0) {
        abort();
    }
    if (brg_template_is_literal(t)) {
        /* No variables: the value is the text with "$$" folded, so never longer. */
        if (len > strlen(brg_template_text(t))) {
            abort();
        }
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    brg_envelope_t *full, *empty;
    fuzz_envelopes(&full, &empty);
    char *text = fuzz_text(data, size);
    char errstr[256];
    errstr[0] = 0;
    brg_template_t *t = brg_template_parse(text, errstr, sizeof(errstr));
    if (t) {
        if (strcmp(brg_template_text(t), text) != 0) {
            abort();
        }
        render_check(t, full);
        render_check(t, empty);
        brg_template_destroy(t);
    } else if (errstr[0] == 0) {
        abort(); /* a refusal always says why */
    }
    free(text);
    return 0;
}
