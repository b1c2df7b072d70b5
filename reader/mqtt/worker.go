package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rfidgw/rfidgw/reader"
)

// badLogEvery limits bad-payload log lines per reader; the count in
// between goes into the next line (and always into the metric).
const badLogEvery = 10 * time.Second

// MaxLearnedReaders bounds the reader ids one source learns from topics or
// payloads (reader_from_topic): each one costs state in the gateway, metric
// series and room in the status heartbeat, and the ids come from the
// network. Reads of further ids are dropped (acked), counted in
// rfidgw_reads_ignored_total{reader=<this entry>,reason="too_many_readers"}
// and logged once a minute.
const MaxLearnedReaders = 1000

// ReasonTooManyReaders is the rfidgw_reads_ignored_total reason of reads
// of reader ids beyond MaxLearnedReaders.
const ReasonTooManyReaders = "too_many_readers"

// worker turns queued messages into reads, hands them to the sink in
// batches and acks each message after its batch was taken. It owns all
// reader status state, so it needs no locks.
type worker struct {
	s     *Source
	sink  reader.Sink
	queue <-chan item
	now   func() time.Time

	gen      uint64 // current connection generation
	brokerUp bool
	state    map[string]reader.Status // what the edge was last told per reader id
	selfDown map[string]bool          // the reader's own status topic says offline
	known    []string                 // reader ids served, in first-seen order

	batch   []reader.Read
	parsed  []reader.Read
	pending []paho.Message // to ack once batch was delivered

	readsTotal map[string]reader.Counter
	clocks     map[string]*reader.Clock // per reader id served (bounded like state)
	badLog     map[string]*rateLog
	overLimit  rateLog // log of reads refused by MaxLearnedReaders
}

func newWorker(s *Source, sink reader.Sink, queue <-chan item) *worker {
	w := &worker{
		s: s, sink: sink, queue: queue, now: time.Now,
		state:      map[string]reader.Status{},
		selfDown:   map[string]bool{},
		readsTotal: map[string]reader.Counter{},
		badLog:     map[string]*rateLog{},
		overLimit:  rateLog{every: time.Minute},
	}
	if s.set.readerFromTopic == 0 {
		w.known = []string{s.set.id}
	} else {
		w.known = append(w.known, s.set.provides...)
	}
	return w
}

func (w *worker) run(ctx context.Context) error {
	// The source is gone: its readers are no longer known to be connected
	// (the edge is not told; it is stopping or replacing this source).
	defer func() {
		for _, id := range w.known {
			w.s.m.Connected(id).Set(0)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case it := <-w.queue:
			w.handle(it)
		}
		// Take what else is waiting into the same batch.
	drain:
		for len(w.pending) < maxBatchMessages {
			select {
			case it := <-w.queue:
				w.handle(it)
			default:
				break drain
			}
		}
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
}

// flush delivers the batch and then acks its messages in arrival order.
func (w *worker) flush(ctx context.Context) error {
	if len(w.batch) > 0 {
		if err := w.sink.Deliver(ctx, w.batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: reader %s: %d reads not taken, %d messages left unacked for redelivery: %w",
				ErrSinkClosed, w.s.set.id, len(w.batch), len(w.pending), err)
		}
		for i := range w.batch {
			if r := &w.batch[i]; !r.IsStatus() {
				w.counter(r.Reader).Inc()
			}
		}
	}
	// An ack for a message of a connection that has since dropped is
	// discarded by paho; the broker sends that message again.
	for _, m := range w.pending {
		m.Ack()
	}
	clear(w.batch) // drop the strings for the GC
	w.batch = w.batch[:0]
	clear(w.pending)
	w.pending = w.pending[:0]
	return nil
}

func (w *worker) counter(id string) reader.Counter {
	c, ok := w.readsTotal[id]
	if !ok {
		c = w.s.m.Reads(id)
		w.readsTotal[id] = c
	}
	return c
}

func (w *worker) handle(it item) {
	switch it.ev {
	case evUp:
		w.up(it.gen)
	case evDown:
		if it.gen >= w.gen {
			w.brokerUp = false
			w.gen = it.gen
			for _, id := range w.known {
				w.set(id, reader.StatusOffline)
			}
		}
	case evMessage:
		w.up(it.gen) // messages may come before Run saw Connect return
		w.message(it)
	}
}

func (w *worker) up(gen uint64) {
	if gen < w.gen || (gen == w.gen && w.brokerUp) {
		return
	}
	w.gen, w.brokerUp = gen, true
	for _, id := range w.known {
		if !w.selfDown[id] {
			w.set(id, reader.StatusOnline)
		}
	}
}

// set tells the edge about a reader's state if it changed.
func (w *worker) set(id string, st reader.Status) {
	if w.state[id] == st {
		return
	}
	w.state[id] = st
	w.batch = append(w.batch, reader.StatusRead(w.now(), id, st))
	v := 0.0
	if st == reader.StatusOnline {
		v = 1
	}
	w.s.m.Connected(id).Set(v)
}

