package zonepage

import (
	"slices"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
)

// This file helps the Model's implementer build the page's views from the
// config and from the edge engine's snapshot (edge.Engine.Snapshot), so
// that what "a tag in a zone" means is decided here, next to the page.

// ReaderViews lists the configured readers (a file reader as each reader id
// it provides) with their antennas (the reader's antennas: list, plus those
// the zones name) and the zones each antenna feeds; zones that take all of a
// reader's antennas are in ReaderView.Zones. connected gives the connection
// state per reader id. Rates are left zero: ReadStats.FillRates fills them.
func ReaderViews(readers []reader.Config, zones []edge.Zone, connected map[string]bool) []ReaderView {
	type feed struct {
		all      []string         // zones fed by every antenna
		antennas map[int][]string // port -> zones
	}
	feeds := map[string]*feed{}
	add := func(refs []edge.AntennaRef, label string) {
		for _, ref := range refs {
			f := feeds[ref.Reader]
			if f == nil {
				f = &feed{antennas: map[int][]string{}}
				feeds[ref.Reader] = f
			}
			if len(ref.Antennas) == 0 {
				f.all = appendNew(f.all, label)
			}
			for _, a := range ref.Antennas {
				f.antennas[a] = appendNew(f.antennas[a], label)
			}
		}
	}
	for _, z := range zones {
		if z.Kind == edge.KindGate {
			add(z.Outside, z.ID+"/outside")
			add(z.Inside, z.ID+"/inside")
		} else {
			add(z.Antennas, z.ID)
		}
	}
	var out []ReaderView
	view := func(id, typ string, ports []int) {
		v := ReaderView{ID: id, Type: typ, Connected: connected[id], Antennas: []AntennaView{}}
		f := feeds[id]
		if f != nil {
			v.Zones = f.all
			for p := range f.antennas {
				ports = appendNew(ports, p)
			}
		}
		slices.Sort(ports)
		for _, p := range ports {
			av := AntennaView{Antenna: p}
			if f != nil {
				av.Zones = f.antennas[p]
			}
			v.Antennas = append(v.Antennas, av)
		}
		out = append(out, v)
	}
	for _, r := range readers {
		if r.IsRecorded() && len(r.Provides) > 0 {
			for _, id := range r.Provides {
				view(id, r.Type, nil)
			}
			continue
		}
		view(r.ID, r.Type, slices.Clone(r.Antennas))
	}
	return out
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// ZoneCollector gathers the engine's tag views into the zones' tag lists
// and the tags' details. Use it in the goroutine that owns the engine, and
// hand the result to the Model's HTTP side:
//
//	c := zonepage.NewZoneCollector(cfg.Zones)  // again after a reload
//	engine.Snapshot(now, c.Add)
//	snap := c.Collect()                        // immutable; e.g. an atomic.Pointer
//
// A tag is in a rack while it is present there (min_reads within
// presence_window) or settled there; it is on a gate side while the gate
// holds reads of it on that side.
type ZoneCollector struct {
	config   []edge.Zone
	index    map[string]int
	settings map[string]*ZoneSettings // zone id -> effective settings
	cur      *ZoneSnapshot
}

// ZoneSnapshot is one collection: read-only, safe to share between
// goroutines.
type ZoneSnapshot struct {
	zones    []ZoneView
	tags     map[string]TagDetail
	settings map[string]*ZoneSettings // read-only, shared with the collector
}

// NewZoneCollector prepares a collector for the configured zones, with
// the default edge settings (WithSettings gives the config's).
func NewZoneCollector(zones []edge.Zone) *ZoneCollector {
	c := &ZoneCollector{config: zones, index: make(map[string]int, len(zones))}
	for i, z := range zones {
		c.index[z.ID] = i
	}
	return c.WithSettings(edge.DefaultSettings())
}

// WithSettings sets the edge: settings the zones' overrides apply to, so
// that the page shows each zone's effective min_rssi, hysteresis_db and
// dwell and explains decisions with them. It returns c.
func (c *ZoneCollector) WithSettings(s edge.Settings) *ZoneCollector {
	c.settings = make(map[string]*ZoneSettings, len(c.config))
	for i := range c.config {
		c.settings[c.config[i].ID] = zoneSettingsOf(c.config[i].Overrides.Apply(s))
	}
	c.reset()
	return c
}

func (c *ZoneCollector) reset() {
	s := &ZoneSnapshot{zones: make([]ZoneView, len(c.config)), tags: map[string]TagDetail{}, settings: c.settings}
	for i, z := range c.config {
		s.zones[i] = ZoneView{ID: z.ID, Kind: z.Kind, Floor: z.Floor, Room: z.Room, Row: z.Row, Rack: z.Rack, Accept: z.Accept, Ignore: z.Ignore, Tags: []ZoneTag{}, Settings: c.settings[z.ID]}
	}
	c.cur = s
}

// Add files one tag (an edge.Engine.Snapshot callback). It copies what it
// keeps, as the engine reuses v.Zones.
func (c *ZoneCollector) Add(v edge.TagView) {
	zones := c.cur.zones
	c.cur.tags[v.EPC] = TagDetailOf(v) // explained on lookup (Tag)
	settledSeen := false
	for _, zv := range v.Zones {
		i, ok := c.index[zv.Zone]
		if !ok {
			continue // a zone removed by a reload the view predates
		}
		z := &zones[i]
		if zv.Side != "" {
			// Gates keep no smoothed RSSI: show the peak.
			z.Tags = append(z.Tags, ZoneTag{EPC: v.EPC, RSSI: zv.PeakRSSI, Reads: zv.Reads, Side: zv.Side})
			continue
		}
		settled := v.Rack == zv.Zone
		settledSeen = settledSeen || settled
		if zv.Present || settled {
			z.Tags = append(z.Tags, ZoneTag{EPC: v.EPC, RSSI: zv.SmoothedRSSI, Reads: zv.Reads, Settled: settled})
		}
	}
	if v.Rack != "" && !settledSeen {
		// Settled but not read there lately (e.g. restored after a restart).
		if i, ok := c.index[v.Rack]; ok {
			zones[i].Tags = append(zones[i].Tags, ZoneTag{EPC: v.EPC, Settled: true})
		}
	}
}

// Collect returns what was gathered since the last Collect and starts a
// new collection.
func (c *ZoneCollector) Collect() *ZoneSnapshot {
	s := c.cur
	c.reset()
	return s
}

// Zones returns the zones in config order with their tags. The handler
// does not modify them, so a Model may return them as they are.
func (s *ZoneSnapshot) Zones() []ZoneView { return s.zones }

// Tag returns the engine's part of one tag's detail (see TagDetailOf).
func (s *ZoneSnapshot) Tag(epc string) (TagDetail, bool) {
	d, ok := s.tags[epc]
	if !ok {
		return d, false
	}
	// The decision is worked out for the tags someone opens only (lookups
	// are rate-limited), not for every tag of every snapshot; on a copy,
	// as the snapshot is shared.
	d.Zones = append([]TagZone(nil), d.Zones...)
	explain(&d, s.settings)
	return d, true
}

// TagDetailOf converts the engine's view of one tag into the page's tag
// detail; the Model adds Reads (ReadStats.TagReads), Events and At. The
// decision fields (roles, margins, dwell) need the zones' settings: a
// ZoneCollector fills them.
func TagDetailOf(v edge.TagView) TagDetail {
	d := TagDetail{
		EPC: v.EPC, Zone: v.Rack, Candidate: v.Candidate, CandidateSince: v.CandidateSince,
		LastSeen: v.LastSeen, Zones: make([]TagZone, 0, len(v.Zones)),
	}
	for _, zv := range v.Zones {
		d.Zones = append(d.Zones, TagZone{Zone: zv.Zone, Side: zv.Side, Present: zv.Present, Reads: zv.Reads,
			RSSI: zv.SmoothedRSSI, PeakRSSI: zv.PeakRSSI})
	}
	return d
}
