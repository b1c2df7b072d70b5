#!/usr/bin/env bash
# deb.sh ARCH: build rfidgw for ARCH (amd64 | arm64) and package it as
# dist/rfidgw_<version>_<arch>.deb with nfpm (packaging/nfpm.yaml).
#
#   scripts/deb.sh amd64
#   scripts/deb.sh arm64    # on amd64 needs: apt-get install gcc-aarch64-linux-gnu
#
# Environment:
#   VERSION     package version (default: git describe); made Debian-valid
#   RFIDGW_BIN  package this prebuilt binary instead of building one
#   CC          C cross compiler for a foreign ARCH (default: <triplet>-gcc)
#   DIST        output directory (default: dist)
#   GO          go command (default: go)
#   NFPM        nfpm command (default: go run .../nfpm@v2.45.2, not in go.mod)
#
# No -trimpath: the build then shares the compile cache with `make build`.
# The binary goes to bin/linux-ARCH/rfidgw, not bin/rfidgw, so an arm64 build
# never replaces the host binary that `make demo` and the tests run.
# The last line printed is the path of the .deb.
set -euo pipefail

die() {
	echo "deb.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: scripts/deb.sh ARCH   (ARCH: amd64 | arm64)"
ARCH=$1
GO=${GO:-go}
NFPM=${NFPM:-"$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"}

cd "$(dirname "$0")/.."

case "$ARCH" in
amd64) triplet=x86_64-linux-gnu machine='X86-64' ccpkg=gcc-x86-64-linux-gnu ;;
arm64) triplet=aarch64-linux-gnu machine='AArch64' ccpkg=gcc-aarch64-linux-gnu ;;
*) die "unsupported ARCH '$ARCH': want amd64 or arm64" ;;
esac

# --- version ---------------------------------------------------------------
# scripts/version.sh makes VERSION (or git describe) Debian-valid; the binary
# is stamped with the same string, so `rfidgw version` and dpkg agree.
ver=$(scripts/version.sh) || die "bad VERSION"

# --- binary ------------------------------------------------------------------
if [ -n "${RFIDGW_BIN:-}" ]; then
	bin=$RFIDGW_BIN
	[ -f "$bin" ] || die "RFIDGW_BIN=$bin: no such file"
else
	bin=bin/linux-$ARCH/rfidgw
	buildenv=(CGO_ENABLED=1 GOOS=linux "GOARCH=$ARCH")
	# confluent-kafka-go links its bundled librdkafka_glibc_linux_<arch>.a
	# with cgo, so a foreign ARCH needs a C cross compiler and linker.
	if [ "$ARCH" != "$($GO env GOHOSTARCH)" ]; then
		cc=${CC:-$triplet-gcc}
		command -v "$cc" >/dev/null 2>&1 ||
			die "cross compiler '$cc' not found; install it with: apt-get install $ccpkg   (or set CC=...)"
		buildenv+=("CC=$cc")
	fi
	date=$(date -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	ldflags="-s -w -X main.version=$ver -X main.commit=$commit -X main.date=$date"
	echo "deb.sh: building $bin (linux/$ARCH, version $ver)" >&2
	env "${buildenv[@]}" "$GO" build -ldflags "$ldflags" -o "$bin" ./cmd/rfidgw
fi

# The binary must be for ARCH (catches a wrong RFIDGW_BIN or CC).
got=$(readelf -h "$bin" 2>/dev/null | sed -n 's/^ *Machine: *//p') || true
[[ "$got" == *"$machine"* ]] || die "$bin is not a linux/$ARCH ELF binary (readelf says: '${got:-not ELF}')"

# The glibc the binary needs: the newest GLIBC_x.y symbol version it uses.
glibc=$(readelf --dyn-syms -W "$bin" | grep -o 'GLIBC_2\.[0-9.]*' | sort -uV | tail -n1 || true)
if [ -n "$glibc" ]; then
	libcdep="libc6 (>= ${glibc#GLIBC_})"
else
	libcdep="libc6"
fi

# --- package -----------------------------------------------------------------
DIST=${DIST:-dist}
mkdir -p "$DIST"
out=$DIST/rfidgw_${ver}_${ARCH}.deb
rm -f "$out"
echo "deb.sh: packaging $out (depends $libcdep)" >&2
# nfpm.yaml packages dist/stage/rfidgw (nfpm expands no variables in src:);
# the lock keeps two deb.sh runs (amd64 and arm64) from swapping binaries.
mkdir -p dist/stage
exec 9>dist/stage/.lock
flock 9
cp "$bin" dist/stage/rfidgw
RFIDGW_ARCH=$ARCH RFIDGW_VERSION=$ver RFIDGW_DEPENDS_LIBC=$libcdep \
	$NFPM package --config packaging/nfpm.yaml --packager deb --target "$out" >&2
[ -s "$out" ] || die "nfpm did not write $out"
echo "$out"
