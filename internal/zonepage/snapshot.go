package zonepage

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// snapshot is one shared picture of the Model: every request and every stream
// client within one Interval is answered from the same snapshot, so the Model
// sees the same load with one browser or a hundred.
type snapshot struct {
	seq     uint64
	at      time.Time
	clock   Clock // the gateway's clock (recorded time while a file plays)
	readers []ReaderView
	zones   []ZoneView // as the Model gave them; cutZones picks the strongest
	uplink  UplinkView
	events  []json.RawMessage // valid and compact, newest first

	mu  sync.Mutex
	enc map[string][]byte // encoded stream payload per EPC filter
}

// maxEncCache bounds the per-filter payload cache of one snapshot; clients
// with other filters still get answers, encoded for them alone.
const maxEncCache = 32

// snapshotter refreshes the shared snapshot on demand, at most once per
// interval. Holding mu during the refresh makes concurrent callers wait for
// and share one refresh instead of each calling the Model.
type snapshotter struct {
	model     Model
	interval  time.Duration
	maxEvents int
	now       func() time.Time
	log       *slog.Logger

	mu  sync.Mutex
	cur *snapshot
	seq uint64

	warned atomic.Bool // an invalid event from the Model was logged
}

func (s *snapshotter) get() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cur != nil && now.Sub(s.cur.at) < s.interval && !now.Before(s.cur.at) {
		return s.cur
	}
	s.seq++
	snap := &snapshot{
		seq:     s.seq,
		at:      now,
		readers: s.model.Readers(),
		zones:   s.model.Zones(),
		uplink:  s.model.Uplink(),
		clock:   Clock{Now: now},
	}
	if cm, ok := s.model.(ClockModel); ok {
		snap.clock = cm.Clock()
	}
	snap.events = s.cleanEvents(s.model.Events(s.maxEvents), s.maxEvents)
	sanitizeSnapshot(snap)
	s.cur = snap
	return snap
}

