package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// row is the result of one fault run.
type row struct {
	Name      string
	Mode      string // "exact": compared with the scenario; "seq": buffer invariants only
	Expected  int    // events of the scenario slice (the reference in exact mode)
	Delivered int    // unique event ids in Kafka (gap events included)
	Missing   int    // exact: expected events not in Kafka + seq holes; seq: seq holes + seqs reported lost
	ExpMiss   int    // expected events not in Kafka (informational in seq mode)
	Extra     int    // delivered scenario-time events the scenario does not have
	Dups      int    // messages whose id arrived before
	Gaps      uint64 // events reported lost by gap events
	Order     int    // per-EPC order violations
	MaxLag    float64
	PeakRSSkB int64
	Kills     int
	BadExit   bool
	Pass      bool
	KnownBug  string
	Problems  []string
}

var (
	rowsMu sync.Mutex
	rows   []*row
)

func record(r *row) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	rows = append(rows, r)
}

func tableHeader() string {
	return fmt.Sprintf("%-22s %-5s %8s %9s %7s %7s %5s %5s %5s %8s %8s %5s %4s %s",
		"run", "mode", "expected", "delivered", "missing", "dups", "gaps", "order", "extra", "max lag", "peak RSS", "kills", "exit", "result")
}

func (r *row) line() string {
	exp := fmt.Sprint(r.Expected)
	if r.Mode == "seq" {
		exp = fmt.Sprintf("(%d)", r.Expected)
	}
	exit := "ok"
	if r.BadExit {
		exit = "BAD"
	}
	res := "PASS"
	if !r.Pass {
		res = "FAIL"
		if r.KnownBug != "" {
			res += " " + strings.SplitN(r.KnownBug, ":", 2)[0]
		}
	}
	if r.Mode == "seq" && r.ExpMiss > 0 {
		res += fmt.Sprintf(" (%d scenario events not produced: input lost while down)", r.ExpMiss)
	}
	return fmt.Sprintf("%-22s %-5s %8s %9d %7d %7d %5d %5d %5d %7.1fs %6dMiB %5d %4s %s",
		r.Name, r.Mode, exp, r.Delivered, r.Missing, r.Dups, r.Gaps, r.Order, r.Extra, r.MaxLag, (r.PeakRSSkB+512)/1024, r.Kills, exit, res)
}

// table is every recorded row as a fixed-width text table.
func table() string {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	var b strings.Builder
	b.WriteString(tableHeader() + "\n")
	for _, r := range rows {
		b.WriteString(r.line() + "\n")
	}
	return b.String()
}

