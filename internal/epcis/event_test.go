package epcis

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/schema"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 2, 480e6, time.UTC)

func testEvents() []edge.Event {
	ev := &edge.Evidence{Reads: 17, FirstSeen: t0.Add(-1568 * time.Millisecond), LastSeen: t0.Add(621 * time.Millisecond), PeakRSSI: -48.5, Readers: []string{"dock-door-1"}, Antennas: []int{1, 3}}
	rack := &edge.Location{Zone: "rack-a1", Floor: "3", Room: "r1", Row: "a", Rack: "1"}
	return []edge.Event{
		{Seq: 1, Gateway: "floor3", Type: edge.Inward, EPC: "3074257BF7194E4000001A85", Time: t0, Zone: "gate-a", Evidence: ev},
		{Seq: 2, Gateway: "floor3", Type: edge.Outward, EPC: "3476451FD40000000000162E", Time: t0, Zone: "gate-a", Evidence: ev},
		{Seq: 3, Gateway: "floor3", Type: edge.RackMove, EPC: "E28011606000020D8F3A1B2C", Time: t0, Zone: "rack-a1", To: rack},
		{Seq: 4, Gateway: "floor3", Type: edge.RackDepart, EPC: "3876451FD59B2C2BF10000000000000000000000000000000000", Time: t0, Zone: "rack-a1", From: rack},
	}
}

