package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// fakeSystemd is the receiving end of $NOTIFY_SOCKET, as systemd holds it.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

// listenNotify binds a unixgram socket (a path in t.TempDir(), or an abstract
// name when abstract) and points $NOTIFY_SOCKET at it.
func listenNotify(t *testing.T, abstract bool) *fakeSystemd {
	t.Helper()
	var name string
	if abstract {
		name = fmt.Sprintf("@rfidgw-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	} else {
		name = filepath.Join(t.TempDir(), "notify.sock")
		if len(name) >= 108 { // sun_path limit
			dir, err := os.MkdirTemp("", "sdn")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			name = filepath.Join(dir, "notify.sock")
		}
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return &fakeSystemd{t: t, conn: conn}
}

// recv returns the next datagram; the deadline only guards against a hang.
func (f *fakeSystemd) recv() string {
	f.t.Helper()
	buf := make([]byte, 4096)
	if err := f.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	n, _, err := f.conn.ReadFromUnix(buf)
	if err != nil {
		f.t.Fatalf("no notification arrived: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyWithoutSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	sent, err := Notify("READY=1")
	if sent || err != nil {
		t.Fatalf("Notify without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
	if sent, err := Ready("x"); sent || err != nil {
		t.Fatalf("Ready without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}

func TestNotifyPathSocket(t *testing.T) {
	sd := listenNotify(t, false)
	// systemd (NotifyAccess=main, the Type=notify default) reads the
	// sender's pid from SCM_CREDENTIALS and drops messages not from the
	// main pid: receive the same way and check it is ours.
	raw, err := sd.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil || serr != nil {
		t.Fatalf("SO_PASSCRED: %v %v", err, serr)
	}
	sent, err := Notify("READY=1\nSTATUS=hello")
	if !sent || err != nil {
		t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
	}
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	if err := sd.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, oobn, _, _, err := sd.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("no notification arrived: %v", err)
	}
	if got := string(buf[:n]); got != "READY=1\nSTATUS=hello" {
		t.Fatalf("received %q", got)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v, %v", msgs, err)
	}
	cred, err := unix.ParseUnixCredentials(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if int(cred.Pid) != os.Getpid() {
		t.Fatalf("sender pid %d, want ours (%d): systemd would drop it", cred.Pid, os.Getpid())
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	sd := listenNotify(t, true)
	if sent, err := Ready("2/2 readers online"); !sent || err != nil {
		t.Fatalf("Ready = %v, %v; want true, nil", sent, err)
	}
	if got := sd.recv(); got != "READY=1\nSTATUS=2/2 readers online" {
		t.Fatalf("received %q", got)
	}
}

func TestReadyStatusStoppingMessages(t *testing.T) {
	sd := listenNotify(t, false)
	// A newline in the status must not smuggle in another assignment.
	if _, err := Ready("reader x\nMAINPID=1\r"); err != nil {
		t.Fatal(err)
	}
	if got, want := sd.recv(), "READY=1\nSTATUS=reader x MAINPID=1 "; got != want {
		t.Fatalf("Ready sent %q, want %q", got, want)
	}
	if _, err := Status("buffer 12 events, lag 3s"); err != nil {
		t.Fatal(err)
	}
	if got, want := sd.recv(), "STATUS=buffer 12 events, lag 3s"; got != want {
		t.Fatalf("Status sent %q, want %q", got, want)
	}
	if _, err := Stopping(); err != nil {
		t.Fatal(err)
	}
	if got := sd.recv(); got != "STOPPING=1" {
		t.Fatalf("Stopping sent %q", got)
	}
}

func TestReloadingSendsMonotonicTime(t *testing.T) {
	sd := listenNotify(t, false)
	var before unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
		t.Fatal(err)
	}
	if _, err := Reloading(); err != nil {
		t.Fatal(err)
	}
	got := sd.recv()
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("Reloading sent %q", got)
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil {
		t.Fatalf("MONOTONIC_USEC not a number in %q: %v", got, err)
	}
	if usec < before.Nano()/1000 {
		t.Fatalf("MONOTONIC_USEC=%d is before the monotonic clock at the call (%d)", usec, before.Nano()/1000)
	}
}

// systemd ignores a datagram of 4096 bytes or more; a long status must not
// take the ping down with it.
func TestLongStatusIsCutBelowSystemdLimit(t *testing.T) {
	sd := listenNotify(t, false)
	long := strings.Repeat("reader offline: dock-door-ü; ", 400) // ~12 KB
	w := NewWatchdog(time.Hour, nil, func() string { return long })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run still sends its first tick, then returns
	w.Run(ctx)
	got := sd.recv()
	if len(got) >= 4096 {
		t.Fatalf("sent %d bytes; systemd ignores datagrams of 4096 bytes or more", len(got))
	}
	if !strings.HasPrefix(got, "WATCHDOG=1\nSTATUS=reader offline: dock-door-ü; ") || !strings.HasSuffix(got, "…") {
		t.Fatalf("sent %q, want the ping and the status cut with …", got)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("cut inside a character: %q", got[len(got)-8:])
	}
}

func TestNotifyBadSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "run/notify")
	sent, err := Notify("READY=1")
	if sent || !errors.Is(err, ErrBadSocket) {
		t.Fatalf("relative NOTIFY_SOCKET: Notify = %v, %v; want false, ErrBadSocket", sent, err)
	}
	if !strings.Contains(err.Error(), "run/notify") {
		t.Fatalf("error %q does not name the bad value", err)
	}

	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	sent, err = Notify("READY=1")
	if sent || !errors.Is(err, ErrSend) {
		t.Fatalf("missing socket: Notify = %v, %v; want false, ErrSend", sent, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	cases := []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, true},
		{"30000000", me, 30 * time.Second, true},
		{"30000000", "1", 0, false}, // meant for another process
		{"30000000", "x", 0, false},
		{"0", "", 0, false},
		{"-5", "", 0, false},
		{"30s", "", 0, false},
		{"99999999999999999999", "", 0, false},
	}
	for _, c := range cases {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		got, ok := WatchdogInterval()
		if got != c.want || ok != c.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: got %v, %v; want %v, %v", c.usec, c.pid, got, ok, c.want, c.ok)
		}
	}
}

func FuzzStatusAssignment(f *testing.F) {
	for _, s := range []string{"", "ok", "a\nREADY=1", "x\r\nWATCHDOG=1", "\x00\x7f", "ünïcode ✓",
		strings.Repeat("é", maxStatusBytes), strings.Repeat("x", 5000), strings.Repeat("\xff", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := statusAssignment(s)
		if !strings.HasPrefix(line, "STATUS=") {
			t.Fatalf("%q does not start with STATUS=", line)
		}
		if strings.ContainsAny(line, "\n\r\x00") {
			t.Fatalf("status %q rendered as %q: contains a line break or NUL", s, line)
		}
		if len(line) > len("STATUS=")+maxStatusBytes+len("…") {
			t.Fatalf("status of %d bytes rendered as %d bytes, over the cap", len(s), len(line))
		}
		if len(s) <= maxStatusBytes && utf8.ValidString(s) && len(line) != len("STATUS=")+len(s) {
			t.Fatalf("status %q changed length: %q", s, line)
		}
		if len(s) > maxStatusBytes && utf8.ValidString(s) && !utf8.ValidString(line) {
			t.Fatalf("cutting %q split a character: %q", s, line)
		}
	})
}

func BenchmarkNotify(b *testing.B) {
	dir := b.TempDir()
	name := filepath.Join(dir, "n.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	go func() { // drain, as systemd does
		buf := make([]byte, 4096)
		for {
			if _, _, err := conn.ReadFromUnix(buf); err != nil {
				return
			}
		}
	}()
	b.Setenv("NOTIFY_SOCKET", name)
	msg := "WATCHDOG=1\n" + statusAssignment("3/3 readers online, buffer 120 events, lag 2s")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Notify(msg); err != nil {
			b.Fatal(err)
		}
	}
}
