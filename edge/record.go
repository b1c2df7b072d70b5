package edge

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Recorder defaults.
const (
	// DefaultRecordFiles is how many files a recording rotates over:
	// path, path.1, ..., path.7 (oldest).
	DefaultRecordFiles = 8
	// DefaultRecordMaxBytes is the default of record.max_bytes (docs/config.md).
	DefaultRecordMaxBytes = 256 << 20

	recordFlushEvery = time.Second      // of read time
	recordRetryEvery = 10 * time.Second // of read time, after a write error
)

// Recorder appends reads and reader status changes to a file in the format
// of docs/zones.md, "The reads format" (one JSON object per line), so that `rfidgw replay` can run
// a recorded day with other settings. Files rotate: when path would grow
// past max_bytes/files it becomes path.1, path.1 becomes path.2 and so on;
// the oldest is deleted, so all files together stay within max_bytes.
//
// Writes are buffered and flushed once a second of read time (the recorder
// has no clock of its own, like the engine) and on Close. It is not safe for
// concurrent use: the owner goroutine calls it next to Engine.Process.
type Recorder struct {
	path     string
	files    int
	perFile  int64
	log      *slog.Logger
	f        *os.File
	w        *bufio.Writer
	size     int64 // bytes in the current file, buffered ones included
	line     []byte
	flushed  int64 // read time (ns) of the last flush
	failedAt int64 // read time (ns) of the last failure; 0 = healthy
	dropped  uint64
	closed   bool
}

// RecorderOption adjusts a Recorder.
type RecorderOption func(*Recorder)

// RecordFiles sets how many files the recording rotates over (at least 2).
func RecordFiles(n int) RecorderOption { return func(r *Recorder) { r.files = n } }

// RecordLogger sets the logger (default slog.Default()).
func RecordLogger(l *slog.Logger) RecorderOption { return func(r *Recorder) { r.log = l } }

// NewRecorder opens (appending to) the recording at path. maxBytes is the
// total for all rotated files; 0 means DefaultRecordMaxBytes.
func NewRecorder(path string, maxBytes int64, opts ...RecorderOption) (*Recorder, error) {
	r := &Recorder{path: path, files: DefaultRecordFiles, log: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	if path == "" {
		return nil, fmt.Errorf("%w: record.path is empty", ErrBadConfig)
	}
	if maxBytes == 0 {
		maxBytes = DefaultRecordMaxBytes
	}
	if r.files < 2 {
		return nil, fmt.Errorf("%w: record files: %d, want at least 2", ErrBadConfig, r.files)
	}
	r.perFile = maxBytes / int64(r.files)
	if r.perFile < 4096 {
		return nil, fmt.Errorf("%w: record.max_bytes: %d is too small for %d files of at least 4 KiB", ErrBadConfig, maxBytes, r.files)
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Recorder) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	if r.w == nil {
		r.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		r.w.Reset(f)
	}
	return nil
}

// Write appends one read (or status change). After a write error the
// recorder drops reads (counted by Dropped) and tries again every 10 s of
// read time; only the first failure is returned, so a full disk does not
// flood the log.
func (r *Recorder) Write(rd *reader.Read) error {
	if r.closed {
		return ErrRecorderClosed
	}
	now := rd.Time.UnixNano()
	if r.failedAt != 0 {
		if now-r.failedAt < int64(recordRetryEvery) {
			r.dropped++
			return nil
		}
		if err := r.recover(now); err != nil {
			r.dropped++
			return nil
		}
	}
	r.line = rd.AppendJSON(r.line[:0])
	r.line = append(r.line, '\n')
	if r.size > 0 && r.size+int64(len(r.line)) > r.perFile {
		if err := r.rotate(); err != nil {
			return r.fail(now, err)
		}
	}
	if _, err := r.w.Write(r.line); err != nil {
		return r.fail(now, fmt.Errorf("recording to %s: %w", r.path, err))
	}
	r.size += int64(len(r.line))
	if now-r.flushed >= int64(recordFlushEvery) {
		r.flushed = now
		if err := r.w.Flush(); err != nil {
			return r.fail(now, fmt.Errorf("recording to %s: %w", r.path, err))
		}
	}
	return nil
}

func (r *Recorder) fail(now int64, err error) error {
	r.failedAt = max(now, 1)
	r.dropped++
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.log.Warn("recording reads failed; dropping reads and retrying every 10s", "path", r.path, "err", err)
	return err
}

func (r *Recorder) recover(now int64) error {
	if err := r.open(); err != nil {
		r.failedAt = max(now, 1)
		return err
	}
	r.log.Info("recording reads again", "path", r.path, "dropped", r.dropped)
	r.failedAt = 0
	return nil
}

// rotate shifts path -> path.1 -> ... and starts an empty path.
func (r *Recorder) rotate() error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	r.f = nil
	name := func(i int) string {
		if i == 0 {
			return r.path
		}
		return r.path + "." + strconv.Itoa(i)
	}
	if err := os.Remove(name(r.files - 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating %s: %w", r.path, err)
	}
	for i := r.files - 2; i >= 0; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating %s: %w", r.path, err)
		}
	}
	return r.open()
}

// Dropped is how many reads were not recorded because of write errors.
func (r *Recorder) Dropped() uint64 { return r.dropped }

// Flush writes out buffered reads.
func (r *Recorder) Flush() error {
	if r.closed || r.f == nil {
		return nil
	}
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	return nil
}

// Close flushes and closes the recording.
func (r *Recorder) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.w.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	if err != nil {
		return fmt.Errorf("recording to %s: %w", r.path, err)
	}
	return nil
}
