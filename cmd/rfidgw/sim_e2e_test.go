package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

// timeScale compresses a scenario: the simulator plays it this many times
// faster and the edge timings of the config are divided by the same factor,
// so the engine sees the same physics in less time.
const timeScale = 10

// scaledEdge is the edge defaults (docs/config.md) divided by timeScale.
var scaledEdge = `edge:
  min_rssi: -75
  min_reads: 2
  presence_window: 300ms
  dwell: 500ms
  hysteresis_db: 6
  lost_after: 6s
  gate_window: 1s
`

type expectedEvent struct {
	Type string  `json:"type"`
	EPC  string  `json:"epc"`
	Zone *string `json:"zone"`
	From *string `json:"from"`
	To   *string `json:"to"`
}

func loadExpected(t *testing.T, path string) []expectedEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectedEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e expectedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// reduce turns a produced event into the form of expected.jsonl.
func reduce(e testkit.Event) string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	epc := s(e.EPC)
	switch e.Type {
	case "inward", "outward":
		return fmt.Sprintf("%s %s zone=%s", e.Type, epc, s(e.Zone))
	case "rack_move":
		from, to := "null", "null"
		if e.From != nil {
			from = e.From.Zone
		}
		if e.To != nil {
			to = e.To.Zone
		}
		return fmt.Sprintf("%s %s from=%s to=%s", e.Type, epc, from, to)
	case "rack_depart":
		from := "null"
		if e.From != nil {
			from = e.From.Zone
		}
		return fmt.Sprintf("%s %s from=%s", e.Type, epc, from)
	}
	return e.Type + " " + epc
}

func reduceExpected(e expectedEvent) string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	switch e.Type {
	case "inward", "outward":
		return fmt.Sprintf("%s %s zone=%s", e.Type, e.EPC, s(e.Zone))
	case "rack_move":
		return fmt.Sprintf("%s %s from=%s to=%s", e.Type, e.EPC, s(e.From), s(e.To))
	case "rack_depart":
		return fmt.Sprintf("%s %s from=%s", e.Type, e.EPC, s(e.From))
	}
	return e.Type + " " + e.EPC
}

// TestEndToEndSimulatedReaders runs the real binaries: `rfidgw sim` plays
// the outward_from_rack scenario on a simulated LLRP reader (gate), a
// ThingMagic module on a pty behind a by-id style symlink (rack row A) and
// an Impinj MQTT publisher through a real Mosquitto (rack B01); `rfidgw run`
// reads all three and forwards to Kafka, which must hold the scenario's
// expected events, per EPC in order.
func TestEndToEndSimulatedReaders(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	broker := testkit.StartMosquitto(t)
	kafka := testkit.Kafka(t, 0)
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	scen := filepath.Join(testkit.RepoRoot(), "edge", "testdata", "scenarios", "outward_from_rack")
	llrpAddr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	link := filepath.Join(dir, "dev", "serial", "by-id", "usb-ThingMagic_M6e-if00")
	httpPort := testkit.FreePort(t)

	simFile := filepath.Join(dir, "sim.yaml")
	os.WriteFile(simFile, []byte(fmt.Sprintf(`readers:
  - {id: dock-1, kind: llrp, listen: "%s", antennas: 4}
  - {id: rack-row-a, kind: serial, protocol: thingmagic, link: "%s"}
  - {id: rack-row-b, kind: mqtt, broker: "%s", topic: readers/rack-row-b/events, format: impinj}
reads: %s
speed: %d
start_delay: 3s
`, llrpAddr, link, broker.URL, filepath.Join(scen, "reads.jsonl.gz"), timeScale)), 0o644)

	zones, err := os.ReadFile(filepath.Join(scen, "zones.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	z := string(zones)
	z = z[strings.Index(z, "zones:"):strings.Index(z, "edge:")]
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`gateway: {id: e2e, data_dir: "%s"}
readers:
  - {id: dock-1, type: llrp, address: "%s", keepalive: 1s}
  - {id: rack-row-a, type: serial, device: "%s", protocol: thingmagic}
  - {id: rack-row-b, type: mqtt, broker: "%s", topic: readers/rack-row-b/events, format: impinj}
%s%suplink: {kafka: {brokers: ["%s"]}}
http: {listen: "127.0.0.1:%d"}
`, filepath.Join(dir, "data"), llrpAddr, link, broker.URL, z, scaledEdge, brokers, httpPort)), 0o644)

	simProc := testkit.Start(t, nil, bin, "sim", "--scenario", simFile, "--log-format", "text")
	testkit.WaitFor(t, 20*time.Second, "the simulated readers", func() bool {
		return strings.Count(simProc.Output(), "sim reader ") == 3
	})
	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")

	want := loadExpected(t, filepath.Join(scen, "expected.jsonl"))
	got := testkit.Consume(t, brokers, "rfid.movements", len(want), 120*time.Second)
	time.Sleep(2 * time.Second)
	if more := testkit.Consume(t, brokers, "rfid.movements", len(want)+1, 2*time.Second); len(more) > len(got) {
		got = more
	}
	perEPC := func(lines []string) map[string][]string {
		m := map[string][]string{}
		for _, l := range lines {
			epc := strings.Fields(l)[1]
			m[epc] = append(m[epc], l)
		}
		return m
	}
	var gotLines, wantLines []string
	for _, e := range got {
		if err := schema.ValidateEvent(e.Raw); err != nil {
			t.Errorf("%v: %s", err, e.Raw)
		}
		gotLines = append(gotLines, reduce(e))
	}
	for _, e := range want {
		wantLines = append(wantLines, reduceExpected(e))
	}
	g, w := perEPC(gotLines), perEPC(wantLines)
	for epc := range w {
		if strings.Join(g[epc], "; ") != strings.Join(w[epc], "; ") {
			t.Errorf("EPC %s:\n got  %q\n want %q", epc, g[epc], w[epc])
		}
	}
	for epc := range g {
		if _, ok := w[epc]; !ok {
			t.Errorf("unexpected events for EPC %s: %q", epc, g[epc])
		}
	}
	// Every reader was really used, over its own protocol.
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	for _, r := range []string{"dock-1", "rack-row-a", "rack-row-b"} {
		if v, _ := testkit.Metric(metrics, fmt.Sprintf(`rfidgw_reader_connected{reader="%s"}`, r)); v != 1 {
			t.Errorf("reader %s not connected (rfidgw_reader_connected = %v)", r, v)
		}
		if v, _ := testkit.Metric(metrics, fmt.Sprintf(`rfidgw_reads_total{reader="%s"}`, r)); v < 20 {
			t.Errorf("reader %s delivered only %v reads", r, v)
		}
	}
	if t.Failed() {
		t.Logf("sim output:\n%s", lastLines(simProc.Output(), 30))
		t.Logf("gateway output:\n%s", lastLines(gw.Output(), 60))
	}
	gw.Stop(t, 20*time.Second)
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func lastLines(s string, n int) string {
	lines := strings.Split(ansi.ReplaceAllString(s, ""), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
