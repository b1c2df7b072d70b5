package buffer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/metrics"
)

// probeFreeBytes is the free space a full disk needs before the probe tries
// to write again.
const probeFreeBytes = 256 << 10

// run is the committer goroutine: the only writer of the file.
func (q *Queue) run() {
	defer close(q.done)
	tick := time.NewTicker(q.opts.TickInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-q.reqs:
			q.commit(q.collect(r), false)
		case <-q.kick:
			q.commit(nil, false)
		case now := <-tick.C:
			q.tick(now)
		case <-q.closing:
			q.shutdown()
			return
		}
	}
}

// collect takes first and whatever else is waiting, up to the batch limits,
// and encodes them with the seqs they will most likely get (encoded again
// in the transaction if a gap event or a loss shifts them).
func (q *Queue) collect(first *appendReq) []*appendReq { // may return an empty batch
	q.mu.Lock()
	next := q.st.lastSeq + 1
	q.mu.Unlock()
	now := time.Now()
	batch := []*appendReq{}
	n, size := 0, 0
	take := func(r *appendReq) {
		// Own the request before touching its events: a caller whose ctx
		// ended has returned and owns them again.
		if !r.phase.CompareAndSwap(reqWaiting, reqTaken) {
			return
		}
		r.commit = now
		if len(r.events) > 0 {
			r.origSeq = make([]uint64, len(r.events))
			for i := range r.events {
				r.origSeq[i] = r.events[i].Seq
			}
		}
		q.encode(r, next)
		next += uint64(len(r.events))
		batch = append(batch, r)
		n += len(r.events)
		size += len(r.buf)
	}
	take(first)
	for n < q.opts.MaxBatchEvents && size < q.opts.MaxBatchBytes {
		select {
		case r := <-q.reqs:
			take(r)
			continue
		default:
		}
		break
	}
	return batch
}

// encode writes r's records into r.buf with seqs from first.
func (q *Queue) encode(r *appendReq, first uint64) {
	if r.ends != nil && r.firstSeq == first {
		return
	}
	r.buf = r.buf[:0]
	r.ends = make([]int, 0, len(r.events))
	for i := range r.events {
		ev := &r.events[i]
		ev.Seq = first + uint64(i)
		ev.Gateway = q.opts.Gateway
		r.buf = appendRecord(r.buf, ev, r.commit)
		r.ends = append(r.ends, len(r.buf))
	}
	r.firstSeq = first
}

func (r *appendReq) restore() {
	for i := range r.events {
		r.events[i].Seq = r.origSeq[i]
	}
}

// txResult is what one transaction did, applied to memory after it
// committed.
type txResult struct {
	st        metaState
	ends      ends
	dataBytes int64
	quarant   []uint64 // corrupt seqs processed
	dropped   uint64   // events lost in this transaction (drop_oldest or reject_new)
	dropFirst uint64
	dropLast  uint64
	gaps      []edge.Event // gap events written
	rejected  map[*appendReq]error
	added     bool // records were added
}

