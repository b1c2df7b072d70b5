package zonepage

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
	_ "github.com/rfidgw/rfidgw/reader/file" // registers the file type (IsRecorded)
)

func testZones() []edge.Zone {
	return []edge.Zone{
		{ID: "gate-a", Kind: edge.KindGate, Floor: "3",
			Outside: []edge.AntennaRef{{Reader: "dock-1", Antennas: []int{1}}},
			Inside:  []edge.AntennaRef{{Reader: "dock-1", Antennas: []int{2}}}},
		{ID: "rack-A01", Kind: edge.KindRack, Floor: "3", Room: "3.1", Row: "A", Rack: "01",
			Antennas: []edge.AntennaRef{{Reader: "rack-row-a", Antennas: []int{1}}}},
		{ID: "rack-A02", Kind: edge.KindRack, Floor: "3", Room: "3.1", Row: "A", Rack: "02",
			Antennas: []edge.AntennaRef{{Reader: "rack-row-a", Antennas: []int{2}}}},
		{ID: "rack-B01", Kind: edge.KindRack, Floor: "3", Row: "B", Rack: "01",
			Antennas: []edge.AntennaRef{{Reader: "rack-row-b"}}},
	}
}

// The collector is fed by the real edge engine.
func TestZoneCollectorFromEngine(t *testing.T) {
	eng, err := edge.New(edge.Config{Zones: testZones(), Settings: edge.DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	const settled, visitor, passer, restored = "E2000000000000000000A001", "E2000000000000000000A002", "E2000000000000000000D001", "E2000000000000000000B002"
	eng.Restore(restored, "rack-A02")
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var now time.Time
	for ms := 0; ms <= 9000; ms += 200 {
		now = start.Add(time.Duration(ms) * time.Millisecond)
		for _, r := range []reader.Read{
			{Time: now, Reader: "rack-row-a", Antenna: 1, EPC: settled, RSSI: -50},
			{Time: now, Reader: "rack-row-a", Antenna: 2, EPC: settled, RSSI: -70},
		} {
			eng.Process(nil, &r)
		}
		if ms >= 8600 { // only lately, so it is present but not (yet) settled
			r := reader.Read{Time: now, Reader: "rack-row-a", Antenna: 2, EPC: visitor, RSSI: -55}
			eng.Process(nil, &r)
		}
		eng.Tick(nil, now)
	}
	r := reader.Read{Time: now, Reader: "dock-1", Antenna: 1, EPC: passer, RSSI: -60}
	eng.Process(nil, &r)

	c := NewZoneCollector(testZones())
	var settledView edge.TagView
	eng.Snapshot(now, func(v edge.TagView) {
		c.Add(v)
		if v.EPC == settled {
			settledView = v
			settledView.Zones = slices.Clone(v.Zones)
		}
	})
	snap := c.Collect()
	zones := snap.Zones()
	byID := map[string]ZoneView{}
	for _, z := range zones {
		byID[z.ID] = z
	}
	if len(zones) != 4 || zones[0].ID != "gate-a" || byID["rack-A01"].Room != "3.1" || byID["rack-A01"].Kind != "rack" {
		t.Fatalf("zones = %+v", zones)
	}
	find := func(zone, epc string) (ZoneTag, bool) {
		for _, tg := range byID[zone].Tags {
			if tg.EPC == epc {
				return tg, true
			}
		}
		return ZoneTag{}, false
	}
	if tg, ok := find("rack-A01", settled); !ok || !tg.Settled || tg.RSSI > -49 || tg.RSSI < -51 || tg.Reads < 2 {
		t.Errorf("settled tag in rack-A01: %+v %v", tg, ok)
	}
	if tg, ok := find("rack-A02", settled); !ok || tg.Settled {
		t.Errorf("settled tag also present in rack-A02 (not settled there): %+v %v", tg, ok)
	}
	if tg, ok := find("rack-A02", visitor); !ok || tg.Settled || tg.Reads < 2 {
		t.Errorf("visitor in rack-A02: %+v %v", tg, ok)
	}
	if tg, ok := find("rack-A02", restored); !ok || !tg.Settled || tg.Reads != 0 {
		t.Errorf("restored tag settled in rack-A02 without reads: %+v %v", tg, ok)
	}
	if tg, ok := find("gate-a", passer); !ok || tg.Side != "outside" || tg.Reads != 1 || tg.RSSI != -60 {
		t.Errorf("tag at the gate: %+v %v", tg, ok)
	}
	if len(byID["rack-B01"].Tags) != 0 || byID["rack-B01"].Tags == nil {
		t.Errorf("empty rack: %+v", byID["rack-B01"])
	}
	if again := c.Collect().Zones(); len(again[1].Tags) != 0 {
		t.Errorf("Collect starts a new collection; got %+v", again[1])
	}
	if d, ok := snap.Tag(visitor); !ok || d.Zone != "" || len(d.Zones) != 1 || d.Zones[0].Zone != "rack-A02" {
		t.Errorf("snapshot's visitor detail: %+v %v", d, ok)
	}
	if _, ok := snap.Tag("E2FF"); ok {
		t.Errorf("unknown tag found")
	}

	d := TagDetailOf(settledView)
	if d.EPC != settled || d.Zone != "rack-A01" || d.LastSeen.IsZero() || len(d.Zones) != 2 {
		t.Fatalf("detail = %+v", d)
	}
	if d.Zones[0].Zone != "rack-A01" || !d.Zones[0].Present || d.Zones[1].Zone != "rack-A02" || d.Zones[1].RSSI > -69 {
		t.Errorf("detail zones = %+v", d.Zones)
	}
}

func TestReaderViews(t *testing.T) {
	readers := []reader.Config{
		{ID: "dock-1", Type: reader.TypeLLRP, Antennas: []int{4, 1, 2, 3}},
		{ID: "rack-row-a", Type: reader.TypeSerial},
		{ID: "rack-row-b", Type: reader.TypeMQTT},
		{ID: "replay-1", Type: reader.TypeFile, Provides: []string{"old-dock"}},
	}
	views := ReaderViews(readers, testZones(), map[string]bool{"dock-1": true, "old-dock": true})
	if len(views) != 4 {
		t.Fatalf("views = %+v", views)
	}
	d := views[0]
	if d.ID != "dock-1" || d.Type != "llrp" || !d.Connected || len(d.Antennas) != 4 || d.Antennas[0].Antenna != 1 ||
		!slices.Equal(d.Antennas[0].Zones, []string{"gate-a/outside"}) || !slices.Equal(d.Antennas[1].Zones, []string{"gate-a/inside"}) || d.Antennas[3].Zones != nil {
		t.Errorf("dock-1 = %+v", d)
	}
	a := views[1]
	if a.Connected || len(a.Antennas) != 2 || !slices.Equal(a.Antennas[1].Zones, []string{"rack-A02"}) {
		t.Errorf("rack-row-a (antennas from the zones) = %+v", a)
	}
	if b := views[2]; !slices.Equal(b.Zones, []string{"rack-B01"}) || len(b.Antennas) != 0 {
		t.Errorf("rack-row-b (all antennas) = %+v", b)
	}
	if f := views[3]; f.ID != "old-dock" || f.Type != "file" || !f.Connected {
		t.Errorf("file reader shown as what it provides: %+v", f)
	}
}

func TestNonFiniteNumbersDoNotBreakAnswers(t *testing.T) {
	m := newFakeModel()
	nan := func() float64 { var z float64; return z / z }()
	m.zones[1].Tags[0].RSSI = nan
	m.readers[1].ReadsPerSec = nan
	m.up.LagSeconds = nan
	d := m.tags[movingEPC]
	d.Reads[0].RSSI = nan
	m.tags[movingEPC] = d
	h := Handler(m, quietOpts())
	for _, p := range []string{"/api/zones", "/api/readers", "/api/uplink", "/api/tag/" + movingEPC} {
		if rec := get(t, h, "GET", p); rec.Code != 200 {
			t.Errorf("GET %s with NaN in the model = %d %s", p, rec.Code, rec.Body.String())
		}
	}
}

// sharedModel returns the same slices every time, as a Model built on an
// immutable ZoneSnapshot does; the handler must not write to them.
type sharedModel struct {
	readers []ReaderView
	zones   []ZoneView
	tag     TagDetail
}

func (s *sharedModel) Readers() []ReaderView { return s.readers }
func (s *sharedModel) Zones() []ZoneView     { return s.zones }
func (s *sharedModel) Tag(epc string) (TagDetail, bool) {
	return s.tag, epc == s.tag.EPC
}
func (s *sharedModel) Events(limit int) []json.RawMessage { return nil }
func (s *sharedModel) Uplink() UplinkView                 { return UplinkView{} }

func TestHandlerDoesNotWriteModelData(t *testing.T) {
	nan := math.NaN()
	m := &sharedModel{
		readers: []ReaderView{{ID: "r", ReadsPerSec: nan, Antennas: []AntennaView{{Antenna: 1, ReadsPerSec: nan}}}},
		zones:   manyTags(2000, 4),
		tag:     TagDetail{EPC: movingEPC, Reads: []TagRead{{RSSI: nan}}, Zones: []TagZone{{Zone: "z", RSSI: nan}}},
	}
	m.zones[0].Tags[5].RSSI = nan
	before := slices.Clone(m.zones[1].Tags)
	opts := quietOpts()
	opts.Interval = time.Nanosecond // a new snapshot for (almost) every request
	opts.TagLookupsPerSec = 1000
	h := Handler(m, opts)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				p := []string{"/api/zones", "/api/readers", "/api/zones?epc=0000000A", "/api/tag/" + movingEPC}[(g+i)%4]
				if rec := get(t, h, "GET", p); rec.Code != 200 {
					t.Errorf("GET %s = %d %s", p, rec.Code, rec.Body.String())
				}
			}
		})
	}
	wg.Wait()
	if !math.IsNaN(m.readers[0].ReadsPerSec) || !math.IsNaN(m.readers[0].Antennas[0].ReadsPerSec) ||
		!math.IsNaN(m.zones[0].Tags[5].RSSI) || !math.IsNaN(m.tag.Reads[0].RSSI) || !math.IsNaN(m.tag.Zones[0].RSSI) {
		t.Errorf("the handler wrote to the model's data")
	}
	if !slices.Equal(before, m.zones[1].Tags) {
		t.Errorf("the handler reordered or changed a zone's tags")
	}
}

// The zone page shows each zone's read filter.
func TestZoneViewShowsFilter(t *testing.T) {
	zones := testZones()
	zones[1].Accept = []string{"giai"}
	zones[1].Ignore = []string{"urn:epc:id:giai:0614141.*"}
	c := NewZoneCollector(zones)
	s := c.Collect()
	b, _ := json.Marshal(s.Zones()[1])
	if want := `"accept":["giai"],"ignore":["urn:epc:id:giai:0614141.*"]`; !json.Valid(b) || !strings.Contains(string(b), want) {
		t.Errorf("zone view %s lacks %s", b, want)
	}
	if b, _ := json.Marshal(s.Zones()[0]); strings.Contains(string(b), "accept") {
		t.Errorf("zone without filter shows one: %s", b)
	}
}
