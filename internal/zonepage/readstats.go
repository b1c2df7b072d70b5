package zonepage

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// ReadStats keeps what the page needs and the edge engine does not: reads
// per second per reader antenna, and each tag's recent reads for the RSSI
// plot. The gateway feeds it every batch of reads (Observe) and its Model
// implementation asks it (FillRates, TagReads). Time is the reads' own time
// (so it follows a replayed file's clock); callers pass "now" on the same
// clock. Memory is bounded by MaxTags × MaxPointsPerTag points of 24 bytes.
// Safe for concurrent use.
type ReadStats struct {
	opts ReadStatsOptions

	mu      sync.Mutex
	readers []string          // index -> reader id
	index   map[string]uint16 // reader id -> index
	rates   map[antennaKey]*rateRing
	tags    map[string]*tagHistory
	latest  int64 // newest read time seen, unix nanos
}

// ReadStatsOptions tune ReadStats; zero values take the defaults.
type ReadStatsOptions struct {
	Window          time.Duration // a tag's reads are kept this long; default 2m
	Bucket          time.Duration // a tag's reads per reader antenna are merged per Bucket; default 1s
	MaxPointsPerTag int           // merged points kept per tag; default 240
	MaxTags         int           // tags kept; the longest silent go first; default 20000
	RateWindow      time.Duration // reads/s are averaged over this many whole seconds; default 5s
}

type antennaKey struct {
	reader  uint16
	antenna int
}

// rateRing counts reads per whole second over the rate window.
type rateRing struct {
	sec   []int64 // unix second of each slot
	count []uint32
}

// tagPoint is the reads of one tag by one reader antenna within one bucket.
type tagPoint struct {
	bucket  int64 // unix nanos / Bucket
	last    int64 // unix nanos of the newest read merged in
	sum     float32
	n       uint16
	reader  uint16
	antenna uint16
}

type tagHistory struct {
	points []tagPoint // oldest first
	last   int64
}

// NewReadStats returns an empty ReadStats.
func NewReadStats(o ReadStatsOptions) *ReadStats {
	if o.Window <= 0 {
		o.Window = 2 * time.Minute
	}
	if o.Bucket <= 0 {
		o.Bucket = time.Second
	}
	if o.MaxPointsPerTag <= 0 {
		o.MaxPointsPerTag = 240
	}
	if o.MaxTags <= 0 {
		o.MaxTags = 20_000
	}
	if o.RateWindow < time.Second {
		o.RateWindow = 5 * time.Second
	}
	return &ReadStats{
		opts:  o,
		index: map[string]uint16{},
		rates: map[antennaKey]*rateRing{},
		tags:  map[string]*tagHistory{},
	}
}

// Observe records a batch of reads; status reads and reads without a time
// are skipped.
func (s *ReadStats) Observe(reads []reader.Read) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range reads {
		r := &reads[i]
		if r.IsStatus() || r.EPC == "" || r.Time.IsZero() {
			continue
		}
		s.observe(r)
	}
	if len(s.tags) > s.opts.MaxTags {
		s.evict()
	}
}

func (s *ReadStats) observe(r *reader.Read) {
	ri, ok := s.index[r.Reader]
	if !ok {
		if len(s.readers) == 1<<16-1 {
			return // more reader ids than any config has: ignore the rest
		}
		ri = uint16(len(s.readers))
		s.readers = append(s.readers, r.Reader)
		s.index[r.Reader] = ri
	}
	t := r.Time.UnixNano()
	s.latest = max(s.latest, t)

	key := antennaKey{ri, r.Antenna}
	rr := s.rates[key]
	if rr == nil {
		n := int(s.opts.RateWindow/time.Second) + 1
		rr = &rateRing{sec: make([]int64, n), count: make([]uint32, n)}
		s.rates[key] = rr
	}
	sec := t / int64(time.Second)
	slot := int(sec % int64(len(rr.sec)))
	if rr.sec[slot] != sec {
		rr.sec[slot], rr.count[slot] = sec, 0
	}
	rr.count[slot]++

	h := s.tags[r.EPC]
	if h == nil {
		h = &tagHistory{}
		s.tags[r.EPC] = h
	}
	h.last = max(h.last, t)
	b := t / int64(s.opts.Bucket)
	ant := uint16(min(max(r.Antenna, 0), 1<<16-1))
	// Points of the current bucket are at the end: merge into this
	// antenna's, if there is one.
	for i := len(h.points) - 1; i >= 0 && h.points[i].bucket == b; i-- {
		p := &h.points[i]
		if p.reader == ri && p.antenna == ant && p.n < 1<<16-1 {
			p.sum += float32(r.RSSI)
			p.n++
			p.last = max(p.last, t)
			return
		}
	}
	if len(h.points) >= 2*s.opts.MaxPointsPerTag {
		// Drop the oldest half at once so appends stay amortised O(1).
		h.points = append(h.points[:0], h.points[len(h.points)-s.opts.MaxPointsPerTag:]...)
	}
	h.points = append(h.points, tagPoint{bucket: b, last: t, sum: float32(r.RSSI), n: 1, reader: ri, antenna: ant})
}

