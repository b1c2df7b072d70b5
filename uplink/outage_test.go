package uplink

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
	"github.com/twmb/franz-go/pkg/kfake"
)

// feeder adds records to q at a steady rate until stopped, like the edge
// engine and the buffer do while Kafka is away.
type feeder struct {
	q    *memQueue
	next uint64
	mu   sync.Mutex
	all  []buffer.Record
	stop chan struct{}
	done chan struct{}
}

func startFeeder(q *memQueue, perTick int, tick time.Duration) *feeder {
	fd := &feeder{q: q, next: 1, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(fd.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-fd.stop:
				return
			case <-t.C:
				fd.mu.Lock()
				rs := testRecords(testGateway, fd.next, perTick, 23)
				fd.next += uint64(perTick)
				fd.all = append(fd.all, rs...)
				fd.mu.Unlock()
				q.add(rs...)
			}
		}
	}()
	return fd
}

func (fd *feeder) count() int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return len(fd.all)
}

func (fd *feeder) finish() []buffer.Record {
	close(fd.stop)
	<-fd.done
	return fd.all
}

func portOf(t testing.TB, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// outage runs the forwarder against a kfake with a data directory, stops the
// broker for down, starts it again on the same port with its log, and
// checks that every event arrived in order per key.
func outage(t *testing.T, down time.Duration, librdkafka map[string]string) *logBuffer {
	dir := t.TempDir()
	c1 := newCluster(t, kfake.DataDir(dir))
	addrs := c1.ListenAddrs()
	port := portOf(t, addrs[0])

	q := newMemQueue()
	log, logs := testLogger(t)
	f, err := NewForwarder(Config{Brokers: addrs, MaxInFlight: 1000, Librdkafka: librdkafka,
		RetryBackoffMax: 2 * time.Second}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)
	fd := startFeeder(q, 20, 10*time.Millisecond) // 2,000 events/s

	time.Sleep(1500 * time.Millisecond)
	c1.Close()
	t.Logf("broker down at %d events", fd.count())
	time.Sleep(down)
	acked, total := q.stats()
	t.Logf("broker up again; %d of %d events acked", acked, total)
	c2 := newCluster(t, kfake.DataDir(dir), kfake.Ports(port))
	time.Sleep(1500 * time.Millisecond)
	want := fd.finish()

	if err := q.waitAcked(len(want), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	stop()
	got := consumeAll(t, c2.ListenAddrs(), testTopic, len(want), 20*time.Second)
	checkDelivery(t, got, want, q.releases())
	if q.ackDups != 0 || q.ackMiss != 0 {
		t.Errorf("acks: %d of already acked, %d of never leased", q.ackDups, q.ackMiss)
	}
	t.Logf("rewinds %d, records leased again %d", q.rewinds, q.releases())
	return logs
}

func TestForwarderBrokerDown(t *testing.T) {
	t.Parallel()
	logs := outage(t, 60*time.Second, nil) // the 60 s outage, events arriving all along
	if !logs.contains("all Kafka brokers are down") {
		t.Errorf("no log line about the outage; log:\n%s", logs)
	}
}

// With a small message.timeout.ms the forwarder gives up on the reports
// during the outage and recreates the producer: the events must be
// produced again from the buffer, in order.
func TestForwarderBrokerDownPastMessageTimeout(t *testing.T) {
	t.Parallel()
	logs := outage(t, 6*time.Second, map[string]string{"message.timeout.ms": "1500"})
	if !logs.contains("no delivery report within message.timeout.ms") {
		t.Errorf("no delivery failure logged, so the timeout was not exercised; log:\n%s", logs)
	}
}

// An in-memory broker restarted loses its log and the idempotent producer's
// state: the producer fails fatally and must be recreated.
func TestForwarderBrokerLostLog(t *testing.T) {
	t.Parallel()
	c1 := newCluster(t)
	addrs := c1.ListenAddrs()
	port := portOf(t, addrs[0])
	q := newMemQueue()
	log, logs := testLogger(t)
	f, err := NewForwarder(Config{Brokers: addrs, MaxInFlight: 1000, RetryBackoffMax: time.Second}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	first := testRecords(testGateway, 1, 3000, 23)
	q.add(first...)
	if err := q.waitAcked(len(first), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	c2 := newCluster(t, kfake.Ports(port))
	second := testRecords(testGateway, 3001, 3000, 23)
	q.add(second...)
	if err := q.waitAcked(len(first)+len(second), 45*time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, logs)
	}
	got := consumeAll(t, c2.ListenAddrs(), testTopic, len(second), 20*time.Second)
	checkDelivery(t, got, second, q.releases())
	if !logs.contains("failed fatally") {
		t.Errorf("producer not recreated after the broker lost its log; log:\n%s", logs)
	}
}

// The broker loses its log while events stream in and some are in flight:
// every event not acknowledged by the old broker must reach the new one.
func TestForwarderBrokerLostLogMidStream(t *testing.T) {
	t.Parallel()
	c1 := newCluster(t)
	addrs := c1.ListenAddrs()
	q := newMemQueue()
	log, logs := testLogger(t)
	f, err := NewForwarder(Config{Brokers: addrs, MaxInFlight: 2000, RetryBackoffMax: time.Second}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	fd := startFeeder(q, 20, 5*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	c1.Close()
	// Answers the old broker sent before it closed may still be on their
	// way; after a moment what is acked is all it had, and it is gone with
	// its log. The new broker does not exist yet, so it acked none of them.
	time.Sleep(time.Second)
	ackedBefore, _ := q.stats()
	c2 := newCluster(t, kfake.Ports(portOf(t, addrs[0])))
	time.Sleep(2 * time.Second)
	all := fd.finish()
	if err := q.waitAcked(len(all), 45*time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, logs)
	}
	// ever holds every seq acked; those acked by c1 are the first ackedBefore.
	want := q.unackedAt(all, ackedBefore)
	t.Logf("%d events, %d acked by the old broker, %d expected on the new one", len(all), ackedBefore, len(want))
	got := consumeAll(t, c2.ListenAddrs(), testTopic, len(want), 20*time.Second)
	checkDelivery(t, got, want, q.releases())
	if !logs.contains("failed fatally") {
		t.Errorf("producer not recreated; log:\n%s", logs)
	}
}

// Run returns when its context ends even while Kafka is away, and the
// events it could not deliver stay in the buffer.
func TestForwarderStopsDuringOutage(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	q := newMemQueue()
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), FlushTimeout: time.Second}, testGateway, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := runForwarder(t, f)
	first := testRecords(testGateway, 1, 100, 5)
	q.add(first...)
	if err := q.waitAcked(len(first), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Close()
	q.add(testRecords(testGateway, 101, 100, 5)...)
	time.Sleep(500 * time.Millisecond)
	stop() // fails the test if Run does not return within 30 s
	if a, _ := q.stats(); a != len(first) {
		t.Errorf("%d acked, want %d: events acked without Kafka", a, len(first))
	}
}
