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
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TailOptions are the flags of `rfidgw tail`.
type TailOptions struct {
	Brokers       []string
	Topic         string // default rfid.movements
	FromBeginning bool   // else only events produced from now on
	Gateway       string // only this gateway's events; "" = all
	// Librdkafka is the uplink's librdkafka map: its security.protocol,
	// ssl.* and sasl.* keys are applied (other keys are ignored).
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
	sec, err := kgoSecurity(opts.Librdkafka, opts.SASLPasswordFile)
	if err != nil {
		return err
	}
	admCl, err := kgo.NewClient(append(slices.Clone(sec), kgo.SeedBrokers(opts.Brokers...))...)
	if err != nil {
		return fmt.Errorf("%w: tail: %w", ErrConfig, err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	parts, start, err := tailStart(ctx, adm, opts.Topic, opts.FromBeginning)
	if err != nil {
		hint := ""
		if errors.Is(err, ErrUnreachable) && strings.HasPrefix(strings.ToLower(opts.Librdkafka["security.protocol"]), "sasl") {
			// Some brokers drop the connection on bad credentials
			// instead of answering.
			hint = " (if the brokers are up, check sasl.username and the password)"
		}
		return fmt.Errorf("tail %s on %s: %w%s", opts.Topic, strings.Join(opts.Brokers, ","), err, hint)
	}
	offsets := map[int32]kgo.Offset{}
	pos := map[int32]int64{} // next offset to read, per partition
	for _, p := range parts {
		offsets[p] = kgo.NewOffset().At(start[p])
		pos[p] = start[p]
	}
	cl, err := kgo.NewClient(append(slices.Clone(sec), kgo.SeedBrokers(opts.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{opts.Topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("%w: tail: %w", ErrConfig, err)
	}
	defer cl.Close()

	tr := newSeqTracker(parts, warn)
	for _, p := range parts {
		// Tail starts after the beginning of this partition's history:
		// events just before the start are not holes.
		tr.cut[p] = start[p] > 0
	}
	caughtUp := func(ctx context.Context) map[int32]bool {
		ends, err := adm.ListEndOffsets(ctx, opts.Topic)
		caught := map[int32]bool{}
		if err != nil {
			return caught
		}
		ends.Each(func(o kadm.ListedOffset) {
			caught[o.Partition] = o.Err == nil && pos[o.Partition] >= o.Offset
		})
		return caught
	}
	printed := 0
	var lastSettle time.Time
	for {
		// Wake up at least once a second to settle holes while idle.
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return tr.result(opts.FailOnHoles)
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if isAuthErr(err) {
				fatal = fmt.Errorf("%w: %w", ErrAuthentication, err)
				return
			}
			fmt.Fprintf(warn, "FETCH-ERROR partition=%d: %v\n", p, err)
		})
		if fatal != nil {
			return fmt.Errorf("tail %s: %w", opts.Topic, fatal)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			pos[r.Partition] = r.Offset + 1
			ev, err := parseTailEvent(r.Value)
			if err != nil {
				fmt.Fprintf(warn, "NOT-JSON partition=%d offset=%d: %v\n", r.Partition, r.Offset, err)
				continue
			}
			if opts.Gateway != "" && ev.Gateway != opts.Gateway {
				continue
			}
			line := r.Value
			if opts.Meta {
				key, _ := json.Marshal(string(r.Key))
				line = fmt.Appendf(nil, `{"partition":%d,"offset":%d,"key":%s,"event":%s}`, r.Partition, r.Offset, key, r.Value)
			}
			if _, err := out.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("tail: writing: %w", err)
			}
			if ev.Seq != nil {
				stream := streamName(ev.Gateway, ev.Epoch)
				tr.observe(stream, ev.ID, *ev.Seq, r.Partition, r.Offset)
				if ev.Type == "gap" && ev.FirstSeq > 0 && ev.LastSeq >= ev.FirstSeq {
					tr.declare(stream, ev.FirstSeq, ev.LastSeq)
				}
			}
			printed++
			if opts.Count > 0 && printed >= opts.Count {
				fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				tr.settle(time.Now(), caughtUp(fctx), 0)
				cancel()
				return tr.result(opts.FailOnHoles)
			}
		}
		if tr.open() && time.Since(lastSettle) >= time.Second {
			lastSettle = time.Now()
			tr.settle(lastSettle, caughtUp(ctx), opts.HoleGrace)
		}
	}
}

// tailStart returns the topic's partitions and the offset to start each at.
func tailStart(ctx context.Context, adm *kadm.Client, topic string, fromBeginning bool) ([]int32, map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		if isAuthErr(err) {
			return nil, nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	td, ok := tds[topic]
	switch {
	case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		return nil, nil, ErrTopicMissing
	case errors.Is(td.Err, kerr.TopicAuthorizationFailed):
		return nil, nil, fmt.Errorf("%w: %w", ErrNotAuthorized, td.Err)
	case td.Err != nil:
		return nil, nil, td.Err
	}
	parts := td.Partitions.Numbers()
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var listed kadm.ListedOffsets
	if fromBeginning {
		listed, err = adm.ListStartOffsets(ctx, topic)
	} else {
		listed, err = adm.ListEndOffsets(ctx, topic)
	}
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing offsets: %w", err)
	}
	start := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	return parts, start, nil
}

func isAuthErr(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.ClusterAuthorizationFailed)
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

// span is an inclusive range of seqs.
type span struct{ lo, hi uint64 }

// spanSet is a sorted set of disjoint, non-adjacent spans.
type spanSet []span

// find returns the index of the first span with hi >= x.
func (s spanSet) find(x uint64) int {
	return sort.Search(len(s), func(i int) bool { return s[i].hi >= x })
}

func (s spanSet) contains(x uint64) bool {
	i := s.find(x)
	return i < len(s) && s[i].lo <= x
}

// add inserts [lo, hi], merging what it touches.
func (s *spanSet) add(lo, hi uint64) {
	ss := *s
	i := ss.find(lo - min(lo, 1)) // a span ending at lo-1 merges too
	j := i
	for j < len(ss) && ss[j].lo <= hi+1 {
		lo, hi = min(lo, ss[j].lo), max(hi, ss[j].hi)
		j++
	}
	*s = slices.Replace(ss, i, j, span{lo, hi})
}

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
	if g.seen.contains(seq) {
		fmt.Fprintf(t.warn, "DUPLICATE gateway=%s id=%s seq=%d partition=%d offset=%d\n", gw, id, seq, part, off)
		return
	}
	if g.reported.contains(seq) {
		fmt.Fprintf(t.warn, "LATE gateway=%s seq=%d partition=%d offset=%d (arrived after it was reported missing)\n", gw, seq, part, off)
	}
	g.seen.add(seq, seq)
}

// declare notes seqs a gap event says the gateway dropped.
func (t *seqTracker) declare(gw string, lo, hi uint64) {
	if g := t.gws[gw]; g != nil {
		g.declared.add(lo, hi)
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
		lo, hi := max(g.seen[i].hi+1, g.floor), g.seen[i+1].lo-1
		if lo > hi {
			continue
		}
		// Subtract the reported spans.
		for _, r := range g.reported[g.reported.find(lo):] {
			if r.lo > hi {
				break
			}
			if r.lo > lo {
				out = append(out, span{lo, r.lo - 1})
			}
			lo = r.hi + 1
		}
		if lo <= hi {
			out = append(out, span{lo, hi})
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
				if !caught[p] && g.maxByPart[p] <= h.hi {
					passed = false
					break
				}
			}
			first, ok := g.noticed[h.lo]
			if !ok {
				first = now
				g.noticed[h.lo] = now
			}
			if !passed || now.Sub(first) < grace {
				continue
			}
			why := ""
			if i := g.declared.find(h.lo); i < len(g.declared) && g.declared[i].lo <= h.lo && g.declared[i].hi >= h.hi {
				why = " (dropped by the gateway: its buffer was full, a gap event says so)"
			}
			fmt.Fprintf(t.warn, "HOLE gateway=%s seq=%d..%d missing=%d%s\n", gw, h.lo, h.hi, h.hi-h.lo+1, why)
			if why == "" {
				t.missing += h.hi - h.lo + 1
			}
			g.reported.add(h.lo, h.hi)
			delete(g.noticed, h.lo)
		}
	}
}
