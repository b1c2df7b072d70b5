package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/reader"
)

func startGateway(t *testing.T) (*Gateway, context.Context) {
	t.Helper()
	gw, err := New(testConfig(t), Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.WaitFor(t, 10*time.Second, "ready", func() bool { return gw.Ready() == nil })
	return gw, ctx
}

// reads of one tag on rack-1 (reader r1, antenna 1) for 8 s of read time:
// enough for a rack_move.
func rackReads(epc string, t0 time.Time) []reader.Read {
	var rs []reader.Read
	for i := range 40 {
		rs = append(rs, reader.Read{Time: t0.Add(time.Duration(i) * 200 * time.Millisecond), Reader: "r1", Antenna: 1, RSSI: -50, EPC: epc})
	}
	return rs
}

// An EPC longer than reader.MaxEPCHex, from any source, is refused where
// reads enter the gateway: it used to reach the buffer as a state key
// bbolt cannot store and stall every commit.
func TestLongEPCRefusedAtTheDoor(t *testing.T) {
	t.Parallel()
	gw, ctx := startGateway(t)
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	before := counterValue(gw.m.ReadsIgnoredTotal.WithLabelValues("r1", ReasonEPCTooLong))
	reads := append(rackReads(strings.Repeat("AB", 20000), t0), rackReads("3034DF296FDCCF04CFA7C017", t0)...)
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := gw.Deliver(dctx, reads); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if err := gw.Ready(); err != nil {
		t.Errorf("not ready after a long EPC: %v", err)
	}
	if d := counterValue(gw.m.ReadsIgnoredTotal.WithLabelValues("r1", ReasonEPCTooLong)) - before; d != 40 {
		t.Errorf("%v reads counted as epc_too_long, want 40", d)
	}
	if n := gw.Queue().Stats().LastSeq; n != 1 {
		t.Errorf("%d events committed, want the other tag's rack_move", n)
	}
}

// A commit the buffer keeps refusing is a stall for the watchdog: Alive
// fails after commitStuckAfter, although the loop still goes round.
func TestAliveSeesAStuckCommit(t *testing.T) {
	t.Parallel()
	gw, ctx := startGateway(t)
	gw.commitStuckAfter = 500 * time.Millisecond
	gw.Queue().Close() // every Append now fails
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	go gw.Deliver(ctx, rackReads(fmt.Sprintf("3034DF296FDCCF04CFA7C%03d", 17), t0))
	testkit.WaitFor(t, 20*time.Second, "Alive to report the refused commit", func() bool { return gw.Alive() != nil })
	if err := gw.Alive(); !strings.Contains(err.Error(), "refused commits") {
		t.Errorf("Alive: %v", err)
	}
}
