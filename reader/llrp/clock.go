package llrp

import (
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// readClock turns reader timestamps into gateway time. One per connection:
// a reconnect may mean a rebooted reader (new uptime origin) or a fixed
// clock. UTC timestamps go through the Source's reader.Clock (reset per
// connection, primed with the ConnectionAttemptEvent's timestamp, warned
// once per run); uptime is anchored here.
type readClock struct {
	utc *reader.Clock

	upSet    bool
	upOffset time.Duration // gateway time - uptime
}

// fromUTC converts a reader UTC timestamp (µs) received at recv.
func (c *readClock) fromUTC(us uint64, recv time.Time) time.Time {
	return c.utc.Correct(time.UnixMicro(int64(us)).UTC(), recv).UTC()
}

// fromUptime converts a reader uptime timestamp (µs since its boot): the
// first report anchors the reader's uptime to the gateway clock.
func (c *readClock) fromUptime(us uint64, recv time.Time) time.Time {
	up := time.Duration(us) * time.Microsecond
	d := recv.Sub(time.Unix(0, 0)) - up
	if !c.upSet || d < c.upOffset {
		c.upSet = true
		c.upOffset = d
	}
	return time.Unix(0, 0).Add(up + c.upOffset).UTC()
}

// readTime picks the best timestamp of t: last seen before first seen (it
// is the moment the read describes with N=1 reports), UTC before uptime, and
// the receive time when the reader sent none.
func (c *readClock) readTime(t *TagReport, recv time.Time) time.Time {
	switch {
	case t.Has(HasLastSeenUTC):
		return c.fromUTC(t.LastSeenUTC, recv)
	case t.Has(HasFirstSeenUTC):
		return c.fromUTC(t.FirstSeenUTC, recv)
	case t.Has(HasLastSeenUptime):
		return c.fromUptime(t.LastSeenUp, recv)
	case t.Has(HasFirstSeenUptime):
		return c.fromUptime(t.FirstSeenUp, recv)
	}
	return recv.UTC()
}
