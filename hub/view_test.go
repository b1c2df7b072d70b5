package hub

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func mv(gw, epoch string, seq uint64, epc, typ, at, from, to string) *Event {
	loc := func(z string) string {
		if z == "" {
			return "null"
		}
		return fmt.Sprintf(`{"zone":"%s","floor":"%s","room":"r","row":"a","rack":"%s"}`, z, gw, z)
	}
	zone := to
	if zone == "" {
		zone = from
	}
	v := fmt.Sprintf(`{"schema":1,"id":"%s-%s-%d","epoch":"%s","seq":%d,"gateway":"%s","type":"%s","epc":"%s","time":"%s","zone":"%s","from":%s,"to":%s,"evidence":null}`,
		gw, epoch, seq, epoch, seq, gw, typ, epc, at, zone, loc(from), loc(to))
	e, err := parseEvent([]byte(v))
	if err != nil {
		panic(err)
	}
	return &e
}

const (
	e3 = "0000000300000003"
	e4 = "0000000400000004"
)

// A rack_depart on floor3 and a placement on floor4 within the window are
// one cross-floor move, whichever arrives first; outside the window they
// stay two entries; duplicates never reach the timeline.
func TestViewCrossFloor(t *testing.T) {
	for _, departFirst := range []bool{true, false} {
		v := NewView(50, 30*time.Minute)
		v.Apply(mv("floor3", e3, 1, "AA", "rack_move", "2026-11-25T10:00:00.000Z", "", "r3-a1"))
		dep := mv("floor3", e3, 2, "AA", "rack_depart", "2026-11-25T10:05:00.000Z", "r3-a1", "")
		place := mv("floor4", e4, 7, "AA", "rack_move", "2026-11-25T10:09:00.000Z", "", "r4-b2")
		if departFirst {
			v.Apply(dep)
			v.Apply(place)
		} else {
			v.Apply(place)
			v.Apply(dep)
		}
		v.Apply(place) // duplicate
		a, ok := v.Asset("AA")
		if !ok || len(a.History) != 2 {
			t.Fatalf("departFirst=%v: %+v", departFirst, a)
		}
		h := a.History[1]
		if h.Type != MoveCrossFloor || h.From.Gateway != "floor3" || h.From.Zone != "r3-a1" || h.To.Gateway != "floor4" ||
			h.To.Zone != "r4-b2" || len(h.EventIDs) != 2 || h.EventIDs[0] != "floor3-"+e3+"-2" || h.EventIDs[1] != "floor4-"+e4+"-7" || h.Gateway != "floor4" {
			t.Fatalf("departFirst=%v: move %+v", departFirst, h)
		}
		if a.Location.Gateway != "floor4" || a.Location.Zone != "r4-b2" || a.Since != "2026-11-25T10:09:00.000Z" || a.LastEventID != "floor4-"+e4+"-7" {
			t.Fatalf("location %+v since %s last %s", a.Location, a.Since, a.LastEventID)
		}
		if s := v.Stats(); s.Duplicates != 1 || s.CrossFloor != 1 {
			t.Fatalf("stats %+v", s)
		}
	}
	// A gateway cut off delivers its departure after the asset already
	// moved on at the next floor: still one cross-floor move, in time order.
	v := NewView(50, 30*time.Minute)
	v.Apply(mv("floor3", e3, 1, "CC", "rack_move", "2026-11-25T10:00:00.000Z", "", "r3-a1"))
	v.Apply(mv("floor4", e4, 7, "CC", "rack_move", "2026-11-25T10:09:00.000Z", "", "r4-b2"))
	v.Apply(mv("floor4", e4, 9, "CC", "rack_move", "2026-11-25T10:20:00.000Z", "r4-b2", "r4-b3"))
	v.Apply(mv("floor3", e3, 2, "CC", "rack_depart", "2026-11-25T10:05:00.000Z", "r3-a1", ""))
	if a, _ := v.Asset("CC"); len(a.History) != 3 || a.History[1].Type != MoveCrossFloor || a.History[2].To.Zone != "r4-b3" || a.Location.Zone != "r4-b3" {
		t.Fatalf("late departure: %s", mustJSON(a))
	}
	v = NewView(50, 30*time.Minute)
	v.Apply(mv("floor3", e3, 2, "BB", "rack_depart", "2026-11-25T10:05:00.000Z", "r3-a1", ""))
	v.Apply(mv("floor4", e4, 7, "BB", "rack_move", "2026-11-25T11:05:00.000Z", "", "r4-b2"))
	if a, _ := v.Asset("BB"); len(a.History) != 2 || a.History[1].Type != "rack_move" {
		t.Fatalf("outside the window: %+v", a.History)
	}
	if got := v.Rack("r4-b2"); len(got) != 1 || got[0] != "BB" {
		t.Fatalf("rack: %v", got)
	}
}

