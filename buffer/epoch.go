package buffer

// The stream epoch: the identity of a gateway's event stream. An epoch is
// created with a new data dir (random, never reused), persisted in
// buffer.db's meta bucket and mirrored in buffer.epoch. Event ids are
// "<gateway>-<epoch>-<seq>", so they stay unique forever even when seq starts
// again at 1 (a wiped data dir) or a restored buffer.db hands out seqs that
// were used before.
//
// A new epoch starts when
//   - buffer.db is new (a new or wiped data dir: seq 1; a lost or replaced
//     buffer.db: seq continues above buffer.seq's ceiling);
//   - buffer.db is older than what the data dir knew: its last seq is below
//     the last seq buffer.epoch recorded at the previous start or clean stop,
//     or far below buffer.seq's ceiling (a restored backup or snapshot of
//     buffer.db alone). This is logged at ERROR and counted.
//
// Records committed before the new epoch keep the epoch they were committed
// in (EpochOf), so a redelivered event keeps its id.

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const epochFile = "buffer.epoch" // "epoch E\nfirst F\nlast L\n", mirror of the current epoch

const (
	reasonNewDir = "new data dir"
	reasonFirst  = "first start with stream epochs (upgrade)"
)

var metaEpochs = []byte("epochs") // "E F\n" per epoch, oldest first

// epochState is the Queue's epoch bookkeeping (guarded by Queue.mu).
type epochState struct {
	epochs      []Epoch // oldest first; the last is current
	epochNew    bool
	epochReason string
}

// maxEpochs bounds the epoch history kept in buffer.db (only epochs that
// may still have undelivered records matter).
const maxEpochs = 16

// EpochPattern is the form of an epoch: 8 hex digits of the creation time
// (Unix seconds) and 8 random hex digits, so epochs sort by creation.
var EpochPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Epoch is one stream epoch of the gateway.
type Epoch struct {
	ID       string // 16 lower-case hex digits
	FirstSeq uint64 // the first seq of the epoch (1 for a new data dir)
	// New is true when this Open created the epoch; Reason says why.
	New    bool
	Reason string
}

// NewEpochID returns a fresh epoch id.
func NewEpochID(now time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		// crypto/rand does not fail on Linux; fall back to the clock.
		binary.BigEndian.PutUint32(b[4:], uint32(now.UnixNano()))
	}
	return hex.EncodeToString(b[:])
}

// Epoch returns the current epoch: every event committed from now on
// belongs to it.
func (q *Queue) Epoch() Epoch {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.epochs) == 0 {
		return Epoch{}
	}
	e := q.epochs[len(q.epochs)-1]
	e.New, e.Reason = q.epochNew, q.epochReason
	return e
}

// EpochOf returns the epoch the record with this seq was committed in.
func (q *Queue) EpochOf(seq uint64) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := len(q.epochs) - 1; i >= 0; i-- {
		if seq >= q.epochs[i].FirstSeq || i == 0 {
			return q.epochs[i].ID
		}
	}
	return ""
}

type epochFileState struct {
	id          string
	first, last uint64
}

func readEpochFile(dir string) (epochFileState, error) {
	var s epochFileState
	b, err := os.ReadFile(filepath.Join(dir, epochFile))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "epoch":
			s.id = v
		case "first":
			s.first, err = strconv.ParseUint(v, 10, 64)
		case "last":
			s.last, err = strconv.ParseUint(v, 10, 64)
		}
		if err != nil {
			break
		}
	}
	if err != nil || !EpochPattern.MatchString(s.id) {
		return s, fmt.Errorf("%w: %s: want \"epoch E\", \"first N\", \"last N\" lines", ErrCorruptFile, filepath.Join(dir, epochFile))
	}
	return s, nil
}

func writeEpochFile(dir string, s epochFileState, noSync bool) error {
	return writeSideFile(dir, epochFile, fmt.Sprintf("epoch %s\nfirst %d\nlast %d\n", s.id, s.first, s.last), noSync)
}

func parseEpochs(v []byte) []Epoch {
	var out []Epoch
	for _, line := range strings.Split(string(v), "\n") {
		id, first, ok := strings.Cut(line, " ")
		n, err := strconv.ParseUint(first, 10, 64)
		if ok && err == nil && EpochPattern.MatchString(id) {
			out = append(out, Epoch{ID: id, FirstSeq: n})
		}
	}
	return out
}

func formatEpochs(es []Epoch) []byte {
	var b []byte
	for _, e := range es {
		b = fmt.Appendf(b, "%s %d\n", e.ID, e.FirstSeq)
	}
	return b
}

