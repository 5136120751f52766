#!/bin/sh
# tests/faults/table.sh RESULTS.jsonl: the Markdown table of fault results (one JSON object per
# line, as tests/faults/scenario.sh appends them), one row per scenario and route, in file order.
[ $# = 1 ] && [ -r "$1" ] || { echo "usage: table.sh RESULTS.jsonl" >&2; exit 2; }
awk '
function get(k,    v) {
    if (match($0, "\"" k "\": *\"[^\"]*\"")) {
        v = substr($0, RSTART, RLENGTH); sub("^\"" k "\": *\"", "", v); sub("\"$", "", v); return v
    }
    if (match($0, "\"" k "\": *[^,}]*")) {
        v = substr($0, RSTART, RLENGTH); sub("^\"" k "\": *", "", v); return v
    }
    return ""
}
function dash(v) { return (v == "" || v == "null") ? "-" : v }
BEGIN {
    title["source_kill"] = "source broker killed + restarted"
    title["dest_kill"] = "destination broker killed + restarted"
    title["bridge_kill"] = "msgbridge killed (SIGKILL) + restarted"
    title["stall"] = "network stall (brokers SIGSTOP 10 s)"
    title["slow"] = "destination slower than source"
    title["poison"] = "poison message mid-stream"
    route["k2r"] = "Kafka -> RabbitMQ"; route["r2k"] = "RabbitMQ -> Kafka"
    route["a2k"] = "AMQP 1.0 -> Kafka"; route["k2k"] = "Kafka -> Kafka"
    print "| scenario | route | sent | missing | dup seen | dup stored | reordered | fault s | recovery s | peak RSS MiB | notes | result |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
}
/^[ \t]*\{/ {
    s = get("scenario"); r = get("route")
    st = (s in title) ? title[s] : s
    rt = (r in route) ? route[r] : r
    if (get("skipped") == "true" || get("error") == "true") {
        printf "| %s | %s | | | | | | | | | %s | %s |\n", st, rt, get("reason"),
            get("skipped") == "true" ? "skipped" : "**error**"
        next
    }
    reo = get("reordered")
    if (get("order_checked") == "false") reo = "n/a"
    note = ""
    if (s == "slow")
        note = sprintf("in flight <= %s (max %s); RSS %s MiB, bound %s MiB; ~%s msgs waited at the source",
            get("peak_in_flight"), get("max_in_flight"), get("rss_slow_peak_mib"),
            get("rss_bound_mib"), get("backlog_messages"))
    if (s == "poison")
        note = sprintf("%s in the dead letter: %s", get("dead_letter"), get("dead_letter_reason"))
    if (get("pass") != "true")
        note = note (note == "" ? "" : "; ") "**" get("reason") "**"
    gsub(/\|/, "/", note)
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", st, rt, get("sent"),
        get("missing"), get("duplicates"), dash(get("stored_duplicates")), reo,
        dash(get("fault_s")), dash(get("recovery_s")),
        get("peak_rss_mib"), note, get("pass") == "true" ? "pass" : "**FAIL**"
}' "$1"
