package edge

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// testConfig: gate g1 on reader d (outside 1,2; inside 3,4), racks r1..r3
// on reader r (antennas 1..3), rack b1 on reader b (antenna 1), defaults.
func testConfig() Config {
	rack := func(id, rdr string, ant int) Zone {
		return Zone{ID: id, Kind: KindRack, Floor: "3", Room: "3.1", Row: "A", Rack: id,
			Antennas: []AntennaRef{{Reader: rdr, Antennas: []int{ant}}}}
	}
	return Config{
		Zones: []Zone{
			{ID: "g1", Kind: KindGate, Floor: "3",
				Outside: []AntennaRef{{Reader: "d", Antennas: []int{1, 2}}},
				Inside:  []AntennaRef{{Reader: "d", Antennas: []int{3, 4}}}},
			rack("r1", "r", 1), rack("r2", "r", 2), rack("r3", "r", 3), rack("b1", "b", 1),
		},
		Settings: DefaultSettings(),
		Logger:   slog.New(slog.DiscardHandler),
	}
}

// feeder drives an engine the way the owner does: Tick to the read's time,
// then Process; it persists state changes like the owner.
type feeder struct {
	t       *testing.T
	e       *Engine
	events  []Event
	changes []StateChange
}

func newFeeder(t *testing.T, cfg Config) *feeder {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &feeder{t: t, e: e}
}

func (f *feeder) read(at time.Duration, rdr string, ant int, epc string, rssi float64) {
	r := reader.Read{Time: t0.Add(at), Reader: rdr, Antenna: ant, EPC: epc, RSSI: rssi}
	f.events = f.e.Tick(f.events, r.Time)
	f.events = f.e.Process(f.events, &r)
	f.changes = f.e.TakeStateChanges(f.changes)
}

func (f *feeder) status(at time.Duration, rdr string, st reader.Status) {
	r := reader.StatusRead(t0.Add(at), rdr, st)
	f.events = f.e.Process(f.events, &r)
}

func (f *feeder) tick(at time.Duration) {
	f.events = f.e.Tick(f.events, t0.Add(at))
	f.changes = f.e.TakeStateChanges(f.changes)
}

// rackReads reads epc at (rdr, ant) every step in [from, to) at rssi.
func (f *feeder) rackReads(from, to, step time.Duration, rdr string, ant int, epc string, rssi float64) {
	for at := from; at < to; at += step {
		f.read(at, rdr, ant, epc, rssi)
	}
}

// twoRacks reads epcA at (rdr, antA) and epcB at (rdr2, antB) every step in
// [from, to), interleaved (reads must come in time order).
func (f *feeder) twoRacks(from, to, step time.Duration, rdrA string, antA int, rdrB string, antB int) {
	for at := from; at < to; at += step {
		f.read(at, rdrA, antA, epcA, -50)
		f.read(at+step/2, rdrB, antB, epcB, -50)
	}
}

func (f *feeder) take() []Event {
	ev := f.events
	f.events = nil
	return ev
}

func (f *feeder) summary(evs []Event) string {
	var parts []string
	for i := range evs {
		parts = append(parts, reduce(&evs[i]).String())
	}
	return strings.Join(parts, "; ")
}

const epcA = "E28011606000020D8F3A1B2C"
const epcB = "E28011606000020D8F3A1B2D"

