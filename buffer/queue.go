package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rfidgw/rfidgw/edge"
)

// StateChange is one edge-state update committed with the events it caused
// (EPC -> settled rack). A nil Value deletes the key.
type StateChange struct{ Key, Value []byte }

// Stats describe the buffer's content.
type Stats struct {
	Events          uint64        // records waiting for delivery (including gap events)
	Bytes           int64         // their stored size, counted against MaxBytes
	OldestSeq       uint64        // 0 when empty
	NewestSeq       uint64        // 0 when empty
	OldestCommitted time.Time     // when the oldest record was committed
	NewestCommitted time.Time     //
	OldestAge       time.Duration // now - OldestCommitted (0 when empty)
	NewestAge       time.Duration //
	LastSeq         uint64        // highest seq ever assigned (stored, delivered or lost)
	FileBytes       int64         // size of buffer.db on disk
	PendingGap      uint64        // events lost whose gap event is not written yet
	Dropped         uint64        // events dropped because the buffer was full, since Open
	ReadyErr        string        // why writes are refused ("" when they work)
	DiskFull        string        // why events are being lost by on_full because the filesystem is at min_free_disk ("" when not)
}

// Queue is the durable event queue. Open starts its committer goroutine;
// Close stops it. All methods are safe for concurrent use.
//
// Wiring (internal/gateway):
//
//	q, err := buffer.Open(cfg.Gateway.DataDir, buffer.Options{Gateway: id,
//		MaxBytes: b.MaxBytes, MinFreeDisk: b.MinFreeDisk, OnFull: b.OnFull, Log: log})
//	q.LoadState(func(k, v []byte) { ... })      // edge state, once at start-up
//	q.Append(ctx, events, stateChanges)          // edge owner goroutine; durable on nil
//	recs, _ := q.Lease(ctx, 1000)                // uplink: oldest unleased records
//	q.Ack(seqs...)                               // uplink: after Kafka's delivery report
//	q.Rewind()                                   // uplink: after a failed delivery / new producer
//	q.Ready()                                    // /readyz
//	q.Stats()                                    // status topic, /api
//	q.Close()                                    // last, after the edge and the uplink stopped
//	buffer.ReadStats(dir), buffer.Dump(dir, os.Stdout) // `rfidgw buffer stats|dump`
//
// The edge owner goroutine must not retry on ErrFull (those events are
// recorded as lost); on ErrWrite it may back off and retry. Append waits
// for its commit (normally one or two fsync times); while its request is
// still queued, ctx ends the wait. Once the committer holds the request
// the outcome is awaited whatever ctx says, so that an error always means
// "not stored" (a disk that hangs in fsync hangs Append with it).
type Queue struct {
	dir, path string
	opts      Options
	log       *slog.Logger

	// The lock story is at the top of committer.go.

	// dbMu guards the db handle against the committer swapping it
	// (compaction, reopen); it takes it for writing only to swap.
	dbMu sync.RWMutex
	db   *bolt.DB

	reqs      chan *appendReq
	kick      chan struct{} // acks or corrupt records are waiting
	closing   chan struct{} // closed by Close: the one "closed" flag
	closeOnce sync.Once
	done      chan struct{} // closed when the committer has stopped
	closeErr  error         // set by the committer before done is closed

	preallocKick chan struct{}
	preallocDone chan struct{}

	// Owned by the committer goroutine.
	ceiling     uint64 // every assigned seq is below it (buffer.seq)
	lastCompact time.Time
	lastDropLog time.Time
	gapNow      bool          // write the open gap event at the next commit (disk room is back)
	unsure      *unsureCommit // a failed commit whose outcome is not settled (see failed)
	dirUnsynced bool          // a compaction renamed the file but the directory fsync failed
	keyScratch  []byte

	dropped atomic.Uint64 // events dropped because the buffer was full, since Open (Stats.Dropped); atomic, no lock

	mu         sync.Mutex // guards everything below
	st         metaState  // mirror of the last committed meta
	ends       ends
	fileBytes  int64 // size of buffer.db on disk (with preallocated room)
	dataBytes  int64 // bbolt's high-water mark in it
	readyErr   error
	diskFull   error         // ErrDiskFull while the filesystem is at min_free_disk (see checkDiskFull)
	notify     chan struct{} // closed and replaced when records were added
	readPos    uint64        // next seq Lease reads from; everything below it is leased
	leaseEpoch uint64        // bumped by Rewind
	maxSeq     uint64        // highest seq the running commit may assign (visible to Lease before q.st is updated)
	acks       ackSet        // acked, deleted by the next commit
	acksGone   chan struct{} // closed and replaced when a commit deleted acked records
	corrupt    map[uint64]string
	corruptQ   []uint64 // found bad by Lease, quarantine in the next transaction
	epochState          // the stream epoch (epoch.go)
}

