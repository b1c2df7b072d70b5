package edge

import (
	"strings"
	"testing"

	"github.com/rfidgw/rfidgw/reader"
)

const (
	sgtinEPC  = "3074257BF7194E4000001A85" // urn:epc:id:sgtin:0614141.812345.6789
	giaiEPC   = "3474257BF400000000BC6038" // urn:epc:id:giai:0614141.12345400
	giaiOther = "3476451FD40000000000162E" // urn:epc:id:giai:9521141.5678
	rawEPC    = "E28011606000020D8F3A1B2C"
)

func TestReadFilter(t *testing.T) {
	cfg := testConfig()
	cfg.Accept = []string{"giai", "sgtin"}
	cfg.Zones[1].Ignore = []string{"urn:epc:id:giai:0614141.*"} // r1 = reader r antenna 1
	cfg.Zones[0].Accept = []string{"giai"}                      // g1 = reader d antennas 1-4
	f, err := NewReadFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		reader  string
		antenna int
		epc     string
		want    bool
	}{
		{"r", 1, sgtinEPC, true},
		{"r", 1, giaiEPC, false},  // zone r1 ignores it
		{"r", 2, giaiEPC, true},   // zone r2 has no filter
		{"r", 1, giaiOther, true}, // other company prefix
		{"r", 1, rawEPC, false},   // the gateway accepts only giai and sgtin
		{"d", 3, sgtinEPC, false}, // gate g1 accepts only giai
		{"d", 3, giaiEPC, true},
		{"x", 9, sgtinEPC, true}, // no zone: only the gateway filter
		{"x", 9, rawEPC, false},
	} {
		r := reader.Read{Reader: c.reader, Antenna: c.antenna, EPC: c.epc}
		if got := f.Allows(&r); got != c.want {
			t.Errorf("%s/%d %s: %v, want %v", c.reader, c.antenna, c.epc, got, c.want)
		}
	}
	if st := (reader.Read{Reader: "r", Status: reader.StatusOffline}); !f.Allows(&st) {
		t.Error("a status line was filtered")
	}
	if nf, err := NewReadFilter(testConfig()); nf != nil || err != nil {
		t.Errorf("no patterns: %v %v, want a nil filter", nf, err)
	}
	var nilF *ReadFilter
	if r := (reader.Read{EPC: rawEPC}); !nilF.Allows(&r) {
		t.Error("nil filter")
	}
}

// TestFilterConfigErrors: bad patterns and zone patterns the gateway filter
// makes unreachable are config errors naming their key.
func TestFilterConfigErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Accept = []string{"giai", "bogus"}
	cfg.Ignore = []string{"urn:epc:id:sgtin:0614141.81234.6789"}
	cfg.Zones[1].Accept = []string{"sscc", "urn:epc:id:giai:0614141.*"}
	cfg.Zones[2].Ignore = []string{"urn:epc:id:cpi:1.*"}
	err := cfg.Validate()
	for _, want := range []string{"filter.accept[1]:", "filter.ignore[0]:", "zones[2].ignore[0]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	cfg.Accept = []string{"giai"}
	cfg.Ignore = nil
	cfg.Zones[2].Ignore = nil
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), `zones[1].accept: "sscc" can never match`) || strings.Contains(err.Error(), "giai:0614141") {
		t.Errorf("unreachable zone pattern: %v", err)
	}
	if _, err := NewReadFilter(cfg); err == nil {
		t.Error("NewReadFilter accepted a config Validate rejects")
	}
}

func BenchmarkReadFilter(b *testing.B) {
	cfg := testConfig()
	cfg.Accept = []string{"giai", "sgtin"}
	cfg.Zones[1].Ignore = []string{"urn:epc:id:giai:0614141.*"}
	f, _ := NewReadFilter(cfg)
	reads := []reader.Read{{Reader: "r", Antenna: 1, EPC: sgtinEPC}, {Reader: "r", Antenna: 1, EPC: giaiEPC}, {Reader: "d", Antenna: 2, EPC: rawEPC}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Allows(&reads[i%len(reads)])
		i++
	}
}
