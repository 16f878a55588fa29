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

NAME=wine-root
ROOT=${1:-/var/cache/storebox-ci/wine-root}
# Bump when the package list or the prefix setup changes.
RECIPE=1
# shellcheck source=packaging/debian-root.sh
. "$(dirname "$0")/../debian-root.sh"

root_cached && exit 0
root_debootstrap procps,ca-certificates
# No recommends: no fonts, no X, no gecko/mono (the tests need none).
root_apt_install wine wine64
# The prepared prefix: wineboot once, with the Mono/Gecko installers
# disabled (they would ask for a download).
mount -t proc proc "$tmp/proc"
trap 'umount "$tmp/proc" 2>/dev/null || true' EXIT
chroot "$tmp" env HOME=/root WINEPREFIX=/opt/wineprefix WINEDEBUG=-all \
	WINEDLLOVERRIDES='mscoree,mshtml=' sh -c 'wine wineboot --init && wineserver -w' >>"$tmp.log" 2>&1 ||
	root_fail "wineboot failed"
umount "$tmp/proc"
trap - EXIT
chroot "$tmp" wine --version >"$tmp/.wine-version" 2>/dev/null || true
root_finish
echo "wine-root: built $ROOT ($(cat "$ROOT/.wine-version"))" >&2
