#!/usr/bin/env python3
"""Draw bench/run's results as SVG charts with gnuplot (Debian: gnuplot-nox).

  bench/charts.py RESULTS.json      writes RESULTS-throughput.svg, RESULTS-latency.svg and
                                    RESULTS-rss.svg next to it and prints the Markdown that
                                    shows them (bench/run appends it to RESULTS.md)

Throughput: each route at 100-byte bodies against its ceiling (the raw clients) and RabbitMQ
Shovel where Shovel does the same route. Latency: p50 and p99 at 1k and 10k msg/s. Peak RSS:
msgbridge's VmHWM per route. Logarithmic axes where the values span decades."""
import json
import os
import subprocess
import sys
import tempfile


def q(label):
    return '"' + label.replace('"', "'") + '"'


def num(v):
    return '?' if v is None else '%g' % v


def gnuplot(script, data, out):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'data')
        with open(path, 'w') as f:
            f.write(data)
        head = ('set terminal svg size 960,520 dynamic noenhanced font "sans,11" background rgb "white"\n'
                'set output %s\nset datafile missing "?"\nset style data histograms\n'
                'set style histogram clustered gap 1\nset style fill solid 0.85 border -1\n'
                'set grid ytics\nset xtics rotate by 30 right scale 0\nset key outside right top\n'
                'set bmargin 8\n' % q(out))
        subprocess.run(['gnuplot'], input=head + script.replace('DATA', q(path)), text=True,
                       check=True)


def main():
    src = sys.argv[1]
    d = json.load(open(src))
    base = src[:-5] if src.endswith('.json') else src
    rows = [r for r in d['routes'] if r.get('size') == 100]
    if not rows:
        sys.exit('charts: no 100-byte route results in ' + src)
    quick = ' (quick run)' if d.get('quick') else ''
    made = []

    data = ''.join('%s %s %s %s\n' % (q(r['label']), num(r.get('msgs_per_s')),
                                       num(r.get('ceiling_msgs_per_s')),
                                       num(r.get('shovel_msgs_per_s'))) for r in rows)
    # Only the series this run measured (a memory-only run has no ceiling and no Shovel).
    series = [(2, 'msgbridge', 'msgs_per_s'), (3, 'ceiling (raw clients)', 'ceiling_msgs_per_s'),
              (4, 'RabbitMQ Shovel', 'shovel_msgs_per_s')]
    plots = ['%s using %d%s title "%s"' % ('DATA' if not k else '""', col,
                                           ':xtic(1)' if not k else '', title)
             for k, (col, title, key) in enumerate(
                 [x for x in series if x[0] == 2 or any(r.get(x[2]) for r in rows)])]
    out = base + '-throughput.svg'
    gnuplot('set title "Throughput, 100-byte messages%s"\nset ylabel "messages per second (log)"\n'
            'set logscale y\nset format y "%%.0s%%c"\nplot %s\n' % (quick, ', '.join(plots)),
            data, out)
    made.append(('Throughput against the ceiling and Shovel', out))

    lat = [r for r in rows if r.get('lat_1000') or r.get('lat_10000')]
    if lat:
        def p(r, rate, k):
            v = (r.get('lat_%d' % rate) or {}).get(k)
            return num(v)
        data = ''.join('%s %s %s %s %s\n' % (q(r['label']), p(r, 1000, 'p50_ms'), p(r, 1000, 'p99_ms'),
                                              p(r, 10000, 'p50_ms'), p(r, 10000, 'p99_ms')) for r in lat)
        out = base + '-latency.svg'
        gnuplot('set title "Latency through msgbridge%s"\nset ylabel "milliseconds (log)"\n'
                'set logscale y\n'
                'plot DATA using 2:xtic(1) title "p50 at 1k msg/s", "" using 3 title "p99 at 1k msg/s", '
                '"" using 4 title "p50 at 10k msg/s", "" using 5 title "p99 at 10k msg/s"\n' % quick,
                data, out)
        made.append(('Latency percentiles at 1k and 10k msg/s', out))

    data = ''.join('%s %s\n' % (q(r['label']), num(r.get('peak_rss_mib'))) for r in rows)
    out = base + '-rss.svg'
    gnuplot('set title "msgbridge peak RSS (VmHWM), 100-byte messages%s"\nset ylabel "MiB"\n'
            'set yrange [0:*]\nset key off\n'
            'plot DATA using 2:xtic(1) title "peak RSS"\n' % quick, data, out)
    made.append(('Peak RSS per route', out))

    for title, path in made:
        print('![%s](%s)' % (title, os.path.basename(path)))


if __name__ == '__main__':
    main()
