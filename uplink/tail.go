package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/rfidgw/rfidgw/internal/seqspan"
)

// TailOptions are the flags of `rfidgw tail`.
type TailOptions struct {
	Brokers       []string
	Topic         string // default rfid.movements
	FromBeginning bool   // else only events produced from now on
	Gateway       string // only this gateway's events; "" = all
	// Librdkafka is the uplink's librdkafka map, applied as the forwarder
	// applies it (the same client, librdkafka): security.protocol, ssl.*,
	// sasl.* and client tuning; producer-only keys are left out.
	Librdkafka       map[string]string
	SASLPasswordFile string
	Count            int // stop after this many events; 0 = until ctx ends
	// HoleGrace is how long a missing seq may stay missing before it is
	// reported, once every partition is past it or caught up (default 5s):
	// events of one gateway travel on several partitions and arrive out of
	// seq order.
	HoleGrace time.Duration
	// FailOnHoles makes Tail return ErrHoles at the end when a hole was
	// reported that no gap event explains (exit 1 in `rfidgw tail`).
	FailOnHoles bool
	// Meta prints each event wrapped with where it was in Kafka:
	// {"partition":P,"offset":O,"key":"K","event":{...}}.
	Meta bool
}

// Tail prints each event of the topic as one JSON line on out, and writes a
// line on warn for each duplicate id and each hole in seq per gateway: the
// hub's checks (docs/events.md). It returns nil when ctx ends or Count events
// were printed, and an error if the topic cannot be read.
//
// Warning lines (one per finding, greppable):
//
// Seqs are tracked per gateway stream epoch (epoch= appears when the event
// has one): a new epoch starts again at its first seq without duplicates.
//
//	DUPLICATE gateway=floor3 epoch=6931a2f0c3d9e1b2 id=floor3-6931a2f0c3d9e1b2-42 seq=42 partition=1 offset=1234
//	HOLE gateway=floor3 seq=43..45 missing=3
//	HOLE gateway=floor3 seq=50..59 missing=10 (dropped by the gateway: its buffer was full, a gap event says so)
//	LATE gateway=floor3 seq=44 partition=0 offset=99 (arrived after it was reported missing)
//	NOT-JSON partition=2 offset=7: <error>
func Tail(ctx context.Context, opts TailOptions, out io.Writer, warn io.Writer) error {
	if opts.Topic == "" {
		opts.Topic = DefaultTopic
	}
	if opts.HoleGrace <= 0 {
		opts.HoleGrace = 5 * time.Second
	}
	if len(opts.Brokers) == 0 {
		return fmt.Errorf("%w: tail: no brokers given", ErrConfig)
	}
	// The forwarder's mapping of the librdkafka keys (baseConfig), for a
	// consumer that assigns its partitions and commits nothing.
	cm, err := consumerConfig(Config{Brokers: opts.Brokers, Librdkafka: opts.Librdkafka,
		SASLPasswordFile: opts.SASLPasswordFile}, "rfidgw-tail", "rfidgw-tail")
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	where := fmt.Sprintf("tail %s on %s", opts.Topic, strings.Join(opts.Brokers, ","))
	// A refused port or an unknown host fails at once with a short reason
	// (as in `rfidgw check`), where librdkafka would retry until the timeout.
	if err := dialBootstrap(ctx, opts.Brokers); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		return fmt.Errorf("%w: tail: %w", ErrConfig, err)
	}
	defer c.Close()
	logs := &tailLogs{}
	go logs.drain(c.Logs())

	parts, start, err := tailStart(ctx, c, opts.Topic, opts.FromBeginning, logs)
	if err != nil {
		hint := ""
		if errors.Is(err, ErrUnreachable) && strings.HasPrefix(strings.ToLower(opts.Librdkafka["security.protocol"]), "sasl") {
			// Some brokers drop the connection on bad credentials
			// instead of answering.
			hint = " (if the brokers are up, check sasl.username and the password)"
		}
		return fmt.Errorf("%s: %w%s", where, err, hint)
	}
	pos := map[int32]int64{} // next offset to read, per partition
	tps := make([]kafka.TopicPartition, 0, len(parts))
	for _, p := range parts {
		pos[p] = start[p]
		tps = append(tps, kafka.TopicPartition{Topic: &opts.Topic, Partition: p, Offset: kafka.Offset(start[p])})
	}
	if err := c.Assign(tps); err != nil {
		return fmt.Errorf("%s: assigning partitions: %w", where, classify(err))
	}

	tr := newSeqTracker(parts, warn)
	for _, p := range parts {
		// Tail starts after the beginning of this partition's history:
		// events just before the start are not holes.
		tr.cut[p] = start[p] > 0
	}
	// caughtUp says which partitions have nothing more to read: fresh asks
	// the brokers, else the high watermarks of the last fetches are used.
	caughtUp := func(fresh bool) map[int32]bool {
		caught := map[int32]bool{}
		for _, p := range parts {
			hi := int64(-1)
			if !fresh {
				_, hi, _ = c.GetWatermarkOffsets(opts.Topic, p)
			}
			if hi < 0 {
				var err error
				if _, hi, err = c.QueryWatermarkOffsets(opts.Topic, p, 2000); err != nil {
					continue
				}
			}
			caught[p] = pos[p] >= hi
		}
		return caught
	}
	printed := 0
	var lastSettle time.Time
	lastErr := map[kafka.ErrorCode]time.Time{}
	for {
		if ctx.Err() != nil {
			return tr.result(opts.FailOnHoles)
		}
		// Wake up often to notice ctx, and at least once a second to
		// settle holes while idle.
		switch m := c.Poll(200).(type) {
		case *kafka.Message:
			p, off := m.TopicPartition.Partition, int64(m.TopicPartition.Offset)
			if m.TopicPartition.Error != nil {
				fmt.Fprintf(warn, "FETCH-ERROR partition=%d: %v\n", p, m.TopicPartition.Error)
				break
			}
			pos[p] = off + 1
			ev, err := parseTailEvent(m.Value)
			if err != nil {
				fmt.Fprintf(warn, "NOT-JSON partition=%d offset=%d: %v\n", p, off, err)
				break
			}
			if opts.Gateway != "" && ev.Gateway != opts.Gateway {
				break
			}
			line := m.Value
			if opts.Meta {
				key, _ := json.Marshal(string(m.Key))
				line = fmt.Appendf(nil, `{"partition":%d,"offset":%d,"key":%s,"event":%s}`, p, off, key, m.Value)
			}
			if _, err := out.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("tail: writing: %w", err)
			}
			if ev.Seq != nil {
				stream := streamName(ev.Gateway, ev.Epoch)
				tr.observe(stream, ev.ID, *ev.Seq, p, off)
				if ev.Type == "gap" && ev.FirstSeq > 0 && ev.LastSeq >= ev.FirstSeq {
					tr.declare(stream, ev.FirstSeq, ev.LastSeq)
				}
			}
			printed++
			if opts.Count > 0 && printed >= opts.Count {
				tr.settle(time.Now(), caughtUp(true), 0)
				return tr.result(opts.FailOnHoles)
			}
		case kafka.Error:
			if e := classify(m); m.IsFatal() || errors.Is(e, ErrAuthentication) || errors.Is(e, ErrNotAuthorized) {
				return fmt.Errorf("%s: %w", where, e)
			}
			// librdkafka reconnects by itself: say so once in a while.
			if t, ok := lastErr[m.Code()]; !ok || time.Since(t) >= 30*time.Second {
				lastErr[m.Code()] = time.Now()
				fmt.Fprintf(warn, "KAFKA-ERROR %v\n", m)
			}
		}
		if tr.open() && time.Since(lastSettle) >= time.Second {
			lastSettle = time.Now()
			tr.settle(lastSettle, caughtUp(false), opts.HoleGrace)
		}
	}
}

