package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	testTopic       = "rfid.movements"
	testStatusTopic = "rfid.gateway-status"
	testGateway     = "floor3"
	testPartitions  = 3
)

// newCluster starts a one-broker kfake cluster on 127.0.0.1 with the two
// topics.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, testTopic, testStatusTopic)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// logBuffer is a concurrency-safe log sink for asserting on log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) contains(s string) bool { return strings.Contains(l.String(), s) }

func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo})), lb
}

// runForwarder starts Run and returns a stop function that ends it and
// waits for it.
func runForwarder(t testing.TB, f *Forwarder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30 s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// consumeAll reads topic from the start until it has n records or d passed.
func consumeAll(t testing.TB, addrs []string, topic string, n int, d time.Duration, extra ...kgo.Opt) []*kgo.Record {
	t.Helper()
	opts := append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// checkDelivery checks what the hub would check: every record of want is in
// got with the right key, value and headers; per key, after dropping
// duplicates by id, seqs grow; duplicates are at most maxDups.
func checkDelivery(t testing.TB, got []*kgo.Record, want []buffer.Record, maxDups int) {
	t.Helper()
	byID := map[string]buffer.Record{}
	for _, r := range want {
		byID[EventID(testGateway, "", r.Seq)] = r
	}
	seen := map[string]int{}
	lastByKey := map[string]uint64{}
	dups, bad := 0, 0
	// Records of one partition come in offset order from kgo; keys map to
	// one partition, so per-key order is the order we see them in.
	for _, m := range got {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		id := h[HeaderID]
		r, ok := byID[id]
		if !ok {
			if bad++; bad < 5 {
				t.Errorf("unexpected message id %q (key %s)", id, m.Key)
			}
			continue
		}
		seen[id]++
		if seen[id] > 1 {
			dups++
			continue
		}
		if string(m.Key) != string(r.Key) || !bytes.Equal(m.Value, r.Value) {
			t.Errorf("%s: key/value differ: %s %s", id, m.Key, m.Value)
		}
		wantH := map[string]string{
			HeaderSpecVersion: "1.0", HeaderID: id, HeaderSource: "rfidgw/" + testGateway,
			HeaderType: "rfidgw." + r.Type + ".v1", HeaderTime: r.Time.UTC().Format(ceTimeLayout),
			HeaderContentType: "application/json",
		}
		if fmt.Sprint(h) != fmt.Sprint(wantH) {
			if bad++; bad < 5 {
				t.Errorf("%s: headers %v, want %v", id, h, wantH)
			}
		}
		if last := lastByKey[string(m.Key)]; r.Seq < last {
			if bad++; bad < 5 {
				t.Errorf("key %s: seq %d after seq %d (per-key order broken)", m.Key, r.Seq, last)
			}
		}
		lastByKey[string(m.Key)] = r.Seq
	}
	missing := 0
	for id := range byID {
		if seen[id] == 0 {
			if missing++; missing < 5 {
				t.Errorf("missing %s", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events missing", missing, len(want))
	}
	if dups > maxDups {
		t.Errorf("%d duplicates, at most %d allowed (records leased again after a rewind)", dups, maxDups)
	}
	t.Logf("%d messages: %d events, %d duplicates, %d problems", len(got), len(seen), dups, bad)
}

// statusOf decodes a status message value.
func statusOf(t testing.TB, v []byte) GatewayStatus {
	var s GatewayStatus
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("status %s: %v", v, err)
	}
	return s
}
