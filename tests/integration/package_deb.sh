#!/bin/sh
# lane: side (scripts/test.sh, tests/lane.sh)
# The Debian package: scripts/package.sh builds msgbridge_<version>_<arch>.deb from a clean copy
# of the tree (dpkg-buildpackage -us -uc -b, then lintian: no error or warning left that
# debian/msgbridge.lintian-overrides does not explain); `apt-get install ./...deb` installs it
# here; the installed msgbridge checks the installed configuration (also as the msgbridge user
# the service runs as) and prints its version; `msgbridge status` reads the installed binary
# running the installed configuration; `apt-get purge` leaves nothing behind (files, the
# configuration, the user). Needs root and the build dependencies (scripts/deps.sh). The build
# compiles everything once: about 1 minute on an idle 2-core machine, a few when it is busy.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || t_skip "installs a package: needs root"
# The package is built from the sources, not from the build under test: the sanitizer suite
# (BRG_TEST_QUICK=1 in scripts/test.sh) would only build the same package a second time.
[ "$BRG_TEST_QUICK" = 1 ] && t_skip "the normal suite builds and checks the package"
for c in dpkg-buildpackage dh apt-get lintian; do
    command -v $c >/dev/null || t_skip "$c not installed (scripts/deps.sh installs it)"
done
command -v git >/dev/null || t_skip "git not installed"
if dpkg-query -W -f='${Status}' msgbridge 2>/dev/null | grep -q 'install ok'; then
    t_skip "a msgbridge package is already installed here: not touching it"
fi
export DEBIAN_FRONTEND=noninteractive
installed=0
purge() {
    if [ "$installed" = 1 ]; then
        apt-get purge -y -qq msgbridge >"$T_DIR/purge.log" 2>&1
        installed=0
    fi
}
trap 'purge; t_cleanup' EXIT

start=$(date +%s)
sh "$top_srcdir/scripts/package.sh" "$T_DIR/pkg" >"$T_DIR/package.log" 2>&1 ||
    t_fail "scripts/package.sh failed: $(tail -30 "$T_DIR/package.log")"
t_log "package built and lintian-checked in $(( $(date +%s) - start )) s"
version=$(sed -n '1s/^msgbridge (\([^)]*\)).*/\1/p' "$top_srcdir/debian/changelog")
deb=$T_DIR/pkg/msgbridge_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || t_fail "no $deb: $(ls "$T_DIR/pkg")"
grep -q '^[EW]:' "$T_DIR/pkg/lintian.txt" && t_fail "lintian: $(grep '^[EW]:' "$T_DIR/pkg/lintian.txt")"

# Library dependencies come from ${shlibs:Depends}.
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libconfig9 librdkafka1 librabbitmq4 libqpid-proton11 libmicrohttpd12 libcurl4 libjansson4 adduser; do
    echo "$deps" | grep -q "$lib" || t_fail "Depends lacks $lib: $deps"
done

apt-get install -y -qq "$deb" >"$T_DIR/install.log" 2>&1 || t_fail "apt-get install: $(tail -20 "$T_DIR/install.log")"
installed=1
dpkg-query -L msgbridge >"$T_DIR/files"
for f in /usr/bin/msgbridge /usr/bin/msgbridge-audit /usr/share/man/man1/msgbridge.1.gz \
         /usr/share/man/man1/msgbridge-audit.1.gz /usr/share/man/man5/msgbridge.conf.5.gz \
         /etc/msgbridge/msgbridge.conf /lib/systemd/system/msgbridge.service \
         /usr/share/msgbridge/prometheus/msgbridge.rules.yml /usr/share/msgbridge/grafana/msgbridge.json \
         /usr/share/doc/msgbridge/operations.md.gz /usr/share/doc/msgbridge/examples/kafka-mirror.conf; do
    grep -qx "$f" "$T_DIR/files" && [ -f "$f" ] || t_fail "not installed: $f"
done
dpkg-query -W -f='${Conffiles}\n' msgbridge | grep -q '^ /etc/msgbridge/msgbridge.conf [0-9a-f]\{32\}$' ||
    t_fail "msgbridge.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' msgbridge)"
grep -q '^ExecStart=/usr/bin/msgbridge -c /etc/msgbridge/msgbridge.conf$' /lib/systemd/system/msgbridge.service || t_fail "unit's ExecStart"
grep -q '^User=msgbridge$' /lib/systemd/system/msgbridge.service || t_fail "unit's User"
# The system user, and a configuration only root and its group read (it may hold credentials).
ent=$(getent passwd msgbridge) || t_fail "no msgbridge user"
uid=$(echo "$ent" | cut -d: -f3)
[ "$uid" -lt 1000 ] || t_fail "msgbridge is not a system user: $ent"
t_assert_eq "$(echo "$ent" | cut -d: -f6-)" "/nonexistent:/usr/sbin/nologin" "the user's home and shell"
t_assert_eq "$(stat -c '%U:%G %a' /etc/msgbridge/msgbridge.conf)" "root:msgbridge 640" "configuration owner and mode"

