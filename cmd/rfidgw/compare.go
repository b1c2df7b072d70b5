package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

// compareKey is what makes two replayed events "the same movement": type,
// tag, zone and the racks moved between. Times may differ (a longer dwell
// settles later) without making it another event.
type compareKey struct {
	typ        edge.EventType
	epc, zone  string
	fromZ, toZ string
}

func keyOf(e *edge.Event) compareKey {
	k := compareKey{typ: e.Type, epc: e.EPC, zone: e.Zone}
	if e.From != nil {
		k.fromZ = e.From.Zone
	}
	if e.To != nil {
		k.toZ = e.To.Zone
	}
	return k
}

// describe is one event in a line: type, tag, where.
func describe(e *edge.Event) string {
	where := e.Zone
	switch {
	case e.Type == edge.RackMove:
		from := "(none)"
		if e.From != nil {
			from = e.From.Zone
		}
		to := "(none)"
		if e.To != nil {
			to = e.To.Zone
		}
		where = from + " -> " + to
	case e.Type == edge.Gap:
		where = fmt.Sprintf("%d dropped", e.Dropped)
	}
	return fmt.Sprintf("%-11s %-24s %s", e.Type, e.EPC, where)
}

type compareStats struct {
	a, b, both, moved, onlyA, onlyB int
	shift                           time.Duration // sum of |b-a| over moved pairs
}

// compareEvents writes the events that differ between two replays of the
// same reads (a: --config, b: --compare), in time order, then one summary
// line per event type. Events with the same key are paired in time order;
// a pair whose times differ by a second or more is listed with "~".
func compareEvents(w io.Writer, nameA, nameB string, a, b []edge.Event) {
	type pending struct{ as, bs []*edge.Event }
	byKey := map[compareKey]*pending{}
	var keys []compareKey
	add := func(e *edge.Event, isA bool) {
		k := keyOf(e)
		p := byKey[k]
		if p == nil {
			p = &pending{}
			byKey[k] = p
			keys = append(keys, k)
		}
		if isA {
			p.as = append(p.as, e)
		} else {
			p.bs = append(p.bs, e)
		}
	}
	for i := range a {
		add(&a[i], true)
	}
	for i := range b {
		add(&b[i], false)
	}
	type line struct {
		t    time.Time
		text string
	}
	var lines []line
	stats := map[edge.EventType]*compareStats{}
	st := func(t edge.EventType) *compareStats {
		if stats[t] == nil {
			stats[t] = &compareStats{}
		}
		return stats[t]
	}
	for _, k := range keys {
		p := byKey[k]
		s := st(k.typ)
		s.a += len(p.as)
		s.b += len(p.bs)
		n := min(len(p.as), len(p.bs))
		for i := 0; i < n; i++ {
			ea, eb := p.as[i], p.bs[i]
			s.both++
			d := eb.Time.Sub(ea.Time)
			if d >= time.Second || d <= -time.Second {
				s.moved++
				s.shift += d
				lines = append(lines, line{ea.Time, fmt.Sprintf("~ %s %s  %+.1fs with %s",
					ea.Time.UTC().Format(edge.EventTimeLayout), describe(ea), d.Seconds(), nameB)})
			}
		}
		for _, e := range p.as[n:] {
			s.onlyA++
			lines = append(lines, line{e.Time, fmt.Sprintf("- %s %s  only with %s", e.Time.UTC().Format(edge.EventTimeLayout), describe(e), nameA)})
		}
		for _, e := range p.bs[n:] {
			s.onlyB++
			lines = append(lines, line{e.Time, fmt.Sprintf("+ %s %s  only with %s", e.Time.UTC().Format(edge.EventTimeLayout), describe(e), nameB)})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t.Before(lines[j].t) })
	for _, l := range lines {
		fmt.Fprintln(w, l.text)
	}
	if len(lines) > 0 {
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "no difference: %s and %s emit the same events at the same times\n\n", nameA, nameB)
	}
	types := []edge.EventType{edge.Inward, edge.Outward, edge.RackMove, edge.RackDepart, edge.Gap}
	for t := range stats {
		if !containsType(types, t) {
			types = append(types, t)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "event\twith %s\twith %s\tin both\tat another time\tonly with %s\tonly with %s\n", nameA, nameB, nameA, nameB)
	for _, t := range types {
		s := stats[t]
		if s == nil {
			continue
		}
		moved := "0"
		if s.moved > 0 {
			moved = fmt.Sprintf("%d (mean %+.1fs)", s.moved, (s.shift / time.Duration(s.moved)).Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\n", t, s.a, s.b, s.both, moved, s.onlyA, s.onlyB)
	}
	tw.Flush()
	if len(stats) == 0 {
		fmt.Fprintf(w, "no events with %s or %s\n", nameA, nameB)
	}
}

func containsType(ts []edge.EventType, t edge.EventType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// compareNames labels the two configs by file name, or by path when the
// names are the same.
func compareNames(a, b string) (string, string) {
	na, nb := filepath.Base(a), filepath.Base(b)
	if na == nb {
		return a, b
	}
	return na, nb
}
