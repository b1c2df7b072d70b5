package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// File names in the data directory.
const (
	dbFile      = "buffer.db"
	seqFile     = "buffer.seq" // seq ceiling, so ids are never reused even if buffer.db is lost
	compactFile = "buffer.db.compact"
)

// Buckets.
var (
	bucketEvents  = []byte("events")  // seq (8 bytes BE) -> record
	bucketState   = []byte("state")   // edge state: key -> value
	bucketMeta    = []byte("meta")    // counters, see metaState
	bucketCorrupt = []byte("corrupt") // records that failed their CRC, kept for forensics
)

// Keys of the meta bucket.
var (
	metaFormat  = []byte("format")
	metaLastSeq = []byte("last_seq")
	metaCount   = []byte("count")
	metaBytes   = []byte("bytes")
	metaGap     = []byte("gap")
	metaClosed  = []byte("closed_at")
	// metaConfirmed is written by the commit that makes a failed-but-stored
	// commit durable (see Queue.settle).
	metaConfirmed = []byte("confirmed_at")
)

const layoutFormat = 1

// gapState is a run of lost events whose gap event is not written yet.
type gapState struct {
	first, last, dropped uint64
	since                int64 // Unix ns of the first loss
	// opened is the first loss with the monotonic clock reading, so that
	// a wall-clock step neither delays nor hurries the gap event; zero
	// for a run restored from disk (then since is used).
	opened time.Time
}

// age is how long the run of losses has been open at now.
func (g gapState) age(now time.Time) time.Duration {
	if !g.opened.IsZero() {
		return now.Sub(g.opened)
	}
	return now.Sub(time.Unix(0, g.since))
}

func (g gapState) open() bool { return g.dropped > 0 }

func (g *gapState) add(first, last, n uint64, now time.Time) {
	if n == 0 {
		return
	}
	if !g.open() {
		*g = gapState{first: first, last: last, since: now.UnixNano(), opened: now}
	}
	g.first = min(g.first, first)
	g.last = max(g.last, last)
	g.dropped += n
}

// metaState is the persistent bookkeeping, written in every transaction.
type metaState struct {
	lastSeq uint64 // highest seq ever assigned (stored or lost)
	count   uint64 // records in the events bucket
	bytes   int64  // sum of their sizes
	gap     gapState
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func writeMeta(b *bolt.Bucket, m *metaState) error {
	if err := b.Put(metaLastSeq, u64(m.lastSeq)); err != nil {
		return err
	}
	if err := b.Put(metaCount, u64(m.count)); err != nil {
		return err
	}
	if err := b.Put(metaBytes, u64(uint64(m.bytes))); err != nil {
		return err
	}
	if !m.gap.open() {
		return b.Delete(metaGap)
	}
	g := make([]byte, 0, 32)
	g = binary.BigEndian.AppendUint64(g, m.gap.first)
	g = binary.BigEndian.AppendUint64(g, m.gap.last)
	g = binary.BigEndian.AppendUint64(g, m.gap.dropped)
	g = binary.BigEndian.AppendUint64(g, uint64(m.gap.since))
	return b.Put(metaGap, g)
}

func readMeta(tx *bolt.Tx) (metaState, error) {
	var m metaState
	b := tx.Bucket(bucketMeta)
	if b == nil || tx.Bucket(bucketEvents) == nil || tx.Bucket(bucketState) == nil {
		return m, fmt.Errorf("%w: missing buckets", ErrCorruptFile)
	}
	if f := b.Get(metaFormat); len(f) != 8 || binary.BigEndian.Uint64(f) != layoutFormat {
		return m, fmt.Errorf("%w: unknown layout format %x", ErrCorruptFile, f)
	}
	get := func(k []byte) (uint64, error) {
		v := b.Get(k)
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: meta %s has %d bytes, want 8", ErrCorruptFile, k, len(v))
		}
		return binary.BigEndian.Uint64(v), nil
	}
	var err error
	if m.lastSeq, err = get(metaLastSeq); err != nil {
		return m, err
	}
	if m.count, err = get(metaCount); err != nil {
		return m, err
	}
	bytes, err := get(metaBytes)
	if err != nil {
		return m, err
	}
	m.bytes = int64(bytes)
	if g := b.Get(metaGap); g != nil {
		if len(g) != 32 {
			return m, fmt.Errorf("%w: meta gap has %d bytes, want 32", ErrCorruptFile, len(g))
		}
		m.gap = gapState{
			first:   binary.BigEndian.Uint64(g[0:]),
			last:    binary.BigEndian.Uint64(g[8:]),
			dropped: binary.BigEndian.Uint64(g[16:]),
			since:   int64(binary.BigEndian.Uint64(g[24:])),
		}
	}
	return m, nil
}

