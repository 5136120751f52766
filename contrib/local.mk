# Operator's kit: Prometheus alert rules (and their promtool unit tests), Grafana dashboard.
# Installed under $(datadir)/msgbridge/ so that packages and `make install` ship them.
promrulesdir = $(datadir)/msgbridge/prometheus
dist_promrules_DATA = %D%/prometheus/msgbridge.rules.yml %D%/prometheus/msgbridge.rules.test.yml
grafanadir = $(datadir)/msgbridge/grafana
dist_grafana_DATA = %D%/grafana/msgbridge.json
EXTRA_DIST += %D%/grafana/dashboard.py
