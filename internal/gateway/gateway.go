// Package gateway wires the stages into the running daemon: it starts the
// reader sources, owns the edge engine in a single goroutine, commits the
// engine's events (and the edge state they change) to the buffer, runs the
// Kafka forwarder and serves health, readiness and metrics over HTTP.
//
// Acknowledgements travel with the data: a source's Deliver returns only after
// the events its reads caused are committed to the buffer, and the buffer
// deletes an event only after Kafka acknowledged it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/uplink"
)

// ErrStopped is returned by Deliver once the gateway shuts down.
var ErrStopped = errors.New("gateway stopped")

// tickEvery is how often the owner asks the engine for timeouts.
const tickEvery = 200 * time.Millisecond

// Stop bounds (docs/install.md "Stopping"). StopTimeout bounds Run's whole
// stop after its context ended, below systemd's TimeoutStopSec=30s;
// CommitGrace is how long a refused commit is still retried once the stop
// began. Events not committed by then were never acknowledged to a reader
// (their Deliver returns the error), so a reader that can redeliver (MQTT
// QoS 1) sends their reads again after the restart.
const (
	StopTimeout = 20 * time.Second
	CommitGrace = 3 * time.Second
)

// ReasonEPCTooLong is the rfidgw_reads_ignored_total reason of reads whose
// EPC is longer than reader.MaxEPCHex.
const ReasonEPCTooLong = "epc_too_long"

// statePrefix prefixes edge state keys in the buffer's state bucket.
const statePrefix = "rack/"

// minTurn is the least time between two batches the owner takes. Reads
// arriving meanwhile wait (at most this long) and go into the next batch,
// so at any read rate a source delivers, and reads its connection, at most
// about 1/minTurn times a second: one system call and one hand-off for
// many reports instead of one per report. It adds at most minTurn to a
// read's way to Kafka.
const minTurn = 5 * time.Millisecond

// maxPendingReads bounds the reads waiting for the owner; a Deliver that
// would go beyond it waits until the owner took the pending batch
// (back-pressure: the source stops reading its connection).
const maxPendingReads = 16384

// batch collects the reads of every Deliver call between two turns of
// the owner: sources append to the open batch and wait on its done; the
// owner takes the whole batch at once, feeds it to the engine, commits
// once and closes done. One hand-off per owner turn, not per report.
type batch struct {
	reads []reader.Read
	taken chan struct{} // closed when the owner took the batch (room for the next)
	done  chan struct{} // closed when err is set: the batch's events are committed
	err   error
}

func newBatch(reads []reader.Read) *batch {
	return &batch{reads: reads[:0], taken: make(chan struct{}), done: make(chan struct{})}
}

// Gateway is the running daemon.
type Gateway struct {
	log *slog.Logger

	mu      sync.Mutex // guards cfg and sources during reload
	cfg     *config.Config
	sources map[string]*runningSource

	engine *edge.Engine
	filter *edge.ReadFilter // owner goroutine only
	// filtered counts reads dropped by the filter per reader: the
	// rfidgw_reads_ignored_total{reason="filter"} counter and a number for
	// the zone page. The owner goroutine uses filtered; filteredN (under
	// filteredMu) shares the numbers with the page.
	filtered   map[string]filterCount
	filteredMu sync.Mutex
	filteredN  map[string]*atomic.Uint64
	queue      *buffer.Queue
	fwd        *uplink.Forwarder
	rec        *edge.Recorder

	pendMu  sync.Mutex
	pend    *batch        // the open batch sources append to
	wake    chan struct{} // tells the owner a batch waits
	reloads chan reloadReq
	srcCtx  context.Context // parent of every source, also those a reload starts
	// commitCtx ends CommitGrace after the stop began: commits give up then.
	commitCtx    context.Context
	cancelCommit context.CancelFunc

	page *pageState

	// clock: with a file reader the engine's clock follows the reads.
	clockMu      sync.Mutex
	virtual      bool
	maxReadAhead time.Duration
	lastRead     time.Time
	lastWall     time.Time
	// Live clock (liveNow): the engine runs on the monotonic clock since
	// clockBase, so a step or slew of the wall clock changes no decision.
	// clockOff is the wall clock minus that (owner only, see checkClock);
	// reads are moved into the engine's frame by it and events out of it.
	clockBase time.Time
	clockOff  time.Duration
	wall      func() time.Time // the wall clock without monotonic reading; tests step it

	lastLongEPCLog time.Time // owner only
	readersMu      sync.Mutex
	readersUp      map[string]bool                   // copy for status/http
	antennasOff    map[string]map[int]bool           // reader -> antennas it reports disconnected
	antennaReads   map[antennaKey]prometheus.Counter // owner goroutine only

	started    atomic.Bool
	progress   atomic.Int64 // unix nanos of the owner's last loop
	aliveAfter time.Duration
	pause      chan chan struct{} // tests: stall the owner until the channel is closed
	commitErr  atomic.Pointer[string]
	// commitSince is when (unix ns) the commit being retried first failed,
	// 0 when commits succeed; Alive fails once it is commitStuckAfter old.
	commitSince      atomic.Int64
	commitStuckAfter time.Duration

	extraHandlers map[string]http.Handler
	evCounters    map[edge.EventType]prometheus.Counter // owner goroutine only

	version     string
	buildCommit string
	m           *metrics.Metrics

	remote    *remoteconfig.Manager // nil when remote_config is off
	remoteReg *prometheus.Registry  // its metrics
	running   chan struct{}         // closed once Run started the readers

	wg sync.WaitGroup
}

