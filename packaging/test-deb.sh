#!/bin/bash
# Test the storebox .deb under a live systemd, as root:
#   packaging/test-deb.sh DIST
# DIST holds storebox_*_amd64.deb, storebox_*_arm64.deb and
# upgrade/storebox_*_amd64.deb (a newer version). Meant for a throwaway
# Debian 13 booted with systemd as PID 1 (packaging/nspawn/run.sh boots one
# under systemd-nspawn and runs this inside); it installs, breaks and
# purges the package. Checks, in order: package contents and control data
# (both architectures); install under a policy-rc.d that forbids starting
# (enabled, not started); start returns only after READY (listeners bound);
# the watchdog (pings keep it alive, a stopped daemon is killed and
# restarted); kill -9 restarts it; systemctl reload with a good file applies
# it, with a broken file fails non-zero and keeps the running config;
# systemd-analyze security <= 1.5; a truncated and a corrupted .deb upgrade
# fail with the old version still running and intact; a real upgrade keeps
# the edited conffile and restarts on the new binary; a downgrade over a
# conffile the technician broke says so and leaves the daemon running;
# remove; purge (data and its owner kept); reinstall over the kept data.
set -euo pipefail

DIST=${1:?usage: test-deb.sh DIST}
DIST=$(realpath "$DIST")
fail() {
	echo "test-deb: FAIL: $*" >&2
	systemctl status --no-pager storebox >&2 || true
	journalctl -u storebox --no-pager -n 40 >&2 || true
	exit 1
}
step() { echo "test-deb: $*" >&2; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs the package)"
[ -d /run/systemd/system ] || fail "systemd is not running here (boot a container: packaging/nspawn/run.sh)"
for c in dpkg-deb apt-get systemctl systemd-analyze journalctl curl; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done
! dpkg -s storebox >/dev/null 2>&1 || fail "storebox is already installed here; use a throwaway machine"
[ ! -e /var/lib/storebox ] || fail "/var/lib/storebox already exists; use a throwaway machine"

