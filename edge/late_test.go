package edge

import (
	"testing"
	"time"
)

// TestLateReads: reads a reader held during a cut arrive late in a burst.
// A late read of a tag on its settled rack delays a departure not yet sent
// (sent lost_after after that read, with that time); a late read never
// undoes a departure already sent, never places a tag, and never makes a
// gate crossing out of old reads on one side and new reads on the other.
func TestLateReads(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.twoRacks(0, 20*time.Second, step, "r", 1, "b", 1) // A on r1, B on b1; last reads ~20 s
	if ev := f.take(); len(ev) != 2 {
		t.Fatalf("want two placements, got %s", f.summary(ev))
	}
	// At 50 s, B's reader delivers a read it held from 45 s.
	f.tick(50 * time.Second)
	f.read(45*time.Second, "b", 1, epcB, -50)
	f.tick(110 * time.Second)
	ev := f.take()
	if len(ev) != 2 || ev[0].EPC != epcA || ev[0].Type != RackDepart || ev[1].EPC != epcB || ev[1].Type != RackDepart {
		t.Fatalf("got %s, want A then B departing", f.summary(ev))
	}
	if want := t0.Add(20*time.Second - step + time.Minute); !ev[0].Time.Equal(want) {
		t.Errorf("A departed at %v, want %v", ev[0].Time, want)
	}
	if want := t0.Add(105 * time.Second); !ev[1].Time.Equal(want) {
		t.Errorf("B departed at %v, want %v (lost_after after its late read at 45 s)", ev[1].Time, want)
	}
	// A late read of A from 30 s (before its departure at 80 s) arrives now:
	// the departure stands, A is not placed again.
	f.read(30*time.Second, "r", 1, epcA, -50)
	for at := 31 * time.Second; at < 40*time.Second; at += step { // a whole held burst
		f.read(at, "r", 1, epcA, -50)
	}
	// A gate: new reads on the outside now, the inside side only late.
	for at := 111 * time.Second; at < 113*time.Second; at += step {
		f.read(at, "d", 1, epcLate, -45)
	}
	for at := 100 * time.Second; at < 102*time.Second; at += step {
		f.read(at, "d", 3, epcLate, -45)
	}
	f.tick(10 * time.Minute)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("late reads made events: %s", f.summary(ev))
	}
	st := f.e.Stats()
	var late uint64
	for _, ig := range st.Ignored {
		if ig.Reason == ReasonLate {
			late += ig.Count
		}
	}
	if late != 91+20 {
		t.Errorf("%d late reads counted as ignored, want %d (A's burst and the gate's inside side)", late, 91+20)
	}
}

const epcLate = "E28011606000020D8F3A1B2F"
