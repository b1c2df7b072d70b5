package buffer

import (
	"os"
	"time"
)

// Preallocation: bbolt grows its file inside a commit (truncate + fsync,
// then a remap), which stalls every Append waiting behind that commit for
// tens of milliseconds on a busy disk. The preallocator goroutine keeps
// the file ahead of bbolt's high-water mark with fallocate, off the commit
// path, so bbolt finds the file large enough and skips its grow.
const (
	preallocChunk = 64 << 20 // extend by this much
	preallocLow   = 16 << 20 // when less than this is left above the high-water mark
)

// preallocator runs until q.closing.
func (q *Queue) preallocator() {
	defer close(q.preallocDone)
	for {
		select {
		case <-q.preallocKick:
		case <-q.closing:
			return
		}
		q.mu.Lock()
		hwm, size := q.dataBytes, q.fileBytes
		q.mu.Unlock()
		if size-hwm >= preallocLow {
			continue
		}
		target := (hwm + preallocChunk + (1<<20 - 1)) &^ (1<<20 - 1)
		if q.opts.MinFreeDisk > 0 {
			// Never eat into min_free_disk for headroom.
			free, err := freeDisk(q.dir)
			if err != nil || free-(target-size) < q.opts.MinFreeDisk+preallocChunk {
				continue
			}
		}
		start := time.Now()
		got, err := preallocate(q.path, target, !q.opts.NoSync)
		if err != nil {
			q.log.Debug("buffer: preallocation failed; bbolt grows the file itself", "err", err)
			continue
		}
		q.mu.Lock()
		q.fileBytes = max(q.fileBytes, got)
		q.mu.Unlock()
		q.log.Debug("buffer: file preallocated", "bytes", got, "took", time.Since(start))
	}
}

// preallocate extends the file at path to at least target bytes with
// allocated blocks and returns its size.
func preallocate(path string, target int64, sync bool) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() >= target {
		return fi.Size(), nil
	}
	if err := fallocate(f, fi.Size(), target-fi.Size()); err != nil {
		return 0, err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return target, nil
}

func (q *Queue) kickPrealloc() {
	if q.opts.noPrealloc {
		return
	}
	select {
	case q.preallocKick <- struct{}{}:
	default:
	}
}