// commit runs one transaction for batch plus the waiting acks and corrupt
// records. probe is set by the tick while writes fail.
func (q *Queue) commit(batch []*appendReq, probe bool) {
	q.mu.Lock()
	// Deletes per transaction are capped: a huge delete transaction holds
	// many bbolt nodes in memory and delays the appends behind it.
	acks, corr, readyErr := q.acks.take(16*q.opts.MaxBatchEvents), q.corruptQ, q.readyErr
	moreAcks := len(q.acks.queued) > 0
	q.corruptQ = nil
	st := q.st
	preallocated := max(0, q.fileBytes-q.dataBytes)
	q.mu.Unlock()

	putBack := func() {
		q.mu.Lock()
		q.acks.failed()
		q.corruptQ = append(corr, q.corruptQ...)
		q.mu.Unlock()
	}
	if readyErr != nil && !probe {
		err := fmt.Errorf("buffer: not accepting events: %w", readyErr)
		for _, r := range batch {
			r.restore() // collect encoded them with seqs
			r.done <- err
		}
		putBack()
		return
	}
	dueGap := st.gap.open() && time.Since(time.Unix(0, st.gap.since)) >= q.opts.GapInterval
	if len(batch) == 0 && len(acks) == 0 && len(corr) == 0 && !probe && !dueGap {
		return
	}

	nev := uint64(len(corr)) + 1 // gap events
	for _, r := range batch {
		nev += uint64(len(r.events))
	}
	var err error
	if st.lastSeq+nev+1 >= q.ceiling {
		c := st.lastSeq + nev + 1 + q.opts.SeqBlock
		if err = writeSeqCeiling(q.dir, c, q.opts.NoSync); err == nil {
			q.ceiling = c
		}
	}
	free := int64(-1) // no disk bound
	if err == nil && len(batch) > 0 && q.opts.MinFreeDisk > 0 {
		if free, err = freeDisk(q.dir); err == nil {
			free += preallocated
		}
	}
	q.mu.Lock()
	q.maxSeq = st.lastSeq + nev
	q.mu.Unlock()
	if err == nil && q.db == nil { // a reopen after compaction failed
		err = q.reopen()
	}
	var res *txResult
	start := time.Now()
	if err == nil {
		q.dbMu.RLock()
		err = q.db.Update(func(tx *bolt.Tx) error {
			var err error
			res, err = q.apply(tx, st, batch, acks, corr, free, start)
			return err
		})
		q.dbMu.RUnlock()
	}
	metrics.BufferCommitSeconds.Observe(time.Since(start).Seconds())

	if err != nil {
		metrics.BufferWriteErrors.Inc()
		werr := fmt.Errorf("%w: %w", ErrWrite, err)
		for _, r := range batch {
			r.restore()
			r.done <- werr
		}
		putBack()
		q.mu.Lock()
		q.maxSeq = 0
		wasReady := q.readyErr == nil
		q.readyErr = werr
		q.mu.Unlock()
		if wasReady {
			q.log.Error("buffer commit failed: refusing writes until a probe commit succeeds", "err", err)
		}
		q.resync()
		return
	}

	// The ends are read after the commit: a write transaction's cursor can
	// loop on leaves its own deletes emptied (bbolt rebalances on commit).
	if res.st.count > 0 {
		q.dbMu.RLock()
		_ = view(q.db, func(tx *bolt.Tx) error { res.ends = readEnds(tx); return nil })
		q.dbMu.RUnlock()
	}
	now := time.Now()
	q.mu.Lock()
	recovered := q.readyErr != nil
	q.readyErr = nil
	q.st, q.ends, q.dataBytes = res.st, res.ends, res.dataBytes
	q.fileBytes = max(q.fileBytes, res.dataBytes)
	if q.fileBytes-q.dataBytes < preallocLow {
		q.kickPrealloc()
	}
	q.maxSeq = 0
	if len(acks) > 0 {
		close(q.acksGone)
		q.acksGone = make(chan struct{})
	}
	q.acks.committed()
	for _, s := range res.quarant {
		delete(q.corrupt, s)
	}
	if res.added {
		close(q.notify)
		q.notify = make(chan struct{})
	}
	q.updateMetricsLocked(now)
	q.mu.Unlock()
	if recovered {
		q.log.Info("buffer writes succeed again")
	}
	if moreAcks {
		q.kickCommitter()
	}
	q.report(res, now) // before the callers learn the outcome, so the metrics already say it
	for _, r := range batch {
		r.done <- res.rejected[r] // nil unless rejected
	}
}

// report counts and logs the losses and gap events of one transaction.
func (q *Queue) report(res *txResult, now time.Time) {
	if res.dropped > 0 {
		metrics.EventsDropped.Add(float64(res.dropped))
		q.dropped.Add(uint64(res.dropped))
		// One ERROR line per run of drops and then at most one per 10 s: a
		// full buffer drops on every commit.
		if now.Sub(q.lastDropLog) >= 10*time.Second || res.st.gap.dropped == res.dropped {
			q.lastDropLog = now
			q.log.Error("buffer full: events dropped; a gap event will record them",
				"on_full", q.opts.OnFull, "dropped", res.dropped, "first_seq", res.dropFirst, "last_seq", res.dropLast,
				"dropped_in_run", res.st.gap.dropped, "bytes", res.st.bytes, "max_bytes", q.opts.MaxBytes)
		}
	}
	for _, g := range res.gaps {
		metrics.EventsTotal.WithLabelValues(string(edge.Gap)).Inc()
		q.log.Error("gap event written: events were lost",
			"seq", g.Seq, "dropped", g.Dropped, "first_seq", g.FirstSeq, "last_seq", g.LastSeq)
	}
}

