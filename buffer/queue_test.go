package buffer

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/edge"
)

func TestAppendAssignsSeqAndGateway(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	evs := appendN(t, q, 0, 3)
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Gateway != "floor3" {
			t.Errorf("event %d: seq %d gateway %q, want seq %d gateway floor3", i, ev.Seq, ev.Gateway, i+1)
		}
	}
	more := appendN(t, q, 3, 2)
	if more[0].Seq != 4 || more[1].Seq != 5 {
		t.Errorf("second append seqs %d,%d, want 4,5", more[0].Seq, more[1].Seq)
	}
	recs := leaseAll(t, q)
	if got := seqsOf(recs); !slices.Equal(got, seqRange(1, 5)) {
		t.Fatalf("leased %v, want 1..5", got)
	}
	all := append(evs, more...)
	for i, r := range recs {
		ev := all[i]
		if want := ev.AppendJSON(nil); !bytes.Equal(r.Value, want) {
			t.Errorf("record %d value\n%s\nwant\n%s", r.Seq, r.Value, want)
		}
		if string(r.Key) != ev.EPC || r.Type != string(edge.RackMove) || !r.Time.Equal(ev.Time) || r.Committed.IsZero() {
			t.Errorf("record %d: key %q type %q time %v committed %v", r.Seq, r.Key, r.Type, r.Time, r.Committed)
		}
	}
	st := q.Stats()
	if st.Events != 5 || st.OldestSeq != 1 || st.NewestSeq != 5 || st.LastSeq != 5 || st.Bytes <= 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLeaseAckRewind(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	appendN(t, q, 0, 10)
	ctx := context.Background()
	a, err := q.Lease(ctx, 4)
	if err != nil || !slices.Equal(seqsOf(a), seqRange(1, 4)) {
		t.Fatalf("Lease(4) = %v, %v; want 1..4", seqsOf(a), err)
	}
	b, err := q.Lease(ctx, 100)
	if err != nil || !slices.Equal(seqsOf(b), seqRange(5, 10)) {
		t.Fatalf("Lease(100) = %v, %v; want 5..10", seqsOf(b), err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = q.Lease(short, 10)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lease with everything leased: %v, want deadline exceeded", err)
	}
	if err := q.Ack(1, 2, 7); err != nil {
		t.Fatal(err)
	}
	q.Rewind()
	c, err := q.Lease(ctx, 100)
	if want := []uint64{3, 4, 5, 6, 8, 9, 10}; err != nil || !slices.Equal(seqsOf(c), want) {
		t.Fatalf("after Rewind: %v, %v; want %v", seqsOf(c), err, want)
	}
	// A Lease waiting on an empty queue wakes up on Append.
	if err := q.Ack(seqRange(1, 10)...); err != nil {
		t.Fatal(err)
	}
	got := make(chan []uint64)
	go func() {
		recs, _ := q.Lease(ctx, 10)
		got <- seqsOf(recs)
	}()
	time.Sleep(20 * time.Millisecond)
	appendN(t, q, 10, 1)
	if s := <-got; !slices.Equal(s, []uint64{11}) {
		t.Fatalf("waiting Lease got %v, want [11]", s)
	}
	// The acks reach the file.
	deadline := time.Now().Add(5 * time.Second)
	for q.Stats().Events != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("acked records not deleted: %+v", q.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	q.Rewind()
	if d, _ := q.Lease(ctx, 100); !slices.Equal(seqsOf(d), []uint64{11}) {
		t.Fatalf("after acks and Rewind: %v, want [11]", seqsOf(d))
	}
}

func TestAckAndAppendBadInput(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	appendN(t, q, 0, 2)
	for _, s := range []uint64{0, 3, 1 << 40} {
		if err := q.Ack(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Ack(%d) = %v, want ErrInvalid", s, err)
		}
	}
	if err := q.Ack(2, 2, 2); err != nil {
		t.Errorf("duplicate acks: %v", err)
	}
	if err := q.Append(context.Background(), []edge.Event{{}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Append of an event without type: %v, want ErrInvalid", err)
	}
	if err := q.Append(context.Background(), nil, []StateChange{{Value: []byte("x")}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Append of a state change without key: %v, want ErrInvalid", err)
	}
	if _, err := q.Lease(context.Background(), 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Lease(0): %v, want ErrInvalid", err)
	}
	for _, o := range []Options{{Gateway: ""}, {Gateway: "Floor 3"}, {Gateway: "f", OnFull: "drop_newest"}, {Gateway: "f", MaxBytes: -1}} {
		if _, err := Open(t.TempDir(), o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open with %+v: %v, want ErrInvalid", o, err)
		}
	}
}

func TestRestartKeepsSeqAndState(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	evs := testEvents(0, 5)
	state := []StateChange{{Key: []byte("E1"), Value: []byte("rack-A12")}, {Key: []byte("E2"), Value: []byte("rack-B1")}}
	if err := q.Append(ctx, evs, state); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, nil, []StateChange{{Key: []byte("E2")}}); err != nil {
		t.Fatal(err)
	}
	recs, _ := q.Lease(ctx, 3)
	if err := q.Ack(seqsOf(recs)...); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, testEvents(0, 1), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}

	q = openQueue(t, dir, testOptions())
	st := q.Stats()
	if st.Events != 2 || st.OldestSeq != 4 || st.NewestSeq != 5 || st.LastSeq != 5 {
		t.Errorf("stats after restart %+v, want events 4..5", st)
	}
	got := map[string]string{}
	if err := q.LoadState(func(k, v []byte) { got[string(k)] = string(v) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["E1"] != "rack-A12" {
		t.Errorf("state after restart %v, want E1=rack-A12 only", got)
	}
	more := appendN(t, q, 5, 3)
	if more[0].Seq != 6 || more[2].Seq != 8 {
		t.Errorf("seqs after restart %d..%d, want 6..8", more[0].Seq, more[2].Seq)
	}
	if all := leaseAll(t, q); !slices.Equal(seqsOf(all), seqRange(4, 8)) {
		t.Errorf("leased %v after restart, want 4..8", seqsOf(all))
	}
	// Everything acked: seq still continues after the next restart.
	if err := q.Ack(seqRange(4, 8)...); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, dir, testOptions())
	if st := q.Stats(); st.Events != 0 || st.LastSeq != 8 {
		t.Errorf("stats after acking everything and restarting: %+v", st)
	}
	if e := appendN(t, q, 8, 1); e[0].Seq != 9 {
		t.Errorf("seq after empty restart %d, want 9", e[0].Seq)
	}
}

func TestConcurrentAppendsGapFree(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	const workers, per = 16, 100
	var wg sync.WaitGroup
	seen := make(chan uint64, workers*per*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				evs := testEvents(w*1000+i, 1+i%2)
				if err := q.Append(context.Background(), evs, nil); err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					seen <- e.Seq
				}
			}
		}()
	}
	wg.Wait()
	close(seen)
	var all []uint64
	for s := range seen {
		all = append(all, s)
	}
	slices.Sort(all)
	if want := seqRange(1, uint64(len(all))); !slices.Equal(all, want) {
		t.Fatalf("seqs not gap-free/unique: %d seqs", len(all))
	}
	if got := leaseAll(t, q); !slices.Equal(seqsOf(got), all) {
		t.Fatalf("leased %d records, want %d", len(got), len(all))
	}
}

