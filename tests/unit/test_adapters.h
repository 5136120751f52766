/* The unit tests' adapter table (test_adapters.c): memory, and "compiled", whose
 * compile_endpoint turns its `port` key into a test_settings_t and counts what it does. */
#ifndef BRG_TEST_ADAPTERS_H
#define BRG_TEST_ADAPTERS_H
#include "bridge/adapter.h"

typedef struct test_settings {
    int port;
} test_settings_t;

typedef struct test_settings_counts {
    int compiled; /* compile_endpoint calls */
    int freed;    /* free_settings calls */
} test_settings_counts_t;

extern test_settings_counts_t test_settings_counts;
extern const brg_adapter_t test_compiled_adapter;

#endif
