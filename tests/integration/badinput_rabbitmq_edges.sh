#!/bin/sh
# RabbitMQ (AMQP 0-9-1) messages at the edges, bridged by the real msgbridge to Kafka, to
# RabbitMQ and to a JSON file: a 16 MiB body (over the Kafka producer's message.max.bytes: the
# dead letter with the reason; RabbitMQ and the file take it whole), a table nested 20 deep,
# 10,000 headers, a header name that is not UTF-8, and one message with a header of every
# AMQP field type (check_rabbitmq_client --typed). The messages around them all arrive;
# msgbridge exits 0 on SIGTERM. Tables nested deeper than 32: badinput_rabbitmq_deep.sh.
. "$(dirname "$0")/lib.sh"
t_need kafka
t_need rabbitmq
. "$(dirname "$0")/badinput_lib.sh"
bi_need_client
[ -x "$BI_RMQC" ] || make -C "$top_builddir" tests/adapters/check_rabbitmq_client >/dev/null 2>&1 ||
    t_skip "cannot build $BI_RMQC"
K=$BRG_TEST_KAFKA_BROKERS
U=$BRG_TEST_RABBITMQ_URL
TK=$BI_ID.k
TT=$BI_ID.typed
QK=$BI_ID.to-k
QR=$BI_ID.to-r
QOUT=$BI_ID.out
QF=$BI_ID.to-f
QT=$BI_ID.typed-k
QTF=$BI_ID.typed-f
bi_kafka_topic "$TK"
bi_kafka_topic "$TT"
bi_queue "$QK" "$QR" "$QOUT" "$QF" "$QT" "$QTF"
cat >"$T_DIR/specs" <<'EOS'
body=msg-0 h=seq=0
body=msg-1 h=seq=1 deep=20 h=after=1
body=msg-2 h=seq=2 hmany=10000
size=16777216 h=seq=3
body=msg-4 h=seq=4 h=\xff\xfe=bad
body=msg-5 h=seq=5
EOS
for q in "$QK" "$QR" "$QF"; do
    "$BI_CLIENT" rpublish "$U" "" "$q" <"$T_DIR/specs" || t_fail "cannot publish to $q"
done
for q in "$QT" "$QTF"; do
    "$BI_RMQC" "$U" publish "" "$q" 1 --typed >/dev/null || t_fail "cannot publish to $q"
done

cat >"$T_DIR/bridge.conf" <<EOC
bridge = { id = "bi"; stats_interval = 0; };
endpoints = (
  { name = "r"; type = "rabbitmq"; url = "$U"; },
  { name = "k"; type = "kafka"; brokers = "$K"; },
  { name = "file"; type = "file"; path = "$T_DIR/out.ndjson"; },
  { name = "typed"; type = "file"; path = "$T_DIR/typed.ndjson"; },
  { name = "dl"; type = "file"; path = "$T_DIR/dead.ndjson"; }
);
routes = (
  { name = "to-kafka"; from = { endpoint = "r"; queue = "$QK"; }; to = { endpoint = "k"; topic = "$TK"; };
    dead_letter = { endpoint = "dl"; }; mapping = { provenance = false; }; },
  { name = "to-rabbit"; from = { endpoint = "r"; queue = "$QR"; }; to = { endpoint = "r"; routing_key = "$QOUT"; };
    dead_letter = { endpoint = "dl"; }; mapping = { provenance = false; }; },
  { name = "to-file"; from = { endpoint = "r"; queue = "$QF"; }; to = { endpoint = "file"; };
    mapping = { provenance = false; }; },
  { name = "typed-kafka"; from = { endpoint = "r"; queue = "$QT"; }; to = { endpoint = "k"; topic = "$TT"; };
    mapping = { provenance = false; }; },
  { name = "typed-file"; from = { endpoint = "r"; queue = "$QTF"; }; to = { endpoint = "typed"; };
    mapping = { provenance = false; }; }
);
EOC
t_bridge bridge "$T_DIR/bridge.conf"
# Kafka drops x-msgbridge-types (typed headers through Kafka, another test's subject) and the
# durability header from the comparison.
kd() { "$BI_CLIENT" kdump "$K" "$1" "$2" 30 | sed -e 's/"x-msgbridge-types"="[^"]*",//; s/"x-msgbridge-durable"="1",//'; }
kd "$TK" 5 >"$T_DIR/kafka" || t_fail "Kafka: $(wc -l <"$T_DIR/kafka") of 5 records"
kd "$TT" 1 >"$T_DIR/typed-kafka" || t_fail "Kafka: the typed message did not arrive"
"$BI_CLIENT" rdump "$U" "$QOUT" 6 30 >"$T_DIR/rabbit" || t_fail "RabbitMQ: $(wc -l <"$T_DIR/rabbit") of 6 messages"
t_wait_for 30 sh -c "[ \$(cat '$T_DIR/out.ndjson' 2>/dev/null | wc -l) -ge 6 ] && [ -s '$T_DIR/typed.ndjson' ] && [ -s '$T_DIR/dead.ndjson' ]" ||
    t_fail "file: $(wc -l <"$T_DIR/out.ndjson") of 6 lines, typed: $(wc -l <"$T_DIR/typed.ndjson"), dead letters: $(wc -l <"$T_DIR/dead.ndjson")"
