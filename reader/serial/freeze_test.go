package serial_test

import (
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/serial"
)

// TestFreezeEveryProtocol: a module that hangs with its port open (serialsim
// Freeze) is offline after its protocol's freeze_after, and online and
// reading again once it thaws, for thingmagic (heartbeats stop), r2000
// (rounds go unanswered) and ascii (no line; only with freeze_after set).
// Before the hang, a quiet but healthy module stays online.
func TestFreezeEveryProtocol(t *testing.T) {
	for _, c := range []struct {
		protocol string
		freeze   time.Duration
	}{
		{serial.ProtocolThingMagic, 600 * time.Millisecond},
		{serial.ProtocolR2000, 600 * time.Millisecond},
		{serial.ProtocolASCII, 600 * time.Millisecond},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, c.protocol)
			sim.SetTiming(100*time.Millisecond, 30*time.Millisecond)
			hs := start(t, sim, reader.Config{Settings: &serial.Settings{Protocol: c.protocol, FreezeAfter: c.freeze}})
			hs.expectStatus(reader.StatusOnline)
			hs.waitReading()
			if c.protocol == serial.ProtocolASCII {
				// A line now and then keeps an ascii module alive.
				for i := 0; i < 4; i++ {
					hs.feed(epc1, 1, -50)
					hs.expectTag(epc1, 1, -50)
					time.Sleep(c.freeze / 3)
				}
			} else {
				hs.expectNothing(2 * c.freeze) // heartbeats / answered rounds keep it up
			}
			sim.Freeze(true)
			frozeAt := time.Now()
			hs.expectStatus(reader.StatusOffline)
			if d := time.Since(frozeAt); d < c.freeze/2 {
				t.Fatalf("offline %v after the freeze, want about freeze_after %v", d, c.freeze)
			}
			hs.expectNothing(300 * time.Millisecond) // reopening fails quietly while frozen
			sim.Freeze(false)
			if c.protocol == serial.ProtocolASCII {
				// Back only with its first line, which is not lost.
				hs.expectNothing(300 * time.Millisecond)
				hs.feed(epc2, 2, -55)
				hs.expectStatus(reader.StatusOnline)
				hs.expectTag(epc2, 2, -55)
				return
			}
			hs.expectStatus(reader.StatusOnline)
			hs.waitReading()
			hs.feed(epc2, 2, -55)
			hs.expectTag(epc2, 2, -55)
		})
	}
}
