#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# valgrind --leak-check=full on a stdio -> file route moving 100k messages (20k in quick mode):
# no leak, no invalid access, every message arrives, and SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || t_skip "valgrind not installed"
"$MSGBRIDGE" --version | grep -q ' stdio' || t_skip "stdio adapter not built"
# Under ASan (BRG_TEST_QUICK=1 in scripts/test.sh) valgrind cannot run the binary.
nm "$MSGBRIDGE" 2>/dev/null | grep -q __asan_init && t_skip "sanitizer build"
N=$(t_count 100000)
cat >"$T_DIR/v.conf" <<EOC
bridge = { id = "vg"; stats_interval = 0; shutdown_timeout = 60; };
endpoints = ( { name = "in"; type = "stdio"; format = "lines"; },
              { name = "out"; type = "file"; path = "$T_DIR/out.ndjson"; } );
routes = ( { name = "r"; from = { endpoint = "in"; }; to = { endpoint = "out"; };
             mapping = { set_headers = ( { name = "n"; value = "\${key}x"; } ); }; } );
EOC
seq 1 "$N" | sed 's/^/line-/' >"$T_DIR/in.txt"
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=99 --log-file="$T_DIR/valgrind.log" \
    "$MSGBRIDGE" -c "$T_DIR/v.conf" <"$T_DIR/in.txt" >"$T_DIR/bridge.log" 2>&1 &
pid=$!
T_PIDS="$T_PIDS $pid"
t_wait_for 300 sh -c "[ \$(wc -l <'$T_DIR/out.ndjson' 2>/dev/null || echo 0) -ge $N ]" ||
    t_fail "only $(wc -l <"$T_DIR/out.ndjson") of $N lines arrived"
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" = 0 ] || { cat "$T_DIR/valgrind.log" | head -60; t_fail "valgrind/msgbridge exit status $rc"; }
grep -q "ERROR SUMMARY: 0 errors" "$T_DIR/valgrind.log" || { head -80 "$T_DIR/valgrind.log"; t_fail "valgrind errors"; }
grep -q "All heap blocks were freed" "$T_DIR/valgrind.log" || grep -q "definitely lost: 0 bytes" "$T_DIR/valgrind.log" || t_fail "leaks"
t_assert_eq "$(wc -l <"$T_DIR/out.ndjson")" "$N" "lines written"
# Body of the last line is the last input line.
tail -1 "$T_DIR/out.ndjson" | grep -q "\"body\":\"line-$N\"" || t_fail "last line: $(tail -1 "$T_DIR/out.ndjson" | cut -c1-200)"
t_log "ok: $N messages under valgrind, $(grep -o 'in use at exit: [0-9,]* bytes' "$T_DIR/valgrind.log")"
