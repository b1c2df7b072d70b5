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
#  - the packaged daemon runs under MemoryDenyWriteExecute (prctl MDWE) and
#    delivers events to a dev Kafka broker through librdkafka
#  - a watchdog SIGABRT leaves a goroutine dump and an exit status that
#    Restart=on-failure restarts (not RestartPreventExitStatus=2)
#  - sd_notify under a fake NOTIFY_SOCKET: READY=1, WATCHDOG=1 pings,
#    RELOADING=1/READY=1 on SIGHUP, STOPPING=1 on SIGTERM
#  - opt-in DEB_TEST_SYSTEMD=1: install, run, watchdog, reload, upgrade and
#    remove under a real systemd in throwaway namespaces (packaging/systemd-box.sh)
#  - opt-in DEB_TEST_ARM64=1: the arm64 package too (run under qemu if present)
# RFIDGW_BIN=path packages a prebuilt amd64 binary instead of building one;
# KEEP_TMP=1 keeps the work directory (logs) for a look after a failure.
# Exits non-zero if any check failed. Steps whose tool is missing are
# skipped with a message. Runs in well under 2 minutes with a warm build cache.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

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
same() { # same PACKAGED REPO
	if cmp -s "$TMP/root$1" "$2"; then ok "packaged $1 is $2"; else fail "packaged $1 differs from $2"; fi
}
same /lib/systemd/system/rfidgw.service systemd/rfidgw.service
same /usr/lib/sysusers.d/rfidgw.conf systemd/rfidgw.sysusers
same /etc/rfidgw/gateway.yaml configs/example.yaml
same /usr/share/doc/rfidgw/install.md docs/install.md
same /usr/share/rfidgw/monitoring/rfidgw-alerts.yml packaging/monitoring/rfidgw-alerts.yml
same /usr/share/rfidgw/monitoring/rfidgw-dashboard.json packaging/monitoring/rfidgw-dashboard.json

# --- binary ---------------------------------------------------------------------
if [ -n "${RFIDGW_BIN:-}" ]; then
	skip "version stamp: RFIDGW_BIN=$RFIDGW_BIN was built elsewhere"
elif out=$("$TMP/root/usr/bin/rfidgw" version 2>&1) && [[ "$out" == "rfidgw $VER_DEB "* ]]; then
	ok "packaged binary runs: $out"
else
	fail "packaged 'rfidgw version' printed '$out', want it to start with 'rfidgw $VER_DEB ' (the package's version)"
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
# shellcheck disable=SC2016 # a literal $MAINPID
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

# demo_config BROKER DATA_DIR: configs/demo.yaml (make demo) with this Kafka
# broker and buffer dir, HTTP on a free port, the reads played once at full speed.
demo_config() {
	sed -e "s|127.0.0.1:19092|$1|" -e 's|listen: .*|listen: 127.0.0.1:0|' \
		-e "s|data_dir: .*|data_dir: $2|" -e "s|path: configs/|path: $ROOT/configs/|" \
		-e 's|speed: .*|speed: 0|' -e 's|loop: true|loop: false|' configs/demo.yaml
}

# --- the packaged daemon under MemoryDenyWriteExecute= ----------------------------
# The unit sets MemoryDenyWriteExecute=yes; systemd (Linux >= 6.3) applies it
# with prctl(PR_SET_MDWE). Run the packaged daemon so restricted, with cgo's
# librdkafka producing to a dev Kafka broker, and read the events back.
mdwe_smoke() {
	command -v cc >/dev/null || { skip "MDWE smoke: no C compiler (apt-get install gcc)"; return; }
	cat >"$TMP/mdwe.c" <<'CEOF'
#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	if (prctl(65 /* PR_SET_MDWE */, 1 /* PR_MDWE_REFUSE_EXEC_GAIN */, 0, 0, 0) != 0) { perror("prctl(PR_SET_MDWE)"); return 3; }
	execvp(argv[1], argv + 1);
	perror("execvp");
	return 1;
}
CEOF
	cc -O2 -o "$TMP/mdwe" "$TMP/mdwe.c" || { fail "MDWE smoke: cannot compile the helper"; return; }
	local rc=0
	"$TMP/mdwe" /bin/true 2>/dev/null || rc=$?
	if [ "$rc" -eq 3 ]; then skip "MDWE smoke: kernel $(uname -r) has no PR_SET_MDWE (needs 6.3+)"; return; fi
	go build -o "$TMP/devkafka" ./cmd/devkafka || { fail "MDWE smoke: cannot build cmd/devkafka"; return; }
	"$TMP/devkafka" --listen 127.0.0.1:0 --addr-file "$TMP/kaddr" --data-dir "$TMP/kdata" 2>"$TMP/devkafka.log" &
	local kpid=$!
	for _ in $(seq 100); do [ -s "$TMP/kaddr" ] && break; sleep 0.1; done
	local kaddr
	kaddr=$(cat "$TMP/kaddr" 2>/dev/null) || true
	if [ -z "$kaddr" ]; then
		fail "MDWE smoke: devkafka did not start: $(tail -n3 "$TMP/devkafka.log")"
		kill "$kpid" 2>/dev/null || true
		return
	fi
	demo_config "$kaddr" "$TMP/gwdata" >"$TMP/gw.yaml"
	"$TMP/mdwe" "$TMP/root/usr/bin/rfidgw" run --config "$TMP/gw.yaml" --log-format text 2>"$TMP/gw.log" &
	local gpid=$!
	local got
	got=$(timeout 60 "$TMP/root/usr/bin/rfidgw" tail --brokers "$kaddr" --topic rfid.movements \
		--from-beginning --count 3 2>/dev/null | grep -c '"schema":1') || true
	kill -TERM "$gpid" 2>/dev/null || true
	rc=0
	wait "$gpid" || rc=$?
	kill "$kpid" 2>/dev/null || true
	wait "$kpid" 2>/dev/null || true
	if [ "$got" = 3 ] && [ "$rc" -eq 0 ]; then
		ok "packaged daemon under MemoryDenyWriteExecute delivered events to Kafka and stopped cleanly"
	else
		fail "MDWE smoke: read $got/3 events back, daemon exit $rc; its log: $(tail -n5 "$TMP/gw.log")"
	fi
}
mdwe_smoke

