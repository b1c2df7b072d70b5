package buffer

// Benchmarks (only with -bench). Figures and commands are in BENCH.md.
//
//	go test -run '^$' -bench . -benchtime 1x ./buffer/
//
// RFIDGW_BENCH_BACKLOG sets the backlog of BenchmarkBacklog (default
// 10,000,000 events, about 3 GB of disk under $TMPDIR).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	bolt "go.etcd.io/bbolt"

	"github.com/rfidgw/rfidgw/edge"
)

// benchEvent is an inward event whose stored record is about 250 bytes.
func benchEvent(i int) edge.Event {
	return edge.Event{
		Type: edge.Inward,
		EPC:  fmt.Sprintf("E28011606000020D%08X", i),
		Time: baseTime.Add(time.Duration(i) * time.Millisecond),
		Zone: "gate-a",
	}
}

// heapPeak samples the live Go heap every 5 ms until stopped.
type heapPeak struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Phase returns the peak since the last Phase call (or the start) and
// starts a new phase.
func (h *heapPeak) Phase() float64 {
	return float64(h.peak.Swap(0)) / (1 << 20)
}

func (h *heapPeak) MiB() float64 {
	close(h.stop)
	<-h.done
	return float64(h.peak.Load()) / (1 << 20)
}

// rawFsyncRate writes 4 KiB and fdatasyncs it in a loop for d: the disk's
// own commit rate, measured in the same run as the buffer.
func rawFsyncRate(b *testing.B, dir string, d time.Duration) float64 {
	rate, _ := rawFsync(b, dir, d)
	return rate
}

// rawFsync also returns the p99 time of one write+fdatasync.
func rawFsync(b *testing.B, dir string, d time.Duration) (float64, time.Duration) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync-probe"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.WriteAt(page, 0); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < d {
		t0 := time.Now()
		page[0]++
		if _, err := f.WriteAt(page, 0); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil { // what bbolt calls
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	rate := float64(len(lat)) / time.Since(start).Seconds()
	slices.Sort(lat)
	return rate, lat[len(lat)*99/100]
}

// appendRate runs producers goroutines, each appending batch events per
// call, for d, and returns durable events per second.
func appendRate(b *testing.B, q *Queue, producers, batch int, d time.Duration) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]edge.Event, batch)
			for i := 0; time.Now().Before(stop); i++ {
				for j := range evs {
					evs[j] = benchEvent(p*10_000_000 + i*batch + j)
				}
				if err := q.Append(context.Background(), evs, nil); err != nil {
					b.Error(err)
					return
				}
				total.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// BenchmarkAppendDurable: fsync'd appends per second with group commit,
// against the raw 4 KiB fsync rate measured just before.
func BenchmarkAppendDurable(b *testing.B) {
	for _, c := range []struct {
		producers, batch int
		noSync           bool
	}{{64, 1, false}, {256, 1, false}, {16, 16, false}, {256, 1, true}} {
		b.Run(fmt.Sprintf("producers=%d/batch=%d/nosync=%v", c.producers, c.batch, c.noSync), func(b *testing.B) {
			dir := b.TempDir()
			opts := testOptions()
			opts.NoSync = c.noSync
			opts.TickInterval = time.Second
			q := openQueue(b, dir, opts)
			heap := startHeapPeak()
			b.ResetTimer()
			var fsync, rate float64
			commits0 := commitCount()
			for range b.N {
				fsync = rawFsyncRate(b, dir, time.Second)
				commits0 = commitCount()
				rate = appendRate(b, q, c.producers, c.batch, 3*time.Second)
			}
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(rate*3/float64(commitCount()-commits0), "events/commit")
			b.ReportMetric(fsync, "raw-fsync/s")
			b.ReportMetric(rate/fsync, "events-per-fsync")
			b.ReportMetric(float64(q.Stats().Bytes)/float64(q.Stats().Events), "B/record")
			b.ReportMetric(heap.MiB(), "peak-heap-MiB")
		})
	}
}

// latencyAt appends single events at rate/s for d from a pool of workers
// and returns the p50, p99 and max time from the scheduled moment to the
// Append returning (durable).
func latencyAt(b *testing.B, q *Queue, rate int, d time.Duration) (p50, p99, pmax time.Duration) {
	p50, p99, pmax, _ = latencyAt2(b, q, rate, d)
	return
}

// latencyAt2 also returns the p99 of the Append call alone (from calling
// it to its return), to tell the buffer's time from the harness's delays
// in starting the call on a busy machine.
func latencyAt2(b *testing.B, q *Queue, rate int, d time.Duration) (p50, p99, pmax, call99 time.Duration) {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	call := make([]time.Duration, n)
	start := time.Now().Add(10 * time.Millisecond)
	interval := time.Second / time.Duration(rate)
	slots := make(chan int, n)
	var wg sync.WaitGroup
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := make([]edge.Event, 1)
			for i := range slots {
				due := start.Add(time.Duration(i) * interval)
				ev[0] = benchEvent(i)
				t0 := time.Now()
				if err := q.Append(context.Background(), ev, nil); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(due)
				call[i] = time.Since(t0)
			}
		}()
	}
	// Release slots on schedule (in 1 ms steps: finer timers are not
	// reliable); the latency counts from each event's own due time.
	for i := 0; i < n; {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		for ; i < n && !start.Add(time.Duration(i)*interval).After(time.Now()); i++ {
			slots <- i
		}
	}
	close(slots)
	wg.Wait()
	slices.Sort(lat)
	slices.Sort(call)
	return lat[n/2], lat[n*99/100], lat[n-1], call[n*99/100]
}

