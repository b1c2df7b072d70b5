package main

// The fleet test (issue 14): gateways of the built binary, one per floor, on a
// generated multi-floor layout, a 3-broker kfake cluster with 12 partitions,
// two `rfidgw hub` processes in one consumer group; SIGKILLs, a wiped data
// dir, Kafka away, a hub instance killed and restarted. The hub's answer for
// every asset must equal the plan's. `go test -run TestFleet ./cmd/rfidgw/`
// is the short form (in `make test`); `make fleet` runs the long one
// (-fleet.full).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rfidgw/rfidgw/hub"
	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

var fleetFull = flag.Bool("fleet.full", false, "run the long form of the fleet test")

type fleetSize struct {
	floors, assets, phases, killsPerPhase int
}

// expMove is one entry of an asset's expected timeline.
type expMove struct{ typ, from, to, gw string }

type fleetAsset struct {
	epc   string
	floor int  // -1 when gone through a gate
	rack  int  // 1..4
	gate  bool // a visitor: only crosses gates
	want  []expMove
}

func rackZone(f, r int) string { return fmt.Sprintf("rack-f%02d-%d", f, r) }
func gateZone(f int) string    { return fmt.Sprintf("gate-f%02d", f) }
func floorID(f int) string     { return fmt.Sprintf("floor%02d", f) }

type read struct {
	t       time.Time
	reader  string
	antenna int
	epc     string
}

// fleetPlan generates every phase's reads per floor and the expected
// timelines. Per phase (420 s of reads time): stay tags are read on their
// rack throughout; per floor one asset moves to another rack, one moves to
// another floor (depart 300 s after its last read, placement there 20 s later) and the visitor
// crosses the gate (inward, later outward).
type fleetPlan struct {
	size   fleetSize
	assets []*fleetAsset
	reads  [][][]read // [phase][floor]
	events [][]int    // [phase][floor]: events the gateway makes in the phase
	wiped  int        // floor whose data dir is wiped before phase 3
}

var fleetT0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func newFleetPlan(sz fleetSize, seed uint64) *fleetPlan {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := &fleetPlan{size: sz, wiped: 4}
	for f := 0; f < sz.floors; f++ {
		for i := 0; i < sz.assets; i++ {
			a := &fleetAsset{epc: fmt.Sprintf("E2801160%02X%014X", f, i), floor: f, rack: 1 + i%4}
			p.assets = append(p.assets, a)
		}
		p.assets = append(p.assets, &fleetAsset{epc: fmt.Sprintf("E2801170%02X%014X", f, 0), floor: f, gate: true})
	}
	// lost_after is 300 s of reads time: after a file ends the gateway's
	// clock goes on with the wall clock, and the test must not wait that long.
	const phaseLen = 420
	for ph := 0; ph < sz.phases; ph++ {
		base := fleetT0.Add(time.Duration(ph*(phaseLen+30)) * time.Second)
		at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
		reads := make([][]read, sz.floors)
		evs := make([]int, sz.floors)
		rackReads := func(f int, epc string, rack, from, to int) {
			for s := from; s < to; s++ {
				reads[f] = append(reads[f], read{at(s).Add(time.Duration(rack) * 7 * time.Millisecond), "rack-row", rack, epc})
			}
		}
		// Who moves this phase: per floor, one in-floor and one cross-floor mover.
		movers := map[*fleetAsset]string{}
		for f := 0; f < sz.floors; f++ {
			var here []*fleetAsset
			for _, a := range p.assets {
				if a.floor == f && !a.gate {
					here = append(here, a)
				}
			}
			if ph == 0 || len(here) < 3 {
				continue
			}
			rng.Shuffle(len(here), func(i, j int) { here[i], here[j] = here[j], here[i] })
			movers[here[0]] = "in"
			movers[here[1]] = "cross"
		}
		for _, a := range p.assets {
			if a.gate {
				continue
			}
			f, r := a.floor, a.rack
			replace := ph == 2 && f == p.wiped && ph > 0 // the wiped gateway places its tags again
			switch movers[a] {
			case "":
				rackReads(f, a.epc, r, 0, phaseLen)
				if ph == 0 || replace {
					a.want = append(a.want, expMove{"rack_move", "", rackZone(f, r), floorID(f)})
					evs[f]++
				}
			case "in":
				r2 := 1 + (r+rng.IntN(3))%4
				rackReads(f, a.epc, r, 0, 30)
				rackReads(f, a.epc, r2, 30, phaseLen)
				if replace {
					a.want = append(a.want, expMove{"rack_move", "", rackZone(f, r), floorID(f)})
					evs[f]++
				}
				a.want = append(a.want, expMove{"rack_move", rackZone(f, r), rackZone(f, r2), floorID(f)})
				evs[f]++
				a.rack = r2
			case "cross":
				f2 := (f + 1 + rng.IntN(sz.floors-1)) % sz.floors
				r2 := 1 + rng.IntN(4)
				rackReads(f, a.epc, r, 0, 20)
				rackReads(f2, a.epc, r2, 340, phaseLen)
				if replace {
					a.want = append(a.want, expMove{"rack_move", "", rackZone(f, r), floorID(f)})
					evs[f]++
				}
				a.want = append(a.want, expMove{hub.MoveCrossFloor, rackZone(f, r), rackZone(f2, r2), floorID(f2)})
				evs[f]++  // rack_depart
				evs[f2]++ // placement
				a.floor, a.rack = f2, r2
			}
		}
		for _, a := range p.assets {
			if !a.gate || ph == 0 || ph > 2 {
				continue
			}
			f := a.floor
			out, in := 1, 3
			typ := "inward"
			if ph == 2 {
				out, in, typ = 3, 1, "outward"
			}
			for s := 0; s < 3; s++ {
				reads[f] = append(reads[f], read{at(50 + s), "dock", out, a.epc}, read{at(50 + s).Add(300 * time.Millisecond), "dock", out, a.epc})
				reads[f] = append(reads[f], read{at(54 + s), "dock", in, a.epc}, read{at(54 + s).Add(300 * time.Millisecond), "dock", in, a.epc})
			}
			from := ""
			if typ == "outward" {
				from = gateZone(f)
			}
			a.want = append(a.want, expMove{typ, from, gateZone(f), floorID(f)})
			evs[f]++
		}
		for f := range reads {
			sort.SliceStable(reads[f], func(i, j int) bool { return reads[f][i].t.Before(reads[f][j].t) })
		}
		p.reads = append(p.reads, reads)
		p.events = append(p.events, evs)
	}
	return p
}