type appendReq struct {
	ctx    context.Context
	events []edge.Event
	state  []StateChange
	phase  atomic.Int32 // reqWaiting -> reqTaken by the committer, or -> reqAbandoned by the caller
	done   chan error

	// committer only
	origSeq  []uint64
	buf      []byte // encoded records, back to back
	ends     []int  // end offset of each record in buf
	firstSeq uint64 // seq the records in buf were encoded with
	commit   time.Time
}

const (
	reqWaiting int32 = iota
	reqTaken
	reqAbandoned
)

// Open opens (or creates) <dir>/buffer.db and starts the committer. A file
// bbolt cannot open, or that is not a buffer, is renamed to
// buffer.db.corrupt-<UTC time> and a new one is started (logged at ERROR,
// counted in rfidgw_buffer_corrupt_files_total); nothing is deleted. If
// another process holds the file, Open fails with ErrLocked.
func Open(dir string, opts Options) (*Queue, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: buffer data_dir is empty", ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("buffer: create data_dir: %w", err)
	}
	q := &Queue{
		dir:          dir,
		path:         filepath.Join(dir, dbFile),
		opts:         opts,
		log:          opts.Log.With("component", "buffer"),
		reqs:         make(chan *appendReq, 256),
		kick:         make(chan struct{}, 1),
		closing:      make(chan struct{}),
		done:         make(chan struct{}),
		notify:       make(chan struct{}),
		acksGone:     make(chan struct{}),
		preallocKick: make(chan struct{}, 1),
		preallocDone: make(chan struct{}),
		corrupt:      make(map[uint64]string),
	}
	// A compaction copy left by a crash: the real file was never replaced
	// (the rename is the last step), so the copy is only a partial duplicate.
	if err := os.Remove(filepath.Join(dir, compactFile)); err == nil {
		q.log.Warn("removed an unfinished compaction copy", "path", filepath.Join(dir, compactFile))
	}
	ceiling, err := readSeqCeiling(dir)
	if err != nil {
		q.log.Error("seq ceiling unreadable; relying on buffer.db alone", "err", err)
		ceiling = 0
	}
	if err := q.openDB(ceiling); err != nil {
		return nil, err
	}
	if err := q.openEpoch(ceiling); err != nil {
		_ = q.db.Close()
		return nil, err
	}
	q.ceiling = max(ceiling, q.st.lastSeq+1+opts.SeqBlock)
	if err := writeSeqCeiling(dir, q.ceiling, opts.NoSync); err != nil {
		_ = q.db.Close()
		return nil, err
	}
	q.updateMetricsLocked(time.Now())
	go q.run()
	go q.preallocator()
	q.kickPrealloc()
	return q, nil
}

func (q *Queue) boltOptions() *bolt.Options {
	return &bolt.Options{
		Timeout: q.opts.LockTimeout,
		// The freelist is written only on Close: with a large backlog drained,
		// writing it on every commit makes small commits slow; the price is a
		// scan of the file when opening after a crash.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         q.opts.NoSync,
	}
}

