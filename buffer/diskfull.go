package buffer

import (
	"fmt"
	"os"
	"syscall"
)

// Readiness while the filesystem is at min_free_disk.
//
// A full disk is handled by on_full like a full buffer (events are dropped
// or refused and covered by a gap event), so Append keeps working; but the
// gateway is then losing movements for a reason only an operator can fix
// (something else filled the disk), so Ready reports ErrDiskFull:
//
//   - set by a commit that had to drop or refuse events because the disk
//     headroom was too small, and by the tick as soon as the headroom is
//     below zero (before any event is lost, so an idle gateway says it too);
//   - cleared by the tick once the headroom is at least diskReadyMargin
//     again; the gap event of the losses is then written at once. The gap
//     between the two thresholds keeps Ready from flapping while the disk
//     hovers at the bound.
//
// The tick's headroom is the filesystem's: free space minus min_free_disk,
// plus the room preallocated at the end of buffer.db (the buffer's own). A
// commit may also use the free pages inside the file, but those come and go
// with every drop, so they would make Ready flap.
const diskReadyMargin = 1 << 20

// checkDiskFull is the tick's look at the headroom (only with min_free_disk
// set); it sets or clears q.diskFull.
func (q *Queue) checkDiskFull() {
	if q.opts.MinFreeDisk <= 0 {
		return
	}
	free, err := freeDisk(q.dir)
	if err != nil {
		return
	}
	q.mu.Lock()
	dataBytes := q.dataBytes
	q.mu.Unlock()
	room := free + q.preallocated(dataBytes) - q.opts.MinFreeDisk
	q.mu.Lock()
	full := q.diskFull != nil
	q.mu.Unlock()
	switch {
	case !full && room < 0:
		q.setDiskFull(room)
	case full && room >= diskReadyMargin:
		q.mu.Lock()
		q.diskFull = nil
		q.mu.Unlock()
		q.gapNow = true // the losses' gap event need not wait for GapInterval
		q.log.Info("buffer: disk headroom above min_free_disk is back; ready again",
			"free_bytes", free, "min_free_disk", q.opts.MinFreeDisk, "headroom", room)
	}
}

// setDiskFull marks the buffer not ready because of the disk bound.
func (q *Queue) setDiskFull(room int64) {
	action := "the oldest undelivered events are dropped (on_full drop_oldest)"
	if q.opts.OnFull == RejectNew {
		action = "new events are refused (on_full reject_new)"
	}
	err := fmt.Errorf("%w: the filesystem of %s is down to min_free_disk %d (headroom %d bytes): %s; free space there",
		ErrDiskFull, q.dir, q.opts.MinFreeDisk, room, action)
	q.mu.Lock()
	was := q.diskFull != nil
	q.diskFull = err
	q.mu.Unlock()
	if !was {
		q.log.Error("buffer: filesystem at min_free_disk: not ready", "err", err)
	}
}

// preallocated is the room allocated to buffer.db above bbolt's high-water
// mark dataBytes: fallocate'd blocks are the buffer's own, but the tail bbolt
// adds by truncate is a hole that still needs free blocks, so this counts
// allocated blocks, not the file size.
func (q *Queue) preallocated(dataBytes int64) int64 {
	fi, err := os.Stat(q.path)
	if err != nil {
		return 0
	}
	alloc := fi.Size()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		alloc = min(alloc, st.Blocks*512)
	}
	return max(0, alloc-dataBytes)
}
