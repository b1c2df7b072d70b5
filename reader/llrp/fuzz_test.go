package llrp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the framer and the decoders. They must
// never panic, and whatever decodes cleanly must survive a round trip.
// Seeds: testdata/fuzz/FuzzDecode (golden messages and captured reports).
func FuzzDecode(f *testing.F) {
	for _, g := range golden {
		f.Add(AppendMessage(nil, Version101, g.id, g.msg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFramer(bytes.NewReader(data))
		for {
			h, body, err := fr.ReadMessage()
			if err != nil {
				return
			}
			if h.Type == MsgROAccessReport {
				tags, err := DecodeROAccessReport(nil, body)
				var re *ReportError
				if err != nil && !errors.As(err, &re) {
					t.Fatalf("report error of type %T: %v", err, err)
				}
				for _, tr := range tags {
					if tr.EPC == "" {
						t.Fatal("report without EPC returned")
					}
				}
				if err == nil {
					checkReportRoundTrip(t, tags)
				}
				continue
			}
			m, err := DecodeMessage(h, body)
			if err != nil {
				continue
			}
			// Re-encoding a decoded message and decoding it again is stable.
			wire := AppendMessage(nil, h.Version, h.ID, m)
			h2, err := DecodeHeader(wire)
			if err != nil {
				t.Fatalf("re-encoded %v has a bad header: %v", h.Type, err)
			}
			m2, err := DecodeMessage(h2, wire[HeaderLen:])
			if err != nil {
				t.Fatalf("re-encoded %v does not decode: %v", h.Type, err)
			}
			if !reflect.DeepEqual(normalize(m), normalize(m2)) {
				t.Fatalf("%v changed in a round trip:\n%+v\n%+v", h.Type, m, m2)
			}
		}
	})
}

func checkReportRoundTrip(t *testing.T, tags []TagReport) {
	var wire []byte
	for i := range tags {
		wire = tags[i].Append(wire)
	}
	again, err := DecodeROAccessReport(nil, wire)
	if err != nil {
		t.Fatalf("re-encoded report does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, tags) {
		t.Fatalf("report changed in a round trip:\n%+v\n%+v", tags, again)
	}
}

// normalize hides what the encoders legitimately canonicalise: an empty
// antenna list is sent as [0] (all antennas), and a PeriodicTriggerValue is
// sent only with a periodic start trigger.
func normalize(m Message) Message {
	if a, ok := m.(*AddROSpec); ok {
		r := a.ROSpec
		if len(r.Antennas) == 0 {
			r.Antennas = []uint16{0}
		}
		if r.StartTrigger != StartPeriodic {
			r.PeriodicOffsetMS, r.PeriodicPeriodMS = 0, 0
		}
		return &AddROSpec{ROSpec: r}
	}
	return m
}
