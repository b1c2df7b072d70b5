package edge

import (
	"cmp"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Engine turns reads into movement events. It is not safe for concurrent
// use: one owner goroutine calls every method.
//
// Wiring (the owner):
//
//	eng, err := edge.New(cfg)             // config errors name their key path
//	eng.Restore(epc, rack)                // for each persisted tag, before any read
//	events = eng.Process(events, &read)   // every read and status read, in arrival order
//	events = eng.Tick(events, now)        // every 100 ms..1 s: timeouts (departs, gate decisions)
//	changes = eng.TakeStateChanges(nil)   // persist with the events, same transaction
//	events = eng.Flush(events, lastRead)  // end of a replay input
//	err = eng.Reconfigure(newCfg)         // zone reload; state of kept zones survives
//
// Time is whatever the owner passes: a read's Time in Process, now in Tick.
// The engine's clock never goes back; an older read counts as "now".
// Timeouts fire in order of the time they fell due and are stamped with that
// time, so the events do not depend on how often Tick is called: replaying
// the same reads gives the same events, byte for byte.
type Engine struct {
	log *slog.Logger

	l          *layout
	zones      []zoneState // == l.zones
	readers    map[string]*readerState
	lastReader *readerState

	byEPC    epcIndex
	tags     []tagState
	freeTags []int32
	rslots   []rackSlot
	freeRack int32
	gslots   []gateSlot
	freeGate int32
	timers   []timer
	seq      uint64

	started bool
	start   int64 // ns; first time the engine was given
	now     int64 // ns; never goes back

	changes []StateChange
	reads   uint64

	unknownReaders int
	maxAhead       int64 // ns; Config.MaxReadAhead
	lastTick       int64 // ns; time of the last Tick; 0 = none yet
	clamped        uint64

	sink StatsSink // nil: counts stay in Stats only
}

// StatsSink receives the engine's counters as they change, for the owner to
// export (the daemon feeds Prometheus from it). The engine calls it from the
// owner's goroutine, inside Process and Tick: it must not block.
type StatsSink interface {
	// IgnoredCounter returns the counter of reads of reader ignored for
	// reason (ReasonNoZone, ...); the engine asks once per pair and keeps it.
	IgnoredCounter(reader, reason string) Counter
	// TagsTracked is called at every Tick with the number of tags tracked.
	TagsTracked(n int)
}

// Counter is one monotonic count of a StatsSink (a prometheus.Counter is one).
type Counter interface{ Inc() }

// SetStatsSink makes s receive the engine's counters from now on; nil stops
// it. Counts from before are in Stats only.
func (e *Engine) SetStatsSink(s StatsSink) {
	e.sink = s
	for _, rs := range e.readers {
		rs.sinkCtr = [len(reasons)]Counter{}
	}
}

// StateChange is a change of a tag's settled rack, to be persisted in the
// same transaction as the events that came with it. Rack "" means the tag
// has no rack any more (delete the record).
type StateChange struct {
	EPC  string
	Rack string
}

// Reasons a read is ignored, as counted in Stats and in the
// rfidgw_reads_ignored_total metric.
const (
	ReasonNoZone  = "no_zone"  // its (reader, antenna) belongs to no zone
	ReasonWeak    = "weak"     // weaker than the zone's min_rssi
	ReasonNoEPC   = "no_epc"   // a tag read without an EPC
	ReasonBadTime = "bad_time" // no usable timestamp
	// ReasonLate: a read older than the engine clock by more than LateSlack
	// that could only have made a placement, a move or a gate crossing out
	// of old and new reads, or undone a departure already sent.
	ReasonLate = "late"
)

var reasons = [...]string{ReasonNoZone, ReasonWeak, ReasonNoEPC, ReasonBadTime, ReasonLate}

const (
	ignNoZone = iota
	ignWeak
	ignNoEPC
	ignBadTime
	ignLate
)

// LateSlack is how much older than the engine clock a read may be and still
// count as happening now (ordinary jitter between readers and sources).
// An older read is late: a reader that held its reports during a network
// cut sends them in a burst when it is back.
const LateSlack = 2 * time.Second

// MaxLate is how far back a late read is still used at all.
const MaxLate = 15 * time.Minute

type readerState struct {
	id          string
	routes      *routeTable // nil: no zone uses this reader
	online      bool
	onlineSince int64
	zones       []int32
	// antOff holds the antennas the reader reported disconnected (status
	// reads with an antenna) while it stays online; each counts for the
	// zone it feeds like an offline reader. Bounded by maxAntennasOff.
	antOff  map[int]struct{}
	ignored [len(reasons)]uint64
	sinkCtr [len(reasons)]Counter // from StatsSink.IgnoredCounter, looked up once
}

func (rs *readerState) route(antenna int) route {
	t := rs.routes
	if t == nil {
		return noRoute
	}
	if antenna >= 0 && antenna < len(t.byAntenna) {
		if r := t.byAntenna[antenna]; r.zone >= 0 {
			return r
		}
	}
	return t.all
}

func (e *Engine) ignore(rs *readerState, reason int) {
	rs.ignored[reason]++
	if e.sink == nil {
		return
	}
	if rs.sinkCtr[reason] == nil {
		rs.sinkCtr[reason] = e.sink.IgnoredCounter(rs.id, reasons[reason])
	}
	rs.sinkCtr[reason].Inc()
}

// tagState is what the engine keeps per tag (48 bytes); per-zone detail
// lives in rack and gate slots linked from it.
type tagState struct {
	epc       string
	candSince int64 // ns; when cand became the candidate
	lastSeen  int64 // ns; last read in any zone
	firstRack int32 // rack slot list; -1 = none
	firstGate int32 // gate slot list; -1 = none
	rack      int16 // settled rack zone; -1 = none
	cand      int16 // rack zone waiting out its dwell; -1 = none
}

// New checks cfg and returns an engine with no tag state.
func New(cfg Config) (*Engine, error) {
	l, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		log:      cfg.Logger,
		readers:  make(map[string]*readerState),
		byEPC:    newEPCIndex(),
		freeRack: -1,
		freeGate: -1,
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.maxAhead = int64(cfg.MaxReadAhead)
	e.install(l)
	return e, nil
}

// install makes l the engine's zone layout, keeping reader states.
func (e *Engine) install(l *layout) {
	for _, rs := range e.readers {
		rs.routes = nil
		rs.zones = rs.zones[:0]
	}
	for id, tab := range l.routes {
		e.reader(id).routes = tab
	}
	defer func() {
		for _, rs := range e.readers {
			for a := range rs.antOff {
				if zi := rs.route(a).zone; zi >= 0 {
					e.zones[zi].offline++
				}
			}
		}
	}()
	for i := range l.zones {
		z := &l.zones[i]
		z.readers = make([]*readerState, len(z.readerIDs))
		for j, id := range z.readerIDs {
			rs := e.reader(id)
			z.readers[j] = rs
			rs.zones = append(rs.zones, int32(i))
			if !rs.online {
				z.offline++
			}
			z.onlineSince = max(z.onlineSince, rs.onlineSince)
		}
	}
	e.l = l
	e.zones = l.zones
	e.lastReader = nil
}

func (e *Engine) reader(id string) *readerState {
	rs := e.readers[id]
	if rs == nil {
		rs = &readerState{id: id, online: true}
		e.readers[id] = rs
	}
	return rs
}

// maxUnknownReaders bounds the reader ids the engine tracks beyond those of
// its zones (a source taking reader ids from MQTT topics could bring any
// number); further ones are counted together as OtherReaders.
const maxUnknownReaders = 64

// OtherReaders is the reader id under which reads of unknown readers are
// counted once maxUnknownReaders of them have been seen.
const OtherReaders = "(other)"

// readerOfRead returns the state of the reader a read names.
func (e *Engine) readerOfRead(id string) *readerState {
	if rs := e.readers[id]; rs != nil {
		return rs
	}
	if e.unknownReaders >= maxUnknownReaders {
		id = OtherReaders
	} else {
		e.unknownReaders++
	}
	return e.reader(id)
}

// nanos converts t to Unix nanoseconds; ok is false for a zero time or one
// int64 nanoseconds cannot hold.
func nanos(t time.Time) (int64, bool) {
	// 1900..2200: far inside what int64 nanoseconds can hold.
	if s := t.Unix(); s < -2208988800 || s > 7258118400 {
		return 0, false
	}
	return t.UnixNano(), true
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Process handles one read (or reader status change) and appends the events
// it causes to dst, after those of every timeout due by r.Time. r.Time is
// "now"; a read up to LateSlack older than an earlier one counts as
// happening now, an older one is late (see lateRead).
func (e *Engine) Process(dst []Event, r *reader.Read) []Event {
	rs := e.lastReader
	if rs == nil || rs.id != r.Reader {
		rs = e.readerOfRead(r.Reader)
		e.lastReader = rs
	}
	ns, ok := nanos(r.Time)
	if !ok {
		e.ignore(rs, ignBadTime)
		return dst
	}
	if e.maxAhead > 0 && e.lastTick != 0 && ns > e.lastTick+e.maxAhead {
		ns = e.lastTick + e.maxAhead
		e.clamped++
	}
	dst = e.advance(dst, ns)
	t := e.now
	if r.Status != "" {
		if r.Antenna > 0 {
			e.setAntennaStatus(rs, r.Antenna, r.Status, t)
		} else {
			e.setStatus(rs, r.Status, t)
		}
		return dst
	}
	rt := rs.route(r.Antenna)
	if rt.zone < 0 {
		e.ignore(rs, ignNoZone)
		return dst
	}
	z := &e.zones[rt.zone]
	if !(r.RSSI >= z.minRSSI) { // NaN is weak too
		e.ignore(rs, ignWeak)
		return dst
	}
	if r.EPC == "" {
		e.ignore(rs, ignNoEPC)
		return dst
	}
	if ns < t-int64(LateSlack) {
		return e.lateRead(dst, rs, rt, r.EPC, ns)
	}
	e.reads++
	ti := e.tagFor(r.EPC, t)
	e.tags[ti].lastSeen = t
	if z.gate {
		e.gateRead(ti, rt, float32(r.RSSI), r.Antenna, t)
		return dst
	}
	return e.rackRead(dst, ti, rt, float32(r.RSSI), r.Antenna, t)
}

// lateRead uses a late read at its own time t, for the one thing it can
// tell without mixing old and new: that a tag was still on the rack it is
// settled on at t. That delays a departure not yet sent (it is then sent
// lost_after after the late read, with that time). Anything else is
// ignored and counted as ReasonLate: a late read never places or moves a
// tag, never undoes a departure already sent (the tag has no rack then),
// and never enters a gate decision.
func (e *Engine) lateRead(dst []Event, rs *readerState, rt route, epc string, t int64) []Event {
	if t < e.now-int64(MaxLate) || e.zones[rt.zone].gate {
		e.ignore(rs, ignLate)
		return dst
	}
	ti, ok := e.byEPC.find(epc, e.tags)
	if !ok || int32(e.tags[ti].rack) != rt.zone {
		e.ignore(rs, ignLate)
		return dst
	}
	e.reads++
	tg := &e.tags[ti]
	tg.lastSeen = max(tg.lastSeen, t)
	for si := tg.firstRack; si >= 0; si = e.rslots[si].next {
		if s := &e.rslots[si]; int32(s.zone) == rt.zone {
			s.last = max(s.last, t)
		}
	}
	return dst
}

// Tick appends the events of every timeout due by now: rack departures,
// gate decisions. Call it every 100 ms to 1 s; how often does not change
// which events come out or their times, only how soon.
func (e *Engine) Tick(dst []Event, now time.Time) []Event {
	ns, ok := nanos(now)
	if !ok {
		return dst
	}
	e.lastTick = ns
	dst = e.advance(dst, ns)
	if e.sink != nil {
		e.sink.TagsTracked(e.byEPC.n)
	}
	return dst
}

// Flush ends a replay input at now: it fires the timeouts due by now and
// decides the gate crossings still waiting for gate_window to pass (no more
// reads will change them). Departures that are not yet due are not emitted.
func (e *Engine) Flush(dst []Event, now time.Time) []Event {
	dst = e.Tick(dst, now)
	var pending []int32
	for gi := range e.gslots {
		if g := &e.gslots[gi]; g.pending {
			pending = append(pending, int32(gi))
		}
	}
	slices.SortFunc(pending, func(a, b int32) int {
		return cmp.Or(cmp.Compare(e.gslots[a].decideAt, e.gslots[b].decideAt), cmp.Compare(a, b))
	})
	for _, gi := range pending {
		dst = e.decide(dst, gi)
	}
	return dst
}

// advance moves the clock to t (never back) and fires what fell due.
func (e *Engine) advance(dst []Event, t int64) []Event {
	if !e.started {
		e.started, e.start, e.now = true, t, t
	}
	if t > e.now {
		e.now = t
	}
	for len(e.timers) > 0 && e.timers[0].due <= e.now {
		tm := e.pop()
		switch tm.kind {
		case timerTag:
			dst = e.tagTimer(dst, tm)
		case timerGate:
			dst = e.gateTimer(dst, tm)
		}
	}
	return dst
}

// setStatus records a reader going offline or coming back. Silence while a
// reader is offline does not count towards lost_after, and a rack candidate
// of that reader starts its dwell again when it is back.
func (e *Engine) setStatus(rs *readerState, st reader.Status, t int64) {
	switch st {
	case reader.StatusOffline:
		if !rs.online {
			return
		}
		rs.online = false
		for _, zi := range rs.zones {
			e.zones[zi].offline++
		}
		e.log.Debug("edge: reader offline", "reader", rs.id, "time", timeOf(t))
	case reader.StatusOnline:
		// Only a change counts: a source repeating "online" must not keep
		// its tags from ever departing.
		if rs.online {
			return
		}
		rs.online = true
		rs.onlineSince = t
		// A reconnected reader starts with all antennas connected; its
		// source reports the disconnected ones again.
		for a := range rs.antOff {
			e.setAntennaStatus(rs, a, reader.StatusOnline, t)
		}
		for _, zi := range rs.zones {
			z := &e.zones[zi]
			z.offline--
			z.onlineSince = max(z.onlineSince, t)
		}
		e.log.Debug("edge: reader online", "reader", rs.id, "time", timeOf(t))
	}
}

// maxAntennasOff bounds the disconnected antennas tracked per reader (an
// antenna id comes from outside); further ones are ignored (logged).
const maxAntennasOff = 64

// setAntennaStatus records one antenna of a reader being disconnected
// (offline) or connected again: for the zone it feeds it counts like an
// offline reader, so its silence makes no departure, and coming back emits
// nothing and restarts the zone's lost_after and rack dwell from t.
func (e *Engine) setAntennaStatus(rs *readerState, antenna int, st reader.Status, t int64) {
	zi := rs.route(antenna).zone
	switch st {
	case reader.StatusOffline:
		if _, ok := rs.antOff[antenna]; ok {
			return
		}
		if len(rs.antOff) >= maxAntennasOff {
			e.log.Warn("edge: too many disconnected antennas; ignoring this one", "reader", rs.id, "antenna", antenna)
			return
		}
		if rs.antOff == nil {
			rs.antOff = make(map[int]struct{})
		}
		rs.antOff[antenna] = struct{}{}
		if zi >= 0 {
			e.zones[zi].offline++
		}
		e.log.Debug("edge: antenna disconnected", "reader", rs.id, "antenna", antenna, "time", timeOf(t))
	case reader.StatusOnline:
		if _, ok := rs.antOff[antenna]; !ok {
			return
		}
		delete(rs.antOff, antenna)
		if zi >= 0 {
			z := &e.zones[zi]
			z.offline--
			z.onlineSince = max(z.onlineSince, t)
		}
		e.log.Debug("edge: antenna connected", "reader", rs.id, "antenna", antenna, "time", timeOf(t))
	}
}

// tagFor returns the tag index for epc, creating the tag (and its timer)
// when it is new. A new tag keeps epc as its key: no copy is made.
func (e *Engine) tagFor(epc string, t int64) int32 {
	if ti, ok := e.byEPC.find(epc, e.tags); ok {
		return ti
	}
	var ti int32
	if n := len(e.freeTags); n > 0 {
		ti = e.freeTags[n-1]
		e.freeTags = e.freeTags[:n-1]
	} else {
		ti = int32(len(e.tags))
		e.tags = append(e.tags, tagState{})
	}
	e.tags[ti] = tagState{epc: epc, lastSeen: t, firstRack: -1, firstGate: -1, rack: -1, cand: -1}
	e.byEPC.insert(epc, ti)
	// Every tag has exactly one tag timer: it checks for a departure while
	// the tag has a rack and forgets the tag once it has none and is silent.
	e.push(t+e.l.retention, timerTag, ti)
	return ti
}

// tagTimer handles a tag's timer: a rack departure when lost_after of
// silence (while the rack's readers were online) has passed, and forgetting
// a tag that has no rack and has been silent for the retention time.
func (e *Engine) tagTimer(dst []Event, tm timer) []Event {
	ti := tm.ref
	tg := &e.tags[ti]
	if tg.rack >= 0 {
		z := &e.zones[tg.rack]
		if z.offline > 0 {
			// No departure for silence while a reader is offline; look again
			// later (coming back online moves the base forward anyway). The
			// next look depends only on this deadline, never on when Tick
			// ran, so the output stays independent of the Tick cadence.
			e.push(max(tm.due, e.start)+z.lost, timerTag, ti)
			return dst
		}
		si := e.rackSlotFor(ti, int32(tg.rack))
		s := &e.rslots[si]
		due := max(s.last, z.onlineSince, e.start) + z.lost
		if due > tm.due {
			e.push(due, timerTag, ti)
			return dst
		}
		dst = e.depart(dst, ti, si, due)
		tg = &e.tags[ti]
	}
	due := tg.lastSeen + e.l.retention
	if tg.firstGate >= 0 || tg.cand >= 0 {
		due = max(due, max(tm.due, e.start)+e.l.retention)
	}
	if due > tm.due {
		e.push(due, timerTag, ti)
		return dst
	}
	e.evict(ti)
	return dst
}

func (e *Engine) evict(ti int32) {
	tg := &e.tags[ti]
	for si := tg.firstRack; si >= 0; {
		next := e.rslots[si].next
		e.freeRackSlot(si)
		si = next
	}
	e.byEPC.remove(tg.epc, ti)
	*tg = tagState{firstRack: -1, firstGate: -1, rack: -1, cand: -1}
	e.freeTags = append(e.freeTags, ti)
}

// Restore gives a tag its settled rack from persisted state. Call it at
// start-up, before any read. A rack that is not a rack zone any more is
// dropped (and a StateChange deleting it is queued).
func (e *Engine) Restore(epc, rack string) {
	norm, err := reader.NormalizeEPC(epc)
	if err != nil {
		e.log.Warn("edge: ignoring persisted state with a bad EPC", "epc", epc, "err", err)
		return
	}
	zi, ok := e.l.zoneByID[rack]
	if !ok || e.zones[zi].gate {
		e.log.Warn("edge: persisted rack is not a rack zone any more; the tag starts without a rack", "epc", norm, "rack", rack)
		e.changes = append(e.changes, StateChange{EPC: norm})
		return
	}
	ti := e.tagFor(norm, e.now)
	tg := &e.tags[ti]
	tg.rack = int16(zi)
	e.rackSlotFor(ti, zi)
}

// TakeStateChanges appends the settled-rack changes since the last call, in
// the order they happened, and forgets them.
func (e *Engine) TakeStateChanges(dst []StateChange) []StateChange {
	dst = append(dst, e.changes...)
	clear(e.changes)
	e.changes = e.changes[:0]
	return dst
}

// PendingStateChanges is how many changes TakeStateChanges would return.
func (e *Engine) PendingStateChanges() int { return len(e.changes) }

// Reconfigure installs a new zone set. Tag state (settled rack, smoothing,
// gate crossings in progress) is kept for every zone whose id and kind are
// unchanged; its new settings apply from the next read. A tag whose settled
// rack is gone loses it without an event (a StateChange with Rack "" is
// queued). On error nothing changes.
func (e *Engine) Reconfigure(cfg Config) error {
	l, err := compile(cfg)
	if err != nil {
		return err
	}
	if cfg.Logger != nil {
		e.log = cfg.Logger
	}
	e.maxAhead = int64(cfg.MaxReadAhead)
	remap := make([]int32, len(e.zones))
	sameReaders := make([]bool, len(e.zones))
	kept := 0
	for i := range e.zones {
		z := &e.zones[i]
		remap[i] = -1
		if j, ok := l.zoneByID[z.id]; ok && l.zones[j].gate == z.gate {
			remap[i] = j
			sameReaders[i] = slices.Equal(z.readerIDs, l.zones[j].readerIDs)
			kept++
		}
	}
	dropped := 0
	for ti := range e.tags {
		tg := &e.tags[ti]
		if tg.epc == "" {
			continue
		}
		if tg.rack >= 0 {
			if nr := remap[tg.rack]; nr >= 0 {
				tg.rack = int16(nr)
			} else {
				tg.rack = -1
				dropped++
				e.changes = append(e.changes, StateChange{EPC: tg.epc})
			}
		}
		if tg.cand >= 0 {
			tg.cand = int16(remap[tg.cand])
		}
		prev := int32(-1)
		for si := tg.firstRack; si >= 0; {
			s := &e.rslots[si]
			next := s.next
			if nr := remap[s.zone]; nr >= 0 {
				if !sameReaders[s.zone] {
					s.readerMask = 0
				}
				s.zone = uint16(nr)
				prev = si
			} else {
				if prev < 0 {
					tg.firstRack = next
				} else {
					e.rslots[prev].next = next
				}
				e.freeRackSlot(si)
			}
			si = next
		}
		prev = -1
		for gi := tg.firstGate; gi >= 0; {
			g := &e.gslots[gi]
			next := g.next
			if nr := remap[g.zone]; nr >= 0 {
				if !sameReaders[g.zone] {
					g.sides[0].readerMask, g.sides[1].readerMask = 0, 0
				}
				g.zone = uint16(nr)
				prev = gi
			} else {
				if prev < 0 {
					tg.firstGate = next
				} else {
					e.gslots[prev].next = next
				}
				// Freeing clears timerSeq: its queued timer goes stale.
				e.freeGateSlot(gi)
			}
			gi = next
		}
	}
	e.install(l)
	e.log.Info("edge: zones reloaded", "zones", len(l.zones), "kept", kept, "racks_dropped", dropped)
	return nil
}

// location returns a fresh copy of where rack zone z stands.
func (z *zoneState) location() *Location {
	loc := z.loc
	return &loc
}

// roundRSSI undoes float32 noise (-52.3 stays -52.3 in the JSON).
func roundRSSI(v float32) float64 { return math.Round(float64(v)*100) / 100 }

// evidenceLists fills ev.Readers and ev.Antennas from the masks, sorted.
func evidenceLists(ev *Evidence, z *zoneState, readerMask uint8, antMask uint32) {
	for i, id := range z.readerIDs {
		if i < 8 && readerMask&(1<<i) != 0 {
			ev.Readers = append(ev.Readers, id)
		}
	}
	slices.Sort(ev.Readers)
	ev.Readers = slices.Compact(ev.Readers)
	if ev.Readers == nil {
		ev.Readers = []string{}
	}
	ev.Antennas = []int{}
	for a := 1; a <= 32; a++ {
		if antMask&(1<<(a-1)) != 0 {
			ev.Antennas = append(ev.Antennas, a)
		}
	}
}

func antBit(antenna int) uint32 {
	if antenna < 1 || antenna > 32 {
		return 0 // evidence lists antennas 1..32 only
	}
	return 1 << (antenna - 1)
}