func TestValidateNamesEveryProblem(t *testing.T) {
	type mod func(*Config)
	cases := []struct {
		name string
		mod  mod
		want []string
	}{
		{"unknown kind", func(c *Config) { c.Zones[1].Kind = "shelf" }, []string{`zones[1].kind: unknown kind "shelf"; want gate or rack`}},
		{"missing kind", func(c *Config) { c.Zones[1].Kind = "" }, []string{`zones[1].kind: missing`}},
		{"antenna in two zones", func(c *Config) { c.Zones[2].Antennas[0].Antennas = []int{1} },
			[]string{`zones[2].antennas[0].antennas[0]: antenna 1 of reader "r" is already in zone "r1" (zones[1].antennas[0].antennas[0])`}},
		{"gate side overlaps", func(c *Config) { c.Zones[0].Inside[0].Antennas = []int{2, 3} },
			[]string{`zones[0].inside[0].antennas[0]: antenna 2 of reader "d" is already in zone "g1"`}},
		{"all antennas vs one", func(c *Config) { c.Zones[2].Antennas[0].Antennas = nil },
			[]string{`zones[2].antennas[0].antennas: empty (= every antenna of reader "r"), but antenna 1 is already in zone "r1"`}},
		{"gate without inside", func(c *Config) { c.Zones[0].Inside = nil }, []string{`zones[0].inside: a gate needs inside antennas`}},
		{"rack with outside", func(c *Config) { c.Zones[1].Outside = []AntennaRef{{Reader: "x", Antennas: []int{1}}} },
			[]string{`zones[1].outside: a rack has antennas, not outside/inside`}},
		{"duplicate id", func(c *Config) { c.Zones[2].ID = "r1" }, []string{`zones[2].id: "r1" is already the id of zones[1]`}},
		{"missing id", func(c *Config) { c.Zones[2].ID = "" }, []string{`zones[2].id: missing`}},
		{"missing reader", func(c *Config) { c.Zones[3].Antennas[0].Reader = "" }, []string{`zones[3].antennas[0].reader: missing`}},
		{"unknown reader", func(c *Config) { c.KnownReaders = []string{"r", "b"} }, []string{
			`zones[0].outside[0].reader: unknown reader "d"`, `zones[0].inside[0].reader: unknown reader "d"`}},
		{"antenna 0", func(c *Config) { c.Zones[4].Antennas[0].Antennas = []int{0} }, []string{`zones[4].antennas[0].antennas[0]: antenna 0 is out of range 1..4096`}},
		{"global min_reads", func(c *Config) { c.Settings.MinReads = 0 }, []string{`edge.min_reads: 0 is outside 1..7`}},
		{"global windows", func(c *Config) { c.Settings.PresenceWindow = 2 * time.Minute; c.Settings.LostAfter = 0 },
			[]string{`edge.presence_window: 2m0s is outside (0s, 1m0s]`, `edge.lost_after: 0s must be positive`}},
		{"override", func(c *Config) { d := -time.Second; c.Zones[1].Dwell = &d; x := 5.0; c.Zones[2].MinRSSI = &x },
			[]string{`zones[1].dwell: -1s is negative`, `zones[2].min_rssi: 5 dBm is outside -150..0`}},
		{"zero dwell", func(c *Config) { c.Settings.Dwell = 0; z := time.Duration(0); c.Zones[1].Dwell = &z },
			[]string{`edge.dwell: 0s would move a tag on its first stronger read: set e.g. 5s (the default)`, `zones[1].dwell: 0s would move`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mod(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("error does not wrap ErrBadConfig: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tc.want); got != want {
				t.Errorf("%d problems reported, want %d:\n%v", got, want, err)
			}
		})
	}
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
}

func TestSingleReadsPlaceNothing(t *testing.T) {
	f := newFeeder(t, testConfig())
	// One read every 4 s: never min_reads (2) within presence_window (3s).
	f.rackReads(0, 2*time.Minute, 4*time.Second, "r", 1, epcA, -50)
	f.tick(5 * time.Minute)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("sparse single reads gave events: %s", f.summary(ev))
	}
}

func TestFirstPlacementWaitsForDwell(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	// The tag is present from the 2nd read (100 ms); dwell 5 s.
	f.rackReads(0, 5*time.Second, step, "r", 1, epcA, -50)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("placed before dwell: %s", f.summary(ev))
	}
	f.rackReads(5*time.Second, 6*time.Second, step, "r", 1, epcA, -50)
	ev := f.take()
	if len(ev) != 1 || ev[0].Type != RackMove || ev[0].From != nil || ev[0].To.Zone != "r1" {
		t.Fatalf("got %s, want one rack_move null -> r1", f.summary(ev))
	}
	if want := t0.Add(5100 * time.Millisecond); !ev[0].Time.Equal(want) {
		t.Errorf("placed at %v, want %v (5 s after the tag became present)", ev[0].Time, want)
	}
	if ev[0].Zone != "r1" || ev[0].To.Floor != "3" || ev[0].Evidence == nil || ev[0].Evidence.Reads != 52 ||
		ev[0].Evidence.PeakRSSI != -50 || strings.Join(ev[0].Evidence.Readers, ",") != "r" || len(ev[0].Evidence.Antennas) != 1 {
		t.Errorf("event fields: %s", ev[0].AppendJSON(nil))
	}
	if len(f.changes) != 1 || f.changes[0] != (StateChange{EPC: epcA, Rack: "r1"}) {
		t.Errorf("state changes %v, want [{%s r1}]", f.changes, epcA)
	}
}

