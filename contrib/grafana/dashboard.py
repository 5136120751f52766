#!/usr/bin/env python3
"""Write contrib/grafana/msgbridge.json, the Grafana dashboard of msgbridge's metrics.

The JSON is committed; edit this script and run it (python3 contrib/grafana/dashboard.py) to
change the dashboard, so that every panel keeps the same selectors ($job, $instance, $route)
and layout rules. Only metric names msgbridge exports may be used: make check runs
tests/integration/metrics_names.sh (each name on a live /metrics) and
tests/integration/prometheus_alerts.sh (each query against a real Prometheus)."""
import json
import os

SEL = 'job=~"$job",instance=~"$instance",route=~"$route"'
ESEL = 'job=~"$job",instance=~"$instance"'
RI = '$__rate_interval'
panels = []
pid = [0]
y = [0]
def row(title):
    pid[0] += 1
    panels.append({'id': pid[0], 'type': 'row', 'title': title, 'collapsed': False,
                   'gridPos': {'h': 1, 'w': 24, 'x': 0, 'y': y[0]}, 'panels': []})
    y[0] += 1
def ts(title, desc, targets, unit='short', x=0, w=12, h=8, stack=False, newrow=True):
    pid[0] += 1
    p = {'id': pid[0], 'type': 'timeseries', 'title': title, 'description': desc,
         'datasource': {'type': 'prometheus', 'uid': '${datasource}'},
         'gridPos': {'h': h, 'w': w, 'x': x, 'y': y[0]},
         'fieldConfig': {'defaults': {'unit': unit, 'custom': {'fillOpacity': 10, 'showPoints': 'never',
                                                                 'stacking': {'mode': 'normal' if stack else 'none'}}},
                         'overrides': []},
         'options': {'legend': {'displayMode': 'table', 'placement': 'bottom', 'calcs': ['lastNotNull', 'max']},
                     'tooltip': {'mode': 'multi', 'sort': 'desc'}},
         'targets': [{'refId': chr(65 + i), 'expr': e, 'legendFormat': l,
                      'datasource': {'type': 'prometheus', 'uid': '${datasource}'}} for i, (e, l) in enumerate(targets)]}
    panels.append(p)
    if x + w >= 24:
        y[0] += h
def stat(title, desc, expr, x, w=4, h=4, thresholds=None, unit='short'):
    pid[0] += 1
    panels.append({'id': pid[0], 'type': 'stat', 'title': title, 'description': desc,
                   'datasource': {'type': 'prometheus', 'uid': '${datasource}'},
                   'gridPos': {'h': h, 'w': w, 'x': x, 'y': y[0]},
                   'fieldConfig': {'defaults': {'unit': unit, 'thresholds': {'mode': 'absolute', 'steps': thresholds or [
                       {'color': 'green', 'value': None}, {'color': 'red', 'value': 1}]}}, 'overrides': []},
                   'options': {'reduceOptions': {'calcs': ['lastNotNull'], 'fields': '', 'values': False},
                               'colorMode': 'background', 'graphMode': 'none', 'textMode': 'value'},
                   'targets': [{'refId': 'A', 'expr': expr, 'instant': True,
                                'datasource': {'type': 'prometheus', 'uid': '${datasource}'}}]})
    if x + w >= 24:
        y[0] += h

row('Overview')
stat('Routes running', 'Routes whose msgbridge_route_up is 1.', f'sum(msgbridge_route_up{{{SEL}}})', 0,
     thresholds=[{'color': 'blue', 'value': None}])
stat('Routes stopped', 'msgbridge_route_up == 0: stopped on a message with nowhere to go; fix and reload.',
     f'count(msgbridge_route_up{{{SEL}}} == 0) or vector(0)', 4)
stat('Routes parked', 'Destination missing or refusing; resumes by itself.', f'sum(msgbridge_route_parked{{{SEL}}})', 8,
     thresholds=[{'color': 'green', 'value': None}, {'color': 'orange', 'value': 1}])
