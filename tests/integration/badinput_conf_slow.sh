#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# A configuration under the 16 MiB limit is checked in bounded, short time: 40,000 routes
# (5.5 MB) and one 4 MB line. Both were quadratic once (about 19 s and 12 s): route names were
# compared pairwise (bridge/conf.c check_unique now sorts them), and libconfig's
# config_read_file() rescans a long token on every 8 KiB refill of its flex buffer (brg_conf_load
# now reads the file into memory and parses it with config_read_string()). The bound is CPU
# time (see bi_check): about 0.5 CPU s here for 40,000 routes, 2.3 s under ASan.
# Neither SIGTERM nor Ctrl-C stops such a check meanwhile: bridge/main.c blocks SIGTERM, SIGINT,
# SIGHUP and SIGUSR1 before brg_conf_load() (for sigtimedwait later); blocking them after
# the load would let -t be interrupted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/badinput_lib.sh"
D=$T_DIR
MEM='endpoints = ( { name = "a"; type = "memory"; }, { name = "b"; type = "memory"; } );'
failed=0

{
    echo "$MEM"
    echo "routes = ("
    awk 'BEGIN { for (i = 0; i < 40000; i++) printf "  { name = \"route-%06d\"; from = { endpoint = \"a\"; }; to = { endpoint = \"b\"; stream = \"s-%06d\"; }; description = \"padding padding\"; },\n", i, i }'
    echo '  { name = "last"; from = { endpoint = "a"; }; to = { endpoint = "b"; }; } );'
} >"$D/routes40k.conf"
BI_LIMIT=8 bi_check "$D/routes40k.conf"
if [ "$BI_RC" = 0 ]; then
    t_log "40,000 routes: valid in ${BI_SECS}s"
else
    t_log "40,000 routes ($(wc -c <"$D/routes40k.conf") bytes): not checked within 8 CPU seconds (status $BI_RC)"
    failed=1
fi
rm -f "$D/routes40k.conf"

{
    echo "$MEM"
    printf 'routes = ( { name = "r"; from = { endpoint = "a"; }; to = { endpoint = "b"; };\n'
    printf '    description = "%s"; } );\n' "$(head -c 4000000 /dev/zero | tr '\0' 'x')"
} >"$D/line4m.conf"
BI_LIMIT=5 bi_check "$D/line4m.conf"
if [ "$BI_RC" = 0 ]; then
    t_log "a 4 MB string: valid in ${BI_SECS}s"
else
    t_log "a 4 MB string: not checked within 5 CPU seconds (status $BI_RC)"
    failed=1
fi
[ $failed = 0 ] || t_fail "a large configuration is not checked in bounded time (see the comment at the top)"
t_log "ok: 40,000 routes and a 4 MB line checked quickly"