# --- a watchdog kill is restarted -------------------------------------------------
# After WatchdogSec= systemd sends SIGABRT; Restart=on-failure restarts the
# daemon unless its exit status is in RestartPreventExitStatus= (bad config).
# Run the packaged daemon with the unit's Environment= (Kafka unreachable: it
# keeps running and buffering), abort it, and check the status it dies with.
watchdog_kill_check() {
	local envs prevent
	envs=$(sed -n 's/^Environment=//p' "$TMP/root/lib/systemd/system/rfidgw.service")
	prevent=$(sed -n 's/^RestartPreventExitStatus=//p' "$TMP/root/lib/systemd/system/rfidgw.service")
	demo_config 127.0.0.1:9 "$TMP/abortdata" >"$TMP/abort.yaml"
	# shellcheck disable=SC2086 # one VAR=value per word
	(ulimit -c 0 && exec env $envs "$TMP/root/usr/bin/rfidgw" run --config "$TMP/abort.yaml" --log-format text) 2>"$TMP/abort.log" &
	local pid=$!
	for _ in $(seq 100); do grep -q 'gateway running' "$TMP/abort.log" && break; sleep 0.1; done
	if ! grep -q 'gateway running' "$TMP/abort.log"; then
		fail "watchdog kill check: daemon did not start: $(tail -n3 "$TMP/abort.log")"
		kill "$pid" 2>/dev/null || true
		return
	fi
	kill -ABRT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	if [ "$rc" -lt 128 ] && grep -qw -- "$rc" <<<"$prevent"; then
		fail "after SIGABRT the daemon exits $rc, which RestartPreventExitStatus=$prevent blocks: a watchdog kill would not be restarted (set GOTRACEBACK=crash)"
	else
		ok "a watchdog SIGABRT ends the daemon with status $rc, which Restart=on-failure restarts"
	fi
	local dumped
	dumped=$(grep -cE '^goroutine [0-9]+ ' "$TMP/abort.log" || true)
	if [ "$dumped" -ge 2 ]; then
		ok "the SIGABRT leaves a dump of all $dumped goroutines in the log"
	else
		fail "no goroutine dump after SIGABRT: $(tail -n3 "$TMP/abort.log")"
	fi
}
watchdog_kill_check

# --- sd_notify as systemd sees it ----------------------------------------------
# The packaged daemon under a fake NOTIFY_SOCKET with a 2 s watchdog: READY=1
# with a status, WATCHDOG=1 pings, RELOADING=1 + READY=1 on SIGHUP, STOPPING=1
# on SIGTERM. python3 plays systemd's end of the socket.
notify_check() {
	if ! command -v python3 >/dev/null; then skip "sd_notify check: no python3"; return; fi
	local sock="$TMP/notify.sock"
	python3 - "$sock" "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w", buffering=1) as log:
    log.write("BOUND\n")
    try:
        while True:
            msg = s.recv(4096).decode()
            log.write(msg.replace("\n", "|") + "\n")
            if msg.startswith("STOPPING=1"):
                break
    except socket.timeout:
        pass
