#!/bin/bash
# Test the storebox .deb on a Debian machine (CI container), as root:
#   packaging/test-deb.sh [DIST_DIR]
# Checks contents and control data of dist/storebox_*_{amd64,arm64}.deb, then
# installs the amd64 package, runs it briefly as the storebox user, removes
# it (data kept), reinstalls, purges it (data still kept) and cleans up.
# It installs and removes the package on this machine: run it in a throwaway
# container. Needs: dpkg, apt, systemd (for systemd-analyze), curl.
# STOREBOX_TEST_KEEP_DATA=1 leaves /var/lib/storebox after the run.
set -euo pipefail

DIST=${1:-$(dirname "$0")/../dist}
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs the package)"
for c in dpkg-deb apt-get systemd-analyze curl runuser setpriv; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
if dpkg -s storebox >/dev/null 2>&1; then
	fail "storebox is already installed here; use a clean machine"
fi
[ ! -e /var/lib/storebox ] || fail "/var/lib/storebox already exists; use a clean machine"

shopt -s nullglob
amd=("$DIST"/storebox_*_amd64.deb)
arm=("$DIST"/storebox_*_arm64.deb)
[ ${#amd[@]} = 1 ] || fail "want exactly one $DIST/storebox_*_amd64.deb, found ${#amd[@]}"
[ ${#arm[@]} = 1 ] || fail "want exactly one $DIST/storebox_*_arm64.deb, found ${#arm[@]}"
DEB=$(realpath "${amd[0]}")
ARM=$(realpath "${arm[0]}")

# elf_machine FILE prints the ELF e_machine (62 x86-64, 183 aarch64).
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }

check_package() { # DEB ARCH ELF_MACHINE
	local deb=$1 arch=$2 machine=$3 tmp
	step "checking $deb"
	tmp=$(mktemp -d)
	dpkg-deb -c "$deb" >"$tmp/long"
	awk '{print $NF}' "$tmp/long" >"$tmp/list"
	for p in ./usr/bin/storebox ./lib/systemd/system/storebox.service \
		./etc/storebox/storebox.toml ./usr/share/storebox/sample/catalog.csv \
		./usr/share/storebox/sample/catalog.jsonl; do
		grep -qxF "$p" "$tmp/list" || fail "$deb lacks $p"
	done
	if grep -q '^\./var/lib/storebox' "$tmp/list"; then
		fail "$deb ships /var/lib/storebox (dpkg would own the store's data)"
	fi
	grep -q '^-rw-r----- .* \./etc/storebox/storebox.toml$' "$tmp/long" ||
		fail "storebox.toml is not mode 0640 in $deb"
	[ "$(dpkg-deb -f "$deb" Package)" = storebox ] || fail "Package field"
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture is not $arch"
	dpkg-deb -e "$deb" "$tmp/control"
	grep -qxF /etc/storebox/storebox.toml "$tmp/control/conffiles" || fail "storebox.toml is not a conffile"
	for s in postinst prerm postrm; do
		[ -x "$tmp/control/$s" ] || fail "$s missing or not executable"
		sh -n "$tmp/control/$s" || fail "$s: syntax error"
	done
	dpkg-deb -x "$deb" "$tmp/root"
	[ "$(elf_machine "$tmp/root/usr/bin/storebox")" = "$machine" ] || fail "/usr/bin/storebox in $deb is not a $arch binary"
	cmp -s "$tmp/root/lib/systemd/system/storebox.service" systemd/storebox.service ||
		fail "packaged unit differs from systemd/storebox.service"
	rm -rf "$tmp"
}

cd "$(dirname "$0")/.."
# Leave a shared machine as it was if a check fails half-way.
cleanup() {
	rc=$?
	if [ "$rc" != 0 ] && [ -z "${STOREBOX_TEST_KEEP_DATA:-}" ]; then
		apt-get -o DPkg::Lock::Timeout=300 purge -y storebox >/dev/null 2>&1 || true
		rm -rf /var/lib/storebox
	fi
	rm -f /tmp/storebox-smoke.log /tmp/storebox-data.before
}
trap cleanup EXIT
check_package "$DEB" amd64 62
check_package "$ARM" arm64 183
VERSION=$(dpkg-deb -f "$DEB" Version)

step "installing $DEB"
apt-get -o DPkg::Lock::Timeout=300 install -y "$DEB" >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=300 install -y "$DEB"
[ "$(dpkg-query -W -f '${Status}' storebox)" = "install ok installed" ] || fail "not installed"

out=$(storebox version)
[[ $out == storebox* ]] || fail "storebox version printed: $out"
step "storebox version: $out (package $VERSION)"

getent passwd storebox >/dev/null || fail "user storebox not created"
[[ " $(id -nG storebox) " == *" dialout "* ]] || fail "storebox is not in dialout"
[ "$(stat -c '%a %U %G' /etc/storebox/storebox.toml)" = "640 root storebox" ] ||
	fail "config is $(stat -c '%a %U %G' /etc/storebox/storebox.toml), want 640 root storebox"
[ "$(stat -c '%a %U' /var/lib/storebox)" = "750 storebox" ] || fail "/var/lib/storebox not 0750 storebox"

[ -L /etc/systemd/system/multi-user.target.wants/storebox.service ] || fail "storebox.service not enabled"

storebox config check /etc/storebox/storebox.toml || fail "installed config does not pass config check"
runuser -u storebox -- storebox config check /etc/storebox/storebox.toml >/dev/null ||
	fail "the storebox user cannot read its config"

# The shipped sample catalog imports (into a scratch data dir).
scratch=$(mktemp -d)
for f in /usr/share/storebox/sample/catalog.csv /usr/share/storebox/sample/catalog.jsonl; do
	storebox catalog import "$f" --data-dir "$scratch" >/dev/null || fail "sample $f does not import"
done
rm -rf "$scratch"

verify=$(systemd-analyze verify /lib/systemd/system/storebox.service 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warnings: $verify"

# Run the installed daemon briefly as the service user, on free loopback
# ports (the machine may be shared), with data_dir from the packaged config.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
smoke_run() { # prints nothing; returns 0 when /healthz answered and SIGTERM exited 0
	local base smoke pid ok rc
	while :; do
		base=$((20000 + RANDOM % 30000))
		port_busy $base || port_busy $((base + 1)) || port_busy $((base + 2)) || port_busy $((base + 3)) || break
	done
	smoke=$(mktemp /tmp/storebox-smoke.XXXXXX.toml)
	cat >"$smoke" <<TOML
data_dir = "/var/lib/storebox"
[devices]
listen = "127.0.0.1:$base"
[discovery]
listen = "127.0.0.1:$((base + 1))"
mdns = false
[mqtt]
listen = "127.0.0.1:$((base + 2))"
[http]
listen = "127.0.0.1:$((base + 3))"
TOML
	chmod 0644 "$smoke"
	setpriv --reuid=storebox --regid=storebox --init-groups -- \
		storebox run --config "$smoke" >/tmp/storebox-smoke.log 2>&1 &
	pid=$!
	ok=
	for _ in $(seq 1 60); do
		if curl -fsS "http://127.0.0.1:$((base + 3))/healthz" >/dev/null 2>&1; then ok=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	rm -f "$smoke"
	if [ -z "$ok" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { echo "daemon exited $rc after SIGTERM" >>/tmp/storebox-smoke.log; return 1; }
}
step "running the daemon as storebox"
ran=
for attempt in 1 2 3; do
	if smoke_run; then ran=1; break; fi
	# Another program may have taken a port between the check and the bind.
	grep -q "address already in use" /tmp/storebox-smoke.log || break
	step "port taken meanwhile; retrying ($attempt)"
done
if [ -z "$ran" ]; then
	cat /tmp/storebox-smoke.log >&2
	fail "daemon did not run as user storebox (answer /healthz, exit 0 on SIGTERM)"
fi
[ -n "$(ls -A /var/lib/storebox)" ] || fail "daemon wrote nothing to /var/lib/storebox"
bad=$(find /var/lib/storebox ! -user storebox | head -1)
[ -z "$bad" ] || fail "$bad is not owned by storebox"
datalist() { find /var/lib/storebox -mindepth 1 -printf '%P %s %U\n' | sort; }
datalist >/tmp/storebox-data.before

step "apt-get remove"
apt-get -o DPkg::Lock::Timeout=300 remove -y storebox >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=300 remove -y storebox
[ ! -e /usr/bin/storebox ] || fail "/usr/bin/storebox left after remove"
[ ! -e /lib/systemd/system/storebox.service ] || fail "unit left after remove"
[ -f /etc/storebox/storebox.toml ] || fail "remove deleted the conffile"
[ -d /var/lib/storebox ] || fail "remove deleted /var/lib/storebox"
datalist | cmp -s - /tmp/storebox-data.before || fail "remove changed /var/lib/storebox"

step "reinstall over the kept config and data"
apt-get -o DPkg::Lock::Timeout=300 install -y "$DEB" >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=300 install -y "$DEB"
storebox config check /etc/storebox/storebox.toml >/dev/null || fail "config check after reinstall"

step "apt-get purge"
apt-get -o DPkg::Lock::Timeout=300 purge -y storebox >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=300 purge -y storebox
[ ! -e /etc/storebox/storebox.toml ] || fail "purge left the config"
[ ! -e /etc/systemd/system/multi-user.target.wants/storebox.service ] || fail "purge left the unit enabled"
[ ! -e /etc/systemd/system/storebox.service ] || fail "purge left a mask"
! getent passwd storebox >/dev/null || fail "purge left the storebox user"
[ -d /var/lib/storebox ] || fail "purge deleted /var/lib/storebox"
datalist | cmp -s - /tmp/storebox-data.before || fail "purge changed /var/lib/storebox"

if [ -z "${STOREBOX_TEST_KEEP_DATA:-}" ]; then
	rm -rf /var/lib/storebox
fi
step "ok: $DEB and $ARM"
