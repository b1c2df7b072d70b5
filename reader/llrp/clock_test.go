package llrp

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// TestReadClockLogic covers the offset estimate without a network.
func TestReadClockLogic(t *testing.T) {
	h := &countHandler{}
	clk := reader.Clock{Log: slog.New(h)}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	us := func(t time.Time) uint64 { return uint64(t.UnixMicro()) }

	// Within 2 s: the reader's own time, microsecond exact.
	c := readClock{utc: &clk}
	rt := base.Add(-1500 * time.Millisecond)
	if got := c.fromUTC(us(rt), base); !got.Equal(rt) {
		t.Fatalf("1.5 s skew corrected: %v", got)
	}
	// A report held 30 s by the reader (a cut) does not make the clock
	// look wrong: its read keeps its own time.
	if got := c.fromUTC(us(base.Add(-30*time.Second)), base.Add(time.Second)); !got.Equal(base.Add(-30 * time.Second)) {
		t.Fatalf("held report moved to %v", got)
	}

	// Off by an hour (next connection): corrected, logged once.
	clk.Reset()
	c = readClock{utc: &clk}
	readerNow := base.Add(-time.Hour)
	if got := c.fromUTC(us(readerNow), base.Add(30*time.Millisecond)); !got.Equal(base.Add(30 * time.Millisecond)) {
		t.Fatalf("first corrected read %v", got)
	}
	// A later report that sat in a queue for 2 s does not move the offset.
	if got := c.fromUTC(us(readerNow.Add(time.Second)), base.Add(3*time.Second)); !got.Equal(base.Add(time.Second + 30*time.Millisecond)) {
		t.Fatalf("delayed read %v", got)
	}
	// A faster one refines it.
	if got := c.fromUTC(us(readerNow.Add(2*time.Second)), base.Add(2*time.Second+10*time.Millisecond)); !got.Equal(base.Add(2*time.Second + 10*time.Millisecond)) {
		t.Fatalf("refined read %v", got)
	}
	clk.Reset()
	c2 := readClock{utc: &clk}
	c2.fromUTC(us(readerNow), base) // another connection of the same source
	if h.n != 1 {
		t.Fatalf("offset logged %d times, want once", h.n)
	}
	if off, ok := clk.Estimate(); !ok || off != -time.Hour {
		t.Fatalf("estimate %v %v, want -1h", off, ok)
	}

	// Uptime: anchored at the first report, later ones follow it.
	var u readClock
	if got := u.fromUptime(5_000_000, base); !got.Equal(base) {
		t.Fatalf("uptime anchor %v", got)
	}
	if got := u.fromUptime(6_500_000, base.Add(1600*time.Millisecond)); !got.Equal(base.Add(1500 * time.Millisecond)) {
		t.Fatalf("uptime read %v", got)
	}

	// No timestamp at all: the receive time.
	if got := u.readTime(&TagReport{}, base); !got.Equal(base) {
		t.Fatalf("no timestamp: %v", got)
	}
}

type countHandler struct {
	mu sync.Mutex
	n  int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(context.Context, slog.Record) error {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
