#!/bin/sh
# Build storebox .debs: packaging/build-deb.sh VERSION [ARCH...]
#   ARCH defaults to "amd64 arm64". Output: dist/storebox_<version>_<arch>.deb
#   (a leading "v" is dropped from VERSION). Needs only Go; nfpm is run
#   through the Go module proxy unless NFPM names an nfpm binary.
#   STOREBOX_SAMPLE_DIR overrides packaging/sample (catalog.csv, catalog.jsonl).
set -eu

usage() { echo "usage: $0 VERSION [amd64|arm64 ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
VERSION=${1#v}
shift
[ -n "$VERSION" ] || usage
case "$VERSION" in
[0-9]*) ;;
*) echo "$0: version must start with a digit (got $VERSION)" >&2; exit 2 ;;
esac
ARCHES=${*:-amd64 arm64}

cd "$(dirname "$0")/.."
NFPM_VERSION=v2.45.2
NFPM=${NFPM:-}
STOREBOX_SAMPLE_DIR=${STOREBOX_SAMPLE_DIR:-./packaging/sample}
export STOREBOX_SAMPLE_DIR STOREBOX_VERSION="$VERSION"

for f in catalog.csv catalog.jsonl; do
	if [ ! -f "$STOREBOX_SAMPLE_DIR/$f" ]; then
		echo "$0: sample catalog $STOREBOX_SAMPLE_DIR/$f is missing" >&2
		exit 1
	fi
done

if [ -z "$NFPM" ]; then
	# Build nfpm once into dist/tools instead of `go run` per package.
	mkdir -p dist/tools
	GOBIN="$(pwd)/dist/tools" GOOS='' GOARCH='' CGO_ENABLED=0 \
		go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
	NFPM=./dist/tools/nfpm
fi

for arch in $ARCHES; do
	case "$arch" in
	amd64|arm64) ;;
	*) echo "$0: unsupported arch $arch (amd64, arm64)" >&2; exit 2 ;;
	esac
	echo "building storebox $VERSION linux/$arch" >&2
	mkdir -p "dist/linux_$arch"
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" \
		-o "dist/linux_$arch/storebox" ./cmd/storebox
	out="dist/storebox_${VERSION}_${arch}.deb"
	# One package per arch in dist/, so test-deb.sh knows which to test.
	rm -f dist/storebox_*_"$arch".deb
	GOARCH=$arch "$NFPM" package --packager deb --config packaging/nfpm.yaml --target "$out"
	echo "$out"
done
