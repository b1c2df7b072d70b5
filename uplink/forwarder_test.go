package uplink

import (
	"testing"
	"time"
)

func TestForwarderHappyPath(t *testing.T) {
	c := newCluster(t)
	q := newMemQueue()
	want := testRecords(testGateway, 1, 2000, 37)
	q.add(want...)
	log, _ := testLogger(t)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), MaxInFlight: 500}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	f.SetStatusFunc(func() GatewayStatus {
		return GatewayStatus{Readers: map[string]string{"dock-door-1": ReaderOnline}, BufferEvents: 7}
	})
	stop := runForwarder(t, f)
	if err := q.waitAcked(len(want), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if !f.Connected() {
		t.Error("Connected() false after deliveries")
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
