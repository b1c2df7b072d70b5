package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// hashExamples are published examples of the EPCIS event hash: documents
// and their expected pre-hash strings and hashes from the reference
// implementation that CBV 2.0 section 8.9 points to
// (github.com/RalphTro/epcis-event-hash-generator, tests/examples/, MIT
// licence): ReferenceEventHashAlgorithm.jsonld (the algorithm description's
// example 1: SSCCs, an SGLN read point, nested user extensions) and
// ralfsChaosExample.jsonld (a Digital Link EPC, bizLocation, disposition,
// numbers and extensions from five namespaces), and the first two events of
// TimeStampRoundOff.jsonld are not used: they rely on Digital Link URIs on
// other domains, which rfidgw never emits.
var hashExamples = []struct {
	name, doc string
	prehash   []string
	hash      []string
}{
	{
		name: "ReferenceEventHashAlgorithm",
		doc: `{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"gs1": "https://gs1.org/voc/"}, {"example": "https://ns.example.com/epcis/"}],
  "id": "https://id.example.org/document1", "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2022-02-17T11:30:47.0Z",
  "epcisBody": {"eventList": [{
    "type": "ObjectEvent",
    "eventTime": "2020-03-04T11:00:30.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "recordTime": "2020-03-04T11:00:30.999+01:00",
    "epcList": ["urn:epc:id:sscc:4012345.0000000333", "urn:epc:id:sscc:4012345.0000000111", "urn:epc:id:sscc:4012345.0000000222"],
    "action": "OBSERVE",
    "bizStep": "departing",
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.987"},
    "example:myField1": {"example:mySubField1": "2", "example:mySubField2": "5"},
    "example:myField2": "0",
    "example:myField3": {"example:mySubField3": ["3", "1"]}
  }]}}`,
		prehash: []string{"eventType=ObjectEventeventTime=2020-03-04T10:00:30.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/040123450000001112epc=https://id.gs1.org/00/040123450000002225epc=https://id.gs1.org/00/040123450000003338action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-departingreadPointid=https://id.gs1.org/414/4012345000115/254/987{https://ns.example.com/epcis/}myField1{https://ns.example.com/epcis/}mySubField1=2{https://ns.example.com/epcis/}mySubField2=5{https://ns.example.com/epcis/}myField2=0{https://ns.example.com/epcis/}myField3{https://ns.example.com/epcis/}mySubField3=1{https://ns.example.com/epcis/}mySubField3=3"},
		hash:    []string{"ni:///sha-256;6ae96341e0acc6d7a261364751f60e68278a81cdf51da0abb6b4e617014e39d7?ver=CBV2.0"},
	},
	{
		name: "ralfsChaosExample",
		doc: `{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"abc": "https://ns.abc.de/epcis/", "example": "http://ns.example.com/epcis/", "fgh": "https://ns.fgh.co.uk/epcis/", "schema": "https://schema.org/", "sdo": "https://schema.org/"}],
  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2005-07-11T11:30:47.0Z",
  "epcisBody": {"eventList": [{
    "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
    "epcList": ["https://id.gs1.org/01/70614141123451/21/2018"],
    "eventTime": "2005-04-04T20:33:31.116-06:00", "eventTimeZoneOffset": "-06:00",
    "readPoint": {"id": "urn:epc:id:sgln:0012345.11111.400"},
    "bizLocation": {"id": "urn:epc:id:sgln:0012345.11111.0"},
    "fgh:a-date": "2023-10-09", "example:myField": "Example of a vendor/user extension",
    "abc:a-integer": 2, "abc:z-integer": 1, "schema:award": "Order of Standards", "schema:mpn": "4711", "sdo:nsn": "4712"
  }]}}`,
		prehash: []string{"eventType=ObjectEventeventTime=2005-04-05T02:33:31.116ZeventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/70614141123451/21/2018action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-receivingdisposition=https://ref.gs1.org/cbv/Disp-in_progressreadPointid=https://id.gs1.org/414/0012345111112/254/400bizLocationid=https://id.gs1.org/414/0012345111112{http://ns.example.com/epcis/}myField=Example of a vendor/user extension{https://ns.abc.de/epcis/}a-integer=2{https://ns.abc.de/epcis/}z-integer=1{https://ns.fgh.co.uk/epcis/}a-date=2023-10-09{https://schema.org/}award=Order of Standards{https://schema.org/}mpn=4711{https://schema.org/}nsn=4712"},
		hash:    []string{"ni:///sha-256;962b81a19a5d2652b43016c17c1a85acfa667155c53523086d22a0b566e7ee04?ver=CBV2.0"},
	},
}