// Handle adds an HTTP handler served next to /healthz, /readyz and /metrics
// (e.g. the zone page). Call before Handler.
func (g *Gateway) Handle(path string, h http.Handler) {
	if g.extraHandlers == nil {
		g.extraHandlers = map[string]http.Handler{}
	}
	g.extraHandlers[path] = h
}

// Options are what New needs besides the config.
type Options struct {
	Log     *slog.Logger // nil: slog.Default()
	Version string       // reported in status messages and rfidgw_build_info; "" = "dev"
	Commit  string       // rfidgw_build_info's commit label; "" = "unknown"
	// Metrics receives every stage's metrics and is served on /metrics;
	// nil gives the gateway a fresh one.
	Metrics *metrics.Metrics
}

// New opens the buffer, restores edge state and prepares the stages. Nothing
// runs until Run.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Commit == "" {
		opts.Commit = "unknown"
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	g := &Gateway{
		version:      opts.Version,
		buildCommit:  opts.Commit,
		m:            opts.Metrics,
		log:          log,
		cfg:          cfg,
		sources:      map[string]*runningSource{},
		pend:         newBatch(nil),
		wake:         make(chan struct{}, 1),
		reloads:      make(chan reloadReq),
		readersUp:    map[string]bool{},
		antennasOff:  map[string]map[int]bool{},
		antennaReads: map[antennaKey]prometheus.Counter{},
		aliveAfter:   5 * time.Second,
		// A commit the buffer refuses this long counts as a stall: the
		// watchdog stops pinging and systemd restarts the daemon.
		commitStuckAfter: 60 * time.Second,
		page:             newPageState(),
		pause:            make(chan chan struct{}),
		running:          make(chan struct{}),
		evCounters:       map[edge.EventType]prometheus.Counter{},
	}
	g.commitCtx, g.cancelCommit = context.WithCancel(context.Background())
	g.clockBase = time.Now()
	g.wall = func() time.Time { return time.Now().Round(0) }
	for _, r := range cfg.Readers {
		if r.IsRecorded() {
			g.virtual = true
			continue
		}
		for _, id := range r.ReaderIDs() {
			g.readersUp[id] = false // until its source says it is online
		}
	}
	g.initMetrics(cfg)
	ecfg := cfg.EdgeConfig()
	ecfg.Logger = log
	if !g.virtual {
		// Live readers: a reader clock far ahead must not age every other tag.
		ecfg.MaxReadAhead = 2 * time.Second
	}
	g.maxReadAhead = ecfg.MaxReadAhead
	eng, err := edge.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	eng.SetStatsSink(g.m.Edge())
	g.engine = eng
	if g.filter, err = edge.NewReadFilter(ecfg); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	q, err := buffer.Open(cfg.Gateway.DataDir, buffer.Options{
		Gateway:     cfg.Gateway.ID,
		MaxBytes:    int64(cfg.Buffer.MaxBytes),
		MinFreeDisk: int64(cfg.Buffer.MinFreeDisk),
		OnFull:      cfg.Buffer.OnFull,
		Log:         log,
		Metrics:     g.m,
	})
	if err != nil {
		return nil, fmt.Errorf("buffer in %s: %w", cfg.Gateway.DataDir, err)
	}
	g.queue = q
	restored := 0
	if err := q.LoadState(func(k, v []byte) {
		if epc, ok := strings.CutPrefix(string(k), statePrefix); ok {
			eng.Restore(epc, string(v))
			restored++
		}
	}); err != nil {
		q.Close()
		return nil, fmt.Errorf("loading edge state: %w", err)
	}
	if restored > 0 {
		log.Info("edge state restored", "tags", restored)
	}
	ucfg, err := UplinkConfig(cfg)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	ucfg.Metrics = g.m
	fwd, err := uplink.NewForwarder(ucfg, cfg.Gateway.ID, q, log)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("uplink: %w", err)
	}
	g.fwd = fwd
	fwd.SetStatusFunc(g.status)
	if cfg.Record.Path != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Record.Path), 0o750); err != nil {
			q.Close()
			return nil, fmt.Errorf("record.path: %w", err)
		}
		rec, err := edge.NewRecorder(cfg.Record.Path, int64(cfg.Record.MaxBytes), edge.RecordLogger(log))
		if err != nil {
			q.Close()
			return nil, fmt.Errorf("record.path: %w", err)
		}
		g.rec = rec
	}
	return g, nil
}