stat('Routes stalled', 'Stall watchdog: work waiting, nothing completing.', f'sum(msgbridge_route_stalled{{{SEL}}})', 12)
stat('Endpoints disconnected', 'msgbridge_endpoint_connected == 0.',
     f'count(msgbridge_endpoint_connected{{{ESEL}}} == 0) or vector(0)', 16)
stat('Uptime', 'Time since the process started (msgbridge_start_time_seconds).',
     f'time() - max(msgbridge_start_time_seconds{{{ESEL}}})', 20, thresholds=[{'color': 'blue', 'value': None}], unit='s')

row('Throughput')
ts('Messages in / s', 'Taken from each route\'s source.',
   [(f'sum by (route) (rate(msgbridge_route_messages_in_total{{{SEL}}}[{RI}]))', '{{route}}')], 'short', 0)
ts('Messages out / s', 'Confirmed by each route\'s sinks (a fan-out route counts each sink).',
   [(f'sum by (route) (rate(msgbridge_route_messages_out_total{{{SEL}}}[{RI}]))', '{{route}}')], 'short', 12)
ts('Bytes in / s', 'Body bytes taken from the source.',
   [(f'sum by (route) (rate(msgbridge_route_bytes_in_total{{{SEL}}}[{RI}]))', '{{route}}')], 'Bps', 0)
ts('Bytes out / s', 'Body bytes confirmed by the sinks.',
   [(f'sum by (route) (rate(msgbridge_route_bytes_out_total{{{SEL}}}[{RI}]))', '{{route}}')], 'Bps', 12)
ts('Settled / s by outcome', 'Source messages by final outcome: accepted, retry (redelivered), rejected.',
   [(f'sum by (route, outcome) (rate(msgbridge_route_settled_total{{{SEL}}}[{RI}]))', '{{route}} {{outcome}}')], 'short', 0)
ts('Filtered, loop-dropped, mapping losses / s', 'Acknowledged but not forwarded (filter, loop prevention), and fields a sink could not carry.',
   [(f'sum by (route) (rate(msgbridge_route_filtered_total{{{SEL}}}[{RI}]))', '{{route}} filtered'),
    (f'sum by (route) (rate(msgbridge_route_loop_dropped_total{{{SEL}}}[{RI}]))', '{{route}} loop dropped'),
    (f'sum by (route) (rate(msgbridge_route_mapping_lost_total{{{SEL}}}[{RI}]))', '{{route}} mapping lost')], 'short', 12)

row('In flight and lag')
ts('In flight (messages)', 'Taken, not yet settled; bounded by the route\'s max_in_flight.',
   [(f'sum by (route) (msgbridge_route_in_flight_messages{{{SEL}}})', '{{route}}')], 'short', 0, 8)
ts('In flight (bytes)', 'Bounded by max_in_flight_bytes.',
   [(f'sum by (route) (msgbridge_route_in_flight_bytes{{{SEL}}})', '{{route}}')], 'bytes', 8, 8)
ts('Source backlog', 'What each source reports waiting at its broker (Kafka lag, RabbitMQ ready count).',
   [(f'sum by (route) (msgbridge_route_source_backlog{{{SEL}}})', '{{route}}')], 'short', 16, 8)
ts('Kafka consumer lag per partition', 'High watermark minus the first record not yet bridged, per source partition.',
   [(f'msgbridge_kafka_consumer_lag_messages{{{SEL}}}', '{{route}} {{topic}}[{{partition}}]')], 'short', 0)
ts('Kafka committed offset per partition', 'The consumer group\'s committed offset (where a restart resumes).',
   [(f'msgbridge_kafka_committed_offset{{{SEL}}}', '{{route}} {{topic}}[{{partition}}]')], 'short', 12)

row('Latency')
ts('Bridge latency (source receive to sink confirm)', 'Percentiles from the msgbridge_route_latency_seconds histogram.',
   [(f'histogram_quantile({q}, sum by (route, le) (rate(msgbridge_route_latency_seconds_bucket{{{SEL}}}[{RI}])))', '{{route}} p' + p)
    for q, p in (('0.5', '50'), ('0.9', '90'), ('0.99', '99'))], 's', 0)
