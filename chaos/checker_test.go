package chaos

import (
	"fmt"
	"strings"
	"testing"
)

// TestCheckerFindsFaults proves the checker can fail: each case is a Kafka
// topic's content with one defect (fakes: this is the pure logic).
func TestCheckerFindsFaults(t *testing.T) {
	ev := func(seq uint64, typ, epc, zone string) event {
		raw := fmt.Sprintf(`{"id":"chaos-%d","seq":%d,"type":%q,"epc":%q,"zone":%q}`, seq, seq, typ, epc, zone)
		e, err := parseEvent([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	gap := func(seq, first, last uint64) event {
		raw := fmt.Sprintf(`{"id":"chaos-%d","seq":%d,"type":"gap","epc":null,"dropped":%d,"first_seq":%d,"last_seq":%d}`, seq, seq, last-first+1, first, last)
		e, _ := parseEvent([]byte(raw))
		return e
	}
	expected := []timedEvent{{Reduce: "inward A zone=gate-a", EPC: "A"}, {Reduce: "outward A zone=gate-a", EPC: "A"}, {Reduce: "inward B zone=gate-a", EPC: "B"}}
	a1, a2, b3 := ev(1, "inward", "A", "gate-a"), ev(2, "outward", "A", "gate-a"), ev(3, "inward", "B", "gate-a")
	cases := []struct {
		name    string
		exact   bool
		events  []event
		lastSeq uint64
		dropped float64
		pass    bool
		want    string // in the problems
	}{
		{"clean", true, []event{a1, a2, b3}, 3, 0, true, ""},
		{"redelivered duplicate is fine", true, []event{a1, a2, a1, a2, b3}, 3, 0, true, ""},
		{"seq hole", false, []event{a1, b3}, 3, 0, false, "neither in Kafka nor in a gap event: 2"},
		{"last committed seq never arrived", false, []event{a1, a2, b3}, 4, 0, false, "neither in Kafka nor in a gap event: 4"},
		{"hole covered by a gap", false, []event{a1, b3, gap(4, 2, 2)}, 4, 1, true, ""},
		{"gap names a delivered seq", false, []event{a1, a2, b3, gap(4, 2, 2)}, 4, 1, false, "delivered and also reported lost"},
		{"dropped metric disagrees", false, []event{a1, b3, gap(4, 2, 2)}, 4, 3, false, "rfidgw_events_dropped_total"},
		{"per-EPC order", false, []event{a2, a1, b3}, 3, 0, false, "order: EPC A got seq 1 after seq 2"},
		{"redelivery with other content", false, []event{a1, a2, b3, ev(2, "inward", "A", "gate-a")}, 3, 0, false, "redelivered with other content"},
		{"expected event missing", true, []event{a1, ev(2, "rack_depart", "A", ""), b3}, 3, 0, false, "missing: outward A"},
		{"extra event", true, []event{a1, a2, b3, ev(4, "inward", "C", "gate-a")}, 4, 0, false, "the scenario does not have"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &run{opts: runOpts{name: c.name, exact: c.exact}, slice: &slice{Expected: expected},
				gw: &gatewayProc{}, col: &collector{}}
			rw := check(r, c.events, c.lastSeq, c.dropped)
			probs := strings.Join(rw.Problems, "\n")
			if rw.Pass != c.pass {
				t.Errorf("pass = %v, want %v; problems:\n%s", rw.Pass, c.pass, probs)
			}
			if c.want != "" && !strings.Contains(probs, c.want) {
				t.Errorf("problems do not mention %q:\n%s", c.want, probs)
			}
		})
	}
}
