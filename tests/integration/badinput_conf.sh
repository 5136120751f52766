#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Bad configuration files that need more than a static file in tests/data/conf/bad/ (those are
# checked by tests/unit/check_conf): generated huge files, @include cycles, files that are not
# files, real adapters' URLs, a route that writes into its own source, non-UTF-8 bytes.
# Each case: msgbridge -t gives the exact error (FILE:LINE: path: message) and exit 1, or says
# the file is valid, in bounded time; never a crash or a hang. See docs/bad-input.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/badinput_lib.sh"
D=$T_DIR
MEM='endpoints = ( { name = "a"; type = "memory"; }, { name = "b"; type = "memory"; } );'
ROUTE='routes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; }; } );'

# Empty: a 0-byte file and /dev/null.
: >"$D/zero.conf"
bi_expect_error "$D/zero.conf" "$D/zero.conf:1: missing required key \"endpoints\"" \
    "$D/zero.conf:1: missing required key \"routes\""
bi_expect_error /dev/null "/dev/null:1: missing required key \"endpoints\""

# Not there at all.
bi_expect_error "$D/none.conf" "$D/none.conf:0: cannot read the file: No such file or directory"

# Huge: over the 16 MiB limit, refused before parsing (at once, whatever it holds).
head -c 17000000 /dev/zero | tr '\0' '#' >"$D/huge.conf"
BI_LIMIT=5 bi_expect_error "$D/huge.conf" \
    "$D/huge.conf:0: \"$D/huge.conf\" is 17000000 bytes; a configuration is limited to 16 MiB"
rm -f "$D/huge.conf"

# Large but legal: 5 MB of routes (10,000 routes, short lines), accepted in bounded time
# (about 1 s on an idle machine; the limit leaves room for a loaded CI machine).
{
    echo "$MEM"
    echo "routes = ("
    awk 'BEGIN { pad = sprintf("%0400d", 0);
        for (i = 0; i < 10000; i++)
            printf "  { name = \"route-%05d\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; stream = \"s-%05d\"; };\n    description = \"%s\"; },\n", i, i, pad }'
    echo '  { name = "last"; from = { endpoint = "a"; }; to = { endpoint = "b"; }; } );'
} >"$D/many.conf"
[ "$(wc -c <"$D/many.conf")" -gt 5000000 ] || t_fail "many.conf is not 5 MB"
BI_LIMIT=30 bi_expect_valid "$D/many.conf"
t_assert_eq "$(grep -c '^  route-' "$T_DIR/check.out")" 10000 "routes in the -t graph"
t_log "5 MB, 10001 routes: valid in ${BI_SECS}s"

# A 1 MiB string value: accepted within 5 s.
{
    echo "$MEM"
    printf 'routes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; };\n'
    printf '    description = "%s"; } );\n' "$(head -c 1048576 /dev/zero | tr '\0' 'x')"
} >"$D/longstring.conf"
BI_LIMIT=5 bi_expect_valid "$D/longstring.conf"

# @include cycles: A -> B -> A, and a file that includes itself. msgbridge names the cycle
# at the @include line that closes it.
printf '%s\n@include "cycle_a.conf"\n%s\n' "$MEM" "$ROUTE" >"$D/cycle.conf"
printf '# a\n@include "cycle_b.conf"\n' >"$D/cycle_a.conf"
printf '# b\n@include "cycle_a.conf"\n' >"$D/cycle_b.conf"
BI_LIMIT=5 bi_expect_error "$D/cycle.conf" "$D/cycle_b.conf:2: @include \"$D/cycle_a.conf\" is an include cycle ($D/cycle_a.conf is already being read)"
printf '# includes itself\n@include "self.conf"\n' >"$D/self.conf"
BI_LIMIT=5 bi_expect_error "$D/self.conf" "$D/self.conf:2: @include \"$D/self.conf\" is an include cycle ($D/self.conf is already being read)"
# An included file that includes a missing one: the error names the line in the included file.
printf '@include "inner.conf"\n%s\n' "$ROUTE" >"$D/outer.conf"
printf '%s\n\n@include "missing-inner.conf"\n' "$MEM" >"$D/inner.conf"
bi_expect_error "$D/outer.conf" "$D/inner.conf:3: cannot open include file \"$D/missing-inner.conf\": No such file or directory"

