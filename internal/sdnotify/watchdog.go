package sdnotify

import (
	"context"
	"log/slog"
	"time"
)

// Watchdog sends WATCHDOG=1 keep-alives to systemd only while the pipeline
// is healthy. A stuck edge or buffer loop makes healthy() return an error;
// the pings then stop, and after WatchdogSec= systemd kills the daemon with
// SIGABRT (with the unit's GOTRACEBACK=crash, Go dumps every goroutine into
// the journal and dies by the signal) and Restart=on-failure starts it again.
type Watchdog struct {
	interval time.Duration
	healthy  func() error
	status   func() string
	log      *slog.Logger
}

// NewWatchdog returns a watchdog for the given systemd timeout (from
// WatchdogInterval). healthy reports whether the pipeline makes progress
// (nil = yes); status returns the one-line STATUS= text (readers online,
// buffer depth, lag). Either may be nil: a nil healthy counts as always
// healthy, a nil status sends no STATUS= while healthy.
func NewWatchdog(interval time.Duration, healthy func() error, status func() string) *Watchdog {
	return &Watchdog{interval: interval, healthy: healthy, status: status, log: slog.Default()}
}

// WithLogger sets the logger for stall/resume and send-failure lines
// (default slog.Default()) and returns w.
func (w *Watchdog) WithLogger(log *slog.Logger) *Watchdog {
	if log != nil {
		w.log = log
	}
	return w
}

// Run checks health at once and then every interval/2 (systemd's advice: a
// ping per half timeout survives one late tick) until ctx is done. Healthy:
// it sends "WATCHDOG=1" and "STATUS=<status()>" in one datagram; stalled: only
// "STATUS=stalled: <reason>", so `systemctl status` says why it is about to be
// restarted. It returns at once when interval <= 0 (watchdog not enabled).
//
// healthy and status run on Run's goroutine; if healthy blocks (a deadlocked
// pipeline holding its lock), the pings stop, which is the point.
func (w *Watchdog) Run(ctx context.Context) {
	if w.interval <= 0 {
		return
	}
	tick := w.interval / 2
	if tick <= 0 {
		tick = w.interval
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var stalled, sendFailing bool
	for {
		msg, err := w.message()
		switch {
		case err != nil && !stalled:
			stalled = true
			w.log.Warn("watchdog pings paused: pipeline stalled; systemd restarts rfidgw if it stays so for WatchdogSec",
				"reason", err.Error(), "watchdog", w.interval.String())
		case err == nil && stalled:
			stalled = false
			w.log.Info("watchdog pings resumed: pipeline moving again")
		}
		// Log a send failure once per run of failures, not every tick.
		if _, serr := Notify(msg); serr != nil && !sendFailing {
			sendFailing = true
			w.log.Error("watchdog: cannot notify systemd", "err", serr)
		} else if serr == nil && sendFailing {
			sendFailing = false
			w.log.Info("watchdog: notifying systemd works again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// message builds the datagram for one tick and returns the health error.
func (w *Watchdog) message() (string, error) {
	var err error
	if w.healthy != nil {
		err = w.healthy()
	}
	if err != nil {
		return statusAssignment("stalled: " + err.Error()), err
	}
	msg := "WATCHDOG=1"
	if w.status != nil {
		msg += "\n" + statusAssignment(w.status())
	}
	return msg, nil
}
