package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/gs1"
	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

// The bundled demo floor (configs/demo-reads.jsonl) and what it must give.
var demoExpected = []struct{ typ, epc, zone, from, to string }{
	{"rack_move", "3034DF296FDCCF04CFA7C017", "rack-A02", "", "rack-A02"},
	{"rack_move", "3034F0E58E0E193835144D87", "rack-B01", "", "rack-B01"},
	{"outward", "3034DF296FDCCF04CFA7C017", "gate-a", "", ""},
	{"rack_depart", "3034DF296FDCCF04CFA7C017", "rack-A02", "rack-A02", ""},
}

// gatewayConfig writes a config for the demo floor played from readsPath as
// fast as possible, with the given brokers and a fresh data_dir.
func gatewayConfig(t *testing.T, dir, readsPath, brokers string, httpPort int) string {
	t.Helper()
	demo, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(demo)
	body = strings.Replace(body, "id: demo\n", "id: e2e\n", 1)
	body = strings.Replace(body, "data_dir: .demo/data", "data_dir: "+filepath.Join(dir, "data"), 1)
	body = strings.Replace(body, "path: configs/demo-reads.jsonl", "path: "+readsPath, 1)
	body = strings.Replace(body, "speed: 4", "speed: 0", 1)
	body = strings.Replace(body, "loop: true", "loop: false", 1)
	body = strings.Replace(body, "brokers: [127.0.0.1:19092]", "brokers: ["+brokers+"]", 1)
	body = strings.Replace(body, "listen: 127.0.0.1:9870", fmt.Sprintf("listen: 127.0.0.1:%d", httpPort), 1)
	p := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func demoReads() string { return filepath.Join(testkit.RepoRoot(), "configs", "demo-reads.jsonl") }

func checkDemoEvents(t *testing.T, got []testkit.Event) {
	t.Helper()
	if len(got) != len(demoExpected) {
		t.Fatalf("got %d events, want %d", len(got), len(demoExpected))
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Seq < got[j].Seq })
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.ID != fmt.Sprintf("e2e-%s-%d", e.Epoch, i+1) || len(e.Epoch) != 16 || e.Gateway != "e2e" || e.Schema != 1 {
			t.Errorf("event %d: seq %d id %q epoch %q gateway %q schema %d; want seq %d id e2e-<epoch>-%d", i, e.Seq, e.ID, e.Epoch, e.Gateway, e.Schema, i+1, i+1)
		}
		w := demoExpected[i]
		zone, from, to := "", "", ""
		if e.Zone != nil {
			zone = *e.Zone
		}
		if e.From != nil {
			from = e.From.Zone
		}
		if e.To != nil {
			to = e.To.Zone
		}
		if e.Type != w.typ || e.EPC == nil || *e.EPC != w.epc || zone != w.zone || from != w.from || to != w.to {
			t.Errorf("event seq %d = %s; want %+v", e.Seq, e.Raw, w)
		}
		if e.Key != w.epc {
			t.Errorf("event seq %d: key %q, want the EPC %q", e.Seq, e.Key, w.epc)
		}
		for k, v := range map[string]string{
			"ce_specversion": "1.0", "ce_id": e.ID, "ce_source": "rfidgw/e2e",
			"ce_type": "rfidgw." + e.Type + ".v1", "content-type": "application/json",
		} {
			if e.Headers[k] != v {
				t.Errorf("event seq %d: header %s = %q, want %q", e.Seq, k, e.Headers[k], v)
			}
		}
		if e.Headers["ce_time"] == "" {
			t.Errorf("event seq %d: no ce_time header", e.Seq)
		}
		if err := schema.ValidateEvent(e.Raw); err != nil {
			t.Errorf("event seq %d: %v", e.Seq, err)
		}
	}
}