// openDB opens or creates the file and loads the bookkeeping, moving a
// corrupt file aside.
func (q *Queue) openDB(ceiling uint64) error {
	db, err := boltOpen(q.path, q.boltOptions())
	if err == nil {
		if err = q.load(db, ceiling); err == nil {
			q.db = db
			return nil
		}
		_ = db.Close()
	}
	if !errors.Is(err, ErrCorruptFile) {
		return err
	}
	aside := q.path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		if _, serr := os.Lstat(aside); errors.Is(serr, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s.corrupt-%s.%d", q.path, time.Now().UTC().Format("20060102T150405Z"), i)
	}
	if rerr := os.Rename(q.path, aside); rerr != nil {
		return fmt.Errorf("buffer: %w; moving it aside failed: %w", err, rerr)
	}
	q.opts.Metrics.BufferCorruptFiles.Inc()
	salvaged, serr := salvageMeta(aside)
	q.log.Error("buffer file cannot be opened; moved aside and started a new one (nothing deleted)",
		"err", err, "moved_to", aside, "salvaged_meta", serr == nil,
		"lost_events", salvaged.count, "last_seq", salvaged.lastSeq)
	if db, err = boltOpen(q.path, q.boltOptions()); err != nil {
		return fmt.Errorf("buffer: start a new file after moving the corrupt one aside: %w", err)
	}
	start := salvaged.lastSeq
	if serr != nil && ceiling > 0 {
		start = ceiling - 1 // never reuse an id that may have been sent
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initLayout(tx, start); err != nil {
			return err
		}
		if serr == nil && salvaged.count > 0 {
			// The undelivered events of the old file are lost for the uplink:
			// say so with a gap event, written by the first commit.
			m := metaState{lastSeq: start}
			m.gap = gapState{first: salvaged.firstSeq, last: salvaged.lastSeq, dropped: salvaged.count, since: time.Now().UnixNano()}
			return writeMeta(tx.Bucket(bucketMeta), &m)
		}
		return nil
	})
	if err == nil {
		err = q.load(db, 0)
	}
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("buffer: start a new file: %w", err)
	}
	if q.st.gap.open() {
		q.st.gap.since, q.st.gap.opened = 0, time.Time{} // write the gap event at the first chance
	}
	q.db = db
	return nil
}

// load reads the bookkeeping of an open file, creating the layout in a new
// one. ceiling > 0 and a new file means buffer.db went missing: seqs then
// continue at the ceiling so ids are not reused.
func (q *Queue) load(db *bolt.DB, ceiling uint64) error {
	fresh := false
	err := view(db, func(tx *bolt.Tx) error {
		k, _ := tx.Cursor().First()
		fresh = k == nil // a bbolt file with other buckets is not ours: corrupt
		return nil
	})
	if err != nil {
		return err
	}
	if fresh {
		start := uint64(0)
		if ceiling > 0 {
			start = ceiling - 1
			q.log.Error("buffer.db was missing but buffer.seq exists; seq continues above every id ever used",
				"next_seq", ceiling, "path", q.path)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return initLayout(tx, start) }); err != nil {
			return fmt.Errorf("buffer: initialise %s: %w", q.path, err)
		}
	}
	v, err := q.readView(db)
	if err != nil {
		return err
	}
	q.st, q.ends, q.fileBytes, q.dataBytes = v.st, v.ends, v.fileBytes, v.dataBytes
	return nil
}

// fileView is the bookkeeping of an open file, as the shared view mirrors it.
type fileView struct {
	st                   metaState
	ends                 ends
	fileBytes, dataBytes int64
	txid                 int // bbolt's id of the last committed transaction
}

// readView reads the bookkeeping of an open file and checks it.
func (q *Queue) readView(db *bolt.DB) (fileView, error) {
	var v fileView
	err := view(db, func(tx *bolt.Tx) error {
		var err error
		if v.st, err = readMeta(tx); err != nil {
			return err
		}
		if tx.Bucket(bucketCorrupt) == nil {
			return fmt.Errorf("%w: missing corrupt bucket", ErrCorruptFile)
		}
		v.ends = readEnds(tx)
		if v.ends.newestSeq > v.st.lastSeq {
			return fmt.Errorf("%w: record seq %d above last_seq %d", ErrCorruptFile, v.ends.newestSeq, v.st.lastSeq)
		}
		v.dataBytes, v.txid = tx.Size(), tx.ID()
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrCorruptFile) {
			err = fmt.Errorf("%w: %w", ErrCorruptFile, err)
		}
		return v, fmt.Errorf("%s: %w", q.path, err)
	}
	if fi, err := os.Stat(q.path); err == nil {
		v.fileBytes = fi.Size()
	}
	return v, nil
}

