package zonepage

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func read(at time.Duration, rd string, ant int, epc string, rssi float64) reader.Read {
	return reader.Read{Time: t0.Add(at), Reader: rd, Antenna: ant, EPC: epc, RSSI: rssi}
}

func TestReadStatsRates(t *testing.T) {
	s := NewReadStats(ReadStatsOptions{})
	var reads []reader.Read
	for ms := 0; ms < 6000; ms += 100 { // 10/s on antenna 1
		reads = append(reads, read(time.Duration(ms)*time.Millisecond, "rack-row-a", 1, "E200", -50))
	}
	for ms := 0; ms < 6000; ms += 500 { // 2/s on antenna 2, 2/s on unlisted antenna 7
		reads = append(reads, read(time.Duration(ms)*time.Millisecond, "rack-row-a", 2, "E201", -60))
		reads = append(reads, read(time.Duration(ms)*time.Millisecond, "rack-row-a", 7, "E201", -70))
	}
	reads = append(reads, reader.StatusRead(t0, "rack-row-a", reader.StatusOnline))
	s.Observe(reads)
	views := []ReaderView{
		{ID: "rack-row-a", Antennas: []AntennaView{{Antenna: 2, Zones: []string{"rack-A02"}}, {Antenna: 1}}},
		{ID: "dock-1", ReadsPerSec: 99, Antennas: []AntennaView{{Antenna: 1, ReadsPerSec: 99}}},
	}
	s.FillRates(t0.Add(6*time.Second), views)
	r := views[0]
	if r.ReadsPerSec != 14 || len(r.Antennas) != 3 {
		t.Fatalf("rack-row-a: %+v", r)
	}
	want := []AntennaView{{Antenna: 1, ReadsPerSec: 10}, {Antenna: 2, ReadsPerSec: 2, Zones: []string{"rack-A02"}}, {Antenna: 7, ReadsPerSec: 2}}
	for i, a := range r.Antennas {
		if a.Antenna != want[i].Antenna || a.ReadsPerSec != want[i].ReadsPerSec || len(a.Zones) != len(want[i].Zones) {
			t.Errorf("antenna %d = %+v, want %+v", i, a, want[i])
		}
	}
	if views[1].ReadsPerSec != 0 || views[1].Antennas[0].ReadsPerSec != 0 {
		t.Errorf("a reader without reads: %+v", views[1])
	}
	s.FillRates(t0.Add(20*time.Second), views)
	if views[0].ReadsPerSec != 0 || views[0].Antennas[0].ReadsPerSec != 0 {
		t.Errorf("after 14 s of silence: %+v", views[0])
	}
}

func TestReadStatsTagReads(t *testing.T) {
	s := NewReadStats(ReadStatsOptions{Window: time.Minute, MaxPointsPerTag: 10})
	s.Observe([]reader.Read{
		read(0, "rack-row-a", 1, "E200", -50),
		read(300*time.Millisecond, "rack-row-a", 1, "E200", -52),
		read(400*time.Millisecond, "rack-row-a", 2, "E200", -70),
		read(900*time.Millisecond, "rack-row-a", 1, "E200", -54),
		read(1100*time.Millisecond, "rack-row-a", 1, "E200", -40),
		read(time.Second, "dock-1", 1, "E999", -45),
	})
	got := s.TagReads(t0.Add(2*time.Second), "E200")
	want := []TagRead{
		{Time: t0.Add(900 * time.Millisecond), Reader: "rack-row-a", Antenna: 1, RSSI: -52, Count: 3},
		{Time: t0.Add(400 * time.Millisecond), Reader: "rack-row-a", Antenna: 2, RSSI: -70, Count: 1},
		{Time: t0.Add(1100 * time.Millisecond), Reader: "rack-row-a", Antenna: 1, RSSI: -40, Count: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("TagReads = %+v", got)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].Reader != want[i].Reader || got[i].Antenna != want[i].Antenna || got[i].RSSI != want[i].RSSI || got[i].Count != want[i].Count {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := s.TagReads(t0.Add(61*time.Second), "E200"); len(got) != 1 || got[0].RSSI != -40 {
		t.Errorf("after the window only the last point is left: %+v", got)
	}
	if got := s.TagReads(t0, "E404"); got != nil {
		t.Errorf("unknown tag: %+v", got)
	}

	// The cap keeps the newest points.
	var reads []reader.Read
	for i := range 25 {
		reads = append(reads, read(time.Duration(i)*time.Second, "rack-row-a", 3, "E300", -float64(i)))
	}
	s.Observe(reads)
	got = s.TagReads(t0.Add(25*time.Second), "E300")
	if len(got) != 10 || got[0].RSSI != -15 || got[9].RSSI != -24 {
		t.Errorf("capped: %d points, first %+v", len(got), got)
	}
}

func TestReadStatsEvictsSilentTags(t *testing.T) {
	s := NewReadStats(ReadStatsOptions{MaxTags: 100, Window: time.Minute})
	for i := range 150 {
		s.Observe([]reader.Read{read(time.Duration(i)*time.Second, "r", 1, fmt.Sprintf("E%03d", i), -50)})
	}
	s.mu.Lock()
	n := len(s.tags)
	s.mu.Unlock()
	if n > 100 {
		t.Errorf("%d tags kept, MaxTags 100", n)
	}
	now := t0.Add(150 * time.Second)
	if s.TagReads(now, "E149") == nil || s.TagReads(now, "E120") == nil {
		t.Errorf("recent tags evicted")
	}
	if s.TagReads(now, "E010") != nil {
		t.Errorf("a tag silent for over the window is still kept")
	}
}

func TestReadStatsConcurrent(t *testing.T) {
	s := NewReadStats(ReadStatsOptions{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				s.Observe([]reader.Read{read(time.Duration(i)*time.Millisecond, "r", g, fmt.Sprintf("E%d", i%50), -50)})
			}
		})
	}
	wg.Go(func() {
		for range 500 {
			views := []ReaderView{{ID: "r"}}
			s.FillRates(t0.Add(time.Second), views)
			s.TagReads(t0.Add(time.Second), "E1")
		}
	})
	wg.Wait()
	views := []ReaderView{{ID: "r"}}
	s.FillRates(t0.Add(2*time.Second), views)
	if views[0].ReadsPerSec != 8000.0/5 || len(views[0].Antennas) != 4 {
		t.Errorf("after 4 x 2000 reads in 2 s: %+v", views[0])
	}
}

func BenchmarkReadStatsObserve(b *testing.B) {
	s := NewReadStats(ReadStatsOptions{})
	epcs := make([]string, 10_000)
	for i := range epcs {
		epcs[i] = fmt.Sprintf("E28011606000020000%06X", i)
	}
	batch := make([]reader.Read, 64)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range batch {
			batch[j] = read(time.Duration(i)*time.Millisecond, "rack-row-a", 1+i%4, epcs[i%len(epcs)], -50-float64(i%20))
			i++
		}
		s.Observe(batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "reads/s")
}
