package sdnotify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a log sink safe for the watchdog goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWatchdog runs w until the test ends and returns a wait function
// that fails the test if Run does not return after cancel.
func startWatchdog(t *testing.T, w *Watchdog) (cancel func(), wait func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel, func() {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Watchdog.Run did not return after its context was cancelled")
		}
	}
}

// tickMsg parses the tick number out of a datagram of the fake pipeline
// below: "WATCHDOG=1\nSTATUS=ok at tick N" or "STATUS=stalled: stuck at tick N".
func tickMsg(t *testing.T, msg string) (ping bool, tick int) {
	t.Helper()
	var err error
	switch {
	case strings.HasPrefix(msg, "WATCHDOG=1\nSTATUS=ok at tick "):
		ping = true
		tick, err = strconv.Atoi(strings.TrimPrefix(msg, "WATCHDOG=1\nSTATUS=ok at tick "))
	case strings.HasPrefix(msg, "STATUS=stalled: stuck at tick "):
		tick, err = strconv.Atoi(strings.TrimPrefix(msg, "STATUS=stalled: stuck at tick "))
	default:
		t.Fatalf("unexpected datagram %q", msg)
	}
	if err != nil {
		t.Fatalf("datagram %q: %v", msg, err)
	}
	return ping, tick
}

func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	sd := listenNotify(t, false)
	// A fake pipeline whose health checks are numbered, so the test knows
	// exactly which ticks saw the stall, however the scheduler interleaves.
	var (
		mu      sync.Mutex
		checks  int
		stalled bool
	)
	healthy := func() error {
		mu.Lock()
		defer mu.Unlock()
		checks++
		if stalled {
			return fmt.Errorf("stuck at tick %d", checks)
		}
		return nil
	}
	status := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("ok at tick %d", checks)
	}
	setStalled := func(v bool) int {
		mu.Lock()
		defer mu.Unlock()
		stalled = v
		return checks
	}
	logs := &lockedBuffer{}
	w := NewWatchdog(80*time.Millisecond, healthy, status).
		WithLogger(slog.New(slog.NewTextHandler(logs, nil)))
	cancel, wait := startWatchdog(t, w)

	// Healthy: every datagram is a ping plus the status line.
	for i := 1; i <= 3; i++ {
		if got, want := sd.recv(), fmt.Sprintf("WATCHDOG=1\nSTATUS=ok at tick %d", i); got != want {
			t.Fatalf("healthy tick %d sent %q, want %q", i, got, want)
		}
	}

	// Stalled: no ping from any check after the stall began, only the reason.
	last := setStalled(true)
	stalledSeen := 0
	for stalledSeen < 4 {
		ping, tick := tickMsg(t, sd.recv())
		if ping && tick > last {
			t.Fatalf("tick %d pinged although the pipeline stalled after tick %d", tick, last)
		}
		if !ping {
			if tick <= last {
				t.Fatalf("tick %d reported a stall that began after tick %d", tick, last)
			}
			stalledSeen++
		}
	}

	// Progress again: the pings resume with the next check.
	last = setStalled(false)
	for {
		ping, tick := tickMsg(t, sd.recv())
		if ping {
			if tick <= last {
				t.Fatalf("tick %d pinged while the pipeline was still stalled (until tick %d)", tick, last)
			}
			break
		}
		if tick > last {
			t.Fatalf("tick %d still reports a stall that ended after tick %d", tick, last)
		}
	}
	cancel()
	wait()

	out := logs.String()
	if n := strings.Count(out, "watchdog pings paused"); n != 1 {
		t.Errorf("logged the stall %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "stuck at tick") {
		t.Errorf("stall log does not give the reason:\n%s", out)
	}
	if n := strings.Count(out, "watchdog pings resumed"); n != 1 {
		t.Errorf("logged the resume %d times, want once:\n%s", n, out)
	}
}

func TestWatchdogBlockedHealthCheckStopsPings(t *testing.T) {
	sd := listenNotify(t, false)
	var calls atomic.Int32
	release := make(chan struct{})
	healthy := func() error {
		if calls.Add(1) >= 2 {
			<-release // a deadlocked pipeline never answers
		}
		return nil
	}
	_, _ = startWatchdog(t, NewWatchdog(40*time.Millisecond, healthy, nil))
	t.Cleanup(func() { close(release) }) // runs before the watchdog's cleanup

	if got := sd.recv(); got != "WATCHDOG=1" {
		t.Fatalf("first tick sent %q, want a bare WATCHDOG=1 (nil status)", got)
	}
	// The second health check blocks: nothing may arrive for many ticks.
	if err := sd.conn.SetReadDeadline(time.Now().Add(400 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, _, err := sd.conn.ReadFromUnix(buf); err == nil {
		t.Fatalf("a blocked health check still sent %q", buf[:n])
	}
	if c := calls.Load(); c != 2 {
		t.Fatalf("health checked %d times, want 2 (the second one blocks)", c)
	}
}

func TestWatchdogDisabledReturnsAtOnce(t *testing.T) {
	sd := listenNotify(t, false)
	ctx := context.Background() // never cancelled: Run must return by itself
	done := make(chan struct{})
	go func() { defer close(done); NewWatchdog(0, nil, nil).Run(ctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run with interval 0 did not return")
	}
	if err := sd.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, _, err := sd.conn.ReadFromUnix(make([]byte, 64)); err == nil {
		t.Fatalf("disabled watchdog sent %d bytes", n)
	}
}

func TestWatchdogLogsSendFailureOnce(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	var calls atomic.Int32
	ticked := make(chan struct{})
	healthy := func() error {
		if calls.Add(1) == 5 {
			close(ticked)
		}
		return nil
	}
	logs := &lockedBuffer{}
	w := NewWatchdog(20*time.Millisecond, healthy, nil).WithLogger(slog.New(slog.NewTextHandler(logs, nil)))
	cancel, wait := startWatchdog(t, w)
	select {
	case <-ticked:
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog did not tick 5 times")
	}
	cancel()
	wait()
	out := logs.String()
	if n := strings.Count(out, "cannot notify systemd"); n != 1 {
		t.Fatalf("logged the send failure %d times over 5 ticks, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "gone.sock") {
		t.Fatalf("send failure log does not name the socket:\n%s", out)
	}
}
