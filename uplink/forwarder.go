package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/metrics"
)

// Queue is what the forwarder consumes: the durable buffer of committed
// events, in seq order.
type Queue interface {
	// Lease returns up to max of the oldest records not yet leased, in seq
	// order; it blocks until at least one is available or ctx ends.
	Lease(ctx context.Context, max int) ([]buffer.Record, error)
	// Ack deletes delivered records; seqs may come in any order.
	Ack(seqs ...uint64) error
	// Rewind forgets all leases: the next Lease starts again at the
	// oldest unacknowledged record.
	Rewind()
}

const (
	// leaseBatch caps one Lease: big enough to amortise the buffer's
	// transaction, small enough to keep producing while reports come in.
	leaseBatch = 2000
	// ackBatch caps the delivery reports acknowledged in one Ack call.
	ackBatch = 4096
	// drainTimeout bounds the wait for outstanding reports after a failed
	// delivery before the producer is recreated instead.
	drainTimeout = 30 * time.Second
	// closeWait bounds the wait for purged messages' reports before a
	// producer is closed.
	closeWait = 5 * time.Second
	// metadataTimeoutMs bounds the topic check before producing.
	metadataTimeoutMs = 5000
	// errorLogEvery rate-limits repeated client error logs.
	errorLogEvery = 30 * time.Second
)

// Forwarder moves records from a Queue to Kafka, at least once and in order
// per key. Create it with NewForwarder and call Run once.
type Forwarder struct {
	cfg      Config
	gateway  string
	q        Queue
	log      *slog.Logger
	prodConf kafka.ConfigMap
	// timeout is the deadline for delivery reports (message.timeout.ms),
	// 0 for none; see deliveryTimeout.
	timeout time.Duration
	// start is the monotonic base of lastReport.
	start time.Time
	// lastReport is when (since start) the last delivery report came, or
	// the in-flight window last became non-empty.
	lastReport atomic.Int64

	// prod is the current producer, nil while it is being recreated. Only
	// Run's goroutine replaces it; PublishStatus reads it under prodMu.
	prodMu   sync.RWMutex
	prod     *kafka.Producer
	prodDone chan struct{} // closed when prod's event goroutine ended

	statusMu sync.Mutex
	statusFn func() GatewayStatus

	m *metrics.Metrics // Config.Metrics, or a private one nobody serves

	running   atomic.Bool
	connected atomic.Bool
	// refused is set while the brokers refuse our events for a reason a
	// person must fix (ACLs, credentials, topic): a topic check that
	// passes does not make the uplink connected then, only a delivery.
	refused   atomic.Bool
	delivered atomic.Uint64 // records acknowledged, for the backoff reset
	// stop tells the produce loop to stop at once: a delivery failed or
	// the producer failed fatally.
	stop atomic.Bool

	mu          sync.Mutex
	inflight    int   // records produced and not yet reported (and acked)
	failErr     error // first failure since the last rewind
	fatalErr    error // fatal producer error
	cancelLease context.CancelFunc
	wake        chan struct{} // signalled when inflight drops or a failure comes

	logMu   sync.Mutex
	lastLog map[string]time.Time

	// EPCIS output (nil when off); pend counts the acknowledged messages of
	// records produced as more than one (see epcis.go).
	epcis  *epcis.Encoder
	pendMu sync.Mutex
	pend   map[uint64]uint8
}