func TestHysteresis(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.rackReads(0, 10*time.Second, step, "r", 1, epcA, -50)
	if ev := f.take(); len(ev) != 1 {
		t.Fatalf("no placement: %s", f.summary(ev))
	}
	// r2 reads 5 dB stronger than r1 for 30 s: not enough (hysteresis 6).
	for at := 10 * time.Second; at < 40*time.Second; at += step {
		f.read(at, "r", 1, epcA, -50)
		f.read(at+step/2, "r", 2, epcA, -45)
	}
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("moved on a 5 dB lead: %s", f.summary(ev))
	}
	// 7 dB stronger: moves after dwell.
	for at := 40 * time.Second; at < 60*time.Second; at += step {
		f.read(at, "r", 1, epcA, -50)
		f.read(at+step/2, "r", 2, epcA, -43)
	}
	ev := f.take()
	if len(ev) != 1 || reduce(&ev[0]).String() != "rack_move r1 -> r2" {
		t.Fatalf("got %s, want rack_move r1 -> r2", f.summary(ev))
	}
	if d := ev[0].Time.Sub(t0.Add(40 * time.Second)); d < 5*time.Second || d > 8*time.Second {
		t.Errorf("moved %v after the 7 dB lead began, want dwell (5 s) plus smoothing", d)
	}
}

func TestDepartWaitsWhileReaderOffline(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.twoRacks(0, 20*time.Second, step, "r", 1, "b", 1)
	if ev := f.take(); len(ev) != 2 {
		t.Fatalf("want two placements, got %s", f.summary(ev))
	}
	// Reader r goes offline 10 s after the last read, for 20 minutes; b's
	// tag keeps being read, and the ticker runs.
	f.status(30*time.Second, "r", reader.StatusOffline)
	for at := 20 * time.Second; at < 20*time.Minute; at += time.Second {
		f.read(at, "b", 1, epcB, -50)
		f.tick(at)
	}
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("events while the reader was offline: %s", f.summary(ev))
	}
	f.status(20*time.Minute, "r", reader.StatusOnline)
	for at := 20 * time.Minute; at < 20*time.Minute+59*time.Second; at += time.Second {
		f.read(at, "b", 1, epcB, -50)
	}
	f.tick(20*time.Minute + 59*time.Second)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("departed before lost_after of online silence: %s", f.summary(ev))
	}
	for at := 20*time.Minute + 59*time.Second; at < 21*time.Minute+30*time.Second; at += time.Second {
		f.read(at, "b", 1, epcB, -50)
	}
	ev := f.take()
	if len(ev) != 1 || reduce(&ev[0]).String() != "rack_depart from r1" || ev[0].EPC != epcA {
		t.Fatalf("got %s, want rack_depart from r1 of %s", f.summary(ev), epcA)
	}
	if want := t0.Add(21 * time.Minute); !ev[0].Time.Equal(want) {
		t.Errorf("departed at %v, want %v (back online + lost_after)", ev[0].Time, want)
	}
	if last := f.changes[len(f.changes)-1]; last != (StateChange{EPC: epcA}) {
		t.Errorf("last state change %v, want the rack deleted", last)
	}
	// The next placement starts from null.
	f.rackReads(22*time.Minute, 22*time.Minute+10*time.Second, step, "r", 2, epcA, -50)
	if ev := f.take(); len(ev) != 1 || reduce(&ev[0]).String() != "rack_move null -> r2" {
		t.Fatalf("got %s, want rack_move null -> r2", f.summary(ev))
	}
}