// docEvents decodes a document's events and the namespaces of its @context.
func docEvents(t testing.TB, doc string) ([]map[string]any, map[string]string) {
	t.Helper()
	var d struct {
		Context []any `json:"@context"`
		Body    struct {
			EventList []map[string]any `json:"eventList"`
		} `json:"epcisBody"`
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	ns := map[string]string{}
	for _, c := range d.Context {
		if m, ok := c.(map[string]any); ok {
			for k, v := range m {
				ns[k], _ = v.(string)
			}
		}
	}
	return d.Body.EventList, ns
}

func TestHashPublishedExamples(t *testing.T) {
	for _, x := range hashExamples {
		events, ns := docEvents(t, x.doc)
		for i, ev := range events {
			id, pre, err := HashEvent(ev, ns)
			if err != nil {
				t.Fatalf("%s event %d: %v", x.name, i, err)
			}
			if pre != x.prehash[i] {
				t.Errorf("%s event %d pre-hash:\n got %s\nwant %s", x.name, i, pre, x.prehash[i])
			}
			if id != x.hash[i] {
				t.Errorf("%s event %d: %s, want %s", x.name, i, id, x.hash[i])
			}
		}
	}
}

// TestHashIsOrderIndependent: the same event with its fields, list items
// and extension members in another order has the same hash; any change of
// a value changes it.
func TestHashIsOrderIndependent(t *testing.T) {
	a := `{"type":"ObjectEvent","eventTime":"2026-11-25T10:00:02.480Z","eventTimeZoneOffset":"+01:00","epcList":["urn:epc:id:giai:0614141.1","urn:epc:id:giai:0614141.2"],"action":"OBSERVE","bizStep":"arriving","x:e":{"x:b":[2,1],"x:a":"v"}}`
	b := `{"x:e":{"x:a":"v","x:b":[1,2]},"bizStep":"arriving","action":"OBSERVE","epcList":["urn:epc:id:giai:0614141.2","urn:epc:id:giai:0614141.1"],"eventTimeZoneOffset":"+01:00","eventTime":"2026-11-25T11:00:02.48+01:00","type":"ObjectEvent","eventID":"ignored","recordTime":"2026-11-25T10:00:03Z"}`
	ns := map[string]string{"x": "https://x.example/"}
	ha := hashOf(t, a, ns)
	if hb := hashOf(t, b, ns); ha != hb {
		t.Fatalf("same event, different hashes %s %s", ha, hb)
	}
	for _, changed := range []string{
		strings.Replace(a, `"v"`, `"w"`, 1),
		strings.Replace(a, `0614141.2`, `0614141.3`, 1),
		strings.Replace(a, `arriving`, `departing`, 1),
		strings.Replace(a, `02.480Z`, `02.481Z`, 1),
		strings.Replace(a, `[2,1]`, `[2,1,3]`, 1),
	} {
		if hashOf(t, changed, ns) == ha {
			t.Errorf("a changed event has the same hash: %s", changed)
		}
	}
}

func hashOf(t *testing.T, s string, ns map[string]string) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	id, _, err := HashEvent(m, ns)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestHashRejectsUnsupported(t *testing.T) {
	for _, s := range []string{
		`{"eventTime":"2026-11-25T10:00:02.480Z"}`,
		`{"type":"ObjectEvent","eventTime":"2026-11-25T10:00:02.480Z","quantityList":[]}`,
		`{"type":"ObjectEvent","eventTime":"yesterday"}`,
		`{"type":"ObjectEvent","eventTime":"2026-11-25T10:00:02.9996Z"}`,
		`{"type":"ObjectEvent","readPoint":{"id":"urn:x","x:ext":"1"}}`,
		`{"type":"ObjectEvent","x:fooList":["a"]}`,
		`{"type":"ObjectEvent","x:o":{"type":"a"}}`,
		`{"type":"ObjectEvent","x:l":[[1]]}`,
	} {
		var m map[string]any
		_ = json.Unmarshal([]byte(s), &m)
		if _, _, err := HashEvent(m, map[string]string{"x": "https://x/"}); !errors.Is(err, ErrHash) {
			t.Errorf("HashEvent(%s) = %v, want ErrHash", s, err)
		}
	}
}

// TestCanonNumber: numbers as the reference tool's Python float() and str()
// write them (expected values checked with python3: str(int(float(s))) / str(float(s))).
func TestCanonNumber(t *testing.T) {
	for in, want := range map[string]string{
		"2": "2", "2.0": "2", "-48.5": "-48.5", "0.30": "0.3", "1e2": "100", "0.0001": "0.0001", "0.00001": "1e-05",
		"0.000015": "1.5e-05", "1_000": "1000", "-0.0": "0", "+7": "7", "007": "7", ".5": "0.5", "5.": "5",
		"12345678901234567890": "12345678901234567168", "300000000000000000000001": "300000000000000008388608",
		"E28011606000020D8F3A1B2C": "E28011606000020D8F3A1B2C", "1e400": "1e400", "inf": "inf", "nan": "nan",
		"1_": "1_", "_1": "_1", "1__0": "1__0", "": "", "floor3": "floor3", "2026-11-25": "2026-11-25",
	} {
		if got := canonNumber(in); got != want {
			t.Errorf("canonNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonTime(t *testing.T) {
	for in, want := range map[string]string{
		"2023-02-02T11:04:03.1415Z":        "2023-02-02T11:04:03.142Z", // TimeStampRoundOff example
		"2023-02-02T11:04:03.1414Z":        "2023-02-02T11:04:03.141Z",
		"2023-02-02T11:04:03.1425Z":        "2023-02-02T11:04:03.142Z", // half to even
		"2022-02-16T20:33:31.116000-06:00": "2022-02-17T02:33:31.116Z",
		"2022-02-17T11:30:47Z":             "2022-02-17T11:30:47.000Z",
	} {
		got, err := canonTime(in)
		if err != nil || got != want {
			t.Errorf("canonTime(%s) = %s %v, want %s", in, got, err, want)
		}
	}
}
