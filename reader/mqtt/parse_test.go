package mqtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Payloads as the vendors document them: the Impinj IoT device interface
// (TagInventoryEvent) and the Zebra IoT Connector (tag data events).
const (
	impinjFull = `{"timestamp":"2021-02-02T18:39:34.385793625Z","hostname":"impinj-14-4a-8b","eventType":"tagInventory",
 "tagInventoryEvent":{"epc":"ftqQOAUQAnEAAsCu","epcHex":"7EDA9038051002710002C0AE",
  "tid":"4oARcCAAFM2bWgjs","tidHex":"E2801170200014CD9B5A08EC","pc":"NAA=",
  "antennaPort":1,"antennaName":"Antenna 1","peakRssiCdbm":-4050,"frequency":927250,
  "transmitPowerCdbm":3000,"lastSeenTime":"2021-02-02T18:39:34.380000Z","phaseAngle":69.00}}`
	impinjWebhookArray = `[{"timestamp":"2021-02-02T18:39:33.886617Z","hostname":"impinj-14-4a-8b",
"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"329CCCC05E2C02C9D8081562301FD644","antennaPort":1,"antennaName":"Antena_1","peakRssiCdbm":-4050}}]`
	impinjStatus = `{"timestamp":"2021-02-02T18:39:33.886617Z","hostname":"x","eventType":"inventoryStatus","inventoryStatusEvent":{"inventoryStatus":"running"}}`
	impinjBase64 = `{"timestamp":"2021-02-02T18:39:34.385793625Z","eventType":"tagInventory","tagInventoryEvent":{"epc":"ftqQOAUQAnEAAsCu","antennaPort":2,"peakRssiCdbm":-5300}}`

	zebraSingle = `{"type":"SIMPLE","timestamp":"2023-05-09T15:04:12.310+0000",
 "data":{"eventNum":231,"format":"epc","idHex":"e28011606000020a1b2c3d4e",
         "antenna":1,"peakRssi":-61,"reads":2,"channel":915.75,"phase":0.0,
         "PC":"3000","CRC":"1a2b","MAC":"C4:7D:CC:FF:FF:FF"}}`
	zebraHeartbeat = `{"type":"heartbeat","timestamp":"2023-05-09T15:04:12.310+0000","data":{"uptime":"1"}}`
)

var recv = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, format, payload string) []reader.Read {
	t.Helper()
	got, err := Parse(format, []byte(payload), recv, nil)
	if err != nil {
		t.Fatalf("Parse(%s, %q): %v", format, payload, err)
	}
	return got
}

func TestParseImpinjReference(t *testing.T) {
	got := mustParse(t, FormatImpinj, impinjFull)
	want := reader.Read{Time: time.Date(2021, 2, 2, 18, 39, 34, 380000000, time.UTC), Antenna: 1, EPC: "7EDA9038051002710002C0AE", RSSI: -40.5}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	got = mustParse(t, FormatImpinj, impinjWebhookArray)
	want = reader.Read{Time: time.Date(2021, 2, 2, 18, 39, 33, 886617000, time.UTC), Antenna: 1, EPC: "329CCCC05E2C02C9D8081562301FD644", RSSI: -40.5}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("array: got %+v, want %+v", got, want)
	}
	// epc alone is base64 of the same bytes as epcHex above.
	got = mustParse(t, FormatImpinj, impinjBase64)
	if len(got) != 1 || got[0].EPC != "7EDA9038051002710002C0AE" || got[0].RSSI != -53 || got[0].Antenna != 2 ||
		!got[0].Time.Equal(time.Date(2021, 2, 2, 18, 39, 34, 385793625, time.UTC)) {
		t.Fatalf("base64: got %+v", got)
	}
	if got := mustParse(t, FormatImpinj, impinjStatus); len(got) != 0 {
		t.Fatalf("inventoryStatus gave reads: %+v", got)
	}
}

func TestParseZebraReference(t *testing.T) {
	got := mustParse(t, FormatZebra, zebraSingle)
	want := reader.Read{Time: time.Date(2023, 5, 9, 15, 4, 12, 310000000, time.UTC), Antenna: 1, EPC: "E28011606000020A1B2C3D4E", RSSI: -61}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := mustParse(t, FormatZebra, zebraHeartbeat); len(got) != 0 {
		t.Fatalf("heartbeat gave reads: %+v", got)
	}
	// A colon-less negative offset is converted to UTC.
	got = mustParse(t, FormatZebra, `{"type":"CUSTOM","timestamp":"2026-11-25T03:00:00.123-0700","data":{"idHex":"AB12","antenna":4,"peakRssi":-70}}`)
	if !got[0].Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 123000000, time.UTC)) || got[0].Time.Location() != time.UTC {
		t.Fatalf("time %v", got[0].Time)
	}
}

