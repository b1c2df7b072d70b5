package uplink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rfidgw/rfidgw/buffer"
)

func produceRaw(t *testing.T, addrs []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(testTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func eventRec(gw string, seq uint64, key string) *kgo.Record {
	return &kgo.Record{Key: []byte(key), Value: fmt.Appendf(nil, `{"schema":1,"id":"%s-%d","seq":%d,"gateway":"%s","type":"inward"}`, gw, seq, seq, gw)}
}

func TestTailFindsHoleAndDuplicate(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	// seq 4 is lost and seq 3 comes twice; the keys spread the events
	// over the partitions, so they are read out of seq order.
	var recs []*kgo.Record
	for _, s := range []uint64{1, 2, 3, 5, 3, 6, 7, 8} {
		recs = append(recs, eventRec("floor3", s, fmt.Sprintf("EPC%d", s%3)))
	}
	recs = append(recs, eventRec("floor4", 1, "EPCX"), eventRec("floor4", 3, "EPCY"),
		// floor4 dropped 4..6 and says so with gap event 7.
		&kgo.Record{Key: []byte("floor4"), Value: []byte(`{"schema":1,"id":"floor4-7","seq":7,"gateway":"floor4","type":"gap","dropped":3,"first_seq":4,"last_seq":6}`)},
		&kgo.Record{Key: []byte("x"), Value: []byte("not json")})
	produceRaw(t, c.ListenAddrs(), recs...)

	var out, warn bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Tail(ctx, TailOptions{Brokers: c.ListenAddrs(), Topic: testTopic, FromBeginning: true,
		Gateway: "floor3", Count: 8}, &out, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 8 {
		t.Errorf("%d events printed, want 8 of floor3:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "floor4") {
		t.Errorf("gateway filter let floor4 through:\n%s", out.String())
	}
	w := warn.String()
	for _, want := range []string{"DUPLICATE gateway=floor3 id=floor3-3 seq=3", "HOLE gateway=floor3 seq=4..4 missing=1"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Count(w, "HOLE") != 1 || strings.Count(w, "DUPLICATE") != 1 {
		t.Errorf("want exactly one hole and one duplicate:\n%s", w)
	}

	// Without the filter floor4's hole (seq 2) and the bad record show too.
	out.Reset()
	warn.Reset()
	ctx2, cancel2 := context.WithTimeout(ctx, 4*time.Second)
	defer cancel2()
	if err := Tail(ctx2, TailOptions{Brokers: c.ListenAddrs(), Topic: testTopic, FromBeginning: true, HoleGrace: time.Second}, &out, &warn); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOLE gateway=floor4 seq=2..2 missing=1\n", "NOT-JSON",
		"HOLE gateway=floor4 seq=4..6 missing=3 (dropped by the gateway"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, warn.String())
		}
	}
}

// Events of a healthy forwarder, spread over partitions and read out of seq
// order, must give no warning at all.
func TestTailNoFalseAlarms(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	q := newMemQueue()
	want := testRecords(testGateway, 1, 3000, 101)
	q.add(want...)
	f, err := NewForwarder(Config{Brokers: c.ListenAddrs()}, testGateway, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	if err := q.waitAcked(len(want), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Tail(ctx, TailOptions{Brokers: c.ListenAddrs(), FromBeginning: true, Count: len(want)}, &out, &warn); err != nil {
		t.Fatal(err)
	}
	if warn.Len() > 0 {
		t.Errorf("warnings on a clean stream:\n%s", warn.String())
	}
	if n := strings.Count(out.String(), "\n"); n != len(want) {
		t.Errorf("%d lines, want %d", n, len(want))
	}
}

func TestTailMissingTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, warn bytes.Buffer
	err := Tail(ctx, TailOptions{Brokers: c.ListenAddrs(), Topic: "nope"}, &out, &warn)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Tail on a missing topic: %v", err)
	}
}

func TestSpanSet(t *testing.T) {
	var s spanSet
	for _, x := range []uint64{5, 1, 3, 2, 9, 4, 10, 0} {
		s.Add(x, x)
	}
	if got := fmt.Sprint(s); got != "[{0 5} {9 10}]" {
		t.Fatalf("spans %s", got)
	}
	g := &gwTrack{seen: s}
	if h := fmt.Sprint(g.holes()); h != "[{6 8}]" {
		t.Fatalf("holes %s", h)
	}
	g.reported.Add(7, 7)
	if h := fmt.Sprint(g.holes()); h != "[{6 6} {8 8}]" {
		t.Fatalf("holes after reporting 7: %s", h)
	}
}

// FuzzSpanSet checks spanSet against a plain set.
func FuzzSpanSet(f *testing.F) {
	f.Add([]byte{5, 1, 3, 2, 9, 4, 10, 0})
	f.Add([]byte{0, 0, 255, 254, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, xs []byte) {
		var s spanSet
		model := map[uint64]bool{}
		for _, x := range xs {
			s.Add(uint64(x), uint64(x))
			model[uint64(x)] = true
		}
		for x := uint64(0); x < 257; x++ {
			if s.Contains(x) != model[x] {
				t.Fatalf("contains(%d) = %v, want %v; spans %v", x, s.Contains(x), model[x], s)
			}
		}
		for i := 1; i < len(s); i++ {
			if s[i].Lo <= s[i-1].Hi+1 {
				t.Fatalf("spans not disjoint and merged: %v", s)
			}
		}
	})
}

// A partition tail did not read from its start may lack events from just
// before the start: missing seqs below the first seq seen there are not
// holes. On partitions read from their start they are.
func TestSeqTrackerStartFloor(t *testing.T) {
	for _, cut := range []bool{true, false} {
		var warn bytes.Buffer
		tr := newSeqTracker([]int32{0, 1}, &warn)
		tr.cut[0], tr.cut[1] = cut, cut
		for _, o := range []struct {
			p   int32
			seq uint64
		}{{0, 10}, {1, 13}, {0, 11}, {1, 14}, {0, 16}} {
			tr.observe("g", "", o.seq, o.p, 0)
		}
		tr.settle(time.Now(), map[int32]bool{0: true, 1: true}, 0)
		want := "HOLE gateway=g seq=15..15 missing=1\n"
		if !cut {
			want = "HOLE gateway=g seq=12..12 missing=1\n" + want
		}
		if warn.String() != want {
			t.Errorf("cut=%v: warnings %q, want %q", cut, warn.String(), want)
		}
	}
}

// A new stream epoch starts again at seq 1: not a duplicate. A hole no gap
// event explains makes result fail (tail --fail-on-holes); one a gap event
// explains does not.
func TestSeqTrackerEpochsAndFailOnHoles(t *testing.T) {
	var warn bytes.Buffer
	tr := newSeqTracker([]int32{0}, &warn)
	for _, ep := range []string{"0000000100000001", "0000000200000002"} {
		for seq := uint64(1); seq <= 3; seq++ {
			tr.observe(streamName("g", ep), EventID("g", ep, seq), seq, 0, 0)
		}
	}
	tr.settle(time.Now(), map[int32]bool{0: true}, 0)
	if warn.Len() != 0 || tr.result(true) != nil {
		t.Fatalf("two epochs from seq 1: warnings %q, result %v", warn.String(), tr.result(true))
	}
	s := streamName("g", "0000000200000002")
	tr.observe(s, "", 6, 0, 1) // 4..5 missing, covered by a gap event
	tr.declare(s, 4, 5)
	tr.observe(s, "", 9, 0, 2) // 7..8 missing
	tr.settle(time.Now(), map[int32]bool{0: true}, 0)
	if !strings.Contains(warn.String(), "HOLE gateway=g epoch=0000000200000002 seq=7..8 missing=2\n") {
		t.Fatalf("warnings %q", warn.String())
	}
	if err := tr.result(true); !errors.Is(err, ErrHoles) || !strings.Contains(err.Error(), "2 seqs") {
		t.Fatalf("result = %v, want ErrHoles for 2 seqs", err)
	}
	if err := tr.result(false); err != nil {
		t.Fatalf("without fail-on-holes: %v", err)
	}
}

// The stored value gets the epoch in its id and an epoch field; a value of
// another form is sent unchanged.
func TestMessageEpoch(t *testing.T) {
	b := newMessageBuilder("t", "floor3")
	b.withEpochs(fixedEpochs{id: "0000000a0000000b", first: 5, old: "00000009000000ff"})
	r := buffer.Record{Seq: 7, Type: "inward", Key: []byte("AB"), Value: []byte(`{"schema":1,"id":"floor3-7","seq":7,"gateway":"floor3"}`)}
	m := b.build(&r)
	want := `{"schema":1,"id":"floor3-0000000a0000000b-7","epoch":"0000000a0000000b","seq":7,"gateway":"floor3"}`
	if string(m.Value) != want || string(m.Headers[1].Value) != "floor3-0000000a0000000b-7" {
		t.Fatalf("value %s, ce_id %s", m.Value, m.Headers[1].Value)
	}
	r = buffer.Record{Seq: 3, Type: "inward", Value: []byte(`{"schema":1,"id":"floor3-3","seq":3}`)}
	if m := b.build(&r); string(m.Value) != `{"schema":1,"id":"floor3-00000009000000ff-3","epoch":"00000009000000ff","seq":3}` {
		t.Fatalf("older epoch: %s", m.Value)
	}
	r = buffer.Record{Seq: 8, Type: "inward", Value: []byte(`{"schema":1,"id":"other-8"}`)}
	if m := b.build(&r); string(m.Value) != `{"schema":1,"id":"other-8"}` {
		t.Fatalf("unexpected form changed: %s", m.Value)
	}
}

type fixedEpochs struct {
	id, old string
	first   uint64
}

func (f fixedEpochs) Epoch() buffer.Epoch { return buffer.Epoch{ID: f.id, FirstSeq: f.first} }
func (f fixedEpochs) EpochOf(seq uint64) string {
	if seq >= f.first {
		return f.id
	}
	return f.old
}