// checkDemoEPCIS: the EPCIS topic carries every movement of the demo floor
// as an EPCIS 2.0 ObjectEvent that the GS1 schema accepts, keyed by the EPC,
// with the mapped bizStep, the gate's readPoint, the pure identity of the
// tag and a hash eventID a hub can recompute.
func checkDemoEPCIS(t *testing.T, got, movements []testkit.Event) {
	t.Helper()
	// rfidgw:id names the movement as the events topic carries it (with the
	// stream epoch), so a hub can join the two topics.
	idBySeq := map[int64]string{}
	for _, m := range movements {
		idBySeq[int64(m.Seq)] = m.ID
	}
	if len(got) != len(demoExpected) {
		t.Fatalf("%d EPCIS events, want %d", len(got), len(demoExpected))
	}
	bizStep := map[string]string{"inward": "arriving", "outward": "departing", "rack_move": "storing", "rack_depart": "storing"}
	bySeq := map[int64]map[string]any{}
	for _, e := range got {
		var ev map[string]any
		dec := json.NewDecoder(strings.NewReader(string(e.Raw)))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		seq, _ := ev["rfidgw:seq"].(json.Number).Int64()
		bySeq[seq] = ev
		if want := idBySeq[seq]; want == "" || ev["rfidgw:id"] != want {
			t.Errorf("EPCIS seq %d: rfidgw:id %v, the events topic says %q", seq, ev["rfidgw:id"], want)
		}
		if e.Key != ev["rfidgw:epc"] || e.Headers["content-type"] != "application/ld+json" || e.Headers["ce_type"] != "rfidgw.epcis.object_event.v1" {
			t.Errorf("EPCIS seq %d: key %s headers %v", seq, e.Key, e.Headers)
		}
		if err := schema.ValidateEPCIS(e.Raw); err != nil && !errors.Is(err, schema.ErrNoEPCISSchema) {
			t.Errorf("EPCIS seq %d: %v", seq, err)
		}
		if id, _, err := epcis.HashEvent(ev, map[string]string{epcis.Prefix: epcis.Namespace}); err != nil || id != ev["eventID"] {
			t.Errorf("EPCIS seq %d: eventID %v, hash %s %v", seq, ev["eventID"], id, err)
		}
	}
	for i, w := range demoExpected {
		ev := bySeq[int64(i+1)]
		if ev == nil {
			t.Errorf("EPCIS seq %d missing", i+1)
			continue
		}
		// The demo's tags: one a valid SGTIN-96, one with an SGTIN header
		// but an item reference out of range, which EPCIS carries as a raw URI.
		wantURI := gs1.RawURI(w.epc)
		if d, err := gs1.Decode(w.epc); err == nil {
			wantURI = d.URI
		}
		epcList, _ := ev["epcList"].([]any)
		if ev["rfidgw:movement"] != w.typ || ev["bizStep"] != bizStep[w.typ] || ev["action"] != "OBSERVE" || ev["eventTimeZoneOffset"] != "+01:00" ||
			len(epcList) != 1 || epcList[0] != wantURI {
			t.Errorf("EPCIS seq %d = %v; want %+v", i+1, ev, w)
		}
		if rp, _ := ev["readPoint"].(map[string]any); (w.zone == "gate-a") != (rp != nil && rp["id"] == "urn:epc:id:sgln:0614141.00777.1") {
			t.Errorf("EPCIS seq %d: readPoint %v", i+1, ev["readPoint"])
		}
	}
}

func TestEndToEndFileReaderToKafka(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	kafka := testkit.Kafka(t, 0, kfake.SeedTopics(3, "rfid.epcis"))
	brokers := kafka.ListenAddrs()[0]
	dir := t.TempDir()
	httpPort := testkit.FreePort(t)
	cfg := gatewayConfig(t, dir, demoReads(), brokers, httpPort)
	// Record the reads for tuning, as a facility team would; EPCIS output on,
	// with the gate's GS1 location.
	recorded := filepath.Join(dir, "rec", "reads.jsonl")
	body, _ := os.ReadFile(cfg)
	body = []byte(strings.Replace(string(body), "    status_topic: rfid.gateway-status\n",
		"    status_topic: rfid.gateway-status\n    epcis_topic: rfid.epcis\n  epcis: {time_zone: Europe/Berlin}\n", 1))
	body = []byte(strings.Replace(string(body), "    inside:  [{reader: dock-1, antennas: [3, 4]}]\n",
		"    inside:  [{reader: dock-1, antennas: [3, 4]}]\n    epcis: {read_point: \"urn:epc:id:sgln:0614141.00777.1\"}\n", 1))
	os.WriteFile(cfg, append(body, []byte("record: {path: "+recorded+", max_bytes: 64MiB}\n")...), 0o644)

	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
	got := testkit.Consume(t, brokers, "rfid.movements", len(demoExpected), 90*time.Second)
	// Nothing more may come: give stragglers a moment.
	more := testkit.Consume(t, brokers, "rfid.movements", len(demoExpected)+1, 3*time.Second)
	if len(more) > len(got) {
		got = more
	}
	checkDemoEvents(t, got)
	checkDemoEPCIS(t, testkit.Consume(t, brokers, "rfid.epcis", len(demoExpected), 30*time.Second), got)

	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	testkit.WaitFor(t, 20*time.Second, "the buffer to drain", func() bool {
		v, ok := testkit.Metric(metrics, "rfidgw_buffer_events")
		return ok && v == 0
	})
	if v, _ := testkit.Metric(metrics, "rfidgw_uplink_delivered_total"); v != float64(len(demoExpected)) {
		t.Errorf("rfidgw_uplink_delivered_total = %v, want %d", v, len(demoExpected))
	}
	if err := gw.Stop(t, 20*time.Second); err != nil {
		t.Errorf("gateway exit: %v\n%s", err, gw.Output())
	}
	// The recording holds every read, and replaying it gives the same events.
	in, _ := os.ReadFile(demoReads())
	rec, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatalf("record.path: %v", err)
	}
	if a, b := strings.Count(string(in), "\n"), strings.Count(string(rec), "\n"); a != b {
		t.Errorf("recorded %d reads, played %d", b, a)
	}
	out, err := exec.Command(bin, "replay", "--config", cfg, "--reads", recorded).Output()
	if err != nil {
		t.Fatalf("replay of the recording: %v", err)
	}
	if n := strings.Count(string(out), "\n"); n != len(demoExpected) {
		t.Errorf("replay of the recording printed %d events, want %d:\n%s", n, len(demoExpected), out)
	}
}