// Order regressions of one EPC within a gateway epoch are counted; the
// history stays in time order. Restore takes a newer rev only.
func TestViewRegressionAndRestore(t *testing.T) {
	v := NewView(3, time.Minute)
	v.Apply(mv("floor3", e3, 5, "AA", "rack_move", "2026-11-25T10:05:00.000Z", "r1", "r2"))
	v.Apply(mv("floor3", e3, 4, "AA", "rack_move", "2026-11-25T10:04:00.000Z", "", "r1"))
	for i := uint64(6); i < 10; i++ {
		v.Apply(mv("floor3", e3, i, "AA", "rack_move", fmt.Sprintf("2026-11-25T10:%02d:00.000Z", i), "r2", "r3"))
	}
	if s := v.Stats(); s.Regressions != 1 {
		t.Fatalf("stats %+v", s)
	}
	a, _ := v.Asset("AA")
	if len(a.History) != 3 || a.History[2].EventIDs[0] != "floor3-"+e3+"-9" {
		t.Fatalf("history %+v", a.History)
	}
	keys, vals := v.TakeDirty()
	if len(keys) != 1 {
		t.Fatalf("dirty %v", keys)
	}
	w := NewView(3, time.Minute)
	if err := w.Restore(vals[0]); err != nil {
		t.Fatal(err)
	}
	b, _ := w.Asset("AA")
	if jb, ja := mustJSON(b), mustJSON(a); jb != ja {
		t.Fatalf("restored\n%s\nwant\n%s", jb, ja)
	}
	// A duplicate of a restored event is recognised by its id.
	w.Apply(mv("floor3", e3, 9, "AA", "rack_move", "2026-11-25T10:09:00.000Z", "r2", "r3"))
	if w.Stats().Duplicates != 1 {
		t.Fatalf("duplicate after restore: %+v", w.Stats())
	}
}

// Unusable values are errors naming why (they go to the DLQ).
func TestParseEventRejects(t *testing.T) {
	for _, bad := range []string{
		`nope`, `{"schema":2}`,
		`{"schema":1,"id":"x","seq":1,"gateway":"G!","type":"inward","epc":"AA","time":"2026-11-25T10:00:00.000Z","zone":"g"}`,
		`{"schema":1,"id":"x","seq":0,"gateway":"g","type":"inward","epc":"AA","time":"2026-11-25T10:00:00.000Z","zone":"g"}`,
		`{"schema":1,"id":"x","seq":1,"gateway":"g","type":"teleport","epc":"AA","time":"2026-11-25T10:00:00.000Z","zone":"g"}`,
		`{"schema":1,"id":"x","seq":1,"gateway":"g","type":"inward","epc":"aa","time":"2026-11-25T10:00:00.000Z","zone":"g"}`,
		`{"schema":1,"id":"x","seq":1,"gateway":"g","type":"rack_move","epc":"AA","time":"2026-11-25T10:00:00.000Z","zone":"g","to":null}`,
		`{"schema":1,"id":"x","seq":1,"gateway":"g","type":"inward","epc":"AA","time":"yesterday","zone":"g"}`,
	} {
		if _, err := parseEvent([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	_, v := ev("g", "0000000100000001", 1, "AA", "rack_move")
	f.Add(v)
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEvent(b)
		if err == nil {
			NewView(5, time.Minute).Apply(&e)
			NewAudit(64, time.Minute, quiet).Event(&e, b)
		}
		_, _ = parseStatus(b)
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
