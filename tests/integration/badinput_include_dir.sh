#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# EXPECTED FAILURE (XFAIL in tests/badinput.mk): an @include of something that is not a
# readable file (a directory) makes libconfig 1.5's flex scanner call exit(2) with
# "input in flex scanner failed" (YY_FATAL_ERROR): msgbridge -t exits 2 without FILE:LINE,
# and a RUNNING bridge given such a file by SIGHUP exits at once with status 2, dropping what
# it had in flight, instead of keeping its configuration ("a bad file changes nothing").
# Fix (bridge/conf.c): before handing the text to libconfig, resolve each @include line
# itself (relative to the include dir), stat() it and refuse anything that is not a regular
# file (and over the size limit) with brg_diag_error_at(file, line, "cannot include \"X\":
# is a directory"); libconfig 1.5 has no include hook (config_set_include_func is 1.7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/badinput_lib.sh"
D=$T_DIR
mkdir "$D/conf.d"
MEM='endpoints = ( { name = "a"; type = "memory"; }, { name = "b"; type = "memory"; } );'
printf '%s\nroutes = ( { name = "r"; from = { endpoint = "a"; count = 1000000000; };\n  to = { endpoint = "b"; }; rate = { messages_per_second = 100; }; } );\n' "$MEM" >"$D/good.conf"
printf '%s\n@include "conf.d"\nroutes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; }; } );\n' "$MEM" >"$D/bad.conf"

# The running bridge first: SIGHUP with the bad file must leave it running.
cp "$D/good.conf" "$D/live.conf"
t_bridge live "$D/live.conf"
t_wait_for 10 grep -q "connected" "$T_DIR/live.log" || t_fail "no start-up: $(cat "$T_DIR/live.log")"
cp "$D/bad.conf" "$D/live.conf"
kill -HUP "$T_BRIDGE_PID"
# The refusal is logged (or the bridge died): the checks below say which.
t_wait_for 10 t_log_has "$T_DIR/live.log" "has errors; the running configuration is unchanged" ||
    true
if ! kill -0 "$T_BRIDGE_PID" 2>/dev/null; then
    wait "$T_BRIDGE_PID"
    rc=$?
    t_fail "SIGHUP with an @include of a directory killed the running bridge (status $rc): $(tail -3 "$T_DIR/live.log")"
fi
grep -q "reload: .*has errors; the running configuration is unchanged" "$T_DIR/live.log" ||
    t_fail "the reload error was not logged: $(tail -5 "$T_DIR/live.log")"
t_stop "$T_BRIDGE_PID"

# msgbridge -t: an error with FILE:LINE and exit 1.
bi_expect_error "$D/bad.conf"
grep -q "^$D/bad.conf:2: " "$T_DIR/check.out" ||
    t_fail "no FILE:LINE error for the @include of a directory: $(cat "$T_DIR/check.out")"
t_log "ok: @include of a directory is an error; a reload with it changes nothing"
