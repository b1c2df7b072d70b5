package buffer

// The committer, and the lock story of the whole Queue.
//
// Ownership. One goroutine, the committer (run), is the only writer of
// buffer.db and buffer.seq: Append hands it requests over q.reqs, Ack and
// Lease wake it with q.kick, its ticker drives the probe, due gap events,
// the disk check and compaction. The fields marked "committer only" in
// Queue are its own and need no lock.
//
// Two locks, taken in this order (dbMu before mu), neither ever held while
// waiting on a channel:
//
//   - q.mu guards the in-memory view shared with the callers: the mirror of
//     the committed bookkeeping (st, ends, file sizes), readiness (readyErr,
//     diskFull), the leases (readPos, leaseEpoch), the ack set, the corrupt
//     records and the notify channels. It is held only to copy values in or
//     out, never across a bbolt write call or an fsync.
//   - q.dbMu guards the q.db handle itself. Every transaction (Lease's
//     reads, LoadState, the committer's own commits) holds it for reading;
//     the committer takes it for writing only to swap the file (compaction,
//     reopen).
//
// Closing. q.closing, closed once by Close, is the only "closed" flag; q.done
// is closed when the committer has answered every request it took. Append
// hands a request over and then waits for its answer or for q.done: a
// request still untaken then is abandoned (ErrClosed), one the committer
// took always has its answer first.
//
// Leases need no lock of their own: Lease reads from readPos and claims what
// it read only if readPos did not move meanwhile (else it reads again), so
// two callers never get the same record.
//
// One commit (commit): take the work from the shared view (takeWork),
// reserve seqs in buffer.seq and measure the disk (prepare), run one bbolt
// transaction whose steps are the methods of txn (apply), then publish its
// result to the view and answer the callers (publish), or on an error answer
// them with ErrWrite, put the acks back and mark the buffer not ready
// (failed).

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rfidgw/rfidgw/edge"
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

// work is what one commit takes from the shared view.
type work struct {
	batch     []*appendReq
	acks      []uint64 // acked seqs to delete (sorted; at most 16 batches' worth)
	moreAcks  bool     // acks left for the next commit
	corr      []uint64 // corrupt records found by Lease, to quarantine
	readyErr  error    // writes are refused (only a probe commit runs)
	diskFull  bool     // the disk is at min_free_disk (Ready says ErrDiskFull)
	st        metaState
	dataBytes int64 // bbolt's high-water mark
}

func (w *work) idle() bool { return len(w.batch) == 0 && len(w.acks) == 0 && len(w.corr) == 0 }

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
	added     bool  // records were added
	diskBound bool  // events did not fit because of min_free_disk
	diskRoom  int64 // the disk headroom when they did not
}

// commit runs one transaction for batch plus the waiting acks and corrupt
// records. probe is set by the tick while writes fail.
func (q *Queue) commit(batch []*appendReq, probe bool) {
	if q.unsure != nil { // a failed commit is not settled yet: nothing else runs
		if probe {
			q.settle()
		} else {
			q.answerBatch(batch, fmt.Errorf("buffer: not accepting events: %w", q.unsure.err))
		}
		return
	}
	w := q.takeWork(batch)
	if w.readyErr != nil && !probe {
		q.answerFailed(w, fmt.Errorf("buffer: not accepting events: %w", w.readyErr))
		return
	}
	if w.idle() && !probe && !q.gapDue(w.st.gap, time.Now()) {
		return
	}
	free, err := q.prepare(w)
	if err != nil {
		q.answerFailed(w, fmt.Errorf("%w: %w", ErrWrite, err))
		q.notReady(err)
		return
	}
	res, txid, err := q.runTx(w, free)
	if err != nil {
		q.failed(w, res, txid, err)
		return
	}
	q.publish(w, res)
}