func TestOfflineReaderBackGivesNothing(t *testing.T) {
	// EdgeX turns the tags of a reader that was offline into departures
	// and arrivals; here nothing happens when it is back and reads resume.
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.rackReads(0, 20*time.Second, step, "r", 1, epcA, -50)
	f.take()
	f.status(20*time.Second, "r", reader.StatusOffline)
	f.tick(10 * time.Minute)
	f.status(10*time.Minute, "r", reader.StatusOnline)
	f.rackReads(10*time.Minute, 15*time.Minute, step, "r", 1, epcA, -50)
	f.tick(20 * time.Minute)
	if ev := f.take(); len(ev) != 1 || ev[0].Type != RackDepart || !ev[0].Time.Equal(t0.Add(16*time.Minute-step)) {
		t.Fatalf("got %s, want only the depart 60 s after the last read (14:59.9)", f.summary(ev))
	}
}

// crossing reads a gate crossing: the first side peaks at p, the other 1.5 s
// later, reads within 1.2 s of each peak at -45 dBm minus 24 dB/s².
func (f *feeder) crossing(p time.Duration, epc string, inward bool) {
	first, second := []int{1, 2}, []int{3, 4}
	if !inward {
		first, second = second, first
	}
	type rd struct {
		at  time.Duration
		ant int
		dB  float64
	}
	var rds []rd
	for _, side := range []struct {
		ants []int
		peak time.Duration
	}{{first, p}, {second, p + 1500*time.Millisecond}} {
		for d := -1200 * time.Millisecond; d <= 1200*time.Millisecond; d += 100 * time.Millisecond {
			s := d.Seconds()
			for _, a := range side.ants {
				rds = append(rds, rd{side.peak + d + time.Duration(a)*time.Millisecond, a, -45 - 24*s*s})
			}
		}
	}
	// Sort by time: the two sides overlap.
	for i := range rds {
		for j := i + 1; j < len(rds); j++ {
			if rds[j].at < rds[i].at {
				rds[i], rds[j] = rds[j], rds[i]
			}
		}
	}
	for _, r := range rds {
		f.read(r.at, "d", r.ant, epc, r.dB)
	}
}

func TestGateDirection(t *testing.T) {
	t.Run("inward", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.crossing(10*time.Second, epcA, true)
		f.tick(time.Minute)
		ev := f.take()
		if len(ev) != 1 || ev[0].Type != Inward || ev[0].Zone != "g1" {
			t.Fatalf("got %s, want one inward", f.summary(ev))
		}
		if want := t0.Add(11500 * time.Millisecond).Add(3 * time.Millisecond); !ev[0].Time.Equal(want) {
			t.Errorf("time %v, want the inside peak %v", ev[0].Time, want)
		}
		e := ev[0].Evidence
		// Reads more than 1.1 s from a peak are under min_rssi: 23 per antenna.
		if e == nil || e.Reads != 92 || e.PeakRSSI != -45 || strings.Join(e.Readers, ",") != "d" || len(e.Antennas) != 4 {
			t.Errorf("evidence: %s", ev[0].AppendJSON(nil))
		}
	})
	t.Run("decided a quarter gate_window after the later peak", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.crossing(10*time.Second, epcA, true)
		// Inside peak at 11.5 s: decided at 14.0 s, not at the 10 s limit.
		f.tick(14*time.Second - time.Millisecond)
		if ev := f.take(); len(ev) != 0 {
			t.Fatalf("decided before the peak had settled: %s", f.summary(ev))
		}
		f.tick(14*time.Second + 3*time.Millisecond)
		if ev := f.take(); len(ev) != 1 || ev[0].Type != Inward {
			t.Fatalf("got %s, want the inward 2.5 s after the inside peak", f.summary(ev))
		}
	})
	t.Run("outward", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.crossing(10*time.Second, epcA, false)
		f.tick(time.Minute)
		if ev := f.take(); len(ev) != 1 || ev[0].Type != Outward {
			t.Fatalf("got %s, want one outward", f.summary(ev))
		}
	})
	t.Run("one side", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		for d := time.Duration(0); d < 3*time.Second; d += 100 * time.Millisecond {
			f.read(10*time.Second+d, "d", 1, epcA, -47)
		}
		f.tick(time.Minute)
		if ev := f.take(); len(ev) != 0 {
			t.Fatalf("one side gave %s", f.summary(ev))
		}
	})
	t.Run("sides too far apart", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		for d := time.Duration(0); d < 2*time.Second; d += 100 * time.Millisecond {
			f.read(10*time.Second+d, "d", 1, epcA, -47)
			f.read(25*time.Second+d, "d", 3, epcA, -47)
		}
		f.tick(time.Minute)
		if ev := f.take(); len(ev) != 0 {
			t.Fatalf("sides 15 s apart gave %s", f.summary(ev))
		}
	})
	t.Run("lingering after crossing", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.crossing(10*time.Second, epcA, true)
		// Three minutes at the inside antennas, at -60.
		for at := 13 * time.Second; at < 193*time.Second; at += 300 * time.Millisecond {
			f.read(at, "d", 3, epcA, -60)
		}
		f.tick(5 * time.Minute)
		if ev := f.take(); len(ev) != 1 || ev[0].Type != Inward {
			t.Fatalf("got %s, want exactly one inward", f.summary(ev))
		}
	})
	t.Run("lingering before crossing out", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		for at := time.Duration(0); at < 120*time.Second; at += 300 * time.Millisecond {
			f.read(at, "d", 4, epcA, -58)
		}
		f.crossing(121*time.Second, epcA, false)
		f.tick(5 * time.Minute)
		if ev := f.take(); len(ev) != 1 || ev[0].Type != Outward {
			t.Fatalf("got %s, want exactly one outward", f.summary(ev))
		}
	})
	t.Run("in and out again", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.crossing(10*time.Second, epcA, true)
		f.crossing(60*time.Second, epcA, false)
		f.tick(5 * time.Minute)
		if ev := f.take(); f.summary(ev) != "inward g1; outward g1" {
			t.Fatalf("got %s, want inward then outward", f.summary(ev))
		}
	})
	t.Run("gate reads do not cancel a depart", func(t *testing.T) {
		f := newFeeder(t, testConfig())
		f.rackReads(0, 20*time.Second, 100*time.Millisecond, "r", 1, epcA, -50)
		f.crossing(40*time.Second, epcA, false)
		f.tick(5 * time.Minute)
		ev := f.take()
		if f.summary(ev) != "rack_move null -> r1; outward g1; rack_depart from r1" {
			t.Fatalf("got %s", f.summary(ev))
		}
		if want := t0.Add(20*time.Second - 100*time.Millisecond + time.Minute); !ev[2].Time.Equal(want) {
			t.Errorf("depart at %v, want %v (last rack read + lost_after)", ev[2].Time, want)
		}
	})
}