type salvage struct{ lastSeq, firstSeq, count uint64 }

// salvageMeta tries to read the bookkeeping of a file that was moved aside.
func salvageMeta(path string) (s salvage, err error) {
	db, err := boltOpen(path, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		return s, err
	}
	defer db.Close()
	err = view(db, func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		e := readEnds(tx)
		s = salvage{lastSeq: m.lastSeq, firstSeq: e.oldestSeq, count: m.count}
		return nil
	})
	return s, err
}

// Append commits events and edge state changes in one group-committed,
// fsync'd transaction and returns when they are durable. It assigns
// events[i].Seq (gap-free, from 1, across restarts) and sets
// events[i].Gateway. Safe for concurrent callers: the committer takes
// whatever is waiting into one transaction; one call is never split.
//
// Errors; in every case none of this call's events and state is stored:
//   - ErrFull (on_full reject_new, buffer at max_bytes or min_free_disk):
//     returned with the commit that records the loss (never waits for
//     room). The events got seqs (events[i].Seq says which) that are
//     recorded as lost in a gap event, counted in
//     rfidgw_events_dropped_total and logged. The caller must drop them and
//     carry on; retrying would send them again under new ids.
//   - ErrWrite (disk full, fsync failed): returned at once while Ready() is
//     not nil. events[i].Seq is restored. The caller may retry later.
//   - ctx's error, if ctx ends before the committer took the call.
//   - ErrClosed, ErrInvalid.
func (q *Queue) Append(ctx context.Context, events []edge.Event, state []StateChange) error {
	for i := range events {
		if t := events[i].Type; t == "" || len(t) > 64 {
			return fmt.Errorf("%w: append: event %d: type %q must be 1..64 bytes", ErrInvalid, i, t)
		}
	}
	for i := range state {
		if len(state[i].Key) == 0 || len(state[i].Key) > bolt.MaxKeySize {
			return fmt.Errorf("%w: append: state change %d: key must be 1..%d bytes", ErrInvalid, i, bolt.MaxKeySize)
		}
	}
	if len(events) == 0 && len(state) == 0 {
		return nil
	}
	r := &appendReq{ctx: ctx, events: events, state: state, done: make(chan error, 1)}
	if q.isClosing() {
		return ErrClosed
	}
	q.mu.Lock()
	rerr := q.readyErr
	q.mu.Unlock()
	if rerr != nil {
		return fmt.Errorf("buffer: not accepting events: %w", rerr)
	}
	select {
	case q.reqs <- r:
	case <-q.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("buffer: append: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.phase.CompareAndSwap(reqWaiting, reqAbandoned) {
			return fmt.Errorf("buffer: append abandoned before commit: %w", ctx.Err())
		}
		// The committer has it: its outcome is decided within one commit.
		return <-r.done
	case <-q.done:
		// The committer stopped: a request it never took is not stored;
		// one it took was answered before it stopped.
		if r.phase.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ErrClosed
		}
		return <-r.done
	}
}

// isClosing says whether Close was called.
func (q *Queue) isClosing() bool {
	select {
	case <-q.closing:
		return true
	default:
		return false
	}
}

// LoadState calls fn for every edge-state key and value (start-up). The
// slices are valid only during the call.
func (q *Queue) LoadState(fn func(key, value []byte)) error {
	q.dbMu.RLock()
	defer q.dbMu.RUnlock()
	if q.db == nil {
		return ErrClosed
	}
	return view(q.db, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEach(func(k, v []byte) error {
			fn(k, v)
			return nil
		})
	})
}

