package hub

import (
	"log/slog"
	"sort"
	"sync"
	"time"
)

// statusMark is what a gateway status says about a stream epoch: every seq
// below bound has left the gateway's buffer (delivered or named by a gap
// event). Once the audit's consumer has read every events partition up to
// the end offsets seen when the status arrived (ends), an unseen seq below
// bound is missing.
type statusMark struct {
	bound uint64
	ends  map[int32]int64
}

// openSpan is a run of unseen seqs the window gave up on, still open.
type openSpan struct {
	span
	since time.Time
}

// stream is the audit of one gateway stream epoch.
type stream struct {
	gateway, epoch string
	first          uint64 // first seq of the epoch (1 unless a status said otherwise)
	win            window
	open           []openSpan // unseen seqs below the window's floor, not judged yet
	lost           spanSet    // judged missing or dropped by policy
	declared       spanSet    // named by gap events
	mark           *statusMark
	stuckAt        uint64 // floor value when stuckSince was set
	stuckSince     time.Time
	maxSeenAt      time.Time // hub clock when max last grew
	lastSeq        uint64    // from status

	delivered, duplicates, gapEvents uint64
	missing, gapped, late, conflicts uint64
	rollbacks                        uint64
}

// Accounted reports whether every seq from first to the highest known one
// is delivered or judged (nothing open).
func (s *stream) openCount() uint64 {
	n := uint64(0)
	for _, o := range s.open {
		n += o.Hi - o.Lo + 1
	}
	if lo, hi, ok := s.win.firstUnseenRun(); ok {
		n += hi - lo + 1
		// further unseen seqs inside the window
		for q := hi + 1; q <= s.win.max; q++ {
			if !s.win.has(q) {
				n++
			}
		}
	}
	return n
}

// gatewayState is the audit's view of one gateway.
type gatewayState struct {
	id         string
	epochs     []*stream // oldest first
	current    string    // epoch of the last status
	lastStatus Status
	statusAt   time.Time // hub clock
	heartbeat  time.Time // gateway clock of the last status
}

func (g *gatewayState) stream(epoch string) *stream {
	for i := len(g.epochs) - 1; i >= 0; i-- {
		if g.epochs[i].epoch == epoch {
			return g.epochs[i]
		}
	}
	return nil
}

// Audit checks every gateway stream epoch: duplicates, holes, gaps,
// rollbacks. It is safe for concurrent use.
type Audit struct {
	mu          sync.Mutex
	gws         map[string]*gatewayState
	limit       int
	holeTimeout time.Duration
	log         *slog.Logger
	// positions returns the next offset the consumer will read per events
	// partition; ends the partitions' end offsets now. Both nil in unit tests
	// (marks are then satisfied at once).
	positions func() map[int32]int64
	ends      func() map[int32]int64
	now       func() time.Time

	totals Totals
}

// Totals are the audit's counters over every gateway.
type Totals struct {
	Events, Delivered, Duplicates, Missing, Gapped, Late, Conflicts, Rollbacks, GapEvents uint64
}

// NewAudit returns an audit with the given dedupe window and hole timeout.
func NewAudit(window int, holeTimeout time.Duration, log *slog.Logger) *Audit {
	if log == nil {
		log = slog.Default()
	}
	return &Audit{gws: map[string]*gatewayState{}, limit: window, holeTimeout: holeTimeout, log: log, now: time.Now}
}

func (a *Audit) gateway(id string) *gatewayState {
	g := a.gws[id]
	if g == nil {
		g = &gatewayState{id: id}
		a.gws[id] = g
	}
	return g
}

func (a *Audit) streamOf(gw, epoch string, first uint64) *stream {
	g := a.gateway(gw)
	if s := g.stream(epoch); s != nil {
		return s
	}
	s := &stream{gateway: gw, epoch: epoch, first: max(first, 1)}
	s.win = newWindow(s.first, a.limit)
	g.epochs = append(g.epochs, s)
	sort.SliceStable(g.epochs, func(i, j int) bool { return g.epochs[i].epoch < g.epochs[j].epoch })
	return s
}

// Verdict is what the audit says about one event.
type Verdict int