func TestPerZoneOverrides(t *testing.T) {
	cfg := testConfig()
	one, long := 1, 20*time.Second
	weak := -90.0
	cfg.Zones[4].MinReads = &one // b1: a single read counts
	cfg.Zones[4].Dwell = &long
	cfg.Zones[4].MinRSSI = &weak
	f := newFeeder(t, cfg)
	f.rackReads(0, 19*time.Second, 2*time.Second, "b", 1, epcA, -85)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("placed before b1's 20 s dwell: %s", f.summary(ev))
	}
	f.rackReads(19*time.Second, 23*time.Second, 2*time.Second, "b", 1, epcA, -85)
	if ev := f.take(); len(ev) != 1 || reduce(&ev[0]).String() != "rack_move null -> b1" {
		t.Fatalf("got %s, want the placement in b1 with single weak reads", f.summary(ev))
	}
	// The same reads in r1 (defaults) are too weak.
	f.rackReads(0, 30*time.Second, 2*time.Second, "r", 1, epcB, -85)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("defaults zone used b1's overrides: %s", f.summary(ev))
	}
}

// testSink is a StatsSink that keeps the counts in maps.
type testSink struct {
	ignored map[string]*testCounter // "reader/reason"
	lookups int
	tags    int
}

type testCounter struct{ n int }

func (c *testCounter) Inc() { c.n++ }

func (s *testSink) IgnoredCounter(rdr, reason string) Counter {
	s.lookups++
	k := rdr + "/" + reason
	if s.ignored[k] == nil {
		s.ignored[k] = &testCounter{}
	}
	return s.ignored[k]
}

func (s *testSink) TagsTracked(n int) { s.tags = n }