// tailStartTimeout bounds finding the topic's partitions and offsets.
const tailStartTimeout = 15 * time.Second

// tailStart returns the topic's partitions and the offset to start each at.
func tailStart(ctx context.Context, c *kafka.Consumer, topic string, fromBeginning bool, logs *tailLogs) ([]int32, map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, tailStartTimeout)
	defer cancel()
	var md *kafka.Metadata
	for {
		var err error
		// All topics: asking for one could make a broker create it.
		md, err = c.GetMetadata(nil, true, 1000)
		if err == nil {
			break
		}
		// The client's error events say why metadata does not come.
		for ev := c.Poll(0); ev != nil; ev = c.Poll(0) {
			if e, ok := ev.(kafka.Error); ok {
				err = e
				if ce := classify(e); e.IsFatal() || errors.Is(ce, ErrAuthentication) {
					return nil, nil, ce
				}
			}
		}
		if ctx.Err() != nil {
			err = classify(err)
			if !errors.Is(err, ErrUnreachable) {
				err = fmt.Errorf("%w: %w", ErrUnreachable, err)
			}
			if l := logs.last(); l != "" && !strings.Contains(err.Error(), l) {
				err = fmt.Errorf("%w (librdkafka: %s)", err, l)
			}
			return nil, nil, err
		}
	}
	tm, ok := md.Topics[topic]
	switch {
	case !ok || len(tm.Partitions) == 0 && tm.Error.Code() == kafka.ErrNoError:
		return nil, nil, ErrTopicMissing
	case tm.Error.Code() != kafka.ErrNoError:
		return nil, nil, classify(tm.Error)
	}
	parts := make([]int32, 0, len(tm.Partitions))
	for _, p := range tm.Partitions {
		parts = append(parts, p.ID)
	}
	slices.Sort(parts)
	start := map[int32]int64{}
	for _, p := range parts {
		ms := int(max(time.Until(deadlineOf(ctx)), time.Millisecond) / time.Millisecond)
		lo, hi, err := c.QueryWatermarkOffsets(topic, p, ms)
		if err != nil {
			return nil, nil, fmt.Errorf("listing offsets of partition %d: %w", p, classify(err))
		}
		if fromBeginning {
			start[p] = lo
		} else {
			start[p] = hi
		}
	}
	return parts, start, nil
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// tailLogs keeps librdkafka's last warning for error messages.
type tailLogs struct {
	mu   sync.Mutex
	line string
}