# The installed programs on the installed configuration (the default path).
/usr/bin/msgbridge -t >"$T_DIR/check.out" 2>&1 || t_fail "installed msgbridge -t: $(cat "$T_DIR/check.out")"
t_assert_eq "$(tail -1 "$T_DIR/check.out")" "configuration /etc/msgbridge/msgbridge.conf is valid" "msgbridge -t"
runuser -u msgbridge -- /usr/bin/msgbridge -t >/dev/null 2>&1 || t_fail "the msgbridge user cannot check the configuration"
t_assert_eq "$(/usr/bin/msgbridge --version | head -1)" "msgbridge $version" "msgbridge --version"
/usr/bin/msgbridge --version | grep -q '^adapters: memory file stdio kafka rabbitmq amqp1 stomp$' || t_fail "adapters: $(/usr/bin/msgbridge --version)"
# Its commented examples are valid too once uncommented (secrets files aside).
sed -e '/^endpoints = (/,$ s/^  # /  /' -e 's|password_file = "/etc/msgbridge/[a-z]*.secret";||' \
    /etc/msgbridge/msgbridge.conf >"$T_DIR/uncommented.conf"
/usr/bin/msgbridge -t -c "$T_DIR/uncommented.conf" >"$T_DIR/unc.out" 2>&1 || t_fail "uncommented examples: $(cat "$T_DIR/unc.out")"
grep -q '^  audit-to-kafka: amq address=queue://audit$' "$T_DIR/unc.out" || t_fail "examples' routes: $(cat "$T_DIR/unc.out")"

# Run it as the service would (the msgbridge user, the installed file) when its metrics port is
# free here, and read it with the installed `msgbridge status` (URL from the same file). Under
# systemd the package started the service itself: read that one.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    t_wait_for 20 systemctl is-active --quiet msgbridge || t_fail "service not active: $(systemctl status msgbridge 2>&1 | tail -5)"
    t_wait_for 10 /usr/bin/msgbridge status -i 0.2 || t_fail "the service's bridge is not readable"
    ps -o user= -p "$(systemctl show -p MainPID --value msgbridge)" | grep -qx msgbridge || t_fail "the service does not run as msgbridge"
elif python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 9464))' 2>/dev/null; then
    # setpriv execs msgbridge itself (runuser would stay its parent and end with the signal).
    setpriv --reuid=msgbridge --regid=msgbridge --init-groups /usr/bin/msgbridge >"$T_DIR/run.log" 2>&1 &
    rpid=$!
    T_PIDS="$T_PIDS $rpid"
    t_wait_for 10 /usr/bin/msgbridge status -i 0.2 || t_fail "installed bridge not readable: $(cat "$T_DIR/run.log")"
    /usr/bin/msgbridge status -i 0.2 | head -1 | grep -q "^msgbridge $version at http://127.0.0.1:9464, up .*, 0 routes$" ||
        t_fail "status of the installed bridge: $(/usr/bin/msgbridge status -i 0.2)"
    kill -TERM $rpid; wait $rpid || t_fail "installed bridge did not stop cleanly"
else
    t_log "127.0.0.1:9464 is taken here: the installed bridge was not started"
fi

# Purge: every file the package installed is gone, and the configuration and the user too.
apt-get purge -y -qq msgbridge >"$T_DIR/purge.log" 2>&1 || t_fail "apt-get purge: $(tail -20 "$T_DIR/purge.log")"
installed=0
dpkg-query -W -f='${Status}' msgbridge 2>/dev/null | grep -q 'installed' && t_fail "still installed: $(dpkg-query -W -f='${Status}' msgbridge)"
while read -r f; do
    [ -d "$f" ] && continue
    [ -e "$f" ] && t_fail "left behind after purge: $f"
done <"$T_DIR/files"
for d in /etc/msgbridge /usr/share/msgbridge /usr/share/doc/msgbridge; do
    [ -e "$d" ] && t_fail "left behind after purge: $d"
done
getent passwd msgbridge >/dev/null && t_fail "user msgbridge left behind"
getent group msgbridge >/dev/null && t_fail "group msgbridge left behind"
t_log "ok: built, installed, checked, purged clean in $(( $(date +%s) - start )) s"