// NewForwarder checks cfg, builds the producer (which checks every
// passthrough librdkafka property) and returns a forwarder for gateway's
// events in q. It does not contact the brokers: Run does, and Check reports
// on them. log may be nil (slog.Default()).
func NewForwarder(cfg Config, gateway string, q Queue, log *slog.Logger) (*Forwarder, error) {
	if log == nil {
		log = slog.Default()
	}
	if gateway == "" {
		return nil, fmt.Errorf("%w: gateway id is empty", ErrConfig)
	}
	if q == nil {
		return nil, fmt.Errorf("%w: no queue", ErrConfig)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pc, err := producerConfig(cfg, "rfidgw-"+gateway)
	if err != nil {
		return nil, err
	}
	timeout, err := deliveryTimeout(cfg)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		cfg:      cfg,
		gateway:  gateway,
		q:        q,
		log:      log,
		prodConf: pc,
		timeout:  timeout,
		start:    time.Now(),
		wake:     make(chan struct{}, 1),
		lastLog:  map[string]time.Time{},
		pend:     map[uint64]uint8{},
		m:        cfg.Metrics,
	}
	if f.m == nil {
		f.m = metrics.New()
	}
	if cfg.EPCISTopic != "" {
		f.epcis = cfg.EPCIS
		if f.epcis == nil {
			if f.epcis, err = epcis.NewEncoder(epcis.Config{}); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
	}
	if err := f.openProducer(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return f, nil
}

// Delivered is the number of events Kafka acknowledged since the forwarder
// was created (what rfidgw_uplink_delivered_total counts).
func (f *Forwarder) Delivered() uint64 { return f.delivered.Load() }

// Connected reports whether the last delivery to Kafka (or the last topic
// check) succeeded and no broker loss was reported since.
func (f *Forwarder) Connected() bool { return f.connected.Load() }

func (f *Forwarder) setConnected(v bool) {
	f.connected.Store(v)
	if v {
		f.m.UplinkConnected.Set(1)
	} else {
		f.m.UplinkConnected.Set(0)
	}
}

// Run forwards records until ctx ends, through any outage: it never gives
// up. When ctx ends it waits up to Config.FlushTimeout for outstanding
// delivery reports, closes the producer and returns nil; records not
// reported by then stay in the buffer and go out on the next start.
// Run may be called once.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrClosed
	}
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		f.heartbeats(ctx)
	}()
	if f.timeout > 0 {
		hb.Add(1)
		go func() {
			defer hb.Done()
			f.watchReports(ctx)
		}()
	}

	// The module's one retry wait (internal/backoff); it starts over once
	// Kafka acknowledged something since the last pause.
	bo := backoff.Backoff{Min: f.cfg.RetryBackoffMin, Max: f.cfg.RetryBackoffMax, Jitter: backoff.DefaultJitter}
	deliveredBefore := f.delivered.Load()
	pause := func() {
		if d := f.delivered.Load(); d != deliveredBefore {
			bo.Reset()
			deliveredBefore = d
		}
		_ = bo.Wait(ctx)
	}
	needCheck := true
	for ctx.Err() == nil {
		if f.prod == nil {
			if err := f.openProducer(); err != nil {
				f.log.Error("uplink: cannot create the Kafka producer; retrying", "err", err)
				pause()
				continue
			}
			needCheck = true
		}
		if needCheck {
			if err := f.checkTopic(); err != nil {
				f.setConnected(false)
				f.m.UplinkErrors.WithLabelValues(errorKind(err)).Inc()
				f.logEvery("check:"+errorKind(err), slog.LevelError, "uplink: cannot produce; events stay in the buffer and are retried", "topic", f.cfg.Topic, "err", err)
				pause()
				continue
			}
			needCheck = false
		}

		f.pump(ctx)
		if ctx.Err() != nil {
			break
		}

		fatal, failure := f.failure()
		if fatal == nil {
			fatal = f.prod.GetFatalError()
		}
		gapless := false
		if fatal != nil {
			var cause error
			if cause, gapless = gaplessCause(fatal); gapless {
				// librdkafka refused to go on past a failed batch
				// (enable.gapless.guarantee): the batch's own error is
				// what to report; the producer is unusable either way.
				failure = cause
			}
		}
		switch {
		case errors.Is(fatal, errReportTimeout):
			f.logEvery("timeout", slog.LevelWarn, "uplink: no delivery report within message.timeout.ms; recreating the producer and producing again from the oldest unacknowledged event", "err", fatal)
			f.closeProducer()
		case fatal != nil && !gapless:
			f.m.UplinkErrors.WithLabelValues("fatal").Inc()
			f.log.Error("uplink: Kafka producer failed fatally (e.g. the broker lost its log); recreating it and producing again from the oldest unacknowledged event", "err", fatal)
			f.closeProducer()
		default:
			level := slog.LevelWarn
			if needsTopicCheck(failure) {
				level = slog.LevelError // needs a person: credentials, ACLs, topic
				f.refused.Store(true)
			}
			f.logEvery("fail:"+errorKind(failure), level, "uplink: delivery failed; events stay in the buffer and are produced again from the oldest unacknowledged one", "err", failure)
			if gapless {
				f.m.UplinkErrors.WithLabelValues(errorKind(failure)).Inc()
				f.setConnected(false)
				f.closeProducer()
			} else if !f.drain(ctx) && ctx.Err() == nil {
				f.log.Warn("uplink: outstanding deliveries not reported in time; recreating the producer", "wait", drainTimeout)
				f.closeProducer()
			}
			needCheck = needsTopicCheck(failure)
		}
		if ctx.Err() != nil {
			break
		}
		pause()
		f.clearPending()
		f.q.Rewind()
		f.clearFailure()
	}

	hb.Wait()
	f.shutdown()
	return nil
}

