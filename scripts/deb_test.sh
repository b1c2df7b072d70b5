#!/usr/bin/env bash
# deb_test.sh: build the amd64 .deb with scripts/deb.sh and check it:
#  - control data (name, version, arch, libc dependency) and file list with modes
#  - /etc/rfidgw/gateway.yaml is a conffile; the unit and config are the repo's
#  - the packaged binary runs and carries the version
#  - postinst creates the user and enables but never starts the service;
#    prerm stops/disables on remove only (run with stub systemctl & co.)
#  - the sysusers.d file creates rfidgw in dialout (systemd-sysusers --root)
#  - the unit passes `systemd-analyze verify` and a security exposure ceiling
#  - deb.sh refuses a bad ARCH and names the package of a missing cross compiler
# Exits non-zero on the first failure. Steps whose tool is missing are
# skipped with a message. Runs in well under 2 minutes with a warm build cache.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fails=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*" >&2
	fails=$((fails + 1))
}
skip() { echo "skip $*"; }
need() { # need FILE-CONTENT PATTERN WHAT
	if grep -qE -- "$2" <<<"$1"; then ok "$3"; else fail "$3 (no line matching '$2')"; fi
}
never() { # never CONTENT PATTERN WHAT
	if grep -qE -- "$2" <<<"$1"; then
		fail "$3: $(grep -E -- "$2" <<<"$1" | head -n3 | tr '\n' ' ')"
	else ok "$3"; fi
}

for tool in dpkg-deb readelf; do
	command -v "$tool" >/dev/null || { echo "deb_test.sh: $tool is required (apt-get install dpkg binutils)" >&2; exit 1; }
done

# --- build ---------------------------------------------------------------------
VER_RAW=1.2.3-4-gdeadbee
VER_DEB=1.2.3+4.gdeadbee
deb=$(VERSION=$VER_RAW DIST=$TMP/dist scripts/deb.sh amd64 | tail -n1)
if [ "$deb" = "$TMP/dist/rfidgw_${VER_DEB}_amd64.deb" ] && [ -s "$deb" ]; then
	ok "deb.sh wrote $(basename "$deb")"
else
	fail "deb.sh printed '$deb', want $TMP/dist/rfidgw_${VER_DEB}_amd64.deb"
	exit 1
fi

# --- control data ---------------------------------------------------------------
info=$(dpkg-deb -I "$deb")
need "$info" '^ Package: rfidgw$' "control: Package"
need "$info" "^ Version: ${VER_DEB//+/\\+}$" "control: Version is Debian-valid"
need "$info" '^ Architecture: amd64$' "control: Architecture"
need "$info" '^ Depends: libc6 \(>= 2\.[0-9]+\)$' "control: Depends on the glibc the binary needs"
need "$info" ' postinst ' "control: postinst present"
need "$info" ' prerm ' "control: prerm present"
dpkg-deb -e "$deb" "$TMP/control"
if [ "$(cat "$TMP/control/conffiles")" = "/etc/rfidgw/gateway.yaml" ]; then
	ok "conffiles: exactly /etc/rfidgw/gateway.yaml"
else
	fail "conffiles: got '$(cat "$TMP/control/conffiles")', want /etc/rfidgw/gateway.yaml"
fi

# --- file list ------------------------------------------------------------------
list=$(dpkg-deb -c "$deb")
need "$list" '^-rwxr-xr-x root/root .* \./usr/bin/rfidgw$' "file: /usr/bin/rfidgw 0755"
need "$list" '^-rw-r--r-- root/root .* \./lib/systemd/system/rfidgw\.service$' "file: unit"
need "$list" '^-rw-r--r-- root/root .* \./usr/lib/sysusers\.d/rfidgw\.conf$' "file: sysusers.d"
need "$list" '^-rw-r--r-- root/root .* \./usr/lib/modules-load\.d/rfidgw\.conf$' "file: modules-load.d"
need "$list" '^-rw-r----- root/root .* \./etc/rfidgw/gateway\.yaml$' "file: gateway.yaml 0640 (may hold credentials)"
need "$list" ' \./usr/share/doc/rfidgw/install\.md$' "file: install.md"
need "$list" ' \./usr/share/doc/rfidgw/examples/gateway\.yaml$' "file: example config"
never "$list" ' \./var/lib/rfidgw' "no /var/lib/rfidgw in the package (StateDirectory= creates it; upgrades never touch the buffer)"

