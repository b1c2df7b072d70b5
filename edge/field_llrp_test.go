package edge_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/llrp/llrpsim"
)

// liveEngine runs an engine on wall-clock time the way the gateway does:
// reads from a real source, Tick every 20 ms.
type liveEngine struct {
	mu     sync.Mutex
	e      *edge.Engine
	events []edge.Event
}

func (l *liveEngine) Deliver(_ context.Context, rs []reader.Read) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range rs {
		l.events = l.e.Process(l.events, &rs[i])
	}
	return nil
}

func (l *liveEngine) summary() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.events {
		out = append(out, string(ev.Type)+" "+ev.EPC[len(ev.EPC)-1:])
	}
	return out
}

func (l *liveEngine) waitFor(t *testing.T, what string, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := l.summary()
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; events %q", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// antennaGauges records rfidgw_antenna_connected (edge tests may not
// import Prometheus); everything else is discarded.
type antennaGauges struct {
	reader.Metrics
	mu sync.Mutex
	v  map[string]float64
}

type antennaGauge struct {
	g   *antennaGauges
	key string
}

func (a antennaGauge) Set(x float64) { a.g.mu.Lock(); a.g.v[a.key] = x; a.g.mu.Unlock() }

func (g *antennaGauges) AntennaConnected(id, ant string) reader.Gauge {
	return antennaGauge{g, id + "/" + ant}
}

func (g *antennaGauges) get(key string) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v[key]
}

// TestLLRPAntennaDisconnected: a real LLRP source (TCP, simulated Speedway)
// feeds a real engine. Antenna 1 (rack r1) is unplugged: the reader sends an
// AntennaEvent; tag 1 on it goes silent and does not depart, while tag 2 on
// antenna 2 (rack r2) departs lost_after after its last read. Plugging it back
// emits nothing; tag 1 departs only once it is silent with its antenna
// connected. rfidgw_antenna_connected follows.
func TestLLRPAntennaDisconnected(t *testing.T) {
	sim := llrpsim.New(llrpsim.Options{Logger: slog.New(slog.DiscardHandler)})
	addr, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	id := "ant-" + t.Name()
	set := edge.DefaultSettings()
	set.LostAfter, set.Dwell, set.MinReads, set.PresenceWindow, set.GateWindow = time.Second, 100*time.Millisecond, 1, time.Second, 500*time.Millisecond
	rack := func(zid string, ant int) edge.Zone {
		return edge.Zone{ID: zid, Kind: edge.KindRack, Floor: "1", Room: "1", Row: "A", Rack: zid,
			Antennas: []edge.AntennaRef{{Reader: id, Antennas: []int{ant}}}}
	}
	e, err := edge.New(edge.Config{Zones: []edge.Zone{rack("r1", 1), rack("r2", 2)}, Settings: set, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	live := &liveEngine{e: e}
	gauges := &antennaGauges{Metrics: reader.Discard, v: map[string]float64{}}
	src, err := llrp.New(reader.Config{ID: id, Type: reader.TypeLLRP, Settings: &llrp.Settings{Address: addr.String()}},
		reader.Env{Log: slog.New(slog.DiscardHandler), Metrics: gauges})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(2)
	go func() { defer wg.Done(); src.Run(ctx, live) }()
	go func() {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				live.mu.Lock()
				live.events = live.e.Tick(live.events, now)
				live.mu.Unlock()
			}
		}
	}()

	const tag1, tag2 = "300000000000000000000001", "300000000000000000000002"
	feedUntil := func(stop func() bool, ants ...int) {
		for !stop() {
			for _, a := range ants {
				sim.Feed(reader.Read{Antenna: a, EPC: map[int]string{1: tag1, 2: tag2}[a], RSSI: -50})
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
	has := func(want ...string) func([]string) bool {
		return func(got []string) bool { return strings.Join(got, ", ") == strings.Join(want, ", ") }
	}
	connected := func() float64 { return gauges.get(id + "/1") }

	// Both tags placed.
	feedUntil(func() bool { return len(live.summary()) >= 2 }, 1, 2)
	live.waitFor(t, "two placements", has("rack_move 1", "rack_move 2"))
	if connected() != 1 {
		t.Fatalf("rfidgw_antenna_connected{antenna=1} = %v at the start, want 1", connected())
	}

	// Unplug antenna 1; both tags stop being read.
	sim.SetAntennaConnected(1, false)
	deadline := time.Now().Add(20 * time.Second)
	for connected() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("rfidgw_antenna_connected{antenna=1} never went to 0")
		}
		time.Sleep(10 * time.Millisecond)
	}
	live.waitFor(t, "tag 2 departing", has("rack_move 1", "rack_move 2", "rack_depart 2"))
	time.Sleep(2 * set.LostAfter) // tag 1 silent well beyond lost_after
	if got := live.summary(); !has("rack_move 1", "rack_move 2", "rack_depart 2")(got) {
		t.Fatalf("events while antenna 1 was unplugged: %q (tag 1 must not depart)", got)
	}

	// Plug it back and read tag 1 again: nothing is emitted.
	sim.SetAntennaConnected(1, true)
	for connected() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("rfidgw_antenna_connected{antenna=1} never went back to 1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopAt := time.Now().Add(time.Second)
	feedUntil(func() bool { return time.Now().After(stopAt) }, 1)
	if got := live.summary(); !has("rack_move 1", "rack_move 2", "rack_depart 2")(got) {
		t.Fatalf("events after antenna 1 came back: %q, want none", got)
	}
	// Silent with its antenna connected: now tag 1 departs.
	live.waitFor(t, "tag 1 departing", has("rack_move 1", "rack_move 2", "rack_depart 2", "rack_depart 1"))
}
