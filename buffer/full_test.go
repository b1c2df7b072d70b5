package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

// recordSize is the stored size of testEvent(i) at a one- or two-digit seq.
func recordSize(t *testing.T) int64 {
	t.Helper()
	q := openQueue(t, t.TempDir(), testOptions())
	appendN(t, q, 0, 1)
	return q.Stats().Bytes
}

type gapJSON struct {
	Type     string `json:"type"`
	Seq      uint64 `json:"seq"`
	ID       string `json:"id"`
	Gateway  string `json:"gateway"`
	Dropped  uint64 `json:"dropped"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

func parseGap(t *testing.T, r Record) gapJSON {
	t.Helper()
	var g gapJSON
	if err := json.Unmarshal(r.Value, &g); err != nil {
		t.Fatalf("record %d: %v: %s", r.Seq, err, r.Value)
	}
	if g.Type != "gap" || r.Type != "gap" || string(r.Key) != "floor3" || g.Seq != r.Seq || g.Gateway != "floor3" {
		t.Fatalf("record %d is not a gap event keyed by the gateway: key %q %s", r.Seq, r.Key, r.Value)
	}
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullDropOldest(t *testing.T) {
	size := recordSize(t)
	opts := testOptions()
	opts.MaxBytes = 10*size + size/2
	q := openQueue(t, t.TempDir(), opts)
	dropped0 := counterValue(t, testMetrics.EventsDropped)
	gaps0 := counterValue(t, testMetrics.EventsTotal.WithLabelValues("gap"))

	for i := range 30 {
		appendN(t, q, i, 1) // drop_oldest never refuses
	}
	st := q.Stats()
	if st.Bytes > opts.MaxBytes || st.PendingGap == 0 || st.LastSeq != 30 {
		t.Fatalf("stats after overfilling: %+v (max %d)", st, opts.MaxBytes)
	}
	lost := st.PendingGap
	if got := counterValue(t, testMetrics.EventsDropped) - dropped0; got != float64(lost) {
		t.Errorf("rfidgw_events_dropped_total grew by %v, want %d", got, lost)
	}
	if st.Dropped != lost {
		t.Errorf("Stats().Dropped = %d, want %d", st.Dropped, lost)
	}
	kept := leaseAll(t, q)
	if want := seqRange(lost+1, 30); !slices.Equal(seqsOf(kept), want) {
		t.Fatalf("kept %v, want the newest %v", seqsOf(kept), want)
	}
	// Room returns: the run of drops ends with exactly one gap event,
	// before the next event.
	if err := q.Ack(seqsOf(kept)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acks committed", func() bool { return q.Stats().Events == 0 })
	next := appendN(t, q, 100, 1)
	if next[0].Seq != 32 {
		t.Errorf("event after the gap has seq %d, want 32", next[0].Seq)
	}
	recs := leaseAll(t, q)
	if !slices.Equal(seqsOf(recs), []uint64{31, 32}) {
		t.Fatalf("after room returned: %v, want gap 31 then event 32", seqsOf(recs))
	}
	g := parseGap(t, recs[0])
	if g.Dropped != lost || g.FirstSeq != 1 || g.LastSeq != lost || g.ID != "floor3-31" {
		t.Errorf("gap event %+v, want dropped %d seq 1..%d", g, lost, lost)
	}
	if got := counterValue(t, testMetrics.EventsTotal.WithLabelValues("gap")) - gaps0; got != 1 {
		t.Errorf("gap events counted %v, want 1", got)
	}
	if q.Stats().PendingGap != 0 {
		t.Errorf("pending gap after writing it: %+v", q.Stats())
	}

	// Gap events themselves are never dropped: overfill again with the gap
	// event (31) still undelivered.
	if err := q.Ack(32); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		appendN(t, q, 200+i, 1)
	}
	q.Rewind()
	recs = leaseAll(t, q)
	if len(recs) == 0 || recs[0].Seq != 31 || recs[0].Type != "gap" {
		t.Fatalf("the first gap event was dropped: %v", seqsOf(recs))
	}
	if q.Stats().PendingGap == 0 {
		t.Errorf("second run of drops not recorded: %+v", q.Stats())
	}
}

func TestFullRejectNew(t *testing.T) {
	size := recordSize(t)
	opts := testOptions()
	opts.OnFull = RejectNew
	opts.MaxBytes = 5*size + size/2
	q := openQueue(t, t.TempDir(), opts)
	dropped0 := counterValue(t, testMetrics.EventsDropped)
	ctx := context.Background()

	appendN(t, q, 0, 5)
	evs := testEvents(5, 2)
	state := []StateChange{{Key: []byte("E"), Value: []byte("rack")}}
	err := q.Append(ctx, evs, state)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append to a full buffer: %v, want ErrFull", err)
	}
	if evs[0].Seq != 6 || evs[1].Seq != 7 {
		t.Errorf("rejected events got seqs %d,%d, want 6,7 (recorded as lost)", evs[0].Seq, evs[1].Seq)
	}
	if err := q.Append(ctx, testEvents(7, 1), nil); !errors.Is(err, ErrFull) {
		t.Fatalf("second Append to a full buffer: %v, want ErrFull", err)
	}
	if got := counterValue(t, testMetrics.EventsDropped) - dropped0; got != 3 {
		t.Errorf("dropped counter grew by %v, want 3", got)
	}
	if err := q.Ready(); err != nil {
		t.Errorf("a full buffer is still ready (it works as configured): %v", err)
	}
	nstate := 0
	_ = q.LoadState(func(k, v []byte) { nstate++ })
	if nstate != 0 {
		t.Errorf("state of a rejected Append was stored")
	}
	kept := leaseAll(t, q)
	if !slices.Equal(seqsOf(kept), seqRange(1, 5)) {
		t.Fatalf("kept %v, want 1..5 (reject_new keeps the old events)", seqsOf(kept))
	}
	if err := q.Ack(seqsOf(kept)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acks committed", func() bool { return q.Stats().Events == 0 })
	next := appendN(t, q, 10, 1)
	recs := leaseAll(t, q)
	if next[0].Seq != 10 || !slices.Equal(seqsOf(recs), []uint64{9, 10}) {
		t.Fatalf("after room returned: event seq %d, records %v; want gap 9 then event 10", next[0].Seq, seqsOf(recs))
	}
	if g := parseGap(t, recs[0]); g.Dropped != 3 || g.FirstSeq != 6 || g.LastSeq != 8 {
		t.Errorf("gap event %+v, want dropped 3 seq 6..8", g)
	}
}

func TestGapWrittenAfterGapInterval(t *testing.T) {
	size := recordSize(t)
	opts := testOptions()
	opts.OnFull = RejectNew
	opts.MaxBytes = 2 * size
	opts.GapInterval = 50 * time.Millisecond
	q := openQueue(t, t.TempDir(), opts)
	appendN(t, q, 0, 2)
	if err := q.Append(context.Background(), testEvents(2, 4), nil); !errors.Is(err, ErrFull) {
		t.Fatalf("want ErrFull, got %v", err)
	}
	// Still full, nobody appends: the tick writes the gap event anyway.
	recs := leaseAll(t, q)
	waitFor(t, "gap event", func() bool {
		recs = append(recs, leaseAll(t, q)...)
		return len(recs) == 3
	})
	if g := parseGap(t, recs[2]); g.Dropped != 4 || g.FirstSeq != 3 || g.LastSeq != 6 || g.Seq != 7 {
		t.Errorf("gap event %+v, want seq 7 dropped 4 seq 3..6", g)
	}
}

// Records the uplink holds in flight are not what drop_oldest drops first:
// they will most likely reach Kafka, and the gap event must not claim them.
func TestFullDropOldestSparesLeasedRecords(t *testing.T) {
	size := recordSize(t)
	opts := testOptions()
	opts.MaxBytes = 10*size + size/2
	q := openQueue(t, t.TempDir(), opts)
	for i := range 10 {
		appendN(t, q, i, 1)
	}
	inFlight, err := q.Lease(context.Background(), 3) // seq 1..3 handed to the producer
	if err != nil || !slices.Equal(seqsOf(inFlight), []uint64{1, 2, 3}) {
		t.Fatalf("lease: %v %v", seqsOf(inFlight), err)
	}
	for i := range 4 {
		appendN(t, q, 10+i, 1) // 4 more than fit: 4 must go
	}
	st := q.Stats()
	if st.PendingGap != 4 {
		t.Fatalf("pending gap %d, want 4: %+v", st.PendingGap, st)
	}
	// The leased 1..3 stay; the oldest unleased 4..7 were dropped.
	q.Rewind()
	kept := leaseAll(t, q)
	if want := append([]uint64{1, 2, 3}, seqRange(8, 14)...); !slices.Equal(seqsOf(kept), want) {
		t.Fatalf("kept %v, want %v", seqsOf(kept), want)
	}
	if err := q.Ack(seqsOf(kept)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acks committed", func() bool { return q.Stats().Events == 0 })
	appendN(t, q, 100, 1)
	recs := leaseAll(t, q)
	g := parseGap(t, recs[0])
	if g.Dropped != 4 || g.FirstSeq != 4 || g.LastSeq != 7 {
		t.Errorf("gap event %+v, want dropped 4, seq 4..7", g)
	}
}

// A buffer smaller than the in-flight window: every stored record is leased,
// so drop_oldest drops the new events and the gap event names exactly them.
func TestFullDropOldestAllInFlight(t *testing.T) {
	size := recordSize(t)
	opts := testOptions()
	opts.MaxBytes = 5*size + size/2
	q := openQueue(t, t.TempDir(), opts)
	for i := range 5 {
		appendN(t, q, i, 1)
	}
	inFlight, err := q.Lease(context.Background(), 100)
	if err != nil || len(inFlight) != 5 {
		t.Fatalf("lease: %v %v", seqsOf(inFlight), err)
	}
	ev := []edge.Event{{Type: edge.RackMove, EPC: "E28011606000020D8F3A1B2C", Time: time.Unix(1_800_000_000, 0)}}
	if err := q.Append(context.Background(), ev, nil); !errors.Is(err, ErrFull) {
		t.Fatalf("append with everything in flight: %v, want ErrFull", err)
	}
	if err := q.Ack(seqsOf(inFlight)...); err != nil { // Kafka took the in-flight ones
		t.Fatal(err)
	}
	waitFor(t, "acks committed", func() bool { return q.Stats().Events == 0 })
	appendN(t, q, 100, 1)
	recs := leaseAll(t, q)
	g := parseGap(t, recs[0])
	if g.Dropped != 1 || g.FirstSeq != 6 || g.LastSeq != 6 {
		t.Errorf("gap event %+v, want exactly the new event, seq 6", g)
	}
}
