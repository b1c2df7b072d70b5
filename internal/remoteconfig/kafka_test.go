package remoteconfig

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rfidgw/rfidgw/internal/testkit"
	"github.com/rfidgw/rfidgw/uplink"
)

type offered struct {
	key     string
	version uint64
}

// TestConsumerAndTools runs the push tool, the gateway's consumer and the
// fleet status reader against an in-process Kafka.
func TestConsumerAndTools(t *testing.T) {
	kafka := testkit.Kafka(t, 0)
	brokers := []string{kafka.ListenAddrs()[0]}
	priv, _ := testKey(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	push := func(target, cfg string) PushResult {
		t.Helper()
		res, err := Push(ctx, PushOptions{Brokers: brokers, Target: target, Config: []byte(cfg), Key: priv})
		if err != nil {
			t.Fatalf("push to %s: %v", target, err)
		}
		return res
	}
	// Before the gateway starts: two fleet versions, one for floor3, one
	// for floor4.
	if r := push(FleetKey, "zones: []\n"); r.Version != 1 || !r.TopicCreated || r.Hash == "-" {
		t.Errorf("first push %+v", r)
	}
	push(FleetKey, "edge: {dwell: 3s}\n")
	push("floor3", "zones: []\n")
	push("floor4", "zones: []\n")
	if _, err := Push(ctx, PushOptions{Brokers: brokers, Target: "floor3", Config: []byte("zones: []\n"), Key: priv, Version: 2}); err == nil || !strings.Contains(err.Error(), "not above the highest version") {
		t.Errorf("explicit old version: %v", err)
	}

	var mu sync.Mutex
	var got []offered
	cons, err := NewConsumer(uplink.Config{Brokers: brokers}, DefaultTopic, "floor3", nil)
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- cons.Run(cctx, func(_ context.Context, key string, value []byte) error {
			v, _ := PeekVersion(value)
			mu.Lock()
			got = append(got, offered{key, v})
			mu.Unlock()
			return nil
		})
	}()
	wait := func(n int) []offered {
		t.Helper()
		testkit.WaitFor(t, 30*time.Second, "offers", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= n
		})
		mu.Lock()
		defer mu.Unlock()
		return append([]offered(nil), got...)
	}
	// Catch-up: only the latest of each key, the fleet first.
	if o := wait(2); o[0] != (offered{FleetKey, 2}) || o[1] != (offered{"floor3", 3}) {
		t.Fatalf("catch-up offers %v, want [{* 2} {floor3 3}]", o)
	}
	// Live: every new message of the gateway's keys, none of others'.
	push("floor4", "zones: []\n")
	push("floor3", "edge: {dwell: 2s}\n")
	if o := wait(3); o[2] != (offered{"floor3", 6}) {
		t.Fatalf("live offers %v", o)
	}
	time.Sleep(500 * time.Millisecond)
	if o := wait(3); len(o) != 3 {
		t.Errorf("offers of another gateway's key: %v", o)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("consumer: %v", err)
	}

	// Fleet status: the latest status of each gateway.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	for _, s := range []uplink.GatewayStatus{
		{Gateway: "floor3", Time: now.Add(-2 * time.Second), Config: &uplink.ConfigStatus{Version: 2, Result: ResultChecking}},
		{Gateway: "floor3", Time: now.Add(-time.Second), Config: &uplink.ConfigStatus{Version: 2, Result: ResultApplied, Hash: "abc"}},
		{Gateway: "floor4", Time: now.Add(-time.Second)},
		{Gateway: "floor5", Time: now.Add(-time.Hour)},
	} {
		b, _ := json.Marshal(s)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: uplink.DefaultStatusTopic, Key: []byte(s.Gateway), Value: b, Timestamp: s.Time}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	list, err := FleetStatus(ctx, StatusOptions{Brokers: brokers, Since: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Gateway != "floor3" || list[0].Config.Result != ResultApplied || list[1].Gateway != "floor4" || list[1].Config != nil {
		b, _ := json.Marshal(list)
		t.Errorf("fleet status %s", b)
	}
	detail, err := CheckTopic(ctx, uplink.Config{Brokers: brokers}, DefaultTopic, "floor3")
	if err != nil || !strings.Contains(detail, "pushed for all: version 2, for floor3: version 6") {
		t.Errorf("check: %q %v", detail, err)
	}
	if detail, err := CheckTopic(ctx, uplink.Config{Brokers: brokers}, "no.such.topic", "floor3"); err != nil || !strings.Contains(detail, "does not exist yet") {
		t.Errorf("check of a missing topic: %q %v", detail, err)
	}
}