// Lease returns up to max of the oldest records not currently leased, in
// seq order. It blocks until at least one is available, ctx ends or the
// queue closes. Leases live in memory only: after Rewind or a restart the
// unacked records are handed out again.
//
// A record that fails its CRC32C is not handed out: it is logged at ERROR
// (naming its seq), moved to the file's "corrupt" bucket (kept, see
// Dump) and replaced by a gap event {dropped: 1, first_seq = last_seq =
// its seq} counted in rfidgw_events_dropped_total.
func (q *Queue) Lease(ctx context.Context, max int) ([]Record, error) {
	if max <= 0 {
		return nil, fmt.Errorf("%w: lease of %d records", ErrInvalid, max)
	}
	for {
		q.mu.Lock()
		pos, epoch, notify := q.readPos, q.leaseEpoch, q.notify
		backlog, acksGone := q.acks.len(), q.acksGone
		q.mu.Unlock()
		if q.isClosing() {
			return nil, ErrClosed
		}
		if backlog >= maxPendingAcks {
			// The deletes lag behind: wait for them rather than let the
			// acked-but-undeleted set grow without bound.
			select {
			case <-acksGone:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-q.closing:
				return nil, ErrClosed
			}
		}
		recs, next, err := q.read(pos, max)
		if err != nil {
			return nil, err
		}
		if next > pos {
			// Claim what was read, unless another Lease claimed from pos
			// meanwhile: then read again from where it ended. (After a
			// Rewind the records are handed out anyway; they will be again.)
			q.mu.Lock()
			taken := q.leaseEpoch == epoch && q.readPos != pos
			if q.leaseEpoch == epoch && !taken {
				q.readPos = next
			}
			q.mu.Unlock()
			if taken {
				continue
			}
		}
		if len(recs) > 0 {
			return recs, nil
		}
		if next > pos {
			continue // skipped only acked or corrupt records; look further
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.closing:
			return nil, ErrClosed
		}
	}
}

// maxPendingAcks bounds the acked seqs waiting for their delete (8 bytes
// each); Lease waits while there are more.
const maxPendingAcks = 1 << 18

// read copies up to limit records from seq pos on, in a short read
// transaction. next is one past the last seq looked at.
func (q *Queue) read(pos uint64, limit int) (recs []Record, next uint64, err error) {
	q.dbMu.RLock()
	defer q.dbMu.RUnlock()
	if q.db == nil {
		if q.Ready() == ErrClosed {
			return nil, pos, ErrClosed
		}
		return nil, pos, fmt.Errorf("%w: buffer file not open (reopen after compaction failed)", ErrWrite)
	}
	next = pos
	var slab []byte
	var found []*RecordError
	err = view(q.db, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		q.mu.Lock()
		defer q.mu.Unlock()
		// Only what a commit published: a commit that failed may show in the
		// file before it is known to be durable (see settle).
		last := q.st.lastSeq
		for k, v := c.Seek(seqKey(pos)); k != nil && len(recs) < limit; k, v = c.Next() {
			seq, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: key %x in events is not a seq", ErrCorruptFile, k)
			}
			if seq > last {
				break
			}
			next = seq + 1
			if q.acks.has(seq) {
				continue
			}
			if _, ok := q.corrupt[seq]; ok {
				continue
			}
			h, err := parseRecord(seq, v)
			if err != nil {
				var re *RecordError
				errors.As(err, &re)
				q.corrupt[seq] = re.Reason
				q.corruptQ = append(q.corruptQ, seq)
				found = append(found, re)
				continue
			}
			n := len(h.key) + len(h.value)
			if cap(slab)-len(slab) < n {
				slab = make([]byte, 0, max(64<<10, n))
			}
			off := len(slab)
			slab = append(slab, h.key...)
			slab = append(slab, h.value...)
			if recs == nil {
				recs = make([]Record, 0, min(limit, 1024))
			}
			recs = append(recs, Record{
				Seq:       seq,
				Key:       slab[off : off+len(h.key) : off+len(h.key)],
				Type:      typeString(h.typ),
				Time:      fromUnixNano(h.time),
				Committed: fromUnixNano(h.committed),
				Value:     slab[off+len(h.key) : len(slab) : len(slab)],
			})
		}
		return nil
	})
	for _, re := range found {
		q.log.Error("corrupt record in the buffer: not sent, kept in the corrupt bucket, replaced by a gap event",
			"seq", re.Seq, "err", re)
	}
	if len(found) > 0 {
		q.kickCommitter()
	}
	return recs, next, err
}

