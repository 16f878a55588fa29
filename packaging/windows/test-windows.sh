#!/usr/bin/env bash
# make test-windows: the unit tests as windows/amd64 binaries under Wine 10
# (Debian 13's) in a cached Debian 13 root, inside a network namespace of
# their own; then the end-to-end test of storebox.exe (test/wine).
#   packaging/windows/test-windows.sh [go-list patterns]   (as root)
# The binaries are built with packaging/windows/wine-overlay.sh's overlay
# (two Wine gaps in Go's net package; see there). What is not run, and
# why, is in NOT_RUN and SKIP below; the counts are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${WINE_ROOT:-/var/cache/storebox-ci/wine-root}
GO=${GO:-go}
start=$SECONDS

# Not built: packages whose tests build and exec the real storebox binary
# or other Go programs with the host's toolchain (GOOS=windows is
# inherited, and Wine is not a go toolchain host) or that test Linux only
# parts; the Windows storebox.exe is covered by test/wine instead.
#  - cmd/storebox, cmd/storebox-cloud, daemon/doctor's CLI half, packaging,
#    sync/uploader/drainbench, test/*: build or start binaries with `go`.
NOT_RUN='storebox/(cmd/storebox|cmd/storebox-cloud|packaging|packaging/debcopyright|sync/uploader/drainbench|test/.*)$'
# Skipped tests (go test -skip patterns), each with its reason:
#  - TestRemoteRefusesAndChangesNothing/10_MB_document: the client gives up
#    on the 10 MB body after its 300 ms timeout, and Wine then leaves the
#    server's side of the connection active, so httptest.Server.Close
#    waits forever (make test-arm64 skips it for its timeout too).
SKIP='^TestRemoteRefusesAndChangesNothing$/^10_MB_document$'

sh packaging/windows/wine-root.sh "$ROOT"
work=$(mktemp -d /tmp/storebox-wine.XXXXXX)
ns=windows-ut$$
cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	umount "$ROOT/proc" "$ROOT/src" "$ROOT/run-tests" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
sh packaging/windows/wine-overlay.sh "$work/overlay"

# Build every test binary (two at a time).
mkdir -p "$work/bin"
mapfile -t pkgs < <($GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${@:-./...}" | grep -vE "$NOT_RUN")
mod=$($GO list -m)
binname() { local rel=${1#"$mod"}; rel=${rel#/}; echo "${rel//\//_}"; }
build() {
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $GO test -c -overlay "$work/overlay/overlay.json" \
		-o "$work/bin/$(binname "$1").test.exe" "$1" || echo "$1" >>"$work/build-failed"
}
i=0
for p in "${pkgs[@]}"; do
	build "$p" &
	if (( ++i % 2 == 0 )); then wait; fi
done
wait
built=$((SECONDS - start))
if [ -s "$work/build-failed" ]; then
	echo "test-windows: did not build:" >&2
	cat "$work/build-failed" >&2
	exit 1
fi

# A network namespace: loopback, and a veth pair (both ends inside) as a
# multicast LAN for the mDNS tests (no host interface is touched).
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add windows-lan type veth peer name windows-peer
ip -n "$ns" link set windows-peer up
ip -n "$ns" link set windows-lan up
ip -n "$ns" addr add 10.231.0.1/24 dev windows-lan
ip -n "$ns" route add 224.0.0.0/4 dev windows-lan

mkdir -p "$ROOT/src" "$ROOT/run-tests"
mount --bind "$PWD" "$ROOT/src"
mount --bind "$work" "$ROOT/run-tests"
mount -t proc proc "$ROOT/proc"
# A fresh copy of the prepared prefix for this run.
rm -rf "$ROOT/tmp/prefix"
cp -a "$ROOT/opt/wineprefix" "$ROOT/tmp/prefix"
wine_env=(env -i HOME=/root PATH=/usr/bin:/bin WINEPREFIX=/tmp/prefix WINEDEBUG=-all
	WINEDLLOVERRIDES='mscoree,mshtml=' STOREBOX_UNDER_WINE=1 LANG=C.UTF-8)
inroot() { ip netns exec "$ns" chroot "$ROOT" "${wine_env[@]}" "$@"; }
inroot wineserver -p

pass=0 skip=0 fail=0 failed=()
for p in "${pkgs[@]}"; do
	rel=${p#"$mod"}; rel=${rel#/}
	n=$(binname "$p")
	log=$work/$n.log
	args=(-test.count=1 -test.v -test.timeout=5m)
	[ -n "$SKIP" ] && args+=("-test.skip=$SKIP")
	# shellcheck disable=SC2016 # expanded by the inner sh
	if inroot sh -c 'cd "/src/$1" && shift && exec wine "$@"' sh "$rel" "/run-tests/bin/$n.test.exe" "${args[@]}" >"$log" 2>&1; then
		status=ok
	else
		status=FAIL
		failed+=("$rel")
	fi
	p_=$(grep -c '^--- PASS' "$log" || true)
	s_=$(grep -c '^--- SKIP' "$log" || true)
	f_=$(grep -c '^--- FAIL' "$log" || true)
	pass=$((pass + p_)) skip=$((skip + s_)) fail=$((fail + f_))
	printf '%-4s %-45s pass %3d skip %2d fail %2d\n' "$status" "$rel" "$p_" "$s_" "$f_"
	if [ "$status" = FAIL ]; then
		grep -E '^(--- FAIL|panic|\s+\S+_test\.go:[0-9]+:)' "$log" | head -40 || tail -40 "$log"
	fi
	if [ -n "${SKIP_REPORT:-}" ]; then grep -A1 '^--- SKIP' "$log" || true; fi
done
inroot wineserver -k || true
echo "test-windows: unit tests: ${#pkgs[@]} packages, $pass passed, $skip skipped, $fail failed (build ${built}s, total $((SECONDS - start))s)"
if [ ${#failed[@]} -gt 0 ]; then
	echo "test-windows: failed: ${failed[*]}" >&2
	exit 1
fi
