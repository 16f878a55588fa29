#!/bin/sh
# Write a `go build -overlay` that steps over two gaps of Wine 10 itself
# (not of storebox) in Go's net package, for test builds only:
#   packaging/windows/wine-overlay.sh DIR   -> DIR/overlay.json
# The patched files are copied from this Go's GOROOT at build time, so the
# overlay follows the Go version; a patch that no longer applies fails
# here, loudly, rather than running the tests on an unpatched net.
#   A. WSAIoctl(SIO_UDP_NETRESET) is not implemented by Wine (WSAEOPNOTSUPP,
#      10045); Go >= 1.24 issues it on every UDP socket (net/fd_windows.go),
#      so every UDP socket would fail. The patch tolerates that one error.
#   B. GetAdaptersAddresses(AF_UNSPEC) fails under Wine, so net.Interfaces
#      fails; the patch retries with AF_INET (net/interface_windows.go).
# Released storebox.exe is built without it: on Windows both calls work.
set -eu
out=${1:?usage: wine-overlay.sh DIR}
goroot=$(go env GOROOT)
mkdir -p "$out"
fd=$goroot/src/net/fd_windows.go
ifc=$goroot/src/net/interface_windows.go

# A: the `if err != nil {` right after the SIO_UDP_NETRESET call.
sed '/windows\.SIO_UDP_NETRESET/{n;s/if err != nil {/if err != nil \&\& err != syscall.Errno(10045) { \/\/ storebox wine-overlay A/;}' "$fd" >"$out/fd_windows.go"
# B: a family variable, and one retry with AF_INET on failure.
sed -e 's/^\tl := uint32(15000) \/\/ recommended initial size$/&\n\tfamily := uint32(syscall.AF_UNSPEC) \/\/ storebox wine-overlay B/' \
	-e 's/windows\.GetAdaptersAddresses(syscall\.AF_UNSPEC,/windows.GetAdaptersAddresses(family,/' \
	-e 's/^\t\tif err\.(syscall\.Errno) != syscall\.ERROR_BUFFER_OVERFLOW {$/\t\tif err.(syscall.Errno) != syscall.ERROR_BUFFER_OVERFLOW \&\& family == syscall.AF_UNSPEC {\n\t\t\tfamily = syscall.AF_INET\n\t\t\tcontinue\n\t\t}\n&/' \
	"$ifc" >"$out/interface_windows.go"

if ! grep -q 'wine-overlay A' "$out/fd_windows.go" ||
	! grep -q 'GetAdaptersAddresses(family,' "$out/interface_windows.go" ||
	! grep -q 'family = syscall.AF_INET' "$out/interface_windows.go"; then
	echo "wine-overlay: the patches no longer apply to $(go env GOVERSION)'s net package; update packaging/windows/wine-overlay.sh" >&2
	exit 1
fi
cat >"$out/overlay.json" <<JSON
{"Replace": {
  "$fd": "$out/fd_windows.go",
  "$ifc": "$out/interface_windows.go"
}}
JSON