// Verdicts of Audit.Event.
const (
	VerdictNew       Verdict = iota // use it
	VerdictDuplicate                // drop it: delivered before
	VerdictRollback                 // the same id with other content: use it, the gateway's stream was rolled back
)

// Event audits one event (value is its raw JSON, for the fingerprint).
func (a *Audit) Event(e *Event, value []byte) Verdict {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.totals.Events++
	s := a.streamOf(e.Gateway, e.Epoch, 1)
	if e.Type == "gap" {
		s.declared.Add(e.FirstSeq, e.LastSeq)
	}
	fp := fingerprint(value)
	v := VerdictNew
	switch s.win.add(e.Seq, fp, func(lo, hi uint64) {
		s.open = append(s.open, openSpan{span{Lo: lo, Hi: hi}, a.now()})
	}) {
	case addNew:
		if e.Seq == s.win.max {
			s.maxSeenAt = a.now()
		}
	case addDuplicate:
		v = VerdictDuplicate
	case addConflict:
		v = VerdictRollback
	case addBelow:
		v = a.below(s, e.Seq)
	}
	switch v {
	case VerdictNew:
		s.delivered++
		a.totals.Delivered++
		if e.Type == "gap" {
			s.gapEvents++
			a.totals.GapEvents++
		}
	case VerdictDuplicate:
		s.duplicates++
		a.totals.Duplicates++
	case VerdictRollback:
		s.conflicts++
		a.totals.Conflicts++
		a.log.Error("ROLLBACK: an event id came back with other content: the gateway's stream was rolled back (a restored snapshot of its data dir?); keeping the new event",
			"gateway", e.Gateway, "epoch", e.Epoch, "seq", e.Seq)
	}
	return v
}

// below handles a seq under the window's floor: a late arrival into an
// open or judged hole is new; anything else was seen before.
func (a *Audit) below(s *stream, seq uint64) Verdict {
	for i := range s.open {
		o := &s.open[i]
		if seq < o.Lo || seq > o.Hi {
			continue
		}
		switch {
		case o.Lo == o.Hi:
			s.open = append(s.open[:i], s.open[i+1:]...)
		case seq == o.Lo:
			o.Lo++
		case seq == o.Hi:
			o.Hi--
		default:
			rest := openSpan{span{Lo: seq + 1, Hi: o.Hi}, o.since}
			o.Hi = seq - 1
			s.open = append(s.open, rest)
		}
		return VerdictNew
	}
	if s.lost.Remove(seq) {
		s.late++
		a.totals.Late++
		if s.declared.Contains(seq) {
			s.gapped--
			a.totals.Gapped--
		} else {
			s.missing--
			a.totals.Missing--
			a.log.Warn("late event: arrived after it was reported missing", "gateway", s.gateway, "epoch", s.epoch, "seq", seq)
		}
		return VerdictNew
	}
	if seq < s.first {
		return VerdictNew // before the epoch's first seq as the status told it: not tracked
	}
	return VerdictDuplicate
}

// Status takes a gateway status: the epoch's first seq, how far its buffer
// has moved, readers. A startup status whose last_seq is below what the hub
// has seen of that epoch, sent after the hub saw it, is a rolled-back stream.
func (a *Audit) Status(st *Status) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g := a.gateway(st.Gateway)
	if st.Time.Before(g.heartbeat) {
		return // an older status arriving late
	}
	g.lastStatus, g.statusAt, g.heartbeat = *st, a.now(), st.Time
	if st.Epoch == "" {
		return
	}
	g.current = st.Epoch
	s := a.streamOf(st.Gateway, st.Epoch, st.EpochFirstSeq)
	if st.EpochFirstSeq > s.first {
		s.first = st.EpochFirstSeq
		if s.win.floor < s.first {
			s.win.forceFloor(s.first, func(lo, hi uint64) {}) // below the epoch: not holes
		}
		kept := s.open[:0]
		for _, o := range s.open {
			if o.Hi >= s.first {
				o.Lo = max(o.Lo, s.first)
				kept = append(kept, o)
			}
		}
		s.open = kept
	}
	s.lastSeq = st.LastSeq
	if st.Kind == "startup" && st.LastSeq+1 < s.win.max && !s.maxSeenAt.IsZero() && st.Time.After(s.maxSeenAt.Add(5*time.Second)) {
		s.rollbacks++
		a.totals.Rollbacks++
		a.log.Error("ROLLBACK: the gateway restarted with a last seq below what the hub already received (a restored snapshot of its data dir?); its next events reuse ids and are kept",
			"gateway", st.Gateway, "epoch", st.Epoch, "status_last_seq", st.LastSeq, "hub_max_seq", s.win.max)
		// The stream goes on from the gateway's last seq: a new branch.
		s.win = newWindow(st.LastSeq+1, a.limit)
		s.open = nil
		s.mark = nil
		return
	}
	bound := st.OldestSeq
	if bound == 0 {
		bound = st.LastSeq + 1
	}
	var ends map[int32]int64
	if a.ends != nil {
		ends = a.ends()
	}
	s.mark = &statusMark{bound: bound, ends: ends}
}