// BenchmarkLatency10k: Append-to-durable at 10,000 events/s, with and
// without preallocation (alternating, to compare within one run).
func BenchmarkLatency10k(b *testing.B) {
	for _, name := range []string{"prealloc", "bbolt-grow", "prealloc", "bbolt-grow"} {
		b.Run(name, func(b *testing.B) {
			opts := testOptions()
			opts.noPrealloc = name == "bbolt-grow"
			benchLatency(b, opts)
		})
	}
}

func benchLatency(b *testing.B, opts Options) {
	q := openQueue(b, b.TempDir(), opts)
	heap := startHeapPeak()
	b.ResetTimer()
	var p50, p99, pmax, call99 time.Duration
	before := commitSnapshot()
	for range b.N {
		p50, p99, pmax, call99 = latencyAt2(b, q, 10000, 5*time.Second)
	}
	b.ReportMetric(float64(call99.Microseconds())/1000, "call-p99-ms")
	b.ReportMetric(float64(commitP99(before).Microseconds())/1000, "commit-p99-ms(bucket)")
	rate, fp99 := rawFsync(b, b.TempDir(), time.Second)
	b.ReportMetric(rate, "raw-fsync/s")
	b.ReportMetric(float64(fp99.Microseconds())/1000, "raw-fsync-p99-ms")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pmax.Microseconds())/1000, "max-ms")
	b.ReportMetric(heap.MiB(), "peak-heap-MiB")
}

// drain leases and acks everything, and returns events per second
// (counting until the deletes are committed).
func drain(b *testing.B, q *Queue) (int, float64) {
	start := time.Now()
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		recs, err := q.Lease(ctx, 1000)
		cancel()
		if err != nil {
			if q.Stats().Events == 0 {
				break
			}
			continue // Lease waited for slow deletes; not empty yet
		}
		seqs := make([]uint64, len(recs))
		for i := range recs {
			seqs[i] = recs[i].Seq
		}
		if err := q.Ack(seqs...); err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	return n, float64(n) / (time.Since(start) - 500*time.Millisecond).Seconds()
}

