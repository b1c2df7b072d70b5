package reader

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/backoff"
)

// logCount counts log lines by level and message.
type logCount struct {
	mu    sync.Mutex
	lines []string
}

func (h *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCount) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.lines = append(h.lines, r.Level.String()+" "+r.Message)
	h.mu.Unlock()
	return nil
}
func (h *logCount) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCount) WithGroup(string) slog.Handler      { return h }

func (h *logCount) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// fakeMetrics is a Metrics that keeps its values in a map (this package
// cannot import internal/metrics, which implements Metrics on Prometheus).
type fakeMetrics struct {
	mu sync.Mutex
	v  map[string]float64
}

type fakeValue struct {
	f   *fakeMetrics
	key string
}

func (c fakeValue) Inc()          { c.Add(1) }
func (c fakeValue) Add(d float64) { c.f.mu.Lock(); c.f.v[c.key] += d; c.f.mu.Unlock() }
func (c fakeValue) Set(x float64) { c.f.mu.Lock(); c.f.v[c.key] = x; c.f.mu.Unlock() }

func (f *fakeMetrics) Reads(id string) Counter       { return fakeValue{f, "reads/" + id} }
func (f *fakeMetrics) FrameErrors(id string) Counter { return fakeValue{f, "frame_errors/" + id} }
func (f *fakeMetrics) Reconnects(id string) Counter  { return fakeValue{f, "reconnects/" + id} }
func (f *fakeMetrics) Connected(id string) Gauge     { return fakeValue{f, "connected/" + id} }
func (f *fakeMetrics) AntennaConnected(id, a string) Gauge {
	return fakeValue{f, "antenna/" + id + "/" + a}
}
func (f *fakeMetrics) ConfigReapplied(id string) Counter { return fakeValue{f, "reapplied/" + id} }
func (f *fakeMetrics) ClockOffset(id string) Gauge       { return fakeValue{f, "clock/" + id} }
func (f *fakeMetrics) Ignored(id, reason string) Counter {
	return fakeValue{f, "ignored/" + id + "/" + reason}
}

func (f *fakeMetrics) get(key string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v[key]
}

func gauge(t *testing.T, mt *fakeMetrics, id string) float64 {
	t.Helper()
	return mt.get("connected/" + id)
}

func reconnects(t *testing.T, mt *fakeMetrics, id string) float64 {
	t.Helper()
	return mt.get("reconnects/" + id)
}

// TestSuperviseStatusesAndLogging: a reader that is down reports offline
// once and logs each distinct error once; once up it reports online (and
// the gauge says so); a lost connection reports offline and always logs.
func TestSuperviseStatusesAndLogging(t *testing.T) {
	id := "sup-" + t.Name()
	mt := &fakeMetrics{v: map[string]float64{}}
	var mu sync.Mutex
	var statuses []Status
	sink := SinkFunc(func(_ context.Context, reads []Read) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reads {
			statuses = append(statuses, r.Status)
		}
		return nil
	})
	h := &logCount{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempt := 0
	var gaugeOnline float64
	session := func(ctx context.Context, link *Link) error {
		attempt++
		switch {
		case attempt <= 3:
			return errors.New("connection refused") // the same error three times
		case attempt == 4:
			return errors.New("no route to host")
		case attempt == 5:
			if err := link.Online(); err != nil {
				return err
			}
			gaugeOnline = gauge(t, mt, id)
			return errors.New("connection reset")
		}
		cancel()
		return ctx.Err()
	}
	before := reconnects(t, mt, id)
	sup := &Supervisor{ID: id, Kind: "test", Sink: sink, Log: slog.New(h), Backoff: backoff.Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, Metrics: mt}
	if err := sup.Supervise(ctx, session); err != nil {
		t.Fatalf("Supervise = %v after cancel, want nil", err)
	}
	want := []Status{StatusOffline, StatusOnline, StatusOffline}
	if len(statuses) != len(want) || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if gaugeOnline != 1 || gauge(t, mt, id) != 0 {
		t.Fatalf("rfidgw_reader_connected online=%v after=%v, want 1 then 0", gaugeOnline, gauge(t, mt, id))
	}
	if got := reconnects(t, mt, id) - before; got != 5 {
		t.Fatalf("reconnects grew by %v, want 5 (6 attempts)", got)
	}
	if n := h.count("WARN test reader not available"); n != 2 {
		t.Fatalf("%d warnings for 2 distinct errors: %v", n, h.lines)
	}
	if n := h.count("DEBUG test reader still not available"); n != 2 {
		t.Fatalf("%d repeats logged at debug, want 2: %v", n, h.lines)
	}
	if n := h.count("WARN test reader lost"); n != 1 {
		t.Fatalf("%d lost-connection warnings, want 1: %v", n, h.lines)
	}
}

// TestSuperviseResetRule: the backoff starts over only after a connection
// that stayed online GoodAfter, or that said it was healthy.
func TestSuperviseResetRule(t *testing.T) {
	now := time.Unix(1000, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	attempt := 0
	session := func(ctx context.Context, link *Link) error {
		attempt++
		switch attempt {
		case 1, 2, 3: // fail: 20, 40, 80 ms waits follow
		case 4: // online briefly: no reset, 160 ms follows
			link.Online()
		case 5: // healthy though brief: reset, 20 ms follows
			link.Online()
			link.Healthy()
		case 6, 7: // fail: 40, 80 ms
		case 8: // online long enough: reset, 20 ms follows (160 without)
			link.Online()
			now = now.Add(time.Minute)
		default:
			cancel()
		}
		return errors.New("gone")
	}
	sup := &Supervisor{ID: "sup-" + t.Name(), Kind: "test", Sink: SinkFunc(func(context.Context, []Read) error { return nil }),
		Log: slog.New(&logCount{}), Backoff: backoff.Backoff{Min: 20 * time.Millisecond, Max: time.Second}, GoodAfter: 10 * time.Second,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
	}
	sup.Supervise(ctx, session)
	want := []time.Duration{20, 40, 80, 160, 20, 40, 80, 20}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v ms", waits, want)
	}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms (a reset after attempts 5 and 8 only)", waits, want)
		}
	}
}

// TestSuperviseStopsWhenSinkRefuses: a sink that refuses reads while ctx
// is live ends Supervise with its error instead of a reconnect.
func TestSuperviseStopsWhenSinkRefuses(t *testing.T) {
	sinkErr := errors.New("pipeline closed")
	calls := 0
	sink := SinkFunc(func(context.Context, []Read) error {
		calls++
		if calls == 1 {
			return nil // the online status
		}
		return sinkErr
	})
	attempts := 0
	session := func(ctx context.Context, link *Link) error {
		attempts++
		if err := link.Online(); err != nil {
			return err
		}
		return link.Deliver(ctx, []Read{{Reader: "r", EPC: "AA"}})
	}
	sup := &Supervisor{ID: "sup-" + t.Name(), Kind: "test", Sink: sink, Backoff: backoff.Backoff{Min: time.Millisecond, Max: time.Millisecond}}
	done := make(chan error, 1)
	go func() { done <- sup.Supervise(context.Background(), session) }()
	select {
	case err := <-done:
		if !errors.Is(err, sinkErr) || attempts != 1 {
			t.Fatalf("Supervise = %v after %d attempts, want the sink's error after 1", err, attempts)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Supervise kept reconnecting after the sink refused")
	}
}
