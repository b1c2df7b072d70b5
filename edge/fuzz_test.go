package edge

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// FuzzEngine feeds arbitrary sequences of reads, status changes, ticks and
// reloads and checks that the engine never panics and that its events and
// state changes stay consistent: a rack_move's from is the tag's current
// rack, a rack_depart leaves from it, each rack event comes with exactly one
// state change, gate events are well formed.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{})
	// Two reads in r1 then a long tick.
	f.Add([]byte{1, 1, 0, 50, 100, 0, 1, 1, 0, 50, 100, 0, 5, 0, 0, 0, 255, 255})
	// A crossing, reads in a rack, the reader going offline and back.
	seed := []byte{}
	for i := range 30 {
		seed = append(seed, 0, byte(1+i%2), 1, byte(45+i%5), 50, 0)
	}
	for i := range 30 {
		seed = append(seed, 0, byte(3+i%2), 1, byte(45+i%5), 50, 0)
	}
	for range 80 {
		seed = append(seed, 1, 2, 1, 50, 100, 0)
	}
	seed = append(seed, 3, 0, 0, 0, 10, 0, 5, 0, 0, 0, 255, 255, 4, 0, 0, 0, 10, 0, 6, 0, 0, 0, 0, 0, 5, 0, 0, 0, 255, 255)
	f.Add(seed)
	f.Fuzz(runFuzzBody)
}

func runFuzzBody(t *testing.T, data []byte) {
	{
		alt := testConfig()
		alt.Zones = append(alt.Zones[:2], alt.Zones[3:]...) // without r2
		one := 1
		alt.Zones[1].MinReads = &one
		cfgs := []Config{testConfig(), alt}
		e, err := New(cfgs[0])
		if err != nil {
			t.Fatal(err)
		}
		readers := []string{"d", "r", "b", "zz"}
		epcs := []string{epcA, epcB, "E2801160600002"}
		cur := map[string]string{}
		now := t0
		var events []Event
		var changes []StateChange
		check := func(op string) {
			changes = e.TakeStateChanges(changes[:0])
			ci := 0
			for i := range events {
				ev := &events[i]
				if ev.EPC == "" || ev.Seq != 0 || ev.Gateway != "" || ev.Evidence == nil {
					t.Fatalf("%s: malformed event %s", op, ev.AppendJSON(nil))
				}
				switch ev.Type {
				case Inward, Outward:
					if ev.Zone != "g1" || ev.From != nil || ev.To != nil || ev.Evidence.Reads < 2 {
						t.Fatalf("%s: bad gate event %s", op, ev.AppendJSON(nil))
					}
					continue
				case RackMove:
					from := ""
					if ev.From != nil {
						from = ev.From.Zone
					}
					if from != cur[ev.EPC] || ev.To == nil || ev.To.Zone == from {
						t.Fatalf("%s: rack_move %s while the tag was in %q", op, ev.AppendJSON(nil), cur[ev.EPC])
					}
					cur[ev.EPC] = ev.To.Zone
				case RackDepart:
					if ev.From == nil || ev.From.Zone != cur[ev.EPC] || cur[ev.EPC] == "" {
						t.Fatalf("%s: rack_depart %s while the tag was in %q", op, ev.AppendJSON(nil), cur[ev.EPC])
					}
					cur[ev.EPC] = ""
				default:
					t.Fatalf("%s: unknown event type %q", op, ev.Type)
				}
				if ci >= len(changes) || changes[ci] != (StateChange{EPC: ev.EPC, Rack: cur[ev.EPC]}) {
					t.Fatalf("%s: event %s without its state change (changes %v)", op, ev.AppendJSON(nil), changes)
				}
				ci++
			}
			for _, c := range changes[ci:] {
				// Only a reload drops racks without an event.
				if op != "reload" || c.Rack != "" {
					t.Fatalf("%s: state change %v without an event", op, c)
				}
				cur[c.EPC] = ""
			}
			events = events[:0]
		}
		for len(data) >= 6 {
			op, a, b, c := data[0]%8, data[1], data[2], data[3]
			dt := time.Duration(binary.LittleEndian.Uint16(data[4:6])) * 10 * time.Millisecond
			data = data[6:]
			now = now.Add(dt)
			switch op {
			case 0, 1, 2: // a read
				r := reader.Read{Time: now, Reader: readers[int(op+b)%len(readers)], Antenna: int(a % 6),
					EPC: epcs[int(b)%len(epcs)], RSSI: -float64(c) / 2}
				if c == 255 {
					r.RSSI = math.NaN()
				}
				if b == 200 {
					r.Time = now.Add(-time.Minute) // late
				}
				events = e.Tick(events, r.Time)
				events = e.Process(events, &r)
				check(fmt.Sprintf("read %+v", r))
			case 3, 4: // a reader goes offline / online
				st := reader.StatusOffline
				if op == 4 {
					st = reader.StatusOnline
				}
				r := reader.StatusRead(now, readers[int(a)%len(readers)], st)
				events = e.Process(events, &r)
				check("status")
			case 5: // a tick
				events = e.Tick(events, now)
				check("tick")
			case 6: // a reload
				if err := e.Reconfigure(cfgs[int(a)%2]); err != nil {
					t.Fatal(err)
				}
				check("reload")
			case 7:
				var n int
				e.Snapshot(now, func(TagView) { n++ })
				if st := e.Stats(); st.Tags != n {
					t.Fatalf("Stats says %d tags, Snapshot saw %d", st.Tags, n)
				}
			}
		}
		events = e.Flush(events, now)
		check("flush")
	}
}