// takeWork copies what the commit needs out of the shared view; the acks and
// corrupt records taken are owned by this commit until it publishes or puts
// them back.
func (q *Queue) takeWork(batch []*appendReq) *work {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Deletes per transaction are capped: a huge delete transaction holds
	// many bbolt nodes in memory and delays the appends behind it.
	w := &work{
		batch:     batch,
		acks:      q.acks.take(16 * q.opts.MaxBatchEvents),
		corr:      q.corruptQ,
		readyErr:  q.readyErr,
		diskFull:  q.diskFull != nil,
		st:        q.st,
		dataBytes: q.dataBytes,
	}
	w.moreAcks = len(q.acks.queued) > 0
	q.corruptQ = nil
	return w
}

// answerFailed tells every caller of the batch that nothing of it is stored
// (their events get their seqs back) and returns the acks and corrupt
// records to the shared view for the next commit.
func (q *Queue) answerFailed(w *work, err error) {
	q.answerBatch(w.batch, err)
	q.putBack(w)
}

func (q *Queue) answerBatch(batch []*appendReq, err error) {
	for _, r := range batch {
		r.restore() // collect encoded them with seqs
		r.done <- err
	}
}

// putBack returns the acks and corrupt records of w for the next commit
// (deleting them twice is harmless).
func (q *Queue) putBack(w *work) {
	q.mu.Lock()
	q.acks.failed()
	q.corruptQ = append(w.corr, q.corruptQ...)
	q.maxSeq = 0
	q.mu.Unlock()
}

// prepare does what must precede the transaction: raise the seq ceiling in
// buffer.seq above every seq it may assign (one gap event per corrupt
// record, one for a run of losses, and the batch), publish that bound for
// Ack, measure the disk and reopen a file a failed compaction left closed.
// free is -1 when there is no disk bound to apply.
func (q *Queue) prepare(w *work) (free int64, err error) {
	nev := uint64(len(w.corr)) + 1 // gap events
	for _, r := range w.batch {
		nev += uint64(len(r.events))
	}
	if q.dirUnsynced { // a compaction's rename is not durable yet
		if err = syncDir(q.dir); err == nil {
			q.dirUnsynced = false
		}
	}
	if err == nil {
		err = q.reserveSeqs(w.st.lastSeq + nev)
	}
	free = -1
	if err == nil && len(w.batch) > 0 && q.opts.MinFreeDisk > 0 {
		if free, err = freeDisk(q.dir); err == nil {
			free += q.preallocated(w.dataBytes)
		}
	}
	q.mu.Lock()
	q.maxSeq = w.st.lastSeq + nev
	q.mu.Unlock()
	if err == nil && q.db == nil { // a reopen after compaction failed
		err = q.reopen()
	}
	return free, err
}

// reserveSeqs makes sure buffer.seq's ceiling is above last.
func (q *Queue) reserveSeqs(last uint64) error {
	if last+1 < q.ceiling {
		return nil
	}
	c := last + 1 + q.opts.SeqBlock
	if err := writeSeqCeiling(q.dir, c, q.opts.NoSync); err != nil {
		return err
	}
	q.ceiling = c
	return nil
}

// runTx runs the write transaction of w. When the transaction body ran
// but its commit failed, res is still what it would have done and txid its
// bbolt id (see failed).
func (q *Queue) runTx(w *work, free int64) (res *txResult, txid int, err error) {
	start := time.Now()
	q.dbMu.RLock()
	err = q.db.Update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		t := q.newTxn(tx, w, free, start)
		if err := t.apply(w); err != nil {
			return err
		}
		res = &t.res
		return nil
	})
	q.dbMu.RUnlock()
	q.opts.Metrics.BufferCommitSeconds.Observe(time.Since(start).Seconds())
	return res, txid, err
}

// notReady refuses writes until a probe commit succeeds.
func (q *Queue) notReady(err error) {
	q.opts.Metrics.BufferWriteErrors.Inc()
	q.mu.Lock()
	wasReady := q.readyErr == nil
	q.readyErr = fmt.Errorf("%w: %w", ErrWrite, err)
	q.mu.Unlock()
	if wasReady {
		q.log.Error("buffer commit failed: refusing writes until a probe commit succeeds", "err", err)
	}
}

