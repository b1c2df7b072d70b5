package zonepage

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkSnapshot10k is the work of one snapshot interval with 10,000
// tags in 40 zones: copy from the Model, sort, cut to the caps and encode
// the stream payload once (what every client with no filter then shares).
func BenchmarkSnapshot10k(b *testing.B) {
	m := newFakeModel()
	m.zones = manyTags(10_000, 40)
	clk := &fakeClock{t: time.Unix(0, 0)}
	s := &snapshotter{model: m, interval: time.Millisecond, maxEvents: 100, now: clk.Now, log: quietOpts().Logger}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		clk.Advance(time.Second)
		sn := s.get()
		p, err := sn.payload("", true, 25, 600)
		if err != nil {
			b.Fatal(err)
		}
		size = len(p)
	}
	b.ReportMetric(float64(size), "payload-bytes")
}

// BenchmarkFilteredPayload10k is the extra work per distinct filter per
// interval: scan 10,000 tags for the EPC substring and encode.
func BenchmarkFilteredPayload10k(b *testing.B) {
	m := newFakeModel()
	m.zones = manyTags(10_000, 40)
	clk := &fakeClock{t: time.Unix(0, 0)}
	s := &snapshotter{model: m, interval: time.Hour, maxEvents: 100, now: clk.Now, log: quietOpts().Logger}
	sn := s.get()
	b.ReportAllocs()
	for b.Loop() {
		sn.mu.Lock()
		sn.enc = nil // as if a new snapshot: no cached payload
		sn.mu.Unlock()
		if _, err := sn.payload("0000270", true, 25, 600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZonesAPI10k is one GET /api/zones within an interval: the
// snapshot and its encoded answer are shared, so this is the HTTP cost.
func BenchmarkZonesAPI10k(b *testing.B) {
	m := newFakeModel()
	m.zones = manyTags(10_000, 40)
	opts := quietOpts()
	opts.Interval = time.Hour
	h := Handler(m, opts)
	req := httptest.NewRequest("GET", "/api/zones", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
