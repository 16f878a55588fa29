#!/bin/sh
# Build storebox .debs: packaging/build-deb.sh VERSION [ARCH...]
#   ARCH defaults to "amd64 arm64". Output: dist/storebox_<version>_<arch>.deb
#   (a leading "v" is dropped from VERSION). Needs Go, gzip and git; nfpm is
#   built from the Go module proxy unless NFPM names an nfpm binary.
#   Besides the binary it generates, under dist/: the man pages (from the
#   cobra commands), the copyright file (from the binary's module list and
#   the licences in the module cache) and the changelog (packaging/changelog
#   with an entry for VERSION on top when it has none).
#   STOREBOX_SAMPLE_DIR overrides packaging/sample (catalog.csv, catalog.jsonl);
#   DEB_DIR puts the .debs elsewhere (the upgrade test's newer package).
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
DEB_DIR=${DEB_DIR:-dist}
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

# Dates in generated files come from the last commit, so two builds of one
# commit are identical.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
# The binary knows when it was made at the latest: a box whose clock is
# before that says so at start.
BUILD_TIME=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# Man pages, from a binary for this machine.
rm -rf dist/man dist/doc
mkdir -p dist/man dist/doc
GOOS='' GOARCH='' CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$VERSION" \
	-o dist/tools/storebox-host ./cmd/storebox
dist/tools/storebox-host man dist/man
gzip -9n dist/man/*.1

# Debian names a native version's changelog (no "-revision") changelog.gz.
case "$VERSION" in
*-*) STOREBOX_CHANGELOG=changelog.Debian.gz ;;
*) STOREBOX_CHANGELOG=changelog.gz ;;
esac
export STOREBOX_CHANGELOG
# The build's entry must be newer than the last written one (lintian).
last=$(LC_ALL=C date -u -d "$(sed -n 's/^ -- .*>  //p' packaging/changelog | head -1)" +%s)
entry_date=$SOURCE_DATE_EPOCH
[ "$entry_date" -gt "$last" ] || entry_date=$((last + 60))
{
	if ! head -1 packaging/changelog | grep -qF "storebox ($VERSION) "; then
		commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
		printf 'storebox (%s) unstable; urgency=medium\n\n' "$VERSION"
		printf '  * Build of commit %s.\n\n' "$commit"
		printf ' -- storebox maintainers <storebox@example.com>  %s\n\n' \
			"$(LC_ALL=C date -u -R -d "@$entry_date")"
	fi
	cat packaging/changelog
} | gzip -9n >"dist/doc/$STOREBOX_CHANGELOG"

for arch in $ARCHES; do
	case "$arch" in
	amd64|arm64) ;;
	*) echo "$0: unsupported arch $arch (amd64, arm64)" >&2; exit 2 ;;
	esac
	echo "building storebox $VERSION linux/$arch" >&2
	mkdir -p "dist/linux_$arch"
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.buildTime=$BUILD_TIME" \
		-o "dist/linux_$arch/storebox" ./cmd/storebox
	go run ./packaging/debcopyright -o "dist/linux_$arch/copyright" "dist/linux_$arch/storebox"
	out="$DEB_DIR/storebox_${VERSION}_${arch}.deb"
	# One package per arch in DEB_DIR, so test-deb.sh knows which to test.
	mkdir -p "$DEB_DIR"
	rm -f "$DEB_DIR"/storebox_*_"$arch".deb
	GOARCH=$arch "$NFPM" package --packager deb --config packaging/nfpm.yaml --target "$out"
	echo "$out"
done