# A route that writes into its own source is a warning (the file stays valid): -t shows it.
cat >"$D/loop.conf" <<EOC
endpoints = ( { name = "a"; type = "memory"; },
  { name = "k"; type = "kafka"; brokers = "127.0.0.1:9092"; } );
routes = (
  { name = "m"; from = { endpoint = "a"; stream = "q"; }; to = { endpoint = "a"; stream = "q"; }; },
  { name = "t"; from = { endpoint = "k"; topic = "orders"; group = "g"; };
    to = { endpoint = "k"; topic = "orders"; }; }
);
EOC
bi_expect_valid "$D/loop.conf"
grep -qxF "$D/loop.conf:4: warning: routes[0].to.stream: route writes into its own source (stream = \"q\")" \
    "$T_DIR/check.out" || t_fail "no self-loop warning for the memory route: $(cat "$T_DIR/check.out")"
grep -qxF "$D/loop.conf:6: warning: routes[1].to.topic: route writes into its own source (topic = \"orders\")" \
    "$T_DIR/check.out" || t_fail "no self-loop warning for the kafka route: $(cat "$T_DIR/check.out")"

# Ports out of range in URLs.
cat >"$D/port.conf" <<EOC
endpoints = (
  { name = "r"; type = "rabbitmq"; url = "amqp://guest:guest@127.0.0.1:70000/%2f"; },
  { name = "q"; type = "amqp1"; url = "amqp://127.0.0.1:70000"; },
  { name = "a"; type = "memory"; } );
routes = (
  { name = "x"; from = { endpoint = "a"; }; to = { endpoint = "r"; routing_key = "k"; }; },
  { name = "y"; from = { endpoint = "a"; }; to = { endpoint = "q"; address = "k"; }; } );
EOC
bi_expect_error "$D/port.conf" \
    "$D/port.conf:2: endpoints[0].url: invalid url \"amqp://guest:***@127.0.0.1:70000/%2f\": could not parse AMQP URL (expected amqp://user:password@host:port/vhost or amqps://...)" \
    "$D/port.conf:3: endpoints[1].url: url \"amqp://127.0.0.1:70000\": bad port \"70000\""

# Non-UTF-8 bytes in strings are taken as bytes (names, streams): the file is valid and the
# route runs (what the JSON log makes of them: badinput_conf_unclear.sh).
printf 'endpoints = ( { name = "a\377"; type = "memory"; }, { name = "b"; type = "memory"; } );\n' >"$D/bytes.conf"
printf 'routes = ( { name = "r\376\303"; from = { endpoint = "a\377"; count = 5; };\n' >>"$D/bytes.conf"
printf '  to = { endpoint = "b"; stream = "\303\050"; }; } );\n' >>"$D/bytes.conf"
bi_expect_valid "$D/bytes.conf"
t_bridge bytes "$D/bytes.conf"
# SIGUSR1 logs the route summary line (once msgbridge has its signal handlers: after start-up).
t_wait_for 10 grep -q "connected" "$T_DIR/bytes.log" || t_fail "no start-up: $(cat "$T_DIR/bytes.log")"
i=0
until grep -Eq "in=5 out=5 .*accepted=5 " "$T_DIR/bytes.log"; do
    i=$((i + 1)); [ $i -gt 20 ] && t_fail "route with a non-UTF-8 name did not run: $(cat "$T_DIR/bytes.log")"
    bi_alive "$T_BRIDGE_PID"
    kill -USR1 "$T_BRIDGE_PID"; sleep 0.5
done
t_stop "$T_BRIDGE_PID"

t_log "ok: empty, missing, 17 MB, 5 MB, 1 MiB string, include cycles, self-loop warnings, bad ports, non-UTF-8"