// unsureCommit is a commit bbolt reported as failed whose outcome is not
// known yet: its callers wait.
type unsureCommit struct {
	w    *work
	res  *txResult // nil if the transaction body itself failed
	txid int
	err  error // ErrWrite, what the callers get if it is not stored
}

// failed handles a commit bbolt reported as failed. After a failed fsync
// the kernel may have dropped the written pages, or kept them in its cache
// without ever writing them: neither the memory of this process nor bbolt's
// mapping can be trusted. So the buffer marks itself not ready, drops its
// in-memory view of the commit (the acks and corrupt records go back to be
// done again, Lease sees only the view published before), and settles the
// outcome from the file (settle). The callers get their answer only then:
// nil if the commit is durable after all, ErrWrite if it is not, so that
// a retry never stores the same events twice under different ids.
func (q *Queue) failed(w *work, res *txResult, txid int, err error) {
	q.notReady(err)
	q.putBack(w)
	q.unsure = &unsureCommit{w: w, res: res, txid: txid, err: fmt.Errorf("%w: %w", ErrWrite, err)}
	if res == nil {
		q.settled(false) // the transaction never reached the file
		return
	}
	q.settle()
}

// settle reopens the file and reads its bookkeeping from disk. If the
// unsure commit does not show, its callers get ErrWrite and the view is
// the file's. If it shows, a second (empty) commit must succeed to make it
// durable before its callers get nil. When neither can be decided (the
// file cannot be opened, the second commit fails too) the commit stays
// unsure and the probe tries again.
func (q *Queue) settle() {
	u := q.unsure
	v, err := q.reopenFromDisk()
	if err != nil {
		q.log.Error("buffer: reopening the file after a failed commit failed; retrying", "err", err)
		return
	}
	if v.txid < u.txid {
		q.mu.Lock()
		q.st, q.ends, q.dataBytes = v.st, v.ends, v.dataBytes
		q.fileBytes = max(v.fileBytes, v.dataBytes)
		q.mu.Unlock()
		q.settled(false)
		return
	}
	q.dbMu.RLock()
	err = q.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaConfirmed, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
	q.dbMu.RUnlock()
	if err != nil {
		q.log.Error("buffer: a failed commit shows in the file but could not be made durable; retrying", "err", err)
		return
	}
	q.log.Warn("buffer: a commit reported as failed is in the file; made durable by a second commit, its events are accepted",
		"last_seq", u.res.st.lastSeq)
	q.settled(true)
}

// settled answers the callers of the unsure commit.
func (q *Queue) settled(stored bool) {
	u := q.unsure
	q.unsure = nil
	if !stored {
		q.answerBatch(u.w.batch, u.err)
		return
	}
	q.publish(u.w, u.res)
}

// reopenFromDisk closes the file and opens it again, so that nothing of
// bbolt's memory of the failed commit is used, and reads its bookkeeping.
func (q *Queue) reopenFromDisk() (fileView, error) {
	q.dbMu.Lock()
	defer q.dbMu.Unlock()
	if q.db != nil {
		_ = q.db.Close()
		q.db = nil
	}
	db, err := boltOpen(q.path, q.boltOptions())
	if err != nil {
		return fileView{}, err
	}
	v, err := q.readView(db)
	if err != nil {
		_ = db.Close()
		return v, err
	}
	q.db = db
	return v, nil
}

