#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# Configuration mistakes that msgbridge once accepted silently or reported with a misleading
# message. Each check prints "ok" or "WRONG" with what msgbridge said. What was wrong, and
# where it is handled now:
#  dir-config     brg_conf_load (bridge/conf.c): -c DIRECTORY says "file is
#                 9223372036854775807 bytes" (ftell on a directory); stat() it: "is a directory"
#  dir-secret     resolve_secrets (bridge/conf.c): token_file = "/" says "is larger than 4095
#                 bytes" (fread fails, feof is false); check ferror/EISDIR
#  include-name   report_parse_error: "cannot open include file" does not say which file
#                 (libconfig gives only the line; the @include text is on that line)
#  int-overflow   libconfig wraps 99999999999999999999 to -1: "must be between 1 and 1000000,
#                 not -1"; quote the text as written or say "too large"
#  nul-in-string  "ab\x00cd" is read as "abcd" without a word (libconfig drops the NUL); the
#                 loader cannot see it afterwards, so scan the raw text for \x00 / \0 escapes
#  json-log-utf8  non-UTF-8 bytes in names are accepted (badinput_conf.sh) but then written raw
#                 into log.format = "json" lines, which are no longer JSON (bridge/log.c should
#                 escape them as \ufffd or \u00XX, or the loader should refuse such names)
#  rabbit-loop    a rabbitmq route from queue "q" to the default exchange with routing_key "q"
#                 writes into its own source, but the self-loop warning compares keys of the
#                 same name only (check_route in bridge/conf.c; queue vs routing_key)
#  kafka-port     brokers = "127.0.0.1:70000" passes -t (the kafka adapter does not check
#                 host:port lists; rabbitmq and amqp1 URLs are checked)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/badinput_lib.sh"
D=$T_DIR
MEM='endpoints = ( { name = "a"; type = "memory"; }, { name = "b"; type = "memory"; } );'
ROUTE='routes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; }; } );'
wrong=0
verdict() { # NAME OK? WHAT-MSGBRIDGE-SAID
    if [ "$2" = 1 ]; then t_log "ok     $1"; else t_log "WRONG  $1: $3"; wrong=$((wrong + 1)); fi
}
said() { grep -v '^msgbridge: ' "$T_DIR/check.out" | head -3 | tr '\n' ' '; }

mkdir "$D/confdir"
bi_check "$D/confdir"
ok=0; [ "$BI_RC" = 1 ] && grep -qi "directory" "$T_DIR/check.out" && ok=1
verdict dir-config $ok "$(said)"

printf 'endpoints = ( { name = "a"; type = "memory"; token_file = "/"; } );\nroutes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "a"; stream = "b"; }; } );\n' >"$D/secret.conf"
bi_check "$D/secret.conf"
ok=0; [ "$BI_RC" = 1 ] && grep -qi "directory" "$T_DIR/check.out" && ok=1
verdict dir-secret $ok "$(said)"

printf '%s\n@include "missing-part.conf"\n%s\n' "$MEM" "$ROUTE" >"$D/inc.conf"
bi_check "$D/inc.conf"
ok=0; [ "$BI_RC" = 1 ] && grep -q "missing-part.conf" "$T_DIR/check.out" && ok=1
verdict include-name $ok "$(said)"

printf '%s\nroutes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; };\n  max_in_flight = 99999999999999999999; } );\n' "$MEM" >"$D/big.conf"
bi_check "$D/big.conf"
ok=0; [ "$BI_RC" = 1 ] && grep -Eq "99999999999999999999|too large|out of range" "$T_DIR/check.out" && ok=1
verdict int-overflow $ok "$(said)"

printf '%s\nroutes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; stream = "ab\\x00cd"; }; } );\n' "$MEM" >"$D/nul.conf"
bi_check "$D/nul.conf"
ok=0; [ "$BI_RC" = 1 ] && ok=1
verdict nul-in-string $ok "exit $BI_RC: $(grep 'stream=' "$T_DIR/check.out" | head -1)"

printf 'bridge = { log = { format = "json"; }; };\nendpoints = ( { name = "a\377"; type = "memory"; }, { name = "b"; type = "memory"; } );\nroutes = ( { name = "r\376"; from = { endpoint = "a\377"; count = 3; }; to = { endpoint = "b"; }; } );\n' >"$D/utf8.conf"
bi_check "$D/utf8.conf"
if [ "$BI_RC" = 1 ]; then
    verdict json-log-utf8 1 "refused at load"
else
    t_bridge utf8 "$D/utf8.conf"
    t_wait_for 10 grep -q "connected" "$T_DIR/utf8.log"
    t_stop "$T_BRIDGE_PID"
    bad=$("$BI_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], "rb"):
    try:
        json.loads(line.decode("utf-8"))
    except Exception:
        n += 1
print(n)' "$T_DIR/utf8.log")
    ok=0; [ "$bad" = 0 ] && ok=1
    verdict json-log-utf8 $ok "$bad of $(wc -l <"$T_DIR/utf8.log") log lines are not valid JSON"
fi

cat >"$D/rloop.conf" <<EOC
endpoints = ( { name = "r"; type = "rabbitmq"; url = "amqp://guest:guest@127.0.0.1:5672/%2f"; } );
routes = ( { name = "loop"; from = { endpoint = "r"; queue = "q"; };
  to = { endpoint = "r"; routing_key = "q"; }; } );
EOC
bi_check "$D/rloop.conf"
ok=0; grep -q "warning: .*route writes into its own source" "$T_DIR/check.out" && ok=1
verdict rabbit-loop $ok "exit $BI_RC, no warning"

cat >"$D/kport.conf" <<EOC
endpoints = ( { name = "k"; type = "kafka"; brokers = "127.0.0.1:70000"; },
  { name = "a"; type = "memory"; } );
routes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "k"; topic = "t"; }; } );
EOC
bi_check "$D/kport.conf"
ok=0; [ "$BI_RC" = 1 ] && grep -q "70000" "$T_DIR/check.out" && ok=1
verdict kafka-port $ok "exit $BI_RC: $(tail -1 "$T_DIR/check.out")"

[ $wrong = 0 ] || t_fail "$wrong configuration mistakes are accepted or reported unclearly (see above)"
t_log "ok: every mistake is reported clearly"
