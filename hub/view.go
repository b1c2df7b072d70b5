package hub

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
)

// Move types in an asset's history: the event types, plus cross_floor_move
// (a rack_depart on one gateway and a placement on another within
// cross_floor_window).
const (
	MoveCrossFloor = "cross_floor_move"
)

var moveTypes = []string{"inward", "outward", "rack_move", "rack_depart", MoveCrossFloor}

func moveType(t string) uint8 {
	for i, m := range moveTypes {
		if m == t {
			return uint8(i)
		}
	}
	return 0
}

const (
	mtInward uint8 = iota
	mtOutward
	mtRackMove
	mtRackDepart
	mtCrossFloor
)

// place is an interned location on a gateway: every asset on one rack
// points at the same place.
type place struct {
	gateway string
	loc     Location
}

// streamRef is an interned gateway stream epoch; an event id is a
// *streamRef and a seq.
type streamRef struct{ gateway, epoch string }

type eventRef struct {
	s   *streamRef
	seq uint64
}

func (r eventRef) id() string {
	if r.s == nil {
		return ""
	}
	if r.s.epoch == "" {
		return r.s.gateway + "-" + utoa(r.seq)
	}
	return r.s.gateway + "-" + r.s.epoch + "-" + utoa(r.seq)
}

// move is one entry of an asset's history (56 bytes).
type move struct {
	at       int64 // Unix ms
	typ      uint8
	from, to *place
	ids      [2]eventRef // the event, or the depart and the placement of a cross-floor move
}

// asset is the view's state of one EPC: about 100 bytes plus 56 per
// remembered move.
type asset struct {
	dirty bool   // in View.dirtyList
	loc   *place // nil: departed, or unknown
	since int64  // Unix ms
	rev   uint64 // moves applied, ever (orders locations messages)
	hist  []move // oldest first, at most Config.History
}

// View is the asset timeline across gateways. Safe for concurrent use.
type View struct {
	mu      sync.RWMutex
	assets  map[string]*asset
	places  map[place]*place
	byZone  map[gwZone]*place // fast path: the place last seen for a gateway's zone
	streams map[streamRef]*streamRef
	history int
	window  int64    // cross-floor window, ms
	dirty   []string // EPCs changed since TakeDirty

	duplicates, regressions, crossFloor, applied uint64
}

// NewView returns an empty view.
func NewView(history int, crossFloorWindow time.Duration) *View {
	return &View{assets: map[string]*asset{}, places: map[place]*place{}, byZone: map[gwZone]*place{},
		streams: map[streamRef]*streamRef{}, history: history, window: crossFloorWindow.Milliseconds()}
}

type gwZone struct{ gw, zone string }

func (v *View) place(gw string, l *Location) *place {
	if l == nil {
		return nil
	}
	if p := v.byZone[gwZone{gw, l.Zone}]; p != nil && p.loc == *l {
		return p
	}
	k := place{gw, *l}
	p := v.places[k]
	if p == nil {
		p = &k
		v.places[k] = p
	}
	v.byZone[gwZone{gw, l.Zone}] = p
	return p
}

func (v *View) markDirty(epc string, a *asset) {
	if !a.dirty {
		a.dirty = true
		v.dirty = append(v.dirty, epc)
	}
}

func (v *View) stream(gw, epoch string) *streamRef {
	k := streamRef{gw, epoch}
	if s := v.streams[k]; s != nil {
		return s
	}
	s := &k
	v.streams[k] = s
	return s
}

// Apply puts one audited, non-duplicate movement event into its asset's
// timeline. It drops an event the asset's history already holds (a
// duplicate the audit could not see, e.g. on another instance) and counts
// per-EPC order regressions.
func (v *View) Apply(e *Event) {
	if e.Type == "gap" || e.EPC == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	epc := *e.EPC
	a := v.assets[epc]
	if a == nil {
		a = &asset{}
		v.assets[epc] = a // a string of its own: json.Unmarshal allocated it
	}
	ref := eventRef{v.stream(e.Gateway, e.Epoch), e.Seq}
	for i := range a.hist {
		if a.hist[i].ids[0] == ref || a.hist[i].ids[1] == ref {
			v.duplicates++
			return
		}
	}
	at := e.at.UnixMilli()
	// Order: the same stream's events of one EPC must come in seq order.
	for i := len(a.hist) - 1; i >= 0; i-- {
		h := &a.hist[i]
		last := h.ids[0]
		if h.ids[1].s != nil {
			last = h.ids[1]
		}
		if last.s == ref.s {
			if last.seq > ref.seq {
				v.regressions++
			}
			break
		}
	}
	m := move{at: at, typ: moveType(e.Type), ids: [2]eventRef{ref}}
	switch m.typ {
	case mtInward, mtOutward:
		m.from = a.loc
		m.to = v.place(e.Gateway, &Location{Zone: *e.Zone})
	case mtRackMove:
		m.from = v.place(e.Gateway, e.From)
		m.to = v.place(e.Gateway, e.To)
	case mtRackDepart:
		m.from = v.place(e.Gateway, e.From)
	}
	v.applied++
	a.rev++
	v.markDirty(epc, a)
	if v.mergeCrossFloor(a, &m) {
		v.crossFloor++
	} else {
		v.insert(a, m)
	}
	last := a.hist[len(a.hist)-1]
	a.loc, a.since = last.to, last.at
}

