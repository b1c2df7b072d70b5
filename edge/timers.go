package edge

// Timer kinds.
const (
	timerTag  uint8 = 1 // ref = tag index
	timerGate uint8 = 2 // ref = gate slot index
)

// timer is one deadline. Deadlines are lower bounds: when one fires, the
// handler recomputes the real deadline and pushes it again if it moved
// later, so reads never touch the heap. Ties fire in push order (seq),
// which keeps the output deterministic.
type timer struct {
	due  int64 // ns
	seq  uint64
	ref  int32
	kind uint8
}

func (a *timer) before(b *timer) bool {
	return a.due < b.due || (a.due == b.due && a.seq < b.seq)
}

// push queues a deadline and returns its seq.
func (e *Engine) push(due int64, kind uint8, ref int32) uint64 {
	e.seq++
	e.timers = append(e.timers, timer{due: due, seq: e.seq, ref: ref, kind: kind})
	h := e.timers
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return e.seq
}

func (e *Engine) pop() timer {
	h := e.timers
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	e.timers = h
	return top
}