// Settle judges the holes that can no longer be filled: those below a
// status bound once the consumer has read past the offsets of that status,
// and those open longer than hole_timeout.
func (a *Audit) Settle() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var pos map[int32]int64
	if a.positions != nil {
		pos = a.positions()
	}
	for _, g := range a.gws {
		for _, s := range g.epochs {
			bound := uint64(0)
			if m := s.mark; m != nil && passed(pos, m.ends) {
				bound = m.bound
			}
			// open spans
			kept := s.open[:0]
			for _, o := range s.open {
				switch {
				case o.Hi < bound || now.Sub(o.since) >= a.holeTimeout:
					a.judge(s, o.Lo, o.Hi, o.Hi >= bound)
				case o.Lo < bound:
					a.judge(s, o.Lo, bound-1, false)
					o.Lo = bound
					kept = append(kept, o)
				default:
					kept = append(kept, o)
				}
			}
			s.open = kept
			// holes inside the window
			for {
				lo, hi, ok := s.win.firstUnseenRun()
				if !ok {
					s.stuckSince = time.Time{}
					break
				}
				if s.stuckSince.IsZero() || s.stuckAt != lo {
					s.stuckAt, s.stuckSince = lo, now
				}
				timedOut := now.Sub(s.stuckSince) >= a.holeTimeout
				if lo >= bound && !timedOut {
					break
				}
				if !timedOut {
					hi = min(hi, bound-1)
				}
				a.judge(s, lo, hi, lo >= bound)
				s.win.forceFloor(hi+1, func(lo, hi uint64) {})
				s.stuckSince = time.Time{}
			}
			// the gateway's buffer moved past seqs above anything seen
			if bound > s.win.floor && bound-1 > s.win.max {
				lo := s.win.floor
				a.judge(s, lo, bound-1, false)
				s.win.forceFloor(bound, func(lo, hi uint64) {})
			}
		}
	}
}

// passed reports whether the consumer positions reached the end offsets.
func passed(pos, ends map[int32]int64) bool {
	for p, e := range ends {
		if pos[p] < e {
			return false
		}
	}
	return true
}

// judge marks [lo, hi] lost: dropped by policy where gap events say so,
// missing elsewhere.
func (a *Audit) judge(s *stream, lo, hi uint64, byTimeout bool) {
	gapped := s.declared.Overlap(lo, hi)
	missing := hi - lo + 1 - gapped
	s.lost.Add(lo, hi)
	s.gapped += gapped
	s.missing += missing
	a.totals.Gapped += gapped
	a.totals.Missing += missing
	if missing > 0 {
		why := "the gateway's buffer has moved past them"
		if byTimeout {
			why = "hole_timeout passed"
		}
		a.log.Error("MISSING events: seqs neither delivered nor named by a gap event", "gateway", s.gateway,
			"epoch", s.epoch, "seqs", spanString(lo, hi), "missing", missing, "because", why)
	}
	if len(s.lost) > 4096 { // bound the list: merge the oldest
		s.lost[1].Lo = s.lost[0].Lo
		s.lost = s.lost[1:]
	}
}

func spanString(lo, hi uint64) string {
	if lo == hi {
		return utoa(lo)
	}
	return utoa(lo) + ".." + utoa(hi)
}

