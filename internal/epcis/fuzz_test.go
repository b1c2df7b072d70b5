package epcis

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzEncodeEvent: any bytes either fail ParseEvent with ErrEvent, or give
// an event whose EPCIS form (if it has one) is JSON whose eventID is the hash
// of that JSON; never a panic.
func FuzzEncodeEvent(f *testing.F) {
	for _, e := range testEvents() {
		f.Add(e.AppendJSON(nil))
	}
	f.Add([]byte(`{"gateway":"g","type":"inward","epc":"zz","time":"2026-01-01T00:00:00Z","zone":"gate-a"}`))
	f.Add([]byte(`{"gateway":"g","type":"gap","time":"2026-01-01T00:00:00Z"}`))
	enc := testEncoder(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvent(b)
		if err != nil {
			if !errors.Is(err, ErrEvent) {
				t.Fatalf("ParseEvent: %v wraps no ErrEvent", err)
			}
			return
		}
		out, ok, err := enc.AppendJSON(nil, &e)
		if err != nil || !ok {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("EPCIS output is not JSON: %v\n%s", err, out)
		}
		if id, _, err := HashEvent(m, map[string]string{Prefix: Namespace}); err != nil || id != m["eventID"] {
			t.Fatalf("eventID %v, hash %s %v", m["eventID"], id, err)
		}
	})
}
