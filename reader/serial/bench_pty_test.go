package serial_test

import (
	"testing"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/serial"
)

// Through the whole Source: pseudo-terminal, go.bug.st/serial, decoder,
// batching and Deliver. A pty is not baud-limited, so this is what the
// gateway's reading side can absorb per reader.
func benchSourcePty(b *testing.B, protocol string, frame []byte) {
	sim := newSim(b, protocol)
	hs := start(b, sim, reader.Config{Settings: &serial.Settings{Protocol: protocol}})
	hs.expectStatus(reader.StatusOnline)
	hs.waitReading()
	blob := serial.BenchStream(frame)
	b.SetBytes(int64(len(blob)))
	n := 0
	for b.Loop() {
		if err := sim.WriteRaw(blob); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < serial.BenchFrames; i++ {
			if r := hs.next("benchmark read"); r.IsStatus() {
				b.Fatalf("status during benchmark: %+v", r)
			}
			n++
		}
	}
	serial.ReportRate(b, n, len(frame))
}

func BenchmarkSourcePtyThingMagic(b *testing.B) {
	benchSourcePty(b, serial.ProtocolThingMagic, serial.EncodeTMTag(serial.Hex(b, "E2003098881900722140369E"), 1, -60, 915250, 295))
}

func BenchmarkSourcePtyASCII(b *testing.B) {
	benchSourcePty(b, serial.ProtocolASCII, []byte("E2003098881900722140369E,1,-60\r\n"))
}