// resync reloads the bookkeeping after a failed commit: if the failure came
// after bbolt wrote its meta page (a failed fsync), the transaction may be
// visible after all.
func (q *Queue) resync() {
	q.dbMu.RLock()
	defer q.dbMu.RUnlock()
	if q.db == nil {
		return
	}
	var m metaState
	var e ends
	err := view(q.db, func(tx *bolt.Tx) error {
		var err error
		m, err = readMeta(tx)
		e = readEnds(tx)
		return err
	})
	if err != nil {
		q.log.Error("buffer: re-reading the bookkeeping after a failed commit", "err", err)
		return
	}
	q.mu.Lock()
	if m.lastSeq != q.st.lastSeq {
		q.log.Warn("a failed commit turned out to be stored; its events may be sent twice under different ids",
			"last_seq_before", q.st.lastSeq, "last_seq_now", m.lastSeq)
	}
	q.st, q.ends = m, e
	q.mu.Unlock()
}

// apply is the body of one write transaction. It must not return an error
// for a full buffer: losses are bookkeeping, committed like everything else.
func (q *Queue) apply(tx *bolt.Tx, st metaState, batch []*appendReq, acks, corr []uint64, free int64, now time.Time) (*txResult, error) {
	evb := tx.Bucket(bucketEvents)
	evb.FillPercent = 1.0 // append-only keys: full pages halve the file
	res := &txResult{}

	// Deletes of delivered records.
	if len(acks) > 0 { // sorted by ackSet.take
		c := evb.Cursor()
		for _, s := range acks {
			k := seqKey(s)
			if ck, v := c.Seek(k); ck != nil && string(ck) == string(k) {
				st.bytes -= int64(len(v))
				st.count--
				if err := c.Delete(); err != nil {
					return nil, err
				}
			}
		}
	}

	// Corrupt records found by Lease: keep them aside, and record each as a
	// lost event (a gap event of its own, written now).
	if len(corr) > 0 {
		cb := tx.Bucket(bucketCorrupt)
		for _, s := range corr {
			k := seqKey(s)
			v := evb.Get(k)
			if v == nil {
				continue
			}
			if err := cb.Put(k, slices.Clone(v)); err != nil {
				return nil, err
			}
			st.bytes -= int64(len(v))
			st.count--
			if err := evb.Delete(k); err != nil {
				return nil, err
			}
			res.dropped++
			res.dropFirst, res.dropLast = s, s
			var g gapState
			g.add(s, s, 1, now)
			if err := q.writeGap(evb, &st, g, now, res); err != nil {
				return nil, err
			}
		}
		res.quarant = corr
	}

	if st.gap.open() && now.Sub(time.Unix(0, st.gap.since)) >= q.opts.GapInterval {
		if err := q.closeGap(evb, &st, now, res); err != nil {
			return nil, err
		}
	}

	// Headroom on the filesystem: free space minus min_free_disk, plus the
	// preallocated room and the free pages inside the file, which bbolt
	// uses before growing it.
	// Pages cost more than payload (headers, branches): count 5/4.
	diskRoom := int64(1) << 62
	if free >= 0 {
		diskRoom = free - q.opts.MinFreeDisk + int64(tx.DB().Stats().FreePageN)*int64(tx.DB().Info().PageSize)
	}
	fits := func(need int64) bool {
		return st.bytes+need <= q.opts.MaxBytes && need*5/4 <= diskRoom
	}
	droppedHere := false
	var dropCur *bolt.Cursor

	for _, r := range batch {
		q.encode(r, st.lastSeq+1)
		need := int64(len(r.buf))
		if !fits(need) && q.opts.OnFull == DropOldest && len(r.events) > 0 {
			if dropCur == nil {
				dropCur = evb.Cursor()
			}
			if err := q.dropOldest(dropCur, &st, &diskRoom, need, fits, now, res); err != nil {
				return nil, err
			}
			droppedHere = true
		}
		if !fits(need) && len(r.events) > 0 {
			// reject_new, or drop_oldest with nothing left to drop: the
			// events of this call are lost; their seqs are used up.
			first, last := st.lastSeq+1, st.lastSeq+uint64(len(r.events))
			st.lastSeq = last
			st.gap.add(first, last, uint64(len(r.events)), now)
			res.dropped += uint64(len(r.events))
			if res.dropFirst == 0 {
				res.dropFirst = first
			}
			res.dropLast = last
			if res.rejected == nil {
				res.rejected = make(map[*appendReq]error)
			}
			res.rejected[r] = fmt.Errorf("%w: %d events (seq %d..%d) dropped: %d of max_bytes %d used, %d bytes of disk headroom above min_free_disk",
				ErrFull, len(r.events), first, last, st.bytes, q.opts.MaxBytes, diskRoom)
			continue
		}
		// Room returned: a run of losses ends with its gap event, written
		// before these events. After drop_oldest had to drop, wait until
		// there is room for another sixteenth of max_bytes (in the file and
		// on the disk) so that a full buffer writes one gap event per
		// GapInterval, not one per commit.
		if st.gap.open() && !droppedHere && (q.opts.OnFull == RejectNew || fits(need+q.opts.MaxBytes/16)) {
			if err := q.closeGap(evb, &st, now, res); err != nil {
				return nil, err
			}
			q.encode(r, st.lastSeq+1)
			need = int64(len(r.buf))
		}
		for i := range r.events {
			s := r.firstSeq + uint64(i)
			startOff := 0
			if i > 0 {
				startOff = r.ends[i-1]
			}
			if err := evb.Put(q.key(s), r.buf[startOff:r.ends[i]]); err != nil {
				return nil, err
			}
		}
		if len(r.events) > 0 {
			st.lastSeq = r.firstSeq + uint64(len(r.events)) - 1
			st.count += uint64(len(r.events))
			st.bytes += need
			diskRoom -= need * 5 / 4
			res.added = true
		}
		if len(r.state) > 0 {
			sb := tx.Bucket(bucketState)
			for _, c := range r.state {
				var err error
				if c.Value == nil {
					err = sb.Delete(c.Key)
				} else {
					err = sb.Put(c.Key, c.Value)
				}
				if err != nil {
					return nil, fmt.Errorf("state key %q: %w", c.Key, err)
				}
			}
		}
	}
	if len(res.gaps) > 0 {
		res.added = true
	}
	if err := writeMeta(tx.Bucket(bucketMeta), &st); err != nil {
		return nil, err
	}
	res.st = st
	res.dataBytes = tx.Size()
	return res, nil
}