func TestIgnoredReadsCounted(t *testing.T) {
	f := newFeeder(t, testConfig())
	sink := &testSink{ignored: map[string]*testCounter{}, tags: -1}
	f.e.SetStatsSink(sink)
	f.read(0, "r", 1, epcA, -80)                                       // weak
	f.read(0, "r", 9, epcA, -50)                                       // no zone: antenna 9
	f.read(0, "zz", 1, epcA, -50)                                      // no zone: unknown reader
	f.read(0, "r", 1, epcA, -75)                                       // exactly min_rssi: used
	f.e.Process(nil, &reader.Read{Reader: "r", Antenna: 1, EPC: epcA}) // no time
	st := f.e.Stats()
	want := []IgnoredReads{{"r", ReasonBadTime, 1}, {"r", ReasonNoZone, 1}, {"r", ReasonWeak, 1}, {"zz", ReasonNoZone, 1}}
	if len(st.Ignored) != len(want) {
		t.Fatalf("ignored %v, want %v", st.Ignored, want)
	}
	for i := range want {
		if st.Ignored[i] != want[i] {
			t.Errorf("ignored[%d] = %v, want %v", i, st.Ignored[i], want[i])
		}
	}
	if st.Reads != 1 || st.Tags != 1 {
		t.Errorf("reads %d tags %d, want 1 and 1", st.Reads, st.Tags)
	}
	if got := sink.ignored["r/"+ReasonWeak]; got == nil || got.n != 1 {
		t.Errorf("sink's ignored counter {reader=r,reason=weak} = %v, want 1", got)
	}
	f.read(0, "r", 1, epcA, -80) // weak again: the counter is looked up once
	if sink.lookups != 4 || sink.ignored["r/"+ReasonWeak].n != 2 {
		t.Errorf("%d counter lookups, weak count %d; want 4 lookups (one per reader and reason) and 2", sink.lookups, sink.ignored["r/"+ReasonWeak].n)
	}
	f.e.Tick(nil, t0.Add(time.Second))
	if sink.tags != 1 {
		t.Errorf("sink's tags tracked = %d after Tick, want 1", sink.tags)
	}
}

func TestRestoreKeepsRackAcrossRestart(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.rackReads(0, 10*time.Second, step, "r", 1, epcA, -50)
	if len(f.take()) != 1 {
		t.Fatal("no placement")
	}
	g := newFeeder(t, testConfig())
	for _, c := range f.changes {
		g.e.Restore(c.EPC, c.Rack)
	}
	g.e.Restore(epcB, "g1")     // a gate is not a rack
	g.e.Restore(epcB[1:], "r1") // not an EPC
	g.e.Restore("", "r1")       // not an EPC
	g.rackReads(12*time.Second, 30*time.Second, step, "r", 1, epcA, -50)
	if ev := g.take(); len(ev) != 0 {
		t.Fatalf("restored tag placed again: %s", g.summary(ev))
	}
	if ch := g.changes; len(ch) != 1 || ch[0] != (StateChange{EPC: epcB}) {
		t.Errorf("state changes %v, want the unusable record of %s deleted", ch, epcB)
	}
	// A restored tag that is never read departs lost_after after start.
	h := newFeeder(t, testConfig())
	h.e.Restore(epcA, "r2")
	h.rackReads(0, 2*time.Minute, time.Second, "b", 1, epcB, -50)
	ev := h.take()
	if len(ev) != 2 || reduce(&ev[1]).String() != "rack_depart from r2" || !ev[1].Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %s, want b1 placement and a depart from r2 at start+60s", h.summary(ev))
	}
}

