package buffer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openOffline opens the buffer of a stopped gateway read-only. The daemon
// holds an exclusive lock, so this fails fast with ErrLocked while it runs.
func openOffline(dir string) (*bolt.DB, error) {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s (is --data-dir right?)", ErrNotFound, path)
		}
		return nil, fmt.Errorf("buffer: %w", err)
	}
	db, err := boltOpen(path, &bolt.Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("%w; stop the daemon first, or read rfidgw_buffer_* on /metrics: %w", ErrLocked, err)
	}
	return db, err
}

// ReadStats reads the statistics of a stopped gateway's buffer in dir.
func ReadStats(dir string) (Stats, error) {
	db, err := openOffline(dir)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	var s Stats
	err = view(db, func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		s = makeStats(m, readEnds(tx), 0, time.Now())
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("buffer: stats of %s: %w", db.Path(), err)
	}
	if fi, err := os.Stat(db.Path()); err == nil {
		s.FileBytes = fi.Size()
	}
	return s, nil
}

// Dump writes the pending events of a stopped gateway's buffer in dir to w
// as JSON lines (docs/events.md), oldest first. Records that fail their CRC
// are skipped and named in the returned error (errors.Is ErrCorruptRecord),
// after every good record was written.
func Dump(dir string, w io.Writer) error {
	db, err := openOffline(dir)
	if err != nil {
		return err
	}
	defer db.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	var bad []error
	err = view(db, func(tx *bolt.Tx) error {
		if _, err := readMeta(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			seq, ok := keySeq(k)
			if !ok {
				bad = append(bad, fmt.Errorf("%w: key %x is not a seq", ErrCorruptFile, k))
				return nil
			}
			h, err := parseRecord(seq, v)
			if err != nil {
				bad = append(bad, err)
				return nil
			}
			bw.Write(h.value)
			return bw.WriteByte('\n')
		})
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("buffer: dump %s: %w", db.Path(), err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("buffer: dump %s: %d corrupt records skipped: %w", db.Path(), len(bad), errors.Join(bad...))
	}
	return nil
}
