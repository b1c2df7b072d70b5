#!/usr/bin/env bash
# systemd-box.sh DEB: install the .deb under a real systemd and check the
# service's life cycle, in throwaway namespaces (pid, mount, net, uts, ipc)
# whose root is an overlay of / on tmpfs: nothing is written to the host's
# files, the network is a private loopback, and the cgroups systemd creates
# are removed afterwards. Needs root, unshare/nsenter, overlayfs and systemd
# installed but not running as PID 1 (a CI container or VM).
#
#   packaging/systemd-box.sh dist/rfidgw_1.2.0_amd64.deb
#
# Checks: dpkg -i creates the user (in dialout) and a root:rfidgw 0640
# conffile, enables and does not start; the service starts (Type=notify,
# STATUS=), runs sandboxed (uid rfidgw, no capabilities, NoNewPrivs,
# seccomp, dialout) and delivers events to a dev Kafka broker; reload; a
# watchdog timeout is restarted; a bad config fails without restart loops;
# upgrade restarts a running service and keeps an edited conffile; remove
# stops and disables; purge keeps /var/lib/rfidgw. Exit 1 if any failed.
set -euo pipefail

die() {
	echo "systemd-box.sh: $*" >&2
	exit 1
}
[ $# -eq 1 ] && [ -f "$1" ] || die "usage: packaging/systemd-box.sh DEB"
[ "$(id -u)" = 0 ] || die "needs root (namespaces, overlayfs)"
# The box's systemd makes its cgroups at the hierarchies' roots, where a host
# systemd keeps its own: only run where PID 1 is something else (CI, VMs).
[ "$(cat /proc/1/comm)" != systemd ] || die "the host runs systemd as PID 1; run this in a VM or container without it"
for t in unshare nsenter /lib/systemd/systemd dpkg-deb curl; do
	command -v "$t" >/dev/null || die "needs $t"
done

cd "$(dirname "$0")/.."
ROOT=$PWD
DEB=$(readlink -f "$1")
BOX=$(mktemp -d /tmp/rfidgw-box.XXXXXX)
fails=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*" >&2
	fails=$((fails + 1))
}

go build -o "$BOX/devkafka" ./cmd/devkafka
# The box's systemd creates cgroups at the hierarchies' roots: remember what
# was there so teardown removes only its own.
cgroups_before=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort)

cat >"$BOX/inner.sh" <<'INNER'
#!/bin/bash
# PID 1 of the new namespaces: build the overlay root, then exec systemd.
set -euo pipefail
BOX=$1 ROOT=$2
mount --make-rprivate /
mkdir -p "$BOX/t" && mount -t tmpfs tmpfs "$BOX/t"
mkdir -p "$BOX/t/upper" "$BOX/t/work" "$BOX/t/root"
R=$BOX/t/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$BOX/t/upper,workdir=$BOX/t/work" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount -o remount,bind,ro "$R/sys" # udev and friends skip a read-only /sys
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0" "ttyS0 4 64"; do
	set -- $n
	mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
touch "$R/dev/console" && mount --bind "$R/dev/null" "$R/dev/console"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/root/box" "$R/usr/share/rfidgw-box"
cp "$BOX/rfidgw.deb" "$R/root/box/"
install -m 0755 "$BOX/devkafka" "$R/usr/local/bin/devkafka"
cp "$ROOT/configs/demo-reads.jsonl" "$R/usr/share/rfidgw-box/"
sed -e 's|data_dir: .*|data_dir: /var/lib/rfidgw|' -e 's|path: configs/|path: /usr/share/rfidgw-box/|' \
	"$ROOT/configs/demo.yaml" >"$R/root/box/good.yaml"
