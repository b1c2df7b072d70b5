package gateway

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/zonepage"
	"github.com/rfidgw/rfidgw/uplink"
)

const (
	recentEvents = 300              // events kept for the page
	pageIdle     = 10 * time.Second // stop snapshotting the engine when nobody looked for this long
	snapEvery    = 500 * time.Millisecond
)

// pageState is what the zone page reads. The owner goroutine fills it (it
// alone may touch the engine); HTTP goroutines read it.
type pageState struct {
	lastLook atomic.Int64 // unix nanos of the last Model call
	stats    *zonepage.ReadStats
	events   *zonepage.EventLog

	mu   sync.Mutex
	snap *zonepage.ZoneSnapshot
}

func newPageState() *pageState {
	return &pageState{
		stats:  zonepage.NewReadStats(zonepage.ReadStatsOptions{}),
		events: zonepage.NewEventLog(recentEvents),
	}
}

func (p *pageState) watched() bool {
	return time.Since(time.Unix(0, p.lastLook.Load())) < pageIdle
}

// snapshotForPage copies the engine's view of every tag; owner goroutine only.
func (g *Gateway) snapshotForPage(now time.Time) {
	c := zonepage.NewZoneCollector(g.zones()).WithSettings(g.edgeSettings())
	g.engine.Snapshot(now, c.Add)
	snap := c.Collect()
	g.page.mu.Lock()
	g.page.snap = snap
	g.page.mu.Unlock()
}

// PageModel returns the zone page's view of this gateway.
func (g *Gateway) PageModel() zonepage.Model { return pageModel{g} }

type pageModel struct{ g *Gateway }

// now marks the page as watched and returns the engine's clock (a replayed
// file runs on its own time).
func (m pageModel) now() time.Time {
	m.g.page.lastLook.Store(time.Now().UnixNano())
	return m.g.now()
}

func (m pageModel) snapshot() *zonepage.ZoneSnapshot {
	m.g.page.mu.Lock()
	defer m.g.page.mu.Unlock()
	return m.g.page.snap
}

func (m pageModel) Readers() []zonepage.ReaderView {
	now := m.now()
	g := m.g
	g.mu.Lock()
	cfg := g.cfg
	g.mu.Unlock()
	online := g.ReadersOnline()
	for _, rc := range cfg.Readers {
		if rc.IsRecorded() {
			for _, id := range rc.ReaderIDs() {
				online[id] = true // a file plays while the gateway runs
			}
		}
	}
	views := zonepage.ReaderViews(cfg.Readers, cfg.Zones, online)
	off := g.AntennasOff()
	for i := range views {
		for j := range views[i].Antennas {
			views[i].Antennas[j].Disconnected = off[views[i].ID][views[i].Antennas[j].Antenna]
		}
	}
	g.page.stats.FillRates(now, views)
	filtered := g.FilteredReads()
	desc := filterText(cfg.Filter.Accept, cfg.Filter.Ignore)
	for i := range views {
		views[i].Filtered, views[i].Filter = filtered[views[i].ID], desc
	}
	return views
}

func (m pageModel) Zones() []zonepage.ZoneView {
	m.now()
	if s := m.snapshot(); s != nil {
		return s.Zones()
	}
	// Before the first snapshot: the zones, empty.
	return zonepage.NewZoneCollector(m.g.zones()).WithSettings(m.g.edgeSettings()).Collect().Zones()
}

func (m pageModel) Tag(epc string) (zonepage.TagDetail, bool) {
	now := m.now()
	g := m.g
	var d zonepage.TagDetail
	ok := false
	if s := m.snapshot(); s != nil {
		d, ok = s.Tag(epc)
	}
	reads := g.page.stats.TagReads(now, epc)
	evs := g.page.events.ForTag(epc, 20)
	if !ok && len(reads) == 0 && len(evs) == 0 {
		return zonepage.TagDetail{}, false
	}
	d.EPC, d.At, d.Reads, d.Events = epc, now, reads, evs
	if d.Zones == nil {
		d.Zones = []zonepage.TagZone{}
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
	return m.g.page.events.Recent(limit)
}

func (m pageModel) Uplink() zonepage.UplinkView {
	m.now()
	g := m.g
	st := g.queue.Stats()
	lastErr := st.ReadyErr
	if lastErr == "" {
		lastErr = st.DiskFull
	}
	return zonepage.UplinkView{
		Pending:        int64(st.Events),
		Bytes:          st.Bytes,
		LagSeconds:     st.OldestAge.Seconds(),
		KafkaConnected: g.fwd.Connected(),
		Delivered:      g.fwd.Delivered(),
		Dropped:        st.Dropped,
		LastError:      lastErr,
	}
}

// recordEvents keeps committed events for the page, as Kafka gets them:
// with the id <gateway>-<epoch>-<seq> and the "epoch" field (epochOf gives
// a seq's stream epoch, the buffer's), so that the page and `rfidgw tail`
// show the same id.
func (p *pageState) recordEvents(events []edge.Event, epochOf func(seq uint64) string) {
	for i := range events {
		e := &events[i]
		js := e.AppendJSON(nil)
		if epochOf != nil {
			js = uplink.AddEpoch(js, e.Gateway, epochOf(e.Seq), e.Seq)
		}
		p.events.AddJSON(e.EPC, js)
	}
}

// zones is the current zone set (a reload may replace it).
func (g *Gateway) edgeSettings() edge.Settings {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg.Edge
}

// Clock is the engine's clock for the page: recorded time while a reads
// file plays.
func (m pageModel) Clock() zonepage.Clock {
	return zonepage.Clock{Now: m.g.now(), Recorded: m.g.virtual}
}

func (g *Gateway) zones() []edge.Zone {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg.Zones
}

// filterText describes the gateway-wide filter for the page.
func filterText(accept, ignore []string) string {
	var parts []string
	if len(accept) > 0 {
		parts = append(parts, "accept "+strings.Join(accept, ", "))
	}
	if len(ignore) > 0 {
		parts = append(parts, "ignore "+strings.Join(ignore, ", "))
	}
	return strings.Join(parts, " · ")
}
