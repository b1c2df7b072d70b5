// Package backoff owns the one retry wait of the module: exponential from
// Min to Max with optional jitter, started over by Reset after something
// worked. The reader supervisor (reader.Supervise), the uplink's retry
// pause and the gateway's commit retry use it. It is a leaf package: it
// imports nothing of the module.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// DefaultJitter is the spread every retry loop of the module uses (readers,
// uplink): ±20 %.
const DefaultJitter = 0.2

// Backoff doubles the wait after each failure, from Min up to Max. Jitter
// spreads each wait over [d(1-Jitter), d(1+Jitter)) so that gateways
// restarted together do not retry in lockstep (0 = exact waits). The zero
// value is not useful; set Min and Max. Not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	Jitter   float64

	cur time.Duration
}

// Next returns the wait before the next attempt and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(b.cur*2, b.Max)
	}
	return Jitter(b.cur, b.Jitter)
}

// Reset starts over at Min, after an attempt that worked.
func (b *Backoff) Reset() { b.cur = 0 }

// Wait sleeps Next() or until ctx ends (then it returns ctx.Err()).
func (b *Backoff) Wait(ctx context.Context) error {
	return Sleep(ctx, b.Next())
}

// Jitter spreads d over [d(1-f), d(1+f)).
func Jitter(d time.Duration, f float64) time.Duration {
	if f <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// Sleep waits d or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