// publish applies a committed transaction to the shared view, wakes Lease
// and the waiters for deletes, and answers the callers.
func (q *Queue) publish(w *work, res *txResult) {
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
	if len(w.acks) > 0 {
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
	if res.diskBound {
		q.setDiskFull(res.diskRoom)
	}
	if !res.st.gap.open() {
		q.gapNow = false
	}
	if w.moreAcks {
		q.kickCommitter()
	}
	q.report(res, now) // before the callers learn the outcome, so the metrics already say it
	for _, r := range w.batch {
		r.done <- res.rejected[r] // nil unless rejected
	}
}

// report counts and logs the losses and gap events of one transaction.
func (q *Queue) report(res *txResult, now time.Time) {
	if res.dropped > 0 {
		q.opts.Metrics.EventsDropped.Add(float64(res.dropped))
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
		q.opts.Metrics.EventsTotal.WithLabelValues(string(edge.Gap)).Inc()
		q.log.Error("gap event written: events were lost",
			"seq", g.Seq, "dropped", g.Dropped, "first_seq", g.FirstSeq, "last_seq", g.LastSeq)
	}
}

// txn is one write transaction in progress: apply runs its steps in order.
// It must not fail for a full buffer: losses are bookkeeping, committed like
// everything else.
type txn struct {
	q   *Queue
	tx  *bolt.Tx
	evb *bolt.Bucket
	now time.Time
	st  metaState // the bookkeeping, changed by each step, written last
	// diskRoom is what the disk still takes above min_free_disk, counting
	// records 5/4 (pages cost more than payload: headers, branches); 1<<62
	// without a disk bound.
	diskRoom int64
	diskFull bool         // the disk was already at min_free_disk (Ready)
	dropping bool         // drop_oldest had to make room in this transaction
	dropCur  *bolt.Cursor // drop_oldest's cursor, kept across requests
	res      txResult
}

func (q *Queue) newTxn(tx *bolt.Tx, w *work, free int64, now time.Time) *txn {
	t := &txn{q: q, tx: tx, evb: tx.Bucket(bucketEvents), now: now, st: w.st, diskFull: w.diskFull}
	t.evb.FillPercent = 1.0 // append-only keys: full pages halve the file
	// Headroom on the filesystem: free space minus min_free_disk, plus the
	// preallocated room (in free) and the free pages inside the file, which
	// bbolt uses before growing it.
	t.diskRoom = int64(1) << 62
	if free >= 0 {
		t.diskRoom = free - q.opts.MinFreeDisk + int64(tx.DB().Stats().FreePageN)*int64(tx.DB().Info().PageSize)
	}
	return t
}

// apply is the body of the transaction.
func (t *txn) apply(w *work) error {
	if err := t.deleteAcked(w.acks); err != nil {
		return err
	}
	if err := t.quarantine(w.corr); err != nil {
		return err
	}
	if t.q.gapDue(t.st.gap, t.now) {
		if err := t.closeGap(); err != nil {
			return err
		}
	}
	for _, r := range w.batch {
		if err := t.add(r); err != nil {
			return err
		}
	}
	if len(t.res.gaps) > 0 {
		t.res.added = true
	}
	if err := writeMeta(t.tx.Bucket(bucketMeta), &t.st); err != nil {
		return err
	}
	t.res.st = t.st
	t.res.dataBytes = t.tx.Size()
	return nil
}

// deleteAcked deletes the records Kafka acknowledged (acks sorted).
func (t *txn) deleteAcked(acks []uint64) error {
	if len(acks) == 0 {
		return nil
	}
	c := t.evb.Cursor()
	for _, s := range acks {
		k := seqKey(s)
		if ck, v := c.Seek(k); ck != nil && string(ck) == string(k) {
			t.st.bytes -= int64(len(v))
			t.st.count--
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// quarantine moves the corrupt records Lease found to the corrupt bucket
// (kept for forensics) and records each as a lost event with a gap event of
// its own, written now.
func (t *txn) quarantine(corr []uint64) error {
	if len(corr) == 0 {
		return nil
	}
	cb := t.tx.Bucket(bucketCorrupt)
	for _, s := range corr {
		k := seqKey(s)
		v := t.evb.Get(k)
		if v == nil {
			continue
		}
		if err := cb.Put(k, slices.Clone(v)); err != nil {
			return err
		}
		t.st.bytes -= int64(len(v))
		t.st.count--
		if err := t.evb.Delete(k); err != nil {
			return err
		}
		t.res.dropped++
		t.res.dropFirst, t.res.dropLast = s, s
		var g gapState
		g.add(s, s, 1, t.now)
		if err := t.writeGap(g); err != nil {
			return err
		}
	}
	t.res.quarant = corr
	return nil
}

// fits says whether need more payload bytes fit under max_bytes and on the
// disk.
func (t *txn) fits(need int64) bool {
	return t.st.bytes+need <= t.q.opts.MaxBytes && need*5/4 <= t.diskRoom
}

// add stores one Append request (events and state changes), making room
// under drop_oldest, or records its events as lost when they do not fit.
func (t *txn) add(r *appendReq) error {
	q := t.q
	q.encode(r, t.st.lastSeq+1)
	need := int64(len(r.buf))
	if len(r.events) > 0 {
		if need*5/4 > t.diskRoom && !t.res.diskBound {
			t.res.diskBound, t.res.diskRoom = true, t.diskRoom
		}
		if !t.fits(need) && q.opts.OnFull == DropOldest {
			if err := t.dropOldest(need); err != nil {
				return err
			}
		}
		if !t.fits(need) {
			t.lose(r)
			return nil
		}
	}
	if t.roomReturned(need) {
		// A run of losses ends with its gap event, written before these
		// events (which then get the seqs after it).
		if err := t.closeGap(); err != nil {
			return err
		}
		q.encode(r, t.st.lastSeq+1)
		need = int64(len(r.buf))
	}
	if err := t.putEvents(r, need); err != nil {
		return err
	}
	return t.putState(r)
}

// roomReturned says whether the open run of losses ends before a request of
// need bytes. Under reject_new as soon as it fits; after drop_oldest had to
// drop, only once there is room for another sixteenth of max_bytes in the
// file and the disk is no longer at min_free_disk (Ready), so that a full
// buffer writes one gap event per GapInterval, not one per commit.
func (t *txn) roomReturned(need int64) bool {
	if !t.st.gap.open() || t.dropping {
		return false
	}
	if t.q.opts.OnFull == RejectNew {
		return true
	}
	return t.st.bytes+need+t.q.opts.MaxBytes/16 <= t.q.opts.MaxBytes && !t.diskFull && t.fits(need)
}

// lose records the events of r as lost (reject_new, or drop_oldest with
// nothing left to drop): their seqs are used up and go into the open gap.
func (t *txn) lose(r *appendReq) {
	first, last := t.st.lastSeq+1, t.st.lastSeq+uint64(len(r.events))
	t.st.lastSeq = last
	t.st.gap.add(first, last, uint64(len(r.events)), t.now)
	t.noteDropped(first, last, uint64(len(r.events)))
	if t.res.rejected == nil {
		t.res.rejected = make(map[*appendReq]error)
	}
	t.res.rejected[r] = fmt.Errorf("%w: %d events (seq %d..%d) dropped: %d of max_bytes %d used, %d bytes of disk headroom above min_free_disk",
		ErrFull, len(r.events), first, last, t.st.bytes, t.q.opts.MaxBytes, t.diskRoom)
}

func (t *txn) noteDropped(first, last, n uint64) {
	t.res.dropped += n
	if t.res.dropFirst == 0 {
		t.res.dropFirst = first
	}
	t.res.dropLast = last
}

// putEvents stores r's encoded records (need bytes).
func (t *txn) putEvents(r *appendReq, need int64) error {
	if len(r.events) == 0 {
		return nil
	}
	for i := range r.events {
		s := r.firstSeq + uint64(i)
		startOff := 0
		if i > 0 {
			startOff = r.ends[i-1]
		}
		if err := t.evb.Put(t.q.key(s), r.buf[startOff:r.ends[i]]); err != nil {
			return err
		}
	}
	t.st.lastSeq = r.firstSeq + uint64(len(r.events)) - 1
	t.st.count += uint64(len(r.events))
	t.st.bytes += need
	t.diskRoom -= need * 5 / 4
	t.res.added = true
	return nil
}

// putState applies r's edge-state changes.
func (t *txn) putState(r *appendReq) error {
	if len(r.state) == 0 {
		return nil
	}
	sb := t.tx.Bucket(bucketState)
	for _, c := range r.state {
		var err error
		if c.Value == nil {
			err = sb.Delete(c.Key)
		} else {
			err = sb.Put(c.Key, c.Value)
		}
		if err != nil {
			return fmt.Errorf("state key %q: %w", c.Key, err)
		}
	}
	return nil
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
// (from readPos on) are dropped, oldest first. When that is not enough (a
// buffer smaller than the in-flight window), the caller drops the new events
// instead: either way the gap event names exactly the events that are lost.
func (t *txn) dropOldest(need int64) error {
	q := t.q
	t.dropping = true
	if t.dropCur == nil {
		t.dropCur = t.evb.Cursor()
	}
	c := t.dropCur
	q.mu.Lock()
	leasedBelow := q.readPos
	q.mu.Unlock()
	var first, last, n uint64
	for k, v := c.Seek(seqKey(leasedBelow)); k != nil && !t.fits(need); {
		seq, _ := keySeq(k)
		q.mu.Lock()
		acked := q.acks.has(seq)
		q.mu.Unlock()
		if acked || isGapRecord(v) {
			k, v = c.Next()
			continue
		}
		t.st.bytes -= int64(len(v))
		t.st.count--
		// Its pages are reused from the next commit on; min_free_disk is
		// the margin for this one.
		t.diskRoom += int64(len(v)) * 5 / 4
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
		t.st.gap.add(first, last, n, t.now)
		t.noteDropped(first, last, n)
	}
	return nil
}

// gapDue says whether the open run of losses g must get its gap event now:
// GapInterval after its first loss, or at once when the disk headroom came
// back (checkDiskFull) even if no event arrives to notice it.
func (q *Queue) gapDue(g gapState, now time.Time) bool {
	return g.open() && (q.gapNow || g.age(now) >= q.opts.GapInterval)
}

// closeGap writes the gap event of the open run of losses.
func (t *txn) closeGap() error {
	g := t.st.gap
	t.st.gap = gapState{}
	return t.writeGap(g)
}

// writeGap stores the gap event of g with the next seq.
func (t *txn) writeGap(g gapState) error {
	ev := edge.Event{
		Seq:      t.st.lastSeq + 1,
		Gateway:  t.q.opts.Gateway,
		Type:     edge.Gap,
		Time:     time.Unix(0, g.since).UTC(),
		Dropped:  g.dropped,
		FirstSeq: g.first,
		LastSeq:  g.last,
	}
	if g.since == 0 {
		ev.Time = t.now.UTC()
	}
	rec := appendRecord(nil, &ev, t.now)
	if err := t.evb.Put(seqKey(ev.Seq), rec); err != nil {
		return err
	}
	t.st.lastSeq = ev.Seq
	t.st.count++
	t.st.bytes += int64(len(rec))
	t.res.gaps = append(t.res.gaps, ev)
	return nil
}

// tick publishes the lag, writes a due gap event, probes while writes fail
// and compacts a large, nearly empty file.
func (q *Queue) tick(now time.Time) {
	q.checkDiskFull()
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
	case q.gapDue(st.gap, now):
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
	if q.unsure != nil {
		q.settle()
	}
	if u := q.unsure; u != nil {
		q.unsure = nil
		q.answerBatch(u.w.batch, fmt.Errorf("%w: closed before the outcome of a failed commit was known: its events may or may not be stored", u.err))
	}
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
