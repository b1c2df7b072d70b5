package serial

import "bytes"

// byteQueue is the input buffer every decoder shares: feed appends, Next
// consumes from off. Frames handed out alias the buffer, so compaction only
// happens in feed, never while a caller may still hold a frame.
type byteQueue struct {
	buf []byte
	off int
}

func (q *byteQueue) feed(p []byte) {
	if q.off > 0 {
		n := copy(q.buf, q.buf[q.off:])
		q.buf = q.buf[:n]
		q.off = 0
	}
	q.buf = append(q.buf, p...)
}

func (q *byteQueue) pending() []byte { return q.buf[q.off:] }

// Buffered reports how many undecoded bytes are held.
func (q *byteQueue) Buffered() int { return len(q.buf) - q.off }

// Reset drops everything buffered (after a reconnect the old bytes belong
// to a different conversation).
func (q *byteQueue) Reset() { q.buf, q.off = q.buf[:0], 0 }

// indexByteFrom returns the index of c in b at or after from, or -1.
func indexByteFrom(b []byte, c byte, from int) int {
	if from >= len(b) {
		return -1
	}
	i := bytes.IndexByte(b[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}
