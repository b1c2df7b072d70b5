package zonepage

import (
	"log/slog"
	"time"
)

// Options tune the handler; zero values take the defaults below.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Interval is the minimum time between two Model snapshots and between
	// two stream messages to one client. Default 500ms.
	Interval time.Duration
	// MaxTagsPerZone caps the tags sent per zone (strongest RSSI first);
	// the rest are counted in "more". Default 25.
	MaxTagsPerZone int
	// MaxTags caps the tags sent in one answer over all zones. Default 600.
	MaxTags int
	// MaxEvents is the number of recent events asked of the Model and the
	// largest ?limit. Default 100.
	MaxEvents int
	// MaxStreams bounds concurrent /api/stream clients; more get 503.
	// Default 32.
	MaxStreams int
	// TagLookupsPerSec bounds Model.Tag calls per second in total (cache
	// misses); more get 429. Default 10.
	TagLookupsPerSec int
	// Done, when closed, ends every open stream (e.g. the daemon's context's
	// Done channel), since http.Server.Shutdown does not end them itself.
	Done <-chan struct{}
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	if o.MaxTagsPerZone <= 0 {
		o.MaxTagsPerZone = 25
	}
	if o.MaxTags <= 0 {
		o.MaxTags = 600
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 100
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 32
	}
	if o.TagLookupsPerSec <= 0 {
		o.TagLookupsPerSec = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