// openEpoch decides the epoch at Open (before the committer starts), from
// buffer.db's epoch history, buffer.epoch and the seq ceiling read from
// buffer.seq (0 when missing).
func (q *Queue) openEpoch(ceiling uint64) error {
	var epochs []Epoch
	err := view(q.db, func(tx *bolt.Tx) error {
		epochs = parseEpochs(tx.Bucket(bucketMeta).Get(metaEpochs))
		return nil
	})
	if err != nil {
		return err
	}
	file, ferr := readEpochFile(q.dir)
	if ferr != nil && !errors.Is(ferr, os.ErrNotExist) {
		q.log.Error("epoch file unreadable; relying on buffer.db", "err", ferr)
	}
	last := q.st.lastSeq
	first := last + 1
	if q.st.count > 0 && q.ends.oldestSeq > 0 {
		first = min(first, q.ends.oldestSeq)
	}
	known := func(id string) bool {
		for _, e := range epochs {
			if e.ID == id {
				return true
			}
		}
		return false
	}
	reason := ""
	switch {
	case len(epochs) == 0 && ferr == nil && q.st.gap.open() && q.st.gap.last >= last && file.last <= last:
		// A damaged buffer.db was moved aside and the new one continues its
		// seqs with a gap event for what it held: the same stream goes on.
		epochs = []Epoch{{ID: file.id, FirstSeq: file.first}}
	case len(epochs) == 0 && last == 0:
		reason = reasonNewDir
	case len(epochs) == 0 && ferr == nil:
		reason = "buffer.db was missing or replaced; seq continues above every id used before"
	case len(epochs) == 0:
		reason = reasonFirst
	case ferr == nil && !known(file.id):
		reason = fmt.Sprintf("buffer.db does not hold the data dir's epoch %s (a restored or copied buffer.db)", file.id)
		first = last + 1
	case ferr == nil && file.id == epochs[len(epochs)-1].ID && last < file.last:
		reason = fmt.Sprintf("buffer.db is older than the data dir: its last seq %d is below %d, recorded at the last start or stop (a restored backup or snapshot)", last, file.last)
		first = last + 1
	case ceiling > 0 && ceiling > last+1+2*q.opts.SeqBlock:
		reason = fmt.Sprintf("buffer.db is older than the seq ceiling: its last seq %d is far below buffer.seq's ceiling %d (a restored backup or snapshot)", last, ceiling)
		first = last + 1
	}
	isNew := reason != ""
	if isNew {
		first = max(first, 1)
		e := Epoch{ID: NewEpochID(time.Now()), FirstSeq: first}
		for _, old := range epochs {
			if old.ID == e.ID { // same second and same 32 random bits: draw again
				e.ID = NewEpochID(time.Now().Add(time.Second))
			}
		}
		epochs = append(epochs, e)
		if len(epochs) > maxEpochs {
			epochs = epochs[len(epochs)-maxEpochs:]
		}
		if err := q.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaEpochs, formatEpochs(epochs))
		}); err != nil {
			return fmt.Errorf("buffer: store the stream epoch: %w", err)
		}
		q.opts.Metrics.BufferEpochsStarted.Inc()
		if reason != reasonNewDir && reason != reasonFirst {
			q.log.Error("NEW STREAM EPOCH: event ids restart under a new epoch so no id is reused",
				"epoch", e.ID, "first_seq", e.FirstSeq, "previous_epochs", len(epochs)-1, "reason", reason)
		} else {
			q.log.Info("new stream epoch", "epoch", e.ID, "first_seq", e.FirstSeq, "reason", reason)
		}
	}
	cur := epochs[len(epochs)-1]
	if err := writeEpochFile(q.dir, epochFileState{id: cur.ID, first: cur.FirstSeq, last: last}, q.opts.NoSync); err != nil {
		return err
	}
	q.mu.Lock()
	q.epochState = epochState{epochs: epochs, epochNew: isNew, epochReason: reason}
	q.mu.Unlock()
	return nil
}

// closeEpoch records the last seq of a clean stop in buffer.epoch, so a
// buffer.db restored from before it is recognised at the next start.
func (q *Queue) closeEpoch() {
	q.mu.Lock()
	var cur Epoch
	if len(q.epochs) > 0 {
		cur = q.epochs[len(q.epochs)-1]
	}
	last := q.st.lastSeq
	q.mu.Unlock()
	if cur.ID == "" {
		return
	}
	if err := writeEpochFile(q.dir, epochFileState{id: cur.ID, first: cur.FirstSeq, last: last}, q.opts.NoSync); err != nil {
		q.log.Warn("buffer: recording the last seq at stop failed", "err", err)
	}
}

// EpochSet is the epoch history of a stopped gateway's buffer, for tools
// (`rfidgw buffer dump` shows ids as Kafka gets them).
type EpochSet []Epoch

// EpochOf returns the epoch of seq ("" when there is none).
func (s EpochSet) EpochOf(seq uint64) string {
	for i := len(s) - 1; i >= 0; i-- {
		if seq >= s[i].FirstSeq || i == 0 {
			return s[i].ID
		}
	}
	return ""
}

// ReadEpochs reads the epoch history of the buffer in dir (the daemon must
// be stopped, like Dump).
func ReadEpochs(dir string) (EpochSet, error) {
	db, err := openOffline(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var es []Epoch
	err = view(db, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			es = parseEpochs(b.Get(metaEpochs))
		}
		return nil
	})
	return es, err
}
