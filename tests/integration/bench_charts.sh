#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# bench/charts.py draws bench/run's results as SVG: from the committed full run of 2026-11-26,
# three well-formed SVG files (throughput against ceiling and Shovel, latency percentiles,
# peak RSS) naming every 100-byte route, and the Markdown lines that show them; a memory-only
# run (no latency figures) gets no latency chart; results without 100-byte routes are refused.
. "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null || t_skip "gnuplot not installed (gnuplot-nox; scripts/deps.sh installs it)"
command -v python3 >/dev/null || t_skip "python3 not installed"
charts=$top_srcdir/bench/charts.py
cp "$top_srcdir/bench/results/2026-11-26.json" "$T_DIR/run.json"
python3 "$charts" "$T_DIR/run.json" >"$T_DIR/md" 2>"$T_DIR/err" || t_fail "charts.py: $(cat "$T_DIR/err")"
t_assert_eq "$(cat "$T_DIR/md")" "![Throughput against the ceiling and Shovel](run-throughput.svg)
![Latency percentiles at 1k and 10k msg/s](run-latency.svg)
![Peak RSS per route](run-rss.svg)" "Markdown"
python3 - "$T_DIR" <<'EOP' || t_fail "SVG content"
import sys, xml.etree.ElementTree as ET
d = sys.argv[1]
labels = ['Kafka -> Kafka', 'Kafka -> RabbitMQ', 'Kafka -> AMQP 1.0', 'RabbitMQ -> Kafka',
          'AMQP 1.0 -> Kafka', 'RabbitMQ -> RabbitMQ', 'RabbitMQ -> AMQP 1.0']
want = {'throughput': ['Throughput, 100-byte messages', 'ceiling (raw clients)', 'RabbitMQ Shovel'],
        'latency': ['Latency through msgbridge', 'p99 at 10k msg/s'],
        'rss': ['msgbridge peak RSS (VmHWM), 100-byte messages', 'MiB']}
for name, texts in want.items():
    root = ET.parse('%s/run-%s.svg' % (d, name)).getroot()
    assert root.tag.endswith('svg'), root.tag
    text = ' '.join(t for t in root.itertext())
    for t in texts + labels:
        assert t in text, (name, t)
    # Bars: filled paths or rectangles beyond the frame, at least one per route.
    shapes = sum(1 for e in root.iter() if e.tag.split('}')[1] in ('path', 'rect'))
    assert shapes > len(labels), (name, shapes)
EOP
# A memory-only run: no latency measured, so no latency chart.
python3 - "$T_DIR/run.json" "$T_DIR/mem.json" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
d['routes'] = [{'route': 'm2m', 'label': 'memory -> memory', 'size': 100, 'msgs_per_s': 300000,
                'ceiling_msgs_per_s': None, 'shovel_msgs_per_s': None, 'peak_rss_mib': 20.5}]
json.dump(d, open(sys.argv[2], 'w'))
EOP
python3 "$charts" "$T_DIR/mem.json" >"$T_DIR/md2" || t_fail "charts.py on a memory-only run"
t_assert_eq "$(cat "$T_DIR/md2")" "![Throughput against the ceiling and Shovel](mem-throughput.svg)
![Peak RSS per route](mem-rss.svg)" "memory-only Markdown"
[ -e "$T_DIR/mem-latency.svg" ] && t_fail "a latency chart without latency figures"
# Nothing at 100 bytes: refused with the reason.
python3 -c 'import json; json.dump({"quick": True, "routes": []}, open("'"$T_DIR"'/none.json", "w"))'
python3 "$charts" "$T_DIR/none.json" 2>"$T_DIR/err3" && t_fail "charts.py accepted results without routes"
t_assert_eq "$(cat "$T_DIR/err3")" "charts: no 100-byte route results in $T_DIR/none.json" "refusal"
t_log "ok"
