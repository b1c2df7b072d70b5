package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/rfidgw/rfidgw/internal/testkit"
)

// scenarioFiles writes a scenario's zones.yaml (with extra YAML appended to
// its zones or top level) and its reads into dir.
func scenarioFiles(t *testing.T, name string, edit func(string) string) (cfg, reads string) {
	t.Helper()
	src := filepath.Join(testkit.RepoRoot(), "edge", "testdata", "scenarios", name)
	body, err := os.ReadFile(filepath.Join(src, "zones.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg = filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfg, []byte(edit(string(body))), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(src, "reads.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	reads = filepath.Join(dir, "reads.jsonl")
	out, _ := os.Create(reads)
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return cfg, reads
}

// TestReplayEPCIS: `replay --format epcis` prints one EPCISDocument that the
// GS1 schema accepts, with the zone's readPoint/bizLocation, the mapped
// bizSteps and hash eventIDs, the same bytes every run; the filter drops
// the scenario's tags when told to.
func TestReplayEPCIS(t *testing.T) {
	bin, _ := testkit.Binaries(t)
	withEPCIS := func(s string) string {
		s = strings.Replace(s, "    inside:  [{reader: dock-1, antennas: [3, 4]}]\n",
			"    inside:  [{reader: dock-1, antennas: [3, 4]}]\n    epcis: {read_point: \"urn:epc:id:sgln:0614141.00777.1\", biz_location: \"urn:epc:id:sgln:0614141.00777.0\"}\n", 1)
		return s + "  epcis: {time_zone: Europe/Berlin, biz_steps: {rack_move: installing}}\n"
	}
	cfg, reads := scenarioFiles(t, "inward_then_rack", withEPCIS)
	run := func(args ...string) []byte {
		out, err := exec.Command(bin, append([]string{"replay", "--config", cfg, "--reads", reads}, args...)...).Output()
		if err != nil {
			var ee *exec.ExitError
			errors.As(err, &ee)
			t.Fatalf("replay %v: %v\n%s", args, err, ee.Stderr)
		}
		return out
	}
	doc := run("--format", "epcis")
	if again := run("--format", "epcis"); string(again) != string(doc) {
		t.Error("replay --format epcis is not deterministic")
	}
	if err := schema.ValidateEPCIS(doc); err != nil && !errors.Is(err, schema.ErrNoEPCISSchema) {
		t.Errorf("%v\n%s", err, doc)
	}
	var d struct {
		Type string `json:"type"`
		Body struct {
			EventList []map[string]any `json:"eventList"`
		} `json:"epcisBody"`
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil || d.Type != "EPCISDocument" || len(d.Body.EventList) != 2 {
		t.Fatalf("%v %s %d events\n%s", err, d.Type, len(d.Body.EventList), doc)
	}
	in, mv := d.Body.EventList[0], d.Body.EventList[1]
	if in["bizStep"] != "arriving" || in["readPoint"].(map[string]any)["id"] != "urn:epc:id:sgln:0614141.00777.1" ||
		in["bizLocation"].(map[string]any)["id"] != "urn:epc:id:sgln:0614141.00777.0" || in["eventTimeZoneOffset"] != "+01:00" ||
		in["epcList"].([]any)[0] != "urn:epc:id:sgtin:2783895.377107.231425487766" {
		t.Errorf("inward event %v", in)
	}
	if mv["bizStep"] != "installing" || mv["readPoint"] != nil {
		t.Errorf("rack event %v", mv)
	}
	for _, ev := range d.Body.EventList {
		if id, _, err := epcis.HashEvent(ev, map[string]string{epcis.Prefix: epcis.Namespace}); err != nil || id != ev["eventID"] {
			t.Errorf("eventID %v, hash %s %v", ev["eventID"], id, err)
		}
	}
	// The same reads as events: epc_uri present; then filtered away.
	if out := run(); !strings.Contains(string(out), `"epc_uri":"urn:epc:id:sgtin:2783895.377107.231425487766"`) {
		t.Errorf("events lack epc_uri:\n%s", out)
	}
	cfg, reads = scenarioFiles(t, "inward_then_rack", func(s string) string { return s + "filter: {ignore: [\"urn:epc:id:sgtin:2783895.*\"]}\n" })
	cmd := exec.Command(bin, "replay", "--config", cfg, "--reads", reads)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) || len(out) != 0 {
		t.Errorf("filtered replay: %v, %q", err, out)
	}
	if err == nil {
		stderr, _ := exec.Command(bin, "replay", "--config", cfg, "--reads", reads).CombinedOutput()
		if !strings.Contains(string(stderr), "reads of foreign tags dropped") {
			t.Errorf("no filter summary: %s", stderr)
		}
	}
	// A pattern that can never match is a config error (exit 2).
	cfg, reads = scenarioFiles(t, "inward_then_rack", func(s string) string { return s + "filter: {accept: [\"urn:epc:id:sgtin:27838950000000.*\"]}\n" })
	out, err = exec.Command(bin, "replay", "--config", cfg, "--reads", reads).CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "filter.accept[0]") {
		t.Errorf("never-matching pattern: %v\n%s", err, out)
	}
}