// mergeCrossFloor turns a rack_depart on one gateway and a first placement
// on another, within the window, into one move. Events of different
// gateways arrive in any order (a gateway cut off delivers later), so the
// partner is looked for where m goes by time: the entry before a placement,
// the entry after a departure.
func (v *View) mergeCrossFloor(a *asset, m *move) bool {
	if v.window <= 0 {
		return false
	}
	i := v.insertAt(a, m.at)
	var depart, place, h *move
	switch {
	case m.typ == mtRackMove && m.from == nil && i > 0 && a.hist[i-1].typ == mtRackDepart:
		h = &a.hist[i-1]
		depart, place = h, m
	case m.typ == mtRackDepart && i < len(a.hist) && a.hist[i].typ == mtRackMove && a.hist[i].from == nil && a.hist[i].ids[1].s == nil:
		h = &a.hist[i]
		depart, place = m, h
	default:
		return false
	}
	if depart.from == nil || place.to == nil || depart.from.gateway == place.to.gateway {
		return false
	}
	if d := place.at - depart.at; d < 0 || d > v.window {
		return false
	}
	*h = move{at: place.at, typ: mtCrossFloor, from: depart.from, to: place.to, ids: [2]eventRef{depart.ids[0], place.ids[0]}}
	return true
}

// insertAt is where an entry at time at goes (after equal times).
func (v *View) insertAt(a *asset, at int64) int {
	i := len(a.hist)
	for i > 0 && a.hist[i-1].at > at {
		i--
	}
	return i
}

// insert adds m by time (stable: equal times keep arrival order).
func (v *View) insert(a *asset, m move) {
	i := v.insertAt(a, m.at)
	a.hist = append(a.hist, move{})
	copy(a.hist[i+1:], a.hist[i:])
	a.hist[i] = m
	if len(a.hist) > v.history {
		n := copy(a.hist, a.hist[len(a.hist)-v.history:])
		a.hist = a.hist[:n]
	}
}

// LocationJSON is a location in the API and the locations topic.
type LocationJSON struct {
	Gateway string `json:"gateway"`
	Zone    string `json:"zone"`
	Floor   string `json:"floor"`
	Room    string `json:"room"`
	Row     string `json:"row"`
	Rack    string `json:"rack"`
}

// MoveJSON is one history entry.
type MoveJSON struct {
	Time     string        `json:"time"`
	Type     string        `json:"type"`
	From     *LocationJSON `json:"from"`
	To       *LocationJSON `json:"to"`
	Gateway  string        `json:"gateway"`
	EventIDs []string      `json:"event_ids"`
}

