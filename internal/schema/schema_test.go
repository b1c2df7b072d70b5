package schema

import (
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

func TestEventsOfEveryTypeMatchTheSchema(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 2, 480e6, time.UTC)
	loc := &edge.Location{Zone: "rack-A12", Floor: "3", Room: "3.1", Row: "A", Rack: "12"}
	ev := &edge.Evidence{Reads: 17, FirstSeen: at, LastSeen: at, PeakRSSI: -48.5, Readers: []string{"dock-1"}, Antennas: []int{1, 3}}
	for _, e := range []edge.Event{
		{Seq: 1, Gateway: "floor3", Type: edge.Inward, EPC: "E28011606000020D8F3A1B2C", Time: at, Zone: "gate-a", Evidence: ev},
		{Seq: 2, Gateway: "floor3", Type: edge.Outward, EPC: "E28011606000020D8F3A1B2C", Time: at, Zone: "gate-a", Evidence: ev},
		{Seq: 3, Gateway: "floor3", Type: edge.RackMove, EPC: "E28011606000020D8F3A1B2C", Time: at, To: loc},
		{Seq: 4, Gateway: "floor3", Type: edge.RackMove, EPC: "E28011606000020D8F3A1B2C", Time: at, From: loc, To: loc, Evidence: ev},
		{Seq: 5, Gateway: "floor3", Type: edge.RackDepart, EPC: "E28011606000020D8F3A1B2C", Time: at, From: loc},
		{Seq: 6, Gateway: "floor3", Type: edge.Inward, EPC: "3074257BF7194E4000001A85", Time: at, Zone: "gate-a", Evidence: ev},
		{Seq: 7, Gateway: "floor3", Type: edge.RackMove, EPC: "3876451FD59B2C2BF10000000000000000000000000000000000", Time: at, To: loc},
		{Seq: 6, Gateway: "floor3", Type: edge.Gap, Time: at, Dropped: 10, FirstSeq: 7, LastSeq: 16},
	} {
		if err := ValidateEvent(e.AppendJSON(nil)); err != nil {
			t.Errorf("%s: %v\n%s", e.Type, err, e.AppendJSON(nil))
		}
	}
}

func TestSchemaRejectsBrokenEvents(t *testing.T) {
	good := `{"schema":1,"id":"floor3-1","seq":1,"gateway":"floor3","type":"inward","epc":"E280","epc_uri":null,"time":"2026-11-25T10:00:02.480Z","zone":"gate-a","from":null,"to":null,"evidence":{"reads":1,"first_seen":"2026-11-25T10:00:02.480Z","last_seen":"2026-11-25T10:00:02.480Z","peak_rssi":-50,"readers":["d"],"antennas":[1]}}`
	if err := ValidateEvent([]byte(good)); err != nil {
		t.Fatalf("good event rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"lower-case epc":       strings.Replace(good, `"E280"`, `"e280"`, 1),
		"seq zero":             strings.Replace(good, `"seq":1`, `"seq":0`, 1),
		"unknown type":         strings.Replace(good, `"inward"`, `"teleport"`, 1),
		"extra field":          strings.Replace(good, `"schema":1,`, `"schema":1,"x":1,`, 1),
		"gate no zone":         strings.Replace(good, `"zone":"gate-a"`, `"zone":null`, 1),
		"epc_uri not a URI":    strings.Replace(good, `"epc_uri":null`, `"epc_uri":"E280"`, 1),
		"epc_uri raw form":     strings.Replace(good, `"epc_uri":null`, `"epc_uri":"urn:epc:raw:16.xE280"`, 1),
		"gap fields on a move": strings.Replace(good, `"schema":1,`, `"schema":1,"dropped":3,`, 1),
	} {
		if err := ValidateEvent([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}
