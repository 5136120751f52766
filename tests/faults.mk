# Fault scenarios with msgbridge-audit (docs/reliability.md). `make check` runs a short version:
# each scenario once, on private brokers that the tests start and stop themselves (a RabbitMQ
# node faultsci@localhost on port 45702, Kafka mock clusters from port 26500), never the shared
# test brokers; each test skips (77) when its broker or tool is not installed. The whole matrix
# is scripts/reliability.sh; the 10-minute soak is bench/soak.sh.
# Order matters (make check -j1 runs TESTS in order): node_start.sh starts the node the others
# share, node_stop.sh stops it. Run alone, a scenario starts and stops the node itself.
FAULTS_TESTS = \
	tests/faults/node_start.sh \
	tests/faults/fault_source_kill.sh \
	tests/faults/fault_dest_kill.sh \
	tests/faults/fault_bridge_kill.sh \
	tests/faults/fault_stall.sh \
	tests/faults/fault_slow.sh \
	tests/faults/fault_poison.sh \
	tests/faults/soak_short.sh \
	tests/faults/node_stop.sh
TESTS += $(FAULTS_TESTS)
EXTRA_DIST += $(FAULTS_TESTS) tests/faults/lib.sh tests/faults/ci.sh tests/faults/ci_env.sh tests/faults/scenario.sh \
	tests/faults/table.sh tests/faults/results/reliability.json tests/faults/results/soak.json \
	scripts/reliability.sh \
	bench/soak.sh docs/reliability.md
