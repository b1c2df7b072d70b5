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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/uplink"
)

// ErrStopped is returned by Deliver once the gateway shuts down.
var ErrStopped = errors.New("gateway stopped")

// tickEvery is how often the owner asks the engine for timeouts.
const tickEvery = 200 * time.Millisecond

// statePrefix prefixes edge state keys in the buffer's state bucket.
const statePrefix = "rack/"

// batch is one Deliver call waiting for the owner.
type batch struct {
	reads []reader.Read
	done  chan error
}

// Gateway is the running daemon.
type Gateway struct {
	log *slog.Logger

	mu      sync.Mutex // guards cfg and sources during reload
	cfg     *config.Config
	sources map[string]*runningSource

	engine *edge.Engine
	queue  *buffer.Queue
	fwd    *uplink.Forwarder
	rec    *edge.Recorder

	in      chan *batch
	reloads chan reloadReq
	srcCtx  context.Context // parent of every source, also those a reload starts

	page *pageState

	// clock: with a file reader the engine's clock follows the reads.
	clockMu      sync.Mutex
	virtual      bool
	maxReadAhead time.Duration
	lastRead     time.Time
	lastWall     time.Time
	readersMu    sync.Mutex
	readersUp    map[string]bool         // copy for status/http
	antennasOff  map[string]map[int]bool // reader -> antennas it reports disconnected

	started    atomic.Bool
	progress   atomic.Int64 // unix nanos of the owner's last loop
	aliveAfter time.Duration
	pause      chan chan struct{} // tests: stall the owner until the channel is closed
	commitErr  atomic.Pointer[string]

	extraHandlers map[string]http.Handler

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

// New opens the buffer, restores edge state and prepares the stages. Nothing
// runs until Run.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{
		log:         log,
		cfg:         cfg,
		sources:     map[string]*runningSource{},
		in:          make(chan *batch, 64),
		reloads:     make(chan reloadReq),
		readersUp:   map[string]bool{},
		antennasOff: map[string]map[int]bool{},
		aliveAfter:  5 * time.Second,
		page:        newPageState(),
		pause:       make(chan chan struct{}),
	}
	for _, r := range cfg.Readers {
		if r.IsRecorded() {
			g.virtual = true
			continue
		}
		for _, id := range r.ReaderIDs() {
			g.readersUp[id] = false // until its source says it is online
		}
	}
	initMetrics(cfg)
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
	g.engine = eng
	q, err := buffer.Open(cfg.Gateway.DataDir, buffer.Options{
		Gateway:     cfg.Gateway.ID,
		MaxBytes:    int64(cfg.Buffer.MaxBytes),
		MinFreeDisk: int64(cfg.Buffer.MinFreeDisk),
		OnFull:      cfg.Buffer.OnFull,
		Log:         log,
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
	return uplink.Config{
		Brokers:          k.Brokers,
		Topic:            k.Topic,
		StatusTopic:      k.StatusTopic,
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
	g.log.Info("gateway running", "gateway", g.cfg.Gateway.ID, "readers", len(g.cfg.Readers),
		"zones", len(g.cfg.Zones), "data_dir", g.cfg.Gateway.DataDir, "clock", map[bool]string{true: "reads", false: "wall"}[g.virtual])

	<-ctx.Done()
	g.log.Info("gateway stopping")
	g.started.Store(false)
	stopSources()
	g.wg.Wait() // sources returned: no Deliver is pending any more
	stopOwner()
	<-ownerDone
	stopFwd()
	err := <-fwdDone
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

// Deliver implements reader.Sink: it returns once the events the reads caused
// are durable in the buffer.
func (g *Gateway) Deliver(ctx context.Context, reads []reader.Read) error {
	if len(reads) == 0 {
		return nil
	}
	b := &batch{reads: reads, done: make(chan error, 1)}
	select {
	case g.in <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-b.done:
		return err
	case <-ctx.Done():
		// The owner still processes the batch; the reads stay valid until it
		// replies, so wait for that before the caller reuses the slice.
		<-b.done
		return ctx.Err()
	}
}

// now is the engine's clock.
func (g *Gateway) now() time.Time {
	g.clockMu.Lock()
	defer g.clockMu.Unlock()
	return g.nowLocked()
}

func (g *Gateway) nowLocked() time.Time {
	wall := time.Now()
	if !g.virtual || g.lastRead.IsZero() {
		return wall
	}
	return g.lastRead.Add(wall.Sub(g.lastWall))
}

// own is the single goroutine that drives the engine.
func (g *Gateway) own(ctx context.Context) {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	snap := time.NewTicker(snapEvery)
	defer snap.Stop()
	var (
		events  []edge.Event
		pending []*batch
	)
	reply := func(err error) {
		for _, b := range pending {
			b.done <- err
		}
		pending = pending[:0]
	}
	for {
		g.progress.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			// Sources are stopped before the owner, so nothing is waiting.
			for {
				select {
				case b := <-g.in:
					b.done <- ErrStopped
				default:
					return
				}
			}
		case req := <-g.reloads:
			req.done <- g.applyReload(req.cfg)
		case until := <-g.pause:
			<-until
		case <-snap.C:
			if g.page.watched() {
				g.snapshotForPage(g.now())
			}
		case b := <-g.in:
			pending = append(pending, b)
		drain:
			for len(pending) < 64 {
				select {
				case b := <-g.in:
					pending = append(pending, b)
				default:
					break drain
				}
			}
			events = events[:0]
			for _, b := range pending {
				g.page.stats.Observe(b.reads)
				for i := range b.reads {
					events = g.process(events, &b.reads[i])
				}
			}
			events = g.engine.Tick(events, g.now())
			reply(g.commit(ctx, events))
		case <-tick.C:
			events = g.engine.Tick(events[:0], g.now())
			if len(events) > 0 || g.hasStateChanges() {
				g.commit(ctx, events)
			}
		}
	}
}

func (g *Gateway) hasStateChanges() bool { return g.engine.PendingStateChanges() > 0 }

// process feeds one read to the engine, keeping the clock, the reader
// states and the recording up to date.
func (g *Gateway) process(events []edge.Event, r *reader.Read) []edge.Event {
	if g.virtual && r.Time.After(g.lastRead) {
		g.clockMu.Lock()
		g.lastRead, g.lastWall = r.Time, time.Now()
		g.clockMu.Unlock()
	}
	if r.IsStatus() {
		g.readersMu.Lock()
		switch {
		case r.Antenna > 0: // one antenna's connection
			if g.antennasOff[r.Reader] == nil {
				g.antennasOff[r.Reader] = map[int]bool{}
			}
			if r.Status == reader.StatusOffline && len(g.antennasOff[r.Reader]) < 64 {
				g.antennasOff[r.Reader][r.Antenna] = true
			} else {
				delete(g.antennasOff[r.Reader], r.Antenna)
			}
		default:
			g.readersUp[r.Reader] = r.Status == reader.StatusOnline
			if r.Status == reader.StatusOnline {
				delete(g.antennasOff, r.Reader) // the source reports bad antennas again
			}
		}
		g.readersMu.Unlock()
	}
	if g.rec != nil {
		if err := g.rec.Write(r); err != nil {
			g.log.Warn("recording reads failed", "err", err)
		}
	}
	return g.engine.Process(events, r)
}

// commit makes events and the edge state they changed durable, retrying
// until it succeeds: the engine already moved on, so these events exist only
// here until the buffer has them. Readers wait meanwhile (back-pressure).
func (g *Gateway) commit(ctx context.Context, events []edge.Event) error {
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
		err := g.queue.Append(context.Background(), events, state)
		if err == nil {
			if g.commitErr.Load() != nil {
				g.log.Info("buffer accepts events again")
				g.commitErr.Store(nil)
			}
			for i := range events {
				metrics.EventsTotal.WithLabelValues(string(events[i].Type)).Inc()
			}
			g.page.recordEvents(events)
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
		g.progress.Store(time.Now().UnixNano())
		wait := bo.Next()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			// Shutting down with uncommitted events: keep trying a little
			// longer, they exist nowhere else.
			if wait > time.Second {
				g.log.Error("events lost at shutdown: the buffer refused them", "events", len(events), "err", err)
				return err
			}
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
// even when idle, and keeps going while it retries a refused commit); an
// error when it is stuck. The systemd watchdog pings only while Alive is nil.
func (g *Gateway) Alive() error {
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
		Version:      Version,
	}
}

// Version is the gateway's version, set by the command at start-up.
var Version = "dev"

// initMetrics creates every labelled series of contract §7 at zero, so
// /metrics lists them from the start (a dashboard can tell "no reads yet"
// from "metric missing").
func initMetrics(cfg *config.Config) {
	for _, r := range cfg.Readers {
		for _, id := range r.ReaderIDs() {
			metrics.ReadsTotal.WithLabelValues(id)
			metrics.ReaderConnected.WithLabelValues(id)
			for _, reason := range []string{edge.ReasonNoZone, edge.ReasonWeak, edge.ReasonNoEPC, edge.ReasonBadTime} {
				metrics.ReadsIgnoredTotal.WithLabelValues(id, reason)
			}
		}
	}
	for _, t := range []edge.EventType{edge.Inward, edge.Outward, edge.RackMove, edge.RackDepart, edge.Gap} {
		metrics.EventsTotal.WithLabelValues(string(t))
	}
	for _, k := range []string{"delivery", "fatal", "produce"} {
		metrics.UplinkErrors.WithLabelValues(k)
	}
}
