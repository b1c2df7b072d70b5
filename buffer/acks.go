package buffer

import "slices"

// ackSet holds the acked seqs whose deletes are not committed yet, so that
// Lease never hands them out again. 8 bytes per seq: acks come in ascending
// runs, so keeping them sorted is cheap, and a drain of millions of events
// does not build a large map.
type ackSet struct {
	queued   []uint64 // not yet taken by the committer
	sorted   bool     // queued is sorted and without duplicates
	inflight []uint64 // taken by the running commit; sorted
}

func (a *ackSet) add(s uint64) {
	if n := len(a.queued); n == 0 {
		a.sorted = true
	} else if a.queued[n-1] >= s {
		a.sorted = false
	}
	a.queued = append(a.queued, s)
}

func (a *ackSet) sort() {
	if !a.sorted {
		slices.Sort(a.queued)
		a.queued = slices.Compact(a.queued)
		a.sorted = true
	}
}

func (a *ackSet) has(s uint64) bool {
	if len(a.inflight) > 0 {
		if _, ok := slices.BinarySearch(a.inflight, s); ok {
			return true
		}
	}
	if len(a.queued) == 0 {
		return false
	}
	a.sort()
	_, ok := slices.BinarySearch(a.queued, s)
	return ok
}

// take hands up to n of the queued seqs, lowest first, to the committer.
func (a *ackSet) take(n int) []uint64 {
	a.sort()
	if len(a.queued) <= n {
		a.inflight, a.queued = a.queued, nil
	} else {
		// Shares the array: inflight's capacity ends where queued begins.
		a.inflight, a.queued = a.queued[:n:n], a.queued[n:]
	}
	return a.inflight
}

// committed forgets the seqs of a commit that succeeded.
func (a *ackSet) committed() { a.inflight = nil }

// failed queues the seqs of a failed commit again.
func (a *ackSet) failed() {
	a.queued = append(a.queued, a.inflight...)
	a.sorted = false
	a.inflight = nil
}

func (a *ackSet) len() int { return len(a.queued) + len(a.inflight) }
