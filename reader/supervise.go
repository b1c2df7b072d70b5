package reader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rfidgw/rfidgw/internal/backoff"
)

// Session runs one connection of a protocol: it connects, identifies the
// reader, calls link.Online once the reader delivers reads, and then works
// until the connection fails (returning why) or ctx ends. Everything around
// it (retries, backoff, status reads, metrics, logging) is Supervise's.
// A session hands its reads to link (a Sink), so a sink that refuses them
// ends Supervise instead of causing a reconnect.
type Session func(ctx context.Context, link *Link) error

// Supervisor runs the sessions of one reader connection. The fields are
// the protocol's tuning; only ID, Kind, Sink and Backoff are required.
type Supervisor struct {
	ID   string // reader id: status reads and metric labels
	Kind string // protocol name for log lines ("llrp")
	Sink Sink
	Log  *slog.Logger

	// Backoff is the wait between attempts (min, max, jitter).
	Backoff backoff.Backoff
	// GoodAfter: a connection that stayed online this long (or that
	// called link.Healthy) starts the backoff over; 0 means any
	// connection that came online.
	GoodAfter time.Duration
	// OwnStatus: the session reports reader status itself (an MQTT
	// subscription serving many reader ids), so Supervise neither
	// delivers status reads nor sets rfidgw_reader_connected.
	OwnStatus bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Metrics receives rfidgw_reader_connected and
	// rfidgw_reader_reconnects_total; nil: Discard.
	Metrics Metrics
	// Sleep waits between attempts (backoff.Sleep when nil; tests record).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Link is a session's line to its supervisor. It implements Sink.
type Link struct {
	ctx      context.Context
	s        *Supervisor
	state    *Status
	online   bool
	onlineAt time.Time
	healthy  bool
}

// Online says the reader is connected and identified: the supervisor
// delivers an "online" status read (once per change) and sets
// rfidgw_reader_connected. A non-nil error means the sink refused the
// status; return it from the session.
func (l *Link) Online() error {
	l.online, l.onlineAt = true, l.s.now()
	if err := l.s.setState(l.ctx, l.state, StatusOnline); err != nil {
		return stopRetrying{fmt.Errorf("deliver status: %w", err)}
	}
	return nil
}

// Healthy says the connection proved itself (it delivered reads), so the
// backoff starts over after it however short it was.
func (l *Link) Healthy() { l.healthy = true }

// Deliver hands reads to the sink. A refusal ends Supervise with the
// sink's error (the pipeline is shutting down); it is not a reason to
// reconnect.
func (l *Link) Deliver(ctx context.Context, reads []Read) error {
	if err := l.s.Sink.Deliver(ctx, reads); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return stopRetrying{err}
	}
	return nil
}

// StopRetrying wraps err so that Supervise returns it instead of trying
// again: for failures no reconnect can fix.
func StopRetrying(err error) error { return stopRetrying{err} }

type stopRetrying struct{ err error }

func (e stopRetrying) Error() string { return e.err.Error() }
func (e stopRetrying) Unwrap() error { return e.err }

// Supervise runs session until ctx ends: it retries with the backoff, starts
// the backoff over after a good connection, reports every change of
// connection state as a status read (the first failed attempt reports
// "offline", so the edge knows from the start), keeps
// rfidgw_reader_connected and rfidgw_reader_reconnects_total, and logs a
// failure once per distinct error (a lost connection always). It returns
// nil when ctx ends, and an error when the sink refuses reads or the
// session asked to stop (StopRetrying).
func (s *Supervisor) Supervise(ctx context.Context, session Session) error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Metrics == nil {
		s.Metrics = Discard
	}
	if !s.OwnStatus {
		connected := s.Metrics.Connected(s.ID)
		connected.Set(0)
		defer connected.Set(0)
	}
	reconnects := s.Metrics.Reconnects(s.ID)
	var state Status // what the edge was last told
	lastErr := ""
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil
		}
		if attempt > 0 {
			reconnects.Inc()
		}
		link := &Link{ctx: ctx, s: s, state: &state}
		err := session(ctx, link)
		if ctx.Err() != nil {
			return nil
		}
		var stop stopRetrying
		if errors.As(err, &stop) {
			return fmt.Errorf("%s reader %q: %w", s.Kind, s.ID, stop.err)
		}
		if err == nil {
			err = errors.New("session ended")
		}
		if link.online && (link.healthy || s.now().Sub(link.onlineAt) >= s.GoodAfter) {
			s.Backoff.Reset()
		}
		wait := s.Backoff.Next()
		switch msg := err.Error(); {
		case link.online:
			s.Log.Warn(s.Kind+" reader lost; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
			lastErr = ""
		case msg != lastErr:
			s.Log.Warn(s.Kind+" reader not available; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
			lastErr = msg
		default:
			s.Log.Debug(s.Kind+" reader still not available", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		if err := s.setState(ctx, &state, StatusOffline); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s reader %q: deliver status: %w", s.Kind, s.ID, err)
		}
		sleep := s.Sleep
		if sleep == nil {
			sleep = backoff.Sleep
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// setState tells the edge about a change of connection state.
func (s *Supervisor) setState(ctx context.Context, state *Status, st Status) error {
	if s.OwnStatus || *state == st {
		return nil
	}
	*state = st
	v := 0.0
	if st == StatusOnline {
		v = 1
	}
	s.Metrics.Connected(s.ID).Set(v)
	return s.Sink.Deliver(ctx, []Read{StatusRead(s.now(), s.ID, st)})
}

func (s *Supervisor) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
