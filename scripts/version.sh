#!/usr/bin/env bash
# version.sh: print rfidgw's version, the one string that the binary
# (`rfidgw version`, `--version`, rfidgw_build_info), the .deb (Version:,
# file name) and the Makefile all use. From VERSION if set, else git describe,
# made Debian-valid: Debian versions start with a digit and here use only
# [0-9A-Za-z.+~] (a '-' would be read as the Debian revision):
#   v1.2.0 -> 1.2.0    v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234
#   86bca30-dirty -> 0.0.0+git.86bca30.dirty    (no tag) dev -> 0.0.0+git.dev
set -euo pipefail
cd "$(dirname "$0")/.."
raw=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ver=${raw#v}
if [[ "$ver" =~ ^[0-9]+\.[0-9]+ ]]; then # a release tag (a bare hash may start with a digit too)
	ver=${ver/-/+}
else
	ver="0.0.0+git.$ver"
fi
ver=$(printf '%s' "$ver" | tr -c '0-9A-Za-z.+~' '.')
if ! [[ "$ver" =~ ^[0-9][0-9A-Za-z.+~]*$ ]]; then
	echo "version.sh: cannot make a Debian version from VERSION='$raw'" >&2
	exit 1
fi
echo "$ver"
