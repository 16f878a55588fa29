#!/bin/sh
# Build (once) the Debian 13 root the live-systemd test boots under
# systemd-nspawn: packaging/nspawn/trixie-root.sh [ROOT]
#   ROOT defaults to /var/cache/storebox-ci/trixie-root. An existing,
#   complete root is reused (the marker file .storebox-ci-complete); a
#   half-built one is discarded. Needs debootstrap and the Debian archive
#   (MIRROR, default the Debian mirror apt uses here, else deb.debian.org).
# The root carries what the test needs offline (the container has no
# network): systemd as init, dbus (systemd-analyze security), adduser (the
# package's Depends), curl, and lintian (Debian 13's, for the .deb).
set -eu

ROOT=${1:-/var/cache/storebox-ci/trixie-root}
# The mirror this machine's apt uses for Debian (deb822 or one-line lists).
apt_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' '
}
MIRROR=${MIRROR:-$(apt_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
# Bump when the package list changes so cached roots are rebuilt.
RECIPE=1
MARK=$ROOT/.storebox-ci-complete

if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$RECIPE" ]; then
	echo "trixie-root: using cached $ROOT" >&2
	exit 0
fi
command -v debootstrap >/dev/null || { echo "trixie-root: debootstrap is not installed" >&2; exit 1; }

tmp=$ROOT.building
rm -rf "$tmp" "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "trixie-root: debootstrap $SUITE into $ROOT (a few minutes)" >&2
# A second try rides out a mirror hiccup.
for try in 1 2; do
	rm -rf "$tmp"
	if debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,adduser,curl,procps \
		"$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
		break
	fi
	tail -30 "$tmp.log" >&2
	if [ "$try" = 2 ]; then
		echo "trixie-root: debootstrap failed twice (full log: $tmp.log)" >&2
		exit 1
	fi
	echo "trixie-root: debootstrap failed; trying once more" >&2
done
# lintian through apt, which resolves the virtual packages (perl's openssl
# ABI) that debootstrap's --include cannot.
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
chroot "$tmp" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lintian' >>"$tmp.log" 2>&1 || {
	tail -30 "$tmp.log" >&2
	echo "trixie-root: installing lintian failed (full log: $tmp.log)" >&2
	exit 1
}
# A booted container without a machine id or with units that need hardware
# wastes boot time; keep boot short and quiet.
: >"$tmp/etc/machine-id"
echo storebox-ci >"$tmp/etc/hostname"
chroot "$tmp" apt-get clean
echo "$RECIPE" >"$tmp/.storebox-ci-complete"
mv "$tmp" "$ROOT"
rm -f "$tmp.log"
echo "trixie-root: built $ROOT" >&2