func testEncoder(t testing.TB) *Encoder {
	enc, err := NewEncoder(Config{
		TimeZone: "Europe/Berlin",
		Zones: map[string]Zone{
			"gate-a":  {ReadPoint: "urn:epc:id:sgln:0614141.00777.1", BizLocation: "urn:epc:id:sgln:0614141.00777.0"},
			"rack-a1": {ReadPoint: "urn:epc:id:sgln:0614141.00777.31", BizLocation: "https://assets.example.com/racks/a1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestEncodeMovements(t *testing.T) {
	enc := testEncoder(t)
	want := []struct {
		epc, bizStep, readPoint, bizLocation string
	}{
		{"urn:epc:id:sgtin:0614141.812345.6789", "arriving", "urn:epc:id:sgln:0614141.00777.1", "urn:epc:id:sgln:0614141.00777.0"},
		{"urn:epc:id:giai:9521141.5678", "departing", "urn:epc:id:sgln:0614141.00777.1", ""},
		{"urn:epc:raw:96.xE28011606000020D8F3A1B2C", "storing", "urn:epc:id:sgln:0614141.00777.31", "https://assets.example.com/racks/a1"},
		{"urn:epc:id:giai:9521141.32a%2Fb", "storing", "urn:epc:id:sgln:0614141.00777.31", ""},
	}
	ids := map[string]bool{}
	for i, e := range testEvents() {
		ev, ok, err := enc.Encode(&e)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", e.Type, ok, err)
		}
		w := want[i]
		if ev.EPCList[0] != w.epc || ev.BizStep != w.bizStep || ev.Action != "OBSERVE" || ev.Type != "ObjectEvent" {
			t.Errorf("%s: %+v", e.Type, ev)
		}
		if ev.ReadPoint == nil || ev.ReadPoint.ID != w.readPoint {
			t.Errorf("%s: readPoint %+v, want %s", e.Type, ev.ReadPoint, w.readPoint)
		}
		if got := ""; ev.BizLocation != nil {
			got = ev.BizLocation.ID
			if got != w.bizLocation {
				t.Errorf("%s: bizLocation %s, want %s", e.Type, got, w.bizLocation)
			}
		} else if w.bizLocation != "" {
			t.Errorf("%s: no bizLocation, want %s", e.Type, w.bizLocation)
		}
		// November in Berlin: +01:00.
		if ev.EventTime != "2026-11-25T10:00:02.480Z" || ev.EventTimeZoneOffset != "+01:00" {
			t.Errorf("%s: time %s %s", e.Type, ev.EventTime, ev.EventTimeZoneOffset)
		}
		if !strings.HasPrefix(ev.EventID, "ni:///sha-256;") || !strings.HasSuffix(ev.EventID, "?ver=CBV2.0") || ids[ev.EventID] {
			t.Errorf("%s: eventID %s (duplicate: %v)", e.Type, ev.EventID, ids[ev.EventID])
		}
		ids[ev.EventID] = true
		if ev.Gateway != "floor3" || ev.Seq != e.Seq || ev.Movement != string(e.Type) || ev.EPC != e.EPC || ev.ID != e.ID() {
			t.Errorf("%s: extension fields %+v", e.Type, ev)
		}
		// The same event encodes to the same bytes (and the same id) every time.
		b1, _, _ := enc.AppendJSON(nil, &e)
		b2, _, _ := enc.AppendJSON(nil, &e)
		if string(b1) != string(b2) {
			t.Errorf("%s: not deterministic", e.Type)
		}
	}
	gap := edge.Event{Seq: 5, Gateway: "floor3", Type: edge.Gap, Time: t0, Dropped: 3, FirstSeq: 2, LastSeq: 4}
	if _, ok, err := enc.Encode(&gap); ok || err != nil {
		t.Errorf("gap: %v %v, want no EPCIS event", ok, err)
	}
}

// TestEventIDMatchesHash: the eventID in the written JSON is the hash of
// that JSON as a reader computes it from the bytes alone.
func TestEventIDMatchesHash(t *testing.T) {
	enc := testEncoder(t)
	for _, e := range testEvents() {
		b, _, err := enc.AppendJSON(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		id, pre, err := HashEvent(m, map[string]string{Prefix: Namespace})
		if err != nil || id != m["eventID"] {
			t.Errorf("%s: eventID %v, hash of the bytes %s (%v)\n%s", e.Type, m["eventID"], id, err, pre)
		}
	}
}

func TestEventsMatchGS1Schema(t *testing.T) {
	enc := testEncoder(t)
	var all []ObjectEvent
	for _, e := range testEvents() {
		b, _, err := enc.AppendJSON(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		err = schema.ValidateEPCIS(b)
		if errors.Is(err, schema.ErrNoEPCISSchema) {
			t.Skip(err)
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", e.Type, err, b)
		}
		ev, _, _ := enc.Encode(&e)
		all = append(all, ev)
	}
	doc, err := Document(all, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.ValidateEPCIS(doc); err != nil {
		t.Errorf("document: %v\n%s", err, doc)
	}
	// The check can fail: a broken event is rejected.
	bad, _, _ := enc.AppendJSON(nil, &testEvents()[0])
	for _, broken := range []string{
		strings.Replace(string(bad), `"OBSERVE"`, `"LOOK"`, 1),
		strings.Replace(string(bad), `"+01:00"`, `"+1"`, 1),
		strings.Replace(string(bad), `"bizStep":"arriving"`, `"bizStep":"urn:epcglobal:cbv:bizstep:arriving"`, 1), // the schema's lookahead pattern
		strings.Replace(string(bad), `"rfidgw:gateway"`, `"gateway"`, 1),                                          // extension names must be URIs
		strings.Replace(string(bad), `"eventTime":"2026-11-25T10:00:02.480Z"`, `"eventTime":"yesterday"`, 1),
	} {
		if schema.ValidateEPCIS([]byte(broken)) == nil {
			t.Errorf("schema accepted %s", broken)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := NewEncoder(Config{
		BizSteps:     map[string]string{"inward": "arrivng", "teleport": "arriving", "outward": "urn:epcglobal:cbv:bizstep:departing"},
		Dispositions: map[string]string{"inward": "in progress"},
		TimeZone:     "Mars/Olympus",
		Zones: map[string]Zone{
			"g": {ReadPoint: "not a uri", BizLocation: "urn:epc:id:sgtin:0614141.812345.6789"},
			"h": {ReadPoint: "urn:epc:id:sgln:0614141.0077.1", BizLocation: "https://example.com/414/0614141007770"},
		},
	})
	for _, want := range []string{"biz_steps.inward", "biz_steps.teleport", "biz_steps.outward", "dispositions.inward", "time_zone", "zones.g.epcis.read_point", "zones.g.epcis.biz_location", "zones.h.epcis.read_point", "zones.h.epcis.biz_location"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("%v is not ErrConfig", err)
	}
	enc, err := NewEncoder(Config{BizSteps: map[string]string{"rack_move": "installing"}, Dispositions: map[string]string{"inward": "in_progress"}, TimeZone: "-05:00"})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvents()[2]
	ev, _, _ := enc.Encode(&e)
	if ev.BizStep != "installing" || ev.EventTimeZoneOffset != "-05:00" || ev.ReadPoint != nil {
		t.Errorf("%+v", ev)
	}
	e = testEvents()[0]
	if ev, _, _ = enc.Encode(&e); ev.Disposition != "in_progress" || ev.BizStep != "arriving" {
		t.Errorf("%+v", ev)
	}
}

func TestOffsetFollowsDST(t *testing.T) {
	enc, _ := NewEncoder(Config{TimeZone: "Europe/Berlin"})
	if got := enc.offset(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)); got != "+02:00" {
		t.Errorf("July: %s", got)
	}
	enc, _ = NewEncoder(Config{TimeZone: "Asia/Kolkata"})
	if got := enc.offset(t0); got != "+05:30" {
		t.Errorf("Kolkata: %s", got)
	}
	enc, _ = NewEncoder(Config{TimeZone: "America/St_Johns"})
	if got := enc.offset(t0); got != "-03:30" {
		t.Errorf("St Johns: %s", got)
	}
}

func TestParseEventRoundTrip(t *testing.T) {
	enc := testEncoder(t)
	for _, e := range testEvents() {
		b := e.AppendJSON(nil)
		back, err := ParseEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if string(back.AppendJSON(nil)) != string(b) {
			t.Errorf("round trip:\n%s\n%s", b, back.AppendJSON(nil))
		}
		a1, _, _ := enc.AppendJSON(nil, &e)
		a2, _, _ := enc.AppendJSON(nil, &back)
		if string(a1) != string(a2) {
			t.Errorf("EPCIS of the parsed event differs")
		}
	}
	for _, bad := range []string{"", "{", `{"seq":1}`, `[1]`} {
		if _, err := ParseEvent([]byte(bad)); !errors.Is(err, ErrEvent) {
			t.Errorf("ParseEvent(%q) = %v", bad, err)
		}
	}
}

func TestDocument(t *testing.T) {
	enc := testEncoder(t)
	e := testEvents()[0]
	ev, _, _ := enc.Encode(&e)
	doc, err := Document([]ObjectEvent{ev}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d["type"] != "EPCISDocument" || d["schemaVersion"] != "2.0" || d["creationDate"] != "2026-11-25T10:00:02.480Z" || d["@context"] == nil {
		t.Errorf("document header %v", d)
	}
	list := d["epcisBody"].(map[string]any)["eventList"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["@context"] != nil {
		t.Errorf("event list %v", list)
	}
	if empty, _ := Document(nil, t0); !strings.Contains(string(empty), `"eventList": []`) {
		t.Errorf("empty document %s", empty)
	}
}

// TestEventIDWithoutJSON: EventID hashes the values straight from the
// struct; it must give what hashing the JSON gives, also for awkward values.
func TestEventIDWithoutJSON(t *testing.T) {
	enc := testEncoder(t)
	evs := testEvents()
	odd := evs[0]
	odd.Seq = 1<<53 + 1 // mangled by the float step of the reference tool, on both paths
	odd.Gateway = "007"
	odd.Zone = "storing" // a bare CBV value elsewhere in the event
	odd.EPC = "300000000000000000000001"
	odd.Evidence = &edge.Evidence{Reads: 3, PeakRSSI: 1e-7, Readers: []string{"rfidgw:x", "bad\xffutf8", " padded "}, Antennas: []int{10, 2}}
	evs = append(evs, odd)
	for _, e := range evs {
		ev, ok, err := enc.Encode(&e)
		if err != nil || !ok {
			t.Fatal(err)
		}
		slow, err := eventIDViaJSON(&ev)
		if err != nil || slow != ev.EventID {
			t.Errorf("%s seq %d: EventID %s, via JSON %s %v", e.Type, e.Seq, ev.EventID, slow, err)
		}
	}
}