// initLayout creates the buckets of a new file, with seqs continuing after
// lastSeq.
func initLayout(tx *bolt.Tx, lastSeq uint64) error {
	for _, name := range [][]byte{bucketEvents, bucketState, bucketMeta, bucketCorrupt} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	b := tx.Bucket(bucketMeta)
	if err := b.Put(metaFormat, u64(layoutFormat)); err != nil {
		return err
	}
	return writeMeta(b, &metaState{lastSeq: lastSeq})
}

// ends describes the oldest and newest stored records.
type ends struct {
	oldestSeq, newestSeq             uint64
	oldestCommitted, newestCommitted time.Time
}

func readEnds(tx *bolt.Tx) ends {
	var e ends
	c := tx.Bucket(bucketEvents).Cursor()
	if k, v := c.First(); k != nil {
		e.oldestSeq, _ = keySeq(k)
		e.oldestCommitted = committedOf(v)
	}
	if k, v := c.Last(); k != nil {
		e.newestSeq, _ = keySeq(k)
		e.newestCommitted = committedOf(v)
	}
	return e
}

// boltOpen opens a bbolt file and turns bbolt's panics on damaged files into
// errors.
func boltOpen(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: bbolt panicked: %v", ErrCorruptFile, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, o)
	if err == nil {
		return db, nil
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, o.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping),
		strings.Contains(err.Error(), "file size too small"):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptFile, path, err)
	}
	return nil, fmt.Errorf("buffer: open %s: %w", path, err)
}

// view runs fn in a read transaction and turns a bbolt panic (damaged
// pages) into an error.
func view(db *bolt.DB, fn func(tx *bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: bbolt panicked: %v", ErrCorruptFile, db.Path(), r)
		}
	}()
	return db.View(fn)
}

// readSeqCeiling reads buffer.seq: every seq ever assigned in dir is below
// the ceiling. 0 when there is no file.
func readSeqCeiling(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, seqFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("buffer: read seq ceiling: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] != "ceiling" {
		return 0, fmt.Errorf("%w: %s: want \"ceiling N\"", ErrCorruptFile, filepath.Join(dir, seqFile))
	}
	v, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrCorruptFile, filepath.Join(dir, seqFile), err)
	}
	return v, nil
}

// writeSeqCeiling replaces buffer.seq durably (write, fsync, rename, fsync
// the directory).
func writeSeqCeiling(dir string, ceiling uint64, noSync bool) error {
	return writeSideFile(dir, seqFile, fmt.Sprintf("ceiling %d\n", ceiling), noSync)
}

// writeSideFile replaces dir/name with data durably: write a temp file,
// fsync it, rename it over the old one, fsync the directory (a power cut
// leaves the old or the new file, never a torn one). The seq ceiling and the
// epoch file use it.
func writeSideFile(dir, name, data string, noSync bool) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = f.WriteString(data)
		if err == nil && !noSync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && !noSync {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("buffer: write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// freeDisk is the space left to unprivileged users on dir's filesystem.
func freeDisk(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("buffer: statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
