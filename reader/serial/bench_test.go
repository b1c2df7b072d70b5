package serial

import (
	"errors"
	"testing"
)

// Decoder benchmarks: frames decoded (and parsed into a Tag) per second,
// fed in 64-byte pieces as a USB-serial adapter delivers them. The ratio
// metric compares with what a 921,600 baud 8N1 line can carry (92,160
// bytes/s) in frames of the same size; the goal is more than 100.

const benchFrames = 1000

func lineRate(frameLen int) float64 { return 921600.0 / 10 / float64(frameLen) }

func report(b *testing.B, frames int, frameLen int) {
	fps := float64(frames) / b.Elapsed().Seconds()
	b.ReportMetric(fps, "frames/s")
	b.ReportMetric(fps/lineRate(frameLen), "x921k6")
	b.ReportMetric(float64(frameLen), "B/frame")
}

func benchStream(frame []byte) []byte {
	s := make([]byte, 0, len(frame)*benchFrames)
	for i := 0; i < benchFrames; i++ {
		s = append(s, frame...)
	}
	return s
}

func BenchmarkDecodeThingMagic(b *testing.B) {
	frame := EncodeTMTag(h(b, "E2003098881900722140369E"), 1, -60, 915250, 295)
	stream := benchStream(frame)
	d := NewThingMagicDecoder()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for off := 0; off < len(stream); off += 64 {
			d.Feed(stream[off:min(off+64, len(stream))])
			for {
				f, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				rec, err := ParseThingMagicRecord(f)
				if err != nil || rec.Kind != TMTag {
					b.Fatal(rec, err)
				}
				n++
			}
		}
	}
	report(b, n, len(frame))
}

func BenchmarkDecodeR2000(b *testing.B) {
	frame := h(b, "A0 13 01 89 1D 30 00 E2 00 30 98 88 19 00 72 21 40 36 9E 50 34")
	stream := benchStream(frame)
	d := NewR2000Decoder()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for off := 0; off < len(stream); off += 64 {
			d.Feed(stream[off:min(off+64, len(stream))])
			for {
				f, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				rec, err := ParseR2000Inventory(f)
				if err != nil || rec.Kind != R2000Tag {
					b.Fatal(rec, err)
				}
				n++
			}
		}
	}
	report(b, n, len(frame))
}

func benchASCII(b *testing.B, pattern, line string) {
	stream := benchStream([]byte(line))
	d, err := NewASCIIDecoder(pattern)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for off := 0; off < len(stream); off += 64 {
			d.Feed(stream[off:min(off+64, len(stream))])
			for {
				_, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
	}
	report(b, n, len(line))
}

// A bare EPC per line takes the fast path; a line with antenna and RSSI
// goes through the regular expression.
func BenchmarkDecodeASCIIPlain(b *testing.B) {
	benchASCII(b, "", "E2003098881900722140369E\r\n")
}

func BenchmarkDecodeASCIIFields(b *testing.B) {
	benchASCII(b, "", "E2003098881900722140369E,2,-61.5\r\n")
}

func BenchmarkDecodeASCIICustom(b *testing.B) {
	benchASCII(b, `^Tag:(?P<epc>[0-9A-F ]+), Disc:.*Ant:(?P<antenna0>\d+)`,
		"Tag:1115 F268 81C3 C012, Disc:2003/01/21 09:00:51, Last:2003/01/21 09:00:51, Count:4, Ant:0\r\n")
}
