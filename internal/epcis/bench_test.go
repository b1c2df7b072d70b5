package epcis

import "testing"

// The uplink's cost per record with the EPCIS topic on: read the rfidgw
// event back, map it, hash it, write the JSON-LD.
// go test -run '^$' -bench . -benchmem ./internal/epcis/
func BenchmarkEventToEPCIS(b *testing.B) {
	enc := testEncoder(b)
	raw := testEvents()[0].AppendJSON(nil)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEvent(raw)
		if err != nil {
			b.Fatal(err)
		}
		if dst, _, err = enc.AppendJSON(dst[:0], &e); err != nil {
			b.Fatal(err)
		}
	}
}
