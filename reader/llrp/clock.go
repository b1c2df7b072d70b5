package llrp

import (
	"log/slog"
	"time"
)

// maxClockSkew is how far a reader's UTC clock may be from the gateway's
// before its timestamps are corrected.
const maxClockSkew = 2 * time.Second

// readClock turns reader timestamps into gateway time. One per connection:
// a reconnect may mean a rebooted reader (new uptime origin) or a fixed clock.
//
// The offset estimate is the minimum over all reports of (receive time -
// reader time). Network and queueing delay only ever add to that difference,
// so the minimum converges on the true offset plus the smallest delay, and a
// report that sat in the reader's buffer cannot skew later ones.
type readClock struct {
	log    *slog.Logger
	logged *bool // shared by the connections of one Source: log the offset once

	utcCorrecting bool
	utcOffset     time.Duration
	upSet         bool
	upOffset      time.Duration // gateway time - uptime
}

// fromUTC converts a reader UTC timestamp (µs) received at recv.
func (c *readClock) fromUTC(us uint64, recv time.Time) time.Time {
	rt := time.UnixMicro(int64(us)).UTC()
	d := recv.Sub(rt)
	if !c.utcCorrecting {
		if d <= maxClockSkew && d >= -maxClockSkew {
			return rt
		}
		c.utcCorrecting = true
		c.utcOffset = d
		if c.logged != nil && !*c.logged {
			*c.logged = true
			c.log.Warn("reader clock is off; correcting its timestamps to the gateway clock",
				"offset", d.Round(time.Millisecond), "reader_time", rt, "gateway_time", recv)
		}
	} else if d < c.utcOffset {
		c.utcOffset = d
	}
	return rt.Add(c.utcOffset)
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
