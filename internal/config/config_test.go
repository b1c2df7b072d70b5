package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader/file"
	"github.com/rfidgw/rfidgw/reader/llrp"
	"github.com/rfidgw/rfidgw/reader/serial"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const good = `
gateway: {id: floor3, data_dir: ./data}
readers:
  - {id: dock-1, type: llrp, address: 127.0.0.1:5084}
  - {id: rack-row-a, type: serial, device: /dev/ttyUSB0, protocol: thingmagic}
  - {id: replay, type: file, path: r.jsonl, provides: [dock-2], speed: 0}
zones:
  - {id: gate-a, kind: gate, outside: [{reader: dock-1, antennas: [1]}], inside: [{reader: dock-1, antennas: [2]}]}
  - {id: rack-A01, kind: rack, floor: "3", antennas: [{reader: rack-row-a, antennas: [1]}], dwell: 9s}
  - {id: rack-A02, kind: rack, floor: "3", antennas: [{reader: dock-2}]}
edge: {dwell: 4s}
buffer: {max_bytes: 1GiB}
uplink: {kafka: {brokers: [127.0.0.1:9092]}}
`

func TestLoadGoodFillsDefaults(t *testing.T) {
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ScopeAll); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if c.Edge.Dwell != 4*time.Second || c.Edge.MinReads != 2 || c.Edge.LostAfter != time.Minute {
		t.Errorf("edge settings = %+v", c.Edge)
	}
	if c.Zones[1].Dwell == nil || *c.Zones[1].Dwell != 9*time.Second {
		t.Errorf("zone override dwell not decoded: %+v", c.Zones[1].Overrides)
	}
	if c.Buffer.MaxBytes != 1<<30 || c.Buffer.MinFreeDisk != 256<<20 || c.Buffer.OnFull != "drop_oldest" {
		t.Errorf("buffer = %+v", c.Buffer)
	}
	if c.Readers[0].Settings.(*llrp.Settings).Keepalive != 10*time.Second || c.Readers[1].Settings.(*serial.Settings).Baud != 115200 {
		t.Errorf("reader defaults not filled: %+v %+v", c.Readers[0], c.Readers[1])
	}
	if c.Readers[2].Settings.(*file.Settings).Speed != 0 {
		t.Errorf("explicit speed 0 became %v", c.Readers[2].Settings.(*file.Settings).Speed)
	}
	if c.Uplink.Kafka.Topic != "rfid.movements" {
		t.Errorf("topic default = %q", c.Uplink.Kafka.Topic)
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("RFIDGW_UPLINK_KAFKA_BROKERS", "127.0.0.1:1111,127.0.0.1:2222")
	t.Setenv("RFIDGW_EDGE_MIN_READS", "3")
	t.Setenv("RFIDGW_HTTP_LISTEN", "127.0.0.1:0")
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Uplink.Kafka.Brokers, " "); got != "127.0.0.1:1111 127.0.0.1:2222" {
		t.Errorf("brokers = %q", got)
	}
	if c.Edge.MinReads != 3 || c.HTTP.Listen != "127.0.0.1:0" {
		t.Errorf("env not applied: min_reads=%d listen=%q", c.Edge.MinReads, c.HTTP.Listen)
	}
}

func problems(t *testing.T, body string) string {
	t.Helper()
	c, err := Load(write(t, body))
	if err == nil {
		err = c.Validate(ScopeAll)
	}
	if err == nil {
		t.Fatalf("bad config accepted:\n%s", body)
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("error %v does not wrap ErrConfig", err)
	}
	return err.Error()
}

