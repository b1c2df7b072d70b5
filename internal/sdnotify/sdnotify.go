// Package sdnotify owns rfidgw's side of the systemd service notification
// protocol (sd_notify(3)): telling the service manager that the daemon is
// ready, reloading or stopping, publishing a one-line STATUS=, and sending
// watchdog keep-alives only while the pipeline makes progress.
//
// It is a few lines of our own instead of a dependency: a notification is a
// single unixgram datagram of newline-separated VAR=value assignments sent to
// the socket named by $NOTIFY_SOCKET (a path, or an abstract name starting
// with '@'). When $NOTIFY_SOCKET is unset (not started by systemd, or
// Type= is not notify) every call is a cheap no-op that returns false.
//
// Wiring in `rfidgw run` (the lead's side):
//
//	status := func() string {
//		st := gw.Queue().Stats()
//		return sdnotify.StatusLine(gw.ReadersOnline(), int64(st.Events), st.OldestAge)
//	}
//	// once the buffer is open and the pipeline goroutines run:
//	sdnotify.Ready(status())
//	if d, ok := sdnotify.WatchdogInterval(); ok {
//		go sdnotify.NewWatchdog(d, gw.Ready, status).WithLogger(log).Run(ctx)
//	}
//	// on SIGHUP: sdnotify.Reloading(), reload, then sdnotify.Ready(status())
//	// whether the reload was accepted or rejected (READY=1 ends "reloading").
//	// on SIGTERM/SIGINT, before closing the buffer: sdnotify.Stopping()
//
// Without a watchdog (WatchdogSec= unset, or not under systemd) call
// sdnotify.Status(status()) now and then instead, or not at all.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Notify sends state (one or more newline-separated VAR=value assignments,
// e.g. "READY=1\nSTATUS=running") to $NOTIFY_SOCKET. It returns false, nil
// when $NOTIFY_SOCKET is unset, true, nil once the datagram was sent.
func Notify(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	// Abstract sockets: Go's net package maps a leading '@' to the NUL
	// byte of the Linux abstract namespace, which is what systemd means.
	if addr[0] != '/' && addr[0] != '@' {
		// systemd ≥ 254 can also pass vsock:CID:PORT (VMs); rfidgw runs
		// on the host, so say clearly that it is not supported.
		return false, fmt.Errorf("%w: %q (want an absolute path or @abstract name)", ErrBadSocket, addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("%w: NOTIFY_SOCKET=%s: %w", ErrSend, addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("%w: NOTIFY_SOCKET=%s: %w", ErrSend, addr, err)
	}
	return true, nil
}

// maxStatusBytes caps the STATUS= text. systemd ignores a whole datagram of
// PIPE_BUF (4096) bytes or more, so a long error text would otherwise also
// drop the WATCHDOG=1 sent with it and get a healthy daemon killed.
const maxStatusBytes = 512

// statusAssignment renders STATUS=<s> on one line: a newline inside s would
// otherwise start a new assignment (e.g. a reader id "x\nREADY=1" could fake
// readiness), so newlines and other control characters become spaces. Text
// beyond maxStatusBytes is cut at a character boundary and marked with "…".
func statusAssignment(s string) string {
	// Map first: it turns invalid UTF-8 bytes into 3-byte U+FFFD.
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxStatusBytes {
		cut := maxStatusBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return "STATUS=" + s
}

// Ready tells systemd that start-up is complete (READY=1) with a status line.
// Send it only once the buffer is open and the pipeline runs: systemd holds
// `systemctl start` and ordered units until then.
func Ready(status string) (bool, error) {
	return Notify("READY=1\n" + statusAssignment(status))
}

// Status updates the one-line status shown by `systemctl status rfidgw`.
func Status(status string) (bool, error) {
	return Notify(statusAssignment(status))
}

// Reloading tells systemd a reload started (RELOADING=1 with the
// MONOTONIC_USEC systemd ≥ 253 requires); send Ready again when it is done.
// Under Type=notify with ExecReload=kill -HUP this is informational: the
// unit shows "reloading" until the next READY=1.
func Reloading() (bool, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return false, fmt.Errorf("%w: clock_gettime(CLOCK_MONOTONIC): %w", ErrSend, err)
	}
	usec := ts.Nano() / 1000
	return Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// Stopping tells systemd that the daemon is shutting down (STOPPING=1), so a
// slow buffer flush is shown as "deactivating" and not mistaken for a hang.
func Stopping() (bool, error) {
	return Notify("STOPPING=1")
}

// WatchdogInterval reports the watchdog timeout systemd expects keep-alives
// within ($WATCHDOG_USEC, set from WatchdogSec=) and whether the watchdog is
// enabled for this process: $WATCHDOG_PID, when set, must be our pid (the
// variable may have leaked to a child). Malformed or zero values mean
// "not enabled": systemd never sets them so, and pinging anyway is harmless.
func WatchdogInterval() (time.Duration, bool) {
	usecStr := os.Getenv("WATCHDOG_USEC")
	if usecStr == "" {
		return 0, false
	}
	usec, err := strconv.ParseUint(usecStr, 10, 63)
	if err != nil || usec == 0 || usec > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, false
	}
	if pidStr := os.Getenv("WATCHDOG_PID"); pidStr != "" {
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(usec) * time.Microsecond, true
}
