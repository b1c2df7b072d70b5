package hub

import (
	"hash/maphash"
	"math/bits"

	"github.com/rfidgw/rfidgw/internal/seqspan"
)

// span and spanSet are the seq ranges the audit keeps (internal/seqspan).
type (
	span    = seqspan.Span
	spanSet = seqspan.Set
)

// window is the bounded dedupe state of one gateway stream epoch: every seq
// below floor is settled (seen, or handed on as a hole); seqs from floor up
// to floor+limit are tracked one by one with a seen bit and a one-byte
// fingerprint of the value (to tell a redelivery from a rolled-back stream
// that reuses the seq). Memory: limit/8 + limit bytes at most, and only as
// much as the seqs in flight need (a stream that arrives in order uses one
// word).
type window struct {
	floor uint64 // every seq below it is settled
	max   uint64 // highest seq seen
	base  uint64 // seq of bit 0 of words[0]; a multiple of 64, <= floor
	words []uint64
	fps   []uint8 // fingerprint per seq from base
	limit uint64
}

func newWindow(first uint64, limit int) window {
	return window{floor: first, base: first &^ 63, max: first - 1, limit: uint64(limit)}
}

// result of window.add.
type addResult int

const (
	addNew       addResult = iota // first time seen
	addDuplicate                  // seen before with the same fingerprint
	addConflict                   // seen before with another fingerprint
	addBelow                      // below the floor: the caller decides
)

func (w *window) has(seq uint64) bool {
	if seq < w.base {
		return false
	}
	i := (seq - w.base) / 64
	return i < uint64(len(w.words)) && w.words[i]&(1<<((seq-w.base)%64)) != 0
}

// add records seq with fingerprint fp. Seqs the window had to give up to
// make room (more than limit above the floor) are passed to forced as
// spans of unseen seqs.
func (w *window) add(seq uint64, fp uint8, forced func(lo, hi uint64)) addResult {
	if seq < w.floor {
		return addBelow
	}
	if seq >= w.floor+w.limit {
		w.forceFloor(seq-w.limit+1, forced)
	}
	idx := seq - w.base
	for uint64(len(w.words))*64 <= idx {
		w.words = append(w.words, 0)
		w.fps = append(w.fps, make([]uint8, 64)...)
	}
	bit := uint64(1) << (idx % 64)
	if w.words[idx/64]&bit != 0 {
		if w.fps[idx] != fp {
			w.fps[idx] = fp
			return addConflict
		}
		return addDuplicate
	}
	w.words[idx/64] |= bit
	w.fps[idx] = fp
	w.max = max(w.max, seq)
	w.advance()
	return addNew
}

// advance moves the floor over seen seqs and drops words below it.
func (w *window) advance() {
	for {
		i := (w.floor - w.base) / 64
		if i >= uint64(len(w.words)) {
			break
		}
		word := w.words[i] >> ((w.floor - w.base) % 64)
		run := uint64(bits.TrailingZeros64(^word)) // seen seqs from floor in this word
		if run == 0 {
			break
		}
		w.floor += min(run, 64-(w.floor-w.base)%64)
	}
	w.trim()
}

func (w *window) trim() {
	drop := (w.floor - w.base) / 64
	if drop == 0 {
		return
	}
	if drop >= uint64(len(w.words)) {
		w.words, w.fps = w.words[:0], w.fps[:0]
		w.base = w.floor &^ 63
		return
	}
	n := copy(w.words, w.words[drop:])
	w.words = w.words[:n]
	m := copy(w.fps, w.fps[drop*64:])
	w.fps = w.fps[:m]
	w.base += drop * 64
}

// forceFloor raises the floor to to, passing the unseen seqs below it on.
func (w *window) forceFloor(to uint64, forced func(lo, hi uint64)) {
	if to <= w.floor {
		return
	}
	start := uint64(0)
	inRun := false
	end := min(to, w.base+uint64(len(w.words))*64) // above it nothing is seen
	for s := w.floor; s < end; s++ {
		if !w.has(s) {
			if !inRun {
				start, inRun = s, true
			}
			continue
		}
		if inRun {
			forced(start, s-1)
			inRun = false
		}
	}
	switch {
	case inRun:
		forced(start, to-1)
	case end < to:
		forced(max(end, w.floor), to-1)
	}
	w.floor = to
	w.max = max(w.max, to-1)
	w.advance()
	if w.floor < to { // advance stops at the first unseen; keep the new floor
		w.floor = to
	}
	w.trim()
}

// firstUnseenRun returns the run of unseen seqs that starts at the floor
// and ends before the next seen seq (ok false when the floor is above max).
func (w *window) firstUnseenRun() (lo, hi uint64, ok bool) {
	if w.floor > w.max {
		return 0, 0, false
	}
	s := w.floor
	for s <= w.max && !w.has(s) {
		s++
	}
	return w.floor, s - 1, s > w.floor
}

// bytes is the memory the window holds.
func (w *window) bytes() int { return cap(w.words)*8 + cap(w.fps) + 48 }

var fpSeed = maphash.MakeSeed()

// fingerprint is one byte of a hash of the value (compared only within
// this process).
func fingerprint(v []byte) uint8 {
	h := maphash.Bytes(fpSeed, v)
	return uint8(h ^ h>>8 ^ h>>16 ^ h>>24 ^ h>>32 ^ h>>40 ^ h>>48 ^ h>>56)
}
