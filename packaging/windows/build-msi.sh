#!/bin/sh
# Build the Windows installer on Linux:
#   packaging/windows/build-msi.sh VERSION EXE OUT.msi
# Needs wixl (Debian: apt-get install wixl). See storebox.wxs for what the
# MSI does and what its custom action does instead of wixl.
set -eu
version=${1:?usage: build-msi.sh VERSION EXE OUT.msi}
exe=$(realpath "${2:?}")
out=$(realpath -m "${3:?}")
wxs=$(realpath "$(dirname "$0")/storebox.wxs")
# MSI versions are numeric major.minor.build: 0.1.0-dev -> 0.1.0.
msiver=$(echo "$version" | sed 's/^v//; s/[^0-9.].*$//')
[ -n "$msiver" ] || msiver=0.0.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# wixl finds sources relative to the working directory.
cp "$exe" "$tmp/storebox.exe"
(cd "$tmp" && wixl -a x64 -D Version="$msiver" -D Exe=storebox.exe -o "$out" "$wxs")
echo "build-msi: $out ($(wc -c <"$out") bytes, version $msiver)" >&2