func TestProblemsNameKeyPaths(t *testing.T) {
	cases := []struct{ name, edit, want string }{
		{"unknown key", "edge: {dwell: 4s, dwel: 5s}", "edge.dwel: unknown key"},
		{"unknown reader key", strings.Replace(good, "address: 127.0.0.1:5084", "adress: 127.0.0.1:5084", 1), "readers[0].adress: unknown key"},
		{"bad duration", "edge: {dwell: 5x}", "edge.dwell"},
		{"missing reader", strings.Replace(good, "{reader: dock-1, antennas: [2]}", "{reader: dock-9, antennas: [2]}", 1), `zones[0].inside[0].reader: unknown reader "dock-9"`},
		{"bad size", "buffer: {max_bytes: lots}", "buffer.max_bytes"},
		{"bad on_full", "buffer: {on_full: panic}", `buffer.on_full: "panic"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.edit
			if !strings.Contains(body, "gateway:") {
				body = strings.Replace(good, "edge: {dwell: 4s}", "", 1)
				body = strings.Replace(body, "buffer: {max_bytes: 1GiB}", "", 1) + tc.edit + "\n"
			}
			got := problems(t, body)
			if !strings.Contains(got, tc.want) {
				t.Errorf("want %q in:\n%s", tc.want, got)
			}
		})
	}
}

func TestEveryProblemListed(t *testing.T) {
	got := problems(t, `
gateway: {id: "Floor 3"}
readers:
  - {id: a, type: llrp}
  - {id: a, type: serial, device: /dev/x, protocol: morse}
zones:
  - {id: z, kind: shelf}
uplink: {kafka: {brokers: []}}
`)
	for _, want := range []string{"gateway.id:", "readers[0].address:", "readers[1].id:", "readers[1].protocol:", "zones[0].kind:", "uplink.kafka.brokers:"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestScenarioConfigsLoad(t *testing.T) {
	dirs, _ := filepath.Glob("../../edge/testdata/scenarios/*/zones.yaml")
	dirs = append(dirs, "../../configs/example.yaml", "../../configs/demo.yaml")
	for _, p := range dirs {
		c, err := Load(p)
		if err == nil {
			err = c.Validate(ScopeAll)
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"2GiB": 2 << 30, "256MiB": 256 << 20, "1000": 1000, "1.5KiB": 1536, "5MB": 5000000} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("2 parsecs"); err == nil {
		t.Error("nonsense size accepted")
	}
}

const gs1Config = `
gateway: {id: floor3, data_dir: ./data}
readers:
  - {id: dock-1, type: llrp, address: 127.0.0.1:5084}
filter: {accept: [giai, "urn:epc:id:sgtin:0614141.*"], ignore: [raw]}
zones:
  - id: gate-a
    kind: gate
    outside: [{reader: dock-1, antennas: [1]}]
    inside: [{reader: dock-1, antennas: [2]}]
    accept: ["urn:epc:id:giai:0614141.*"]
    epcis: {read_point: "urn:epc:id:sgln:0614141.00777.1", biz_location: "urn:epc:id:sgln:0614141.00777.0"}
uplink:
  kafka: {brokers: [127.0.0.1:9092], epcis_topic: rfid.epcis}
  epcis: {time_zone: Europe/Berlin, biz_steps: {rack_move: installing}}
`

func TestGS1Settings(t *testing.T) {
	c, err := Load(write(t, gs1Config))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ScopeAll); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	ec := c.EdgeConfig()
	if len(ec.Accept) != 2 || ec.Ignore[0] != "raw" || c.Zones[0].Accept[0] != "urn:epc:id:giai:0614141.*" {
		t.Errorf("filters: %+v %+v", ec.Accept, c.Zones[0])
	}
	x := c.EPCISConfig()
	if c.Uplink.Kafka.EPCISTopic != "rfid.epcis" || x.TimeZone != "Europe/Berlin" || x.BizSteps["rack_move"] != "installing" ||
		x.Zones["gate-a"].ReadPoint != "urn:epc:id:sgln:0614141.00777.1" {
		t.Errorf("epcis: %+v %+v", c.Uplink, x)
	}
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(gs1Config, "ignore: [raw]", "ignore: [rawr]", 1), "filter.ignore[0]:"},
		{strings.Replace(gs1Config, `accept: ["urn:epc:id:giai:0614141.*"]`, `accept: [sscc]`, 1), `zones[0].accept: "sscc" can never match`},
		{strings.Replace(gs1Config, `accept: ["urn:epc:id:giai:0614141.*"]`, `accept: ["urn:epc:id:giai:06141.*"]`, 1), "zones[0].accept[0]:"},
		{strings.Replace(gs1Config, "urn:epc:id:sgln:0614141.00777.1", "urn:epc:id:sgtin:0614141.812345.1", 1), "zones[0].epcis.read_point:"},
		{strings.Replace(gs1Config, "Europe/Berlin", "Moon/Base", 1), "uplink.epcis.time_zone:"},
		{strings.Replace(gs1Config, "installing", "mounting", 1), "uplink.epcis.biz_steps.rack_move:"},
		{strings.Replace(gs1Config, "epcis_topic: rfid.epcis", "epcis_topic: rfid.movements", 1), "uplink.kafka.epcis_topic:"},
		{strings.Replace(gs1Config, "epcis: {time_zone", "epcis: {tz: x, time_zone", 1), "tz"},
	} {
		if got := problems(t, tc.edit); !strings.Contains(got, tc.want) {
			t.Errorf("want %q in:\n%s", tc.want, got)
		}
	}
}

// TestReaderKeysBelongToTheirType: each reader type decodes its own keys
// strictly, so a key of another type is an error with its key path.
var fileLineRe = regexp.MustCompile(`^.*\.yaml(:\d+)?: `)

func TestReaderKeysBelongToTheirType(t *testing.T) {
	got := problems(t, `
gateway: {id: floor3, data_dir: ./data}
readers:
  - {id: a, type: llrp, address: 127.0.0.1:5084, speed: 2, qos: 1}
  - {id: b, type: file, path: r.jsonl, keepalive: 5s}
  - {id: c, type: llrp, address: 127.0.0.1:5084, baud: 9600, provides: [x]}
  - {id: d, type: mqtt, broker: tcp://127.0.0.1:1883, topic: t, format: zebra, keepalive: 5s, tls: {ca: x, cax: y}}
  - {id: e, type: telepathy, mind: on}
uplink: {kafka: {brokers: [127.0.0.1:9092]}}
`)
	for _, want := range []string{
		"readers[0].speed: unknown key for type llrp",
		"readers[0].qos: unknown key for type llrp",
		"readers[1].keepalive: unknown key for type file",
		"readers[2].baud: unknown key for type llrp",
		"readers[2].provides: unknown key for type llrp",
		"readers[3].keepalive: unknown key for type mqtt",
		"readers[3].tls.cax: unknown key for type mqtt",
		`readers[4].type: "telepathy" is not one of file, llrp, mqtt, serial`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// One key path per line, each line "file[:line]: key.path: message".
	for _, line := range strings.Split(got, "\n") {
		rest := fileLineRe.ReplaceAllString(line, "")
		if key, _, _ := strings.Cut(rest, ": "); key == "" || strings.Contains(rest, "readers[") && strings.Count(rest, "readers[") > 1 {
			t.Errorf("line %q is not file: key.path: message", line)
		}
	}
}

func TestFileReaderSpeedDefaultsToRecordedPace(t *testing.T) {
	c, err := Load(write(t, strings.Replace(good, "provides: [dock-2], speed: 0", "provides: [dock-2]", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Readers[2].Settings.(*file.Settings).Speed; s != 1 {
		t.Errorf("speed = %v, want 1 (recorded pace)", s)
	}
}

// TestReaderRulesAreTheSourcesRules: config validation applies the rules
// the reader's constructor applies (one set per type), so an llrp address
// without a port is fine (LLRP's port is used) and a keepalive New would
// refuse is refused here, with its key path.
func TestReaderRulesAreTheSourcesRules(t *testing.T) {
	c, err := Load(write(t, strings.Replace(good, "address: 127.0.0.1:5084", "address: 127.0.0.1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ScopeAll); err != nil {
		t.Fatalf("an llrp address without a port was rejected: %v", err)
	}
	got := problems(t, strings.Replace(good, "address: 127.0.0.1:5084", "address: 127.0.0.1:5084, keepalive: 50ms", 1))
	if !strings.Contains(got, "readers[0].keepalive: 50ms is below 100ms") {
		t.Errorf("keepalive below the minimum not named:\n%s", got)
	}
}

// TestReaderRuleProblemsOnePerLine: every rule of every type reports on its
// own line, "file[:line]: readers[i].key: message", all of them in one run.
func TestReaderRuleProblemsOnePerLine(t *testing.T) {
	got := problems(t, `
gateway: {id: floor3, data_dir: ./data}
readers:
  - {id: m, type: mqtt, topic: "a/#/b", format: xml, qos: 3, provides: [x], password_file: /nope}
  - {id: s, type: serial, device: /dev/x, protocol: r2000, region: EU3, antennas: [0, 9]}
  - {id: l, type: llrp, address: "10.0.0.1:99999", keepalive: 1ms}
uplink: {kafka: {brokers: [127.0.0.1:9092]}}
`)
	want := []string{
		"readers[0].broker: ", "readers[0].topic: ", "readers[0].qos: 3: want 0, 1 or 2", "readers[0].provides: ",
		"readers[0].username: ", `readers[0].format: unknown "xml"`, "readers[1].antennas[0]: 0 is not an antenna port",
		"readers[1].region: only protocol thingmagic", "readers[1].antennas[1]: 9 is not an antenna port 1..8",
		"readers[2].address: ", "readers[2].keepalive: 1ms is below 100ms",
	}
	lines := strings.Split(got, "\n")
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d:\n%s", len(lines), len(want), got)
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(fileLineRe.ReplaceAllString(l, ""), w) && strings.Count(l, "readers[") == 1 {
				found = true
			}
		}
		if !found {
			t.Errorf("no line with %q:\n%s", w, got)
		}
	}
}
