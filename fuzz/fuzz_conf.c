/* libFuzzer target: the config loader (bridge/conf.c) on arbitrary text.
 *
 * All four passes run: libconfig parse, schema, cross-references (templates, filters and
 * mappings compile), per-adapter checks. The adapter table holds only the memory adapter, as
 * in the core unit tests, so the fuzzer exercises the core's own checks. The loader must
 * return a config or diagnostics, never crash, leak or hit undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/memory.h"
#include "bridge/conf_node.h"
#include "bridge/conf.h"
#include "bridge/registry.h"
#include "fuzz/fuzz_regex_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const brg_adapter_t *brg_adapters[] = {&brg_memory_adapter, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    /* @include makes libconfig open files named by the input (relative to the working
     * directory, or /dev/zero): that tests the file system, not the loader. The included
     * text goes through the same parser, which this target covers directly. */
    if (strstr(text, "@include") || fuzz_regex_may_explode(text)) {
        free(text);
        return -1;
    }
    brg_diag_t d;
    brg_diag_init(&d);
    brg_conf_t *conf = brg_conf_load_string(text, "fuzz.conf", &d);
    if (conf) {
        /* What -t prints: walks every route and endpoint the loader accepted. */
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            brg_conf_print_graph(conf, devnull);
            fclose(devnull);
        }
    }
    brg_conf_destroy(conf);
    brg_diag_fini(&d);
    free(text);
    return 0;
}
