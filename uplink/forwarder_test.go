package uplink

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/internal/schema"
)

func TestForwarderHappyPath(t *testing.T) {
	c := newCluster(t)
	q := newMemQueue()
	want := testRecords(testGateway, 1, 2000, 37)
	q.add(want...)
	log, _ := testLogger(t)
	m := metrics.New()
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), MaxInFlight: 500, Metrics: m}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	f.SetStatusFunc(func() GatewayStatus {
		return GatewayStatus{Readers: map[string]string{"dock-door-1": ReaderOnline}, BufferEvents: 7}
	})
	delivered0 := metricValue(m.UplinkDelivered)
	stop := runForwarder(t, f)
	if err := q.waitAcked(len(want), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if !f.Connected() || metricValue(m.UplinkConnected) != 1 {
		t.Error("not connected after deliveries")
	}
	if d := metricValue(m.UplinkDelivered) - delivered0; d != float64(len(want)) {
		t.Errorf("rfidgw_uplink_delivered_total grew by %v, want %d", d, len(want))
	}
	if d := f.Delivered(); d != uint64(len(want)) {
		t.Errorf("Delivered() = %d, want %d", d, len(want))
	}
	got := consumeAll(t, c.ListenAddrs(), testTopic, len(want), 10*time.Second)
	checkDelivery(t, got, want, 0)
	if q.ackDups != 0 || q.ackMiss != 0 {
		t.Errorf("acks: %d of already acked, %d of never leased", q.ackDups, q.ackMiss)
	}
	stop()

	st := consumeAll(t, c.ListenAddrs(), testStatusTopic, 2, 10*time.Second)
	if len(st) < 2 {
		t.Fatalf("%d status messages, want startup and shutdown", len(st))
	}
	s := statusOf(t, st[0].Value)
	if string(st[0].Key) != testGateway || s.Gateway != testGateway || s.Kind != StatusStartup ||
		s.Readers["dock-door-1"] != ReaderOnline || s.BufferEvents != 7 || s.Schema != 1 {
		t.Errorf("first status: key %s %+v", st[0].Key, s)
	}
	if s := statusOf(t, st[len(st)-1].Value); s.Kind != StatusShutdown {
		t.Errorf("last status kind %q, want shutdown", s.Kind)
	}
}

func TestForwarderHeartbeat(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	q := newMemQueue()
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), Heartbeat: time.Second}, testGateway, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	depth := int64(0)
	f.SetStatusFunc(func() GatewayStatus {
		depth++
		return GatewayStatus{Version: "v-test", BufferEvents: depth, LagSeconds: 1.5,
			Readers: map[string]string{"rack-row-a": ReaderOffline}}
	})
	stop := runForwarder(t, f)
	time.Sleep(3300 * time.Millisecond)
	if err := f.Run(t.Context()); err != ErrClosed {
		t.Errorf("second Run: %v, want ErrClosed", err)
	}
	f.PublishStatus(GatewayStatus{Readers: map[string]string{"rack-row-a": ReaderOnline}})
	// Readers learned from the network cannot make a status too large.
	many := map[string]string{}
	for i := range MaxStatusReaders + 500 {
		many[fmt.Sprintf("r%05d", i)] = ReaderOnline
	}
	f.PublishStatus(GatewayStatus{Kind: "many", Readers: many})
	stop()
	st := consumeAll(t, c.ListenAddrs(), testStatusTopic, 7, 10*time.Second)
	kinds := map[string]int{}
	for _, m := range st {
		s := statusOf(t, m.Value)
		kinds[s.Kind]++
		if err := schema.ValidateStatus(m.Value); err != nil {
			t.Errorf("%s: %v", m.Value, err)
		}
		if s.Kind == StatusHeartbeat && (s.Version != "v-test" || s.Readers["rack-row-a"] != ReaderOffline || s.LagSeconds != 1.5 || !s.UplinkConnected) {
			t.Errorf("heartbeat %+v", s)
		}
		if s.Kind == StatusReader && s.Readers["rack-row-a"] != ReaderOnline {
			t.Errorf("reader status %+v", s)
		}
		if s.Kind == "many" && (len(s.Readers) != MaxStatusReaders || s.ReadersOmitted != 500 || s.Readers["r00000"] == "" || len(m.Value) > 100_000) {
			t.Errorf("status of %d readers: %d listed, %d omitted, %d bytes", MaxStatusReaders+500, len(s.Readers), s.ReadersOmitted, len(m.Value))
		}
	}
	if kinds[StatusStartup] != 1 || kinds[StatusHeartbeat] < 3 || kinds[StatusReader] != 1 || kinds[StatusShutdown] != 1 || kinds["many"] != 1 {
		t.Errorf("status kinds %v, want 1 startup, >=3 heartbeats, 1 reader, 1 shutdown", kinds)
	}
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