// AssetJSON is GET /assets/{epc} and the value on the locations topic.
type AssetJSON struct {
	EPC         string        `json:"epc"`
	Location    *LocationJSON `json:"location"`
	Since       string        `json:"since"`
	LastEventID string        `json:"last_event_id"`
	Rev         uint64        `json:"rev"`
	History     []MoveJSON    `json:"history"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func msTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(timeLayout) }

func locJSON(p *place) *LocationJSON {
	if p == nil {
		return nil
	}
	return &LocationJSON{Gateway: p.gateway, Zone: p.loc.Zone, Floor: p.loc.Floor, Room: p.loc.Room, Row: p.loc.Row, Rack: p.loc.Rack}
}

func (v *View) assetJSON(epc string, a *asset) AssetJSON {
	out := AssetJSON{EPC: epc, Location: locJSON(a.loc), Rev: a.rev, History: make([]MoveJSON, 0, len(a.hist))}
	if a.since != 0 {
		out.Since = msTime(a.since)
	}
	for _, h := range a.hist {
		m := MoveJSON{Time: msTime(h.at), Type: moveTypes[h.typ], From: locJSON(h.from), To: locJSON(h.to)}
		last := h.ids[0]
		for _, r := range h.ids {
			if r.s != nil {
				m.EventIDs = append(m.EventIDs, r.id())
				last = r
			}
		}
		m.Gateway = last.s.gateway
		out.History = append(out.History, m)
	}
	if n := len(a.hist); n > 0 {
		h := a.hist[n-1]
		last := h.ids[0]
		if h.ids[1].s != nil {
			last = h.ids[1]
		}
		out.LastEventID = last.id()
	}
	return out
}

// Asset returns an asset's location and history (ok false when unknown).
func (v *View) Asset(epc string) (AssetJSON, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a := v.assets[epc]
	if a == nil {
		return AssetJSON{}, false
	}
	return v.assetJSON(epc, a), true
}

// Rack returns the EPCs whose current location is the zone, sorted.
func (v *View) Rack(zone string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := []string{}
	for epc, a := range v.assets {
		if a.loc != nil && a.loc.loc.Zone == zone {
			out = append(out, epc)
		}
	}
	sort.Strings(out)
	return out
}

// TakeDirty returns the locations messages (key EPC, value JSON) of the
// assets changed since the last call.
func (v *View) TakeDirty() (keys []string, values [][]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, epc := range v.dirty {
		a := v.assets[epc]
		if a == nil {
			continue
		}
		a.dirty = false
		b, _ := json.Marshal(v.assetJSON(epc, a))
		keys = append(keys, epc)
		values = append(values, b)
	}
	clear(v.dirty)
	v.dirty = v.dirty[:0]
	return keys, values
}

// Restore takes a locations message (from this or another instance): it
// replaces the asset when its rev is newer than what the view holds.
func (v *View) Restore(value []byte) error {
	var j AssetJSON
	if err := json.Unmarshal(value, &j); err != nil {
		return err
	}
	if j.EPC == "" || !isUpperHex(j.EPC) || len(j.EPC) > maxEPCLen || len(j.History) > maxHistory {
		return ErrBadMessage
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.assets[j.EPC]
	if a != nil && a.rev >= j.Rev {
		return nil
	}
	if a == nil {
		a = &asset{}
		v.assets[j.EPC] = a
	}
	a.rev = j.Rev
	a.hist = a.hist[:0]
	toPlace := func(l *LocationJSON) *place {
		if l == nil {
			return nil
		}
		return v.place(l.Gateway, &Location{Zone: l.Zone, Floor: l.Floor, Room: l.Room, Row: l.Row, Rack: l.Rack})
	}
	for _, m := range j.History {
		t, err := time.Parse(time.RFC3339Nano, m.Time)
		if err != nil {
			return err
		}
		h := move{at: t.UnixMilli(), typ: moveType(m.Type), from: toPlace(m.From), to: toPlace(m.To)}
		for i, id := range m.EventIDs {
			if i < 2 {
				h.ids[i] = v.parseID(id)
			}
		}
		a.hist = append(a.hist, h)
	}
	a.loc = toPlace(j.Location)
	a.since = 0
	if t, err := time.Parse(time.RFC3339Nano, j.Since); err == nil {
		a.since = t.UnixMilli()
	}
	return nil
}

// parseID splits "<gateway>-<epoch>-<seq>" (or "<gateway>-<seq>").
func (v *View) parseID(id string) eventRef {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return eventRef{}
	}
	seq := uint64(0)
	for _, c := range id[i+1:] {
		if c < '0' || c > '9' {
			return eventRef{}
		}
		seq = seq*10 + uint64(c-'0')
	}
	rest := id[:i]
	if j := strings.LastIndexByte(rest, '-'); j > 0 && epochRe.MatchString(rest[j+1:]) {
		return eventRef{v.stream(rest[:j], rest[j+1:]), seq}
	}
	return eventRef{v.stream(rest, ""), seq}
}

// ViewStats are the view's counters.
type ViewStats struct {
	Assets, Places                               int
	Applied, Duplicates, Regressions, CrossFloor uint64
}

// Stats returns the view's counters.
func (v *View) Stats() ViewStats {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return ViewStats{Assets: len(v.assets), Places: len(v.places), Applied: v.applied,
		Duplicates: v.duplicates, Regressions: v.regressions, CrossFloor: v.crossFloor}
}

// markAllDirty marks assets to be published again (after a failed send).
func (v *View) markAllDirty(epcs []string) {
	v.mu.Lock()
	for _, e := range epcs {
		if a := v.assets[e]; a != nil {
			v.markDirty(e, a)
		}
	}
	v.mu.Unlock()
}
