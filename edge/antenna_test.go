package edge

import (
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

func (f *feeder) antenna(at time.Duration, rdr string, ant int, st reader.Status) {
	r := reader.StatusRead(t0.Add(at), rdr, st)
	r.Antenna = ant
	f.events = f.e.Process(f.events, &r)
}

// TestAntennaOfflineLikeReaderOffline: a disconnected antenna counts like an
// offline reader for the zone it feeds (r1), not for the reader's other
// zones (r2): no departure from its silence, nothing when it is back, the
// departure lost_after after reads stop once it is connected again.
func TestAntennaOfflineLikeReaderOffline(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.twoRacks(0, 20*time.Second, step, "r", 1, "r", 2)
	if ev := f.take(); len(ev) != 2 {
		t.Fatalf("want two placements, got %s", f.summary(ev))
	}
	f.antenna(20*time.Second, "r", 1, reader.StatusOffline)
	f.antenna(21*time.Second, "r", 1, reader.StatusOffline) // repeated: counts once
	f.tick(10 * time.Minute)
	ev := f.take()
	if len(ev) != 1 || ev[0].Type != RackDepart || ev[0].EPC != epcB {
		t.Fatalf("got %s, want only %s departing r2 (its antenna is connected)", f.summary(ev), epcB)
	}
	if st := f.e.Stats(); len(st.Readers) != 3 || len(st.Readers[2].AntennasOff) != 1 || st.Readers[2].AntennasOff[0] != 1 {
		t.Fatalf("stats readers %+v, want r with antenna 1 off", st.Readers)
	}
	f.antenna(10*time.Minute, "r", 1, reader.StatusOnline)
	f.rackReads(10*time.Minute, 15*time.Minute, step, "r", 1, epcA, -50)
	f.tick(20 * time.Minute)
	if ev := f.take(); len(ev) != 1 || ev[0].Type != RackDepart || ev[0].EPC != epcA || !ev[0].Time.Equal(t0.Add(16*time.Minute-step)) {
		t.Fatalf("got %s, want only %s departing 60 s after its last read (15:59.9)", f.summary(ev), epcA)
	}
}

// TestAntennaOfflineClearedByReconnect: a reader that comes back online
// starts with all antennas connected (its source reports the bad ones
// again), and a zone layout reload keeps a disconnected antenna counted.
func TestAntennaOfflineClearedByReconnect(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.rackReads(0, 20*time.Second, step, "r", 1, epcA, -50)
	f.take()
	f.antenna(20*time.Second, "r", 1, reader.StatusOffline)
	if err := f.e.Reconfigure(testConfig()); err != nil {
		t.Fatal(err)
	}
	f.tick(5 * time.Minute)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("departure while the antenna is off (after a reload): %s", f.summary(ev))
	}
	f.status(5*time.Minute, "r", reader.StatusOffline)
	f.status(6*time.Minute, "r", reader.StatusOnline)
	f.tick(7*time.Minute + time.Second)
	if ev := f.take(); len(ev) != 1 || ev[0].Type != RackDepart || !ev[0].Time.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("got %s, want the departure lost_after after the reader came back (7:00)", f.summary(ev))
	}
}
