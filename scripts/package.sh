#!/bin/sh
# Build the Debian package from a clean copy of this tree (only the files git tracks or would
# track: no build folders, no generated configure):
#   scripts/package.sh [OUTDIR]     -> OUTDIR/msgbridge_<version>_<arch>.deb (default build/package)
# Runs `dpkg-buildpackage -us -uc -b` (build dependencies: debian/control; scripts/deps.sh
# installs them) and then lintian on the result; lintian's output is kept in OUTDIR/lintian.txt
# and any error or warning not overridden in debian/ fails the script. Takes a few minutes: the
# build compiles everything once (set DEB_BUILD_OPTIONS=parallel=N to change the job count).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/package}
version=$(sed -n '1s/^msgbridge (\([^)]*\)).*/\1/p' "$top/debian/changelog")
arch=$(dpkg --print-architecture)
work=$(mktemp -d /tmp/msgbridge-package.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
src=$work/msgbridge-$version
mkdir -p "$src" "$out"

if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    # Tracked and new (not ignored) files that exist in the working tree.
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$src" -xf -
else
    (cd "$top" && tar --exclude='./build*' --exclude=./autom4te.cache --exclude=./configure \
        --exclude='*.o' --exclude='*.a' -cf - .) | tar -C "$src" -xf -
fi

echo "package: building msgbridge $version in $src"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-parallel=$(nproc)}" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log" >&2
    cp "$work/build.log" "$out/build.log"
    echo "package: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1
}
cp "$work/build.log" "$out/build.log"
deb=msgbridge_${version}_${arch}.deb
cp "$work/$deb" "$out/$deb"
rm -f "$out"/msgbridge-dbgsym_*.deb
cp "$work"/msgbridge-dbgsym_*.deb "$out/" 2>/dev/null || true

if command -v lintian >/dev/null; then
    # --fail-on: errors and warnings that debian/msgbridge.lintian-overrides does not explain.
    lintian --info --display-info --fail-on error,warning "$work/msgbridge_${version}_${arch}.changes" \
        >"$out/lintian.txt" 2>&1 || { cat "$out/lintian.txt" >&2; echo "package: lintian failed" >&2; exit 1; }
    echo "package: lintian: $(grep -c '^[EWIP]:' "$out/lintian.txt" || true) tags (none E or W); see $out/lintian.txt"
else
    echo "package: lintian not installed: not checked" >&2
fi
echo "package: $out/$deb"