// key returns an 8-byte key that stays valid until the transaction commits
// (bbolt keeps the slices it is given).
func (q *Queue) key(seq uint64) []byte {
	if len(q.keyScratch) < 8 {
		q.keyScratch = make([]byte, 8*1024)
	}
	k := putSeqKey(q.keyScratch[:8], seq)
	q.keyScratch = q.keyScratch[8:]
	return k
}

// dropOldest deletes the oldest records until need fits. Gap events are
// never dropped (they are the record of earlier losses), nor records
// already acked.
//
// Records the uplink has leased are in the producer's hands and will reach
// Kafka (or be handed out again after a Rewind): dropping them would make the
// gap event claim losses the hub then receives. So only records not leased
// are dropped, oldest first. When that is not enough (a buffer smaller than
// the in-flight window), the caller drops the new events instead: either way
// the gap event names exactly the events that are lost.
func (q *Queue) dropOldest(c *bolt.Cursor, st *metaState, diskRoom *int64, need int64, fits func(int64) bool, now time.Time, res *txResult) error {
	q.mu.Lock()
	leasedBelow := q.readPos
	q.mu.Unlock()
	return q.dropFrom(c, seqKey(leasedBelow), st, diskRoom, need, fits, now, res)
}

// dropFrom deletes records from key start on until need fits.
func (q *Queue) dropFrom(c *bolt.Cursor, start []byte, st *metaState, diskRoom *int64, need int64, fits func(int64) bool, now time.Time, res *txResult) error {
	var first, last, n uint64
	for k, v := c.Seek(start); k != nil && !fits(need); {
		seq, _ := keySeq(k)
		q.mu.Lock()
		acked := q.acks.has(seq)
		q.mu.Unlock()
		if acked || isGapRecord(v) {
			k, v = c.Next()
			continue
		}
		st.bytes -= int64(len(v))
		st.count--
		// Its pages are reused from the next commit on; min_free_disk is
		// the margin for this one.
		*diskRoom += int64(len(v)) * 5 / 4
		if err := c.Delete(); err != nil {
			return err
		}
		if n == 0 {
			first = seq
		}
		last = seq
		n++
		// bbolt's cursor may skip an element after Delete: seek instead.
		k, v = c.Seek(seqKey(seq + 1))
	}
	if n > 0 {
		st.gap.add(first, last, n, now)
		res.dropped += n
		if res.dropFirst == 0 {
			res.dropFirst = first
		}
		res.dropLast = last
	}
	return nil
}

