package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/rfidgw/rfidgw/buffer"
	"github.com/rfidgw/rfidgw/internal/epcis"
	"github.com/rfidgw/rfidgw/internal/metrics"
	"github.com/rfidgw/rfidgw/internal/schema"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testEPCISTopic = "rfid.epcis"

// epcisRecords are movements of 13 EPCs (GS1 SGTIN-96 ones and foreign
// ones) plus one gap record, which has no EPCIS form.
func epcisRecords() []buffer.Record {
	recs := testRecords(testGateway, 1, 300, 13)
	for i := range recs {
		if i%2 == 0 { // half of them GS1 SGTIN-96 tags: 0x30 header
			old := string(recs[i].Key)
			epc := "3074257BF7194E40" + old[len(old)-8:]
			recs[i].Key = []byte(epc)
			recs[i].Value = []byte(strings.Replace(string(recs[i].Value), old, epc, 1))
		}
	}
	gap := buffer.Record{Seq: 301, Key: []byte(testGateway), Type: "gap", Time: recs[0].Time, Committed: time.Now(),
		Value: []byte(`{"schema":1,"id":"floor3-301","seq":301,"gateway":"floor3","type":"gap","epc":null,"epc_uri":null,"time":"2026-11-25T10:00:00.301Z","zone":null,"from":null,"to":null,"dropped":3,"first_seq":302,"last_seq":304,"evidence":null}`)}
	return append(recs, gap)
}

// checkEPCIS checks the EPCIS topic: one message per movement, keyed by
// the EPC, in seq order per EPC, each a valid EPCIS 2.0 event whose
// eventID is its hash.
func checkEPCIS(t *testing.T, got []*kgo.Record, want []buffer.Record) {
	t.Helper()
	byKey := map[string]uint64{}
	seen := map[uint64]bool{}
	for _, m := range got {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if h[HeaderType] != HeaderEPCISType || h[HeaderContentType] != "application/ld+json" || h[HeaderSource] != "rfidgw/"+testGateway {
			t.Fatalf("headers %v", h)
		}
		var ev map[string]any
		dec := json.NewDecoder(strings.NewReader(string(m.Value)))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		n, _ := ev["rfidgw:seq"].(json.Number).Int64()
		seq := uint64(n)
		if ev["rfidgw:epc"] != string(m.Key) {
			t.Errorf("seq %d: key %s, rfidgw:epc %v", seq, m.Key, ev["rfidgw:epc"])
		}
		if last := byKey[string(m.Key)]; seq < last {
			t.Errorf("key %s: seq %d after %d on the EPCIS topic", m.Key, seq, last)
		}
		byKey[string(m.Key)] = seq
		seen[seq] = true
		if id, _, err := epcis.HashEvent(ev, map[string]string{epcis.Prefix: epcis.Namespace}); err != nil || id != ev["eventID"] {
			t.Errorf("seq %d: eventID %v, hash %s %v", seq, ev["eventID"], id, err)
		}
		if err := schema.ValidateEPCIS(m.Value); err != nil && !errors.Is(err, schema.ErrNoEPCISSchema) {
			t.Errorf("seq %d: %v", seq, err)
		}
		if strings.HasPrefix(string(m.Key), "30") != strings.Contains(string(m.Value), `"urn:epc:id:sgtin:`) {
			t.Errorf("seq %d: epcList of %s: %s", seq, m.Key, m.Value)
		}
	}
	for _, r := range want {
		if r.Type != "gap" && !seen[r.Seq] {
			t.Errorf("seq %d missing on the EPCIS topic", r.Seq)
		}
	}
}

func TestEPCISTopic(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(testPartitions, testEPCISTopic))
	q := newMemQueue()
	want := epcisRecords()
	q.add(want...)
	log, _ := testLogger(t)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), EPCISTopic: testEPCISTopic, MaxInFlight: 64}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	if err := q.waitAcked(len(want), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	checkDelivery(t, consumeAll(t, c.ListenAddrs(), testTopic, len(want), 10*time.Second), want, 0)
	checkEPCIS(t, consumeAll(t, c.ListenAddrs(), testEPCISTopic, len(want)-1, 10*time.Second), want)
	if q.ackDups != 0 || q.ackMiss != 0 {
		t.Errorf("acks: %d of already acked, %d of never leased", q.ackDups, q.ackMiss)
	}
}

// TestEPCISTopicHoldsTheBuffer: while the EPCIS topic does not exist, no
// record is acknowledged (they all stay in the buffer), however healthy the
// events topic is; once it exists, everything reaches both topics.
func TestEPCISTopicHoldsTheBuffer(t *testing.T) {
	c := newCluster(t)
	q := newMemQueue()
	want := epcisRecords()
	q.add(want...)
	log, lb := testLogger(t)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), EPCISTopic: testEPCISTopic, RetryBackoffMax: 300 * time.Millisecond}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	deadline := time.Now().Add(20 * time.Second)
	for !lb.contains(testEPCISTopic) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // several retries
	if acked, _ := q.stats(); acked != 0 {
		t.Fatalf("%d records acknowledged while the EPCIS topic is missing", acked)
	}
	adm := kadm.NewClient(mustKgo(t, c.ListenAddrs()))
	defer adm.Close()
	if _, err := adm.CreateTopic(context.Background(), testPartitions, 1, nil, testEPCISTopic); err != nil {
		t.Fatal(err)
	}
	if err := q.waitAcked(len(want), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	checkDelivery(t, consumeAll(t, c.ListenAddrs(), testTopic, len(want), 10*time.Second), want, len(want))
	checkEPCIS(t, consumeAll(t, c.ListenAddrs(), testEPCISTopic, len(want)-1, 10*time.Second), want)
}