func (l *tailLogs) drain(ch chan kafka.LogEvent) {
	for e := range ch {
		if e.Level <= 4 {
			l.mu.Lock()
			l.line = librdkafkaLine(e.Message)
			l.mu.Unlock()
		}
	}
}

func (l *tailLogs) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// tailEvent is what tail reads of an event.
type tailEvent struct {
	ID       string  `json:"id"`
	Epoch    string  `json:"epoch"`
	Seq      *uint64 `json:"seq"`
	Gateway  string  `json:"gateway"`
	Type     string  `json:"type"`
	FirstSeq uint64  `json:"first_seq"` // gap events
	LastSeq  uint64  `json:"last_seq"`
}

func parseTailEvent(v []byte) (tailEvent, error) {
	var ev tailEvent
	err := json.Unmarshal(v, &ev)
	return ev, err
}

// span and spanSet are the seq ranges tail keeps (internal/seqspan).
type (
	span    = seqspan.Span
	spanSet = seqspan.Set
)

// gwTrack is what tail knows of one gateway's seqs.
type gwTrack struct {
	seen      spanSet
	reported  spanSet // holes already reported
	declared  spanSet // seqs the gateway's gap events say it dropped
	maxByPart map[int32]uint64
	// floor is the highest first seq seen on a partition read from
	// somewhere in its history: below it, a missing seq may simply be
	// before tail's start on that partition.
	floor   uint64
	first   map[int32]bool       // partitions seen
	noticed map[uint64]time.Time // hole start -> when first seen open
}

// seqTracker finds duplicate ids and holes in seq per gateway, as the hub
// does. A hole between the seqs seen is reported only when every partition
// has either delivered a later seq of that gateway or has nothing more to
// read, and the hole stayed open for the grace period.
type seqTracker struct {
	parts []int32
	cut   map[int32]bool // partitions not read from their first event
	gws   map[string]*gwTrack
	warn  io.Writer
	// missing counts the seqs reported missing that no gap event explains.
	missing uint64
}

func newSeqTracker(parts []int32, warn io.Writer) *seqTracker {
	return &seqTracker{parts: parts, cut: map[int32]bool{}, gws: map[string]*gwTrack{}, warn: warn}
}

