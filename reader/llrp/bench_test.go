package llrp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
)

// reportBody builds an RO_ACCESS_REPORT body of n TagReportData shaped like
// an Impinj reader's answer to our ROSpec: EPC-96, antenna, peak RSSI,
// channel, first/last seen UTC, seen count, plus Impinj centi-dBm RSSI.
func reportBody(n int) []byte {
	var body []byte
	for i := 0; i < n; i++ {
		t := llrp.TagReport{
			EPC:       fmt.Sprintf("E2801160600002%010X", i),
			Fields:    llrp.HasAntennaID | llrp.HasPeakRSSI | llrp.HasChannelIndex | llrp.HasFirstSeenUTC | llrp.HasLastSeenUTC | llrp.HasTagSeenCount | llrp.HasImpinjPeakRSSI,
			AntennaID: uint16(1 + i%4), PeakRSSI: int8(-40 - i%30), ImpinjPeakRSSI: int16(-4000 - i),
			ChannelIndex: uint16(i % 50), TagSeenCount: 1,
			FirstSeenUTC: 1764064800000000 + uint64(i), LastSeenUTC: 1764064800000000 + uint64(i),
		}
		body = t.Append(body)
	}
	return body
}

// BenchmarkDecodeROAccessReport decodes reports of 100 TagReportData into a
// reused slice; the goal is >= 3,000,000 tag reports/s per core with at
// most one allocation (the EPC string) per tag report.
func BenchmarkDecodeROAccessReport(b *testing.B) {
	const perReport = 100
	body := reportBody(perReport)
	tags := make([]llrp.TagReport, 0, perReport)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		tags, err = llrp.DecodeROAccessReport(tags[:0], body)
		if err != nil || len(tags) != perReport {
			b.Fatal(err, len(tags))
		}
	}
	b.ReportMetric(float64(b.N)*perReport/b.Elapsed().Seconds(), "tagreports/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perReport, "ns/tagreport")
}

// TestDecodeAllocations pins the allocation budget: one per tag report.
func TestDecodeAllocations(t *testing.T) {
	body := reportBody(100)
	tags := make([]llrp.TagReport, 0, 100)
	allocs := testing.AllocsPerRun(50, func() {
		tags, _ = llrp.DecodeROAccessReport(tags[:0], body)
	})
	if allocs > 100 {
		t.Fatalf("%.0f allocations for 100 tag reports, want at most 100", allocs)
	}
}

// countSink counts delivered tag reads and signals when want is reached.
type countSink struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func (c *countSink) Deliver(ctx context.Context, reads []reader.Read) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range reads {
		if reads[i].IsStatus() {
			if reads[i].Status == reader.StatusOnline && c.done != nil && c.want == 0 {
				close(c.done)
				c.done = nil
			}
			continue
		}
		c.n++
		if c.n == c.want && c.done != nil {
			close(c.done)
			c.done = nil
		}
	}
	return nil
}

func (c *countSink) expect(n int) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.want, c.done = 0, n, make(chan struct{})
	return c.done
}

// BenchmarkSessionReads measures reads/s through a real loopback session:
// simulator -> TCP -> Source -> Sink, one RO_ACCESS_REPORT per tag (N=1, as
// the Source asks readers). The simulator shares the CPU, so this is a
// lower bound for the client.
func BenchmarkSessionReads(b *testing.B) {
	sim := llrpsim.New(llrpsim.Options{QueueSize: max(b.N, 1), Logger: quietLog})
	addr, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	src, err := llrp.New(reader.Config{ID: "bench", Type: reader.TypeLLRP, Settings: &llrp.Settings{Address: addr.String()}}, reader.Env{Log: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	sink := &countSink{}
	online := sink.expect(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, sink)
	<-online
	done := sink.expect(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sim.Feed(reader.Read{Antenna: 1 + i%4, EPC: "E28011606000020D8F3A1B2C", RSSI: -55})
	}
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