shopt -s nullglob
amd=("$DIST"/storebox_*_amd64.deb)
arm=("$DIST"/storebox_*_arm64.deb)
up=("$DIST"/upgrade/storebox_*_amd64.deb)
[ ${#amd[@]} = 1 ] || fail "want exactly one $DIST/storebox_*_amd64.deb, found ${#amd[@]}"
[ ${#arm[@]} = 1 ] || fail "want exactly one $DIST/storebox_*_arm64.deb, found ${#arm[@]}"
[ ${#up[@]} = 1 ] || fail "want exactly one $DIST/upgrade/storebox_*_amd64.deb, found ${#up[@]}"
DEB=${amd[0]} ARM=${arm[0]} UP=${up[0]}
VERSION=$(dpkg-deb -f "$DEB" Version)
UPVERSION=$(dpkg-deb -f "$UP" Version)
dpkg --compare-versions "$UPVERSION" gt "$VERSION" || fail "upgrade $UPVERSION is not newer than $VERSION"

CONF=/etc/storebox/storebox.toml
API=http://127.0.0.1:8680
apt_() { apt-get -o DPkg::Lock::Timeout=300 -y -q "$@" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; return 1; }; }
prop() { systemctl show -P "$1" storebox; }
token() { cat /var/lib/storebox/admin.token; }
status_json() { curl -fsS -H "Authorization: Bearer $(token)" "$API/api/v1/status"; }
running_version() { status_json | grep -o '"version": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	for _ in $(seq 1 $((secs * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "$what (not within ${secs}s)"
}
running_pid() { [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" != 0 ] && [ "$(prop MainPID)" != "$1" ]; }

# elf_machine FILE prints the ELF e_machine (62 x86-64, 183 aarch64).
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }
check_package() { # DEB ARCH ELF_MACHINE
	local deb=$1 arch=$2 machine=$3 tmp
	step "checking $(basename "$deb")"
	tmp=$(mktemp -d)
	dpkg-deb -c "$deb" >"$tmp/long"
	awk '{print $NF}' "$tmp/long" >"$tmp/list"
	for p in ./usr/bin/storebox ./usr/lib/systemd/system/storebox.service \
		./etc/storebox/storebox.toml ./usr/share/storebox/sample/catalog.csv \
		./usr/share/storebox/sample/catalog.jsonl ./usr/share/doc/storebox/copyright \
		./usr/share/man/man1/storebox.1.gz ./usr/share/man/man1/storebox-run.1.gz \
		./usr/share/lintian/overrides/storebox; do
		grep -qxF "$p" "$tmp/list" || fail "$deb lacks $p"
	done
	grep -q '^\./usr/share/doc/storebox/changelog\(\.Debian\)\?\.gz$' "$tmp/list" || fail "$deb has no changelog"
	! grep -q '^\./lib/' "$tmp/list" || fail "$deb ships files under /lib (aliased location)"
	! grep -q '^\./var/lib/storebox' "$tmp/list" || fail "$deb ships /var/lib/storebox (dpkg would own the store's data)"
	[ "$(dpkg-deb -f "$deb" Package)" = storebox ] || fail "Package field"
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture is not $arch"
	[[ "$(dpkg-deb -f "$deb" Depends)" == *adduser* ]] || fail "Depends lacks adduser"
	dpkg-deb -e "$deb" "$tmp/control"
	grep -qxF "$CONF" "$tmp/control/conffiles" || fail "storebox.toml is not a conffile"
	for s in postinst prerm postrm; do
		[ -x "$tmp/control/$s" ] || fail "$s missing or not executable"
		sh -n "$tmp/control/$s" || fail "$s: syntax error"
		! grep -Ev '^[[:space:]]*(#|echo )' "$tmp/control/$s" | grep -Eq 'systemctl (start|stop|restart|enable|disable|try-restart)' ||
			fail "$s calls systemctl directly (policy-rc.d would be ignored)"
	done
	dpkg-deb -x "$deb" "$tmp/root"
	[ "$(elf_machine "$tmp/root/usr/bin/storebox")" = "$machine" ] || fail "/usr/bin/storebox in $deb is not a $arch binary"
	grep -q '^Files: github.com/spf13/cobra/\*$' "$tmp/root/usr/share/doc/storebox/copyright" ||
		fail "copyright lacks the linked modules"
	rm -rf "$tmp"
}
check_package "$DEB" amd64 62
check_package "$ARM" arm64 183

step "install $VERSION under a policy-rc.d that forbids starting services"
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt_ install "$DEB" || fail "apt-get install $DEB"
rm -f /usr/sbin/policy-rc.d
[ "$(dpkg-query -W -f '${Status}' storebox)" = "install ok installed" ] || fail "not installed"
[ "$(prop ActiveState)" = inactive ] || fail "started although policy-rc.d forbids it ($(prop ActiveState))"
[ "$(systemctl is-enabled storebox)" = enabled ] || fail "not enabled"
getent passwd storebox >/dev/null || fail "user storebox not created"
[[ " $(id -nG storebox) " == *" dialout "* ]] || fail "storebox is not in dialout"
[ "$(stat -c '%a %U %G' $CONF)" = "640 root storebox" ] ||
	fail "config is $(stat -c '%a %U %G' $CONF), want 640 root storebox"
[ "$(stat -c '%a %U' /var/lib/storebox)" = "750 storebox" ] || fail "/var/lib/storebox not 0750 storebox"
verify=$(systemd-analyze verify /usr/lib/systemd/system/storebox.service 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warnings: $verify"
[ "$(prop Type)" = notify ] || fail "Type=$(prop Type)"

step "start: active only once READY (every listener bound)"
systemctl start storebox || fail "systemctl start"
# No retry: Type=notify means start returned after READY=1.
curl -fsS "$API/healthz" >/dev/null || fail "active, but /healthz does not answer yet"
[ "$(prop SubState)" = running ] || fail "SubState=$(prop SubState)"
out=$(storebox version)
[[ $out == *"$VERSION"* ]] || fail "storebox version printed $out, want $VERSION"
curl -fsS -o /dev/null "$API/metrics" || fail "/metrics does not answer under the sandbox"
pid=$(prop MainPID)

step "systemd-analyze security"
sec=$(SYSTEMD_COLORS=0 systemd-analyze security --no-pager storebox 2>&1 | sed -n 's/.*Overall exposure level for storebox.service: \([0-9.]*\).*/\1/p')
[ -n "$sec" ] || fail "no score from systemd-analyze security"
step "security exposure: $sec"
awk -v s="$sec" 'BEGIN { exit !(s <= 1.5) }' || fail "systemd-analyze security: $sec, want <= 1.5"

step "watchdog: kept while it pings, restarted when it stops"
[ "$(prop WatchdogUSec)" = 30s ] || fail "WatchdogUSec=$(prop WatchdogUSec), want 30s"
mkdir -p /run/systemd/system/storebox.service.d
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\n' >/run/systemd/system/storebox.service.d/ci-watchdog.conf
systemctl daemon-reload
systemctl restart storebox || fail "restart with WatchdogSec=2s"
pid=$(prop MainPID)
restarts=$(prop NRestarts)
sleep 7
if [ "$(prop MainPID)" != "$pid" ] || [ "$(prop NRestarts)" != "$restarts" ]; then
	fail "a healthy daemon was restarted by a 2s watchdog (it does not ping)"
fi
kill -STOP "$pid"
wait_for 20 "a stopped (wedged) daemon was not restarted by the watchdog" running_pid "$pid"
# NRestarts is read on its own; polled, so a read racing the restart's
# state change does not fail a restart that did happen.
restarted() { [ "$(prop NRestarts)" -gt "$restarts" ]; }
wait_for 10 "NRestarts did not grow after the watchdog fired (NRestarts=$(prop NRestarts), was $restarts)" restarted
wait_for 20 "the daemon did not come back after the watchdog restart" running_pid "$pid"
journalctl -u storebox --no-pager | grep -qi watchdog || fail "no watchdog line in the journal"
rm -f /run/systemd/system/storebox.service.d/ci-watchdog.conf
systemctl daemon-reload
systemctl restart storebox || fail "restart after the watchdog test"

step "kill -9 → restarted"
pid=$(prop MainPID)
restarts=$(prop NRestarts)
kill -9 "$pid"
wait_for 15 "not restarted after kill -9" running_pid "$pid"
[ "$(prop NRestarts)" -gt "$restarts" ] || fail "NRestarts did not grow after kill -9"
wait_for 10 "/healthz after the restart" curl -fsS "$API/healthz"

step "reload with a good file applies it"
pid=$(prop MainPID)
cat >>$CONF <<'TOML'

[[doors]]
id = "ci-door"
secret = "ci-secret"
policy = "entry"
TOML
systemctl reload storebox || fail "systemctl reload with a good file"
has_door() { status_json | grep -q '"ci-door"'; }
wait_for 10 "the reloaded door is not in /api/v1/status" has_door
[ "$(prop MainPID)" = "$pid" ] || fail "reload restarted the daemon"

step "reload with a broken file fails and keeps the running config"
cp $CONF /tmp/storebox.toml.good
printf '\n[devices]\nheartbeat = "not a duration"\n' >>$CONF
if systemctl reload storebox 2>/tmp/reload.err; then
	fail "systemctl reload returned 0 with a broken config"
fi
[ "$(prop ReloadResult)" != success ] || fail "ReloadResult=success with a broken config"
if [ "$(prop ActiveState)" != active ] || [ "$(prop MainPID)" != "$pid" ]; then
	fail "a failed reload stopped the daemon"
fi
has_door || fail "a failed reload dropped the running config"
journalctl -u storebox --no-pager | grep -q 'storebox.toml:[0-9]' ||
	fail "the journal does not say which line is broken"
cp /tmp/storebox.toml.good $CONF
systemctl reload storebox || fail "reload after restoring the file"

# Store data to compare across the failed upgrades, the upgrade and removal.
datalist() { find /var/lib/storebox -mindepth 1 -name '*.db' -printf '%P %U\n' | sort; }
datalist >/tmp/data.before
[ -s /tmp/data.before ] || fail "the daemon wrote no database to /var/lib/storebox"

for how in truncated corrupted; do
	step "a $how .deb upgrade fails and leaves $VERSION running"
	bad=/tmp/storebox_${how}_amd64.deb
	size=$(stat -c %s "$UP")
	if [ $how = truncated ]; then
		head -c $((size * 6 / 10)) "$UP" >$bad
	else
		cp "$UP" $bad
		# Overwrite 64 KiB in the middle of data.tar (the archive framing
		# stays valid, the compressed stream does not).
		dd if=/dev/urandom of=$bad bs=1 seek=$((size / 2)) count=65536 conv=notrunc status=none
	fi
	if dpkg -i $bad >/tmp/dpkg.log 2>&1; then
		fail "dpkg -i accepted a $how package"
	fi
	grep -qi 'error' /tmp/dpkg.log || fail "dpkg said nothing about the $how package: $(cat /tmp/dpkg.log)"
	step "dpkg: $(grep -i error /tmp/dpkg.log | head -1)"
	[ "$(dpkg-query -W -f '${Status} ${Version}' storebox)" = "install ok installed $VERSION" ] ||
		fail "after the $how upgrade: $(dpkg-query -W -f '${Status} ${Version}' storebox)"
	changed=$(dpkg --verify storebox | grep -v ' c /etc/storebox/' || true)
	[ -z "$changed" ] || fail "installed files changed by the $how upgrade: $changed"
	wait_for 15 "storebox not running after the $how upgrade" running_pid 0
	[ "$(running_version)" = "$VERSION" ] || fail "running version is $(running_version) after the $how upgrade"
	cmp -s $CONF /tmp/storebox.toml.good || fail "the $how upgrade changed the config"
	datalist | cmp -s - /tmp/data.before || fail "the $how upgrade changed /var/lib/storebox"
done

step "upgrade to $UPVERSION keeps the edited conffile and restarts on the new binary"
pid=$(prop MainPID)
apt_ install "$UP" || fail "apt-get install $UP"
[ "$(dpkg-query -W -f '${Version}' storebox)" = "$UPVERSION" ] || fail "not upgraded"
cmp -s $CONF /tmp/storebox.toml.good || fail "upgrade changed the edited conffile"
[ "$(stat -c '%a %U %G' $CONF)" = "640 root storebox" ] || fail "upgrade changed the config's permissions"
wait_for 15 "not running after the upgrade" running_pid "$pid"
[[ "$(readlink /proc/"$(prop MainPID)"/exe)" == /usr/bin/storebox ]] || fail "daemon runs a deleted binary"
[ "$(running_version)" = "$UPVERSION" ] || fail "the running daemon is $(running_version), not $UPVERSION"
has_door || fail "the edited config is not in effect after the upgrade"

step "a downgrade over a conffile the technician broke leaves the daemon running"
pid=$(prop MainPID)
printf '\n[devices]\nheartbeat = "not a duration"\n' >>$CONF
apt_ install --allow-downgrades "$DEB" || fail "apt-get install (downgrade) over a broken conffile failed"
grep -q "storebox: $CONF does not load" /tmp/apt.log || fail "postinst did not say the config is broken: $(cat /tmp/apt.log)"
grep -q 'storebox.toml:[0-9]' /tmp/apt.log || fail "postinst did not name the broken line"
if [ "$(prop ActiveState)" != active ] || [ "$(prop MainPID)" != "$pid" ]; then
	fail "the daemon was stopped over a broken conffile"
fi
[ "$(running_version)" = "$UPVERSION" ] || fail "running $(running_version), want the untouched $UPVERSION"
cp /tmp/storebox.toml.good $CONF
systemctl restart storebox || fail "restart after fixing the config"
[ "$(running_version)" = "$VERSION" ] || fail "running $(running_version) after the fix, want $VERSION"
has_door || fail "the fixed config is not in effect"

step "remove: daemon stopped, config, data and user kept"
apt_ remove storebox || fail "apt-get remove"
[ ! -e /usr/bin/storebox ] || fail "/usr/bin/storebox left after remove"
[ ! -e /usr/lib/systemd/system/storebox.service ] || fail "unit left after remove"
[ "$(prop ActiveState)" != active ] || fail "daemon still running after remove"
[ -f $CONF ] || fail "remove deleted the conffile"
datalist | cmp -s - /tmp/data.before || fail "remove changed /var/lib/storebox"

step "purge: config and unit state gone; data kept, owned by the kept user"
apt_ purge storebox || fail "apt-get purge"
[ ! -e /etc/storebox ] || fail "purge left /etc/storebox: $(ls -A /etc/storebox)"
[ ! -e /etc/systemd/system/multi-user.target.wants/storebox.service ] || fail "purge left the unit enabled"
[ ! -e /etc/systemd/system/storebox.service ] || fail "purge left a mask"
[ ! -e /var/lib/systemd/deb-systemd-helper-enabled/storebox.service.dsh-also ] || fail "purge left deb-systemd-helper state"
[ -d /var/lib/storebox ] || fail "purge deleted /var/lib/storebox"
getent passwd storebox >/dev/null || fail "purge removed the user that owns /var/lib/storebox"
orphan=$(find /var/lib/storebox \( -nouser -o -nogroup \) -print -quit)
[ -z "$orphan" ] || fail "$orphan is owned by a number after purge"
datalist | cmp -s - /tmp/data.before || fail "purge changed /var/lib/storebox"

step "reinstall over the kept data"
apt_ install "$DEB" || fail "reinstall after purge"
wait_for 15 "not running after reinstall" running_pid 0
curl -fsS "$API/healthz" >/dev/null || fail "/healthz after reinstall"
datalist | cmp -s - /tmp/data.before || fail "reinstall changed the kept data"
apt_ purge storebox || fail "final purge"

step "ok: $(basename "$DEB"), $(basename "$ARM"), upgrade to $UPVERSION"