// streamName is the tracker's key of a gateway stream epoch as printed:
// "floor3 epoch=6931a2f0c3d9e1b2", or "floor3" without an epoch.
func streamName(gw, epoch string) string {
	if epoch == "" {
		return gw
	}
	return gw + " epoch=" + epoch
}

// result is ErrHoles when failOnHoles and a hole no gap event explains was
// reported.
func (t *seqTracker) result(failOnHoles bool) error {
	if failOnHoles && t.missing > 0 {
		return fmt.Errorf("%w: %d seqs missing that no gap event explains", ErrHoles, t.missing)
	}
	return nil
}

func (t *seqTracker) observe(gw, id string, seq uint64, part int32, off int64) {
	g := t.gws[gw]
	if g == nil {
		g = &gwTrack{maxByPart: map[int32]uint64{}, noticed: map[uint64]time.Time{}, first: map[int32]bool{}}
		t.gws[gw] = g
	}
	if !g.first[part] {
		g.first[part] = true
		if t.cut[part] {
			g.floor = max(g.floor, seq)
		}
	}
	g.maxByPart[part] = max(g.maxByPart[part], seq)
	if g.seen.Contains(seq) {
		fmt.Fprintf(t.warn, "DUPLICATE gateway=%s id=%s seq=%d partition=%d offset=%d\n", gw, id, seq, part, off)
		return
	}
	if g.reported.Contains(seq) {
		fmt.Fprintf(t.warn, "LATE gateway=%s seq=%d partition=%d offset=%d (arrived after it was reported missing)\n", gw, seq, part, off)
	}
	g.seen.Add(seq, seq)
}

// declare notes seqs a gap event says the gateway dropped.
func (t *seqTracker) declare(gw string, lo, hi uint64) {
	if g := t.gws[gw]; g != nil {
		g.declared.Add(lo, hi)
	}
}

// open reports whether any gateway has a hole not yet reported.
func (t *seqTracker) open() bool {
	for _, g := range t.gws {
		if len(g.holes()) > 0 {
			return true
		}
	}
	return false
}

// holes returns the gaps between seen seqs that were not reported yet.
func (g *gwTrack) holes() []span {
	var out []span
	for i := 0; i+1 < len(g.seen); i++ {
		lo, hi := max(g.seen[i].Hi+1, g.floor), g.seen[i+1].Lo-1
		if lo > hi {
			continue
		}
		// Subtract the reported spans.
		for _, r := range g.reported[g.reported.Find(lo):] {
			if r.Lo > hi {
				break
			}
			if r.Lo > lo {
				out = append(out, span{Lo: lo, Hi: r.Lo - 1})
			}
			lo = r.Hi + 1
		}
		if lo <= hi {
			out = append(out, span{Lo: lo, Hi: hi})
		}
	}
	return out
}

// settle reports the holes that can no longer be filled by events still on
// their way: caught says which partitions have nothing more to read.
func (t *seqTracker) settle(now time.Time, caught map[int32]bool, grace time.Duration) {
	gws := make([]string, 0, len(t.gws))
	for gw := range t.gws {
		gws = append(gws, gw)
	}
	sort.Strings(gws)
	for _, gw := range gws {
		g := t.gws[gw]
		for _, h := range g.holes() {
			passed := true
			for _, p := range t.parts {
				if !caught[p] && g.maxByPart[p] <= h.Hi {
					passed = false
					break
				}
			}
			first, ok := g.noticed[h.Lo]
			if !ok {
				first = now
				g.noticed[h.Lo] = now
			}
			if !passed || now.Sub(first) < grace {
				continue
			}
			why := ""
			if i := g.declared.Find(h.Lo); i < len(g.declared) && g.declared[i].Lo <= h.Lo && g.declared[i].Hi >= h.Hi {
				why = " (dropped by the gateway: its buffer was full, a gap event says so)"
			}
			fmt.Fprintf(t.warn, "HOLE gateway=%s seq=%d..%d missing=%d%s\n", gw, h.Lo, h.Hi, h.Hi-h.Lo+1, why)
			if why == "" {
				t.missing += h.Hi - h.Lo + 1
			}
			g.reported.Add(h.Lo, h.Hi)
			delete(g.noticed, h.Lo)
		}
	}
}
