# Tests of the operator's kit (issue 19): Prometheus rules (promtool unit tests, and a real
# Prometheus scraping a running bridge), metric names of the dashboard and rules against live
# /metrics, the Debian package, `msgbridge status`. Each skips (77) when its tool is missing;
# scripts/deps.sh installs them.
KIT_INTEGRATION = tests/integration/prometheus_rules.sh tests/integration/prometheus_alerts.sh \
	tests/integration/status_command.sh tests/integration/bench_charts.sh
TESTS += $(KIT_INTEGRATION)
EXTRA_DIST += $(KIT_INTEGRATION) tests/integration/prom_lib.sh tests/integration/prom_api.py
# The names the dashboard and the rules use, against a bridge with Kafka and RabbitMQ routes.
KIT_CROSS_INTEGRATION = tests/integration/metrics_names.sh
EXTRA_DIST += $(KIT_CROSS_INTEGRATION)
if HAVE_ADAPTER_KAFKA
if HAVE_ADAPTER_RABBITMQ
TESTS += $(KIT_CROSS_INTEGRATION)
endif
endif
# The Debian package: build (about 1-2 minutes), lintian, install, check, purge. Needs root.
KIT_PACKAGE = tests/integration/package_deb.sh
TESTS += $(KIT_PACKAGE)
EXTRA_DIST += $(KIT_PACKAGE) scripts/package.sh debian
