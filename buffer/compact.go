package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maybeCompact gives disk space back: bbolt never shrinks its file, so when
// the queue is nearly empty and the file large, the live data is copied to
// a new file that replaces the old one by rename.
func (q *Queue) maybeCompact(now time.Time) {
	fi, err := os.Stat(q.path)
	if err != nil {
		return
	}
	q.mu.Lock()
	q.fileBytes = max(fi.Size(), q.dataBytes)
	st := q.st
	size := q.dataBytes // preallocated room is not waste
	q.mu.Unlock()
	if size < q.opts.CompactMinFileBytes || st.count > uint64(q.opts.CompactMaxEvents) || st.bytes > size/8 {
		return
	}
	if now.Sub(q.lastCompact) < q.opts.compactEvery {
		return
	}
	q.lastCompact = now
	if err := q.compact(); err != nil {
		q.log.Error("buffer compaction failed; keeping the file as it is", "err", err)
	}
}

// compact copies the live data to buffer.db.compact, fsyncs it and renames
// it over buffer.db. A crash before the rename leaves the old file intact
// (Open removes the copy); after it, the new file is complete.
func (q *Queue) compact() error {
	start := time.Now()
	tmp := filepath.Join(q.dir, compactFile)
	_ = os.Remove(tmp)

	q.dbMu.Lock()
	defer q.dbMu.Unlock()
	before := q.dataBytes
	ndb, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	err = view(q.db, func(otx *bolt.Tx) error {
		return ndb.Update(func(ntx *bolt.Tx) error {
			for _, name := range [][]byte{bucketEvents, bucketState, bucketMeta, bucketCorrupt} {
				ob := otx.Bucket(name)
				nb, err := ntx.CreateBucket(name)
				if err != nil {
					return err
				}
				nb.FillPercent = 1.0
				if err := ob.ForEach(func(k, v []byte) error { return nb.Put(k, v) }); err != nil {
					return fmt.Errorf("copy bucket %s: %w", name, err)
				}
			}
			return nil
		})
	})
	if err == nil && !q.opts.NoSync {
		err = ndb.Sync()
	}
	if cerr := ndb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// Swap: no reader holds the db (dbMu), the committer is us.
	if err := q.db.Close(); err != nil {
		q.log.Warn("buffer: closing the old file for compaction", "err", err)
	}
	q.db = nil
	renameErr := os.Rename(tmp, q.path)
	var dirErr error
	if renameErr == nil && !q.opts.NoSync {
		// Until the directory is synced the rename is not durable: a power
		// cut would bring the old file back without what is committed to
		// the new one. So nothing is committed until it is (prepare).
		if dirErr = syncDir(q.dir); dirErr != nil {
			q.dirUnsynced = true
			q.notReady(fmt.Errorf("fsync of %s after compaction: %w", q.dir, dirErr))
		}
	}
	db, err := boltOpen(q.path, q.boltOptions())
	if err == nil {
		q.mu.Lock()
		err = q.load(db, 0)
		q.mu.Unlock()
		if err != nil {
			_ = db.Close()
		}
	}
	if err != nil {
		werr := fmt.Errorf("%w: reopen after compaction: %w", ErrWrite, err)
		q.mu.Lock()
		q.readyErr = werr
		q.mu.Unlock()
		return errors.Join(werr, renameErr)
	}
	q.db = db
	if dirErr != nil {
		return fmt.Errorf("fsync %s after renaming the compacted file: %w", q.dir, dirErr)
	}
	if renameErr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, renameErr)
	}
	q.opts.Metrics.BufferCompactions.Inc()
	q.mu.Lock()
	after := q.dataBytes
	q.updateMetricsLocked(time.Now())
	q.mu.Unlock()
	q.log.Info("buffer compacted", "file_bytes_before", before, "file_bytes_after", after, "took", time.Since(start))
	return nil
}

// reopen opens the file again after compaction failed to (the committer
// retries it from the probe).
func (q *Queue) reopen() error {
	q.dbMu.Lock()
	defer q.dbMu.Unlock()
	if q.db != nil {
		return nil
	}
	db, err := boltOpen(q.path, q.boltOptions())
	if err != nil {
		return err
	}
	q.mu.Lock()
	err = q.load(db, 0)
	q.mu.Unlock()
	if err != nil {
		_ = db.Close()
		return err
	}
	q.db = db
	return nil
}
