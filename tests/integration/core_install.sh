#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# `make install` (into a DESTDIR) puts the programs, both man pages, the example configurations
# and the systemd unit where an operator looks for them, and the installed binary runs and
# checks an installed example.
. "$(dirname "$0")/lib.sh"
[ -f "$top_builddir/Makefile" ] || t_skip "no build tree"
root=$T_DIR/root
make -s -C "$top_builddir" install DESTDIR="$root" >"$T_DIR/install.log" 2>&1 ||
    t_fail "make install failed: $(tail -5 "$T_DIR/install.log")"
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
docdir=$(sed -n 's/^docdir = //p' "$top_builddir/Makefile" | sed "s|\${datarootdir}|$prefix/share|; s|\${PACKAGE_TARNAME}|msgbridge|; s|\${prefix}|$prefix|")
p=$root$prefix
for f in bin/msgbridge bin/msgbridge-audit share/man/man1/msgbridge.1 share/man/man5/msgbridge.conf.5; do
    [ -f "$p/$f" ] || t_fail "not installed: $prefix/$f ($(cd "$root" && find . -type f | head -20))"
done
[ -x "$p/bin/msgbridge" ] || t_fail "msgbridge is not executable"
ex=$root$docdir/examples
for f in msgbridge.service kafka-mirror.conf rabbitmq-to-kafka.conf activemq-to-kafka.conf stdio-to-stdout.conf; do
    [ -f "$ex/$f" ] || t_fail "example not installed: $docdir/examples/$f"
done
"$p/bin/msgbridge" --version | grep -q '^msgbridge ' || t_fail "installed binary: $("$p/bin/msgbridge" --version 2>&1)"
"$p/bin/msgbridge" -t -c "$ex/stdio-to-stdout.conf" >"$T_DIR/check.out" 2>&1 ||
    t_fail "installed example does not check: $(cat "$T_DIR/check.out")"
grep -q "ExecStart=.*msgbridge" "$ex/msgbridge.service" || t_fail "unit file has no ExecStart"
# The man pages are valid roff (rendered without warnings) when groff is there.
if command -v groff >/dev/null 2>&1; then
    for m in "$p/share/man/man1/msgbridge.1" "$p/share/man/man5/msgbridge.conf.5"; do
        out=$(groff -man -Tutf8 -ww "$m" 2>&1 >/dev/null)
        [ -z "$out" ] || t_fail "$(basename "$m"): $out"
        [ "$(groff -man -Tutf8 "$m" 2>/dev/null | wc -l)" -gt 40 ] || t_fail "$(basename "$m") renders too short"
    done
fi
t_log "ok: installed under $prefix ($(cd "$root" && find . -type f | wc -l) files)"