func writeReads(t *testing.T, path string, rs []read) map[string]int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	n := map[string]int{"dock": 0, "rack-row": 0}
	if len(rs) > 0 { // the readers come online (a reader state change for the status topic)
		for _, r := range []string{"dock", "rack-row"} {
			fmt.Fprintf(w, `{"time":"%s","reader":"%s","status":"online"}`+"\n", rs[0].t.Add(-time.Second).Format(time.RFC3339Nano), r)
		}
	}
	for _, r := range rs {
		fmt.Fprintf(w, `{"time":"%s","reader":"%s","antenna":%d,"epc":"%s","rssi":-50.0}`+"\n", r.t.Format(time.RFC3339Nano), r.reader, r.antenna, r.epc)
		n[r.reader]++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return n
}

func fleetConfig(t *testing.T, dir string, f int, reads string, brokers []string, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway:\n  id: %s\n  data_dir: %s\n", floorID(f), filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "readers:\n  - id: floor-file\n    type: file\n    path: %s\n    provides: [dock, rack-row]\n    speed: 0\n    loop: false\n", reads)
	fmt.Fprintf(&b, "zones:\n  - id: %s\n    kind: gate\n    floor: \"%d\"\n    outside: [{reader: dock, antennas: [1, 2]}]\n    inside: [{reader: dock, antennas: [3, 4]}]\n", gateZone(f), f)
	for r := 1; r <= 4; r++ {
		fmt.Fprintf(&b, "  - id: %s\n    kind: rack\n    floor: \"%d\"\n    room: \"%d.1\"\n    row: A\n    rack: \"%d\"\n    antennas: [{reader: rack-row, antennas: [%d]}]\n", rackZone(f, r), f, f, r, r)
	}
	b.WriteString("edge:\n  min_rssi: -75\n  min_reads: 2\n  presence_window: 3s\n  dwell: 5s\n  hysteresis_db: 6\n  lost_after: 300s\n  gate_window: 10s\n")
	b.WriteString("buffer:\n  max_bytes: 64MiB\n  min_free_disk: 1MiB\n")
	fmt.Fprintf(&b, "uplink:\n  kafka:\n    brokers: [%s]\n    heartbeat: 1s\n", strings.Join(brokers, ", "))
	fmt.Fprintf(&b, "http:\n  listen: 127.0.0.1:%d\n", port)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metricSum adds every sample whose name (before labels) is name.
func metricSum(url, name string) (float64, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
				found = true
			}
		}
	}
	return sum, found
}

type fleetGW struct {
	f    int
	dir  string
	port int
	proc *testkit.Process
}