func TestParseBatchingShapes(t *testing.T) {
	one := map[string]string{
		FormatImpinj: `{"timestamp":"2026-11-25T10:00:00.5Z","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"AA%02d","antennaPort":1,"peakRssiCdbm":-5000}}`,
		FormatZebra:  `{"type":"SIMPLE","timestamp":"2026-11-25T10:00:00.500+0000","data":{"idHex":"aa%02d","antenna":1,"peakRssi":-50}}`,
		FormatJSON:   `{"time":"2026-11-25T10:00:00.5Z","reader":"r1","antenna":1,"epc":"AA%02d","rssi":-50}`,
	}
	for format, tmpl := range one {
		ev := func(i int) string {
			return strings.Replace(tmpl, "%02d", string(rune('0'+i/10))+string(rune('0'+i%10)), 1)
		}
		shapes := map[string]string{
			"array":        "[" + ev(1) + "," + ev(2) + "," + ev(3) + "]",
			"concatenated": ev(1) + ev(2) + ev(3),
			"ndjson":       ev(1) + "\n" + ev(2) + "\r\n" + ev(3) + "\n",
			"arrays":       "[" + ev(1) + "] [" + ev(2) + "," + ev(3) + "]",
		}
		for shape, payload := range shapes {
			got, err := Parse(format, []byte(payload), recv, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", format, shape, err)
			}
			if len(got) != 3 {
				t.Fatalf("%s %s: %d reads, want 3", format, shape, len(got))
			}
			for i, r := range got {
				if r.EPC != "AA0"+string(rune('1'+i)) || r.RSSI != -50 || !r.Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 5e8, time.UTC)) {
					t.Fatalf("%s %s read %d: %+v", format, shape, i, r)
				}
			}
		}
	}
}

func TestParseNoTimeTakesReceiveTime(t *testing.T) {
	for format, p := range map[string]string{
		FormatImpinj: `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"AB"}}`,
		FormatZebra:  `{"type":"SIMPLE","data":{"idHex":"ab"}}`,
		FormatJSON:   `{"epc":"ab"}`,
	} {
		local := recv.In(time.FixedZone("x", 3600))
		got, err := Parse(format, []byte(p), local, nil)
		if err != nil || len(got) != 1 || !got[0].Time.Equal(recv) || got[0].Time.Location() != time.UTC {
			t.Fatalf("%s: %+v %v", format, got, err)
		}
	}
}

func TestParseBadPayloads(t *testing.T) {
	cases := []struct {
		format, payload, want string
		good                  int // reads still returned
		bad                   int
	}{
		{FormatImpinj, `not json`, "want an event object", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"antennaPort":1}}`, "missing epc", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"XYZ1"}}`, "not hex", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"ABC"}}`, "even number", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"AB","antennaPort":"1"}}`, "antennaPort is a string", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"AB","peakRssiCdbm":true}}`, "peakRssiCdbm is a boolean", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory","tagInventoryEvent":{"epc":"!!!!"}}`, "not base64", 0, 1},
		{FormatImpinj, `{"eventType":"tagInventory"}`, "no tagInventoryEvent", 0, 1},
		{FormatImpinj, `{"timestamp":"yesterday","eventType":"tagInventory","tagInventoryEvent":{"epcHex":"AB"}}`, "time", 0, 1},
		{FormatZebra, `{"type":"SIMPLE","timestamp":"2023-05-09T15:04:12.310+0000","data":{"antenna":1}}`, "missing epc", 0, 1},
		{FormatZebra, `{"type":"SIMPLE","data":{"idHex":"AB","format":"tid"}}`, "format", 0, 1},
		{FormatZebra, `{"type":"SIMPLE","data":[1]}`, "data is a array", 0, 1},
		{FormatZebra, `{"type":"SIMPLE","data":{"idHex":"AB","antenna":1.5}}`, "antenna", 0, 1},
		{FormatZebra, `[{"type":"SIMPLE","data":{"idHex":"AB"}}, 7, {"type":"SIMPLE","data":{"idHex":"CD"}}]`, "array element is a number", 2, 1},
		{FormatZebra, `[{"type":"SIMPLE","data":{"idHex":"AB"}}, {"type":"SIMPLE","data":{}}, {"data":{"idHex":"X"}}]`, "missing epc", 1, 2},
		{FormatZebra, `{"type":"SIMPLE","data":{"idHex":"AB"}} {"type":`, "end of payload", 1, 1},
		{FormatZebra, `{"type":"SIMPLE","data":{"idHex":"AB"},}`, "quoted object key", 0, 1},
		{FormatJSON, `{"epc":"AB","rssi":-1e999}`, "rssi", 0, 1},
		{FormatJSON, `{"epc":"AB","rssi":-500}`, "out of range", 0, 1},
		{FormatJSON, `{"epc":"AB","antenna":-1}`, "antenna", 0, 1},
		{FormatJSON, `"just a string"`, "want an event object", 0, 1},
		{FormatJSON, `{"epc":"AB"`, "end of payload", 0, 1},
		{FormatJSON, `{"epc":"A\u0042"} {"epc":"\x"}`, "bad escape", 1, 1},
	}
	for _, c := range cases {
		got, err := Parse(c.format, []byte(c.payload), recv, nil)
		var pe *PayloadError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadPayload) {
			t.Errorf("%s %q: err %v, want a *PayloadError wrapping ErrBadPayload", c.format, c.payload, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || pe.Bad != c.bad || len(got) != c.good {
			t.Errorf("%s %q: %d reads, bad %d, err %q; want %d reads, bad %d, error containing %q", c.format, c.payload, len(got), pe.Bad, err, c.good, c.bad, c.want)
		}
	}
}

