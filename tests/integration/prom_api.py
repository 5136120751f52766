#!/usr/bin/env python3
"""Ask a Prometheus server through its HTTP API (tests of contrib/prometheus).

  prom_api.py URL value QUERY         the value of a one-series instant query ('' if none)
  prom_api.py URL alert NAME LABEL=V  the state of that alert ('firing', 'pending' or 'none')
  prom_api.py URL names PREFIX        metric names Prometheus holds that start with PREFIX
  prom_api.py URL target              the health of the first scrape target ('up', ...)
  prom_api.py URL dashboard FILE RANGE  run every query of a Grafana dashboard (see below)
Exits 1 with the reason on stderr when the server does not answer as documented."""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def get(url, path, params=None):
    q = '?' + urllib.parse.urlencode(params) if params else ''
    with urllib.request.urlopen(url + path + q, timeout=5) as r:
        doc = json.load(r)
    if doc.get('status') != 'success':
        sys.exit('prometheus answered %s' % doc)
    return doc['data']


def main():
    url, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == 'value':
        res = get(url, '/api/v1/query', {'query': args[0]})['result']
        if len(res) > 1:
            sys.exit('%d series for %s' % (len(res), args[0]))
        print(res[0]['value'][1] if res else '')
    elif cmd == 'alert':
        name = args[0]
        want = dict(a.split('=', 1) for a in args[1:])
        states = [a['state'] for a in get(url, '/api/v1/alerts')['alerts']
                  if a['labels'].get('alertname') == name
                  and all(a['labels'].get(k) == v for k, v in want.items())]
        print(states[0] if states else 'none')
    elif cmd == 'names':
        for n in get(url, '/api/v1/label/__name__/values'):
            if n.startswith(args[0]):
                print(n)
    elif cmd == 'dashboard':
        # Every query of a Grafana dashboard, its variables replaced as Grafana would with "All"
        # selected: each must be valid PromQL here, and those not about one adapter must return
        # series (adapter families are empty on a bridge without that adapter).
        d = json.load(open(args[0]))
        exprs = []
        def walk(panels):
            for p in panels:
                exprs.extend((p['title'], t['expr']) for t in p.get('targets', []))
                walk(p.get('panels', []))
        walk(d['panels'])
        bad = 0
        for title, e in exprs:
            q = (e.replace('$__rate_interval', args[1]).replace('$job', '.*')
                  .replace('$instance', '.*').replace('$route', '.*'))
            try:
                n = len(get(url, '/api/v1/query', {'query': q})['result'])
            except urllib.error.HTTPError as err:
                print('invalid: %s: %s: %s' % (title, q, err.read().decode()[:200]))
                bad += 1
                continue
            adapter = 'msgbridge_kafka_' in q or 'msgbridge_rabbitmq_' in q
            if n == 0 and not adapter:
                print('no data: %s: %s' % (title, q))
                bad += 1
        print('%d queries, %d bad' % (len(exprs), bad))
        sys.exit(1 if bad else 0)
    elif cmd == 'target':
        t = get(url, '/api/v1/targets')['activeTargets']
        print(t[0]['health'] if t else 'none')
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
