#!/bin/sh
# What a Java (JMS) consumer of ActiveMQ sees of a Kafka record bridged through STOMP: Kafka ->
# ActiveMQ (stomp sink) -> ActiveMQ's own JMS client over OpenWire (tests/integration/
# JmsDump.java, compiled here with javac against Debian's libactivemq-java). Records with a
# key, UTF-8 header values ("café", a backslash), a binary body with NUL bytes, a correlation
# id and a header that is not UTF-8. The JMS view is compared with the table in
# docs/activemq.md ("What a Java (JMS) consumer sees").
. "$(dirname "$0")/lib.sh"
t_need activemq
t_need kafka
. "$(dirname "$0")/kafka_lib.sh"
command -v kcat >/dev/null 2>&1 || t_skip "kcat is not installed"
command -v javac >/dev/null 2>&1 || t_skip "javac is not installed (default-jdk-headless)"
cp=""
for j in activemq-client geronimo-jms_1.1_spec hawtbuf slf4j-api slf4j-nop \
         geronimo-j2ee-management-1.1-spec; do
    [ -r "/usr/share/java/$j.jar" ] || t_skip "/usr/share/java/$j.jar is missing (libactivemq-java)"
    cp="$cp${cp:+:}/usr/share/java/$j.jar"
done
javac -nowarn -d "$T_DIR/java" -cp "$cp" "$top_srcdir/tests/integration/JmsDump.java" \
    >"$T_DIR/javac.log" 2>&1 || t_fail "javac: $(cat "$T_DIR/javac.log")"

src=sjv.src.$$
q=sjv.q.$$
k_topic "$src" 1
trap 't_cleanup' EXIT
printf 'k01|body\n' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$src" -p 0 -K '|' \
    -H "$(printf 'city=caf\303\251')" -H 'path=a\b' -H 'x-msgbridge-correlation-id=corr-1' \
    2>/dev/null || t_fail "kcat produce"
printf 'a\000b\377' | kcat -P -b "$BRG_TEST_KAFKA_BROKERS" -t "$src" -p 0 \
    -H "$(printf 'raw=\377\376')" 2>/dev/null || t_fail "kcat produce"

cat >"$T_DIR/bridge.conf" <<EOT
bridge = { id = "sjv"; };
endpoints = (
  { name = "kafka"; type = "kafka"; brokers = "$BRG_TEST_KAFKA_BROKERS"; properties = [ $K_PROPS ]; },
  { name = "amq"; type = "stomp"; url = "$BRG_TEST_STOMP_URL"; }
);
routes = (
  { name = "to-amq"; from = { endpoint = "kafka"; topic = "$src"; group = "sjv-$$"; start = "earliest"; };
    to = { endpoint = "amq"; destination = "/queue/$q"; }; mapping = { provenance = false; }; }
);
EOT
t_bridge bridge "$T_DIR/bridge.conf"
java -cp "$T_DIR/java:$cp" JmsDump "$BRG_TEST_OPENWIRE_URL" "$q" 2 >"$T_DIR/jms.txt" 2>"$T_DIR/jms.err" ||
    t_fail "JMS consumer: $(cat "$T_DIR/jms.err")"
t_stop "$T_BRIDGE_PID"
cat >"$T_DIR/want.txt" <<'EOT'
type	BytesMessage
body	body
JMSCorrelationID	corr-1
JMSType	null
JMSPriority	4
JMSDeliveryMode	2
JMSRedelivered	false
city	String	café
path	String	a\b
x-msgbridge-absent	String	priority,message-id,persistent
x-msgbridge-key	String	k01
x-msgbridge-order	String	city,path
x-msgbridge-types	String	city=binary,path=binary
--
type	BytesMessage
body	a\x00b\xff
JMSCorrelationID	null
JMSType	null
JMSPriority	4
JMSDeliveryMode	2
JMSRedelivered	false
raw	String	//4=
x-msgbridge-absent	String	priority,message-id,persistent
x-msgbridge-base64	String	raw=binary
x-msgbridge-types	String	raw=binary
--
EOT
cmp -s "$T_DIR/want.txt" "$T_DIR/jms.txt" ||
    t_fail "what JMS sees differs: $(diff "$T_DIR/want.txt" "$T_DIR/jms.txt")"
t_log "ok: the JMS view is as documented"
