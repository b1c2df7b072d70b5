package llrp

import (
	"fmt"
	"testing"
)

// reportBody builds an RO_ACCESS_REPORT body of n TagReportData shaped like
// an Impinj reader's answer to our ROSpec: EPC-96, antenna, peak RSSI,
// channel, first/last seen UTC, seen count, plus Impinj centi-dBm RSSI.
func reportBody(n int) []byte {
	var body []byte
	for i := 0; i < n; i++ {
		t := TagReport{
			EPC:       fmt.Sprintf("E2801160600002%010X", i),
			Fields:    HasAntennaID | HasPeakRSSI | HasChannelIndex | HasFirstSeenUTC | HasLastSeenUTC | HasTagSeenCount | HasImpinjPeakRSSI,
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
	tags := make([]TagReport, 0, perReport)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		tags, err = DecodeROAccessReport(tags[:0], body)
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
	tags := make([]TagReport, 0, 100)
	allocs := testing.AllocsPerRun(50, func() {
		tags, _ = DecodeROAccessReport(tags[:0], body)
	})
	if allocs > 100 {
		t.Fatalf("%.0f allocations for 100 tag reports, want at most 100", allocs)
	}
}
