package buffer

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomOpsAccounting runs random Appends, Leases, Acks and Rewinds on
// a small buffer that overflows again and again, for each on_full policy,
// and then checks the accounting: every seq ever assigned is in the
// buffer, was acked, or lies in the range of a gap event, and the gap
// events count exactly the lost ones.
func TestRandomOpsAccounting(t *testing.T) {
	for _, policy := range []string{DropOldest, RejectNew} {
		t.Run(policy, func(t *testing.T) {
			size := recordSize(t)
			opts := testOptions()
			opts.OnFull = policy
			opts.MaxBytes = 40 * size
			opts.GapInterval = 30 * time.Millisecond
			opts.TickInterval = 5 * time.Millisecond
			q := openQueue(t, t.TempDir(), opts)
			dropped0 := counterValue(t, testMetrics.EventsDropped)
			rng := rand.New(rand.NewPCG(1, uint64(len(policy))))
			acked := map[uint64]bool{}
			type gap struct{ first, last, dropped uint64 }
			gaps := map[uint64]gap{} // by the gap event's seq; seen when leased
			see := func(recs []Record) {
				for _, r := range recs {
					if r.Type == "gap" {
						var g struct{ Dropped, First_seq, Last_seq uint64 }
						if err := json.Unmarshal(r.Value, &g); err != nil {
							t.Fatal(err)
						}
						gaps[r.Seq] = gap{g.First_seq, g.Last_seq, g.Dropped}
					}
				}
			}
			ctx := context.Background()
			for i := range 400 {
				switch op := rng.IntN(10); {
				case op < 5:
					_ = q.Append(ctx, testEvents(i*10, 1+rng.IntN(8)), nil) // ErrFull is expected
				case op < 8:
					lctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
					recs, _ := q.Lease(lctx, 1+rng.IntN(20))
					cancel()
					see(recs)
					var ack []uint64
					for _, r := range recs {
						if rng.IntN(3) > 0 {
							ack = append(ack, r.Seq)
							acked[r.Seq] = true
						}
					}
					if err := q.Ack(ack...); err != nil {
						t.Fatal(err)
					}
				default:
					q.Rewind()
				}
			}
			waitFor(t, "pending gap written", func() bool { return q.Stats().PendingGap == 0 })
			waitFor(t, "acks committed", func() bool {
				q.Rewind()
				for _, r := range leaseAll(t, q) {
					if acked[r.Seq] {
						return false
					}
				}
				return true
			})
			q.Rewind()
			present := map[uint64]bool{}
			recs := leaseAll(t, q)
			see(recs)
			for _, r := range recs {
				present[r.Seq] = true
			}
			var gapTotal uint64
			for _, g := range gaps {
				gapTotal += g.dropped
			}
			last := q.Stats().LastSeq
			var missing, lostUnacked uint64
			for s := uint64(1); s <= last; s++ {
				if present[s] {
					continue
				}
				missing++
				if acked[s] {
					continue // delivered (or dropped after it was leased)
				}
				lostUnacked++
				in := false
				for _, g := range gaps {
					in = in || (g.first <= s && s <= g.last)
				}
				if !in {
					t.Fatalf("seq %d is gone without being acked or covered by a gap event %v", s, gaps)
				}
			}
			if gapTotal < lostUnacked || gapTotal > missing {
				t.Fatalf("gap events count %d lost; %d seqs missing, %d of them never acked", gapTotal, missing, lostUnacked)
			}
			if got := counterValue(t, testMetrics.EventsDropped) - dropped0; got != float64(gapTotal) {
				t.Fatalf("dropped counter %v, gap events say %d", got, gapTotal)
			}
			if len(gaps) == 0 {
				t.Fatalf("the buffer never overflowed (last seq %d)", last)
			}
			t.Logf("%s: last seq %d, %d present, %d acked, %d lost in %d gap events", policy, last, len(present), len(acked), gapTotal, len(gaps))
		})
	}
}
