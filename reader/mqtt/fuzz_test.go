package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// fuzzParse checks what must hold for any payload: no panic; every read
// has an upper-case hex EPC, a UTC time and a sane RSSI; an error is a
// *PayloadError wrapping ErrBadPayload; and a payload accepted without
// error is a valid JSON stream (checked against encoding/json).
func fuzzParse(t *testing.T, p *Parser, payload []byte) {
	reads, err := p.Parse(payload, recv, nil)
	for _, r := range reads {
		if _, nerr := reader.NormalizeEPC(r.EPC); nerr != nil || r.EPC != string(bytes.ToUpper([]byte(r.EPC))) {
			t.Fatalf("read with bad EPC %q from %q", r.EPC, payload)
		}
		if r.Time.IsZero() || r.Time.Location() != time.UTC {
			t.Fatalf("read time %v not UTC from %q", r.Time, payload)
		}
		if r.RSSI < -200 || r.RSSI > 50 || r.Antenna < 0 {
			t.Fatalf("read %+v out of range from %q", r, payload)
		}
	}
	if err != nil {
		var pe *PayloadError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadPayload) || pe.Bad < 1 {
			t.Fatalf("error %v (%T) is not a *PayloadError wrapping ErrBadPayload", err, err)
		}
		return
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	for {
		var v any
		if derr := dec.Decode(&v); derr == io.EOF {
			break
		} else if derr != nil {
			t.Fatalf("Parse accepted %q but encoding/json says: %v", payload, derr)
		}
		switch v.(type) {
		case map[string]any, []any:
		default:
			t.Fatalf("Parse accepted a top-level %T in %q", v, payload)
		}
	}
}

func FuzzImpinj(f *testing.F) {
	for _, s := range []string{impinjFull, impinjWebhookArray, impinjStatus, impinjBase64, impinjFull + "\n" + impinjBase64,
		`{"eventType":"tagInventory","tagInventoryEvent":{"epcHex":"A\u0042","antennaPort":1e0,"peakRssiCdbm":-4050.5}}`,
		`[]`, ``, `{"tagInventoryEvent":null}`, `{"timestamp":"2021-02-02T18:39:34Z","tagInventoryEvent":{"epc":"ftqQOAUQAnEAAsCu"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) { fuzzParse(t, &impinjParser, payload) })
}

func FuzzZebra(f *testing.F) {
	for _, s := range []string{zebraSingle, zebraHeartbeat, "[" + zebraSingle + "," + zebraSingle + "]", zebraSingle + zebraSingle,
		`{"type":"CUSTOM","timestamp":"2026-11-25T03:00:00.123-0700","data":{"idHex":"AB12","antenna":4,"peakRssi":-70}}`,
		`{"type":"SIMPLE","data":{"idHex":"ab","format":"tid"}}`, `{"data":{"idHex":"\ud83d\ude00"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) { fuzzParse(t, &zebraParser, payload) })
}

func FuzzJSON(f *testing.F) {
	p, err := NewParser(FormatJSON, &reader.JSONMapping{EPC: "tag.epc", Antenna: "tag.ant", RSSI: "rssi", RSSIUnit: "cdbm",
		Time: "ts", TimeFormat: "unix_ms", Reader: "src.id"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"tag":{"epc":"e28011606000020d8f3a1b2c","ant":3},"rssi":-5250,"ts":1764064800123,"src":{"id":"dock-1"}}`,
		`[{"tag":{"epc":"AB"}},{"tag":{"epc":"CD","ant":null}}]`,
		`{"tag":{"epc":"AB"}}{"tag":{"epc":"CD"}}` + "\n",
		`{"ts":"1764064800123","tag":{"epc":"AB"}}`, `{"tag":[{"epc":"AB"}]}`, `{"tag":{"epc":"AB"},"x":[[[[{}]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) { fuzzParse(t, p, payload) })
}