// BenchmarkBacklog builds a large backlog fast (NoSync, 10,000 events per
// Append), then measures the open time, the append rate and latency with
// the backlog present, the drain rate, the open time after a crash (no
// freelist written) and the peak Go heap throughout.
func BenchmarkBacklog(b *testing.B) {
	total := 10_000_000
	if s := os.Getenv("RFIDGW_BENCH_BACKLOG"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	dir := b.TempDir()
	heap := startHeapPeak()
	opts := testOptions()
	opts.TickInterval = time.Second
	opts.MaxBytes = 1 << 40

	fast := opts
	fast.NoSync = true
	q, err := Open(dir, fast)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const chunk = 10000
	evs := make([]edge.Event, chunk)
	for i := 0; i < total; i += chunk {
		for j := range evs {
			evs[j] = benchEvent(i + j)
		}
		if err := q.Append(context.Background(), evs, nil); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	if err := q.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(heap.Phase(), "heap-MiB-build")
	fi, _ := os.Stat(filepath.Join(dir, dbFile))
	b.ReportMetric(float64(total), "backlog-events")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	b.ReportMetric(float64(total)/build.Seconds(), "build-events/s")

	// Open after a clean close (freelist written on Close).
	start = time.Now()
	q, err = Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "open-ms")
	b.ReportMetric(heap.Phase(), "heap-MiB-open")
	// Appends with the backlog present, right after the same on an empty
	// file (the disk's speed swings; compare within the run).
	empty := openQueue(b, b.TempDir(), opts)
	b.ReportMetric(appendRate(b, empty, 64, 1, 3*time.Second), "append-events/s-empty-file")
	_ = empty.Close()
	b.ReportMetric(appendRate(b, q, 64, 1, 3*time.Second), "append-events/s-with-backlog")
	_, p99, _ := latencyAt(b, q, 10000, 3*time.Second)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms-10k/s-with-backlog")

	b.ReportMetric(heap.Phase(), "heap-MiB-append")
	compactions0 := counterValue(b, testMetrics.BufferCompactions)
	n, rate := drain(b, q)
	b.ReportMetric(float64(n), "drained-events")
	b.ReportMetric(rate, "drain-events/s")
	b.ReportMetric(heap.Phase(), "heap-MiB-drain")
	// The drained file is large and empty: the next tick compacts it.
	for start := time.Now(); counterValue(b, testMetrics.BufferCompactions) == compactions0 && time.Since(start) < 10*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	fi2, _ := os.Stat(filepath.Join(dir, dbFile))
	b.ReportMetric(counterValue(b, testMetrics.BufferCompactions)-compactions0, "compactions")
	b.ReportMetric(float64(fi2.Size())/(1<<20), "file-MiB-after-drain")
	// Appends after the drain (and the compaction).
	b.ReportMetric(appendRate(b, q, 64, 1, 3*time.Second), "append-events/s-after-drain")
	_, p99, _ = latencyAt(b, q, 10000, 3*time.Second)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms-10k/s-after-drain")
	if err := q.Close(); err != nil {
		b.Fatal(err)
	}

	// Refill without closing cleanly, as after kill -9: the freelist is not
	// on disk, so Open scans the file.
	q, err = Open(dir, fast)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < total; i += chunk {
		for j := range evs {
			evs[j] = benchEvent(i + j)
		}
		if err := q.Append(context.Background(), evs, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		b.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte("x"), []byte("y")) })
	_ = db.Close() // meta now says "no freelist", as after a crash
	runtime.GC()
	heap.Phase()
	start = time.Now()
	q, err = Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "crash-open-ms")
	b.ReportMetric(heap.Phase(), "heap-MiB-crash-open")
	_ = q.Close()
	heap.MiB()
}

func commitCount() uint64 {
	var m dto.Metric
	_ = testMetrics.BufferCommitSeconds.Write(&m)
	return m.Histogram.GetSampleCount()
}

// commitSnapshot and commitP99 read rfidgw_buffer_commit_seconds: the p99
// of the commits since the snapshot, as the upper bound of its bucket.
func commitSnapshot() *dto.Histogram {
	var m dto.Metric
	_ = testMetrics.BufferCommitSeconds.Write(&m)
	return m.Histogram
}

func commitP99(before *dto.Histogram) time.Duration {
	after := commitSnapshot()
	n := after.GetSampleCount() - before.GetSampleCount()
	if n == 0 {
		return 0
	}
	for i, bk := range after.Bucket {
		c := bk.GetCumulativeCount() - before.Bucket[i].GetCumulativeCount()
		if float64(c) >= 0.99*float64(n) {
			return time.Duration(bk.GetUpperBound() * float64(time.Second))
		}
	}
	return time.Duration(after.Bucket[len(after.Bucket)-1].GetUpperBound() * float64(time.Second))
}