// pump leases records and produces them until ctx ends or a failure stops it.
func (f *Forwarder) pump(ctx context.Context) {
	mb := newMessageBuilder(f.cfg.Topic, f.gateway)
	if es, ok := f.q.(EpochSource); ok {
		mb.withEpochs(es)
	}
	var eb *epcisBuilder
	per := 1 // messages per record, counted in inflight
	if f.epcis != nil {
		eb, per = newEPCISBuilder(f.cfg.EPCISTopic, f.epcis), 2
	}
	minRoom := max(1, min(leaseBatch, f.cfg.MaxInFlight/4))
	for {
		f.mu.Lock()
		for f.cfg.MaxInFlight-f.inflight < minRoom && !f.stop.Load() {
			f.mu.Unlock()
			select {
			case <-f.wake:
			case <-ctx.Done():
				return
			}
			f.mu.Lock()
		}
		if f.stop.Load() || ctx.Err() != nil {
			f.mu.Unlock()
			return
		}
		room := f.cfg.MaxInFlight - f.inflight
		lctx, cancel := context.WithCancel(ctx)
		f.cancelLease = cancel
		f.mu.Unlock()

		recs, err := f.q.Lease(lctx, max(1, min(room/per, leaseBatch)))

		f.mu.Lock()
		f.cancelLease = nil
		f.mu.Unlock()
		cancel()
		if ctx.Err() != nil || f.stop.Load() {
			return // leased records are forgotten by the Rewind that follows
		}
		if err != nil {
			f.m.UplinkErrors.WithLabelValues("queue").Inc()
			f.logEvery("lease", slog.LevelError, "uplink: reading the buffer failed; retrying", "err", err)
			_ = backoff.Sleep(ctx, time.Second)
			continue
		}
		if len(recs) == 0 {
			continue
		}

		// Counted before producing so that reports never find it short;
		// budget is what is counted and not produced yet.
		budget := per * len(recs)
		f.addInflight(budget)
		for i := range recs {
			if f.stop.Load() {
				f.addInflight(-budget)
				return
			}
			msg := mb.build(&recs[i])
			var em *kafka.Message
			if eb != nil {
				var err error
				if em, err = eb.build(&recs[i], msg); err != nil {
					f.epcisSkip(&recs[i], err)
				}
				if em == nil {
					budget--
					f.addInflight(-1)
					msg.Opaque = partOpaque{seq: recs[i].Seq, parts: 1}
				} else {
					msg.Opaque = partOpaque{seq: recs[i].Seq, parts: 2}
				}
			}
			if err := f.prod.Produce(msg, nil); err != nil {
				f.addInflight(-budget)
				f.m.UplinkErrors.WithLabelValues("produce").Inc()
				f.fail(fmt.Errorf("producing event seq %d: %w", recs[i].Seq, err), false)
				return
			}
			budget--
			if em != nil {
				if err := f.prod.Produce(em, nil); err != nil {
					f.addInflight(-budget)
					f.m.UplinkErrors.WithLabelValues("produce").Inc()
					f.fail(fmt.Errorf("producing the EPCIS event of seq %d: %w", recs[i].Seq, err), false)
					return
				}
				budget--
			}
		}
	}
}

func (f *Forwarder) addInflight(n int) {
	f.mu.Lock()
	if f.inflight == 0 && n > 0 {
		f.lastReport.Store(int64(time.Since(f.start)))
	}
	f.inflight += n
	f.m.UplinkInFlight.Set(float64(f.inflight))
	f.mu.Unlock()
	if n < 0 {
		f.signal()
	}
}

func (f *Forwarder) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// fail records the first failure since the last rewind and stops producing.
func (f *Forwarder) fail(err error, fatal bool) {
	f.mu.Lock()
	if fatal && f.fatalErr == nil {
		f.fatalErr = err
	}
	if f.failErr == nil {
		f.failErr = err
	}
	f.stop.Store(true)
	if f.cancelLease != nil {
		f.cancelLease()
	}
	f.mu.Unlock()
	f.signal()
}

func (f *Forwarder) failure() (fatal, failure error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatalErr, f.failErr
}

func (f *Forwarder) clearFailure() {
	f.mu.Lock()
	f.failErr, f.fatalErr = nil, nil
	f.stop.Store(false)
	f.mu.Unlock()
}