func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet test skipped in -short")
	}
	sz := fleetSize{floors: 12, assets: 5, phases: 4, killsPerPhase: 4}
	if *fleetFull {
		sz = fleetSize{floors: 16, assets: 30, phases: 8, killsPerPhase: 8}
	}
	start := time.Now()
	bin, _ := testkit.Binaries(t)
	plan := newFleetPlan(sz, 42)
	dir := t.TempDir()

	// Kafka: 3 brokers, 12 partitions; produce requests fail while away.
	ports := []int{testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)}
	cl, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.Ports(ports...), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(12), kfake.SeedTopics(12, "rfid.movements", "rfid.gateway-status"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var away atomic.Bool
	cl.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		if away.Load() {
			return nil, errors.New("kafka away"), true
		}
		return nil, nil, false
	})
	brokers := cl.ListenAddrs()

	hubPorts := []int{testkit.FreePort(t), testkit.FreePort(t)}
	startHub := func(i int) *testkit.Process {
		return testkit.Start(t, nil, bin, "hub", "--brokers", strings.Join(brokers, ","), "--listen",
			fmt.Sprintf("127.0.0.1:%d", hubPorts[i]), "--instance", fmt.Sprintf("hub%d", i), "--log-format", "text")
	}
	hubs := []*testkit.Process{startHub(0), startHub(1)}

	gws := make([]*fleetGW, sz.floors)
	for f := range gws {
		gws[f] = &fleetGW{f: f, dir: filepath.Join(dir, floorID(f)), port: testkit.FreePort(t)}
		os.MkdirAll(gws[f].dir, 0o755)
	}
	metricsURL := func(g *fleetGW) string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", g.port) }
	rng := rand.New(rand.NewPCG(9, 9))
	kills, hubKills := 0, 0
	for ph := 0; ph < sz.phases; ph++ {
		if ph == 2 {
			// The wiped gateway: drained first (a tech checks `buffer stats`), then rm -rf.
			if err := os.RemoveAll(filepath.Join(gws[plan.wiped].dir, "data")); err != nil {
				t.Fatal(err)
			}
		}
		want := make([]map[string]int, sz.floors)
		for _, g := range gws {
			rp := filepath.Join(g.dir, fmt.Sprintf("reads-%d.jsonl", ph))
			want[g.f] = writeReads(t, rp, plan.reads[ph][g.f])
			cfg := fleetConfig(t, g.dir, g.f, rp, brokers, g.port)
			g.proc = testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
		}
		if ph == 1 {
			away.Store(true) // Kafka away while phase 1 plays
		}
		for _, g := range gws {
			g := g
			testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("%s phase %d reads played", floorID(g.f), ph), func() bool {
				for r, n := range want[g.f] {
					v, ok := testkit.Metric(metricsURL(g), fmt.Sprintf(`rfidgw_reads_total{reader="%s"}`, r))
					if !ok || int(v) < n {
						return false
					}
				}
				return true
			})
		}
		// Events committed: as many as the plan makes on the floor (the reads
		// counter runs ahead of the engine by up to a batch, so it is not enough).
		for _, g := range gws {
			want := float64(plan.events[ph][g.f])
			testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("%s phase %d: %v events", floorID(g.f), ph, want), func() bool {
				v, _ := metricSum(metricsURL(g), "rfidgw_events_total")
				return v >= want
			})
		}
		if ph == 1 {
			// A hub instance dies while Kafka is away; the gateways are killed
			// with their events still in the buffer.
			hubs[0].Cmd.Process.Kill()
			<-hubs[0].Exited()
			hubKills++
		}
		last := ph == sz.phases-1
		if last || ph == 1 {
			away.Store(false)
			for _, g := range gws {
				if ph == 1 && g.f != plan.wiped {
					continue
				}
				testkit.WaitFor(t, 60*time.Second, floorID(g.f)+" buffer drained", func() bool {
					v, ok := testkit.Metric(metricsURL(g), "rfidgw_buffer_events")
					return ok && v == 0
				})
			}
			if ph == 1 {
				away.Store(true)
			}
		}
		// Stop: some SIGKILLed, the rest SIGTERMed (the last phase keeps running).
		if !last {
			perm := rng.Perm(sz.floors)
			for i, f := range perm {
				g := gws[f]
				if i < sz.killsPerPhase {
					g.proc.Cmd.Process.Signal(syscall.SIGKILL)
					kills++
				} else {
					g.proc.Cmd.Process.Signal(syscall.SIGTERM)
				}
			}
			for _, g := range gws {
				select {
				case <-g.proc.Exited():
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not stop", floorID(g.f))
				}
			}
		}
		if ph == 1 {
			away.Store(false)
			hubs[0] = startHub(0)
		}
	}

	// The gateways' own redeliveries are rare on a fast broker: redeliver 5 %
	// of the events as a producer restart would (same key, value, headers).
	injected := injectDuplicates(t, brokers, 0.05)

	// The reference: every asset's timeline and location from the plan.
	type row struct {
		gateways, events, dups, holes, missing, wrong int
	}
	check := func(port int) (row, []string) {
		var r row
		var problems []string
		var gwRep []hub.GatewayReport
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/gateways", port))
		if err != nil {
			return r, []string{err.Error()}
		}
		json.NewDecoder(resp.Body).Decode(&gwRep)
		resp.Body.Close()
		r.gateways = len(gwRep)
		for _, g := range gwRep {
			r.dups += int(g.Duplicates)
			r.holes += int(g.HolesOpen)
			r.missing += int(g.Missing)
			for _, e := range g.Epochs {
				r.events += int(e.Delivered)
				if span := e.HighestSeq - e.FirstSeq + 1; e.Delivered+e.Gapped+e.Missing+e.HolesOpen != span {
					problems = append(problems, fmt.Sprintf("%s epoch %s: %d delivered + %d gapped + %d missing + %d open != %d seqs",
						g.Gateway, e.Epoch, e.Delivered, e.Gapped, e.Missing, e.HolesOpen, span))
				}
			}
			if g.Gateway == floorID(plan.wiped) && len(g.Epochs) != 2 {
				problems = append(problems, fmt.Sprintf("%s: %d epochs, want 2 (data dir wiped)", g.Gateway, len(g.Epochs)))
			}
		}
		for _, a := range plan.assets {
			var got hub.AssetJSON
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/assets/%s", port, a.epc))
			if err != nil {
				return r, []string{err.Error()}
			}
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			ok := len(got.History) == len(a.want) && got.Location != nil
			for i := 0; ok && i < len(a.want); i++ {
				h, w := got.History[i], a.want[i]
				from, to := "", ""
				if h.From != nil {
					from = h.From.Zone
				}
				if h.To != nil {
					to = h.To.Zone
				}
				ok = h.Type == w.typ && from == w.from && to == w.to && h.Gateway == w.gw
			}
			if ok {
				w := a.want[len(a.want)-1]
				ok = got.Location.Zone == w.to && got.Location.Gateway == w.gw
			}
			if !ok {
				r.wrong++
				if len(problems) < 10 {
					b, _ := json.Marshal(got.History)
					problems = append(problems, fmt.Sprintf("asset %s: history %s, want %+v", a.epc, b, a.want))
				}
			}
		}
		if r.dups < injected {
			problems = append(problems, fmt.Sprintf("duplicates dropped %d < %d injected", r.dups, injected))
		}
		return r, problems
	}
	var final row
	var problems []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok := true
		for _, port := range hubPorts {
			r, p := check(port)
			final, problems = r, p
			if len(p) > 0 || r.holes > 0 || r.missing > 0 || r.wrong > 0 || r.gateways != sz.floors {
				ok = false
				break
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	checkStatuses(t, brokers, floorID(plan.wiped))
	mode := "short"
	if *fleetFull {
		mode = "full"
	}
	t.Logf("\n| form | gateways | assets | events | duplicates dropped | holes open | missing | wrong locations/timelines | gateway kills | hub kills | wall time |\n|---|---|---|---|---|---|---|---|---|---|---|\n| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s |",
		mode, final.gateways, len(plan.assets), final.events, final.dups, final.holes, final.missing, final.wrong, kills, hubKills, time.Since(start).Round(time.Second))
	for _, p := range problems {
		t.Error(p)
	}
	if final.holes > 0 || final.missing > 0 || final.wrong > 0 || final.gateways != sz.floors {
		t.Errorf("fleet: %+v", final)
	}
}

// checkStatuses validates every gateway status against
// docs/status.schema.json and checks that reader state changes were sent
// and that the wiped gateway announced its new epoch.
func checkStatuses(t *testing.T, brokers []string, wiped string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("rfid.gateway-status"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	kinds := map[string]int{}
	newEpochs := map[string]int{}
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			if err := schema.ValidateStatus(r.Value); err != nil {
				t.Errorf("status %s: %v", r.Value, err)
				continue
			}
			var st struct {
				Gateway  string `json:"gateway"`
				Kind     string `json:"kind"`
				NewEpoch bool   `json:"new_epoch"`
			}
			json.Unmarshal(r.Value, &st)
			kinds[st.Kind]++
			if st.NewEpoch {
				newEpochs[st.Gateway]++
			}
		}
	}
	if kinds["reader"] == 0 || kinds["startup"] == 0 || kinds["heartbeat"] == 0 {
		t.Errorf("status kinds %v: want reader state changes, startups and heartbeats", kinds)
	}
	if newEpochs[wiped] < 2 { // the first start and the start after the wipe
		t.Errorf("new_epoch statuses %v: want 2 of %s", newEpochs, wiped)
	}
}

// injectDuplicates reads the events topic and produces a share of its
// records again, unchanged; it returns how many.
func injectDuplicates(t *testing.T, brokers []string, share float64) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("rfid.movements"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, r := range fs.Records() {
			if rng.Float64() < share {
				dup := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
				if err := cl.ProduceSync(context.Background(), dup).FirstErr(); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	return n
}