ts('End-to-end latency (producer timestamp to sink confirm)', 'Percentiles from msgbridge_route_end_to_end_latency_seconds; includes waiting at the source.',
   [(f'histogram_quantile({q}, sum by (route, le) (rate(msgbridge_route_end_to_end_latency_seconds_bucket{{{SEL}}}[{RI}])))', '{{route}} p' + p)
    for q, p in (('0.5', '50'), ('0.9', '90'), ('0.99', '99'))], 's', 12)
ts('Average bridge latency', 'msgbridge_route_latency_seconds sum / count.',
   [(f'sum by (route) (rate(msgbridge_route_latency_seconds_sum{{{SEL}}}[{RI}])) / sum by (route) (rate(msgbridge_route_latency_seconds_count{{{SEL}}}[{RI}]))', '{{route}}')], 's', 0)
ts('Average end-to-end latency', 'msgbridge_route_end_to_end_latency_seconds sum / count.',
   [(f'sum by (route) (rate(msgbridge_route_end_to_end_latency_seconds_sum{{{SEL}}}[{RI}])) / sum by (route) (rate(msgbridge_route_end_to_end_latency_seconds_count{{{SEL}}}[{RI}]))', '{{route}}')], 's', 12)

row('Failures')
ts('Dead letters', 'Messages sent to the route\'s dead_letter, rejected to the source broker\'s own dead letter, and by RabbitMQ sources to their queue\'s dead-letter exchange (in the interval).',
   [(f'sum by (route) (increase(msgbridge_route_dead_lettered_total{{{SEL}}}[{RI}]))', '{{route}} dead_letter'),
    (f'sum by (route) (increase(msgbridge_route_broker_rejected_total{{{SEL}}}[{RI}]))', '{{route}} broker rejected'),
    (f'sum by (route, queue) (increase(msgbridge_rabbitmq_dead_lettered_total{{{SEL}}}[{RI}]))', '{{route}} {{queue}} (rabbitmq DLX)')], 'short', 0)
ts('Sink retries and rejections / s', 'Publishes settled RETRY (transient) or REJECTED, per sink.',
   [(f'sum by (route, endpoint) (rate(msgbridge_sink_retries_total{{{SEL}}}[{RI}]))', '{{route}} → {{endpoint}} retry'),
    (f'sum by (route, endpoint) (rate(msgbridge_sink_rejected_total{{{SEL}}}[{RI}]))', '{{route}} → {{endpoint}} rejected')], 'short', 12)
ts('Route state', '1 = running (up), parked, stalled.',
   [(f'msgbridge_route_up{{{SEL}}}', '{{route}} up'), (f'msgbridge_route_parked{{{SEL}}}', '{{route}} parked'),
    (f'msgbridge_route_stalled{{{SEL}}}', '{{route}} stalled')], 'short', 0)
ts('Parks and stalls', 'Times routes parked or were found stalled (in the interval).',
   [(f'sum by (route) (increase(msgbridge_route_parks_total{{{SEL}}}[{RI}]))', '{{route}} parks'),
    (f'sum by (route) (increase(msgbridge_route_stalls_total{{{SEL}}}[{RI}]))', '{{route}} stalls')], 'short', 12)
ts('Endpoints connected', '1 while the endpoint\'s broker connection is up.',
   [(f'msgbridge_endpoint_connected{{{ESEL}}}', '{{endpoint}} ({{adapter}})')], 'short', 0, 8)
ts('Reconnects', 'Reconnect attempts per endpoint (in the interval).',
   [(f'sum by (endpoint, adapter) (increase(msgbridge_endpoint_reconnects_total{{{ESEL}}}[{RI}]))', '{{endpoint}} ({{adapter}})')], 'short', 8, 8)
ts('Endpoint restarts', 'Endpoint loops restarted after a failure or a stall (in the interval).',
   [(f'sum by (endpoint, adapter) (increase(msgbridge_endpoint_restarts_total{{{ESEL}}}[{RI}]))', '{{endpoint}} ({{adapter}})')], 'short', 16, 8)