func TestReconfigure(t *testing.T) {
	f := newFeeder(t, testConfig())
	step := 100 * time.Millisecond
	f.twoRacks(0, 10*time.Second, step, "r", 1, "r", 2)
	if ev := f.take(); len(ev) != 2 {
		t.Fatalf("want two placements, got %s", f.summary(ev))
	}
	f.changes = nil

	bad := testConfig()
	bad.Zones[1].Kind = "shelf"
	if err := f.e.Reconfigure(bad); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("Reconfigure(bad) = %v, want ErrBadConfig", err)
	}
	// r2 removed, r1 moved to the end of the list, a new rack r4.
	cfg := testConfig()
	r1 := cfg.Zones[1]
	cfg.Zones = append([]Zone{cfg.Zones[0]}, cfg.Zones[3:]...)
	cfg.Zones = append(cfg.Zones, Zone{ID: "r4", Kind: KindRack, Antennas: []AntennaRef{{Reader: "r", Antennas: []int{4}}}}, r1)
	if err := f.e.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if len(f.e.changes) != 1 || f.e.changes[0] != (StateChange{EPC: epcB}) {
		t.Fatalf("state changes %v, want %s's rack (r2, removed) deleted", f.e.changes, epcB)
	}
	f.twoRacks(10*time.Second, 80*time.Second, step, "r", 1, "r", 2) // antenna 2: no zone now
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("reload changed kept state: %s", f.summary(ev))
	}
	var views []TagView
	f.e.Snapshot(t0.Add(80*time.Second), func(v TagView) { v.Zones = append([]ZoneView(nil), v.Zones...); views = append(views, v) })
	// epcB lost its rack and its reads go nowhere now: it was forgotten.
	if len(views) != 1 || views[0].EPC != epcA || views[0].Rack != "r1" {
		t.Fatalf("snapshot after reload: %+v", views)
	}
	if z := views[0].Zones; len(z) != 1 || z[0].Zone != "r1" || !z[0].Present || z[0].SmoothedRSSI != -50 {
		t.Errorf("snapshot zones of %s: %+v", epcA, z)
	}
	// A gate removed in the middle of a crossing: no event, no panic, and
	// the gate works again once it is back.
	f.crossing(100*time.Second, epcB, true)
	noGate := testConfig()
	noGate.Zones = noGate.Zones[1:]
	if err := f.e.Reconfigure(noGate); err != nil {
		t.Fatal(err)
	}
	f.tick(3 * time.Minute)
	if err := f.e.Reconfigure(testConfig()); err != nil {
		t.Fatal(err)
	}
	f.crossing(4*time.Minute, epcB, false)
	f.tick(5 * time.Minute)
	// epcA's reads stopped at 80 s: it departs; the inward crossing during
	// the gate's absence gives nothing.
	if ev := f.take(); f.summary(ev) != "rack_depart from r1; outward g1" {
		t.Fatalf("got %s, want the depart of r1 and only the crossing after the gate came back", f.summary(ev))
	}
}

func TestTagsAreForgotten(t *testing.T) {
	f := newFeeder(t, testConfig())
	f.read(0, "r", 1, epcA, -50)
	f.crossing(time.Second, epcB, true)
	f.tick(5 * time.Minute)
	if st := f.e.Stats(); st.Tags != 0 || st.RackSlots != 0 || st.GateSlots != 0 {
		t.Fatalf("stats %+v: silent tags without a rack must be forgotten", st)
	}
	f.rackReads(5*time.Minute, 6*time.Minute, 100*time.Millisecond, "r", 1, epcA, -50)
	f.status(6*time.Minute, "r", reader.StatusOffline)
	f.tick(time.Hour)
	if st := f.e.Stats(); st.Tags != 1 || st.Racked != 1 {
		t.Fatalf("stats %+v: a tag with a rack (reader offline) must be kept", st)
	}
}

func TestOutOfOrderReadCountsAsNow(t *testing.T) {
	f := newFeeder(t, testConfig())
	f.rackReads(10*time.Second, 20*time.Second, 100*time.Millisecond, "r", 1, epcA, -50)
	f.read(0, "r", 1, epcA, -50) // 20 s late
	f.tick(2 * time.Minute)
	ev := f.take()
	if len(ev) != 2 || ev[1].Type != RackDepart {
		t.Fatalf("got %s", f.summary(ev))
	}
	// The late read counted as a read at 19.9 s.
	if want := t0.Add(19900*time.Millisecond + time.Minute); !ev[1].Time.Equal(want) {
		t.Errorf("depart at %v, want %v", ev[1].Time, want)
	}
}

// replayJSON replays reads like `rfidgw replay` with a given Tick cadence
// and returns the events as JSON lines (seq and gateway filled in).
func replayJSON(t testing.TB, cfg Config, reads []reader.Read, tickEvery time.Duration, tickBeforeRead bool) []byte {
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	var events []Event
	seq := uint64(0)
	emit := func() {
		for i := range events {
			seq++
			events[i].Seq, events[i].Gateway = seq, "floor3"
			out = events[i].AppendJSON(out)
			out = append(out, '\n')
		}
		events = events[:0]
	}
	var nextTick time.Time
	for i := range reads {
		r := &reads[i]
		if tickEvery > 0 {
			if nextTick.IsZero() {
				nextTick = r.Time
			}
			for !nextTick.After(r.Time) {
				events = eng.Tick(events, nextTick)
				nextTick = nextTick.Add(tickEvery)
			}
		}
		if tickBeforeRead {
			events = eng.Tick(events, r.Time)
		}
		events = eng.Process(events, r)
		emit()
	}
	events = eng.Flush(events, reads[len(reads)-1].Time)
	emit()
	return out
}