bi_alive "$T_BRIDGE_PID"
t_stop "$T_BRIDGE_PID"
bi_delete_queues "$QK" "$QR" "$QOUT" "$QF" "$QT" "$QTF"

# Kafka: everything but the 16 MiB body, in order, nothing else.
t_assert_eq "$(cut -d' ' -f2-3 "$T_DIR/kafka" | tr '\n' ' ')" \
    'key=absent body="msg-0" key=absent body="msg-1" key=absent body="msg-2" key=absent body="msg-4" key=absent body="msg-5" ' \
    "records in Kafka"
n20='{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22next\x22:{\x22leaf\x22:true}}}}}}}}}}}}}}}}}}}}'
t_assert_eq "$(sed -n 2p "$T_DIR/kafka" | cut -d' ' -f5-)" "h=[\"seq\"=\"1\",\"deep\"=\"$n20\",\"after\"=\"1\"]" \
    "a table nested 20 deep, as JSON text"
t_assert_eq "$(sed -n 3p "$T_DIR/kafka" | grep -o '"h[0-9]*"="true"' | wc -l)" 10000 "10,000 boolean headers as text"
t_assert_eq "$(sed -n 4p "$T_DIR/kafka" | cut -d' ' -f5-)" 'h=["seq"="4","\xff\xfe"="bad"]' "a non-UTF-8 header name"
# Every AMQP 0-9-1 field type, as docs/kafka.md writes it: decimal text, booleans, ms
# timestamps, decimals with their scale, bytes as they are, void as null, tables as JSON.
want='"x-msgbridge-message-id"="id-0","x-msgbridge-correlation-id"="corr-0","x-msgbridge-content-type"="application/x-test","x-msgbridge-content-encoding"="identity","x-msgbridge-reply-to"="replies","x-msgbridge-subject"="test.typed","x-msgbridge-user-id"="guest","x-msgbridge-app-id"="rmq-client","x-msgbridge-priority"="0","x-msgbridge-ttl-ms"="3600000","seq"="0","t"="true","b"="-5","B"="200","s"="-300","u"="60000","I"="-70000","i"="4000000000","l"="-5000000000000","L"="18000000000000000000","f"="1.5","d"="2.25","D"="123.45","T"="1700000000000","S"="text-0","x"="\x00\x01bin-0","V"=null,"F"="{\x22a\x22:1,\x22b\x22:\x22x\x22,\x22nested\x22:{\x22deep\x22:true}}","x-death"="[{\x22count\x22:1,\x22reason\x22:\x22rejected\x22,\x22queue\x22:\x22orders\x22,\x22time\x22:1700000000000,\x22exchange\x22:\x22\x22,\x22routing-keys\x22:[\x22orders.eu\x22]}]"]'
t_assert_eq "$(sed 's/^.* h=\[//' "$T_DIR/typed-kafka")" "$want" "every AMQP 0-9-1 field type in Kafka headers"

