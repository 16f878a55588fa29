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

NAME=trixie-root
ROOT=${1:-/var/cache/storebox-ci/trixie-root}
# Bump when the package list changes so cached roots are rebuilt.
RECIPE=1
# shellcheck source=packaging/debian-root.sh
. "$(dirname "$0")/../debian-root.sh"

root_cached && exit 0
root_debootstrap systemd,systemd-sysv,dbus,adduser,curl,procps
root_apt_install lintian
# A booted container without a machine id or with units that need hardware
# wastes boot time; keep boot short and quiet.
: >"$tmp/etc/machine-id"
echo storebox-ci >"$tmp/etc/hostname"
root_finish
echo "trixie-root: built $ROOT" >&2