// check computes a run's row from what Kafka holds. lastSeq is the buffer's
// last assigned seq (from `rfidgw buffer stats` of the stopped gateway):
// every seq up to it was committed, so it must be in Kafka or inside a gap
// event's range.
func check(r *run, events []event, lastSeq uint64, droppedMetric float64) *row {
	g := r.gw
	g.mu.Lock()
	rw := &row{Name: r.opts.name, Mode: "seq", Expected: len(r.slice.Expected), MaxLag: g.maxLag,
		PeakRSSkB: g.peakRSSkB, Kills: g.kills, BadExit: len(g.badExits) > 0}
	rw.Problems = append(rw.Problems, g.badExits...)
	g.mu.Unlock()
	if r.opts.exact {
		rw.Mode = "exact"
	}
	rw.KnownBug = r.opts.knownBug
	rw.Problems = append(rw.Problems, r.notes...)
	for _, b := range r.col.bad {
		rw.Problems = append(rw.Problems, "not an event: "+b)
	}

	byID := map[string]event{}
	var first []event // first arrival of each id, in arrival order
	for _, e := range events {
		if prev, ok := byID[e.ID]; ok {
			rw.Dups++
			if prev.Seq != e.Seq || prev.reduce() != e.reduce() || !prev.Time.Equal(e.Time) {
				rw.Problems = append(rw.Problems, fmt.Sprintf("id %s redelivered with other content:\n  %s\n  %s", e.ID, prev.Raw, e.Raw))
			}
			continue
		}
		wantID := fmt.Sprintf("chaos-%d", e.Seq) // no epoch: the checker's own tests
		if e.Epoch != "" {
			wantID = fmt.Sprintf("chaos-%s-%d", e.Epoch, e.Seq)
		}
		if e.ID != wantID {
			rw.Problems = append(rw.Problems, fmt.Sprintf("id %q does not match seq %d", e.ID, e.Seq))
		}
		byID[e.ID] = e
		first = append(first, e)
	}
	rw.Delivered = len(first)

	// Seq accounting: delivered, or inside a gap event's range.
	delivered := map[uint64]bool{}
	covered := map[uint64]bool{}
	var maxSeq uint64
	for _, e := range first {
		delivered[e.Seq] = true
		maxSeq = max(maxSeq, e.Seq)
		if e.Type == "gap" {
			rw.Gaps += e.Dropped
			if e.LastSeq < e.FirstSeq || e.LastSeq-e.FirstSeq+1 != e.Dropped {
				rw.Problems = append(rw.Problems, "gap event whose range does not match its count: "+e.Raw)
			}
			for s := e.FirstSeq; s <= e.LastSeq && s > 0; s++ {
				covered[s] = true
			}
		}
	}
	if maxSeq > lastSeq {
		rw.Problems = append(rw.Problems, fmt.Sprintf("Kafka holds seq %d but the buffer's last seq is %d", maxSeq, lastSeq))
		lastSeq = maxSeq
	}
	var holes []uint64
	for s := uint64(1); s <= lastSeq; s++ {
		switch {
		case delivered[s] && covered[s]:
			rw.Problems = append(rw.Problems, fmt.Sprintf("seq %d was delivered and also reported lost by a gap event", s))
		case !delivered[s] && !covered[s]:
			holes = append(holes, s)
		}
	}
	if len(holes) > 0 {
		rw.Problems = append(rw.Problems, fmt.Sprintf("%d committed seqs neither in Kafka nor in a gap event: %s", len(holes), seqRanges(holes)))
	}
	if rw.Kills == 0 && uint64(droppedMetric) != rw.Gaps {
		rw.Problems = append(rw.Problems, fmt.Sprintf("rfidgw_events_dropped_total = %v but gap events report %d", droppedMetric, rw.Gaps))
	}

	// Per-EPC order as a hub that drops duplicates by id sees it.
	lastOf := map[string]event{}
	for _, e := range first {
		if e.EPC == nil {
			continue
		}
		if p, ok := lastOf[*e.EPC]; ok && e.Seq < p.Seq {
			rw.Order++
			rw.Problems = append(rw.Problems, fmt.Sprintf("order: EPC %s got seq %d after seq %d:\n  %s\n  %s", *e.EPC, e.Seq, p.Seq, p.Raw, e.Raw))
		}
		lastOf[*e.EPC] = e
	}

	// Against the scenario's events (multiset, then per-EPC sequence).
	want := map[string]int{}
	wantPer := map[string][]string{}
	for _, e := range r.slice.Expected {
		want[e.Reduce]++
		wantPer[e.EPC] = append(wantPer[e.EPC], e.Reduce)
	}
	gotPer := map[string][]string{}
	rawPer := map[string][]string{}
	var extra []string
	for _, e := range first {
		if e.Type == "gap" {
			continue
		}
		k := e.reduce()
		gotPer[e.EPCStr()] = append(gotPer[e.EPCStr()], k)
		rawPer[e.EPCStr()] = append(rawPer[e.EPCStr()], e.Raw)
		if want[k] > 0 {
			want[k]--
		} else {
			extra = append(extra, e.Raw)
		}
	}
	var missing []string
	for k, n := range want {
		for ; n > 0; n-- {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	rw.ExpMiss = len(missing)

	if rw.Mode == "exact" {
		rw.Extra = len(extra)
		rw.Missing = rw.ExpMiss + len(holes)
		if uint64(rw.Missing) != rw.Gaps {
			rw.Problems = append(rw.Problems, fmt.Sprintf("%d scenario events missing, %d seq holes, but gap events report %d lost; missing: %s",
				rw.ExpMiss, len(holes), rw.Gaps, strings.Join(missing, "; ")))
		}
		if len(extra) > 0 {
			rw.Problems = append(rw.Problems, fmt.Sprintf("%d events the scenario does not have:\n  %s", len(extra), strings.Join(extra, "\n  ")))
		}
		if rw.Gaps == 0 && rw.ExpMiss == 0 {
			for epc, w := range wantPer {
				if strings.Join(gotPer[epc], "; ") != strings.Join(w, "; ") {
					rw.Order++
					rw.Problems = append(rw.Problems, fmt.Sprintf("EPC %s events in another order:\n  got  %q\n  want %q\n  as delivered:\n    %s",
						epc, gotPer[epc], w, strings.Join(rawPer[epc], "\n    ")))
				}
			}
		}
	} else {
		rw.Missing = len(holes) + len(covered)
	}

	rw.Pass = !rw.BadExit && rw.Order == 0 && len(holes) == 0 && rw.Extra == 0 &&
		uint64(rw.Missing) == rw.Gaps && len(rw.Problems) == 0
	return rw
}

// seqRanges prints sorted seqs as ranges, e.g. "3-5, 9".
func seqRanges(s []uint64) string {
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
