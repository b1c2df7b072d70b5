package buffer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/metrics"
)

var testLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// testMetrics receives the metrics of every Queue opened with testOptions.
var testMetrics = metrics.New()

func testOptions() Options {
	return Options{
		Metrics:      testMetrics,
		Gateway:      "floor3",
		MinFreeDisk:  -1,
		Log:          testLog,
		TickInterval: 20 * time.Millisecond,
		GapInterval:  time.Hour,
	}
}

func openQueue(t testing.TB, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

var baseTime = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// testEvent is a rack_move of about 250 bytes of JSON once seq and gateway
// are set.
func testEvent(i int) edge.Event {
	t := baseTime.Add(time.Duration(i) * time.Millisecond)
	return edge.Event{
		Type: edge.RackMove,
		EPC:  fmt.Sprintf("E28011606000020D%08X", i),
		Time: t,
		To:   &edge.Location{Zone: "rack-A12", Floor: "3", Room: "3.1", Row: "A", Rack: "12"},
		Evidence: &edge.Evidence{Reads: 17, FirstSeen: t.Add(-2 * time.Second), LastSeen: t,
			PeakRSSI: -48.5, Readers: []string{"rack-row-a"}, Antennas: []int{1}},
	}
}

func testEvents(from, n int) []edge.Event {
	evs := make([]edge.Event, n)
	for i := range evs {
		evs[i] = testEvent(from + i)
	}
	return evs
}

func appendN(t testing.TB, q *Queue, from, n int) []edge.Event {
	t.Helper()
	evs := testEvents(from, n)
	if err := q.Append(context.Background(), evs, nil); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return evs
}

// leaseAll leases until nothing is left (within a short wait).
func leaseAll(t testing.TB, q *Queue) []Record {
	t.Helper()
	var all []Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		recs, err := q.Lease(ctx, 1000)
		cancel()
		if err != nil {
			return all
		}
		all = append(all, recs...)
	}
}

func counterValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge")
	return 0
}

func seqsOf(recs []Record) []uint64 {
	s := make([]uint64, len(recs))
	for i, r := range recs {
		s[i] = r.Seq
	}
	return s
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}