// Totals returns the counters over every gateway.
func (a *Audit) Totals() Totals {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.totals
}

// EpochReport is one gateway epoch in /gateways.
type EpochReport struct {
	Epoch         string   `json:"epoch"`
	FirstSeq      uint64   `json:"first_seq"`
	HighestSeq    uint64   `json:"highest_seq"`
	LastSeq       uint64   `json:"gateway_last_seq"` // from status
	Delivered     uint64   `json:"delivered"`
	Duplicates    uint64   `json:"duplicates_dropped"`
	HolesOpen     uint64   `json:"holes_open"`
	Missing       uint64   `json:"missing"`
	MissingRanges []string `json:"missing_ranges"`
	Gapped        uint64   `json:"dropped_by_policy"`
	GapEvents     uint64   `json:"gap_events"`
	Late          uint64   `json:"late"`
	Rollbacks     uint64   `json:"rollbacks"`
	MemoryBytes   int      `json:"memory_bytes"`
}

// GatewayReport is one gateway in /gateways.
type GatewayReport struct {
	Gateway        string        `json:"gateway"`
	Epoch          string        `json:"epoch"`
	LastHeartbeat  *time.Time    `json:"last_heartbeat"`
	Kind           string        `json:"last_status_kind"`
	ReadersOffline []string      `json:"readers_offline"`
	BufferEvents   int64         `json:"buffer_events"`
	LagSeconds     float64       `json:"lag_seconds"`
	Connected      bool          `json:"uplink_connected"`
	HolesOpen      uint64        `json:"holes_open"`
	Missing        uint64        `json:"missing"`
	MissingRanges  []string      `json:"missing_ranges"`
	Duplicates     uint64        `json:"duplicates_dropped"`
	GapEvents      uint64        `json:"gap_events"`
	Rollbacks      uint64        `json:"rollbacks"`
	Epochs         []EpochReport `json:"epochs"`
}

// Gateways reports every gateway, sorted by id.
func (a *Audit) Gateways() []GatewayReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]GatewayReport, 0, len(a.gws))
	for _, g := range a.gws {
		r := GatewayReport{Gateway: g.id, Epoch: g.current, Kind: g.lastStatus.Kind,
			BufferEvents: g.lastStatus.BufferEvents, LagSeconds: g.lastStatus.LagSeconds,
			Connected: g.lastStatus.UplinkConnected, ReadersOffline: []string{}, MissingRanges: []string{}}
		if !g.heartbeat.IsZero() {
			t := g.heartbeat
			r.LastHeartbeat = &t
		}
		for id, st := range g.lastStatus.Readers {
			if st != "online" {
				r.ReadersOffline = append(r.ReadersOffline, id)
			}
		}
		sort.Strings(r.ReadersOffline)
		for _, s := range g.epochs {
			e := EpochReport{Epoch: s.epoch, FirstSeq: s.first, HighestSeq: s.win.max, LastSeq: s.lastSeq,
				Delivered: s.delivered, Duplicates: s.duplicates, HolesOpen: s.openCount(), Missing: s.missing,
				MissingRanges: []string{}, Gapped: s.gapped, GapEvents: s.gapEvents, Late: s.late,
				Rollbacks: s.rollbacks + s.conflicts, MemoryBytes: s.win.bytes() + cap(s.open)*40 + cap(s.lost)*16 + cap(s.declared)*16 + 200}
			for _, l := range s.lost {
				if m := l.Hi - l.Lo + 1 - s.declared.Overlap(l.Lo, l.Hi); m > 0 && len(e.MissingRanges) < 100 {
					e.MissingRanges = append(e.MissingRanges, spanString(l.Lo, l.Hi))
				}
			}
			r.HolesOpen += e.HolesOpen
			r.Missing += e.Missing
			r.Duplicates += e.Duplicates
			r.GapEvents += e.GapEvents
			r.Rollbacks += e.Rollbacks
			r.MissingRanges = append(r.MissingRanges, e.MissingRanges...)
			r.Epochs = append(r.Epochs, e)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Gateway < out[j].Gateway })
	return out
}