// An Append whose ctx ends races with the committer: either it is stored
// (nil, seq set) or not at all (error, seq untouched); no seq is used up
// by an abandoned call.
func TestAppendCancelledCtxAllOrNothing(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	stored := map[uint64]bool{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				if i%2 == 0 {
					cancel()
				} else {
					go cancel()
				}
				evs := testEvents(w*100+i, 2)
				err := q.Append(ctx, evs, nil)
				cancel()
				mu.Lock()
				switch {
				case err == nil && evs[0].Seq > 0 && evs[1].Seq == evs[0].Seq+1:
					stored[evs[0].Seq], stored[evs[1].Seq] = true, true
				case err != nil && errors.Is(err, context.Canceled) && evs[0].Seq == 0 && evs[1].Seq == 0:
				default:
					t.Errorf("Append = %v with seqs %d,%d", err, evs[0].Seq, evs[1].Seq)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var want []uint64
	for s := range stored {
		want = append(want, s)
	}
	slices.Sort(want)
	if !slices.Equal(want, seqRange(1, uint64(len(want)))) {
		t.Fatalf("stored seqs are not 1..%d", len(want))
	}
	if got := leaseAll(t, q); !slices.Equal(seqsOf(got), want) {
		t.Fatalf("buffer holds %d records, callers were told %d", len(got), len(want))
	}
}

// Acks beyond one transaction's cap are deleted by the following commits.
func TestManyAcksDeleted(t *testing.T) {
	opts := testOptions()
	opts.NoSync = true // not a durability test
	q := openQueue(t, t.TempDir(), opts)
	for i := range 5 {
		appendN(t, q, i*10000, 10000)
	}
	var seqs []uint64
	for {
		recs := leaseAll(t, q)
		if len(recs) == 0 {
			break
		}
		seqs = append(seqs, seqsOf(recs)...)
	}
	if len(seqs) != 50000 {
		t.Fatalf("leased %d, want 50000", len(seqs))
	}
	if counterValue(t, testMetrics.UplinkLagSeconds) <= 0 || q.Stats().OldestAge <= 0 {
		t.Errorf("lag not reported with 50,000 pending: %+v", q.Stats())
	}
	if err := q.Ack(seqs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all acks deleted", func() bool { return q.Stats().Events == 0 })
	if st := q.Stats(); st.Bytes != 0 || st.OldestSeq != 0 {
		t.Errorf("stats after acking everything: %+v", st)
	}
	waitFor(t, "lag 0", func() bool { return counterValue(t, testMetrics.UplinkLagSeconds) == 0 })
}

// Concurrent Leases never hand out the same record twice (Lease claims
// what it read only if no other Lease moved the read position meanwhile).
func TestConcurrentLeasesDisjoint(t *testing.T) {
	q := openQueue(t, t.TempDir(), testOptions())
	const total = 5000
	for i := 0; i < total; i += 500 {
		appendN(t, q, i, 500)
	}
	var mu sync.Mutex
	seen := map[uint64]int{}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				recs, err := q.Lease(ctx, 37)
				cancel()
				if err != nil {
					return
				}
				mu.Lock()
				for _, r := range recs {
					seen[r.Seq]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Errorf("leased %d distinct records, want %d", len(seen), total)
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("seq %d leased %d times", s, n)
		}
	}
}

// Appends racing Close either commit (and are there after reopening) or
// get ErrClosed; none hangs.
func TestAppendRacingClose(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var stored []uint64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				evs := testEvents(g*100000+i, 1)
				err := q.Append(context.Background(), evs, nil)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append racing Close: %v", err)
					return
				}
				mu.Lock()
				stored = append(stored, evs[0].Seq)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Appends still blocked 30 s after Close")
	}
	q = openQueue(t, dir, testOptions())
	have := map[uint64]bool{}
	for _, r := range leaseAll(t, q) {
		have[r.Seq] = true
	}
	for _, s := range stored {
		if !have[s] {
			t.Errorf("seq %d: Append returned nil before Close but it is not stored", s)
		}
	}
	if len(stored) == 0 {
		t.Error("no Append succeeded before Close")
	}
}
