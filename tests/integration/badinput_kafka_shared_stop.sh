#!/bin/sh
# EXPECTED FAILURE (XFAIL in tests/badinput.mk): msgbridge CRASHES (SIGSEGV, exit 139) on
# SIGTERM when one Kafka endpoint is the source of two or more routes. Found by the bad-input
# tests (gdb): brg_kafka_sources_stop() (adapters/kafka/kafka_source.c) stops and frees the
# sources one by one while k->srcs still lists them; closing the second consumer serves its
# final revoke (rebalance_cb -> on_revoke), which calls brg_kafka_sources_flush_offsets(k)
# over ALL k->srcs, so flush_source() reads the first, freed source (use after free at
# "if (!p->dirty || !p->assigned)"). Fix: take each source out of k->srcs before stopping it,
# e.g. while (k->nsrcs) { brg_kafka_src_t *ks = k->srcs[--k->nsrcs]; source_stop(ks); }.
# docs/kafka.md allows several routes on one endpoint ("two routes that read the same
# endpoint must use different groups").
. "$(dirname "$0")/lib.sh"
t_need kafka
. "$(dirname "$0")/badinput_lib.sh"
bi_need_client
SRC=$BI_ID.src
bi_kafka_topic "$SRC"
printf 'body=msg-0 h=seq=0\nbody=msg-1 h=seq=1\n' | "$BI_CLIENT" kproduce "$BRG_TEST_KAFKA_BROKERS" "$SRC" ||
    t_fail "cannot produce"
cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "bi"; stats_interval = 0; };
endpoints = (
  { name = "k"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS";
    properties = [ $K_PROPS_GROUP ]; },
  { name = "f1"; type = "file"; path = "$T_DIR/one.ndjson"; },
  { name = "f2"; type = "file"; path = "$T_DIR/two.ndjson"; }
);
routes = (
  { name = "one"; from = { endpoint = "k"; topic = "$SRC"; group = "$BI_ID-1"; }; to = { endpoint = "f1"; }; },
  { name = "two"; from = { endpoint = "k"; topic = "$SRC"; group = "$BI_ID-2"; }; to = { endpoint = "f2"; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
t_wait_for 30 sh -c "[ \$(cat '$T_DIR/one.ndjson' '$T_DIR/two.ndjson' 2>/dev/null | wc -l) -ge 4 ]" ||
    t_fail "the two routes did not copy the 2 records each"
t_stop "$T_BRIDGE_PID"
t_log "ok: two routes on one Kafka endpoint stop cleanly"
