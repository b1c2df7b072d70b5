package edge

import (
	"cmp"
	"slices"
	"time"
)

// Stats is a summary of the engine's state for /metrics and the status page.
type Stats struct {
	Tags      int    // tags tracked
	Racked    int    // tags with a settled rack
	RackSlots int    // (tag, rack zone) pairs being smoothed
	GateSlots int    // (tag, gate) pairs being watched
	Timers    int    // pending deadlines
	Reads     uint64 // tag reads used (not ignored)
	// ReadsClamped counts reads stamped more than Config.MaxReadAhead
	// after the last Tick (a reader clock running ahead).
	ReadsClamped uint64
	Ignored      []IgnoredReads
	Readers      []ReaderState
}

// IgnoredReads counts the reads of one reader ignored for one reason
// (ReasonNoZone, ReasonWeak, ...).
type IgnoredReads struct {
	Reader string
	Reason string
	Count  uint64
}

// ReaderState is what the engine believes about a reader's connection.
type ReaderState struct {
	Reader      string
	Online      bool
	OnlineSince time.Time // zero: online since the engine started
	// AntennasOff lists the antennas the reader reported disconnected,
	// ascending; each counts like an offline reader for its zone.
	AntennasOff []int
}

// Stats returns the engine's counters, sorted by reader and reason.
func (e *Engine) Stats() Stats {
	st := Stats{Tags: e.byEPC.n, Timers: len(e.timers), Reads: e.reads, ReadsClamped: e.clamped}
	for i := range e.tags {
		if e.tags[i].epc != "" && e.tags[i].rack >= 0 {
			st.Racked++
		}
	}
	for ti := range e.tags {
		for si := e.tags[ti].firstRack; si >= 0; si = e.rslots[si].next {
			st.RackSlots++
		}
		for gi := e.tags[ti].firstGate; gi >= 0; gi = e.gslots[gi].next {
			st.GateSlots++
		}
	}
	for _, rs := range e.readers {
		var since time.Time
		if rs.onlineSince != 0 {
			since = timeOf(rs.onlineSince)
		}
		var off []int
		for a := range rs.antOff {
			off = append(off, a)
		}
		slices.Sort(off)
		st.Readers = append(st.Readers, ReaderState{Reader: rs.id, Online: rs.online, OnlineSince: since, AntennasOff: off})
		for i, n := range rs.ignored {
			if n > 0 {
				st.Ignored = append(st.Ignored, IgnoredReads{Reader: rs.id, Reason: reasons[i], Count: n})
			}
		}
	}
	slices.SortFunc(st.Readers, func(a, b ReaderState) int { return cmp.Compare(a.Reader, b.Reader) })
	slices.SortFunc(st.Ignored, func(a, b IgnoredReads) int {
		return cmp.Or(cmp.Compare(a.Reader, b.Reader), cmp.Compare(a.Reason, b.Reason))
	})
	return st
}

// TagView is a read-only picture of one tag for the zone tuning page.
// Zones is reused between calls of the Snapshot callback: copy what you keep.
type TagView struct {
	EPC            string
	Rack           string    // settled rack zone id; "" = none
	Candidate      string    // rack zone waiting out its dwell; "" = none
	CandidateSince time.Time // zero when there is no candidate
	LastSeen       time.Time // zero for a restored tag not read since
	Zones          []ZoneView
}

// ZoneView is what the engine knows of a tag in one zone.
type ZoneView struct {
	Zone         string
	Side         string  // "outside" or "inside" for a gate, "" for a rack
	Present      bool    // racks: min_reads within presence_window at the snapshot time
	Reads        int     // reads in the current run (rack) or since the last gate decision (gate side)
	SmoothedRSSI float64 // racks: the time-weighted average the engine compares
	PeakRSSI     float64
	FirstSeen    time.Time
	LastSeen     time.Time
}

// Snapshot calls fn for every tracked tag, in EPC order, as seen at now.
func (e *Engine) Snapshot(now time.Time, fn func(TagView)) {
	t, ok := nanos(now)
	if !ok {
		t = e.now
	}
	order := make([]int32, 0, e.byEPC.n)
	for ti := range e.tags {
		if e.tags[ti].epc != "" {
			order = append(order, int32(ti))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(e.tags[a].epc, e.tags[b].epc) })
	var zones []ZoneView
	for _, ti := range order {
		tg := &e.tags[ti]
		v := TagView{EPC: tg.epc}
		if tg.lastSeen != 0 {
			v.LastSeen = timeOf(tg.lastSeen)
		}
		if tg.rack >= 0 {
			v.Rack = e.zones[tg.rack].id
		}
		if tg.cand >= 0 {
			v.Candidate, v.CandidateSince = e.zones[tg.cand].id, timeOf(tg.candSince)
		}
		zones = zones[:0]
		for si := tg.firstRack; si >= 0; si = e.rslots[si].next {
			s := &e.rslots[si]
			z := &e.zones[s.zone]
			zv := ZoneView{Zone: z.id, Present: s.present(z, t), Reads: int(s.count),
				SmoothedRSSI: roundRSSI(s.smoothed), PeakRSSI: roundRSSI(s.peak)}
			if s.count > 0 {
				zv.FirstSeen, zv.LastSeen = timeOf(s.first), timeOf(s.last)
			}
			zones = append(zones, zv)
		}
		for gi := tg.firstGate; gi >= 0; gi = e.gslots[gi].next {
			g := &e.gslots[gi]
			for i, side := range [2]string{"outside", "inside"} {
				sd := &g.sides[i]
				if sd.count == 0 {
					continue
				}
				zones = append(zones, ZoneView{Zone: e.zones[g.zone].id, Side: side, Reads: int(sd.count),
					PeakRSSI: roundRSSI(sd.peak), FirstSeen: timeOf(sd.first), LastSeen: timeOf(sd.last)})
			}
		}
		slices.SortFunc(zones, func(a, b ZoneView) int { return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.Side, b.Side)) })
		v.Zones = zones
		fn(v)
	}
}
