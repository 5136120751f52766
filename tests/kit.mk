# Tests of the operator's kit (issue 19): Prometheus rules (promtool unit tests, and a real
# Prometheus scraping a running bridge), metric names of the dashboard and rules against live
# /metrics, the Debian package, `msgbridge status`. Each skips (77) when its tool is missing;
# scripts/deps.sh installs them.
KIT_INTEGRATION = tests/integration/prometheus_rules.sh tests/integration/prometheus_alerts.sh
TESTS += $(KIT_INTEGRATION)
EXTRA_DIST += $(KIT_INTEGRATION) tests/integration/prom_lib.sh tests/integration/prom_api.py