PY
	local rpid=$!
	for _ in $(seq 100); do grep -q BOUND "$TMP/notify.log" 2>/dev/null && break; sleep 0.1; done
	demo_config 127.0.0.1:9 "$TMP/notifydata" >"$TMP/notify.yaml"
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 \
		"$TMP/root/usr/bin/rfidgw" run --config "$TMP/notify.yaml" --log-format json 2>"$TMP/notify-gw.log" &
	local gpid=$!
	wait_for() { # wait_for SED-RANGE-START PATTERN COUNT: COUNT matching lines from START on, within 30 s
		for _ in $(seq 300); do
			[ "$(sed -n "/$1/,\$p" "$TMP/notify.log" | grep -cE -- "$2")" -ge "$3" ] && return 0
			sleep 0.1
		done
		return 1
	}
	wait_for '^' '^WATCHDOG=1' 1 || true
	kill -HUP "$gpid" 2>/dev/null || true
	# two pings after the reload: the watchdog goes on across it
	wait_for '^RELOADING=1' '^WATCHDOG=1' 2 || true
	kill -TERM "$gpid" 2>/dev/null || true
	wait "$gpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
	local log
	log=$(grep -v '^BOUND$' "$TMP/notify.log")
	if ! grep -qE '^READY=1\|STATUS=.' <<<"$(head -n1 <<<"$log")"; then
		fail "sd_notify: first message is not READY=1 with a status: $(head -n1 <<<"$log")"
	else
		ok "sd_notify: READY=1 first, with $(head -n1 <<<"$log" | sed 's/^READY=1|//')"
	fi
	local pings
	pings=$(grep -c '^WATCHDOG=1|STATUS=' <<<"$log" || true)
	if [ "$pings" -ge 3 ]; then ok "sd_notify: $pings WATCHDOG=1 pings with STATUS=, also after the reload"; else fail "sd_notify: $pings watchdog pings, want >= 3 (1 before, 2 after SIGHUP): $log"; fi
	if grep -A1 -E '^RELOADING=1\|MONOTONIC_USEC=' <<<"$log" | tail -n1 | grep -q '^READY=1|'; then
		ok "sd_notify: SIGHUP sends RELOADING=1, then READY=1"
	else
		fail "sd_notify: no RELOADING=1 followed by READY=1 after SIGHUP: $log"
	fi
	if [ "$(tail -n1 <<<"$log")" = "STOPPING=1" ]; then ok "sd_notify: STOPPING=1 last on SIGTERM"; else fail "sd_notify: last message '$(tail -n1 <<<"$log")', want STOPPING=1"; fi
}
notify_check

# --- under a real systemd (opt-in: DEB_TEST_SYSTEMD=1; root, PID 1 not systemd) ----
if [ "${DEB_TEST_SYSTEMD:-}" = 1 ]; then
	if packaging/systemd-box.sh "$deb"; then ok "life cycle under a real systemd (packaging/systemd-box.sh)"; else fail "packaging/systemd-box.sh"; fi
else
	skip "life cycle under a real systemd: set DEB_TEST_SYSTEMD=1 (root; host PID 1 must not be systemd)"
fi

# --- arm64 (opt-in: DEB_TEST_ARM64=1; needs gcc-aarch64-linux-gnu) ---------------
if [ "${DEB_TEST_ARM64:-}" = 1 ]; then
	if deb64=$(VERSION=$VER_RAW DIST=$TMP/dist scripts/deb.sh arm64 | tail -n1) && [ -s "$deb64" ]; then
		need "$(dpkg-deb -I "$deb64")" '^ Architecture: arm64$' "arm64 package built: $(basename "$deb64")"
		dpkg-deb -x "$deb64" "$TMP/root64"
		need "$(readelf -h "$TMP/root64/usr/bin/rfidgw")" 'Machine: +AArch64' "arm64 package holds an AArch64 binary"
		if command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu ]; then
			need "$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$TMP/root64/usr/bin/rfidgw" version 2>&1)" "${VER_DEB//+/\\+}" "arm64 binary runs under qemu-aarch64"
		else
			skip "running the arm64 binary: no qemu-aarch64 (apt-get install qemu-user)"
		fi
	else
		fail "deb.sh arm64 failed"
	fi
else
	skip "arm64 package: set DEB_TEST_ARM64=1 to build and check it"
fi

# --- deb.sh error paths -----------------------------------------------------------------
if err=$(env -u RFIDGW_BIN scripts/deb.sh sparc 2>&1); then
	fail "deb.sh sparc succeeded"
else
	need "$err" "unsupported ARCH 'sparc'" "deb.sh rejects an unknown ARCH"
fi
if err=$(env -u RFIDGW_BIN CC=no-such-aarch64-linux-gnu-gcc DIST="$TMP/dist" scripts/deb.sh arm64 2>&1); then
	fail "deb.sh arm64 succeeded without a cross compiler"
else
	need "$err" 'apt-get install gcc-aarch64-linux-gnu' "deb.sh arm64 without a cross compiler says what to install"
fi

if [ "$fails" -ne 0 ]; then
	echo "deb_test.sh: $fails check(s) FAILED" >&2
	exit 1
fi
echo "deb_test.sh: all checks passed"