func TestDeterministicWhateverTheTickCadence(t *testing.T) {
	sc := loadScenario(t, "testdata/scenarios/busy_floor")
	want := replayJSON(t, sc.cfg, sc.reads, 0, true)
	if again := replayJSON(t, sc.cfg, sc.reads, 0, true); !bytes.Equal(again, want) {
		t.Fatal("two replays of the same reads differ")
	}
	for _, c := range []struct {
		every  time.Duration
		before bool
	}{{0, false}, {100 * time.Millisecond, false}, {time.Second, false}, {7 * time.Second, true}} {
		if got := replayJSON(t, sc.cfg, sc.reads, c.every, c.before); !bytes.Equal(got, want) {
			t.Errorf("tick every %v (before each read: %v): output differs from ticking before each read", c.every, c.before)
		}
	}
	if n := bytes.Count(want, []byte("\n")); n != len(sc.expected) {
		t.Errorf("%d events, want %d", n, len(sc.expected))
	}
}

// TestGolden pins the full JSON of the events of a few scenarios (seq from
// 1, gateway floor3, as `rfidgw replay` prints them). Run with -update after
// an intended change and review the diff.
func TestGolden(t *testing.T) {
	for _, name := range []string{"inward_then_rack", "outward_from_rack", "lingering_gate", "reader_offline"} {
		t.Run(name, func(t *testing.T) {
			sc := loadScenario(t, filepath.Join("testdata/scenarios", name))
			got := replayJSON(t, sc.cfg, sc.reads, 0, true)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./edge -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func TestReaderClockAheadIsClamped(t *testing.T) {
	cfg := testConfig()
	cfg.MaxReadAhead = 2 * time.Second
	f := newFeeder(t, cfg)
	step := 100 * time.Millisecond
	// b1's tag is placed; then, with the ticker at the wall clock, reader r
	// sends a read stamped an hour ahead.
	for at := time.Duration(0); at < 30*time.Second; at += step {
		f.tick(at)
		f.e.Process(nil, &reader.Read{Time: t0.Add(at), Reader: "b", Antenna: 1, EPC: epcB, RSSI: -50})
	}
	f.events = f.e.Process(f.events, &reader.Read{Time: t0.Add(time.Hour), Reader: "r", Antenna: 1, EPC: epcA, RSSI: -50})
	f.tick(31 * time.Second)
	if ev := f.take(); len(ev) != 0 {
		t.Fatalf("a read an hour ahead made events: %s", f.summary(ev))
	}
	if st := f.e.Stats(); st.ReadsClamped != 1 {
		t.Errorf("ReadsClamped = %d, want 1", st.ReadsClamped)
	}
	var last time.Time
	f.e.Snapshot(t0.Add(31*time.Second), func(v TagView) {
		if v.EPC == epcA {
			last = v.LastSeen
		}
	})
	if want := t0.Add(time.Duration(299)*step + 2*time.Second); !last.Equal(want) {
		t.Errorf("the read counted at %v, want the last tick + 2 s = %v", last, want)
	}
}

func TestUnknownReadersAreBounded(t *testing.T) {
	f := newFeeder(t, testConfig())
	for i := range 1000 {
		f.read(time.Duration(i)*time.Millisecond, fmt.Sprintf("stranger-%d", i), 1, epcA, -50)
	}
	st := f.e.Stats()
	if n := len(st.Readers); n > 3+maxUnknownReaders+1 {
		t.Fatalf("%d readers tracked after 1000 unknown ids, want at most %d", n, 3+maxUnknownReaders+1)
	}
	var total uint64
	for _, ig := range st.Ignored {
		total += ig.Count
	}
	if total != 1000 {
		t.Errorf("%d reads counted as ignored, want all 1000", total)
	}
}