sed 's/kind: gate/kind: gat/' "$R/root/box/good.yaml" >"$R/root/box/bad.yaml"
cat >"$R/etc/systemd/system/devkafka.service" <<'U'
[Service]
ExecStart=/usr/local/bin/devkafka --listen 127.0.0.1:19092 --data-dir /var/lib/devkafka
U
printf '[Unit]\nWants=devkafka.service\n' >"$R/etc/systemd/system/rfidgw-box.target"
# Only what the test needs: no udev, module loading, sysctl, binfmt, clock,
# timers, gettys or other daemons of the host image.
for u in systemd-udevd.service systemd-udev-trigger.service systemd-udevd-control.socket \
	systemd-udevd-kernel.socket systemd-modules-load.service systemd-sysctl.service \
	systemd-binfmt.service proc-sys-fs-binfmt_misc.automount kmod-static-nodes.service \
	systemd-random-seed.service systemd-firstboot.service systemd-repart.service \
	systemd-pcrphase-sysinit.service systemd-pcrphase.service dev-hugepages.mount \
	sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
	sys-fs-fuse-connections.mount systemd-timesyncd.service systemd-pstore.service \
	avahi-daemon.socket avahi-daemon.service dbus.socket dbus.service \
	systemd-tmpfiles-setup-dev.service systemd-tmpfiles-setup.service \
	systemd-ask-password-console.path systemd-machine-id-commit.service timers.target \
	getty.target console-getty.service systemd-logind.service systemd-journald-audit.socket \
	systemd-update-utmp.service systemd-sysusers.service cryptsetup.target remote-fs.target \
	swap.target local-fs.target systemd-remount-fs.service; do
	ln -sf /dev/null "$R/etc/systemd/system/$u"
done
ip link set lo up 2>/dev/null || true
cd "$R"
mkdir -p oldroot
pivot_root . oldroot
umount -l /oldroot
export container=rfidgw-box
exec /lib/systemd/systemd --system --unit=rfidgw-box.target
INNER
chmod +x "$BOX/inner.sh"
cp "$DEB" "$BOX/rfidgw.deb"

unshare --pid --fork --mount --net --uts --ipc --kill-child "$BOX/inner.sh" "$BOX" "$ROOT" >"$BOX/console.log" 2>&1 &
upid=$!
teardown() {
	[ -n "${sd:-}" ] && kill -KILL "$sd" 2>/dev/null
	wait "$upid" 2>/dev/null || true
	# remove the box's cgroups (deepest first), never one that existed before
	comm -13 <(echo "$cgroups_before") <(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort) |
		grep -E '/(init\.scope|[^/]+\.slice|[^/]+\.mount)$' |
		while read -r d; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
	rm -rf "$BOX"
}
trap teardown EXIT

sd=""
for _ in $(seq 100); do
	sd=$(pgrep -P "$upid" -x systemd || true)
	[ -n "$sd" ] && break
	sleep 0.1
done
[ -n "$sd" ] || die "systemd did not start in the box: $(tail -n5 "$BOX/console.log")"
box() { nsenter -t "$sd" -a "$@"; }
for _ in $(seq 300); do
	st=$(box systemctl is-system-running 2>/dev/null || true)
	[[ "$st" == running || "$st" == degraded ]] && break
	sleep 0.1
