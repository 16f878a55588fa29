#!/bin/sh
# Build (once) the Debian 13 root with Wine 10 that make test-windows runs
# the Windows test binaries in: packaging/windows/wine-root.sh [ROOT]
#   ROOT defaults to /var/cache/storebox-ci/wine-root. An existing, complete
#   root is reused (the marker file .storebox-ci-complete holds the recipe);
#   a half-built one is discarded. Needs debootstrap and the Debian archive
#   (MIRROR, default the Debian mirror apt uses here, else deb.debian.org).
# The root carries Debian 13's wine (10.x, 64-bit only: storebox ships
# windows/amd64) and a prepared Wine prefix in /opt/wineprefix, so a test
# run copies it instead of paying wineboot's first start each time.
set -eu

ROOT=${1:-/var/cache/storebox-ci/wine-root}
apt_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' '
}
MIRROR=${MIRROR:-$(apt_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
# Bump when the package list or the prefix setup changes.
RECIPE=1
MARK=$ROOT/.storebox-ci-complete

if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$RECIPE" ]; then
	echo "wine-root: using cached $ROOT" >&2
	exit 0
fi
command -v debootstrap >/dev/null || { echo "wine-root: debootstrap is not installed" >&2; exit 1; }

tmp=$ROOT.building
rm -rf "$tmp" "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "wine-root: debootstrap $SUITE into $ROOT (a few minutes)" >&2
for try in 1 2; do
	rm -rf "$tmp"
	if debootstrap --variant=minbase --include=procps,ca-certificates \
		"$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
		break
	fi
	tail -30 "$tmp.log" >&2
	if [ "$try" = 2 ]; then
		echo "wine-root: debootstrap failed twice (full log: $tmp.log)" >&2
		exit 1
	fi
	echo "wine-root: debootstrap failed; trying once more" >&2
done
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
# wine through apt (it resolves the virtual packages debootstrap cannot);
# no recommends: no fonts, no X, no gecko/mono (the tests need none).
chroot "$tmp" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wine wine64' >>"$tmp.log" 2>&1 || {
	tail -30 "$tmp.log" >&2
	echo "wine-root: installing wine failed (full log: $tmp.log)" >&2
	exit 1
}
# The prepared prefix: wineboot once, with the Mono/Gecko installers
# disabled (they would ask for a download).
mount -t proc proc "$tmp/proc"
trap 'umount "$tmp/proc" 2>/dev/null || true' EXIT
chroot "$tmp" env HOME=/root WINEPREFIX=/opt/wineprefix WINEDEBUG=-all \
	WINEDLLOVERRIDES='mscoree,mshtml=' sh -c 'wine wineboot --init && wineserver -w' >>"$tmp.log" 2>&1 || {
	tail -30 "$tmp.log" >&2
	echo "wine-root: wineboot failed (full log: $tmp.log)" >&2
	exit 1
}
umount "$tmp/proc"
trap - EXIT
chroot "$tmp" apt-get clean
chroot "$tmp" wine --version >"$tmp/.wine-version" 2>/dev/null || true
echo "$RECIPE" >"$tmp/.storebox-ci-complete"
mv "$tmp" "$ROOT"
rm -f "$tmp.log"
echo "wine-root: built $ROOT ($(cat "$ROOT/.wine-version"))" >&2
