package zonepage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

func TestEventLog(t *testing.T) {
	l := NewEventLog(3)
	if got := l.Recent(10); len(got) != 0 {
		t.Errorf("empty log: %s", got)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ev := func(seq uint64, epc string) edge.Event {
		return edge.Event{Seq: seq, Gateway: "floor3", Type: edge.RackMove, EPC: epc, Time: at,
			To: &edge.Location{Zone: "rack-A01"}}
	}
	l.Add(ev(1, "A"), ev(2, "B"))
	l.Add(ev(3, "A"), ev(4, "A")) // 1 falls out
	ids := func(raws []json.RawMessage) []string {
		var out []string
		for _, r := range raws {
			var e struct{ ID string }
			if err := json.Unmarshal(r, &e); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			out = append(out, e.ID)
		}
		return out
	}
	if got := ids(l.Recent(10)); len(got) != 3 || got[0] != "floor3-4" || got[2] != "floor3-2" {
		t.Errorf("Recent = %v", got)
	}
	if got := ids(l.Recent(1)); len(got) != 1 || got[0] != "floor3-4" {
		t.Errorf("Recent(1) = %v", got)
	}
	if got := ids(l.ForTag("A", 10)); len(got) != 2 || got[0] != "floor3-4" || got[1] != "floor3-3" {
		t.Errorf("ForTag(A) = %v (event 1 fell out)", got)
	}
	if got := l.ForTag("Z", 10); len(got) != 0 {
		t.Errorf("ForTag(Z) = %s", got)
	}
	// What the log gives is what the page serves: valid event JSON (docs/event.schema.json).
	m := newFakeModel()
	m.events = l.Recent(10)
	h := Handler(m, quietOpts())
	evs := decode[[]map[string]any](t, get(t, h, "GET", "/api/events"))
	if len(evs) != 3 || evs[0]["type"] != "rack_move" || evs[0]["to"].(map[string]any)["zone"] != "rack-A01" {
		t.Errorf("served = %v", evs)
	}
}
