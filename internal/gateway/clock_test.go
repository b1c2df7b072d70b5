package gateway

import (
	"context"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/reader"
)

// A step of the wall clock (2 h forward, then 1 h back) while 20 tags sit
// on their rack makes no event: the engine keeps the monotonic clock, and
// reads stamped with the stepped wall clock are moved into its frame. It
// used to give 20 rack_depart and 20 rack_move.
func TestWallClockStepMakesNoEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "gw.yaml")
	os.WriteFile(p, []byte(`gateway: {id: unit, data_dir: `+filepath.Join(dir, "data")+`}
readers: [{id: r1, type: llrp, address: "127.0.0.1:9"}]
zones: [{id: rack-1, kind: rack, antennas: [{reader: r1, antennas: [1]}]}]
edge: {dwell: 300ms, presence_window: 1s, lost_after: 3s}
uplink: {kafka: {brokers: ["127.0.0.1:9"]}}
`), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(config.ScopeAll); err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var step atomic.Int64
	gw.wall = func() time.Time { return time.Now().Round(0).Add(time.Duration(step.Load())) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testkit.WaitFor(t, 10*time.Second, "started", func() bool { return gw.started.Load() })

	// The reader stamps its reads with the (stepped) wall clock.
	readAll := func() {
		now := gw.wall()
		reads := make([]reader.Read, 21)
		reads[20] = reader.StatusRead(now, "r1", reader.StatusOnline) // departures need the reader online
		for i := range 20 {
			reads[i] = reader.Read{Time: now, Reader: "r1", Antenna: 1, RSSI: -50, EPC: fmt.Sprintf("E2801160600002000000%04X", i)}
		}
		if err := gw.Deliver(ctx, reads); err != nil {
			t.Fatal(err)
		}
	}
	events := func() uint64 { return gw.Queue().Stats().LastSeq }
	testkit.WaitFor(t, 30*time.Second, "20 rack_move events", func() bool {
		readAll()
		time.Sleep(100 * time.Millisecond)
		return events() >= 20
	})
	time.Sleep(time.Second)
	readAll()
	if n := events(); n != 20 {
		t.Fatalf("%d events before the step, want 20", n)
	}
	stepsBefore := counterValue(gw.m.ClockSteps)
	for _, s := range []time.Duration{2 * time.Hour, time.Hour} {
		step.Store(int64(s))
		// Keep reading for longer than lost_after: no departure, no move.
		for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			readAll()
		}
		if n := events(); n != 20 {
			t.Fatalf("wall clock stepped to %v: %d events, want still 20 (false departures or moves)", s, n)
		}
	}
	if d := counterValue(gw.m.ClockSteps) - stepsBefore; d != 2 {
		t.Errorf("rfidgw_clock_steps_total grew by %v, want 2", d)
	}
	// The tags leave: the departures still come, after lost_after.
	testkit.WaitFor(t, 20*time.Second, "20 rack_depart events", func() bool { return events() >= 40 })
}

// counterValue reads a counter.
func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
