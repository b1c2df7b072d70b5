package uplink

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rfidgw/rfidgw/buffer"
)

// memQueue is an in-memory Queue with the buffer's semantics, for tests and
// benchmarks. It also counts what the forwarder did with it.
type memQueue struct {
	mu       sync.Mutex
	recs     []buffer.Record // in seq order; acked ones are removed from the front lazily
	acked    map[uint64]bool // acked seqs not yet trimmed from recs
	pos      int             // index in recs of the next record to lease
	notify   chan struct{}   // closed when records are added
	leases   map[uint64]int  // times each seq was leased
	ackDups  int             // Ack of a seq already acked
	ackMiss  int             // Ack of a seq never leased
	rewinds  int
	total    int // records ever added
	nAcked   int
	ackOrder map[uint64]int // seq -> its position in the order of acks
}

func newMemQueue() *memQueue {
	return &memQueue{acked: map[uint64]bool{}, leases: map[uint64]int{}, ackOrder: map[uint64]int{}, notify: make(chan struct{})}
}

func (q *memQueue) add(rs ...buffer.Record) {
	q.mu.Lock()
	q.recs = append(q.recs, rs...)
	q.total += len(rs)
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
}

func (q *memQueue) Lease(ctx context.Context, max int) ([]buffer.Record, error) {
	for {
		q.mu.Lock()
		var out []buffer.Record
		for q.pos < len(q.recs) && len(out) < max {
			r := q.recs[q.pos]
			q.pos++
			if q.acked[r.Seq] {
				continue
			}
			q.leases[r.Seq]++
			out = append(out, r)
		}
		wait := q.notify
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *memQueue) Ack(seqs ...uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range seqs {
		if q.leases[s] == 0 {
			q.ackMiss++
		}
		if q.acked[s] {
			q.ackDups++
			continue
		}
		q.acked[s] = true
		q.ackOrder[s] = q.nAcked
		q.nAcked++
	}
	// Trim the acked prefix, as the buffer deletes it.
	n := 0
	for n < len(q.recs) && q.acked[q.recs[n].Seq] {
		delete(q.acked, q.recs[n].Seq)
		n++
	}
	if n > 0 {
		q.recs = q.recs[n:]
		q.pos = max(0, q.pos-n)
	}
	return nil
}

func (q *memQueue) Rewind() {
	q.mu.Lock()
	q.pos = 0
	q.rewinds++
	q.mu.Unlock()
}

// unackedAt returns the records of rs that were not among the first n
// acknowledged.
func (q *memQueue) unackedAt(rs []buffer.Record, n int) []buffer.Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []buffer.Record
	for _, r := range rs {
		if i, ok := q.ackOrder[r.Seq]; !ok || i >= n {
			out = append(out, r)
		}
	}
	return out
}

// stats returns acked and total record counts.
func (q *memQueue) stats() (acked, total int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nAcked, q.total
}

// releases is the number of leases beyond the first, over all seqs: the
// most duplicates an honest forwarder can cause.
func (q *memQueue) releases() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.leases {
		n += c - 1
	}
	return n
}

// waitAcked waits until n records were acked or d passed.
func (q *memQueue) waitAcked(n int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if a, _ := q.stats(); a >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	a, t := q.stats()
	return fmt.Errorf("%d of %d records acked after %v (want %d)", a, t, d, n)
}

// testRecords makes n records from seq first on, spread over keys EPCs.
func testRecords(gateway string, first uint64, n, keys int) []buffer.Record {
	out := make([]buffer.Record, n)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	types := []string{"inward", "outward", "rack_move", "rack_depart"}
	for i := range out {
		seq := first + uint64(i)
		epc := fmt.Sprintf("E2801160600002%010X", seq%uint64(keys))
		typ := types[seq%uint64(len(types))]
		at := t0.Add(time.Duration(seq) * time.Millisecond)
		out[i] = buffer.Record{
			Seq:       seq,
			Key:       []byte(epc),
			Type:      typ,
			Time:      at,
			Committed: time.Now(),
			Value: fmt.Appendf(nil, `{"schema":1,"id":"%s-%d","seq":%d,"gateway":"%s","type":"%s","epc":"%s","time":"%s","zone":"gate-a","from":null,"to":null,"evidence":{"reads":17,"first_seen":"2026-11-25T10:00:00.000Z","last_seen":"2026-11-25T10:00:02.000Z","peak_rssi":-48.5,"readers":["dock-door-1"],"antennas":[1,3]}}`,
				gateway, seq, seq, gateway, typ, epc, at.Format(ceTimeLayout)),
		}
	}
	return out
}
