package reader

import (
	"log/slog"
	"time"
)

// MaxClockSkew is how far a reader's clock may be from the gateway's before
// its timestamps are corrected to gateway time.
const MaxClockSkew = 2 * time.Second

// Clock brings one reader's UTC timestamps to gateway time. Readers with a
// clock at 2000-01-01 (no RTC battery, no NTP) or drifting by minutes would
// otherwise put reads at the wrong time, or far outside what the edge takes.
//
// The offset estimate is the minimum over all samples of (receive time -
// reader time): network and queueing delay only ever add to that
// difference, so the minimum converges on the true offset plus the
// smallest delay, and reports a reader held during a cut (arriving late in
// a burst) cannot skew it. While the estimate is within MaxClockSkew the
// reader's times are used as they are; beyond it every timestamp is moved
// by the estimate, with one warning per Clock (not per connection).
// The zero Clock works (no log, no metric). Not safe for concurrent use.
type Clock struct {
	Reader string
	Log    *slog.Logger // nil: no warning
	Offset Gauge        // reader minus gateway, seconds; nil: none

	warned bool
	has    bool
	minD   time.Duration // gateway - reader
}

// Reset forgets the estimate (a reconnected reader may have had its clock
// set); the warning is still given only once.
func (c *Clock) Reset() { c.has = false }

// Observe takes a sample: the reader said it was rt when the gateway
// received it at recv (a report, or an event such as LLRP's connection
// event).
func (c *Clock) Observe(rt, recv time.Time) {
	d := recv.Sub(rt)
	if c.has && d >= c.minD {
		return
	}
	c.has, c.minD = true, d
	if c.Offset != nil {
		c.Offset.Set(-d.Seconds())
	}
	if !c.warned && (d > MaxClockSkew || d < -MaxClockSkew) {
		c.warned = true
		if c.Log != nil {
			c.Log.Warn("reader clock is off; correcting its timestamps to the gateway clock",
				"reader_clock_minus_gateway", (-d).Round(time.Millisecond), "reader_time", rt.UTC(), "gateway_time", recv.UTC())
		}
	}
}

// Correct observes rt (received at recv) and returns it in gateway time.
func (c *Clock) Correct(rt, recv time.Time) time.Time {
	c.Observe(rt, recv)
	if c.minD <= MaxClockSkew && c.minD >= -MaxClockSkew {
		return rt
	}
	return rt.Add(c.minD)
}

// Estimate returns the reader's clock minus the gateway's, and whether
// there was a sample.
func (c *Clock) Estimate() (time.Duration, bool) { return -c.minD, c.has }