row('RabbitMQ')
ts('RabbitMQ publishes / s', 'basic.publish, confirms (basic.ack), returns (unroutable) and nacks per endpoint.',
   [(f'sum by (endpoint) (rate(msgbridge_rabbitmq_published_total{{{ESEL}}}[{RI}]))', '{{endpoint}} published'),
    (f'sum by (endpoint) (rate(msgbridge_rabbitmq_confirmed_total{{{ESEL}}}[{RI}]))', '{{endpoint}} confirmed'),
    (f'sum by (endpoint) (rate(msgbridge_rabbitmq_returned_total{{{ESEL}}}[{RI}]))', '{{endpoint}} returned'),
    (f'sum by (endpoint) (rate(msgbridge_rabbitmq_nacked_total{{{ESEL}}}[{RI}]))', '{{endpoint}} nacked')], 'short', 0, 8)
ts('RabbitMQ deliveries / s', 'Deliveries received, acknowledged and requeued per source queue.',
   [(f'sum by (route, queue) (rate(msgbridge_rabbitmq_delivered_total{{{SEL}}}[{RI}]))', '{{route}} {{queue}} delivered'),
    (f'sum by (route, queue) (rate(msgbridge_rabbitmq_acked_total{{{SEL}}}[{RI}]))', '{{route}} {{queue}} acked'),
    (f'sum by (route, queue) (rate(msgbridge_rabbitmq_requeued_total{{{SEL}}}[{RI}]))', '{{route}} {{queue}} requeued')], 'short', 8, 8)
ts('RabbitMQ confirms awaited, blocked', 'Publishes awaiting their confirm; 1 while the broker blocks publishing (resource alarm).',
   [(f'msgbridge_rabbitmq_publish_in_flight{{{ESEL}}}', '{{endpoint}} awaiting confirm'),
    (f'msgbridge_rabbitmq_blocked{{{ESEL}}}', '{{endpoint}} blocked')], 'short', 16, 8)

def var(name, label, query, multi=True):
    return {'name': name, 'label': label, 'type': 'query',
            'datasource': {'type': 'prometheus', 'uid': '${datasource}'},
            'query': {'query': query, 'refId': 'PrometheusVariableQueryEditor-VariableQuery'},
            'definition': query, 'refresh': 2, 'includeAll': True, 'multi': multi, 'allValue': '.*',
            'current': {'selected': True, 'text': ['All'], 'value': ['$__all']}, 'sort': 1}
dash = {
    '__requires': [{'type': 'grafana', 'id': 'grafana', 'name': 'Grafana', 'version': '9.0.0'},
                   {'type': 'datasource', 'id': 'prometheus', 'name': 'Prometheus', 'version': '1.0.0'},
                   {'type': 'panel', 'id': 'timeseries', 'name': 'Time series', 'version': ''},
                   {'type': 'panel', 'id': 'stat', 'name': 'Stat', 'version': ''}],
    'title': 'msgbridge', 'uid': 'msgbridge', 'description': 'msgbridge routes: throughput, in flight, lag, latency, dead letters, connections (contrib/grafana/msgbridge.json; metric names in docs/operations.md).',
    'tags': ['msgbridge', 'kafka', 'rabbitmq', 'amqp'], 'editable': True, 'schemaVersion': 37, 'version': 1,
    'time': {'from': 'now-1h', 'to': 'now'}, 'refresh': '30s', 'timezone': '', 'graphTooltip': 1,
    'annotations': {'list': []}, 'links': [],
    'templating': {'list': [
        {'name': 'datasource', 'label': 'Data source', 'type': 'datasource', 'query': 'prometheus',
         'current': {}, 'hide': 0, 'refresh': 1, 'regex': '', 'includeAll': False, 'multi': False},
        var('job', 'Job', 'label_values(msgbridge_build_info, job)'),
        var('instance', 'Instance', 'label_values(msgbridge_build_info{job=~"$job"}, instance)'),
        var('route', 'Route', 'label_values(msgbridge_route_up{job=~"$job",instance=~"$instance"}, route)'),
    ]},
    'panels': panels,
}
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'msgbridge.json'), 'w').write(json.dumps(dash, indent=2, ensure_ascii=False) + '\n')
