package zonepage

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// fakeModel is a Model whose state tests change; it counts calls.
type fakeModel struct {
	mu      sync.Mutex
	readers []ReaderView
	zones   []ZoneView
	tags    map[string]TagDetail
	events  []json.RawMessage // newest first
	up      UplinkView

	readersCalls, zonesCalls, tagCalls, eventsCalls, uplinkCalls atomic.Int64
}

func newFakeModel() *fakeModel {
	return &fakeModel{
		readers: []ReaderView{
			{ID: "dock-1", Type: "llrp", Connected: false, Antennas: []AntennaView{{Antenna: 1, Zones: []string{"gate-a/outside"}}, {Antenna: 2, Zones: []string{"gate-a/inside"}}}},
			{ID: "rack-row-a", Type: "serial", Connected: true, ReadsPerSec: 12.5, Antennas: []AntennaView{{Antenna: 1, ReadsPerSec: 6, Zones: []string{"rack-A01"}}, {Antenna: 2, ReadsPerSec: 6.5, Zones: []string{"rack-A02"}}}},
		},
		zones: []ZoneView{
			{ID: "gate-a", Kind: "gate", Floor: "3", Tags: []ZoneTag{}},
			{ID: "rack-A01", Kind: "rack", Floor: "3", Room: "3.1", Row: "A", Rack: "01", Tags: []ZoneTag{
				{EPC: "E28011606000020D8F3A1B2C", RSSI: -48.5, Reads: 9, Settled: true},
				{EPC: "E2801160600002000000BEEF", RSSI: -61, Reads: 3, Settled: true},
			}},
			{ID: "rack-A02", Kind: "rack", Floor: "3", Room: "3.1", Row: "A", Rack: "02", Tags: []ZoneTag{}},
		},
		tags: map[string]TagDetail{
			"E28011606000020D8F3A1B2C": {
				EPC: "E28011606000020D8F3A1B2C", Zone: "rack-A01",
				Zones: []TagZone{{Zone: "rack-A01", Present: true, Reads: 9, RSSI: -48.5, PeakRSSI: -45}},
				Reads: []TagRead{
					{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Reader: "rack-row-a", Antenna: 1, RSSI: -49},
					{Time: time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC), Reader: "rack-row-a", Antenna: 1, RSSI: -48},
				},
				Events: []json.RawMessage{json.RawMessage(eventJSON(1, "rack_move", "E28011606000020D8F3A1B2C", "", "rack-A01"))},
			},
		},
		events: []json.RawMessage{json.RawMessage(eventJSON(1, "rack_move", "E28011606000020D8F3A1B2C", "", "rack-A01"))},
		up:     UplinkView{Pending: 3, Bytes: 1200, LagSeconds: 1.5, KafkaConnected: true, Delivered: 40},
	}
}

// eventJSON builds an event of docs/events.md (as the buffer would hand it out).
func eventJSON(seq int, typ, epc, from, to string) string {
	loc := func(z string) string {
		if z == "" {
			return "null"
		}
		return fmt.Sprintf(`{"zone":%q,"floor":"3","room":"3.1","row":"A","rack":%q}`, z, z[len(z)-2:])
	}
	return fmt.Sprintf(`{"schema":1,"id":"floor3-%d","seq":%d,"gateway":"floor3","type":%q,"epc":%q,`+
		`"time":"2026-11-25T10:00:%02d.000Z","zone":null,"from":%s,"to":%s,`+
		`"evidence":{"reads":5,"first_seen":"2026-11-25T10:00:00.000Z","last_seen":"2026-11-25T10:00:05.000Z","peak_rssi":-45,"readers":["rack-row-a"],"antennas":[1]}}`,
		seq, seq, typ, epc, seq%60, loc(from), loc(to))
}

func (f *fakeModel) Readers() []ReaderView {
	f.readersCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ReaderView, len(f.readers))
	for i, r := range f.readers {
		r.Antennas = append([]AntennaView(nil), r.Antennas...)
		out[i] = r
	}
	return out
}

func (f *fakeModel) Zones() []ZoneView {
	f.zonesCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ZoneView, len(f.zones))
	for i, z := range f.zones {
		z.Tags = append([]ZoneTag(nil), z.Tags...)
		out[i] = z
	}
	return out
}

func (f *fakeModel) Tag(epc string) (TagDetail, bool) {
	f.tagCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.tags[epc]
	return d, ok
}

func (f *fakeModel) Events(limit int) []json.RawMessage {
	f.eventsCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]json.RawMessage(nil), f.events[:min(limit, len(f.events))]...)
}

func (f *fakeModel) Uplink() UplinkView {
	f.uplinkCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up
}

// moveTag moves epc from one zone to another (settled there) and adds the
// rack_move event, as the engine would.
func (f *fakeModel) moveTag(epc, from, to string, seq int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var moved ZoneTag
	for i := range f.zones {
		if f.zones[i].ID != from {
			continue
		}
		for j, t := range f.zones[i].Tags {
			if t.EPC == epc {
				moved = t
				f.zones[i].Tags = append(f.zones[i].Tags[:j:j], f.zones[i].Tags[j+1:]...)
				break
			}
		}
	}
	moved.EPC, moved.Settled, moved.RSSI = epc, true, -50
	for i := range f.zones {
		if f.zones[i].ID == to {
			f.zones[i].Tags = append(f.zones[i].Tags, moved)
		}
	}
	ev := json.RawMessage(eventJSON(seq, "rack_move", epc, from, to))
	f.events = append([]json.RawMessage{ev}, f.events...)
	if d, ok := f.tags[epc]; ok {
		d.Zone = to
		d.Events = append([]json.RawMessage{ev}, d.Events...)
		f.tags[epc] = d
	}
}

func (f *fakeModel) setConnected(id string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.readers {
		if f.readers[i].ID == id {
			f.readers[i].Connected = up
		}
	}
}

func (f *fakeModel) modelCalls() int64 {
	return f.readersCalls.Load() + f.zonesCalls.Load() + f.eventsCalls.Load() + f.uplinkCalls.Load()
}

// manyTags builds zones holding n tags in all, spread over nz rack zones.
func manyTags(n, nz int) []ZoneView {
	zones := make([]ZoneView, nz)
	for i := range zones {
		zones[i] = ZoneView{ID: fmt.Sprintf("rack-B%02d", i+1), Kind: "rack", Floor: "3", Row: "B", Rack: fmt.Sprintf("%02d", i+1)}
	}
	for i := range n {
		z := &zones[i%nz]
		z.Tags = append(z.Tags, ZoneTag{EPC: fmt.Sprintf("E280116060000200%08X", i), RSSI: -40 - float64(i%40), Reads: 1 + i%9, Settled: i%3 == 0})
	}
	return zones
}

// fakeClock is a manual clock for the snapshot and lookup limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
