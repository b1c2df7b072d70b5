package gs1

import "testing"

// go test -run '^$' -bench . -benchmem ./internal/gs1/
func BenchmarkDecodeSGTIN96(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(sgtin96); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGIAI202(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(giai202); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeForeign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Decode(foreign)
	}
}

// The steady state of the read path: a filter of URI patterns over tags it
// has seen before (one cached verdict per EPC).
func BenchmarkFilterAllowsCached(b *testing.B) {
	f, err := NewFilter([]string{"urn:epc:id:giai:9521141.*", "sgtin"}, []string{"raw"})
	if err != nil {
		b.Fatal(err)
	}
	tags := []string{sgtin96, giai96, giai202, sscc96, foreign}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.Allows(tags[i%len(tags)])
		i++
	}
}

// A filter seeing a new EPC every time: decode plus patterns.
func BenchmarkFilterAllowsUncached(b *testing.B) {
	f, _ := NewFilter([]string{"urn:epc:id:giai:9521141.*", "sgtin"}, []string{"raw"})
	b.ReportAllocs()
	for b.Loop() {
		f.eval(giai96)
	}
}