// drain waits until every produced record was reported, purging what is
// still queued inside librdkafka so that nothing produced after the failure
// is delivered before the rewind. It returns false if ctx ended or the
// reports did not come within drainTimeout.
func (f *Forwarder) drain(ctx context.Context) bool {
	deadline := time.Now().Add(drainTimeout)
	for {
		// Purged messages fail with ErrPurgeQueue and are produced again.
		// Messages librdkafka re-queues after a lost connection need a
		// second purge, hence the loop.
		_ = f.prod.Purge(kafka.PurgeQueue | kafka.PurgeNonBlocking)
		if f.waitInflight(ctx, time.Second) {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
	}
}

// waitInflight waits up to d for inflight to reach zero.
func (f *Forwarder) waitInflight(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		f.mu.Lock()
		n := f.inflight
		f.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-f.wake:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// errReportTimeout is the failure watchReports records.
var errReportTimeout = errors.New("no delivery report")

// watchReports fails the producer as fatally broken when events are in
// flight and no delivery report came for f.timeout: Run then closes it and
// produces every unacknowledged event again with a new one. librdkafka's
// own message timeout stays infinite because it would carry on with later
// messages of the partition after the expired ones (order per EPC).
func (f *Forwarder) watchReports(ctx context.Context) {
	t := time.NewTicker(min(f.timeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		n := f.inflight
		f.mu.Unlock()
		since := time.Since(f.start) - time.Duration(f.lastReport.Load())
		if n > 0 && since > f.timeout && !f.stop.Load() {
			f.m.UplinkErrors.WithLabelValues("delivery").Inc()
			f.setConnected(false)
			f.fail(fmt.Errorf("%w for %v with %d events in flight (message.timeout.ms %d)", errReportTimeout, since.Round(time.Millisecond), n, f.timeout.Milliseconds()), true)
		}
	}
}

// openProducer creates the producer and its event and log goroutines.
func (f *Forwarder) openProducer() error {
	cm := kafka.ConfigMap{}
	for k, v := range f.prodConf {
		cm[k] = v
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return fmt.Errorf("creating Kafka producer: %w", err)
	}
	done := make(chan struct{})
	go f.serve(p, done)
	go f.forwardLogs(p.Logs())
	f.prodMu.Lock()
	f.prod, f.prodDone = p, done
	f.prodMu.Unlock()
	return nil
}

// closeProducer purges and closes the producer. Records whose reports are
// lost with it stay leased until the rewind that follows, then go out again.
func (f *Forwarder) closeProducer() {
	f.prodMu.Lock()
	p, done := f.prod, f.prodDone
	f.prod, f.prodDone = nil, nil
	f.prodMu.Unlock()
	if p == nil {
		return
	}
	_ = p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
	f.waitInflight(context.Background(), closeWait)
	p.Close()
	<-done
	f.mu.Lock()
	f.inflight = 0
	f.m.UplinkInFlight.Set(0)
	f.mu.Unlock()
}

// shutdown sends the last status, waits for outstanding reports (bounded)
// and closes the producer.
func (f *Forwarder) shutdown() {
	if f.prod == nil {
		return
	}
	if !f.Connected() {
		// Kafka is away: waiting for reports that cannot come only delays
		// the stop; whatever is in flight stays in the buffer and is sent
		// again by the next run.
		f.closeProducer()
		return
	}
	f.heartbeat(StatusShutdown)
	deadline := time.Now().Add(f.cfg.FlushTimeout)
	f.prod.Flush(int(f.cfg.FlushTimeout.Milliseconds()))
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	if !f.waitInflight(ctx, time.Until(deadline)) {
		f.mu.Lock()
		n := f.inflight
		f.mu.Unlock()
		f.log.Warn("uplink: stopping with deliveries not reported; those events stay in the buffer", "events", n)
	}
	cancel()
	f.closeProducer()
	f.setConnected(false)
}

// serve handles the producer's events until it is closed: it acknowledges
// delivered records to the queue in batches and records failures.
func (f *Forwarder) serve(p *kafka.Producer, done chan struct{}) {
	defer close(done)
	events := p.Events()
	acks := make([]uint64, 0, ackBatch)
	for ev := range events {
		reports := f.handle(ev, &acks)
	more:
		for len(acks) < ackBatch {
			select {
			case ev, ok := <-events:
				if !ok {
					break more
				}
				reports += f.handle(ev, &acks)
			default:
				break more
			}
		}
		if len(acks) > 0 {
			if err := f.q.Ack(acks...); err != nil {
				// They stay leased; the next rewind sends them again.
				f.m.UplinkErrors.WithLabelValues("queue").Inc()
				f.logEvery("ack", slog.LevelError, "uplink: acknowledging delivered events to the buffer failed; they will be sent again", "events", len(acks), "err", err)
			} else {
				f.m.UplinkDelivered.Add(float64(len(acks)))
				f.delivered.Add(uint64(len(acks)))
			}
			acks = acks[:0]
		}
		if reports > 0 {
			f.lastReport.Store(int64(time.Since(f.start)))
			// After the acks, so a rewind never re-leases a record
			// whose ack is still on its way.
			f.addInflight(-reports)
		}
	}
}

// handle processes one producer event; it returns 1 for the delivery
// report of a record, else 0.
func (f *Forwarder) handle(ev kafka.Event, acks *[]uint64) int {
	switch e := ev.(type) {
	case *kafka.Message:
		err := e.TopicPartition.Error
		seq, isRecord := e.Opaque.(uint64)
		part, isPart := e.Opaque.(partOpaque)
		if isPart {
			seq, isRecord = part.seq, true
		}
		if !isRecord {
			if err == nil {
				f.setConnected(true)
			} else {
				f.logEvery("status", slog.LevelWarn, "uplink: gateway status not delivered", "topic", f.cfg.StatusTopic, "err", err)
			}
			return 0
		}
		if err == nil {
			f.refused.Store(false)
			f.setConnected(true)
			if !isPart || f.partDone(part) {
				*acks = append(*acks, seq)
			}
			return 1
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && (kerr.Code() == kafka.ErrPurgeQueue || kerr.Code() == kafka.ErrPurgeInflight) {
			return 1 // our own purge after a failure: already handled
		}
		f.m.UplinkErrors.WithLabelValues("delivery").Inc()
		f.setConnected(false)
		fatal := errors.As(err, &kerr) && kerr.IsFatal()
		f.fail(fmt.Errorf("delivery of event seq %d to %s: %w", seq, *e.TopicPartition.Topic, classify(err)), fatal)
		return 1
	case kafka.Error:
		f.clientError(e)
	}
	return 0
}

// clientError handles an error event of the producer instance.
func (f *Forwarder) clientError(e kafka.Error) {
	switch {
	case e.IsFatal():
		f.setConnected(false)
		f.fail(fmt.Errorf("fatal producer error: %w", e), true)
	case e.Code() == kafka.ErrAllBrokersDown:
		f.setConnected(false)
		f.m.UplinkErrors.WithLabelValues("connection").Inc()
		f.logEvery("down", slog.LevelWarn, "uplink: all Kafka brokers are down; events stay in the buffer", "err", e)
	case errors.Is(classify(e), ErrAuthentication):
		f.setConnected(false)
		f.m.UplinkErrors.WithLabelValues("auth").Inc()
		f.logEvery("auth", slog.LevelError, "uplink: Kafka authentication failed (check sasl.username, the password file, TLS certificates); events stay in the buffer", "err", e)
	default:
		f.logEvery("client:"+e.Code().String(), slog.LevelWarn, "uplink: Kafka client error", "err", e)
	}
}

// forwardLogs passes librdkafka's log lines to slog until the producer closes.
func (f *Forwarder) forwardLogs(logs chan kafka.LogEvent) {
	for l := range logs {
		// Warn at most: the uplink logs what a failure means at Error.
		level := slog.LevelDebug
		if l.Level <= 4 && !(l.Tag == "CONFWARN" && strings.Contains(l.Message, "enable.gapless.guarantee")) { // syslog warning and worse; not our own experimental setting
			level = slog.LevelWarn
		}
		f.log.Log(context.Background(), level, "librdkafka: "+l.Message, "tag", l.Tag, "client", l.Name)
	}
}

// heartbeats publishes the status at start and then every Config.Heartbeat.
func (f *Forwarder) heartbeats(ctx context.Context) {
	f.heartbeat(StatusStartup)
	t := time.NewTicker(f.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.heartbeat(StatusHeartbeat)
		}
	}
}

// checkTopic asks the brokers whether the topic exists and may be used. An
// unreachable cluster is not an error here: librdkafka reconnects faster
// than our backoff, and the events wait in the buffer either way.
func (f *Forwarder) checkTopic() error {
	err := topicMetadata(f.prod, f.cfg.Topic)
	if err == nil && f.epcis != nil {
		err = topicMetadata(f.prod, f.cfg.EPCISTopic)
	}
	if errors.Is(err, ErrUnreachable) {
		f.logEvery("check", slog.LevelWarn, "uplink: Kafka not reachable yet; producing as soon as it is", "err", err)
		return nil
	}
	if err == nil && !f.refused.Load() {
		f.setConnected(true)
	}
	return err
}

// gaplessCause reports whether err is librdkafka refusing to go on past a
// failed batch (enable.gapless.guarantee), and returns the batch's own
// error then, classified, as far as the message names it.
func gaplessCause(err error) (error, bool) {
	var kerr kafka.Error
	s := err.Error()
	if !(errors.As(err, &kerr) && kerr.Code() == kafka.ErrGaplessGuarantee) && !strings.Contains(s, "gap-less") {
		return err, false
	}
	for _, c := range []kafka.ErrorCode{kafka.ErrTopicAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic, kafka.ErrSaslAuthenticationFailed, kafka.ErrMsgSizeTooLarge} {
		if strings.Contains(s, c.String()) {
			return classify(kafka.NewError(c, s, false)), true
		}
	}
	return err, true
}

// metadataClient is what the producer and the admin client share.
type metadataClient interface {
	GetMetadata(topic *string, allTopics bool, timeoutMs int) (*kafka.Metadata, error)
}

// topicMetadata checks that topic exists and is visible to us.
func topicMetadata(c metadataClient, topic string) error {
	md, err := c.GetMetadata(&topic, false, metadataTimeoutMs)
	if err != nil {
		return fmt.Errorf("metadata for topic %s: %w", topic, classify(err))
	}
	tm, ok := md.Topics[topic]
	if !ok {
		return fmt.Errorf("topic %s: %w (not in the metadata)", topic, ErrTopicMissing)
	}
	if tm.Error.Code() != kafka.ErrNoError {
		return fmt.Errorf("topic %s: %w", topic, classify(tm.Error))
	}
	if len(tm.Partitions) == 0 {
		return fmt.Errorf("topic %s: %w (no partitions)", topic, ErrTopicMissing)
	}
	return nil
}

// classify wraps a Kafka error with the sentinel that says what it means.
func classify(err error) error {
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return err
	}
	switch kerr.Code() {
	case kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic, kafka.ErrUnknownPartition:
		return fmt.Errorf("%w: %w", ErrTopicMissing, err)
	case kafka.ErrTopicAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed, kafka.ErrGroupAuthorizationFailed:
		return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
	case kafka.ErrAuthentication, kafka.ErrSaslAuthenticationFailed, kafka.ErrSsl:
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	case kafka.ErrTimedOut, kafka.ErrTransport, kafka.ErrAllBrokersDown, kafka.ErrMsgTimedOut,
		kafka.ErrResolve, kafka.ErrRequestTimedOut:
		if authMessage(err) {
			return fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if authMessage(err) {
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return err
}

// authMessage reports whether a client error's text says the broker
// refused the credentials or the TLS handshake: librdkafka reports a broker
// that drops the connection during SASL as a transport failure, but says
// "SASL authentication error" in the text.
func authMessage(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SASL authentication error") || strings.Contains(s, "SSL handshake failed") ||
		strings.Contains(s, "certificate verify failed")
}

// needsTopicCheck reports whether err says the topic or our access to it is
// gone, so that the topic is checked before producing again.
func needsTopicCheck(err error) bool {
	return errors.Is(err, ErrTopicMissing) || errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrAuthentication)
}

// errorKind is the UplinkErrors label of err.
func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrTopicMissing):
		return "topic_missing"
	case errors.Is(err, ErrNotAuthorized):
		return "not_authorized"
	case errors.Is(err, ErrAuthentication):
		return "auth"
	case errors.Is(err, ErrUnreachable):
		return "connection"
	}
	return "other"
}

// logEvery logs at most once per errorLogEvery for key: an outage must not
// flood the journal.
func (f *Forwarder) logEvery(key string, level slog.Level, msg string, args ...any) {
	now := time.Now()
	f.logMu.Lock()
	last, seen := f.lastLog[key]
	if seen && now.Sub(last) < errorLogEvery {
		f.logMu.Unlock()
		return
	}
	f.lastLog[key] = now
	f.logMu.Unlock()
	f.log.Log(context.Background(), level, msg, args...)
}