// cleanEvents keeps at most limit events that are valid JSON, compacted so
// that each fits on one server-sent-events data line. Invalid ones are logged
// once.
func (s *snapshotter) cleanEvents(in []json.RawMessage, limit int) []json.RawMessage {
	out := make([]json.RawMessage, 0, min(len(in), limit))
	for i, raw := range in {
		if len(out) == limit {
			break
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			// Once: the same bad event comes back with every snapshot.
			if s.warned.CompareAndSwap(false, true) {
				s.log.Warn("zonepage: event left out", "index", i, "err", fmt.Errorf("%w: %w", ErrBadEvent, err))
			}
			continue
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// strongerTag orders a zone's tags for the top-N cut: read tags before
// unread ones, strongest smoothed RSSI first, then most reads, then EPC so the order is stable between
// snapshots.
func strongerTag(a, b *ZoneTag) int {
	// A tag settled here but not read lately has no RSSI: it goes last.
	return cmp.Or(cmp.Compare(b2i(b.Reads > 0), b2i(a.Reads > 0)),
		cmp.Compare(b.RSSI, a.RSSI), cmp.Compare(b.Reads, a.Reads), cmp.Compare(a.EPC, b.EPC))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// topTags returns the k strongest tags matching filter, strongest first,
// and how many matched. It keeps a small sorted list instead of sorting
// the zone: with thousands of tags and k = 25 almost every tag is rejected
// by one comparison with the weakest kept.
func topTags(tags []ZoneTag, filter string, k int) (top []ZoneTag, matched int) {
	top = make([]ZoneTag, 0, min(k, len(tags)))
	for i := range tags {
		t := &tags[i]
		if filter != "" && !strings.Contains(t.EPC, filter) {
			continue
		}
		matched++
		if k == 0 || len(top) == k && strongerTag(t, &top[k-1]) >= 0 {
			continue
		}
		if len(top) == k {
			top = top[:k-1]
		}
		at, _ := slices.BinarySearchFunc(top, t, func(e ZoneTag, t *ZoneTag) int { return strongerTag(&e, t) })
		top = slices.Insert(top, at, *t)
	}
	return top, matched
}

// zoneOut is a zone as sent: its tags cut to the caps, with counts of what
// matched the filter and what was left out.
type zoneOut struct {
	ZoneView
	Total int `json:"total"` // tags in the zone matching the filter
	More  int `json:"more"`  // of those, not sent because of the caps
}

// zonesPayload is the answer of /api/zones and the body of a stream snapshot.
type zonesPayload struct {
	Seq       uint64       `json:"seq"`
	At        time.Time    `json:"at"`
	Filter    string       `json:"filter"`
	TagsTotal int          `json:"tags_total"` // matching tags in all zones
	TagsSent  int          `json:"tags_sent"`
	Readers   []ReaderView `json:"readers,omitempty"`
	Zones     []zoneOut    `json:"zones"`
	Uplink    *UplinkView  `json:"uplink,omitempty"`
	Clock     *Clock       `json:"clock,omitempty"`
}

// cutZones applies the EPC filter (an upper-case hex substring, "" = all)
// and the caps: at most perZone tags per zone and total tags in all.
func cutZones(zones []ZoneView, filter string, perZone, total int) (out []zoneOut, matched, sent int) {
	out = make([]zoneOut, 0, len(zones))
	budget := total
	for _, z := range zones {
		tags, n := topTags(z.Tags, filter, min(perZone, budget))
		budget -= len(tags)
		zo := zoneOut{ZoneView: z, Total: n, More: n - len(tags)}
		zo.Tags = tags
		out = append(out, zo)
		matched += n
		sent += len(tags)
	}
	return out, matched, sent
}

// payload is the stream's "snapshot" message (withState: readers and
// uplink too) or the /api/zones answer for one filter, encoded once per
// snapshot, kind and filter however many clients ask.
func (sn *snapshot) payload(filter string, withState bool, perZone, total int) ([]byte, error) {
	key := "zones:" + filter
	if withState {
		key = "stream:" + filter
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if b, ok := sn.enc[key]; ok {
		return b, nil
	}
	zones, matched, sent := cutZones(sn.zones, filter, perZone, total)
	p := zonesPayload{Seq: sn.seq, At: sn.at, Filter: filter, TagsTotal: matched, TagsSent: sent, Zones: zones}
	if withState {
		up := sn.uplink
		clk := sn.clock
		p.Readers, p.Uplink, p.Clock = nonNil(sn.readers), &up, &clk
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding snapshot: %w", err)
	}
	if sn.enc == nil {
		sn.enc = map[string][]byte{}
	}
	if len(sn.enc) < maxEncCache {
		sn.enc[key] = b
	}
	return b, nil
}

// newEvents returns the events of evs (newest first) that are newer than
// last, the newest event a client already has. When last is not among them
// (first message, or more new events than fit) it returns all of evs with
// reset set: the client then replaces its list.
func newEvents(evs []json.RawMessage, last []byte) (fresh []json.RawMessage, reset bool) {
	if last == nil {
		return evs, true
	}
	for i, e := range evs {
		if bytes.Equal(e, last) {
			return evs[:i], false
		}
	}
	return evs, true
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// finite replaces NaN and ±Inf, which JSON cannot carry (json.Marshal would
// fail the whole answer), by 0.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// sanitizeSnapshot fixes non-finite numbers without writing to what the
// Model returned (it may share it): a slice with one is copied first.
func sanitizeSnapshot(sn *snapshot) {
	sn.readers = fixed(sn.readers, func(r *ReaderView) bool {
		bad := !isFinite(r.ReadsPerSec)
		for _, a := range r.Antennas {
			bad = bad || !isFinite(a.ReadsPerSec)
		}
		return bad
	}, func(r *ReaderView) {
		r.ReadsPerSec = finite(r.ReadsPerSec)
		r.Antennas = slices.Clone(r.Antennas)
		for j := range r.Antennas {
			r.Antennas[j].ReadsPerSec = finite(r.Antennas[j].ReadsPerSec)
		}
	})
	sn.zones = fixed(sn.zones, func(z *ZoneView) bool {
		return slices.ContainsFunc(z.Tags, func(t ZoneTag) bool { return !isFinite(t.RSSI) })
	}, func(z *ZoneView) {
		z.Tags = slices.Clone(z.Tags)
		for j := range z.Tags {
			z.Tags[j].RSSI = finite(z.Tags[j].RSSI)
		}
	})
	sn.uplink.LagSeconds = finite(sn.uplink.LagSeconds) // a copy already
}

func sanitizeTag(d *TagDetail) {
	d.Reads = fixed(d.Reads, func(r *TagRead) bool { return !isFinite(r.RSSI) }, func(r *TagRead) { r.RSSI = finite(r.RSSI) })
	d.Zones = fixed(d.Zones, func(z *TagZone) bool { return !isFinite(z.RSSI) || !isFinite(z.PeakRSSI) },
		func(z *TagZone) { z.RSSI, z.PeakRSSI = finite(z.RSSI), finite(z.PeakRSSI) })
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// fixed returns s with fix applied to the elements that need it, copying s
// first if any does, so that the caller's slice is never written.
func fixed[T any](s []T, needs func(*T) bool, fix func(*T)) []T {
	copied := false
	for i := range s {
		if !needs(&s[i]) {
			continue
		}
		if !copied {
			s, copied = slices.Clone(s), true
		}
		fix(&s[i])
	}
	return s
}