# The dead letter: the 16 MiB message, whole, with the reason.
grep -qF "\"value\":\"kafka: message too large for topic \\\"$TK\\\" (16777216 bytes; see message.max.bytes)\"" "$T_DIR/dead.ndjson" ||
    t_fail "dead letter reason: $(grep -o '"x-msgbridge-dlq-reason[^}]*' "$T_DIR/dead.ndjson")"
t_assert_eq "$(wc -l <"$T_DIR/dead.ndjson")" 1 "dead letters"
t_assert_eq "$(grep -o '"body":"[0-9a-f]*"' "$T_DIR/dead.ndjson" | wc -c)" 16777226 "dead letter body size (16 MiB + 9 for '\"body\":\"\"' + a newline)"

# RabbitMQ -> RabbitMQ: all six, the 16 MiB body byte for byte, the nesting, 10,000 headers.
t_assert_eq "$(wc -l <"$T_DIR/rabbit")" 6 "messages in RabbitMQ"
t_assert_eq "$(sed -n 4p "$T_DIR/rabbit")" 'key=absent body=len:16777216:fnv:feef9182321d0383 hcount=1 h={"seq"=S:"3"}' "16 MiB through RabbitMQ"
t_assert_eq "$(sed -n 2p "$T_DIR/rabbit" | grep -o '"next"=F' | wc -l)" 19 "nesting through RabbitMQ"
t_assert_eq "$(sed -n 2p "$T_DIR/rabbit" | grep -c '"leaf"=t:1}*,"after"=S:"1"}$')" 1 "the header after the nested table"
t_assert_eq "$(sed -n 3p "$T_DIR/rabbit" | cut -d' ' -f3)" "hcount=10001" "10,000 headers through RabbitMQ"
t_assert_eq "$(sed -n 5p "$T_DIR/rabbit")" 'key=absent body="msg-4" hcount=2 h={"seq"=S:"4","\xff\xfe"=S:"bad"}' "a non-UTF-8 name through RabbitMQ"

# The JSON file: six lines, types kept, the non-UTF-8 name in base64, the big body whole.
t_assert_eq "$(wc -l <"$T_DIR/out.ndjson")" 6 "lines in the file"
grep -qF '{"name_base64":"//4=","type":"string","value":"bad"}' "$T_DIR/out.ndjson" || t_fail "file: non-UTF-8 name"
t_assert_eq "$(sed -n 2p "$T_DIR/out.ndjson" | grep -o '"name":"next","type":"table"' | wc -l)" 19 "file: nesting"
t_assert_eq "$(sed -n 3p "$T_DIR/out.ndjson" | grep -o '"type":"bool","value":true' | wc -l)" 10000 "file: 10,000 booleans"
t_assert_eq "$(sed -n 4p "$T_DIR/out.ndjson" | grep -o '"body":"[0-9a-f]*"' | wc -c)" 16777226 "file: the 16 MiB body"
for h in '{"name":"b","type":"int","width":8,"value":-5}' '{"name":"L","type":"uint","value":"18000000000000000000"}' \
         '{"name":"f","type":"float","width":32,"value":1.5}' '{"name":"D","type":"decimal","scale":2,"value":12345}' \
         '{"name":"T","type":"timestamp","value":1700000000000}' '{"name":"x","type":"bytes","value_base64":"AAFiaW4tMA=="}' \
         '{"name":"V","type":"null"}' '{"name":"routing-keys","type":"array","value":[{"type":"string","value":"orders.eu"}]}'; do
    grep -qF "$h" "$T_DIR/typed.ndjson" || t_fail "file: every field type: $h missing from $(cut -c1-300 "$T_DIR/typed.ndjson")"
done
t_log "ok: 16 MiB dead-lettered from Kafka with the reason and carried by RabbitMQ and JSON; nesting 20, 10,000 headers, non-UTF-8 names, every field type"