// Ack deletes delivered records. It returns at once: the deletes are
// batched into the next commit, and an acked record is never handed out
// again by this process (after a crash before that commit it is, at least
// once). Acking a seq that is not stored (already acked or dropped) is a
// no-op; one that was never assigned is an error.
func (q *Queue) Ack(seqs ...uint64) error {
	if q.isClosing() {
		return ErrClosed
	}
	q.mu.Lock()
	var bad []uint64
	last := max(q.st.lastSeq, q.maxSeq)
	for _, s := range seqs {
		if s == 0 || s > last {
			bad = append(bad, s)
			continue
		}
		q.acks.add(s)
	}
	q.mu.Unlock()
	q.kickCommitter()
	if bad != nil {
		return fmt.Errorf("%w: ack of seq %v: never assigned (last seq %d)", ErrInvalid, bad, last)
	}
	return nil
}

func (q *Queue) kickCommitter() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Rewind forgets all leases: the next Lease starts again at the oldest
// unacked record (the uplink calls it after a failed delivery).
func (q *Queue) Rewind() {
	q.mu.Lock()
	q.readPos = 0
	q.leaseEpoch++
	q.mu.Unlock()
}

// Stats returns the buffer's counters (from memory; no disk access).
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.statsLocked(time.Now())
	s.Dropped = q.dropped.Load()
	if q.readyErr != nil {
		s.ReadyErr = q.readyErr.Error()
	}
	if q.diskFull != nil {
		s.DiskFull = q.diskFull.Error()
	}
	return s
}

func (q *Queue) statsLocked(now time.Time) Stats {
	return makeStats(q.st, q.ends, q.fileBytes, now)
}

func makeStats(m metaState, e ends, fileBytes int64, now time.Time) Stats {
	s := Stats{Events: m.count, Bytes: m.bytes, LastSeq: m.lastSeq, FileBytes: fileBytes, PendingGap: m.gap.dropped}
	if m.count > 0 {
		s.OldestSeq, s.NewestSeq = e.oldestSeq, e.newestSeq
		s.OldestCommitted, s.NewestCommitted = e.oldestCommitted, e.newestCommitted
		if !e.oldestCommitted.IsZero() {
			s.OldestAge = max(0, now.Sub(e.oldestCommitted))
		}
		if !e.newestCommitted.IsZero() {
			s.NewestAge = max(0, now.Sub(e.newestCommitted))
		}
	}
	return s
}

// Ready is nil while the buffer stores every event it is given, else the
// reason:
//   - ErrWrite: a commit failed (disk full, fsync failed); Append refuses
//     events until a probe commit succeeds, then Ready turns nil by itself.
//   - ErrDiskFull: the filesystem is at min_free_disk, so on_full is
//     losing events (drop_oldest) or refusing them (reject_new), each loss
//     covered by a gap event. Append still works. It turns nil once the
//     headroom above min_free_disk is back to diskReadyMargin.
//   - ErrClosed.
//
// A buffer at max_bytes is ready: that is the designed end of a long
// uplink outage, reported by the lag, the gap events and the uplink state.
func (q *Queue) Ready() error {
	if q.isClosing() {
		return ErrClosed
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.readyErr != nil {
		return q.readyErr
	}
	return q.diskFull
}

// Close commits what is waiting, writes the freelist (so the next open is
// fast) and closes the file.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() { close(q.closing) })
	<-q.done
	<-q.preallocDone
	q.closeEpoch()
	return q.closeErr
}

// updateMetricsLocked publishes the gauges; q.mu held (or not yet shared).
func (q *Queue) updateMetricsLocked(now time.Time) {
	q.opts.Metrics.BufferEvents.Set(float64(q.st.count))
	q.opts.Metrics.BufferBytes.Set(float64(q.st.bytes))
	q.opts.Metrics.BufferFileBytes.Set(float64(q.fileBytes))
	lag := 0.0
	if q.st.count > 0 && !q.ends.oldestCommitted.IsZero() {
		lag = max(0, now.Sub(q.ends.oldestCommitted).Seconds())
	}
	q.opts.Metrics.UplinkLagSeconds.Set(lag)
}