// evict drops the tags silent for longer than Window, then, if still too
// many, the longest silent ones down to 90% of MaxTags.
func (s *ReadStats) evict() {
	cutoff := s.latest - int64(s.opts.Window)
	for epc, h := range s.tags {
		if h.last < cutoff {
			delete(s.tags, epc)
		}
	}
	if len(s.tags) <= s.opts.MaxTags {
		return
	}
	type aged struct {
		epc  string
		last int64
	}
	all := make([]aged, 0, len(s.tags))
	for epc, h := range s.tags {
		all = append(all, aged{epc, h.last})
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.last, b.last) })
	for _, a := range all[:len(all)-s.opts.MaxTags*9/10] {
		delete(s.tags, a.epc)
	}
}

// TagReads returns epc's reads within Window before now, oldest first, one
// point per reader antenna and Bucket (RSSI averaged, Count reads merged),
// at most MaxPointsPerTag.
func (s *ReadStats) TagReads(now time.Time, epc string) []TagRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.tags[epc]
	if h == nil {
		return nil
	}
	cutoff := now.UnixNano() - int64(s.opts.Window)
	pts := h.points[max(0, len(h.points)-s.opts.MaxPointsPerTag):]
	out := make([]TagRead, 0, len(pts))
	for _, p := range pts {
		if p.last < cutoff {
			continue
		}
		out = append(out, TagRead{
			Time:    time.Unix(0, p.last).UTC(),
			Reader:  s.readers[p.reader],
			Antenna: int(p.antenna),
			RSSI:    float64(p.sum / float32(p.n)),
			Count:   int(p.n),
		})
	}
	return out
}

// FillRates sets ReadsPerSec of each reader and of its antennas, averaged
// over the RateWindow whole seconds before now. Antennas that read but are
// not listed are added, so a miswired antenna shows up.
func (s *ReadStats) FillRates(now time.Time, views []ReaderView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nowSec := now.UnixNano() / int64(time.Second)
	win := int64(s.opts.RateWindow / time.Second)
	perAntenna := map[antennaKey]float64{}
	for k, rr := range s.rates {
		var n uint32
		for i, sec := range rr.sec {
			if sec >= nowSec-win && sec < nowSec {
				n += rr.count[i]
			}
		}
		if n > 0 {
			perAntenna[k] = float64(n) / float64(win)
		}
	}
	for i := range views {
		v := &views[i]
		v.ReadsPerSec = 0
		for j := range v.Antennas {
			v.Antennas[j].ReadsPerSec = 0
		}
		ri, ok := s.index[v.ID]
		if !ok {
			continue
		}
		for k, rate := range perAntenna {
			if k.reader != ri {
				continue
			}
			v.ReadsPerSec += rate
			j := slices.IndexFunc(v.Antennas, func(a AntennaView) bool { return a.Antenna == k.antenna })
			if j < 0 {
				v.Antennas = append(v.Antennas, AntennaView{Antenna: k.antenna})
				j = len(v.Antennas) - 1
			}
			v.Antennas[j].ReadsPerSec = rate
		}
		slices.SortFunc(v.Antennas, func(a, b AntennaView) int { return cmp.Compare(a.Antenna, b.Antenna) })
	}
}
