package uplink

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/buffer"
	"github.com/twmb/franz-go/pkg/kfake"
)

// benchEvents is the backlog size of the drain benchmark
// (UPLINK_BENCH_EVENTS overrides the default of 1,000,000).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("UPLINK_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// genQueue is a fast in-memory Queue holding a backlog of n events, made on
// the fly from a ring of realistic records so that the backlog costs no
// memory. It counts acks; a rewind would fail the benchmark.
type genQueue struct {
	mu      sync.Mutex
	ring    []buffer.Record
	next    uint64 // next seq to lease
	last    uint64
	acked   atomic.Int64
	rewinds atomic.Int64
	done    chan struct{}
}

func newGenQueue(n int) *genQueue {
	return &genQueue{ring: testRecords(testGateway, 1, 4096, 1000), next: 1, last: uint64(n), done: make(chan struct{})}
}

func (q *genQueue) Lease(ctx context.Context, max int) ([]buffer.Record, error) {
	q.mu.Lock()
	if q.next > q.last {
		q.mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	n := min(uint64(max), q.last-q.next+1)
	out := make([]buffer.Record, n)
	for i := range out {
		seq := q.next + uint64(i)
		out[i] = q.ring[seq%uint64(len(q.ring))]
		out[i].Seq = seq
	}
	q.next += n
	q.mu.Unlock()
	return out, nil
}

func (q *genQueue) Ack(seqs ...uint64) error {
	if q.acked.Add(int64(len(seqs))) == int64(q.last) {
		close(q.done)
	}
	return nil
}

func (q *genQueue) Rewind() { q.rewinds.Add(1) }

// benchCluster is kfake discarding what it is sent, so that broker-side
// storage does not limit either producer (and 1M events cost no memory).
func benchCluster(b *testing.B) *kfake.Cluster {
	return newCluster(b, kfake.BlackholeProduce())
}

// BenchmarkDrain drains a backlog through the forwarder, and sends the same
// messages with a plain producer (same librdkafka settings, no buffer, no
// window, no acks): the ceiling. The two alternate for UPLINK_BENCH_ROUNDS
// rounds (default 3) so that both see the same machine load; the metrics
// are the medians and the median of the per-round ratios. Run with
// -benchtime=1x.
func BenchmarkDrain(b *testing.B) {
	n := benchEvents()
	rounds := 3
	if r, err := strconv.Atoi(os.Getenv("UPLINK_BENCH_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	inflight, _ := strconv.Atoi(os.Getenv("UPLINK_BENCH_INFLIGHT"))
	for range b.N {
		var plain, fwd, ratio []float64
		for r := range rounds {
			p := drainPlain(b, n)
			f := drainForwarder(b, n, inflight)
			b.Logf("round %d: plain %.0f events/s, forwarder %.0f events/s (%.0f%%)", r+1, p, f, 100*f/p)
			plain, fwd, ratio = append(plain, p), append(fwd, f), append(ratio, f/p)
		}
		b.ReportMetric(median(plain), "plain-events/s")
		b.ReportMetric(median(fwd), "forwarder-events/s")
		b.ReportMetric(100*median(ratio), "%-of-plain")
		b.ReportMetric(0, "ns/op")
	}
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// drainPlain sends n events with a bare producer and returns events/s.
func drainPlain(b *testing.B, n int) float64 {
	c := benchCluster(b)
	defer c.Close()
	cfg := Config{Brokers: c.ListenAddrs()}.withDefaults()
	cm, err := producerConfig(cfg, "bench-plain")
	if err != nil {
		b.Fatal(err)
	}
	cm["go.logs.channel.enable"] = false
	cm["log_level"] = "3"
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	q := newGenQueue(n)
	recs, _ := q.Lease(context.Background(), n) // made before the clock starts
	mb := newMessageBuilder(cfg.Topic, testGateway)
	reported := make(chan int)
	go func() {
		got, failed := 0, 0
		for ev := range p.Events() {
			if m, ok := ev.(*kafka.Message); ok {
				got++
				if m.TopicPartition.Error != nil {
					failed++
				}
				if got == n {
					break
				}
			}
		}
		reported <- failed
	}()
	start := time.Now()
	for i := range recs {
		m := mb.build(&recs[i])
		m.Opaque = nil
		for {
			err := p.Produce(m, nil)
			if err == nil {
				break
			}
			if e, ok := err.(kafka.Error); !ok || e.Code() != kafka.ErrQueueFull {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	failed := <-reported
	el := time.Since(start)
	if failed > 0 {
		b.Fatalf("%d deliveries failed", failed)
	}
	return float64(n) / el.Seconds()
}

// drainForwarder drains n events through a Forwarder and returns events/s.
func drainForwarder(b *testing.B, n, inflight int) float64 {
	c := benchCluster(b)
	defer c.Close()
	q := newGenQueue(n)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), MaxInFlight: inflight}, testGateway, q, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	select {
	case <-q.done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("only %d of %d acked", q.acked.Load(), n)
	}
	el := time.Since(start)
	cancel()
	<-done
	if q.rewinds.Load() != 0 {
		b.Fatalf("%d rewinds during the drain", q.rewinds.Load())
	}
	return float64(n) / el.Seconds()
}

// latQueue feeds events at a fixed rate and measures commit-to-ack latency.
type latQueue struct {
	*memQueue
	mu      sync.Mutex
	addedAt map[uint64]time.Time
	lat     []time.Duration
}

func (q *latQueue) Ack(seqs ...uint64) error {
	now := time.Now()
	q.mu.Lock()
	for _, s := range seqs {
		if t, ok := q.addedAt[s]; ok {
			q.lat = append(q.lat, now.Sub(t))
			delete(q.addedAt, s)
		}
	}
	q.mu.Unlock()
	return q.memQueue.Ack(seqs...)
}

// BenchmarkLatency measures the time from an event's commit to the buffer
// to its ack from Kafka's delivery report, at 5,000 events/s for 10 s
// (UPLINK_BENCH_SECONDS overrides). Run with -benchtime=1x.
func BenchmarkLatency(b *testing.B) {
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("UPLINK_BENCH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	const rate = 5000
	for range b.N {
		c := newCluster(b)
		q := &latQueue{memQueue: newMemQueue(), addedAt: map[uint64]time.Time{}}
		f, err := NewForwarder(Config{Brokers: c.ListenAddrs()}, testGateway, q, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		total := rate * secs
		recs := testRecords(testGateway, 1, total, 1000)
		time.Sleep(500 * time.Millisecond) // producer connected
		b.ResetTimer()
		start := time.Now()
		sent := 0
		for sent < total {
			due := min(total, int(time.Since(start).Seconds()*rate))
			if due > sent {
				now := time.Now()
				q.mu.Lock()
				for i := sent; i < due; i++ {
					q.addedAt[recs[i].Seq] = now
				}
				q.mu.Unlock()
				q.add(recs[sent:due]...)
				sent = due
			}
			time.Sleep(time.Millisecond)
		}
		if err := q.waitAcked(total, time.Minute); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		<-done
		slices.Sort(q.lat)
		pct := func(p float64) float64 {
			return float64(q.lat[int(p*float64(len(q.lat)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(0, "ns/op")
	}
}