// admit reports whether reads of reader id may pass: a known id, or a new
// one while fewer than MaxLearnedReaders are known. It counts and logs (at
// a limited rate) what it refuses; n is the number of reads refused.
func (w *worker) admit(id string, n int) bool {
	if _, ok := w.state[id]; ok || len(w.known) < MaxLearnedReaders {
		return true
	}
	w.s.m.Ignored(w.s.set.id, ReasonTooManyReaders).Add(float64(n))
	if ok, since := w.overLimit.allow(w.now(), n); ok {
		w.s.log.Warn("mqtt: reads of a new reader id dropped: this source already serves the most reader ids it learns from topics (check reader_from_topic and who publishes there)",
			"reader_id", clip([]byte(id)), "limit", MaxLearnedReaders, "dropped_since_last_line", since)
	}
	return false
}

// clock is the reader.Clock of a reader id (one warning, one offset metric
// per reader).
func (w *worker) clock(id string) *reader.Clock {
	c := w.clocks[id]
	if c == nil {
		if w.clocks == nil {
			w.clocks = map[string]*reader.Clock{}
		}
		c = &reader.Clock{Reader: id, Log: w.s.log.With("reader_id", id), Offset: w.s.m.ClockOffset(id)}
		w.clocks[id] = c
	}
	return c
}

// learn adds a reader id seen in a topic or payload to those served.
func (w *worker) learn(id string) {
	if _, ok := w.state[id]; ok {
		return
	}
	w.known = append(w.known, id)
	if w.brokerUp && !w.selfDown[id] {
		w.set(id, reader.StatusOnline)
	} else {
		w.set(id, reader.StatusOffline)
	}
}

func (w *worker) message(it item) {
	m := it.msg
	w.pending = append(w.pending, m)
	topic := m.Topic()
	id := w.s.set.id
	if n := w.s.set.readerFromTopic; n > 0 {
		if l := topicLevel(topic, n); l != "" {
			id = l
		}
	}
	if w.s.set.statusTopic != "" && topicMatch(w.s.set.statusTopic, topic) {
		if w.s.set.readerFromTopic == 0 || w.admit(id, 0) {
			w.statusMessage(id, topic, m.Payload())
		}
		return
	}
	if m.Retained() {
		// A retained message comes again on every (re)subscribe: it is the
		// topic's stored last message, not a new read. (Messages queued
		// for the session arrive with retain off.)
		w.s.log.Debug("retained message on the data topic ignored", "topic", topic)
		return
	}
	var err error
	w.parsed, err = w.s.set.parser.Parse(m.Payload(), it.recv, w.parsed[:0])
	if w.s.set.readerFromTopic > 0 {
		if !w.admit(id, max(1, len(w.parsed))) {
			clear(w.parsed)
			return
		}
		w.learn(id)
	}
	for i := range w.parsed {
		r := w.parsed[i]
		if r.Reader == "" {
			r.Reader = id
		} else if w.admit(r.Reader, 1) {
			w.learn(r.Reader)
		} else {
			continue
		}
		if !w.s.set.cfg.WantsAntenna(r.Antenna) {
			continue
		}
		if !w.s.set.trustClock && !r.Time.Equal(it.recv) { // the payload had the reader's time
			r.Time = w.clock(r.Reader).Correct(r.Time, it.recv).UTC()
		}
		w.batch = append(w.batch, r)
	}
	clear(w.parsed)
	if err != nil {
		w.bad(id, topic, m.Payload(), err)
	}
}

// bad counts a payload's bad events and logs a sample at a limited rate.
func (w *worker) bad(id, topic string, payload []byte, err error) {
	n := 1
	var pe *PayloadError
	if errors.As(err, &pe) {
		n = pe.Bad
	}
	if _, ok := w.state[id]; !ok {
		id = w.s.set.id // an id not served: no series or log state of its own
	}
	w.s.m.FrameErrors(id).Add(float64(n))
	rl := w.badLog[id]
	if rl == nil {
		rl = &rateLog{every: badLogEvery}
		w.badLog[id] = rl
	}
	if ok, since := rl.allow(w.now(), n); ok {
		w.s.log.Warn("bad mqtt payload skipped (acked; see rfidgw_reader_frame_errors_total)",
			"reader_id", id, "topic", topic, "err", err, "sample", clip(payload), "bad_since_last_line", since)
	}
}

// statusMessage handles the reader's own status (will) message.
func (w *worker) statusMessage(id, topic string, payload []byte) {
	st, ok := parseStatus(payload)
	if !ok {
		w.s.log.Debug("status message not understood; ignored", "reader_id", id, "topic", topic, "payload", clip(payload))
		return
	}
	if _, seen := w.state[id]; !seen {
		w.known = append(w.known, id)
	}
	w.selfDown[id] = st == reader.StatusOffline
	if w.brokerUp {
		w.set(id, st)
	} else {
		w.set(id, reader.StatusOffline)
	}
}

// rateLog lets one line through per period and counts the rest.
type rateLog struct {
	every time.Duration
	last  time.Time
	count int
}

// allow adds n events and reports whether to log now, with the number of
// events since the last line (including these).
func (r *rateLog) allow(now time.Time, n int) (bool, int) {
	r.count += n
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		return false, 0
	}
	r.last = now
	c := r.count
	r.count = 0
	return true, c
}