// UplinkConfig maps the config file's uplink section to the forwarder's config.
func UplinkConfig(cfg *config.Config) (uplink.Config, error) {
	k := cfg.Uplink.Kafka
	props, err := uplink.FlattenProperties(k.Librdkafka)
	if err != nil {
		return uplink.Config{}, fmt.Errorf("uplink.kafka.librdkafka: %w", err)
	}
	var enc *epcis.Encoder
	if k.EPCISTopic != "" {
		if enc, err = epcis.NewEncoder(cfg.EPCISConfig()); err != nil {
			return uplink.Config{}, fmt.Errorf("uplink.epcis: %w", err)
		}
	}
	return uplink.Config{
		Brokers:          k.Brokers,
		Topic:            k.Topic,
		StatusTopic:      k.StatusTopic,
		EPCISTopic:       k.EPCISTopic,
		EPCIS:            enc,
		Librdkafka:       props,
		SASLPasswordFile: k.SASLPasswordFile,
		MaxInFlight:      k.MaxInFlight,
		Heartbeat:        k.Heartbeat,
	}, nil
}

// Queue exposes the buffer (for the HTTP API and tests).
func (g *Gateway) Queue() *buffer.Queue { return g.queue }

// Run starts every stage and blocks until ctx ends; then it stops the
// sources, lets the owner commit what it holds, stops the forwarder (which
// waits for in-flight deliveries) and closes the buffer.
func (g *Gateway) Run(ctx context.Context) error {
	ownerCtx, stopOwner := context.WithCancel(context.Background())
	defer stopOwner()
	fwdCtx, stopFwd := context.WithCancel(context.Background())
	defer stopFwd()

	g.progress.Store(time.Now().UnixNano())
	ownerDone := make(chan struct{})
	go func() {
		defer close(ownerDone)
		g.own(ownerCtx)
	}()
	fwdDone := make(chan error, 1)
	go func() { fwdDone <- g.fwd.Run(fwdCtx) }()

	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	g.mu.Lock()
	g.srcCtx = srcCtx
	for i := range g.cfg.Readers {
		if err := g.startSource(srcCtx, g.cfg.Readers[i]); err != nil {
			g.log.Error("reader not started", "reader", g.cfg.Readers[i].ID, "err", err)
		}
	}
	g.mu.Unlock()
	g.started.Store(true)
	close(g.running)
	g.log.Info("gateway running", "gateway", g.cfg.Gateway.ID, "readers", len(g.cfg.Readers),
		"zones", len(g.cfg.Zones), "data_dir", g.cfg.Gateway.DataDir, "clock", map[bool]string{true: "reads", false: "wall"}[g.virtual])

	<-ctx.Done()
	g.log.Info("gateway stopping", "bound", StopTimeout)
	g.started.Store(false)
	// The stop is bounded at every step: a commit the buffer refuses is
	// retried for CommitGrace more (so a source waiting in Deliver gets its
	// answer), and a step that still does not finish by StopTimeout is left
	// behind, logged, so systemd never has to SIGKILL the daemon. Nothing
	// acknowledged is lost either way: acknowledged reads have committed
	// events, and committed events are on disk.
	stopBy := time.Now().Add(StopTimeout)
	grace := time.AfterFunc(CommitGrace, g.cancelCommit)
	defer grace.Stop()
	stopSources()
	sourcesDone := make(chan struct{})
	go func() {
		g.wg.Wait() // sources returned: no Deliver is pending any more
		close(sourcesDone)
	}()
	clean := g.waitStop("readers", sourcesDone, stopBy)
	stopOwner()
	clean = g.waitStop("edge engine", ownerDone, stopBy) && clean
	stopFwd()
	var err error
	fwdStopped := make(chan struct{})
	go func() {
		err = <-fwdDone
		close(fwdStopped)
	}()
	clean = g.waitStop("uplink", fwdStopped, stopBy) && clean
	if !clean {
		// A stage still runs and may use the buffer: leave the file to
		// bbolt's crash safety rather than close it under that stage.
		g.log.Error("gateway stopped without closing the buffer (a stage did not stop in time); committed events are safe on disk")
		return errors.New("gateway: stop not clean within " + StopTimeout.String())
	}
	if cerr := g.queue.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if g.rec != nil {
		g.rec.Close()
	}
	g.log.Info("gateway stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// waitStop waits for done until stopBy; it logs and returns false if the
// stage named what is still running then.
func (g *Gateway) waitStop(what string, done <-chan struct{}, stopBy time.Time) bool {
	t := time.NewTimer(time.Until(stopBy))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		g.log.Error("stop: "+what+" did not stop in time; going on without it", "bound", StopTimeout)
		return false
	}
}

// Deliver implements reader.Sink: it returns once the events the reads caused
// are durable in the buffer. The reads are copied into the owner's next
// batch, so the caller may reuse the slice as soon as Deliver returns (also
// on an error: then the reads count as not taken, although the owner may
// still commit them).
func (g *Gateway) Deliver(ctx context.Context, reads []reader.Read) error {
	if len(reads) == 0 {
		return nil
	}
	var b *batch
	for {
		g.pendMu.Lock()
		b = g.pend
		if len(b.reads) == 0 || len(b.reads)+len(reads) <= maxPendingReads {
			b.reads = append(b.reads, reads...)
			g.pendMu.Unlock()
			break
		}
		g.pendMu.Unlock()
		select {
		case <-b.taken:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case g.wake <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take swaps the open batch for an empty one (reusing spare's memory) and
// returns it, or nil when no reads wait.
func (g *Gateway) take(spare *batch) *batch {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	b := g.pend
	if len(b.reads) == 0 {
		return nil
	}
	g.pend = spare
	close(b.taken)
	return b
}

// now is the engine's clock.
func (g *Gateway) now() time.Time {
	g.clockMu.Lock()
	defer g.clockMu.Unlock()
	return g.nowLocked()
}

func (g *Gateway) nowLocked() time.Time {
	if !g.virtual {
		return g.liveNow()
	}
	wall := time.Now()
	if g.lastRead.IsZero() {
		return wall
	}
	// While a file plays, its reads are the clock. The wall clock takes
	// over only once the player has been quiet for virtualIdle (the file
	// ended or has a gap): a stall of the player (back-pressure, a slow
	// disk) must not run the clock ahead of the reads, or the next reads
	// would count as late (edge.LateSlack) and a crossing in them be lost.
	idle := wall.Sub(g.lastWall) // monotonic: Sub of two time.Now()
	if idle < virtualIdle {
		return g.lastRead
	}
	return g.lastRead.Add(idle - virtualIdle)
}

// virtualIdle is how long a reads file may pause before the wall clock moves
// the engine's clock on (departures after the file ended come this much later
// in wall time; their event times do not change).
const virtualIdle = 5 * time.Second

// liveNow is the engine's clock with live readers: the wall clock when the
// gateway started plus the monotonic time since.
func (g *Gateway) liveNow() time.Time {
	return g.clockBase.Round(0).Add(time.Since(g.clockBase))
}

// clockStepLog is the wall-clock step that is logged and counted.
const clockStepLog = time.Second

// checkClock updates clockOff, the wall clock minus the engine's clock,
// and logs and counts a step of clockStepLog or more. Owner only.
func (g *Gateway) checkClock() {
	if g.virtual {
		return
	}
	off := g.wall().Sub(g.liveNow()).Truncate(time.Millisecond) // slew noise below 1 ms is ignored
	if d := off - g.clockOff; d >= clockStepLog || d <= -clockStepLog {
		g.m.ClockSteps.Inc()
		g.log.Warn("wall clock stepped; movement decisions keep the monotonic clock, event times follow the new wall clock",
			"step", d.Round(time.Millisecond), "wall_minus_engine", off.Round(time.Millisecond))
	}
	g.clockOff = off
}

// toEngine moves a read's time from the wall clock into the engine's frame.
func (g *Gateway) toEngine(r *reader.Read) {
	if g.clockOff != 0 && !r.Time.IsZero() {
		r.Time = r.Time.Add(-g.clockOff)
	}
}

// toWall moves event times from the engine's frame back to the wall clock.
func (g *Gateway) toWall(events []edge.Event) {
	if g.clockOff == 0 {
		return
	}
	for i := range events {
		e := &events[i]
		e.Time = e.Time.Add(g.clockOff)
		if e.Evidence != nil {
			ev := *e.Evidence // the engine may share it
			ev.FirstSeen, ev.LastSeen = ev.FirstSeen.Add(g.clockOff), ev.LastSeen.Add(g.clockOff)
			e.Evidence = &ev
		}
	}
}

// own is the single goroutine that drives the engine.
func (g *Gateway) own(ctx context.Context) {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	snap := time.NewTicker(snapEvery)
	defer snap.Stop()
	var (
		events   []edge.Event
		spare    []reader.Read // the reads array of the last batch, for the next
		lastTurn time.Time
	)
	for {
		g.progress.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			// Sources are stopped before the owner, so nothing is waiting.
			if b := g.take(newBatch(nil)); b != nil {
				b.err = ErrStopped
				close(b.done)
			}
			return
		case req := <-g.reloads:
			req.done <- g.applyReload(req.cfg)
		case until := <-g.pause:
			<-until
		case <-snap.C:
			if g.page.watched() {
				g.snapshotForPage(g.now())
			}
		case <-g.wake:
			if wait := minTurn - time.Since(lastTurn); wait > 0 {
				time.Sleep(wait)
			}
			lastTurn = time.Now()
			b := g.take(newBatch(spare))
			if b == nil {
				continue
			}
			events = events[:0]
			g.checkClock()
			if g.page.watched() {
				g.page.stats.Observe(b.reads)
			}
			for i := range b.reads {
				events = g.process(events, &b.reads[i])
			}
			events = g.engine.Tick(events, g.now())
			b.err = g.commit(ctx, events)
			close(b.done)
			clear(b.reads) // drop the EPC strings for the GC
			spare = b.reads
		case <-tick.C:
			g.checkClock()
			events = g.engine.Tick(events[:0], g.now())
			if len(events) > 0 || g.hasStateChanges() {
				g.commit(ctx, events)
			}
		}
	}
}

// eventsTotal is rfidgw_events_total of type t, looked up once per type
// (owner goroutine only).
func (g *Gateway) eventsTotal(t edge.EventType) prometheus.Counter {
	c, ok := g.evCounters[t]
	if !ok {
		c = g.m.EventsTotal.WithLabelValues(string(t))
		g.evCounters[t] = c
	}
	return c
}

func (g *Gateway) hasStateChanges() bool { return g.engine.PendingStateChanges() > 0 }

// filterCount is what Gateway.filtered keeps per reader.
type filterCount struct {
	prom prometheus.Counter
	n    *atomic.Uint64
}

// FilteredReads returns, per reader, the reads the read filter dropped
// since start.
func (g *Gateway) FilteredReads() map[string]uint64 {
	g.filteredMu.Lock()
	defer g.filteredMu.Unlock()
	out := make(map[string]uint64, len(g.filteredN))
	for id, n := range g.filteredN {
		out[id] = n.Load()
	}
	return out
}

// process feeds one read to the engine, keeping the clock, the reader
// states and the recording up to date.
func (g *Gateway) process(events []edge.Event, r *reader.Read) []edge.Event {
	if len(r.EPC) > reader.MaxEPCHex {
		// One bound for every source, checked where reads come in: an EPC
		// the buffer could not store as state must never reach the engine.
		g.m.ReadsIgnoredTotal.WithLabelValues(r.Reader, ReasonEPCTooLong).Inc()
		if now := time.Now(); now.Sub(g.lastLongEPCLog) >= time.Minute {
			g.lastLongEPCLog = now
			g.log.Warn("read ignored: EPC too long", "reader", r.Reader, "epc_digits", len(r.EPC), "max", reader.MaxEPCHex, "epc_start", r.EPC[:32])
		}
		return events
	}
	if !g.virtual && g.clockOff != 0 {
		rr := *r // the source's slice is not ours to change
		g.toEngine(&rr)
		r = &rr
	}
	if g.virtual && r.Time.After(g.lastRead) {
		g.clockMu.Lock()
		g.lastRead, g.lastWall = r.Time, time.Now()
		g.clockMu.Unlock()
	}
	if r.IsStatus() {
		up := r.Status == reader.StatusOnline
		g.readersMu.Lock()
		was, known := g.readersUp[r.Reader]
		if r.Antenna > 0 { // one antenna's connection, not the reader's
			if g.antennasOff[r.Reader] == nil {
				g.antennasOff[r.Reader] = map[int]bool{}
			}
			if !up && len(g.antennasOff[r.Reader]) < 64 {
				g.antennasOff[r.Reader][r.Antenna] = true
			} else {
				delete(g.antennasOff[r.Reader], r.Antenna)
			}
		} else {
			g.readersUp[r.Reader] = up
			if up {
				delete(g.antennasOff, r.Reader) // the source reports bad antennas again
			}
		}
		g.readersMu.Unlock()
		if r.Antenna == 0 && (!known || was != up) && g.fwd != nil {
			// Reader state changes go to the status topic at once (the
			// hub's /gateways shows readers offline; docs/events.md).
			s := g.status()
			s.Kind = uplink.StatusReader
			g.fwd.PublishStatus(s)
		}
	}
	if !r.IsStatus() {
		g.countAntennaRead(r)
	}
	if g.rec != nil {
		if err := g.rec.Write(r); err != nil {
			g.log.Warn("recording reads failed", "err", err)
		}
	}
	// Foreign tags (filter: and zones' accept/ignore) stop here; recorded
	// above, so replay can re-judge them with other patterns.
	if !g.filter.Allows(r) {
		c, ok := g.filtered[r.Reader]
		if !ok {
			c = filterCount{g.m.ReadsIgnoredTotal.WithLabelValues(r.Reader, edge.ReasonFilter), &atomic.Uint64{}}
			if g.filtered == nil {
				g.filtered = map[string]filterCount{}
			}
			g.filtered[r.Reader] = c
			g.filteredMu.Lock()
			if g.filteredN == nil {
				g.filteredN = map[string]*atomic.Uint64{}
			}
			g.filteredN[r.Reader] = c.n
			g.filteredMu.Unlock()
		}
		c.prom.Inc()
		c.n.Add(1)
		return events
	}
	return g.engine.Process(events, r)
}

// antennaKey names one reader antenna for rfidgw_antenna_reads_total.
type antennaKey struct {
	reader  string
	antenna int
}

// maxAntennaSeries bounds rfidgw_antenna_reads_total: antennas and reader
// ids come from outside (payloads, learned MQTT topics); past the bound the
// reads are counted under antenna="other" of their reader.
const maxAntennaSeries = 4096

// countAntennaRead counts r in rfidgw_antenna_reads_total (the dashboard's
// reads per antenna: a flat antenna while its neighbours read is a cable or
// antenna fault). The child counters are cached: no label lookup per read.
func (g *Gateway) countAntennaRead(r *reader.Read) {
	k := antennaKey{r.Reader, r.Antenna}
	c, ok := g.antennaReads[k]
	if !ok {
		label := strconv.Itoa(r.Antenna)
		if len(g.antennaReads) >= maxAntennaSeries {
			k.antenna, label = -1, "other"
			if c, ok = g.antennaReads[k]; ok {
				c.Inc()
				return
			}
		}
		c = g.m.AntennaReads.WithLabelValues(r.Reader, label)
		g.antennaReads[k] = c
	}
	c.Inc()
}

// commit makes events and the edge state they changed durable, retrying
// until it succeeds: the engine already moved on, so these events exist only
// here until the buffer has them. Readers wait meanwhile (back-pressure).
func (g *Gateway) commit(ctx context.Context, events []edge.Event) error {
	g.toWall(events)
	changes := g.engine.TakeStateChanges(nil)
	state := make([]buffer.StateChange, len(changes))
	for i, c := range changes {
		state[i].Key = []byte(statePrefix + c.EPC)
		if c.Rack != "" {
			state[i].Value = []byte(c.Rack)
		}
	}
	bo := backoff.Backoff{Min: 50 * time.Millisecond, Max: 6400 * time.Millisecond}
	for {
		err := g.queue.Append(g.commitCtx, events, state)
		if errors.Is(err, buffer.ErrInvalid) && len(state) > 0 {
			// The buffer can never store one of these (nothing from a
			// reader can cause it: EPCs are bounded at the door). Keep the
			// events; the tags' rack state is rebuilt from the next reads.
			g.log.Error("edge state dropped: the buffer cannot store it", "tags", len(state), "err", err)
			state = nil
			continue
		}
		if errors.Is(err, buffer.ErrInvalid) {
			// Retrying cannot help and would stall every reader: drop them,
			// loudly. Their reads are acknowledged, so they are not sent
			// again only to be refused again.
			g.log.Error("events dropped: the buffer cannot store them", "events", len(events), "err", err)
			g.commitSince.Store(0)
			return nil
		}
		if err == nil {
			g.commitSince.Store(0)
			if g.commitErr.Load() != nil {
				g.log.Info("buffer accepts events again")
				g.commitErr.Store(nil)
			}
			for i := range events {
				g.eventsTotal(events[i].Type).Inc()
			}
			g.page.recordEvents(events, g.queue.EpochOf)
			return nil
		}
		if errors.Is(err, buffer.ErrFull) {
			// reject_new: the buffer gave these events seqs and recorded them
			// as lost in a gap event (it logged and counted them). Retrying
			// would lose them again under new seqs and stall every reader;
			// the edge state still has to be kept, so commit it alone.
			if len(state) > 0 {
				if serr := g.queue.Append(context.Background(), nil, state); serr != nil {
					g.log.Error("edge state not saved while the buffer is full", "tags", len(state), "err", serr)
				}
			}
			return nil
		}
		msg := err.Error()
		if prev := g.commitErr.Load(); prev == nil || *prev != msg {
			g.log.Error("cannot commit events to the buffer; holding them and retrying", "events", len(events), "err", err)
		}
		g.commitErr.Store(&msg)
		g.commitSince.CompareAndSwap(0, time.Now().UnixNano())
		g.progress.Store(time.Now().UnixNano())
		wait := bo.Next()
		select {
		case <-time.After(wait):
		case <-g.commitCtx.Done():
			// Stopping, and the buffer refused these events for CommitGrace:
			// they exist nowhere else, but their reads were not acknowledged
			// (the sources get this error), so a reader that redelivers
			// sends them again after the restart.
			g.log.Error("events lost at shutdown: the buffer refused them; their reads were not acknowledged", "events", len(events), "err", err)
			return err
		}
	}
}

// Ready reports nil when the pipeline runs: buffer writable and not losing
// events to a full disk (buffer.ErrDiskFull: the filesystem is at
// min_free_disk and on_full drops or refuses events), owner moving. A buffer
// at max_bytes during an uplink outage stays ready: the uplink state, the lag
// and the gap events say that one.
func (g *Gateway) Ready() error {
	if !g.started.Load() {
		return errors.New("starting")
	}
	if err := g.queue.Ready(); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	if p := g.commitErr.Load(); p != nil {
		return fmt.Errorf("buffer refuses events: %s", *p)
	}
	return g.Alive()
}

// Alive reports nil while the edge loop goes round (it ticks every 200 ms
// even when idle) and commits succeed; an error when the loop is stuck, or
// when the buffer has refused a commit for commitStuckAfter (60 s). The systemd watchdog pings only while Alive is nil.
func (g *Gateway) Alive() error {
	if since := g.commitSince.Load(); since != 0 {
		if age := time.Since(time.Unix(0, since)); age > g.commitStuckAfter {
			msg := "unknown error"
			if p := g.commitErr.Load(); p != nil {
				msg = *p
			}
			return fmt.Errorf("the buffer has refused commits for %s: %s", age.Round(100*time.Millisecond), msg)
		}
	}
	if age := time.Since(time.Unix(0, g.progress.Load())); age > g.aliveAfter {
		return fmt.Errorf("edge loop stuck for %s", age.Round(100*time.Millisecond))
	}
	return nil
}

// StatusLine is the one-line state for systemd's STATUS=.
func (g *Gateway) StatusLine() string {
	up, all := 0, 0
	for _, ok := range g.ReadersOnline() {
		all++
		if ok {
			up++
		}
	}
	st := g.queue.Stats()
	kafka := "kafka down"
	if g.fwd.Connected() {
		kafka = "kafka ok"
	}
	readers := fmt.Sprintf("readers %d/%d online", up, all)
	if all == 0 && g.virtual {
		readers = "playing a reads file"
	}
	line := fmt.Sprintf("%s, buffer %d events, lag %s, %s", readers, st.Events, st.OldestAge.Round(time.Second), kafka)
	if err := g.Ready(); err != nil {
		line += ", NOT READY: " + err.Error()
	}
	return line
}

// LastProgress is when the owner loop last went round (for the watchdog).
func (g *Gateway) LastProgress() time.Time { return time.Unix(0, g.progress.Load()) }

// AntennasOff returns, per reader, the antennas it reports disconnected.
func (g *Gateway) AntennasOff() map[string]map[int]bool {
	g.readersMu.Lock()
	defer g.readersMu.Unlock()
	out := make(map[string]map[int]bool, len(g.antennasOff))
	for id, m := range g.antennasOff {
		if len(m) > 0 {
			out[id] = maps.Clone(m)
		}
	}
	return out
}

// ReadersOnline returns each reader's last known state.
func (g *Gateway) ReadersOnline() map[string]bool {
	g.readersMu.Lock()
	defer g.readersMu.Unlock()
	out := make(map[string]bool, len(g.readersUp))
	for k, v := range g.readersUp {
		out[k] = v
	}
	return out
}

func (g *Gateway) status() uplink.GatewayStatus {
	st := g.queue.Stats()
	readers := map[string]string{}
	for id, up := range g.ReadersOnline() {
		readers[id] = uplink.ReaderOffline
		if up {
			readers[id] = uplink.ReaderOnline
		}
	}
	return uplink.GatewayStatus{
		Readers:      readers,
		BufferEvents: int64(st.Events),
		BufferBytes:  st.Bytes,
		LagSeconds:   st.OldestAge.Seconds(),
		Version:      g.version,
		LastSeq:      st.LastSeq,
		OldestSeq:    st.OldestSeq,
		Config:       g.configStatus(),
	}
}

// Metrics is the Metrics the gateway writes to and serves on /metrics.
func (g *Gateway) Metrics() *metrics.Metrics { return g.m }

func (g *Gateway) configStatus() *uplink.ConfigStatus {
	if g.remote == nil {
		return nil
	}
	s := g.remote.Status()
	return &s
}

// initMetrics creates every labelled series (docs/install.md lists them) at zero, so
// /metrics lists them from the start (a dashboard can tell "no reads yet"
// from "metric missing").
func (g *Gateway) initMetrics(cfg *config.Config) {
	for _, r := range cfg.Readers {
		for _, id := range r.ReaderIDs() {
			g.m.ReadsTotal.WithLabelValues(id)
			g.m.ReaderConnected.WithLabelValues(id)
			for _, reason := range []string{edge.ReasonNoZone, edge.ReasonWeak, edge.ReasonNoEPC, edge.ReasonBadTime, ReasonEPCTooLong} {
				g.m.ReadsIgnoredTotal.WithLabelValues(id, reason)
			}
		}
	}
	for _, t := range []edge.EventType{edge.Inward, edge.Outward, edge.RackMove, edge.RackDepart, edge.Gap} {
		g.m.EventsTotal.WithLabelValues(string(t))
	}
	for _, k := range []string{"delivery", "fatal", "produce"} {
		g.m.UplinkErrors.WithLabelValues(k)
	}
}
