package gateway

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/internal/zonepage"
	"github.com/rfidgw/rfidgw/reader"
)

const (
	recentEvents = 300              // events kept for the page
	pageIdle     = 10 * time.Second // stop snapshotting the engine when nobody looked for this long
	snapEvery    = time.Second
)

// pageState is what the zone page reads. The owner goroutine writes it (it
// alone may touch the engine); HTTP goroutines read copies under mu.
type pageState struct {
	lastLook atomic.Int64 // unix nanos of the last Model call
	stats    *zonepage.ReadStats

	mu     sync.Mutex
	taken  time.Time
	tags   map[string]edge.TagView // engine snapshot, Zones copied
	events []json.RawMessage       // ring, oldest first
}

func newPageState() *pageState {
	return &pageState{stats: zonepage.NewReadStats(zonepage.ReadStatsOptions{}), tags: map[string]edge.TagView{}}
}

func (p *pageState) watched() bool {
	return time.Since(time.Unix(0, p.lastLook.Load())) < pageIdle
}

func (p *pageState) look() { p.lastLook.Store(time.Now().UnixNano()) }

// snapshot copies the engine's view of every tag; owner goroutine only.
func (g *Gateway) snapshotForPage(now time.Time) {
	tags := make(map[string]edge.TagView, len(g.page.tags))
	g.engine.Snapshot(now, func(v edge.TagView) {
		v.Zones = append([]edge.ZoneView(nil), v.Zones...)
		tags[v.EPC] = v
	})
	g.page.mu.Lock()
	g.page.tags, g.page.taken = tags, now
	g.page.mu.Unlock()
}

// recordEvents keeps committed events for the page.
func (p *pageState) recordEvents(events []edge.Event) {
	if len(events) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range events {
		p.events = append(p.events, events[i].AppendJSON(nil))
	}
	if over := len(p.events) - recentEvents; over > 0 {
		p.events = append(p.events[:0:0], p.events[over:]...)
	}
}

// PageModel returns the zone page's view of this gateway.
func (g *Gateway) PageModel() zonepage.Model { return pageModel{g} }

type pageModel struct{ g *Gateway }

func (m pageModel) now() time.Time {
	m.g.page.look()
	// The page's clock is the engine's (a replayed file runs on its own time).
	m.g.clockMu.Lock()
	defer m.g.clockMu.Unlock()
	return m.g.nowLocked()
}

func (m pageModel) Readers() []zonepage.ReaderView {
	now := m.now()
	g := m.g
	g.mu.Lock()
	cfg := g.cfg
	g.mu.Unlock()
	online := g.ReadersOnline()
	antennas := map[string]map[int][]string{} // reader -> antenna -> zones
	for _, z := range cfg.Zones {
		add := func(refs []edge.AntennaRef, label string) {
			for _, ref := range refs {
				if antennas[ref.Reader] == nil {
					antennas[ref.Reader] = map[int][]string{}
				}
				for _, a := range ref.Antennas {
					antennas[ref.Reader][a] = append(antennas[ref.Reader][a], label)
				}
			}
		}
		add(z.Antennas, z.ID)
		add(z.Outside, z.ID+"/outside")
		add(z.Inside, z.ID+"/inside")
	}
	var views []zonepage.ReaderView
	for _, rc := range cfg.Readers {
		for _, id := range rc.ReaderIDs() {
			v := zonepage.ReaderView{ID: id, Type: rc.Type, Connected: online[id]}
			if rc.Type == reader.TypeFile {
				v.Connected = true // a file plays while the gateway runs
			}
			var ants []int
			for a := range antennas[id] {
				ants = append(ants, a)
			}
			sort.Ints(ants)
			for _, a := range ants {
				v.Antennas = append(v.Antennas, zonepage.AntennaView{Antenna: a, Zones: antennas[id][a]})
			}
			views = append(views, v)
		}
	}
	g.page.stats.FillRates(now, views)
	return views
}

func (m pageModel) Zones() []zonepage.ZoneView {
	m.now()
	g := m.g
	g.mu.Lock()
	cfg := g.cfg
	g.mu.Unlock()
	views := make([]zonepage.ZoneView, len(cfg.Zones))
	index := map[string]int{}
	for i, z := range cfg.Zones {
		views[i] = zonepage.ZoneView{ID: z.ID, Kind: z.Kind, Floor: z.Floor, Room: z.Room, Row: z.Row, Rack: z.Rack, Tags: []zonepage.ZoneTag{}}
		index[z.ID] = i
	}
	g.page.mu.Lock()
	defer g.page.mu.Unlock()
	for _, t := range g.page.tags {
		for _, zv := range t.Zones {
			i, ok := index[zv.Zone]
			if !ok {
				continue
			}
			settled := zv.Zone == t.Rack
			if zv.Side == "" && !zv.Present && !settled {
				continue // a rack the tag is not (or no longer) present in
			}
			rssi := zv.SmoothedRSSI
			if zv.Side != "" {
				rssi = zv.PeakRSSI
			}
			views[i].Tags = append(views[i].Tags, zonepage.ZoneTag{EPC: t.EPC, RSSI: rssi, Reads: zv.Reads, Settled: settled, Side: zv.Side})
		}
	}
	for i := range views {
		sort.Slice(views[i].Tags, func(a, b int) bool { return views[i].Tags[a].EPC < views[i].Tags[b].EPC })
	}
	return views
}

func (m pageModel) Tag(epc string) (zonepage.TagDetail, bool) {
	now := m.now()
	g := m.g
	g.page.mu.Lock()
	t, ok := g.page.tags[epc]
	var evs []json.RawMessage
	for i := len(g.page.events) - 1; i >= 0; i-- {
		if strings.Contains(string(g.page.events[i]), `"epc":"`+epc+`"`) {
			evs = append(evs, g.page.events[i])
		}
	}
	g.page.mu.Unlock()
	reads := g.page.stats.TagReads(now, epc)
	if !ok && len(reads) == 0 && len(evs) == 0 {
		return zonepage.TagDetail{}, false
	}
	d := zonepage.TagDetail{EPC: epc, Zone: t.Rack, Candidate: t.Candidate, CandidateSince: t.CandidateSince,
		LastSeen: t.LastSeen, Zones: []zonepage.TagZone{}, Reads: reads, Events: evs}
	for _, zv := range t.Zones {
		d.Zones = append(d.Zones, zonepage.TagZone{Zone: zv.Zone, Side: zv.Side, Present: zv.Present,
			Reads: zv.Reads, RSSI: zv.SmoothedRSSI, PeakRSSI: zv.PeakRSSI})
	}
	if d.Reads == nil {
		d.Reads = []zonepage.TagRead{}
	}
	if d.Events == nil {
		d.Events = []json.RawMessage{}
	}
	return d, true
}

func (m pageModel) Events(limit int) []json.RawMessage {
	m.now()
	g := m.g
	g.page.mu.Lock()
	defer g.page.mu.Unlock()
	out := make([]json.RawMessage, 0, min(limit, len(g.page.events)))
	for i := len(g.page.events) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, g.page.events[i])
	}
	return out
}

func (m pageModel) Uplink() zonepage.UplinkView {
	m.now()
	g := m.g
	st := g.queue.Stats()
	return zonepage.UplinkView{
		Pending:        int64(st.Events),
		Bytes:          st.Bytes,
		LagSeconds:     st.OldestAge.Seconds(),
		KafkaConnected: g.fwd.Connected(),
		Delivered:      uint64(counterValue(metrics.UplinkDelivered)),
		Dropped:        uint64(counterValue(metrics.EventsDropped)),
		LastError:      st.ReadyErr,
	}
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
