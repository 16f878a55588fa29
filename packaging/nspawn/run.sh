#!/bin/bash
# Check the built .debs with Debian 13's own tools: lintian (zero errors and
# warnings), then packaging/test-deb.sh inside a booted Debian 13 (systemd as
# PID 1 under systemd-nspawn, no network). As root:
#   packaging/nspawn/run.sh [DIST]
# DIST (default dist/) holds storebox_*_{amd64,arm64}.deb and
# upgrade/storebox_*_amd64.deb (make deb-test builds them). The Debian root
# is built once by trixie-root.sh and cached (STOREBOX_CI_ROOT, default
# /var/cache/storebox-ci/trixie-root); each boot runs on a throwaway copy
# (--ephemeral), so the cache stays clean.
set -euo pipefail

cd "$(dirname "$0")/../.."
DIST=$(realpath "${1:-dist}")
ROOT=${STOREBOX_CI_ROOT:-/var/cache/storebox-ci/trixie-root}
# The whole boot-test-poweroff; a hung boot must not eat CI's time.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}

fail() { echo "nspawn: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || fail "systemd-nspawn is not installed (apt-get install systemd-container)"
packaging/nspawn/trixie-root.sh "$ROOT"

shopt -s nullglob
debs=("$DIST"/storebox_*.deb "$DIST"/upgrade/storebox_*.deb)
[ ${#debs[@]} -ge 3 ] || fail "want the amd64, arm64 and upgrade .debs in $DIST, found ${#debs[@]}"

nspawn() { systemd-nspawn --register=no --keep-unit --quiet "$@"; }

echo "nspawn: lintian (Debian 13) on ${debs[*]##*/}" >&2
lint_args=()
for d in "${debs[@]}"; do lint_args+=("/mnt/${d#"$DIST"/}"); done
# --fail-on error,warning: any E: or W: tag fails; overrides are listed.
# (/mnt: a read-only root cannot get a new mount point.)
if ! nspawn --read-only --private-network -D "$ROOT" --bind-ro="$DIST:/mnt" \
	--setenv=TMPDIR=/tmp lintian --fail-on error,warning --show-overrides --color=never \
	"${lint_args[@]}" >/tmp/storebox-lintian.log 2>&1; then
	cat /tmp/storebox-lintian.log >&2
	fail "lintian reported errors or warnings"
fi
cat /tmp/storebox-lintian.log >&2
echo "nspawn: lintian: no errors, no warnings" >&2

work=$(mktemp -d /tmp/storebox-nspawn.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dist/upgrade"
cp "$DIST"/storebox_*.deb "$work/dist/"
cp "$DIST"/upgrade/storebox_*_amd64.deb "$work/dist/upgrade/"
cp packaging/test-deb.sh "$work/"
# Runs the test once the container has booted, then powers it off either
# way; the result goes to the bound directory.
cat >"$work/storebox-ci.service" <<'UNIT'
[Unit]
Description=storebox package test
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh -c '/ci/test-deb.sh /ci/dist >/ci/test.log 2>&1; echo $? >/ci/rc'
UNIT

echo "nspawn: booting Debian 13 ($ROOT, ephemeral copy) for packaging/test-deb.sh" >&2
start=$(date +%s)
rc=0
timeout --kill-after=30 "$BOOT_TIMEOUT" systemd-nspawn --register=no --keep-unit --quiet \
	--private-network --ephemeral --console=passive -D "$ROOT" \
	--bind="$work:/ci" \
	--bind-ro="$work/storebox-ci.service:/etc/systemd/system/storebox-ci.service" \
	-b systemd.wants=storebox-ci.service >"$work/boot.log" 2>&1 || rc=$?
echo "nspawn: container exited ($rc) after $(($(date +%s) - start))s" >&2
[ -f "$work/test.log" ] && cat "$work/test.log" >&2
if [ ! -f "$work/rc" ]; then
	tail -40 "$work/boot.log" >&2
	fail "the test did not run to the end inside the container (boot exit $rc)"
fi
[ "$(cat "$work/rc")" = 0 ] || fail "packaging/test-deb.sh failed inside Debian 13"
echo "nspawn: ok" >&2