done
echo "box: systemd $(box systemctl --version | head -n1 | cut -d' ' -f2) is $st"
prop() { box systemctl show rfidgw -p "$1" --value; }
wait_until() { # wait_until SECONDS COMMAND...: poll until the command succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# --- install -------------------------------------------------------------------------
box env DEBIAN_FRONTEND=noninteractive dpkg -i /root/box/rfidgw.deb >"$BOX/dpkg.log" 2>&1 || fail "dpkg -i: $(tail -n3 "$BOX/dpkg.log")"
[[ "$(box id rfidgw 2>&1)" == *"(dialout)"* ]] && ok "install: user rfidgw in dialout" || fail "install: $(box id rfidgw 2>&1)"
[ "$(box stat -c '%U:%G %a' /etc/rfidgw/gateway.yaml)" = "root:rfidgw 640" ] &&
	ok "install: gateway.yaml root:rfidgw 0640" || fail "install: gateway.yaml is $(box stat -c '%U:%G %a' /etc/rfidgw/gateway.yaml)"
[ "$(box systemctl is-enabled rfidgw)" = enabled ] && ok "install: service enabled" || fail "install: not enabled"
[ "$(box systemctl is-active rfidgw || true)" = inactive ] && ok "install: service not started" || fail "install: service was started"

# --- run -----------------------------------------------------------------------------
box sh -c 'cp /root/box/good.yaml /etc/rfidgw/gateway.yaml && mkdir -p /etc/systemd/system/rfidgw.service.d &&
	printf "[Unit]\nAfter=devkafka.service\n" >/etc/systemd/system/rfidgw.service.d/box.conf && systemctl daemon-reload'
if box systemctl start rfidgw; then ok "start: READY=1 received (Type=notify)"; else fail "start failed: $(box journalctl -u rfidgw -o cat | tail -n3)"; fi
status=$(prop StatusText)
[ -n "$status" ] && ok "status: $status" || fail "no STATUS= text"
# Output is captured before grep looks at it: `cmd | grep -q` under pipefail
# fails when grep exits at the first match and cmd dies of SIGPIPE (a long
# journal, e.g. after a watchdog's goroutine dump), so a found line would
# count as missing.
journal() { box journalctl -u rfidgw --no-pager -o cat "$@" 2>/dev/null || true; }
in_journal() { # in_journal PATTERN [journalctl args]: the unit's journal has a line matching PATTERN
	local p=$1 j
	shift
	j=$(journal "$@")
	grep -qE -- "$p" <<<"$j"
}
delivered() { local m; m=$(box curl -sf 127.0.0.1:9870/metrics) && grep -qE '^rfidgw_uplink_delivered_total [1-9]' <<<"$m"; }
wait_until 30 delivered && ok "events delivered to Kafka inside the sandbox" || fail "no event delivered: $(box journalctl -u rfidgw -o cat | tail -n3)"
pst=$(box cat "/proc/$(prop MainPID)/status")
for want in 'NoNewPrivs:\s+1' 'Seccomp:\s+2' 'CapEff:\s+0+$' 'Groups:.*\b20\b' "Uid:\s+$(box id -u rfidgw)\s"; do
	grep -qE "$want" <<<"$pst" && ok "sandbox: $want" || fail "sandbox: no '$want' in /proc/PID/status"
done

box systemctl reload rfidgw
wait_until 10 in_journal 'reload done' &&
	ok "reload: applied" || fail "reload: no 'reload done' in the journal"

# --- journal priorities: `journalctl -p warning` shows warnings and errors only ------
# A bad config on reload is an error line; "reload done" and "gateway running"
# are info lines and must not pass -p warning.
box sh -c 'cp /root/box/bad.yaml /etc/rfidgw/gateway.yaml && systemctl reload rfidgw'
wait_until 10 in_journal 'reload rejected' -p err &&
	ok "journal: a rejected reload is at priority err (journalctl -p err)" ||
	fail "journal: no 'reload rejected' at -p err; priorities: $(box journalctl -u rfidgw -o json | grep -o '"PRIORITY":"[0-9]"' | sort | uniq -c | tr '\n' ' ')"
if in_journal 'gateway running|reload done' -p warning; then
	fail "journal: info lines pass -p warning: $(journal -p warning | grep -E 'gateway running|reload done' | head -n2)"
else
	ok "journal: info lines are not at warning or above"
fi
in_journal 'gateway running' -p info && ok "journal: info lines at priority info" || fail "journal: no 'gateway running' at -p info"
in_journal '^<[0-9]>' && fail "journal: a line kept its <N> prefix: $(journal | grep -m1 '^<[0-9]>')" || ok "journal: lines stored without the <N> prefix"
box cp /root/box/good.yaml /etc/rfidgw/gateway.yaml

# --- watchdog: a stopped process stops pinging -----------------------------------------
box sh -c 'printf "[Service]\nWatchdogSec=4s\nTimeoutAbortSec=3s\n" >/etc/systemd/system/rfidgw.service.d/wd.conf && systemctl daemon-reload && systemctl restart rfidgw'
sleep 6 # longer than WatchdogSec: the pings keep it alive
[ "$(prop NRestarts)" = 0 ] && ok "watchdog: pings keep a healthy daemon alive" || fail "watchdog: restarted while healthy"
box kill -STOP "$(prop MainPID)"
# journald may file systemd's own line a moment after NRestarts counts up.
if ! wait_until 30 sh -c "[ \"\$(nsenter -t $sd -a systemctl show rfidgw -p NRestarts --value)\" -ge 1 ]"; then
	fail "watchdog: no restart after the pings stopped (NRestarts $(prop NRestarts))"
elif wait_until 10 in_journal "Failed with result 'watchdog'"; then
	ok "watchdog: a stalled daemon is killed and restarted"
else
	fail "watchdog: restarted, but no \"Failed with result 'watchdog'\" in the journal: $(journal | grep -v '^goroutine\|^\s' | tail -n3)"
fi
wait_until 15 sh -c "[ \"\$(nsenter -t $sd -a systemctl is-active rfidgw)\" = active ]" || fail "watchdog: not active again"

# --- bad config ------------------------------------------------------------------------
box sh -c 'rm /etc/systemd/system/rfidgw.service.d/wd.conf; systemctl daemon-reload; cp /root/box/bad.yaml /etc/rfidgw/gateway.yaml'
box systemctl restart rfidgw 2>/dev/null && fail "bad config: start succeeded"
restarts=$(prop NRestarts)
sleep 7 # longer than RestartSec
[ "$(prop ActiveState)" = failed ] && [ "$(prop ExecMainStatus)" = 2 ] && [ "$(prop NRestarts)" = "$restarts" ] &&
	ok "bad config: exit 2, failed, not restarted" || fail "bad config: state $(prop ActiveState), status $(prop ExecMainStatus), restarts $(prop NRestarts)"
# Each config problem reaches the journal as an error, with its file and line.
in_journal '/etc/rfidgw/gateway.yaml:[0-9]+: zones\[[0-9]+\]\.kind' -p err &&
	ok "bad config: the problem is in the journal at priority err, with file and line" ||
	fail "bad config: no 'rfidgw: /etc/rfidgw/gateway.yaml:LINE: zones[i].kind' at -p err: $(journal -p err | tail -n3)"

# --- upgrade, remove, purge --------------------------------------------------------------
box sh -c 'cp /root/box/good.yaml /etc/rfidgw/gateway.yaml; systemctl start rfidgw'
before=$(prop MainPID)
box env DEBIAN_FRONTEND=noninteractive dpkg -i /root/box/rfidgw.deb >"$BOX/dpkg.log" 2>&1 || fail "reinstall: $(tail -n3 "$BOX/dpkg.log")"
after=$(prop MainPID)
[ "$after" != "$before" ] && [ "$(box systemctl is-active rfidgw)" = active ] &&
	ok "upgrade: running service restarted (pid $before -> $after)" || fail "upgrade: pid $before -> $after"
box cmp -s /root/box/good.yaml /etc/rfidgw/gateway.yaml && ok "upgrade: edited conffile kept" || fail "upgrade: conffile replaced"
box dpkg -r rfidgw >/dev/null 2>&1
[ "$(box systemctl is-active rfidgw || true)" = inactive ] && ! box test -e /etc/systemd/system/multi-user.target.wants/rfidgw.service &&
	ok "remove: stopped and disabled" || fail "remove: still active or enabled"
box dpkg -P rfidgw >/dev/null 2>&1
! box test -e /etc/rfidgw/gateway.yaml && box test -s /var/lib/rfidgw/buffer.db &&
	ok "purge: conffile gone, buffer in /var/lib/rfidgw kept" || fail "purge: conffile or buffer wrong"

if [ "$fails" -ne 0 ]; then
	echo "systemd-box.sh: $fails check(s) FAILED" >&2
	exit 1
fi
echo "systemd-box.sh: all checks passed"