dpkg-deb -x "$deb" "$TMP/root"
cmp -s "$TMP/root/lib/systemd/system/rfidgw.service" systemd/rfidgw.service &&
	ok "packaged unit is systemd/rfidgw.service" || fail "packaged unit differs from systemd/rfidgw.service"
cmp -s "$TMP/root/etc/rfidgw/gateway.yaml" configs/example.yaml &&
	ok "packaged gateway.yaml is configs/example.yaml" || fail "packaged gateway.yaml differs from configs/example.yaml"

# --- binary ---------------------------------------------------------------------
if out=$("$TMP/root/usr/bin/rfidgw" version 2>&1) && [[ "$out" == *"$VER_RAW"* ]]; then
	ok "packaged binary runs: $out"
else
	fail "packaged 'rfidgw version' printed '$out', want it to contain $VER_RAW"
fi

# --- maintainer scripts, with stubs that log instead of acting --------------------
# stub/ has every command the scripts may run; stub-nosysusers/ lacks
# systemd-sysusers (a box without systemd). getent says "no such user".
mkdir -p "$TMP/stub" "$TMP/stub-nosysusers"
for c in systemctl systemd-sysusers getent useradd usermod chgrp chmod install; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n%s\n' "$c" "$TMP" \
		"$([ "$c" = getent ] && echo 'exit 2' || echo 'exit 0')" >"$TMP/stub/$c"
	chmod +x "$TMP/stub/$c"
	[ "$c" = systemd-sysusers ] || cp "$TMP/stub/$c" "$TMP/stub-nosysusers/$c"
done
run_script() { # run_script NAME PATH ARGS...: the calls it made
	local name=$1 path=$2
	shift 2
	: >"$TMP/calls"
	PATH=$path /bin/sh "$TMP/control/$name" "$@" || fail "$name $* exited $?"
	cat "$TMP/calls"
}
calls=$(run_script postinst "$TMP/stub:$PATH" configure "")
need "$calls" '^systemd-sysusers /usr/lib/sysusers\.d/rfidgw\.conf$' "postinst (install): creates the user with systemd-sysusers"
need "$calls" '^systemctl enable rfidgw\.service$' "postinst (install): enables the service"
never "$calls" '^systemctl .*(start|restart|--now)' "postinst (install): does not start the service"
if [ -d /var/lib/rfidgw ]; then
	skip "postinst state dir: /var/lib/rfidgw exists on this machine"
else
	need "$calls" '^install -d -o rfidgw -g rfidgw -m 0750 /var/lib/rfidgw$' "postinst (install): creates /var/lib/rfidgw owned by rfidgw"
fi
calls=$(run_script postinst "$TMP/stub-nosysusers" configure "")
need "$calls" '^useradd --system .*rfidgw$' "postinst (no systemd-sysusers): falls back to useradd"
need "$calls" '^usermod --append --groups dialout rfidgw$' "postinst (no systemd-sysusers): adds rfidgw to dialout"
calls=$(run_script postinst "$TMP/stub:$PATH" configure 1.0.0)
never "$calls" '^systemctl (enable|start|restart)' "postinst (upgrade): keeps the admin's enable/disable, starts nothing"
calls=$(run_script prerm "$TMP/stub:$PATH" remove)
need "$calls" '^systemctl disable rfidgw\.service$' "prerm (remove): disables the service"
calls=$(run_script prerm "$TMP/stub:$PATH" upgrade 1.2.4)
never "$calls" '^systemctl' "prerm (upgrade): leaves the service alone"