// TestRestartWithBrokerDown: the events are committed while Kafka is
// unreachable, the daemon is stopped, and a new daemon delivers all of them,
// with the ids they were committed with.
func TestRestartWithBrokerDown(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	port := testkit.FreePort(t) // nothing listens here yet
	brokers := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	httpPort := testkit.FreePort(t)
	cfg := gatewayConfig(t, dir, demoReads(), brokers, httpPort)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)

	gw := testkit.Start(t, nil, bin, "run", "--config", cfg, "--log-format", "text")
	testkit.WaitFor(t, 90*time.Second, "4 events in the buffer", func() bool {
		v, _ := testkit.Metric(metrics, "rfidgw_buffer_events")
		return v == float64(len(demoExpected))
	})
	if err := gw.Stop(t, 30*time.Second); err != nil {
		t.Fatalf("gateway exit with broker down: %v\n%s", err, gw.Output())
	}

	// The stopped gateway's buffer holds them, with their ids.
	dump, err := exec.Command(bin, "buffer", "dump", "--data-dir", filepath.Join(dir, "data")).Output()
	if err != nil {
		t.Fatalf("buffer dump: %v", err)
	}
	buffered := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(dump)))
	for sc.Scan() {
		var e testkit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("buffer dump line %q: %v", sc.Text(), err)
		}
		buffered[e.ID] = sc.Text()
	}
	if len(buffered) != len(demoExpected) {
		t.Fatalf("buffer dump has %d events, want %d:\n%s", len(buffered), len(demoExpected), dump)
	}

	// Broker up, gateway again (reading an empty file this time: the events
	// must come from the buffer, not from replaying the reads).
	testkit.Kafka(t, port)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	cfg2 := gatewayConfig(t, dir, empty, brokers, httpPort)
	gw2 := testkit.Start(t, nil, bin, "run", "--config", cfg2, "--log-format", "text")
	got := testkit.Consume(t, brokers, "rfid.movements", len(demoExpected), 60*time.Second)
	checkDemoEvents(t, got)
	for _, e := range got {
		if buffered[e.ID] != string(e.Raw) {
			t.Errorf("event %s changed between buffer and Kafka:\n buffer %s\n kafka  %s", e.ID, buffered[e.ID], e.Raw)
		}
	}
	testkit.WaitFor(t, 20*time.Second, "the buffer to drain", func() bool {
		v, ok := testkit.Metric(metrics, "rfidgw_buffer_events")
		return ok && v == 0
	})
	if err := gw2.Stop(t, 20*time.Second); err != nil {
		t.Errorf("second gateway exit: %v", err)
	}
}

func TestCheckRejectsBadConfigWithKeyPaths(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	dir := t.TempDir()
	good := gatewayConfig(t, dir, demoReads(), "127.0.0.1:9", 0)
	base, _ := os.ReadFile(good)
	cases := []struct {
		name, from, to, want string
		env                  []string
	}{
		{"unknown key", "  dwell: 5s\n", "  dwell: 5s\n  dwel: 6s\n", "edge.dwel: unknown key; did you mean dwell?", nil},
		// issue 22: what a new user met
		{"duration without unit", "  lost_after: 60s\n", "  lost_after: 60\n", ":61: edge.lost_after: 60 has no unit: write 60s for 60 seconds", nil},
		{"zero dwell", "  dwell: 5s\n", "  dwell: 0\n", ":59: edge.dwell: 0s would move a tag on its first stronger read: set e.g. 5s", nil},
		{"misspelt section", "uplink:\n  kafka:", "uplink:\n  kafak:", ":68: uplink.kafak: unknown key; did you mean kafka? (every key is in ", nil},
		{"misspelt variable", "", "", "RFIDGW_EDGE_DWEL: unknown environment variable: no config key reads it; did you mean RFIDGW_EDGE_DWELL?", []string{"RFIDGW_EDGE_DWEL=5s"}},
		{"missing reader", "outside: [{reader: dock-1,", "outside: [{reader: dock-2,", `zones[0].outside[0].reader: unknown reader "dock-2"`, nil},
		{"bad duration", "  dwell: 5s\n", "  dwell: five\n", `edge.dwell: invalid duration "five"`, nil},
		{"key of another type", "    loop: false\n", "    loop: false\n    baud: 9600\n", "readers[0].baud: unknown key for type file", nil},
		{"missing reads file", "path: " + demoReads(), "path: " + filepath.Join(dir, "nope.jsonl"), "readers[0].path: open " + filepath.Join(dir, "nope.jsonl"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(base), tc.from) {
				t.Fatalf("test config has no %q", tc.from)
			}
			p := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(p, []byte(strings.Replace(string(base), tc.from, tc.to, 1)), 0o644)
			cmd := exec.Command(bin, "check", "--config", p)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), p) {
				t.Errorf("output does not name %q and the file:\n%s", tc.want, out)
			}
		})
	}
}