// closeGap writes the gap event of the open run of losses.
func (q *Queue) closeGap(evb *bolt.Bucket, st *metaState, now time.Time, res *txResult) error {
	g := st.gap
	st.gap = gapState{}
	return q.writeGap(evb, st, g, now, res)
}

func (q *Queue) writeGap(evb *bolt.Bucket, st *metaState, g gapState, now time.Time, res *txResult) error {
	ev := edge.Event{
		Seq:      st.lastSeq + 1,
		Gateway:  q.opts.Gateway,
		Type:     edge.Gap,
		Time:     time.Unix(0, g.since).UTC(),
		Dropped:  g.dropped,
		FirstSeq: g.first,
		LastSeq:  g.last,
	}
	if g.since == 0 {
		ev.Time = now.UTC()
	}
	rec := appendRecord(nil, &ev, now)
	if err := evb.Put(seqKey(ev.Seq), rec); err != nil {
		return err
	}
	st.lastSeq = ev.Seq
	st.count++
	st.bytes += int64(len(rec))
	res.gaps = append(res.gaps, ev)
	return nil
}

// tick publishes the lag, writes a due gap event, probes while writes fail
// and compacts a large, nearly empty file.
func (q *Queue) tick(now time.Time) {
	q.mu.Lock()
	q.updateMetricsLocked(now)
	notReady := q.readyErr != nil
	st := q.st
	q.mu.Unlock()
	switch {
	case notReady:
		q.mu.Lock()
		rerr := q.readyErr
		q.mu.Unlock()
		// After a full disk, probe only once there is some room again, so
		// that a probe that happens to fit does not flip Ready back and
		// forth.
		if errors.Is(rerr, syscall.ENOSPC) || strings.Contains(rerr.Error(), syscall.ENOSPC.Error()) { // bbolt wraps some errors with %s
			if free, err := freeDisk(q.dir); err == nil && free < probeFreeBytes {
				return
			}
		}
		q.commit(nil, true)
	case st.gap.open() && now.Sub(time.Unix(0, st.gap.since)) >= q.opts.GapInterval:
		q.commit(nil, false)
	default:
		q.maybeCompact(now)
	}
}

// shutdown commits what is waiting and closes the file, writing the
// freelist once so that the next open does not scan the file.
func (q *Queue) shutdown() {
	for {
		select {
		case r := <-q.reqs:
			q.commit(q.collect(r), false)
			continue
		default:
		}
		break
	}
	q.commit(nil, false) // the last acks
	q.dbMu.Lock()
	defer q.dbMu.Unlock()
	if q.db == nil {
		q.closeErr = fmt.Errorf("buffer: close: %w", ErrWrite)
		return
	}
	q.db.NoFreelistSync = false
	err := q.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaClosed, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		q.log.Warn("buffer: writing the freelist on close failed; the next open scans the file", "err", err)
	}
	if cerr := q.db.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	q.db = nil
	if err != nil {
		q.closeErr = fmt.Errorf("buffer: close: %w", err)
	}
}
