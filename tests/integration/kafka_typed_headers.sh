#!/bin/sh
# RabbitMQ -> Kafka -> AMQP 1.0 keeps header types: typed AMQP 0-9-1 headers (every width,
# floats, decimals, timestamps, nested tables, an x-death array) cross Kafka and arrive as
# AMQP 1.0 application properties of the matching types. On the Kafka leg a plain consumer
# (kcat) reads the values as text and finds their types in x-msgbridge-types
# (docs/kafka.md, "Header types").
. "$(dirname "$0")/lib.sh"
t_need rabbitmq
t_need kafka
. "$(dirname "$0")/rabbitmq_lib.sh"
. "$(dirname "$0")/amqp1_lib.sh"
. "$(dirname "$0")/kafka_lib.sh"

T=$(t_count 200)
topic=$K_ID
qin=kth.in.$$
qout=kth.out.$$
rmq_fresh "$qin"
a1_queue "$qout"
k_topic "$topic" 1
rmqc publish "" "$qin" "$T" --typed --key >/dev/null || t_fail "publish"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "kth"; };
endpoints = (
  { name = "rabbit"; type = "rabbitmq"; url = "$RMQ_URL"; },
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "a1"; type = "amqp1"; url = "$BRG_TEST_AMQP1_URL"; user = "guest"; password = "guest"; }
);
routes = (
  { name = "to-kafka";
    from = { endpoint = "rabbit"; queue = "$qin"; };
    to = { endpoint = "kafka"; topic = "$topic"; };
    mapping = { provenance = false; }; },
  { name = "to-amqp1";
    from = { endpoint = "kafka"; topic = "$topic"; group = "$K_ID"; start = "earliest"; };
    to = { endpoint = "a1"; address = "/amq/queue/$qout"; };
    mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
i=0
while [ "$(a1_count "$qout")" -lt "$T" ]; do
    i=$((i + 1)); [ $i -gt 300 ] && t_fail "only $(a1_count "$qout") of $T arrived: $(tail -3 "$T_DIR/bridge.log")"
    sleep 0.2
done
t_stop "$T_BRIDGE_PID"
t_assert_eq "$(k_count "$topic")" "$T" "records on Kafka"

# The Kafka leg as a plain consumer sees record 0: readable text, and the list of types.
kcat -C -b "$BRG_TEST_KAFKA_BROKERS" -t "$topic" -o beginning -c 1 -q -f '%h\n' \
    >"$T_DIR/kafka.txt" 2>"$T_DIR/kcat.log" || t_fail "kcat: $(cat "$T_DIR/kcat.log")"
for h in 'x-msgbridge-types=seq=long,t=boolean,b=byte,B=ubyte,s=short,u=ushort,I=int,i=uint,l=long,L=ulong,f=float,d=double,D=decimal,T=timestamp,x=binary,F=map(int,string,map(boolean)),x-death=list(map(long,string,string,timestamp,string,list(string)))' \
    ',t=true,b=-5,B=200,s=-300,u=60000,I=-70000,i=4000000000,l=-5000000000000,' \
    ',f=1.5,d=2.25,D=123.45,T=1700000000000,S=text-0,' \
    ',F={"a":1,"b":"x","nested":{"deep":true}},' \
    ',x-death=[{"count":1,"reason":"rejected","queue":"orders","time":1700000000000,"exchange":"","routing-keys":["orders.eu"]}]'; do
    grep -F -q -- "$h" "$T_DIR/kafka.txt" || t_fail "the Kafka record lacks '$h': $(cat "$T_DIR/kafka.txt")"
done

# The AMQP 1.0 side: each property's type (nested ones too), checked on every message.
cat >"$T_DIR/a1_prop_types.py" <<'EOP'
import sys
from proton.handlers import MessagingHandler
from proton.reactor import Container

def sig(v):
    if isinstance(v, dict):
        return "map(" + ",".join("%s:%s" % (k, sig(x)) for k, x in v.items()) + ")"
    if isinstance(v, list):
        return "list(" + ",".join(sig(x) for x in v) + ")"
    return type(v).__name__

class Recv(MessagingHandler):
    def __init__(self, url, address, count):
        super().__init__()
        self.url, self.address, self.count, self.seen = url, address, count, {}
    def on_start(self, event):
        conn = event.container.connect(self.url, allowed_mechs="PLAIN")
        event.container.create_receiver(conn, self.address)
    def on_message(self, event):
        p = event.message.properties or {}
        types = ",".join("%s:%s" % (k, sig(v)) for k, v in p.items())
        self.seen[p.get("seq")] = (types, p.get("D"), p.get("T"), p.get("l"))
        if len(self.seen) >= self.count:
            event.connection.close()

r = Recv(sys.argv[1], sys.argv[2], int(sys.argv[3]))
Container(r).run()
for seq in sorted(r.seen):
    types, d, t, l = r.seen[seq]
    print("%s|%s|%s|%s|%s" % (seq, types, d, t, l))
EOP
timeout 60 "$A1_PY" "$T_DIR/a1_prop_types.py" "$A1_URL" "/amq/queue/$qout" "$T" >"$T_DIR/types.txt" 2>"$T_DIR/types.log" ||
    t_fail "receiving from $qout: $(tail -3 "$T_DIR/types.log")"
t_assert_eq "$(wc -l <"$T_DIR/types.txt")" "$T" "distinct messages received over AMQP 1.0"
# The byte array x and the key are UTF-8, so they go out as AMQP strings (what JMS consumers
# read as text), and x-msgbridge-amqp-types lists x as binary for msgbridge's way back.
want='seq:int,t:bool,b:byte,B:ubyte,s:short,u:ushort,I:int32,i:uint,l:int,L:ulong,f:float32,d:float,D:decimal64,T:timestamp,S:str,x:str,V:NoneType,F:map(a:int32,b:str,nested:map(deep:bool)),x-death:list(map(count:int,reason:str,queue:str,time:timestamp,exchange:str,routing-keys:list(str))),x-msgbridge-amqp-types:str,x-msgbridge-key:str,x-msgbridge-app-id:str'
bad=$(awk -F'|' -v want="$want" '$2 != want' "$T_DIR/types.txt" | head -2)
[ -z "$bad" ] || t_fail "property types differ:
  want $want
  got  $bad"
# Values: the decimal 123.45 as an AMQP 1.0 decimal64 (BID: coefficient 12345, exponent -2:
# (398 - 2) << 53 | 12345), the timestamp in ms, the long.
grep -q '^7|.*|decimal64(3566850904877445177)|timestamp(1700000000000)|-5000000000007$' "$T_DIR/types.txt" ||
    t_fail "message 7 values: $(grep '^7|' "$T_DIR/types.txt")"
a1_delete "$qout"
t_log "ok: $T typed messages RabbitMQ -> Kafka -> AMQP 1.0 with every property type"
