package uplink

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The real buffer is a Queue.
var _ Queue = (*buffer.Queue)(nil)

// TestWithRealBuffer runs the forwarder on the bbolt buffer, through a
// broker that loses its log halfway: the buffer must end empty and every
// event committed after the loss must be on the new broker, with its id
// and seq in both the value and the headers.
func TestWithRealBuffer(t *testing.T) {
	t.Parallel()
	q, err := buffer.Open(t.TempDir(), buffer.Options{Gateway: testGateway, MinFreeDisk: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	c1 := newCluster(t)
	addrs := c1.ListenAddrs()
	log, logs := testLogger(t)
	f, err := NewForwarder(Config{Brokers: addrs, RetryBackoffMax: time.Second}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)

	ctx := context.Background()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	appendEvents := func(n int) {
		for i := 0; i < n; i += 50 {
			evs := make([]edge.Event, 50)
			for j := range evs {
				at = at.Add(time.Millisecond)
				evs[j] = edge.Event{Type: edge.Inward, EPC: fmt.Sprintf("E2801160600002%010X", (i+j)%13),
					Time: at, Zone: "gate-a", Evidence: &edge.Evidence{Reads: 3, Readers: []string{"dock-door-1"}}}
			}
			if err := q.Append(ctx, evs, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	drained := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for q.Stats().Events > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if s := q.Stats(); s.Events > 0 {
			t.Fatalf("buffer still holds %d events; log:\n%s", s.Events, logs)
		}
	}
	appendEvents(1000)
	drained()
	c1.Close()
	c2 := newCluster(t, kfake.Ports(portOf(t, addrs[0])))
	appendEvents(1000)
	drained()

	got := consumeAll(t, c2.ListenAddrs(), testTopic, 1000, 20*time.Second)
	seen := map[uint64]bool{}
	lastByKey := map[string]uint64{}
	for _, m := range got {
		var ev struct {
			ID    string `json:"id"`
			Epoch string `json:"epoch"`
			Seq   uint64 `json:"seq"`
			EPC   string `json:"epc"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatalf("value %s: %v", m.Value, err)
		}
		if err := schema.ValidateEvent(m.Value); err != nil {
			t.Errorf("seq %d: %v", ev.Seq, err)
		}
		if ev.Epoch != q.Epoch().ID || ev.Epoch == "" {
			t.Errorf("seq %d: epoch %q, want the buffer's %q", ev.Seq, ev.Epoch, q.Epoch().ID)
		}
		if ce := header(m, HeaderID); ce != ev.ID || ev.ID != EventID(testGateway, ev.Epoch, ev.Seq) || string(m.Key) != ev.EPC {
			t.Errorf("ce_id %q, id %q, seq %d, key %s, epc %s", ce, ev.ID, ev.Seq, m.Key, ev.EPC)
		}
		if ev.Seq < lastByKey[ev.EPC] && !seen[ev.Seq] {
			t.Errorf("key %s: seq %d after %d", ev.EPC, ev.Seq, lastByKey[ev.EPC])
		}
		lastByKey[ev.EPC] = max(lastByKey[ev.EPC], ev.Seq)
		seen[ev.Seq] = true
	}
	for s := uint64(1001); s <= 2000; s++ {
		if !seen[s] {
			t.Errorf("seq %d missing on the new broker", s)
		}
	}
	if !logs.contains("failed fatally") {
		t.Errorf("producer not recreated; log:\n%s", logs)
	}
}

func header(m *kgo.Record, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}