func TestParseJSONMapping(t *testing.T) {
	m := &reader.JSONMapping{EPC: "tag.id", EPCEncoding: "base64", Antenna: "tag.port", RSSI: "rf.rssi", RSSIUnit: "cdbm",
		Time: "ts", TimeFormat: "unix_ms", Reader: "meta.reader"}
	p, err := NewParser(FormatJSON, m)
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"meta":{"reader":"dock-1","x":[1,2,{"a":null}]},"ts":1764064800123,"tag":{"id":"ftqQOAUQAnEAAsCu","port":3,"other":{"id":"no"}},"rf":{"rssi":-5250},"id":"AA"}`
	got, err := p.Parse([]byte(payload), recv, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := reader.Read{Time: time.UnixMilli(1764064800123).UTC(), Reader: "dock-1", Antenna: 3, EPC: "7EDA9038051002710002C0AE", RSSI: -52.5}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// A Go layout, and seconds with a fraction.
	p2, err := NewParser(FormatJSON, &reader.JSONMapping{EPC: "e", Time: "t", TimeFormat: "2006-01-02 15:04:05.000"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = p2.Parse([]byte(`{"e":"ab","t":"2026-11-25 10:00:00.250"}`), recv, nil)
	if err != nil || !got[0].Time.Equal(time.Date(2026, 11, 25, 10, 0, 0, 25e7, time.UTC)) {
		t.Fatalf("layout: %+v %v", got, err)
	}
	p3, _ := NewParser(FormatJSON, &reader.JSONMapping{EPC: "e", Time: "t", TimeFormat: "unix_s"})
	got, err = p3.Parse([]byte(`{"e":"ab","t":1764064800.5}`), recv, nil)
	if err != nil || !got[0].Time.Equal(time.Unix(1764064800, 5e8)) {
		t.Fatalf("unix_s: %+v %v", got, err)
	}
}

func TestNewParserConfigErrors(t *testing.T) {
	cases := []struct {
		format string
		m      *reader.JSONMapping
		want   string
	}{
		{"", nil, "format: missing"},
		{"llrp", nil, `unknown "llrp"`},
		{FormatImpinj, &reader.JSONMapping{EPC: "x"}, "only used with format json"},
		{FormatJSON, &reader.JSONMapping{Antenna: "a"}, "mapping.epc: missing"},
		{FormatJSON, &reader.JSONMapping{EPC: "a..b"}, "empty segment"},
		{FormatJSON, &reader.JSONMapping{EPC: "tag", Antenna: "tag.port"}, "cannot be inside another"},
		{FormatJSON, &reader.JSONMapping{EPC: "e", RSSIUnit: "mw"}, "rssi_unit"},
		{FormatJSON, &reader.JSONMapping{EPC: "e", EPCEncoding: "ascii"}, "epc_encoding"},
		{FormatJSON, &reader.JSONMapping{EPC: "e", TimeFormat: "epoch"}, "time_format"},
	}
	for _, c := range cases {
		_, err := NewParser(c.format, c.m)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewParser(%q, %+v) = %v, want ErrConfig containing %q", c.format, c.m, err, c.want)
		}
	}
}

func TestParseISOTime(t *testing.T) {
	good := map[string]time.Time{
		"2026-11-25T10:00:00Z":               time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		"2026-11-25T10:00:00.123+0000":       time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC),
		"2026-11-25T11:30:00.123456+01:30":   time.Date(2026, 11, 25, 10, 0, 0, 123456e3, time.UTC),
		"2021-02-02T18:39:34.385793625Z":     time.Date(2021, 2, 2, 18, 39, 34, 385793625, time.UTC),
		"2021-02-02T18:39:34.3857936259999Z": time.Date(2021, 2, 2, 18, 39, 34, 385793625, time.UTC),
		"2024-02-29T00:00:00-05":             time.Date(2024, 2, 29, 5, 0, 0, 0, time.UTC),
		"2026-11-25 10:00:00z":               time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	}
	for in, want := range good {
		got, err := parseISOTime([]byte(in))
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseISOTime(%q) = %v, %v; want %v", in, got, err, want)
		}
		if std, err := time.Parse(time.RFC3339Nano, in); err == nil && !std.Equal(got) {
			t.Errorf("parseISOTime(%q) = %v, time.Parse says %v", in, got, std)
		}
	}
	for _, in := range []string{"", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25T10:00:00.Z", "2026-13-25T10:00:00Z",
		"2023-02-29T10:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:00:60Z", "2026-11-25T10:00:00+2400",
		"2026-11-25T10:00:00+01:0", "2026-11-25T10:00:00Zjunk", "2026-11-25T10:00:00 +0000", "２026-11-25T10:00:00Z"} {
		if got, err := parseISOTime([]byte(in)); err == nil {
			t.Errorf("parseISOTime(%q) = %v, want an error", in, got)
		}
	}
}
