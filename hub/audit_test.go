package hub

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

var quiet = testLogger()

func testLogger() *slog.Logger {
	if os.Getenv("HUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func ev(gw, epoch string, seq uint64, epc, typ string) (Event, []byte) {
	v := fmt.Sprintf(`{"schema":1,"id":"%s-%s-%d","epoch":"%s","seq":%d,"gateway":"%s","type":"%s","epc":"%s","time":"2026-11-25T10:00:00.000Z","zone":"rack-a","from":null,"to":{"zone":"rack-a","floor":"3","room":"r","row":"a","rack":"1"},"evidence":null}`,
		gw, epoch, seq, epoch, seq, gw, typ, epc)
	e, err := parseEvent([]byte(v))
	if err != nil {
		panic(err)
	}
	return e, []byte(v)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// Redeliveries are dropped, out-of-order seqs beyond the window are not
// taken for duplicates, a seq that comes back with other content is kept
// and reported, and memory stays bounded by the window.
func TestAuditDedupeWindow(t *testing.T) {
	a := NewAudit(256, time.Hour, quiet)
	const ep = "0000000100000001"
	order := rand.New(rand.NewPCG(1, 2)).Perm(5000)
	// Arrive in bursts that are locally shuffled (as several partitions deliver).
	for i := 0; i < 5000; i += 100 {
		chunk := order[:0:0]
		for j := i; j < i+100; j++ {
			chunk = append(chunk, j)
		}
		rand.New(rand.NewPCG(uint64(i), 3)).Shuffle(len(chunk), func(x, y int) { chunk[x], chunk[y] = chunk[y], chunk[x] })
		for _, j := range chunk {
			e, v := ev("g", ep, uint64(j+1), "AA", "rack_move")
			if got := a.Event(&e, v); got != VerdictNew {
				t.Fatalf("seq %d: verdict %d, want new", j+1, got)
			}
			if j%7 == 0 { // a redelivery right away
				if got := a.Event(&e, v); got != VerdictDuplicate {
					t.Fatalf("seq %d again: verdict %d, want duplicate", j+1, got)
				}
			}
		}
	}
	// A late event 1000 seqs behind (beyond the window) was seen: duplicate.
	e, v := ev("g", ep, 4000, "AA", "rack_move")
	if got := a.Event(&e, v); got != VerdictDuplicate {
		t.Fatalf("old redelivery: %d", got)
	}
	// The same seq with other content, while still in the window: a
	// rolled-back stream. (Below the window only the status rule below can
	// tell.)
	for _, s := range []uint64{5001, 5002, 5003, 5004, 5006} {
		e, v := ev("g", ep, s, "AA", "rack_move")
		a.Event(&e, v)
	}
	e, v = ev("g", ep, 5006, "BB", "rack_move")
	if got := a.Event(&e, v); got != VerdictRollback {
		t.Fatalf("other content: %d, want rollback", got)
	}
	tot := a.Totals()
	if tot.Delivered != 5005 || tot.Conflicts != 1 || tot.Missing != 0 {
		t.Fatalf("totals %+v", tot)
	}
	s := a.gws["g"].stream(ep)
	if s.win.bytes() > 256/8+256+200 || s.win.floor != 5005 {
		t.Fatalf("window holds %d bytes, floor %d", s.win.bytes(), s.win.floor)
	}
}

// A hole stays open while the gateway's status says its buffer still
// holds older events; once the buffer moved past it, it is missing; a gap
// event's range is dropped by policy; hole_timeout bounds the wait; a seq
// arriving after it was judged missing is late, not a duplicate.
func TestAuditHoleGrace(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := NewAudit(1024, 10*time.Minute, quiet)
	a.now = c.now
	const ep = "0000000100000001"
	for _, s := range []uint64{1, 2, 5, 6, 10} {
		e, v := ev("g", ep, s, "AA", "rack_move")
		a.Event(&e, v)
	}
	gap := []byte(`{"schema":1,"id":"g-` + ep + `-11","epoch":"` + ep + `","seq":11,"gateway":"g","type":"gap","epc":null,"time":"2026-11-25T10:00:00.000Z","zone":null,"from":null,"to":null,"dropped":3,"first_seq":7,"last_seq":9,"evidence":null}`)
	ge, err := parseEvent(gap)
	if err != nil {
		t.Fatal(err)
	}
	a.Event(&ge, gap)
	// The gateway still holds seq 3 and up (an outage): nothing is missing.
	a.Status(&Status{Schema: 1, Gateway: "g", Time: c.t, Kind: "heartbeat", Epoch: ep, EpochFirstSeq: 1, LastSeq: 11, OldestSeq: 3})
	c.t = c.t.Add(5 * time.Minute)
	a.Settle()
	if tot := a.Totals(); tot.Missing != 0 || tot.Gapped != 0 {
		t.Fatalf("while the buffer holds them: %+v", tot)
	}
	// Its buffer is empty now: 3..4 are missing, 7..9 dropped by policy.
	c.t = c.t.Add(time.Second)
	a.Status(&Status{Schema: 1, Gateway: "g", Time: c.t, Kind: "heartbeat", Epoch: ep, EpochFirstSeq: 1, LastSeq: 11})
	a.Settle()
	tot := a.Totals()
	if tot.Missing != 2 || tot.Gapped != 3 {
		t.Fatalf("after the buffer moved past: %+v", tot)
	}
	r := a.Gateways()[0]
	if len(r.MissingRanges) != 1 || r.MissingRanges[0] != "3..4" || r.HolesOpen != 0 {
		t.Fatalf("report %+v", r)
	}
	e, v := ev("g", ep, 4, "AA", "rack_move")
	if got := a.Event(&e, v); got != VerdictNew || a.Totals().Late != 1 || a.Totals().Missing != 1 {
		t.Fatalf("late seq 4: verdict %d, totals %+v", got, a.Totals())
	}
	// hole_timeout without any status: 13 is missing 10 minutes after noticed.
	e, v = ev("g", ep, 14, "AA", "rack_move")
	a.Event(&e, v)
	a.Settle()
	c.t = c.t.Add(9 * time.Minute)
	a.Settle()
	if a.Totals().Missing != 1 {
		t.Fatalf("before hole_timeout: %+v", a.Totals())
	}
	c.t = c.t.Add(2 * time.Minute)
	a.Settle()
	if a.Totals().Missing != 3 { // 12 and 13
		t.Fatalf("after hole_timeout: %+v", a.Totals())
	}
}

// A new epoch restarts seq at 1: not duplicates. A status naming the
// epoch's first seq means lower seqs are not holes.
func TestAuditEpochs(t *testing.T) {
	a := NewAudit(1024, time.Hour, quiet)
	for _, ep := range []string{"0000000100000001", "0000000200000002"} {
		for s := uint64(1); s <= 50; s++ {
			e, v := ev("g", ep, s, "AA", "rack_move")
			if got := a.Event(&e, v); got != VerdictNew {
				t.Fatalf("epoch %s seq %d: %d", ep, s, got)
			}
		}
	}
	const ep3 = "0000000300000003"
	for s := uint64(1000001); s <= 1000010; s++ {
		e, v := ev("g", ep3, s, "AA", "rack_move")
		a.Event(&e, v)
	}
	a.Status(&Status{Schema: 1, Gateway: "g", Time: time.Now(), Kind: "startup", Epoch: ep3, EpochFirstSeq: 1000001, LastSeq: 1000010, NewEpoch: true})
	a.Settle()
	if tot := a.Totals(); tot.Delivered != 110 || tot.Duplicates != 0 || tot.Missing != 0 {
		t.Fatalf("totals %+v", tot)
	}
	if r := a.Gateways()[0]; r.HolesOpen != 0 || len(r.Epochs) != 3 || r.Epoch != ep3 {
		t.Fatalf("report %+v", r)
	}
}

// A gateway restarted from a snapshot: its startup status says a last seq
// below what the hub saw; the ids that come back with new content are kept.
func TestAuditRollbackByStatus(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := NewAudit(1<<16, time.Hour, quiet)
	a.now = c.now
	const ep = "0000000100000001"
	for s := uint64(1); s <= 100; s++ {
		e, v := ev("g", ep, s, "AA", "rack_move")
		a.Event(&e, v)
	}
	c.t = c.t.Add(time.Minute)
	a.Status(&Status{Schema: 1, Gateway: "g", Time: c.t, Kind: "startup", Epoch: ep, EpochFirstSeq: 1, LastSeq: 60})
	for s := uint64(61); s <= 70; s++ {
		e, v := ev("g", ep, s, "CC", "rack_move")
		if got := a.Event(&e, v); got != VerdictNew {
			t.Fatalf("new branch seq %d: %d", s, got)
		}
	}
	if tot := a.Totals(); tot.Rollbacks != 1 {
		t.Fatalf("totals %+v", tot)
	}
}