func mustKgo(t *testing.T, addrs []string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestAckNeedsEveryPart: the delivery reports of a record's two messages
// ack it only when both succeeded; one failure and it is not acked (it goes
// out again, whole, after the rewind, which forgets partial counts).
func TestAckNeedsEveryPart(t *testing.T) {
	log, _ := testLogger(t)
	f := &Forwarder{pend: map[uint64]uint8{}, wake: make(chan struct{}, 1), lastLog: map[string]time.Time{}, log: log, m: metrics.New()}
	events, ep := testTopic, testEPCISTopic
	report := func(topic *string, seq uint64, parts uint8, err error) []uint64 {
		var acks []uint64
		if n := f.handle(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: topic, Error: err}, Opaque: partOpaque{seq, parts}}, &acks); n != 1 {
			t.Fatalf("report counted %d", n)
		}
		return acks
	}
	if a := report(&events, 1, 2, nil); len(a) != 0 {
		t.Fatalf("acked %v after the first of two reports", a)
	}
	if a := report(&ep, 1, 2, nil); len(a) != 1 || a[0] != 1 {
		t.Fatalf("acks %v after both reports, want [1]", a)
	}
	if a := report(&events, 7, 1, nil); len(a) != 1 || a[0] != 7 { // a gap: one message
		t.Fatalf("acks %v for a one-message record", a)
	}
	// seq 2: the events message is delivered, the EPCIS one fails.
	if a := report(&events, 2, 2, nil); len(a) != 0 {
		t.Fatal(a)
	}
	if a := report(&ep, 2, 2, kafka.NewError(kafka.ErrUnknownTopicOrPart, "gone", false)); len(a) != 0 {
		t.Fatalf("acked %v after a failed part", a)
	}
	if _, failure := f.failure(); failure == nil || !strings.Contains(failure.Error(), testEPCISTopic) {
		t.Errorf("failure %v does not name the EPCIS topic", failure)
	}
	// The rewind forgets the partial count: the record needs both reports again.
	f.clearPending()
	if a := report(&ep, 2, 2, nil); len(a) != 0 {
		t.Fatalf("acked %v on one report after the rewind", a)
	}
	if a := report(&events, 2, 2, nil); len(a) != 1 {
		t.Fatalf("acks %v", a)
	}
}

// TestEPCISTopicLostMidRun: the EPCIS topic disappears while events flow and
// comes back; nothing is lost on either topic and no record is acked before
// both topics have it.
func TestEPCISTopicLostMidRun(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(testPartitions, testEPCISTopic))
	q := newMemQueue()
	log, _ := testLogger(t)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs(), EPCISTopic: testEPCISTopic, MaxInFlight: 200, RetryBackoffMax: 500 * time.Millisecond,
		Librdkafka: map[string]string{"topic.metadata.refresh.interval.ms": "500"}}, testGateway, q, log)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	fd := startFeeder(q, 20, 20*time.Millisecond)
	adm := kadm.NewClient(mustKgo(t, c.ListenAddrs()))
	defer adm.Close()
	deadline := time.Now().Add(20 * time.Second)
	for acked, _ := q.stats(); acked < 200 && time.Now().Before(deadline); acked, _ = q.stats() {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := adm.DeleteTopics(context.Background(), testEPCISTopic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := adm.CreateTopic(context.Background(), testPartitions, 1, nil, testEPCISTopic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	want := fd.finish()
	if err := q.waitAcked(len(want), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	checkDelivery(t, consumeAll(t, c.ListenAddrs(), testTopic, len(want), 20*time.Second), want, len(want))
	// The recreated topic holds what was produced after the loss; every
	// record acked after it must be there (records acked before the loss
	// were on the old topic, which the hub had read).
	onNew := map[string]bool{}
	for _, m := range consumeAll(t, c.ListenAddrs(), testEPCISTopic, len(want), 3*time.Second) { // fewer than len(want) are there
		onNew[string(m.Headers[1].Value)] = true
	}
	missing := 0
	for _, r := range want[len(want)-100:] { // the last records were produced after the recreation
		if !onNew[EventID(testGateway, "", r.Seq)] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of the last 100 records missing on the recreated EPCIS topic", missing)
	}
	t.Logf("%d records, %d on the recreated EPCIS topic", len(want), len(onNew))
}

// `rfidgw check` covers the EPCIS topic when one is configured.
func TestCheckEPCISTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := Check(ctx, Config{Brokers: c.ListenAddrs(), EPCISTopic: testEPCISTopic}); !errors.Is(err, ErrTopicMissing) || !strings.Contains(err.Error(), testEPCISTopic) {
		t.Errorf("Check without the EPCIS topic: %v, want ErrTopicMissing naming it", err)
	}
	adm := kadm.NewClient(mustKgo(t, c.ListenAddrs()))
	defer adm.Close()
	if _, err := adm.CreateTopic(ctx, testPartitions, 1, nil, testEPCISTopic); err != nil {
		t.Fatal(err)
	}
	msg, err := Check(ctx, Config{Brokers: c.ListenAddrs(), EPCISTopic: testEPCISTopic})
	if err != nil || !strings.Contains(msg, testEPCISTopic+" 3 partitions") {
		t.Errorf("Check: %q %v", msg, err)
	}
	if _, err := Check(ctx, Config{Brokers: c.ListenAddrs(), EPCISTopic: testTopic}); !errors.Is(err, ErrConfig) {
		t.Errorf("EPCIS topic = events topic: %v, want ErrConfig", err)
	}
}
