// Package file owns the `file` reader type: it plays a reads JSON-lines file
// (docs/zones.md, "The reads format") at the recorded pace, faster, or as fast as possible. It is
// the first source of the gateway and stays useful for demos and for testing
// an install without readers. Read times are kept as recorded: the engine's
// clock follows them (see the gateway's clock in internal/gateway).
package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// maxBatch bounds the reads handed to the sink at once.
const maxBatch = 512

// Source plays one reads file.
type Source struct {
	m   reader.Metrics
	cfg reader.Config
	set *Settings
	log *slog.Logger

	// sleep waits until t or ctx ends; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
	// Done is closed when the file has been played to its end (not with loop).
	Done chan struct{}
}

// New checks that the file can be opened and returns its Source. env gives
// the logger and the metrics (both may be zero).
func New(cfg reader.Config, env reader.Env) (*Source, error) {
	log := env.Logger()
	set, ok := cfg.Settings.(*Settings)
	if !ok {
		return nil, fmt.Errorf("reader %q: settings are not file settings", cfg.ID)
	}
	f, err := os.Open(set.Path)
	if err != nil {
		return nil, keyed.Tag(fmt.Errorf("reader %q: %w", cfg.ID, err), "path", "%v", err)
	}
	f.Close()
	return &Source{m: env.Meter(), cfg: cfg, set: set, log: log.With("reader", cfg.ID), sleep: sleepCtx, Done: make(chan struct{})}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Check opens the file and counts its lines.
func (s *Source) Check(ctx context.Context) (string, error) {
	f, err := os.Open(s.set.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	n, bad := 0, 0
	err = reader.ScanReads(f, func(_ int, _ reader.Read, perr error) error {
		n++
		if perr != nil {
			bad++
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.set.Path, err)
	}
	if n > 0 && bad == n {
		return "", fmt.Errorf("%s: none of %d lines is a read", s.set.Path, n)
	}
	return fmt.Sprintf("reads file %s: %d lines (%d unreadable), speed %g", s.set.Path, n, bad, s.set.Speed), nil
}

// Run plays the file (again and again with loop: true, shifting times so
// they keep growing) and returns at its end or when ctx ends.
func (s *Source) Run(ctx context.Context, sink reader.Sink) error {
	defer func() {
		select {
		case <-s.Done:
		default:
			close(s.Done)
		}
	}()
	// A reads file is "connected" while it plays, for every reader id it
	// provides, like a live reader's rfidgw_reader_connected.
	for _, id := range s.cfg.ReaderIDs() {
		s.m.Connected(id).Set(1)
		defer s.m.Connected(id).Set(0)
	}
	var shift time.Duration
	for {
		first, last, err := s.play(ctx, sink, shift)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		if !s.set.Loop || first.IsZero() {
			s.log.Info("reads file played to its end", "path", s.set.Path)
			return nil
		}
		shift += last.Sub(first) + time.Second
	}
}

// play sends every read of the file once, times shifted by shift, paced by
// the configured speed. It returns the first and last recorded time.
func (s *Source) play(ctx context.Context, sink reader.Sink, shift time.Duration) (first, last time.Time, err error) {
	f, err := os.Open(s.set.Path)
	if err != nil {
		return first, last, fmt.Errorf("reader %q: %w", s.cfg.ID, err)
	}
	defer f.Close()
	batch := make([]reader.Read, 0, maxBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := sink.Deliver(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	var wallStart time.Time
	counters := map[string]reader.Counter{} // no label lookup per read
	err = reader.ScanReads(f, func(line int, r reader.Read, perr error) error {
		if perr != nil {
			s.m.FrameErrors(s.cfg.ID).Inc()
			s.log.Warn("skipping a line that is not a read", "path", s.set.Path, "line", line, "err", perr)
			return nil
		}
		if first.IsZero() {
			first, wallStart = r.Time, time.Now()
		}
		last = r.Time
		if s.set.Speed > 0 {
			due := wallStart.Add(time.Duration(float64(r.Time.Sub(first)) / s.set.Speed))
			if wait := time.Until(due); wait > time.Millisecond {
				if err := flush(); err != nil {
					return err
				}
				if err := s.sleep(ctx, wait); err != nil {
					return err
				}
			}
		}
		r.Time = r.Time.Add(shift)
		if !r.IsStatus() {
			c, ok := counters[r.Reader]
			if !ok {
				c = s.m.Reads(r.Reader)
				counters[r.Reader] = c
			}
			c.Inc()
		}
		batch = append(batch, r)
		if len(batch) == maxBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return first, last, err
		}
		return first, last, fmt.Errorf("reader %q: %s: %w", s.cfg.ID, s.set.Path, err)
	}
	return first, last, flush()
}
