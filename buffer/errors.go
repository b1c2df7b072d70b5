package buffer

import (
	"errors"
	"strconv"
)

// Sentinel errors of the buffer. Callers test them with errors.Is; the
// returned errors wrap them with the details (path, seq, sizes).
var (
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("buffer: closed")
	// ErrFull: the buffer is at max_bytes or min_free_disk and on_full is
	// reject_new. The events of that Append were counted as dropped and are
	// covered by a gap event; the caller must not retry them.
	ErrFull = errors.New("buffer: full")
	// ErrWrite: a commit failed (disk full, fsync error); the buffer refuses
	// writes until a probe commit succeeds again (see Queue.Ready).
	ErrWrite = errors.New("buffer: write failed")
	// ErrDiskFull: Queue.Ready's reason while the filesystem is at
	// min_free_disk. Appends still work: on_full decides (drop_oldest drops
	// the oldest events, reject_new refuses the new ones), every loss is
	// covered by a gap event, but the gateway is not doing its job and says
	// so until the headroom is back.
	ErrDiskFull = errors.New("buffer: filesystem at min_free_disk, events are being lost by policy")
	// ErrLocked: another process (normally the running daemon) holds the
	// buffer file's lock.
	ErrLocked = errors.New("buffer: file is locked by another process (is rfidgw running?)")
	// ErrNotFound: there is no buffer file in the data directory.
	ErrNotFound = errors.New("buffer: no buffer file")
	// ErrCorruptFile: the bbolt file cannot be opened or is not a buffer.
	ErrCorruptFile = errors.New("buffer: corrupt file")
	// ErrCorruptRecord: a record failed its CRC32C or could not be decoded.
	ErrCorruptRecord = errors.New("buffer: corrupt record")
	// ErrInvalid: bad argument or option.
	ErrInvalid = errors.New("buffer: invalid argument")
)

// RecordError names the record that failed to decode.
type RecordError struct {
	Seq    uint64
	Reason string
}

func (e *RecordError) Error() string {
	return "buffer: corrupt record seq " + strconv.FormatUint(e.Seq, 10) + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrCorruptRecord) true.
func (e *RecordError) Unwrap() error { return ErrCorruptRecord }
