package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	for _, c := range []struct {
		word  string
		cands []string
		want  string
	}{
		{"kafak", []string{"kafka"}, "kafka"},
		{"dwel", []string{"dwell", "min_reads", "lost_after"}, "dwell"},
		{"lost_afetr", []string{"dwell", "lost_after"}, "lost_after"},
		{"brokres", []string{"brokers", "topic"}, "brokers"},
		{"xyz", []string{"dwell", "kafka"}, ""}, // nothing close
		{"ab", []string{"ac"}, ""},              // too short to guess
		{"RFIDGW_EDGE_DWEL", []string{"RFIDGW_EDGE_DWELL", "RFIDGW_EDGE_MIN_READS"}, "RFIDGW_EDGE_DWELL"},
	} {
		if got := suggest(c.word, c.cands); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestIndexYAMLLines(t *testing.T) {
	idx := indexYAML([]byte(`gateway:
  id: floor3
readers:
  - id: r1
    type: llrp
  - id: r2
    baud: 9600
uplink:
  kafak:
    brokers: [a:9092]
`))
	for p, want := range map[string]int{
		"gateway.id": 2, "readers[1].baud": 7, "readers[1]": 6, "uplink.kafak": 9,
		"uplink.kafak.brokers": 10, "readers[1].nope": 6, "edge.dwell": 0,
	} {
		if got := idx.line(p); got != want {
			t.Errorf("line(%q) = %d, want %d", p, got, want)
		}
	}
	if len(indexYAML([]byte("a: [unclosed"))) != 0 {
		t.Error("a file that does not parse gave lines")
	}
}

func TestKeysAt(t *testing.T) {
	root := reflect.TypeOf(Config{})
	if got := keysAt(root, "uplink.kafak"); !slices.Equal(got, []string{"kafka", "epcis"}) {
		t.Errorf("keysAt(uplink.kafak) = %v", got)
	}
	if got := keysAt(root, "edge.dwel"); !slices.Contains(got, "dwell") || !slices.Contains(got, "hysteresis_db") {
		t.Errorf("keysAt(edge.dwel) = %v", got)
	}
	// zones take the edge overrides too (squashed)
	if got := keysAt(root, "zones[3].dwel"); !slices.Contains(got, "dwell") || !slices.Contains(got, "antennas") {
		t.Errorf("keysAt(zones[3].dwel) = %v", got)
	}
	if got := keysAt(root, "uplink.kafka.librdkafka.x"); got != nil {
		t.Errorf("a map takes any key, got %v", got)
	}
}

func TestUnknownEnv(t *testing.T) {
	known := []string{"RFIDGW_EDGE_DWELL", "RFIDGW_UPLINK_KAFKA_BROKERS", "RFIDGW_HTTP_LISTEN"}
	got := unknownEnv([]string{
		"RFIDGW_EDGE_DWEL=5s",          // misspelt: reported with the fix
		"RFIDGW_EDGE_NOPE_AT_ALL=1",    // a config section, no close key: reported
		"RFIDGW_UPLNK_KAFKA_BROKERS=x", // misspelt section, close to a key
		"RFIDGW_EDGE_DWELL=5s",         // known
		"RFIDGW_BIN=/tmp/x",            // a tool's: left alone
		"RFIDGW_CHROMIUM=/usr/bin/c",   // a test's: left alone
		"PATH=/bin",
	}, known, envSections(reflect.TypeOf(Config{})))
	want := map[string]string{"RFIDGW_EDGE_DWEL": "RFIDGW_EDGE_DWELL", "RFIDGW_EDGE_NOPE_AT_ALL": "", "RFIDGW_UPLNK_KAFKA_BROKERS": "RFIDGW_UPLINK_KAFKA_BROKERS"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unknownEnv = %v, want %v", got, want)
	}
}

// The hint names the example where the package really installs it.
func TestInstalledExampleIsPackaged(t *testing.T) {
	nfpm, err := os.ReadFile(filepath.Join("..", "..", "packaging", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nfpm), "src: ./"+repoExample+"\n    dst: "+InstalledExample+"\n") {
		t.Errorf("packaging/nfpm.yaml does not install %s as %s", repoExample, InstalledExample)
	}
}