# --- sysusers.d -------------------------------------------------------------------
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$TMP/sysroot/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$TMP/sysroot/etc/passwd"
	printf 'root:x:0:\ndialout:x:20:\n' >"$TMP/sysroot/etc/group"
	systemd-sysusers --root="$TMP/sysroot" "$TMP/root/usr/lib/sysusers.d/rfidgw.conf" 2>/dev/null
	need "$(cat "$TMP/sysroot/etc/passwd")" '^rfidgw:x:[0-9]+:[0-9]+:RFID edge gateway:/var/lib/rfidgw:' "sysusers: creates user rfidgw"
	need "$(cat "$TMP/sysroot/etc/group")" '^dialout:x:20:rfidgw$' "sysusers: rfidgw is in dialout"
else
	skip "sysusers check: systemd-sysusers not installed"
fi

# --- the unit -------------------------------------------------------------------------
unit=$(cat "$TMP/root/lib/systemd/system/rfidgw.service")
need "$unit" '^Type=notify$' "unit: Type=notify"
need "$unit" '^ExecStart=/usr/bin/rfidgw run --config /etc/rfidgw/gateway\.yaml --log-format json$' "unit: ExecStart"
need "$unit" '^ExecReload=/bin/kill -HUP \$MAINPID$' "unit: ExecReload sends SIGHUP"
need "$unit" '^WatchdogSec=30s$' "unit: WatchdogSec"
need "$unit" '^Restart=on-failure$' "unit: Restart=on-failure (covers the watchdog)"
need "$unit" '^User=rfidgw$' "unit: User"
need "$unit" '^SupplementaryGroups=dialout$' "unit: dialout"
need "$unit" '^DevicePolicy=closed$' "unit: DevicePolicy=closed"
need "$unit" '^DeviceAllow=char-ttyUSB rw$' "unit: DeviceAllow ttyUSB"
if command -v systemd-analyze >/dev/null; then
	# verify insists that ExecStart's binary exists: point it at the extracted one.
	mkdir -p "$TMP/unit"
	sed "s|/usr/bin/rfidgw|$TMP/root/usr/bin/rfidgw|" "$TMP/root/lib/systemd/system/rfidgw.service" >"$TMP/unit/rfidgw.service"
	if vout=$(systemd-analyze verify "$TMP/unit/rfidgw.service" 2>&1) &&
		! grep -qiE 'unknown|invalid|failed|ignoring|deprecated' <<<"$vout"; then
		ok "systemd-analyze verify"
	else
		fail "systemd-analyze verify: $vout"
	fi
	if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
		# Exposure 0..10 (x10 for --threshold); the unit scores about 1.8.
		if sout=$(systemd-analyze security --offline=yes --threshold=30 "$TMP/unit/rfidgw.service" 2>&1); then
			ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' <<<"$sout")"
		else
			fail "systemd-analyze security above 3.0: $(grep -E 'Overall|✗' <<<"$sout")"
		fi
	else
		skip "security exposure check: this systemd-analyze has no --offline (needs systemd >= 250)"
	fi
else
	skip "systemd-analyze verify: systemd-analyze not installed (apt-get install systemd)"
fi

# --- deb.sh error paths -----------------------------------------------------------------
if err=$(scripts/deb.sh sparc 2>&1); then
	fail "deb.sh sparc succeeded"
else
	need "$err" "unsupported ARCH 'sparc'" "deb.sh rejects an unknown ARCH"
fi
if err=$(CC=no-such-aarch64-linux-gnu-gcc DIST=$TMP/dist scripts/deb.sh arm64 2>&1); then
	fail "deb.sh arm64 succeeded without a cross compiler"
else
	need "$err" 'apt-get install gcc-aarch64-linux-gnu' "deb.sh arm64 without a cross compiler says what to install"
fi

if [ "$fails" -ne 0 ]; then
	echo "deb_test.sh: $fails check(s) FAILED" >&2
	exit 1
fi
echo "deb_test.sh: all checks passed"
