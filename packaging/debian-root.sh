# Sourced by packaging/nspawn/trixie-root.sh and packaging/windows/wine-root.sh:
# what building a cached Debian 13 root for a test takes, whatever goes in it.
# The caller sets NAME (its name in messages), ROOT and RECIPE (bump it when
# the root's contents change, so cached roots are rebuilt), then calls
# root_cached || exit 0, root_debootstrap PACKAGES, root_apt_install
# PACKAGES… and root_finish. The root is built in $tmp and moved into place
# only when complete; the marker file .storebox-ci-complete holds RECIPE.

# The mirror this machine's apt uses for Debian (deb822 or one-line lists).
apt_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' '
}
MIRROR=${MIRROR:-$(apt_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
MARK=$ROOT/.storebox-ci-complete
tmp=$ROOT.building

# root_cached: true when a complete root of this recipe is there.
root_cached() {
	if [ -f "$MARK" ] && [ "$(cat "$MARK")" = "$RECIPE" ]; then
		echo "$NAME: using cached $ROOT" >&2
		return 0
	fi
	return 1
}

# root_fail MESSAGE: the log's tail, the message, exit 1.
root_fail() {
	tail -30 "$tmp.log" >&2
	echo "$NAME: $1 (full log: $tmp.log)" >&2
	exit 1
}

# root_debootstrap INCLUDE: a minbase root with the comma-separated
# packages, into $tmp; a second try rides out a mirror hiccup.
root_debootstrap() {
	command -v debootstrap >/dev/null || { echo "$NAME: debootstrap is not installed" >&2; exit 1; }
	rm -rf "$tmp" "$ROOT"
	mkdir -p "$(dirname "$ROOT")"
	echo "$NAME: debootstrap $SUITE into $ROOT (a few minutes)" >&2
	for try in 1 2; do
		rm -rf "$tmp"
		if debootstrap --variant=minbase --include="$1" "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
			break
		fi
		[ "$try" = 2 ] && root_fail "debootstrap failed twice"
		tail -30 "$tmp.log" >&2
		echo "$NAME: debootstrap failed; trying once more" >&2
	done
	cp /etc/resolv.conf "$tmp/etc/resolv.conf"
}

# root_apt_install PACKAGE…: through apt inside the root, which resolves
# the virtual packages debootstrap's --include cannot; no recommends.
root_apt_install() {
	chroot "$tmp" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $*" >>"$tmp.log" 2>&1 ||
		root_fail "installing $* failed"
}

# root_finish: clean apt's cache, mark the root complete, move it in place.
root_finish() {
	chroot "$tmp" apt-get clean
	echo "$RECIPE" >"$tmp/.storebox-ci-complete"
	mv "$tmp" "$ROOT"
	rm -f "$tmp.log"
}
