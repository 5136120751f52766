# libFuzzer targets (owned by the fuzz work)
